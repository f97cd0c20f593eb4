/* SPDX-License-Identifier: MIT */
/* Depthwise k x k convolution on NHWC tensors, computed directly. Channels
 * are the contiguous innermost dimension and never interact, so every tap
 * is an element-wise product of channel vectors: the kernels below work on
 * eight channels at a time, and padding is handled by choosing, outside the
 * channel loops, which taps each output reads.
 *
 * Forward and dx are both "gathers": every output pixel of a row is a sum
 * over a fixed list of taps (source row, weights, source pixel), in the
 * same order whichever path computes it and whichever thread runs it. The
 * stride-1 gathers (the forward of stride-1 layers, every dx) run as row
 * tiles that load each source pixel once per tile rather than once per
 * multiply-add; the others, and rows whose taps do not form whole groups,
 * take blocks of four outputs and per-output edge paths. dw is
 * summed over PNI_DW_GRAD_CHUNKS fixed slices of the batch into a
 * workspace and folded in slice order, so the order of every sum is fixed:
 * the same bits for every thread count.
 *
 * k <= KMAX (conv.h allows 3, 5 and 7): the tap lists live on the stack. */
#include <omp.h>
#include <string.h>

#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/lanes.h"
#include "kernels/norm.h"

enum {
  KMAX = 7, /* largest kernel; bounds the tap lists kept on the stack */
  TAPS_MAX = KMAX * KMAX,
  LANES = 8,  /* channels per vector */
  JBLOCK = 4, /* outputs sharing one weight load in the gather */
  /* Edges of rows with many taps and channels take masked blocks: their
   * per-tap branches pay off once the channel loop is long enough for the
   * branch predictor to learn them (measured on the Fashion-MNIST shapes:
   * 7x7x480, k = 5 and 7, gain about 25%; at 144 channels they lose). */
  EDGE_BLOCK_TAPS = 20,
  EDGE_BLOCK_CHANNELS = 256,
};

/* A GCC vector type rather than intrinsics: one AVX register in the avx2
 * clone, two SSE registers in the default one, and vectorised at -O2 where
 * the cost model would leave a plain loop scalar. Products and sums are
 * rounded separately in the vector and scalar paths alike, so every channel
 * gets the same bits whichever path computes it. */
typedef float vec8 __attribute__((vector_size(LANES * sizeof(float))));
typedef float vec16 __attribute__((vector_size(2 * LANES * sizeof(float))));

#define LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define STORE(p, v) memcpy((p), &(v), sizeof(v))

/* Built for the configured -march (x86-64-v2 by default, 128-bit SSE);
 * the avx2 clone doubles the vector width and is picked at load time on
 * machines that have it. It gains nothing from FMA: ISO C mode does not
 * contract a * b + c, which keeps the rounding identical in every path. */
#if defined(__GNUC__) && defined(__x86_64__)
#define HOT __attribute__((target_clones("avx2", "default")))
/* The 16-lane paths: separate functions chosen at run time (see
 * tile_rows_avx512); __builtin_cpu_supports also checks that the OS saves
 * the 512-bit registers. */
#define AVX512 __attribute__((target("avx512f")))
#define HAS_AVX512() (avx512_allowed && __builtin_cpu_supports("avx512f"))
#else
#define HOT
#define AVX512
#define HAS_AVX512() 0
#endif
#define INLINE static inline __attribute__((always_inline))

static int avx512_allowed = 1; /* pni_dwconv_allow_avx512 */

int pni_dwconv_allow_avx512(int allow) {
  const int before = avx512_allowed;
  avx512_allowed = allow != 0;
  return before;
}

/* Below this many multiply-adds a kernel runs on the calling thread:
 * waking a team costs more than it saves, and far more when the machine is
 * oversubscribed. The results do not depend on the team size. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 16)

static int32_t team_size(int32_t threads, int64_t macs) {
  return threads > 1 && macs >= PARALLEL_MIN_MACS ? threads : 1;
}

static int64_t macs(const pni_conv_shape *s) {
  return s->n * s->out_h * s->out_w * s->cout * s->k * s->k;
}

/* Asks for floats [p, p + count) to be brought into L2 before they are
 * needed. At batch 64 the tensors live in memory, and the gathers read
 * each new row as several pixel-strided streams that the hardware
 * prefetchers follow poorly; fetching the next row while this one is
 * computed gains up to 40% on 14x14 maps (dw, which reads its rows in
 * order, gains nothing). */
static void prefetch_floats(const float *p, int64_t count) {
  const char *bytes = (const char *)p;
  for (int64_t i = 0; i < count * (int64_t)sizeof(float); i += 64)
    __builtin_prefetch(bytes + i, 0, 1);
}

/* --- gather: forward and dx ---------------------------------------------- */

typedef struct tap {
  const float *src; /* pixel 0 of the source row */
  const float *w;   /* this tap's c weights */
  int64_t off;      /* output j reads source pixel off + j * step ... */
  int64_t lo, hi;   /* ... which is inside the row for j in [lo, hi) */
} tap;

/* One destination row: dst pixel j * dst_step = sum over taps, in order. */
typedef struct gather {
  tap taps[TAPS_MAX];
  int64_t ntaps;
  int64_t src_w, step;  /* source row width; source pixels per output */
  int64_t nj, dst_step; /* outputs; their spacing in destination pixels */
  int64_t c;
  float *dst;
} gather;

static void gather_init(gather *g, int64_t src_w, int64_t step, int64_t nj, int64_t dst_step,
                        int64_t c, float *dst) {
  g->ntaps = 0;
  g->src_w = src_w;
  g->step = step;
  g->nj = nj;
  g->dst_step = dst_step;
  g->c = c;
  g->dst = dst;
}

/* Taps that no output reads (they only ever see padding) are dropped. */
static void gather_add(gather *g, const float *src, const float *w, int64_t off) {
  const int64_t lo = off >= 0 ? 0 : (g->step - 1 - off) / g->step;
  int64_t hi = off >= g->src_w ? 0 : (g->src_w - 1 - off) / g->step + 1;
  if (hi > g->nj) hi = g->nj;
  if (lo >= hi) return;
  g->taps[g->ntaps++] = (tap){src, w, off, lo, hi};
}

/* Outputs j .. j + JBLOCK - 1, all of whose taps are inside the row. */
INLINE void gather_block(const gather *g, int64_t j) {
  const int64_t c = g->c, cv = c - c % LANES, n = g->ntaps;
  const int64_t sstride = g->step * c, dstride = g->dst_step * c;
  const float *base[TAPS_MAX];
  for (int64_t t = 0; t < n; t++) base[t] = g->taps[t].src + (g->taps[t].off + j * g->step) * c;
  float *d = g->dst + j * dstride;
  for (int64_t c0 = 0; c0 < cv; c0 += LANES) {
    vec8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int64_t t = 0; t < n; t++) {
      const float *b = base[t] + c0;
      vec8 wv, x0, x1, x2, x3;
      LOAD(wv, g->taps[t].w + c0);
      LOAD(x0, b);
      LOAD(x1, b + sstride);
      LOAD(x2, b + 2 * sstride);
      LOAD(x3, b + 3 * sstride);
      a0 += x0 * wv;
      a1 += x1 * wv;
      a2 += x2 * wv;
      a3 += x3 * wv;
    }
    STORE(d + c0, a0);
    STORE(d + dstride + c0, a1);
    STORE(d + 2 * dstride + c0, a2);
    STORE(d + 3 * dstride + c0, a3);
  }
  for (int64_t ci = cv; ci < c; ci++) {
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (int64_t t = 0; t < n; t++) {
      const float *b = base[t] + ci;
      const float wv = g->taps[t].w[ci];
      a0 += b[0] * wv;
      a1 += b[sstride] * wv;
      a2 += b[2 * sstride] * wv;
      a3 += b[3 * sstride] * wv;
    }
    d[ci] = a0;
    d[dstride + ci] = a1;
    d[2 * dstride + ci] = a2;
    d[3 * dstride + ci] = a3;
  }
}

/* Outputs j .. j + m - 1 (m <= JBLOCK) near an edge of the row, where
 * some taps fall outside the row for some outputs: the sums of
 * gather_block, each tap applied only to the outputs it reaches (a mask
 * fixed per tap before the channel loop), so padding is skipped rather than
 * added as zeros. Offsets stay indices until a tap is known to be in range,
 * so no pointer outside the row is ever formed. */
INLINE void gather_block_edge(const gather *g, int64_t j, int64_t m) {
  const int64_t c = g->c, cv = c - c % LANES, sstride = g->step * c, dstride = g->dst_step * c;
  const float *src[TAPS_MAX], *wt[TAPS_MAX];
  int64_t at[TAPS_MAX];
  unsigned mask[TAPS_MAX];
  int64_t n = 0;
  for (int64_t t = 0; t < g->ntaps; t++) {
    const tap *tp = &g->taps[t];
    unsigned bits = 0;
    for (int64_t u = 0; u < m; u++) bits |= (unsigned)(j + u >= tp->lo && j + u < tp->hi) << u;
    if (bits == 0) continue;
    src[n] = tp->src;
    wt[n] = tp->w;
    at[n] = (tp->off + j * g->step) * c;
    mask[n++] = bits;
  }
  float *d = g->dst + j * dstride;
  for (int64_t c0 = 0; c0 < cv; c0 += LANES) {
    vec8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int64_t t = 0; t < n; t++) {
      const int64_t i = at[t] + c0;
      vec8 wv, xv;
      LOAD(wv, wt[t] + c0);
      if (mask[t] & 1u) {
        LOAD(xv, src[t] + i);
        a0 += xv * wv;
      }
      if (mask[t] & 2u) {
        LOAD(xv, src[t] + i + sstride);
        a1 += xv * wv;
      }
      if (mask[t] & 4u) {
        LOAD(xv, src[t] + i + 2 * sstride);
        a2 += xv * wv;
      }
      if (mask[t] & 8u) {
        LOAD(xv, src[t] + i + 3 * sstride);
        a3 += xv * wv;
      }
    }
    STORE(d + c0, a0);
    if (m > 1) STORE(d + dstride + c0, a1);
    if (m > 2) STORE(d + 2 * dstride + c0, a2);
    if (m > 3) STORE(d + 3 * dstride + c0, a3);
  }
  for (int64_t ci = cv; ci < c; ci++) {
    float a[JBLOCK] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t t = 0; t < n; t++) {
      const float wv = wt[t][ci];
      for (int64_t u = 0; u < m; u++) {
        if (mask[t] & (1u << u)) a[u] += src[t][at[t] + u * sstride + ci] * wv;
      }
    }
    for (int64_t u = 0; u < m; u++) d[u * dstride + ci] = a[u];
  }
}

/* Output j alone, near an edge of the row: the taps that reach it are
 * summed into dst, up to four per pass over the channels. dst starts at
 * zero and takes the products in tap order, so every channel gets the same
 * bits as in the blocks. No vector's sum depends on the previous one's, so
 * this stays fast where a register sum over one output would wait on its
 * own adds. */
INLINE void gather_edge(const gather *g, int64_t j) {
  const int64_t c = g->c, cv = c - c % LANES;
  const float *xs[TAPS_MAX], *ws[TAPS_MAX];
  int64_t n = 0;
  for (int64_t t = 0; t < g->ntaps; t++) {
    const tap *tp = &g->taps[t];
    if (j < tp->lo || j >= tp->hi) continue;
    xs[n] = tp->src + (tp->off + j * g->step) * c;
    ws[n++] = tp->w;
  }
  float *d = g->dst + j * g->dst_step * c;
  if (n == 0) {
    memset(d, 0, sizeof(float) * (size_t)c);
    return;
  }
  for (int64_t t = 0; t < n; t += 4) {
    /* q taps in this pass; the pointers of missing ones repeat tap t and
     * are never read. */
    const int64_t q = n - t < 4 ? n - t : 4;
    const float *x0 = xs[t], *w0 = ws[t];
    const float *x1 = xs[t + (q > 1)], *w1 = ws[t + (q > 1)];
    const float *x2 = xs[t + (q > 2) * 2], *w2 = ws[t + (q > 2) * 2];
    const float *x3 = xs[t + (q > 3) * 3], *w3 = ws[t + (q > 3) * 3];
    for (int64_t c0 = 0; c0 < cv; c0 += LANES) {
      vec8 acc = {0}, xv, wv;
      if (t > 0) LOAD(acc, d + c0);
      LOAD(xv, x0 + c0);
      LOAD(wv, w0 + c0);
      acc += xv * wv;
      if (q > 1) {
        LOAD(xv, x1 + c0);
        LOAD(wv, w1 + c0);
        acc += xv * wv;
      }
      if (q > 2) {
        LOAD(xv, x2 + c0);
        LOAD(wv, w2 + c0);
        acc += xv * wv;
      }
      if (q > 3) {
        LOAD(xv, x3 + c0);
        LOAD(wv, w3 + c0);
        acc += xv * wv;
      }
      STORE(d + c0, acc);
    }
    for (int64_t ci = cv; ci < c; ci++) {
      float acc = t > 0 ? d[ci] : 0.0f;
      for (int64_t u = 0; u < q; u++) acc += xs[t + u][ci] * ws[t + u][ci];
      d[ci] = acc;
    }
  }
}

/* --- row tiles: step-1 gathers ------------------------------------------ */

/* With step 1 the taps of one source row ("a group": consecutive taps with
 * the same src) read consecutive pixels, at offsets off_0 + i (dir = +1,
 * the forward) or off_0 - i (dir = -1, dx). A tile of JTILE outputs then
 * needs only JTILE + g - 1 source pixels per group: each pixel is loaded
 * once and multiplied by the group's weights, which stay in registers, into
 * every output of the tile it reaches. The gathers above load a pixel per
 * multiply-add. Output j still takes its taps in list order (pixels are
 * visited in the order of the taps that read them: ascending for dir = +1,
 * descending for dir = -1), each product added to its own sum, so the bits
 * are those of the gathers above. */
enum { JTILE = 7 };

/* Group size g when every group has g taps at consecutive offsets in the
 * same direction (set in *dir), else 0. */
static int tile_group_size(const gather *g, int *dir) {
  int64_t size = 0;
  *dir = 1;
  for (int64_t t0 = 0; t0 < g->ntaps;) {
    int64_t t = t0 + 1;
    while (t < g->ntaps && g->taps[t].src == g->taps[t0].src) t++;
    if (size == 0) {
      size = t - t0;
      if (size > 1) *dir = g->taps[t0 + 1].off > g->taps[t0].off ? 1 : -1;
    }
    if (t - t0 != size) return 0;
    for (int64_t i = t0 + 1; i < t; i++) {
      if (g->taps[i].off != g->taps[i - 1].off + *dir) return 0;
    }
    t0 = t;
  }
  return (int)size;
}

/* One tile (outputs j0 .. j0 + JTILE - 1; those at nj or beyond are summed
 * but not stored) of one channel vector c0, V being vec8, vec16 or float. Pixels
 * outside the source row are skipped, which is exactly the taps' lo/hi.
 * Constant G and DIR let the loops unroll and the sums live in registers. */
#define DEFINE_TILE(NAME, V)                                                            \
  INLINE void NAME(const gather *g, int64_t j0, int64_t c0, const int G, const int DIR, \
                   const int STEP) {                                                    \
    const int64_t c = g->c, groups = g->ntaps / G;                                      \
    V acc[JTILE];                                                                       \
    _Pragma("GCC unroll 8") for (int u = 0; u < JTILE; u++) acc[u] = (V){0};            \
    for (int64_t r = 0; r < groups; r++) {                                              \
      const tap *t0 = g->taps + r * G;                                                  \
      V wv[KMAX];                                                                       \
      _Pragma("GCC unroll 8") for (int i = 0; i < G; i++) LOAD(wv[i], t0[i].w + c0);    \
      /* q = 0 is the pixel of the group's lowest offset for output j0 */               \
      const int64_t base = (DIR > 0 ? t0->off : t0->off - (G - 1)) + j0 * STEP;         \
      _Pragma("GCC unroll 24") for (int qq = 0; qq < STEP * (JTILE - 1) + G; qq++) {    \
        const int q = DIR > 0 ? qq : STEP * (JTILE - 1) + G - 1 - qq;                   \
        if (base + q < 0 || base + q >= g->src_w) continue;                             \
        V xv;                                                                           \
        LOAD(xv, t0->src + (base + q) * c + c0);                                        \
        _Pragma("GCC unroll 8") for (int i = 0; i < G; i++) {                           \
          /* tap i of output u reads pixel q = u * STEP + (the tap's rank by offset) */ \
          const int d = q - (DIR > 0 ? i : G - 1 - i);                                  \
          if (d >= 0 && d % STEP == 0 && d / STEP < JTILE) acc[d / STEP] += xv * wv[i]; \
        }                                                                               \
      }                                                                                 \
    }                                                                                   \
    _Pragma("GCC unroll 8") for (int u = 0; u < JTILE; u++) {                           \
      if (j0 + u < g->nj) STORE(g->dst + (j0 + u) * g->dst_step * c + c0, acc[u]);      \
    }                                                                                   \
  }
DEFINE_TILE(tile_vector, vec8)
DEFINE_TILE(tile_scalar, float)
DEFINE_TILE(tile_vector16, vec16)
#undef DEFINE_TILE

/* Every tile of g's row, channel vectors first: sixteen lanes when WIDE
 * (only inside tile_rows_avx512), then eight, then the scalar tail. */
INLINE void tile_row(const gather *g, const int G, const int DIR, const int STEP, const int WIDE) {
  const int64_t c = g->c, cv16 = WIDE ? c - c % (2 * LANES) : 0, cv = c - c % LANES;
  for (int64_t j0 = 0; j0 < g->nj; j0 += JTILE) {
    int64_t c0 = 0;
    for (; c0 < cv16; c0 += 2 * LANES) tile_vector16(g, j0, c0, G, DIR, STEP);
    for (; c0 < cv; c0 += LANES) tile_vector(g, j0, c0, G, DIR, STEP);
    for (int64_t ci = cv; ci < c; ci++) tile_scalar(g, j0, ci, G, DIR, STEP);
  }
}

/* tile_row with constant group size, direction and step, so that the tiles
 * unroll; returns 0 for a shape it has no case for. Step-2 tiles only run
 * sixteen lanes wide: eight lanes wide they lose to the gathers (measured:
 * 0.7x at k = 3, 1.05x at k = 7), and so do groups of one or two taps. */
INLINE int tile_rows(const gather *g, int size, int dir, const int WIDE) {
  if (g->step == 2 && (dir < 0 || !WIDE)) return 0;
  switch (20 * (g->step - 1) + size * dir) {
#define TILE_CASE(G)                   \
  case G:                              \
    tile_row(g, G, 1, 1, WIDE);        \
    return 1;                          \
  case -(G):                           \
    tile_row(g, G, -1, 1, WIDE);       \
    return 1;                          \
  case 20 + (G):                       \
    if (WIDE) tile_row(g, G, 1, 2, 1); \
    return WIDE;
    TILE_CASE(3)
    TILE_CASE(4)
    TILE_CASE(5)
    TILE_CASE(6)
    TILE_CASE(7)
#undef TILE_CASE
    default:
      return 0;
  }
}

/* The tiles of sixteen channels, one 512-bit register per sum, for
 * processors with AVX-512. Not a clone of the gathers: in the avx2 clone a
 * 16-lane sum takes two of the sixteen registers, and a tile of 7 sums and
 * 7 weights would spill. The channels are the same independent sums in the
 * same order, so the bits are those of the 8-lane tiles and the gathers. */
AVX512 static int tile_rows_avx512(const gather *g, int size, int dir) {
  return tile_rows(g, size, dir, 1);
}

/* Runs g as row tiles when its taps allow; returns 0 when they do not. */
INLINE int gather_row_tiled(const gather *g) {
  int dir;
  const int size = (g->step == 1 || g->step == 2) && g->ntaps > 0 ? tile_group_size(g, &dir) : 0;
  if (size < 3) return 0;
  return HAS_AVX512() ? tile_rows_avx512(g, size, dir) : tile_rows(g, size, dir, 0);
}

HOT static void gather_row(const gather *g) {
  if (gather_row_tiled(g)) return;
  /* [all_lo, all_hi): outputs that every tap reaches, so no bounds checks. */
  int64_t all_lo = 0, all_hi = g->nj;
  for (int64_t t = 0; t < g->ntaps; t++) {
    if (g->taps[t].lo > all_lo) all_lo = g->taps[t].lo;
    if (g->taps[t].hi < all_hi) all_hi = g->taps[t].hi;
  }
  for (int64_t j = 0; j < g->nj;) {
    if (j >= all_lo && j + JBLOCK <= all_hi) {
      gather_block(g, j);
      j += JBLOCK;
    } else if (g->ntaps >= EDGE_BLOCK_TAPS && g->c >= EDGE_BLOCK_CHANNELS && g->nj - j >= 3) {
      const int64_t m = g->nj - j < JBLOCK ? g->nj - j : JBLOCK;
      gather_block_edge(g, j, m);
      j += m;
    } else {
      gather_edge(g, j);
      j++;
    }
  }
}

/* Output row r = (n, oy): y[ox] = sum over in-range (ky, kx) of
 * x[oy*s - pad + ky][ox*s - pad + kx] * w[ky][kx]. */
static void forward_row(const pni_conv_shape *s, const float *x, const float *w, float *y,
                        int64_t r) {
  const int64_t n = r / s->out_h, oy = r % s->out_h, c = s->cout, k = s->k;
  gather g;
  gather_init(&g, s->w, s->stride, s->out_w, 1, c, y + r * s->out_w * c);
  for (int64_t ky = 0; ky < k; ky++) {
    const int64_t iy = oy * s->stride - s->pad + ky;
    if (iy < 0 || iy >= s->h) continue;
    const float *row = x + (n * s->h + iy) * s->w * c;
    for (int64_t kx = 0; kx < k; kx++) gather_add(&g, row, w + (ky * k + kx) * c, kx - s->pad);
  }
  /* The input rows that the next output row reads and this one does not. */
  const int64_t next = (oy + 1) * s->stride - s->pad + k;
  for (int64_t iy = next - s->stride; iy < next && oy + 1 < s->out_h; iy++) {
    if (iy >= 0 && iy < s->h) prefetch_floats(x + (n * s->h + iy) * s->w * c, s->w * c);
  }
  gather_row(&g);
}

/* Input row r = (n, iy) of dx. With stride s the input pixels
 * ix = phase + s*j of one phase see the same taps, reading dy pixel
 * (phase + pad - kx)/s + j, so each phase is one gather with step 1. */
static void backward_data_row(const pni_conv_shape *s, const float *dy, const float *w, float *dx,
                              int64_t r) {
  const int64_t n = r / s->h, iy = r % s->h, c = s->cin, k = s->k, stride = s->stride;
  for (int64_t phase = 0; phase < stride && phase < s->w; phase++) {
    gather g;
    gather_init(&g, s->out_w, 1, (s->w - phase + stride - 1) / stride, stride, c,
                dx + (r * s->w + phase) * c);
    for (int64_t ky = 0; ky < k; ky++) {
      const int64_t ty = iy + s->pad - ky;
      if (ty < 0 || ty % stride != 0 || ty / stride >= s->out_h) continue;
      const float *row = dy + (n * s->out_h + ty / stride) * s->out_w * c;
      for (int64_t kx = 0; kx < k; kx++) {
        const int64_t tx = phase + s->pad - kx;
        /* tx may be negative; % and / are exact whenever stride divides it. */
        if (tx % stride != 0) continue;
        gather_add(&g, row, w + (ky * k + kx) * c, tx / stride);
      }
    }
    gather_row(&g);
  }
  /* The dy row that the next input row reads and this one does not. */
  const int64_t next = iy + 1 + s->pad;
  if (iy + 1 < s->h && next % stride == 0 && next / stride < s->out_h) {
    prefetch_floats(dy + (n * s->out_h + next / stride) * s->out_w * c, s->out_w * c);
  }
}

/* --- dw ------------------------------------------------------------------ */

/* One kernel row ky of output row oy, added into dw[ky][.][.].
 * a_kx sums x[ix = ox*s - pad + kx] * dy[ox] over the row in registers
 * (k is a constant once inlined, so the unused accumulators vanish); only
 * the edge pixels, outside [in_lo, in_hi), test which taps are in range.
 * With few taps the k sums alone would wait on each other's adds, so
 * `wide` also runs the next eight channels (b_kx) in the same pass; every
 * channel is summed in the same order either way. */
#define DW_TAP_BODY(i)                             \
  {                                                \
    lanes_t xv_;                                   \
    LOAD(xv_, xrow + (ix0 + (i)) * c + c0);        \
    a##i += xv_ * dv;                              \
    if (wide) {                                    \
      LOAD(xv_, xrow + (ix0 + (i)) * c + c0 + vl); \
      b##i += xv_ * dv2;                           \
    }                                              \
  }
#define DW_TAP(i) \
  if (k > (i) && r->lo[i] <= ox && ox < r->hi[i]) DW_TAP_BODY(i)
#define DW_TAP_IN(i) \
  if (k > (i)) DW_TAP_BODY(i)
#define DW_FLUSH(i)                    \
  if (k > (i)) {                       \
    lanes_t acc_;                      \
    float *p_ = r->dwrow + (i)*c + c0; \
    LOAD(acc_, p_);                    \
    acc_ += a##i;                      \
    STORE(p_, acc_);                   \
    if (wide) {                        \
      LOAD(acc_, p_ + vl);             \
      acc_ += b##i;                    \
      STORE(p_ + vl, acc_);            \
    }                                  \
  }
#define DW_TAPS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6)
#define DW_PIXEL(TAP)                                 \
  {                                                   \
    const int64_t ix0 = ox * stride - pad;            \
    lanes_t dv, dv2 = {0};                            \
    LOAD(dv, r->dyrow + ox * c + c0);                 \
    if (wide) LOAD(dv2, r->dyrow + ox * c + c0 + vl); \
    DW_TAPS(TAP)                                      \
  }

/* The part of a weight-gradient row that does not depend on the channels. */
typedef struct grad_row {
  const float *xrow, *dyrow;
  float *dwrow;
  int64_t lo[KMAX], hi[KMAX]; /* ox range in which tap kx is inside the row */
  int64_t in_lo, in_hi;       /* ox range in which all taps are */
} grad_row;

/* One channel vector (two with wide) of a weight-gradient row, V being
 * vec8 or vec16: the macros above name its type lanes_t and its width vl. */
#define DEFINE_WEIGHT_GRAD(NAME, V)                                                               \
  INLINE void NAME(const pni_conv_shape *s, const grad_row *r, int64_t k, int wide, int64_t c0) { \
    typedef V lanes_t;                                                                            \
    const int64_t vl = (int64_t)(sizeof(V) / sizeof(float));                                      \
    const int64_t c = s->cin, stride = s->stride, pad = s->pad, ow = s->out_w;                    \
    const float *xrow = r->xrow;                                                                  \
    lanes_t a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0};                 \
    lanes_t b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0}, b6 = {0};                 \
    for (int64_t ox = 0; ox < r->in_lo; ox++) DW_PIXEL(DW_TAP)                                    \
    for (int64_t ox = r->in_lo; ox < r->in_hi; ox++) DW_PIXEL(DW_TAP_IN)                          \
    for (int64_t ox = r->in_hi; ox < ow; ox++) DW_PIXEL(DW_TAP)                                   \
    DW_TAPS(DW_FLUSH)                                                                             \
  }
DEFINE_WEIGHT_GRAD(weight_grad_vectors, vec8)
DEFINE_WEIGHT_GRAD(weight_grad_vectors16, vec16)
#undef DEFINE_WEIGHT_GRAD

INLINE void weight_grad_kernel_row(const pni_conv_shape *s, int64_t k, const float *xrow,
                                   const float *dyrow, float *dwrow, const int avx512) {
  const int64_t c = s->cin, stride = s->stride, ow = s->out_w;
  const int64_t cv = c / LANES * LANES;
  grad_row r = {.xrow = xrow, .dyrow = dyrow, .dwrow = dwrow, .in_lo = 0, .in_hi = ow};
  for (int64_t kx = 0; kx < k; kx++) {
    /* ox with 0 <= ox*stride - pad + kx < w */
    const int64_t first = s->pad - kx, last = s->w - 1 + s->pad - kx;
    int64_t lo = first > 0 ? (first + stride - 1) / stride : 0;
    int64_t hi = last >= 0 ? last / stride + 1 : 0;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    r.lo[kx] = lo;
    r.hi[kx] = hi;
    if (lo > r.in_lo) r.in_lo = lo;
    if (hi < r.in_hi) r.in_hi = hi;
  }
  if (r.in_hi < r.in_lo) r.in_hi = r.in_lo;
  int64_t c0 = 0;
  if (avx512) {
    /* Sixteen lanes per sum; k <= 5 also runs the next sixteen. */
    const int64_t cv16 = c / (2 * LANES) * (2 * LANES);
    if (k <= 5) {
      for (; c0 + 4 * LANES <= cv16; c0 += 4 * LANES) weight_grad_vectors16(s, &r, k, 1, c0);
    }
    for (; c0 < cv16; c0 += 2 * LANES) weight_grad_vectors16(s, &r, k, 0, c0);
  }
  if (k <= 5) {
    for (; c0 + 2 * LANES <= cv; c0 += 2 * LANES) weight_grad_vectors(s, &r, k, 1, c0);
  }
  for (; c0 < cv; c0 += LANES) weight_grad_vectors(s, &r, k, 0, c0);
  /* The last c % 8 channels, summed in the same order (ox ascending). */
  for (int64_t ci = cv; ci < c; ci++) {
    for (int64_t kx = 0; kx < k; kx++) {
      float a = 0.0f;
      for (int64_t ox = r.lo[kx]; ox < r.hi[kx]; ox++) {
        a += xrow[(ox * stride - s->pad + kx) * c + ci] * dyrow[ox * c + ci];
      }
      dwrow[kx * c + ci] += a;
    }
  }
}

INLINE void weight_grad_row_body(const pni_conv_shape *s, const float *image, const float *dyrow,
                                 int64_t oy, float *dw, const int avx512) {
  const int64_t k = s->k;
  for (int64_t ky = 0; ky < k; ky++) {
    const int64_t iy = oy * s->stride - s->pad + ky;
    if (iy < 0 || iy >= s->h) continue;
    const float *xrow = image + iy * s->w * s->cin;
    float *dwrow = dw + ky * k * s->cin;
    /* Literal k lets the compiler drop the unused accumulators. */
    switch (k) {
      case 3:
        weight_grad_kernel_row(s, 3, xrow, dyrow, dwrow, avx512);
        break;
      case 5:
        weight_grad_kernel_row(s, 5, xrow, dyrow, dwrow, avx512);
        break;
      case 7:
        weight_grad_kernel_row(s, 7, xrow, dyrow, dwrow, avx512);
        break;
      default:
        weight_grad_kernel_row(s, k, xrow, dyrow, dwrow, avx512);
        break;
    }
  }
}

/* The 512-bit version: as with the tiles, not a clone, since in the avx2
 * clone the 16-lane sums would spill. Same sums, same order, same bits. */
AVX512 static void weight_grad_row_avx512(const pni_conv_shape *s, const float *image,
                                          const float *dyrow, int64_t oy, float *dw) {
  weight_grad_row_body(s, image, dyrow, oy, dw, 1);
}

HOT static void weight_grad_row(const pni_conv_shape *s, const float *image, const float *dyrow,
                                int64_t oy, float *dw) {
  if (HAS_AVX512()) {
    weight_grad_row_avx512(s, image, dyrow, oy, dw);
  } else {
    weight_grad_row_body(s, image, dyrow, oy, dw, 0);
  }
}

/* --- entry points -------------------------------------------------------- */

/* The workspace: the partial sums of slices 1.., then one image per slice
 * for the rebuilt backward (and one per thread for the rebuilt forward). */
static size_t partial_floats(const pni_conv_shape *s) {
  return (size_t)(PNI_DW_GRAD_CHUNKS - 1) * (size_t)(s->k * s->k * s->cin);
}

void pni_dwconv_forward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                        float *y) {
  const int64_t rows = s->n * s->out_h;
  const int32_t team = team_size(threads, macs(s));
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int64_t r = 0; r < rows; r++) forward_row(s, x, w, y, r);
}

void pni_dwconv_forward_rebuilt(const pni_conv_shape *s, int32_t threads, const pni_bn_source *x,
                                const float *w, float *y, float *workspace) {
  const int64_t c = s->cin, pixels = s->h * s->w, out = s->out_h * s->out_w * s->cout;
  int32_t team = team_size(threads, macs(s));
  if (team > PNI_DW_GRAD_CHUNKS) team = PNI_DW_GRAD_CHUNKS; /* one image slot each */
  pni_conv_shape one = *s;
  one.n = 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    /* The images of the weight gradient's slices, which the forward does
     * not use: one per thread. */
    float *image = workspace + partial_floats(s) + (int64_t)omp_get_thread_num() * pixels * c;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s->n; n++) {
      pni_bn_rebuild_rows(x, n * pixels, (n + 1) * pixels, image);
      for (int64_t oy = 0; oy < s->out_h; oy++) forward_row(&one, image, w, y + n * out, oy);
    }
  }
}

/* Channels whose batch-norm scale the fused forward keeps on the stack;
 * wider layers take the separate passes (same bits, more memory traffic). */
enum { FUSED_MAX_CHANNELS = 4096 };

/* y = (y - mean) * scale + shift, then ReLU6 when relu6 is set, over one
 * row of pixels: the expressions of pni_bn_forward_eval and
 * pni_relu6_forward, so the same bits. */
HOT static void bn_row(int64_t pixels, int64_t c, const float *mean, const float *scale,
                       const float *shift, int relu6, float *y) {
  for (int64_t p = 0; p < pixels; p++) {
    float *yp = y + p * c;
    if (relu6) {
#pragma omp simd
      for (int64_t j = 0; j < c; j++) {
        const float v = (yp[j] - mean[j]) * scale[j] + shift[j];
        yp[j] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < c; j++) yp[j] = (yp[j] - mean[j]) * scale[j] + shift[j];
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
/* bn_row in 512-bit registers with masked tails: the avx2 clone spends
 * two registers, two compares and two blends per 16 channels and was a
 * fifth of the 28x28, 16-channel depthwise layer's evaluation. vmaxps(a,
 * b) is a > b ? a : b and vminps(a, b) a < b ? a : b, so max(0, min(6, v))
 * is bn_row's v < 0 ? 0 : (v > 6 ? 6 : v), NaN and -0 included: the same
 * bits. */
AVX512 static void bn_row_avx512(int64_t pixels, int64_t c, const float *mean, const float *scale,
                                 const float *shift, int relu6, float *y) {
  const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = pni_first_lanes(c - c0);
    const __m512 mv = _mm512_maskz_loadu_ps(m, mean + c0),
                 sv = _mm512_maskz_loadu_ps(m, scale + c0);
    const __m512 bv = _mm512_maskz_loadu_ps(m, shift + c0);
    for (int64_t p = 0; p < pixels; p++) {
      float *yp = y + p * c + c0;
      __m512 v = _mm512_maskz_loadu_ps(m, yp);
      v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(v, mv), sv), bv);
      if (relu6) v = _mm512_max_ps(zero, _mm512_min_ps(six, v));
      _mm512_mask_storeu_ps(yp, m, v);
    }
  }
}
#define BN_ROW(...) (HAS_AVX512() ? bn_row_avx512(__VA_ARGS__) : bn_row(__VA_ARGS__))
#else
#define BN_ROW(...) bn_row(__VA_ARGS__)
#endif

void pni_dwconv_forward_bn(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                           const float *gamma, const float *beta, const float *running_mean,
                           const float *running_var, float eps, int relu6, float *y) {
  const int64_t c = s->cout, rows = s->n * s->out_h, pixels = s->out_w;
  if (c > FUSED_MAX_CHANNELS) {
    pni_dwconv_forward(s, threads, x, w, y);
    pni_bn_forward_eval_fused(threads, rows * pixels, c, y, gamma, beta, running_mean, running_var,
                              eps, relu6, NULL, y);
    return;
  }
  float scale[FUSED_MAX_CHANNELS];
  pni_bn_eval_scale(c, gamma, running_var, eps, scale);
  const int32_t team = team_size(threads, macs(s));
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    forward_row(s, x, w, y, r);
    BN_ROW(pixels, c, running_mean, scale, beta, relu6, y + r * pixels * c);
  }
}

size_t pni_dwconv_grad_workspace_floats(const pni_conv_shape *s) {
  return partial_floats(s) + (size_t)PNI_DW_GRAD_CHUNKS * (size_t)(s->h * s->w * s->cin);
}

/* dw as PNI_DW_GRAD_CHUNKS partial sums over fixed slices of the batch,
 * folded in slice order: each thread reads images of its own (disjoint
 * rows of x and dy, all channels), where splitting the channels would have
 * both threads stream every row. The slices do not depend on the team, so
 * neither do the bits. Slice 0 sums straight into dw. */
static void weight_grad_batch_slices(const pni_conv_shape *s, int32_t team, const float *x,
                                     const pni_bn_source *src, const float *dy, float *dw,
                                     float *workspace) {
  const int64_t c = s->cin, taps = s->k * s->k * c, pixels = s->h * s->w;
  float *partial = workspace;
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
  for (int64_t slice = 0; slice < PNI_DW_GRAD_CHUNKS; slice++) {
    float *sum = slice == 0 ? dw : partial + (slice - 1) * taps;
    float *rebuilt = src != NULL ? workspace + partial_floats(s) + slice * pixels * c : NULL;
    memset(sum, 0, sizeof(float) * (size_t)taps);
    const int64_t n0 = s->n * slice / PNI_DW_GRAD_CHUNKS;
    const int64_t n1 = s->n * (slice + 1) / PNI_DW_GRAD_CHUNKS;
    for (int64_t n = n0; n < n1; n++) {
      const float *image = rebuilt;
      if (src != NULL) {
        pni_bn_rebuild_rows(src, n * pixels, (n + 1) * pixels, rebuilt);
      } else {
        image = x + n * pixels * c;
      }
      for (int64_t oy = 0; oy < s->out_h; oy++) {
        weight_grad_row(s, image, dy + (n * s->out_h + oy) * s->out_w * c, oy, sum);
      }
    }
  }
  for (int64_t slice = 1; slice < PNI_DW_GRAD_CHUNKS; slice++) {
    const float *part = partial + (slice - 1) * taps;
    for (int64_t i = 0; i < taps; i++) dw[i] += part[i];
  }
}

void pni_dwconv_backward(const pni_conv_shape *s, int32_t threads, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *workspace) {
  const int32_t team = team_size(threads, macs(s));
  if (dx != NULL) {
    const int64_t rows = s->n * s->h;
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) backward_data_row(s, dy, w, dx, r);
  }
  if (dw != NULL) weight_grad_batch_slices(s, team, x, NULL, dy, dw, workspace);
}

void pni_dwconv_backward_rebuilt(const pni_conv_shape *s, int32_t threads, const pni_bn_source *x,
                                 const float *w, const float *dy, float *dx, float *dw,
                                 float *workspace) {
  pni_dwconv_backward(s, threads, NULL, w, dy, dx, NULL, NULL);
  if (dw != NULL)
    weight_grad_batch_slices(s, team_size(threads, macs(s)), NULL, x, dy, dw, workspace);
}
