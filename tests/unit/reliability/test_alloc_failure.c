/* SPDX-License-Identifier: MIT */
/* Allocation failure along the whole search path: load a space from YAML,
 * build a supernet, set a latency model and a latency loss, run a weight
 * step and an arch step, prune, derive (architecture and network), save
 * the architecture and a checkpoint, and load the checkpoint back. With a
 * context allocator that fails its k-th allocation, for every k from 1 until
 * the path succeeds: the failing call returns PNAS_ERR_OUT_OF_MEMORY with a
 * message, nothing crashes, and once everything is destroyed the counting
 * allocator shows that every block was freed. Runs once with the
 * allocator's aligned_alloc hook and once without (the library's carving
 * fallback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

enum { HW = 8, BATCH = 4, CLASSES = 3 };

static const char space_yaml[] =
    "format: pnas-space/1\n"
    "input: [8, 8, 1]\n"
    "classes: 3\n"
    "stem: {channels: 4, kernel: 3, stride: 1}\n"
    "first_block: {channels: 4}\n"
    "stages:\n"
    "  - {width: 6, depth: 2, stride: 2, ops: [mbconv3x3_e3, mbconv5x5_e3, zero]}\n"
    "head: {channels: 8}\n"
    "dropout: 0.0\n";

typedef struct path {
  pnas_context *ctx;
  pnas_space *space;
  pnas_supernet *sn;
  pnas_latency_model *lat;
  pnas_arch *arch;
  pnas_net *net;
  pnas_supernet *loaded;
  void *host;
} path;

static void path_close(path *p) {
  pnas_free(p->host);
  pnas_supernet_destroy(p->loaded);
  pnas_net_destroy(p->net);
  pnas_arch_destroy(p->arch);
  pnas_latency_model_destroy(p->lat);
  pnas_supernet_destroy(p->sn);
  pnas_space_destroy(p->space);
  pnas_context_destroy(p->ctx);
}

/* Runs the path; returns the name of the step that failed, or NULL. */
static const char *run_path(path *p, counting_alloc *state, int aligned, const char *dir,
                            pnas_status *status, char *message, size_t message_size) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = 3;
  o.allocator = counting_alloc_hooks(state, aligned);
  message[0] = '\0';
#define STEP(name, call)                                                        \
  do {                                                                          \
    *status = (call);                                                           \
    if (*status != PNAS_OK) {                                                   \
      if (p->ctx != NULL) {                                                     \
        snprintf(message, message_size, "%s", pnas_context_last_error(p->ctx)); \
      }                                                                         \
      return name;                                                              \
    }                                                                           \
  } while (0)
  STEP("pnas_context_create", pnas_context_create(&o, &p->ctx, message, message_size));
  char file[256];
  snprintf(file, sizeof file, "%s/space.yaml", dir);
  STEP("pnas_space_load_yaml", pnas_space_load_yaml(p->ctx, file, &p->space));
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = BATCH;
  STEP("pnas_supernet_create", pnas_supernet_create(p->ctx, p->space, &so, &p->sn));
  STEP("pnas_latency_model_create_macs", pnas_latency_model_create_macs(p->ctx, 0.01, &p->lat));
  STEP("pnas_supernet_set_latency_model", pnas_supernet_set_latency_model(p->sn, p->lat));
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.loss_form = PNAS_LOSS_ADD;
  search.target_ms = 0.05f;
  search.rl_samples = 3;
  search.prune_threshold = 0.9f;
  search.prune_patience = 1;
  STEP("pnas_supernet_set_search", pnas_supernet_set_search(p->sn, &search));
  float images[BATCH * HW * HW];
  int32_t labels[BATCH];
  for (int i = 0; i < BATCH * HW * HW; i++) images[i] = (float)(i % 13) / 13.0f - 0.5f;
  for (int i = 0; i < BATCH; i++) labels[i] = i % CLASSES;
  STEP("pnas_supernet_train_step", pnas_supernet_train_step(p->sn, images, labels, BATCH, NULL));
  STEP("pnas_supernet_arch_step", pnas_supernet_arch_step(p->sn, images, labels, BATCH, NULL));
  STEP("pnas_supernet_arch_step_reinforce",
       pnas_supernet_arch_step_reinforce(p->sn, images, labels, BATCH, NULL));
  STEP("pnas_supernet_prune", pnas_supernet_prune(p->sn, NULL));
  STEP("pnas_supernet_derive", pnas_supernet_derive(p->sn, &p->arch));
  STEP("pnas_supernet_derive_net", pnas_supernet_derive_net(p->sn, NULL, 1, &p->net));
  snprintf(file, sizeof file, "%s/arch.yaml", dir);
  STEP("pnas_arch_save_yaml", pnas_arch_save_yaml(p->arch, file));
  snprintf(file, sizeof file, "%s/checkpoint.pnas", dir);
  STEP("pnas_supernet_save", pnas_supernet_save(p->sn, file, "position", 8));
  size_t host_size = 0;
  STEP("pnas_supernet_load", pnas_supernet_load(p->ctx, file, 0, &p->loaded, &p->host, &host_size));
  ck_assert_uint_eq(host_size, 8);
#undef STEP
  return NULL;
}

static void fail_every_allocation(int aligned) {
  char dir[] = "/tmp/pnas-oom-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char file[256];
  snprintf(file, sizeof file, "%s/space.yaml", dir);
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fputs(space_yaml, f);
  fclose(f);

  /* The reference run: how many allocations the path makes. */
  counting_alloc reference = {0};
  path p;
  memset(&p, 0, sizeof p);
  pnas_status status;
  char message[512];
  const char *failed = run_path(&p, &reference, aligned, dir, &status, message, sizeof message);
  ck_assert_msg(failed == NULL, "the path fails without injected failures at %s: %s", failed,
                message);
  path_close(&p);
  ck_assert_int_eq(reference.live, 0);
  const long total = reference.calls;
  ck_assert_int_gt(total, 20);

  long k = 1;
  for (;; k++) {
    counting_alloc state = {0};
    state.fail_at = k;
    memset(&p, 0, sizeof p);
    failed = run_path(&p, &state, aligned, dir, &status, message, sizeof message);
    path_close(&p);
    ck_assert_msg(state.live == 0, "k = %ld (failed at %s): %ld blocks leaked", k,
                  failed != NULL ? failed : "nothing", state.live);
    if (failed == NULL) {
      /* Only once the k-th allocation is past the end of the path. */
      ck_assert_msg(state.calls < k, "k = %ld: allocation %ld failed but the path succeeded", k, k);
      break;
    }
    ck_assert_msg(status == PNAS_ERR_OUT_OF_MEMORY, "k = %ld: %s returned %s (%s)", k, failed,
                  pnas_status_string(status), message);
    ck_assert_msg(strstr(message, "out of memory") != NULL,
                  "k = %ld: %s failed without an out-of-memory message: \"%s\"", k, failed,
                  message);
    ck_assert_msg(state.calls >= k, "k = %ld: %s failed before the k-th allocation", k, failed);
  }
  ck_assert_int_eq(k, total + 1);
  snprintf(file, sizeof file, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(file), 0);
}

START_TEST(every_allocation_of_the_path_may_fail) {
  fail_every_allocation(1);
}
END_TEST

START_TEST(every_allocation_may_fail_without_aligned_hook) {
  fail_every_allocation(0);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("alloc-failure");
  TCase *tc = tcase_create("path");
  tcase_add_test(tc, every_allocation_of_the_path_may_fail);
  tcase_add_test(tc, every_allocation_may_fail_without_aligned_hook);
  suite_add_tcase(s, tc);
  return s;
}
