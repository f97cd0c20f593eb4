/* SPDX-License-Identifier: MIT */
/* Latency models: what a network (or one candidate op of one layer) costs
 * on the target device, in milliseconds. Private.
 *
 * The lookup table uses the official ProxylessNAS key format (ALGORITHM.md
 * section 4, docs/formats.md):
 *   Conv-input:224x224x3-output:112x112x32                          stem
 *   expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0
 *   Conv_1-input:7x7x320-output:7x7x1280                            head
 *   Logits-input:7x7x1280-output:1000                               classifier
 * An identity block costs 0. A missing key is PNAS_ERR_NOT_FOUND naming the
 * key: the official code's silent 200 ms default hides mistakes. */
#ifndef PNI_SEARCH_LATENCY_H
#define PNI_SEARCH_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "nn/arch.h"

/* Longest key formatted or accepted, including the NUL. */
#define PNI_LATENCY_KEY_CAPACITY 256

typedef struct pni_latency_entry {
  char *key;     /* NUL-terminated, owned by the table */
  int64_t count; /* measurements behind the mean; -1 when the file omits it */
  double mean_ms;
  double var; /* variance of the measurements; NAN when omitted */
} pni_latency_entry;

/* Entries sorted by key (strcmp) once pni_latency_table_finish() ran. */
typedef struct pni_latency_table {
  pnas_context *ctx;
  pni_latency_entry *entries;
  size_t count, capacity;
} pni_latency_table;

void pni_latency_table_init(pni_latency_table *t, pnas_context *ctx);
/* Copies key. PNAS_ERR_OUT_OF_MEMORY on failure (the table is unchanged). */
pnas_status pni_latency_table_add(pni_latency_table *t, const char *key, int64_t count,
                                  double mean_ms, double var);
/* Sorts for lookup. Returns the index of a key that appears twice in
 * *duplicate (and 1), or 0. */
int pni_latency_table_finish(pni_latency_table *t, size_t *duplicate);
/* The entry for key, or NULL. */
const pni_latency_entry *pni_latency_table_find(const pni_latency_table *t, const char *key);
void pni_latency_table_free(pni_latency_table *t);

/* Keys, written into buf (PNI_LATENCY_KEY_CAPACITY bytes). */
void pni_latency_key_stem(const pnas_arch *arch, char *buf, size_t cap);
void pni_latency_key_block(const pni_block *block, char *buf, size_t cap);
/* Only meaningful when the arch has a head conv (head_channels > 0). */
void pni_latency_key_head(const pnas_arch *arch, char *buf, size_t cap);
void pni_latency_key_logits(const pnas_arch *arch, char *buf, size_t cap);

/* What a latency model is. Later kinds (host callback, MACs, profiled on
 * the host) add values and members; the kind says which members are valid. */
typedef enum pni_latency_kind { PNI_LATENCY_TABLE = 1 } pni_latency_kind;

struct pnas_latency_model {
  uint32_t tag; /* PNI_TAG_LATENCY */
  pnas_context *ctx;
  pni_latency_kind kind;
  /* Where the model came from (a file name), for messages; owned. */
  char *source;
  /* PNI_LATENCY_TABLE */
  pni_latency_table table;
};

/* Takes ownership of the table's entries (t is emptied). source may be
 * NULL. */
pnas_status pni_latency_model_create_table(pnas_context *ctx, pni_latency_table *t,
                                           const char *source, pnas_latency_model **out);
void pni_latency_model_destroy(pnas_latency_model *model);

/* The latency of one block (0 for identity) or of the fixed parts (stem,
 * head, classifier). PNAS_ERR_NOT_FOUND names the missing key. */
pnas_status pni_latency_model_block_ms(pnas_latency_model *model, const pni_block *block,
                                       double *out_ms);
pnas_status pni_latency_model_fixed_ms(pnas_latency_model *model, const pnas_arch *arch,
                                       double *out_ms);
/* Fixed parts plus every block. */
pnas_status pni_latency_model_arch_ms(pnas_latency_model *model, const pnas_arch *arch,
                                      double *out_ms);

#endif /* PNI_SEARCH_LATENCY_H */
