/* SPDX-License-Identifier: MIT */
/* Trains one of the uniform Fashion-MNIST reference networks with the
 * public API (data set, batcher, network, cosine schedule) and reports the
 * test accuracy. The accuracy benchmark of docs/performance.md:
 *
 *   pnas-train-fmnist --net k3e3 --epochs 1 --threads 2
 *
 * Options: --net kKeE (default k3e3), --epochs N (1), --batch N (64),
 * --lr X (0.1), --threads N (all), --seed S (1), --limit N (training
 * images, default all), --data DIR (/usr/share/datasets/fashion-mnist),
 * --augment (random crop with 2-pixel padding and flips). */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tests/bench/fmnist_nets.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(pnas_context *ctx, const char *what) {
  fprintf(stderr, "pnas-train-fmnist: %s: %s\n", what, pnas_context_last_error(ctx));
  return 1;
}

int main(int argc, char **argv) {
  const char *net_name = "k3e3", *data = "/usr/share/datasets/fashion-mnist";
  int epochs = 1, batch = 64, threads = 0, augment = 0;
  long limit = 0;
  float lr = 0.1f;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(argv[i], "--net")) net_name = v, i++;
    else if (!strcmp(argv[i], "--epochs")) epochs = atoi(v), i++;
    else if (!strcmp(argv[i], "--batch")) batch = atoi(v), i++;
    else if (!strcmp(argv[i], "--lr")) lr = (float)atof(v), i++;
    else if (!strcmp(argv[i], "--threads")) threads = atoi(v), i++;
    else if (!strcmp(argv[i], "--seed")) seed = strtoull(v, NULL, 10), i++;
    else if (!strcmp(argv[i], "--limit")) limit = atol(v), i++;
    else if (!strcmp(argv[i], "--data")) data = v, i++;
    else if (!strcmp(argv[i], "--augment")) augment = 1;
    else {
      fprintf(stderr, "pnas-train-fmnist: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  pnas_context_options o;
  pnas_context_options_init(&o);
  if (threads > 0) o.threads = threads;
  o.seed = seed;
  pnas_context *ctx = NULL;
  char err[256];
  if (pnas_context_create(&o, &ctx, err, sizeof err) != PNAS_OK) {
    fprintf(stderr, "pnas-train-fmnist: %s\n", err);
    return 1;
  }
  char images[1024], labels[1024];
  pnas_dataset *train = NULL, *test = NULL;
  snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", data);
  snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", data);
  if (pnas_dataset_load_idx(ctx, images, labels, &train) != PNAS_OK) return fail(ctx, "training set");
  snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", data);
  snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", data);
  if (pnas_dataset_load_idx(ctx, images, labels, &test) != PNAS_OK) return fail(ctx, "test set");
  if (limit > 0) {
    pnas_dataset *part = NULL;
    if (pnas_dataset_subset(train, 0, limit, &part) != PNAS_OK) return fail(ctx, "--limit");
    pnas_dataset_destroy(train);
    train = part;
  }
  pnas_dataset_info info = {.struct_size = sizeof info};
  pnas_dataset_get_info(train, &info);

  int k = 3, e = 3;
  if (sscanf(net_name, "k%de%d", &k, &e) != 2) {
    fprintf(stderr, "pnas-train-fmnist: --net must look like k3e3\n");
    return 2;
  }
  pnas_arch *arch = NULL;
  if (fmnist_uniform_arch(ctx, k, e, &arch) != PNAS_OK) return fail(ctx, "architecture");
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = batch;
  pnas_net *net = NULL;
  if (pnas_net_create(ctx, arch, &no, &net) != PNAS_OK) return fail(ctx, "network");
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.lr = lr;
  pnas_net_set_sgd(net, &sgd);

  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = batch;
  bo.shuffle = 1;
  bo.seed = seed;
  bo.mean[0] = 0.2860f; /* Fashion-MNIST training-set statistics */
  bo.std[0] = 0.3530f;
  if (augment) {
    bo.crop_padding = 2;
    bo.horizontal_flip = 1;
  }
  pnas_batcher *batcher = NULL;
  if (pnas_batcher_create(train, &bo, &batcher) != PNAS_OK) return fail(ctx, "batcher");

  const long steps_per_epoch = (long)((info.count + batch - 1) / batch);
  const long total = steps_per_epoch * epochs;
  long step = 0;
  const double t0 = now_s();
  for (int epoch = 0; epoch < epochs; epoch++) {
    double loss_sum = 0.0, acc_sum = 0.0;
    long seen = 0;
    for (;;) {
      const float *x;
      const int32_t *y;
      int32_t n = 0;
      if (pnas_batcher_next_view(batcher, &x, &y, &n) != PNAS_OK) return fail(ctx, "batch");
      if (n == 0) break;
      pnas_net_set_lr(net, pnas_lr_cosine(lr, step++, total));
      pnas_step_stats st = {.struct_size = sizeof st};
      if (pnas_net_train_step(net, x, y, n, &st) != PNAS_OK) return fail(ctx, "train step");
      loss_sum += st.loss * n;
      acc_sum += st.accuracy * n;
      seen += n;
    }
    pnas_step_stats ev = {.struct_size = sizeof ev};
    if (pnas_net_evaluate(net, test, &bo, &ev) != PNAS_OK) return fail(ctx, "evaluate");
    const double elapsed = now_s() - t0;
    printf("epoch %d: train_loss %.4f train_acc %.4f test_loss %.4f test_acc %.4f "
           "(%.1f s, %.0f images/s)\n",
           epoch + 1, loss_sum / seen, acc_sum / seen, ev.loss, ev.accuracy, elapsed,
           (double)seen * (epoch + 1) / elapsed);
    if (epoch + 1 == epochs) printf("result: test_acc=%.4f seconds=%.1f\n", ev.accuracy, elapsed);
  }
  pnas_batcher_destroy(batcher);
  pnas_net_destroy(net);
  pnas_arch_destroy(arch);
  pnas_dataset_destroy(train);
  pnas_dataset_destroy(test);
  pnas_context_destroy(ctx);
  return 0;
}
