/* SPDX-License-Identifier: MIT */
/* Batch normalisation on [rows][c] (NHWC flattened).
 *
 * Every pass runs along rows with the inner loop over contiguous channels,
 * so the compiler vectorises across channels. The per-channel reductions
 * (batch statistics, gradient sums) cut the rows into PNI_BN_CHUNKS fixed
 * chunks whatever the thread count, and the chunks' sums are folded into
 * the total in chunk order (an OpenMP ordered loop, chunks dealt round
 * robin so that the folds wait little). The result is therefore bitwise
 * the same for any number of threads, and no buffer grows with the rows
 * or the threads: channels are reduced in blocks of at most PNI_BN_BLOCK,
 * each thread holding one chunk's sums on its stack. */
#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "kernels/norm.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* The library is built for portable x86-64-v2; hot loops get an AVX2 clone
 * chosen once at load time. */
#define PNI_HOT __attribute__((target_clones("avx2", "default")))
#else
#define PNI_HOT
#endif

enum {
  PNI_BN_CHUNKS = 32,     /* row chunks of a reduction; also the most threads used */
  PNI_BN_BLOCK = 512,     /* channels per block: 2 x 512 doubles = 8 KiB per thread */
  PNI_BN_GROUP = 8,       /* rows summed in float (loops written out for 8, as 2 x 4) */
  PNI_BN_SERIAL = 1 << 15 /* below this many elements a team costs more than it saves */
};

static int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

static int team_size(int32_t threads, int64_t rows, int64_t c) {
  if (threads <= 1 || rows * c < PNI_BN_SERIAL) return 1;
  return threads < PNI_BN_CHUNKS ? (int)threads : PNI_BN_CHUNKS;
}

static int64_t chunk_start(int64_t rows, int k) {
  return rows * k / PNI_BN_CHUNKS;
}

/* Channel block width: as few blocks as PNI_BN_BLOCK allows, of equal
 * width rounded up to 16 floats, so that blocks of a row start on cache
 * lines of their own (narrow blocks that share lines run far slower). */
static int64_t block_width(int64_t c) {
  const int64_t blocks = (c + PNI_BN_BLOCK - 1) / PNI_BN_BLOCK;
  const int64_t w = (c + blocks - 1) / blocks;
  return min64((w + 15) / 16 * 16, PNI_BN_BLOCK);
}

/* Sums of (x - shift) and (x - shift)^2 over rows [r0, r1) of the channel
 * block starting at x (row stride c). The shift (the batch's first row)
 * keeps the one-pass variance free of cancellation when |mean| >> std:
 * the differences are then small, and exact when x is close to it. Groups
 * of PNI_BN_GROUP rows are summed in float, which keeps the loop at memory
 * speed (double throughout is compute-bound at half of it) and costs a few
 * float roundings per group; the groups are added up in double, so the
 * error does not grow with the number of rows. */
PNI_HOT static void stats_rows(int64_t c, int64_t cb, int64_t r0, int64_t r1, const float *x,
                               double *restrict sum, double *restrict sq) {
  const float *shift = x;
  for (int64_t j = 0; j < cb; j++) sum[j] = sq[j] = 0.0;
  int64_t r = r0;
  for (; r + PNI_BN_GROUP <= r1; r += PNI_BN_GROUP) {
    const float *x0 = x + r * c, *x1 = x0 + c, *x2 = x1 + c, *x3 = x2 + c;
    const float *x4 = x3 + c, *x5 = x4 + c, *x6 = x5 + c, *x7 = x6 + c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      const float k = shift[j];
      const float d0 = x0[j] - k, d1 = x1[j] - k, d2 = x2[j] - k, d3 = x3[j] - k;
      const float d4 = x4[j] - k, d5 = x5[j] - k, d6 = x6[j] - k, d7 = x7[j] - k;
      sum[j] += (double)(((d0 + d1) + (d2 + d3)) + ((d4 + d5) + (d6 + d7)));
      sq[j] += (double)(((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)) +
                        ((d4 * d4 + d5 * d5) + (d6 * d6 + d7 * d7)));
    }
  }
  for (; r < r1; r++) {
    const float *x0 = x + r * c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      const float d0 = x0[j] - shift[j];
      sum[j] += (double)d0;
      sq[j] += (double)(d0 * d0);
    }
  }
}

/* The ReLU6 gradient mask of the training forward, recomputed from the BN
 * input: v is the same expression affine_rows_fused evaluates, so v lies in
 * (0, 6) exactly where the forward's ReLU6 output did and the masked
 * gradient has the bits pni_relu6_backward would give. Reading x instead
 * of the ReLU6 output saves a pass over memory. */
static inline __attribute__((always_inline)) float relu6_masked(float g, float x, float m, float s,
                                                                float b) {
  const float v = (x - m) * s + b;
  return v > 0.0f && v < 6.0f ? g : 0.0f;
}

/* Float sums of h and h * (x - mean) over four rows (row stride c) of one
 * channel block, where h is dy, or with relu6 the ReLU6-masked dy (scale
 * and shift are the forward's gamma * invstd and beta; relu6 is a
 * constant once inlined, and without it scale and shift are not read). */
static inline __attribute__((always_inline)) void quad_sums(
    int relu6, int64_t c, int64_t cb, const float *x, const float *dy, const float *mean,
    const float *scale, const float *shift, float *restrict q_dy, float *restrict q_dyx) {
  const float *x0 = x, *x1 = x0 + c, *x2 = x1 + c, *x3 = x2 + c;
  const float *g0 = dy, *g1 = g0 + c, *g2 = g1 + c, *g3 = g2 + c;
#pragma omp simd
  for (int64_t j = 0; j < cb; j++) {
    const float m = mean[j];
    float h0 = g0[j], h1 = g1[j], h2 = g2[j], h3 = g3[j];
    if (relu6) {
      const float s = scale[j], b = shift[j];
      h0 = relu6_masked(h0, x0[j], m, s, b);
      h1 = relu6_masked(h1, x1[j], m, s, b);
      h2 = relu6_masked(h2, x2[j], m, s, b);
      h3 = relu6_masked(h3, x3[j], m, s, b);
    }
    q_dy[j] = (h0 + h1) + (h2 + h3);
    q_dyx[j] = (h0 * (x0[j] - m) + h1 * (x1[j] - m)) + (h2 * (x2[j] - m) + h3 * (x3[j] - m));
  }
}

/* Sums of h (as in quad_sums) and h * (x - mean) over rows [r0, r1) of one
 * channel block, grouped like stats_rows: each group of PNI_BN_GROUP rows
 * is two quad_sums added in float, then to the totals in double. One loop
 * over all eight rows would hold sixteen row pointers and spill registers,
 * at half the speed of the dx pass that reads the same two tensors. */
static inline __attribute__((always_inline)) void grad_sums(int relu6, int64_t c, int64_t cb,
                                                            int64_t r0, int64_t r1, const float *x,
                                                            const float *dy, const float *mean,
                                                            const float *scale, const float *shift,
                                                            double *restrict sum_dy,
                                                            double *restrict sum_dyx) {
  float lo_dy[PNI_BN_BLOCK], lo_dyx[PNI_BN_BLOCK], hi_dy[PNI_BN_BLOCK], hi_dyx[PNI_BN_BLOCK];
  for (int64_t j = 0; j < cb; j++) sum_dy[j] = sum_dyx[j] = 0.0;
  int64_t r = r0;
  for (; r + PNI_BN_GROUP <= r1; r += PNI_BN_GROUP) {
    quad_sums(relu6, c, cb, x + r * c, dy + r * c, mean, scale, shift, lo_dy, lo_dyx);
    quad_sums(relu6, c, cb, x + (r + 4) * c, dy + (r + 4) * c, mean, scale, shift, hi_dy, hi_dyx);
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      sum_dy[j] += (double)(lo_dy[j] + hi_dy[j]);
      sum_dyx[j] += (double)(lo_dyx[j] + hi_dyx[j]);
    }
  }
  /* The last rows one at a time: the float terms go through lo_dy and
   * lo_dyx, so that this loop too vectorises (computing them in the
   * double loop leaves it scalar). */
  for (; r < r1; r++) {
    const float *x0 = x + r * c, *g0 = dy + r * c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      const float h0 = relu6 ? relu6_masked(g0[j], x0[j], mean[j], scale[j], shift[j]) : g0[j];
      lo_dy[j] = h0;
      lo_dyx[j] = h0 * (x0[j] - mean[j]);
    }
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      sum_dy[j] += (double)lo_dy[j];
      sum_dyx[j] += (double)lo_dyx[j];
    }
  }
}

PNI_HOT static void grad_sums_rows(int64_t c, int64_t cb, int64_t r0, int64_t r1, const float *x,
                                   const float *dy, const float *mean, double *restrict sum_dy,
                                   double *restrict sum_dyx) {
  grad_sums(0, c, cb, r0, r1, x, dy, mean, NULL, NULL, sum_dy, sum_dyx);
}

PNI_HOT static void grad_sums_rows_relu6(int64_t c, int64_t cb, int64_t r0, int64_t r1,
                                         const float *x, const float *dy, const float *mean,
                                         const float *scale, const float *shift,
                                         double *restrict sum_dy, double *restrict sum_dyx) {
  grad_sums(1, c, cb, r0, r1, x, dy, mean, scale, shift, sum_dy, sum_dyx);
}

/* y = (x - mean) * scale + shift over rows [r0, r1) of one channel block
 * (subtracting the mean first keeps precision when |mean| >> std), then
 * ReLU6 (relu6 set) and the residual add (residual not NULL, row stride c
 * like x) on each value while it is in a register: the same operations in
 * the same order as the separate passes, so the same bits. y may be x:
 * each element is read before it is written. Four loops rather than tests
 * inside one, so that each vectorises without unswitching (-O2 does not
 * unswitch). */
PNI_HOT static void affine_rows_fused(int64_t c, int64_t cb, int64_t r0, int64_t r1, const float *x,
                                      const float *mean, const float *scale, const float *shift,
                                      int relu6, const float *residual, float *y) {
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * c;
    float *yr = y + r * c;
    if (relu6 && residual != NULL) {
      const float *br = residual + r * c;
#pragma omp simd
      for (int64_t j = 0; j < cb; j++) {
        const float v = (xr[j] - mean[j]) * scale[j] + shift[j];
        yr[j] = (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) + br[j];
      }
    } else if (relu6) {
#pragma omp simd
      for (int64_t j = 0; j < cb; j++) {
        const float v = (xr[j] - mean[j]) * scale[j] + shift[j];
        yr[j] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
      }
    } else if (residual != NULL) {
      const float *br = residual + r * c;
#pragma omp simd
      for (int64_t j = 0; j < cb; j++) yr[j] = ((xr[j] - mean[j]) * scale[j] + shift[j]) + br[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < cb; j++) yr[j] = (xr[j] - mean[j]) * scale[j] + shift[j];
    }
  }
}

/* dx = k1 * dy - k2 * (x - mean) - k3 over rows [r0, r1) of one channel
 * block. dx may be dy. */
PNI_HOT static void bn_dx_rows(int64_t c, int64_t cb, int64_t r0, int64_t r1, const float *x,
                               const float *dy, const float *mean, const float *k1, const float *k2,
                               const float *k3, float *dx) {
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * c, *gr = dy + r * c;
    float *dr = dx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) dr[j] = k1[j] * gr[j] - k2[j] * (xr[j] - mean[j]) - k3[j];
  }
}

/* bn_dx_rows of the ReLU6-masked gradient. dx may be dy. */
PNI_HOT static void bn_dx_rows_relu6(int64_t c, int64_t cb, int64_t r0, int64_t r1, const float *x,
                                     const float *dy, const float *mean, const float *scale,
                                     const float *shift, const float *k1, const float *k2,
                                     const float *k3, float *dx) {
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * c, *gr = dy + r * c;
    float *dr = dx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) {
      const float h = relu6_masked(gr[j], xr[j], mean[j], scale[j], shift[j]);
      dr[j] = k1[j] * h - k2[j] * (xr[j] - mean[j]) - k3[j];
    }
  }
}

/* The training-mode scale gamma * invstd of cb channels, rounded once in
 * float: the forward's affine pass and the backward's ReLU6 mask must use
 * the same bits. */
static void train_scale(int64_t cb, const float *gamma, const float *invstd, float *scale) {
  for (int64_t j = 0; j < cb; j++) scale[j] = gamma[j] * invstd[j];
}

/* This thread's share [*r0, *r1) of the rows in an elementwise pass. */
static void my_rows(int64_t rows, int64_t *r0, int64_t *r1) {
  const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  *r0 = rows * t / nt;
  *r1 = rows * (t + 1) / nt;
}

/* Folds one chunk's two sums into the totals (the first chunk sets them). */
static void fold(int first, int64_t cb, const double (*part)[PNI_BN_BLOCK],
                 double (*total)[PNI_BN_BLOCK]) {
  for (int64_t j = 0; j < cb; j++) {
    total[0][j] = first ? part[0][j] : total[0][j] + part[0][j];
    total[1][j] = first ? part[1][j] : total[1][j] + part[1][j];
  }
}

/* The training forward's affine pass over rows [0, rows) of x and y: one
 * function for the forward and for pni_bn_rebuild_rows, so that a rebuilt
 * output has the forward's bits. */
static void apply_saved_rows(int64_t rows, int64_t c, int64_t bw, const float *x,
                             const float *gamma, const float *beta, const float *save_mean,
                             const float *save_invstd, int relu6, float *y) {
  float scale[PNI_BN_BLOCK];
  for (int64_t c0 = 0; c0 < c; c0 += bw) {
    const int64_t cb = min64(bw, c - c0);
    train_scale(cb, gamma + c0, save_invstd + c0, scale);
    affine_rows_fused(c, cb, 0, rows, x + c0, save_mean + c0, scale, beta + c0, relu6, NULL,
                      y + c0);
  }
}

static void bn_forward_train(int32_t threads, int64_t rows, int64_t c, const float *x,
                             const float *gamma, const float *beta, float eps, float momentum,
                             float *running_mean, float *running_var, int relu6, float *y,
                             float *save_mean, float *save_invstd) {
  if (c <= 0) return;
  if (rows <= 0) {
    for (int64_t j = 0; j < c; j++) {
      save_mean[j] = 0.0f;
      save_invstd[j] = (float)(1.0 / sqrt((double)eps));
    }
    return;
  }
  const int64_t bw = block_width(c);
  const double inv_rows = 1.0 / (double)rows, m = (double)momentum;
  /* A single row carries no information about the spread: the running
   * variance keeps its value instead of taking 0 * rows / (rows - 1). */
  const double unbias = rows > 1 ? (double)rows / (double)(rows - 1) : 0.0;
  double total[2][PNI_BN_BLOCK];

#pragma omp parallel num_threads(team_size(threads, rows, c))
  {
    for (int64_t c0 = 0; c0 < c; c0 += bw) {
      const int64_t cb = min64(bw, c - c0);
      double part[2][PNI_BN_BLOCK];
#pragma omp for ordered schedule(static, 1)
      for (int k = 0; k < PNI_BN_CHUNKS; k++) {
        stats_rows(c, cb, chunk_start(rows, k), chunk_start(rows, k + 1), x + c0, part[0], part[1]);
#pragma omp ordered
        fold(k == 0, cb, (const double(*)[PNI_BN_BLOCK])part, total);
      }
#pragma omp single
      for (int64_t j = 0; j < cb; j++) {
        /* The sums are of x - x[0][j]: shift the mean back. */
        const double d = total[0][j] * inv_rows;
        const double mean = (double)x[c0 + j] + d;
        double var = total[1][j] * inv_rows - d * d;
        if (var < 0.0) var = 0.0;
        save_mean[c0 + j] = (float)mean;
        save_invstd[c0 + j] = (float)(1.0 / sqrt(var + (double)eps));
        running_mean[c0 + j] = (float)((1.0 - m) * (double)running_mean[c0 + j] + m * mean);
        if (rows > 1) {
          running_var[c0 + j] = (float)((1.0 - m) * (double)running_var[c0 + j] + m * var * unbias);
        }
      }
    }
    if (y != NULL) {
      int64_t r0, r1;
      my_rows(rows, &r0, &r1);
      apply_saved_rows(r1 - r0, c, bw, x + r0 * c, gamma, beta, save_mean, save_invstd, relu6,
                       y + r0 * c);
    }
  }
}

void pni_bn_forward_train(int32_t threads, int64_t rows, int64_t c, const float *x,
                          const float *gamma, const float *beta, float eps, float momentum,
                          float *running_mean, float *running_var, float *y, float *save_mean,
                          float *save_invstd) {
  bn_forward_train(threads, rows, c, x, gamma, beta, eps, momentum, running_mean, running_var, 0, y,
                   save_mean, save_invstd);
}

void pni_bn_relu6_forward_train(int32_t threads, int64_t rows, int64_t c, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *running_mean, float *running_var, float *y, float *save_mean,
                                float *save_invstd) {
  bn_forward_train(threads, rows, c, x, gamma, beta, eps, momentum, running_mean, running_var, 1, y,
                   save_mean, save_invstd);
}

void pni_bn_rebuild_rows(const pni_bn_source *src, int64_t r0, int64_t r1, float *y) {
  if (src->c <= 0 || r1 <= r0) return;
  apply_saved_rows(r1 - r0, src->c, block_width(src->c), src->z + r0 * src->c, src->gamma,
                   src->beta, src->save_mean, src->save_invstd, src->relu6, y);
}

void pni_bn_forward_eval(int32_t threads, int64_t rows, int64_t c, const float *x,
                         const float *gamma, const float *beta, const float *running_mean,
                         const float *running_var, float eps, float *y) {
  pni_bn_forward_eval_fused(threads, rows, c, x, gamma, beta, running_mean, running_var, eps, 0,
                            NULL, y);
}

void pni_bn_eval_scale(int64_t c, const float *gamma, const float *running_var, float eps,
                       float *scale) {
  for (int64_t j = 0; j < c; j++) {
    scale[j] = (float)((double)gamma[j] / sqrt((double)running_var[j] + (double)eps));
  }
}

void pni_bn_forward_eval_fused(int32_t threads, int64_t rows, int64_t c, const float *x,
                               const float *gamma, const float *beta, const float *running_mean,
                               const float *running_var, float eps, int relu6,
                               const float *residual, float *y) {
  if (c <= 0 || rows <= 0) return;
  const int64_t bw = block_width(c);
  const int team = threads > 1 && rows * c >= PNI_BN_SERIAL ? (int)threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    int64_t r0, r1;
    my_rows(rows, &r0, &r1);
    float scale[PNI_BN_BLOCK];
    for (int64_t c0 = 0; c0 < c; c0 += bw) {
      const int64_t cb = min64(bw, c - c0);
      pni_bn_eval_scale(cb, gamma + c0, running_var + c0, eps, scale);
      affine_rows_fused(c, cb, r0, r1, x + c0, running_mean + c0, scale, beta + c0, relu6,
                        residual != NULL ? residual + c0 : NULL, y + c0);
    }
  }
}

/* relu6: dy is the gradient of ReLU6(y) (see relu6_masked), beta the
 * forward's shift. */
static void bn_backward(int32_t threads, int64_t rows, int64_t c, const float *x, const float *dy,
                        const float *gamma, const float *beta, int relu6, const float *save_mean,
                        const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
  if (c <= 0) return;
  if (rows <= 0) {
    for (int64_t j = 0; j < c; j++) dgamma[j] = dbeta[j] = 0.0f;
    return;
  }
  const int64_t bw = block_width(c);
  const double inv_rows = 1.0 / (double)rows;
  double total[2][PNI_BN_BLOCK];

#pragma omp parallel num_threads(team_size(threads, rows, c))
  {
    float scale[PNI_BN_BLOCK];
    for (int64_t c0 = 0; c0 < c; c0 += bw) {
      const int64_t cb = min64(bw, c - c0);
      double part[2][PNI_BN_BLOCK];
      if (relu6) train_scale(cb, gamma + c0, save_invstd + c0, scale);
#pragma omp for ordered schedule(static, 1)
      for (int k = 0; k < PNI_BN_CHUNKS; k++) {
        const int64_t r0 = chunk_start(rows, k), r1 = chunk_start(rows, k + 1);
        if (relu6) {
          grad_sums_rows_relu6(c, cb, r0, r1, x + c0, dy + c0, save_mean + c0, scale, beta + c0,
                               part[0], part[1]);
        } else {
          grad_sums_rows(c, cb, r0, r1, x + c0, dy + c0, save_mean + c0, part[0], part[1]);
        }
#pragma omp ordered
        fold(k == 0, cb, (const double(*)[PNI_BN_BLOCK])part, total);
      }
#pragma omp single
      for (int64_t j = 0; j < cb; j++) {
        dbeta[c0 + j] = (float)total[0][j];
        dgamma[c0 + j] = (float)(total[1][j] * (double)save_invstd[c0 + j]);
      }
    }
    /* The coefficients come back from the float dgamma/dbeta, since the
     * double totals of the earlier blocks are gone; their rounding is far
     * below the error the float dx carries anyway. */
    int64_t r0, r1;
    my_rows(rows, &r0, &r1);
    float k1[PNI_BN_BLOCK], k2[PNI_BN_BLOCK], k3[PNI_BN_BLOCK];
    for (int64_t c0 = 0; c0 < c; c0 += bw) {
      const int64_t cb = min64(bw, c - c0);
      for (int64_t j = 0; j < cb; j++) {
        const double is = save_invstd[c0 + j], a = (double)gamma[c0 + j] * is;
        k1[j] = (float)a;
        k2[j] = (float)(a * is * (double)dgamma[c0 + j] * inv_rows);
        k3[j] = (float)(a * (double)dbeta[c0 + j] * inv_rows);
      }
      if (relu6) {
        train_scale(cb, gamma + c0, save_invstd + c0, scale);
        bn_dx_rows_relu6(c, cb, r0, r1, x + c0, dy + c0, save_mean + c0, scale, beta + c0, k1, k2,
                         k3, dx + c0);
      } else {
        bn_dx_rows(c, cb, r0, r1, x + c0, dy + c0, save_mean + c0, k1, k2, k3, dx + c0);
      }
    }
  }
}

/* With xhat = (x - mean) * invstd and y = gamma * xhat + beta:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd * (dy - dbeta / rows - xhat * dgamma / rows). */
void pni_bn_backward(int32_t threads, int64_t rows, int64_t c, const float *x, const float *dy,
                     const float *gamma, const float *save_mean, const float *save_invstd,
                     float *dx, float *dgamma, float *dbeta) {
  bn_backward(threads, rows, c, x, dy, gamma, NULL, 0, save_mean, save_invstd, dx, dgamma, dbeta);
}

void pni_bn_relu6_backward(int32_t threads, int64_t rows, int64_t c, const float *x,
                           const float *dy, const float *gamma, const float *beta,
                           const float *save_mean, const float *save_invstd, float *dx,
                           float *dgamma, float *dbeta) {
  bn_backward(threads, rows, c, x, dy, gamma, beta, 1, save_mean, save_invstd, dx, dgamma, dbeta);
}
