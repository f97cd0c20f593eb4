/* SPDX-License-Identifier: MIT */
/* Fuzz target: supernet checkpoints (pnas_supernet_load, which reads a
 * file: the input is written to a per-process temporary file). A
 * checkpoint ends with a CRC-32 of everything before it; random changes
 * would almost never get past it, so the target rewrites the last four
 * bytes with the right CRC, except for inputs whose size is a multiple of
 * 16, which are written as they are. A loaded supernet is exercised: its
 * accessors, a weight step, an arch step and pruning with the options and
 * prices it was loaded with (REINFORCE only with at most 64 samples),
 * derivation, and save -> load -> save. */
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
    fuzz_write(path, sizeof path, "input.ckpt", fixed, size);
    free(fixed);
  } else {
    fuzz_write(path, sizeof path, "input.ckpt", data, size);
  }
  pnas_context *ctx = fuzz_context();
  pnas_supernet *untouched = (pnas_supernet *)&ctx;
  pnas_supernet *sn = untouched;
  void *host = (void *)&ctx;
  size_t host_size = 12345;
  const pnas_status s = pnas_supernet_load(ctx, path, 1, &sn, &host, &host_size);
  if (s == PNAS_OK) {
    FUZZ_CHECK((host == NULL) == (host_size == 0), "host data %p of %zu bytes", host, host_size);
    pnas_free(host);
    fuzz_exercise_supernet(ctx, sn);
    pnas_supernet_destroy(sn);
  } else {
    fuzz_check_failure(ctx, s, "pnas_supernet_load");
    FUZZ_CHECK(sn == untouched && host == (void *)&ctx && host_size == 12345,
               "an out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
