/* SPDX-License-Identifier: MIT */
/* Data sets (8-bit NHWC images and int32 labels in memory) and batchers.
 * Private. */
#ifndef PNI_IO_DATASET_H
#define PNI_IO_DATASET_H

#include <stdint.h>

#include "core/context.h"
#include "core/rng.h"

struct pnas_dataset {
  uint32_t tag; /* PNI_TAG_DATASET */
  pnas_context *ctx;
  int64_t count;
  int32_t height, width, channels, classes;
  uint8_t *images; /* count * height * width * channels */
  int32_t *labels; /* count */
};

/* Writes images [first, first + n) of ds, scaled to [0, 1] and normalised
 * with mean/std per channel (3 values; channels past the third use the
 * third's), into out (NHWC floats) and their labels into labels (may be
 * NULL). No allocation, no augmentation. */
void pni_dataset_read_normalized(const pnas_dataset *ds, int64_t first, int64_t n,
                                 const float mean[3], const float std[3], float *out,
                                 int32_t *labels);

#endif /* PNI_IO_DATASET_H */
