/* SPDX-License-Identifier: MIT */
/* Linear forward/backward and softmax cross-entropy against float64
 * references; label smoothing against a hand-computed example; argmax
 * ties; determinism across thread counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/linear.h"

/* For checks inside element loops: Check records every passing ck_assert
 * (one pipe write each), so loops call into Check only on failure. */
#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) ck_abort_msg(__VA_ARGS__); \
  } while (0)

static const int64_t widths[] = {1, 3, 7, 8, 9, 16, 17, 33};

/* BLIS 0.9's small-matrix path reads a few dozen floats past the end of its
 * operands (flame/blis#635); the library pads its own buffers, and so must
 * buffers a test hands to the GEMM kernels. */
static float *gemm_alloc(size_t n) { return malloc(sizeof(float) * (n + 256)); }

static float *fill(size_t n, pni_rng *r, double lo, double hi) {
  float *v = gemm_alloc((n ? n : 1));
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
  return v;
}

static void check_linear(int64_t n, int64_t in, int64_t out, int32_t threads) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(n * 10000 + in * 100 + out));
  float *x = fill((size_t)(n * in), &r, -1, 1), *w = fill((size_t)(in * out), &r, -1, 1);
  float *b = fill((size_t)out, &r, -1, 1), *dy = fill((size_t)(n * out), &r, -1, 1);
  float *y = gemm_alloc((size_t)(n * out));
  float *dx = gemm_alloc((size_t)(n * in));
  float *dw = gemm_alloc((size_t)(in * out)), *db = gemm_alloc((size_t)out);
  pni_linear_forward(threads, n, in, out, x, w, b, y);
  pni_linear_backward(threads, n, in, out, x, w, dy, dx, dw, db);
  const double tol = 1e-5 * (double)(in + n + out) + 1e-6;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t o = 0; o < out; o++) {
      double s = b[o];
      for (int64_t k = 0; k < in; k++) s += (double)x[i * in + k] * w[k * out + o];
      EXPECT(fabs(y[i * out + o] - s) <= tol, "y n=%ld in=%ld out=%ld", (long)n, (long)in,
             (long)out);
    }
    for (int64_t k = 0; k < in; k++) {
      double s = 0.0;
      for (int64_t o = 0; o < out; o++) s += (double)dy[i * out + o] * w[k * out + o];
      EXPECT(fabs(dx[i * in + k] - s) <= tol, "dx n=%ld in=%ld out=%ld", (long)n, (long)in,
             (long)out);
    }
  }
  for (int64_t k = 0; k < in; k++) {
    for (int64_t o = 0; o < out; o++) {
      double s = 0.0;
      for (int64_t i = 0; i < n; i++) s += (double)x[i * in + k] * dy[i * out + o];
      EXPECT(fabs(dw[k * out + o] - s) <= tol, "dw n=%ld in=%ld out=%ld", (long)n, (long)in,
             (long)out);
    }
  }
  for (int64_t o = 0; o < out; o++) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += dy[i * out + o];
    EXPECT(fabs(db[o] - s) <= 1e-6 * (double)n, "db n=%ld out=%ld", (long)n, (long)out);
  }
  /* dx may be skipped; the rest is unchanged. */
  float *dw2 = gemm_alloc((size_t)(in * out)),
        *db2 = gemm_alloc((size_t)out);
  pni_linear_backward(threads, n, in, out, x, w, dy, NULL, dw2, db2);
  ck_assert(memcmp(dw, dw2, sizeof(float) * (size_t)(in * out)) == 0);
  ck_assert(memcmp(db, db2, sizeof(float) * (size_t)out) == 0);
  free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db), free(dw2), free(db2);
}

START_TEST(linear_matches_reference) {
  const int64_t batches[] = {1, 5, 64};
  for (size_t a = 0; a < 3; a++) {
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
      for (size_t o = 0; o < sizeof widths / sizeof widths[0]; o++) {
        check_linear(batches[a], widths[i], widths[o], 1);
      }
    }
  }
  check_linear(64, 1280, 10, 2);
  check_linear(300, 33, 1000, 2);
}
END_TEST

/* Mean smoothed cross-entropy and its gradient, in double. */
static double ref_xent(int64_t n, int64_t k, const float *l, const int32_t *labels, double s,
                       double *grad, int64_t *correct) {
  double total = 0.0;
  *correct = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *row = l + i * k;
    int64_t arg = 0;
    double mx = row[0];
    for (int64_t j = 1; j < k; j++) {
      if (row[j] > mx) mx = row[j], arg = j;
    }
    *correct += arg == labels[i];
    double z = 0.0;
    for (int64_t j = 0; j < k; j++) z += exp(row[j] - mx);
    for (int64_t j = 0; j < k; j++) {
      const double logp = row[j] - mx - log(z);
      const double t = (j == labels[i] ? 1.0 - s : 0.0) + s / (double)k;
      total -= t * logp;
      grad[i * k + j] = (exp(logp) - t) / (double)n;
    }
  }
  return total / (double)n;
}

static void check_xent(int64_t n, int64_t k, float s, int32_t threads, double spread) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(n * 1000 + k));
  float *l = fill((size_t)(n * k), &r, -spread, spread);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) labels[i] = (int32_t)pni_rng_below(&r, (uint64_t)k);
  float *g = gemm_alloc((size_t)(n * k));
  double *gref = malloc(sizeof(double) * (size_t)(n * k));
  int64_t correct = -1, cref;
  const double loss = pni_softmax_xent(threads, n, k, l, labels, s, g, &correct);
  const double want = ref_xent(n, k, l, labels, s, gref, &cref);
  ck_assert_msg(fabs(loss - want) <= 1e-9 * (1.0 + fabs(want)), "n=%ld k=%ld: %.12g vs %.12g",
                (long)n, (long)k, loss, want);
  ck_assert_int_eq(correct, cref);
  for (int64_t i = 0; i < n * k; i++) {
    EXPECT(fabs(g[i] - gref[i]) <= 1e-7 / (double)n + 1e-6 * fabs(gref[i]),
           "dlogits n=%ld k=%ld [%ld]: %.9g vs %.9g", (long)n, (long)k, (long)i, (double)g[i],
           gref[i]);
  }
  /* Without a gradient buffer the loss and count are the same. */
  int64_t correct2 = -1;
  ck_assert(pni_softmax_xent(threads, n, k, l, labels, s, NULL, &correct2) == loss);
  ck_assert_int_eq(correct2, correct);
  free(l), free(labels), free(g), free(gref);
}

START_TEST(xent_matches_reference) {
  const int64_t batches[] = {1, 4, 64};
  const int64_t classes[] = {1, 2, 3, 7, 8, 9, 16, 17, 33, 1000};
  for (size_t a = 0; a < 3; a++) {
    for (size_t b = 0; b < sizeof classes / sizeof classes[0]; b++) {
      for (int32_t t = 1; t <= 2; t++) {
        check_xent(batches[a], classes[b], 0.0f, t, 5.0);
        check_xent(batches[a], classes[b], 0.1f, t, 5.0);
      }
    }
  }
  /* Logits far apart: the log-softmax must stay finite. */
  check_xent(8, 10, 0.1f, 1, 200.0);
}
END_TEST

START_TEST(xent_smoothing_by_hand) {
  /* logits [0, ln 3]: p = [1/4, 3/4]; label 1, s = 0.1: target [0.05, 0.95];
   * loss = -(0.05 ln(1/4) + 0.95 ln(3/4)); dlogits = p - target. */
  const float l[2] = {0.0f, (float)log(3.0)};
  const int32_t label = 1;
  float g[2];
  int64_t correct = 0;
  const double loss = pni_softmax_xent(1, 1, 2, l, &label, 0.1f, g, &correct);
  const double lf = l[1]; /* ln 3 rounded to float */
  const double p1 = exp(lf) / (1.0 + exp(lf));
  const double s = 0.1f; /* the smoothing as the kernel receives it */
  const double want = -(s / 2 * log(1.0 - p1) + (1.0 - s / 2) * log(p1));
  ck_assert_double_eq_tol(loss, want, 1e-12);
  ck_assert_double_eq_tol(loss, 0.05 * log(4.0) + 0.95 * log(4.0 / 3.0), 1e-7);
  ck_assert_float_eq_tol(g[0], 0.2f, 1e-7f);
  ck_assert_float_eq_tol(g[1], -0.2f, 1e-7f);
  ck_assert_int_eq(correct, 1);
}
END_TEST

START_TEST(xent_ties_take_lowest_index) {
  const float l[6] = {1.0f, 1.0f, 0.0f, 0.0f, 2.0f, 2.0f};
  const int32_t first[2] = {0, 1}, second[2] = {1, 2};
  int64_t correct = -1;
  pni_softmax_xent(1, 2, 3, l, first, 0.0f, NULL, &correct);
  ck_assert_int_eq(correct, 2); /* row 0 ties -> 0 (hit); row 1 ties -> 1 (hit) */
  pni_softmax_xent(1, 2, 3, l, second, 0.0f, NULL, &correct);
  ck_assert_int_eq(correct, 0); /* the same argmaxes miss labels 1 and 2 */
}
END_TEST

START_TEST(xent_threads_bitwise) {
  const int64_t n = 256, k = 1000;
  pni_rng r;
  pni_rng_seed(&r, 8);
  float *l = fill((size_t)(n * k), &r, -4, 4);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) labels[i] = (int32_t)pni_rng_below(&r, (uint64_t)k);
  float *g1 = gemm_alloc((size_t)(n * k)),
        *g2 = gemm_alloc((size_t)(n * k));
  int64_t c1, c2;
  const double a = pni_softmax_xent(1, n, k, l, labels, 0.1f, g1, &c1);
  for (int32_t t = 1; t <= 3; t++) {
    const double b = pni_softmax_xent(t, n, k, l, labels, 0.1f, g2, &c2);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    ck_assert_int_eq(c1, c2);
    ck_assert(memcmp(g1, g2, sizeof(float) * (size_t)(n * k)) == 0);
  }
  free(l), free(labels), free(g1), free(g2);
}
END_TEST

START_TEST(empty_batch) {
  /* n = 0: the weight and bias gradients are empty sums, the loss is 0. */
  const float x[1] = {0}, w[6] = {1, 2, 3, 4, 5, 6}, dy[1] = {0};
  float dw[6], db[3], y[1] = {7};
  for (int i = 0; i < 6; i++) dw[i] = 9.0f;
  for (int i = 0; i < 3; i++) db[i] = 9.0f;
  pni_linear_forward(1, 0, 2, 3, x, w, db, y);
  ck_assert_float_eq(y[0], 7.0f);
  pni_linear_backward(1, 0, 2, 3, x, w, dy, NULL, dw, db);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(dw[i], 0.0f);
  for (int i = 0; i < 3; i++) ck_assert_float_eq(db[i], 0.0f);
  int64_t correct = 5;
  ck_assert_double_eq(pni_softmax_xent(1, 0, 3, x, NULL, 0.1f, NULL, &correct), 0.0);
  ck_assert_int_eq(correct, 0);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("linear");
  TCase *tc = tcase_create("linear");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, linear_matches_reference);
  tcase_add_test(tc, xent_matches_reference);
  tcase_add_test(tc, xent_smoothing_by_hand);
  tcase_add_test(tc, xent_ties_take_lowest_index);
  tcase_add_test(tc, xent_threads_bitwise);
  tcase_add_test(tc, empty_batch);
  suite_add_tcase(s, tc);
  return s;
}
