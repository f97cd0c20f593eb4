/* SPDX-License-Identifier: MIT */
/* The exported functions of the "Architectures" section of pnas.h. */
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "io/arch_io.h"
#include "nn/arch.h"

/* The first published layouts end after `params`; any caller's struct is at
 * least this big. Later versions append members, and a caller with an
 * older, smaller struct still works. */
#define ARCH_INFO_V1_SIZE (offsetof(pnas_arch_info, params) + sizeof(int64_t))
#define BLOCK_INFO_V1_SIZE (offsetof(pnas_block_info, params) + sizeof(int64_t))

/* PNAS_OK for a live pnas_arch, else pni_handle_status(); a macro so that
 * __func__ names the exported function. */
#define arch_check(arch)                                                          \
  ((arch) != NULL && (arch)->tag == PNI_TAG_ARCH && pni_context_is_live((arch)->ctx) \
       ? PNAS_OK                                                                 \
       : pni_handle_status((arch), __func__, "pnas_arch"))

PNAS_API pnas_status pnas_arch_info_init_sized(pnas_arch_info *info, size_t struct_size) {
  if (info == NULL || struct_size < ARCH_INFO_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_arch_info d;
  memset(&d, 0, sizeof d);
  d.input_height = 28;
  d.input_width = 28;
  d.input_channels = 1;
  d.classes = 10;
  d.stem_channels = 16;
  d.stem_kernel = 3;
  d.stem_stride = 1;
  d.head_channels = 256;
  d.dropout = 0.0f;
  pni_struct_export(info, &d, sizeof d, struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_block_info_init_sized(pnas_block_info *info, size_t struct_size) {
  if (info == NULL || struct_size < BLOCK_INFO_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_block_info d;
  memset(&d, 0, sizeof d);
  d.kind = PNAS_BLOCK_MBCONV;
  d.kernel = 3;
  d.expand = 1;
  d.stride = 1;
  pni_struct_export(info, &d, sizeof d, struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_arch_create(pnas_context *context, const pnas_arch_info *info,
                                      pnas_arch **out_arch) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (info == NULL || out_arch == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_create: %s is NULL",
                    info == NULL ? "info" : "out_arch");
  }
  if (info->struct_size < ARCH_INFO_V1_SIZE) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_create: info->struct_size is %zu; fill the struct with "
                    "pnas_arch_info_init() first",
                    info->struct_size);
  }
  pnas_arch_info in;
  pni_struct_import(&in, info, sizeof in, info->struct_size);
  pnas_arch *arch = NULL;
  const pnas_status st = pni_arch_create(context, &in, &arch);
  if (st != PNAS_OK) return st;
  *out_arch = arch;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_arch_append_block(pnas_arch *arch, const pnas_block_info *block) {
  const pnas_status st = arch_check(arch);
  if (st != PNAS_OK) return st;
  if (block == NULL) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_append_block: block is NULL");
  }
  if (block->struct_size < BLOCK_INFO_V1_SIZE) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_append_block: block->struct_size is %zu; fill the struct with "
                    "pnas_block_info_init() first",
                    block->struct_size);
  }
  pnas_block_info b;
  pni_struct_import(&b, block, sizeof b, block->struct_size);
  return pni_arch_append(arch, &b);
}

PNAS_API pnas_status pnas_arch_load_yaml(pnas_context *context, const char *path,
                                         pnas_arch **out_arch) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (path == NULL || out_arch == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_load_yaml: %s is NULL",
                    path == NULL ? "path" : "out_arch");
  }
  /* Writes *out_arch only on success. */
  return pni_arch_load_yaml(context, path, out_arch);
}

PNAS_API pnas_status pnas_arch_parse_yaml(pnas_context *context, const char *text, size_t size,
                                          pnas_arch **out_arch) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (text == NULL || out_arch == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_parse_yaml: %s is NULL",
                    text == NULL ? "text" : "out_arch");
  }
  /* Writes *out_arch only on success. */
  return pni_arch_parse_yaml(context, "<string>", text, size, out_arch);
}

PNAS_API pnas_status pnas_arch_import_net_config(pnas_context *context, const char *path,
                                                 int32_t input_height, int32_t input_width,
                                                 pnas_arch **out_arch) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (path == NULL || out_arch == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_import_net_config: %s is NULL",
                    path == NULL ? "path" : "out_arch");
  }
  if (input_height < 1 || input_height > PNI_ARCH_MAX_SPATIAL || input_width < 1 ||
      input_width > PNI_ARCH_MAX_SPATIAL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_import_net_config: the input size is %dx%d; height and width "
                    "must be between 1 and %d",
                    (int)input_height, (int)input_width, PNI_ARCH_MAX_SPATIAL);
  }
  pnas_arch *arch = NULL;
  const pnas_status st = pni_net_config_import(context, path, input_height, input_width, &arch);
  if (st != PNAS_OK) return st;
  *out_arch = arch;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_arch_save_yaml(const pnas_arch *arch, const char *path) {
  const pnas_status st = arch_check(arch);
  if (st != PNAS_OK) return st;
  if (path == NULL) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_save_yaml: path is NULL");
  }
  return pni_arch_save_yaml(arch, path);
}

PNAS_API pnas_status pnas_arch_export_net_config(const pnas_arch *arch, const char *path) {
  const pnas_status st = arch_check(arch);
  if (st != PNAS_OK) return st;
  if (path == NULL) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_export_net_config: path is NULL");
  }
  return pni_net_config_export(arch, path);
}

PNAS_API pnas_status pnas_arch_get_info(const pnas_arch *arch, pnas_arch_info *out_info) {
  const pnas_status st = arch_check(arch);
  if (st != PNAS_OK) return st;
  if (out_info == NULL) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_get_info: out_info is NULL");
  }
  if (out_info->struct_size < ARCH_INFO_V1_SIZE) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_get_info: out_info->struct_size is %zu; set it to "
                    "sizeof(pnas_arch_info)",
                    out_info->struct_size);
  }
  pni_struct_export(out_info, &arch->info, sizeof arch->info, out_info->struct_size);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_arch_get_block(const pnas_arch *arch, int32_t index,
                                         pnas_block_info *out_block) {
  const pnas_status st = arch_check(arch);
  if (st != PNAS_OK) return st;
  if (out_block == NULL) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_arch_get_block: out_block is NULL");
  }
  if (out_block->struct_size < BLOCK_INFO_V1_SIZE) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_get_block: out_block->struct_size is %zu; set it to "
                    "sizeof(pnas_block_info)",
                    out_block->struct_size);
  }
  if (index < 0 || index >= arch->info.blocks) {
    return pni_fail(arch->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_arch_get_block: index %d is out of range; the architecture has %d "
                    "blocks",
                    (int)index, (int)arch->info.blocks);
  }
  const pni_block *b = &arch->blocks[index];
  pnas_block_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  info.kind = b->kind;
  info.in_channels = b->in_channels;
  info.out_channels = b->out_channels;
  info.kernel = b->kernel;
  info.expand = b->expand;
  info.stride = b->stride;
  info.residual = b->residual;
  info.in_height = b->in_height;
  info.in_width = b->in_width;
  info.out_height = b->out_height;
  info.out_width = b->out_width;
  info.macs = b->macs;
  info.params = b->params;
  pni_struct_export(out_block, &info, sizeof info, out_block->struct_size);
  return PNAS_OK;
}

PNAS_API void pnas_arch_destroy(pnas_arch *arch) {
  if (arch_check(arch) != PNAS_OK) return;
  pni_arch_destroy(arch);
}
