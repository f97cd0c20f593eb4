/* SPDX-License-Identifier: MIT */
/* The `pnas search` / `pnas train` configuration (config.h, docs/config.md).
 *
 * The YAML file is read with libyaml's event API. The schema is two levels
 * deep (sections, then scalar keys), and any collection where a scalar is
 * expected stops the load at once, so nesting never goes deeper than two
 * whatever the input; the file itself is capped at 1 MiB. Aliases and tags
 * are refused. Messages follow the library's (docs/formats.md):
 * `FILE:LINE: KEY: expected ..., got ...`. */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "cli.h"

#define MESSAGE_MAX 512
#define FILE_MAX_BYTES (1024L * 1024L)
#define MAX_EPOCHS 100000

/* ---- the keys ---------------------------------------------------------- */

typedef enum key_type { K_INT, K_U64, K_NUM, K_BOOL, K_ENUM, K_PATH } key_type;

/* Which enum field a K_ENUM key is (their C types differ). */
typedef enum enum_field { E_NONE, E_ARCH_MODE, E_LOSS, E_LATENCY_KIND } enum_field;

typedef struct key_def {
  const char *section;
  const char *name;
  key_type type;
  size_t offset;
  long long imin, imax;      /* K_INT */
  double lo, hi;             /* K_NUM; -HUGE_VAL / HUGE_VAL: unbounded */
  int lo_open, hi_open;      /* K_NUM: the bound itself is excluded */
  const char *const *names;  /* K_ENUM: value i is names[i] */
  enum_field field;          /* K_ENUM */
} key_def;

static const char *const arch_mode_names[] = {"two", "full_v2", NULL};
static const char *const loss_names[] = {"none", "add", "mul-log", "abs", NULL};
static const char *const latency_kind_names[] = {"profile", "table", "macs", NULL};

static const char *const section_names[] = {"data", "space", "search", "latency", "train", "run"};
#define SECTION_COUNT (sizeof section_names / sizeof section_names[0])

#define OFF(member) offsetof(cli_config, member)
#define INT_KEY(s, n, member, a, b) {s, n, K_INT, OFF(member), a, b, 0, 0, 0, 0, NULL, E_NONE}
#define NUM_KEY(s, n, member, a, ao, b, bo) \
  {s, n, K_NUM, OFF(member), 0, 0, a, b, ao, bo, NULL, E_NONE}
#define BOOL_KEY(s, n, member) {s, n, K_BOOL, OFF(member), 0, 0, 0, 0, 0, 0, NULL, E_NONE}
#define PATH_KEY(s, n, member) {s, n, K_PATH, OFF(member), 0, 0, 0, 0, 0, 0, NULL, E_NONE}
#define ENUM_KEY(s, n, member, names, field) \
  {s, n, K_ENUM, OFF(member), 0, 0, 0, 0, 0, 0, names, field}
#define ANY (HUGE_VAL)

/* In the order of docs/config.md and of the written file. */
static const key_def keys[] = {
    PATH_KEY("data", "dir", data.dir),
    INT_KEY("data", "train_limit", data.train_limit, 0, INT_MAX),
    INT_KEY("data", "test_limit", data.test_limit, 0, INT_MAX),
    INT_KEY("data", "held_out_per_class", data.held_out_per_class, 1, INT_MAX),
    NUM_KEY("data", "mean", data.mean, -ANY, 0, ANY, 0),
    NUM_KEY("data", "std", data.std, 0, 1, ANY, 0),
    INT_KEY("data", "crop_padding", data.crop_padding, 0, 1024),
    BOOL_KEY("data", "flip", data.flip),

    PATH_KEY("space", "file", space.file),

    INT_KEY("search", "warmup_epochs", search.warmup_epochs, 0, MAX_EPOCHS),
    INT_KEY("search", "epochs", search.epochs, 1, MAX_EPOCHS),
    INT_KEY("search", "batch_size", search.batch_size, 1, 4096),
    NUM_KEY("search", "lr", search.lr, 0, 0, ANY, 0),
    NUM_KEY("search", "momentum", search.momentum, 0, 0, 1, 1),
    BOOL_KEY("search", "nesterov", search.nesterov),
    NUM_KEY("search", "weight_decay", search.weight_decay, 0, 0, ANY, 0),
    NUM_KEY("search", "label_smoothing", search.label_smoothing, 0, 0, 1, 1),
    INT_KEY("search", "arch_every", search.arch_every, 1, 1000000),
    INT_KEY("search", "arch_batch_size", search.arch_batch_size, 1, 4096),
    ENUM_KEY("search", "arch_mode", search.arch_mode, arch_mode_names, E_ARCH_MODE),
    NUM_KEY("search", "arch_lr", search.arch_lr, 0, 0, ANY, 0),
    NUM_KEY("search", "arch_beta1", search.arch_beta1, 0, 0, 1, 1),
    NUM_KEY("search", "arch_beta2", search.arch_beta2, 0, 0, 1, 1),
    ENUM_KEY("search", "loss", search.loss, loss_names, E_LOSS),
    NUM_KEY("search", "target_ms", search.target_ms, 0, 0, ANY, 0),
    NUM_KEY("search", "lambda", search.lambda, 0, 0, ANY, 0),
    NUM_KEY("search", "mul_log_a", search.mul_log_a, 0, 0, ANY, 0),
    NUM_KEY("search", "mul_log_beta", search.mul_log_beta, 0, 0, ANY, 0),
    NUM_KEY("search", "prune_threshold", search.prune_threshold, 0, 0, 1, 1),
    INT_KEY("search", "prune_patience", search.prune_patience, 1, INT_MAX),
    BOOL_KEY("search", "skip_zero_active", search.skip_zero_active),

    ENUM_KEY("latency", "kind", latency.kind, latency_kind_names, E_LATENCY_KIND),
    PATH_KEY("latency", "table", latency.table),
    NUM_KEY("latency", "ms_per_mmac", latency.ms_per_mmac, 0, 1, ANY, 0),
    INT_KEY("latency", "profile_batch", latency.profile_batch, 1, 4096),
    INT_KEY("latency", "profile_warmup", latency.profile_warmup, 0, 1000000),
    INT_KEY("latency", "profile_repeats", latency.profile_repeats, 1, 1000000),

    INT_KEY("train", "epochs", train.epochs, 1, MAX_EPOCHS),
    INT_KEY("train", "batch_size", train.batch_size, 1, 4096),
    NUM_KEY("train", "lr", train.lr, 0, 0, ANY, 0),
    NUM_KEY("train", "weight_decay", train.weight_decay, 0, 0, ANY, 0),
    NUM_KEY("train", "label_smoothing", train.label_smoothing, 0, 0, 1, 1),
    NUM_KEY("train", "dropout", train.dropout, 0, 0, 1, 1),
    INT_KEY("train", "crop_padding", train.crop_padding, 0, 1024),
    BOOL_KEY("train", "flip", train.flip),

    INT_KEY("run", "threads", run.threads, 0, 4096),
    {"run", "seed", K_U64, OFF(run.seed), 0, 0, 0, 0, 0, 0, NULL, E_NONE},
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

void cli_config_defaults(cli_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->data.dir, sizeof c->data.dir, "%s", "/usr/share/datasets/fashion-mnist");
  c->data.train_limit = 0;
  c->data.test_limit = 0;
  c->data.held_out_per_class = 500;
  c->data.mean = 0.2860;
  c->data.std = 0.3530;
  c->data.crop_padding = 2;
  c->data.flip = 0;

  snprintf(c->space.file, sizeof c->space.file, "%s", "fmnist-space.yaml");

  c->search.warmup_epochs = 2;
  c->search.epochs = 6;
  c->search.batch_size = 64;
  c->search.lr = 0.05;
  c->search.momentum = 0.9;
  c->search.nesterov = 1;
  c->search.weight_decay = 4e-5;
  c->search.label_smoothing = 0.1;
  c->search.arch_every = 5;
  c->search.arch_batch_size = 64;
  c->search.arch_mode = PNAS_ARCH_MODE_FULL_V2;
  c->search.arch_lr = 6e-3;
  c->search.arch_beta1 = 0.0;
  c->search.arch_beta2 = 0.999;
  c->search.loss = PNAS_LOSS_ADD;
  c->search.target_ms = 0.35;
  c->search.lambda = 0.3;
  c->search.mul_log_a = 0.2;
  c->search.mul_log_beta = 0.3;
  c->search.prune_threshold = 0.0;
  c->search.prune_patience = 100;
  c->search.skip_zero_active = 1;

  c->latency.kind = CLI_LATENCY_PROFILE;
  c->latency.table[0] = '\0';
  c->latency.ms_per_mmac = 0.01;
  c->latency.profile_batch = 1;
  c->latency.profile_warmup = 5;
  c->latency.profile_repeats = 21;

  c->train.epochs = 15;
  c->train.batch_size = 64;
  c->train.lr = 0.1;
  c->train.weight_decay = 4e-5;
  c->train.label_smoothing = 0.1;
  c->train.dropout = 0.1;
  c->train.crop_padding = 2;
  c->train.flip = 1;

  c->run.threads = 0;
  c->run.seed = 1;
}

static const char *enum_name(const char *const *names, int value) {
  int n = 0;
  while (names[n] != NULL) n++;
  return value >= 0 && value < n ? names[value] : "?";
}

const char *cli_config_arch_mode_name(pnas_arch_mode mode) {
  return enum_name(arch_mode_names, (int)mode);
}

const char *cli_config_loss_name(pnas_loss_form loss) {
  return enum_name(loss_names, (int)loss);
}

const char *cli_config_latency_kind_name(cli_latency_kind kind) {
  return enum_name(latency_kind_names, (int)kind);
}

/* ---- field access ------------------------------------------------------ */

static void *field(cli_config *c, const key_def *k) {
  return (char *)c + k->offset;
}

static const void *cfield(const cli_config *c, const key_def *k) {
  return (const char *)c + k->offset;
}

static int get_enum(const cli_config *c, const key_def *k) {
  switch (k->field) {
    case E_ARCH_MODE:
      return (int)c->search.arch_mode;
    case E_LOSS:
      return (int)c->search.loss;
    case E_LATENCY_KIND:
      return (int)c->latency.kind;
    case E_NONE:
      break;
  }
  return -1;
}

static void set_enum(cli_config *c, const key_def *k, int value) {
  switch (k->field) {
    case E_ARCH_MODE:
      c->search.arch_mode = (pnas_arch_mode)value;
      break;
    case E_LOSS:
      c->search.loss = (pnas_loss_form)value;
      break;
    case E_LATENCY_KIND:
      c->latency.kind = (cli_latency_kind)value;
      break;
    case E_NONE:
      break;
  }
}

static const key_def *find_key(const char *section, const char *name) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) return &keys[i];
  }
  return NULL;
}

static int find_section(const char *name) {
  for (size_t i = 0; i < SECTION_COUNT; i++) {
    if (strcmp(section_names[i], name) == 0) return (int)i;
  }
  return -1;
}

/* ---- text helpers ------------------------------------------------------ */

/* Copies at most 60 bytes of text for a message, control characters
 * replaced by '?', so that a message stays on one line. */
static const char *printable(const char *text, char *buf, size_t cap) {
  size_t n = 0;
  for (const char *p = text; *p != '\0' && n + 1 < cap && n < 60; p++) {
    const unsigned char ch = (unsigned char)*p;
    buf[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
  }
  buf[n] = '\0';
  if (strlen(text) > n && n + 4 < cap) strcat(buf, "...");
  return buf;
}

static int is_null_text(const char *t) {
  return t[0] == '\0' || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 ||
         strcmp(t, "Null") == 0 || strcmp(t, "NULL") == 0;
}

/* What a scalar is, for "got ..." */
static const char *describe(const char *text, int plain, char *buf, size_t cap) {
  char shown[80];
  if (plain && is_null_text(text)) {
    snprintf(buf, cap, "null");
  } else if (!plain) {
    snprintf(buf, cap, "the string \"%s\"", printable(text, shown, sizeof shown));
  } else {
    snprintf(buf, cap, "%s", printable(text, shown, sizeof shown));
  }
  return buf;
}

/* The shortest %g text that reads back as exactly v. */
static const char *format_number(double v, char *buf, size_t cap) {
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(buf, cap, "%.*g", precision, v);
    if (strtod(buf, NULL) == v) break;
  }
  return buf;
}

/* "an integer >= 1", "a number in [0, 1)", "one of two, full_v2", ... */
static const char *expected(const key_def *k, char *buf, size_t cap) {
  char a[40], b[40];
  switch (k->type) {
    case K_INT:
      if (k->imax == INT_MAX) {
        snprintf(buf, cap, "an integer >= %lld", k->imin);
      } else {
        snprintf(buf, cap, "an integer from %lld to %lld", k->imin, k->imax);
      }
      break;
    case K_U64:
      snprintf(buf, cap, "an integer from 0 to %" PRIu64, UINT64_MAX);
      break;
    case K_NUM:
      format_number(k->lo, a, sizeof a);
      format_number(k->hi, b, sizeof b);
      if (isinf(k->lo) && isinf(k->hi)) {
        snprintf(buf, cap, "a finite number");
      } else if (isinf(k->hi)) {
        snprintf(buf, cap, "a number %s %s", k->lo_open ? ">" : ">=", a);
      } else {
        snprintf(buf, cap, "a number in %s%s, %s%s", k->lo_open ? "(" : "[", a, b,
                 k->hi_open ? ")" : "]");
      }
      break;
    case K_BOOL:
      snprintf(buf, cap, "true or false");
      break;
    case K_ENUM: {
      size_t len = (size_t)snprintf(buf, cap, "one of ");
      for (int i = 0; k->names[i] != NULL && len < cap; i++) {
        const int n = snprintf(buf + len, cap - len, "%s%s", i > 0 ? ", " : "", k->names[i]);
        if (n < 0) break;
        len += (size_t)n;
      }
      break;
    }
    case K_PATH:
      snprintf(buf, cap, "a path");
      break;
  }
  return buf;
}

static int num_in_range(const key_def *k, double v) {
  if (!isfinite(v) || fabs(v) > FLT_MAX) return 0; /* the library takes floats */
  if (k->lo_open ? !(v > k->lo) : !(v >= k->lo)) return 0;
  if (k->hi_open ? !(v < k->hi) : !(v <= k->hi)) return 0;
  return 1;
}

static int wrong(const key_def *k, const char *text, int plain, char *msg, size_t cap) {
  char want[160], got[100];
  snprintf(msg, cap, "expected %s, got %s", expected(k, want, sizeof want),
           describe(text, plain, got, sizeof got));
  return 1;
}

static int valid_utf8(const unsigned char *s) {
  while (*s != 0) {
    int extra;
    unsigned int cp;
    if (*s < 0x80) {
      s++;
      continue;
    } else if ((*s & 0xe0) == 0xc0) {
      extra = 1;
      cp = *s & 0x1fu;
    } else if ((*s & 0xf0) == 0xe0) {
      extra = 2;
      cp = *s & 0x0fu;
    } else if ((*s & 0xf8) == 0xf0) {
      extra = 3;
      cp = *s & 0x07u;
    } else {
      return 0;
    }
    s++;
    for (int i = 0; i < extra; i++, s++) {
      if ((*s & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (*s & 0x3fu);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return 0;
    }
  }
  return 1;
}

/* out = base/text (text relative), or text itself (absolute or empty).
 * Leading "./" components of text are dropped. */
static int resolve_path(const char *base, const char *text, char *out, size_t cap) {
  if (text[0] == '\0' || text[0] == '/' || base == NULL) {
    if (strlen(text) >= cap) return 1;
    memcpy(out, text, strlen(text) + 1);
    return 0;
  }
  while (text[0] == '.' && text[1] == '/') {
    text += 2;
    while (text[0] == '/') text++;
  }
  if (strcmp(text, ".") == 0 || text[0] == '\0') text = "";
  const size_t blen = strlen(base);
  const int slash = blen > 0 && base[blen - 1] != '/' && text[0] != '\0';
  const int n = snprintf(out, cap, "%s%s%s", base, slash ? "/" : "", text);
  return n < 0 || (size_t)n >= cap;
}

/* Parses text (length len, from a plain scalar when plain) into k's field of
 * *c. base: the folder relative paths resolve against (NULL: keep them).
 * Returns 0, or 1 with msg holding the reason (without the key). */
static int set_value(cli_config *c, const key_def *k, const char *text, size_t len, int plain,
                     const char *base, char *msg, size_t cap) {
  if (strlen(text) != len) {
    snprintf(msg, cap, "expected %s, got a string containing a NUL character",
             k->type == K_PATH ? "a path" : "a scalar");
    return 1;
  }
  const int null = plain && is_null_text(text);
  switch (k->type) {
    case K_INT: {
      if (!plain || null) return wrong(k, text, plain, msg, cap);
      const char *p = text + (text[0] == '-' || text[0] == '+');
      if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) return wrong(k, text, plain, msg, cap);
      errno = 0;
      const long long v = strtoll(text, NULL, 10);
      if (errno == ERANGE || v < k->imin || v > k->imax) return wrong(k, text, plain, msg, cap);
      *(int *)field(c, k) = (int)v;
      return 0;
    }
    case K_U64: {
      if (!plain || null) return wrong(k, text, plain, msg, cap);
      const char *p = text + (text[0] == '+');
      if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) return wrong(k, text, plain, msg, cap);
      errno = 0;
      const unsigned long long v = strtoull(p, NULL, 10);
      if (errno == ERANGE) return wrong(k, text, plain, msg, cap);
      *(uint64_t *)field(c, k) = (uint64_t)v;
      return 0;
    }
    case K_NUM: {
      if (!plain || null) return wrong(k, text, plain, msg, cap);
      /* Decimal only: strtod also takes "nan", "inf" and hex floats. */
      if (strspn(text, "0123456789+-.eE") != strlen(text)) return wrong(k, text, plain, msg, cap);
      char *end = NULL;
      errno = 0;
      const double v = strtod(text, &end);
      if (end == text || *end != '\0' || !num_in_range(k, v)) {
        return wrong(k, text, plain, msg, cap);
      }
      *(double *)field(c, k) = v;
      return 0;
    }
    case K_BOOL:
      if (plain && strcmp(text, "true") == 0) {
        *(int *)field(c, k) = 1;
      } else if (plain && strcmp(text, "false") == 0) {
        *(int *)field(c, k) = 0;
      } else {
        return wrong(k, text, plain, msg, cap);
      }
      return 0;
    case K_ENUM:
      if (!null) {
        for (int i = 0; k->names[i] != NULL; i++) {
          if (strcmp(text, k->names[i]) == 0) {
            set_enum(c, k, i);
            return 0;
          }
        }
      }
      return wrong(k, text, plain, msg, cap);
    case K_PATH: {
      if (null) text = "";
      if (!valid_utf8((const unsigned char *)text)) {
        snprintf(msg, cap, "expected a UTF-8 path");
        return 1;
      }
      char *out = field(c, k);
      if (resolve_path(base, text, out, CLI_CONFIG_PATH_MAX) != 0) {
        out[0] = '\0';
        snprintf(msg, cap, "path longer than %d bytes", CLI_CONFIG_PATH_MAX - 1);
        return 1;
      }
      return 0;
    }
  }
  return 1;
}

/* Levenshtein distance of two short strings, capped. */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 99;
  size_t row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      const size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* "unknown key (did you mean 'epochs'?)" or the section's keys. */
static void unknown_key_message(const char *section, const char *name, const char *prefix,
                                char *msg, size_t cap) {
  const key_def *best = NULL;
  size_t best_d = 3;
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (strcmp(keys[i].section, section) != 0) continue;
    const size_t d = distance(name, keys[i].name);
    if (d < best_d) {
      best_d = d;
      best = &keys[i];
    }
  }
  if (best != NULL) {
    snprintf(msg, cap, "unknown key (did you mean '%s%s'?)", prefix, best->name);
    return;
  }
  size_t len = (size_t)snprintf(msg, cap, "unknown key (expected one of:");
  int first = 1;
  for (size_t i = 0; i < KEY_COUNT && len < cap; i++) {
    if (strcmp(keys[i].section, section) != 0) continue;
    const int n = snprintf(msg + len, cap - len, "%s %s", first ? "" : ",", keys[i].name);
    if (n < 0) return;
    len += (size_t)n;
    first = 0;
  }
  if (len < cap) snprintf(msg + len, cap - len, ")");
}

static const char *sections_list(void) {
  return "data, space, search, latency, train, run";
}

/* ---- the YAML loader --------------------------------------------------- */

typedef struct loader {
  const char *file;
  const char *text; /* the file's bytes */
  size_t size;
  yaml_parser_t parser;
  yaml_event_t event;
  int have_event;
  cli_config *config;
  char base[CLI_CONFIG_PATH_MAX]; /* absolute folder of the file */
  int section_line[SECTION_COUNT];
  int key_line[KEY_COUNT];
} loader;

static int line_of(const yaml_event_t *e) {
  return (int)e->start_mark.line + 1;
}

static int fail(const loader *l, int line, const char *key, const char *message) {
  if (key != NULL && key[0] != '\0') return cli_error("%s:%d: %s: %s", l->file, line, key, message);
  return cli_error("%s:%d: %s", l->file, line, message);
}

static int syntax_error(const loader *l) {
  const yaml_parser_t *p = &l->parser;
  if (p->error == YAML_MEMORY_ERROR) return cli_error("%s: out of memory while parsing", l->file);
  const char *problem = p->problem != NULL ? p->problem : "malformed document";
  int line = (int)p->problem_mark.line + 1;
  if (p->error == YAML_READER_ERROR) {
    /* The reader reports a byte offset, not a mark. */
    line = 1;
    for (size_t i = 0; i < p->problem_offset && i < l->size; i++) line += l->text[i] == '\n';
  }
  if (p->context != NULL) {
    return cli_error("%s:%d: YAML syntax error: %s (%s, line %d)", l->file, line, problem,
                     p->context, (int)p->context_mark.line + 1);
  }
  return cli_error("%s:%d: YAML syntax error: %s", l->file, line, problem);
}

/* The next event in l->event; aliases and explicit tags are errors. */
static int next_event(loader *l) {
  if (l->have_event) yaml_event_delete(&l->event);
  l->have_event = 0;
  if (!yaml_parser_parse(&l->parser, &l->event)) return syntax_error(l);
  l->have_event = 1;
  const yaml_event_t *e = &l->event;
  if (e->type == YAML_ALIAS_EVENT) return fail(l, line_of(e), NULL, "aliases are not supported");
  const yaml_char_t *tag = e->type == YAML_SCALAR_EVENT           ? e->data.scalar.tag
                           : e->type == YAML_MAPPING_START_EVENT  ? e->data.mapping_start.tag
                           : e->type == YAML_SEQUENCE_START_EVENT ? e->data.sequence_start.tag
                                                                  : NULL;
  if (tag != NULL) return fail(l, line_of(e), NULL, "tags are not supported");
  return 0;
}

static int is_plain(const yaml_event_t *e) {
  return e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static const char *scalar_text(const yaml_event_t *e) {
  return (const char *)e->data.scalar.value;
}

static const char *collection_name(const yaml_event_t *e) {
  return e->type == YAML_MAPPING_START_EVENT ? "a mapping" : "a sequence";
}

/* The event that should be a key: a scalar, or MAPPING_END (returns 2). */
static int expect_key(loader *l, const char *where) {
  if (next_event(l) != 0) return 1;
  const yaml_event_t *e = &l->event;
  if (e->type == YAML_MAPPING_END_EVENT) return 2;
  if (e->type == YAML_SCALAR_EVENT) return 0;
  char msg[64];
  snprintf(msg, sizeof msg, "expected a plain key, got %s", collection_name(e));
  return fail(l, line_of(e), where, msg);
}

static int load_keys(loader *l, int section) {
  const char *sname = section_names[section];
  for (;;) {
    const int k = expect_key(l, sname);
    if (k == 2) return 0;
    if (k != 0) return 1;
    char shown[80], where[160], msg[MESSAGE_MAX];
    const int key_line = line_of(&l->event);
    printable(scalar_text(&l->event), shown, sizeof shown);
    snprintf(where, sizeof where, "%s.%s", sname, shown);
    const key_def *def = find_key(sname, scalar_text(&l->event));
    if (def == NULL) {
      unknown_key_message(sname, scalar_text(&l->event), "", msg, sizeof msg);
      return fail(l, key_line, where, msg);
    }
    const size_t index = (size_t)(def - keys);
    if (l->key_line[index] > 0) {
      snprintf(msg, sizeof msg, "duplicate key (first given on line %d)", l->key_line[index]);
      return fail(l, key_line, where, msg);
    }
    l->key_line[index] = key_line;
    if (next_event(l) != 0) return 1;
    const yaml_event_t *v = &l->event;
    if (v->type != YAML_SCALAR_EVENT) {
      char want[160];
      snprintf(msg, sizeof msg, "expected %s, got %s", expected(def, want, sizeof want),
               collection_name(v));
      return fail(l, line_of(v), where, msg);
    }
    if (set_value(l->config, def, scalar_text(v), v->data.scalar.length, is_plain(v), l->base, msg,
                  sizeof msg) != 0) {
      return fail(l, line_of(v), where, msg);
    }
  }
}

static int load_sections(loader *l) {
  for (;;) {
    const int k = expect_key(l, NULL);
    if (k == 2) return 0;
    if (k != 0) return 1;
    char shown[80], msg[MESSAGE_MAX];
    const int line = line_of(&l->event);
    printable(scalar_text(&l->event), shown, sizeof shown);
    const int section = find_section(scalar_text(&l->event));
    if (section < 0) {
      snprintf(msg, sizeof msg, "unknown section (expected one of: %s)", sections_list());
      return fail(l, line, shown, msg);
    }
    if (l->section_line[section] > 0) {
      snprintf(msg, sizeof msg, "duplicate section (first given on line %d)",
               l->section_line[section]);
      return fail(l, line, shown, msg);
    }
    l->section_line[section] = line;
    if (next_event(l) != 0) return 1;
    const yaml_event_t *v = &l->event;
    if (v->type == YAML_MAPPING_START_EVENT) {
      if (load_keys(l, section) != 0) return 1;
    } else if (v->type == YAML_SCALAR_EVENT && is_plain(v) && is_null_text(scalar_text(v))) {
      /* "search:" with every key commented out: nothing to change. */
    } else {
      char got[100];
      snprintf(msg, sizeof msg, "expected a mapping, got %s",
               v->type == YAML_SCALAR_EVENT
                   ? describe(scalar_text(v), is_plain(v), got, sizeof got)
                   : collection_name(v));
      return fail(l, line_of(v), shown, msg);
    }
  }
}

static int load_stream(loader *l) {
  if (next_event(l) != 0) return 1; /* STREAM_START */
  if (next_event(l) != 0) return 1;
  if (l->event.type == YAML_STREAM_END_EVENT) return 0; /* empty or comments only */
  /* DOCUMENT_START, then the root */
  if (next_event(l) != 0) return 1;
  const yaml_event_t *root = &l->event;
  if (root->type == YAML_MAPPING_START_EVENT) {
    if (load_sections(l) != 0) return 1;
  } else if (!(root->type == YAML_SCALAR_EVENT && is_plain(root) &&
               is_null_text(scalar_text(root)))) {
    char got[100], msg[MESSAGE_MAX];
    snprintf(msg, sizeof msg, "expected a mapping of sections (%s), got %s", sections_list(),
             root->type == YAML_SCALAR_EVENT
                 ? describe(scalar_text(root), is_plain(root), got, sizeof got)
                 : collection_name(root));
    return fail(l, line_of(root), NULL, msg);
  }
  if (next_event(l) != 0) return 1; /* DOCUMENT_END */
  if (next_event(l) != 0) return 1;
  if (l->event.type == YAML_DOCUMENT_START_EVENT) {
    return fail(l, line_of(&l->event), NULL, "expected one document, found a second");
  }
  return 0;
}

/* The whole file, at most FILE_MAX_BYTES, NUL-terminated, or NULL after an
 * error line. */
static char *read_file(const char *path, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    cli_error("cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  char *text = malloc((size_t)FILE_MAX_BYTES + 1);
  if (text == NULL) {
    fclose(f);
    cli_error("%s: out of memory", path);
    return NULL;
  }
  errno = 0;
  const size_t n = fread(text, 1, (size_t)FILE_MAX_BYTES + 1, f);
  const int failed = ferror(f);
  const int error = errno;
  fclose(f);
  if (failed) {
    cli_error("cannot read '%s': %s", path, error != 0 ? strerror(error) : "read error");
    free(text);
    return NULL;
  }
  if (n > (size_t)FILE_MAX_BYTES) {
    cli_error("%s: larger than 1 MiB, not a configuration file", path);
    free(text);
    return NULL;
  }
  text[n] = '\0';
  *out_size = n;
  return text;
}

/* The absolute folder holding path, into out. */
static int folder_of(const char *path, char *out, size_t cap) {
  char dir[CLI_CONFIG_PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    snprintf(dir, sizeof dir, ".");
  } else {
    const size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir) return 1;
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  char *real = realpath(dir, NULL);
  if (real == NULL) return 1;
  const int n = snprintf(out, cap, "%s", real);
  free(real);
  return n < 0 || (size_t)n >= cap;
}

int cli_config_load(cli_config *c, const char *path) {
  size_t size = 0;
  char *text = read_file(path, &size);
  if (text == NULL) return 1;
  loader *l = calloc(1, sizeof *l);
  cli_config *copy = malloc(sizeof *copy);
  if (l == NULL || copy == NULL) {
    free(l);
    free(copy);
    free(text);
    return cli_error("%s: out of memory", path);
  }
  *copy = *c;
  l->file = path;
  l->text = text;
  l->size = size;
  l->config = copy;
  int status = 0;
  if (folder_of(path, l->base, sizeof l->base) != 0) {
    status = cli_error("%s: cannot resolve the folder of the file: %s", path,
                       errno != 0 ? strerror(errno) : "path too long");
  } else if (!yaml_parser_initialize(&l->parser)) {
    status = cli_error("%s: out of memory while parsing", path);
  } else {
    yaml_parser_set_input_string(&l->parser, (const unsigned char *)text, size);
    status = load_stream(l);
    if (l->have_event) yaml_event_delete(&l->event);
    yaml_parser_delete(&l->parser);
  }
  /* space.file defaults to fmnist-space.yaml next to the file. */
  const size_t space_index = (size_t)(find_key("space", "file") - keys);
  if (status == 0 && l->key_line[space_index] == 0 && copy->space.file[0] != '\0' &&
      copy->space.file[0] != '/') {
    char resolved[CLI_CONFIG_PATH_MAX];
    if (resolve_path(l->base, copy->space.file, resolved, sizeof resolved) != 0) {
      status = cli_error("%s: space.file: path longer than %d bytes", path,
                         CLI_CONFIG_PATH_MAX - 1);
    } else {
      memcpy(copy->space.file, resolved, sizeof resolved);
    }
  }
  if (status == 0) *c = *copy;
  free(copy);
  free(l);
  free(text);
  return status;
}

/* ---- --set ------------------------------------------------------------- */

int cli_config_set(cli_config *c, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  char shown[80];
  if (eq == NULL) {
    return cli_error("--set '%s': expected SECTION.KEY=VALUE",
                     printable(assignment, shown, sizeof shown));
  }
  char key[128];
  const size_t klen = (size_t)(eq - assignment);
  if (klen >= sizeof key) {
    return cli_error("--set %s: unknown key", printable(assignment, shown, sizeof shown));
  }
  memcpy(key, assignment, klen);
  key[klen] = '\0';
  printable(key, shown, sizeof shown);
  char *dot = strchr(key, '.');
  if (dot == NULL) {
    return cli_error("--set %s: expected SECTION.KEY=VALUE with a section (%s)", shown,
                     sections_list());
  }
  *dot = '\0';
  const char *section = key, *name = dot + 1;
  if (find_section(section) < 0) {
    return cli_error("--set %s: unknown section '%s' (expected one of: %s)", shown, section,
                     sections_list());
  }
  const key_def *def = find_key(section, name);
  char msg[MESSAGE_MAX];
  if (def == NULL) {
    char prefix[sizeof key + 1];
    snprintf(prefix, sizeof prefix, "%s.", section);
    unknown_key_message(section, name, prefix, msg, sizeof msg);
    return cli_error("--set %s: %s", shown, msg);
  }
  char cwd[CLI_CONFIG_PATH_MAX];
  const char *base = NULL;
  if (def->type == K_PATH) {
    if (getcwd(cwd, sizeof cwd) == NULL) {
      return cli_error("--set %s: cannot get the working directory: %s", shown, strerror(errno));
    }
    base = cwd;
  }
  cli_config *copy = malloc(sizeof *copy);
  if (copy == NULL) return cli_error("--set %s: out of memory", shown);
  *copy = *c;
  const char *value = eq + 1;
  int status = 0;
  if (set_value(copy, def, value, strlen(value), 1, base, msg, sizeof msg) != 0) {
    status = cli_error("--set %s: %s", shown, msg);
  } else {
    *c = *copy;
  }
  free(copy);
  return status;
}

/* ---- validation -------------------------------------------------------- */

static int check_range(const cli_config *c, const key_def *k) {
  char key[64], want[160], got[64];
  snprintf(key, sizeof key, "%s.%s", k->section, k->name);
  switch (k->type) {
    case K_INT: {
      const int v = *(const int *)cfield(c, k);
      if (v >= k->imin && v <= k->imax) return 0;
      snprintf(got, sizeof got, "%d", v);
      break;
    }
    case K_NUM: {
      const double v = *(const double *)cfield(c, k);
      if (num_in_range(k, v)) return 0;
      format_number(v, got, sizeof got);
      break;
    }
    case K_BOOL: {
      const int v = *(const int *)cfield(c, k);
      if (v == 0 || v == 1) return 0;
      snprintf(got, sizeof got, "%d", v);
      break;
    }
    case K_ENUM: {
      const int v = get_enum(c, k);
      int n = 0;
      while (k->names[n] != NULL) n++;
      if (v >= 0 && v < n) return 0;
      snprintf(got, sizeof got, "%d", v);
      break;
    }
    case K_PATH: {
      const char *p = cfield(c, k);
      if (memchr(p, '\0', CLI_CONFIG_PATH_MAX) != NULL) return 0;
      return cli_error("%s: not a terminated string", key);
    }
    case K_U64:
      return 0;
  }
  return cli_error("%s: expected %s, got %s", key, expected(k, want, sizeof want), got);
}

int cli_config_validate(const cli_config *c) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (check_range(c, &keys[i]) != 0) return 1;
  }
  if (c->data.dir[0] == '\0') return cli_error("data.dir: must not be empty");
  if (c->space.file[0] == '\0') return cli_error("space.file: must not be empty");
  if (c->search.loss != PNAS_LOSS_NONE && !(c->search.target_ms > 0)) {
    char got[40];
    return cli_error("search.target_ms: must be > 0 when search.loss is %s (got %s)",
                     cli_config_loss_name(c->search.loss),
                     format_number(c->search.target_ms, got, sizeof got));
  }
  if (c->search.loss == PNAS_LOSS_MUL_LOG && !(c->search.target_ms > 1)) {
    char got[40];
    return cli_error("search.target_ms: must be > 1 when search.loss is mul-log (got %s): the "
                     "form compares ln E with ln T, and below 1 ms it would reward slower "
                     "networks; use add or abs",
                     format_number(c->search.target_ms, got, sizeof got));
  }
  if (c->latency.kind == CLI_LATENCY_TABLE && c->latency.table[0] == '\0') {
    return cli_error("latency.table: must be set when latency.kind is table");
  }
  return 0;
}

/* ---- writing ----------------------------------------------------------- */

/* A YAML double-quoted string. */
static void write_quoted(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
    if (*p == '"' || *p == '\\') {
      fputc('\\', f);
      fputc(*p, f);
    } else if (*p < 0x20 || *p == 0x7f) {
      fprintf(f, "\\x%02X", (unsigned int)*p);
    } else {
      fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void write_yaml(FILE *f, const cli_config *c) {
  fprintf(f,
          "# pnas configuration (docs/config.md), written by pnas %s.\n"
          "# Paths are absolute; `pnas search --config THIS_FILE` repeats the run.\n",
          pnas_version_string());
  const char *section = "";
  for (size_t i = 0; i < KEY_COUNT; i++) {
    const key_def *k = &keys[i];
    if (strcmp(k->section, section) != 0) {
      section = k->section;
      fprintf(f, "%s:\n", section);
    }
    fprintf(f, "  %s: ", k->name);
    char num[40];
    switch (k->type) {
      case K_INT:
        fprintf(f, "%d", *(const int *)cfield(c, k));
        break;
      case K_U64:
        fprintf(f, "%" PRIu64, *(const uint64_t *)cfield(c, k));
        break;
      case K_NUM:
        fputs(format_number(*(const double *)cfield(c, k), num, sizeof num), f);
        break;
      case K_BOOL:
        fputs(*(const int *)cfield(c, k) ? "true" : "false", f);
        break;
      case K_ENUM:
        fputs(enum_name(k->names, get_enum(c, k)), f);
        break;
      case K_PATH: {
        /* A path the struct holds relative (a default, or set by a host
         * program) is relative to the working directory: written absolute,
         * so that the file means the same from any folder. */
        const char *p = cfield(c, k);
        char cwd[CLI_CONFIG_PATH_MAX], absolute[CLI_CONFIG_PATH_MAX];
        if (p[0] != '\0' && p[0] != '/' && getcwd(cwd, sizeof cwd) != NULL &&
            resolve_path(cwd, p, absolute, sizeof absolute) == 0) {
          p = absolute;
        }
        write_quoted(f, p);
        break;
      }
    }
    fputc('\n', f);
  }
}

int cli_config_write(const cli_config *c, const char *path) {
  if (strcmp(path, "-") == 0) {
    write_yaml(stdout, c);
    if (fflush(stdout) != 0 || ferror(stdout)) return cli_error("writing the configuration failed");
    return 0;
  }
  char tmp[CLI_CONFIG_PATH_MAX + 8];
  const int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t)n >= sizeof tmp) return cli_error("%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) return cli_error("cannot write '%s': %s", tmp, strerror(errno));
  write_yaml(f, c);
  const int write_failed = ferror(f);
  if (fclose(f) != 0 || write_failed) {
    const int error = errno;
    remove(tmp);
    return cli_error("cannot write '%s': %s", tmp, strerror(error));
  }
  if (rename(tmp, path) != 0) {
    const int error = errno;
    remove(tmp);
    return cli_error("cannot rename '%s' to '%s': %s", tmp, path, strerror(error));
  }
  return 0;
}
