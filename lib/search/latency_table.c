/* SPDX-License-Identifier: MIT */
/* The latency lookup table: entries sorted by key for lookup. */
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
