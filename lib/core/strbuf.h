/* SPDX-License-Identifier: MIT */
/* A growable text buffer for writers (YAML, JSON, descriptions). Private. */
#ifndef PNI_CORE_STRBUF_H
#define PNI_CORE_STRBUF_H

#include <stddef.h>

#include "pnas/pnas.h"

typedef struct pni_strbuf {
  pnas_context *ctx;
  char *data; /* NUL-terminated while ok */
  size_t len, cap;
  int failed; /* an allocation failed; later appends do nothing */
} pni_strbuf;

void pni_strbuf_init(pni_strbuf *b, pnas_context *ctx);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void pni_strbuf_printf(pni_strbuf *b, const char *fmt, ...);
void pni_strbuf_append(pni_strbuf *b, const char *text, size_t len);
/* PNAS_OK, or PNAS_ERR_OUT_OF_MEMORY if any append failed. */
pnas_status pni_strbuf_status(const pni_strbuf *b);
void pni_strbuf_free(pni_strbuf *b);

#endif /* PNI_CORE_STRBUF_H */
