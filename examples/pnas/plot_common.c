/* SPDX-License-Identifier: MIT */
/* What the figures share: canvas and PNG output, text, ticks, axes,
 * series, legends and the viridis colour map. */
#include "plot_common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- canvas and PNG ----------------------------------------------------- */

int plot_canvas_create(plot_canvas *canvas, int width, int height, const char *png_path) {
  memset(canvas, 0, sizeof *canvas);
  canvas->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(canvas->surface) != CAIRO_STATUS_SUCCESS) {
    const char *why = cairo_status_to_string(cairo_surface_status(canvas->surface));
    cairo_surface_destroy(canvas->surface);
    canvas->surface = NULL;
    return cli_error("cannot draw '%s' (%dx%d pixels): %s", png_path, width, height, why);
  }
  canvas->cr = cairo_create(canvas->surface);
  canvas->width = width;
  canvas->height = height;
  cairo_set_source_rgb(canvas->cr, 1.0, 1.0, 1.0);
  cairo_paint(canvas->cr);
  cairo_set_line_join(canvas->cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(canvas->cr, CAIRO_LINE_CAP_BUTT);
  return 0;
}

void plot_canvas_discard(plot_canvas *canvas) {
  if (canvas->cr != NULL) cairo_destroy(canvas->cr);
  if (canvas->surface != NULL) cairo_surface_destroy(canvas->surface);
  canvas->cr = NULL;
  canvas->surface = NULL;
}

typedef struct png_sink {
  FILE *file;
  int error; /* errno of the first failed write, or 0 */
} png_sink;

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int length) {
  png_sink *sink = closure;
  if (fwrite(data, 1, length, sink->file) != length) {
    if (sink->error == 0) sink->error = errno != 0 ? errno : EIO;
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

int plot_canvas_finish(plot_canvas *canvas, const char *png_path) {
  cairo_status_t st = cairo_status(canvas->cr);
  if (st != CAIRO_STATUS_SUCCESS) {
    plot_canvas_discard(canvas);
    return cli_error("cannot draw '%s': %s", png_path, cairo_status_to_string(st));
  }
  cairo_surface_flush(canvas->surface);
  const size_t n = strlen(png_path) + 32;
  char *tmp = malloc(n);
  if (tmp == NULL) {
    plot_canvas_discard(canvas);
    return cli_error("cannot write '%s': out of memory", png_path);
  }
  snprintf(tmp, n, "%s.tmp%ld", png_path, (long)getpid());
  int status = 0;
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (f == NULL) {
    status = cli_error("cannot write '%s': %s", png_path, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    goto done;
  }
  png_sink sink = {f, 0};
  errno = 0;
  st = cairo_surface_write_to_png_stream(canvas->surface, png_write, &sink);
  const int close_failed = fclose(f) != 0;
  if (st != CAIRO_STATUS_SUCCESS || sink.error != 0 || close_failed) {
    const char *why = sink.error != 0 ? strerror(sink.error)
                      : close_failed  ? strerror(errno)
                                      : cairo_status_to_string(st);
    status = cli_error("cannot write '%s': %s", png_path, why);
    unlink(tmp);
    goto done;
  }
  if (rename(tmp, png_path) != 0) {
    status = cli_error("cannot write '%s': %s", png_path, strerror(errno));
    unlink(tmp);
  }
done:
  free(tmp);
  plot_canvas_discard(canvas);
  return status;
}

/* ---- colour and text ---------------------------------------------------- */

void plot_rgb(cairo_t *cr, unsigned rgb) {
  cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                       (rgb & 0xff) / 255.0);
}

unsigned plot_lighten(unsigned rgb, double amount) {
  unsigned out = 0;
  for (int shift = 16; shift >= 0; shift -= 8) {
    const double c = (rgb >> shift) & 0xff;
    const double v = c + (255.0 - c) * amount;
    out |= (unsigned)lround(v < 0 ? 0 : v > 255 ? 255 : v) << shift;
  }
  return out;
}

void plot_font(cairo_t *cr, double size, int bold) {
  cairo_select_font_face(cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double plot_text_width(cairo_t *cr, const char *text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text, &e);
  return e.x_advance;
}

/* Height of the capital letters of the current font (DejaVu Sans: 0.73 em). */
static double cap_height(cairo_t *cr) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_text_extents_t te;
  cairo_text_extents(cr, "H", &te);
  return te.height > 0 ? te.height : 0.73 * fe.ascent;
}

void plot_text(cairo_t *cr, double x, double y, double halign, plot_valign valign,
               const char *text) {
  const double w = plot_text_width(cr, text);
  const double cap = cap_height(cr);
  double base = y;
  if (valign == PLOT_TOP) base = y + cap;
  if (valign == PLOT_MIDDLE) base = y + cap / 2.0;
  cairo_move_to(cr, x - halign * w, base);
  cairo_show_text(cr, text);
  cairo_new_path(cr);
}

void plot_text_vertical(cairo_t *cr, double x, double y, double halign, plot_valign valign,
                        const char *text) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -M_PI / 2.0);
  plot_text(cr, 0.0, 0.0, halign, valign, text);
  cairo_restore(cr);
}

/* ---- viridis ------------------------------------------------------------ */

/* matplotlib's viridis (van der Walt and Smith), every 16th of its 256
 * entries and the last; linear interpolation in between. */
static const double viridis_table[17][3] = {
    {0.267004, 0.004874, 0.329415}, {0.282327, 0.094955, 0.417331}, {0.278826, 0.175490, 0.483397},
    {0.258965, 0.251537, 0.524736}, {0.229739, 0.322361, 0.545706}, {0.199430, 0.387607, 0.554642},
    {0.172719, 0.448791, 0.557885}, {0.149039, 0.508051, 0.557250}, {0.127568, 0.566949, 0.550556},
    {0.120638, 0.625828, 0.533488}, {0.157851, 0.683765, 0.501686}, {0.246070, 0.738910, 0.452024},
    {0.369214, 0.788888, 0.382914}, {0.515992, 0.831158, 0.294279}, {0.678489, 0.863742, 0.189503},
    {0.845561, 0.887322, 0.099702}, {0.993248, 0.906157, 0.143936},
};

void plot_viridis(double t, double rgb[3]) {
  if (!(t > 0.0)) t = 0.0; /* NaN too */
  if (t > 1.0) t = 1.0;
  /* Anchors at 0, 16, ..., 240 and 255 of 255. */
  const double pos = t * 255.0;
  int i = (int)(pos / 16.0);
  if (i > 15) i = 15;
  const double a = i * 16.0, b = i == 15 ? 255.0 : a + 16.0;
  const double f = (pos - a) / (b - a);
  for (int c = 0; c < 3; c++) {
    rgb[c] = viridis_table[i][c] + f * (viridis_table[i + 1][c] - viridis_table[i][c]);
  }
}

/* ---- ticks -------------------------------------------------------------- */

static double nice_step(double raw) {
  const double p = pow(10.0, floor(log10(raw)));
  const double m = raw / p;
  if (m <= 1.0) return p;
  if (m <= 2.0) return 2.0 * p;
  if (m <= 5.0) return 5.0 * p;
  return 10.0 * p;
}

void plot_nice_ticks(double min, double max, int target, double min_step, plot_ticks *ticks) {
  if (!isfinite(min) || !isfinite(max)) {
    min = 0.0;
    max = 1.0;
  }
  if (max < min) {
    const double t = min;
    min = max;
    max = t;
  }
  if (max - min < 1e-12 * (fabs(min) + fabs(max)) || max - min < 1e-300) {
    const double pad = fabs(min) > 0 ? fabs(min) * 0.1 : 1.0;
    min -= pad;
    max += pad;
  }
  if (target < 1) target = 1;
  double step = nice_step((max - min) / target);
  if (min_step > 0 && step < min_step) step = min_step;
  double lo = floor(min / step + 1e-9) * step;
  double hi = ceil(max / step - 1e-9) * step;
  if (hi <= lo) hi = lo + step;
  ticks->lo = lo;
  ticks->hi = hi;
  ticks->step = step;
  ticks->first = lo;
  ticks->count = (int)lround((hi - lo) / step) + 1;
  const int d = (int)-floor(log10(step) + 1e-9);
  ticks->decimals = d > 0 ? d : 0;
}

void plot_tight_ticks(double min, double max, int target, double min_step, plot_ticks *ticks) {
  plot_nice_ticks(min, max, target, min_step, ticks);
  if (!isfinite(min) || !isfinite(max) || !(max > min)) return;
  ticks->lo = min;
  ticks->hi = max;
  ticks->first = ceil(min / ticks->step - 1e-9) * ticks->step;
  ticks->count = (int)floor((max - ticks->first) / ticks->step + 1e-9) + 1;
  if (ticks->count < 0) ticks->count = 0;
}

void plot_tick_label(const plot_ticks *ticks, double v, char *buf, size_t size) {
  if (fabs(v) < ticks->step * 1e-6) v = 0.0; /* no "-0" */
  snprintf(buf, size, "%.*f", ticks->decimals, v);
}

/* ---- axes --------------------------------------------------------------- */

double plot_px(const plot_axes *axes, double x) {
  return axes->x + (x - axes->xt.lo) / (axes->xt.hi - axes->xt.lo) * axes->w;
}

double plot_py(const plot_axes *axes, double y) {
  return axes->y + axes->h - (y - axes->yt.lo) / (axes->yt.hi - axes->yt.lo) * axes->h;
}

#define AXIS_COLOR 0x333333
#define GRID_COLOR 0xe6e6e6
#define TEXT_COLOR 0x222222

void plot_axes_draw(cairo_t *cr, const plot_axes *a, const char *title, const char *xlabel,
                    const char *ylabel) {
  char label[64];
  cairo_save(cr);
  /* Grid. */
  cairo_set_line_width(cr, 1.0);
  plot_rgb(cr, GRID_COLOR);
  for (int i = 0; i < a->xt.count; i++) {
    const double px = round(plot_px(a, a->xt.first + i * a->xt.step)) + 0.5;
    cairo_move_to(cr, px, a->y);
    cairo_line_to(cr, px, a->y + a->h);
  }
  for (int i = 0; i < a->yt.count; i++) {
    const double py = round(plot_py(a, a->yt.first + i * a->yt.step)) + 0.5;
    cairo_move_to(cr, a->x, py);
    cairo_line_to(cr, a->x + a->w, py);
  }
  cairo_stroke(cr);
  /* Frame and ticks. */
  plot_rgb(cr, AXIS_COLOR);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, round(a->x) + 0.5, round(a->y) + 0.5, round(a->w), round(a->h));
  for (int i = 0; i < a->xt.count; i++) {
    const double px = round(plot_px(a, a->xt.first + i * a->xt.step)) + 0.5;
    cairo_move_to(cr, px, round(a->y + a->h) + 0.5);
    cairo_line_to(cr, px, round(a->y + a->h) + 5.5);
  }
  for (int i = 0; i < a->yt.count; i++) {
    const double py = round(plot_py(a, a->yt.first + i * a->yt.step)) + 0.5;
    cairo_move_to(cr, round(a->x) + 0.5, py);
    cairo_line_to(cr, round(a->x) - 4.5, py);
  }
  cairo_stroke(cr);
  /* Tick labels. */
  plot_rgb(cr, TEXT_COLOR);
  plot_font(cr, 12.0, 0);
  double widest = 0.0;
  for (int i = 0; i < a->xt.count; i++) {
    const double v = a->xt.first + i * a->xt.step;
    plot_tick_label(&a->xt, v, label, sizeof label);
    plot_text(cr, plot_px(a, v), a->y + a->h + 10.0, PLOT_CENTER, PLOT_TOP, label);
  }
  for (int i = 0; i < a->yt.count; i++) {
    const double v = a->yt.first + i * a->yt.step;
    plot_tick_label(&a->yt, v, label, sizeof label);
    const double w = plot_text_width(cr, label);
    if (w > widest) widest = w;
    plot_text(cr, a->x - 8.0, plot_py(a, v), PLOT_RIGHT, PLOT_MIDDLE, label);
  }
  /* Axis labels and title. */
  plot_font(cr, 13.0, 0);
  if (xlabel != NULL) {
    plot_text(cr, a->x + a->w / 2.0, a->y + a->h + 32.0, PLOT_CENTER, PLOT_TOP, xlabel);
  }
  if (ylabel != NULL) {
    plot_text_vertical(cr, a->x - widest - 18.0, a->y + a->h / 2.0, PLOT_CENTER, PLOT_BASELINE,
                       ylabel);
  }
  if (title != NULL) {
    plot_font(cr, 15.0, 1);
    plot_text(cr, a->x, a->y - 12.0, PLOT_LEFT, PLOT_BASELINE, title);
  }
  cairo_restore(cr);
}

void plot_series(cairo_t *cr, const plot_axes *a, const double *x, const double *y, int n,
                 unsigned rgb, double line_width, int dashed, int markers) {
  cairo_save(cr);
  cairo_rectangle(cr, a->x, a->y, a->w, a->h);
  cairo_clip(cr);
  plot_rgb(cr, rgb);
  cairo_set_line_width(cr, line_width);
  if (dashed) {
    const double dash[2] = {7.0, 4.0};
    cairo_set_dash(cr, dash, 2, 0.0);
  }
  int pen = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(x[i]) || !isfinite(y[i])) {
      pen = 0;
      continue;
    }
    const double px = plot_px(a, x[i]), py = plot_py(a, y[i]);
    if (pen) {
      cairo_line_to(cr, px, py);
    } else {
      cairo_move_to(cr, px, py);
      /* A lone point still shows: its marker is drawn below. */
    }
    pen = 1;
  }
  cairo_stroke(cr);
  if (markers) {
    cairo_set_dash(cr, NULL, 0, 0.0);
    for (int i = 0; i < n; i++) {
      if (!isfinite(x[i]) || !isfinite(y[i])) continue;
      cairo_new_sub_path(cr);
      cairo_arc(cr, plot_px(a, x[i]), plot_py(a, y[i]), line_width + 1.5, 0.0, 2.0 * M_PI);
    }
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

/* ---- legend ------------------------------------------------------------- */

void plot_legend(cairo_t *cr, const plot_axes *a, const plot_legend_entry *entries, int nentries,
                 const double *const *xs, const double *const *ys, int nseries, int n) {
  const double pad = 8.0, sample = 28.0, gap = 7.0, row = 19.0, inset = 8.0;
  cairo_save(cr);
  plot_font(cr, 12.0, 0);
  double text_w = 0.0;
  for (int i = 0; i < nentries; i++) {
    const double w = plot_text_width(cr, entries[i].label);
    if (w > text_w) text_w = w;
  }
  const double bw = pad + sample + gap + text_w + pad;
  const double bh = pad + row * nentries + pad - 4.0;
  /* Corners: top right, top left, bottom right, bottom left. */
  const double cx[4] = {a->x + a->w - inset - bw, a->x + inset, a->x + a->w - inset - bw,
                        a->x + inset};
  const double cy[4] = {a->y + inset, a->y + inset, a->y + a->h - inset - bh,
                        a->y + a->h - inset - bh};
  int best = 0;
  long best_hits = -1;
  for (int c = 0; c < 4; c++) {
    long hits = 0;
    for (int s = 0; s < nseries; s++) {
      for (int i = 0; i < n; i++) {
        if (!isfinite(xs[s][i]) || !isfinite(ys[s][i])) continue;
        const double px = plot_px(a, xs[s][i]), py = plot_py(a, ys[s][i]);
        if (px >= cx[c] - 6 && px <= cx[c] + bw + 6 && py >= cy[c] - 6 && py <= cy[c] + bh + 6) {
          hits++;
        }
      }
      /* Segments crossing the box count too: sample between points. */
      for (int i = 0; i + 1 < n; i++) {
        if (!isfinite(xs[s][i]) || !isfinite(ys[s][i]) || !isfinite(xs[s][i + 1]) ||
            !isfinite(ys[s][i + 1])) {
          continue;
        }
        for (int k = 1; k < 8; k++) {
          const double f = k / 8.0;
          const double px = plot_px(a, xs[s][i] + f * (xs[s][i + 1] - xs[s][i]));
          const double py = plot_py(a, ys[s][i] + f * (ys[s][i + 1] - ys[s][i]));
          if (px >= cx[c] && px <= cx[c] + bw && py >= cy[c] && py <= cy[c] + bh) hits++;
        }
      }
    }
    if (best_hits < 0 || hits < best_hits) {
      best_hits = hits;
      best = c;
    }
  }
  const double x0 = round(cx[best]) + 0.5, y0 = round(cy[best]) + 0.5;
  cairo_rectangle(cr, x0, y0, round(bw), round(bh));
  cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 0.92);
  cairo_fill_preserve(cr);
  plot_rgb(cr, 0xbbbbbb);
  cairo_set_line_width(cr, 1.0);
  cairo_stroke(cr);
  for (int i = 0; i < nentries; i++) {
    const plot_legend_entry *e = &entries[i];
    const double ym = y0 + pad + row * i + 6.0;
    const double xs0 = x0 + pad;
    if (e->patch) {
      const double r = ((e->rgb >> 16) & 0xff) / 255.0, g = ((e->rgb >> 8) & 0xff) / 255.0,
                   b = (e->rgb & 0xff) / 255.0;
      cairo_rectangle(cr, xs0, ym - 6.0, sample, 12.0);
      cairo_set_source_rgba(cr, r, g, b, e->patch_alpha > 0 ? e->patch_alpha : 1.0);
      cairo_fill(cr);
    } else {
      plot_rgb(cr, e->rgb);
      cairo_set_line_width(cr, 2.0);
      if (e->dashed) {
        const double dash[2] = {7.0, 4.0};
        cairo_set_dash(cr, dash, 2, 0.0);
      }
      cairo_move_to(cr, xs0, ym);
      cairo_line_to(cr, xs0 + sample, ym);
      cairo_stroke(cr);
      cairo_set_dash(cr, NULL, 0, 0.0);
      if (e->markers) {
        cairo_arc(cr, xs0 + sample / 2.0, ym, 3.5, 0.0, 2.0 * M_PI);
        cairo_fill(cr);
      }
    }
    plot_rgb(cr, TEXT_COLOR);
    plot_text(cr, xs0 + sample + gap, ym, PLOT_LEFT, PLOT_MIDDLE, e->label);
  }
  cairo_restore(cr);
}
