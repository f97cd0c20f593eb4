/* SPDX-License-Identifier: MIT */
/* Latency models through the public API: the host callback, the MACs model,
 * one block's latency, saving a table and loading it back, the on-host
 * profiler, bad arguments and wrong handles, and no leaks on any path
 * (allocation failures during profiling included). */
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
#define MOBILE_TABLE "proxylessnas/mobile_trim.yaml"
#define MOBILE_SPACE "arch/mobile_space.yaml"

/* A scratch folder per test, removed with its files by cleanup_dir(). */
static char scratch[256];

static const char *scratch_path(const char *name) {
  static char path[4][512];
  static int next = 0;
  if (scratch[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/pnas-latency-XXXXXX", tmp != NULL ? tmp : "/tmp");
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

static void assert_error(pnas_context *ctx, pnas_status got, pnas_status want, const char *needle) {
  ck_assert_msg(got == want, "status %s, want %s (%s)", pnas_status_string(got),
                pnas_status_string(want), pnas_context_last_error(ctx));
  ck_assert_msg(strstr(pnas_context_last_error(ctx), needle) != NULL, "message '%s' lacks '%s'",
                pnas_context_last_error(ctx), needle);
}

static void assert_ok(pnas_context *ctx, pnas_status st) {
  ck_assert_msg(st == PNAS_OK, "%s: %s", pnas_status_string(st), pnas_context_last_error(ctx));
}

static void destroy_counting(pnas_context *ctx, const counting_alloc *state) {
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state->live, 0);
}

static pnas_arch *mobile_net(pnas_context *ctx) {
  pnas_arch *arch = NULL;
  assert_ok(ctx, pnas_arch_import_net_config(ctx, fixture(MOBILE_CONFIG), 224, 224, &arch));
  return arch;
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

/* ---- host callback ----------------------------------------------------- */

/* What the callback saw, and how it answers. */
typedef struct host {
  int calls;
  int calls_by_part[4];
  char first_key[256], last_key[256];
  pnas_latency_query last;
  double ms_per_mmac;          /* answer: ms_per_mmac * block.macs / 1e6 */
  pnas_latency_part fail_part; /* this part ... */
  int fail_mode;               /* 0 answer; 1 return 7; 2 negative; 3 NaN; 4 no write */
} host;

static int host_latency(void *user, const pnas_latency_query *q, double *out_ms) {
  host *h = user;
  ck_assert_uint_eq(q->struct_size, sizeof *q);
  ck_assert_ptr_nonnull(q->key);
  if (h->calls == 0) snprintf(h->first_key, sizeof h->first_key, "%s", q->key);
  snprintf(h->last_key, sizeof h->last_key, "%s", q->key);
  h->calls++;
  h->calls_by_part[q->part]++;
  h->last = *q;
  h->last.key = NULL; /* valid only during the call */
  if (h->fail_mode != 0 && q->part == h->fail_part) {
    switch (h->fail_mode) {
      case 1:
        return 7;
      case 2:
        *out_ms = -0.5;
        return 0;
      case 3:
        *out_ms = NAN;
        return 0;
      default:
        return 0;
    }
  }
  *out_ms = h->ms_per_mmac * (double)q->block.macs / 1e6;
  return 0;
}

START_TEST(callback_prices_every_part_with_its_key) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  host h;
  memset(&h, 0, sizeof h);
  h.ms_per_mmac = 0.01;
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_create_callback(ctx, host_latency, &h, &model));
  pnas_arch *arch = mobile_net(ctx);
  const pnas_arch_info info = info_of(arch);
  double ms = 0.0;
  assert_ok(ctx, pnas_latency_model_arch_latency(model, arch, &ms));
  /* Every part once, in network order: the stem, each MBConv block
   * (identity blocks cost 0 without a call), the head conv and the
   * classifier. */
  int32_t mbconv = 0;
  for (int32_t i = 0; i < info.blocks; i++) mbconv += block_of(arch, i).kind == PNAS_BLOCK_MBCONV;
  ck_assert_int_eq(mbconv, info.blocks - 2);
  ck_assert_int_eq(h.calls, mbconv + 3);
  ck_assert_int_eq(h.calls_by_part[PNAS_LATENCY_STEM], 1);
  ck_assert_int_eq(h.calls_by_part[PNAS_LATENCY_BLOCK], mbconv);
  ck_assert_int_eq(h.calls_by_part[PNAS_LATENCY_HEAD], 1);
  ck_assert_int_eq(h.calls_by_part[PNAS_LATENCY_LOGITS], 1);
  ck_assert_str_eq(h.first_key, "Conv-input:224x224x3-output:112x112x32");
  ck_assert_str_eq(h.last_key, "Logits-input:7x7x1280-output:1000");
  /* The classifier's shape: features in, classes out. */
  ck_assert_int_eq(h.last.part, PNAS_LATENCY_LOGITS);
  ck_assert_int_eq(h.last.block.in_channels, 1280);
  ck_assert_int_eq(h.last.block.out_channels, 1000);
  ck_assert_int_eq(h.last.block.in_height, 7);
  ck_assert_int_eq(h.last.block.macs, 1280 * 1000);
  /* The MACs the callback was given add up to the network's. */
  ck_assert_double_eq_tol(ms, 0.01 * 320.427584, 1e-12);
  ck_assert_int_eq(info.macs, 320427584);

  /* One block through pnas_latency_model_block_latency: the callback sees
   * the block with its computed members. */
  const pnas_block_info b1 = block_of(arch, 1);
  pnas_block_info req;
  ck_assert_int_eq(pnas_block_info_init(&req), PNAS_OK);
  req.kind = b1.kind;
  req.in_channels = b1.in_channels;
  req.out_channels = b1.out_channels;
  req.kernel = b1.kernel;
  req.expand = b1.expand;
  req.stride = b1.stride;
  req.in_height = b1.in_height;
  req.in_width = b1.in_width;
  h.calls = 0;
  assert_ok(ctx, pnas_latency_model_block_latency(model, &req, &ms));
  ck_assert_int_eq(h.calls, 1);
  ck_assert_int_eq(h.last.part, PNAS_LATENCY_BLOCK);
  ck_assert_int_eq(h.last.block.out_height, b1.out_height);
  ck_assert_int_eq(h.last.block.residual, b1.residual);
  ck_assert_int_eq(h.last.block.macs, b1.macs);
  ck_assert_int_eq(h.last.block.params, b1.params);
  ck_assert_str_eq(h.last_key,
                   "expanded_conv-input:112x112x16-output:56x56x32-expand:3-kernel:5-stride:2-"
                   "idskip:0");
  ck_assert_double_eq_tol(ms, 0.01 * (double)b1.macs / 1e6, 1e-15);
  /* Identity costs 0 without asking. */
  req.kind = PNAS_BLOCK_IDENTITY;
  h.calls = 0;
  assert_ok(ctx, pnas_latency_model_block_latency(model, &req, &ms));
  ck_assert(ms == 0.0);
  ck_assert_int_eq(h.calls, 0);

  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  destroy_counting(ctx, &state);
}
END_TEST

START_TEST(callback_errors_name_the_key) {
  pnas_context *ctx = NULL;
  counting_alloc state = {0};
  ctx = counting_context(&state);
  host h;
  memset(&h, 0, sizeof h);
  h.ms_per_mmac = 0.01;
  h.fail_part = PNAS_LATENCY_HEAD;
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_create_callback(ctx, host_latency, &h, &model));
  pnas_arch *arch = mobile_net(ctx);
  double ms = -1.0;
  h.fail_mode = 1;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NOT_FOUND,
               "the latency callback failed (returned 7) for the head: key "
               "'Conv_1-input:7x7x320-output:7x7x1280'");
  h.fail_mode = 2;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NUMERIC,
               "gave -0.5 ms for the head: key 'Conv_1-input:7x7x320-output:7x7x1280'");
  h.fail_mode = 3;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NUMERIC,
               "gave nan ms for the head");
  h.fail_mode = 4; /* success without writing the answer */
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NUMERIC,
               "must be finite and at least 0");
  /* A block names its index. */
  h.fail_part = PNAS_LATENCY_BLOCK;
  h.fail_mode = 1;
  assert_error(ctx, pnas_latency_model_arch_latency(model, arch, &ms), PNAS_ERR_NOT_FOUND,
               "for blocks[0]: key 'expanded_conv-input:112x112x32-output:112x112x16-expand:1-"
               "kernel:3-stride:1-idskip:0'");
  ck_assert(ms == -1.0);
  /* A table cannot be saved from a callback. */
  assert_error(ctx, pnas_latency_model_save_table(model, scratch_path("cb.yaml")),
               PNAS_ERR_UNSUPPORTED, "the model is a callback model, not a table");
  cleanup_dir();

  /* NULL function and out-parameter. */
  pnas_latency_model *untouched = (pnas_latency_model *)(uintptr_t)0x1234;
  assert_error(ctx, pnas_latency_model_create_callback(ctx, NULL, &h, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "pnas_latency_model_create_callback: fn is NULL");
  assert_error(ctx, pnas_latency_model_create_callback(ctx, host_latency, &h, NULL),
               PNAS_ERR_INVALID_ARGUMENT, "out_model is NULL");
  ck_assert_ptr_eq(untouched, (pnas_latency_model *)(uintptr_t)0x1234);
  ck_assert_int_eq(pnas_latency_model_create_callback(NULL, host_latency, &h, &untouched),
                   PNAS_ERR_INVALID_ARGUMENT);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  destroy_counting(ctx, &state);
}
END_TEST

/* ---- MACs -------------------------------------------------------------- */

START_TEST(macs_model_prices_the_mobile_net) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_create_macs(ctx, 0.05, &model));
  pnas_arch *arch = mobile_net(ctx);
  double ms = 0.0;
  assert_ok(ctx, pnas_latency_model_arch_latency(model, arch, &ms));
  /* ALGORITHM.md section 1: 320.427584 M MACs. */
  ck_assert_double_eq_tol(ms, 0.05 * 320.427584, 1e-12);
  /* Each block priced alone costs its MACs, as the arch counts them. */
  const pnas_arch_info info = info_of(arch);
  double sum = 0.0;
  for (int32_t i = 0; i < info.blocks; i++) {
    const pnas_block_info b = block_of(arch, i);
    double block_ms = -1.0;
    assert_ok(ctx, pnas_latency_model_block_latency(model, &b, &block_ms));
    ck_assert_double_eq_tol(block_ms, 0.05 * (double)b.macs / 1e6, 1e-15);
    sum += block_ms;
  }
  /* What is left is the stem, the head and the classifier:
   * 112*112*3*32*9 + 7*7*320*1280 + 1280*1000 MACs. */
  const double fixed =
      0.05 * (112.0 * 112 * 3 * 32 * 9 + 7.0 * 7 * 320 * 1280 + 1280.0 * 1000) / 1e6;
  ck_assert_double_eq_tol(ms - sum, fixed, 1e-9);
  assert_error(ctx, pnas_latency_model_save_table(model, "never.yaml"), PNAS_ERR_UNSUPPORTED,
               "the model is a MACs model, not a table");

  /* The rate must be a finite positive number. */
  pnas_latency_model *untouched = (pnas_latency_model *)(uintptr_t)0x1234;
  const double bad[] = {0.0, -1.0, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_error(ctx, pnas_latency_model_create_macs(ctx, bad[i], &untouched),
                 PNAS_ERR_INVALID_ARGUMENT, "ms_per_mmac is");
  }
  assert_error(ctx, pnas_latency_model_create_macs(ctx, 1.0, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_model is NULL");
  ck_assert_ptr_eq(untouched, (pnas_latency_model *)(uintptr_t)0x1234);
  ck_assert_int_eq(pnas_latency_model_create_macs(NULL, 1.0, &untouched),
                   PNAS_ERR_INVALID_ARGUMENT);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(model);
  destroy_counting(ctx, &state);
}
END_TEST

/* ---- one block --------------------------------------------------------- */

START_TEST(block_latency_from_a_table) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model));
  /* expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0,
   * mean 6.240567073170731 in the file. Only the inputs are set. */
  pnas_block_info b;
  ck_assert_int_eq(pnas_block_info_init(&b), PNAS_OK);
  b.in_channels = 16;
  b.out_channels = 24;
  b.kernel = 3;
  b.expand = 3;
  b.stride = 2;
  b.in_height = 112;
  b.in_width = 112;
  b.out_height = 999; /* computed, so ignored */
  double ms = -1.0;
  assert_ok(ctx, pnas_latency_model_block_latency(model, &b, &ms));
  ck_assert(ms == 6.240567073170731);

  /* Missing key: named, out_ms untouched. */
  ms = -1.0;
  b.kernel = 7;
  b.in_height = b.in_width = 100;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_NOT_FOUND,
               "has no entry for the block: key 'expanded_conv-input:100x100x16-output:50x50x24-"
               "expand:3-kernel:7-stride:2-idskip:0'");
  ck_assert(ms == -1.0);
  /* Bad members are named. */
  b.kernel = 4;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.kernel is 4; it must be 3, 5 or 7");
  b.kernel = 3;
  b.stride = 3;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.stride is 3");
  b.stride = 1;
  b.expand = 0;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.expand is 0; it must be between 1 and 64");
  b.expand = 1;
  b.in_height = 0;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.in_height is 0");
  b.in_height = 8;
  b.in_channels = -2;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.in_channels is -2");
  b.in_channels = 16;
  b.kind = (pnas_block_kind)5;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block.kind is 5");
  b.kind = PNAS_BLOCK_MBCONV;
  b.struct_size = 8;
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block->struct_size is 8");
  ck_assert(ms == -1.0);
  /* Identity is free even in a table that lacks its key. */
  ck_assert_int_eq(pnas_block_info_init(&b), PNAS_OK);
  b.kind = PNAS_BLOCK_IDENTITY;
  b.in_channels = 5;
  assert_ok(ctx, pnas_latency_model_block_latency(model, &b, &ms));
  ck_assert(ms == 0.0);
  /* NULL arguments. */
  assert_error(ctx, pnas_latency_model_block_latency(model, NULL, &ms), PNAS_ERR_INVALID_ARGUMENT,
               "block is NULL");
  assert_error(ctx, pnas_latency_model_block_latency(model, &b, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_ms is NULL");
  ck_assert_int_eq(pnas_latency_model_block_latency(NULL, &b, &ms), PNAS_ERR_INVALID_ARGUMENT);
  pnas_latency_model_destroy(model);
  destroy_counting(ctx, &state);
}
END_TEST

/* ---- saving a table ---------------------------------------------------- */

START_TEST(save_table_round_trips) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model));
  const char *saved = scratch_path("saved.yaml");
  assert_ok(ctx, pnas_latency_model_save_table(model, saved));
  /* The official layout, with the numbers written as the file had them
   * (the shortest form that reads back exactly). */
  char *text = read_file(saved);
  ck_assert_ptr_nonnull(strstr(text,
                               "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:3-"
                               "stride:2-idskip:0:\n  count: 164\n  mean: 6.240567073170731\n"
                               "  var: 0.07330791484716055\n"));
  ck_assert_ptr_nonnull(strstr(text, "Conv-input:224x224x3-output:112x112x32:\n  count: 982\n"));

  pnas_latency_model *again = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, saved, &again));
  /* Exact means: the same architecture costs the same double, and every
   * block the same. */
  pnas_arch *arch = NULL;
  assert_ok(ctx, pnas_arch_load_yaml(ctx, fixture(MOBILE_SPACE), &arch));
  double a = 0.0, b = 0.0;
  assert_ok(ctx, pnas_latency_model_arch_latency(model, arch, &a));
  assert_ok(ctx, pnas_latency_model_arch_latency(again, arch, &b));
  ck_assert(a == b);
  ck_assert_double_eq_tol(a, 82.52386035896993, 1e-9);
  const pnas_arch_info info = info_of(arch);
  for (int32_t i = 0; i < info.blocks; i++) {
    const pnas_block_info blk = block_of(arch, i);
    assert_ok(ctx, pnas_latency_model_block_latency(model, &blk, &a));
    assert_ok(ctx, pnas_latency_model_block_latency(again, &blk, &b));
    ck_assert(a == b);
  }
  /* Saving the reloaded table writes the same bytes. */
  const char *twice = scratch_path("twice.yaml");
  assert_ok(ctx, pnas_latency_model_save_table(again, twice));
  char *text2 = read_file(twice);
  ck_assert_str_eq(text, text2);
  free(text);
  free(text2);

  /* Errors: NULL path, a folder that does not exist, wrong handles. */
  assert_error(ctx, pnas_latency_model_save_table(model, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "path is NULL");
  const pnas_status io = pnas_latency_model_save_table(model, "/nonexistent-dir/t.yaml");
  ck_assert_int_eq(io, PNAS_ERR_IO);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "/nonexistent-dir/t.yaml"));
  ck_assert_int_eq(pnas_latency_model_save_table(NULL, saved), PNAS_ERR_INVALID_ARGUMENT);
  pnas_arch_destroy(arch);
  pnas_latency_model_destroy(again);
  pnas_latency_model_destroy(model);
  cleanup_dir();
  destroy_counting(ctx, &state);
}
END_TEST

START_TEST(save_table_quotes_odd_keys_and_keeps_optional_fields) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  const char *in = scratch_path("odd.yaml");
  /* Keys a plain scalar could not hold, an entry without count or var, and
   * a mean that needs all 17 digits. */
  write_file(in,
             "\"key: with space\": {mean: 1.5}\n"
             "\"null\": {mean: 2, count: 0}\n"
             "\"quote\\\"and\\\\back\": {mean: 0.1, var: 0}\n"
             "\"42\": {mean: 0.30000000000000004, var: 1e-300}\n"
             "plain-key:x: {mean: 0}\n");
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, in, &model));
  const char *out = scratch_path("odd-saved.yaml");
  assert_ok(ctx, pnas_latency_model_save_table(model, out));
  char *text = read_file(out);
  ck_assert_ptr_nonnull(strstr(text, "\"key: with space\":\n  mean: 1.5\n"));
  ck_assert_ptr_nonnull(strstr(text, "\"null\":\n  count: 0\n  mean: 2\n"));
  ck_assert_ptr_nonnull(strstr(text, "\"quote\\\"and\\\\back\":\n  mean: 0.1\n  var: 0\n"));
  ck_assert_ptr_nonnull(strstr(text, "\"42\":\n  mean: 0.30000000000000004\n  var: 1e-300\n"));
  ck_assert_ptr_nonnull(strstr(text, "\nplain-key:x:\n  mean: 0\n"));
  free(text);
  /* And it loads back, saving to the same bytes. */
  pnas_latency_model *again = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, out, &again));
  const char *out2 = scratch_path("odd-twice.yaml");
  assert_ok(ctx, pnas_latency_model_save_table(again, out2));
  char *a = read_file(out), *b = read_file(out2);
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
  pnas_latency_model_destroy(again);
  pnas_latency_model_destroy(model);

  /* An empty table is an empty mapping, not an empty (null) document. */
  write_file(in, "{}\n");
  assert_ok(ctx, pnas_latency_model_load_table(ctx, in, &model));
  assert_ok(ctx, pnas_latency_model_save_table(model, out));
  char *empty = read_file(out);
  ck_assert_str_eq(empty, "{}\n");
  free(empty);
  pnas_latency_model_destroy(model);
  assert_ok(ctx, pnas_latency_model_load_table(ctx, out, &model));
  pnas_latency_model_destroy(model);
  cleanup_dir();
  destroy_counting(ctx, &state);
}
END_TEST

/* ---- the profiler ------------------------------------------------------ */

/* 8x8x1 input, stem 3x3 -> 8, first block 8, two stages, head 32:
 *   stage 0: width 16, depth 2, stride 2, {3x3 e3, 5x5 e6, zero}
 *   stage 1: width 24, depth 3, stride 1, {3x3 e3, 7x7 e6, zero}
 * Layers 1 and 2 of stage 1 have the same shape, hence the same keys. */
static pnas_space *tiny_space(pnas_context *ctx) {
  pnas_space_info info;
  ck_assert_int_eq(pnas_space_info_init(&info), PNAS_OK);
  info.input_height = 8;
  info.input_width = 8;
  info.input_channels = 1;
  info.classes = 10;
  info.stem_channels = 8;
  info.stem_kernel = 3;
  info.stem_stride = 1;
  info.first_block_channels = 8;
  info.head_channels = 32;
  pnas_space *space = NULL;
  assert_ok(ctx, pnas_space_create(ctx, &info, &space));
  const pnas_op_spec a[] = {{PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_MBCONV, 5, 6}, {PNAS_OP_ZERO, 0, 0}};
  const pnas_op_spec b[] = {{PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_MBCONV, 7, 6}, {PNAS_OP_ZERO, 0, 0}};
  assert_ok(ctx, pnas_space_add_stage(space, 16, 2, 2, a, 3, 0));
  assert_ok(ctx, pnas_space_add_stage(space, 24, 3, 1, b, 3, 0));
  return space;
}

static pnas_profile_options quick_options(void) {
  pnas_profile_options o;
  ck_assert_int_eq(pnas_profile_options_init(&o), PNAS_OK);
  o.warmup = 1;
  o.repeats = 3;
  return o;
}

/* The key of candidate `op` of a layer, formatted independently of the
 * library from the public layer shape. */
static void candidate_key(const pnas_block_info *shape, const pnas_op_spec *op, char *buf,
                          size_t cap) {
  snprintf(buf, cap,
           "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-idskip:%d",
           (int)shape->in_height, (int)shape->in_width, (int)shape->in_channels,
           (int)shape->out_height, (int)shape->out_width, (int)shape->out_channels, (int)op->expand,
           (int)op->kernel, (int)shape->stride, (int)shape->residual);
}

/* The entry for key in a saved table, or NULL. */
static const char *entry_of(const char *text, const char *key) {
  char needle[300];
  snprintf(needle, sizeof needle, "%s:\n  count: 3\n  mean: ", key);
  const char *at = strstr(text, needle);
  ck_assert_msg(at != NULL, "the profiled table lacks '%s'", key);
  /* Keys start a line. */
  ck_assert(at == text || at[-1] == '\n');
  return at + strlen(needle);
}

START_TEST(profile_measures_every_key_of_a_tiny_space) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_space *space = tiny_space(ctx);
  const pnas_profile_options o = quick_options();
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_profile(ctx, space, &o, &model));

  /* Every key the space can ask for is in the table, timed with 3 runs and
   * a positive median. */
  const char *path = scratch_path("profiled.yaml");
  assert_ok(ctx, pnas_latency_model_save_table(model, path));
  char *text = read_file(path);
  int expected = 0, entries = 0;
  for (const char *p = strstr(text, "  count: 3\n"); p != NULL; p = strstr(p + 1, "  count: 3\n")) {
    entries++;
  }
  const char *fixed[] = {"Conv-input:8x8x1-output:8x8x8",
                         "expanded_conv-input:8x8x8-output:8x8x8-expand:1-kernel:3-stride:1-"
                         "idskip:1",
                         "Conv_1-input:4x4x24-output:4x4x32", "Logits-input:4x4x32-output:10"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    ck_assert(strtod(entry_of(text, fixed[i]), NULL) > 0.0);
    expected++;
  }
  pnas_space_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ck_assert_int_eq(pnas_space_get_info(space, &info), PNAS_OK);
  ck_assert_int_eq(info.layers, 5);
  for (int32_t l = 0; l < info.layers; l++) {
    pnas_block_info shape;
    memset(&shape, 0, sizeof shape);
    shape.struct_size = sizeof shape;
    pnas_op_spec ops[8];
    int32_t count = 0;
    ck_assert_int_eq(pnas_space_get_layer(space, l, &shape, ops, 8, &count), PNAS_OK);
    for (int32_t j = 0; j < count; j++) {
      if (ops[j].kind == PNAS_OP_ZERO) continue;
      char key[256];
      candidate_key(&shape, &ops[j], key, sizeof key);
      ck_assert(strtod(entry_of(text, key), NULL) > 0.0);
      /* Layers 1 and 2 of stage 1 repeat layer 1's keys. */
      if (l != 4) expected++;
      /* The model prices the candidate as a block. */
      pnas_block_info req;
      ck_assert_int_eq(pnas_block_info_init(&req), PNAS_OK);
      req.in_channels = shape.in_channels;
      req.out_channels = shape.out_channels;
      req.kernel = ops[j].kernel;
      req.expand = ops[j].expand;
      req.stride = shape.stride;
      req.in_height = shape.in_height;
      req.in_width = shape.in_width;
      double ms = 0.0;
      assert_ok(ctx, pnas_latency_model_block_latency(model, &req, &ms));
      ck_assert(ms > 0.0);
    }
  }
  /* Identical keys were timed once: one entry per distinct key. */
  ck_assert_int_eq(expected, 12);
  ck_assert_int_eq(entries, expected);
  free(text);

  /* The derived architecture is priced. */
  pnas_supernet *sn = NULL;
  assert_ok(ctx, pnas_supernet_create(ctx, space, NULL, &sn));
  pnas_arch *arch = NULL;
  assert_ok(ctx, pnas_supernet_derive(sn, &arch));
  double ms = 0.0;
  assert_ok(ctx, pnas_latency_model_arch_latency(model, arch, &ms));
  ck_assert(ms > 0.0);
  pnas_arch_destroy(arch);
  pnas_supernet_destroy(sn);

  /* The loaded copy gives the same prices. */
  pnas_latency_model *loaded = NULL;
  assert_ok(ctx, pnas_latency_model_load_table(ctx, path, &loaded));
  pnas_latency_model_destroy(loaded);
  pnas_latency_model_destroy(model);
  pnas_space_destroy(space);
  cleanup_dir();
  destroy_counting(ctx, &state);
}
END_TEST

START_TEST(profile_options_and_arguments) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_profile_options o;
  ck_assert_int_eq(pnas_profile_options_init(&o), PNAS_OK);
  ck_assert_uint_eq(o.struct_size, sizeof o);
  ck_assert_int_eq(o.batch, 1);
  ck_assert_int_eq(o.warmup, 5);
  ck_assert_int_eq(o.repeats, 21);
  ck_assert_int_eq(pnas_profile_options_init_sized(NULL, sizeof o), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_profile_options_init_sized(&o, 4), PNAS_ERR_INVALID_ARGUMENT);
  /* A caller with a newer, larger struct gets zeros past ours. */
  unsigned char big[sizeof o + 16];
  memset(big, 0xab, sizeof big);
  ck_assert_int_eq(pnas_profile_options_init_sized((pnas_profile_options *)(void *)big, sizeof big),
                   PNAS_OK);
  for (size_t i = sizeof o; i < sizeof big; i++) ck_assert_int_eq(big[i], 0);

  pnas_space *space = tiny_space(ctx);
  pnas_latency_model *untouched = (pnas_latency_model *)(uintptr_t)0x1234;
  o = quick_options();
  o.repeats = 0;
  assert_error(ctx, pnas_latency_model_profile(ctx, space, &o, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "pnas_profile_options.repeats is 0");
  o = quick_options();
  o.batch = 0;
  assert_error(ctx, pnas_latency_model_profile(ctx, space, &o, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "pnas_profile_options.batch is 0");
  o = quick_options();
  o.warmup = -1;
  assert_error(ctx, pnas_latency_model_profile(ctx, space, &o, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "pnas_profile_options.warmup is -1");
  o = quick_options();
  o.struct_size = 3;
  assert_error(ctx, pnas_latency_model_profile(ctx, space, &o, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "pnas_profile_options.struct_size is 3");
  o = quick_options();
  assert_error(ctx, pnas_latency_model_profile(ctx, NULL, &o, &untouched),
               PNAS_ERR_INVALID_ARGUMENT, "space is NULL");
  assert_error(ctx, pnas_latency_model_profile(ctx, space, &o, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_model is NULL");
  assert_error(
      ctx, pnas_latency_model_profile(ctx, (const pnas_space *)(const void *)ctx, &o, &untouched),
      PNAS_ERR_WRONG_HANDLE, "space is not a live pnas_space");
  ck_assert_int_eq(pnas_latency_model_profile(NULL, space, &o, &untouched),
                   PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(untouched, (pnas_latency_model *)(uintptr_t)0x1234);
  /* Batch 2 and the options' defaults for warm-up are accepted. */
  o.batch = 2;
  pnas_latency_model *model = NULL;
  assert_ok(ctx, pnas_latency_model_profile(ctx, space, &o, &model));
  pnas_latency_model_destroy(model);
  pnas_space_destroy(space);
  destroy_counting(ctx, &state);
}
END_TEST

START_TEST(profile_survives_every_allocation_failure) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_space *space = tiny_space(ctx);
  const pnas_profile_options o = quick_options();
  const long live = state.live;
  int failures = 0;
  for (long k = 1;; k++) {
    state.fail_at = state.calls + k;
    pnas_latency_model *model = (pnas_latency_model *)(uintptr_t)0x1234;
    const pnas_status st = pnas_latency_model_profile(ctx, space, &o, &model);
    state.fail_at = 0;
    if (st == PNAS_OK) {
      pnas_latency_model_destroy(model);
      break;
    }
    ck_assert_msg(st == PNAS_ERR_OUT_OF_MEMORY, "allocation %ld: %s (%s)", k,
                  pnas_status_string(st), pnas_context_last_error(ctx));
    ck_assert_ptr_eq(model, (pnas_latency_model *)(uintptr_t)0x1234);
    ck_assert_msg(state.live == live, "allocation %ld failed: %ld blocks leaked", k,
                  state.live - live);
    failures++;
  }
  ck_assert_int_gt(failures, 20);
  ck_assert_int_eq(state.live, live);
  pnas_space_destroy(space);
  destroy_counting(ctx, &state);
}
END_TEST

START_TEST(model_allocation_failures_leak_nothing) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  host h;
  memset(&h, 0, sizeof h);
  for (int kind = 0; kind < 3; kind++) {
    for (long k = 1;; k++) {
      state.fail_at = state.calls + k;
      pnas_latency_model *model = NULL;
      pnas_status st;
      if (kind == 0) {
        st = pnas_latency_model_create_callback(ctx, host_latency, &h, &model);
      } else if (kind == 1) {
        st = pnas_latency_model_create_macs(ctx, 1.0, &model);
      } else {
        st = pnas_latency_model_load_table(ctx, fixture(MOBILE_TABLE), &model);
        if (st == PNAS_OK) {
          st = pnas_latency_model_save_table(model, scratch_path("oom.yaml"));
          if (st != PNAS_OK) {
            pnas_latency_model_destroy(model);
            model = NULL;
          }
        }
      }
      state.fail_at = 0;
      if (st == PNAS_OK) {
        pnas_latency_model_destroy(model);
        break;
      }
      ck_assert_msg(st == PNAS_ERR_OUT_OF_MEMORY || st == PNAS_ERR_IO, "%s",
                    pnas_context_last_error(ctx));
      ck_assert_ptr_null(model);
    }
  }
  cleanup_dir();
  destroy_counting(ctx, &state);
}
END_TEST

/* ---- handles ----------------------------------------------------------- */

START_TEST(wrong_handles_are_refused) {
  pnas_context *ctx = NULL;
  counting_alloc state = {0};
  ctx = counting_context(&state);
  pnas_latency_model *fake = (pnas_latency_model *)(void *)ctx;
  pnas_block_info b;
  ck_assert_int_eq(pnas_block_info_init(&b), PNAS_OK);
  double ms = -1.0;
  ck_assert_int_eq(pnas_latency_model_block_latency(fake, &b, &ms), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_latency_model_save_table(fake, "x.yaml"), PNAS_ERR_WRONG_HANDLE);
  ck_assert(ms == -1.0);
  pnas_latency_model_destroy(fake); /* ignored */
  pnas_latency_model_destroy(NULL);
  /* A context that is not one. */
  pnas_latency_model *untouched = NULL;
  pnas_space *space = tiny_space(ctx);
  ck_assert_int_eq(pnas_latency_model_create_macs((pnas_context *)(void *)space, 1.0, &untouched),
                   PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_latency_model_create_callback((pnas_context *)(void *)space, host_latency,
                                                      NULL, &untouched),
                   PNAS_ERR_WRONG_HANDLE);
  const pnas_profile_options o = quick_options();
  ck_assert_int_eq(pnas_latency_model_profile((pnas_context *)(void *)space, space, &o, &untouched),
                   PNAS_ERR_WRONG_HANDLE);
  ck_assert_ptr_null(untouched);
  pnas_space_destroy(space);
  destroy_counting(ctx, &state);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("latency-kinds");
  TCase *tc = tcase_create("callback");
  tcase_add_test(tc, callback_prices_every_part_with_its_key);
  tcase_add_test(tc, callback_errors_name_the_key);
  suite_add_tcase(s, tc);
  tc = tcase_create("macs");
  tcase_add_test(tc, macs_model_prices_the_mobile_net);
  tcase_add_test(tc, block_latency_from_a_table);
  suite_add_tcase(s, tc);
  tc = tcase_create("save");
  tcase_add_test(tc, save_table_round_trips);
  tcase_add_test(tc, save_table_quotes_odd_keys_and_keeps_optional_fields);
  suite_add_tcase(s, tc);
  tc = tcase_create("profile");
  tcase_add_test(tc, profile_measures_every_key_of_a_tiny_space);
  tcase_add_test(tc, profile_options_and_arguments);
  tcase_add_test(tc, profile_survives_every_allocation_failure);
  suite_add_tcase(s, tc);
  tc = tcase_create("handles");
  tcase_add_test(tc, model_allocation_failures_leak_nothing);
  tcase_add_test(tc, wrong_handles_are_refused);
  suite_add_tcase(s, tc);
  return s;
}
