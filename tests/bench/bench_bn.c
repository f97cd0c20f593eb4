/* SPDX-License-Identifier: MIT */
/* Throughput of batch norm (training forward, backward) and ReLU6 (forward,
 * backward) at batch 64 on the 14x14x144 and 7x7x480 maps of the
 * Fashion-MNIST space. Prints the best of a few runs in ms and GB/s, where
 * the bytes are the streaming traffic of each kernel's passes over the
 * tensor: BN forward reads x twice and writes y (3 tensors), BN backward
 * reads x and dy twice and writes dx (5), ReLU6 forward 2, backward 3;
 * and the fused BN + ReLU6 training kernels the units use (the same
 * traffic as BN alone). The last line per thread count sums the fused
 * kernels over both maps (run_bench.py reads it).
 * Usage: bench-bn [threads...] (default: 1 and 2). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rng.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"

enum { BATCH = 64, REPEATS = 10 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *random_floats(int64_t count, pni_rng *r) {
  float *p = aligned_alloc(64, ((size_t)count * sizeof(float) + 63) / 64 * 64);
  if (p == NULL) {
    fprintf(stderr, "bench-bn: out of memory\n");
    exit(EXIT_FAILURE);
  }
  for (int64_t i = 0; i < count; i++) p[i] = (float)(pni_rng_uniform(r) * 2.0 - 1.0);
  return p;
}

static double gbps(int tensors, int64_t count, double seconds) {
  return (double)tensors * (double)count * sizeof(float) * 1e-9 / seconds;
}

static void bench(int32_t threads, int64_t hw, int64_t c, double *fused_f_total,
                  double *fused_b_total, double *stream_gbps) {
  pni_rng r;
  pni_rng_seed(&r, 1);
  const int64_t rows = BATCH * hw * hw, n = rows * c;
  float *x = random_floats(n, &r), *y = random_floats(n, &r);
  float *dy = random_floats(n, &r), *dx = random_floats(n, &r);
  float *gamma = random_floats(c, &r), *beta = random_floats(c, &r);
  float *rm = random_floats(c, &r), *rv = random_floats(c, &r);
  float *sm = random_floats(c, &r), *si = random_floats(c, &r);
  float *dg = random_floats(c, &r), *db = random_floats(c, &r);
  for (int64_t j = 0; j < c; j++) rv[j] = 1.0f;
  double bn_f = 1e30, bn_b = 1e30, re_f = 1e30, re_b = 1e30, fu_f = 1e30, fu_b = 1e30;
  for (int rep = 0; rep <= REPEATS; rep++) { /* rep 0 warms up */
    const double t0 = now_s();
    pni_bn_forward_train(threads, rows, c, x, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
    const double t1 = now_s();
    pni_bn_backward(threads, rows, c, x, dy, gamma, sm, si, dx, dg, db);
    const double t2 = now_s();
    pni_relu6_forward(threads, n, x, y);
    const double t3 = now_s();
    pni_relu6_backward(threads, n, y, dy, dx);
    const double t4 = now_s();
    pni_bn_relu6_forward_train(threads, rows, c, x, gamma, beta, 1e-3f, 0.1f, rm, rv, y, sm, si);
    const double t5 = now_s();
    pni_bn_relu6_backward(threads, rows, c, x, dy, gamma, beta, sm, si, dx, dg, db);
    const double t6 = now_s();
    if (rep == 0) continue;
    if (t5 - t4 < fu_f) fu_f = t5 - t4;
    if (t6 - t5 < fu_b) fu_b = t6 - t5;
    if (t1 - t0 < bn_f) bn_f = t1 - t0;
    if (t2 - t1 < bn_b) bn_b = t2 - t1;
    if (t3 - t2 < re_f) re_f = t3 - t2;
    if (t4 - t3 < re_b) re_b = t4 - t3;
  }
  printf(
      "%7d %2ldx%-2ld %4ld  %7.3f %6.1f  %7.3f %6.1f  %7.3f %6.1f  %7.3f %6.1f  %7.3f %6.1f  "
      "%7.3f %6.1f\n",
      (int)threads, (long)hw, (long)hw, (long)c, bn_f * 1e3, gbps(3, n, bn_f), bn_b * 1e3,
      gbps(5, n, bn_b), re_f * 1e3, gbps(2, n, re_f), re_b * 1e3, gbps(3, n, re_b), fu_f * 1e3,
      gbps(3, n, fu_f), fu_b * 1e3, gbps(5, n, fu_b));
  *fused_f_total += fu_f;
  *fused_b_total += fu_b;
  /* ReLU6 forward reads one tensor and writes one: the streaming rate. */
  if (gbps(2, n, re_f) > *stream_gbps) *stream_gbps = gbps(2, n, re_f);
  free(x), free(y), free(dy), free(dx), free(gamma), free(beta), free(rm), free(rv);
  free(sm), free(si), free(dg), free(db);
}

int main(int argc, char **argv) {
  int32_t thread_counts[8] = {1, 2};
  int count = 2;
  if (argc > 1) {
    count = 0;
    for (int i = 1; i < argc && count < 8; i++) thread_counts[count++] = (int32_t)atoi(argv[i]);
  }
  const int64_t maps[][2] = {{14, 144}, {7, 480}};
  printf("batch norm (train) and ReLU6, batch %d; best of %d runs\n", BATCH, REPEATS);
  printf(
      "threads   map    c   bn fwd ms  GB/s   bn bwd ms  GB/s  relu6 f ms  GB/s  relu6 b ms  "
      "GB/s  bn+r6 f ms  GB/s  bn+r6 b ms  GB/s\n");
  for (int t = 0; t < count; t++) {
    double fwd = 0.0, bwd = 0.0, stream = 0.0;
    for (int m = 0; m < 2; m++) {
      bench(thread_counts[t], maps[m][0], maps[m][1], &fwd, &bwd, &stream);
    }
    printf("impl=libpnas kernel=bn_relu6 threads=%d fwd_ms=%.3f bwd_ms=%.3f stream_gbps=%.2f\n",
           (int)thread_counts[t], 1e3 * fwd, 1e3 * bwd, stream);
  }
  return 0;
}
