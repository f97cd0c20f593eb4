/* SPDX-License-Identifier: MIT */
/* The context's random number generator: xoshiro256** seeded by splitmix64.
 * Fast, 256 bits of state that a checkpoint can save and restore exactly. */
#ifndef PNI_CORE_RNG_H
#define PNI_CORE_RNG_H

#include <stdint.h>

typedef struct pni_rng {
  uint64_t s[4];
} pni_rng;

void pni_rng_seed(pni_rng *rng, uint64_t seed);
uint64_t pni_rng_next_u64(pni_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double pni_rng_uniform(pni_rng *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t pni_rng_below(pni_rng *rng, uint64_t n);
/* Standard normal (Box-Muller; one draw per call, no cached second value so
 * the state alone determines the stream). */
double pni_rng_normal(pni_rng *rng);

#endif /* PNI_CORE_RNG_H */
