/* SPDX-License-Identifier: MIT */
/* Fuzz target: the `pnas` command's configuration file
 * (examples/pnas/config.c, linked in). cli_config_load reads a file, so the
 * input is written to a per-process temporary file. A loaded configuration
 * is validated, written and read back: the two must be equal
 * (cli_config_write's promise). The command prints its errors through
 * cli_error; here that only checks and counts the message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int errors_reported;

int cli_error(const char *fmt, ...) {
  char message[8192];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  FUZZ_CHECK(n > 0, "an empty error message");
  FUZZ_CHECK(strchr(message, '\n') == NULL, "a multi-line error message: %s", message);
  errors_reported++;
  return 1;
}

/* Field by field: the bytes after a path's NUL and the padding are not
 * part of the value. */
static int same_config(const cli_config *a, const cli_config *b) {
#define SAME(f) (a->f == b->f)
#define SAME_TEXT(f) (strcmp(a->f, b->f) == 0)
  return SAME_TEXT(data.dir) && SAME(data.train_limit) && SAME(data.test_limit) &&
         SAME(data.held_out_per_class) && SAME(data.mean) && SAME(data.std) &&
         SAME(data.crop_padding) && SAME(data.flip) && SAME_TEXT(space.file) &&
         SAME(search.warmup_epochs) && SAME(search.epochs) && SAME(search.batch_size) &&
         SAME(search.lr) && SAME(search.momentum) && SAME(search.nesterov) &&
         SAME(search.weight_decay) && SAME(search.label_smoothing) && SAME(search.arch_every) &&
         SAME(search.arch_batch_size) && SAME(search.arch_mode) && SAME(search.arch_lr) &&
         SAME(search.arch_beta1) && SAME(search.arch_beta2) && SAME(search.loss) &&
         SAME(search.target_ms) && SAME(search.lambda) && SAME(search.mul_log_a) &&
         SAME(search.mul_log_beta) && SAME(search.prune_threshold) && SAME(search.prune_patience) &&
         SAME(search.skip_zero_active) && SAME(latency.kind) && SAME_TEXT(latency.table) &&
         SAME(latency.ms_per_mmac) && SAME(latency.profile_batch) && SAME(latency.profile_warmup) &&
         SAME(latency.profile_repeats) && SAME(train.epochs) && SAME(train.batch_size) &&
         SAME(train.lr) && SAME(train.weight_decay) && SAME(train.label_smoothing) &&
         SAME(train.dropout) && SAME(train.crop_padding) && SAME(train.flip) && SAME(run.threads) &&
         SAME(run.seed);
#undef SAME
#undef SAME_TEXT
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[512], written[512];
  fuzz_write(path, sizeof path, "pnas.yaml", data, size);
  static cli_config loaded, before, back;
  cli_config_defaults(&loaded);
  before = loaded;
  errors_reported = 0;
  if (cli_config_load(&loaded, path) != 0) {
    FUZZ_CHECK(errors_reported == 1, "a failed load reported %d errors", errors_reported);
    FUZZ_CHECK(same_config(&loaded, &before), "a failed load changed the config");
    return 0;
  }
  FUZZ_CHECK(errors_reported == 0, "a successful load reported an error");
  errors_reported = 0;
  if (cli_config_validate(&loaded) != 0) {
    FUZZ_CHECK(errors_reported == 1, "a failed validation reported %d errors", errors_reported);
  }
  fuzz_path(written, sizeof written, "written.yaml");
  FUZZ_CHECK(cli_config_write(&loaded, written) == 0, "cli_config_write failed");
  cli_config_defaults(&back);
  FUZZ_CHECK(cli_config_load(&back, written) == 0, "the written configuration does not load");
  FUZZ_CHECK(same_config(&back, &loaded), "write -> load does not give the same configuration");
  return 0;
}
