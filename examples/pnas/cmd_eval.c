/* SPDX-License-Identifier: MIT */
/* `pnas eval`: the test accuracy of a trained network (pnas train's
 * model.pnas), its measured inference latency at batch 1 and 64, and the
 * latency a latency model predicts for its architecture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "run.h"

#define EVAL_MAX_BATCH 64

typedef struct eval_run {
  cli_config cfg;
  const char *model_file, *table;
  int repeats;
  pnas_context *ctx;
  pnas_dataset *test;
  pnas_net *net;
  pnas_arch *arch;
  pnas_latency_model *model;
  float *images, *logits;
} eval_run;

static int lib_fail(eval_run *r) { return cli_library_error(r->ctx); }

static int compare_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Warm-up 5 runs, then the median of r->repeats runs, in ms. */
static int time_infer(eval_run *r, int32_t batch, double *out_ms) {
  double *t = malloc(sizeof(double) * (size_t)r->repeats);
  if (t == NULL) return cli_error("out of memory");
  for (int i = 0; i < 5 + r->repeats; i++) {
    const double start = run_now();
    if (pnas_net_infer(r->net, r->images, batch, r->logits) != PNAS_OK) {
      free(t);
      return lib_fail(r);
    }
    if (i >= 5) t[i - 5] = 1e3 * (run_now() - start);
  }
  qsort(t, (size_t)r->repeats, sizeof *t, compare_double);
  *out_ms = t[r->repeats / 2];
  if (r->repeats % 2 == 0) *out_ms = 0.5 * (t[r->repeats / 2 - 1] + t[r->repeats / 2]);
  free(t);
  return 0;
}

/* EVAL_MAX_BATCH test images (repeated if the set is smaller), normalised. */
static int timing_inputs(eval_run *r, const pnas_arch_info *ai) {
  const size_t image = (size_t)ai->input_height * (size_t)ai->input_width *
                       (size_t)ai->input_channels;
  r->images = malloc(sizeof(float) * image * EVAL_MAX_BATCH);
  r->logits = malloc(sizeof(float) * (size_t)ai->classes * EVAL_MAX_BATCH);
  if (r->images == NULL || r->logits == NULL) return cli_error("out of memory");
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = EVAL_MAX_BATCH;
  bo.shuffle = 0;
  bo.mean[0] = bo.mean[1] = bo.mean[2] = (float)r->cfg.data.mean;
  bo.std[0] = bo.std[1] = bo.std[2] = (float)r->cfg.data.std;
  pnas_batcher *b = NULL;
  if (pnas_batcher_create(r->test, &bo, &b) != PNAS_OK) return lib_fail(r);
  const float *x;
  const int32_t *y;
  int32_t n = 0;
  const pnas_status st = pnas_batcher_next_view(b, &x, &y, &n);
  if (st == PNAS_OK && n > 0) {
    for (int32_t i = 0; i < EVAL_MAX_BATCH; i++) {
      memcpy(r->images + (size_t)i * image, x + (size_t)(i % n) * image, sizeof(float) * image);
    }
  }
  pnas_batcher_destroy(b);
  if (st != PNAS_OK) return lib_fail(r);
  if (n == 0) return cli_error("the test set is empty");
  return 0;
}

static int has_dir_latency(const char *model_file, char *path, size_t cap) {
  const char *slash = strrchr(model_file, '/');
  if (slash == NULL) {
    snprintf(path, cap, "latency.yaml");
  } else {
    snprintf(path, cap, "%.*s/latency.yaml", (int)(slash - model_file), model_file);
  }
  return access(path, R_OK) == 0;
}

/* The latency model, or none (*out NULL) for a profile-kind configuration
 * without a table. */
static int latency_model(eval_run *r) {
  char beside[4200];
  pnas_status st = PNAS_OK;
  if (r->table != NULL) {
    st = pnas_latency_model_load_table(r->ctx, r->table, &r->model);
  } else if (has_dir_latency(r->model_file, beside, sizeof beside)) {
    st = pnas_latency_model_load_table(r->ctx, beside, &r->model);
  } else if (r->cfg.latency.kind == CLI_LATENCY_TABLE) {
    st = pnas_latency_model_load_table(r->ctx, r->cfg.latency.table, &r->model);
  } else if (r->cfg.latency.kind == CLI_LATENCY_MACS) {
    st = pnas_latency_model_create_macs(r->ctx, r->cfg.latency.ms_per_mmac, &r->model);
  }
  return st == PNAS_OK ? 0 : lib_fail(r);
}

static void tear_down(eval_run *r) {
  free(r->images);
  free(r->logits);
  pnas_latency_model_destroy(r->model);
  pnas_arch_destroy(r->arch);
  pnas_net_destroy(r->net);
  pnas_dataset_destroy(r->test);
  pnas_context_destroy(r->ctx);
}

static void eval_usage(FILE *out) {
  fprintf(out,
          "usage: pnas eval --model FILE [--config FILE] [--set section.key=value]...\n"
          "                 [--threads N] [--latency-table LUT.yaml] [--repeats N]\n"
          "\n"
          "Prints the test accuracy of a network saved by `pnas train` (FILE, model.pnas),\n"
          "its inference latency measured here at batch 1 and 64 (5 warm-up runs, then the\n"
          "median of N runs, default 21), and the latency predicted by LUT.yaml, else by\n"
          "latency.yaml beside FILE, else by the configuration's latency settings.\n"
          "See docs/cli.md.\n");
}

static int run_eval(eval_run *r) {
  char images[4200], labels[4200];
  snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", r->cfg.data.dir);
  snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", r->cfg.data.dir);
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = EVAL_MAX_BATCH;
  if (pnas_net_load(r->ctx, r->model_file, &no, &r->net) != PNAS_OK) return lib_fail(r);
  if (pnas_net_get_arch(r->net, &r->arch) != PNAS_OK) return lib_fail(r);
  pnas_arch_info ai;
  pnas_arch_info_init(&ai);
  pnas_arch_get_info(r->arch, &ai);
  if (latency_model(r) != 0) return 1;
  double predicted = 0.0;
  if (r->model != NULL &&
      pnas_latency_model_arch_latency(r->model, r->arch, &predicted) != PNAS_OK) {
    return lib_fail(r);
  }
  if (pnas_dataset_load_idx(r->ctx, images, labels, &r->test) != PNAS_OK) {
    return cli_error("%s (the Fashion-MNIST test set; on Debian apt-get install "
                     "dataset-fashion-mnist, or set data.dir)",
                     pnas_context_last_error(r->ctx));
  }
  pnas_dataset_info di = {.struct_size = sizeof di};
  pnas_dataset_get_info(r->test, &di);
  if (r->cfg.data.test_limit > 0 && r->cfg.data.test_limit < di.count) {
    pnas_dataset *part = NULL;
    if (pnas_dataset_subset(r->test, 0, r->cfg.data.test_limit, &part) != PNAS_OK) {
      return lib_fail(r);
    }
    pnas_dataset_destroy(r->test);
    r->test = part;
  }
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.mean[0] = bo.mean[1] = bo.mean[2] = (float)r->cfg.data.mean;
  bo.std[0] = bo.std[1] = bo.std[2] = (float)r->cfg.data.std;
  pnas_step_stats ev = {.struct_size = sizeof ev};
  if (pnas_net_evaluate(r->net, r->test, &bo, &ev) != PNAS_OK) return lib_fail(r);
  double b1 = 0.0, b64 = 0.0;
  if (timing_inputs(r, &ai) != 0 || time_infer(r, 1, &b1) != 0 ||
      time_infer(r, EVAL_MAX_BATCH, &b64) != 0) {
    return 1;
  }
  printf("test_acc: %.4f\n", ev.accuracy);
  printf("latency_ms_b1: %.6f\n", b1);
  printf("latency_ms_b64: %.6f\n", b64);
  if (r->model != NULL) {
    printf("predicted_latency_ms: %.6f\n", predicted);
  } else {
    printf("predicted_latency_ms: n/a (no latency table: pass --latency-table)\n");
  }
  return 0;
}

int cmd_eval(int argc, char **argv) {
  eval_run r;
  memset(&r, 0, sizeof r);
  r.repeats = 21;
  const char *config = NULL, *threads = NULL;
  cli_config_defaults(&r.cfg);
  const char *sets[256];
  int set_count = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      eval_usage(stdout);
      return 0;
    } else if (has_value && !strcmp(a, "--model")) {
      r.model_file = argv[++i];
    } else if (has_value && !strcmp(a, "--config")) {
      config = argv[++i];
    } else if (has_value && !strcmp(a, "--set")) {
      if (set_count == 256) return cli_error("too many --set options (256 at most)");
      sets[set_count++] = argv[++i];
    } else if (has_value && !strcmp(a, "--threads")) {
      threads = argv[++i];
    } else if (has_value && !strcmp(a, "--latency-table")) {
      r.table = argv[++i];
    } else if (has_value && !strcmp(a, "--repeats")) {
      char *end = NULL;
      const long n = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || n < 1 || n > 1000000) {
        return cli_error("eval: --repeats needs an integer in 1..1000000, got '%s'", argv[i]);
      }
      r.repeats = (int)n;
    } else {
      return cli_error("eval: unknown or incomplete option '%s' (see pnas eval --help)", a);
    }
  }
  if (r.model_file == NULL) return cli_error("eval: --model FILE is required");
  if (config == NULL && access("examples/configs/fmnist.yaml", R_OK) == 0) {
    config = "examples/configs/fmnist.yaml";
  }
  if (config == NULL && access(PNAS_CONFIG_DIR "/fmnist.yaml", R_OK) == 0) {
    config = PNAS_CONFIG_DIR "/fmnist.yaml";
  }
  if (config != NULL && cli_config_load(&r.cfg, config) != 0) return 1;
  for (int i = 0; i < set_count; i++) {
    if (cli_config_set(&r.cfg, sets[i]) != 0) return 1;
  }
  if (threads != NULL) {
    char assignment[128];
    snprintf(assignment, sizeof assignment, "run.threads=%s", threads);
    if (cli_config_set(&r.cfg, assignment) != 0) return 1;
  }
  if (cli_config_validate(&r.cfg) != 0) return 1;
  pnas_context_options o;
  pnas_context_options_init(&o);
  if (r.cfg.run.threads > 0) o.threads = r.cfg.run.threads;
  o.seed = r.cfg.run.seed;
  char error[512];
  if (pnas_context_create(&o, &r.ctx, error, sizeof error) != PNAS_OK) {
    return cli_error("%s", error);
  }
  const int rc = run_eval(&r);
  tear_down(&r);
  return rc;
}
