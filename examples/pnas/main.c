/* SPDX-License-Identifier: MIT */
/* The `pnas` command: dispatches to its subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"search", cmd_search, "search an architecture (ProxylessNAS) on Fashion-MNIST"},
    {"info", cmd_info, "MACs, parameters, shapes and latency of an architecture"},
    {"plot", cmd_plot, "draw search.png from history.csv, or arch.png from an architecture"},
    {"config", cmd_config, "print the effective search/train configuration (docs/config.md)"},
    {"train", cmd_train, "retrain an architecture (or a search checkpoint's) on Fashion-MNIST"},
    {"eval", cmd_eval, "test accuracy, measured and predicted latency of a trained network"},
    {"profile", cmd_profile, "measure a latency table of a search space on this machine"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: pnas COMMAND [ARGS...]\n"
          "       pnas COMMAND --help\n"
          "       pnas --help | --version\n"
          "\n"
          "ProxylessNAS neural architecture search (libpnas %s).\n"
          "\n"
          "commands:\n",
          pnas_version_string());
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  }
}

int cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("pnas: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

int cli_library_error(const pnas_context *ctx) {
  return cli_error("%s", pnas_context_last_error(ctx));
}

pnas_context *cli_context(void) {
  pnas_context_options options;
  pnas_context_options_init(&options);
  pnas_context *ctx = NULL;
  char error[512];
  if (pnas_context_create(&options, &ctx, error, sizeof error) != PNAS_OK) {
    cli_error("%s", error);
    return NULL;
  }
  return ctx;
}

int main(int argc, char **argv) {
  if (argc < 2) return cli_error("no command given (see pnas --help)");
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) {
    printf("pnas %s (libpnas %s)\n", PNAS_VERSION_STRING, pnas_version_string());
    return 0;
  }
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  }
  return cli_error("unknown command '%s' (see pnas --help)", name);
}
