/* rtpin.c - rvrecv --sdp: one m= section's RTP and RTCP ports. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "cli.h"
#include "err.h"
#include "rtp.h"
#include "rtpin.h"


/* A UDP socket on PORT: on ADDR when it is a loopback address (the SDP's
 * own), else on any address. The socket, or a negative errno. */
static int listen_udp(const char *addr, int v6, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1 || !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			s6->sin6_addr = in6addr_any;
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1 || (ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		sl = sizeof *s4;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int rtpin_open(struct rtpin *t, const struct rtpin_conf *c, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	t->kind = c->kind;
	t->rtp_fd = t->rtcp_fd = -1;
	t->clk.clock = c->clock;
	if (c->suite) {
		int suite = rv_srtp_suite(c->suite);
		if (!suite || rv_srtp_new(&t->srtp, suite, c->key, 0) < 0) {
			snprintf(err, errlen, "unusable a=crypto for %s (%s; AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM work)",
				 c->kind, c->suite[0] ? c->suite : "no suite");
			return RV_EPROTO;
		}
	}
	if (jitter_init(&t->jb, c->hold_ms, c->deliver, c->ud) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (c->port == 0)	/* the packets come through rtpin_packet */
		return 0;
	t->rtp_fd = listen_udp(c->addr, c->v6, c->port);
	if (t->rtp_fd < 0) {
		snprintf(err, errlen, "cannot listen on %s port %d for %s: %s", c->addr, c->port, c->kind,
			 strerror(-t->rtp_fd));
		return t->rtp_fd;
	}
	t->rtcp_fd = c->port < 65535 ? listen_udp(c->addr, c->v6, c->port + 1) : -EINVAL;
	if (t->rtcp_fd < 0)
		rv_say_info("no RTCP for %s: cannot listen on port %d: %s", c->kind, c->port + 1, strerror(-t->rtcp_fd));
	return 0;
}

int rtpin_pollfds(const struct rtpin *t, struct pollfd *pf)
{
	int n = 0;
	if (t->rtp_fd >= 0)
		pf[n++] = (struct pollfd){ t->rtp_fd, POLLIN, 0 };
	if (t->rtcp_fd >= 0)
		pf[n++] = (struct pollfd){ t->rtcp_fd, POLLIN, 0 };
	return n;
}

/* The first sender report of the section's source places its clock. */
static void on_rtcp(struct rtpin *t, uint8_t *p, size_t n)
{
	if (t->srtp && rv_srtp_unprotect(t->srtp, p, &n) < 0) {
		t->unauth++;
		return;
	}
	struct rv_rtcp c;
	struct rv_rtcp_sr sr;
	size_t off = 0;
	while (rv_rtcp_next(p, n, &off, &c) == 1) {
		if (c.type != RV_RTCP_SR || rv_rtcp_parse_sr(&c, &sr) < 0)
			continue;
		if (t->clk.have_sr || (t->clk.have_first && sr.ssrc != t->ssrc))
			continue;	/* later reports would jitter the line-up */
		t->reports++;
		t->clk.have_sr = 1;
		t->sr_ssrc = sr.ssrc;
		t->clk.sr_rtp = sr.rtp_ts;
		t->clk.sr_us = rv_ntp_unix_us(sr.ntp);
	}
}

/* An RTP packet: decrypted, noted when it is the first, to the jitter buffer. */
static int on_rtp(struct rtpin *t, uint8_t *p, size_t n, double now_ms)
{
	struct rv_rtp r;
	if (t->srtp && rv_srtp_unprotect(t->srtp, p, &n) < 0) {
		t->unauth++;
		return 0;
	}
	if (rv_rtp_parse(p, n, &r) < 0)
		return 0;
	if (!t->clk.have_first) {
		t->clk.have_first = 1;
		t->clk.first_rtp = r.ts;
		t->clk.first_us = (int64_t)(now_ms * 1000);
		t->ssrc = r.ssrc;
		if (t->clk.have_sr && t->sr_ssrc != r.ssrc)
			t->clk.have_sr = 0;	/* a report of another source */
	}
	jitter_push(&t->jb, p, n, now_ms);
	return 1;
}

int rtpin_packet(struct rtpin *t, uint8_t *p, size_t n, int rtcp, double now_ms)
{
	if (rtcp || rv_rtp_is_rtcp(p, n)) {	/* RTCP on the RTP port too (RFC 5761) */
		if (rv_rtp_is_rtcp(p, n))
			on_rtcp(t, p, n);
		return 0;
	}
	return on_rtp(t, p, n, now_ms);
}

int rtpin_read(struct rtpin *t, double now_ms)
{
	uint8_t pkt[JITTER_PKT + RV_SRTP_MAX_TRAILER];
	ssize_t r;
	int got = 0;
	while (t->rtp_fd >= 0 && (r = recv(t->rtp_fd, pkt, sizeof pkt, MSG_DONTWAIT)) > 0)
		got |= rtpin_packet(t, pkt, (size_t)r, 0, now_ms);
	while (t->rtcp_fd >= 0 && (r = recv(t->rtcp_fd, pkt, sizeof pkt, MSG_DONTWAIT)) > 0)
		rtpin_packet(t, pkt, (size_t)r, 1, now_ms);
	return got;
}

void rtpin_close(struct rtpin *t)
{
	if (t->rtp_fd >= 0)
		close(t->rtp_fd);
	if (t->rtcp_fd >= 0)
		close(t->rtcp_fd);
	t->rtp_fd = t->rtcp_fd = -1;
	jitter_free(&t->jb);
	rv_srtp_free(t->srtp);
	t->srtp = NULL;
}

int64_t rtpclock_ext(struct rtpclock *c, uint32_t ts)
{
	if (!c->have_last) {
		c->have_last = 1;
		c->last_ext = (int32_t)(ts - c->first_rtp);
	} else {
		c->last_ext += (int32_t)(ts - c->last_rtp);
	}
	c->last_rtp = ts;
	return c->last_ext;
}

int64_t rtpclock_arrival_us(const struct rtpclock *c, int64_t ext)
{
	return c->first_us + ext * 1000000 / c->clock;
}

int rtpclock_report_us(const struct rtpclock *anchor, const struct rtpclock *c, int64_t ext, int64_t *out)
{
	if (!anchor->have_first || !anchor->have_sr || !c->have_first || !c->have_sr)
		return -1;
	/* the anchor's report on the timeline, then C's report after it, then EXT after that */
	int64_t at = rtpclock_arrival_us(anchor, (int32_t)(anchor->sr_rtp - anchor->first_rtp));
	int64_t since = (ext - (int32_t)(c->sr_rtp - c->first_rtp)) * 1000000 / c->clock;
	*out = at + (c->sr_us - anchor->sr_us) + since;
	return 0;
}
