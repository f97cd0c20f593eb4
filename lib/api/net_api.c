/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "io/dataset.h"
#include "kernels/linear.h"
#include "nn/net.h"

/* Largest batch a network accepts; buffers are sized for max_batch at once. */
#define MAX_BATCH_LIMIT 65536

static int net_is_live(const pnas_net *net) {
  return net != NULL && net->tag == PNI_TAG_NET && pni_context_is_live(net->ctx);
}

/* A macro so that __func__ names the exported function. */
#define net_check_status(net) pni_handle_status((net), __func__, "pnas_net")

PNAS_API pnas_status pnas_net_options_init_sized(pnas_net_options *options, size_t struct_size) {
  if (options == NULL || struct_size < sizeof(size_t) + sizeof(int32_t)) {
    return PNAS_ERR_INVALID_ARGUMENT;
  }
  pnas_net_options d;
  memset(&d, 0, sizeof d);
  d.struct_size = struct_size;
  d.max_batch = 64;
  d.bn_momentum = 0.1f;
  d.bn_eps = 1e-3f;
  d.dropout = -1.0f;
  if (struct_size > sizeof d) memset((char *)options + sizeof d, 0, struct_size - sizeof d);
  memcpy(options, &d, struct_size < sizeof d ? struct_size : sizeof d);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_sgd_options_init_sized(pnas_sgd_options *options, size_t struct_size) {
  if (options == NULL || struct_size < sizeof(size_t) + sizeof(float)) {
    return PNAS_ERR_INVALID_ARGUMENT;
  }
  pnas_sgd_options d;
  memset(&d, 0, sizeof d);
  d.struct_size = struct_size;
  d.lr = 0.05f;
  d.momentum = 0.9f;
  d.nesterov = 1;
  d.weight_decay = 4e-5f;
  d.no_decay_on_bn = 1;
  d.label_smoothing = 0.1f;
  if (struct_size > sizeof d) memset((char *)options + sizeof d, 0, struct_size - sizeof d);
  memcpy(options, &d, struct_size < sizeof d ? struct_size : sizeof d);
  return PNAS_OK;
}

static pnas_status resolve_net_options(pnas_context *ctx, const pnas_net_options *in,
                                       pnas_net_options *out) {
  pnas_net_options_init(out);
  if (in == NULL) return PNAS_OK;
  if (in->struct_size < offsetof(pnas_net_options, dropout) + sizeof(float) ||
      in->struct_size > 4096) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_options.struct_size is %zu: fill the struct with "
                    "pnas_net_options_init()",
                    in->struct_size);
  }
  pni_struct_import_over(out, sizeof *out, in);
  if (out->max_batch < 1 || out->max_batch > MAX_BATCH_LIMIT) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_options.max_batch is %d; it must be between 1 and %d",
                    (int)out->max_batch, MAX_BATCH_LIMIT);
  }
  if (!(out->bn_momentum >= 0.0f && out->bn_momentum <= 1.0f)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_options.bn_momentum is %g; it must be in [0, 1]",
                    (double)out->bn_momentum);
  }
  if (!(out->bn_eps > 0.0f && isfinite(out->bn_eps))) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_options.bn_eps is %g; it must be positive", (double)out->bn_eps);
  }
  if (!(out->dropout < 1.0f) || isnan(out->dropout)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_options.dropout is %g; it must be below 1 (negative: the "
                    "architecture's)",
                    (double)out->dropout);
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_net_create(pnas_context *ctx, const pnas_arch *arch,
                                     const pnas_net_options *options, pnas_net **out_net) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (arch == NULL || out_net == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_create: %s is NULL",
                    arch == NULL ? "arch" : "out_net");
  }
  if (arch->tag != PNI_TAG_ARCH) {
    return pni_fail(ctx, PNAS_ERR_WRONG_HANDLE, "pnas_net_create: arch is not a live pnas_arch");
  }
  pnas_net_options resolved;
  pnas_status status = resolve_net_options(ctx, options, &resolved);
  if (status != PNAS_OK) return status;
  return pni_net_create(ctx, arch, &resolved, out_net);
}

PNAS_API void pnas_net_destroy(pnas_net *net) {
  if (net_is_live(net)) {
    pni_net_destroy(net);
  } else if (net != NULL) {
    net_check_status(net); /* a live handle of another kind: say so */
  }
}

PNAS_API pnas_status pnas_net_set_sgd(pnas_net *net, const pnas_sgd_options *options) {
  if (!net_is_live(net)) return net_check_status(net);
  pnas_context *ctx = net->ctx;
  if (options == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_set_sgd: options is NULL");
  }
  if (options->struct_size < offsetof(pnas_sgd_options, label_smoothing) + sizeof(float) ||
      options->struct_size > 4096) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_sgd_options.struct_size is %zu: fill the struct with "
                    "pnas_sgd_options_init()",
                    options->struct_size);
  }
  pnas_sgd_options o;
  pnas_sgd_options_init(&o);
  pni_struct_import_over(&o, sizeof o, options);
  const struct {
    const char *name;
    float value, lo, hi;
  } checks[] = {{"lr", o.lr, 0.0f, 1e6f},
                {"momentum", o.momentum, 0.0f, 1.0f},
                {"weight_decay", o.weight_decay, 0.0f, 1.0f},
                {"label_smoothing", o.label_smoothing, 0.0f, 1.0f}};
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    if (!(checks[i].value >= checks[i].lo && checks[i].value <= checks[i].hi)) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_sgd_options.%s is %g; it must be in [%g, %g]", checks[i].name,
                      (double)checks[i].value, (double)checks[i].lo, (double)checks[i].hi);
    }
  }
  net->sgd = o;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_net_set_lr(pnas_net *net, float lr) {
  if (!net_is_live(net)) return net_check_status(net);
  if (!(lr >= 0.0f && isfinite(lr))) {
    return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_set_lr: lr is %g; it must be finite and non-negative", (double)lr);
  }
  net->sgd.lr = lr;
  return PNAS_OK;
}

static pnas_status check_batch(pnas_net *net, const char *fn, const void *images, int32_t batch) {
  if (images == NULL) return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: images is NULL", fn);
  if (batch < 1 || batch > net->max_batch) {
    return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: batch is %d; it must be between 1 and the network's max_batch %d", fn,
                    (int)batch, (int)net->max_batch);
  }
  return PNAS_OK;
}

static pnas_status check_labels(pnas_net *net, const char *fn, const int32_t *labels,
                                int32_t batch) {
  if (labels == NULL) return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: labels is NULL", fn);
  for (int32_t i = 0; i < batch; i++) {
    if (labels[i] < 0 || labels[i] >= net->classes) {
      return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "%s: labels[%d] is %d; it must be in [0, %d)", fn, (int)i, (int)labels[i],
                      (int)net->classes);
    }
  }
  return PNAS_OK;
}

static void write_stats(pnas_step_stats *out, double loss, int64_t correct, int64_t images) {
  if (out == NULL || out->struct_size < offsetof(pnas_step_stats, images) + sizeof(int64_t)) return;
  out->loss = loss;
  out->accuracy = images > 0 ? (double)correct / (double)images : 0.0;
  out->images = images;
}

PNAS_API pnas_status pnas_net_train_step(pnas_net *net, const float *images,
                                         const int32_t *labels, int32_t batch,
                                         pnas_step_stats *out_stats) {
  static const char fn[] = "pnas_net_train_step";
  if (!net_is_live(net)) return net_check_status(net);
  pnas_status status = check_batch(net, fn, images, batch);
  if (status == PNAS_OK) status = check_labels(net, fn, labels, batch);
  if (status != PNAS_OK) return status;
  /* Running BN statistics move during the forward; keep them so that a
   * rejected step leaves the network exactly as it was. */
  memcpy(net->stats_backup, net->arena.stats, sizeof(float) * (size_t)net->stats_count);
  pni_net_forward(net, images, batch, 1);
  int64_t correct = 0;
  const double loss = pni_softmax_xent(net->ctx->threads, batch, net->classes, net->logits,
                                       labels, net->sgd.label_smoothing, net->dlogits, &correct);
  char part[96];
  if (!isfinite(loss)) {
    pni_net_describe_nonfinite(net, images, batch, part, sizeof part);
    memcpy(net->arena.stats, net->stats_backup, sizeof(float) * (size_t)net->stats_count);
    return pni_fail(net->ctx, PNAS_ERR_NUMERIC,
                    "pnas_net_train_step: the loss is not finite (%g): the first non-finite "
                    "output is in %s; no update was made (is the learning rate too high?)",
                    loss, part);
  }
  pni_net_backward(net, net->dlogits, batch, NULL);
  if (!pni_net_step_finite(net, 0, part, sizeof part)) {
    memcpy(net->arena.stats, net->stats_backup, sizeof(float) * (size_t)net->stats_count);
    return pni_fail(net->ctx, PNAS_ERR_NUMERIC,
                    "pnas_net_train_step: a gradient of %s is not finite; no update was made",
                    part);
  }
  if (!pni_net_step_finite(net, 1, part, sizeof part)) {
    memcpy(net->arena.stats, net->stats_backup, sizeof(float) * (size_t)net->stats_count);
    return pni_fail(net->ctx, PNAS_ERR_NUMERIC,
                    "pnas_net_train_step: the SGD step would make weights or momenta of %s "
                    "non-finite (learning rate %g too high?); no update was made",
                    part, (double)net->sgd.lr);
  }
  pni_net_sgd_update(net);
  write_stats(out_stats, loss, correct, batch);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_net_infer(pnas_net *net, const float *images, int32_t batch,
                                    float *out_logits) {
  if (!net_is_live(net)) return net_check_status(net);
  pnas_status status = check_batch(net, "pnas_net_infer", images, batch);
  if (status != PNAS_OK) return status;
  if (out_logits == NULL) {
    return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_infer: out_logits is NULL");
  }
  pni_net_forward(net, images, batch, 0);
  memcpy(out_logits, net->logits, sizeof(float) * (size_t)batch * (size_t)net->classes);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_net_evaluate(pnas_net *net, pnas_dataset *dataset,
                                       const pnas_batcher_options *normalization,
                                       pnas_step_stats *out_stats) {
  if (!net_is_live(net)) return net_check_status(net);
  pnas_context *ctx = net->ctx;
  if (dataset == NULL || out_stats == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_evaluate: %s is NULL",
                    dataset == NULL ? "dataset" : "out_stats");
  }
  if (dataset->tag != PNI_TAG_DATASET) {
    return pni_fail(ctx, PNAS_ERR_WRONG_HANDLE, "pnas_net_evaluate: dataset is not live");
  }
  if (out_stats->struct_size < offsetof(pnas_step_stats, images) + sizeof(int64_t)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_net_evaluate: out_stats.struct_size is %zu; set it to "
                    "sizeof(pnas_step_stats)",
                    out_stats->struct_size);
  }
  const pnas_arch_info *info = &net->arch->info;
  if (dataset->height != info->input_height || dataset->width != info->input_width ||
      dataset->channels != info->input_channels) {
    return pni_fail(ctx, PNAS_ERR_SHAPE,
                    "pnas_net_evaluate: images are %dx%dx%d, the network takes %dx%dx%d",
                    (int)dataset->height, (int)dataset->width, (int)dataset->channels,
                    (int)info->input_height, (int)info->input_width, (int)info->input_channels);
  }
  if (dataset->classes > net->classes) {
    return pni_fail(ctx, PNAS_ERR_SHAPE,
                    "pnas_net_evaluate: the data set has %d classes, the network %d",
                    (int)dataset->classes, (int)net->classes);
  }
  float mean[3] = {0.0f, 0.0f, 0.0f}, std[3] = {1.0f, 1.0f, 1.0f};
  if (normalization != NULL) {
    memcpy(mean, normalization->mean, sizeof mean);
    memcpy(std, normalization->std, sizeof std);
    const pnas_status bad = pni_normalization_check(ctx, "pnas_net_evaluate: normalization.", mean, std);
    if (bad != PNAS_OK) return bad;
  }
  int32_t *labels = pni_alloc(ctx, sizeof(int32_t) * (size_t)net->max_batch);
  if (labels == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (int64_t first = 0; first < dataset->count; first += net->max_batch) {
    const int64_t left = dataset->count - first;
    const int32_t batch = (int32_t)(left < net->max_batch ? left : net->max_batch);
    pni_dataset_read_normalized(dataset, first, batch, mean, std, net->input, labels);
    pni_net_forward(net, net->input, batch, 0);
    int64_t batch_correct = 0;
    loss_sum += batch * pni_softmax_xent(ctx->threads, batch, net->classes, net->logits, labels,
                                         0.0f, NULL, &batch_correct);
    correct += batch_correct;
  }
  pni_free(ctx, labels);
  write_stats(out_stats, loss_sum / (double)dataset->count, correct, dataset->count);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_net_save(const pnas_net *net, const char *path) {
  if (!net_is_live(net)) return net_check_status(net);
  if (path == NULL) {
    return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_save: path is NULL");
  }
  return pni_net_save(net, path);
}

PNAS_API pnas_status pnas_net_load(pnas_context *ctx, const char *path,
                                   const pnas_net_options *options, pnas_net **out_net) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (path == NULL || out_net == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_load: %s is NULL",
                    path == NULL ? "path" : "out_net");
  }
  pnas_net_options resolved;
  pnas_status status = resolve_net_options(ctx, options, &resolved);
  if (status != PNAS_OK) return status;
  return pni_net_load(ctx, path, &resolved, out_net);
}

PNAS_API pnas_status pnas_net_get_arch(const pnas_net *net, pnas_arch **out_arch) {
  if (!net_is_live(net)) return net_check_status(net);
  if (out_arch == NULL) {
    return pni_fail(net->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_net_get_arch: out_arch is NULL");
  }
  return pni_arch_copy(net->ctx, net->arch, out_arch);
}

PNAS_API float pnas_lr_cosine(float lr0, int64_t t, int64_t total) {
  if (total <= 0) return lr0;
  if (t < 0) t = 0;
  if (t > total) t = total;
  const double pi = 3.14159265358979323846;
  return (float)(0.5 * (double)lr0 * (1.0 + cos(pi * (double)t / (double)total)));
}
