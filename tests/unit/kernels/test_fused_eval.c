/* SPDX-License-Identifier: MIT */
/* The fused evaluation kernels: batch norm with running statistics, ReLU6
 * and the residual add in one pass (pni_bn_forward_eval_fused), and the
 * depthwise convolution with batch norm and ReLU6 applied per row
 * (pni_dwconv_forward_bn). Each must give exactly the bits of the separate
 * passes it replaces, for any thread count and for channel counts around
 * the vector width and the fused kernels' limits, and match a float64
 * reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "eval_fixture.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static const float EPS = 1e-3f;

/* float64: relu6?((x - mean) * gamma / sqrt(var + eps) + beta) + residual. */
static void expect_reference(const char *what, const float *got, const float *x, const eval_bn *p,
                             int relu6, const float *residual, int64_t rows, int64_t c) {
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < c; j++) {
      const int64_t i = r * c + j;
      double v =
          ((double)x[i] - p->mean[j]) * p->gamma[j] / sqrt((double)p->var[j] + EPS) + p->beta[j];
      if (relu6) v = v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v);
      if (residual != NULL) v += residual[i];
      const double tol = 1e-5 * (fabs(v) + 1.0);
      if (!(fabs((double)got[i] - v) <= tol)) {
        ck_abort_msg("%s[%ld]: %.9g vs float64 %.9g", what, (long)i, (double)got[i], v);
      }
    }
  }
}

static void check_bn_fused(int64_t rows, int64_t c, int relu6, int with_residual, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 1000 + c * 10 + relu6 * 2 + with_residual));
  const int64_t n = rows * c;
  float *x = eval_new_floats(n), *res = eval_new_floats(n), *fused = eval_new_floats(n),
        *sep = eval_new_floats(n);
  eval_fill(x, n, -3.0, 3.0, &r);
  eval_fill(res, n, -2.0, 2.0, &r);
  eval_bn p = eval_new_bn(c, &r);
  const float *residual = with_residual ? res : NULL;

  pni_bn_forward_eval_fused(threads, rows, c, x, p.gamma, p.beta, p.mean, p.var, EPS, relu6,
                            residual, fused);
  pni_bn_forward_eval(threads, rows, c, x, p.gamma, p.beta, p.mean, p.var, EPS, sep);
  if (relu6) pni_relu6_forward(threads, n, sep, sep);
  if (residual != NULL) pni_add(threads, n, sep, residual, sep);
  eval_expect_same_bits("bn fused vs separate", fused, sep, n);
  expect_reference("bn fused", fused, x, &p, relu6, residual, rows, c);

  /* In place (y == x), as the units run it. */
  memcpy(sep, x, sizeof(float) * (size_t)n);
  pni_bn_forward_eval_fused(threads, rows, c, sep, p.gamma, p.beta, p.mean, p.var, EPS, relu6,
                            residual, sep);
  eval_expect_same_bits("bn fused in place", sep, fused, n);

  eval_free_bn(&p);
  free(x);
  free(res);
  free(fused);
  free(sep);
}

START_TEST(bn_fused_equals_separate_passes) {
  static const int64_t channels[] = {1, 7, 8, 9, 17, 33, 520, 1030};
  static const int64_t rows[] = {1, 3, 49, 200};
  for (int64_t ci = 0; ci < COUNT(channels); ci++) {
    for (int64_t ri = 0; ri < COUNT(rows); ri++) {
      for (int flags = 0; flags < 4; flags++) {
        check_bn_fused(rows[ri], channels[ci], flags & 1, (flags >> 1) & 1, 1);
      }
    }
  }
}
END_TEST

START_TEST(bn_fused_threads_agree) {
  /* Large enough for a team of two (at least 2^15 elements). */
  check_bn_fused(600, 96, 1, 0, 2);
  check_bn_fused(600, 96, 0, 1, 2);
  check_bn_fused(4096, 24, 1, 1, 2);
}
END_TEST

START_TEST(bn_fused_nan_passes_through) {
  /* ReLU6 lets NaN through in both paths, so divergence stays visible. */
  const int64_t c = 9;
  pni_rng r;
  pni_rng_seed(&r, 5);
  float x[9], y[9];
  eval_fill(x, c, -1.0, 1.0, &r);
  x[4] = NAN;
  eval_bn p = eval_new_bn(c, &r);
  pni_bn_forward_eval_fused(1, 1, c, x, p.gamma, p.beta, p.mean, p.var, EPS, 1, NULL, y);
  ck_assert(isnan(y[4]));
  for (int64_t j = 0; j < c; j++) {
    if (j != 4) ck_assert(y[j] >= 0.0f && y[j] <= 6.0f);
  }
  eval_free_bn(&p);
}
END_TEST

static void check_dw_fused(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t stride,
                           int relu6, int32_t threads) {
  pni_conv_shape s;
  ck_assert(pni_conv_shape_init(&s, n, h, w, c, c, k, stride, k / 2));
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(n * 7 + h * 11 + w * 13 + c * 17 + k * 19 + stride));
  const int64_t xs = n * h * w * c, ys = n * s.out_h * s.out_w * c;
  float *x = eval_new_floats(xs), *wt = eval_new_floats(k * k * c);
  float *fused = eval_new_floats(ys), *sep = eval_new_floats(ys), *conv = eval_new_floats(ys);
  eval_fill(x, xs, -1.0, 1.0, &r);
  eval_fill(wt, k * k * c, -0.5, 0.5, &r);
  eval_bn p = eval_new_bn(c, &r);

  for (int64_t i = 0; i < ys; i++) fused[i] = 1e30f; /* every output must be written */
  pni_dwconv_forward_bn(&s, threads, x, wt, p.gamma, p.beta, p.mean, p.var, EPS, relu6, fused);
  pni_dwconv_forward(&s, threads, x, wt, conv);
  pni_bn_forward_eval(threads, ys / c, c, conv, p.gamma, p.beta, p.mean, p.var, EPS, sep);
  if (relu6) pni_relu6_forward(threads, ys, sep, sep);
  eval_expect_same_bits("dwconv+bn fused vs separate", fused, sep, ys);
  expect_reference("dwconv+bn fused", fused, conv, &p, relu6, NULL, ys / c, c);

  eval_free_bn(&p);
  free(x);
  free(wt);
  free(fused);
  free(sep);
  free(conv);
}

START_TEST(dwconv_bn_fused_equals_separate_passes) {
  static const int64_t channels[] = {1, 8, 9, 17, 33, 144};
  for (int64_t ci = 0; ci < COUNT(channels); ci++) {
    for (int64_t k = 3; k <= 7; k += 2) {
      for (int64_t stride = 1; stride <= 2; stride++) {
        check_dw_fused(1, 7, 7, channels[ci], k, stride, 1, 1);
        check_dw_fused(2, 5, 6, channels[ci], k, stride, 0, 1);
      }
    }
  }
}
END_TEST

START_TEST(dwconv_bn_fused_relu6_edges) {
  /* Each output is its centre pixel's value times -1 (the other taps have
   * weight 0; scale -1, beta -0): -0, NaN, the infinities and the ReLU6
   * edges go through the clamp in the 16-lane and 8-lane paths and the
   * scalar tail, and must give the separate passes' bits. */
  enum { C = 25, HW = 4 };
  pni_conv_shape s;
  ck_assert(pni_conv_shape_init(&s, 1, HW, HW, C, C, 3, 1, 1));
  const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1.0f, -7.0f, -6.0f, -3.0f};
  float x[HW * HW * C], w[9 * C], fused[HW * HW * C], sep[HW * HW * C];
  for (int i = 0; i < HW * HW * C; i++) x[i] = special[i % 9];
  for (int i = 0; i < 9 * C; i++) w[i] = i / C == 4 ? 1.0f : 0.0f;
  float gamma[C], beta[C], mean[C], var[C];
  for (int j = 0; j < C; j++) {
    gamma[j] = -1.0f;
    beta[j] = -0.0f;
    mean[j] = 0.0f;
    var[j] = 1.0f - EPS;
  }
  pni_dwconv_forward_bn(&s, 1, x, w, gamma, beta, mean, var, EPS, 1, fused);
  pni_dwconv_forward(&s, 1, x, w, sep);
  pni_bn_forward_eval(1, HW * HW, C, sep, gamma, beta, mean, var, EPS, sep);
  pni_relu6_forward(1, HW * HW * C, sep, sep);
  eval_expect_same_bits("dwconv+bn relu6 edges", fused, sep, HW * HW * C);
  int negative_zeros = 0, nans = 0;
  for (int i = 0; i < HW * HW * C; i++) {
    negative_zeros += fused[i] == 0.0f && signbit(fused[i]);
    nans += isnan(fused[i]);
  }
  ck_assert(negative_zeros > 0 && nans > 0);
}
END_TEST

START_TEST(dwconv_bn_fused_threads_and_wide_layers) {
  /* A team of two on a Fashion-MNIST shape, and layers wider than the
   * fused kernel keeps on its stack (they take the separate passes). */
  check_dw_fused(8, 14, 14, 144, 5, 1, 1, 2);
  check_dw_fused(1, 3, 3, 4096, 3, 1, 1, 1);
  check_dw_fused(1, 3, 3, 4097, 3, 2, 1, 2);
  check_dw_fused(1, 2, 2, 5000, 5, 1, 0, 1);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("fused-eval");
  TCase *tc = tcase_create("fused-eval");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, bn_fused_equals_separate_passes);
  tcase_add_test(tc, bn_fused_threads_agree);
  tcase_add_test(tc, bn_fused_nan_passes_through);
  tcase_add_test(tc, dwconv_bn_fused_equals_separate_passes);
  tcase_add_test(tc, dwconv_bn_fused_threads_and_wide_layers);
  tcase_add_test(tc, dwconv_bn_fused_relu6_edges);
  suite_add_tcase(s, tc);
  return s;
}
