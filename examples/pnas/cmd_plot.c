/* SPDX-License-Identifier: MIT */
/* `pnas plot`: draws the figures of `pnas search` again from its files:
 * search.png from history.csv, arch.png from an architecture; and
 * tradeoff.png from a results CSV (accuracy against latency). */
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

static void plot_usage(FILE *out) {
  fputs(
      "usage: pnas plot --history history.csv --out search.png\n"
      "       pnas plot --arch FILE --out arch.png [--latency-table LUT.yaml]\n"
      "       pnas plot --results results.csv --out tradeoff.png\n"
      "\n"
      "Draws a PNG figure: the curves and architecture probabilities of a search\n"
      "from its history.csv, or an architecture (libpnas YAML, or an official\n"
      "net.config JSON, recognised by the extension .config or .json) as a chain\n"
      "of blocks, or test accuracy against measured latency for the networks of\n"
      "a results CSV (tests/bench/results.sh; docs/cli.md gives the columns).\n"
      "\n"
      "options:\n"
      "  --history FILE            history.csv written by pnas search\n"
      "  --arch FILE               an architecture to draw\n"
      "  --results FILE            a results CSV: network,test_acc,latency_ms_b1[,...]\n"
      "  --out PNG                 the image to write (replaced atomically)\n"
      "  --latency-table LUT.yaml  with --arch: show each block's latency and the\n"
      "                            network's, from this lookup table\n",
      out);
}

typedef struct plot_args {
  const char *history, *arch, *out, *table, *results;
} plot_args;

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *error) {
  const size_t len = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, len) != 0) return NULL;
  if (arg[len] == '=') return arg + len + 1;
  if (arg[len] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *error = cli_error("%s needs a value (see pnas plot --help)", name);
    return NULL;
  }
  return argv[++*i];
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, plot_args *a) {
  memset(a, 0, sizeof *a);
  static const char *const names[] = {"--history", "--arch", "--out", "--latency-table",
                                       "--results"};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      plot_usage(stdout);
      return 0;
    }
    const char **slots[] = {&a->history, &a->arch, &a->out, &a->table, &a->results};
    int matched = 0, error = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
      const char *value = option_value(argc, argv, &i, names[k], &error);
      if (error) return error;
      if (value == NULL) continue;
      if (*slots[k] != NULL) return cli_error("%s given twice", names[k]);
      if (value[0] == '\0') return cli_error("%s: empty file name", names[k]);
      *slots[k] = value;
      matched = 1;
    }
    if (matched) continue;
    if (arg[0] == '-') return cli_error("unknown option '%s' (see pnas plot --help)", arg);
    return cli_error("unexpected argument '%s' (see pnas plot --help)", arg);
  }
  if ((a->history != NULL) + (a->arch != NULL) + (a->results != NULL) != 1) {
    return cli_error("give one of --history, --arch or --results (see pnas plot --help)");
  }
  if (a->out == NULL) return cli_error("no --out PNG given (see pnas plot --help)");
  if (a->table != NULL && a->arch == NULL) {
    return cli_error("--latency-table goes with --arch, not --history");
  }
  return -1;
}

static int has_suffix(const char *s, const char *suffix) {
  const size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* --arch FILE [--latency-table]: load, price and draw. */
static int plot_arch_file(const plot_args *a) {
  pnas_context *ctx = cli_context();
  if (ctx == NULL) return 1;
  int status = 1;
  pnas_arch *arch = NULL;
  pnas_latency_model *model = NULL;
  double *block_ms = NULL;
  double total_ms = -1.0;
  const int net_config = has_suffix(a->arch, ".config") || has_suffix(a->arch, ".json");
  const pnas_status st = net_config ? pnas_arch_import_net_config(ctx, a->arch, 224, 224, &arch)
                                    : pnas_arch_load_yaml(ctx, a->arch, &arch);
  if (st != PNAS_OK) {
    status = cli_library_error(ctx);
    goto done;
  }
  if (a->table != NULL) {
    pnas_arch_info info;
    pnas_arch_info_init(&info);
    if (pnas_latency_model_load_table(ctx, a->table, &model) != PNAS_OK ||
        pnas_arch_get_info(arch, &info) != PNAS_OK ||
        pnas_latency_model_arch_latency(model, arch, &total_ms) != PNAS_OK) {
      status = cli_library_error(ctx);
      goto done;
    }
    block_ms = calloc(info.blocks > 0 ? (size_t)info.blocks : 1, sizeof *block_ms);
    if (block_ms == NULL) {
      status = cli_error("out of memory");
      goto done;
    }
    for (int32_t b = 0; b < info.blocks; b++) {
      pnas_block_info block;
      pnas_block_info_init(&block);
      if (pnas_arch_get_block(arch, b, &block) != PNAS_OK ||
          pnas_latency_model_block_latency(model, &block, &block_ms[b]) != PNAS_OK) {
        status = cli_library_error(ctx);
        goto done;
      }
    }
  }
  status = plot_architecture_total(arch, block_ms, total_ms, a->out);
done:
  free(block_ms);
  pnas_latency_model_destroy(model);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
  return status;
}

int cmd_plot(int argc, char **argv) {
  plot_args a;
  const int parsed = parse_args(argc, argv, &a);
  if (parsed >= 0) return parsed;
  const int status = a.history != NULL   ? plot_search_history(a.history, a.out)
                     : a.results != NULL ? plot_tradeoff(a.results, a.out)
                                         : plot_arch_file(&a);
  /* Give back cairo's font and glyph caches, so that leak checkers see a
   * clean exit. Nothing of cairo's is alive at this point. */
  cairo_debug_reset_static_data();
  return status;
}
