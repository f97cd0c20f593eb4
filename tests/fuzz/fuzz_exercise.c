/* SPDX-License-Identifier: MIT */
/* Exercising what a parser returned (fuzz_support.h): read every member
 * back, check the round trips that docs/formats.md promises, and run the
 * object once when it is small enough to keep the fuzzer fast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "search/supernet.h"

/* Above these a network or supernet is only inspected, not run. */
#define RUN_MAX_PIXELS (64 * 64 * 3)
#define RUN_MAX_MACS 4000000
#define RUN_MAX_PARAMS 400000
#define RUN_MAX_RL_SAMPLES 64

static unsigned char *slurp(const char *path, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  FUZZ_CHECK(f != NULL, "cannot open %s", path);
  size_t cap = 4096, size = 0;
  unsigned char *data = malloc(cap);
  FUZZ_CHECK(data != NULL, "out of memory");
  for (;;) {
    size += fread(data + size, 1, cap - size, f);
    if (size < cap) break;
    cap *= 2;
    data = realloc(data, cap);
    FUZZ_CHECK(data != NULL, "out of memory");
  }
  fclose(f);
  *out_size = size;
  return data;
}

void fuzz_check_same_file(const char *a, const char *b, const char *what) {
  size_t na = 0, nb = 0;
  unsigned char *da = slurp(a, &na), *db = slurp(b, &nb);
  size_t at = 0;
  while (at < na && at < nb && da[at] == db[at]) at++;
  const int same = na == nb && at == na;
  free(da);
  free(db);
  FUZZ_CHECK(same, "%s: %s (%zu bytes) and %s (%zu bytes) differ at byte %zu", what, a, na, b, nb,
             at);
}

static void check_ok(pnas_context *ctx, pnas_status s, const char *call) {
  FUZZ_CHECK(s == PNAS_OK, "%s: %s: %s", call, pnas_status_string(s), pnas_context_last_error(ctx));
}

/* ---- architectures ------------------------------------------------------- */

static void check_same_arch(const pnas_arch *a, const pnas_arch *b, const char *what) {
  pnas_arch_info ia, ib;
  pnas_arch_info_init(&ia);
  pnas_arch_info_init(&ib);
  FUZZ_CHECK(pnas_arch_get_info(a, &ia) == PNAS_OK && pnas_arch_get_info(b, &ib) == PNAS_OK,
             "%s: get_info", what);
  FUZZ_CHECK(ia.input_height == ib.input_height && ia.input_width == ib.input_width &&
                 ia.input_channels == ib.input_channels && ia.classes == ib.classes &&
                 ia.stem_channels == ib.stem_channels && ia.stem_kernel == ib.stem_kernel &&
                 ia.stem_stride == ib.stem_stride && ia.head_channels == ib.head_channels &&
                 ia.dropout == ib.dropout && ia.blocks == ib.blocks && ia.macs == ib.macs &&
                 ia.params == ib.params,
             "%s: the architectures' settings differ", what);
  for (int32_t i = 0; i < ia.blocks; i++) {
    pnas_block_info ba, bb;
    pnas_block_info_init(&ba);
    pnas_block_info_init(&bb);
    FUZZ_CHECK(
        pnas_arch_get_block(a, i, &ba) == PNAS_OK && pnas_arch_get_block(b, i, &bb) == PNAS_OK,
        "%s: get_block %d", what, (int)i);
    FUZZ_CHECK(
        ba.kind == bb.kind && ba.in_channels == bb.in_channels &&
            ba.out_channels == bb.out_channels && ba.stride == bb.stride &&
            ba.residual == bb.residual && ba.out_height == bb.out_height &&
            ba.out_width == bb.out_width && ba.macs == bb.macs && ba.params == bb.params &&
            (ba.kind == PNAS_BLOCK_IDENTITY || (ba.kernel == bb.kernel && ba.expand == bb.expand)),
        "%s: block %d differs", what, (int)i);
  }
}

static void arch_yaml_roundtrip(pnas_context *ctx, const pnas_arch *arch) {
  char a[512], b[512];
  fuzz_path(a, sizeof a, "arch-a.yaml");
  fuzz_path(b, sizeof b, "arch-b.yaml");
  check_ok(ctx, pnas_arch_save_yaml(arch, a), "pnas_arch_save_yaml");
  pnas_arch *back = NULL;
  check_ok(ctx, pnas_arch_load_yaml(ctx, a, &back), "pnas_arch_load_yaml of a saved arch");
  check_same_arch(arch, back, "arch YAML save -> load");
  check_ok(ctx, pnas_arch_save_yaml(back, b), "pnas_arch_save_yaml");
  fuzz_check_same_file(a, b, "arch YAML save -> load -> save");
  pnas_arch_destroy(back);
}

static void arch_net_config_roundtrip(pnas_context *ctx, const pnas_arch *arch,
                                      const pnas_arch_info *info) {
  char a[512];
  fuzz_path(a, sizeof a, "net-a.config");
  check_ok(ctx, pnas_arch_export_net_config(arch, a), "pnas_arch_export_net_config");
  pnas_arch *back = NULL;
  check_ok(ctx, pnas_arch_import_net_config(ctx, a, info->input_height, info->input_width, &back),
           "pnas_arch_import_net_config of an exported arch");
  check_same_arch(arch, back, "net.config export -> import");
  pnas_arch_destroy(back);
}

static int is_small(const pnas_arch_info *info) {
  return (int64_t)info->input_height * info->input_width * info->input_channels <= RUN_MAX_PIXELS &&
         info->macs <= RUN_MAX_MACS && info->params <= RUN_MAX_PARAMS;
}

void fuzz_exercise_net(pnas_context *ctx, pnas_net *net) {
  pnas_arch *arch = NULL;
  pnas_status s = pnas_net_get_arch(net, &arch);
  if (s != PNAS_OK) {
    fuzz_check_failure(ctx, s, "pnas_net_get_arch");
    return;
  }
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  check_ok(ctx, pnas_arch_get_info(arch, &info), "pnas_arch_get_info");
  pnas_arch_destroy(arch);
  if (!is_small(&info)) return;
  const size_t pixels =
      (size_t)info.input_height * (size_t)info.input_width * (size_t)info.input_channels;
  float *image = calloc(pixels, sizeof *image);
  float *logits = calloc((size_t)info.classes, sizeof *logits);
  FUZZ_CHECK(image != NULL && logits != NULL, "out of memory");
  s = pnas_net_infer(net, image, 1, logits);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_net_infer");
  const int32_t label = 0;
  pnas_step_stats stats = {.struct_size = sizeof stats};
  s = pnas_net_train_step(net, image, &label, 1, &stats);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_net_train_step");
  free(logits);
  free(image);
  char a[512], b[512];
  fuzz_path(a, sizeof a, "net-a.bin");
  fuzz_path(b, sizeof b, "net-b.bin");
  check_ok(ctx, pnas_net_save(net, a), "pnas_net_save");
  pnas_net *back = NULL;
  check_ok(ctx, pnas_net_load(ctx, a, NULL, &back), "pnas_net_load of a saved network");
  check_ok(ctx, pnas_net_save(back, b), "pnas_net_save");
  fuzz_check_same_file(a, b, "network save -> load -> save");
  pnas_net_destroy(back);
}

void fuzz_exercise_arch(pnas_context *ctx, const pnas_arch *arch) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  check_ok(ctx, pnas_arch_get_info(arch, &info), "pnas_arch_get_info");
  for (int32_t i = 0; i < info.blocks; i++) {
    pnas_block_info block;
    pnas_block_info_init(&block);
    check_ok(ctx, pnas_arch_get_block(arch, i, &block), "pnas_arch_get_block");
  }
  arch_yaml_roundtrip(ctx, arch);
  arch_net_config_roundtrip(ctx, arch, &info);
  pnas_latency_model *macs = NULL;
  check_ok(ctx, pnas_latency_model_create_macs(ctx, 0.01, &macs), "create_macs");
  double ms = -1.0;
  pnas_status s = pnas_latency_model_arch_latency(macs, arch, &ms);
  if (s == PNAS_OK) {
    FUZZ_CHECK(isfinite(ms) && ms >= 0.0, "arch latency %g", ms);
  } else {
    fuzz_check_failure(ctx, s, "pnas_latency_model_arch_latency");
  }
  pnas_latency_model_destroy(macs);
  if (!is_small(&info)) return;
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = 1;
  pnas_net *net = NULL;
  s = pnas_net_create(ctx, arch, &o, &net);
  if (s != PNAS_OK) {
    fuzz_check_failure(ctx, s, "pnas_net_create");
    return;
  }
  fuzz_exercise_net(ctx, net);
  pnas_net_destroy(net);
}

/* ---- spaces and supernets ----------------------------------------------- */

/* 1 if a supernet of the space is small enough to run: its weights over
 * every candidate and the multiply-adds of all candidates together, roughly
 * (1x1 convolutions dominate; the stem runs at full input size). */
static int space_is_small(const pnas_space *space, const pnas_space_info *info) {
  const int64_t pixels =
      (int64_t)info->input_height * info->input_width * (int64_t)info->input_channels;
  if (info->layers < 1 || pixels > RUN_MAX_PIXELS) return 0;
  const int64_t stem =
      (int64_t)info->stem_channels * info->input_channels * info->stem_kernel * info->stem_kernel;
  int64_t weights = stem, macs = stem * info->input_height * info->input_width;
  for (int32_t l = 0; l < info->layers; l++) {
    pnas_block_info shape;
    pnas_block_info_init(&shape);
    pnas_op_spec ops[64];
    int32_t count = 0;
    if (pnas_space_get_layer(space, l, &shape, ops, 64, &count) != PNAS_OK) return 0;
    const int64_t in_pixels = (int64_t)shape.in_height * shape.in_width;
    for (int32_t j = 0; j < count && j < 64; j++) {
      if (ops[j].kind != PNAS_OP_MBCONV) continue;
      const int64_t hidden = (int64_t)shape.in_channels * ops[j].expand;
      const int64_t w =
          hidden * (shape.in_channels + shape.out_channels + ops[j].kernel * ops[j].kernel);
      weights += w;
      macs += w * in_pixels;
      if (weights > RUN_MAX_PARAMS || macs > 8 * (int64_t)RUN_MAX_MACS) return 0;
    }
  }
  return 1;
}

void fuzz_exercise_space(pnas_context *ctx, const pnas_space *space) {
  pnas_space_info info;
  pnas_space_info_init(&info);
  check_ok(ctx, pnas_space_get_info(space, &info), "pnas_space_get_info");
  for (int32_t l = 0; l < info.layers; l++) {
    pnas_block_info shape;
    pnas_block_info_init(&shape);
    pnas_op_spec ops[8];
    int32_t count = -1;
    check_ok(ctx, pnas_space_get_layer(space, l, &shape, ops, 8, &count), "pnas_space_get_layer");
    FUZZ_CHECK(count >= 1, "layer %d has %d candidates", (int)l, (int)count);
  }
  char a[512], b[512];
  fuzz_path(a, sizeof a, "space-a.yaml");
  fuzz_path(b, sizeof b, "space-b.yaml");
  check_ok(ctx, pnas_space_save_yaml(space, a), "pnas_space_save_yaml");
  pnas_space *back = NULL;
  check_ok(ctx, pnas_space_load_yaml(ctx, a, &back), "pnas_space_load_yaml of a saved space");
  check_ok(ctx, pnas_space_save_yaml(back, b), "pnas_space_save_yaml");
  fuzz_check_same_file(a, b, "space YAML save -> load -> save");
  pnas_space_info back_info;
  pnas_space_info_init(&back_info);
  check_ok(ctx, pnas_space_get_info(back, &back_info), "pnas_space_get_info");
  FUZZ_CHECK(back_info.layers == info.layers && back_info.stages == info.stages,
             "space save -> load changed the layers");
  pnas_space_destroy(back);
  if (!space_is_small(space, &info)) return;
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  o.max_batch = 1;
  pnas_supernet *sn = NULL;
  const pnas_status s = pnas_supernet_create(ctx, space, &o, &sn);
  if (s != PNAS_OK) {
    fuzz_check_failure(ctx, s, "pnas_supernet_create");
    return;
  }
  fuzz_exercise_supernet(ctx, sn);
  pnas_supernet_destroy(sn);
}

static void supernet_steps(pnas_context *ctx, pnas_supernet *sn, const pnas_arch_info *info) {
  const size_t pixels =
      (size_t)info->input_height * (size_t)info->input_width * (size_t)info->input_channels;
  float *image = calloc(pixels, sizeof *image);
  FUZZ_CHECK(image != NULL, "out of memory");
  const int32_t label = 0;
  pnas_search_stats stats = {.struct_size = sizeof stats};
  pnas_status s = pnas_supernet_train_step(sn, image, &label, 1, &stats);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_train_step");
  s = pnas_supernet_arch_step(sn, image, &label, 1, &stats);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_arch_step");
  /* REINFORCE runs rl_samples forwards, and a checkpoint may validly ask
   * for up to 100000 of them: one such input took 260 s under ASan and
   * failed the run as a timeout. The public API has no getter for the
   * loaded search options, so the count is read from the supernet. */
  if (sn->search.rl_samples <= RUN_MAX_RL_SAMPLES) {
    s = pnas_supernet_arch_step_reinforce(sn, image, &label, 1, &stats);
    if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_arch_step_reinforce");
  }
  s = pnas_supernet_sample(sn);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_sample");
  int32_t pruned = -1;
  s = pnas_supernet_prune(sn, &pruned);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_prune");
  free(image);
}

static void supernet_checkpoint_roundtrip(pnas_context *ctx, const pnas_supernet *sn) {
  char a[512], b[512];
  fuzz_path(a, sizeof a, "supernet-a.ckpt");
  fuzz_path(b, sizeof b, "supernet-b.ckpt");
  static const char host[] = "host data";
  check_ok(ctx, pnas_supernet_save(sn, a, host, sizeof host), "pnas_supernet_save");
  pnas_supernet *back = NULL;
  void *host_back = NULL;
  size_t host_size = 0;
  check_ok(ctx, pnas_supernet_load(ctx, a, 0, &back, &host_back, &host_size),
           "pnas_supernet_load of a saved checkpoint");
  FUZZ_CHECK(host_size == sizeof host && memcmp(host_back, host, sizeof host) == 0,
             "host data changed");
  pnas_free(host_back);
  check_ok(ctx, pnas_supernet_save(back, b, host, sizeof host), "pnas_supernet_save");
  fuzz_check_same_file(a, b, "checkpoint save -> load -> save");
  pnas_supernet_destroy(back);
}

void fuzz_exercise_supernet(pnas_context *ctx, pnas_supernet *sn) {
  pnas_supernet_info info = {.struct_size = sizeof info};
  check_ok(ctx, pnas_supernet_get_info(sn, &info), "pnas_supernet_get_info");
  for (int32_t l = 0; l < info.layers; l++) {
    int32_t count = 0;
    check_ok(ctx, pnas_supernet_op_count(sn, l, &count), "pnas_supernet_op_count");
    pnas_op_spec ops[64];
    float alpha[64];
    FUZZ_CHECK(count >= 1 && count <= 64, "layer %d has %d candidates", (int)l, (int)count);
    check_ok(ctx, pnas_supernet_get_ops(sn, l, ops, 64), "pnas_supernet_get_ops");
    for (int32_t what = 0; what < 3; what++) {
      check_ok(ctx, pnas_supernet_get_alpha(sn, l, what, alpha, 64), "pnas_supernet_get_alpha");
    }
  }
  pnas_arch *arch = NULL;
  check_ok(ctx, pnas_supernet_derive(sn, &arch), "pnas_supernet_derive");
  pnas_arch_info arch_info;
  pnas_arch_info_init(&arch_info);
  check_ok(ctx, pnas_arch_get_info(arch, &arch_info), "pnas_arch_get_info");
  pnas_arch_destroy(arch);
  /* A step runs one or two paths (REINFORCE: up to RUN_MAX_RL_SAMPLES). */
  const int small =
      info.params <= RUN_MAX_PARAMS && arch_info.macs <= RUN_MAX_MACS &&
      (int64_t)arch_info.input_height * arch_info.input_width * arch_info.input_channels <=
          RUN_MAX_PIXELS;
  /* The steps run with the options and latency prices the supernet came with. */
  if (small) supernet_steps(ctx, sn, &arch_info);
  double ms = 0.0;
  pnas_status s = pnas_supernet_expected_latency(sn, &ms);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_expected_latency");
  pnas_latency_model *macs = NULL;
  check_ok(ctx, pnas_latency_model_create_macs(ctx, 0.01, &macs), "create_macs");
  s = pnas_supernet_set_latency_model(sn, macs);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_set_latency_model");
  pnas_latency_model_destroy(macs);
  s = pnas_supernet_expected_latency(sn, &ms);
  if (s != PNAS_OK) fuzz_check_failure(ctx, s, "pnas_supernet_expected_latency");
  if (!small) return;
  supernet_checkpoint_roundtrip(ctx, sn);
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = 1;
  pnas_net *net = NULL;
  s = pnas_supernet_derive_net(sn, &o, 1, &net);
  if (s != PNAS_OK) {
    fuzz_check_failure(ctx, s, "pnas_supernet_derive_net");
    return;
  }
  fuzz_exercise_net(ctx, net);
  pnas_net_destroy(net);
}
