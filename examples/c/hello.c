/* SPDX-License-Identifier: MIT */
/* The smallest host program: create a context, print what the library is
 * and how it is set up, and clean up. */
#include <pnas/pnas.h>
#include <stdio.h>

int main(void) {
  pnas_context_options options;
  pnas_context_options_init(&options);
  pnas_context *ctx = NULL;
  char error[256];
  if (pnas_context_create(&options, &ctx, error, sizeof error) != PNAS_OK) {
    fprintf(stderr, "pnas-hello: %s\n", error);
    return 1;
  }
  char *text = NULL;
  if (pnas_context_describe(ctx, &text) != PNAS_OK) {
    fprintf(stderr, "pnas-hello: %s\n", pnas_context_last_error(ctx));
    pnas_context_destroy(ctx);
    return 1;
  }
  fputs(text, stdout);
  pnas_free(text);
  pnas_context_destroy(ctx);
  return 0;
}
