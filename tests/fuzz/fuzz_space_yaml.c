/* SPDX-License-Identifier: MIT */
/* Fuzz target: search space YAML (pnas_space_parse_yaml), then the space's
 * accessors, its save -> load -> save round trip and, for small spaces, a
 * supernet built from it. */
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
  pnas_space *untouched = (pnas_space *)&ctx;
  pnas_space *space = untouched;
  const pnas_status s = pnas_space_parse_yaml(ctx, (const char *)data, size, &space);
  if (s == PNAS_OK) {
    fuzz_exercise_space(ctx, space);
    pnas_space_destroy(space);
  } else {
    fuzz_check_failure(ctx, s, "pnas_space_parse_yaml");
    FUZZ_CHECK(space == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
