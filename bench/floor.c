/* floor.c - the latency floor of a fan-out on this machine: a broker that
 * does nothing but one write(2) per receiver per message.
 *
 * It speaks the least of MQTT 3.1.1 that bench/fanout --proto mqtt needs:
 * CONNECT is answered with CONNACK, SUBSCRIBE (any topic) with SUBACK and
 * makes the connection a receiver, and a PUBLISH (QoS 0) is written as it
 * came, unchanged, to every receiver but its sender. No topic matching, no
 * queues, no parsing beyond the fixed header: what is left is the kernel's
 * cost of a loopback TCP write and of waking the reader, which no broker
 * design on one core avoids. bench/run.sh measures the fan-out latency of
 * rvserver, mosquitto and this floor side by side, so a latency goal can be
 * read against what the machine allows.
 *
 * Input is capped (RX_CAP per connection; a longer packet closes it). A
 * receiver whose socket is full is closed rather than queued for: a floor
 * has no back-pressure, and the latency runs never fill a socket.
 *
 *   floor --port-file FILE    listen on 127.0.0.1, port 0, write the port
 *
 * Standalone C11 + POSIX/Linux; no librv. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FD 65536
#define RX_CAP 65536

struct peer {
	uint8_t *in;          /* bytes of a packet not yet complete */
	size_t len;
	int receiver;         /* subscribed */
};

static struct peer *peers[MAX_FD];
static int receivers[MAX_FD], nreceivers;

/* --threads 2: the half of a fan-out the writer thread takes. The main
 * thread fills it, bumps `posted` and waits until `done` equals it; the
 * writer writes receivers [lo, hi) but `skip`, notes in failed[] those it
 * could not write (the main thread drops them once it is done: receivers[]
 * does not change meanwhile) and sets `done`. */
static struct {
	atomic_uint posted, done;
	const uint8_t *p;
	size_t len;
	int lo, hi, skip;
	int failed[MAX_FD], nfailed;
} half;
static int threads = 1;

static void futex_wait(atomic_uint *a, unsigned v)
{
	syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *a)
{
	syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *writer(void *arg)
{
	(void)arg;
	for (unsigned seen = 0;; ) {
		unsigned now;
		while ((now = atomic_load(&half.posted)) == seen)
			futex_wait(&half.posted, seen);
		seen = now;
		half.nfailed = 0;
		for (int i = half.lo; i < half.hi; i++)
			if (receivers[i] != half.skip && write(receivers[i], half.p, half.len) != (ssize_t)half.len)
				half.failed[half.nfailed++] = receivers[i];
		atomic_store(&half.done, seen);
		futex_wake(&half.done);
	}
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void drop(int fd)
{
	struct peer *p = peers[fd];
	if (!p)
		return;
	if (p->receiver)
		for (int i = 0; i < nreceivers; i++)
			if (receivers[i] == fd) {
				receivers[i] = receivers[--nreceivers];
				break;
			}
	free(p->in);
	free(p);
	peers[fd] = NULL;
	close(fd);
}

static void send_all(int fd, const uint8_t *b, size_t n)
{
	if (write(fd, b, n) != (ssize_t)n)
		drop(fd);     /* full or gone: a floor does not queue */
}

/* The whole packet's length at P (N bytes), 0 when incomplete, -1 when it
 * is malformed or past the cap; *HDR is its fixed header's length. */
static long packet_len(const uint8_t *p, size_t n, size_t *hdr)
{
	uint32_t rem = 0, mul = 1;
	for (size_t i = 1; i < 5; i++) {
		if (i >= n)
			return 0;
		rem += (uint32_t)(p[i] & 127) * mul;
		mul *= 128;
		if (!(p[i] & 128)) {
			*hdr = i + 1;
			return i + 1 + rem > RX_CAP ? -1 : (long)(i + 1 + rem);
		}
	}
	return -1;
}

static void packet(int fd, const uint8_t *p, size_t len, size_t hdr)
{
	switch (p[0] >> 4) {
	case 1: {                                     /* CONNECT */
		static const uint8_t connack[] = { 0x20, 2, 0, 0 };
		send_all(fd, connack, sizeof connack);
		break;
	}
	case 8: {                                     /* SUBSCRIBE */
		if (len < hdr + 2)
			return drop(fd);
		uint8_t suback[] = { 0x90, 3, p[hdr], p[hdr + 1], 0 };
		if (!peers[fd]->receiver) {
			peers[fd]->receiver = 1;
			receivers[nreceivers++] = fd;
		}
		send_all(fd, suback, sizeof suback);
		break;
	}
	case 3: {                                     /* PUBLISH: the fan-out */
		static int failed[MAX_FD];
		int n = nreceivers, mine = threads == 2 ? n / 2 : n, nfailed = 0;
		unsigned posted = 0, d;
		if (mine < n) {                       /* the writer takes [mine, n) */
			half.p = p;
			half.len = len;
			half.lo = mine;
			half.hi = n;
			half.skip = fd;
			posted = atomic_fetch_add(&half.posted, 1) + 1;
			futex_wake(&half.posted);
		}
		for (int i = 0; i < mine; i++)
			if (receivers[i] != fd && write(receivers[i], p, len) != (ssize_t)len)
				failed[nfailed++] = receivers[i];
		if (mine < n) {
			while ((d = atomic_load(&half.done)) != posted)
				futex_wait(&half.done, d);
			for (int i = 0; i < half.nfailed; i++)
				failed[nfailed++] = half.failed[i];
		}
		for (int i = 0; i < nfailed; i++)     /* receivers[] is ours again */
			drop(failed[i]);
		break;
	}
	default:                                      /* PINGREQ, DISCONNECT...: ignored */
		break;
	}
}

static void readable(int fd)
{
	struct peer *p = peers[fd];
	ssize_t r = read(fd, p->in + p->len, RX_CAP - p->len);
	if (r <= 0)
		return drop(fd);
	p->len += (size_t)r;
	size_t off = 0, hdr;
	long n;
	while ((n = packet_len(p->in + off, p->len - off, &hdr)) > 0) {
		packet(fd, p->in + off, (size_t)n, hdr);
		if (!peers[fd])
			return;
		off += (size_t)n;
	}
	if (n < 0)
		return drop(fd);
	memmove(p->in, p->in + off, p->len - off);
	p->len -= off;
}

static int listen_on(const char *port_file)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, port_file) < 0)
		die(port_file);
	return fd;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else
			port_file = NULL, i = argc;
	if (!port_file || argc % 2 == 0 || threads < 1 || threads > 2) {
		fprintf(stderr, "usage: floor --port-file FILE [--threads 1|2]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	pthread_t t;
	if (threads == 2 && pthread_create(&t, NULL, writer, NULL) != 0)
		die("pthread_create");
	int lfd = listen_on(port_file), ep = epoll_create1(EPOLL_CLOEXEC), one = 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[256];
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll");
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd != lfd) {
				if (peers[fd])
					readable(fd);
				continue;
			}
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			struct peer *p = calloc(1, sizeof *p);
			if (c >= MAX_FD || !p || !(p->in = malloc(RX_CAP))) {
				free(p);
				close(c);
				continue;
			}
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			peers[c] = p;
			ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = c };
			if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
				drop(c);
		}
	}
}
