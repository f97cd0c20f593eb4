/* SPDX-License-Identifier: MIT */
/* 1x1 convolution in NHWC: every pixel is a row, so the whole layer is one
 * GEMM with M = N*H*W, large even at 7x7 resolution. All three products
 * run on libpnas's row kernels where they run (gemm_rows.c for the forward
 * and backward-data, gemm_wgrad.c for the weight gradient; bench-gemm on
 * Zen 5: 1.19x-1.21x BLIS over the supernet's shapes), else on BLIS. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/gemm_rows.h"

void pni_conv1x1_forward(int32_t threads, int64_t rows, int64_t cin, int64_t cout, const float *x,
                         const float *w, float *y) {
  if (pni_gemm_rows_fits(cin, cout)) {
    pni_gemm_rows(threads, rows, cin, cout, x, w, y);
    return;
  }
  pni_sgemm(threads, 0, 0, rows, cout, cin, 1.0f, x, cin, w, cout, 0.0f, y, cout);
}

void pni_conv1x1_backward_data(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                               const float *dy, const float *w, float *dx, float *wt) {
  /* w is stored [cin][cout]; wt receives the [cout][cin] factor. Its
   * cin * cout floats against rows * cin * cout multiply-adds: the copy is
   * free beside the product it speeds up. */
  for (int64_t i = 0; i < cin; i++) {
    for (int64_t o = 0; o < cout; o++) wt[o * cin + i] = w[i * cout + o];
  }
  if (pni_gemm_rows_fits(cout, cin)) {
    pni_gemm_rows(threads, rows, cout, cin, dy, wt, dx);
    return;
  }
  pni_sgemm(threads, 0, 0, rows, cin, cout, 1.0f, dy, cout, wt, cin, 0.0f, dx, cin);
}

void pni_conv1x1_backward_weight(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                                 const float *x, const float *dy, float *dw, int accumulate) {
  if (pni_gemm_rows_tn_fits(cin, cout)) {
    pni_gemm_rows_tn(threads, cin, rows, cout, x, dy, accumulate, dw);
    return;
  }
  pni_sgemm(threads, 1, 0, cin, cout, rows, 1.0f, x, cin, dy, cout, accumulate ? 1.0f : 0.0f, dw,
            cout);
}
