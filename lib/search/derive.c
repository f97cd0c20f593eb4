/* SPDX-License-Identifier: MIT */
/* Pricing candidates, path pruning (with compaction of the arenas) and
 * derivation of the argmax architecture. ALGORITHM.md sections 4 and 5. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/net.h"
#include "search/latency.h"
#include "search/supernet.h"

pnas_status pni_supernet_price(pnas_supernet *sn, pnas_latency_model *model) {
  /* Priced into a scratch table first, so that a miss changes nothing. */
  double *price = pni_alloc(sn->ctx, sizeof(double) * PNI_SPACE_MAX_OPS *
                                         (size_t)(sn->layer_count > 0 ? sn->layer_count : 1));
  if (price == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  pnas_status status = PNAS_OK;
  for (int32_t l = 0; l < sn->layer_count && status == PNAS_OK; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count && status == PNAS_OK; j++) {
      status = pni_latency_model_block_ms(model, &layer->cand[j].block,
                                          &price[l * PNI_SPACE_MAX_OPS + j]);
    }
  }
  double fixed = 0.0;
  if (status == PNAS_OK) {
    /* Stem, head and classifier are priced on any architecture of the
     * space: they do not depend on the choices. */
    int32_t *zeros = pni_calloc(sn->ctx, (size_t)(sn->layer_count > 0 ? sn->layer_count : 1),
                                sizeof(int32_t));
    pnas_arch *arch = NULL;
    status = zeros == NULL ? PNAS_ERR_OUT_OF_MEMORY : pni_space_build_arch(sn->space, zeros, &arch);
    if (status == PNAS_OK) status = pni_latency_model_fixed_ms(model, arch, &fixed);
    if (status == PNAS_OK && sn->has_first) {
      double first = 0.0;
      status = pni_latency_model_block_ms(model, &sn->space->first_block, &first);
      fixed += first;
    }
    pni_arch_destroy(arch);
    pni_free(sn->ctx, zeros);
  }
  if (status == PNAS_OK) {
    for (int32_t l = 0; l < sn->layer_count; l++) {
      pni_mixed_layer *layer = &sn->layers[l];
      for (int32_t j = 0; j < layer->count; j++) {
        layer->cand[j].latency_ms = price[l * PNI_SPACE_MAX_OPS + j];
      }
    }
    sn->fixed_latency_ms = fixed;
    sn->has_latency = 1;
  }
  pni_free(sn->ctx, price);
  return status;
}

void pni_supernet_argmax(const pnas_supernet *sn, int32_t *choice) {
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    int32_t best = 0;
    for (int32_t j = 1; j < layer->count; j++) {
      if (layer->alpha[j] > layer->alpha[best]) best = j;
    }
    choice[l] = layer->cand[best].space_index;
  }
}

/* --- pruning ---------------------------------------------------------------- */

typedef struct removed_range {
  int64_t begin, end;
} removed_range;

/* old offset -> new offset, given the removed ranges sorted by begin. */
static int64_t remap(int64_t offset, const removed_range *r, int32_t n) {
  int64_t shift = 0;
  for (int32_t i = 0; i < n && r[i].begin <= offset; i++) shift += r[i].end - r[i].begin;
  return offset - shift;
}

static void remap_unit(pni_unit *u, const removed_range *p, const removed_range *s,
                       const removed_range *v, int32_t n) {
  u->weight = remap(u->weight, p, n);
  u->gamma = remap(u->gamma, p, n);
  u->beta = remap(u->beta, p, n);
  u->stats = remap(u->stats, s, n);
  u->saved = remap(u->saved, v, n);
}

/* Copies src without the removed ranges into a new buffer; frees src. */
static float *compact(pnas_context *ctx, float *src, int64_t count, const removed_range *r,
                      int32_t n, int64_t removed) {
  float *dst = pni_alloc_floats(ctx, count - removed);
  if (dst == NULL) return NULL;
  int64_t from = 0, to = 0;
  for (int32_t i = 0; i <= n; i++) {
    const int64_t stop = i < n ? r[i].begin : count;
    memcpy(dst + to, src + from, sizeof(float) * (size_t)(stop - from));
    to += stop - from;
    if (i < n) from = r[i].end;
  }
  return dst;
}

/* Marks the candidates to prune: below the threshold for `patience` arch
 * steps; never a layer's last (its best by alpha survives). */
static int32_t mark_for_pruning(pnas_supernet *sn) {
  int32_t total = 0;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    int32_t best = 0, keep = 0;
    for (int32_t j = 0; j < layer->count; j++) {
      pni_candidate *c = &layer->cand[j];
      c->prune_mark = sn->search.prune_threshold > 0.0f && c->below >= sn->search.prune_patience;
      keep += !c->prune_mark;
      if (layer->alpha[j] > layer->alpha[best]) best = j;
    }
    if (keep == 0) layer->cand[best].prune_mark = 0;
    for (int32_t j = 0; j < layer->count; j++) total += layer->cand[j].prune_mark;
  }
  return total;
}

pnas_status pni_supernet_remove_marked(pnas_supernet *sn, int32_t *removed) {
  int32_t total = 0;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    for (int32_t j = 0; j < sn->layers[l].count; j++) total += sn->layers[l].cand[j].prune_mark;
  }
  if (total == 0) {
    if (removed != NULL) *removed = 0;
    return PNAS_OK;
  }
  removed_range *rp = pni_alloc(sn->ctx, sizeof(removed_range) * 3 * (size_t)total);
  if (rp == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  removed_range *rs = rp + total, *rv = rp + 2 * total;
  int32_t n = 0;
  int64_t removed_p = 0, removed_s = 0, removed_v = 0;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    for (int32_t j = 0; j < layer->count; j++) {
      const pni_candidate *c = &layer->cand[j];
      if (!c->prune_mark) continue;
      rp[n] = (removed_range){c->param_begin, c->param_end};
      rs[n] = (removed_range){c->stats_begin, c->stats_end};
      rv[n] = (removed_range){c->saved_begin, c->saved_end};
      removed_p += c->param_end - c->param_begin;
      removed_s += c->stats_end - c->stats_begin;
      removed_v += c->saved_end - c->saved_begin;
      n++;
    }
  }
  /* Candidates were planned in order, so the ranges are already sorted. */
  pni_arena *a = &sn->arena;
  pnas_context *ctx = sn->ctx;
  float *params = compact(ctx, a->params, sn->param_count, rp, n, removed_p);
  float *grads = compact(ctx, a->grads, sn->param_count, rp, n, removed_p);
  float *momenta = compact(ctx, a->momenta, sn->param_count, rp, n, removed_p);
  float *stats = compact(ctx, a->stats, sn->stats_count, rs, n, removed_s);
  float *backup = pni_alloc_floats(ctx, sn->stats_count - removed_s);
  float *saved = compact(ctx, a->saved, sn->saved_count, rv, n, removed_v);
  if (params == NULL || grads == NULL || momenta == NULL || stats == NULL || backup == NULL ||
      saved == NULL) {
    float *fresh[] = {params, grads, momenta, stats, backup, saved};
    for (int i = 0; i < 6; i++) pni_aligned_free(ctx, fresh[i]);
    pni_free(ctx, rp);
    return PNAS_ERR_OUT_OF_MEMORY; /* nothing changed */
  }
  float *old[] = {a->params, a->grads, a->momenta, a->stats, sn->stats_backup, a->saved};
  for (int i = 0; i < 6; i++) pni_aligned_free(ctx, old[i]);
  a->params = params;
  a->grads = grads;
  a->momenta = momenta;
  a->stats = stats;
  sn->stats_backup = backup;
  a->saved = saved;

  /* Re-point every offset. */
  remap_unit(&sn->stem, rp, rs, rv, n);
  for (int32_t u = 0; u < sn->first.units; u++) remap_unit(&sn->first.unit[u], rp, rs, rv, n);
  if (sn->has_head) remap_unit(&sn->head, rp, rs, rv, n);
  sn->fc_weight = remap(sn->fc_weight, rp, n);
  sn->fc_bias = remap(sn->fc_bias, rp, n);
  for (int32_t s = 0; s < sn->fixed_segment_count; s++) {
    sn->fixed_segments[s].offset = remap(sn->fixed_segments[s].offset, rp, n);
  }
  int32_t removed_count = 0;
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    int32_t to = 0;
    for (int32_t j = 0; j < layer->count; j++) {
      pni_candidate c = layer->cand[j];
      if (c.prune_mark) {
        removed_count++;
        continue;
      }
      for (int32_t u = 0; u < c.nb.units; u++) remap_unit(&c.nb.unit[u], rp, rs, rv, n);
      for (int32_t s2 = 0; s2 < c.segment_count; s2++) {
        c.segments[s2].offset = remap(c.segments[s2].offset, rp, n);
      }
      const int64_t params_len = c.param_end - c.param_begin;
      const int64_t stats_len = c.stats_end - c.stats_begin;
      const int64_t saved_len = c.saved_end - c.saved_begin;
      c.param_begin = remap(c.param_begin, rp, n);
      c.param_end = c.param_begin + params_len;
      c.stats_begin = remap(c.stats_begin, rs, n);
      c.stats_end = c.stats_begin + stats_len;
      c.saved_begin = remap(c.saved_begin, rv, n);
      c.saved_end = c.saved_begin + saved_len;
      layer->cand[to] = c;
      layer->alpha[to] = layer->alpha[j];
      layer->adam_m[to] = layer->adam_m[j];
      layer->adam_v[to] = layer->adam_v[j];
      to++;
    }
    layer->count = to;
    layer->active = 0;
    layer->other = -1;
  }
  sn->param_count -= removed_p;
  sn->stats_count -= removed_s;
  sn->saved_count -= removed_v;
  pni_free(ctx, rp);
  if (removed != NULL) *removed = removed_count;
  return PNAS_OK;
}

pnas_status pni_supernet_prune(pnas_supernet *sn, int32_t *pruned) {
  mark_for_pruning(sn);
  return pni_supernet_remove_marked(sn, pruned);
}

/* --- derivation ----------------------------------------------------------- */

/* Copies a unit's weights, BN parameters and running statistics. */
static void copy_unit(const pni_arena *from, const pni_unit *src, pni_arena *to,
                      const pni_unit *dst) {
  const pni_conv_shape *s = &src->shape;
  const int64_t weights =
      src->kind == PNI_UNIT_DW ? s->k * s->k * s->cout : s->k * s->k * s->cin * s->cout;
  memcpy(to->params + dst->weight, from->params + src->weight, sizeof(float) * (size_t)weights);
  memcpy(to->params + dst->gamma, from->params + src->gamma, sizeof(float) * (size_t)s->cout);
  memcpy(to->params + dst->beta, from->params + src->beta, sizeof(float) * (size_t)s->cout);
  memcpy(to->stats + dst->stats, from->stats + src->stats, sizeof(float) * 2 * (size_t)s->cout);
}

static void copy_block(const pni_arena *from, const pni_net_block *src, pni_arena *to,
                       const pni_net_block *dst) {
  for (int32_t u = 0; u < src->units && u < dst->units; u++) {
    copy_unit(from, &src->unit[u], to, &dst->unit[u]);
  }
}

pnas_status pni_supernet_derive_net(pnas_supernet *sn, const pnas_net_options *options,
                                    int inherit, pnas_net **out) {
  int32_t *choice = pni_calloc(sn->ctx, (size_t)(sn->layer_count > 0 ? sn->layer_count : 1),
                               sizeof(int32_t));
  if (choice == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  pni_supernet_argmax(sn, choice);
  pnas_arch *arch = NULL;
  pnas_net *net = NULL;
  pnas_status status = pni_space_build_arch(sn->space, choice, &arch);
  if (status == PNAS_OK) status = pni_net_create(sn->ctx, arch, options, &net);
  if (status == PNAS_OK && inherit) {
    const pni_arena *from = &sn->arena;
    pni_arena *to = &net->arena;
    copy_unit(from, &sn->stem, to, &net->stem);
    int32_t block = 0;
    if (sn->has_first) copy_block(from, &sn->first, to, &net->blocks[block++]);
    for (int32_t l = 0; l < sn->layer_count; l++, block++) {
      const pni_mixed_layer *layer = &sn->layers[l];
      for (int32_t j = 0; j < layer->count; j++) {
        if (layer->cand[j].space_index == choice[l]) {
          copy_block(from, &layer->cand[j].nb, to, &net->blocks[block]);
        }
      }
    }
    if (sn->has_head) copy_unit(from, &sn->head, to, &net->head);
    memcpy(to->params + net->fc_weight, from->params + sn->fc_weight,
           sizeof(float) * (size_t)sn->features * (size_t)sn->classes);
    memcpy(to->params + net->fc_bias, from->params + sn->fc_bias,
           sizeof(float) * (size_t)sn->classes);
  }
  pni_arch_destroy(arch);
  pni_free(sn->ctx, choice);
  if (status != PNAS_OK) {
    pni_net_destroy(net);
    return status;
  }
  *out = net;
  return PNAS_OK;
}
