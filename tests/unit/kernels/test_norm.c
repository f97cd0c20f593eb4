/* SPDX-License-Identifier: MIT */
/* Batch norm (train forward, eval forward, backward) against a float64
 * reference at channel counts around the vector width and across the
 * reduction's channel blocks, one row and many, one thread and two; running
 * statistics against hand-computed values; bitwise determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/norm.h"

/* For checks inside element loops: Check records every passing ck_assert
 * (one pipe write each), so loops call into Check only on failure. */
#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) ck_abort_msg(__VA_ARGS__); \
  } while (0)

static const int64_t channel_counts[] = {1, 3, 7, 8, 9, 16, 17, 33, 129, 300, 600};
static const int64_t row_counts[] = {1, 2, 5, 64, 1500};

static float *fill(size_t n, pni_rng *r, double lo, double hi) {
  float *v = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
  return v;
}

/* Per-channel batch mean and biased variance in double, two passes. */
static void ref_stats(int64_t rows, int64_t c, const float *x, double *mean, double *var) {
  for (int64_t j = 0; j < c; j++) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) s += x[r * c + j];
    mean[j] = s / (double)rows;
    double q = 0.0;
    for (int64_t r = 0; r < rows; r++) {
      const double d = x[r * c + j] - mean[j];
      q += d * d;
    }
    var[j] = q / (double)rows;
  }
}

static void assert_close(double got, double want, double rel, double abs_tol, const char *what,
                         int64_t rows, int64_t c, int64_t i) {
  EXPECT(fabs(got - want) <= abs_tol + rel * fabs(want),
         "%s rows=%ld c=%ld [%ld]: got %.9g want %.9g", what, (long)rows, (long)c, (long)i, got,
         want);
}

/* Inputs centred away from zero (offset 3) so that a variance formula
 * losing precision to cancellation would show. */
static void check_train(int64_t rows, int64_t c, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 1000 + c));
  const size_t n = (size_t)(rows * c);
  float *x = fill(n, &r, 2.0, 4.0), *gamma = fill((size_t)c, &r, 0.5, 1.5);
  float *beta = fill((size_t)c, &r, -1.0, 1.0), *rm = fill((size_t)c, &r, -1.0, 1.0);
  float *rv = fill((size_t)c, &r, 0.5, 2.0);
  float *rm0 = malloc(sizeof(float) * (size_t)c), *rv0 = malloc(sizeof(float) * (size_t)c);
  memcpy(rm0, rm, sizeof(float) * (size_t)c);
  memcpy(rv0, rv, sizeof(float) * (size_t)c);
  float *y = malloc(sizeof(float) * n), *sm = malloc(sizeof(float) * (size_t)c);
  float *si = malloc(sizeof(float) * (size_t)c);
  double *mean = malloc(sizeof(double) * (size_t)c), *var = malloc(sizeof(double) * (size_t)c);
  const float eps = 1e-3f, mom = 0.1f;

  pni_bn_forward_train(threads, rows, c, x, gamma, beta, eps, mom, rm, rv, y, sm, si);
  ref_stats(rows, c, x, mean, var);
  for (int64_t j = 0; j < c; j++) {
    const double invstd = 1.0 / sqrt(var[j] + eps);
    assert_close(sm[j], mean[j], 1e-6, 1e-6, "save_mean", rows, c, j);
    assert_close(si[j], invstd, 1e-5, 0.0, "save_invstd", rows, c, j);
    assert_close(rm[j], 0.9 * rm0[j] + 0.1 * mean[j], 1e-6, 1e-6, "running_mean", rows, c, j);
    const double rv_want =
        rows > 1 ? 0.9 * rv0[j] + 0.1 * var[j] * (double)rows / (double)(rows - 1) : rv0[j];
    assert_close(rv[j], rv_want, 1e-5, 1e-7, "running_var", rows, c, j);
    for (int64_t i = 0; i < rows; i++) {
      const double want = (x[i * c + j] - mean[j]) * invstd * gamma[j] + beta[j];
      assert_close(y[i * c + j], want, 1e-5, 1e-5, "y", rows, c, i * c + j);
    }
  }
  free(x), free(gamma), free(beta), free(rm), free(rv), free(rm0), free(rv0);
  free(y), free(sm), free(si), free(mean), free(var);
}

START_TEST(train_forward_matches_reference) {
  for (size_t a = 0; a < sizeof row_counts / sizeof row_counts[0]; a++) {
    for (size_t b = 0; b < sizeof channel_counts / sizeof channel_counts[0]; b++) {
      for (int32_t t = 1; t <= 2; t++) check_train(row_counts[a], channel_counts[b], t);
    }
  }
}
END_TEST

START_TEST(running_stats_by_hand) {
  /* One channel, x = 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased
   * 5/3. From running (0, 1) with momentum 0.1: 0.25 and 0.9 + 1/6. */
  const float x[4] = {1, 2, 3, 4}, gamma = 2.0f, beta = 0.5f;
  float rm = 0.0f, rv = 1.0f, y[4], sm, si;
  pni_bn_forward_train(1, 4, 1, x, &gamma, &beta, 1e-3f, 0.1f, &rm, &rv, y, &sm, &si);
  ck_assert_float_eq_tol(rm, 0.25f, 1e-7f);
  ck_assert_float_eq_tol(rv, 0.9f + 1.0f / 6.0f, 1e-6f);
  ck_assert_float_eq(sm, 2.5f);
  ck_assert_float_eq_tol(si, (float)(1.0 / sqrt(1.25 + 1e-3)), 1e-6f);
  ck_assert_float_eq_tol(y[0], (float)(0.5 - 3.0 / sqrt(1.251)), 1e-6f);
  /* A second step compounds: running = 0.9 * running + 0.1 * batch. */
  pni_bn_forward_train(1, 4, 1, x, &gamma, &beta, 1e-3f, 0.1f, &rm, &rv, y, &sm, &si);
  ck_assert_float_eq_tol(rm, 0.475f, 1e-6f);
  ck_assert_float_eq_tol(rv, 0.9f * (0.9f + 1.0f / 6.0f) + 1.0f / 6.0f, 1e-6f);
}
END_TEST

START_TEST(one_row) {
  /* rows == 1: variance 0, y = beta, running variance untouched, running
   * mean moves; nothing divides by zero. */
  const float x[3] = {5.0f, -2.0f, 0.0f}, gamma[3] = {1, 2, 3}, beta[3] = {0.1f, 0.2f, 0.3f};
  float rm[3] = {0, 0, 0}, rv[3] = {1, 2, 3}, y[3], sm[3], si[3];
  pni_bn_forward_train(2, 1, 3, x, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
  for (int j = 0; j < 3; j++) {
    ck_assert_float_eq(y[j], beta[j]);
    ck_assert_float_eq(sm[j], x[j]);
    ck_assert_float_eq(rv[j], (float)(j + 1));
    ck_assert_float_eq_tol(rm[j], 0.1f * x[j], 1e-7f);
    ck_assert(isfinite(si[j]));
  }
  const float dy[3] = {1, -1, 2};
  float dx[3], dg[3], db[3];
  pni_bn_backward(1, 1, 3, x, dy, gamma, sm, si, dx, dg, db);
  for (int j = 0; j < 3; j++) {
    ck_assert_float_eq_tol(dx[j], 0.0f, 1e-4f);
    ck_assert_float_eq(dg[j], 0.0f);
    ck_assert_float_eq(db[j], dy[j]);
  }
}
END_TEST

START_TEST(no_rows) {
  /* rows == 0: nothing to normalise; the saved statistics are defined and
   * the running ones untouched. */
  const float x[1] = {0}, gamma[2] = {1, 1}, beta[2] = {0, 0};
  float rm[2] = {0.5f, 0.5f}, rv[2] = {2, 2}, y[1] = {3}, sm[2], si[2], dg[2] = {1, 1},
        db[2] = {1, 1};
  pni_bn_forward_train(2, 0, 2, x, gamma, beta, 1e-2f, 0.1f, rm, rv, y, sm, si);
  for (int j = 0; j < 2; j++) {
    ck_assert_float_eq(sm[j], 0.0f);
    ck_assert_float_eq_tol(si[j], 10.0f, 1e-5f);
    ck_assert_float_eq(rm[j], 0.5f);
    ck_assert_float_eq(rv[j], 2.0f);
  }
  ck_assert_float_eq(y[0], 3.0f);
  pni_bn_backward(2, 0, 2, x, x, gamma, sm, si, y, dg, db);
  ck_assert_float_eq(dg[0] + dg[1] + db[0] + db[1], 0.0f);
}
END_TEST

START_TEST(large_offset_keeps_variance) {
  /* mean 1000, std ~0.01: a naive E[x^2] - E[x]^2 in float would lose it. */
  const int64_t rows = 4096, c = 5;
  pni_rng r;
  pni_rng_seed(&r, 77);
  float *x = fill((size_t)(rows * c), &r, 1000.0 - 0.0173, 1000.0 + 0.0173);
  float gamma[5] = {1, 1, 1, 1, 1}, beta[5] = {0}, rm[5] = {0}, rv[5] = {1, 1, 1, 1, 1};
  float *y = malloc(sizeof(float) * (size_t)(rows * c)), sm[5], si[5];
  double mean[5], var[5];
  pni_bn_forward_train(2, rows, c, x, gamma, beta, 1e-8f, 0.1f, rm, rv, y, sm, si);
  ref_stats(rows, c, x, mean, var);
  for (int j = 0; j < c; j++) {
    assert_close(si[j], 1.0 / sqrt(var[j] + 1e-8), 1e-4, 0, "invstd", rows, c, j);
  }
  free(x);
  free(y);
}
END_TEST

static void check_eval(int64_t rows, int64_t c, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 31 + c));
  const size_t n = (size_t)(rows * c);
  float *x = fill(n, &r, -3.0, 3.0), *gamma = fill((size_t)c, &r, 0.5, 1.5);
  float *beta = fill((size_t)c, &r, -1.0, 1.0), *rm = fill((size_t)c, &r, -1.0, 1.0);
  float *rv = fill((size_t)c, &r, 0.1, 2.0), *y = malloc(sizeof(float) * n);
  pni_bn_forward_eval(threads, rows, c, x, gamma, beta, rm, rv, 1e-3f, y);
  for (int64_t i = 0; i < rows; i++) {
    for (int64_t j = 0; j < c; j++) {
      const double want =
          ((double)x[i * c + j] - rm[j]) / sqrt((double)rv[j] + 1e-3) * gamma[j] + beta[j];
      assert_close(y[i * c + j], want, 1e-5, 1e-5, "eval y", rows, c, i * c + j);
    }
  }
  /* In place gives the same bits. */
  float *z = malloc(sizeof(float) * n);
  memcpy(z, x, sizeof(float) * n);
  pni_bn_forward_eval(threads, rows, c, z, gamma, beta, rm, rv, 1e-3f, z);
  ck_assert(memcmp(z, y, sizeof(float) * n) == 0);
  free(x), free(gamma), free(beta), free(rm), free(rv), free(y), free(z);
}

START_TEST(eval_forward_matches_reference) {
  for (size_t a = 0; a < sizeof row_counts / sizeof row_counts[0]; a++) {
    for (size_t b = 0; b < sizeof channel_counts / sizeof channel_counts[0]; b++) {
      for (int32_t t = 1; t <= 2; t++) check_eval(row_counts[a], channel_counts[b], t);
    }
  }
}
END_TEST

static void check_backward(int64_t rows, int64_t c, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 7 + c * 3));
  const size_t n = (size_t)(rows * c);
  float *x = fill(n, &r, -1.0, 3.0), *dy = fill(n, &r, -1.0, 1.0);
  float *gamma = fill((size_t)c, &r, 0.5, 1.5), *beta = fill((size_t)c, &r, -1.0, 1.0);
  float *rm = fill((size_t)c, &r, 0, 0), *rv = fill((size_t)c, &r, 1, 1);
  float *y = malloc(sizeof(float) * n), *sm = malloc(sizeof(float) * (size_t)c);
  float *si = malloc(sizeof(float) * (size_t)c), *dx = malloc(sizeof(float) * n);
  float *dg = malloc(sizeof(float) * (size_t)c), *db = malloc(sizeof(float) * (size_t)c);
  pni_bn_forward_train(threads, rows, c, x, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
  pni_bn_backward(threads, rows, c, x, dy, gamma, sm, si, dx, dg, db);
  for (int64_t j = 0; j < c; j++) {
    /* Reference from the saved statistics, all in double. */
    const double m = sm[j], is = si[j];
    double sdy = 0.0, sdyx = 0.0, mag = 0.0;
    for (int64_t i = 0; i < rows; i++) {
      sdy += dy[i * c + j];
      sdyx += dy[i * c + j] * ((double)x[i * c + j] - m) * is;
      mag += fabs(dy[i * c + j]);
    }
    assert_close(db[j], sdy, 1e-6, 1e-6 * mag, "dbeta", rows, c, j);
    assert_close(dg[j], sdyx, 1e-5, 1e-5 * mag, "dgamma", rows, c, j);
    for (int64_t i = 0; i < rows; i++) {
      const double xh = ((double)x[i * c + j] - m) * is;
      const double want = gamma[j] * is * (dy[i * c + j] - sdy / rows - xh * sdyx / rows);
      assert_close(dx[i * c + j], want, 1e-4, 1e-5 * gamma[j] * is, "dx", rows, c, i * c + j);
    }
  }
  /* dx in place over dy gives the same bits. */
  float *dz = malloc(sizeof(float) * n), dg2[600], db2[600];
  memcpy(dz, dy, sizeof(float) * n);
  pni_bn_backward(threads, rows, c, x, dz, gamma, sm, si, dz, dg2, db2);
  ck_assert(memcmp(dz, dx, sizeof(float) * n) == 0);
  ck_assert(memcmp(dg2, dg, sizeof(float) * (size_t)c) == 0);
  ck_assert(memcmp(db2, db, sizeof(float) * (size_t)c) == 0);
  free(x), free(dy), free(gamma), free(beta), free(rm), free(rv), free(y), free(sm), free(si);
  free(dx), free(dg), free(db), free(dz);
}

START_TEST(backward_matches_reference) {
  for (size_t a = 0; a < sizeof row_counts / sizeof row_counts[0]; a++) {
    for (size_t b = 0; b < sizeof channel_counts / sizeof channel_counts[0]; b++) {
      for (int32_t t = 1; t <= 2; t++) check_backward(row_counts[a], channel_counts[b], t);
    }
  }
}
END_TEST

/* Runs forward + backward and returns every output concatenated. */
static float *run_all(int64_t rows, int64_t c, int32_t threads, int in_place) {
  pni_rng r;
  pni_rng_seed(&r, 99);
  const size_t n = (size_t)(rows * c), cc = (size_t)c;
  float *x = fill(n, &r, -2.0, 2.0), *dy = fill(n, &r, -1.0, 1.0);
  float *gamma = fill(cc, &r, 0.5, 1.5), *beta = fill(cc, &r, -1, 1);
  float *out = malloc(sizeof(float) * (2 * n + 6 * cc));
  float *y = out, *dx = out + n, *rm = out + 2 * n, *rv = rm + cc, *sm = rv + cc, *si = sm + cc;
  float *dg = si + cc, *db = dg + cc;
  for (size_t j = 0; j < cc; j++) rm[j] = 0.0f, rv[j] = 1.0f;
  float *xin = x;
  if (in_place) {
    memcpy(y, x, sizeof(float) * n);
    xin = y;
  }
  pni_bn_forward_train(threads, rows, c, xin, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
  memcpy(dx, dy, sizeof(float) * n);
  pni_bn_backward(threads, rows, c, x, in_place ? dx : dy, gamma, sm, si, dx, dg, db);
  free(x), free(dy), free(gamma), free(beta);
  return out;
}

START_TEST(deterministic_across_runs_and_threads) {
  /* Large enough for the parallel path; c spans several reduction blocks. */
  const int64_t shapes[][2] = {{3000, 33}, {1024, 300}, {200, 576}};
  for (size_t s = 0; s < 3; s++) {
    const int64_t rows = shapes[s][0], c = shapes[s][1];
    const size_t bytes = sizeof(float) * (size_t)(2 * rows * c + 6 * c);
    float *a = run_all(rows, c, 1, 0);
    for (int32_t t = 1; t <= 3; t++) {
      for (int rep = 0; rep < 2; rep++) {
        float *b = run_all(rows, c, t, rep);
        ck_assert_msg(memcmp(a, b, bytes) == 0, "rows=%ld c=%ld threads=%d in_place=%d differ",
                      (long)rows, (long)c, t, rep);
        free(b);
      }
    }
    free(a);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("norm");
  TCase *tc = tcase_create("batchnorm");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, train_forward_matches_reference);
  tcase_add_test(tc, running_stats_by_hand);
  tcase_add_test(tc, one_row);
  tcase_add_test(tc, no_rows);
  tcase_add_test(tc, large_offset_keeps_variance);
  tcase_add_test(tc, eval_forward_matches_reference);
  tcase_add_test(tc, backward_matches_reference);
  tcase_add_test(tc, deterministic_across_runs_and_threads);
  suite_add_tcase(s, tc);
  return s;
}
