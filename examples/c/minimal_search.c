/* SPDX-License-Identifier: MIT */
/* The shortest complete ProxylessNAS host: load Fashion-MNIST and a search
 * space, build the supernet, price it with a latency model, alternate weight
 * steps and architecture steps, derive the most probable network, save it.
 *
 *   pnas-minimal-search [DATA_DIR [SPACE.yaml [OUT.yaml [STEPS [IMAGES]]]]]
 *
 * Defaults: /usr/share/datasets/fashion-mnist, examples/configs/fmnist-space.yaml,
 * arch.yaml, 300 steps, every training image (IMAGES > 0 keeps the first
 * IMAGES). search_fmnist.c is the same loop with every knob exposed. */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>

/* Every libpnas call returns a status; on failure the context's last error
 * names the problem (file, line, key), so one exit path can report it. */
#define TRY(call)                     \
  do {                                \
    if ((call) != PNAS_OK) goto fail; \
  } while (0)

/* The next batch; a batcher returns 0 images once at the end of each epoch,
 * and the call after that starts the next one. */
static pnas_status next_batch(pnas_batcher *b, const float **x, const int32_t **y, int32_t *n) {
  pnas_status st = pnas_batcher_next_view(b, x, y, n);
  if (st == PNAS_OK && *n == 0) st = pnas_batcher_next_view(b, x, y, n);
  return st;
}

int main(int argc, char **argv) {
  const char *data = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const char *space_path = argc > 2 ? argv[2] : "examples/configs/fmnist-space.yaml";
  const char *out = argc > 3 ? argv[3] : "arch.yaml";
  const int64_t steps = argc > 4 ? atoll(argv[4]) : 300;
  const int64_t images = argc > 5 ? atoll(argv[5]) : 0;

  pnas_context_options co;
  pnas_context_options_init(&co); /* defaults: all cores, seed 0 */
  co.seed = 1;
  pnas_context *ctx = NULL;
  char err[256];
  if (pnas_context_create(&co, &ctx, err, sizeof err) != PNAS_OK) {
    fprintf(stderr, "minimal_search: %s\n", err); /* no context yet to hold the message */
    return 1;
  }
  /* Declared up front and NULL: destroying NULL is a no-op, so the single
   * cleanup path below works wherever a failure happens. */
  pnas_dataset *all = NULL, *some = NULL, *train = NULL, *held = NULL;
  pnas_space *space = NULL;
  pnas_supernet *sn = NULL;
  pnas_latency_model *model = NULL;
  pnas_batcher *wb = NULL, *ab = NULL;
  pnas_arch *arch = NULL;
  int rc = 1;

  char img[1024], lab[1024];
  snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", data);
  snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", data);
  TRY(pnas_dataset_load_idx(ctx, img, lab, &all));
  if (images > 0) TRY(pnas_dataset_subset(all, 0, images, &some));
  /* Alpha is stepped on images the weights never train on (20 per class). */
  TRY(pnas_dataset_split_balanced(some ? some : all, 20, &train, &held));

  TRY(pnas_space_load_yaml(ctx, space_path, &space));
  TRY(pnas_supernet_create(ctx, space, NULL, &sn)); /* NULL: default options, max batch 64 */

  /* 1 ms per million MACs stands in for the device; a measured table
   * (pnas_latency_model_load_table) or the on-host profiler is the real thing. */
  TRY(pnas_latency_model_create_macs(ctx, 1.0, &model));
  TRY(pnas_supernet_set_latency_model(sn, model));
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.loss_form = PNAS_LOSS_ADD; /* CE + lambda * (E[LAT] - T) / T */
  so.target_ms = 10.0f;         /* the average fmnist path costs about 17 ms here */
  so.arch_lr = 6e-3f;           /* a short search wants faster alpha than the paper's 1e-3 */
  TRY(pnas_supernet_set_search(sn, &so));

  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo); /* batch 64, shuffled */
  bo.mean[0] = 0.2860f;           /* Fashion-MNIST's mean and std */
  bo.std[0] = 0.3530f;
  TRY(pnas_batcher_create(train, &bo, &wb));
  TRY(pnas_batcher_create(held, &bo, &ab));

  for (int64_t step = 0; step < steps; step++) {
    const float *x;
    const int32_t *y;
    int32_t n;
    pnas_search_stats st = {.struct_size = sizeof st};
    TRY(next_batch(wb, &x, &y, &n));
    TRY(pnas_supernet_set_lr(sn, pnas_lr_cosine(0.05f, step, steps)));
    TRY(pnas_supernet_train_step(sn, x, y, n, &st)); /* one sampled path, SGD */
    /* Arch steps begin after a warm-up: alpha learns nothing from random weights. */
    if (step >= steps / 4 && step % 5 == 4) {
      TRY(next_batch(ab, &x, &y, &n));
      TRY(pnas_supernet_arch_step(sn, x, y, n, &st)); /* gates + latency, Adam on alpha */
    }
    if ((step + 1) % 50 == 0 || step + 1 == steps) {
      printf("step %lld: loss %.4f acc %.3f E[LAT] %.3f ms\n", (long long)(step + 1), st.loss,
             st.accuracy, st.expected_latency_ms);
    }
  }

  /* The result is the argmax of alpha per layer, never a sample. */
  TRY(pnas_supernet_derive(sn, &arch));
  TRY(pnas_arch_save_yaml(arch, out));
  double ms = 0.0;
  TRY(pnas_latency_model_arch_latency(model, arch, &ms));
  printf("wrote %s (%.3f ms under the model)\n", out, ms);
  rc = 0;

fail:
  if (rc != 0) fprintf(stderr, "minimal_search: %s\n", pnas_context_last_error(ctx));
  pnas_arch_destroy(arch);
  pnas_batcher_destroy(ab); /* batchers before the data sets they read */
  pnas_batcher_destroy(wb);
  pnas_latency_model_destroy(model);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_dataset_destroy(held);
  pnas_dataset_destroy(train);
  pnas_dataset_destroy(some);
  pnas_dataset_destroy(all);
  pnas_context_destroy(ctx); /* last: everything above came from it */
  return rc;
}
