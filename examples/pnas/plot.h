/* SPDX-License-Identifier: MIT */
/* The figures of the `pnas` command, drawn with cairo into PNG files:
 * the search history (search.png), a derived architecture (arch.png) and
 * the accuracy-latency trade-off of several networks (tradeoff.png).
 * Used by `pnas search` and `pnas plot`. Only the command links cairo; the
 * library does not.
 *
 * Every function returns 0 on success. On failure it prints one line,
 * "pnas: error: MESSAGE" (naming the file, and the line for bad input), to
 * stderr and returns 1; no partial PNG is left at png_path. */
#ifndef PNAS_PLOT_H
#define PNAS_PLOT_H

#include <pnas/pnas.h>

/* Size of search.png: always PLOT_SEARCH_WIDTH wide; PLOT_SEARCH_HEIGHT tall
 * unless the heat map has more rows than fit (more than about 60
 * probability columns), then taller so that every row keeps 9 pixels. */
#define PLOT_SEARCH_WIDTH 1600
#define PLOT_SEARCH_HEIGHT 1000

/* Size of arch.png: PLOT_ARCH_WIDTH wide; PLOT_ARCH_HEIGHT tall when the
 * chain fits on one line, PLOT_ARCH_ROW_HEIGHT more for each further line. */
#define PLOT_ARCH_WIDTH 1600
#define PLOT_ARCH_HEIGHT 460
#define PLOT_ARCH_ROW_HEIGHT 300

/* history.csv (docs/formats.md, "history.csv") -> search.png: loss,
 * accuracy and expected latency per epoch, and a heat map of the
 * architecture probabilities of every candidate of every searched layer. */
int plot_search_history(const char *history_csv, const char *png_path);

/* An architecture -> arch.png, drawn as the ProxylessNAS paper draws its
 * networks: a chain of blocks coloured by kernel size, sized by expansion
 * ratio. block_latency_ms is NULL, or one entry per block (identity blocks
 * included), shown under each block; the title then gives their sum. */
int plot_architecture(const pnas_arch *arch, const double *block_latency_ms, const char *png_path);

/* The same, with the latency of the whole network (stem, blocks, head and
 * classifier) for the title; total_latency_ms < 0 means unknown. */
int plot_architecture_total(const pnas_arch *arch, const double *block_latency_ms,
                            double total_latency_ms, const char *png_path);

/* Size of tradeoff.png. */
#define PLOT_TRADEOFF_WIDTH 1200
#define PLOT_TRADEOFF_HEIGHT 760

/* A results CSV (header with network, test_acc as a fraction,
 * latency_ms_b1 and optionally predicted_latency_ms; one row per network,
 * as tests/bench/results.sh writes) -> tradeoff.png: test accuracy against
 * measured batch-1 latency, the predicted latency as a hollow marker, and,
 * when a row is named "searched", the region where it is within 0.2 points
 * of the most accurate other network at no more than 1/1.8 of its latency. */
int plot_tradeoff(const char *results_csv, const char *png_path);

#endif /* PNAS_PLOT_H */
