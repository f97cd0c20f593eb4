/* SPDX-License-Identifier: MIT */
/* Fully connected layer and the softmax cross-entropy loss. Private. */
#ifndef PNI_KERNELS_LINEAR_H
#define PNI_KERNELS_LINEAR_H

#include <stdint.h>

/* y[n x out] = x[n x in] * w[in x out] + bias[out]. */
void pni_linear_forward(int32_t threads, int64_t n, int64_t in, int64_t out, const float *x,
                        const float *w, const float *bias, float *y);
/* dx (overwritten; NULL to skip) = dy * w^T; dw (overwritten) = x^T * dy;
 * dbias (overwritten) = column sums of dy. dw and dbias are both NULL or
 * both not: NULL skips the weight gradients (an architecture step needs
 * only dx). */
void pni_linear_backward(int32_t threads, int64_t n, int64_t in, int64_t out, const float *x,
                         const float *w, const float *dy, float *dx, float *dw, float *dbias);

/* Mean softmax cross-entropy over the batch with label smoothing s: the
 * target is (1 - s) on the label and s / classes on every class. Labels
 * must be in [0, classes) (checked by the caller). Returns the mean loss
 * (computed in double); *correct receives how many rows have their
 * argmax equal to the label (ties: lowest index); when dlogits is not NULL
 * it receives d(mean loss)/d(logits) = (softmax - target) / n. */
double pni_softmax_xent(int32_t threads, int64_t n, int64_t classes, const float *logits,
                        const int32_t *labels, float smoothing, float *dlogits, int64_t *correct);

#endif /* PNI_KERNELS_LINEAR_H */
