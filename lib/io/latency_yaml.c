/* SPDX-License-Identifier: MIT */
/* Reading the official latency-table YAML into a pni_latency_table. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
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
