/* SPDX-License-Identifier: MIT */
#include "eval_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "check_main.h"

float *eval_new_floats(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)((n > 0 ? n : 1) + 1056));
  ck_assert_ptr_nonnull(p);
  return p;
}

void eval_fill(float *x, int64_t n, double lo, double hi, pni_rng *r) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
}

eval_bn eval_new_bn(int64_t c, pni_rng *r) {
  eval_bn p = {eval_new_floats(c), eval_new_floats(c), eval_new_floats(c), eval_new_floats(c)};
  eval_fill(p.gamma, c, -4.0, 4.0, r);
  eval_fill(p.beta, c, -3.0, 9.0, r);
  eval_fill(p.mean, c, -0.5, 0.5, r);
  eval_fill(p.var, c, 0.01, 2.0, r);
  return p;
}

void eval_free_bn(eval_bn *p) {
  free(p->gamma);
  free(p->beta);
  free(p->mean);
  free(p->var);
}

void eval_expect_same_bits(const char *what, const float *got, const float *expected, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (memcmp(&got[i], &expected[i], sizeof(float)) != 0) {
      ck_abort_msg("%s[%ld]: %.9g, expected %.9g", what, (long)i, (double)got[i],
                   (double)expected[i]);
    }
  }
}
