/* SPDX-License-Identifier: MIT */
/* Fixed networks: the layer plan built from an architecture, forward with
 * the activations backward needs, backward, and SGD. Private. */
#ifndef PNI_NN_NET_H
#define PNI_NN_NET_H

#include <stdint.h>

#include "core/context.h"
#include "kernels/conv.h"
#include "nn/arch.h"

typedef enum pni_unit_kind {
  PNI_UNIT_FULL, /* k x k convolution (the stem) */
  PNI_UNIT_PW,   /* 1x1 convolution */
  PNI_UNIT_DW    /* depthwise k x k */
} pni_unit_kind;

/* A convolution followed by batch norm and, optionally, ReLU6: the unit
 * every layer of a MobileNetV2-style net is made of. Offsets index the
 * net's arenas, so that parameters, gradients and momenta of the whole net
 * are each one contiguous array (one SGD loop, one save). */
typedef struct pni_unit {
  pni_unit_kind kind;
  int relu;
  pni_conv_shape shape; /* n = max_batch; the batch is passed per call */
  int64_t weight, gamma, beta; /* offsets into params/grads/momenta */
  int64_t stats;               /* running mean at stats, running var at stats + c */
  int64_t saved;               /* batch mean at saved, 1/std at saved + c */
  const float *x;              /* input of the last forward */
  float *z;                    /* convolution output (BN input) */
  float *a;                    /* BN (+ ReLU6) output */
} pni_unit;

typedef struct pni_net_block {
  int32_t units;   /* 0 for an identity block */
  int32_t residual;
  pni_unit unit[3];
  const float *x;  /* input of the last forward */
  const float *y;  /* output of the last forward */
} pni_net_block;

/* A stretch of the parameter arena that SGD treats alike. */
typedef struct pni_param_segment {
  int64_t offset, size;
  int bn_or_bias; /* BN scale/shift or a bias: exempt from decay when no_decay_on_bn */
} pni_param_segment;

struct pnas_net {
  uint32_t tag; /* PNI_TAG_NET */
  pnas_context *ctx;
  pnas_arch *arch; /* own copy */
  pnas_net_options options;
  pnas_sgd_options sgd;
  float dropout;
  int32_t max_batch;

  int64_t param_count, stats_count, saved_count;
  float *params, *grads, *momenta, *stats, *saved;
  float *stats_backup; /* running statistics before the last training forward */
  pni_param_segment *segments;
  int32_t segment_count;

  pni_unit stem;
  pni_net_block *blocks;
  int32_t block_count;
  int has_head;
  pni_unit head;
  int64_t fc_weight, fc_bias;
  int32_t features, classes; /* classifier input and output widths */
  int32_t feature_hw;       /* spatial positions pooled */

  float *pooled, *dropped, *logits, *dlogits, *input;
  uint8_t *mask;
  float *grad_buf[3]; /* ping-pong activation gradients, and the residual copy */
  float *col;         /* im2col workspace of the stem */
  int64_t activation_floats; /* size of each grad_buf */
  int64_t steps;
};

pnas_status pni_net_create(pnas_context *ctx, const pnas_arch *arch,
                           const pnas_net_options *options, pnas_net **out);
void pni_net_destroy(pnas_net *net);

/* Forward through the whole net into net->logits. training selects batch
 * statistics (updating the running ones) and dropout. */
void pni_net_forward(pnas_net *net, const float *images, int32_t batch, int training);
/* Backward from dlogits (batch x classes) into net->grads (overwritten).
 * The forward must have been in training mode. When dinput is not NULL it
 * receives the gradient with respect to the images. */
void pni_net_backward(pnas_net *net, const float *dlogits, int32_t batch, float *dinput);
/* One SGD update of every parameter from net->grads. */
void pni_net_sgd_update(pnas_net *net);

/* Serialisation of the whole net (architecture, parameters, running
 * statistics, momenta, optimizer settings, step count). */
pnas_status pni_net_save(const pnas_net *net, const char *path);
pnas_status pni_net_load(pnas_context *ctx, const char *path, const pnas_net_options *options,
                         pnas_net **out);

#endif /* PNI_NN_NET_H */
