/* test_gso.c - lib/gso.c: which packets make one GSO send, and real sends
 * over loopback: a GSO send reaches a UDP_GRO socket as one read that
 * rv_gro_segment cuts back into the datagrams sent, and a plain socket as
 * the datagrams themselves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <cmocka.h>

#include "gso.h"

static size_t run_of(const size_t *lens, size_t n)
{
	static char buf[1];
	struct iovec v[128] = { { 0 } };
	for (size_t i = 0; i < n; i++)
		v[i] = (struct iovec){ buf, lens[i] };
	return rv_gso_run(v, n);
}

static void runs(void **state)
{
	(void)state;
	assert_int_equal(run_of(NULL, 0), 0);
	size_t one[] = { 500 };
	assert_int_equal(run_of(one, 1), 1);
	size_t equal[] = { 1200, 1200, 1200, 1200 };
	assert_int_equal(run_of(equal, 4), 4);
	/* one shorter ends the run, and belongs to it */
	size_t last_short[] = { 1200, 1200, 700, 1200 };
	assert_int_equal(run_of(last_short, 4), 3);
	/* a longer one starts the next run */
	size_t longer[] = { 1200, 1200, 1300 };
	assert_int_equal(run_of(longer, 3), 2);
	size_t first_short[] = { 700, 1200 };
	assert_int_equal(run_of(first_short, 2), 1);
	/* at most 64 datagrams and 60,000 bytes */
	size_t many[128];
	for (size_t i = 0; i < 128; i++)
		many[i] = 100;
	assert_int_equal(run_of(many, 128), RV_GSO_MAX_SEGS);
	for (size_t i = 0; i < 128; i++)
		many[i] = 1200;
	assert_int_equal(run_of(many, 128), RV_GSO_MAX_BYTES / 1200);
}

static int bound_socket(struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	*sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
	socklen_t len = sizeof *sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* 5 datagrams of 1000 bytes and one of 321, as one GSO send to TO. */
static void send_burst(const struct sockaddr_in *to)
{
	static uint8_t data[6][1000];
	struct iovec v[6];
	for (int i = 0; i < 6; i++) {
		memset(data[i], 'a' + i, sizeof data[i]);
		v[i] = (struct iovec){ data[i], i == 5 ? 321 : 1000 };
	}
	assert_int_equal(rv_gso_run(v, 6), 6);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	union rv_gso_ctl ctl;
	struct msghdr m = { .msg_name = (void *)to, .msg_namelen = sizeof *to, .msg_iov = v, .msg_iovlen = 6 };
	rv_gso_set(&m, &ctl, 1000);
	ssize_t n = sendmsg(fd, &m, 0);
	if (n < 0 && rv_gso_unsupported(errno)) {
		close(fd);
		skip();	/* a kernel without UDP GSO: nothing here to try */
	}
	assert_int_equal(n, 5 * 1000 + 321);
	close(fd);
}

static ssize_t read_one(int fd, uint8_t *buf, size_t cap, struct msghdr *m, union rv_gso_ctl *ctl, struct iovec *v)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	*v = (struct iovec){ buf, cap };
	*m = (struct msghdr){ .msg_iov = v, .msg_iovlen = 1 };
	rv_gro_read_setup(m, ctl);
	return recvmsg(fd, m, MSG_DONTWAIT);
}

static void gro_reads_the_burst_at_once(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int fd = bound_socket(&sa);
	if (rv_gro_enable(fd) < 0) {
		close(fd);
		skip();
	}
	send_burst(&sa);
	static uint8_t buf[65536];
	struct msghdr m;
	union rv_gso_ctl ctl;
	struct iovec v;
	ssize_t n = read_one(fd, buf, sizeof buf, &m, &ctl, &v);
	assert_int_equal(n, 5 * 1000 + 321);
	size_t seg = rv_gro_segment(&m, (size_t)n);
	assert_int_equal(seg, 1000);
	for (size_t off = 0, i = 0; off < (size_t)n; off += seg, i++)
		assert_int_equal(buf[off], 'a' + i);
	close(fd);
}

static void plain_socket_gets_datagrams(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int fd = bound_socket(&sa);
	send_burst(&sa);
	static uint8_t buf[65536];
	for (int i = 0; i < 6; i++) {
		struct msghdr m;
		union rv_gso_ctl ctl;
		struct iovec v;
		ssize_t n = read_one(fd, buf, sizeof buf, &m, &ctl, &v);
		assert_int_equal(n, i == 5 ? 321 : 1000);
		assert_int_equal(rv_gro_segment(&m, (size_t)n), (size_t)n);
		assert_int_equal(buf[0], 'a' + i);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runs),
		cmocka_unit_test(gro_reads_the_burst_at_once),
		cmocka_unit_test(plain_socket_gets_datagrams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
