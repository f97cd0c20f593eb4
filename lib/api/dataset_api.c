/* SPDX-License-Identifier: MIT */
/* Exported functions of the "Data sets and batches" section of pnas.h:
 * argument and handle checks, then the io layer. */
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "io/dataset.h"

/* The first published layouts; callers' structs are at least this big. */
#define BATCHER_OPTIONS_V1_SIZE (offsetof(pnas_batcher_options, seed) + sizeof(uint64_t))
#define DATASET_INFO_V1_SIZE (offsetof(pnas_dataset_info, classes) + sizeof(int32_t))

static int dataset_is_live(const pnas_dataset *ds) {
  return ds != NULL && ds->tag == PNI_TAG_DATASET;
}

static int batcher_is_live(const pnas_batcher *b) {
  return b != NULL && b->tag == PNI_TAG_BATCHER;
}

/* Status for a handle that failed its liveness check (see
 * pni_handle_status); macros so that __func__ names the exported function. */
#define dataset_status(ds) pni_handle_status((ds), __func__, "pnas_dataset")
#define batcher_status(b) pni_handle_status((b), __func__, "pnas_batcher")

static pnas_status null_argument(pnas_context *ctx, const char *function, const char *name) {
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: %s is NULL", function, name);
}

PNAS_API pnas_status pnas_dataset_load_idx(pnas_context *ctx, const char *images_path,
                                           const char *labels_path, pnas_dataset **out_dataset) {
  static const char fn[] = "pnas_dataset_load_idx";
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (images_path == NULL) return null_argument(ctx, fn, "images_path");
  if (labels_path == NULL) return null_argument(ctx, fn, "labels_path");
  if (out_dataset == NULL) return null_argument(ctx, fn, "out_dataset");
  return pni_dataset_load_idx(ctx, images_path, labels_path, out_dataset);
}

PNAS_API pnas_status pnas_dataset_load_png_folder(pnas_context *ctx, const char *root,
                                                  pnas_dataset **out_dataset) {
  static const char fn[] = "pnas_dataset_load_png_folder";
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (root == NULL) return null_argument(ctx, fn, "root");
  if (out_dataset == NULL) return null_argument(ctx, fn, "out_dataset");
  return pni_dataset_load_png_folder(ctx, root, out_dataset);
}

static pnas_status check_dimension(pnas_context *ctx, const char *name, int32_t value,
                                   int32_t limit) {
  if (value >= 1 && value <= limit) return PNAS_OK;
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                  "pnas_dataset_create_from_memory: %s is %d; it must be between 1 and %d", name,
                  (int)value, (int)limit);
}

PNAS_API pnas_status pnas_dataset_create_from_memory(pnas_context *ctx, const uint8_t *images,
                                                     const int32_t *labels, int64_t count,
                                                     int32_t height, int32_t width,
                                                     int32_t channels, int32_t classes,
                                                     pnas_dataset **out_dataset) {
  static const char fn[] = "pnas_dataset_create_from_memory";
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (images == NULL) return null_argument(ctx, fn, "images");
  if (labels == NULL) return null_argument(ctx, fn, "labels");
  if (out_dataset == NULL) return null_argument(ctx, fn, "out_dataset");
  if (count < 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "%s: count is %lld; it must be at least 1", fn,
                    (long long)count);
  }
  pnas_status status = check_dimension(ctx, "height", height, PNI_DATASET_MAX_SIDE);
  if (status == PNAS_OK) status = check_dimension(ctx, "width", width, PNI_DATASET_MAX_SIDE);
  if (status == PNAS_OK) {
    status = check_dimension(ctx, "channels", channels, PNI_DATASET_MAX_CHANNELS);
  }
  if (status != PNAS_OK) return status;
  if (classes < 2 || classes > PNI_DATASET_MAX_CLASSES) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: classes is %d; it must be between 2 and %d", fn, (int)classes,
                    PNI_DATASET_MAX_CLASSES);
  }
  for (int64_t i = 0; i < count; i++) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "%s: labels[%lld] is %d; labels must be in [0, %d)", fn, (long long)i,
                      (int)labels[i], (int)classes);
    }
  }
  pnas_dataset *ds = NULL;
  status = pni_dataset_new(ctx, count, height, width, channels, classes, &ds);
  if (status != PNAS_OK) return status;
  memcpy(ds->images, images, (size_t)count * pni_dataset_image_bytes(ds));
  memcpy(ds->labels, labels, (size_t)count * sizeof *labels);
  *out_dataset = ds;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_dataset_split_balanced(pnas_dataset *ds, int32_t per_class,
                                                 pnas_dataset **out_rest,
                                                 pnas_dataset **out_held_out) {
  static const char fn[] = "pnas_dataset_split_balanced";
  if (!dataset_is_live(ds)) return dataset_status(ds);
  if (out_rest == NULL) return null_argument(ds->ctx, fn, "out_rest");
  if (out_held_out == NULL) return null_argument(ds->ctx, fn, "out_held_out");
  if (out_rest == out_held_out) {
    return pni_fail(ds->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: out_rest and out_held_out point to the same place", fn);
  }
  if (per_class < 1) {
    return pni_fail(ds->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: per_class is %d; it must be at least 1", fn, (int)per_class);
  }
  return pni_dataset_split_balanced(ds, per_class, &ds->ctx->rng, out_rest, out_held_out);
}

PNAS_API pnas_status pnas_dataset_subset(pnas_dataset *ds, int64_t offset, int64_t count,
                                         pnas_dataset **out_subset) {
  static const char fn[] = "pnas_dataset_subset";
  if (!dataset_is_live(ds)) return dataset_status(ds);
  if (out_subset == NULL) return null_argument(ds->ctx, fn, "out_subset");
  if (offset < 0 || count < 1 || offset > ds->count || count > ds->count - offset) {
    return pni_fail(ds->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: images [%lld, %lld + %lld) are not a non-empty part of the %lld "
                    "images",
                    fn, (long long)offset, (long long)offset, (long long)count,
                    (long long)ds->count);
  }
  return pni_dataset_subset(ds, offset, count, out_subset);
}

PNAS_API pnas_status pnas_dataset_get_info(const pnas_dataset *ds, pnas_dataset_info *out_info) {
  static const char fn[] = "pnas_dataset_get_info";
  if (!dataset_is_live(ds)) return dataset_status(ds);
  if (out_info == NULL) return null_argument(ds->ctx, fn, "out_info");
  const size_t size = out_info->struct_size;
  if (size < DATASET_INFO_V1_SIZE) {
    return pni_fail(ds->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: out_info->struct_size is %zu; set it to sizeof(pnas_dataset_info) "
                    "(at least %zu)",
                    fn, size, (size_t)DATASET_INFO_V1_SIZE);
  }
  pnas_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = size;
  info.count = ds->count;
  info.height = ds->height;
  info.width = ds->width;
  info.channels = ds->channels;
  info.classes = ds->classes;
  /* A caller built against a newer header gets zeros for members this
   * library does not know. */
  if (size > sizeof info) memset((unsigned char *)out_info + sizeof info, 0, size - sizeof info);
  memcpy(out_info, &info, size < sizeof info ? size : sizeof info);
  return PNAS_OK;
}

PNAS_API void pnas_dataset_destroy(pnas_dataset *ds) {
  if (!dataset_is_live(ds)) {
    if (ds != NULL) dataset_status(ds); /* a live handle of another kind: say so */
    return;
  }
  pni_dataset_free(ds);
}

PNAS_API pnas_status pnas_batcher_options_init_sized(pnas_batcher_options *options,
                                                     size_t struct_size) {
  if (options == NULL || struct_size < BATCHER_OPTIONS_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_batcher_options defaults;
  memset(&defaults, 0, sizeof defaults);
  defaults.struct_size = struct_size;
  defaults.batch_size = 64;
  defaults.shuffle = 1;
  for (int c = 0; c < 3; c++) defaults.std[c] = 1.0f;
  if (struct_size > sizeof defaults) {
    memset((unsigned char *)options + sizeof defaults, 0, struct_size - sizeof defaults);
  }
  memcpy(options, &defaults, struct_size < sizeof defaults ? struct_size : sizeof defaults);
  return PNAS_OK;
}

static pnas_status check_batcher_options(pnas_context *ctx, const pnas_dataset *ds,
                                         const pnas_batcher_options *o) {
  static const char fn[] = "pnas_batcher_create";
  if (o->struct_size < BATCHER_OPTIONS_V1_SIZE || o->struct_size > sizeof *o) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: options->struct_size is %zu; this library accepts %zu to %zu (was the "
                    "struct filled by pnas_batcher_options_init()?)",
                    fn, o->struct_size, (size_t)BATCHER_OPTIONS_V1_SIZE, sizeof *o);
  }
  if (o->batch_size < 1) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: options->batch_size is %d; it must be at least 1", fn, (int)o->batch_size);
  }
  if (o->drop_last && o->batch_size > ds->count) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: options->drop_last with batch_size %d over %lld images would give no "
                    "batch at all",
                    fn, (int)o->batch_size, (long long)ds->count);
  }
  if (o->crop_padding < 0 || o->crop_padding > PNI_DATASET_MAX_SIDE) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "%s: options->crop_padding is %d; it must be between 0 and %d", fn,
                    (int)o->crop_padding, PNI_DATASET_MAX_SIDE);
  }
  return pni_normalization_check(ctx, "pnas_batcher_create: options->", o->mean, o->std);
}

PNAS_API pnas_status pnas_batcher_create(pnas_dataset *ds, const pnas_batcher_options *options,
                                         pnas_batcher **out_batcher) {
  if (!dataset_is_live(ds)) return dataset_status(ds);
  if (out_batcher == NULL) return null_argument(ds->ctx, "pnas_batcher_create", "out_batcher");
  pnas_batcher_options defaults;
  if (options == NULL) {
    pnas_batcher_options_init(&defaults);
    options = &defaults;
  }
  const pnas_status status = check_batcher_options(ds->ctx, ds, options);
  if (status != PNAS_OK) return status;
  return pni_batcher_create(ds, options, out_batcher);
}

PNAS_API pnas_status pnas_batcher_next(pnas_batcher *batcher, float *images, int32_t *labels,
                                       int32_t *out_count) {
  static const char fn[] = "pnas_batcher_next";
  if (!batcher_is_live(batcher)) return batcher_status(batcher);
  if (images == NULL) return null_argument(batcher->ctx, fn, "images");
  if (labels == NULL) return null_argument(batcher->ctx, fn, "labels");
  if (out_count == NULL) return null_argument(batcher->ctx, fn, "out_count");
  pni_batcher_next(batcher, images, labels, out_count);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_batcher_next_view(pnas_batcher *batcher, const float **out_images,
                                            const int32_t **out_labels, int32_t *out_count) {
  static const char fn[] = "pnas_batcher_next_view";
  if (!batcher_is_live(batcher)) return batcher_status(batcher);
  if (out_images == NULL) return null_argument(batcher->ctx, fn, "out_images");
  if (out_labels == NULL) return null_argument(batcher->ctx, fn, "out_labels");
  if (out_count == NULL) return null_argument(batcher->ctx, fn, "out_count");
  pni_batcher_next(batcher, batcher->images, batcher->labels, out_count);
  *out_images = batcher->images;
  *out_labels = batcher->labels;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_batcher_reset(pnas_batcher *batcher) {
  if (!batcher_is_live(batcher)) return batcher_status(batcher);
  pni_batcher_reset(batcher);
  return PNAS_OK;
}

PNAS_API void pnas_batcher_destroy(pnas_batcher *batcher) {
  if (!batcher_is_live(batcher)) {
    if (batcher != NULL) batcher_status(batcher); /* a live handle of another kind: say so */
    return;
  }
  pni_batcher_destroy(batcher);
}

/* Batcher state: "PBST", u32 version 1, i64 count, i64 position,
 * u64 x 4 generator, i64 order[count]. */
#define BATCHER_STATE_MAGIC 0x54534250u /* "PBST" little endian */

PNAS_API pnas_status pnas_batcher_get_state(const pnas_batcher *batcher, void *buffer,
                                            size_t capacity, size_t *out_size) {
  if (!batcher_is_live(batcher)) return batcher_status(batcher);
  pnas_context *ctx = batcher->ctx;
  if (out_size == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_batcher_get_state: out_size is NULL");
  }
  const int64_t count = batcher->ds->count;
  const size_t size = 8 + 16 + 32 + sizeof(int64_t) * (size_t)count;
  *out_size = size;
  if (buffer == NULL) return PNAS_OK;
  if (capacity < size) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_batcher_get_state: the buffer has %zu bytes; the state needs %zu",
                    capacity, size);
  }
  unsigned char *p = buffer;
  const uint32_t head[2] = {BATCHER_STATE_MAGIC, 1};
  memcpy(p, head, 8);
  memcpy(p + 8, &count, 8);
  memcpy(p + 16, &batcher->position, 8);
  memcpy(p + 24, batcher->rng.s, 32);
  memcpy(p + 56, batcher->order, sizeof(int64_t) * (size_t)count);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_batcher_set_state(pnas_batcher *batcher, const void *buffer,
                                            size_t size) {
  if (!batcher_is_live(batcher)) return batcher_status(batcher);
  pnas_context *ctx = batcher->ctx;
  const int64_t count = batcher->ds->count;
  if (buffer == NULL || size != 56 + sizeof(int64_t) * (size_t)count) {
    return pni_fail(ctx, PNAS_ERR_FORMAT,
                    "pnas_batcher_set_state: %s (a state of this batcher has %zu bytes)",
                    buffer == NULL ? "buffer is NULL" : "wrong size",
                    56 + sizeof(int64_t) * (size_t)count);
  }
  const unsigned char *p = buffer;
  uint32_t head[2];
  int64_t stored_count, position;
  memcpy(head, p, 8);
  memcpy(&stored_count, p + 8, 8);
  memcpy(&position, p + 16, 8);
  if (head[0] != BATCHER_STATE_MAGIC || head[1] != 1 || stored_count != count ||
      position < 0 || position > count) {
    return pni_fail(ctx, PNAS_ERR_FORMAT,
                    "pnas_batcher_set_state: not a state of a batcher over %lld images",
                    (long long)count);
  }
  /* The order must be a permutation, or batches would repeat images. */
  uint8_t *seen = pni_calloc(ctx, (size_t)count, 1);
  if (seen == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  const unsigned char *order = p + 56;
  for (int64_t i = 0; i < count; i++) {
    int64_t v;
    memcpy(&v, order + 8 * i, 8);
    if (v < 0 || v >= count || seen[v]) {
      pni_free(ctx, seen);
      return pni_fail(ctx, PNAS_ERR_FORMAT,
                      "pnas_batcher_set_state: the stored order is not a permutation");
    }
    seen[v] = 1;
  }
  pni_free(ctx, seen);
  memcpy(batcher->order, order, sizeof(int64_t) * (size_t)count);
  batcher->position = position;
  memcpy(batcher->rng.s, p + 24, 32);
  return PNAS_OK;
}
