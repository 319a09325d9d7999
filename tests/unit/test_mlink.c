/* test_mlink.c - rv_mlink_start resolves the server off the loop: nothing
 * goes out before the loop runs; the Binding then registers the UDP path;
 * closing while the name is still resolving leaves nothing behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "mlink.h"
#include "stun.h"

struct seen {
	int in_start, early, ready, udp;
};

static void on_packet(void *ud, const uint8_t *p, size_t n)
{
	(void)ud; (void)p; (void)n;
}

static void on_ready(void *ud, int udp)
{
	struct seen *s = ud;
	s->early += s->in_start;
	s->ready++;
	s->udp = udp;
}

/* A UDP socket on 127.0.0.1 standing in for the server; its port in PORT. */
static int fake_server(int *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static cJSON *udp_obj(int port)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "port", port);
	cJSON_AddStringToObject(o, "user", "u1");
	cJSON_AddStringToObject(o, "pass", "secret-pass");
	return o;
}

static int drain(uv_loop_t *loop)
{
	for (int i = 0; i < 2000 && uv_run(loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	return uv_loop_close(loop);
}

static void registers_after_resolving_off_the_loop(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int port, fd = fake_server(&port);
	cJSON *udp = udp_obj(port);
	struct seen s = { .in_start = 1 };
	struct rv_mlink *l = NULL;
	assert_int_equal(rv_mlink_start(&l, &loop, NULL, "127.0.0.1", udp, 0, on_packet, on_ready, &s), 0);
	s.in_start = 0;
	/* nothing was sent from inside rv_mlink_start: the name is resolved
	 * on the thread pool, the Binding goes once the loop runs */
	uint8_t buf[1500];
	assert_int_equal(recv(fd, buf, sizeof buf, 0), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(s.ready, 0);

	struct sockaddr_storage from;
	socklen_t flen = sizeof from;
	ssize_t n = -1;
	for (int i = 0; i < 2000 && n < 0; i++) {	/* at most ~2 s */
		uv_run(&loop, UV_RUN_NOWAIT);
		n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			usleep(1000);
	}
	assert_true(n > 0);
	struct rv_stun_msg m;
	assert_int_equal(rv_stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, RV_STUN_BINDING);
	assert_int_equal(m.cls, RV_STUN_REQUEST);
	assert_int_equal(rv_stun_check_integrity(&m, (const uint8_t *)"secret-pass", 11), 1);

	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_SUCCESS, m.tid);
	rv_stun_add_integrity(&b, (const uint8_t *)"secret-pass", 11);
	const uint8_t *msg;
	size_t len;
	assert_true(rv_stun_end(&b, &msg, &len) > 0);
	assert_int_equal(sendto(fd, msg, len, 0, (struct sockaddr *)&from, flen), (ssize_t)len);
	for (int i = 0; i < 2000 && !s.ready; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (!s.ready)
			usleep(1000);
	}
	assert_int_equal(s.ready, 1);
	assert_int_equal(s.udp, 1);
	assert_int_equal(s.early, 0);
	assert_int_equal(rv_mlink_udp(l), 1);
	rv_mlink_close(l);
	assert_int_equal(drain(&loop), 0);
	cJSON_Delete(udp);
	close(fd);
}

/* Closed before the name resolved: the request is cancelled or finishes,
 * the memory goes with it, no callback, and the loop closes. */
static void close_while_resolving(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int port, fd = fake_server(&port);
	cJSON *udp = udp_obj(port);
	struct seen s = { 0 };
	struct rv_mlink *l = NULL;
	assert_int_equal(rv_mlink_start(&l, &loop, NULL, "localhost", udp, 0, on_packet, on_ready, &s), 0);
	rv_mlink_close(l);
	assert_int_equal(drain(&loop), 0);
	assert_int_equal(s.ready, 0);
	cJSON_Delete(udp);
	close(fd);
}

/* Forced TCP: settled at once, nothing to resolve. */
static void force_tcp(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	cJSON *udp = udp_obj(9);
	struct seen s = { 0 };
	struct rv_mlink *l = NULL;
	assert_int_equal(rv_mlink_start(&l, &loop, NULL, "127.0.0.1", udp, 1, on_packet, on_ready, &s), 0);
	assert_int_equal(s.ready, 1);
	assert_int_equal(s.udp, 0);
	rv_mlink_close(l);
	assert_int_equal(drain(&loop), 0);
	cJSON_Delete(udp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registers_after_resolving_off_the_loop),
		cmocka_unit_test(close_while_resolving),
		cmocka_unit_test(force_tcp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
