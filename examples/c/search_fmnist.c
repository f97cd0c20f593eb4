/* SPDX-License-Identifier: MIT */
/* A short ProxylessNAS search on Fashion-MNIST through the public API: the
 * reference supernet (examples/configs/fmnist-space.yaml), weight steps on
 * the training images, an arch step every `arch_every` steps on a
 * class-balanced held-out split, a latency model, then derivation.
 *
 *   pnas-search-fmnist [--space FILE] [--steps N] [--loss none|add|mul-log|abs]
 *                      [--target MS] [--lambda X] [--latency macs|profile|TABLE.yaml]
 *                      [--mode two|full_v2] [--threads N] [--seed S] [--out ARCH.yaml]
 *
 * Prints E[LAT] as the search goes and, at the end, the derived
 * architecture's latency (the same model) and MACs. Used to show that a
 * strong latency term drives E[LAT] down (docs/performance.md). */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(pnas_context *ctx, const char *what) {
  fprintf(stderr, "pnas-search-fmnist: %s: %s\n", what, pnas_context_last_error(ctx));
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const char *space_path = "examples/configs/fmnist-space.yaml", *loss = "none";
  const char *latency = "macs", *mode = "full_v2", *out = NULL;
  const char *data = "/usr/share/datasets/fashion-mnist";
  int steps = 600, threads = 0, arch_every = 5, warmup = 100;
  float target = 1.0f, lambda = 0.1f, lr = 0.05f;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(argv[i], "--space")) space_path = v, i++;
    else if (!strcmp(argv[i], "--steps")) steps = atoi(v), i++;
    else if (!strcmp(argv[i], "--warmup")) warmup = atoi(v), i++;
    else if (!strcmp(argv[i], "--loss")) loss = v, i++;
    else if (!strcmp(argv[i], "--target")) target = (float)atof(v), i++;
    else if (!strcmp(argv[i], "--lambda")) lambda = (float)atof(v), i++;
    else if (!strcmp(argv[i], "--latency")) latency = v, i++;
    else if (!strcmp(argv[i], "--mode")) mode = v, i++;
    else if (!strcmp(argv[i], "--threads")) threads = atoi(v), i++;
    else if (!strcmp(argv[i], "--seed")) seed = strtoull(v, NULL, 10), i++;
    else if (!strcmp(argv[i], "--out")) out = v, i++;
    else if (!strcmp(argv[i], "--data")) data = v, i++;
    else {
      fprintf(stderr, "pnas-search-fmnist: unknown option '%s'\n", argv[i]);
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
    fprintf(stderr, "pnas-search-fmnist: %s\n", err);
    return 1;
  }
  char images[1024], labels[1024];
  snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", data);
  snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", data);
  pnas_dataset *all = NULL, *train = NULL, *held = NULL;
  if (pnas_dataset_load_idx(ctx, images, labels, &all) != PNAS_OK) return fail(ctx, "data");
  if (pnas_dataset_split_balanced(all, 100, &train, &held) != PNAS_OK) return fail(ctx, "split");
  pnas_space *space = NULL;
  if (pnas_space_load_yaml(ctx, space_path, &space) != PNAS_OK) return fail(ctx, "space");
  pnas_supernet *sn = NULL;
  if (pnas_supernet_create(ctx, space, NULL, &sn) != PNAS_OK) return fail(ctx, "supernet");

  pnas_latency_model *model = NULL;
  pnas_status st;
  if (!strcmp(latency, "macs")) {
    st = pnas_latency_model_create_macs(ctx, 1.0, &model); /* 1 ms per million MACs */
  } else if (!strcmp(latency, "profile")) {
    st = pnas_latency_model_profile(ctx, space, NULL, &model);
  } else {
    st = pnas_latency_model_load_table(ctx, latency, &model);
  }
  if (st != PNAS_OK) return fail(ctx, "latency model");
  if (pnas_supernet_set_latency_model(sn, model) != PNAS_OK) return fail(ctx, "pricing");

  pnas_search_options so;
  pnas_search_options_init(&so);
  so.arch_mode = !strcmp(mode, "two") ? PNAS_ARCH_MODE_TWO : PNAS_ARCH_MODE_FULL_V2;
  so.loss_form = !strcmp(loss, "add")       ? PNAS_LOSS_ADD
                 : !strcmp(loss, "mul-log") ? PNAS_LOSS_MUL_LOG
                 : !strcmp(loss, "abs")     ? PNAS_LOSS_ABS
                                            : PNAS_LOSS_NONE;
  so.target_ms = target;
  so.lambda = lambda;
  so.arch_lr = 6e-3f; /* a short search: faster alpha than the official 1e-3 */
  if (pnas_supernet_set_search(sn, &so) != PNAS_OK) return fail(ctx, "search options");

  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = 64;
  bo.seed = seed;
  bo.mean[0] = 0.2860f;
  bo.std[0] = 0.3530f;
  pnas_batcher *weights = NULL, *arch = NULL;
  if (pnas_batcher_create(train, &bo, &weights) != PNAS_OK) return fail(ctx, "batcher");
  if (pnas_batcher_create(held, &bo, &arch) != PNAS_OK) return fail(ctx, "batcher");

  double e0 = 0.0;
  pnas_supernet_expected_latency(sn, &e0);
  printf("start: E[LAT]=%.3f ms\n", e0);
  const double t0 = now_s();
  double loss_sum = 0.0, acc_sum = 0.0, last_e = e0;
  for (int step = 0; step < steps; step++) {
    const float *x;
    const int32_t *y;
    int32_t n = 0;
    while (n == 0) {
      if (pnas_batcher_next_view(weights, &x, &y, &n) != PNAS_OK) return fail(ctx, "batch");
    }
    pnas_supernet_set_lr(sn, pnas_lr_cosine(lr, step, steps));
    pnas_search_stats ws = {.struct_size = sizeof ws};
    if (pnas_supernet_train_step(sn, x, y, n, &ws) != PNAS_OK) return fail(ctx, "weight step");
    loss_sum += ws.loss;
    acc_sum += ws.accuracy;
    if (step >= warmup && step % arch_every == arch_every - 1) {
      n = 0;
      while (n == 0) {
        if (pnas_batcher_next_view(arch, &x, &y, &n) != PNAS_OK) return fail(ctx, "batch");
      }
      pnas_search_stats as = {.struct_size = sizeof as};
      if (pnas_supernet_arch_step(sn, x, y, n, &as) != PNAS_OK) return fail(ctx, "arch step");
      last_e = as.expected_latency_ms;
    }
    if ((step + 1) % 100 == 0) {
      printf("step %d: mean loss %.4f mean acc %.3f E[LAT]=%.3f ms (%.0f s)\n", step + 1,
             loss_sum / 100, acc_sum / 100, last_e, now_s() - t0);
      fflush(stdout);
      loss_sum = acc_sum = 0.0;
    }
  }
  pnas_arch *derived = NULL;
  if (pnas_supernet_derive(sn, &derived) != PNAS_OK) return fail(ctx, "derive");
  double e1 = 0.0, derived_ms = 0.0;
  pnas_supernet_expected_latency(sn, &e1);
  if (pnas_latency_model_arch_latency(model, derived, &derived_ms) != PNAS_OK) {
    return fail(ctx, "derived latency");
  }
  pnas_arch_info info = {.struct_size = sizeof info};
  pnas_arch_get_info(derived, &info);
  printf("blocks:");
  for (int32_t b = 0; b < info.blocks; b++) {
    pnas_block_info bi = {.struct_size = sizeof bi};
    pnas_arch_get_block(derived, b, &bi);
    if (bi.kind == PNAS_BLOCK_IDENTITY) printf(" id");
    else printf(" k%de%d", (int)bi.kernel, (int)bi.expand);
  }
  printf("\n");
  if (out != NULL && pnas_arch_save_yaml(derived, out) != PNAS_OK) return fail(ctx, "save");
  printf("result: loss=%s E_start=%.3f E_end=%.3f derived_latency_ms=%.3f derived_macs=%lld "
         "seconds=%.1f\n",
         loss, e0, e1, derived_ms, (long long)info.macs, now_s() - t0);
  pnas_arch_destroy(derived);
  pnas_batcher_destroy(weights);
  pnas_batcher_destroy(arch);
  pnas_latency_model_destroy(model);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_dataset_destroy(train);
  pnas_dataset_destroy(held);
  pnas_dataset_destroy(all);
  pnas_context_destroy(ctx);
  return 0;
}
