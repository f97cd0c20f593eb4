/* SPDX-License-Identifier: MIT */
/* The official latency-table YAML: a mapping of keys to
 * {count, mean, var} with mean in milliseconds (docs/formats.md). Private. */
#ifndef PNI_IO_LATENCY_IO_H
#define PNI_IO_LATENCY_IO_H

#include <stddef.h>

#include "search/latency.h"

/* Largest table file read. The official tables are a few hundred KiB. */
#define PNI_LATENCY_FILE_MAX_BYTES ((size_t)256 << 20)

/* Fills an initialised, empty table, sorted for lookup. On failure the
 * table is left empty. name is used in messages. */
pnas_status pni_latency_table_parse_yaml(pnas_context *ctx, const char *name, const char *text,
                                         size_t size, pni_latency_table *table);
pnas_status pni_latency_table_load_yaml(pnas_context *ctx, const char *path,
                                        pni_latency_table *table);

/* Writes a table in the same format, atomically: entries in the table's
 * order, `count` left out when unknown (< 0) and `var` when not finite (NaN: omitted in the file it
 * came from), numbers in the shortest form that reads back to the same double, keys quoted only
 * when a plain YAML scalar could not hold them. */
pnas_status pni_latency_table_save_yaml(pnas_context *ctx, const pni_latency_table *table,
                                        const char *path);

#endif /* PNI_IO_LATENCY_IO_H */
