/* SPDX-License-Identifier: MIT */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void pni_rng_seed(pni_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t pni_rng_next_u64(pni_rng *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double pni_rng_uniform(pni_rng *rng) {
  return (double)(pni_rng_next_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t pni_rng_below(pni_rng *rng, uint64_t n) {
  /* Reject the top partial block so that every residue is equally likely. */
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = pni_rng_next_u64(rng);
  } while (x >= limit);
  return x % n;
}

double pni_rng_normal(pni_rng *rng) {
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = pni_rng_uniform(rng);
  const double u2 = pni_rng_uniform(rng);
  if (u1 < 0x1.0p-60) u1 = 0x1.0p-60; /* keep log() finite */
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}
