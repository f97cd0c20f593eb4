/* SPDX-License-Identifier: MIT */
/* Architectures through the public API: the builder and its checks, MACs
 * and parameters of the released ProxylessNAS nets, the YAML format and the
 * official net.config, the latency lookup table, and no leaks on any path. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

/* ---- helpers ----------------------------------------------------------- */

static const char *fixture(const char *relative) {
  static char path[4][1024];
  static int next = 0;
  const char *root = getenv("PNAS_TEST_DATA");
  ck_assert_msg(root != NULL, "PNAS_TEST_DATA is not set (run through meson test)");
  char *buf = path[next++ % 4];
  snprintf(buf, sizeof path[0], "%s/%s", root, relative);
  return buf;
}

#define MOBILE_CONFIG "proxylessnas/proxyless_mobile.config"
#define GPU_CONFIG "proxylessnas/proxyless_gpu.config"
#define MOBILE_TABLE "proxylessnas/mobile_trim.yaml"
#define MOBILE_SPACE "arch/mobile_space.yaml"

/* A scratch folder per test, removed with its files by cleanup_dir(). */
static char scratch[256];

static const char *scratch_path(const char *name) {
  static char path[4][512];
  static int next = 0;
  if (scratch[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/pnas-arch-XXXXXX", tmp != NULL ? tmp : "/tmp");
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
static char *read_file(const char *path, size_t *size) {
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
  if (size != NULL) *size = (size_t)n;
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

static pnas_arch_info info_of(const pnas_arch *arch) {
  pnas_arch_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ck_assert_int_eq(pnas_arch_get_info(arch, &info), PNAS_OK);
  return info;
}

static pnas_block_info block_of(const pnas_arch *arch, int32_t i) {
  pnas_block_info b;
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  ck_assert_int_eq(pnas_arch_get_block(arch, i, &b), PNAS_OK);
  return b;
}

static pnas_arch *import_config(pnas_context *ctx, const char *relative) {
  pnas_arch *arch = NULL;
  const pnas_status st = pnas_arch_import_net_config(ctx, fixture(relative), 224, 224, &arch);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  return arch;
}

static pnas_arch *load_yaml(pnas_context *ctx, const char *path) {
  pnas_arch *arch = NULL;
  const pnas_status st = pnas_arch_load_yaml(ctx, path, &arch);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  return arch;
}

/* Every field of the settings, totals and blocks. */
static void assert_same_arch(const pnas_arch *a, const pnas_arch *b) {
  const pnas_arch_info x = info_of(a), y = info_of(b);
  ck_assert_int_eq(x.input_height, y.input_height);
  ck_assert_int_eq(x.input_width, y.input_width);
  ck_assert_int_eq(x.input_channels, y.input_channels);
  ck_assert_int_eq(x.classes, y.classes);
  ck_assert_int_eq(x.stem_channels, y.stem_channels);
  ck_assert_int_eq(x.stem_kernel, y.stem_kernel);
  ck_assert_int_eq(x.stem_stride, y.stem_stride);
  ck_assert_int_eq(x.head_channels, y.head_channels);
  ck_assert_msg(memcmp(&x.dropout, &y.dropout, sizeof x.dropout) == 0, "dropout %.9g vs %.9g",
                (double)x.dropout, (double)y.dropout);
  ck_assert_int_eq(x.blocks, y.blocks);
  ck_assert_int_eq(x.macs, y.macs);
  ck_assert_int_eq(x.params, y.params);
  for (int32_t i = 0; i < x.blocks; i++) {
    const pnas_block_info p = block_of(a, i), q = block_of(b, i);
    ck_assert_int_eq(p.kind, q.kind);
    ck_assert_int_eq(p.in_channels, q.in_channels);
    ck_assert_int_eq(p.out_channels, q.out_channels);
    ck_assert_int_eq(p.kernel, q.kernel);
    ck_assert_int_eq(p.expand, q.expand);
    ck_assert_int_eq(p.stride, q.stride);
    ck_assert_int_eq(p.residual, q.residual);
    ck_assert_int_eq(p.in_height, q.in_height);
    ck_assert_int_eq(p.in_width, q.in_width);
    ck_assert_int_eq(p.out_height, q.out_height);
    ck_assert_int_eq(p.out_width, q.out_width);
    ck_assert_int_eq(p.macs, q.macs);
    ck_assert_int_eq(p.params, q.params);
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

static pnas_arch *const SENTINEL = (pnas_arch *)(uintptr_t)0x1234;

/* Parses text that must fail with `expected`, the message containing needle. */
static void expect_parse_error(const char *text, pnas_status expected, const char *needle) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  pnas_arch *arch = SENTINEL;
  assert_error(ctx, pnas_arch_parse_yaml(ctx, text, strlen(text), &arch), expected, needle);
  ck_assert_ptr_eq(arch, SENTINEL);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
}

static const char SMALL_YAML[] =
    "format: pnas-arch/1\n"
    "input: [28, 28, 1]\n"
    "classes: 10\n"
    "stem: {channels: 16, kernel: 3, stride: 1}\n"
    "blocks:\n"
    "  - {op: mbconv, kernel: 3, expand: 1, out: 8, stride: 1}\n"
    "  - {op: mbconv, kernel: 5, expand: 3, out: 16, stride: 2}\n"
    "  - {op: identity}\n"
    "head: {channels: 64}\n"
    "dropout: 0.25\n";

/* ---- MACs and parameters of the released nets -------------------------- */

START_TEST(mobile_config_counts_match_the_paper) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = import_config(ctx, MOBILE_CONFIG);
  const pnas_arch_info info = info_of(arch);
  ck_assert_int_eq(info.macs, 320427584);
  ck_assert_int_eq(info.params, 4080512);
  ck_assert_int_eq(info.blocks, 22);
  ck_assert_int_eq(info.input_height, 224);
  ck_assert_int_eq(info.input_width, 224);
  ck_assert_int_eq(info.input_channels, 3);
  ck_assert_int_eq(info.classes, 1000);
  ck_assert_int_eq(info.stem_channels, 32);
  ck_assert_int_eq(info.stem_kernel, 3);
  ck_assert_int_eq(info.stem_stride, 2);
  ck_assert_int_eq(info.head_channels, 1280);
  ck_assert(info.dropout == 0.0f);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(gpu_config_counts_match_the_paper) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = import_config(ctx, GPU_CONFIG);
  const pnas_arch_info info = info_of(arch);
  ck_assert_int_eq(info.macs, 465260160);
  ck_assert_int_eq(info.params, 7119848);
  ck_assert_int_eq(info.blocks, 22);
  ck_assert_int_eq(info.stem_channels, 40);
  ck_assert_int_eq(info.head_channels, 1728);
  int identities = 0;
  for (int32_t i = 0; i < info.blocks; i++) {
    const pnas_block_info b = block_of(arch, i);
    if (b.kind == PNAS_BLOCK_IDENTITY) {
      identities++;
      ck_assert_int_eq(b.macs, 0);
      ck_assert_int_eq(b.params, 0);
    }
  }
  ck_assert_int_eq(identities, 8);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(mobile_block_shapes) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = import_config(ctx, MOBILE_CONFIG);
  /* First block: MBConv(3, 1) 32 -> 16 at 112x112, no expand conv. */
  pnas_block_info b = block_of(arch, 0);
  ck_assert_int_eq(b.kind, PNAS_BLOCK_MBCONV);
  ck_assert_int_eq(b.in_height, 112);
  ck_assert_int_eq(b.in_width, 112);
  ck_assert_int_eq(b.in_channels, 32);
  ck_assert_int_eq(b.out_channels, 16);
  ck_assert_int_eq(b.out_height, 112);
  ck_assert_int_eq(b.expand, 1);
  ck_assert_int_eq(b.residual, 0);
  ck_assert_int_eq(b.macs, 112 * 112 * 32 * 9 + 112 * 112 * 32 * 16);
  ck_assert_int_eq(b.params, 32 * 9 + 2 * 32 + 32 * 16 + 2 * 16);
  /* Second: MBConv(5, 3) stride 2, 16 -> 32, hidden 48. */
  b = block_of(arch, 1);
  ck_assert_int_eq(b.kernel, 5);
  ck_assert_int_eq(b.expand, 3);
  ck_assert_int_eq(b.stride, 2);
  ck_assert_int_eq(b.out_height, 56);
  ck_assert_int_eq(b.out_width, 56);
  ck_assert_int_eq(b.macs, 112 * 112 * 16 * 48 + 56 * 56 * 48 * 25 + 56 * 56 * 48 * 32);
  ck_assert_int_eq(b.params, 16 * 48 + 96 + 48 * 25 + 96 + 48 * 32 + 64);
  /* Third has the residual; fourth is a ZeroLayer: identity. */
  b = block_of(arch, 2);
  ck_assert_int_eq(b.residual, 1);
  b = block_of(arch, 3);
  ck_assert_int_eq(b.kind, PNAS_BLOCK_IDENTITY);
  ck_assert_int_eq(b.in_channels, 32);
  ck_assert_int_eq(b.out_channels, 32);
  ck_assert_int_eq(b.in_height, 56);
  ck_assert_int_eq(b.out_height, 56);
  ck_assert_int_eq(b.stride, 1);
  ck_assert_int_eq(b.residual, 1);
  ck_assert_int_eq(b.macs, 0);
  /* Last: 7x7x192 -> 7x7x320. */
  b = block_of(arch, 21);
  ck_assert_int_eq(b.in_height, 7);
  ck_assert_int_eq(b.in_channels, 192);
  ck_assert_int_eq(b.out_channels, 320);
  ck_assert_int_eq(b.out_height, 7);
  /* Blocks plus the fixed parts make the total. */
  const pnas_arch_info info = info_of(arch);
  int64_t macs = 112 * 112 * 3 * 32 * 9 + 7 * 7 * 320 * 1280 + 1280 * 1000;
  int64_t params = 3 * 32 * 9 + 64 + 320 * 1280 + 2 * 1280 + 1280 * 1000 + 1000;
  for (int32_t i = 0; i < info.blocks; i++) {
    macs += block_of(arch, i).macs;
    params += block_of(arch, i).params;
  }
  ck_assert_int_eq(macs, info.macs);
  ck_assert_int_eq(params, info.params);
  ck_assert_int_eq(pnas_arch_get_block(arch, 22, &b), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "index 22"));
  ck_assert_int_eq(pnas_arch_get_block(arch, -1, &b), PNAS_ERR_INVALID_ARGUMENT);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- the builder ------------------------------------------------------- */

START_TEST(builder_defaults_and_counts) {
  pnas_context *ctx = plain_context();
  pnas_arch_info info;
  memset(&info, 0xab, sizeof info);
  ck_assert_int_eq(pnas_arch_info_init(&info), PNAS_OK);
  ck_assert_uint_eq(info.struct_size, sizeof info);
  ck_assert_int_eq(info.input_height, 28);
  ck_assert_int_eq(info.input_width, 28);
  ck_assert_int_eq(info.input_channels, 1);
  ck_assert_int_eq(info.classes, 10);
  ck_assert_int_eq(info.stem_channels, 16);
  ck_assert_int_eq(info.stem_kernel, 3);
  ck_assert_int_eq(info.stem_stride, 1);
  ck_assert_int_eq(info.head_channels, 256);
  ck_assert(info.dropout == 0.0f);
  ck_assert_int_eq(info.blocks, 0);
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  /* No blocks: stem 28x28 1->16 3x3, head 16->256, FC 256->10. */
  pnas_arch_info got = info_of(arch);
  ck_assert_int_eq(got.blocks, 0);
  ck_assert_int_eq(got.macs, 28 * 28 * 1 * 16 * 9 + 28 * 28 * 16 * 256 + 256 * 10);
  ck_assert_int_eq(got.params, 16 * 9 + 32 + 16 * 256 + 512 + 2560 + 10);

  pnas_block_info b;
  memset(&b, 0x5a, sizeof b);
  ck_assert_int_eq(pnas_block_info_init(&b), PNAS_OK);
  ck_assert_int_eq(b.kind, PNAS_BLOCK_MBCONV);
  ck_assert_int_eq(b.kernel, 3);
  ck_assert_int_eq(b.expand, 1);
  ck_assert_int_eq(b.stride, 1);
  b.kernel = 7;
  b.expand = 6;
  b.stride = 2;
  b.out_channels = 24;
  ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  b.kind = PNAS_BLOCK_IDENTITY;
  b.out_channels = 0; /* "unchanged" */
  b.stride = 1;
  ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  const pnas_block_info first = block_of(arch, 0);
  ck_assert_int_eq(first.in_channels, 16);
  ck_assert_int_eq(first.out_height, 14);
  ck_assert_int_eq(first.out_width, 14);
  ck_assert_int_eq(first.macs, 28 * 28 * 16 * 96 + 14 * 14 * 96 * 49 + 14 * 14 * 96 * 24);
  const pnas_block_info second = block_of(arch, 1);
  ck_assert_int_eq(second.kind, PNAS_BLOCK_IDENTITY);
  ck_assert_int_eq(second.out_channels, 24);
  ck_assert_int_eq(second.kernel, 0);
  ck_assert_int_eq(second.expand, 0);
  got = info_of(arch);
  ck_assert_int_eq(got.blocks, 2);
  ck_assert_int_eq(got.macs, 28 * 28 * 16 * 9 + first.macs + 14 * 14 * 24 * 256 + 2560);
  pnas_arch_destroy(arch);

  /* No head conv: the classifier reads the last block's channels. */
  info.head_channels = 0;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  got = info_of(arch);
  ck_assert_int_eq(got.macs, 28 * 28 * 16 * 9 + 16 * 10);
  ck_assert_int_eq(got.params, 16 * 9 + 32 + 16 * 10 + 10);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

static void expect_create_error(pnas_context *ctx, const pnas_arch_info *info, const char *needle) {
  pnas_arch *arch = SENTINEL;
  assert_error(ctx, pnas_arch_create(ctx, info, &arch), PNAS_ERR_INVALID_ARGUMENT, needle);
  ck_assert_ptr_eq(arch, SENTINEL);
}

START_TEST(builder_rejects_bad_settings) {
  pnas_context *ctx = plain_context();
  pnas_arch_info good;
  pnas_arch_info_init(&good);
  pnas_arch_info i = good;
  i.input_height = 0;
  expect_create_error(ctx, &i, "input_height is 0");
  i = good;
  i.input_width = -3;
  expect_create_error(ctx, &i, "input_width is -3");
  i = good;
  i.input_channels = 0;
  expect_create_error(ctx, &i, "input_channels is 0");
  i = good;
  i.classes = 1;
  expect_create_error(ctx, &i, "classes is 1");
  i = good;
  i.stem_channels = 0;
  expect_create_error(ctx, &i, "stem_channels is 0");
  i = good;
  i.stem_kernel = 4;
  expect_create_error(ctx, &i, "stem_kernel is 4; it must be odd");
  i = good;
  i.stem_stride = 3;
  expect_create_error(ctx, &i, "stem_stride is 3");
  i = good;
  i.head_channels = -1;
  expect_create_error(ctx, &i, "head_channels is -1");
  i = good;
  i.dropout = 1.0f;
  expect_create_error(ctx, &i, "dropout is 1");
  i = good;
  i.dropout = -0.1f;
  expect_create_error(ctx, &i, "dropout");
  i = good;
  i.dropout = NAN;
  expect_create_error(ctx, &i, "dropout");
  i = good;
  i.struct_size = 0;
  expect_create_error(ctx, &i, "struct_size is 0");
  pnas_context_destroy(ctx);
}
END_TEST

static void expect_append_error(pnas_arch *arch, pnas_context *ctx, const pnas_block_info *b,
                                const char *needle) {
  const pnas_arch_info before = info_of(arch);
  assert_error(ctx, pnas_arch_append_block(arch, b), PNAS_ERR_INVALID_ARGUMENT, needle);
  const pnas_arch_info after = info_of(arch);
  ck_assert_int_eq(after.blocks, before.blocks);
  ck_assert_int_eq(after.macs, before.macs);
  ck_assert_int_eq(after.params, before.params);
}

START_TEST(builder_rejects_bad_blocks) {
  pnas_context *ctx = plain_context();
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  pnas_block_info good;
  pnas_block_info_init(&good);
  good.out_channels = 16;
  ck_assert_int_eq(pnas_arch_append_block(arch, &good), PNAS_OK);
  pnas_block_info b = good;
  b.kernel = 4;
  expect_append_error(arch, ctx, &b, "blocks[1].kernel is 4; it must be 3, 5 or 7");
  b = good;
  b.expand = 0;
  expect_append_error(arch, ctx, &b, "blocks[1].expand is 0");
  b = good;
  b.stride = 3;
  expect_append_error(arch, ctx, &b, "blocks[1].stride is 3; it must be 1 or 2");
  b = good;
  b.out_channels = 0;
  expect_append_error(arch, ctx, &b, "blocks[1].out_channels is 0");
  b = good;
  b.kind = (pnas_block_kind)7;
  expect_append_error(arch, ctx, &b, "blocks[1].kind is 7");
  b = good;
  b.kind = PNAS_BLOCK_IDENTITY;
  b.stride = 2;
  expect_append_error(arch, ctx, &b, "its stride must be 1");
  b = good;
  b.kind = PNAS_BLOCK_IDENTITY;
  b.out_channels = 32;
  expect_append_error(arch, ctx, &b, "an identity block keeps the shape");
  b = good;
  b.struct_size = 4;
  expect_append_error(arch, ctx, &b, "struct_size is 4");
  /* Maps shrink to 1x1 and stay there: sizes stay at least 1. */
  b = good;
  b.stride = 2;
  for (int i = 0; i < 8; i++) ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  const pnas_block_info last = block_of(arch, 8);
  ck_assert_int_eq(last.out_height, 1);
  ck_assert_int_eq(last.out_width, 1);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(struct_sizes_are_respected) {
  /* A caller compiled against a newer header has a bigger struct: the tail
   * is zeroed and nothing past struct_size is written. */
  unsigned char buf[sizeof(pnas_arch_info) + 32];
  memset(buf, 0x5a, sizeof buf);
  const size_t bigger = sizeof(pnas_arch_info) + 16;
  ck_assert_int_eq(pnas_arch_info_init_sized((pnas_arch_info *)buf, bigger), PNAS_OK);
  pnas_arch_info copy;
  memcpy(&copy, buf, sizeof copy);
  ck_assert_uint_eq(copy.struct_size, bigger);
  ck_assert_int_eq(copy.classes, 10);
  for (size_t i = sizeof(pnas_arch_info); i < bigger; i++) ck_assert_uint_eq(buf[i], 0);
  for (size_t i = bigger; i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0x5a);
  ck_assert_int_eq(pnas_arch_info_init_sized(NULL, sizeof copy), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_arch_info_init_sized(&copy, 8), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_block_info_init_sized(NULL, sizeof(pnas_block_info)),
                   PNAS_ERR_INVALID_ARGUMENT);
  pnas_block_info bi;
  ck_assert_int_eq(pnas_block_info_init_sized(&bi, 8), PNAS_ERR_INVALID_ARGUMENT);

  pnas_context *ctx = plain_context();
  pnas_arch *arch = import_config(ctx, MOBILE_CONFIG);
  memset(buf, 0x5a, sizeof buf);
  memcpy(buf, &bigger, sizeof bigger);
  ck_assert_int_eq(pnas_arch_get_info(arch, (pnas_arch_info *)buf), PNAS_OK);
  memcpy(&copy, buf, sizeof copy);
  ck_assert_uint_eq(copy.struct_size, bigger);
  ck_assert_int_eq(copy.macs, 320427584);
  for (size_t i = sizeof(pnas_arch_info); i < bigger; i++) ck_assert_uint_eq(buf[i], 0);
  for (size_t i = bigger; i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0x5a);

  unsigned char bbuf[sizeof(pnas_block_info) + 32];
  const size_t bbigger = sizeof(pnas_block_info) + 8;
  memset(bbuf, 0x5a, sizeof bbuf);
  memcpy(bbuf, &bbigger, sizeof bbigger);
  ck_assert_int_eq(pnas_arch_get_block(arch, 1, (pnas_block_info *)bbuf), PNAS_OK);
  memcpy(&bi, bbuf, sizeof bi);
  ck_assert_int_eq(bi.kernel, 5);
  for (size_t i = sizeof(pnas_block_info); i < bbigger; i++) ck_assert_uint_eq(bbuf[i], 0);
  for (size_t i = bbigger; i < sizeof bbuf; i++) ck_assert_uint_eq(bbuf[i], 0x5a);

  /* Too small to be any version of the struct: refused, untouched. */
  memset(&copy, 0, sizeof copy);
  copy.struct_size = 8;
  assert_error(ctx, pnas_arch_get_info(arch, &copy), PNAS_ERR_INVALID_ARGUMENT, "struct_size is 8");
  ck_assert_int_eq(copy.macs, 0);
  memset(&bi, 0, sizeof bi);
  assert_error(ctx, pnas_arch_get_block(arch, 0, &bi), PNAS_ERR_INVALID_ARGUMENT,
               "struct_size is 0");
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(null_arguments_and_wrong_handles) {
  pnas_context *ctx = plain_context();
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_block_info block;
  pnas_block_info_init(&block);
  block.out_channels = 8;
  pnas_arch *arch = SENTINEL;
  const char *yaml = fixture(MOBILE_SPACE);

  ck_assert_int_eq(pnas_arch_create(NULL, &info, &arch), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_arch_create(ctx, NULL, &arch), PNAS_ERR_INVALID_ARGUMENT, "info is NULL");
  assert_error(ctx, pnas_arch_create(ctx, &info, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_arch is NULL");
  ck_assert_int_eq(pnas_arch_load_yaml(NULL, yaml, &arch), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_arch_load_yaml(ctx, NULL, &arch), PNAS_ERR_INVALID_ARGUMENT,
               "path is NULL");
  assert_error(ctx, pnas_arch_load_yaml(ctx, yaml, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_arch is NULL");
  ck_assert_int_eq(pnas_arch_parse_yaml(NULL, "x", 1, &arch), PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_arch_parse_yaml(ctx, NULL, 0, &arch), PNAS_ERR_INVALID_ARGUMENT,
               "text is NULL");
  assert_error(ctx, pnas_arch_parse_yaml(ctx, SMALL_YAML, strlen(SMALL_YAML), NULL),
               PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL");
  const char *config = fixture(MOBILE_CONFIG);
  ck_assert_int_eq(pnas_arch_import_net_config(NULL, config, 224, 224, &arch),
                   PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_arch_import_net_config(ctx, NULL, 224, 224, &arch),
               PNAS_ERR_INVALID_ARGUMENT, "path is NULL");
  assert_error(ctx, pnas_arch_import_net_config(ctx, config, 224, 224, NULL),
               PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL");
  assert_error(ctx, pnas_arch_import_net_config(ctx, config, 0, 224, &arch),
               PNAS_ERR_INVALID_ARGUMENT, "input size is 0x224");
  ck_assert_ptr_eq(arch, SENTINEL);

  ck_assert_int_eq(pnas_arch_append_block(NULL, &block), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_arch_save_yaml(NULL, "x.yaml"), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_arch_export_net_config(NULL, "x.config"), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_arch_get_info(NULL, &info), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_arch_get_block(NULL, 0, &block), PNAS_ERR_INVALID_ARGUMENT);
  pnas_arch_destroy(NULL);

  pnas_arch *real = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &real), PNAS_OK);
  assert_error(ctx, pnas_arch_append_block(real, NULL), PNAS_ERR_INVALID_ARGUMENT, "block is NULL");
  assert_error(ctx, pnas_arch_save_yaml(real, NULL), PNAS_ERR_INVALID_ARGUMENT, "path is NULL");
  assert_error(ctx, pnas_arch_export_net_config(real, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "path is NULL");
  assert_error(ctx, pnas_arch_get_info(real, NULL), PNAS_ERR_INVALID_ARGUMENT, "out_info is NULL");
  assert_error(ctx, pnas_arch_get_block(real, 0, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_block is NULL");

  /* Something that is not an arch: a context. */
  pnas_arch *wrong = (pnas_arch *)(void *)ctx;
  ck_assert_int_eq(pnas_arch_append_block(wrong, &block), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_arch_get_info(wrong, &info), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_arch_get_block(wrong, 0, &block), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_arch_save_yaml(wrong, "x.yaml"), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_arch_export_net_config(wrong, "x.config"), PNAS_ERR_WRONG_HANDLE);
  pnas_arch_destroy(wrong); /* ignored */
  ck_assert_int_eq(pnas_context_get_threads(ctx, &(int32_t){0}), PNAS_OK);

  /* The latency API likewise. */
  pnas_latency_model *model = (pnas_latency_model *)(uintptr_t)0x1234;
  double ms = -1.0;
  ck_assert_int_eq(pnas_latency_model_load_table(NULL, "t.yaml", &model),
                   PNAS_ERR_INVALID_ARGUMENT);
  assert_error(ctx, pnas_latency_model_load_table(ctx, NULL, &model), PNAS_ERR_INVALID_ARGUMENT,
               "path is NULL");
  assert_error(ctx, pnas_latency_model_load_table(ctx, "t.yaml", NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_model is NULL");
  ck_assert_ptr_eq(model, (pnas_latency_model *)(uintptr_t)0x1234);
  ck_assert_int_eq(pnas_latency_model_arch_latency(NULL, real, &ms), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_latency_model_arch_latency((pnas_latency_model *)(void *)ctx, real, &ms),
                   PNAS_ERR_WRONG_HANDLE);
  pnas_latency_model_destroy(NULL);
  pnas_latency_model_destroy((pnas_latency_model *)(void *)ctx); /* ignored */

  ck_assert_int_eq(pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model), PNAS_OK);
  assert_error(ctx, pnas_latency_model_arch_latency(model, NULL, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "arch is NULL");
  assert_error(ctx, pnas_latency_model_arch_latency(model, real, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_ms is NULL");
  assert_error(ctx, pnas_latency_model_arch_latency(model, (const pnas_arch *)(void *)model, &ms),
               PNAS_ERR_WRONG_HANDLE, "not a live pnas_arch");
  ck_assert(ms == -1.0);
  pnas_latency_model_destroy(model);
  pnas_arch_destroy(real);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- YAML -------------------------------------------------------------- */

START_TEST(yaml_parse_small_example) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, SMALL_YAML, strlen(SMALL_YAML), &arch), PNAS_OK);
  const pnas_arch_info info = info_of(arch);
  ck_assert_int_eq(info.input_height, 28);
  ck_assert_int_eq(info.input_channels, 1);
  ck_assert_int_eq(info.classes, 10);
  ck_assert_int_eq(info.stem_channels, 16);
  ck_assert_int_eq(info.head_channels, 64);
  ck_assert(info.dropout == 0.25f);
  ck_assert_int_eq(info.blocks, 3);
  const pnas_block_info b = block_of(arch, 2);
  ck_assert_int_eq(b.kind, PNAS_BLOCK_IDENTITY);
  ck_assert_int_eq(b.in_channels, 16);
  ck_assert_int_eq(b.in_height, 14);
  /* stem 28x28 1->16, block0 16->8 (e1, k3), block1 8->24->16 (k5, s2),
   * head 14x14 16->64, FC 64->10. */
  const int64_t macs = 28 * 28 * 16 * 9 + (28 * 28 * 16 * 9 + 28 * 28 * 16 * 8) +
                       (28 * 28 * 8 * 24 + 14 * 14 * 24 * 25 + 14 * 14 * 24 * 16) +
                       14 * 14 * 16 * 64 + 64 * 10;
  ck_assert_int_eq(info.macs, macs);
  pnas_arch_destroy(arch);

  /* Without a NUL after the text (size decides), and with an empty block
   * list, which is allowed: stem -> head -> classifier. */
  const char empty[] =
      "format: pnas-arch/1\ninput: [8, 8, 3]\nclasses: 2\n"
      "stem: {channels: 4, kernel: 1, stride: 1}\nblocks: []\nhead: {channels: 0}\n"
      "XXXX";
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, empty, strlen(empty) - 4, &arch), PNAS_OK);
  const pnas_arch_info e = info_of(arch);
  ck_assert_int_eq(e.blocks, 0);
  ck_assert(e.dropout == 0.0f); /* optional, default 0 */
  ck_assert_int_eq(e.macs, 8 * 8 * 3 * 4 + 4 * 2);
  ck_assert_int_eq(e.params, 3 * 4 + 8 + 4 * 2 + 2);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(yaml_round_trip) {
  pnas_context *ctx = plain_context();
  /* The fixture; a net.config with identity blocks; a built one with an
   * awkward dropout and no head; the small example. */
  pnas_arch *sources[4];
  sources[0] = load_yaml(ctx, fixture(MOBILE_SPACE));
  sources[1] = import_config(ctx, GPU_CONFIG);
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.dropout = 0.1f + 1e-7f;
  info.head_channels = 0;
  info.input_height = 31;
  info.input_width = 17;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &sources[2]), PNAS_OK);
  pnas_block_info b;
  pnas_block_info_init(&b);
  b.out_channels = 24;
  b.stride = 2;
  b.kernel = 7;
  b.expand = 4;
  ck_assert_int_eq(pnas_arch_append_block(sources[2], &b), PNAS_OK);
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, SMALL_YAML, strlen(SMALL_YAML), &sources[3]), PNAS_OK);
  for (int i = 0; i < 4; i++) {
    const char *path = scratch_path("arch.yaml");
    ck_assert_int_eq(pnas_arch_save_yaml(sources[i], path), PNAS_OK);
    pnas_arch *back = load_yaml(ctx, path);
    assert_same_arch(sources[i], back);
    /* Saving what was loaded gives the same bytes. */
    char *first = read_file(path, NULL);
    ck_assert_int_eq(pnas_arch_save_yaml(back, path), PNAS_OK);
    char *second = read_file(path, NULL);
    ck_assert_str_eq(first, second);
    ck_assert_ptr_nonnull(strstr(first, "format: pnas-arch/1\n"));
    free(first);
    free(second);
    pnas_arch_destroy(back);
    pnas_arch_destroy(sources[i]);
  }
  /* Saving into a folder that does not exist is an I/O error. */
  pnas_arch *arch = load_yaml(ctx, fixture(MOBILE_SPACE));
  assert_error(ctx, pnas_arch_save_yaml(arch, scratch_path("missing/arch.yaml")), PNAS_ERR_IO,
               "missing/arch.yaml");
  pnas_arch_destroy(arch);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(yaml_mobile_space_fixture) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = load_yaml(ctx, fixture(MOBILE_SPACE));
  const pnas_arch_info info = info_of(arch);
  ck_assert_int_eq(info.blocks, 22);
  ck_assert_int_eq(info.macs, 304227008);
  ck_assert_int_eq(info.params, 4073520);
  ck_assert(info.dropout == 0.1f);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(yaml_syntax_error_names_the_line) {
  expect_parse_error("format: pnas-arch/1\ninput: [28, 28, 1\nclasses: 10\n", PNAS_ERR_PARSE,
                     "<string>:");
  expect_parse_error("format: pnas-arch/1\nclasses: 10\n  bad: indent\n", PNAS_ERR_PARSE,
                     "<string>:3: YAML syntax error");
  expect_parse_error("", PNAS_ERR_PARSE, "<string>:1: the document is empty");
  expect_parse_error("format: pnas-arch/1\n---\nformat: pnas-arch/1\n", PNAS_ERR_PARSE,
                     "expected one document");
  expect_parse_error("- 1\n- 2\n", PNAS_ERR_PARSE,
                     "<string>:1: expected a mapping, got a sequence");
}
END_TEST

/* SMALL_YAML with line `line` (1-based) replaced. */
static void expect_small_error(int line, const char *replacement, const char *needle) {
  char text[2048] = "";
  const char *p = SMALL_YAML;
  for (int n = 1; *p != '\0'; n++) {
    const char *end = strchr(p, '\n');
    const size_t len = (size_t)(end - p) + 1;
    if (n == line) {
      strcat(text, replacement);
    } else {
      strncat(text, p, len);
    }
    p += len;
  }
  expect_parse_error(text, PNAS_ERR_PARSE, needle);
}

START_TEST(yaml_value_errors_name_file_line_and_key) {
  expect_small_error(8, "  - {op: mbconv, kernel: 4, expand: 1, out: 16, stride: 1}\n",
                     "<string>:8: blocks[2].kernel: expected 3, 5 or 7, got 4");
  expect_small_error(6, "  - {op: mbconv, kernel: 3, expand: 1, out: 0, stride: 1}\n",
                     "<string>:6: blocks[0].out: expected an integer from 1 to 65536, got 0");
  expect_small_error(6, "  - {op: mbconv, kernel: 3, expand: 0, out: 8, stride: 1}\n",
                     "<string>:6: blocks[0].expand: expected an integer from 1 to 64, got 0");
  expect_small_error(6, "  - {op: mbconv, kernel: 3, expand: 1, out: 8, stride: 3}\n",
                     "blocks[0].stride: expected an integer from 1 to 2, got 3");
  expect_small_error(2, "input: [28, 0, 1]\n",
                     "<string>:2: input[1] (width): expected an integer from 1 to 65536, got 0");
  expect_small_error(2, "input: [28, 28]\n",
                     "input: expected [height, width, channels], got a sequence of 2");
  expect_small_error(3, "classes: 1\n", "<string>:3: classes: expected an integer from 2");
  expect_small_error(4, "stem: {channels: 16, kernel: 4, stride: 1}\n",
                     "<string>:4: stem.kernel: expected an odd size (1, 3, 5, ...), got 4");
  expect_small_error(10, "dropout: 1.0\n",
                     "<string>:10: dropout: expected a probability in [0, 1), got 1.0");
  expect_small_error(1, "format: pnas-space/1\n",
                     "<string>:1: format: expected pnas-arch/1, got pnas-space/1");
  expect_small_error(6, "  - {op: conv, kernel: 3}\n",
                     "<string>:6: blocks[0].op: expected mbconv or identity, got conv");
}
END_TEST

START_TEST(yaml_counts_that_overflow_are_refused) {
  /* Valid values whose MAC count does not fit in 64 bits: the arch refuses
   * them and the reader points at the line. */
  expect_parse_error(
      "format: pnas-arch/1\ninput: [65536, 65536, 65536]\nclasses: 10\n"
      "stem: {channels: 65536, kernel: 15, stride: 1}\nblocks: []\n"
      "head: {channels: 8}\n",
      PNAS_ERR_PARSE,
      "<string>:1: the network is too large: its MACs or parameters do not fit "
      "in 64 bits");
  expect_parse_error(
      "format: pnas-arch/1\ninput: [65536, 65536, 1]\nclasses: 10\n"
      "stem: {channels: 1, kernel: 1, stride: 1}\nblocks:\n"
      "  - {op: mbconv, kernel: 3, expand: 1, out: 65536, stride: 1}\n"
      "  - {op: mbconv, kernel: 3, expand: 64, out: 8, stride: 1}\n"
      "head: {channels: 8}\n",
      PNAS_ERR_PARSE,
      "<string>:7: blocks[1] makes the network too large: its MACs or parameters "
      "do not fit in 64 bits");
}
END_TEST

START_TEST(yaml_type_errors) {
  expect_small_error(3, "classes: ten\n", "<string>:3: classes: expected an integer, got ten");
  expect_small_error(3, "classes: \"10\"\n", "classes: expected an integer, got the string \"10\"");
  expect_small_error(3, "classes: 10.5\n", "classes: expected an integer, got 10.5");
  expect_small_error(3, "classes: 0x10\n", "classes: expected an integer, got 0x10");
  expect_small_error(3, "classes: [10]\n", "classes: expected an integer, got a sequence");
  expect_small_error(4, "stem: 16\n", "<string>:4: stem: expected a mapping, got 16");
  expect_parse_error(
      "format: pnas-arch/1\ninput: [8, 8, 1]\nclasses: 2\n"
      "stem: {channels: 4, kernel: 3, stride: 1}\nblocks: {}\n"
      "head: {channels: 0}\n",
      PNAS_ERR_PARSE, "<string>:5: blocks: expected a sequence, got a mapping");
  expect_small_error(10, "dropout: nan\n", "dropout: expected a finite number, got nan");
  expect_small_error(10, "dropout: abc\n", "dropout: expected a finite number, got abc");
  expect_small_error(6, "  - 3\n", "<string>:6: blocks[0]: expected a mapping, got 3");
}
END_TEST

START_TEST(yaml_unknown_missing_and_duplicate_keys) {
  expect_small_error(3, "clases: 10\n",
                     "<string>:3: clases: unknown key (expected one of: format, input, classes");
  expect_small_error(4, "stem: {channels: 16, kernel: 3, stride: 1, pad: 1}\n",
                     "<string>:4: stem.pad: unknown key (expected one of: channels, kernel, "
                     "stride)");
  expect_small_error(8, "  - {op: identity, out: 16}\n",
                     "<string>:8: blocks[2].out: unknown key (expected one of: op)");
  expect_small_error(3, "\n", "<string>:1: missing key 'classes'");
  expect_small_error(4, "stem: {channels: 16, stride: 1}\n",
                     "<string>:4: stem: missing key 'kernel'");
  expect_small_error(7, "  - {op: mbconv, kernel: 5, expand: 3, stride: 2}\n",
                     "<string>:7: blocks[1]: missing key 'out'");
  expect_small_error(7, "  - {kernel: 5, expand: 3, out: 16, stride: 2}\n",
                     "<string>:7: blocks[1]: missing key 'op'");
  expect_small_error(9, "\n", "missing key 'head'");
  expect_small_error(5, "\n", "<string>:6: ");
  expect_small_error(1, "\n", "missing key 'format'");
  expect_small_error(9, "head: {channels: 64}\nclasses: 12\n",
                     "<string>:10: classes: duplicate key (first given on line 3)");
}
END_TEST

START_TEST(yaml_file_errors_name_the_file) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = SENTINEL;
  assert_error(ctx, pnas_arch_load_yaml(ctx, scratch_path("nope.yaml"), &arch), PNAS_ERR_IO,
               "nope.yaml");
  const char *path = scratch_path("bad.yaml");
  write_file(path,
             "format: pnas-arch/1\ninput: [28, 28, 1]\nclasses: 10\n"
             "stem: {channels: 16, kernel: 3, stride: 1}\n"
             "blocks:\n  - {op: mbconv, kernel: 4, expand: 1, out: 8, stride: 1}\n"
             "head: {channels: 8}\n");
  char expected[600];
  snprintf(expected, sizeof expected, "%s:6: blocks[0].kernel: expected 3, 5 or 7, got 4", path);
  assert_error(ctx, pnas_arch_load_yaml(ctx, path, &arch), PNAS_ERR_PARSE, expected);
  ck_assert_str_eq(pnas_context_last_error(ctx), expected);
  ck_assert_ptr_eq(arch, SENTINEL);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- net.config -------------------------------------------------------- */

START_TEST(net_config_export_reproduces_the_official_files) {
  pnas_context *ctx = plain_context();
  const char *configs[2] = {MOBILE_CONFIG, GPU_CONFIG};
  for (int i = 0; i < 2; i++) {
    pnas_arch *arch = import_config(ctx, configs[i]);
    const char *path = scratch_path("net.config");
    ck_assert_int_eq(pnas_arch_export_net_config(arch, path), PNAS_OK);
    size_t n_official, n_ours;
    char *official = read_file(fixture(configs[i]), &n_official);
    char *ours = read_file(path, &n_ours);
    ck_assert_uint_eq(n_official, n_ours);
    ck_assert_msg(memcmp(official, ours, n_ours) == 0, "%s differs from the export", configs[i]);
    free(official);
    free(ours);
    pnas_arch *back = NULL;
    ck_assert_int_eq(pnas_arch_import_net_config(ctx, path, 224, 224, &back), PNAS_OK);
    assert_same_arch(arch, back);
    pnas_arch_destroy(back);
    pnas_arch_destroy(arch);
  }
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(net_config_round_trip_of_built_archs) {
  pnas_context *ctx = plain_context();
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, SMALL_YAML, strlen(SMALL_YAML), &arch), PNAS_OK);
  const char *path = scratch_path("small.config");
  ck_assert_int_eq(pnas_arch_export_net_config(arch, path), PNAS_OK);
  pnas_arch *back = NULL;
  ck_assert_int_eq(pnas_arch_import_net_config(ctx, path, 28, 28, &back), PNAS_OK);
  assert_same_arch(arch, back);
  pnas_arch_destroy(back);
  pnas_arch_destroy(arch);

  /* No head conv (feature_mix_layer null), odd dropout, no blocks. */
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.head_channels = 0;
  info.dropout = 0.3f;
  info.stem_kernel = 5;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  ck_assert_int_eq(pnas_arch_export_net_config(arch, path), PNAS_OK);
  char *text = read_file(path, NULL);
  ck_assert_ptr_nonnull(strstr(text, "\"feature_mix_layer\": null,"));
  ck_assert_ptr_nonnull(strstr(text, "\"dropout_rate\": 0.3,"));
  ck_assert_ptr_nonnull(strstr(text, "\"blocks\": []"));
  free(text);
  ck_assert_int_eq(pnas_arch_import_net_config(ctx, path, 28, 28, &back), PNAS_OK);
  assert_same_arch(arch, back);
  pnas_arch_destroy(back);
  pnas_arch_destroy(arch);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

/* The mobile config with `from` replaced by `to` (first occurrence after
 * the byte offset of `after`, if given). */
static void expect_config_error(const char *after, const char *from, const char *to,
                                const char *needle) {
  char *text = read_file(fixture(MOBILE_CONFIG), NULL);
  char *start = after != NULL ? strstr(text, after) : text;
  ck_assert_ptr_nonnull(start);
  char *at = strstr(start, from);
  ck_assert_msg(at != NULL, "'%s' not in the config", from);
  const size_t head = (size_t)(at - text);
  char *edited = malloc(strlen(text) + strlen(to) + 1);
  ck_assert_ptr_nonnull(edited);
  memcpy(edited, text, head);
  strcpy(edited + head, to);
  strcat(edited, at + strlen(from));
  const char *path = scratch_path("edited.config");
  write_file(path, edited);
  free(text);
  free(edited);

  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  pnas_arch *arch = SENTINEL;
  assert_error(ctx, pnas_arch_import_net_config(ctx, path, 224, 224, &arch), PNAS_ERR_PARSE,
               needle);
  ck_assert_ptr_eq(arch, SENTINEL);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  cleanup_dir();
}

START_TEST(net_config_errors_are_clear) {
  /* blocks[1] reads 16 channels; claim 24. */
  expect_config_error("\"blocks\"", "\"in_channels\": 16", "\"in_channels\": 24",
                      ":64: blocks[1].mobile_inverted_conv.in_channels: expected 16 (the "
                      "previous layer's out_channels), got 24");
  expect_config_error(NULL, "\"in_features\": 1280", "\"in_features\": 1000",
                      ":39: classifier.in_features: expected 1280 (the feature_mix_layer's "
                      "out_channels), got 1000");
  expect_config_error("feature_mix_layer", "\"in_channels\": 320", "\"in_channels\": 32",
                      "feature_mix_layer.in_channels: expected 320 (the last block's "
                      "out_channels), got 32");
  expect_config_error(NULL, "\"act_func\": \"relu6\"", "\"act_func\": \"h_swish\"",
                      ":18: first_conv.act_func: expected \"relu6\" (the only value libpnas "
                      "supports), got the string \"h_swish\"");
  expect_config_error(NULL, "\"MBInvertedConvLayer\"", "\"MixedEdge\"",
                      "blocks[0].mobile_inverted_conv.name: expected \"MBInvertedConvLayer\" "
                      "or \"ZeroLayer\", got \"MixedEdge\"");
  expect_config_error("\"blocks\"", "\"kernel_size\": 3", "\"kernel_size\": 9",
                      "blocks[0].mobile_inverted_conv.kernel_size: expected 3, 5 or 7, got 9");
  expect_config_error("\"blocks\"", "\"expand_ratio\": 1", "\"expand_ratio\": 1.5",
                      "blocks[0].mobile_inverted_conv.expand_ratio: expected an integer, got 1.5");
  expect_config_error(NULL, "\"groups\": 1", "\"groups\": 2",
                      "first_conv.groups: expected 1 (the only value libpnas supports), got 2");
  expect_config_error(NULL, "\"bias\": false", "\"bias\": true", "first_conv.bias: expected false");
  expect_config_error(NULL, "\"dilation\": 1,", "\"dilation\": 1, \"padding\": 1,",
                      "first_conv.padding: unknown key");
  /* blocks[2] (32 -> 32, stride 1) without its shortcut. */
  expect_config_error("\"expand_ratio\": 3", "\"shortcut\": {", "\"shortcut\": null, \"x\": {",
                      "blocks[2].x: unknown key");
  expect_config_error("\"in_channels\": 32,\n                \"out_channels\": 32",
                      "\"shortcut\": {\n                \"name\": \"IdentityLayer\",\n"
                      "                \"in_channels\": 32,\n                \"out_channels\": "
                      "32,\n                \"use_bn\": false,\n                \"act_func\": "
                      "null,\n                \"dropout_rate\": 0,\n                "
                      "\"ops_order\": \"weight_bn_act\"\n            }",
                      "\"shortcut\": null",
                      "blocks[2].shortcut: expected an IdentityLayer: a block with stride 1 and "
                      "in_channels == out_channels (32) always has a residual in libpnas, got "
                      "null");
  /* blocks[1] (stride 2) with a shortcut. */
  expect_config_error("\"expand_ratio\": 3", "\"shortcut\": null",
                      "\"shortcut\": {\"name\": \"IdentityLayer\", \"in_channels\": 16, "
                      "\"out_channels\": 16}",
                      "blocks[1].shortcut: expected null: an identity shortcut needs stride 1");
  expect_config_error("\"ZeroLayer\"", "\"shortcut\": {", "\"shortcut\": null, \"y\": {",
                      "blocks[3].y: unknown key");
  expect_config_error(NULL, "\"classifier\"", "\"classifer\"",
                      "classifer: unknown key (expected one of: name, bn, first_conv, "
                      "feature_mix_layer, classifier, blocks)");
  expect_config_error(NULL, "{", "[", "YAML syntax error");
}
END_TEST

START_TEST(net_config_zero_layer_needs_a_shortcut) {
  const char *config =
      "{\"first_conv\": {\"name\": \"ConvLayer\", \"kernel_size\": 3, \"stride\": 1,\n"
      " \"in_channels\": 1, \"out_channels\": 8},\n"
      " \"feature_mix_layer\": null,\n"
      " \"classifier\": {\"name\": \"LinearLayer\", \"in_features\": 8, \"out_features\": 10,\n"
      "  \"dropout_rate\": 0.5},\n"
      " \"blocks\": [\n"
      "  {\"name\": \"MobileInvertedResidualBlock\",\n"
      "   \"mobile_inverted_conv\": {\"name\": \"ZeroLayer\", \"stride\": 1},\n"
      "   \"shortcut\": null}]}\n";
  pnas_context *ctx = plain_context();
  const char *path = scratch_path("zero.json");
  write_file(path, config);
  pnas_arch *arch = SENTINEL;
  assert_error(ctx, pnas_arch_import_net_config(ctx, path, 28, 28, &arch), PNAS_ERR_PARSE,
               ":9: blocks[0].shortcut: a ZeroLayer block needs an IdentityLayer shortcut");
  /* With the shortcut it is an identity block; optional keys may be left out. */
  char fixed[2048];
  snprintf(fixed, sizeof fixed,
           "%.*s{\"name\": \"IdentityLayer\", \"in_channels\": 8, "
           "\"out_channels\": 8}}]}\n",
           (int)(strstr(config, "null}]}") - config), config);
  write_file(path, fixed);
  ck_assert_int_eq(pnas_arch_import_net_config(ctx, path, 28, 28, &arch), PNAS_OK);
  const pnas_arch_info info = info_of(arch);
  ck_assert_int_eq(info.blocks, 1);
  ck_assert_int_eq(info.head_channels, 0);
  ck_assert(info.dropout == 0.5f);
  ck_assert_int_eq(block_of(arch, 0).kind, PNAS_BLOCK_IDENTITY);
  pnas_arch_destroy(arch);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- latency ----------------------------------------------------------- */

START_TEST(latency_of_the_mobile_space_net) {
  pnas_context *ctx = plain_context();
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model), PNAS_OK);
  pnas_arch *arch = load_yaml(ctx, fixture(MOBILE_SPACE));
  double ms = 0.0;
  const pnas_status st = pnas_latency_model_arch_latency(model, arch, &ms);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  /* tests/fixtures/arch/sum_latency.py: the 23 `mean` values (stem, 20
   * MBConv blocks, head, classifier) summed by PyYAML and Python. */
  ck_assert_double_eq_tol(ms, 82.52386035896993, 1e-9);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(latency_table_lacks_the_released_mobile_net) {
  /* mobile_trim.yaml was measured for the search space, whose first stage
   * is 24 wide; the released net's is 32. The first block it cannot price
   * is blocks[1]. */
  pnas_context *ctx = plain_context();
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model), PNAS_OK);
  pnas_arch *arch = import_config(ctx, MOBILE_CONFIG);
  double ms = -1.0;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NOT_FOUND,
               "has no entry for blocks[1]: key "
               "'expanded_conv-input:112x112x16-output:56x56x32-expand:3-kernel:5-stride:2-"
               "idskip:0'");
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "mobile_trim.yaml"));
  ck_assert(ms == -1.0);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(latency_missing_key_is_not_found) {
  pnas_context *ctx = plain_context();
  /* The shipped table without its Logits entry. */
  char *text = read_file(fixture(MOBILE_TABLE), NULL);
  char *logits = strstr(text, "Logits-input:7x7x1280-output:1000:");
  ck_assert_ptr_nonnull(logits);
  logits[0] = 'X';
  const char *path = scratch_path("trimmed.yaml");
  write_file(path, text);
  free(text);
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, path, &model), PNAS_OK);
  pnas_arch *arch = load_yaml(ctx, fixture(MOBILE_SPACE));
  double ms = -1.0;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NOT_FOUND,
               "has no entry for the classifier: key 'Logits-input:7x7x1280-output:1000'");
  ck_assert(ms == -1.0);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(latency_small_table_without_head) {
  /* Identity blocks cost 0; without a head conv there is no Conv_1 key and
   * the classifier reads the last block's channels. */
  pnas_context *ctx = plain_context();
  const char *path = scratch_path("small.yaml");
  write_file(path,
             "Conv-input:28x28x1-output:28x28x16: {count: 3, mean: 0.5, var: 0.01}\n"
             "expanded_conv-input:28x28x16-output:14x14x24-expand:6-kernel:5-stride:2-idskip:0:\n"
             "  mean: 1.25\n"
             "expanded_conv-input:14x14x24-output:14x14x24-expand:3-kernel:3-stride:1-idskip:1:\n"
             "  {mean: 0.75, count: 10}\n"
             "Logits-input:14x14x24-output:10: {mean: 0.125}\n");
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, path, &model), PNAS_OK);
  const char *arch_yaml =
      "format: pnas-arch/1\ninput: [28, 28, 1]\nclasses: 10\n"
      "stem: {channels: 16, kernel: 3, stride: 1}\n"
      "blocks:\n"
      "  - {op: mbconv, kernel: 5, expand: 6, out: 24, stride: 2}\n"
      "  - {op: identity}\n"
      "  - {op: mbconv, kernel: 3, expand: 3, out: 24, stride: 1}\n"
      "head: {channels: 0}\n";
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, arch_yaml, strlen(arch_yaml), &arch), PNAS_OK);
  double ms = 0.0;
  ck_assert_int_eq(pnas_latency_model_arch_latency(model, arch, &ms), PNAS_OK);
  ck_assert(ms == 0.5 + 1.25 + 0.75 + 0.125);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  cleanup_dir();
  pnas_context_destroy(ctx);
}
END_TEST

static void expect_table_error(const char *text, pnas_status expected, const char *needle) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  const char *path = scratch_path("table.yaml");
  write_file(path, text);
  pnas_latency_model *model = (pnas_latency_model *)(uintptr_t)0x1234;
  assert_error(ctx, pnas_latency_model_load_table(ctx, path, &model), expected, needle);
  ck_assert_ptr_eq(model, (pnas_latency_model *)(uintptr_t)0x1234);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  cleanup_dir();
}

START_TEST(latency_table_errors) {
  expect_table_error("a: {mean: 1}\nb: {count: 3}\n", PNAS_ERR_PARSE, ":2: b: missing key 'mean'");
  expect_table_error("a: {mean: fast}\n", PNAS_ERR_PARSE,
                     ":1: a.mean: expected a finite number, got fast");
  expect_table_error("a: {mean: -1}\n", PNAS_ERR_PARSE,
                     "a.mean: expected a latency of at least 0 ms, got -1");
  expect_table_error("a: {mean: 1, stddev: 2}\n", PNAS_ERR_PARSE,
                     "a.stddev: unknown key (expected one of: count, mean, var)");
  expect_table_error("a: {mean: 1}\nb: {mean: 2}\na: {mean: 3}\n", PNAS_ERR_PARSE,
                     ":3: a: duplicate key (first given on line 1)");
  expect_table_error("a: 1\n", PNAS_ERR_PARSE, ":1: a: expected a mapping, got 1");
  expect_table_error("- a\n", PNAS_ERR_PARSE, ":1: expected a mapping, got a sequence");
  expect_table_error("a: {mean: 1\n", PNAS_ERR_PARSE, "YAML syntax error");
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  pnas_latency_model *model = NULL;
  assert_error(ctx, pnas_latency_model_load_table(ctx, "/nonexistent/t.yaml", &model), PNAS_ERR_IO,
               "/nonexistent/t.yaml");
  ck_assert_ptr_null(model);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
}
END_TEST

/* ---- allocation failures ----------------------------------------------- */

typedef pnas_status (*operation)(pnas_context *ctx, void *state);

/* Runs op with the k-th allocation failing, for k = 1, 2, ... until it
 * succeeds: every failure must be PNAS_ERR_OUT_OF_MEMORY and leave exactly
 * the blocks that were live before; the final run must succeed. Returns the
 * number of allocations the operation makes. */
static long fail_every_allocation(operation op, void *state, void (*undo)(void *state)) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  long k = 1;
  for (;; k++) {
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

typedef struct arch_state {
  pnas_arch *arch;
  pnas_latency_model *model;
  const char *path;
  pnas_arch *input; /* built once, outside the counting context */
} arch_state;

static void undo_arch(void *s) {
  arch_state *a = s;
  pnas_arch_destroy(a->arch);
  a->arch = NULL;
  pnas_latency_model_destroy(a->model);
  a->model = NULL;
}

static pnas_status op_load_yaml(pnas_context *ctx, void *s) {
  arch_state *a = s;
  return pnas_arch_load_yaml(ctx, a->path, &a->arch);
}

static pnas_status op_import(pnas_context *ctx, void *s) {
  arch_state *a = s;
  return pnas_arch_import_net_config(ctx, a->path, 224, 224, &a->arch);
}

static pnas_status op_load_table(pnas_context *ctx, void *s) {
  arch_state *a = s;
  return pnas_latency_model_load_table(ctx, a->path, &a->model);
}

/* Save and export allocate from the arch's context: each run builds the
 * arch in the counting context, then writes it. */
static pnas_status op_save_and_export(pnas_context *ctx, void *s) {
  arch_state *a = s;
  pnas_arch *arch = NULL;
  pnas_status st = pnas_arch_load_yaml(ctx, fixture(MOBILE_SPACE), &arch);
  if (st != PNAS_OK) return st;
  st = pnas_arch_save_yaml(arch, scratch_path("oom.yaml"));
  if (st == PNAS_OK) st = pnas_arch_export_net_config(arch, scratch_path("oom.config"));
  if (st != PNAS_OK) {
    pnas_arch_destroy(arch);
    return st;
  }
  a->arch = arch;
  return PNAS_OK;
}

static pnas_status op_build(pnas_context *ctx, void *s) {
  arch_state *a = s;
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_arch *arch = NULL;
  pnas_status st = pnas_arch_create(ctx, &info, &arch);
  if (st != PNAS_OK) return st;
  pnas_block_info b;
  pnas_block_info_init(&b);
  b.out_channels = 16;
  /* Enough blocks to make the array grow. */
  for (int i = 0; i < 40 && st == PNAS_OK; i++) st = pnas_arch_append_block(arch, &b);
  if (st != PNAS_OK) {
    pnas_arch_destroy(arch);
    return st;
  }
  a->arch = arch;
  return PNAS_OK;
}

START_TEST(no_leaks_when_allocations_fail) {
  arch_state a = {0};
  a.path = fixture(MOBILE_SPACE);
  ck_assert_int_gt(fail_every_allocation(op_load_yaml, &a, undo_arch), 2);
  a.path = fixture(MOBILE_CONFIG);
  ck_assert_int_gt(fail_every_allocation(op_import, &a, undo_arch), 2);
  a.path = fixture(MOBILE_TABLE);
  ck_assert_int_gt(fail_every_allocation(op_load_table, &a, undo_arch), 2);
  ck_assert_int_gt(fail_every_allocation(op_build, &a, undo_arch), 2);
  ck_assert_int_gt(fail_every_allocation(op_save_and_export, &a, undo_arch), 2);
  cleanup_dir();
}
END_TEST

START_TEST(no_leaks_on_success_and_errors) {
  counting_alloc counts = {0};
  pnas_context *ctx = counting_context(&counts);
  const long live = counts.live;
  pnas_arch *arch = NULL;
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_arch_load_yaml(ctx, fixture(MOBILE_SPACE), &arch), PNAS_OK);
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model), PNAS_OK);
  double ms;
  ck_assert_int_eq(pnas_latency_model_arch_latency(model, arch, &ms), PNAS_OK);
  ck_assert_int_eq(pnas_arch_save_yaml(arch, scratch_path("a.yaml")), PNAS_OK);
  ck_assert_int_eq(pnas_arch_export_net_config(arch, scratch_path("a.config")), PNAS_OK);
  pnas_arch *imported = NULL;
  ck_assert_int_eq(pnas_arch_import_net_config(ctx, scratch_path("a.config"), 224, 224, &imported),
                   PNAS_OK);
  assert_same_arch(arch, imported);
  pnas_arch *mobile = NULL;
  ck_assert_int_eq(pnas_arch_import_net_config(ctx, fixture(MOBILE_CONFIG), 224, 224, &mobile),
                   PNAS_OK);
  ck_assert_int_eq(pnas_latency_model_arch_latency(model, mobile, &ms), PNAS_ERR_NOT_FOUND);
  pnas_arch_destroy(mobile);
  pnas_arch_destroy(imported);
  pnas_latency_model_destroy(model);
  pnas_arch_destroy(arch);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(counts.live, 0);
  cleanup_dir();
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("arch");
  TCase *counts = tcase_create("counts");
  tcase_add_test(counts, mobile_config_counts_match_the_paper);
  tcase_add_test(counts, gpu_config_counts_match_the_paper);
  tcase_add_test(counts, mobile_block_shapes);
  suite_add_tcase(s, counts);

  TCase *builder = tcase_create("builder");
  tcase_add_test(builder, builder_defaults_and_counts);
  tcase_add_test(builder, builder_rejects_bad_settings);
  tcase_add_test(builder, builder_rejects_bad_blocks);
  tcase_add_test(builder, struct_sizes_are_respected);
  tcase_add_test(builder, null_arguments_and_wrong_handles);
  suite_add_tcase(s, builder);

  TCase *yaml = tcase_create("yaml");
  tcase_add_test(yaml, yaml_parse_small_example);
  tcase_add_test(yaml, yaml_round_trip);
  tcase_add_test(yaml, yaml_mobile_space_fixture);
  tcase_add_test(yaml, yaml_syntax_error_names_the_line);
  tcase_add_test(yaml, yaml_value_errors_name_file_line_and_key);
  tcase_add_test(yaml, yaml_type_errors);
  tcase_add_test(yaml, yaml_counts_that_overflow_are_refused);
  tcase_add_test(yaml, yaml_unknown_missing_and_duplicate_keys);
  tcase_add_test(yaml, yaml_file_errors_name_the_file);
  suite_add_tcase(s, yaml);

  TCase *config = tcase_create("net_config");
  tcase_add_test(config, net_config_export_reproduces_the_official_files);
  tcase_add_test(config, net_config_round_trip_of_built_archs);
  tcase_add_test(config, net_config_errors_are_clear);
  tcase_add_test(config, net_config_zero_layer_needs_a_shortcut);
  suite_add_tcase(s, config);

  TCase *latency = tcase_create("latency");
  tcase_add_test(latency, latency_of_the_mobile_space_net);
  tcase_add_test(latency, latency_table_lacks_the_released_mobile_net);
  tcase_add_test(latency, latency_missing_key_is_not_found);
  tcase_add_test(latency, latency_small_table_without_head);
  tcase_add_test(latency, latency_table_errors);
  suite_add_tcase(s, latency);

  TCase *memory = tcase_create("memory");
  tcase_add_test(memory, no_leaks_when_allocations_fail);
  tcase_add_test(memory, no_leaks_on_success_and_errors);
  suite_add_tcase(s, memory);
  return s;
}
