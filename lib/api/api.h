/* SPDX-License-Identifier: MIT */
/* Checks shared by the exported functions. Private. */
#ifndef PNI_API_API_H
#define PNI_API_API_H

#include <string.h>

#include "core/context.h"

/* 1 if ctx points at a live context. A NULL, destroyed or foreign pointer
 * gives 0; the caller then returns PNAS_ERR_INVALID_ARGUMENT or
 * PNAS_ERR_WRONG_HANDLE without touching it further. */
static inline int pni_context_is_live(const pnas_context *ctx) {
  return ctx != NULL && ctx->tag == PNI_TAG_CONTEXT;
}

/* Status for a handle argument that failed its liveness check: NULL is an
 * invalid argument, anything else a wrong handle. When the pointer is a live
 * object of another kind (every object starts with its tag and its
 * context), that object's context records a message naming the function,
 * the kind passed and the kind expected; otherwise there is no context that
 * can safely hold one. */
pnas_status pni_handle_status(const void *handle, const char *function, const char *expected);

/* Status for a context argument that failed pni_context_is_live(). */
#define pni_context_check_status(ctx) pni_handle_status((ctx), __func__, "pnas_context")

/* Option and info structs grow at their end; the caller's struct_size says
 * which version it was compiled with. These three copies are the whole
 * protocol. */

/* Ours -> the caller's struct of struct_size bytes: what both know, zeros
 * for members only the caller knows (a newer header), struct_size kept. */
static inline void pni_struct_export(void *dst, const void *src, size_t ours, size_t struct_size) {
  memcpy(dst, src, struct_size < ours ? struct_size : ours);
  if (struct_size > ours) memset((unsigned char *)dst + ours, 0, struct_size - ours);
  memcpy(dst, &struct_size, sizeof struct_size);
}

/* The caller's struct of struct_size bytes -> a zeroed one of ours. */
static inline void pni_struct_import(void *dst, const void *src, size_t ours, size_t struct_size) {
  memset(dst, 0, ours);
  memcpy(dst, src, struct_size < ours ? struct_size : ours);
}

/* The caller's struct (its own struct_size first) over ours, which holds the
 * defaults: members the caller does not know keep their defaults. */
static inline void pni_struct_import_over(void *dst, size_t ours, const void *src) {
  size_t n;
  memcpy(&n, src, sizeof n);
  memcpy(dst, src, n < ours ? n : ours);
  memcpy(dst, &ours, sizeof ours);
}

#endif /* PNI_API_API_H */
