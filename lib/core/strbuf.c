/* SPDX-License-Identifier: MIT */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void pni_strbuf_init(pni_strbuf *b, pnas_context *ctx) {
  memset(b, 0, sizeof *b);
  b->ctx = ctx;
}

static int reserve(pni_strbuf *b, size_t extra) {
  if (b->failed) return 0;
  if (b->len + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *data = pni_alloc(b->ctx, cap);
  if (data == NULL) {
    b->failed = 1;
    return 0;
  }
  if (b->data != NULL) memcpy(data, b->data, b->len + 1);
  pni_free(b->ctx, b->data);
  b->data = data;
  b->cap = cap;
  return 1;
}

void pni_strbuf_append(pni_strbuf *b, const char *text, size_t len) {
  if (!reserve(b, len)) return;
  memcpy(b->data + b->len, text, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void pni_strbuf_printf(pni_strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

pnas_status pni_strbuf_status(const pni_strbuf *b) {
  return b->failed ? PNAS_ERR_OUT_OF_MEMORY : PNAS_OK;
}

void pni_strbuf_free(pni_strbuf *b) {
  pni_free(b->ctx, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
