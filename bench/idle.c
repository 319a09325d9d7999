/* idle.c - open N idle client connections to a broker, one after another.
 *
 *   --proto mqtt: CONNECT (MQTT 3.1.1, clean session, keepalive 600 s, no
 *                 subscription), wait for CONNACK.
 *   --proto rv:   preface "RVP1" + hello {"type":"hello","id":"idleN",
 *                 "role":"recv","version":1}, wait for the welcome frame.
 *   --proto ws:   WebSocket upgrade (GET /ws), wait for the 101.
 *   --proto sigws: the same, then wait for rvsignal's {"type":"welcome"}
 *                 text frame.
 *   --proto sigtcp: rvsignal's raw-TCP broker: wait for the welcome line
 *                 (the broker speaks first).
 *
 * With --pid PID it also measures that process's memory: it makes --warm
 * (10) connections, closes them, waits a second, reads VmRSS from
 * /proc/PID/status, opens the N connections, waits --settle (2) seconds,
 * reads VmRSS again and prints FIGURE rss_per_conn_bytes=(after-before)/N.
 *
 * Then it keeps the connections open (answering RV and WebSocket pings) until
 * --hold seconds pass (0 = until stdin reaches EOF or SIGINT/SIGTERM), and
 * reports how many the server closed. RLIMIT_NOFILE is raised to its hard
 * limit. Only 127.0.0.0/8 targets are accepted. Standalone C11, no librv. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum proto { I_MQTT, I_RV, I_WS, I_SIGWS, I_SIGTCP };
static const char *const proto_names[] = { "mqtt", "rv", "ws", "sigws", "sigtcp" };
static enum proto proto;
static char host[64] = "127.0.0.1";
static int port, nconn = 10000, warm = 10, pid;
static double settle = 2.0, hold = 0;
static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, int i)
{
	printf("ERROR %s (connection %d): %s\n", what, i, errno ? strerror(errno) : "");
	fflush(stdout);
	exit(1);
}

static long vmrss_kb(int p)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", p);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static size_t rv_frame(uint8_t *out, const char *hdr)
{
	size_t hl = strlen(hdr);
	out[0] = (uint8_t)(hl >> 24);
	out[1] = (uint8_t)(hl >> 16);
	out[2] = (uint8_t)(hl >> 8);
	out[3] = (uint8_t)hl;
	memset(out + 4, 0, 4);
	memcpy(out + 8, hdr, hl);
	return 8 + hl;
}

static void write_full(int fd, const uint8_t *b, size_t n, int i)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail("write", i);
		}
		b += w;
		n -= (size_t)w;
	}
}

/* Read at most N bytes into B (waiting until DEADLINE); returns how many. */
static size_t read_some(int fd, uint8_t *b, size_t n, double deadline, int i)
{
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int ms = (int)((deadline - now_s()) * 1000);
		if (ms <= 0) {
			errno = 0;
			fail("handshake timeout (5 s)", i);
		}
		if (poll(&pf, 1, ms) <= 0)
			continue;
		ssize_t r = read(fd, b, n);
		if (r == 0) {
			errno = 0;
			fail("server closed the connection during handshake", i);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail("read", i);
		}
		return (size_t)r;
	}
}

static int read_full(int fd, uint8_t *b, size_t n, int i)
{
	size_t got = 0;
	double deadline = now_s() + 5.0;
	while (got < n)
		got += read_some(fd, b + got, n - got, deadline, i);
	return 0;
}

/* A masked client frame with opcode OP and N (< 126) bytes of DATA. */
static size_t ws_frame(uint8_t *out, int op, const uint8_t *data, size_t n)
{
	static const uint8_t mask[4] = { 0x3a, 0x91, 0x5c, 0xe7 };
	out[0] = (uint8_t)(0x80 | op);
	out[1] = (uint8_t)(0x80 | n);
	memcpy(out + 2, mask, 4);
	for (size_t k = 0; k < n; k++)
		out[6 + k] = data[k] ^ mask[k & 3];
	return 6 + n;
}

/* Upgrade FD to WebSocket at /ws; with WELCOME, also wait for the first text
 * frame and check that it is rvsignal's welcome. */
static void ws_open(int fd, int welcome, int i)
{
	char req[256];
	int n = snprintf(req, sizeof req,
			 "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 host, port);
	write_full(fd, (const uint8_t *)req, (size_t)n, i);
	uint8_t b[8192];
	size_t have = 0, head = 0;
	double deadline = now_s() + 5.0;
	for (;;) {
		const uint8_t *e = memmem(b, have, "\r\n\r\n", 4);
		if (e) {
			head = (size_t)(e + 4 - b);
			break;
		}
		if (have == sizeof b) {
			errno = 0;
			fail("WebSocket upgrade: response head too long", i);
		}
		have += read_some(fd, b + have, sizeof b - have, deadline, i);
	}
	if (head < 12 || memcmp(b, "HTTP/1.1 101", 12) != 0) {
		const uint8_t *eol = memchr(b, '\r', head);
		printf("ERROR connection %d: upgrade refused: %.*s\n", i, (int)(eol - b), (char *)b);
		exit(1);
	}
	if (!welcome)
		return;
	/* one unmasked text frame; the welcome is far below 64 KiB */
	size_t flen = 0, fh = 0;
	for (;;) {
		size_t avail = have - head;
		const uint8_t *f = b + head;
		if (avail >= 2) {
			fh = (f[1] & 127) == 126 ? 4 : 2;
			if ((f[1] & 127) == 127 || (f[0] & 15) != 1) {
				errno = 0;
				fail("unexpected frame instead of welcome", i);
			}
			if (avail >= fh) {
				flen = fh == 2 ? (size_t)(f[1] & 127) : ((size_t)f[2] << 8 | f[3]);
				if (head + fh + flen > sizeof b) {
					errno = 0;
					fail("welcome frame too large", i);
				}
				if (avail >= fh + flen)
					break;
			}
		}
		have += read_some(fd, b + have, sizeof b - have, deadline, i);
	}
	const char *t = (const char *)b + head + fh;
	if (!memmem(t, flen, "\"welcome\"", 9)) {
		printf("ERROR connection %d: expected welcome, got %.*s\n", i, (int)(flen > 200 ? 200 : flen), t);
		exit(1);
	}
}

/* Wait for rvsignal's broker to send its first line, the welcome. */
static void line_welcome(int fd, int i)
{
	char b[4096];
	size_t have = 0;
	double deadline = now_s() + 5.0;
	while (!memchr(b, '\n', have)) {
		if (have == sizeof b) {
			errno = 0;
			fail("welcome line too long", i);
		}
		have += read_some(fd, (uint8_t *)b + have, sizeof b - have, deadline, i);
	}
	if (!memmem(b, have, "\"welcome\"", 9)) {
		printf("ERROR connection %d: expected welcome, got %.*s\n", i,
		       (int)strcspn(b, "\n"), b);
		exit(1);
	}
}

/* Open one connection and complete the handshake; returns the fd. */
static int open_one(int i, const char *idprefix)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket", i);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("connect", i);
	uint8_t b[512];
	char id[64];
	snprintf(id, sizeof id, "%s%d", idprefix, i);
	if (proto == I_WS || proto == I_SIGWS) {
		ws_open(fd, proto == I_SIGWS, i);
	} else if (proto == I_SIGTCP) {
		line_welcome(fd, i);
	} else if (proto == I_RV) {
		char hdr[256];
		snprintf(hdr, sizeof hdr, "{\"type\":\"hello\",\"id\":\"%s\",\"role\":\"recv\",\"version\":1}", id);
		memcpy(b, "RVP1", 4);
		size_t n = 4 + rv_frame(b + 4, hdr);
		write_full(fd, b, n, i);
		/* first frame must be the welcome */
		read_full(fd, b, 8, i);
		uint32_t hl = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
		uint32_t bl = ((uint32_t)b[4] << 24) | ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];
		if (hl == 0 || hl > 16384 || bl > 65536)
			fail("malformed frame instead of welcome", i);
		uint8_t *h = malloc(hl + bl + 1);
		if (!h)
			fail("out of memory", i);
		read_full(fd, h, hl + bl, i);
		h[hl] = 0;
		if (!strstr((char *)h, "\"welcome\"")) {
			printf("ERROR connection %d: expected welcome, got %.200s\n", i, (char *)h);
			exit(1);
		}
		free(h);
	} else {
		size_t v = 0, k = 0, idl = strlen(id);
		uint8_t vh[128];
		vh[v++] = 0, vh[v++] = 4;
		memcpy(vh + v, "MQTT", 4), v += 4;
		vh[v++] = 4;          /* protocol level 3.1.1 */
		vh[v++] = 0x02;       /* clean session */
		vh[v++] = 600 >> 8;   /* keepalive 600 s */
		vh[v++] = 600 & 255;
		vh[v++] = (uint8_t)(idl >> 8), vh[v++] = (uint8_t)idl;
		memcpy(vh + v, id, idl), v += idl;
		b[k++] = 0x10;
		b[k++] = (uint8_t)v; /* < 128 */
		memcpy(b + k, vh, v), k += v;
		write_full(fd, b, k, i);
		read_full(fd, b, 4, i);
		if (b[0] != 0x20 || b[1] != 2 || b[3] != 0) {
			errno = 0;
			fail("CONNACK refused or malformed", i);
		}
	}
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: idle --proto mqtt|rv|ws|sigws|sigtcp --port PORT [--host 127.0.0.1] [-n 10000]\n"
			"            [--pid PID] [--warm 10] [--settle 2] [--hold SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--proto")) {
			size_t k = 0;
			while (k < sizeof proto_names / sizeof *proto_names && strcmp(v, proto_names[k]))
				k++;
			if (k == sizeof proto_names / sizeof *proto_names)
				usage();
			proto = (enum proto)k;
		} else if (!strcmp(a, "--host"))
			snprintf(host, sizeof host, "%s", v);
		else if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "-n"))
			nconn = atoi(v);
		else if (!strcmp(a, "--pid"))
			pid = atoi(v);
		else if (!strcmp(a, "--warm"))
			warm = atoi(v);
		else if (!strcmp(a, "--settle"))
			settle = atof(v);
		else if (!strcmp(a, "--hold"))
			hold = atof(v);
		else
			usage();
	}
	if (port <= 0 || port > 65535 || nconn < 1 || nconn > 1000000 || warm < 0)
		usage();
	struct in_addr ia;
	if (inet_pton(AF_INET, host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127) {
		printf("ERROR refusing target %s: only 127.0.0.0/8 is allowed\n", host);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)nconn + 16 > rl.rlim_cur) {
			printf("ERROR RLIMIT_NOFILE %lu is too low for %d connections\n",
			       (unsigned long)rl.rlim_cur, nconn);
			return 1;
		}
	}

	for (int i = 0; i < warm; i++)
		close(open_one(i, "warm"));
	if (warm)
		usleep(1000000);
	long before = pid ? vmrss_kb(pid) : -1;

	int *fds = malloc(sizeof(int) * (size_t)nconn);
	if (!fds)
		fail("out of memory", -1);
	double t0 = now_s();
	for (int i = 0; i < nconn && !stop; i++)
		fds[i] = open_one(i, "idle");
	double t1 = now_s();
	if (stop)
		return 1;
	usleep((useconds_t)(settle * 1e6));
	long after = pid ? vmrss_kb(pid) : -1;

	/* watch for closes, answer RV pings */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < nconn; i++) {
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	int closed = 0;
	/* closes that happened before the RSS reading count too */
	struct epoll_event evs[64];
	double until = now_s() + hold;
	if (hold <= 0) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
		epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e);
	}
	int first = 1;
	for (;;) {
		int n = epoll_wait(ep, evs, 64, first ? 0 : 200);
		for (int k = 0; k < n; k++) {
			uint32_t i = evs[k].data.u32;
			if (i == UINT32_MAX) {
				char junk[256];
				if (read(0, junk, sizeof junk) <= 0)
					stop = 1;
				continue;
			}
			uint8_t buf[4096];
			ssize_t r = read(fds[i], buf, sizeof buf);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				closed++;
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				close(fds[i]);
				fds[i] = -1;
			} else if (r > 0 && proto == I_RV && memmem(buf, (size_t)r, "\"ping\"", 6)) {
				uint8_t p[64];
				size_t pl = rv_frame(p, "{\"type\":\"pong\"}");
				ssize_t w = write(fds[i], p, pl);
				(void)w;
			} else if (r >= 2 && (proto == I_WS || proto == I_SIGWS) && buf[0] == 0x89 &&
				   (buf[1] & 127) < 126 && (size_t)r >= 2u + (buf[1] & 127)) {
				uint8_t p[160]; /* a ping: pong with its data */
				ssize_t w = write(fds[i], p, ws_frame(p, 10, buf + 2, buf[1] & 127));
				(void)w;
			}
		}
		if (first) {
			first = 0;
			printf("INFO proto=%s connections=%d connect_s=%.2f closed_by_server=%d\n",
			       proto_names[proto], nconn, t1 - t0, closed);
			if (pid) {
				printf("INFO rss_before_kb=%ld rss_after_kb=%ld\n", before, after);
				printf("FIGURE rss_per_conn_bytes=%.0f\n",
				       (double)(after - before) * 1024.0 / nconn);
			}
			printf("READY\n");
			fflush(stdout);
		}
		if (stop || (hold > 0 && now_s() >= until))
			break;
	}
	printf("INFO closed_by_server=%d\n", closed);
	fflush(stdout);
	return closed ? 1 : 0;
}
