/* SPDX-License-Identifier: MIT */
/* The configuration of `pnas search` and `pnas train`: one typed field per
 * `section.key` of the YAML file (docs/config.md), the defaults, a strict
 * loader, `--set section.key=value` overrides, cross-key checks and a writer.
 * Every function that fails prints one `pnas: error: ...` line (cli_error)
 * and returns 1; success returns 0. */
#ifndef PNAS_CLI_CONFIG_H
#define PNAS_CLI_CONFIG_H

#include <stdint.h>

#include <pnas/pnas.h>

/* Capacity of a path field, terminating NUL included. A longer path is an
 * error, never truncated. */
#define CLI_CONFIG_PATH_MAX 4096

/* latency.kind */
typedef enum cli_latency_kind {
  CLI_LATENCY_PROFILE = 0, /* measure a table on this machine (pnas_latency_model_profile) */
  CLI_LATENCY_TABLE = 1,   /* load latency.table (pnas_latency_model_load_table) */
  CLI_LATENCY_MACS = 2     /* MACs times latency.ms_per_mmac (pnas_latency_model_create_macs) */
} cli_latency_kind;

typedef struct cli_data_config {
  char dir[CLI_CONFIG_PATH_MAX]; /* Fashion-MNIST folder (the four IDX files) */
  int train_limit;               /* first N training images, 0 = all */
  int test_limit;                /* first N test images, 0 = all */
  int held_out_per_class;        /* training images per class held out for arch steps */
  double mean;                   /* normalisation: (x / 255 - mean) / std */
  double std;                    /* > 0 */
  int crop_padding;              /* search weight steps: random-crop padding, 0 = off */
  int flip;                      /* search weight steps: random horizontal flip (0/1) */
} cli_data_config;

typedef struct cli_space_config {
  char file[CLI_CONFIG_PATH_MAX]; /* search space YAML (pnas-space/1) */
} cli_space_config;

typedef struct cli_search_config {
  int warmup_epochs;      /* weight steps only, before the search */
  int epochs;             /* search epochs (weight and arch steps) */
  int batch_size;         /* weight-step batch, 1..4096 */
  double lr;              /* weight LR, cosine, for warm-up and search */
  double momentum;        /* SGD momentum */
  int nesterov;           /* 0/1 */
  double weight_decay;    /* SGD weight decay */
  double label_smoothing; /* weight steps only */
  int arch_every;         /* one arch step every N weight steps */
  int arch_batch_size;    /* arch-step batch (held-out images), 1..4096 */
  pnas_arch_mode arch_mode;
  double arch_lr; /* Adam on alpha */
  double arch_beta1;
  double arch_beta2;
  pnas_loss_form loss;    /* latency term */
  double target_ms;       /* T; > 0 unless loss is none (validate) */
  double lambda;          /* add and abs forms */
  double mul_log_a;       /* mul-log form */
  double mul_log_beta;    /* mul-log form */
  double prune_threshold; /* 0 = no pruning */
  int prune_patience;     /* arch steps below the threshold before pruning */
  int skip_zero_active;   /* 0/1 */
} cli_search_config;

typedef struct cli_latency_config {
  cli_latency_kind kind;
  char table[CLI_CONFIG_PATH_MAX]; /* lookup table YAML; "" = none */
  double ms_per_mmac;              /* macs kind: ms per million MACs, > 0 */
  int profile_batch;               /* profile kind: pnas_profile_options.batch */
  int profile_warmup;              /* profile kind: .warmup */
  int profile_repeats;             /* profile kind: .repeats */
} cli_latency_config;

typedef struct cli_train_config {
  int epochs;
  int batch_size; /* 1..4096 */
  double lr;      /* cosine from lr */
  double weight_decay;
  double label_smoothing;
  double dropout; /* before the classifier, [0, 1) */
  int crop_padding;
  int flip; /* 0/1 */
} cli_train_config;

typedef struct cli_run_config {
  int threads;   /* 0 = all processors */
  uint64_t seed; /* context seed */
} cli_run_config;

typedef struct cli_config {
  cli_data_config data;
  cli_space_config space;
  cli_search_config search;
  cli_latency_config latency;
  cli_train_config train;
  cli_run_config run;
} cli_config;

/* Fills every field with its default (docs/config.md). space.file is then the
 * relative name "fmnist-space.yaml": cli_config_load() resolves it against
 * the configuration file's folder when the file does not set it. */
void cli_config_defaults(cli_config *c);

/* Loads a YAML file over *c. Relative paths inside the file (space.file,
 * data.dir, latency.table) resolve against the file's folder and are stored
 * absolute. On error prints one `pnas: error: FILE:LINE: KEY: message` line,
 * leaves *c unchanged and returns 1. */
int cli_config_load(cli_config *c, const char *path);

/* Applies one `section.key=value` override (a relative path value is made
 * absolute against the working directory). On error prints one line naming
 * the key and the expected type or range, leaves *c unchanged and returns 1. */
int cli_config_set(cli_config *c, const char *assignment);

/* Checks every value's range and the cross-key rules (target_ms > 0 when the
 * loss is not none; latency.table set when latency.kind is table; paths not
 * empty). Prints the first violation and returns 1. */
int cli_config_validate(const cli_config *c);

/* Writes *c as YAML that cli_config_load() reads back to the same values
 * from any folder: a relative path field (a default such as space.file
 * without a configuration file) is written absolute against the working
 * directory. Path "-" is stdout; a file is written atomically (PATH.tmp,
 * then renamed). */
int cli_config_write(const cli_config *c, const char *path);

/* The names used in the file, for messages and logs. */
const char *cli_config_arch_mode_name(pnas_arch_mode mode);
const char *cli_config_loss_name(pnas_loss_form loss);
const char *cli_config_latency_kind_name(cli_latency_kind kind);

#endif /* PNAS_CLI_CONFIG_H */
