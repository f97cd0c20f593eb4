/* SPDX-License-Identifier: MIT */
/* The search-space YAML (schema "pnas-space/1", docs/formats.md). Reading is
 * strict, as for architectures: a key or value the reader does not expect
 * is an error naming the file, line and key, because a silently ignored
 * typo would search a different space. Values that are fine one by one but
 * not together (zero on a layer without a residual, a duplicate op) are the
 * space builder's errors, PNAS_ERR_INVALID_ARGUMENT naming the stage and
 * layer, prefixed with the file and the stage's line. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/arch_io.h"
#include "io/space_io.h"
#include "io/yaml_doc.h"

#define SPACE_FORMAT "pnas-space/1"

/* Generous bounds for the reader; the space applies its own. */
#define MAX_DIM PNI_ARCH_MAX_CHANNELS

#define OP_FORMS "mbconv{K}x{K}_e{E} (K 3, 5 or 7; E 1 to 64) or zero"

/* ---- op names ------------------------------------------------------------ */

/* Reads a decimal number without a leading zero at *p. */
static int read_number(const char **p, int32_t *out) {
  const char *s = *p;
  if (*s < '1' || *s > '9') return 0;
  int32_t v = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9') {
    if (++digits > 4) return 0;
    v = v * 10 + (*s - '0');
    s++;
  }
  *p = s;
  *out = v;
  return 1;
}

static int read_literal(const char **p, const char *literal) {
  const size_t n = strlen(literal);
  if (strncmp(*p, literal, n) != 0) return 0;
  *p += n;
  return 1;
}

int pni_space_op_parse(const char *name, pnas_op_spec *out) {
  if (strcmp(name, "zero") == 0 || strcmp(name, "Zero") == 0) {
    out->kind = PNAS_OP_ZERO;
    out->kernel = 0;
    out->expand = 0;
    return 1;
  }
  const char *p = name;
  int32_t k = 0, k2 = 0, e = 0;
  int ok;
  if (read_literal(&p, "mbconv")) {
    ok = read_number(&p, &k) && read_literal(&p, "x") && read_number(&p, &k2) &&
         read_literal(&p, "_e") && read_number(&p, &e);
  } else {
    /* The official code's names, as in its candidate lists. */
    ok = read_number(&p, &k) && read_literal(&p, "x") && read_number(&p, &k2) &&
         read_literal(&p, "_MBConv") && read_number(&p, &e);
  }
  if (!ok || *p != '\0' || k != k2 || (k != 3 && k != 5 && k != 7) || e < 1 ||
      e > PNI_ARCH_MAX_EXPAND) {
    return 0;
  }
  out->kind = PNAS_OP_MBCONV;
  out->kernel = k;
  out->expand = e;
  return 1;
}

/* ---- reading ------------------------------------------------------------- */

/* Re-records a space builder's error with "name:line: " in front, keeping
 * its status: the spec is wrong, not the syntax. */
static pnas_status spec_error_at(pni_yaml *y, pnas_status status, const yaml_node_t *at) {
  if (status == PNAS_ERR_OUT_OF_MEMORY) return status;
  char message[PNI_ERROR_CAPACITY];
  /* Copied first: the message is rewritten into the same buffer. */
  snprintf(message, sizeof message, "%s", y->ctx->last_error);
  return pni_fail(y->ctx, status, "%s:%d: %s", y->name, pni_yaml_line(at), message);
}

/* An optional {channels: N} mapping (first_block, head); absent means 0. */
static pnas_status read_channels(pni_yaml *y, const yaml_node_t *root, const char *key,
                                 int32_t *out) {
  static const char *const keys[] = {"channels"};
  *out = 0;
  const yaml_node_t *node = pni_yaml_get(y, root, key);
  if (node == NULL) return PNAS_OK;
  pnas_status st;
  if ((st = pni_yaml_expect_mapping(y, node, key)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, key, keys, 1)) != PNAS_OK) {
    return st;
  }
  return pni_yaml_require_int32(y, node, key, "channels", 0, MAX_DIM, out);
}

static pnas_status read_dropout(pni_yaml *y, const yaml_node_t *root, pnas_space_info *info) {
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

static pnas_status read_info(pni_yaml *y, const yaml_node_t *root, pnas_space_info *info) {
  static const char *const keys[] = {"format",      "input",  "classes", "stem",
                                     "first_block", "stages", "head",    "dropout"};
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
  if (strcmp(text, SPACE_FORMAT) != 0) {
    return pni_yaml_fail(y, format, "format", "expected %s, got %s", SPACE_FORMAT, text);
  }
  memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
  if ((st = pni_yaml_read_input(y, root, MAX_DIM, &info->input_height, &info->input_width,
                                &info->input_channels)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, root, "", "classes", 2, 1000000, &info->classes)) !=
          PNAS_OK ||
      (st = pni_yaml_read_stem(y, root, MAX_DIM, &info->stem_channels, &info->stem_kernel,
                               &info->stem_stride)) != PNAS_OK ||
      (st = read_channels(y, root, "first_block", &info->first_block_channels)) != PNAS_OK ||
      (st = read_channels(y, root, "head", &info->head_channels)) != PNAS_OK ||
      (st = read_dropout(y, root, info)) != PNAS_OK) {
    return st;
  }
  return PNAS_OK;
}

typedef struct stage_spec {
  int32_t width, depth, stride;
  int32_t op_count;
  pnas_op_spec ops[PNI_SPACE_MAX_OPS];
} stage_spec;

static pnas_status read_ops(pni_yaml *y, const yaml_node_t *stage, const char *parent,
                            stage_spec *out) {
  char path[96];
  pni_yaml_path(path, sizeof path, parent, "ops");
  yaml_node_t *ops;
  pnas_status st;
  if ((st = pni_yaml_require(y, stage, parent, "ops", &ops)) != PNAS_OK ||
      (st = pni_yaml_expect_sequence(y, ops, path)) != PNAS_OK) {
    return st;
  }
  const size_t n = pni_yaml_length(ops);
  if (n > PNI_SPACE_MAX_OPS) {
    return pni_yaml_fail(y, ops, path, "expected at most %d ops, got %zu", PNI_SPACE_MAX_OPS, n);
  }
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *item = pni_yaml_item(y, ops, i);
    char item_path[112];
    pni_yaml_path_index(item_path, sizeof item_path, path, (long)i);
    const char *name;
    if ((st = pni_yaml_string(y, item, item_path, &name)) != PNAS_OK) return st;
    if (!pni_space_op_parse(name, &out->ops[i])) {
      return pni_yaml_fail(y, item, item_path,
                           "unknown op '%.*s'; expected " OP_FORMS
                           " (the official names 3x3_MBConv3 and Zero are accepted too)",
                           pni_yaml_quote_len(name, 60), name);
    }
  }
  out->op_count = (int32_t)n;
  return PNAS_OK;
}

static pnas_status read_stage(pni_yaml *y, const yaml_node_t *node, const char *path,
                              stage_spec *out) {
  static const char *const keys[] = {"width", "depth", "stride", "ops"};
  pnas_status st;
  if ((st = pni_yaml_expect_mapping(y, node, path)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, path, keys, 4)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "width", 1, MAX_DIM, &out->width)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "depth", 1, 10000, &out->depth)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, node, path, "stride", 1, 2, &out->stride)) != PNAS_OK) {
    return st;
  }
  return read_ops(y, node, path, out);
}

static pnas_status build(pni_yaml *y, const yaml_node_t *root, pnas_space **out) {
  pnas_space_info info;
  pnas_status st = read_info(y, root, &info);
  if (st != PNAS_OK) return st;
  /* Read the stage list's shape before building, so that a missing key is
   * reported as such and not as a space error. */
  yaml_node_t *stages;
  if ((st = pni_yaml_require(y, root, "", "stages", &stages)) != PNAS_OK ||
      (st = pni_yaml_expect_sequence(y, stages, "stages")) != PNAS_OK) {
    return st;
  }
  pnas_space *space = NULL;
  st = pni_space_create(y->ctx, &info, &space);
  if (st != PNAS_OK) return spec_error_at(y, st, root);
  const size_t n = pni_yaml_length(stages);
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *item = pni_yaml_item(y, stages, i);
    char path[64];
    pni_yaml_path_index(path, sizeof path, "stages", (long)i);
    stage_spec stage;
    st = read_stage(y, item, path, &stage);
    if (st != PNAS_OK) goto fail;
    /* A file lists a stage's candidates once; zero applies where the layer
     * has a residual, so it is dropped from a first layer without one. */
    st = pni_space_add_stage(space, stage.width, stage.depth, stage.stride, stage.ops,
                             stage.op_count, 0);
    if (st != PNAS_OK) {
      st = spec_error_at(y, st, item);
      goto fail;
    }
  }
  *out = space;
  return PNAS_OK;
fail:
  pni_space_destroy(space);
  return st;
}

pnas_status pni_space_parse_yaml(pnas_context *ctx, const char *name, const char *text, size_t size,
                                 pnas_space **out) {
  pni_yaml y;
  pnas_status st = pni_yaml_load(&y, ctx, name, text, size);
  if (st != PNAS_OK) return st;
  st = build(&y, pni_yaml_root(&y), out);
  pni_yaml_free(&y);
  return st;
}

pnas_status pni_space_load_yaml(pnas_context *ctx, const char *path, pnas_space **out) {
  char *text = NULL;
  size_t size = 0;
  pnas_status st = pni_file_read_all(ctx, path, PNI_SPACE_FILE_MAX_BYTES, &text, &size);
  if (st != PNAS_OK) return st;
  st = pni_space_parse_yaml(ctx, path, text, size, out);
  pni_free(ctx, text);
  return st;
}

/* ---- writing ------------------------------------------------------------- */

void pni_space_format_yaml(const pnas_space *space, pni_strbuf *out) {
  const pnas_space_info *in = &space->info;
  char dropout[32];
  pni_format_float(dropout, sizeof dropout, in->dropout);
  pni_strbuf_printf(out,
                    "# libpnas search space (schema: docs/formats.md)\n"
                    "format: %s\n"
                    "input: [%d, %d, %d]\n"
                    "classes: %d\n"
                    "stem: {channels: %d, kernel: %d, stride: %d}\n",
                    SPACE_FORMAT, (int)in->input_height, (int)in->input_width,
                    (int)in->input_channels, (int)in->classes, (int)in->stem_channels,
                    (int)in->stem_kernel, (int)in->stem_stride);
  if (in->first_block_channels > 0) {
    pni_strbuf_printf(out, "first_block: {channels: %d}\n", (int)in->first_block_channels);
  }
  pni_strbuf_printf(out, "stages:%s\n", in->stages == 0 ? " []" : "");
  int32_t first = 0;
  for (int32_t s = 0; s < in->stages; s++) {
    const pni_space_stage *stage = &space->stages[s];
    const int32_t last = first + stage->depth - 1;
    const pni_block *a = &space->layers[first].shape, *b = &space->layers[last].shape;
    /* The shapes are derived, not read back: a comment helps a reader
     * check the file without running anything. */
    char layers[48];
    if (first == last) {
      snprintf(layers, sizeof layers, "layer %d", (int)first);
    } else {
      snprintf(layers, sizeof layers, "layers %d to %d", (int)first, (int)last);
    }
    pni_strbuf_printf(out, "  # stage %d, %s: %dx%dx%d -> %dx%dx%d\n", (int)s, layers,
                      (int)a->in_height, (int)a->in_width, (int)a->in_channels, (int)b->out_height,
                      (int)b->out_width, (int)b->out_channels);
    pni_strbuf_printf(out, "  - {width: %d, depth: %d, stride: %d, ops: [", (int)stage->width,
                      (int)stage->depth, (int)stage->stride);
    /* The last layer has the whole list: zero is only ever dropped from a
     * stage's first layer, and is dropped again on reading. */
    const pni_space_layer *full = &space->layers[last];
    for (int32_t i = 0; i < full->op_count; i++) {
      char name[PNI_SPACE_OP_NAME_CAPACITY];
      pni_space_op_name(&full->ops[i], name, sizeof name);
      pni_strbuf_printf(out, "%s%s", i > 0 ? ", " : "", name);
    }
    pni_strbuf_printf(out, "]}\n");
    first = last + 1;
  }
  pni_strbuf_printf(out, "head: {channels: %d}\ndropout: %s\n", (int)in->head_channels, dropout);
}

pnas_status pni_space_save_yaml(const pnas_space *space, const char *path) {
  pnas_context *ctx = space->ctx;
  pni_strbuf text;
  pni_strbuf_init(&text, ctx);
  pni_space_format_yaml(space, &text);
  pnas_status st = pni_strbuf_status(&text);
  if (st == PNAS_OK) st = pni_file_write_atomic(ctx, path, text.data, text.len);
  pni_strbuf_free(&text);
  return st;
}
