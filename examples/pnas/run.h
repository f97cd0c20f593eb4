/* SPDX-License-Identifier: MIT */
/* Progress reporting of the long commands (search, train): one live line on
 * a terminal, plain periodic lines otherwise, nothing with --quiet. */
#ifndef PNAS_CLI_RUN_H
#define PNAS_CLI_RUN_H

#include <stdint.h>

typedef struct run_progress {
  int quiet, tty;
  int total_epochs;
  int64_t steps_per_epoch;
  double epoch_start, last_print, images_per_s;
  int64_t images_since;
  double since;
  int64_t steps_done;
  double started;
  const char *validation; /* what the epoch line's second accuracy is: "held-out" (default) or "test" */
} run_progress;

void run_progress_init(run_progress *p, int quiet, int total_epochs, int64_t steps_per_epoch);
/* After each step: phase name, epoch (1-based), step in the epoch, images,
 * loss, accuracy of the batch and E[LAT] (0 when there is none). */
void run_progress_step(run_progress *p, const char *phase, int epoch, int64_t step,
                       int32_t images, double loss, double accuracy, double latency_ms);
/* Seconds since the epoch started (and restarts the epoch clock). */
double run_progress_epoch_seconds(run_progress *p);
void run_progress_epoch_end(run_progress *p, int epoch, double loss, double accuracy,
                            double val_accuracy);
double run_now(void);

#endif /* PNAS_CLI_RUN_H */
