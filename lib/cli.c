/* cli.c - option parsing, subcommands, --help, output helpers, client options
 * (the man pages and completions from the same tables: clidoc.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "cli.h"
#include "cli_int.h"
#include "err.h"
#include "log.h"
#include "tls.h"

const struct rv_cli_exit_row rv_cli_exit_table[] = {
	{ RV_EXIT_OK, "ok", "success" },
	{ RV_EXIT_FAIL, "failure", "failure not covered below" },
	{ RV_EXIT_USAGE, "usage", "usage error: bad option or argument" },
	{ RV_EXIT_CONNECT, "cannot connect", "cannot connect: name resolution, connection refused, TLS handshake" },
	{ RV_EXIT_DENIED, "denied", "denied: authentication, a receiver's allowed senders, a limit, an unknown target" },
	{ RV_EXIT_REPLACED, "replaced", "replaced: another login with the same id took over" },
	{ RV_EXIT_TIMEOUT, "timeout", "timeout: a wait ran out" },
	{ RV_EXIT_LOST, "connection lost", "connection lost, or the server shut down" },
	{ RV_EXIT_NO_ROUTE, "no route", "no route: in a peer group, no peer is nearer the destination" },
};
const size_t rv_cli_exit_rows = sizeof rv_cli_exit_table / sizeof *rv_cli_exit_table;

/* ---- parsing ---- */

static const struct rv_opt *find_long(const struct rv_tool *t, const char *name, size_t n)
{
	for (const struct rv_opt *o = t->opts; o->longopt || o->shortopt; o++)
		if (o->longopt && strlen(o->longopt) == n && strncmp(o->longopt, name, n) == 0)
			return o;
	return NULL;
}

static const struct rv_opt *find_short(const struct rv_tool *t, char c)
{
	for (const struct rv_opt *o = t->opts; o->longopt || o->shortopt; o++)
		if (o->shortopt == c)
			return o;
	return NULL;
}

void rv_cli_usage_error(const struct rv_tool *t, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", t->name);
	exit(RV_EXIT_USAGE);
}

static void apply(const struct rv_tool *t, const struct rv_opt *o, const char *arg,
		  rv_opt_fn fn, void *ud)
{
	if (o->key == RV_OPT_HELP) {
		rv_cli_help(t, stdout);
		exit(0);
	}
	if (o->key == RV_OPT_VERSION) {
		printf("%s %s\n", t->name, RV_VERSION);
		exit(0);
	}
	const char *err = fn(ud, o->key, arg);
	if (err)
		rv_cli_usage_error(t, "%s%s%s: %s", o->longopt ? "--" : "-",
				   o->longopt ? o->longopt : (char[]){ o->shortopt, 0 },
				   "", err);
}

int rv_cli_parse(const struct rv_tool *t, int argc, char **argv, rv_opt_fn fn, void *ud)
{
	int npos = 0, only_pos = 0;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_pos || a[0] != '-' || a[1] == 0) {
			argv[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			if (strncmp(name, "dump", n) == 0 && n == 4 && eq) {
				exit(rv_cli_dump(t, eq + 1, stdout) < 0 ? RV_EXIT_USAGE : 0);
			}
			const struct rv_opt *o = find_long(t, name, n);
			if (!o)
				rv_cli_usage_error(t, "unknown option '--%.*s'", (int)n, name);
			const char *arg = NULL;
			if (o->arg) {
				if (eq)
					arg = eq + 1;
				else if (i + 1 < argc)
					arg = argv[++i];
				else
					rv_cli_usage_error(t, "option '--%s' needs %s", o->longopt, o->arg);
			} else if (eq) {
				rv_cli_usage_error(t, "option '--%s' takes no value", o->longopt);
			}
			apply(t, o, arg, fn, ud);
			continue;
		}
		for (char *p = a + 1; *p; p++) {	/* bundled short options */
			const struct rv_opt *o = find_short(t, *p);
			if (!o)
				rv_cli_usage_error(t, "unknown option '-%c'", *p);
			if (!o->arg) {
				apply(t, o, NULL, fn, ud);
				continue;
			}
			const char *arg = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!arg)
				rv_cli_usage_error(t, "option '-%c' needs %s", *p, o->arg);
			apply(t, o, arg, fn, ud);
			break;
		}
	}
	argv[npos] = NULL;
	return npos;
}

int rv_cli_choice(const char *choices, const char *arg)
{
	size_t n = strlen(arg);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, arg, n) == 0)
			return 1;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

/* ---- subcommands ---- */

/* The part of C's argument synopsis before its first optional word:
 * "GROUP" in "GROUP [TEXT...]", "PATH..." in "PATH..."; its length. */
static int required_args(const struct rv_subcmd *c, const char **start)
{
	const char *a = c->args ? c->args : "", *opt = strchr(a, '[');
	size_t n = opt ? (size_t)(opt - a) : strlen(a);
	while (n && a[n - 1] == ' ')
		n--;
	*start = a;
	return (int)n;
}

const char *rv_cli_count_problem(const struct rv_subcmd *c, int n, char **argv, char *buf, size_t len)
{
	const char *req;
	int rn = required_args(c, &req), many = rn > 3 && !strncmp(req + rn - 3, "...", 3);
	int max = c->max_args;

	if (n >= c->min_args && (max == RV_ARGS_ANY || n <= max))
		return NULL;
	if (c->min_args == 1 && max == 1)
		snprintf(buf, len, "%s takes one %.*s", c->name, rn - 3 * many, req);
	else if (n < c->min_args && c->min_args == 1 && many)
		snprintf(buf, len, "%s needs at least one %.*s", c->name, rn - 3, req);
	else if (n < c->min_args)
		snprintf(buf, len, "%s needs %.*s", c->name, rn, req);
	else if (max == 0)
		snprintf(buf, len, "%s takes no arguments (unexpected '%s')", c->name, argv[0]);
	else
		snprintf(buf, len, "%s takes at most %d argument%s: %s (unexpected '%s')", c->name, max,
			 max == 1 ? "" : "s", c->args, argv[max]);
	return buf;
}

/* "a, b or c": the commands' names, for a message. */
static void command_names(const struct rv_tool *t, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = 0;
	for (const struct rv_subcmd *c = t->cmds; c->name && at < len; c++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", c == t->cmds ? "" : c[1].name ? ", " : " or ",
				       c->name);
}

const struct rv_subcmd *rv_cli_command(const struct rv_tool *t, int npos, char **argv)
{
	char msg[256];

	if (npos == 0) {
		if (t->cmd_optional)
			return NULL;
		command_names(t, msg, sizeof msg);
		rv_cli_usage_error(t, "missing command: %s", msg);
	}
	const struct rv_subcmd *c = t->cmds;
	while (c->name && strcmp(c->name, argv[0]) != 0)
		c++;
	if (!c->name)
		rv_cli_usage_error(t, "unknown command '%s'", argv[0]);
	if (rv_cli_count_problem(c, npos - 1, argv + 1, msg, sizeof msg))
		rv_cli_usage_error(t, "%s", msg);
	return c;
}

int rv_cli_usage_line(const struct rv_tool *t, int i, struct rv_cli_usage *u)
{
	memset(u, 0, sizeof *u);
	if (!t->cmds || t->command_word) {
		if (i > 0)
			return 0;
		snprintf(u->names, sizeof u->names, "%s", t->command_word ? t->command_word : "");
		u->args = t->cmds ? "[ARG...]" : "";
		u->optional = t->cmd_optional;
		u->placeholder = 1;
		return 1;
	}
	for (const struct rv_subcmd *c = t->cmds; c->name; c++) {
		const struct rv_subcmd *e = t->cmds;
		while (e < c && strcmp(e->args, c->args) != 0)
			e++;
		if (e < c || i-- > 0)
			continue;	/* on an earlier line, or starts one */
		size_t at = 0;
		for (e = c; e->name; e++)
			if (!strcmp(e->args, c->args) && at < sizeof u->names)
				at += (size_t)snprintf(u->names + at, sizeof u->names - at, "%s%s",
						       at ? "|" : "", e->name);
		u->args = c->args;
		u->optional = t->cmd_optional && c->min_args == 0;
		return 1;
	}
	return 0;
}

const char *rv_cli_tool_options(const struct rv_tool *t)
{
	return t->options ? t->options : "[OPTION...]";
}

/* ---- help ---- */

static void opt_label(const struct rv_opt *o, char *buf, size_t len)
{
	if (o->shortopt && o->longopt)
		snprintf(buf, len, "-%c, --%s%s%s", o->shortopt, o->longopt,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else if (o->longopt)
		snprintf(buf, len, "    --%s%s%s", o->longopt, o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(buf, len, "-%c%s%s", o->shortopt, o->arg ? " " : "", o->arg ? o->arg : "");
}

void rv_cli_help(const struct rv_tool *t, FILE *f)
{
	char label[96];

	struct rv_cli_usage u;
	for (int i = 0; rv_cli_usage_line(t, i, &u); i++) {
		fprintf(f, "%s%s %s", i ? "       " : "Usage: ", t->name, rv_cli_tool_options(t));
		if (u.names[0])
			fprintf(f, u.optional ? " [%s]" : " %s", u.names);
		fprintf(f, "%s%s\n", *u.args ? " " : "", u.args);
	}
	fprintf(f, "%s\n", t->summary);
	if (t->cmds) {
		fprintf(f, "\nCommands:\n");
		for (const struct rv_subcmd *c = t->cmds; c->name; c++) {
			snprintf(label, sizeof label, "%s %s", c->name, c->args ? c->args : "");
			fprintf(f, "  %-30s %s\n", label, c->help);
		}
	}
	fprintf(f, "\nOptions:\n");
	for (const struct rv_opt *o = t->opts; o->longopt || o->shortopt; o++) {
		opt_label(o, label, sizeof label);
		fprintf(f, "  %-30s %s", label, o->help);
		if (o->env)
			fprintf(f, " [env %s]", o->env);
		fputc('\n', f);
	}
	if (t->footer)
		fprintf(f, "\n%s\n", t->footer);
	fprintf(f, "\nExit status:");
	for (size_t i = 0; i < rv_cli_exit_rows; i++)
		fprintf(f, "%s %d %s", i ? "," : "", rv_cli_exit_table[i].code, rv_cli_exit_table[i].brief);
	fprintf(f, ".\nSee %s(1).\n", t->name);
}

int rv_cli_exit_for(int err)
{
	switch (err) {
	case 0: return RV_EXIT_OK;
	case RV_EDENIED: case RV_ENOTFOUND: case RV_ELIMIT: return RV_EXIT_DENIED;
	case RV_EREPLACED: return RV_EXIT_REPLACED;
	case RV_ETIMEOUT: return RV_EXIT_TIMEOUT;
	case RV_ECLOSED: return RV_EXIT_LOST;
	case RV_ETLS: case -EHOSTUNREACH: case -ENETUNREACH:
	case UV_EAI_NONAME: case UV_EAI_AGAIN: case UV_EAI_FAIL: case UV_ECONNREFUSED:
	case UV_ETIMEDOUT: case UV_ENOTCONN:
		return RV_EXIT_CONNECT;
	}
	return RV_EXIT_FAIL;
}

/* ---- output ---- */

static int out_json, out_keep_running, out_error;

static void check_stdout(void)
{
	if (ferror(stdout) || fflush(stdout) != 0) {
		if (out_keep_running) {	/* a server: output stops, serving goes on */
			out_error = errno ? -errno : -EIO;
			return;
		}
		if (errno == EPIPE) {	/* the reader went away: end quietly */
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
		}
		exit(RV_EXIT_FAIL);
	}
}

void rv_out_init(int json)
{
	out_json = json;
	signal(SIGPIPE, SIG_IGN);
}

int rv_out_json_mode(void)
{
	return out_json;
}

void rv_out_keep_running(void)
{
	out_keep_running = 1;
}

int rv_out_failed(void)
{
	return out_error;
}

void rv_out_line(const char *fmt, ...)
{
	if (out_error)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	check_stdout();
}

void rv_out_obj(cJSON *obj)
{
	if (out_error) {
		cJSON_Delete(obj);
		return;
	}
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s) {
		fputs(s, stdout);
		putchar('\n');
		free(s);
	}
	check_stdout();
}

void rv_out_bytes(const void *p, size_t n)
{
	if (out_error)
		return;
	fwrite(p, 1, n, stdout);
	check_stdout();
}

static const char *diag_tool = "rv";
static int diag_level = 1;

void rv_diag_init(const char *tool, int verbosity)
{
	diag_tool = tool;
	diag_level = verbosity;
}

void rv_diag(int level, const char *fmt, ...)
{
	if (level > diag_level)
		return;
	va_list ap;
	fprintf(stderr, "%s: ", diag_tool);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- client options ---- */

int rv_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	size_t n;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= hostlen)
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = 0;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return -EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= hostlen)
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = 0;
		if (n == 0)
			snprintf(host, hostlen, "127.0.0.1");
	}
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p < 0 || p > 65535 || end == colon + 1)
			return -EINVAL;
		*port = (int)p;
	}
	return 0;
}

void rv_client_opts_init(struct rv_client_opts *o)
{
	memset(o, 0, sizeof *o);
	snprintf(o->host, sizeof o->host, "127.0.0.1");
	o->port = 7350;
	o->verbosity = 1;
	o->connect_timeout = 10;
	const char *e = getenv("RV_SERVER");
	if (e && *e)
		rv_parse_hostport(e, o->host, sizeof o->host, &o->port);
	e = getenv("RV_ID");
	if (e && *e)
		snprintf(o->id, sizeof o->id, "%s", e);
	e = getenv("RV_TOKEN");
	if (e && *e)
		snprintf(o->token, sizeof o->token, "%s", e);
}

int rv_client_opt(struct rv_client_opts *o, int key, const char *arg, const char **err)
{
	switch (key) {
	case RV_OPT_SERVER:
		if (rv_parse_hostport(arg, o->host, sizeof o->host, &o->port) < 0)
			*err = "expected HOST, HOST:PORT or [IPv6]:PORT";
		return 1;
	case RV_OPT_ID:
		if (strlen(arg) == 0 || strlen(arg) >= sizeof o->id)
			*err = "an id is 1 to 64 characters";
		else
			snprintf(o->id, sizeof o->id, "%s", arg);
		return 1;
	case RV_OPT_TLS: o->tls = 1; return 1;
	case RV_OPT_CA: o->ca = arg; o->tls = 1; return 1;
	case RV_OPT_INSECURE: o->insecure = 1; o->tls = 1; return 1;
	case RV_OPT_TOKEN_FILE: o->token_file = arg; return 1;
	case RV_OPT_JSON: o->json = 1; return 1;
	case RV_OPT_VERBOSE: o->verbosity++; return 1;
	case RV_OPT_QUIET: o->verbosity = 0; return 1;
	case RV_OPT_TIMEOUT: {
		char *end;
		o->connect_timeout = strtod(arg, &end);
		if (*end || o->connect_timeout <= 0)
			*err = "expected a positive number of seconds";
		return 1;
	}
	}
	return 0;
}

const char *rv_client_opts_finish(struct rv_client_opts *o)
{
	if (o->token_file) {
		static char why[512];	/* the answer: PATH and the reason */
		FILE *f = fopen(o->token_file, "r");
		int err = f ? 0 : errno;
		if (f) {
			errno = 0;
			if (!fgets(o->token, sizeof o->token, f)) {
				o->token[0] = 0;
				if (ferror(f))	/* EISDIR for a directory */
					err = errno ? errno : EIO;
			}
			fclose(f);
		}
		o->token[strcspn(o->token, "\r\n")] = 0;
		if (err) {
			snprintf(why, sizeof why, "cannot read --token-file %s: %s",
				 o->token_file, strerror(err));
			return why;
		}
	}
	if (!o->id[0]) {
		unsigned char r[6];
		if (RAND_bytes(r, sizeof r) != 1)
			return "no random bytes for an id";
		snprintf(o->id, sizeof o->id, "rv-%02x%02x%02x%02x%02x%02x",
			 r[0], r[1], r[2], r[3], r[4], r[5]);
	}
	return NULL;
}

/* Library log lines as diagnostics: warnings always, info at -v, debug at -vv. */
static void client_log(enum rv_log_level level, const char *line, void *ud)
{
	(void)ud;
	rv_diag(level <= RV_LOG_WARN ? 0 : level == RV_LOG_INFO ? 2 : 3, "%s", line);
}

int rv_client_start(const char *tool, const struct rv_client_opts *o, struct rv_tls_ctx **tls)
{
	rv_diag_init(tool, o->verbosity);
	rv_log_set(o->verbosity >= 3 ? RV_LOG_DEBUG : o->verbosity == 2 ? RV_LOG_INFO : RV_LOG_WARN,
		   client_log, NULL);
	rv_out_init(o->json);
	*tls = NULL;
	if (o->tls) {
		char msg[256];
		if (rv_tls_ctx_client_new(tls, o->ca, o->insecure, NULL, msg, sizeof msg) < 0) {
			rv_say_error("TLS: %s", msg);
			return RV_EXIT_CONNECT;
		}
	}
	return 0;
}

int rv_parse_bits(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	if (*end || !(v >= (double)min && v <= (double)max))
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int rv_parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*out = (size_t)v;
	return 0;
}
