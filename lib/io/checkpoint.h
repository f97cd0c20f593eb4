/* SPDX-License-Identifier: MIT */
/* Supernet checkpoints (format in checkpoint.c). Private. */
#ifndef PNI_IO_CHECKPOINT_H
#define PNI_IO_CHECKPOINT_H

#include <stddef.h>

#include "core/context.h"

pnas_status pni_checkpoint_save(const pnas_supernet *sn, const char *path, const void *host,
                                size_t host_size);
/* max_batch > 0 overrides the stored one. On success the context's
 * generator is set to the stored state and *out_host (when not NULL)
 * receives the host data, to be freed with pnas_free (NULL when empty). */
pnas_status pni_checkpoint_load(pnas_context *ctx, const char *path, int32_t max_batch,
                                pnas_supernet **out, void **out_host, size_t *out_host_size);

#endif /* PNI_IO_CHECKPOINT_H */
