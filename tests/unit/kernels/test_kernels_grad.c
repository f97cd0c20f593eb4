/* SPDX-License-Identifier: MIT */
/* Finite-difference checks of every backward kernel in this folder's
 * norm/elementwise/linear families. Each op has a float64 reference
 * forward; the scalar L = sum(r * y) (r random and fixed) is differentiated
 * by central differences in float64 and compared with the float kernel's
 * gradient, relative to the gradient's largest entry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/norm.h"

#define FD_STEP 1e-5
#define FD_TOL 1e-3

static void fill(float *v, size_t n, pni_rng *r, double lo, double hi) {
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
}

/* Compares a kernel gradient with a numerical one: max |a - b| must be
 * within FD_TOL of max |b|. */
static void assert_grad(const char *what, size_t n, const float *got, const double *num) {
  double scale = 1e-12, err = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(num[i]));
  for (size_t i = 0; i < n; i++) {
    const double e = fabs((double)got[i] - num[i]);
    if (e > err) err = e, worst = i;
  }
  ck_assert_msg(err <= FD_TOL * scale, "%s: [%zu] kernel %.9g, numerical %.9g (scale %.3g)", what,
                worst, (double)got[worst], num[worst], scale);
}

/* ---- batch norm (training mode) ---- */

typedef struct {
  int64_t rows, c;
  double *x, *gamma, *beta, *r;
  double eps;
  int relu6; /* L = sum(r * ReLU6(y)): the fused training kernels */
} bn_problem;

static double bn_loss(const bn_problem *p) {
  double loss = 0.0;
  for (int64_t j = 0; j < p->c; j++) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < p->rows; i++) mean += p->x[i * p->c + j];
    mean /= (double)p->rows;
    for (int64_t i = 0; i < p->rows; i++) {
      const double d = p->x[i * p->c + j] - mean;
      var += d * d;
    }
    var /= (double)p->rows;
    const double invstd = 1.0 / sqrt(var + p->eps);
    for (int64_t i = 0; i < p->rows; i++) {
      double y = (p->x[i * p->c + j] - mean) * invstd * p->gamma[j] + p->beta[j];
      if (p->relu6) y = y < 0.0 ? 0.0 : (y > 6.0 ? 6.0 : y);
      loss += p->r[i * p->c + j] * y;
    }
  }
  return loss;
}

/* Central difference of loss with respect to each entry of v. */
static void numerical(double (*loss)(const void *), const void *p, double *v, size_t n,
                      double *out) {
  for (size_t i = 0; i < n; i++) {
    const double keep = v[i];
    v[i] = keep + FD_STEP;
    const double up = loss(p);
    v[i] = keep - FD_STEP;
    const double down = loss(p);
    v[i] = keep;
    out[i] = (up - down) / (2.0 * FD_STEP);
  }
}

static double bn_loss_v(const void *p) {
  return bn_loss(p);
}

static void to_double(const float *f, double *d, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = f[i];
}

/* relu6: the fused BN + ReLU6 kernels, with gamma and beta spread so that
 * outputs fall below 0, inside (0, 6) and above 6. */
static void check_bn(int64_t rows, int64_t c, int32_t threads, int relu6) {
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(rows * 100 + c));
  const size_t n = (size_t)(rows * c), cc = (size_t)c;
  float *x = malloc(sizeof(float) * n), *rr = malloc(sizeof(float) * n);
  float *g = malloc(sizeof(float) * cc), *b = malloc(sizeof(float) * cc);
  fill(x, n, &r, -2.0, 2.0);
  fill(rr, n, &r, -1.0, 1.0);
  fill(g, cc, &r, relu6 ? 1.5 : 0.5, relu6 ? 3.5 : 1.5);
  fill(b, cc, &r, relu6 ? 1.0 : -0.5, relu6 ? 3.0 : 0.5);
  float *rm = calloc(cc, sizeof(float)), *rv = calloc(cc, sizeof(float));
  float *y = malloc(sizeof(float) * n), *sm = malloc(sizeof(float) * cc);
  float *si = malloc(sizeof(float) * cc), *dx = malloc(sizeof(float) * n);
  float *dg = malloc(sizeof(float) * cc), *db = malloc(sizeof(float) * cc);
  if (relu6) {
    pni_bn_relu6_forward_train(threads, rows, c, x, g, b, 1e-3f, 0.1f, rm, rv, y, sm, si);
    pni_bn_relu6_backward(threads, rows, c, x, rr, g, b, sm, si, dx, dg, db);
    int below = 0, inside = 0, above = 0;
    for (size_t i = 0; i < n; i++) {
      below += y[i] == 0.0f;
      above += y[i] == 6.0f;
      inside += y[i] > 0.0f && y[i] < 6.0f;
    }
    ck_assert_msg(rows < 10 || (below > 0 && inside > 0 && above > 0),
                  "rows=%ld c=%ld: outputs below/inside/above = %d/%d/%d", (long)rows, (long)c,
                  below, inside, above);
  } else {
    pni_bn_forward_train(threads, rows, c, x, g, b, 1e-3f, 0.1f, rm, rv, y, sm, si);
    pni_bn_backward(threads, rows, c, x, rr, g, sm, si, dx, dg, db);
  }

  bn_problem p = {rows,
                  c,
                  malloc(sizeof(double) * n),
                  malloc(sizeof(double) * cc),
                  malloc(sizeof(double) * cc),
                  malloc(sizeof(double) * n),
                  (double)1e-3f,
                  relu6};
  to_double(x, p.x, n);
  to_double(g, p.gamma, cc);
  to_double(b, p.beta, cc);
  to_double(rr, p.r, n);
  double *num = malloc(sizeof(double) * n);
  numerical(bn_loss_v, &p, p.x, n, num);
  assert_grad("bn dx", n, dx, num);
  numerical(bn_loss_v, &p, p.gamma, cc, num);
  assert_grad("bn dgamma", cc, dg, num);
  numerical(bn_loss_v, &p, p.beta, cc, num);
  assert_grad("bn dbeta", cc, db, num);
  free(x), free(rr), free(g), free(b), free(rm), free(rv), free(y), free(sm), free(si);
  free(dx), free(dg), free(db), free(p.x), free(p.gamma), free(p.beta), free(p.r), free(num);
}

START_TEST(bn_gradients) {
  const int64_t shapes[][2] = {{2, 3}, {6, 1}, {10, 9}, {16, 17}, {40, 33}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int32_t t = 1; t <= 2; t++) check_bn(shapes[s][0], shapes[s][1], t, 0);
  }
}
END_TEST

START_TEST(bn_relu6_gradients) {
  const int64_t shapes[][2] = {{2, 3}, {10, 9}, {16, 17}, {40, 33}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int32_t t = 1; t <= 2; t++) check_bn(shapes[s][0], shapes[s][1], t, 1);
  }
}
END_TEST

/* ---- ReLU6 ---- */

typedef struct {
  size_t n;
  double *x, *r;
} vec_problem;

static double relu6_loss(const void *pv) {
  const vec_problem *p = pv;
  double loss = 0.0;
  for (size_t i = 0; i < p->n; i++) {
    const double v = p->x[i];
    loss += p->r[i] * (v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v));
  }
  return loss;
}

START_TEST(relu6_gradient) {
  const size_t n = 61;
  pni_rng r;
  pni_rng_seed(&r, 4);
  float x[61], rr[61], y[61], dx[61];
  double xd[61], rd[61], num[61];
  fill(x, n, &r, -3.0, 9.0);
  fill(rr, n, &r, -1.0, 1.0);
  /* Keep every input away from the kinks so the difference quotient sees
   * one side only. */
  for (size_t i = 0; i < n; i++) {
    if (fabsf(x[i]) < 0.01f || fabsf(x[i] - 6.0f) < 0.01f) x[i] += 0.05f;
  }
  pni_relu6_forward(1, (int64_t)n, x, y);
  pni_relu6_backward(1, (int64_t)n, y, rr, dx);
  to_double(x, xd, n);
  to_double(rr, rd, n);
  vec_problem p = {n, xd, rd};
  numerical(relu6_loss, &p, xd, n, num);
  assert_grad("relu6 dx", n, dx, num);
}
END_TEST

/* ---- global average pool ---- */

typedef struct {
  int64_t n, hw, c;
  double *x, *r;
} pool_problem;

static double pool_loss(const void *pv) {
  const pool_problem *p = pv;
  double loss = 0.0;
  for (int64_t i = 0; i < p->n; i++) {
    for (int64_t j = 0; j < p->c; j++) {
      double s = 0.0;
      for (int64_t q = 0; q < p->hw; q++) s += p->x[(i * p->hw + q) * p->c + j];
      loss += p->r[i * p->c + j] * s / (double)p->hw;
    }
  }
  return loss;
}

START_TEST(avgpool_gradient) {
  const int64_t n = 2, hw = 9, c = 5;
  const size_t nx = (size_t)(n * hw * c), ny = (size_t)(n * c);
  pni_rng r;
  pni_rng_seed(&r, 6);
  float x[90], rr[10], dx[90];
  double xd[90], rd[10], num[90];
  fill(x, nx, &r, -1, 1);
  fill(rr, ny, &r, -1, 1);
  pni_avgpool_backward(1, n, hw, c, rr, dx);
  to_double(x, xd, nx);
  to_double(rr, rd, ny);
  pool_problem p = {n, hw, c, xd, rd};
  numerical(pool_loss, &p, xd, nx, num);
  assert_grad("avgpool dx", nx, dx, num);
}
END_TEST

/* ---- linear ---- */

typedef struct {
  int64_t n, in, out;
  double *x, *w, *b, *r;
} linear_problem;

static double linear_loss(const void *pv) {
  const linear_problem *p = pv;
  double loss = 0.0;
  for (int64_t i = 0; i < p->n; i++) {
    for (int64_t o = 0; o < p->out; o++) {
      double y = p->b[o];
      for (int64_t k = 0; k < p->in; k++) y += p->x[i * p->in + k] * p->w[k * p->out + o];
      loss += p->r[i * p->out + o] * y;
    }
  }
  return loss;
}

START_TEST(linear_gradients) {
  enum { N = 3, IN = 7, OUT = 5 };
  pni_rng r;
  pni_rng_seed(&r, 9);
  float x[N * IN], w[IN * OUT], b[OUT], rr[N * OUT], dx[N * IN], dw[IN * OUT], db[OUT];
  double xd[N * IN], wd[IN * OUT], bd[OUT], rd[N * OUT], num[IN * OUT];
  fill(x, N * IN, &r, -1, 1);
  fill(w, IN * OUT, &r, -1, 1);
  fill(b, OUT, &r, -1, 1);
  fill(rr, N * OUT, &r, -1, 1);
  pni_linear_backward(1, N, IN, OUT, x, w, rr, dx, dw, db);
  to_double(x, xd, N * IN);
  to_double(w, wd, IN * OUT);
  to_double(b, bd, OUT);
  to_double(rr, rd, N * OUT);
  linear_problem p = {N, IN, OUT, xd, wd, bd, rd};
  numerical(linear_loss, &p, xd, N * IN, num);
  assert_grad("linear dx", N * IN, dx, num);
  numerical(linear_loss, &p, wd, IN * OUT, num);
  assert_grad("linear dw", IN * OUT, dw, num);
  numerical(linear_loss, &p, bd, OUT, num);
  assert_grad("linear db", OUT, db, num);
}
END_TEST

/* ---- softmax cross-entropy ---- */

typedef struct {
  int64_t n, k;
  double *l;
  const int32_t *labels;
  double s;
} xent_problem;

static double xent_loss(const void *pv) {
  const xent_problem *p = pv;
  double total = 0.0;
  for (int64_t i = 0; i < p->n; i++) {
    const double *row = p->l + i * p->k;
    double mx = row[0], z = 0.0;
    for (int64_t j = 1; j < p->k; j++) mx = fmax(mx, row[j]);
    for (int64_t j = 0; j < p->k; j++) z += exp(row[j] - mx);
    for (int64_t j = 0; j < p->k; j++) {
      const double t = (j == p->labels[i] ? 1.0 - p->s : 0.0) + p->s / (double)p->k;
      total -= t * (row[j] - mx - log(z));
    }
  }
  return total / (double)p->n;
}

START_TEST(xent_gradients) {
  enum { N = 4, K = 6 };
  const int32_t labels[N] = {0, 5, 2, 2};
  const float smoothing[2] = {0.0f, 0.1f};
  pni_rng r;
  pni_rng_seed(&r, 12);
  float l[N * K], g[N * K];
  double ld[N * K], num[N * K];
  fill(l, N * K, &r, -3, 3);
  for (int s = 0; s < 2; s++) {
    int64_t correct;
    pni_softmax_xent(1, N, K, l, labels, smoothing[s], g, &correct);
    to_double(l, ld, N * K);
    xent_problem p = {N, K, ld, labels, (double)smoothing[s]};
    numerical(xent_loss, &p, ld, N * K, num);
    assert_grad(s ? "xent dlogits (s = 0.1)" : "xent dlogits (s = 0)", N * K, g, num);
  }
}
END_TEST

/* ---- dropout with a fixed mask ---- */

typedef struct {
  size_t n;
  double *x, *r;
  const uint8_t *mask;
  double scale;
} dropout_problem;

static double dropout_loss(const void *pv) {
  const dropout_problem *p = pv;
  double loss = 0.0;
  for (size_t i = 0; i < p->n; i++) loss += p->r[i] * (p->mask[i] ? p->x[i] * p->scale : 0.0);
  return loss;
}

START_TEST(dropout_gradient) {
  enum { N = 40 };
  const float prob = 0.3f;
  pni_rng r;
  pni_rng_seed(&r, 13);
  float x[N], y[N], rr[N], dx[N];
  double xd[N], rd[N], num[N];
  uint8_t mask[N];
  fill(x, N, &r, -1, 1);
  fill(rr, N, &r, -1, 1);
  pni_dropout_forward(N, prob, &r, x, y, mask);
  pni_dropout_backward(N, prob, mask, rr, dx);
  to_double(x, xd, N);
  to_double(rr, rd, N);
  dropout_problem p = {N, xd, rd, mask, 1.0 / (1.0 - (double)prob)};
  numerical(dropout_loss, &p, xd, N, num);
  assert_grad("dropout dx", N, dx, num);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("kernels-grad");
  TCase *tc = tcase_create("finite-differences");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, bn_gradients);
  tcase_add_test(tc, bn_relu6_gradients);
  tcase_add_test(tc, relu6_gradient);
  tcase_add_test(tc, avgpool_gradient);
  tcase_add_test(tc, linear_gradients);
  tcase_add_test(tc, xent_gradients);
  tcase_add_test(tc, dropout_gradient);
  suite_add_tcase(s, tc);
  return s;
}
