/* SPDX-License-Identifier: MIT */
/* Last-error messages and the log callback. The library never writes to
 * stdout or stderr: everything goes through here. */
#include <stdio.h>
#include <string.h>

#include "core/context.h"

void pni_format_message(char *buf, size_t cap, const char *fmt, va_list ap) {
  const int n = vsnprintf(buf, cap, fmt, ap);
  if (n < 0) {
    snprintf(buf, cap, "(message could not be formatted)");
  } else if ((size_t)n >= cap && cap > 4) {
    memcpy(buf + cap - 4, "...", 4);
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
