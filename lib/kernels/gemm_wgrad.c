/* SPDX-License-Identifier: MIT */
/* The 1x1 convolution's weight gradient, dw[cin x cout] (+)= x^T dy over
 * every row, on libpnas's own kernel where the row kernels run
 * (gemm_rows.h, pni_gemm_rows_tn).
 *
 * Why: BLIS packs x^T, a transposed read of the whole activation, and runs
 * its 256-bit kernels for the narrow gradients (8 to 24 input channels).
 * Here a 12 x 32 block of dw lives in 24 zmm accumulators while a chunk of
 * rows streams past: per row, twelve broadcasts from x's row (contiguous
 * floats) and two loads of dy's row. The rows go in chunks of KC, every
 * block of dw taking the chunk while it is in L2 (x's and dy's rows of a
 * chunk: at most 2 MiB at n = 1024), and each block adds the chunk's sum
 * to dw in chunk order.
 *
 * The bits: dw[i][j] = (...((c0 + s_0) + s_1) + ...) where c0 is dw (or 0)
 * and s_t is chunk t's sum, accumulated with one FMA per row in increasing
 * row order from zero. The chunks are fixed (KC rows), the blocks are
 * split between threads whole, so the bits do not depend on the threads. */
#include "kernels/gemm.h"
#include "kernels/gemm_rows.h"
#include "kernels/lanes.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define WGRAD_BUILT 1
#include <immintrin.h>
#else
#define WGRAD_BUILT 0
#endif

/* Rows per chunk: measured on Zen 5 (128-512 within a few per cent). */
#define KC 256
#define MR 12
#define NR 32

int pni_gemm_rows_tn_fits(int64_t m, int64_t n) {
  return pni_gemm_rows_active() && m >= 1 && m <= PNI_GEMM_ROWS_NMAX && n >= 1 &&
         n <= PNI_GEMM_ROWS_NMAX;
}

#if WGRAD_BUILT

#define AVX512 __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

/* Block (i0, j0) of c += a[p0 .. p0 + kc)^T b[p0 .. p0 + kc): rows i of the
 * block past `valid` read row valid - 1 again and are not stored (so
 * nothing past a row of a is read). first: c is not read (zero start). nv
 * and full (valid == MR) are constants where this is inlined. */
AVX512 INLINE void block_tn(int nv, int full, const float *a, int64_t m, const float *b, int64_t n,
                            int64_t kc, int64_t i0, int64_t j0, int64_t valid, int first,
                            float *c) {
  const __mmask16 m0 = pni_first_lanes(n - j0), m1 = pni_first_lanes(n - j0 - 16);
  int64_t at[MR];
  for (int i = 0; i < MR; i++) at[i] = i0 + (full || i < valid ? i : valid - 1);
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    acc[i][0] = _mm512_setzero_ps();
    acc[i][1] = _mm512_setzero_ps();
  }
  const float *ap = a, *bp = b + j0;
  for (int64_t p = 0; p < kc; p++, ap += m, bp += n) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
    const __m512 b1 = nv == 2 ? _mm512_maskz_loadu_ps(m1, bp + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(ap[full ? i0 + i : at[i]]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      if (nv == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    if (i >= valid) break;
    float *row = c + (i0 + i) * n + j0;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (!first) {
      r0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), r0);
      if (nv == 2) r1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    if (nv == 2) _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

#define BLOCK(name, nv, full)                                                                      \
  AVX512 __attribute__((noinline)) static void name(const float *a, int64_t m, const float *b,     \
                                                    int64_t n, int64_t kc, int64_t i0, int64_t j0, \
                                                    int64_t valid, int first, float *c) {          \
    block_tn(nv, full, a, m, b, n, kc, i0, j0, valid, first, c);                                   \
  }
BLOCK(block2_full, 2, 1)
BLOCK(block1_full, 1, 1)
BLOCK(block2_part, 2, 0)
BLOCK(block1_part, 1, 0)

/* Blocks [t0, t1) of the (i-block, j-panel) grid, row-major, over every
 * chunk of rows in order. */
AVX512 static void blocks_tn(int64_t m, int64_t k, int64_t n, const float *a, const float *b,
                             int accumulate, int64_t t0, int64_t t1, float *c) {
  const int64_t panels = (n + NR - 1) / NR;
  for (int64_t p0 = 0; p0 < k; p0 += KC) {
    const int64_t kc = k - p0 < KC ? k - p0 : KC;
    const int first = p0 == 0 && !accumulate;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t i0 = t / panels * MR, j0 = t % panels * NR;
      const int64_t valid = m - i0 < MR ? m - i0 : MR;
      const int two = n - j0 > 16;
      const float *ap = a + p0 * m, *bp = b + p0 * n;
      if (valid == MR) {
        (two ? block2_full : block1_full)(ap, m, bp, n, kc, i0, j0, valid, first, c);
      } else {
        (two ? block2_part : block1_part)(ap, m, bp, n, kc, i0, j0, valid, first, c);
      }
    }
  }
}

static void run_tn(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a, const float *b,
                   int accumulate, float *c) {
  const int64_t count = (m + MR - 1) / MR * ((n + NR - 1) / NR);
  const double macs = (double)m * (double)k * (double)n;
  const int team =
      threads > 1 && count > 1 && macs >= (double)PNI_GEMM_SERIAL_MACS ? (int)threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    int t = 0, size = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    size = omp_get_num_threads();
#endif
    blocks_tn(m, k, n, a, b, accumulate, count * t / size, count * (t + 1) / size, c);
  }
}

#else /* !WGRAD_BUILT */

static void run_tn(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a, const float *b,
                   int accumulate, float *c) {
  (void)threads, (void)m, (void)k, (void)n, (void)a, (void)b, (void)accumulate, (void)c;
}

#endif

void pni_gemm_rows_tn(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a,
                      const float *b, int accumulate, float *c) {
  if (!pni_gemm_rows_tn_fits(m, n)) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m * n; i++) c[i] = 0.0f;
    }
    return;
  }
  run_tn(threads, m, k, n, a, b, accumulate, c);
}
