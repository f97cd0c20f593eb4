/* SPDX-License-Identifier: MIT */
/* A 512-bit microkernel for BLIS, on processors whose BLIS has none.
 *
 * BLIS 0.9 (Debian 12) runs a Zen 5 with its zen3 kernels, 256 bits wide,
 * because it does not know the family (blis_arch.c). Zen 5 executes 512-bit
 * FMAs at full width, so those kernels reach at most half the machine's
 * peak. BLIS is built to take a microkernel from outside: its expert
 * interface (bli_sgemm_ex) accepts a context, the table of kernels and
 * block sizes that its five loops, packing and threading use. libpnas
 * copies the context BLIS runs, puts its own single-precision microkernel
 * and block sizes in the copy, and passes the copy with the products that
 * gain from it (pni_gemm512_fits). BLIS still does everything around the
 * microkernel.
 *
 * The microkernel computes a 12 x 32 block of C: 24 zmm accumulators, two
 * loads of the packed B row and twelve broadcasts of the packed A column
 * per step of k, so the loads stay below half the FMA rate. Measured with
 * bench-gemm on one Zen 5 thread (docs/performance.md): 200-230 GFLOP/s
 * on the supernet's larger 1x1 products against 120-130 for zen3. The
 * narrow products (m < 32, n < 64, k < 16, or a fifth of the last 32
 * columns padding) stay with BLIS's own kernels, which are faster there.
 *
 * The context is BLIS 0.9's struct; the build enables this file's work
 * only when blis.h has that layout (PNI_BLIS_CNTX_V09, lib/meson.build) and
 * the running BLIS reports version 0.9. */
#include "kernels/gemm512.h"

#include <blis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/lanes.h"

/* Block sizes of the five loops, measured on Zen 5 (kc 128-384 and mc
 * 120-960 were within the noise of these): the KC x 32 micro-panel of B
 * (32 KiB) stays in the 48 KiB L1, the MC x KC block of A (480 KiB) in the
 * 1 MiB L2. */
#define PNI_GEMM512_MC 480
#define PNI_GEMM512_KC 256
#define PNI_GEMM512_NC 3072

int pni_gemm512_wanted(const pni_cpu_info *cpu, const char *blis_version, int user_chose) {
  if (cpu == NULL || blis_version == NULL || user_chose) return 0;
  /* The context layout this file writes is BLIS 0.9's. */
  if (strncmp(blis_version, "0.9.", 4) != 0) return 0;
  /* Measured only on Zen 5, whose FMA units are 512 bits wide. Zen 4
   * splits 512-bit operations in two, so it gains nothing certain; Intel
   * processors with AVX-512 get BLIS's own skx kernels. */
  return cpu->is_amd && cpu->family >= 0x1a && cpu->has_avx512f;
}

int pni_gemm512_fits(int64_t m, int64_t n, int64_t k) {
  /* Below these, the 12 x 32 blocks are mostly padding or the packing
   * outweighs the product (bench-gemm shapes 50176 x 8 x 48, wgrad of
   * 24 x 144, 784 x 16 x 48: zen3's kernels 1.1x-3x faster). */
  if (m < 32 || n < 64 || k < 16) return 0;
  /* Columns run in blocks of 32: where a fifth or more of the last ones
   * would be padding (n = 72: 96 computed), the step measured slower
   * (12544 x 72 x 24 in the supernet: 94 against 110 GFLOP/s). */
  const int64_t padded = (n + PNI_GEMM512_NR - 1) / PNI_GEMM512_NR * PNI_GEMM512_NR;
  return 5 * n >= 4 * padded;
}

#if PNI_GEMM512_BUILT

#define AVX512 __attribute__((target("avx512f")))

/* One row of the 12 x 32 block: two accumulators. */
#define ROW_DECLARE(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps()
#define ROW_STEP(i)                             \
  do {                                          \
    const __m512 ai = _mm512_set1_ps(a[i]);     \
    c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a); \
    c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b); \
  } while (0)
#define ROW_SAVE(i)    \
  acc[i][0] = c##i##a; \
  acc[i][1] = c##i##b

/* C = beta C + alpha A B for the packed micro-panels a (k columns of 12)
 * and b (k rows of 32). Rows past m and columns past n are computed and
 * not stored; C is never read when beta is zero (BLIS's contract: it may
 * hold anything). */
AVX512 void pni_sgemm512_ukr(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                             const float *b, float beta, float *c, int64_t rs_c, int64_t cs_c) {
  /* C's block is read (beta != 0) or written only after the k loop: asking
   * for its lines now hides the misses behind the FMAs. */
  if (cs_c == 1) {
    for (int i = 0; i < PNI_GEMM512_MR; i++) {
      _mm_prefetch((const char *)(c + i * rs_c), _MM_HINT_T0);
      _mm_prefetch((const char *)(c + i * rs_c + 16), _MM_HINT_T0);
    }
  }
  ROW_DECLARE(0);
  ROW_DECLARE(1);
  ROW_DECLARE(2);
  ROW_DECLARE(3);
  ROW_DECLARE(4);
  ROW_DECLARE(5);
  ROW_DECLARE(6);
  ROW_DECLARE(7);
  ROW_DECLARE(8);
  ROW_DECLARE(9);
  ROW_DECLARE(10);
  ROW_DECLARE(11);
  for (int64_t p = 0; p < k; p++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    ROW_STEP(0);
    ROW_STEP(1);
    ROW_STEP(2);
    ROW_STEP(3);
    ROW_STEP(4);
    ROW_STEP(5);
    ROW_STEP(6);
    ROW_STEP(7);
    ROW_STEP(8);
    ROW_STEP(9);
    ROW_STEP(10);
    ROW_STEP(11);
    a += PNI_GEMM512_MR;
    b += PNI_GEMM512_NR;
  }
  __m512 acc[PNI_GEMM512_MR][2];
  ROW_SAVE(0);
  ROW_SAVE(1);
  ROW_SAVE(2);
  ROW_SAVE(3);
  ROW_SAVE(4);
  ROW_SAVE(5);
  ROW_SAVE(6);
  ROW_SAVE(7);
  ROW_SAVE(8);
  ROW_SAVE(9);
  ROW_SAVE(10);
  ROW_SAVE(11);
  if (m > PNI_GEMM512_MR) m = PNI_GEMM512_MR;
  if (n > PNI_GEMM512_NR) n = PNI_GEMM512_NR;
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (cs_c == 1) {
    /* Rows of C are contiguous: masked stores cover a partial width. */
    const __mmask16 m0 = pni_first_lanes(n), m1 = pni_first_lanes(n - 16);
    for (int64_t i = 0; i < m; i++) {
      float *row = c + i * rs_c;
      __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
      if (beta != 0.0f) {
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
      }
      _mm512_mask_storeu_ps(row, m0, r0);
      _mm512_mask_storeu_ps(row + 16, m1, r1);
    }
    return;
  }
  float tile[PNI_GEMM512_MR][PNI_GEMM512_NR];
  for (int i = 0; i < PNI_GEMM512_MR; i++) {
    _mm512_storeu_ps(tile[i], acc[i][0]);
    _mm512_storeu_ps(tile[i] + 16, acc[i][1]);
  }
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      float *cij = c + i * rs_c + j * cs_c;
      *cij = beta == 0.0f ? alpha * tile[i][j] : beta * *cij + alpha * tile[i][j];
    }
  }
}

/* BLIS 0.9's microkernel signature around pni_sgemm512_ukr. */
static void blis_ukr(dim_t m, dim_t n, dim_t k, float *restrict alpha, float *restrict a,
                     float *restrict b, float *restrict beta, float *restrict c, inc_t rs_c,
                     inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx) {
  (void)data;
  (void)cntx;
  pni_sgemm512_ukr(m, n, k, *alpha, a, b, *beta, c, rs_c, cs_c);
}

static void set_blocksize(cntx_t *cntx, bszid_t id, dim_t value) {
  bli_blksz_set_def(value, BLIS_FLOAT, &cntx->blkszs[id]);
  bli_blksz_set_max(value, BLIS_FLOAT, &cntx->blkszs[id]);
}

static struct {
  pthread_once_t once;
  int allowed; /* pni_gemm512_allow */
  int built;
  cntx_t cntx;
} state = {.once = PTHREAD_ONCE_INIT, .allowed = 1};

static void build_once(void) {
  pni_blis_choose_arch();
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  if (!pni_gemm512_wanted(&cpu, bli_info_get_version_str(), pni_blis_user_chose())) return;
  /* Everything but single precision's microkernel and block sizes stays
   * as BLIS set it for the processor. */
  state.cntx = *bli_gks_query_cntx();
  cntx_t *x = &state.cntx;
  /* BLIS stores kernels as void *; POSIX makes a function pointer fit one
   * (as dlsym does), ISO C only through the bytes. */
  void (*ukr)(dim_t, dim_t, dim_t, float *restrict, float *restrict, float *restrict,
              float *restrict, float *restrict, inc_t, inc_t, auxinfo_t *restrict,
              cntx_t *restrict) = blis_ukr;
  void_fp entry;
  _Static_assert(sizeof entry == sizeof ukr, "a function pointer fits BLIS's void *");
  memcpy(&entry, &ukr, sizeof entry);
  bli_func_set_dt(entry, BLIS_FLOAT, &x->l3_nat_ukrs[BLIS_GEMM_UKR]);
  bli_func_set_dt(entry, BLIS_FLOAT, &x->l3_vir_ukrs[BLIS_GEMM_UKR]);
  /* Row-preferring: C's rows are the vectors, as in libpnas's row-major
   * products, so BLIS never transposes one to suit the kernel. */
  x->l3_nat_ukrs_prefs[BLIS_GEMM_UKR].v[BLIS_FLOAT] = true;
  set_blocksize(x, BLIS_MR, PNI_GEMM512_MR);
  set_blocksize(x, BLIS_NR, PNI_GEMM512_NR);
  set_blocksize(x, BLIS_MC, PNI_GEMM512_MC);
  set_blocksize(x, BLIS_KC, PNI_GEMM512_KC);
  set_blocksize(x, BLIS_NC, PNI_GEMM512_NC);
  /* No threshold is met, so BLIS never sends these products to its
   * small-matrix path, which would run the 256-bit kernels again. */
  for (int t = 0; t < BLIS_NUM_THRESH; t++) {
    bli_blksz_set_def(0, BLIS_FLOAT, &x->l3_sup_thresh[t]);
  }
  state.built = 1;
}

int pni_gemm512_active(void) {
  pthread_once(&state.once, build_once);
  return state.built && state.allowed;
}

void *pni_gemm512_context(int64_t m, int64_t n, int64_t k) {
  return pni_gemm512_active() && pni_gemm512_fits(m, n, k) ? &state.cntx : NULL;
}

int pni_gemm512_allow(int allow) {
  const int before = state.allowed;
  state.allowed = allow != 0;
  return before;
}

#else /* !PNI_GEMM512_BUILT */

void *pni_gemm512_context(int64_t m, int64_t n, int64_t k) {
  (void)m, (void)n, (void)k;
  return NULL;
}

int pni_gemm512_active(void) {
  return 0;
}

int pni_gemm512_allow(int allow) {
  (void)allow;
  return 0;
}

#endif
