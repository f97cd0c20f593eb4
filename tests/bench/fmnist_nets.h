/* SPDX-License-Identifier: MIT */
/* The Fashion-MNIST reference networks of the benchmarks and examples,
 * built through the public API: stem 3x3 s1 1->16, MBConv(k3, e1) 16->8,
 * four stages of two MBConv layers (widths 24, 40, 80, 96; first-layer
 * strides 2, 2, 1, 1; the second layer of each stage has the residual),
 * head 1x1 -> 256, average pool, FC 256 -> 10. The uniform networks use the
 * same kernel and expansion in every stage layer; the searched one is the
 * network the default search found (docs/results.md). */
#ifndef PNAS_FMNIST_NETS_H
#define PNAS_FMNIST_NETS_H

#include <pnas/pnas.h>

/* kernel[i] and expand[i] of the eight stage layers; expand 0 is a
 * searched zero op: the layer is an identity and computes nothing, so it
 * is left out. */
static inline pnas_status fmnist_arch(pnas_context *ctx, const int32_t *kernel,
                                      const int32_t *expand, pnas_arch **out) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = info.input_width = 28;
  info.input_channels = 1;
  info.classes = 10;
  info.stem_channels = 16;
  info.stem_kernel = 3;
  info.stem_stride = 1;
  info.head_channels = 256;
  info.dropout = 0.0f;
  pnas_arch *arch = NULL;
  pnas_status st = pnas_arch_create(ctx, &info, &arch);
  if (st != PNAS_OK) return st;
  pnas_block_info b;
  pnas_block_info_init(&b);
  b.out_channels = 8;
  b.kernel = 3;
  b.expand = 1;
  b.stride = 1;
  st = pnas_arch_append_block(arch, &b);
  const int32_t widths[4] = {24, 40, 80, 96}, strides[4] = {2, 2, 1, 1};
  for (int s = 0; s < 4 && st == PNAS_OK; s++) {
    for (int layer = 0; layer < 2 && st == PNAS_OK; layer++) {
      if (expand[2 * s + layer] == 0) continue;
      b.out_channels = widths[s];
      b.kernel = kernel[2 * s + layer];
      b.expand = expand[2 * s + layer];
      b.stride = layer == 0 ? strides[s] : 1;
      st = pnas_arch_append_block(arch, &b);
    }
  }
  if (st != PNAS_OK) {
    pnas_arch_destroy(arch);
    return st;
  }
  *out = arch;
  return PNAS_OK;
}

static inline pnas_status fmnist_uniform_arch(pnas_context *ctx, int32_t kernel, int32_t expand,
                                              pnas_arch **out) {
  const int32_t k[8] = {kernel, kernel, kernel, kernel, kernel, kernel, kernel, kernel};
  const int32_t e[8] = {expand, expand, expand, expand, expand, expand, expand, expand};
  return fmnist_arch(ctx, k, e, out);
}

/* The searched network of docs/results.md: k7e3 id k7e3 id k7e3 id k3e3 id. */
static inline pnas_status fmnist_searched_arch(pnas_context *ctx, pnas_arch **out) {
  const int32_t k[8] = {7, 0, 7, 0, 7, 0, 3, 0}, e[8] = {3, 0, 3, 0, 3, 0, 3, 0};
  return fmnist_arch(ctx, k, e, out);
}

#endif
