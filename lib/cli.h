/* cli.h - what every rv tool shares on its command line.
 *
 * Each tool declares one table of options and one of subcommands (struct
 * rv_tool). From them come the parser, the check of each command's
 * argument count, --help, the man page's SYNOPSIS (--dump=man-synopsis),
 * COMMANDS, OPTIONS and EXIT STATUS sections (--dump=man) and the bash, zsh
 * and fish completions (--dump=bash|zsh|fish); tests/cli/docs.bats fails
 * when the committed files drift from the tables.
 *
 * Also here: the exit-code table, text-or-JSON output that flushes each
 * record on pipes and ends quietly on EPIPE, and the client options common
 * to every tool that talks to rvserver. */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

/* Exit codes shared by every tool; documented in every man page. */
enum rv_exit {
	RV_EXIT_OK = 0,
	RV_EXIT_FAIL = 1,      /* any other failure */
	RV_EXIT_USAGE = 2,     /* bad command line */
	RV_EXIT_CONNECT = 3,   /* cannot connect (resolve, refuse, TLS) */
	RV_EXIT_DENIED = 4,    /* denied: auth, not allowed, limit, unknown target */
	RV_EXIT_REPLACED = 5,  /* another login with the same id took over */
	RV_EXIT_TIMEOUT = 6,   /* a wait ran out */
	RV_EXIT_LOST = 7,      /* the connection was lost or the server shut down */
	RV_EXIT_NO_ROUTE = 8,  /* a peer group has no route to the destination */
};

struct rv_opt {
	int key;               /* handed to the tool's handler; unique per table */
	char shortopt;         /* 0: long only */
	const char *longopt;
	const char *arg;       /* metavariable, or NULL for a flag */
	const char *help;      /* one line */
	const char *complete;  /* "file", "dir", "host", or "a|b|c" choices; NULL: none */
	const char *env;       /* environment variable that sets it, or NULL */
};

/* One subcommand. The table of them makes the usage lines of --help and the
 * man page's SYNOPSIS, the Commands list and COMMANDS section and the
 * completions, and rv_cli_command checks each command's argument count. */
#define RV_ARGS_ANY (-1)	/* max_args: no upper bound */
struct rv_subcmd {
	const char *name;
	const char *args;      /* its arguments' synopsis: "GROUP [TEXT...]", "PATH..."; "" for none */
	const char *help;      /* one line */
	int min_args, max_args;
	/* run - do the command with its ARGC arguments ARGV (after rv_cli_command);
	 * UD is the tool's; returns the exit code. NULL: the tool goes by ID. */
	int (*run)(void *ud, int argc, char **argv);
	int id;                /* the tool's own tag for the command, or 0 */
};

struct rv_tool {
	const char *name;
	const char *summary;   /* one line: what the tool does */
	/* The usage lines come from cmds: "NAME OPTIONS CMD ARGS", one a line,
	 * commands with the same ARGS sharing one ("cmd|data URI"). */
	const char *options;   /* the options part of them; NULL: "[OPTION...]" */
	const char *command_word; /* non-NULL ("COMMAND"): one line "OPTIONS COMMAND [ARG...]",
				   * the commands in the Commands list only */
	int cmd_optional;      /* 1: running with no command is allowed */
	const struct rv_opt *opts;      /* ends with a zeroed entry */
	const struct rv_subcmd *cmds;   /* ends with a zeroed entry; NULL: none */
	const char *footer;    /* more --help text, or NULL */
};

/* Called per option; ARG is NULL for a flag. Return 0, or a usage error
 * message (a static string) to stop with exit 2. */
typedef const char *(*rv_opt_fn)(void *ud, int key, const char *arg);

/* rv_cli_parse - parse ARGV against T's table; options may come before or
 * after the subcommand and positionals, "--" ends them. Positionals are
 * moved, in order, to the front of ARGV; their count is returned. Handles
 * -h/--help, -V/--version and --dump=... itself (prints and exits). On a
 * usage error prints it with a hint to stderr and exits 2. */
int rv_cli_parse(const struct rv_tool *t, int argc, char **argv, rv_opt_fn fn, void *ud);
/* rv_cli_command - after rv_cli_parse, ARGV holding its NPOS positionals:
 * the subcommand ARGV[0] names, with its argument count checked against
 * the table; its arguments are ARGV + 1, NPOS - 1 of them. NULL when no
 * command is given and T allows that (cmd_optional). A missing or unknown
 * command or a wrong count is a usage error: a message, exit 2. */
const struct rv_subcmd *rv_cli_command(const struct rv_tool *t, int npos, char **argv);
/* rv_cli_count_problem - why N arguments ARGV do not suit C ("file needs
 * at least one PATH", in BUF of LEN bytes), or NULL when they do. */
const char *rv_cli_count_problem(const struct rv_subcmd *c, int n, char **argv, char *buf, size_t len);
/* rv_cli_usage_error - print "TOOL: MSG" and the --help hint; exit 2. */
void rv_cli_usage_error(const struct rv_tool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void rv_cli_help(const struct rv_tool *t, FILE *f);
/* rv_cli_dump - the generated documentation: "man" (COMMANDS, OPTIONS, EXIT
 * STATUS), "man-synopsis", "commands" (one a line: NAME MIN MAX ARGS, MAX -1
 * for no limit, tab-separated), "bash", "zsh" or "fish". */
int rv_cli_dump(const struct rv_tool *t, const char *what, FILE *f);
/* rv_cli_exit_for - the exit code for a library error code. */
int rv_cli_exit_for(int err);
/* rv_cli_choice - 1 when ARG is one of the choices "a|b|c". */
int rv_cli_choice(const char *choices, const char *arg);

/* Output: text or one JSON object per line on stdout. */
void rv_out_init(int json);
int rv_out_json_mode(void);
/* rv_out_line - print a text line (a newline is added); flushed on pipes. */
void rv_out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* rv_out_obj - print OBJ as one JSON line and free it (it is consumed). */
void rv_out_obj(cJSON *obj);
/* rv_out_bytes - raw bytes to stdout, flushed on pipes. */
void rv_out_bytes(const void *p, size_t n);
/* rv_out_keep_running - for servers, whose stdout carries only events: when
 * stdout fails (EPIPE: its reader went away; or another write error) output
 * stops and the process goes on, instead of ending. rv_out_failed then
 * returns the error (a negative errno), once stdout has failed, else 0. */
void rv_out_keep_running(void);
int rv_out_failed(void);

/* Diagnostics on stderr, "TOOL: ..." at levels -q/-v select. */
void rv_diag_init(const char *tool, int verbosity);
void rv_diag(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define rv_say_error(...) rv_diag(0, __VA_ARGS__)
#define rv_say_info(...) rv_diag(1, __VA_ARGS__)
#define rv_say_debug(...) rv_diag(2, __VA_ARGS__)

/* Options shared by the tools that talk to rvserver. Keys 1000+ are theirs. */
enum {
	RV_OPT_SERVER = 1000, RV_OPT_ID, RV_OPT_TLS, RV_OPT_CA, RV_OPT_INSECURE,
	RV_OPT_TOKEN_FILE, RV_OPT_VERBOSE, RV_OPT_QUIET, RV_OPT_JSON,
	RV_OPT_HELP, RV_OPT_VERSION, RV_OPT_TIMEOUT,
};

#define RV_CLIENT_OPTS \
	{ RV_OPT_SERVER, 's', "server", "HOST[:PORT]", "rvserver to use (default 127.0.0.1:7350)", "host", "RV_SERVER" }, \
	{ RV_OPT_ID, 'n', "id", "ID", "this client's id (default: a random one)", NULL, "RV_ID" }, \
	{ RV_OPT_TLS, 0, "tls", NULL, "connect with TLS", NULL, NULL }, \
	{ RV_OPT_CA, 0, "ca", "FILE", "trust the CA certificates in FILE", "file", NULL }, \
	{ RV_OPT_INSECURE, 0, "insecure", NULL, "do not verify the server's certificate", NULL, NULL }, \
	{ RV_OPT_TOKEN_FILE, 0, "token-file", "FILE", "read the auth token from FILE (else env RV_TOKEN)", "file", "RV_TOKEN" }, \
	{ RV_OPT_TIMEOUT, 0, "connect-timeout", "S", "give up connecting after S seconds (default 10)", NULL, NULL }, \
	{ RV_OPT_JSON, 0, "json", NULL, "print one JSON object per line", NULL, NULL }, \
	{ RV_OPT_VERBOSE, 'v', "verbose", NULL, "more diagnostics on stderr (repeatable)", NULL, NULL }, \
	{ RV_OPT_QUIET, 'q', "quiet", NULL, "only errors on stderr", NULL, NULL }, \
	{ RV_OPT_HELP, 'h', "help", NULL, "print this help and exit", NULL, NULL }, \
	{ RV_OPT_VERSION, 'V', "version", NULL, "print the version and exit", NULL, NULL }

struct rv_client_opts {
	char host[256];
	int port;
	char id[65];
	int tls, insecure, json, verbosity;
	double connect_timeout;
	const char *ca;
	const char *token_file;
	char token[1024];
};

/* rv_client_opts_init - defaults, then RV_SERVER, RV_ID and RV_TOKEN. */
void rv_client_opts_init(struct rv_client_opts *o);
/* rv_client_opt - handle one of the RV_CLIENT_OPTS keys: 1 handled, 0 not
 * one of them; a usage error message through *ERR. */
int rv_client_opt(struct rv_client_opts *o, int key, const char *arg, const char **err);
/* rv_client_opts_finish - read the token file, pick a random id if none.
 * Returns 0 or a usage error message ("cannot read --token-file PATH:
 * REASON"; static storage). */
const char *rv_client_opts_finish(struct rv_client_opts *o);
struct rv_tls_ctx;
/* rv_client_start - what every client tool does once its options are read:
 * diagnostics at the chosen verbosity (library log lines included), text or
 * JSON output, and with --tls a TLS context (*TLS, owned by the caller).
 * Returns 0, or the exit code to end with. */
int rv_client_start(const char *tool, const struct rv_client_opts *o, struct rv_tls_ctx **tls);
/* rv_parse_size - a byte count with an optional K, M or G suffix: 0 or -1. */
int rv_parse_size(const char *s, size_t *out);
/* rv_parse_bits - bits per second, K and M as in ffmpeg (1M is 1000000),
 * from MIN to MAX: 0 or -1. */
int rv_parse_bits(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* rv_parse_hostport - "host", "host:port", "[v6]:port" into HOST and *PORT. */
int rv_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
