/* SPDX-License-Identifier: MIT */
/* libpnas's 512-bit microkernel for BLIS: the kernel alone against a
 * float64 reference at every partial block size, stride and alpha/beta;
 * the rules that decide when it runs; and whole products through BLIS with
 * it, against the reference and against BLIS's own kernels. */
#include <blis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/gemm.h"
#include "kernels/gemm512.h"
#include "kernels/gemm_rows.h"
#include "pnas/pnas.h"

static void fill(float *x, size_t n, pni_rng *r) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
}

static int cpu_has_avx512(void) {
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  return cpu.has_avx512f;
}

#if PNI_GEMM512_BUILT
/* One call of the kernel on packed panels, C with strides (rs, cs) inside
 * a buffer padded on every side, against the same sums in double. */
static void check_ukr(int64_t m, int64_t n, int64_t k, float alpha, float beta, int column_major,
                      pni_rng *r) {
  enum { MR = PNI_GEMM512_MR, NR = PNI_GEMM512_NR, PAD = 3 };
  float *a = malloc(sizeof(float) * (size_t)(MR * (k + 1)));
  float *b = malloc(sizeof(float) * (size_t)(NR * (k + 1)));
  fill(a, (size_t)(MR * (k + 1)), r);
  fill(b, (size_t)(NR * (k + 1)), r);
  const int64_t rs = column_major ? 1 : NR + PAD, cs = column_major ? MR + PAD : 1;
  const size_t cap = (size_t)((MR + PAD) * (NR + PAD));
  float *c = malloc(sizeof(float) * cap), *before = malloc(sizeof(float) * cap);
  fill(c, cap, r);
  /* With beta 0, C may hold anything, NaN included: it must not be read. */
  if (beta == 0.0f) {
    for (size_t i = 0; i < cap; i++) c[i] = NAN;
  }
  memcpy(before, c, sizeof(float) * cap);
  pni_sgemm512_ukr(m, n, k, alpha, a, b, beta, c, rs, cs);
  for (int64_t i = 0; i < MR + PAD - 1; i++) {
    for (int64_t j = 0; j < NR + PAD - 1; j++) {
      const int64_t at = column_major ? i + j * cs : i * rs + j;
      if ((size_t)at >= cap) continue;
      if (i >= m || j >= n || i >= MR || j >= NR) {
        /* Outside the m x n block: untouched, bit for bit (NaN too). */
        ck_assert_msg(memcmp(&c[at], &before[at], sizeof(float)) == 0,
                      "m=%ld n=%ld k=%ld: (%ld,%ld) outside the block changed", (long)m, (long)n,
                      (long)k, (long)i, (long)j);
        continue;
      }
      double sum = 0.0;
      for (int64_t p = 0; p < k; p++) sum += (double)a[p * MR + i] * (double)b[p * NR + j];
      const double want = (double)alpha * sum + (beta == 0.0f ? 0.0 : beta * before[at]);
      ck_assert_msg(fabs(c[at] - want) <= 1e-6 * (double)(k + 1) + 1e-6,
                    "m=%ld n=%ld k=%ld alpha=%g beta=%g cm=%d (%ld,%ld): %g vs %g", (long)m,
                    (long)n, (long)k, alpha, beta, column_major, (long)i, (long)j, c[at], want);
    }
  }
  free(a);
  free(b);
  free(c);
  free(before);
}
#endif

START_TEST(ukr_every_partial_block) {
#if PNI_GEMM512_BUILT
  if (!cpu_has_avx512()) return; /* the kernel needs AVX-512F to run at all */
  pni_rng r;
  pni_rng_seed(&r, 12);
  const int64_t ms[] = {1, 5, 11, 12}, ns[] = {1, 15, 16, 17, 31, 32}, ks[] = {0, 1, 7, 64};
  const float ab[][2] = {{1.0f, 0.0f}, {-0.5f, 1.0f}, {2.0f, 0.25f}};
  for (size_t mi = 0; mi < 4; mi++) {
    for (size_t ni = 0; ni < 6; ni++) {
      for (size_t ki = 0; ki < 4; ki++) {
        for (size_t s = 0; s < 3; s++) {
          for (int cm = 0; cm <= 1; cm++) {
            check_ukr(ms[mi], ns[ni], ks[ki], ab[s][0], ab[s][1], cm, &r);
          }
        }
      }
    }
  }
#endif
}
END_TEST

/* When libpnas puts its kernel in BLIS: BLIS 0.9 only, Zen 5 and later AMD
 * families with AVX-512F only, never over the user's BLIS_ARCH_TYPE. */
START_TEST(wanted_cases) {
  const pni_cpu_info zen5 = {.is_amd = 1, .family = 0x1a, .has_avx2_fma = 1, .has_avx512f = 1};
  const pni_cpu_info later = {.is_amd = 1, .family = 0x1d, .has_avx2_fma = 1, .has_avx512f = 1};
  const pni_cpu_info zen4 = {.is_amd = 1, .family = 0x19, .has_avx2_fma = 1, .has_avx512f = 1};
  const pni_cpu_info zen5_no512 = {.is_amd = 1, .family = 0x1a, .has_avx2_fma = 1};
  const pni_cpu_info intel = {.is_amd = 0, .family = 0x6, .has_avx2_fma = 1, .has_avx512f = 1};
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, "0.9.0", 0), 1);
  ck_assert_int_eq(pni_gemm512_wanted(&later, "0.9.1", 0), 1);
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, "0.9.0", 1), 0); /* BLIS_ARCH_TYPE set */
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, "1.0", 0), 0);   /* another context layout */
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, "0.8.1", 0), 0);
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, "", 0), 0);
  ck_assert_int_eq(pni_gemm512_wanted(&zen4, "0.9.0", 0), 0); /* split 512-bit units */
  ck_assert_int_eq(pni_gemm512_wanted(&zen5_no512, "0.9.0", 0), 0);
  ck_assert_int_eq(pni_gemm512_wanted(&intel, "0.9.0", 0), 0); /* BLIS has skx */
  ck_assert_int_eq(pni_gemm512_wanted(NULL, "0.9.0", 0), 0);
  ck_assert_int_eq(pni_gemm512_wanted(&zen5, NULL, 0), 0);
}
END_TEST

START_TEST(fits_boundaries) {
  ck_assert_int_eq(pni_gemm512_fits(32, 64, 16), 1);
  ck_assert_int_eq(pni_gemm512_fits(3136, 576, 96), 1);
  ck_assert_int_eq(pni_gemm512_fits(31, 64, 16), 0);
  ck_assert_int_eq(pni_gemm512_fits(32, 63, 16), 0);
  ck_assert_int_eq(pni_gemm512_fits(32, 64, 15), 0);
  ck_assert_int_eq(pni_gemm512_fits(50176, 48, 8), 0); /* the supernet's first expansion */
  /* Padding of the last 32 columns: 80 of 96 computed is kept, 72 is not. */
  ck_assert_int_eq(pni_gemm512_fits(3136, 80, 40), 1);
  ck_assert_int_eq(pni_gemm512_fits(3136, 72, 40), 0);
  ck_assert_int_eq(pni_gemm512_fits(3136, 104, 40), 1); /* 104 of 128 */
  ck_assert_int_eq(pni_gemm512_fits(3136, 100, 40), 0); /* 100 of 128 */
}
END_TEST

/* On this machine, the kernel runs exactly when the rule says it should, and
 * the description says so. */
START_TEST(active_where_wanted) {
  if (getenv("BLIS_ARCH_TYPE") != NULL) return;
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  const int wanted = PNI_GEMM512_BUILT && pni_gemm512_wanted(&cpu, bli_info_get_version_str(), 0);
  ck_assert_int_eq(pni_gemm512_active(), wanted);
  ck_assert_int_eq(pni_gemm512_context(3136, 96, 576) != NULL, wanted);
  ck_assert_ptr_null(pni_gemm512_context(50176, 48, 8));
  char text[512];
  pni_blis_describe(text, sizeof text);
  ck_assert_int_eq(strstr(text, "512-bit microkernel") != NULL, wanted);
  /* The public description carries the whole line, not a truncated one. */
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  char *described = NULL;
  ck_assert_int_eq(pnas_context_describe(ctx, &described), PNAS_OK);
  ck_assert_int_eq(strstr(described, "products it is faster on") != NULL, wanted);
  /* The line ends with the last clause (the row kernels', gemm_rows.c,
   * where they run). */
  const char *tail = pni_gemm_rows_active() ? "1x1 convolutions and the evaluation stem\n"
                                            : "products it is faster on\n";
  ck_assert_int_eq(strstr(described, tail) != NULL, wanted);
  pnas_free(described);
  pnas_context_destroy(ctx);
  const int before = pni_gemm512_allow(0);
  ck_assert_int_eq(pni_gemm512_active(), 0);
  ck_assert_ptr_null(pni_gemm512_context(3136, 96, 576));
  pni_gemm512_allow(before);
}
END_TEST

/* A whole product through BLIS with the kernel (when it runs here) against
 * the float64 reference, and against BLIS's own kernels. */
static void check_product(int ta, int tb, int64_t m, int64_t n, int64_t k, int32_t threads,
                          float alpha, float beta) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(m * 7 + n * 3 + k));
  const int64_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 3, ldc = n + 2;
  const int64_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  float *a = malloc(sizeof(float) * (size_t)(a_rows * lda));
  float *b = malloc(sizeof(float) * (size_t)(b_rows * ldb));
  float *c = malloc(sizeof(float) * (size_t)(m * ldc));
  float *own = malloc(sizeof(float) * (size_t)(m * ldc));
  fill(a, (size_t)(a_rows * lda), &r);
  fill(b, (size_t)(b_rows * ldb), &r);
  fill(c, (size_t)(m * ldc), &r);
  memcpy(own, c, sizeof(float) * (size_t)(m * ldc));
  double *ref = malloc(sizeof(double) * (size_t)(m * ldc));
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < ldc; j++) {
      double sum = 0.0;
      for (int64_t p = 0; j < n && p < k; p++) {
        sum += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
               (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
      }
      ref[i * ldc + j] = j < n ? alpha * sum + beta * (double)c[i * ldc + j] : c[i * ldc + j];
    }
  }
  pni_sgemm(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const int before = pni_gemm512_allow(0);
  pni_sgemm(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, own, ldc);
  pni_gemm512_allow(before);
  for (int64_t i = 0; i < m * ldc; i++) {
    const double tol = i % ldc < n ? 2e-6 * (double)k + 1e-6 : 0.0;
    ck_assert_msg(fabs(c[i] - ref[i]) <= tol, "ta=%d tb=%d %ldx%ldx%ld t=%d at %ld: %g vs %g", ta,
                  tb, (long)m, (long)n, (long)k, (int)threads, (long)i, c[i], ref[i]);
    ck_assert_msg(fabs(c[i] - own[i]) <= 2.0 * tol, "against BLIS's kernels at %ld: %g vs %g",
                  (long)i, c[i], own[i]);
  }
  free(a);
  free(b);
  free(c);
  free(own);
  free(ref);
}

START_TEST(products_through_blis) {
  /* Sizes that cross every block: m past MR and MC, n past NR, k past KC;
   * all of them fit, so the kernel runs wherever it is active. */
  const int64_t sizes[][3] = {{32, 64, 16}, {97, 80, 33}, {500, 130, 300}, {1000, 96, 24}};
  for (size_t s = 0; s < 4; s++) ck_assert(pni_gemm512_fits(sizes[s][0], sizes[s][1], sizes[s][2]));
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int ta = 0; ta <= 1; ta++) {
      for (int tb = 0; tb <= 1; tb++) {
        check_product(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1, 1.0f, 0.0f);
      }
    }
  }
  check_product(0, 0, 500, 130, 300, 2, 0.5f, 1.0f);
  check_product(1, 0, 144, 576, 3136, 2, 1.0f, 1.0f); /* a weight gradient that accumulates */
  check_product(0, 1, 3136, 96, 576, 2, -2.0f, 0.25f);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("gemm512");
  TCase *tc = tcase_create("microkernel");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, ukr_every_partial_block);
  tcase_add_test(tc, wanted_cases);
  tcase_add_test(tc, fits_boundaries);
  tcase_add_test(tc, active_where_wanted);
  tcase_add_test(tc, products_through_blis);
  suite_add_tcase(s, tc);
  return s;
}
