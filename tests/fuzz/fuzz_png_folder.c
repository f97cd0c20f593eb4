/* SPDX-License-Identifier: MIT */
/* Fuzz target: PNG images of a class-folder data set
 * (pnas_dataset_load_png_folder). The input is written as root/a/0.png and
 * linked as root/b/0.png in a per-process temporary folder, so a good image
 * gives a data set of two classes, which then goes through a batcher. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[512], image_a[512], image_b[512];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  char folder[512];
  fuzz_path(root, sizeof root, "root");
  FUZZ_CHECK(mkdir(root, 0700) == 0, "mkdir %s", root);
  FUZZ_CHECK(mkdir(fuzz_path(folder, sizeof folder, "root/a"), 0700) == 0, "mkdir %s", folder);
  FUZZ_CHECK(mkdir(fuzz_path(folder, sizeof folder, "root/b"), 0700) == 0, "mkdir %s", folder);
  fuzz_path(image_a, sizeof image_a, "root/a/0.png");
  fuzz_path(image_b, sizeof image_b, "root/b/0.png");
  return 0;
}

static void exercise(pnas_context *ctx, pnas_dataset *ds) {
  pnas_dataset_info info = {.struct_size = sizeof info};
  FUZZ_CHECK(pnas_dataset_get_info(ds, &info) == PNAS_OK, "get_info");
  FUZZ_CHECK(info.count == 2 && info.classes == 2 && (info.channels == 1 || info.channels == 3),
             "%lld images, %d classes, %d channels", (long long)info.count, (int)info.classes,
             (int)info.channels);
  pnas_batcher_options o;
  pnas_batcher_options_init(&o);
  o.batch_size = 2;
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
  FUZZ_CHECK(s == PNAS_OK && count == 2, "batcher_next_view");
  pnas_batcher_destroy(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unlink(image_b);
  fuzz_write(image_a, sizeof image_a, "root/a/0.png", data, size);
  FUZZ_CHECK(link(image_a, image_b) == 0, "link %s", image_b);
  pnas_context *ctx = fuzz_context();
  pnas_dataset *untouched = (pnas_dataset *)&ctx;
  pnas_dataset *ds = untouched;
  const pnas_status s = pnas_dataset_load_png_folder(ctx, root, &ds);
  if (s == PNAS_OK) {
    exercise(ctx, ds);
    pnas_dataset_destroy(ds);
  } else {
    fuzz_check_failure(ctx, s, "pnas_dataset_load_png_folder");
    FUZZ_CHECK(ds == untouched, "the out-parameter was written on failure");
  }
  fuzz_context_done(ctx);
  return 0;
}
