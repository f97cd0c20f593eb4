/* SPDX-License-Identifier: MIT */
/* A fixed network: stem, blocks, head and classifier laid out in one arena,
 * and its forward, backward and SGD step. */
#include "nn/net.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"

/* Lays out every layer; with p->segments NULL it only counts. */
static void plan_net(pnas_net *net, pni_planner *p) {
  const pnas_arch *arch = net->arch;
  const pnas_arch_info *info = &arch->info;
  const int64_t n = net->max_batch;
  pni_unit_plan(p, &net->stem, PNI_UNIT_FULL, 1, n, info->input_height, info->input_width,
                info->input_channels, info->stem_channels, info->stem_kernel, info->stem_stride);
  for (int32_t i = 0; i < net->block_count; i++) {
    pni_block_plan(p, &net->blocks[i], &arch->blocks[i], n);
  }
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  net->has_head = info->head_channels > 0;
  if (net->has_head) {
    pni_unit_plan(p, &net->head, PNI_UNIT_PW, 1, n, h, w, c, info->head_channels, 1, 1);
    c = info->head_channels;
  }
  net->features = c;
  const int64_t hw = (int64_t)h * w;
  if (hw > INT32_MAX) p->activation_floats = PNI_PLAN_TOO_LARGE;
  net->feature_hw = hw > INT32_MAX ? 0 : (int32_t)hw;
  net->classes = info->classes;
  net->fc_weight = pni_plan_params(p, (int64_t)c * info->classes, 0);
  net->fc_bias = pni_plan_params(p, info->classes, 1);
}

static void init_weights(pnas_net *net) {
  pni_rng *rng = &net->ctx->rng;
  pni_unit_init(&net->arena, &net->stem, rng);
  for (int32_t i = 0; i < net->block_count; i++) {
    for (int32_t u = 0; u < net->blocks[i].units; u++) {
      pni_unit_init(&net->arena, &net->blocks[i].unit[u], rng);
    }
  }
  if (net->has_head) pni_unit_init(&net->arena, &net->head, rng);
  const double bound = 1.0 / sqrt((double)net->features);
  float *w = net->arena.params + net->fc_weight;
  for (int64_t i = 0; i < (int64_t)net->features * net->classes; i++) {
    w[i] = (float)((pni_rng_uniform(rng) * 2.0 - 1.0) * bound);
  }
  memset(net->arena.params + net->fc_bias, 0, sizeof(float) * (size_t)net->classes);
}

pnas_status pni_net_create(pnas_context *ctx, const pnas_arch *arch,
                           const pnas_net_options *options, pnas_net **out) {
  pnas_net *net = pni_calloc(ctx, 1, sizeof *net);
  if (net == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  net->tag = PNI_TAG_NET;
  net->ctx = ctx;
  net->options = *options;
  pnas_sgd_options_init(&net->sgd);
  net->max_batch = options->max_batch;
  net->arena.ctx = ctx;
  net->arena.bn_eps = options->bn_eps;
  net->arena.bn_momentum = options->bn_momentum;
  net->dropout = options->dropout >= 0.0f ? options->dropout : arch->info.dropout;
  pnas_status status = pni_arch_copy(ctx, arch, &net->arch);
  if (status != PNAS_OK) goto fail;
  net->block_count = net->arch->info.blocks;
  status = PNAS_ERR_OUT_OF_MEMORY;
  net->blocks =
      pni_calloc(ctx, (size_t)(net->block_count > 0 ? net->block_count : 1), sizeof *net->blocks);
  if (net->blocks == NULL) goto fail;

  pni_planner count = {0};
  plan_net(net, &count);
  net->segments = pni_calloc(ctx, (size_t)count.segment_count, sizeof *net->segments);
  if (net->segments == NULL) goto fail;
  pni_planner p = {0};
  p.segments = net->segments;
  plan_net(net, &p);
  net->segment_count = p.segment_count;
  net->param_count = p.params;
  net->stats_count = p.stats;
  net->saved_count = p.saved;
  net->activation_floats = p.activation_floats;
  if (p.activation_floats == PNI_PLAN_TOO_LARGE) {
    status = pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "the network is too large: with max_batch %d an activation exceeds the "
                      "sizes the kernels support (2^31 rows or 2^63 floats)",
                      (int)net->max_batch);
    goto fail;
  }

  const int64_t batch = net->max_batch;
  const pnas_arch_info *info = &net->arch->info;
  const int64_t image_floats =
      batch * info->input_height * info->input_width * info->input_channels;
  pni_arena *a = &net->arena;
  a->params = pni_alloc_floats(ctx, net->param_count);
  a->grads = pni_alloc_floats(ctx, net->param_count);
  a->momenta = pni_alloc_floats(ctx, net->param_count);
  a->stats = pni_alloc_floats(ctx, net->stats_count);
  a->saved = pni_alloc_floats(ctx, net->saved_count);
  a->col = pni_alloc_floats(ctx, (int64_t)pni_conv_workspace_floats(&net->stem.shape));
  a->wt = pni_alloc_floats(ctx, p.pw_weight_floats);
  a->dw_grad = pni_alloc_floats(ctx, p.dw_grad_floats);
  a->rebuild = pni_alloc_floats(ctx, pni_rebuild_floats(p.max_channels));
  net->stats_backup = pni_alloc_floats(ctx, net->stats_count);
  net->pooled = pni_alloc_floats(ctx, batch * net->features);
  net->dropped = pni_alloc_floats(ctx, batch * net->features);
  net->mask = pni_aligned_alloc(ctx, (size_t)(batch * net->features));
  net->logits = pni_alloc_floats(ctx, batch * net->classes);
  net->dlogits = pni_alloc_floats(ctx, batch * net->classes);
  net->input = pni_alloc_floats(ctx, image_floats);
  for (int i = 0; i < 3; i++) net->grad_buf[i] = pni_alloc_floats(ctx, net->activation_floats);
  if (a->params == NULL || a->grads == NULL || a->momenta == NULL || a->stats == NULL ||
      a->saved == NULL || a->col == NULL || a->wt == NULL || a->dw_grad == NULL ||
      a->rebuild == NULL || net->stats_backup == NULL || net->pooled == NULL ||
      net->dropped == NULL || net->mask == NULL || net->logits == NULL || net->dlogits == NULL ||
      net->input == NULL || net->grad_buf[0] == NULL || net->grad_buf[1] == NULL ||
      net->grad_buf[2] == NULL) {
    goto fail;
  }
  if (!pni_unit_alloc(ctx, &net->stem, NULL)) goto fail;
  int64_t inner[PNI_INNER_SLOTS] = {0, 0};
  for (int32_t i = 0; i < net->block_count; i++) {
    pni_block_inner_floats(&net->blocks[i], net->max_batch, inner);
  }
  if (!pni_inner_alloc(ctx, inner, net->inner)) goto fail;
  for (int32_t i = 0; i < net->block_count; i++) {
    if (!pni_block_alloc(ctx, &net->blocks[i], net->inner)) goto fail;
  }
  if (net->has_head && !pni_unit_alloc(ctx, &net->head, NULL)) goto fail;
  memset(a->grads, 0, sizeof(float) * (size_t)net->param_count);
  memset(a->momenta, 0, sizeof(float) * (size_t)net->param_count);
  init_weights(net);
  *out = net;
  return PNAS_OK;
fail:
  if (status == PNAS_ERR_OUT_OF_MEMORY) {
    pni_fail(ctx, status, "out of memory while building a network of %lld parameters",
             (long long)net->param_count);
  }
  pni_net_destroy(net);
  return status;
}

void pni_net_destroy(pnas_net *net) {
  if (net == NULL) return;
  pnas_context *ctx = net->ctx;
  pni_unit_free(ctx, &net->stem);
  if (net->blocks != NULL) {
    for (int32_t i = 0; i < net->block_count; i++) {
      for (int32_t u = 0; u < net->blocks[i].units; u++) {
        pni_unit_free(ctx, &net->blocks[i].unit[u]);
      }
    }
  }
  pni_unit_free(ctx, &net->head);
  pni_inner_free(ctx, net->inner);
  pni_arena *a = &net->arena;
  float *arrays[] = {
      a->rebuild,  a->params,    a->grads,   a->momenta,        a->stats,         a->saved,
      a->col,      a->wt,        a->dw_grad, net->stats_backup, net->pooled,      net->dropped,
      net->logits, net->dlogits, net->input, net->grad_buf[0],  net->grad_buf[1], net->grad_buf[2]};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) pni_aligned_free(ctx, arrays[i]);
  pni_aligned_free(ctx, net->mask);
  pni_free(ctx, net->segments);
  pni_free(ctx, net->blocks);
  pni_arch_destroy(net->arch);
  net->tag = PNI_TAG_DEAD;
  pni_free(ctx, net);
}

void pni_net_forward(pnas_net *net, const float *images, int32_t batch, int training) {
  const int32_t threads = net->ctx->threads;
  const pni_arena *a = &net->arena;
  pni_unit_forward(a, &net->stem, images, batch, training);
  const float *cur = net->stem.a;
  for (int32_t i = 0; i < net->block_count; i++) {
    cur = pni_block_forward(a, &net->blocks[i], cur, batch, training);
  }
  pni_head_pool_forward(a, net->has_head ? &net->head : NULL, cur, batch, training, net->feature_hw,
                        net->features, net->pooled);
  const float *features = net->pooled;
  if (training && net->dropout > 0.0f) {
    pni_dropout_forward((int64_t)batch * net->features, net->dropout, &net->ctx->rng, net->pooled,
                        net->dropped, net->mask);
    features = net->dropped;
  }
  pni_linear_forward(threads, batch, net->features, net->classes, features,
                     a->params + net->fc_weight, a->params + net->fc_bias, net->logits);
}

void pni_net_backward(pnas_net *net, const float *dlogits, int32_t batch, float *dinput) {
  const int32_t threads = net->ctx->threads;
  const pni_arena *a = &net->arena;
  float *cur = net->grad_buf[0], *next = net->grad_buf[1];
  const float *features = net->dropout > 0.0f ? net->dropped : net->pooled;
  /* d(features) lands in `next` first (batch x features). */
  pni_linear_backward(threads, batch, net->features, net->classes, features,
                      a->params + net->fc_weight, dlogits, next, a->grads + net->fc_weight,
                      a->grads + net->fc_bias);
  if (net->dropout > 0.0f) {
    pni_dropout_backward((int64_t)batch * net->features, net->dropout, net->mask, next, next);
  }
  pni_avgpool_backward(threads, batch, net->feature_hw, net->features, next, cur);
  if (net->has_head) {
    pni_unit_backward(a, &net->head, batch, cur, next, 1, NULL);
    float *t = cur;
    cur = next;
    next = t;
  }
  for (int32_t i = net->block_count - 1; i >= 0; i--) {
    pni_block_backward(a, &net->blocks[i], batch, &cur, &next, net->grad_buf[2], 1, 1);
  }
  pni_unit_backward(a, &net->stem, batch, cur, dinput, 1, NULL);
}

void pni_net_sgd_update(pnas_net *net) {
  pni_sgd_segments(&net->arena, net->segments, net->segment_count, &net->sgd);
  net->steps++;
}
