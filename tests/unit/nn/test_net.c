/* SPDX-License-Identifier: MIT */
/* pnas_net through the public API: creation, options, training on a
 * learnable synthetic task, inference and evaluation, save/load, bad input,
 * non-finite losses, determinism and leaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

enum { HW = 8, CLASSES = 3, BATCH = 12 };

static pnas_context *make_context(counting_alloc *state, uint64_t seed) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = seed;
  if (state != NULL) o.allocator = counting_alloc_hooks(state, 1);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

static pnas_arch *make_arch(pnas_context *ctx) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = CLASSES;
  info.stem_channels = 8;
  info.head_channels = 16;
  info.dropout = 0.1f;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  const int32_t spec[][4] = {{8, 3, 1, 1}, {12, 3, 3, 2}, {12, 5, 6, 1}};
  for (int i = 0; i < 3; i++) {
    pnas_block_info b;
    pnas_block_info_init(&b);
    b.out_channels = spec[i][0];
    b.kernel = spec[i][1];
    b.expand = spec[i][2];
    b.stride = spec[i][3];
    ck_assert_msg(pnas_arch_append_block(arch, &b) == PNAS_OK, "%s",
                  pnas_context_last_error(ctx));
  }
  return arch;
}

static pnas_net *make_net(pnas_context *ctx) {
  pnas_arch *arch = make_arch(ctx);
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = BATCH;
  pnas_net *net = NULL;
  ck_assert_msg(pnas_net_create(ctx, arch, &o, &net) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  pnas_arch_destroy(arch);
  return net;
}

/* Class k is a bright square in a different corner: easy to learn. */
static void make_batch(float *x, int32_t *labels, int n, unsigned seed) {
  memset(x, 0, sizeof(float) * (size_t)n * HW * HW);
  for (int i = 0; i < n; i++) {
    const int k = (int)((i + seed) % CLASSES);
    labels[i] = k;
    const int oy = k == 1 ? 4 : 0, ox = k == 2 ? 4 : 0;
    for (int y = 0; y < 4; y++) {
      for (int xx = 0; xx < 4; xx++) x[(size_t)i * HW * HW + (oy + y) * HW + ox + xx] = 1.0f;
    }
    x[(size_t)i * HW * HW + ((i * 5 + seed) % (HW * HW))] += 0.5f; /* noise */
  }
}

START_TEST(training_learns_a_separable_task) {
  pnas_context *ctx = make_context(NULL, 1);
  pnas_net *net = make_net(ctx);
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.lr = 0.1f;
  ck_assert_int_eq(pnas_net_set_sgd(net, &sgd), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  pnas_step_stats first = {sizeof first, 0, 0, 0}, last = {sizeof last, 0, 0, 0};
  for (int step = 0; step < 60; step++) {
    make_batch(x, y, BATCH, (unsigned)step);
    ck_assert_int_eq(pnas_net_set_lr(net, pnas_lr_cosine(0.1f, step, 60)), PNAS_OK);
    ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, step == 0 ? &first : &last), PNAS_OK);
  }
  ck_assert_int_eq(first.images, BATCH);
  ck_assert(last.loss < 0.6 * first.loss);
  float logits[BATCH * CLASSES];
  make_batch(x, y, BATCH, 1000);
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, logits), PNAS_OK);
  int correct = 0;
  for (int i = 0; i < BATCH; i++) {
    int best = 0;
    for (int k = 1; k < CLASSES; k++) {
      if (logits[i * CLASSES + k] > logits[i * CLASSES + best]) best = k;
    }
    correct += best == y[i];
  }
  ck_assert_int_ge(correct, BATCH - 1);
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(same_seed_gives_identical_nets) {
  float logits[2][BATCH * CLASSES];
  for (int run = 0; run < 2; run++) {
    pnas_context *ctx = make_context(NULL, 42);
    pnas_net *net = make_net(ctx);
    float x[BATCH * HW * HW];
    int32_t y[BATCH];
    for (int step = 0; step < 5; step++) {
      make_batch(x, y, BATCH, (unsigned)step);
      ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, NULL), PNAS_OK);
    }
    ck_assert_int_eq(pnas_net_infer(net, x, BATCH, logits[run]), PNAS_OK);
    pnas_net_destroy(net);
    pnas_context_destroy(ctx);
  }
  ck_assert_int_eq(memcmp(logits[0], logits[1], sizeof logits[0]), 0);
}
END_TEST

START_TEST(save_and_load_round_trip) {
  pnas_context *ctx = make_context(NULL, 5);
  pnas_net *net = make_net(ctx);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  for (int step = 0; step < 3; step++) {
    make_batch(x, y, BATCH, (unsigned)step);
    ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, NULL), PNAS_OK);
  }
  char dir[] = "/tmp/pnas-net-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/model.pnas", dir);
  ck_assert_int_eq(pnas_net_save(net, path), PNAS_OK);
  pnas_net *copy = NULL;
  ck_assert_msg(pnas_net_load(ctx, path, NULL, &copy) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  float a[BATCH * CLASSES], b[BATCH * CLASSES];
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, a), PNAS_OK);
  ck_assert_int_eq(pnas_net_infer(copy, x, BATCH, b), PNAS_OK);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
  /* Training continues identically: momenta and settings were saved too. */
  ck_assert_int_eq(pnas_net_set_lr(net, 0.01f), PNAS_OK);
  ck_assert_int_eq(pnas_net_set_lr(copy, 0.01f), PNAS_OK);
  /* Same dropout masks for both: the context's generator is re-seeded. */
  ck_assert_int_eq(pnas_context_set_seed(ctx, 77), PNAS_OK);
  ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, NULL), PNAS_OK);
  ck_assert_int_eq(pnas_context_set_seed(ctx, 77), PNAS_OK);
  ck_assert_int_eq(pnas_net_train_step(copy, x, y, BATCH, NULL), PNAS_OK);
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, a), PNAS_OK);
  ck_assert_int_eq(pnas_net_infer(copy, x, BATCH, b), PNAS_OK);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);

  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_net_get_arch(copy, &arch), PNAS_OK);
  pnas_arch_info info = {.struct_size = sizeof info};
  ck_assert_int_eq(pnas_arch_get_info(arch, &info), PNAS_OK);
  ck_assert_int_eq(info.blocks, 3);
  ck_assert_int_eq(info.head_channels, 16);
  pnas_arch_destroy(arch);

  /* A flipped byte, a truncated file and a foreign file are rejected. */
  FILE *f = fopen(path, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, 200, SEEK_SET);
  const int c = fgetc(f);
  fseek(f, 200, SEEK_SET);
  fputc(c ^ 0x40, f);
  fclose(f);
  pnas_net *bad = (pnas_net *)(uintptr_t)0x1;
  ck_assert_int_eq(pnas_net_load(ctx, path, NULL, &bad), PNAS_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "checksum"));
  ck_assert_ptr_eq(bad, (pnas_net *)(uintptr_t)0x1);
  ck_assert_int_eq(truncate(path, 20), 0);
  ck_assert_int_eq(pnas_net_load(ctx, path, NULL, &bad), PNAS_ERR_FORMAT);
  f = fopen(path, "wb");
  fputs("hello, this is not a network file at all....", f);
  fclose(f);
  ck_assert_int_eq(pnas_net_load(ctx, path, NULL, &bad), PNAS_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "bad magic"));
  unlink(path);
  ck_assert_int_eq(pnas_net_load(ctx, path, NULL, &bad), PNAS_ERR_IO);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "model.pnas"));
  snprintf(path, sizeof path, "%s/missing-folder/model.pnas", dir);
  ck_assert_int_eq(pnas_net_save(net, path), PNAS_ERR_IO);
  rmdir(dir);
  pnas_net_destroy(copy);
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(bad_arguments_are_reported) {
  pnas_context *ctx = make_context(NULL, 1);
  pnas_arch *arch = make_arch(ctx);
  pnas_net *net = NULL;
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = 0;
  ck_assert_int_eq(pnas_net_create(ctx, arch, &o, &net), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "max_batch is 0"));
  ck_assert_ptr_null(net);
  o.max_batch = 4;
  o.struct_size = 3;
  ck_assert_int_eq(pnas_net_create(ctx, arch, &o, &net), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_create(ctx, NULL, NULL, &net), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_create(NULL, arch, NULL, &net), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_create(ctx, arch, NULL, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_create(ctx, (pnas_arch *)ctx, NULL, &net), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_net_create(ctx, arch, NULL, &net), PNAS_OK);
  pnas_arch_destroy(arch);

  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  float logits[BATCH * CLASSES];
  make_batch(x, y, BATCH, 0);
  ck_assert_int_eq(pnas_net_train_step(net, x, y, 65, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "batch is 65"));
  ck_assert_int_eq(pnas_net_train_step(net, x, y, 0, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_train_step(net, NULL, y, 2, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_train_step(net, x, NULL, 2, NULL), PNAS_ERR_INVALID_ARGUMENT);
  y[1] = CLASSES;
  ck_assert_int_eq(pnas_net_train_step(net, x, y, 2, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "labels[1] is 3"));
  ck_assert_int_eq(pnas_net_infer(net, x, 2, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_infer(NULL, x, 2, logits), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_infer((pnas_net *)ctx, x, 2, logits), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_net_set_lr(net, -1.0f), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_set_lr(net, NAN), PNAS_ERR_INVALID_ARGUMENT);
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.momentum = 1.5f;
  ck_assert_int_eq(pnas_net_set_sgd(net, &sgd), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "momentum"));
  ck_assert_int_eq(pnas_net_set_sgd(net, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_net_save(net, NULL), PNAS_ERR_INVALID_ARGUMENT);
  pnas_net_destroy(net);
  pnas_net_destroy(NULL);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(non_finite_loss_leaves_the_net_unchanged) {
  pnas_context *ctx = make_context(NULL, 1);
  pnas_net *net = make_net(ctx);
  float x[BATCH * HW * HW], huge[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, BATCH, 0);
  for (int i = 0; i < BATCH * HW * HW; i++) huge[i] = INFINITY;
  float before[BATCH * CLASSES], after[BATCH * CLASSES];
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, before), PNAS_OK);
  ck_assert_int_eq(pnas_net_train_step(net, huge, y, BATCH, NULL), PNAS_ERR_NUMERIC);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "not finite"));
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, after), PNAS_OK);
  ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(evaluate_a_dataset) {
  pnas_context *ctx = make_context(NULL, 1);
  pnas_net *net = make_net(ctx);
  enum { N = 30 };
  uint8_t images[N * HW * HW];
  int32_t labels[N];
  float x[N * HW * HW];
  make_batch(x, labels, N, 0);
  for (int i = 0; i < N * HW * HW; i++) images[i] = (uint8_t)(x[i] > 1.0f ? 255 : x[i] * 255);
  pnas_dataset *ds = NULL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(ctx, images, labels, N, HW, HW, 1, CLASSES, &ds),
                   PNAS_OK);
  pnas_step_stats stats = {sizeof stats, 0, 0, 0};
  ck_assert_int_eq(pnas_net_evaluate(net, ds, NULL, &stats), PNAS_OK);
  ck_assert_int_eq(stats.images, N);
  ck_assert(stats.loss > 0.0 && isfinite(stats.loss));
  ck_assert(stats.accuracy >= 0.0 && stats.accuracy <= 1.0);
  /* Evaluation is a pure function of the weights. */
  pnas_step_stats again = {sizeof again, 0, 0, 0};
  ck_assert_int_eq(pnas_net_evaluate(net, ds, NULL, &again), PNAS_OK);
  ck_assert(again.loss == stats.loss);
  pnas_batcher_options norm;
  pnas_batcher_options_init(&norm);
  norm.std[0] = 0.0f;
  ck_assert_int_eq(pnas_net_evaluate(net, ds, &norm, &stats), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "normalization.std[0] is 0"));
  pnas_dataset *wrong = NULL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(ctx, images, labels, 15, HW, HW * 2, 1,
                                                   CLASSES, &wrong),
                   PNAS_OK);
  ck_assert_int_eq(pnas_net_evaluate(net, wrong, NULL, &stats), PNAS_ERR_SHAPE);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "8x16x1"));
  pnas_dataset_destroy(wrong);
  pnas_dataset_destroy(ds);
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(no_leaks_and_failed_allocations_are_clean) {
  counting_alloc state = {0};
  pnas_context *ctx = make_context(&state, 1);
  pnas_net *net = make_net(ctx);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, BATCH, 0);
  ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, NULL), PNAS_OK);
  const long live_with_net = state.live;
  ck_assert_int_eq(pnas_net_train_step(net, x, y, BATCH, NULL), PNAS_OK);
  ck_assert_int_eq(state.live, live_with_net); /* steps allocate nothing */
  pnas_net_destroy(net);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);

  /* Fail every allocation of net creation in turn. */
  for (long k = 1;; k++) {
    counting_alloc s = {0};
    pnas_context *c = make_context(&s, 1);
    pnas_arch *arch = make_arch(c);
    s.fail_at = s.calls + k;
    pnas_net *n = NULL;
    const pnas_status st = pnas_net_create(c, arch, NULL, &n);
    pnas_arch_destroy(arch);
    if (st == PNAS_OK) {
      pnas_net_destroy(n);
      pnas_context_destroy(c);
      ck_assert_int_eq(s.live, 0);
      ck_assert_int_gt(k, 10);
      break;
    }
    ck_assert_int_eq(st, PNAS_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(n);
    pnas_context_destroy(c);
    ck_assert_int_eq(s.live, 0);
  }
}
END_TEST

START_TEST(cosine_schedule_values) {
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 0, 100), 0.05f, 1e-7f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 50, 100), 0.025f, 1e-7f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 100, 100), 0.0f, 1e-7f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 25, 100), 0.05f * 0.5f * (1.0f + 0.70710678f), 1e-6f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 200, 100), 0.0f, 1e-7f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, -3, 100), 0.05f, 1e-7f);
  ck_assert_float_eq_tol(pnas_lr_cosine(0.05f, 3, 0), 0.05f, 1e-7f);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("net");
  TCase *tc = tcase_create("public");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, training_learns_a_separable_task);
  tcase_add_test(tc, same_seed_gives_identical_nets);
  tcase_add_test(tc, save_and_load_round_trip);
  tcase_add_test(tc, bad_arguments_are_reported);
  tcase_add_test(tc, non_finite_loss_leaves_the_net_unchanged);
  tcase_add_test(tc, evaluate_a_dataset);
  tcase_add_test(tc, no_leaks_and_failed_allocations_are_clean);
  tcase_add_test(tc, cosine_schedule_values);
  suite_add_tcase(s, tc);
  return s;
}
