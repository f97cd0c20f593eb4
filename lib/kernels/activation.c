/* SPDX-License-Identifier: MIT */
/* ReLU6 and the residual add: streaming element-wise passes, split into one
 * contiguous range per thread. */
#include <omp.h>

#include "kernels/elementwise.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* Portable x86-64-v2 build; an AVX2 clone is picked at load time. */
#define PNI_HOT __attribute__((target_clones("avx2", "default")))
#else
#define PNI_HOT
#endif

/* Below this many elements a thread team costs more than it saves. */
#define PNI_ELT_SERIAL (1 << 16)

static int team_size(int32_t threads, int64_t count) {
  return threads > 1 && count >= PNI_ELT_SERIAL ? (int)threads : 1;
}

static void my_range(int64_t count, int64_t *i0, int64_t *i1) {
  const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  *i0 = count * t / nt;
  *i1 = count * (t + 1) / nt;
}

/* NaN passes through (both comparisons are false), so a diverging run shows
 * up in the loss instead of being clamped into a plausible value. */
PNI_HOT static void relu6_range(int64_t n, const float *x, float *y) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
  }
}

PNI_HOT static void relu6_grad_range(int64_t n, const float *y, const float *dy, float *dx) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) dx[i] = (y[i] > 0.0f && y[i] < 6.0f) ? dy[i] : 0.0f;
}

PNI_HOT static void add_range(int64_t n, const float *a, const float *b, float *out) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pni_relu6_forward(int32_t threads, int64_t count, const float *x, float *y) {
  if (count <= 0) return;
#pragma omp parallel num_threads(team_size(threads, count))
  {
    int64_t i0, i1;
    my_range(count, &i0, &i1);
    relu6_range(i1 - i0, x + i0, y + i0);
  }
}

void pni_relu6_backward(int32_t threads, int64_t count, const float *y, const float *dy,
                        float *dx) {
  if (count <= 0) return;
#pragma omp parallel num_threads(team_size(threads, count))
  {
    int64_t i0, i1;
    my_range(count, &i0, &i1);
    relu6_grad_range(i1 - i0, y + i0, dy + i0, dx + i0);
  }
}

void pni_add(int32_t threads, int64_t count, const float *a, const float *b, float *out) {
  if (count <= 0) return;
#pragma omp parallel num_threads(team_size(threads, count))
  {
    int64_t i0, i1;
    my_range(count, &i0, &i1);
    add_range(i1 - i0, a + i0, b + i0, out + i0);
  }
}
