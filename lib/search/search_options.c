/* SPDX-License-Identifier: MIT */
/* The allowed ranges of pnas_search_options, in one place: checked when a
 * host sets them and again when a checkpoint brings them back. */
#include <math.h>

#include "search/supernet.h"

const char *pni_search_options_invalid(const pnas_search_options *o) {
  if (o->arch_mode != PNAS_ARCH_MODE_TWO && o->arch_mode != PNAS_ARCH_MODE_FULL_V2) {
    return "arch_mode";
  }
  if (!(o->arch_lr >= 0.0f) || !isfinite(o->arch_lr)) return "arch_lr";
  if (!(o->arch_beta1 >= 0.0f && o->arch_beta1 < 1.0f)) return "arch_beta1";
  if (!(o->arch_beta2 >= 0.0f && o->arch_beta2 < 1.0f)) return "arch_beta2";
  if (!(o->arch_eps > 0.0f)) return "arch_eps";
  if (o->loss_form < PNAS_LOSS_NONE || o->loss_form > PNAS_LOSS_ABS) return "loss_form";
  if (o->loss_form != PNAS_LOSS_NONE && !(o->target_ms > 0.0f && isfinite(o->target_ms))) {
    return "target_ms";
  }
  if (o->loss_form == PNAS_LOSS_MUL_LOG && !(o->target_ms > 1.0f)) {
    return "target_ms (mul-log needs T > 1 ms: below, ln T < 0 and the term rewards slower "
           "networks)";
  }
  if (!(o->lambda >= 0.0f) || !isfinite(o->lambda)) return "lambda";
  if (!(o->mul_log_a > 0.0f) || !isfinite(o->mul_log_a)) return "mul_log_a";
  if (!(o->mul_log_beta >= 0.0f) || !isfinite(o->mul_log_beta)) return "mul_log_beta";
  if (o->rl_samples < 1 || o->rl_samples > 100000) return "rl_samples";
  if (!isfinite(o->rl_exponent)) return "rl_exponent";
  if (!(o->rl_baseline_decay >= 0.0f && o->rl_baseline_decay <= 1.0f)) return "rl_baseline_decay";
  if (!(o->prune_threshold >= 0.0f && o->prune_threshold < 1.0f)) return "prune_threshold";
  if (o->prune_patience < 1) return "prune_patience";
  return NULL;
}
