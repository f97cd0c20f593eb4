/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "io/checkpoint.h"
#include "kernels/linear.h"
#include "nn/net.h"
#include "search/latency.h"
#include "search/supernet.h"

#define MAX_BATCH_LIMIT 65536

static int live(const pnas_supernet *sn) {
  return sn != NULL && sn->tag == PNI_TAG_SUPERNET && pni_context_is_live(sn->ctx);
}

/* A macro so that __func__ names the exported function. */
#define dead(sn) pni_handle_status((sn), __func__, "pnas_supernet")

PNAS_API pnas_status pnas_supernet_options_init_sized(pnas_supernet_options *options,
                                                      size_t struct_size) {
  if (options == NULL || struct_size < offsetof(pnas_supernet_options, max_batch) + 4) {
    return PNAS_ERR_INVALID_ARGUMENT;
  }
  pnas_supernet_options d;
  memset(&d, 0, sizeof d);
  d.max_batch = 64;
  d.bn_momentum = 0.1f;
  d.bn_eps = 1e-3f;
  d.alpha_init_std = 1e-3f;
  pni_struct_export(options, &d, sizeof d, struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_search_options_init_sized(pnas_search_options *options,
                                                    size_t struct_size) {
  if (options == NULL || struct_size < offsetof(pnas_search_options, arch_mode) + 4) {
    return PNAS_ERR_INVALID_ARGUMENT;
  }
  pnas_search_options d;
  memset(&d, 0, sizeof d);
  d.arch_mode = PNAS_ARCH_MODE_FULL_V2;
  d.arch_lr = 1e-3f;
  d.arch_beta1 = 0.0f;
  d.arch_beta2 = 0.999f;
  d.arch_eps = 1e-8f;
  d.loss_form = PNAS_LOSS_NONE;
  d.target_ms = 0.0f;
  d.lambda = 0.1f;
  d.mul_log_a = 0.2f;
  d.mul_log_beta = 0.3f;
  d.skip_zero_active = 1;
  d.rl_samples = 10;
  d.rl_exponent = 0.1f;
  d.rl_baseline_decay = 0.99f;
  d.prune_threshold = 0.0f;
  d.prune_patience = 100;
  pni_struct_export(options, &d, sizeof d, struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_create(pnas_context *ctx, const pnas_space *space,
                                          const pnas_supernet_options *options,
                                          pnas_supernet **out_supernet) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (space == NULL || out_supernet == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_create: %s is NULL",
                    space == NULL ? "space" : "out_supernet");
  }
  if (space->tag != PNI_TAG_SPACE) {
    return pni_fail(ctx, PNAS_ERR_WRONG_HANDLE, "pnas_supernet_create: space is not a live pnas_space");
  }
  if (space->info.layers < 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_create: the space has no searched layer (add a stage)");
  }
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  if (options != NULL) {
    if (options->struct_size < offsetof(pnas_supernet_options, alpha_init_std) + 4 ||
        options->struct_size > 4096) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_supernet_options.struct_size is %zu: fill the struct with "
                      "pnas_supernet_options_init()",
                      options->struct_size);
    }
    pni_struct_import_over(&o, sizeof o, options);
  }
  if (o.max_batch < 1 || o.max_batch > MAX_BATCH_LIMIT) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_options.max_batch is %d; it must be between 1 and %d",
                    (int)o.max_batch, MAX_BATCH_LIMIT);
  }
  if (!(o.bn_momentum >= 0.0f && o.bn_momentum <= 1.0f) || !(o.bn_eps > 0.0f) ||
      !isfinite(o.bn_eps)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_options: bn_momentum must be in [0, 1] and bn_eps positive "
                    "(got %g and %g)",
                    (double)o.bn_momentum, (double)o.bn_eps);
  }
  if (!(o.alpha_init_std >= 0.0f) || !isfinite(o.alpha_init_std)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_options.alpha_init_std is %g; it must be finite and >= 0",
                    (double)o.alpha_init_std);
  }
  return pni_supernet_create(ctx, space, &o, out_supernet);
}

PNAS_API void pnas_supernet_destroy(pnas_supernet *sn) {
  if (live(sn)) {
    pni_supernet_destroy(sn);
  } else if (sn != NULL) {
    dead(sn); /* a live handle of another kind: say so */
  }
}

PNAS_API pnas_status pnas_supernet_get_info(const pnas_supernet *sn, pnas_supernet_info *out) {
  if (!live(sn)) return dead(sn);
  if (out == NULL || out->struct_size < sizeof(size_t)) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_get_info: out_info is NULL or its struct_size is not set");
  }
  pnas_supernet_info info;
  memset(&info, 0, sizeof info);
  info.layers = sn->layer_count;
  for (int32_t l = 0; l < sn->layer_count; l++) info.candidates += sn->layers[l].count;
  info.params = sn->param_count;
  info.weight_steps = sn->weight_steps;
  info.arch_steps = sn->arch_steps;
  const size_t n = out->struct_size < sizeof info ? out->struct_size : sizeof info;
  info.struct_size = out->struct_size;
  memcpy(out, &info, n);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_set_sgd(pnas_supernet *sn, const pnas_sgd_options *options) {
  if (!live(sn)) return dead(sn);
  if (options == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_set_sgd: options is NULL");
  }
  /* The same checks as a fixed network: validate through a throwaway copy. */
  pnas_sgd_options o;
  pnas_sgd_options_init(&o);
  if (options->struct_size < offsetof(pnas_sgd_options, label_smoothing) + 4 ||
      options->struct_size > 4096) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_sgd_options.struct_size is %zu: fill the struct with "
                    "pnas_sgd_options_init()",
                    options->struct_size);
  }
  pni_struct_import_over(&o, sizeof o, options);
  if (!(o.lr >= 0.0f && isfinite(o.lr)) || !(o.momentum >= 0.0f && o.momentum <= 1.0f) ||
      !(o.weight_decay >= 0.0f && o.weight_decay <= 1.0f) ||
      !(o.label_smoothing >= 0.0f && o.label_smoothing <= 1.0f)) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_sgd_options out of range: lr %g (>= 0), momentum %g, weight_decay %g, "
                    "label_smoothing %g (each in [0, 1])",
                    (double)o.lr, (double)o.momentum, (double)o.weight_decay,
                    (double)o.label_smoothing);
  }
  sn->sgd = o;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_set_lr(pnas_supernet *sn, float lr) {
  if (!live(sn)) return dead(sn);
  if (!(lr >= 0.0f && isfinite(lr))) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_set_lr: lr is %g; it must be finite and >= 0", (double)lr);
  }
  sn->sgd.lr = lr;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_set_search(pnas_supernet *sn,
                                              const pnas_search_options *options) {
  if (!live(sn)) return dead(sn);
  pnas_context *ctx = sn->ctx;
  if (options == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_set_search: options is NULL");
  }
  if (options->struct_size < offsetof(pnas_search_options, prune_patience) + 4 ||
      options->struct_size > 4096) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_search_options.struct_size is %zu: fill the struct with "
                    "pnas_search_options_init()",
                    options->struct_size);
  }
  pnas_search_options o;
  pnas_search_options_init(&o);
  pni_struct_import_over(&o, sizeof o, options);
  const char *bad = pni_search_options_invalid(&o);
  if (bad != NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_search_options.%s is out of range (see pnas.h for the allowed values)",
                    bad);
  }
  if (o.loss_form != PNAS_LOSS_NONE && !sn->has_latency) {
    return pni_fail(ctx, PNAS_ERR_STATE,
                    "pnas_supernet_set_search: a latency loss form needs a latency model: call "
                    "pnas_supernet_set_latency_model first");
  }
  if (o.rl_samples > sn->rl_capacity) {
    double *rewards = pni_alloc(ctx, sizeof(double) * (size_t)o.rl_samples);
    int32_t *choices = pni_alloc(ctx, sizeof(int32_t) * (size_t)o.rl_samples *
                                          (size_t)sn->layer_count);
    if (rewards == NULL || choices == NULL) {
      pni_free(ctx, rewards);
      pni_free(ctx, choices);
      return PNAS_ERR_OUT_OF_MEMORY;
    }
    pni_free(ctx, sn->rl_rewards);
    pni_free(ctx, sn->rl_choices);
    sn->rl_rewards = rewards;
    sn->rl_choices = choices;
    sn->rl_capacity = o.rl_samples;
  }
  sn->search = o;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_set_latency_model(pnas_supernet *sn,
                                                     pnas_latency_model *model) {
  if (!live(sn)) return dead(sn);
  if (model == NULL) {
    if (sn->search.loss_form != PNAS_LOSS_NONE) {
      return pni_fail(sn->ctx, PNAS_ERR_STATE,
                      "pnas_supernet_set_latency_model: the search's loss form needs a latency "
                      "model; set loss_form to PNAS_LOSS_NONE first");
    }
    sn->has_latency = 0;
    sn->fixed_latency_ms = 0.0;
    for (int32_t l = 0; l < sn->layer_count; l++) {
      for (int32_t j = 0; j < sn->layers[l].count; j++) sn->layers[l].cand[j].latency_ms = 0.0;
    }
    return PNAS_OK;
  }
  if (model->tag != PNI_TAG_LATENCY) {
    return pni_fail(sn->ctx, PNAS_ERR_WRONG_HANDLE,
                    "pnas_supernet_set_latency_model: model is not a live pnas_latency_model");
  }
  return pni_supernet_price(sn, model);
}

static pnas_status check_batch(pnas_supernet *sn, const char *fn, const float *images,
                               const int32_t *labels, int32_t batch) {
  if (images == NULL) return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: images is NULL", fn);
  if (batch < 1 || batch > sn->max_batch) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: batch is %d; it must be between 1 and the supernet's max_batch %d", fn,
                    (int)batch, (int)sn->max_batch);
  }
  if (labels == NULL) return PNAS_OK;
  for (int32_t i = 0; i < batch; i++) {
    if (labels[i] < 0 || labels[i] >= sn->classes) {
      return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "%s: labels[%d] is %d; it must be in [0, %d)", fn, (int)i, (int)labels[i],
                      (int)sn->classes);
    }
  }
  return PNAS_OK;
}

static void sample_path(pnas_supernet *sn) {
  double p[PNI_SPACE_MAX_OPS];
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    pni_layer_probs(layer, p);
    layer->active = pni_sample_index(&sn->ctx->rng, p, layer->count);
    layer->other = -1;
  }
}

PNAS_API pnas_status pnas_supernet_train_step(pnas_supernet *sn, const float *images,
                                              const int32_t *labels, int32_t batch,
                                              pnas_search_stats *out_stats) {
  static const char fn[] = "pnas_supernet_train_step";
  if (!live(sn)) return dead(sn);
  if (labels == NULL) return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
  pnas_status status = check_batch(sn, fn, images, labels, batch);
  if (status != PNAS_OK) return status;
  sample_path(sn);
  memcpy(sn->stats_backup, sn->arena.stats, sizeof(float) * (size_t)sn->stats_count);
  pni_supernet_forward(sn, images, batch, 1, 0);
  int64_t correct = 0;
  const double loss = pni_softmax_xent(sn->ctx->threads, batch, sn->classes, sn->logits, labels,
                                       sn->sgd.label_smoothing, sn->dlogits, &correct);
  char part[160];
  if (!isfinite(loss)) {
    pni_supernet_describe_nonfinite(sn, images, batch, part, sizeof part);
    memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "%s: the loss is not finite (%g): the first non-finite output is in %s; no "
                    "update was made",
                    fn, loss, part);
  }
  pni_supernet_backward(sn, sn->dlogits, batch, 0);
  if (!pni_supernet_grads_finite(sn, part, sizeof part)) {
    memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "%s: a gradient of %s is not finite; no update was made", fn, part);
  }
  if (!pni_supernet_sgd_finite(sn, part, sizeof part)) {
    memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "%s: the SGD step would make weights or momenta of %s non-finite (learning "
                    "rate %g too high?); no update was made",
                    fn, part, (double)sn->sgd.lr);
  }
  pni_supernet_sgd(sn);
  sn->weight_steps++;
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  if (out_stats != NULL && out_stats->struct_size >= sizeof *out_stats) {
    out_stats->loss = loss;
    out_stats->ce_loss = loss;
    out_stats->accuracy = (double)correct / batch;
    out_stats->expected_latency_ms = sn->has_latency ? pni_supernet_expected_latency(sn) : 0.0;
    out_stats->images = batch;
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_arch_gradient(pnas_supernet *sn, const float *images,
                                                 const int32_t *labels, int32_t batch,
                                                 pnas_search_stats *out_stats) {
  if (!live(sn)) return dead(sn);
  if (labels == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_arch_gradient: labels is NULL");
  }
  pnas_status status = check_batch(sn, "pnas_supernet_arch_gradient", images, labels, batch);
  if (status != PNAS_OK) return status;
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  return pni_supernet_arch_gradient(sn, images, labels, batch, out_stats);
}

PNAS_API pnas_status pnas_supernet_arch_update(pnas_supernet *sn) {
  if (!live(sn)) return dead(sn);
  return pni_supernet_arch_update(sn);
}

PNAS_API pnas_status pnas_supernet_arch_step(pnas_supernet *sn, const float *images,
                                             const int32_t *labels, int32_t batch,
                                             pnas_search_stats *out_stats) {
  pnas_status status = pnas_supernet_arch_gradient(sn, images, labels, batch, out_stats);
  if (status != PNAS_OK) return status;
  status = pni_supernet_arch_update(sn);
  if (status != PNAS_OK) {
    /* A refused update: the running BN statistics go back too. */
    memcpy(sn->arena.stats, sn->stats_backup, sizeof(float) * (size_t)sn->stats_count);
    return status;
  }
  if (out_stats != NULL && out_stats->struct_size >= sizeof *out_stats &&
      sn->has_latency) {
    out_stats->expected_latency_ms = pni_supernet_expected_latency(sn);
  }
  return status;
}

PNAS_API pnas_status pnas_supernet_arch_step_reinforce(pnas_supernet *sn, const float *images,
                                                       const int32_t *labels, int32_t batch,
                                                       pnas_search_stats *out_stats) {
  static const char fn[] = "pnas_supernet_arch_step_reinforce";
  if (!live(sn)) return dead(sn);
  if (labels == NULL) return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
  pnas_status status = check_batch(sn, fn, images, labels, batch);
  if (status != PNAS_OK) return status;
  if (sn->rl_capacity < sn->search.rl_samples) {
    /* Defaults never went through set_search: size the buffers now. */
    pnas_search_options o = sn->search;
    status = pnas_supernet_set_search(sn, &o);
    if (status != PNAS_OK) return status;
  }
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  return pni_supernet_reinforce(sn, images, labels, batch, out_stats);
}

PNAS_API pnas_status pnas_supernet_prune(pnas_supernet *sn, int32_t *out_pruned) {
  if (!live(sn)) return dead(sn);
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  return pni_supernet_prune(sn, out_pruned);
}

PNAS_API pnas_status pnas_supernet_expected_latency(const pnas_supernet *sn, double *out_ms) {
  if (!live(sn)) return dead(sn);
  if (out_ms == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_expected_latency: out_ms is NULL");
  }
  if (!sn->has_latency) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "pnas_supernet_expected_latency: no latency model set");
  }
  *out_ms = pni_supernet_expected_latency(sn);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_derive(const pnas_supernet *sn, pnas_arch **out_arch) {
  if (!live(sn)) return dead(sn);
  if (out_arch == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_derive: out_arch is NULL");
  }
  int32_t *choice = pni_calloc(sn->ctx, (size_t)sn->layer_count, sizeof(int32_t));
  if (choice == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  pni_supernet_argmax(sn, choice);
  const pnas_status status = pni_space_build_arch(sn->space, choice, out_arch);
  pni_free(sn->ctx, choice);
  return status;
}

PNAS_API pnas_status pnas_supernet_derive_net(pnas_supernet *sn, const pnas_net_options *options,
                                              int32_t inherit, pnas_net **out_net) {
  if (!live(sn)) return dead(sn);
  if (out_net == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_derive_net: out_net is NULL");
  }
  pnas_net_options o;
  pnas_net_options_init(&o);
  if (options != NULL) {
    if (options->struct_size < offsetof(pnas_net_options, dropout) + 4 ||
        options->struct_size > 4096) {
      return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_net_options.struct_size is %zu: fill the struct with "
                      "pnas_net_options_init()",
                      options->struct_size);
    }
    pni_struct_import_over(&o, sizeof o, options);
  }
  if (o.max_batch < 1 || o.max_batch > MAX_BATCH_LIMIT || !(o.bn_eps > 0.0f) ||
      !(o.bn_momentum >= 0.0f && o.bn_momentum <= 1.0f) || !(o.dropout < 1.0f)) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_derive_net: network options out of range (max_batch %d)",
                    (int)o.max_batch);
  }
  return pni_supernet_derive_net(sn, &o, inherit != 0, out_net);
}

static pnas_status check_layer(const pnas_supernet *sn, const char *fn, int32_t layer) {
  if (layer < 0 || layer >= sn->layer_count) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: layer is %d; the supernet has layers 0 to %d", fn, (int)layer,
                    (int)sn->layer_count - 1);
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_op_count(const pnas_supernet *sn, int32_t layer,
                                            int32_t *out_count) {
  if (!live(sn)) return dead(sn);
  pnas_status status = check_layer(sn, "pnas_supernet_op_count", layer);
  if (status != PNAS_OK) return status;
  if (out_count == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_op_count: out_count is NULL");
  }
  *out_count = sn->layers[layer].count;
  return PNAS_OK;
}

static pnas_status check_capacity(const pnas_supernet *sn, const char *fn, int32_t layer,
                                  const void *out, int32_t capacity) {
  pnas_status status = check_layer(sn, fn, layer);
  if (status != PNAS_OK) return status;
  if (out == NULL || capacity < sn->layers[layer].count) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: layer %d has %d candidates; the output %s", fn, (int)layer,
                    (int)sn->layers[layer].count, out == NULL ? "is NULL" : "is too small");
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_get_ops(const pnas_supernet *sn, int32_t layer,
                                           pnas_op_spec *out_ops, int32_t capacity) {
  if (!live(sn)) return dead(sn);
  pnas_status status = check_capacity(sn, "pnas_supernet_get_ops", layer, out_ops, capacity);
  if (status != PNAS_OK) return status;
  for (int32_t j = 0; j < sn->layers[layer].count; j++) out_ops[j] = sn->layers[layer].cand[j].op;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_get_alpha(const pnas_supernet *sn, int32_t layer, int32_t what,
                                             float *out, int32_t capacity) {
  if (!live(sn)) return dead(sn);
  pnas_status status = check_capacity(sn, "pnas_supernet_get_alpha", layer, out, capacity);
  if (status != PNAS_OK) return status;
  const pni_mixed_layer *l = &sn->layers[layer];
  double p[PNI_SPACE_MAX_OPS];
  switch (what) {
    case 0:
      for (int32_t j = 0; j < l->count; j++) out[j] = l->alpha[j];
      return PNAS_OK;
    case 1:
      for (int32_t j = 0; j < l->count; j++) out[j] = (float)l->alpha_grad[j];
      return PNAS_OK;
    case 2:
      pni_layer_probs(l, p);
      for (int32_t j = 0; j < l->count; j++) out[j] = (float)p[j];
      return PNAS_OK;
    default:
      return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_supernet_get_alpha: what is %d; it must be 0 (alpha), 1 (gradient) "
                      "or 2 (probabilities)",
                      (int)what);
  }
}

PNAS_API pnas_status pnas_supernet_set_alpha(pnas_supernet *sn, int32_t layer, const float *alpha,
                                             int32_t count) {
  if (!live(sn)) return dead(sn);
  pnas_status status = check_layer(sn, "pnas_supernet_set_alpha", layer);
  if (status != PNAS_OK) return status;
  pni_mixed_layer *l = &sn->layers[layer];
  if (alpha == NULL || count != l->count) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_set_alpha: layer %d has %d candidates; got %s%d values",
                    (int)layer, (int)l->count, alpha == NULL ? "NULL and " : "", (int)count);
  }
  for (int32_t j = 0; j < count; j++) {
    if (!isfinite(alpha[j])) {
      return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_supernet_set_alpha: alpha[%d] is not finite", (int)j);
    }
  }
  for (int32_t j = 0; j < count; j++) l->alpha[j] = alpha[j];
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_sample(pnas_supernet *sn) {
  if (!live(sn)) return dead(sn);
  sample_path(sn);
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_active_path(pnas_supernet *sn, int32_t *ops, int32_t count,
                                               int32_t set) {
  if (!live(sn)) return dead(sn);
  if (ops == NULL || count != sn->layer_count) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_active_path: needs one index per layer (%d), got %s%d",
                    (int)sn->layer_count, ops == NULL ? "NULL and " : "", (int)count);
  }
  if (!set) {
    for (int32_t l = 0; l < count; l++) ops[l] = sn->layers[l].active;
    return PNAS_OK;
  }
  for (int32_t l = 0; l < count; l++) {
    if (ops[l] < 0 || ops[l] >= sn->layers[l].count) {
      return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_supernet_active_path: ops[%d] is %d; layer %d has %d candidates",
                      (int)l, (int)ops[l], (int)l, (int)sn->layers[l].count);
    }
  }
  for (int32_t l = 0; l < count; l++) {
    sn->layers[l].active = ops[l];
    sn->layers[l].other = -1;
  }
  sn->training_forward_done = 0;
  sn->grads_ready = 0;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_forward(pnas_supernet *sn, const float *images, int32_t batch,
                                           int32_t training, float *out_logits) {
  if (!live(sn)) return dead(sn);
  pnas_status status = check_batch(sn, "pnas_supernet_forward", images, NULL, batch);
  if (status != PNAS_OK) return status;
  if (out_logits == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_forward: out_logits is NULL");
  }
  if (training < 0 || training > 2) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_forward: training is %d; it must be 0, 1 or 2", (int)training);
  }
  for (int32_t l = 0; l < sn->layer_count; l++) sn->layers[l].other = -1;
  const float momentum = sn->arena.bn_momentum;
  if (training == 2) sn->arena.bn_momentum = 0.0f; /* batch statistics, running ones kept */
  pni_supernet_forward(sn, images, batch, training != 0, 0);
  sn->arena.bn_momentum = momentum;
  memcpy(out_logits, sn->logits, sizeof(float) * (size_t)batch * (size_t)sn->classes);
  sn->training_forward_done = training == 1 ? batch : 0;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_backward(pnas_supernet *sn, const float *dlogits,
                                            int32_t batch) {
  if (!live(sn)) return dead(sn);
  if (dlogits == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_backward: dlogits is NULL");
  }
  if (sn->training_forward_done == 0 || sn->training_forward_done != batch) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "pnas_supernet_backward: needs a training-mode pnas_supernet_forward of the "
                    "same batch (%d) just before",
                    (int)batch);
  }
  /* Gradients off the path are zero in the host's view. */
  memset(sn->arena.grads, 0, sizeof(float) * (size_t)sn->param_count);
  pni_supernet_backward(sn, dlogits, batch, 0);
  char part[160];
  if (!pni_supernet_grads_finite(sn, part, sizeof part)) {
    sn->grads_ready = 0;
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "pnas_supernet_backward: a gradient of %s is not finite (dlogits too large "
                    "or not finite?)",
                    part);
  }
  sn->grads_ready = 1;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_sgd_step(pnas_supernet *sn) {
  if (!live(sn)) return dead(sn);
  if (!sn->grads_ready) {
    return pni_fail(sn->ctx, PNAS_ERR_STATE,
                    "pnas_supernet_sgd_step: no gradients to apply (run pnas_supernet_forward "
                    "with training 1 and pnas_supernet_backward first)");
  }
  char part[160];
  if (!pni_supernet_sgd_finite(sn, part, sizeof part)) {
    return pni_fail(sn->ctx, PNAS_ERR_NUMERIC,
                    "pnas_supernet_sgd_step: the step would make weights or momenta of %s "
                    "non-finite (learning rate %g too high?); nothing was changed",
                    part, (double)sn->sgd.lr);
  }
  sn->grads_ready = 0;
  pni_supernet_sgd(sn);
  sn->weight_steps++;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_parameters(pnas_supernet *sn, float **out_params,
                                              float **out_grads, int64_t *out_count) {
  if (!live(sn)) return dead(sn);
  if (out_count == NULL) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_parameters: out_count is NULL");
  }
  if (out_params != NULL) *out_params = sn->arena.params;
  if (out_grads != NULL) *out_grads = sn->arena.grads;
  *out_count = sn->param_count;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_supernet_save(const pnas_supernet *sn, const char *path,
                                        const void *host_data, size_t host_size) {
  if (!live(sn)) return dead(sn);
  if (path == NULL || (host_data == NULL && host_size > 0)) {
    return pni_fail(sn->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_save: %s",
                    path == NULL ? "path is NULL" : "host_data is NULL but host_size is not 0");
  }
  return pni_checkpoint_save(sn, path, host_data, host_size);
}

PNAS_API pnas_status pnas_supernet_load(pnas_context *ctx, const char *path, int32_t max_batch,
                                        pnas_supernet **out_supernet, void **out_host_data,
                                        size_t *out_host_size) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (path == NULL || out_supernet == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_supernet_load: %s is NULL",
                    path == NULL ? "path" : "out_supernet");
  }
  if (max_batch < 0 || max_batch > MAX_BATCH_LIMIT) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_supernet_load: max_batch is %d; it must be 0 (stored) to %d",
                    (int)max_batch, MAX_BATCH_LIMIT);
  }
  return pni_checkpoint_load(ctx, path, max_batch, out_supernet, out_host_data, out_host_size);
}
