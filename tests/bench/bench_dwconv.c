/* SPDX-License-Identifier: MIT */
/* Throughput of the depthwise convolution, forward and backward (dx + dw),
 * at batch 64 on the 14x14x144 and 7x7x480 maps of the Fashion-MNIST
 * space, for k = 3, 5, 7 and stride 1, 2. Prints the best of a few runs in
 * GFLOP/s (2 flops per multiply-add). Usage: bench-dwconv [threads...]
 * (default: 1 and 2). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rng.h"
#include "kernels/conv.h"

enum { BATCH = 64, REPEATS = 5 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *random_floats(int64_t count, pni_rng *r) {
  float *p = aligned_alloc(64, ((size_t)count * sizeof(float) + 63) / 64 * 64);
  if (p == NULL) {
    fprintf(stderr, "bench-dwconv: out of memory\n");
    exit(EXIT_FAILURE);
  }
  for (int64_t i = 0; i < count; i++) p[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
  return p;
}

static void bench(int32_t threads, int64_t hw, int64_t c, int64_t k, int64_t stride,
                  double *fwd_total, double *bwd_total) {
  pni_conv_shape s;
  if (!pni_conv_shape_init(&s, BATCH, hw, hw, c, c, k, stride, k / 2)) return;
  pni_rng r;
  pni_rng_seed(&r, 1);
  const int64_t nx = s.n * s.h * s.w * c, ny = s.n * s.out_h * s.out_w * c;
  float *x = random_floats(nx, &r), *w = random_floats(k * k * c, &r);
  float *y = random_floats(ny, &r), *dy = random_floats(ny, &r);
  float *dx = random_floats(nx, &r), *dw = random_floats(k * k * c, &r);
  float *ws = random_floats((int64_t)pni_dwconv_grad_workspace_floats(&s), &r);
  double fwd = 1e30, bwd = 1e30;
  for (int rep = 0; rep <= REPEATS; rep++) { /* rep 0 warms up */
    const double t0 = now_s();
    pni_dwconv_forward(&s, threads, x, w, y);
    const double t1 = now_s();
    pni_dwconv_backward(&s, threads, x, w, dy, dx, dw, ws);
    const double t2 = now_s();
    if (rep > 0 && t1 - t0 < fwd) fwd = t1 - t0;
    if (rep > 0 && t2 - t1 < bwd) bwd = t2 - t1;
  }
  const double gflop = 2.0 * (double)(ny * k * k) * 1e-9; /* one pass */
  printf("%7d %2ldx%-2ld %4ld %2ld %6ld %9.3f %7.1f %9.3f %7.1f %7.1f\n", (int)threads, (long)hw,
         (long)hw, (long)c, (long)k, (long)stride, fwd * 1e3, gflop / fwd, bwd * 1e3,
         2.0 * gflop / bwd, 3.0 * gflop / (fwd + bwd));
  *fwd_total += fwd;
  *bwd_total += bwd;
  free(x);
  free(w);
  free(y);
  free(dy);
  free(dx);
  free(dw);
  free(ws);
}

int main(int argc, char **argv) {
  int32_t thread_counts[8] = {1, 2};
  int count = 2;
  if (argc > 1) {
    count = 0;
    for (int i = 1; i < argc && count < 8; i++) thread_counts[count++] = (int32_t)atoi(argv[i]);
  }
  const int64_t maps[][2] = {{14, 144}, {7, 480}};
  printf("dwconv, batch %d; GFLOP/s count 2 flops per multiply-add, backward = dx + dw\n", BATCH);
  printf("threads   map    c  k stride    fwd ms  GFLOP/s   bwd ms  GFLOP/s  fwd+bwd\n");
  for (int t = 0; t < count; t++) {
    double fwd = 0.0, bwd = 0.0;
    for (int m = 0; m < 2; m++) {
      for (int64_t k = 3; k <= 7; k += 2) {
        for (int64_t stride = 1; stride <= 2; stride++) {
          bench(thread_counts[t], maps[m][0], maps[m][1], k, stride, &fwd, &bwd);
        }
      }
    }
    /* Summed over every shape above (run_bench.py reads this line). */
    printf("impl=libpnas kernel=dwconv threads=%d fwd_ms=%.3f bwd_ms=%.3f\n", (int)thread_counts[t],
           1e3 * fwd, 1e3 * bwd);
  }
  return EXIT_SUCCESS;
}
