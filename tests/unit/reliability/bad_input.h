/* SPDX-License-Identifier: MIT */
/* The bad-input matrix: shared fixture and row checks. Every row is one bad
 * call of one public function: the status it must return, a piece of the
 * message the context must then hold, and afterwards every handle of the
 * fixture must still work. tests/unit/reliability/check-matrix.py checks
 * that every PNAS_API function of pnas.h has at least one ROW. */
#ifndef PNAS_TESTS_BAD_INPUT_H
#define PNAS_TESTS_BAD_INPUT_H

#include "check_main.h"
#include "counting_alloc.h"
#include "pnas/pnas.h"

enum { HW = 6, N = 12, BATCH = 4, CLASSES = 3 };

typedef struct fixture {
  counting_alloc alloc;
  pnas_context *ctx;
  pnas_space *space;       /* 2 searched layers, zero on both */
  pnas_supernet *sn;       /* max_batch BATCH, no latency model */
  pnas_latency_model *lat; /* MACs model */
  pnas_arch *arch;         /* derived from sn */
  pnas_net *net;           /* from arch, max_batch BATCH */
  pnas_dataset *ds;        /* N images HW x HW x 1, CLASSES classes */
  pnas_batcher *batcher;   /* batch BATCH */
  float images[BATCH * HW * HW];
  int32_t labels[BATCH];
  char dir[64];       /* a fresh temporary folder */
  const char *test;   /* name of the running test, for the table */
  const char *buffer; /* pnas_context_create's error buffer, for the table */
} fixture;

void fixture_open(fixture *f, const char *test);
/* Destroys everything and checks that every allocation was freed. */
void fixture_close(fixture *f);

/* Writes `text` to dir/name and returns the path (static buffer per slot). */
const char *fixture_file(fixture *f, int slot, const char *name, const char *text, size_t size);

/* Makes the context's last error a known sentinel, so that a row can tell a
 * new message from an old one. */
void row_prime(fixture *f);

/* Checks one row: status, message (NULL: no context can hold one, so the
 * sentinel must be untouched) and that the fixture still works. Appends the
 * row to $PNAS_MATRIX_OUT when set. */
void row_check(fixture *f, const char *function, const char *bad, pnas_status want,
               const char *excerpt, pnas_status got, int line);

/* A row for a function without a status (destroy, getters of static
 * strings): `ok` is the observed property, `result` says what it is. */
void row_check_void(fixture *f, const char *function, const char *bad, const char *result, int ok,
                    int line);

#define ROW(fn, bad, want, excerpt, call) \
  row_check(f, #fn, (bad), (want), (excerpt), (row_prime(f), (call)), __LINE__)
#define ROW_VOID(fn, bad, result, ok) \
  row_check_void(f, #fn, (bad), (result), (row_prime(f), (ok)), __LINE__)

#endif
