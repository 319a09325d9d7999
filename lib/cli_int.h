/* cli_int.h - what cli.c (parsing, --help) and clidoc.c (man pages and
 * completions) share of one tool's table. Inside lib only. */
#ifndef RV_CLI_INT_H
#define RV_CLI_INT_H

#include <stddef.h>

#include "cli.h"

/* The exit statuses every tool documents: code, the word --help gives it
 * and the meaning the man page gives. */
struct rv_cli_exit_row {
	int code;
	const char *brief;
	const char *meaning;
};
extern const struct rv_cli_exit_row rv_cli_exit_table[];
extern const size_t rv_cli_exit_rows;

/* One usage line: its commands ("a|b"), their arguments, and whether the
 * tool runs without one of them (the names go in brackets). */
struct rv_cli_usage {
	char names[256];
	const char *args;
	int optional, placeholder;
};

/* rv_cli_usage_line - the Ith usage line of T into *U; 0 when there is
 * none. Each command not on an earlier line starts one, with the later
 * commands that take the same arguments. */
int rv_cli_usage_line(const struct rv_tool *t, int i, struct rv_cli_usage *u);
/* rv_cli_tool_options - T's options placeholder ("[OPTION...]" by default). */
const char *rv_cli_tool_options(const struct rv_tool *t);

#endif
