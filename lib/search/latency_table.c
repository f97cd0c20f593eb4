/* SPDX-License-Identifier: MIT */
/* The latency lookup table and the latency model object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "search/latency.h"

void pni_latency_table_init(pni_latency_table *t, pnas_context *ctx) {
  memset(t, 0, sizeof *t);
  t->ctx = ctx;
}

pnas_status pni_latency_table_add(pni_latency_table *t, const char *key, int64_t count,
                                  double mean_ms, double var) {
  if (t->count == t->capacity) {
    const size_t capacity = t->capacity > 0 ? t->capacity * 2 : 64;
    pni_latency_entry *grown = pni_calloc(t->ctx, capacity, sizeof *grown);
    if (grown == NULL) return PNAS_ERR_OUT_OF_MEMORY;
    if (t->count > 0) memcpy(grown, t->entries, t->count * sizeof *grown);
    pni_free(t->ctx, t->entries);
    t->entries = grown;
    t->capacity = capacity;
  }
  const size_t len = strlen(key);
  char *copy = pni_alloc(t->ctx, len + 1);
  if (copy == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  memcpy(copy, key, len + 1);
  pni_latency_entry *e = &t->entries[t->count++];
  e->key = copy;
  e->count = count;
  e->mean_ms = mean_ms;
  e->var = var;
  return PNAS_OK;
}

static int compare_entries(const void *a, const void *b) {
  return strcmp(((const pni_latency_entry *)a)->key, ((const pni_latency_entry *)b)->key);
}

int pni_latency_table_finish(pni_latency_table *t, size_t *duplicate) {
  if (t->count > 1) qsort(t->entries, t->count, sizeof *t->entries, compare_entries);
  for (size_t i = 1; i < t->count; i++) {
    if (strcmp(t->entries[i - 1].key, t->entries[i].key) == 0) {
      *duplicate = i;
      return 1;
    }
  }
  return 0;
}

const pni_latency_entry *pni_latency_table_find(const pni_latency_table *t, const char *key) {
  if (t->count == 0) return NULL;
  const pni_latency_entry probe = {(char *)key, 0, 0.0, 0.0};
  return bsearch(&probe, t->entries, t->count, sizeof *t->entries, compare_entries);
}

void pni_latency_table_free(pni_latency_table *t) {
  for (size_t i = 0; i < t->count; i++) pni_free(t->ctx, t->entries[i].key);
  pni_free(t->ctx, t->entries);
  t->entries = NULL;
  t->count = t->capacity = 0;
}

void pni_latency_key_stem(const pnas_arch *arch, char *buf, size_t cap) {
  const pnas_arch_info *in = &arch->info;
  snprintf(buf, cap, "Conv-input:%dx%dx%d-output:%dx%dx%d", (int)in->input_height,
           (int)in->input_width, (int)in->input_channels, (int)arch->stem_height,
           (int)arch->stem_width, (int)in->stem_channels);
}

void pni_latency_key_block(const pni_block *b, char *buf, size_t cap) {
  snprintf(buf, cap,
           "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-idskip:%d",
           (int)b->in_height, (int)b->in_width, (int)b->in_channels, (int)b->out_height,
           (int)b->out_width, (int)b->out_channels, (int)b->expand, (int)b->kernel, (int)b->stride,
           b->residual ? 1 : 0);
}

void pni_latency_key_head(const pnas_arch *arch, char *buf, size_t cap) {
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  snprintf(buf, cap, "Conv_1-input:%dx%dx%d-output:%dx%dx%d", (int)h, (int)w, (int)c, (int)h,
           (int)w, (int)arch->info.head_channels);
}

void pni_latency_key_logits(const pnas_arch *arch, char *buf, size_t cap) {
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  if (arch->info.head_channels > 0) c = arch->info.head_channels;
  snprintf(buf, cap, "Logits-input:%dx%dx%d-output:%d", (int)h, (int)w, (int)c,
           (int)arch->info.classes);
}

pnas_status pni_latency_model_create_table(pnas_context *ctx, pni_latency_table *t,
                                           const char *source, pnas_latency_model **out) {
  pnas_latency_model *m = pni_calloc(ctx, 1, sizeof *m);
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
  m->tag = PNI_TAG_LATENCY;
  m->ctx = ctx;
  m->kind = PNI_LATENCY_TABLE;
  m->table = *t;
  pni_latency_table_init(t, ctx);
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

/* what: the part being priced, for the message ("block 3", "the stem"). */
static pnas_status lookup(pnas_latency_model *m, const char *key, const char *what,
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

static pnas_status block_ms(pnas_latency_model *m, const pni_block *b, long index, double *out_ms) {
  if (b->kind == PNAS_BLOCK_IDENTITY) {
    *out_ms = 0.0;
    return PNAS_OK;
  }
  char key[PNI_LATENCY_KEY_CAPACITY], what[48];
  pni_latency_key_block(b, key, sizeof key);
  if (index >= 0) {
    snprintf(what, sizeof what, "blocks[%ld]", index);
  } else {
    snprintf(what, sizeof what, "the block");
  }
  return lookup(m, key, what, out_ms);
}

pnas_status pni_latency_model_block_ms(pnas_latency_model *model, const pni_block *block,
                                       double *out_ms) {
  return block_ms(model, block, -1, out_ms);
}

static pnas_status stem_ms(pnas_latency_model *m, const pnas_arch *arch, double *out_ms) {
  char key[PNI_LATENCY_KEY_CAPACITY];
  pni_latency_key_stem(arch, key, sizeof key);
  return lookup(m, key, "the stem", out_ms);
}

/* Head conv (if any) and classifier. */
static pnas_status tail_ms(pnas_latency_model *m, const pnas_arch *arch, double *head,
                           double *logits) {
  char key[PNI_LATENCY_KEY_CAPACITY];
  *head = 0.0;
  if (arch->info.head_channels > 0) {
    pni_latency_key_head(arch, key, sizeof key);
    const pnas_status st = lookup(m, key, "the head", head);
    if (st != PNAS_OK) return st;
  }
  pni_latency_key_logits(arch, key, sizeof key);
  return lookup(m, key, "the classifier", logits);
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
    double ms;
    st = block_ms(model, &arch->blocks[i], (long)i, &ms);
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
