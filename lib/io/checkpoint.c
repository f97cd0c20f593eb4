/* SPDX-License-Identifier: MIT */
/* Supernet checkpoints: everything a search needs to continue bitwise as if
 * it had never stopped. A versioned little-endian binary with a CRC-32 over
 * everything before it, written to a temporary file and renamed.
 *
 *   "PNASCKP1", u32 version (1), u32 byte-order mark 0x01020304
 *   u64 length + the space as YAML text
 *   supernet options (i32 max_batch, f32 bn_momentum, bn_eps, alpha_init_std)
 *   SGD options (f32 lr, momentum, weight_decay, label_smoothing; i32
 *     nesterov, no_decay_on_bn)
 *   search options: the pnas_search_options members after struct_size, in
 *     declaration order, each as i32 or f32
 *   u32 layers; per layer: u32 live candidates; per candidate: i32 space
 *     index, i32 below, f64 latency; f32 alpha[], f64 adam_m[], adam_v[]
 *   i32 has_latency, f64 fixed latency
 *   u64 params, u64 statistics; f32 params[], momenta[], statistics[]
 *   i64 weight steps, arch steps, Adam steps; i32 baseline set, f64 baseline
 *   u64 x 4 the context's generator
 *   u64 length + host data
 *   u32 CRC-32 of all of the above */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "io/checkpoint.h"
#include "io/space_io.h"
#include "search/supernet.h"

#define MAGIC "PNASCKP1"
#define VERSION 1u
#define BOM 0x01020304u
#define MAX_FILE_BYTES ((size_t)8 << 30)

static void put(pni_strbuf *b, const void *p, size_t n) { pni_strbuf_append(b, p, n); }
#define PUT(b, type, v)   \
  do {                    \
    const type put_v = v; \
    put(b, &put_v, sizeof put_v); \
  } while (0)

static void put_search(pni_strbuf *b, const pnas_search_options *o) {
  PUT(b, int32_t, (int32_t)o->arch_mode);
  PUT(b, float, o->arch_lr);
  PUT(b, float, o->arch_beta1);
  PUT(b, float, o->arch_beta2);
  PUT(b, float, o->arch_eps);
  PUT(b, int32_t, (int32_t)o->loss_form);
  PUT(b, float, o->target_ms);
  PUT(b, float, o->lambda);
  PUT(b, float, o->mul_log_a);
  PUT(b, float, o->mul_log_beta);
  PUT(b, int32_t, o->skip_zero_active);
  PUT(b, int32_t, o->rl_samples);
  PUT(b, float, o->rl_exponent);
  PUT(b, float, o->rl_baseline_decay);
  PUT(b, float, o->prune_threshold);
  PUT(b, int32_t, o->prune_patience);
}

pnas_status pni_checkpoint_save(const pnas_supernet *sn, const char *path, const void *host,
                                size_t host_size) {
  pni_strbuf b, space_text;
  pni_strbuf_init(&b, sn->ctx);
  pni_strbuf_init(&space_text, sn->ctx);
  pni_space_format_yaml(sn->space, &space_text);
  put(&b, MAGIC, 8);
  PUT(&b, uint32_t, VERSION);
  PUT(&b, uint32_t, BOM);
  PUT(&b, uint64_t, (uint64_t)space_text.len);
  if (space_text.data != NULL) put(&b, space_text.data, space_text.len);
  PUT(&b, int32_t, sn->options.max_batch);
  PUT(&b, float, sn->options.bn_momentum);
  PUT(&b, float, sn->options.bn_eps);
  PUT(&b, float, sn->options.alpha_init_std);
  PUT(&b, float, sn->sgd.lr);
  PUT(&b, float, sn->sgd.momentum);
  PUT(&b, float, sn->sgd.weight_decay);
  PUT(&b, float, sn->sgd.label_smoothing);
  PUT(&b, int32_t, sn->sgd.nesterov);
  PUT(&b, int32_t, sn->sgd.no_decay_on_bn);
  put_search(&b, &sn->search);
  PUT(&b, uint32_t, (uint32_t)sn->layer_count);
  for (int32_t l = 0; l < sn->layer_count; l++) {
    const pni_mixed_layer *layer = &sn->layers[l];
    PUT(&b, uint32_t, (uint32_t)layer->count);
    for (int32_t j = 0; j < layer->count; j++) {
      PUT(&b, int32_t, layer->cand[j].space_index);
      PUT(&b, int32_t, layer->cand[j].below);
      PUT(&b, double, layer->cand[j].latency_ms);
    }
    put(&b, layer->alpha, sizeof(float) * (size_t)layer->count);
    put(&b, layer->adam_m, sizeof(double) * (size_t)layer->count);
    put(&b, layer->adam_v, sizeof(double) * (size_t)layer->count);
  }
  PUT(&b, int32_t, sn->has_latency);
  PUT(&b, double, sn->fixed_latency_ms);
  PUT(&b, uint64_t, (uint64_t)sn->param_count);
  PUT(&b, uint64_t, (uint64_t)sn->stats_count);
  put(&b, sn->arena.params, sizeof(float) * (size_t)sn->param_count);
  put(&b, sn->arena.momenta, sizeof(float) * (size_t)sn->param_count);
  put(&b, sn->arena.stats, sizeof(float) * (size_t)sn->stats_count);
  PUT(&b, int64_t, sn->weight_steps);
  PUT(&b, int64_t, sn->arch_steps);
  PUT(&b, int64_t, sn->adam_steps);
  PUT(&b, int32_t, sn->rl_baseline_set);
  PUT(&b, double, sn->rl_baseline);
  put(&b, sn->ctx->rng.s, sizeof sn->ctx->rng.s);
  PUT(&b, uint64_t, (uint64_t)host_size);
  if (host_size > 0) put(&b, host, host_size);
  pnas_status status = pni_strbuf_status(&b);
  if (status == PNAS_OK) status = pni_strbuf_status(&space_text);
  if (status == PNAS_OK) {
    PUT(&b, uint32_t, (uint32_t)crc32(0L, (const Bytef *)b.data, (uInt)b.len));
    status = pni_strbuf_status(&b);
  }
  if (status == PNAS_OK) {
    status = pni_file_write_atomic(sn->ctx, path, b.data, b.len);
  } else {
    pni_fail(sn->ctx, status, "out of memory while writing the checkpoint '%s'", path);
  }
  pni_strbuf_free(&space_text);
  pni_strbuf_free(&b);
  return status;
}

typedef struct reader {
  const unsigned char *p, *end;
  int short_read;
} reader;

static void get(reader *r, void *out, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    r->short_read = 1;
    memset(out, 0, n);
    return;
  }
  memcpy(out, r->p, n);
  r->p += n;
}
#define GET(r, type, dst) \
  do {                    \
    type get_v;           \
    get(r, &get_v, sizeof get_v); \
    dst = get_v;          \
  } while (0)

static void get_search(reader *r, pnas_search_options *o) {
  int32_t mode, form;
  GET(r, int32_t, mode);
  o->arch_mode = (pnas_arch_mode)mode;
  GET(r, float, o->arch_lr);
  GET(r, float, o->arch_beta1);
  GET(r, float, o->arch_beta2);
  GET(r, float, o->arch_eps);
  GET(r, int32_t, form);
  o->loss_form = (pnas_loss_form)form;
  GET(r, float, o->target_ms);
  GET(r, float, o->lambda);
  GET(r, float, o->mul_log_a);
  GET(r, float, o->mul_log_beta);
  GET(r, int32_t, o->skip_zero_active);
  GET(r, int32_t, o->rl_samples);
  GET(r, float, o->rl_exponent);
  GET(r, float, o->rl_baseline_decay);
  GET(r, float, o->prune_threshold);
  GET(r, int32_t, o->prune_patience);
}

static pnas_status corrupt(pnas_context *ctx, const char *path, const char *what) {
  return pni_fail(ctx, PNAS_ERR_FORMAT, "checkpoint '%s': %s", path, what);
}

/* A layer as stored: the live candidates (by space index) and their state. */
typedef struct stored_layer {
  int32_t count;
  int32_t index[PNI_SPACE_MAX_OPS], below[PNI_SPACE_MAX_OPS];
  double latency[PNI_SPACE_MAX_OPS], adam_m[PNI_SPACE_MAX_OPS], adam_v[PNI_SPACE_MAX_OPS];
  float alpha[PNI_SPACE_MAX_OPS];
} stored_layer;

static pnas_status read_layers(pnas_supernet *sn, reader *r, const char *path,
                               stored_layer *stored) {
  uint32_t layers;
  GET(r, uint32_t, layers);
  if (r->short_read || layers != (uint32_t)sn->layer_count) {
    return corrupt(sn->ctx, path, "the layer count does not match its space");
  }
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    stored_layer *st = &stored[l];
    uint32_t count;
    GET(r, uint32_t, count);
    if (r->short_read || count < 1 || count > (uint32_t)layer->count) {
      return corrupt(sn->ctx, path, "a layer's candidate count is out of range");
    }
    st->count = (int32_t)count;
    for (int32_t j = 0; j < layer->count; j++) layer->cand[j].prune_mark = 1;
    for (int32_t k = 0; k < st->count; k++) {
      GET(r, int32_t, st->index[k]);
      GET(r, int32_t, st->below[k]);
      GET(r, double, st->latency[k]);
      const int32_t last = k > 0 ? st->index[k - 1] : -1;
      if (r->short_read || st->index[k] <= last || st->index[k] >= layer->count) {
        return corrupt(sn->ctx, path, "a candidate index is out of range");
      }
      layer->cand[st->index[k]].prune_mark = 0;
    }
    get(r, st->alpha, sizeof(float) * (size_t)st->count);
    get(r, st->adam_m, sizeof(double) * (size_t)st->count);
    get(r, st->adam_v, sizeof(double) * (size_t)st->count);
    if (r->short_read) return corrupt(sn->ctx, path, "truncated layer state");
  }
  return PNAS_OK;
}

/* After compaction the survivors sit at 0..count-1 in space-index order. */
static void restore_layers(pnas_supernet *sn, const stored_layer *stored) {
  for (int32_t l = 0; l < sn->layer_count; l++) {
    pni_mixed_layer *layer = &sn->layers[l];
    const stored_layer *st = &stored[l];
    for (int32_t k = 0; k < st->count; k++) {
      layer->cand[k].below = st->below[k];
      layer->cand[k].latency_ms = st->latency[k];
      layer->alpha[k] = st->alpha[k];
      layer->adam_m[k] = st->adam_m[k];
      layer->adam_v[k] = st->adam_v[k];
    }
  }
}

pnas_status pni_checkpoint_load(pnas_context *ctx, const char *path, int32_t max_batch,
                                pnas_supernet **out, void **out_host, size_t *out_host_size) {
  char *data = NULL;
  size_t size = 0;
  pnas_status status = pni_file_read_all(ctx, path, MAX_FILE_BYTES, &data, &size);
  if (status != PNAS_OK) return status;
  pnas_space *space = NULL;
  pnas_supernet *sn = NULL;
  stored_layer *stored = NULL;
  void *host = NULL;
  reader r = {(const unsigned char *)data, (const unsigned char *)data + size, 0};
  char magic[8];
  uint32_t version = 0, bom = 0, stored_crc = 0;
  get(&r, magic, 8);
  GET(&r, uint32_t, version);
  GET(&r, uint32_t, bom);
  if (r.short_read) {
    status = corrupt(ctx, path, "truncated: shorter than the 16-byte header");
    goto done;
  }
  if (memcmp(magic, MAGIC, 8) != 0) {
    status = corrupt(ctx, path, "not a libpnas supernet checkpoint (bad magic)");
    goto done;
  }
  if (version != VERSION || bom != BOM) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT,
                      "checkpoint '%s': version %u (byte order %#x) is not supported; this "
                      "library reads version %u",
                      path, version, bom, VERSION);
    goto done;
  }
  if (size < 24) {
    status = corrupt(ctx, path, "truncated");
    goto done;
  }
  memcpy(&stored_crc, data + size - sizeof stored_crc, sizeof stored_crc);
  if ((uint32_t)crc32(0L, (const Bytef *)data, (uInt)(size - sizeof stored_crc)) != stored_crc) {
    status = corrupt(ctx, path, "checksum mismatch (the file is corrupt or truncated)");
    goto done;
  }
  r.end -= sizeof stored_crc;
  uint64_t space_len = 0;
  GET(&r, uint64_t, space_len);
  if (r.short_read || space_len > (uint64_t)(r.end - r.p)) {
    status = corrupt(ctx, path, "truncated space");
    goto done;
  }
  status = pni_space_parse_yaml(ctx, path, (const char *)r.p, (size_t)space_len, &space);
  if (status != PNAS_OK) goto done;
  r.p += space_len;
  pnas_supernet_options o;
  pnas_supernet_options_init(&o);
  GET(&r, int32_t, o.max_batch);
  GET(&r, float, o.bn_momentum);
  GET(&r, float, o.bn_eps);
  GET(&r, float, o.alpha_init_std);
  if (max_batch > 0) o.max_batch = max_batch;
  if (r.short_read || o.max_batch < 1 || o.max_batch > 65536 || !(o.bn_eps > 0.0f)) {
    status = corrupt(ctx, path, "bad supernet options");
    goto done;
  }
  status = pni_supernet_create(ctx, space, &o, &sn);
  if (status != PNAS_OK) goto done;
  GET(&r, float, sn->sgd.lr);
  GET(&r, float, sn->sgd.momentum);
  GET(&r, float, sn->sgd.weight_decay);
  GET(&r, float, sn->sgd.label_smoothing);
  GET(&r, int32_t, sn->sgd.nesterov);
  GET(&r, int32_t, sn->sgd.no_decay_on_bn);
  get_search(&r, &sn->search);
  /* The checksum only proves the file is what was written; the options must
   * still be ones pnas_supernet_set_search() would have accepted. */
  const char *bad_option = r.short_read ? NULL : pni_search_options_invalid(&sn->search);
  if (bad_option != NULL || !(sn->sgd.lr >= 0.0f) || !isfinite(sn->sgd.lr)) {
    char what[200];
    snprintf(what, sizeof what, "stored %s is out of range",
             bad_option != NULL ? bad_option : "learning rate");
    status = corrupt(ctx, path, what);
    goto done;
  }
  stored = pni_calloc(ctx, (size_t)sn->layer_count, sizeof *stored);
  if (stored == NULL) {
    status = PNAS_ERR_OUT_OF_MEMORY;
    goto done;
  }
  status = read_layers(sn, &r, path, stored);
  if (status == PNAS_OK) status = pni_supernet_remove_marked(sn, NULL);
  if (status != PNAS_OK) goto done;
  restore_layers(sn, stored);
  GET(&r, int32_t, sn->has_latency);
  GET(&r, double, sn->fixed_latency_ms);
  uint64_t params = 0, stats = 0;
  GET(&r, uint64_t, params);
  GET(&r, uint64_t, stats);
  if (r.short_read || params != (uint64_t)sn->param_count || stats != (uint64_t)sn->stats_count) {
    status = corrupt(ctx, path, "the weights do not match the space and its pruned candidates");
    goto done;
  }
  get(&r, sn->arena.params, sizeof(float) * (size_t)params);
  get(&r, sn->arena.momenta, sizeof(float) * (size_t)params);
  get(&r, sn->arena.stats, sizeof(float) * (size_t)stats);
  GET(&r, int64_t, sn->weight_steps);
  GET(&r, int64_t, sn->arch_steps);
  GET(&r, int64_t, sn->adam_steps);
  GET(&r, int32_t, sn->rl_baseline_set);
  GET(&r, double, sn->rl_baseline);
  uint64_t rng[4];
  get(&r, rng, sizeof rng);
  uint64_t host_len = 0;
  GET(&r, uint64_t, host_len);
  if (r.short_read || host_len != (uint64_t)(r.end - r.p)) {
    status = corrupt(ctx, path, "its size does not match its contents");
    goto done;
  }
  if (out_host != NULL && host_len > 0) {
    host = pni_export_alloc(ctx, (size_t)host_len);
    if (host == NULL) {
      status = PNAS_ERR_OUT_OF_MEMORY;
      goto done;
    }
    memcpy(host, r.p, (size_t)host_len);
  }
  /* Success from here on: the context's generator continues the stream. */
  memcpy(ctx->rng.s, rng, sizeof rng);
  if (out_host != NULL) *out_host = host;
  if (out_host_size != NULL) *out_host_size = (size_t)host_len;
  *out = sn;
  sn = NULL;
done:
  pni_supernet_destroy(sn);
  pni_free(ctx, stored);
  pni_space_destroy(space);
  pni_free(ctx, data);
  return status;
}
