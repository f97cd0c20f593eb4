/* SPDX-License-Identifier: MIT */
/* `pnas config [--config FILE] [--set SECTION.KEY=VALUE]...`: prints the
 * effective configuration of `pnas search` / `pnas train` (the defaults,
 * then FILE, then the overrides in order, then the cross-key checks) as the
 * YAML that `--config` reads back. For checking a configuration before a
 * long run, and for the tests of config.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

static void config_usage(FILE *out) {
  fputs(
      "usage: pnas config [--config FILE] [--set SECTION.KEY=VALUE]...\n"
      "\n"
      "Prints the effective configuration of pnas search and pnas train as YAML:\n"
      "the defaults, overridden by FILE, then by each --set in order, with\n"
      "relative paths made absolute. Every key is described in docs/config.md.\n"
      "\n"
      "options:\n"
      "  --config FILE              a configuration YAML (relative paths in it are\n"
      "                             relative to its folder)\n"
      "  --set SECTION.KEY=VALUE    override one key, e.g. --set search.epochs=1\n",
      out);
}

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *error) {
  const size_t len = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, len) != 0) return NULL;
  if (arg[len] == '=') return arg + len + 1;
  if (arg[len] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *error = cli_error("%s needs a value (see pnas config --help)", name);
    return NULL;
  }
  return argv[++*i];
}

int cmd_config(int argc, char **argv) {
  const char *file = NULL;
  /* First pass: options and --help; the --set values are applied after the
   * file, whatever their position. */
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int error = 0;
    const char *value;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      config_usage(stdout);
      return 0;
    }
    if ((value = option_value(argc, argv, &i, "--config", &error)) != NULL) {
      if (file != NULL) return cli_error("more than one --config given");
      file = value;
    } else if ((value = option_value(argc, argv, &i, "--set", &error)) != NULL) {
      /* applied below */
    } else if (error) {
      return error;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return cli_error("unknown option '%s' (see pnas config --help)", arg);
    } else {
      return cli_error("unexpected argument '%s' (see pnas config --help)", arg);
    }
  }
  cli_config *config = malloc(sizeof *config);
  if (config == NULL) return cli_error("out of memory");
  cli_config_defaults(config);
  int status = file != NULL ? cli_config_load(config, file) : 0;
  for (int i = 1; i < argc && status == 0; i++) {
    int error = 0;
    const char *value = option_value(argc, argv, &i, "--set", &error);
    if (value != NULL) {
      status = cli_config_set(config, value);
    } else if (option_value(argc, argv, &i, "--config", &error) != NULL) {
      /* done above */
    }
  }
  if (status == 0) status = cli_config_validate(config);
  if (status == 0) status = cli_config_write(config, "-");
  free(config);
  return status;
}
