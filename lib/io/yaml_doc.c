/* SPDX-License-Identifier: MIT */
#include "io/yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"

/* libyaml allocates with malloc and has no hook for the context's allocator;
 * its memory lives only for the duration of one load. */

static pnas_status syntax_error(pni_yaml *y, const yaml_parser_t *parser) {
  const char *problem = parser->problem != NULL ? parser->problem : "malformed document";
  const int line = (int)parser->problem_mark.line + 1;
  if (parser->error == YAML_MEMORY_ERROR) {
    return pni_fail(y->ctx, PNAS_ERR_OUT_OF_MEMORY, "%s: out of memory while parsing", y->name);
  }
  if (parser->context != NULL) {
    return pni_fail(y->ctx, PNAS_ERR_PARSE, "%s:%d: YAML syntax error: %s (%s, line %d)", y->name,
                    line, problem, parser->context, (int)parser->context_mark.line + 1);
  }
  return pni_fail(y->ctx, PNAS_ERR_PARSE, "%s:%d: YAML syntax error: %s", y->name, line, problem);
}

pnas_status pni_yaml_load(pni_yaml *y, pnas_context *ctx, const char *name, const char *text,
                          size_t size) {
  memset(y, 0, sizeof *y);
  y->ctx = ctx;
  y->name = name;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    return pni_fail(ctx, PNAS_ERR_OUT_OF_MEMORY, "%s: out of memory while parsing", name);
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
  pnas_status status = PNAS_OK;
  if (!yaml_parser_load(&parser, &y->doc)) {
    status = syntax_error(y, &parser);
    yaml_parser_delete(&parser);
    return status;
  }
  if (yaml_document_get_root_node(&y->doc) == NULL) {
    yaml_document_delete(&y->doc);
    yaml_parser_delete(&parser);
    return pni_fail(ctx, PNAS_ERR_PARSE, "%s:1: the document is empty", name);
  }
  /* A second document would be silently ignored; refuse it instead. */
  yaml_document_t next;
  if (!yaml_parser_load(&parser, &next)) {
    status = syntax_error(y, &parser);
  } else {
    const yaml_node_t *extra = yaml_document_get_root_node(&next);
    if (extra != NULL) {
      status = pni_fail(ctx, PNAS_ERR_PARSE, "%s:%d: expected one document, found a second", name,
                        (int)extra->start_mark.line + 1);
    }
    yaml_document_delete(&next);
  }
  yaml_parser_delete(&parser);
  if (status != PNAS_OK) {
    yaml_document_delete(&y->doc);
    return status;
  }
  y->loaded = 1;
  return PNAS_OK;
}

void pni_yaml_free(pni_yaml *y) {
  if (y->loaded) yaml_document_delete(&y->doc);
  y->loaded = 0;
}

yaml_node_t *pni_yaml_root(pni_yaml *y) {
  return yaml_document_get_root_node(&y->doc);
}

int pni_yaml_line(const yaml_node_t *node) {
  return (int)node->start_mark.line + 1;
}

pnas_status pni_yaml_fail(pni_yaml *y, const yaml_node_t *at, const char *path, const char *fmt,
                          ...) {
  char message[PNI_ERROR_CAPACITY];
  va_list ap;
  va_start(ap, fmt);
  pni_format_message(message, sizeof message, fmt, ap);
  va_end(ap);
  const int line = at != NULL ? pni_yaml_line(at) : 1;
  if (path != NULL && path[0] != '\0') {
    return pni_fail(y->ctx, PNAS_ERR_PARSE, "%s:%d: %s: %s", y->name, line, path, message);
  }
  return pni_fail(y->ctx, PNAS_ERR_PARSE, "%s:%d: %s", y->name, line, message);
}

void pni_yaml_path(char *buf, size_t cap, const char *parent, const char *key) {
  if (parent == NULL || parent[0] == '\0') {
    snprintf(buf, cap, "%s", key);
  } else {
    snprintf(buf, cap, "%s.%s", parent, key);
  }
}

void pni_yaml_path_index(char *buf, size_t cap, const char *parent, long index) {
  snprintf(buf, cap, "%s[%ld]", parent, index);
}

int pni_yaml_quote_len(const char *text, size_t max) {
  size_t len = strnlen(text, max + 1);
  if (len <= max) return (int)len;
  len = max;
  while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80) len--;
  return (int)len;
}

const char *pni_yaml_describe(const yaml_node_t *node, char *buf, size_t cap) {
  switch (node->type) {
    case YAML_MAPPING_NODE:
      snprintf(buf, cap, "a mapping");
      break;
    case YAML_SEQUENCE_NODE:
      snprintf(buf, cap, "a sequence");
      break;
    case YAML_SCALAR_NODE: {
      const char *text = (const char *)node->data.scalar.value;
      const int quoted = node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                         node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
      if (pni_yaml_is_null(node)) {
        snprintf(buf, cap, "null");
      } else if (quoted) {
        snprintf(buf, cap, "the string \"%.*s\"", pni_yaml_quote_len(text, 60), text);
      } else {
        snprintf(buf, cap, "%.*s", pni_yaml_quote_len(text, 60), text);
      }
      break;
    }
    default:
      snprintf(buf, cap, "nothing");
      break;
  }
  return buf;
}

static pnas_status wrong_type(pni_yaml *y, const yaml_node_t *node, const char *path,
                              const char *expected) {
  char got[96];
  return pni_yaml_fail(y, node, path, "expected %s, got %s", expected,
                       pni_yaml_describe(node, got, sizeof got));
}

pnas_status pni_yaml_expect_mapping(pni_yaml *y, const yaml_node_t *node, const char *path) {
  return node->type == YAML_MAPPING_NODE ? PNAS_OK : wrong_type(y, node, path, "a mapping");
}

pnas_status pni_yaml_expect_sequence(pni_yaml *y, const yaml_node_t *node, const char *path) {
  return node->type == YAML_SEQUENCE_NODE ? PNAS_OK : wrong_type(y, node, path, "a sequence");
}

static const char *key_text(pni_yaml *y, const yaml_node_pair_t *pair,
                            const yaml_node_t **key_node) {
  const yaml_node_t *k = yaml_document_get_node(&y->doc, pair->key);
  *key_node = k;
  if (k == NULL || k->type != YAML_SCALAR_NODE) return NULL;
  return (const char *)k->data.scalar.value;
}

pnas_status pni_yaml_check_keys(pni_yaml *y, const yaml_node_t *map, const char *path,
                                const char *const *allowed, size_t n_allowed) {
  const yaml_node_pair_t *start = map->data.mapping.pairs.start;
  const yaml_node_pair_t *top = map->data.mapping.pairs.top;
  for (const yaml_node_pair_t *p = start; p < top; p++) {
    const yaml_node_t *k;
    const char *key = key_text(y, p, &k);
    if (key == NULL) {
      return pni_yaml_fail(y, k != NULL ? k : map, path, "expected a plain key, got %s",
                           k != NULL && k->type == YAML_MAPPING_NODE ? "a mapping" : "a sequence");
    }
    size_t i = 0;
    while (i < n_allowed && strcmp(key, allowed[i]) != 0) i++;
    if (i == n_allowed) {
      char list[256] = "";
      size_t len = 0;
      for (size_t j = 0; j < n_allowed && len < sizeof list; j++) {
        const int n =
            snprintf(list + len, sizeof list - len, "%s%s", j > 0 ? ", " : "", allowed[j]);
        if (n < 0) break;
        len += (size_t)n;
      }
      char where[160];
      pni_yaml_path(where, sizeof where, path, key);
      return pni_yaml_fail(y, k, where, "unknown key (expected one of: %s)", list);
    }
    for (const yaml_node_pair_t *q = start; q < p; q++) {
      const yaml_node_t *first;
      const char *other = key_text(y, q, &first);
      if (other != NULL && strcmp(other, key) == 0) {
        char where[160];
        pni_yaml_path(where, sizeof where, path, key);
        return pni_yaml_fail(y, k, where, "duplicate key (first given on line %d)",
                             pni_yaml_line(first));
      }
    }
  }
  return PNAS_OK;
}

yaml_node_t *pni_yaml_get(pni_yaml *y, const yaml_node_t *map, const char *key) {
  if (map->type != YAML_MAPPING_NODE) return NULL;
  for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k;
    const char *text = key_text(y, p, &k);
    if (text != NULL && strcmp(text, key) == 0) return yaml_document_get_node(&y->doc, p->value);
  }
  return NULL;
}

pnas_status pni_yaml_require(pni_yaml *y, const yaml_node_t *map, const char *path, const char *key,
                             yaml_node_t **out) {
  yaml_node_t *value = pni_yaml_get(y, map, key);
  if (value == NULL) {
    if (path != NULL && path[0] != '\0') {
      return pni_yaml_fail(y, map, path, "missing key '%s'", key);
    }
    return pni_yaml_fail(y, map, "", "missing key '%s'", key);
  }
  *out = value;
  return PNAS_OK;
}

size_t pni_yaml_length(const yaml_node_t *seq) {
  return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *pni_yaml_item(pni_yaml *y, const yaml_node_t *seq, size_t i) {
  return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

static int is_plain(const yaml_node_t *node) {
  return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int pni_yaml_is_null(const yaml_node_t *node) {
  if (!is_plain(node)) return 0;
  const char *t = (const char *)node->data.scalar.value;
  return t[0] == '\0' || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
         strcmp(t, "NULL") == 0;
}

pnas_status pni_yaml_int(pni_yaml *y, const yaml_node_t *node, const char *path, int64_t lo,
                         int64_t hi, int64_t *out) {
  if (!is_plain(node) || pni_yaml_is_null(node)) return wrong_type(y, node, path, "an integer");
  const char *text = (const char *)node->data.scalar.value;
  /* Decimal only: YAML 1.1's octal and hex forms are more surprise than use. */
  const char *p = text;
  if (*p == '-' || *p == '+') p++;
  if (*p == '\0') return wrong_type(y, node, path, "an integer");
  for (const char *q = p; *q != '\0'; q++) {
    if (*q < '0' || *q > '9') return wrong_type(y, node, path, "an integer");
  }
  errno = 0;
  const long long v = strtoll(text, NULL, 10);
  if (errno == ERANGE || v < lo || v > hi) {
    return pni_yaml_fail(y, node, path, "expected an integer from %lld to %lld, got %s",
                         (long long)lo, (long long)hi, text);
  }
  *out = (int64_t)v;
  return PNAS_OK;
}

pnas_status pni_yaml_number(pni_yaml *y, const yaml_node_t *node, const char *path, double *out) {
  if (!is_plain(node) || pni_yaml_is_null(node)) return wrong_type(y, node, path, "a number");
  const char *text = (const char *)node->data.scalar.value;
  char *end = NULL;
  errno = 0;
  const double v = strtod(text, &end);
  /* strtod also takes "nan", "inf" and hex floats; a number here is finite
   * and written in decimal. */
  if (end == text || *end != '\0' || !isfinite(v) || strpbrk(text, "xXnN") != NULL) {
    return wrong_type(y, node, path, "a finite number");
  }
  *out = v;
  return PNAS_OK;
}

pnas_status pni_yaml_bool(pni_yaml *y, const yaml_node_t *node, const char *path, int *out) {
  if (is_plain(node)) {
    const char *text = (const char *)node->data.scalar.value;
    if (strcmp(text, "true") == 0) {
      *out = 1;
      return PNAS_OK;
    }
    if (strcmp(text, "false") == 0) {
      *out = 0;
      return PNAS_OK;
    }
  }
  return wrong_type(y, node, path, "true or false");
}

pnas_status pni_yaml_string(pni_yaml *y, const yaml_node_t *node, const char *path,
                            const char **out) {
  if (node->type != YAML_SCALAR_NODE || pni_yaml_is_null(node)) {
    return wrong_type(y, node, path, "a string");
  }
  *out = (const char *)node->data.scalar.value;
  return PNAS_OK;
}

pnas_status pni_yaml_require_int32(pni_yaml *y, const yaml_node_t *map, const char *parent,
                                   const char *key, int64_t lo, int64_t hi, int32_t *out) {
  char path[96];
  pni_yaml_path(path, sizeof path, parent, key);
  yaml_node_t *node = NULL;
  pnas_status st = pni_yaml_require(y, map, parent, key, &node);
  if (st != PNAS_OK) return st;
  int64_t v;
  st = pni_yaml_int(y, node, path, lo, hi, &v);
  if (st != PNAS_OK) return st;
  *out = (int32_t)v;
  return PNAS_OK;
}

pnas_status pni_yaml_read_input(pni_yaml *y, const yaml_node_t *root, int32_t max_dim,
                                int32_t *height, int32_t *width, int32_t *channels) {
  yaml_node_t *node = NULL;
  pnas_status st = pni_yaml_require(y, root, "", "input", &node);
  if (st != PNAS_OK) return st;
  if (node->type != YAML_SEQUENCE_NODE || pni_yaml_length(node) != 3) {
    char got[96];
    if (node->type == YAML_SEQUENCE_NODE) {
      snprintf(got, sizeof got, "a sequence of %zu", pni_yaml_length(node));
    } else {
      pni_yaml_describe(node, got, sizeof got);
    }
    return pni_yaml_fail(y, node, "input", "expected [height, width, channels], got %s", got);
  }
  static const char *const names[3] = {"input[0] (height)", "input[1] (width)",
                                       "input[2] (channels)"};
  int32_t *dst[3] = {height, width, channels};
  for (size_t i = 0; i < 3; i++) {
    int64_t v;
    st = pni_yaml_int(y, pni_yaml_item(y, node, i), names[i], 1, max_dim, &v);
    if (st != PNAS_OK) return st;
    *dst[i] = (int32_t)v;
  }
  return PNAS_OK;
}

pnas_status pni_yaml_read_stem(pni_yaml *y, const yaml_node_t *root, int32_t max_dim,
                               int32_t *channels, int32_t *kernel, int32_t *stride) {
  static const char *const keys[] = {"channels", "kernel", "stride"};
  yaml_node_t *stem;
  pnas_status st = pni_yaml_require(y, root, "", "stem", &stem);
  if (st != PNAS_OK) return st;
  if ((st = pni_yaml_expect_mapping(y, stem, "stem")) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, stem, "stem", keys, 3)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, stem, "stem", "channels", 1, max_dim, channels)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, stem, "stem", "kernel", 1, 15, kernel)) != PNAS_OK ||
      (st = pni_yaml_require_int32(y, stem, "stem", "stride", 1, 2, stride)) != PNAS_OK) {
    return st;
  }
  if (*kernel % 2 == 0) {
    return pni_yaml_fail(y, pni_yaml_get(y, stem, "kernel"), "stem.kernel",
                         "expected an odd size (1, 3, 5, ...), got %d", (int)*kernel);
  }
  return PNAS_OK;
}
