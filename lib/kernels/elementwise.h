/* SPDX-License-Identifier: MIT */
/* Element-wise and reduction kernels: ReLU6, residual add, global average
 * pool, dropout. Private. */
#ifndef PNI_KERNELS_ELEMENTWISE_H
#define PNI_KERNELS_ELEMENTWISE_H

#include <stdint.h>

#include "core/rng.h"

/* y = min(max(x, 0), 6); y may alias x. */
void pni_relu6_forward(int32_t threads, int64_t count, const float *x, float *y);
/* dx = dy where 0 < y < 6, else 0, from the forward's output y (equivalent
 * to testing the input, and lets the forward run in place). dx may alias dy. */
void pni_relu6_backward(int32_t threads, int64_t count, const float *y, const float *dy,
                        float *dx);

/* out = a + b; out may alias a or b. */
void pni_add(int32_t threads, int64_t count, const float *a, const float *b, float *out);

/* Global average pool of [n][hw][c] into [n][c], and its backward
 * (dx[n][hw][c] = dy[n][c] / hw, overwritten). */
void pni_avgpool_forward(int32_t threads, int64_t n, int64_t hw, int64_t c, const float *x,
                         float *y);
void pni_avgpool_backward(int32_t threads, int64_t n, int64_t hw, int64_t c, const float *dy,
                          float *dx);

/* Inverted dropout with drop probability p in [0, 1): keeps each element
 * with probability 1 - p and scales kept ones by 1/(1 - p). mask[i] is 1 for
 * kept elements, 0 for dropped ones (filled here, sequentially from rng, so
 * the result does not depend on the thread count). p == 0 copies x. */
void pni_dropout_forward(int64_t count, float p, pni_rng *rng, const float *x, float *y,
                         uint8_t *mask);
void pni_dropout_backward(int64_t count, float p, const uint8_t *mask, const float *dy,
                          float *dx);

#endif /* PNI_KERNELS_ELEMENTWISE_H */
