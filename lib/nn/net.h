/* SPDX-License-Identifier: MIT */
/* Fixed networks: the layer plan built from an architecture, forward with
 * the activations backward needs, backward, and SGD. Private. */
#ifndef PNI_NN_NET_H
#define PNI_NN_NET_H

#include <stdint.h>

#include "core/context.h"
#include "nn/arch.h"
#include "nn/unit.h"

struct pnas_net {
  uint32_t tag; /* PNI_TAG_NET */
  pnas_context *ctx;
  pnas_arch *arch; /* own copy */
  pnas_net_options options;
  pnas_sgd_options sgd;
  float dropout;
  int32_t max_batch;

  int64_t param_count, stats_count, saved_count;
  pni_arena arena;     /* params, grads, momenta, stats, saved, col */
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
  int32_t feature_hw;        /* spatial positions pooled */

  float *pooled, *dropped, *logits, *dlogits, *input;
  uint8_t *mask;
  float *grad_buf[3];            /* ping-pong activation gradients, and the residual copy */
  float *inner[PNI_INNER_SLOTS]; /* outputs of the blocks' inner units (pni_block_share_inner) */
  int64_t activation_floats;     /* size of each grad_buf */
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

/* Non-finite values (net_finite.c). After a forward of `batch` images,
 * names in buf the first part (the images first) whose output is not
 * finite. */
void pni_net_describe_nonfinite(const pnas_net *net, const float *images, int32_t batch, char *buf,
                                size_t cap);
/* 1 if every gradient is finite and, with with_update, the SGD update would
 * keep every weight and momentum finite; otherwise 0, and buf names the
 * part. */
int pni_net_step_finite(const pnas_net *net, int with_update, char *buf, size_t cap);

/* Serialisation of the whole net (architecture, parameters, running
 * statistics, momenta, optimizer settings, step count). */
pnas_status pni_net_save(const pnas_net *net, const char *path);
pnas_status pni_net_load(pnas_context *ctx, const char *path, const pnas_net_options *options,
                         pnas_net **out);

#endif /* PNI_NN_NET_H */
