/* SPDX-License-Identifier: MIT */
/* Times supernet steps on the Fashion-MNIST reference supernet through the
 * public API and prints one key=value line (peak RSS included).
 *
 *   bench-supernet --mode weight|two|full_v2 [--candidates 6|12]
 *                  [--batch N] [--threads N] [--iters N] [--warmup N]
 *
 * The reference supernet: the engine benchmark's network with the four
 * stages' layers as mixed ops over MBConv {3,5,7} x {3,6} (6 candidates;
 * with 12: MBConv {3,5,7} x {3,4,5,6}), plus zero on each stage's
 * second layer. Run by run_bench.py beside torch_supernet.py. */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(pnas_context *ctx, const char *what) {
  fprintf(stderr, "bench-supernet: %s: %s\n", what, ctx ? pnas_context_last_error(ctx) : "");
  return 1;
}

/* 6 candidates: k {3,5,7} x e {3,6}; 12: k {3,5,7} x e {3,4,5,6}. */
static pnas_status reference_space(pnas_context *ctx, int candidates, pnas_space **out) {
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = info.input_width = 28;
  info.input_channels = 1;
  info.classes = 10;
  info.stem_channels = 16;
  info.stem_kernel = 3;
  info.stem_stride = 1;
  info.first_block_channels = 8;
  info.head_channels = 256;
  info.dropout = 0.0f;
  pnas_space *space = NULL;
  pnas_status st = pnas_space_create(ctx, &info, &space);
  if (st != PNAS_OK) return st;
  pnas_op_spec ops[16];
  int n = 0;
  const int kernels[3] = {3, 5, 7};
  const int e6[2] = {3, 6}, e12[4] = {3, 4, 5, 6};
  for (int k = 0; k < 3; k++) {
    const int count = candidates == 12 ? 4 : 2;
    for (int e = 0; e < count; e++) {
      ops[n++] = (pnas_op_spec){PNAS_OP_MBCONV, kernels[k], candidates == 12 ? e12[e] : e6[e]};
    }
  }
  ops[n++] = (pnas_op_spec){PNAS_OP_ZERO, 0, 0};
  const int widths[4] = {24, 40, 80, 96}, strides[4] = {2, 2, 1, 1};
  for (int s = 0; s < 4 && st == PNAS_OK; s++) {
    st = pnas_space_add_stage(space, widths[s], 2, strides[s], ops, n, 0);
  }
  if (st != PNAS_OK) {
    pnas_space_destroy(space);
    return st;
  }
  *out = space;
  return PNAS_OK;
}

int main(int argc, char **argv) {
  const char *mode = "weight";
  int batch = 64, threads = 1, iters = 10, warmup = 3, candidates = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--candidates")) candidates = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "bench-supernet: unknown option %s\n", argv[i]);
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
    fprintf(stderr, "bench-supernet: %s\n", err);
    return 1;
  }
  pnas_space *space = NULL;
  if (reference_space(ctx, candidates, &space) != PNAS_OK) return die(ctx, "space");
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = batch;
  pnas_supernet *sn = NULL;
  if (pnas_supernet_create(ctx, space, &so, &sn) != PNAS_OK) return die(ctx, "supernet");
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.arch_mode = !strcmp(mode, "two") ? PNAS_ARCH_MODE_TWO : PNAS_ARCH_MODE_FULL_V2;
  if (pnas_supernet_set_search(sn, &search) != PNAS_OK) return die(ctx, "search options");
  float *x = malloc(sizeof(float) * 28 * 28 * (size_t)batch);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch);
  srand(1);
  for (int i = 0; i < 28 * 28 * batch; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int i = 0; i < batch; i++) labels[i] = i % 10;
  const int weight = !strcmp(mode, "weight");
  double times[1000];
  if (iters > 1000) iters = 1000;
  for (int i = 0; i < warmup + iters; i++) {
    const double t0 = now_s();
    const pnas_status st = weight ? pnas_supernet_train_step(sn, x, labels, batch, NULL)
                                  : pnas_supernet_arch_step(sn, x, labels, batch, NULL);
    if (st != PNAS_OK) return die(ctx, mode);
    if (i >= warmup) times[i - warmup] = now_s() - t0;
  }
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
  pnas_supernet_info info = {.struct_size = sizeof info};
  pnas_supernet_get_info(sn, &info);
  printf("impl=libpnas net=supernet%d mode=%s batch=%d threads=%d ms=%.4f images_per_s=%.1f "
         "peak_rss_mb=%.1f params=%lld\n",
         candidates, mode, batch, threads, 1e3 * median, batch / median, ru.ru_maxrss / 1024.0,
         (long long)info.params);
  free(x);
  free(labels);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  return 0;
}
