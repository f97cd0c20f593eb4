/* SPDX-License-Identifier: MIT */
/* `pnas profile`: measures a latency lookup table on this machine for every
 * candidate op of a search space (and its stem, head and classifier), in the
 * official ProxylessNAS format, for `pnas search` (latency.kind: table),
 * `pnas info`, `pnas plot` and `pnas eval` (--latency-table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

static void profile_usage(FILE *out) {
  fprintf(out,
          "usage: pnas profile --out LUT.yaml [--space FILE] [--config FILE] [--threads N]\n"
          "                    [--batch N] [--repeats N] [--warmup N]\n"
          "\n"
          "Times every candidate op of the search space FILE (default: the configuration's\n"
          "space.file) on this machine and writes the latency table LUT.yaml (official\n"
          "ProxylessNAS format). --batch, --repeats and --warmup default to the\n"
          "configuration's latency.profile_* settings. See docs/cli.md.\n");
}

/* Parses an integer option value in [lo, hi] into *out; 1 after the error. */
static int int_option(const char *name, const char *text, long lo, long hi, int *out) {
  char *end = NULL;
  const long n = strtol(text, &end, 10);
  if (end == text || *end != '\0' || n < lo || n > hi) {
    return cli_error("profile: %s needs an integer in %ld..%ld, got '%s'", name, lo, hi, text);
  }
  *out = (int)n;
  return 0;
}

int cmd_profile(int argc, char **argv) {
  cli_config cfg;
  cli_config_defaults(&cfg);
  const char *config = NULL, *threads = NULL, *space_file = NULL, *out = NULL;
  int batch = -1, repeats = -1, warmup = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      profile_usage(stdout);
      return 0;
    } else if (has_value && !strcmp(a, "--space")) {
      space_file = argv[++i];
    } else if (has_value && !strcmp(a, "--config")) {
      config = argv[++i];
    } else if (has_value && !strcmp(a, "--out")) {
      out = argv[++i];
    } else if (has_value && !strcmp(a, "--threads")) {
      threads = argv[++i];
    } else if (has_value && !strcmp(a, "--batch")) {
      if (int_option("--batch", argv[++i], 1, 4096, &batch) != 0) return 1;
    } else if (has_value && !strcmp(a, "--repeats")) {
      if (int_option("--repeats", argv[++i], 1, 1000000, &repeats) != 0) return 1;
    } else if (has_value && !strcmp(a, "--warmup")) {
      if (int_option("--warmup", argv[++i], 0, 1000000, &warmup) != 0) return 1;
    } else {
      return cli_error("profile: unknown or incomplete option '%s' (see pnas profile --help)",
                       a);
    }
  }
  if (out == NULL) return cli_error("profile: --out LUT.yaml is required");
  if (config == NULL && access("examples/configs/fmnist.yaml", R_OK) == 0) {
    config = "examples/configs/fmnist.yaml";
  }
  if (config == NULL && access(PNAS_CONFIG_DIR "/fmnist.yaml", R_OK) == 0) {
    config = PNAS_CONFIG_DIR "/fmnist.yaml";
  }
  if (config != NULL && cli_config_load(&cfg, config) != 0) return 1;
  if (threads != NULL) {
    char assignment[128];
    snprintf(assignment, sizeof assignment, "run.threads=%s", threads);
    if (cli_config_set(&cfg, assignment) != 0) return 1;
  }
  if (cli_config_validate(&cfg) != 0) return 1;
  if (space_file == NULL) space_file = cfg.space.file;

  pnas_context_options o;
  pnas_context_options_init(&o);
  if (cfg.run.threads > 0) o.threads = cfg.run.threads;
  o.seed = cfg.run.seed;
  pnas_context *ctx = NULL;
  char error[512];
  if (pnas_context_create(&o, &ctx, error, sizeof error) != PNAS_OK) {
    return cli_error("%s", error);
  }
  pnas_profile_options po;
  pnas_profile_options_init(&po);
  po.batch = batch >= 0 ? batch : cfg.latency.profile_batch;
  po.repeats = repeats >= 0 ? repeats : cfg.latency.profile_repeats;
  po.warmup = warmup >= 0 ? warmup : cfg.latency.profile_warmup;
  pnas_space *space = NULL;
  pnas_latency_model *model = NULL;
  int rc = 0;
  if (pnas_space_load_yaml(ctx, space_file, &space) != PNAS_OK ||
      pnas_latency_model_profile(ctx, space, &po, &model) != PNAS_OK ||
      pnas_latency_model_save_table(model, out) != PNAS_OK) {
    rc = cli_library_error(ctx);
  } else {
    printf("wrote: %s\n", out);
  }
  pnas_latency_model_destroy(model);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  return rc;
}
