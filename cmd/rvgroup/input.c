/* input.c - stdin as lines, for a terminal, a pipe or a file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rvgroup.h"

static void feed(struct app *a, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !a->done; i++) {
		char ch = p[i];
		if (ch == '\n') {
			size_t len = a->linelen;
			if (len && a->line[len - 1] == '\r')
				len--;
			a->line[len] = 0;
			if (a->line_too_long)
				rv_say_error("line longer than %zu bytes: sent in parts", sizeof a->line - 1);
			a->line_too_long = 0;
			a->linelen = 0;
			a->on_line(a, a->line, len);
			continue;
		}
		if (a->linelen == sizeof a->line - 1) {	/* a huge line goes in parts */
			a->line[a->linelen] = 0;
			a->line_too_long = 1;
			a->on_line(a, a->line, a->linelen);
			a->linelen = 0;
		}
		a->line[a->linelen++] = ch;
	}
}

static void at_eof(struct app *a)
{
	a->fs_busy = 0;
	if (a->done)
		return;
	if (a->linelen) {
		a->line[a->linelen] = 0;
		size_t len = a->linelen;
		a->linelen = 0;
		a->on_line(a, a->line, len);
	}
	a->stdin_eof = 1;
	input_stop(a);
	a->on_eof(a);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct app *a = h->data;
	(void)hint;
	buf->base = a->rbuf;
	buf->len = sizeof a->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct app *a = s->data;
	if (n > 0)
		feed(a, buf->base, (size_t)n);
	else if (n < 0)
		at_eof(a);
}

static void read_file(struct app *a);

static void on_fs_read(uv_fs_t *req)
{
	struct app *a = req->data;
	ssize_t n = req->result;
	uv_fs_req_cleanup(req);
	a->fs_busy = 0;
	if (a->done)
		return;	/* finished meanwhile: the session is gone */
	if (n <= 0) {
		at_eof(a);
		return;
	}
	feed(a, a->rbuf, (size_t)n);
	if (!a->in_paused && !a->stdin_eof)
		read_file(a);
}

static void read_file(struct app *a)
{
	uv_buf_t b = uv_buf_init(a->rbuf, sizeof a->rbuf);
	a->fsreq.data = a;
	a->fs_busy = 1;
	if (uv_fs_read(a->loop, &a->fsreq, STDIN_FILENO, &b, 1, -1, on_fs_read) < 0)
		at_eof(a);
}

int input_start(struct app *a)
{
	uv_handle_type t = uv_guess_handle(STDIN_FILENO);
	int rc;
	if (t == UV_FILE || t == UV_UNKNOWN_HANDLE) {
		a->in_kind = 2;
		read_file(a);
		return 0;
	}
	if (t == UV_TTY)
		rc = uv_tty_init(a->loop, &a->in.tty, STDIN_FILENO, 1);
	else
		rc = uv_pipe_init(a->loop, &a->in.pipe, 0) ||
		     uv_pipe_open(&a->in.pipe, STDIN_FILENO);
	if (rc)
		return rc < 0 ? rc : -1;
	a->in_kind = 1;
	a->in.pipe.data = a;
	return uv_read_start((uv_stream_t *)&a->in.pipe, on_alloc, on_read);
}

void input_pause(struct app *a, int pause)
{
	if (a->stdin_eof || a->in_paused == pause)
		return;
	a->in_paused = pause;
	if (a->in_kind == 1) {
		if (pause)
			uv_read_stop((uv_stream_t *)&a->in.pipe);
		else
			uv_read_start((uv_stream_t *)&a->in.pipe, on_alloc, on_read);
	} else if (a->in_kind == 2 && !pause && !a->fs_busy) {
		read_file(a);
	}
}

void input_stop(struct app *a)
{
	if (a->in_kind == 1 && !uv_is_closing((uv_handle_t *)&a->in.pipe)) {
		uv_read_stop((uv_stream_t *)&a->in.pipe);
		uv_close((uv_handle_t *)&a->in.pipe, NULL);
	}
	a->in_kind = 0;
}
