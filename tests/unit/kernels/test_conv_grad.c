/* SPDX-License-Identifier: MIT */
/* Finite-difference checks of every convolution backward (dx and dw of the
 * 1x1, full and depthwise kernels). The loss is L = sum(dy * y) with a
 * random dy; its numerical gradient comes from central differences on a
 * float64 reference forward, and the float kernels' analytic gradients
 * must match it to a relative 1e-3. */
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/conv.h"

typedef enum { KIND_1X1, KIND_FULL, KIND_DW } conv_kind;

static const double EPS = 1e-3;
static const double RTOL = 1e-3;

static int64_t x_count(const pni_conv_shape *s) {
  return s->n * s->h * s->w * s->cin;
}
static int64_t y_count(const pni_conv_shape *s) {
  return s->n * s->out_h * s->out_w * s->cout;
}
static int64_t w_count(const pni_conv_shape *s, conv_kind kind) {
  return s->k * s->k * s->cin * (kind == KIND_DW ? 1 : s->cout);
}

/* L = sum(dy * y) with y the float64 convolution of x and w (weights
 * [k][k][cin][cout], or [k][k][c] when depthwise). */
static double loss(const pni_conv_shape *s, conv_kind kind, const double *x, const double *w,
                   const double *dy) {
  const int depthwise = kind == KIND_DW;
  double total = 0.0;
  for (int64_t n = 0; n < s->n; n++) {
    for (int64_t oy = 0; oy < s->out_h; oy++) {
      for (int64_t ox = 0; ox < s->out_w; ox++) {
        for (int64_t co = 0; co < s->cout; co++) {
          double y = 0.0;
          for (int64_t ky = 0; ky < s->k; ky++) {
            const int64_t iy = oy * s->stride - s->pad + ky;
            if (iy < 0 || iy >= s->h) continue;
            for (int64_t kx = 0; kx < s->k; kx++) {
              const int64_t ix = ox * s->stride - s->pad + kx;
              if (ix < 0 || ix >= s->w) continue;
              const double *xp = x + ((n * s->h + iy) * s->w + ix) * s->cin;
              if (depthwise) {
                y += xp[co] * w[(ky * s->k + kx) * s->cin + co];
                continue;
              }
              const double *wp = w + (ky * s->k + kx) * s->cin * s->cout + co;
              for (int64_t ci = 0; ci < s->cin; ci++) y += xp[ci] * wp[ci * s->cout];
            }
          }
          total += dy[((n * s->out_h + oy) * s->out_w + ox) * s->cout + co] * y;
        }
      }
    }
  }
  return total;
}

/* Central difference of the loss in each element of v (x or w). */
static void numerical_gradient(const pni_conv_shape *s, conv_kind kind, double *x, double *w,
                               const double *dy, double *v, int64_t count, double *grad) {
  for (int64_t i = 0; i < count; i++) {
    const double keep = v[i];
    v[i] = keep + EPS;
    const double up = loss(s, kind, x, w, dy);
    v[i] = keep - EPS;
    const double down = loss(s, kind, x, w, dy);
    v[i] = keep;
    grad[i] = (up - down) / (2.0 * EPS);
  }
}

static void expect_gradient(const char *what, const pni_conv_shape *s, const float *analytic,
                            const double *numeric, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    const double err = fabs((double)analytic[i] - numeric[i]);
    /* Check marks every passing ck_assert with a write; only fail here. */
    if (!(err <= RTOL * fmax(fabs(numeric[i]), 1.0))) {
      ck_abort_msg("%s[%ld] (k=%ld stride=%ld c=%ld->%ld): analytic %.9g, numerical %.9g", what,
                   (long)i, (long)s->k, (long)s->stride, (long)s->cin, (long)s->cout,
                   (double)analytic[i], numeric[i]);
    }
  }
}

/* GEMM operands get zeroed room after them: BLIS 0.9.0's small-matrix
 * ("sup") kernels read past the end of B, and of C when beta != 0, by up
 * to a few dozen floats (https://github.com/flame/blis/issues/635), which
 * memcheck reports. */
static void *new_buffer(size_t bytes) {
  void *p = calloc(bytes + 64 * sizeof(double), 1);
  ck_assert_ptr_nonnull(p);
  return p;
}

static void random_pair(int64_t count, pni_rng *r, float **f, double **d) {
  *f = new_buffer(sizeof(float) * (size_t)count);
  *d = malloc(sizeof(double) * (size_t)count);
  ck_assert_ptr_nonnull(*f);
  ck_assert_ptr_nonnull(*d);
  for (int64_t i = 0; i < count; i++) {
    (*f)[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
    (*d)[i] = (*f)[i];
  }
}

static void check_gradients(conv_kind kind, int32_t threads, int64_t n, int64_t h, int64_t w,
                            int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  pni_conv_shape s;
  ck_assert_int_eq(pni_conv_shape_init(&s, n, h, w, cin, cout, k, stride, k / 2), 1);
  const int64_t nx = x_count(&s), ny = y_count(&s), nw = w_count(&s, kind);
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(kind * 1000 + k * 100 + stride * 10 + cin + cout));
  float *xf, *wf, *dyf;
  double *xd, *wd, *dyd;
  random_pair(nx, &r, &xf, &xd);
  random_pair(nw, &r, &wf, &wd);
  random_pair(ny, &r, &dyf, &dyd);
  float *dx = new_buffer(sizeof(float) * (size_t)nx), *dw = new_buffer(sizeof(float) * (size_t)nw);
  double *gx = new_buffer(sizeof(double) * (size_t)nx),
         *gw = new_buffer(sizeof(double) * (size_t)nw);

  const int64_t rows = n * h * w;
  float *col = NULL, *ws = NULL;
  switch (kind) {
    case KIND_1X1:
      ws = new_buffer(sizeof(float) * (size_t)nw); /* room for w^T */
      pni_conv1x1_backward_data(threads, rows, cin, cout, dyf, wf, dx, ws);
      pni_conv1x1_backward_weight(threads, rows, cin, cout, xf, dyf, dw, 0);
      break;
    case KIND_FULL:
      col = new_buffer(sizeof(float) * pni_conv_workspace_floats(&s));
      pni_conv_backward(&s, threads, xf, wf, dyf, dx, dw, col);
      break;
    case KIND_DW:
      ws = new_buffer(sizeof(float) * (pni_dwconv_grad_workspace_floats(&s) + 1));
      pni_dwconv_backward(&s, threads, xf, wf, dyf, dx, dw, ws);
      break;
  }
  numerical_gradient(&s, kind, xd, wd, dyd, xd, nx, gx);
  numerical_gradient(&s, kind, xd, wd, dyd, wd, nw, gw);
  expect_gradient("dx", &s, dx, gx, nx);
  expect_gradient("dw", &s, dw, gw, nw);

  if (kind == KIND_1X1) {
    /* accumulate = 1 adds the gradient to what dw holds. */
    for (int64_t i = 0; i < nw; i++) {
      dw[i] = 0.5f;
      gw[i] += 0.5;
    }
    pni_conv1x1_backward_weight(threads, rows, cin, cout, xf, dyf, dw, 1);
    expect_gradient("dw accumulated", &s, dw, gw, nw);
  }
  free(xf);
  free(wf);
  free(dyf);
  free(xd);
  free(wd);
  free(dyd);
  free(dx);
  free(dw);
  free(gx);
  free(gw);
  free(col);
  free(ws);
}

START_TEST(conv1x1_gradients) {
  check_gradients(KIND_1X1, 1, 2, 3, 5, 5, 9, 1, 1);
  check_gradients(KIND_1X1, 2, 1, 7, 1, 17, 3, 1, 1);
}
END_TEST

START_TEST(full_conv_gradients) {
  check_gradients(KIND_FULL, 1, 2, 5, 6, 1, 4, 3, 1); /* stem, one channel */
  check_gradients(KIND_FULL, 2, 2, 5, 7, 3, 5, 3, 2); /* stem, RGB, stride 2 */
  check_gradients(KIND_FULL, 1, 1, 6, 5, 2, 3, 5, 2);
  check_gradients(KIND_FULL, 2, 1, 3, 4, 4, 3, 1, 1);
}
END_TEST

START_TEST(dwconv_gradients) {
  for (int64_t k = 3; k <= 7; k += 2) {
    for (int64_t stride = 1; stride <= 2; stride++) {
      check_gradients(KIND_DW, 1, k == 3 ? 2 : 1, 5, 6, 9, 9, k, stride);
    }
  }
  /* Two threads, each with its own slice of dw channels. */
  check_gradients(KIND_DW, 2, 2, 4, 5, 17, 17, 3, 2);
  check_gradients(KIND_DW, 2, 1, 6, 6, 33, 33, 5, 1);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("conv-grad");
  TCase *tc = tcase_create("finite-differences");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, conv1x1_gradients);
  tcase_add_test(tc, full_conv_gradients);
  tcase_add_test(tc, dwconv_gradients);
  suite_add_tcase(s, tc);
  return s;
}
