/* SPDX-License-Identifier: MIT */
/* Last-error messages and the log callback. The library never writes to
 * stdout or stderr: everything goes through here. A message is one line of
 * UTF-8 (the log callback's promise), whatever user text it quotes. */
#include <stdio.h>
#include <string.h>

#include "core/context.h"

/* Length of the valid UTF-8 character at p (1 to 4), or 0 when the bytes
 * there are not one (a stray continuation byte, an overlong or cut
 * sequence, a surrogate, a value past U+10FFFF). */
static size_t utf8_char_len(const unsigned char *p) {
  const unsigned c = p[0];
  const size_t n = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
  if (n <= 1) return n;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
  }
  if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
      (c == 0xf4 && p[1] > 0x8f)) {
    return 0;
  }
  return n;
}

/* The next piece of a message starting at p: a printable character copied
 * as it is, or an escape (\n, \r, \t, \xNN) for a control character or a
 * byte that is not UTF-8. User text (a YAML block scalar, a key cut to fit a
 * buffer, a file name) may hold either, and a message is one line of UTF-8.
 * Returns the bytes of p consumed; *out_len is the piece's length. */
static size_t next_piece(const unsigned char *p, char out[5], size_t *out_len) {
  const size_t n = utf8_char_len(p);
  if (n > 1 || (n == 1 && p[0] >= 0x20 && p[0] != 0x7f)) {
    memcpy(out, p, n);
    *out_len = n;
    return n;
  }
  if (p[0] == '\n' || p[0] == '\r' || p[0] == '\t') {
    out[0] = '\\';
    out[1] = p[0] == '\n' ? 'n' : p[0] == '\r' ? 'r' : 't';
    *out_len = 2;
    return 1;
  }
  snprintf(out, 5, "\\x%02x", p[0]);
  *out_len = 4;
  return 1;
}

void pni_format_message(char *buf, size_t cap, const char *fmt, va_list ap) {
  if (cap == 0) return;
  char raw[PNI_ERROR_CAPACITY];
  const int n = vsnprintf(raw, sizeof raw, fmt, ap);
  if (n < 0) {
    snprintf(buf, cap, "(message could not be formatted)");
    return;
  }
  int cut = (size_t)n >= sizeof raw;
  size_t len = 0;
  for (const unsigned char *p = (const unsigned char *)raw; *p != '\0';) {
    char piece[5];
    size_t piece_len = 0;
    const size_t used = next_piece(p, piece, &piece_len);
    if (len + piece_len >= cap) {
      cut = 1;
      break;
    }
    memcpy(buf + len, piece, piece_len);
    len += piece_len;
    p += used;
  }
  buf[len] = '\0';
  if (cut && cap > 4) {
    /* End with "...": drop whole pieces until it fits. */
    if (len > cap - 4) {
      len = cap - 4;
      while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80) len--;
    }
    memcpy(buf + len, "...", 4);
  }
}

void pni_vlog(const pnas_context *ctx, pnas_log_level level, const char *fmt, va_list ap) {
  if (ctx->log_fn == NULL || level == PNAS_LOG_OFF || level > ctx->log_level) return;
  char line[PNI_ERROR_CAPACITY];
  pni_format_message(line, sizeof line, fmt, ap);
  ctx->log_fn(ctx->log_user, level, line);
}

void pni_log(const pnas_context *ctx, pnas_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pni_vlog(ctx, level, fmt, ap);
  va_end(ap);
}

pnas_status pni_fail(pnas_context *ctx, pnas_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pni_format_message(ctx->last_error, sizeof ctx->last_error, fmt, ap);
  va_end(ap);
  ctx->last_status = status;
  pni_log(ctx, PNAS_LOG_ERROR, "%s", ctx->last_error);
  return status;
}
