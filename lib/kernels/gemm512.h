/* SPDX-License-Identifier: MIT */
/* libpnas's 512-bit single-precision microkernel for BLIS, and the BLIS
 * context that carries it (gemm512.c explains why and when). */
#ifndef PNI_KERNELS_GEMM512_H
#define PNI_KERNELS_GEMM512_H

#include <stdint.h>

#include "kernels/gemm.h"

/* Built where blis.h has BLIS 0.9's context layout (lib/meson.build
 * defines PNI_BLIS_CNTX_V09) and the compiler can target AVX-512. */
#if defined(PNI_BLIS_CNTX_V09) && defined(__x86_64__) && defined(__GNUC__)
#define PNI_GEMM512_BUILT 1
#else
#define PNI_GEMM512_BUILT 0
#endif

/* The block of C that one call computes. */
#define PNI_GEMM512_MR 12
#define PNI_GEMM512_NR 32

/* Whether libpnas puts its microkernel in BLIS on `cpu`, with BLIS
 * reporting `blis_version` (bli_info_get_version_str) and user_chose set
 * when BLIS_ARCH_TYPE names BLIS's kernels. Pure. */
int pni_gemm512_wanted(const pni_cpu_info *cpu, const char *blis_version, int user_chose);

/* Whether an m x n x k product runs faster with the microkernel than with
 * BLIS's 256-bit kernels (measured; gemm512.c). Pure. */
int pni_gemm512_fits(int64_t m, int64_t n, int64_t k);

/* The BLIS context (a cntx_t *) to pass with an m x n x k product, or NULL
 * for BLIS's own. Builds the context on first use; thread-safe. */
void *pni_gemm512_context(int64_t m, int64_t n, int64_t k);

/* Whether products that fit run with the microkernel in this process. */
int pni_gemm512_active(void);

/* For tests: allow (1) or forbid (0) the microkernel; returns the previous
 * setting. Not thread-safe against running products. */
int pni_gemm512_allow(int allow);

#if PNI_GEMM512_BUILT
/* C[i * rs_c + j * cs_c] = beta C + alpha sum_p a[p * 12 + i] b[p * 32 + j]
 * for i < min(m, 12), j < min(n, 32): BLIS's packed micro-panels of A
 * (12 rows) and B (32 columns). C is not read when beta is 0. Needs
 * AVX-512F; exposed for the tests. */
void pni_sgemm512_ukr(int64_t m, int64_t n, int64_t k, float alpha, const float *a, const float *b,
                      float beta, float *c, int64_t rs_c, int64_t cs_c);
#endif

#endif /* PNI_KERNELS_GEMM512_H */
