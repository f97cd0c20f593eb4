/* SPDX-License-Identifier: MIT */
/**
 * @file pnas.h
 * @brief libpnas: hardware-aware neural architecture search (ProxylessNAS) in C.
 *
 * This is the stable public interface. Everything declared here is covered by
 * the ABI promise described in docs/api-conventions.md: functions are only
 * ever appended (new symbols go into a new linker version node), option
 * structs only grow at their end, and status values never change meaning.
 *
 * Conventions, in short:
 * - Every fallible function returns a ::pnas_status; ::PNAS_OK is zero.
 * - On failure, out-parameters are left untouched and the context's last
 *   error message (pnas_context_last_error()) names the problem.
 * - `*_destroy(NULL)` is a no-op. Memory the library hands out is released
 *   with pnas_free().
 * - Different handles may be used from different threads at the same time;
 *   one handle (and the objects created from it) is used by one thread at a
 *   time.
 */
#ifndef PNAS_PNAS_H
#define PNAS_PNAS_H

#include <stddef.h>
#include <stdint.h>

#include "pnas/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @def PNAS_API
 * @brief Marks a declaration as exported from libpnas.so.
 *
 * The library is built with hidden visibility; only declarations carrying
 * this macro (and listed in the linker version script) are exported.
 */
#ifndef PNAS_API
#if defined(PNAS_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define PNAS_API __attribute__((visibility("default")))
#else
#define PNAS_API
#endif
#endif

/* ------------------------------------------------------------------------ */
/** @name Status codes
 * @{ */

/**
 * @brief Result of every fallible libpnas call.
 *
 * The numeric values are frozen: a value never changes meaning, and new
 * values are only appended. Hosts may store or transmit them.
 */
typedef enum pnas_status {
  /** Success. */
  PNAS_OK = 0,
  /** An argument is NULL, out of range or otherwise not acceptable. */
  PNAS_ERR_INVALID_ARGUMENT = 1,
  /** An allocation failed (the context's allocator returned NULL). */
  PNAS_ERR_OUT_OF_MEMORY = 2,
  /** The caller's header version does not match the library's ABI. */
  PNAS_ERR_ABI_MISMATCH = 3,
  /** A file could not be opened, read or written. */
  PNAS_ERR_IO = 4,
  /** A text document (YAML, JSON) is malformed or has a bad value. */
  PNAS_ERR_PARSE = 5,
  /** A binary file or data set has the wrong format (magic, size, checksum). */
  PNAS_ERR_FORMAT = 6,
  /** Tensor or buffer shapes do not agree. */
  PNAS_ERR_SHAPE = 7,
  /** A required key or item is missing (for example a latency-table key). */
  PNAS_ERR_NOT_FOUND = 8,
  /** The call is not valid in the object's current state. */
  PNAS_ERR_STATE = 9,
  /** A non-finite value (NaN or infinity) was produced or supplied. */
  PNAS_ERR_NUMERIC = 10,
  /** The request is valid but not supported by this build or object. */
  PNAS_ERR_UNSUPPORTED = 11,
  /** A handle of the wrong kind, or a destroyed one, was passed. */
  PNAS_ERR_WRONG_HANDLE = 12,
  /** An internal invariant failed; please report it as a bug. */
  PNAS_ERR_INTERNAL = 13
} pnas_status;

/**
 * @brief A static, human-readable name for a status ("invalid argument").
 * @param status Any value; unknown values give "unknown status".
 * @return A string with static storage; never NULL; do not free.
 */
PNAS_API const char *pnas_status_string(pnas_status status);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Version
 * @{ */

/**
 * @brief The library's version as MAJOR * 10000 + MINOR * 100 + PATCH.
 *
 * Compare with ::PNAS_VERSION_NUMBER to detect a header/library mismatch.
 * @return The run-time library's version number.
 */
PNAS_API uint32_t pnas_version(void);

/**
 * @brief The library's version as "MAJOR.MINOR.PATCH".
 * @return A string with static storage; do not free.
 */
PNAS_API const char *pnas_version_string(void);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Memory
 * @{ */

/**
 * @brief Allocation hooks for one context.
 *
 * All three functions receive @p user as their first argument. Leave all of
 * them NULL to use the C library (malloc, aligned_alloc, free). If @p alloc
 * and @p free are set and @p aligned_alloc is NULL, aligned blocks are carved
 * out of larger blocks from @p alloc. Memory from either allocation function
 * is released with @p free. The hooks must be safe to call from the thread
 * that uses the context.
 */
typedef struct pnas_allocator {
  /** Returns @p size bytes aligned for any object, or NULL. */
  void *(*alloc)(void *user, size_t size);
  /** Returns @p size bytes aligned to @p alignment (a power of two), or NULL. Optional. */
  void *(*aligned_alloc)(void *user, size_t alignment, size_t size);
  /** Releases a block from alloc or aligned_alloc; never called with NULL. */
  void (*free)(void *user, void *ptr);
  /** Passed unchanged to the three functions. */
  void *user;
} pnas_allocator;

/**
 * @brief Releases memory that the library handed to the caller.
 *
 * Functions documented as returning memory "to be freed with pnas_free" use
 * the allocator of the context they were called with; pnas_free() finds that
 * allocator itself, so it may be called after the context is destroyed.
 * @param ptr A block returned by libpnas, or NULL (no-op).
 */
PNAS_API void pnas_free(void *ptr);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Logging
 * @{ */

/** @brief Severity of a log message; lower is more severe. */
typedef enum pnas_log_level {
  /** Nothing is logged. Only meaningful as a threshold. */
  PNAS_LOG_OFF = 0,
  /** An operation failed; the same text becomes the last error. */
  PNAS_LOG_ERROR = 1,
  /** Something suspicious that did not stop the operation. */
  PNAS_LOG_WARNING = 2,
  /** Progress of long operations. */
  PNAS_LOG_INFO = 3,
  /** Details for debugging the library or the host's use of it. */
  PNAS_LOG_DEBUG = 4
} pnas_log_level;

/**
 * @brief Receives the library's log messages. libpnas never prints itself.
 * @param user The options' log_user pointer.
 * @param level The message's severity.
 * @param message A NUL-terminated UTF-8 line without a trailing newline; valid
 *        only during the call.
 */
typedef void (*pnas_log_fn)(void *user, pnas_log_level level, const char *message);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Context
 * @{ */

/**
 * @brief The root object: allocator, threads, random seed, logging and the
 * last error message. Every other object is created from a context and must
 * be destroyed before it.
 *
 * Thread safety: a context and the objects created from it are used by one
 * thread at a time; separate contexts are independent.
 */
typedef struct pnas_context pnas_context;

/**
 * @brief Options for pnas_context_create().
 *
 * Fill with pnas_context_options_init() and then change what you need.
 * Members are only ever appended.
 */
typedef struct pnas_context_options {
  /** sizeof(pnas_context_options) as the caller compiled it; set by init. */
  size_t struct_size;
  /** ::PNAS_VERSION_NUMBER of the caller's header; set by init. */
  uint32_t abi_version;
  /**
   * Threads for every parallel kernel (OpenMP regions and BLIS calls alike),
   * at least 1. Default: the number of processors online.
   */
  int32_t threads;
  /** Seed of the context's random number generator. Default 0. */
  uint64_t seed;
  /** Allocation hooks; all NULL (the default) means the C library. */
  pnas_allocator allocator;
  /** Log callback, or NULL (the default) to drop every message. */
  pnas_log_fn log_fn;
  /** Passed to @p log_fn. */
  void *log_user;
  /** Most verbose level passed to @p log_fn. Default ::PNAS_LOG_WARNING. */
  pnas_log_level log_level;
} pnas_context_options;

/**
 * @brief Fills @p options with defaults for a struct of @p struct_size bytes
 * compiled against header version @p abi_version.
 *
 * Call it through pnas_context_options_init(), which passes both for you.
 * Bindings that lay out the struct themselves call this directly.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @param abi_version The caller's ::PNAS_VERSION_NUMBER.
 * @return ::PNAS_OK; ::PNAS_ERR_INVALID_ARGUMENT if @p options is NULL or
 *         @p struct_size is too small for the first version of the struct.
 */
PNAS_API pnas_status pnas_context_options_init_abi(pnas_context_options *options,
                                                   size_t struct_size,
                                                   uint32_t abi_version);

/**
 * @brief Fills @p options with the defaults and this header's version.
 * @param options The struct to fill (out).
 * @return As pnas_context_options_init_abi().
 */
static inline pnas_status pnas_context_options_init(pnas_context_options *options) {
  return pnas_context_options_init_abi(options, sizeof(pnas_context_options),
                                       (uint32_t)PNAS_VERSION_NUMBER);
}

/**
 * @brief Creates a context.
 *
 * Checks the ABI handshake: the options' abi_version must have the library's
 * major version and a minor version no newer than the library's.
 * @param options Filled by pnas_context_options_init(); NULL is an error.
 * @param out_context Receives the new context (out); untouched on failure.
 * @param error Optional buffer for a message naming the problem when creation
 *        fails (there is no context to hold it yet); may be NULL.
 * @param error_size Size of @p error in bytes, including the NUL.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (bad option),
 *         ::PNAS_ERR_ABI_MISMATCH or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_context_create(const pnas_context_options *options,
                                         pnas_context **out_context, char *error,
                                         size_t error_size);

/**
 * @brief Destroys a context. NULL is a no-op.
 *
 * Every object created from the context must have been destroyed first.
 * @param context The context, or NULL.
 */
PNAS_API void pnas_context_destroy(pnas_context *context);

/**
 * @brief The message of the last failed call made with this context.
 *
 * Successful calls do not clear it; compare the status, not the message.
 * @param context The context; NULL gives a static message saying so.
 * @return A NUL-terminated string owned by the context, valid until its next
 *         failing call or its destruction; "" if nothing failed yet.
 */
PNAS_API const char *pnas_context_last_error(const pnas_context *context);

/**
 * @brief The status of the last failed call made with this context.
 * @param context The context, or NULL (gives ::PNAS_ERR_INVALID_ARGUMENT).
 * @return ::PNAS_OK if nothing failed yet.
 */
PNAS_API pnas_status pnas_context_last_status(const pnas_context *context);

/**
 * @brief Number of threads the context's kernels use.
 * @param context The context.
 * @param out_threads Receives the thread count (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_context_get_threads(const pnas_context *context,
                                              int32_t *out_threads);

/**
 * @brief Changes the number of threads for later calls.
 * @param context The context.
 * @param threads At least 1.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_context_set_threads(pnas_context *context, int32_t threads);

/**
 * @brief Re-seeds the context's random number generator.
 *
 * The same seed and thread count give bitwise-identical results.
 * @param context The context.
 * @param seed Any value.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_context_set_seed(pnas_context *context, uint64_t seed);

/**
 * @brief Describes the library build and the context's settings.
 *
 * One `key: value` line each for the version, the BLIS version and
 * configuration, OpenMP, the thread count and the seed.
 * @param context The context.
 * @param out_text Receives a NUL-terminated string to be freed with
 *        pnas_free() (out); untouched on failure.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_context_describe(pnas_context *context, char **out_text);

/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PNAS_PNAS_H */
