/* SPDX-License-Identifier: MIT */
/* The exported functions of the "Latency models" section of pnas.h. */
#include "api/api.h"
#include "io/latency_io.h"
#include "search/latency.h"

static pnas_status model_check(const pnas_latency_model *model) {
  if (model == NULL) return PNAS_ERR_INVALID_ARGUMENT;
  if (model->tag != PNI_TAG_LATENCY || !pni_context_is_live(model->ctx)) {
    return PNAS_ERR_WRONG_HANDLE;
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_latency_model_load_table(pnas_context *context, const char *path,
                                                   pnas_latency_model **out_model) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (path == NULL || out_model == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_latency_model_load_table: %s is NULL",
                    path == NULL ? "path" : "out_model");
  }
  pni_latency_table table;
  pni_latency_table_init(&table, context);
  pnas_status st = pni_latency_table_load_yaml(context, path, &table);
  if (st != PNAS_OK) return st;
  pnas_latency_model *model = NULL;
  st = pni_latency_model_create_table(context, &table, path, &model);
  if (st != PNAS_OK) {
    pni_latency_table_free(&table);
    return st;
  }
  *out_model = model;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_latency_model_arch_latency(pnas_latency_model *model,
                                                     const pnas_arch *arch, double *out_ms) {
  const pnas_status st = model_check(model);
  if (st != PNAS_OK) return st;
  if (arch == NULL || out_ms == NULL) {
    return pni_fail(model->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_arch_latency: %s is NULL",
                    arch == NULL ? "arch" : "out_ms");
  }
  if (arch->tag != PNI_TAG_ARCH) {
    return pni_fail(model->ctx, PNAS_ERR_WRONG_HANDLE,
                    "pnas_latency_model_arch_latency: arch is not a live pnas_arch");
  }
  double ms;
  const pnas_status lat = pni_latency_model_arch_ms(model, arch, &ms);
  if (lat != PNAS_OK) return lat;
  *out_ms = ms;
  return PNAS_OK;
}

PNAS_API void pnas_latency_model_destroy(pnas_latency_model *model) {
  if (model_check(model) != PNAS_OK) return;
  pni_latency_model_destroy(model);
}
