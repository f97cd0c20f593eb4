/* SPDX-License-Identifier: MIT */
/* The evaluation-mode convolutions of the searched Fashion-MNIST network
 * at batch 64 (stem, every 1x1 of its blocks, the head), computed two
 * ways: the fused kernels of gemm_rows.c (batch norm, ReLU6 and the residual
 * in the product's epilogue), and the separate passes they replace (BLIS
 * GEMM or im2col + BLIS GEMM, then pni_bn_forward_eval_fused). Best of a few
 * runs per shape, 1 and 2 threads; the last line per thread count sums the
 * shapes. On a machine where the fused kernels do not run (gemm_rows.c says
 * where), it says so and times the separate passes only.
 * Usage: bench-gemm-rows [threads...] (default: 1 and 2). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rng.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/gemm_rows.h"
#include "kernels/norm.h"

enum { REPEATS = 7 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Padded as the library pads GEMM buffers (BLIS may read past the end). */
static float *random_floats(int64_t count, double lo, double hi, pni_rng *r) {
  const size_t bytes = ((size_t)count * sizeof(float) + 4096 + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (p == NULL) {
    fprintf(stderr, "bench-gemm-rows: out of memory\n");
    exit(EXIT_FAILURE);
  }
  for (int64_t i = 0; i < count; i++) p[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
  return p;
}

/* rows, cin, cout, kernel (3: the stem, 1: a 1x1), relu6, residual. */
static const int64_t shapes[][6] = {
    {64 * 28 * 28, 1, 16, 3, 1, 0},
    {64 * 28 * 28, 16, 8, 1, 0, 0},
    {64 * 28 * 28, 8, 24, 1, 1, 0},
    {64 * 14 * 14, 24, 24, 1, 0, 0},
    {64 * 14 * 14, 24, 72, 1, 1, 0},
    {64 * 7 * 7, 72, 40, 1, 0, 0},
    {64 * 7 * 7, 40, 120, 1, 1, 0},
    {64 * 7 * 7, 120, 80, 1, 0, 0},
    {64 * 7 * 7, 80, 240, 1, 1, 0},
    {64 * 7 * 7, 240, 96, 1, 0, 0},
    {64 * 7 * 7, 96, 256, 1, 1, 0},
    {64 * 7 * 7, 96, 96, 1, 0, 1},
    /* Wider reductions: k3e3's and k3e6's projections, and the last
     * projection of the mobile network at 224 x 224, batch 1. */
    {64 * 7 * 7, 288, 96, 1, 0, 1},
    {64 * 7 * 7, 576, 96, 1, 0, 1},
    {7 * 7, 960, 320, 1, 0, 0},
};

typedef struct buffers {
  float *x, *w, *y, *col, *residual, *gamma, *beta, *mean, *var;
} buffers;

static double time_one(int fused, int32_t threads, const int64_t *sh, const buffers *b) {
  const int64_t rows = sh[0], cin = sh[1], cout = sh[2], k = sh[3];
  const pni_bn_eval bn = {
      b->gamma, b->beta, b->mean, b->var, 1e-3f, (int)sh[4], sh[5] ? b->residual : NULL};
  pni_conv_shape s;
  if (k > 1 && !pni_conv_shape_init(&s, 64, 28, 28, cin, cout, k, 1, k / 2)) {
    fprintf(stderr, "bench-gemm-rows: bad stem shape\n");
    exit(EXIT_FAILURE);
  }
  const double t0 = now_s();
  if (fused && k > 1) {
    pni_conv_forward_bn(&s, threads, b->x, b->w, &bn, b->y);
  } else if (fused) {
    pni_conv1x1_forward_bn(threads, rows, cin, cout, b->x, b->w, &bn, b->y);
  } else {
    if (k > 1) {
      pni_conv_forward(&s, threads, b->x, b->w, b->y, b->col);
    } else {
      pni_sgemm(threads, 0, 0, rows, cout, cin, 1.0f, b->x, cin, b->w, cout, 0.0f, b->y, cout);
    }
    pni_bn_forward_eval_fused(threads, rows, cout, b->y, b->gamma, b->beta, b->mean, b->var, 1e-3f,
                              bn.relu6, bn.residual, b->y);
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  int32_t threads[8] = {1, 2};
  int count = 2;
  if (argc > 1) {
    count = 0;
    for (int i = 1; i < argc && count < 8; i++) threads[count++] = (int32_t)atoi(argv[i]);
  }
  const int active = pni_gemm_rows_active();
  const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
  printf("evaluation convolutions + batch norm, best of %d; GFLOP/s at 2 flops per multiply-add\n",
         REPEATS);
  if (!active) printf("the fused kernels do not run on this machine: separate passes only\n");
  printf("threads   rows  cin cout k  separate ms GFLOP/s    fused ms GFLOP/s  speed-up\n");
  for (int t = 0; t < count; t++) {
    double total[2] = {0, 0}, flops_total = 0.0;
    for (int si = 0; si < nshapes; si++) {
      const int64_t *sh = shapes[si];
      const int64_t rows = sh[0], cin = sh[1], cout = sh[2], k = sh[3];
      pni_rng r;
      pni_rng_seed(&r, 1);
      buffers b = {random_floats(rows * cin, -1, 1, &r),
                   random_floats(k * k * cin * cout, -1, 1, &r),
                   random_floats(rows * cout, -1, 1, &r),
                   random_floats(k > 1 ? rows * k * k * cin : 1, -1, 1, &r),
                   random_floats(rows * cout, -1, 1, &r),
                   random_floats(cout, 0.5, 1.5, &r),
                   random_floats(cout, -1, 1, &r),
                   random_floats(cout, -0.5, 0.5, &r),
                   random_floats(cout, 0.5, 2, &r)};
      double best[2] = {1e30, 1e30};
      for (int fused = 0; fused <= active; fused++) {
        for (int rep = 0; rep <= REPEATS; rep++) { /* rep 0 warms up */
          const double d = time_one(fused, threads[t], sh, &b);
          if (rep > 0 && d < best[fused]) best[fused] = d;
        }
      }
      if (!active) best[1] = best[0];
      const double gflop = 2e-9 * (double)rows * (double)(k * k * cin) * (double)cout;
      printf("%7d %6ld %4ld %4ld %ld %11.3f %7.1f %11.3f %7.1f %8.2fx\n", (int)threads[t],
             (long)rows, (long)cin, (long)cout, (long)k, 1e3 * best[0], gflop / best[0],
             1e3 * best[1], gflop / best[1], best[0] / best[1]);
      for (int f = 0; f < 2; f++) total[f] += best[f];
      flops_total += gflop;
      free(b.x), free(b.w), free(b.y), free(b.col), free(b.residual);
      free(b.gamma), free(b.beta), free(b.mean), free(b.var);
    }
    printf(
        "impl=libpnas kernel=gemm_rows threads=%d fused_active=%d separate_ms=%.3f fused_ms=%.3f "
        "gflop_per_s=%.2f\n",
        (int)threads[t], active, 1e3 * total[0], 1e3 * total[1], flops_total / total[1]);
  }
  return 0;
}
