/* SPDX-License-Identifier: MIT */
/* The architecture YAML (schema "pnas-arch/1", docs/formats.md). Reading is
 * strict: unknown, missing and duplicate keys and values of the wrong type
 * or range are errors that name the file, the line and the key, because a
 * silently ignored typo would train a different network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/arch_io.h"
#include "io/yaml_doc.h"

#define ARCH_FORMAT "pnas-arch/1"

/* Generous bounds for the reader; the architecture applies its own. */
#define MAX_DIM PNI_ARCH_MAX_CHANNELS

void pni_format_float(char *buf, size_t cap, float v) {
  for (int digits = 1; digits <= 9; digits++) {
    snprintf(buf, cap, "%.*g", digits, (double)v);
    if ((float)strtod(buf, NULL) == v) return;
  }
}

pnas_status pni_arch_error_at(pnas_context *ctx, pnas_status status, const char *name, int line) {
  if (status == PNAS_ERR_OUT_OF_MEMORY) return status;
  char message[PNI_ERROR_CAPACITY];
  /* Copied first: the message is rewritten into the same buffer. */
  snprintf(message, sizeof message, "%s", ctx->last_error);
  return pni_fail(ctx, PNAS_ERR_PARSE, "%s:%d: %s", name, line, message);
}

static pnas_status read_head(pni_yaml *y, const yaml_node_t *root, pnas_arch_info *info) {
  static const char *const keys[] = {"channels"};
  yaml_node_t *head;
  pnas_status st = pni_yaml_require(y, root, "", "head", &head);
  if (st != PNAS_OK) return st;
  if ((st = pni_yaml_expect_mapping(y, head, "head")) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, head, "head", keys, 1)) != PNAS_OK) {
    return st;
  }
  return pni_yaml_require_int32(y, head, "head", "channels", 0, MAX_DIM, &info->head_channels);
}

static pnas_status read_dropout(pni_yaml *y, const yaml_node_t *root, pnas_arch_info *info) {
  info->dropout = 0.0f;
  const yaml_node_t *node = pni_yaml_get(y, root, "dropout");
  if (node == NULL) return PNAS_OK;
  double v;
  const pnas_status st = pni_yaml_number(y, node, "dropout", &v);
  if (st != PNAS_OK) return st;
  const float f = (float)v;
  if (!(f >= 0.0f && f < 1.0f)) {
    return pni_yaml_fail(y, node, "dropout", "expected a probability in [0, 1), got %s",
                         (const char *)node->data.scalar.value);
  }
  info->dropout = f;
  return PNAS_OK;
}

static pnas_status read_info(pni_yaml *y, const yaml_node_t *root, pnas_arch_info *info) {
  static const char *const keys[] = {"format", "input", "classes", "stem",
                                     "blocks", "head",  "dropout"};
  pnas_status st = pni_yaml_expect_mapping(y, root, "");
  if (st != PNAS_OK) return st;
  if ((st = pni_yaml_check_keys(y, root, "", keys, sizeof keys / sizeof keys[0])) != PNAS_OK) {
    return st;
  }
  yaml_node_t *format;
  const char *text;
  if ((st = pni_yaml_require(y, root, "", "format", &format)) != PNAS_OK ||
      (st = pni_yaml_string(y, format, "format", &text)) != PNAS_OK) {
    return st;
  }
  if (strcmp(text, ARCH_FORMAT) != 0) {
    return pni_yaml_fail(y, format, "format", "expected %s, got %s", ARCH_FORMAT, text);
  }
  memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
  if ((st = pni_yaml_read_input(y, root, MAX_DIM, &info->input_height, &info->input_width,
                                &info->input_channels)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, root, "", "classes", 2, 1000000, &info->classes)) !=
          PNAS_OK ||
      (st = pni_yaml_read_stem(y, root, MAX_DIM, &info->stem_channels, &info->stem_kernel,
                               &info->stem_stride)) != PNAS_OK ||
      (st = read_head(y, root, info)) != PNAS_OK || (st = read_dropout(y, root, info)) != PNAS_OK) {
    return st;
  }
  return PNAS_OK;
}

static pnas_status read_block(pni_yaml *y, const yaml_node_t *node, const char *path,
                              pnas_block_info *b) {
  static const char *const mbconv_keys[] = {"op", "kernel", "expand", "out", "stride"};
  static const char *const identity_keys[] = {"op"};
  pnas_status st = pni_yaml_expect_mapping(y, node, path);
  if (st != PNAS_OK) return st;
  yaml_node_t *op_node;
  const char *op;
  char op_path[96];
  pni_yaml_path(op_path, sizeof op_path, path, "op");
  if ((st = pni_yaml_require(y, node, path, "op", &op_node)) != PNAS_OK ||
      (st = pni_yaml_string(y, op_node, op_path, &op)) != PNAS_OK) {
    return st;
  }
  memset(b, 0, sizeof *b);
  b->struct_size = sizeof *b;
  if (strcmp(op, "identity") == 0) {
    b->kind = PNAS_BLOCK_IDENTITY;
    b->stride = 1;
    return pni_yaml_check_keys(y, node, path, identity_keys, 1);
  }
  if (strcmp(op, "mbconv") != 0) {
    return pni_yaml_fail(y, op_node, op_path, "expected mbconv or identity, got %s", op);
  }
  b->kind = PNAS_BLOCK_MBCONV;
  if ((st = pni_yaml_check_keys(y, node, path, mbconv_keys, 5)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "kernel", INT32_MIN, INT32_MAX, &b->kernel)) !=
          PNAS_OK) {
    return st;
  }
  char key_path[96];
  if (b->kernel != 3 && b->kernel != 5 && b->kernel != 7) {
    pni_yaml_path(key_path, sizeof key_path, path, "kernel");
    return pni_yaml_fail(y, pni_yaml_get(y, node, "kernel"), key_path, "expected 3, 5 or 7, got %d",
                         (int)b->kernel);
  }
  if ((st = pni_yaml_require_int32(y, node, path, "expand", 1, 64, &b->expand)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "out", 1, MAX_DIM, &b->out_channels)) !=
          PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "stride", 1, 2, &b->stride)) != PNAS_OK) {
    return st;
  }
  return PNAS_OK;
}

static pnas_status build(pni_yaml *y, const yaml_node_t *root, pnas_arch **out) {
  pnas_arch_info info;
  pnas_status st = read_info(y, root, &info);
  if (st != PNAS_OK) return st;
  /* Read the block list's shape before building, so that a missing key is
   * reported as such and not as an arch error. */
  yaml_node_t *blocks;
  if ((st = pni_yaml_require(y, root, "", "blocks", &blocks)) != PNAS_OK ||
      (st = pni_yaml_expect_sequence(y, blocks, "blocks")) != PNAS_OK) {
    return st;
  }
  pnas_arch *arch = NULL;
  st = pni_arch_create(y->ctx, &info, &arch);
  if (st != PNAS_OK) return pni_arch_error_at(y->ctx, st, y->name, pni_yaml_line(root));
  const size_t n = pni_yaml_length(blocks);
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *item = pni_yaml_item(y, blocks, i);
    char path[64];
    pni_yaml_path_index(path, sizeof path, "blocks", (long)i);
    pnas_block_info b;
    st = read_block(y, item, path, &b);
    if (st != PNAS_OK) goto fail;
    st = pni_arch_append(arch, &b);
    if (st != PNAS_OK) {
      st = pni_arch_error_at(y->ctx, st, y->name, pni_yaml_line(item));
      goto fail;
    }
  }
  *out = arch;
  return PNAS_OK;
fail:
  pni_arch_destroy(arch);
  return st;
}

pnas_status pni_arch_parse_yaml(pnas_context *ctx, const char *name, const char *text, size_t size,
                                pnas_arch **out) {
  pni_yaml y;
  pnas_status st = pni_yaml_load(&y, ctx, name, text, size);
  if (st != PNAS_OK) return st;
  st = build(&y, pni_yaml_root(&y), out);
  pni_yaml_free(&y);
  return st;
}

pnas_status pni_arch_load_yaml(pnas_context *ctx, const char *path, pnas_arch **out) {
  char *text = NULL;
  size_t size = 0;
  pnas_status st = pni_file_read_all(ctx, path, PNI_ARCH_FILE_MAX_BYTES, &text, &size);
  if (st != PNAS_OK) return st;
  st = pni_arch_parse_yaml(ctx, path, text, size, out);
  pni_free(ctx, text);
  return st;
}

void pni_arch_format_yaml(const pnas_arch *arch, pni_strbuf *out) {
  const pnas_arch_info *in = &arch->info;
  char dropout[32];
  pni_format_float(dropout, sizeof dropout, in->dropout);
  pni_strbuf_printf(out,
                    "# libpnas architecture (schema: docs/formats.md)\n"
                    "format: %s\n"
                    "input: [%d, %d, %d]\n"
                    "classes: %d\n"
                    "stem: {channels: %d, kernel: %d, stride: %d}\n",
                    ARCH_FORMAT, (int)in->input_height, (int)in->input_width,
                    (int)in->input_channels, (int)in->classes, (int)in->stem_channels,
                    (int)in->stem_kernel, (int)in->stem_stride);
  pni_strbuf_printf(out, "blocks:%s\n", in->blocks == 0 ? " []" : "");
  for (int32_t i = 0; i < in->blocks; i++) {
    const pni_block *b = &arch->blocks[i];
    char item[128];
    if (b->kind == PNAS_BLOCK_IDENTITY) {
      snprintf(item, sizeof item, "{op: identity}");
    } else {
      snprintf(item, sizeof item, "{op: mbconv, kernel: %d, expand: %d, out: %d, stride: %d}",
               (int)b->kernel, (int)b->expand, (int)b->out_channels, (int)b->stride);
    }
    /* The shapes are derived, not read back: a comment helps a reader
     * check the file without running anything. */
    pni_strbuf_printf(out, "  - %-58s # %d: %dx%dx%d -> %dx%dx%d\n", item, (int)i,
                      (int)b->in_height, (int)b->in_width, (int)b->in_channels, (int)b->out_height,
                      (int)b->out_width, (int)b->out_channels);
  }
  pni_strbuf_printf(out, "head: {channels: %d}\ndropout: %s\n", (int)in->head_channels, dropout);
}

pnas_status pni_arch_save_yaml(const pnas_arch *arch, const char *path) {
  pnas_context *ctx = arch->ctx;
  pni_strbuf text;
  pni_strbuf_init(&text, ctx);
  pni_arch_format_yaml(arch, &text);
  pnas_status st = pni_strbuf_status(&text);
  if (st == PNAS_OK) st = pni_file_write_atomic(ctx, path, text.data, text.len);
  pni_strbuf_free(&text);
  return st;
}
