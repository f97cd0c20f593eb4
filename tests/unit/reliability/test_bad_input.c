/* SPDX-License-Identifier: MIT */
/* The bad-input matrix through the public API: for every function of
 * pnas.h, NULL handles and outputs, wrong sizes and shapes, out-of-range
 * options, calls in the wrong state and handles of the wrong kind. Each ROW
 * asserts the exact status, a message naming the problem, and that every
 * handle still works afterwards (bad_input_fixture.c). No leak: the
 * fixture's counting allocator must end with nothing live. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bad_input.h"

/* Handles of the wrong kind: a live object of another type, and memory
 * that is no libpnas object at all. */
#define AS(type, handle) ((type *)(void *)(handle))
static uint64_t foreign[16];
#define FOREIGN(type) ((type *)(void *)foreign)

static const char bad_yaml[] = "input: [6, 6\nstages:\n  - {width: 4\n";

/* --- context, status, version, memory ------------------------------------- */

static pnas_status create_with(fixture *f, const pnas_context_options *o, char *error, size_t size,
                               int null_out) {
  pnas_context *ctx = NULL;
  error[0] = '\0';
  const pnas_status st = pnas_context_create(o, null_out ? NULL : &ctx, error, size);
  pnas_context_destroy(ctx);
  f->buffer = error;
  return st;
}

START_TEST(context_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "context_bad_input");
  pnas_context_options o;
  char error[256];

  ROW_VOID(pnas_status_string, "unknown value 999", "\"unknown status\"",
           strcmp(pnas_status_string((pnas_status)999), "unknown status") == 0);
  ROW_VOID(pnas_version, "(no input)", "PNAS_VERSION_NUMBER",
           pnas_version() == (uint32_t)PNAS_VERSION_NUMBER);
  ROW_VOID(pnas_version_string, "(no input)", "PNAS_VERSION_STRING",
           strcmp(pnas_version_string(), PNAS_VERSION_STRING) == 0);
  ROW_VOID(pnas_free, "NULL", "no-op", (pnas_free(NULL), 1));

  ROW(pnas_context_options_init_abi, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_options_init_abi(NULL, sizeof o, PNAS_VERSION_NUMBER));
  ROW(pnas_context_options_init_abi, "struct_size 4", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_options_init_abi(&o, 4, PNAS_VERSION_NUMBER));

  /* pnas_context_create has no context yet: its message goes to the
   * caller's buffer, checked here; the fixture's context is untouched. */
  pnas_context_options_init(&o);
  ROW(pnas_context_create, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, NULL, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "options is NULL"));
  o.threads = 0;
  ROW(pnas_context_create, "threads 0", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "options.threads is 0"));
  pnas_context_options_init(&o);
  o.threads = 1025;
  ROW(pnas_context_create, "threads 1025", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "between 1 and 1024"));
  pnas_context_options_init(&o);
  o.log_level = (pnas_log_level)9;
  ROW(pnas_context_create, "log_level 9", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "log_level is 9"));
  pnas_context_options_init(&o);
  counting_alloc unused = {0};
  o.allocator = counting_alloc_hooks(&unused, 1);
  o.allocator.free = NULL;
  ROW(pnas_context_create, "allocator without free", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "alloc and free must both be set"));
  pnas_context_options_init(&o);
  o.struct_size = 8;
  ROW(pnas_context_create, "struct_size 8", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "struct_size is 8"));
  pnas_context_options_init(&o);
  o.abi_version = (PNAS_VERSION_MAJOR + 1) * 10000;
  ROW(pnas_context_create, "header of the next major version", PNAS_ERR_ABI_MISMATCH, NULL,
      create_with(f, &o, error, sizeof error, 0));
  ck_assert_ptr_nonnull(strstr(error, "ABI mismatch"));
  pnas_context_options_init(&o);
  ROW(pnas_context_create, "out_context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      create_with(f, &o, error, sizeof error, 1));
  ck_assert_ptr_nonnull(strstr(error, "out_context is NULL"));

  ROW_VOID(pnas_context_destroy, "NULL", "no-op", (pnas_context_destroy(NULL), 1));
  ROW_VOID(
      pnas_context_destroy, "a pnas_space", "ignored; the space's context says so",
      (pnas_context_destroy(AS(pnas_context, f->space)),
       strstr(pnas_context_last_error(f->ctx), "got a pnas_space where a pnas_context") != NULL));
  ROW_VOID(pnas_context_last_error, "NULL", "\"context is NULL\"",
           strcmp(pnas_context_last_error(NULL), "context is NULL") == 0);
  ROW_VOID(pnas_context_last_error, "foreign pointer", "\"not a live pnas_context\"",
           strcmp(pnas_context_last_error(FOREIGN(pnas_context)), "not a live pnas_context") == 0);
  ROW(pnas_context_last_status, "NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_last_status(NULL));
  ROW(pnas_context_last_status, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_context_last_status(FOREIGN(pnas_context)));

  int32_t threads;
  ROW(pnas_context_get_threads, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_get_threads(NULL, &threads));
  ROW(pnas_context_get_threads, "out_threads NULL", PNAS_ERR_INVALID_ARGUMENT,
      "out_threads is NULL", pnas_context_get_threads(f->ctx, NULL));
  ROW(pnas_context_get_threads, "a pnas_net as context", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_net where a pnas_context was expected",
      pnas_context_get_threads(AS(pnas_context, f->net), &threads));
  ROW(pnas_context_set_threads, "threads -3", PNAS_ERR_INVALID_ARGUMENT, "threads is -3",
      pnas_context_set_threads(f->ctx, -3));
  ROW(pnas_context_set_threads, "threads 1000000 (libgomp crashed)", PNAS_ERR_INVALID_ARGUMENT,
      "between 1 and 1024", pnas_context_set_threads(f->ctx, 1000000));
  ROW(pnas_context_set_threads, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_context_set_threads(FOREIGN(pnas_context), 1));
  ROW(pnas_context_set_seed, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_set_seed(NULL, 1));
  ROW(pnas_context_set_seed, "a pnas_dataset as context", PNAS_ERR_WRONG_HANDLE,
      "pnas_context_set_seed: got a pnas_dataset",
      pnas_context_set_seed(AS(pnas_context, f->ds), 1));
  uint64_t state[4] = {0, 0, 0, 0};
  ROW(pnas_context_get_rng_state, "out_state NULL", PNAS_ERR_INVALID_ARGUMENT, "out_state is NULL",
      pnas_context_get_rng_state(f->ctx, NULL));
  ROW(pnas_context_get_rng_state, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_context_get_rng_state(NULL, state));
  ROW(pnas_context_set_rng_state, "all-zero state", PNAS_ERR_INVALID_ARGUMENT, "all zero",
      pnas_context_set_rng_state(f->ctx, state));
  ROW(pnas_context_set_rng_state, "state NULL", PNAS_ERR_INVALID_ARGUMENT, "the state is NULL",
      pnas_context_set_rng_state(f->ctx, NULL));
  char *text = NULL;
  ROW(pnas_context_describe, "out_text NULL", PNAS_ERR_INVALID_ARGUMENT, "out_text is NULL",
      pnas_context_describe(f->ctx, NULL));
  ROW(pnas_context_describe, "a pnas_batcher as context", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_batcher where a pnas_context",
      pnas_context_describe(AS(pnas_context, f->batcher), &text));
  ck_assert_ptr_null(text);
  fixture_close(f);
}
END_TEST

/* --- architectures ------------------------------------------------------------ */

START_TEST(arch_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "arch_bad_input");
  pnas_arch_info info;
  pnas_block_info block;
  pnas_arch *out = NULL;

  ROW(pnas_arch_info_init_sized, "info NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_arch_info_init_sized(NULL, sizeof info));
  ROW(pnas_arch_info_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_arch_info_init_sized(&info, 2));
  ROW(pnas_block_info_init_sized, "info NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_block_info_init_sized(NULL, sizeof block));
  ROW(pnas_block_info_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_block_info_init_sized(&block, 2));

  pnas_arch_info_init(&info);
  ROW(pnas_arch_create, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_arch_create(NULL, &info, &out));
  ROW(pnas_arch_create, "info NULL", PNAS_ERR_INVALID_ARGUMENT, "info is NULL",
      pnas_arch_create(f->ctx, NULL, &out));
  ROW(pnas_arch_create, "out_arch NULL", PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL",
      pnas_arch_create(f->ctx, &info, NULL));
  info.stem_stride = 3;
  ROW(pnas_arch_create, "stem_stride 3", PNAS_ERR_INVALID_ARGUMENT, "stem_stride is 3",
      pnas_arch_create(f->ctx, &info, &out));
  pnas_arch_info_init(&info);
  info.dropout = 1.5f;
  ROW(pnas_arch_create, "dropout 1.5", PNAS_ERR_INVALID_ARGUMENT, "dropout is 1.5",
      pnas_arch_create(f->ctx, &info, &out));
  pnas_arch_info_init(&info);
  info.struct_size = 3;
  ROW(pnas_arch_create, "info.struct_size 3", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 3",
      pnas_arch_create(f->ctx, &info, &out));
  ck_assert_ptr_null(out);

  pnas_block_info_init(&block);
  block.out_channels = 8;
  block.kernel = 4;
  ROW(pnas_arch_append_block, "kernel 4", PNAS_ERR_INVALID_ARGUMENT, "kernel is 4",
      pnas_arch_append_block(f->arch, &block));
  block.kernel = 3;
  block.stride = 3;
  ROW(pnas_arch_append_block, "stride 3", PNAS_ERR_INVALID_ARGUMENT, "stride is 3",
      pnas_arch_append_block(f->arch, &block));
  block.stride = 1;
  block.expand = 0;
  ROW(pnas_arch_append_block, "expand 0", PNAS_ERR_INVALID_ARGUMENT, "expand is 0",
      pnas_arch_append_block(f->arch, &block));
  pnas_block_info_init(&block);
  block.kind = PNAS_BLOCK_IDENTITY;
  block.out_channels = 9;
  ROW(pnas_arch_append_block, "identity that changes the width", PNAS_ERR_INVALID_ARGUMENT,
      "identity", pnas_arch_append_block(f->arch, &block));
  ROW(pnas_arch_append_block, "block NULL", PNAS_ERR_INVALID_ARGUMENT, "block is NULL",
      pnas_arch_append_block(f->arch, NULL));
  ROW(pnas_arch_append_block, "arch NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_arch_append_block(NULL, &block));
  ROW(pnas_arch_append_block, "a pnas_space as arch", PNAS_ERR_WRONG_HANDLE,
      "pnas_arch_append_block: got a pnas_space where a pnas_arch was expected",
      pnas_arch_append_block(AS(pnas_arch, f->space), &block));
  ROW(pnas_arch_append_block, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_arch_append_block(FOREIGN(pnas_arch), &block));

  const char *missing = fixture_file(f, 0, "missing.yaml", NULL, 0);
  ROW(pnas_arch_load_yaml, "missing file", PNAS_ERR_IO, "missing.yaml",
      pnas_arch_load_yaml(f->ctx, missing, &out));
  ROW(pnas_arch_load_yaml, "path NULL", PNAS_ERR_INVALID_ARGUMENT, "path is NULL",
      pnas_arch_load_yaml(f->ctx, NULL, &out));
  const char *broken = fixture_file(f, 1, "broken.yaml", bad_yaml, sizeof bad_yaml - 1);
  ROW(pnas_arch_load_yaml, "malformed YAML", PNAS_ERR_PARSE, "broken.yaml",
      pnas_arch_load_yaml(f->ctx, broken, &out));
  ROW(pnas_arch_parse_yaml, "malformed YAML", PNAS_ERR_PARSE, "line",
      pnas_arch_parse_yaml(f->ctx, bad_yaml, sizeof bad_yaml - 1, &out));
  ROW(pnas_arch_parse_yaml, "text NULL", PNAS_ERR_INVALID_ARGUMENT, "text is NULL",
      pnas_arch_parse_yaml(f->ctx, NULL, 4, &out));
  ROW(pnas_arch_parse_yaml, "out_arch NULL", PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL",
      pnas_arch_parse_yaml(f->ctx, bad_yaml, sizeof bad_yaml - 1, NULL));
  ROW(pnas_arch_import_net_config, "missing file", PNAS_ERR_IO, "missing.yaml",
      pnas_arch_import_net_config(f->ctx, missing, 224, 224, &out));
  ROW(pnas_arch_import_net_config, "input height 0", PNAS_ERR_INVALID_ARGUMENT,
      "input size is 0x224", pnas_arch_import_net_config(f->ctx, missing, 0, 224, &out));
  const char *not_json = fixture_file(f, 2, "net.config", "{\"name\": [", 10);
  ROW(pnas_arch_import_net_config, "malformed JSON", PNAS_ERR_PARSE, "net.config",
      pnas_arch_import_net_config(f->ctx, not_json, 224, 224, &out));
  ck_assert_ptr_null(out);

  const char *no_dir = "/nonexistent-pnas-dir/arch.yaml";
  ROW(pnas_arch_save_yaml, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_arch_save_yaml(f->arch, no_dir));
  ROW(pnas_arch_save_yaml, "path NULL", PNAS_ERR_INVALID_ARGUMENT, "path is NULL",
      pnas_arch_save_yaml(f->arch, NULL));
  ROW(pnas_arch_save_yaml, "a pnas_net as arch", PNAS_ERR_WRONG_HANDLE, "got a pnas_net",
      pnas_arch_save_yaml(AS(pnas_arch, f->net), missing));
  ROW(pnas_arch_export_net_config, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_arch_export_net_config(f->arch, no_dir));
  ROW(pnas_arch_export_net_config, "arch NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_arch_export_net_config(NULL, missing));

  ROW(pnas_arch_get_info, "out_info NULL", PNAS_ERR_INVALID_ARGUMENT, "out_info is NULL",
      pnas_arch_get_info(f->arch, NULL));
  info.struct_size = 0;
  ROW(pnas_arch_get_info, "out_info.struct_size 0", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 0",
      pnas_arch_get_info(f->arch, &info));
  ROW(pnas_arch_get_info, "a pnas_supernet as arch", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_supernet where a pnas_arch", pnas_arch_get_info(AS(pnas_arch, f->sn), &info));
  block.struct_size = sizeof block;
  ROW(pnas_arch_get_block, "index 2 of 2", PNAS_ERR_INVALID_ARGUMENT, "index 2 is out of range",
      pnas_arch_get_block(f->arch, 2, &block));
  ROW(pnas_arch_get_block, "index -1", PNAS_ERR_INVALID_ARGUMENT, "index -1 is out of range",
      pnas_arch_get_block(f->arch, -1, &block));
  ROW(pnas_arch_get_block, "out_block NULL", PNAS_ERR_INVALID_ARGUMENT, "out_block is NULL",
      pnas_arch_get_block(f->arch, 0, NULL));
  ROW_VOID(pnas_arch_destroy, "NULL", "no-op", (pnas_arch_destroy(NULL), 1));
  ROW_VOID(pnas_arch_destroy, "a pnas_latency_model", "ignored; the context says so",
           (pnas_arch_destroy(AS(pnas_arch, f->lat)),
            strstr(pnas_context_last_error(f->ctx),
                   "pnas_arch_destroy: got a pnas_latency_model") != NULL));
  fixture_close(f);
}
END_TEST

/* --- data sets and batchers ----------------------------------------------------- */

START_TEST(data_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "data_bad_input");
  pnas_dataset *out = NULL, *rest = NULL;
  const uint8_t pixels[2 * HW * HW] = {0};
  const int32_t labels[2] = {0, 1}, bad_labels[2] = {0, 7};

  const char *missing = fixture_file(f, 0, "missing-idx", NULL, 0);
  ROW(pnas_dataset_load_idx, "missing file", PNAS_ERR_IO, "missing-idx",
      pnas_dataset_load_idx(f->ctx, missing, missing, &out));
  const char *not_idx = fixture_file(f, 1, "images.idx", "this is not an IDX file", 23);
  ROW(pnas_dataset_load_idx, "wrong magic", PNAS_ERR_FORMAT, "images.idx",
      pnas_dataset_load_idx(f->ctx, not_idx, not_idx, &out));
  ROW(pnas_dataset_load_idx, "labels_path NULL", PNAS_ERR_INVALID_ARGUMENT, "labels_path is NULL",
      pnas_dataset_load_idx(f->ctx, not_idx, NULL, &out));
  ROW(pnas_dataset_load_idx, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_dataset_load_idx(NULL, not_idx, not_idx, &out));
  ROW(pnas_dataset_load_png_folder, "missing folder", PNAS_ERR_IO, "missing-idx",
      pnas_dataset_load_png_folder(f->ctx, missing, &out));
  char empty[128];
  snprintf(empty, sizeof empty, "%s/empty", f->dir);
  ck_assert_int_eq(mkdir(empty, 0700), 0);
  ROW(pnas_dataset_load_png_folder, "folder without class folders", PNAS_ERR_FORMAT, "empty",
      pnas_dataset_load_png_folder(f->ctx, empty, &out));
  ROW(pnas_dataset_load_png_folder, "root NULL", PNAS_ERR_INVALID_ARGUMENT, "root is NULL",
      pnas_dataset_load_png_folder(f->ctx, NULL, &out));

  ROW(pnas_dataset_create_from_memory, "label 7 of 3 classes", PNAS_ERR_INVALID_ARGUMENT,
      "labels[1] is 7",
      pnas_dataset_create_from_memory(f->ctx, pixels, bad_labels, 2, HW, HW, 1, 3, &out));
  ROW(pnas_dataset_create_from_memory, "count 0", PNAS_ERR_INVALID_ARGUMENT, "count is 0",
      pnas_dataset_create_from_memory(f->ctx, pixels, labels, 0, HW, HW, 1, 3, &out));
  ROW(pnas_dataset_create_from_memory, "height 0", PNAS_ERR_INVALID_ARGUMENT, "height is 0",
      pnas_dataset_create_from_memory(f->ctx, pixels, labels, 2, 0, HW, 1, 3, &out));
  ROW(pnas_dataset_create_from_memory, "classes 1", PNAS_ERR_INVALID_ARGUMENT, "classes is 1",
      pnas_dataset_create_from_memory(f->ctx, pixels, labels, 2, HW, HW, 1, 1, &out));
  ROW(pnas_dataset_create_from_memory, "images NULL", PNAS_ERR_INVALID_ARGUMENT, "images is NULL",
      pnas_dataset_create_from_memory(f->ctx, NULL, labels, 2, HW, HW, 1, 3, &out));

  ROW(pnas_dataset_split_balanced, "per_class 0", PNAS_ERR_INVALID_ARGUMENT, "per_class is 0",
      pnas_dataset_split_balanced(f->ds, 0, &rest, &out));
  ROW(pnas_dataset_split_balanced, "per_class = class size", PNAS_ERR_INVALID_ARGUMENT, "per_class",
      pnas_dataset_split_balanced(f->ds, N / CLASSES, &rest, &out));
  ROW(pnas_dataset_split_balanced, "both outputs the same", PNAS_ERR_INVALID_ARGUMENT, "same place",
      pnas_dataset_split_balanced(f->ds, 1, &out, &out));
  ROW(pnas_dataset_split_balanced, "a pnas_batcher as dataset", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_batcher where a pnas_dataset",
      pnas_dataset_split_balanced(AS(pnas_dataset, f->batcher), 1, &rest, &out));
  ROW(pnas_dataset_subset, "past the end", PNAS_ERR_INVALID_ARGUMENT, "images [10, 10 + 5)",
      pnas_dataset_subset(f->ds, 10, 5, &out));
  ROW(pnas_dataset_subset, "count 0", PNAS_ERR_INVALID_ARGUMENT, "not a non-empty part",
      pnas_dataset_subset(f->ds, 0, 0, &out));
  ROW(pnas_dataset_subset, "out_subset NULL", PNAS_ERR_INVALID_ARGUMENT, "out_subset is NULL",
      pnas_dataset_subset(f->ds, 0, 1, NULL));
  pnas_dataset_info di;
  di.struct_size = 4;
  ROW(pnas_dataset_get_info, "struct_size 4", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 4",
      pnas_dataset_get_info(f->ds, &di));
  ROW(pnas_dataset_get_info, "dataset NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_dataset_get_info(NULL, &di));
  ROW(pnas_dataset_get_info, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_dataset_get_info(FOREIGN(pnas_dataset), &di));
  ck_assert_ptr_null(out);
  ck_assert_ptr_null(rest);
  ROW_VOID(
      pnas_dataset_destroy, "a pnas_arch", "ignored; the context says so",
      (pnas_dataset_destroy(AS(pnas_dataset, f->arch)),
       strstr(pnas_context_last_error(f->ctx), "pnas_dataset_destroy: got a pnas_arch") != NULL));

  pnas_batcher_options bo;
  pnas_batcher *batcher = NULL;
  ROW(pnas_batcher_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_batcher_options_init_sized(NULL, sizeof bo));
  ROW(pnas_batcher_options_init_sized, "struct_size 1", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_batcher_options_init_sized(&bo, 1));
  pnas_batcher_options_init(&bo);
  bo.batch_size = 0;
  ROW(pnas_batcher_create, "batch_size 0", PNAS_ERR_INVALID_ARGUMENT, "batch_size is 0",
      pnas_batcher_create(f->ds, &bo, &batcher));
  pnas_batcher_options_init(&bo);
  bo.crop_padding = -1;
  ROW(pnas_batcher_create, "crop_padding -1", PNAS_ERR_INVALID_ARGUMENT, "crop_padding is -1",
      pnas_batcher_create(f->ds, &bo, &batcher));
  pnas_batcher_options_init(&bo);
  bo.std[0] = 0.0f;
  ROW(pnas_batcher_create, "std 0", PNAS_ERR_INVALID_ARGUMENT, "std",
      pnas_batcher_create(f->ds, &bo, &batcher));
  pnas_batcher_options_init(&bo);
  bo.drop_last = 1;
  bo.batch_size = N + 1;
  ROW(pnas_batcher_create, "drop_last with batch > images", PNAS_ERR_INVALID_ARGUMENT,
      "no batch at all", pnas_batcher_create(f->ds, &bo, &batcher));
  ROW(pnas_batcher_create, "out_batcher NULL", PNAS_ERR_INVALID_ARGUMENT, "out_batcher is NULL",
      pnas_batcher_create(f->ds, NULL, NULL));
  ck_assert_ptr_null(batcher);
  float images[BATCH * HW * HW];
  int32_t labels_out[BATCH], count;
  ROW(pnas_batcher_next, "images NULL", PNAS_ERR_INVALID_ARGUMENT, "images is NULL",
      pnas_batcher_next(f->batcher, NULL, labels_out, &count));
  ROW(pnas_batcher_next, "out_count NULL", PNAS_ERR_INVALID_ARGUMENT, "out_count is NULL",
      pnas_batcher_next(f->batcher, images, labels_out, NULL));
  ROW(pnas_batcher_next, "a pnas_dataset as batcher", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_dataset where a pnas_batcher",
      pnas_batcher_next(AS(pnas_batcher, f->ds), images, labels_out, &count));
  const float *view;
  const int32_t *view_labels;
  ROW(pnas_batcher_next_view, "out_labels NULL", PNAS_ERR_INVALID_ARGUMENT, "out_labels is NULL",
      pnas_batcher_next_view(f->batcher, &view, NULL, &count));
  ROW(pnas_batcher_next_view, "batcher NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_batcher_next_view(NULL, &view, &view_labels, &count));
  ROW(pnas_batcher_reset, "batcher NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_batcher_reset(NULL));
  ROW(pnas_batcher_reset, "a pnas_net as batcher", PNAS_ERR_WRONG_HANDLE,
      "pnas_batcher_reset: got a pnas_net", pnas_batcher_reset(AS(pnas_batcher, f->net)));
  unsigned char state[1024];
  size_t size = 0;
  ROW(pnas_batcher_get_state, "buffer too small", PNAS_ERR_INVALID_ARGUMENT,
      "the buffer has 8 bytes", pnas_batcher_get_state(f->batcher, state, 8, &size));
  ck_assert_uint_eq(size, 56 + 8 * N); /* the size is still reported */
  ROW(pnas_batcher_get_state, "out_size NULL", PNAS_ERR_INVALID_ARGUMENT, "out_size is NULL",
      pnas_batcher_get_state(f->batcher, state, sizeof state, NULL));
  ck_assert_int_eq(pnas_batcher_get_state(f->batcher, state, sizeof state, &size), PNAS_OK);
  ROW(pnas_batcher_set_state, "wrong size", PNAS_ERR_FORMAT, "wrong size",
      pnas_batcher_set_state(f->batcher, state, size - 1));
  ROW(pnas_batcher_set_state, "buffer NULL", PNAS_ERR_FORMAT, "buffer is NULL",
      pnas_batcher_set_state(f->batcher, NULL, size));
  state[0] ^= 1;
  ROW(pnas_batcher_set_state, "bad magic", PNAS_ERR_FORMAT, "not a state of a batcher",
      pnas_batcher_set_state(f->batcher, state, size));
  state[0] ^= 1;
  int64_t twice = 0;
  memcpy(state + 56 + 8, &twice, 8); /* order[1] = order[0] = 0 after a reset */
  memcpy(state + 56, &twice, 8);
  ROW(pnas_batcher_set_state, "order not a permutation", PNAS_ERR_FORMAT, "not a permutation",
      pnas_batcher_set_state(f->batcher, state, size));
  ROW_VOID(
      pnas_batcher_destroy, "a pnas_space", "ignored; the context says so",
      (pnas_batcher_destroy(AS(pnas_batcher, f->space)),
       strstr(pnas_context_last_error(f->ctx), "pnas_batcher_destroy: got a pnas_space") != NULL));
  fixture_close(f);
}
END_TEST

/* --- networks --------------------------------------------------------------------- */

START_TEST(net_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "net_bad_input");
  pnas_net_options no;
  pnas_sgd_options sgd;
  pnas_net *out = NULL;
  ROW(pnas_net_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_net_options_init_sized(NULL, sizeof no));
  ROW(pnas_net_options_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_net_options_init_sized(&no, 2));
  ROW(pnas_sgd_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_sgd_options_init_sized(NULL, sizeof sgd));
  ROW(pnas_sgd_options_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_sgd_options_init_sized(&sgd, 2));

  pnas_net_options_init(&no);
  no.max_batch = 0;
  ROW(pnas_net_create, "max_batch 0", PNAS_ERR_INVALID_ARGUMENT, "max_batch is 0",
      pnas_net_create(f->ctx, f->arch, &no, &out));
  pnas_net_options_init(&no);
  no.bn_eps = NAN;
  ROW(pnas_net_create, "bn_eps NaN", PNAS_ERR_INVALID_ARGUMENT, "bn_eps is nan",
      pnas_net_create(f->ctx, f->arch, &no, &out));
  pnas_net_options_init(&no);
  no.dropout = 1.0f;
  ROW(pnas_net_create, "dropout 1", PNAS_ERR_INVALID_ARGUMENT, "dropout is 1",
      pnas_net_create(f->ctx, f->arch, &no, &out));
  pnas_arch_info huge;
  pnas_arch_info_init(&huge);
  huge.input_height = huge.input_width = huge.input_channels = 65536;
  pnas_arch *giant = NULL;
  ck_assert_int_eq(pnas_arch_create(f->ctx, &huge, &giant), PNAS_OK);
  pnas_net_options_init(&no);
  no.max_batch = 65536;
  ROW(pnas_net_create, "65536^3 input, max_batch 65536 (was SIGFPE)", PNAS_ERR_INVALID_ARGUMENT,
      "the network is too large", pnas_net_create(f->ctx, giant, &no, &out));
  pnas_arch_destroy(giant);
  ROW(pnas_net_create, "arch NULL", PNAS_ERR_INVALID_ARGUMENT, "arch is NULL",
      pnas_net_create(f->ctx, NULL, NULL, &out));
  ROW(pnas_net_create, "a pnas_space as arch", PNAS_ERR_WRONG_HANDLE,
      "arch is not a live pnas_arch", pnas_net_create(f->ctx, AS(pnas_arch, f->space), NULL, &out));
  ROW(pnas_net_create, "a pnas_space as context", PNAS_ERR_WRONG_HANDLE,
      "pnas_net_create: got a pnas_space where a pnas_context",
      pnas_net_create(AS(pnas_context, f->space), f->arch, NULL, &out));
  ck_assert_ptr_null(out);

  pnas_sgd_options_init(&sgd);
  sgd.momentum = 1.5f;
  ROW(pnas_net_set_sgd, "momentum 1.5", PNAS_ERR_INVALID_ARGUMENT, "momentum is 1.5",
      pnas_net_set_sgd(f->net, &sgd));
  pnas_sgd_options_init(&sgd);
  sgd.lr = -1.0f;
  ROW(pnas_net_set_sgd, "lr -1", PNAS_ERR_INVALID_ARGUMENT, "lr is -1",
      pnas_net_set_sgd(f->net, &sgd));
  sgd.struct_size = 3;
  ROW(pnas_net_set_sgd, "struct_size 3", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 3",
      pnas_net_set_sgd(f->net, &sgd));
  ROW(pnas_net_set_sgd, "options NULL", PNAS_ERR_INVALID_ARGUMENT, "options is NULL",
      pnas_net_set_sgd(f->net, NULL));
  ROW(pnas_net_set_lr, "lr NaN", PNAS_ERR_INVALID_ARGUMENT, "lr is nan",
      pnas_net_set_lr(f->net, NAN));
  ROW(pnas_net_set_lr, "lr -inf", PNAS_ERR_INVALID_ARGUMENT, "lr is -inf",
      pnas_net_set_lr(f->net, -INFINITY));
  ROW(pnas_net_set_lr, "a pnas_supernet as net", PNAS_ERR_WRONG_HANDLE,
      "pnas_net_set_lr: got a pnas_supernet where a pnas_net",
      pnas_net_set_lr(AS(pnas_net, f->sn), 0.1f));

  int32_t labels[BATCH] = {0, 1, 2, 3};
  ROW(pnas_net_train_step, "label 3 of 3 classes", PNAS_ERR_INVALID_ARGUMENT, "labels[3] is 3",
      pnas_net_train_step(f->net, f->images, labels, BATCH, NULL));
  ROW(pnas_net_train_step, "batch above max_batch", PNAS_ERR_INVALID_ARGUMENT, "batch is 5",
      pnas_net_train_step(f->net, f->images, f->labels, BATCH + 1, NULL));
  ROW(pnas_net_train_step, "labels NULL", PNAS_ERR_INVALID_ARGUMENT, "labels is NULL",
      pnas_net_train_step(f->net, f->images, NULL, BATCH, NULL));
  float nan_images[BATCH * HW * HW];
  memcpy(nan_images, f->images, sizeof nan_images);
  nan_images[5] = NAN;
  ROW(pnas_net_train_step, "a NaN pixel", PNAS_ERR_NUMERIC, "not finite",
      pnas_net_train_step(f->net, nan_images, f->labels, BATCH, NULL));
  float logits[BATCH * CLASSES];
  ROW(pnas_net_infer, "batch 0", PNAS_ERR_INVALID_ARGUMENT, "batch is 0",
      pnas_net_infer(f->net, f->images, 0, logits));
  ROW(pnas_net_infer, "out_logits NULL", PNAS_ERR_INVALID_ARGUMENT, "out_logits is NULL",
      pnas_net_infer(f->net, f->images, BATCH, NULL));
  ROW(pnas_net_infer, "images NULL", PNAS_ERR_INVALID_ARGUMENT, "images is NULL",
      pnas_net_infer(f->net, NULL, BATCH, logits));

  pnas_step_stats stats;
  stats.struct_size = sizeof stats;
  pnas_dataset *wide = NULL;
  const uint8_t pixels[2 * 8 * 8] = {0};
  const int32_t two[2] = {0, 1};
  ck_assert_int_eq(pnas_dataset_create_from_memory(f->ctx, pixels, two, 2, 8, 8, 1, 2, &wide),
                   PNAS_OK);
  ROW(pnas_net_evaluate, "8x8 images for a 6x6 network", PNAS_ERR_SHAPE,
      "images are 8x8x1, the network takes 6x6x1", pnas_net_evaluate(f->net, wide, NULL, &stats));
  pnas_dataset_destroy(wide);
  ROW(pnas_net_evaluate, "out_stats NULL", PNAS_ERR_INVALID_ARGUMENT, "out_stats is NULL",
      pnas_net_evaluate(f->net, f->ds, NULL, NULL));
  ROW(pnas_net_evaluate, "a pnas_batcher as dataset", PNAS_ERR_WRONG_HANDLE, "dataset is not live",
      pnas_net_evaluate(f->net, AS(pnas_dataset, f->batcher), NULL, &stats));
  pnas_batcher_options norm;
  pnas_batcher_options_init(&norm);
  norm.std[0] = -1.0f;
  ROW(pnas_net_evaluate, "std -1", PNAS_ERR_INVALID_ARGUMENT, "std",
      pnas_net_evaluate(f->net, f->ds, &norm, &stats));
  stats.struct_size = 0;
  ROW(pnas_net_evaluate, "out_stats.struct_size 0", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 0",
      pnas_net_evaluate(f->net, f->ds, NULL, &stats));

  const char *no_dir = "/nonexistent-pnas-dir/net.pnas";
  ROW(pnas_net_save, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_net_save(f->net, no_dir));
  ROW(pnas_net_save, "path NULL", PNAS_ERR_INVALID_ARGUMENT, "path is NULL",
      pnas_net_save(f->net, NULL));
  const char *missing = fixture_file(f, 0, "missing.pnas", NULL, 0);
  ROW(pnas_net_load, "missing file", PNAS_ERR_IO, "missing.pnas",
      pnas_net_load(f->ctx, missing, NULL, &out));
  const char *junk = fixture_file(f, 1, "junk.pnas", "PNASNET junk junk junk junk", 27);
  ROW(pnas_net_load, "not a network file", PNAS_ERR_FORMAT, "junk.pnas",
      pnas_net_load(f->ctx, junk, NULL, &out));
  const char *saved = fixture_file(f, 2, "net.pnas", NULL, 0);
  ck_assert_int_eq(pnas_net_save(f->net, saved), PNAS_OK);
  FILE *file = fopen(saved, "r+b");
  ck_assert_ptr_nonnull(file);
  fseek(file, -5, SEEK_END);
  const int c = fgetc(file);
  fseek(file, -5, SEEK_END);
  fputc(c ^ 0x40, file);
  fclose(file);
  ROW(pnas_net_load, "one flipped bit", PNAS_ERR_FORMAT, "checksum",
      pnas_net_load(f->ctx, saved, NULL, &out));
  pnas_net_options_init(&no);
  no.max_batch = -2;
  ROW(pnas_net_load, "max_batch -2", PNAS_ERR_INVALID_ARGUMENT, "max_batch is -2",
      pnas_net_load(f->ctx, missing, &no, &out));
  ck_assert_ptr_null(out);
  pnas_arch *copy = NULL;
  ROW(pnas_net_get_arch, "out_arch NULL", PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL",
      pnas_net_get_arch(f->net, NULL));
  ROW(pnas_net_get_arch, "a pnas_arch as net", PNAS_ERR_WRONG_HANDLE,
      "pnas_net_get_arch: got a pnas_arch", pnas_net_get_arch(AS(pnas_net, f->arch), &copy));
  ck_assert_ptr_null(copy);
  ROW_VOID(
      pnas_net_destroy, "a pnas_dataset", "ignored; the context says so",
      (pnas_net_destroy(AS(pnas_net, f->ds)),
       strstr(pnas_context_last_error(f->ctx), "pnas_net_destroy: got a pnas_dataset") != NULL));
  ROW_VOID(pnas_lr_cosine, "total 0", "lr0", pnas_lr_cosine(0.5f, 3, 0) == 0.5f);
  ROW_VOID(pnas_lr_cosine, "t past total", "0 (clamped)", pnas_lr_cosine(0.5f, 99, 10) == 0.0f);
  ROW_VOID(pnas_lr_cosine, "t negative", "lr0 (clamped)", pnas_lr_cosine(0.5f, -4, 10) == 0.5f);
  fixture_close(f);
}
END_TEST

/* --- search spaces -------------------------------------------------------------- */

START_TEST(space_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "space_bad_input");
  pnas_space_info info;
  pnas_space *out = NULL;
  ROW(pnas_space_info_init_sized, "info NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_space_info_init_sized(NULL, sizeof info));
  ROW(pnas_space_info_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_space_info_init_sized(&info, 2));
  pnas_space_info_init(&info);
  info.classes = 1;
  ROW(pnas_space_create, "classes 1", PNAS_ERR_INVALID_ARGUMENT, "classes is 1",
      pnas_space_create(f->ctx, &info, &out));
  pnas_space_info_init(&info);
  info.stem_stride = 4;
  ROW(pnas_space_create, "stem_stride 4", PNAS_ERR_INVALID_ARGUMENT, "stem_stride is 4",
      pnas_space_create(f->ctx, &info, &out));
  ROW(pnas_space_create, "out_space NULL", PNAS_ERR_INVALID_ARGUMENT, "out_space is NULL",
      pnas_space_create(f->ctx, &info, NULL));
  ROW(pnas_space_create_default, "out_space NULL", PNAS_ERR_INVALID_ARGUMENT, "out_space is NULL",
      pnas_space_create_default(f->ctx, NULL));
  ROW(pnas_space_create_default, "a pnas_arch as context", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_arch where a pnas_context",
      pnas_space_create_default(AS(pnas_context, f->arch), &out));
  ck_assert_ptr_null(out);

  const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_ZERO, 0, 0}};
  const pnas_op_spec bad_kernel[] = {{PNAS_OP_MBCONV, 4, 3}};
  ROW(pnas_space_add_stage, "stride 3", PNAS_ERR_INVALID_ARGUMENT, "stride is 3",
      pnas_space_add_stage(f->space, 8, 1, 3, ops, 2, 0));
  ROW(pnas_space_add_stage, "depth 0", PNAS_ERR_INVALID_ARGUMENT, "depth",
      pnas_space_add_stage(f->space, 8, 0, 1, ops, 2, 0));
  ROW(pnas_space_add_stage, "ops NULL", PNAS_ERR_INVALID_ARGUMENT, "ops is NULL",
      pnas_space_add_stage(f->space, 8, 1, 1, NULL, 2, 0));
  ROW(pnas_space_add_stage, "kernel 4", PNAS_ERR_INVALID_ARGUMENT, "kernel",
      pnas_space_add_stage(f->space, 8, 1, 1, bad_kernel, 1, 0));
  ROW(pnas_space_add_stage, "zero on a first layer without residual (strict)",
      PNAS_ERR_INVALID_ARGUMENT, "zero", pnas_space_add_stage(f->space, 8, 2, 2, ops, 2, 1));
  ROW(pnas_space_add_stage, "a pnas_supernet as space", PNAS_ERR_WRONG_HANDLE,
      "pnas_space_add_stage: got a pnas_supernet",
      pnas_space_add_stage(AS(pnas_space, f->sn), 8, 1, 1, ops, 2, 0));

  const char *missing = fixture_file(f, 0, "missing.yaml", NULL, 0);
  ROW(pnas_space_load_yaml, "missing file", PNAS_ERR_IO, "missing.yaml",
      pnas_space_load_yaml(f->ctx, missing, &out));
  const char *broken = fixture_file(f, 1, "space.yaml", bad_yaml, sizeof bad_yaml - 1);
  ROW(pnas_space_load_yaml, "malformed YAML", PNAS_ERR_PARSE, "space.yaml",
      pnas_space_load_yaml(f->ctx, broken, &out));
  ROW(pnas_space_load_yaml, "out_space NULL", PNAS_ERR_INVALID_ARGUMENT, "out_space is NULL",
      pnas_space_load_yaml(f->ctx, broken, NULL));
  ROW(pnas_space_parse_yaml, "malformed YAML", PNAS_ERR_PARSE, "line",
      pnas_space_parse_yaml(f->ctx, bad_yaml, sizeof bad_yaml - 1, &out));
  static const char unknown_key[] = "input: {height: 6, width: 6, channels: 1}\nbogus: 3\n";
  ROW(pnas_space_parse_yaml, "unknown key", PNAS_ERR_PARSE, "bogus",
      pnas_space_parse_yaml(f->ctx, unknown_key, sizeof unknown_key - 1, &out));
  ROW(pnas_space_parse_yaml, "text NULL", PNAS_ERR_INVALID_ARGUMENT, "text is NULL",
      pnas_space_parse_yaml(f->ctx, NULL, 3, &out));
  ck_assert_ptr_null(out);
  ROW(pnas_space_save_yaml, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_space_save_yaml(f->space, "/nonexistent-pnas-dir/space.yaml"));
  ROW(pnas_space_save_yaml, "path NULL", PNAS_ERR_INVALID_ARGUMENT, "path is NULL",
      pnas_space_save_yaml(f->space, NULL));
  info.struct_size = 1;
  ROW(pnas_space_get_info, "struct_size 1", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 1",
      pnas_space_get_info(f->space, &info));
  ROW(pnas_space_get_info, "space NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_space_get_info(NULL, &info));
  pnas_block_info block;
  block.struct_size = sizeof block;
  pnas_op_spec got_ops[4];
  int32_t op_count;
  ROW(pnas_space_get_layer, "layer 2 of 2", PNAS_ERR_INVALID_ARGUMENT, "layer 2 is out of range",
      pnas_space_get_layer(f->space, 2, &block, got_ops, 4, &op_count));
  ROW(pnas_space_get_layer, "ops_capacity -1", PNAS_ERR_INVALID_ARGUMENT, "ops_capacity is -1",
      pnas_space_get_layer(f->space, 0, &block, got_ops, -1, &op_count));
  ROW(pnas_space_get_layer, "out_block NULL", PNAS_ERR_INVALID_ARGUMENT, "out_block is NULL",
      pnas_space_get_layer(f->space, 0, NULL, got_ops, 4, &op_count));
  ROW_VOID(pnas_space_destroy, "a pnas_net", "ignored; the context says so",
           (pnas_space_destroy(AS(pnas_space, f->net)),
            strstr(pnas_context_last_error(f->ctx), "pnas_space_destroy: got a pnas_net") != NULL));
  fixture_close(f);
}
END_TEST

/* --- latency models ------------------------------------------------------------- */

static int answer_nan(void *user, const pnas_latency_query *query, double *out_ms) {
  (void)user;
  (void)query;
  *out_ms = NAN;
  return 0;
}

static int refuse(void *user, const pnas_latency_query *query, double *out_ms) {
  (void)user;
  (void)query;
  (void)out_ms;
  return 1;
}

START_TEST(latency_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "latency_bad_input");
  pnas_latency_model *out = NULL;
  const char *missing = fixture_file(f, 0, "missing-table.yaml", NULL, 0);
  ROW(pnas_latency_model_load_table, "missing file", PNAS_ERR_IO, "missing-table.yaml",
      pnas_latency_model_load_table(f->ctx, missing, &out));
  static const char negative[] =
      "Logits-input:1x1x8-output:3:\n  count: 1\n  mean: -2.0\n  var: 0.0\n";
  const char *neg = fixture_file(f, 1, "negative.yaml", negative, sizeof negative - 1);
  ROW(pnas_latency_model_load_table, "a negative mean", PNAS_ERR_PARSE, "negative.yaml",
      pnas_latency_model_load_table(f->ctx, neg, &out));
  ROW(pnas_latency_model_load_table, "out_model NULL", PNAS_ERR_INVALID_ARGUMENT,
      "out_model is NULL", pnas_latency_model_load_table(f->ctx, neg, NULL));
  static const char one_key[] = "Logits-input:1x1x8-output:3:\n  count: 1\n  mean: 0.5\n";
  const char *small = fixture_file(f, 2, "small.yaml", one_key, sizeof one_key - 1);
  pnas_latency_model *table = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(f->ctx, small, &table), PNAS_OK);
  double ms = -1.0;
  ROW(pnas_latency_model_arch_latency, "a table without the stem's key", PNAS_ERR_NOT_FOUND,
      "Conv-input:6x6x1", pnas_latency_model_arch_latency(table, f->arch, &ms));
  ROW(pnas_latency_model_arch_latency, "a pnas_net as arch", PNAS_ERR_WRONG_HANDLE,
      "arch is not a live pnas_arch",
      pnas_latency_model_arch_latency(f->lat, AS(pnas_arch, f->net), &ms));
  ROW(pnas_latency_model_arch_latency, "out_ms NULL", PNAS_ERR_INVALID_ARGUMENT, "out_ms is NULL",
      pnas_latency_model_arch_latency(f->lat, f->arch, NULL));
  ROW(pnas_latency_model_arch_latency, "model NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_latency_model_arch_latency(NULL, f->arch, &ms));
  ck_assert(ms == -1.0);

  pnas_latency_model *cb = NULL;
  ROW(pnas_latency_model_create_callback, "fn NULL", PNAS_ERR_INVALID_ARGUMENT, "fn is NULL",
      pnas_latency_model_create_callback(f->ctx, NULL, NULL, &cb));
  ROW(pnas_latency_model_create_callback, "context NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_latency_model_create_callback(NULL, answer_nan, NULL, &cb));
  ROW(pnas_latency_model_create_macs, "ms_per_mmac 0", PNAS_ERR_INVALID_ARGUMENT,
      "ms_per_mmac is 0", pnas_latency_model_create_macs(f->ctx, 0.0, &out));
  ROW(pnas_latency_model_create_macs, "ms_per_mmac inf", PNAS_ERR_INVALID_ARGUMENT,
      "ms_per_mmac is inf", pnas_latency_model_create_macs(f->ctx, INFINITY, &out));
  ck_assert_ptr_null(out);

  pnas_profile_options po;
  ROW(pnas_profile_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_profile_options_init_sized(NULL, sizeof po));
  ROW(pnas_profile_options_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_profile_options_init_sized(&po, 2));
  pnas_profile_options_init(&po);
  po.repeats = 0;
  ROW(pnas_latency_model_profile, "repeats 0", PNAS_ERR_INVALID_ARGUMENT, "repeats is 0",
      pnas_latency_model_profile(f->ctx, f->space, &po, &out));
  pnas_profile_options_init(&po);
  po.batch = 70000;
  ROW(pnas_latency_model_profile, "batch 70000", PNAS_ERR_INVALID_ARGUMENT, "batch is 70000",
      pnas_latency_model_profile(f->ctx, f->space, &po, &out));
  ROW(pnas_latency_model_profile, "a pnas_arch as space", PNAS_ERR_WRONG_HANDLE,
      "space is not a live pnas_space",
      pnas_latency_model_profile(f->ctx, AS(pnas_space, f->arch), NULL, &out));
  ck_assert_ptr_null(out);

  ROW(pnas_latency_model_save_table, "a MACs model", PNAS_ERR_UNSUPPORTED, "not a table",
      pnas_latency_model_save_table(f->lat, fixture_file(f, 3, "saved.yaml", NULL, 0)));
  ROW(pnas_latency_model_save_table, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_latency_model_save_table(table, "/nonexistent-pnas-dir/table.yaml"));
  ROW(pnas_latency_model_save_table, "path NULL", PNAS_ERR_INVALID_ARGUMENT, "path is NULL",
      pnas_latency_model_save_table(table, NULL));

  pnas_block_info block;
  pnas_block_info_init(&block);
  block.in_channels = block.out_channels = 4;
  block.in_height = block.in_width = HW;
  block.kernel = 9;
  ROW(pnas_latency_model_block_latency, "kernel 9", PNAS_ERR_INVALID_ARGUMENT, "kernel",
      pnas_latency_model_block_latency(f->lat, &block, &ms));
  block.kernel = 3;
  block.in_channels = 0;
  ROW(pnas_latency_model_block_latency, "in_channels 0", PNAS_ERR_INVALID_ARGUMENT, "in_channels",
      pnas_latency_model_block_latency(f->lat, &block, &ms));
  block.in_channels = 4;
  ROW(pnas_latency_model_block_latency, "a table without the key", PNAS_ERR_NOT_FOUND,
      "expanded_conv-input:6x6x4", pnas_latency_model_block_latency(table, &block, &ms));
  ck_assert_int_eq(pnas_latency_model_create_callback(f->ctx, answer_nan, NULL, &cb), PNAS_OK);
  ROW(pnas_latency_model_block_latency, "a callback answering NaN", PNAS_ERR_NUMERIC, "nan",
      pnas_latency_model_block_latency(cb, &block, &ms));
  pnas_latency_model_destroy(cb);
  cb = NULL;
  ck_assert_int_eq(pnas_latency_model_create_callback(f->ctx, refuse, NULL, &cb), PNAS_OK);
  ROW(pnas_latency_model_block_latency, "a callback that refuses", PNAS_ERR_NOT_FOUND,
      "expanded_conv-input:6x6x4", pnas_latency_model_block_latency(cb, &block, &ms));
  pnas_latency_model_destroy(cb);
  block.struct_size = 2;
  ROW(pnas_latency_model_block_latency, "block.struct_size 2", PNAS_ERR_INVALID_ARGUMENT,
      "struct_size is 2", pnas_latency_model_block_latency(f->lat, &block, &ms));
  ROW(pnas_latency_model_block_latency, "a pnas_space as model", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_space where a pnas_latency_model",
      pnas_latency_model_block_latency(AS(pnas_latency_model, f->space), &block, &ms));
  ck_assert(ms == -1.0);
  ROW_VOID(pnas_latency_model_destroy, "a pnas_dataset", "ignored; the context says so",
           (pnas_latency_model_destroy(AS(pnas_latency_model, f->ds)),
            strstr(pnas_context_last_error(f->ctx),
                   "pnas_latency_model_destroy: got a pnas_dataset") != NULL));
  pnas_latency_model_destroy(table);
  fixture_close(f);
}
END_TEST

/* --- supernets: arguments ---------------------------------------------------------- */

START_TEST(supernet_bad_input) {
  fixture fx, *f = &fx;
  fixture_open(f, "supernet_bad_input");
  pnas_supernet_options so;
  pnas_search_options search;
  pnas_supernet *out = NULL;
  ROW(pnas_supernet_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_supernet_options_init_sized(NULL, sizeof so));
  ROW(pnas_supernet_options_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_supernet_options_init_sized(&so, 2));
  ROW(pnas_search_options_init_sized, "options NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_search_options_init_sized(NULL, sizeof search));
  ROW(pnas_search_options_init_sized, "struct_size 2", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_search_options_init_sized(&search, 2));

  pnas_supernet_options_init(&so);
  so.max_batch = 0;
  ROW(pnas_supernet_create, "max_batch 0", PNAS_ERR_INVALID_ARGUMENT, "max_batch is 0",
      pnas_supernet_create(f->ctx, f->space, &so, &out));
  pnas_supernet_options_init(&so);
  so.alpha_init_std = -1.0f;
  ROW(pnas_supernet_create, "alpha_init_std -1", PNAS_ERR_INVALID_ARGUMENT, "alpha_init_std is -1",
      pnas_supernet_create(f->ctx, f->space, &so, &out));
  pnas_space_info info;
  info.struct_size = sizeof info;
  ck_assert_int_eq(pnas_space_get_info(f->space, &info), PNAS_OK);
  pnas_space *empty = NULL;
  ck_assert_int_eq(pnas_space_create(f->ctx, &info, &empty), PNAS_OK);
  ROW(pnas_supernet_create, "a space with no stage", PNAS_ERR_INVALID_ARGUMENT, "no searched layer",
      pnas_supernet_create(f->ctx, empty, NULL, &out));
  pnas_space_destroy(empty);
  info.input_height = info.input_width = info.input_channels = 65536;
  pnas_space *giant = NULL;
  ck_assert_int_eq(pnas_space_create(f->ctx, &info, &giant), PNAS_OK);
  const pnas_op_spec ops1[] = {{PNAS_OP_MBCONV, 3, 1}};
  ck_assert_int_eq(pnas_space_add_stage(giant, 4, 1, 2, ops1, 1, 0), PNAS_OK);
  pnas_supernet_options_init(&so);
  so.max_batch = 65536;
  ROW(pnas_supernet_create, "65536^3 input, max_batch 65536", PNAS_ERR_INVALID_ARGUMENT,
      "the supernet is too large", pnas_supernet_create(f->ctx, giant, &so, &out));
  pnas_space_destroy(giant);
  ROW(pnas_supernet_create, "a pnas_arch as space", PNAS_ERR_WRONG_HANDLE,
      "space is not a live pnas_space",
      pnas_supernet_create(f->ctx, AS(pnas_space, f->arch), NULL, &out));
  ck_assert_ptr_null(out);

  pnas_supernet_info si;
  si.struct_size = 0;
  ROW(pnas_supernet_get_info, "struct_size 0", PNAS_ERR_INVALID_ARGUMENT, "struct_size",
      pnas_supernet_get_info(f->sn, &si));
  ROW(pnas_supernet_get_info, "supernet NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_supernet_get_info(NULL, &si));
  ROW(pnas_supernet_get_info, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_supernet_get_info(FOREIGN(pnas_supernet), &si));
  pnas_sgd_options sgd;
  pnas_sgd_options_init(&sgd);
  sgd.label_smoothing = 2.0f;
  ROW(pnas_supernet_set_sgd, "label_smoothing 2", PNAS_ERR_INVALID_ARGUMENT, "label_smoothing 2",
      pnas_supernet_set_sgd(f->sn, &sgd));
  ROW(pnas_supernet_set_sgd, "options NULL", PNAS_ERR_INVALID_ARGUMENT, "options is NULL",
      pnas_supernet_set_sgd(f->sn, NULL));
  ROW(pnas_supernet_set_lr, "lr -0.1", PNAS_ERR_INVALID_ARGUMENT, "lr is -0.1",
      pnas_supernet_set_lr(f->sn, -0.1f));
  ROW(pnas_supernet_set_lr, "a pnas_net as supernet", PNAS_ERR_WRONG_HANDLE,
      "pnas_supernet_set_lr: got a pnas_net where a pnas_supernet was expected",
      pnas_supernet_set_lr(AS(pnas_supernet, f->net), 0.1f));

  pnas_search_options_init(&search);
  search.arch_mode = (pnas_arch_mode)7;
  ROW(pnas_supernet_set_search, "arch_mode 7", PNAS_ERR_INVALID_ARGUMENT, "arch_mode",
      pnas_supernet_set_search(f->sn, &search));
  pnas_search_options_init(&search);
  search.arch_beta2 = 1.0f;
  ROW(pnas_supernet_set_search, "arch_beta2 1", PNAS_ERR_INVALID_ARGUMENT, "arch_beta2",
      pnas_supernet_set_search(f->sn, &search));
  pnas_search_options_init(&search);
  search.prune_threshold = 1.0f;
  ROW(pnas_supernet_set_search, "prune_threshold 1", PNAS_ERR_INVALID_ARGUMENT, "prune_threshold",
      pnas_supernet_set_search(f->sn, &search));
  pnas_search_options_init(&search);
  search.rl_samples = 0;
  ROW(pnas_supernet_set_search, "rl_samples 0", PNAS_ERR_INVALID_ARGUMENT, "rl_samples",
      pnas_supernet_set_search(f->sn, &search));
  pnas_search_options_init(&search);
  search.loss_form = PNAS_LOSS_MUL_LOG;
  search.target_ms = 0.5f;
  ROW(pnas_supernet_set_search, "mul-log with target 0.5 ms", PNAS_ERR_INVALID_ARGUMENT, "T > 1 ms",
      pnas_supernet_set_search(f->sn, &search));
  search.struct_size = 16;
  ROW(pnas_supernet_set_search, "struct_size 16", PNAS_ERR_INVALID_ARGUMENT, "struct_size is 16",
      pnas_supernet_set_search(f->sn, &search));

  pnas_latency_model *cb = NULL;
  ck_assert_int_eq(pnas_latency_model_create_callback(f->ctx, answer_nan, NULL, &cb), PNAS_OK);
  ROW(pnas_supernet_set_latency_model, "a callback answering NaN", PNAS_ERR_NUMERIC, "nan",
      pnas_supernet_set_latency_model(f->sn, cb));
  pnas_latency_model_destroy(cb);
  ROW(pnas_supernet_set_latency_model, "a pnas_arch as model", PNAS_ERR_WRONG_HANDLE,
      "model is not a live pnas_latency_model",
      pnas_supernet_set_latency_model(f->sn, AS(pnas_latency_model, f->arch)));

  int32_t labels[BATCH] = {0, 1, 2, -1};
  ROW(pnas_supernet_train_step, "label -1", PNAS_ERR_INVALID_ARGUMENT, "labels[3] is -1",
      pnas_supernet_train_step(f->sn, f->images, labels, BATCH, NULL));
  ROW(pnas_supernet_train_step, "batch 5 > max_batch 4", PNAS_ERR_INVALID_ARGUMENT, "batch is 5",
      pnas_supernet_train_step(f->sn, f->images, f->labels, BATCH + 1, NULL));
  ROW(pnas_supernet_train_step, "images NULL", PNAS_ERR_INVALID_ARGUMENT, "images is NULL",
      pnas_supernet_train_step(f->sn, NULL, f->labels, BATCH, NULL));
  ROW(pnas_supernet_train_step, "a pnas_arch as supernet", PNAS_ERR_WRONG_HANDLE,
      "got a pnas_arch where a pnas_supernet",
      pnas_supernet_train_step(AS(pnas_supernet, f->arch), f->images, f->labels, BATCH, NULL));
  ROW(pnas_supernet_arch_step, "batch 0", PNAS_ERR_INVALID_ARGUMENT, "batch is 0",
      pnas_supernet_arch_step(f->sn, f->images, f->labels, 0, NULL));
  ROW(pnas_supernet_arch_step, "labels NULL", PNAS_ERR_INVALID_ARGUMENT, "labels is NULL",
      pnas_supernet_arch_step(f->sn, f->images, NULL, BATCH, NULL));
  ROW(pnas_supernet_arch_step_reinforce, "label 3 of 3 classes", PNAS_ERR_INVALID_ARGUMENT,
      "labels[0] is 3",
      pnas_supernet_arch_step_reinforce(f->sn, f->images, (const int32_t[]){3, 0, 0, 0}, BATCH,
                                        NULL));
  ROW(pnas_supernet_arch_gradient, "batch -1", PNAS_ERR_INVALID_ARGUMENT, "batch is -1",
      pnas_supernet_arch_gradient(f->sn, f->images, f->labels, -1, NULL));
  ROW(pnas_supernet_arch_gradient, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_supernet_arch_gradient(FOREIGN(pnas_supernet), f->images, f->labels, BATCH, NULL));
  ROW(pnas_supernet_prune, "supernet NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_supernet_prune(NULL, NULL));
  ROW(pnas_supernet_prune, "a pnas_space as supernet", PNAS_ERR_WRONG_HANDLE,
      "pnas_supernet_prune: got a pnas_space",
      pnas_supernet_prune(AS(pnas_supernet, f->space), NULL));
  ROW(pnas_supernet_expected_latency, "out_ms NULL", PNAS_ERR_INVALID_ARGUMENT, "out_ms is NULL",
      pnas_supernet_expected_latency(f->sn, NULL));
  pnas_arch *arch = NULL;
  ROW(pnas_supernet_derive, "out_arch NULL", PNAS_ERR_INVALID_ARGUMENT, "out_arch is NULL",
      pnas_supernet_derive(f->sn, NULL));
  ROW(pnas_supernet_derive, "a pnas_net as supernet", PNAS_ERR_WRONG_HANDLE,
      "pnas_supernet_derive: got a pnas_net",
      pnas_supernet_derive(AS(pnas_supernet, f->net), &arch));
  ck_assert_ptr_null(arch);
  pnas_net *net = NULL;
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = 70000;
  ROW(pnas_supernet_derive_net, "max_batch 70000", PNAS_ERR_INVALID_ARGUMENT, "max_batch 70000",
      pnas_supernet_derive_net(f->sn, &no, 1, &net));
  ROW(pnas_supernet_derive_net, "out_net NULL", PNAS_ERR_INVALID_ARGUMENT, "out_net is NULL",
      pnas_supernet_derive_net(f->sn, NULL, 1, NULL));
  ck_assert_ptr_null(net);

  int32_t count = -1;
  ROW(pnas_supernet_op_count, "layer 2 of 2", PNAS_ERR_INVALID_ARGUMENT, "layer is 2",
      pnas_supernet_op_count(f->sn, 2, &count));
  ROW(pnas_supernet_op_count, "out_count NULL", PNAS_ERR_INVALID_ARGUMENT, "out_count is NULL",
      pnas_supernet_op_count(f->sn, 0, NULL));
  pnas_op_spec ops[3];
  ROW(pnas_supernet_get_ops, "capacity 2 for 3 candidates", PNAS_ERR_INVALID_ARGUMENT, "too small",
      pnas_supernet_get_ops(f->sn, 0, ops, 2));
  ROW(pnas_supernet_get_ops, "layer -1", PNAS_ERR_INVALID_ARGUMENT, "layer is -1",
      pnas_supernet_get_ops(f->sn, -1, ops, 3));
  float alpha[3] = {0.0f, NAN, 0.0f};
  ROW(pnas_supernet_get_alpha, "what 3", PNAS_ERR_INVALID_ARGUMENT, "what is 3",
      pnas_supernet_get_alpha(f->sn, 0, 3, alpha, 3));
  ROW(pnas_supernet_get_alpha, "out NULL", PNAS_ERR_INVALID_ARGUMENT, "is NULL",
      pnas_supernet_get_alpha(f->sn, 0, 0, NULL, 3));
  ROW(pnas_supernet_set_alpha, "a NaN value", PNAS_ERR_INVALID_ARGUMENT, "alpha[1] is not finite",
      pnas_supernet_set_alpha(f->sn, 0, alpha, 3));
  ROW(pnas_supernet_set_alpha, "count 2 for 3 candidates", PNAS_ERR_INVALID_ARGUMENT,
      "got 2 values", pnas_supernet_set_alpha(f->sn, 0, alpha, 2));

  const char *path = fixture_file(f, 0, "checkpoint.pnas", NULL, 0);
  ROW(pnas_supernet_save, "folder does not exist", PNAS_ERR_IO, "nonexistent-pnas-dir",
      pnas_supernet_save(f->sn, "/nonexistent-pnas-dir/checkpoint.pnas", NULL, 0));
  ROW(pnas_supernet_save, "host_data NULL with host_size 4", PNAS_ERR_INVALID_ARGUMENT,
      "host_data is NULL", pnas_supernet_save(f->sn, path, NULL, 4));
  ROW(pnas_supernet_load, "missing file", PNAS_ERR_IO, "checkpoint.pnas",
      pnas_supernet_load(f->ctx, path, 0, &out, NULL, NULL));
  ck_assert_int_eq(pnas_supernet_save(f->sn, path, "host", 4), PNAS_OK);
  ck_assert_int_eq(truncate(path, 100), 0);
  ROW(pnas_supernet_load, "truncated at 100 bytes", PNAS_ERR_FORMAT, "checkpoint",
      pnas_supernet_load(f->ctx, path, 0, &out, NULL, NULL));
  ROW(pnas_supernet_load, "max_batch -1", PNAS_ERR_INVALID_ARGUMENT, "max_batch is -1",
      pnas_supernet_load(f->ctx, path, -1, &out, NULL, NULL));
  ROW(pnas_supernet_load, "out_supernet NULL", PNAS_ERR_INVALID_ARGUMENT, "out_supernet is NULL",
      pnas_supernet_load(f->ctx, path, 0, NULL, NULL, NULL));
  ck_assert_ptr_null(out);

  ROW(pnas_supernet_sample, "supernet NULL", PNAS_ERR_INVALID_ARGUMENT, NULL,
      pnas_supernet_sample(NULL));
  ROW(pnas_supernet_sample, "a pnas_batcher as supernet", PNAS_ERR_WRONG_HANDLE,
      "pnas_supernet_sample: got a pnas_batcher",
      pnas_supernet_sample(AS(pnas_supernet, f->batcher)));
  int32_t path_ops[2] = {0, 5};
  ROW(pnas_supernet_active_path, "index 5 of 3", PNAS_ERR_INVALID_ARGUMENT, "ops[1] is 5",
      pnas_supernet_active_path(f->sn, path_ops, 2, 1));
  ROW(pnas_supernet_active_path, "count 1 for 2 layers", PNAS_ERR_INVALID_ARGUMENT,
      "one index per layer (2), got 1", pnas_supernet_active_path(f->sn, path_ops, 1, 0));
  float logits[BATCH * CLASSES];
  ROW(pnas_supernet_forward, "training 3", PNAS_ERR_INVALID_ARGUMENT, "training is 3",
      pnas_supernet_forward(f->sn, f->images, BATCH, 3, logits));
  ROW(pnas_supernet_forward, "out_logits NULL", PNAS_ERR_INVALID_ARGUMENT, "out_logits is NULL",
      pnas_supernet_forward(f->sn, f->images, BATCH, 0, NULL));
  ROW(pnas_supernet_backward, "dlogits NULL", PNAS_ERR_INVALID_ARGUMENT, "dlogits is NULL",
      pnas_supernet_backward(f->sn, NULL, BATCH));
  ROW(pnas_supernet_sgd_step, "foreign pointer", PNAS_ERR_WRONG_HANDLE, NULL,
      pnas_supernet_sgd_step(FOREIGN(pnas_supernet)));
  float *params = NULL;
  ROW(pnas_supernet_parameters, "out_count NULL", PNAS_ERR_INVALID_ARGUMENT, "out_count is NULL",
      pnas_supernet_parameters(f->sn, &params, NULL, NULL));
  ck_assert_ptr_null(params);
  ROW(pnas_supernet_arch_update, "a pnas_dataset as supernet", PNAS_ERR_WRONG_HANDLE,
      "pnas_supernet_arch_update: got a pnas_dataset",
      pnas_supernet_arch_update(AS(pnas_supernet, f->ds)));
  ROW_VOID(
      pnas_supernet_destroy, "a pnas_space", "ignored; the context says so",
      (pnas_supernet_destroy(AS(pnas_supernet, f->space)),
       strstr(pnas_context_last_error(f->ctx), "pnas_supernet_destroy: got a pnas_space") != NULL));
  fixture_close(f);
}
END_TEST

/* --- supernets: calls in the wrong state ------------------------------------------- */

static pnas_status training_forward_then_backward(fixture *f, int32_t backward_batch) {
  float logits[BATCH * CLASSES], dlogits[BATCH * CLASSES];
  ck_assert_int_eq(pnas_supernet_forward(f->sn, f->images, BATCH, 1, logits), PNAS_OK);
  for (int i = 0; i < BATCH * CLASSES; i++) dlogits[i] = 0.01f * (float)(i % 5);
  return pnas_supernet_backward(f->sn, dlogits, backward_batch);
}

START_TEST(supernet_wrong_state) {
  fixture fx, *f = &fx;
  fixture_open(f, "supernet_wrong_state");
  /* Not an error: before any sample the active path is candidate 0 of
   * every layer, and a forward runs it. */
  int32_t path[2] = {-1, -1};
  float first_logits[BATCH * CLASSES];
  ROW_VOID(pnas_supernet_forward, "before any pnas_supernet_sample",
           "`OK`: runs the initial path (candidate 0 of every layer)",
           pnas_supernet_active_path(f->sn, path, 2, 0) == PNAS_OK && path[0] == 0 &&
               path[1] == 0 &&
               pnas_supernet_forward(f->sn, f->images, BATCH, 0, first_logits) == PNAS_OK &&
               isfinite(first_logits[0]));
  double ms = -1.0;
  ROW(pnas_supernet_expected_latency, "no latency model", PNAS_ERR_STATE, "no latency model set",
      pnas_supernet_expected_latency(f->sn, &ms));
  ck_assert(ms == -1.0);
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.loss_form = PNAS_LOSS_ADD;
  search.target_ms = 2.0f;
  ROW(pnas_supernet_set_search, "latency loss before a latency model", PNAS_ERR_STATE,
      "needs a latency model", pnas_supernet_set_search(f->sn, &search));
  ROW(pnas_supernet_arch_step_reinforce, "no latency model", PNAS_ERR_STATE,
      "needs a latency model",
      pnas_supernet_arch_step_reinforce(f->sn, f->images, f->labels, BATCH, NULL));
  ROW(pnas_supernet_arch_update, "no arch gradient computed", PNAS_ERR_STATE, "no alpha gradient",
      pnas_supernet_arch_update(f->sn));
  ROW(pnas_supernet_backward, "no training forward before", PNAS_ERR_STATE,
      "needs a training-mode pnas_supernet_forward",
      pnas_supernet_backward(f->sn, (const float[BATCH * CLASSES]){0}, BATCH));
  float logits[BATCH * CLASSES];
  ROW(pnas_supernet_backward, "after an evaluation-mode forward", PNAS_ERR_STATE,
      "needs a training-mode",
      (pnas_supernet_forward(f->sn, f->images, BATCH, 0, logits),
       pnas_supernet_backward(f->sn, (const float[BATCH * CLASSES]){0}, BATCH)));
  ROW(pnas_supernet_backward, "batch differs from the forward's", PNAS_ERR_STATE, "same batch",
      training_forward_then_backward(f, 2));
  ROW(pnas_supernet_sgd_step, "no backward before", PNAS_ERR_STATE, "no gradients to apply",
      pnas_supernet_sgd_step(f->sn));
  ROW(pnas_supernet_sgd_step, "a second step on the same gradients", PNAS_ERR_STATE,
      "no gradients to apply",
      (training_forward_then_backward(f, BATCH), pnas_supernet_sgd_step(f->sn),
       pnas_supernet_sgd_step(f->sn)));
  ROW(pnas_supernet_sgd_step, "the path changed after the backward", PNAS_ERR_STATE,
      "no gradients to apply",
      (training_forward_then_backward(f, BATCH), pnas_supernet_sample(f->sn),
       pnas_supernet_sgd_step(f->sn)));
  /* With a latency model and a latency loss, removing the model is refused. */
  ck_assert_int_eq(pnas_supernet_set_latency_model(f->sn, f->lat), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_set_search(f->sn, &search), PNAS_OK);
  ROW(pnas_supernet_set_latency_model, "NULL while the loss needs latency", PNAS_ERR_STATE,
      "set loss_form to PNAS_LOSS_NONE first", pnas_supernet_set_latency_model(f->sn, NULL));
  ck_assert_int_eq(pnas_supernet_expected_latency(f->sn, &ms), PNAS_OK);
  ck_assert(ms > 0.0);
  /* A table that cannot price the candidates leaves the old prices. */
  static const char one_key[] = "Logits-input:1x1x8-output:3:\n  count: 1\n  mean: 0.5\n";
  const char *small = fixture_file(f, 0, "small.yaml", one_key, sizeof one_key - 1);
  pnas_latency_model *table = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(f->ctx, small, &table), PNAS_OK);
  ROW(pnas_supernet_set_latency_model, "a table without the candidates' keys", PNAS_ERR_NOT_FOUND,
      "expanded_conv", pnas_supernet_set_latency_model(f->sn, table));
  double after = -1.0;
  ck_assert_int_eq(pnas_supernet_expected_latency(f->sn, &after), PNAS_OK);
  ck_assert(after == ms);
  pnas_latency_model_destroy(table);
  fixture_close(f);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("bad-input");
  TCase *tc = tcase_create("matrix");
  tcase_add_test(tc, context_bad_input);
  tcase_add_test(tc, arch_bad_input);
  tcase_add_test(tc, data_bad_input);
  tcase_add_test(tc, net_bad_input);
  tcase_add_test(tc, space_bad_input);
  tcase_add_test(tc, latency_bad_input);
  tcase_add_test(tc, supernet_bad_input);
  tcase_add_test(tc, supernet_wrong_state);
  suite_add_tcase(s, tc);
  return s;
}
