/* endpoints.c - rvserver's HTTP endpoints, rows of lib/httpd's route table:
 * /healthz, /metrics, /stats, and the WebSocket at /rv. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "srvconn.h"
#include "webrtc.h"

/* ---- /metrics and /stats: one table ---- */

static double nconns(const void *ctx) { return (double)((const struct server *)ctx)->nconns; }
static double nclients(const void *ctx) { return (double)((const struct server *)ctx)->router.clients.count; }
static double ngroups(const void *ctx) { return (double)((const struct server *)ctx)->router.groups.count; }
static double ncongested(const void *ctx) { return (double)((const struct server *)ctx)->congested.n; }
static double port(const void *ctx) { return ((const struct server *)ctx)->bound_port; }
static double udp_port(const void *ctx) { return ((const struct server *)ctx)->bound_udp_port; }

static double bus_up(const void *ctx) { return cluster_bus_up(ctx); }
static double bus_reconnects(const void *ctx) { return (double)cluster_reconnects(ctx); }
static double script_reloads(const void *ctx) { return (double)cluster_script_reloads(ctx); }
static double trunks_up(const void *ctx) { return (double)cluster_trunks_up(ctx); }

static double uptime(const void *ctx)
{
	return (double)((uint64_t)wall_ms() - ((const struct server *)ctx)->started_ms) / 1000.0;
}

#define C(key, name, help, member) RV_METRIC_AT(key, "rvserver_" name, help, struct server, member)
#define G(key, name, help, get) RV_METRIC_FN(key, "rvserver_" name, help, get)
/* The server's numbers, the relay's apart (relay_stats.c): each is in /stats under
 * its key and in /metrics under its name, and tests/cli/rvserver.bats checks
 * that the two lists match. */
static const struct rv_metric table[] = {
	G("connections", "connections", "Open connections.", nconns),
	G("clients", "clients", "Known client ids.", nclients),
	G("groups", "groups", "Groups with members.", ngroups),
	C("connections_total", "connections_total", "Connections accepted.", n.conns_total),
	C("frames_in", "frames_in_total", "Frames received.", n.frames_in),
	C("frames_out", "frames_out_total", "Frames queued to clients.", n.frames_out),
	C("bytes_in", "bytes_in_total", "Bytes received.", n.bytes_in),
	C("bytes_out", "bytes_out_total", "Bytes queued to clients.", n.bytes_out),
	C("messages", "messages_total", "Messages received from senders.", n.msgs_in),
	C("deliveries", "deliveries_total", "Messages delivered to receivers.", n.deliveries),
	C("slow_consumer_drops", "slow_consumer_drops_total", "Connections dropped for a full output queue.",
	  n.slow_drops),
	C("sender_pauses", "sender_pauses_total", "Times a sender was held back for a congested receiver.",
	  n.pauses),
	G("congested_receivers", "congested_receivers", "Receivers past half their output cap.", ncongested),
	C("bad_input", "bad_input_total", "Connections closed for bad input or timeouts.", n.bad_input),
	C("auth_failures", "auth_failures_total", "Hellos refused for a bad token.", n.auth_failures),
	C("replaced", "replaced_total", "Receiving connections replaced by a new login.", n.replaced),
	C("refused", "refused_total", "Connections refused at --max-clients.", n.refused_full),
	C("http_requests", "http_requests_total", "HTTP requests served.", n.http_requests),
	C("udp_datagrams_out", "udp_datagrams_out_total",
	  "Datagrams the UDP port sent in its batches (relayed media, WebRTC viewers' packets).", udpq.count.sent),
	C("udp_send_calls", "udp_send_calls_total",
	  "System calls that sent those batches: a sendmmsg for many datagrams (a sendto each once GSO is refused).",
	  udpq.count.calls),
	G("uptime_s", "uptime_seconds", "Seconds since the server started.", uptime),
	G("port", "port", "The TCP port the server is bound to.", port),
	G("udp_port", "udp_port", "The UDP port the server is bound to.", udp_port),
	G("cluster.bus_up", "cluster_bus_up", "1 while the cluster bus (Redis) is connected, else 0.", bus_up),
	G("cluster.bus_connects", "cluster_bus_connects", "Attempts to connect to the cluster bus.", bus_reconnects),
	G("cluster.script_reloads", "cluster_script_reloads",
	  "Times Redis had lost the directory scripts (NOSCRIPT): loaded again, the command sent once more.",
	  script_reloads),
	C("cluster.sent", "cluster_sent_total", "Messages published to other nodes.", n.cl_sent),
	C("cluster.received", "cluster_received_total", "Messages from the bus accepted.", n.cl_received),
	C("cluster.send_failed", "cluster_send_failed_total", "Cross-node sends that failed (bus down); each was reported to its sender.",
	  n.cl_failed),
	C("cluster.remote_offline", "cluster_remote_offline_total", "Messages to an id no node had online.", n.cl_offline),
	C("cluster.bad_messages", "cluster_bad_messages_total", "Bus messages refused: malformed or a bad HMAC.", n.cl_bad),
	C("cluster.evictions_remote", "cluster_evictions_remote_total", "Receivers replaced by a login on another node.",
	  n.cl_evicted),
	C("cluster.reaps", "cluster_reaps_total", "Dead nodes this node reaped.", n.cl_reaps),
	C("cluster.webrtc_redirects", "cluster_webrtc_redirects_total",
	  "WHIP/WHEP POSTs answered 307: the group's media is homed on another node.", n.cl_redirects),
	C("cluster.home_lookups_failed", "cluster_home_lookups_failed_total",
	  "WHIP/WHEP POSTs answered here because the directory could not say where the group's media is.",
	  n.cl_home_failed),
	G("cluster.trunks_up", "cluster_trunks_up", "Trunks to or from other nodes whose handshake completed.", trunks_up),
	C("cluster.trunk_frames_out", "cluster_trunk_frames_out_total", "Frames written to trunks (files, data, acks).",
	  n.tr_frames_out),
	C("cluster.trunk_bytes", "cluster_trunk_bytes_total", "Bytes written to trunks.", n.tr_bytes_out),
	C("cluster.trunk_frames_in", "cluster_trunk_frames_in_total", "Frames received from trunks.", n.tr_frames_in),
	C("cluster.trunk_bytes_in", "cluster_trunk_bytes_in_total", "Bytes received from trunks.", n.tr_bytes_in),
	C("cluster.trunk_refused", "cluster_trunk_refused_total",
	  "Trunk connections refused: no valid proof of the cluster secret (strangers).", n.tr_refused),
	C("cluster.trunk_send_failed", "cluster_trunk_send_failed_total",
	  "Frames no trunk took (none to the node, or its queue full); each was reported to its sender.", n.tr_failed),
	C("cluster.trunk_silent", "cluster_trunk_silent_total",
	  "Trunks closed because their node sent nothing, not even a keepalive, for 3 s (stopped or wedged).",
	  n.tr_silent),
	C("cluster.pipe_packets_out", "cluster_pipe_packets_out_total", "Media datagrams sent down pipes to other nodes.",
	  n.pipe_packets_out),
	C("cluster.pipe_bytes_out", "cluster_pipe_bytes_out_total", "Bytes of media datagrams sent down pipes.",
	  n.pipe_bytes_out),
	C("cluster.pipe_packets_in", "cluster_pipe_packets_in_total", "Media datagrams accepted from other nodes' pipes.",
	  n.pipe_packets_in),
	C("cluster.pipe_bytes_in", "cluster_pipe_bytes_in_total", "Bytes of media datagrams accepted from pipes.",
	  n.pipe_bytes_in),
	C("cluster.pipe_refused", "cluster_pipe_refused_total",
	  "Pipe datagrams and streams refused: a bad head, an unknown stream, a stream that could not be made.",
	  n.pipe_refused),
	C("cluster.pipe_send_failed", "cluster_pipe_send_failed_total",
	  "Pipe datagrams and steps not sent: the peer's pipe address not known yet, too big, or no trunk.",
	  n.pipe_failed),
	C("cluster.pipe_silent", "cluster_pipe_silent_total", "Streams from other nodes ended after 3 s of pipe silence.",
	  n.pipe_silent),
	C("cluster.replays_dropped", "cluster_replays_dropped_total",
	  "Bus messages dropped as duplicates: an (origin, number) seen already, i.e. published again.", n.cl_dup),
	C("cluster.stale_dropped", "cluster_stale_dropped_total",
	  "Bus messages dropped as stale: older or newer than 30 s, or behind the 1024-message window of their origin.",
	  n.cl_stale),
};
#undef C
#undef G

static void get_metrics(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	struct server *srv = c->srv;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	if (rv_metrics_prom(&b, table, sizeof table / sizeof table[0], srv) < 0 || relay_metrics(&srv->relay, &b) < 0 ||
	    p2p_metrics(srv, &b) < 0 || webrtc_metrics(srv, &b) < 0)
		rv_httpd_reply_text(h, 500, "out of memory\n");
	else
		rv_httpd_reply(h, 200, "text/plain; version=0.0.4", NULL, rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
}

/* The /stats object, or NULL (no memory). */
static cJSON *stats_obj(struct server *srv)
{
	cJSON *o = cJSON_CreateObject();
	if (!cJSON_AddStringToObject(o, "server", "rvserver/" RV_VERSION) ||
	    rv_metrics_json(o, table, sizeof table / sizeof table[0], srv) < 0 || p2p_stats(srv, o) < 0 ||
	    webrtc_stats(srv, o) < 0 ||
	    !cJSON_AddBoolToObject(o, "auth", srv->secret_len > 0) ||
	    !cJSON_AddBoolToObject(o, "tls", srv->tls != NULL)) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON *m = relay_stats(&srv->relay);
	if (!m || !cJSON_AddItemToObject(o, "media", m)) {
		cJSON_Delete(m);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void get_stats(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	rv_httpd_reply_json(h, 200, stats_obj(c->srv));
}

/* GET /webrtc: the WebRTC sessions (webrtc_list). */
static void get_webrtc(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	cJSON *o = cJSON_CreateObject(), *list = webrtc_list(c->srv);
	if (!o || !list || !cJSON_AddItemToObject(o, "sessions", list)) {
		cJSON_Delete(list);
		cJSON_Delete(o);
		o = NULL;
	}
	rv_httpd_reply_json(h, 200, o);
}

/* Every path served and its methods, then the room page at / and
 * /room/GROUP and its files (endpoints_init); lib/httpd answers the rest
 * (404, 405 with Allow, 413 for a body, 426 at /rv without an upgrade). */
static const struct rv_httpd_route routes[] = {
	{ "/healthz", RV_HTTPD_GET | RV_HTTPD_HEAD, 0, 0, rv_httpd_healthz, NULL },
	{ "/metrics", RV_HTTPD_GET | RV_HTTPD_HEAD, 0, 0, get_metrics, NULL },
	{ "/stats", RV_HTTPD_GET | RV_HTTPD_HEAD, 0, 0, get_stats, NULL },
	{ "/webrtc", RV_HTTPD_GET | RV_HTTPD_HEAD, 0, 0, get_webrtc, NULL },
	{ "/rv", RV_HTTPD_GET, RV_HTTPD_WEBSOCKET, 0, NULL, NULL },
	{ "/whip/", WHIP_METHODS, RV_HTTPD_PREFIX, WHIP_SDP_MAX, whip_http, NULL },
	{ "/whep/", WHIP_METHODS, RV_HTTPD_PREFIX, WHIP_SDP_MAX, whip_http, NULL },
};

int endpoints_init(struct server *srv)
{
	return rv_httpd_web_routes(routes, sizeof routes / sizeof routes[0], web_files, "/room.html", &srv->routes,
				   &srv->nroutes);
}

static void on_ws_message(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct conn *c = ud;
	if (c->closing)
		return;
	if (opcode != RV_WS_BINARY) {
		c->srv->n.bad_input++;
		conn_error(c, 0, RV_CODE_BAD_FRAME, "send RV frames as binary WebSocket messages");
		conn_bye(c, RV_CODE_BAD_FRAME, "text message");
		return;
	}
	proto_frame(c, data, len);
}

void ws_input(struct conn *c, const uint8_t *data, size_t len)
{
	int rc = rv_srvconn_ws_input(&c->s, c->ws, &c->srv->wsbuf, data, len);
	if (c->closing || rc == 0)
		return;
	if (rc < 0) {
		c->srv->n.bad_input++;
		rv_info("WebSocket protocol error: closing");
	}
	c->closing = 1;
	c->state = CONN_DONE;
	rv_stream_end(&c->s);
}

/* The 101 is out: C speaks RV over WebSocket; REST is its first bytes. */
static void upgraded(struct conn *c, const uint8_t *rest, size_t restlen)
{
	struct server *srv = c->srv;
	rv_srvconn_http_free(&c->http);
	if (rv_ws_new(&c->ws, 1, srv->conf.max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER,
		      on_ws_message, c) < 0) {
		conn_drop(c, -ENOMEM);
		return;
	}
	c->state = CONN_WS;
	conn_claim_slot(c);	/* a client now: past --max-clients, told at hello */
	if (restlen)
		ws_input(c, rest, restlen);
}

void http_input(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->closing)
		return;
	int step = rv_srvconn_http(&c->s, &c->http, c->srv->routes, c->srv->nroutes, data, len, c);
	if (step < 0 || step == RV_HTTPD_MORE)
		return;
	if (step == RV_HTTPD_LATER) {	/* answered later (cluster_home.c) */
		c->srv->n.http_requests++;
		return;
	}
	if (c->http->req.head_complete)
		c->srv->n.http_requests++;
	if (c->http->bad)
		c->srv->n.bad_input++;
	if (step == RV_HTTPD_UPGRADE) {
		size_t rest = c->http->rest;
		upgraded(c, data + len - rest, rest);
		return;
	}
	c->closing = 1;
	c->state = CONN_DONE;
}
