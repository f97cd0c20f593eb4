/* SPDX-License-Identifier: MIT */
#include "nn/unit.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/gemm_rows.h"
#include "kernels/norm.h"

int64_t pni_plan_params(pni_planner *p, int64_t size, int bn_or_bias) {
  const int64_t offset = p->params;
  p->params += size;
  pni_param_segment *last =
      p->segment_count > 0 && p->segments != NULL ? &p->segments[p->segment_count - 1] : NULL;
  /* Adjacent tensors of the same kind share one segment. */
  if (last != NULL && last->bn_or_bias == bn_or_bias && last->offset + last->size == offset) {
    last->size += size;
  } else {
    if (p->segments != NULL) {
      p->segments[p->segment_count] = (pni_param_segment){offset, size, bn_or_bias};
    }
    p->segment_count++;
  }
  return offset;
}

void pni_unit_plan(pni_planner *p, pni_unit *u, pni_unit_kind kind, int relu, int64_t n, int64_t h,
                   int64_t w, int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  memset(u, 0, sizeof *u);
  u->kind = kind;
  u->relu = relu;
  const int shape_ok = pni_conv_shape_init(&u->shape, n, h, w, cin, cout, k, stride, k / 2);
  const int64_t weights = kind == PNI_UNIT_DW ? k * k * cout : k * k * cin * cout;
  u->weight = pni_plan_params(p, weights, 0);
  u->gamma = pni_plan_params(p, cout, 1);
  u->beta = pni_plan_params(p, cout, 1);
  u->stats = p->stats;
  p->stats += 2 * cout;
  u->saved = p->saved;
  p->saved += 2 * cout;
  if (!shape_ok) {
    p->activation_floats = PNI_PLAN_TOO_LARGE;
    return;
  }
  if (kind == PNI_UNIT_PW && weights > p->pw_weight_floats) p->pw_weight_floats = weights;
  if (cout > p->max_channels) p->max_channels = cout;
  if (kind == PNI_UNIT_DW && shape_ok) {
    const int64_t ws = (int64_t)pni_dwconv_grad_workspace_floats(&u->shape);
    if (ws > p->dw_grad_floats) p->dw_grad_floats = ws;
  }
  const int64_t out = n * u->shape.out_h * u->shape.out_w * cout;
  if (out > p->activation_floats) p->activation_floats = out;
  if (n * h * w * cin > p->activation_floats) p->activation_floats = n * h * w * cin;
}

void pni_block_plan(pni_planner *p, pni_net_block *nb, const pni_block *b, int64_t n) {
  memset(nb, 0, sizeof *nb);
  if (b->kind == PNAS_BLOCK_IDENTITY) return;
  nb->residual = b->residual;
  int32_t u = 0;
  if (b->expand != 1) {
    pni_unit_plan(p, &nb->unit[u++], PNI_UNIT_PW, 1, n, b->in_height, b->in_width, b->in_channels,
                  b->mid_channels, 1, 1);
  }
  pni_unit_plan(p, &nb->unit[u++], PNI_UNIT_DW, 1, n, b->in_height, b->in_width, b->mid_channels,
                b->mid_channels, b->kernel, b->stride);
  pni_unit_plan(p, &nb->unit[u++], PNI_UNIT_PW, 0, n, b->out_height, b->out_width, b->mid_channels,
                b->out_channels, 1, 1);
  nb->units = u;
}

float *pni_alloc_floats(pnas_context *ctx, int64_t count) {
  int overflow = 0;
  const size_t bytes = pni_mul_size((size_t)(count > 0 ? count : 1), sizeof(float), &overflow);
  if (overflow) {
    pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY, "out of memory: %lld floats do not fit in memory",
             (long long)count);
    return NULL;
  }
  return pni_aligned_alloc(ctx, bytes);
}

int pni_unit_alloc(pnas_context *ctx, pni_unit *u, float *shared_a) {
  const int64_t out = pni_unit_out_floats(u, (int32_t)u->shape.n);
  u->z = pni_alloc_floats(ctx, out);
  u->a_shared = shared_a != NULL;
  u->a = shared_a != NULL ? shared_a : pni_alloc_floats(ctx, out);
  return u->z != NULL && u->a != NULL;
}

void pni_unit_free(pnas_context *ctx, pni_unit *u) {
  pni_aligned_free(ctx, u->z);
  if (!u->a_shared) pni_aligned_free(ctx, u->a);
  u->z = u->a = NULL;
  u->a_shared = 0;
}

void pni_block_inner_floats(const pni_net_block *nb, int32_t batch, int64_t size[PNI_INNER_SLOTS]) {
  for (int32_t u = 0; u + 1 < nb->units; u++) {
    const int64_t out = pni_unit_out_floats(&nb->unit[u], batch);
    const int32_t slot = pni_inner_slot(nb, u);
    if (out > size[slot]) size[slot] = out;
  }
}

void pni_block_share_inner(pni_net_block *nb, float *const shared[PNI_INNER_SLOTS]) {
  for (int32_t u = 0; u + 1 < nb->units; u++) {
    nb->unit[u].a = shared[pni_inner_slot(nb, u)];
    nb->unit[u].a_shared = 1;
  }
}

int pni_inner_alloc(pnas_context *ctx, const int64_t size[PNI_INNER_SLOTS],
                    float *shared[PNI_INNER_SLOTS]) {
  for (int slot = 0; slot < PNI_INNER_SLOTS; slot++) {
    if (size[slot] == 0) continue;
    shared[slot] = pni_alloc_floats(ctx, size[slot]);
    if (shared[slot] == NULL) return 0;
  }
  return 1;
}

void pni_inner_free(pnas_context *ctx, float *shared[PNI_INNER_SLOTS]) {
  for (int slot = 0; slot < PNI_INNER_SLOTS; slot++) {
    pni_aligned_free(ctx, shared[slot]);
    shared[slot] = NULL;
  }
}

int pni_block_alloc(pnas_context *ctx, pni_net_block *nb, float *const shared[PNI_INNER_SLOTS]) {
  for (int32_t u = 0; u < nb->units; u++) {
    float *a = u + 1 < nb->units ? shared[pni_inner_slot(nb, u)] : NULL;
    if (!pni_unit_alloc(ctx, &nb->unit[u], a)) return 0;
  }
  return 1;
}

void pni_unit_init(const pni_arena *arena, const pni_unit *u, pni_rng *rng) {
  const pni_conv_shape *s = &u->shape;
  const int64_t count =
      u->kind == PNI_UNIT_DW ? s->k * s->k * s->cout : s->k * s->k * s->cin * s->cout;
  const double std = sqrt(2.0 / (double)(s->k * s->k * s->cout));
  float *w = arena->params + u->weight;
  for (int64_t i = 0; i < count; i++) w[i] = (float)(pni_rng_normal(rng) * std);
  for (int64_t c = 0; c < s->cout; c++) {
    arena->params[u->gamma + c] = 1.0f;
    arena->params[u->beta + c] = 0.0f;
    arena->stats[u->stats + c] = 0.0f;
    arena->stats[u->stats + s->cout + c] = 1.0f;
  }
}

int64_t pni_unit_out_floats(const pni_unit *u, int32_t batch) {
  return (int64_t)batch * u->shape.out_h * u->shape.out_w * u->shape.cout;
}

static pni_conv_shape batch_shape(const pni_unit *u, int32_t batch) {
  pni_conv_shape s = u->shape;
  s.n = batch;
  return s;
}

/* The unit's batch norm with running statistics, for the evaluation
 * kernels. */
static pni_bn_eval unit_bn_eval(const pni_arena *arena, const pni_unit *u, const float *residual) {
  const float *running_mean = arena->stats + u->stats;
  return (pni_bn_eval){arena->params + u->gamma,
                       arena->params + u->beta,
                       running_mean,
                       running_mean + u->shape.cout,
                       arena->bn_eps,
                       u->relu,
                       residual};
}

/* Evaluation: the convolution writes straight into u->a and batch norm
 * (running statistics), ReLU6 and the residual follow in the same pass
 * (inside the depthwise kernel and, where they run, the 1x1 and stem
 * kernels of gemm_rows.c; else one pass after the GEMM). The depthwise and
 * the pass give the bits of training mode's separate passes; gemm_rows.c's
 * kernels fix their own order of summation (the same as BLIS's main
 * kernels). u->z is not touched. */
static void unit_forward_eval(const pni_arena *arena, pni_unit *u, const float *x, int32_t batch,
                              const float *residual) {
  const int32_t threads = arena->ctx->threads;
  const pni_conv_shape s = batch_shape(u, batch);
  const float *w = arena->params + u->weight;
  const int64_t rows = s.n * s.out_h * s.out_w, c = s.cout;
  const pni_bn_eval bn = unit_bn_eval(arena, u, residual);
  u->x = x;
  if (u->kind == PNI_UNIT_DW && residual == NULL) {
    pni_dwconv_forward_bn(&s, threads, x, w, bn.gamma, bn.beta, bn.running_mean, bn.running_var,
                          bn.eps, u->relu, u->a);
    return;
  }
  if (u->kind == PNI_UNIT_PW && pni_gemm_rows_fits(s.cin, s.cout)) {
    pni_conv1x1_forward_bn(threads, rows, s.cin, s.cout, x, w, &bn, u->a);
    return;
  }
  if (u->kind == PNI_UNIT_FULL && pni_conv_bn_fits(&s)) {
    pni_conv_forward_bn(&s, threads, x, w, &bn, u->a);
    return;
  }
  switch (u->kind) {
    case PNI_UNIT_FULL:
      pni_conv_forward(&s, threads, x, w, u->a, arena->col);
      break;
    case PNI_UNIT_PW:
      pni_conv1x1_forward(threads, s.n * s.h * s.w, s.cin, s.cout, x, w, u->a);
      break;
    case PNI_UNIT_DW:
      pni_dwconv_forward(&s, threads, x, w, u->a);
      break;
  }
  pni_bn_forward_eval_fused(threads, rows, c, u->a, bn.gamma, bn.beta, bn.running_mean,
                            bn.running_var, bn.eps, u->relu, residual, u->a);
}

void pni_head_pool_forward(const pni_arena *arena, pni_unit *head, const float *x, int32_t batch,
                           int training, int64_t hw, int64_t features, float *pooled) {
  if (head != NULL) {
    const pni_conv_shape s = batch_shape(head, batch);
    /* In evaluation one kernel, where it runs: the head's output is then
     * never stored. */
    if (!training && head->kind == PNI_UNIT_PW && pni_gemm_rows_fits(s.cin, s.cout)) {
      const pni_bn_eval bn = unit_bn_eval(arena, head, NULL);
      head->x = x;
      pni_conv1x1_forward_bn_pool(arena->ctx->threads, s.n, s.h * s.w, s.cin, s.cout, x,
                                  arena->params + head->weight, &bn, pooled);
      return;
    }
    pni_unit_forward(arena, head, x, batch, training);
    x = head->a;
  }
  pni_avgpool_forward(arena->ctx->threads, batch, hw, features, x, pooled);
}

static pni_bn_source unit_output_source(const pni_arena *arena, const pni_unit *u);

/* Training forward. producer NULL: x is the input. Else x is unused and
 * the unit (depthwise) rebuilds its input image by image from the
 * producer's z and statistics. write_output 0: only z and the statistics
 * are computed, u->a is left for the consumer to rebuild. */
static void unit_forward_train(const pni_arena *arena, pni_unit *u, const float *x, int32_t batch,
                               const pni_unit *producer, int write_output) {
  const int32_t threads = arena->ctx->threads;
  const pni_conv_shape s = batch_shape(u, batch);
  const float *w = arena->params + u->weight;
  u->x = producer != NULL ? NULL : x;
  switch (u->kind) {
    case PNI_UNIT_FULL:
      pni_conv_forward(&s, threads, x, w, u->z, arena->col);
      break;
    case PNI_UNIT_PW:
      pni_conv1x1_forward(threads, s.n * s.h * s.w, s.cin, s.cout, x, w, u->z);
      break;
    case PNI_UNIT_DW:
      if (producer != NULL) {
        const pni_bn_source in = unit_output_source(arena, producer);
        pni_dwconv_forward_rebuilt(&s, threads, &in, w, u->z, arena->dw_grad);
      } else {
        pni_dwconv_forward(&s, threads, x, w, u->z);
      }
      break;
  }
  const int64_t rows = s.n * s.out_h * s.out_w, c = s.cout;
  const float *gamma = arena->params + u->gamma, *beta = arena->params + u->beta;
  float *running_mean = arena->stats + u->stats, *running_var = running_mean + c;
  float *save_mean = arena->saved + u->saved, *save_invstd = save_mean + c;
  float *a = write_output ? u->a : NULL;
  /* ReLU6 joins the normalisation's pass over the output. */
  if (u->relu) {
    pni_bn_relu6_forward_train(threads, rows, c, u->z, gamma, beta, arena->bn_eps,
                               arena->bn_momentum, running_mean, running_var, a, save_mean,
                               save_invstd);
  } else {
    pni_bn_forward_train(threads, rows, c, u->z, gamma, beta, arena->bn_eps, arena->bn_momentum,
                         running_mean, running_var, a, save_mean, save_invstd);
  }
}

void pni_unit_forward(const pni_arena *arena, pni_unit *u, const float *x, int32_t batch,
                      int training) {
  if (!training) {
    unit_forward_eval(arena, u, x, batch, NULL);
    return;
  }
  unit_forward_train(arena, u, x, batch, NULL, 1);
}

/* The producer whose output unit u of nb reads rebuilt from its z rather
 * than from its output buffer, or NULL. The backward rebuilds the input
 * of every unit after an inner unit (for the weight gradient); the
 * forward only a depthwise unit's, since the 1x1 product reads its input
 * from memory either way. */
static const pni_unit *rebuilt_producer(const pni_net_block *nb, int32_t u) {
  return u > 0 && nb->unit[u - 1].a_shared ? &nb->unit[u - 1] : NULL;
}

static const pni_unit *forward_rebuilt_producer(const pni_net_block *nb, int32_t u) {
  return nb->unit[u].kind == PNI_UNIT_DW ? rebuilt_producer(nb, u) : NULL;
}

/* The output of a unit as the forward computed it, for a rebuild. */
static pni_bn_source unit_output_source(const pni_arena *arena, const pni_unit *u) {
  const float *save_mean = arena->saved + u->saved;
  return (pni_bn_source){.z = u->z,
                         .gamma = arena->params + u->gamma,
                         .beta = arena->params + u->beta,
                         .save_mean = save_mean,
                         .save_invstd = save_mean + u->shape.cout,
                         .c = u->shape.cout,
                         .relu6 = u->relu};
}

/* dw = x^T * dy of a 1x1 unit whose input x is a shared output: x is
 * rebuilt PNI_REBUILD_FLOATS at a time into arena->rebuild and each slab
 * of rows is multiplied while it is in cache (the product accumulates
 * over the slabs, fixed by the shape alone). */
static void pw_weight_grad_rebuilt(const pni_arena *arena, const pni_bn_source *x, int64_t rows,
                                   int64_t cin, int64_t cout, const float *dy, float *dw) {
  const int32_t threads = arena->ctx->threads;
  /* The slab depends on the shape alone, so a supernet and its derived
   * network sum the same slabs; arena->rebuild holds one row when a row
   * is wider than PNI_REBUILD_FLOATS. */
  const int64_t slab = cin < PNI_REBUILD_FLOATS ? PNI_REBUILD_FLOATS / cin : 1;
  for (int64_t r0 = 0; r0 < rows; r0 += slab) {
    const int64_t r1 = r0 + slab < rows ? r0 + slab : rows, n = r1 - r0;
    const int team = threads > 1 && n * cin >= (1 << 15) ? (int)threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t a = r0 + n * t / nt, b = r0 + n * (t + 1) / nt;
      pni_bn_rebuild_rows(x, a, b, arena->rebuild + (a - r0) * cin);
    }
    pni_conv1x1_backward_weight(threads, n, cin, cout, arena->rebuild, dy + r0 * cout, dw, r0 > 0);
  }
}

void pni_unit_backward(const pni_arena *arena, pni_unit *u, int32_t batch, float *da, float *dx,
                       int weight_grads, const pni_unit *producer) {
  const int32_t threads = arena->ctx->threads;
  const pni_conv_shape s = batch_shape(u, batch);
  const int64_t rows = s.n * s.out_h * s.out_w, c = s.cout;
  const float *gamma = arena->params + u->gamma, *beta = arena->params + u->beta;
  const float *save_mean = arena->saved + u->saved, *save_invstd = save_mean + c;
  float *dgamma = weight_grads ? arena->grads + u->gamma : arena->bn_grad_scratch;
  float *dbeta = weight_grads ? arena->grads + u->beta : arena->bn_grad_scratch + c;
  /* The ReLU6 mask is recomputed inside the normalisation's passes. */
  if (u->relu) {
    pni_bn_relu6_backward(threads, rows, c, u->z, da, gamma, beta, save_mean, save_invstd, da,
                          dgamma, dbeta);
  } else {
    pni_bn_backward(threads, rows, c, u->z, da, gamma, save_mean, save_invstd, da, dgamma, dbeta);
  }
  const float *w = arena->params + u->weight;
  float *dw = weight_grads ? arena->grads + u->weight : NULL;
  const pni_bn_source in =
      producer != NULL ? unit_output_source(arena, producer) : (pni_bn_source){0};
  switch (u->kind) {
    case PNI_UNIT_FULL:
      pni_conv_backward(&s, threads, u->x, w, da, dx, dw, arena->col);
      break;
    case PNI_UNIT_PW: {
      const int64_t in_rows = s.n * s.h * s.w;
      if (dw != NULL && producer != NULL) {
        pw_weight_grad_rebuilt(arena, &in, in_rows, s.cin, s.cout, da, dw);
      } else if (dw != NULL) {
        pni_conv1x1_backward_weight(threads, in_rows, s.cin, s.cout, u->x, da, dw, 0);
      }
      if (dx != NULL) {
        pni_conv1x1_backward_data(threads, in_rows, s.cin, s.cout, da, w, dx, arena->wt);
      }
      break;
    }
    case PNI_UNIT_DW:
      if (producer != NULL) {
        pni_dwconv_backward_rebuilt(&s, threads, &in, w, da, dx, dw, arena->dw_grad);
      } else {
        pni_dwconv_backward(&s, threads, u->x, w, da, dx, dw, arena->dw_grad);
      }
      break;
  }
}

const float *pni_block_forward(const pni_arena *arena, pni_net_block *nb, const float *x,
                               int32_t batch, int training) {
  nb->x = x;
  const float *cur = x;
  if (!training) {
    /* The residual joins the last unit's fused batch-norm pass. */
    for (int32_t u = 0; u < nb->units; u++) {
      const int last = u == nb->units - 1;
      unit_forward_eval(arena, &nb->unit[u], cur, batch, last && nb->residual ? x : NULL);
      cur = nb->unit[u].a;
    }
    nb->y = cur;
    return cur;
  }
  /* An expansion's output goes to memory only to be read back by the
   * depthwise unit: that unit rebuilds it image by image instead. */
  for (int32_t u = 0; u < nb->units; u++) {
    const pni_unit *producer = forward_rebuilt_producer(nb, u);
    const int write_output = !(u + 1 < nb->units && forward_rebuilt_producer(nb, u + 1) != NULL);
    unit_forward_train(arena, &nb->unit[u], cur, batch, producer, write_output);
    cur = nb->unit[u].a;
  }
  if (nb->residual && nb->units > 0) {
    float *y = nb->unit[nb->units - 1].a;
    pni_add(arena->ctx->threads, pni_unit_out_floats(&nb->unit[nb->units - 1], batch), y, x, y);
  }
  nb->y = cur;
  return cur;
}

void pni_block_backward(const pni_arena *arena, pni_net_block *nb, int32_t batch, float **cur,
                        float **next, float *residual_copy, int dx_wanted, int weight_grads) {
  if (nb->units == 0) return;
  const int64_t out_floats = pni_unit_out_floats(&nb->unit[nb->units - 1], batch);
  if (nb->residual) memcpy(residual_copy, *cur, sizeof(float) * (size_t)out_floats);
  for (int32_t u = nb->units - 1; u >= 0; u--) {
    const pni_unit *producer = rebuilt_producer(nb, u);
    pni_unit_backward(arena, &nb->unit[u], batch, *cur, u == 0 && !dx_wanted ? NULL : *next,
                      weight_grads, producer);
    float *t = *cur;
    *cur = *next;
    *next = t;
  }
  if (nb->residual && dx_wanted) {
    pni_add(arena->ctx->threads, out_floats, *cur, residual_copy, *cur);
  }
}

/* PyTorch's SGD: g = grad + wd * w; m = momentum * m + g; with Nesterov the
 * step uses g + momentum * m, else m; w -= lr * step. A zero-initialised
 * momentum gives the same first step as PyTorch's clone-on-first-use. */
void pni_sgd_segments(const pni_arena *arena, const pni_param_segment *segments, int32_t count,
                      const pnas_sgd_options *sgd) {
  const float lr = sgd->lr, mu = sgd->momentum;
  const int nesterov = sgd->nesterov;
  for (int32_t s = 0; s < count; s++) {
    const pni_param_segment *seg = &segments[s];
    const float wd = seg->bn_or_bias && sgd->no_decay_on_bn ? 0.0f : sgd->weight_decay;
    float *w = arena->params + seg->offset, *m = arena->momenta + seg->offset;
    const float *g = arena->grads + seg->offset;
    const int64_t size = seg->size;
#pragma omp parallel for num_threads(arena->ctx->threads) schedule(static) if (size > 65536)
    for (int64_t i = 0; i < size; i++) {
      const float gi = g[i] + wd * w[i];
      const float mi = mu * m[i] + gi;
      m[i] = mi;
      w[i] -= lr * (nesterov ? gi + mu * mi : mi);
    }
  }
}

int32_t pni_sgd_segments_check(const pni_arena *arena, const pni_param_segment *segments,
                               int32_t count, const pnas_sgd_options *sgd) {
  const float lr = sgd->lr, mu = sgd->momentum;
  const int nesterov = sgd->nesterov;
  for (int32_t s = 0; s < count; s++) {
    const pni_param_segment *seg = &segments[s];
    const float wd = seg->bn_or_bias && sgd->no_decay_on_bn ? 0.0f : sgd->weight_decay;
    const float *w = arena->params + seg->offset, *m = arena->momenta + seg->offset;
    const float *g = arena->grads + seg->offset;
    int bad = 0;
    /* The same arithmetic as pni_sgd_segments, without the stores. */
    /* clang-format off */
#pragma omp parallel for num_threads(arena->ctx->threads) schedule(static) \
    reduction(| : bad) if (seg->size > 65536)
    /* clang-format on */
    for (int64_t i = 0; i < seg->size; i++) {
      const float gi = g[i] + wd * w[i];
      const float mi = mu * m[i] + gi;
      const float wi = w[i] - lr * (nesterov ? gi + mu * mi : mi);
      bad |= !isfinite(g[i]) || !isfinite(mi) || !isfinite(wi);
    }
    if (bad) return s;
  }
  return -1;
}
