/* SPDX-License-Identifier: MIT */
/* Inverted dropout. The mask is drawn element by element from one stream,
 * so it depends on the seed only, never on the thread count. */
#include "kernels/elementwise.h"

void pni_dropout_forward(int64_t count, float p, pni_rng *rng, const float *x, float *y,
                         uint8_t *mask) {
  if (p <= 0.0f) {
    for (int64_t i = 0; i < count; i++) {
      y[i] = x[i];
      mask[i] = 1;
    }
    return;
  }
  const float scale = (float)(1.0 / (1.0 - (double)p));
  for (int64_t i = 0; i < count; i++) {
    const int keep = pni_rng_uniform(rng) >= (double)p;
    mask[i] = (uint8_t)keep;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

void pni_dropout_backward(int64_t count, float p, const uint8_t *mask, const float *dy, float *dx) {
  const float scale = p > 0.0f ? (float)(1.0 / (1.0 - (double)p)) : 1.0f;
  for (int64_t i = 0; i < count; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
