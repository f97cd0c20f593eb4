/* SPDX-License-Identifier: MIT */
/* The `pnas` command: one function per subcommand, and what they share.
 * It uses only the public API, as any host program would. */
#ifndef PNAS_CLI_H
#define PNAS_CLI_H

#include <pnas/pnas.h>

/* Each subcommand gets the arguments after its name (argv[0] is the
 * subcommand) and returns the process's exit status. */
int cmd_info(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_profile(int argc, char **argv);

/* Prints "pnas: error: MESSAGE" to stderr and returns 1. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
int cli_error(const char *fmt, ...);

/* The same with the context's last error as the message. */
int cli_library_error(const pnas_context *ctx);

/* A context for one command, or NULL after printing the error. */
pnas_context *cli_context(void);

#endif /* PNAS_CLI_H */
