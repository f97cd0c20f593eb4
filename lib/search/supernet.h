/* SPDX-License-Identifier: MIT */
/* The supernet: fixed parts and, per searched layer, every candidate op with
 * its weights, the layer's architecture logits and its shared activation
 * buffers. Private. */
#ifndef PNI_SEARCH_SUPERNET_H
#define PNI_SEARCH_SUPERNET_H

#include <stdint.h>

#include "core/context.h"
#include "nn/unit.h"
#include "search/space.h"

/* A unit position inside an MBConv candidate: expand, depthwise, project.
 * Candidates of a layer share one buffer per position. */
enum { PNI_POS_EXPAND = 0, PNI_POS_DW = 1, PNI_POS_PROJECT = 2, PNI_POSITIONS = 3 };

/* Segments one candidate needs: 3 units x (weight, BN) at most. */
#define PNI_CANDIDATE_SEGMENTS 8

typedef struct pni_candidate {
  pnas_op_spec op;
  int32_t space_index; /* index in the space layer's op list */
  pni_block block;     /* shape and cost; identity for zero */
  pni_net_block nb;    /* units (none for zero) */
  int32_t position[3]; /* buffer position of each unit */
  /* Contiguous ranges in the arenas, so that pruning can compact them. */
  int64_t param_begin, param_end, stats_begin, stats_end, saved_begin, saved_end;
  pni_param_segment segments[PNI_CANDIDATE_SEGMENTS];
  int32_t segment_count;
  double latency_ms;
  int32_t below;      /* consecutive arch steps with p < prune_threshold */
  int32_t prune_mark; /* chosen for removal by the current prune */
} pni_candidate;

typedef struct pni_mixed_layer {
  const pni_space_layer *spec;
  int32_t count; /* live candidates */
  pni_candidate cand[PNI_SPACE_MAX_OPS];
  float alpha[PNI_SPACE_MAX_OPS];
  double alpha_grad[PNI_SPACE_MAX_OPS];
  double adam_m[PNI_SPACE_MAX_OPS], adam_v[PNI_SPACE_MAX_OPS];
  double gate_grad[PNI_SPACE_MAX_OPS];
  float *buf_z[PNI_POSITIONS]; /* z of each position */
  float *buf_a;                /* a of the last position: the block's output */
  float *other_out;            /* two mode: output of the inactive candidate of the pair */
  const float *x;              /* input of the last forward */
  int32_t active, other;       /* other: the pair's inactive candidate, or -1 */
  double pair_alpha[2];        /* the pair's logits before an update (two mode) */
} pni_mixed_layer;

struct pnas_supernet {
  uint32_t tag; /* PNI_TAG_SUPERNET */
  pnas_context *ctx;
  pnas_space *space; /* own copy */
  pnas_supernet_options options;
  pnas_sgd_options sgd;
  pnas_search_options search;
  int32_t max_batch;

  pni_arena arena;
  int64_t param_count, stats_count, saved_count;

  pni_unit stem;
  int has_first;
  pni_net_block first;
  pni_mixed_layer *layers;
  int32_t layer_count;
  int has_head;
  pni_unit head;
  int64_t fc_weight, fc_bias;
  int32_t features, classes, feature_hw;
  pni_param_segment *fixed_segments;
  int32_t fixed_segment_count;

  float *pooled, *logits, *dlogits;
  float *grad_buf[3];
  int64_t activation_floats;
  /* Units of a candidate re-run off the path (full_v2, two) write here
   * (the inner units' a go to the inner buffers, as on the path). */
  float *scratch_z[PNI_POSITIONS], *scratch_a;
  /* Outputs of the inner units of every block (pni_block_share_inner). */
  float *inner[PNI_INNER_SLOTS];
  float *stats_backup;

  int has_latency;
  double fixed_latency_ms;

  int training_forward_done; /* a training forward preceded: backward allowed */
  int grads_ready;           /* a backward filled the gradients: sgd_step allowed */
  int arch_grad_ready;       /* alpha_grad holds an unapplied gradient */
  int32_t last_arch_mode;    /* mode of that gradient (for the two-mode shift) */
  int64_t weight_steps, arch_steps, adam_steps;
  double rl_baseline;
  int rl_baseline_set;
  double *rl_rewards;  /* rl_samples entries */
  int32_t *rl_choices; /* rl_samples x layers */
  int32_t rl_capacity;
};

pnas_status pni_supernet_create(pnas_context *ctx, const pnas_space *space,
                                const pnas_supernet_options *options, pnas_supernet **out);
void pni_supernet_destroy(pnas_supernet *sn);

/* softmax(alpha) of a layer's live candidates, in double. */
void pni_layer_probs(const pni_mixed_layer *layer, double *p);
/* Draws one live candidate from p. */
int32_t pni_sample_index(pni_rng *rng, const double *p, int32_t n);

/* Forward of the active path. With two_mode, each layer that has an `other`
 * candidate also computes its output into other_out. */
void pni_supernet_forward(pnas_supernet *sn, const float *images, int32_t batch, int training,
                          int two_mode);
/* Backward of the active path from dlogits. When gates is 1 (full_v2) or 2
 * (two), each layer's gate_grad[] receives dL/dg for every live candidate
 * (full_v2: re-running the others on the layer's input) or for the pair. */
void pni_supernet_backward(pnas_supernet *sn, const float *dlogits, int32_t batch, int gates);
/* The name of the first member of o outside its allowed range (with a
 * reason in parentheses where the range is not obvious), or NULL when every
 * member is allowed (search_options.c). */
const char *pni_search_options_invalid(const pnas_search_options *o);

/* SGD on the active path's candidates and the fixed parts. */
void pni_supernet_sgd(pnas_supernet *sn);

/* Non-finite values (finite.c). After a forward of `batch` images, names
 * in buf the first part of the active path (the images first) whose output
 * is not finite. */
void pni_supernet_describe_nonfinite(const pnas_supernet *sn, const float *images, int32_t batch,
                                     char *buf, size_t cap);
/* 1 if every gradient of the fixed parts and the active path is finite;
 * otherwise 0, and buf names the first part with a non-finite one. */
int pni_supernet_grads_finite(const pnas_supernet *sn, char *buf, size_t cap);
/* 1 if pni_supernet_sgd() would keep every weight and momentum finite;
 * otherwise 0, and buf names the first part it would break. */
int pni_supernet_sgd_finite(const pnas_supernet *sn, char *buf, size_t cap);

/* E[LAT] with the full probabilities. */
double pni_supernet_expected_latency(const pnas_supernet *sn);

/* Arch steps (arch_step.c). */
pnas_status pni_supernet_arch_gradient(pnas_supernet *sn, const float *images,
                                       const int32_t *labels, int32_t batch,
                                       pnas_search_stats *stats);
pnas_status pni_supernet_arch_update(pnas_supernet *sn);
pnas_status pni_supernet_reinforce(pnas_supernet *sn, const float *images, const int32_t *labels,
                                   int32_t batch, pnas_search_stats *stats);
/* Removes candidates below the threshold for patience steps. */
pnas_status pni_supernet_prune(pnas_supernet *sn, int32_t *pruned);
/* Removes the candidates whose prune_mark is set, compacting the arenas.
 * Out of memory leaves the supernet as it was. */
pnas_status pni_supernet_remove_marked(pnas_supernet *sn, int32_t *removed);
/* argmax choice per layer, as space op indices. */
void pni_supernet_argmax(const pnas_supernet *sn, int32_t *choice);
pnas_status pni_supernet_price(pnas_supernet *sn, pnas_latency_model *model);
pnas_status pni_supernet_derive_net(pnas_supernet *sn, const pnas_net_options *options, int inherit,
                                    pnas_net **out);

#endif /* PNI_SEARCH_SUPERNET_H */
