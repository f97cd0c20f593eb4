/* SPDX-License-Identifier: MIT */
/* arch.png: an architecture as the ProxylessNAS paper draws its networks, a
 * left-to-right chain of blocks (wrapped onto more lines when long): the
 * stem, each MBConv block coloured by kernel size, taller and darker with a
 * larger expansion ratio, identity blocks as a thin dashed marker, the head,
 * pooling and the classifier; under each its output channels, map size and
 * (when known) latency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"
#include "plot_common.h"

#define TEXT 0x222222
#define MUTED 0x666666
#define ARROW 0x555555
#define KERNEL3 0x4c9be8
#define KERNEL5 0xf5a623
#define KERNEL7 0xe5484d
#define FIXED 0xb8bec6
#define POOLING 0xd9dde2

#define MARGIN 40.0
#define FIRST_ROW 95.0 /* top of the first line of blocks */
#define CENTER 100.0   /* from a line's top to the chain's axis */
#define BOX_W 44.0
#define SKIP_W 12.0
#define GAP 20.0 /* arrow between two items */
#define LABEL_FONT 11.0

typedef enum item_kind {
  ITEM_INPUT,
  ITEM_CONV,
  ITEM_MBCONV,
  ITEM_SKIP,
  ITEM_POOL,
  ITEM_FC
} item_kind;

typedef struct item {
  item_kind kind;
  char name[32];      /* text in the box */
  char sub[3][32];    /* lines under the box */
  int kernel, expand; /* MBConv */
  double w, slot;     /* box width, and the room the item takes */
  double x;           /* left of the box */
  int line;           /* which line of the figure */
} item;

static unsigned kernel_color(int kernel) {
  return kernel == 3 ? KERNEL3 : kernel == 5 ? KERNEL5 : KERNEL7;
}

/* 0 for expansion 1, 1 for 6 and more, logarithmic in between. */
static double expand_level(int expand) {
  const double t = expand > 1 ? log((double)expand) / log(6.0) : 0.0;
  return t > 1.0 ? 1.0 : t;
}

static double box_height(const item *it) {
  switch (it->kind) {
    case ITEM_MBCONV:
      return 70.0 + 110.0 * expand_level(it->expand);
    case ITEM_SKIP:
      return 54.0;
    case ITEM_INPUT:
      return 0.0;
    default:
      return 96.0;
  }
}

static unsigned box_color(const item *it) {
  switch (it->kind) {
    case ITEM_MBCONV:
      return plot_lighten(kernel_color(it->kernel), 0.5 * (1.0 - expand_level(it->expand)));
    case ITEM_CONV:
      return FIXED;
    default:
      return POOLING;
  }
}

static unsigned darker(unsigned rgb, double f) {
  unsigned out = 0;
  for (int shift = 16; shift >= 0; shift -= 8) {
    out |= (unsigned)lround(((rgb >> shift) & 0xff) * f) << shift;
  }
  return out;
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r) {
  if (r > w / 2.0) r = w / 2.0;
  if (r > h / 2.0) r = h / 2.0;
  cairo_new_sub_path(cr);
  cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2.0, 0.0);
  cairo_arc(cr, x + w - r, y + h - r, r, 0.0, M_PI / 2.0);
  cairo_arc(cr, x + r, y + h - r, r, M_PI / 2.0, M_PI);
  cairo_arc(cr, x + r, y + r, r, M_PI, 1.5 * M_PI);
  cairo_close_path(cr);
}

/* A box centred on the axis at yc: filled, outlined, with its name. */
static void draw_box(cairo_t *cr, const item *it, double yc) {
  const double h = box_height(it);
  const double x = it->x, y = yc - h / 2.0;
  if (it->kind == ITEM_SKIP) {
    rounded_rect(cr, x + 0.5, y + 0.5, it->w - 1.0, h - 1.0, 3.0);
    cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
    cairo_fill_preserve(cr);
    plot_rgb(cr, 0x888888);
    cairo_set_line_width(cr, 1.2);
    const double dash[2] = {3.0, 2.5};
    cairo_set_dash(cr, dash, 2, 0.0);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0.0);
    return;
  }
  const unsigned fill = box_color(it);
  rounded_rect(cr, x + 0.5, y + 0.5, it->w - 1.0, h - 1.0, 5.0);
  plot_rgb(cr, fill);
  cairo_fill_preserve(cr);
  plot_rgb(cr, darker(fill, 0.62));
  cairo_set_line_width(cr, 1.3);
  cairo_stroke(cr);
  plot_rgb(cr, 0x1b1b1b);
  plot_font(cr, 13.0, 1);
  plot_text_vertical(cr, x + it->w / 2.0, yc, PLOT_CENTER, PLOT_MIDDLE, it->name);
}

static void draw_arrow(cairo_t *cr, double x0, double x1, double y) {
  plot_rgb(cr, ARROW);
  cairo_set_line_width(cr, 1.4);
  cairo_move_to(cr, x0, y);
  cairo_line_to(cr, x1 - 5.0, y);
  cairo_stroke(cr);
  cairo_move_to(cr, x1, y);
  cairo_line_to(cr, x1 - 7.0, y - 3.5);
  cairo_line_to(cr, x1 - 7.0, y + 3.5);
  cairo_close_path(cr);
  cairo_fill(cr);
}

/* "12.3 M", "950 k", "1.21 G". */
static void format_count(double v, char *buf, size_t size) {
  if (v >= 1e9) {
    snprintf(buf, size, "%.3g G", v / 1e9);
  } else if (v >= 1e6) {
    snprintf(buf, size, "%.3g M", v / 1e6);
  } else if (v >= 1e3) {
    snprintf(buf, size, "%.3g k", v / 1e3);
  } else {
    snprintf(buf, size, "%.0f", v);
  }
}

static void format_ms(double ms, char *buf, size_t size) {
  if (ms >= 100.0) {
    snprintf(buf, size, "%.0f ms", ms);
  } else if (ms >= 10.0) {
    snprintf(buf, size, "%.1f ms", ms);
  } else {
    snprintf(buf, size, "%.*f ms", ms >= 1.0 ? 2 : 3, ms);
  }
}

static void size_label(char *buf, size_t size, int h, int w) {
  snprintf(buf, size, "%dx%d", h, w);
}

/* The items of the chain. Returns the count, or -1 on a library error. */
static int build_items(const pnas_arch *arch, const pnas_arch_info *info, const double *block_ms,
                       item *items, int *identities) {
  int n = 0;
  item *it = &items[n++];
  memset(it, 0, sizeof *it);
  it->kind = ITEM_INPUT;
  snprintf(it->name, sizeof it->name, "input");
  snprintf(it->sub[0], sizeof it->sub[0], "%dx%dx%d", (int)info->input_height,
           (int)info->input_width, (int)info->input_channels);

  const int s = info->stem_stride, k = info->stem_kernel;
  const int sh = (info->input_height + 2 * (k / 2) - k) / s + 1;
  const int sw = (info->input_width + 2 * (k / 2) - k) / s + 1;
  it = &items[n++];
  memset(it, 0, sizeof *it);
  it->kind = ITEM_CONV;
  snprintf(it->name, sizeof it->name, "Conv %dx%d", k, k);
  snprintf(it->sub[0], sizeof it->sub[0], "%d", (int)info->stem_channels);
  size_label(it->sub[1], sizeof it->sub[1], sh, sw);

  int channels = info->stem_channels, oh = sh, ow = sw;
  *identities = 0;
  for (int32_t b = 0; b < info->blocks; b++) {
    pnas_block_info blk;
    pnas_block_info_init(&blk);
    if (pnas_arch_get_block(arch, b, &blk) != PNAS_OK) return -1;
    it = &items[n++];
    memset(it, 0, sizeof *it);
    if (blk.kind == PNAS_BLOCK_IDENTITY) {
      it->kind = ITEM_SKIP;
      snprintf(it->sub[1], sizeof it->sub[1], "skip");
      (*identities)++;
      continue;
    }
    it->kind = ITEM_MBCONV;
    it->kernel = blk.kernel;
    it->expand = blk.expand;
    snprintf(it->name, sizeof it->name, "MB%d %dx%d", (int)blk.expand, (int)blk.kernel,
             (int)blk.kernel);
    snprintf(it->sub[0], sizeof it->sub[0], "%d", (int)blk.out_channels);
    size_label(it->sub[1], sizeof it->sub[1], blk.out_height, blk.out_width);
    if (block_ms != NULL && isfinite(block_ms[b]) && block_ms[b] >= 0.0) {
      format_ms(block_ms[b], it->sub[2], sizeof it->sub[2]);
    }
    channels = blk.out_channels;
    oh = blk.out_height;
    ow = blk.out_width;
  }
  if (info->head_channels > 0) {
    it = &items[n++];
    memset(it, 0, sizeof *it);
    it->kind = ITEM_CONV;
    snprintf(it->name, sizeof it->name, "Conv 1x1");
    snprintf(it->sub[0], sizeof it->sub[0], "%d", (int)info->head_channels);
    size_label(it->sub[1], sizeof it->sub[1], oh, ow);
    channels = info->head_channels;
  }
  it = &items[n++];
  memset(it, 0, sizeof *it);
  it->kind = ITEM_POOL;
  snprintf(it->name, sizeof it->name, "Pool");
  snprintf(it->sub[0], sizeof it->sub[0], "%d", channels);
  snprintf(it->sub[1], sizeof it->sub[1], "1x1");
  it = &items[n++];
  memset(it, 0, sizeof *it);
  it->kind = ITEM_FC;
  snprintf(it->name, sizeof it->name, "FC");
  snprintf(it->sub[0], sizeof it->sub[0], "%d", (int)info->classes);
  snprintf(it->sub[1], sizeof it->sub[1], "classes");
  return n;
}

/* Widths and positions; returns the number of lines. */
static int layout(cairo_t *cr, item *items, int n, double width) {
  plot_font(cr, LABEL_FONT, 0);
  for (int i = 0; i < n; i++) {
    item *it = &items[i];
    double label_w = 0.0;
    for (int l = 0; l < 3; l++) {
      const double w = plot_text_width(cr, it->sub[l]);
      if (w > label_w) label_w = w;
    }
    if (it->kind == ITEM_INPUT) {
      plot_font(cr, 12.0, 1);
      const double w = plot_text_width(cr, it->name);
      plot_font(cr, LABEL_FONT, 0);
      it->w = fmax(w, label_w);
    } else {
      it->w = it->kind == ITEM_SKIP ? SKIP_W : BOX_W;
    }
    it->slot = fmax(it->w, label_w + 4.0) + GAP;
  }
  const double right = width - MARGIN;
  double x = MARGIN;
  int line = 0;
  for (int i = 0; i < n; i++) {
    item *it = &items[i];
    if (x + it->slot - GAP > right && i > 0) {
      line++;
      x = MARGIN + 30.0; /* room for the connector */
    }
    it->line = line;
    it->x = round(x + (it->slot - GAP - it->w) / 2.0);
    x += it->slot;
  }
  return line + 1;
}

static double line_center(int line) {
  return FIRST_ROW + line * (double)PLOT_ARCH_ROW_HEIGHT + CENTER;
}

static void draw_chain(cairo_t *cr, const item *items, int n) {
  for (int i = 0; i < n; i++) {
    const item *it = &items[i];
    const double yc = line_center(it->line);
    /* Connection from the previous item. */
    if (i > 0) {
      const item *prev = &items[i - 1];
      const double x0 = prev->x + prev->w + 2.0;
      if (prev->line == it->line) {
        draw_arrow(cr, x0, it->x - 2.0, yc);
      } else {
        /* Right, down, back left, down, and into the next line. */
        const double py = line_center(prev->line);
        const double mid = py + (yc - py) / 2.0 + 18.0;
        const double xr = x0 + 10.0, xl = MARGIN + 8.0;
        plot_rgb(cr, ARROW);
        cairo_set_line_width(cr, 1.4);
        cairo_move_to(cr, x0, py);
        cairo_line_to(cr, xr, py);
        cairo_line_to(cr, xr, mid);
        cairo_line_to(cr, xl, mid);
        cairo_line_to(cr, xl, yc);
        cairo_stroke(cr);
        draw_arrow(cr, xl, it->x - 2.0, yc);
      }
    }
    if (it->kind == ITEM_INPUT) {
      plot_rgb(cr, TEXT);
      plot_font(cr, 12.0, 1);
      plot_text(cr, it->x + it->w / 2.0, yc - 6.0, PLOT_CENTER, PLOT_BASELINE, it->name);
      plot_font(cr, LABEL_FONT, 0);
      plot_rgb(cr, MUTED);
      plot_text(cr, it->x + it->w / 2.0, yc + 6.0, PLOT_CENTER, PLOT_TOP, it->sub[0]);
      continue;
    }
    draw_box(cr, it, yc);
    /* Labels under the tallest possible box, aligned across the line. */
    const double ly = yc + 100.0;
    for (int l = 0; l < 3; l++) {
      if (it->sub[l][0] == '\0') continue;
      plot_font(cr, LABEL_FONT, l == 0);
      plot_rgb(cr, l == 0 ? TEXT : MUTED);
      plot_text(cr, it->x + it->w / 2.0, ly + l * 16.0, PLOT_CENTER, PLOT_TOP, it->sub[l]);
    }
  }
}

/* The legend: kernels, expansions present, identity, fixed layers, and
 * what the labels under the boxes are. */
static void draw_legend(cairo_t *cr, const item *items, int n, double top, int identities,
                        int with_latency) {
  double x = MARGIN;
  const double y = top;
  plot_font(cr, 13.0, 1);
  plot_rgb(cr, TEXT);
  plot_text(cr, x, y, PLOT_LEFT, PLOT_MIDDLE, "kernel:");
  x += plot_text_width(cr, "kernel:") + 10.0;
  const int kernels[3] = {3, 5, 7};
  plot_font(cr, 13.0, 0);
  for (int k = 0; k < 3; k++) {
    rounded_rect(cr, x + 0.5, y - 8.5, 26.0, 17.0, 3.0);
    plot_rgb(cr, kernel_color(kernels[k]));
    cairo_fill_preserve(cr);
    plot_rgb(cr, darker(kernel_color(kernels[k]), 0.62));
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    char label[16];
    snprintf(label, sizeof label, "%dx%d", kernels[k], kernels[k]);
    plot_rgb(cr, TEXT);
    plot_text(cr, x + 33.0, y, PLOT_LEFT, PLOT_MIDDLE, label);
    x += 33.0 + plot_text_width(cr, label) + 18.0;
  }
  /* Expansion ratios present, smallest first. */
  int present[65] = {0};
  int any = 0;
  for (int i = 0; i < n; i++) {
    if (items[i].kind == ITEM_MBCONV && items[i].expand >= 1 && items[i].expand <= 64) {
      present[items[i].expand] = 1;
      any = 1;
    }
  }
  if (any) {
    x += 16.0;
    plot_font(cr, 13.0, 1);
    plot_text(cr, x, y, PLOT_LEFT, PLOT_MIDDLE, "expansion (height, shade):");
    x += plot_text_width(cr, "expansion (height, shade):") + 10.0;
    plot_font(cr, 13.0, 0);
    for (int e = 1; e <= 64; e++) {
      if (!present[e]) continue;
      const double h = (70.0 + 110.0 * expand_level(e)) / 6.0;
      const unsigned c = plot_lighten(0x8a8f98, 0.5 * (1.0 - expand_level(e)));
      rounded_rect(cr, x + 0.5, y + 8.5 - h, 9.0, h, 2.0);
      plot_rgb(cr, c);
      cairo_fill_preserve(cr);
      plot_rgb(cr, darker(c, 0.62));
      cairo_stroke(cr);
      char label[16];
      snprintf(label, sizeof label, "MB%d", e);
      plot_rgb(cr, TEXT);
      plot_text(cr, x + 15.0, y, PLOT_LEFT, PLOT_MIDDLE, label);
      x += 15.0 + plot_text_width(cr, label) + 16.0;
    }
  }
  /* Identity and fixed layers. */
  x += 16.0;
  rounded_rect(cr, x + 0.5, y - 10.5, 8.0, 21.0, 2.0);
  cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
  cairo_fill_preserve(cr);
  plot_rgb(cr, 0x888888);
  const double dash[2] = {3.0, 2.5};
  cairo_set_dash(cr, dash, 2, 0.0);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0.0);
  char label[96];
  snprintf(label, sizeof label, "identity (zero op, skipped): %d", identities);
  plot_rgb(cr, TEXT);
  plot_text(cr, x + 15.0, y, PLOT_LEFT, PLOT_MIDDLE, label);
  x += 15.0 + plot_text_width(cr, label) + 30.0;
  rounded_rect(cr, x + 0.5, y - 8.5, 26.0, 17.0, 3.0);
  plot_rgb(cr, FIXED);
  cairo_fill_preserve(cr);
  plot_rgb(cr, darker(FIXED, 0.62));
  cairo_stroke(cr);
  plot_rgb(cr, TEXT);
  plot_text(cr, x + 33.0, y, PLOT_LEFT, PLOT_MIDDLE, "fixed layers");

  plot_font(cr, 12.0, 0);
  plot_rgb(cr, MUTED);
  plot_text(cr, MARGIN, y + 30.0, PLOT_LEFT, PLOT_MIDDLE,
            with_latency ? "Under each block: output channels, output size (HxW), latency."
                         : "Under each block: output channels and output size (HxW).");
}

int plot_architecture_total(const pnas_arch *arch, const double *block_latency_ms,
                            double total_latency_ms, const char *png_path) {
  pnas_arch_info info;
  pnas_arch_info_init(&info);
  const pnas_status st = pnas_arch_get_info(arch, &info);
  if (st != PNAS_OK) {
    return cli_error("cannot draw '%s': the architecture cannot be read (%s)", png_path,
                     pnas_status_string(st));
  }
  if (info.blocks < 0 || info.blocks > 100000) {
    return cli_error("cannot draw '%s': too many blocks (%d)", png_path, (int)info.blocks);
  }
  item *items = calloc((size_t)info.blocks + 6, sizeof *items);
  if (items == NULL) return cli_error("cannot draw '%s': out of memory", png_path);
  int identities = 0;
  const int n = build_items(arch, &info, block_latency_ms, items, &identities);
  if (n < 0) {
    free(items);
    return cli_error("cannot draw '%s': a block of the architecture cannot be read", png_path);
  }

  /* Lay out on a scratch surface to learn the number of lines. */
  cairo_surface_t *scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t *scr = cairo_create(scratch);
  const int lines = layout(scr, items, n, PLOT_ARCH_WIDTH);
  cairo_destroy(scr);
  cairo_surface_destroy(scratch);
  const double height = PLOT_ARCH_HEIGHT + (lines - 1) * (double)PLOT_ARCH_ROW_HEIGHT;
  if (height > 32000.0) {
    free(items);
    return cli_error("cannot draw '%s': %d blocks do not fit in one image", png_path,
                     (int)info.blocks);
  }
  plot_canvas canvas;
  if (plot_canvas_create(&canvas, PLOT_ARCH_WIDTH, (int)height, png_path) != 0) {
    free(items);
    return 1;
  }
  cairo_t *cr = canvas.cr;

  /* Title and totals. */
  char text[512], macs[32], params[32], ms[32];
  plot_rgb(cr, TEXT);
  plot_font(cr, 21.0, 1);
  plot_text(cr, MARGIN, 38.0, PLOT_LEFT, PLOT_BASELINE, "Derived architecture");
  format_count((double)info.macs, macs, sizeof macs);
  format_count((double)info.params, params, sizeof params);
  int pos = snprintf(text, sizeof text,
                     "%dx%dx%d input  \xc2\xb7  %d classes  \xc2\xb7  %d blocks (%d identity)  "
                     "\xc2\xb7  %s MACs  \xc2\xb7  %s parameters",
                     (int)info.input_height, (int)info.input_width, (int)info.input_channels,
                     (int)info.classes, (int)info.blocks, identities, macs, params);
  if (pos > 0 && (size_t)pos < sizeof text) {
    if (total_latency_ms >= 0.0 && isfinite(total_latency_ms)) {
      format_ms(total_latency_ms, ms, sizeof ms);
      snprintf(text + pos, sizeof text - (size_t)pos, "  \xc2\xb7  latency %s", ms);
    } else if (block_latency_ms != NULL) {
      double sum = 0.0;
      for (int32_t b = 0; b < info.blocks; b++) {
        if (isfinite(block_latency_ms[b]) && block_latency_ms[b] > 0.0) {
          sum += block_latency_ms[b];
        }
      }
      format_ms(sum, ms, sizeof ms);
      snprintf(text + pos, sizeof text - (size_t)pos, "  \xc2\xb7  blocks' latency %s", ms);
    }
  }
  plot_font(cr, 14.0, 0);
  plot_rgb(cr, MUTED);
  plot_text(cr, MARGIN, 62.0, PLOT_LEFT, PLOT_BASELINE, text);

  draw_chain(cr, items, n);
  draw_legend(cr, items, n, height - 70.0, identities, block_latency_ms != NULL);
  free(items);
  return plot_canvas_finish(&canvas, png_path);
}

int plot_architecture(const pnas_arch *arch, const double *block_latency_ms, const char *png_path) {
  return plot_architecture_total(arch, block_latency_ms, -1.0, png_path);
}
