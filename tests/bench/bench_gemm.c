/* SPDX-License-Identifier: MIT */
/* The 1x1 convolutions of the reference supernet's (k, e6) candidates, the
 * head and the first layer's expand, at batch 64, through the library's
 * kernels: forward and backward data (transposed-weight form) on libpnas's
 * row kernels where they run (gemm_rows.c), else BLIS; weight gradient on
 * BLIS. Best of a few runs, 1 and 2 threads.
 * Usage: bench-gemm [--blis] [threads...] (default: 1 and 2); --blis runs
 * every product on BLIS, for an A/B in one build. The last line per thread
 * count sums every shape; run_bench.py reads it for the per-kernel scaling
 * table. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "kernels/conv.h"
#include "kernels/gemm_rows.h"

enum { REPEATS = 5 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Padded as the library pads GEMM buffers (BLIS may read past the end). */
static float *random_floats(int64_t count, pni_rng *r) {
  const size_t bytes = ((size_t)count * sizeof(float) + 4096 + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (p == NULL) {
    fprintf(stderr, "bench-gemm: out of memory\n");
    exit(EXIT_FAILURE);
  }
  for (int64_t i = 0; i < count; i++) p[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
  return p;
}

/* rows x cin -> cout at batch 64 (rows = 64 * H * W). */
static const int64_t shapes[][3] = {
    {64 * 28 * 28, 8, 48}, {64 * 14 * 14, 24, 144}, {64 * 14 * 14, 144, 24}, {64 * 7 * 7, 40, 240},
    {64 * 7 * 7, 240, 80}, {64 * 7 * 7, 80, 480},   {64 * 7 * 7, 480, 96},   {64 * 7 * 7, 96, 576},
    {64 * 7 * 7, 576, 96}, {64 * 7 * 7, 96, 256},
};

int main(int argc, char **argv) {
  int32_t threads[8] = {1, 2};
  int count = 2, first = 1;
  if (argc > 1 && strcmp(argv[1], "--blis") == 0) {
    pni_gemm_rows_allow(0);
    first = 2;
  }
  if (argc > first) {
    count = 0;
    for (int i = first; i < argc && count < 8; i++) threads[count++] = (int32_t)atoi(argv[i]);
  }
  const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
  printf("1x1 convolutions (%s), best of %d; GFLOP/s at 2 flops per multiply-add\n",
         pni_gemm_rows_active() ? "libpnas's row kernels + BLIS" : "BLIS", REPEATS);
  printf("threads   rows  cin cout   fwd ms GFLOP/s  bwd-data ms GFLOP/s  bwd-w ms GFLOP/s\n");
  for (int t = 0; t < count; t++) {
    double total[3] = {0, 0, 0}, flops_total = 0.0;
    for (int s = 0; s < nshapes; s++) {
      const int64_t rows = shapes[s][0], cin = shapes[s][1], cout = shapes[s][2];
      pni_rng r;
      pni_rng_seed(&r, 1);
      float *x = random_floats(rows * cin, &r), *w = random_floats(cin * cout, &r);
      float *y = random_floats(rows * cout, &r), *dx = random_floats(rows * cin, &r);
      float *dw = random_floats(cin * cout, &r), *wt = random_floats(cin * cout, &r);
      double best[3] = {1e30, 1e30, 1e30};
      for (int rep = 0; rep <= REPEATS; rep++) { /* rep 0 warms up */
        const double t0 = now_s();
        pni_conv1x1_forward(threads[t], rows, cin, cout, x, w, y);
        const double t1 = now_s();
        pni_conv1x1_backward_data(threads[t], rows, cin, cout, y, w, dx, wt);
        const double t2 = now_s();
        pni_conv1x1_backward_weight(threads[t], rows, cin, cout, x, y, dw, 0);
        const double t3 = now_s();
        const double d[3] = {t1 - t0, t2 - t1, t3 - t2};
        for (int k = 0; rep > 0 && k < 3; k++) {
          if (d[k] < best[k]) best[k] = d[k];
        }
      }
      const double gflop = 2e-9 * (double)rows * (double)cin * (double)cout;
      printf("%7d %6ld %4ld %4ld %8.3f %7.1f %12.3f %7.1f %9.3f %7.1f\n", (int)threads[t],
             (long)rows, (long)cin, (long)cout, 1e3 * best[0], gflop / best[0], 1e3 * best[1],
             gflop / best[1], 1e3 * best[2], gflop / best[2]);
      for (int k = 0; k < 3; k++) total[k] += best[k];
      flops_total += gflop;
      free(x), free(w), free(y), free(dx), free(dw), free(wt);
    }
    printf(
        "impl=libpnas kernel=gemm threads=%d fwd_ms=%.3f bwd_data_ms=%.3f bwd_weight_ms=%.3f "
        "gflop_per_s=%.2f\n",
        (int)threads[t], 1e3 * total[0], 1e3 * total[1], 1e3 * total[2],
        3.0 * flops_total / (total[0] + total[1] + total[2]));
  }
  return 0;
}
