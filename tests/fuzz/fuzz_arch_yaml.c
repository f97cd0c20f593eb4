/* SPDX-License-Identifier: MIT */
/* Fuzz target: architecture YAML (pnas_arch_parse_yaml), then the arch's
 * accessors, its YAML and net.config round trips and, for small
 * architectures, a network built from it. */
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
  pnas_context *ctx = fuzz_context();
  pnas_arch *untouched = (pnas_arch *)&ctx;
  pnas_arch *arch = untouched;
  const pnas_status s = pnas_arch_parse_yaml(ctx, (const char *)data, size, &arch);
  if (s == PNAS_OK) {
    fuzz_exercise_arch(ctx, arch);
    pnas_arch_destroy(arch);
  } else {
    fuzz_check_failure(ctx, s, "pnas_arch_parse_yaml");
    FUZZ_CHECK(arch == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
