/* SPDX-License-Identifier: MIT */
/* Compiled as -std=c99 -pedantic -Werror: the public header must not need
 * C11 or GNU extensions from its users. */
#include <pnas/pnas.h>
#include <stdio.h>

int main(void) {
  pnas_context_options options;
  if (pnas_context_options_init(&options) != PNAS_OK) return 1;
  printf("libpnas %s (header %s)\n", pnas_version_string(), PNAS_VERSION_STRING);
  return pnas_version() == PNAS_VERSION_NUMBER ? 0 : 1;
}
