/* SPDX-License-Identifier: MIT */
/* End-to-end finite-difference checks of the network's backward pass: an
 * MBConv block with and without the residual, and a small whole network
 * (stem, blocks incl. identity and stride 2, head, pool, classifier). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "nn/arch.h"
#include "nn/net.h"

typedef struct block_spec {
  pnas_block_kind kind;
  int32_t out, kernel, expand, stride;
} block_spec;

static pnas_context *make_context(void) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = 3;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

static pnas_net *make_net(pnas_context *ctx, int32_t hw, int32_t cin, int32_t stem,
                          int32_t head, const block_spec *blocks, int nblocks, int32_t batch) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = hw;
  info.input_channels = cin;
  info.classes = 3;
  info.stem_channels = stem;
  info.stem_kernel = 3;
  info.stem_stride = 1;
  info.head_channels = head;
  info.dropout = 0.0f;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pni_arch_create(ctx, &info, &arch), PNAS_OK);
  for (int i = 0; i < nblocks; i++) {
    pnas_block_info b;
    pnas_block_info_init(&b);
    b.kind = blocks[i].kind;
    b.out_channels = blocks[i].out;
    b.kernel = blocks[i].kernel;
    b.expand = blocks[i].expand;
    b.stride = blocks[i].stride;
    ck_assert_msg(pni_arch_append(arch, &b) == PNAS_OK, "%s", pnas_context_last_error(ctx));
  }
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = batch;
  pnas_net *net = NULL;
  ck_assert_msg(pni_net_create(ctx, arch, &no, &net) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  pni_arch_destroy(arch);
  /* Non-trivial BN scale/shift so their gradients are exercised. */
  pni_rng r;
  pni_rng_seed(&r, 17);
  for (int64_t i = 0; i < net->param_count; i++) {
    net->arena.params[i] += (float)(0.05 * (pni_rng_uniform(&r) - 0.5));
  }
  return net;
}

/* L = sum(r * logits) in double, training-mode forward. */
static double loss_of(pnas_net *net, const float *x, int32_t batch, const float *r) {
  pni_net_forward(net, x, batch, 1);
  double l = 0.0;
  for (int64_t i = 0; i < (int64_t)batch * net->classes; i++) l += (double)r[i] * net->logits[i];
  return l;
}

static int close_enough(double num, double ana) {
  const double scale = fmax(fabs(num), fabs(ana));
  return fabs(num - ana) <= 2e-2 * scale + 2e-3;
}

/* Central differences at two step sizes. ReLU6 makes the loss piecewise
 * smooth: when a perturbation crosses a kink the two estimates disagree,
 * and the sample says nothing about the gradient. Returns 0 (agrees),
 * 1 (wrong gradient) or 2 (kink: skipped). */
static int compare(pnas_net *net, float *value, double analytic, const float *x, int32_t batch,
                   const float *r) {
  const float keep = *value;
  double estimate[2];
  const float steps[2] = {4e-4f, 2e-4f};
  for (int k = 0; k < 2; k++) {
    *value = keep + steps[k];
    const double up = loss_of(net, x, batch, r);
    *value = keep - steps[k];
    const double down = loss_of(net, x, batch, r);
    *value = keep;
    estimate[k] = (up - down) / (2.0 * steps[k]);
  }
  if (!close_enough(estimate[0], estimate[1])) return 2;
  if (close_enough(estimate[1], analytic)) return 0;
  fprintf(stderr, "numeric %g (and %g) analytic %g\n", estimate[1], estimate[0], analytic);
  return 1;
}

/* Checks `samples` parameters spread over the arena and every input element
 * (up to a cap) against central differences. */
static void check_net(pnas_net *net, int32_t batch, int samples) {
  const pnas_arch_info *info = &net->arch->info;
  const int64_t in_floats = (int64_t)batch * info->input_height * info->input_width *
                            info->input_channels;
  float *x = malloc(sizeof(float) * (size_t)in_floats);
  float *dx = malloc(sizeof(float) * (size_t)in_floats);
  float *r = malloc(sizeof(float) * (size_t)(batch * net->classes));
  pni_rng rng;
  pni_rng_seed(&rng, 99);
  for (int64_t i = 0; i < in_floats; i++) x[i] = (float)(pni_rng_uniform(&rng) * 2.0 - 1.0);
  for (int64_t i = 0; i < (int64_t)batch * net->classes; i++) {
    r[i] = (float)(pni_rng_uniform(&rng) * 2.0 - 1.0);
  }
  loss_of(net, x, batch, r);
  pni_net_backward(net, r, batch, dx);
  float *grads = malloc(sizeof(float) * (size_t)net->param_count);
  memcpy(grads, net->arena.grads, sizeof(float) * (size_t)net->param_count);

  int bad = 0, kinks = 0, checked = 0;
  for (int s = 0; s < samples; s++) {
    const int64_t i = s == 0 ? 0 : (int64_t)pni_rng_below(&rng, (uint64_t)net->param_count);
    const int verdict = compare(net, &net->arena.params[i], grads[i], x, batch, r);
    bad += verdict == 1;
    kinks += verdict == 2;
    checked++;
  }
  const int64_t inputs = in_floats < 48 ? in_floats : 48;
  for (int64_t j = 0; j < inputs; j++) {
    const int64_t i = (j * 7919) % in_floats;
    const int verdict = compare(net, &x[i], dx[i], x, batch, r);
    bad += verdict == 1;
    kinks += verdict == 2;
    checked++;
  }
  /* The forward is float32 through several BN layers over few rows, so a
   * finite difference is itself only good to a few percent; a wrong
   * backward shows up as many disagreements, not one or two. The exact
   * check of these gradients is test_torch_agreement.c (PyTorch autograd,
   * same odd-sized network). */
  ck_assert_msg(bad * 50 <= checked, "%d of %d gradients disagree with finite differences", bad,
                checked);
  ck_assert_msg(kinks * 5 < checked, "%d of %d samples crossed a ReLU6 kink", kinks, checked);
  free(x);
  free(dx);
  free(r);
  free(grads);
}

START_TEST(mbconv_block_with_residual) {
  pnas_context *ctx = make_context();
  const block_spec blocks[] = {{PNAS_BLOCK_MBCONV, 4, 3, 3, 1}};
  pnas_net *net = make_net(ctx, 5, 2, 4, 0, blocks, 1, 2);
  ck_assert_int_eq(net->blocks[0].residual, 1);
  check_net(net, 2, 120);
  pni_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(mbconv_block_without_residual) {
  pnas_context *ctx = make_context();
  const block_spec blocks[] = {{PNAS_BLOCK_MBCONV, 6, 5, 2, 2}};
  pnas_net *net = make_net(ctx, 6, 1, 4, 0, blocks, 1, 3);
  ck_assert_int_eq(net->blocks[0].residual, 0);
  check_net(net, 3, 120);
  pni_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(small_whole_network) {
  pnas_context *ctx = make_context();
  const block_spec blocks[] = {{PNAS_BLOCK_MBCONV, 3, 3, 1, 1},
                               {PNAS_BLOCK_MBCONV, 5, 3, 3, 2},
                               {PNAS_BLOCK_MBCONV, 5, 7, 6, 1},
                               {PNAS_BLOCK_IDENTITY, 5, 3, 1, 1},
                               {PNAS_BLOCK_MBCONV, 6, 5, 3, 1}};
  pnas_net *net = make_net(ctx, 7, 1, 4, 8, blocks, 5, 3);
  check_net(net, 3, 200);
  pni_net_destroy(net);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("net-grad");
  TCase *tc = tcase_create("finite-differences");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, mbconv_block_with_residual);
  tcase_add_test(tc, mbconv_block_without_residual);
  tcase_add_test(tc, small_whole_network);
  suite_add_tcase(s, tc);
  return s;
}
