/* SPDX-License-Identifier: MIT */
/* `pnas info FILE`: what an architecture is and costs, one `key: value` line
 * each, for people and for scripts. FILE is an architecture YAML or an
 * official net.config. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void info_usage(FILE *out) {
  fputs(
      "usage: pnas info FILE [--latency-table LUT.yaml] [--input HxW] [--blocks]\n"
      "\n"
      "Prints the input shape, classes, blocks, MACs and parameters of an\n"
      "architecture (libpnas YAML, or an official ProxylessNAS net.config JSON,\n"
      "recognised by the extension .config or .json or by its first character).\n"
      "\n"
      "options:\n"
      "  --latency-table LUT.yaml  also print latency_ms from this lookup table\n"
      "  --input HxW               input size (net.config default 224x224; for a\n"
      "                            YAML file, replaces the file's)\n"
      "  --blocks                  also print one line per block\n",
      out);
}

typedef struct info_args {
  const char *file;
  const char *table;
  int height, width; /* 0: not given */
  int blocks;
} info_args;

static int parse_size(const char *text, int *height, int *width) {
  char *end = NULL;
  const long h = strtol(text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X')) return 0;
  const char *rest = end + 1;
  const long w = strtol(rest, &end, 10);
  if (end == rest || *end != '\0' || h < 1 || w < 1 || h > 65536 || w > 65536) return 0;
  *height = (int)h;
  *width = (int)w;
  return 1;
}

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *error) {
  const size_t len = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, len) != 0) return NULL;
  if (arg[len] == '=') return arg + len + 1;
  if (arg[len] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *error = cli_error("%s needs a value (see pnas info --help)", name);
    return NULL;
  }
  return argv[++*i];
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, info_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int error = 0;
    const char *value;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      info_usage(stdout);
      return 0;
    }
    if (strcmp(arg, "--blocks") == 0) {
      a->blocks = 1;
    } else if ((value = option_value(argc, argv, &i, "--latency-table", &error)) != NULL) {
      a->table = value;
    } else if ((value = option_value(argc, argv, &i, "--input", &error)) != NULL) {
      if (!parse_size(value, &a->height, &a->width)) {
        return cli_error("--input: expected HEIGHTxWIDTH such as 224x224, got '%s'", value);
      }
    } else if (error) {
      return error;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return cli_error("unknown option '%s' (see pnas info --help)", arg);
    } else if (a->file != NULL) {
      return cli_error("more than one FILE given ('%s' and '%s')", a->file, arg);
    } else {
      a->file = arg;
    }
  }
  if (a->file == NULL) return cli_error("no FILE given (see pnas info --help)");
  return -1;
}

static int has_suffix(const char *s, const char *suffix) {
  const size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* 1 if the file is a net.config: by extension, else by a leading '{'.
 * -1 if it cannot be read (the loader reports why). */
static int is_net_config(const char *path) {
  if (has_suffix(path, ".config") || has_suffix(path, ".json")) return 1;
  if (has_suffix(path, ".yaml") || has_suffix(path, ".yml")) return 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  int c;
  while ((c = fgetc(f)) != EOF && isspace(c)) {
  }
  fclose(f);
  return c == '{';
}

/* A copy of arch with another input size: the same settings and blocks. */
static pnas_status resize(pnas_context *ctx, const pnas_arch *arch, int height, int width,
                          pnas_arch **out) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_status st = pnas_arch_get_info(arch, &info);
  if (st != PNAS_OK) return st;
  info.input_height = height;
  info.input_width = width;
  pnas_arch *copy = NULL;
  if ((st = pnas_arch_create(ctx, &info, &copy)) != PNAS_OK) return st;
  for (int32_t i = 0; i < info.blocks && st == PNAS_OK; i++) {
    pnas_block_info block;
    pnas_block_info_init(&block);
    st = pnas_arch_get_block(arch, i, &block);
    if (st == PNAS_OK) st = pnas_arch_append_block(copy, &block);
  }
  if (st != PNAS_OK) {
    pnas_arch_destroy(copy);
    return st;
  }
  *out = copy;
  return PNAS_OK;
}

static pnas_status load(pnas_context *ctx, const info_args *a, int net_config, pnas_arch **out) {
  if (net_config) {
    return pnas_arch_import_net_config(ctx, a->file, a->height > 0 ? a->height : 224,
                                       a->width > 0 ? a->width : 224, out);
  }
  pnas_arch *arch = NULL;
  pnas_status st = pnas_arch_load_yaml(ctx, a->file, &arch);
  if (st != PNAS_OK || a->height == 0) {
    if (st == PNAS_OK) *out = arch;
    return st;
  }
  st = resize(ctx, arch, a->height, a->width, out);
  pnas_arch_destroy(arch);
  return st;
}

/* latency_ms is NULL when no table was given. */
static pnas_status print_info(const pnas_arch *arch, const info_args *a, int net_config,
                              const double *latency_ms) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  pnas_status st = pnas_arch_get_info(arch, &info);
  if (st != PNAS_OK) return st;
  int identities = 0;
  pnas_block_info last;
  pnas_block_info_init(&last);
  for (int32_t i = 0; i < info.blocks && st == PNAS_OK; i++) {
    st = pnas_arch_get_block(arch, i, &last);
    identities += last.kind == PNAS_BLOCK_IDENTITY;
  }
  if (st != PNAS_OK) return st;
  printf("file: %s\n", a->file);
  printf("format: %s\n", net_config ? "net.config" : "pnas-arch/1");
  printf("input: %dx%dx%d\n", (int)info.input_height, (int)info.input_width,
         (int)info.input_channels);
  printf("classes: %d\n", (int)info.classes);
  printf("stem: %dx%d stride %d -> %d channels\n", (int)info.stem_kernel, (int)info.stem_kernel,
         (int)info.stem_stride, (int)info.stem_channels);
  printf("blocks: %d\n", (int)info.blocks);
  printf("identity_blocks: %d\n", identities);
  if (info.blocks > 0) {
    printf("features: %dx%dx%d\n", (int)last.out_height, (int)last.out_width,
           (int)last.out_channels);
  }
  printf("head_channels: %d\n", (int)info.head_channels);
  printf("dropout: %g\n", (double)info.dropout);
  printf("macs: %lld\n", (long long)info.macs);
  printf("params: %lld\n", (long long)info.params);
  if (latency_ms != NULL) printf("latency_ms: %.6f\n", *latency_ms);
  if (a->blocks) {
    for (int32_t i = 0; i < info.blocks && st == PNAS_OK; i++) {
      pnas_block_info b;
      pnas_block_info_init(&b);
      if ((st = pnas_arch_get_block(arch, i, &b)) != PNAS_OK) break;
      if (b.kind == PNAS_BLOCK_IDENTITY) {
        printf("block.%d: identity %dx%dx%d\n", (int)i, (int)b.in_height, (int)b.in_width,
               (int)b.in_channels);
        continue;
      }
      printf(
          "block.%d: mbconv kernel %d expand %d stride %d%s, %dx%dx%d -> %dx%dx%d, "
          "macs %lld, params %lld\n",
          (int)i, (int)b.kernel, (int)b.expand, (int)b.stride, b.residual ? " residual" : "",
          (int)b.in_height, (int)b.in_width, (int)b.in_channels, (int)b.out_height,
          (int)b.out_width, (int)b.out_channels, (long long)b.macs, (long long)b.params);
    }
  }
  return st;
}

int cmd_info(int argc, char **argv) {
  info_args a;
  const int parsed = parse_args(argc, argv, &a);
  if (parsed >= 0) return parsed;
  pnas_context *ctx = cli_context();
  if (ctx == NULL) return 1;
  int status = 1;
  pnas_arch *arch = NULL;
  pnas_latency_model *model = NULL;
  double latency_ms = 0.0;
  const int net_config = is_net_config(a.file);
  /* Everything that can fail runs before the first line is printed, so
   * that a failure prints only the error line. */
  if (load(ctx, &a, net_config > 0, &arch) != PNAS_OK ||
      (a.table != NULL && (pnas_latency_model_load_table(ctx, a.table, &model) != PNAS_OK ||
                           pnas_latency_model_arch_latency(model, arch, &latency_ms) != PNAS_OK))) {
    status = cli_library_error(ctx);
    goto done;
  }
  if (print_info(arch, &a, net_config > 0, a.table != NULL ? &latency_ms : NULL) != PNAS_OK) {
    status = cli_library_error(ctx);
    goto done;
  }
  status = fflush(stdout) == 0 ? 0 : cli_error("writing the output failed");
done:
  pnas_latency_model_destroy(model);
  pnas_arch_destroy(arch);
  pnas_context_destroy(ctx);
  return status;
}
