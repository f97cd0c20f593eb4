/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/alloc.h"
#include "kernels/gemm.h"

/* The first published layout of pnas_context_options ends after log_level;
 * any caller's struct is at least this big. Later versions append members,
 * and a caller with an older, smaller struct gets defaults for them. */
#define OPTIONS_V1_SIZE (offsetof(pnas_context_options, log_level) + sizeof(pnas_log_level))

static int32_t processors_online(void) {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) return 1;
  return n > PNI_MAX_THREADS ? PNI_MAX_THREADS : (int32_t)n;
}

PNAS_API pnas_status pnas_context_options_init_abi(pnas_context_options *options,
                                                   size_t struct_size,
                                                   uint32_t abi_version) {
  if (options == NULL || struct_size < OPTIONS_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_context_options defaults;
  memset(&defaults, 0, sizeof defaults);
  defaults.struct_size = struct_size;
  defaults.abi_version = abi_version;
  defaults.threads = processors_online();
  defaults.seed = 0;
  defaults.log_level = PNAS_LOG_WARNING;
  /* A caller built against a newer header has members we do not know:
   * zero them, and write ours. */
  if (struct_size > sizeof defaults) {
    memset((unsigned char *)options + sizeof defaults, 0, struct_size - sizeof defaults);
  }
  memcpy(options, &defaults, struct_size < sizeof defaults ? struct_size : sizeof defaults);
  return PNAS_OK;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static pnas_status creation_error(char *error, size_t error_size, pnas_status status,
                                  const char *fmt, ...) {
  if (error != NULL && error_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    pni_format_message(error, error_size, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* Checks what can be checked before a context exists; messages go to the
 * caller's buffer. */
static pnas_status validate_options(const pnas_context_options *o, char *error,
                                    size_t error_size) {
  if (o == NULL) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT,
                          "options is NULL: fill a pnas_context_options with "
                          "pnas_context_options_init() first");
  }
  if (o->struct_size < OPTIONS_V1_SIZE || o->struct_size > sizeof *o) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT,
                          "options.struct_size is %zu; this library accepts %zu to %zu "
                          "(was the struct filled by pnas_context_options_init()?)",
                          o->struct_size, (size_t)OPTIONS_V1_SIZE, sizeof *o);
  }
  const uint32_t lib = (uint32_t)PNAS_VERSION_NUMBER;
  const uint32_t caller_major = o->abi_version / 10000, lib_major = lib / 10000;
  const uint32_t caller_minor = o->abi_version / 100 % 100, lib_minor = lib / 100 % 100;
  if (caller_major != lib_major || caller_minor > lib_minor) {
    return creation_error(error, error_size, PNAS_ERR_ABI_MISMATCH,
                          "ABI mismatch: the caller was compiled against libpnas headers "
                          "%u.%u.%u but the library is %s (major must match, and the "
                          "library must be at least as new)",
                          caller_major, caller_minor, o->abi_version % 100,
                          PNAS_VERSION_STRING);
  }
  if (o->threads < 1 || o->threads > PNI_MAX_THREADS) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT,
                          "options.threads is %d; it must be between 1 and %d", (int)o->threads,
                          PNI_MAX_THREADS);
  }
  const pnas_allocator *a = &o->allocator;
  const int any_hook = a->alloc != NULL || a->aligned_alloc != NULL || a->free != NULL;
  if (any_hook && (a->alloc == NULL || a->free == NULL)) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT,
                          "options.allocator: alloc and free must both be set (aligned_alloc "
                          "is optional), or all three left NULL");
  }
  if (o->log_level < PNAS_LOG_OFF || o->log_level > PNAS_LOG_DEBUG) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT,
                          "options.log_level is %d; it must be between %d (off) and %d (debug)",
                          (int)o->log_level, (int)PNAS_LOG_OFF, (int)PNAS_LOG_DEBUG);
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_create(const pnas_context_options *options,
                                         pnas_context **out_context, char *error,
                                         size_t error_size) {
  pnas_status status = validate_options(options, error, error_size);
  if (status != PNAS_OK) return status;
  if (out_context == NULL) {
    return creation_error(error, error_size, PNAS_ERR_INVALID_ARGUMENT, "out_context is NULL");
  }
  pnas_allocator allocator;
  pni_allocator_resolve(&allocator, &options->allocator);
  pnas_context *ctx = allocator.alloc(allocator.user, sizeof *ctx);
  if (ctx == NULL) {
    return creation_error(error, error_size, PNAS_ERR_OUT_OF_MEMORY,
                          "out of memory: allocation of the context (%zu bytes) failed",
                          sizeof *ctx);
  }
  memset(ctx, 0, sizeof *ctx);
  ctx->tag = PNI_TAG_CONTEXT;
  ctx->threads = options->threads;
  ctx->seed = options->seed;
  pni_rng_seed(&ctx->rng, options->seed);
  ctx->allocator = allocator;
  ctx->log_fn = options->log_fn;
  ctx->log_user = options->log_user;
  ctx->log_level = options->log_level;
  ctx->last_status = PNAS_OK;
  pni_log(ctx, PNAS_LOG_DEBUG, "context created: libpnas %s, threads %d, seed %llu",
          PNAS_VERSION_STRING, (int)ctx->threads, (unsigned long long)ctx->seed);
  *out_context = ctx;
  return PNAS_OK;
}

PNAS_API void pnas_context_destroy(pnas_context *ctx) {
  if (!pni_context_is_live(ctx)) {
    if (ctx != NULL) pni_context_check_status(ctx); /* a live handle of another kind: say so */
    return;
  }
  pni_log(ctx, PNAS_LOG_DEBUG, "context destroyed");
  const pnas_allocator allocator = ctx->allocator;
  ctx->tag = PNI_TAG_DEAD;
  allocator.free(allocator.user, ctx);
}

PNAS_API const char *pnas_context_last_error(const pnas_context *ctx) {
  if (ctx == NULL) return "context is NULL";
  if (!pni_context_is_live(ctx)) return "not a live pnas_context";
  return ctx->last_error;
}

PNAS_API pnas_status pnas_context_last_status(const pnas_context *ctx) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  return ctx->last_status;
}

PNAS_API pnas_status pnas_context_get_threads(const pnas_context *ctx, int32_t *out_threads) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (out_threads == NULL) {
    return pni_fail((pnas_context *)ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_context_get_threads: out_threads is NULL");
  }
  *out_threads = ctx->threads;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_set_threads(pnas_context *ctx, int32_t threads) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (threads < 1 || threads > PNI_MAX_THREADS) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_context_set_threads: threads is %d; it must be between 1 and %d",
                    (int)threads, PNI_MAX_THREADS);
  }
  ctx->threads = threads;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_set_seed(pnas_context *ctx, uint64_t seed) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  ctx->seed = seed;
  pni_rng_seed(&ctx->rng, seed);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_describe(pnas_context *ctx, char **out_text) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (out_text == NULL) {
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT, "pnas_context_describe: out_text is NULL");
  }
  char blis[384];
  pni_blis_describe(blis, sizeof blis);
  char text[1024];
  snprintf(text, sizeof text,
           "version: %s\n"
           "blis: %s\n"
           "openmp: %s\n"
           "threads: %d\n"
           "seed: %llu\n",
           PNAS_VERSION_STRING, blis,
#if defined(_OPENMP)
           "yes",
#else
           "no",
#endif
           (int)ctx->threads, (unsigned long long)ctx->seed);
  char *copy = pni_export_strdup(ctx, text);
  if (copy == NULL) return ctx->last_status;
  *out_text = copy;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_get_rng_state(const pnas_context *ctx, uint64_t out_state[4]) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (out_state == NULL) {
    return pni_fail((pnas_context *)ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_context_get_rng_state: out_state is NULL");
  }
  memcpy(out_state, ctx->rng.s, sizeof ctx->rng.s);
  return PNAS_OK;
}

PNAS_API pnas_status pnas_context_set_rng_state(pnas_context *ctx, const uint64_t state[4]) {
  if (!pni_context_is_live(ctx)) return pni_context_check_status(ctx);
  if (state == NULL || (state[0] | state[1] | state[2] | state[3]) == 0) {
    /* xoshiro's all-zero state is a fixed point: it would only ever give 0. */
    return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_context_set_rng_state: the state is %s",
                    state == NULL ? "NULL" : "all zero (not a state the generator can have)");
  }
  memcpy(ctx->rng.s, state, sizeof ctx->rng.s);
  return PNAS_OK;
}
