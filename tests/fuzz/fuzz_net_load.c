/* SPDX-License-Identifier: MIT */
/* Fuzz target: network files (pnas_net_load, which reads a file: the input
 * is written to a per-process temporary file). As for supernet
 * checkpoints, the target rewrites the trailing CRC-32 so that changes reach
 * the contents, except for inputs whose size is a multiple of 16. A loaded
 * network is exercised: its architecture, and when small an inference, a
 * training step and save -> load -> save. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
  if (size >= 8) {
    unsigned char *fixed = malloc(size);
    FUZZ_CHECK(fixed != NULL, "out of memory");
    memcpy(fixed, data, size);
    const uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
    memcpy(fixed + size - 4, &crc, 4);
    fuzz_write(path, sizeof path, "input.net", fixed, size);
    free(fixed);
  } else {
    fuzz_write(path, sizeof path, "input.net", data, size);
  }
  pnas_context *ctx = fuzz_context();
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = 1;
  pnas_net *untouched = (pnas_net *)&ctx;
  pnas_net *net = untouched;
  const pnas_status s = pnas_net_load(ctx, path, &o, &net);
  if (s == PNAS_OK) {
    fuzz_exercise_net(ctx, net);
    pnas_net_destroy(net);
  } else {
    fuzz_check_failure(ctx, s, "pnas_net_load");
    FUZZ_CHECK(net == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
