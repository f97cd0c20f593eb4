/* SPDX-License-Identifier: MIT */
/* What the figures share: a canvas written atomically to PNG, text with
 * anchors, nice tick values, axes with grid, ticks and labels, legends and
 * the viridis colour map. Internal to the `pnas` command. */
#ifndef PNAS_PLOT_COMMON_H
#define PNAS_PLOT_COMMON_H

#include <cairo.h>
#include <stddef.h>

/* The font of every figure; fontconfig falls back to any sans-serif. */
#define PLOT_FONT "DejaVu Sans"

/* An image surface and its drawing context. */
typedef struct plot_canvas {
  cairo_surface_t *surface;
  cairo_t *cr;
  int width, height;
} plot_canvas;

/* A white canvas of width x height pixels. Returns 0, or prints an error
 * naming png_path and returns 1. */
int plot_canvas_create(plot_canvas *canvas, int width, int height, const char *png_path);

/* Writes the canvas to png_path (a temporary file beside it, renamed over
 * it) and releases the canvas, also on failure. Returns 0 or prints an error
 * and returns 1. */
int plot_canvas_finish(plot_canvas *canvas, const char *png_path);

/* Releases the canvas without writing it. */
void plot_canvas_discard(plot_canvas *canvas);

/* Sets the source colour to 0xRRGGBB, with alpha 1. */
void plot_rgb(cairo_t *cr, unsigned rgb);

/* 0xRRGGBB mixed with white: amount 0 keeps the colour, 1 gives white. */
unsigned plot_lighten(unsigned rgb, double amount);

/* Selects the figure font at size pixels, bold or not. */
void plot_font(cairo_t *cr, double size, int bold);

/* Horizontal anchors (fraction of the text's width left of x). */
#define PLOT_LEFT 0.0
#define PLOT_CENTER 0.5
#define PLOT_RIGHT 1.0

/* Vertical anchors. */
typedef enum plot_valign {
  PLOT_TOP,      /* y is the top of the capital letters */
  PLOT_MIDDLE,   /* y is the middle of the capital letters */
  PLOT_BASELINE, /* y is the baseline */
} plot_valign;

/* Draws text with the current font and colour, anchored at (x, y). */
void plot_text(cairo_t *cr, double x, double y, double halign, plot_valign valign,
               const char *text);

/* The same, rotated 90 degrees counter-clockwise (read bottom to top); the
 * anchors are in the text's own frame. */
void plot_text_vertical(cairo_t *cr, double x, double y, double halign, plot_valign valign,
                        const char *text);

/* Width in pixels of text in the current font. */
double plot_text_width(cairo_t *cr, const char *text);

/* The viridis colour map at t in [0, 1] (clamped), as r, g, b in [0, 1]. */
void plot_viridis(double t, double rgb[3]);

/* Tick values lo, lo + step, ..., hi with step 1, 2 or 5 times a power of
 * ten, covering [min, max] with about target intervals. */
typedef struct plot_ticks {
  double lo, hi; /* the axis limits */
  double step;
  double first; /* the first tick (lo, unless the limits are tight) */
  int count;    /* number of ticks */
  int decimals; /* digits after the point that the labels need */
} plot_ticks;

/* Nice ticks over [min, max]; min_step > 0 bounds the step from below
 * (1 for integer axes). A degenerate range is widened. */
void plot_nice_ticks(double min, double max, int target, double min_step, plot_ticks *ticks);

/* Ticks as plot_nice_ticks() gives, but with limits exactly [min, max]:
 * the ticks are the multiples of the step inside them. */
void plot_tight_ticks(double min, double max, int target, double min_step, plot_ticks *ticks);

/* The label of value v with ticks' decimals ("0.5", "12", "-0"-free). */
void plot_tick_label(const plot_ticks *ticks, double v, char *buf, size_t size);

/* A plot area: its frame in pixels and the data ranges of its ticks. */
typedef struct plot_axes {
  double x, y, w, h; /* frame: left, top, width, height */
  plot_ticks xt, yt;
} plot_axes;

/* Pixel coordinates of data coordinates. */
double plot_px(const plot_axes *axes, double x);
double plot_py(const plot_axes *axes, double y);

/* Grid lines, frame, ticks, tick labels, axis labels and the title (bold,
 * above the frame, left aligned). */
void plot_axes_draw(cairo_t *cr, const plot_axes *axes, const char *title, const char *xlabel,
                    const char *ylabel);

/* A polyline through the finite points (x[i], y[i]), broken at NaN, with a
 * dot at each point when markers is set; clipped to the frame. */
void plot_series(cairo_t *cr, const plot_axes *axes, const double *x, const double *y, int n,
                 unsigned rgb, double line_width, int dashed, int markers);

/* One legend entry: a line (with dot when markers is set), or a filled
 * patch when patch is set. */
typedef struct plot_legend_entry {
  const char *label;
  unsigned rgb;
  int dashed, markers, patch;
  double patch_alpha;
} plot_legend_entry;

/* Draws a boxed legend in the corner of the frame that covers the fewest
 * of the n data points (xs[k][i], ys[k][i]) of the nseries series. */
void plot_legend(cairo_t *cr, const plot_axes *axes, const plot_legend_entry *entries, int nentries,
                 const double *const *xs, const double *const *ys, int nseries, int n);

#endif /* PNAS_PLOT_COMMON_H */
