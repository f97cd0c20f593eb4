/* SPDX-License-Identifier: MIT */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"

/* Exported blocks start with this header so that pnas_free() can find the
 * allocator without a context. Its size keeps the payload 16-byte aligned. */
typedef struct export_header {
  void (*free_fn)(void *user, void *ptr);
  void *user;
} export_header;

#define EXPORT_HEADER_BYTES 16
_Static_assert(sizeof(export_header) <= EXPORT_HEADER_BYTES, "export header too large");

static void *libc_alloc(void *user, size_t size) {
  (void)user;
  return malloc(size);
}

static void *libc_aligned_alloc(void *user, size_t alignment, size_t size) {
  (void)user;
  void *ptr = NULL;
  return posix_memalign(&ptr, alignment, size) == 0 ? ptr : NULL;
}

static void libc_free(void *user, void *ptr) {
  (void)user;
  free(ptr);
}

void pni_allocator_resolve(pnas_allocator *out, const pnas_allocator *requested) {
  if (requested->alloc == NULL) {
    out->alloc = libc_alloc;
    out->aligned_alloc = libc_aligned_alloc;
    out->free = libc_free;
    out->user = NULL;
    return;
  }
  *out = *requested;
}

size_t pni_mul_size(size_t a, size_t b, int *overflow) {
  if (a != 0 && b > SIZE_MAX / a) {
    *overflow = 1;
    return 0;
  }
  return a * b;
}

static void *out_of_memory(pnas_context *ctx, size_t size) {
  pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY, "out of memory: allocation of %zu bytes failed", size);
  return NULL;
}

void *pni_alloc(pnas_context *ctx, size_t size) {
  if (size == 0) size = 1;
  void *ptr = ctx->allocator.alloc(ctx->allocator.user, size);
  return ptr != NULL ? ptr : out_of_memory(ctx, size);
}

void *pni_calloc(pnas_context *ctx, size_t count, size_t size) {
  int overflow = 0;
  const size_t bytes = pni_mul_size(count, size, &overflow);
  if (overflow) return out_of_memory(ctx, SIZE_MAX);
  void *ptr = pni_alloc(ctx, bytes);
  if (ptr != NULL) memset(ptr, 0, bytes == 0 ? 1 : bytes);
  return ptr;
}

void pni_free(pnas_context *ctx, void *ptr) {
  if (ptr != NULL) ctx->allocator.free(ctx->allocator.user, ptr);
}

/* Without an aligned_alloc hook, a block from alloc is over-allocated and the
 * original pointer is stored just below the aligned address. */
void *pni_aligned_alloc(pnas_context *ctx, size_t size) {
  if (size == 0) size = 1;
  /* Round up so that vector loops may read whole cache lines at the end,
   * and add a tail: BLIS 0.9's small-matrix path reads up to a few dozen
   * floats past the end of its operands (flame/blis#635), and every GEMM
   * operand in libpnas is a buffer from here. */
  if (size > SIZE_MAX - PNI_ALIGNMENT - PNI_ALIGNED_TAIL) return out_of_memory(ctx, SIZE_MAX);
  size = (size + PNI_ALIGNED_TAIL + PNI_ALIGNMENT - 1) & ~(size_t)(PNI_ALIGNMENT - 1);
  if (ctx->allocator.aligned_alloc != NULL) {
    void *ptr = ctx->allocator.aligned_alloc(ctx->allocator.user, PNI_ALIGNMENT, size);
    return ptr != NULL ? ptr : out_of_memory(ctx, size);
  }
  const size_t extra = PNI_ALIGNMENT + sizeof(void *);
  if (size > SIZE_MAX - extra) return out_of_memory(ctx, SIZE_MAX);
  unsigned char *raw = ctx->allocator.alloc(ctx->allocator.user, size + extra);
  if (raw == NULL) return out_of_memory(ctx, size + extra);
  uintptr_t aligned = ((uintptr_t)raw + extra) & ~(uintptr_t)(PNI_ALIGNMENT - 1);
  memcpy((void *)(aligned - sizeof(void *)), &raw, sizeof raw);
  return (void *)aligned;
}

void pni_aligned_free(pnas_context *ctx, void *ptr) {
  if (ptr == NULL) return;
  if (ctx->allocator.aligned_alloc != NULL) {
    ctx->allocator.free(ctx->allocator.user, ptr);
    return;
  }
  void *raw;
  memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof raw);
  ctx->allocator.free(ctx->allocator.user, raw);
}

void *pni_export_alloc(pnas_context *ctx, size_t size) {
  if (size > SIZE_MAX - EXPORT_HEADER_BYTES) return out_of_memory(ctx, SIZE_MAX);
  unsigned char *raw = pni_alloc(ctx, size + EXPORT_HEADER_BYTES);
  if (raw == NULL) return NULL;
  export_header header = {ctx->allocator.free, ctx->allocator.user};
  memcpy(raw, &header, sizeof header);
  return raw + EXPORT_HEADER_BYTES;
}

char *pni_export_strdup(pnas_context *ctx, const char *text) {
  const size_t len = strlen(text);
  char *copy = pni_export_alloc(ctx, len + 1);
  if (copy != NULL) memcpy(copy, text, len + 1);
  return copy;
}

PNAS_API void pnas_free(void *ptr) {
  if (ptr == NULL) return;
  unsigned char *raw = (unsigned char *)ptr - EXPORT_HEADER_BYTES;
  export_header header;
  memcpy(&header, raw, sizeof header);
  header.free_fn(header.user, raw);
}
