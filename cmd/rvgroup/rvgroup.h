/* rvgroup.h - shared state of the rvgroup tool. */
#ifndef RVGROUP_H
#define RVGROUP_H

#include <uv.h>

#include "cli.h"
#include "input.h"
#include "session.h"

struct app {
	struct rv_client_opts co;
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	const char *cmd;
	char **args;                 /* positionals after the command */
	int nargs;
	const char *allow;           /* --allow ID,... */
	int reconnect;
	long count;                  /* --count: exit after this many messages */
	long received;
	int exit_code;
	int stdin_eof, leaving, done;
	struct rv_input in;          /* stdin, line by line */
	int stdin_open;
	int joined;                  /* join replies received */
	void (*on_line)(struct app *a, char *line, size_t len);
	void (*on_eof)(struct app *a);
};

/* chat.c */
int chat_run(struct app *a, int listen_only);
void print_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len);
/* cmds.c */
int cmds_run(struct app *a);
/* main.c: stdin lines to on_line, then on_eof */
int input_start(struct app *a);
void input_pause(struct app *a, int pause);
void input_stop(struct app *a);
/* main.c */
void app_finish(struct app *a, int code);
void app_fail(struct app *a, int err, const char *what, cJSON *reply);

#endif
