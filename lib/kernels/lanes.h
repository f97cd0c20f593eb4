/* SPDX-License-Identifier: MIT */
/* Masks of the first lanes of a 16-float vector, for the 512-bit kernels'
 * partial vectors (gemm512.c, gemm_rows.c, gemm_wgrad.c, dwconv.c). */
#ifndef PNI_KERNELS_LANES_H
#define PNI_KERNELS_LANES_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdint.h>

/* Lanes [0, count): all for count >= 16, none for count <= 0. Integer
 * work only, so callable from code built for any target. */
static inline __mmask16 pni_first_lanes(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u);
}
#endif

#endif /* PNI_KERNELS_LANES_H */
