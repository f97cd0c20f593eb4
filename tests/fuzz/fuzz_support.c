/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets (fuzz_support.h). */
#include "fuzz_support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SINGLE_LIMIT_BYTES ((size_t)256 << 20)
#define LIVE_LIMIT_BYTES ((size_t)512 << 20)
/* Keeps the block after it aligned as malloc's (16 bytes on x86-64). */
#define HEADER_BYTES 16

static char tmp_root[256];
static int original_stderr = 2;

/* ---- failing loudly ------------------------------------------------------ */

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  dprintf(original_stderr, "\n%s:%d: fuzz check failed: %s: %s\n", file, line, cond, message);
  abort();
}

/* ---- stdout / stderr trap ------------------------------------------------ */

static ssize_t trap_write(void *cookie, const char *buf, size_t size) {
  const char *name = cookie;
  dprintf(original_stderr, "\nthe library wrote %zu bytes to %s: \"%.*s\"\n", size, name,
          (int)(size < 400 ? size : 400), buf);
  abort();
}

static FILE *trap_stream(const char *name) {
  const cookie_io_functions_t io = {.read = NULL, .write = trap_write, .seek = NULL, .close = NULL};
  FILE *f = fopencookie((void *)name, "w", io);
  if (f == NULL) fuzz_fail(__FILE__, __LINE__, "fopencookie", "%s", strerror(errno));
  setvbuf(f, NULL, _IONBF, 0);
  return f;
}

/* ---- the temporary folder ------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void remove_tree(const char *path) {
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_tmp_root(void) {
  if (tmp_root[0] != '\0') remove_tree(tmp_root);
}

void fuzz_init(void) {
  if (tmp_root[0] != '\0') return;
  const char *base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0') base = "/tmp";
  snprintf(tmp_root, sizeof tmp_root, "%s/pnas-fuzz-XXXXXX", base);
  if (mkdtemp(tmp_root) == NULL) {
    fuzz_fail(__FILE__, __LINE__, "mkdtemp", "%s: %s", tmp_root, strerror(errno));
  }
  atexit(remove_tmp_root);
  original_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (original_stderr < 0) original_stderr = 2;
  fflush(stdout);
  fflush(stderr);
  stdout = trap_stream("stdout");
  stderr = trap_stream("stderr");
}

const char *fuzz_path(char *buf, size_t cap, const char *name) {
  const int n = snprintf(buf, cap, "%s/%s", tmp_root, name);
  FUZZ_CHECK(n > 0 && (size_t)n < cap, "path of %s too long", name);
  return buf;
}

const char *fuzz_write(char *buf, size_t cap, const char *name, const void *data, size_t size) {
  fuzz_path(buf, cap, name);
  const int fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "open %s: %s", buf, strerror(errno));
  const unsigned char *p = data;
  size_t left = size;
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    FUZZ_CHECK(n > 0, "write %s: %s", buf, strerror(errno));
    p += n;
    left -= (size_t)n;
  }
  close(fd);
  return buf;
}

void fuzz_remove(const char *name) {
  char path[512];
  remove_tree(fuzz_path(path, sizeof path, name));
}

/* ---- the context --------------------------------------------------------- */

typedef struct budget {
  size_t live_bytes;
  size_t live_blocks;
} budget;

static budget the_budget;

static void *budget_alloc(void *user, size_t size) {
  budget *b = user;
  if (size > SINGLE_LIMIT_BYTES || b->live_bytes + size > LIVE_LIMIT_BYTES) return NULL;
  unsigned char *block = malloc(HEADER_BYTES + size);
  if (block == NULL) return NULL;
  memcpy(block, &size, sizeof size);
  b->live_bytes += size;
  b->live_blocks++;
  return block + HEADER_BYTES;
}

static void budget_free(void *user, void *ptr) {
  budget *b = user;
  FUZZ_CHECK(ptr != NULL, "the allocator's free was called with NULL");
  unsigned char *block = (unsigned char *)ptr - HEADER_BYTES;
  size_t size;
  memcpy(&size, block, sizeof size);
  FUZZ_CHECK(b->live_blocks > 0 && size <= b->live_bytes, "free of a block not allocated");
  b->live_bytes -= size;
  b->live_blocks--;
  free(block);
}

/* Index of the first byte of text that breaks "one line of UTF-8" (a control
 * character, or a malformed or cut UTF-8 sequence), or -1. */
static long bad_byte(const unsigned char *text) {
  for (const unsigned char *p = text; *p != '\0';) {
    const unsigned c = *p;
    const int extra = c < 0x80                ? 0
                      : c >= 0xc2 && c < 0xe0 ? 1
                      : c >= 0xe0 && c < 0xf0 ? 2
                      : c >= 0xf0 && c < 0xf5 ? 3
                                              : -1;
    if (c < 0x20 || c == 0x7f || extra < 0) return (long)(p - text);
    for (int i = 1; i <= extra; i++) {
      if ((p[i] & 0xc0) != 0x80) return (long)(p - text);
    }
    p += 1 + extra;
  }
  return -1;
}

static void check_log(void *user, pnas_log_level level, const char *message) {
  (void)user;
  FUZZ_CHECK(level >= PNAS_LOG_ERROR && level <= PNAS_LOG_DEBUG, "log level %d", (int)level);
  FUZZ_CHECK(message != NULL && message[0] != '\0', "empty log message");
  const long bad = bad_byte((const unsigned char *)message);
  FUZZ_CHECK(bad < 0, "the log message is not one line of UTF-8 (byte %ld is 0x%02x): %s", bad,
             bad >= 0 ? (unsigned char)message[bad] : 0, message);
}

pnas_context *fuzz_context(void) {
  FUZZ_CHECK(the_budget.live_blocks == 0, "%zu blocks still live", the_budget.live_blocks);
  pnas_context_options o;
  pnas_context_options_init(&o);
  o.threads = 1;
  o.seed = 1;
  o.allocator.alloc = budget_alloc;
  o.allocator.free = budget_free;
  o.allocator.user = &the_budget;
  o.log_fn = check_log;
  o.log_level = PNAS_LOG_DEBUG;
  pnas_context *ctx = NULL;
  char error[256] = "";
  const pnas_status s = pnas_context_create(&o, &ctx, error, sizeof error);
  FUZZ_CHECK(s == PNAS_OK, "pnas_context_create: %s", error);
  return ctx;
}

void fuzz_context_done(pnas_context *ctx) {
  pnas_context_destroy(ctx);
  FUZZ_CHECK(the_budget.live_blocks == 0, "%zu blocks (%zu bytes) not released",
             the_budget.live_blocks, the_budget.live_bytes);
}

void fuzz_check_failure(const pnas_context *ctx, pnas_status status, const char *call) {
  FUZZ_CHECK(status != PNAS_OK, "%s", call);
  FUZZ_CHECK(pnas_context_last_status(ctx) == status, "%s returned %s but the last status is %s",
             call, pnas_status_string(status), pnas_status_string(pnas_context_last_status(ctx)));
  const char *message = pnas_context_last_error(ctx);
  FUZZ_CHECK(message != NULL && message[0] != '\0', "%s failed (%s) without a message", call,
             pnas_status_string(status));
}

/* ---- BLIS operands ------------------------------------------------------- */

/* BLIS is not instrumented, so ASan cannot see it read past a buffer. The
 * targets link with -Wl,--wrap=bli_sgemm_ex: every GEMM of the library comes
 * here first, and the first and last element of each operand are read from
 * instrumented code, where a buffer too small for the shapes is reported. */
#include <blis.h>

void __real_bli_sgemm_ex(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k, float *alpha,
                         float *a, inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb,
                         float *beta, float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm);
void __wrap_bli_sgemm_ex(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k, float *alpha,
                         float *a, inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb,
                         float *beta, float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm);

/* Reads the first and last element of a rows x cols matrix. */
static void touch(const float *p, dim_t rows, dim_t cols, inc_t rs, inc_t cs) {
  if (rows <= 0 || cols <= 0) return;
  FUZZ_CHECK(rs >= 0 && cs >= 0, "negative GEMM stride");
  volatile float sink = p[0];
  sink = p[(rows - 1) * rs + (cols - 1) * cs];
  (void)sink;
}

void __wrap_bli_sgemm_ex(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k, float *alpha,
                         float *a, inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb,
                         float *beta, float *c, inc_t rsc, inc_t csc, cntx_t *cntx, rntm_t *rntm) {
  const int ta = transa == BLIS_TRANSPOSE, tb = transb == BLIS_TRANSPOSE;
  if (k > 0) {
    touch(a, ta ? k : m, ta ? m : k, rsa, csa);
    touch(b, tb ? n : k, tb ? k : n, rsb, csb);
  }
  touch(c, m, n, rsc, csc);
  __real_bli_sgemm_ex(transa, transb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
                      cntx, rntm);
}
