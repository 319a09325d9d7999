/* bench.c - rvturn bench: N allocations in pairs send ChannelData to each
 * other through the server at a rate and size for a duration. One side of
 * each pair sends, the other echoes; every packet carries its sequence
 * number and send time, so the sender measures round trips and the echoer
 * measures jitter (RFC 3550 A.8) on the one-way transit. With --peer, every
 * one of the N allocations sends to that address (a UDP echo such as
 * turnutils_peer, outside this process) and takes the echoes back: the load
 * turnutils_uclient -m N puts on a server, and the work it does for it.
 *
 * A tick drives the loop, not the arrivals. Each tick sends what every
 * sender's schedule has made due (one GSO send per sender; --burst packets
 * a tick, 1: a tick every period, each packet at its own time as
 * turnutils_uclient -z sends, in a plain send), then sleeps until the next
 * tick. The sockets are read lazily, every --read-every ms (rounded to
 * whole ticks; every tick while draining at the end): the sockets with input
 * from an epoll_wait, each drained with recvmmsg, what an echoer got echoed
 * in one GSO sendmmsg. Echoers are read more often when need be, so that
 * none echoes more than ECHO_BURST at once. An arrival wakes nobody, and a
 * read takes what several ticks left: the cost of a wakeup is paid once a
 * tick, and that of a receive call once a read, not once a packet. A
 * packet waits in its socket until the read, so times are the kernel's
 * receive timestamps (SO_TIMESTAMPNS), and the echoer writes into each
 * packet how long it held it, which the sender takes off the round trip.
 * SO_MEMINFO counts what our own sockets dropped, apart from what the
 * network or the server lost (read once at the end: SO_RXQ_OVFL would cost
 * a control message a packet). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "gso.h"
#include "rvturn.h"
#include "udpq.h"

#define BATCH 64                    /* messages per recvmmsg / sendmmsg */
#define GRO_BUF 65536               /* a GRO receive may hold many datagrams */
#define HDR 16                      /* seq u32 | echo hold ns u32 | send time ns u64 */
#define PAYLOAD_MAX 1400            /* --size is at most this (main.c) */
#define RTT_BUCKETS 100000          /* 10 us each, up to 1 s */
#define TICK_MIN 100000ull          /* ns between ticks: at least, */
#define TICK_MAX 20000000ull        /* and at most, unless the period is longer */
#define DRAIN_NS 500000000ull       /* after the send phase, for late echoes */
#define ECHO_BURST 64               /* echoes an echoer sends at once, at most */

struct side {
	struct client c;
};

struct pair {
	struct side a, b;               /* a sends, b echoes */
	uint64_t sent, echoed, back;
	double jitter, last_transit;
	int have_transit;
};

/* The whole run: the pairs and what they measured. */
struct bench {
	struct pair *pairs;
	int npairs;
	int peer;                       /* --peer: each "pair" is one sender, no echoer */
	struct sockaddr_storage peer_addr;
	size_t size;                    /* payload bytes, at least HDR */
	uint32_t seq;
	struct rv_udpq q;               /* the sends, batched (lib/udpq.h), BATCH of them */
	uint32_t *hist;                 /* round trips, RTT_BUCKETS of 10 us */
	uint64_t nrtt, bytes_in;
	uint64_t recv_calls;            /* recvmmsg calls: a read of a socket, or more */
	int gone;                       /* a client found the server gone: stop */
	double gone_after;              /* seconds of sending until then */
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Send times and receive times: the kernel stamps packets on CLOCK_REALTIME. */
static uint64_t wall_ns(void) { return clock_ns(CLOCK_REALTIME); }
/* The schedule: immune to clock steps. */
static uint64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static void sleep_until(uint64_t mono)
{
	struct timespec ts = { (time_t)(mono / 1000000000ull), (long)(mono % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Datagrams of PLEN bytes that one GSO send may carry. */
static size_t gso_max(size_t plen)
{
	size_t n = RV_GSO_MAX_BYTES / plen;
	return n > RV_GSO_MAX_SEGS ? RV_GSO_MAX_SEGS : n;
}

/* What the kernel dropped on FD for a full receive buffer (its sk_drops,
 * the count SO_RXQ_OVFL reports), or 0 when it does not say. */
static uint32_t socket_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof mem;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len < (SK_MEMINFO_DROPS + 1) * sizeof mem[0])
		return 0;
	return mem[SK_MEMINFO_DROPS];
}

/* 0 when both sides of P have an allocation and a channel to the other
 * (with --peer: P's sender one to the peer, and no echoer), else the exit
 * status (client_exit) after saying why. */
static int setup_pair(struct opts *o, struct bench *b, struct pair *p, const struct client *auth)
{
	char addr[128];
	struct side *s[2] = { &p->a, &p->b };
	p->b.c.fd = -1;
	for (int i = 0; i < (b->peer ? 1 : 2); i++) {
		if (client_open(&s[i]->c, o, TR_UDP, addr, sizeof addr) < 0) {
			rv_say_error("bench: %s", s[i]->c.err);
			return client_exit(&s[i]->c);
		}
		client_share_auth(&s[i]->c, auth);
		if (turn_allocate(&s[i]->c, 1) != 1) {
			rv_say_error("bench: allocate: %s", s[i]->c.err);
			return client_exit(&s[i]->c);
		}
		int one = 1, big = 4 << 20;
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
		rv_gro_enable(s[i]->c.fd);	/* optional */
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	}
	struct client *failed = b->peer ? (turn_bind(&p->a.c, 0x4000, &b->peer_addr) != 1 ? &p->a.c : NULL) :
				turn_bind(&p->a.c, 0x4000, &p->b.c.relayed) != 1 ? &p->a.c :
				turn_bind(&p->b.c, 0x4000, &p->a.c.relayed) != 1 ? &p->b.c : NULL;
	if (failed) {
		rv_say_error("bench: channel bind: %s%s", failed->err,
			     failed->err_code == 403 ? " (coturn: --allow-loopback-peers)" : "");
		return client_exit(failed);
	}
	return 0;
}

/* An error ERR (an errno) on a bench socket during the run: an ICMP
 * unreachable says the server went away (c->lost); others (a full socket)
 * only cost packets. */
static void socket_error(struct bench *b, struct client *c, int err)
{
	if (!c->lost && udp_unreachable(err, &c->server, 1, c->err, sizeof c->err))
		c->lost = b->gone = 1;
}

/* The sender of P sends until it has sent TARGET packets: GSO sends of up to
 * gso_max() datagrams (the queue sends them one by one on a kernel without
 * GSO), each stamped with the time of its send; one packet due (--burst 1,
 * on time) goes in a plain send. A full socket ends it early; the next tick
 * catches up. */
static void send_due(struct bench *b, struct pair *p, uint64_t target)
{
	static uint8_t sbuf[RV_GSO_MAX_SEGS * (4 + PAYLOAD_MAX)];
	static uint8_t frame[PAYLOAD_MAX];	/* the payload: HDR, then zeros */
	size_t plen = 4 + b->size;
	while (p->sent < target) {
		uint64_t due = target - p->sent;
		size_t nb = gso_max(plen);
		if (nb > due)
			nb = (size_t)due;
		uint64_t t = wall_ns();
		for (size_t k = 0; k < nb; k++) {
			put32(frame, b->seq++);
			put32(frame + 4, 0);	/* the echoer's hold */
			put64(frame + 8, t);
			rv_channel_data_build(sbuf + k * plen, plen, 0x4000, frame, b->size, 0);
			if (nb > 1)
				rv_udpq_add(&b->q, NULL, NULL, 0, sbuf + k * plen, plen);
		}
		size_t sent;
		int err;
		if (nb > 1) {
			sent = rv_udpq_flush(&b->q, p->a.c.fd);
			err = b->q.last_err;
		} else {
			ssize_t r;
			while ((r = send(p->a.c.fd, sbuf, plen, MSG_DONTWAIT)) < 0 && errno == EINTR)
				;
			sent = r >= 0;
			err = r < 0 ? errno : 0;
		}
		p->sent += sent;
		if (sent < nb) {
			socket_error(b, &p->a.c, err);
			return;	/* the socket is full: catch up next tick */
		}
	}
}

/* One received packet D, which arrived at RX (wall clock): the echoer's
 * jitter on the one-way transit, or the sender's round trip less the time
 * the echoer held the packet. */
static void account(struct bench *b, struct pair *p, int echo, const uint8_t *d, uint64_t rx)
{
	uint64_t sent_at = get64(d + 8);
	if (echo) {
		double transit = (double)(int64_t)(rx - sent_at) / 1e6;
		if (p->have_transit) {
			double dd = transit - p->last_transit;
			p->jitter += ((dd < 0 ? -dd : dd) - p->jitter) / 16.0;
		}
		p->last_transit = transit;
		p->have_transit = 1;
		p->echoed++;
	} else {
		p->back++;
		uint64_t ns = rx - sent_at - get32(d + 4);
		uint64_t us = (int64_t)ns < 0 ? 0 : ns / 1000;
		size_t k = us / 10 < RTT_BUCKETS ? (size_t)(us / 10) : RTT_BUCKETS - 1;
		b->hist[k]++;
		b->nrtt++;
	}
}

/* Send back the N buffers in IOV, as they came: SEG[i] is the datagram size
 * within buffer i (less than its length when GRO joined several). Runs of
 * equal datagrams go in one GSO send each, all of them in one sendmmsg
 * (lib/udpq.h); what a full socket refuses is lost. */
static void echo_back(struct bench *b, int fd, struct iovec *iov, const size_t *seg, int n)
{
	for (int i = 0; i < n; i++)
		rv_udpq_add_burst(&b->q, NULL, NULL, 0, iov[i].iov_base, iov[i].iov_len, seg[i]);
	rv_udpq_flush(&b->q, fd);
}

/* Read everything waiting on a side of P, the echoer's when ECHO: account
 * each packet and, on the echoer, write the hold time into it and send it
 * back. With UDP GRO, a buffer may hold several datagrams of one size (the
 * cmsg says which). */
static void drain(struct bench *b, struct pair *p, int echo)
{
	struct side *s = echo ? &p->b : &p->a;
	static uint8_t bufs[BATCH][GRO_BUF];
	static uint8_t ctl[BATCH][128];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	size_t seg[BATCH];
	for (int i = 0; i < BATCH; i++)
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = ctl[i] };
	for (int used = BATCH;;) {
		for (int i = 0; i < used; i++) {	/* what the last batch changed */
			iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
			msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
		}
		int n = recvmmsg(s->c.fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		b->recv_calls++;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				socket_error(b, &s->c, errno);
			return;
		}
		used = n;
		uint64_t now = wall_ns();	/* the echo's send time */
		for (int i = 0; i < n; i++) {
			size_t total = msgs[i].msg_len;
			uint64_t rx = now;	/* if the kernel did not stamp it */
			seg[i] = rv_gro_segment(&msgs[i].msg_hdr, total);
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(cm), sizeof ts);
					rx = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
				}
			}
			uint64_t held = now > rx ? now - rx : 0;
			for (size_t o = 0; o < total; o += seg[i]) {
				uint16_t ch;
				const uint8_t *d;
				size_t len, l = total - o < seg[i] ? total - o : seg[i];
				if (rv_channel_data_parse(bufs[i] + o, l, &ch, &d, &len, NULL) < 0 || len < HDR)
					continue;
				b->bytes_in += len;
				account(b, p, echo, d, rx);
				if (echo)	/* the payload's hold field */
					put32(bufs[i] + o + 4 + 4, held > UINT32_MAX ? UINT32_MAX : (uint32_t)held);
			}
			iov[i].iov_len = total;
		}
		if (echo)
			echo_back(b, s->c.fd, iov, seg, n);
		if (n < BATCH)
			return;	/* a short batch emptied the socket */
	}
}

static double percentile(const uint32_t *hist, uint64_t n, double q)
{
	uint64_t want = (uint64_t)((double)n * q), seen = 0;
	for (size_t i = 0; i < RTT_BUCKETS; i++) {
		seen += hist[i];
		if (seen > want)
			return (double)i * 10 / 1000.0;	/* ms */
	}
	return 0;
}

/* Send for o->duration, then drain for up to DRAIN_NS: the tick loop. */
static int run(struct bench *b, const struct opts *o)
{
	int nfd = b->npairs;
	struct epoll_event *evs = calloc((size_t)nfd, sizeof *evs);
	int ep = epoll_create1(EPOLL_CLOEXEC), ep_echo = epoll_create1(EPOLL_CLOEXEC);
	if (!evs || ep < 0 || ep_echo < 0) {
		free(evs);
		if (ep >= 0)
			close(ep);
		if (ep_echo >= 0)
			close(ep_echo);
		return -1;
	}
	for (int i = 0; i < b->npairs; i++) {	/* the senders in EP, the echoers in EP_ECHO */
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, b->pairs[i].a.c.fd, &ev);
		if (!b->peer)
			epoll_ctl(ep_echo, EPOLL_CTL_ADD, b->pairs[i].b.c.fd, &ev);
	}
	/* Each sender's schedule: packet k is due at start + k * period, for
	 * start + k * period < end: total packets in all. A tick carries
	 * o->burst periods; with more than one it stays between TICK_MIN and
	 * TICK_MAX (or the period, when that is longer): a sender sends in
	 * bursts, like a video source sending a frame's packets; longer ticks
	 * cost less CPU per packet but make the server queue longer bursts
	 * (and the round trip grows). At a high rate the tick shrinks rather
	 * than the burst grows: a server with small receive buffers (coturn's
	 * relay sockets hold 128 KB, some 150 packets of 160 bytes) drops what
	 * a longer burst brings faster than it reads. With --burst 1 the tick is the period:
	 * one packet a sender a tick. The last tick falls on the end, so that
	 * the whole schedule goes out. */
	uint64_t start = mono_ns(), span = (uint64_t)(o->duration * 1e9), end = start + span;
	uint64_t period = 1000000000ull / o->rate, total = (span + period - 1) / period;
	uint64_t tick = (o->burst ? o->burst : 1) * period;
	if (o->burst > 1 && tick < TICK_MIN)
		tick = TICK_MIN;
	if (o->burst > 1 && tick > TICK_MAX)
		tick = period > TICK_MAX ? period : TICK_MAX;
	/* The sockets are read every EVERY ticks, about o->read_ms apart
	 * (every tick while draining): what waits there meanwhile costs
	 * nothing, and the kernel's receive times keep the wait out of the
	 * figures. An echoer's echoes are a burst too: echoers are read
	 * every ECHO_EVERY ticks (at most EVERY), so that one holds at most
	 * ECHO_BURST packets. */
	uint64_t every = (uint64_t)o->read_ms * 1000000ull / tick, ticks = 0;
	uint64_t echo_every = ECHO_BURST * period / tick;
	if (echo_every > every)
		echo_every = every;
	uint64_t next = start, stop = end + DRAIN_NS;
	int sending = 1;
	for (;;) {
		uint64_t now = mono_ns();
		ticks++;
		int reading = !sending || every <= 1 || ticks % every == 0;
		int echoing = !b->peer && (reading || echo_every <= 1 || ticks % echo_every == 0);
		if (sending) {
			uint64_t target = (now - start) / period + 1;
			for (int i = 0; i < b->npairs; i++)
				send_due(b, &b->pairs[i], target < total ? target : total);
			sending = now < end;
		}
		int n = echoing ? epoll_wait(ep_echo, evs, nfd, 0) : 0;
		for (int k = 0; k < n; k++)
			drain(b, &b->pairs[evs[k].data.u32], 1);
		n = reading ? epoll_wait(ep, evs, nfd, 0) : 0;
		for (int k = 0; k < n; k++)
			drain(b, &b->pairs[evs[k].data.u32], 0);
		if (b->gone) {
			b->gone_after = (double)(now - start) / 1e9;
			break;	/* cmd_bench says why */
		}
		if (!sending) {
			uint64_t sent = 0, echoed = 0, back = 0;
			for (int i = 0; i < b->npairs; i++) {
				sent += b->pairs[i].sent;
				echoed += b->pairs[i].echoed;
				back += b->pairs[i].back;
			}
			if (now >= stop || ((b->peer || echoed == sent) && back == sent))
				break;	/* everything came back: nothing left to wait for */
		}
		next += tick;
		if (next <= now)	/* late: the next tick of the schedule, so that a
					 * tick still finds one period's packets due */
			next = start + ((now - start) / tick + 1) * tick;
		if (sending && next > end)
			next = end;
		sleep_until(next);
	}
	close(ep);
	close(ep_echo);
	free(evs);
	return 0;
}

int cmd_bench(struct opts *o)
{
	struct bench b = { 0 };
	if (o->lifetime && o->duration + 10 > o->lifetime) {
		rv_say_error("--duration %.0f s outlives --lifetime %u s: a run does not refresh its allocations",
			     o->duration, o->lifetime);
		return RV_EXIT_USAGE;
	}
	b.peer = o->peer != NULL;
	if (b.peer && addr_parse(o->peer, &b.peer_addr) < 0) {
		rv_say_error("bench: --peer %s: expected IP:PORT", o->peer);
		return RV_EXIT_USAGE;
	}
	b.npairs = b.peer ? (int)o->clients : o->clients / 2 < 1 ? 1 : (int)(o->clients / 2);
	b.size = o->size < HDR ? HDR : o->size;
	struct client auth;
	char addr[128];
	/* learn realm and nonce once */
	if (client_open(&auth, o, TR_UDP, addr, sizeof addr) < 0 || turn_allocate(&auth, 1) != 1) {
		rv_say_error("%s", auth.err);
		client_close(&auth);
		return client_exit(&auth);
	}
	turn_refresh(&auth, 0);
	b.pairs = calloc((size_t)b.npairs, sizeof *b.pairs);
	b.hist = calloc(RTT_BUCKETS, sizeof *b.hist);
	if (!b.pairs || !b.hist)
		return RV_EXIT_FAIL;
	for (int i = 0; i < b.npairs; i++) {
		int rc = setup_pair(o, &b, &b.pairs[i], &auth);
		if (rc) {
			client_close(&auth);
			return rc;
		}
	}
	client_close(&auth);
	if (b.peer)
		rv_say_info("bench: %d allocations ready, sending to %s, %u packets/s each, %u bytes, %.0f s", b.npairs,
			    o->peer, o->rate, o->size, o->duration);
	else
		rv_say_info("bench: %d pairs ready, %u packets/s each, %u bytes, %.0f s", b.npairs, o->rate, o->size,
			    o->duration);

	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	if (rv_udpq_init(&b.q, BATCH) < 0 || run(&b, o) < 0)
		return RV_EXIT_FAIL;
	getrusage(RUSAGE_SELF, &ru1);
	double secs = b.gone && b.gone_after > 0 && b.gone_after < o->duration ? b.gone_after : o->duration;
	uint64_t sent = 0, echoed = 0, back = 0, drops = 0;
	double jitter = 0;
	const struct client *gone = NULL;	/* one that found the server gone */
	for (int i = 0; i < b.npairs; i++) {
		struct pair *p = &b.pairs[i];
		sent += p->sent;
		echoed += p->echoed;
		back += p->back;
		jitter += p->jitter;
		drops += socket_drops(p->a.c.fd) + socket_drops(p->b.c.fd);
		struct client *sides[2] = { &p->a.c, &p->b.c };
		for (int k = 0; k < (b.peer ? 1 : 2); k++) {
			if (!sides[k]->lost)
				turn_refresh(sides[k], 0);	/* delete the allocation */
			else if (!gone)
				gone = sides[k];
		}
	}
	jitter /= b.npairs;
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	uint64_t relayed = echoed + back;	/* packets the server delivered to us */
	uint64_t legs = b.peer ? sent : 2 * sent;	/* there and back: the peer's leg is not ours to see */
	double loss = sent ? 100.0 * (double)(legs - relayed) / (double)legs : 0;
	int clients = b.peer ? b.npairs : b.npairs * 2;
	double p50 = percentile(b.hist, b.nrtt, 0.50), p99 = percentile(b.hist, b.nrtt, 0.99);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "clients", clients);
		cJSON_AddBoolToObject(j, "peer", b.peer);
		cJSON_AddNumberToObject(j, "rate", o->rate);
		cJSON_AddNumberToObject(j, "size", (double)b.size);
		cJSON_AddNumberToObject(j, "duration_s", secs);
		cJSON_AddNumberToObject(j, "sent", (double)sent);
		cJSON_AddNumberToObject(j, "relayed", (double)relayed);
		cJSON_AddNumberToObject(j, "relayed_pps", (double)relayed / secs);
		cJSON_AddNumberToObject(j, "goodput_bps", (double)b.bytes_in * 8 / secs);
		cJSON_AddNumberToObject(j, "rtt_p50_ms", p50);
		cJSON_AddNumberToObject(j, "rtt_p99_ms", p99);
		if (!b.peer)
			cJSON_AddNumberToObject(j, "jitter_ms", jitter);
		cJSON_AddNumberToObject(j, "loss_pct", loss);
		cJSON_AddNumberToObject(j, "own_socket_drops", (double)drops);
		cJSON_AddNumberToObject(j, "recv_calls", (double)b.recv_calls);
		cJSON_AddNumberToObject(j, "cpu_s", cpu);
		cJSON_AddNumberToObject(j, "cpu_us_per_packet", relayed + sent ? cpu * 1e6 / (double)(relayed + sent) : 0);
		rv_out_obj(j);
	} else {
		if (b.peer)
			rv_out_line("clients %d, each to the peer %s, %u packets/s each, %zu bytes, %.0f s", clients, o->peer,
				    o->rate, b.size, secs);
		else
			rv_out_line("clients %d (%d pairs), %u packets/s each, %zu bytes, %.0f s", clients, b.npairs,
				    o->rate, b.size, secs);
		rv_out_line("sent %llu, relayed back %llu (%.0f packets/s), goodput %.2f Mbit/s",
			    (unsigned long long)sent, (unsigned long long)relayed, (double)relayed / secs,
			    (double)b.bytes_in * 8 / secs / 1e6);
		if (b.peer)	/* the jitter is the echoer's to measure: the peer's here */
			rv_out_line("round trip p50 %.3f ms, p99 %.3f ms", p50, p99);
		else
			rv_out_line("round trip p50 %.3f ms, p99 %.3f ms; jitter %.3f ms", p50, p99, jitter);
		rv_out_line("loss %.3f%%; our own socket drops %llu (not the server's)", loss, (unsigned long long)drops);
		rv_out_line("rvturn CPU %.3f s: %.2f us per packet sent or received", cpu,
			    relayed + sent ? cpu * 1e6 / (double)(relayed + sent) : 0);
	}
	int rc = sent && relayed ? 0 : RV_EXIT_FAIL;
	if (gone) {	/* the results so far, then why they stop short */
		rv_say_error("bench: %s", gone->err);
		rc = client_exit(gone);
	}
	for (int i = 0; i < b.npairs; i++) {
		client_close(&b.pairs[i].a.c);
		client_close(&b.pairs[i].b.c);
	}
	rv_udpq_free(&b.q);
	free(b.hist);
	free(b.pairs);
	return rc;
}
