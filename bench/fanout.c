/* fanout.c - fan-out load generator: 1 sender -> N receivers through a broker.
 *
 * Speaks raw MQTT 3.1.1 (--proto mqtt: CONNECT, SUBSCRIBE QoS 0 to one topic,
 * PUBLISH QoS 0), the RV protocol (--proto rv: preface "RVP1", hello,
 * receivers join one group, the sender posts {"type":"msg","seq":N,
 * "group":G} + body and discards the server's ok replies), or RFC 6455
 * WebSocket at /ws: --proto ws sends the payload as a masked text frame to
 * a broadcast broker (every client gets every other client's messages);
 * --proto sigws speaks rvsignal's JSON: after the server's welcome every
 * client (sender too) joins room --topic, the sender posts
 * {"type":"chat","room":R,"text":PAYLOAD} and receivers take PAYLOAD from the
 * "text" of the chat the server relays (with "from" added). --proto rvws
 * is the RV protocol over rvserver's WebSocket at /rv: each RV frame (no
 * preface) is one binary message, both ways. The upgrade's
 * Sec-WebSocket-Accept is not checked (a 101 is enough for a bench).
 * --proto nats speaks the NATS client protocol (text lines): after the
 * server's INFO every client sends CONNECT {"verbose":false,
 * "pedantic":false}, receivers SUB --topic, and all wait for the PONG to a
 * PING; the sender sends PUB TOPIC N + payload, receivers take the payload
 * of each MSG; a server PING is answered PONG.  Interest crosses a NATS
 * cluster's routes after the PONG, so before the run the sender publishes
 * "probe" messages (not counted) every 10 ms until every receiver has one
 * (at most 5 s).
 *
 * --recv-port P1,P2,...: receivers connect to these ports in turn (receiver
 * i to port i mod N: the nodes of a cluster), the sender to --port.
 *
 * Every payload is 64 ASCII bytes by default: 16 hex digits of sequence
 * number, 16 hex digits of the send time (CLOCK_MONOTONIC ns), padding.
 * Every receiver checks that sequence numbers arrive without gap or reorder.
 *
 * Two modes, both a single-threaded epoll loop:
 *   saturation (default): closed loop, at most --window messages outstanding
 *     to the slowest receiver; receivers set SO_RCVLOWAT (--lowat) so each
 *     read returns many messages. Counts deliveries in a --duration window
 *     after a --warmup.  Prints FIGURE deliveries_per_s=N.
 *   latency (--rate R): open loop, a timerfd paces single sends at R/s;
 *     receivers read every message as it arrives; the receive-minus-send time
 *     of every delivery of a message sent inside the window goes into a 1 us
 *     histogram.  Prints FIGURE latency_p50_us / latency_p99_us.  A second
 *     histogram takes the kernel's receive time of the same deliveries
 *     (SO_TIMESTAMPING, software: when the broker's write put the bytes on
 *     the receiver's socket), so what the broker costs can be told from
 *     what this one thread's serial reading of 100 sockets adds on a
 *     shared machine: RESULT's latency_kernel_p50_us / _p99_us.
 *
 * --pid PID[,PID...] also reports those processes' CPU (utime+stime from
 * /proc/PID/stat, summed: a cluster's nodes) over the window; the
 * generator's own CPU is always shown.
 * Only 127.0.0.0/8 targets are accepted. A hard stop (--max-time) ends the
 * process whatever happens.
 *
 * Standalone C11 + POSIX/Linux; no librv. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

enum proto { P_MQTT, P_RV, P_WS, P_SIGWS, P_RVWS, P_NATS };
static const char *const proto_names[] = { "mqtt", "rv", "ws", "sigws", "rvws", "nats" };

#define MAX_RECV_PORTS 16

static struct {
	enum proto proto;
	char host[64];
	int port;
	int recv_ports[MAX_RECV_PORTS]; /* receivers' ports when not --port (other cluster nodes) */
	int n_recv_ports;
	int subs;
	int window;
	int lowat;
	int payload;
	double warmup;
	double duration;
	double drain;
	double rate;
	int max_time;
	int pids[MAX_RECV_PORTS]; /* --pid: the broker's processes (a cluster's nodes) */
	int n_pids;
	const char *topic;
	int verbose;
} opt = {
	.proto = P_MQTT, .host = "127.0.0.1", .port = 0, .subs = 100,
	.window = 256, .lowat = 4096, .payload = 64, .warmup = 2.0,
	.duration = 8.0, .drain = 3.0, .rate = 0, .max_time = 0,
	.topic = "bench", .verbose = 0,
};

#define INCAP (256 * 1024)
#define HIST_MAX_US 10000000u /* 10 s; later deliveries land in the overflow */
#define OUT_MAX (16u * 1024 * 1024)

struct conn {
	int fd;
	int idx; /* receiver index, -1 for the sender */
	uint8_t *in;
	size_t inlen;
	uint8_t *out; /* pending output (sender and pongs) */
	size_t outlen, outoff, outcap;
	uint64_t next_seq; /* next expected sequence number (receivers) */
	uint64_t got;
	int want_out;
	int probed; /* nats: a probe arrived (interest reached this receiver) */
};

static struct conn *rcv;
static struct conn snd;
static int epfd = -1;

static uint64_t sent;          /* last sequence number queued by the sender */
static uint64_t deliveries;    /* all deliveries to all receivers */
static uint64_t rx_bytes;      /* wire bytes the receivers read (after the handshakes) */
static size_t msg_bytes;       /* wire size of the last message the sender built */
static uint64_t lost, reordered, bad, srv_errors, short_delivered, acks;
static int fatal;
static char fatal_msg[256];

static uint32_t *hist;
static uint64_t hist_over, hist_n, hist_max;
static double hist_sum;
static uint64_t lat_from_ns, lat_to_ns; /* record sends in [from, to) */
static int latency_mode;
/* the kernel's receive times (CLOCK_REALTIME, made monotonic by the offset
 * taken at the start) of the read at hand, and their histogram */
static uint32_t *khist;
static uint64_t khist_n, khist_max, k_rx;
static int64_t rt_minus_mono;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "fanout: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	printf("ERROR ");
	printf(fmt, arg);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void set_fatal(const char *what, int idx)
{
	if (!fatal) {
		snprintf(fatal_msg, sizeof fatal_msg, "%s (connection %d)", what, idx);
		fatal = 1;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "ERROR hard stop: run exceeded --max-time\n";
	ssize_t r = write(1, m, sizeof m - 1);
	(void)r;
	_exit(3);
}

/* ---- small helpers ---------------------------------------------------- */

static void put_hex16(char *p, uint64_t v)
{
	static const char dig[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		p[i] = dig[v & 15];
		v >>= 4;
	}
}

static int get_hex16(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		uint8_t c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

static void fill_payload(char *p, uint64_t seq, uint64_t t)
{
	put_hex16(p, seq);
	put_hex16(p + 16, t);
	for (int i = 32; i < opt.payload; i++)
		p[i] = (char)('a' + (i % 26));
}

/* Find "key" : in a JSON text and return a pointer past the colon (and
 * spaces), or NULL.  Good enough for the flat headers this protocol uses. */
static const char *json_find(const char *h, size_t n, const char *key)
{
	size_t kl = strlen(key);
	const char *end = h + n;
	for (const char *p = h; p + kl + 2 < end; p++) {
		if (*p != '"' || memcmp(p + 1, key, kl) != 0 || p[kl + 1] != '"')
			continue;
		const char *q = p + kl + 2;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		return q < end ? q : NULL;
	}
	return NULL;
}

/* Copy the string value of KEY into OUT (at most CAP-1 bytes); 0 or -1. */
static int json_str(const char *h, size_t n, const char *key, char *out, size_t cap)
{
	const char *q = json_find(h, n, key), *end = h + n;
	if (!q || *q != '"')
		return -1;
	q++;
	size_t i = 0;
	while (q < end && *q != '"' && i + 1 < cap)
		out[i++] = *q++;
	out[i] = 0;
	return 0;
}

static int json_int(const char *h, size_t n, const char *key, long long *out)
{
	const char *q = json_find(h, n, key), *end = h + n;
	if (!q)
		return -1;
	long long v = 0;
	int any = 0;
	while (q < end && *q >= '0' && *q <= '9') {
		v = v * 10 + (*q - '0');
		q++;
		any = 1;
	}
	if (!any)
		return -1;
	*out = v;
	return 0;
}

/* ---- packet framing ---------------------------------------------------- */

static int is_ws(void)
{
	return opt.proto == P_WS || opt.proto == P_SIGWS || opt.proto == P_RVWS;
}

/* A WebSocket frame from the server: unmasked, unfragmented. *OFF is the
 * header size. */
static long ws_frame_len(const uint8_t *p, size_t n, size_t *off)
{
	if (n < 2)
		return 0;
	uint64_t len = p[1] & 127;
	size_t h = 2;
	if (!(p[0] & 0x80) || (p[1] & 0x80))
		return -1;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = ((uint64_t)p[2] << 8) | p[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 2; i < 10; i++)
			len = (len << 8) | p[i];
		h = 10;
	}
	if (len > INCAP - h)
		return -1;
	*off = h;
	if (h + len > n)
		return 0;
	return (long)(h + len);
}

/* A client frame (masked, as RFC 6455 requires) with opcode OP; N < 65536. */
static size_t ws_frame(uint8_t *out, int op, const void *data, size_t n)
{
	static const uint8_t mask[4] = { 0x3a, 0x91, 0x5c, 0xe7 };
	const uint8_t *d = data;
	size_t h = 0;
	out[h++] = (uint8_t)(0x80 | op);
	if (n < 126) {
		out[h++] = (uint8_t)(0x80 | n);
	} else {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	}
	memcpy(out + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		out[h + i] = d[i] ^ mask[i & 3];
	return h + n;
}

/* NATS: one operation from the server, a line ending in CRLF; for MSG
 * ("MSG subject sid [reply-to] #bytes") also the payload and its CRLF.
 * *OFF is where the payload (or the next line) starts. Lines are capped at
 * 16 KiB (INFO is the longest), payloads by INCAP. */
static long nats_op_len(const uint8_t *p, size_t n, size_t *off)
{
	const uint8_t *e = memmem(p, n, "\r\n", 2);
	if (!e)
		return n > 16384 ? -1 : 0;
	size_t ll = (size_t)(e - p);
	if (ll > 16384)
		return -1;
	*off = ll + 2;
	if (ll < 4 || memcmp(p, "MSG ", 4) != 0)
		return (long)(ll + 2);
	size_t i = ll, bytes = 0, mul = 1;
	while (i > 4 && p[i - 1] >= '0' && p[i - 1] <= '9' && mul <= 100000000) {
		bytes += (size_t)(p[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == ll || p[i - 1] != ' ' || bytes > INCAP - ll - 4)
		return -1;
	if (ll + 2 + bytes + 2 > n)
		return 0;
	if (p[ll + 2 + bytes] != '\r' || p[ll + 3 + bytes] != '\n')
		return -1;
	return (long)(ll + 2 + bytes + 2);
}

/* Size of the whole packet at the start of P[0..N): > 0, 0 = need more,
 * -1 = malformed / over cap. *OFF is where the variable part starts. */
static long pkt_len(const uint8_t *p, size_t n, size_t *off)
{
	if (is_ws())
		return ws_frame_len(p, n, off);
	if (opt.proto == P_NATS)
		return nats_op_len(p, n, off);
	if (opt.proto == P_MQTT) {
		if (n < 2)
			return 0;
		uint32_t rem = 0, mul = 1;
		size_t i = 1;
		for (;;) {
			if (i >= n)
				return 0;
			if (i > 4)
				return -1;
			rem += (uint32_t)(p[i] & 127) * mul;
			mul *= 128;
			if (!(p[i++] & 128))
				break;
		}
		*off = i;
		if (i + rem > INCAP)
			return -1;
		if (i + rem > n)
			return 0;
		return (long)(i + rem);
	}
	if (n < 8)
		return 0;
	uint32_t hl = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	uint32_t bl = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
	if (hl == 0 || hl > 16384 || (size_t)hl + bl + 8 > INCAP)
		return -1;
	*off = 8;
	if ((size_t)hl + bl + 8 > n)
		return 0;
	return (long)(8 + hl + bl);
}

static void rv_frame(uint8_t *out, size_t *len, const char *hdr, const void *body, size_t bl)
{
	size_t hl = strlen(hdr);
	out[0] = (uint8_t)(hl >> 24);
	out[1] = (uint8_t)(hl >> 16);
	out[2] = (uint8_t)(hl >> 8);
	out[3] = (uint8_t)hl;
	out[4] = (uint8_t)(bl >> 24);
	out[5] = (uint8_t)(bl >> 16);
	out[6] = (uint8_t)(bl >> 8);
	out[7] = (uint8_t)bl;
	memcpy(out + 8, hdr, hl);
	if (bl)
		memcpy(out + 8 + hl, body, bl);
	*len = 8 + hl + bl;
}

static size_t mqtt_remlen(uint8_t *p, size_t rem)
{
	size_t i = 0;
	do {
		uint8_t b = rem & 127;
		rem >>= 7;
		if (rem)
			b |= 128;
		p[i++] = b;
	} while (rem);
	return i;
}

static void put_str16(uint8_t *p, size_t *i, const char *s)
{
	size_t l = strlen(s);
	p[(*i)++] = (uint8_t)(l >> 8);
	p[(*i)++] = (uint8_t)l;
	memcpy(p + *i, s, l);
	*i += l;
}

/* Append one message (sequence SEQ, time T) to the sender's output. */
static size_t build_msg(uint8_t *out, uint64_t seq, uint64_t t)
{
	char pl[1024];
	fill_payload(pl, seq, t);
	if (opt.proto == P_MQTT) {
		size_t tl = strlen(opt.topic);
		size_t rem = 2 + tl + (size_t)opt.payload, i = 0;
		out[i++] = 0x30;
		i += mqtt_remlen(out + i, rem);
		put_str16(out, &i, opt.topic);
		memcpy(out + i, pl, (size_t)opt.payload);
		return i + (size_t)opt.payload;
	}
	if (opt.proto == P_WS)
		return ws_frame(out, 1, pl, (size_t)opt.payload);
	if (opt.proto == P_NATS) {
		int h = sprintf((char *)out, "PUB %s %d\r\n", opt.topic, opt.payload);
		memcpy(out + h, pl, (size_t)opt.payload);
		memcpy(out + h + opt.payload, "\r\n", 2);
		return (size_t)h + (size_t)opt.payload + 2;
	}
	if (opt.proto == P_SIGWS) {
		char js[1200];
		int n = snprintf(js, sizeof js, "{\"type\":\"chat\",\"room\":\"%s\",\"text\":\"%.*s\"}",
				 opt.topic, opt.payload, pl);
		return ws_frame(out, 1, js, (size_t)n);
	}
	char hdr[256];
	uint8_t f[1400];
	size_t len;
	snprintf(hdr, sizeof hdr, "{\"type\":\"msg\",\"seq\":%" PRIu64 ",\"group\":\"%s\"}", seq, opt.topic);
	if (opt.proto == P_RVWS) {
		rv_frame(f, &len, hdr, pl, (size_t)opt.payload);
		return ws_frame(out, 2, f, len);
	}
	rv_frame(out, &len, hdr, pl, (size_t)opt.payload);
	return len;
}

/* ---- blocking handshake ------------------------------------------------ */

static int tcp_connect(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		die("bad host %s", opt.host);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect: %s", strerror(errno));
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = { .fd = fd, .events = POLLOUT };
				poll(&pf, 1, 1000);
				continue;
			}
			die("write during handshake: %s", strerror(errno));
		}
		b += w;
		n -= (size_t)w;
	}
}

/* Append what the server sent to C->in, waiting until DEADLINE at most. */
static void read_some(struct conn *c, uint64_t deadline)
{
	uint64_t t = now_ns();
	if (t >= deadline)
		die("%s", "handshake timeout (5 s)");
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	int r = poll(&pf, 1, (int)((deadline - t) / 1000000 + 1));
	if (r <= 0)
		return;
	ssize_t n = read(c->fd, c->in + c->inlen, INCAP - c->inlen);
	if (n == 0)
		die("%s", "server closed the connection during handshake");
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		die("read during handshake: %s", strerror(errno));
	if (n > 0)
		c->inlen += (size_t)n;
}

/* Wait (up to 5 s) for one whole packet at the start of C->in; returns its
 * length (the caller consumes it with consume()). */
static size_t wait_packet(struct conn *c, size_t *off)
{
	uint64_t deadline = now_ns() + 5000000000ull;
	for (;;) {
		long l = pkt_len(c->in, c->inlen, off);
		if (l < 0)
			die("%s", "malformed packet from server during handshake");
		if (l > 0)
			return (size_t)l;
		read_some(c, deadline);
	}
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

static void conn_init(struct conn *c, int idx)
{
	memset(c, 0, sizeof *c);
	c->idx = idx;
	c->next_seq = 1;
	c->in = malloc(INCAP);
	if (!c->in)
		die("%s", "out of memory");
	c->fd = tcp_connect(idx >= 0 && opt.n_recv_ports ? opt.recv_ports[idx % opt.n_recv_ports] : opt.port);
}

static void mqtt_handshake(struct conn *c, int subscribe)
{
	uint8_t b[1024];
	char cid[64];
	size_t i = 0, off;
	snprintf(cid, sizeof cid, "fo%d-%s%d", (int)getpid(), c->idx < 0 ? "s" : "r", c->idx);
	/* CONNECT: protocol "MQTT" level 4, clean session, keepalive 600 s */
	uint8_t vh[256];
	size_t v = 0;
	put_str16(vh, &v, "MQTT");
	vh[v++] = 4;
	vh[v++] = 0x02;
	vh[v++] = 600 >> 8;
	vh[v++] = 600 & 255;
	put_str16(vh, &v, cid);
	b[i++] = 0x10;
	i += mqtt_remlen(b + i, v);
	memcpy(b + i, vh, v);
	i += v;
	if (subscribe) {
		/* SUBSCRIBE goes in the same write as CONNECT (MQTT allows it):
		 * the receiver then never answers received data, so its socket
		 * does not enter the kernel's delayed-ACK "pingpong" mode. */
		v = 0;
		vh[v++] = 0;
		vh[v++] = 1; /* packet id */
		put_str16(vh, &v, opt.topic);
		vh[v++] = 0; /* QoS 0 */
		b[i++] = 0x82;
		i += mqtt_remlen(b + i, v);
		memcpy(b + i, vh, v);
		i += v;
	}
	send_all(c->fd, b, i);
	size_t l = wait_packet(c, &off);
	if (c->in[0] != 0x20 || l < 4 || c->in[3] != 0)
		die("%s", "MQTT CONNACK refused or malformed");
	consume(c, l);
	if (!subscribe)
		return;
	for (;;) {
		l = wait_packet(c, &off);
		uint8_t t = c->in[0];
		if (t == 0x90) {
			if (l < off + 3 || c->in[off + 2] & 0x80)
				die("%s", "MQTT SUBACK refused");
			consume(c, l);
			return;
		}
		consume(c, l); /* anything else before SUBACK: ignore */
	}
}

/* Wait for an RV frame of type WANT (and, for ok/error, re == RE); frames
 * of other types (events) are skipped. Returns 0 or dies. */
static void rv_wait(struct conn *c, const char *want, long long re)
{
	for (;;) {
		size_t off;
		size_t l = wait_packet(c, &off);
		const uint8_t *f = is_ws() ? c->in + off : c->in;	/* rvws: the binary message */
		if (is_ws() && (l - off < 8 || (c->in[0] & 15) != 2)) {
			consume(c, l);
			continue;
		}
		uint32_t hl = ((uint32_t)f[0] << 24) | ((uint32_t)f[1] << 16) | ((uint32_t)f[2] << 8) | f[3];
		const char *h = (const char *)f + 8;
		char type[32] = "";
		long long r = -1;
		json_str(h, hl, "type", type, sizeof type);
		json_int(h, hl, "re", &r);
		if (!strcmp(type, "error") || !strcmp(type, "bye")) {
			char m[400];
			snprintf(m, sizeof m, "%.*s", (int)(hl > 300 ? 300 : hl), h);
			die("RV server refused: %s", m);
		}
		if (!strcmp(type, want) && (re < 0 || r == re)) {
			consume(c, l);
			return;
		}
		consume(c, l);
	}
}

/* One RV frame with header HDR and no body, in a binary message for rvws. */
static void rv_send_frame(struct conn *c, const char *hdr)
{
	uint8_t f[1024], b[1100];
	size_t l;
	rv_frame(f, &l, hdr, NULL, 0);
	if (opt.proto == P_RVWS)
		send_all(c->fd, b, ws_frame(b, 2, f, l));
	else
		send_all(c->fd, f, l);
}

static void ws_upgrade(struct conn *c, const char *path);

static void rv_handshake(struct conn *c, int join)
{
	uint8_t b[1024];
	char hdr[512];
	size_t l;
	if (c->idx < 0)
		snprintf(hdr, sizeof hdr, "{\"type\":\"hello\",\"id\":\"bench-send\",\"role\":\"send\",\"version\":1,\"client\":\"rvbench/0.1\"}");
	else
		snprintf(hdr, sizeof hdr, "{\"type\":\"hello\",\"id\":\"bench-r%d\",\"role\":\"recv\",\"version\":1,\"client\":\"rvbench/0.1\"}", c->idx);
	if (opt.proto == P_RVWS) {
		ws_upgrade(c, "/rv");
		rv_send_frame(c, hdr);
	} else {
		memcpy(b, "RVP1", 4);
		rv_frame(b + 4, &l, hdr, NULL, 0);
		send_all(c->fd, b, l + 4);
	}
	rv_wait(c, "welcome", -1);
	if (!join)
		return;
	snprintf(hdr, sizeof hdr, "{\"type\":\"join\",\"seq\":1,\"group\":\"%s\"}", opt.topic);
	rv_send_frame(c, hdr);
	rv_wait(c, "ok", 1);
}

/* HTTP upgrade to WebSocket at PATH; frames that follow the 101 stay in C->in. */
static void ws_upgrade(struct conn *c, const char *path)
{
	char req[512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 path, opt.host, opt.port);
	send_all(c->fd, req, (size_t)n);
	uint64_t deadline = now_ns() + 5000000000ull;
	for (;;) {
		const uint8_t *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (e) {
			if (c->inlen < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
				const uint8_t *eol = memchr(c->in, '\r', (size_t)(e - c->in) + 1);
				char m[128];
				snprintf(m, sizeof m, "%.*s", (int)(eol - c->in > 100 ? 100 : eol - c->in),
					 (const char *)c->in);
				die("WebSocket upgrade refused: %s", m);
			}
			consume(c, (size_t)(e + 4 - c->in));
			return;
		}
		if (c->inlen > 16384)
			die("%s", "WebSocket upgrade: response head too long");
		read_some(c, deadline);
	}
}

/* rvsignal: wait for a text frame whose "type" is WANT; others are skipped. */
static void sigws_wait(struct conn *c, const char *want)
{
	for (;;) {
		size_t off;
		size_t l = wait_packet(c, &off);
		const char *h = (const char *)c->in + off;
		size_t hl = l - off;
		char type[32] = "";
		if ((c->in[0] & 15) == 1)
			json_str(h, hl, "type", type, sizeof type);
		if (!strcmp(type, "error")) {
			char m[400];
			snprintf(m, sizeof m, "%.*s", (int)(hl > 300 ? 300 : hl), h);
			die("rvsignal refused: %s", m);
		}
		consume(c, l);
		if (!strcmp(type, want))
			return;
	}
}

static void sigws_handshake(struct conn *c)
{
	uint8_t b[512];
	char js[256];
	ws_upgrade(c, "/ws");
	sigws_wait(c, "welcome");
	if (c->idx < 0)
		snprintf(js, sizeof js, "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"s\"}", opt.topic);
	else
		snprintf(js, sizeof js, "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"r%d\"}", opt.topic, c->idx);
	send_all(c->fd, b, ws_frame(b, 1, js, strlen(js)));
	sigws_wait(c, "state");
}

/* NATS: INFO from the server; CONNECT (and SUB for a receiver) and PING in
 * one write; then wait for the PONG, so the subscription is in place on
 * this server. */
static void nats_handshake(struct conn *c)
{
	char b[512], sub[160] = "";
	size_t off, l = wait_packet(c, &off);
	if (l < 5 || memcmp(c->in, "INFO ", 5) != 0)
		die("%s", "NATS: the server did not start with INFO");
	consume(c, l);
	if (c->idx >= 0)
		snprintf(sub, sizeof sub, "SUB %s %d\r\n", opt.topic, c->idx + 1);
	int n = snprintf(b, sizeof b,
			 "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"fanout-%s%d\"}\r\n%sPING\r\n",
			 c->idx < 0 ? "s" : "r", c->idx < 0 ? 0 : c->idx, sub);
	send_all(c->fd, b, (size_t)n);
	for (;;) {
		l = wait_packet(c, &off);
		if (l >= 4 && !memcmp(c->in, "-ERR", 4)) {
			char m[300];
			snprintf(m, sizeof m, "%.*s", (int)(l - 2 > 200 ? 200 : l - 2), (const char *)c->in);
			die("NATS server refused: %s", m);
		}
		int pong = l == 6 && !memcmp(c->in, "PONG", 4);
		consume(c, l); /* INFO updates, +OK */
		if (pong)
			return;
	}
}

/* Connect C (idx < 0: the sender) and make it a receiver or the sender. */
static void handshake(struct conn *c)
{
	switch (opt.proto) {
	case P_MQTT: mqtt_handshake(c, c->idx >= 0); break;
	case P_RV: rv_handshake(c, c->idx >= 0); break;
	case P_WS: ws_upgrade(c, "/ws"); break;
	case P_SIGWS: sigws_handshake(c); break;
	case P_RVWS: rv_handshake(c, c->idx >= 0); break;
	case P_NATS: nats_handshake(c); break;
	}
}

/* ---- event loop ---------------------------------------------------------- */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void ep_mod(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static int out_reserve(struct conn *c, size_t n)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + n <= c->outcap)
		return 0;
	if (c->outoff) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
		if (c->outlen + n <= c->outcap)
			return 0;
	}
	size_t cap = c->outcap ? c->outcap * 2 : 65536;
	while (cap < c->outlen + n)
		cap *= 2;
	if (cap > OUT_MAX)
		return -1;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return -1;
	c->out = p;
	c->outcap = cap;
	return 0;
}

/* Write pending output; arm/disarm EPOLLOUT as needed. */
static void flush_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			set_fatal("write failed", c->idx);
			return;
		}
		c->outoff += (size_t)w;
	}
	int want = c->outoff < c->outlen;
	if (want != c->want_out) {
		c->want_out = want;
		ep_mod(c, EPOLLIN | (want ? EPOLLOUT : 0));
	}
}

/* Queue N bytes on C and write what the kernel takes now. */
static void conn_queue(struct conn *c, const void *p, size_t n)
{
	if (out_reserve(c, n) < 0) {
		set_fatal("output backlog over its cap", c->idx);
		return;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	flush_out(c);
}

static void delivery(struct conn *c, const uint8_t *pl, size_t n, uint64_t t_rx)
{
	uint64_t seq, ts;
	if (n != (size_t)opt.payload || get_hex16(pl, &seq) || get_hex16(pl + 16, &ts)) {
		bad++;
		return;
	}
	if (seq != c->next_seq) {
		if (seq > c->next_seq)
			lost += seq - c->next_seq;
		else
			reordered++;
	}
	if (seq >= c->next_seq)
		c->next_seq = seq + 1;
	c->got++;
	deliveries++;
	if (latency_mode && ts >= lat_from_ns && ts < lat_to_ns && k_rx) {
		uint64_t us = k_rx > ts ? (k_rx - ts) / 1000 : 0;
		khist[us < HIST_MAX_US ? us : HIST_MAX_US - 1]++;
		khist_n++;
		if (us > khist_max)
			khist_max = us;
	}
	if (latency_mode && ts >= lat_from_ns && ts < lat_to_ns) {
		uint64_t us = t_rx > ts ? (t_rx - ts) / 1000 : 0;
		if (us < HIST_MAX_US)
			hist[us]++;
		else
			hist_over++;
		hist_n++;
		hist_sum += (double)us;
		if (us > hist_max)
			hist_max = us;
	}
}

static void server_error(struct conn *c, const char *h, size_t hl)
{
	if (srv_errors++ < 5)
		fprintf(stderr, "fanout: server said on connection %d: %.*s\n", c->idx,
			(int)(hl > 300 ? 300 : hl), h);
}

/* rvsignal: one JSON text message H[0..N). */
static void sigws_text(struct conn *c, const char *h, size_t n, uint64_t t_rx)
{
	char type[16] = "";
	json_str(h, n, "type", type, sizeof type);
	if (!strcmp(type, "chat")) {
		const char *q = json_find(h, n, "text"), *e;
		if (c->idx < 0 || !q || *q != '"' || !json_find(h, n, "from") ||
		    !(e = memchr(q + 1, '"', (size_t)(h + n - q - 1)))) {
			bad++;
			return;
		}
		delivery(c, (const uint8_t *)q + 1, (size_t)(e - q - 1), t_rx);
	} else if (!strcmp(type, "error")) {
		server_error(c, h, n);
	}
	/* joined/left and other events: ignored */
}

static void rv_packet(struct conn *c, const uint8_t *p, size_t l, uint64_t t_rx);

/* One whole WebSocket frame P[0..L), payload from OFF. */
static void ws_packet(struct conn *c, const uint8_t *p, size_t l, size_t off, uint64_t t_rx)
{
	uint8_t b[160];
	switch (p[0] & 15) {
	case 1: /* text */
		if (opt.proto == P_SIGWS)
			sigws_text(c, (const char *)p + off, l - off, t_rx);
		else if (c->idx >= 0)
			delivery(c, p + off, l - off, t_rx);
		else
			bad++;
		break;
	case 2: /* binary: an RV frame (rvws) */
		if (opt.proto == P_RVWS)
			rv_packet(c, p + off, l - off, t_rx);
		else
			bad++;
		break;
	case 8:
		set_fatal("server closed the WebSocket", c->idx);
		break;
	case 9: /* ping: pong with the same data (at most 125 bytes) */
		conn_queue(c, b, ws_frame(b, 10, p + off, l - off));
		break;
	case 10:
		break;
	default:
		bad++;
	}
}

/* NATS: one whole operation P[0..L), MSG payload from OFF. */
static void nats_packet(struct conn *c, const uint8_t *p, size_t l, size_t off, uint64_t t_rx)
{
	if (l >= 4 && !memcmp(p, "MSG ", 4)) {
		size_t n = l - off - 2;
		if (c->idx < 0)
			bad++;
		else if (n == 5 && !memcmp(p + off, "probe", 5))
			c->probed = 1;
		else
			delivery(c, p + off, n, t_rx);
	} else if (l == 6 && !memcmp(p, "PING", 4)) {
		conn_queue(c, "PONG\r\n", 6);
	} else if (l >= 4 && !memcmp(p, "-ERR", 4)) {
		server_error(c, (const char *)p, l - 2);
	}
	/* INFO, PONG, +OK: ignored */
}

/* Handle one whole packet P[0..L) from connection C. */
static void packet(struct conn *c, const uint8_t *p, size_t l, size_t off, uint64_t t_rx)
{
	if (is_ws()) {
		ws_packet(c, p, l, off, t_rx);
		return;
	}
	if (opt.proto == P_NATS) {
		nats_packet(c, p, l, off, t_rx);
		return;
	}
	if (opt.proto == P_MQTT) {
		if ((p[0] & 0xf0) != 0x30)
			return; /* PINGRESP etc. */
		if (c->idx < 0 || (p[0] & 0x06)) {
			bad++;
			return;
		}
		if (l < off + 2) {
			bad++;
			return;
		}
		size_t tl = ((size_t)p[off] << 8) | p[off + 1];
		if (off + 2 + tl > l) {
			bad++;
			return;
		}
		delivery(c, p + off + 2 + tl, l - off - 2 - tl, t_rx);
		return;
	}
	rv_packet(c, p, l, t_rx);
}

/* One whole RV frame P[0..L) (over TCP, or the payload of an rvws message). */
static void rv_packet(struct conn *c, const uint8_t *p, size_t l, uint64_t t_rx)
{
	if (l < 8) {
		bad++;
		return;
	}
	uint32_t hl = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	if ((size_t)hl + 8 > l) {
		bad++;
		return;
	}
	const char *h = (const char *)p + 8;
	char type[16] = "";
	json_str(h, hl, "type", type, sizeof type);
	if (c->idx >= 0 && !strcmp(type, "msg")) {
		delivery(c, p + 8 + hl, l - 8 - hl, t_rx);
		return;
	}
	if (c->idx < 0 && !strcmp(type, "ok")) {
		long long d;
		acks++;
		if (!json_int(h, hl, "delivered", &d) && d != opt.subs)
			short_delivered++;
		return;
	}
	if (!strcmp(type, "ping")) {
		uint8_t b[64], w[80];
		size_t bl;
		rv_frame(b, &bl, "{\"type\":\"pong\"}", NULL, 0);
		if (opt.proto == P_RVWS)
			conn_queue(c, w, ws_frame(w, 2, b, bl));
		else
			conn_queue(c, b, bl);
		return;
	}
	if (!strcmp(type, "error") || !strcmp(type, "bye")) {
		server_error(c, h, hl);
		if (!strcmp(type, "bye"))
			set_fatal("server said bye", c->idx);
	}
	/* joined/left/pong and other events: ignored */
}

/* read(2), or in latency mode recvmsg with the kernel's receive time into k_rx */
static ssize_t conn_read(struct conn *c)
{
	k_rx = 0;
	if (!latency_mode)
		return read(c->fd, c->in + c->inlen, INCAP - c->inlen);
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { c->in + c->inlen, INCAP - c->inlen };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	ssize_t n = recvmsg(c->fd, &m, 0);
	for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPING) {
			struct scm_timestamping st;
			memcpy(&st, CMSG_DATA(cm), sizeof st);
			int64_t rt = (int64_t)st.ts[0].tv_sec * 1000000000 + st.ts[0].tv_nsec;
			if (rt)
				k_rx = (uint64_t)(rt - rt_minus_mono);
		}
	return n;
}

static void on_readable(struct conn *c)
{
	ssize_t n = conn_read(c);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		set_fatal("read failed", c->idx);
		return;
	}
	if (n == 0) {
		set_fatal("connection closed by the server", c->idx);
		return;
	}
	uint64_t t_rx = latency_mode ? now_ns() : 0;
	c->inlen += (size_t)n;
	if (c->idx >= 0)
		rx_bytes += (uint64_t)n;
	size_t pos = 0;
	for (;;) {
		size_t off;
		long l = pkt_len(c->in + pos, c->inlen - pos, &off);
		if (l < 0) {
			set_fatal("malformed packet from server", c->idx);
			return;
		}
		if (l == 0)
			break;
		packet(c, c->in + pos, (size_t)l, off, t_rx);
		pos += (size_t)l;
	}
	if (pos)
		consume(c, pos);
}

static uint64_t slowest(void)
{
	uint64_t m = UINT64_MAX;
	for (int i = 0; i < opt.subs; i++)
		if (rcv[i].next_seq - 1 < m)
			m = rcv[i].next_seq - 1;
	return m;
}

/* Queue one message; -1 when the sender's backlog is over its cap. */
static int queue_msg(uint64_t t)
{
	if (out_reserve(&snd, 1200) < 0)
		return -1;
	sent++;
	msg_bytes = build_msg(snd.out + snd.outlen, sent, t);
	snd.outlen += msg_bytes;
	return 0;
}

static uint64_t pctl_of(const uint32_t *h, uint64_t n, uint64_t max, double q)
{
	if (!n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n + 0.999999), cum = 0;
	if (want < 1)
		want = 1;
	for (uint32_t i = 0; i < HIST_MAX_US; i++) {
		cum += h[i];
		if (cum >= want)
			return i;
	}
	return max;
}

static uint64_t pctl(double q)
{
	return pctl_of(hist, hist_n, hist_max, q);
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, read between two monotonic reads */
static int64_t clock_offset(void)
{
	struct timespec rt;
	uint64_t a = now_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t b = now_ns();
	return (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - (int64_t)(a + (b - a) / 2);
}

/* NATS: publish a probe every 10 ms until every receiver has one (the
 * subscriptions' interest has crossed the cluster's routes); at most 5 s. */
static void nats_sync(void)
{
	char m[160];
	int n = snprintf(m, sizeof m, "PUB %s 5\r\nprobe\r\n", opt.topic);
	struct pollfd *pf = calloc((size_t)opt.subs, sizeof *pf);
	if (!pf)
		die("%s", "out of memory");
	for (int i = 0; i < opt.subs; i++)
		pf[i] = (struct pollfd){ .fd = rcv[i].fd, .events = POLLIN };
	uint64_t deadline = now_ns() + 5000000000ull;
	for (;;) {
		int waiting = 0;
		for (int i = 0; i < opt.subs; i++)
			waiting += !rcv[i].probed;
		if (!waiting)
			break;
		if (now_ns() > deadline) {
			char w[32];
			snprintf(w, sizeof w, "%d", waiting);
			die("NATS: %s receivers got no probe within 5 s (cluster routes not up?)", w);
		}
		send_all(snd.fd, m, (size_t)n);
		if (poll(pf, (nfds_t)opt.subs, 10) > 0)
			for (int i = 0; i < opt.subs; i++)
				if (pf[i].revents)
					on_readable(&rcv[i]);
		if (fatal)
			die("NATS: %s during the probes", fatal_msg);
	}
	free(pf);
	rx_bytes = 0;
}

static void usage(void);

/* "A,B,..." into OUT[MAX_RECV_PORTS], each in 1..MAX; returns the count (usage() on error). */
static int int_list(const char *v, int *out, long max)
{
	int n = 0;
	for (const char *q = v;; q++) {
		char *end;
		long x = strtol(q, &end, 10);
		if (end == q || x <= 0 || x > max || n == MAX_RECV_PORTS || (*end && *end != ','))
			usage();
		out[n++] = (int)x;
		q = end;
		if (!*q)
			return n;
	}
}

/* CPU seconds of the --pid processes together; -1 when one is unknown. */
static double brokers_cpu(void)
{
	double sum = 0;
	for (int i = 0; i < opt.n_pids; i++) {
		double c = bench_proc_cpu(opt.pids[i]);
		if (c < 0)
			return -1;
		sum += c;
	}
	return opt.n_pids ? sum : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fanout --proto mqtt|rv|ws|sigws|rvws|nats --port PORT [options]\n"
		"  --host ADDR      target, 127.0.0.0/8 only (127.0.0.1)\n"
		"  --recv-port P[,P...] receivers connect to these in turn (cluster nodes; at most 16),\n"
		"                   the sender to --port\n"
		"  --subs N         receivers (100)\n"
		"  --window N       closed loop: max messages outstanding to the slowest receiver (256)\n"
		"  --lowat BYTES    SO_RCVLOWAT on receivers in saturation mode, 0 = off (4096)\n"
		"  --payload N      payload bytes, >= 32 (64)\n"
		"  --warmup S       seconds before the window (2)\n"
		"  --duration S     measured window in seconds (8)\n"
		"  --rate R         open-loop latency mode: R single sends per second\n"
		"  --topic NAME     MQTT topic / RV group / rvsignal room / NATS subject (bench)\n"
		"  --pid PID[,PID...] also report these processes' CPU (summed) over the window\n"
		"  --max-time S     hard stop (warmup + duration + 30)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
		if (ARG("--proto")) {
			size_t k = 0;
			while (k < sizeof proto_names / sizeof *proto_names && strcmp(v, proto_names[k]))
				k++;
			if (k == sizeof proto_names / sizeof *proto_names)
				usage();
			opt.proto = (enum proto)k;
		} else if (ARG("--host"))
			snprintf(opt.host, sizeof opt.host, "%s", v);
		else if (ARG("--port"))
			opt.port = atoi(v);
		else if (ARG("--recv-port"))
			opt.n_recv_ports = int_list(v, opt.recv_ports, 65535);
		else if (ARG("--subs"))
			opt.subs = atoi(v);
		else if (ARG("--window"))
			opt.window = atoi(v);
		else if (ARG("--lowat"))
			opt.lowat = atoi(v);
		else if (ARG("--payload"))
			opt.payload = atoi(v);
		else if (ARG("--warmup"))
			opt.warmup = atof(v);
		else if (ARG("--duration"))
			opt.duration = atof(v);
		else if (ARG("--rate"))
			opt.rate = atof(v);
		else if (ARG("--topic"))
			opt.topic = v;
		else if (ARG("--pid"))
			opt.n_pids = int_list(v, opt.pids, 1 << 22);
		else if (ARG("--max-time"))
			opt.max_time = atoi(v);
		else if (!strcmp(a, "-v"))
			opt.verbose = 1;
		else
			usage();
#undef ARG
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.subs < 1 || opt.subs > 10000 ||
	    opt.window < 1 || opt.payload < 32 || opt.payload > 1000 || opt.duration <= 0 ||
	    opt.warmup < 0 || opt.rate < 0 || strlen(opt.topic) > 100)
		usage();
	struct in_addr ia;
	if (inet_pton(AF_INET, opt.host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127)
		die("refusing target %s: only 127.0.0.0/8 is allowed", opt.host);
	if (!opt.max_time)
		opt.max_time = (int)(opt.warmup + opt.duration + opt.drain) + 30;
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)opt.max_time);
	latency_mode = opt.rate > 0;
	if (latency_mode) {
		hist = calloc(HIST_MAX_US, sizeof *hist);
		khist = calloc(HIST_MAX_US, sizeof *khist);
		if (!hist || !khist)
			die("%s", "out of memory");
		rt_minus_mono = clock_offset();
	}

	/* connect and subscribe the receivers one by one, then the sender */
	rcv = calloc((size_t)opt.subs, sizeof *rcv);
	if (!rcv)
		die("%s", "out of memory");
	for (int i = 0; i < opt.subs; i++) {
		conn_init(&rcv[i], i);
		handshake(&rcv[i]);
	}
	conn_init(&snd, -1);
	handshake(&snd);
	int one = 1;
	setsockopt(snd.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i <= opt.subs; i++) {
		struct conn *c = i < opt.subs ? &rcv[i] : &snd;
		set_nonblock(c->fd);
		if (c != &snd && !latency_mode && opt.lowat > 0)
			setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &opt.lowat, sizeof opt.lowat);
		int tsf = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
		if (c != &snd && latency_mode)	/* not taken: no kernel figure, the rest stands */
			setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPING, &tsf, sizeof tsf);
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	if (opt.proto == P_NATS)
		nats_sync();
	int tfd = -1;
	static int tfd_tag;
	if (latency_mode) {
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (tfd < 0)
			die("timerfd_create: %s", strerror(errno));
		uint64_t per = (uint64_t)(1e9 / opt.rate);
		if (per < 1000)
			per = 1000;
		struct itimerspec its = {
			.it_interval = { .tv_sec = (time_t)(per / 1000000000u), .tv_nsec = (long)(per % 1000000000u) },
			.it_value = { .tv_sec = 0, .tv_nsec = 1000000 },
		};
		timerfd_settime(tfd, 0, &its, NULL);
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &tfd_tag };
		epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &e);
	}

	uint64_t t_start = now_ns();
	uint64_t t_win0 = t_start + (uint64_t)(opt.warmup * 1e9);
	uint64_t t_win1 = t_win0 + (uint64_t)(opt.duration * 1e9);
	uint64_t t_drain = t_win1 + (uint64_t)(opt.drain * 1e9);
	lat_from_ns = t_win0;
	lat_to_ns = t_win1;
	int phase = 0; /* 0 warm-up, 1 window, 2 drain */
	uint64_t d0 = 0, d1 = 0, s0 = 0, s1 = 0, a0 = 0, a1 = 0, r0 = 0, r1 = 0;
	double c0 = 0, c1 = 0, b0 = -1, b1 = -1;
	int sender_capped = 0;
	struct epoll_event evs[256];

	while (!fatal) {
		uint64_t t = now_ns();
		if (phase == 0 && t >= t_win0) {
			phase = 1;
			a0 = t, d0 = deliveries, s0 = sent, r0 = rx_bytes, c0 = bench_self_cpu(), b0 = brokers_cpu();
		}
		if (phase == 1 && t >= t_win1) {
			phase = 2;
			a1 = t, d1 = deliveries, s1 = sent, r1 = rx_bytes, c1 = bench_self_cpu(), b1 = brokers_cpu();
			if (tfd >= 0) {
				close(tfd); /* also leaves the epoll set */
				tfd = -1;
			}
			int lw = 1;
			for (int i = 0; i < opt.subs; i++)
				setsockopt(rcv[i].fd, SOL_SOCKET, SO_RCVLOWAT, &lw, sizeof lw);
		}
		if (phase == 2 && (slowest() >= sent || t >= t_drain))
			break;
		/* closed loop: top the sender up to WINDOW outstanding */
		if (!latency_mode && phase < 2 && snd.outoff == snd.outlen) {
			uint64_t out = sent - slowest();
			if (out < (uint64_t)opt.window) {
				uint64_t tm = now_ns();
				for (uint64_t k = out; k < (uint64_t)opt.window; k++)
					if (queue_msg(tm) < 0)
						break;
				flush_out(&snd);
			}
		}
		uint64_t next = phase == 0 ? t_win0 : phase == 1 ? t_win1 : t_drain;
		int to = (int)((next - t) / 1000000) + 1;
		if (to > 50)
			to = 50;
		int n = epoll_wait(epfd, evs, 256, to);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int k = 0; k < n && !fatal; k++) {
			if (evs[k].data.ptr == &tfd_tag) {
				uint64_t exp = 0;
				if (read(tfd, &exp, sizeof exp) != (ssize_t)sizeof exp)
					continue;
				/* one send per tick, each its own write */
				for (uint64_t e = 0; e < exp; e++) {
					if (queue_msg(now_ns()) < 0) {
						sender_capped++;
						break;
					}
					flush_out(&snd);
				}
				continue;
			}
			struct conn *c = evs[k].data.ptr;
			if (evs[k].events & EPOLLOUT)
				flush_out(c);
			if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
	}
	if (phase < 2) {
		a1 = now_ns(), d1 = deliveries, s1 = sent, r1 = rx_bytes, c1 = bench_self_cpu(), b1 = brokers_cpu();
		if (phase == 0)
			a0 = a1, d0 = d1, s0 = s1, r0 = r1, c0 = c1, b0 = b1;
	}
	/* anything still missing after the drain is lost */
	uint64_t missing = 0;
	for (int i = 0; i < opt.subs; i++)
		missing += sent - (rcv[i].next_seq - 1);
	double win = (double)(a1 - a0) / 1e9;
	if (win <= 0)
		win = 1e-9;
	double dps = (double)(d1 - d0) / win, pps = (double)(s1 - s0) / win;
	double gcpu = 100.0 * (c1 - c0) / win;
	double bcpu = (b0 >= 0 && b1 >= 0) ? 100.0 * (b1 - b0) / win : -1;
	int ok = !fatal && !lost && !reordered && !bad && !missing && !srv_errors && !sender_capped;

	printf("INFO proto=%s mode=%s subs=%d window=%d lowat=%d payload=%d rate=%.0f warmup=%.1f duration=%.1f\n",
	       proto_names[opt.proto], latency_mode ? "latency" : "saturation",
	       opt.subs, opt.window, latency_mode ? 0 : opt.lowat, opt.payload, opt.rate,
	       opt.warmup, opt.duration);
	printf("INFO window_s=%.3f sent=%" PRIu64 " deliveries=%" PRIu64 " lost=%" PRIu64
	       " missing=%" PRIu64 " reordered=%" PRIu64 " bad=%" PRIu64 " server_errors=%" PRIu64
	       " short_delivered=%" PRIu64 " acks=%" PRIu64 "%s%s\n",
	       win, sent, deliveries, lost, missing, reordered, bad, srv_errors, short_delivered, acks,
	       fatal ? " fatal=" : "", fatal ? fatal_msg : "");
	if (fatal)
		fprintf(stderr, "fanout: %s\n", fatal_msg);
	/* wire bytes: one message as sent, and what receivers read per delivery */
	printf("INFO msg_wire_bytes=%zu delivery_wire_bytes=%.1f\n", msg_bytes,
	       d1 > d0 ? (double)(r1 - r0) / (double)(d1 - d0) : 0.0);
	if (sender_capped)
		printf("INFO sender backlog hit its cap %d times (the broker could not keep up)\n", sender_capped);
	printf("RESULT ok=%d deliveries_per_s=%.0f publishes_per_s=%.0f gen_cpu=%.1f broker_cpu=%.1f",
	       ok, dps, pps, gcpu, bcpu);
	if (latency_mode)
		printf(" latency_p50_us=%" PRIu64 " latency_p99_us=%" PRIu64 " latency_mean_us=%.0f"
		       " latency_max_us=%" PRIu64 " samples=%" PRIu64,
		       pctl(0.50), pctl(0.99), hist_n ? hist_sum / (double)hist_n : 0.0, hist_max, hist_n);
	if (latency_mode && khist_n)
		printf(" latency_kernel_p50_us=%" PRIu64 " latency_kernel_p99_us=%" PRIu64 " kernel_samples=%" PRIu64,
		       pctl_of(khist, khist_n, khist_max, 0.50), pctl_of(khist, khist_n, khist_max, 0.99), khist_n);
	printf("\n");
	if (latency_mode) {
		printf("FIGURE latency_p50_us=%" PRIu64 "\n", pctl(0.50));
		printf("FIGURE latency_p99_us=%" PRIu64 "\n", pctl(0.99));
	} else {
		printf("FIGURE deliveries_per_s=%.0f\n", dps);
	}
	fflush(stdout);
	return ok ? 0 : 1;
}
