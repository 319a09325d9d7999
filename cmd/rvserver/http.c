/* http.c - HTTP on the RV port: health, metrics, stats, WebSocket at /rv. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "server.h"

/* Answer C's request and close it once the answer is out: STATUS, extra
 * header lines HEADERS (NULL-terminated, or NULL), the body. A HEAD request
 * gets the same head without the body. */
static void respond_hdrs(struct conn *c, int status, const char *ctype,
			 const char *const *headers, const char *body, size_t len)
{
	struct rv_buf out;
	c->closing = 1;
	c->state = CONN_DONE;
	rv_buf_init(&out, len + 1024);
	if (rv_http_respond_hdrs(&out, status, ctype, headers, body, len) == 0) {
		if (c->http && strcmp(c->http->method, "HEAD") == 0)
			out.len -= (uint32_t)len;	/* the body is last */
		rv_stream_write(&c->s, rv_buf_head(&out), rv_buf_size(&out));
	}
	rv_buf_free(&out);
	rv_stream_end(&c->s);
}

static void respond(struct conn *c, int status, const char *ctype, const char *body, size_t len)
{
	respond_hdrs(c, status, ctype, NULL, body, len);
}

static void respond_text(struct conn *c, int status, const char *text)
{
	respond(c, status, "text/plain", text, strlen(text));
}

static void metrics(struct conn *c)
{
	struct server *srv = c->srv;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
#define M(name, kind, help, val) \
	rv_buf_printf(&b, "# HELP rvserver_" name " " help "\n# TYPE rvserver_" name " " kind "\n" \
		      "rvserver_" name " %" PRIu64 "\n", (uint64_t)(val))
	M("connections", "gauge", "Open connections.", srv->nconns);
	M("clients", "gauge", "Known client ids.", srv->router.clients.count);
	M("groups", "gauge", "Groups with members.", srv->router.groups.count);
	M("connections_total", "counter", "Connections accepted.", srv->n.conns_total);
	M("frames_in_total", "counter", "Frames received.", srv->n.frames_in);
	M("frames_out_total", "counter", "Frames queued to clients.", srv->n.frames_out);
	M("bytes_in_total", "counter", "Bytes received.", srv->n.bytes_in);
	M("bytes_out_total", "counter", "Bytes queued to clients.", srv->n.bytes_out);
	M("messages_total", "counter", "Messages received from senders.", srv->n.msgs_in);
	M("deliveries_total", "counter", "Messages delivered to receivers.", srv->n.deliveries);
	M("slow_consumer_drops_total", "counter", "Connections dropped for a full output queue.", srv->n.slow_drops);
	M("sender_pauses_total", "counter", "Times a sender was held back for a congested receiver.", srv->n.pauses);
	M("congested_receivers", "gauge", "Receivers past half their output cap.", srv->congested.n);
	M("bad_input_total", "counter", "Connections closed for bad input or timeouts.", srv->n.bad_input);
	M("auth_failures_total", "counter", "Hellos refused for a bad token.", srv->n.auth_failures);
	M("replaced_total", "counter", "Receiving connections replaced by a new login.", srv->n.replaced);
	M("refused_total", "counter", "Connections refused at --max-clients.", srv->n.refused_full);
	M("http_requests_total", "counter", "HTTP requests served.", srv->n.http_requests);
	const struct media *m = &srv->media;
	M("media_streams", "gauge", "Media streams being relayed.", m->nstreams);
	M("media_streams_total", "counter", "Media streams started.", m->n.streams_total);
	M("media_packets_in_total", "counter", "RTP and RTCP packets received from clients.", m->n.packets_in);
	M("media_bytes_in_total", "counter", "Media bytes received.", m->n.bytes_in);
	M("media_packets_out_total", "counter", "Media packets relayed to clients.", m->n.packets_out);
	M("media_bytes_out_total", "counter", "Media bytes relayed.", m->n.bytes_out);
	M("media_drops_total", "counter", "Media packets dropped for a slow or unreachable receiver.", m->n.drops);
	M("media_feedback_total", "counter", "RTCP feedback packets routed back to senders.", m->n.feedback);
	M("media_keyframe_requests_total", "counter", "Keyframes asked of senders for new receivers.", m->n.keyframe_requests);
	M("media_lost", "gauge", "RTP packets of live streams that never reached the server.", media_lost(srv));
	M("media_unknown_total", "counter", "Media packets from no registered address or stream.", m->n.unknown);
	M("media_udp_bursts_total", "counter", "UDP reads that carried a burst of datagrams (GRO).", m->n.udp_bursts);
#undef M
	respond(c, 200, "text/plain; version=0.0.4", (const char *)rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
}

static void stats(struct conn *c)
{
	struct server *srv = c->srv;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "server", "rvserver/" RV_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", (double)((uint64_t)wall_ms() - srv->started_ms) / 1000.0);
	cJSON_AddNumberToObject(o, "connections", (double)srv->nconns);
	cJSON_AddNumberToObject(o, "clients", (double)srv->router.clients.count);
	cJSON_AddNumberToObject(o, "groups", (double)srv->router.groups.count);
	cJSON_AddNumberToObject(o, "connections_total", (double)srv->n.conns_total);
	cJSON_AddNumberToObject(o, "frames_in", (double)srv->n.frames_in);
	cJSON_AddNumberToObject(o, "frames_out", (double)srv->n.frames_out);
	cJSON_AddNumberToObject(o, "bytes_in", (double)srv->n.bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)srv->n.bytes_out);
	cJSON_AddNumberToObject(o, "messages", (double)srv->n.msgs_in);
	cJSON_AddNumberToObject(o, "deliveries", (double)srv->n.deliveries);
	cJSON_AddNumberToObject(o, "slow_consumer_drops", (double)srv->n.slow_drops);
	cJSON_AddNumberToObject(o, "sender_pauses", (double)srv->n.pauses);
	cJSON_AddNumberToObject(o, "congested_receivers", (double)srv->congested.n);
	cJSON_AddNumberToObject(o, "bad_input", (double)srv->n.bad_input);
	cJSON_AddNumberToObject(o, "auth_failures", (double)srv->n.auth_failures);
	cJSON_AddNumberToObject(o, "replaced", (double)srv->n.replaced);
	cJSON_AddNumberToObject(o, "refused", (double)srv->n.refused_full);
	cJSON_AddNumberToObject(o, "port", srv->bound_port);
	cJSON_AddNumberToObject(o, "udp_port", srv->bound_udp_port);
	cJSON_AddBoolToObject(o, "auth", srv->secret_len > 0);
	cJSON_AddBoolToObject(o, "tls", srv->tls != NULL);
	cJSON_AddItemToObject(o, "media", media_stats(srv));
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	size_t n = strlen(s);
	s = realloc(s, n + 2);
	s[n] = '\n';
	respond(c, 200, "application/json", s, n + 1);
	free(s);
}

static void on_ws_message(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct conn *c = ud;
	if (c->closing)
		return;
	if (opcode != RV_WS_BINARY) {
		c->srv->n.bad_input++;
		conn_error_code(c, 0, RV_CODE_BAD_FRAME, "send RV frames as binary WebSocket messages");
		conn_bye(c, RV_CODE_BAD_FRAME, "text message");
		return;
	}
	proto_frame(c, data, len);
}

static void flush_ws(struct conn *c)
{
	struct server *srv = c->srv;
	rv_buf_reset(&srv->wsbuf);
	rv_ws_take(c->ws, &srv->wsbuf);
	if (rv_buf_size(&srv->wsbuf))
		rv_stream_write(&c->s, rv_buf_head(&srv->wsbuf), rv_buf_size(&srv->wsbuf));
}

void ws_input(struct conn *c, const uint8_t *data, size_t len)
{
	int rc = rv_ws_feed(c->ws, data, len);
	if (c->closing)
		return;
	flush_ws(c);	/* pongs, close echoes */
	if (rc < 0) {
		c->srv->n.bad_input++;
		rv_info("WebSocket protocol error: closing");
		c->closing = 1;
		c->state = CONN_DONE;
		rv_stream_end(&c->s);
	} else if (rv_ws_closed(c->ws)) {
		c->closing = 1;
		c->state = CONN_DONE;
		rv_stream_end(&c->s);
	}
}

static void upgrade(struct conn *c, const uint8_t *rest, size_t restlen)
{
	struct server *srv = c->srv;
	struct rv_http_req *req = c->http;
	if (!req->ws_key[0] || req->ws_version != 13) {
		respond_text(c, 400, "bad WebSocket handshake\n");
		return;
	}
	if (rv_ws_new(&c->ws, 1, srv->conf.max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER,
		      on_ws_message, c) < 0) {
		respond_text(c, 500, "out of memory\n");
		return;
	}
	struct rv_buf out;
	rv_buf_init(&out, 4096);
	rv_http_ws_upgrade(&out, req->ws_key, NULL);
	rv_stream_write(&c->s, rv_buf_head(&out), rv_buf_size(&out));
	rv_buf_free(&out);
	rv_http_req_free(c->http);
	free(c->http);
	c->http = NULL;
	c->state = CONN_WS;
	conn_claim_slot(c);	/* a client now: past --max-clients, told at hello */
	if (restlen)
		ws_input(c, rest, restlen);
}

/* ---- routing ---- */

static void healthz(struct conn *c, const uint8_t *rest, size_t restlen)
{
	(void)rest;
	(void)restlen;
	respond_text(c, 200, "ok\n");
}

static void get_metrics(struct conn *c, const uint8_t *rest, size_t restlen)
{
	(void)rest;
	(void)restlen;
	metrics(c);
}

static void get_stats(struct conn *c, const uint8_t *rest, size_t restlen)
{
	(void)rest;
	(void)restlen;
	stats(c);
}

static void websocket(struct conn *c, const uint8_t *rest, size_t restlen)
{
	if (c->http->upgrade_websocket)
		upgrade(c, rest, restlen);
	else
		respond_text(c, 426, "WebSocket upgrade required\n");
}

/* Every path served, and its methods: the answer for any other method is a
 * 405 that lists them in Allow. */
static const struct route {
	const char *path;
	const char *allow;            /* "GET, HEAD" or "GET" */
	void (*serve)(struct conn *c, const uint8_t *rest, size_t restlen);
} routes[] = {
	{ "/healthz", "Allow: GET, HEAD", healthz },
	{ "/metrics", "Allow: GET, HEAD", get_metrics },
	{ "/stats", "Allow: GET, HEAD", get_stats },
	{ "/rv", "Allow: GET", websocket },
};

/* The head of C's request is in (its body may not be, or was refused):
 * answer it. REST: bytes after a complete request (WebSocket frames). */
static void route(struct conn *c, const uint8_t *rest, size_t restlen)
{
	const struct rv_http_req *req = c->http;
	size_t plen = strcspn(req->path, "?");	/* a query string changes nothing */
	const struct route *r = NULL;

	c->srv->n.http_requests++;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !r; i++)
		if (strlen(routes[i].path) == plen && memcmp(routes[i].path, req->path, plen) == 0)
			r = &routes[i];
	if (!r) {
		respond_text(c, 404, "not found\n");
		return;
	}
	int head = strcmp(req->method, "HEAD") == 0;
	if (strcmp(req->method, "GET") != 0 && !(head && strstr(r->allow, "HEAD"))) {
		const char *hdrs[] = { r->allow, NULL };
		static const char text[] = "method not allowed\n";
		respond_hdrs(c, 405, "text/plain", hdrs, text, sizeof text - 1);
		return;
	}
	if (!req->complete) {	/* a body: none of these takes one */
		if (req->err == RV_EHTTP) {
			c->srv->n.bad_input++;
			respond_text(c, 400, "bad request body\n");
		} else {
			respond_text(c, 413, "no request body accepted\n");
		}
		return;
	}
	r->serve(c, rest, restlen);
}

void http_input(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->closing)
		return;
	if (!c->http) {
		c->http = calloc(1, sizeof *c->http);
		if (!c->http || rv_http_req_init(c->http, 0) < 0) {
			rv_stream_close(&c->s, -ENOMEM);
			return;
		}
	}
	long used = rv_http_parse(c->http, (const char *)data, len);
	if (used < 0 && !c->http->head_complete) {	/* the head itself is bad */
		c->srv->n.bad_input++;
		if (used == RV_ETOOBIG)
			respond_text(c, 431, "request header fields too large\n");
		else
			respond_text(c, 400, "bad request\n");
		return;
	}
	if (c->http->head_complete)	/* no endpoint waits for a body */
		route(c, data + (used > 0 ? used : 0), used > 0 ? len - (size_t)used : 0);
}
