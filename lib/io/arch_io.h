/* SPDX-License-Identifier: MIT */
/* Architectures in files: libpnas's YAML (docs/formats.md) and the official
 * ProxylessNAS net.config JSON. Private. */
#ifndef PNI_IO_ARCH_IO_H
#define PNI_IO_ARCH_IO_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "nn/arch.h"

/* Largest architecture or net.config file read; real ones are a few KiB. */
#define PNI_ARCH_FILE_MAX_BYTES ((size_t)16 << 20)

/* name is used in messages: the file name, or "<string>". */
pnas_status pni_arch_parse_yaml(pnas_context *ctx, const char *name, const char *text, size_t size,
                                pnas_arch **out);
pnas_status pni_arch_load_yaml(pnas_context *ctx, const char *path, pnas_arch **out);
/* Appends the YAML text of arch to out. */
void pni_arch_format_yaml(const pnas_arch *arch, pni_strbuf *out);
pnas_status pni_arch_save_yaml(const pnas_arch *arch, const char *path);

pnas_status pni_net_config_parse(pnas_context *ctx, const char *name, const char *text, size_t size,
                                 int32_t input_height, int32_t input_width, pnas_arch **out);
pnas_status pni_net_config_import(pnas_context *ctx, const char *path, int32_t input_height,
                                  int32_t input_width, pnas_arch **out);
/* Appends the net.config JSON of arch to out, formatted as the official
 * files are (Python's json.dumps with indent=4, no final newline). */
void pni_net_config_format(const pnas_arch *arch, pni_strbuf *out);
pnas_status pni_net_config_export(const pnas_arch *arch, const char *path);

/* The shortest decimal text that reads back as exactly v (at most 9
 * significant digits), so that saved files round-trip and stay readable. */
void pni_format_float(char *buf, size_t cap, float v);

/* Re-records the context's last error (an arch validation failure) as
 * PNAS_ERR_PARSE prefixed with "name:line: ", so that a value that passed
 * the reader's checks but not the architecture's still points into the
 * file. Out-of-memory stays as it is. */
pnas_status pni_arch_error_at(pnas_context *ctx, pnas_status status, const char *name, int line);

#endif /* PNI_IO_ARCH_IO_H */
