/* SPDX-License-Identifier: MIT */
/* The exported functions of the "Search spaces" section of pnas.h. */
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "io/space_io.h"
#include "search/space.h"

/* The first published pnas_space_info ends after `layers`, pnas_block_info
 * after `params`; any caller's struct is at least this big. Later versions append members, and a
 * caller with an older, smaller struct still works. */
#define SPACE_INFO_V1_SIZE (offsetof(pnas_space_info, layers) + sizeof(int32_t))
#define BLOCK_INFO_V1_SIZE (offsetof(pnas_block_info, params) + sizeof(int64_t))

/* PNAS_OK for a live pnas_space, else pni_handle_status(); a macro so that
 * __func__ names the exported function. */
#define space_check(space)                                                          \
  ((space) != NULL && (space)->tag == PNI_TAG_SPACE && pni_context_is_live((space)->ctx) \
       ? PNAS_OK                                                                 \
       : pni_handle_status((space), __func__, "pnas_space"))

PNAS_API pnas_status pnas_space_info_init_sized(pnas_space_info *info, size_t struct_size) {
  if (info == NULL || struct_size < SPACE_INFO_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_space_info d;
  pni_space_default_info(&d);
  pni_struct_export(info, &d, sizeof d, struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_space_create(pnas_context *context, const pnas_space_info *info,
                                       pnas_space **out_space) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (info == NULL || out_space == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_create: %s is NULL",
                    info == NULL ? "info" : "out_space");
  }
  if (info->struct_size < SPACE_INFO_V1_SIZE) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_create: info->struct_size is %zu; fill the struct with "
                    "pnas_space_info_init() first",
                    info->struct_size);
  }
  pnas_space_info in;
  pni_struct_import(&in, info, sizeof in, info->struct_size);
  pnas_space *space = NULL;
  const pnas_status st = pni_space_create(context, &in, &space);
  if (st != PNAS_OK) return st;
  *out_space = space;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_space_create_default(pnas_context *context, pnas_space **out_space) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (out_space == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_create_default: out_space is NULL");
  }
  pnas_space *space = NULL;
  const pnas_status st = pni_space_create_default(context, &space);
  if (st != PNAS_OK) return st;
  *out_space = space;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_space_add_stage(pnas_space *space, int32_t width, int32_t depth,
                                          int32_t stride, const pnas_op_spec *ops, int32_t op_count,
                                          int32_t zero_on_first) {
  const pnas_status st = space_check(space);
  if (st != PNAS_OK) return st;
  return pni_space_add_stage(space, width, depth, stride, ops, op_count, zero_on_first);
}

PNAS_API pnas_status pnas_space_load_yaml(pnas_context *context, const char *path,
                                          pnas_space **out_space) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (path == NULL || out_space == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_load_yaml: %s is NULL",
                    path == NULL ? "path" : "out_space");
  }
  /* Writes *out_space only on success. */
  return pni_space_load_yaml(context, path, out_space);
}

PNAS_API pnas_status pnas_space_parse_yaml(pnas_context *context, const char *text, size_t size,
                                           pnas_space **out_space) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (text == NULL || out_space == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_parse_yaml: %s is NULL",
                    text == NULL ? "text" : "out_space");
  }
  /* Writes *out_space only on success. */
  return pni_space_parse_yaml(context, "<string>", text, size, out_space);
}

PNAS_API pnas_status pnas_space_save_yaml(const pnas_space *space, const char *path) {
  const pnas_status st = space_check(space);
  if (st != PNAS_OK) return st;
  if (path == NULL) {
    return pni_fail(space->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_save_yaml: path is NULL");
  }
  return pni_space_save_yaml(space, path);
}

PNAS_API pnas_status pnas_space_get_info(const pnas_space *space, pnas_space_info *out_info) {
  const pnas_status st = space_check(space);
  if (st != PNAS_OK) return st;
  if (out_info == NULL) {
    return pni_fail(space->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_get_info: out_info is NULL");
  }
  if (out_info->struct_size < SPACE_INFO_V1_SIZE) {
    return pni_fail(space->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_get_info: out_info->struct_size is %zu; set it to "
                    "sizeof(pnas_space_info)",
                    out_info->struct_size);
  }
  pni_struct_export(out_info, &space->info, sizeof space->info, out_info->struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_space_get_layer(const pnas_space *space, int32_t layer,
                                          pnas_block_info *out_block, pnas_op_spec *out_ops,
                                          int32_t ops_capacity, int32_t *out_op_count) {
  const pnas_status st = space_check(space);
  if (st != PNAS_OK) return st;
  pnas_context *ctx = space->ctx;
  if (out_block == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_space_get_layer: out_block is NULL");
  }
  if (out_block->struct_size < BLOCK_INFO_V1_SIZE) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_get_layer: out_block->struct_size is %zu; set it to "
                    "sizeof(pnas_block_info)",
                    out_block->struct_size);
  }
  if (ops_capacity < 0) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_get_layer: ops_capacity is %d; it must be 0 or more",
                    (int)ops_capacity);
  }
  if (layer < 0 || layer >= space->info.layers) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_space_get_layer: layer %d is out of range; the space has %d layers",
                    (int)layer, (int)space->info.layers);
  }
  const pni_space_layer *l = &space->layers[layer];
  const pni_block *b = &l->shape;
  pnas_block_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  info.kind = PNAS_BLOCK_MBCONV;
  info.in_channels = b->in_channels;
  info.out_channels = b->out_channels;
  info.kernel = 0;
  info.expand = 0;
  info.stride = b->stride;
  info.residual = b->residual;
  info.in_height = b->in_height;
  info.in_width = b->in_width;
  info.out_height = b->out_height;
  info.out_width = b->out_width;
  info.macs = 0;
  info.params = 0;
  pni_struct_export(out_block, &info, sizeof info, out_block->struct_size);
  if (out_ops != NULL) {
    const int32_t n = l->op_count < ops_capacity ? l->op_count : ops_capacity;
    if (n > 0) memcpy(out_ops, l->ops, (size_t)n * sizeof *out_ops);
  }
  if (out_op_count != NULL) *out_op_count = l->op_count;
  return PNAS_OK;
}

PNAS_API void pnas_space_destroy(pnas_space *space) {
  if (space_check(space) != PNAS_OK) return;
  pni_space_destroy(space);
}
