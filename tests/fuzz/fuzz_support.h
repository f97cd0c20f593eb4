/* SPDX-License-Identifier: MIT */
/* What every fuzz target shares: a context whose allocator counts and caps
 * memory, a trap on stdout/stderr (the library must never print), a private
 * temporary folder for the loaders that read files, and FUZZ_CHECK for the
 * library's promises (a failure names itself in the last error, an
 * out-parameter is untouched on failure). A broken promise aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef PNAS_FUZZ_SUPPORT_H
#define PNAS_FUZZ_SUPPORT_H

#include <pnas/pnas.h>
#include <stddef.h>
#include <stdint.h>

/* Aborts with FILE:LINE and the message when cond is false. */
#define FUZZ_CHECK(cond, ...) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 4, 5)))
#endif
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* Call once from LLVMFuzzerInitialize: makes the temporary folder (removed
 * at exit) and points stdout and stderr at a stream that aborts on the
 * first byte written to it. */
void fuzz_init(void);

/* A context with one thread, seed 1, every log level delivered to a callback
 * that checks the message, and an allocator that refuses single blocks over
 * 256 MiB or more than 512 MiB live (the library must then fail cleanly with
 * PNAS_ERR_OUT_OF_MEMORY). */
pnas_context *fuzz_context(void);

/* Destroys ctx and checks that every byte it allocated was released. */
void fuzz_context_done(pnas_context *ctx);

/* Checks the failure contract after a call returned status != PNAS_OK: the
 * context's last status is status and its message is not empty. */
void fuzz_check_failure(const pnas_context *ctx, pnas_status status, const char *call);

/* "<tmp>/<name>" in the private folder, in a static buffer per call site's
 * choice: the result stays valid until the next call with the same buf. */
const char *fuzz_path(char *buf, size_t cap, const char *name);

/* Writes size bytes to "<tmp>/<name>" and returns its path (in buf). */
const char *fuzz_write(char *buf, size_t cap, const char *name, const void *data, size_t size);

/* Removes everything under "<tmp>/<name>" (a file or a folder tree). */
void fuzz_remove(const char *name);

#endif /* PNAS_FUZZ_SUPPORT_H */

/* ---- exercising what a parser returned (fuzz_exercise.c) ---------------- */

/* Checks that two files hold the same bytes. */
void fuzz_check_same_file(const char *a, const char *b, const char *what);

/* Reads back every member of arch, checks the documented round trips (YAML
 * save -> load -> save gives the same bytes and an equal architecture;
 * net.config export -> import gives an equal architecture), prices it with
 * a MACs model and, when it is small, builds a network, runs one inference
 * and round-trips it through pnas_net_save / pnas_net_load. */
void fuzz_exercise_arch(pnas_context *ctx, const pnas_arch *arch);

/* Reads back a network's architecture and, when small, runs an inference
 * and a training step on one zero image and round-trips the network file. */
void fuzz_exercise_net(pnas_context *ctx, pnas_net *net);

/* Reads back every layer of a space, checks save -> load -> save gives the
 * same bytes and, when the space is small, builds a supernet from it and
 * exercises that. */
void fuzz_exercise_space(pnas_context *ctx, const pnas_space *space);

/* Reads back a supernet's info, candidates and alpha, derives its
 * architecture and, when small, runs a weight step, a gradient arch step, a
 * REINFORCE arch step and pruning on one zero image with the options and
 * prices it has; then prices it with a MACs model, round-trips its
 * checkpoint and exercises the network derived with inherited weights. */
void fuzz_exercise_supernet(pnas_context *ctx, pnas_supernet *supernet);
