/* SPDX-License-Identifier: MIT */
/* Checkpoints through the public API: a search stopped, saved, loaded and
 * continued ends bitwise identical to one that never stopped (weights,
 * alpha, the context's generator, the batchers); corrupt, truncated and
 * foreign files are rejected with a message; generator and batcher states
 * round-trip; bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

enum { HW = 6, N = 40, BATCH = 8 };

static pnas_context *make_context(uint64_t seed, counting_alloc *state) {
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = seed;
  if (state != NULL) o.allocator = counting_alloc_hooks(state, 1);
  pnas_context *ctx = NULL;
  ck_assert_int_eq(pnas_context_create(&o, &ctx, NULL, 0), PNAS_OK);
  return ctx;
}

static pnas_space *make_space(pnas_context *ctx) {
  pnas_space_info info;
  pnas_space_info_init(&info);
  info.input_height = info.input_width = HW;
  info.input_channels = 1;
  info.classes = 3;
  info.stem_channels = 4;
  info.stem_stride = 1;
  info.first_block_channels = 4;
  info.head_channels = 8;
  pnas_space *space = NULL;
  ck_assert_int_eq(pnas_space_create(ctx, &info, &space), PNAS_OK);
  const pnas_op_spec ops[] = {
      {PNAS_OP_MBCONV, 3, 2}, {PNAS_OP_MBCONV, 5, 2}, {PNAS_OP_MBCONV, 3, 3}, {PNAS_OP_ZERO, 0, 0}};
  ck_assert_int_eq(pnas_space_add_stage(space, 6, 2, 2, ops, 4, 0), PNAS_OK);
  return space;
}

static pnas_dataset *make_data(pnas_context *ctx) {
  uint8_t images[N * HW * HW];
  int32_t labels[N];
  for (int i = 0; i < N * HW * HW; i++) images[i] = (uint8_t)((i * 37 + i / 7) % 251);
  for (int i = 0; i < N; i++) labels[i] = i % 3;
  pnas_dataset *ds = NULL;
  ck_assert_int_eq(pnas_dataset_create_from_memory(ctx, images, labels, N, HW, HW, 1, 3, &ds),
                   PNAS_OK);
  return ds;
}

typedef struct run {
  pnas_context *ctx;
  pnas_space *space;
  pnas_dataset *data;
  pnas_supernet *sn;
  pnas_batcher *batcher;
} run;

static void run_open(run *r, uint64_t seed) {
  r->ctx = make_context(seed, NULL);
  r->space = make_space(r->ctx);
  r->data = make_data(r->ctx);
  pnas_supernet_options so;
  pnas_supernet_options_init(&so);
  so.max_batch = BATCH;
  ck_assert_int_eq(pnas_supernet_create(r->ctx, r->space, &so, &r->sn), PNAS_OK);
  pnas_search_options search;
  pnas_search_options_init(&search);
  search.arch_mode = PNAS_ARCH_MODE_TWO;
  search.prune_threshold = 0.2f;
  search.prune_patience = 2;
  ck_assert_int_eq(pnas_supernet_set_search(r->sn, &search), PNAS_OK);
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = BATCH;
  bo.seed = seed;
  bo.crop_padding = 1;
  bo.horizontal_flip = 1;
  ck_assert_int_eq(pnas_batcher_create(r->data, &bo, &r->batcher), PNAS_OK);
}

static void run_close(run *r) {
  pnas_batcher_destroy(r->batcher);
  pnas_supernet_destroy(r->sn);
  pnas_dataset_destroy(r->data);
  pnas_space_destroy(r->space);
  pnas_context_destroy(r->ctx);
}

/* `steps` weight steps, an arch step after each, a prune every 4. */
static void run_steps(run *r, int first, int steps) {
  for (int s = first; s < first + steps; s++) {
    const float *x;
    const int32_t *y;
    int32_t n = 0;
    while (n == 0) ck_assert_int_eq(pnas_batcher_next_view(r->batcher, &x, &y, &n), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_set_lr(r->sn, pnas_lr_cosine(0.1f, s, 24)), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_train_step(r->sn, x, y, n, NULL), PNAS_OK);
    ck_assert_int_eq(pnas_supernet_arch_step(r->sn, x, y, n, NULL), PNAS_OK);
    if (s % 4 == 3) ck_assert_int_eq(pnas_supernet_prune(r->sn, NULL), PNAS_OK);
  }
}

/* Everything observable: weights, alpha of every layer, the generator. */
static void snapshot(run *r, float **weights, int64_t *count, float *alpha, uint64_t rng[4]) {
  float *params = NULL;
  ck_assert_int_eq(pnas_supernet_parameters(r->sn, &params, NULL, count), PNAS_OK);
  *weights = malloc(sizeof(float) * (size_t)*count);
  memcpy(*weights, params, sizeof(float) * (size_t)*count);
  memset(alpha, 0, sizeof(float) * 16);
  for (int l = 0; l < 2; l++) {
    int32_t ops = 0;
    pnas_supernet_op_count(r->sn, l, &ops);
    ck_assert_int_eq(pnas_supernet_get_alpha(r->sn, l, 0, alpha + 8 * l, 8), PNAS_OK);
  }
  ck_assert_int_eq(pnas_context_get_rng_state(r->ctx, rng), PNAS_OK);
}

START_TEST(resume_is_bitwise_identical) {
  char dir[] = "/tmp/pnas-ckpt-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", dir);

  run a;
  run_open(&a, 5);
  run_steps(&a, 0, 24);
  float *wa, alpha_a[16];
  int64_t na;
  uint64_t rng_a[4];
  snapshot(&a, &wa, &na, alpha_a, rng_a);

  run b;
  run_open(&b, 5);
  run_steps(&b, 0, 10);
  size_t state_size = 0;
  ck_assert_int_eq(pnas_batcher_get_state(b.batcher, NULL, 0, &state_size), PNAS_OK);
  void *state = malloc(state_size);
  ck_assert_int_eq(pnas_batcher_get_state(b.batcher, state, state_size, &state_size), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_save(b.sn, path, state, state_size), PNAS_OK);
  free(state);
  run_close(&b);

  /* A new process, in effect: another context seeded differently. */
  run c;
  run_open(&c, 999);
  pnas_supernet_destroy(c.sn);
  c.sn = NULL;
  void *host = NULL;
  size_t host_size = 0;
  ck_assert_msg(pnas_supernet_load(c.ctx, path, 0, &c.sn, &host, &host_size) == PNAS_OK, "%s",
                pnas_context_last_error(c.ctx));
  ck_assert_int_eq(pnas_batcher_set_state(c.batcher, host, host_size), PNAS_OK);
  pnas_free(host);
  run_steps(&c, 10, 14);
  float *wc, alpha_c[16];
  int64_t nc;
  uint64_t rng_c[4];
  snapshot(&c, &wc, &nc, alpha_c, rng_c);
  ck_assert_int_eq(na, nc);
  ck_assert_int_eq(memcmp(wa, wc, sizeof(float) * (size_t)na), 0);
  ck_assert_int_eq(memcmp(alpha_a, alpha_c, sizeof alpha_a), 0);
  ck_assert_int_eq(memcmp(rng_a, rng_c, sizeof rng_a), 0);
  pnas_supernet_info ia = {.struct_size = sizeof ia}, ic = {.struct_size = sizeof ic};
  pnas_supernet_get_info(a.sn, &ia);
  pnas_supernet_get_info(c.sn, &ic);
  ck_assert_int_eq(ia.candidates, ic.candidates);
  ck_assert_int_eq(ia.weight_steps, 24);
  ck_assert_int_eq(ic.weight_steps, 24);
  ck_assert_int_eq(ia.arch_steps, ic.arch_steps);
  free(wa);
  free(wc);
  run_close(&a);
  run_close(&c);
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(corrupt_checkpoints_are_rejected) {
  char dir[] = "/tmp/pnas-ckpt-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", dir);
  counting_alloc state = {0};
  pnas_context *ctx = make_context(1, &state);
  pnas_space *space = make_space(ctx);
  pnas_supernet *sn = NULL;
  ck_assert_int_eq(pnas_supernet_create(ctx, space, NULL, &sn), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_save(sn, path, "abc", 3), PNAS_OK);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  const long size = ftell(f);
  fclose(f);
  pnas_supernet *out = (pnas_supernet *)(uintptr_t)0x1;
  uint64_t rng_before[4], rng_after[4];
  pnas_context_get_rng_state(ctx, rng_before);
  /* Every single flipped byte is caught (checksum, magic or version). */
  for (long at = 0; at < size; at += size / 23 + 1) {
    f = fopen(path, "r+b");
    fseek(f, at, SEEK_SET);
    const int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    ck_assert_int_eq(pnas_supernet_load(ctx, path, 0, &out, NULL, NULL), PNAS_ERR_FORMAT);
    ck_assert_ptr_eq(out, (pnas_supernet *)(uintptr_t)0x1);
    f = fopen(path, "r+b");
    fseek(f, at, SEEK_SET);
    fputc(c, f);
    fclose(f);
  }
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "checkpoint"));
  pnas_context_get_rng_state(ctx, rng_after);
  ck_assert_int_eq(memcmp(rng_before, rng_after, sizeof rng_before), 0);
  ck_assert_int_eq(truncate(path, size / 2), 0);
  ck_assert_int_eq(pnas_supernet_load(ctx, path, 0, &out, NULL, NULL), PNAS_ERR_FORMAT);
  ck_assert_int_eq(truncate(path, 5), 0);
  ck_assert_int_eq(pnas_supernet_load(ctx, path, 0, &out, NULL, NULL), PNAS_ERR_FORMAT);
  unlink(path);
  ck_assert_int_eq(pnas_supernet_load(ctx, path, 0, &out, NULL, NULL), PNAS_ERR_IO);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "checkpoint.pnas"));
  ck_assert_int_eq(pnas_supernet_save(sn, NULL, NULL, 0), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_supernet_save(sn, path, NULL, 4), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_supernet_load(ctx, path, -1, &out, NULL, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_supernet_load(NULL, path, 0, &out, NULL, NULL), PNAS_ERR_INVALID_ARGUMENT);
  /* A round trip with host data, and no leak anywhere. */
  ck_assert_int_eq(pnas_supernet_save(sn, path, "hello", 5), PNAS_OK);
  void *host = NULL;
  size_t host_size = 0;
  ck_assert_int_eq(pnas_supernet_load(ctx, path, 4, &out, &host, &host_size), PNAS_OK);
  ck_assert_uint_eq(host_size, 5);
  ck_assert_int_eq(memcmp(host, "hello", 5), 0);
  pnas_free(host);
  pnas_supernet_destroy(out);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* CRC-32 (zlib's polynomial), to forge a checkpoint whose checksum holds. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

/* A well-formed file with a valid checksum whose stored search options are
 * ones pnas_supernet_set_search() refuses (arch_beta1 = 1.5) is rejected
 * naming the option, not loaded into a supernet that fails later. */
START_TEST(stored_options_out_of_range_are_rejected) {
  char dir[] = "/tmp/pnas-ckpt-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", dir);
  counting_alloc state = {0};
  pnas_context *ctx = make_context(1, &state);
  pnas_space *space = make_space(ctx);
  pnas_supernet *sn = NULL;
  ck_assert_int_eq(pnas_supernet_create(ctx, space, NULL, &sn), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_save(sn, path, NULL, 0), PNAS_OK);
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  unsigned char buf[1 << 16];
  const size_t size = fread(buf, 1, sizeof buf, f);
  fclose(f);
  ck_assert(size > 100 && size < sizeof buf);
  /* Header (16 bytes), the space's YAML (u64 length + text), supernet
   * options (16), SGD options (24), then arch_mode, arch_lr, arch_beta1. */
  uint64_t yaml_len = 0;
  memcpy(&yaml_len, buf + 16, sizeof yaml_len);
  const size_t beta1_at = 16 + 8 + (size_t)yaml_len + 16 + 24 + 4 + 4;
  float beta1 = 0.0f;
  memcpy(&beta1, buf + beta1_at, sizeof beta1);
  pnas_search_options defaults;
  pnas_search_options_init(&defaults);
  ck_assert_float_eq(beta1, defaults.arch_beta1); /* the layout is as assumed */
  beta1 = 1.5f;
  memcpy(buf + beta1_at, &beta1, sizeof beta1);
  const uint32_t crc = crc32_of(buf, size - 4);
  memcpy(buf + size - 4, &crc, sizeof crc);
  f = fopen(path, "wb");
  ck_assert_uint_eq(fwrite(buf, 1, size, f), size);
  fclose(f);
  pnas_supernet *out = (pnas_supernet *)(uintptr_t)0x1;
  ck_assert_int_eq(pnas_supernet_load(ctx, path, 0, &out, NULL, NULL), PNAS_ERR_FORMAT);
  ck_assert_ptr_eq(out, (pnas_supernet *)(uintptr_t)0x1);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "stored arch_beta1 is out of range"));
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* Loads `path` expecting PNAS_ERR_FORMAT and a message with one of the
 * needles; *out must stay untouched. */
static void expect_rejected(pnas_context *ctx, const char *path, const char *what, long at,
                            const char *needle, const char *other) {
  pnas_supernet *out = (pnas_supernet *)(uintptr_t)0x1;
  void *host = (void *)(uintptr_t)0x2;
  const pnas_status st = pnas_supernet_load(ctx, path, 0, &out, &host, NULL);
  const char *message = pnas_context_last_error(ctx);
  ck_assert_msg(st == PNAS_ERR_FORMAT, "%s at %ld: %s (%s)", what, at, pnas_status_string(st),
                message);
  ck_assert_msg(strstr(message, needle) != NULL || (other != NULL && strstr(message, other)),
                "%s at %ld: the message \"%s\" mentions neither \"%s\" nor \"%s\"", what, at,
                message, needle, other != NULL ? other : "");
  ck_assert_msg(strstr(message, "checkpoint.pnas") != NULL, "no file name in \"%s\"", message);
  ck_assert_ptr_eq(out, (pnas_supernet *)(uintptr_t)0x1);
  ck_assert_ptr_eq(host, (void *)(uintptr_t)0x2);
}

/* Every offset of the first 40 bytes, then steps of size / 200, then the
 * last byte. */
static long next_cut(long at, long size) {
  if (at < 40) return at + 1;
  if (at == size - 1) return size;
  const long next = at + size / 200 + 1;
  return next < size - 1 ? next : size - 1;
}

START_TEST(truncations_and_bit_flips_everywhere_are_rejected) {
  char dir[] = "/tmp/pnas-ckpt-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256], good[256];
  snprintf(path, sizeof path, "%s/checkpoint.pnas", dir);
  snprintf(good, sizeof good, "%s/good.pnas", dir);
  counting_alloc state = {0};
  pnas_context *ctx = make_context(1, &state);
  pnas_space *space = make_space(ctx);
  pnas_supernet *sn = NULL;
  ck_assert_int_eq(pnas_supernet_create(ctx, space, NULL, &sn), PNAS_OK);
  ck_assert_int_eq(pnas_supernet_save(sn, good, "host data", 9), PNAS_OK);
  FILE *f = fopen(good, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  const long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *bytes = malloc((size_t)size);
  ck_assert_ptr_nonnull(bytes);
  ck_assert_int_eq(fread(bytes, 1, (size_t)size, f), size);
  fclose(f);
  /* Truncated at every offset of the header, then at 200 offsets across the
   * file, and one byte short. */
  int truncations = 0;
  for (long at = 0; at < size; at = next_cut(at, size), truncations++) {
    f = fopen(path, "wb");
    ck_assert_int_eq(fwrite(bytes, 1, (size_t)at, f), at);
    fclose(f);
    expect_rejected(ctx, path, "truncated", at, "truncated", "checksum");
  }
  ck_assert_int_ge(truncations, 200);
  /* A single flipped bit at 200 places: the magic, the version, or the
   * checksum catch it. */
  for (long at = 0; at < size; at += size / 200 + 1) {
    for (int bit = 0; bit < 8; bit += 3) {
      bytes[at] ^= (unsigned char)(1u << bit);
      f = fopen(path, "wb");
      ck_assert_int_eq(fwrite(bytes, 1, (size_t)size, f), size);
      fclose(f);
      expect_rejected(ctx, path, "bit flip", at, "checksum", at < 16 ? "magic" : NULL);
      bytes[at] ^= (unsigned char)(1u << bit);
    }
  }
  /* Appended garbage is caught too. */
  f = fopen(path, "wb");
  ck_assert_int_eq(fwrite(bytes, 1, (size_t)size, f), size);
  fputs("tail", f);
  fclose(f);
  expect_rejected(ctx, path, "appended bytes", size, "checksum", NULL);
  /* The intact file still loads, and nothing leaked. */
  pnas_supernet *loaded = NULL;
  ck_assert_int_eq(pnas_supernet_load(ctx, good, 0, &loaded, NULL, NULL), PNAS_OK);
  pnas_supernet_destroy(loaded);
  free(bytes);
  pnas_supernet_destroy(sn);
  pnas_space_destroy(space);
  pnas_context_destroy(ctx);
  ck_assert_int_eq(state.live, 0);
  unlink(path);
  unlink(good);
  rmdir(dir);
}
END_TEST

START_TEST(generator_and_batcher_states_round_trip) {
  pnas_context *ctx = make_context(3, NULL);
  uint64_t s1[4], s2[4];
  ck_assert_int_eq(pnas_context_get_rng_state(ctx, s1), PNAS_OK);
  const uint64_t zero[4] = {0, 0, 0, 0};
  ck_assert_int_eq(pnas_context_set_rng_state(ctx, zero), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "all zero"));
  ck_assert_int_eq(pnas_context_set_rng_state(ctx, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_get_rng_state(ctx, NULL), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_context_set_rng_state(ctx, s1), PNAS_OK);
  ck_assert_int_eq(pnas_context_get_rng_state(ctx, s2), PNAS_OK);
  ck_assert_int_eq(memcmp(s1, s2, sizeof s1), 0);

  pnas_dataset *ds = make_data(ctx);
  pnas_batcher_options bo;
  pnas_batcher_options_init(&bo);
  bo.batch_size = 7;
  pnas_batcher *a = NULL, *b = NULL;
  ck_assert_int_eq(pnas_batcher_create(ds, &bo, &a), PNAS_OK);
  bo.seed = 77;
  ck_assert_int_eq(pnas_batcher_create(ds, &bo, &b), PNAS_OK);
  float xa[7 * HW * HW], xb[7 * HW * HW];
  int32_t ya[7], yb[7], na = 0, nb = 0;
  for (int i = 0; i < 9; i++) pnas_batcher_next(a, xa, ya, &na); /* mid second epoch */
  size_t size = 0;
  ck_assert_int_eq(pnas_batcher_get_state(a, NULL, 0, &size), PNAS_OK);
  char *buf = malloc(size);
  ck_assert_int_eq(pnas_batcher_get_state(a, buf, size - 1, &size), PNAS_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(pnas_batcher_get_state(a, buf, size, &size), PNAS_OK);
  ck_assert_int_eq(pnas_batcher_set_state(b, buf, size), PNAS_OK);
  for (int i = 0; i < 12; i++) {
    pnas_batcher_next(a, xa, ya, &na);
    pnas_batcher_next(b, xb, yb, &nb);
    ck_assert_int_eq(na, nb);
    ck_assert_int_eq(memcmp(ya, yb, sizeof(int32_t) * (size_t)na), 0);
  }
  /* A corrupt order (a repeated index) is refused and changes nothing. */
  memcpy(buf + 56, buf + 64, 8);
  ck_assert_int_eq(pnas_batcher_set_state(b, buf, size), PNAS_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(pnas_context_last_error(ctx), "permutation"));
  ck_assert_int_eq(pnas_batcher_set_state(b, buf, size - 8), PNAS_ERR_FORMAT);
  free(buf);
  pnas_batcher_destroy(a);
  pnas_batcher_destroy(b);
  pnas_dataset_destroy(ds);
  pnas_context_destroy(ctx);
}
END_TEST

Suite *pnas_test_suite(void) {
  Suite *s = suite_create("checkpoint");
  TCase *tc = tcase_create("resume");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, resume_is_bitwise_identical);
  tcase_add_test(tc, corrupt_checkpoints_are_rejected);
  tcase_add_test(tc, stored_options_out_of_range_are_rejected);
  tcase_add_test(tc, truncations_and_bit_flips_everywhere_are_rejected);
  tcase_add_test(tc, generator_and_batcher_states_round_trip);
  suite_add_tcase(s, tc);
  return s;
}
