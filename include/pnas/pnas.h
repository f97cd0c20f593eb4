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
 * - A NULL handle gives ::PNAS_ERR_INVALID_ARGUMENT and a pointer that is
 *   no live handle of the expected kind ::PNAS_ERR_WRONG_HANDLE. Neither has
 *   a context to hold a message, except a live handle of another kind (a
 *   pnas_net passed as a pnas_supernet): its own context then records a
 *   message naming the function and both kinds.
 * - `*_destroy(NULL)` is a no-op; a handle of another kind is ignored (and
 *   reported as above). Memory the library hands out is released with
 *   pnas_free().
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
   * from 1 to 1024. Default: the number of processors online (at most 1024).
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
 * @param threads From 1 to 1024.
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
 * @brief Reads the state of the context's random number generator (for
 *        checkpoints: restoring it continues the same stream).
 * @param context The context.
 * @param out_state Receives 4 words (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_context_get_rng_state(const pnas_context *context,
                                                uint64_t out_state[4]);

/**
 * @brief Restores a state read by pnas_context_get_rng_state().
 * @param context The context.
 * @param state 4 words, not all zero.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_context_set_rng_state(pnas_context *context, const uint64_t state[4]);

/**
 * @brief Describes the library build and the context's settings.
 *
 * One `key: value` line each for the version, the BLIS version and
 * configuration, OpenMP, the thread count and the seed. The BLIS line names
 * the kernels BLIS runs and, when they were not BLIS's own choice, who chose
 * them: `set by BLIS_ARCH_TYPE`, or `chosen by libpnas` on AMD CPUs that
 * BLIS 0.9 does not know (docs/api-conventions.md, "Threads"); and it ends
 * with `+ libpnas's 512-bit microkernel ...` where libpnas's own kernel runs
 * BLIS's larger products, and `+ libpnas's row kernels ...` where the 1x1
 * convolutions run on libpnas's own product kernels (docs/api-conventions.md).
 * @param context The context.
 * @param out_text Receives a NUL-terminated string to be freed with
 *        pnas_free() (out); untouched on failure.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_context_describe(pnas_context *context, char **out_text);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Architectures
 * A fixed MobileNetV2-style network: stem (k x k conv, BN, ReLU6), a
 * sequence of blocks, head (1x1 conv, BN, ReLU6), global average pool,
 * dropout and a fully connected classifier. Architectures are loaded from
 * YAML (docs/formats.md), imported from the official ProxylessNAS net.config
 * JSON, built block by block, and saved in either format.
 *
 * Thread safety: an architecture is immutable once built, except by
 * pnas_arch_append_block(); it may be read from several threads at once.
 * @{ */

/** @brief An architecture (opaque). */
typedef struct pnas_arch pnas_arch;

/** @brief What a block computes. Values are frozen. */
typedef enum pnas_block_kind {
  /** Inverted residual: 1x1 expand (omitted when expand is 1), k x k
   * depthwise, 1x1 project; each followed by BN, ReLU6 after the first two. */
  PNAS_BLOCK_MBCONV = 0,
  /** Passes its input through (a searched "zero" op on a residual layer). */
  PNAS_BLOCK_IDENTITY = 1
} pnas_block_kind;

/**
 * @brief One block of an architecture.
 *
 * For pnas_arch_append_block() the caller sets kind, out_channels, kernel,
 * expand and stride; the other members are computed and ignored on input.
 */
typedef struct pnas_block_info {
  /** sizeof(pnas_block_info); set by pnas_block_info_init(). */
  size_t struct_size;
  /** ::PNAS_BLOCK_MBCONV or ::PNAS_BLOCK_IDENTITY. */
  pnas_block_kind kind;
  /** Input channels (computed: the previous block's output). */
  int32_t in_channels;
  /** Output channels (equal to in_channels for an identity block). */
  int32_t out_channels;
  /** Depthwise kernel size: 3, 5 or 7. */
  int32_t kernel;
  /** Expansion ratio, at least 1: the hidden width is round(in * expand). */
  int32_t expand;
  /** Stride of the depthwise convolution: 1 or 2. */
  int32_t stride;
  /** 1 if the block adds its input to its output (computed: stride 1 and
   * in_channels == out_channels). */
  int32_t residual;
  int32_t in_height; /**< Input height (computed). */
  int32_t in_width;  /**< Input width (computed). */
  int32_t out_height; /**< Output height (computed). */
  int32_t out_width;  /**< Output width (computed). */
  /** Multiply-accumulates of the block for one image (computed). */
  int64_t macs;
  /** Trainable parameters of the block, BN scale and shift included (computed). */
  int64_t params;
} pnas_block_info;

/**
 * @brief The whole-network settings of an architecture.
 *
 * For pnas_arch_create() the caller sets the input shape, classes, stem,
 * head and dropout; blocks, macs and params are computed.
 */
typedef struct pnas_arch_info {
  /** sizeof(pnas_arch_info); set by pnas_arch_info_init(). */
  size_t struct_size;
  int32_t input_height;   /**< Input image height. */
  int32_t input_width;    /**< Input image width. */
  int32_t input_channels; /**< Input image channels. */
  /** Number of classes of the classifier. */
  int32_t classes;
  int32_t stem_channels; /**< Stem output channels. */
  int32_t stem_kernel;   /**< Stem kernel size (odd). */
  int32_t stem_stride;   /**< Stem stride: 1 or 2. */
  /** Output channels of the head's 1x1 convolution (0: no head conv). */
  int32_t head_channels;
  /** Dropout probability before the classifier, in [0, 1). */
  float dropout;
  /** Number of blocks (computed). */
  int32_t blocks;
  /** Multiply-accumulates of the whole network for one image, counted over
   * convolutions and the classifier as the official code does (computed). */
  int64_t macs;
  /** Trainable parameters, BN scale and shift and classifier bias included (computed). */
  int64_t params;
} pnas_arch_info;

/**
 * @brief Fills @p info with defaults (28x28x1 input, 10 classes, stem 3x3
 *        stride 1 to 16 channels, head 256, dropout 0) for @p struct_size bytes.
 * @param info The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_arch_info_init_sized(pnas_arch_info *info, size_t struct_size);

/**
 * @brief Fills @p info with the defaults and this header's struct size.
 * @param info The struct to fill (out).
 * @return As pnas_arch_info_init_sized().
 */
static inline pnas_status pnas_arch_info_init(pnas_arch_info *info) {
  return pnas_arch_info_init_sized(info, sizeof(pnas_arch_info));
}

/**
 * @brief Fills @p info with defaults (MBConv, kernel 3, expand 1, stride 1).
 * @param info The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_block_info_init_sized(pnas_block_info *info, size_t struct_size);

/**
 * @brief Fills @p info with the defaults and this header's struct size.
 * @param info The struct to fill (out).
 * @return As pnas_block_info_init_sized().
 */
static inline pnas_status pnas_block_info_init(pnas_block_info *info) {
  return pnas_block_info_init_sized(info, sizeof(pnas_block_info));
}

/**
 * @brief Creates an architecture with no blocks yet.
 * @param context The context.
 * @param info Whole-network settings; computed members are ignored.
 * @param out_arch Receives the architecture (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (a setting out of range,
 *         named in the message) or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_arch_create(pnas_context *context, const pnas_arch_info *info,
                                      pnas_arch **out_arch);

/**
 * @brief Appends a block after the last one.
 * @param arch The architecture.
 * @param block The block; in_channels and the computed members are ignored.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (kernel, expand, stride,
 *         channels out of range, or an identity block that changes shape) or
 *         ::PNAS_ERR_OUT_OF_MEMORY. The architecture is unchanged on failure.
 */
PNAS_API pnas_status pnas_arch_append_block(pnas_arch *arch, const pnas_block_info *block);

/**
 * @brief Loads an architecture from a YAML file (schema in docs/formats.md).
 * @param context The context.
 * @param path File name.
 * @param out_arch Receives the architecture (out).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_PARSE (message: file, line,
 *         key and what was expected), ::PNAS_ERR_INVALID_ARGUMENT or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_arch_load_yaml(pnas_context *context, const char *path,
                                         pnas_arch **out_arch);

/**
 * @brief Parses an architecture from YAML text in memory.
 * @param context The context.
 * @param text The document (need not be NUL-terminated).
 * @param size Its length in bytes.
 * @param out_arch Receives the architecture (out).
 * @return As pnas_arch_load_yaml(), without ::PNAS_ERR_IO.
 */
PNAS_API pnas_status pnas_arch_parse_yaml(pnas_context *context, const char *text, size_t size,
                                          pnas_arch **out_arch);

/**
 * @brief Imports an official ProxylessNAS `net.config` (JSON).
 *
 * net.config does not record the input size; pass it (224 x 224 for the
 * released ImageNet nets). Input channels and classes come from the file.
 * @param context The context.
 * @param path File name.
 * @param input_height Input image height.
 * @param input_width Input image width.
 * @param out_arch Receives the architecture (out).
 * @return As pnas_arch_load_yaml().
 */
PNAS_API pnas_status pnas_arch_import_net_config(pnas_context *context, const char *path,
                                                 int32_t input_height, int32_t input_width,
                                                 pnas_arch **out_arch);

/**
 * @brief Saves an architecture as YAML, atomically (temporary file, then rename).
 * @param arch The architecture.
 * @param path File name.
 * @return ::PNAS_OK, ::PNAS_ERR_IO or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_arch_save_yaml(const pnas_arch *arch, const char *path);

/**
 * @brief Writes an architecture as an official `net.config` JSON, atomically.
 * @param arch The architecture.
 * @param path File name.
 * @return ::PNAS_OK, ::PNAS_ERR_IO or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_arch_export_net_config(const pnas_arch *arch, const char *path);

/**
 * @brief The whole-network settings and totals.
 * @param arch The architecture.
 * @param out_info Filled up to its struct_size, which the caller sets (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_arch_get_info(const pnas_arch *arch, pnas_arch_info *out_info);

/**
 * @brief One block, with its computed shape, MACs and parameters.
 * @param arch The architecture.
 * @param index 0 <= index < blocks.
 * @param out_block Filled up to its struct_size, which the caller sets (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT (index out of range).
 */
PNAS_API pnas_status pnas_arch_get_block(const pnas_arch *arch, int32_t index,
                                         pnas_block_info *out_block);

/**
 * @brief Destroys an architecture. NULL is a no-op.
 * @param arch The architecture, or NULL.
 */
PNAS_API void pnas_arch_destroy(pnas_arch *arch);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Data sets and batches
 * Labelled images held as 8-bit NHWC in memory: the IDX format (plain or
 * gzip, as Fashion-MNIST ships) or a folder of PNG files per class. A batcher
 * turns a data set into float32 NHWC batches, normalised, optionally shuffled
 * and augmented (random crop with zero padding, horizontal flip).
 *
 * Thread safety: a data set is immutable after loading and may be shared by
 * batchers on different threads; a batcher is used by one thread at a time.
 * @{ */

/** @brief A labelled image set (opaque). */
typedef struct pnas_dataset pnas_dataset;

/** @brief Shape of a data set. */
typedef struct pnas_dataset_info {
  /** sizeof(pnas_dataset_info); the caller sets it. */
  size_t struct_size;
  /** Number of images. */
  int64_t count;
  int32_t height;   /**< Image height. */
  int32_t width;    /**< Image width. */
  int32_t channels; /**< Image channels. */
  /** Number of classes (largest label + 1, or the folder count). */
  int32_t classes;
} pnas_dataset_info;

/**
 * @brief Loads an IDX image file and its IDX label file; each may be gzip
 *        compressed (detected from its first bytes).
 * @param context The context.
 * @param images_path IDX file of unsigned bytes, dimensions N x H x W (gray)
 *        or N x H x W x C.
 * @param labels_path IDX file of unsigned bytes, dimension N.
 * @param out_dataset Receives the data set (out).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_FORMAT (wrong magic, truncated
 *         file, count mismatch; the message names the file) or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_dataset_load_idx(pnas_context *context, const char *images_path,
                                           const char *labels_path, pnas_dataset **out_dataset);

/**
 * @brief Loads `root/<class>/<image>.png`: one folder per class (sorted by
 *        name: the label is the folder's index), 8-bit gray or RGB images of
 *        one size.
 * @param context The context.
 * @param root The folder holding the class folders.
 * @param out_dataset Receives the data set (out).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_FORMAT (corrupt or unsupported
 *         PNG, size mismatch, empty folder; the message names the file) or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_dataset_load_png_folder(pnas_context *context, const char *root,
                                                  pnas_dataset **out_dataset);

/**
 * @brief Creates a data set by copying images and labels from memory.
 * @param context The context.
 * @param images count x height x width x channels bytes, NHWC.
 * @param labels count labels in [0, classes).
 * @param count Number of images, at least 1.
 * @param height Image height.
 * @param width Image width.
 * @param channels Image channels.
 * @param classes Number of classes, at least 2.
 * @param out_dataset Receives the data set (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_dataset_create_from_memory(pnas_context *context,
                                                     const uint8_t *images,
                                                     const int32_t *labels, int64_t count,
                                                     int32_t height, int32_t width,
                                                     int32_t channels, int32_t classes,
                                                     pnas_dataset **out_dataset);

/**
 * @brief Splits off a class-balanced held-out set.
 *
 * Takes @p per_class images of every class, chosen at random with the
 * context's generator, into @p out_held_out; the rest, in their original
 * order, go into @p out_rest. Both are new data sets; @p dataset is unchanged.
 * @param dataset The data set.
 * @param per_class Images per class in the held-out part, at least 1 and
 *        less than the smallest class.
 * @param out_rest Receives the remaining images (out).
 * @param out_held_out Receives the held-out images (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_dataset_split_balanced(pnas_dataset *dataset, int32_t per_class,
                                                 pnas_dataset **out_rest,
                                                 pnas_dataset **out_held_out);

/**
 * @brief A new data set holding images [offset, offset + count) of another.
 * @param dataset The data set.
 * @param offset First image.
 * @param count Number of images, at least 1.
 * @param out_subset Receives the copy (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_dataset_subset(pnas_dataset *dataset, int64_t offset, int64_t count,
                                         pnas_dataset **out_subset);

/**
 * @brief Shape and size of a data set.
 * @param dataset The data set.
 * @param out_info Filled up to its struct_size, which the caller sets (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_dataset_get_info(const pnas_dataset *dataset,
                                           pnas_dataset_info *out_info);

/**
 * @brief Destroys a data set. NULL is a no-op. Batchers over it must be
 *        destroyed first.
 * @param dataset The data set, or NULL.
 */
PNAS_API void pnas_dataset_destroy(pnas_dataset *dataset);

/** @brief Iterates over a data set in float32 NHWC batches (opaque). */
typedef struct pnas_batcher pnas_batcher;

/** @brief Options for pnas_batcher_create(). */
typedef struct pnas_batcher_options {
  /** sizeof(pnas_batcher_options); set by init. */
  size_t struct_size;
  /** Images per batch, at least 1. Default 64. */
  int32_t batch_size;
  /** Non-zero: a new random order every epoch. Default 1. */
  int32_t shuffle;
  /** Non-zero: the last, smaller batch of an epoch is skipped. Default 0. */
  int32_t drop_last;
  /** Random crop: pad every side by this many zero pixels, then crop back to
   * the image size at a random offset. 0 (default) disables it. */
  int32_t crop_padding;
  /** Non-zero: flip each image horizontally with probability 1/2. Default 0. */
  int32_t horizontal_flip;
  /** Per-channel mean subtracted after scaling bytes to [0, 1]; channels past
   * the third use the third's. Default 0. */
  float mean[3];
  /** Per-channel standard deviation divided by afterwards. Default 1. */
  float std[3];
  /** Seed of the batcher's own generator (order and augmentation). Default 0. */
  uint64_t seed;
} pnas_batcher_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_batcher_options_init_sized(pnas_batcher_options *options,
                                                     size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_batcher_options_init_sized().
 */
static inline pnas_status pnas_batcher_options_init(pnas_batcher_options *options) {
  return pnas_batcher_options_init_sized(options, sizeof(pnas_batcher_options));
}

/**
 * @brief Creates a batcher over @p dataset (which it borrows: keep the data
 *        set alive until the batcher is destroyed). Allocates its buffers
 *        once; pnas_batcher_next() allocates nothing.
 * @param dataset The data set.
 * @param options Options, or NULL for the defaults.
 * @param out_batcher Receives the batcher (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_batcher_create(pnas_dataset *dataset,
                                         const pnas_batcher_options *options,
                                         pnas_batcher **out_batcher);

/**
 * @brief Writes the next batch into caller-owned buffers.
 *
 * At the end of an epoch it returns ::PNAS_OK with *out_count = 0; the call
 * after that starts the next epoch (in a new order when shuffling).
 * @param batcher The batcher.
 * @param images At least batch_size * height * width * channels floats (NHWC).
 * @param labels At least batch_size labels.
 * @param out_count Receives the number of images written (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_batcher_next(pnas_batcher *batcher, float *images, int32_t *labels,
                                       int32_t *out_count);

/**
 * @brief Like pnas_batcher_next(), into buffers the batcher owns.
 * @param batcher The batcher.
 * @param out_images Receives a pointer to the batch, valid until the next call
 *        on this batcher or its destruction (out).
 * @param out_labels Receives a pointer to the labels, valid likewise (out).
 * @param out_count Receives the number of images (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_batcher_next_view(pnas_batcher *batcher, const float **out_images,
                                            const int32_t **out_labels, int32_t *out_count);

/**
 * @brief Restarts the epoch (same order if not shuffling).
 * @param batcher The batcher.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_batcher_reset(pnas_batcher *batcher);

/**
 * @brief Serialises the batcher's position, order and generator, so that a
 *        resumed run sees the same batches (for checkpoints).
 * @param batcher The batcher.
 * @param buffer Receives the state (out); may be NULL to ask for the size.
 * @param capacity Room in @p buffer.
 * @param out_size Receives the state's size in bytes (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT (buffer too small: the
 *         size is still written to @p out_size).
 */
PNAS_API pnas_status pnas_batcher_get_state(const pnas_batcher *batcher, void *buffer,
                                            size_t capacity, size_t *out_size);

/**
 * @brief Restores a state from pnas_batcher_get_state() of a batcher over a
 *        data set of the same size.
 * @param batcher The batcher.
 * @param buffer The state.
 * @param size Its size in bytes.
 * @return ::PNAS_OK or ::PNAS_ERR_FORMAT (not a batcher state, another data
 *         set size, or a corrupt order); the batcher is unchanged on failure.
 */
PNAS_API pnas_status pnas_batcher_set_state(pnas_batcher *batcher, const void *buffer,
                                            size_t size);

/**
 * @brief Destroys a batcher. NULL is a no-op.
 * @param batcher The batcher, or NULL.
 */
PNAS_API void pnas_batcher_destroy(pnas_batcher *batcher);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Networks
 * A trainable network built from an architecture: forward, backward, SGD
 * with Nesterov momentum and weight decay, evaluation and inference. Weights
 * are initialised from the context's generator as ALGORITHM.md section 1
 * says (convolutions N(0, sqrt(2 / (k*k*C_out))), BN scale 1 and shift 0,
 * classifier U(+-1/sqrt(fan_in)), bias 0).
 *
 * Thread safety: a network is used by one thread at a time.
 * @{ */

/** @brief A trainable network (opaque). */
typedef struct pnas_net pnas_net;

/** @brief Options for pnas_net_create(). */
typedef struct pnas_net_options {
  /** sizeof(pnas_net_options); set by init. */
  size_t struct_size;
  /** Largest batch the network will see; buffers are sized for it once.
   * Default 64. */
  int32_t max_batch;
  /** BN momentum (PyTorch convention). Default 0.1. */
  float bn_momentum;
  /** BN epsilon. Default 1e-3. */
  float bn_eps;
  /** Dropout before the classifier; negative (default) takes the
   * architecture's. */
  float dropout;
} pnas_net_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_options_init_sized(pnas_net_options *options, size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_net_options_init_sized().
 */
static inline pnas_status pnas_net_options_init(pnas_net_options *options) {
  return pnas_net_options_init_sized(options, sizeof(pnas_net_options));
}

/** @brief Options of the SGD optimizer. */
typedef struct pnas_sgd_options {
  /** sizeof(pnas_sgd_options); set by init. */
  size_t struct_size;
  /** Learning rate. Default 0.05. */
  float lr;
  /** Momentum. Default 0.9. */
  float momentum;
  /** Non-zero: Nesterov momentum (PyTorch's formulation). Default 1. */
  int32_t nesterov;
  /** L2 weight decay added to the gradient. Default 4e-5. */
  float weight_decay;
  /** Non-zero: no weight decay on BN scale/shift and biases. Default 1. */
  int32_t no_decay_on_bn;
  /** Label smoothing of the training loss. Default 0.1. */
  float label_smoothing;
} pnas_sgd_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_sgd_options_init_sized(pnas_sgd_options *options, size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_sgd_options_init_sized().
 */
static inline pnas_status pnas_sgd_options_init(pnas_sgd_options *options) {
  return pnas_sgd_options_init_sized(options, sizeof(pnas_sgd_options));
}

/** @brief Result of a training step or an evaluation. */
typedef struct pnas_step_stats {
  /** sizeof(pnas_step_stats); the caller sets it. */
  size_t struct_size;
  /** Mean loss over the images. */
  double loss;
  /** Share of images whose top-1 prediction is right, in [0, 1]. */
  double accuracy;
  /** Number of images. */
  int64_t images;
} pnas_step_stats;

/**
 * @brief Builds a network from an architecture (which it copies).
 * @param context The context; its generator initialises the weights.
 * @param arch The architecture; it may be destroyed afterwards.
 * @param options Options, or NULL for the defaults.
 * @param out_net Receives the network (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (an option out of range, or
 *         activations at max_batch too large for the kernels) or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_net_create(pnas_context *context, const pnas_arch *arch,
                                     const pnas_net_options *options, pnas_net **out_net);

/**
 * @brief Sets the optimizer's options (they apply from the next step).
 * @param net The network.
 * @param options SGD options.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_set_sgd(pnas_net *net, const pnas_sgd_options *options);

/**
 * @brief Changes only the learning rate (for schedules such as pnas_lr_cosine()).
 * @param net The network.
 * @param lr Learning rate, finite and non-negative.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_set_lr(pnas_net *net, float lr);

/**
 * @brief One SGD step on a batch in training mode (batch statistics, dropout).
 * @param net The network.
 * @param images batch x H x W x C floats (NHWC), borrowed for the call.
 * @param labels batch labels in [0, classes).
 * @param batch 1 <= batch <= the network's max_batch.
 * @param out_stats Loss and accuracy of the batch before the update, or NULL.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (batch size, label out of
 *         range) or ::PNAS_ERR_NUMERIC (a non-finite loss or gradient, or an
 *         SGD update that would make a weight or momentum non-finite; the
 *         message names the part: the input images, the stem, "block N", the
 *         head, the pool or the classifier; the weights, momenta and BN
 *         statistics are left as they were).
 */
PNAS_API pnas_status pnas_net_train_step(pnas_net *net, const float *images,
                                         const int32_t *labels, int32_t batch,
                                         pnas_step_stats *out_stats);

/**
 * @brief Logits for a batch in evaluation mode (running BN statistics, no dropout).
 * @param net The network.
 * @param images batch x H x W x C floats (NHWC).
 * @param batch 1 <= batch <= max_batch.
 * @param out_logits batch x classes floats (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_infer(pnas_net *net, const float *images, int32_t batch,
                                    float *out_logits);

/**
 * @brief Loss (plain cross-entropy) and accuracy over a whole data set in
 *        evaluation mode, in batches of max_batch, images scaled as the
 *        batcher options @p normalization say (only mean and std are used).
 * @param net The network.
 * @param dataset Images of the network's input shape.
 * @param normalization Batcher options giving mean and std, or NULL for
 *        bytes scaled to [0, 1].
 * @param out_stats Receives the result (out).
 * @return ::PNAS_OK, ::PNAS_ERR_SHAPE or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_evaluate(pnas_net *net, pnas_dataset *dataset,
                                       const pnas_batcher_options *normalization,
                                       pnas_step_stats *out_stats);

/**
 * @brief Saves the architecture, weights, BN statistics and optimizer state
 *        in one versioned, checksummed file, written atomically.
 * @param net The network.
 * @param path File name.
 * @return ::PNAS_OK, ::PNAS_ERR_IO or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_net_save(const pnas_net *net, const char *path);

/**
 * @brief Loads a network saved by pnas_net_save().
 * @param context The context.
 * @param path File name.
 * @param options Options, or NULL for the defaults.
 * @param out_net Receives the network (out).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_FORMAT (bad magic, version,
 *         size or checksum) or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_net_load(pnas_context *context, const char *path,
                                   const pnas_net_options *options, pnas_net **out_net);

/**
 * @brief A copy of the network's architecture.
 * @param net The network.
 * @param out_arch Receives a new architecture, destroyed by the caller (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_net_get_arch(const pnas_net *net, pnas_arch **out_arch);

/**
 * @brief Destroys a network. NULL is a no-op.
 * @param net The network, or NULL.
 */
PNAS_API void pnas_net_destroy(pnas_net *net);

/**
 * @brief The cosine learning-rate schedule 0.5 * lr0 * (1 + cos(pi * t / T)).
 * @param lr0 Initial learning rate.
 * @param t Step, clamped to [0, T].
 * @param total T, the number of steps; <= 0 gives lr0.
 * @return The learning rate at step @p t.
 */
PNAS_API float pnas_lr_cosine(float lr0, int64_t t, int64_t total);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Search spaces
 * A search space is the layout of a supernet: input, stem, a fixed first
 * block, stages of layers whose op is searched (each layer a list of
 * candidate ops), head and classifier. Load it from YAML (docs/formats.md),
 * take the paper's ImageNet space, or build it with the calls below.
 *
 * Thread safety: a space is immutable once built, except by the add calls.
 * @{ */

/** @brief A search space (opaque). */
typedef struct pnas_space pnas_space;

/** @brief What a candidate op is. Values are frozen. */
typedef enum pnas_op_kind {
  /** MBConv with a kernel size and an expansion ratio. */
  PNAS_OP_MBCONV = 0,
  /** The zero op: the layer becomes the identity (only on residual layers). */
  PNAS_OP_ZERO = 1
} pnas_op_kind;

/** @brief One candidate op. */
typedef struct pnas_op_spec {
  /** ::PNAS_OP_MBCONV or ::PNAS_OP_ZERO. */
  pnas_op_kind kind;
  /** Depthwise kernel size (3, 5 or 7); ignored for zero. */
  int32_t kernel;
  /** Expansion ratio (at least 1); ignored for zero. */
  int32_t expand;
} pnas_op_spec;

/** @brief The fixed parts of a space, and its totals. */
typedef struct pnas_space_info {
  /** sizeof(pnas_space_info); set by init. */
  size_t struct_size;
  int32_t input_height;   /**< Input image height. */
  int32_t input_width;    /**< Input image width. */
  int32_t input_channels; /**< Input image channels. */
  int32_t classes;        /**< Number of classes. */
  int32_t stem_channels;  /**< Stem convolution output channels. */
  int32_t stem_kernel;    /**< Stem kernel size. */
  int32_t stem_stride;    /**< Stem stride. */
  /** Output channels of the fixed first block MBConv(3, 1) (0: no such block). */
  int32_t first_block_channels;
  /** Head 1x1 convolution output channels (0: no head conv). */
  int32_t head_channels;
  /** Dropout before the classifier, in [0, 1). */
  float dropout;
  /** Number of stages (computed). */
  int32_t stages;
  /** Number of searched layers (mixed ops) over all stages (computed). */
  int32_t layers;
} pnas_space_info;

/**
 * @brief Fills @p info with the paper's ImageNet defaults (224x224x3, 1000
 *        classes, stem 3x3 stride 2 to 32, first block 16, head 1280, dropout 0).
 * @param info The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_space_info_init_sized(pnas_space_info *info, size_t struct_size);

/**
 * @brief Fills @p info with the defaults and this header's struct size.
 * @param info The struct to fill (out).
 * @return As pnas_space_info_init_sized().
 */
static inline pnas_status pnas_space_info_init(pnas_space_info *info) {
  return pnas_space_info_init_sized(info, sizeof(pnas_space_info));
}

/**
 * @brief Creates a space with the given fixed parts and no stages yet.
 * @param context The context.
 * @param info Fixed parts; computed members are ignored.
 * @param out_space Receives the space (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (naming the member) or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_space_create(pnas_context *context, const pnas_space_info *info,
                                       pnas_space **out_space);

/**
 * @brief Creates the paper's ImageNet space: stages of width 24, 40, 80, 96,
 *        192, 320 with 4, 4, 4, 4, 4, 1 layers and strides 2, 2, 2, 1, 2, 1;
 *        candidates MBConv {3, 5, 7} x {3, 6}, plus zero on layers with a
 *        residual (21 mixed ops, 15 with zero).
 * @param context The context.
 * @param out_space Receives the space (out).
 * @return ::PNAS_OK or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_space_create_default(pnas_context *context, pnas_space **out_space);

/**
 * @brief Appends a stage of @p depth layers, each with the same candidates.
 *
 * The first layer has stride @p stride; the others have stride 1. A layer
 * has a residual when its stride is 1 and its input width equals @p width
 * (so the others always do). A ::PNAS_OP_ZERO in @p ops is used only on
 * layers with a residual: on a first layer without one it is dropped when
 * @p zero_on_first is 0, and is an error when it is 1 (strict specs).
 * @param space The space.
 * @param width Output channels of every layer, at least 1.
 * @param depth Number of layers, at least 1.
 * @param stride Stride of the first layer: 1 or 2.
 * @param ops Candidate ops, @p op_count of them (at least 1 besides zero).
 * @param op_count Number of entries in @p ops.
 * @param zero_on_first 0: drop zero from the first layer; 1: it is an error there.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (naming the stage and layer)
 *         or ::PNAS_ERR_OUT_OF_MEMORY. The space is unchanged on failure.
 */
PNAS_API pnas_status pnas_space_add_stage(pnas_space *space, int32_t width, int32_t depth,
                                          int32_t stride, const pnas_op_spec *ops,
                                          int32_t op_count, int32_t zero_on_first);

/**
 * @brief Loads a space from a YAML file (schema in docs/formats.md).
 * @param context The context.
 * @param path File name.
 * @param out_space Receives the space (out).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_PARSE (file, line, key),
 *         ::PNAS_ERR_INVALID_ARGUMENT (a bad spec, naming stage and layer) or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_space_load_yaml(pnas_context *context, const char *path,
                                          pnas_space **out_space);

/**
 * @brief Parses a space from YAML text in memory.
 * @param context The context.
 * @param text The document (need not be NUL-terminated).
 * @param size Its length in bytes.
 * @param out_space Receives the space (out).
 * @return As pnas_space_load_yaml(), without ::PNAS_ERR_IO.
 */
PNAS_API pnas_status pnas_space_parse_yaml(pnas_context *context, const char *text, size_t size,
                                           pnas_space **out_space);

/**
 * @brief Saves a space as YAML, atomically.
 * @param space The space.
 * @param path File name.
 * @return ::PNAS_OK, ::PNAS_ERR_IO or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_space_save_yaml(const pnas_space *space, const char *path);

/**
 * @brief The fixed parts and totals of a space.
 * @param space The space.
 * @param out_info Filled up to its struct_size, which the caller sets (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_space_get_info(const pnas_space *space, pnas_space_info *out_info);

/**
 * @brief One searched layer: its shape as a block (kind MBConv, kernel and
 *        expand 0) and its candidates.
 * @param space The space.
 * @param layer 0 <= layer < layers.
 * @param out_block Shape of the layer (in/out channels and sizes, stride,
 *        residual), filled up to its struct_size (out).
 * @param out_ops Receives up to @p ops_capacity candidates (out); may be NULL.
 * @param ops_capacity Room in @p out_ops.
 * @param out_op_count Receives the number of candidates (out); may be NULL.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_space_get_layer(const pnas_space *space, int32_t layer,
                                          pnas_block_info *out_block, pnas_op_spec *out_ops,
                                          int32_t ops_capacity, int32_t *out_op_count);

/**
 * @brief Destroys a space. NULL is a no-op.
 * @param space The space, or NULL.
 */
PNAS_API void pnas_space_destroy(pnas_space *space);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Latency models
 * What an architecture costs on the target device, in milliseconds, for the
 * latency term of the search loss and for reporting. A model is loaded from
 * a latency lookup table in the official ProxylessNAS YAML format
 * (docs/formats.md): a mapping from a layer's key, for example
 * `expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0`,
 * to `{count, mean, var}`, of which `mean` (ms) is used. A key the table lacks
 * is an error that names the key, never a silent default.
 *
 * Thread safety: a latency model is used by one thread at a time.
 * @{ */

/** @brief A latency model (opaque). */
typedef struct pnas_latency_model pnas_latency_model;

/**
 * @brief Loads a latency lookup table (official ProxylessNAS YAML format).
 *
 * The whole table is read and checked: every entry needs a `mean` of at
 * least 0 ms; `count` and `var` are optional; other keys and duplicate
 * entries are errors.
 * @param context The context.
 * @param path File name; kept (copied) to name the table in messages.
 * @param out_model Receives the model, destroyed by the caller (out);
 *        untouched on failure.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_IO,
 *         ::PNAS_ERR_PARSE (message: file, line, key and what was expected)
 *         or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_latency_model_load_table(pnas_context *context, const char *path,
                                                   pnas_latency_model **out_model);

/**
 * @brief The latency of a whole architecture: the sum of the table's `mean`
 *        over the stem (`Conv-...`), every MBConv block (`expanded_conv-...`;
 *        identity blocks cost 0), the head conv (`Conv_1-...`, if the
 *        architecture has one) and the classifier (`Logits-...`).
 * @param model The latency model.
 * @param arch The architecture (borrowed for the call).
 * @param out_ms Receives the latency in milliseconds (out); untouched on
 *        failure.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_WRONG_HANDLE,
 *         ::PNAS_ERR_NOT_FOUND (the model cannot price a part; the message
 *         names the key and the part of the network) or ::PNAS_ERR_NUMERIC
 *         (a host callback answered a negative or non-finite latency).
 */
PNAS_API pnas_status pnas_latency_model_arch_latency(pnas_latency_model *model,
                                                     const pnas_arch *arch, double *out_ms);

/** @brief Which part of a network a latency query prices. Values are frozen. */
typedef enum pnas_latency_part {
  /** The stem convolution (key `Conv-...`). */
  PNAS_LATENCY_STEM = 0,
  /** An MBConv block or candidate op (key `expanded_conv-...`). */
  PNAS_LATENCY_BLOCK = 1,
  /** The head 1x1 convolution (key `Conv_1-...`). */
  PNAS_LATENCY_HEAD = 2,
  /** Pool and classifier (key `Logits-...`). */
  PNAS_LATENCY_LOGITS = 3
} pnas_latency_part;

/** @brief What a host latency callback is asked to price. */
typedef struct pnas_latency_query {
  /** sizeof(pnas_latency_query). */
  size_t struct_size;
  /** The part of the network. */
  pnas_latency_part part;
  /** Its shape: for a block, the block; for the stem and head, a block-like
   * description (in/out channels and sizes, kernel, stride, expand 1); for
   * the classifier, in_channels (features) and out_channels (classes). */
  pnas_block_info block;
  /** The part's key in the official table format, NUL-terminated, valid
   * during the call. */
  const char *key;
} pnas_latency_query;

/**
 * @brief A host latency function: writes the cost of @p query in ms.
 * @param user The pointer given to pnas_latency_model_create_callback().
 * @param query What to price.
 * @param out_ms Receives the latency (out), finite and >= 0.
 * @return 0 on success; any other value makes the library call fail with
 *         ::PNAS_ERR_NOT_FOUND naming the query's key.
 */
typedef int (*pnas_latency_fn)(void *user, const pnas_latency_query *query, double *out_ms);

/**
 * @brief A latency model that asks the host.
 * @param context The context.
 * @param fn The callback; called from the thread that uses the model.
 * @param user Passed to @p fn.
 * @param out_model Receives the model (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_latency_model_create_callback(pnas_context *context, pnas_latency_fn fn,
                                                        void *user,
                                                        pnas_latency_model **out_model);

/**
 * @brief A latency model proportional to multiply-accumulates:
 *        latency = @p ms_per_mmac * MACs / 1e6 for every part.
 * @param context The context.
 * @param ms_per_mmac Milliseconds per million MACs, finite and > 0.
 * @param out_model Receives the model (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_latency_model_create_macs(pnas_context *context, double ms_per_mmac,
                                                    pnas_latency_model **out_model);

/** @brief Options of the on-host latency profiler. */
typedef struct pnas_profile_options {
  /** sizeof(pnas_profile_options); set by init. */
  size_t struct_size;
  /** Batch size timed. Default 1. */
  int32_t batch;
  /** Untimed runs before measuring. Default 5. */
  int32_t warmup;
  /** Timed runs; the median is kept. Default 21. */
  int32_t repeats;
} pnas_profile_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_profile_options_init_sized(pnas_profile_options *options,
                                                     size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_profile_options_init_sized().
 */
static inline pnas_status pnas_profile_options_init(pnas_profile_options *options) {
  return pnas_profile_options_init_sized(options, sizeof(pnas_profile_options));
}

/**
 * @brief Measures a latency table on this machine: every candidate op of
 *        every layer of @p space, and the stem, first block, head and
 *        classifier, each timed in evaluation mode with the context's
 *        threads (warm-up runs, then the median of the repeats).
 * @param context The context.
 * @param space The space to price.
 * @param options Options, or NULL for the defaults.
 * @param out_model Receives a table model holding the measurements (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_WRONG_HANDLE or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_latency_model_profile(pnas_context *context, const pnas_space *space,
                                                const pnas_profile_options *options,
                                                pnas_latency_model **out_model);

/**
 * @brief Writes a table model (loaded or profiled) in the official YAML
 *        format, atomically.
 * @param model A table model.
 * @param path File name.
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_INVALID_ARGUMENT or
 *         ::PNAS_ERR_UNSUPPORTED (not a table model).
 */
PNAS_API pnas_status pnas_latency_model_save_table(const pnas_latency_model *model,
                                                   const char *path);

/**
 * @brief The latency of one block (an MBConv candidate; identity costs 0).
 * @param model The latency model.
 * @param block The block; kind, in/out channels, kernel, expand, stride and
 *        input size are used (the rest is computed).
 * @param out_ms Receives the latency in ms (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (naming the bad field),
 *         ::PNAS_ERR_WRONG_HANDLE, ::PNAS_ERR_NOT_FOUND or ::PNAS_ERR_NUMERIC.
 */
PNAS_API pnas_status pnas_latency_model_block_latency(pnas_latency_model *model,
                                                      const pnas_block_info *block,
                                                      double *out_ms);

/**
 * @brief Destroys a latency model. NULL is a no-op.
 * @param model The model, or NULL.
 */
PNAS_API void pnas_latency_model_destroy(pnas_latency_model *model);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Supernet and search
 * The supernet holds every candidate op of every searched layer of a space,
 * with architecture logits alpha per layer. The host drives the search:
 * weight steps (one sampled path per layer, SGD on that path only), arch
 * steps (gate gradients + latency term, Adam on alpha), pruning and
 * derivation. See docs/search.md and ALGORITHM.md.
 *
 * Layers are numbered 0 .. layers-1 over all stages; candidate j of a layer
 * is the j-th op of pnas_space_get_layer().
 *
 * Thread safety: a supernet is used by one thread at a time.
 * @{ */

/** @brief A supernet (opaque). */
typedef struct pnas_supernet pnas_supernet;

/** @brief How an arch step samples and differentiates. Values are frozen. */
typedef enum pnas_arch_mode {
  /** Two candidates per layer sampled without replacement; memory of two paths. */
  PNAS_ARCH_MODE_TWO = 0,
  /** One active path kept; every other candidate re-run on the saved input
   * for its gate gradient (the official default); memory of one path. */
  PNAS_ARCH_MODE_FULL_V2 = 1
} pnas_arch_mode;

/** @brief The latency term of the arch loss. Values are frozen. */
typedef enum pnas_loss_form {
  /** No latency term: loss = CE. */
  PNAS_LOSS_NONE = 0,
  /** loss = CE + lambda * (E[LAT] - T) / T. */
  PNAS_LOSS_ADD = 1,
  /** loss = a * CE * (ln E[LAT] / ln T)^beta (FBNet's form). */
  PNAS_LOSS_MUL_LOG = 2,
  /** loss = CE + lambda * |E[LAT] / T - 1| (TuNAS's absolute reward). */
  PNAS_LOSS_ABS = 3
} pnas_loss_form;

/** @brief Options for pnas_supernet_create(). */
typedef struct pnas_supernet_options {
  /** sizeof(pnas_supernet_options); set by init. */
  size_t struct_size;
  /** Largest batch; buffers are sized for it once. Default 64. */
  int32_t max_batch;
  /** BN momentum. Default 0.1. */
  float bn_momentum;
  /** BN epsilon. Default 1e-3. */
  float bn_eps;
  /** Standard deviation of the initial alpha, N(0, std). Default 1e-3. */
  float alpha_init_std;
} pnas_supernet_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_options_init_sized(pnas_supernet_options *options,
                                                      size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_supernet_options_init_sized().
 */
static inline pnas_status pnas_supernet_options_init(pnas_supernet_options *options) {
  return pnas_supernet_options_init_sized(options, sizeof(pnas_supernet_options));
}

/** @brief Options of the architecture optimisation. */
typedef struct pnas_search_options {
  /** sizeof(pnas_search_options); set by init. */
  size_t struct_size;
  /** Gradient arch step mode. Default ::PNAS_ARCH_MODE_FULL_V2. */
  pnas_arch_mode arch_mode;
  /** Adam learning rate on alpha. Default 1e-3. */
  float arch_lr;
  /** Adam beta1. Default 0. */
  float arch_beta1;
  /** Adam beta2. Default 0.999. */
  float arch_beta2;
  /** Adam epsilon. Default 1e-8. */
  float arch_eps;
  /** Latency term. Default ::PNAS_LOSS_NONE (set a latency model first for the others). */
  pnas_loss_form loss_form;
  /** Target latency T in ms (> 0 for every form but none; > 1 for mul-log,
   * whose ln T must be positive). Default 0. */
  float target_ms;
  /** lambda of the add and abs forms. Default 0.1. */
  float lambda;
  /** a of the mul-log form. Default 0.2. */
  float mul_log_a;
  /** beta of the mul-log form. Default 0.3. */
  float mul_log_beta;
  /** Non-zero (default): a layer whose active op is zero gets no alpha update
   * on that step, as in the official code. */
  int32_t skip_zero_active;
  /** REINFORCE: architectures sampled per step. Default 10. */
  int32_t rl_samples;
  /** REINFORCE: exponent w of the reward acc * (T / LAT)^w. Default 0.1. */
  float rl_exponent;
  /** REINFORCE: baseline EMA decay, b = decay * b + (1 - decay) * mean R. Default 0.99. */
  float rl_baseline_decay;
  /** Pruning: probability threshold (0, the default, disables pruning). */
  float prune_threshold;
  /** Pruning: consecutive arch steps below the threshold before a candidate
   * may be pruned. Default 100. */
  int32_t prune_patience;
} pnas_search_options;

/**
 * @brief Fills @p options with the defaults.
 * @param options The struct to fill (out).
 * @param struct_size sizeof the caller's struct.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_search_options_init_sized(pnas_search_options *options,
                                                    size_t struct_size);

/**
 * @brief Fills @p options with the defaults and this header's struct size.
 * @param options The struct to fill (out).
 * @return As pnas_search_options_init_sized().
 */
static inline pnas_status pnas_search_options_init(pnas_search_options *options) {
  return pnas_search_options_init_sized(options, sizeof(pnas_search_options));
}

/** @brief Result of a supernet step. */
typedef struct pnas_search_stats {
  /** sizeof(pnas_search_stats); the caller sets it. */
  size_t struct_size;
  /** The optimised loss (with the latency term for arch steps). */
  double loss;
  /** Cross-entropy part of the loss. */
  double ce_loss;
  /** Top-1 accuracy of the batch, in [0, 1]. */
  double accuracy;
  /** Expected latency E[LAT] in ms after the step (0 without a latency model). */
  double expected_latency_ms;
  /** Images in the batch. */
  int64_t images;
} pnas_search_stats;

/** @brief Sizes of a supernet. */
typedef struct pnas_supernet_info {
  /** sizeof(pnas_supernet_info); the caller sets it. */
  size_t struct_size;
  /** Searched layers. */
  int32_t layers;
  /** Candidates over all layers (pruned ones excluded). */
  int32_t candidates;
  /** Weights over all candidates and fixed parts. */
  int64_t params;
  /** Weight steps so far. */
  int64_t weight_steps;
  /** Arch steps so far. */
  int64_t arch_steps;
} pnas_supernet_info;

/**
 * @brief Builds a supernet from a space (which it copies).
 * @param context The context; its generator initialises weights and alpha
 *        and draws every sample.
 * @param space The space.
 * @param options Options, or NULL for the defaults.
 * @param out_supernet Receives the supernet (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT (an option out of range, a
 *         space without searched layers, or activations at max_batch too
 *         large for the kernels) or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_supernet_create(pnas_context *context, const pnas_space *space,
                                          const pnas_supernet_options *options,
                                          pnas_supernet **out_supernet);

/**
 * @brief Destroys a supernet. NULL is a no-op.
 * @param supernet The supernet, or NULL.
 */
PNAS_API void pnas_supernet_destroy(pnas_supernet *supernet);

/**
 * @brief Sizes and step counts.
 * @param supernet The supernet.
 * @param out_info Filled up to its struct_size (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_get_info(const pnas_supernet *supernet,
                                            pnas_supernet_info *out_info);

/**
 * @brief Sets the weight optimizer (SGD) options.
 * @param supernet The supernet.
 * @param options SGD options.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_set_sgd(pnas_supernet *supernet,
                                           const pnas_sgd_options *options);

/**
 * @brief Changes the weight learning rate.
 * @param supernet The supernet.
 * @param lr Finite, >= 0.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_set_lr(pnas_supernet *supernet, float lr);

/**
 * @brief Sets the architecture optimisation options.
 * @param supernet The supernet.
 * @param options Search options.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, or ::PNAS_ERR_STATE (a
 *         latency term without a latency model).
 */
PNAS_API pnas_status pnas_supernet_set_search(pnas_supernet *supernet,
                                              const pnas_search_options *options);

/**
 * @brief Prices every candidate with @p model (borrowed for the call: the
 *        prices are kept, the model is not).
 * @param supernet The supernet.
 * @param model The latency model, or NULL to remove the latency prices.
 * @return ::PNAS_OK, ::PNAS_ERR_NOT_FOUND (a candidate or fixed part the
 *         model cannot price, named in the message), ::PNAS_ERR_NUMERIC (a
 *         callback's answer was negative or not finite) or
 *         ::PNAS_ERR_WRONG_HANDLE; the supernet is unchanged on failure.
 */
PNAS_API pnas_status pnas_supernet_set_latency_model(pnas_supernet *supernet,
                                                     pnas_latency_model *model);

/**
 * @brief One weight step: samples one candidate per layer from
 *        softmax(alpha), runs forward and backward through that path only, and
 *        applies SGD to the path's weights and the fixed parts (other
 *        candidates get no gradient, momentum or weight decay).
 * @param supernet The supernet.
 * @param images batch x H x W x C floats (NHWC).
 * @param labels batch labels.
 * @param batch 1 <= batch <= max_batch.
 * @param out_stats Loss and accuracy, or NULL.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_NUMERIC (a
 *         non-finite loss or gradient, or an SGD update that would make a
 *         weight or momentum non-finite; the message names the part of the
 *         network: the input images, the stem, the first block, "layer L
 *         (candidate J ...)", the head, the pool or the classifier). On
 *         ::PNAS_ERR_NUMERIC the weights, momenta, BN statistics, alpha and
 *         step counts are unchanged; only the sampled path and the context's
 *         generator have moved.
 */
PNAS_API pnas_status pnas_supernet_train_step(pnas_supernet *supernet, const float *images,
                                              const int32_t *labels, int32_t batch,
                                              pnas_search_stats *out_stats);

/**
 * @brief One gradient arch step on a (held-out) batch: binary gates in the
 *        configured mode, gate gradients, the BinaryConnect alpha gradient
 *        plus the latency term, and Adam on alpha. Weights do not change,
 *        and no weight gradient is computed: the gradient buffer of
 *        pnas_supernet_parameters() keeps what the last backward wrote.
 * @param supernet The supernet.
 * @param images batch x H x W x C floats (NHWC).
 * @param labels batch labels.
 * @param batch 1 <= batch <= max_batch.
 * @param out_stats Loss, accuracy and E[LAT], or NULL.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_STATE (a latency
 *         loss form without a latency model) or ::PNAS_ERR_NUMERIC (a
 *         non-finite loss, naming the first part of the path whose output is
 *         not finite; a latency term that is not finite; a non-finite alpha
 *         gradient, naming the layer; or an Adam step that would make alpha
 *         non-finite). On ::PNAS_ERR_NUMERIC
 *         alpha, the Adam moments, the BN statistics and the step counts are
 *         unchanged.
 */
PNAS_API pnas_status pnas_supernet_arch_step(pnas_supernet *supernet, const float *images,
                                             const int32_t *labels, int32_t batch,
                                             pnas_search_stats *out_stats);

/**
 * @brief One REINFORCE arch step: rl_samples architectures are sampled and
 *        evaluated (evaluation mode) on the batch; reward acc * (T / LAT)^w;
 *        alpha moves by Adam on mean (R - b) * -grad log p; the baseline b is an
 *        EMA. Needs a latency model and a target (search options).
 * @param supernet The supernet.
 * @param images batch x H x W x C floats.
 * @param labels batch labels.
 * @param batch 1 <= batch <= max_batch.
 * @param out_stats Mean reward in loss, mean accuracy, E[LAT], or NULL.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_STATE or
 *         ::PNAS_ERR_NUMERIC (an Adam step that would make alpha non-finite;
 *         alpha, the Adam moments and the baseline are unchanged).
 */
PNAS_API pnas_status pnas_supernet_arch_step_reinforce(pnas_supernet *supernet,
                                                       const float *images,
                                                       const int32_t *labels, int32_t batch,
                                                       pnas_search_stats *out_stats);

/**
 * @brief Removes the candidates whose probability stayed below the search
 *        options' prune_threshold for prune_patience arch steps (never the
 *        last of a layer); their weights and optimizer state are freed and
 *        their alpha removed, the rest renormalised.
 * @param supernet The supernet.
 * @param out_pruned Receives how many candidates were removed (out); may be NULL.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_prune(pnas_supernet *supernet, int32_t *out_pruned);

/**
 * @brief The expected latency E[LAT] under the current probabilities.
 * @param supernet The supernet.
 * @param out_ms Receives E[LAT] in ms (out).
 * @return ::PNAS_OK or ::PNAS_ERR_STATE (no latency model set).
 */
PNAS_API pnas_status pnas_supernet_expected_latency(const pnas_supernet *supernet,
                                                    double *out_ms);

/**
 * @brief Derives the architecture: the argmax of alpha per layer (never a
 *        sample); a layer whose argmax is zero becomes an identity block.
 * @param supernet The supernet.
 * @param out_arch Receives a new architecture (out).
 * @return ::PNAS_OK or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_supernet_derive(const pnas_supernet *supernet, pnas_arch **out_arch);

/**
 * @brief Builds a network of the derived architecture.
 * @param supernet The supernet.
 * @param options Network options, or NULL for the defaults.
 * @param inherit Non-zero: copy the chosen candidates' weights, the fixed
 *        parts and the BN statistics from the supernet; 0: fresh weights.
 * @param out_net Receives the network (out).
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT or ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_supernet_derive_net(pnas_supernet *supernet,
                                              const pnas_net_options *options, int32_t inherit,
                                              pnas_net **out_net);

/**
 * @brief Number of live (unpruned) candidates of a layer.
 * @param supernet The supernet.
 * @param layer 0 <= layer < layers.
 * @param out_count Receives the count (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_op_count(const pnas_supernet *supernet, int32_t layer,
                                            int32_t *out_count);

/**
 * @brief The live candidates of a layer, in order.
 * @param supernet The supernet.
 * @param layer The layer.
 * @param out_ops Receives op_count candidates (out).
 * @param capacity Room in @p out_ops.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT (too small: the message
 *         gives the size needed).
 */
PNAS_API pnas_status pnas_supernet_get_ops(const pnas_supernet *supernet, int32_t layer,
                                           pnas_op_spec *out_ops, int32_t capacity);

/**
 * @brief Copies alpha, its last gradient or the probabilities of a layer.
 * @param supernet The supernet.
 * @param layer The layer.
 * @param what 0: alpha; 1: gradient of the loss w.r.t. alpha from the last
 *        arch step (or pnas_supernet_arch_gradient()); 2: softmax(alpha).
 * @param out Receives op_count values (out).
 * @param capacity Room in @p out.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_get_alpha(const pnas_supernet *supernet, int32_t layer,
                                             int32_t what, float *out, int32_t capacity);

/**
 * @brief Overwrites alpha of a layer (for hosts with their own optimizer).
 * @param supernet The supernet.
 * @param layer The layer.
 * @param alpha op_count finite values.
 * @param count op_count.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_set_alpha(pnas_supernet *supernet, int32_t layer,
                                             const float *alpha, int32_t count);

/**
 * @brief Writes a checkpoint: the space, every weight, momentum and BN
 *        statistic, alpha and the Adam state, pruned candidates, latency
 *        prices, all options, step counts, the context's generator and an
 *        optional block of host data (for example the host's loop position
 *        and batcher states). Versioned, checksummed, written to a temporary
 *        file and renamed, so a crash leaves the previous checkpoint intact.
 * @param supernet The supernet.
 * @param path File name.
 * @param host_data Bytes stored verbatim, or NULL.
 * @param host_size Their number (0 with NULL).
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_INVALID_ARGUMENT or
 *         ::PNAS_ERR_OUT_OF_MEMORY.
 */
PNAS_API pnas_status pnas_supernet_save(const pnas_supernet *supernet, const char *path,
                                        const void *host_data, size_t host_size);

/**
 * @brief Loads a checkpoint written by pnas_supernet_save(). On success the
 *        context's generator continues from the stored state, so a resumed
 *        search is bitwise identical to an uninterrupted one (same threads).
 * @param context The context.
 * @param path File name.
 * @param max_batch Largest batch, or 0 to keep the stored one.
 * @param out_supernet Receives the supernet (out).
 * @param out_host_data Receives the host data, to be freed with pnas_free()
 *        (NULL when there is none) (out); may be NULL.
 * @param out_host_size Receives its size (out); may be NULL.
 * @return ::PNAS_OK, ::PNAS_ERR_IO, ::PNAS_ERR_FORMAT (bad magic, version,
 *         checksum or contents; the message says which) or
 *         ::PNAS_ERR_OUT_OF_MEMORY; nothing changes on failure.
 */
PNAS_API pnas_status pnas_supernet_load(pnas_context *context, const char *path,
                                        int32_t max_batch, pnas_supernet **out_supernet,
                                        void **out_host_data, size_t *out_host_size);

/**
 * @brief Low level: draws one candidate per layer from softmax(alpha) and
 *        makes that path active.
 * @param supernet The supernet.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_sample(pnas_supernet *supernet);

/**
 * @brief Low level: sets or reads the active candidate of every layer.
 * @param supernet The supernet.
 * @param ops One index per layer (in: set; out: get).
 * @param count The number of layers.
 * @param set Non-zero to set the path from @p ops, 0 to read it into @p ops.
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT (an index out of range).
 */
PNAS_API pnas_status pnas_supernet_active_path(pnas_supernet *supernet, int32_t *ops,
                                               int32_t count, int32_t set);

/**
 * @brief Low level: forward of the active path.
 * @param supernet The supernet.
 * @param images batch x H x W x C floats.
 * @param batch 1 <= batch <= max_batch.
 * @param training 0: evaluation mode (running BN statistics); 1: training
 *        mode (batch statistics, running statistics updated; needed before
 *        pnas_supernet_backward()); 2: batch statistics without touching the
 *        running ones, the usual way to evaluate one path of a supernet,
 *        whose running statistics mix every path's.
 * @param out_logits batch x classes floats (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_forward(pnas_supernet *supernet, const float *images,
                                           int32_t batch, int32_t training, float *out_logits);

/**
 * @brief Low level: backward of the active path from dL/dlogits into the
 *        gradient buffer (gradients of candidates off the path are zero).
 * @param supernet The supernet.
 * @param dlogits batch x classes floats.
 * @param batch The batch of the last training forward.
 * @return ::PNAS_OK, ::PNAS_ERR_INVALID_ARGUMENT, ::PNAS_ERR_STATE (no
 *         training forward of this batch before) or ::PNAS_ERR_NUMERIC (a
 *         gradient is not finite; the message names the part nearest the
 *         loss that has one, and pnas_supernet_sgd_step() is refused until
 *         the next good backward).
 */
PNAS_API pnas_status pnas_supernet_backward(pnas_supernet *supernet, const float *dlogits,
                                            int32_t batch);

/**
 * @brief Low level: applies SGD to the active path's weights and the fixed
 *        parts from the gradient buffer.
 * @param supernet The supernet.
 * @return ::PNAS_OK, ::PNAS_ERR_STATE (no pnas_supernet_backward() since the
 *         last SGD step, sample, path change or high-level step) or
 *         ::PNAS_ERR_NUMERIC (a gradient is not finite, or the step would make
 *         a weight or momentum non-finite; the message names the part;
 *         nothing changes).
 */
PNAS_API pnas_status pnas_supernet_sgd_step(pnas_supernet *supernet);

/**
 * @brief Low level: views of the weights and their gradients (for an
 *        all-reduce or a host optimizer). Valid until the supernet is pruned
 *        or destroyed.
 * @param supernet The supernet.
 * @param out_params Receives the weights (out); may be NULL.
 * @param out_grads Receives the gradients (out); may be NULL.
 * @param out_count Receives the number of floats in each (out).
 * @return ::PNAS_OK or ::PNAS_ERR_INVALID_ARGUMENT.
 */
PNAS_API pnas_status pnas_supernet_parameters(pnas_supernet *supernet, float **out_params,
                                              float **out_grads, int64_t *out_count);

/**
 * @brief Low level: computes the alpha gradient of an arch step (same
 *        sampling and estimator) without updating alpha; read it with
 *        pnas_supernet_get_alpha(what = 1), combine it as you like, then
 *        apply it with pnas_supernet_arch_update().
 * @param supernet The supernet.
 * @param images batch x H x W x C floats.
 * @param labels batch labels.
 * @param batch 1 <= batch <= max_batch.
 * @param out_stats Loss and accuracy, or NULL.
 * @return As pnas_supernet_arch_step().
 */
PNAS_API pnas_status pnas_supernet_arch_gradient(pnas_supernet *supernet, const float *images,
                                                 const int32_t *labels, int32_t batch,
                                                 pnas_search_stats *out_stats);

/**
 * @brief Low level: one Adam step on alpha from the current alpha gradients
 *        (then, in two mode, the pair shift that keeps other probabilities).
 * @param supernet The supernet.
 * @return ::PNAS_OK, ::PNAS_ERR_STATE (no gradient computed) or
 *         ::PNAS_ERR_NUMERIC (the step would make alpha or the Adam moments
 *         non-finite; the message names the layer; nothing changes).
 */
PNAS_API pnas_status pnas_supernet_arch_update(pnas_supernet *supernet);

/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PNAS_PNAS_H */
