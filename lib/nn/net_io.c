/* SPDX-License-Identifier: MIT */
/* The network file: a versioned little-endian binary with a CRC-32 over
 * everything before it, written atomically.
 *
 *   "PNASNET1"  magic (8 bytes)
 *   u32 version (1), u32 byte-order mark 0x01020304
 *   architecture: i32 x 9 (input h, w, c, classes, stem channels, kernel,
 *     stride, head channels, block count), f32 dropout, then per block
 *     i32 x 5 (kind, out channels, kernel, expand, stride)
 *   u64 parameter count, u64 statistics count
 *   f32 parameters, f32 running statistics, f32 momenta
 *   f32 lr, momentum, weight decay, label smoothing; i32 nesterov,
 *     no-decay-on-BN; i64 steps
 *   u32 CRC-32 (zlib) of all bytes above
 */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "nn/net.h"

#define NET_MAGIC "PNASNET1"
#define NET_VERSION 1u
#define BYTE_ORDER_MARK 0x01020304u
/* Refuse absurd files before allocating for them. */
#define NET_MAX_FILE_BYTES ((size_t)4 << 30)

static void put(pni_strbuf *b, const void *p, size_t n) { pni_strbuf_append(b, p, n); }
static void put_i32(pni_strbuf *b, int32_t v) { put(b, &v, sizeof v); }
static void put_u32(pni_strbuf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(pni_strbuf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_f32(pni_strbuf *b, float v) { put(b, &v, sizeof v); }

pnas_status pni_net_save(const pnas_net *net, const char *path) {
  pni_strbuf b;
  pni_strbuf_init(&b, net->ctx);
  put(&b, NET_MAGIC, 8);
  put_u32(&b, NET_VERSION);
  put_u32(&b, BYTE_ORDER_MARK);
  const pnas_arch_info *info = &net->arch->info;
  const int32_t header[9] = {info->input_height, info->input_width,   info->input_channels,
                             info->classes,      info->stem_channels, info->stem_kernel,
                             info->stem_stride,  info->head_channels, info->blocks};
  for (int i = 0; i < 9; i++) put_i32(&b, header[i]);
  put_f32(&b, info->dropout);
  for (int32_t i = 0; i < info->blocks; i++) {
    const pni_block *blk = &net->arch->blocks[i];
    put_i32(&b, (int32_t)blk->kind);
    put_i32(&b, blk->out_channels);
    put_i32(&b, blk->kernel);
    put_i32(&b, blk->expand);
    put_i32(&b, blk->stride);
  }
  put_u64(&b, (uint64_t)net->param_count);
  put_u64(&b, (uint64_t)net->stats_count);
  put(&b, net->arena.params, sizeof(float) * (size_t)net->param_count);
  put(&b, net->arena.stats, sizeof(float) * (size_t)net->stats_count);
  put(&b, net->arena.momenta, sizeof(float) * (size_t)net->param_count);
  put_f32(&b, net->sgd.lr);
  put_f32(&b, net->sgd.momentum);
  put_f32(&b, net->sgd.weight_decay);
  put_f32(&b, net->sgd.label_smoothing);
  put_i32(&b, net->sgd.nesterov);
  put_i32(&b, net->sgd.no_decay_on_bn);
  put_u64(&b, (uint64_t)net->steps);
  pnas_status status = pni_strbuf_status(&b);
  if (status == PNAS_OK) {
    const uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)b.data, (uInt)b.len);
    put_u32(&b, crc);
    status = pni_strbuf_status(&b);
  }
  if (status == PNAS_OK) status = pni_file_write_atomic(net->ctx, path, b.data, b.len);
  else pni_fail(net->ctx, status, "out of memory while serialising the network for '%s'", path);
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
static int32_t get_i32(reader *r) {
  int32_t v;
  get(r, &v, sizeof v);
  return v;
}
static uint32_t get_u32(reader *r) {
  uint32_t v;
  get(r, &v, sizeof v);
  return v;
}
static uint64_t get_u64(reader *r) {
  uint64_t v;
  get(r, &v, sizeof v);
  return v;
}
static float get_f32(reader *r) {
  float v;
  get(r, &v, sizeof v);
  return v;
}

static pnas_status read_arch(pnas_context *ctx, reader *r, const char *path, pnas_arch **out) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  info.input_height = get_i32(r);
  info.input_width = get_i32(r);
  info.input_channels = get_i32(r);
  info.classes = get_i32(r);
  info.stem_channels = get_i32(r);
  info.stem_kernel = get_i32(r);
  info.stem_stride = get_i32(r);
  info.head_channels = get_i32(r);
  const int32_t blocks = get_i32(r);
  info.dropout = get_f32(r);
  if (r->short_read || blocks < 0 || blocks > 10000) {
    return pni_fail(ctx, PNAS_ERR_FORMAT, "'%s': truncated or corrupt architecture header", path);
  }
  pnas_arch *arch = NULL;
  pnas_status status = pni_arch_create(ctx, &info, &arch);
  for (int32_t i = 0; status == PNAS_OK && i < blocks; i++) {
    pnas_block_info b;
    pnas_block_info_init(&b);
    b.kind = (pnas_block_kind)get_i32(r);
    b.out_channels = get_i32(r);
    b.kernel = get_i32(r);
    b.expand = get_i32(r);
    b.stride = get_i32(r);
    status = r->short_read ? PNAS_ERR_FORMAT : pni_arch_append(arch, &b);
  }
  if (status != PNAS_OK) {
    pni_arch_destroy(arch);
    /* The cause is in the last-error buffer that pni_fail rewrites: copy it. */
    char cause[PNI_ERROR_CAPACITY];
    snprintf(cause, sizeof cause, "%s", r->short_read ? "truncated" : ctx->last_error);
    return pni_fail(ctx, PNAS_ERR_FORMAT, "'%s': invalid architecture: %s", path, cause);
  }
  *out = arch;
  return PNAS_OK;
}

pnas_status pni_net_load(pnas_context *ctx, const char *path, const pnas_net_options *options,
                         pnas_net **out) {
  char *data = NULL;
  size_t size = 0;
  pnas_status status = pni_file_read_all(ctx, path, NET_MAX_FILE_BYTES, &data, &size);
  if (status != PNAS_OK) return status;
  pnas_arch *arch = NULL;
  pnas_net *net = NULL;
  reader r = {(const unsigned char *)data, (const unsigned char *)data + size, 0};
  char magic[8];
  get(&r, magic, 8);
  if (r.short_read || memcmp(magic, NET_MAGIC, 8) != 0) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT, "'%s' is not a libpnas network file (bad magic)", path);
    goto done;
  }
  const uint32_t version = get_u32(&r), bom = get_u32(&r);
  if (version != NET_VERSION || bom != BYTE_ORDER_MARK) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT,
                      "'%s': unsupported network file version %u (byte order mark %#x); "
                      "this library reads version %u",
                      path, version, bom, NET_VERSION);
    goto done;
  }
  uint32_t stored_crc = 0;
  if (size >= 32) memcpy(&stored_crc, data + size - sizeof stored_crc, sizeof stored_crc);
  if (size < 32 ||
      (uint32_t)crc32(0L, (const Bytef *)data, (uInt)(size - sizeof stored_crc)) != stored_crc) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT, "'%s': checksum mismatch (file corrupt or truncated)",
                      path);
    goto done;
  }
  r.end -= sizeof stored_crc;
  status = read_arch(ctx, &r, path, &arch);
  if (status != PNAS_OK) goto done;
  const uint64_t params = get_u64(&r), stats = get_u64(&r);
  /* Checked before the network is built: a short file must not make the
   * library allocate and initialise a huge network only to refuse it. */
  const uint64_t left = (uint64_t)(r.end - r.p), tail = 4 * 4 + 2 * 4 + 8;
  if (r.short_read || params != (uint64_t)arch->info.params || stats > left / 4 ||
      params > (left - 4 * stats) / 8 || left != 8 * params + 4 * stats + tail) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT,
                      "'%s': %llu parameters and %llu statistics stored in %llu bytes, the "
                      "architecture has %lld parameters",
                      path, (unsigned long long)params, (unsigned long long)stats,
                      (unsigned long long)left, (long long)arch->info.params);
    goto done;
  }
  status = pni_net_create(ctx, arch, options, &net);
  if (status != PNAS_OK) goto done;
  if (params != (uint64_t)net->param_count || stats != (uint64_t)net->stats_count) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT,
                      "'%s': %llu parameters and %llu statistics stored, the architecture has "
                      "%lld and %lld",
                      path, (unsigned long long)params, (unsigned long long)stats,
                      (long long)net->param_count, (long long)net->stats_count);
    goto done;
  }
  get(&r, net->arena.params, sizeof(float) * (size_t)params);
  get(&r, net->arena.stats, sizeof(float) * (size_t)stats);
  get(&r, net->arena.momenta, sizeof(float) * (size_t)params);
  net->sgd.lr = get_f32(&r);
  net->sgd.momentum = get_f32(&r);
  net->sgd.weight_decay = get_f32(&r);
  net->sgd.label_smoothing = get_f32(&r);
  net->sgd.nesterov = get_i32(&r);
  net->sgd.no_decay_on_bn = get_i32(&r);
  net->steps = (int64_t)get_u64(&r);
  if (r.short_read || r.p != r.end) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT, "'%s': size does not match its contents", path);
    goto done;
  }
  *out = net;
  net = NULL;
done:
  pni_net_destroy(net);
  pni_arch_destroy(arch);
  pni_free(ctx, data);
  return status;
}
