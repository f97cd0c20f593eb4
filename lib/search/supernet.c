/* SPDX-License-Identifier: MIT */
/* Building the supernet, and the forward, backward and SGD of its active
 * path. Arch steps are in arch_step.c, pruning and derivation in derive.c. */
#include "search/supernet.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"

/* --- planning ------------------------------------------------------------- */

/* Plans the units of one candidate at the planner's current offsets, with
 * segments of its own, so that its ranges are contiguous. */
static void plan_candidate(pni_planner *global, pni_candidate *c, int64_t n) {
  pni_planner p = *global;
  p.segments = c->segments;
  p.segment_count = 0;
  c->param_begin = p.params;
  c->stats_begin = p.stats;
  c->saved_begin = p.saved;
  pni_block_plan(&p, &c->nb, &c->block, n);
  c->param_end = p.params;
  c->stats_end = p.stats;
  c->saved_end = p.saved;
  c->segment_count = p.segment_count;
  global->params = p.params;
  global->stats = p.stats;
  global->saved = p.saved;
  if (p.activation_floats > global->activation_floats) {
    global->activation_floats = p.activation_floats;
  }
  if (p.pw_weight_floats > global->pw_weight_floats) global->pw_weight_floats = p.pw_weight_floats;
  if (p.max_channels > global->max_channels) global->max_channels = p.max_channels;
  if (p.dw_grad_floats > global->dw_grad_floats) global->dw_grad_floats = p.dw_grad_floats;
  /* Buffer positions: a candidate with expand 1 has no expand unit. */
  for (int32_t u = 0; u < c->nb.units; u++) {
    c->position[u] = c->nb.units == 3 ? u : u + 1;
  }
}

/* The fixed parts (stem, first block, head, classifier) are planned at the
 * shared offsets but collect their SGD segments in the supernet's own list:
 * take a planner for them, then hand the offsets back. */
static pni_planner fixed_begin(const pnas_supernet *sn, const pni_planner *p) {
  pni_planner q = *p;
  q.segments = sn->fixed_segments;
  q.segment_count = sn->fixed_segment_count;
  return q;
}

static void fixed_end(pnas_supernet *sn, pni_planner *p, const pni_planner *q) {
  sn->fixed_segment_count = q->segment_count;
  *p = *q;
  p->segments = NULL;
  p->segment_count = 0;
}

static void plan(pnas_supernet *sn, pni_planner *p) {
  const pnas_space *space = sn->space;
  const pnas_space_info *info = &space->info;
  const int64_t n = sn->max_batch;
  pni_planner q = fixed_begin(sn, p);
  pni_unit_plan(&q, &sn->stem, PNI_UNIT_FULL, 1, n, info->input_height, info->input_width,
                info->input_channels, info->stem_channels, info->stem_kernel, info->stem_stride);
  sn->has_first = info->first_block_channels > 0;
  if (sn->has_first) pni_block_plan(&q, &sn->first, &space->first_block, n);
  fixed_end(sn, p, &q);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) plan_candidate(p, &layer->cand[j], n);
  }
  int32_t h, w, c;
  pni_space_features(space, &h, &w, &c);
  sn->has_head = info->head_channels > 0;
  q = fixed_begin(sn, p);
  if (sn->has_head) {
    pni_unit_plan(&q, &sn->head, PNI_UNIT_PW, 1, n, h, w, c, info->head_channels, 1, 1);
    c = info->head_channels;
  }
  sn->features = c;
  const int64_t hw = (int64_t)h * w;
  if (hw > INT32_MAX) q.activation_floats = PNI_PLAN_TOO_LARGE;
  sn->feature_hw = hw > INT32_MAX ? 0 : (int32_t)hw;
  sn->classes = info->classes;
  sn->fc_weight = pni_plan_params(&q, (int64_t)c * info->classes, 0);
  sn->fc_bias = pni_plan_params(&q, info->classes, 1);
  fixed_end(sn, p, &q);
}

/* --- creation ------------------------------------------------------------- */

static void set_up_layers(pnas_supernet *sn) {
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    layer->spec = &sn->space->layers[l];
    layer->count = layer->spec->op_count;
    layer->active = 0;
    layer->other = -1;
    for (int32_t j = 0; j < layer->count; j++) {
      pni_candidate *c = &layer->cand[j];
      c->op = layer->spec->ops[j];
      c->space_index = j;
      pni_space_candidate(sn->space, l, j, &c->block);
    }
  }
}

/* The buffers shared by the inner units of every block (first block and
 * candidates, on and off the path): see pni_block_share_inner. */
static int allocate_inner_buffers(pnas_supernet *sn) {
  int64_t size[PNI_INNER_SLOTS] = {0, 0};
  if (sn->has_first) pni_block_inner_floats(&sn->first, sn->max_batch, size);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      pni_block_inner_floats(&layer->cand[j].nb, sn->max_batch, size);
    }
  }
  return pni_inner_alloc(sn->ctx, size, sn->inner);
}

/* Allocates each layer's buffers (largest candidate per position: z at
 * every position, a at the last, the block's output), the scratch set and
 * the pair-output buffer, and points every candidate's units at its
 * layer's buffers and the inner ones. */
static int allocate_layer_buffers(pnas_supernet *sn) {
  pnas_context *ctx = sn->ctx;
  int64_t scratch[PNI_POSITIONS] = {0, 0, 0};
  const int last = PNI_POSITIONS - 1;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    int64_t size[PNI_POSITIONS] = {0, 0, 0};
    for (int32_t j = 0; j < layer->count; j++) {
      const pni_candidate *c = &layer->cand[j];
      for (int32_t u = 0; u < c->nb.units; u++) {
        const int64_t out = pni_unit_out_floats(&c->nb.unit[u], sn->max_batch);
        if (out > size[c->position[u]]) size[c->position[u]] = out;
      }
    }
    for (int pos = 0; pos < PNI_POSITIONS; pos++) {
      if (size[pos] > scratch[pos]) scratch[pos] = size[pos];
      if (size[pos] == 0) continue;
      layer->buf_z[pos] = pni_alloc_floats(ctx, size[pos]);
      if (layer->buf_z[pos] == NULL) return 0;
    }
    if (size[last] > 0) {
      layer->buf_a = pni_alloc_floats(ctx, size[last]);
      if (layer->buf_a == NULL) return 0;
    }
    const pni_block *shape = &layer->spec->shape;
    layer->other_out = pni_alloc_floats(
        ctx, (int64_t)sn->max_batch * shape->out_height * shape->out_width * shape->out_channels);
    if (layer->other_out == NULL) return 0;
    for (int32_t j = 0; j < layer->count; j++) {
      pni_candidate *c = &layer->cand[j];
      for (int32_t u = 0; u < c->nb.units; u++) c->nb.unit[u].z = layer->buf_z[c->position[u]];
      if (c->nb.units > 0) c->nb.unit[c->nb.units - 1].a = layer->buf_a;
      pni_block_share_inner(&c->nb, sn->inner);
    }
  }
  for (int pos = 0; pos < PNI_POSITIONS; pos++) {
    sn->scratch_z[pos] = pni_alloc_floats(ctx, scratch[pos]);
    if (sn->scratch_z[pos] == NULL) return 0;
  }
  sn->scratch_a = pni_alloc_floats(ctx, scratch[last]);
  return sn->scratch_a != NULL;
}

static void init_weights(pnas_supernet *sn) {
  pni_rng *rng = &sn->ctx->rng;
  pni_unit_init(&sn->arena, &sn->stem, rng);
  for (int32_t u = 0; u < sn->first.units; u++) pni_unit_init(&sn->arena, &sn->first.unit[u], rng);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      for (int32_t u = 0; u < layer->cand[j].nb.units; u++) {
        pni_unit_init(&sn->arena, &layer->cand[j].nb.unit[u], rng);
      }
    }
  }
  if (sn->has_head) pni_unit_init(&sn->arena, &sn->head, rng);
  const double bound = 1.0 / sqrt((double)sn->features);
  float *w = sn->arena.params + sn->fc_weight;
  for (int64_t i = 0; i < (int64_t)sn->features * sn->classes; i++) {
    w[i] = (float)((pni_rng_uniform(rng) * 2.0 - 1.0) * bound);
  }
  memset(sn->arena.params + sn->fc_bias, 0, sizeof(float) * (size_t)sn->classes);
  /* alpha ~ N(0, alpha_init_std), after the weights (fixed draw order). */
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      layer->alpha[j] = (float)(pni_rng_normal(rng) * sn->options.alpha_init_std);
    }
  }
}

pnas_status pni_supernet_create(pnas_context *ctx, const pnas_space *space,
                                const pnas_supernet_options *options, pnas_supernet **out) {
  pnas_supernet *sn = pni_calloc(ctx, 1, sizeof *sn);
  if (sn == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  sn->tag = PNI_TAG_SUPERNET;
  sn->ctx = ctx;
  sn->options = *options;
  sn->max_batch = options->max_batch;
  pnas_sgd_options_init(&sn->sgd);
  pnas_search_options_init(&sn->search);
  sn->arena.ctx = ctx;
  sn->arena.bn_eps = options->bn_eps;
  sn->arena.bn_momentum = options->bn_momentum;
  pnas_status status = pni_space_copy(ctx, space, &sn->space);
  if (status != PNAS_OK) goto fail;
  status = PNAS_ERR_OUT_OF_MEMORY;
  sn->layer_count = sn->space->info.layers;
  sn->layers =
      pni_calloc(ctx, (size_t)(sn->layer_count > 0 ? sn->layer_count : 1), sizeof *sn->layers);
  sn->fixed_segments = pni_calloc(ctx, 16, sizeof *sn->fixed_segments);
  if (sn->layers == NULL || sn->fixed_segments == NULL) goto fail;
  set_up_layers(sn);
  pni_planner p = {0};
  plan(sn, &p);
  sn->param_count = p.params;
  sn->stats_count = p.stats;
  sn->saved_count = p.saved;
  sn->activation_floats = p.activation_floats;
  if (p.activation_floats == PNI_PLAN_TOO_LARGE) {
    status = pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "the supernet is too large: with max_batch %d an activation exceeds the "
                      "sizes the kernels support (2^31 rows or 2^63 floats)",
                      (int)sn->max_batch);
    goto fail;
  }

  pni_arena *a = &sn->arena;
  a->params = pni_alloc_floats(ctx, sn->param_count);
  a->grads = pni_alloc_floats(ctx, sn->param_count);
  a->momenta = pni_alloc_floats(ctx, sn->param_count);
  a->stats = pni_alloc_floats(ctx, sn->stats_count);
  a->saved = pni_alloc_floats(ctx, sn->saved_count);
  a->col = pni_alloc_floats(ctx, (int64_t)pni_conv_workspace_floats(&sn->stem.shape));
  a->wt = pni_alloc_floats(ctx, p.pw_weight_floats);
  a->bn_grad_scratch = pni_alloc_floats(ctx, 2 * p.max_channels);
  a->dw_grad = pni_alloc_floats(ctx, p.dw_grad_floats);
  a->rebuild = pni_alloc_floats(ctx, pni_rebuild_floats(p.max_channels));
  sn->stats_backup = pni_alloc_floats(ctx, sn->stats_count);
  sn->pooled = pni_alloc_floats(ctx, (int64_t)sn->max_batch * sn->features);
  sn->logits = pni_alloc_floats(ctx, (int64_t)sn->max_batch * sn->classes);
  sn->dlogits = pni_alloc_floats(ctx, (int64_t)sn->max_batch * sn->classes);
  for (int i = 0; i < 3; i++) sn->grad_buf[i] = pni_alloc_floats(ctx, sn->activation_floats);
  if (a->params == NULL || a->grads == NULL || a->momenta == NULL || a->stats == NULL ||
      a->saved == NULL || a->col == NULL || a->wt == NULL || a->bn_grad_scratch == NULL ||
      a->dw_grad == NULL || a->rebuild == NULL || sn->stats_backup == NULL || sn->pooled == NULL ||
      sn->logits == NULL || sn->dlogits == NULL || sn->grad_buf[0] == NULL ||
      sn->grad_buf[1] == NULL || sn->grad_buf[2] == NULL) {
    goto fail;
  }
  if (!pni_unit_alloc(ctx, &sn->stem, NULL)) goto fail;
  if (!allocate_inner_buffers(sn)) goto fail;
  if (!pni_block_alloc(ctx, &sn->first, sn->inner)) goto fail;
  if (sn->has_head && !pni_unit_alloc(ctx, &sn->head, NULL)) goto fail;
  if (!allocate_layer_buffers(sn)) goto fail;
  memset(a->grads, 0, sizeof(float) * (size_t)sn->param_count);
  memset(a->momenta, 0, sizeof(float) * (size_t)sn->param_count);
  init_weights(sn);
  *out = sn;
  return PNAS_OK;
fail:
  if (status == PNAS_ERR_OUT_OF_MEMORY) {
    pni_fail(ctx, status, "out of memory while building a supernet of %lld parameters",
             (long long)sn->param_count);
  }
  pni_supernet_destroy(sn);
  return status;
}

void pni_supernet_destroy(pnas_supernet *sn) {
  if (sn == NULL) return;
  pnas_context *ctx = sn->ctx;
  pni_unit_free(ctx, &sn->stem);
  for (int32_t u = 0; u < sn->first.units; u++) pni_unit_free(ctx, &sn->first.unit[u]);
  pni_unit_free(ctx, &sn->head);
  if (sn->layers != NULL) {
    for (int32_t l = 0; l < sn->layer_count; l++) {
      pni_mixed_layer *layer = &sn->layers[l];
      for (int pos = 0; pos < PNI_POSITIONS; pos++) pni_aligned_free(ctx, layer->buf_z[pos]);
      pni_aligned_free(ctx, layer->buf_a);
      pni_aligned_free(ctx, layer->other_out);
    }
  }
  for (int pos = 0; pos < PNI_POSITIONS; pos++) pni_aligned_free(ctx, sn->scratch_z[pos]);
  pni_aligned_free(ctx, sn->scratch_a);
  pni_inner_free(ctx, sn->inner);
  pni_arena *a = &sn->arena;
  float *arrays[] = {
      a->rebuild, a->params,   a->grads,           a->momenta,      a->stats,         a->saved,
      a->col,     a->wt,       a->bn_grad_scratch, a->dw_grad,      sn->stats_backup, sn->pooled,
      sn->logits, sn->dlogits, sn->grad_buf[0],    sn->grad_buf[1], sn->grad_buf[2]};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) pni_aligned_free(ctx, arrays[i]);
  pni_free(ctx, sn->fixed_segments);
  pni_free(ctx, sn->rl_rewards);
  pni_free(ctx, sn->rl_choices);
  pni_free(ctx, sn->layers);
  pni_space_destroy(sn->space);
  sn->tag = PNI_TAG_DEAD;
  pni_free(ctx, sn);
}

/* --- probabilities and sampling ------------------------------------------- */

void pni_layer_probs(const pni_mixed_layer *layer, double *p) {
  double max = -INFINITY, sum = 0.0;
  for (int32_t j = 0; j < layer->count; j++) max = fmax(max, (double)layer->alpha[j]);
  for (int32_t j = 0; j < layer->count; j++) {
    p[j] = exp((double)layer->alpha[j] - max);
    sum += p[j];
  }
  for (int32_t j = 0; j < layer->count; j++) p[j] /= sum;
}

int32_t pni_sample_index(pni_rng *rng, const double *p, int32_t n) {
  const double u = pni_rng_uniform(rng);
  double acc = 0.0;
  for (int32_t j = 0; j < n; j++) {
    acc += p[j];
    if (u < acc) return j;
  }
  return n - 1; /* rounding left a sliver above the last cumulative sum */
}

/* --- forward and backward --------------------------------------------------- */

/* Runs candidate j of a layer on x with the scratch buffers and batch
 * statistics that leave the running ones untouched (momentum 0). Returns
 * its output o_j(x) (the residual not added), or NULL for zero. */
static const float *run_off_path(pnas_supernet *sn, pni_mixed_layer *layer, int32_t j,
                                 const float *x, int32_t batch, float *out) {
  pni_candidate *c = &layer->cand[j];
  if (c->nb.units == 0) return NULL;
  pni_arena frozen = sn->arena;
  frozen.bn_momentum = 0.0f;
  pni_net_block nb = c->nb;
  nb.residual = 0;
  /* The inner units keep the shared buffers: an off-path run is not
   * followed by a backward that needs their outputs. The last unit writes
   * straight into out when the output must outlive the scratch buffers
   * (no copy). */
  for (int32_t u = 0; u < nb.units; u++) nb.unit[u].z = sn->scratch_z[c->position[u]];
  nb.unit[nb.units - 1].a = out != NULL ? out : sn->scratch_a;
  /* The saved batch statistics of the candidate are scratch too: only the
   * active path's are needed by the backward. */
  return pni_block_forward(&frozen, &nb, x, batch, 1);
}

void pni_supernet_forward(pnas_supernet *sn, const float *images, int32_t batch, int training,
                          int two_mode) {
  const pni_arena *a = &sn->arena;
  pni_unit_forward(a, &sn->stem, images, batch, training);
  const float *cur = sn->stem.a;
  if (sn->has_first) cur = pni_block_forward(a, &sn->first, cur, batch, training);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    layer->x = cur;
    if (two_mode && layer->other >= 0) {
      /* The inactive op of the pair runs first, so that the active path's
       * saved statistics are the last written. */
      run_off_path(sn, layer, layer->other, cur, batch, layer->other_out);
    }
    pni_candidate *c = &layer->cand[layer->active];
    if (c->nb.units > 0) cur = pni_block_forward(a, &c->nb, cur, batch, training);
  }
  const int32_t threads = sn->ctx->threads;
  pni_head_pool_forward(a, sn->has_head ? &sn->head : NULL, cur, batch, training, sn->feature_hw,
                        sn->features, sn->pooled);
  pni_linear_forward(threads, batch, sn->features, sn->classes, sn->pooled,
                     a->params + sn->fc_weight, a->params + sn->fc_bias, sn->logits);
}

/* Fixed slices of a gate dot product: their partial sums are added in
 * slice order, so the result does not depend on the thread count. Below
 * GATE_DOT_SERIAL elements one thread does it (a team costs more). */
#define GATE_DOT_SLICES 32
#define GATE_DOT_SERIAL ((int64_t)1 << 16)

/* sum(dy * o), o = y - x when the active block added its input. */
static double gate_dot(int32_t threads, int64_t count, const float *dy, const float *y,
                       const float *x) {
  double part[GATE_DOT_SLICES];
  const int team = threads > 1 && count >= GATE_DOT_SERIAL ? (int)threads : 1;
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int s = 0; s < GATE_DOT_SLICES; s++) {
    const int64_t i0 = count * s / GATE_DOT_SLICES, i1 = count * (s + 1) / GATE_DOT_SLICES;
    double sum = 0.0;
    if (x == NULL) {
      for (int64_t i = i0; i < i1; i++) sum += (double)dy[i] * y[i];
    } else {
      for (int64_t i = i0; i < i1; i++) sum += (double)dy[i] * ((double)y[i] - x[i]);
    }
    part[s] = sum;
  }
  double sum = 0.0;
  for (int s = 0; s < GATE_DOT_SLICES; s++) sum += part[s];
  return sum;
}

/* Gate gradients of a layer from dL/dy (dy) before the backward overwrites
 * the active candidate's buffers. */
static void layer_gates(pnas_supernet *sn, pni_mixed_layer *layer, const float *dy, int32_t batch,
                        int gates) {
  const pni_block *shape = &layer->spec->shape;
  const int64_t count = (int64_t)batch * shape->out_height * shape->out_width * shape->out_channels;
  const int32_t threads = sn->ctx->threads;
  for (int32_t j = 0; j < layer->count; j++) layer->gate_grad[j] = 0.0;
  const pni_candidate *act = &layer->cand[layer->active];
  if (act->nb.units > 0) {
    const float *y = act->nb.unit[act->nb.units - 1].a;
    const float *residual = act->nb.residual ? layer->x : NULL;
    layer->gate_grad[layer->active] = gate_dot(threads, count, dy, y, residual);
  }
  if (gates == 2) {
    if (layer->other >= 0 && layer->cand[layer->other].nb.units > 0) {
      layer->gate_grad[layer->other] = gate_dot(threads, count, dy, layer->other_out, NULL);
    }
    return;
  }
  for (int32_t j = 0; j < layer->count; j++) {
    if (j == layer->active) continue;
    const float *o = run_off_path(sn, layer, j, layer->x, batch, NULL);
    if (o != NULL) layer->gate_grad[j] = gate_dot(threads, count, dy, o, NULL);
  }
}

void pni_supernet_backward(pnas_supernet *sn, const float *dlogits, int32_t batch, int gates) {
  const int32_t threads = sn->ctx->threads;
  const pni_arena *a = &sn->arena;
  /* An arch step (gates set) needs dL/dy at each mixed layer and nothing
   * else: no weight gradient is computed (the gradient buffer is not
   * touched), and the backward stops at the first mixed layer's gates. */
  const int weight_grads = gates == 0;
  float *cur = sn->grad_buf[0], *next = sn->grad_buf[1];
  pni_linear_backward(threads, batch, sn->features, sn->classes, sn->pooled,
                      a->params + sn->fc_weight, dlogits, next,
                      weight_grads ? a->grads + sn->fc_weight : NULL,
                      weight_grads ? a->grads + sn->fc_bias : NULL);
  pni_avgpool_backward(threads, batch, sn->feature_hw, sn->features, next, cur);
  if (sn->has_head) {
    pni_unit_backward(a, &sn->head, batch, cur, next, weight_grads, NULL);
    float *t = cur;
    cur = next;
    next = t;
  }
  for (int32_t l = sn->layer_count - 1; l >= 0; l--) {
    pni_mixed_layer *layer = &sn->layers[l];
    if (gates) layer_gates(sn, layer, cur, batch, gates);
    if (gates && l == 0) break; /* nothing below has a gate */
    pni_candidate *c = &layer->cand[layer->active];
    pni_block_backward(a, &c->nb, batch, &cur, &next, sn->grad_buf[2], 1, weight_grads);
  }
  if (gates) return;
  if (sn->has_first) {
    pni_block_backward(a, &sn->first, batch, &cur, &next, sn->grad_buf[2], 1, 1);
  }
  pni_unit_backward(a, &sn->stem, batch, cur, NULL, 1, NULL);
}

void pni_supernet_sgd(pnas_supernet *sn) {
  pni_sgd_segments(&sn->arena, sn->fixed_segments, sn->fixed_segment_count, &sn->sgd);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_candidate *c = &sn->layers[l].cand[sn->layers[l].active];
    pni_sgd_segments(&sn->arena, c->segments, c->segment_count, &sn->sgd);
  }
}

double pni_supernet_expected_latency(const pnas_supernet *sn) {
  double e = sn->fixed_latency_ms;
  double p[PNI_SPACE_MAX_OPS];
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    pni_layer_probs(layer, p);
    for (int32_t j = 0; j < layer->count; j++) e += p[j] * layer->cand[j].latency_ms;
  }
  return e;
}
