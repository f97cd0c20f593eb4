/* SPDX-License-Identifier: MIT */
/* Fuzz target: the official latency lookup table YAML
 * (pnas_latency_model_load_table, which reads a file: the input is written
 * to a per-process temporary file). A loaded table prices a small fixed
 * architecture (the seed corpus holds tables with all of its keys) and must
 * survive save -> load -> save byte for byte (docs/formats.md). */
#include <math.h>
#include <string.h>

#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Priced by every loaded table; tests/fuzz/make_seeds.c writes its keys. */
static const char priced_arch[] =
    "format: pnas-arch/1\n"
    "input: [28, 28, 1]\n"
    "classes: 10\n"
    "stem: {channels: 16, kernel: 3, stride: 1}\n"
    "blocks:\n"
    "  - {op: mbconv, kernel: 3, expand: 1, out: 8, stride: 1}\n"
    "  - {op: mbconv, kernel: 5, expand: 3, out: 16, stride: 2}\n"
    "  - {op: identity}\n"
    "  - {op: mbconv, kernel: 7, expand: 6, out: 16, stride: 1}\n"
    "head: {channels: 64}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  return 0;
}

static void price(pnas_context *ctx, pnas_latency_model *model) {
  pnas_arch *arch = NULL;
  pnas_status s = pnas_arch_parse_yaml(ctx, priced_arch, strlen(priced_arch), &arch);
  FUZZ_CHECK(s == PNAS_OK, "the fixed architecture: %s", pnas_context_last_error(ctx));
  double ms = -1.0;
  s = pnas_latency_model_arch_latency(model, arch, &ms);
  if (s == PNAS_OK) {
    FUZZ_CHECK(isfinite(ms) && ms >= 0.0, "arch latency %g", ms);
  } else {
    fuzz_check_failure(ctx, s, "pnas_latency_model_arch_latency");
    FUZZ_CHECK(ms == -1.0, "out_ms written on failure");
  }
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  FUZZ_CHECK(pnas_arch_get_info(arch, &info) == PNAS_OK, "get_info");
  for (int32_t i = 0; i < info.blocks; i++) {
    pnas_block_info block;
    pnas_block_info_init(&block);
    FUZZ_CHECK(pnas_arch_get_block(arch, i, &block) == PNAS_OK, "get_block");
    s = pnas_latency_model_block_latency(model, &block, &ms);
    if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_latency_model_block_latency");
  }
  pnas_arch_destroy(arch);
}

static void roundtrip(pnas_context *ctx, const pnas_latency_model *model) {
  char a[512], b[512];
  fuzz_path(a, sizeof a, "table-a.yaml");
  fuzz_path(b, sizeof b, "table-b.yaml");
  pnas_status s = pnas_latency_model_save_table(model, a);
  FUZZ_CHECK(s == PNAS_OK, "save_table: %s", pnas_context_last_error(ctx));
  pnas_latency_model *back = NULL;
  s = pnas_latency_model_load_table(ctx, a, &back);
  FUZZ_CHECK(s == PNAS_OK, "load_table of a saved table: %s", pnas_context_last_error(ctx));
  s = pnas_latency_model_save_table(back, b);
  FUZZ_CHECK(s == PNAS_OK, "save_table: %s", pnas_context_last_error(ctx));
  fuzz_check_same_file(a, b, "latency table save -> load -> save");
  pnas_latency_model_destroy(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  fuzz_write(path, sizeof path, "input.yaml", data, size);
  pnas_context *ctx = fuzz_context();
  pnas_latency_model *untouched = (pnas_latency_model *)&ctx;
  pnas_latency_model *model = untouched;
  const pnas_status s = pnas_latency_model_load_table(ctx, path, &model);
  if (s == PNAS_OK) {
    price(ctx, model);
    roundtrip(ctx, model);
    pnas_latency_model_destroy(model);
  } else {
    fuzz_check_failure(ctx, s, "pnas_latency_model_load_table");
    FUZZ_CHECK(model == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
