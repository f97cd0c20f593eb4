/* SPDX-License-Identifier: MIT */
/* pni_sgemm (BLIS) against a float64 reference for every transpose
 * combination, odd and tile-crossing sizes, padded strides, alpha/beta. */
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/gemm.h"

static void fill(float *x, size_t n, pni_rng *r) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
}

/* C = alpha op(A) op(B) + beta C in double, row-major. */
static void reference(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, double beta,
                      double *c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; p++) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      c[i * ldc + j] = alpha * acc + beta * c[i * ldc + j];
    }
  }
}

static void check_case(int ta, int tb, int64_t m, int64_t n, int64_t k, int32_t threads,
                       float alpha, float beta) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(m * 131 + n * 17 + k));
  /* Padded leading dimensions catch stride mistakes. */
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
  const int64_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  float *a = malloc(sizeof(float) * (size_t)(a_rows * lda));
  float *b = malloc(sizeof(float) * (size_t)(b_rows * ldb));
  float *c = malloc(sizeof(float) * (size_t)(m * ldc));
  double *ref = malloc(sizeof(double) * (size_t)(m * ldc));
  fill(a, (size_t)(a_rows * lda), &r);
  fill(b, (size_t)(b_rows * ldb), &r);
  fill(c, (size_t)(m * ldc), &r);
  for (int64_t i = 0; i < m * ldc; i++) ref[i] = c[i];
  pni_sgemm(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < ldc; j++) {
      const double want = ref[i * ldc + j], got = c[i * ldc + j];
      /* Columns past n are padding and must be untouched (ref kept them). */
      const double tol = j < n ? 1e-5 * (double)k + 1e-6 : 0.0;
      ck_assert_msg(fabs(got - want) <= tol, "ta=%d tb=%d m=%ld n=%ld k=%ld (%ld,%ld): %g vs %g",
                    ta, tb, (long)m, (long)n, (long)k, (long)i, (long)j, got, want);
    }
  }
  free(a);
  free(b);
  free(c);
  free(ref);
}

START_TEST(all_transposes_and_shapes) {
  const int64_t sizes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {7, 8, 16},
                              {17, 33, 65}, {64, 24, 144}, {130, 40, 3}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int ta = 0; ta <= 1; ta++) {
      for (int tb = 0; tb <= 1; tb++) {
        check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1, 1.0f, 0.0f);
      }
    }
  }
}
END_TEST

START_TEST(alpha_beta_and_threads) {
  check_case(0, 0, 96, 72, 48, 2, 0.5f, 1.0f);
  check_case(1, 0, 96, 72, 48, 2, -2.0f, 0.25f);
  check_case(0, 1, 200, 300, 100, 2, 1.0f, 1.0f);
}
END_TEST

START_TEST(thread_counts_agree_bitwise_enough) {
  /* The result may differ in rounding between thread counts, but only at
   * the level of float accumulation error. */
  const int64_t m = 257, n = 96, k = 144;
  pni_rng r;
  pni_rng_seed(&r, 5);
  float *a = malloc(sizeof(float) * (size_t)(m * k));
  float *b = malloc(sizeof(float) * (size_t)(k * n));
  float *c1 = calloc((size_t)(m * n), sizeof(float));
  float *c2 = calloc((size_t)(m * n), sizeof(float));
  fill(a, (size_t)(m * k), &r);
  fill(b, (size_t)(k * n), &r);
  pni_sgemm(1, 0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c1, n);
  pni_sgemm(2, 0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c2, n);
  for (int64_t i = 0; i < m * n; i++) ck_assert_float_eq_tol(c1[i], c2[i], 1e-4f);
  free(a);
  free(b);
  free(c1);
  free(c2);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("blis");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, all_transposes_and_shapes);
  tcase_add_test(tc, alpha_beta_and_threads);
  tcase_add_test(tc, thread_counts_agree_bitwise_enough);
  suite_add_tcase(s, tc);
  return s;
}
