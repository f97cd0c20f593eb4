/* SPDX-License-Identifier: MIT */
/* Loads an architecture YAML written by an example (and, if given, the
 * net.config JSON exported with it) through the installed library, and
 * checks that it is a Fashion-MNIST network: 28x28x1 input, 10 classes, at
 * least one block, and the same blocks and MACs in both files.
 * Usage: load_arch ARCH.yaml [NET.config] */
#include <pnas/pnas.h>
#include <stdio.h>

static int load(pnas_context *ctx, const char *path, int json, pnas_arch_info *info) {
  pnas_arch *arch = NULL;
  const pnas_status st = json ? pnas_arch_import_net_config(ctx, path, 28, 28, &arch)
                              : pnas_arch_load_yaml(ctx, path, &arch);
  if (st != PNAS_OK) {
    fprintf(stderr, "load_arch: %s: %s\n", pnas_status_string(st), pnas_context_last_error(ctx));
    return 0;
  }
  info->struct_size = sizeof *info;
  const int ok = pnas_arch_get_info(arch, info) == PNAS_OK;
  pnas_arch_destroy(arch);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: load_arch ARCH.yaml [NET.config]\n");
    return 2;
  }
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  pnas_context *ctx = NULL;
  char err[256];
  if (pnas_context_create(&o, &ctx, err, sizeof err) != PNAS_OK) {
    fprintf(stderr, "load_arch: %s\n", err);
    return 1;
  }
  pnas_arch_info yaml = {0}, json = {0};
  int ok = load(ctx, argv[1], 0, &yaml);
  if (ok) {
    printf("%s: input %dx%dx%d, %d classes, %d blocks, %lld MACs\n", argv[1],
           (int)yaml.input_height, (int)yaml.input_width, (int)yaml.input_channels,
           (int)yaml.classes, (int)yaml.blocks, (long long)yaml.macs);
    ok = yaml.input_height == 28 && yaml.input_width == 28 && yaml.input_channels == 1 &&
         yaml.classes == 10 && yaml.blocks > 0 && yaml.macs > 0;
    if (!ok) fprintf(stderr, "load_arch: not a Fashion-MNIST network\n");
  }
  if (ok && argc > 2) {
    ok = load(ctx, argv[2], 1, &json) && json.blocks == yaml.blocks && json.macs == yaml.macs;
    printf("%s: %d blocks, %lld MACs%s\n", argv[2], (int)json.blocks, (long long)json.macs,
           ok ? "" : " (differs from the YAML)");
  }
  pnas_context_destroy(ctx);
  return ok ? 0 : 1;
}
