/* SPDX-License-Identifier: MIT */
/* Data set loaders (IDX plain and gzip, PNG class folders) against files
 * written at test time with zlib and libpng, every bad-input case with its
 * status and message, no leaks on any error path (allocation failures
 * injected one by one), and the batcher's augmentation against a reference
 * that replays the documented draws of its generator. Linked with the
 * internal library for the generator and the data set's layout. */
#include <ftw.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "check_main.h"
#include "core/rng.h"
#include "counting_alloc.h"
#include "io/dataset.h"
#include "pnas/pnas.h"

/* ------------------------------------------------------------------ */
/* Temporary folder per test */

static char tmp_root[512];

static void make_tmp_root(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmp_root, sizeof tmp_root, "%s/pnas-io-XXXXXX",
           base != NULL && base[0] != '\0' ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmp_root));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tmp_root(void) {
  if (tmp_root[0] != '\0') nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  tmp_root[0] = '\0';
}

/* tmp_root/name in one of a few rotating buffers (several may be live). */
static const char *tmp_path(const char *name) {
  static char bufs[8][1024];
  static int next;
  char *buf = bufs[next++ % 8];
  snprintf(buf, sizeof bufs[0], "%s/%s", tmp_root, name);
  return buf;
}

static void make_dir(const char *name) {
  ck_assert_int_eq(mkdir(tmp_path(name), 0755), 0);
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

/* ------------------------------------------------------------------ */
/* IDX and gzip writers */

typedef struct bytes {
  uint8_t *data;
  size_t n;
} bytes;

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Header (magic, ndims sizes) followed by n payload bytes. */
static bytes idx_image(uint32_t magic, const uint32_t *dims, int ndims, const uint8_t *payload,
                       size_t n) {
  bytes b;
  b.n = 4 + 4 * (size_t)ndims + n;
  b.data = malloc(b.n);
  ck_assert_ptr_nonnull(b.data);
  put_be32(b.data, magic);
  for (int d = 0; d < ndims; d++) put_be32(b.data + 4 + 4 * d, dims[d]);
  if (n > 0) memcpy(b.data + 4 + 4 * ndims, payload, n);
  return b;
}

static bytes gzip_of(const uint8_t *data, size_t n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  bytes out;
  out.n = deflateBound(&z, (uLong)n) + 32;
  out.data = malloc(out.n);
  ck_assert_ptr_nonnull(out.data);
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)n;
  z.next_out = out.data;
  z.avail_out = (uInt)out.n;
  ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.n = z.total_out;
  deflateEnd(&z);
  return out;
}

static void write_gzip(const char *path, const uint8_t *data, size_t n) {
  bytes gz = gzip_of(data, n);
  write_bytes(path, gz.data, gz.n);
  free(gz.data);
}

enum { N_IMAGES = 7, H = 3, W = 4 };

static uint8_t pixel_value(size_t image, size_t p) {
  return (uint8_t)(image * 31 + p * 7 + 3);
}

/* A 7 x 3 x 4 image file (or 7 x 3 x 4 x C) and its labels (i % 5). */
static void write_idx_pair(const char *images, const char *labels, int channels, int gzip) {
  const size_t image_bytes = (size_t)H * W * channels;
  uint8_t pixels[N_IMAGES * H * W * 4];
  uint8_t label_bytes[N_IMAGES];
  for (size_t i = 0; i < N_IMAGES; i++) {
    for (size_t p = 0; p < image_bytes; p++) pixels[i * image_bytes + p] = pixel_value(i, p);
    label_bytes[i] = (uint8_t)(i % 5);
  }
  const uint32_t dims[4] = {N_IMAGES, H, W, (uint32_t)channels};
  const int ndims = channels == 1 ? 3 : 4;
  bytes img = idx_image(0x800u + (uint32_t)ndims, dims, ndims, pixels, N_IMAGES * image_bytes);
  const uint32_t ldims[1] = {N_IMAGES};
  bytes lab = idx_image(0x801, ldims, 1, label_bytes, N_IMAGES);
  if (gzip) {
    write_gzip(images, img.data, img.n);
    write_gzip(labels, lab.data, lab.n);
  } else {
    write_bytes(images, img.data, img.n);
    write_bytes(labels, lab.data, lab.n);
  }
  free(img.data);
  free(lab.data);
}

/* ------------------------------------------------------------------ */
/* Helpers for expected failures */

#define SENTINEL ((pnas_dataset *)(uintptr_t)0x1234)

static void expect_message(pnas_context *ctx, const char *needle) {
  if (needle == NULL) return;
  const char *msg = pnas_context_last_error(ctx);
  ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
}

/* Loads, expects `want`, both needles in the message, out untouched and
 * nothing leaked. */
static void expect_idx(const char *images, const char *labels, pnas_status want, const char *needle,
                       const char *needle2) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = SENTINEL;
  const pnas_status got = pnas_dataset_load_idx(ctx, images, labels, &ds);
  ck_assert_msg(got == want, "status %d (%s), expected %d; message: %s", (int)got,
                pnas_status_string(got), (int)want, pnas_context_last_error(ctx));
  ck_assert_ptr_eq(ds, SENTINEL);
  expect_message(ctx, needle);
  expect_message(ctx, needle2);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}

static void expect_png(const char *root, pnas_status want, const char *needle,
                       const char *needle2) {
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = SENTINEL;
  const pnas_status got = pnas_dataset_load_png_folder(ctx, root, &ds);
  ck_assert_msg(got == want, "status %d (%s), expected %d; message: %s", (int)got,
                pnas_status_string(got), (int)want, pnas_context_last_error(ctx));
  ck_assert_ptr_eq(ds, SENTINEL);
  expect_message(ctx, needle);
  expect_message(ctx, needle2);
  ck_assert_int_eq(state.live, 1);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}

/* Writes an image IDX file from a header and payload, plain or gzip. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const uint8_t *payload, size_t n, int gzip) {
  bytes b = idx_image(magic, dims, ndims, payload, n);
  if (gzip) {
    write_gzip(path, b.data, b.n);
  } else {
    write_bytes(path, b.data, b.n);
  }
  free(b.data);
}

/* ------------------------------------------------------------------ */
/* IDX */

static void check_idx_round_trip(int channels, int gzip) {
  const char *images = tmp_path("images.idx");
  const char *labels = tmp_path("labels.idx");
  write_idx_pair(images, labels, channels, gzip);
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = NULL;
  ck_assert_msg(pnas_dataset_load_idx(ctx, images, labels, &ds) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  pnas_dataset_info info = {.struct_size = sizeof info};
  ck_assert_int_eq(pnas_dataset_get_info(ds, &info), PNAS_OK);
  ck_assert_int_eq(info.count, N_IMAGES);
  ck_assert_int_eq(info.height, H);
  ck_assert_int_eq(info.width, W);
  ck_assert_int_eq(info.channels, channels);
  ck_assert_int_eq(info.classes, 5); /* largest label 4, plus one */
  const size_t image_bytes = (size_t)H * W * channels;
  for (size_t i = 0; i < N_IMAGES; i++) {
    ck_assert_int_eq(ds->labels[i], (int32_t)(i % 5));
    for (size_t p = 0; p < image_bytes; p++) {
      ck_assert_uint_eq(ds->images[i * image_bytes + p], pixel_value(i, p));
    }
  }
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}

START_TEST(idx_plain_round_trip) {
  check_idx_round_trip(1, 0);
}
END_TEST

START_TEST(idx_gzip_round_trip) {
  check_idx_round_trip(1, 1);
}
END_TEST

START_TEST(idx_four_dimensions_round_trip) {
  check_idx_round_trip(3, 0);
  check_idx_round_trip(3, 1);
}
END_TEST

START_TEST(idx_gzip_with_two_members_loads) {
  /* gzip allows members back to back (cat a.gz b.gz); the data runs on. */
  const char *images = tmp_path("images.idx");
  const char *labels = tmp_path("labels.idx");
  write_idx_pair(images, labels, 1, 0);
  FILE *f = fopen(images, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t raw[512];
  const size_t n = fread(raw, 1, sizeof raw, f);
  fclose(f);
  bytes a = gzip_of(raw, 10), b = gzip_of(raw + 10, n - 10);
  uint8_t joined[1024];
  memcpy(joined, a.data, a.n);
  memcpy(joined + a.n, b.data, b.n);
  write_bytes(images, joined, a.n + b.n);
  free(a.data);
  free(b.data);
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = NULL;
  ck_assert_msg(pnas_dataset_load_idx(ctx, images, labels, &ds) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  ck_assert_uint_eq(ds->images[N_IMAGES * H * W - 1], pixel_value(N_IMAGES - 1, H * W - 1));
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(idx_missing_file_is_io_error) {
  const char *images = tmp_path("images.idx");
  const char *labels = tmp_path("labels.idx");
  write_idx_pair(images, labels, 1, 0);
  const char *missing = tmp_path("nope.idx");
  expect_idx(missing, labels, PNAS_ERR_IO, "cannot open", missing);
  expect_idx(images, missing, PNAS_ERR_IO, "cannot open", missing);
  expect_idx(tmp_root, labels, PNAS_ERR_IO, "not a regular file", tmp_root);
}
END_TEST

START_TEST(idx_bad_headers_are_format_errors) {
  const char *labels = tmp_path("labels.idx");
  const char *images = tmp_path("images.idx");
  write_idx_pair(tmp_path("good.idx"), labels, 1, 0);
  uint8_t payload[N_IMAGES * H * W];
  memset(payload, 9, sizeof payload);
  const uint32_t dims[3] = {N_IMAGES, H, W};
  for (int gzip = 0; gzip <= 1; gzip++) {
    write_idx(images, 0x12345678, dims, 3, payload, sizeof payload, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "wrong magic 0x12345678", images);
    /* A label file where images are expected. */
    write_idx(images, 0x801, dims, 1, payload, N_IMAGES, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "wrong magic 0x00000801", images);
    /* Floats (type 0x0D) are valid IDX but not supported. */
    write_idx(images, 0xD03, dims, 3, payload, sizeof payload, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "unsupported IDX element type 0x0d", images);
    /* Images where labels are expected. */
    expect_idx(tmp_path("good.idx"), tmp_path("good.idx"), PNAS_ERR_FORMAT, "label file",
               "good.idx");
    /* Header cut short. */
    write_idx(images, 0x803, dims, 1, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated IDX header", images);
    write_bytes(images, "\0\0", 2);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated IDX header", images);
  }
  write_bytes(images, "", 0);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated IDX header (0 bytes)", images);
}
END_TEST

START_TEST(idx_zero_and_absurd_sizes_are_format_errors) {
  const char *labels = tmp_path("labels.idx");
  const char *images = tmp_path("images.idx");
  write_idx_pair(tmp_path("good.idx"), labels, 1, 0);
  for (int gzip = 0; gzip <= 1; gzip++) {
    const uint32_t zero_count[3] = {0, H, W};
    write_idx(images, 0x803, zero_count, 3, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "image count of 0", images);
    const uint32_t zero_width[3] = {N_IMAGES, H, 0};
    write_idx(images, 0x803, zero_width, 3, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "image width of 0", images);
    const uint32_t zero_labels[1] = {0};
    write_idx(tmp_path("l0.idx"), 0x801, zero_labels, 1, NULL, 0, gzip);
    expect_idx(tmp_path("good.idx"), tmp_path("l0.idx"), PNAS_ERR_FORMAT, "label count of 0",
               "l0.idx");
    /* Sides and channels past the limits, before anything is allocated. */
    const uint32_t wide[3] = {1, 1, 100000};
    write_idx(images, 0x803, wide, 3, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "image width 100000", "limit is 65536");
    const uint32_t deep[4] = {1, 2, 2, 1000};
    write_idx(images, 0x804, deep, 4, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "image channels 1000", "limit is 64");
    /* The largest count the format allows, in a tiny file: refused as
     * truncated without trying to allocate 4 G x 4 G bytes. */
    const uint32_t huge[3] = {UINT32_MAX, 65536, 65536};
    write_idx(images, 0x803, huge, 3, NULL, 0, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated", images);
  }
}
END_TEST

START_TEST(idx_truncated_and_trailing_data_are_format_errors) {
  const char *labels = tmp_path("labels.idx");
  const char *images = tmp_path("images.idx");
  write_idx_pair(tmp_path("good.idx"), labels, 1, 0);
  uint8_t payload[N_IMAGES * H * W + 1];
  memset(payload, 5, sizeof payload);
  const uint32_t dims[3] = {N_IMAGES, H, W};
  const size_t full = N_IMAGES * H * W;
  for (int gzip = 0; gzip <= 1; gzip++) {
    write_idx(images, 0x803, dims, 3, payload, full - 1, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated: the header (7 x 3 x 4) announces 84",
               images);
    write_idx(images, 0x803, dims, 3, payload, full + 1, gzip);
    expect_idx(images, labels, PNAS_ERR_FORMAT, "trailing garbage", images);
  }
  /* Bytes after the end of the gzip stream. */
  bytes b = idx_image(0x803, dims, 3, payload, full);
  bytes gz = gzip_of(b.data, b.n);
  uint8_t buf[1024];
  memcpy(buf, gz.data, gz.n);
  memcpy(buf + gz.n, "junk", 4);
  write_bytes(images, buf, gz.n + 4);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "trailing garbage after the end of the gzip stream",
             images);
  /* The stream cut before its trailer: data complete, checksum missing. */
  write_bytes(images, gz.data, gz.n - 8);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated gzip stream", images);
  /* Cut in the middle. */
  write_bytes(images, gz.data, gz.n / 2);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "truncated", images);
  /* A wrong CRC in the trailer. */
  memcpy(buf, gz.data, gz.n);
  buf[gz.n - 8] ^= 0xff;
  write_bytes(images, buf, gz.n);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "corrupt gzip data", images);
  /* A broken gzip header (compression method 7). */
  memcpy(buf, gz.data, gz.n);
  buf[2] = 7;
  write_bytes(images, buf, gz.n);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "corrupt gzip data", images);
  free(b.data);
  free(gz.data);
}
END_TEST

START_TEST(idx_count_mismatch_names_both_files) {
  const char *images = tmp_path("images.idx");
  const char *labels = tmp_path("labels.idx");
  write_idx_pair(images, tmp_path("unused.idx"), 1, 1);
  const uint32_t dims[1] = {N_IMAGES + 1};
  const uint8_t label_bytes[N_IMAGES + 1] = {0};
  write_idx(labels, 0x801, dims, 1, label_bytes, sizeof label_bytes, 0);
  expect_idx(images, labels, PNAS_ERR_FORMAT, "holds 7 images but", "holds 8 labels");
  expect_idx(images, labels, PNAS_ERR_FORMAT, images, labels);
}
END_TEST

START_TEST(idx_labels_give_the_class_count) {
  /* Labels are bytes, so at most 256 classes; the count is largest + 1. */
  const char *images = tmp_path("images.idx");
  const char *labels = tmp_path("labels.idx");
  write_idx_pair(images, tmp_path("unused.idx"), 1, 0);
  const uint32_t dims[1] = {N_IMAGES};
  const uint8_t label_bytes[N_IMAGES] = {0, 255, 3, 3, 0, 1, 2};
  write_idx(labels, 0x801, dims, 1, label_bytes, sizeof label_bytes, 1);
  pnas_context *ctx = NULL;
  counting_alloc state = {0};
  ctx = counting_context(&state);
  pnas_dataset *ds = NULL;
  ck_assert_int_eq(pnas_dataset_load_idx(ctx, images, labels, &ds), PNAS_OK);
  ck_assert_int_eq(ds->classes, 256);
  for (int i = 0; i < N_IMAGES; i++) ck_assert_int_eq(ds->labels[i], label_bytes[i]);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

/* Fails allocation 1, 2, 3, ... of `load` until a run makes fewer
 * allocations than the one to fail. Every failed run must report out of
 * memory, leave the out-parameter alone and free everything. */
typedef pnas_status (*load_fn)(pnas_context *ctx, pnas_dataset **out);

static void fail_every_allocation(load_fn load) {
  long k = 1;
  for (;; k++) {
    counting_alloc state = {0};
    pnas_context *ctx = counting_context(&state);
    state.fail_at = state.calls + k;
    pnas_dataset *ds = SENTINEL;
    const pnas_status status = load(ctx, &ds);
    const int injected = state.calls >= state.fail_at;
    if (status == PNAS_OK) {
      pnas_dataset_destroy(ds);
    } else {
      ck_assert_msg(status == PNAS_ERR_OUT_OF_MEMORY, "allocation %ld: status %d: %s", k,
                    (int)status, pnas_context_last_error(ctx));
      ck_assert_ptr_eq(ds, SENTINEL);
      expect_message(ctx, "out of memory");
    }
    ck_assert_int_eq(state.live, 1);
    pnas_context_destroy(ctx);
    ck_assert_int_eq(state.live, 0);
    if (!injected) break;
  }
  ck_assert_int_gt(k, 5);
}

static pnas_status load_gzip_pair(pnas_context *ctx, pnas_dataset **out) {
  return pnas_dataset_load_idx(ctx, tmp_path("images.idx.gz"), tmp_path("labels.idx.gz"), out);
}

START_TEST(idx_allocation_failures_leak_nothing) {
  write_idx_pair(tmp_path("images.idx.gz"), tmp_path("labels.idx.gz"), 1, 1);
  fail_every_allocation(load_gzip_pair);
}
END_TEST

/* ------------------------------------------------------------------ */
/* PNG */

/* Writes a PNG from tightly packed rows (16-bit samples big-endian). */
static void write_png(const char *path, uint32_t width, uint32_t height, int depth, int color,
                      int interlace, const uint8_t *pixels) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  ck_assert_ptr_nonnull(png);
  png_infop info = png_create_info_struct(png);
  ck_assert_ptr_nonnull(info);
  png_bytep *rows = malloc(height * sizeof *rows);
  ck_assert_ptr_nonnull(rows);
  if (setjmp(png_jmpbuf(png))) ck_abort_msg("libpng could not write %s", path);
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color == PNG_COLOR_TYPE_PALETTE) {
    png_color palette[2] = {{0, 0, 0}, {255, 255, 255}};
    png_set_PLTE(png, info, palette, 2);
  }
  png_write_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)pixels + y * row_bytes;
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  ck_assert_int_eq(fclose(f), 0);
}

static uint8_t png_value(int cls, int file, size_t p) {
  return (uint8_t)(cls * 50 + file * 13 + p * 3 + 1);
}

/* root/<class>/<file>.png for the given class folder names, `per_class`
 * images each, gray or RGB. */
static void write_png_folder(const char *root, const char *const *classes, int n_classes,
                             int per_class, int channels, int interlace) {
  make_dir(root);
  uint8_t pixels[5 * 6 * 3];
  for (int k = 0; k < n_classes; k++) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", root, classes[k]);
    make_dir(dir);
    for (int i = 0; i < per_class; i++) {
      for (size_t p = 0; p < sizeof pixels; p++) pixels[p] = png_value(k, i, p);
      char name[300];
      snprintf(name, sizeof name, "%s/img%d.png", dir, i);
      write_png(tmp_path(name), 6, 5, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                interlace, pixels);
    }
  }
}

static void check_png_folder(int channels, int interlace) {
  /* Written out of order: classes are sorted by name. */
  static const char *const classes[] = {"b_shirts", "a_boots", "c"};
  write_png_folder("root", classes, 3, 2, channels, interlace);
  /* Not images, or hidden: ignored. */
  write_bytes(tmp_path("root/README.txt"), "hi", 2);
  write_bytes(tmp_path("root/a_boots/notes.txt"), "hi", 2);
  make_dir("root/.hidden");
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = NULL;
  ck_assert_msg(pnas_dataset_load_png_folder(ctx, tmp_path("root"), &ds) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  ck_assert_int_eq(ds->count, 6);
  ck_assert_int_eq(ds->height, 5);
  ck_assert_int_eq(ds->width, 6);
  ck_assert_int_eq(ds->channels, channels);
  ck_assert_int_eq(ds->classes, 3);
  /* Sorted: a_boots (written as class 1), b_shirts (0), c (2). */
  const int written_as[3] = {1, 0, 2};
  const size_t image_bytes = (size_t)5 * 6 * channels;
  for (int label = 0; label < 3; label++) {
    for (int i = 0; i < 2; i++) {
      const size_t index = (size_t)label * 2 + i;
      ck_assert_int_eq(ds->labels[index], label);
      for (size_t p = 0; p < image_bytes; p++) {
        ck_assert_uint_eq(ds->images[index * image_bytes + p], png_value(written_as[label], i, p));
      }
    }
  }
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}

START_TEST(png_gray_folder_loads_sorted) {
  check_png_folder(1, PNG_INTERLACE_NONE);
}
END_TEST

START_TEST(png_rgb_folder_loads_sorted) {
  check_png_folder(3, PNG_INTERLACE_NONE);
}
END_TEST

START_TEST(png_interlaced_images_load) {
  check_png_folder(3, PNG_INTERLACE_ADAM7);
}
END_TEST

static void write_good_class(void) {
  static const char *const classes[] = {"a", "b"};
  write_png_folder("root", classes, 2, 1, 1, PNG_INTERLACE_NONE);
}

START_TEST(png_unsupported_kinds_are_format_errors) {
  write_good_class();
  uint8_t pixels[6 * 5 * 8];
  memset(pixels, 0, sizeof pixels);
  const char *bad = tmp_path("root/b/bad.png");
  write_png(bad, 6, 5, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "16-bit gray", bad);
  write_png(bad, 6, 5, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "8-bit palette", bad);
  write_png(bad, 6, 5, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "RGB with alpha", bad);
  write_png(bad, 6, 5, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "gray with alpha", bad);
  write_png(bad, 6, 5, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "1-bit gray", "only 8-bit gray and 8-bit RGB");
}
END_TEST

START_TEST(png_corrupt_files_are_format_errors) {
  write_good_class();
  const char *good = tmp_path("root/a/img0.png");
  const char *bad = tmp_path("root/b/img0.png");
  FILE *f = fopen(good, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t data[4096];
  const size_t n = fread(data, 1, sizeof data, f);
  fclose(f);
  ck_assert_uint_gt(n, 60);
  /* Cut inside the image data. */
  write_bytes(bad, data, n - 20);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "corrupt PNG", bad);
  /* A flipped byte in the header chunk fails its CRC. */
  uint8_t flipped[4096];
  memcpy(flipped, data, n);
  flipped[20] ^= 0x40;
  write_bytes(bad, flipped, n);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "corrupt PNG", bad);
  /* Not a PNG at all. */
  write_bytes(bad, "GIF89a......", 12);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "not a PNG file", bad);
  write_bytes(bad, "", 0);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "not a PNG file", bad);
}
END_TEST

START_TEST(png_folder_structure_errors) {
  expect_png(tmp_path("missing"), PNAS_ERR_IO, "cannot open folder", tmp_path("missing"));
  make_dir("empty");
  expect_png(tmp_path("empty"), PNAS_ERR_FORMAT, "holds no class folders", tmp_path("empty"));
  write_good_class();
  make_dir("root/c_empty");
  write_bytes(tmp_path("root/c_empty/readme.txt"), "x", 1);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "holds no .png images", "root/c_empty");
}
END_TEST

START_TEST(png_mismatched_sizes_name_both_files) {
  write_good_class();
  uint8_t pixels[7 * 5 * 3];
  memset(pixels, 1, sizeof pixels);
  const char *odd = tmp_path("root/b/z_odd.png");
  write_png(odd, 7, 5, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "is 5x7 gray but",
             "a/img0.png' (the first image) is 5x6 gray");
  write_png(odd, 6, 5, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, pixels);
  expect_png(tmp_path("root"), PNAS_ERR_FORMAT, "is 5x6 RGB but", odd);
}
END_TEST

static pnas_status load_png_root(pnas_context *ctx, pnas_dataset **out) {
  return pnas_dataset_load_png_folder(ctx, tmp_path("root"), out);
}

START_TEST(png_allocation_failures_leak_nothing) {
  static const char *const classes[] = {"x", "y"};
  write_png_folder("root", classes, 2, 2, 3, PNG_INTERLACE_NONE);
  /* Long names make the name list grow (and copy) on the way. */
  uint8_t pixels[6 * 5 * 3] = {0};
  for (int i = 0; i < 3; i++) {
    char name[200];
    snprintf(name, sizeof name, "root/y/%0120d.png", i);
    write_png(tmp_path(name), 6, 5, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, pixels);
  }
  fail_every_allocation(load_png_root);
}
END_TEST

START_TEST(png_many_files_load_in_name_order) {
  /* More files than the name list starts with room for, written in
   * reverse: loaded sorted by name, class by class. */
  enum { PER_CLASS = 150 };
  make_dir("root");
  make_dir("root/one");
  make_dir("root/two");
  for (int k = 0; k < 2; k++) {
    for (int i = PER_CLASS - 1; i >= 0; i--) {
      char name[200];
      snprintf(name, sizeof name, "root/%s/image-%03d-with-a-longer-name.png",
               k == 0 ? "one" : "two", i);
      const uint8_t pixels[2] = {(uint8_t)k, (uint8_t)i};
      write_png(tmp_path(name), 2, 1, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, pixels);
    }
  }
  counting_alloc state = {0};
  pnas_context *ctx = counting_context(&state);
  pnas_dataset *ds = NULL;
  ck_assert_msg(pnas_dataset_load_png_folder(ctx, tmp_path("root"), &ds) == PNAS_OK, "%s",
                pnas_context_last_error(ctx));
  ck_assert_int_eq(ds->count, 2 * PER_CLASS);
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < PER_CLASS; i++) {
      const size_t index = (size_t)k * PER_CLASS + (size_t)i;
      ck_assert_int_eq(ds->labels[index], k);
      ck_assert_uint_eq(ds->images[2 * index], k);
      ck_assert_uint_eq(ds->images[2 * index + 1], i);
    }
  }
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Batcher and normalisation against internal references */

static pnas_dataset *small_dataset(pnas_context *ctx, int count, int height, int width,
                                   int channels) {
  const size_t image_bytes = (size_t)height * width * channels;
  uint8_t *pixels = malloc((size_t)count * image_bytes);
  int32_t *labels = malloc((size_t)count * sizeof *labels);
  ck_assert_ptr_nonnull(pixels);
  ck_assert_ptr_nonnull(labels);
  for (size_t i = 0; i < (size_t)count * image_bytes; i++) pixels[i] = (uint8_t)(i * 37 + 11);
  for (int i = 0; i < count; i++) labels[i] = i % 2;
  pnas_dataset *ds = NULL;
  ck_assert_int_eq(
      pnas_dataset_create_from_memory(ctx, pixels, labels, count, height, width, channels, 2, &ds),
      PNAS_OK);
  free(pixels);
  free(labels);
  return ds;
}

static float normalized(uint8_t v, int c, const float mean[3], const float std[3]) {
  const int k = c < 3 ? c : 2;
  return ((float)v / 255.0f - mean[k]) / std[k];
}

START_TEST(crop_and_flip_match_replayed_draws) {
  /* The reference pads the image with zeros into a bigger array, crops it
   * at the replayed offset and mirrors the crop: a different computation
   * from the batcher's index arithmetic, fed the same draws. */
  enum { COUNT = 3, HH = 5, WW = 6, CC = 2, PAD = 2, BATCH = 2 };
  pnas_context *ctx = NULL;
  counting_alloc state = {0};
  ctx = counting_context(&state);
  pnas_dataset *ds = small_dataset(ctx, COUNT, HH, WW, CC);
  pnas_batcher_options o;
  ck_assert_int_eq(pnas_batcher_options_init(&o), PNAS_OK);
  o.batch_size = BATCH;
  o.shuffle = 0;
  o.crop_padding = PAD;
  o.horizontal_flip = 1;
  o.seed = 42;
  o.mean[0] = 0.25f;
  o.mean[1] = 0.5f;
  o.std[0] = 0.5f;
  o.std[1] = 2.0f;
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  pni_rng rng;
  pni_rng_seed(&rng, 42);
  float out[BATCH * HH * WW * CC];
  int32_t labels[BATCH];
  int flips = 0, shifted = 0, images = 0;
  for (int call = 0; call < 30; call++) {
    int32_t n = -1;
    ck_assert_int_eq(pnas_batcher_next(b, out, labels, &n), PNAS_OK);
    for (int i = 0; i < n; i++, images++) {
      const int index = images % COUNT;
      const uint8_t *src = ds->images + (size_t)index * HH * WW * CC;
      const int oy = (int)pni_rng_below(&rng, 2 * PAD + 1);
      const int ox = (int)pni_rng_below(&rng, 2 * PAD + 1);
      const int flip = (int)(pni_rng_next_u64(&rng) >> 63);
      flips += flip;
      shifted += oy != PAD || ox != PAD;
      uint8_t padded[HH + 2 * PAD][WW + 2 * PAD][CC];
      memset(padded, 0, sizeof padded);
      for (int y = 0; y < HH; y++) {
        for (int x = 0; x < WW; x++) {
          for (int c = 0; c < CC; c++) padded[y + PAD][x + PAD][c] = src[(y * WW + x) * CC + c];
        }
      }
      for (int y = 0; y < HH; y++) {
        for (int x = 0; x < WW; x++) {
          const int cx = flip ? WW - 1 - x : x;
          for (int c = 0; c < CC; c++) {
            const float want = normalized(padded[oy + y][ox + cx][c], c, o.mean, o.std);
            const float got = out[((size_t)i * HH * WW + (size_t)y * WW + x) * CC + c];
            ck_assert_msg(got == want, "image %d pixel (%d,%d,%d): %g != %g", images, y, x, c,
                          (double)got, (double)want);
          }
        }
      }
      ck_assert_int_eq(labels[i], ds->labels[index]);
    }
  }
  ck_assert_int_gt(flips, 0);
  ck_assert_int_lt(flips, images);
  ck_assert_int_gt(shifted, 0);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}
END_TEST

START_TEST(read_normalized_matches_the_batcher) {
  pnas_context *ctx = NULL;
  counting_alloc state = {0};
  ctx = counting_context(&state);
  pnas_dataset *ds = small_dataset(ctx, 5, 3, 2, 4);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 5;
  o.shuffle = 0;
  const float mean[3] = {0.1f, 0.2f, 0.3f}, std[3] = {0.7f, 0.8f, 0.9f};
  memcpy(o.mean, mean, sizeof mean);
  memcpy(o.std, std, sizeof std);
  pnas_batcher *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &o, &b), PNAS_OK);
  const float *view = NULL;
  const int32_t *view_labels = NULL;
  int32_t n = 0;
  ck_assert_int_eq(pnas_batcher_next_view(b, &view, &view_labels, &n), PNAS_OK);
  ck_assert_int_eq(n, 5);
  float direct[3 * 3 * 2 * 4];
  int32_t labels[3];
  pni_dataset_read_normalized(ds, 1, 3, mean, std, direct, labels);
  for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
    ck_assert(direct[i] == view[3 * 2 * 4 + i]);
    const int c = (int)(i % 4);
    ck_assert(direct[i] == normalized(ds->images[3 * 2 * 4 + i], c, mean, std));
  }
  for (int i = 0; i < 3; i++) ck_assert_int_eq(labels[i], view_labels[i + 1]);
  pni_dataset_read_normalized(ds, 0, 1, mean, std, direct, NULL);
  ck_assert(direct[0] == view[0]);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("dataset_files");
  TCase *idx = tcase_create("idx");
  tcase_add_checked_fixture(idx, make_tmp_root, remove_tmp_root);
  tcase_add_test(idx, idx_plain_round_trip);
  tcase_add_test(idx, idx_gzip_round_trip);
  tcase_add_test(idx, idx_four_dimensions_round_trip);
  tcase_add_test(idx, idx_gzip_with_two_members_loads);
  tcase_add_test(idx, idx_missing_file_is_io_error);
  tcase_add_test(idx, idx_bad_headers_are_format_errors);
  tcase_add_test(idx, idx_zero_and_absurd_sizes_are_format_errors);
  tcase_add_test(idx, idx_truncated_and_trailing_data_are_format_errors);
  tcase_add_test(idx, idx_count_mismatch_names_both_files);
  tcase_add_test(idx, idx_labels_give_the_class_count);
  tcase_add_test(idx, idx_allocation_failures_leak_nothing);
  suite_add_tcase(s, idx);
  TCase *png = tcase_create("png");
  tcase_add_checked_fixture(png, make_tmp_root, remove_tmp_root);
  tcase_add_test(png, png_gray_folder_loads_sorted);
  tcase_add_test(png, png_rgb_folder_loads_sorted);
  tcase_add_test(png, png_interlaced_images_load);
  tcase_add_test(png, png_unsupported_kinds_are_format_errors);
  tcase_add_test(png, png_corrupt_files_are_format_errors);
  tcase_add_test(png, png_folder_structure_errors);
  tcase_add_test(png, png_mismatched_sizes_name_both_files);
  tcase_add_test(png, png_allocation_failures_leak_nothing);
  tcase_add_test(png, png_many_files_load_in_name_order);
  suite_add_tcase(s, png);
  TCase *batch = tcase_create("batch");
  tcase_add_test(batch, crop_and_flip_match_replayed_draws);
  tcase_add_test(batch, read_normalized_matches_the_batcher);
  suite_add_tcase(s, batch);
  return s;
}
