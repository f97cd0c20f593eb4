/* SPDX-License-Identifier: MIT */
/* Reading history.csv, the per-epoch log of `pnas search` (schema in
 * docs/formats.md, "history.csv"). Internal to the `pnas` command. */
#ifndef PNAS_PLOT_HISTORY_H
#define PNAS_PLOT_HISTORY_H

/* Limits that keep a bad file from exhausting memory. */
#define PLOT_HISTORY_MAX_BYTES (64L * 1024 * 1024)
#define PLOT_HISTORY_MAX_COLUMNS 4096
#define PLOT_HISTORY_MAX_ROWS 100000

/* One history: per row (epoch) the scalar columns, NaN where a cell is
 * empty, and the probabilities of the p columns in the order of the file. */
typedef struct plot_history {
  int rows;
  double *epoch, *train_loss, *train_acc, *arch_loss, *val_acc, *latency_ms, *lr, *seconds;
  unsigned char *warmup; /* 1 for a `warmup` row, 0 for a `search` row */
  int probs;             /* number of p columns */
  int *prob_layer;       /* per p column: the searched layer */
  char **prob_op;        /* per p column: the op name */
  double *prob;          /* rows x probs, row-major */
} plot_history;

/* Reads and checks the whole file. Returns 0, or prints one error line
 * naming the file (and the line and column when the content is at fault)
 * and returns 1 with *history empty. */
int plot_history_read(const char *path, plot_history *history);

/* Releases what plot_history_read() allocated; the struct may be reused. */
void plot_history_free(plot_history *history);

#endif /* PNAS_PLOT_HISTORY_H */
