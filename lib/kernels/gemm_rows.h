/* SPDX-License-Identifier: MIT */
/* libpnas's own kernels for row-major products with a short reduction
 * (k <= 1024) and many rows, the shape of every 1x1 convolution: the
 * plain product (the training forward and backward-data of a 1x1), and
 * the evaluation-mode convolutions with batch norm in the epilogue (the
 * 1x1 and the full k x k stem compute a block of outputs in registers and
 * apply batch norm with the running statistics, ReLU6 and the residual add
 * before the one store, so no separate pass reads the output back).
 * gemm_rows.c explains when they run and the order of their sums. */
#ifndef PNI_KERNELS_GEMM_ROWS_H
#define PNI_KERNELS_GEMM_ROWS_H

#include <stdint.h>

#include "kernels/conv.h"

/* Batch norm with running statistics, then ReLU6 (relu6 set), then the
 * residual (not NULL: row stride cout, like the output). */
typedef struct pni_bn_eval {
  const float *gamma, *beta, *running_mean, *running_var;
  float eps;
  int relu6;
  const float *residual;
} pni_bn_eval;

/* The largest reduction length and output width the kernels take (a
 * 12-row block of A, 48 KiB at most, stays in L1 or L2 while its panels
 * run; the batch-norm scale of n columns is kept on the stack). */
#define PNI_GEMM_ROWS_KMAX 1024
#define PNI_GEMM_ROWS_NMAX 1024
/* The stem kernel keeps the k input rows under an output row, zero-padded,
 * on its stack: k rows of about (w + 2 pad) * cin + 16 floats, at most
 * this many in all (a 224-wide RGB image with k = 7 needs 7 x 751). */
#define PNI_GEMM_ROWS_PAD_FLOATS 8192

/* Whether the kernels run on this machine at all (AVX-512F on a processor
 * they were measured on, and not forbidden by pni_gemm_rows_allow). */
int pni_gemm_rows_active(void);

/* Whether pni_gemm_rows and pni_conv1x1_forward_bn take a product with
 * reduction length k and n outputs per row (on this machine). */
int pni_gemm_rows_fits(int64_t k, int64_t n);

/* Whether pni_conv_forward_bn takes the full convolution s. */
int pni_conv_bn_fits(const pni_conv_shape *s);

/* y[rows x cout] = BN(x[rows x cin] w[cin x cout]) with bn's ReLU6 and
 * residual: what pni_conv1x1_forward followed by pni_bn_forward_eval_fused
 * computes, each product summed in increasing order of the reduction with
 * one FMA per step (the same bits for any thread count). y must not
 * overlap x or the residual. Requires pni_gemm_rows_fits(cin, cout)
 * (else nothing is written). */
void pni_conv1x1_forward_bn(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                            const float *x, const float *w, const pni_bn_eval *bn, float *y);

/* pooled[images x cout] = the global average over each image's hw rows of
 * pni_conv1x1_forward_bn's output (bn without a residual), which is never
 * stored: the bits of that output followed by pni_avgpool_forward (sums
 * in double, row by row in order). The head of a network in evaluation.
 * Requires pni_gemm_rows_fits(cin, cout) (else nothing is written). */
void pni_conv1x1_forward_bn_pool(int32_t threads, int64_t images, int64_t hw, int64_t cin,
                                 int64_t cout, const float *x, const float *w,
                                 const pni_bn_eval *bn, float *pooled);

/* c[m x n] = a[m x k] b[k x n], all row-major with contiguous rows, summed
 * as pni_conv1x1_forward_bn sums (no epilogue). Requires
 * pni_gemm_rows_fits(k, n) (else nothing is written). */
void pni_gemm_rows(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a, const float *b,
                   float *c);

/* Whether pni_gemm_rows_tn takes an m x n result (on this machine). */
int pni_gemm_rows_tn_fits(int64_t m, int64_t n);

/* c[m x n] = a^T b, or c += a^T b with accumulate set, for a[k x m] and
 * b[k x n] row-major with contiguous rows: the 1x1 weight gradient
 * (gemm_wgrad.c gives the order of its sums, which does not depend on
 * the threads). Requires pni_gemm_rows_tn_fits(m, n) (else nothing is
 * written). */
void pni_gemm_rows_tn(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a,
                      const float *b, int accumulate, float *c);

/* The full convolution s of x (NHWC) by w ([k][k][cin][cout]), then bn:
 * what pni_conv_forward followed by pni_bn_forward_eval_fused computes,
 * summed in the order of pni_conv1x1_forward_bn over the column matrix's
 * columns, without the column matrix (each block of output pixels
 * gathers its own columns). Requires pni_conv_bn_fits(s). */
void pni_conv_forward_bn(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                         const pni_bn_eval *bn, float *y);

/* For tests and benchmarks: allow (1) or forbid (0) the kernels; returns
 * the previous setting. Not to be changed while a kernel runs. */
int pni_gemm_rows_allow(int allow);

#endif /* PNI_KERNELS_GEMM_ROWS_H */
