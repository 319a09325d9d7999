/* bench.c - rvturn bench: N allocations in pairs send ChannelData to each
 * other through the server at a rate and size for a duration. One side of
 * each pair sends, the other echoes; every packet carries its sequence
 * number and send time, so the sender measures round trips and the echoer
 * measures jitter (RFC 3550 A.8) on the one-way transit. Sockets are
 * drained with recvmmsg and fed with sendmmsg; SO_RXQ_OVFL counts what our
 * own sockets dropped, apart from what the network or the server lost. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "rvturn.h"

#define BATCH 64
#define GSO_MAX 40                  /* datagrams per GSO send (< 64 KiB) */
#define GRO_BUF 65536               /* a GRO receive may hold many datagrams */
#define HDR 16                      /* seq u32 | pair u32 | send time ns u64 */
#define RTT_BUCKETS 100000          /* 10 us each, up to 1 s */

struct side {
	struct client c;
	uint32_t drops;                 /* SO_RXQ_OVFL: the kernel's count */
};

struct pair {
	struct side a, b;               /* a sends, b echoes */
	uint64_t sent, echoed, back;
	double jitter, last_transit;
	int have_transit;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int setup_pair(struct opts *o, struct pair *p, const struct client *auth)
{
	char addr[128];
	struct side *s[2] = { &p->a, &p->b };
	for (int i = 0; i < 2; i++) {
		if (client_open(&s[i]->c, o, TR_UDP, addr, sizeof addr) < 0)
			return -1;
		client_share_auth(&s[i]->c, auth);
		if (turn_allocate(&s[i]->c, 1) != 1) {
			fprintf(stderr, "rvturn: bench: allocate: %s\n", s[i]->c.err);
			return -1;
		}
		int one = 1, big = 4 << 20;
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
		setsockopt(s[i]->c.fd, SOL_UDP, UDP_GRO, &one, sizeof one);	/* optional */
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		setsockopt(s[i]->c.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	}
	if (turn_bind(&p->a.c, 0x4000, &p->b.c.relayed) != 1 ||
	    turn_bind(&p->b.c, 0x4000, &p->a.c.relayed) != 1) {
		fprintf(stderr, "rvturn: bench: channel bind: %s%s\n", p->a.c.err[0] ? p->a.c.err : p->b.c.err,
			p->a.c.err_code == 403 || p->b.c.err_code == 403 ? " (coturn: --allow-loopback-peers)" : "");
		return -1;
	}
	return 0;
}

/* One received packet: the echoer's jitter, or the sender's round trip. */
static void account(struct pair *p, int echo, const uint8_t *d, uint64_t now, uint32_t *hist,
		    uint64_t *nrtt)
{
	uint64_t sent_at = get64(d + 8);
	if (echo) {
		double transit = (double)(now - sent_at) / 1e6;
		if (p->have_transit) {
			double dd = transit - p->last_transit;
			p->jitter += ((dd < 0 ? -dd : dd) - p->jitter) / 16.0;
		}
		p->last_transit = transit;
		p->have_transit = 1;
		p->echoed++;
	} else {
		p->back++;
		uint64_t us = (now - sent_at) / 1000;
		size_t b = us / 10 < RTT_BUCKETS ? (size_t)(us / 10) : RTT_BUCKETS - 1;
		hist[b]++;
		(*nrtt)++;
	}
}

/* Read everything waiting on S: echo (ECHO) or account the round trip.
 * With UDP GRO, one buffer may hold several datagrams of one size (the
 * cmsg says which): they are walked one by one and echoed back in one
 * GSO send. */
static void drain(struct pair *p, struct side *s, int echo, uint32_t *hist, uint64_t *nrtt,
		  uint64_t *bytes_in)
{
	static uint8_t bufs[BATCH][GRO_BUF];
	static uint8_t ctl[BATCH][64], octl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
			msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
							   .msg_control = ctl[i], .msg_controllen = sizeof ctl[i] };
		}
		int n = recvmmsg(s->c.fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		int more = n == BATCH;	/* a short batch emptied the socket */
		uint64_t now = mono_ns();
		struct mmsghdr out[BATCH];
		struct iovec oiov[BATCH];
		int nout = 0;
		for (int i = 0; i < n; i++) {
			size_t total = msgs[i].msg_len, seg = total;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
					memcpy(&s->drops, CMSG_DATA(cm), 4);
				if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
					int g;
					memcpy(&g, CMSG_DATA(cm), sizeof g);
					if (g > 0)
						seg = (size_t)g;
				}
			}
			for (size_t o = 0; o < total; o += seg) {
				uint16_t ch;
				const uint8_t *d;
				size_t len, l = total - o < seg ? total - o : seg;
				if (rv_channel_data_parse(bufs[i] + o, l, &ch, &d, &len, NULL) < 0 || len < HDR)
					continue;
				*bytes_in += len;
				account(p, echo, d, now, hist, nrtt);
			}
			if (!echo)
				continue;
			/* the same datagrams go back as they came */
			oiov[nout] = (struct iovec){ bufs[i], total };
			out[nout].msg_hdr = (struct msghdr){ .msg_iov = &oiov[nout], .msg_iovlen = 1 };
			if (seg < total) {
				out[nout].msg_hdr.msg_control = octl[nout];
				out[nout].msg_hdr.msg_controllen = sizeof octl[nout];
				struct cmsghdr *cm = CMSG_FIRSTHDR(&out[nout].msg_hdr);
				cm->cmsg_level = SOL_UDP;
				cm->cmsg_type = UDP_SEGMENT;
				cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				uint16_t sz = (uint16_t)seg;
				memcpy(CMSG_DATA(cm), &sz, sizeof sz);
			}
			nout++;
		}
		if (nout)
			sendmmsg(s->c.fd, out, (unsigned)nout, MSG_DONTWAIT);
		if (!more)
			return;
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

int cmd_bench(struct opts *o)
{
	int npairs = o->clients / 2;
	if (npairs < 1)
		npairs = 1;
	struct client auth;
	char addr[128];
	/* learn realm and nonce once */
	if (client_open(&auth, o, TR_UDP, addr, sizeof addr) < 0 || turn_allocate(&auth, 1) != 1) {
		rv_say_error("%s", auth.err);
		client_close(&auth);
		return auth.unreachable ? RV_EXIT_CONNECT : auth.err_code == 401 ? RV_EXIT_DENIED :
		       auth.timed_out ? RV_EXIT_TIMEOUT : RV_EXIT_FAIL;
	}
	turn_refresh(&auth, 0);
	struct pair *pairs = calloc((size_t)npairs, sizeof *pairs);
	uint32_t *hist = calloc(RTT_BUCKETS, sizeof *hist);
	if (!pairs || !hist)
		return RV_EXIT_FAIL;
	for (int i = 0; i < npairs; i++)
		if (setup_pair(o, &pairs[i], &auth) < 0) {
			client_close(&auth);
			return RV_EXIT_FAIL;
		}
	client_close(&auth);
	rv_say_info("bench: %d pairs ready, %u packets/s each, %u bytes, %.0f s", npairs, o->rate, o->size, o->duration);

	size_t size = o->size < HDR ? HDR : o->size;
	uint8_t *frame = calloc(1, size + 4);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t start = mono_ns(), end = start + (uint64_t)(o->duration * 1e9);
	uint64_t period = o->rate ? 1000000000ull / o->rate : 0, nrtt = 0, bytes_in = 0;
	/* Sending wakes up every TICK: about eight packets per pair, between 5
	 * and 20 ms (or the period, when it is longer), so that each sendmmsg
	 * carries several packets; in between, epoll waits for what the server
	 * relays, so nothing spins. */
	uint64_t tick = 8 * period;
	if (tick < 5000000)
		tick = 5000000;
	if (tick > 20000000)
		tick = period > 20000000 ? period : 20000000;
	uint64_t next_tick = start;
	int gso = 1;
	uint32_t seq = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; ep >= 0 && i < npairs; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i << 1 };
		epoll_ctl(ep, EPOLL_CTL_ADD, pairs[i].a.c.fd, &ev);
		ev.data.u32 |= 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, pairs[i].b.c.fd, &ev);
	}
	if (ep < 0)
		return RV_EXIT_FAIL;
	uint64_t drain_until = end + 500000000ull;	/* half a second for late echoes */
	for (;;) {
		uint64_t now = mono_ns();
		if (now >= drain_until)
			break;
		/* each pair catches up with its schedule in one sendmmsg */
		if (now >= next_tick && now < end && period) {
			uint64_t target = (now - start) / period + 1;
			for (int i = 0; i < npairs; i++) {
				uint64_t due = target > pairs[i].sent ? target - pairs[i].sent : 0;
				while (due > 0) {	/* one GSO send carries up to GSO_MAX datagrams */
					static uint8_t sbuf[GSO_MAX * 1500];
					size_t plen = 4 + size, nb = due > GSO_MAX ? GSO_MAX : (size_t)due;
					uint64_t t = mono_ns();
					for (size_t k = 0; k < nb; k++) {
						put32(frame, seq++);
						put32(frame + 4, (uint32_t)i);
						put64(frame + 8, t);
						rv_channel_data_build(sbuf + k * plen, plen, 0x4000, frame, size, 0);
					}
					uint8_t cbuf[CMSG_SPACE(sizeof(uint16_t))];
					struct iovec v = { sbuf, nb * plen };
					struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };
					if (nb > 1 && gso) {
						mh.msg_control = cbuf;
						mh.msg_controllen = sizeof cbuf;
						struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
						cm->cmsg_level = SOL_UDP;
						cm->cmsg_type = UDP_SEGMENT;
						cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
						uint16_t sz = (uint16_t)plen;
						memcpy(CMSG_DATA(cm), &sz, sizeof sz);
					} else {
						nb = 1;
						v.iov_len = plen;
					}
					if (sendmsg(pairs[i].a.c.fd, &mh, MSG_DONTWAIT) < 0) {
						if (errno == EIO || errno == EINVAL)
							gso = 0;	/* no GSO here: one datagram a call */
						break;	/* the socket is full: catch up next tick */
					}
					pairs[i].sent += nb;
					due -= nb;
				}
			}
			next_tick += tick;
			if (next_tick <= now)
				next_tick = now + tick;
		}
		now = mono_ns();
		uint64_t wait_ns = now < end && period ? (next_tick > now ? next_tick - now : 0) : 10000000;
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, (int)((wait_ns + 999999) / 1000000));	/* rounded up */
		for (int k = 0; k < n; k++) {
			struct pair *p = &pairs[evs[k].data.u32 >> 1];
			int echo = evs[k].data.u32 & 1;
			drain(p, echo ? &p->b : &p->a, echo, hist, &nrtt, &bytes_in);
		}
	}
	close(ep);
	getrusage(RUSAGE_SELF, &ru1);
	double secs = o->duration;
	uint64_t sent = 0, echoed = 0, back = 0, drops = 0;
	double jitter = 0;
	for (int i = 0; i < npairs; i++) {
		sent += pairs[i].sent;
		echoed += pairs[i].echoed;
		back += pairs[i].back;
		jitter += pairs[i].jitter;
		drops += pairs[i].a.drops + pairs[i].b.drops;
		turn_refresh(&pairs[i].a.c, 0);
		turn_refresh(&pairs[i].b.c, 0);
		client_close(&pairs[i].a.c);
		client_close(&pairs[i].b.c);
	}
	jitter /= npairs;
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	uint64_t relayed = echoed + back;	/* packets the server delivered to us */
	double loss = sent ? 100.0 * (double)(2 * sent - relayed) / (double)(2 * sent) : 0;
	double p50 = percentile(hist, nrtt, 0.50), p99 = percentile(hist, nrtt, 0.99);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "clients", npairs * 2);
		cJSON_AddNumberToObject(j, "rate", o->rate);
		cJSON_AddNumberToObject(j, "size", (double)size);
		cJSON_AddNumberToObject(j, "duration_s", secs);
		cJSON_AddNumberToObject(j, "sent", (double)sent);
		cJSON_AddNumberToObject(j, "relayed", (double)relayed);
		cJSON_AddNumberToObject(j, "relayed_pps", (double)relayed / secs);
		cJSON_AddNumberToObject(j, "goodput_bps", (double)bytes_in * 8 / secs);
		cJSON_AddNumberToObject(j, "rtt_p50_ms", p50);
		cJSON_AddNumberToObject(j, "rtt_p99_ms", p99);
		cJSON_AddNumberToObject(j, "jitter_ms", jitter);
		cJSON_AddNumberToObject(j, "loss_pct", loss);
		cJSON_AddNumberToObject(j, "own_socket_drops", (double)drops);
		cJSON_AddNumberToObject(j, "cpu_s", cpu);
		cJSON_AddNumberToObject(j, "cpu_us_per_packet", relayed + sent ? cpu * 1e6 / (double)(relayed + sent) : 0);
		rv_out_obj(j);
	} else {
		rv_out_line("clients %d (%d pairs), %u packets/s each, %zu bytes, %.0f s", npairs * 2, npairs,
			    o->rate, size, secs);
		rv_out_line("sent %llu, relayed back %llu (%.0f packets/s), goodput %.2f Mbit/s",
			    (unsigned long long)sent, (unsigned long long)relayed, (double)relayed / secs,
			    (double)bytes_in * 8 / secs / 1e6);
		rv_out_line("round trip p50 %.3f ms, p99 %.3f ms; jitter %.3f ms", p50, p99, jitter);
		rv_out_line("loss %.3f%%; our own socket drops %llu (not the server's)", loss, (unsigned long long)drops);
		rv_out_line("rvturn CPU %.3f s: %.2f us per packet sent or received", cpu,
			    relayed + sent ? cpu * 1e6 / (double)(relayed + sent) : 0);
	}
	free(frame);
	free(hist);
	free(pairs);
	return sent && relayed ? 0 : RV_EXIT_FAIL;
}
