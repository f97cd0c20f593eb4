/* SPDX-License-Identifier: MIT */
/* Whole-file reads and crash-safe writes. Private. */
#ifndef PNI_CORE_FILE_H
#define PNI_CORE_FILE_H

#include <stddef.h>

#include "pnas/pnas.h"

/* Reads a whole file into a block from pni_alloc (NUL-appended, so text
 * parsers may treat it as a string; *size excludes the NUL). Files larger
 * than max_bytes are refused with PNAS_ERR_IO. Errors name the path and the
 * system's reason. */
pnas_status pni_file_read_all(pnas_context *ctx, const char *path, size_t max_bytes,
                              char **out_data, size_t *out_size);

/* Writes data to path atomically: a temporary file in the same folder is
 * written, flushed to disk and renamed over path, so that a crash leaves
 * either the old file or the new one, never a half-written one. */
pnas_status pni_file_write_atomic(pnas_context *ctx, const char *path, const void *data,
                                  size_t size);

#endif /* PNI_CORE_FILE_H */
