/* SPDX-License-Identifier: MIT */
/* Full k x k convolution (the stem) as im2col + GEMM, and its backward
 * through the same column matrix. The column matrix has one row per output
 * pixel and one column per (ky, kx, ci), so with weights stored
 * [k][k][cin][cout] the forward is col * w, dw is col^T * dy and the
 * columns of dx are dy * w^T. */
#include "kernels/conv.h"

#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"

/* The column matrix is built for a few whole images at a time, at most
 * this many floats (16 MB) unless one image alone needs more. The
 * Fashion-MNIST stem at batch 64 (64*28*28*27 floats at most) stays one
 * chunk and so one GEMM, while an ImageNet-sized stem does not need a
 * 90 MB workspace. The chunk size depends on the shape only, so results do
 * not depend on the thread count, and it never grows when n shrinks, so a
 * workspace sized for a batch serves every smaller batch. */
#define COL_CAP_FLOATS ((int64_t)1 << 22)

/* Arguments above this are rejected, which keeps h + 2 * pad and the
 * products below from overflowing. */
#define DIM_MAX ((int64_t)INT32_MAX)

static int product_fits(int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t limit = PTRDIFF_MAX / (int64_t)sizeof(float);
  int64_t p;
  return !__builtin_mul_overflow(a, b, &p) && !__builtin_mul_overflow(p, c, &p) &&
         !__builtin_mul_overflow(p, d, &p) && p <= limit;
}

int pni_conv_shape_init(pni_conv_shape *s, int64_t n, int64_t h, int64_t w, int64_t cin,
                        int64_t cout, int64_t k, int64_t stride, int64_t pad) {
  const int64_t dims[] = {n, h, w, cin, cout, k, stride};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    if (dims[i] < 1 || dims[i] > DIM_MAX) return 0;
  }
  if (pad < 0 || pad > DIM_MAX || h + 2 * pad < k || w + 2 * pad < k) return 0;
  const int64_t out_h = (h + 2 * pad - k) / stride + 1;
  const int64_t out_w = (w + 2 * pad - k) / stride + 1;
  /* In this order: once the second check passes, out_h * out_w fits. */
  if (!product_fits(n, h, w, cin) || !product_fits(n, out_h, out_w, cout) ||
      !product_fits(k, k, cin, cout) || !product_fits(out_h * out_w, k, k, cin)) {
    return 0;
  }
  *s = (pni_conv_shape){n, h, w, cin, cout, k, stride, pad, out_h, out_w};
  return 1;
}

/* Below this many floats moved, im2col and col2im run on the calling
 * thread: waking a team would cost more than it saves. Their results do
 * not depend on the team size. */
#define PARALLEL_MIN_FLOATS ((int64_t)1 << 16)

static int32_t team_size(int32_t threads, int64_t floats) {
  return threads > 1 && floats >= PARALLEL_MIN_FLOATS ? threads : 1;
}

static int64_t col_width(const pni_conv_shape *s) {
  return s->k * s->k * s->cin;
}

static int64_t col_floats_per_image(const pni_conv_shape *s) {
  return s->out_h * s->out_w * col_width(s);
}

static int64_t images_per_chunk(const pni_conv_shape *s) {
  const int64_t per_image = col_floats_per_image(s);
  if (per_image < 1) return 0; /* a shape pni_conv_shape_init refused */
  int64_t images = COL_CAP_FLOATS / per_image;
  if (images < 1) images = 1;
  return images < s->n ? images : s->n;
}

size_t pni_conv_workspace_floats(const pni_conv_shape *s) {
  return (size_t)(images_per_chunk(s) * col_floats_per_image(s));
}

/* Rows of col for `images` images starting at x. Within one kernel row ky
 * the in-range taps kx are contiguous both in x and in col, so each is one
 * copy between two runs of zeros. */
static void im2col(const pni_conv_shape *s, int32_t threads, const float *x, int64_t images,
                   float *col) {
  const int64_t k = s->k, cin = s->cin, kc = k * cin, width = k * kc;
  const int64_t out_rows = images * s->out_h;
  const int32_t team = team_size(threads, out_rows * s->out_w * width);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int64_t r = 0; r < out_rows; r++) {
    const int64_t n = r / s->out_h, oy = r % s->out_h;
    for (int64_t ox = 0; ox < s->out_w; ox++) {
      const int64_t ix0 = ox * s->stride - s->pad;
      int64_t lo = ix0 < 0 ? -ix0 : 0, hi = s->w - ix0 < k ? s->w - ix0 : k;
      if (lo > k) lo = k;
      if (hi < lo) hi = lo;
      float *dst = col + (r * s->out_w + ox) * width;
      for (int64_t ky = 0; ky < k; ky++) {
        float *d = dst + ky * kc;
        const int64_t iy = oy * s->stride - s->pad + ky;
        if (iy < 0 || iy >= s->h) {
          memset(d, 0, sizeof(float) * (size_t)kc);
          continue;
        }
        memset(d, 0, sizeof(float) * (size_t)(lo * cin));
        if (hi > lo) {
          const float *src = x + ((n * s->h + iy) * s->w + ix0 + lo) * cin;
          memcpy(d + lo * cin, src, sizeof(float) * (size_t)((hi - lo) * cin));
        }
        memset(d + hi * cin, 0, sizeof(float) * (size_t)((k - hi) * cin));
      }
    }
  }
}

/* dx for `images` images from the column gradients. Gathering per input
 * pixel (rather than scattering per column row) lets threads own disjoint
 * rows of dx and fixes the order of every sum. */
static void col2im(const pni_conv_shape *s, int32_t threads, const float *dcol, int64_t images,
                   float *dx) {
  const int64_t k = s->k, cin = s->cin, stride = s->stride, width = col_width(s);
  const int64_t in_rows = images * s->h;
  const int32_t team = team_size(threads, images * s->out_h * s->out_w * width);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int64_t r = 0; r < in_rows; r++) {
    const int64_t n = r / s->h, iy = r % s->h;
    for (int64_t ix = 0; ix < s->w; ix++) {
      float *d = dx + (r * s->w + ix) * cin;
      memset(d, 0, sizeof(float) * (size_t)cin);
      for (int64_t ky = 0; ky < k; ky++) {
        const int64_t ty = iy + s->pad - ky;
        if (ty < 0 || ty % stride != 0 || ty / stride >= s->out_h) continue;
        const int64_t oy = ty / stride;
        for (int64_t kx = 0; kx < k; kx++) {
          const int64_t tx = ix + s->pad - kx;
          if (tx < 0 || tx % stride != 0 || tx / stride >= s->out_w) continue;
          const float *src =
              dcol + ((n * s->out_h + oy) * s->out_w + tx / stride) * width + (ky * k + kx) * cin;
          for (int64_t ci = 0; ci < cin; ci++) d[ci] += src[ci];
        }
      }
    }
  }
}

void pni_conv_forward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                      float *y, float *col) {
  const int64_t chunk = images_per_chunk(s), width = col_width(s);
  const int64_t pixels_out = s->out_h * s->out_w;
  for (int64_t n0 = 0; n0 < s->n; n0 += chunk) {
    const int64_t images = s->n - n0 < chunk ? s->n - n0 : chunk;
    im2col(s, threads, x + n0 * s->h * s->w * s->cin, images, col);
    pni_sgemm(threads, 0, 0, images * pixels_out, s->cout, width, 1.0f, col, width, w, s->cout,
              0.0f, y + n0 * pixels_out * s->cout, s->cout);
  }
}

void pni_conv_backward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                       const float *dy, float *dx, float *dw, float *col) {
  const int64_t chunk = images_per_chunk(s), width = col_width(s);
  const int64_t pixels_out = s->out_h * s->out_w;
  for (int64_t n0 = 0; n0 < s->n; n0 += chunk) {
    const int64_t images = s->n - n0 < chunk ? s->n - n0 : chunk;
    const int64_t rows = images * pixels_out;
    const float *dy_chunk = dy + n0 * pixels_out * s->cout;
    im2col(s, threads, x + n0 * s->h * s->w * s->cin, images, col);
    pni_sgemm(threads, 1, 0, width, s->cout, rows, 1.0f, col, width, dy_chunk, s->cout,
              n0 == 0 ? 0.0f : 1.0f, dw, s->cout);
    if (dx == NULL) continue;
    /* col is free again once dw has been taken from it. */
    pni_sgemm(threads, 0, 1, rows, width, s->cout, 1.0f, dy_chunk, s->cout, w, s->cout, 0.0f, col,
              width);
    col2im(s, threads, col, images, dx + n0 * s->h * s->w * s->cin);
  }
}
