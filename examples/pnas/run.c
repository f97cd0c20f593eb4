/* SPDX-License-Identifier: MIT */
#include "run.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double run_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void run_progress_init(run_progress *p, int quiet, int total_epochs, int64_t steps_per_epoch) {
  p->quiet = quiet;
  p->tty = isatty(fileno(stdout));
  p->total_epochs = total_epochs;
  p->steps_per_epoch = steps_per_epoch > 0 ? steps_per_epoch : 1;
  p->started = p->epoch_start = p->last_print = p->since = run_now();
  p->images_per_s = 0.0;
  p->images_since = 0;
  p->steps_done = 0;
  p->validation = "held-out";
}

static void format_duration(double s, char *buf, size_t cap) {
  const long t = s > 0 ? (long)(s + 0.5) : 0;
  if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

void run_progress_step(run_progress *p, const char *phase, int epoch, int64_t step,
                       int32_t images, double loss, double accuracy, double latency_ms) {
  p->steps_done++;
  p->images_since += images;
  const double now = run_now();
  if (now - p->since >= 1.0) {
    p->images_per_s = (double)p->images_since / (now - p->since);
    p->images_since = 0;
    p->since = now;
  }
  if (p->quiet) return;
  /* A terminal gets a live line five times a second; a log gets a line
   * every tenth of an epoch. */
  const int64_t tenth = p->steps_per_epoch / 10 > 0 ? p->steps_per_epoch / 10 : 1;
  if (p->tty ? now - p->last_print < 0.2 : step % tenth != 0) return;
  p->last_print = now;
  const int64_t total_steps = (int64_t)p->total_epochs * p->steps_per_epoch;
  const int64_t global = (int64_t)(epoch - 1) * p->steps_per_epoch + step;
  const double per_step = (now - p->started) / (double)p->steps_done;
  char left[32];
  format_duration(per_step * (double)(total_steps - global), left, sizeof left);
  printf("%s%-6s epoch %d/%d step %lld/%lld  %6.0f img/s  loss %.4f  acc %.3f  E[LAT] %.4f ms"
         "  left %s%s",
         p->tty ? "\r" : "", phase, epoch, p->total_epochs, (long long)step,
         (long long)p->steps_per_epoch, p->images_per_s, loss, accuracy, latency_ms, left,
         p->tty ? "\033[K" : "\n");
  fflush(stdout);
}

double run_progress_epoch_seconds(run_progress *p) {
  const double now = run_now();
  const double s = now - p->epoch_start;
  p->epoch_start = now;
  return s;
}

void run_progress_epoch_end(run_progress *p, int epoch, double loss, double accuracy,
                            double val_accuracy) {
  if (p->quiet) return;
  printf("%sepoch %d/%d: train loss %.4f acc %.4f, %s acc %.4f (%.0f s elapsed)\n",
         p->tty ? "\r\033[K" : "", epoch, p->total_epochs, loss, accuracy, p->validation,
         val_accuracy, run_now() - p->started);
  fflush(stdout);
}
