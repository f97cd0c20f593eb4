/* SPDX-License-Identifier: MIT */
/* Data sets (8-bit NHWC images and int32 labels in memory) and batchers.
 * Private. */
#ifndef PNI_IO_DATASET_H
#define PNI_IO_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/context.h"
#include "core/rng.h"

/* Largest image side and channel count accepted from any source. They keep
 * a hostile header from asking for absurd buffers and keep every size
 * product far from overflow; real image data sets are well inside them. */
#define PNI_DATASET_MAX_SIDE 65536
#define PNI_DATASET_MAX_CHANNELS 64
/* Per-class bookkeeping (the split) is sized by the class count. */
#define PNI_DATASET_MAX_CLASSES (1 << 20)

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

/* The float for every byte value of each of the 3 normalisation channels:
 * (v / 255 - mean[c]) / std[c]. One table makes the batcher and
 * pni_dataset_read_normalized agree bit for bit. */
void pni_normalize_table(const float mean[3], const float std[3], float table[3][256]);

/* PNAS_OK if every mean is finite and every std positive and finite;
 * otherwise PNAS_ERR_INVALID_ARGUMENT with a message "<prefix>std[1] is 0;
 * ..." (prefix such as "pnas_net_evaluate: normalization->"). For every
 * caller that takes the mean and std of batcher options. */
pnas_status pni_normalization_check(pnas_context *ctx, const char *prefix, const float mean[3],
                                    const float std[3]);

/* Bytes of one image (height * width * channels). */
size_t pni_dataset_image_bytes(const pnas_dataset *ds);

/* A data set with room for count images of the given shape; pixels and
 * labels are uninitialised. The shape must be within the limits above
 * (callers check it and name their source in the message). */
pnas_status pni_dataset_new(pnas_context *ctx, int64_t count, int32_t height, int32_t width,
                            int32_t channels, int32_t classes, pnas_dataset **out);

/* Releases ds and its buffers; NULL is a no-op. */
void pni_dataset_free(pnas_dataset *ds);

/* Loaders. Errors name the file; *out is untouched on failure. */
pnas_status pni_dataset_load_idx(pnas_context *ctx, const char *images_path,
                                 const char *labels_path, pnas_dataset **out);
pnas_status pni_dataset_load_png_folder(pnas_context *ctx, const char *root, pnas_dataset **out);

/* Copy of images [offset, offset + count), which the caller has checked. */
pnas_status pni_dataset_subset(const pnas_dataset *ds, int64_t offset, int64_t count,
                               pnas_dataset **out);

/* Draws per_class images of every class with rng into *out_held_out and
 * leaves the rest in *out_rest; both keep the original order. Fails with
 * PNAS_ERR_INVALID_ARGUMENT if some class has per_class images or fewer. */
pnas_status pni_dataset_split_balanced(const pnas_dataset *ds, int32_t per_class, pni_rng *rng,
                                       pnas_dataset **out_rest, pnas_dataset **out_held_out);

struct pnas_batcher {
  uint32_t tag; /* PNI_TAG_BATCHER */
  pnas_context *ctx;
  const pnas_dataset *ds;
  int32_t batch_size;
  int shuffle, drop_last, horizontal_flip;
  int32_t crop_padding;
  pni_rng rng;
  int64_t *order;      /* ds->count indices: this epoch's order */
  int64_t position;    /* next index into order */
  float *images;       /* batch_size images, for pnas_batcher_next_view */
  int32_t *labels;     /* batch_size labels, likewise */
  float table[3][256]; /* see pni_normalize_table */
};

/* Creates a batcher over ds with options already checked by the API layer. */
pnas_status pni_batcher_create(const pnas_dataset *ds, const pnas_batcher_options *options,
                               pnas_batcher **out);

/* Writes the next batch; *out_count = 0 ends the epoch and prepares the next. */
void pni_batcher_next(pnas_batcher *b, float *images, int32_t *labels, int32_t *out_count);

/* Starts the epoch again, in a new order when shuffling. */
void pni_batcher_reset(pnas_batcher *b);

void pni_batcher_destroy(pnas_batcher *b);

#endif /* PNI_IO_DATASET_H */
