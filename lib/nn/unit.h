/* SPDX-License-Identifier: MIT */
/* The building blocks shared by fixed networks and the supernet: the unit
 * (convolution + BN + optional ReLU6), the MBConv block made of units, the
 * planner that lays parameters out in one arena, and the arena itself.
 * Private. */
#ifndef PNI_NN_UNIT_H
#define PNI_NN_UNIT_H

#include <stdint.h>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/conv.h"
#include "nn/arch.h"

typedef enum pni_unit_kind {
  PNI_UNIT_FULL, /* k x k convolution (the stem) */
  PNI_UNIT_PW,   /* 1x1 convolution */
  PNI_UNIT_DW    /* depthwise k x k */
} pni_unit_kind;

/* A convolution followed by batch norm and, optionally, ReLU6. Offsets index
 * the owner's arenas, so that parameters, gradients and momenta are each one
 * contiguous array (one SGD loop, one save, one all-reduce for a host). */
typedef struct pni_unit {
  pni_unit_kind kind;
  int relu;
  pni_conv_shape shape;        /* n = max_batch; the batch is passed per call */
  int64_t weight, gamma, beta; /* offsets into params/grads/momenta */
  int64_t stats;               /* running mean at stats, running var at stats + c */
  int64_t saved;               /* batch mean at saved, 1/std at saved + c */
  const float *x;              /* input of the last forward */
  float *z;                    /* convolution output (BN input) */
  float *a;                    /* BN (+ ReLU6) output */
  int a_shared;                /* a is a buffer shared across blocks (see pni_block_share_inner) */
} pni_unit;

/* An MBConv block as units (none for an identity block). */
typedef struct pni_net_block {
  int32_t units;
  int32_t residual;
  pni_unit unit[3];
  const float *x; /* input of the last forward */
  const float *y; /* output of the last forward */
} pni_net_block;

/* A stretch of the parameter arena that SGD treats alike. */
typedef struct pni_param_segment {
  int64_t offset, size;
  int bn_or_bias; /* BN scale/shift or a bias: exempt from decay when no_decay_on_bn */
} pni_param_segment;

/* Lays out parameters, statistics and saved BN values. With segments NULL
 * it only counts (run it twice: count, allocate, place). */
typedef struct pni_planner {
  int64_t params, stats, saved;
  int64_t activation_floats; /* largest activation of any unit, in or out */
  int64_t pw_weight_floats;  /* largest 1x1 weight (room for its transpose) */
  int64_t max_channels;      /* widest unit output */
  int64_t dw_grad_floats;    /* largest depthwise dw workspace */
  pni_param_segment *segments;
  int32_t segment_count;
} pni_planner;

/* Where a unit's numbers live, and the settings its kernels need. */
typedef struct pni_arena {
  pnas_context *ctx;
  float *params, *grads, *momenta, *stats, *saved;
  float *col;     /* im2col workspace of full convolutions */
  float *wt;      /* pw_weight_floats: a 1x1 weight transposed for backward data */
  float *dw_grad; /* dw_grad_floats: depthwise dw partial sums and rebuilt images */
  float *rebuild; /* pni_rebuild_floats(max_channels): rows of a shared output rebuilt
                     for a 1x1 dw */
  /* wt, dw_grad and rebuild are NULL in an owner that never runs a backward. */
  float *bn_grad_scratch; /* 2 * max_channels: BN sums of a backward without weight
                             gradients; NULL when the owner never runs one */
  float bn_eps, bn_momentum;
} pni_arena;

/* activation_floats of a plan with a unit too large for the kernels' sizes
 * (a batch times an activation beyond int32 rows or int64 floats): its
 * owner refuses to build it. */
#define PNI_PLAN_TOO_LARGE INT64_MAX

int64_t pni_plan_params(pni_planner *p, int64_t size, int bn_or_bias);
void pni_unit_plan(pni_planner *p, pni_unit *u, pni_unit_kind kind, int relu, int64_t n, int64_t h,
                   int64_t w, int64_t cin, int64_t cout, int64_t k, int64_t stride);
/* Units of an MBConv block (nothing for identity). */
void pni_block_plan(pni_planner *p, pni_net_block *nb, const pni_block *b, int64_t n);

float *pni_alloc_floats(pnas_context *ctx, int64_t count);
/* Gives the unit its own z buffer and its own a buffer (n = shape.n),
 * unless shared_a is not NULL: then a is that buffer, which the unit does
 * not own (see pni_block_share_inner). */
int pni_unit_alloc(pnas_context *ctx, pni_unit *u, float *shared_a);
void pni_unit_free(pnas_context *ctx, pni_unit *u);
/* Official initialisation: weights N(0, sqrt(2/(k*k*C_out))), BN 1 and 0,
 * running mean 0 and variance 1. */
void pni_unit_init(const pni_arena *arena, const pni_unit *u, pni_rng *rng);

int64_t pni_unit_out_floats(const pni_unit *u, int32_t batch);
void pni_unit_forward(const pni_arena *arena, pni_unit *u, const float *x, int32_t batch,
                      int training);
/* The head (NULL: none) and the global average pool over hw positions of
 * `features` channels into pooled (batch x features). In evaluation, where
 * libpnas's row kernels run, one kernel (pni_conv1x1_forward_bn_pool, the
 * same bits as the two steps) that does not write head->a. */
void pni_head_pool_forward(const pni_arena *arena, pni_unit *head, const float *x, int32_t batch,
                           int training, int64_t hw, int64_t features, float *pooled);
/* da is consumed (used as scratch); dx may be NULL for the first layer.
 * With weight_grads the gradients of the unit's parameters are
 * overwritten; without (an architecture step, which needs only dx) they are
 * not touched and the weight-gradient products are skipped: that needs
 * arena->bn_grad_scratch and a 1x1 or depthwise unit. producer is NULL
 * when u->x holds the forward's input, else the unit whose shared output
 * it was: the weight gradient then rebuilds that input from the
 * producer's z and saved statistics (a 1x1 or depthwise unit). */
void pni_unit_backward(const pni_arena *arena, pni_unit *u, int32_t batch, float *da, float *dx,
                       int weight_grads, const pni_unit *producer);

/* The inner units of a block (all but the last) produce outputs that only
 * the next unit reads: in the forward as its input, in the backward for
 * its weight gradient. They need not outlive the block's forward, so all
 * blocks share PNI_INNER_SLOTS buffers for them (slot 0 for the unit just
 * before the last, slot 1 for the one before that), and the weight
 * gradient that reads one rebuilds it from the unit's z and saved
 * statistics (bitwise the forward's values), a cache-sized piece at a
 * time. Keeping z only, the largest activations of an MBConv block are
 * held once per block instead of twice, for the price of a pass of
 * arithmetic, not of memory traffic. */
#define PNI_INNER_SLOTS 2
/* Floats of arena->rebuild: a slab of rows that stays in the last-level
 * cache between its rebuild and the product that reads it (2 MiB). */
#define PNI_REBUILD_FLOATS ((int64_t)1 << 19)
/* Floats of arena->rebuild for units at most max_channels wide: the slab,
 * or one row when a row is wider (the space allows 65536 x 64 channels;
 * such a network's weights would not fit in memory, but the bound is the
 * buffer's, not the host's). */
static inline int64_t pni_rebuild_floats(int64_t max_channels) {
  return max_channels > PNI_REBUILD_FLOATS ? max_channels : PNI_REBUILD_FLOATS;
}
static inline int32_t pni_inner_slot(const pni_net_block *nb, int32_t u) {
  return nb->units - 2 - u;
}
/* Raises size[slot] to the inner outputs of the block at batch. */
void pni_block_inner_floats(const pni_net_block *nb, int32_t batch, int64_t size[PNI_INNER_SLOTS]);
/* Points the block's inner units at the shared buffers. */
void pni_block_share_inner(pni_net_block *nb, float *const shared[PNI_INNER_SLOTS]);
/* Allocates shared[slot] of size[slot] floats for every non-empty slot
 * (the others stay NULL); 0 when out of memory. */
int pni_inner_alloc(pnas_context *ctx, const int64_t size[PNI_INNER_SLOTS],
                    float *shared[PNI_INNER_SLOTS]);
void pni_inner_free(pnas_context *ctx, float *shared[PNI_INNER_SLOTS]);
/* pni_unit_alloc for every unit of the block, the inner ones on the
 * shared buffers; 0 when out of memory. */
int pni_block_alloc(pnas_context *ctx, pni_net_block *nb, float *const shared[PNI_INNER_SLOTS]);

/* Block forward: returns the output (the input itself for identity; the
 * last unit's buffer, residual added in place, otherwise). */
const float *pni_block_forward(const pni_arena *arena, pni_net_block *nb, const float *x,
                               int32_t batch, int training);
/* Block backward from *cur (the output gradient); on return *cur holds the
 * input gradient and *next is free scratch. residual_copy has room for the
 * output gradient. When dx_wanted is 0 the first unit skips dx;
 * weight_grads as for pni_unit_backward (shared inner outputs are
 * rebuilt, not read). */
void pni_block_backward(const pni_arena *arena, pni_net_block *nb, int32_t batch, float **cur,
                        float **next, float *residual_copy, int dx_wanted, int weight_grads);

/* SGD (PyTorch's, Nesterov optional) over segments of an arena. */
void pni_sgd_segments(const pni_arena *arena, const pni_param_segment *segments, int32_t count,
                      const pnas_sgd_options *sgd);

/* Index of the first segment whose gradient is not finite, or whose weights
 * or momenta pni_sgd_segments() would make non-finite; -1 when the step is
 * safe. Changes nothing. */
int32_t pni_sgd_segments_check(const pni_arena *arena, const pni_param_segment *segments,
                               int32_t count, const pnas_sgd_options *sgd);

#endif /* PNI_NN_UNIT_H */
