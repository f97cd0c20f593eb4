/* SPDX-License-Identifier: MIT */
/* Softmax cross-entropy with label smoothing over [n][classes] logits. */
#include <math.h>
#include <stddef.h>

#include "kernels/linear.h"

enum {
  PNI_XENT_CHUNKS = 16,     /* fixed row chunks: the loss sum is thread-independent */
  PNI_XENT_SERIAL = 1 << 14 /* below this many logits one thread is faster */
};

/* One row: returns its loss, sets *hit when the argmax is the label, and
 * writes the row's gradient when g is not NULL.
 * With t = (1 - s) onehot(label) + s / K and log p = l - lse:
 *   loss = lse - (1 - s) l[label] - (s / K) sum_k l[k]. */
static double xent_row(int64_t classes, const float *l, int32_t label, double s, double inv_n,
                       float *g, int *hit) {
  int64_t arg = 0;
  for (int64_t k = 1; k < classes; k++) {
    if (l[k] > l[arg]) arg = k; /* strict: ties keep the lowest index */
  }
  *hit = arg == (int64_t)label;
  const double mx = l[arg];
  double sum = 0.0, total = 0.0;
  for (int64_t k = 0; k < classes; k++) {
    const double e = exp((double)l[k] - mx);
    sum += e;
    total += (double)l[k];
    if (g != NULL) g[k] = (float)e;
  }
  const double lse = mx + log(sum);
  const double off = s / (double)classes;
  if (g != NULL) {
    const double inv_sum = 1.0 / sum;
    for (int64_t k = 0; k < classes; k++) {
      const double t = (k == (int64_t)label ? 1.0 - s : 0.0) + off;
      g[k] = (float)(((double)g[k] * inv_sum - t) * inv_n);
    }
  }
  return lse - (1.0 - s) * (double)l[label] - off * total;
}

double pni_softmax_xent(int32_t threads, int64_t n, int64_t classes, const float *logits,
                        const int32_t *labels, float smoothing, float *dlogits, int64_t *correct) {
  if (n <= 0 || classes <= 0) {
    if (correct != NULL) *correct = 0;
    return 0.0;
  }
  const double inv_n = 1.0 / (double)n, s = smoothing;
  double loss[PNI_XENT_CHUNKS];
  int64_t hits[PNI_XENT_CHUNKS];
  const int team = threads > 1 && n * classes >= PNI_XENT_SERIAL
                       ? (threads < PNI_XENT_CHUNKS ? (int)threads : PNI_XENT_CHUNKS)
                       : 1;
#pragma omp parallel for num_threads(team) schedule(static)
  for (int k = 0; k < PNI_XENT_CHUNKS; k++) {
    double acc = 0.0;
    int64_t h = 0;
    for (int64_t i = n * k / PNI_XENT_CHUNKS; i < n * (k + 1) / PNI_XENT_CHUNKS; i++) {
      int hit;
      acc += xent_row(classes, logits + i * classes, labels[i], s, inv_n,
                      dlogits != NULL ? dlogits + i * classes : NULL, &hit);
      h += hit;
    }
    loss[k] = acc;
    hits[k] = h;
  }
  double total = 0.0;
  int64_t h = 0;
  for (int k = 0; k < PNI_XENT_CHUNKS; k++) {
    total += loss[k];
    h += hits[k];
  }
  if (correct != NULL) *correct = h;
  return total * inv_n;
}
