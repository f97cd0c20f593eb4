/* SPDX-License-Identifier: MIT */
/* Latency models: what a network (or one candidate op of one layer) costs
 * on the target device, in milliseconds. Private. Kinds: a lookup table
 * (loaded from YAML, or measured by the profiler), a host callback, and
 * MACs times a rate (docs/search.md, "Latency models").
 *
 * Every part is named by its key in the official ProxylessNAS format
 * (ALGORITHM.md section 4, docs/formats.md), which tables look up and
 * callbacks receive:
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

/* One priced part of a network, described as a block so that every model
 * kind sees the same shape: for a block, the block; for the stem and the
 * head, in/out channels and sizes, kernel, stride and expand 1; for the
 * classifier, in_channels = features with the size of the pooled map,
 * out_channels = classes and a 1x1 output. macs and params are counted as
 * lib/nn/arch.c counts them. The shapes come from a validated arch or
 * space, so the counts fit in int64. */
typedef struct pni_latency_part {
  pnas_latency_part part;
  pni_block shape;
} pni_latency_part;

/* A k x k convolution with BN and ReLU6 (stem: kernel and stride of the
 * stem; head: 1, 1) on an in_h x in_w x in_c map. */
void pni_latency_part_conv(pni_latency_part *out, pnas_latency_part part, int32_t in_h,
                           int32_t in_w, int32_t in_c, int32_t out_c, int32_t kernel,
                           int32_t stride);
/* Global average pool of an h x w x features map, then the classifier. */
void pni_latency_part_logits(pni_latency_part *out, int32_t h, int32_t w, int32_t features,
                             int32_t classes);
void pni_latency_part_block(pni_latency_part *out, const pni_block *block);
/* The part's key in the official format, written into buf. */
void pni_latency_part_key(const pni_latency_part *part, char *buf, size_t cap);

/* The parts of an architecture. The head exists only when the arch has a
 * head conv (head_channels > 0). */
void pni_latency_arch_stem(const pnas_arch *arch, pni_latency_part *out);
void pni_latency_arch_head(const pnas_arch *arch, pni_latency_part *out);
void pni_latency_arch_logits(const pnas_arch *arch, pni_latency_part *out);

/* Keys, written into buf (PNI_LATENCY_KEY_CAPACITY bytes). */
void pni_latency_key_stem(const pnas_arch *arch, char *buf, size_t cap);
void pni_latency_key_block(const pni_block *block, char *buf, size_t cap);
/* Only meaningful when the arch has a head conv (head_channels > 0). */
void pni_latency_key_head(const pnas_arch *arch, char *buf, size_t cap);
void pni_latency_key_logits(const pnas_arch *arch, char *buf, size_t cap);

/* Validates a caller's block (kind, in/out channels, kernel, expand, stride,
 * input size; messages start with `what` and name the member) and computes
 * the rest as lib/nn/arch.c does: mid channels, residual, output size, MACs
 * and parameters. */
pnas_status pni_latency_block_from_info(pnas_context *ctx, const char *what,
                                        const pnas_block_info *info, pni_block *out);
/* The public view of a block (struct_size = sizeof(pnas_block_info)). */
void pni_latency_block_to_info(const pni_block *block, pnas_block_info *out);

/* What a latency model is; the kind says which members are valid. A table
 * measured by the profiler is a PNI_LATENCY_TABLE like a loaded one. */
typedef enum pni_latency_kind {
  PNI_LATENCY_TABLE = 1,
  PNI_LATENCY_CALLBACK = 2,
  PNI_LATENCY_MACS = 3
} pni_latency_kind;

struct pnas_latency_model {
  uint32_t tag; /* PNI_TAG_LATENCY */
  pnas_context *ctx;
  pni_latency_kind kind;
  /* Where the model came from (a file name), for messages; owned; may be
   * NULL. */
  char *source;
  /* PNI_LATENCY_TABLE */
  pni_latency_table table;
  /* PNI_LATENCY_CALLBACK */
  pnas_latency_fn fn;
  void *user;
  /* PNI_LATENCY_MACS */
  double ms_per_mmac;
};

/* Takes ownership of the table's entries (t is emptied). source may be
 * NULL. */
pnas_status pni_latency_model_create_table(pnas_context *ctx, pni_latency_table *t,
                                           const char *source, pnas_latency_model **out);
/* fn must not be NULL (checked by the caller). */
pnas_status pni_latency_model_create_callback(pnas_context *ctx, pnas_latency_fn fn, void *user,
                                              pnas_latency_model **out);
/* ms_per_mmac finite and > 0 (checked by the caller). */
pnas_status pni_latency_model_create_macs(pnas_context *ctx, double ms_per_mmac,
                                          pnas_latency_model **out);
void pni_latency_model_destroy(pnas_latency_model *model);

/* The latency of one part, whatever the model's kind. what names the part in
 * messages ("blocks[3]"); NULL names it by its kind ("the stem"). A table
 * miss or a failing callback is PNAS_ERR_NOT_FOUND naming the key; a
 * callback's negative or non-finite answer is PNAS_ERR_NUMERIC. */
pnas_status pni_latency_model_part_ms(pnas_latency_model *model, const pni_latency_part *part,
                                      const char *what, double *out_ms);

/* The latency of one block (0 for identity) or of the fixed parts (stem,
 * head, classifier). PNAS_ERR_NOT_FOUND names the missing key. */
pnas_status pni_latency_model_block_ms(pnas_latency_model *model, const pni_block *block,
                                       double *out_ms);
pnas_status pni_latency_model_fixed_ms(pnas_latency_model *model, const pnas_arch *arch,
                                       double *out_ms);
/* Fixed parts plus every block. */
pnas_status pni_latency_model_arch_ms(pnas_latency_model *model, const pnas_arch *arch,
                                      double *out_ms);

/* Measures a table on this host (lib/search/profiler.c): every candidate of
 * every layer of space, its stem, first block, head and classifier. options
 * is complete and validated by the caller. */
pnas_status pni_latency_profile(pnas_context *ctx, const pnas_space *space,
                                const pnas_profile_options *options, pnas_latency_model **out);

#endif /* PNI_SEARCH_LATENCY_H */
