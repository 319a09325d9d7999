/* test_progress.c - the transfer progress bar: its text (rv_progress_line,
 * no I/O), and drawing on stderr only when on, the last line ended. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "progress.h"

static void line_with_total(void **state)
{
	(void)state;
	struct rv_progress p;
	char line[160];
	rv_progress_init(&p, "a.bin", 1000, -1);
	rv_progress_line(&p, 500, 1.0, line, sizeof line);
	assert_string_equal(line, "a.bin [############............]  50% 500 B 500 B/s ETA 00:01");
	rv_progress_line(&p, 1000, 2.0, line, sizeof line);
	assert_string_equal(line, "a.bin [########################] 100% 1000 B 500 B/s ETA 00:00");
	rv_progress_line(&p, 0, 0, line, sizeof line);
	assert_string_equal(line, "a.bin [........................]   0% 0 B 0 B/s ETA 00:00");
}

static void line_without_total(void **state)
{
	(void)state;
	struct rv_progress p;
	char line[160];
	rv_progress_init(&p, "stream", 0, -1);
	rv_progress_line(&p, 3u << 20, 2.0, line, sizeof line);
	assert_string_equal(line, "stream 3.0 MiB 1.5 MiB/s");
}

/* What rv_progress_update writes to stderr for a bar made with FORCE. */
static size_t drawn(int force, char *out, size_t cap)
{
	int fds[2], saved = dup(STDERR_FILENO);
	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	struct rv_progress p;
	rv_progress_init(&p, "f", 10, force);
	rv_progress_update(&p, 10, 1);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t)n : 0;
}

static void draws_only_when_on(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(drawn(-1, out, sizeof out), 0);
	assert_int_equal(drawn(1, out, sizeof out), 1 + 78 + 1);	/* "\r", the padded line, "\n" */
	assert_true(out[0] == '\r' && out[79] == '\n');
	assert_memory_equal(out + 1, "f [########################] 100%", 33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line_with_total),
		cmocka_unit_test(line_without_total),
		cmocka_unit_test(draws_only_when_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
