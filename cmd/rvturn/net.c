/* net.c - URIs, sockets and framing for rvturn: UDP datagrams, or STUN and
 * ChannelData messages cut out of a TCP or TLS stream. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/errqueue.h>

#include "err.h"
#include "rvturn.h"

double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* stun:host[:port], turn:host[:port][?transport=udp|tcp], turns:... (RFC 7064/7065). */
int uri_parse(const char *s, struct uri *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	const char *rest;
	int tls = 0;
	if (!strncmp(s, "stun:", 5)) {
		rest = s + 5;
	} else if (!strncmp(s, "stuns:", 6)) {
		rest = s + 6;
		tls = 1;
	} else if (!strncmp(s, "turn:", 5)) {
		rest = s + 5;
		u->turn = 1;
	} else if (!strncmp(s, "turns:", 6)) {
		rest = s + 6;
		u->turn = 1;
		tls = 1;
	} else {
		snprintf(err, errlen, "'%s' is not a stun:, stuns:, turn: or turns: URI", s);
		return -1;
	}
	char hostport[300];
	const char *q = strchr(rest, '?');
	size_t n = q ? (size_t)(q - rest) : strlen(rest);
	if (n == 0 || n >= sizeof hostport) {
		snprintf(err, errlen, "no host in '%s'", s);
		return -1;
	}
	memcpy(hostport, rest, n);
	hostport[n] = 0;
	u->tr = tls ? TR_TLS : TR_UDP;
	u->port = tls ? 5349 : 3478;
	if (q) {
		if (!strcmp(q, "?transport=udp") && !tls)
			u->tr = TR_UDP;
		else if (!strcmp(q, "?transport=tcp"))
			u->tr = tls ? TR_TLS : TR_TCP;
		else {
			snprintf(err, errlen, "unknown '%s' in '%s' (transport=udp or tcp)", q, s);
			return -1;
		}
	}
	char *host = hostport, *colon;
	if (*host == '[') {
		char *end = strchr(host, ']');
		if (!end) {
			snprintf(err, errlen, "unclosed [ in '%s'", s);
			return -1;
		}
		*end = 0;
		colon = end[1] == ':' ? end + 1 : NULL;
		host++;
	} else {
		colon = strrchr(host, ':');
		if (colon)
			*colon = 0;
	}
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);
		if (*e || p <= 0 || p > 65535) {
			snprintf(err, errlen, "bad port in '%s'", s);
			return -1;
		}
		u->port = (int)p;
	}
	size_t hl = strlen(host);
	if (!hl || hl >= sizeof u->host) {
		snprintf(err, errlen, "no host in '%s'", s);
		return -1;
	}
	memcpy(u->host, host, hl + 1);
	return 0;
}

const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
	}
	return buf;
}

/* "IP:PORT" or "[IPv6]:PORT" */
int addr_parse(const char *s, struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	size_t n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof ip)
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	char *e;
	long port = strtol(colon + 1, &e, 10);
	if (*e || port < 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (ip[0] == '[' && ip[n - 1] == ']') {
		ip[n - 1] = 0;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, ip + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &s4->sin_addr) == 1 ? 0 : -1;
}

int udp_unreachable(int err, const struct sockaddr_storage *to, int reached, char *buf, size_t len)
{
	char addr[128];
	addr_str(to, addr, sizeof addr);
	if (err == ECONNREFUSED)
		snprintf(buf, len, "nothing listening on UDP %s%s (ICMP port unreachable)", addr,
			 reached ? " any more" : "");
	else if (err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN)
		snprintf(buf, len, "UDP %s is unreachable: %s (ICMP)", addr, strerror(err));
	else
		return 0;
	return 1;
}

void udp_recverr(int fd, int family)
{
	int one = 1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
	else
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
}

int udp_icmp_error(int fd, struct sockaddr_storage *to)
{
	uint8_t data[64];
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} ctl;
	struct iovec v = { data, sizeof data };
	struct msghdr mh = { .msg_name = to, .msg_namelen = sizeof *to, .msg_iov = &v, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	memset(to, 0, sizeof *to);
	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
		    (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)) {
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(cm), sizeof ee);
			if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6)
				return (int)ee.ee_errno;
		}
	}
	return 0;
}

/* A failed send or receive on the connection to the server, in words and of
 * which kind. On UDP an ICMP unreachable is a definite "no" (nothing
 * listening), not silence: before the server ever answered it is "cannot
 * connect", after that the server went away, as when a TCP or TLS stream
 * closes or fails. Other UDP errors (a full buffer) are neither. */
static int failed(struct client *c, int err)
{
	char addr[128];
	if (c->tr == TR_UDP && udp_unreachable(-err, &c->server, c->reached, c->err, sizeof c->err)) {
		if (c->reached)
			c->lost = 1;
		else
			c->unreachable = 1;
		return err;
	}
	snprintf(c->err, sizeof c->err, "connection to %s: %s", addr_str(&c->server, addr, sizeof addr),
		 err == RV_ETLS && c->tls ? rv_tls_errstr(c->tls) : rv_strerror(err));
	c->lost = c->tr != TR_UDP;	/* a stream with an error is of no more use */
	return err;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = { fd, POLLOUT, 0 };
				poll(&pf, 1, 1000);
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Ciphertext the TLS engine produced goes to the socket. */
static int tls_flush(struct client *c)
{
	struct rv_buf out;
	rv_buf_init(&out, 1 << 20);
	ssize_t n = rv_tls_take(c->tls, &out);
	int rc = n > 0 ? write_all(c->fd, rv_buf_head(&out), rv_buf_size(&out)) : 0;
	rv_buf_free(&out);
	return n < 0 ? (int)n : rc;
}

/* Read what the socket has (waiting up to MS) into c->rbuf, through TLS. */
static int fill(struct client *c, int ms)
{
	struct pollfd pf = { c->fd, POLLIN, 0 };
	int r = poll(&pf, 1, ms);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	uint8_t tmp[16384];
	ssize_t n = read(c->fd, tmp, sizeof tmp);
	if (n == 0)
		return RV_ECLOSED;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (!c->tls) {
		if ((size_t)n > sizeof c->rbuf - c->rlen)
			return RV_ETOOBIG;
		memcpy(c->rbuf + c->rlen, tmp, (size_t)n);
		c->rlen += (size_t)n;
		return (int)n;
	}
	if (rv_tls_feed(c->tls, tmp, (size_t)n) < 0)
		return RV_ETLS;
	int got = 0;
	for (;;) {
		ssize_t k = rv_tls_read(c->tls, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
		if (tls_flush(c) < 0)
			return RV_ETLS;
		if (k <= 0) {
			if (k < 0 && k != RV_ECLOSED)
				return (int)k;
			if (k == RV_ECLOSED && !got)
				return RV_ECLOSED;
			break;
		}
		c->rlen += (size_t)k;
		got += (int)k;
	}
	return got ? got : 1;	/* 1: progress (handshake bytes) */
}

int client_open(struct client *c, const struct opts *o, enum tr tr, char *addr, size_t addrlen)
{
	memset(c, 0, sizeof *c);
	c->o = o;
	c->tr = tr;
	c->fd = -1;
	struct addrinfo hints = {
		.ai_family = o->family, .ai_socktype = tr == TR_UDP ? SOCK_DGRAM : SOCK_STREAM,
	}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", o->uri.port);
	int rc = getaddrinfo(o->uri.host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(c->err, sizeof c->err, "cannot resolve %s: %s", o->uri.host, gai_strerror(rc));
		c->unreachable = 1;
		return -1;
	}
	memcpy(&c->server, ai->ai_addr, ai->ai_addrlen);
	c->server_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return client_connect(c, addr, addrlen);
}

/* Connect (again) to c->server: after a resolve, or to an ALTERNATE-SERVER. */
int client_connect(struct client *c, char *addr, size_t addrlen)
{
	const struct opts *o = c->o;
	enum tr tr = c->tr;
	int rc;
	if (c->fd >= 0)
		client_close(c);
	c->rlen = 0;
	c->reached = c->lost = 0;
	c->server_len = c->server.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	addr_str(&c->server, addr, addrlen);
	c->fd = socket(c->server.ss_family, (tr == TR_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
		return -1;
	}
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	rc = connect(c->fd, (struct sockaddr *)&c->server, c->server_len);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd pf = { c->fd, POLLOUT, 0 };
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (poll(&pf, 1, (int)(o->timeout * 1000)) <= 0) {
			snprintf(c->err, sizeof c->err, "no answer from %s within %.0f s (port, transport or firewall?)",
				 addr, o->timeout);
			c->timed_out = 1;
			return -1;
		}
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		rc = soerr ? -1 : 0;
		errno = soerr;
	}
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "cannot connect to %s: %s", addr, strerror(errno));
		c->unreachable = 1;
		return -1;
	}
	if (tr != TR_UDP) {
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->reached = 1;	/* (UDP: at the first datagram from the server) */
	}
	if (tr != TR_TLS)
		return 0;
	char msg[256];
	if (rv_tls_ctx_client_new(&c->tls_ctx, o->ca, o->insecure, "stun.turn", msg, sizeof msg) < 0) {
		snprintf(c->err, sizeof c->err, "TLS: %s", msg);
		return -1;
	}
	if (rv_tls_new(&c->tls, c->tls_ctx, 0, o->uri.host) < 0 || rv_tls_start(c->tls) < 0 ||
	    tls_flush(c) < 0) {
		snprintf(c->err, sizeof c->err, "TLS: cannot start the handshake");
		return -1;
	}
	double deadline = now_ms() + o->timeout * 1000;
	while (!rv_tls_done(c->tls)) {
		int left = (int)(deadline - now_ms());
		int r = left > 0 ? fill(c, left) : 0;
		if (r == 0) {
			snprintf(c->err, sizeof c->err, "TLS handshake with %s: no answer within %.0f s", addr, o->timeout);
			c->timed_out = 1;
			return -1;
		}
		if (r < 0) {
			snprintf(c->err, sizeof c->err, "TLS handshake with %s failed: %s", addr,
				 r == RV_ETLS ? rv_tls_errstr(c->tls) : rv_strerror(r));
			c->unreachable = 1;
		return -1;
		}
	}
	return 0;
}

void client_close(struct client *c)
{
	if (c->tls) {
		rv_tls_close(c->tls);
		tls_flush(c);
	}
	rv_tls_free(c->tls);
	rv_tls_ctx_free(c->tls_ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->tls = NULL;
	c->tls_ctx = NULL;
}

int client_send(struct client *c, const uint8_t *p, size_t n)
{
	int rc;
	if (c->tr == TR_UDP)
		rc = send(c->fd, p, n, 0) < 0 ? -errno : 0;
	else if (c->tls)
		rc = rv_tls_write(c->tls, p, n) < 0 ? RV_ETLS : tls_flush(c);
	else
		rc = write_all(c->fd, p, n);
	return rc < 0 ? failed(c, rc) : 0;
}

/* One whole message at the front of c->rbuf: its length, or 0. */
static size_t framed(struct client *c)
{
	if (c->rlen < 4)
		return 0;
	if ((c->rbuf[0] & 0xC0) == 0x40) {	/* ChannelData, padded on streams */
		size_t len = 4 + (((size_t)(c->rbuf[2] << 8 | c->rbuf[3]) + 3) & ~(size_t)3);
		return c->rlen >= len ? len : 0;
	}
	if (c->rlen < RV_STUN_HEADER)
		return 0;
	size_t len = RV_STUN_HEADER + (size_t)(c->rbuf[2] << 8 | c->rbuf[3]);
	return c->rlen >= len ? len : 0;
}

int client_recv(struct client *c, uint8_t *buf, size_t cap, int ms)
{
	if (c->tr == TR_UDP) {
		struct pollfd pf = { c->fd, POLLIN, 0 };
		int r = poll(&pf, 1, ms);
		if (r <= 0)
			return r < 0 && errno != EINTR ? failed(c, -errno) : 0;
		ssize_t n = recv(c->fd, buf, cap, 0);	/* an ICMP error comes out here */
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : failed(c, -errno);
		c->reached = 1;
		return (int)n;
	}
	double deadline = now_ms() + ms;
	for (int polled = 0;; polled = 1) {
		size_t len = framed(c);
		if (len) {
			if (len > cap)
				return RV_ETOOBIG;
			memcpy(buf, c->rbuf, len);
			memmove(c->rbuf, c->rbuf + len, c->rlen - len);
			c->rlen -= len;
			return (int)len;
		}
		int left = (int)(deadline - now_ms());
		if (left <= 0 && polled)
			return 0;	/* (a zero wait still reads what is there, once) */
		int r = fill(c, left > 0 ? left : 0);
		if (r < 0)
			return failed(c, r);
		if (r == 0 && left <= 0)
			return 0;
	}
}
