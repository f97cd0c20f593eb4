/* SPDX-License-Identifier: MIT */
/* Search spaces: the fixed parts of a supernet and its searched layers, each
 * with its shape and its candidate ops, validated as they are added.
 *
 * A layer's shape does not depend on which candidate is chosen: every
 * candidate maps the layer's input to the same output (odd kernels with
 * padding k/2 give the same size for any k), so the shapes chain from the
 * stem, through the fixed first block, from layer to layer. */
#include "search/space.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* Bounds beyond which a space is a mistake rather than a design. They keep
 * every count well inside the int32 members of the public structs. */
#define MAX_LAYERS 10000
#define MAX_STAGE_DEPTH MAX_LAYERS
#define MAX_STEM_KERNEL 15
#define MAX_CLASSES 1000000

void pni_space_op_name(const pnas_op_spec *op, char *buf, size_t cap) {
  if (op->kind == PNAS_OP_ZERO) {
    snprintf(buf, cap, "zero");
  } else {
    snprintf(buf, cap, "mbconv%dx%d_e%d", (int)op->kernel, (int)op->kernel, (int)op->expand);
  }
}

static pnas_status check_range(pnas_context *ctx, const char *what, int64_t value, int64_t lo,
                               int64_t hi) {
  if (value >= lo && value <= hi) return PNAS_OK;
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s is %lld; it must be between %lld and %lld",
                  what, (long long)value, (long long)lo, (long long)hi);
}

/* The same bounds as pni_arch_create() applies, so that every architecture
 * drawn from a valid space is valid too. */
static pnas_status validate_info(pnas_context *ctx, const pnas_space_info *in) {
  pnas_status st;
  if ((st = check_range(ctx, "input_height", in->input_height, 1, PNI_ARCH_MAX_SPATIAL)) !=
          PNAS_OK ||
      (st = check_range(ctx, "input_width", in->input_width, 1, PNI_ARCH_MAX_SPATIAL)) != PNAS_OK ||
      (st = check_range(ctx, "input_channels", in->input_channels, 1, PNI_ARCH_MAX_CHANNELS)) !=
          PNAS_OK ||
      (st = check_range(ctx, "classes", in->classes, 2, MAX_CLASSES)) != PNAS_OK ||
      (st = check_range(ctx, "stem_channels", in->stem_channels, 1, PNI_ARCH_MAX_CHANNELS)) !=
          PNAS_OK ||
      (st = check_range(ctx, "first_block_channels", in->first_block_channels, 0,
                        PNI_ARCH_MAX_CHANNELS)) != PNAS_OK ||
      (st = check_range(ctx, "head_channels", in->head_channels, 0, PNI_ARCH_MAX_CHANNELS)) !=
          PNAS_OK) {
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

pnas_status pni_space_create(pnas_context *ctx, const pnas_space_info *info, pnas_space **out) {
  const pnas_status st = validate_info(ctx, info);
  if (st != PNAS_OK) return st;
  pnas_space *space = pni_calloc(ctx, 1, sizeof *space);
  if (space == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  space->tag = PNI_TAG_SPACE;
  space->ctx = ctx;
  /* Keep only the settings; the caller's struct_size and computed members
   * mean nothing here. */
  pnas_space_info *in = &space->info;
  in->struct_size = sizeof *in;
  in->input_height = info->input_height;
  in->input_width = info->input_width;
  in->input_channels = info->input_channels;
  in->classes = info->classes;
  in->stem_channels = info->stem_channels;
  in->stem_kernel = info->stem_kernel;
  in->stem_stride = info->stem_stride;
  in->first_block_channels = info->first_block_channels;
  in->head_channels = info->head_channels;
  in->dropout = info->dropout;
  in->stages = 0;
  in->layers = 0;
  space->stem_height = pni_conv_out_size(in->input_height, in->stem_kernel, in->stem_stride);
  space->stem_width = pni_conv_out_size(in->input_width, in->stem_kernel, in->stem_stride);
  if (in->first_block_channels > 0) {
    pni_block *b = &space->first_block;
    b->kind = PNAS_BLOCK_MBCONV;
    b->in_channels = in->stem_channels;
    b->in_height = space->stem_height;
    b->in_width = space->stem_width;
    b->out_channels = in->first_block_channels;
    b->kernel = 3;
    b->expand = 1;
    b->stride = 1;
    /* Bounded channels and sizes: the counts of one expand-1 block fit. */
    pni_block_compute(b);
  }
  *out = space;
  return PNAS_OK;
}

/* What enters the next layer: after the last layer, else the first block,
 * else the stem. */
void pni_space_features(const pnas_space *space, int32_t *height, int32_t *width,
                        int32_t *channels) {
  if (space->info.layers > 0) {
    const pni_block *last = &space->layers[space->info.layers - 1].shape;
    *height = last->out_height;
    *width = last->out_width;
    *channels = last->out_channels;
  } else if (space->info.first_block_channels > 0) {
    *height = space->first_block.out_height;
    *width = space->first_block.out_width;
    *channels = space->first_block.out_channels;
  } else {
    *height = space->stem_height;
    *width = space->stem_width;
    *channels = space->info.stem_channels;
  }
}

/* The op's block on a layer of the given shape (see pni_space_candidate). */
static int candidate_block(const pni_block *shape, const pnas_op_spec *op, pni_block *out) {
  memset(out, 0, sizeof *out);
  out->in_channels = shape->in_channels;
  out->in_height = shape->in_height;
  out->in_width = shape->in_width;
  if (op->kind == PNAS_OP_ZERO) {
    out->kind = PNAS_BLOCK_IDENTITY;
  } else {
    out->kind = PNAS_BLOCK_MBCONV;
    out->out_channels = shape->out_channels;
    out->kernel = op->kernel;
    out->expand = op->expand;
    out->stride = shape->stride;
  }
  return pni_block_compute(out);
}

void pni_space_candidate(const pnas_space *space, int32_t layer, int32_t op, pni_block *out) {
  const pni_space_layer *l = &space->layers[layer];
  /* Every candidate was computed once in pni_space_add_stage(), which
   * refuses a layer whose counts overflow. */
  (void)candidate_block(&l->shape, &l->ops[op], out);
}

/* Checks the candidate list of a stage, which every one of its layers
 * shares (zero aside). Messages name the first layer, where the list is
 * used first. */
static pnas_status validate_ops(pnas_context *ctx, int32_t stage, const pnas_op_spec *ops,
                                int32_t op_count) {
  if (op_count < 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d layer 0: the candidate list is empty; give at least one MBConv "
                    "op",
                    (int)stage);
  }
  if (op_count > PNI_SPACE_MAX_OPS) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d layer 0: %d candidate ops; a layer may have at most %d", (int)stage,
                    (int)op_count, PNI_SPACE_MAX_OPS);
  }
  int32_t mbconv = 0;
  for (int32_t i = 0; i < op_count; i++) {
    const pnas_op_spec *op = &ops[i];
    if (op->kind == PNAS_OP_ZERO) {
      for (int32_t j = 0; j < i; j++) {
        if (ops[j].kind == PNAS_OP_ZERO) {
          return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                          "stage %d layer 0: duplicate op zero (ops[%d] repeats ops[%d])",
                          (int)stage, (int)i, (int)j);
        }
      }
      continue;
    }
    if (op->kind != PNAS_OP_MBCONV) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "stage %d layer 0: ops[%d].kind is %d; it must be PNAS_OP_MBCONV (0) or "
                      "PNAS_OP_ZERO (1)",
                      (int)stage, (int)i, (int)op->kind);
    }
    if (op->kernel != 3 && op->kernel != 5 && op->kernel != 7) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "stage %d layer 0: ops[%d].kernel is %d; it must be 3, 5 or 7", (int)stage,
                      (int)i, (int)op->kernel);
    }
    if (op->expand < 1 || op->expand > PNI_ARCH_MAX_EXPAND) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "stage %d layer 0: ops[%d].expand is %d; it must be between 1 and %d",
                      (int)stage, (int)i, (int)op->expand, PNI_ARCH_MAX_EXPAND);
    }
    for (int32_t j = 0; j < i; j++) {
      if (ops[j].kind == PNAS_OP_MBCONV && ops[j].kernel == op->kernel &&
          ops[j].expand == op->expand) {
        char name[PNI_SPACE_OP_NAME_CAPACITY];
        pni_space_op_name(op, name, sizeof name);
        return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                        "stage %d layer 0: duplicate op %s (ops[%d] repeats ops[%d])", (int)stage,
                        name, (int)i, (int)j);
      }
    }
    mbconv++;
  }
  if (mbconv == 0) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d layer 0: the only candidate is zero; give at least one MBConv "
                    "op",
                    (int)stage);
  }
  return PNAS_OK;
}

/* Grows an array of `size`-byte items to hold at least `need`; the old
 * contents are kept and *items is unchanged on failure. */
static pnas_status reserve(pnas_context *ctx, void **items, int32_t *capacity, int32_t count,
                           int32_t need, size_t size) {
  if (need <= *capacity) return PNAS_OK;
  int32_t grown_capacity = *capacity > 0 ? *capacity : 8;
  while (grown_capacity < need) grown_capacity *= 2;
  void *grown = pni_calloc(ctx, (size_t)grown_capacity, size);
  if (grown == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  if (count > 0) memcpy(grown, *items, (size_t)count * size);
  pni_free(ctx, *items);
  *items = grown;
  *capacity = grown_capacity;
  return PNAS_OK;
}

/* Fills *layer, a slot past the space's current end (nothing is committed
 * here), from the block before it and the stage's list. */
static pnas_status make_layer(pnas_space *space, int32_t stage, int32_t in_stage,
                              const pni_block *input, int32_t width, int32_t stride,
                              const pnas_op_spec *ops, int32_t op_count, int32_t zero_on_first,
                              pni_space_layer *layer) {
  pnas_context *ctx = space->ctx;
  memset(layer, 0, sizeof *layer);
  layer->stage = stage;
  layer->index_in_stage = in_stage;
  pni_block *shape = &layer->shape;
  shape->kind = PNAS_BLOCK_MBCONV;
  shape->in_channels = input->out_channels;
  shape->in_height = input->out_height;
  shape->in_width = input->out_width;
  shape->out_channels = width;
  shape->stride = stride;
  shape->residual = stride == 1 && shape->in_channels == width;
  /* Any odd kernel gives the same size with padding k/2. */
  shape->out_height = pni_conv_out_size(shape->in_height, 3, stride);
  shape->out_width = pni_conv_out_size(shape->in_width, 3, stride);
  for (int32_t i = 0; i < op_count; i++) {
    if (ops[i].kind == PNAS_OP_ZERO && !shape->residual) {
      if (in_stage == 0 && zero_on_first == 0) continue;
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "stage %d layer %d: zero is not allowed on a layer without a residual "
                      "(stride 2 or a width change)",
                      (int)stage, (int)in_stage);
    }
    pni_block candidate;
    if (candidate_block(shape, &ops[i], &candidate) != 0) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "stage %d layer %d: ops[%d] makes the network too large: its MACs or "
                      "parameters do not fit in 64 bits",
                      (int)stage, (int)in_stage, (int)i);
    }
    layer->ops[layer->op_count] = ops[i];
    /* Zero's kernel and expand mean nothing: store them as 0 so that
     * spaces compare equal whatever the caller left there. */
    if (ops[i].kind == PNAS_OP_ZERO) {
      layer->ops[layer->op_count].kernel = 0;
      layer->ops[layer->op_count].expand = 0;
    }
    layer->op_count++;
  }
  return PNAS_OK;
}

pnas_status pni_space_add_stage(pnas_space *space, int32_t width, int32_t depth, int32_t stride,
                                const pnas_op_spec *ops, int32_t op_count, int32_t zero_on_first) {
  pnas_context *ctx = space->ctx;
  const int32_t stage = space->info.stages;
  if (width < 1 || width > PNI_ARCH_MAX_CHANNELS) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d: width is %d; it must be between 1 and %d", (int)stage, (int)width,
                    PNI_ARCH_MAX_CHANNELS);
  }
  if (depth < 1 || depth > MAX_STAGE_DEPTH) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d: depth is %d; it must be between 1 and %d", (int)stage, (int)depth,
                    MAX_STAGE_DEPTH);
  }
  if (stride != 1 && stride != 2) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "stage %d: stride is %d; it must be 1 or 2",
                    (int)stage, (int)stride);
  }
  if (zero_on_first != 0 && zero_on_first != 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d: zero_on_first is %d; it must be 0 (drop zero from a first layer "
                    "without a residual) or 1 (refuse it)",
                    (int)stage, (int)zero_on_first);
  }
  if (op_count > 0 && ops == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "stage %d: ops is NULL but op_count is %d",
                    (int)stage, (int)op_count);
  }
  pnas_status st = validate_ops(ctx, stage, ops, op_count);
  if (st != PNAS_OK) return st;
  const int32_t first = space->info.layers;
  if (depth > MAX_LAYERS - first) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "stage %d: %d more layers would make %d; a space may have at most %d",
                    (int)stage, (int)depth, (int)(first + depth), MAX_LAYERS);
  }
  /* Room first: the new layers are written past the end and only counted
   * once all of them are valid, so the space is unchanged on failure. */
  void *stages = space->stages, *layers = space->layers;
  st = reserve(ctx, &stages, &space->stage_capacity, space->info.stages, stage + 1,
               sizeof *space->stages);
  space->stages = stages;
  if (st != PNAS_OK) return st;
  st = reserve(ctx, &layers, &space->layer_capacity, first, first + depth, sizeof *space->layers);
  space->layers = layers;
  if (st != PNAS_OK) return st;

  pni_block input;
  memset(&input, 0, sizeof input);
  pni_space_features(space, &input.out_height, &input.out_width, &input.out_channels);
  for (int32_t i = 0; i < depth; i++) {
    pni_space_layer *layer = &space->layers[first + i];
    st = make_layer(space, stage, i, &input, width, i == 0 ? stride : 1, ops, op_count,
                    zero_on_first, layer);
    if (st != PNAS_OK) return st;
    input = layer->shape;
  }
  space->stages[stage].width = width;
  space->stages[stage].depth = depth;
  space->stages[stage].stride = stride;
  space->info.stages = stage + 1;
  space->info.layers = first + depth;
  return PNAS_OK;
}

pnas_status pni_space_build_arch(const pnas_space *space, const int32_t *choice, pnas_arch **out) {
  pnas_context *ctx = space->ctx;
  const pnas_space_info *si = &space->info;
  for (int32_t l = 0; l < si->layers; l++) {
    if (choice[l] < 0 || choice[l] >= space->layers[l].op_count) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "layer %d: choice %d is out of range; the layer has %d candidate ops", (int)l,
                      (int)choice[l], (int)space->layers[l].op_count);
    }
  }
  pnas_arch_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  info.input_height = si->input_height;
  info.input_width = si->input_width;
  info.input_channels = si->input_channels;
  info.classes = si->classes;
  info.stem_channels = si->stem_channels;
  info.stem_kernel = si->stem_kernel;
  info.stem_stride = si->stem_stride;
  info.head_channels = si->head_channels;
  info.dropout = si->dropout;
  pnas_arch *arch = NULL;
  pnas_status st = pni_arch_create(ctx, &info, &arch);
  if (st != PNAS_OK) return st;
  pnas_block_info b;
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  if (si->first_block_channels > 0) {
    b.kind = PNAS_BLOCK_MBCONV;
    b.out_channels = si->first_block_channels;
    b.kernel = 3;
    b.expand = 1;
    b.stride = 1;
    if ((st = pni_arch_append(arch, &b)) != PNAS_OK) goto fail;
  }
  for (int32_t l = 0; l < si->layers; l++) {
    const pni_space_layer *layer = &space->layers[l];
    const pnas_op_spec *op = &layer->ops[choice[l]];
    if (op->kind == PNAS_OP_ZERO) {
      b.kind = PNAS_BLOCK_IDENTITY;
      b.out_channels = layer->shape.out_channels;
      b.kernel = 0;
      b.expand = 0;
      b.stride = 1;
    } else {
      b.kind = PNAS_BLOCK_MBCONV;
      b.out_channels = layer->shape.out_channels;
      b.kernel = op->kernel;
      b.expand = op->expand;
      b.stride = layer->shape.stride;
    }
    if ((st = pni_arch_append(arch, &b)) != PNAS_OK) goto fail;
  }
  *out = arch;
  return PNAS_OK;
fail:
  pni_arch_destroy(arch);
  return st;
}

pnas_status pni_space_create_default(pnas_context *ctx, pnas_space **out) {
  static const int32_t widths[] = {24, 40, 80, 96, 192, 320};
  static const int32_t depths[] = {4, 4, 4, 4, 4, 1};
  static const int32_t strides[] = {2, 2, 2, 1, 2, 1};
  /* The official candidate order, zero last. */
  static const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_MBCONV, 3, 6},
                                     {PNAS_OP_MBCONV, 5, 3}, {PNAS_OP_MBCONV, 5, 6},
                                     {PNAS_OP_MBCONV, 7, 3}, {PNAS_OP_MBCONV, 7, 6},
                                     {PNAS_OP_ZERO, 0, 0}};
  pnas_space_info info;
  pni_space_default_info(&info);
  pnas_space *space = NULL;
  pnas_status st = pni_space_create(ctx, &info, &space);
  if (st != PNAS_OK) return st;
  for (size_t s = 0; s < sizeof widths / sizeof widths[0]; s++) {
    st = pni_space_add_stage(space, widths[s], depths[s], strides[s], ops,
                             (int32_t)(sizeof ops / sizeof ops[0]), 0);
    if (st != PNAS_OK) {
      pni_space_destroy(space);
      return st;
    }
  }
  *out = space;
  return PNAS_OK;
}

void pni_space_default_info(pnas_space_info *info) {
  memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
  info->input_height = 224;
  info->input_width = 224;
  info->input_channels = 3;
  info->classes = 1000;
  info->stem_channels = 32;
  info->stem_kernel = 3;
  info->stem_stride = 2;
  info->first_block_channels = 16;
  info->head_channels = 1280;
  info->dropout = 0.0f;
}

pnas_status pni_space_copy(pnas_context *ctx, const pnas_space *src, pnas_space **out) {
  pnas_space *space = pni_calloc(ctx, 1, sizeof *space);
  if (space == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  *space = *src;
  space->ctx = ctx;
  space->stages = NULL;
  space->stage_capacity = 0;
  space->layers = NULL;
  space->layer_capacity = 0;
  if (src->info.stages > 0) {
    space->stages = pni_calloc(ctx, (size_t)src->info.stages, sizeof *space->stages);
    if (space->stages == NULL) goto fail;
    memcpy(space->stages, src->stages, (size_t)src->info.stages * sizeof *space->stages);
    space->stage_capacity = src->info.stages;
  }
  if (src->info.layers > 0) {
    space->layers = pni_calloc(ctx, (size_t)src->info.layers, sizeof *space->layers);
    if (space->layers == NULL) goto fail;
    memcpy(space->layers, src->layers, (size_t)src->info.layers * sizeof *space->layers);
    space->layer_capacity = src->info.layers;
  }
  *out = space;
  return PNAS_OK;
fail:
  pni_free(ctx, space->stages);
  pni_free(ctx, space);
  return PNAS_ERR_OUT_OF_MEMORY;
}

void pni_space_destroy(pnas_space *space) {
  if (space == NULL) return;
  pnas_context *ctx = space->ctx;
  pni_free(ctx, space->stages);
  pni_free(ctx, space->layers);
  space->tag = PNI_TAG_DEAD;
  pni_free(ctx, space);
}
