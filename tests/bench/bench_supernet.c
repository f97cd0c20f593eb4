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
 * second layer. Run by run_bench.py beside torch_supernet.py.
 *
 * For weight steps it also counts the floating-point work of every sampled
 * path analytically (2 flops per multiply-add of each convolution and the
 * classifier: the forward, the backward data of every layer but the stem,
 * and the weight gradients of every layer) and prints the median step's
 * rate as gflop_per_s, the mean FLOPs of a step as step_gflop. */
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

/* Multiply-adds of one image through an MBConv block (expand 1: no expand
 * conv) at an h x w input, pad k / 2 as the library does. */
static double mbconv_macs(int h, int w, int cin, int cout, int k, int e, int stride) {
  const double oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, mid = (double)cin * e;
  const double expand = e == 1 ? 0.0 : (double)h * w * cin * mid;
  return expand + oh * ow * mid * k * k + oh * ow * mid * cout;
}

/* Multiply-adds of the stem convolution for one image. */
#define STEM_MACS (28.0 * 28 * 1 * 16 * 9)

/* Forward multiply-adds of one image on a path (ops: index into the
 * reference space's op list per layer; index `candidates` is zero). */
static double path_macs(const int32_t *path, int candidates) {
  const int kernels[3] = {3, 5, 7}, e6[2] = {3, 6}, e12[4] = {3, 4, 5, 6};
  const int per_k = candidates == 12 ? 4 : 2;
  double m = STEM_MACS + mbconv_macs(28, 28, 16, 8, 3, 1, 1);
  const int widths[4] = {24, 40, 80, 96}, strides[4] = {2, 2, 1, 1};
  int h = 28, c = 8, layer = 0;
  for (int s = 0; s < 4; s++) {
    for (int l = 0; l < 2; l++, layer++) {
      const int op = path[layer], stride = l == 0 ? strides[s] : 1;
      if (op == candidates) continue; /* zero: identity */
      const int k = kernels[op / per_k], e = candidates == 12 ? e12[op % per_k] : e6[op % per_k];
      m += mbconv_macs(h, h, c, widths[s], k, e, stride);
      h = (h - 1) / stride + 1;
      c = widths[s];
    }
  }
  return m + (double)h * h * c * 256 + 256.0 * 10;
}

/* FLOPs of one weight step of `batch` images on a path: forward, backward
 * data (all but the stem) and weight gradients, 2 per multiply-add. */
static double path_step_flops(const int32_t *path, int candidates, int batch) {
  return 2.0 * batch * (3.0 * path_macs(path, candidates) - STEM_MACS);
}

/* Sorts v[0..n) and returns its median (the upper one for even n). */
static double median_of(double *v, int n) {
  for (int i = 1; i < n; i++) {
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      const double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  }
  return v[n / 2];
}

/* The analytic count must agree with the library's on the all-(k3, e3)
 * path (the uniform k3e3 network). */
static int check_flop_count(pnas_context *ctx) {
  pnas_arch *arch = NULL;
  if (fmnist_uniform_arch(ctx, 3, 3, &arch) != PNAS_OK) return 0;
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_arch_get_info(arch, &info);
  pnas_arch_destroy(arch);
  const int32_t path[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const double macs = path_macs(path, 6);
  if ((int64_t)macs != info.macs) {
    fprintf(stderr, "bench-supernet: FLOP count %.0f MACs, library %lld\n", macs,
            (long long)info.macs);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  const char *mode = "weight";
  int batch = 64, threads = 1, iters = 10, warmup = 3, candidates = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mode"))
      mode = argv[i + 1];
    else if (!strcmp(argv[i], "--batch"))
      batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--iters"))
      iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup"))
      warmup = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--candidates"))
      candidates = atoi(argv[i + 1]);
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
  if (!check_flop_count(ctx)) return 1;
  double times[1000], rates[1000], flop_sum = 0.0;
  if (iters > 1000) iters = 1000;
  for (int i = 0; i < warmup + iters; i++) {
    const double t0 = now_s();
    const pnas_status st = weight ? pnas_supernet_train_step(sn, x, labels, batch, NULL)
                                  : pnas_supernet_arch_step(sn, x, labels, batch, NULL);
    if (st != PNAS_OK) return die(ctx, mode);
    const double t = now_s() - t0;
    if (i >= warmup) {
      int32_t path[8];
      if (pnas_supernet_active_path(sn, path, 8, 0) != PNAS_OK) return die(ctx, "path");
      const double step_flops = path_step_flops(path, candidates, batch);
      times[i - warmup] = t;
      rates[i - warmup] = step_flops / t;
      flop_sum += step_flops;
    }
  }
  /* The median of the per-step rates: paths differ in work from step to step. */
  const double median_rate = median_of(rates, iters);
  const double median = median_of(times, iters);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  pnas_supernet_info info = {.struct_size = sizeof info};
  pnas_supernet_get_info(sn, &info);
  printf(
      "impl=libpnas net=supernet%d mode=%s batch=%d threads=%d ms=%.4f images_per_s=%.1f "
      "peak_rss_mb=%.1f params=%lld",
      candidates, mode, batch, threads, 1e3 * median, batch / median, ru.ru_maxrss / 1024.0,
      (long long)info.params);
  if (weight)
    printf(" gflop_per_s=%.2f step_gflop=%.4f", 1e-9 * median_rate, 1e-9 * flop_sum / iters);
  printf("\n");
  free(x);
  free(labels);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  return 0;
}
