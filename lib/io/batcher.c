/* SPDX-License-Identifier: MIT */
/* The batcher: a data set as float32 NHWC batches, normalised, shuffled
 * per epoch and optionally augmented, with every buffer allocated once.
 *
 * Random draws come from the batcher's own generator, seeded from its
 * options, in this order: at the start of each epoch (creation included)
 * one Fisher-Yates shuffle when shuffling; then for each image, in batch
 * order, the crop offsets (row, then column) when cropping and one draw for
 * the flip when flipping. The same seed and data set give the same batches. */
#include <string.h>

#include "core/alloc.h"
#include "io/dataset.h"

static void shuffle_order(pnas_batcher *b) {
  for (int64_t i = b->ds->count - 1; i > 0; i--) {
    const int64_t j = (int64_t)pni_rng_below(&b->rng, (uint64_t)i + 1);
    const int64_t t = b->order[i];
    b->order[i] = b->order[j];
    b->order[j] = t;
  }
}

void pni_batcher_reset(pnas_batcher *b) {
  b->position = 0;
  if (b->shuffle) shuffle_order(b);
}

void pni_batcher_destroy(pnas_batcher *b) {
  if (b == NULL) return;
  pnas_context *ctx = b->ctx;
  b->tag = PNI_TAG_DEAD;
  pni_free(ctx, b->order);
  pni_aligned_free(ctx, b->images);
  pni_free(ctx, b->labels);
  pni_free(ctx, b);
}

pnas_status pni_batcher_create(const pnas_dataset *ds, const pnas_batcher_options *options,
                               pnas_batcher **out) {
  pnas_context *ctx = ds->ctx;
  int overflow = 0;
  const size_t batch_floats =
      pni_mul_size((size_t)options->batch_size, pni_dataset_image_bytes(ds), &overflow);
  const size_t batch_bytes = pni_mul_size(batch_floats, sizeof(float), &overflow);
  if (overflow) {
    return pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY,
                    "out of memory: a batch of %d images of %dx%dx%d floats is too large",
                    (int)options->batch_size, (int)ds->height, (int)ds->width, (int)ds->channels);
  }
  pnas_batcher *b = pni_calloc(ctx, 1, sizeof *b);
  if (b == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  b->ctx = ctx;
  b->order = pni_calloc(ctx, (size_t)ds->count, sizeof *b->order);
  b->images = pni_aligned_alloc(ctx, batch_bytes);
  b->labels = pni_calloc(ctx, (size_t)options->batch_size, sizeof *b->labels);
  if (b->order == NULL || b->images == NULL || b->labels == NULL) {
    pni_batcher_destroy(b);
    return PNAS_ERR_OUT_OF_MEMORY;
  }
  b->ds = ds;
  b->batch_size = options->batch_size;
  b->shuffle = options->shuffle != 0;
  b->drop_last = options->drop_last != 0;
  b->horizontal_flip = options->horizontal_flip != 0;
  b->crop_padding = options->crop_padding;
  pni_rng_seed(&b->rng, options->seed);
  pni_normalize_table(options->mean, options->std, b->table);
  for (int64_t i = 0; i < ds->count; i++) b->order[i] = i;
  pni_batcher_reset(b);
  b->tag = PNI_TAG_BATCHER;
  *out = b;
  return PNAS_OK;
}

/* Converts one pixel's channels through the normalisation table. */
static void put_pixel(const pnas_batcher *b, const uint8_t *src, float *dst, int32_t channels) {
  for (int32_t c = 0; c < channels; c++) dst[c] = b->table[c < 3 ? c : 2][src[c]];
}

/* A padding pixel is a zero byte, normalised like any other, as padding
 * before normalisation (torchvision's RandomCrop) produces. */
static void put_padding(const pnas_batcher *b, float *dst, int32_t channels) {
  for (int32_t c = 0; c < channels; c++) dst[c] = b->table[c < 3 ? c : 2][0];
}

/* Writes image `index` into dst: output pixel (y, x) is padded-image pixel
 * (y + dy, x' + dx) where x' = W - 1 - x when flipped, else x. That is a
 * crop of the zero-padded image at offset (dy + p, dx + p) followed by a
 * horizontal flip. */
static void write_image(pnas_batcher *b, int64_t index, float *dst) {
  const pnas_dataset *ds = b->ds;
  const int32_t height = ds->height, width = ds->width, channels = ds->channels;
  const size_t image_bytes = pni_dataset_image_bytes(ds);
  const uint8_t *src = ds->images + (size_t)index * image_bytes;
  int32_t dy = 0, dx = 0, flip = 0;
  if (b->crop_padding > 0) {
    const uint64_t span = 2 * (uint64_t)b->crop_padding + 1;
    dy = (int32_t)pni_rng_below(&b->rng, span) - b->crop_padding;
    dx = (int32_t)pni_rng_below(&b->rng, span) - b->crop_padding;
  }
  if (b->horizontal_flip) flip = (int32_t)(pni_rng_next_u64(&b->rng) >> 63);
  if (dy == 0 && dx == 0 && !flip) {
    const size_t pixels = (size_t)height * (size_t)width;
    for (size_t p = 0; p < pixels; p++) {
      put_pixel(b, src + p * (size_t)channels, dst + p * (size_t)channels, channels);
    }
    return;
  }
  for (int32_t y = 0; y < height; y++) {
    const int32_t sy = y + dy;
    float *row = dst + (size_t)y * (size_t)width * (size_t)channels;
    for (int32_t x = 0; x < width; x++) {
      const int32_t sx = (flip ? width - 1 - x : x) + dx;
      float *out = row + (size_t)x * (size_t)channels;
      if (sy < 0 || sy >= height || sx < 0 || sx >= width) {
        put_padding(b, out, channels);
      } else {
        put_pixel(b, src + ((size_t)sy * (size_t)width + (size_t)sx) * (size_t)channels, out,
                  channels);
      }
    }
  }
}

void pni_batcher_next(pnas_batcher *b, float *images, int32_t *labels, int32_t *out_count) {
  int64_t left = b->ds->count - b->position;
  if (b->drop_last && left < b->batch_size) left = 0;
  if (left <= 0) {
    pni_batcher_reset(b);
    *out_count = 0;
    return;
  }
  const int32_t n = left < b->batch_size ? (int32_t)left : b->batch_size;
  const size_t image_floats = pni_dataset_image_bytes(b->ds);
  for (int32_t i = 0; i < n; i++) {
    const int64_t index = b->order[b->position + i];
    write_image(b, index, images + (size_t)i * image_floats);
    labels[i] = b->ds->labels[index];
  }
  b->position += n;
  *out_count = n;
}
