/* SPDX-License-Identifier: MIT */
/* Convolutions on float32 NHWC tensors: 1x1 (one GEMM over N*H*W rows),
 * k x k full convolution (the stem; im2col + GEMM) and depthwise k x k
 * (direct, vectorised across channels). Private. */
#ifndef PNI_KERNELS_CONV_H
#define PNI_KERNELS_CONV_H

#include <stddef.h>
#include <stdint.h>

/* 1x1 convolution, stride 1: y[rows x cout] = x[rows x cin] * w[cin x cout],
 * rows = N*H*W. Weights are stored cin-major ([cin][cout]). */
void pni_conv1x1_forward(int32_t threads, int64_t rows, int64_t cin, int64_t cout, const float *x,
                         const float *w, float *y);
/* dx[rows x cin] = dy * w^T (overwrites dx). w is first transposed into
 * wt (room for cin * cout floats, aliasing nothing else), so that BLIS
 * multiplies two untransposed operands: measured on the supernet's shapes,
 * BLIS 0.9 runs dy * w^T read through swapped strides up to 2.5x slower
 * than the same product with w^T stored (12544 x 144 x 24: 14 against 36
 * GFLOP/s). */
void pni_conv1x1_backward_data(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                               const float *dy, const float *w, float *dx, float *wt);
/* dw[cin x cout] = x^T * dy, added to dw when accumulate, else overwritten. */
void pni_conv1x1_backward_weight(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                                 const float *x, const float *dy, float *dw, int accumulate);

/* Geometry of a k x k convolution with zero padding `pad` on every side:
 * out_h = (h + 2*pad - k) / stride + 1, likewise out_w. */
typedef struct pni_conv_shape {
  int64_t n, h, w, cin, cout;
  int64_t k, stride, pad;
  int64_t out_h, out_w;
} pni_conv_shape;

/* Fills out_h/out_w from the rest. Returns 0 if the geometry is invalid
 * (non-positive sizes, output smaller than 1). */
int pni_conv_shape_init(pni_conv_shape *s, int64_t n, int64_t h, int64_t w, int64_t cin,
                        int64_t cout, int64_t k, int64_t stride, int64_t pad);

/* Full k x k convolution (groups = 1). Weights are [k][k][cin][cout] (row of
 * the im2col matrix = (ky, kx, ci)). `col` is a workspace of at least
 * pni_conv_workspace_floats(s) floats. y is [n][out_h][out_w][cout]. */
size_t pni_conv_workspace_floats(const pni_conv_shape *s);
void pni_conv_forward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                      float *y, float *col);
/* Backward: dw (overwritten) and, when dx is not NULL, dx (overwritten). */
void pni_conv_backward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                       const float *dy, float *dx, float *dw, float *col);

/* Depthwise k x k convolution, k in {3, 5, 7}, stride 1 or 2, pad = k/2
 * (cin == cout == c). Weights are [k][k][c]. */
void pni_dwconv_forward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                        float *y);
/* Depthwise forward followed by evaluation-mode batch norm (running
 * statistics) and, when relu6 is set, ReLU6, applied to each output row
 * while it is still in cache: bitwise pni_dwconv_forward, then
 * pni_bn_forward_eval, then pni_relu6_forward, with one pass over y instead
 * of three. y must not alias x. */
void pni_dwconv_forward_bn(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                           const float *gamma, const float *beta, const float *running_mean,
                           const float *running_var, float eps, int relu6, float *y);
/* Whether the depthwise kernels may take their 512-bit paths on processors
 * with AVX-512 (on by default; they give the same bits as the others).
 * Returns the previous setting. For tests, which run both paths on one
 * machine; not to be changed while a kernel runs. */
int pni_dwconv_allow_avx512(int allow);

/* Slices of the batch whose dw partial sums the depthwise backward adds up
 * in order. */
#define PNI_DW_GRAD_CHUNKS 4

/* Floats of the workspace pni_dwconv_backward() and
 * pni_dwconv_backward_rebuilt() use for shape s. */
size_t pni_dwconv_grad_workspace_floats(const pni_conv_shape *s);

/* dx (overwritten, may be NULL) and dw (overwritten, may be NULL; then
 * workspace may be NULL too). dw is summed over PNI_DW_GRAD_CHUNKS fixed
 * slices of the batch, one per thread, with the partial sums in workspace
 * (pni_dwconv_grad_workspace_floats() floats), folded in slice order: each
 * thread reads images of its own and the work splits evenly whatever the
 * channel count, and the bits are the same for any thread count. (It
 * replaced a split of the channels between threads, which gave unequal
 * shares when 16-channel groups did not divide evenly: at batch 64 on two
 * threads the backward was 5-15% faster on 144 and 480 channels.) */
void pni_dwconv_backward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *workspace);

struct pni_bn_source;
/* pni_dwconv_backward with the input given as a batch-norm output the
 * forward did not keep (see pni_bn_source): each image is rebuilt into the
 * workspace just before the weight gradient reads it, while it is in
 * cache, instead of in a pass over the whole tensor; bitwise the result
 * of pni_dwconv_backward on the forward's x. */
void pni_dwconv_backward_rebuilt(const pni_conv_shape *s, int32_t threads,
                                 const struct pni_bn_source *x, const float *w, const float *dy,
                                 float *dx, float *dw, float *workspace);

/* pni_dwconv_forward with the input given as a batch-norm output the
 * producer's forward did not write (pni_bn_forward_train with y NULL):
 * each image is rebuilt into the workspace (the one of
 * pni_dwconv_backward_rebuilt, one image per thread, at most
 * PNI_DW_GRAD_CHUNKS threads) and convolved while it is in cache, so the
 * producer's output never makes the trip to memory and back; bitwise the
 * result of pni_dwconv_forward on that output. */
void pni_dwconv_forward_rebuilt(const pni_conv_shape *s, int32_t threads,
                                const struct pni_bn_source *x, const float *w, float *y,
                                float *workspace);

#endif /* PNI_KERNELS_CONV_H */
