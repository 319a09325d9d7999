/* server.c - listeners, connections, protocol sniffing, timeouts, shutdown. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bytes.h"
#include "cli.h"
#include "dgram.h"
#include "dlist.h"
#include "err.h"
#include "frame.h"
#include "listen.h"
#include "log.h"
#include "portfile.h"
#include "server.h"
#include "webrtc.h"
#include "sniff.h"
#include "trunk.h"
#include "srvconn.h"
#include "token.h"

uint64_t now_ms(const struct server *srv)
{
	return uv_now(srv->loop);
}

int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* With --max-clients N, at most N + PROBE_SLOTS connections are open: the
 * N clients (RV and WebSocket) and a few more for HTTP requests (answered
 * and closed), handshakes not yet far enough to tell, and refused clients
 * being told why. A connection past that is closed at once. */
#define PROBE_SLOTS 16

void conn_drop_slow(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->closing)
		return;
	srv->n.slow_drops++;
	rv_info("dropping slow consumer %s (%zu bytes queued)",
		c->client ? c->client->id : "?", rv_stream_queued(&c->s));
	/* The bye goes past the cap; the sweep closes it if never read. */
	c->s.out.cap += 1024;
	c->s.inflight.cap += 1024;
	conn_bye(c, RV_CODE_SLOW_CONSUMER, NULL);
}

static void conn_closed(struct rv_stream *s, int reason)
{
	struct conn *c = s->ud;
	struct server *srv = c->srv;

	if (reason && reason != RV_ECLOSED)
		rv_debug("connection closed: %s", rv_strerror(reason));
	flow_forget(c);
	monitor_gone(c, rv_code_wire(RV_CODE_CLOSED),
		     reason && reason != RV_ECLOSED ? rv_strerror(reason) : rv_code_text(RV_CODE_CLOSED));
	monitor_forget(c);
	relay_conn_closed(&srv->relay, c);
	if (c->wsess)
		webrtc_tcp_closed(srv, c);
	if (c->numkey) {
		rv_map_del(&srv->by_num, c->numkey);
		free(c->numkey);
	}
	cluster_conn_closed(c);
	if (c->client) {
		if (c->client->recv == c) {
			c->client->recv = NULL;
			cluster_recv_gone(c);
		}
		rv_router_detach(&srv->router, c->client);
	}
	RV_LIST_UNLINK(srv->conns, c);
	srv->nconns--;
	if (c->client_slot)
		srv->nclients--;
	rv_buf_free(&c->in);
	rv_srvconn_http_free(&c->http);
	rv_ws_free(c->ws);
	free(c);
	rv_srvlife_closed(&srv->life, srv->nconns);
}

void conn_drop(struct conn *c, int reason)
{
	c->closing = 1;
	c->state = CONN_DONE;
	rv_stream_close(&c->s, reason);
}

int conn_sendv_shared(struct conn *c, struct rv_buf *wsframe, const uint8_t *head, size_t hlen,
		      const uint8_t *body, size_t blen)
{
	struct server *srv = c->srv;
	int rc;

	if (c->closing)
		return RV_ECLOSED;
	if (c->ws) {	/* one WebSocket message per frame */
		rc = rv_srvconn_ws_send(&c->s, c->ws, wsframe, &srv->wsbuf, RV_WS_BINARY, head, hlen, body, blen);
	} else {
		uv_buf_t b[2] = { uv_buf_init((char *)head, (unsigned)hlen),
				  uv_buf_init((char *)body, (unsigned)blen) };
		rc = rv_stream_writev(&c->s, b, blen ? 2 : 1);
	}
	if (rc == RV_ETOOBIG) {	/* its queue is full: drop it, never block others */
		conn_drop_slow(c);
		return rc;
	}
	if (rc == 0) {
		srv->n.frames_out++;
		srv->n.bytes_out += hlen + blen;
	}
	return rc;
}

int conn_sendv(struct conn *c, const uint8_t *head, size_t hlen,
	       const uint8_t *body, size_t blen)
{
	return conn_sendv_shared(c, NULL, head, hlen, body, blen);
}

int conn_number(struct conn *c)
{
	struct server *srv = c->srv;
	char key[24];
	if (c->num)
		return 0;
	if (++srv->last_num == 0)
		srv->last_num = 1;
	uint64_t num = cluster_conn_base(srv) | srv->last_num;
	snprintf(key, sizeof key, "%" PRIu64, num);
	if (!(c->numkey = strdup(key)) || rv_map_put(&srv->by_num, c->numkey, c) < 0) {
		free(c->numkey);
		c->numkey = NULL;
		return -ENOMEM;
	}
	c->num = num;
	return 0;
}

int conn_send(struct conn *c, const uint8_t *frame, size_t len)
{
	return conn_sendv(c, frame, len, NULL, 0);
}

int conn_send_json(struct conn *c, cJSON *hdr)
{
	struct server *srv = c->srv;
	rv_buf_reset(&srv->scratch);
	int rc = rv_frame_append_json(&srv->scratch, hdr, NULL, 0);
	cJSON_Delete(hdr);
	if (rc == 0)
		rc = conn_send(c, rv_buf_head(&srv->scratch), rv_buf_size(&srv->scratch));
	return rc;
}

void conn_error(struct conn *c, uint64_t re, enum rv_code code, const char *msg)
{
	struct server *srv = c->srv;
	rv_buf_reset(&srv->scratch);
	if (rv_frame_append_error(&srv->scratch, re, code, msg) == 0)
		conn_send(c, rv_buf_head(&srv->scratch), rv_buf_size(&srv->scratch));
}

void conn_bye(struct conn *c, enum rv_code code, const char *msg)
{
	const char *wire = rv_code_wire(code);
	if (c->closing)
		return;
	if (!msg)
		msg = rv_code_text(code);
	if (c->state == CONN_RV || c->state == CONN_WS) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "bye");
		cJSON_AddStringToObject(h, "code", wire);
		cJSON_AddStringToObject(h, "message", msg);
		conn_send_json(c, h);
		if (c->ws) {
			rv_ws_close(c->ws, 1000, wire);
			rv_srvconn_ws_flush(&c->s, c->ws, &c->srv->wsbuf);
		}
	}
	if (c->closing)
		return;
	monitor_gone(c, wire, msg);
	c->closing = 1;
	c->state = CONN_DONE;
	c->last_rx = now_ms(c->srv);	/* from now: the closing deadline */
	flow_leave(c);
	rv_stream_end(&c->s);
}

/* The sniffed bytes P[0..N) (in C->in, or the read's) go to FN, SKIP of
 * them left out: out of C->in first, which FN may fill again (TLS hands
 * its plaintext back to sniff). */
static void hand_over(struct conn *c, const uint8_t *p, size_t n, size_t skip,
		      void (*fn)(struct conn *c, const uint8_t *p, size_t n))
{
	uint8_t *copy = NULL;
	if (rv_buf_size(&c->in)) {
		if (!(copy = malloc(n))) {
			conn_drop(c, -ENOMEM);
			return;
		}
		memcpy(copy, p, n);
		p = copy;
		rv_buf_free(&c->in);
	}
	if (n > skip)
		fn(c, p + skip, n - skip);
	free(copy);
}

static void start_tls(struct conn *c, const uint8_t *p, size_t n)
{
	int rc = rv_stream_start_tls(&c->s, c->srv->tls, p, n);
	if (rc < 0)
		conn_drop(c, rc);
}

/* Bytes kept from before (C->in) come first: the new ones *P[0..*N) join
 * them there and *P, *N become all of them. -1 when that passes the cap (C
 * is dropped). */
static int pending(struct conn *c, const uint8_t **p, size_t *n)
{
	if (!rv_buf_size(&c->in))
		return 0;
	if (rv_buf_append(&c->in, *p, *n) < 0) {
		conn_drop(c, RV_ETOOBIG);
		return -1;
	}
	*p = rv_buf_head(&c->in);
	*n = rv_buf_size(&c->in);
	return 0;
}

/* ICE over TCP (RFC 6544): each RFC 4571 frame is one datagram for the
 * WebRTC sessions, as if from the peer's address over UDP. A bad length
 * closes the connection. */
static void ice_input(struct conn *c, const uint8_t *data, size_t len)
{
	struct server *srv = c->srv;
	const uint8_t *p = data, *pkt;
	size_t n = len, plen;
	uint8_t d[RV_SNIFF_STUN_MAX];	/* the datagram, writable (SRTP in place) */
	long k = 0;

	if (pending(c, &p, &n) < 0)
		return;
	while (!c->closing && (k = rv_dgram_next(p, n, sizeof d, &pkt, &plen)) > 0) {
		memcpy(d, pkt, plen);
		p += k;
		n -= (size_t)k;
		srv->n.frames_in++;
		webrtc_tcp_in(srv, c, d, plen);
	}
	if (c->closing)
		return;
	if (k < 0) {
		srv->n.bad_input++;
		rv_info("ICE over TCP: a frame of %u bytes (1 to %d): closing", (unsigned)rv_rd16(p),
			RV_SNIFF_STUN_MAX);
		conn_drop(c, RV_EPROTO);
		return;
	}
	if (rv_buf_size(&c->in))
		rv_buf_consume(&c->in, rv_buf_size(&c->in) - n);
	else if (n && rv_buf_append(&c->in, p, n) < 0)
		conn_drop(c, RV_ETOOBIG);
}

/* The first bytes decide the protocol (lib/sniff): TLS, "RVP1", HTTP, or
 * a framed STUN Binding request (ICE over TCP, while WebRTC is on). */
static void sniff(struct conn *c, const uint8_t *data, size_t len)
{
	struct server *srv = c->srv;
	const uint8_t *p = data;
	size_t n = len;
	unsigned accept = RV_SNIFF_ACCEPT(RV_SNIFF_PREFACE) | RV_SNIFF_ACCEPT(RV_SNIFF_HTTP) |
			  (c->tls_seen ? 0 : RV_SNIFF_ACCEPT(RV_SNIFF_TLS)) |
			  (srv->webrtc && !c->tls_seen ? RV_SNIFF_ACCEPT(RV_SNIFF_STUN) : 0);

	if (pending(c, &p, &n) < 0)
		return;
	/* a cluster trunk (cluster_trunk.c), only in plaintext and with --cluster */
	enum rv_sniff tr = srv->cluster && !c->tls_seen ? rv_sniff(p, n, RV_SNIFF_ACCEPT(RV_SNIFF_PREFACE),
								 RV_TRUNK_PREFACE, RV_TRUNK_PREFACE_LEN) : RV_SNIFF_OTHER;
	if (tr == RV_SNIFF_PREFACE) {
		c->state = CONN_TRUNK;
		hand_over(c, p, n, RV_TRUNK_PREFACE_LEN, cluster_trunk_accept);
		return;
	}
	enum rv_sniff kind = rv_sniff(p, n, accept, RV_PREFACE, RV_PREFACE_LEN);
	if (kind == RV_SNIFF_OTHER && tr == RV_SNIFF_MORE)
		kind = RV_SNIFF_MORE;
	switch (kind) {
	case RV_SNIFF_MORE:
		if (p == data && rv_buf_append(&c->in, data, len) < 0)
			conn_drop(c, RV_ETOOBIG);
		return;
	case RV_SNIFF_TLS:
		if (!srv->tls) {
			srv->n.bad_input++;
			rv_info("TLS ClientHello but no --tls-cert: closing");
			conn_drop(c, RV_ETLS);
			return;
		}
		c->tls_seen = 1;
		hand_over(c, p, n, 0, start_tls);
		return;
	case RV_SNIFF_PREFACE:
		c->state = CONN_RV;
		conn_claim_slot(c);
		hand_over(c, p, n, RV_PREFACE_LEN, proto_input);
		return;
	case RV_SNIFF_HTTP:
		c->state = CONN_HTTP;
		hand_over(c, p, n, 0, http_input);
		return;
	case RV_SNIFF_STUN:
		c->state = CONN_ICE;
		hand_over(c, p, n, 0, ice_input);
		return;
	default:
		srv->n.bad_input++;
		rv_info("unknown protocol: closing");
		conn_drop(c, RV_EPROTO);
	}
}

static void conn_read(struct rv_stream *s, const uint8_t *data, size_t len)
{
	struct conn *c = s->ud;
	c->srv->n.bytes_in += len;
	if (c->client || c->wsess) {	/* before hello (a valid check), last_rx stays the accept time */
		c->last_rx = now_ms(c->srv);
		c->pinged = 0;
	}
	switch (c->state) {
	case CONN_SNIFF: sniff(c, data, len); break;
	case CONN_RV: proto_input(c, data, len); break;
	case CONN_HTTP: http_input(c, data, len); break;
	case CONN_WS: ws_input(c, data, len); break;
	case CONN_ICE: ice_input(c, data, len); break;
	case CONN_TRUNK: cluster_trunk_input(c, data, len); break;
	default: break;
	}
	flow_after_input(c);
}

/* Where C's next read goes: the rest of a bulk frame straight into its
 * frame buffer (rv_frame_room), so file and stream data is never copied
 * on its way through; anything else into the shared read buffer. */
static uint8_t *conn_room(struct rv_stream *s, size_t *len)
{
	struct conn *c = s->ud;
	if (c->state != CONN_RV || c->held || c->closing)
		return NULL;
	return rv_frame_room(&c->in, c->srv->conf.max_frame, len);
}

struct conn *conn_new(struct server *srv, size_t max_queue)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = srv;
	if (rv_stream_init(&srv->io, &c->s, max_queue, conn_read, conn_closed, c) < 0) {
		free(c);
		return NULL;
	}
	rv_buf_init(&c->in, srv->conf.max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + RV_IO_READ_SIZE);
	RV_LIST_PUSH(srv->conns, c);
	srv->nconns++;
	c->last_rx = now_ms(srv);
	return c;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct server *srv = server->data;
	if (status < 0) {
		rv_warn("accept: %s", uv_strerror(status));
		return;
	}
	struct conn *c = conn_new(srv, srv->conf.max_queue);
	if (!c)
		return;
	srv->n.conns_total++;
	if (rv_stream_accept(&c->s, server) < 0 || srv->life.stopping) {
		conn_drop(c, 0);
		return;
	}
	if (srv->conf.max_clients && srv->nconns > srv->conf.max_clients + PROBE_SLOTS) {
		srv->n.refused_full++;
		rv_debug("closing a connection: --max-clients %zu and %d more open",
			 srv->conf.max_clients, PROBE_SLOTS);
		conn_drop(c, 0);
	}
}

void conn_claim_slot(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->client_slot || c->refused || !srv->conf.max_clients)
		return;
	if (srv->nclients >= srv->conf.max_clients) {
		/* Refused, but told why at hello. */
		srv->n.refused_full++;
		c->refused = 1;
		rv_info("refusing a connection: --max-clients %zu reached", srv->conf.max_clients);
		return;
	}
	c->client_slot = 1;
	srv->nclients++;
}

/* Once a second: handshake deadlines, pings, idle timeouts, peer-group expiry. */
static void on_sweep(void *ud, uint64_t now)
{
	struct server *srv = ud;
	uint64_t idle = (uint64_t)(srv->conf.idle_timeout * 1000);
	const struct rv_sweep_conf cf = {
		.handshake_ms = (uint64_t)(srv->conf.handshake_timeout * 1000),
		.idle_ms = idle, .ping_ms = idle / 3, .closing_ms = RV_CLOSE_DEADLINE_MS,
	};

	p2p_sweep(srv, now);

	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (cluster_trunk_up(c))	/* a node's: it lives as long as both nodes */
			continue;
		/* ICE over TCP: a handshake until a valid check, then open while
		 * the consent checks (every ~5 s) come; never pinged */
		enum rv_sweep_phase phase = c->closing ? RV_SWEEP_CLOSING :
					    !c->client && !c->wsess ? RV_SWEEP_HANDSHAKING : RV_SWEEP_OPEN;
		switch (rv_sweep_check(&cf, now, c->last_rx, phase, c->pinged || c->wsess)) {
		case RV_SWEEP_CLOSE:	/* a peer that never reads its goodbye */
			rv_stream_close(&c->s, RV_ETIMEOUT);
			break;
		case RV_SWEEP_HANDSHAKE:
			srv->n.bad_input++;
			if (c->state == CONN_RV || c->state == CONN_WS)
				conn_error(c, 0, RV_CODE_TIMEOUT, NULL);
			conn_bye(c, RV_CODE_TIMEOUT, "handshake timeout");
			if (!c->closing)
				conn_drop(c, RV_ETIMEOUT);
			break;
		case RV_SWEEP_IDLE:
			conn_bye(c, RV_CODE_IDLE, NULL);
			break;
		case RV_SWEEP_PING: {
			cJSON *h = cJSON_CreateObject();
			cJSON_AddStringToObject(h, "type", "ping");
			conn_send_json(c, h);
			c->pinged = 1;
			break;
		}
		default:
			break;
		}
	}
}

/* The stop deadline passed: close what remains. */
static void close_all(void *ud)
{
	struct server *srv = ud;
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		rv_stream_close(&c->s, 0);
	}
}

static void on_stop(void *ud, const char *why)
{
	server_stop(ud, why);
}

static void on_finish(void *ud)
{
	flow_close(ud);
	cluster_stop(ud);
}

void server_stop(struct server *srv, const char *why)
{
	if (!rv_srvlife_stop(&srv->life))
		return;
	rv_info("shutting down (%s), telling %zu connections", why, srv->nconns);
	uv_close((uv_handle_t *)&srv->tcp, NULL);
	webrtc_stop(srv);	/* close_notify out before the UDP port closes */
	udp_stop(srv);
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		conn_bye(c, RV_CODE_SHUTDOWN, NULL);
	}
	/* Give the byes up to a second to leave, then close what remains. */
	rv_srvlife_drain(&srv->life, srv->nconns, RV_STOP_DEADLINE_MS);
}

int server_start(struct server *srv, uv_loop_t *loop, const struct server_conf *conf)
{
	struct sockaddr_storage ss;
	char err[256];
	int rc;

	memset(srv, 0, sizeof *srv);
	srv->udp_fd = -1;
	srv->conf = *conf;
	srv->loop = loop;
	srv->started_ms = (uint64_t)wall_ms();
	rv_buf_init(&srv->scratch, conf->max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER);
	rv_buf_init(&srv->msghead, RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER);
	rv_buf_init(&srv->wsmsg, conf->max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + 16);
	rv_buf_init(&srv->wsbuf, conf->max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + 64);
	rv_router_init(&srv->router, &conf->router, proto_event, srv);
	if ((rc = relay_init(&srv->relay, srv, &srv->router, conf->max_queue, conf->media_drop_rate)) < 0 ||
	    (rc = p2p_start(srv)) < 0 || (rc = endpoints_init(srv)) < 0)
		return rc;
	rv_server_process_init();

	if (conf->auth_secret_file) {
		rc = rv_secret_read(conf->auth_secret_file, srv->secret, sizeof srv->secret, &srv->secret_len);
		if (rc < 0) {
			rv_error("cannot read --auth-secret-file %s: %s", conf->auth_secret_file,
				 rc == -EINVAL ? "empty" : rv_strerror(rc));
			return rc;
		}
	}
	if (conf->tls_cert || conf->tls_key) {
		if (!conf->tls_cert || !conf->tls_key) {
			rv_error("--tls-cert and --tls-key go together");
			return -EINVAL;
		}
		rc = rv_tls_ctx_server_new(&srv->tls, conf->tls_cert, conf->tls_key, NULL, err, sizeof err);
		if (rc < 0) {
			rv_error("TLS: %s", err);
			return rc;
		}
	}
	if ((rc = rv_io_init(&srv->io, loop)) == 0)
		rv_io_set_room(&srv->io, conn_room);
	if (rc < 0 || (rc = cluster_start(srv)) < 0)
		return rc;
	rc = rv_listen_tcp(loop, &srv->tcp, srv, conf->listen, conf->port, on_connection, &srv->bound_port);
	if (rc == -EINVAL) {
		rv_error("cannot listen on '%s': not an IP address", conf->listen);
		return rc;
	}
	if (rc < 0) {
		rv_error("cannot listen on %s port %d: %s", conf->listen, conf->port, uv_strerror(rc));
		return rc;
	}

	int udp_port = conf->udp_port < 0 ? srv->bound_port : conf->udp_port;
	rv_listen_addr(conf->listen, udp_port, &ss);
	const char *why = NULL;
	if (rv_impair_from_env(&srv->impair, uv_hrtime() ^ (uint64_t)getpid() << 32, &why) < 0) {
		rv_error("%s", why);
		return -EINVAL;
	}
	if (srv->impair.loss > 0)
		rv_warn("RV_TEST_IMPAIR: %g %% of the UDP datagrams sent are lost on purpose (tests only)",
			srv->impair.loss * 100);
	if (srv->impair.rx_cost_ms)
		rv_warn("RV_TEST_IMPAIR: each UDP datagram read takes %u ms more on purpose (tests only)",
			srv->impair.rx_cost_ms);
	rc = udp_start(srv, (struct sockaddr *)&ss, &srv->bound_udp_port);
	if (rc == -EADDRINUSE && conf->port == 0 && conf->udp_port < 0) {
		/* --port 0: the number the kernel gave TCP is taken for UDP (by
		 * some client's socket); the kernel picks the UDP port too */
		rv_listen_addr(conf->listen, 0, &ss);
		rc = udp_start(srv, (struct sockaddr *)&ss, &srv->bound_udp_port);
	}
	if (rc < 0) {
		rv_error("cannot bind UDP %s port %d: %s", conf->listen, udp_port, uv_strerror(rc));
		return rc;
	}

	if (!conf->no_webrtc && (rc = webrtc_start(srv, conf->public_ip)) < 0)
		return rc;
	flow_init(srv);
	rv_srvlife_start(&srv->life, loop, &srv->io, 1000, srv, on_sweep, on_stop, close_all, on_finish);

	if (conf->port_file &&
	    (rc = rv_port_file_write(conf->port_file, (int[]){ srv->bound_port, srv->bound_udp_port }, 2)) < 0) {
		rv_error("cannot write --port-file %s: %s", conf->port_file, rv_strerror(rc));
		return rc;
	}
	return 0;
}

void server_free(struct server *srv)
{
	webrtc_free(srv);
	cluster_free(srv);
	p2p_free(srv);
	relay_free(&srv->relay);
	rv_router_free(&srv->router);
	rv_map_free(&srv->by_num);
	rv_buf_free(&srv->scratch);
	rv_buf_free(&srv->msghead);
	rv_buf_free(&srv->wsmsg);
	rv_buf_free(&srv->wsbuf);
	rv_tls_ctx_free(srv->tls);
	free(srv->routes);
}
