/* SPDX-License-Identifier: MIT */
/* `pnas search`: a whole ProxylessNAS search on Fashion-MNIST, written as
 * the host loop every embedding program can copy: data, space, supernet,
 * latency model, warm-up epochs of weight steps, search epochs of weight
 * and arch steps, a checkpoint after every epoch, derivation, plots. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "plot.h"
#include "run.h"

/* What the checkpoint's host block holds besides the supernet: where the
 * loop is, the batchers, and the history so far. */
typedef struct loop_state {
  uint32_t magic; /* "PLOO" */
  int32_t epochs_done;
  int64_t step;
  double seconds;
} loop_state;

#define LOOP_MAGIC 0x4f4f4c50u

typedef struct search_run {
  cli_config cfg;
  const char *out;
  int quiet, resume;
  int stop_after; /* stop after this epoch's checkpoint (0: run to the end) */
  pnas_context *ctx;
  pnas_dataset *all, *train, *held;
  pnas_space *space;
  pnas_supernet *sn;
  pnas_latency_model *model;
  pnas_batcher *weights, *arch, *eval;
  char *history; /* the CSV so far */
  size_t history_len, history_cap;
  loop_state loop;
} search_run;

static int lib_fail(search_run *r) { return cli_library_error(r->ctx); }

static int history_append(search_run *r, const char *text) {
  const size_t n = strlen(text);
  if (r->history_len + n + 1 > r->history_cap) {
    size_t cap = r->history_cap ? r->history_cap * 2 : 4096;
    while (cap < r->history_len + n + 1) cap *= 2;
    char *grown = realloc(r->history, cap);
    if (grown == NULL) return cli_error("out of memory for the history");
    r->history = grown;
    r->history_cap = cap;
  }
  memcpy(r->history + r->history_len, text, n + 1);
  r->history_len += n;
  return 0;
}

/* The header: fixed columns, then p<layer>_<op> for every candidate. */
static int history_header(search_run *r) {
  char line[16384];
  size_t at = (size_t)snprintf(line, sizeof line,
                               "epoch,phase,train_loss,train_acc,arch_loss,val_acc,"
                               "expected_latency_ms,lr,seconds");
  pnas_space_info info = {.struct_size = sizeof info};
  pnas_space_get_info(r->space, &info);
  for (int32_t l = 0; l < info.layers; l++) {
    pnas_block_info shape = {.struct_size = sizeof shape};
    pnas_op_spec ops[32];
    int32_t n = 0;
    if (pnas_space_get_layer(r->space, l, &shape, ops, 32, &n) != PNAS_OK) return lib_fail(r);
    for (int32_t j = 0; j < n && at < sizeof line - 64; j++) {
      if (ops[j].kind == PNAS_OP_ZERO) {
        at += (size_t)snprintf(line + at, sizeof line - at, ",p%d_zero", (int)l);
      } else {
        at += (size_t)snprintf(line + at, sizeof line - at, ",p%d_mbconv%dx%d_e%d", (int)l,
                               (int)ops[j].kernel, (int)ops[j].kernel, (int)ops[j].expand);
      }
    }
  }
  snprintf(line + at, sizeof line - at, "\n");
  return history_append(r, line);
}

/* Probabilities of pruned candidates are written as 0, so that the columns
 * stay those of the space. */
static int history_row(search_run *r, int epoch, int search_phase, double train_loss,
                       double train_acc, double arch_loss, double val_acc, double lr,
                       double epoch_seconds) {
  char line[16384];
  double e = 0.0;
  pnas_supernet_expected_latency(r->sn, &e);
  size_t at = (size_t)snprintf(line, sizeof line, "%d,%s,%.6f,%.6f,", epoch,
                               search_phase ? "search" : "warmup", train_loss, train_acc);
  if (search_phase) at += (size_t)snprintf(line + at, sizeof line - at, "%.6f", arch_loss);
  at += (size_t)snprintf(line + at, sizeof line - at, ",%.6f,%.6f,%.6g,%.1f", val_acc, e, lr,
                         epoch_seconds);
  pnas_space_info info = {.struct_size = sizeof info};
  pnas_space_get_info(r->space, &info);
  for (int32_t l = 0; l < info.layers; l++) {
    pnas_block_info shape = {.struct_size = sizeof shape};
    pnas_op_spec space_ops[32], live_ops[32];
    int32_t n = 0, live = 0;
    float p[32];
    pnas_space_get_layer(r->space, l, &shape, space_ops, 32, &n);
    pnas_supernet_op_count(r->sn, l, &live);
    pnas_supernet_get_ops(r->sn, l, live_ops, 32);
    pnas_supernet_get_alpha(r->sn, l, 2, p, 32);
    for (int32_t j = 0; j < n && at < sizeof line - 32; j++) {
      double prob = 0.0;
      for (int32_t k = 0; k < live; k++) {
        if (live_ops[k].kind == space_ops[j].kind && live_ops[k].kernel == space_ops[j].kernel &&
            live_ops[k].expand == space_ops[j].expand) {
          prob = p[k];
        }
      }
      at += (size_t)snprintf(line + at, sizeof line - at, ",%.6f", prob);
    }
  }
  snprintf(line + at, sizeof line - at, "\n");
  return history_append(r, line);
}

static int write_text(const char *dir, const char *name, const char *text, size_t len) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) return cli_error("cannot write '%s': %s", tmp, strerror(errno));
  const int bad = fwrite(text, 1, len, f) != len;
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    unlink(tmp);
    return cli_error("cannot write '%s'", path);
  }
  return 0;
}

/* Accuracy of the argmax path on the held-out images, with batch
 * statistics: the supernet's running statistics mix every path's. */
static int held_out_accuracy(search_run *r, double *out) {
  pnas_supernet_info info = {.struct_size = sizeof info};
  pnas_supernet_get_info(r->sn, &info);
  int32_t path[64];
  for (int32_t l = 0; l < info.layers && l < 64; l++) {
    float alpha[32];
    int32_t n = 0;
    pnas_supernet_op_count(r->sn, l, &n);
    pnas_supernet_get_alpha(r->sn, l, 0, alpha, 32);
    path[l] = 0;
    for (int32_t j = 1; j < n; j++) {
      if (alpha[j] > alpha[path[l]]) path[l] = j;
    }
  }
  if (pnas_supernet_active_path(r->sn, path, info.layers, 1) != PNAS_OK) return lib_fail(r);
  pnas_batcher_reset(r->eval);
  int64_t correct = 0, total = 0;
  pnas_space_info si = {.struct_size = sizeof si};
  pnas_space_get_info(r->space, &si);
  const int32_t classes = si.classes;
  float *logits = malloc(sizeof(float) * (size_t)r->cfg.search.arch_batch_size * (size_t)classes);
  if (logits == NULL) return cli_error("out of memory");
  for (;;) {
    const float *x;
    const int32_t *y;
    int32_t n = 0;
    if (pnas_batcher_next_view(r->eval, &x, &y, &n) != PNAS_OK ||
        (n > 0 && pnas_supernet_forward(r->sn, x, n, 2, logits) != PNAS_OK)) {
      free(logits);
      return lib_fail(r);
    }
    if (n == 0) break;
    for (int32_t i = 0; i < n; i++) {
      int32_t best = 0;
      for (int32_t k = 1; k < classes; k++) {
        if (logits[i * classes + k] > logits[i * classes + best]) best = k;
      }
      correct += best == y[i];
    }
    total += n;
  }
  free(logits);
  *out = total > 0 ? (double)correct / (double)total : 0.0;
  return 0;
}

static int save_checkpoint(search_run *r) {
  size_t sizes[3] = {0, 0, 0};
  pnas_batcher *b[3] = {r->weights, r->arch, r->eval};
  for (int i = 0; i < 3; i++) pnas_batcher_get_state(b[i], NULL, 0, &sizes[i]);
  const size_t total = sizeof r->loop + 3 * sizeof(uint64_t) + sizes[0] + sizes[1] + sizes[2] +
                       sizeof(uint64_t) + r->history_len;
  unsigned char *blob = malloc(total);
  if (blob == NULL) return cli_error("out of memory for the checkpoint");
  unsigned char *p = blob;
  memcpy(p, &r->loop, sizeof r->loop);
  p += sizeof r->loop;
  for (int i = 0; i < 3; i++) {
    const uint64_t n = sizes[i];
    memcpy(p, &n, sizeof n);
    p += sizeof n;
    pnas_batcher_get_state(b[i], p, sizes[i], &sizes[i]);
    p += sizes[i];
  }
  const uint64_t hl = r->history_len;
  memcpy(p, &hl, sizeof hl);
  p += sizeof hl;
  memcpy(p, r->history, r->history_len);
  char path[4200];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", r->out);
  const pnas_status st = pnas_supernet_save(r->sn, path, blob, total);
  free(blob);
  return st == PNAS_OK ? 0 : lib_fail(r);
}

static int restore_checkpoint(search_run *r, const unsigned char *blob, size_t size) {
  const unsigned char *p = blob, *end = blob + size;
  if (size < sizeof r->loop) return cli_error("%s/checkpoint.pnas: no loop state in it", r->out);
  memcpy(&r->loop, p, sizeof r->loop);
  p += sizeof r->loop;
  if (r->loop.magic != LOOP_MAGIC) {
    return cli_error("%s/checkpoint.pnas was not written by pnas search", r->out);
  }
  pnas_batcher *b[3] = {r->weights, r->arch, r->eval};
  for (int i = 0; i < 3; i++) {
    uint64_t n;
    if ((size_t)(end - p) < sizeof n) return cli_error("%s/checkpoint.pnas: truncated", r->out);
    memcpy(&n, p, sizeof n);
    p += sizeof n;
    if ((uint64_t)(end - p) < n) return cli_error("%s/checkpoint.pnas: truncated", r->out);
    if (pnas_batcher_set_state(b[i], p, (size_t)n) != PNAS_OK) {
      return cli_error("%s/checkpoint.pnas: %s (was the configuration changed?)", r->out,
                       pnas_context_last_error(r->ctx));
    }
    p += n;
  }
  uint64_t hl;
  if ((size_t)(end - p) < sizeof hl) return cli_error("%s/checkpoint.pnas: truncated", r->out);
  memcpy(&hl, p, sizeof hl);
  p += sizeof hl;
  if ((uint64_t)(end - p) != hl) return cli_error("%s/checkpoint.pnas: truncated", r->out);
  char *text = malloc((size_t)hl + 1);
  if (text == NULL) return cli_error("out of memory");
  memcpy(text, p, (size_t)hl);
  text[hl] = '\0';
  r->history_len = 0;
  const int rc = history_append(r, text);
  free(text);
  return rc;
}

static int set_up(search_run *r) {
  cli_config *c = &r->cfg;
  char images[4200], labels[4200];
  snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", c->data.dir);
  snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", c->data.dir);
  if (pnas_dataset_load_idx(r->ctx, images, labels, &r->all) != PNAS_OK) {
    return cli_error("%s (the Fashion-MNIST training set; on Debian apt-get install "
                     "dataset-fashion-mnist, or set data.dir)",
                     pnas_context_last_error(r->ctx));
  }
  if (c->data.train_limit > 0) {
    pnas_dataset *part = NULL;
    if (pnas_dataset_subset(r->all, 0, c->data.train_limit, &part) != PNAS_OK) return lib_fail(r);
    pnas_dataset_destroy(r->all);
    r->all = part;
  }
  if (pnas_dataset_split_balanced(r->all, c->data.held_out_per_class, &r->train, &r->held) !=
      PNAS_OK) {
    return lib_fail(r);
  }
  if (pnas_space_load_yaml(r->ctx, c->space.file, &r->space) != PNAS_OK) return lib_fail(r);
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.mean[0] = bo.mean[1] = bo.mean[2] = (float)c->data.mean;
  bo.std[0] = bo.std[1] = bo.std[2] = (float)c->data.std;
  bo.seed = c->run.seed;
  bo.batch_size = c->search.batch_size;
  bo.crop_padding = c->data.crop_padding;
  bo.horizontal_flip = c->data.flip;
  if (pnas_batcher_create(r->train, &bo, &r->weights) != PNAS_OK) return lib_fail(r);
  bo.batch_size = c->search.arch_batch_size;
  bo.crop_padding = 0;
  bo.horizontal_flip = 0;
  bo.seed = c->run.seed + 1;
  if (pnas_batcher_create(r->held, &bo, &r->arch) != PNAS_OK) return lib_fail(r);
  bo.shuffle = 0;
  bo.batch_size = c->search.arch_batch_size;
  if (pnas_batcher_create(r->held, &bo, &r->eval) != PNAS_OK) return lib_fail(r);
  return 0;
}

static int make_latency_model(search_run *r) {
  cli_config *c = &r->cfg;
  char path[4200];
  snprintf(path, sizeof path, "%s/latency.yaml", r->out);
  pnas_status st;
  if (c->latency.kind == CLI_LATENCY_TABLE) {
    st = pnas_latency_model_load_table(r->ctx, c->latency.table, &r->model);
  } else if (c->latency.kind == CLI_LATENCY_MACS) {
    st = pnas_latency_model_create_macs(r->ctx, c->latency.ms_per_mmac, &r->model);
  } else if (r->resume && access(path, R_OK) == 0) {
    st = pnas_latency_model_load_table(r->ctx, path, &r->model); /* measured before */
  } else {
    pnas_profile_options po;
    pnas_profile_options_init(&po);
    po.batch = c->latency.profile_batch;
    po.warmup = c->latency.profile_warmup;
    po.repeats = c->latency.profile_repeats;
    if (!r->quiet) printf("profiling every candidate op on this machine...\n");
    st = pnas_latency_model_profile(r->ctx, r->space, &po, &r->model);
    if (st == PNAS_OK) st = pnas_latency_model_save_table(r->model, path);
  }
  return st == PNAS_OK ? 0 : lib_fail(r);
}

static int create_supernet(search_run *r) {
  cli_config *c = &r->cfg;
  char path[4200];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", r->out);
  const int32_t max_batch = c->search.batch_size > c->search.arch_batch_size
                                ? c->search.batch_size
                                : c->search.arch_batch_size;
  if (r->resume && access(path, R_OK) == 0) {
    void *blob = NULL;
    size_t size = 0;
    if (pnas_supernet_load(r->ctx, path, max_batch, &r->sn, &blob, &size) != PNAS_OK) {
      return lib_fail(r);
    }
    const int rc = restore_checkpoint(r, blob, size);
    pnas_free(blob);
    if (rc == 0 && !r->quiet) {
      printf("resuming after epoch %d of %d\n", r->loop.epochs_done,
             c->search.warmup_epochs + c->search.epochs);
    }
    return rc;
  }
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = max_batch;
  if (pnas_supernet_create(r->ctx, r->space, &so, &r->sn) != PNAS_OK) return lib_fail(r);
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.lr = (float)c->search.lr;
  sgd.momentum = (float)c->search.momentum;
  sgd.nesterov = c->search.nesterov;
  sgd.weight_decay = (float)c->search.weight_decay;
  sgd.label_smoothing = (float)c->search.label_smoothing;
  if (pnas_supernet_set_sgd(r->sn, &sgd) != PNAS_OK) return lib_fail(r);
  if (pnas_supernet_set_latency_model(r->sn, r->model) != PNAS_OK) return lib_fail(r);
  pnas_search_options so2;
  pnas_search_options_init(&so2);
  so2.arch_mode = c->search.arch_mode;
  so2.arch_lr = (float)c->search.arch_lr;
  so2.arch_beta1 = (float)c->search.arch_beta1;
  so2.arch_beta2 = (float)c->search.arch_beta2;
  so2.loss_form = c->search.loss;
  so2.target_ms = (float)c->search.target_ms;
  so2.lambda = (float)c->search.lambda;
  so2.mul_log_a = (float)c->search.mul_log_a;
  so2.mul_log_beta = (float)c->search.mul_log_beta;
  so2.prune_threshold = (float)c->search.prune_threshold;
  so2.prune_patience = c->search.prune_patience;
  so2.skip_zero_active = c->search.skip_zero_active;
  if (pnas_supernet_set_search(r->sn, &so2) != PNAS_OK) return lib_fail(r);
  r->loop.magic = LOOP_MAGIC;
  return history_header(r);
}

/* One epoch of weight steps (and, in the search phase, arch steps). */
static int run_epoch(search_run *r, int epoch, int search_phase, int64_t phase_start,
                     int64_t phase_steps, run_progress *progress) {
  cli_config *c = &r->cfg;
  double loss = 0.0, acc = 0.0, arch_loss = 0.0, lr = 0.0;
  int64_t images = 0, arch_steps = 0;
  /* As the official schedule: no arch steps in the first search epoch. */
  const int arch_on = search_phase && epoch > c->search.warmup_epochs;
  for (int64_t k = 0;; k++) {
    const float *x;
    const int32_t *y;
    int32_t n = 0;
    if (pnas_batcher_next_view(r->weights, &x, &y, &n) != PNAS_OK) return lib_fail(r);
    if (n == 0) break;
    lr = pnas_lr_cosine((float)c->search.lr, r->loop.step - phase_start, phase_steps);
    pnas_supernet_set_lr(r->sn, (float)lr);
    pnas_search_stats st = {.struct_size = sizeof st};
    if (pnas_supernet_train_step(r->sn, x, y, n, &st) != PNAS_OK) return lib_fail(r);
    r->loop.step++;
    loss += st.loss * n;
    acc += st.accuracy * n;
    images += n;
    if (arch_on && r->loop.step % c->search.arch_every == 0) {
      int32_t m = 0;
      while (m == 0) {
        if (pnas_batcher_next_view(r->arch, &x, &y, &m) != PNAS_OK) return lib_fail(r);
      }
      pnas_search_stats as = {.struct_size = sizeof as};
      if (pnas_supernet_arch_step(r->sn, x, y, m, &as) != PNAS_OK) return lib_fail(r);
      arch_loss += as.loss;
      arch_steps++;
    }
    double e = 0.0;
    pnas_supernet_expected_latency(r->sn, &e);
    run_progress_step(progress, search_phase ? "search" : "warmup", epoch, k + 1, n, st.loss,
                      st.accuracy, e);
  }
  if (c->search.prune_threshold > 0.0 && search_phase) {
    int32_t pruned = 0;
    if (pnas_supernet_prune(r->sn, &pruned) != PNAS_OK) return lib_fail(r);
    if (pruned > 0 && !r->quiet) printf("epoch %d: pruned %d candidates\n", epoch, (int)pruned);
  }
  double val_acc = 0.0;
  if (held_out_accuracy(r, &val_acc) != 0) return 1;
  const double epoch_seconds = run_progress_epoch_seconds(progress);
  r->loop.seconds += epoch_seconds;
  run_progress_epoch_end(progress, epoch, loss / (double)images, acc / (double)images, val_acc);
  return history_row(r, epoch, search_phase, loss / (double)images, acc / (double)images,
                     arch_steps ? arch_loss / (double)arch_steps : 0.0, val_acc, lr,
                     epoch_seconds);
}

static int finish(search_run *r) {
  pnas_arch *arch = NULL;
  if (pnas_supernet_derive(r->sn, &arch) != PNAS_OK) return lib_fail(r);
  char path[4200];
  snprintf(path, sizeof path, "%s/arch.yaml", r->out);
  if (pnas_arch_save_yaml(arch, path) != PNAS_OK) goto fail;
  snprintf(path, sizeof path, "%s/net.config", r->out);
  if (pnas_arch_export_net_config(arch, path) != PNAS_OK) goto fail;
  pnas_arch_info info = {.struct_size = sizeof info};
  pnas_arch_get_info(arch, &info);
  double *block_ms = calloc((size_t)info.blocks + 1, sizeof(double));
  double derived_ms = 0.0;
  if (block_ms == NULL) {
    pnas_arch_destroy(arch);
    return cli_error("out of memory");
  }
  for (int32_t b = 0; b < info.blocks; b++) {
    pnas_block_info bi = {.struct_size = sizeof bi};
    pnas_arch_get_block(arch, b, &bi);
    pnas_latency_model_block_latency(r->model, &bi, &block_ms[b]);
  }
  pnas_latency_model_arch_latency(r->model, arch, &derived_ms);
  char history[4200], png[4200];
  snprintf(history, sizeof history, "%s/history.csv", r->out);
  snprintf(png, sizeof png, "%s/search.png", r->out);
  int rc = plot_search_history(history, png);
  snprintf(png, sizeof png, "%s/arch.png", r->out);
  if (rc == 0) rc = plot_architecture_total(arch, block_ms, derived_ms, png);
  free(block_ms);
  double e = 0.0, val_acc = 0.0;
  pnas_supernet_expected_latency(r->sn, &e);
  if (rc == 0) rc = held_out_accuracy(r, &val_acc);
  if (rc == 0) {
    printf("derived: %lld MACs, %lld parameters, predicted latency %.4f ms\n",
           (long long)info.macs, (long long)info.params, derived_ms);
    printf("result: arch=%s/arch.yaml expected_latency_ms=%.4f val_acc=%.4f\n", r->out, e,
           val_acc);
  }
  pnas_arch_destroy(arch);
  return rc;
fail:
  pnas_arch_destroy(arch);
  return lib_fail(r);
}

static void tear_down(search_run *r) {
  pnas_batcher_destroy(r->weights);
  pnas_batcher_destroy(r->arch);
  pnas_batcher_destroy(r->eval);
  pnas_supernet_destroy(r->sn);
  pnas_latency_model_destroy(r->model);
  pnas_space_destroy(r->space);
  pnas_dataset_destroy(r->train);
  pnas_dataset_destroy(r->held);
  pnas_dataset_destroy(r->all);
  pnas_context_destroy(r->ctx);
  free(r->history);
}

static void search_usage(FILE *out) {
  fprintf(out,
          "usage: pnas search [--config FILE] [--out DIR] [--set section.key=value]...\n"
          "                   [--threads N] [--seed S] [--resume] [--quiet] [--stop-after E]\n"
          "\n"
          "Searches an architecture on Fashion-MNIST with the configuration FILE\n"
          "(default: examples/configs/fmnist.yaml), writing into DIR (default ./pnas-out):\n"
          "arch.yaml, net.config, history.csv, search.png, arch.png, checkpoint.pnas,\n"
          "config.yaml and, when the latency model was profiled, latency.yaml.\n"
          "--resume continues from DIR/checkpoint.pnas; --stop-after E stops after epoch E's\n"
          "checkpoint (to split a long search across jobs). See docs/cli.md.\n");
}

int cmd_search(int argc, char **argv) {
  search_run r;
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
      search_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--resume")) {
      r.resume = 1;
    } else if (!strcmp(a, "--quiet")) {
      r.quiet = 1;
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
    } else if (has_value && !strcmp(a, "--stop-after")) {
      r.stop_after = atoi(argv[++i]);
      if (r.stop_after < 1) return cli_error("search: --stop-after needs an epoch number >= 1");
    } else {
      search_usage(stderr);
      return cli_error("search: unknown or incomplete option '%s'", a);
    }
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
  if (mkdir(r.out, 0755) != 0 && errno != EEXIST) {
    return cli_error("cannot create the output folder '%s': %s", r.out, strerror(errno));
  }
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/config.yaml", r.out);
  if (access(r.out, W_OK) != 0) {
    return cli_error("the output folder '%s' is not writable", r.out);
  }
  if (cli_config_write(&r.cfg, probe) != 0) return 1;

  pnas_context_options o;
  pnas_context_options_init(&o);
  if (r.cfg.run.threads > 0) o.threads = r.cfg.run.threads;
  o.seed = r.cfg.run.seed;
  char error[512];
  if (pnas_context_create(&o, &r.ctx, error, sizeof error) != PNAS_OK) {
    return cli_error("%s", error);
  }
  int rc = set_up(&r);
  if (rc == 0) rc = make_latency_model(&r);
  if (rc == 0) rc = create_supernet(&r);
  const int total = r.cfg.search.warmup_epochs + r.cfg.search.epochs;
  pnas_dataset_info ti = {.struct_size = sizeof ti};
  if (rc == 0) pnas_dataset_get_info(r.train, &ti);
  const int64_t steps_per_epoch = (ti.count + r.cfg.search.batch_size - 1) / r.cfg.search.batch_size;
  run_progress progress;
  run_progress_init(&progress, r.quiet, total, steps_per_epoch);
  for (int epoch = r.loop.epochs_done + 1; rc == 0 && epoch <= total; epoch++) {
    const int search_phase = epoch > r.cfg.search.warmup_epochs;
    const int64_t phase_start =
        search_phase ? (int64_t)r.cfg.search.warmup_epochs * steps_per_epoch : 0;
    const int64_t phase_steps =
        steps_per_epoch * (search_phase ? r.cfg.search.epochs : r.cfg.search.warmup_epochs);
    rc = run_epoch(&r, epoch, search_phase, phase_start, phase_steps, &progress);
    if (rc == 0) {
      r.loop.epochs_done = epoch;
      rc = write_text(r.out, "history.csv", r.history, r.history_len);
    }
    if (rc == 0) rc = save_checkpoint(&r);
    if (rc == 0 && epoch == r.stop_after && epoch < total) {
      if (!r.quiet) printf("stopped after epoch %d; continue with --resume\n", epoch);
      tear_down(&r);
      return 0;
    }
  }
  if (rc == 0) rc = write_text(r.out, "history.csv", r.history, r.history_len);
  if (rc == 0) rc = finish(&r);
  tear_down(&r);
  return rc;
}
