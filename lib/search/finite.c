/* SPDX-License-Identifier: MIT */
/* Non-finite values in a supernet step: which part of the network produced
 * them, and whether an update would create them, so that a step can refuse
 * before it changes anything. */
#include <math.h>
#include <stdio.h>

#include "nn/unit.h"
#include "search/supernet.h"

static int64_t first_nonfinite(const float *v, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    if (!isfinite(v[i])) return i;
  }
  return -1;
}

static void name_candidate(const pnas_supernet *sn, int32_t l, int32_t j, char *buf, size_t cap) {
  const pnas_op_spec *op = &sn->layers[l].cand[j].op;
  snprintf(buf, cap, "layer %d (candidate %d: MBConv kernel %d expand %d)", (int)l, (int)j,
           (int)op->kernel, (int)op->expand);
}

void pni_supernet_describe_nonfinite(const pnas_supernet *sn, const float *images, int32_t batch,
                                     char *buf, size_t cap) {
  const pnas_space_info *in = &sn->space->info;
  const int64_t pixels = (int64_t)batch * in->input_height * in->input_width * in->input_channels;
  int64_t at = first_nonfinite(images, pixels);
  if (at >= 0) {
    snprintf(buf, cap, "the input images (images[%lld] is %g)", (long long)at, (double)images[at]);
    return;
  }
  if (first_nonfinite(sn->stem.a, pni_unit_out_floats(&sn->stem, batch)) >= 0) {
    snprintf(buf, cap, "the stem");
    return;
  }
  if (sn->has_first && sn->first.units > 0 &&
      first_nonfinite(sn->first.y,
                      pni_unit_out_floats(&sn->first.unit[sn->first.units - 1], batch)) >= 0) {
    snprintf(buf, cap, "the first block");
    return;
  }
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    const pni_candidate *c = &layer->cand[layer->active];
    if (c->nb.units == 0) continue; /* zero: the identity */
    const int64_t count = pni_unit_out_floats(&c->nb.unit[c->nb.units - 1], batch);
    if (first_nonfinite(c->nb.y, count) >= 0) {
      name_candidate(sn, l, layer->active, buf, cap);
      return;
    }
  }
  if (sn->has_head && first_nonfinite(sn->head.a, pni_unit_out_floats(&sn->head, batch)) >= 0) {
    snprintf(buf, cap, "the head");
    return;
  }
  if (first_nonfinite(sn->pooled, (int64_t)batch * sn->features) >= 0) {
    snprintf(buf, cap, "the global average pool");
    return;
  }
  snprintf(buf, cap, "the classifier");
}

static int unit_owns(const pni_unit *u, int64_t offset) {
  return offset == u->weight || offset == u->gamma || offset == u->beta;
}

/* Fixed parts in backward order: the classifier, the head, (the searched
 * layers,) the first block, the stem. */
enum { PART_CLASSIFIER, PART_HEAD, PART_FIRST, PART_STEM };
static const char *const part_names[] = {"the classifier", "the head", "the first block",
                                         "the stem"};

static int fixed_part(const pnas_supernet *sn, int64_t offset) {
  if (unit_owns(&sn->stem, offset)) return PART_STEM;
  if (sn->has_head && unit_owns(&sn->head, offset)) return PART_HEAD;
  if (offset == sn->fc_weight || offset == sn->fc_bias) return PART_CLASSIFIER;
  return PART_FIRST;
}

static int fixed_parts_finite(const pnas_supernet *sn, const pnas_sgd_options *sgd, int first,
                              int last, char *buf, size_t cap) {
  for (int part = first; part <= last; part++) {
    for (int32_t s = 0; s < sn->fixed_segment_count; s++) {
      const pni_param_segment *seg = &sn->fixed_segments[s];
      if (fixed_part(sn, seg->offset) != part) continue;
      if (pni_sgd_segments_check(&sn->arena, seg, 1, sgd) >= 0) {
        snprintf(buf, cap, "%s", part_names[part]);
        return 0;
      }
    }
  }
  return 1;
}

/* Checks the SGD step (sgd == NULL: only the gradients) of the fixed parts
 * and the active path, in backward order, so that a gradient is blamed on
 * the part nearest the loss that has a bad one. */
static int path_step_finite(const pnas_supernet *sn, const pnas_sgd_options *sgd, char *buf,
                            size_t cap) {
  pnas_sgd_options plain;
  if (sgd == NULL) {
    /* Learning rate, momentum and decay 0: only the gradient can be bad. */
    plain = sn->sgd;
    plain.lr = 0.0f;
    plain.momentum = 0.0f;
    plain.weight_decay = 0.0f;
    sgd = &plain;
  }
  if (!fixed_parts_finite(sn, sgd, PART_CLASSIFIER, PART_HEAD, buf, cap)) return 0;
  for (int32_t l = sn->layer_count - 1; l >= 0; l--) {
    const pni_mixed_layer *layer = &sn->layers[l];
    const pni_candidate *c = &layer->cand[layer->active];
    if (pni_sgd_segments_check(&sn->arena, c->segments, c->segment_count, sgd) >= 0) {
      name_candidate(sn, l, layer->active, buf, cap);
      return 0;
    }
  }
  return fixed_parts_finite(sn, sgd, PART_FIRST, PART_STEM, buf, cap);
}

int pni_supernet_grads_finite(const pnas_supernet *sn, char *buf, size_t cap) {
  return path_step_finite(sn, NULL, buf, cap);
}

int pni_supernet_sgd_finite(const pnas_supernet *sn, char *buf, size_t cap) {
  return path_step_finite(sn, &sn->sgd, buf, cap);
}
