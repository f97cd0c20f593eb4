/* SPDX-License-Identifier: MIT */
/* Expected latency of a layer, its gradient with respect to the layer's
 * architecture logits, and the latency loss forms (ALGORITHM.md section 4).
 * Pure functions in double, checked against finite differences in
 * tests/unit/search/test_latency_math.c. Private. */
#ifndef PNI_SEARCH_LATENCY_LOSS_H
#define PNI_SEARCH_LATENCY_LOSS_H

#include <stdint.h>

#include "core/context.h"

/* E = sum_i p_i * lat_i over a layer's n candidates (the zero op is given
 * lat 0). In `two` mode the caller passes the pair's q and 0 for the rest. */
double pni_layer_expected_latency(const double *p, const double *lat, int32_t n);

/* dE/dalpha_i = p_i * (lat_i - E) for p = softmax(alpha), written into
 * out_grad[0 .. n-1] (overwritten). */
void pni_layer_expected_latency_grad(const double *p, const double *lat, int32_t n,
                                     double *out_grad);

/* The arch loss and what its gradient needs: the factor on the
 * cross-entropy's gradient (the gate gradients of the CE are scaled by it)
 * and dloss/dE, which multiplies dE/dalpha. */
typedef struct pni_latency_loss {
  double loss, ce_scale, dloss_dE;
} pni_latency_loss;

/* The loss forms (T = target_ms, E = expected_ms):
 *   none:    loss = ce;                         ce_scale = 1; dloss_dE = 0
 *   add:     loss = ce + lambda*(E - T)/T;       ce_scale = 1; dloss_dE = lambda/T
 *   mul-log: loss = a*ce*(ln E / ln T)^beta;     ce_scale = a*(ln E/ln T)^beta;
 *            dloss_dE = a*ce*beta*(ln E/ln T)^(beta-1) / (E*ln T)
 *   abs:     loss = ce + lambda*|E/T - 1|;       ce_scale = 1;
 *            dloss_dE = lambda*sign(E/T - 1)/T (0 at E == T)
 * Every input must be finite. The add and abs forms need T > 0. mul-log
 * needs E > 0 and T > 0 (logarithms), T != 1 ms (ln T = 0 divides) and
 * ln E / ln T > 0, i.e. E and T on the same side of 1 ms, since a negative
 * base has no real power beta. Any other input is PNAS_ERR_NUMERIC with a
 * message naming the problem (ctx may be NULL: then no message); an unknown
 * form is PNAS_ERR_INVALID_ARGUMENT. *out is untouched on failure. */
pnas_status pni_latency_loss_eval(pnas_context *ctx, pnas_loss_form form, double ce,
                                  double expected_ms, double target_ms, double lambda, double a,
                                  double beta, pni_latency_loss *out);

#endif /* PNI_SEARCH_LATENCY_LOSS_H */
