/* SPDX-License-Identifier: MIT */
/* Search-space internals: the candidate blocks of every layer and the
 * architectures derived from a choice of one op per layer, checked against
 * MAC and parameter counts computed here from the formulas (docs/formats.md,
 * "Counting MACs and parameters"), not from the library's code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "io/space_io.h"
#include "nn/arch.h"
#include "search/space.h"

/* ---- helpers ----------------------------------------------------------- */

static const char *config_path(const char *name) {
  static char path[1024];
  const char *root = getenv("PNAS_TEST_DATA");
  ck_assert_msg(root != NULL, "PNAS_TEST_DATA is not set (run through meson test)");
  snprintf(path, sizeof path, "%s/../../examples/configs/%s", root, name);
  return path;
}

static pnas_context *plain_context(void) {
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  o.threads = 1;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

static pnas_space *fmnist(pnas_context *ctx) {
  pnas_space *space = NULL;
  const pnas_status st = pni_space_load_yaml(ctx, config_path("fmnist-space.yaml"), &space);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(ctx));
  return space;
}

static pnas_space *imagenet(pnas_context *ctx) {
  pnas_space *space = NULL;
  ck_assert_int_eq(pni_space_create_default(ctx, &space), PNAS_OK);
  return space;
}

/* Output size of a conv with an odd kernel and padding k/2. */
static int64_t out_size(int64_t in, int64_t stride) {
  return (in - 1) / stride + 1;
}

/* The cost of MBConv(k, e) from cin to cout at stride s on an ih x iw map. */
typedef struct cost {
  int64_t macs, params;
} cost;

static cost mbconv_cost(int64_t ih, int64_t iw, int64_t cin, int64_t cout, int64_t k, int64_t e,
                        int64_t s) {
  const int64_t mid = cin * e, oh = out_size(ih, s), ow = out_size(iw, s);
  cost c = {0, 0};
  if (e != 1) {
    c.macs += ih * iw * cin * mid;   /* 1x1 expand */
    c.params += cin * mid + 2 * mid; /* weights, BN */
  }
  c.macs += oh * ow * mid * k * k; /* depthwise */
  c.params += mid * k * k + 2 * mid;
  c.macs += oh * ow * mid * cout; /* 1x1 project */
  c.params += mid * cout + 2 * cout;
  return c;
}

static cost layer_cost(const pnas_space *space, int32_t l, int32_t op) {
  const pni_space_layer *layer = &space->layers[l];
  const pnas_op_spec *spec = &layer->ops[op];
  if (spec->kind == PNAS_OP_ZERO) return (cost){0, 0};
  const pni_block *s = &layer->shape;
  return mbconv_cost(s->in_height, s->in_width, s->in_channels, s->out_channels, spec->kernel,
                     spec->expand, s->stride);
}

/* The whole network for a choice of ops, from the formulas. */
static cost network_cost(const pnas_space *space, const int32_t *choice) {
  const pnas_space_info *in = &space->info;
  int64_t h = out_size(in->input_height, in->stem_stride);
  int64_t w = out_size(in->input_width, in->stem_stride);
  int64_t c = in->stem_channels;
  const int64_t k = in->stem_kernel;
  cost total = {h * w * in->input_channels * c * k * k, in->input_channels * c * k * k + 2 * c};
  if (in->first_block_channels > 0) {
    const cost fb = mbconv_cost(h, w, c, in->first_block_channels, 3, 1, 1);
    total.macs += fb.macs;
    total.params += fb.params;
    c = in->first_block_channels;
  }
  for (int32_t l = 0; l < in->layers; l++) {
    const cost lc = layer_cost(space, l, choice[l]);
    total.macs += lc.macs;
    total.params += lc.params;
    h = space->layers[l].shape.out_height;
    w = space->layers[l].shape.out_width;
    c = space->layers[l].shape.out_channels;
  }
  int64_t features = c;
  if (in->head_channels > 0) {
    total.macs += h * w * c * in->head_channels;
    total.params += c * in->head_channels + 2 * in->head_channels;
    features = in->head_channels;
  }
  total.macs += features * in->classes;
  total.params += features * in->classes + in->classes;
  return total;
}

/* ---- candidates ---------------------------------------------------------- */

static void check_candidates(const pnas_space *space) {
  for (int32_t l = 0; l < space->info.layers; l++) {
    const pni_space_layer *layer = &space->layers[l];
    for (int32_t i = 0; i < layer->op_count; i++) {
      pni_block b;
      memset(&b, 0x5a, sizeof b);
      pni_space_candidate(space, l, i, &b);
      const cost c = layer_cost(space, l, i);
      ck_assert_int_eq(b.in_channels, layer->shape.in_channels);
      ck_assert_int_eq(b.in_height, layer->shape.in_height);
      ck_assert_int_eq(b.in_width, layer->shape.in_width);
      ck_assert_int_eq(b.out_channels, layer->shape.out_channels);
      ck_assert_int_eq(b.out_height, layer->shape.out_height);
      ck_assert_int_eq(b.out_width, layer->shape.out_width);
      ck_assert_msg(b.macs == c.macs, "layer %d op %d: %lld MACs, expected %lld", (int)l, (int)i,
                    (long long)b.macs, (long long)c.macs);
      ck_assert_int_eq(b.params, c.params);
      if (layer->ops[i].kind == PNAS_OP_ZERO) {
        ck_assert_int_eq(b.kind, PNAS_BLOCK_IDENTITY);
        ck_assert_int_eq(b.residual, 1);
        ck_assert_int_eq(b.stride, 1);
        ck_assert_int_eq(layer->shape.residual, 1);
      } else {
        ck_assert_int_eq(b.kind, PNAS_BLOCK_MBCONV);
        ck_assert_int_eq(b.kernel, layer->ops[i].kernel);
        ck_assert_int_eq(b.expand, layer->ops[i].expand);
        ck_assert_int_eq(b.mid_channels, layer->shape.in_channels * layer->ops[i].expand);
        ck_assert_int_eq(b.stride, layer->shape.stride);
        ck_assert_int_eq(b.residual, layer->shape.residual);
      }
    }
  }
}

START_TEST(candidates_match_the_formulas) {
  pnas_context *ctx = plain_context();
  pnas_space *a = fmnist(ctx), *b = imagenet(ctx);
  check_candidates(a);
  check_candidates(b);
  /* One value by hand: layer 0 of the ImageNet space, MBConv(7, 6),
   * 112x112x16 -> 56x56x24: 112*112*16*96 + 56*56*96*49 + 56*56*96*24. */
  pni_block blk;
  pni_space_candidate(b, 0, 5, &blk);
  ck_assert_int_eq(blk.macs, 19267584 + 14751744 + 7225344);
  pnas_space_destroy(a);
  pnas_space_destroy(b);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- derived architectures ----------------------------------------------- */

static void check_derived(const pnas_space *space, const int32_t *choice) {
  pnas_arch *arch = NULL;
  const pnas_status st = pni_space_build_arch(space, choice, &arch);
  ck_assert_msg(st == PNAS_OK, "%s", pnas_context_last_error(space->ctx));
  const int32_t fixed = space->info.first_block_channels > 0 ? 1 : 0;
  ck_assert_int_eq(arch->info.blocks, space->info.layers + fixed);
  int64_t candidate_macs = 0;
  for (int32_t l = 0; l < space->info.layers; l++) {
    pni_block c;
    pni_space_candidate(space, l, choice[l], &c);
    const pni_block *b = &arch->blocks[fixed + l];
    ck_assert_int_eq(b->kind, c.kind);
    ck_assert_int_eq(b->kernel, c.kernel);
    ck_assert_int_eq(b->expand, c.expand);
    ck_assert_int_eq(b->stride, c.stride);
    ck_assert_int_eq(b->residual, c.residual);
    ck_assert_int_eq(b->out_channels, c.out_channels);
    ck_assert_int_eq(b->out_height, c.out_height);
    ck_assert_int_eq(b->macs, c.macs);
    ck_assert_int_eq(b->params, c.params);
    candidate_macs += c.macs;
  }
  /* The total is the candidates' sum plus the fixed parts. */
  const cost expected = network_cost(space, choice);
  ck_assert_msg(arch->info.macs == expected.macs, "%lld MACs, expected %lld",
                (long long)arch->info.macs, (long long)expected.macs);
  ck_assert_int_eq(arch->info.params, expected.params);
  cost fixed_parts = expected;
  for (int32_t l = 0; l < space->info.layers; l++) {
    fixed_parts.macs -= layer_cost(space, l, choice[l]).macs;
  }
  ck_assert_int_eq(arch->info.macs, candidate_macs + fixed_parts.macs);
  ck_assert_int_eq(arch->info.dropout == space->info.dropout, 1);
  ck_assert_int_eq(arch->info.head_channels, space->info.head_channels);
  int32_t ah, aw, ac, sh, sw, sc;
  pni_arch_features(arch, &ah, &aw, &ac);
  pni_space_features(space, &sh, &sw, &sc);
  ck_assert_int_eq(ah, sh);
  ck_assert_int_eq(aw, sw);
  ck_assert_int_eq(ac, sc);
  pni_arch_destroy(arch);
}

static void check_choices(const pnas_space *space) {
  const int32_t n = space->info.layers;
  int32_t *choice = calloc((size_t)n + 1, sizeof *choice);
  ck_assert_ptr_nonnull(choice);
  for (int pattern = 0; pattern < 4; pattern++) {
    for (int32_t l = 0; l < n; l++) {
      const int32_t count = space->layers[l].op_count;
      switch (pattern) {
        case 0:
          choice[l] = 0;
          break;
        case 1:
          choice[l] = count - 1;
          break; /* zero wherever there is one */
        case 2:
          choice[l] = l % count;
          break;
        default:
          choice[l] = (5 * l + 3) % count;
          break;
      }
    }
    check_derived(space, choice);
  }
  free(choice);
}

START_TEST(derived_arch_counts_are_the_sum_of_the_choices) {
  pnas_context *ctx = plain_context();
  pnas_space *a = fmnist(ctx), *b = imagenet(ctx);
  check_choices(a);
  check_choices(b);
  /* All MBConv(3, 3) in the ImageNet space, and all the largest ops. */
  int32_t choice[21];
  for (int l = 0; l < 21; l++) choice[l] = 0;
  check_derived(b, choice);
  for (int l = 0; l < 21; l++) choice[l] = 5;
  check_derived(b, choice);
  /* All zero where allowed, so the fmnist net keeps only 4 MBConv layers. */
  int32_t f[8];
  for (int l = 0; l < 8; l++) f[l] = l % 2 == 1 ? 6 : 0;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pni_space_build_arch(a, f, &arch), PNAS_OK);
  int identity = 0;
  for (int32_t i = 0; i < arch->info.blocks; i++) {
    identity += arch->blocks[i].kind == PNAS_BLOCK_IDENTITY;
  }
  ck_assert_int_eq(identity, 4);
  pni_arch_destroy(arch);
  pnas_space_destroy(a);
  pnas_space_destroy(b);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(derived_arch_without_first_block_or_head) {
  pnas_context *ctx = plain_context();
  pnas_space_info info;
  pni_space_default_info(&info);
  info.input_height = 9;
  info.input_width = 13;
  info.first_block_channels = 0;
  info.head_channels = 0;
  info.classes = 3;
  info.dropout = 0.5f;
  pnas_space *space = NULL;
  ck_assert_int_eq(pni_space_create(ctx, &info, &space), PNAS_OK);
  const pnas_op_spec ops[3] = {
      {PNAS_OP_MBCONV, 5, 1}, {PNAS_OP_ZERO, 0, 0}, {PNAS_OP_MBCONV, 3, 4}};
  ck_assert_int_eq(pni_space_add_stage(space, 32, 2, 1, ops, 3, 1), PNAS_OK);
  ck_assert_int_eq(pni_space_add_stage(space, 12, 2, 2, ops, 3, 0), PNAS_OK);
  ck_assert_int_eq(space->layers[0].op_count, 3); /* 32 -> 32 at stride 1 */
  ck_assert_int_eq(space->layers[2].op_count, 2); /* zero dropped */
  const int32_t choice[4] = {1, 2, 1, 2};
  check_derived(space, choice);
  const int32_t choice2[4] = {0, 0, 0, 0};
  check_derived(space, choice2);
  int32_t h, w, c;
  pni_space_features(space, &h, &w, &c);
  ck_assert_int_eq(h, 3); /* 9 -> 5 (stem) -> 3 */
  ck_assert_int_eq(w, 4); /* 13 -> 7 -> 4 */
  ck_assert_int_eq(c, 12);

  /* A choice out of range names the layer; nothing is returned. */
  pnas_arch *arch = (pnas_arch *)(uintptr_t)0x1234;
  const int32_t bad[4] = {0, 0, 2, 0};
  ck_assert_int_eq(pni_space_build_arch(space, bad, &arch), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "layer 2: choice 2 is out of range"));
  const int32_t negative[4] = {0, -1, 0, 0};
  ck_assert_int_eq(pni_space_build_arch(space, negative, &arch), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(arch, (pnas_arch *)(uintptr_t)0x1234);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

/* ---- copies, names, memory ------------------------------------------------ */

START_TEST(copy_is_equal_and_independent) {
  pnas_context *ctx = plain_context();
  pnas_space *space = imagenet(ctx), *copy = NULL;
  ck_assert_int_eq(pni_space_copy(ctx, space, &copy), PNAS_OK);
  ck_assert_int_eq(copy->tag, space->tag);
  ck_assert_mem_eq(&copy->info, &space->info, sizeof space->info);
  ck_assert_mem_eq(&copy->first_block, &space->first_block, sizeof space->first_block);
  ck_assert_mem_eq(copy->layers, space->layers, (size_t)space->info.layers * sizeof *space->layers);
  ck_assert_mem_eq(copy->stages, space->stages, (size_t)space->info.stages * sizeof *space->stages);
  const pnas_op_spec op = {PNAS_OP_MBCONV, 3, 1};
  ck_assert_int_eq(pni_space_add_stage(copy, 8, 3, 1, &op, 1, 0), PNAS_OK);
  ck_assert_int_eq(copy->info.layers, 24);
  ck_assert_int_eq(space->info.layers, 21);
  pnas_space_destroy(copy);

  /* An empty space copies too. */
  pnas_space_info info;
  pni_space_default_info(&info);
  pnas_space *empty = NULL;
  ck_assert_int_eq(pni_space_create(ctx, &info, &empty), PNAS_OK);
  ck_assert_int_eq(pni_space_copy(ctx, empty, &copy), PNAS_OK);
  ck_assert_int_eq(copy->info.layers, 0);
  ck_assert_int_eq(pni_space_add_stage(copy, 8, 1, 1, &op, 1, 0), PNAS_OK);
  pnas_space_destroy(copy);
  pnas_space_destroy(empty);

  /* Every allocation of a copy failing in turn leaks nothing. */
  counting_alloc counts = {0};
  pnas_context *counted = counting_context(&counts);
  const long live = counts.live;
  for (long k = 1;; k++) {
    counts.fail_at = counts.calls + k;
    copy = NULL;
    const pnas_status st = pni_space_copy(counted, space, &copy);
    if (st == PNAS_OK) break;
    ck_assert_int_eq(st, PNAS_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(copy);
    ck_assert_int_eq(counts.live, live);
    ck_assert_int_lt(k, 10);
  }
  counts.fail_at = 0;
  pnas_space_destroy(copy);
  ck_assert_int_eq(counts.live, live);
  pnas_context_destroy(counted);
  ck_assert_int_eq(counts.live, 0);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(op_names_round_trip) {
  for (int32_t k = 3; k <= 7; k += 2) {
    for (int32_t e = 1; e <= PNI_ARCH_MAX_EXPAND; e++) {
      const pnas_op_spec op = {PNAS_OP_MBCONV, k, e};
      char name[PNI_SPACE_OP_NAME_CAPACITY], official[32];
      pni_space_op_name(&op, name, sizeof name);
      pnas_op_spec back = {PNAS_OP_ZERO, 0, 0};
      ck_assert_msg(pni_space_op_parse(name, &back), "%s", name);
      ck_assert_int_eq(back.kind, PNAS_OP_MBCONV);
      ck_assert_int_eq(back.kernel, k);
      ck_assert_int_eq(back.expand, e);
      snprintf(official, sizeof official, "%dx%d_MBConv%d", (int)k, (int)k, (int)e);
      memset(&back, 0, sizeof back);
      ck_assert_msg(pni_space_op_parse(official, &back), "%s", official);
      ck_assert_int_eq(back.kernel, k);
      ck_assert_int_eq(back.expand, e);
    }
  }
  const pnas_op_spec zero = {PNAS_OP_ZERO, 5, 5};
  char name[PNI_SPACE_OP_NAME_CAPACITY];
  pni_space_op_name(&zero, name, sizeof name);
  ck_assert_str_eq(name, "zero");
  pnas_op_spec back;
  ck_assert(pni_space_op_parse("zero", &back) && back.kind == PNAS_OP_ZERO);
  ck_assert(pni_space_op_parse("Zero", &back) && back.kind == PNAS_OP_ZERO);
  static const char *const bad[] = {
      "",     "mbconv", "mbconv1x1_e3",  "mbconv9x9_e1", "3x3_MBConv",    "mbconv3x3_e99999",
      "ZERO", " zero",  "mbconv3x3_e3 ", "5x5_MBConv65", "mbconv-3x-3_e3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(!pni_space_op_parse(bad[i], &back), "'%s' was accepted", bad[i]);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("space-internal");
  TCase *tc = tcase_create("internal");
  tcase_add_test(tc, candidates_match_the_formulas);
  tcase_add_test(tc, derived_arch_counts_are_the_sum_of_the_choices);
  tcase_add_test(tc, derived_arch_without_first_block_or_head);
  tcase_add_test(tc, copy_is_equal_and_independent);
  tcase_add_test(tc, op_names_round_trip);
  suite_add_tcase(s, tc);
  return s;
}
