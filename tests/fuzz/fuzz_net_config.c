/* SPDX-License-Identifier: MIT */
/* Fuzz target: the official net.config JSON (pnas_arch_import_net_config,
 * which reads a file: the input is written to a per-process temporary
 * file). The input size is 224 x 224 as for the released nets, or 28 x 28
 * when the input ends with a newline, so that small networks get run. */
#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512];
  fuzz_write(path, sizeof path, "input.config", data, size);
  const int32_t side = size > 0 && data[size - 1] == '\n' ? 28 : 224;
  pnas_context *ctx = fuzz_context();
  pnas_arch *untouched = (pnas_arch *)&ctx;
  pnas_arch *arch = untouched;
  const pnas_status s = pnas_arch_import_net_config(ctx, path, side, side, &arch);
  if (s == PNAS_OK) {
    fuzz_exercise_arch(ctx, arch);
    pnas_arch_destroy(arch);
  } else {
    fuzz_check_failure(ctx, s, "pnas_arch_import_net_config");
    FUZZ_CHECK(arch == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
