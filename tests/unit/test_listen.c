/* test_listen.c - lib/listen: addresses, a listener on port 0 that accepts
 * on the port it reports, a port in use, and the process set-up. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "listen.h"

static void test_addr(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	assert_int_equal(rv_listen_addr("127.0.0.1", 7350, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7350);
	assert_int_equal(rv_listen_addr("::1", 0, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(rv_listen_addr("0.0.0.0", 65535, &ss), 0);
	assert_int_equal(rv_listen_addr("localhost", 1, &ss), -EINVAL);
	assert_int_equal(rv_listen_addr("", 1, &ss), -EINVAL);
	assert_int_equal(rv_listen_addr(NULL, 1, &ss), -EINVAL);
	assert_int_equal(rv_listen_addr("127.0.0.1", 65536, &ss), -EINVAL);
	assert_int_equal(rv_listen_addr("127.0.0.1", -1, &ss), -EINVAL);
}

static int accepted;

static void on_conn(uv_stream_t *server, int status)
{
	assert_int_equal(status, 0);
	uv_tcp_t *c = malloc(sizeof *c);
	uv_tcp_init(server->loop, c);
	assert_int_equal(uv_accept(server, (uv_stream_t *)c), 0);
	accepted++;
	uv_close((uv_handle_t *)c, (uv_close_cb)free);
	uv_close((uv_handle_t *)server, NULL);
}

static void on_connected(uv_connect_t *req, int status)
{
	assert_int_equal(status, 0);
	uv_close((uv_handle_t *)req->handle, NULL);
}

static void test_listen_port0(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_tcp_t srv, busy, cli;
	int port = 0, port2 = 0;
	int data;
	assert_int_equal(rv_listen_tcp(&loop, &srv, &data, "127.0.0.1", 0, on_conn, &port), 0);
	assert_true(port > 0 && port < 65536);
	assert_ptr_equal(srv.data, &data);
	assert_int_equal(rv_listen_port((uv_handle_t *)&srv), port);
	/* the same port again: in use, and the handle is there to close */
	assert_int_equal(rv_listen_tcp(&loop, &busy, NULL, "127.0.0.1", port, on_conn, &port2),
			 UV_EADDRINUSE);
	uv_close((uv_handle_t *)&busy, NULL);
	/* not an address: nothing initialised */
	assert_int_equal(rv_listen_tcp(&loop, &busy, NULL, "nowhere", 0, on_conn, &port2), -EINVAL);
	/* it accepts on the port it reported */
	struct sockaddr_storage ss;
	rv_listen_addr("127.0.0.1", port, &ss);
	uv_connect_t req;
	uv_tcp_init(&loop, &cli);
	assert_int_equal(uv_tcp_connect(&req, &cli, (struct sockaddr *)&ss, on_connected), 0);
	accepted = 0;
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(accepted, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_process_init(void **state)
{
	(void)state;
	struct rlimit rl;
	assert_int_equal(rv_server_process_init(), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == rl.rlim_max);
	struct sigaction sa;
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_IGN);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* A server's heap keeps what a burst freed: a 1 MiB queue comes from the
 * heap (not mmap), and freeing it leaves the heap's top where it was (no
 * trim, so no TLB flush and no page faults on the next burst). glibc's
 * defaults do the opposite: mmap past 128 KiB, trim past 128 KiB free.
 * (Not under AddressSanitizer, which has its own allocator.) */
static void test_heap_kept(void **state)
{
	(void)state;
	assert_int_equal(rv_server_process_init(), 0);
	char *p = malloc(1 << 20);
	assert_non_null(p);
	memset(p, 1, 1 << 20);
	char *top1 = sbrk(0);
	assert_true(p + (1 << 20) <= top1);    /* from the heap, below its top (mmap is above) */
	free(p);
	assert_ptr_equal(sbrk(0), top1);       /* and kept there */
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_listen_port0),
		cmocka_unit_test(test_process_init),
#ifndef UNDER_ASAN
		cmocka_unit_test(test_heap_kept),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
