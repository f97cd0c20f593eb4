/* SPDX-License-Identifier: MIT */
/* libpnas's row-major product kernels (gemm_rows.c): the rules of what
 * they take; the plain product (and the 1x1 forward and backward-data that
 * route to it), the weight gradient's transposed product (chunked, with
 * accumulation), the 1x1 with batch norm in the epilogue (and with the
 * global average pool after it), and the stem, bit
 * for bit against a scalar reference of their documented order (one fmaf
 * per reduction step in increasing order, then the epilogue's expression),
 * at every partial row block and column vector, with ReLU6, the residual
 * and one or two threads; against float64; against BLIS and the separate
 * passes (pni_sgemm or im2col + GEMM, then pni_bn_forward_eval_fused) on
 * the networks' shapes, where BLIS sums in the same order; NaN passing
 * through; nothing written outside the output; and a whole network's
 * logits with and without them. On a processor where the kernels do not
 * run (gemm_rows.c says where), only the rules are checked and the suite
 * says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "eval_fixture.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/gemm_rows.h"
#include "kernels/norm.h"
#include "pnas/pnas.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static const float EPS = 1e-3f;
enum { CANARY = 32 };

static void set_canary(float *y, int64_t n) {
  for (int64_t i = 0; i < CANARY; i++) y[n + i] = -12345.0f;
}

static void expect_canary(const char *what, const float *y, int64_t n) {
  for (int64_t i = 0; i < CANARY; i++) {
    ck_assert_msg(y[n + i] == -12345.0f, "%s: written past the output at +%ld", what, (long)i);
  }
}

/* float64 of relu6?((z - mean) * gamma / sqrt(var + eps) + beta) + residual
 * for z = the product in float64 (a: rows x k, w: k x n). */
static void expect_reference(const char *what, const float *got, const float *a, const float *w,
                             int64_t rows, int64_t k, int64_t n, const eval_bn *p, int relu6,
                             const float *residual) {
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < n; j++) {
      double z = 0.0, mag = 0.0;
      for (int64_t q = 0; q < k; q++) {
        z += (double)a[r * k + q] * (double)w[q * n + j];
        mag += fabs((double)a[r * k + q] * (double)w[q * n + j]);
      }
      const double s = (double)p->gamma[j] / sqrt((double)p->var[j] + EPS);
      double v = (z - p->mean[j]) * s + p->beta[j];
      if (relu6) v = v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v);
      if (residual != NULL) v += residual[r * n + j];
      /* The float sum's rounding, scaled by the normalisation. */
      const double tol = 1e-5 * (mag * fabs(s) + fabs(v) + 1.0);
      const double g = got[r * n + j];
      if (!(fabs(g - v) <= tol)) {
        ck_abort_msg("%s[%ld][%ld]: %.9g vs float64 %.9g", what, (long)r, (long)j, g, v);
      }
    }
  }
}

/* The documented order: z = fmaf(a[p], w[p][j], z) for p = 0, 1, ... from
 * z = 0, then ((z - mean) * scale + beta), the clamp and the residual,
 * each rounded to float (ISO C does not contract them). */
/* The plain product in the documented order. */
static void product_reference(const float *a, const float *b, int64_t rows, int64_t k, int64_t n,
                              float *c) {
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < n; j++) {
      float z = 0.0f;
      for (int64_t q = 0; q < k; q++) z = fmaf(a[r * k + q], b[q * n + j], z);
      c[r * n + j] = z;
    }
  }
}

static void scalar_reference(const float *a, const float *w, int64_t rows, int64_t k, int64_t n,
                             const eval_bn *p, int relu6, const float *residual, float *y) {
  float *scale = eval_new_floats(n);
  pni_bn_eval_scale(n, p->gamma, p->var, EPS, scale);
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < n; j++) {
      float z = 0.0f;
      for (int64_t q = 0; q < k; q++) z = fmaf(a[r * k + q], w[q * n + j], z);
      const float t = (z - p->mean[j]) * scale[j];
      float v = t + p->beta[j];
      if (relu6) v = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
      if (residual != NULL) v = v + residual[r * n + j];
      y[r * n + j] = v;
    }
  }
  free(scale);
}

/* The separate passes give the fused kernels' bits where BLIS's kernels
 * sum each output in increasing order in one pass, which its main kernels
 * and libpnas's own do: on most of the networks' products (many rows,
 * widths a multiple of 8, k <= 256). Its kernels for a few rows or odd
 * widths, and its passes over a longer k, sum in other orders, so
 * elsewhere only the scalar reference is exact. */
static int separate_is_exact(int64_t rows, int64_t k, int64_t n) {
  return rows >= 3136 && n % 8 == 0 && k <= 256;
}

static int kernels_run(void) {
  return pni_gemm_rows_active();
}

START_TEST(rules) {
  const int on = kernels_run();
  if (!on) printf("gemm-rows: the fused kernels do not run on this processor; rules only\n");
  ck_assert_int_eq(pni_gemm_rows_fits(0, 8), 0);
  ck_assert_int_eq(pni_gemm_rows_fits(8, 0), 0);
  ck_assert_int_eq(pni_gemm_rows_fits(PNI_GEMM_ROWS_KMAX + 1, 8), 0);
  ck_assert_int_eq(pni_gemm_rows_fits(8, PNI_GEMM_ROWS_NMAX + 1), 0);
  ck_assert_int_eq(pni_gemm_rows_fits(1, 1), on);
  ck_assert_int_eq(pni_gemm_rows_fits(PNI_GEMM_ROWS_KMAX, PNI_GEMM_ROWS_NMAX), on);
  ck_assert_int_eq(pni_gemm_rows_tn_fits(0, 8), 0);
  ck_assert_int_eq(pni_gemm_rows_tn_fits(8, PNI_GEMM_ROWS_NMAX + 1), 0);
  ck_assert_int_eq(pni_gemm_rows_tn_fits(PNI_GEMM_ROWS_NMAX, PNI_GEMM_ROWS_NMAX), on);
  ck_assert_int_eq(pni_conv_bn_fits(NULL), 0);
  pni_conv_shape s;
  ck_assert(pni_conv_shape_init(&s, 64, 28, 28, 1, 16, 3, 1, 1));
  ck_assert_int_eq(pni_conv_bn_fits(&s), on);
  ck_assert(pni_conv_shape_init(&s, 1, 224, 224, 3, 32, 7, 2, 3));
  ck_assert_int_eq(pni_conv_bn_fits(&s), on); /* 7 padded rows of 751 floats */
  ck_assert(pni_conv_shape_init(&s, 1, 8, 8, 114, 8, 3, 1, 1));
  ck_assert_int_eq(pni_conv_bn_fits(&s), 0); /* k * k * cin = 1026 */
  ck_assert(pni_conv_shape_init(&s, 1, 2000, 2000, 3, 8, 3, 1, 1));
  ck_assert_int_eq(pni_conv_bn_fits(&s), 0); /* the padded rows would not fit */
  /* pnas_context_describe() says when they run. */
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  char *described = NULL;
  ck_assert_int_eq(pnas_context_describe(ctx, &described), PNAS_OK);
  ck_assert_int_eq(strstr(described, "libpnas's row kernels") != NULL, on);
  pnas_free(described);
  /* Forbidden: nothing fits, and the kernels write nothing. */
  const int before = pni_gemm_rows_allow(0);
  ck_assert_int_eq(pni_gemm_rows_active(), 0);
  ck_assert_int_eq(pni_gemm_rows_fits(8, 8), 0);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w[4] = {1, 1, 1, 1}, y[8];
  float gamma[2] = {1, 1}, beta[2] = {0, 0}, mean[2] = {0, 0}, var[2] = {1, 1};
  const pni_bn_eval bn = {gamma, beta, mean, var, EPS, 0, NULL};
  for (int i = 0; i < 8; i++) y[i] = 7.0f;
  pni_conv1x1_forward_bn(1, 4, 2, 2, x, w, &bn, y);
  for (int i = 0; i < 8; i++) ck_assert(y[i] == 7.0f);
  ck_assert_int_eq(pnas_context_describe(ctx, &described), PNAS_OK);
  ck_assert_ptr_null(strstr(described, "libpnas's row kernels"));
  pnas_free(described);
  pnas_context_destroy(ctx);
  pni_gemm_rows_allow(before);
  ck_assert_int_eq(pni_gemm_rows_active(), on);
}
END_TEST

static void check_1x1(int64_t rows, int64_t k, int64_t n, int relu6, int with_residual,
                      int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 7919 + k * 131 + n * 17 + relu6 * 2 + with_residual));
  float *x = eval_new_floats(rows * k), *w = eval_new_floats(k * n),
        *res = eval_new_floats(rows * n);
  float *fused = eval_new_floats(rows * n), *sep = eval_new_floats(rows * n);
  eval_fill(x, rows * k, -1.0, 1.0, &r);
  eval_fill(w, k * n, -1.0, 1.0, &r);
  eval_fill(res, rows * n, -2.0, 2.0, &r);
  eval_bn p = eval_new_bn(n, &r);
  const float *residual = with_residual ? res : NULL;
  const pni_bn_eval bn = {p.gamma, p.beta, p.mean, p.var, EPS, relu6, residual};
  for (int64_t i = 0; i < rows * n; i++) fused[i] = 1e30f; /* every output must be written */
  set_canary(fused, rows * n);
  ck_assert(pni_gemm_rows_fits(k, n));
  pni_conv1x1_forward_bn(threads, rows, k, n, x, w, &bn, fused);
  expect_canary("1x1", fused, rows * n);

  char what[96];
  snprintf(what, sizeof what, "1x1 %ldx%ldx%ld relu6=%d res=%d t=%d", (long)rows, (long)k, (long)n,
           relu6, with_residual, (int)threads);
  scalar_reference(x, w, rows, k, n, &p, relu6, residual, sep);
  eval_expect_same_bits(what, fused, sep, rows * n);
  if (separate_is_exact(rows, k, n)) {
    pni_sgemm(threads, 0, 0, rows, n, k, 1.0f, x, k, w, n, 0.0f, sep, n);
    pni_bn_forward_eval_fused(threads, rows, n, sep, p.gamma, p.beta, p.mean, p.var, EPS, relu6,
                              residual, sep);
    eval_expect_same_bits(what, fused, sep, rows * n);
  }
  if (rows * k * n <= 600000) expect_reference(what, fused, x, w, rows, k, n, &p, relu6, residual);
  eval_free_bn(&p);
  free(x), free(w), free(res), free(fused), free(sep);
}

START_TEST(conv1x1_equals_separate_passes) {
  if (!kernels_run()) return;
  /* Widths around the vector (16) and panel (32) widths, and the
   * networks' own; reductions from 1 to the limit. */
  static const int64_t widths[] = {1, 5, 8, 15, 16, 17, 24, 31, 32, 33, 40, 72, 96, 120, 256};
  static const int64_t depths[] = {1, 8, 9, 16, 24, 40, 97, 240, 257, PNI_GEMM_ROWS_KMAX};
  static const int64_t rows[] = {1, 11, 12, 13, 37};
  for (int64_t wi = 0; wi < COUNT(widths); wi++) {
    for (int64_t di = 0; di < COUNT(depths); di++) {
      for (int64_t ri = 0; ri < COUNT(rows); ri++) {
        const int flags = (int)((wi + di + ri) % 4);
        check_1x1(rows[ri], depths[di], widths[wi], flags & 1, flags >> 1, 1);
      }
    }
  }
}
END_TEST

START_TEST(conv1x1_flags_threads_and_shapes_of_the_networks) {
  if (!kernels_run()) return;
  for (int flags = 0; flags < 4; flags++) {
    check_1x1(64 * 7 * 7, 80, 240, flags & 1, flags >> 1, 1);
    check_1x1(64 * 7 * 7 + 5, 240, 96, flags & 1, flags >> 1, 2);
  }
  check_1x1(64 * 28 * 28, 16, 8, 0, 0, 2);
  check_1x1(64 * 28 * 28, 8, 24, 1, 0, 1);
  check_1x1(64 * 14 * 14, 24, 72, 1, 0, 2);
  check_1x1(3136, 96, PNI_GEMM_ROWS_NMAX, 1, 1, 2);
  check_1x1(3136, 288, 96, 0, 1, 2); /* k3e3's projection, past BLIS's one pass */
  check_1x1(49, 960, 320, 0, 0, 1);  /* the mobile network's, batch 1 */
}
END_TEST

/* pni_gemm_rows, and the training 1x1 products that route to it: the
 * documented order bit for bit, float64, nothing written past c. */
static void check_plain(int64_t rows, int64_t k, int64_t n, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 31 + k * 7 + n));
  float *a = eval_new_floats(rows * k), *b = eval_new_floats(k * n);
  float *got = eval_new_floats(rows * n), *want = eval_new_floats(rows * n);
  eval_fill(a, rows * k, -1.0, 1.0, &r);
  eval_fill(b, k * n, -1.0, 1.0, &r);
  for (int64_t i = 0; i < rows * n; i++) got[i] = 1e30f;
  set_canary(got, rows * n);
  pni_gemm_rows(threads, rows, k, n, a, b, got);
  expect_canary("gemm_rows", got, rows * n);
  product_reference(a, b, rows, k, n, want);
  char what[80];
  snprintf(what, sizeof what, "gemm_rows %ldx%ldx%ld t=%d", (long)rows, (long)k, (long)n,
           (int)threads);
  eval_expect_same_bits(what, got, want, rows * n);
  for (int64_t i = 0; i < rows * n && rows * k * n <= 600000; i++) {
    double z = 0.0, mag = 0.0;
    for (int64_t q = 0; q < k; q++) {
      const double t = (double)a[i / n * k + q] * (double)b[q * n + i % n];
      z += t;
      mag += fabs(t);
    }
    ck_assert_msg(fabs((double)got[i] - z) <= 1e-5 * (mag + 1.0), "%s[%ld] vs float64", what,
                  (long)i);
  }
  /* The 1x1 forward is this product; its backward-data the product of dy
   * with the transposed weights. */
  pni_conv1x1_forward(threads, rows, k, n, a, b, got);
  eval_expect_same_bits("conv1x1 forward", got, want, rows * n);
  float *wt = eval_new_floats(k * n), *bt = eval_new_floats(k * n);
  for (int64_t q = 0; q < k; q++) {
    for (int64_t j = 0; j < n; j++) bt[j * k + q] = b[q * n + j];
  }
  /* dy: rows x k against weights stored [n][k] (cin = n, cout = k). */
  pni_conv1x1_backward_data(threads, rows, n, k, a, bt, got, wt);
  eval_expect_same_bits("conv1x1 backward data", got, want, rows * n);
  free(a), free(b), free(got), free(want), free(wt), free(bt);
}

START_TEST(plain_product_in_order) {
  if (!kernels_run()) return;
  static const int64_t widths[] = {1, 8, 15, 16, 17, 24, 33, 48, 144, 576};
  static const int64_t depths[] = {1, 8, 24, 144, 576, PNI_GEMM_ROWS_KMAX};
  for (int64_t wi = 0; wi < COUNT(widths); wi++) {
    for (int64_t di = 0; di < COUNT(depths); di++) {
      check_plain(13 + wi + di, depths[di], widths[wi], 1);
    }
  }
  check_plain(64 * 14 * 14, 24, 144, 2);
  check_plain(64 * 7 * 7 + 3, 576, 96, 2);
  check_plain(64 * 28 * 28, 8, 48, 1);
}
END_TEST

/* The weight gradient's order (gemm_wgrad.c): chunks of 256 rows, each
 * summed from zero with one fmaf per row, added to c in chunk order. */
static void tn_reference(const float *a, const float *b, int64_t m, int64_t k, int64_t n,
                         int accumulate, float *c) {
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      float total = accumulate ? c[i * n + j] : 0.0f;
      for (int64_t p0 = 0; p0 < k; p0 += 256) {
        float part = 0.0f;
        for (int64_t p = p0; p < k && p < p0 + 256; p++)
          part = fmaf(a[p * m + i], b[p * n + j], part);
        total = (p0 == 0 && !accumulate) ? part : total + part;
      }
      c[i * n + j] = total;
    }
  }
}

static void check_tn(int64_t m, int64_t k, int64_t n, int accumulate, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(m * 101 + k * 13 + n * 3 + accumulate));
  float *a = eval_new_floats(k * m), *b = eval_new_floats(k * n);
  float *got = eval_new_floats(m * n), *want = eval_new_floats(m * n);
  eval_fill(a, k * m, -1.0, 1.0, &r);
  eval_fill(b, k * n, -1.0, 1.0, &r);
  eval_fill(got, m * n, -1.0, 1.0, &r);
  memcpy(want, got, sizeof(float) * (size_t)(m * n));
  float *start = eval_new_floats(m * n);
  memcpy(start, got, sizeof(float) * (size_t)(m * n));
  set_canary(got, m * n);
  pni_gemm_rows_tn(threads, m, k, n, a, b, accumulate, got);
  expect_canary("gemm_rows_tn", got, m * n);
  tn_reference(a, b, m, k, n, accumulate, want);
  char what[96];
  snprintf(what, sizeof what, "gemm_rows_tn %ldx%ldx%ld acc=%d t=%d", (long)m, (long)k, (long)n,
           accumulate, (int)threads);
  eval_expect_same_bits(what, got, want, m * n);
  if (m * k * n <= 2000000) {
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) {
        double z = accumulate ? (double)start[i * n + j] : 0.0, mag = fabs(z);
        for (int64_t p = 0; p < k; p++) {
          const double t = (double)a[p * m + i] * (double)b[p * n + j];
          z += t;
          mag += fabs(t);
        }
        ck_assert_msg(fabs((double)got[i * n + j] - z) <= 1e-5 * (mag + 1.0),
                      "%s[%ld][%ld] vs float64", what, (long)i, (long)j);
      }
    }
  }
  /* The 1x1 weight gradient is this product: x (rows x cin) and dy. */
  memcpy(got, start, sizeof(float) * (size_t)(m * n));
  pni_conv1x1_backward_weight(threads, k, m, n, a, b, got, accumulate);
  eval_expect_same_bits("conv1x1 weight gradient", got, want, m * n);
  free(a), free(b), free(got), free(want), free(start);
}

START_TEST(weight_gradient_in_order) {
  if (!kernels_run()) return;
  static const int64_t ms[] = {1, 8, 11, 12, 13, 24, 40};
  static const int64_t ns[] = {1, 8, 16, 17, 32, 33, 48};
  static const int64_t ks[] = {0, 1, 255, 256, 257, 700};
  for (int64_t mi = 0; mi < COUNT(ms); mi++) {
    for (int64_t ni = 0; ni < COUNT(ns); ni++) {
      for (int64_t ki = 0; ki < COUNT(ks); ki++) {
        check_tn(ms[mi], ks[ki], ns[ni], (int)((mi + ni + ki) % 2), 1);
      }
    }
  }
  /* The networks' shapes, one and two threads. */
  check_tn(8, 64 * 28 * 28, 48, 0, 2);
  check_tn(144, 64 * 14 * 14, 24, 1, 2);
  check_tn(96, 64 * 7 * 7, 576, 0, 2);
  check_tn(240, 64 * 7 * 7, 80, 0, 1);
  check_tn(PNI_GEMM_ROWS_NMAX, 20, PNI_GEMM_ROWS_NMAX, 1, 2);
}
END_TEST

/* The head with the pool: the bits of pni_conv1x1_forward_bn followed by
 * pni_avgpool_forward, for any map size against the row blocks. */
static void check_pool(int64_t images, int64_t hw, int64_t k, int64_t n, int relu6,
                       int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(images * 977 + hw * 31 + k * 7 + n));
  const int64_t rows = images * hw;
  float *x = eval_new_floats(rows * k), *w = eval_new_floats(k * n);
  float *full = eval_new_floats(rows * n), *want = eval_new_floats(images * n);
  float *got = eval_new_floats(images * n);
  eval_fill(x, rows * k, -1.0, 1.0, &r);
  eval_fill(w, k * n, -1.0, 1.0, &r);
  eval_bn p = eval_new_bn(n, &r);
  const pni_bn_eval bn = {p.gamma, p.beta, p.mean, p.var, EPS, relu6, NULL};
  for (int64_t i = 0; i < images * n; i++) got[i] = 1e30f;
  set_canary(got, images * n);
  pni_conv1x1_forward_bn_pool(threads, images, hw, k, n, x, w, &bn, got);
  expect_canary("head + pool", got, images * n);
  pni_conv1x1_forward_bn(threads, rows, k, n, x, w, &bn, full);
  pni_avgpool_forward(threads, images, hw, n, full, want);
  char what[96];
  snprintf(what, sizeof what, "head+pool %ldx%ld %ld->%ld t=%d", (long)images, (long)hw, (long)k,
           (long)n, (int)threads);
  eval_expect_same_bits(what, got, want, images * n);
  /* A residual is not taken: nothing is written. */
  const pni_bn_eval with_residual = {p.gamma, p.beta, p.mean, p.var, EPS, relu6, full};
  memcpy(full, got, sizeof(float) * (size_t)(images * n));
  pni_conv1x1_forward_bn_pool(threads, images, hw, k, n, x, w, &with_residual, got);
  eval_expect_same_bits("head+pool with a residual", got, full, images * n);
  eval_free_bn(&p);
  free(x), free(w), free(full), free(want), free(got);
}

START_TEST(head_and_pool_equal_the_two_passes) {
  if (!kernels_run()) return;
  static const int64_t maps[] = {1, 5, 11, 12, 13, 49};
  for (int64_t mi = 0; mi < COUNT(maps); mi++) {
    check_pool(1, maps[mi], 24, 40, 1, 1);
    check_pool(5, maps[mi], 9, 17, 0, 1);
    check_pool(3, maps[mi], 96, 256, 1, 2);
  }
  check_pool(64, 49, 96, 256, 1, 2); /* the Fashion-MNIST head */
  check_pool(1, 49, 320, 1024, 1, 1);
}
END_TEST

START_TEST(conv1x1_nan_passes_through) {
  if (!kernels_run()) return;
  /* As in the separate passes: ReLU6 keeps a NaN, so divergence shows. */
  enum { ROWS = 13, K = 5, N = 20 };
  pni_rng r;
  pni_rng_seed(&r, 3);
  float x[ROWS * K], w[K * N], y[ROWS * N + CANARY];
  eval_fill(x, ROWS * K, -1.0, 1.0, &r);
  eval_fill(w, K * N, -1.0, 1.0, &r);
  x[12 * K + 2] = NAN;
  eval_bn p = eval_new_bn(N, &r);
  const pni_bn_eval bn = {p.gamma, p.beta, p.mean, p.var, EPS, 1, NULL};
  pni_conv1x1_forward_bn(1, ROWS, K, N, x, w, &bn, y);
  for (int64_t i = 0; i < ROWS * N; i++) {
    if (i / N == 12) {
      ck_assert(isnan(y[i]));
    } else {
      ck_assert(y[i] >= 0.0f && y[i] <= 6.0f);
    }
  }
  eval_free_bn(&p);
}
END_TEST

START_TEST(conv1x1_relu6_edges) {
  if (!kernels_run()) return;
  /* v = -x exactly (w = 1, mean 0, scale -1, beta -0; the sum starts at
   * +0, so v is -0 for x = +-0): the clamp at -0, NaN, the infinities and
   * both edges, in every lane of a vector. */
  enum { ROWS = 13, N = 16 };
  const float special[] = {-0.0f, 0.0f,   NAN,     -INFINITY, INFINITY,  -1.0f, 7.0f, 3.0f,
                           6.0f,  1e-30f, -1e-30f, 5.999999f, 6.000001f, -NAN,  0.5f, 2.0f};
  float x[ROWS], w[N], y[ROWS * N], want[ROWS * N];
  float gamma[N], beta[N], mean[N], var[N];
  for (int j = 0; j < N; j++) {
    w[j] = 1.0f;
    gamma[j] = -1.0f;
    beta[j] = -0.0f;
    mean[j] = 0.0f;
    var[j] = 1.0f - EPS;
  }
  for (int r = 0; r < ROWS; r++) x[r] = special[r % 16];
  float scale[N];
  pni_bn_eval_scale(N, gamma, var, EPS, scale);
  ck_assert(scale[0] == -1.0f);
  const pni_bn_eval bn = {gamma, beta, mean, var, EPS, 1, NULL};
  pni_conv1x1_forward_bn(1, ROWS, 1, N, x, w, &bn, y);
  for (int r = 0; r < ROWS; r++) {
    for (int j = 0; j < N; j++) {
      const float v = ((x[r] * w[j] + 0.0f) - mean[j]) * scale[j] + beta[j];
      want[r * N + j] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    }
  }
  eval_expect_same_bits("relu6 edges", y, want, ROWS * N);
  /* And the separate pass (compiled C) on the same products. */
  float z[ROWS * N];
  for (int r = 0; r < ROWS; r++) {
    for (int j = 0; j < N; j++) z[r * N + j] = fmaf(x[r], w[j], 0.0f);
  }
  pni_bn_forward_eval_fused(1, ROWS, N, z, gamma, beta, mean, var, EPS, 1, NULL, z);
  eval_expect_same_bits("relu6 edges, separate pass", y, z, ROWS * N);
  ck_assert(signbit(y[0]) && y[0] == 0.0f && signbit(y[N])); /* -0 stays -0 */
  ck_assert(isnan(y[2 * N]) && y[3 * N] == 6.0f && y[4 * N] == 0.0f && !signbit(y[4 * N]));
  ck_assert(y[5 * N] == 1.0f && y[6 * N] == 0.0f && y[7 * N] == 0.0f);
}
END_TEST

static void check_conv(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t k,
                       int64_t stride, int relu6, int32_t threads) {
  pni_conv_shape s;
  ck_assert(pni_conv_shape_init(&s, n, h, w, cin, cout, k, stride, k / 2));
  ck_assert(pni_conv_bn_fits(&s));
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(n * 3 + h * 5 + w * 7 + cin * 11 + cout * 13 + k * 17 + stride));
  const int64_t xs = n * h * w * cin, ws = k * k * cin * cout;
  const int64_t rows = n * s.out_h * s.out_w, ys = rows * cout, width = k * k * cin;
  float *x = eval_new_floats(xs), *wt = eval_new_floats(ws), *fused = eval_new_floats(ys),
        *sep = eval_new_floats(ys);
  float *col = eval_new_floats((int64_t)pni_conv_workspace_floats(&s));
  eval_fill(x, xs, -1.0, 1.0, &r);
  eval_fill(wt, ws, -0.5, 0.5, &r);
  eval_bn p = eval_new_bn(cout, &r);
  const pni_bn_eval bn = {p.gamma, p.beta, p.mean, p.var, EPS, relu6, NULL};
  for (int64_t i = 0; i < ys; i++) fused[i] = 1e30f;
  set_canary(fused, ys);
  pni_conv_forward_bn(&s, threads, x, wt, &bn, fused);
  expect_canary("stem", fused, ys);

  char what[112];
  snprintf(what, sizeof what, "stem n%ld %ldx%ldx%ld->%ld k%ld s%ld t%d", (long)n, (long)h, (long)w,
           (long)cin, (long)cout, (long)k, (long)stride, (int)threads);
  /* The column matrix, built here directly. */
  float *a = eval_new_floats(rows * width);
  for (int64_t q = 0; q < rows; q++) {
    const int64_t img = q / (s.out_h * s.out_w), oy = q / s.out_w % s.out_h, ox = q % s.out_w;
    for (int64_t ky = 0; ky < k; ky++) {
      for (int64_t kx = 0; kx < k; kx++) {
        const int64_t iy = oy * stride - s.pad + ky, ix = ox * stride - s.pad + kx;
        for (int64_t c = 0; c < cin; c++) {
          const int in = iy >= 0 && iy < h && ix >= 0 && ix < w;
          a[q * width + (ky * k + kx) * cin + c] =
              in ? x[((img * h + iy) * w + ix) * cin + c] : 0.0f;
        }
      }
    }
  }
  scalar_reference(a, wt, rows, width, cout, &p, relu6, NULL, sep);
  eval_expect_same_bits(what, fused, sep, ys);
  if (rows * width * cout <= 2000000) {
    expect_reference(what, fused, a, wt, rows, width, cout, &p, relu6, NULL);
  }
  if (separate_is_exact(rows, width, cout)) {
    pni_conv_forward(&s, threads, x, wt, sep, col);
    pni_bn_forward_eval_fused(threads, rows, cout, sep, p.gamma, p.beta, p.mean, p.var, EPS, relu6,
                              NULL, sep);
    eval_expect_same_bits(what, fused, sep, ys);
  }
  free(a);
  eval_free_bn(&p);
  free(x), free(wt), free(fused), free(sep), free(col);
}

START_TEST(stem_equals_separate_passes) {
  if (!kernels_run()) return;
  /* k * cin of 3 to 28: one run of 16 columns per kernel row, and more;
   * strides 1 and 2, odd sizes, maps narrower than a row block. */
  check_conv(2, 28, 28, 1, 16, 3, 1, 1, 1);
  check_conv(1, 15, 17, 3, 24, 3, 2, 0, 1);
  check_conv(2, 9, 11, 3, 8, 5, 1, 1, 1);
  check_conv(1, 13, 10, 3, 40, 7, 2, 1, 1);
  check_conv(3, 5, 6, 4, 17, 5, 2, 0, 1);
  check_conv(1, 4, 3, 2, 33, 3, 1, 1, 1);
  check_conv(1, 1, 1, 1, 7, 3, 1, 0, 1);
  check_conv(1, 12, 12, 4, 32, 7, 1, 1, 1); /* k * k * cin = 196 */
}
END_TEST

START_TEST(stem_two_threads_and_the_network_shape) {
  if (!kernels_run()) return;
  check_conv(64, 28, 28, 1, 16, 3, 1, 1, 2);
  check_conv(4, 32, 32, 3, 32, 3, 2, 1, 2);
}
END_TEST

/* A small network through the public API, trained for a few steps so that
 * the running statistics move, then evaluated with and without the fused
 * kernels. */
START_TEST(network_logits_are_the_same_with_and_without) {
  if (!kernels_run()) return;
  enum { HW = 12, BATCH = 13, CLASSES = 4 };
  pnas_context_options co;
  pnas_context_options_init(&co);
  co.threads = 2;
  co.seed = 5;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&co, &ctx, NULL, 0), PNAS_OK);
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = CLASSES;
  info.stem_channels = 16;
  info.head_channels = 40;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  const int32_t spec[][4] = {{8, 3, 1, 1}, {24, 7, 3, 2}, {24, 3, 6, 1}, {40, 5, 3, 1}};
  for (int i = 0; i < 4; i++) {
    pnas_block_info b;
    pnas_block_info_init(&b);
    b.out_channels = spec[i][0];
    b.kernel = spec[i][1];
    b.expand = spec[i][2];
    b.stride = spec[i][3];
    ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  }
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = BATCH;
  pnas_net *net = NULL;
  ck_assert_msg(pnas_net_create(ctx, arch, &no, &net) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  pnas_arch_destroy(arch);
  pni_rng r;
  pni_rng_seed(&r, 11);
  float x[BATCH * HW * HW];
  int32_t labels[BATCH];
  for (int step = 0; step < 3; step++) {
    eval_fill(x, BATCH * HW * HW, 0.0, 1.0, &r);
    for (int i = 0; i < BATCH; i++) labels[i] = (i + step) % CLASSES;
    pnas_step_stats stats;
    ck_assert_int_eq(pnas_net_train_step(net, x, labels, BATCH, &stats), PNAS_OK);
  }
  float with[BATCH * CLASSES], without[BATCH * CLASSES];
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, with), PNAS_OK);
  const int before = pni_gemm_rows_allow(0);
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, without), PNAS_OK);
  pni_gemm_rows_allow(before);
  /* Some of this small network's products take BLIS kernels that sum in
   * another order (separate_is_exact), so the two agree to rounding. */
  for (int i = 0; i < BATCH * CLASSES; i++) {
    ck_assert(isfinite(with[i]));
    ck_assert_msg(fabsf(with[i] - without[i]) <= 1e-4f * (fabsf(without[i]) + 1.0f),
                  "logit %d: %.9g with, %.9g without", i, (double)with[i], (double)without[i]);
  }
  /* And the fused path is deterministic. */
  float again[BATCH * CLASSES];
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, again), PNAS_OK);
  eval_expect_same_bits("logits again", again, with, BATCH * CLASSES);
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("gemm-rows");
  TCase *tc = tcase_create("gemm-rows");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, rules);
  tcase_add_test(tc, conv1x1_equals_separate_passes);
  tcase_add_test(tc, conv1x1_flags_threads_and_shapes_of_the_networks);
  tcase_add_test(tc, conv1x1_nan_passes_through);
  tcase_add_test(tc, conv1x1_relu6_edges);
  tcase_add_test(tc, plain_product_in_order);
  tcase_add_test(tc, weight_gradient_in_order);
  tcase_add_test(tc, head_and_pool_equal_the_two_passes);
  tcase_add_test(tc, stem_equals_separate_passes);
  tcase_add_test(tc, stem_two_threads_and_the_network_shape);
  tcase_add_test(tc, network_logits_are_the_same_with_and_without);
  suite_add_tcase(s, tc);
  return s;
}
