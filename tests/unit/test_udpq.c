/* test_udpq.c - lib/udpq.c over real sockets on 127.0.0.1: a burst of
 * equal datagrams to one receiver goes out as one GSO send and arrives as
 * the datagrams; mixed sizes and destinations split into the right runs,
 * each receiver getting its datagrams in order; when the kernel refuses
 * GSO (SO_NO_CHECK makes it) the queue falls back, remembers it, and
 * delivers the same datagrams; queueing and flushing allocate nothing
 * (malloc, calloc and realloc are counted here). */
#include <errno.h>
#include <stdlib.h>
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

#include "udpq.h"

static int bound_socket(struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	*sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
	socklen_t len = sizeof *sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	return fd;
}

/* The next datagram on FD (waiting at most 2 s): its length, its first
 * byte in *TAG. */
static size_t read_one(int fd, uint8_t *tag)
{
	static uint8_t buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	assert_true(n >= 0);
	*tag = n ? buf[0] : 0;
	return (size_t)n;
}

static void nothing_more(int fd)
{
	uint8_t b;
	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), -1);
}

/* FD's next datagram has length LEN and tag TAG. */
static void expect(int fd, size_t len, uint8_t tag)
{
	uint8_t got;
	assert_int_equal(read_one(fd, &got), len);
	assert_int_equal(got, tag);
}

static void burst_is_one_gso_send(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int rx = bound_socket(&sa), tx = socket(AF_INET, SOCK_DGRAM, 0);
	static uint8_t data[10][500];
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 16), 0);
	for (int i = 0; i < 10; i++) {
		memset(data[i], 'a' + i, sizeof data[i]);
		assert_int_equal(rv_udpq_add(&q, NULL, (struct sockaddr *)&sa, sizeof sa, data[i], 500), 0);
	}
	assert_int_equal(rv_udpq_flush(&q, tx), 10);
	if (!q.gso) {	/* a kernel without UDP GSO: the fallback test covers it */
		rv_udpq_free(&q);
		close(tx);
		close(rx);
		skip();
	}
	assert_int_equal(q.count.calls, 1);
	assert_int_equal(q.count.gso_sends, 1);
	assert_int_equal(q.count.sent, 10);
	assert_int_equal(q.n, 0);
	for (int i = 0; i < 10; i++)
		expect(rx, 500, (uint8_t)('a' + i));
	nothing_more(rx);
	rv_udpq_free(&q);
	close(tx);
	close(rx);
}

/* To A and B (dest keys &A and &B), tags 0..10:
 *   0 A 300   1 B 300   2 A 300   3 A 300   4 A 200 (shorter: ends A's run)
 *   5 A 300   6 B 300   7 B 400 (longer: a run of its own)   8 A 300
 *   9 B 3 x 400 + 100 (a GRO burst: ends B's second run)   10 A 0 (empty)
 * With GSO: A {0,2,3,4} GSO, B {1,6} GSO, A {5,8} GSO, B {7,9} GSO, A {10}:
 * five messages in one sendmmsg, four of them GSO. */
static uint8_t mix[11][1300];

static void queue_mix(struct rv_udpq *q, const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	static const size_t len[11] = { 300, 300, 300, 300, 200, 300, 300, 400, 300, 1300, 0 };
	static const char to[] = "ABAAAABBABA";
	for (int i = 0; i < 11; i++) {
		const struct sockaddr_in *sa = to[i] == 'A' ? a : b;
		memset(mix[i], i, sizeof mix[i]);
		if (i == 9) {
			for (int k = 1; k < 4; k++)
				mix[i][k * 400] = (uint8_t)(0x90 + k);	/* each datagram's tag */
			assert_int_equal(rv_udpq_add_burst(q, sa, (struct sockaddr *)sa, sizeof *sa, mix[i], 1300, 400), 0);
		} else {
			assert_int_equal(rv_udpq_add(q, sa, (struct sockaddr *)sa, sizeof *sa, mix[i], len[i]), 0);
		}
	}
}

/* What A and B get from queue_mix, in order, however it was sent. */
static void expect_mix(int ra, int rb)
{
	expect(ra, 300, 0);
	expect(ra, 300, 2);
	expect(ra, 300, 3);
	expect(ra, 200, 4);
	expect(ra, 300, 5);
	expect(ra, 300, 8);
	uint8_t tag;
	assert_int_equal(read_one(ra, &tag), 0);
	nothing_more(ra);
	expect(rb, 300, 1);
	expect(rb, 300, 6);
	expect(rb, 400, 7);
	expect(rb, 400, 9);
	expect(rb, 400, 0x91);
	expect(rb, 400, 0x92);
	expect(rb, 100, 0x93);
	nothing_more(rb);
}

static void mixed_sizes_and_destinations(void **state)
{
	(void)state;
	struct sockaddr_in a, b;
	int ra = bound_socket(&a), rb = bound_socket(&b), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 16), 0);
	queue_mix(&q, &a, &b);
	assert_int_equal(rv_udpq_flush(&q, tx), 14);
	if (!q.gso) {
		rv_udpq_free(&q);
		close(tx);
		close(ra);
		close(rb);
		skip();
	}
	assert_int_equal(q.count.calls, 1);
	assert_int_equal(q.count.gso_sends, 4);
	expect_mix(ra, rb);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
	close(rb);
}

/* Forty destinations, three equal datagrams each, queued round robin: each
 * destination's three are gathered into one GSO send across the others
 * (found through the queue's per-destination links, not a scan), and
 * arrive in order; again on later flushes, the links built afresh. */
static void many_destinations_interleaved(void **state)
{
	(void)state;
	enum { N = 40 };
	static uint8_t data[3][N][100];
	struct sockaddr_in sa[N];
	int rx[N], tx = socket(AF_INET, SOCK_DGRAM, 0);
	for (int d = 0; d < N; d++)
		rx[d] = bound_socket(&sa[d]);
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 3 * N), 0);
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 3; k++)
			for (int d = 0; d < N; d++) {
				memset(data[k][d], 16 * k + (d & 15), sizeof data[k][d]);
				const void *key = round == 1 ? NULL : &sa[d];	/* round 1: addresses compared */
				assert_int_equal(rv_udpq_add(&q, key, (struct sockaddr *)&sa[d], sizeof sa[d], data[k][d],
							     sizeof data[k][d]), 0);
			}
		uint64_t gso = q.count.gso_sends;
		assert_int_equal(rv_udpq_flush(&q, tx), 3 * N);
		if (!q.gso)
			break;
		assert_int_equal(q.count.gso_sends - gso, N);
		for (int d = 0; d < N; d++) {
			for (int k = 0; k < 3; k++)
				expect(rx[d], 100, (uint8_t)(16 * k + (d & 15)));
			nothing_more(rx[d]);
		}
	}
	int gso = q.gso;
	rv_udpq_free(&q);
	for (int d = 0; d < N; d++)
		close(rx[d]);
	close(tx);
	if (!gso)
		skip();
}

/* Without dest keys the addresses themselves are compared: the same runs. */
static void addresses_compared_without_keys(void **state)
{
	(void)state;
	struct sockaddr_in a, b;
	int ra = bound_socket(&a), rb = bound_socket(&b), tx = socket(AF_INET, SOCK_DGRAM, 0);
	static uint8_t d[4][700];
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 8), 0);
	for (int i = 0; i < 4; i++) {
		const struct sockaddr_in *sa = i == 2 ? &b : &a;
		memset(d[i], i, sizeof d[i]);
		assert_int_equal(rv_udpq_add(&q, NULL, (struct sockaddr *)sa, sizeof *sa, d[i], 700), 0);
	}
	assert_int_equal(rv_udpq_flush(&q, tx), 4);
	if (q.gso)
		assert_int_equal(q.count.gso_sends, 1);	/* A {0,1,3}, B {2} */
	expect(ra, 700, 0);
	expect(ra, 700, 1);
	expect(ra, 700, 3);
	expect(rb, 700, 2);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
	close(rb);
}

/* SO_NO_CHECK: the kernel refuses every GSO send (EINVAL). */
static void fallback_delivers_the_same(void **state)
{
	(void)state;
	struct sockaddr_in a, b;
	int ra = bound_socket(&a), rb = bound_socket(&b), tx = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;
	assert_int_equal(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 16), 0);
	queue_mix(&q, &a, &b);
	assert_int_equal(rv_udpq_flush(&q, tx), 14);
	assert_int_equal(q.gso, 0);
	assert_int_equal(q.count.gso_sends, 0);
	assert_int_equal(q.count.dropped + q.count.eagain, 0);
	expect_mix(ra, rb);
	/* remembered: the next flush tries no GSO, one sendmmsg of datagrams */
	uint64_t calls = q.count.calls;
	queue_mix(&q, &a, &b);
	assert_int_equal(rv_udpq_flush(&q, tx), 14);
	assert_int_equal(q.count.calls, calls + 1);
	expect_mix(ra, rb);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
	close(rb);
}

/* Without GSO a queue full of bursts needs more datagrams than it has
 * messages: several sendmmsg, nothing lost. */
static void fallback_cuts_more_bursts_than_room(void **state)
{
	(void)state;
	struct sockaddr_in a;
	int ra = bound_socket(&a), tx = socket(AF_INET, SOCK_DGRAM, 0);
	static uint8_t d[4][1000];
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 4), 0);
	q.gso = 0;
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 4; k++)
			d[i][k * 250] = (uint8_t)(i * 4 + k);
		assert_int_equal(rv_udpq_add_burst(&q, NULL, (struct sockaddr *)&a, sizeof a, d[i], 1000, 250), 0);
	}
	assert_int_equal(rv_udpq_add(&q, NULL, (struct sockaddr *)&a, sizeof a, d[0], 1), -ENOBUFS);
	assert_int_equal(rv_udpq_flush(&q, tx), 16);
	assert_int_equal(q.count.calls, 4);
	for (int i = 0; i < 16; i++)
		expect(ra, 250, (uint8_t)i);
	nothing_more(ra);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
}

/* A failed send is counted, not fatal: port 0 is no destination (EINVAL). */
static void errors_are_counted(void **state)
{
	(void)state;
	struct sockaddr_in a;
	int ra = bound_socket(&a), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in nowhere = a;
	nowhere.sin_port = 0;
	static uint8_t d[100];
	struct rv_udpq q;
	assert_int_equal(rv_udpq_init(&q, 4), 0);
	assert_int_equal(rv_udpq_add(&q, NULL, (struct sockaddr *)&nowhere, sizeof nowhere, d, sizeof d), 0);
	assert_int_equal(rv_udpq_add(&q, NULL, (struct sockaddr *)&a, sizeof a, d, 10), 0);
	assert_int_equal(rv_udpq_flush(&q, tx), 1);	/* the next message still goes */
	assert_int_equal(q.count.dropped, 1);
	assert_int_equal(q.last_err, EINVAL);
	assert_int_equal(q.n, 0);
	expect(ra, 10, 0);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* Every allocation the process makes, counted: glibc's allocator under
 * our malloc, calloc and realloc. (Not under AddressSanitizer, which
 * replaces the allocator itself and must see every call first.) */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static size_t allocations;

void *malloc(size_t n)
{
	allocations++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	allocations++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	allocations++;
	return __libc_realloc(p, n);
}
#endif

/* Queueing and flushing two thousand datagrams allocates nothing: the
 * queue's memory is rv_udpq_init's. */
#ifndef UNDER_ASAN	/* the plain build counts; ASan owns the allocator */
static void no_allocation_per_packet(void **state)
{
	(void)state;
	struct sockaddr_in a;
	int ra = bound_socket(&a), tx = socket(AF_INET, SOCK_DGRAM, 0);
	static uint8_t d[64];
	struct rv_udpq q;
	size_t at_init = allocations;
	assert_int_equal(rv_udpq_init(&q, 1024), 0);
	assert_true(allocations > at_init);	/* the counter counts */
	size_t before = allocations;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			size_t len = sizeof d - (size_t)(i % 3 == 0);
			if (rv_udpq_add(&q, &a, (struct sockaddr *)&a, sizeof a, d, len) < 0)
				fail();
		}
		rv_udpq_flush(&q, tx);
	}
	size_t after = allocations;
	assert_int_equal(after, before);
	assert_int_equal(q.count.sent + q.count.eagain + q.count.dropped, 2000);
	rv_udpq_free(&q);
	close(tx);
	close(ra);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_is_one_gso_send),
		cmocka_unit_test(mixed_sizes_and_destinations),
		cmocka_unit_test(addresses_compared_without_keys),
		cmocka_unit_test(many_destinations_interleaved),
		cmocka_unit_test(fallback_delivers_the_same),
		cmocka_unit_test(fallback_cuts_more_bursts_than_room),
		cmocka_unit_test(errors_are_counted),
#ifndef UNDER_ASAN
		cmocka_unit_test(no_allocation_per_packet),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
