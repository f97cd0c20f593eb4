/* SPDX-License-Identifier: MIT */
/* Search spaces in files: libpnas's YAML (schema "pnas-space/1",
 * docs/formats.md). Private. */
#ifndef PNI_IO_SPACE_IO_H
#define PNI_IO_SPACE_IO_H

#include <stddef.h>

#include "core/strbuf.h"
#include "search/space.h"

/* Largest space file read; real ones are a few KiB. */
#define PNI_SPACE_FILE_MAX_BYTES ((size_t)16 << 20)

/* name is used in messages: the file name, or "<string>". */
pnas_status pni_space_parse_yaml(pnas_context *ctx, const char *name, const char *text, size_t size,
                                 pnas_space **out);
pnas_status pni_space_load_yaml(pnas_context *ctx, const char *path, pnas_space **out);

/* Reads an op name: "mbconv{K}x{K}_e{E}" (K 3, 5 or 7; E 1 to 64), "zero",
 * or the official code's "{K}x{K}_MBConv{E}" and "Zero". Returns 1 and
 * fills *out, or 0 when the name is none of these. */
int pni_space_op_parse(const char *name, pnas_op_spec *out);

/* Appends the YAML text of space to out. */
void pni_space_format_yaml(const pnas_space *space, pni_strbuf *out);
pnas_status pni_space_save_yaml(const pnas_space *space, const char *path);

#endif /* PNI_IO_SPACE_IO_H */
