/* SPDX-License-Identifier: MIT */
/* Search spaces: validated layers with their shapes and candidate ops.
 * Private; the public view is pnas_space_info, pnas_space_get_layer(). */
#ifndef PNI_SEARCH_SPACE_H
#define PNI_SEARCH_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "nn/arch.h"

/* Most candidates a layer may have (MBConv kernels x expansions + zero). */
#define PNI_SPACE_MAX_OPS 32

typedef struct pni_space_layer {
  int32_t stage;          /* index of its stage */
  int32_t index_in_stage; /* 0 for the stage's first layer */
  /* The layer's shape as a block: kind MBConv, kernel and expand 0, mid 0;
   * in/out channels and sizes, stride and residual set; macs/params 0. */
  pni_block shape;
  int32_t op_count;
  pnas_op_spec ops[PNI_SPACE_MAX_OPS];
} pni_space_layer;

typedef struct pni_space_stage {
  int32_t width, depth, stride;
} pni_space_stage;

struct pnas_space {
  uint32_t tag; /* PNI_TAG_SPACE */
  pnas_context *ctx;
  pnas_space_info info; /* stages and layers kept current */
  int32_t stem_height, stem_width;
  /* The fixed first block MBConv(3, 1) after the stem (when
   * info.first_block_channels > 0), with its shape computed. */
  pni_block first_block;
  pni_space_stage *stages;
  int32_t stage_capacity;
  pni_space_layer *layers;
  int32_t layer_capacity;
};

/* Room for any op name written by pni_space_op_name(), NUL included. */
#define PNI_SPACE_OP_NAME_CAPACITY 32

/* The op's name in files and messages: "mbconv{K}x{K}_e{E}" or "zero". */
void pni_space_op_name(const pnas_op_spec *op, char *buf, size_t cap);

/* The paper's ImageNet settings (224x224x3, 1000 classes, stem 3x3 s2 -> 32,
 * first block 16, head 1280, dropout 0), no stages. */
void pni_space_default_info(pnas_space_info *info);

/* Validates info (messages name the member) and creates a space with no
 * stages. */
pnas_status pni_space_create(pnas_context *ctx, const pnas_space_info *info, pnas_space **out);

/* Validates and appends a stage (see pnas_space_add_stage(); messages name
 * the stage and layer, 0-based). The space is unchanged on failure. */
pnas_status pni_space_add_stage(pnas_space *space, int32_t width, int32_t depth, int32_t stride,
                                const pnas_op_spec *ops, int32_t op_count, int32_t zero_on_first);

/* The paper's ImageNet space (pnas_space_create_default()). */
pnas_status pni_space_create_default(pnas_context *ctx, pnas_space **out);

/* The candidate op `op` of `layer` as a block: MBConv with its kernel and
 * expand (mid channels, MACs and params computed), or identity for zero. */
void pni_space_candidate(const pnas_space *space, int32_t layer, int32_t op, pni_block *out);

/* An architecture with choice[l] as the op of layer l (the first block
 * included when the space has one; zero becomes identity). A choice out of
 * range is PNAS_ERR_INVALID_ARGUMENT naming the layer. */
pnas_status pni_space_build_arch(const pnas_space *space, const int32_t *choice, pnas_arch **out);

/* Channels, height and width after the last layer (what enters the head). */
void pni_space_features(const pnas_space *space, int32_t *height, int32_t *width,
                        int32_t *channels);

pnas_status pni_space_copy(pnas_context *ctx, const pnas_space *src, pnas_space **out);
void pni_space_destroy(pnas_space *space);

#endif /* PNI_SEARCH_SPACE_H */
