/* SPDX-License-Identifier: MIT */
/* Allocation through the context's hooks. Private. */
#ifndef PNI_CORE_ALLOC_H
#define PNI_CORE_ALLOC_H

#include <stddef.h>

#include "pnas/pnas.h"

/* Alignment of every buffer from pni_aligned_alloc: one cache line, which is
 * also enough for any vector load the kernels use. */
#define PNI_ALIGNMENT 64

/* Readable bytes past the end of every aligned block (see pni_aligned_alloc). */
#define PNI_ALIGNED_TAIL 256

/* Each returns NULL on failure (overflow included) and records
 * PNAS_ERR_OUT_OF_MEMORY with the size as the context's last error. */
void *pni_alloc(pnas_context *ctx, size_t size);
void *pni_calloc(pnas_context *ctx, size_t count, size_t size);
void pni_free(pnas_context *ctx, void *ptr);

/* 64-byte aligned, released with pni_aligned_free (not pni_free). */
void *pni_aligned_alloc(pnas_context *ctx, size_t size);
void pni_aligned_free(pnas_context *ctx, void *ptr);

/* Memory handed to the caller: released by pnas_free(ptr), which needs no
 * context because the block records its allocator. */
void *pni_export_alloc(pnas_context *ctx, size_t size);

/* Copies a string into an exported block. */
char *pni_export_strdup(pnas_context *ctx, const char *text);

/* a * b, or 0 with *overflow set when it does not fit in size_t. */
size_t pni_mul_size(size_t a, size_t b, int *overflow);

#endif /* PNI_CORE_ALLOC_H */
