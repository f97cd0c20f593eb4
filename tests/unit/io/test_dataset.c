/* SPDX-License-Identifier: MIT */
/* Data sets and batchers through the public API, as a host uses them:
 * creation from memory, info, subsets, the class-balanced split, batches
 * (order, epochs, drop_last, normalisation, crop and flip), argument and
 * handle checks, no allocation in pnas_batcher_next(), no leaks on failure,
 * and the real Fashion-MNIST when it is installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

#define SENTINEL ((pnas_dataset *)(uintptr_t)0x1234)

static void expect_error(pnas_context *ctx, pnas_status got, pnas_status want, const char *needle) {
  ck_assert_msg(got == want, "status %d (%s), expected %d; message: %s", (int)got,
                pnas_status_string(got), (int)want, pnas_context_last_error(ctx));
  if (needle != NULL) {
    const char *msg = pnas_context_last_error(ctx);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
  }
}

/* Image i carries its index in its first two bytes (base 255, plus one) and
 * its label plus one in the third, so that any copy can be traced back.
 * Every byte is in 1..255: never 0, which padding produces. */
static uint8_t *identifiable_pixels(int64_t count, size_t image_bytes, const int32_t *labels) {
  uint8_t *pixels = malloc((size_t)count * image_bytes);
  ck_assert_ptr_nonnull(pixels);
  for (int64_t i = 0; i < count; i++) {
    uint8_t *p = pixels + (size_t)i * image_bytes;
    for (size_t b = 0; b < image_bytes; b++) p[b] = (uint8_t)(1 + (i * 7 + b * 13) % 255);
    if (image_bytes >= 3) {
      p[0] = (uint8_t)(1 + i % 255);
      p[1] = (uint8_t)(1 + i / 255);
      p[2] = (uint8_t)(1 + labels[i]);
    }
  }
  return pixels;
}

static pnas_dataset *make_dataset(pnas_context *ctx, int64_t count, int32_t height, int32_t width,
                                  int32_t channels, int32_t classes, const int32_t *labels) {
  const size_t image_bytes = (size_t)height * width * channels;
  uint8_t *pixels = identifiable_pixels(count, image_bytes, labels);
  pnas_dataset *ds = NULL;
  const pnas_status status = pnas_dataset_create_from_memory(ctx, pixels, labels, count, height,
                                                             width, channels, classes, &ds);
  ck_assert_msg(status == PNAS_OK, "%s", pnas_context_last_error(ctx));
  free(pixels);
  return ds;
}

static pnas_dataset_info info_of(const pnas_dataset *ds) {
  pnas_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ck_assert_int_eq(pnas_dataset_get_info(ds, &info), PNAS_OK);
  return info;
}

/* The bytes of every image, in order, read back through a plain batcher
 * (x / 255 with mean 0 and std 1 inverts exactly after rounding). */
static void read_back(pnas_dataset *ds, uint8_t *pixels, int32_t *labels) {
  const pnas_dataset_info info = info_of(ds);
  const size_t image_bytes = (size_t)info.height * info.width * info.channels;
  pnas_batcher_options o;
  ck_assert_int_eq(pnas_batcher_options_init(&o), PNAS_OK);
  o.batch_size = 16;
  o.shuffle = 0;
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  int64_t done = 0;
  for (;;) {
    const float *images = NULL;
    const int32_t *batch_labels = NULL;
    int32_t n = -1;
    ck_assert_int_eq(pnas_batcher_next_view(b, &images, &batch_labels, &n), PNAS_OK);
    if (n == 0) break;
    for (size_t k = 0; k < (size_t)n * image_bytes; k++) {
      pixels[(size_t)done * image_bytes + k] = (uint8_t)lroundf(images[k] * 255.0f);
    }
    memcpy(labels + done, batch_labels, (size_t)n * sizeof *labels);
    done += n;
  }
  ck_assert_int_eq(done, info.count);
  pnas_batcher_destroy(b);
}

static int64_t id_of(const uint8_t *image) {
  return (int64_t)(image[0] - 1) + (int64_t)(image[1] - 1) * 255;
}

/* ------------------------------------------------------------------ */

START_TEST(batcher_options_init_fills_defaults) {
  pnas_batcher_options o;
  memset(&o, 0xab, sizeof o);
  ck_assert_int_eq(pnas_batcher_options_init(&o), PNAS_OK);
  ck_assert_uint_eq(o.struct_size, sizeof o);
  ck_assert_int_eq(o.batch_size, 64);
  ck_assert_int_eq(o.shuffle, 1);
  ck_assert_int_eq(o.drop_last, 0);
  ck_assert_int_eq(o.crop_padding, 0);
  ck_assert_int_eq(o.horizontal_flip, 0);
  for (int c = 0; c < 3; c++) {
    ck_assert(o.mean[c] == 0.0f);
    ck_assert(o.std[c] == 1.0f);
  }
  ck_assert_uint_eq(o.seed, 0);
  ck_assert_int_eq(pnas_batcher_options_init(NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_batcher_options_init_sized(&o, 8), PNAS_ERR_INVALID_ARGUMENT);
  /* A newer caller's bigger struct: unknown members zeroed, nothing past it written. */
  unsigned char buf[sizeof(pnas_batcher_options) + 32];
  memset(buf, 0x5a, sizeof buf);
  ck_assert_int_eq(pnas_batcher_options_init_sized((pnas_batcher_options *)buf,
                                                   sizeof(pnas_batcher_options) + 16),
                   PNAS_OK);
  for (size_t i = sizeof(pnas_batcher_options); i < sizeof(pnas_batcher_options) + 16; i++) {
    ck_assert_uint_eq(buf[i], 0);
  }
  for (size_t i = sizeof(pnas_batcher_options) + 16; i < sizeof buf; i++) {
    ck_assert_uint_eq(buf[i], 0x5a);
  }
}
END_TEST

START_TEST(create_from_memory_copies_and_validates) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  const int32_t labels[4] = {0, 1, 2, 1};
  uint8_t pixels[4 * 2 * 3 * 3];
  for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i * 5);
  pnas_dataset *ds = SENTINEL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 2, 3, 3, 3, &ds),
                   PNAS_OK);
  memset(pixels, 0, sizeof pixels); /* the data set holds a copy */
  const pnas_dataset_info info = info_of(ds);
  ck_assert_int_eq(info.count, 4);
  ck_assert_int_eq(info.height, 2);
  ck_assert_int_eq(info.width, 3);
  ck_assert_int_eq(info.channels, 3);
  ck_assert_int_eq(info.classes, 3);
  uint8_t back[sizeof pixels];
  int32_t back_labels[4];
  read_back(ds, back, back_labels);
  for (size_t i = 0; i < sizeof back; i++) ck_assert_uint_eq(back[i], (uint8_t)(i * 5));
  for (int i = 0; i < 4; i++) ck_assert_int_eq(back_labels[i], labels[i]);
  pnas_dataset_destroy(ds);

  const int32_t bad_labels[4] = {0, 1, 3, -1};
  pnas_dataset *out = SENTINEL;
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, NULL, labels, 4, 2, 3, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "images is NULL");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, NULL, 4, 2, 3, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "labels is NULL");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 2, 3, 3, 3, NULL),
               PNAS_ERR_INVALID_ARGUMENT, "out_dataset is NULL");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 0, 2, 3, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "count is 0");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 0, 3, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "height is 0");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 2, 70000, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "width is 70000");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 2, 3, 65, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "channels is 65");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, labels, 4, 2, 3, 3, 1, &out),
               PNAS_ERR_INVALID_ARGUMENT, "classes is 1");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, bad_labels, 4, 2, 3, 3, 3, &out),
               PNAS_ERR_INVALID_ARGUMENT, "labels[2] is 3");
  expect_error(ctx, pnas_dataset_create_from_memory(ctx, pixels, bad_labels, 4, 2, 3, 3, 4, &out),
               PNAS_ERR_INVALID_ARGUMENT, "labels[3] is -1");
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(pnas_dataset_create_from_memory(NULL, pixels, labels, 4, 2, 3, 3, 3, &out),
                   PNAS_ERR_INVALID_ARGUMENT);
  uint64_t not_a_context[64];
  memset(not_a_context, 0x11, sizeof not_a_context);
  ck_assert_int_eq(pnas_dataset_create_from_memory((pnas_context *)not_a_context, pixels, labels, 4,
                                                   2, 3, 3, 3, &out),
                   PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_dataset_load_idx(NULL, "a", "b", &out), PNAS_ERR_INVALID_ARGUMENT);
  expect_error(ctx, pnas_dataset_load_idx(ctx, NULL, "b", &out), PNAS_ERR_INVALID_ARGUMENT,
               "images_path is NULL");
  expect_error(ctx, pnas_dataset_load_idx(ctx, "a", NULL, &out), PNAS_ERR_INVALID_ARGUMENT,
               "labels_path is NULL");
  expect_error(ctx, pnas_dataset_load_idx(ctx, "a", "b", NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_dataset is NULL");
  expect_error(ctx, pnas_dataset_load_png_folder(ctx, NULL, &out), PNAS_ERR_INVALID_ARGUMENT,
               "root is NULL");
  expect_error(ctx, pnas_dataset_load_png_folder(ctx, "x", NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_dataset is NULL");
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}
END_TEST

START_TEST(get_info_respects_struct_size_and_handles) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  const int32_t labels[3] = {0, 1, 0};
  pnas_dataset *ds = make_dataset(ctx, 3, 4, 5, 1, 2, labels);
  /* Too small for the first version of the struct. */
  pnas_dataset_info info;
  memset(&info, 0x77, sizeof info);
  info.struct_size = 8;
  expect_error(ctx, pnas_dataset_get_info(ds, &info), PNAS_ERR_INVALID_ARGUMENT,
               "struct_size is 8");
  ck_assert_int_eq(info.height, 0x77777777);
  /* A newer caller's bigger struct: our members filled, the rest zeroed. */
  unsigned char buf[sizeof(pnas_dataset_info) + 24];
  memset(buf, 0x5a, sizeof buf);
  pnas_dataset_info *big = (pnas_dataset_info *)buf;
  big->struct_size = sizeof(pnas_dataset_info) + 16;
  ck_assert_int_eq(pnas_dataset_get_info(ds, big), PNAS_OK);
  ck_assert_uint_eq(big->struct_size, sizeof(pnas_dataset_info) + 16);
  ck_assert_int_eq(big->count, 3);
  ck_assert_int_eq(big->width, 5);
  ck_assert_int_eq(big->classes, 2);
  for (size_t i = sizeof(pnas_dataset_info); i < sizeof(pnas_dataset_info) + 16; i++) {
    ck_assert_uint_eq(buf[i], 0);
  }
  for (size_t i = sizeof(pnas_dataset_info) + 16; i < sizeof buf; i++) {
    ck_assert_uint_eq(buf[i], 0x5a);
  }
  expect_error(ctx, pnas_dataset_get_info(ds, NULL), PNAS_ERR_INVALID_ARGUMENT, "out_info is NULL");
  ck_assert_int_eq(pnas_dataset_get_info(NULL, &info), PNAS_ERR_INVALID_ARGUMENT);
  /* Other memory, or another kind of handle, is a wrong handle. */
  uint64_t garbage[64];
  memset(garbage, 0x11, sizeof garbage);
  ck_assert_int_eq(pnas_dataset_get_info((pnas_dataset *)garbage, &info), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_dataset_get_info((pnas_dataset *)ctx, &info), PNAS_ERR_WRONG_HANDLE);
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, NULL, &b), PNAS_OK);
  ck_assert_int_eq(pnas_dataset_get_info((pnas_dataset *)b, &info), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(pnas_batcher_reset((pnas_batcher *)ds), PNAS_ERR_WRONG_HANDLE);
  pnas_dataset_destroy((pnas_dataset *)garbage); /* ignored */
  pnas_batcher_destroy((pnas_batcher *)garbage); /* ignored */
  pnas_dataset_destroy(NULL);
  pnas_batcher_destroy(NULL);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(subset_copies_a_range) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  int32_t labels[10];
  for (int i = 0; i < 10; i++) labels[i] = i % 3;
  pnas_dataset *ds = make_dataset(ctx, 10, 2, 2, 1, 3, labels);
  pnas_dataset *sub = NULL;
  ck_assert_int_eq(pnas_dataset_subset(ds, 4, 5, &sub), PNAS_OK);
  const pnas_dataset_info info = info_of(sub);
  ck_assert_int_eq(info.count, 5);
  ck_assert_int_eq(info.classes, 3); /* kept from the parent */
  uint8_t pixels[5 * 4];
  int32_t back[5];
  read_back(sub, pixels, back);
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(id_of(pixels + 4 * i), 4 + i);
    ck_assert_int_eq(back[i], labels[4 + i]);
  }
  pnas_dataset_destroy(sub);
  pnas_dataset *out = SENTINEL;
  expect_error(ctx, pnas_dataset_subset(ds, -1, 2, &out), PNAS_ERR_INVALID_ARGUMENT,
               "[-1, -1 + 2)");
  expect_error(ctx, pnas_dataset_subset(ds, 0, 0, &out), PNAS_ERR_INVALID_ARGUMENT,
               "of the 10 images");
  expect_error(ctx, pnas_dataset_subset(ds, 6, 5, &out), PNAS_ERR_INVALID_ARGUMENT, "[6, 6 + 5)");
  expect_error(ctx, pnas_dataset_subset(ds, 10, 1, &out), PNAS_ERR_INVALID_ARGUMENT, NULL);
  expect_error(ctx, pnas_dataset_subset(ds, 1, INT64_MAX, &out), PNAS_ERR_INVALID_ARGUMENT, NULL);
  expect_error(ctx, pnas_dataset_subset(ds, 0, 1, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_subset is NULL");
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(pnas_dataset_subset(NULL, 0, 1, &out), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_dataset_subset(ds, 0, 10, &sub), PNAS_OK);
  pnas_dataset_destroy(sub);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

/* 29 images of 3 classes with 10, 7 and 12 members, interleaved. */
static const int32_t split_labels[29] = {0, 2, 1, 0, 2, 2, 1, 0, 0, 2, 1, 2, 0, 0, 2,
                                         1, 2, 0, 2, 1, 0, 2, 2, 0, 1, 2, 0, 2, 1};

static void split_ids(pnas_context *ctx, pnas_dataset *ds, int32_t per_class, int64_t *held_ids,
                      int64_t *rest_ids) {
  pnas_dataset *rest = NULL, *held = NULL;
  ck_assert_msg(pnas_dataset_split_balanced(ds, per_class, &rest, &held) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  const pnas_dataset_info hi = info_of(held), ri = info_of(rest);
  ck_assert_int_eq(hi.count, 3 * per_class);
  ck_assert_int_eq(ri.count, 29 - 3 * per_class);
  ck_assert_int_eq(hi.classes, 3);
  ck_assert_int_eq(ri.classes, 3);
  uint8_t pixels[29 * 4 * 3];
  int32_t labels[29];
  read_back(held, pixels, labels);
  for (int64_t i = 0; i < hi.count; i++) held_ids[i] = id_of(pixels + 12 * i);
  for (int64_t i = 0; i < hi.count; i++) ck_assert_int_eq(labels[i], split_labels[held_ids[i]]);
  read_back(rest, pixels, labels);
  for (int64_t i = 0; i < ri.count; i++) rest_ids[i] = id_of(pixels + 12 * i);
  for (int64_t i = 0; i < ri.count; i++) ck_assert_int_eq(labels[i], split_labels[rest_ids[i]]);
  pnas_dataset_destroy(rest);
  pnas_dataset_destroy(held);
}

START_TEST(split_is_balanced_disjoint_and_complete) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  int64_t held[29], rest[29];
  split_ids(ctx, ds, 3, held, rest);
  int per_class[3] = {0, 0, 0}, seen[29] = {0};
  for (int i = 0; i < 9; i++) {
    per_class[split_labels[held[i]]]++;
    seen[held[i]]++;
    if (i > 0) ck_assert_int_lt(held[i - 1], held[i]); /* original order */
  }
  ck_assert_int_eq(per_class[0], 3);
  ck_assert_int_eq(per_class[1], 3);
  ck_assert_int_eq(per_class[2], 3);
  int rest_per_class[3] = {0, 0, 0};
  for (int i = 0; i < 20; i++) {
    rest_per_class[split_labels[rest[i]]]++;
    seen[rest[i]]++;
    if (i > 0) ck_assert_int_lt(rest[i - 1], rest[i]);
  }
  ck_assert_int_eq(rest_per_class[0], 7);
  ck_assert_int_eq(rest_per_class[1], 4);
  ck_assert_int_eq(rest_per_class[2], 9);
  for (int i = 0; i < 29; i++) ck_assert_int_eq(seen[i], 1); /* disjoint, union == all */
  /* The largest legal per_class leaves one image of the smallest class. */
  split_ids(ctx, ds, 6, held, rest);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(split_is_deterministic_given_the_seed) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  int64_t a[29], b[29], c[29], rest[29];
  ck_assert_int_eq(pnas_context_set_seed(ctx, 5), PNAS_OK);
  split_ids(ctx, ds, 4, a, rest);
  ck_assert_int_eq(pnas_context_set_seed(ctx, 5), PNAS_OK);
  split_ids(ctx, ds, 4, b, rest);
  ck_assert_mem_eq(a, b, 12 * sizeof a[0]);
  /* The generator moved on: the next split (and another seed) differs. */
  split_ids(ctx, ds, 4, c, rest);
  ck_assert(memcmp(a, c, 12 * sizeof a[0]) != 0);
  ck_assert_int_eq(pnas_context_set_seed(ctx, 6), PNAS_OK);
  split_ids(ctx, ds, 4, c, rest);
  ck_assert(memcmp(a, c, 12 * sizeof a[0]) != 0);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(split_rejects_bad_arguments) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_dataset *rest = SENTINEL, *held = SENTINEL;
  expect_error(ctx, pnas_dataset_split_balanced(ds, 7, &rest, &held), PNAS_ERR_INVALID_ARGUMENT,
               "class 1 has 7 images");
  expect_error(ctx, pnas_dataset_split_balanced(ds, 0, &rest, &held), PNAS_ERR_INVALID_ARGUMENT,
               "per_class is 0");
  expect_error(ctx, pnas_dataset_split_balanced(ds, 1, NULL, &held), PNAS_ERR_INVALID_ARGUMENT,
               "out_rest is NULL");
  expect_error(ctx, pnas_dataset_split_balanced(ds, 1, &rest, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_held_out is NULL");
  expect_error(ctx, pnas_dataset_split_balanced(ds, 1, &rest, &rest), PNAS_ERR_INVALID_ARGUMENT,
               "same place");
  ck_assert_int_eq(pnas_dataset_split_balanced(NULL, 1, &rest, &held), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(rest, SENTINEL);
  ck_assert_ptr_eq(held, SENTINEL);
  /* A class with no image at all (here, after a subset) cannot give any. */
  pnas_dataset *sub = NULL;
  ck_assert_int_eq(pnas_dataset_subset(ds, 0, 2, &sub), PNAS_OK); /* labels 0, 2 */
  expect_error(ctx, pnas_dataset_split_balanced(sub, 1, &rest, &held), PNAS_ERR_INVALID_ARGUMENT,
               "class 0 has 1 images");
  pnas_dataset_destroy(sub);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Batcher */

static pnas_batcher *make_batcher(pnas_dataset *ds, int32_t batch, int shuffle, int drop_last,
                                  uint64_t seed) {
  pnas_batcher_options o;
  ck_assert_int_eq(pnas_batcher_options_init(&o), PNAS_OK);
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.drop_last = drop_last;
  o.seed = seed;
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  return b;
}

/* One epoch: the ids in order and the batch sizes (ending with the 0). */
static int run_epoch(pnas_batcher *b, int64_t *ids, int32_t *sizes) {
  float images[4 * 2 * 2 * 3];
  int32_t labels[4];
  int total = 0, batches = 0;
  for (;;) {
    int32_t n = -1;
    ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
    sizes[batches++] = n;
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      uint8_t first[2] = {(uint8_t)lroundf(images[i * 12] * 255.0f),
                          (uint8_t)lroundf(images[i * 12 + 1] * 255.0f)};
      ids[total] = id_of(first);
      ck_assert_int_eq(labels[i], split_labels[ids[total]]);
      total++;
    }
    ck_assert_int_lt(batches, 100);
  }
  return total;
}

static void assert_permutation(const int64_t *ids, int n) {
  int seen[29] = {0};
  for (int i = 0; i < n; i++) {
    ck_assert(ids[i] >= 0 && ids[i] < n);
    seen[ids[i]]++;
  }
  for (int i = 0; i < n; i++) ck_assert_int_eq(seen[i], 1);
}

START_TEST(batcher_epochs_are_permutations_ending_in_zero) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher *b = make_batcher(ds, 4, 1, 0, 7);
  int64_t first[29], second[29];
  int32_t sizes[16];
  ck_assert_int_eq(run_epoch(b, first, sizes), 29);
  for (int i = 0; i < 7; i++) ck_assert_int_eq(sizes[i], 4);
  ck_assert_int_eq(sizes[7], 1);
  ck_assert_int_eq(sizes[8], 0);
  assert_permutation(first, 29);
  ck_assert_int_eq(run_epoch(b, second, sizes), 29); /* the call after 0 restarts */
  assert_permutation(second, 29);
  ck_assert(memcmp(first, second, sizeof first) != 0); /* a new order */
  int in_order = 1;
  for (int i = 0; i < 29; i++) in_order &= first[i] == i;
  ck_assert(!in_order);
  /* Same seed, same sequence of orders. */
  pnas_batcher *again = make_batcher(ds, 4, 1, 0, 7);
  int64_t replay[29];
  run_epoch(again, replay, sizes);
  ck_assert_mem_eq(replay, first, sizeof first);
  pnas_batcher_destroy(again);
  /* Without shuffling: the stored order, every epoch. */
  pnas_batcher *plain = make_batcher(ds, 4, 0, 0, 7);
  for (int epoch = 0; epoch < 2; epoch++) {
    run_epoch(plain, first, sizes);
    for (int i = 0; i < 29; i++) ck_assert_int_eq(first[i], i);
  }
  pnas_batcher_destroy(plain);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_drop_last_skips_the_short_batch) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher *b = make_batcher(ds, 4, 1, 1, 3);
  int64_t ids[29];
  int32_t sizes[16];
  for (int epoch = 0; epoch < 3; epoch++) {
    ck_assert_int_eq(run_epoch(b, ids, sizes), 28);
    for (int i = 0; i < 7; i++) ck_assert_int_eq(sizes[i], 4);
    ck_assert_int_eq(sizes[7], 0);
    int seen[29] = {0};
    for (int i = 0; i < 28; i++) ck_assert_int_eq(seen[ids[i]]++, 0);
  }
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_reset_restarts_the_epoch) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher *b = make_batcher(ds, 4, 0, 0, 0);
  float images[4 * 12];
  int32_t labels[4], n = 0;
  for (int i = 0; i < 3; i++) ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
  ck_assert_int_eq(pnas_batcher_reset(b), PNAS_OK);
  int64_t ids[29];
  int32_t sizes[16];
  ck_assert_int_eq(run_epoch(b, ids, sizes), 29);
  for (int i = 0; i < 29; i++) ck_assert_int_eq(ids[i], i);
  pnas_batcher_destroy(b);
  b = make_batcher(ds, 4, 1, 0, 0);
  ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
  ck_assert_int_eq(pnas_batcher_reset(b), PNAS_OK);
  ck_assert_int_eq(run_epoch(b, ids, sizes), 29);
  assert_permutation(ids, 29);
  ck_assert_int_eq(pnas_batcher_reset(NULL), PNAS_ERR_INVALID_ARGUMENT);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_normalises_per_channel) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  /* Four channels: the fourth uses the third's mean and std. */
  const int32_t labels[3] = {0, 1, 1};
  pnas_dataset *ds = make_dataset(ctx, 3, 2, 3, 4, 2, labels);
  uint8_t pixels[3 * 2 * 3 * 4];
  int32_t back[3];
  read_back(ds, pixels, back);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 3;
  o.shuffle = 0;
  const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
  for (int c = 0; c < 3; c++) {
    o.mean[c] = (float)mean[c];
    o.std[c] = (float)std[c];
  }
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  float images[3 * 2 * 3 * 4];
  int32_t out_labels[3], n = 0;
  ck_assert_int_eq(pnas_batcher_next(b, images, out_labels, &n), PNAS_OK);
  ck_assert_int_eq(n, 3);
  for (size_t i = 0; i < sizeof pixels; i++) {
    const int c = (int)(i % 4) < 3 ? (int)(i % 4) : 2;
    const double want = (pixels[i] / 255.0 - mean[c]) / std[c];
    ck_assert_msg(fabs(images[i] - want) <= 1e-5 * (1 + fabs(want)), "value %zu: %g != %g", i,
                  (double)images[i], want);
  }
  for (int i = 0; i < 3; i++) ck_assert_int_eq(out_labels[i], labels[i]);
  /* A byte 0 and 255 land where the formula says. */
  const uint8_t extremes[2 * 2] = {0, 255, 255, 0};
  const int32_t two_labels[2] = {0, 1};
  pnas_dataset *ext = NULL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(ctx, extremes, two_labels, 2, 1, 2, 1, 2, &ext),
                   PNAS_OK);
  pnas_batcher *eb = NULL;
  o.mean[0] = 0.5f;
  o.std[0] = 0.25f;
  ck_assert_int_eq(pnas_batcher_create(ext, &o, &eb), PNAS_OK);
  ck_assert_int_eq(pnas_batcher_next(eb, images, out_labels, &n), PNAS_OK);
  ck_assert_int_eq(n, 2);
  ck_assert(images[0] == -2.0f);
  ck_assert(images[1] == 2.0f);
  ck_assert(images[2] == 2.0f);
  ck_assert(images[3] == -2.0f);
  pnas_batcher_destroy(eb);
  pnas_dataset_destroy(ext);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

/* Image `src` (h x w x c bytes) zero-padded by p, cropped at (oy, ox) in
 * the padded image, then mirrored if flip: the reference of one
 * augmentation, as bytes. */
static void reference_augment(const uint8_t *src, int h, int w, int c, int p, int oy, int ox,
                              int flip, uint8_t *out) {
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      const int cx = flip ? w - 1 - x : x;
      const int sy = y + oy - p, sx = cx + ox - p;
      for (int k = 0; k < c; k++) {
        const int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        out[(y * w + x) * c + k] = inside ? src[(sy * w + sx) * c + k] : 0;
      }
    }
  }
}

START_TEST(batcher_crop_and_flip_give_shifted_and_mirrored_pixels) {
  /* Every augmented image must be exactly one of the (2p+1)^2 crops, each
   * plain or mirrored, of its source; over many draws every one of them
   * shows up. Pixels are never 0 and no two candidates coincide, so the
   * candidate is identified without knowing the generator. */
  enum { HH = 4, WW = 5, CC = 2, PAD = 1, SIDE = 2 * PAD + 1, COUNT = 3 };
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  const int32_t labels[COUNT] = {0, 1, 0};
  pnas_dataset *ds = make_dataset(ctx, COUNT, HH, WW, CC, 2, labels);
  uint8_t source[COUNT][HH * WW * CC];
  int32_t back[COUNT];
  read_back(ds, &source[0][0], back);
  for (int mode = 0; mode < 3; mode++) {
    const int crop = mode != 1, flip = mode != 0;
    pnas_batcher_options o;
    pnas_batcher_options_init(&o);
    o.batch_size = COUNT;
    o.shuffle = 0;
    o.crop_padding = crop ? PAD : 0;
    o.horizontal_flip = flip;
    o.seed = 1234;
    pnas_batcher *b = NULL;
    ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
    int hits[SIDE][SIDE][2];
    memset(hits, 0, sizeof hits);
    float images[COUNT * HH * WW * CC];
    int32_t out_labels[COUNT];
    for (int round = 0; round < 120; round++) {
      int32_t n = 0;
      ck_assert_int_eq(pnas_batcher_next(b, images, out_labels, &n), PNAS_OK);
      if (n == 0) continue;
      ck_assert_int_eq(n, COUNT);
      for (int i = 0; i < COUNT; i++) {
        uint8_t got[HH * WW * CC];
        for (int k = 0; k < HH * WW * CC; k++) {
          got[k] = (uint8_t)lroundf(images[i * HH * WW * CC + k] * 255.0f);
        }
        int matches = 0;
        for (int oy = 0; oy < SIDE; oy++) {
          for (int ox = 0; ox < SIDE; ox++) {
            for (int f = 0; f < 2; f++) {
              uint8_t want[HH * WW * CC];
              reference_augment(source[i], HH, WW, CC, PAD, oy, ox, f, want);
              if (memcmp(got, want, sizeof want) != 0) continue;
              matches++;
              hits[oy][ox][f]++;
            }
          }
        }
        ck_assert_int_eq(matches, 1);
      }
    }
    for (int oy = 0; oy < SIDE; oy++) {
      for (int ox = 0; ox < SIDE; ox++) {
        for (int f = 0; f < 2; f++) {
          const int possible = (crop || (oy == PAD && ox == PAD)) && (flip || f == 0);
          if (possible) {
            ck_assert_msg(hits[oy][ox][f] > 0, "mode %d never drew (%d,%d,%d)", mode, oy, ox, f);
          } else {
            ck_assert_int_eq(hits[oy][ox][f], 0);
          }
        }
      }
    }
    pnas_batcher_destroy(b);
  }
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_next_checks_arguments_and_allocates_nothing) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 4;
  o.crop_padding = 1;
  o.horizontal_flip = 1;
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  float images[4 * 12];
  int32_t labels[4], n = 99;
  expect_error(ctx, pnas_batcher_next(b, NULL, labels, &n), PNAS_ERR_INVALID_ARGUMENT,
               "pnas_batcher_next: images is NULL");
  expect_error(ctx, pnas_batcher_next(b, images, NULL, &n), PNAS_ERR_INVALID_ARGUMENT,
               "labels is NULL");
  expect_error(ctx, pnas_batcher_next(b, images, labels, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_count is NULL");
  ck_assert_int_eq(n, 99);
  ck_assert_int_eq(pnas_batcher_next(NULL, images, labels, &n), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_batcher_next((pnas_batcher *)ds, images, labels, &n),
                   PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(n, 99);
  const float *view = NULL;
  const int32_t *view_labels = NULL;
  expect_error(ctx, pnas_batcher_next_view(b, NULL, &view_labels, &n), PNAS_ERR_INVALID_ARGUMENT,
               "out_images is NULL");
  expect_error(ctx, pnas_batcher_next_view(b, &view, NULL, &n), PNAS_ERR_INVALID_ARGUMENT,
               "out_labels is NULL");
  expect_error(ctx, pnas_batcher_next_view(b, &view, &view_labels, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_count is NULL");
  ck_assert_int_eq(pnas_batcher_next_view(NULL, &view, &view_labels, &n),
                   PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(view);
  /* Many epochs, both kinds of call: not one allocation. */
  const long before = state.calls;
  for (int i = 0; i < 100; i++) {
    ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
    ck_assert_int_eq(pnas_batcher_next_view(b, &view, &view_labels, &n), PNAS_OK);
    ck_assert_int_eq(pnas_batcher_reset(b), PNAS_OK);
  }
  ck_assert_int_eq(state.calls, before);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_next_view_matches_next) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 5;
  o.crop_padding = 1;
  o.horizontal_flip = 1;
  o.seed = 99;
  pnas_batcher *a = NULL, *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &a), PNAS_OK);
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  for (int i = 0; i < 20; i++) {
    float images[5 * 12];
    int32_t labels[5], n = -1, m = -1;
    const float *view = NULL;
    const int32_t *view_labels = NULL;
    ck_assert_int_eq(pnas_batcher_next(a, images, labels, &n), PNAS_OK);
    ck_assert_int_eq(pnas_batcher_next_view(b, &view, &view_labels, &m), PNAS_OK);
    ck_assert_int_eq(n, m);
    ck_assert_ptr_nonnull(view);
    ck_assert_mem_eq(images, view, (size_t)n * 12 * sizeof(float));
    ck_assert_mem_eq(labels, view_labels, (size_t)n * sizeof(int32_t));
  }
  pnas_batcher_destroy(a);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(batcher_create_rejects_bad_options) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
  pnas_batcher *sentinel = (pnas_batcher *)(uintptr_t)0x4321, *b = sentinel;
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 0;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT, "batch_size is 0");
  pnas_batcher_options_init(&o);
  o.struct_size = 3;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT, "struct_size is 3");
  pnas_batcher_options_init(&o);
  o.std[1] = 0.0f;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT, "std[1] is 0");
  o.std[1] = NAN;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT, "std[1]");
  pnas_batcher_options_init(&o);
  o.mean[2] = INFINITY;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT,
               "mean[2] is not finite");
  pnas_batcher_options_init(&o);
  o.crop_padding = -1;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT,
               "crop_padding is -1");
  pnas_batcher_options_init(&o);
  o.batch_size = 30;
  o.drop_last = 1;
  expect_error(ctx, pnas_batcher_create(ds, &o, &b), PNAS_ERR_INVALID_ARGUMENT,
               "would give no batch");
  expect_error(ctx, pnas_batcher_create(ds, NULL, NULL), PNAS_ERR_INVALID_ARGUMENT,
               "out_batcher is NULL");
  ck_assert_int_eq(pnas_batcher_create(NULL, NULL, &b), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(b, sentinel);
  /* A batch bigger than the data set is fine without drop_last. */
  o.drop_last = 0;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  float images[30 * 12];
  int32_t labels[30], n = 0;
  ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
  ck_assert_int_eq(n, 29);
  ck_assert_int_eq(pnas_batcher_next(b, images, labels, &n), PNAS_OK);
  ck_assert_int_eq(n, 0);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

/* Fails each allocation of the public operations in turn: out of memory,
 * out-parameters untouched, nothing leaked. */
START_TEST(allocation_failures_leak_nothing) {
  for (int op = 0; op < 4; op++) {
    long k = 1;
    for (;; k++) {
      counting_alloc state = {0};
      pnas_context *ctx = counting_context(&state);
      pnas_dataset *ds = op == 0 ? NULL : make_dataset(ctx, 29, 2, 2, 3, 3, split_labels);
      const long live_before = state.live;
      state.fail_at = state.calls + k;
      pnas_dataset *a = SENTINEL, *b2 = SENTINEL;
      pnas_batcher *bat = (pnas_batcher *)(uintptr_t)0x99;
      pnas_status status = PNAS_OK;
      if (op == 0) {
        uint8_t pixels[29 * 12] = {0};
        status = pnas_dataset_create_from_memory(ctx, pixels, split_labels, 29, 2, 2, 3, 3, &a);
      } else if (op == 1) {
        status = pnas_dataset_subset(ds, 3, 10, &a);
      } else if (op == 2) {
        status = pnas_dataset_split_balanced(ds, 2, &a, &b2);
      } else {
        status = pnas_batcher_create(ds, NULL, &bat);
      }
      const int injected = state.calls >= state.fail_at;
      if (status == PNAS_OK) {
        ck_assert(!injected);
        if (a != SENTINEL) pnas_dataset_destroy(a);
        if (b2 != SENTINEL) pnas_dataset_destroy(b2);
        if (op == 3) pnas_batcher_destroy(bat);
      } else {
        expect_error(ctx, status, PNAS_ERR_OUT_OF_MEMORY, "out of memory");
        ck_assert_ptr_eq(a, SENTINEL);
        ck_assert_ptr_eq(b2, SENTINEL);
        ck_assert_ptr_eq(bat, (pnas_batcher *)(uintptr_t)0x99);
        ck_assert_int_eq(state.live, live_before);
      }
      pnas_dataset_destroy(ds);
      ck_assert_int_eq(state.live, 1);
      pnas_context_destroy(ctx);
      if (!injected) break;
    }
    ck_assert_int_gt(k, 2);
  }
}
END_TEST

/* ------------------------------------------------------------------ */
/* The real Fashion-MNIST */

#define FMNIST "/usr/share/datasets/fashion-mnist/"

START_TEST(fashion_mnist_loads_when_installed) {
  if (access(FMNIST "train-images-idx3-ubyte.gz", R_OK) != 0 ||
      access(FMNIST "t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
    printf("SKIP fashion_mnist_loads_when_installed: no Fashion-MNIST in " FMNIST "\n");
    return;
  }
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *train = NULL, *test = NULL;
  ck_assert_msg(pnas_dataset_load_idx(ctx, FMNIST "train-images-idx3-ubyte.gz",
                                      FMNIST "train-labels-idx1-ubyte.gz", &train) == PNAS_OK,
                "%s", pnas_context_last_error(ctx));
  ck_assert_msg(pnas_dataset_load_idx(ctx, FMNIST "t10k-images-idx3-ubyte.gz",
                                      FMNIST "t10k-labels-idx1-ubyte.gz", &test) == PNAS_OK,
                "%s", pnas_context_last_error(ctx));
  const pnas_dataset_info ti = info_of(train), si = info_of(test);
  ck_assert_int_eq(ti.count, 60000);
  ck_assert_int_eq(si.count, 10000);
  ck_assert_int_eq(ti.height, 28);
  ck_assert_int_eq(ti.width, 28);
  ck_assert_int_eq(ti.channels, 1);
  ck_assert_int_eq(ti.classes, 10);
  ck_assert_int_eq(si.height, 28);
  ck_assert_int_eq(si.classes, 10);
  /* Class counts, the first labels, the first image's pixel sum and the
   * mean pixel, as computed independently from the same files. */
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 1000;
  o.shuffle = 0;
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(train, &o, &b), PNAS_OK);
  int64_t per_class[10] = {0};
  double sum = 0.0;
  int32_t first_labels[10] = {0};
  long first_image_sum = 0;
  int batches = 0;
  for (;;) {
    const float *images = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0;
    ck_assert_int_eq(pnas_batcher_next_view(b, &images, &labels, &n), PNAS_OK);
    if (n == 0) break;
    if (batches++ == 0) {
      memcpy(first_labels, labels, sizeof first_labels);
      for (int p = 0; p < 784; p++) first_image_sum += lroundf(images[p] * 255.0f);
    }
    for (int i = 0; i < n; i++) per_class[labels[i]]++;
    for (size_t p = 0; p < (size_t)n * 784; p++) sum += images[p];
  }
  for (int k = 0; k < 10; k++) ck_assert_int_eq(per_class[k], 6000);
  const int32_t expected_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  ck_assert_mem_eq(first_labels, expected_first, sizeof expected_first);
  ck_assert_int_eq(first_image_sum, 76247);
  ck_assert_msg(fabs(sum / (60000.0 * 784.0) - 0.2860406) < 1e-6, "mean %.7f",
                sum / (60000.0 * 784.0));
  pnas_batcher_destroy(b);
  /* The held-out split the search uses: 100 per class from train. */
  pnas_dataset *rest = NULL, *held = NULL;
  ck_assert_int_eq(pnas_dataset_split_balanced(train, 100, &rest, &held), PNAS_OK);
  ck_assert_int_eq(info_of(held).count, 1000);
  ck_assert_int_eq(info_of(rest).count, 59000);
  pnas_dataset_destroy(rest);
  pnas_dataset_destroy(held);
  pnas_dataset_destroy(train);
  pnas_dataset_destroy(test);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("dataset");
  TCase *ds = tcase_create("dataset");
  tcase_add_test(ds, create_from_memory_copies_and_validates);
  tcase_add_test(ds, get_info_respects_struct_size_and_handles);
  tcase_add_test(ds, subset_copies_a_range);
  tcase_add_test(ds, split_is_balanced_disjoint_and_complete);
  tcase_add_test(ds, split_is_deterministic_given_the_seed);
  tcase_add_test(ds, split_rejects_bad_arguments);
  tcase_add_test(ds, allocation_failures_leak_nothing);
  suite_add_tcase(s, ds);
  TCase *b = tcase_create("batcher");
  tcase_add_test(b, batcher_options_init_fills_defaults);
  tcase_add_test(b, batcher_epochs_are_permutations_ending_in_zero);
  tcase_add_test(b, batcher_drop_last_skips_the_short_batch);
  tcase_add_test(b, batcher_reset_restarts_the_epoch);
  tcase_add_test(b, batcher_normalises_per_channel);
  tcase_add_test(b, batcher_crop_and_flip_give_shifted_and_mirrored_pixels);
  tcase_add_test(b, batcher_next_checks_arguments_and_allocates_nothing);
  tcase_add_test(b, batcher_next_view_matches_next);
  tcase_add_test(b, batcher_create_rejects_bad_options);
  suite_add_tcase(s, b);
  TCase *real = tcase_create("fashion-mnist");
  tcase_add_test(real, fashion_mnist_loads_when_installed);
  suite_add_tcase(s, real);
  return s;
}
