/* stream.c - TCP/TLS connections with batched, capped output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "listen.h"
#include "stream.h"

/* Connecting: resolve, connect, then TLS. */
struct connect_req {
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	struct rv_stream *s;
	struct rv_tls_ctx *tls_ctx;
	int port;
	char sni[256];
};

static void flush_one(struct rv_stream *s);

static void mark_dirty(struct rv_stream *s)
{
	if (s->dirty || s->closing)
		return;
	s->dirty = 1;
	s->next_dirty = s->io->dirty;
	s->io->dirty = s;
}

void rv_io_flush(struct rv_io *io)
{
	while (io->dirty) {
		struct rv_stream *s = io->dirty;
		io->dirty = s->next_dirty;
		s->dirty = 0;
		s->next_dirty = NULL;
		if (!s->closing)
			flush_one(s);
	}
}

static void on_check(uv_check_t *h)
{
	rv_io_flush(h->data);
}

int rv_io_init(struct rv_io *io, uv_loop_t *loop)
{
	memset(io, 0, offsetof(struct rv_io, rbuf));
	io->loop = loop;
	int rc = uv_check_init(loop, &io->check);
	if (rc < 0)
		return rc;
	io->check.data = io;
	uv_check_start(&io->check, on_check);
	uv_unref((uv_handle_t *)&io->check);
	return 0;
}

void rv_io_close(struct rv_io *io)
{
	uv_check_stop(&io->check);
	uv_close((uv_handle_t *)&io->check, NULL);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rv_stream *s = h->data;
	size_t len = 0;
	uint8_t *room = s->io->room && !s->tls ? s->io->room(s, &len) : NULL;
	(void)hint;
	if (room && len) {
		buf->base = (char *)room;
		buf->len = len;
		return;
	}
	buf->base = (char *)s->io->rbuf;
	buf->len = sizeof s->io->rbuf;
}

void rv_io_set_room(struct rv_io *io, rv_stream_room_fn room)
{
	io->room = room;
}

static void on_closed(uv_handle_t *h)
{
	struct rv_stream *s = h->data;
	rv_tls_free(s->tls);
	s->tls = NULL;
	rv_buf_free(&s->out);
	rv_buf_free(&s->inflight);
	if (s->on_close)
		s->on_close(s, s->close_reason);
}

void rv_stream_close(struct rv_stream *s, int reason)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->close_reason = reason;
	if (s->connecting) {	/* resolving: the request must not touch S again */
		s->connecting->s = NULL;
		uv_cancel((uv_req_t *)&s->connecting->gai);
		s->connecting = NULL;
	}
	if (s->handshaking && s->on_connect) {
		s->handshaking = 0;
		s->on_connect(s, reason ? reason : RV_ECLOSED);
	}
	uv_close((uv_handle_t *)&s->tcp, on_closed);
}

/* Move ciphertext the TLS engine produced into the output queue. */
static int tls_pump(struct rv_stream *s)
{
	ssize_t n = rv_tls_take(s->tls, &s->out);
	if (n < 0)
		return (int)n;
	if (n > 0)
		mark_dirty(s);
	return 0;
}

static void deliver_tls(struct rv_stream *s, const uint8_t *data, size_t len)
{
	int rc = rv_tls_feed(s->tls, data, len);
	while (rc == 0 && !s->closing) {
		ssize_t n = rv_tls_read(s->tls, s->io->pbuf, sizeof s->io->pbuf);
		if (tls_pump(s) < 0) {
			rc = RV_ETOOBIG;
			break;
		}
		if (s->handshaking && rv_tls_done(s->tls)) {
			s->handshaking = 0;
			if (s->on_connect)
				s->on_connect(s, 0);
			if (s->closing)
				return;
		}
		if (n > 0) {
			s->on_read(s, s->io->pbuf, (size_t)n);
			continue;
		}
		if (n < 0)
			rc = (int)n;
		break;
	}
	if (rc < 0 && !s->closing) {
		if (rc == RV_ETLS)
			rv_info("tls: %s", rv_tls_errstr(s->tls));
		rv_stream_close(s, rc);
	}
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	struct rv_stream *s = h->data;
	if (n == 0 || s->closing)
		return;
	if (n < 0) {
		rv_stream_close(s, n == UV_EOF ? RV_ECLOSED : (int)n);
		return;
	}
	if (s->tls)
		deliver_tls(s, s->io->rbuf, (size_t)n);
	else
		s->on_read(s, (const uint8_t *)buf->base, (size_t)n);	/* rbuf or the owner's room */
}

int rv_stream_init(struct rv_io *io, struct rv_stream *s, size_t max_queue,
		   rv_stream_read_fn on_read_fn, rv_stream_close_fn on_close, void *ud)
{
	memset(s, 0, sizeof *s);
	s->io = io;
	s->on_read = on_read_fn;
	s->on_close = on_close;
	s->ud = ud;
	rv_buf_init(&s->out, max_queue);
	rv_buf_init(&s->inflight, max_queue);
	int rc = uv_tcp_init(io->loop, &s->tcp);
	s->tcp.data = s;
	return rc;
}

int rv_stream_accept(struct rv_stream *s, uv_stream_t *server)
{
	int rc = uv_accept(server, (uv_stream_t *)&s->tcp);
	if (rc < 0)
		return rc;
	uv_tcp_nodelay(&s->tcp, 1);
	return uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

int rv_stream_start_tls(struct rv_stream *s, struct rv_tls_ctx *ctx,
			const uint8_t *bytes, size_t len)
{
	int rc = rv_tls_new(&s->tls, ctx, 1, NULL);
	if (rc < 0)
		return rc;
	if (len)
		deliver_tls(s, bytes, len);
	return 0;
}

size_t rv_stream_queued(const struct rv_stream *s)
{
	return rv_buf_size(&s->out) + rv_buf_size(&s->inflight);
}

int rv_stream_writev(struct rv_stream *s, const uv_buf_t *bufs, unsigned n)
{
	size_t len = 0, skip = 0;
	int rc = 0;

	if (s->closing)
		return RV_ECLOSED;
	for (unsigned i = 0; i < n; i++)
		len += bufs[i].len;
	if (rv_stream_queued(s) + len > s->out.cap)
		return RV_ETOOBIG;
	/* Large writes on an idle plain stream go straight to the kernel. */
	if (!s->tls && len >= RV_STREAM_DIRECT_AT && !s->wreq && rv_buf_size(&s->out) == 0) {
		int w = uv_try_write((uv_stream_t *)&s->tcp, bufs, n);
		if (w < 0 && w != UV_EAGAIN) {
			rv_stream_close(s, w);
			return w;
		}
		skip = w > 0 ? (size_t)w : 0;
		if (skip == len)
			return 0;
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		const char *p = bufs[i].base;
		size_t l = bufs[i].len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		if (s->tls) {
			rc = rv_tls_write(s->tls, p, l);
			if (rc == 0)
				rc = tls_pump(s);
		} else {
			rc = rv_buf_append(&s->out, p, l);
		}
	}
	if (rc != 0)
		return rc;
	/* A burst (one read fanned out to many) is flushed as it grows, so the
	 * cap counts what the kernel refused, not what one loop turn produced. */
	size_t flush_at = s->out.cap / 4 < RV_STREAM_FLUSH_AT ? s->out.cap / 4 : RV_STREAM_FLUSH_AT;
	if (rv_buf_size(&s->out) >= flush_at && !s->wreq)
		flush_one(s);
	else
		mark_dirty(s);
	return 0;
}

int rv_stream_write(struct rv_stream *s, const void *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	return rv_stream_writev(s, &b, 1);
}

static void maybe_end(struct rv_stream *s)
{
	if (s->end_after_flush && !s->wreq && rv_buf_size(&s->out) == 0)
		rv_stream_close(s, 0);
}

static void on_written(uv_write_t *req, int status)
{
	struct rv_stream *s = req->data;
	free(req);
	s->wreq = NULL;
	if (s->closing)
		return;
	if (status < 0) {
		rv_stream_close(s, status);
		return;
	}
	rv_buf_free(&s->inflight);	/* idle connections hold no buffers */
	if (rv_buf_size(&s->out))
		flush_one(s);
	else
		maybe_end(s);
}

static void flush_one(struct rv_stream *s)
{
	if (s->wreq)
		return;	/* on_written continues */
	size_t n = rv_buf_size(&s->out);
	if (n == 0) {
		maybe_end(s);
		return;
	}
	uv_buf_t b = uv_buf_init((char *)rv_buf_head(&s->out), (unsigned)n);
	int w = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
	if (w < 0 && w != UV_EAGAIN) {
		rv_stream_close(s, w);
		return;
	}
	if (w > 0)
		rv_buf_consume(&s->out, (size_t)w);
	if (rv_buf_size(&s->out) == 0) {
		rv_buf_free(&s->out);
		maybe_end(s);
		return;
	}
	/* The kernel is full: hand the rest to libuv, keep appending to out. */
	struct rv_buf t = s->inflight;
	s->inflight = s->out;
	s->out = t;
	s->wreq = malloc(sizeof *s->wreq);
	if (!s->wreq) {
		rv_stream_close(s, -ENOMEM);
		return;
	}
	s->wreq->data = s;
	b = uv_buf_init((char *)rv_buf_head(&s->inflight), (unsigned)rv_buf_size(&s->inflight));
	int rc = uv_write(s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_written);
	if (rc < 0) {
		free(s->wreq);
		s->wreq = NULL;
		rv_stream_close(s, rc);
	}
}

void rv_stream_pause(struct rv_stream *s, int pause)
{
	if (s->closing || s->end_after_flush)
		return;
	if (pause)
		uv_read_stop((uv_stream_t *)&s->tcp);
	else
		uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

void rv_stream_end(struct rv_stream *s)
{
	if (s->closing)
		return;
	s->end_after_flush = 1;
	uv_read_stop((uv_stream_t *)&s->tcp);
	if (!s->dirty && !s->wreq)
		maybe_end(s);
}

void rv_stream_peer(struct rv_stream *s, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	int sl = sizeof ss;
	char ip[64] = "?";
	int port = 0;

	if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			snprintf(buf, len, "[%s]:%d", ip, port);
			return;
		}
		uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	snprintf(buf, len, "%s:%d", ip, port);
}


static void connect_fail(struct connect_req *r, int status)
{
	struct rv_stream *s = r->s;
	free(r);
	if (!s || s->closing)
		return;
	s->handshaking = 1;
	rv_stream_close(s, status);
}

static void on_connected(uv_connect_t *c, int status)
{
	struct connect_req *r = c->data;
	struct rv_stream *s = r->s;
	if (status < 0 || s->closing) {
		connect_fail(r, status < 0 ? status : RV_ECLOSED);
		return;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	status = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
	if (status == 0 && r->tls_ctx) {
		status = rv_tls_new(&s->tls, r->tls_ctx, 0, r->sni);
		if (status == 0)
			status = rv_tls_start(s->tls);
		if (status == 0)
			status = tls_pump(s);
		if (status == 0) {
			s->handshaking = 1;	/* on_connect once TLS is up */
			free(r);
			return;
		}
	}
	if (status < 0) {
		connect_fail(r, status);
		return;
	}
	free(r);
	if (s->on_connect)
		s->on_connect(s, 0);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
	struct connect_req *r = g->data;
	if (!r->s) {	/* closed while resolving */
		uv_freeaddrinfo(ai);
		free(r);
		return;
	}
	r->s->connecting = NULL;
	if (status < 0 || !ai) {
		uv_freeaddrinfo(ai);
		connect_fail(r, status < 0 ? status : -EHOSTUNREACH);
		return;
	}
	struct sockaddr_storage ss;
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	uv_freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)r->port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)r->port);
	r->conn.data = r;
	status = uv_tcp_connect(&r->conn, &r->s->tcp, (struct sockaddr *)&ss, on_connected);
	if (status < 0)
		connect_fail(r, status);
}

int rv_stream_connect(struct rv_stream *s, const char *host, int port,
		      struct rv_tls_ctx *tls_ctx, rv_stream_connect_fn cb)
{
	struct connect_req *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->tls_ctx = tls_ctx;
	r->port = port;
	snprintf(r->sni, sizeof r->sni, "%s", host);
	s->on_connect = cb;
	/* An IP literal needs no resolver: connect at once (a first
	 * uv_getaddrinfo starts libuv's thread pool, 1-5 ms of a short-lived
	 * tool's run here). A name is resolved off the loop. */
	struct sockaddr_storage ss;
	if (rv_listen_addr(host, port, &ss) == 0) {
		r->conn.data = r;
		int rc = uv_tcp_connect(&r->conn, &s->tcp, (struct sockaddr *)&ss, on_connected);
		if (rc < 0)
			free(r);
		return rc;
	}
	r->gai.data = r;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int rc = uv_getaddrinfo(s->io->loop, &r->gai, on_resolved, host, NULL, &hints);
	if (rc < 0)
		free(r);
	else
		s->connecting = r;
	return rc;
}
