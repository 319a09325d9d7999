/* input.h - reading a file descriptor (stdin) on the loop: lines or raw
 * chunks, whether it is a terminal, a pipe, a socket or a regular file,
 * with pause and resume for backpressure. */
#ifndef RV_INPUT_H
#define RV_INPUT_H

#include <stddef.h>

#include <uv.h>

#define RV_INPUT_CHUNK 262144
#define RV_INPUT_MAX_LINE 65536

struct rv_input;

/* A line without its newline (and CR), NUL-terminated; a longer line than
 * RV_INPUT_MAX_LINE comes in parts, each but the last with IN->partial set.
 * DATA is valid during the call only. */
typedef void (*rv_input_line_fn)(struct rv_input *in, char *line, size_t len);
/* Raw mode: bytes as they come. */
typedef void (*rv_input_data_fn)(struct rv_input *in, const char *data, size_t len);
/* End of input (or a read error: ERR < 0). Nothing is called after it. */
typedef void (*rv_input_eof_fn)(struct rv_input *in, int err);

struct rv_input {
	uv_loop_t *loop;
	int fd;
	int kind;                   /* 0 idle, 1 stream handle, 2 file reads */
	int paused, fs_busy, stopped;
	int partial;                /* the line passed to on_line goes on */
	union { uv_pipe_t pipe; uv_tty_t tty; } h;
	uv_fs_t fsreq;
	rv_input_line_fn on_line;   /* NULL: raw mode */
	rv_input_data_fn on_data;
	rv_input_eof_fn on_eof;
	void *ud;
	size_t linelen;
	char buf[RV_INPUT_CHUNK];
	char line[RV_INPUT_MAX_LINE + 1];
};

/* rv_input_start - read FD on LOOP; IN is the caller's (keep it alive until
 * the eof callback or rv_input_stop, and a loop turn after that). Exactly
 * one of ON_LINE and ON_DATA is set. No callback runs before this returns;
 * on an error (a negative code) none ever runs, and IN must still live
 * until the loop has turned once more (a handle it opened is closing). */
int rv_input_start(struct rv_input *in, uv_loop_t *loop, int fd, rv_input_line_fn on_line,
		   rv_input_data_fn on_data, rv_input_eof_fn on_eof, void *ud);
void rv_input_pause(struct rv_input *in, int pause);
/* rv_input_stop - no more callbacks. */
void rv_input_stop(struct rv_input *in);

#endif
