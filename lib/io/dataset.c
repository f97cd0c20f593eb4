/* SPDX-License-Identifier: MIT */
/* The data set object: creation, copies, the class-balanced split and the
 * byte-to-float conversion shared with the batcher. */
#include "io/dataset.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

size_t pni_dataset_image_bytes(const pnas_dataset *ds) {
  return (size_t)ds->height * (size_t)ds->width * (size_t)ds->channels;
}

pnas_status pni_dataset_new(pnas_context *ctx, int64_t count, int32_t height, int32_t width,
                            int32_t channels, int32_t classes, pnas_dataset **out) {
  int overflow = 0;
  const size_t image_bytes = (size_t)height * (size_t)width * (size_t)channels;
  const size_t pixel_bytes = pni_mul_size((size_t)count, image_bytes, &overflow);
  const size_t label_bytes = pni_mul_size((size_t)count, sizeof(int32_t), &overflow);
  if (count < 1 || overflow) {
    return pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY,
                    "a data set of %lld images of %dx%dx%d does not fit in memory",
                    (long long)count, (int)height, (int)width, (int)channels);
  }
  pnas_dataset *ds = pni_calloc(ctx, 1, sizeof *ds);
  if (ds == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  ds->ctx = ctx;
  ds->images = pni_alloc(ctx, pixel_bytes);
  ds->labels = pni_alloc(ctx, label_bytes);
  if (ds->images == NULL || ds->labels == NULL) {
    pni_free(ctx, ds->images);
    pni_free(ctx, ds->labels);
    pni_free(ctx, ds);
    return PNAS_ERR_OUT_OF_MEMORY;
  }
  ds->tag = PNI_TAG_DATASET;
  ds->count = count;
  ds->height = height;
  ds->width = width;
  ds->channels = channels;
  ds->classes = classes;
  *out = ds;
  return PNAS_OK;
}

void pni_dataset_free(pnas_dataset *ds) {
  if (ds == NULL) return;
  pnas_context *ctx = ds->ctx;
  ds->tag = PNI_TAG_DEAD;
  pni_free(ctx, ds->images);
  pni_free(ctx, ds->labels);
  pni_free(ctx, ds);
}

pnas_status pni_dataset_subset(const pnas_dataset *ds, int64_t offset, int64_t count,
                               pnas_dataset **out) {
  pnas_dataset *sub = NULL;
  const pnas_status status =
      pni_dataset_new(ds->ctx, count, ds->height, ds->width, ds->channels, ds->classes, &sub);
  if (status != PNAS_OK) return status;
  const size_t image_bytes = pni_dataset_image_bytes(ds);
  memcpy(sub->images, ds->images + (size_t)offset * image_bytes, (size_t)count * image_bytes);
  memcpy(sub->labels, ds->labels + offset, (size_t)count * sizeof *sub->labels);
  *out = sub;
  return PNAS_OK;
}

/* Copies the images whose mask byte equals `keep`, in their original order. */
static void copy_masked(const pnas_dataset *ds, const uint8_t *mask, uint8_t keep,
                        pnas_dataset *dst) {
  const size_t image_bytes = pni_dataset_image_bytes(ds);
  int64_t j = 0;
  for (int64_t i = 0; i < ds->count; i++) {
    if (mask[i] != keep) continue;
    memcpy(dst->images + (size_t)j * image_bytes, ds->images + (size_t)i * image_bytes,
           image_bytes);
    dst->labels[j] = ds->labels[i];
    j++;
  }
}

pnas_status pni_dataset_split_balanced(const pnas_dataset *ds, int32_t per_class, pni_rng *rng,
                                       pnas_dataset **out_rest, pnas_dataset **out_held_out) {
  pnas_context *ctx = ds->ctx;
  const size_t classes = (size_t)ds->classes;
  const size_t count = (size_t)ds->count;
  pnas_status status = PNAS_OK;
  pnas_dataset *rest = NULL, *held = NULL;
  /* Images grouped by class (a counting sort): class k's indices, in their
   * original order, are by_class[start[k] .. start[k + 1]). */
  int64_t *start = pni_calloc(ctx, classes + 1, sizeof *start);
  int64_t *by_class = pni_calloc(ctx, count, sizeof *by_class);
  uint8_t *held_mask = pni_calloc(ctx, count, 1);
  if (start == NULL || by_class == NULL || held_mask == NULL) {
    status = PNAS_ERR_OUT_OF_MEMORY;
    goto done;
  }
  for (size_t i = 0; i < count; i++) start[ds->labels[i] + 1]++;
  for (size_t k = 0; k < classes; k++) {
    const int64_t in_class = start[k + 1];
    if (in_class <= per_class) {
      status = pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                        "pnas_dataset_split_balanced: class %zu has %lld images; per_class "
                        "(%d) must be less than the smallest class",
                        k, (long long)in_class, (int)per_class);
      goto done;
    }
    start[k + 1] += start[k];
  }
  for (size_t i = 0; i < count; i++) {
    const size_t k = (size_t)ds->labels[i];
    by_class[start[k]++] = (int64_t)i;
  }
  /* The loop above advanced start[k] to the end of class k: step back. */
  for (size_t k = classes; k > 0; k--) start[k] = start[k - 1];
  start[0] = 0;
  /* A partial Fisher-Yates shuffle per class picks per_class indices
   * uniformly without replacement; classes are drawn in label order so the
   * result depends only on the generator's state. */
  for (size_t k = 0; k < classes; k++) {
    int64_t *idx = by_class + start[k];
    const uint64_t n = (uint64_t)(start[k + 1] - start[k]);
    for (uint64_t i = 0; i < (uint64_t)per_class; i++) {
      const uint64_t j = i + pni_rng_below(rng, n - i);
      const int64_t t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      held_mask[idx[i]] = 1;
    }
  }
  const int64_t held_count = (int64_t)per_class * ds->classes;
  status = pni_dataset_new(ctx, ds->count - held_count, ds->height, ds->width, ds->channels,
                           ds->classes, &rest);
  if (status != PNAS_OK) goto done;
  status =
      pni_dataset_new(ctx, held_count, ds->height, ds->width, ds->channels, ds->classes, &held);
  if (status != PNAS_OK) goto done;
  copy_masked(ds, held_mask, 0, rest);
  copy_masked(ds, held_mask, 1, held);
  *out_rest = rest;
  *out_held_out = held;
  rest = held = NULL;
done:
  pni_dataset_free(rest);
  pni_dataset_free(held);
  pni_free(ctx, start);
  pni_free(ctx, by_class);
  pni_free(ctx, held_mask);
  return status;
}

pnas_status pni_normalization_check(pnas_context *ctx, const char *prefix, const float mean[3],
                                    const float std[3]) {
  for (int c = 0; c < 3; c++) {
    if (!isfinite(mean[c])) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%smean[%d] is not finite", prefix, c);
    }
    if (!isfinite(std[c]) || !(std[c] > 0.0f)) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "%sstd[%d] is %g; it must be positive and finite", prefix, c, (double)std[c]);
    }
  }
  return PNAS_OK;
}

void pni_normalize_table(const float mean[3], const float std[3], float table[3][256]) {
  for (int c = 0; c < 3; c++) {
    for (int v = 0; v < 256; v++) table[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
  }
}

void pni_dataset_read_normalized(const pnas_dataset *ds, int64_t first, int64_t n,
                                 const float mean[3], const float std[3], float *out,
                                 int32_t *labels) {
  float table[3][256];
  pni_normalize_table(mean, std, table);
  const size_t channels = (size_t)ds->channels;
  const size_t pixels = (size_t)n * (size_t)ds->height * (size_t)ds->width;
  const uint8_t *src = ds->images + (size_t)first * pni_dataset_image_bytes(ds);
  for (size_t p = 0; p < pixels; p++) {
    for (size_t c = 0; c < channels; c++) {
      out[p * channels + c] = table[c < 3 ? c : 2][src[p * channels + c]];
    }
  }
  if (labels != NULL) memcpy(labels, ds->labels + first, (size_t)n * sizeof *labels);
}
