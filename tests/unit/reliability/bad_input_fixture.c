/* SPDX-License-Identifier: MIT */
/* The fixture and row checks of the bad-input matrix (see bad_input.h). */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bad_input.h"

#define SENTINEL "pnas_context_set_threads: threads is 0"

void fixture_open(fixture *f, const char *test) {
  memset(f, 0, sizeof *f);
  f->test = test;
  f->ctx = counting_context(&f->alloc);
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = CLASSES;
  info.stem_channels = 4;
  info.stem_stride = 1;
  info.first_block_channels = 0;
  info.head_channels = 8;
  ck_assert_int_eq(pnas_space_create(f->ctx, &info, &f->space), PNAS_OK);
  const pnas_op_spec ops[] = {{PNAS_OP_MBCONV, 3, 1}, {PNAS_OP_MBCONV, 5, 2}, {PNAS_OP_ZERO, 0, 0}};
  ck_assert_int_eq(pnas_space_add_stage(f->space, 4, 2, 1, ops, 3, 0), PNAS_OK);
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = BATCH;
  ck_assert_int_eq(pnas_supernet_create(f->ctx, f->space, &so, &f->sn), PNAS_OK);
  ck_assert_int_eq(pnas_latency_model_create_macs(f->ctx, 0.01, &f->lat), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_derive(f->sn, &f->arch), PNAS_OK);
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = BATCH;
  ck_assert_int_eq(pnas_net_create(f->ctx, f->arch, &no, &f->net), PNAS_OK);
  uint8_t bytes[N * HW * HW];
  int32_t labels[N];
  for (int i = 0; i < N * HW * HW; i++) bytes[i] = (uint8_t)(i * 37 % 251);
  for (int i = 0; i < N; i++) labels[i] = i % CLASSES;
  ck_assert_int_eq(
      pnas_dataset_create_from_memory(f->ctx, bytes, labels, N, HW, HW, 1, CLASSES, &f->ds),
      PNAS_OK);
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = BATCH;
  ck_assert_int_eq(pnas_batcher_create(f->ds, &bo, &f->batcher), PNAS_OK);
  for (int i = 0; i < BATCH * HW * HW; i++) f->images[i] = (float)((i * 29 % 61) - 30) / 30.0f;
  for (int i = 0; i < BATCH; i++) f->labels[i] = i % CLASSES;
  snprintf(f->dir, sizeof f->dir, "/tmp/pnas-bad-input-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(f->dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

void fixture_close(fixture *f) {
  pnas_batcher_destroy(f->batcher);
  pnas_dataset_destroy(f->ds);
  pnas_net_destroy(f->net);
  pnas_arch_destroy(f->arch);
  pnas_latency_model_destroy(f->lat);
  pnas_supernet_destroy(f->sn);
  pnas_space_destroy(f->space);
  pnas_context_destroy(f->ctx);
  ck_assert_int_eq(f->alloc.live, 0);
  nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fixture_file(fixture *f, int slot, const char *name, const char *text, size_t size) {
  static char paths[4][128];
  snprintf(paths[slot], sizeof paths[slot], "%s/%s", f->dir, name);
  if (text != NULL) {
    FILE *file = fopen(paths[slot], "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(text, 1, size, file), size);
    fclose(file);
  }
  return paths[slot];
}

void row_prime(fixture *f) {
  ck_assert_int_eq(pnas_context_set_threads(f->ctx, 0), PNAS_ERR_INVALID_ARGUMENT);
}

/* One valid call on every handle: a failed call must leave them usable. */
static void fixture_usable(fixture *f, int line) {
  int32_t threads = 0;
  ck_assert_int_eq(pnas_context_get_threads(f->ctx, &threads), PNAS_OK);
  ck_assert_int_eq(threads, 1);
  pnas_space_info si;
  si.struct_size = sizeof si;
  ck_assert_int_eq(pnas_space_get_info(f->space, &si), PNAS_OK);
  ck_assert_int_eq(si.layers, 2);
  pnas_arch_info ai;
  ai.struct_size = sizeof ai;
  ck_assert_int_eq(pnas_arch_get_info(f->arch, &ai), PNAS_OK);
  ck_assert_int_eq(ai.blocks, 2);
  float logits[BATCH * CLASSES];
  ck_assert_int_eq(pnas_net_infer(f->net, f->images, BATCH, logits), PNAS_OK);
  for (int i = 0; i < BATCH * CLASSES; i++) ck_assert(isfinite(logits[i]));
  pnas_dataset_info di;
  di.struct_size = sizeof di;
  ck_assert_int_eq(pnas_dataset_get_info(f->ds, &di), PNAS_OK);
  ck_assert_int_eq(di.count, N);
  const float *x = NULL;
  const int32_t *y = NULL;
  int32_t n = -1;
  ck_assert_int_eq(pnas_batcher_next_view(f->batcher, &x, &y, &n), PNAS_OK);
  ck_assert(n == 0 || n == BATCH);
  pnas_block_info b;
  pnas_block_info_init(&b);
  b.in_channels = b.out_channels = 4;
  b.expand = 2;
  b.in_height = b.in_width = HW;
  double ms = -1.0;
  ck_assert_int_eq(pnas_latency_model_block_latency(f->lat, &b, &ms), PNAS_OK);
  ck_assert(ms > 0.0);
  pnas_search_stats st;
  st.struct_size = sizeof st;
  ck_assert_msg(pnas_supernet_train_step(f->sn, f->images, f->labels, BATCH, &st) == PNAS_OK,
                "line %d: the supernet is not usable after the row: %s", line,
                pnas_context_last_error(f->ctx));
  ck_assert(isfinite(st.loss) && st.images == BATCH);
}

/* Appends a row of the Markdown table when $PNAS_MATRIX_OUT names a file. */
static void record(const fixture *f, const char *function, const char *bad, const char *status,
                   const char *message) {
  const char *out = getenv("PNAS_MATRIX_OUT");
  if (out == NULL || *out == '\0') return;
  FILE *file = fopen(out, "a");
  if (file == NULL) return;
  fprintf(file, "| `%s` | %s | %s | ", function, bad, status);
  /* The temporary folder becomes DIR, so that the table does not change
   * from run to run. */
  const size_t dir_length = strlen(f->dir);
  int n = 0;
  const char *c = message;
  for (; *c != '\0' && n < 90; c++, n++) {
    if (strncmp(c, f->dir, dir_length) == 0) {
      fputs("DIR", file);
      c += dir_length - 1;
    } else if (*c == '|') {
      fputs("\\|", file);
    } else if (*c == '`') {
      fputc('\'', file);
    } else {
      fputc(*c, file);
    }
  }
  fprintf(file, "%s | %s |\n", *c != '\0' ? "..." : "", f->test);
  fclose(file);
}

void row_check(fixture *f, const char *function, const char *bad, pnas_status want,
               const char *excerpt, pnas_status got, int line) {
  const char *message = pnas_context_last_error(f->ctx);
  ck_assert_msg(got == want, "line %d: %s, %s: got %s, expected %s (message: %s)", line, function,
                bad, pnas_status_string(got), pnas_status_string(want), message);
  if (excerpt != NULL) {
    ck_assert_msg(strstr(message, excerpt) != NULL,
                  "line %d: %s, %s: the message \"%s\" does not contain \"%s\"", line, function,
                  bad, message, excerpt);
    ck_assert_msg(pnas_context_last_status(f->ctx) == want, "line %d: last status", line);
  } else {
    /* No context can hold a message (NULL or foreign handle): the context
     * must not have been written through a bad pointer. */
    ck_assert_msg(strstr(message, SENTINEL) != NULL,
                  "line %d: %s, %s: expected no new message, got \"%s\"", line, function, bad,
                  message);
  }
  char status[64];
  snprintf(status, sizeof status, "`%s`",
           want == PNAS_ERR_INVALID_ARGUMENT ? "INVALID_ARGUMENT"
           : want == PNAS_ERR_OUT_OF_MEMORY  ? "OUT_OF_MEMORY"
           : want == PNAS_ERR_ABI_MISMATCH   ? "ABI_MISMATCH"
           : want == PNAS_ERR_IO             ? "IO"
           : want == PNAS_ERR_PARSE          ? "PARSE"
           : want == PNAS_ERR_FORMAT         ? "FORMAT"
           : want == PNAS_ERR_SHAPE          ? "SHAPE"
           : want == PNAS_ERR_NOT_FOUND      ? "NOT_FOUND"
           : want == PNAS_ERR_STATE          ? "STATE"
           : want == PNAS_ERR_NUMERIC        ? "NUMERIC"
           : want == PNAS_ERR_UNSUPPORTED    ? "UNSUPPORTED"
           : want == PNAS_ERR_WRONG_HANDLE   ? "WRONG_HANDLE"
                                             : "other");
  char buffer[300];
  if (f->buffer != NULL) snprintf(buffer, sizeof buffer, "error buffer: %s", f->buffer);
  record(f, function, bad, status,
         f->buffer != NULL ? buffer
         : excerpt != NULL ? message
                           : "(status only: no context to hold a message)");
  f->buffer = NULL;
  fixture_usable(f, line);
}

void row_check_void(fixture *f, const char *function, const char *bad, const char *result, int ok,
                    int line) {
  ck_assert_msg(ok, "line %d: %s, %s: expected %s", line, function, bad, result);
  const char *message = pnas_context_last_error(f->ctx);
  record(f, function, bad, result, strstr(message, SENTINEL) != NULL ? "-" : message);
  fixture_usable(f, line);
}
