/* SPDX-License-Identifier: MIT */
/* history.csv: read the whole file (bounded), check the header, then every
 * row, and keep the columns as arrays. Every error names the file, and the
 * line and the column where the content is at fault. */
#include "plot_history.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The columns that every history has, in the order the writer puts them. */
enum {
  COL_EPOCH,
  COL_PHASE,
  COL_TRAIN_LOSS,
  COL_TRAIN_ACC,
  COL_ARCH_LOSS,
  COL_VAL_ACC,
  COL_LATENCY,
  COL_LR,
  COL_SECONDS,
  COL_STANDARD,    /* number of standard columns */
  COL_PROB = 1000, /* a p<layer>_<op> column */
};

static const char *const standard_names[COL_STANDARD] = {
    "epoch", "phase",   "train_loss", "train_acc", "arch_loss", "val_acc", "expected_latency_ms",
    "lr",    "seconds",
};

#define EXPECTED_HEADER                                                                          \
  "epoch,phase,train_loss,train_acc,arch_loss,val_acc,expected_latency_ms,lr,seconds,p<layer>_<" \
  "op>..."

/* A field of a line: [begin, begin + len). */
typedef struct field {
  const char *begin;
  size_t len;
} field;

typedef struct reader {
  const char *path;
  char *text;
  size_t size;
  int ncols;
  int *kind;     /* per column: COL_* */
  int *prob_of;  /* per column: index among the p columns, or -1 */
  field *fields; /* PLOT_HISTORY_MAX_COLUMNS + 1 */
} reader;

void plot_history_free(plot_history *h) {
  free(h->epoch);
  free(h->train_loss);
  free(h->train_acc);
  free(h->arch_loss);
  free(h->val_acc);
  free(h->latency_ms);
  free(h->lr);
  free(h->seconds);
  free(h->warmup);
  free(h->prob_layer);
  if (h->prob_op != NULL) {
    for (int i = 0; i < h->probs; i++) free(h->prob_op[i]);
  }
  free(h->prob_op);
  free(h->prob);
  memset(h, 0, sizeof *h);
}

/* A field for a message: at most 40 bytes, unprintable bytes as '?'. */
static const char *shown(field f, char *buf, size_t size) {
  size_t n = f.len;
  const int cut = n > 40;
  if (cut) n = 40;
  if (n > size - 4) n = size - 4;
  for (size_t i = 0; i < n; i++) {
    const unsigned char c = (unsigned char)f.begin[i];
    buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (cut) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
  return buf;
}

static field trim(field f) {
  while (f.len > 0 && (*f.begin == ' ' || *f.begin == '\t')) {
    f.begin++;
    f.len--;
  }
  while (f.len > 0 && (f.begin[f.len - 1] == ' ' || f.begin[f.len - 1] == '\t')) f.len--;
  return f;
}

static int field_is(field f, const char *s) {
  return f.len == strlen(s) && memcmp(f.begin, s, f.len) == 0;
}

/* Splits a line into r->fields; returns the count, or -1 if there are more
 * than PLOT_HISTORY_MAX_COLUMNS. */
static int split(reader *r, const char *line, size_t len) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || line[i] == ',') {
      if (n == PLOT_HISTORY_MAX_COLUMNS) return -1;
      r->fields[n].begin = line + start;
      r->fields[n].len = i - start;
      r->fields[n] = trim(r->fields[n]);
      n++;
      start = i + 1;
    }
  }
  return n;
}

static int read_file(reader *r) {
  FILE *f = fopen(r->path, "rb");
  if (f == NULL) return cli_error("cannot open '%s': %s", r->path, strerror(errno));
  size_t cap = 65536, size = 0;
  char *text = malloc(cap + 1);
  int status = 0;
  while (text != NULL) {
    if (size == cap) {
      if (cap >= (size_t)PLOT_HISTORY_MAX_BYTES + 1) {
        status = cli_error("%s: larger than %ld MiB; not a history.csv", r->path,
                           PLOT_HISTORY_MAX_BYTES / (1024 * 1024));
        break;
      }
      cap *= 2;
      if (cap > (size_t)PLOT_HISTORY_MAX_BYTES + 1) cap = (size_t)PLOT_HISTORY_MAX_BYTES + 1;
      char *grown = realloc(text, cap + 1);
      if (grown == NULL) {
        free(text);
        text = NULL;
        break;
      }
      text = grown;
    }
    const size_t got = fread(text + size, 1, cap - size, f);
    size += got;
    if (got == 0) {
      if (ferror(f)) status = cli_error("cannot read '%s': %s", r->path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (text == NULL) return cli_error("cannot read '%s': out of memory", r->path);
  if (status != 0) {
    free(text);
    return status;
  }
  text[size] = '\0';
  r->text = text;
  r->size = size;
  return 0;
}

/* p<layer>_<op>: layer 0 to 999999, op of [a-z0-9_], 1 to 48 characters. */
static int parse_prob_name(field f, int *layer) {
  if (f.len < 3 || f.begin[0] != 'p') return 0;
  size_t i = 1;
  long v = 0;
  while (i < f.len && f.begin[i] >= '0' && f.begin[i] <= '9' && i <= 6) {
    v = v * 10 + (f.begin[i] - '0');
    i++;
  }
  if (i == 1 || i >= f.len || f.begin[i] != '_') return 0;
  const size_t op = i + 1;
  if (f.len - op < 1 || f.len - op > 48) return 0;
  for (size_t k = op; k < f.len; k++) {
    const char c = f.begin[k];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  *layer = (int)v;
  return 1;
}

static int alloc_columns(plot_history *h, int rows, int probs) {
  const size_t n = rows > 0 ? (size_t)rows : 1;
  double **cols[] = {&h->epoch,   &h->train_loss, &h->train_acc, &h->arch_loss,
                     &h->val_acc, &h->latency_ms, &h->lr,        &h->seconds};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    *cols[i] = malloc(n * sizeof(double));
    if (*cols[i] == NULL) return 0;
  }
  h->warmup = malloc(n);
  h->prob_layer = calloc(probs > 0 ? (size_t)probs : 1, sizeof(int));
  h->prob_op = calloc(probs > 0 ? (size_t)probs : 1, sizeof(char *));
  h->prob = malloc(n * (probs > 0 ? (size_t)probs : 1) * sizeof(double));
  h->probs = probs;
  return h->warmup != NULL && h->prob_layer != NULL && h->prob_op != NULL && h->prob != NULL;
}

/* Header: every standard column once, the rest p columns. */
static int read_header(reader *r, const char *line, size_t len, int *probs) {
  char buf[64];
  const int n = split(r, line, len);
  if (n < 0) {
    return cli_error("%s:1: more than %d columns", r->path, PLOT_HISTORY_MAX_COLUMNS);
  }
  if (n == 1 && r->fields[0].len == 0) {
    return cli_error("%s:1: empty header; expected %s", r->path, EXPECTED_HEADER);
  }
  r->ncols = n;
  r->kind = malloc((size_t)n * sizeof(int));
  r->prob_of = malloc((size_t)n * sizeof(int));
  if (r->kind == NULL || r->prob_of == NULL) return cli_error("%s: out of memory", r->path);
  int first[COL_STANDARD];
  for (int k = 0; k < COL_STANDARD; k++) first[k] = -1;
  int np = 0;
  for (int c = 0; c < n; c++) {
    const field f = r->fields[c];
    r->prob_of[c] = -1;
    int kind = -1, layer = 0;
    for (int k = 0; k < COL_STANDARD; k++) {
      if (field_is(f, standard_names[k])) kind = k;
    }
    if (kind >= 0) {
      if (first[kind] >= 0) {
        return cli_error("%s:1: column %d: duplicate column '%s' (first given as column %d)",
                         r->path, c + 1, standard_names[kind], first[kind] + 1);
      }
      first[kind] = c;
    } else if (parse_prob_name(f, &layer)) {
      for (int d = 0; d < c; d++) {
        if (r->kind[d] == COL_PROB && r->fields[d].len == f.len &&
            memcmp(r->fields[d].begin, f.begin, f.len) == 0) {
          return cli_error("%s:1: column %d: duplicate column '%s' (first given as column %d)",
                           r->path, c + 1, shown(f, buf, sizeof buf), d + 1);
        }
      }
      kind = COL_PROB;
      r->prob_of[c] = np++;
    } else {
      return cli_error("%s:1: column %d: unknown column '%s'; expected %s", r->path, c + 1,
                       shown(f, buf, sizeof buf), EXPECTED_HEADER);
    }
    r->kind[c] = kind;
  }
  for (int k = 0; k < COL_STANDARD; k++) {
    if (first[k] < 0) {
      return cli_error("%s:1: missing column '%s'; expected %s", r->path, standard_names[k],
                       EXPECTED_HEADER);
    }
  }
  *probs = np;
  return 0;
}

/* Copies the p columns' layers and op names (after the arrays exist). */
static int keep_prob_names(reader *r, plot_history *h) {
  for (int c = 0; c < r->ncols; c++) {
    const int p = r->prob_of[c];
    if (p < 0) continue;
    const field f = r->fields[c];
    int layer = 0;
    parse_prob_name(f, &layer);
    const char *op = (const char *)memchr(f.begin, '_', f.len) + 1;
    const size_t op_len = f.len - (size_t)(op - f.begin);
    h->prob_layer[p] = layer;
    h->prob_op[p] = malloc(op_len + 1);
    if (h->prob_op[p] == NULL) return cli_error("%s: out of memory", r->path);
    memcpy(h->prob_op[p], op, op_len);
    h->prob_op[p][op_len] = '\0';
  }
  return 0;
}

/* A decimal number, or NaN for an empty field when allow_empty. */
static int parse_number(const reader *r, int lineno, int col, field f, int allow_empty,
                        double *out) {
  char num[64], buf[64];
  if (f.len == 0) {
    if (allow_empty) {
      *out = NAN;
      return 0;
    }
    return cli_error("%s:%d: column '%s': expected a number, got an empty value", r->path, lineno,
                     standard_names[col]);
  }
  if (f.len >= sizeof num) {
    return cli_error("%s:%d: column '%s': expected a number, got '%s'", r->path, lineno,
                     standard_names[col], shown(f, buf, sizeof buf));
  }
  memcpy(num, f.begin, f.len);
  num[f.len] = '\0';
  char *end = NULL;
  errno = 0;
  const double v = strtod(num, &end);
  const int hex = strchr(num, 'x') != NULL || strchr(num, 'X') != NULL;
  if (end == num || *end != '\0' || hex || !isfinite(v)) {
    return cli_error("%s:%d: column '%s': expected a finite number, got '%s'", r->path, lineno,
                     standard_names[col], shown(f, buf, sizeof buf));
  }
  *out = v;
  return 0;
}

static int check_range(const reader *r, int lineno, int col, double v, double lo, double hi) {
  if (isnan(v) || (v >= lo && v <= hi)) return 0;
  if (isinf(hi)) {
    return cli_error("%s:%d: column '%s': expected a value >= %g, got %g", r->path, lineno,
                     standard_names[col], lo, v);
  }
  return cli_error("%s:%d: column '%s': expected a value in [%g, %g], got %g", r->path, lineno,
                   standard_names[col], lo, hi, v);
}

static int read_row(reader *r, plot_history *h, int row, int lineno, const char *line, size_t len) {
  char buf[64];
  const int n = split(r, line, len);
  if (n != r->ncols) {
    if (n < 0) {
      return cli_error("%s:%d: expected %d columns as in the header, got more than %d", r->path,
                       lineno, r->ncols, PLOT_HISTORY_MAX_COLUMNS);
    }
    return cli_error("%s:%d: expected %d columns as in the header, got %d", r->path, lineno,
                     r->ncols, n);
  }
  for (int c = 0; c < n; c++) {
    const field f = r->fields[c];
    const int kind = r->kind[c];
    if (f.len > 0 && f.begin[0] == '"') {
      return cli_error("%s:%d: column %d: quoted fields are not supported", r->path, lineno, c + 1);
    }
    double v = 0.0;
    switch (kind) {
      case COL_EPOCH: {
        char *end = NULL;
        char num[24];
        int ok = f.len > 0 && f.len < sizeof num && f.begin[0] >= '0' && f.begin[0] <= '9';
        long e = -1;
        if (ok) {
          memcpy(num, f.begin, f.len);
          num[f.len] = '\0';
          errno = 0;
          e = strtol(num, &end, 10);
          ok = *end == '\0' && errno == 0 && e <= 1000000000L;
        }
        if (!ok) {
          return cli_error("%s:%d: column 'epoch': expected an integer >= 0, got '%s'", r->path,
                           lineno, shown(f, buf, sizeof buf));
        }
        if (row > 0 && (double)e <= h->epoch[row - 1]) {
          return cli_error("%s:%d: epoch %ld after epoch %.0f: epochs must increase", r->path,
                           lineno, e, h->epoch[row - 1]);
        }
        h->epoch[row] = (double)e;
        break;
      }
      case COL_PHASE:
        if (field_is(f, "warmup")) {
          h->warmup[row] = 1;
        } else if (field_is(f, "search")) {
          h->warmup[row] = 0;
        } else {
          return cli_error("%s:%d: column 'phase': expected warmup or search, got '%s'", r->path,
                           lineno, shown(f, buf, sizeof buf));
        }
        break;
      case COL_PROB: {
        /* The column's name, from what the header gave. */
        char name[64];
        const int p = r->prob_of[c];
        snprintf(name, sizeof name, "p%d_%s", h->prob_layer[p], h->prob_op[p]);
        if (f.len == 0) {
          return cli_error("%s:%d: column '%s': expected a probability, got an empty value",
                           r->path, lineno, name);
        }
        char num[64];
        char *end = NULL;
        int ok = f.len < sizeof num;
        if (ok) {
          memcpy(num, f.begin, f.len);
          num[f.len] = '\0';
          v = strtod(num, &end);
          ok = end != num && *end == '\0' && isfinite(v) && strpbrk(num, "xX") == NULL;
        }
        if (!ok || v < 0.0 || v > 1.0 + 1e-6) {
          return cli_error("%s:%d: column '%s': expected a probability in [0, 1], got '%s'",
                           r->path, lineno, name, shown(f, buf, sizeof buf));
        }
        h->prob[(size_t)row * (size_t)h->probs + (size_t)p] = v > 1.0 ? 1.0 : v;
        break;
      }
      default: {
        const int allow_empty = kind == COL_ARCH_LOSS || kind == COL_VAL_ACC;
        if (parse_number(r, lineno, kind, f, allow_empty, &v) != 0) return 1;
        double *dst[COL_STANDARD] = {NULL,          NULL,         h->train_loss,
                                     h->train_acc,  h->arch_loss, h->val_acc,
                                     h->latency_ms, h->lr,        h->seconds};
        if (kind == COL_TRAIN_ACC || kind == COL_VAL_ACC) {
          if (check_range(r, lineno, kind, v, 0.0, 1.0) != 0) return 1;
        } else if (kind == COL_LATENCY || kind == COL_LR || kind == COL_SECONDS) {
          if (check_range(r, lineno, kind, v, 0.0, INFINITY) != 0) return 1;
        }
        dst[kind][row] = v;
        break;
      }
    }
  }
  if (row > 0 && h->warmup[row] && !h->warmup[row - 1]) {
    return cli_error("%s:%d: a warmup row after a search row: warm-up comes first", r->path,
                     lineno);
  }
  return 0;
}

static int is_blank(const char *line, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
  }
  return 1;
}

int plot_history_read(const char *path, plot_history *history) {
  reader r;
  memset(&r, 0, sizeof r);
  r.path = path;
  plot_history h;
  memset(&h, 0, sizeof h);
  memset(history, 0, sizeof *history);
  int status = read_file(&r);
  if (status != 0 || r.text == NULL) return 1;
  r.fields = malloc((PLOT_HISTORY_MAX_COLUMNS + 1) * sizeof(field));
  if (r.fields == NULL) {
    status = cli_error("%s: out of memory", path);
    goto done;
  }
  if (memchr(r.text, '\0', r.size) != NULL) {
    const size_t at = (size_t)((const char *)memchr(r.text, '\0', r.size) - r.text);
    int lineno = 1;
    for (size_t i = 0; i < at; i++) lineno += r.text[i] == '\n';
    status = cli_error("%s:%d: a NUL byte: not a text file", path, lineno);
    goto done;
  }
  /* Lines: count them to size the arrays. */
  long lines = 0;
  for (size_t i = 0; i < r.size; i++) lines += r.text[i] == '\n';
  lines += r.size > 0 && r.text[r.size - 1] != '\n';
  if (lines == 0) {
    status = cli_error("%s: empty file; expected a header line %s", path, EXPECTED_HEADER);
    goto done;
  }
  if (lines - 1 > PLOT_HISTORY_MAX_ROWS) {
    status = cli_error("%s: more than %d rows", path, PLOT_HISTORY_MAX_ROWS);
    goto done;
  }
  const char *p = r.text;
  const char *end = r.text + r.size;
  /* A UTF-8 byte order mark is allowed before the header. */
  if (r.size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  int lineno = 0, row = 0, probs = 0, have_header = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl != NULL ? nl : end;
    size_t len = (size_t)(line_end - p);
    if (len > 0 && p[len - 1] == '\r') len--;
    lineno++;
    if (!have_header) {
      if ((status = read_header(&r, p, len, &probs)) != 0) goto done;
      if (!alloc_columns(&h, (int)(lines - 1), probs)) {
        status = cli_error("%s: out of memory", path);
        goto done;
      }
      if ((status = keep_prob_names(&r, &h)) != 0) goto done;
      have_header = 1;
    } else if (!is_blank(p, len)) {
      if ((status = read_row(&r, &h, row, lineno, p, len)) != 0) goto done;
      row++;
      h.rows = row;
    }
    p = nl != NULL ? nl + 1 : end;
  }
  if (row == 0) {
    status = cli_error("%s: no epochs: the file has a header and no rows", path);
    goto done;
  }
  *history = h;
  memset(&h, 0, sizeof h);
done:
  plot_history_free(&h);
  free(r.text);
  free(r.kind);
  free(r.prob_of);
  free(r.fields);
  return status;
}
