/* SPDX-License-Identifier: MIT */
/* Messages are one line of UTF-8 whatever user text they quote (found by
 * the fuzzers: a YAML block scalar put its newline into the last error and
 * the log, and a key cut to fit a buffer split a character). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pnas/pnas.h"

static char logged[1024];

static void keep_log(void *user, pnas_log_level level, const char *message) {
  (void)user;
  if (level == PNAS_LOG_ERROR) snprintf(logged, sizeof logged, "%s", message);
}

static pnas_context *make_context(void) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.log_fn = keep_log;
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  logged[0] = '\0';
  return ctx;
}

/* 1 if text is UTF-8 without control characters. */
static int one_utf8_line(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0';) {
    const unsigned c = *p;
    const int extra = c < 0x80                ? 0
                      : c >= 0xc2 && c < 0xe0 ? 1
                      : c >= 0xe0 && c < 0xf0 ? 2
                      : c >= 0xf0 && c < 0xf5 ? 3
                                              : -1;
    if (c < 0x20 || c == 0x7f || extra < 0) return 0;
    for (int i = 1; i <= extra; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
    }
    p += 1 + extra;
  }
  return 1;
}

START_TEST(a_block_scalar_is_escaped) {
  pnas_context *ctx = make_context();
  static const char text[] =
      "format: pnas-space/1\n"
      "input: [8, 8, 1]\n"
      "classes: |\n"
      "  two\n"
      "  lines\n";
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_parse_yaml(ctx, text, strlen(text), &space), PNAS_ERR_PARSE);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not one line: %s", message);
  ck_assert_ptr_nonnull(strstr(message, "two\\nlines\\n"));
  ck_assert_str_eq(logged, message);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(a_folded_scalar_in_a_latency_table_is_escaped) {
  /* The input the latency-table fuzzer found: "1", 64 newlines, "~". */
  char path[] = "/tmp/pnas-messages-XXXXXX";
  const int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  fputs("1", f);
  for (int i = 0; i < 64; i++) fputc('\n', f);
  fputs("~", f);
  fclose(f);
  pnas_context *ctx = make_context();
  pnas_latency_model *model = NULL;
  ck_assert_int_eq(pnas_latency_model_load_table(ctx, path, &model), PNAS_ERR_PARSE);
  ck_assert_ptr_null(model);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not one line: %s", message);
  ck_assert_str_eq(logged, message);
  pnas_context_destroy(ctx);
  remove(path);
}
END_TEST

START_TEST(a_long_quote_is_cut_between_characters) {
  /* An op name of 50 two-byte characters: the message quotes 60 bytes of
   * it, which must not end inside a character. */
  char text[512];
  int len = snprintf(text, sizeof text,
                     "format: pnas-space/1\ninput: [8, 8, 1]\nclasses: 2\n"
                     "stem: {channels: 4, kernel: 3, stride: 1}\n"
                     "stages:\n  - {width: 4, depth: 1, stride: 1, ops: [x");
  for (int i = 0; i < 50; i++) len += snprintf(text + len, sizeof text - (size_t)len, "\xc3\xa9");
  snprintf(text + len, sizeof text - (size_t)len, "]}\n");
  pnas_context *ctx = make_context();
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_parse_yaml(ctx, text, strlen(text), &space), PNAS_ERR_PARSE);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not UTF-8: %s", message);
  ck_assert_ptr_nonnull(strstr(message, "unknown op 'x\xc3\xa9"));
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(a_message_cut_to_fit_ends_between_characters) {
  /* A file name of 400 three-byte characters makes the message longer than
   * the last-error buffer: it is cut, ends with "...", and stays UTF-8. */
  char path[1300] = "/nonexistent-";
  size_t len = strlen(path);
  for (int i = 0; i < 400; i++, len += 3) memcpy(path + len, "\xe2\x82\xac", 4);
  pnas_context *ctx = make_context();
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_load_yaml(ctx, path, &arch), PNAS_ERR_IO);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not UTF-8: %s", message);
  const size_t n = strlen(message);
  ck_assert_uint_ge(n, 400);
  ck_assert_str_eq(message + n - 3, "...");
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(a_long_unknown_key_is_cut_between_characters) {
  /* The arch-yaml fuzzer's find: the message names the key through a path
   * buffer of 160 bytes, which cut a three-byte character in half. */
  char text[1024];
  int len = snprintf(text, sizeof text, "format: pnas-arch/1\nw");
  for (int i = 0; i < 100; i++) {
    len += snprintf(text + len, sizeof text - (size_t)len, "\xef\xbb\xbf");
  }
  snprintf(text + len, sizeof text - (size_t)len, ": 1\n");
  pnas_context *ctx = make_context();
  pnas_arch *arch = NULL;
  ck_assert_int_eq(pnas_arch_parse_yaml(ctx, text, strlen(text), &arch), PNAS_ERR_PARSE);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not UTF-8: %s", message);
  ck_assert_ptr_nonnull(strstr(message, "unknown key"));
  ck_assert_str_eq(logged, message);
  pnas_context_destroy(ctx);
}
END_TEST

START_TEST(bytes_that_are_not_utf8_are_escaped) {
  /* A file name is the host's bytes; the message shows the bad ones as \xNN. */
  pnas_context *ctx = make_context();
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_load_yaml(ctx, "/nonexistent/\xff\xc3(", &space), PNAS_ERR_IO);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(one_utf8_line(message), "not UTF-8: %s", message);
  ck_assert_ptr_nonnull(strstr(message, "/nonexistent/\\xff\\xc3("));
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("messages");
  TCase *tc = tcase_create("one line of UTF-8");
  tcase_add_test(tc, a_block_scalar_is_escaped);
  tcase_add_test(tc, a_folded_scalar_in_a_latency_table_is_escaped);
  tcase_add_test(tc, a_long_quote_is_cut_between_characters);
  tcase_add_test(tc, a_message_cut_to_fit_ends_between_characters);
  tcase_add_test(tc, a_long_unknown_key_is_cut_between_characters);
  tcase_add_test(tc, bytes_that_are_not_utf8_are_escaped);
  suite_add_tcase(s, tc);
  return s;
}
