/* SPDX-License-Identifier: MIT */
/* The architecture object: validated blocks with their computed shapes,
 * MACs and parameter counts. Private; the public view is pnas_arch_info and
 * pnas_block_info. */
#ifndef PNI_NN_ARCH_H
#define PNI_NN_ARCH_H

#include <stdint.h>

#include "core/context.h"

typedef struct pni_block {
  pnas_block_kind kind;
  int32_t in_channels, out_channels;
  int32_t kernel, expand, stride;
  int32_t mid_channels; /* round(in_channels * expand); in_channels when expand is 1 */
  int32_t residual;
  int32_t in_height, in_width, out_height, out_width;
  int64_t macs, params;
} pni_block;

struct pnas_arch {
  uint32_t tag; /* PNI_TAG_ARCH */
  pnas_context *ctx;
  /* Whole-network settings; blocks, macs and params kept current. */
  pnas_arch_info info;
  /* Output size of the stem (the first block's input). */
  int32_t stem_height, stem_width;
  pni_block *blocks;
  int32_t capacity;
};

/* Largest input height/width and channel count an architecture accepts. */
#define PNI_ARCH_MAX_SPATIAL 65536
#define PNI_ARCH_MAX_CHANNELS 65536
/* Largest MBConv expansion ratio: with the channel bound it keeps hidden
 * widths (channels * expand) inside int32. */
#define PNI_ARCH_MAX_EXPAND 64

/* Output size of a k x k convolution with padding k/2. */
static inline int32_t pni_conv_out_size(int32_t in, int32_t k, int32_t stride) {
  return (in + 2 * (k / 2) - k) / stride + 1;
}

/* Fills the derived members of b from kind, in_channels, in_height and
 * in_width and, for MBConv, out_channels, kernel, expand and stride (all in
 * range): mid_channels, residual, output size, MACs and parameters, exactly
 * as pni_arch_append() computes them. An identity block keeps its input's
 * shape (stride 1, residual, kernel/expand/mid 0, no cost). Returns 0, or 1
 * when a count does not fit in int64 (b's counts are then meaningless). */
int pni_block_compute(pni_block *b);

/* Validates info (messages name the member) and creates an empty arch. */
pnas_status pni_arch_create(pnas_context *ctx, const pnas_arch_info *info, pnas_arch **out);
/* Validates and appends; recomputes totals. The arch is unchanged on failure. */
pnas_status pni_arch_append(pnas_arch *arch, const pnas_block_info *block);
pnas_status pni_arch_copy(pnas_context *ctx, const pnas_arch *src, pnas_arch **out);
void pni_arch_destroy(pnas_arch *arch);

/* Spatial size and channels that enter the head (after the last block). */
void pni_arch_features(const pnas_arch *arch, int32_t *height, int32_t *width,
                       int32_t *channels);

#endif /* PNI_NN_ARCH_H */
