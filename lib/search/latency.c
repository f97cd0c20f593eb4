/* SPDX-License-Identifier: MIT */
/* The latency model object and its kinds (lookup table, host callback,
 * MACs): how each part of a network is described, keyed and priced.
 *
 * Every price goes through pni_latency_model_part_ms(), so that a table, a
 * callback and the MACs model see the same parts with the same keys, and
 * the profiler (profiler.c) measures exactly the keys a table lookup asks
 * for. */
#include "search/latency.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* Counts as lib/nn/arch.c counts them (the official count_conv_flop): a
 * convolution costs out_h * out_w * (c_in / groups) * c_out * k * k; batch
 * norm, activations, the residual add and pooling are free. */
static int64_t conv_macs(int64_t out_h, int64_t out_w, int64_t cin, int64_t cout, int64_t k,
                         int64_t groups) {
  return out_h * out_w * (cin / groups) * cout * k * k;
}

/* A convolution without bias followed by batch norm (scale and shift). */
static int64_t conv_bn_params(int64_t cin, int64_t cout, int64_t k, int64_t groups) {
  return (cin / groups) * cout * k * k + 2 * cout;
}

/* ---- parts and keys ---------------------------------------------------- */

void pni_latency_part_conv(pni_latency_part *out, pnas_latency_part part, int32_t in_h,
                           int32_t in_w, int32_t in_c, int32_t out_c, int32_t kernel,
                           int32_t stride) {
  memset(out, 0, sizeof *out);
  out->part = part;
  pni_block *s = &out->shape;
  s->kind = PNAS_BLOCK_MBCONV;
  s->in_channels = in_c;
  s->out_channels = out_c;
  s->kernel = kernel;
  s->expand = 1;
  s->stride = stride;
  s->mid_channels = in_c;
  s->in_height = in_h;
  s->in_width = in_w;
  s->out_height = pni_conv_out_size(in_h, kernel, stride);
  s->out_width = pni_conv_out_size(in_w, kernel, stride);
  s->macs = conv_macs(s->out_height, s->out_width, in_c, out_c, kernel, 1);
  s->params = conv_bn_params(in_c, out_c, kernel, 1);
}

void pni_latency_part_logits(pni_latency_part *out, int32_t h, int32_t w, int32_t features,
                             int32_t classes) {
  memset(out, 0, sizeof *out);
  out->part = PNAS_LATENCY_LOGITS;
  pni_block *s = &out->shape;
  s->kind = PNAS_BLOCK_MBCONV;
  s->in_channels = features;
  s->out_channels = classes;
  s->kernel = 1;
  s->expand = 1;
  s->stride = 1;
  s->mid_channels = features;
  s->in_height = h;
  s->in_width = w;
  s->out_height = 1;
  s->out_width = 1;
  s->macs = (int64_t)features * classes;
  s->params = (int64_t)features * classes + classes;
}

void pni_latency_part_block(pni_latency_part *out, const pni_block *block) {
  memset(out, 0, sizeof *out);
  out->part = PNAS_LATENCY_BLOCK;
  out->shape = *block;
}

void pni_latency_part_key(const pni_latency_part *part, char *buf, size_t cap) {
  const pni_block *s = &part->shape;
  switch (part->part) {
    case PNAS_LATENCY_STEM:
    case PNAS_LATENCY_HEAD:
      snprintf(buf, cap, "%s-input:%dx%dx%d-output:%dx%dx%d",
               part->part == PNAS_LATENCY_STEM ? "Conv" : "Conv_1", (int)s->in_height,
               (int)s->in_width, (int)s->in_channels, (int)s->out_height, (int)s->out_width,
               (int)s->out_channels);
      break;
    case PNAS_LATENCY_LOGITS:
      snprintf(buf, cap, "Logits-input:%dx%dx%d-output:%d", (int)s->in_height, (int)s->in_width,
               (int)s->in_channels, (int)s->out_channels);
      break;
    case PNAS_LATENCY_BLOCK:
    default:
      pni_latency_key_block(s, buf, cap);
      break;
  }
}

void pni_latency_arch_stem(const pnas_arch *arch, pni_latency_part *out) {
  const pnas_arch_info *in = &arch->info;
  pni_latency_part_conv(out, PNAS_LATENCY_STEM, in->input_height, in->input_width,
                        in->input_channels, in->stem_channels, in->stem_kernel, in->stem_stride);
}

void pni_latency_arch_head(const pnas_arch *arch, pni_latency_part *out) {
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  pni_latency_part_conv(out, PNAS_LATENCY_HEAD, h, w, c, arch->info.head_channels, 1, 1);
}

void pni_latency_arch_logits(const pnas_arch *arch, pni_latency_part *out) {
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  if (arch->info.head_channels > 0) c = arch->info.head_channels;
  pni_latency_part_logits(out, h, w, c, arch->info.classes);
}

void pni_latency_key_stem(const pnas_arch *arch, char *buf, size_t cap) {
  pni_latency_part part;
  pni_latency_arch_stem(arch, &part);
  pni_latency_part_key(&part, buf, cap);
}

void pni_latency_key_block(const pni_block *b, char *buf, size_t cap) {
  snprintf(buf, cap,
           "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-idskip:%d",
           (int)b->in_height, (int)b->in_width, (int)b->in_channels, (int)b->out_height,
           (int)b->out_width, (int)b->out_channels, (int)b->expand, (int)b->kernel, (int)b->stride,
           b->residual ? 1 : 0);
}

void pni_latency_key_head(const pnas_arch *arch, char *buf, size_t cap) {
  pni_latency_part part;
  pni_latency_arch_head(arch, &part);
  pni_latency_part_key(&part, buf, cap);
}

void pni_latency_key_logits(const pnas_arch *arch, char *buf, size_t cap) {
  pni_latency_part part;
  pni_latency_arch_logits(arch, &part);
  pni_latency_part_key(&part, buf, cap);
}

/* ---- blocks given by the caller ---------------------------------------- */

static pnas_status check_member(pnas_context *ctx, const char *what, const char *member,
                                int32_t value, int32_t lo, int32_t hi) {
  if (value >= lo && value <= hi) return PNAS_OK;
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s.%s is %d; it must be between %d and %d", what,
                  member, (int)value, (int)lo, (int)hi);
}

pnas_status pni_latency_block_from_info(pnas_context *ctx, const char *what,
                                        const pnas_block_info *info, pni_block *out) {
  pni_block b;
  memset(&b, 0, sizeof b);
  b.kind = info->kind;
  b.in_channels = info->in_channels;
  b.in_height = info->in_height;
  b.in_width = info->in_width;
  if (info->kind == PNAS_BLOCK_IDENTITY) {
    /* Identity costs 0 whatever its shape, so its shape is not checked. */
    (void)pni_block_compute(&b);
    *out = b;
    return PNAS_OK;
  }
  if (info->kind != PNAS_BLOCK_MBCONV) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s.kind is %d; it must be PNAS_BLOCK_MBCONV (0) or PNAS_BLOCK_IDENTITY (1)",
                    what, (int)info->kind);
  }
  if (info->kernel != 3 && info->kernel != 5 && info->kernel != 7) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s.kernel is %d; it must be 3, 5 or 7", what,
                    (int)info->kernel);
  }
  if (info->stride != 1 && info->stride != 2) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s.stride is %d; it must be 1 or 2", what,
                    (int)info->stride);
  }
  pnas_status st;
  if ((st = check_member(ctx, what, "in_channels", info->in_channels, 1, PNI_ARCH_MAX_CHANNELS)) !=
          PNAS_OK ||
      (st = check_member(ctx, what, "out_channels", info->out_channels, 1,
                         PNI_ARCH_MAX_CHANNELS)) != PNAS_OK ||
      (st = check_member(ctx, what, "expand", info->expand, 1, PNI_ARCH_MAX_EXPAND)) != PNAS_OK ||
      (st = check_member(ctx, what, "in_height", info->in_height, 1, PNI_ARCH_MAX_SPATIAL)) !=
          PNAS_OK ||
      (st = check_member(ctx, what, "in_width", info->in_width, 1, PNI_ARCH_MAX_SPATIAL)) !=
          PNAS_OK) {
    return st;
  }
  b.out_channels = info->out_channels;
  b.kernel = info->kernel;
  b.expand = info->expand;
  b.stride = info->stride;
  /* The counts of lib/nn/arch.c, so that a block priced alone costs what
   * it costs inside an architecture. */
  if (pni_block_compute(&b) != 0) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s is too large: its multiply-accumulates do not fit in 64 bits", what);
  }
  *out = b;
  return PNAS_OK;
}

void pni_latency_block_to_info(const pni_block *b, pnas_block_info *out) {
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  out->kind = b->kind;
  out->in_channels = b->in_channels;
  out->out_channels = b->out_channels;
  out->kernel = b->kernel;
  out->expand = b->expand;
  out->stride = b->stride;
  out->residual = b->residual;
  out->in_height = b->in_height;
  out->in_width = b->in_width;
  out->out_height = b->out_height;
  out->out_width = b->out_width;
  out->macs = b->macs;
  out->params = b->params;
}

/* ---- the model object -------------------------------------------------- */

static pnas_latency_model *model_new(pnas_context *ctx, pni_latency_kind kind) {
  pnas_latency_model *m = pni_calloc(ctx, 1, sizeof *m);
  if (m == NULL) return NULL;
  m->tag = PNI_TAG_LATENCY;
  m->ctx = ctx;
  m->kind = kind;
  pni_latency_table_init(&m->table, ctx);
  return m;
}

pnas_status pni_latency_model_create_table(pnas_context *ctx, pni_latency_table *t,
                                           const char *source, pnas_latency_model **out) {
  pnas_latency_model *m = model_new(ctx, PNI_LATENCY_TABLE);
  if (m == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  if (source != NULL) {
    const size_t len = strlen(source);
    m->source = pni_alloc(ctx, len + 1);
    if (m->source == NULL) {
      pni_free(ctx, m);
      return PNAS_ERR_OUT_OF_MEMORY;
    }
    memcpy(m->source, source, len + 1);
  }
  m->table = *t;
  pni_latency_table_init(t, ctx);
  *out = m;
  return PNAS_OK;
}

pnas_status pni_latency_model_create_callback(pnas_context *ctx, pnas_latency_fn fn, void *user,
                                              pnas_latency_model **out) {
  pnas_latency_model *m = model_new(ctx, PNI_LATENCY_CALLBACK);
  if (m == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  m->fn = fn;
  m->user = user;
  *out = m;
  return PNAS_OK;
}

pnas_status pni_latency_model_create_macs(pnas_context *ctx, double ms_per_mmac,
                                          pnas_latency_model **out) {
  pnas_latency_model *m = model_new(ctx, PNI_LATENCY_MACS);
  if (m == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  m->ms_per_mmac = ms_per_mmac;
  *out = m;
  return PNAS_OK;
}

void pni_latency_model_destroy(pnas_latency_model *model) {
  if (model == NULL) return;
  pnas_context *ctx = model->ctx;
  pni_latency_table_free(&model->table);
  pni_free(ctx, model->source);
  model->tag = PNI_TAG_DEAD;
  pni_free(ctx, model);
}

/* ---- pricing ----------------------------------------------------------- */

static const char *part_name(pnas_latency_part part) {
  switch (part) {
    case PNAS_LATENCY_STEM:
      return "the stem";
    case PNAS_LATENCY_HEAD:
      return "the head";
    case PNAS_LATENCY_LOGITS:
      return "the classifier";
    case PNAS_LATENCY_BLOCK:
    default:
      return "the block";
  }
}

static pnas_status table_ms(pnas_latency_model *m, const char *key, const char *what,
                            double *out_ms) {
  const pni_latency_entry *e = pni_latency_table_find(&m->table, key);
  if (e == NULL) {
    return pni_fail(m->ctx, PNAS_ERR_NOT_FOUND, "latency table%s%s%s has no entry for %s: key '%s'",
                    m->source != NULL ? " '" : "", m->source != NULL ? m->source : "",
                    m->source != NULL ? "'" : "", what, key);
  }
  *out_ms = e->mean_ms;
  return PNAS_OK;
}

static pnas_status callback_ms(pnas_latency_model *m, const pni_latency_part *part, const char *key,
                               const char *what, double *out_ms) {
  pnas_latency_query query;
  memset(&query, 0, sizeof query);
  query.struct_size = sizeof query;
  query.part = part->part;
  pni_latency_block_to_info(&part->shape, &query.block);
  query.key = key;
  /* NaN, so that a callback that reports success without writing fails the
   * check below instead of pricing garbage. */
  double ms = NAN;
  const int rc = m->fn(m->user, &query, &ms);
  if (rc != 0) {
    return pni_fail(m->ctx, PNAS_ERR_NOT_FOUND,
                    "the latency callback failed (returned %d) for %s: key '%s'", rc, what, key);
  }
  if (!isfinite(ms) || ms < 0.0) {
    return pni_fail(m->ctx, PNAS_ERR_NUMERIC,
                    "the latency callback gave %g ms for %s: key '%s'; a latency must be finite "
                    "and at least 0",
                    ms, what, key);
  }
  *out_ms = ms;
  return PNAS_OK;
}

pnas_status pni_latency_model_part_ms(pnas_latency_model *model, const pni_latency_part *part,
                                      const char *what, double *out_ms) {
  if (part->part == PNAS_LATENCY_BLOCK && part->shape.kind == PNAS_BLOCK_IDENTITY) {
    *out_ms = 0.0;
    return PNAS_OK;
  }
  if (what == NULL) what = part_name(part->part);
  char key[PNI_LATENCY_KEY_CAPACITY];
  switch (model->kind) {
    case PNI_LATENCY_TABLE:
      pni_latency_part_key(part, key, sizeof key);
      return table_ms(model, key, what, out_ms);
    case PNI_LATENCY_CALLBACK:
      pni_latency_part_key(part, key, sizeof key);
      return callback_ms(model, part, key, what, out_ms);
    case PNI_LATENCY_MACS:
      *out_ms = model->ms_per_mmac * (double)part->shape.macs / 1e6;
      return PNAS_OK;
  }
  return pni_fail(model->ctx, PNAS_ERR_INTERNAL, "latency model of unknown kind %d",
                  (int)model->kind);
}

pnas_status pni_latency_model_block_ms(pnas_latency_model *model, const pni_block *block,
                                       double *out_ms) {
  pni_latency_part part;
  pni_latency_part_block(&part, block);
  return pni_latency_model_part_ms(model, &part, NULL, out_ms);
}

/* Head conv (if any) and classifier. */
static pnas_status tail_ms(pnas_latency_model *m, const pnas_arch *arch, double *head,
                           double *logits) {
  pni_latency_part part;
  *head = 0.0;
  if (arch->info.head_channels > 0) {
    pni_latency_arch_head(arch, &part);
    const pnas_status st = pni_latency_model_part_ms(m, &part, NULL, head);
    if (st != PNAS_OK) return st;
  }
  pni_latency_arch_logits(arch, &part);
  return pni_latency_model_part_ms(m, &part, NULL, logits);
}

static pnas_status stem_ms(pnas_latency_model *m, const pnas_arch *arch, double *out_ms) {
  pni_latency_part part;
  pni_latency_arch_stem(arch, &part);
  return pni_latency_model_part_ms(m, &part, NULL, out_ms);
}

pnas_status pni_latency_model_fixed_ms(pnas_latency_model *model, const pnas_arch *arch,
                                       double *out_ms) {
  double stem, head, logits;
  pnas_status st = stem_ms(model, arch, &stem);
  if (st == PNAS_OK) st = tail_ms(model, arch, &head, &logits);
  if (st != PNAS_OK) return st;
  *out_ms = stem + head + logits;
  return PNAS_OK;
}

pnas_status pni_latency_model_arch_ms(pnas_latency_model *model, const pnas_arch *arch,
                                      double *out_ms) {
  /* Summed in network order (stem, blocks, head, classifier), which is how
   * a reader checking the figure by hand adds them. */
  double total;
  pnas_status st = stem_ms(model, arch, &total);
  if (st != PNAS_OK) return st;
  for (int32_t i = 0; i < arch->info.blocks; i++) {
    pni_latency_part part;
    pni_latency_part_block(&part, &arch->blocks[i]);
    char what[48];
    snprintf(what, sizeof what, "blocks[%d]", (int)i);
    double ms;
    st = pni_latency_model_part_ms(model, &part, what, &ms);
    if (st != PNAS_OK) return st;
    total += ms;
  }
  double head, logits;
  st = tail_ms(model, arch, &head, &logits);
  if (st != PNAS_OK) return st;
  total += head;
  total += logits;
  *out_ms = total;
  return PNAS_OK;
}
