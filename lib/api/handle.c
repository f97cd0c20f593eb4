/* SPDX-License-Identifier: MIT */
/* Diagnosing a handle of the wrong kind. */
#include <stdint.h>
#include <string.h>

#include "api/api.h"

/* The start that every object but the context shares. */
typedef struct object_head {
  uint32_t tag;
  pnas_context *ctx;
} object_head;

static const char *object_kind(uint32_t tag) {
  switch (tag) {
    case PNI_TAG_ARCH:
      return "pnas_arch";
    case PNI_TAG_NET:
      return "pnas_net";
    case PNI_TAG_DATASET:
      return "pnas_dataset";
    case PNI_TAG_BATCHER:
      return "pnas_batcher";
    case PNI_TAG_SPACE:
      return "pnas_space";
    case PNI_TAG_SUPERNET:
      return "pnas_supernet";
    case PNI_TAG_LATENCY:
      return "pnas_latency_model";
    default:
      return NULL;
  }
}

pnas_status pni_handle_status(const void *handle, const char *function, const char *expected) {
  if (handle == NULL) return PNAS_ERR_INVALID_ARGUMENT;
  uint32_t tag;
  memcpy(&tag, handle, sizeof tag);
  const char *kind = object_kind(tag);
  if (kind == NULL) return PNAS_ERR_WRONG_HANDLE; /* destroyed, or not ours */
  const object_head *head = handle;
  if (!pni_context_is_live(head->ctx)) return PNAS_ERR_WRONG_HANDLE;
  return pni_fail(head->ctx, PNAS_ERR_WRONG_HANDLE, "%s: got a %s where a %s was expected",
                  function, kind, expected);
}
