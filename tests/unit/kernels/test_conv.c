/* SPDX-License-Identifier: MIT */
/* The convolution kernels (1x1, full k x k, depthwise) against a plain
 * float64 reference: channel counts below, at and above the vector width,
 * odd and tiny spatial sizes, stride 1 and 2, k = 3, 5, 7, batch 1 and 3,
 * one and two threads. Outputs start as garbage so that "overwritten" is
 * checked too, and repeated calls must give the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/conv.h"
#include "kernels/norm.h"

/* --- helpers ------------------------------------------------------------- */

static float *new_floats(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  ck_assert_ptr_nonnull(p);
  return p;
}

/* For the operands of pni_sgemm: BLIS 0.9.0's small-matrix ("sup")
 * kernels read past the end of B, and of C when beta != 0, by up to a few
 * dozen floats when rows are short (https://github.com/flame/blis/issues/635).
 * Harmless here, but memcheck reports it, so GEMM operands get zeroed room
 * after them. The depthwise kernels keep exact sizes. */
enum { GEMM_SLACK_FLOATS = 64 };

static float *new_gemm_floats(int64_t n) {
  float *p = calloc((size_t)(n + GEMM_SLACK_FLOATS), sizeof(float));
  ck_assert_ptr_nonnull(p);
  return p;
}

static double *new_doubles(int64_t n) {
  double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
  ck_assert_ptr_nonnull(p);
  return p;
}

static void fill(float *x, int64_t n, pni_rng *r) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
}

/* A value no kernel produces from inputs in [-1, 1]: left behind, it fails. */
static void poison(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = 1e30f;
}

/* |got - want| within float rounding of a sum whose terms have absolute
 * sum `scale`. */
static void expect_close(const char *what, const float *got, const double *want,
                         const double *scale, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double tol = 1e-5 * scale[i] + 1e-7;
    /* Check marks every passing ck_assert with a write; only fail here. */
    if (!(fabs((double)got[i] - want[i]) <= tol)) {
      ck_abort_msg("%s[%ld]: %.9g vs %.9g (tol %g)", what, (long)i, (double)got[i], want[i], tol);
    }
  }
}

static void expect_same_bits(const char *what, const float *a, const float *b, int64_t n) {
  ck_assert_msg(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "%s differs between calls", what);
}

/* --- float64 references -------------------------------------------------- */

/* Weight of tap (ky, kx) from input channel ci to output channel co:
 * [k][k][cin][cout] for a full convolution, [k][k][c] (ci == co) for a
 * depthwise one. */
static int64_t widx(const pni_conv_shape *s, int depthwise, int64_t ky, int64_t kx, int64_t ci,
                    int64_t co) {
  return depthwise ? (ky * s->k + kx) * s->cin + ci
                   : ((ky * s->k + kx) * s->cin + ci) * s->cout + co;
}

/* Calls f(ctx, x index, w index, y index) for every product of the
 * convolution, in a plain loop order. */
typedef void (*term_fn)(void *ctx, int64_t xi, int64_t wi, int64_t yi);

static void for_each_term(const pni_conv_shape *s, int depthwise, term_fn f, void *ctx) {
  for (int64_t n = 0; n < s->n; n++) {
    for (int64_t oy = 0; oy < s->out_h; oy++) {
      for (int64_t ox = 0; ox < s->out_w; ox++) {
        for (int64_t ky = 0; ky < s->k; ky++) {
          const int64_t iy = oy * s->stride - s->pad + ky;
          if (iy < 0 || iy >= s->h) continue;
          for (int64_t kx = 0; kx < s->k; kx++) {
            const int64_t ix = ox * s->stride - s->pad + kx;
            if (ix < 0 || ix >= s->w) continue;
            for (int64_t co = 0; co < s->cout; co++) {
              const int64_t yi = ((n * s->out_h + oy) * s->out_w + ox) * s->cout + co;
              const int64_t c_lo = depthwise ? co : 0, c_hi = depthwise ? co + 1 : s->cin;
              for (int64_t ci = c_lo; ci < c_hi; ci++) {
                const int64_t xi = ((n * s->h + iy) * s->w + ix) * s->cin + ci;
                f(ctx, xi, widx(s, depthwise, ky, kx, ci, co), yi);
              }
            }
          }
        }
      }
    }
  }
}

typedef struct ref_ctx {
  const float *x, *w, *dy;
  double *y, *y_abs, *dx, *dx_abs, *dw, *dw_abs;
} ref_ctx;

static void forward_term(void *p, int64_t xi, int64_t wi, int64_t yi) {
  ref_ctx *c = p;
  const double t = (double)c->x[xi] * c->w[wi];
  c->y[yi] += t;
  c->y_abs[yi] += fabs(t);
}

static void backward_term(void *p, int64_t xi, int64_t wi, int64_t yi) {
  ref_ctx *c = p;
  const double tx = (double)c->w[wi] * c->dy[yi], tw = (double)c->x[xi] * c->dy[yi];
  c->dx[xi] += tx;
  c->dx_abs[xi] += fabs(tx);
  c->dw[wi] += tw;
  c->dw_abs[wi] += fabs(tw);
}

/* The float64 forward and backward of one convolution, with the absolute
 * sums that bound the rounding error of each output. */
static ref_ctx reference(const pni_conv_shape *s, int depthwise, const float *x, const float *w,
                         const float *dy, int64_t nx, int64_t ny, int64_t nw) {
  ref_ctx ref = {.x = x, .w = w, .dy = dy};
  ref.y = new_doubles(ny);
  ref.y_abs = new_doubles(ny);
  ref.dx = new_doubles(nx);
  ref.dx_abs = new_doubles(nx);
  ref.dw = new_doubles(nw);
  ref.dw_abs = new_doubles(nw);
  for_each_term(s, depthwise, forward_term, &ref);
  for_each_term(s, depthwise, backward_term, &ref);
  return ref;
}

static void free_reference(ref_ctx *ref) {
  free(ref->y);
  free(ref->y_abs);
  free(ref->dx);
  free(ref->dx_abs);
  free(ref->dw);
  free(ref->dw_abs);
}

/* --- one case of each kernel --------------------------------------------- */

static int64_t x_count(const pni_conv_shape *s) {
  return s->n * s->h * s->w * s->cin;
}
static int64_t y_count(const pni_conv_shape *s) {
  return s->n * s->out_h * s->out_w * s->cout;
}
static int64_t w_count(const pni_conv_shape *s, int depthwise) {
  return s->k * s->k * s->cin * (depthwise ? 1 : s->cout);
}

typedef enum { KIND_FULL, KIND_DW } conv_kind;

typedef struct outputs {
  float *y, *dx, *dw_no_dx, *dw;
} outputs;

/* Runs forward, backward with dx and backward without dx. */
static void run_kernel(conv_kind kind, const pni_conv_shape *s, int32_t threads, const float *x,
                       const float *w, const float *dy, float *col, outputs *o) {
  const int depthwise = kind == KIND_DW;
  poison(o->y, y_count(s));
  poison(o->dx, x_count(s));
  poison(o->dw, w_count(s, depthwise));
  poison(o->dw_no_dx, w_count(s, depthwise));
  if (kind == KIND_DW) {
    float *ws = new_floats((int64_t)pni_dwconv_grad_workspace_floats(s) + 1);
    pni_dwconv_forward(s, threads, x, w, o->y);
    pni_dwconv_backward(s, threads, x, w, dy, o->dx, o->dw, ws);
    pni_dwconv_backward(s, threads, x, w, dy, NULL, o->dw_no_dx, ws);
    free(ws);
  } else {
    pni_conv_forward(s, threads, x, w, o->y, col);
    pni_conv_backward(s, threads, x, w, dy, o->dx, o->dw, col);
    pni_conv_backward(s, threads, x, w, dy, NULL, o->dw_no_dx, col);
  }
}

static outputs new_outputs(const pni_conv_shape *s, int depthwise) {
  float *(*alloc)(int64_t) = depthwise ? new_floats : new_gemm_floats;
  return (outputs){alloc(y_count(s)), alloc(x_count(s)), alloc(w_count(s, depthwise)),
                   alloc(w_count(s, depthwise))};
}

static void free_outputs(outputs *o) {
  free(o->y);
  free(o->dx);
  free(o->dw_no_dx);
  free(o->dw);
}

static void expect_same_outputs(const pni_conv_shape *s, int depthwise, const outputs *a,
                                const outputs *b) {
  expect_same_bits("y", a->y, b->y, y_count(s));
  expect_same_bits("dx", a->dx, b->dx, x_count(s));
  expect_same_bits("dw", a->dw, b->dw, w_count(s, depthwise));
}

/* pni_dwconv_backward_rebuilt and pni_dwconv_forward_rebuilt, fed the BN
 * source of x (z = x here, random scale and shift, half of the values
 * clipped by ReLU6), give the bits of pni_dwconv_backward and
 * pni_dwconv_forward on the rebuilt x, with and without dx. */
static void check_dw_rebuilt(const pni_conv_shape *s, int32_t threads, const float *z,
                             const float *w, const float *dy, pni_rng *r) {
  const int64_t c = s->cin, nx = x_count(s), nw = w_count(s, 1);
  float *gamma = new_floats(c), *beta = new_floats(c), *mean = new_floats(c);
  float *invstd = new_floats(c);
  fill(gamma, c, r);
  fill(beta, c, r);
  fill(mean, c, r);
  for (int64_t j = 0; j < c; j++) invstd[j] = 4.0f + 2.0f * beta[j];
  const pni_bn_source src = {z, gamma, beta, mean, invstd, c, 1};
  float *x = new_floats(nx);
  pni_bn_rebuild_rows(&src, 0, s->n * s->h * s->w, x);
  float *ws = new_floats((int64_t)pni_dwconv_grad_workspace_floats(s) + 1);
  float *dx_a = new_floats(nx), *dx_b = new_floats(nx), *dw_a = new_floats(nw);
  float *dw_b = new_floats(nw);
  pni_dwconv_backward(s, threads, x, w, dy, dx_a, dw_a, ws);
  poison(dx_b, nx);
  poison(dw_b, nw);
  pni_dwconv_backward_rebuilt(s, threads, &src, w, dy, dx_b, dw_b, ws);
  expect_same_bits("rebuilt dx", dx_a, dx_b, nx);
  expect_same_bits("rebuilt dw", dw_a, dw_b, nw);
  poison(dw_b, nw);
  pni_dwconv_backward_rebuilt(s, threads, &src, w, dy, NULL, dw_b, ws);
  expect_same_bits("rebuilt dw without dx", dw_a, dw_b, nw);
  /* The forward from the same source: the bits of the forward on the
   * rebuilt x, also with more threads than the workspace has image slots
   * (they are capped). The workspace's last float is a guard. */
  const int64_t ny = y_count(s), nws = (int64_t)pni_dwconv_grad_workspace_floats(s);
  float *y_a = new_floats(ny), *y_b = new_floats(ny);
  pni_dwconv_forward(s, threads, x, w, y_a);
  const int32_t teams[] = {threads, PNI_DW_GRAD_CHUNKS + 3};
  for (int t = 0; t < 2; t++) {
    poison(y_b, ny);
    ws[nws] = 12345.0f;
    pni_dwconv_forward_rebuilt(s, teams[t], &src, w, y_b, ws);
    expect_same_bits("rebuilt forward", y_a, y_b, ny);
    ck_assert_float_eq(ws[nws], 12345.0f);
  }
  free(gamma), free(beta), free(mean), free(invstd), free(x), free(ws);
  free(dx_a), free(dx_b), free(dw_a), free(dw_b), free(y_a), free(y_b);
}

static void check_conv(conv_kind kind, int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout,
                       int64_t k, int64_t stride, int64_t pad) {
  const int depthwise = kind == KIND_DW;
  pni_conv_shape s;
  ck_assert_int_eq(pni_conv_shape_init(&s, n, h, w, cin, cout, k, stride, pad), 1);
  const int64_t nx = x_count(&s), ny = y_count(&s), nw = w_count(&s, depthwise);
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(((n * 31 + h) * 31 + w) * 31 + cin * 7 + cout * 5 + k * 3 + stride));
  float *(*alloc)(int64_t) = depthwise ? new_floats : new_gemm_floats;
  float *x = alloc(nx), *wt = alloc(nw), *dy = alloc(ny);
  fill(x, nx, &r);
  fill(wt, nw, &r);
  fill(dy, ny, &r);
  float *col = depthwise ? NULL : new_gemm_floats((int64_t)pni_conv_workspace_floats(&s));

  ref_ctx ref = reference(&s, depthwise, x, wt, dy, nx, ny, nw);

  outputs first[2];
  for (int32_t threads = 1; threads <= 2; threads++) {
    outputs *o = &first[threads - 1];
    *o = new_outputs(&s, depthwise);
    run_kernel(kind, &s, threads, x, wt, dy, col, o);
    expect_close("y", o->y, ref.y, ref.y_abs, ny);
    expect_close("dx", o->dx, ref.dx, ref.dx_abs, nx);
    expect_close("dw", o->dw, ref.dw, ref.dw_abs, nw);
    expect_same_bits("dw without dx", o->dw, o->dw_no_dx, nw);
    if (depthwise) check_dw_rebuilt(&s, threads, x, wt, dy, &r);
    outputs again = new_outputs(&s, depthwise);
    run_kernel(kind, &s, threads, x, wt, dy, col, &again);
    expect_same_outputs(&s, depthwise, o, &again);
    free_outputs(&again);
  }
  /* Stronger than the contract (same thread count, same bits): the
   * depthwise kernels fix every sum's order independently of the threads. */
  if (depthwise) expect_same_outputs(&s, depthwise, &first[0], &first[1]);
  free_outputs(&first[0]);
  free_outputs(&first[1]);
  free_reference(&ref);
  free(x);
  free(wt);
  free(dy);
  free(col);
}

/* --- shapes -------------------------------------------------------------- */

static const int64_t channels[] = {1, 3, 7, 8, 9, 16, 17, 33};
static const int64_t spatial[][2] = {{5, 7}, {1, 1}, {2, 2}, {12, 13}};
#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

START_TEST(shape_init_computes_and_rejects) {
  pni_conv_shape s;
  ck_assert_int_eq(pni_conv_shape_init(&s, 64, 28, 28, 1, 24, 3, 2, 1), 1);
  ck_assert_int_eq(s.out_h, 14);
  ck_assert_int_eq(s.out_w, 14);
  ck_assert_int_eq(pni_conv_shape_init(&s, 3, 5, 7, 9, 9, 7, 2, 3), 1);
  ck_assert_int_eq(s.out_h, 3);
  ck_assert_int_eq(s.out_w, 4);
  ck_assert_int_eq(s.n, 3);
  ck_assert_int_eq(s.cin, 9);
  ck_assert_int_eq(pni_conv_shape_init(&s, 1, 1, 1, 4, 4, 3, 1, 1), 1);
  ck_assert_int_eq(s.out_h, 1);
  const pni_conv_shape before = s;
  const int64_t bad[][8] = {
      {0, 5, 5, 1, 1, 3, 1, 1},
      {1, 0, 5, 1, 1, 3, 1, 1},
      {1, 5, 5, 0, 1, 3, 1, 1},
      {1, 5, 5, 1, 0, 3, 1, 1},
      {1, 5, 5, 1, 1, 0, 1, 1},
      {1, 5, 5, 1, 1, 3, 0, 1},
      {1, 5, 5, 1, 1, 3, 1, -1},
      {1, 1, 5, 1, 1, 3, 1, 0},
      {1, 5, 2, 1, 1, 5, 1, 1},
      {-4, 5, 5, 1, 1, 3, 1, 1},
      {1, 5, 5, 1, 1, 3, 1, INT64_MAX},
      {INT64_MAX, INT64_MAX, 5, 1, 1, 3, 1, 1},
      {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1, 1, 1, 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const int64_t *b = bad[i];
    ck_assert_msg(pni_conv_shape_init(&s, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]) == 0,
                  "bad shape %zu accepted", i);
    ck_assert_msg(memcmp(&s, &before, sizeof s) == 0, "bad shape %zu changed the struct", i);
  }
}
END_TEST

START_TEST(workspace_covers_smaller_batches) {
  pni_conv_shape big, small;
  ck_assert_int_eq(pni_conv_shape_init(&big, 64, 28, 28, 3, 24, 3, 1, 1), 1);
  ck_assert_int_eq(pni_conv_shape_init(&small, 5, 28, 28, 3, 24, 3, 1, 1), 1);
  /* Small enough to be one chunk: one GEMM over the whole batch. */
  ck_assert_uint_eq(pni_conv_workspace_floats(&big), (size_t)(64 * 28 * 28 * 27));
  ck_assert_uint_le(pni_conv_workspace_floats(&small), pni_conv_workspace_floats(&big));
  ck_assert_int_eq(pni_conv_shape_init(&big, 64, 224, 224, 3, 32, 3, 2, 1), 1);
  ck_assert_uint_lt(pni_conv_workspace_floats(&big), (size_t)(64 * 112 * 112 * 27));
  ck_assert_uint_ge(pni_conv_workspace_floats(&big), (size_t)(112 * 112 * 27));
}
END_TEST

START_TEST(conv1x1_matches_reference) {
  const int64_t rows_list[] = {1, 7, 3 * 5 * 7};
  for (int64_t ri = 0; ri < COUNT(rows_list); ri++) {
    for (int64_t a = 0; a < COUNT(channels); a++) {
      for (int64_t b = 0; b < COUNT(channels); b += 3) {
        const int64_t rows = rows_list[ri], cin = channels[a], cout = channels[b];
        pni_conv_shape s;
        ck_assert_int_eq(pni_conv_shape_init(&s, 1, rows, 1, cin, cout, 1, 1, 0), 1);
        pni_rng r;
        pni_rng_seed(&r, (uint64_t)(rows * 1000 + cin * 50 + cout));
        float *x = new_gemm_floats(rows * cin), *w = new_gemm_floats(cin * cout);
        float *dy = new_gemm_floats(rows * cout), *y = new_gemm_floats(rows * cout);
        float *dx = new_gemm_floats(rows * cin), *dw = new_gemm_floats(cin * cout);
        float *wt = new_gemm_floats(cin * cout);
        fill(x, rows * cin, &r);
        fill(w, cin * cout, &r);
        fill(dy, rows * cout, &r);
        ref_ctx ref = reference(&s, 0, x, w, dy, rows * cin, rows * cout, cin * cout);
        for (int32_t threads = 1; threads <= 2; threads++) {
          poison(y, rows * cout);
          poison(dx, rows * cin);
          poison(dw, cin * cout);
          pni_conv1x1_forward(threads, rows, cin, cout, x, w, y);
          poison(wt, cin * cout);
          pni_conv1x1_backward_data(threads, rows, cin, cout, dy, w, dx, wt);
          pni_conv1x1_backward_weight(threads, rows, cin, cout, x, dy, dw, 0);
          expect_close("y", y, ref.y, ref.y_abs, rows * cout);
          expect_close("dx", dx, ref.dx, ref.dx_abs, rows * cin);
          expect_close("dw", dw, ref.dw, ref.dw_abs, cin * cout);
          /* accumulate: dw + x^T dy again is twice the reference. */
          pni_conv1x1_backward_weight(threads, rows, cin, cout, x, dy, dw, 1);
          for (int64_t i = 0; i < cin * cout; i++) {
            ref.dw[i] *= 2.0;
            ref.dw_abs[i] *= 2.0;
          }
          expect_close("dw accumulated", dw, ref.dw, ref.dw_abs, cin * cout);
          for (int64_t i = 0; i < cin * cout; i++) {
            ref.dw[i] /= 2.0;
            ref.dw_abs[i] /= 2.0;
          }
        }
        free_reference(&ref);
        free(x);
        free(w);
        free(dy);
        free(y);
        free(dx);
        free(dw);
        free(wt);
      }
    }
  }
}
END_TEST

START_TEST(conv1x1_repeats_bitwise) {
  const int64_t rows = 3 * 14 * 14, cin = 33, cout = 17;
  pni_rng r;
  pni_rng_seed(&r, 11);
  float *x = new_gemm_floats(rows * cin), *w = new_gemm_floats(cin * cout);
  float *dy = new_gemm_floats(rows * cout), *wt = new_gemm_floats(cin * cout), *out[2][3];
  fill(x, rows * cin, &r);
  fill(w, cin * cout, &r);
  fill(dy, rows * cout, &r);
  for (int32_t threads = 1; threads <= 2; threads++) {
    for (int rep = 0; rep < 2; rep++) {
      out[rep][0] = new_gemm_floats(rows * cout);
      out[rep][1] = new_gemm_floats(rows * cin);
      out[rep][2] = new_gemm_floats(cin * cout);
      pni_conv1x1_forward(threads, rows, cin, cout, x, w, out[rep][0]);
      pni_conv1x1_backward_data(threads, rows, cin, cout, dy, w, out[rep][1], wt);
      pni_conv1x1_backward_weight(threads, rows, cin, cout, x, dy, out[rep][2], 0);
    }
    expect_same_bits("y", out[0][0], out[1][0], rows * cout);
    expect_same_bits("dx", out[0][1], out[1][1], rows * cin);
    expect_same_bits("dw", out[0][2], out[1][2], cin * cout);
    for (int rep = 0; rep < 2; rep++) {
      for (int i = 0; i < 3; i++) free(out[rep][i]);
    }
  }
  free(x);
  free(w);
  free(dy);
  free(wt);
}
END_TEST

START_TEST(stem_matches_reference) {
  const int64_t cins[] = {1, 3}, couts[] = {1, 8, 17};
  for (int64_t a = 0; a < COUNT(cins); a++) {
    for (int64_t b = 0; b < COUNT(couts); b++) {
      for (int64_t stride = 1; stride <= 2; stride++) {
        check_conv(KIND_FULL, 3, 28, 28, cins[a], couts[b], 3, stride, 1);
        check_conv(KIND_FULL, 1, 5, 7, cins[a], couts[b], 3, stride, 1);
      }
    }
  }
}
END_TEST

START_TEST(full_conv_odd_shapes) {
  for (int64_t si = 0; si < COUNT(spatial); si++) {
    for (int64_t k = 1; k <= 5; k += 2) {
      for (int64_t stride = 1; stride <= 2; stride++) {
        for (int64_t n = 1; n <= 3; n += 2) {
          check_conv(KIND_FULL, n, spatial[si][0], spatial[si][1], 3, 9, k, stride, k / 2);
        }
      }
    }
  }
  /* No padding, a padding wider than the kernel's reach, many channels. */
  check_conv(KIND_FULL, 2, 6, 5, 4, 3, 3, 1, 0);
  check_conv(KIND_FULL, 2, 6, 5, 4, 3, 3, 2, 0);
  check_conv(KIND_FULL, 1, 4, 3, 2, 5, 3, 1, 3);
  check_conv(KIND_FULL, 2, 5, 7, 33, 17, 3, 2, 1);
}
END_TEST

START_TEST(full_conv_in_several_chunks) {
  /* 64*64 pixels * 7*7*3 columns per image: the 16 MB column cap holds
   * six images, so seven images take two chunks. */
  pni_conv_shape s;
  ck_assert_int_eq(pni_conv_shape_init(&s, 7, 64, 64, 3, 2, 7, 1, 3), 1);
  ck_assert_uint_lt(pni_conv_workspace_floats(&s), (size_t)(7 * 64 * 64 * 147));
  check_conv(KIND_FULL, 7, 64, 64, 3, 2, 7, 1, 3);
}
END_TEST

/* One k per test so that each stays well within the time limit. */
static void check_dwconv_k(int64_t k) {
  for (int64_t ci = 0; ci < COUNT(channels); ci++) {
    for (int64_t si = 0; si < COUNT(spatial); si++) {
      for (int64_t stride = 1; stride <= 2; stride++) {
        for (int64_t n = 1; n <= 3; n += 2) {
          const int64_t c = channels[ci];
          check_conv(KIND_DW, n, spatial[si][0], spatial[si][1], c, c, k, stride, k / 2);
        }
      }
    }
  }
}

START_TEST(dwconv_k3) {
  check_dwconv_k(3);
}
END_TEST

START_TEST(dwconv_k5) {
  check_dwconv_k(5);
}
END_TEST

START_TEST(dwconv_k7) {
  check_dwconv_k(7);
}
END_TEST

START_TEST(dwconv_network_shapes) {
  /* Shapes of the Fashion-MNIST space at a small batch: wide channel
   * counts split across threads into 16-channel slices, 7x7 maps where
   * k = 7 leaves almost no interior. */
  check_conv(KIND_DW, 2, 14, 14, 144, 144, 3, 1, 1);
  check_conv(KIND_DW, 2, 14, 14, 72, 72, 5, 2, 2);
  check_conv(KIND_DW, 1, 7, 7, 120, 120, 7, 1, 3);
  check_conv(KIND_DW, 1, 28, 28, 24, 24, 3, 2, 1);
  /* Many taps and channels: row edges take the masked blocks. */
  check_conv(KIND_DW, 1, 7, 7, 259, 259, 7, 1, 3);
  check_conv(KIND_DW, 2, 5, 6, 264, 264, 5, 2, 2);
  check_conv(KIND_DW, 1, 9, 11, 256, 256, 7, 2, 3);
}
END_TEST

/* The depthwise kernels promise more than closeness: every forward and dx
 * output is the float sum, from zero, of its products in tap order (ky,
 * then kx, ascending; padding skipped), and every dw the sum in the fixed
 * order described below, whichever code path computes it (row tiles,
 * interior blocks, edge paths, 8- or 16-lane vectors, channel tails).
 * Float references in those orders must match bit for bit. */
static void check_dw_tap_order(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k,
                               int64_t stride) {
  pni_conv_shape s;
  ck_assert_int_eq(pni_conv_shape_init(&s, n, h, w, c, c, k, stride, k / 2), 1);
  const int64_t nx = x_count(&s), ny = y_count(&s), nw = w_count(&s, 1);
  pni_rng r;
  pni_rng_seed(&r, (uint64_t)(h * 1000 + w * 100 + c * 10 + k + stride));
  float *x = new_floats(nx), *wt = new_floats(nw), *dy = new_floats(ny);
  float *y = new_floats(ny), *dx = new_floats(nx), *dw = new_floats(nw);
  float *want = new_floats(nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw));
  float *ws = new_floats((int64_t)pni_dwconv_grad_workspace_floats(&s) + 1);
  fill(x, nx, &r);
  fill(wt, nw, &r);
  fill(dy, ny, &r);
  for (int32_t threads = 1; threads <= 2; threads++) {
    poison(y, ny);
    poison(dx, nx);
    pni_dwconv_forward(&s, threads, x, wt, y);
    poison(dw, nw);
    pni_dwconv_backward(&s, threads, x, wt, dy, dx, dw, ws);
    for (int64_t i = 0; i < ny; i++) {
      const int64_t ch = i % c, ox = i / c % s.out_w, oy = i / c / s.out_w % s.out_h;
      const int64_t b = i / c / s.out_w / s.out_h;
      float a = 0.0f;
      for (int64_t ky = 0; ky < k; ky++) {
        const int64_t iy = oy * stride - s.pad + ky;
        for (int64_t kx = 0; kx < k && iy >= 0 && iy < h; kx++) {
          const int64_t ix = ox * stride - s.pad + kx;
          if (ix >= 0 && ix < w)
            a += x[((b * h + iy) * w + ix) * c + ch] * wt[(ky * k + kx) * c + ch];
        }
      }
      want[i] = a;
    }
    ck_assert_msg(memcmp(y, want, sizeof(float) * (size_t)ny) == 0,
                  "y of %ldx%ld c=%ld k=%ld s=%ld is not the tap-order sum", (long)h, (long)w,
                  (long)c, (long)k, (long)stride);
    for (int64_t i = 0; i < nx; i++) {
      const int64_t ch = i % c, ix = i / c % w, iy = i / c / w % h, b = i / c / w / h;
      float a = 0.0f;
      for (int64_t ky = 0; ky < k; ky++) {
        const int64_t ty = iy + s.pad - ky;
        if (ty < 0 || ty % stride != 0 || ty / stride >= s.out_h) continue;
        for (int64_t kx = 0; kx < k; kx++) {
          const int64_t tx = ix + s.pad - kx;
          if (tx < 0 || tx % stride != 0 || tx / stride >= s.out_w) continue;
          a += dy[((b * s.out_h + ty / stride) * s.out_w + tx / stride) * c + ch] *
               wt[(ky * k + kx) * c + ch];
        }
      }
      want[i] = a;
    }
    ck_assert_msg(memcmp(dx, want, sizeof(float) * (size_t)nx) == 0,
                  "dx of %ldx%ld c=%ld k=%ld s=%ld is not the tap-order sum", (long)h, (long)w,
                  (long)c, (long)k, (long)stride);
    /* dw: per fixed batch slice, per image and output row, the row's sum
     * over ox ascending added to the slice's; the slices added in order. */
    for (int64_t i = 0; i < nw; i++) {
      const int64_t ch = i % c, kx = i / c % k, ky = i / c / k;
      float total = 0.0f;
      for (int64_t slice = 0; slice < PNI_DW_GRAD_CHUNKS; slice++) {
        float part = 0.0f;
        for (int64_t b = n * slice / PNI_DW_GRAD_CHUNKS; b < n * (slice + 1) / PNI_DW_GRAD_CHUNKS;
             b++) {
          for (int64_t oy = 0; oy < s.out_h; oy++) {
            const int64_t iy = oy * stride - s.pad + ky;
            if (iy < 0 || iy >= h) continue;
            float row = 0.0f;
            for (int64_t ox = 0; ox < s.out_w; ox++) {
              const int64_t ix = ox * stride - s.pad + kx;
              if (ix >= 0 && ix < w)
                row += x[((b * h + iy) * w + ix) * c + ch] *
                       dy[((b * s.out_h + oy) * s.out_w + ox) * c + ch];
            }
            part += row;
          }
        }
        total = slice == 0 ? part : total + part;
      }
      want[i] = total;
    }
    ck_assert_msg(memcmp(dw, want, sizeof(float) * (size_t)nw) == 0,
                  "dw of %ldx%ld c=%ld k=%ld s=%ld is not the sum in its fixed order", (long)h,
                  (long)w, (long)c, (long)k, (long)stride);
  }
  free(x);
  free(wt);
  free(dy);
  free(y);
  free(dx);
  free(dw);
  free(want);
  free(ws);
}

START_TEST(dwconv_sums_in_tap_order) {
  /* Widths below, at and above the row tile (7 outputs), a tile and a
   * bit; channels with and without a vector tail; 7x7 maps with wide
   * channels (the masked edge blocks at stride 2); maps narrower than k,
   * where taps that reach no output are dropped. */
  static const int64_t widths[] = {2, 5, 7, 9, 14, 16};
  static const int64_t chans[] = {5, 16, 21, 40};
  /* Both with and without the 512-bit paths (the same where the processor
   * has no AVX-512). */
  for (int allow = 1; allow >= 0; allow--) {
    const int before = pni_dwconv_allow_avx512(allow);
    for (int64_t k = 3; k <= 7; k += 2) {
      for (int64_t stride = 1; stride <= 2; stride++) {
        for (int64_t wi = 0; wi < COUNT(widths); wi++) {
          for (int64_t ci = 0; ci < COUNT(chans); ci++)
            check_dw_tap_order(3, 4, widths[wi], chans[ci], k, stride);
        }
        check_dw_tap_order(1, 7, 7, 264, k, stride);
        check_dw_tap_order(1, 14, 14, 48, k, stride);
      }
    }
    pni_dwconv_allow_avx512(before);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("conv");
  TCase *tc = tcase_create("conv");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, shape_init_computes_and_rejects);
  tcase_add_test(tc, workspace_covers_smaller_batches);
  tcase_add_test(tc, conv1x1_matches_reference);
  tcase_add_test(tc, conv1x1_repeats_bitwise);
  tcase_add_test(tc, stem_matches_reference);
  tcase_add_test(tc, full_conv_odd_shapes);
  tcase_add_test(tc, full_conv_in_several_chunks);
  suite_add_tcase(s, tc);
  TCase *dw = tcase_create("dwconv");
  tcase_set_timeout(dw, 120);
  tcase_add_test(dw, dwconv_k3);
  tcase_add_test(dw, dwconv_k5);
  tcase_add_test(dw, dwconv_k7);
  tcase_add_test(dw, dwconv_network_shapes);
  tcase_add_test(dw, dwconv_sums_in_tap_order);
  suite_add_tcase(s, dw);
  return s;
}
