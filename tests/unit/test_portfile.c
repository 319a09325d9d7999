/* test_portfile.c - the --port-file: whole or absent, never a stray
 * temporary file or an open descriptor after a failure. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "portfile.h"

static char dir[] = "/tmp/rv-portfile.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* How many entries DIR holds (besides . and ..). */
static int entries(void)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The lowest free descriptor: unchanged when nothing leaked. */
static int next_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
}

static void writes_and_replaces(void **state)
{
	(void)state;
	char path[256], buf[64];
	snprintf(path, sizeof path, "%s/ports", dir);
	assert_int_equal(rv_port_file_write(path, (int[]){ 7350, 0 }, 2), 0);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "7350\n0\n");
	assert_int_equal(rv_port_file_write(path, (int[]){ 41234, 41235 }, 2), 0);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "41234\n41235\n");
	assert_int_equal(entries(), 1);	/* no temporary file left */
	unlink(path);
}

static void failures_leave_nothing(void **state)
{
	(void)state;
	char path[256];
	int fd0 = next_fd();
	snprintf(path, sizeof path, "%s/no/such/dir", dir);
	assert_int_equal(rv_port_file_write(path, (int[]){ 1 }, 1), -ENOENT);
	/* the rename fails: PATH is a directory */
	snprintf(path, sizeof path, "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	int rc = rv_port_file_write(path, (int[]){ 1, 2 }, 2);
	assert_true(rc == -EISDIR || rc == -EEXIST || rc == -ENOTEMPTY);
	assert_int_equal(entries(), 1);	/* only sub/ */
	rmdir(path);
	/* a path that leaves no room for the temporary name */
	char lng[4200];
	memset(lng, 'x', sizeof lng - 1);
	lng[sizeof lng - 1] = 0;
	assert_int_equal(rv_port_file_write(lng, (int[]){ 1 }, 1), -ENAMETOOLONG);
	assert_int_equal(next_fd(), fd0);
	assert_int_equal(entries(), 0);
}

/* A write that fails half-way (the file size limit): an error, no file,
 * no temporary file, no descriptor left open. */
static void failed_write(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof path, "%s/ports", dir);
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 3;	/* "12345\n" does not fit */
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	int fd0 = next_fd();
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int rc = rv_port_file_write(path, (int[]){ 12345, 6 }, 2);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(next_fd(), fd0);
	assert_int_equal(entries(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_and_replaces),
		cmocka_unit_test(failures_leave_nothing),
		cmocka_unit_test(failed_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
