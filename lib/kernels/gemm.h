/* SPDX-License-Identifier: MIT */
/* The one entry point to BLIS. Every matrix product in libpnas goes
 * through pni_sgemm, so that threads and strides are handled in one place. */
#ifndef PNI_KERNELS_GEMM_H
#define PNI_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Products smaller than this many multiply-adds run on one thread (BLIS's
 * and libpnas's own kernels alike): waking a team costs more than it
 * saves. */
#define PNI_GEMM_SERIAL_MACS ((int64_t)1 << 18)

/* Row-major single-precision GEMM:
 *   C[m x n] = alpha * op(A) * op(B) + beta * C
 * op(A) is m x k: A is stored m x k with row stride lda, or, when trans_a is
 * set, k x m (so A^T is used without being materialised). Likewise op(B) is
 * k x n. ldc is C's row stride. threads >= 1 is passed to BLIS for this call
 * only; no global BLIS state is changed. */
void pni_sgemm(int32_t threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc);

/* What the CPU is, as far as choosing BLIS's kernels is concerned. */
typedef struct pni_cpu_info {
  int is_amd;       /* vendor "AuthenticAMD" */
  unsigned family;  /* display family: base + extended when base is 0xf */
  int has_avx2_fma; /* AVX2 and FMA, with the OS saving the AVX state */
  int has_avx512f;  /* AVX-512F, with the OS saving the AVX-512 state */
} pni_cpu_info;

/* Fills *out for the running CPU (all zero off x86-64). */
void pni_cpu_query(pni_cpu_info *out);

/* The BLIS sub-configuration (an arch_t value) that libpnas asks for on
 * `cpu` with BLIS of major version blis_major, or -1 to leave BLIS's own
 * choice. user_chose: BLIS_ARCH_TYPE is set, which always wins. Pure. */
int pni_blis_arch_hint(const pni_cpu_info *cpu, int blis_major, int user_chose);

/* Makes BLIS choose its kernels, with libpnas's hint where one applies
 * (blis_arch.c explains when). Once per process, thread-safe; pni_sgemm
 * calls it. */
void pni_blis_choose_arch(void);

/* Whether BLIS_ARCH_TYPE was set when BLIS chose its kernels: then BLIS
 * runs exactly what the user named, and libpnas adds nothing. */
int pni_blis_user_chose(void);

/* Writes "<BLIS version> (<sub-configuration>[, why])[ + libpnas's 512-bit
 * microkernel ...]" into buf. */
void pni_blis_describe(char *buf, size_t cap);

/* The name of the sub-configuration BLIS runs, such as "zen3". */
const char *pni_blis_arch_name(void);

#endif /* PNI_KERNELS_GEMM_H */
