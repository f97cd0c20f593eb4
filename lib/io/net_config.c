/* SPDX-License-Identifier: MIT */
/* The official ProxylessNAS net.config (JSON, read by libyaml as YAML).
 *
 * Import maps first_conv to the stem, each MobileInvertedResidualBlock to an
 * MBConv block (MBInvertedConvLayer) or an identity block (ZeroLayer with an
 * IdentityLayer shortcut), feature_mix_layer to the head and classifier to
 * the classes and dropout. Every setting that libpnas cannot build (another
 * activation, a bias, dilation, groups, a missing shortcut on a residual
 * layer) is an error naming the key, never silently dropped, so that an
 * imported net is the published one. Export writes the same structure,
 * formatted as the official files are, so the released configs round-trip
 * byte for byte. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/arch_io.h"
#include "io/yaml_doc.h"

#define MAX_DIM PNI_ARCH_MAX_CHANNELS

typedef struct conv_layer {
  int32_t kernel, stride, in_channels, out_channels;
} conv_layer;

/* ---- reading ----------------------------------------------------------- */

static pnas_status get_int(pni_yaml *y, const yaml_node_t *map, const char *parent, const char *key,
                           int64_t lo, int64_t hi, int32_t *out) {
  char path[128];
  pni_yaml_path(path, sizeof path, parent, key);
  yaml_node_t *node;
  pnas_status st = pni_yaml_require(y, map, parent, key, &node);
  if (st != PNAS_OK) return st;
  int64_t v;
  st = pni_yaml_int(y, node, path, lo, hi, &v);
  if (st == PNAS_OK) *out = (int32_t)v;
  return st;
}

/* The layer's "name" must be present and be `expected`. */
static pnas_status expect_name(pni_yaml *y, const yaml_node_t *map, const char *parent,
                               const char *expected) {
  char path[128];
  pni_yaml_path(path, sizeof path, parent, "name");
  yaml_node_t *node;
  const char *name;
  pnas_status st = pni_yaml_require(y, map, parent, "name", &node);
  if (st == PNAS_OK) st = pni_yaml_string(y, node, path, &name);
  if (st != PNAS_OK) return st;
  if (strcmp(name, expected) != 0) {
    return pni_yaml_fail(y, node, path, "expected \"%s\", got \"%s\"", expected, name);
  }
  return PNAS_OK;
}

/* Optional keys: when present they must hold the one value libpnas builds
 * (the official files spell out the defaults). */
static pnas_status opt_int_is(pni_yaml *y, const yaml_node_t *map, const char *parent,
                              const char *key, int64_t expected) {
  const yaml_node_t *node = pni_yaml_get(y, map, key);
  if (node == NULL) return PNAS_OK;
  char path[128];
  pni_yaml_path(path, sizeof path, parent, key);
  int64_t v;
  const pnas_status st = pni_yaml_int(y, node, path, INT64_MIN, INT64_MAX, &v);
  if (st != PNAS_OK) return st;
  if (v != expected) {
    return pni_yaml_fail(y, node, path, "expected %lld (the only value libpnas supports), got %lld",
                         (long long)expected, (long long)v);
  }
  return PNAS_OK;
}

static pnas_status opt_bool_is(pni_yaml *y, const yaml_node_t *map, const char *parent,
                               const char *key, int expected) {
  const yaml_node_t *node = pni_yaml_get(y, map, key);
  if (node == NULL) return PNAS_OK;
  char path[128];
  pni_yaml_path(path, sizeof path, parent, key);
  int v;
  const pnas_status st = pni_yaml_bool(y, node, path, &v);
  if (st != PNAS_OK) return st;
  if (v != expected) {
    return pni_yaml_fail(y, node, path, "expected %s (the only value libpnas supports), got %s",
                         expected ? "true" : "false", v ? "true" : "false");
  }
  return PNAS_OK;
}

/* expected NULL means the value must be null. */
static pnas_status opt_string_is(pni_yaml *y, const yaml_node_t *map, const char *parent,
                                 const char *key, const char *expected) {
  const yaml_node_t *node = pni_yaml_get(y, map, key);
  if (node == NULL) return PNAS_OK;
  char path[128], got[96];
  pni_yaml_path(path, sizeof path, parent, key);
  const int ok = expected == NULL
                     ? pni_yaml_is_null(node)
                     : node->type == YAML_SCALAR_NODE && !pni_yaml_is_null(node) &&
                           strcmp((const char *)node->data.scalar.value, expected) == 0;
  if (ok) return PNAS_OK;
  if (expected == NULL) {
    return pni_yaml_fail(y, node, path, "expected null (the only value libpnas supports), got %s",
                         pni_yaml_describe(node, got, sizeof got));
  }
  return pni_yaml_fail(y, node, path, "expected \"%s\" (the only value libpnas supports), got %s",
                       expected, pni_yaml_describe(node, got, sizeof got));
}

/* Dropout inside a conv or identity layer: libpnas has none there. */
static pnas_status opt_zero(pni_yaml *y, const yaml_node_t *map, const char *parent,
                            const char *key) {
  const yaml_node_t *node = pni_yaml_get(y, map, key);
  if (node == NULL) return PNAS_OK;
  char path[128];
  pni_yaml_path(path, sizeof path, parent, key);
  double v;
  const pnas_status st = pni_yaml_number(y, node, path, &v);
  if (st != PNAS_OK) return st;
  if (v != 0.0) {
    return pni_yaml_fail(y, node, path, "expected 0 (the only value libpnas supports), got %s",
                         (const char *)node->data.scalar.value);
  }
  return PNAS_OK;
}

/* A ConvLayer: conv (no bias), BN, ReLU6. */
static pnas_status read_conv(pni_yaml *y, const yaml_node_t *node, const char *path,
                             conv_layer *c) {
  static const char *const keys[] = {"name",         "kernel_size", "stride",      "dilation",
                                     "groups",       "bias",        "has_shuffle", "in_channels",
                                     "out_channels", "use_bn",      "act_func",    "dropout_rate",
                                     "ops_order"};
  pnas_status st;
  if ((st = pni_yaml_expect_mapping(y, node, path)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, path, keys, sizeof keys / sizeof keys[0])) != PNAS_OK ||
      (st = expect_name(y, node, path, "ConvLayer")) != PNAS_OK ||
      (st = get_int(y, node, path, "kernel_size", 1, 15, &c->kernel)) != PNAS_OK ||
      (st = get_int(y, node, path, "stride", 1, 2, &c->stride)) != PNAS_OK ||
      (st = get_int(y, node, path, "in_channels", 1, MAX_DIM, &c->in_channels)) != PNAS_OK ||
      (st = get_int(y, node, path, "out_channels", 1, MAX_DIM, &c->out_channels)) != PNAS_OK ||
      (st = opt_int_is(y, node, path, "dilation", 1)) != PNAS_OK ||
      (st = opt_int_is(y, node, path, "groups", 1)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "bias", 0)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "has_shuffle", 0)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "use_bn", 1)) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "act_func", "relu6")) != PNAS_OK ||
      (st = opt_zero(y, node, path, "dropout_rate")) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "ops_order", "weight_bn_act")) != PNAS_OK) {
    return st;
  }
  if (c->kernel % 2 == 0) {
    char where[128];
    pni_yaml_path(where, sizeof where, path, "kernel_size");
    return pni_yaml_fail(y, pni_yaml_get(y, node, "kernel_size"), where,
                         "expected an odd size, got %d", (int)c->kernel);
  }
  return PNAS_OK;
}

/* A LinearLayer with bias and no BN or activation; dropout before it. */
static pnas_status read_classifier(pni_yaml *y, const yaml_node_t *root, int32_t *in_features,
                                   pnas_arch_info *info, const yaml_node_t **at) {
  static const char *const keys[] = {"name",   "in_features", "out_features", "bias",
                                     "use_bn", "act_func",    "dropout_rate", "ops_order"};
  const char *path = "classifier";
  yaml_node_t *node;
  pnas_status st = pni_yaml_require(y, root, "", path, &node);
  if (st != PNAS_OK) return st;
  if ((st = pni_yaml_expect_mapping(y, node, path)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, path, keys, sizeof keys / sizeof keys[0])) != PNAS_OK ||
      (st = expect_name(y, node, path, "LinearLayer")) != PNAS_OK ||
      (st = get_int(y, node, path, "in_features", 1, MAX_DIM, in_features)) != PNAS_OK ||
      (st = get_int(y, node, path, "out_features", 2, 1000000, &info->classes)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "bias", 1)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "use_bn", 0)) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "act_func", NULL)) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "ops_order", "weight_bn_act")) != PNAS_OK) {
    return st;
  }
  info->dropout = 0.0f;
  const yaml_node_t *rate = pni_yaml_get(y, node, "dropout_rate");
  if (rate != NULL) {
    double v;
    st = pni_yaml_number(y, rate, "classifier.dropout_rate", &v);
    if (st != PNAS_OK) return st;
    const float f = (float)v;
    if (!(f >= 0.0f && f < 1.0f)) {
      return pni_yaml_fail(y, rate, "classifier.dropout_rate",
                           "expected a probability in [0, 1), got %s",
                           (const char *)rate->data.scalar.value);
    }
    info->dropout = f;
  }
  *at = node;
  return PNAS_OK;
}

/* The IdentityLayer shortcut of a residual layer, whose channels must be
 * the block's input channels. */
static pnas_status read_shortcut(pni_yaml *y, const yaml_node_t *node, const char *path,
                                 int32_t channels) {
  static const char *const keys[] = {"name",     "in_channels",  "out_channels", "use_bn",
                                     "act_func", "dropout_rate", "ops_order"};
  pnas_status st;
  int32_t cin, cout;
  if ((st = pni_yaml_expect_mapping(y, node, path)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, path, keys, sizeof keys / sizeof keys[0])) != PNAS_OK ||
      (st = expect_name(y, node, path, "IdentityLayer")) != PNAS_OK ||
      (st = get_int(y, node, path, "in_channels", 1, MAX_DIM, &cin)) != PNAS_OK ||
      (st = get_int(y, node, path, "out_channels", 1, MAX_DIM, &cout)) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "use_bn", 0)) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "act_func", NULL)) != PNAS_OK ||
      (st = opt_zero(y, node, path, "dropout_rate")) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "ops_order", "weight_bn_act")) != PNAS_OK) {
    return st;
  }
  const char *bad = cin != channels ? "in_channels" : cout != channels ? "out_channels" : NULL;
  if (bad != NULL) {
    char where[128];
    pni_yaml_path(where, sizeof where, path, bad);
    return pni_yaml_fail(y, pni_yaml_get(y, node, bad), where,
                         "expected %d (the block's input channels), got %d", (int)channels,
                         (int)(bad[0] == 'i' ? cin : cout));
  }
  return PNAS_OK;
}

static pnas_status read_mbconv(pni_yaml *y, const yaml_node_t *node, const char *path,
                               int32_t channels, pnas_block_info *b) {
  static const char *const keys[] = {"name",         "in_channels", "out_channels",
                                     "kernel_size",  "stride",      "expand_ratio",
                                     "mid_channels", "act_func",    "use_se"};
  pnas_status st;
  int32_t cin;
  if ((st = pni_yaml_check_keys(y, node, path, keys, sizeof keys / sizeof keys[0])) != PNAS_OK ||
      (st = get_int(y, node, path, "in_channels", 1, MAX_DIM, &cin)) != PNAS_OK) {
    return st;
  }
  char where[128];
  if (cin != channels) {
    pni_yaml_path(where, sizeof where, path, "in_channels");
    return pni_yaml_fail(y, pni_yaml_get(y, node, "in_channels"), where,
                         "expected %d (the previous layer's out_channels), got %d", (int)channels,
                         (int)cin);
  }
  if ((st = get_int(y, node, path, "out_channels", 1, MAX_DIM, &b->out_channels)) != PNAS_OK ||
      (st = get_int(y, node, path, "kernel_size", INT32_MIN, INT32_MAX, &b->kernel)) != PNAS_OK) {
    return st;
  }
  if (b->kernel != 3 && b->kernel != 5 && b->kernel != 7) {
    pni_yaml_path(where, sizeof where, path, "kernel_size");
    return pni_yaml_fail(y, pni_yaml_get(y, node, "kernel_size"), where,
                         "expected 3, 5 or 7, got %d", (int)b->kernel);
  }
  if ((st = get_int(y, node, path, "stride", 1, 2, &b->stride)) != PNAS_OK ||
      (st = get_int(y, node, path, "expand_ratio", 1, 64, &b->expand)) != PNAS_OK ||
      (st = opt_string_is(y, node, path, "act_func", "relu6")) != PNAS_OK ||
      (st = opt_bool_is(y, node, path, "use_se", 0)) != PNAS_OK) {
    return st;
  }
  /* Later versions of the official code write mid_channels (null: derived). */
  const yaml_node_t *mid = pni_yaml_get(y, node, "mid_channels");
  if (mid != NULL && !pni_yaml_is_null(mid)) {
    pni_yaml_path(where, sizeof where, path, "mid_channels");
    int64_t v;
    st = pni_yaml_int(y, mid, where, 1, INT32_MAX, &v);
    if (st != PNAS_OK) return st;
    if (v != (int64_t)cin * b->expand) {
      return pni_yaml_fail(y, mid, where,
                           "expected null or %lld (in_channels * expand_ratio), got %lld",
                           (long long)cin * b->expand, (long long)v);
    }
  }
  b->kind = PNAS_BLOCK_MBCONV;
  return PNAS_OK;
}

static pnas_status read_block(pni_yaml *y, const yaml_node_t *node, const char *path,
                              int32_t channels, pnas_block_info *b) {
  static const char *const keys[] = {"name", "mobile_inverted_conv", "shortcut"};
  pnas_status st;
  yaml_node_t *conv, *shortcut;
  char conv_path[96], short_path[96];
  pni_yaml_path(conv_path, sizeof conv_path, path, "mobile_inverted_conv");
  pni_yaml_path(short_path, sizeof short_path, path, "shortcut");
  if ((st = pni_yaml_expect_mapping(y, node, path)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, node, path, keys, 3)) != PNAS_OK ||
      (st = expect_name(y, node, path, "MobileInvertedResidualBlock")) != PNAS_OK ||
      (st = pni_yaml_require(y, node, path, "mobile_inverted_conv", &conv)) != PNAS_OK ||
      (st = pni_yaml_require(y, node, path, "shortcut", &shortcut)) != PNAS_OK ||
      (st = pni_yaml_expect_mapping(y, conv, conv_path)) != PNAS_OK) {
    return st;
  }
  const yaml_node_t *name_node = pni_yaml_get(y, conv, "name");
  const char *op = NULL;
  char name_path[128];
  pni_yaml_path(name_path, sizeof name_path, conv_path, "name");
  if (name_node == NULL) return pni_yaml_fail(y, conv, conv_path, "missing key 'name'");
  if ((st = pni_yaml_string(y, name_node, name_path, &op)) != PNAS_OK) return st;
  memset(b, 0, sizeof *b);
  b->struct_size = sizeof *b;
  const int has_shortcut = !pni_yaml_is_null(shortcut);
  if (strcmp(op, "ZeroLayer") == 0) {
    static const char *const zero_keys[] = {"name", "stride"};
    if ((st = pni_yaml_check_keys(y, conv, conv_path, zero_keys, 2)) != PNAS_OK ||
        (st = opt_int_is(y, conv, conv_path, "stride", 1)) != PNAS_OK) {
      return st;
    }
    if (!has_shortcut) {
      return pni_yaml_fail(y, shortcut, short_path,
                           "a ZeroLayer block needs an IdentityLayer shortcut (without one the "
                           "block outputs zeros), got null");
    }
    b->kind = PNAS_BLOCK_IDENTITY;
    b->out_channels = channels;
    b->stride = 1;
    return read_shortcut(y, shortcut, short_path, channels);
  }
  if (strcmp(op, "MBInvertedConvLayer") != 0) {
    return pni_yaml_fail(y, name_node, name_path,
                         "expected \"MBInvertedConvLayer\" or \"ZeroLayer\", got \"%s\"", op);
  }
  if ((st = read_mbconv(y, conv, conv_path, channels, b)) != PNAS_OK) return st;
  /* libpnas adds the input whenever the shapes allow it, as the searched
   * nets do; a file that disagrees describes another network. */
  const int residual = b->stride == 1 && b->out_channels == channels;
  if (residual && !has_shortcut) {
    return pni_yaml_fail(y, shortcut, short_path,
                         "expected an IdentityLayer: a block with stride 1 and in_channels == "
                         "out_channels (%d) always has a residual in libpnas, got null",
                         (int)channels);
  }
  if (!residual && has_shortcut) {
    return pni_yaml_fail(y, shortcut, short_path,
                         "expected null: an identity shortcut needs stride 1 and in_channels "
                         "== out_channels, and this block has stride %d, %d -> %d channels",
                         (int)b->stride, (int)channels, (int)b->out_channels);
  }
  return has_shortcut ? read_shortcut(y, shortcut, short_path, channels) : PNAS_OK;
}

static pnas_status read_bn(pni_yaml *y, const yaml_node_t *root) {
  static const char *const keys[] = {"momentum", "eps"};
  const yaml_node_t *bn = pni_yaml_get(y, root, "bn");
  if (bn == NULL) return PNAS_OK;
  pnas_status st;
  if ((st = pni_yaml_expect_mapping(y, bn, "bn")) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, bn, "bn", keys, 2)) != PNAS_OK) {
    return st;
  }
  /* BN settings belong to the trainer (pnas_net_options), not to the
   * architecture; they are checked for type only. */
  for (size_t i = 0; i < 2; i++) {
    const yaml_node_t *v = pni_yaml_get(y, bn, keys[i]);
    char path[32];
    pni_yaml_path(path, sizeof path, "bn", keys[i]);
    double d;
    if (v != NULL && (st = pni_yaml_number(y, v, path, &d)) != PNAS_OK) return st;
  }
  return PNAS_OK;
}

static pnas_status build(pni_yaml *y, const yaml_node_t *root, int32_t input_height,
                         int32_t input_width, pnas_arch **out) {
  static const char *const keys[] = {"name",       "bn",    "first_conv", "feature_mix_layer",
                                     "classifier", "blocks"};
  pnas_status st;
  yaml_node_t *first, *mix, *blocks;
  const yaml_node_t *classifier = NULL;
  if ((st = pni_yaml_expect_mapping(y, root, "")) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, root, "", keys, sizeof keys / sizeof keys[0])) != PNAS_OK ||
      (st = read_bn(y, root)) != PNAS_OK ||
      (st = pni_yaml_require(y, root, "", "first_conv", &first)) != PNAS_OK ||
      (st = pni_yaml_require(y, root, "", "feature_mix_layer", &mix)) != PNAS_OK ||
      (st = pni_yaml_require(y, root, "", "blocks", &blocks)) != PNAS_OK ||
      (st = pni_yaml_expect_sequence(y, blocks, "blocks")) != PNAS_OK) {
    return st;
  }
  const yaml_node_t *name = pni_yaml_get(y, root, "name");
  const char *ignored;
  if (name != NULL && (st = pni_yaml_string(y, name, "name", &ignored)) != PNAS_OK) return st;

  pnas_arch_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  conv_layer stem, head = {0, 0, 0, 0};
  int32_t in_features = 0;
  if ((st = read_conv(y, first, "first_conv", &stem)) != PNAS_OK) return st;
  const int has_head = !pni_yaml_is_null(mix);
  if (has_head) {
    if ((st = read_conv(y, mix, "feature_mix_layer", &head)) != PNAS_OK ||
        (st = opt_int_is(y, mix, "feature_mix_layer", "kernel_size", 1)) != PNAS_OK ||
        (st = opt_int_is(y, mix, "feature_mix_layer", "stride", 1)) != PNAS_OK) {
      return st;
    }
  }
  if ((st = read_classifier(y, root, &in_features, &info, &classifier)) != PNAS_OK) return st;
  info.input_height = input_height;
  info.input_width = input_width;
  info.input_channels = stem.in_channels;
  info.stem_channels = stem.out_channels;
  info.stem_kernel = stem.kernel;
  info.stem_stride = stem.stride;
  info.head_channels = has_head ? head.out_channels : 0;

  pnas_arch *arch = NULL;
  st = pni_arch_create(y->ctx, &info, &arch);
  if (st != PNAS_OK) return pni_arch_error_at(y->ctx, st, y->name, pni_yaml_line(root));
  int32_t channels = info.stem_channels;
  const size_t n = pni_yaml_length(blocks);
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *item = pni_yaml_item(y, blocks, i);
    char path[64];
    pni_yaml_path_index(path, sizeof path, "blocks", (long)i);
    pnas_block_info b;
    if ((st = read_block(y, item, path, channels, &b)) != PNAS_OK) goto fail;
    if ((st = pni_arch_append(arch, &b)) != PNAS_OK) {
      st = pni_arch_error_at(y->ctx, st, y->name, pni_yaml_line(item));
      goto fail;
    }
    channels = b.out_channels;
  }
  if (has_head && head.in_channels != channels) {
    st = pni_yaml_fail(y, pni_yaml_get(y, mix, "in_channels"), "feature_mix_layer.in_channels",
                       "expected %d (the last block's out_channels), got %d", (int)channels,
                       (int)head.in_channels);
    goto fail;
  }
  const int32_t features = has_head ? head.out_channels : channels;
  if (in_features != features) {
    st = pni_yaml_fail(y, pni_yaml_get(y, classifier, "in_features"), "classifier.in_features",
                       "expected %d (the %s's out_channels), got %d", (int)features,
                       has_head ? "feature_mix_layer" : "last block", (int)in_features);
    goto fail;
  }
  *out = arch;
  return PNAS_OK;
fail:
  pni_arch_destroy(arch);
  return st;
}

pnas_status pni_net_config_parse(pnas_context *ctx, const char *name, const char *text, size_t size,
                                 int32_t input_height, int32_t input_width, pnas_arch **out) {
  pni_yaml y;
  pnas_status st = pni_yaml_load(&y, ctx, name, text, size);
  if (st != PNAS_OK) return st;
  st = build(&y, pni_yaml_root(&y), input_height, input_width, out);
  pni_yaml_free(&y);
  return st;
}

pnas_status pni_net_config_import(pnas_context *ctx, const char *path, int32_t input_height,
                                  int32_t input_width, pnas_arch **out) {
  char *text = NULL;
  size_t size = 0;
  pnas_status st = pni_file_read_all(ctx, path, PNI_ARCH_FILE_MAX_BYTES, &text, &size);
  if (st != PNAS_OK) return st;
  st = pni_net_config_parse(ctx, path, text, size, input_height, input_width, out);
  pni_free(ctx, text);
  return st;
}

/* ---- writing ----------------------------------------------------------- */

/* Just enough of a JSON writer to reproduce Python's json.dumps(indent=4),
 * which wrote the official files. */
#define JSON_MAX_DEPTH 8

typedef struct json_writer {
  pni_strbuf *out;
  int depth;
  int count[JSON_MAX_DEPTH];
} json_writer;

static void json_indent(json_writer *w, int depth) {
  for (int i = 0; i < depth; i++) pni_strbuf_append(w->out, "    ", 4);
}

/* Separator, indentation and key of the next member (key NULL: an item). */
static void json_member(json_writer *w, const char *key) {
  if (w->depth == 0) return;
  pni_strbuf_append(w->out, w->count[w->depth] > 0 ? ",\n" : "\n", w->count[w->depth] > 0 ? 2 : 1);
  w->count[w->depth]++;
  json_indent(w, w->depth);
  if (key != NULL) pni_strbuf_printf(w->out, "\"%s\": ", key);
}

static void json_open(json_writer *w, const char *key, char bracket) {
  json_member(w, key);
  pni_strbuf_append(w->out, &bracket, 1);
  w->depth++;
  w->count[w->depth] = 0;
}

static void json_close(json_writer *w, char bracket) {
  if (w->count[w->depth] > 0) {
    pni_strbuf_append(w->out, "\n", 1);
    json_indent(w, w->depth - 1);
  }
  pni_strbuf_append(w->out, &bracket, 1);
  w->depth--;
}

static void json_raw(json_writer *w, const char *key, const char *value) {
  json_member(w, key);
  pni_strbuf_printf(w->out, "%s", value);
}

static void json_int(json_writer *w, const char *key, long long value) {
  json_member(w, key);
  pni_strbuf_printf(w->out, "%lld", value);
}

static void json_string(json_writer *w, const char *key, const char *value) {
  json_member(w, key);
  pni_strbuf_printf(w->out, "\"%s\"", value);
}

static void write_conv(json_writer *w, const char *key, const conv_layer *c) {
  json_open(w, key, '{');
  json_string(w, "name", "ConvLayer");
  json_int(w, "kernel_size", c->kernel);
  json_int(w, "stride", c->stride);
  json_int(w, "dilation", 1);
  json_int(w, "groups", 1);
  json_raw(w, "bias", "false");
  json_raw(w, "has_shuffle", "false");
  json_int(w, "in_channels", c->in_channels);
  json_int(w, "out_channels", c->out_channels);
  json_raw(w, "use_bn", "true");
  json_string(w, "act_func", "relu6");
  json_int(w, "dropout_rate", 0);
  json_string(w, "ops_order", "weight_bn_act");
  json_close(w, '}');
}

static void write_identity(json_writer *w, const char *key, int32_t channels) {
  json_open(w, key, '{');
  json_string(w, "name", "IdentityLayer");
  json_int(w, "in_channels", channels);
  json_int(w, "out_channels", channels);
  json_raw(w, "use_bn", "false");
  json_raw(w, "act_func", "null");
  json_int(w, "dropout_rate", 0);
  json_string(w, "ops_order", "weight_bn_act");
  json_close(w, '}');
}

static void write_block(json_writer *w, const pni_block *b) {
  json_open(w, NULL, '{');
  json_string(w, "name", "MobileInvertedResidualBlock");
  json_open(w, "mobile_inverted_conv", '{');
  if (b->kind == PNAS_BLOCK_IDENTITY) {
    json_string(w, "name", "ZeroLayer");
    json_int(w, "stride", 1);
  } else {
    json_string(w, "name", "MBInvertedConvLayer");
    json_int(w, "in_channels", b->in_channels);
    json_int(w, "out_channels", b->out_channels);
    json_int(w, "kernel_size", b->kernel);
    json_int(w, "stride", b->stride);
    json_int(w, "expand_ratio", b->expand);
  }
  json_close(w, '}');
  if (b->residual) {
    write_identity(w, "shortcut", b->in_channels);
  } else {
    json_raw(w, "shortcut", "null");
  }
  json_close(w, '}');
}

void pni_net_config_format(const pnas_arch *arch, pni_strbuf *out) {
  const pnas_arch_info *in = &arch->info;
  json_writer w;
  memset(&w, 0, sizeof w);
  w.out = out;
  json_open(&w, NULL, '{');
  json_string(&w, "name", "ProxylessNASNets");
  /* The official files record BN's settings here; these are libpnas's
   * defaults (ALGORITHM.md section 1), which are the official ones. */
  json_open(&w, "bn", '{');
  json_raw(&w, "momentum", "0.1");
  json_raw(&w, "eps", "0.001");
  json_close(&w, '}');
  const conv_layer stem = {in->stem_kernel, in->stem_stride, in->input_channels, in->stem_channels};
  write_conv(&w, "first_conv", &stem);
  int32_t h, wd, c;
  pni_arch_features(arch, &h, &wd, &c);
  if (in->head_channels > 0) {
    const conv_layer head = {1, 1, c, in->head_channels};
    write_conv(&w, "feature_mix_layer", &head);
  } else {
    json_raw(&w, "feature_mix_layer", "null");
  }
  char dropout[32];
  pni_format_float(dropout, sizeof dropout, in->dropout);
  json_open(&w, "classifier", '{');
  json_string(&w, "name", "LinearLayer");
  json_int(&w, "in_features", in->head_channels > 0 ? in->head_channels : c);
  json_int(&w, "out_features", in->classes);
  json_raw(&w, "bias", "true");
  json_raw(&w, "use_bn", "false");
  json_raw(&w, "act_func", "null");
  json_raw(&w, "dropout_rate", dropout);
  json_string(&w, "ops_order", "weight_bn_act");
  json_close(&w, '}');
  json_open(&w, "blocks", '[');
  for (int32_t i = 0; i < in->blocks; i++) write_block(&w, &arch->blocks[i]);
  json_close(&w, ']');
  json_close(&w, '}');
}

pnas_status pni_net_config_export(const pnas_arch *arch, const char *path) {
  pnas_context *ctx = arch->ctx;
  pni_strbuf text;
  pni_strbuf_init(&text, ctx);
  pni_net_config_format(arch, &text);
  pnas_status st = pni_strbuf_status(&text);
  if (st == PNAS_OK) st = pni_file_write_atomic(ctx, path, text.data, text.len);
  pni_strbuf_free(&text);
  return st;
}
