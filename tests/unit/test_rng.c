/* SPDX-License-Identifier: MIT */
/* The context's generator against the published xoshiro256** stream
 * (seeded through splitmix64) and basic distribution checks. */
#include <math.h>

#include "check_main.h"
#include "core/rng.h"

START_TEST(matches_reference_stream) {
  /* Values from an independent implementation of splitmix64 + xoshiro256**
   * (Blackman and Vigna's reference algorithms). */
  pni_rng r;
  pni_rng_seed(&r, 0);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0x99ec5f36cb75f2b4ULL);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0xbf6e1f784956452aULL);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0x1a5f849d4933e6e0ULL);
  pni_rng_seed(&r, 42);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0x15780b2e0c2ec716ULL);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0x6104d9866d113a7eULL);
  ck_assert_uint_eq(pni_rng_next_u64(&r), 0xae17533239e499a1ULL);
}
END_TEST

START_TEST(state_copy_replays_stream) {
  pni_rng a;
  pni_rng_seed(&a, 7);
  for (int i = 0; i < 10; i++) pni_rng_next_u64(&a);
  pni_rng b = a;
  for (int i = 0; i < 100; i++) ck_assert_uint_eq(pni_rng_next_u64(&a), pni_rng_next_u64(&b));
}
END_TEST

START_TEST(uniform_and_below_are_in_range_and_unbiased) {
  pni_rng r;
  pni_rng_seed(&r, 3);
  const int n = 50000;
  double sum = 0.0;
  long counts[7] = {0};
  for (int i = 0; i < n; i++) {
    const double u = pni_rng_uniform(&r);
    ck_assert(u >= 0.0 && u < 1.0);
    sum += u;
    const uint64_t k = pni_rng_below(&r, 7);
    ck_assert_uint_lt(k, 7);
    counts[k]++;
  }
  ck_assert_double_eq_tol(sum / n, 0.5, 0.006);
  for (int k = 0; k < 7; k++) ck_assert_double_eq_tol((double)counts[k] / n, 1.0 / 7, 0.006);
  ck_assert_uint_eq(pni_rng_below(&r, 1), 0);
}
END_TEST

START_TEST(normal_has_unit_moments) {
  pni_rng r;
  pni_rng_seed(&r, 11);
  const int n = 50000;
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < n; i++) {
    const double x = pni_rng_normal(&r);
    ck_assert(isfinite(x));
    sum += x;
    sum_sq += x * x;
  }
  ck_assert_double_eq_tol(sum / n, 0.0, 0.02);
  ck_assert_double_eq_tol(sum_sq / n, 1.0, 0.03);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("xoshiro");
  tcase_add_test(tc, matches_reference_stream);
  tcase_add_test(tc, state_copy_replays_stream);
  tcase_add_test(tc, uniform_and_below_are_in_range_and_unbiased);
  tcase_add_test(tc, normal_has_unit_moments);
  suite_add_tcase(s, tc);
  return s;
}
