/* SPDX-License-Identifier: MIT */
/* The machine's fp32 peak, measured: every thread runs independent chains
 * of 256-bit fused multiply-adds (AVX2 + FMA; enough chains to cover the
 * FMA latency) from registers, so the rate is bounded by the FMA units
 * alone. This is the denominator of the FLOP-rate figures in
 * docs/performance.md. Prints one key=value line per thread count
 * (impl=peak); on a processor with AVX-512F, also the same loop in 512-bit
 * registers (impl=peak512), which is the machine's real peak where the
 * units are 512 bits wide (Zen 5, Intel server cores).
 *
 *   bench-peak [threads...]     (default: 1 and 2) */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { CHAINS = 12, REPEATS = 5 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#ifdef HAVE_X86
/* CHAINS x 8 lanes x 2 flops per iteration. The result is stored so that
 * the loop is not optimised away. */
__attribute__((target("avx2,fma"))) static float fma_loop(long iters, float seed) {
  __m256 acc[CHAINS];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps(seed + (float)i);
  for (long it = 0; it < iters; it++) {
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

/* The same loop with CHAINS x 16 lanes. */
__attribute__((target("avx512f"))) static float fma_loop512(long iters, float seed) {
  __m512 acc[CHAINS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(seed + (float)i);
  for (long it = 0; it < iters; it++) {
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}
#endif

typedef float (*loop_fn)(long iters, float seed);

/* Best of REPEATS timed runs on `threads` threads, in GFLOP/s. */
static double measure(loop_fn loop, int threads, long iters, int lanes) {
  double best = 1e30;
  volatile float sink = 0.0f;
  for (int rep = 0; rep <= REPEATS; rep++) { /* rep 0 warms up the clocks */
    const double t0 = now_s();
    float sum = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    sum += loop(iters, (float)omp_get_thread_num());
    const double dt = now_s() - t0;
    sink = sink + sum;
    if (rep > 0 && dt < best) best = dt;
  }
  const double flops = (double)threads * (double)iters * CHAINS * lanes * 2;
  return 1e-9 * flops / best;
}

int main(int argc, char **argv) {
#ifndef HAVE_X86
  fprintf(stderr, "bench-peak: needs x86-64 with AVX2 and FMA\n");
  return 77;
#else
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    fprintf(stderr, "bench-peak: this processor has no AVX2 + FMA\n");
    return 77;
  }
  int threads[8] = {1, 2}, count = 2;
  if (argc > 1) {
    count = 0;
    for (int i = 1; i < argc && count < 8; i++) threads[count++] = atoi(argv[i]);
  }
  const long iters = 20000000; /* about 0.1 s per thread at 50 GFLOP/s */
  const int wide = __builtin_cpu_supports("avx512f");
  for (int t = 0; t < count; t++) {
    printf("impl=peak threads=%d gflop_per_s=%.2f\n", threads[t],
           measure(fma_loop, threads[t], iters, 8));
    if (wide) {
      printf("impl=peak512 threads=%d gflop_per_s=%.2f\n", threads[t],
             measure(fma_loop512, threads[t], iters, 16));
    }
  }
  return 0;
#endif
}
