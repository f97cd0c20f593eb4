/* SPDX-License-Identifier: MIT */
/* Internal allocation helpers: alignment with and without an aligned hook,
 * overflow and failure reporting. */
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "core/alloc.h"
#include "core/context.h"
#include "counting_alloc.h"

static pnas_context *context_with(counting_alloc *state, int with_aligned) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.allocator = counting_alloc_hooks(state, with_aligned);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

START_TEST(aligned_blocks_are_aligned_and_freed) {
  for (int with_aligned = 0; with_aligned <= 1; with_aligned++) {
    counting_alloc state = {0};
    pnas_context *ctx = context_with(&state, with_aligned);
    void *blocks[9];
    for (int i = 0; i < 9; i++) {
      const size_t size = (size_t)1 << (i * 2);
      blocks[i] = pni_aligned_alloc(ctx, size);
      ck_assert_ptr_nonnull(blocks[i]);
      ck_assert_uint_eq((uintptr_t)blocks[i] % PNI_ALIGNMENT, 0);
      memset(blocks[i], 0xee, size); /* the whole requested size is writable */
    }
    for (int i = 0; i < 9; i++) pni_aligned_free(ctx, blocks[i]);
    pni_aligned_free(ctx, NULL);
    pnas_context_destroy(ctx);
    ck_assert_int_eq(state.live, 0);
  }
}
END_TEST

START_TEST(overflow_and_failure_are_reported) {
  counting_alloc state = {0};
  pnas_context *ctx = context_with(&state, 0);
  ck_assert_ptr_null(pni_calloc(ctx, SIZE_MAX / 2, 4));
  ck_assert_int_eq(pnas_context_last_status(ctx), PNAS_ERR_OUT_OF_MEMORY);
  ck_assert_ptr_null(pni_aligned_alloc(ctx, SIZE_MAX - 8));
  ck_assert_ptr_null(pni_export_alloc(ctx, SIZE_MAX - 4));
  state.fail_at = state.calls + 1;
  ck_assert_ptr_null(pni_alloc(ctx, 100));
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "100 bytes"));
  int overflow = 0;
  ck_assert_uint_eq(pni_mul_size(SIZE_MAX, 2, &overflow), 0);
  ck_assert_int_eq(overflow, 1);
  overflow = 0;
  ck_assert_uint_eq(pni_mul_size(3, 5, &overflow), 15);
  ck_assert_int_eq(overflow, 0);
  int *zeros = pni_calloc(ctx, 16, sizeof(int));
  for (int i = 0; i < 16; i++) ck_assert_int_eq(zeros[i], 0);
  pni_free(ctx, zeros);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}
END_TEST

START_TEST(long_messages_are_cut_with_ellipsis) {
  counting_alloc state = {0};
  pnas_context *ctx = context_with(&state, 1);
  char longname[2000];
  memset(longname, 'k', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  ck_assert_int_eq(pni_fail(ctx, PNAS_ERR_NOT_FOUND, "missing key %s", longname),
                   PNAS_ERR_NOT_FOUND);
  const char *msg = pnas_context_last_error(ctx);
  ck_assert_uint_eq(strlen(msg), PNI_ERROR_CAPACITY - 1);
  ck_assert_str_eq(msg + PNI_ERROR_CAPACITY - 4, "...");
  ck_assert_int_eq(strncmp(msg, "missing key kkk", 15), 0);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("alloc");
  TCase *tc = tcase_create("alloc");
  tcase_add_test(tc, aligned_blocks_are_aligned_and_freed);
  tcase_add_test(tc, overflow_and_failure_are_reported);
  tcase_add_test(tc, long_messages_are_cut_with_ellipsis);
  suite_add_tcase(s, tc);
  return s;
}
