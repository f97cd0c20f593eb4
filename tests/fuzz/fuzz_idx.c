/* SPDX-License-Identifier: MIT */
/* Fuzz target: IDX image and label files, plain or gzip
 * (pnas_dataset_load_idx reads files: the two parts of the input are
 * written to per-process temporary files).
 *
 * Input layout: byte 0 holds flags, bytes 1-2 the length L of the image
 * file (little-endian), then L bytes of image file, then the label file.
 * Flag 1 gzips the image file and flag 2 the label file before writing
 * them, so that the fuzzer reaches the IDX checks through the gzip reader
 * too; a part that already is gzip (the seeds have some) exercises the
 * gzip reader itself. A loaded data set goes through a batcher. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  return 0;
}

/* Writes data, gzipped when asked, to the temporary file name. */
static const char *write_part(char *path, size_t cap, const char *name, const uint8_t *data,
                              size_t size, int gzip) {
  if (!gzip) return fuzz_write(path, cap, name, data, size);
  z_stream z;
  memset(&z, 0, sizeof z);
  FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
             "deflateInit2");
  const size_t bound = deflateBound(&z, (uLong)size);
  unsigned char *out = malloc(bound);
  FUZZ_CHECK(out != NULL, "out of memory");
  z.next_in = (Bytef *)(uintptr_t)data;
  z.avail_in = (uInt)size;
  z.next_out = out;
  z.avail_out = (uInt)bound;
  FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
  const size_t written = bound - z.avail_out;
  deflateEnd(&z);
  fuzz_write(path, cap, name, out, written);
  free(out);
  return path;
}

static void exercise(pnas_context *ctx, pnas_dataset *ds) {
  pnas_dataset_info info = {.struct_size = sizeof info};
  FUZZ_CHECK(pnas_dataset_get_info(ds, &info) == PNAS_OK, "get_info");
  FUZZ_CHECK(info.count >= 1 && info.height >= 1 && info.width >= 1 && info.channels >= 1 &&
                 info.classes >= 1 && info.classes <= 256,
             "implausible data set %lld x %d x %d x %d, %d classes", (long long)info.count,
             (int)info.height, (int)info.width, (int)info.channels, (int)info.classes);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 2;
  o.crop_padding = 1;
  o.horizontal_flip = 1;
  pnas_batcher *b = NULL;
  pnas_status s = pnas_batcher_create(ds, &o, &b);
  if (s != PNAS_OK) {
    fuzz_check_failure(ctx, s, "pnas_batcher_create");
    return;
  }
  const float *images = NULL;
  const int32_t *labels = NULL;
  int32_t count = 0;
  s = pnas_batcher_next_view(b, &images, &labels, &count);
  FUZZ_CHECK(s == PNAS_OK && count >= 1 && count <= 2, "batcher_next_view");
  for (int32_t i = 0; i < count; i++) {
    FUZZ_CHECK(labels[i] >= 0 && labels[i] < info.classes, "label %d", (int)labels[i]);
  }
  pnas_batcher_destroy(b);
  pnas_dataset *subset = NULL;
  s = pnas_dataset_subset(ds, info.count - 1, 1, &subset);
  if (s == PNAS_OK) {
    pnas_dataset_destroy(subset);
  } else {
    fuzz_check_failure(ctx, s, "pnas_dataset_subset");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const unsigned flags = data[0];
  size_t images_size = (size_t)data[1] | (size_t)data[2] << 8;
  data += 3;
  size -= 3;
  if (images_size > size) images_size = size;
  char images[512], labels[512];
  write_part(images, sizeof images, "images.idx", data, images_size, flags & 1);
  write_part(labels, sizeof labels, "labels.idx", data + images_size, size - images_size,
             flags & 2);
  pnas_context *ctx = fuzz_context();
  pnas_dataset *untouched = (pnas_dataset *)&ctx;
  pnas_dataset *ds = untouched;
  const pnas_status s = pnas_dataset_load_idx(ctx, images, labels, &ds);
  if (s == PNAS_OK) {
    exercise(ctx, ds);
    pnas_dataset_destroy(ds);
  } else {
    fuzz_check_failure(ctx, s, "pnas_dataset_load_idx");
    FUZZ_CHECK(ds == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
