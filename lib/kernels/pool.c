/* SPDX-License-Identifier: MIT */
/* Global average pooling of NHWC [n][hw][c] into [n][c], and its backward. */
#include "kernels/elementwise.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* Portable x86-64-v2 build; an AVX2 clone is picked at load time. */
#define PNI_HOT __attribute__((target_clones("avx2", "default")))
#else
#define PNI_HOT
#endif

enum {
  PNI_POOL_BLOCK = 256,     /* channels summed together in one double buffer */
  PNI_POOL_SERIAL = 1 << 16 /* below this many elements one thread is faster */
};

static int team_size(int32_t threads, int64_t count) {
  return threads > 1 && count >= PNI_POOL_SERIAL ? (int)threads : 1;
}

/* acc[j] = sum over the hw positions of x[p][j] (row stride c), in double. */
PNI_HOT static void sum_positions(int64_t hw, int64_t c, int64_t cb, const float *x,
                                  double *restrict acc) {
  for (int64_t j = 0; j < cb; j++) acc[j] = 0.0;
  for (int64_t p = 0; p < hw; p++) {
    const float *xp = x + p * c;
#pragma omp simd
    for (int64_t j = 0; j < cb; j++) acc[j] += (double)xp[j];
  }
}

/* Each (image, channel block) pair is summed over hw in double by a single
 * thread, so the result does not depend on the thread count. */
void pni_avgpool_forward(int32_t threads, int64_t n, int64_t hw, int64_t c, const float *x,
                         float *y) {
  if (n <= 0 || c <= 0) return;
  const int64_t blocks = (c + PNI_POOL_BLOCK - 1) / PNI_POOL_BLOCK;
  const double inv_hw = hw > 0 ? 1.0 / (double)hw : 0.0;
  const int team = team_size(threads, n * hw * c);
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t task = 0; task < n * blocks; task++) {
    const int64_t img = task / blocks, c0 = (task % blocks) * PNI_POOL_BLOCK;
    const int64_t cb = c - c0 < PNI_POOL_BLOCK ? c - c0 : PNI_POOL_BLOCK;
    double acc[PNI_POOL_BLOCK];
    sum_positions(hw, c, cb, x + img * hw * c + c0, acc);
    float *yi = y + img * c + c0;
    for (int64_t j = 0; j < cb; j++) yi[j] = (float)(acc[j] * inv_hw);
  }
}

void pni_avgpool_backward(int32_t threads, int64_t n, int64_t hw, int64_t c, const float *dy,
                          float *dx) {
  if (n <= 0 || hw <= 0 || c <= 0) return;
  const float inv_hw = (float)(1.0 / (double)hw);
  const int team = team_size(threads, n * hw * c);
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t row = 0; row < n * hw; row++) {
    const float *g = dy + (row / hw) * c;
    float *d = dx + row * c;
#pragma omp simd
    for (int64_t j = 0; j < c; j++) d[j] = g[j] * inv_hw;
  }
}
