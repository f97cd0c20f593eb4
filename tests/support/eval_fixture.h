/* SPDX-License-Identifier: MIT */
/* Shared by the suites of the fused evaluation kernels (fused-eval,
 * gemm-rows): buffers, random fills, batch-norm parameters that push outputs
 * past both ReLU6 edges, and a bit-for-bit comparison. */
#ifndef PNAS_TESTS_EVAL_FIXTURE_H
#define PNAS_TESTS_EVAL_FIXTURE_H

#include <stdint.h>

#include "core/rng.h"

/* n floats (at least one), with 1056 floats of slack after them: BLIS may
 * read a little past a matrix, and suites put a canary there. Fails the
 * test when out of memory; free() releases it. */
float *eval_new_floats(int64_t n);

/* Values uniform in [lo, hi). */
void eval_fill(float *x, int64_t n, double lo, double hi, pni_rng *r);

typedef struct eval_bn {
  float *gamma, *beta, *mean, *var;
} eval_bn;

/* gamma in [-4, 4), beta in [-3, 9), mean in [-0.5, 0.5), var in
 * [0.01, 2): with inputs of order 1, outputs on both sides of 0 and 6. */
eval_bn eval_new_bn(int64_t c, pni_rng *r);
void eval_free_bn(eval_bn *p);

/* Fails the test at the first element whose bits differ, naming `what`
 * and both values (got, then expected). */
void eval_expect_same_bits(const char *what, const float *got, const float *expected, int64_t n);

#endif
