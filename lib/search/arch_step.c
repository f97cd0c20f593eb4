/* SPDX-License-Identifier: MIT */
/* Architecture steps: binarized gates (two / full_v2), the BinaryConnect
 * alpha gradient with the latency term, Adam on alpha, the pair shift of
 * two mode, and REINFORCE. ALGORITHM.md sections 2 and 4. */
#include <math.h>
#include <string.h>

#include "kernels/linear.h"
#include "search/latency.h"
#include "search/latency_loss.h"
#include "search/supernet.h"

/* Draws the path of an arch step: full_v2 one candidate from p; two a pair
 * without replacement from p, then the active one of the pair from q. */
static void sample_gates(pnas_supernet *sn, int two_mode) {
  pni_rng *rng = &sn->ctx->rng;
  double p[PNI_SPACE_MAX_OPS];
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    pni_layer_probs(layer, p);
    layer->other = -1;
    if (!two_mode || layer->count < 2) {
      layer->active = pni_sample_index(rng, p, layer->count);
      continue;
    }
    const int32_t first = pni_sample_index(rng, p, layer->count);
    /* The second without replacement: renormalise without the first. */
    double rest[PNI_SPACE_MAX_OPS];
    for (int32_t j = 0; j < layer->count; j++) rest[j] = j == first ? 0.0 : p[j] / (1.0 - p[first]);
    const int32_t second = pni_sample_index(rng, rest, layer->count);
    const double qa = 1.0 / (1.0 + exp((double)layer->alpha[second] - layer->alpha[first]));
    const int first_active = pni_rng_uniform(rng) < qa;
    layer->active = first_active ? first : second;
    layer->other = first_active ? second : first;
  }
}

/* The candidates an arch step differentiates over and their weights: all
 * live ones with p (full_v2), or the pair with q (two). */
static int32_t gate_set(const pni_mixed_layer *layer, int two_mode, int32_t *idx, double *w) {
  if (two_mode && layer->other >= 0) {
    const int32_t a = layer->active, b = layer->other;
    const double qa = 1.0 / (1.0 + exp((double)layer->alpha[b] - layer->alpha[a]));
    idx[0] = a;
    idx[1] = b;
    w[0] = qa;
    w[1] = 1.0 - qa;
    return 2;
  }
  pni_layer_probs(layer, w);
  for (int32_t j = 0; j < layer->count; j++) idx[j] = j;
  return layer->count;
}

/* E[LAT] as the loss sees it: full p (full_v2) or the pair's q (two). */
static double loss_latency(const pnas_supernet *sn, int two_mode) {
  double e = sn->fixed_latency_ms;
  int32_t idx[PNI_SPACE_MAX_OPS];
  double w[PNI_SPACE_MAX_OPS];
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    const int32_t n = gate_set(layer, two_mode, idx, w);
    for (int32_t k = 0; k < n; k++) e += w[k] * layer->cand[idx[k]].latency_ms;
  }
  return e;
}

static pnas_status check_search_ready(pnas_supernet *sn) {
  if (sn->search.loss_form != PNAS_LOSS_NONE && !sn->has_latency) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "arch step: the loss form needs a latency model "
                    "(pnas_supernet_set_latency_model)");
  }
  return PNAS_OK;
}

pnas_status pni_supernet_arch_gradient(pnas_supernet *sn, const float *images,
                                       const int32_t *labels, int32_t batch,
                                       pnas_search_stats *stats) {
  pnas_status status = check_search_ready(sn);
  if (status != PNAS_OK) return status;
  const int two_mode = sn->search.arch_mode == PNAS_ARCH_MODE_TWO;
  sample_gates(sn, two_mode);
  memcpy(sn->stats_backup, sn->arena.stats, sizeof(float) * (size_t)sn->stats_count);
  pni_supernet_forward(sn, images, batch, 1, two_mode);
  int64_t correct = 0;
  /* The arch step uses plain cross-entropy (no label smoothing). */
  const double ce = pni_softmax_xent(sn->ctx->threads, batch, sn->classes, sn->logits, labels,
                                     0.0f, sn->dlogits, &correct);
  pni_latency_loss terms = {ce, 1.0, 0.0};
  const double expected = sn->has_latency ? loss_latency(sn, two_mode) : 0.0;
  if (isfinite(ce)) {
    status = pni_latency_loss_eval(sn->ctx, sn->search.loss_form, ce, expected,
                                   sn->search.target_ms, sn->search.lambda, sn->search.mul_log_a,
                                   sn->search.mul_log_beta, &terms);
  }
  if (!isfinite(ce) || status != PNAS_OK || !isfinite(terms.loss)) {
    memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
    sn->arch_grad_ready = 0;
    if (status != PNAS_OK) return status;
    if (isfinite(ce)) {
      return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                      "arch step: the latency term of the loss is not finite (E[LAT] %g ms, "
                      "target %g ms); alpha unchanged",
                      expected, (double)sn->search.target_ms);
    }
    char part[160];
    pni_supernet_describe_nonfinite(sn, images, batch, part, sizeof part);
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "arch step: the loss is not finite (cross-entropy %g): the first non-finite "
                    "output is in %s; alpha unchanged",
                    ce, part);
  }
  /* The CE part of every gate gradient carries the loss form's scale. */
  if (terms.ce_scale != 1.0) {
    const float scale = (float)terms.ce_scale;
    for (int64_t i = 0; i < (int64_t)batch * sn->classes; i++) sn->dlogits[i] *= scale;
  }
  pni_supernet_backward(sn, sn->dlogits, batch, two_mode ? 2 : 1);

  int32_t idx[PNI_SPACE_MAX_OPS];
  double w[PNI_SPACE_MAX_OPS];
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) layer->alpha_grad[j] = 0.0;
    if (sn->search.skip_zero_active && layer->cand[layer->active].op.kind == PNAS_OP_ZERO) {
      continue; /* the official code drops this layer's gradient, latency term included */
    }
    const int32_t n = gate_set(layer, two_mode, idx, w);
    double layer_e = 0.0;
    for (int32_t k = 0; k < n; k++) layer_e += w[k] * layer->cand[idx[k]].latency_ms;
    for (int32_t i = 0; i < n; i++) {
      /* BinaryConnect: dL/dalpha_i = sum_j dL/dg_j * w_j * (delta_ij - w_i). */
      double g = 0.0;
      for (int32_t k = 0; k < n; k++) {
        g += layer->gate_grad[idx[k]] * w[k] * ((i == k ? 1.0 : 0.0) - w[i]);
      }
      /* Latency: dE/dalpha_i = w_i * (lat_i - E_layer). */
      g += terms.dloss_dE * w[i] * (layer->cand[idx[i]].latency_ms - layer_e);
      layer->alpha_grad[idx[i]] = g;
    }
  }
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      if (isfinite(layer->alpha_grad[j])) continue;
      memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
      sn->arch_grad_ready = 0;
      return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                      "arch step: the alpha gradient of layer %d, candidate %d is not finite; "
                      "alpha unchanged",
                      (int)l, (int)j);
    }
  }
  sn->arch_grad_ready = 1;
  sn->last_arch_mode = sn->search.arch_mode;
  if (stats != NULL && stats->struct_size >= sizeof *stats) {
    stats->loss = terms.loss;
    stats->ce_loss = ce;
    stats->accuracy = (double)correct / batch;
    stats->expected_latency_ms = sn->has_latency ? pni_supernet_expected_latency(sn) : 0.0;
    stats->images = batch;
  }
  return PNAS_OK;
}

/* Adam on every alpha (PyTorch's formulation; with beta1 = 0 the step is
 * g / sqrt(v_hat)); a zero gradient leaves alpha in place. */
static void adam_step(pnas_supernet *sn) {
  const pnas_search_options *o = &sn->search;
  sn->adam_steps++;
  const double b1 = o->arch_beta1, b2 = o->arch_beta2;
  const double c1 = 1.0 - pow(b1, (double)sn->adam_steps);
  const double c2 = 1.0 - pow(b2, (double)sn->adam_steps);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      const double g = layer->alpha_grad[j];
      layer->adam_m[j] = b1 * layer->adam_m[j] + (1.0 - b1) * g;
      layer->adam_v[j] = b2 * layer->adam_v[j] + (1.0 - b2) * g * g;
      const double denom = sqrt(layer->adam_v[j]) / sqrt(c2) + o->arch_eps;
      layer->alpha[j] -= (float)(o->arch_lr / c1 * layer->adam_m[j] / denom);
    }
  }
}

/* The layer whose alpha or Adam moments adam_step() would make non-finite,
 * or -1; the same arithmetic without the stores. */
static int32_t adam_breaks(const pnas_supernet *sn) {
  const pnas_search_options *o = &sn->search;
  const double b1 = o->arch_beta1, b2 = o->arch_beta2;
  const double c1 = 1.0 - pow(b1, (double)(sn->adam_steps + 1));
  const double c2 = 1.0 - pow(b2, (double)(sn->adam_steps + 1));
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      const double g = layer->alpha_grad[j];
      const double m = b1 * layer->adam_m[j] + (1.0 - b1) * g;
      const double v = b2 * layer->adam_v[j] + (1.0 - b2) * g * g;
      const double denom = sqrt(v) / sqrt(c2) + o->arch_eps;
      const float alpha = layer->alpha[j] - (float)(o->arch_lr / c1 * m / denom);
      if (!isfinite(m) || !isfinite(v) || !isfinite(alpha)) return l;
    }
  }
  return -1;
}

pnas_status pni_supernet_arch_update(pnas_supernet *sn) {
  if (!sn->arch_grad_ready) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "arch update: no alpha gradient (run pnas_supernet_arch_gradient first)");
  }
  for (int32_t l = 0; l < sn->layer_count; l++) {
    for (int32_t j = 0; j < sn->layers[l].count; j++) {
      if (!isfinite(sn->layers[l].alpha_grad[j])) {
        return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                        "arch update: the alpha gradient of layer %d, candidate %d is not "
                        "finite; alpha unchanged",
                        (int)l, (int)j);
      }
    }
  }
  const int32_t broken = adam_breaks(sn);
  if (broken >= 0) {
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "arch update: the Adam step would make alpha of layer %d non-finite (arch_lr "
                    "%g too high?); alpha unchanged",
                    (int)broken, (double)sn->search.arch_lr);
  }
  pni_mixed_layer *layers = sn->layers;
  /* The pair shift needs the pair's logits before the update. */
  const int32_t shift_layers = sn->last_arch_mode == PNAS_ARCH_MODE_TWO ? sn->layer_count : 0;
  for (int32_t l = 0; l < shift_layers; l++) {
    pni_mixed_layer *layer = &layers[l];
    if (layer->other < 0) continue;
    layer->pair_alpha[0] = layer->alpha[layer->active];
    layer->pair_alpha[1] = layer->alpha[layer->other];
  }
  adam_step(sn);
  for (int32_t l = 0; l < shift_layers; l++) {
    pni_mixed_layer *layer = &layers[l];
    if (layer->other < 0) continue;
    /* Shift the pair so that exp(a) + exp(b) is what it was: the pair's
     * total probability, hence every other probability, is unchanged. */
    const double a0 = layer->pair_alpha[0], b0 = layer->pair_alpha[1];
    const double a1 = layer->alpha[layer->active], b1 = layer->alpha[layer->other];
    const double m0 = fmax(a0, b0), m1 = fmax(a1, b1);
    const double log_old = m0 + log(exp(a0 - m0) + exp(b0 - m0));
    const double log_new = m1 + log(exp(a1 - m1) + exp(b1 - m1));
    const double c = log_new - log_old;
    layer->alpha[layer->active] = (float)(a1 - c);
    layer->alpha[layer->other] = (float)(b1 - c);
  }
  /* Pruning bookkeeping: consecutive steps below the threshold. */
  if (sn->search.prune_threshold > 0.0f) {
    double p[PNI_SPACE_MAX_OPS];
    for (int32_t l = 0; l < sn->layer_count; l++) {
      pni_mixed_layer *layer = &layers[l];
      pni_layer_probs(layer, p);
      for (int32_t j = 0; j < layer->count; j++) {
        layer->cand[j].below = p[j] < sn->search.prune_threshold ? layer->cand[j].below + 1 : 0;
      }
    }
  }
  sn->arch_grad_ready = 0;
  sn->arch_steps++;
  return PNAS_OK;
}

/* REINFORCE (ProxylessNAS-R): sampled whole architectures, reward
 * acc * (T / LAT)^w, moving-average baseline. */
pnas_status pni_supernet_reinforce(pnas_supernet *sn, const float *images,
                                   const int32_t *labels, int32_t batch,
                                   pnas_search_stats *stats) {
  if (!sn->has_latency || !(sn->search.target_ms > 0.0f)) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "REINFORCE arch step: needs a latency model and a positive target_ms");
  }
  const int32_t samples = sn->search.rl_samples;
  double p[PNI_SPACE_MAX_OPS];
  double reward_sum = 0.0, acc_sum = 0.0;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    for (int32_t j = 0; j < sn->layers[l].count; j++) sn->layers[l].alpha_grad[j] = 0.0;
  }
  /* Each sample's reward and choices are needed once the baseline is
   * known; the buffers are sized by pnas_supernet_set_search(). */
  double *rewards = sn->rl_rewards;
  int32_t *choices = sn->rl_choices;
  memcpy(sn->stats_backup, sn->arena.stats, sizeof(float) * (size_t)sn->stats_count);
  const float momentum = sn->arena.bn_momentum;
  sn->arena.bn_momentum = 0.0f; /* evaluate with batch statistics, change nothing */
  for (int32_t m = 0; m < samples; m++) {
    double latency = sn->fixed_latency_ms;
    for (int32_t l = 0; l < sn->layer_count; l++) {
      pni_mixed_layer *layer = &sn->layers[l];
      pni_layer_probs(layer, p);
      layer->active = pni_sample_index(&sn->ctx->rng, p, layer->count);
      layer->other = -1;
      choices[m * sn->layer_count + l] = layer->active;
      latency += layer->cand[layer->active].latency_ms;
    }
    pni_supernet_forward(sn, images, batch, 1, 0);
    int64_t correct = 0;
    pni_softmax_xent(sn->ctx->threads, batch, sn->classes, sn->logits, labels, 0.0f, NULL,
                     &correct);
    const double acc = (double)correct / batch;
    const double ratio = latency > 0.0 ? sn->search.target_ms / latency : 1.0;
    rewards[m] = acc * pow(ratio, sn->search.rl_exponent);
    reward_sum += rewards[m];
    acc_sum += acc;
  }
  sn->arena.bn_momentum = momentum;
  memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
  const double mean_reward = reward_sum / samples;
  /* The baseline moves only once the update is made, so that a refused
   * update leaves the optimiser state as it was. */
  const double baseline = sn->rl_baseline_set ? sn->rl_baseline : mean_reward;
  /* Minimise -mean (R - b) log p(choice): d/dalpha_i = -mean (R - b)(1[i] - p_i). */
  for (int32_t m = 0; m < samples; m++) {
    const double advantage = rewards[m] - baseline;
    for (int32_t l = 0; l < sn->layer_count; l++) {
      pni_mixed_layer *layer = &sn->layers[l];
      pni_layer_probs(layer, p);
      const int32_t chosen = choices[m * sn->layer_count + l];
      for (int32_t j = 0; j < layer->count; j++) {
        layer->alpha_grad[j] -= advantage * ((j == chosen ? 1.0 : 0.0) - p[j]) / samples;
      }
    }
  }
  sn->arch_grad_ready = 1;
  sn->last_arch_mode = PNAS_ARCH_MODE_FULL_V2; /* no pair shift */
  const pnas_status status = pni_supernet_arch_update(sn);
  if (status != PNAS_OK) {
    sn->arch_grad_ready = 0;
    return status;
  }
  const double decay = sn->search.rl_baseline_decay;
  sn->rl_baseline = decay * baseline + (1.0 - decay) * mean_reward;
  sn->rl_baseline_set = 1;
  if (stats != NULL && stats->struct_size >= sizeof *stats) {
    stats->loss = mean_reward;
    stats->ce_loss = 0.0;
    stats->accuracy = acc_sum / samples;
    stats->expected_latency_ms = pni_supernet_expected_latency(sn);
    stats->images = batch;
  }
  return status;
}
