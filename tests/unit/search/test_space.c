/* SPDX-License-Identifier: MIT */
/* Search spaces through the public API: the paper's ImageNet space, the
 * shipped Fashion-MNIST space, the builder and its checks, the YAML format
 * and its errors, argument checks, and no leaks on any path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

/* ---- helpers ----------------------------------------------------------- */

/* A file of examples/configs/, found from the fixtures folder. */
static const char *config_path(const char *name) {
  static char path[4][1024];
  static int next = 0;
  const char *root = getenv("PNAS_TEST_DATA");
  ck_assert_msg(root != NULL, "PNAS_TEST_DATA is not set (run through meson test)");
  char *buf = path[next++ % 4];
  snprintf(buf, sizeof path[0], "%s/../../examples/configs/%s", root, name);
  return buf;
}

#define FMNIST_SPACE "fmnist-space.yaml"
#define IMAGENET_SPACE "imagenet-space.yaml"

/* A scratch folder per test, removed with its files by cleanup_dir(). */
static char scratch[256];

static const char *scratch_path(const char *name) {
  static char path[4][512];
  static int next = 0;
  if (scratch[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/pnas-space-XXXXXX", tmp != NULL ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
  }
  char *buf = path[next++ % 4];
  snprintf(buf, sizeof path[0], "%s/%s", scratch, name);
  return buf;
}

static void cleanup_dir(void) {
  if (scratch[0] == '\0') return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
  ck_assert_int_eq(system(cmd), 0);
  scratch[0] = '\0';
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
  ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, NUL-terminated, to be freed with free(). */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  const long n = ftell(f);
  ck_assert_int_ge(n, 0);
  rewind(f);
  char *data = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(data);
  ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  data[n] = '\0';
  return data;
}

static pnas_context *plain_context(void) {
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  o.threads = 1;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

static pnas_space_info info_of(const pnas_space *space) {
  pnas_space_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ck_assert_int_eq(pnas_space_get_info(space, &info), PNAS_OK);
  return info;
}

/* One layer: its shape, and its candidates in ops[] (count in *count). */
static pnas_block_info layer_of(const pnas_space *space, int32_t layer, pnas_op_spec *ops,
                                int32_t *count) {
  pnas_block_info b;
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  pnas_op_spec local[32];
  int32_t n = -1;
  ck_assert_int_eq(pnas_space_get_layer(space, layer, &b, ops != NULL ? ops : local, 32, &n),
                   PNAS_OK);
  ck_assert_int_ge(n, 1);
  if (count != NULL) *count = n;
  return b;
}

static int has_zero(const pnas_space *space, int32_t layer) {
  pnas_op_spec ops[32];
  int32_t n;
  layer_of(space, layer, ops, &n);
  for (int32_t i = 0; i < n; i++) {
    if (ops[i].kind == PNAS_OP_ZERO) return 1;
  }
  return 0;
}

static void assert_shape(const pnas_block_info *b, int32_t ih, int32_t iw, int32_t ic, int32_t oh,
                         int32_t ow, int32_t oc, int32_t stride, int32_t residual) {
  ck_assert_int_eq(b->kind, PNAS_BLOCK_MBCONV);
  ck_assert_int_eq(b->kernel, 0);
  ck_assert_int_eq(b->expand, 0);
  ck_assert_int_eq(b->in_height, ih);
  ck_assert_int_eq(b->in_width, iw);
  ck_assert_int_eq(b->in_channels, ic);
  ck_assert_int_eq(b->out_height, oh);
  ck_assert_int_eq(b->out_width, ow);
  ck_assert_int_eq(b->out_channels, oc);
  ck_assert_int_eq(b->stride, stride);
  ck_assert_int_eq(b->residual, residual);
  ck_assert_int_eq(b->macs, 0);
  ck_assert_int_eq(b->params, 0);
}

/* Every field of the settings, and every layer's shape and candidates. */
static void assert_same_space(const pnas_space *a, const pnas_space *b) {
  const pnas_space_info x = info_of(a), y = info_of(b);
  ck_assert_int_eq(x.input_height, y.input_height);
  ck_assert_int_eq(x.input_width, y.input_width);
  ck_assert_int_eq(x.input_channels, y.input_channels);
  ck_assert_int_eq(x.classes, y.classes);
  ck_assert_int_eq(x.stem_channels, y.stem_channels);
  ck_assert_int_eq(x.stem_kernel, y.stem_kernel);
  ck_assert_int_eq(x.stem_stride, y.stem_stride);
  ck_assert_int_eq(x.first_block_channels, y.first_block_channels);
  ck_assert_int_eq(x.head_channels, y.head_channels);
  ck_assert_msg(memcmp(&x.dropout, &y.dropout, sizeof x.dropout) == 0, "dropout %.9g vs %.9g",
                (double)x.dropout, (double)y.dropout);
  ck_assert_int_eq(x.stages, y.stages);
  ck_assert_int_eq(x.layers, y.layers);
  for (int32_t l = 0; l < x.layers; l++) {
    pnas_op_spec p_ops[32], q_ops[32];
    int32_t pn, qn;
    const pnas_block_info p = layer_of(a, l, p_ops, &pn), q = layer_of(b, l, q_ops, &qn);
    ck_assert_msg(memcmp(&p, &q, sizeof p) == 0, "layer %d: shapes differ", (int)l);
    ck_assert_int_eq(pn, qn);
    for (int32_t i = 0; i < pn; i++) {
      ck_assert_int_eq(p_ops[i].kind, q_ops[i].kind);
      ck_assert_int_eq(p_ops[i].kernel, q_ops[i].kernel);
      ck_assert_int_eq(p_ops[i].expand, q_ops[i].expand);
    }
  }
}

static void assert_error(pnas_context *ctx, pnas_status got, pnas_status expected,
                         const char *needle) {
  ck_assert_msg(got == expected, "status %s, expected %s; message: %s", pnas_status_string(got),
                pnas_status_string(expected), pnas_context_last_error(ctx));
  ck_assert_int_eq(pnas_context_last_status(ctx), expected);
  ck_assert_msg(strstr(pnas_context_last_error(ctx), needle) != NULL, "message '%s' lacks '%s'",
                pnas_context_last_error(ctx), needle);
}

static pnas_space *const SENTINEL = (pnas_space *)(uintptr_t)0x1234;

/* Parses text that must fail with `expected`, the message containing each
 * needle; nothing leaks and the out-parameter is untouched. */
static void expect_parse_error(const char *text, pnas_status expected, const char *needle,
                               const char *needle2) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  pnas_space *space = SENTINEL;
  assert_error(ctx, pnas_space_parse_yaml(ctx, text, strlen(text), &space), expected, needle);
  if (needle2 != NULL) {
    ck_assert_msg(strstr(pnas_context_last_error(ctx), needle2) != NULL, "message '%s' lacks '%s'",
                  pnas_context_last_error(ctx), needle2);
  }
  ck_assert_ptr_eq(space, SENTINEL);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
}

static pnas_space *parse(pnas_context *ctx, const char *text) {
  pnas_space *space = NULL;
  const pnas_status st = pnas_space_parse_yaml(ctx, text, strlen(text), &space);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  return space;
}

static pnas_space *load(pnas_context *ctx, const char *path) {
  pnas_space *space = NULL;
  const pnas_status st = pnas_space_load_yaml(ctx, path, &space);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  return space;
}

/* The six MBConv candidates of the paper, in the official order, then zero. */
static const pnas_op_spec PAPER_OPS[7] = {
    {PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_MBCONV, 3, 6}, {PNAS_OP_MBCONV, 5, 3}, {PNAS_OP_MBCONV, 5, 6},
    {PNAS_OP_MBCONV, 7, 3}, {PNAS_OP_MBCONV, 7, 6}, {PNAS_OP_ZERO, 0, 0}};

static void assert_paper_ops(const pnas_space *space, int32_t layer, int zero) {
  pnas_op_spec ops[32];
  int32_t n;
  layer_of(space, layer, ops, &n);
  ck_assert_int_eq(n, zero ? 7 : 6);
  for (int32_t i = 0; i < n; i++) {
    ck_assert_int_eq(ops[i].kind, PAPER_OPS[i].kind);
    ck_assert_int_eq(ops[i].kernel, PAPER_OPS[i].kernel);
    ck_assert_int_eq(ops[i].expand, PAPER_OPS[i].expand);
  }
}

static const char SMALL_YAML[] =
    "format: pnas-space/1\n"
    "input: [28, 28, 1]\n"
    "classes: 10\n"
    "stem: {channels: 16, kernel: 3, stride: 1}\n"
    "first_block: {channels: 8}\n"
    "stages:\n"
    "  - {width: 24, depth: 2, stride: 2, ops: [mbconv3x3_e3, mbconv5x5_e6, zero]}\n"
    "head: {channels: 64}\n"
    "dropout: 0.25\n";

/* ---- the paper's ImageNet space ----------------------------------------- */

START_TEST(default_space_layout) {
  pnas_context *ctx = plain_context();
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create_default(ctx, &space), PNAS_OK);
  const pnas_space_info info = info_of(space);
  ck_assert_int_eq(info.input_height, 224);
  ck_assert_int_eq(info.input_width, 224);
  ck_assert_int_eq(info.input_channels, 3);
  ck_assert_int_eq(info.classes, 1000);
  ck_assert_int_eq(info.stem_channels, 32);
  ck_assert_int_eq(info.stem_kernel, 3);
  ck_assert_int_eq(info.stem_stride, 2);
  ck_assert_int_eq(info.first_block_channels, 16);
  ck_assert_int_eq(info.head_channels, 1280);
  ck_assert(info.dropout == 0.0f);
  ck_assert_int_eq(info.stages, 6);
  ck_assert_int_eq(info.layers, 21);

  /* 15 layers with zero (7 candidates), 6 first layers without (6). */
  int with_zero = 0, without = 0;
  static const int first_layers[] = {0, 4, 8, 12, 16, 20};
  for (int32_t l = 0; l < 21; l++) {
    int first = 0;
    for (size_t i = 0; i < 6; i++) first |= first_layers[i] == l;
    const int zero = has_zero(space, l);
    ck_assert_int_eq(zero, !first);
    assert_paper_ops(space, l, zero);
    with_zero += zero;
    without += !zero;
  }
  ck_assert_int_eq(with_zero, 15);
  ck_assert_int_eq(without, 6);

  pnas_block_info b = layer_of(space, 0, NULL, NULL);
  assert_shape(&b, 112, 112, 16, 56, 56, 24, 2, 0);
  b = layer_of(space, 1, NULL, NULL);
  assert_shape(&b, 56, 56, 24, 56, 56, 24, 1, 1);
  b = layer_of(space, 4, NULL, NULL);
  assert_shape(&b, 56, 56, 24, 28, 28, 40, 2, 0);
  b = layer_of(space, 8, NULL, NULL);
  assert_shape(&b, 28, 28, 40, 14, 14, 80, 2, 0);
  /* Stage 3 keeps the size (stride 1) but widens: no residual, no zero. */
  b = layer_of(space, 12, NULL, NULL);
  assert_shape(&b, 14, 14, 80, 14, 14, 96, 1, 0);
  b = layer_of(space, 15, NULL, NULL);
  assert_shape(&b, 14, 14, 96, 14, 14, 96, 1, 1);
  b = layer_of(space, 16, NULL, NULL);
  assert_shape(&b, 14, 14, 96, 7, 7, 192, 2, 0);
  b = layer_of(space, 20, NULL, NULL);
  assert_shape(&b, 7, 7, 192, 7, 7, 320, 1, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(info_init_gives_the_paper_defaults) {
  pnas_space_info info;
  memset(&info, 0x5a, sizeof info);
  ck_assert_int_eq(pnas_space_info_init(&info), PNAS_OK);
  ck_assert_uint_eq(info.struct_size, sizeof info);
  ck_assert_int_eq(info.input_height, 224);
  ck_assert_int_eq(info.input_width, 224);
  ck_assert_int_eq(info.input_channels, 3);
  ck_assert_int_eq(info.classes, 1000);
  ck_assert_int_eq(info.stem_channels, 32);
  ck_assert_int_eq(info.stem_kernel, 3);
  ck_assert_int_eq(info.stem_stride, 2);
  ck_assert_int_eq(info.first_block_channels, 16);
  ck_assert_int_eq(info.head_channels, 1280);
  ck_assert(info.dropout == 0.0f);
  ck_assert_int_eq(info.stages, 0);
  ck_assert_int_eq(info.layers, 0);
  ck_assert_int_eq(pnas_space_info_init_sized(NULL, sizeof info), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_space_info_init_sized(&info, 8), PNAS_ERR_INVALID_ARGUMENT);

  /* The defaults plus the paper's stages give the default space. */
  pnas_context *ctx = plain_context();
  pnas_space_info_init(&info);
  pnas_space *built = NULL, *def = NULL;
  ck_assert_int_eq(pnas_space_create(ctx, &info, &built), PNAS_OK);
  static const int32_t widths[] = {24, 40, 80, 96, 192, 320}, depths[] = {4, 4, 4, 4, 4, 1},
                       strides[] = {2, 2, 2, 1, 2, 1};
  for (int s = 0; s < 6; s++) {
    ck_assert_int_eq(pnas_space_add_stage(built, widths[s], depths[s], strides[s], PAPER_OPS, 7, 0),
                     PNAS_OK);
  }
  ck_assert_int_eq(pnas_space_create_default(ctx, &def), PNAS_OK);
  assert_same_space(built, def);
  pnas_space_destroy(built);
  pnas_space_destroy(def);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- the shipped spaces -------------------------------------------------- */

START_TEST(fmnist_space_loads) {
  pnas_context *ctx = plain_context();
  pnas_space *space = load(ctx, config_path(FMNIST_SPACE));
  const pnas_space_info info = info_of(space);
  ck_assert_int_eq(info.input_height, 28);
  ck_assert_int_eq(info.input_width, 28);
  ck_assert_int_eq(info.input_channels, 1);
  ck_assert_int_eq(info.classes, 10);
  ck_assert_int_eq(info.stem_channels, 16);
  ck_assert_int_eq(info.stem_kernel, 3);
  ck_assert_int_eq(info.stem_stride, 1);
  ck_assert_int_eq(info.first_block_channels, 8);
  ck_assert_int_eq(info.head_channels, 256);
  ck_assert(info.dropout == 0.0f);
  ck_assert_int_eq(info.stages, 4);
  ck_assert_int_eq(info.layers, 8);
  int with_zero = 0;
  for (int32_t l = 0; l < 8; l++) {
    const int zero = has_zero(space, l);
    ck_assert_int_eq(zero, l % 2 == 1);
    assert_paper_ops(space, l, zero);
    with_zero += zero;
  }
  ck_assert_int_eq(with_zero, 4);
  pnas_block_info b = layer_of(space, 0, NULL, NULL);
  assert_shape(&b, 28, 28, 8, 14, 14, 24, 2, 0);
  b = layer_of(space, 1, NULL, NULL);
  assert_shape(&b, 14, 14, 24, 14, 14, 24, 1, 1);
  b = layer_of(space, 2, NULL, NULL);
  assert_shape(&b, 14, 14, 24, 7, 7, 40, 2, 0);
  b = layer_of(space, 4, NULL, NULL);
  assert_shape(&b, 7, 7, 40, 7, 7, 80, 1, 0);
  b = layer_of(space, 6, NULL, NULL);
  assert_shape(&b, 7, 7, 80, 7, 7, 96, 1, 0);
  b = layer_of(space, 7, NULL, NULL);
  assert_shape(&b, 7, 7, 96, 7, 7, 96, 1, 1);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(imagenet_yaml_equals_the_default_space) {
  pnas_context *ctx = plain_context();
  pnas_space *file = load(ctx, config_path(IMAGENET_SPACE));
  pnas_space *def = NULL;
  ck_assert_int_eq(pnas_space_create_default(ctx, &def), PNAS_OK);
  assert_same_space(file, def);
  pnas_space_destroy(file);
  pnas_space_destroy(def);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- the builder --------------------------------------------------------- */

static pnas_space *small_space(pnas_context *ctx) {
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = 32;
  info.input_width = 24;
  info.input_channels = 3;
  info.classes = 10;
  info.stem_channels = 16;
  info.stem_stride = 1;
  info.first_block_channels = 0;
  info.head_channels = 0;
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create(ctx, &info, &space), PNAS_OK);
  return space;
}

START_TEST(builder_shapes_and_zero_placement) {
  pnas_context *ctx = plain_context();
  pnas_space *space = small_space(ctx);
  ck_assert_int_eq(info_of(space).layers, 0);
  ck_assert_int_eq(info_of(space).stages, 0);
  /* Without a first block, the first layer reads the stem's output. Zero is
   * dropped from the strided first layer (zero_on_first 0). */
  ck_assert_int_eq(pnas_space_add_stage(space, 24, 2, 2, PAPER_OPS, 7, 0), PNAS_OK);
  pnas_block_info b = layer_of(space, 0, NULL, NULL);
  assert_shape(&b, 32, 24, 16, 16, 12, 24, 2, 0);
  ck_assert(!has_zero(space, 0));
  ck_assert(has_zero(space, 1));
  /* Same width, stride 1: the first layer has a residual, so zero stays
   * even in strict mode. */
  const pnas_op_spec ops[2] = {{PNAS_OP_ZERO, 99, 99}, {PNAS_OP_MBCONV, 7, 1}};
  ck_assert_int_eq(pnas_space_add_stage(space, 24, 1, 1, ops, 2, 1), PNAS_OK);
  pnas_op_spec got[32];
  int32_t n;
  b = layer_of(space, 2, got, &n);
  assert_shape(&b, 16, 12, 24, 16, 12, 24, 1, 1);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(got[0].kind, PNAS_OP_ZERO);
  ck_assert_int_eq(got[0].kernel, 0); /* zero's kernel and expand are cleared */
  ck_assert_int_eq(got[0].expand, 0);
  ck_assert_int_eq(got[1].kernel, 7);
  ck_assert_int_eq(got[1].expand, 1);
  /* An odd size halves rounding up, as a padded conv does. */
  ck_assert_int_eq(pnas_space_add_stage(space, 8, 3, 2, PAPER_OPS, 6, 0), PNAS_OK);
  b = layer_of(space, 3, NULL, NULL);
  assert_shape(&b, 16, 12, 24, 8, 6, 8, 2, 0);
  ck_assert_int_eq(pnas_space_add_stage(space, 8, 1, 2, PAPER_OPS, 1, 0), PNAS_OK);
  b = layer_of(space, 6, NULL, NULL);
  assert_shape(&b, 8, 6, 8, 4, 3, 8, 2, 0);
  ck_assert_int_eq(pnas_space_add_stage(space, 8, 1, 2, PAPER_OPS, 1, 0), PNAS_OK);
  b = layer_of(space, 7, NULL, NULL);
  assert_shape(&b, 4, 3, 8, 2, 2, 8, 2, 0);
  const pnas_space_info info = info_of(space);
  ck_assert_int_eq(info.stages, 5);
  ck_assert_int_eq(info.layers, 8);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(builder_rejects_bad_stages) {
  pnas_context *ctx = plain_context();
  pnas_space *space = small_space(ctx);
  ck_assert_int_eq(pnas_space_add_stage(space, 24, 2, 2, PAPER_OPS, 7, 0), PNAS_OK);
  /* Stage 1 is the one being added below; each failure leaves the space
   * as it was. */
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, PAPER_OPS, 7, 1),
               PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: zero is not allowed on a layer without a residual (stride 2 or "
               "a width change)");
  /* A width change without a stride is no residual either. */
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 1, PAPER_OPS, 7, 1),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1 layer 0: zero is not allowed");
  assert_error(ctx, pnas_space_add_stage(space, 0, 2, 2, PAPER_OPS, 6, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1: width is 0");
  assert_error(ctx, pnas_space_add_stage(space, 70000, 2, 2, PAPER_OPS, 6, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1: width is 70000");
  assert_error(ctx, pnas_space_add_stage(space, 40, 0, 2, PAPER_OPS, 6, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1: depth is 0");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 3, PAPER_OPS, 6, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1: stride is 3; it must be 1 or 2");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, PAPER_OPS, 6, 2),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1: zero_on_first is 2");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, PAPER_OPS, 0, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1 layer 0: the candidate list is empty");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, NULL, 0, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: the candidate list is empty");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, NULL, 3, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1: ops is NULL");
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, &PAPER_OPS[6], 1, 0),
               PNAS_ERR_INVALID_ARGUMENT, "stage 1 layer 0: the only candidate is zero");
  /* Only zero is an error even where zero would be allowed. */
  assert_error(ctx, pnas_space_add_stage(space, 24, 2, 1, &PAPER_OPS[6], 1, 0),
               PNAS_ERR_INVALID_ARGUMENT, "the only candidate is zero");

  pnas_op_spec ops[40];
  memcpy(ops, PAPER_OPS, sizeof PAPER_OPS);
  ops[2] = ops[0];
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 7, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: duplicate op mbconv3x3_e3 (ops[2] repeats ops[0])");
  memcpy(ops, PAPER_OPS, sizeof PAPER_OPS);
  ops[7] = ops[6];
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 8, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: duplicate op zero");
  memcpy(ops, PAPER_OPS, sizeof PAPER_OPS);
  ops[1].kind = (pnas_op_kind)7;
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 7, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: ops[1].kind is 7");
  memcpy(ops, PAPER_OPS, sizeof PAPER_OPS);
  ops[3].kernel = 4;
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 7, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: ops[3].kernel is 4; it must be 3, 5 or 7");
  memcpy(ops, PAPER_OPS, sizeof PAPER_OPS);
  ops[4].expand = 0;
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 7, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: ops[4].expand is 0");
  ops[4].expand = 65;
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 7, 0), PNAS_ERR_INVALID_ARGUMENT,
               "ops[4].expand is 65");
  /* More than the most a layer may have (all distinct). */
  for (int i = 0; i < 40; i++) {
    ops[i].kind = PNAS_OP_MBCONV;
    ops[i].kernel = 3 + 2 * (i % 3);
    ops[i].expand = 1 + i / 3;
  }
  assert_error(ctx, pnas_space_add_stage(space, 40, 2, 2, ops, 33, 0), PNAS_ERR_INVALID_ARGUMENT,
               "stage 1 layer 0: 33 candidate ops; a layer may have at most 32");
  ck_assert_int_eq(pnas_space_add_stage(space, 40, 1, 2, ops, 32, 0), PNAS_OK);

  const pnas_space_info info = info_of(space);
  ck_assert_int_eq(info.stages, 2);
  ck_assert_int_eq(info.layers, 3);
  pnas_block_info b = layer_of(space, 2, NULL, NULL);
  assert_shape(&b, 16, 12, 24, 8, 6, 40, 2, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(create_rejects_bad_settings) {
  pnas_context *ctx = plain_context();
  pnas_space_info info;
  pnas_space *space = SENTINEL;
#define BAD(member, value, needle)                                                               \
  do {                                                                                           \
    pnas_space_info_init(&info);                                                                 \
    info.member = value;                                                                         \
    assert_error(ctx, pnas_space_create(ctx, &info, &space), PNAS_ERR_INVALID_ARGUMENT, needle); \
    ck_assert_ptr_eq(space, SENTINEL);                                                           \
  } while (0)
  BAD(input_height, 0, "input_height is 0");
  BAD(input_width, 70000, "input_width is 70000");
  BAD(input_channels, -1, "input_channels is -1");
  BAD(classes, 1, "classes is 1");
  BAD(stem_channels, 0, "stem_channels is 0");
  BAD(stem_kernel, 4, "stem_kernel is 4");
  BAD(stem_stride, 3, "stem_stride is 3");
  BAD(first_block_channels, -1, "first_block_channels is -1");
  BAD(head_channels, -2, "head_channels is -2");
  BAD(dropout, 1.0f, "dropout is 1");
#undef BAD
  pnas_space_info_init(&info);
  info.struct_size = 4;
  assert_error(ctx, pnas_space_create(ctx, &info, &space), PNAS_ERR_INVALID_ARGUMENT,
               "struct_size is 4");
  ck_assert_ptr_eq(space, SENTINEL);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(struct_sizes_are_respected) {
  /* A caller compiled against a newer header has a bigger struct: the tail
   * is zeroed and nothing past struct_size is written. */
  union {
    pnas_space_info info;
    unsigned char bytes[sizeof(pnas_space_info) + 32];
  } big;
  const size_t bigger = sizeof(pnas_space_info) + 16;
  memset(big.bytes, 0x5a, sizeof big.bytes);
  ck_assert_int_eq(pnas_space_info_init_sized(&big.info, bigger), PNAS_OK);
  ck_assert_uint_eq(big.info.struct_size, bigger);
  ck_assert_int_eq(big.info.classes, 1000);
  for (size_t i = sizeof(pnas_space_info); i < bigger; i++) ck_assert_uint_eq(big.bytes[i], 0);
  for (size_t i = bigger; i < sizeof big.bytes; i++) ck_assert_uint_eq(big.bytes[i], 0x5a);

  pnas_context *ctx = plain_context();
  pnas_space *space = NULL;
  /* The bigger struct is accepted by create; its tail is ignored. */
  big.info.classes = 7;
  memset(big.bytes + sizeof(pnas_space_info), 0x77, 16);
  ck_assert_int_eq(pnas_space_create(ctx, &big.info, &space), PNAS_OK);
  ck_assert_int_eq(info_of(space).classes, 7);
  pnas_space_destroy(space);

  ck_assert_int_eq(pnas_space_create_default(ctx, &space), PNAS_OK);
  memset(big.bytes, 0x5a, sizeof big.bytes);
  memcpy(big.bytes, &bigger, sizeof bigger);
  ck_assert_int_eq(pnas_space_get_info(space, &big.info), PNAS_OK);
  ck_assert_uint_eq(big.info.struct_size, bigger);
  ck_assert_int_eq(big.info.layers, 21);
  for (size_t i = sizeof(pnas_space_info); i < bigger; i++) ck_assert_uint_eq(big.bytes[i], 0);
  for (size_t i = bigger; i < sizeof big.bytes; i++) ck_assert_uint_eq(big.bytes[i], 0x5a);

  union {
    pnas_block_info block;
    unsigned char bytes[sizeof(pnas_block_info) + 32];
  } bbig;
  const size_t bbigger = sizeof(pnas_block_info) + 8;
  memset(bbig.bytes, 0x5a, sizeof bbig.bytes);
  memcpy(bbig.bytes, &bbigger, sizeof bbigger);
  ck_assert_int_eq(pnas_space_get_layer(space, 0, &bbig.block, NULL, 0, NULL), PNAS_OK);
  ck_assert_uint_eq(bbig.block.struct_size, bbigger);
  ck_assert_int_eq(bbig.block.out_channels, 24);
  for (size_t i = sizeof(pnas_block_info); i < bbigger; i++) ck_assert_uint_eq(bbig.bytes[i], 0);
  for (size_t i = bbigger; i < sizeof bbig.bytes; i++) ck_assert_uint_eq(bbig.bytes[i], 0x5a);

  /* Too small to be any published layout. */
  pnas_space_info small;
  memset(&small, 0, sizeof small);
  small.struct_size = 8;
  assert_error(ctx, pnas_space_get_info(space, &small), PNAS_ERR_INVALID_ARGUMENT,
               "struct_size is 8");
  pnas_block_info bsmall;
  memset(&bsmall, 0, sizeof bsmall);
  bsmall.struct_size = 8;
  assert_error(ctx, pnas_space_get_layer(space, 0, &bsmall, NULL, 0, NULL),
               PNAS_ERR_INVALID_ARGUMENT, "struct_size is 8");
  ck_assert_int_eq(bsmall.in_channels, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(get_layer_copies_up_to_the_capacity) {
  pnas_context *ctx = plain_context();
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create_default(ctx, &space), PNAS_OK);
  pnas_block_info b;
  pnas_block_info_init(&b);
  pnas_op_spec ops[3];
  memset(ops, 0x5a, sizeof ops);
  int32_t n = -1;
  ck_assert_int_eq(pnas_space_get_layer(space, 1, &b, ops, 2, &n), PNAS_OK);
  ck_assert_int_eq(n, 7); /* the full count, though only 2 were copied */
  ck_assert_int_eq(ops[0].kernel, 3);
  ck_assert_int_eq(ops[0].expand, 3);
  ck_assert_int_eq(ops[1].kernel, 3);
  ck_assert_int_eq(ops[1].expand, 6);
  const unsigned char *tail = (const unsigned char *)&ops[2];
  for (size_t i = 0; i < sizeof ops[2]; i++) ck_assert_uint_eq(tail[i], 0x5a);
  /* Only the count, only the shape. */
  n = -1;
  ck_assert_int_eq(pnas_space_get_layer(space, 20, &b, NULL, 0, &n), PNAS_OK);
  ck_assert_int_eq(n, 6);
  ck_assert_int_eq(pnas_space_get_layer(space, 20, &b, NULL, 5, NULL), PNAS_OK);
  ck_assert_int_eq(b.out_channels, 320);
  ck_assert_int_eq(pnas_space_get_layer(space, 20, &b, ops, 0, NULL), PNAS_OK);
  /* Failures leave the outputs alone. */
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  n = -1;
  assert_error(ctx, pnas_space_get_layer(space, 21, &b, ops, 3, &n), PNAS_ERR_INVALID_ARGUMENT,
               "layer 21 is out of range; the space has 21 layers");
  assert_error(ctx, pnas_space_get_layer(space, -1, &b, ops, 3, &n), PNAS_ERR_INVALID_ARGUMENT,
               "layer -1 is out of range");
  assert_error(ctx, pnas_space_get_layer(space, 0, &b, ops, -1, &n), PNAS_ERR_INVALID_ARGUMENT,
               "ops_capacity is -1");
  ck_assert_int_eq(n, -1);
  ck_assert_int_eq(b.out_channels, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(null_arguments_and_wrong_handles) {
  pnas_context *ctx = plain_context();
  pnas_space_info info;
  pnas_space_info_init(&info);
  pnas_block_info block;
  pnas_block_info_init(&block);
  pnas_space *space = SENTINEL;
  const char *yaml = config_path(FMNIST_SPACE);

  ck_assert_int_eq(pnas_space_create(NULL, &info, &space), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_space_create(ctx, NULL, &space), PNAS_ERR_INVALID_ARGUMENT,
               "info is NULL");
  assert_error(ctx, pnas_space_create(ctx, &info, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_space is NULL");
  ck_assert_int_eq(pnas_space_create_default(NULL, &space), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_space_create_default(ctx, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_space is NULL");
  ck_assert_int_eq(pnas_space_load_yaml(NULL, yaml, &space), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_space_load_yaml(ctx, NULL, &space), PNAS_ERR_INVALID_ARGUMENT,
               "path is NULL");
  assert_error(ctx, pnas_space_load_yaml(ctx, yaml, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_space is NULL");
  ck_assert_int_eq(pnas_space_parse_yaml(NULL, "x", 1, &space), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_space_parse_yaml(ctx, NULL, 0, &space), PNAS_ERR_INVALID_ARGUMENT,
               "text is NULL");
  assert_error(ctx, pnas_space_parse_yaml(ctx, SMALL_YAML, strlen(SMALL_YAML), NULL),
               PNAS_ERR_INVALID_ARGUMENT, "out_space is NULL");
  ck_assert_ptr_eq(space, SENTINEL);

  ck_assert_int_eq(pnas_space_add_stage(NULL, 8, 1, 1, PAPER_OPS, 6, 0), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_space_save_yaml(NULL, "x.yaml"), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_space_get_info(NULL, &info), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_space_get_layer(NULL, 0, &block, NULL, 0, NULL), PNAS_ERR_INVALID_ARGUMENT);
  pnas_space_destroy(NULL);

  pnas_space *real = parse(ctx, SMALL_YAML);
  assert_error(ctx, pnas_space_save_yaml(real, NULL), PNAS_ERR_INVALID_ARGUMENT, "path is NULL");
  assert_error(ctx, pnas_space_get_info(real, NULL), PNAS_ERR_INVALID_ARGUMENT, "out_info is NULL");
  assert_error(ctx, pnas_space_get_layer(real, 0, NULL, NULL, 0, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_block is NULL");

  /* Something that is not a space: a context, and an architecture. */
  pnas_space *wrong = (pnas_space *)(void *)ctx;
  ck_assert_int_eq(pnas_space_add_stage(wrong, 8, 1, 1, PAPER_OPS, 6, 0), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_get_info(wrong, &info), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_get_layer(wrong, 0, &block, NULL, 0, NULL), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_save_yaml(wrong, "x.yaml"), PNAS_ERR_WRONG_HANDLE);
  pnas_space_destroy(wrong); /* ignored */
  pnas_arch_info ainfo;
  pnas_arch_info_init(&ainfo);
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &ainfo, &arch), PNAS_OK);
  wrong = (pnas_space *)(void *)arch;
  ck_assert_int_eq(pnas_space_get_info(wrong, &info), PNAS_ERR_WRONG_HANDLE);
  pnas_space_destroy(wrong); /* ignored */
  pnas_arch_destroy(arch);
  /* A context that is not one. */
  pnas_context *not_ctx = (pnas_context *)(void *)real;
  ck_assert_int_eq(pnas_space_create_default(not_ctx, &space), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_create(not_ctx, &info, &space), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_parse_yaml(not_ctx, "x", 1, &space), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_space_load_yaml(not_ctx, yaml, &space), PNAS_ERR_WRONG_HANDLE);
  ck_assert_ptr_eq(space, SENTINEL);
  ck_assert_int_eq(pnas_context_get_threads(ctx, &(int32_t){0}), PNAS_OK);
  pnas_space_destroy(real);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- YAML ---------------------------------------------------------------- */

START_TEST(yaml_parse_small_example) {
  pnas_context *ctx = plain_context();
  pnas_space *space = parse(ctx, SMALL_YAML);
  const pnas_space_info info = info_of(space);
  ck_assert_int_eq(info.first_block_channels, 8);
  ck_assert_int_eq(info.head_channels, 64);
  ck_assert(info.dropout == 0.25f);
  ck_assert_int_eq(info.layers, 2);
  pnas_op_spec ops[32];
  int32_t n;
  layer_of(space, 0, ops, &n);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(ops[1].kind, PNAS_OP_MBCONV);
  ck_assert_int_eq(ops[1].kernel, 5);
  ck_assert_int_eq(ops[1].expand, 6);
  layer_of(space, 1, ops, &n);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(ops[2].kind, PNAS_OP_ZERO);
  pnas_space_destroy(space);

  /* Optional parts omitted: no first block, no head conv, dropout 0; the
   * official op names are read too. */
  space = parse(ctx,
                "format: pnas-space/1\n"
                "input: [16, 16, 3]\n"
                "classes: 4\n"
                "stem: {channels: 8, kernel: 3, stride: 2}\n"
                "stages:\n"
                "  - width: 8\n"
                "    depth: 2\n"
                "    stride: 1\n"
                "    ops: [3x3_MBConv3, 7x7_MBConv6, Zero]\n");
  const pnas_space_info i2 = info_of(space);
  ck_assert_int_eq(i2.first_block_channels, 0);
  ck_assert_int_eq(i2.head_channels, 0);
  ck_assert(i2.dropout == 0.0f);
  /* 8 -> 8 at stride 1: the first layer has a residual and keeps zero. */
  pnas_block_info b = layer_of(space, 0, ops, &n);
  assert_shape(&b, 8, 8, 8, 8, 8, 8, 1, 1);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(ops[1].kernel, 7);
  ck_assert_int_eq(ops[1].expand, 6);
  ck_assert_int_eq(ops[2].kind, PNAS_OP_ZERO);
  pnas_space_destroy(space);

  /* An empty stage list is a space with no layers yet. */
  space = parse(ctx,
                "format: pnas-space/1\ninput: [16, 16, 3]\nclasses: 4\n"
                "stem: {channels: 8, kernel: 3, stride: 2}\nstages: []\n");
  ck_assert_int_eq(info_of(space).layers, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(yaml_round_trip) {
  pnas_context *ctx = plain_context();
  pnas_space *spaces[4];
  ck_assert_int_eq(pnas_space_create_default(ctx, &spaces[0]), PNAS_OK);
  spaces[1] = load(ctx, config_path(FMNIST_SPACE));
  spaces[2] = parse(ctx, SMALL_YAML);
  /* Odd settings: a dropout that needs 9 digits, no stages, no head. */
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.dropout = 0.1f;
  info.first_block_channels = 0;
  info.head_channels = 0;
  ck_assert_int_eq(pnas_space_create(ctx, &info, &spaces[3]), PNAS_OK);
  for (int i = 0; i < 4; i++) {
    const char *first = scratch_path("first.yaml");
    const char *second = scratch_path("second.yaml");
    ck_assert_int_eq(pnas_space_save_yaml(spaces[i], first), PNAS_OK);
    pnas_space *back = load(ctx, first);
    assert_same_space(spaces[i], back);
    ck_assert_int_eq(pnas_space_save_yaml(back, second), PNAS_OK);
    char *a = read_file(first), *b = read_file(second);
    ck_assert_str_eq(a, b);
    if (i == 1) {
      ck_assert_ptr_nonnull(strstr(a, "first_block: {channels: 8}\n"));
      ck_assert_ptr_nonnull(strstr(a, "# stage 0, layers 0 to 1: 28x28x8 -> 14x14x24\n"));
      ck_assert_ptr_nonnull(
          strstr(a,
                 "  - {width: 24, depth: 2, stride: 2, ops: [mbconv3x3_e3, mbconv3x3_e6, "
                 "mbconv5x5_e3, mbconv5x5_e6, mbconv7x7_e3, mbconv7x7_e6, zero]}\n"));
    }
    if (i == 3) {
      ck_assert_ptr_nonnull(strstr(a, "stages: []\n"));
      ck_assert_ptr_null(strstr(a, "first_block"));
      ck_assert_ptr_nonnull(strstr(a, "dropout: 0.1\n"));
    }
    free(a);
    free(b);
    pnas_space_destroy(back);
    pnas_space_destroy(spaces[i]);
  }
  /* A folder that does not exist. */
  pnas_space *space = parse(ctx, SMALL_YAML);
  assert_error(ctx, pnas_space_save_yaml(space, scratch_path("no/such/dir/x.yaml")), PNAS_ERR_IO,
               "no/such/dir");
  pnas_space_destroy(space);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(yaml_syntax_error_names_the_line) {
  expect_parse_error("format: pnas-space/1\ninput: [28, 28, 1\nclasses: 10\n", PNAS_ERR_PARSE,
                     "<string>:", "YAML syntax error");
  expect_parse_error("format: pnas-space/1\nclasses: 10\n  bad: 1\n", PNAS_ERR_PARSE,
                     "<string>:3: YAML syntax error", NULL);
  expect_parse_error("", PNAS_ERR_PARSE, "<string>:1: the document is empty", NULL);
}
END_TEST

#define HEAD_YAML          \
  "format: pnas-space/1\n" \
  "input: [28, 28, 1]\n"   \
  "classes: 10\n"          \
  "stem: {channels: 16, kernel: 3, stride: 1}\n"

START_TEST(yaml_key_and_value_errors) {
  expect_parse_error(HEAD_YAML "stagse: []\n", PNAS_ERR_PARSE,
                     "<string>:5: stagse: unknown key (expected one of: format, input, classes, "
                     "stem, first_block, stages, head, dropout)",
                     NULL);
  expect_parse_error(HEAD_YAML "head: {channels: 8}\n", PNAS_ERR_PARSE,
                     "<string>:1: missing key 'stages'", NULL);
  expect_parse_error("format: pnas-arch/1\n", PNAS_ERR_PARSE,
                     "<string>:1: format: expected pnas-space/1, got pnas-arch/1", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, opz: []}\n",
                     PNAS_ERR_PARSE, "<string>:6: stages[0].opz: unknown key", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1}\n", PNAS_ERR_PARSE,
                     "<string>:6: stages[0]: missing key 'ops'", NULL);
  expect_parse_error(
      HEAD_YAML "stages:\n  - {width: 0, depth: 1, stride: 1, ops: [zero]}\n", PNAS_ERR_PARSE,
      "<string>:6: stages[0].width: expected an integer from 1 to 65536, got 0", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 3, ops: [zero]}\n",
                     PNAS_ERR_PARSE, "stages[0].stride: expected an integer from 1 to 2, got 3",
                     NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, ops: zero}\n",
                     PNAS_ERR_PARSE, "<string>:6: stages[0].ops: expected a sequence, got zero",
                     NULL);
  expect_parse_error(HEAD_YAML "stages: {width: 8}\n", PNAS_ERR_PARSE,
                     "<string>:5: stages: expected a sequence, got a mapping", NULL);
  expect_parse_error(HEAD_YAML "first_block: {channels: 8, kernel: 5}\nstages: []\n",
                     PNAS_ERR_PARSE, "<string>:5: first_block.kernel: unknown key", NULL);
  expect_parse_error(HEAD_YAML "head: 256\nstages: []\n", PNAS_ERR_PARSE,
                     "<string>:5: head: expected a mapping, got 256", NULL);
  expect_parse_error(HEAD_YAML "dropout: 1.5\nstages: []\n", PNAS_ERR_PARSE,
                     "<string>:5: dropout: expected a probability in [0, 1), got 1.5", NULL);
  expect_parse_error(HEAD_YAML "classes: 10\nstages: []\n", PNAS_ERR_PARSE,
                     "<string>:5: classes: duplicate key (first given on line 3)", NULL);
  expect_parse_error("format: pnas-space/1\ninput: [28, 28]\n", PNAS_ERR_PARSE,
                     "<string>:2: input: expected [height, width, channels], got a sequence of 2",
                     NULL);
  /* Unknown ops name the op and the forms that are valid. */
  expect_parse_error(HEAD_YAML
                     "stages:\n  - {width: 8, depth: 1, stride: 1,\n"
                     "     ops: [mbconv3x3_e3, mbconv4x4_e3]}\n",
                     PNAS_ERR_PARSE,
                     "<string>:7: stages[0].ops[1]: unknown op 'mbconv4x4_e3'; expected "
                     "mbconv{K}x{K}_e{E} (K 3, 5 or 7; E 1 to 64) or zero",
                     NULL);
  static const char *const bad_ops[] = {"mbconv3x5_e3", "mbconv3x3_e0",  "mbconv3x3_e65",
                                        "mbconv3x3",    "mbconv3x3_e3x", "MBConv3x3_e3",
                                        "identity",     "3x3_MBConv",    "mbconv03x03_e3"};
  for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
    char text[512], needle[64];
    snprintf(text, sizeof text,
             HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, ops: [%s]}\n", bad_ops[i]);
    snprintf(needle, sizeof needle, "unknown op '%s'", bad_ops[i]);
    expect_parse_error(text, PNAS_ERR_PARSE, needle, "stages[0].ops[0]");
  }
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, ops: [[zero]]}\n",
                     PNAS_ERR_PARSE, "stages[0].ops[0]: expected a string, got a sequence", NULL);
}
END_TEST

START_TEST(yaml_spec_errors_name_stage_and_layer) {
  /* Values fine one by one but not together: the builder's status, with
   * the file and the stage's line in front. */
  expect_parse_error(HEAD_YAML
                     "stages:\n"
                     "  - {width: 8, depth: 1, stride: 1, ops: [mbconv3x3_e3]}\n"
                     "  - {width: 8, depth: 2, stride: 1, ops: [mbconv3x3_e3, zero, "
                     "mbconv3x3_e3]}\n",
                     PNAS_ERR_INVALID_ARGUMENT,
                     "<string>:7: stage 1 layer 0: duplicate op mbconv3x3_e3", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 2, stride: 2, ops: [zero]}\n",
                     PNAS_ERR_INVALID_ARGUMENT,
                     "<string>:6: stage 0 layer 0: the only candidate is zero", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 2, stride: 2, ops: []}\n",
                     PNAS_ERR_INVALID_ARGUMENT,
                     "<string>:6: stage 0 layer 0: the candidate list is empty", NULL);
  expect_parse_error(HEAD_YAML "stages:\n  - {width: 8, depth: 2, stride: 2, ops: [zero, Zero]}\n",
                     PNAS_ERR_INVALID_ARGUMENT, "stage 0 layer 0: duplicate op zero", NULL);
  /* More than a layer may hold is caught while reading. */
  char text[2048];
  int len =
      snprintf(text, sizeof text, HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, ops: [");
  for (int i = 0; i < 33; i++) {
    len += snprintf(text + len, sizeof text - (size_t)len, "%smbconv%dx%d_e%d", i > 0 ? ", " : "",
                    3 + 2 * (i % 3), 3 + 2 * (i % 3), 1 + i / 3);
  }
  snprintf(text + len, sizeof text - (size_t)len, "]}\n");
  expect_parse_error(text, PNAS_ERR_PARSE, "<string>:6: stages[0].ops: expected at most 32 ops",
                     NULL);
}
END_TEST

START_TEST(yaml_file_errors_name_the_file) {
  pnas_context *ctx = plain_context();
  pnas_space *space = SENTINEL;
  const char *missing = scratch_path("missing.yaml");
  assert_error(ctx, pnas_space_load_yaml(ctx, missing, &space), PNAS_ERR_IO, "missing.yaml");
  const char *bad = scratch_path("bad.yaml");
  write_file(bad, HEAD_YAML "stages:\n  - {width: 8, depth: 1, stride: 1, ops: [mbconv9x9_e3]}\n");
  assert_error(ctx, pnas_space_load_yaml(ctx, bad, &space), PNAS_ERR_PARSE,
               "bad.yaml:6: stages[0].ops[0]: unknown op 'mbconv9x9_e3'");
  write_file(bad, HEAD_YAML "stages:\n  - {width: 24, depth: 2, stride: 2, ops: [zero]}\n");
  assert_error(ctx, pnas_space_load_yaml(ctx, bad, &space), PNAS_ERR_INVALID_ARGUMENT,
               "bad.yaml:6: stage 0 layer 0");
  ck_assert_ptr_eq(space, SENTINEL);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- memory -------------------------------------------------------------- */

typedef pnas_status (*op_fn)(pnas_context *ctx, void *state);

/* Runs op with the k-th allocation failing, for k = 1, 2, ... until it
 * succeeds; every failure must be PNAS_ERR_OUT_OF_MEMORY and leak nothing.
 * Returns the number of allocations a success needs. */
static long fail_each_allocation(op_fn op, void (*undo)(void *), void *state) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  long k;
  for (k = 1;; k++) {
    counts.fail_at = counts.calls + k;
    const pnas_status st = op(ctx, state);
    if (st == PNAS_OK) break;
    ck_assert_msg(st == PNAS_ERR_OUT_OF_MEMORY, "allocation %ld: %s (%s)", k,
                  pnas_status_string(st), pnas_context_last_error(ctx));
    ck_assert_int_eq(counts.live, live);
    ck_assert_int_lt(k, 10000);
  }
  counts.fail_at = 0;
  undo(state);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
  return k;
}

typedef struct space_state {
  pnas_space *space;
  const char *path;
} space_state;

static void undo_space(void *s) {
  space_state *st = s;
  pnas_space_destroy(st->space);
  st->space = NULL;
}

static pnas_status op_load(pnas_context *ctx, void *s) {
  space_state *st = s;
  return pnas_space_load_yaml(ctx, st->path, &st->space);
}

static pnas_status op_default(pnas_context *ctx, void *s) {
  space_state *st = s;
  return pnas_space_create_default(ctx, &st->space);
}

/* Builds a space stage by stage; on failure the partial space is dropped. */
static pnas_status op_build(pnas_context *ctx, void *s) {
  space_state *st = s;
  pnas_space_info info;
  pnas_space_info_init(&info);
  pnas_space *space = NULL;
  pnas_status status = pnas_space_create(ctx, &info, &space);
  if (status != PNAS_OK) return status;
  for (int i = 0; i < 40 && status == PNAS_OK; i++) {
    status = pnas_space_add_stage(space, 16 + 8 * (i % 2), 3, 1, PAPER_OPS, 7, 0);
  }
  if (status != PNAS_OK) {
    /* The space is unchanged by the failed call and still usable. */
    ck_assert_int_ge(info_of(space).stages, 0);
    pnas_space_destroy(space);
    return status;
  }
  ck_assert_int_eq(info_of(space).layers, 120);
  st->space = space;
  return PNAS_OK;
}

/* Builds the default space and saves it; everything is released before
 * returning, so a failure at any allocation leaves nothing behind. */
static pnas_status op_save(pnas_context *ctx, void *s) {
  space_state *st = s;
  pnas_space *space = NULL;
  pnas_status status = pnas_space_create_default(ctx, &space);
  if (status != PNAS_OK) return status;
  status = pnas_space_save_yaml(space, st->path);
  pnas_space_destroy(space);
  return status;
}

START_TEST(no_leaks_when_allocations_fail) {
  space_state st = {NULL, config_path(FMNIST_SPACE)};
  ck_assert_int_gt(fail_each_allocation(op_load, undo_space, &st), 2);
  ck_assert_int_gt(fail_each_allocation(op_default, undo_space, &st), 2);
  ck_assert_int_gt(fail_each_allocation(op_build, undo_space, &st), 3);
  st.path = scratch_path("saved.yaml");
  ck_assert_int_gt(fail_each_allocation(op_save, undo_space, &st), 1);
  cleanup_dir();
}
END_TEST

START_TEST(no_leaks_on_success_and_errors) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  pnas_space *space = load(ctx, config_path(IMAGENET_SPACE));
  ck_assert_int_gt(counts.live, live);
  ck_assert_int_eq(pnas_space_save_yaml(space, scratch_path("x.yaml")), PNAS_OK);
  /* Errors on a live space leave it as it was. */
  const pnas_space_info before = info_of(space);
  ck_assert_int_eq(pnas_space_add_stage(space, 640, 1, 1, PAPER_OPS, 7, 1),
                   PNAS_ERR_INVALID_ARGUMENT);
  const pnas_space_info after = info_of(space);
  ck_assert_int_eq(before.layers, after.layers);
  ck_assert_int_eq(before.stages, after.stages);
  pnas_space_destroy(space);
  ck_assert_int_eq(counts.live, live);
  pnas_space *out = SENTINEL;
  ck_assert_int_eq(pnas_space_parse_yaml(ctx, "{", 1, &out), PNAS_ERR_PARSE);
  ck_assert_int_eq(pnas_space_load_yaml(ctx, scratch_path("none.yaml"), &out), PNAS_ERR_IO);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(counts.live, live);
  cleanup_dir();
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("space");
  TCase *spaces = tcase_create("spaces");
  tcase_add_test(spaces, default_space_layout);
  tcase_add_test(spaces, info_init_gives_the_paper_defaults);
  tcase_add_test(spaces, fmnist_space_loads);
  tcase_add_test(spaces, imagenet_yaml_equals_the_default_space);
  suite_add_tcase(s, spaces);

  TCase *builder = tcase_create("builder");
  tcase_add_test(builder, builder_shapes_and_zero_placement);
  tcase_add_test(builder, builder_rejects_bad_stages);
  tcase_add_test(builder, create_rejects_bad_settings);
  tcase_add_test(builder, struct_sizes_are_respected);
  tcase_add_test(builder, get_layer_copies_up_to_the_capacity);
  tcase_add_test(builder, null_arguments_and_wrong_handles);
  suite_add_tcase(s, builder);

  TCase *yaml = tcase_create("yaml");
  tcase_add_test(yaml, yaml_parse_small_example);
  tcase_add_test(yaml, yaml_round_trip);
  tcase_add_test(yaml, yaml_syntax_error_names_the_line);
  tcase_add_test(yaml, yaml_key_and_value_errors);
  tcase_add_test(yaml, yaml_spec_errors_name_stage_and_layer);
  tcase_add_test(yaml, yaml_file_errors_name_the_file);
  suite_add_tcase(s, yaml);

  TCase *memory = tcase_create("memory");
  tcase_add_test(memory, no_leaks_when_allocations_fail);
  tcase_add_test(memory, no_leaks_on_success_and_errors);
  suite_add_tcase(s, memory);
  return s;
}
