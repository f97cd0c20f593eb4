/* SPDX-License-Identifier: MIT */
/* ReLU6, residual add, global average pool and dropout against float64
 * references; sizes around the vector width and past the threading
 * threshold; in-place use; dropout's keep rate, scaling and determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/rng.h"
#include "kernels/elementwise.h"

/* For checks inside element loops: Check records every passing ck_assert
 * (one pipe write each), so loops call into Check only on failure. */
#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) ck_abort_msg(__VA_ARGS__); \
  } while (0)

static const int64_t counts[] = {1, 3, 7, 8, 9, 16, 17, 33, 100003};
static const int64_t channel_counts[] = {1, 3, 7, 8, 9, 16, 17, 33, 300};

static float *fill(size_t n, pni_rng *r, double lo, double hi) {
  float *v = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * pni_rng_uniform(r));
  return v;
}

static double ref_relu6(double v) {
  return v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v);
}

START_TEST(relu6_forward_backward) {
  for (size_t a = 0; a < sizeof counts / sizeof counts[0]; a++) {
    for (int32_t t = 1; t <= 2; t++) {
      const int64_t n = counts[a];
      pni_rng r;
      pni_rng_seed(&r, (uint64_t)n);
      float *x = fill((size_t)n, &r, -3.0, 9.0), *dy = fill((size_t)n, &r, -1.0, 1.0);
      /* The kinks themselves: the gradient is 0 at exactly 0 and 6. */
      x[0] = 0.0f;
      if (n > 1) x[1] = 6.0f;
      float *y = malloc(sizeof(float) * (size_t)n), *dx = malloc(sizeof(float) * (size_t)n);
      pni_relu6_forward(t, n, x, y);
      pni_relu6_backward(t, n, y, dy, dx);
      for (int64_t i = 0; i < n; i++) {
        EXPECT(y[i] == (float)ref_relu6(x[i]), "relu6 n=%ld [%ld]", (long)n, (long)i);
        const float want = (x[i] > 0.0f && x[i] < 6.0f) ? dy[i] : 0.0f;
        EXPECT(dx[i] == want, "relu6 grad n=%ld [%ld]", (long)n, (long)i);
      }
      /* In place: y over x, dx over dy. */
      pni_relu6_forward(t, n, x, x);
      ck_assert(memcmp(x, y, sizeof(float) * (size_t)n) == 0);
      pni_relu6_backward(t, n, y, dy, dy);
      ck_assert(memcmp(dy, dx, sizeof(float) * (size_t)n) == 0);
      free(x), free(dy), free(y), free(dx);
    }
  }
}
END_TEST

START_TEST(relu6_passes_nan) {
  const float x[3] = {NAN, -INFINITY, INFINITY};
  float y[3];
  pni_relu6_forward(1, 3, x, y);
  ck_assert(isnan(y[0]));
  ck_assert_float_eq(y[1], 0.0f);
  ck_assert_float_eq(y[2], 6.0f);
}
END_TEST

START_TEST(add_matches_reference) {
  for (size_t a = 0; a < sizeof counts / sizeof counts[0]; a++) {
    for (int32_t t = 1; t <= 2; t++) {
      const int64_t n = counts[a];
      pni_rng r;
      pni_rng_seed(&r, (uint64_t)n + 5);
      float *x = fill((size_t)n, &r, -3.0, 3.0), *b = fill((size_t)n, &r, -3.0, 3.0);
      float *out = malloc(sizeof(float) * (size_t)n);
      pni_add(t, n, x, b, out);
      for (int64_t i = 0; i < n; i++) {
        EXPECT(out[i] == x[i] + b[i], "add n=%ld [%ld]", (long)n, (long)i);
      }
      pni_add(t, n, x, b, b); /* out over b */
      ck_assert(memcmp(out, b, sizeof(float) * (size_t)n) == 0);
      memcpy(out, x, sizeof(float) * (size_t)n);
      pni_add(t, n, x, x, x); /* everything aliased */
      for (int64_t i = 0; i < n; i++) {
        EXPECT(x[i] == 2.0f * out[i], "add in place n=%ld [%ld]", (long)n, (long)i);
      }
      free(x), free(b), free(out);
    }
  }
}
END_TEST

START_TEST(avgpool_forward_backward) {
  const int64_t ns[] = {1, 3, 64}, hws[] = {1, 4, 49};
  for (size_t a = 0; a < 3; a++) {
    for (size_t h = 0; h < 3; h++) {
      for (size_t b = 0; b < sizeof channel_counts / sizeof channel_counts[0]; b++) {
        for (int32_t t = 1; t <= 2; t++) {
          const int64_t n = ns[a], hw = hws[h], c = channel_counts[b];
          pni_rng r;
          pni_rng_seed(&r, (uint64_t)(n * 100 + hw * 10 + c));
          float *x = fill((size_t)(n * hw * c), &r, -2.0, 2.0);
          float *dy = fill((size_t)(n * c), &r, -1.0, 1.0);
          float *y = malloc(sizeof(float) * (size_t)(n * c));
          float *dx = malloc(sizeof(float) * (size_t)(n * hw * c));
          pni_avgpool_forward(t, n, hw, c, x, y);
          pni_avgpool_backward(t, n, hw, c, dy, dx);
          for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < c; j++) {
              double s = 0.0;
              for (int64_t p = 0; p < hw; p++) s += x[(i * hw + p) * c + j];
              EXPECT(fabs(y[i * c + j] - s / (double)hw) <= 1e-6, "pool n=%ld hw=%ld c=%ld",
                     (long)n, (long)hw, (long)c);
              for (int64_t p = 0; p < hw; p++) {
                EXPECT(fabs(dx[(i * hw + p) * c + j] - dy[i * c + j] / (double)hw) <= 1e-7,
                       "pool grad n=%ld hw=%ld c=%ld", (long)n, (long)hw, (long)c);
              }
            }
          }
          free(x), free(dy), free(y), free(dx);
        }
      }
    }
  }
}
END_TEST

START_TEST(avgpool_threads_agree) {
  const int64_t n = 64, hw = 49, c = 300;
  pni_rng r;
  pni_rng_seed(&r, 3);
  float *x = fill((size_t)(n * hw * c), &r, -2.0, 2.0);
  float *y1 = malloc(sizeof(float) * (size_t)(n * c));
  float *y2 = malloc(sizeof(float) * (size_t)(n * c));
  pni_avgpool_forward(1, n, hw, c, x, y1);
  pni_avgpool_forward(2, n, hw, c, x, y2);
  ck_assert(memcmp(y1, y2, sizeof(float) * (size_t)(n * c)) == 0);
  free(x), free(y1), free(y2);
}
END_TEST

START_TEST(dropout_rate_scale_and_mask) {
  const int64_t n = 200000;
  const float ps[] = {0.1f, 0.5f, 0.9f};
  pni_rng r;
  pni_rng_seed(&r, 11);
  float *x = fill((size_t)n, &r, 0.5, 1.5), *y = malloc(sizeof(float) * (size_t)n);
  float *dy = fill((size_t)n, &r, -1.0, 1.0), *dx = malloc(sizeof(float) * (size_t)n);
  uint8_t *mask = malloc((size_t)n), *mask2 = malloc((size_t)n);
  for (size_t k = 0; k < 3; k++) {
    const float p = ps[k];
    const float scale = (float)(1.0 / (1.0 - (double)p));
    pni_rng_seed(&r, 1234);
    pni_dropout_forward(n, p, &r, x, y, mask);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
      EXPECT(mask[i] == 0 || mask[i] == 1, "mask[%ld] = %d", (long)i, mask[i]);
      kept += mask[i];
      EXPECT(y[i] == (mask[i] ? x[i] * scale : 0.0f), "dropout y[%ld]", (long)i);
    }
    /* Binomial(n, 1 - p): five standard deviations. */
    const double want = (1.0 - p) * (double)n, sd = sqrt((double)n * p * (1.0 - p));
    ck_assert_msg(fabs((double)kept - want) < 5.0 * sd, "p=%g kept %ld of %ld", p, (long)kept,
                  (long)n);
    pni_dropout_backward(n, p, mask, dy, dx);
    for (int64_t i = 0; i < n; i++) {
      EXPECT(dx[i] == (mask[i] ? dy[i] * scale : 0.0f), "dropout dx[%ld]", (long)i);
    }
    /* The same stream gives the same mask. */
    pni_rng_seed(&r, 1234);
    pni_dropout_forward(n, p, &r, x, dx, mask2);
    ck_assert(memcmp(mask, mask2, (size_t)n) == 0);
  }
  free(x), free(y), free(dy), free(dx), free(mask), free(mask2);
}
END_TEST

START_TEST(dropout_zero_copies) {
  const float x[5] = {1, -2, 3, -4, 5}, dy[5] = {5, 4, 3, 2, 1};
  float y[5], dx[5];
  uint8_t mask[5];
  pni_rng r;
  pni_rng_seed(&r, 1);
  pni_dropout_forward(5, 0.0f, &r, x, y, mask);
  pni_dropout_backward(5, 0.0f, mask, dy, dx);
  for (int i = 0; i < 5; i++) {
    ck_assert_float_eq(y[i], x[i]);
    ck_assert_int_eq(mask[i], 1);
    ck_assert_float_eq(dx[i], dy[i]);
  }
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("elementwise");
  TCase *tc = tcase_create("elementwise");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, relu6_forward_backward);
  tcase_add_test(tc, relu6_passes_nan);
  tcase_add_test(tc, add_matches_reference);
  tcase_add_test(tc, avgpool_forward_backward);
  tcase_add_test(tc, avgpool_threads_agree);
  tcase_add_test(tc, dropout_rate_scale_and_mask);
  tcase_add_test(tc, dropout_zero_copies);
  suite_add_tcase(s, tc);
  return s;
}
