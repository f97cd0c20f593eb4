/* SPDX-License-Identifier: MIT */
/* The on-host latency profiler: times every part of a space that a latency
 * table prices (stem, fixed first block, every candidate op of every layer,
 * head, classifier) with the kernels a network runs, and keeps the median
 * of the timed runs in a table model.
 *
 * Each part runs alone, in evaluation mode (running BN statistics, no
 * dropout), at the requested batch with the context's threads, on random
 * weights and input: latency does not depend on the values. Parts with the
 * same key (the same shape) are timed once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "nn/unit.h"
#include "search/latency.h"
#include "search/space.h"

/* BN settings of the timed units: eval mode reads only eps. */
#define PROFILE_BN_EPS 1e-3f
#define PROFILE_BN_MOMENTUM 0.1f

/* One part laid out and ready to run: its units (a block's up to three, or
 * the stem's or head's one in nb.unit[0]) or the classifier's weights, all
 * in one arena, and a random input. */
typedef struct bench {
  const pni_latency_part *part;
  int32_t batch;
  pni_arena arena;
  pni_net_block nb;
  int64_t fc_weight, fc_bias; /* the classifier's offsets into arena.params */
  float *x, *pooled, *logits;
} bench;

static void bench_plan(bench *b, pni_planner *p) {
  const pni_block *s = &b->part->shape;
  const int64_t n = b->batch;
  memset(&b->nb, 0, sizeof b->nb);
  switch (b->part->part) {
    case PNAS_LATENCY_BLOCK:
      pni_block_plan(p, &b->nb, s, n);
      break;
    case PNAS_LATENCY_STEM:
    case PNAS_LATENCY_HEAD:
      pni_unit_plan(
          p, &b->nb.unit[0], b->part->part == PNAS_LATENCY_STEM ? PNI_UNIT_FULL : PNI_UNIT_PW, 1, n,
          s->in_height, s->in_width, s->in_channels, s->out_channels, s->kernel, s->stride);
      b->nb.units = 1;
      break;
    case PNAS_LATENCY_LOGITS:
      b->fc_weight = pni_plan_params(p, (int64_t)s->in_channels * s->out_channels, 0);
      b->fc_bias = pni_plan_params(p, s->out_channels, 1);
      break;
  }
}

static void bench_free(pnas_context *ctx, bench *b) {
  for (int32_t u = 0; u < b->nb.units; u++) pni_unit_free(ctx, &b->nb.unit[u]);
  pni_arena *a = &b->arena;
  float *arrays[] = {a->params, a->stats, a->saved, a->col, b->x, b->pooled, b->logits};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) pni_aligned_free(ctx, arrays[i]);
  memset(a, 0, sizeof *a);
  b->x = b->pooled = b->logits = NULL;
}

/* Floats the largest buffer of the part holds, in double so that a huge
 * batch times a huge map cannot wrap: the widest map (the stem's im2col
 * workspace has k*k columns per input channel). */
static double largest_buffer_floats(const bench *b) {
  const pni_block *s = &b->part->shape;
  double c = s->in_channels;
  if (s->mid_channels > c) c = s->mid_channels;
  if (s->out_channels > c) c = s->out_channels;
  if (b->part->part == PNAS_LATENCY_STEM) c *= (double)s->kernel * s->kernel;
  return (double)b->batch * s->in_height * s->in_width * c;
}

/* Larger buffers are refused before the planner's int64 sizes could wrap. */
#define PROFILE_MAX_FLOATS 0x1p60

/* Plans, allocates and initialises. On failure everything is freed. */
static pnas_status bench_setup(pnas_context *ctx, bench *b) {
  const pni_block *s = &b->part->shape;
  const int64_t n = b->batch;
  if (largest_buffer_floats(b) > PROFILE_MAX_FLOATS) {
    return pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY,
                    "out of memory: a %dx%dx%d map at batch %d is too large to time",
                    (int)s->in_height, (int)s->in_width, (int)s->in_channels, (int)b->batch);
  }
  /* The planner places while it counts (offsets do not depend on the
   * segment list, which only SGD needs), so one pass lays the part out. */
  pni_planner p = {0};
  bench_plan(b, &p);
  pni_arena *a = &b->arena;
  a->ctx = ctx;
  a->bn_eps = PROFILE_BN_EPS;
  a->bn_momentum = PROFILE_BN_MOMENTUM;
  a->params = pni_alloc_floats(ctx, p.params);
  a->stats = pni_alloc_floats(ctx, p.stats);
  a->saved = pni_alloc_floats(ctx, p.saved);
  a->col = pni_alloc_floats(ctx, b->part->part == PNAS_LATENCY_STEM
                                     ? (int64_t)pni_conv_workspace_floats(&b->nb.unit[0].shape)
                                     : 0);
  const int64_t in_floats = n * s->in_height * s->in_width * s->in_channels;
  b->x = pni_alloc_floats(ctx, in_floats);
  int ok =
      a->params != NULL && a->stats != NULL && a->saved != NULL && a->col != NULL && b->x != NULL;
  if (ok && b->part->part == PNAS_LATENCY_LOGITS) {
    b->pooled = pni_alloc_floats(ctx, n * s->in_channels);
    b->logits = pni_alloc_floats(ctx, n * s->out_channels);
    ok = b->pooled != NULL && b->logits != NULL;
  }
  for (int32_t u = 0; ok && u < b->nb.units; u++) ok = pni_unit_alloc(ctx, &b->nb.unit[u], NULL);
  if (!ok) {
    bench_free(ctx, b);
    return PNAS_ERR_OUT_OF_MEMORY;
  }
  pni_rng *rng = &ctx->rng;
  for (int32_t u = 0; u < b->nb.units; u++) pni_unit_init(a, &b->nb.unit[u], rng);
  if (b->part->part == PNAS_LATENCY_LOGITS) {
    /* The classifier's initialisation, U(+-1/sqrt(fan_in)), bias 0. */
    const double bound = 1.0 / sqrt((double)s->in_channels);
    float *w = a->params + b->fc_weight;
    for (int64_t i = 0; i < (int64_t)s->in_channels * s->out_channels; i++) {
      w[i] = (float)((pni_rng_uniform(rng) * 2.0 - 1.0) * bound);
    }
    memset(a->params + b->fc_bias, 0, sizeof(float) * (size_t)s->out_channels);
  }
  for (int64_t i = 0; i < in_floats; i++) b->x[i] = (float)pni_rng_normal(rng);
  return PNAS_OK;
}

static void bench_run(bench *b) {
  const pni_arena *a = &b->arena;
  switch (b->part->part) {
    case PNAS_LATENCY_BLOCK:
      pni_block_forward(a, &b->nb, b->x, b->batch, 0);
      break;
    case PNAS_LATENCY_STEM:
    case PNAS_LATENCY_HEAD:
      pni_unit_forward(a, &b->nb.unit[0], b->x, b->batch, 0);
      break;
    case PNAS_LATENCY_LOGITS: {
      const pni_block *s = &b->part->shape;
      const int32_t threads = a->ctx->threads;
      pni_avgpool_forward(threads, b->batch, (int64_t)s->in_height * s->in_width, s->in_channels,
                          b->x, b->pooled);
      pni_linear_forward(threads, b->batch, s->in_channels, s->out_channels, b->pooled,
                         a->params + b->fc_weight, a->params + b->fc_bias, b->logits);
      break;
    }
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct profiler {
  pnas_context *ctx;
  const pnas_profile_options *options;
  pni_latency_table table; /* measured so far; sorted only at the end */
  double *times;           /* options->repeats run times, ms */
} profiler;

/* The median of the runs is what the table keeps (robust to the odd
 * preempted run); the variance, like the official tables', is over all the
 * runs (population variance). */
static void summarise(double *times, int32_t repeats, double *median, double *var) {
  double mean = 0.0;
  for (int32_t r = 0; r < repeats; r++) mean += times[r];
  mean /= repeats;
  double ss = 0.0;
  for (int32_t r = 0; r < repeats; r++) ss += (times[r] - mean) * (times[r] - mean);
  *var = ss / repeats;
  qsort(times, (size_t)repeats, sizeof *times, compare_doubles);
  const int32_t mid = repeats / 2;
  *median = repeats % 2 == 1 ? times[mid] : 0.5 * (times[mid - 1] + times[mid]);
}

static int already_measured(const pni_latency_table *t, const char *key) {
  for (size_t i = 0; i < t->count; i++) {
    if (strcmp(t->entries[i].key, key) == 0) return 1;
  }
  return 0;
}

static pnas_status measure(profiler *pr, const pni_latency_part *part) {
  if (part->part == PNAS_LATENCY_BLOCK && part->shape.kind == PNAS_BLOCK_IDENTITY) return PNAS_OK;
  char key[PNI_LATENCY_KEY_CAPACITY];
  pni_latency_part_key(part, key, sizeof key);
  if (already_measured(&pr->table, key)) return PNAS_OK;
  bench b;
  memset(&b, 0, sizeof b);
  b.part = part;
  b.batch = pr->options->batch;
  pnas_status st = bench_setup(pr->ctx, &b);
  if (st != PNAS_OK) return st;
  const int32_t repeats = pr->options->repeats;
  for (int32_t r = 0; r < pr->options->warmup; r++) bench_run(&b);
  for (int32_t r = 0; r < repeats; r++) {
    const double start = now_ms();
    bench_run(&b);
    pr->times[r] = now_ms() - start;
  }
  bench_free(pr->ctx, &b);
  double median, var;
  summarise(pr->times, repeats, &median, &var);
  st = pni_latency_table_add(&pr->table, key, repeats, median, var);
  if (st != PNAS_OK) {
    return pni_fail(pr->ctx, st, "out of memory while adding '%s' to the profiled table", key);
  }
  return PNAS_OK;
}

static pnas_status measure_space(profiler *pr, const pnas_space *space) {
  const pnas_space_info *info = &space->info;
  pni_latency_part part;
  pni_latency_part_conv(&part, PNAS_LATENCY_STEM, info->input_height, info->input_width,
                        info->input_channels, info->stem_channels, info->stem_kernel,
                        info->stem_stride);
  pnas_status st = measure(pr, &part);
  if (st == PNAS_OK && info->first_block_channels > 0) {
    pni_latency_part_block(&part, &space->first_block);
    st = measure(pr, &part);
  }
  for (int32_t l = 0; st == PNAS_OK && l < info->layers; l++) {
    for (int32_t j = 0; st == PNAS_OK && j < space->layers[l].op_count; j++) {
      pni_block candidate;
      pni_space_candidate(space, l, j, &candidate);
      pni_latency_part_block(&part, &candidate);
      st = measure(pr, &part);
    }
  }
  if (st != PNAS_OK) return st;
  int32_t h, w, c;
  pni_space_features(space, &h, &w, &c);
  if (info->head_channels > 0) {
    pni_latency_part_conv(&part, PNAS_LATENCY_HEAD, h, w, c, info->head_channels, 1, 1);
    st = measure(pr, &part);
    if (st != PNAS_OK) return st;
    c = info->head_channels;
  }
  pni_latency_part_logits(&part, h, w, c, info->classes);
  return measure(pr, &part);
}

pnas_status pni_latency_profile(pnas_context *ctx, const pnas_space *space,
                                const pnas_profile_options *options, pnas_latency_model **out) {
  profiler pr;
  memset(&pr, 0, sizeof pr);
  pr.ctx = ctx;
  pr.options = options;
  pni_latency_table_init(&pr.table, ctx);
  pnas_latency_model *model = NULL;
  pnas_status st = PNAS_ERR_OUT_OF_MEMORY;
  pr.times = pni_calloc(ctx, (size_t)options->repeats, sizeof *pr.times);
  if (pr.times == NULL) goto done;
  st = measure_space(&pr, space);
  if (st != PNAS_OK) goto done;
  /* Keys were deduplicated while measuring, so finishing only sorts. */
  size_t duplicate;
  if (pni_latency_table_finish(&pr.table, &duplicate)) {
    st = pni_fail(ctx, PNAS_ERR_INTERNAL, "the profiled table has key '%s' twice",
                  pr.table.entries[duplicate].key);
    goto done;
  }
  st = pni_latency_model_create_table(ctx, &pr.table, NULL, &model);
  if (st != PNAS_OK) goto done;
  *out = model;
done:
  pni_latency_table_free(&pr.table);
  pni_free(ctx, pr.times);
  return st;
}
