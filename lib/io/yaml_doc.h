/* SPDX-License-Identifier: MIT */
/* Reading YAML (and JSON, which libyaml reads as YAML) as a node tree with
 * the checks every libpnas format shares: types, ranges, unknown, missing
 * and duplicate keys. Every failure is PNAS_ERR_PARSE with a message of the
 * form "NAME:LINE: PATH: what was expected, got what", so that a user can
 * find the spot in the file. Private. */
#ifndef PNI_IO_YAML_DOC_H
#define PNI_IO_YAML_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "pnas/pnas.h"

typedef struct pni_yaml {
  pnas_context *ctx;
  const char *name; /* file name or "<string>", borrowed, for messages */
  yaml_document_t doc;
  int loaded;
} pni_yaml;

/* Parses exactly one document from text (need not be NUL-terminated).
 * A syntax error, an empty text or a second document fail with
 * PNAS_ERR_PARSE naming the line. On failure nothing needs freeing. */
pnas_status pni_yaml_load(pni_yaml *y, pnas_context *ctx, const char *name, const char *text,
                          size_t size);
void pni_yaml_free(pni_yaml *y);

yaml_node_t *pni_yaml_root(pni_yaml *y);
/* 1-based line where the node starts. */
int pni_yaml_line(const yaml_node_t *node);

/* Records "NAME:LINE: PATH: message" (or "NAME:LINE: message" when path is
 * empty) as PNAS_ERR_PARSE and returns it. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
pnas_status
pni_yaml_fail(pni_yaml *y, const yaml_node_t *at, const char *path, const char *fmt, ...);

/* Writes "parent.key" (or "key" when parent is empty) into buf. */
void pni_yaml_path(char *buf, size_t cap, const char *parent, const char *key);
/* Writes "parent[index]" into buf. */
void pni_yaml_path_index(char *buf, size_t cap, const char *parent, long index);

pnas_status pni_yaml_expect_mapping(pni_yaml *y, const yaml_node_t *node, const char *path);
pnas_status pni_yaml_expect_sequence(pni_yaml *y, const yaml_node_t *node, const char *path);

/* Checks that every key of the mapping is a plain string among allowed[]
 * and appears once. */
pnas_status pni_yaml_check_keys(pni_yaml *y, const yaml_node_t *map, const char *path,
                                const char *const *allowed, size_t n_allowed);
/* The value of key in the mapping, or NULL. */
yaml_node_t *pni_yaml_get(pni_yaml *y, const yaml_node_t *map, const char *key);
/* The same, failing with "PATH: missing key 'KEY'" when it is absent. */
pnas_status pni_yaml_require(pni_yaml *y, const yaml_node_t *map, const char *path, const char *key,
                             yaml_node_t **out);

/* Sequence items, by index (0 <= i < pni_yaml_length). */
size_t pni_yaml_length(const yaml_node_t *seq);
yaml_node_t *pni_yaml_item(pni_yaml *y, const yaml_node_t *seq, size_t i);

/* 1 for a plain `null`, `~` or empty scalar. */
int pni_yaml_is_null(const yaml_node_t *node);
/* A plain decimal integer in [lo, hi]. */
pnas_status pni_yaml_int(pni_yaml *y, const yaml_node_t *node, const char *path, int64_t lo,
                         int64_t hi, int64_t *out);
/* A plain finite number. */
pnas_status pni_yaml_number(pni_yaml *y, const yaml_node_t *node, const char *path, double *out);
/* A plain `true` or `false`. */
pnas_status pni_yaml_bool(pni_yaml *y, const yaml_node_t *node, const char *path, int *out);
/* Any scalar's text (owned by the document, NUL-terminated). */
pnas_status pni_yaml_string(pni_yaml *y, const yaml_node_t *node, const char *path,
                            const char **out);

/* A short description of a node for "got ..." in messages: the scalar's
 * text, "a mapping" or "a sequence". Writes into buf and returns it. */
const char *pni_yaml_describe(const yaml_node_t *node, char *buf, size_t cap);

/* How many bytes of text (a string libyaml produced, so valid UTF-8) a
 * message quotes with "%.*s": at most max, never part of a character. */
int pni_yaml_quote_len(const char *text, size_t max);

/* The pieces every network description shares (architecture and space
 * YAML): a required integer key, `input: [h, w, c]` and the `stem` mapping
 * {channels, kernel (odd), stride (1 or 2)}. Messages name file, line, key. */
pnas_status pni_yaml_require_int32(pni_yaml *y, const yaml_node_t *map, const char *parent,
                                   const char *key, int64_t lo, int64_t hi, int32_t *out);
pnas_status pni_yaml_read_input(pni_yaml *y, const yaml_node_t *root, int32_t max_dim,
                                int32_t *height, int32_t *width, int32_t *channels);
pnas_status pni_yaml_read_stem(pni_yaml *y, const yaml_node_t *root, int32_t max_dim,
                               int32_t *channels, int32_t *kernel, int32_t *stride);

#endif /* PNI_IO_YAML_DOC_H */
