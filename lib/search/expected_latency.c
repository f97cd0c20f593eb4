/* SPDX-License-Identifier: MIT */
/* Expected latency, its closed-form alpha gradient, and the loss forms
 * (ALGORITHM.md section 4). */
#include <math.h>
#include <stdarg.h>

#include "search/latency_loss.h"

double pni_layer_expected_latency(const double *p, const double *lat, int32_t n) {
  double e = 0.0;
  for (int32_t i = 0; i < n; i++) e += p[i] * lat[i];
  return e;
}

/* With p = softmax(alpha), dp_j/dalpha_i = p_j (delta_ij - p_i), so
 * dE/dalpha_i = sum_j lat_j p_j (delta_ij - p_i) = p_i (lat_i - E): the
 * BinaryConnect estimator of ALGORITHM.md section 2 with the latencies in
 * place of the gate gradients, which is exact for E. */
void pni_layer_expected_latency_grad(const double *p, const double *lat, int32_t n,
                                     double *out_grad) {
  const double e = pni_layer_expected_latency(p, lat, n);
  for (int32_t i = 0; i < n; i++) out_grad[i] = p[i] * (lat[i] - e);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static pnas_status
fail(pnas_context *ctx, pnas_status status, const char *fmt, ...) {
  if (ctx == NULL) return status;
  char message[PNI_ERROR_CAPACITY];
  va_list ap;
  va_start(ap, fmt);
  pni_format_message(message, sizeof message, fmt, ap);
  va_end(ap);
  return pni_fail(ctx, status, "%s", message);
}

static const char *form_name(pnas_loss_form form) {
  switch (form) {
    case PNAS_LOSS_NONE:
      return "none";
    case PNAS_LOSS_ADD:
      return "add";
    case PNAS_LOSS_MUL_LOG:
      return "mul-log";
    case PNAS_LOSS_ABS:
      return "abs";
  }
  return "unknown";
}

/* Inputs every form but none uses. */
static pnas_status check_finite(pnas_context *ctx, pnas_loss_form form, double ce,
                                double expected_ms, double target_ms, double p1, const char *n1,
                                double p2, const char *n2) {
  const double values[] = {ce, expected_ms, target_ms, p1, p2};
  const char *const names[] = {"the cross-entropy", "the expected latency", "the target latency",
                               n1, n2};
  for (int i = 0; i < 5; i++) {
    if (names[i] != NULL && !isfinite(values[i])) {
      return fail(ctx, PNAS_ERR_NUMERIC, "latency loss '%s': %s is %g; it must be finite",
                  form_name(form), names[i], values[i]);
    }
  }
  return PNAS_OK;
}

static pnas_status positive_target(pnas_context *ctx, pnas_loss_form form, double target_ms) {
  if (target_ms > 0.0) return PNAS_OK;
  return fail(ctx, PNAS_ERR_NUMERIC,
              "latency loss '%s': the target latency is %g ms; it must be > 0 (it divides)",
              form_name(form), target_ms);
}

static pnas_status mul_log(pnas_context *ctx, double ce, double e, double t, double a, double beta,
                           pni_latency_loss *r) {
  if (!(e > 0.0)) {
    return fail(ctx, PNAS_ERR_NUMERIC,
                "latency loss 'mul-log': the expected latency is %g ms; it must be > 0 (ln E)", e);
  }
  if (!(t > 0.0) || t == 1.0) {
    return fail(ctx, PNAS_ERR_NUMERIC,
                "latency loss 'mul-log': the target latency is %g ms; it must be > 0 and not 1 ms "
                "(ln T divides)",
                t);
  }
  const double ln_t = log(t), ratio = log(e) / ln_t;
  if (!(ratio > 0.0)) {
    return fail(
        ctx, PNAS_ERR_NUMERIC,
        "latency loss 'mul-log': ln E / ln T is %g for E = %g ms, T = %g ms; it must be > 0 "
        "(E and T on the same side of 1 ms) to be raised to the power beta",
        ratio, e, t);
  }
  const double scale = a * pow(ratio, beta);
  r->ce_scale = scale;
  r->loss = scale * ce;
  r->dloss_dE = a * ce * beta * pow(ratio, beta - 1.0) / (e * ln_t);
  return PNAS_OK;
}

pnas_status pni_latency_loss_eval(pnas_context *ctx, pnas_loss_form form, double ce,
                                  double expected_ms, double target_ms, double lambda, double a,
                                  double beta, pni_latency_loss *out) {
  pni_latency_loss r = {ce, 1.0, 0.0};
  pnas_status st = PNAS_OK;
  switch (form) {
    case PNAS_LOSS_NONE:
      if (!isfinite(ce)) {
        st = fail(ctx, PNAS_ERR_NUMERIC,
                  "latency loss 'none': the cross-entropy is %g; it must "
                  "be finite",
                  ce);
      }
      break;
    case PNAS_LOSS_ADD:
      st = check_finite(ctx, form, ce, expected_ms, target_ms, lambda, "lambda", 0.0, NULL);
      if (st == PNAS_OK) st = positive_target(ctx, form, target_ms);
      if (st != PNAS_OK) break;
      r.loss = ce + lambda * (expected_ms - target_ms) / target_ms;
      r.dloss_dE = lambda / target_ms;
      break;
    case PNAS_LOSS_MUL_LOG:
      st = check_finite(ctx, form, ce, expected_ms, target_ms, a, "a", beta, "beta");
      if (st == PNAS_OK) st = mul_log(ctx, ce, expected_ms, target_ms, a, beta, &r);
      break;
    case PNAS_LOSS_ABS: {
      st = check_finite(ctx, form, ce, expected_ms, target_ms, lambda, "lambda", 0.0, NULL);
      if (st == PNAS_OK) st = positive_target(ctx, form, target_ms);
      if (st != PNAS_OK) break;
      const double d = expected_ms / target_ms - 1.0;
      r.loss = ce + lambda * fabs(d);
      /* The subgradient 0 at the kink: at the target the term neither pushes
       * latency up nor down. */
      r.dloss_dE = d > 0.0 ? lambda / target_ms : d < 0.0 ? -lambda / target_ms : 0.0;
      break;
    }
    default:
      st = fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                "latency loss form %d is unknown; it must be PNAS_LOSS_NONE (0), PNAS_LOSS_ADD "
                "(1), PNAS_LOSS_MUL_LOG (2) or PNAS_LOSS_ABS (3)",
                (int)form);
      break;
  }
  if (st != PNAS_OK) return st;
  *out = r;
  return PNAS_OK;
}
