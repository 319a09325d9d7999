/* rvgroup.h - shared state of the rvgroup tool.
 *
 * The spine, each file calling only the ones below it:
 *   main.c   the option table, the checks of names and arguments (exit 2),
 *            dispatch through the subcommand table
 *   chat.c   join and listen: a session with groups, stdin lines to them
 *   cmds.c   post, say, members, groups, contacts, allow: requests
 *   app.c    the lifecycle: the session to the server, stdin lines whole,
 *            the end with an exit code, failures reported, the check of a name
 *   lib/     the session, input, output and the rest */
#ifndef RVGROUP_H
#define RVGROUP_H

#include <uv.h>

#include "buf.h"
#include "cli.h"
#include "frame.h"
#include "input.h"
#include "session.h"

/* One stdin line is one message: the largest is rvserver's default
 * --max-frame. A longer line is refused (and reported), not cut. */
#define RVGROUP_MAX_LINE RV_FRAME_DEFAULT_MAX_BODY

struct app {
	struct rv_client_opts co;
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	const char *cmd;
	char **args;                 /* positionals after the command */
	int nargs;
	const char *id_arg;          /* --id as given, checked with the other names */
	const char *allow;           /* --allow ID,... */
	int reconnect;
	long count;                  /* --count: exit after this many messages */
	long received;
	int exit_code;
	int stdin_eof, leaving, done;
	struct rv_input in;          /* stdin, line by line */
	int stdin_open;
	int joined;                  /* join replies received */
	int up;                      /* the session is up */
	unsigned ups;                /* times it came up */
	unsigned downs;              /* connections lost after being up (--reconnect) */
	int said_wait;               /* "end of input: N lines wait" said */
	char bye_code[32];           /* code of the server's last bye */
	unsigned long lineno;        /* stdin lines read */
	unsigned long refused;       /* stdin lines too long to send */
	struct rv_buf longline;      /* a line arriving in parts (rv_input) */
	size_t skipping;             /* bytes of a too-long line so far, or 0 */
	void (*on_line)(struct app *a, char *line, size_t len);
	void (*on_eof)(struct app *a);
};

/* chat.c: join (LISTEN_ONLY 0) and listen; returns the exit code */
int chat_run(struct app *a, int listen_only);
/* cmds.c: the one-request commands; returns the exit code */
int cmds_run(struct app *a);

/* app.c: stdin lines (whole, up to RVGROUP_MAX_LINE) to on_line, then on_eof */
int input_start(struct app *a);
void input_pause(struct app *a, int pause);
void input_stop(struct app *a);
/* app_connect - start the session to the server as ROLE ("send", "recv"),
 * EXTRA (or NULL; the caller's) added to the hello, ON_STATE and ON_FRAME
 * (or NULL) called with A: 0, or -1 when it cannot be made. */
int app_connect(struct app *a, const char *role, cJSON *extra, rv_session_state_fn on_state,
		rv_session_frame_fn on_frame);
/* app_finish - end with CODE (the first call counts): stdin stopped, the
 * session closed, so that the loop ends. */
void app_finish(struct app *a, int code);
/* app_fail - say "WHAT: why" (the server's message in REPLY, else ERR's
 * text) and finish with ERR's exit code. */
void app_fail(struct app *a, int err, const char *what, cJSON *reply);
/* app_free - what the run left: the TLS context, the line buffer, A. */
void app_free(struct app *a);
/* name_problem - NULL when S is a valid client id or group name, else why not */
const char *name_problem(const char *s);

#endif
