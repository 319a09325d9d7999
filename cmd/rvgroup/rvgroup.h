/* rvgroup.h - shared state of the rvgroup tool. */
#ifndef RVGROUP_H
#define RVGROUP_H

#include <uv.h>

#include "cli.h"
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
	/* stdin, read line by line */
	union { uv_pipe_t pipe; uv_tty_t tty; } in;
	uv_fs_t fsreq;
	int in_kind;                 /* 0 none, 1 stream, 2 file */
	int in_paused;
	int fs_busy;                 /* a file read is in flight */
	int joined;                  /* join replies received */
	char rbuf[65536];
	char line[65536];
	size_t linelen;
	int line_too_long;
	void (*on_line)(struct app *a, char *line, size_t len);
	void (*on_eof)(struct app *a);
};

/* chat.c */
int chat_run(struct app *a, int listen_only);
void print_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len);
/* cmds.c */
int cmds_run(struct app *a);
/* input.c */
int input_start(struct app *a);
void input_pause(struct app *a, int pause);
void input_stop(struct app *a);
/* main.c */
void app_finish(struct app *a, int code);
void app_fail(struct app *a, int err, const char *what, cJSON *reply);

#endif
