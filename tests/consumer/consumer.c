/* SPDX-License-Identifier: MIT */
/* A program built out of tree against the installed library through
 * pkg-config, as a host would be. */
#include <pnas/pnas.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  pnas_context_options options;
  if (pnas_context_options_init(&options) != PNAS_OK) return 1;
  options.threads = 1;
  options.seed = 7;
  pnas_context *ctx = NULL;
  char error[256] = "";
  if (pnas_context_create(&options, &ctx, error, sizeof error) != PNAS_OK) {
    fprintf(stderr, "consumer: %s\n", error);
    return 1;
  }
  char *text = NULL;
  if (pnas_context_describe(ctx, &text) != PNAS_OK) {
    fprintf(stderr, "consumer: %s\n", pnas_context_last_error(ctx));
    pnas_context_destroy(ctx);
    return 1;
  }
  fputs(text, stdout);
  const int ok = strstr(text, "seed: 7\n") != NULL && pnas_version() == PNAS_VERSION_NUMBER;
  pnas_free(text);
  pnas_context_destroy(ctx);
  return ok ? 0 : 1;
}
