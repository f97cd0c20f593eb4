/* SPDX-License-Identifier: MIT */
/* The supernet's search maths against direct computations on tiny
 * supernets: weight steps touch only the sampled path, the gate-gradient
 * estimators (full_v2 and two) equal the BinaryConnect formula evaluated
 * from every candidate's output, the latency term, the two-mode pair shift,
 * the zero-active rule, Adam with beta1 = 0, pruning, derivation and
 * determinism. Uses internals (links the static library). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "nn/net.h"
#include "search/supernet.h"

enum { HW = 6, BATCH = 4, CLASSES = 3 };

static pnas_context *make_context(uint64_t seed) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = seed;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

/* A tiny space: stem 3x3 -> 4, no first block, one stage of `depth` layers
 * of width 4 (stride 1: the first layer has a residual too since the width
 * does not change), candidates MBConv {3, 5} x {1, 2} (+ zero), no head. */
static pnas_space *tiny_space(pnas_context *ctx, int depth, int with_zero, int head) {
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = CLASSES;
  info.stem_channels = 4;
  info.stem_kernel = 3;
  info.stem_stride = 1;
  info.first_block_channels = 0;
  info.head_channels = head;
  info.dropout = 0.0f;
  pnas_space *space = NULL;
  ck_assert_msg(pnas_space_create(ctx, &info, &space) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 1},
                              {PNAS_OP_MBCONV, 3, 2},
                              {PNAS_OP_MBCONV, 5, 1},
                              {PNAS_OP_MBCONV, 5, 2},
                              {PNAS_OP_ZERO, 0, 0}};
  ck_assert_msg(pnas_space_add_stage(space, 4, depth, 1, ops, with_zero ? 5 : 4, 0) == PNAS_OK,
                "%s", pnas_context_last_error(ctx));
  return space;
}

static pnas_supernet *make_supernet(pnas_context *ctx, pnas_space *space) {
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  o.max_batch = BATCH;
  o.alpha_init_std = 0.5f; /* spread the probabilities so the formulas are exercised */
  pnas_supernet *sn = NULL;
  ck_assert_msg(pnas_supernet_create(ctx, space, &o, &sn) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  return sn;
}

static void make_batch(float *x, int32_t *y, unsigned seed) {
  pni_rng r;
  pni_rng_seed(&r, seed);
  for (int i = 0; i < BATCH * HW * HW; i++) x[i] = (float)(pni_rng_uniform(&r) * 2.0 - 1.0);
  for (int i = 0; i < BATCH; i++) y[i] = (int32_t)((i + seed) % CLASSES);
}

/* dL/dy at the (only) searched layer's output for a net without a head:
 * y -> average pool -> FC -> mean cross-entropy, computed in double from the
 * logits of the last forward. */
static void tail_gradient(const pnas_supernet *sn, const int32_t *labels, int32_t batch,
                          double *dy) {
  const int32_t hw = sn->feature_hw, c = sn->features, k = sn->classes;
  const float *w = sn->arena.params + sn->fc_weight;
  for (int32_t n = 0; n < batch; n++) {
    double max = -INFINITY, sum = 0.0, p[16];
    for (int32_t j = 0; j < k; j++) max = fmax(max, sn->logits[n * k + j]);
    for (int32_t j = 0; j < k; j++) sum += (p[j] = exp(sn->logits[n * k + j] - max));
    double dl[16];
    for (int32_t j = 0; j < k; j++) dl[j] = (p[j] / sum - (j == labels[n])) / batch;
    for (int32_t ch = 0; ch < c; ch++) {
      double dpool = 0.0;
      for (int32_t j = 0; j < k; j++) dpool += dl[j] * w[ch * k + j];
      for (int32_t s = 0; s < hw; s++) dy[((int64_t)n * hw + s) * c + ch] = dpool / hw;
    }
  }
}

/* o_j(x) of candidate j at layer 0: forward with j active, read the block's
 * output and take off the residual. */
static void candidate_output(pnas_supernet *sn, const float *x, int32_t j, double *o) {
  pni_mixed_layer *layer = &sn->layers[0];
  const int32_t saved_active = layer->active;
  layer->active = j;
  layer->other = -1;
  pni_arena frozen = sn->arena;
  frozen.bn_momentum = 0.0f;
  pni_arena keep = sn->arena;
  sn->arena = frozen; /* do not move the running statistics */
  pni_supernet_forward(sn, x, BATCH, 1, 0);
  sn->arena = keep;
  const pni_block *shape = &layer->spec->shape;
  const int64_t count = (int64_t)BATCH * shape->out_height * shape->out_width * shape->out_channels;
  const pni_candidate *c = &layer->cand[j];
  for (int64_t i = 0; i < count; i++) {
    if (c->nb.units == 0) {
      o[i] = 0.0;
    } else {
      const float yv = c->nb.unit[c->nb.units - 1].a[i];
      o[i] = c->nb.residual ? (double)yv - layer->x[i] : yv;
    }
  }
  layer->active = saved_active;
}

/* Checks the alpha gradient of the one-layer supernet against
 * sum_j G_j w_j (delta_ij - w_i) + dloss_dE * w_i (lat_i - E_set). */
static void check_estimator(pnas_arch_mode mode, pnas_loss_form form) {
  pnas_context *ctx = make_context(7);
  pnas_space *space = tiny_space(ctx, 1, 0, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.arch_mode = mode;
  const double prices[4] = {1.0, 2.5, 1.75, 4.0};
  if (form != PNAS_LOSS_NONE) {
    /* Prices set directly: the latency model itself is tested elsewhere. */
    for (int j = 0; j < 4; j++) sn->layers[0].cand[j].latency_ms = prices[j];
    sn->fixed_latency_ms = 0.5;
    sn->has_latency = 1;
    so.loss_form = form;
    so.target_ms = 2.0f;
    so.lambda = 0.3f;
  }
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 3);
  for (int trial = 0; trial < 4; trial++) {
    pnas_search_stats st = {.struct_size = sizeof st};
    ck_assert_int_eq(pnas_supernet_arch_gradient(sn, x, y, BATCH, &st), PNAS_OK);
    pni_mixed_layer *layer = &sn->layers[0];
    const int32_t active = layer->active, other = layer->other;
    double got[PNI_SPACE_MAX_OPS];
    for (int j = 0; j < layer->count; j++) got[j] = layer->alpha_grad[j];
    /* dL/dy from the forward the step made (active path). */
    const pni_block *shape = &layer->spec->shape;
    const int64_t count = (int64_t)BATCH * shape->out_height * shape->out_width * 4;
    double *dy = malloc(sizeof(double) * (size_t)count);
    double *o = malloc(sizeof(double) * (size_t)count);
    candidate_output(sn, x, active, o);
    tail_gradient(sn, y, BATCH, dy);
    int32_t set[PNI_SPACE_MAX_OPS];
    double w[PNI_SPACE_MAX_OPS];
    int32_t n;
    if (mode == PNAS_ARCH_MODE_TWO) {
      ck_assert_int_ge(other, 0);
      ck_assert_int_ne(other, active);
      set[0] = active;
      set[1] = other;
      w[0] = 1.0 / (1.0 + exp((double)layer->alpha[other] - layer->alpha[active]));
      w[1] = 1.0 - w[0];
      n = 2;
    } else {
      ck_assert_int_eq(other, -1);
      pni_layer_probs(layer, w);
      for (int j = 0; j < layer->count; j++) set[j] = j;
      n = layer->count;
    }
    double gate[PNI_SPACE_MAX_OPS];
    double e_set = 0.0;
    for (int k = 0; k < n; k++) {
      candidate_output(sn, x, set[k], o);
      gate[k] = 0.0;
      for (int64_t i = 0; i < count; i++) gate[k] += dy[i] * o[i];
      e_set += w[k] * prices[set[k]];
    }
    /* dLoss/dE of the form (ce unchanged for add and abs). */
    double dloss_de = 0.0;
    if (form == PNAS_LOSS_ADD) dloss_de = 0.3 / 2.0;
    if (form == PNAS_LOSS_ABS) dloss_de = (0.5 + e_set > 2.0 ? 0.3 : -0.3) / 2.0;
    double want[PNI_SPACE_MAX_OPS] = {0};
    for (int i = 0; i < n; i++) {
      double g = 0.0;
      for (int k = 0; k < n; k++) g += gate[k] * w[k] * ((i == k) - w[i]);
      if (form != PNAS_LOSS_NONE) g += dloss_de * w[i] * (prices[set[i]] - e_set);
      want[set[i]] = g;
    }
    for (int j = 0; j < layer->count; j++) {
      ck_assert_msg(fabs(got[j] - want[j]) <= 1e-4 * fmax(1.0, fabs(want[j])) + 1e-6,
                    "mode %d form %d trial %d alpha %d: estimator %.8g, direct %.8g", mode, form,
                    trial, j, got[j], want[j]);
    }
    free(dy);
    free(o);
    ck_assert_int_eq(pnas_supernet_arch_update(sn), PNAS_OK);
  }
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}

START_TEST(full_v2_estimator_matches_direct_computation) {
  check_estimator(PNAS_ARCH_MODE_FULL_V2, PNAS_LOSS_NONE);
}
END_TEST

START_TEST(two_mode_estimator_matches_direct_computation) {
  check_estimator(PNAS_ARCH_MODE_TWO, PNAS_LOSS_NONE);
}
END_TEST

START_TEST(latency_term_reaches_alpha) {
  check_estimator(PNAS_ARCH_MODE_FULL_V2, PNAS_LOSS_ADD);
  check_estimator(PNAS_ARCH_MODE_TWO, PNAS_LOSS_ADD);
  check_estimator(PNAS_ARCH_MODE_FULL_V2, PNAS_LOSS_ABS);
}
END_TEST

START_TEST(weight_step_touches_only_the_sampled_path) {
  pnas_context *ctx = make_context(11);
  pnas_space *space = tiny_space(ctx, 3, 1, 8);
  pnas_supernet *sn = make_supernet(ctx, space);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.weight_decay = 0.01f; /* decay would move every weight if applied to all */
  ck_assert_int_eq(pnas_supernet_set_sgd(sn, &sgd), PNAS_OK);
  const size_t bytes = sizeof(float) * (size_t)sn->param_count;
  float *params = malloc(bytes), *momenta = malloc(bytes);
  for (int step = 0; step < 6; step++) {
    make_batch(x, y, (unsigned)step);
    memcpy(params, sn->arena.params, bytes);
    memcpy(momenta, sn->arena.momenta, bytes);
    ck_assert_int_eq(pnas_supernet_train_step(sn, x, y, BATCH, NULL), PNAS_OK);
    for (int32_t l = 0; l < sn->layer_count; l++) {
      const pni_mixed_layer *layer = &sn->layers[l];
      for (int32_t j = 0; j < layer->count; j++) {
        const pni_candidate *c = &layer->cand[j];
        const size_t off = (size_t)c->param_begin, len = (size_t)(c->param_end - c->param_begin);
        const int same_w = memcmp(params + off, sn->arena.params + off, len * sizeof(float)) == 0;
        const int same_m = memcmp(momenta + off, sn->arena.momenta + off, len * sizeof(float)) == 0;
        if (j == layer->active && c->nb.units > 0) {
          ck_assert_msg(!same_w && !same_m, "layer %d: the sampled candidate %d did not move", l,
                        j);
        } else {
          ck_assert_msg(same_w && same_m, "layer %d: unsampled candidate %d changed", l, j);
        }
      }
    }
  }
  /* The fixed parts (stem, head, classifier) do move. */
  ck_assert(memcmp(params + sn->fc_weight, sn->arena.params + sn->fc_weight, sizeof(float)) != 0);
  free(params);
  free(momenta);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

/* Fills the buffers that inner units share with NaN: what a later block
 * left there must not reach a backward. */
static void poison_inner(float *const inner[PNI_INNER_SLOTS], const int64_t size[PNI_INNER_SLOTS]) {
  for (int slot = 0; slot < PNI_INNER_SLOTS; slot++) {
    for (int64_t i = 0; i < size[slot]; i++) inner[slot][i] = NAN;
  }
}

static void expect_same_grads(const char *what, const pni_arena *sa, const pni_unit *su,
                              const pni_arena *na, const pni_unit *nu) {
  const pni_conv_shape *s = &su->shape;
  const int64_t weights =
      su->kind == PNI_UNIT_DW ? s->k * s->k * s->cout : s->k * s->k * s->cin * s->cout;
  const struct {
    int64_t from, to, count;
  } parts[] = {{su->weight, nu->weight, weights},
               {su->gamma, nu->gamma, s->cout},
               {su->beta, nu->beta, s->cout}};
  for (int p = 0; p < 3; p++) {
    for (int64_t i = 0; i < parts[p].count; i++) {
      const float g = sa->grads[parts[p].from + i], h = na->grads[parts[p].to + i];
      ck_assert_msg(isfinite(g) && memcmp(&g, &h, sizeof g) == 0,
                    "%s part %d [%lld]: supernet %.9g, derived net %.9g", what, p, (long long)i,
                    (double)g, (double)h);
    }
  }
}

/* The supernet's weight gradients on a path are bitwise those of the
 * derived network (same weights, same kernels), whose backward the
 * finite-difference and PyTorch tests check; the inner units' outputs,
 * shared between blocks and poisoned between forward and backward, are
 * rebuilt, not read. Expand 2 and 1 candidates use both shared slots. */
START_TEST(weight_gradients_match_the_derived_net) {
  pnas_context *ctx = make_context(5);
  pnas_space *space = tiny_space(ctx, 3, 1, 8);
  pnas_supernet *sn = make_supernet(ctx, space);
  const int32_t path[3] = {3, 0, 1}; /* (5, 2), (3, 1), (3, 2) */
  for (int32_t l = 0; l < 3; l++) {
    float alpha[5] = {0};
    alpha[path[l]] = 4.0f;
    ck_assert_int_eq(pnas_supernet_set_alpha(sn, l, alpha, 5), PNAS_OK);
    sn->layers[l].active = path[l];
    sn->layers[l].other = -1;
  }
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = BATCH;
  no.dropout = 0.0f;
  pnas_net *net = NULL;
  ck_assert_msg(pnas_supernet_derive_net(sn, &no, 1, &net) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  ck_assert_int_eq(net->block_count, 3);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 9);
  float dlogits[BATCH * CLASSES];
  for (int i = 0; i < BATCH * CLASSES; i++) dlogits[i] = (float)((i % 7) - 3) / 8.0f;
  int64_t sn_inner[PNI_INNER_SLOTS] = {0, 0}, net_inner[PNI_INNER_SLOTS] = {0, 0};
  for (int32_t l = 0; l < 3; l++) {
    for (int32_t j = 0; j < sn->layers[l].count; j++) {
      pni_block_inner_floats(&sn->layers[l].cand[j].nb, BATCH, sn_inner);
    }
    pni_block_inner_floats(&net->blocks[l], BATCH, net_inner);
  }
  ck_assert(sn_inner[0] > 0 && sn_inner[1] > 0);
  pni_supernet_forward(sn, x, BATCH, 1, 0);
  poison_inner(sn->inner, sn_inner);
  pni_supernet_backward(sn, dlogits, BATCH, 0);
  pni_net_forward(net, x, BATCH, 1);
  poison_inner(net->inner, net_inner);
  pni_net_backward(net, dlogits, BATCH, NULL);
  ck_assert(memcmp(sn->logits, net->logits, sizeof(float) * BATCH * CLASSES) == 0);
  expect_same_grads("stem", &sn->arena, &sn->stem, &net->arena, &net->stem);
  expect_same_grads("head", &sn->arena, &sn->head, &net->arena, &net->head);
  for (int32_t l = 0; l < 3; l++) {
    const pni_candidate *c = &sn->layers[l].cand[path[l]];
    ck_assert_int_eq(c->nb.units, net->blocks[l].units);
    for (int32_t u = 0; u < c->nb.units; u++) {
      char what[32];
      snprintf(what, sizeof what, "layer %d unit %d", (int)l, (int)u);
      expect_same_grads(what, &sn->arena, &c->nb.unit[u], &net->arena, &net->blocks[l].unit[u]);
    }
  }
  pnas_net_destroy(net);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

/* An arch step needs no weight gradient: it computes none, so the gradient
 * buffer a host may be reading (pnas_supernet_parameters) keeps what the
 * last backward wrote, and weights and momenta do not move. */
START_TEST(arch_step_leaves_weight_gradients_alone) {
  pnas_context *ctx = make_context(17);
  pnas_space *space = tiny_space(ctx, 3, 1, 8);
  pnas_supernet *sn = make_supernet(ctx, space);
  float x[BATCH * HW * HW], logits[BATCH * CLASSES], dlogits[BATCH * CLASSES];
  int32_t y[BATCH];
  make_batch(x, y, 3);
  const size_t bytes = sizeof(float) * (size_t)sn->param_count;
  float *grads = malloc(bytes), *params = malloc(bytes), *momenta = malloc(bytes);
  for (int mode = 0; mode < 2; mode++) {
    pnas_search_options so;
    pnas_search_options_init(&so);
    so.arch_mode = mode == 0 ? PNAS_ARCH_MODE_TWO : PNAS_ARCH_MODE_FULL_V2;
    ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_sample(sn), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_forward(sn, x, BATCH, 1, logits), PNAS_OK);
    for (int i = 0; i < BATCH * CLASSES; i++) dlogits[i] = 0.01f * (float)((i % 7) - 3);
    ck_assert_int_eq(pnas_supernet_backward(sn, dlogits, BATCH), PNAS_OK);
    memcpy(grads, sn->arena.grads, bytes);
    memcpy(params, sn->arena.params, bytes);
    memcpy(momenta, sn->arena.momenta, bytes);
    double before = 0.0;
    for (int64_t i = 0; i < sn->param_count; i++) before += fabs((double)grads[i]);
    ck_assert(before > 0.0);
    for (int step = 0; step < 3; step++) {
      make_batch(x, y, (unsigned)(10 + step));
      ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
      ck_assert_msg(memcmp(grads, sn->arena.grads, bytes) == 0,
                    "mode %d step %d: the arch step wrote weight gradients", mode, step);
      ck_assert(memcmp(params, sn->arena.params, bytes) == 0);
      ck_assert(memcmp(momenta, sn->arena.momenta, bytes) == 0);
    }
  }
  free(grads);
  free(params);
  free(momenta);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(two_mode_keeps_unsampled_probabilities) {
  pnas_context *ctx = make_context(5);
  pnas_space *space = tiny_space(ctx, 2, 1, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.arch_mode = PNAS_ARCH_MODE_TWO;
  so.arch_lr = 0.05f;
  so.skip_zero_active = 0;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  for (int step = 0; step < 8; step++) {
    make_batch(x, y, (unsigned)step);
    double before[2][PNI_SPACE_MAX_OPS];
    for (int l = 0; l < 2; l++) pni_layer_probs(&sn->layers[l], before[l]);
    float alpha_before[2][PNI_SPACE_MAX_OPS];
    for (int l = 0; l < 2; l++)
      memcpy(alpha_before[l], sn->layers[l].alpha, sizeof alpha_before[l]);
    ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
    for (int l = 0; l < 2; l++) {
      const pni_mixed_layer *layer = &sn->layers[l];
      double after[PNI_SPACE_MAX_OPS];
      pni_layer_probs(layer, after);
      int moved = 0;
      for (int j = 0; j < layer->count; j++) {
        if (j == layer->active || j == layer->other) {
          moved |= layer->alpha[j] != alpha_before[l][j];
          continue;
        }
        ck_assert_msg(fabs(after[j] - before[l][j]) < 1e-6, "layer %d op %d: p %g -> %g", l, j,
                      before[l][j], after[j]);
        ck_assert(layer->alpha[j] == alpha_before[l][j]);
      }
      ck_assert_msg(moved, "layer %d: the pair's logits did not move", l);
      /* The pair's total probability is unchanged too. */
      const double pair_before = before[l][layer->active] + before[l][layer->other];
      const double pair_after = after[layer->active] + after[layer->other];
      ck_assert(fabs(pair_after - pair_before) < 1e-6);
    }
  }
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(zero_active_layer_gets_no_update) {
  pnas_context *ctx = make_context(9);
  pnas_space *space = tiny_space(ctx, 1, 1, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  /* Make zero (the last op) all but certain. */
  float alpha[5] = {-20.0f, -20.0f, -20.0f, -20.0f, 20.0f};
  ck_assert_int_eq(pnas_supernet_set_alpha(sn, 0, alpha, 5), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 1);
  pnas_search_stats st = {.struct_size = sizeof st};
  ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, &st), PNAS_OK);
  ck_assert(isfinite(st.loss));
  ck_assert_int_eq(sn->layers[0].cand[sn->layers[0].active].op.kind, PNAS_OP_ZERO);
  float after[5];
  ck_assert_int_eq(pnas_supernet_get_alpha(sn, 0, 0, after, 5), PNAS_OK);
  ck_assert_int_eq(memcmp(alpha, after, sizeof alpha), 0);
  float grad[5];
  ck_assert_int_eq(pnas_supernet_get_alpha(sn, 0, 1, grad, 5), PNAS_OK);
  for (int j = 0; j < 5; j++) ck_assert(grad[j] == 0.0f);
  /* A weight step through the zero op is fine too (identity, no NaN). */
  pnas_search_stats ws = {.struct_size = sizeof ws};
  ck_assert_int_eq(pnas_supernet_train_step(sn, x, y, BATCH, &ws), PNAS_OK);
  ck_assert(isfinite(ws.loss));
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(adam_with_beta1_zero_steps_by_lr) {
  /* With beta1 = 0 the first Adam step is lr * g / (|g| + eps'): each
   * logit moves by almost exactly lr against the sign of its gradient. */
  pnas_context *ctx = make_context(13);
  pnas_space *space = tiny_space(ctx, 1, 0, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 2);
  ck_assert_int_eq(pnas_supernet_arch_gradient(sn, x, y, BATCH, NULL), PNAS_OK);
  float before[4], grad[4], after[4];
  pnas_supernet_get_alpha(sn, 0, 0, before, 4);
  pnas_supernet_get_alpha(sn, 0, 1, grad, 4);
  ck_assert_int_eq(pnas_supernet_arch_update(sn), PNAS_OK);
  pnas_supernet_get_alpha(sn, 0, 0, after, 4);
  for (int j = 0; j < 4; j++) {
    const double expect = grad[j] == 0.0f ? 0.0 : (grad[j] > 0 ? -1e-3 : 1e-3);
    ck_assert_msg(fabs((after[j] - before[j]) - expect) < 2e-5, "op %d moved %g, expected %g", j,
                  (double)(after[j] - before[j]), expect);
  }
  /* No gradient pending: a second update is a state error. */
  ck_assert_int_eq(pnas_supernet_arch_update(sn), PNAS_ERR_STATE);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(derive_takes_the_argmax) {
  pnas_context *ctx = make_context(3);
  pnas_space *space = tiny_space(ctx, 2, 1, 8);
  pnas_supernet *sn = make_supernet(ctx, space);
  const float a0[5] = {0.1f, 0.9f, 0.2f, 0.3f, 0.0f}; /* mbconv3 e2 */
  const float a1[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}; /* zero -> identity */
  ck_assert_int_eq(pnas_supernet_set_alpha(sn, 0, a0, 5), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_set_alpha(sn, 1, a1, 5), PNAS_OK);
  for (int rep = 0; rep < 3; rep++) {
    pnas_arch *arch = NULL;
    ck_assert_int_eq(pnas_supernet_derive(sn, &arch), PNAS_OK);
    pnas_arch_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(pnas_arch_get_info(arch, &info), PNAS_OK);
    ck_assert_int_eq(info.blocks, 2);
    pnas_block_info b = {.struct_size = sizeof b};
    ck_assert_int_eq(pnas_arch_get_block(arch, 0, &b), PNAS_OK);
    ck_assert_int_eq(b.kind, PNAS_BLOCK_MBCONV);
    ck_assert_int_eq(b.kernel, 3);
    ck_assert_int_eq(b.expand, 2);
    ck_assert_int_eq(pnas_arch_get_block(arch, 1, &b), PNAS_OK);
    ck_assert_int_eq(b.kind, PNAS_BLOCK_IDENTITY);
    pnas_arch_destroy(arch);
  }
  /* Inheriting: the derived net computes what the supernet's argmax path does. */
  int32_t path[2] = {1, 4};
  ck_assert_int_eq(pnas_supernet_active_path(sn, path, 2, 1), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 4);
  for (int step = 0; step < 3; step++) {
    ck_assert_int_eq(pnas_supernet_train_step(sn, x, y, BATCH, NULL), PNAS_OK);
  }
  ck_assert_int_eq(pnas_supernet_active_path(sn, path, 2, 1), PNAS_OK);
  float want[BATCH * CLASSES], got[BATCH * CLASSES];
  ck_assert_int_eq(pnas_supernet_forward(sn, x, BATCH, 0, want), PNAS_OK);
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = BATCH;
  pnas_net *net = NULL;
  ck_assert_int_eq(pnas_supernet_derive_net(sn, &no, 1, &net), PNAS_OK);
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, got), PNAS_OK);
  for (int i = 0; i < BATCH * CLASSES; i++) ck_assert_float_eq_tol(got[i], want[i], 1e-5f);
  pnas_net_destroy(net);
  ck_assert_int_eq(pnas_supernet_derive_net(sn, &no, 0, &net), PNAS_OK);
  ck_assert_int_eq(pnas_net_infer(net, x, BATCH, got), PNAS_OK);
  int differs = 0;
  for (int i = 0; i < BATCH * CLASSES; i++) differs |= fabsf(got[i] - want[i]) > 1e-3f;
  ck_assert(differs); /* fresh weights */
  pnas_net_destroy(net);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(pruning_removes_weak_paths_and_keeps_working) {
  pnas_context *ctx = make_context(21);
  pnas_space *space = tiny_space(ctx, 2, 1, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.prune_threshold = 0.05f;
  so.prune_patience = 2;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  /* Layer 0: ops 2 and 3 very unlikely; layer 1: everything unlikely but op 0. */
  const float a0[5] = {2.0f, 2.0f, -6.0f, -6.0f, 1.0f};
  const float a1[5] = {8.0f, -8.0f, -8.0f, -8.0f, -8.0f};
  pnas_supernet_set_alpha(sn, 0, a0, 5);
  pnas_supernet_set_alpha(sn, 1, a1, 5);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 6);
  int32_t pruned = -1;
  ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_prune(sn, &pruned), PNAS_OK);
  ck_assert_int_eq(pruned, 0); /* patience not reached */
  ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
  const int64_t params_before = sn->param_count;
  float keep_alpha[5];
  pnas_supernet_get_alpha(sn, 0, 0, keep_alpha, 5);
  ck_assert_int_eq(pnas_supernet_prune(sn, &pruned), PNAS_OK);
  ck_assert_int_eq(pruned, 6);
  int32_t count = 0;
  ck_assert_int_eq(pnas_supernet_op_count(sn, 0, &count), PNAS_OK);
  ck_assert_int_eq(count, 3);
  ck_assert_int_eq(pnas_supernet_op_count(sn, 1, &count), PNAS_OK);
  ck_assert_int_eq(count, 1); /* never the last */
  pnas_op_spec ops[3];
  ck_assert_int_eq(pnas_supernet_get_ops(sn, 0, ops, 3), PNAS_OK);
  ck_assert_int_eq(ops[0].kernel, 3);
  ck_assert_int_eq(ops[1].expand, 2);
  ck_assert_int_eq(ops[2].kind, PNAS_OP_ZERO);
  float alpha[3];
  ck_assert_int_eq(pnas_supernet_get_alpha(sn, 0, 0, alpha, 3), PNAS_OK);
  ck_assert(alpha[0] == keep_alpha[0] && alpha[1] == keep_alpha[1] && alpha[2] == keep_alpha[4]);
  ck_assert_int_lt(sn->param_count, params_before);
  /* Everything still runs on the compacted arenas. */
  for (int step = 0; step < 3; step++) {
    ck_assert_int_eq(pnas_supernet_train_step(sn, x, y, BATCH, NULL), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
  }
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_supernet_derive(sn, &arch), PNAS_OK);
  pnas_arch_destroy(arch);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

/* Runs a short search and returns a digest of alpha and weights. */
static void short_search(uint64_t seed, int32_t threads, float *alpha_out, float *weight_out) {
  pnas_context *ctx = make_context(seed);
  pnas_context_set_threads(ctx, threads);
  pnas_space *space = tiny_space(ctx, 2, 1, 8);
  pnas_supernet *sn = make_supernet(ctx, space);
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.arch_mode = PNAS_ARCH_MODE_TWO;
  pnas_supernet_set_search(sn, &so);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  for (int step = 0; step < 6; step++) {
    make_batch(x, y, (unsigned)step);
    ck_assert_int_eq(pnas_supernet_train_step(sn, x, y, BATCH, NULL), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_arch_step(sn, x, y, BATCH, NULL), PNAS_OK);
  }
  for (int l = 0; l < 2; l++) pnas_supernet_get_alpha(sn, l, 0, alpha_out + 5 * l, 5);
  memcpy(weight_out, sn->arena.params, sizeof(float) * 64);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}

START_TEST(same_seed_and_threads_are_bitwise_identical) {
  for (int32_t threads = 1; threads <= 2; threads++) {
    float a1[10], a2[10], w1[64], w2[64], a3[10], w3[64];
    short_search(42, threads, a1, w1);
    short_search(42, threads, a2, w2);
    short_search(43, threads, a3, w3);
    ck_assert_int_eq(memcmp(a1, a2, sizeof a1), 0);
    ck_assert_int_eq(memcmp(w1, w2, sizeof w1), 0);
    ck_assert(memcmp(a1, a3, sizeof a1) != 0);
  }
}
END_TEST

START_TEST(reinforce_moves_alpha_towards_cheap_ops) {
  pnas_context *ctx = make_context(17);
  pnas_space *space = tiny_space(ctx, 1, 0, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  for (int j = 0; j < 4; j++) sn->layers[0].cand[j].latency_ms = j == 0 ? 1.0 : 50.0;
  sn->fixed_latency_ms = 0.0;
  sn->has_latency = 1;
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.target_ms = 1.0f;
  so.rl_exponent = 1.0f; /* a strong latency reward */
  so.rl_samples = 8;
  so.arch_lr = 0.05f;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  float x[BATCH * HW * HW];
  int32_t y[BATCH];
  make_batch(x, y, 8);
  float p0[4], p1[4];
  pnas_supernet_get_alpha(sn, 0, 2, p0, 4);
  for (int step = 0; step < 30; step++) {
    pnas_search_stats st = {.struct_size = sizeof st};
    ck_assert_int_eq(pnas_supernet_arch_step_reinforce(sn, x, y, BATCH, &st), PNAS_OK);
    ck_assert(st.loss >= 0.0 && st.loss <= 1.0);
  }
  pnas_supernet_get_alpha(sn, 0, 2, p1, 4);
  ck_assert_msg(p1[0] > p0[0] + 0.1f, "p(cheap op) %g -> %g", (double)p0[0], (double)p1[0]);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(search_options_are_checked) {
  pnas_context *ctx = make_context(1);
  pnas_space *space = tiny_space(ctx, 1, 0, 0);
  pnas_supernet *sn = make_supernet(ctx, space);
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.loss_form = PNAS_LOSS_ADD;
  so.target_ms = 1.0f;
  /* A latency term needs a latency model first. */
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_ERR_STATE);
  for (int j = 0; j < 4; j++) sn->layers[0].cand[j].latency_ms = 1.0;
  sn->has_latency = 1;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  /* mul-log compares ln E with ln T: T <= 1 ms would reward slow nets. */
  so.loss_form = PNAS_LOSS_MUL_LOG;
  so.target_ms = 0.5f;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "mul-log needs T > 1 ms"));
  so.target_ms = 5.0f;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_OK);
  so.arch_beta2 = 1.0f;
  ck_assert_int_eq(pnas_supernet_set_search(sn, &so), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "arch_beta2"));
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(official_table_prices_the_paper_space) {
  /* mobile_trim.yaml (the official mobile latency table) covers every
   * candidate of the paper's ImageNet space, and E[LAT] lies between the
   * cheapest and the dearest architecture. */
  pnas_context *ctx = make_context(1);
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create_default(ctx, &space), PNAS_OK);
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  o.max_batch = 1;
  pnas_supernet *sn = NULL;
  ck_assert_int_eq(pnas_supernet_create(ctx, space, &o, &sn), PNAS_OK);
  char path[1024];
  snprintf(path, sizeof path, "%s/proxylessnas/mobile_trim.yaml", getenv("PNAS_TEST_DATA"));
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, path, &model), PNAS_OK);
  ck_assert_msg(pnas_supernet_set_latency_model(sn, model) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  double e = 0.0, lo = sn->fixed_latency_ms, hi = sn->fixed_latency_ms;
  ck_assert_int_eq(pnas_supernet_expected_latency(sn, &e), PNAS_OK);
  ck_assert_int_eq(sn->layer_count, 21);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    double mn = 1e30, mx = 0.0;
    for (int32_t j = 0; j < sn->layers[l].count; j++) {
      mn = fmin(mn, sn->layers[l].cand[j].latency_ms);
      mx = fmax(mx, sn->layers[l].cand[j].latency_ms);
    }
    lo += mn;
    hi += mx;
  }
  ck_assert(lo < e && e < hi);
  ck_assert(e > 50.0 && e < 200.0); /* tens of ms on the phone the table was measured on */
  pnas_latency_model_destroy(model);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("supernet");
  TCase *tc = tcase_create("search-maths");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, full_v2_estimator_matches_direct_computation);
  tcase_add_test(tc, two_mode_estimator_matches_direct_computation);
  tcase_add_test(tc, latency_term_reaches_alpha);
  tcase_add_test(tc, weight_step_touches_only_the_sampled_path);
  tcase_add_test(tc, arch_step_leaves_weight_gradients_alone);
  tcase_add_test(tc, weight_gradients_match_the_derived_net);
  tcase_add_test(tc, two_mode_keeps_unsampled_probabilities);
  tcase_add_test(tc, zero_active_layer_gets_no_update);
  tcase_add_test(tc, adam_with_beta1_zero_steps_by_lr);
  tcase_add_test(tc, derive_takes_the_argmax);
  tcase_add_test(tc, pruning_removes_weak_paths_and_keeps_working);
  tcase_add_test(tc, same_seed_and_threads_are_bitwise_identical);
  tcase_add_test(tc, reinforce_moves_alpha_towards_cheap_ops);
  tcase_add_test(tc, official_table_prices_the_paper_space);
  tcase_add_test(tc, search_options_are_checked);
  suite_add_tcase(s, tc);
  return s;
}
