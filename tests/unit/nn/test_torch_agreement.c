/* SPDX-License-Identifier: MIT */
/* Forward and backward agree with PyTorch on committed fixtures
 * (tests/torch/make_fixtures.py): logits, loss, input gradient, every
 * weight gradient and the running BN statistics, within 1e-4 relative
 * (max-abs error over max-abs value of each tensor, at least 1e-3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "kernels/linear.h"
#include "nn/arch.h"
#include "nn/net.h"

typedef struct tensor {
  char name[64];
  int64_t size;
  float *data;
} tensor;

typedef struct fixture {
  int count;
  tensor t[160];
} fixture;

static void load_fixture(fixture *fx, const char *name) {
  const char *root = getenv("PNAS_TEST_DATA");
  ck_assert_ptr_nonnull(root);
  char path[1024];
  snprintf(path, sizeof path, "%s/torch/%s.bin", root, name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  char magic[8];
  uint32_t count;
  ck_assert_int_eq(fread(magic, 1, 8, f), 8);
  ck_assert_int_eq(memcmp(magic, "PNASFIX1", 8), 0);
  ck_assert_int_eq(fread(&count, 4, 1, f), 1);
  ck_assert_uint_le(count, 160);
  fx->count = (int)count;
  for (uint32_t i = 0; i < count; i++) {
    tensor *t = &fx->t[i];
    uint32_t len, ndim, dims[8];
    ck_assert_int_eq(fread(&len, 4, 1, f), 1);
    ck_assert_uint_lt(len, sizeof t->name);
    ck_assert_int_eq(fread(t->name, 1, len, f), len);
    t->name[len] = '\0';
    ck_assert_int_eq(fread(&ndim, 4, 1, f), 1);
    ck_assert_uint_le(ndim, 8);
    ck_assert_int_eq(fread(dims, 4, ndim, f), ndim);
    t->size = 1;
    for (uint32_t d = 0; d < ndim; d++) t->size *= dims[d];
    t->data = malloc(sizeof(float) * (size_t)(t->size ? t->size : 1));
    ck_assert_int_eq(fread(t->data, 4, (size_t)t->size, f), (size_t)t->size);
  }
  fclose(f);
}

static void free_fixture(fixture *fx) {
  for (int i = 0; i < fx->count; i++) free(fx->t[i].data);
}

static const tensor *get(const fixture *fx, const char *name) {
  for (int i = 0; i < fx->count; i++) {
    if (strcmp(fx->t[i].name, name) == 0) return &fx->t[i];
  }
  ck_abort_msg("fixture has no tensor %s", name);
  return NULL;
}

static void expect_close(const char *what, const float *got, const tensor *want) {
  double max_err = 0.0, max_ref = 0.0;
  for (int64_t i = 0; i < want->size; i++) {
    max_err = fmax(max_err, fabs((double)got[i] - want->data[i]));
    max_ref = fmax(max_ref, fabs((double)want->data[i]));
  }
  /* Tensors that are zero in exact arithmetic (a BN shift followed by
   * another BN) hold only rounding noise: compare those on a 1e-3 scale. */
  const double rel = max_err / fmax(max_ref, 1e-3);
  ck_assert_msg(rel <= 1e-4, "%s: relative error %.3g (max abs error %.3g of %.3g)", what, rel,
                max_err, max_ref);
}

static void copy_in(float *dst, const tensor *t) {
  memcpy(dst, t->data, sizeof(float) * (size_t)t->size);
}

/* Visits the net's units in the fixture's order: stem, blocks, head. */
static int unit_list(pnas_net *net, pni_unit **units) {
  int n = 0;
  units[n++] = &net->stem;
  for (int32_t b = 0; b < net->block_count; b++) {
    for (int32_t u = 0; u < net->blocks[b].units; u++) units[n++] = &net->blocks[b].unit[u];
  }
  if (net->has_head) units[n++] = &net->head;
  return n;
}

static void run_fixture(const char *name, int32_t hw, int32_t cin, int32_t stem,
                        const int32_t (*blocks)[4], int nblocks, int32_t head, int32_t classes,
                        int32_t batch, int32_t threads) {
  fixture *fx = calloc(1, sizeof *fx);
  load_fixture(fx, name);
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = threads;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = hw;
  info.input_channels = cin;
  info.classes = classes;
  info.stem_channels = stem;
  info.head_channels = head;
  info.dropout = 0.0f;
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pni_arch_create(ctx, &info, &arch), PNAS_OK);
  for (int i = 0; i < nblocks; i++) {
    pnas_block_info b;
    pnas_block_info_init(&b);
    b.out_channels = blocks[i][0];
    b.kernel = blocks[i][1];
    b.expand = blocks[i][2];
    b.stride = blocks[i][3];
    ck_assert_int_eq(pni_arch_append(arch, &b), PNAS_OK);
  }
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = batch;
  pnas_net *net = NULL;
  ck_assert_int_eq(pni_net_create(ctx, arch, &no, &net), PNAS_OK);
  pni_arch_destroy(arch);

  pni_unit *units[64];
  const int n = unit_list(net, units);
  char key[64];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "unit%d.weight", i);
    copy_in(net->arena.params + units[i]->weight, get(fx, key));
    snprintf(key, sizeof key, "unit%d.gamma", i);
    copy_in(net->arena.params + units[i]->gamma, get(fx, key));
    snprintf(key, sizeof key, "unit%d.beta", i);
    copy_in(net->arena.params + units[i]->beta, get(fx, key));
  }
  copy_in(net->arena.params + net->fc_weight, get(fx, "fc.weight"));
  copy_in(net->arena.params + net->fc_bias, get(fx, "fc.bias"));

  const tensor *x = get(fx, "input"), *lab = get(fx, "labels");
  int32_t labels[64];
  for (int i = 0; i < batch; i++) labels[i] = (int32_t)lab->data[i];
  float *dinput = malloc(sizeof(float) * (size_t)x->size);
  pni_net_forward(net, x->data, batch, 1);
  expect_close("logits", net->logits, get(fx, "logits"));
  int64_t correct = 0;
  const float loss = (float)pni_softmax_xent(threads, batch, classes, net->logits, labels, 0.1f,
                                             net->dlogits, &correct);
  expect_close("loss", &loss, get(fx, "loss"));
  pni_net_backward(net, net->dlogits, batch, dinput);
  expect_close("dinput", dinput, get(fx, "dinput"));
  for (int i = 0; i < n; i++) {
    const int64_t c = units[i]->shape.cout;
    snprintf(key, sizeof key, "unit%d.dweight", i);
    expect_close(key, net->arena.grads + units[i]->weight, get(fx, key));
    snprintf(key, sizeof key, "unit%d.dgamma", i);
    expect_close(key, net->arena.grads + units[i]->gamma, get(fx, key));
    snprintf(key, sizeof key, "unit%d.dbeta", i);
    expect_close(key, net->arena.grads + units[i]->beta, get(fx, key));
    snprintf(key, sizeof key, "unit%d.running_mean", i);
    expect_close(key, net->arena.stats + units[i]->stats, get(fx, key));
    snprintf(key, sizeof key, "unit%d.running_var", i);
    expect_close(key, net->arena.stats + units[i]->stats + c, get(fx, key));
  }
  expect_close("fc.dweight", net->arena.grads + net->fc_weight, get(fx, "fc.dweight"));
  expect_close("fc.dbias", net->arena.grads + net->fc_bias, get(fx, "fc.dbias"));
  free(dinput);
  pni_net_destroy(net);
  pnas_context_destroy(ctx);
  free_fixture(fx);
  free(fx);
}

static const int32_t mbconv_blocks[][4] = {{8, 3, 6, 1}};
static const int32_t network_blocks[][4] = {{8, 3, 1, 1}, {12, 5, 3, 2}, {12, 7, 6, 1}, {16, 3, 3, 2}};

static const int32_t oddnet_blocks[][4] = {{3, 3, 1, 1}, {5, 3, 3, 2}, {5, 7, 6, 1}, {6, 5, 3, 1}};

START_TEST(odd_sized_network_matches_pytorch) {
  for (int32_t threads = 1; threads <= 2; threads++) {
    run_fixture("oddnet", 7, 1, 4, oddnet_blocks, 4, 8, 3, 3, threads);
  }
}
END_TEST

START_TEST(mbconv_block_matches_pytorch) {
  for (int32_t threads = 1; threads <= 2; threads++) {
    run_fixture("mbconv", 6, 8, 8, mbconv_blocks, 1, 0, 4, 3, threads);
  }
}
END_TEST

START_TEST(small_network_matches_pytorch) {
  for (int32_t threads = 1; threads <= 2; threads++) {
    run_fixture("network", 10, 1, 8, network_blocks, 4, 32, 5, 4, threads);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("torch-agreement");
  TCase *tc = tcase_create("fixtures");
  tcase_add_test(tc, mbconv_block_matches_pytorch);
  tcase_add_test(tc, small_network_matches_pytorch);
  tcase_add_test(tc, odd_sized_network_matches_pytorch);
  suite_add_tcase(s, tc);
  return s;
}
