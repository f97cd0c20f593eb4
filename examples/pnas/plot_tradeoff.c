/* SPDX-License-Identifier: MIT */
/* tradeoff.png: test accuracy against measured batch-1 latency, one point
 * per network, from a results CSV (tests/bench/results.sh writes one). The
 * latency the model predicted is drawn as a hollow marker joined to the
 * measured one, so that the prediction error is visible; the region where
 * the searched network meets the paper's claim against the most accurate
 * other network (its accuracy within 0.2 points at 1/1.8 of its latency) is
 * shaded. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"
#include "plot_common.h"

#define BLUE 0x1f77b4
#define ORANGE 0xff7f0e
#define GREEN 0x2ca02c
#define GRAY 0x777777
#define TEXT 0x222222

#define MAX_ROWS 32
#define MAX_LINE 1024
#define NAME_CAP 48

/* The claim shaded in the figure: accuracy within TARGET_POINTS of the
 * reference at no more than 1 / TARGET_SPEEDUP of its latency. */
#define TARGET_POINTS 0.2
#define TARGET_SPEEDUP 1.8

typedef struct tradeoff_row {
  char name[NAME_CAP];
  double acc_pct;      /* test accuracy, percent */
  double measured_ms;  /* batch-1 latency measured */
  double predicted_ms; /* NaN when the file has none */
} tradeoff_row;

typedef struct tradeoff_table {
  tradeoff_row rows[MAX_ROWS];
  int count;
} tradeoff_table;

/* Splits line (modified) at commas into at most cap fields; returns the
 * number of fields, or cap + 1 when there are more. Spaces around fields
 * are dropped. */
static int split_fields(char *line, char **fields, int cap) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == cap) return cap + 1;
    while (*p == ' ' || *p == '\t') p++;
    fields[n++] = p;
    char *comma = strchr(p, ',');
    char *end = comma != NULL ? comma : p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    const int last = comma == NULL;
    *end = '\0';
    if (last) return n;
    p = comma + 1;
  }
}

static int column_of(char **header, int n, const char *name) {
  for (int i = 0; i < n; i++) {
    if (strcmp(header[i], name) == 0) return i;
  }
  return -1;
}

static int parse_value(const char *path, int lineno, const char *column, const char *text,
                       double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  const double v = strtod(text, &end);
  if (text[0] == '\0' || end == text || *end != '\0' || errno != 0 || !isfinite(v)) {
    return cli_error("%s:%d: %s: '%s' is not a number", path, lineno, column, text);
  }
  if (v < lo || v > hi) {
    return cli_error("%s:%d: %s: %s is outside [%g, %g]", path, lineno, column, text, lo, hi);
  }
  *out = v;
  return 0;
}

/* Reads the CSV: a header naming at least network, test_acc (a fraction)
 * and latency_ms_b1, optionally predicted_latency_ms; one row per network. */
static int read_results(const char *path, tradeoff_table *t) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return cli_error("cannot open '%s': %s", path, strerror(errno));
  char line[MAX_LINE], header_line[MAX_LINE];
  char *header[32], *fields[32];
  int nheader = 0, lineno = 0, rc = 0;
  int c_name = -1, c_acc = -1, c_b1 = -1, c_pred = -1;
  t->count = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    if (strchr(line, '\n') == NULL && !feof(f)) {
      rc = cli_error("%s:%d: line longer than %d characters", path, lineno, MAX_LINE - 2);
      break;
    }
    line[strcspn(line, "\n")] = '\0';
    if (line[strspn(line, " \t\r")] == '\0') continue;
    if (nheader == 0) {
      memcpy(header_line, line, sizeof line);
      nheader = split_fields(header_line, header, 32);
      if (nheader > 32) {
        rc = cli_error("%s:%d: more than 32 columns", path, lineno);
        break;
      }
      c_name = column_of(header, nheader, "network");
      c_acc = column_of(header, nheader, "test_acc");
      c_b1 = column_of(header, nheader, "latency_ms_b1");
      c_pred = column_of(header, nheader, "predicted_latency_ms");
      const char *missing = c_name < 0 ? "network" : c_acc < 0 ? "test_acc" : c_b1 < 0 ? "latency_ms_b1" : NULL;
      if (missing != NULL) rc = cli_error("%s:%d: no '%s' column in the header", path, lineno, missing);
      continue;
    }
    const int n = split_fields(line, fields, 32);
    if (n != nheader) {
      rc = cli_error("%s:%d: %d fields, the header has %d", path, lineno, n > 32 ? 33 : n, nheader);
      break;
    }
    if (t->count == MAX_ROWS) {
      rc = cli_error("%s:%d: more than %d networks", path, lineno, MAX_ROWS);
      break;
    }
    tradeoff_row *r = &t->rows[t->count];
    if (fields[c_name][0] == '\0' || strlen(fields[c_name]) >= NAME_CAP) {
      rc = cli_error("%s:%d: network: the name must have 1 to %d characters", path, lineno,
                     NAME_CAP - 1);
      break;
    }
    snprintf(r->name, sizeof r->name, "%s", fields[c_name]);
    double acc = 0.0;
    rc = parse_value(path, lineno, "test_acc", fields[c_acc], 0.0, 1.0, &acc);
    if (rc == 0) rc = parse_value(path, lineno, "latency_ms_b1", fields[c_b1], 1e-9, 1e9, &r->measured_ms);
    r->predicted_ms = NAN;
    /* A network without a latency table has "n/a" or nothing there. */
    if (rc == 0 && c_pred >= 0 && fields[c_pred][0] != '\0' && strncmp(fields[c_pred], "n/a", 3) != 0) {
      rc = parse_value(path, lineno, "predicted_latency_ms", fields[c_pred], 1e-9, 1e9, &r->predicted_ms);
    }
    r->acc_pct = 100.0 * acc;
    if (rc == 0) t->count++;
  }
  if (rc == 0 && ferror(f)) rc = cli_error("cannot read '%s': %s", path, strerror(errno));
  fclose(f);
  if (rc == 0 && nheader == 0) rc = cli_error("%s: empty (no header line)", path);
  if (rc == 0 && t->count == 0) rc = cli_error("%s: no networks after the header", path);
  return rc;
}

/* The row named "searched", and the most accurate of the others: the
 * reference of the claim. Either is -1 when absent. */
static void find_pair(const tradeoff_table *t, int *searched, int *reference) {
  *searched = *reference = -1;
  for (int i = 0; i < t->count; i++) {
    if (strcmp(t->rows[i].name, "searched") == 0) {
      *searched = i;
    } else if (*reference < 0 || t->rows[i].acc_pct > t->rows[*reference].acc_pct) {
      *reference = i;
    }
  }
  if (*searched < 0) *reference = -1;
}

static void dot(cairo_t *cr, double x, double y, double r, unsigned rgb, int hollow) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, r, 0.0, 2.0 * M_PI);
  if (hollow) {
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_fill_preserve(cr);
    plot_rgb(cr, rgb);
    cairo_set_line_width(cr, 2.0);
    cairo_stroke(cr);
  } else {
    plot_rgb(cr, rgb);
    cairo_fill(cr);
  }
}

static void draw_target(cairo_t *cr, const plot_axes *a, const tradeoff_row *ref) {
  const double x1 = plot_px(a, ref->measured_ms / TARGET_SPEEDUP);
  const double y0 = plot_py(a, ref->acc_pct - TARGET_POINTS);
  const double top = a->y, left = a->x;
  if (x1 <= left || y0 <= top) return;
  cairo_save(cr);
  cairo_rectangle(cr, left, top, x1 - left, y0 - top);
  cairo_set_source_rgba(cr, 0x2c / 255.0, 0xa0 / 255.0, 0x2c / 255.0, 0.12);
  cairo_fill(cr);
  plot_rgb(cr, GREEN);
  cairo_set_line_width(cr, 1.0);
  const double dash[2] = {5.0, 3.0};
  cairo_set_dash(cr, dash, 2, 0.0);
  cairo_move_to(cr, left, round(y0) + 0.5);
  cairo_line_to(cr, round(x1) + 0.5, round(y0) + 0.5);
  cairo_line_to(cr, round(x1) + 0.5, top);
  cairo_stroke(cr);
  cairo_restore(cr);
}

static void draw_points(cairo_t *cr, const plot_axes *a, const tradeoff_table *t, int searched) {
  char label[128];
  /* Prediction error first, so that the markers cover the lines. */
  for (int i = 0; i < t->count; i++) {
    const tradeoff_row *r = &t->rows[i];
    if (!isfinite(r->predicted_ms)) continue;
    const double y = plot_py(a, r->acc_pct);
    cairo_save(cr);
    plot_rgb(cr, GRAY);
    cairo_set_line_width(cr, 1.2);
    const double dash[2] = {3.0, 3.0};
    cairo_set_dash(cr, dash, 2, 0.0);
    cairo_move_to(cr, plot_px(a, r->predicted_ms), y);
    cairo_line_to(cr, plot_px(a, r->measured_ms), y);
    cairo_stroke(cr);
    cairo_restore(cr);
    dot(cr, plot_px(a, r->predicted_ms), y, 5.0, i == searched ? ORANGE : BLUE, 1);
  }
  for (int i = 0; i < t->count; i++) {
    const tradeoff_row *r = &t->rows[i];
    const double x = plot_px(a, r->measured_ms), y = plot_py(a, r->acc_pct);
    dot(cr, x, y, i == searched ? 7.0 : 6.0, i == searched ? ORANGE : BLUE, 0);
    snprintf(label, sizeof label, "%s: %.2f%%, %.3f ms", r->name, r->acc_pct, r->measured_ms);
    plot_font(cr, 13.0, i == searched);
    plot_rgb(cr, TEXT);
    /* Right of the point, or left of it near the right edge. */
    const double w = plot_text_width(cr, label);
    const int left = x + 12.0 + w > a->x + a->w;
    plot_text(cr, left ? x - 12.0 : x + 12.0, y - 12.0, left ? PLOT_RIGHT : PLOT_LEFT, PLOT_MIDDLE,
              label);
  }
}

int plot_tradeoff(const char *results_csv, const char *png_path) {
  tradeoff_table *t = malloc(sizeof *t);
  if (t == NULL) return cli_error("out of memory");
  int rc = read_results(results_csv, t);
  if (rc != 0) {
    free(t);
    return rc;
  }
  int searched, reference;
  find_pair(t, &searched, &reference);

  double xmax = 0.0, ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < t->count; i++) {
    const tradeoff_row *r = &t->rows[i];
    xmax = fmax(xmax, fmax(r->measured_ms, isfinite(r->predicted_ms) ? r->predicted_ms : 0.0));
    ylo = fmin(ylo, r->acc_pct);
    yhi = fmax(yhi, r->acc_pct);
  }
  if (reference >= 0) ylo = fmin(ylo, t->rows[reference].acc_pct - TARGET_POINTS);
  const double ypad = fmax(0.15, 0.12 * (yhi - ylo));

  plot_canvas canvas;
  if (plot_canvas_create(&canvas, PLOT_TRADEOFF_WIDTH, PLOT_TRADEOFF_HEIGHT, png_path) != 0) {
    free(t);
    return 1;
  }
  cairo_t *cr = canvas.cr;
  plot_axes a;
  a.x = 100.0;
  a.y = 80.0;
  a.w = PLOT_TRADEOFF_WIDTH - a.x - 50.0;
  a.h = PLOT_TRADEOFF_HEIGHT - a.y - 80.0;
  /* Latency from zero, so that ratios read as lengths; room on the right
   * for the labels. */
  plot_nice_ticks(0.0, xmax * 1.3, 8, 0.0, &a.xt);
  plot_nice_ticks(ylo - ypad, yhi + 2.0 * ypad, 6, 0.0, &a.yt);
  plot_axes_draw(cr, &a, "Test accuracy against latency (Fashion-MNIST, batch 1)",
                 "latency, batch 1 (ms)", "test accuracy (%)");
  if (reference >= 0) draw_target(cr, &a, &t->rows[reference]);
  draw_points(cr, &a, t, searched);

  plot_legend_entry entries[4];
  int ne = 0;
  if (searched >= 0) entries[ne++] = (plot_legend_entry){"searched network (measured)", ORANGE, 0, 1, 0, 0.0};
  entries[ne++] = (plot_legend_entry){searched >= 0 ? "baselines (measured)" : "networks (measured)", BLUE, 0, 1, 0, 0.0};
  entries[ne++] = (plot_legend_entry){"latency predicted by the table (hollow)", GRAY, 1, 0, 0, 0.0};
  char target[128];
  if (reference >= 0) {
    snprintf(target, sizeof target, "within %.1f points of %s at \xe2\x89\xa4 1/%.1f of its latency",
             TARGET_POINTS, t->rows[reference].name, TARGET_SPEEDUP);
    entries[ne++] = (plot_legend_entry){target, GREEN, 0, 0, 1, 0.25};
  }
  double xs[MAX_ROWS], ys[MAX_ROWS];
  for (int i = 0; i < t->count; i++) {
    xs[i] = t->rows[i].measured_ms;
    ys[i] = t->rows[i].acc_pct;
  }
  /* Points, not a line: one series per point keeps the legend off them. */
  const double *px[MAX_ROWS], *py[MAX_ROWS];
  for (int i = 0; i < t->count; i++) {
    px[i] = &xs[i];
    py[i] = &ys[i];
  }
  plot_legend(cr, &a, entries, ne, px, py, t->count, 1);
  free(t);
  return plot_canvas_finish(&canvas, png_path);
}
