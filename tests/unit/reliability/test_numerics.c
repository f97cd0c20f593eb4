/* SPDX-License-Identifier: MIT */
/* Non-finite values in supernet steps: a NaN pixel, NaN weights in one
 * layer, an SGD step that would overflow, a huge learning rate over several
 * steps, huge dlogits through the low-level backward, and an Adam step on
 * alpha that would overflow (gradient and REINFORCE). Each must return
 * PNAS_ERR_NUMERIC with a message naming the part of the network, and
 * leave weights, momenta, BN statistics, alpha, the Adam moments, the
 * REINFORCE baseline and the step counts bitwise as they were. Uses
 * internals (links the static library) to inject values and to compare the
 * whole state. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "nn/net.h"
#include "search/supernet.h"

enum { HW = 6, BATCH = 4, CLASSES = 3 };

typedef struct snapshot {
  float *params, *momenta, *stats;
  float alpha[8][PNI_SPACE_MAX_OPS];
  double adam_m[8][PNI_SPACE_MAX_OPS], adam_v[8][PNI_SPACE_MAX_OPS];
  int64_t weight_steps, arch_steps, adam_steps;
  double rl_baseline;
  int rl_baseline_set;
} snapshot;

static float *copy_floats(const float *v, int64_t n) {
  float *c = malloc(sizeof(float) * (size_t)n);
  ck_assert_ptr_nonnull(c);
  memcpy(c, v, sizeof(float) * (size_t)n);
  return c;
}

static void take(const pnas_supernet *sn, snapshot *s) {
  ck_assert_int_le(sn->layer_count, 8);
  s->params = copy_floats(sn->arena.params, sn->param_count);
  s->momenta = copy_floats(sn->arena.momenta, sn->param_count);
  s->stats = copy_floats(sn->arena.stats, sn->stats_count);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    memcpy(s->alpha[l], sn->layers[l].alpha, sizeof s->alpha[l]);
    memcpy(s->adam_m[l], sn->layers[l].adam_m, sizeof s->adam_m[l]);
    memcpy(s->adam_v[l], sn->layers[l].adam_v, sizeof s->adam_v[l]);
  }
  s->weight_steps = sn->weight_steps;
  s->arch_steps = sn->arch_steps;
  s->adam_steps = sn->adam_steps;
  s->rl_baseline = sn->rl_baseline;
  s->rl_baseline_set = sn->rl_baseline_set;
}

static void drop(snapshot *s) {
  free(s->params);
  free(s->momenta);
  free(s->stats);
}

/* Bitwise comparison of everything a step may change. */
static void assert_unchanged(const pnas_supernet *sn, const snapshot *s) {
  ck_assert_msg(memcmp(s->params, sn->arena.params, sizeof(float) * (size_t)sn->param_count) == 0,
                "weights changed");
  ck_assert_msg(memcmp(s->momenta, sn->arena.momenta, sizeof(float) * (size_t)sn->param_count) == 0,
                "momenta changed");
  ck_assert_msg(memcmp(s->stats, sn->arena.stats, sizeof(float) * (size_t)sn->stats_count) == 0,
                "BN statistics changed");
  for (int32_t l = 0; l < sn->layer_count; l++) {
    ck_assert_msg(memcmp(s->alpha[l], sn->layers[l].alpha, sizeof s->alpha[l]) == 0,
                  "alpha of layer %d changed", (int)l);
    ck_assert_msg(memcmp(s->adam_m[l], sn->layers[l].adam_m, sizeof s->adam_m[l]) == 0 &&
                      memcmp(s->adam_v[l], sn->layers[l].adam_v, sizeof s->adam_v[l]) == 0,
                  "Adam moments of layer %d changed", (int)l);
  }
  ck_assert_int_eq(s->weight_steps, sn->weight_steps);
  ck_assert_int_eq(s->arch_steps, sn->arch_steps);
  ck_assert_int_eq(s->adam_steps, sn->adam_steps);
  ck_assert(memcmp(&s->rl_baseline, &sn->rl_baseline, sizeof s->rl_baseline) == 0);
  ck_assert_int_eq(s->rl_baseline_set, sn->rl_baseline_set);
}

typedef struct rig {
  pnas_context *ctx;
  pnas_space *space;
  pnas_supernet *sn;
  pnas_latency_model *lat;
  float images[BATCH * HW * HW];
  int32_t labels[BATCH];
} rig;

/* Stem 4, no first block, two layers of width 4 with MBConv {3, 5} and
 * zero, head 8; a MACs latency model and the add loss. */
static void rig_open(rig *r) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = 11;
  ck_assert_int_eq(pnas_context_create(&o, &r->ctx, NULL, 0), PNAS_OK);
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = CLASSES;
  info.stem_channels = 4;
  info.stem_stride = 1;
  info.first_block_channels = 0;
  info.head_channels = 8;
  ck_assert_int_eq(pnas_space_create(r->ctx, &info, &r->space), PNAS_OK);
  const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 2}, {PNAS_OP_MBCONV, 5, 2}, {PNAS_OP_ZERO, 0, 0}};
  ck_assert_int_eq(pnas_space_add_stage(r->space, 4, 2, 1, ops, 3, 0), PNAS_OK);
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = BATCH;
  ck_assert_int_eq(pnas_supernet_create(r->ctx, r->space, &so, &r->sn), PNAS_OK);
  ck_assert_int_eq(pnas_latency_model_create_macs(r->ctx, 0.01, &r->lat), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_set_latency_model(r->sn, r->lat), PNAS_OK);
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.loss_form = PNAS_LOSS_ADD;
  search.target_ms = 0.01f;
  search.arch_beta1 = 0.9f;
  search.rl_samples = 3;
  ck_assert_int_eq(pnas_supernet_set_search(r->sn, &search), PNAS_OK);
  for (int i = 0; i < BATCH * HW * HW; i++) r->images[i] = (float)((i * 7 % 19) - 9) / 9.0f;
  for (int i = 0; i < BATCH; i++) r->labels[i] = i % CLASSES;
  /* A few good steps first, so that momenta and Adam moments are not zero. */
  for (int s = 0; s < 3; s++) {
    ck_assert_int_eq(pnas_supernet_train_step(r->sn, r->images, r->labels, BATCH, NULL), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_arch_step(r->sn, r->images, r->labels, BATCH, NULL), PNAS_OK);
  }
}

static void rig_close(rig *r) {
  pnas_latency_model_destroy(r->lat);
  pnas_supernet_destroy(r->sn);
  pnas_space_destroy(r->space);
  pnas_context_destroy(r->ctx);
}

/* The zero op of every layer is made (practically) impossible to sample, so
 * that the sampled path runs real blocks. */
static void never_zero(rig *r) {
  for (int32_t l = 0; l < 2; l++) {
    const float alpha[3] = {0.0f, 0.0f, -60.0f};
    ck_assert_int_eq(pnas_supernet_set_alpha(r->sn, l, alpha, 3), PNAS_OK);
  }
}

static void expect_numeric(rig *r, pnas_status got, const char *part) {
  const char *message = pnas_context_last_error(r->ctx);
  ck_assert_msg(got == PNAS_ERR_NUMERIC, "status %s (%s)", pnas_status_string(got), message);
  ck_assert_msg(strstr(message, part) != NULL, "the message \"%s\" does not name \"%s\"", message,
                part);
}

START_TEST(nan_pixel_is_reported_and_changes_nothing) {
  rig r;
  rig_open(&r);
  float images[BATCH * HW * HW];
  memcpy(images, r.images, sizeof images);
  images[HW * HW + 7] = NAN; /* image 1 */
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_train_step(r.sn, images, r.labels, BATCH, NULL),
                 "the input images (images[43] is nan)");
  assert_unchanged(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_step(r.sn, images, r.labels, BATCH, NULL),
                 "the input images (images[43] is nan); alpha unchanged");
  assert_unchanged(r.sn, &before);
  drop(&before);
  /* The supernet still trains. */
  ck_assert_int_eq(pnas_supernet_train_step(r.sn, r.images, r.labels, BATCH, NULL), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_arch_step(r.sn, r.images, r.labels, BATCH, NULL), PNAS_OK);
  rig_close(&r);
}
END_TEST

START_TEST(nan_weights_are_traced_to_their_layer) {
  rig r;
  rig_open(&r);
  never_zero(&r);
  /* Every real candidate of layer 1 gets a NaN weight. */
  pni_mixed_layer *layer = &r.sn->layers[1];
  for (int32_t j = 0; j < layer->count; j++) {
    if (layer->cand[j].nb.units > 0) r.sn->arena.params[layer->cand[j].param_begin] = NAN;
  }
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_train_step(r.sn, r.images, r.labels, BATCH, NULL),
                 "the first non-finite output is in layer 1 (candidate");
  assert_unchanged(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_step(r.sn, r.images, r.labels, BATCH, NULL),
                 "the first non-finite output is in layer 1");
  assert_unchanged(r.sn, &before);
  drop(&before);
  rig_close(&r);
}
END_TEST

START_TEST(an_overflowing_sgd_step_is_refused) {
  rig r;
  rig_open(&r);
  /* A momentum at the edge of float: with lr 10 the update overflows. */
  r.sn->arena.momenta[r.sn->stem.weight] = FLT_MAX;
  ck_assert_int_eq(pnas_supernet_set_lr(r.sn, 10.0f), PNAS_OK);
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_train_step(r.sn, r.images, r.labels, BATCH, NULL),
                 "the SGD step would make weights or momenta of the stem non-finite (learning "
                 "rate 10");
  assert_unchanged(r.sn, &before);
  /* The same through the low-level calls. */
  float logits[BATCH * CLASSES], dlogits[BATCH * CLASSES];
  ck_assert_int_eq(pnas_supernet_forward(r.sn, r.images, BATCH, 1, logits), PNAS_OK);
  for (int i = 0; i < BATCH * CLASSES; i++) dlogits[i] = 0.1f;
  ck_assert_int_eq(pnas_supernet_backward(r.sn, dlogits, BATCH), PNAS_OK);
  drop(&before);
  take(r.sn, &before); /* the forward moved the running statistics */
  expect_numeric(&r, pnas_supernet_sgd_step(r.sn), "momenta of the stem non-finite");
  assert_unchanged(r.sn, &before);
  drop(&before);
  /* With a sane momentum the step goes through. */
  r.sn->arena.momenta[r.sn->stem.weight] = 0.0f;
  ck_assert_int_eq(pnas_supernet_sgd_step(r.sn), PNAS_OK);
  rig_close(&r);
}
END_TEST

START_TEST(a_huge_learning_rate_stops_at_the_last_good_state) {
  rig r;
  rig_open(&r);
  never_zero(&r);
  ck_assert_int_eq(pnas_supernet_set_lr(r.sn, 1e30f), PNAS_OK);
  pnas_status status = PNAS_OK;
  int steps = 0;
  snapshot before;
  memset(&before, 0, sizeof before);
  for (; steps < 20 && status == PNAS_OK; steps++) {
    drop(&before);
    take(r.sn, &before);
    status = pnas_supernet_train_step(r.sn, r.images, r.labels, BATCH, NULL);
  }
  ck_assert_msg(status == PNAS_ERR_NUMERIC, "20 steps with lr 1e30 did not fail (%s)",
                pnas_status_string(status));
  ck_assert_int_ge(steps, 1);
  const char *message = pnas_context_last_error(r.ctx);
  ck_assert_msg(
      strstr(message, "pnas_supernet_train_step") != NULL &&
          (strstr(message, "the stem") != NULL || strstr(message, "layer ") != NULL ||
           strstr(message, "the head") != NULL || strstr(message, "the classifier") != NULL ||
           strstr(message, "average pool") != NULL),
      "no part named: %s", message);
  assert_unchanged(r.sn, &before);
  for (int64_t i = 0; i < r.sn->param_count; i++) {
    ck_assert_msg(isfinite(r.sn->arena.params[i]) && isfinite(r.sn->arena.momenta[i]),
                  "a non-finite weight or momentum at %lld", (long long)i);
  }
  drop(&before);
  rig_close(&r);
}
END_TEST

START_TEST(huge_dlogits_give_a_named_gradient_error) {
  rig r;
  rig_open(&r);
  float logits[BATCH * CLASSES], dlogits[BATCH * CLASSES];
  ck_assert_int_eq(pnas_supernet_forward(r.sn, r.images, BATCH, 1, logits), PNAS_OK);
  for (int i = 0; i < BATCH * CLASSES; i++) dlogits[i] = FLT_MAX; /* summed over the batch: inf */
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_backward(r.sn, dlogits, BATCH),
                 "pnas_supernet_backward: a gradient of the classifier is not finite");
  /* Nothing to apply now. */
  ck_assert_int_eq(pnas_supernet_sgd_step(r.sn), PNAS_ERR_STATE);
  assert_unchanged(r.sn, &before);
  drop(&before);
  rig_close(&r);
}
END_TEST

START_TEST(an_overflowing_adam_step_is_refused) {
  rig r;
  rig_open(&r);
  r.sn->layers[0].adam_m[0] = 1e300; /* beta1 0.9: the next step is ~1e299 */
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_step(r.sn, r.images, r.labels, BATCH, NULL),
                 "would make alpha of layer 0 non-finite");
  assert_unchanged(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_update(r.sn), "alpha of layer 0");
  assert_unchanged(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_step_reinforce(r.sn, r.images, r.labels, BATCH, NULL),
                 "would make alpha of layer 0 non-finite");
  assert_unchanged(r.sn, &before); /* the baseline did not move either */
  drop(&before);
  r.sn->layers[0].adam_m[0] = 0.0;
  ck_assert_int_eq(pnas_supernet_arch_step_reinforce(r.sn, r.images, r.labels, BATCH, NULL),
                   PNAS_OK);
  ck_assert_int_eq(r.sn->rl_baseline_set, 1);
  rig_close(&r);
}
END_TEST

START_TEST(an_overflowing_latency_term_is_refused) {
  rig r;
  rig_open(&r);
  pnas_latency_model *slow = NULL;
  ck_assert_int_eq(pnas_latency_model_create_macs(r.ctx, 1e300, &slow), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_set_latency_model(r.sn, slow), PNAS_OK);
  pnas_latency_model_destroy(slow);
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.loss_form = PNAS_LOSS_ADD;
  search.target_ms = 1e-30f;
  search.lambda = 1e30f;
  ck_assert_int_eq(pnas_supernet_set_search(r.sn, &search), PNAS_OK);
  snapshot before;
  take(r.sn, &before);
  expect_numeric(&r, pnas_supernet_arch_step(r.sn, r.images, r.labels, BATCH, NULL),
                 "arch step: the latency term of the loss is not finite (E[LAT] ");
  assert_unchanged(r.sn, &before);
  drop(&before);
  rig_close(&r);
}
END_TEST

/* Fixed networks: the same three cases through pnas_net_train_step. */
static pnas_net *small_net(pnas_context *ctx) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = HW;
  info.classes = CLASSES;
  info.stem_channels = 4;
  info.head_channels = 8;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_create(ctx, &info, &arch), PNAS_OK);
  pnas_block_info b;
  pnas_block_info_init(&b);
  b.out_channels = 4;
  b.expand = 2;
  ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  b.kernel = 5;
  ck_assert_int_eq(pnas_arch_append_block(arch, &b), PNAS_OK);
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = BATCH;
  pnas_net *net = NULL;
  ck_assert_int_eq(pnas_net_create(ctx, arch, &no, &net), PNAS_OK);
  pnas_arch_destroy(arch);
  return net;
}

typedef struct net_snapshot {
  float *params, *momenta, *stats;
  int64_t steps;
} net_snapshot;

static void net_take(const pnas_net *net, net_snapshot *s) {
  s->params = copy_floats(net->arena.params, net->param_count);
  s->momenta = copy_floats(net->arena.momenta, net->param_count);
  s->stats = copy_floats(net->arena.stats, net->stats_count);
  s->steps = net->steps;
}

static void net_assert_unchanged(const pnas_net *net, net_snapshot *s) {
  const size_t params = sizeof(float) * (size_t)net->param_count;
  ck_assert_msg(memcmp(s->params, net->arena.params, params) == 0, "weights changed");
  ck_assert_msg(memcmp(s->momenta, net->arena.momenta, params) == 0, "momenta changed");
  ck_assert_msg(memcmp(s->stats, net->arena.stats, sizeof(float) * (size_t)net->stats_count) == 0,
                "BN statistics changed");
  ck_assert_int_eq(s->steps, net->steps);
  free(s->params);
  free(s->momenta);
  free(s->stats);
}

START_TEST(fixed_networks_refuse_non_finite_steps) {
  rig r;
  rig_open(&r);
  pnas_net *net = small_net(r.ctx);
  for (int s = 0; s < 2; s++) {
    ck_assert_int_eq(pnas_net_train_step(net, r.images, r.labels, BATCH, NULL), PNAS_OK);
  }
  net_snapshot before;
  /* A NaN pixel. */
  float images[BATCH * HW * HW];
  memcpy(images, r.images, sizeof images);
  images[2 * HW * HW] = NAN;
  net_take(net, &before);
  expect_numeric(&r, pnas_net_train_step(net, images, r.labels, BATCH, NULL),
                 "the first non-finite output is in the input images (images[72] is nan)");
  net_assert_unchanged(net, &before);
  /* A NaN weight in block 1. */
  const int64_t at = net->blocks[1].unit[0].weight;
  const float kept = net->arena.params[at];
  net->arena.params[at] = NAN;
  net_take(net, &before);
  expect_numeric(&r, pnas_net_train_step(net, r.images, r.labels, BATCH, NULL),
                 "the first non-finite output is in block 1");
  net_assert_unchanged(net, &before);
  net->arena.params[at] = kept;
  /* An update that would overflow the stem's weights. */
  net->arena.momenta[net->stem.weight] = FLT_MAX;
  ck_assert_int_eq(pnas_net_set_lr(net, 10.0f), PNAS_OK);
  net_take(net, &before);
  expect_numeric(&r, pnas_net_train_step(net, r.images, r.labels, BATCH, NULL),
                 "the SGD step would make weights or momenta of the stem non-finite");
  net_assert_unchanged(net, &before);
  net->arena.momenta[net->stem.weight] = 0.0f;
  ck_assert_int_eq(pnas_net_set_lr(net, 0.05f), PNAS_OK);
  ck_assert_int_eq(pnas_net_train_step(net, r.images, r.labels, BATCH, NULL), PNAS_OK);
  pnas_net_destroy(net);
  rig_close(&r);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("numerics");
  TCase *tc = tcase_create("non-finite");
  tcase_add_test(tc, nan_pixel_is_reported_and_changes_nothing);
  tcase_add_test(tc, nan_weights_are_traced_to_their_layer);
  tcase_add_test(tc, an_overflowing_sgd_step_is_refused);
  tcase_add_test(tc, a_huge_learning_rate_stops_at_the_last_good_state);
  tcase_add_test(tc, huge_dlogits_give_a_named_gradient_error);
  tcase_add_test(tc, an_overflowing_adam_step_is_refused);
  tcase_add_test(tc, an_overflowing_latency_term_is_refused);
  tcase_add_test(tc, fixed_networks_refuse_non_finite_steps);
  suite_add_tcase(s, tc);
  return s;
}
