/* SPDX-License-Identifier: MIT */
/* Building the layer plan of a fixed network and running it. */
#include "nn/net.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/norm.h"

/* --- planning: offsets into the arenas ----------------------------------- */

typedef struct planner {
  int64_t params, stats, saved, activation_floats;
  pni_param_segment *segments; /* NULL while counting */
  int32_t segment_count;
} planner;

static int64_t take_params(planner *p, int64_t size, int bn_or_bias) {
  const int64_t offset = p->params;
  /* Adjacent tensors with the same decay share one segment. */
  if (p->segment_count > 0 && p->segments != NULL &&
      p->segments[p->segment_count - 1].bn_or_bias == bn_or_bias &&
      p->segments[p->segment_count - 1].offset + p->segments[p->segment_count - 1].size ==
          offset) {
    p->segments[p->segment_count - 1].size += size;
  } else if (p->segments != NULL) {
    p->segments[p->segment_count++] = (pni_param_segment){offset, size, bn_or_bias};
  } else {
    p->segment_count++;
  }
  p->params += size;
  return offset;
}

static void plan_unit(planner *p, pni_unit *u, pni_unit_kind kind, int relu, int64_t n,
                      int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  memset(u, 0, sizeof *u);
  u->kind = kind;
  u->relu = relu;
  pni_conv_shape_init(&u->shape, n, h, w, cin, cout, k, stride, k / 2);
  const int64_t weights = kind == PNI_UNIT_DW ? k * k * cout : k * k * cin * cout;
  u->weight = take_params(p, weights, 0);
  u->gamma = take_params(p, cout, 1);
  u->beta = take_params(p, cout, 1);
  u->stats = p->stats;
  p->stats += 2 * cout;
  u->saved = p->saved;
  p->saved += 2 * cout;
  const int64_t out = n * u->shape.out_h * u->shape.out_w * cout;
  if (out > p->activation_floats) p->activation_floats = out;
  if (n * h * w * cin > p->activation_floats) p->activation_floats = n * h * w * cin;
}

/* Lays out every layer; with p->segments NULL it only counts. */
static void plan_net(pnas_net *net, planner *p) {
  const pnas_arch *arch = net->arch;
  const pnas_arch_info *info = &arch->info;
  const int64_t n = net->max_batch;
  plan_unit(p, &net->stem, PNI_UNIT_FULL, 1, n, info->input_height, info->input_width,
            info->input_channels, info->stem_channels, info->stem_kernel, info->stem_stride);
  for (int32_t i = 0; i < net->block_count; i++) {
    const pni_block *b = &arch->blocks[i];
    pni_net_block *nb = &net->blocks[i];
    memset(nb, 0, sizeof *nb);
    if (b->kind == PNAS_BLOCK_IDENTITY) continue;
    nb->residual = b->residual;
    int32_t u = 0;
    if (b->expand != 1) {
      plan_unit(p, &nb->unit[u++], PNI_UNIT_PW, 1, n, b->in_height, b->in_width, b->in_channels,
                b->mid_channels, 1, 1);
    }
    plan_unit(p, &nb->unit[u++], PNI_UNIT_DW, 1, n, b->in_height, b->in_width, b->mid_channels,
              b->mid_channels, b->kernel, b->stride);
    plan_unit(p, &nb->unit[u++], PNI_UNIT_PW, 0, n, b->out_height, b->out_width,
              b->mid_channels, b->out_channels, 1, 1);
    nb->units = u;
  }
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  net->has_head = info->head_channels > 0;
  if (net->has_head) {
    plan_unit(p, &net->head, PNI_UNIT_PW, 1, n, h, w, c, info->head_channels, 1, 1);
    c = info->head_channels;
  }
  net->features = c;
  net->feature_hw = h * w;
  net->classes = info->classes;
  net->fc_weight = take_params(p, (int64_t)c * info->classes, 0);
  net->fc_bias = take_params(p, info->classes, 1);
}

/* --- creation ------------------------------------------------------------ */

static float *alloc_floats(pnas_context *ctx, int64_t count) {
  int overflow = 0;
  const size_t bytes = pni_mul_size((size_t)count, sizeof(float), &overflow);
  return overflow ? NULL : pni_aligned_alloc(ctx, bytes);
}

static int alloc_unit(pnas_context *ctx, pni_unit *u) {
  const int64_t out = u->shape.n * u->shape.out_h * u->shape.out_w * u->shape.cout;
  u->z = alloc_floats(ctx, out);
  u->a = alloc_floats(ctx, out);
  return u->z != NULL && u->a != NULL;
}

static void free_unit(pnas_context *ctx, pni_unit *u) {
  pni_aligned_free(ctx, u->z);
  pni_aligned_free(ctx, u->a);
  u->z = u->a = NULL;
}

/* He initialisation "fan-out" as the official code: N(0, sqrt(2/(k*k*C_out))). */
static void init_unit(pnas_net *net, const pni_unit *u) {
  const pni_conv_shape *s = &u->shape;
  const int64_t count = u->kind == PNI_UNIT_DW ? s->k * s->k * s->cout : s->k * s->k * s->cin * s->cout;
  const double std = sqrt(2.0 / (double)(s->k * s->k * s->cout));
  float *w = net->params + u->weight;
  for (int64_t i = 0; i < count; i++) w[i] = (float)(pni_rng_normal(&net->ctx->rng) * std);
  for (int64_t c = 0; c < s->cout; c++) {
    net->params[u->gamma + c] = 1.0f;
    net->params[u->beta + c] = 0.0f;
    net->stats[u->stats + c] = 0.0f;
    net->stats[u->stats + s->cout + c] = 1.0f;
  }
}

static void init_weights(pnas_net *net) {
  init_unit(net, &net->stem);
  for (int32_t i = 0; i < net->block_count; i++) {
    for (int32_t u = 0; u < net->blocks[i].units; u++) init_unit(net, &net->blocks[i].unit[u]);
  }
  if (net->has_head) init_unit(net, &net->head);
  const double bound = 1.0 / sqrt((double)net->features);
  float *w = net->params + net->fc_weight;
  for (int64_t i = 0; i < (int64_t)net->features * net->classes; i++) {
    w[i] = (float)((pni_rng_uniform(&net->ctx->rng) * 2.0 - 1.0) * bound);
  }
  memset(net->params + net->fc_bias, 0, sizeof(float) * (size_t)net->classes);
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
  net->dropout = options->dropout >= 0.0f ? options->dropout : arch->info.dropout;
  pnas_status status = pni_arch_copy(ctx, arch, &net->arch);
  if (status != PNAS_OK) goto fail;
  net->block_count = net->arch->info.blocks;
  status = PNAS_ERR_OUT_OF_MEMORY;
  net->blocks = pni_calloc(ctx, (size_t)(net->block_count > 0 ? net->block_count : 1),
                           sizeof *net->blocks);
  if (net->blocks == NULL) goto fail;

  planner count = {0};
  plan_net(net, &count);
  net->segments = pni_calloc(ctx, (size_t)count.segment_count, sizeof *net->segments);
  if (net->segments == NULL) goto fail;
  planner p = {0};
  p.segments = net->segments;
  plan_net(net, &p);
  net->segment_count = p.segment_count;
  net->param_count = p.params;
  net->stats_count = p.stats;
  net->saved_count = p.saved;
  net->activation_floats = p.activation_floats;

  const int64_t batch = net->max_batch;
  const pnas_arch_info *info = &net->arch->info;
  const int64_t image_floats =
      batch * info->input_height * info->input_width * info->input_channels;
  net->params = alloc_floats(ctx, net->param_count);
  net->grads = alloc_floats(ctx, net->param_count);
  net->momenta = alloc_floats(ctx, net->param_count);
  net->stats = alloc_floats(ctx, net->stats_count);
  net->saved = alloc_floats(ctx, net->saved_count);
  net->stats_backup = alloc_floats(ctx, net->stats_count);
  net->pooled = alloc_floats(ctx, batch * net->features);
  net->dropped = alloc_floats(ctx, batch * net->features);
  net->mask = pni_aligned_alloc(ctx, (size_t)(batch * net->features));
  net->logits = alloc_floats(ctx, batch * net->classes);
  net->dlogits = alloc_floats(ctx, batch * net->classes);
  net->input = alloc_floats(ctx, image_floats);
  net->col = alloc_floats(ctx, (int64_t)pni_conv_workspace_floats(&net->stem.shape));
  for (int i = 0; i < 3; i++) net->grad_buf[i] = alloc_floats(ctx, net->activation_floats);
  if (net->params == NULL || net->grads == NULL || net->momenta == NULL || net->stats == NULL ||
      net->saved == NULL || net->stats_backup == NULL || net->pooled == NULL || net->dropped == NULL || net->mask == NULL ||
      net->logits == NULL || net->dlogits == NULL || net->input == NULL || net->col == NULL ||
      net->grad_buf[0] == NULL || net->grad_buf[1] == NULL || net->grad_buf[2] == NULL) {
    goto fail;
  }
  if (!alloc_unit(ctx, &net->stem)) goto fail;
  for (int32_t i = 0; i < net->block_count; i++) {
    for (int32_t u = 0; u < net->blocks[i].units; u++) {
      if (!alloc_unit(ctx, &net->blocks[i].unit[u])) goto fail;
    }
  }
  if (net->has_head && !alloc_unit(ctx, &net->head)) goto fail;
  memset(net->grads, 0, sizeof(float) * (size_t)net->param_count);
  memset(net->momenta, 0, sizeof(float) * (size_t)net->param_count);
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
  free_unit(ctx, &net->stem);
  if (net->blocks != NULL) {
    for (int32_t i = 0; i < net->block_count; i++) {
      for (int32_t u = 0; u < net->blocks[i].units; u++) free_unit(ctx, &net->blocks[i].unit[u]);
    }
  }
  free_unit(ctx, &net->head);
  float *arrays[] = {net->params, net->grads,  net->momenta, net->stats,
                     net->saved,  net->stats_backup, net->pooled, net->dropped, net->logits,
                     net->dlogits, net->input, net->col,     net->grad_buf[0],
                     net->grad_buf[1], net->grad_buf[2]};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) pni_aligned_free(ctx, arrays[i]);
  pni_aligned_free(ctx, net->mask);
  pni_free(ctx, net->segments);
  pni_free(ctx, net->blocks);
  pni_arch_destroy(net->arch);
  net->tag = PNI_TAG_DEAD;
  pni_free(ctx, net);
}

/* --- forward ------------------------------------------------------------- */

static pni_conv_shape batch_shape(const pni_unit *u, int32_t batch) {
  pni_conv_shape s = u->shape;
  s.n = batch;
  return s;
}

static void unit_forward(pnas_net *net, pni_unit *u, const float *x, int32_t batch,
                         int training) {
  const int32_t threads = net->ctx->threads;
  const pni_conv_shape s = batch_shape(u, batch);
  const float *w = net->params + u->weight;
  u->x = x;
  switch (u->kind) {
    case PNI_UNIT_FULL: pni_conv_forward(&s, threads, x, w, u->z, net->col); break;
    case PNI_UNIT_PW:
      pni_conv1x1_forward(threads, s.n * s.h * s.w, s.cin, s.cout, x, w, u->z);
      break;
    case PNI_UNIT_DW: pni_dwconv_forward(&s, threads, x, w, u->z); break;
  }
  const int64_t rows = s.n * s.out_h * s.out_w, c = s.cout;
  const float *gamma = net->params + u->gamma, *beta = net->params + u->beta;
  float *running_mean = net->stats + u->stats, *running_var = running_mean + c;
  if (training) {
    pni_bn_forward_train(threads, rows, c, u->z, gamma, beta, net->options.bn_eps,
                         net->options.bn_momentum, running_mean, running_var, u->a,
                         net->saved + u->saved, net->saved + u->saved + c);
  } else {
    pni_bn_forward_eval(threads, rows, c, u->z, gamma, beta, running_mean, running_var,
                        net->options.bn_eps, u->a);
  }
  if (u->relu) pni_relu6_forward(threads, rows * c, u->a, u->a);
}

static int64_t unit_out_floats(const pni_unit *u, int32_t batch) {
  return (int64_t)batch * u->shape.out_h * u->shape.out_w * u->shape.cout;
}

void pni_net_forward(pnas_net *net, const float *images, int32_t batch, int training) {
  const int32_t threads = net->ctx->threads;
  unit_forward(net, &net->stem, images, batch, training);
  const float *cur = net->stem.a;
  for (int32_t i = 0; i < net->block_count; i++) {
    pni_net_block *b = &net->blocks[i];
    b->x = cur;
    for (int32_t u = 0; u < b->units; u++) {
      unit_forward(net, &b->unit[u], cur, batch, training);
      cur = b->unit[u].a;
    }
    if (b->residual && b->units > 0) {
      float *y = b->unit[b->units - 1].a;
      pni_add(threads, unit_out_floats(&b->unit[b->units - 1], batch), y, b->x, y);
    }
    b->y = cur;
  }
  if (net->has_head) {
    unit_forward(net, &net->head, cur, batch, training);
    cur = net->head.a;
  }
  pni_avgpool_forward(threads, batch, net->feature_hw, net->features, cur, net->pooled);
  const float *features = net->pooled;
  if (training && net->dropout > 0.0f) {
    pni_dropout_forward((int64_t)batch * net->features, net->dropout, &net->ctx->rng,
                        net->pooled, net->dropped, net->mask);
    features = net->dropped;
  }
  pni_linear_forward(threads, batch, net->features, net->classes, features,
                     net->params + net->fc_weight, net->params + net->fc_bias, net->logits);
}

/* --- backward ------------------------------------------------------------ */

/* da is consumed (used as scratch); dx may be NULL for the first layer. */
static void unit_backward(pnas_net *net, pni_unit *u, int32_t batch, float *da, float *dx) {
  const int32_t threads = net->ctx->threads;
  const pni_conv_shape s = batch_shape(u, batch);
  const int64_t rows = s.n * s.out_h * s.out_w, c = s.cout;
  if (u->relu) pni_relu6_backward(threads, rows * c, u->a, da, da);
  pni_bn_backward(threads, rows, c, u->z, da, net->params + u->gamma, net->saved + u->saved,
                  net->saved + u->saved + c, da, net->grads + u->gamma, net->grads + u->beta);
  const float *w = net->params + u->weight;
  float *dw = net->grads + u->weight;
  switch (u->kind) {
    case PNI_UNIT_FULL: pni_conv_backward(&s, threads, u->x, w, da, dx, dw, net->col); break;
    case PNI_UNIT_PW: {
      const int64_t in_rows = s.n * s.h * s.w;
      pni_conv1x1_backward_weight(threads, in_rows, s.cin, s.cout, u->x, da, dw, 0);
      if (dx != NULL) pni_conv1x1_backward_data(threads, in_rows, s.cin, s.cout, da, w, dx);
      break;
    }
    case PNI_UNIT_DW: pni_dwconv_backward(&s, threads, u->x, w, da, dx, dw); break;
  }
}

void pni_net_backward(pnas_net *net, const float *dlogits, int32_t batch, float *dinput) {
  const int32_t threads = net->ctx->threads;
  float *cur = net->grad_buf[0], *next = net->grad_buf[1], *saved_grad = net->grad_buf[2];
  const float *features = net->dropout > 0.0f ? net->dropped : net->pooled;
  /* d(features) lands in `next` first (batch x features). */
  pni_linear_backward(threads, batch, net->features, net->classes, features,
                      net->params + net->fc_weight, dlogits, next,
                      net->grads + net->fc_weight, net->grads + net->fc_bias);
  if (net->dropout > 0.0f) {
    pni_dropout_backward((int64_t)batch * net->features, net->dropout, net->mask, next, next);
  }
  pni_avgpool_backward(threads, batch, net->feature_hw, net->features, next, cur);
  if (net->has_head) {
    unit_backward(net, &net->head, batch, cur, next);
    float *t = cur;
    cur = next;
    next = t;
  }
  for (int32_t i = net->block_count - 1; i >= 0; i--) {
    pni_net_block *b = &net->blocks[i];
    if (b->units == 0) continue;
    const pni_unit *last = &b->unit[b->units - 1];
    const int64_t out_floats = unit_out_floats(last, batch);
    if (b->residual) memcpy(saved_grad, cur, sizeof(float) * (size_t)out_floats);
    for (int32_t u = b->units - 1; u >= 0; u--) {
      unit_backward(net, &b->unit[u], batch, cur, next);
      float *t = cur;
      cur = next;
      next = t;
    }
    if (b->residual) pni_add(threads, out_floats, cur, saved_grad, cur);
  }
  unit_backward(net, &net->stem, batch, cur, dinput);
}

/* --- SGD ------------------------------------------------------------------ */

/* PyTorch's SGD: g = grad + wd * w; m = momentum * m + g; with Nesterov the
 * step uses g + momentum * m, else m; w -= lr * step. A zero-initialised
 * momentum gives the same first step as PyTorch's clone-on-first-use. */
void pni_net_sgd_update(pnas_net *net) {
  const float lr = net->sgd.lr, mu = net->sgd.momentum;
  const int nesterov = net->sgd.nesterov;
  for (int32_t s = 0; s < net->segment_count; s++) {
    const pni_param_segment *seg = &net->segments[s];
    const float wd = seg->bn_or_bias && net->sgd.no_decay_on_bn ? 0.0f : net->sgd.weight_decay;
    float *w = net->params + seg->offset, *m = net->momenta + seg->offset;
    const float *g = net->grads + seg->offset;
    const int64_t size = seg->size;
#pragma omp parallel for num_threads(net->ctx->threads) schedule(static) if (size > 65536)
    for (int64_t i = 0; i < size; i++) {
      const float gi = g[i] + wd * w[i];
      const float mi = mu * m[i] + gi;
      m[i] = mi;
      w[i] -= lr * (nesterov ? gi + mu * mi : mi);
    }
  }
  net->steps++;
}
