// SPDX-License-Identifier: MIT
// Compiled as -std=c++11 -pedantic -Werror: the public header is usable from
// C++ (extern "C", no C-only constructs).
#include <pnas/pnas.h>

#include <cstdio>
#include <cstring>

int main() {
  pnas_context_options options;
  if (pnas_context_options_init(&options) != PNAS_OK) return 1;
  options.threads = 1;
  pnas_context *ctx = nullptr;
  char err[128];
  if (pnas_context_create(&options, &ctx, err, sizeof err) != PNAS_OK) {
    std::printf("create failed: %s\n", err);
    return 1;
  }
  pnas_context_destroy(ctx);
  std::printf("%s\n", pnas_status_string(PNAS_ERR_NOT_FOUND));
  return std::strcmp(pnas_status_string(PNAS_OK), "ok") == 0 ? 0 : 1;
}
