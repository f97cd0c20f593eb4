/* SPDX-License-Identifier: MIT */
/* Times training steps or inference of a fixed network through the public
 * API and prints one line of key=value results, peak RSS included.
 *
 *   bench-net --net k3e3|k3e6|k7e6|searched|mobile224 --mode train|infer
 *             [--batch N] [--threads N] [--iters N] [--warmup N]
 *             [--net-config FILE]   (for mobile224)
 *
 * Run by tests/bench/run_bench.py beside the PyTorch peer (torch_peer.py). */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fmnist_nets.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(pnas_context *ctx, const char *what) {
  fprintf(stderr, "bench-net: %s: %s\n", what, ctx ? pnas_context_last_error(ctx) : "");
  return 1;
}

int main(int argc, char **argv) {
  const char *net_name = "k3e3", *mode = "train", *net_config = NULL;
  int batch = 64, threads = 1, iters = 20, warmup = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--net"))
      net_name = argv[i + 1];
    else if (!strcmp(argv[i], "--mode"))
      mode = argv[i + 1];
    else if (!strcmp(argv[i], "--batch"))
      batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--iters"))
      iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup"))
      warmup = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--net-config"))
      net_config = argv[i + 1];
    else {
      fprintf(stderr, "bench-net: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = threads;
  o.seed = 1;
  pnas_context *ctx = NULL;
  char err[256];
  if (pnas_context_create(&o, &ctx, err, sizeof err) != PNAS_OK) {
    fprintf(stderr, "bench-net: %s\n", err);
    return 1;
  }
  pnas_arch *arch = NULL;
  pnas_status st;
  if (!strcmp(net_name, "mobile224")) {
    if (net_config == NULL) return die(NULL, "--net-config FILE is needed for mobile224");
    st = pnas_arch_import_net_config(ctx, net_config, 224, 224, &arch);
  } else if (!strcmp(net_name, "searched")) {
    st = fmnist_searched_arch(ctx, &arch);
  } else {
    int k = 0, e = 0;
    if (sscanf(net_name, "k%de%d", &k, &e) != 2) return die(NULL, "unknown --net");
    st = fmnist_uniform_arch(ctx, k, e, &arch);
  }
  if (st != PNAS_OK) return die(ctx, "architecture");
  pnas_arch_info info = {.struct_size = sizeof info};
  pnas_arch_get_info(arch, &info);
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = batch;
  pnas_net *net = NULL;
  if (pnas_net_create(ctx, arch, &no, &net) != PNAS_OK) return die(ctx, "network");
  const size_t image = (size_t)info.input_height * info.input_width * info.input_channels;
  float *x = malloc(sizeof(float) * image * (size_t)batch);
  float *logits = malloc(sizeof(float) * (size_t)info.classes * (size_t)batch);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch);
  srand(1);
  for (size_t i = 0; i < image * (size_t)batch; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int i = 0; i < batch; i++) labels[i] = i % info.classes;
  const int train = !strcmp(mode, "train");
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.lr = 0.01f;
  pnas_net_set_sgd(net, &sgd);
  double times[1000];
  if (iters > 1000) iters = 1000;
  for (int i = 0; i < warmup + iters; i++) {
    const double t0 = now_s();
    st = train ? pnas_net_train_step(net, x, labels, batch, NULL)
               : pnas_net_infer(net, x, batch, logits);
    if (st != PNAS_OK) return die(ctx, mode);
    if (i >= warmup) times[i - warmup] = now_s() - t0;
  }
  /* Median of the timed iterations. */
  for (int i = 1; i < iters; i++) {
    for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
      const double t = times[j];
      times[j] = times[j - 1];
      times[j - 1] = t;
    }
  }
  const double median = times[iters / 2];
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf(
      "impl=libpnas net=%s mode=%s batch=%d threads=%d ms=%.4f images_per_s=%.1f "
      "peak_rss_mb=%.1f macs=%lld\n",
      net_name, mode, batch, threads, 1e3 * median, batch / median, ru.ru_maxrss / 1024.0,
      (long long)info.macs);
  free(x);
  free(logits);
  free(labels);
  pnas_net_destroy(net);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
  return 0;
}
