/* SPDX-License-Identifier: MIT */
/* An allocator for pnas_context_options that counts live blocks and bytes
 * and can be told to fail the k-th allocation. */
#ifndef PNAS_TESTS_COUNTING_ALLOC_H
#define PNAS_TESTS_COUNTING_ALLOC_H

#include <stddef.h>

#include "pnas/pnas.h"

typedef struct counting_alloc {
  long allocations; /* calls that returned a block */
  long frees;
  long live;        /* allocations - frees */
  long fail_at;     /* 1-based index of the call to fail; 0 never fails */
  long calls;       /* allocation calls so far, failed ones included */
} counting_alloc;

/* Hooks that use `state`; with_aligned chooses whether aligned_alloc is set
 * (to exercise the library's fallback path when it is not). */
pnas_allocator counting_alloc_hooks(counting_alloc *state, int with_aligned);

/* A context using the counting allocator, threads 1, seed 1. Fails the test
 * on error. */
pnas_context *counting_context(counting_alloc *state);

#endif
