/* SPDX-License-Identifier: MIT */
/* Row-major products with a short reduction, plain or with batch norm in
 * the epilogue (gemm_rows.h).
 *
 * Why: at the shapes of the Fashion-MNIST networks' 1x1 convolutions
 * (50176 rows of 8-24 channels at 28x28, 3136 rows of 40-576 at 7x7, batch
 * 64) BLIS packs the whole of A for a product of a few multiply-adds per
 * element and runs its 256-bit kernels for the narrow ones. In evaluation a
 * separate pass of batch norm, ReLU6 and the residual then read and wrote
 * the output again: together 62% of a batch-64 inference of the searched
 * network on one Zen 5 thread. Here a 12-row block of A is read where it
 * lies (for the stem, through a table of tap offsets into zero-padded
 * input rows: no column matrix), each panel of 32 output columns is
 * computed in 24 zmm accumulators against the weights read where they lie
 * (k x n floats, at most 4 MiB, mostly in L2), and the block is stored once,
 * with batch norm applied first when asked. A network's head in
 * evaluation goes one step further: its blocks go to a buffer in L1 and
 * straight into the global average pool's sums, so the head's output is
 * never written. bench-gemm-rows and bench-gemm measure these uses against
 * BLIS.
 *
 * The bits: each output is sum_p a[p] b[p] accumulated with one fused
 * multiply-add per p in increasing p from zero, then, with batch norm,
 * affine_rows_fused's expression, (z - mean) * scale + shift with separate
 * roundings (ISO C does not contract it), the same clamp and the same add.
 * The order does not depend on the threads or the row block. It is also
 * the order of BLIS's main kernels and of libpnas's own when k fits one
 * pass of their reduction loop (k <= 256), so on most of the networks'
 * products BLIS gives the same bits; BLIS's kernels for a few rows or odd
 * widths, and its passes over k > 256, sum in other orders and differ by
 * rounding. The suite gemm-rows checks both against a scalar reference of
 * this order.
 *
 * Where: processors with AVX-512F of the family the kernels were measured
 * on (Zen 5, where 512-bit FMAs run at full width); everywhere else BLIS
 * and the separate passes run. */
#include "kernels/gemm_rows.h"

#include <pthread.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/lanes.h"
#include "kernels/norm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define GEMM_ROWS_BUILT 1
#include <immintrin.h>
#else
#define GEMM_ROWS_BUILT 0
#endif

/* Rows per block, and columns per panel (two zmm). */
#define MR 12
#define NR 32

static struct {
  pthread_once_t once;
  int allowed; /* pni_gemm_rows_allow */
  int supported;
} state = {.once = PTHREAD_ONCE_INIT, .allowed = 1};

static void query_once(void) {
  pni_cpu_info cpu;
  pni_cpu_query(&cpu);
  /* As for gemm512.c: measured on Zen 5 only. Zen 4 splits 512-bit
   * operations in two and Intel's AVX-512 parts lower their clock. */
  state.supported = GEMM_ROWS_BUILT && cpu.is_amd && cpu.family >= 0x1a && cpu.has_avx512f;
}

int pni_gemm_rows_active(void) {
  pthread_once(&state.once, query_once);
  return state.supported && state.allowed;
}

int pni_gemm_rows_allow(int allow) {
  const int before = state.allowed;
  state.allowed = allow != 0;
  return before;
}

int pni_gemm_rows_fits(int64_t k, int64_t n) {
  return pni_gemm_rows_active() && k >= 1 && k <= PNI_GEMM_ROWS_KMAX && n >= 1 &&
         n <= PNI_GEMM_ROWS_NMAX;
}

/* Floats per zero-padded input row of the stem kernel: the padded image
 * row, or as far as the last row block of an output row reads (its unused
 * rows read zeros), plus a vector of slack. */
static int64_t padded_row_floats(const pni_conv_shape *s) {
  const int64_t blocks_per_row = (s->out_w + MR - 1) / MR;
  const int64_t image = (s->w + 2 * s->pad) * s->cin;
  const int64_t reach = ((blocks_per_row * MR - 1) * s->stride + s->k) * s->cin;
  return (image > reach ? image : reach) + 16;
}

int pni_conv_bn_fits(const pni_conv_shape *s) {
  return s != NULL && pni_gemm_rows_fits(s->k * s->k * s->cin, s->cout) &&
         s->k * padded_row_floats(s) <= PNI_GEMM_ROWS_PAD_FLOATS;
}

#if GEMM_ROWS_BUILT

#define AVX512 __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

/* Zeros in floats [0, count) of d. */
AVX512 INLINE void zero_floats(float *d, int64_t count) {
  for (int64_t c0 = 0; c0 < count; c0 += 16) {
    _mm512_mask_storeu_ps(d + c0, pni_first_lanes(count - c0), _mm512_setzero_ps());
  }
}

/* The epilogue's per-column constants for columns [j0, j0 + 16): lanes
 * past n hold zeros and are never stored. */
typedef struct columns {
  __m512 mean, scale, shift;
  __mmask16 mask;
} columns;

AVX512 INLINE columns load_columns(const pni_bn_eval *bn, const float *scale, int64_t j0,
                                   int64_t n) {
  const __mmask16 m = pni_first_lanes(n - j0);
  return (columns){_mm512_maskz_loadu_ps(m, bn->running_mean + j0),
                   _mm512_maskz_loadu_ps(m, scale + j0), _mm512_maskz_loadu_ps(m, bn->beta + j0),
                   m};
}

/* affine_rows_fused on one vector: the same operations in the same order. */
AVX512 INLINE __m512 epilogue(__m512 z, const columns *c, int relu6, const float *residual) {
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(z, c->mean), c->scale), c->shift);
  if (relu6) {
    /* v < 0 ? 0 : (v > 6 ? 6 : v) exactly, NaN and -0 kept: vmaxps(a, b)
     * is a > b ? a : b and vminps(a, b) a < b ? a : b, so max(0, min(6, v))
     * returns v whenever a comparison is false (GCC keeps the operands'
     * order without -ffinite-math-only). Two operations for four. */
    v = _mm512_max_ps(_mm512_setzero_ps(), _mm512_min_ps(_mm512_set1_ps(6.0f), v));
  }
  if (residual != NULL) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(c->mask, residual));
  return v;
}

/* One row block's A: element (i, p) is a[i * lda + (off ? off[p] : p)].
 * A 1x1 reads its rows where they lie (off NULL); the stem reads the
 * zero-padded input rows through a table of its taps' offsets. */
typedef struct block_a {
  const float *a;
  int64_t lda, k;
  const int32_t *off;
} block_a;

/* Rows [0, valid) of one block, output columns [j0, j0 + 16 * nv) (the
 * last vector masked at n), written to y from row r0 (row stride n); w's
 * rows at stride n. nv and whether A has a table are constants where this
 * is inlined, and the loops unroll to 12 * nv accumulators in registers. */
AVX512 INLINE void panel(int nv, int indexed, const block_a *A, const float *w, int64_t n,
                         int64_t j0, const pni_bn_eval *bn, const float *scale, int64_t r0,
                         int64_t valid, float *y) {
  const __mmask16 m0 = pni_first_lanes(n - j0), m1 = pni_first_lanes(n - j0 - 16);
  const float *a = A->a;
  const int64_t lda = A->lda, k = A->k;
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    acc[i][0] = _mm512_setzero_ps();
    acc[i][1] = _mm512_setzero_ps();
  }
  const float *wp = w + j0;
  for (int64_t p = 0; p < k; p++, wp += n) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, wp);
    const __m512 b1 = nv == 2 ? _mm512_maskz_loadu_ps(m1, wp + 16) : _mm512_setzero_ps();
    const float *ap = a + (indexed ? A->off[p] : p);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(ap[i * lda]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      if (nv == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  if (bn == NULL) { /* the plain product */
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      if (i >= valid) break;
      const int64_t row = (r0 + i) * n + j0;
      _mm512_mask_storeu_ps(y + row, m0, acc[i][0]);
      if (nv == 2) _mm512_mask_storeu_ps(y + row + 16, m1, acc[i][1]);
    }
    return;
  }
  const columns c0 = load_columns(bn, scale, j0, n);
  const columns c1 = nv == 2 ? load_columns(bn, scale, j0 + 16, n) : c0;
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    if (i >= valid) break;
    const int64_t row = (r0 + i) * n + j0;
    const float *res = bn->residual != NULL ? bn->residual + row : NULL;
    _mm512_mask_storeu_ps(y + row, c0.mask, epilogue(acc[i][0], &c0, bn->relu6, res));
    if (nv == 2) {
      _mm512_mask_storeu_ps(y + row + 16, c1.mask,
                            epilogue(acc[i][1], &c1, bn->relu6, res != NULL ? res + 16 : NULL));
    }
  }
}

#define PANEL(name, nv, indexed)                                                      \
  AVX512 __attribute__((noinline)) static void name(                                  \
      const block_a *A, const float *w, int64_t n, int64_t j0, const pni_bn_eval *bn, \
      const float *scale, int64_t r0, int64_t valid, float *y) {                      \
    panel(nv, indexed, A, w, n, j0, bn, scale, r0, valid, y);                         \
  }
PANEL(panel2, 2, 0)
PANEL(panel1, 1, 0)
PANEL(panel2_indexed, 2, 1)
PANEL(panel1_indexed, 1, 1)

/* Every panel of one row block, while its rows of A are in L1: panels of
 * 32 columns, and one of 16 or fewer for the remainder. */
AVX512 static void row_block(const block_a *A, const float *w, int64_t n, const pni_bn_eval *bn,
                             const float *scale, int64_t r0, int64_t valid, float *y) {
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int two = n - j0 > 16;
    if (A->off == NULL) {
      (two ? panel2 : panel1)(A, w, n, j0, bn, scale, r0, valid, y);
    } else {
      (two ? panel2_indexed : panel1_indexed)(A, w, n, j0, bn, scale, r0, valid, y);
    }
  }
}

/* The global average pool after a 1x1 (pni_conv1x1_forward_bn_pool): each
 * block's outputs go to `rows` (MR x n, in L1) and are added, row by row
 * in order, to one image's double sums, as pni_avgpool_forward adds them. */
typedef struct pool_sink {
  int64_t hw;  /* rows per image */
  float *rows; /* MR x n */
  double *sum; /* n */
  float *pooled;
} pool_sink;

AVX512 static void pool_rows(pool_sink *p, int64_t r0, int64_t valid, int64_t n) {
  const double inv_hw = 1.0 / (double)p->hw;
  for (int64_t i = 0; i < valid; i++) {
    const int64_t r = r0 + i, pos = r % p->hw;
    const float *v = p->rows + i * n;
    if (pos == 0) {
      for (int64_t j = 0; j < n; j++) p->sum[j] = 0.0;
    }
    for (int64_t j = 0; j < n; j++) p->sum[j] += (double)v[j];
    if (pos == p->hw - 1) {
      float *out = p->pooled + r / p->hw * n;
      for (int64_t j = 0; j < n; j++) out[j] = (float)(p->sum[j] * inv_hw);
    }
  }
}

/* 1x1: rows [r_begin, r_end) of x (rows x k), in blocks of MR from
 * r_begin. A last, partial block is copied to a buffer with zero rows after
 * it, so nothing past x is read. With pool, the outputs are pooled instead
 * of stored in y. */
AVX512 static void blocks_1x1(const float *x, int64_t r_begin, int64_t r_end, int64_t k,
                              const float *w, int64_t n, const pni_bn_eval *bn, const float *scale,
                              pool_sink *pool, float *y) {
  float buf[MR * PNI_GEMM_ROWS_KMAX] __attribute__((aligned(64)));
  for (int64_t r0 = r_begin; r0 < r_end; r0 += MR) {
    const int64_t valid = r_end - r0 < MR ? r_end - r0 : MR;
    block_a A = {x + r0 * k, k, k, NULL};
    if (valid < MR) {
      memcpy(buf, A.a, sizeof(float) * (size_t)(valid * k));
      zero_floats(buf + valid * k, (MR - valid) * k);
      A.a = buf;
    }
    if (pool != NULL) {
      row_block(&A, w, n, bn, scale, 0, valid, pool->rows);
      pool_rows(pool, r0, valid, n);
    } else {
      row_block(&A, w, n, bn, scale, r0, valid, y);
    }
  }
}

/* The stem: output rows [q0, q1) (q = image * out_h + oy). For each, the k
 * input rows under it are copied zero-padded into rows (row stride
 * `stride`, zero where a row lies outside the image); then output pixel ox
 * reads its tap (ky, kx, ci) at rows[ky * stride + (ox * s->stride + kx) *
 * cin + ci]: row blocks of 12 pixels with row stride s->stride * cin and
 * one offset table. */
AVX512 static void rows_conv(const pni_conv_shape *s, const float *x, int64_t q0, int64_t q1,
                             const float *w, const pni_bn_eval *bn, const float *scale, float *y) {
  float rows[PNI_GEMM_ROWS_PAD_FLOATS] __attribute__((aligned(64)));
  int32_t off[PNI_GEMM_ROWS_KMAX];
  const int64_t k = s->k, cin = s->cin, stride = padded_row_floats(s);
  const int64_t line = s->w * cin, left = s->pad * cin;
  for (int64_t ky = 0, p = 0; ky < k; ky++) {
    for (int64_t t = 0; t < k * cin; t++) off[p++] = (int32_t)(ky * stride + t);
  }
  const block_a base = {rows, s->stride * cin, k * k * cin, off};
  for (int64_t q = q0; q < q1; q++) {
    const int64_t image = q / s->out_h, oy = q % s->out_h;
    for (int64_t ky = 0; ky < k; ky++) {
      float *d = rows + ky * stride;
      const int64_t iy = oy * s->stride - s->pad + ky;
      if (iy < 0 || iy >= s->h) {
        zero_floats(d, stride);
        continue;
      }
      zero_floats(d, left);
      memcpy(d + left, x + (image * s->h + iy) * line, sizeof(float) * (size_t)line);
      zero_floats(d + left + line, stride - left - line);
    }
    for (int64_t ox0 = 0; ox0 < s->out_w; ox0 += MR) {
      block_a A = base;
      A.a = rows + ox0 * A.lda;
      const int64_t valid = s->out_w - ox0 < MR ? s->out_w - ox0 : MR;
      row_block(&A, w, s->cout, bn, scale, q * s->out_w + ox0, valid, y);
    }
  }
}

/* Work units: row blocks of a 1x1, images of a pooled 1x1 (pool_hw > 0:
 * y is the pooled output), output rows of the stem. */
static void run(int32_t threads, const pni_conv_shape *conv, const float *x, int64_t rows,
                int64_t k, const float *w, int64_t n, const pni_bn_eval *bn, int64_t pool_hw,
                float *y) {
  const int64_t units = conv != NULL  ? conv->n * conv->out_h
                        : pool_hw > 0 ? rows / pool_hw
                                      : (rows + MR - 1) / MR;
  const double macs = (double)rows * (double)k * (double)n;
  const int team =
      threads > 1 && units > 1 && macs >= (double)PNI_GEMM_SERIAL_MACS ? (int)threads : 1;
  float scale[PNI_GEMM_ROWS_NMAX];
  if (bn != NULL) pni_bn_eval_scale(n, bn->gamma, bn->running_var, bn->eps, scale);
#pragma omp parallel num_threads(team) if (team > 1)
  {
    int t = 0, size = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    size = omp_get_num_threads();
#endif
    /* Contiguous shares; every output is computed the same way whoever
     * computes it. */
    const int64_t u0 = units * t / size, u1 = units * (t + 1) / size;
    if (conv != NULL) {
      rows_conv(conv, x, u0, u1, w, bn, scale, y);
    } else if (pool_hw > 0) {
      float out[MR * PNI_GEMM_ROWS_NMAX] __attribute__((aligned(64)));
      double sum[PNI_GEMM_ROWS_NMAX];
      pool_sink pool = {pool_hw, out, sum, y};
      blocks_1x1(x, u0 * pool_hw, u1 * pool_hw, k, w, n, bn, scale, &pool, NULL);
    } else {
      const int64_t end = u1 * MR < rows ? u1 * MR : rows;
      blocks_1x1(x, u0 * MR, end, k, w, n, bn, scale, NULL, y);
    }
  }
}

#else /* !GEMM_ROWS_BUILT */

static void run(int32_t threads, const pni_conv_shape *conv, const float *x, int64_t rows,
                int64_t k, const float *w, int64_t n, const pni_bn_eval *bn, int64_t pool_hw,
                float *y) {
  (void)threads, (void)conv, (void)x, (void)rows, (void)k, (void)w, (void)n, (void)bn;
  (void)pool_hw, (void)y;
}

#endif

void pni_conv1x1_forward_bn(int32_t threads, int64_t rows, int64_t cin, int64_t cout,
                            const float *x, const float *w, const pni_bn_eval *bn, float *y) {
  if (rows <= 0 || !pni_gemm_rows_fits(cin, cout)) return;
  run(threads, NULL, x, rows, cin, w, cout, bn, 0, y);
}

void pni_conv1x1_forward_bn_pool(int32_t threads, int64_t images, int64_t hw, int64_t cin,
                                 int64_t cout, const float *x, const float *w,
                                 const pni_bn_eval *bn, float *pooled) {
  if (images <= 0 || hw <= 0 || bn->residual != NULL || !pni_gemm_rows_fits(cin, cout)) return;
  run(threads, NULL, x, images * hw, cin, w, cout, bn, hw, pooled);
}

void pni_gemm_rows(int32_t threads, int64_t m, int64_t k, int64_t n, const float *a, const float *b,
                   float *c) {
  if (m <= 0 || !pni_gemm_rows_fits(k, n)) return;
  run(threads, NULL, a, m, k, b, n, NULL, 0, c);
}

void pni_conv_forward_bn(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                         const pni_bn_eval *bn, float *y) {
  if (!pni_conv_bn_fits(s)) return;
  run(threads, s, x, s->n * s->out_h * s->out_w, s->k * s->k * s->cin, w, s->cout, bn, 0, y);
}
