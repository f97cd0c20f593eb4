/* SPDX-License-Identifier: MIT */
/* The official latency-table YAML: reading it into a pni_latency_table,
 * and writing a table back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "io/latency_io.h"
#include "io/yaml_doc.h"

static pnas_status read_entry(pni_yaml *y, const char *key, const yaml_node_t *value,
                              pni_latency_table *table) {
  static const char *const keys[] = {"count", "mean", "var"};
  pnas_status st;
  if ((st = pni_yaml_expect_mapping(y, value, key)) != PNAS_OK ||
      (st = pni_yaml_check_keys(y, value, key, keys, 3)) != PNAS_OK) {
    return st;
  }
  char path[PNI_LATENCY_KEY_CAPACITY + 16];
  yaml_node_t *node;
  double mean;
  pni_yaml_path(path, sizeof path, key, "mean");
  if ((st = pni_yaml_require(y, value, key, "mean", &node)) != PNAS_OK ||
      (st = pni_yaml_number(y, node, path, &mean)) != PNAS_OK) {
    return st;
  }
  if (mean < 0.0) {
    return pni_yaml_fail(y, node, path, "expected a latency of at least 0 ms, got %s",
                         (const char *)node->data.scalar.value);
  }
  int64_t count = -1;
  const yaml_node_t *count_node = pni_yaml_get(y, value, "count");
  if (count_node != NULL) {
    pni_yaml_path(path, sizeof path, key, "count");
    if ((st = pni_yaml_int(y, count_node, path, 0, INT64_MAX, &count)) != PNAS_OK) return st;
  }
  double var = NAN;
  const yaml_node_t *var_node = pni_yaml_get(y, value, "var");
  if (var_node != NULL) {
    pni_yaml_path(path, sizeof path, key, "var");
    if ((st = pni_yaml_number(y, var_node, path, &var)) != PNAS_OK) return st;
  }
  return pni_latency_table_add(table, key, count, mean, var);
}

static pnas_status read_table(pni_yaml *y, const yaml_node_t *root, pni_latency_table *table) {
  pnas_status st = pni_yaml_expect_mapping(y, root, "");
  if (st != PNAS_OK) return st;
  for (const yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);
    const char *key;
    if ((st = pni_yaml_string(y, k, "", &key)) != PNAS_OK) return st;
    if ((st = read_entry(y, key, v, table)) != PNAS_OK) return st;
  }
  size_t dup;
  if (pni_latency_table_finish(table, &dup)) {
    /* Sorting lost the lines; find the second occurrence for the message. */
    const char *key = table->entries[dup].key;
    const yaml_node_t *first = NULL, *second = NULL;
    for (const yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top && second == NULL; p++) {
      const yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
      if (strcmp((const char *)k->data.scalar.value, key) != 0) continue;
      if (first == NULL) {
        first = k;
      } else {
        second = k;
      }
    }
    return pni_yaml_fail(y, second != NULL ? second : root, key,
                         "duplicate key (first given on line %d)",
                         first != NULL ? pni_yaml_line(first) : 0);
  }
  return PNAS_OK;
}

pnas_status pni_latency_table_parse_yaml(pnas_context *ctx, const char *name, const char *text,
                                         size_t size, pni_latency_table *table) {
  pni_yaml y;
  pnas_status st = pni_yaml_load(&y, ctx, name, text, size);
  if (st != PNAS_OK) return st;
  st = read_table(&y, pni_yaml_root(&y), table);
  pni_yaml_free(&y);
  if (st != PNAS_OK) pni_latency_table_free(table);
  return st;
}

pnas_status pni_latency_table_load_yaml(pnas_context *ctx, const char *path,
                                        pni_latency_table *table) {
  char *text = NULL;
  size_t size = 0;
  pnas_status st = pni_file_read_all(ctx, path, PNI_LATENCY_FILE_MAX_BYTES, &text, &size);
  if (st != PNAS_OK) return st;
  st = pni_latency_table_parse_yaml(ctx, path, text, size, table);
  pni_free(ctx, text);
  return st;
}

/* ---- writing ----------------------------------------------------------- */

/* The shortest %.*g form that reads back to exactly v, so that a saved
 * table reloads with the same means and stays readable. */
static void put_number(pni_strbuf *b, double v) {
  char text[40];
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(text, sizeof text, "%.*g", digits, v);
    if (strtod(text, NULL) == v) break;
  }
  pni_strbuf_printf(b, "%s", text);
}

/* Official keys (letters, digits, '-', ':', '_', '.'; starting with a
 * letter, not ending in ':', and without spaces, so no ": " ends the key
 * early) are written plain, as the official files have them; any other key
 * is double-quoted, so that no key can be misread as null, a number or YAML
 * syntax. */
static int key_is_plain(const char *key) {
  const size_t len = strlen(key);
  if (len == 0 || !((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z'))) {
    return 0;
  }
  if (key[len - 1] == ':') return 0;
  if (strcmp(key, "null") == 0 || strcmp(key, "Null") == 0 || strcmp(key, "NULL") == 0) return 0;
  for (const char *p = key; *p != '\0'; p++) {
    const char c = *p;
    const int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == ':' || c == '_' || c == '.';
    if (!ok) return 0;
  }
  return 1;
}

static void put_key(pni_strbuf *b, const char *key) {
  if (key_is_plain(key)) {
    pni_strbuf_printf(b, "%s", key);
    return;
  }
  pni_strbuf_append(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') {
      pni_strbuf_printf(b, "\\%c", *p);
    } else if (*p < 0x20 || *p == 0x7f) {
      pni_strbuf_printf(b, "\\x%02x", (unsigned)*p);
    } else {
      /* UTF-8 bytes pass through: a double-quoted scalar holds them. */
      pni_strbuf_append(b, (const char *)p, 1);
    }
  }
  pni_strbuf_append(b, "\"", 1);
}

pnas_status pni_latency_table_save_yaml(pnas_context *ctx, const pni_latency_table *table,
                                        const char *path) {
  pni_strbuf b;
  pni_strbuf_init(&b, ctx);
  /* An empty document would read back as null, not as an empty table. */
  if (table->count == 0) pni_strbuf_printf(&b, "{}\n");
  for (size_t i = 0; i < table->count; i++) {
    const pni_latency_entry *e = &table->entries[i];
    put_key(&b, e->key);
    pni_strbuf_printf(&b, ":\n");
    if (e->count >= 0) pni_strbuf_printf(&b, "  count: %lld\n", (long long)e->count);
    pni_strbuf_printf(&b, "  mean: ");
    put_number(&b, e->mean_ms);
    pni_strbuf_printf(&b, "\n");
    if (isfinite(e->var)) {
      pni_strbuf_printf(&b, "  var: ");
      put_number(&b, e->var);
      pni_strbuf_printf(&b, "\n");
    }
  }
  pnas_status st = pni_strbuf_status(&b);
  if (st != PNAS_OK) {
    st = pni_fail(ctx, st, "out of memory while writing latency table '%s'", path);
  } else {
    st = pni_file_write_atomic(ctx, path, b.data, b.len);
  }
  pni_strbuf_free(&b);
  return st;
}
