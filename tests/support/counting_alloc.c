/* SPDX-License-Identifier: MIT */
#include "counting_alloc.h"

#include <check.h>
#include <stdlib.h>

static int should_fail(counting_alloc *s) {
  s->calls++;
  return s->fail_at != 0 && s->calls == s->fail_at;
}

static void *count_alloc(void *user, size_t size) {
  counting_alloc *s = user;
  if (should_fail(s)) return NULL;
  void *p = malloc(size);
  if (p != NULL) {
    s->allocations++;
    s->live++;
  }
  return p;
}

static void *count_aligned(void *user, size_t alignment, size_t size) {
  counting_alloc *s = user;
  if (should_fail(s)) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
  s->allocations++;
  s->live++;
  return p;
}

static void count_free(void *user, void *ptr) {
  counting_alloc *s = user;
  s->frees++;
  s->live--;
  free(ptr);
}

pnas_allocator counting_alloc_hooks(counting_alloc *state, int with_aligned) {
  pnas_allocator a = {count_alloc, with_aligned ? count_aligned : NULL, count_free, state};
  return a;
}

pnas_context *counting_context(counting_alloc *state) {
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  o.threads = 1;
  o.seed = 1;
  o.allocator = counting_alloc_hooks(state, 1);
  pnas_context *ctx = NULL;
  char err[256] = "";
  ck_assert_msg(pnas_context_create(&o, &ctx, err, sizeof err) == PNAS_OK, "%s", err);
  return ctx;
}
