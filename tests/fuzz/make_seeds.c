/* SPDX-License-Identifier: MIT */
/* Writes the seeds that only the library can make into the fuzz corpora:
 * supernet checkpoints and network files of tiny spaces and architectures,
 * a latency table with every key of fuzz_latency_table.c's architecture,
 * and the YAML / net.config text the library writes for them.
 * Usage: fuzz-make-seeds CORPUS_FOLDER (tests/fuzz/corpus). */
#include <pnas/pnas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pnas_context *ctx;
static const char *corpus;

static void check(pnas_status s, const char *what) {
  if (s == PNAS_OK) return;
  fprintf(stderr, "make_seeds: %s: %s\n", what, pnas_context_last_error(ctx));
  exit(1);
}

static const char *out(const char *target, const char *name) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
  return path;
}

static const char tiny_space[] =
    "format: pnas-space/1\n"
    "input: [8, 8, 1]\n"
    "classes: 2\n"
    "stem: {channels: 4, kernel: 3, stride: 1}\n"
    "first_block: {channels: 4}\n"
    "stages:\n"
    "  - {width: 4, depth: 2, stride: 1, ops: [mbconv3x3_e1, mbconv5x5_e2, zero]}\n"
    "  - {width: 6, depth: 1, stride: 2, ops: [mbconv3x3_e2, mbconv7x7_e1]}\n"
    "head: {channels: 8}\n"
    "dropout: 0.1\n";

static const char tiny_arch[] =
    "format: pnas-arch/1\n"
    "input: [8, 8, 1]\n"
    "classes: 3\n"
    "stem: {channels: 4, kernel: 3, stride: 2}\n"
    "blocks:\n"
    "  - {op: mbconv, kernel: 3, expand: 1, out: 4, stride: 1}\n"
    "  - {op: identity}\n"
    "  - {op: mbconv, kernel: 5, expand: 2, out: 6, stride: 2}\n"
    "head: {channels: 0}\n";

/* Must match priced_arch in fuzz_latency_table.c. */
static const char priced_arch[] =
    "format: pnas-arch/1\n"
    "input: [28, 28, 1]\n"
    "classes: 10\n"
    "stem: {channels: 16, kernel: 3, stride: 1}\n"
    "blocks:\n"
    "  - {op: mbconv, kernel: 3, expand: 1, out: 8, stride: 1}\n"
    "  - {op: mbconv, kernel: 5, expand: 3, out: 16, stride: 2}\n"
    "  - {op: identity}\n"
    "  - {op: mbconv, kernel: 7, expand: 6, out: 16, stride: 1}\n"
    "head: {channels: 64}\n";

static void checkpoints(void) {
  pnas_space *space = NULL;
  check(pnas_space_parse_yaml(ctx, tiny_space, strlen(tiny_space), &space), "space");
  check(pnas_space_save_yaml(space, out("space-yaml", "tiny.yaml")), "save space");
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  o.max_batch = 2;
  pnas_supernet *sn = NULL;
  check(pnas_supernet_create(ctx, space, &o, &sn), "supernet");
  check(pnas_supernet_save(sn, out("supernet-checkpoint", "fresh.ckpt"), NULL, 0), "save");
  /* A searched one: latency prices, a loss form, steps, host data. */
  pnas_latency_model *macs = NULL;
  check(pnas_latency_model_create_macs(ctx, 0.5, &macs), "macs");
  check(pnas_supernet_set_latency_model(sn, macs), "set latency");
  pnas_search_options so;
  pnas_search_options_init(&so);
  so.loss_form = PNAS_LOSS_ADD;
  so.target_ms = 0.2f;
  so.arch_mode = PNAS_ARCH_MODE_TWO;
  so.prune_threshold = 0.2f;
  so.prune_patience = 1;
  check(pnas_supernet_set_search(sn, &so), "set search");
  float images[2 * 8 * 8];
  for (int i = 0; i < 2 * 8 * 8; i++) images[i] = (float)(i % 7) / 7.0f;
  const int32_t labels[2] = {0, 1};
  check(pnas_supernet_train_step(sn, images, labels, 2, NULL), "train step");
  check(pnas_supernet_arch_step(sn, images, labels, 2, NULL), "arch step");
  const float alpha[3] = {4.0f, 0.0f, -4.0f};
  check(pnas_supernet_set_alpha(sn, 0, alpha, 3), "set alpha");
  check(pnas_supernet_arch_step(sn, images, labels, 2, NULL), "arch step");
  int32_t pruned = 0;
  check(pnas_supernet_prune(sn, &pruned), "prune");
  static const char host[] = "epoch=1 step=2";
  check(pnas_supernet_save(sn, out("supernet-checkpoint", "searched.ckpt"), host, sizeof host),
        "save");
  /* Its derived network is a seed for the network files. */
  pnas_net_options no;
  pnas_net_options_init(&no);
  no.max_batch = 2;
  pnas_net *net = NULL;
  check(pnas_supernet_derive_net(sn, &no, 1, &net), "derive net");
  check(pnas_net_save(net, out("net-load", "derived.net")), "save net");
  pnas_arch *arch = NULL;
  check(pnas_supernet_derive(sn, &arch), "derive");
  check(pnas_arch_save_yaml(arch, out("arch-yaml", "derived.yaml")), "save arch");
  check(pnas_arch_export_net_config(arch, out("net-config", "derived.config")), "export");
  pnas_arch_destroy(arch);
  pnas_net_destroy(net);
  pnas_latency_model_destroy(macs);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
}

static void networks(void) {
  pnas_arch *arch = NULL;
  check(pnas_arch_parse_yaml(ctx, tiny_arch, strlen(tiny_arch), &arch), "arch");
  check(pnas_arch_save_yaml(arch, out("arch-yaml", "tiny.yaml")), "save arch");
  check(pnas_arch_export_net_config(arch, out("net-config", "tiny.config")), "export");
  pnas_net_options o;
  pnas_net_options_init(&o);
  o.max_batch = 2;
  pnas_net *net = NULL;
  check(pnas_net_create(ctx, arch, &o, &net), "net");
  check(pnas_net_save(net, out("net-load", "fresh.net")), "save net");
  float images[2 * 8 * 8];
  for (int i = 0; i < 2 * 8 * 8; i++) images[i] = (float)(i % 5) / 5.0f;
  const int32_t labels[2] = {2, 1};
  check(pnas_net_train_step(net, images, labels, 2, NULL), "train step");
  check(pnas_net_save(net, out("net-load", "trained.net")), "save net");
  pnas_net_destroy(net);
  pnas_arch_destroy(arch);
}

/* Records the keys the table must hold, each with a made-up mean. */
typedef struct key_list {
  FILE *f;
  int n;
} key_list;

static int record_key(void *user, const pnas_latency_query *q, double *out_ms) {
  key_list *keys = user;
  keys->n++;
  fprintf(keys->f, "%s:\n  count: %d\n  mean: %.6f\n  var: 0.%d\n", q->key, 10 * keys->n,
          0.125 * keys->n, keys->n);
  *out_ms = 1.0;
  return 0;
}

static void latency_table(void) {
  pnas_arch *arch = NULL;
  check(pnas_arch_parse_yaml(ctx, priced_arch, strlen(priced_arch), &arch), "priced arch");
  key_list keys = {fopen(out("latency-table", "priced.yaml"), "w"), 0};
  if (keys.f == NULL) exit(1);
  pnas_latency_model *cb = NULL;
  check(pnas_latency_model_create_callback(ctx, record_key, &keys, &cb), "callback");
  double ms = 0.0;
  check(pnas_latency_model_arch_latency(cb, arch, &ms), "arch latency");
  fclose(keys.f);
  pnas_latency_model *table = NULL;
  check(pnas_latency_model_load_table(ctx, out("latency-table", "priced.yaml"), &table), "load");
  check(pnas_latency_model_save_table(table, out("latency-table", "priced-saved.yaml")), "save");
  pnas_latency_model_destroy(table);
  pnas_latency_model_destroy(cb);
  pnas_arch_destroy(arch);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
    return 2;
  }
  corpus = argv[1];
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = 7;
  char error[256];
  if (pnas_context_create(&o, &ctx, error, sizeof error) != PNAS_OK) {
    fprintf(stderr, "make_seeds: %s\n", error);
    return 1;
  }
  checkpoints();
  networks();
  latency_table();
  pnas_context_destroy(ctx);
  return 0;
}
