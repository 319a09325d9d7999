/* mlink.c - a client's media path to rvserver (see mlink.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "mlink.h"
#include "stun.h"
#include "udpq.h"

#define BIND_EVERY_MS 200           /* Binding retransmission while waiting */
#define KEEPALIVE_MS 15000          /* keeps NAT bindings and the server's entry */

struct rv_mlink {
	uv_loop_t *loop;
	struct rv_session *sess;
	uv_udp_t udp;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;           /* resolving the server's name, off the loop */
	struct sockaddr_storage server;
	char user[32], pass[64];
	uint8_t tid[12];
	int state;                      /* 0 registering, 1 UDP, 2 TCP */
	int resolving, closed;
	int handles;                    /* open handles, and the request while resolving */
	struct rv_udpq q;               /* rv_mlink_sendv's batch, once UDP is open */
	uint64_t started;
	rv_mlink_packet_fn on_packet;
	rv_mlink_ready_fn on_ready;
	void *ud;
	uint8_t rbuf[2048];
};

static void settle(struct rv_mlink *l, int udp)
{
	if (l->state)
		return;
	l->state = udp ? 1 : 2;
	rv_debug("media path: %s", udp ? "UDP" : "TCP");
	if (!udp)
		uv_udp_recv_stop(&l->udp);
	if (l->on_ready)
		l->on_ready(l->ud, udp);
}

static void send_binding(struct rv_mlink *l)
{
	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, NULL);
	memcpy(l->tid, rv_stun_tid(&b), sizeof l->tid);
	rv_stun_add_str(&b, RV_STUN_A_USERNAME, l->user);
	rv_stun_add_integrity(&b, (const uint8_t *)l->pass, strlen(l->pass));
	rv_stun_add_fingerprint(&b);
	const uint8_t *msg;
	size_t len;
	if (rv_stun_end(&b, &msg, &len) < 0)
		return;
	uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
	uv_udp_try_send(&l->udp, &buf, 1, NULL);
}

static void on_timer(uv_timer_t *t)
{
	struct rv_mlink *l = t->data;
	if (l->state == 0 && uv_now(l->loop) - l->started >= RV_MLINK_UDP_WAIT_MS) {
		rv_info("no answer on the server's UDP port within 2 s: media goes over TCP");
		uv_timer_stop(t);
		settle(l, 0);
		return;
	}
	if (l->state != 2 && !l->resolving)
		send_binding(l);
	if (l->state == 1)
		uv_timer_start(t, on_timer, KEEPALIVE_MS, KEEPALIVE_MS);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct rv_mlink *l = h->data;
	(void)hint;
	*b = uv_buf_init((char *)l->rbuf, sizeof l->rbuf);
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
	struct rv_mlink *l = h->data;
	(void)from;
	if (n <= 0 || (flags & UV_UDP_PARTIAL))
		return;
	const uint8_t *p = (const uint8_t *)b->base;
	if (rv_stun_is(p, (size_t)n)) {
		struct rv_stun_msg m;
		if (rv_stun_parse(p, (size_t)n, &m) < 0 || m.method != RV_STUN_BINDING ||
		    memcmp(m.tid, l->tid, sizeof l->tid) != 0)
			return;
		if (m.cls == RV_STUN_SUCCESS &&
		    rv_stun_check_integrity(&m, (const uint8_t *)l->pass, strlen(l->pass)) == 1) {
			if (l->state == 0) {
				settle(l, 1);
				uv_timer_start(&l->timer, on_timer, KEEPALIVE_MS, KEEPALIVE_MS);
			}
		} else if (m.cls == RV_STUN_ERROR && l->state == 0) {
			rv_warn("the server refused the media registration: media goes over TCP");
			settle(l, 0);
		}
		return;
	}
	if (l->state == 1 && l->on_packet)
		l->on_packet(l->ud, p, (size_t)n);
}

/* One handle (or the resolver's request) less; the last frees L. */
static void release(struct rv_mlink *l)
{
	if (--l->handles > 0)
		return;
	rv_udpq_free(&l->q);
	free(l);
}

static void on_closed(uv_handle_t *h)
{
	release(h->data);
}

/* The server's address is known: open the UDP path and start registering.
 * A path that cannot be opened settles on TCP. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct rv_mlink *l = req->data;
	int rc = status;
	if (rc == 0 && ai && ai->ai_addrlen <= sizeof l->server)
		memcpy(&l->server, ai->ai_addr, ai->ai_addrlen);
	else if (rc == 0)
		rc = UV_EAI_NONAME;
	uv_freeaddrinfo(ai);
	l->resolving = 0;
	if (l->closed) {
		release(l);
		return;
	}
	l->handles--;
	if (l->state)	/* the wait ran out while resolving: TCP already */
		return;
	if (rc == 0 && (rc = uv_udp_connect(&l->udp, (const struct sockaddr *)&l->server)) == 0 &&
	    (rc = rv_udpq_init(&l->q, RV_MLINK_BATCH)) == 0)
		rc = uv_udp_recv_start(&l->udp, on_alloc, on_udp);
	if (rc == 0) {
		int big = RV_MLINK_RCVBUF;
		uv_recv_buffer_size((uv_handle_t *)&l->udp, &big);
		send_binding(l);
		return;
	}
	rv_info("cannot use UDP to the server (%s): media goes over TCP", rv_strerror(rc));
	settle(l, 0);
}

int rv_mlink_start(struct rv_mlink **out, uv_loop_t *loop, struct rv_session *s, const char *host,
		   const cJSON *udp, int force_tcp, rv_mlink_packet_fn on_packet,
		   rv_mlink_ready_fn on_ready, void *ud)
{
	struct rv_mlink *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->sess = s;
	l->on_packet = on_packet;
	l->on_ready = on_ready;
	l->ud = ud;
	l->started = uv_now(loop);
	uv_udp_init(loop, &l->udp);
	uv_timer_init(loop, &l->timer);
	l->udp.data = l->timer.data = l->gai.data = l;
	l->handles = 2;
	*out = l;

	const cJSON *port = cJSON_GetObjectItemCaseSensitive(udp, "port");
	const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(udp, "user"));
	const char *pass = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(udp, "pass"));
	if (!force_tcp && cJSON_IsNumber(port) && user && pass && strlen(user) < sizeof l->user &&
	    strlen(pass) < sizeof l->pass) {
		snprintf(l->user, sizeof l->user, "%s", user);
		snprintf(l->pass, sizeof l->pass, "%s", pass);
		/* uv_getaddrinfo resolves on libuv's thread pool: a slow resolver
		 * never stalls the loop. The timer bounds resolving and
		 * registering together to RV_MLINK_UDP_WAIT_MS. */
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM };
		char ps[16];
		snprintf(ps, sizeof ps, "%d", (int)port->valuedouble);
		int rc = uv_getaddrinfo(loop, &l->gai, on_resolved, host, ps, &hints);
		if (rc == 0) {
			l->resolving = 1;
			l->handles++;
			uv_timer_start(&l->timer, on_timer, BIND_EVERY_MS, BIND_EVERY_MS);
			return 0;
		}
		rv_info("cannot use UDP to the server (%s): media goes over TCP", rv_strerror(rc));
	}
	settle(l, 0);
	return 0;
}

int rv_mlink_send(struct rv_mlink *l, const uint8_t *p, size_t n)
{
	if (l->state == 1) {
		uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
		int rc = uv_udp_try_send(&l->udp, &b, 1, NULL);
		return rc < 0 ? rc : 0;
	}
	/* Framed on the connection: the fixed media head of rv-protocol(7)
	 * ("Packets"), the packet as the body; no JSON, nothing allocated. */
	uint8_t head[RV_FRAME_MEDIA_HEAD];
	rv_frame_media_head(head, n);
	uv_buf_t b[2] = { uv_buf_init((char *)head, sizeof head), uv_buf_init((char *)p, (unsigned)n) };
	return rv_session_writev(l->sess, b, 2);
}

/* Over UDP: the packets through the batch on the connected socket, runs
 * of equal ones as one GSO send each, all in one sendmmsg. */
static size_t send_udp(struct rv_mlink *l, const struct iovec *v, size_t n)
{
	int fd;
	if (uv_fileno((uv_handle_t *)&l->udp, &fd) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		rv_udpq_add(&l->q, NULL, NULL, 0, v[i].iov_base, v[i].iov_len);
	return rv_udpq_flush(&l->q, fd);
}

int rv_mlink_sendv(struct rv_mlink *l, const struct iovec *v, size_t n)
{
	if (n > RV_MLINK_BATCH)
		n = RV_MLINK_BATCH;
	if (l->state == 1)
		return (int)send_udp(l, v, n);
	int sent = 0;
	for (size_t i = 0; i < n; i++)
		if (rv_mlink_send(l, v[i].iov_base, v[i].iov_len) == 0)
			sent++;
	return sent;
}

void rv_mlink_frame(struct rv_mlink *l, const uint8_t *p, size_t n)
{
	if (l->on_packet)
		l->on_packet(l->ud, p, n);
}

int rv_mlink_udp(const struct rv_mlink *l)
{
	return l->state == 1;
}

void rv_mlink_close(struct rv_mlink *l)
{
	if (!l)
		return;
	l->on_packet = NULL;
	l->on_ready = NULL;
	l->closed = 1;
	if (l->resolving)	/* its callback still runs (UV_EAI_CANCELED or done) */
		uv_cancel((uv_req_t *)&l->gai);
	uv_close((uv_handle_t *)&l->udp, on_closed);
	uv_close((uv_handle_t *)&l->timer, on_closed);
}
