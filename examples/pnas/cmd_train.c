/* SPDX-License-Identifier: MIT */
/* `pnas train`: retrains an architecture (a searched one, or any other) from
 * scratch on the whole Fashion-MNIST training set with the train.* settings,
 * evaluates it on the test set after every epoch and saves the network. With
 * --inherit, the network is the one derived from a search checkpoint, with
 * the supernet's weights. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "run.h"

typedef struct train_run {
  cli_config cfg;
  const char *arch_file, *inherit, *out;
  int quiet;
  pnas_context *ctx;
  pnas_dataset *train, *test;
  pnas_arch *arch;
  pnas_supernet *sn;
  pnas_net *net;
  pnas_batcher *batcher;
} train_run;

static int lib_fail(train_run *r) { return cli_library_error(r->ctx); }

static int has_suffix(const char *s, const char *suffix) {
  const size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int load_data(train_run *r, const char *prefix, int limit, pnas_dataset **out) {
  char images[4200], labels[4200];
  snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", r->cfg.data.dir, prefix);
  snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", r->cfg.data.dir, prefix);
  if (pnas_dataset_load_idx(r->ctx, images, labels, out) != PNAS_OK) {
    return cli_error("%s (Fashion-MNIST; on Debian apt-get install dataset-fashion-mnist, "
                     "or set data.dir)",
                     pnas_context_last_error(r->ctx));
  }
  pnas_dataset_info info = {.struct_size = sizeof info};
  pnas_dataset_get_info(*out, &info);
  if (limit > 0 && limit < info.count) {
    pnas_dataset *part = NULL;
    if (pnas_dataset_subset(*out, 0, limit, &part) != PNAS_OK) return lib_fail(r);
    pnas_dataset_destroy(*out);
    *out = part;
  }
  return 0;
}

/* The network: from --arch (fresh weights) or from --inherit. */
static int build_net(train_run *r) {
  const cli_train_config *t = &r->cfg.train;
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = t->batch_size;
  no.dropout = (float)t->dropout;
  if (r->inherit != NULL) {
    if (pnas_supernet_load(r->ctx, r->inherit, t->batch_size, &r->sn, NULL, NULL) != PNAS_OK ||
        pnas_supernet_derive_net(r->sn, &no, 1, &r->net) != PNAS_OK) {
      return lib_fail(r);
    }
  } else {
    pnas_dataset_info di = {.struct_size = sizeof di};
    pnas_dataset_get_info(r->train, &di);
    const pnas_status st =
        has_suffix(r->arch_file, ".config") || has_suffix(r->arch_file, ".json")
            ? pnas_arch_import_net_config(r->ctx, r->arch_file, di.height, di.width, &r->arch)
            : pnas_arch_load_yaml(r->ctx, r->arch_file, &r->arch);
    if (st != PNAS_OK) return lib_fail(r);
    if (pnas_net_create(r->ctx, r->arch, &no, &r->net) != PNAS_OK) return lib_fail(r);
  }
  /* The network must take the data's images. */
  pnas_arch *arch = NULL;
  if (pnas_net_get_arch(r->net, &arch) != PNAS_OK) return lib_fail(r);
  pnas_arch_info ai;
  pnas_arch_info_init(&ai);
  pnas_arch_get_info(arch, &ai);
  pnas_arch_destroy(arch);
  pnas_dataset_info di = {.struct_size = sizeof di};
  pnas_dataset_get_info(r->train, &di);
  if (ai.input_height != di.height || ai.input_width != di.width ||
      ai.input_channels != di.channels || ai.classes < di.classes) {
    return cli_error("%s: the network takes %dx%dx%d images into %d classes, the data are "
                     "%dx%dx%d in %d classes",
                     r->inherit != NULL ? r->inherit : r->arch_file, (int)ai.input_height,
                     (int)ai.input_width, (int)ai.input_channels, (int)ai.classes,
                     (int)di.height, (int)di.width, (int)di.channels, (int)di.classes);
  }
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.lr = (float)t->lr;
  sgd.weight_decay = (float)t->weight_decay;
  sgd.label_smoothing = (float)t->label_smoothing;
  if (pnas_net_set_sgd(r->net, &sgd) != PNAS_OK) return lib_fail(r);
  return 0;
}

static void normalization(const cli_config *c, pnas_batcher_options *bo) {
  pnas_batcher_options_init(bo);
  bo->mean[0] = bo->mean[1] = bo->mean[2] = (float)c->data.mean;
  bo->std[0] = bo->std[1] = bo->std[2] = (float)c->data.std;
}

static int train_loop(train_run *r, double *test_acc) {
  const cli_train_config *t = &r->cfg.train;
  pnas_batcher_options bo;
  normalization(&r->cfg, &bo);
  bo.batch_size = t->batch_size;
  bo.seed = r->cfg.run.seed;
  bo.crop_padding = t->crop_padding;
  bo.horizontal_flip = t->flip;
  if (pnas_batcher_create(r->train, &bo, &r->batcher) != PNAS_OK) return lib_fail(r);
  pnas_dataset_info di = {.struct_size = sizeof di};
  pnas_dataset_get_info(r->train, &di);
  const int64_t steps_per_epoch = (di.count + t->batch_size - 1) / t->batch_size;
  const int64_t total = steps_per_epoch * t->epochs;
  run_progress progress;
  run_progress_init(&progress, r->quiet, t->epochs, steps_per_epoch);
  progress.validation = "test";
  int64_t step = 0;
  for (int epoch = 1; epoch <= t->epochs; epoch++) {
    double loss = 0.0, acc = 0.0;
    int64_t images = 0;
    for (int64_t k = 0;; k++) {
      const float *x;
      const int32_t *y;
      int32_t n = 0;
      if (pnas_batcher_next_view(r->batcher, &x, &y, &n) != PNAS_OK) return lib_fail(r);
      if (n == 0) break;
      pnas_net_set_lr(r->net, pnas_lr_cosine((float)t->lr, step++, total));
      pnas_step_stats st = {.struct_size = sizeof st};
      if (pnas_net_train_step(r->net, x, y, n, &st) != PNAS_OK) return lib_fail(r);
      loss += st.loss * n;
      acc += st.accuracy * n;
      images += n;
      run_progress_step(&progress, "train", epoch, k + 1, n, st.loss, st.accuracy, 0.0);
    }
    pnas_step_stats ev = {.struct_size = sizeof ev};
    if (pnas_net_evaluate(r->net, r->test, &bo, &ev) != PNAS_OK) return lib_fail(r);
    *test_acc = ev.accuracy;
    run_progress_epoch_seconds(&progress);
    run_progress_epoch_end(&progress, epoch, images ? loss / (double)images : 0.0,
                           images ? acc / (double)images : 0.0, ev.accuracy);
  }
  return 0;
}

static void tear_down(train_run *r) {
  pnas_batcher_destroy(r->batcher);
  pnas_net_destroy(r->net);
  pnas_supernet_destroy(r->sn);
  pnas_arch_destroy(r->arch);
  pnas_dataset_destroy(r->train);
  pnas_dataset_destroy(r->test);
  pnas_context_destroy(r->ctx);
}

static void train_usage(FILE *out) {
  fprintf(out,
          "usage: pnas train --arch FILE [--config FILE] [--out DIR] [--set section.key=value]...\n"
          "                  [--threads N] [--seed S] [--quiet]\n"
          "       pnas train --inherit CHECKPOINT [options as above]\n"
          "\n"
          "Trains an architecture (YAML, or net.config by the extension .config or .json)\n"
          "from scratch on the Fashion-MNIST training set with the train.* settings of the\n"
          "configuration FILE (default: examples/configs/fmnist.yaml), evaluating it on the\n"
          "test set after every epoch, and writes DIR/model.pnas (default DIR ./pnas-out).\n"
          "--inherit starts from the network derived from a `pnas search` checkpoint, with\n"
          "the supernet's weights. See docs/cli.md.\n");
}

int cmd_train(int argc, char **argv) {
  train_run r;
  memset(&r, 0, sizeof r);
  r.out = "pnas-out";
  const char *config = NULL, *threads = NULL, *seed = NULL;
  cli_config_defaults(&r.cfg);
  const char *sets[256];
  int set_count = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      train_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quiet")) {
      r.quiet = 1;
    } else if (has_value && !strcmp(a, "--arch")) {
      r.arch_file = argv[++i];
    } else if (has_value && !strcmp(a, "--inherit")) {
      r.inherit = argv[++i];
    } else if (has_value && !strcmp(a, "--config")) {
      config = argv[++i];
    } else if (has_value && !strcmp(a, "--out")) {
      r.out = argv[++i];
    } else if (has_value && !strcmp(a, "--set")) {
      if (set_count == 256) return cli_error("too many --set options (256 at most)");
      sets[set_count++] = argv[++i];
    } else if (has_value && !strcmp(a, "--threads")) {
      threads = argv[++i];
    } else if (has_value && !strcmp(a, "--seed")) {
      seed = argv[++i];
    } else {
      return cli_error("train: unknown or incomplete option '%s' (see pnas train --help)", a);
    }
  }
  if (r.arch_file == NULL && r.inherit == NULL) {
    return cli_error("train: --arch FILE or --inherit CHECKPOINT is required");
  }
  if (r.arch_file != NULL && r.inherit != NULL) {
    return cli_error("train: --arch and --inherit exclude each other");
  }
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
  char assignment[128];
  if (threads != NULL) {
    snprintf(assignment, sizeof assignment, "run.threads=%s", threads);
    if (cli_config_set(&r.cfg, assignment) != 0) return 1;
  }
  if (seed != NULL) {
    snprintf(assignment, sizeof assignment, "run.seed=%s", seed);
    if (cli_config_set(&r.cfg, assignment) != 0) return 1;
  }
  if (cli_config_validate(&r.cfg) != 0) return 1;
  const char *input = r.inherit != NULL ? r.inherit : r.arch_file;
  if (access(input, R_OK) != 0) return cli_error("cannot read '%s': %s", input, strerror(errno));
  if (mkdir(r.out, 0755) != 0 && errno != EEXIST) {
    return cli_error("cannot create the output folder '%s': %s", r.out, strerror(errno));
  }
  if (access(r.out, W_OK) != 0) return cli_error("the output folder '%s' is not writable", r.out);

  pnas_context_options o;
  pnas_context_options_init(&o);
  if (r.cfg.run.threads > 0) o.threads = r.cfg.run.threads;
  o.seed = r.cfg.run.seed;
  char error[512];
  if (pnas_context_create(&o, &r.ctx, error, sizeof error) != PNAS_OK) {
    return cli_error("%s", error);
  }
  double test_acc = 0.0;
  int rc = load_data(&r, "train", r.cfg.data.train_limit, &r.train);
  if (rc == 0) rc = load_data(&r, "t10k", r.cfg.data.test_limit, &r.test);
  if (rc == 0) rc = build_net(&r);
  if (rc == 0) rc = train_loop(&r, &test_acc);
  if (rc == 0) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.pnas", r.out);
    if (pnas_net_save(r.net, path) != PNAS_OK) {
      rc = lib_fail(&r);
    } else {
      if (!r.quiet) printf("wrote: %s\n", path);
      printf("result: test_acc=%.4f\n", test_acc);
    }
  }
  tear_down(&r);
  return rc;
}
