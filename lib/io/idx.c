/* SPDX-License-Identifier: MIT */
/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip compressed.
 *
 * Layout: a 4-byte magic 00 00 TT DD (TT: element type, DD: number of
 * dimensions), DD big-endian uint32 sizes, then the elements in row-major
 * order. Only unsigned bytes (TT = 0x08) are accepted: images are N x H x W
 * or N x H x W x C, labels are N.
 *
 * gzip goes through inflate() rather than zlib's gz* functions so that
 * zlib's memory comes from the context's allocator and so that bytes after
 * the end of the compressed stream are reported instead of ignored. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/alloc.h"
#include "io/dataset.h"

#define IDX_TYPE_UBYTE 0x08
#define IDX_MAX_DIMS 4
#define GZIP_CHUNK_BYTES ((size_t)1 << 16)
/* Deflate cannot expand data by more than about 1032:1, so a gzip file
 * cannot hold more than that times its own size. A header announcing more
 * comes from a truncated or hostile file and is refused before allocating. */
#define DEFLATE_MAX_RATIO 1032u

typedef enum idx_kind { IDX_IMAGES, IDX_LABELS } idx_kind;

typedef struct idx_file {
  pnas_context *ctx;
  const char *path;
  FILE *f;
  uint64_t file_bytes;
  int gzip;
  z_stream z;
  int z_ready;         /* inflateInit2 succeeded: inflateEnd is due */
  int z_member_ended;  /* inflate reached the end of a gzip member */
  int input_exhausted; /* fread reached the end of the file */
  unsigned char *in;   /* compressed input, GZIP_CHUNK_BYTES */
  int ndims;
  uint64_t dims[IDX_MAX_DIMS];
  uint64_t payload_bytes;
  char shape[96]; /* "60000 x 28 x 28", for messages */
} idx_file;

static voidpf idx_zalloc(voidpf opaque, uInt items, uInt size) {
  return pni_calloc(opaque, items, size);
}

static void idx_zfree(voidpf opaque, voidpf ptr) {
  pni_free(opaque, ptr);
}

static uint32_t read_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void idx_init(idx_file *s, pnas_context *ctx, const char *path) {
  memset(s, 0, sizeof *s);
  s->ctx = ctx;
  s->path = path;
}

static void idx_close(idx_file *s) {
  if (s->z_ready) inflateEnd(&s->z);
  pni_free(s->ctx, s->in);
  if (s->f != NULL) fclose(s->f);
  s->z_ready = 0;
  s->in = NULL;
  s->f = NULL;
}

static pnas_status idx_read_failed(const idx_file *s) {
  return pni_fail(s->ctx, PNAS_ERR_IO, "reading '%s' failed: %s", s->path, strerror(errno));
}

static pnas_status idx_open(idx_file *s) {
  s->f = fopen(s->path, "rb");
  if (s->f == NULL) {
    return pni_fail(s->ctx, PNAS_ERR_IO, "cannot open '%s': %s", s->path, strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
    return pni_fail(s->ctx, PNAS_ERR_IO, "'%s' is not a regular file", s->path);
  }
  s->file_bytes = (uint64_t)st.st_size;
  unsigned char magic[2];
  const size_t got = fread(magic, 1, sizeof magic, s->f);
  if (ferror(s->f)) return idx_read_failed(s);
  s->gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  rewind(s->f);
  if (!s->gzip) return PNAS_OK;
  s->in = pni_alloc(s->ctx, GZIP_CHUNK_BYTES);
  if (s->in == NULL) return PNAS_ERR_OUT_OF_MEMORY;
  s->z.zalloc = idx_zalloc;
  s->z.zfree = idx_zfree;
  s->z.opaque = s->ctx;
  const int rc = inflateInit2(&s->z, 15 + 16);          /* 15-bit window, gzip wrapper only */
  if (rc == Z_MEM_ERROR) return PNAS_ERR_OUT_OF_MEMORY; /* pni_calloc recorded it */
  if (rc != Z_OK) {
    return pni_fail(s->ctx, PNAS_ERR_INTERNAL, "'%s': zlib's inflateInit2 failed (%d)", s->path,
                    rc);
  }
  s->z_ready = 1;
  return PNAS_OK;
}

/* Keeps unread input at the front of the buffer and fills the rest. */
static pnas_status idx_refill(idx_file *s) {
  if (s->input_exhausted) return PNAS_OK;
  const size_t keep = s->z.avail_in;
  if (keep > 0 && s->z.next_in != s->in) memmove(s->in, s->z.next_in, keep);
  const size_t room = GZIP_CHUNK_BYTES - keep;
  const size_t got = fread(s->in + keep, 1, room, s->f);
  if (got < room) {
    if (ferror(s->f)) return idx_read_failed(s);
    s->input_exhausted = 1;
  }
  s->z.next_in = s->in;
  s->z.avail_in = (uInt)(keep + got);
  return PNAS_OK;
}

/* Inflates up to n bytes. Stops short at the end of the input: *out_got
 * tells how far it got, and z_member_ended whether the stream ended cleanly. */
static pnas_status idx_read_gzip(idx_file *s, unsigned char *dst, size_t n, size_t *out_got) {
  pnas_status status = PNAS_OK;
  size_t got = 0;
  while (got < n) {
    if (s->z_member_ended) {
      /* gzip allows members back to back; anything else is garbage. */
      if (s->z.avail_in < 2 && (status = idx_refill(s)) != PNAS_OK) break;
      if (s->z.avail_in == 0) break;
      if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b) {
        status = pni_fail(s->ctx, PNAS_ERR_FORMAT,
                          "'%s': trailing garbage after the end of the gzip stream", s->path);
        break;
      }
      inflateReset(&s->z);
      s->z_member_ended = 0;
    }
    if (s->z.avail_in == 0) {
      if ((status = idx_refill(s)) != PNAS_OK) break;
      if (s->z.avail_in == 0) break; /* the file ends inside the stream */
    }
    const size_t want = n - got < UINT_MAX ? n - got : UINT_MAX;
    s->z.next_out = dst + got;
    s->z.avail_out = (uInt)want;
    const int rc = inflate(&s->z, Z_NO_FLUSH);
    got += want - s->z.avail_out;
    if (rc == Z_STREAM_END) {
      s->z_member_ended = 1;
    } else if (rc == Z_MEM_ERROR) {
      status = PNAS_ERR_OUT_OF_MEMORY;
      break;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      status = pni_fail(s->ctx, PNAS_ERR_FORMAT, "'%s': corrupt gzip data (%s)", s->path,
                        s->z.msg != NULL ? s->z.msg : "zlib error");
      break;
    }
  }
  *out_got = got;
  return status;
}

static pnas_status idx_read(idx_file *s, unsigned char *dst, size_t n, size_t *out_got) {
  if (s->gzip) return idx_read_gzip(s, dst, n, out_got);
  *out_got = fread(dst, 1, n, s->f);
  if (*out_got < n && ferror(s->f)) return idx_read_failed(s);
  return PNAS_OK;
}

static pnas_status idx_check_dims(idx_file *s, const char *what) {
  static const char *const names[IDX_MAX_DIMS] = {"count", "height", "width", "channels"};
  static const uint64_t limits[IDX_MAX_DIMS] = {UINT32_MAX, PNI_DATASET_MAX_SIDE,
                                                PNI_DATASET_MAX_SIDE, PNI_DATASET_MAX_CHANNELS};
  for (int d = 0; d < s->ndims; d++) {
    if (s->dims[d] == 0) {
      return pni_fail(s->ctx, PNAS_ERR_FORMAT, "'%s': the IDX header gives %s %s of 0 (%s)",
                      s->path, what, names[d], s->shape);
    }
    if (s->dims[d] > limits[d]) {
      return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                      "'%s': the IDX header gives %s %s %llu (%s); the limit is %llu", s->path,
                      what, names[d], (unsigned long long)s->dims[d], s->shape,
                      (unsigned long long)limits[d]);
    }
  }
  /* Within the limits the image size fits easily; the count times it may not. */
  uint64_t image_bytes = 1;
  for (int d = 1; d < s->ndims; d++) image_bytes *= s->dims[d];
  if (s->dims[0] > (uint64_t)SIZE_MAX / image_bytes) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT, "'%s': the IDX header's size (%s) is too large",
                    s->path, s->shape);
  }
  s->payload_bytes = s->dims[0] * image_bytes;
  return PNAS_OK;
}

/* Compares the announced size with the file's before anything is allocated:
 * exactly for a plain file, as an upper bound for a gzip one. */
static pnas_status idx_check_file_size(const idx_file *s) {
  const uint64_t header_bytes = 4 + 4 * (uint64_t)s->ndims;
  const unsigned long long data = s->payload_bytes;
  if (s->gzip) {
    if (s->payload_bytes / DEFLATE_MAX_RATIO > s->file_bytes) {
      return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                      "'%s': truncated or corrupt: the header (%s) announces %llu data bytes, "
                      "more than a gzip file of %llu bytes can hold",
                      s->path, s->shape, data, (unsigned long long)s->file_bytes);
    }
    return PNAS_OK;
  }
  const unsigned long long found = s->file_bytes > header_bytes ? s->file_bytes - header_bytes : 0;
  if (found < data) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': truncated: the header (%s) announces %llu data bytes but only %llu "
                    "follow",
                    s->path, s->shape, data, found);
  }
  if (found > data) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': %llu bytes of trailing garbage after the %llu data bytes that the "
                    "header (%s) announces",
                    s->path, found - data, data, s->shape);
  }
  return PNAS_OK;
}

static pnas_status idx_read_header(idx_file *s, idx_kind kind) {
  const char *what = kind == IDX_IMAGES ? "image" : "label";
  unsigned char magic[4];
  size_t got = 0;
  pnas_status status = idx_read(s, magic, sizeof magic, &got);
  if (status != PNAS_OK) return status;
  if (got < sizeof magic) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT, "'%s': truncated IDX header (%zu bytes)", s->path,
                    got);
  }
  const unsigned m = (unsigned)read_be32(magic);
  if (magic[0] != 0 || magic[1] != 0) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': not an IDX %s file: wrong magic 0x%08x (expected %s)", s->path, what, m,
                    kind == IDX_IMAGES ? "0x00000803 or 0x00000804" : "0x00000801");
  }
  if (magic[2] != IDX_TYPE_UBYTE) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': unsupported IDX element type 0x%02x (magic 0x%08x); only unsigned "
                    "bytes (0x08) are supported",
                    s->path, magic[2], m);
  }
  s->ndims = magic[3];
  const int dims_ok = kind == IDX_IMAGES ? s->ndims == 3 || s->ndims == 4 : s->ndims == 1;
  if (!dims_ok) {
    return pni_fail(
        s->ctx, PNAS_ERR_FORMAT, "'%s': wrong magic 0x%08x: an IDX %s file has %s, this one has %d",
        s->path, m, what,
        kind == IDX_IMAGES ? "3 or 4 dimensions (N x H x W [x C])" : "1 dimension (N)", s->ndims);
  }
  unsigned char raw[4 * IDX_MAX_DIMS];
  const size_t dims_bytes = 4 * (size_t)s->ndims;
  status = idx_read(s, raw, dims_bytes, &got);
  if (status != PNAS_OK) return status;
  if (got < dims_bytes) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT, "'%s': truncated IDX header (%zu bytes)", s->path,
                    sizeof magic + got);
  }
  size_t len = 0;
  for (int d = 0; d < s->ndims; d++) {
    s->dims[d] = read_be32(raw + 4 * d);
    len += (size_t)snprintf(s->shape + len, sizeof s->shape - len, "%s%llu", d ? " x " : "",
                            (unsigned long long)s->dims[d]);
  }
  status = idx_check_dims(s, what);
  if (status != PNAS_OK) return status;
  return idx_check_file_size(s);
}

/* Reads exactly the announced data and makes sure nothing follows it. */
static pnas_status idx_read_payload(idx_file *s, unsigned char *dst) {
  size_t got = 0;
  pnas_status status = idx_read(s, dst, (size_t)s->payload_bytes, &got);
  if (status != PNAS_OK) return status;
  if (got < s->payload_bytes) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': truncated: the header (%s) announces %llu data bytes but only %zu "
                    "follow",
                    s->path, s->shape, (unsigned long long)s->payload_bytes, got);
  }
  unsigned char extra;
  status = idx_read(s, &extra, 1, &got);
  if (status != PNAS_OK) return status;
  if (got > 0) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': trailing garbage after the %llu data bytes that the header (%s) "
                    "announces",
                    s->path, (unsigned long long)s->payload_bytes, s->shape);
  }
  if (s->gzip && !s->z_member_ended) {
    return pni_fail(s->ctx, PNAS_ERR_FORMAT,
                    "'%s': truncated gzip stream: the data is complete but the end of the "
                    "stream and its checksum are missing",
                    s->path);
  }
  return PNAS_OK;
}

pnas_status pni_dataset_load_idx(pnas_context *ctx, const char *images_path,
                                 const char *labels_path, pnas_dataset **out) {
  idx_file images, labels;
  idx_init(&images, ctx, images_path);
  idx_init(&labels, ctx, labels_path);
  pnas_dataset *ds = NULL;
  pnas_status status = idx_open(&images);
  if (status != PNAS_OK) goto done;
  if ((status = idx_read_header(&images, IDX_IMAGES)) != PNAS_OK) goto done;
  if ((status = idx_open(&labels)) != PNAS_OK) goto done;
  if ((status = idx_read_header(&labels, IDX_LABELS)) != PNAS_OK) goto done;
  if (images.dims[0] != labels.dims[0]) {
    status = pni_fail(ctx, PNAS_ERR_FORMAT, "'%s' holds %llu images but '%s' holds %llu labels",
                      images_path, (unsigned long long)images.dims[0], labels_path,
                      (unsigned long long)labels.dims[0]);
    goto done;
  }
  const int32_t channels = images.ndims == 4 ? (int32_t)images.dims[3] : 1;
  status = pni_dataset_new(ctx, (int64_t)images.dims[0], (int32_t)images.dims[1],
                           (int32_t)images.dims[2], channels, 0, &ds);
  if (status != PNAS_OK) goto done;
  if ((status = idx_read_payload(&images, ds->images)) != PNAS_OK) goto done;
  /* The label bytes land in the front of the int32 array and are widened
   * from the back, so that no second buffer is needed: writing label i
   * covers bytes 4i..4i+3, past every byte 0..i-1 still to be read. */
  unsigned char *bytes = (unsigned char *)ds->labels;
  if ((status = idx_read_payload(&labels, bytes)) != PNAS_OK) goto done;
  int32_t largest = 0;
  for (int64_t i = ds->count - 1; i >= 0; i--) {
    const int32_t label = bytes[i];
    ds->labels[i] = label;
    if (label > largest) largest = label;
  }
  ds->classes = largest + 1;
done:
  idx_close(&images);
  idx_close(&labels);
  if (status != PNAS_OK) {
    pni_dataset_free(ds);
    return status;
  }
  *out = ds;
  return PNAS_OK;
}
