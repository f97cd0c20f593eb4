/* SPDX-License-Identifier: MIT */
/* The exported functions of the "Latency models" section of pnas.h. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "io/latency_io.h"
#include "search/latency.h"
#include "search/space.h"

/* The first published layouts; a caller's struct is at least this big and
 * later versions append members. */
#define PROFILE_OPTIONS_V1_SIZE (offsetof(pnas_profile_options, repeats) + sizeof(int32_t))
#define BLOCK_INFO_V1_SIZE (offsetof(pnas_block_info, params) + sizeof(int64_t))

/* Bounds on the profiler's settings: beyond them a run is a mistake (hours
 * of timing, or a batch no device holds), not a measurement. */
#define PROFILE_MAX_BATCH 65536
#define PROFILE_MAX_RUNS 1000000

/* PNAS_OK for a live pnas_latency_model, else pni_handle_status(); a macro so that
 * __func__ names the exported function. */
#define model_check(model)                                                          \
  ((model) != NULL && (model)->tag == PNI_TAG_LATENCY && pni_context_is_live((model)->ctx) \
       ? PNAS_OK                                                                 \
       : pni_handle_status((model), __func__, "pnas_latency_model"))

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

PNAS_API pnas_status pnas_latency_model_create_callback(pnas_context *context, pnas_latency_fn fn,
                                                        void *user,
                                                        pnas_latency_model **out_model) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (fn == NULL || out_model == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_create_callback: %s is NULL",
                    fn == NULL ? "fn" : "out_model");
  }
  pnas_latency_model *model = NULL;
  const pnas_status st = pni_latency_model_create_callback(context, fn, user, &model);
  if (st != PNAS_OK) return st;
  *out_model = model;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_latency_model_create_macs(pnas_context *context, double ms_per_mmac,
                                                    pnas_latency_model **out_model) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (out_model == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_create_macs: out_model is NULL");
  }
  if (!isfinite(ms_per_mmac) || !(ms_per_mmac > 0.0)) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_create_macs: ms_per_mmac is %g; it must be finite and > 0",
                    ms_per_mmac);
  }
  pnas_latency_model *model = NULL;
  const pnas_status st = pni_latency_model_create_macs(context, ms_per_mmac, &model);
  if (st != PNAS_OK) return st;
  *out_model = model;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_profile_options_init_sized(pnas_profile_options *options,
                                                     size_t struct_size) {
  if (options == NULL || struct_size < PROFILE_OPTIONS_V1_SIZE) return PNAS_ERR_INVALID_ARGUMENT;
  pnas_profile_options d;
  memset(&d, 0, sizeof d);
  d.struct_size = struct_size;
  d.batch = 1;
  d.warmup = 5;
  d.repeats = 21;
  if (struct_size > sizeof d) memset((char *)options + sizeof d, 0, struct_size - sizeof d);
  memcpy(options, &d, struct_size < sizeof d ? struct_size : sizeof d);
  return PNAS_OK;
}

static pnas_status check_run_count(pnas_context *ctx, const char *member, int32_t value, int32_t lo,
                                   int32_t hi) {
  if (value >= lo && value <= hi) return PNAS_OK;
  return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                  "pnas_profile_options.%s is %d; it must be between %d and %d", member, (int)value,
                  (int)lo, (int)hi);
}

/* The caller's options over the defaults, checked. */
static pnas_status resolve_profile_options(pnas_context *ctx, const pnas_profile_options *in,
                                           pnas_profile_options *out) {
  pnas_profile_options_init(out);
  if (in != NULL) {
    if (in->struct_size < PROFILE_OPTIONS_V1_SIZE || in->struct_size > 4096) {
      return pni_fail(ctx, PNAS_ERR_INVALID_ARGUMENT,
                      "pnas_profile_options.struct_size is %zu: fill the struct with "
                      "pnas_profile_options_init() first",
                      in->struct_size);
    }
    memcpy(out, in, in->struct_size < sizeof *out ? in->struct_size : sizeof *out);
    out->struct_size = sizeof *out;
  }
  pnas_status st;
  if ((st = check_run_count(ctx, "batch", out->batch, 1, PROFILE_MAX_BATCH)) != PNAS_OK ||
      (st = check_run_count(ctx, "warmup", out->warmup, 0, PROFILE_MAX_RUNS)) != PNAS_OK ||
      (st = check_run_count(ctx, "repeats", out->repeats, 1, PROFILE_MAX_RUNS)) != PNAS_OK) {
    return st;
  }
  return PNAS_OK;
}

PNAS_API pnas_status pnas_latency_model_profile(pnas_context *context, const pnas_space *space,
                                                const pnas_profile_options *options,
                                                pnas_latency_model **out_model) {
  if (!pni_context_is_live(context)) return pni_context_check_status(context);
  if (space == NULL || out_model == NULL) {
    return pni_fail(context, PNAS_ERR_INVALID_ARGUMENT, "pnas_latency_model_profile: %s is NULL",
                    space == NULL ? "space" : "out_model");
  }
  if (space->tag != PNI_TAG_SPACE || !pni_context_is_live(space->ctx)) {
    return pni_fail(context, PNAS_ERR_WRONG_HANDLE,
                    "pnas_latency_model_profile: space is not a live pnas_space");
  }
  pnas_profile_options resolved;
  pnas_status st = resolve_profile_options(context, options, &resolved);
  if (st != PNAS_OK) return st;
  pnas_latency_model *model = NULL;
  st = pni_latency_profile(context, space, &resolved, &model);
  if (st != PNAS_OK) return st;
  *out_model = model;
  return PNAS_OK;
}

PNAS_API pnas_status pnas_latency_model_save_table(const pnas_latency_model *model,
                                                   const char *path) {
  const pnas_status st = model_check(model);
  if (st != PNAS_OK) return st;
  if (path == NULL) {
    return pni_fail(model->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_save_table: path is NULL");
  }
  if (model->kind != PNI_LATENCY_TABLE) {
    return pni_fail(model->ctx, PNAS_ERR_UNSUPPORTED,
                    "pnas_latency_model_save_table: the model is a %s model, not a table; only "
                    "loaded or profiled tables can be saved",
                    model->kind == PNI_LATENCY_CALLBACK ? "callback" : "MACs");
  }
  return pni_latency_table_save_yaml(model->ctx, &model->table, path);
}

PNAS_API pnas_status pnas_latency_model_block_latency(pnas_latency_model *model,
                                                      const pnas_block_info *block,
                                                      double *out_ms) {
  pnas_status st = model_check(model);
  if (st != PNAS_OK) return st;
  if (block == NULL || out_ms == NULL) {
    return pni_fail(model->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_block_latency: %s is NULL",
                    block == NULL ? "block" : "out_ms");
  }
  if (block->struct_size < BLOCK_INFO_V1_SIZE) {
    return pni_fail(model->ctx, PNAS_ERR_INVALID_ARGUMENT,
                    "pnas_latency_model_block_latency: block->struct_size is %zu; fill the "
                    "struct with pnas_block_info_init() first",
                    block->struct_size);
  }
  pnas_block_info in;
  memset(&in, 0, sizeof in);
  memcpy(&in, block, block->struct_size < sizeof in ? block->struct_size : sizeof in);
  pni_block b;
  st = pni_latency_block_from_info(model->ctx, "pnas_latency_model_block_latency: block", &in, &b);
  if (st != PNAS_OK) return st;
  double ms;
  st = pni_latency_model_block_ms(model, &b, &ms);
  if (st != PNAS_OK) return st;
  *out_ms = ms;
  return PNAS_OK;
}
