/* SPDX-License-Identifier: MIT */
/* Expected latency, its alpha gradient and the latency loss forms
 * (lib/search/latency_loss.h): hand-computed values, and every derivative
 * against central finite differences in double. */
#include <math.h>
#include <string.h>

#include "check_main.h"
#include "search/latency_loss.h"

/* ---- helpers ----------------------------------------------------------- */

static void softmax(const double *alpha, int32_t n, double *p) {
  double max = alpha[0];
  for (int32_t i = 1; i < n; i++) max = alpha[i] > max ? alpha[i] : max;
  double sum = 0.0;
  for (int32_t i = 0; i < n; i++) sum += (p[i] = exp(alpha[i] - max));
  for (int32_t i = 0; i < n; i++) p[i] /= sum;
}

static double expected_of_alpha(const double *alpha, const double *lat, int32_t n) {
  double p[16];
  softmax(alpha, n, p);
  return pni_layer_expected_latency(p, lat, n);
}

static pni_latency_loss eval_ok(pnas_loss_form form, double ce, double e, double t) {
  pni_latency_loss r;
  memset(&r, 0, sizeof r);
  const pnas_status st = pni_latency_loss_eval(NULL, form, ce, e, t, 0.1, 0.2, 0.3, &r);
  ck_assert_int_eq(st, PNAS_OK);
  return r;
}

static pnas_context *plain_context(void) {
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  o.threads = 1;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

#define ASSERT_CLOSE(got, want, tol)                                                          \
  ck_assert_msg(fabs((got) - (want)) <= (tol) * (1.0 + fabs(want)), "%s = %.17g, want %.17g", \
                #got, (double)(got), (double)(want))

/* ---- expected latency -------------------------------------------------- */

START_TEST(expected_latency_by_hand) {
  /* Three candidates: E = 0.2*1 + 0.3*2 + 0.5*4 = 2.8;
   * dE/dalpha = p_i (lat_i - E) = (-0.36, -0.24, 0.6). */
  const double p[3] = {0.2, 0.3, 0.5}, lat[3] = {1.0, 2.0, 4.0};
  ASSERT_CLOSE(pni_layer_expected_latency(p, lat, 3), 2.8, 1e-15);
  double g[3];
  pni_layer_expected_latency_grad(p, lat, 3, g);
  ASSERT_CLOSE(g[0], -0.36, 1e-15);
  ASSERT_CLOSE(g[1], -0.24, 1e-15);
  ASSERT_CLOSE(g[2], 0.6, 1e-15);
  /* The gradient of a softmax-weighted sum sums to 0 over the layer. */
  ASSERT_CLOSE(g[0] + g[1] + g[2], 0.0, 1e-15);
}
END_TEST

START_TEST(expected_latency_with_zero_op) {
  /* The zero op costs 0 but still holds probability: E = 0.25*3 + 0.5*5 =
   * 3.25, and its gradient 0.25 * (0 - 3.25) = -0.8125 is negative: moving
   * probability to zero lowers E. */
  const double p[3] = {0.25, 0.25, 0.5}, lat[3] = {3.0, 0.0, 5.0};
  ASSERT_CLOSE(pni_layer_expected_latency(p, lat, 3), 3.25, 1e-15);
  double g[3];
  pni_layer_expected_latency_grad(p, lat, 3, g);
  ASSERT_CLOSE(g[0], 0.25 * (3.0 - 3.25), 1e-15);
  ASSERT_CLOSE(g[1], -0.8125, 1e-15);
  ASSERT_CLOSE(g[2], 0.5 * (5.0 - 3.25), 1e-15);
  /* One candidate: E is its latency and nothing moves it. */
  const double one = 1.0, l1 = 7.5;
  ASSERT_CLOSE(pni_layer_expected_latency(&one, &l1, 1), 7.5, 1e-15);
  pni_layer_expected_latency_grad(&one, &l1, 1, g);
  ASSERT_CLOSE(g[0], 0.0, 1e-15);
}
END_TEST

START_TEST(expected_latency_grad_matches_finite_differences) {
  /* Seven candidates (ImageNet's six MBConv ops and zero), logits spread
   * the way a search moves them. */
  const int32_t n = 7;
  const double alpha[7] = {0.3, -1.2, 0.05, 2.1, -0.4, 0.9, -2.5};
  const double lat[7] = {1.25, 3.5, 2.0, 6.75, 0.5, 4.0, 0.0};
  double p[7], g[7];
  softmax(alpha, n, p);
  pni_layer_expected_latency_grad(p, lat, n, g);
  const double h = 1e-6;
  for (int32_t i = 0; i < n; i++) {
    double a[7];
    memcpy(a, alpha, sizeof a);
    a[i] = alpha[i] + h;
    const double up = expected_of_alpha(a, lat, n);
    a[i] = alpha[i] - h;
    const double down = expected_of_alpha(a, lat, n);
    const double fd = (up - down) / (2.0 * h);
    ck_assert_msg(fabs(fd - g[i]) <= 1e-8, "alpha[%d]: closed form %.12g, FD %.12g", (int)i, g[i],
                  fd);
  }
}
END_TEST

/* ---- loss forms -------------------------------------------------------- */

START_TEST(loss_forms_by_hand) {
  /* ce 2, E 30 ms, T 25 ms, lambda 0.1, a 0.2, beta 0.3. */
  pni_latency_loss r = eval_ok(PNAS_LOSS_NONE, 2.0, 30.0, 25.0);
  ASSERT_CLOSE(r.loss, 2.0, 1e-15);
  ASSERT_CLOSE(r.ce_scale, 1.0, 1e-15);
  ASSERT_CLOSE(r.dloss_dE, 0.0, 1e-15);

  /* add: 2 + 0.1 * 5/25 = 2.02; dL/dE = 0.1/25. */
  r = eval_ok(PNAS_LOSS_ADD, 2.0, 30.0, 25.0);
  ASSERT_CLOSE(r.loss, 2.02, 1e-15);
  ASSERT_CLOSE(r.ce_scale, 1.0, 1e-15);
  ASSERT_CLOSE(r.dloss_dE, 0.004, 1e-15);
  /* Below the target the add form rewards (loss < ce), same slope. */
  r = eval_ok(PNAS_LOSS_ADD, 2.0, 20.0, 25.0);
  ASSERT_CLOSE(r.loss, 1.98, 1e-15);
  ASSERT_CLOSE(r.dloss_dE, 0.004, 1e-15);

  /* mul-log: ln 30 / ln 25 = 1.0566413762796893;
   * loss = 0.2 * 2 * 1.05664...^0.3 = 0.40666638504730585,
   * ce_scale = 0.20333319252365292,
   * dL/dE = 0.2*2*0.3*1.05664...^-0.7 / (30 ln 25) = 0.001195656527433198. */
  r = eval_ok(PNAS_LOSS_MUL_LOG, 2.0, 30.0, 25.0);
  ASSERT_CLOSE(r.loss, 0.40666638504730585, 1e-14);
  ASSERT_CLOSE(r.ce_scale, 0.20333319252365292, 1e-14);
  ASSERT_CLOSE(r.dloss_dE, 0.001195656527433198, 1e-14);
  /* Both below 1 ms the form is defined but its slope is negative (ln T <
   * 0): documented in docs/search.md. */
  r = eval_ok(PNAS_LOSS_MUL_LOG, 1.5, 0.5, 0.8);
  ASSERT_CLOSE(r.loss, 0.42149612941178466, 1e-14);
  ASSERT_CLOSE(r.ce_scale, 0.2809974196078564, 1e-14);
  ASSERT_CLOSE(r.dloss_dE, -0.3648542253937648, 1e-14);
  /* At E == T the ratio is 1: loss = a * ce. */
  r = eval_ok(PNAS_LOSS_MUL_LOG, 2.0, 25.0, 25.0);
  ASSERT_CLOSE(r.loss, 0.4, 1e-15);

  /* abs: 2 + 0.1*|30/25 - 1| = 2.02, slope +0.004; below the target the
   * slope flips; at the target it is 0. */
  r = eval_ok(PNAS_LOSS_ABS, 2.0, 30.0, 25.0);
  ASSERT_CLOSE(r.loss, 2.02, 1e-15);
  ASSERT_CLOSE(r.dloss_dE, 0.004, 1e-15);
  r = eval_ok(PNAS_LOSS_ABS, 2.0, 20.0, 25.0);
  ASSERT_CLOSE(r.loss, 2.02, 1e-15);
  ASSERT_CLOSE(r.dloss_dE, -0.004, 1e-15);
  r = eval_ok(PNAS_LOSS_ABS, 2.0, 25.0, 25.0);
  ASSERT_CLOSE(r.loss, 2.0, 1e-15);
  ck_assert(r.dloss_dE == 0.0);
  ASSERT_CLOSE(r.ce_scale, 1.0, 1e-15);
}
END_TEST

static double loss_at(pnas_loss_form form, double ce, double e, double t) {
  return eval_ok(form, ce, e, t).loss;
}

START_TEST(loss_derivatives_match_finite_differences) {
  const pnas_loss_form forms[] = {PNAS_LOSS_NONE, PNAS_LOSS_ADD, PNAS_LOSS_MUL_LOG, PNAS_LOSS_ABS};
  /* (ce, E, T): above and below the target, targets above and below 1 ms;
   * none sits on the abs kink, where the FD would straddle it. */
  const double cases[][3] = {
      {2.3, 31.5, 25.0}, {0.7, 12.0, 20.0}, {1.1, 3.7, 2.5}, {0.4, 0.3, 0.6}, {5.0, 80.0, 79.0}};
  const double h = 1e-6;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      const double ce = cases[c][0], e = cases[c][1], t = cases[c][2];
      const pni_latency_loss r = eval_ok(forms[f], ce, e, t);
      const double fd_e =
          (loss_at(forms[f], ce, e + h, t) - loss_at(forms[f], ce, e - h, t)) / (2.0 * h);
      const double fd_ce =
          (loss_at(forms[f], ce + h, e, t) - loss_at(forms[f], ce - h, e, t)) / (2.0 * h);
      ck_assert_msg(fabs(fd_e - r.dloss_dE) <= 1e-7 * (1.0 + fabs(fd_e)),
                    "form %d case %zu: dloss_dE %.12g, FD %.12g", (int)forms[f], c, r.dloss_dE,
                    fd_e);
      ck_assert_msg(fabs(fd_ce - r.ce_scale) <= 1e-7 * (1.0 + fabs(fd_ce)),
                    "form %d case %zu: ce_scale %.12g, FD %.12g", (int)forms[f], c, r.ce_scale,
                    fd_ce);
      /* The loss is ce_scale * ce plus a term free of ce. */
      if (forms[f] == PNAS_LOSS_MUL_LOG) ASSERT_CLOSE(r.loss, r.ce_scale * ce, 1e-14);
    }
  }
}
END_TEST

/* The whole chain an arch step uses: loss(E(alpha)) with E over a fixed
 * part and two layers, dL/dalpha = dloss_dE * p_i (lat_i - E_layer). */
static double chain_loss(pnas_loss_form form, const double *alpha, const double lat[2][4],
                         double fixed_ms) {
  const double e =
      fixed_ms + expected_of_alpha(alpha, lat[0], 4) + expected_of_alpha(alpha + 4, lat[1], 4);
  return loss_at(form, 1.7, e, 9.0);
}

START_TEST(loss_chain_matches_finite_differences) {
  const pnas_loss_form forms[] = {PNAS_LOSS_ADD, PNAS_LOSS_MUL_LOG, PNAS_LOSS_ABS};
  const double alpha[8] = {0.1, -0.3, 0.8, 0.0, -1.0, 0.4, 0.2, 1.3};
  const double lat[2][4] = {{1.5, 2.25, 4.0, 0.0}, {0.75, 3.0, 1.25, 2.5}};
  const double fixed_ms = 2.0;
  const double h = 1e-6;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    double p[2][4], e = fixed_ms;
    for (int l = 0; l < 2; l++) {
      softmax(alpha + 4 * l, 4, p[l]);
      e += pni_layer_expected_latency(p[l], lat[l], 4);
    }
    const pni_latency_loss r = eval_ok(forms[f], 1.7, e, 9.0);
    for (int l = 0; l < 2; l++) {
      double g[4];
      pni_layer_expected_latency_grad(p[l], lat[l], 4, g);
      for (int i = 0; i < 4; i++) {
        double a[8];
        memcpy(a, alpha, sizeof a);
        a[4 * l + i] += h;
        const double up = chain_loss(forms[f], a, lat, fixed_ms);
        a[4 * l + i] -= 2.0 * h;
        const double down = chain_loss(forms[f], a, lat, fixed_ms);
        const double fd = (up - down) / (2.0 * h);
        const double closed = r.dloss_dE * g[i];
        ck_assert_msg(fabs(fd - closed) <= 1e-8 * (1.0 + fabs(fd)),
                      "form %d layer %d op %d: closed %.12g, FD %.12g", (int)forms[f], l, i, closed,
                      fd);
      }
    }
  }
}
END_TEST

/* ---- inputs a form cannot take ---------------------------------------- */

static void expect_numeric(pnas_context *ctx, pnas_loss_form form, double ce, double e, double t,
                           double lambda, double a, double beta, pnas_status want,
                           const char *needle) {
  pni_latency_loss r = {-1.0, -2.0, -3.0};
  const pnas_status st = pni_latency_loss_eval(ctx, form, ce, e, t, lambda, a, beta, &r);
  ck_assert_int_eq(st, want);
  ck_assert_msg(strstr(pnas_context_last_error(ctx), needle) != NULL, "message '%s' lacks '%s'",
                pnas_context_last_error(ctx), needle);
  /* Untouched on failure. */
  ck_assert(r.loss == -1.0 && r.ce_scale == -2.0 && r.dloss_dE == -3.0);
}

START_TEST(loss_rejects_what_it_cannot_take) {
  pnas_context *ctx = plain_context();
  const pnas_status N = PNAS_ERR_NUMERIC;
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 0.0, 25.0, 0.1, 0.2, 0.3, N,
                 "expected latency is 0 ms; it must be > 0");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, -1.0, 25.0, 0.1, 0.2, 0.3, N, "must be > 0 (ln E)");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 30.0, 0.0, 0.1, 0.2, 0.3, N,
                 "target latency is 0 ms; it must be > 0 and not 1 ms");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 30.0, 1.0, 0.1, 0.2, 0.3, N, "not 1 ms");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 0.5, 25.0, 0.1, 0.2, 0.3, N, "same side of 1 ms");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 1.0, 25.0, 0.1, 0.2, 0.3, N, "ln E / ln T is 0");
  expect_numeric(ctx, PNAS_LOSS_MUL_LOG, 2.0, 30.0, 25.0, 0.1, 0.2, NAN, N, "beta is nan");
  expect_numeric(ctx, PNAS_LOSS_ADD, 2.0, 30.0, 0.0, 0.1, 0.2, 0.3, N,
                 "latency loss 'add': the target latency is 0 ms; it must be > 0");
  expect_numeric(ctx, PNAS_LOSS_ABS, 2.0, 30.0, -5.0, 0.1, 0.2, 0.3, N,
                 "latency loss 'abs': the target latency is -5 ms");
  expect_numeric(ctx, PNAS_LOSS_ADD, 2.0, INFINITY, 25.0, 0.1, 0.2, 0.3, N,
                 "the expected latency is inf; it must be finite");
  expect_numeric(ctx, PNAS_LOSS_ABS, NAN, 30.0, 25.0, 0.1, 0.2, 0.3, N, "the cross-entropy is nan");
  expect_numeric(ctx, PNAS_LOSS_ADD, 2.0, 30.0, 25.0, INFINITY, 0.2, 0.3, N, "lambda is inf");
  expect_numeric(ctx, PNAS_LOSS_NONE, NAN, 30.0, 25.0, 0.1, 0.2, 0.3, N,
                 "latency loss 'none': the cross-entropy is nan");
  expect_numeric(ctx, (pnas_loss_form)7, 2.0, 30.0, 25.0, 0.1, 0.2, 0.3, PNAS_ERR_INVALID_ARGUMENT,
                 "latency loss form 7 is unknown");
  /* none ignores the latency inputs, so a search without a model works. */
  pni_latency_loss r;
  ck_assert_int_eq(pni_latency_loss_eval(ctx, PNAS_LOSS_NONE, 2.0, NAN, 0.0, 0.1, 0.2, 0.3, &r),
                   PNAS_OK);
  ck_assert(r.loss == 2.0 && r.ce_scale == 1.0 && r.dloss_dE == 0.0);
  /* Without a context the status alone comes back. */
  ck_assert_int_eq(
      pni_latency_loss_eval(NULL, PNAS_LOSS_MUL_LOG, 2.0, 0.0, 25.0, 0.1, 0.2, 0.3, &r), N);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("latency-math");
  TCase *tc = tcase_create("expected");
  tcase_add_test(tc, expected_latency_by_hand);
  tcase_add_test(tc, expected_latency_with_zero_op);
  tcase_add_test(tc, expected_latency_grad_matches_finite_differences);
  suite_add_tcase(s, tc);
  tc = tcase_create("loss");
  tcase_add_test(tc, loss_forms_by_hand);
  tcase_add_test(tc, loss_derivatives_match_finite_differences);
  tcase_add_test(tc, loss_chain_matches_finite_differences);
  tcase_add_test(tc, loss_rejects_what_it_cannot_take);
  suite_add_tcase(s, tc);
  return s;
}
