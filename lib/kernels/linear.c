/* SPDX-License-Identifier: MIT */
/* Fully connected layer: the products go through pni_sgemm; the bias and
 * its gradient are small row/column passes done here. */
#include "kernels/linear.h"

#include <string.h>

#include "kernels/gemm.h"

enum {
  PNI_LINEAR_BLOCK = 256,     /* columns summed together in one double buffer */
  PNI_LINEAR_SERIAL = 1 << 16 /* below this many elements one thread is faster */
};

static int team_size(int32_t threads, int64_t count) {
  return threads > 1 && count >= PNI_LINEAR_SERIAL ? (int)threads : 1;
}

void pni_linear_forward(int32_t threads, int64_t n, int64_t in, int64_t out, const float *x,
                        const float *w, const float *bias, float *y) {
  if (n <= 0 || out <= 0) return;
  /* Seed y with the bias so the GEMM adds the product onto it (beta = 1):
   * one pass over y instead of two. */
  for (int64_t i = 0; i < n; i++) memcpy(y + i * out, bias, sizeof(float) * (size_t)out);
  if (in > 0) pni_sgemm(threads, 0, 0, n, out, in, 1.0f, x, in, w, out, 1.0f, y, out);
}

/* dbias[j] = sum over rows of dy[i][j], in double; each column block is
 * summed by one thread in row order, so the result is thread-independent. */
static void column_sums(int32_t threads, int64_t n, int64_t out, const float *dy, float *dbias) {
  const int64_t blocks = (out + PNI_LINEAR_BLOCK - 1) / PNI_LINEAR_BLOCK;
  const int team = team_size(threads, n * out);
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t c0 = b * PNI_LINEAR_BLOCK;
    const int64_t cb = out - c0 < PNI_LINEAR_BLOCK ? out - c0 : PNI_LINEAR_BLOCK;
    double acc[PNI_LINEAR_BLOCK];
    for (int64_t j = 0; j < cb; j++) acc[j] = 0.0;
    for (int64_t i = 0; i < n; i++) {
      const float *row = dy + i * out + c0;
#pragma omp simd
      for (int64_t j = 0; j < cb; j++) acc[j] += (double)row[j];
    }
    for (int64_t j = 0; j < cb; j++) dbias[c0 + j] = (float)acc[j];
  }
}

void pni_linear_backward(int32_t threads, int64_t n, int64_t in, int64_t out, const float *x,
                         const float *w, const float *dy, float *dx, float *dw, float *dbias) {
  if (out <= 0) {
    /* No outputs: every product is an empty sum. */
    if (dx != NULL && n > 0 && in > 0) memset(dx, 0, sizeof(float) * (size_t)(n * in));
    return;
  }
  if (dx != NULL && n > 0 && in > 0) {
    pni_sgemm(threads, 0, 1, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
  }
  if (dw == NULL) return;
  if (n <= 0) {
    if (in > 0) memset(dw, 0, sizeof(float) * (size_t)(in * out));
    memset(dbias, 0, sizeof(float) * (size_t)out);
    return;
  }
  if (in > 0) pni_sgemm(threads, 1, 0, in, out, n, 1.0f, x, in, dy, out, 0.0f, dw, out);
  column_sums(threads, n, out, dy, dbias);
}
