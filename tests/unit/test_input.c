/* test_input.c - rv_input on a real loop: lines from a pipe and a file,
 * no callback before rv_input_start returns, and a descriptor the loop
 * refuses is an error that leaves no handle behind. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "input.h"

struct seen {
	int in_start;       /* set while rv_input_start runs */
	int early;          /* callbacks that came during it */
	int lines, eofs, err;
	char text[256];
};

static void on_line(struct rv_input *in, char *line, size_t len)
{
	struct seen *s = in->ud;
	s->early += s->in_start;
	s->lines++;
	strncat(s->text, line, len);
	strcat(s->text, "|");
}

static void on_eof(struct rv_input *in, int err)
{
	struct seen *s = in->ud;
	s->early += s->in_start;
	s->eofs++;
	s->err = err;
}

static int start(struct rv_input *in, uv_loop_t *loop, int fd, struct seen *s)
{
	s->in_start = 1;
	int rc = rv_input_start(in, loop, fd, on_line, NULL, on_eof, s);
	s->in_start = 0;
	return rc;
}

/* Run LOOP until it has nothing left (bounded) and close it: 0 when no
 * handle was left open. */
static int drain(uv_loop_t *loop)
{
	for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	return uv_loop_close(loop);
}

static void lines_from_a_pipe(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "one\r\ntwo\nlast", 13), 13);
	close(p[1]);
	struct rv_input *in = calloc(1, sizeof *in);
	struct seen s = { 0 };
	assert_int_equal(start(in, &loop, p[0], &s), 0);
	assert_int_equal(drain(&loop), 0);
	assert_int_equal(s.early, 0);
	assert_string_equal(s.text, "one|two|last|");
	assert_int_equal(s.eofs, 1);
	assert_int_equal(s.err, 0);
	free(in);
}

static void lines_from_a_file(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	char path[] = "/tmp/rv-input.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "a\nb\n", 4), 4);
	lseek(fd, 0, SEEK_SET);
	struct rv_input *in = calloc(1, sizeof *in);
	struct seen s = { 0 };
	assert_int_equal(start(in, &loop, fd, &s), 0);
	assert_int_equal(s.early, 0);
	assert_int_equal(drain(&loop), 0);
	assert_string_equal(s.text, "a|b|");
	assert_int_equal(s.eofs, 1);
	close(fd);
	free(in);
}

/* A closed descriptor: the error comes through the eof callback, later. */
static void closed_fd_fails_later(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int fd = open("/dev/null", O_RDONLY);
	close(fd);
	struct rv_input *in = calloc(1, sizeof *in);
	struct seen s = { 0 };
	assert_int_equal(start(in, &loop, fd, &s), 0);
	assert_int_equal(s.early + s.eofs, 0);
	assert_int_equal(drain(&loop), 0);
	assert_int_equal(s.eofs, 1);
	assert_int_equal(s.err, UV_EBADF);
	free(in);
}

/* uv_pipe_open refuses a descriptor the loop already watches (UV_EEXIST):
 * rv_input_start returns the error, calls nothing, and its pipe handle is
 * closed, so the loop can close once the first input stops. */
static void refused_fd_leaves_no_handle(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct rv_input *first = calloc(1, sizeof *first), *second = calloc(1, sizeof *second);
	struct seen s1 = { 0 }, s2 = { 0 };
	assert_int_equal(start(first, &loop, p[0], &s1), 0);
	int rc = start(second, &loop, p[0], &s2);
	assert_true(rc < 0);
	assert_int_equal(s2.early + s2.lines + s2.eofs, 0);
	rv_input_stop(second);	/* harmless after an error */
	rv_input_stop(first);
	assert_int_equal(drain(&loop), 0);	/* UV_EBUSY if a handle stayed open */
	assert_int_equal(s2.lines + s2.eofs, 0);
	close(p[1]);
	free(first);
	free(second);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_from_a_pipe),
		cmocka_unit_test(lines_from_a_file),
		cmocka_unit_test(closed_fd_fails_later),
		cmocka_unit_test(refused_fd_leaves_no_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
