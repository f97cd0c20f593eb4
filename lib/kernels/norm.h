/* SPDX-License-Identifier: MIT */
/* Batch normalisation over the rows of an NHWC tensor viewed as
 * [rows = N*H*W][c]. Private. */
#ifndef PNI_KERNELS_NORM_H
#define PNI_KERNELS_NORM_H

#include <stdint.h>

/* Training mode: batch statistics (biased variance) normalise x into y;
 * save_mean[c] and save_invstd[c] = 1/sqrt(var + eps) are kept for the
 * backward pass; the running statistics move with PyTorch's convention:
 * running = (1 - momentum) * running + momentum * batch, where the running
 * variance takes the unbiased batch variance (rows / (rows - 1)).
 * With rows == 1 the batch variance is 0 (y = beta) and the running
 * variance is left unchanged (one value says nothing about the spread;
 * PyTorch refuses this case); the running mean still moves. With rows == 0
 * only save_mean (0) and save_invstd (1/sqrt(eps)) are written.
 * Results are bitwise identical for any thread count. y may alias x. y
 * NULL computes the statistics only: the output is left to be rebuilt by
 * its reader (pni_bn_rebuild_rows). */
void pni_bn_forward_train(int32_t threads, int64_t rows, int64_t c, const float *x,
                          const float *gamma, const float *beta, float eps, float momentum,
                          float *running_mean, float *running_var, float *y, float *save_mean,
                          float *save_invstd);

/* pni_bn_forward_train followed by ReLU6 in the same pass over y: bitwise
 * the result of the two passes, with one pass over memory fewer. y may be
 * NULL, as there. */
void pni_bn_relu6_forward_train(int32_t threads, int64_t rows, int64_t c, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *running_mean, float *running_var, float *y, float *save_mean,
                                float *save_invstd);

/* An output of the training forward that was not kept: y = (z - save_mean)
 * * (gamma * save_invstd) + beta, then ReLU6 when relu6 is set, over
 * [rows][c]. */
typedef struct pni_bn_source {
  const float *z;                       /* the BN input, row stride c */
  const float *gamma, *beta;            /* c each */
  const float *save_mean, *save_invstd; /* the forward's saved statistics */
  int64_t c;
  int relu6;
} pni_bn_source;

/* Rebuilds rows [r0, r1) of src into y (y[0] is row r0, row stride c) in
 * the calling thread: bitwise what pni_bn_forward_train (or
 * pni_bn_relu6_forward_train) wrote there with those saved statistics,
 * since both run the same code. */
void pni_bn_rebuild_rows(const pni_bn_source *src, int64_t r0, int64_t r1, float *y);

/* Evaluation mode: running statistics. y may alias x. */
void pni_bn_forward_eval(int32_t threads, int64_t rows, int64_t c, const float *x,
                         const float *gamma, const float *beta, const float *running_mean,
                         const float *running_var, float eps, float *y);

/* Evaluation mode followed, in the same pass, by ReLU6 when relu6 is set
 * and by adding residual ([rows][c], may be NULL): bitwise the result of
 * pni_bn_forward_eval, pni_relu6_forward and pni_add run one after the
 * other, with one pass over memory instead of three. y may alias x (not
 * residual, unless it is x as well). */
void pni_bn_forward_eval_fused(int32_t threads, int64_t rows, int64_t c, const float *x,
                               const float *gamma, const float *beta, const float *running_mean,
                               const float *running_var, float eps, int relu6,
                               const float *residual, float *y);

/* The evaluation-mode scale gamma / sqrt(running_var + eps) of c channels,
 * computed in double and rounded once, as every evaluation path does. */
void pni_bn_eval_scale(int64_t c, const float *gamma, const float *running_var, float eps,
                       float *scale);

/* Backward of the training-mode forward, from the input x and the saved
 * statistics: dx (overwritten; may alias dy), dgamma and dbeta (overwritten;
 * zero when rows == 0). Bitwise identical for any thread count. */
void pni_bn_backward(int32_t threads, int64_t rows, int64_t c, const float *x, const float *dy,
                     const float *gamma, const float *save_mean, const float *save_invstd,
                     float *dx, float *dgamma, float *dbeta);

/* Backward of pni_bn_relu6_forward_train: dy is the gradient of the ReLU6
 * output. The ReLU6 mask is recomputed from x, gamma, beta and the saved
 * statistics with the forward's arithmetic, so the result is bitwise that
 * of pni_relu6_backward then pni_bn_backward, without reading the ReLU6
 * output or writing the masked gradient. dx may alias dy. */
void pni_bn_relu6_backward(int32_t threads, int64_t rows, int64_t c, const float *x,
                           const float *dy, const float *gamma, const float *beta,
                           const float *save_mean, const float *save_invstd, float *dx,
                           float *dgamma, float *dbeta);

#endif /* PNI_KERNELS_NORM_H */
