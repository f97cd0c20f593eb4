/* SPDX-License-Identifier: MIT */
/* Every member of every option and info struct set, one at a time, to
 * extreme values (INT32_MIN, -1, 0, 1, 2, 3, 7, 200, INT32_MAX; -inf, -1e30,
 * -1, 0, 1e-30, 0.5, 1, 2, 1e30, inf, NaN), then the object used for a few
 * steps. Each call must either succeed or fail with a status and a message;
 * nothing may crash, and nothing may leak. The allocator refuses blocks over
 * 256 MiB (as a small machine would), so absurd sizes end in
 * PNAS_ERR_OUT_OF_MEMORY instead of swapping. A first version of this
 * sweep (with a training step after each pnas_context_set_threads) found
 * the crash that 1000000 threads caused in libgomp; threads are now capped
 * at 1024. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pnas/pnas.h"

static const int32_t ints[] = {INT32_MIN, -1, 0, 1, 2, 3, 7, 200, INT32_MAX};
static const float floats[] = {-INFINITY, -1e30f, -1.0f, 0.0f,     1e-30f, 0.5f,
                               1.0f,      2.0f,   1e30f, INFINITY, NAN};
enum { NI = sizeof ints / sizeof ints[0], NF = sizeof floats / sizeof floats[0] };
#define CAP_BYTES ((size_t)256 << 20)

typedef struct capped {
  long live;
} capped;

static void *capped_alloc(void *user, size_t size) {
  if (size > CAP_BYTES) return NULL;
  void *p = malloc(size);
  if (p != NULL) ((capped *)user)->live++;
  return p;
}

static void *capped_aligned(void *user, size_t alignment, size_t size) {
  if (size > CAP_BYTES) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
  ((capped *)user)->live++;
  return p;
}

static void capped_free(void *user, void *ptr) {
  ((capped *)user)->live--;
  free(ptr);
}

typedef struct sweep {
  capped alloc;
  pnas_context *ctx;
  float images[4 * 36];
  int32_t labels[4];
  long failures;
} sweep;

static void sweep_open(sweep *s) {
  memset(s, 0, sizeof *s);
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.allocator = (pnas_allocator){capped_alloc, capped_aligned, capped_free, &s->alloc};
  ck_assert_int_eq(pnas_context_create(&o, &s->ctx, NULL, 0), PNAS_OK);
  for (int i = 0; i < 4 * 36; i++) s->images[i] = (float)(i % 7) / 7.0f - 0.4f;
  for (int i = 0; i < 4; i++) s->labels[i] = i % 3;
}

/* min_failures: the sweep did reach values the library must refuse. */
static void sweep_close(sweep *s, long min_failures) {
  pnas_context_destroy(s->ctx);
  ck_assert_int_eq(s->alloc.live, 0);
  ck_assert_int_ge(s->failures, min_failures);
}

/* OK, or a failure with a message. Returns 1 on OK. */
static int ok(sweep *s, pnas_status st, const char *what, int field, int value) {
  if (st == PNAS_OK) return 1;
  const char *message = pnas_context_last_error(s->ctx);
  ck_assert_msg(st > PNAS_OK && st <= PNAS_ERR_INTERNAL && st != PNAS_ERR_INTERNAL,
                "%s, field %d, value %d: status %d", what, field, value, (int)st);
  ck_assert_msg(message[0] != '\0', "%s, field %d, value %d: %s without a message", what, field,
                value, pnas_status_string(st));
  ck_assert_int_eq(pnas_context_last_status(s->ctx), st);
  s->failures++;
  return 0;
}

static pnas_space *small_space(sweep *s) {
  pnas_space_info si;
  pnas_space_info_init(&si);
  si.input_height = si.input_width = 6;
  si.input_channels = 1;
  si.classes = 3;
  si.stem_stride = 1;
  si.stem_channels = 4;
  si.first_block_channels = 0;
  si.head_channels = 8;
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create(s->ctx, &si, &space), PNAS_OK);
  const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 2}, {PNAS_OP_ZERO, 0, 0}};
  ck_assert_int_eq(pnas_space_add_stage(space, 4, 2, 1, ops, 2, 0), PNAS_OK);
  return space;
}

START_TEST(context_members) {
  sweep s;
  sweep_open(&s);
  for (int field = 0; field < 3; field++) {
    for (int v = 0; v < NI; v++) {
      pnas_context_options o;
      pnas_context_options_init(&o);
      o.threads = 1;
      if (field == 0)
        o.threads = ints[v];
      else if (field == 1)
        o.log_level = (pnas_log_level)ints[v];
      char error[256] = "";
      pnas_context *ctx = NULL;
      const pnas_status st = pnas_context_create(&o, &ctx, error, sizeof error);
      ck_assert_msg(st == PNAS_OK || (st == PNAS_ERR_INVALID_ARGUMENT && error[0] != '\0'),
                    "context field %d value %d: %s", field, v, pnas_status_string(st));
      pnas_context_destroy(ctx);
      if (field == 2) {
        /* Threads changed on a live context; 200 is valid but far too
         * many for the sweep's tiny kernels, so only the answer is checked. */
        if (ok(&s, pnas_context_set_threads(s.ctx, ints[v]), "set_threads", field, v)) {
          int32_t threads = 0;
          ck_assert_int_eq(pnas_context_get_threads(s.ctx, &threads), PNAS_OK);
          ck_assert_int_eq(threads, ints[v]);
        }
        ck_assert_int_eq(pnas_context_set_threads(s.ctx, 1), PNAS_OK);
      }
    }
  }
  sweep_close(&s, 4);
}
END_TEST

START_TEST(space_info_members) {
  sweep s;
  sweep_open(&s);
  for (int field = 0; field < 10; field++) {
    for (int v = 0; v < (field == 9 ? NF : NI); v++) {
      pnas_space_info si;
      pnas_space_info_init(&si);
      si.input_height = si.input_width = 6;
      si.input_channels = 1;
      si.classes = 3;
      si.stem_stride = 1;
      si.stem_channels = 4;
      si.first_block_channels = 4;
      si.head_channels = 8;
      int32_t *member[] = {&si.input_height, &si.input_width,          &si.input_channels,
                           &si.classes,      &si.stem_channels,        &si.stem_kernel,
                           &si.stem_stride,  &si.first_block_channels, &si.head_channels};
      if (field < 9)
        *member[field] = ints[v];
      else
        si.dropout = floats[v];
      pnas_space *space = NULL;
      pnas_supernet *sn = NULL;
      const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 2}, {PNAS_OP_ZERO, 0, 0}};
      pnas_supernet_options so;
      pnas_supernet_options_init(&so);
      so.max_batch = 4;
      if (ok(&s, pnas_space_create(s.ctx, &si, &space), "space", field, v) &&
          ok(&s, pnas_space_add_stage(space, 4, 1, 1, ops, 2, 0), "stage", field, v) &&
          ok(&s, pnas_supernet_create(s.ctx, space, &so, &sn), "supernet", field, v) &&
          si.input_height == 6 && si.input_width == 6 && si.input_channels == 1 &&
          si.classes >= 3) {
        ok(&s, pnas_supernet_train_step(sn, s.images, s.labels, 4, NULL), "step", field, v);
      }
      pnas_supernet_destroy(sn);
      pnas_space_destroy(space);
    }
  }
  sweep_close(&s, 40);
}
END_TEST

START_TEST(arch_and_block_members) {
  sweep s;
  sweep_open(&s);
  for (int field = 0; field < 14; field++) {
    for (int v = 0; v < (field == 13 ? NF : NI); v++) {
      pnas_arch_info ai;
      pnas_arch_info_init(&ai);
      ai.input_height = ai.input_width = 6;
      pnas_block_info b;
      pnas_block_info_init(&b);
      b.out_channels = 8;
      int32_t *member[] = {&ai.input_height, &ai.input_width,   &ai.input_channels,
                           &ai.classes,      &ai.stem_channels, &ai.stem_kernel,
                           &ai.stem_stride,  &ai.head_channels, &b.out_channels,
                           &b.kernel,        &b.expand,         &b.stride};
      if (field < 12)
        *member[field] = ints[v];
      else if (field == 12)
        b.kind = (pnas_block_kind)ints[v];
      else
        ai.dropout = floats[v];
      pnas_arch *arch = NULL;
      pnas_net *net = NULL;
      pnas_net_options no;
      pnas_net_options_init(&no);
      no.max_batch = 4;
      if (ok(&s, pnas_arch_create(s.ctx, &ai, &arch), "arch", field, v) &&
          ok(&s, pnas_arch_append_block(arch, &b), "block", field, v) &&
          ok(&s, pnas_net_create(s.ctx, arch, &no, &net), "net", field, v)) {
        float logits[4 * 1000];
        if (ai.input_height == 6 && ai.input_width == 6 && ai.input_channels == 1) {
          ok(&s, pnas_net_infer(net, s.images, 4, logits), "infer", field, v);
        }
      }
      pnas_net_destroy(net);
      pnas_arch_destroy(arch);
    }
  }
  sweep_close(&s, 60);
}
END_TEST

START_TEST(search_options_members) {
  sweep s;
  sweep_open(&s);
  pnas_space *space = small_space(&s);
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_create_macs(s.ctx, 0.01, &model), PNAS_OK);
  for (int field = 0; field < 16; field++) {
    for (int v = 0; v < (field < 11 ? NF : NI); v++) {
      pnas_supernet_options so;
      pnas_supernet_options_init(&so);
      so.max_batch = 4;
      pnas_supernet *sn = NULL;
      ck_assert_int_eq(pnas_supernet_create(s.ctx, space, &so, &sn), PNAS_OK);
      ck_assert_int_eq(pnas_supernet_set_latency_model(sn, model), PNAS_OK);
      pnas_search_options se;
      pnas_search_options_init(&se);
      se.loss_form = PNAS_LOSS_ADD;
      se.target_ms = 0.01f;
      se.rl_samples = 3;
      float *fm[] = {&se.arch_lr,           &se.arch_beta1,     &se.arch_beta2,
                     &se.arch_eps,          &se.target_ms,      &se.lambda,
                     &se.mul_log_a,         &se.mul_log_beta,   &se.rl_exponent,
                     &se.rl_baseline_decay, &se.prune_threshold};
      int32_t *im[] = {(int32_t *)&se.arch_mode, (int32_t *)&se.loss_form, &se.skip_zero_active,
                       &se.rl_samples, &se.prune_patience};
      if (field < 11)
        *fm[field] = floats[v];
      else
        *im[field - 11] = ints[v];
      if (field == 14 && ints[v] == 200) se.rl_samples = 20; /* the sweep's time, not a bound */
      if (ok(&s, pnas_supernet_set_search(sn, &se), "search", field, v)) {
        ok(&s, pnas_supernet_arch_step(sn, s.images, s.labels, 4, NULL), "arch", field, v);
        ok(&s, pnas_supernet_arch_step_reinforce(sn, s.images, s.labels, 4, NULL), "rl", field, v);
        ok(&s, pnas_supernet_prune(sn, NULL), "prune", field, v);
        ok(&s, pnas_supernet_train_step(sn, s.images, s.labels, 4, NULL), "train", field, v);
        pnas_arch *arch = NULL;
        ck_assert_int_eq(pnas_supernet_derive(sn, &arch), PNAS_OK);
        pnas_arch_destroy(arch);
      }
      pnas_supernet_destroy(sn);
    }
  }
  pnas_latency_model_destroy(model);
  pnas_space_destroy(space);
  sweep_close(&s, 60);
}
END_TEST

START_TEST(supernet_sgd_and_net_options_members) {
  sweep s;
  sweep_open(&s);
  pnas_space *space = small_space(&s);
  for (int field = 0; field < 12; field++) {
    for (int v = 0; v < (field < 10 ? NF : NI); v++) {
      pnas_supernet_options so;
      pnas_supernet_options_init(&so);
      so.max_batch = 4;
      pnas_sgd_options sgd;
      pnas_sgd_options_init(&sgd);
      pnas_net_options no;
      pnas_net_options_init(&no);
      no.max_batch = 4;
      float *fm[] = {&so.bn_momentum, &so.bn_eps,        &so.alpha_init_std,   &sgd.lr,
                     &sgd.momentum,   &sgd.weight_decay, &sgd.label_smoothing, &no.bn_momentum,
                     &no.bn_eps,      &no.dropout};
      if (field < 10)
        *fm[field] = floats[v];
      else if (field == 10)
        so.max_batch = ints[v] > 4096 ? 4096 : ints[v];
      else
        no.max_batch = ints[v] > 4096 ? 4096 : ints[v];
      pnas_supernet *sn = NULL;
      pnas_net *net = NULL;
      if (ok(&s, pnas_supernet_create(s.ctx, space, &so, &sn), "supernet", field, v) &&
          ok(&s, pnas_supernet_set_sgd(sn, &sgd), "sgd", field, v)) {
        const int32_t batch = so.max_batch < 4 ? so.max_batch : 4;
        for (int k = 0; k < 3; k++) {
          ok(&s, pnas_supernet_train_step(sn, s.images, s.labels, batch, NULL), "train", field, v);
        }
        ok(&s, pnas_supernet_arch_step(sn, s.images, s.labels, batch, NULL), "arch", field, v);
        if (ok(&s, pnas_supernet_derive_net(sn, &no, 1, &net), "derive", field, v)) {
          float logits[4 * 3];
          const int32_t nb = no.max_batch < 4 ? no.max_batch : 4;
          ok(&s, pnas_net_set_sgd(net, &sgd), "net sgd", field, v);
          ok(&s, pnas_net_infer(net, s.images, nb, logits), "infer", field, v);
          ok(&s, pnas_net_train_step(net, s.images, s.labels, nb, NULL), "net train", field, v);
        }
      }
      pnas_net_destroy(net);
      pnas_supernet_destroy(sn);
    }
  }
  pnas_space_destroy(space);
  sweep_close(&s, 40);
}
END_TEST

START_TEST(data_and_batcher_members) {
  sweep s;
  sweep_open(&s);
  uint8_t pixels[12 * 36];
  int32_t labels[12];
  for (int i = 0; i < 12 * 36; i++) pixels[i] = (uint8_t)(i * 13);
  for (int i = 0; i < 12; i++) labels[i] = i % 3;
  pnas_dataset *ds = NULL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(s.ctx, pixels, labels, 12, 6, 6, 1, 3, &ds),
                   PNAS_OK);
  for (int field = 0; field < 9; field++) {
    for (int v = 0; v < (field >= 5 && field < 7 ? NF : NI); v++) {
      pnas_batcher_options bo;
      pnas_batcher_options_init(&bo);
      bo.batch_size = 4;
      int32_t *im[] = {&bo.batch_size, &bo.shuffle, &bo.drop_last, &bo.crop_padding,
                       &bo.horizontal_flip};
      if (field < 5)
        *im[field] = ints[v];
      else if (field == 5)
        bo.mean[0] = floats[v];
      else if (field == 6)
        bo.std[0] = floats[v];
      pnas_batcher *b = NULL;
      if (field < 7 && ok(&s, pnas_batcher_create(ds, &bo, &b), "batcher", field, v)) {
        const float *x;
        const int32_t *y;
        int32_t n;
        for (int k = 0; k < 5; k++) {
          ok(&s, pnas_batcher_next_view(b, &x, &y, &n), "next", field, v);
        }
      }
      pnas_batcher_destroy(b);
      pnas_dataset *rest = NULL, *held = NULL, *sub = NULL;
      if (field == 7 &&
          ok(&s, pnas_dataset_split_balanced(ds, ints[v], &rest, &held), "split", field, v)) {
        pnas_dataset_destroy(rest);
        pnas_dataset_destroy(held);
      }
      if (field == 8 &&
          ok(&s, pnas_dataset_subset(ds, ints[v], ints[(v + 4) % NI], &sub), "subset", field, v)) {
        pnas_dataset_destroy(sub);
      }
    }
  }
  pnas_dataset_destroy(ds);
  sweep_close(&s, 20);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("option-extremes");
  TCase *tc = tcase_create("sweep");
  tcase_add_test(tc, context_members);
  tcase_add_test(tc, space_info_members);
  tcase_add_test(tc, arch_and_block_members);
  tcase_add_test(tc, search_options_members);
  tcase_add_test(tc, supernet_sgd_and_net_options_members);
  tcase_add_test(tc, data_and_batcher_members);
  suite_add_tcase(s, tc);
  return s;
}
