/* SPDX-License-Identifier: MIT */
/* Architectures: validation, shapes, MACs and parameter counts.
 *
 * MACs are counted as the official ProxylessNAS code counts them (its
 * count_conv_flop and the classifier's in * out), so that the released nets
 * give their published figures: a convolution costs
 * out_h * out_w * c_in * c_out * k * k / groups, the classifier in * out;
 * batch norm, activations, the residual add and pooling are free. */
#include "nn/arch.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

/* Bounds on the settings. They keep hidden widths (channels * expand) inside
 * int32; the counts, which can still exceed int64 for absurd inputs, are
 * computed with overflow checks. */
#define MAX_SPATIAL PNI_ARCH_MAX_SPATIAL
#define MAX_CHANNELS PNI_ARCH_MAX_CHANNELS
#define MAX_EXPAND PNI_ARCH_MAX_EXPAND
#define MAX_STEM_KERNEL 15
#define MAX_CLASSES 1000000
/* A network of more blocks than this is a mistake, not a design. */
#define MAX_BLOCKS 100000

/* Non-negative int64 arithmetic that sets *overflow instead of wrapping. */
static int64_t mul(int64_t a, int64_t b, int *overflow) {
  if (a != 0 && b > INT64_MAX / a) {
    *overflow = 1;
    return 0;
  }
  return a * b;
}

static int64_t add(int64_t a, int64_t b, int *overflow) {
  if (b > INT64_MAX - a) {
    *overflow = 1;
    return 0;
  }
  return a + b;
}

static int64_t conv_macs(int64_t out_h, int64_t out_w, int64_t cin, int64_t cout, int64_t k,
                         int64_t groups, int *overflow) {
  /* cin / groups first: the same value as the official formula, since
   * groups divides cin, without the intermediate product. */
  int64_t m = mul(out_h, out_w, overflow);
  m = mul(m, cin / groups, overflow);
  m = mul(m, cout, overflow);
  return mul(m, k * k, overflow);
}

/* A convolution without bias followed by batch norm (scale and shift). */
static int64_t conv_bn_params(int64_t cin, int64_t cout, int64_t k, int64_t groups, int *overflow) {
  const int64_t weights = mul(mul(cin / groups, cout, overflow), k * k, overflow);
  return add(weights, 2 * cout, overflow);
}

/* The map that enters the head: after `last` if given (a block about to be
 * appended), else after the arch's last block, else after the stem. */
static void features_after(const pnas_arch *arch, const pni_block *last, int32_t *height,
                           int32_t *width, int32_t *channels) {
  if (last == NULL && arch->info.blocks > 0) last = &arch->blocks[arch->info.blocks - 1];
  if (last != NULL) {
    *height = last->out_height;
    *width = last->out_width;
    *channels = last->out_channels;
  } else {
    *height = arch->stem_height;
    *width = arch->stem_width;
    *channels = arch->info.stem_channels;
  }
}

void pni_arch_features(const pnas_arch *arch, int32_t *height, int32_t *width, int32_t *channels) {
  features_after(arch, NULL, height, width, channels);
}

/* Totals of the arch with `extra` appended (or as it is, if NULL).
 * Returns 0, or 1 if a count does not fit in int64. */
static int compute_totals(const pnas_arch *arch, const pni_block *extra, int64_t *out_macs,
                          int64_t *out_params) {
  const pnas_arch_info *in = &arch->info;
  int overflow = 0;
  int64_t macs = conv_macs(arch->stem_height, arch->stem_width, in->input_channels,
                           in->stem_channels, in->stem_kernel, 1, &overflow);
  int64_t params =
      conv_bn_params(in->input_channels, in->stem_channels, in->stem_kernel, 1, &overflow);
  for (int32_t i = 0; i < in->blocks; i++) {
    macs = add(macs, arch->blocks[i].macs, &overflow);
    params = add(params, arch->blocks[i].params, &overflow);
  }
  if (extra != NULL) {
    macs = add(macs, extra->macs, &overflow);
    params = add(params, extra->params, &overflow);
  }
  int32_t h, w, c;
  features_after(arch, extra, &h, &w, &c);
  int64_t features = c;
  if (in->head_channels > 0) {
    macs = add(macs, conv_macs(h, w, c, in->head_channels, 1, 1, &overflow), &overflow);
    params = add(params, conv_bn_params(c, in->head_channels, 1, 1, &overflow), &overflow);
    features = in->head_channels;
  }
  const int64_t fc = mul(features, in->classes, &overflow);
  macs = add(macs, fc, &overflow);
  params = add(params, add(fc, in->classes, &overflow), &overflow);
  *out_macs = macs;
  *out_params = params;
  return overflow;
}

static pnas_status check_range(pnas_context *ctx, const char *what, int64_t value, int64_t lo,
                               int64_t hi) {
  if (value >= lo && value <= hi) return PNAS_OK;
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s is %lld; it must be between %lld and %lld",
                  what, (long long)value, (long long)lo, (long long)hi);
}

static pnas_status validate_info(pnas_context *ctx, const pnas_arch_info *in) {
  pnas_status st;
  if ((st = check_range(ctx, "input_height", in->input_height, 1, MAX_SPATIAL)) != PNAS_OK ||
      (st = check_range(ctx, "input_width", in->input_width, 1, MAX_SPATIAL)) != PNAS_OK ||
      (st = check_range(ctx, "input_channels", in->input_channels, 1, MAX_CHANNELS)) != PNAS_OK ||
      (st = check_range(ctx, "classes", in->classes, 2, MAX_CLASSES)) != PNAS_OK ||
      (st = check_range(ctx, "stem_channels", in->stem_channels, 1, MAX_CHANNELS)) != PNAS_OK ||
      (st = check_range(ctx, "head_channels", in->head_channels, 0, MAX_CHANNELS)) != PNAS_OK) {
    return st;
  }
  if (in->stem_kernel < 1 || in->stem_kernel > MAX_STEM_KERNEL || in->stem_kernel % 2 == 0) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stem_kernel is %d; it must be odd, between 1 and %d (padding is kernel/2 "
                    "on each side)",
                    (int)in->stem_kernel, MAX_STEM_KERNEL);
  }
  if (in->stem_stride != 1 && in->stem_stride != 2) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "stem_stride is %d; it must be 1 or 2",
                    (int)in->stem_stride);
  }
  /* Written so that NaN fails too. */
  if (!(in->dropout >= 0.0f && in->dropout < 1.0f)) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "dropout is %g; it must be in [0, 1)",
                    (double)in->dropout);
  }
  return PNAS_OK;
}

pnas_status pni_arch_create(pnas_context *ctx, const pnas_arch_info *info, pnas_arch **out) {
  const pnas_status st = validate_info(ctx, info);
  if (st != PNAS_OK) return st;
  pnas_arch *arch = pni_calloc(ctx, 1, sizeof *arch);
  if (arch == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  arch->tag = PNI_TAG_ARCH;
  arch->ctx = ctx;
  /* Keep only the settings; the caller's struct_size and computed members
   * mean nothing here. */
  pnas_arch_info *in = &arch->info;
  in->struct_size = sizeof *in;
  in->input_height = info->input_height;
  in->input_width = info->input_width;
  in->input_channels = info->input_channels;
  in->classes = info->classes;
  in->stem_channels = info->stem_channels;
  in->stem_kernel = info->stem_kernel;
  in->stem_stride = info->stem_stride;
  in->head_channels = info->head_channels;
  in->dropout = info->dropout;
  in->blocks = 0;
  arch->stem_height = pni_conv_out_size(in->input_height, in->stem_kernel, in->stem_stride);
  arch->stem_width = pni_conv_out_size(in->input_width, in->stem_kernel, in->stem_stride);
  arch->blocks = NULL;
  arch->capacity = 0;
  if (compute_totals(arch, NULL, &in->macs, &in->params) != 0) {
    pni_free(ctx, arch);
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "the network is too large: its MACs or parameters do not fit in 64 bits");
  }
  *out = arch;
  return PNAS_OK;
}

static pnas_status too_large(pnas_context *ctx, int32_t index) {
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                  "blocks[%d] makes the network too large: its MACs or parameters do not fit "
                  "in 64 bits",
                  (int)index);
}

int pni_block_compute(pni_block *b) {
  const int32_t c = b->in_channels, h = b->in_height, w = b->in_width;
  if (b->kind == PNAS_BLOCK_IDENTITY) {
    b->out_channels = c;
    b->kernel = 0;
    b->expand = 0;
    b->stride = 1;
    b->mid_channels = 0;
    b->residual = 1;
    b->out_height = h;
    b->out_width = w;
    b->macs = 0;
    b->params = 0;
    return 0;
  }
  /* The ratio is an integer, so round(in * expand) is exact. */
  b->mid_channels = c * b->expand;
  b->residual = b->stride == 1 && b->in_channels == b->out_channels;
  b->out_height = pni_conv_out_size(h, b->kernel, b->stride);
  b->out_width = pni_conv_out_size(w, b->kernel, b->stride);
  const int64_t mid = b->mid_channels;
  int overflow = 0;
  int64_t macs = 0, params = 0;
  if (b->expand != 1) {
    macs = conv_macs(h, w, c, mid, 1, 1, &overflow);
    params = conv_bn_params(c, mid, 1, 1, &overflow);
  }
  const int32_t oh = b->out_height, ow = b->out_width;
  macs = add(macs, conv_macs(oh, ow, mid, mid, b->kernel, mid, &overflow), &overflow);
  params = add(params, conv_bn_params(mid, mid, b->kernel, mid, &overflow), &overflow);
  macs = add(macs, conv_macs(oh, ow, mid, b->out_channels, 1, 1, &overflow), &overflow);
  params = add(params, conv_bn_params(mid, b->out_channels, 1, 1, &overflow), &overflow);
  b->macs = macs;
  b->params = params;
  return overflow;
}

/* Fills b from the request and the current end of the network; the
 * message names the block by the index it would get. */
static pnas_status make_block(pnas_arch *arch, const pnas_block_info *req, pni_block *b) {
  pnas_context *ctx = arch->ctx;
  const int32_t index = arch->info.blocks;
  int32_t h, w, c;
  pni_arch_features(arch, &h, &w, &c);
  memset(b, 0, sizeof *b);
  b->kind = req->kind;
  b->in_channels = c;
  b->in_height = h;
  b->in_width = w;
  if (req->kind == PNAS_BLOCK_IDENTITY) {
    /* An identity block is a searched "zero" op on a residual layer: it can
     * only exist where the layer keeps the shape. out_channels 0 means
     * "unchanged". */
    if (req->out_channels != 0 && req->out_channels != c) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "blocks[%d]: an identity block keeps the shape, but out_channels is %d "
                      "and its input has %d channels",
                      (int)index, (int)req->out_channels, (int)c);
    }
    if (req->stride != 1) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "blocks[%d]: an identity block keeps the shape, so its stride must be 1, "
                      "not %d",
                      (int)index, (int)req->stride);
    }
    pni_block_compute(b);
    return PNAS_OK;
  }
  if (req->kind != PNAS_BLOCK_MBCONV) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "blocks[%d].kind is %d; it must be PNAS_BLOCK_MBCONV (0) or "
                    "PNAS_BLOCK_IDENTITY (1)",
                    (int)index, (int)req->kind);
  }
  if (req->kernel != 3 && req->kernel != 5 && req->kernel != 7) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "blocks[%d].kernel is %d; it must be 3, 5 or 7",
                    (int)index, (int)req->kernel);
  }
  if (req->expand < 1 || req->expand > MAX_EXPAND) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "blocks[%d].expand is %d; it must be between 1 and %d", (int)index,
                    (int)req->expand, MAX_EXPAND);
  }
  if (req->stride != 1 && req->stride != 2) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "blocks[%d].stride is %d; it must be 1 or 2",
                    (int)index, (int)req->stride);
  }
  if (req->out_channels < 1 || req->out_channels > MAX_CHANNELS) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "blocks[%d].out_channels is %d; it must be between 1 and %d", (int)index,
                    (int)req->out_channels, MAX_CHANNELS);
  }
  b->out_channels = req->out_channels;
  b->kernel = req->kernel;
  b->expand = req->expand;
  b->stride = req->stride;
  const int overflow = pni_block_compute(b);
  /* With padding k/2 an odd kernel never shrinks a map below 1 pixel, but
   * say so if it ever would rather than build an empty tensor. */
  if (b->out_height < 1 || b->out_width < 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "blocks[%d]: a %dx%d input gives a %dx%d output; sizes must stay at least 1",
                    (int)index, (int)h, (int)w, (int)b->out_height, (int)b->out_width);
  }
  if (overflow) return too_large(ctx, index);
  return PNAS_OK;
}

pnas_status pni_arch_append(pnas_arch *arch, const pnas_block_info *block) {
  pnas_context *ctx = arch->ctx;
  if (arch->info.blocks >= MAX_BLOCKS) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "the architecture already has %d blocks, the most it may have",
                    (int)arch->info.blocks);
  }
  pni_block b;
  const pnas_status st = make_block(arch, block, &b);
  if (st != PNAS_OK) return st;
  int64_t macs, params;
  if (compute_totals(arch, &b, &macs, &params) != 0) return too_large(ctx, arch->info.blocks);
  if (arch->info.blocks == arch->capacity) {
    const int32_t capacity = arch->capacity > 0 ? arch->capacity * 2 : 16;
    pni_block *grown = pni_calloc(ctx, (size_t)capacity, sizeof *grown);
    if (grown == NULL) return PNAS_ERR_OUT_OF_MEMORY;
    if (arch->info.blocks > 0) {
      memcpy(grown, arch->blocks, (size_t)arch->info.blocks * sizeof *grown);
    }
    pni_free(ctx, arch->blocks);
    arch->blocks = grown;
    arch->capacity = capacity;
  }
  arch->blocks[arch->info.blocks++] = b;
  arch->info.macs = macs;
  arch->info.params = params;
  return PNAS_OK;
}

pnas_status pni_arch_copy(pnas_context *ctx, const pnas_arch *src, pnas_arch **out) {
  pnas_arch *arch = pni_calloc(ctx, 1, sizeof *arch);
  if (arch == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  *arch = *src;
  arch->ctx = ctx;
  arch->blocks = NULL;
  arch->capacity = 0;
  if (src->info.blocks > 0) {
    arch->blocks = pni_calloc(ctx, (size_t)src->info.blocks, sizeof *arch->blocks);
    if (arch->blocks == NULL) {
      pni_free(ctx, arch);
      return PNAS_ERR_OUT_OF_MEMORY;
    }
    memcpy(arch->blocks, src->blocks, (size_t)src->info.blocks * sizeof *arch->blocks);
    arch->capacity = src->info.blocks;
  }
  *out = arch;
  return PNAS_OK;
}

void pni_arch_destroy(pnas_arch *arch) {
  if (arch == NULL) return;
  pnas_context *ctx = arch->ctx;
  pni_free(ctx, arch->blocks);
  arch->tag = PNI_TAG_DEAD;
  pni_free(ctx, arch);
}
