/* udp.c - rvserver's UDP port, batched both ways. When the socket is
 * readable, datagrams are read with recvmmsg into the port's own slots, up to
 * a budget so that TCP clients get their turn; after each read what the
 * relay queued goes out through the port's rv_udpq (lib/udpq.h): one
 * sendmmsg, consecutive datagrams of one size to one address joined into a
 * single UDP GSO send (the kernel cuts them apart again). The socket asks
 * for coalesced reads (UDP GRO): a sender's burst of equal datagrams arrives
 * as one, and is relayed as one. A readable event reads for about
 * RX_TIME_NS at most, and sizes its reads by what a datagram has cost so
 * far: when the fan-out costs more than the machine has (200 WebRTC
 * viewers, each packet encrypted once per viewer), the kernel's buffer
 * drops the excess and HTTP, timers and ICE consent keep their turn, where
 * reading on would stall the loop for seconds. With RV_TEST_IMPAIR=loss=P in the
 * environment (tests and benchmarks only: the kernel here has no netem) a
 * share P of the datagrams sent is dropped before the socket, at random;
 * with rxcost=MS each datagram read takes MS milliseconds more. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "gso.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "udpq.h"
#include "webrtc.h"

#define RX_SLOTS 16                   /* datagrams a read takes at most */
#define RX_SLOT 65536                 /* each may be a coalesced burst */
#define RX_BUDGET 256                 /* datagrams a readable event reads at most */
#define RX_TIME_NS 2000000u           /* and the time it reads for, about */

struct udp_rx {
	uint8_t buf[RX_SLOTS][RX_SLOT];
	struct sockaddr_storage from[RX_SLOTS];
	union rv_gso_ctl ctl[RX_SLOTS];
	struct iovec iov[RX_SLOTS];
	struct mmsghdr msgs[RX_SLOTS];
};

/* Datagram I of the last read: each datagram in it to the relay. */
static void relay_read(struct server *srv, struct udp_rx *rx, size_t i)
{
	const struct msghdr *m = &rx->msgs[i].msg_hdr;
	size_t len = rx->msgs[i].msg_len;
	if (m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {	/* no media datagram is that big */
		srv->relay.n.unknown++;
		return;
	}
	size_t seg = rv_gro_segment(m, len);
	if (seg < len)
		srv->relay.n.udp_bursts++;
	for (size_t off = 0; off < len; off += seg)
		relay_udp_in(&srv->relay, rx->buf[i] + off, len - off < seg ? len - off : seg,
			     (const struct sockaddr *)&rx->from[i]);
}

/* How many datagrams the next read takes: RX_SLOTS, fewer when what a
 * datagram costs (an average over the reads so far) would overrun what is
 * left of the event's time, and at least one. */
static size_t read_size(const struct server *srv, size_t budget, uint64_t spent)
{
	size_t want = budget < RX_SLOTS ? budget : RX_SLOTS;
	uint64_t left = spent < RX_TIME_NS ? RX_TIME_NS - spent : 0;
	if (srv->udp_cost_ns && left / srv->udp_cost_ns < want)
		want = left / srv->udp_cost_ns ? (size_t)(left / srv->udp_cost_ns) : 1;
	return want;
}

static void test_rx_cost(const struct server *srv, size_t n)
{
	if (!srv->impair.rx_cost_ms)
		return;
	uint64_t ns = (uint64_t)srv->impair.rx_cost_ms * n * 1000000u;
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct server *srv = h->data;
	struct udp_rx *rx = srv->udprx;
	(void)events;
	if (status < 0)
		return;
	uint64_t start = uv_hrtime(), t = start;
	for (size_t budget = RX_BUDGET; budget > 0;) {
		size_t want = read_size(srv, budget, t - start);
		for (size_t i = 0; i < want; i++) {
			struct msghdr *m = &rx->msgs[i].msg_hdr;
			rx->iov[i] = (struct iovec){ rx->buf[i], RX_SLOT };
			*m = (struct msghdr){ .msg_name = &rx->from[i], .msg_namelen = sizeof rx->from[i],
					      .msg_iov = &rx->iov[i], .msg_iovlen = 1 };
			rv_gro_read_setup(m, &rx->ctl[i]);
		}
		int k = recvmmsg(srv->udp_fd, rx->msgs, (unsigned)want, MSG_DONTWAIT, NULL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;	/* nothing waiting, or an error the next event sees again */
		budget -= (size_t)k;
		for (size_t i = 0; i < (size_t)k; i++)
			relay_read(srv, rx, i);
		test_rx_cost(srv, (size_t)k);
		/* Sending now, not after the last read, lets the next read find
		 * more: what arrives while we send is read in one go. */
		udp_flush(srv);
		uint64_t now = uv_hrtime(), per = (now - t) / (uint64_t)k;
		srv->udp_cost_ns = srv->udp_cost_ns ? (3 * srv->udp_cost_ns + per) / 4 : per;
		t = now;
		if (t - start >= RX_TIME_NS && budget && (size_t)k == want) {
			srv->relay.n.udp_yields++;	/* more may wait: the loop's other work first */
			break;
		}
	}
}

int udp_start(struct server *srv, const struct sockaddr *sa, int *port)
{
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int big = 4 << 20, rc;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	if ((rc = rv_gro_enable(fd)) < 0)
		rv_debug("UDP GRO unavailable (%s): datagrams are read one by one", strerror(-rc));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	if (bind(fd, sa, len) < 0 || getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	srv->relay.udp_port = *port;	/* told to clients with their credentials */
	if (!(srv->udprx = malloc(sizeof *srv->udprx)) || rv_udpq_init(&srv->udpq, UDP_QUEUE_MAX) < 0) {
		free(srv->udprx);
		srv->udprx = NULL;
		close(fd);
		return -ENOMEM;
	}
	if ((rc = uv_poll_init(srv->loop, &srv->udp, fd)) < 0) {
		free(srv->udprx);
		srv->udprx = NULL;
		rv_udpq_free(&srv->udpq);
		close(fd);
		return rc;
	}
	srv->udp_fd = fd;
	srv->udp.data = srv;
	return uv_poll_start(&srv->udp, UV_READABLE, on_readable);
}

static void on_udp_closed(uv_handle_t *h)
{
	struct server *srv = h->data;
	close(srv->udp_fd);
	srv->udp_fd = -1;
	free(srv->udprx);
	srv->udprx = NULL;
	rv_udpq_free(&srv->udpq);
}

void udp_stop(struct server *srv)
{
	if (srv->udp_fd >= 0 && !uv_is_closing((uv_handle_t *)&srv->udp))
		uv_close((uv_handle_t *)&srv->udp, on_udp_closed);
}

/* relay.h's host functions for the UDP port. */
void relay_udp_send(struct relay *r, const void *p, size_t n, const struct sockaddr *to)
{
	struct server *srv = r->host;
	socklen_t len = to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (rv_impair_drop(&srv->impair))
		return;
	if (sendto(srv->udp_fd, p, n, MSG_DONTWAIT, to, len) < 0)
		r->n.drops++;
}

void relay_udp_queue(struct relay *r, const void *dest, const struct sockaddr *to, socklen_t tolen,
		     const void *p, size_t n)
{
	struct server *srv = r->host;
	struct rv_udpq *q = &srv->udpq;
	if (rv_impair_drop(&srv->impair))
		return;
	if (q->n == q->cap)
		udp_flush(srv);
	if (rv_udpq_add(q, dest, to, tolen, p, n) < 0)
		r->n.drops++;
}

void relay_udp_flush(struct relay *r)
{
	udp_flush(r->host);
}

void udp_flush(struct server *srv)
{
	struct rv_udpq *q = &srv->udpq;
	size_t queued = q->n;
	int gso = q->gso;
	webrtc_udp_flushed(srv);	/* WebRTC viewers' packets were in it (or lost to the test impairment) */
	if (!queued)
		return;
	size_t sent = rv_udpq_flush(q, srv->udp_fd);
	srv->relay.n.drops += queued - sent;
	if (gso && !q->gso)
		rv_info("UDP GSO unavailable (%s): sending datagrams one by one", strerror(q->last_err));
}
