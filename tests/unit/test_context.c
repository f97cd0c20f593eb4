/* SPDX-License-Identifier: MIT */
/* The public ground floor: status strings, version, context options and
 * creation, the last error, logging, allocator hooks and pnas_free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

static pnas_context_options default_options(void) {
  pnas_context_options o;
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  return o;
}

START_TEST(status_strings_are_distinct_and_stable) {
  /* Frozen values: a renumbering would break hosts that stored them. */
  ck_assert_int_eq(PNAS_OK, 0);
  ck_assert_int_eq(PNAS_ERR_INVALID_ARGUMENT, 1);
  ck_assert_int_eq(PNAS_ERR_OUT_OF_MEMORY, 2);
  ck_assert_int_eq(PNAS_ERR_ABI_MISMATCH, 3);
  ck_assert_int_eq(PNAS_ERR_NOT_FOUND, 8);
  ck_assert_int_eq(PNAS_ERR_INTERNAL, 13);
  for (int i = 0; i <= 13; i++) {
    const char *a = pnas_status_string((pnas_status)i);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_gt((int)strlen(a), 1);
    ck_assert_str_ne(a, "unknown status");
    for (int j = 0; j < i; j++) ck_assert_str_ne(a, pnas_status_string((pnas_status)j));
  }
  ck_assert_str_eq(pnas_status_string(PNAS_ERR_ABI_MISMATCH), "ABI version mismatch");
  ck_assert_str_eq(pnas_status_string((pnas_status)14), "unknown status");
  ck_assert_str_eq(pnas_status_string((pnas_status)-1), "unknown status");
}
END_TEST

START_TEST(version_matches_header) {
  ck_assert_uint_eq(pnas_version(), PNAS_VERSION_NUMBER);
  ck_assert_str_eq(pnas_version_string(), PNAS_VERSION_STRING);
  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", PNAS_VERSION_MAJOR, PNAS_VERSION_MINOR,
           PNAS_VERSION_PATCH);
  ck_assert_str_eq(pnas_version_string(), expect);
}
END_TEST

START_TEST(options_init_fills_defaults) {
  pnas_context_options o;
  memset(&o, 0xab, sizeof o);
  ck_assert_int_eq(pnas_context_options_init(&o), PNAS_OK);
  ck_assert_uint_eq(o.struct_size, sizeof o);
  ck_assert_uint_eq(o.abi_version, PNAS_VERSION_NUMBER);
  ck_assert_int_ge(o.threads, 1);
  ck_assert_uint_eq(o.seed, 0);
  ck_assert(o.allocator.alloc == NULL);
  ck_assert(o.allocator.free == NULL);
  ck_assert(o.log_fn == NULL);
  ck_assert_int_eq(o.log_level, PNAS_LOG_WARNING);
  ck_assert_int_eq(pnas_context_options_init(NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_options_init_abi(&o, 8, PNAS_VERSION_NUMBER),
                   PNAS_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(options_init_respects_caller_size) {
  /* A caller compiled against a newer header has a bigger struct: the
   * members this library does not know are zeroed, and nothing past the
   * caller's struct_size is written. */
  unsigned char buf[sizeof(pnas_context_options) + 32];
  memset(buf, 0x5a, sizeof buf);
  const size_t bigger = sizeof(pnas_context_options) + 16;
  ck_assert_int_eq(pnas_context_options_init_abi((pnas_context_options *)buf, bigger,
                                                 PNAS_VERSION_NUMBER),
                   PNAS_OK);
  for (size_t i = sizeof(pnas_context_options); i < bigger; i++) ck_assert_uint_eq(buf[i], 0);
  for (size_t i = bigger; i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0x5a);
}
END_TEST

START_TEST(create_and_destroy_with_defaults) {
  pnas_context_options o = default_options();
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  ck_assert_ptr_nonnull(ctx);
  int32_t threads = 0;
  ck_assert_int_eq(pnas_context_get_threads(ctx, &threads), PNAS_OK);
  ck_assert_int_eq(threads, o.threads);
  ck_assert_str_eq(pnas_context_last_error(ctx), "");
  ck_assert_int_eq(pnas_context_last_status(ctx), PNAS_OK);
  pnas_context_destroy(ctx);
  pnas_context_destroy(NULL);
}
END_TEST

/* Creation with bad options: status, message in the buffer, out untouched. */
static void expect_create_failure(const pnas_context_options *o, pnas_status expected,
                                  const char *needle) {
  pnas_context *sentinel = (pnas_context *)(uintptr_t)0x1234;
  pnas_context *ctx = sentinel;
  char err[256];
  memset(err, 0, sizeof err);
  ck_assert_int_eq(pnas_context_create(o, &ctx, err, sizeof err), expected);
  ck_assert_ptr_eq(ctx, sentinel);
  ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
}

START_TEST(create_rejects_bad_options) {
  expect_create_failure(NULL, PNAS_ERR_INVALID_ARGUMENT, "options is NULL");

  pnas_context_options o = default_options();
  o.struct_size = 4;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "struct_size is 4");
  o.struct_size = sizeof o + 8;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "struct_size");

  o = default_options();
  o.threads = 0;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "threads is 0");
  o.threads = -3;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "threads is -3");

  o = default_options();
  o.log_level = (pnas_log_level)9;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "log_level is 9");

  o = default_options();
  counting_alloc state = {0};
  o.allocator = counting_alloc_hooks(&state, 1);
  o.allocator.free = NULL;
  expect_create_failure(&o, PNAS_ERR_INVALID_ARGUMENT, "alloc and free must both be set");
  ck_assert_int_eq(state.calls, 0);

  o = default_options();
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, NULL, NULL, 0), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(create_checks_abi_version) {
  pnas_context_options o = default_options();
  o.abi_version = (PNAS_VERSION_MAJOR + 1) * 10000;
  expect_create_failure(&o, PNAS_ERR_ABI_MISMATCH, "ABI mismatch");
  o.abi_version = PNAS_VERSION_MAJOR * 10000 + (PNAS_VERSION_MINOR + 1) * 100;
  expect_create_failure(&o, PNAS_ERR_ABI_MISMATCH, "must be at least as new");
  if (PNAS_VERSION_MAJOR > 0) {
    o.abi_version = (PNAS_VERSION_MAJOR - 1) * 10000 + 9900;
    expect_create_failure(&o, PNAS_ERR_ABI_MISMATCH, "ABI mismatch");
  }
  /* An older patch (and, with minor > 0, an older minor) is accepted. */
  o.abi_version = PNAS_VERSION_MAJOR * 10000 + PNAS_VERSION_MINOR * 100;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(creation_error_is_truncated_safely) {
  pnas_context_options o = default_options();
  o.threads = 0;
  char err[8];
  memset(err, 'x', sizeof err);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, err, sizeof err), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_uint_eq(strlen(err), sizeof err - 1);
  ck_assert_str_eq(err + 4, "...");
}
END_TEST

START_TEST(setters_validate_and_keep_state) {
  pnas_context_options o = default_options();
  o.threads = 2;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  ck_assert_int_eq(pnas_context_set_threads(ctx, 0), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "threads is 0"));
  ck_assert_int_eq(pnas_context_last_status(ctx), PNAS_ERR_INVALID_ARGUMENT);
  int32_t threads = 77;
  ck_assert_int_eq(pnas_context_get_threads(ctx, &threads), PNAS_OK);
  ck_assert_int_eq(threads, 2); /* the failed call changed nothing */
  ck_assert_int_eq(pnas_context_set_threads(ctx, 1), PNAS_OK);
  ck_assert_int_eq(pnas_context_get_threads(ctx, &threads), PNAS_OK);
  ck_assert_int_eq(threads, 1);
  ck_assert_int_eq(pnas_context_get_threads(ctx, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "out_threads is NULL"));
  ck_assert_int_eq(pnas_context_set_seed(ctx, 99), PNAS_OK);
  ck_assert_int_eq(pnas_context_set_seed(NULL, 99), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_set_threads(NULL, 1), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_get_threads(NULL, &threads), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(pnas_context_last_error(NULL), "context is NULL");
  ck_assert_int_eq(pnas_context_last_status(NULL), PNAS_ERR_INVALID_ARGUMENT);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(foreign_pointer_is_a_wrong_handle) {
  /* Memory that is not a context (another object, or garbage) is caught by
   * the type tag instead of being used. */
  uint64_t not_a_context[64];
  memset(not_a_context, 0x11, sizeof not_a_context);
  pnas_context *fake = (pnas_context *)not_a_context;
  int32_t threads = 5;
  ck_assert_int_eq(pnas_context_get_threads(fake, &threads), PNAS_ERR_WRONG_HANDLE);
  ck_assert_int_eq(threads, 5);
  ck_assert_int_eq(pnas_context_set_threads(fake, 1), PNAS_ERR_WRONG_HANDLE);
  ck_assert_str_eq(pnas_context_last_error(fake), "not a live pnas_context");
  pnas_context_destroy(fake); /* ignored, not freed */
}
END_TEST

START_TEST(counting_allocator_sees_every_block_freed) {
  for (int with_aligned = 0; with_aligned <= 1; with_aligned++) {
    counting_alloc state = {0};
    pnas_context_options o = default_options();
    o.allocator = counting_alloc_hooks(&state, with_aligned);
    pnas_context *ctx = NULL;
    ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
    ck_assert_int_eq(state.live, 1);
    char *text = NULL;
    ck_assert_int_eq(pnas_context_describe(ctx, &text), PNAS_OK);
    ck_assert_int_eq(state.live, 2);
    pnas_context_destroy(ctx);
    /* Handed-out memory outlives its context and still goes back to the
     * context's allocator. */
    ck_assert_int_eq(state.live, 1);
    ck_assert_ptr_nonnull(strstr(text, "version: " PNAS_VERSION_STRING "\n"));
    pnas_free(text);
    pnas_free(NULL);
    ck_assert_int_eq(state.live, 0);
    ck_assert_int_eq(state.allocations, 2);
    ck_assert_int_eq(state.frees, 2);
  }
}
END_TEST

START_TEST(failing_allocator_gives_out_of_memory) {
  counting_alloc state = {0};
  state.fail_at = 1;
  pnas_context_options o = default_options();
  o.allocator = counting_alloc_hooks(&state, 1);
  pnas_context *ctx = NULL;
  char err[256] = "";
  ck_assert_int_eq(pnas_context_create(&o, &ctx, err, sizeof err), PNAS_ERR_OUT_OF_MEMORY);
  ck_assert_ptr_null(ctx);
  ck_assert_ptr_nonnull(strstr(err, "out of memory"));
  ck_assert_int_eq(state.live, 0);

  state = (counting_alloc){0};
  state.fail_at = 2;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  char *text = (char *)(uintptr_t)0x99;
  ck_assert_int_eq(pnas_context_describe(ctx, &text), PNAS_ERR_OUT_OF_MEMORY);
  ck_assert_ptr_eq(text, (char *)(uintptr_t)0x99);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "out of memory"));
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
}
END_TEST

typedef struct log_record {
  int calls;
  pnas_log_level last_level;
  char last_message[256];
} log_record;

static void record_log(void *user, pnas_log_level level, const char *message) {
  log_record *r = user;
  r->calls++;
  r->last_level = level;
  snprintf(r->last_message, sizeof r->last_message, "%s", message);
}

START_TEST(log_callback_gets_messages_at_its_level) {
  log_record rec = {0};
  pnas_context_options o = default_options();
  o.log_fn = record_log;
  o.log_user = &rec;
  o.log_level = PNAS_LOG_DEBUG;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  ck_assert_int_eq(rec.calls, 1);
  ck_assert_int_eq(rec.last_level, PNAS_LOG_DEBUG);
  ck_assert_ptr_nonnull(strstr(rec.last_message, "context created"));
  /* Errors are logged too, with the same text as the last error. */
  ck_assert_int_eq(pnas_context_set_threads(ctx, -1), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rec.last_level, PNAS_LOG_ERROR);
  ck_assert_str_eq(rec.last_message, pnas_context_last_error(ctx));
  pnas_context_destroy(ctx);

  log_record quiet = {0};
  o.log_user = &quiet;
  o.log_level = PNAS_LOG_WARNING;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  ck_assert_int_eq(quiet.calls, 0); /* debug messages are below the threshold */
  ck_assert_int_eq(pnas_context_set_threads(ctx, 0), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(quiet.calls, 1);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(quiet.calls, 1);
}
END_TEST

START_TEST(describe_reports_settings) {
  pnas_context_options o = default_options();
  o.threads = 3;
  o.seed = 12345;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  char *text = NULL;
  ck_assert_int_eq(pnas_context_describe(ctx, &text), PNAS_OK);
  ck_assert_ptr_nonnull(strstr(text, "threads: 3\n"));
  ck_assert_ptr_nonnull(strstr(text, "seed: 12345\n"));
  ck_assert_ptr_nonnull(strstr(text, "blis: "));
  ck_assert_ptr_nonnull(strstr(text, "openmp: yes\n"));
  pnas_free(text);
  ck_assert_int_eq(pnas_context_describe(ctx, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_describe(NULL, &text), PNAS_ERR_INVALID_ARGUMENT);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("context");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, status_strings_are_distinct_and_stable);
  tcase_add_test(tc, version_matches_header);
  tcase_add_test(tc, options_init_fills_defaults);
  tcase_add_test(tc, options_init_respects_caller_size);
  tcase_add_test(tc, create_and_destroy_with_defaults);
  tcase_add_test(tc, create_rejects_bad_options);
  tcase_add_test(tc, create_checks_abi_version);
  tcase_add_test(tc, creation_error_is_truncated_safely);
  tcase_add_test(tc, setters_validate_and_keep_state);
  tcase_add_test(tc, foreign_pointer_is_a_wrong_handle);
  tcase_add_test(tc, counting_allocator_sees_every_block_freed);
  tcase_add_test(tc, failing_allocator_gives_out_of_memory);
  tcase_add_test(tc, log_callback_gets_messages_at_its_level);
  tcase_add_test(tc, describe_reports_settings);
  suite_add_tcase(s, tc);
  return s;
}
