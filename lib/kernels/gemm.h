/* SPDX-License-Identifier: MIT */
/* The one entry point to BLIS. Every matrix product in libpnas goes
 * through pni_sgemm, so that threads and strides are handled in one place. */
#ifndef PNI_KERNELS_GEMM_H
#define PNI_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Row-major single-precision GEMM:
 *   C[m x n] = alpha * op(A) * op(B) + beta * C
 * op(A) is m x k: A is stored m x k with row stride lda, or, when trans_a is
 * set, k x m (so A^T is used without being materialised). Likewise op(B) is
 * k x n. ldc is C's row stride. threads >= 1 is passed to BLIS for this call
 * only; no global BLIS state is changed. */
void pni_sgemm(int32_t threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
               float beta, float *c, int64_t ldc);

/* Writes "<BLIS version> (<sub-configuration>)" into buf. */
void pni_blis_describe(char *buf, size_t cap);

#endif /* PNI_KERNELS_GEMM_H */
