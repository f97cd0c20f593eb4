/* SPDX-License-Identifier: MIT */
/* search.png: three panels over epochs (losses, accuracies, expected
 * latency) with the warm-up shaded, and a heat map of softmax(alpha) of
 * every candidate of every searched layer, one column per epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"
#include "plot_common.h"
#include "plot_history.h"

/* Colours (matplotlib's tab10) and the layout, in pixels. */
#define BLUE 0x1f77b4
#define ORANGE 0xff7f0e
#define GREEN 0x2ca02c
#define WARMUP_GRAY 0x808080
#define TEXT 0x222222
#define MUTED 0x666666

#define MARGIN 40.0
#define PANEL_TOP 100.0    /* top of the panels' frames */
#define PANEL_HEIGHT 215.0 /* height of the panels' frames */
#define HEAT_TITLE 392.0   /* baseline of the heat map's title */
#define HEAT_TOP 420.0     /* top of the heat map */
#define HEAT_BOTTOM 62.0   /* below the heat map: ticks and axis label */
#define ROW_MIN 9.0        /* smallest row of the heat map */
#define ROW_MAX 24.0       /* largest row of the heat map */
#define LAYER_GAP 5.0      /* white space between layers */

/* The warm-up band: from the left of the frame to halfway between the
 * last warm-up epoch and the first search epoch. */
static void draw_warmup(cairo_t *cr, const plot_axes *a, const plot_history *h) {
  int last = -1;
  for (int i = 0; i < h->rows && h->warmup[i]; i++) last = i;
  if (last < 0) return;
  const double edge = last + 1 < h->rows ? (h->epoch[last] + h->epoch[last + 1]) / 2.0 : a->xt.hi;
  double x1 = plot_px(a, edge);
  if (x1 > a->x + a->w) x1 = a->x + a->w;
  if (x1 <= a->x) return;
  cairo_save(cr);
  cairo_rectangle(cr, a->x, a->y, x1 - a->x, a->h);
  cairo_set_source_rgba(cr, 0.5, 0.5, 0.5, 0.13);
  cairo_fill(cr);
  if (last + 1 < h->rows) {
    plot_rgb(cr, WARMUP_GRAY);
    cairo_set_line_width(cr, 1.0);
    const double dash[2] = {4.0, 3.0};
    cairo_set_dash(cr, dash, 2, 0.0);
    cairo_move_to(cr, round(x1) + 0.5, a->y);
    cairo_line_to(cr, round(x1) + 0.5, a->y + a->h);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

/* Min and max of the finite values of up to two series (NULL: absent). */
static int range_of(const double *a, const double *b, int n, double scale, double *lo, double *hi) {
  int any = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  const double *s[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    if (s[k] == NULL) continue;
    for (int i = 0; i < n; i++) {
      if (!isfinite(s[k][i])) continue;
      const double v = s[k][i] * scale;
      if (v < *lo) *lo = v;
      if (v > *hi) *hi = v;
      any = 1;
    }
  }
  if (!any) {
    *lo = 0.0;
    *hi = 1.0;
  }
  return any;
}

typedef struct panel {
  const char *title, *ylabel;
  const double *y[2];
  const char *label[2];
  unsigned rgb[2];
  int dashed[2];
  int nseries;
  double scale; /* applied to the values (100 for percent) */
  double cap;   /* upper bound of the axis, or 0 */
} panel;

static void draw_panel(cairo_t *cr, const plot_history *h, const panel *p, double x, double w,
                       int markers) {
  plot_axes a;
  a.x = x;
  a.y = PANEL_TOP;
  a.w = w;
  a.h = PANEL_HEIGHT;
  /* Epochs: the limits are the first and last epoch, with room for the
   * markers; ticks are the nice values inside. */
  const double e0 = h->epoch[0], e1 = h->epoch[h->rows - 1];
  const double margin = e1 > e0 ? 0.03 * (e1 - e0) : 0.5;
  plot_tight_ticks(e0 - margin, e1 + margin, 6, 1.0, &a.xt);
  double lo, hi;
  range_of(p->y[0], p->nseries > 1 ? p->y[1] : NULL, h->rows, p->scale, &lo, &hi);
  /* A little room above and below the curves. */
  const double pad = (hi - lo) * 0.05;
  double lo_p = lo - pad, hi_p = hi + pad;
  if (lo >= 0.0 && lo_p < 0.0) lo_p = 0.0;
  plot_nice_ticks(lo_p, hi_p, 5, 0.0, &a.yt);
  if (p->cap > 0.0 && a.yt.hi > p->cap && hi <= p->cap) {
    a.yt.hi = p->cap;
    a.yt.count = (int)floor((a.yt.hi - a.yt.first) / a.yt.step + 1e-9) + 1;
  }
  plot_axes_draw(cr, &a, p->title, "epoch", p->ylabel);
  draw_warmup(cr, &a, h);

  double *scaled[2] = {NULL, NULL};
  for (int k = 0; k < p->nseries; k++) {
    scaled[k] = malloc((size_t)h->rows * sizeof(double));
    if (scaled[k] == NULL) break;
    for (int i = 0; i < h->rows; i++) scaled[k][i] = p->y[k][i] * p->scale;
  }
  plot_legend_entry entries[3];
  int ne = 0;
  const double *xs[2] = {h->epoch, h->epoch};
  const double *ys[2];
  int ns = 0;
  for (int k = 0; k < p->nseries; k++) {
    if (scaled[k] == NULL) continue;
    plot_series(cr, &a, h->epoch, scaled[k], h->rows, p->rgb[k], 2.0, p->dashed[k], markers);
    int any = 0;
    for (int i = 0; i < h->rows && !any; i++) any = isfinite(scaled[k][i]);
    if (!any) continue; /* e.g. no arch loss yet: warm-up only */
    entries[ne++] = (plot_legend_entry){p->label[k], p->rgb[k], p->dashed[k], markers, 0, 0.0};
    ys[ns++] = scaled[k];
  }
  if (h->warmup[0]) {
    entries[ne++] = (plot_legend_entry){"warm-up (weights only)", WARMUP_GRAY, 0, 0, 1, 0.3};
  }
  plot_legend(cr, &a, entries, ne, xs, ys, ns, h->rows);
  for (int k = 0; k < 2; k++) free(scaled[k]);
}

/* Row order of the heat map: by layer, then as in the file. */
typedef struct row_key {
  int layer, column;
} row_key;

static int by_layer(const void *pa, const void *pb) {
  const row_key *a = pa, *b = pb;
  if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
  return (a->column > b->column) - (a->column < b->column);
}

/* order[r]: the p column shown in row r. Returns NULL when out of memory. */
static int *row_order(const plot_history *h) {
  const size_t n = h->probs > 0 ? (size_t)h->probs : 1;
  int *order = malloc(n * sizeof *order);
  row_key *keys = malloc(n * sizeof *keys);
  if (order == NULL || keys == NULL) {
    free(order);
    free(keys);
    return NULL;
  }
  for (int i = 0; i < h->probs; i++) keys[i] = (row_key){h->prob_layer[i], i};
  qsort(keys, (size_t)h->probs, sizeof *keys, by_layer);
  for (int i = 0; i < h->probs; i++) order[i] = keys[i].column;
  free(keys);
  return order;
}

/* "mbconv5x5_e6" -> "MB6 5x5"; other names as they are. */
static void op_label(const char *op, char *buf, size_t size) {
  int k1 = 0, k2 = 0, e = 0, n = 0;
  if (sscanf(op, "mbconv%dx%d_e%d%n", &k1, &k2, &e, &n) == 3 && op[n] == '\0' && k1 == k2) {
    snprintf(buf, size, "MB%d %dx%d", e, k1, k2);
  } else {
    snprintf(buf, size, "%s", op);
  }
}

/* Height of the heat map's rows area for a given row height. */
static double heat_height(int probs, int layers, double row) {
  return probs * row + (layers > 1 ? (layers - 1) * LAYER_GAP : 0.0);
}

static int count_layers(const plot_history *h, const int *order) {
  int layers = 0;
  for (int r = 0; r < h->probs; r++) {
    if (r == 0 || h->prob_layer[order[r]] != h->prob_layer[order[r - 1]]) layers++;
  }
  return layers;
}

static void draw_colorbar(cairo_t *cr, double x, double y, double w, double hgt) {
  cairo_pattern_t *grad = cairo_pattern_create_linear(0.0, y + hgt, 0.0, y);
  for (int i = 0; i <= 32; i++) {
    double rgb[3];
    plot_viridis(i / 32.0, rgb);
    cairo_pattern_add_color_stop_rgb(grad, i / 32.0, rgb[0], rgb[1], rgb[2]);
  }
  cairo_rectangle(cr, x, y, w, hgt);
  cairo_set_source(cr, grad);
  cairo_fill(cr);
  cairo_pattern_destroy(grad);
  plot_rgb(cr, 0x333333);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, round(x) + 0.5, round(y) + 0.5, round(w), round(hgt));
  cairo_stroke(cr);
  plot_font(cr, 12.0, 0);
  char label[16];
  for (int i = 0; i <= 5; i++) {
    const double v = i / 5.0;
    const double ty = round(y + hgt - v * hgt) + 0.5;
    plot_rgb(cr, 0x333333);
    cairo_move_to(cr, x + w, ty);
    cairo_line_to(cr, x + w + 5.0, ty);
    cairo_stroke(cr);
    snprintf(label, sizeof label, "%.1f", v);
    plot_rgb(cr, TEXT);
    plot_text(cr, x + w + 9.0, ty, PLOT_LEFT, PLOT_MIDDLE, label);
  }
  plot_font(cr, 13.0, 0);
  plot_text_vertical(cr, x + w + 52.0, y + hgt / 2.0, PLOT_CENTER, PLOT_BASELINE, "probability");
}

static void draw_heatmap(cairo_t *cr, const plot_history *h, const int *order, double top,
                         double bottom, double width) {
  char label[64];
  plot_rgb(cr, TEXT);
  plot_font(cr, 15.0, 1);
  plot_text(cr, MARGIN, HEAT_TITLE, PLOT_LEFT, PLOT_BASELINE,
            "(d) Architecture probabilities softmax(\xce\xb1) per searched layer");
  if (h->probs == 0) {
    plot_font(cr, 13.0, 0);
    plot_rgb(cr, MUTED);
    plot_text(cr, MARGIN, top + 20.0, PLOT_LEFT, PLOT_TOP,
              "(the history has no p<layer>_<op> columns)");
    return;
  }
  const int layers = count_layers(h, order);
  /* Label widths decide where the map starts. */
  plot_font(cr, 11.0, 1);
  double layer_w = 0.0;
  for (int r = 0; r < h->probs; r++) {
    snprintf(label, sizeof label, "layer %d", h->prob_layer[order[r]]);
    const double w = plot_text_width(cr, label);
    if (w > layer_w) layer_w = w;
  }
  double row = (bottom - top - (layers - 1) * LAYER_GAP) / h->probs;
  if (row > ROW_MAX) row = ROW_MAX;
  const double op_size = row >= 12.0 ? 11.0 : row >= 10.0 ? 10.0 : 9.0;
  plot_font(cr, op_size, 1);
  double op_w = 0.0;
  for (int r = 0; r < h->probs; r++) {
    op_label(h->prob_op[order[r]], label, sizeof label);
    const double w = plot_text_width(cr, label);
    if (w > op_w) op_w = w;
  }
  const double fx = round(MARGIN + layer_w + 18.0 + op_w + 10.0);
  const double fw = round(width - fx - 150.0);
  const double fh = heat_height(h->probs, layers, row);
  const int n = h->rows;
  const double cw = fw / n;

  /* The chosen op of each layer at the last epoch. */
  unsigned char *chosen = calloc((size_t)h->probs, 1);
  const double *last = h->prob + (size_t)(n - 1) * (size_t)h->probs;
  for (int r = 0; r < h->probs;) {
    int end = r;
    while (end < h->probs && h->prob_layer[order[end]] == h->prob_layer[order[r]]) end++;
    int best = r;
    for (int k = r; k < end; k++) {
      if (last[order[k]] > last[order[best]]) best = k;
    }
    if (chosen != NULL) chosen[best] = 1;
    r = end;
  }

  /* Cells, labels and markers, layer by layer. */
  double y = top;
  for (int r = 0; r < h->probs; r++) {
    const int col = order[r];
    const int new_layer = r == 0 || h->prob_layer[col] != h->prob_layer[order[r - 1]];
    if (new_layer && r > 0) y += LAYER_GAP;
    const double y0 = round(y), y1 = round(y + row);
    for (int i = 0; i < n; i++) {
      const double x0 = round(fx + i * cw), x1 = round(fx + (i + 1) * cw);
      double rgb[3];
      plot_viridis(h->prob[(size_t)i * (size_t)h->probs + (size_t)col], rgb);
      cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
      cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
      cairo_fill(cr);
    }
    const int is_chosen = chosen != NULL && chosen[r];
    op_label(h->prob_op[col], label, sizeof label);
    plot_font(cr, op_size, is_chosen);
    plot_rgb(cr, is_chosen ? TEXT : MUTED);
    plot_text(cr, fx - 8.0, (y0 + y1) / 2.0, PLOT_RIGHT, PLOT_MIDDLE, label);
    if (is_chosen) {
      const double ym = (y0 + y1) / 2.0, xm = fx + fw + 4.0, s = fmin(row * 0.45, 6.0);
      plot_rgb(cr, 0x333333);
      cairo_move_to(cr, xm, ym);
      cairo_line_to(cr, xm + 1.6 * s, ym - s);
      cairo_line_to(cr, xm + 1.6 * s, ym + s);
      cairo_close_path(cr);
      cairo_fill(cr);
    }
    /* Layer label and bracket, once the layer's last row is known. */
    const int layer_end = r + 1 == h->probs || h->prob_layer[order[r + 1]] != h->prob_layer[col];
    if (layer_end) {
      int first = r;
      while (first > 0 && h->prob_layer[order[first - 1]] == h->prob_layer[col]) first--;
      const double gy0 = y1 - (r - first + 1) * row;
      const double bx = fx - op_w - 18.0;
      plot_rgb(cr, 0x999999);
      cairo_set_line_width(cr, 1.0);
      cairo_move_to(cr, bx + 4.0, gy0 + 1.0);
      cairo_line_to(cr, bx + 0.5, gy0 + 1.0);
      cairo_line_to(cr, bx + 0.5, y1 - 1.0);
      cairo_line_to(cr, bx + 4.0, y1 - 1.0);
      cairo_stroke(cr);
      snprintf(label, sizeof label, "layer %d", h->prob_layer[col]);
      plot_font(cr, 11.0, 1);
      plot_rgb(cr, TEXT);
      plot_text(cr, bx - 6.0, (gy0 + y1) / 2.0, PLOT_RIGHT, PLOT_MIDDLE, label);
    }
    y += row;
  }
  free(chosen);

  /* Warm-up boundary and phase labels above the map. */
  int warm = 0;
  while (warm < n && h->warmup[warm]) warm++;
  plot_font(cr, 11.0, 0);
  plot_rgb(cr, MUTED);
  if (warm > 0) {
    plot_text(cr, fx + warm * cw / 2.0, top - 6.0, PLOT_CENTER, PLOT_BASELINE, "warm-up");
  }
  if (warm < n) {
    plot_text(cr, fx + (warm + n) * cw / 2.0, top - 6.0, PLOT_CENTER, PLOT_BASELINE,
              warm > 0 ? "search" : "search (no warm-up)");
  }
  if (warm > 0 && warm < n) {
    const double bx = round(fx + warm * cw);
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_set_line_width(cr, 2.0);
    const double dash[2] = {5.0, 3.0};
    cairo_set_dash(cr, dash, 2, 0.0);
    cairo_move_to(cr, bx, top - 16.0);
    cairo_line_to(cr, bx, top + fh);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0.0);
  }

  /* Epoch ticks under the cell centres. */
  plot_ticks xt;
  plot_nice_ticks(h->epoch[0], h->epoch[n - 1], 12, 1.0, &xt);
  plot_rgb(cr, 0x333333);
  cairo_set_line_width(cr, 1.0);
  plot_font(cr, 12.0, 0);
  for (int i = 0; i < n; i++) {
    const double e = h->epoch[i];
    if (fabs(e / xt.step - round(e / xt.step)) > 1e-9) continue;
    const double cx = round(fx + (i + 0.5) * cw) + 0.5;
    plot_rgb(cr, 0x333333);
    cairo_move_to(cr, cx, top + fh);
    cairo_line_to(cr, cx, top + fh + 5.0);
    cairo_stroke(cr);
    plot_tick_label(&xt, e, label, sizeof label);
    plot_rgb(cr, TEXT);
    plot_text(cr, cx, top + fh + 10.0, PLOT_CENTER, PLOT_TOP, label);
  }
  plot_font(cr, 13.0, 0);
  plot_text(cr, fx + fw / 2.0, top + fh + 32.0, PLOT_CENTER, PLOT_TOP, "epoch");
  plot_font(cr, 11.0, 0);
  plot_rgb(cr, MUTED);
  plot_text(cr, fx + fw, top + fh + 32.0, PLOT_RIGHT, PLOT_TOP,
            "\xe2\x97\x80 and bold: the op derived from the last epoch");
  draw_colorbar(cr, fx + fw + 40.0, top, 18.0, fmax(fmin(fh, 320.0), 200.0));
}

/* "3 h 05 min", "4 min 10 s", "12.3 s". */
static void format_duration(double s, char *buf, size_t size) {
  if (!(s >= 0.0)) {
    snprintf(buf, size, "?");
  } else if (s >= 3600.0) {
    const long m = lround(s / 60.0);
    snprintf(buf, size, "%ld h %02ld min", m / 60, m % 60);
  } else if (s >= 60.0) {
    const long t = lround(s);
    snprintf(buf, size, "%ld min %02ld s", t / 60, t % 60);
  } else {
    snprintf(buf, size, "%.1f s", s);
  }
}

static void draw_title(cairo_t *cr, const plot_history *h, const char *csv, double width) {
  const char *base = strrchr(csv, '/');
  base = base != NULL ? base + 1 : csv;
  char text[512], dur[32];
  int warm = 0;
  double seconds = 0.0;
  for (int i = 0; i < h->rows; i++) {
    warm += h->warmup[i];
    if (isfinite(h->seconds[i])) seconds += h->seconds[i];
  }
  plot_rgb(cr, TEXT);
  plot_font(cr, 21.0, 1);
  snprintf(text, sizeof text, "ProxylessNAS search (%s)", base);
  plot_text(cr, MARGIN, 38.0, PLOT_LEFT, PLOT_BASELINE, text);
  format_duration(seconds, dur, sizeof dur);
  const int last = h->rows - 1;
  int pos = snprintf(text, sizeof text, "%d epoch%s (%d warm-up, %d search)  \xc2\xb7  %s", h->rows,
                     h->rows == 1 ? "" : "s", warm, h->rows - warm, dur);
  if (pos > 0 && (size_t)pos < sizeof text && isfinite(h->latency_ms[last])) {
    pos += snprintf(text + pos, sizeof text - (size_t)pos,
                    "  \xc2\xb7  final expected latency %.3g ms", h->latency_ms[last]);
  }
  if (pos > 0 && (size_t)pos < sizeof text && isfinite(h->val_acc[last])) {
    snprintf(text + pos, sizeof text - (size_t)pos, "  \xc2\xb7  final val. accuracy %.1f%%",
             100.0 * h->val_acc[last]);
  }
  plot_font(cr, 14.0, 0);
  plot_rgb(cr, MUTED);
  plot_text(cr, MARGIN, 62.0, PLOT_LEFT, PLOT_BASELINE, text);
  (void)width;
}

int plot_search_history(const char *history_csv, const char *png_path) {
  plot_history h;
  if (plot_history_read(history_csv, &h) != 0) return 1;
  int *order = row_order(&h);
  if (order == NULL) {
    plot_history_free(&h);
    return cli_error("cannot draw '%s': out of memory", png_path);
  }

  const int layers = h.probs > 0 ? count_layers(&h, order) : 0;
  double height = PLOT_SEARCH_HEIGHT;
  const double need = HEAT_TOP + heat_height(h.probs, layers, ROW_MIN) + HEAT_BOTTOM;
  if (need > height) height = ceil(need);
  if (height > 32000.0) height = 32000.0; /* cairo's limit; rows then shrink */

  plot_canvas canvas;
  if (plot_canvas_create(&canvas, PLOT_SEARCH_WIDTH, (int)height, png_path) != 0) {
    free(order);
    plot_history_free(&h);
    return 1;
  }
  cairo_t *cr = canvas.cr;
  const double width = PLOT_SEARCH_WIDTH;
  draw_title(cr, &h, history_csv, width);

  /* Top row: three panels of equal width. */
  const double slot = (width - 2.0 * MARGIN + 30.0) / 3.0;
  const double left_pad = 72.0, right_pad = 30.0;
  const int markers = h.rows <= 40;
  const panel panels[3] = {
      {"(a) Loss",
       "cross-entropy",
       {h.train_loss, h.arch_loss},
       {"train (weight steps)", "arch (held-out)"},
       {BLUE, ORANGE},
       {0, 0},
       2,
       1.0,
       0.0},
      {"(b) Accuracy",
       "accuracy (%)",
       {h.train_acc, h.val_acc},
       {"train", "validation (held-out)"},
       {BLUE, ORANGE},
       {0, 0},
       2,
       100.0,
       100.0},
      {"(c) Expected latency",
       "latency (ms)",
       {h.latency_ms, NULL},
       {"E[latency] under softmax(\xce\xb1)", NULL},
       {GREEN, 0},
       {0, 0},
       1,
       1.0,
       0.0},
  };
  for (int k = 0; k < 3; k++) {
    const double x0 = MARGIN - 30.0 + k * slot + left_pad;
    draw_panel(cr, &h, &panels[k], round(x0), round(slot - left_pad - right_pad), markers);
  }

  draw_heatmap(cr, &h, order, HEAT_TOP, height - HEAT_BOTTOM, width);
  free(order);
  plot_history_free(&h);
  return plot_canvas_finish(&canvas, png_path);
}
