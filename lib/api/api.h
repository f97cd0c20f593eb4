/* SPDX-License-Identifier: MIT */
/* Checks shared by the exported functions. Private. */
#ifndef PNI_API_API_H
#define PNI_API_API_H

#include "core/context.h"

/* 1 if ctx points at a live context. A NULL, destroyed or foreign pointer
 * gives 0; the caller then returns PNAS_ERR_INVALID_ARGUMENT or
 * PNAS_ERR_WRONG_HANDLE without touching it further. */
static inline int pni_context_is_live(const pnas_context *ctx) {
  return ctx != NULL && ctx->tag == PNI_TAG_CONTEXT;
}

/* Status for a context argument that failed pni_context_is_live(). */
static inline pnas_status pni_context_check_status(const pnas_context *ctx) {
  return ctx == NULL ? PNAS_ERR_INVALID_ARGUMENT : PNAS_ERR_WRONG_HANDLE;
}

#endif /* PNI_API_API_H */
