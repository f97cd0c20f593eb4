/* SPDX-License-Identifier: MIT */
/* The fused training-mode BN + ReLU6 kernels give bitwise the results of
 * the separate passes they replace (pni_bn_forward_train then
 * pni_relu6_forward; pni_relu6_backward then pni_bn_backward), and
 * pni_bn_rebuild_rows rebuilds the forward's output bitwise: channel
 * counts around the vector width and across reduction blocks, serial and
 * parallel sizes, one and two threads, in place, inputs landing exactly on
 * the kinks 0 and 6, and NaN. Their float64 finite-difference check is in
 * test_kernels_grad.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"

static float *fill(size_t n, pni_rng *r, double lo, double hi) {
  float *v = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
  return v;
}

static float *copy(const float *v, size_t n) {
  float *out = malloc(sizeof(float) * (n ? n : 1));
  memcpy(out, v, sizeof(float) * n);
  return out;
}

static void expect_same(const char *what, const float *a, const float *b, size_t n, int64_t rows,
                        int64_t c, int32_t threads) {
  for (size_t i = 0; i < n; i++) {
    if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      ck_abort_msg("%s rows=%ld c=%ld threads=%d: [%zu] fused %.9g, separate %.9g", what,
                   (long)rows, (long)c, (int)threads, i, (double)a[i], (double)b[i]);
    }
  }
}

/* gamma and beta spread so that the normalised values fall below 0, inside
 * (0, 6) and above 6. With special set, some inputs are the channel's first
 * row (normalised to exactly beta) with beta = 0 or 6, and one is NaN. */
static void check(int64_t rows, int64_t c, int32_t threads, int special, int in_place) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 7919 + c * 31 + special));
  const size_t n = (size_t)(rows * c), cc = (size_t)c;
  float *x = fill(n, &r, -2.0, 2.0), *dy = fill(n, &r, -1.0, 1.0);
  float *gamma = fill(cc, &r, 1.5, 3.5), *beta = fill(cc, &r, 1.0, 3.0);
  if (special && c >= 3) {
    beta[0] = 0.0f;
    beta[1] = 6.0f;
    /* Column 2 constant: variance 0, every value exactly beta. */
    for (int64_t i = 0; i < rows; i++) x[i * c + 2] = 0.25f;
    beta[2] = 6.0f;
    if (rows > 3) x[3 * c] = NAN;
  }
  float *rm_a = fill(cc, &r, -1.0, 1.0), *rv_a = fill(cc, &r, 0.5, 2.0);
  float *rm_b = copy(rm_a, cc), *rv_b = copy(rv_a, cc);
  float *ya = malloc(sizeof(float) * n), *yb = malloc(sizeof(float) * n);
  float *sm_a = malloc(sizeof(float) * cc), *si_a = malloc(sizeof(float) * cc);
  float *sm_b = malloc(sizeof(float) * cc), *si_b = malloc(sizeof(float) * cc);

  /* Fused, possibly in place (y = x). */
  const float *xin = x;
  if (in_place) {
    memcpy(ya, x, sizeof(float) * n);
    xin = ya;
  }
  pni_bn_relu6_forward_train(threads, rows, c, xin, gamma, beta, 1e-3f, 0.1f, rm_a, rv_a, ya, sm_a,
                             si_a);
  pni_bn_forward_train(threads, rows, c, x, gamma, beta, 1e-3f, 0.1f, rm_b, rv_b, yb, sm_b, si_b);
  /* The output rebuilt from the saved statistics (what a backward does
   * for an output it did not keep), in uneven pieces of rows, has the
   * forward's bits, with or without ReLU6. */
  float *rebuilt = malloc(sizeof(float) * n);
  pni_bn_source plain = {x, gamma, beta, sm_b, si_b, c, 0},
                clipped = {x, gamma, beta, sm_a, si_a, c, 1};
  const int64_t cut[] = {0, rows / 3, rows / 3 + (rows > 1), rows};
  for (int p = 0; p < 3; p++) {
    pni_bn_rebuild_rows(&plain, cut[p], cut[p + 1], rebuilt + cut[p] * c);
  }
  expect_same("rebuilt y", rebuilt, yb, n, rows, c, threads);
  pni_relu6_forward(threads, (int64_t)n, yb, yb);
  expect_same("y", ya, yb, n, rows, c, threads);
  for (int p = 0; p < 3; p++) {
    pni_bn_rebuild_rows(&clipped, cut[p], cut[p + 1], rebuilt + cut[p] * c);
  }
  expect_same("rebuilt relu6 y", rebuilt, ya, n, rows, c, threads);
  free(rebuilt);
  expect_same("save_mean", sm_a, sm_b, cc, rows, c, threads);
  expect_same("save_invstd", si_a, si_b, cc, rows, c, threads);
  expect_same("running_mean", rm_a, rm_b, cc, rows, c, threads);
  expect_same("running_var", rv_a, rv_b, cc, rows, c, threads);

  float *dxa = malloc(sizeof(float) * n), *dxb = copy(dy, n);
  float *dga = malloc(sizeof(float) * cc), *dba = malloc(sizeof(float) * cc);
  float *dgb = malloc(sizeof(float) * cc), *dbb = malloc(sizeof(float) * cc);
  const float *dyin = dy;
  if (in_place) {
    memcpy(dxa, dy, sizeof(float) * n);
    dyin = dxa;
  }
  pni_bn_relu6_backward(threads, rows, c, x, dyin, gamma, beta, sm_a, si_a, dxa, dga, dba);
  pni_relu6_backward(threads, (int64_t)n, yb, dxb, dxb);
  pni_bn_backward(threads, rows, c, x, dxb, gamma, sm_b, si_b, dxb, dgb, dbb);
  expect_same("dx", dxa, dxb, n, rows, c, threads);
  expect_same("dgamma", dga, dgb, cc, rows, c, threads);
  expect_same("dbeta", dba, dbb, cc, rows, c, threads);
  if (!in_place) {
    /* dy is an input only. */
    pni_rng r2;
    pni_rng_seed(&r2, (uint64_t)(rows * 7919 + c * 31 + special));
    float *x2 = fill(n, &r2, -2.0, 2.0), *dy2 = fill(n, &r2, -1.0, 1.0);
    ck_assert(memcmp(dy, dy2, sizeof(float) * n) == 0);
    free(x2), free(dy2);
  }
  free(x), free(dy), free(gamma), free(beta), free(rm_a), free(rv_a), free(rm_b), free(rv_b);
  free(ya), free(yb), free(sm_a), free(si_a), free(sm_b), free(si_b);
  free(dxa), free(dxb), free(dga), free(dba), free(dgb), free(dbb);
}

START_TEST(fused_matches_separate_passes) {
  static const int64_t channels[] = {1, 3, 7, 8, 9, 16, 17, 33, 129, 600};
  /* 1500 x 33 and up cross the kernels' serial threshold (2^15 values). */
  static const int64_t rows[] = {1, 2, 5, 64, 1500};
  for (size_t a = 0; a < sizeof rows / sizeof rows[0]; a++) {
    for (size_t b = 0; b < sizeof channels / sizeof channels[0]; b++) {
      for (int32_t t = 1; t <= 2; t++) {
        for (int special = 0; special <= 1; special++) check(rows[a], channels[b], t, special, 0);
      }
    }
  }
}
END_TEST

START_TEST(fused_in_place_matches_separate_passes) {
  const int64_t shapes[][2] = {{64, 24}, {3136, 144}, {784, 600}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int32_t t = 1; t <= 2; t++) check(shapes[s][0], shapes[s][1], t, 1, 1);
  }
}
END_TEST

/* The kinks: a value of exactly 0 or 6 after normalisation passes no
 * gradient, as pni_relu6_backward decides; NaN passes none either. */
START_TEST(kinks_and_nan_pass_no_gradient) {
  const int64_t rows = 4, c = 3;
  /* Column j constant: variance 0, so every value normalises to beta[j]. */
  float x[12], dy[12], gamma[3] = {1.0f, 1.0f, 1.0f}, beta[3] = {0.0f, 6.0f, 3.0f};
  for (int i = 0; i < 12; i++) x[i] = 1.0f, dy[i] = 1.0f;
  x[2] = NAN; /* row 0 of column 2 */
  float rm[3] = {0}, rv[3] = {1, 1, 1}, y[12], sm[3], si[3], dx[12], dg[3], db[3];
  pni_bn_relu6_forward_train(1, rows, c, x, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
  ck_assert_float_eq(y[0], 0.0f);
  ck_assert_float_eq(y[1], 6.0f);
  ck_assert(isnan(y[2]));
  pni_bn_relu6_backward(1, rows, c, x, dy, gamma, beta, sm, si, dx, dg, db);
  /* Columns 0 and 1: every value on a kink, so no gradient reaches BN. */
  ck_assert_float_eq(db[0], 0.0f);
  ck_assert_float_eq(db[1], 0.0f);
  ck_assert_float_eq(dg[0], 0.0f);
  ck_assert_float_eq(dg[1], 0.0f);
  for (int i = 0; i < 4; i++) {
    ck_assert_float_eq(dx[i * 3 + 0], 0.0f);
    ck_assert_float_eq(dx[i * 3 + 1], 0.0f);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("bn-relu6");
  TCase *tc = tcase_create("fused training passes");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, fused_matches_separate_passes);
  tcase_add_test(tc, fused_in_place_matches_separate_passes);
  tcase_add_test(tc, kinks_and_nan_pass_no_gradient);
  suite_add_tcase(s, tc);
  return s;
}
