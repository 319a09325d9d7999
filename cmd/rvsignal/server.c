/* server.c - rvsignal's listeners and connections: TLS sniffing, HTTP (the
 * room page, health, metrics, stats), WebSocket at /ws, and the raw-TCP
 * broker's newline-delimited JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dlist.h"
#include "err.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "portfile.h"
#include "signal.h"
#include "sniff.h"
#include "srvconn.h"
#include "token.h"

/* --json events go through the CLI printer (main.c sets it to keep
 * running): when stdout's reader goes away, events stop with one warning
 * and the server goes on serving. */
void sig_event(struct sig *g, const char *event, const char *id, cJSON *extra)
{
	if (!g->conf.json || rv_out_failed()) {
		cJSON_Delete(extra);
		return;
	}
	cJSON *o = extra ? extra : cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	if (id)
		cJSON_AddStringToObject(o, "id", id);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cJSON_AddNumberToObject(o, "time", (double)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	rv_out_obj(o);
	if (rv_out_failed())
		rv_warn("stdout: %s; --json events are no longer printed", rv_strerror(rv_out_failed()));
}

static void conn_closed(struct rv_stream *s, int reason)
{
	struct conn *c = s->ud;
	struct sig *g = c->sig;
	(void)reason;
	hook_forget(c);
	sigcl_conn_closed(c);
	if (c->peer)
		peer_detach(c);
	RV_LIST_UNLINK(g->conns, c);
	g->nconns--;
	rv_srvconn_http_free(&c->http);
	rv_ws_free(c->ws);
	rv_buf_free(&c->in);
	free(c);
	rv_srvlife_closed(&g->life, g->nconns);
}

void conn_close(struct conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->kind = C_DONE;
	c->last_rx = uv_now(c->sig->loop);	/* from now: the closing deadline */
	if (why)
		rv_debug("closing a connection: %s", why);
	if (c->ws) {
		rv_ws_close(c->ws, 1000, why ? why : "");
		rv_srvconn_ws_flush(&c->s, c->ws, &c->sig->wsbuf);
	}
	rv_stream_end(&c->s);
}

int conn_send_text(struct conn *c, const char *s, size_t n)
{
	return conn_send_fanout(c, s, n, NULL);
}

int conn_send_fanout(struct conn *c, const char *s, size_t n, struct rv_buf *frame)
{
	if (c->closing || (c->kind != C_WS && c->kind != C_BROKER))
		return RV_ECLOSED;
	int rc;
	if (c->kind == C_WS) {
		rc = rv_srvconn_ws_send(&c->s, c->ws, frame, &c->sig->wsbuf, RV_WS_TEXT,
					(const uint8_t *)s, n, NULL, 0);
	} else {
		uv_buf_t b[2] = { uv_buf_init((char *)s, (unsigned)n), uv_buf_init("\n", 1) };
		rc = rv_stream_writev(&c->s, b, 2);
	}
	if (rc == RV_ETOOBIG) {	/* it does not read: drop it, never the server */
		c->sig->n.slow_drops++;
		rv_info("dropping a slow peer (%zu bytes queued)", rv_stream_queued(&c->s));
		c->closing = 1;
		rv_stream_close(&c->s, RV_ETOOBIG);
	}
	return rc;
}

int conn_send(struct conn *c, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (!s)
		return -ENOMEM;
	int rc = conn_send_text(c, s, strlen(s));
	free(s);
	return rc;
}

/* ---- /metrics and /stats: one table ---- */

static double nconns(const void *ctx) { return (double)((const struct sig *)ctx)->nconns; }
static double npeers(const void *ctx) { return (double)((const struct sig *)ctx)->peers.count; }
static double nrooms(const void *ctx) { return (double)((const struct sig *)ctx)->rooms.count; }
static double nkept(const void *ctx) { return (double)((const struct sig *)ctx)->nkept; }
static double port(const void *ctx) { return ((const struct sig *)ctx)->bound_port; }
static double broker_port(const void *ctx) { return ((const struct sig *)ctx)->bound_broker; }
static double bus_up(const void *ctx) { return sigcl_bus_up(ctx); }

#define C(key, help) RV_METRIC_AT(#key, "rvsignal_" #key "_total", help, struct sig, n.key)
#define G(key, help, get) RV_METRIC_FN(#key, "rvsignal_" #key, help, get)
#define CL(key, name, help, member) RV_METRIC_AT(key, "rvsignal_" name, help, struct sig, n.member)
/* Each number is in /stats under its key and in /metrics as rvsignal_KEY
 * (counters: rvsignal_KEY_total); tests/cli/rvsignal.bats checks that the two
 * lists match. */
static const struct rv_metric table[] = {
	G(connections, "Open connections.", nconns),
	G(peers, "Peers, detached ones included.", npeers),
	G(rooms, "Rooms with members.", nrooms),
	G(resumable, "Detached sessions kept for a resume.", nkept),
	C(connects, "Peers connected."),
	C(joins, "Room joins."),
	C(messages, "Messages received from peers."),
	C(delivered, "Messages delivered to peers."),
	C(errors, "Errors sent to peers, and bad input."),
	C(rate_limited, "Messages refused past --rate."),
	C(slow_drops, "Peers dropped for a full output queue."),
	C(resumes, "Sessions taken back with a resume token."),
	C(denied, "Joins refused for a token or by the --on-join hook."),
	G(port, "The HTTP and WebSocket port the server is bound to.", port),
	G(broker_port, "The raw-TCP port the server is bound to.", broker_port),
	/* --cluster (cluster.c): as rvserver's */
	RV_METRIC_FN("cluster.bus_up", "rvsignal_cluster_bus_up", "1 while the cluster bus (Redis) is connected, else 0.",
		     bus_up),
	CL("cluster.sent", "cluster_sent_total", "Messages published to other nodes.", cl_sent),
	CL("cluster.received", "cluster_received_total", "Messages from the bus accepted.", cl_received),
	CL("cluster.send_failed", "cluster_send_failed_total",
	   "Cross-node sends that failed (bus down); each was reported to its sender.", cl_failed),
	CL("cluster.remote_offline", "cluster_remote_offline_total", "Messages to a peer no node had.", cl_offline),
	CL("cluster.bad_messages", "cluster_bad_messages_total", "Bus messages refused: malformed or a bad HMAC.", cl_bad),
	CL("cluster.reaps", "cluster_reaps_total", "Dead nodes this node reaped.", cl_reaps),
	CL("cluster.resumes_remote", "cluster_resumes_remote_total", "Sessions resumed here from another node.",
	   cl_resumes),
	CL("cluster.handovers", "cluster_handovers_total", "Sessions of this node resumed on another node.",
	   cl_handovers),
	CL("cluster.replays_dropped", "cluster_replays_dropped_total",
	   "Bus messages dropped as duplicates: an (origin, number) seen already, i.e. published again.", cl_dup),
	CL("cluster.stale_dropped", "cluster_stale_dropped_total",
	   "Bus messages dropped as stale: older or newer than 30 s, or behind the 1024-message window of their origin.",
	   cl_stale),
};
#undef C
#undef G
#undef CL

/* The /stats object, or NULL (no memory). */
static cJSON *stats_obj(struct sig *g)
{
	cJSON *o = cJSON_CreateObject();
	if (!cJSON_AddStringToObject(o, "server", "rvsignal/" RV_VERSION) ||
	    rv_metrics_json(o, table, sizeof table / sizeof table[0], g) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void get_metrics(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 16);
	if (rv_metrics_prom(&b, table, sizeof table / sizeof table[0], c->sig) < 0)
		rv_httpd_reply_text(h, 500, "out of memory\n");
	else
		rv_httpd_reply(h, 200, "text/plain; version=0.0.4", NULL, rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
}

static void get_stats(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	rv_httpd_reply_json(h, 200, stats_obj(c->sig));
}

/* The room page and its assets (web/, in the binary): the row's file. */
#define GET_HEAD (RV_HTTPD_GET | RV_HTTPD_HEAD)

/* The routes: the endpoints, / and /room/NAME for the room page, then a row
 * per file of web/. lib/httpd answers the rest (404, 405 with Allow, 413,
 * 426 at /ws without an upgrade). */
static int routes_make(struct sig *g)
{
	static const struct rv_httpd_route fixed[] = {
		{ "/healthz", GET_HEAD, 0, 0, rv_httpd_healthz, NULL },
		{ "/metrics", GET_HEAD, 0, 0, get_metrics, NULL },
		{ "/stats", GET_HEAD, 0, 0, get_stats, NULL },
		{ "/ws", RV_HTTPD_GET, RV_HTTPD_WEBSOCKET, 0, NULL, NULL },
	};
	return rv_httpd_web_routes(fixed, sizeof fixed / sizeof fixed[0], web_files, "/room.html", &g->routes,
				   &g->nroutes);
}

static void ws_message(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct conn *c = ud;
	if (c->closing)
		return;
	if (opcode != RV_WS_TEXT) {
		send_error(c, "bad-request", "send JSON as text messages", NULL);
		return;
	}
	peer_message(c, (const char *)data, len);
}

static void ws_input(struct conn *c, const uint8_t *data, size_t len)
{
	int rc = rv_srvconn_ws_input(&c->s, c->ws, &c->sig->wsbuf, data, len);
	if (c->closing || rc == 0)
		return;
	if (rc < 0)
		c->sig->n.errors++;
	c->closing = 1;
	c->kind = C_DONE;
	rv_stream_end(&c->s);
}

/* The 101 is out: C is a peer; REST is its first WebSocket bytes. */
static void upgraded(struct conn *c, const uint8_t *rest, size_t restlen)
{
	/* /ws?resume=TOKEN takes the old identity back */
	char token[64] = "";
	const char *q = strstr(c->http->req.path, "?resume=");
	if (q)
		snprintf(token, sizeof token, "%.*s", (int)strcspn(q + 8, "&"), q + 8);
	rv_srvconn_http_free(&c->http);
	if (rv_ws_new(&c->ws, 1, c->sig->conf.max_message, ws_message, c) < 0) {
		c->closing = 1;
		rv_stream_close(&c->s, -ENOMEM);
		return;
	}
	c->kind = C_WS;
	peer_hello(c, token[0] ? token : NULL);
	if (restlen && !c->closing)
		ws_input(c, rest, restlen);
}

static void http_input(struct conn *c, const uint8_t *data, size_t len)
{
	struct sig *g = c->sig;
	int step = rv_srvconn_http(&c->s, &c->http, g->routes, g->nroutes, data, len, c);
	if (step < 0 || step == RV_HTTPD_MORE)
		return;
	if (c->http->bad)
		g->n.errors++;
	if (step == RV_HTTPD_UPGRADE) {
		size_t rest = c->http->rest;
		upgraded(c, data + len - rest, rest);
		return;
	}
	c->closing = 1;
	c->kind = C_DONE;
}

/* ---- broker: one JSON object per line ---- */

/* One line at a time: whole lines are handled where they lie in the read
 * buffer; only a line not yet complete is kept, and only it counts against
 * --max-message. */
static void line(struct conn *c, const uint8_t *p, size_t l)
{
	if (l && p[l - 1] == '\r')
		l--;
	if (l)
		peer_message(c, (const char *)p, l);
}

static void broker_input(struct conn *c, const uint8_t *data, size_t len)
{
	while (len && !c->closing) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (rv_buf_size(&c->in) || !nl) {	/* continues a kept line, or starts one */
			if (rv_buf_append(&c->in, data, take) < 0) {
				send_error(c, "too-large", "message too long (--max-message)", NULL);
				conn_close(c, "line too long");
				return;
			}
			if (nl) {
				line(c, rv_buf_head(&c->in), rv_buf_size(&c->in));
				rv_buf_free(&c->in);
			}
		} else {
			if (take > c->sig->conf.max_message) {
				send_error(c, "too-large", "message too long (--max-message)", NULL);
				conn_close(c, "line too long");
				return;
			}
			line(c, data, take);
		}
		if (!nl)
			break;
		data += take + 1;
		len -= take + 1;
	}
}

/* ---- sniffing ---- */

static void conn_read(struct rv_stream *s, const uint8_t *data, size_t len)
{
	struct conn *c = s->ud;
	c->last_rx = uv_now(c->sig->loop);
	c->pinged = 0;
	/* Only TLS is sniffed (lib/sniff): the rest is the port's protocol. */
	unsigned accept = c->sig->tls && !c->tls_seen ? RV_SNIFF_ACCEPT(RV_SNIFF_TLS) : 0;
	if (c->kind == C_SNIFF && rv_sniff(data, len, accept, NULL, 0) == RV_SNIFF_TLS) {
		c->tls_seen = 1;
		if (rv_stream_start_tls(s, c->sig->tls, data, len) < 0)
			rv_stream_close(s, RV_ETLS);
		return;
	}
	if (c->kind == C_SNIFF) {
		if (c->broker) {
			c->kind = C_BROKER;
			peer_hello(c, NULL);
			if (c->closing)
				return;
		} else {
			c->kind = C_HTTP;
		}
	}
	switch (c->kind) {
	case C_HTTP: http_input(c, data, len); break;
	case C_WS: ws_input(c, data, len); break;
	case C_BROKER: broker_input(c, data, len); break;
	default: break;
	}
}

/* The client's IP address (no port) into C->addr: sessions kept for a
 * resume are counted per address. */
static void client_addr(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	snprintf(c->addr, sizeof c->addr, "?");
	if (uv_tcp_getpeername(&c->s.tcp, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->addr, sizeof c->addr);
	else if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, c->addr, sizeof c->addr);
}

static void accept_conn(uv_stream_t *server, int broker)
{
	struct sig *g = server->data;
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->sig = g;
	c->broker = broker;
	if (rv_stream_init(&g->io, &c->s, g->conf.max_queue, conn_read, conn_closed, c) < 0) {
		free(c);
		return;
	}
	rv_buf_init(&c->in, g->conf.max_message + 2);
	RV_LIST_PUSH(g->conns, c);
	g->nconns++;
	c->last_rx = uv_now(g->loop);
	c->tokens = g->conf.rate * 2;
	c->tokens_at = c->last_rx;
	if (rv_stream_accept(&c->s, server) < 0 || g->life.stopping) {
		c->closing = 1;
		rv_stream_close(&c->s, 0);
		return;
	}
	client_addr(c);
	/* On a plain broker the server speaks first. With TLS it waits for a
	 * ClientHello; the sweep greets a plain client that stays silent. */
	if (broker && !g->tls) {
		c->kind = C_BROKER;
		peer_hello(c, NULL);
	}
}

static void on_ws_conn(uv_stream_t *server, int status)
{
	if (status == 0)
		accept_conn(server, 0);
}

static void on_broker_conn(uv_stream_t *server, int status)
{
	if (status == 0)
		accept_conn(server, 1);
}

/* Every 200 ms: greetings for silent broker clients, handshake, idle and
 * closing deadlines, pings, the resume window. */
static void on_sweep(void *ud, uint64_t now)
{
	struct sig *g = ud;
	uint64_t idle = (uint64_t)(g->conf.idle_timeout * 1000);
	const struct rv_sweep_conf cf = {
		/* a request (or a first byte) within 10 s, or the idle timeout if shorter */
		.handshake_ms = idle && idle < 10000 ? idle : 10000,
		.idle_ms = idle, .ping_ms = (uint64_t)(g->conf.ping * 1000), .closing_ms = RV_CLOSE_DEADLINE_MS,
	};
	for (struct conn *c = g->conns, *next; c; c = next) {
		next = c->next;
		if (!c->closing && c->kind == C_SNIFF && c->broker && now - c->last_rx >= 200) {
			c->kind = C_BROKER;	/* a plain broker client that waits to be greeted */
			peer_hello(c, NULL);
			continue;
		}
		enum rv_sweep_phase phase = c->closing ? RV_SWEEP_CLOSING :
					    c->kind == C_SNIFF || c->kind == C_HTTP ? RV_SWEEP_HANDSHAKING : RV_SWEEP_OPEN;
		switch (rv_sweep_check(&cf, now, c->last_rx, phase, c->pinged)) {
		case RV_SWEEP_CLOSE:	/* a peer that never reads its goodbye */
		case RV_SWEEP_HANDSHAKE:
			rv_stream_close(&c->s, RV_ETIMEOUT);
			break;
		case RV_SWEEP_IDLE:
			conn_close(c, "idle timeout");
			break;
		case RV_SWEEP_PING:
			if (c->kind != C_WS)
				break;
			rv_ws_ping(c->ws);
			rv_srvconn_ws_flush(&c->s, c->ws, &g->wsbuf);
			c->pinged = 1;
			break;
		default:
			break;
		}
	}
	peers_sweep(g, now);
}

/* The stop deadline passed: close what remains. */
static void close_all(void *ud)
{
	struct sig *g = ud;
	for (struct conn *c = g->conns, *next; c; c = next) {
		next = c->next;
		rv_stream_close(&c->s, 0);
	}
}

static void on_stop(void *ud, const char *why)
{
	struct sig *g = ud;
	if (!rv_srvlife_stop(&g->life))
		return;
	rv_debug("shutting down (%s), telling %zu connections", why, g->nconns);
	uv_close((uv_handle_t *)&g->tcp, NULL);
	if (g->conf.broker_port >= 0)
		uv_close((uv_handle_t *)&g->broker, NULL);
	g->conf.resume_window = 0;	/* nobody comes back now */
	for (struct conn *c = g->conns, *next; c; c = next) {
		next = c->next;
		if (g->cl && c->peer)	/* its sessions leave the cluster's rooms before the bus closes */
			peer_detach(c);
		conn_close(c, "server shutting down");
	}
	peers_sweep(g, UINT64_MAX);
	sigcl_stop(g);
	/* Give the goodbyes up to a second to leave, then close what remains. */
	rv_srvlife_drain(&g->life, g->nconns, RV_STOP_DEADLINE_MS);
}

static int listen_on(struct sig *g, uv_tcp_t *h, int port, uv_connection_cb cb, int *bound)
{
	int rc = rv_listen_tcp(g->loop, h, g, g->conf.listen, port, cb, bound);
	if (rc == -EINVAL)
		rv_error("cannot listen on '%s': not an IP address", g->conf.listen);
	else if (rc < 0)
		rv_error("cannot listen on %s port %d: %s", g->conf.listen, port, uv_strerror(rc));
	return rc;
}

int sig_start(struct sig *g, uv_loop_t *loop, const struct sig_conf *conf)
{
	char err[256];
	int rc;
	memset(g, 0, sizeof *g);
	g->conf = *conf;
	g->loop = loop;
	/* many connections; an EPIPE (a peer that resets while we write, or an
	 * --on-join hook that exits without reading its stdin) costs that
	 * stream only */
	rv_server_process_init();
	rv_buf_init(&g->wsbuf, conf->max_queue + 64);
	rv_buf_init(&g->wsframe, conf->max_queue + 64);
	if ((rc = routes_make(g)) < 0)
		return rc;
	if (conf->turn_secret_file &&
	    (rc = rv_secret_read(conf->turn_secret_file, g->turn_secret, sizeof g->turn_secret, &g->turn_secret_len)) < 0) {
		rv_error("cannot read --turn-secret-file %s: %s", conf->turn_secret_file, rv_strerror(rc));
		return rc;
	}
	if (conf->token_secret_file &&
	    (rc = rv_secret_read(conf->token_secret_file, g->token_secret, sizeof g->token_secret, &g->token_secret_len)) < 0) {
		rv_error("cannot read --token-secret-file %s: %s", conf->token_secret_file, rv_strerror(rc));
		return rc;
	}
	if (conf->tls_cert || conf->tls_key) {
		if (!conf->tls_cert || !conf->tls_key) {
			rv_error("--tls-cert and --tls-key go together");
			return -EINVAL;
		}
		if (rv_tls_ctx_server_new(&g->tls, conf->tls_cert, conf->tls_key, NULL, err, sizeof err) < 0) {
			rv_error("TLS: %s", err);
			return -EINVAL;
		}
	}
	if ((rc = rv_io_init(&g->io, loop)) < 0)
		return rc;
	if ((rc = listen_on(g, &g->tcp, conf->port, on_ws_conn, &g->bound_port)) < 0)
		return rc;
	if (conf->broker_port >= 0 &&
	    (rc = listen_on(g, &g->broker, conf->broker_port, on_broker_conn, &g->bound_broker)) < 0)
		return rc;
	if ((rc = sigcl_start(g)) < 0)
		return rc;
	rv_srvlife_start(&g->life, loop, &g->io, 200, g, on_sweep, on_stop, close_all, NULL);
	if (conf->port_file &&
	    (rc = rv_port_file_write(conf->port_file, (int[]){ g->bound_port, g->bound_broker }, 2)) < 0) {
		rv_error("cannot write --port-file %s: %s", conf->port_file, rv_strerror(rc));
		return rc;
	}
	return 0;
}

void sig_free(struct sig *g)
{
	peers_free(g);
	sigcl_free(g);
	rv_tls_ctx_free(g->tls);
	free(g->routes);
	rv_buf_free(&g->wsbuf);
	rv_buf_free(&g->wsframe);
}
