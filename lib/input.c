/* input.c - a file descriptor as lines or chunks, on the loop. */
#include <string.h>

#include "input.h"

static void feed_lines(struct rv_input *in, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !in->stopped; i++) {
		char ch = p[i];
		if (ch == '\n') {
			size_t len = in->linelen;
			if (len && in->line[len - 1] == '\r')
				len--;
			in->line[len] = 0;
			in->linelen = 0;
			in->partial = 0;
			in->on_line(in, in->line, len);
			continue;
		}
		if (in->linelen == RV_INPUT_MAX_LINE) {	/* a huge line goes in parts */
			in->line[in->linelen] = 0;
			in->linelen = 0;
			in->partial = 1;
			in->on_line(in, in->line, RV_INPUT_MAX_LINE);
		}
		in->line[in->linelen++] = ch;
	}
}

static void feed(struct rv_input *in, const char *p, size_t n)
{
	if (in->on_line)
		feed_lines(in, p, n);
	else
		in->on_data(in, p, n);
}

static void at_end(struct rv_input *in, int err)
{
	if (in->stopped)
		return;
	if (in->on_line && in->linelen) {	/* a last line without newline */
		size_t len = in->linelen;
		in->line[len] = 0;
		in->linelen = 0;
		in->partial = 0;
		in->on_line(in, in->line, len);
	}
	if (in->stopped)
		return;
	rv_input_stop(in);
	in->on_eof(in, err);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rv_input *in = h->data;
	(void)hint;
	buf->base = in->buf;
	buf->len = sizeof in->buf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rv_input *in = s->data;
	if (n > 0)
		feed(in, buf->base, (size_t)n);
	else if (n < 0)
		at_end(in, n == UV_EOF ? 0 : (int)n);
}

static void on_fs_read(uv_fs_t *req);

/* The next read of a file; an error is returned, never called back. */
static int read_file(struct rv_input *in)
{
	uv_buf_t b = uv_buf_init(in->buf, sizeof in->buf);
	in->fsreq.data = in;
	in->fs_busy = 1;
	int rc = uv_fs_read(in->loop, &in->fsreq, in->fd, &b, 1, -1, on_fs_read);
	if (rc < 0)
		in->fs_busy = 0;
	return rc;
}

static void read_file_or_end(struct rv_input *in)
{
	int rc = read_file(in);
	if (rc < 0)
		at_end(in, rc);
}

static void on_fs_read(uv_fs_t *req)
{
	struct rv_input *in = req->data;
	ssize_t n = req->result;
	uv_fs_req_cleanup(req);
	in->fs_busy = 0;
	if (in->stopped)
		return;
	if (n <= 0) {
		at_end(in, (int)n);
		return;
	}
	feed(in, in->buf, (size_t)n);
	if (!in->paused && !in->stopped)
		read_file_or_end(in);
}

/* A terminal, pipe or socket as a stream handle. Once the handle is
 * initialized, a failure closes it again (IN must then outlive that close:
 * one more turn of the loop). */
static int start_stream(struct rv_input *in, uv_handle_type t)
{
	int rc = t == UV_TTY ? uv_tty_init(in->loop, &in->h.tty, in->fd, 1) : uv_pipe_init(in->loop, &in->h.pipe, 0);
	if (rc < 0)
		return rc;	/* nothing was registered with the loop */
	in->kind = 1;
	in->h.pipe.data = in;
	if (t != UV_TTY)
		rc = uv_pipe_open(&in->h.pipe, in->fd);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&in->h.pipe, on_alloc, on_read);
	if (rc < 0) {
		in->stopped = 1;
		uv_close((uv_handle_t *)&in->h.pipe, NULL);
	}
	return rc;
}

int rv_input_start(struct rv_input *in, uv_loop_t *loop, int fd, rv_input_line_fn on_line,
		   rv_input_data_fn on_data, rv_input_eof_fn on_eof, void *ud)
{
	memset(in, 0, offsetof(struct rv_input, buf));
	in->loop = loop;
	in->fd = fd;
	in->on_line = on_line;
	in->on_data = on_data;
	in->on_eof = on_eof;
	in->ud = ud;
	uv_handle_type t = uv_guess_handle(fd);
	if (t != UV_FILE && t != UV_UNKNOWN_HANDLE)
		return start_stream(in, t);
	in->kind = 2;
	int rc = read_file(in);
	if (rc < 0)
		in->stopped = 1;
	return rc;
}

void rv_input_pause(struct rv_input *in, int pause)
{
	if (in->stopped || in->paused == pause)
		return;
	in->paused = pause;
	if (in->kind == 1) {
		if (pause)
			uv_read_stop((uv_stream_t *)&in->h.pipe);
		else
			uv_read_start((uv_stream_t *)&in->h.pipe, on_alloc, on_read);
	} else if (in->kind == 2 && !pause && !in->fs_busy) {
		read_file_or_end(in);
	}
}

void rv_input_stop(struct rv_input *in)
{
	if (in->stopped)
		return;
	in->stopped = 1;
	if (in->kind == 1 && !uv_is_closing((uv_handle_t *)&in->h.pipe)) {
		uv_read_stop((uv_stream_t *)&in->h.pipe);
		uv_close((uv_handle_t *)&in->h.pipe, NULL);
	}
}
