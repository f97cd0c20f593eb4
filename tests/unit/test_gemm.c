/* SPDX-License-Identifier: MIT */
/* pni_sgemm (BLIS) against a float64 reference for every transpose
 * combination, odd and tile-crossing sizes, padded strides, alpha/beta. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

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

/* The hint rule, case by case: only AMD families that BLIS 0.9 cannot know,
 * with AVX2 and FMA, and only when neither the user nor a newer BLIS has
 * the say. */
START_TEST(blis_arch_hint_cases) {
  const pni_cpu_info zen5 = {.is_amd = 1, .family = 0x1a, .has_avx2_fma = 1};
  const pni_cpu_info zen3 = {.is_amd = 1, .family = 0x19, .has_avx2_fma = 1};
  const pni_cpu_info zen1 = {.is_amd = 1, .family = 0x17, .has_avx2_fma = 1};
  const pni_cpu_info later = {.is_amd = 1, .family = 0x1d, .has_avx2_fma = 1};
  const pni_cpu_info no_avx2 = {.is_amd = 1, .family = 0x1a, .has_avx2_fma = 0};
  const pni_cpu_info intel = {.is_amd = 0, .family = 0x6, .has_avx2_fma = 1};
  const pni_cpu_info intel_f = {.is_amd = 0, .family = 0x1a, .has_avx2_fma = 1};
  ck_assert_int_eq(pni_blis_arch_hint(&zen5, 0, 0), (int)BLIS_ARCH_ZEN3);
  ck_assert_int_eq(pni_blis_arch_hint(&later, 0, 0), (int)BLIS_ARCH_ZEN3);
  ck_assert_int_eq(pni_blis_arch_hint(&zen5, 0, 1), -1);  /* BLIS_ARCH_TYPE set */
  ck_assert_int_eq(pni_blis_arch_hint(&zen5, 1, 0), -1);  /* BLIS 1.x decides */
  ck_assert_int_eq(pni_blis_arch_hint(&zen5, 2, 0), -1);
  ck_assert_int_eq(pni_blis_arch_hint(&zen3, 0, 0), -1);  /* known to BLIS 0.9 */
  ck_assert_int_eq(pni_blis_arch_hint(&zen1, 0, 0), -1);
  ck_assert_int_eq(pni_blis_arch_hint(&no_avx2, 0, 0), -1);
  ck_assert_int_eq(pni_blis_arch_hint(&intel, 0, 0), -1);
  ck_assert_int_eq(pni_blis_arch_hint(&intel_f, 0, 0), -1);
  ck_assert_int_eq(pni_blis_arch_hint(NULL, 0, 0), -1);
}
END_TEST

static void one_product(void) {
  const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  float c[4] = {0};
  pni_sgemm(1, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  ck_assert_float_eq(c[0], 19.0f);
  ck_assert_float_eq(c[3], 50.0f);
}

/* On this machine, BLIS runs what the rule says, never its portable
 * kernels where AVX2 and FMA are there, and the environment is left as it
 * was found. */
START_TEST(blis_runs_the_chosen_kernels) {
  const char *user = getenv("BLIS_ARCH_TYPE");
  if (user != NULL) return; /* the user's choice is the next test's */
  one_product();
  ck_assert_ptr_null(getenv("BLIS_ARCH_TYPE"));
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  const int hint = pni_blis_arch_hint(&cpu, atoi(bli_info_get_version_str()), 0);
  char text[256];
  pni_blis_describe(text, sizeof text);
  ck_assert_ptr_nonnull(strstr(text, bli_info_get_version_str()));
  if (hint >= 0) {
    ck_assert_str_eq(pni_blis_arch_name(), bli_arch_string((arch_t)hint));
    ck_assert_msg(strstr(text, "chosen by libpnas") != NULL, "%s", text);
  }
  if (cpu.has_avx2_fma) ck_assert_str_ne(pni_blis_arch_name(), "generic");
}
END_TEST

/* BLIS_ARCH_TYPE set before the first product wins over libpnas's rule.
 * Needs a fresh process (Check's default fork mode): BLIS chooses once. */
START_TEST(blis_arch_type_wins) {
  const char *fork_mode = getenv("CK_FORK");
  if (fork_mode != NULL && strcmp(fork_mode, "no") == 0) return;
  char value[16];
  snprintf(value, sizeof value, "%d", (int)BLIS_ARCH_GENERIC);
  ck_assert_int_eq(setenv("BLIS_ARCH_TYPE", value, 1), 0);
  one_product();
  ck_assert_str_eq(pni_blis_arch_name(), "generic");
  char text[256];
  pni_blis_describe(text, sizeof text);
  ck_assert_msg(strstr(text, "generic, set by BLIS_ARCH_TYPE") != NULL, "%s", text);
  ck_assert_str_eq(getenv("BLIS_ARCH_TYPE"), value);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("blis");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, all_transposes_and_shapes);
  tcase_add_test(tc, alpha_beta_and_threads);
  tcase_add_test(tc, thread_counts_agree_bitwise_enough);
  tcase_add_test(tc, blis_arch_hint_cases);
  tcase_add_test(tc, blis_runs_the_chosen_kernels);
  tcase_add_test(tc, blis_arch_type_wins);
  suite_add_tcase(s, tc);
  return s;
}
