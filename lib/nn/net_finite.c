/* SPDX-License-Identifier: MIT */
/* Non-finite values in a training step of a fixed network: which part
 * produced them, and whether the update would create them, so that the step
 * can refuse before it changes anything. */
#include <math.h>
#include <stdio.h>

#include "nn/net.h"

static int any_nonfinite(const float *v, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    if (!isfinite(v[i])) return 1;
  }
  return 0;
}

void pni_net_describe_nonfinite(const pnas_net *net, const float *images, int32_t batch, char *buf,
                                size_t cap) {
  const pnas_arch_info *in = &net->arch->info;
  const int64_t pixels = (int64_t)batch * in->input_height * in->input_width * in->input_channels;
  for (int64_t i = 0; i < pixels; i++) {
    if (!isfinite(images[i])) {
      snprintf(buf, cap, "the input images (images[%lld] is %g)", (long long)i, (double)images[i]);
      return;
    }
  }
  if (any_nonfinite(net->stem.a, pni_unit_out_floats(&net->stem, batch))) {
    snprintf(buf, cap, "the stem");
    return;
  }
  for (int32_t i = 0; i < net->block_count; i++) {
    const pni_net_block *b = &net->blocks[i];
    if (b->units == 0) continue; /* identity */
    if (any_nonfinite(b->y, pni_unit_out_floats(&b->unit[b->units - 1], batch))) {
      snprintf(buf, cap, "block %d", (int)i);
      return;
    }
  }
  if (net->has_head && any_nonfinite(net->head.a, pni_unit_out_floats(&net->head, batch))) {
    snprintf(buf, cap, "the head");
    return;
  }
  if (any_nonfinite(net->pooled, (int64_t)batch * net->features)) {
    snprintf(buf, cap, "the global average pool");
    return;
  }
  snprintf(buf, cap, "the classifier");
}

static int unit_owns(const pni_unit *u, int64_t offset) {
  return offset == u->weight || offset == u->gamma || offset == u->beta;
}

/* Parts in forward order: 0 the stem, 1 + i block i, then the head and the
 * classifier. */
static int32_t part_of(const pnas_net *net, int64_t offset) {
  if (unit_owns(&net->stem, offset)) return 0;
  for (int32_t i = 0; i < net->block_count; i++) {
    for (int32_t u = 0; u < net->blocks[i].units; u++) {
      if (unit_owns(&net->blocks[i].unit[u], offset)) return 1 + i;
    }
  }
  if (net->has_head && unit_owns(&net->head, offset)) return 1 + net->block_count;
  return 2 + net->block_count;
}

static void name_part(const pnas_net *net, int32_t part, char *buf, size_t cap) {
  if (part == 0)
    snprintf(buf, cap, "the stem");
  else if (part <= net->block_count)
    snprintf(buf, cap, "block %d", (int)(part - 1));
  else if (part == 1 + net->block_count)
    snprintf(buf, cap, "the head");
  else
    snprintf(buf, cap, "the classifier");
}

int pni_net_step_finite(const pnas_net *net, int with_update, char *buf, size_t cap) {
  pnas_sgd_options sgd = net->sgd;
  if (!with_update) {
    /* Learning rate, momentum and decay 0: only the gradient can be bad. */
    sgd.lr = 0.0f;
    sgd.momentum = 0.0f;
    sgd.weight_decay = 0.0f;
  }
  /* The blame goes to the part nearest the loss that has a bad segment. One
   * pass over the segments, the owner looked up only for bad ones: every
   * training step runs this, and a search over parts times segments times
   * units grew with the cube of the depth. */
  int32_t worst = -1;
  for (int32_t s = 0; s < net->segment_count; s++) {
    const pni_param_segment *seg = &net->segments[s];
    if (pni_sgd_segments_check(&net->arena, seg, 1, &sgd) < 0) continue;
    const int32_t part = part_of(net, seg->offset);
    if (part > worst) worst = part;
  }
  if (worst < 0) return 1;
  name_part(net, worst, buf, cap);
  return 0;
}
