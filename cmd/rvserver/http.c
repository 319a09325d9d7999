/* http.c - HTTP on the RV port: health, metrics, stats, WebSocket at /rv. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
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

/* ---- /metrics and /stats: one table ---- */

static double nconns(const void *ctx) { return (double)((const struct server *)ctx)->nconns; }
static double nclients(const void *ctx) { return (double)((const struct server *)ctx)->router.clients.count; }
static double ngroups(const void *ctx) { return (double)((const struct server *)ctx)->router.groups.count; }
static double ncongested(const void *ctx) { return (double)((const struct server *)ctx)->congested.n; }
static double port(const void *ctx) { return ((const struct server *)ctx)->bound_port; }
static double udp_port(const void *ctx) { return ((const struct server *)ctx)->bound_udp_port; }

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
	G("uptime_s", "uptime_seconds", "Seconds since the server started.", uptime),
	G("port", "port", "The TCP port the server is bound to.", port),
	G("udp_port", "udp_port", "The UDP port the server is bound to.", udp_port),
};
#undef C
#undef G

static void metrics(struct conn *c)
{
	struct server *srv = c->srv;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	if (rv_metrics_prom(&b, table, sizeof table / sizeof table[0], srv) < 0 || relay_metrics(&srv->relay, &b) < 0)
		respond_text(c, 500, "out of memory\n");
	else
		respond(c, 200, "text/plain; version=0.0.4", (const char *)rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
}

/* The /stats object, or NULL (no memory). */
static cJSON *stats_obj(struct server *srv)
{
	cJSON *o = cJSON_CreateObject();
	if (!cJSON_AddStringToObject(o, "server", "rvserver/" RV_VERSION) ||
	    rv_metrics_json(o, table, sizeof table / sizeof table[0], srv) < 0 ||
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

static void stats(struct conn *c)
{
	cJSON *o = stats_obj(c->srv);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL, *line = NULL;
	cJSON_Delete(o);
	size_t n = s ? strlen(s) : 0;
	if (s && (line = realloc(s, n + 2)))	/* one line: the object and a newline */
		s = NULL;
	free(s);
	if (!line) {
		respond_text(c, 500, "out of memory\n");
		return;
	}
	line[n] = '\n';
	respond(c, 200, "application/json", line, n + 1);
	free(line);
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
