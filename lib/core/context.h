/* SPDX-License-Identifier: MIT */
/* The context object as the layers below the API see it. Private. */
#ifndef PNI_CORE_CONTEXT_H
#define PNI_CORE_CONTEXT_H

#include <stdarg.h>
#include <stdint.h>

#include "core/rng.h"
#include "pnas/pnas.h"

/* Type tags written at the start of every handle, so that the API layer can
 * tell a context from a supernet (or from freed memory) before using it. */
enum {
  PNI_TAG_CONTEXT = 0x50434f4e,  /* "PCON" */
  PNI_TAG_ARCH = 0x50415243,     /* "PARC" */
  PNI_TAG_NET = 0x504e4554,      /* "PNET" */
  PNI_TAG_DATASET = 0x50445354,  /* "PDST" */
  PNI_TAG_BATCHER = 0x50424154,  /* "PBAT" */
  PNI_TAG_SPACE = 0x50535043,    /* "PSPC" */
  PNI_TAG_SUPERNET = 0x50535550, /* "PSUP" */
  PNI_TAG_LATENCY = 0x504c4154,  /* "PLAT" */
  PNI_TAG_DEAD = 0x44454144      /* "DEAD": written on destroy */
};

/* Most threads a context may use. libgomp itself crashes on teams of about
 * a million threads; no machine this library targets has more than this. */
#define PNI_MAX_THREADS 1024

/* Longest last-error message kept, including the NUL; longer ones are cut. */
#define PNI_ERROR_CAPACITY 512

struct pnas_context {
  uint32_t tag;
  int32_t threads;
  uint64_t seed;
  pni_rng rng;
  pnas_allocator allocator; /* always complete: defaults filled in */
  int allocator_is_default;
  pnas_log_fn log_fn;
  void *log_user;
  pnas_log_level log_level;
  pnas_status last_status;
  char last_error[PNI_ERROR_CAPACITY];
};

/* Records status and message as the context's last error, logs it at ERROR
 * level and returns status, so callers can write `return pni_fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
pnas_status pni_fail(pnas_context *ctx, pnas_status status, const char *fmt, ...);

/* Logs one message through the context's callback if level passes the
 * threshold. Never prints. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void pni_log(const pnas_context *ctx, pnas_log_level level, const char *fmt, ...);

/* The same, with a va_list. */
void pni_vlog(const pnas_context *ctx, pnas_log_level level, const char *fmt, va_list ap);

/* Formats into buf (capacity cap, cap > 0), always NUL-terminated; a message
 * too long for buf is cut and ends with "...". */
void pni_format_message(char *buf, size_t cap, const char *fmt, va_list ap);

/* Fills ctx->allocator's unset members with the C library's functions. */
void pni_allocator_resolve(pnas_allocator *out, const pnas_allocator *requested);

#endif /* PNI_CORE_CONTEXT_H */
