/* connect.c - rvsignal connect: a scriptable client. Joins a room if asked,
 * sends each stdin line (a JSON message) as is, prints every message it
 * receives as one JSON line, and ends when the server closes or stdin does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "input.h"
#include "signal.h"
#include "token.h"

struct client {
	uv_loop_t *loop;
	struct rv_io io;
	struct rv_stream *st;
	struct rv_tls_ctx *tls;
	struct rv_ws *ws;
	struct rv_input in;
	uv_timer_t timer;
	uv_timer_t keepalive;         /* the broker has no pings: we send them */
	int auto_pings;               /* their pongs are not printed */
	int tcp, upgraded, joined_sent, done, exit_code, in_open, ready;
	char host[320], path[1024], key[25];
	const char *room, *name;
	char token[2048];
	struct rv_buf head;          /* the upgrade answer, then broker lines */
	struct rv_buf longline;      /* a stdin line longer than rv_input's parts */
};

#define LONG_LINE_MAX (64u << 20)

static void finish(struct client *c, int code)
{
	if (c->done)
		return;
	c->done = 1;
	c->exit_code = code;
	uv_close((uv_handle_t *)&c->keepalive, NULL);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, NULL);
	if (c->in_open)
		rv_input_stop(&c->in);
	rv_io_close(&c->io);
	if (c->st)
		rv_stream_end(c->st);
}

static int send_text(struct client *c, const char *s, size_t n)
{
	if (!c->st || c->done)
		return RV_ECLOSED;
	if (c->tcp) {
		uv_buf_t b[2] = { uv_buf_init((char *)s, (unsigned)n), uv_buf_init("\n", 1) };
		return rv_stream_writev(c->st, b, 2);
	}
	struct rv_buf out;
	rv_buf_init(&out, n + 64);
	int rc = rv_ws_send(c->ws, RV_WS_TEXT, s, n);
	if (rc == 0) {
		rv_ws_take(c->ws, &out);
		rc = rv_stream_write(c->st, rv_buf_head(&out), rv_buf_size(&out));
	}
	rv_buf_free(&out);
	return rc;
}

static void on_line(struct rv_input *in, char *line, size_t len);
static void on_eof(struct rv_input *in, int err);

/* One message from the server: printed as one line; the welcome triggers
 * the join; a refused join ends the program with status 4. */
static void got(struct client *c, const char *s, size_t n)
{
	cJSON *m = cJSON_ParseWithLength(s, n);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "type"));
	if (type && !strcmp(type, "pong") && c->auto_pings > 0) {
		c->auto_pings--;
		cJSON_Delete(m);
		return;
	}
	char *line = m ? cJSON_PrintUnformatted(m) : NULL;
	if (line) {
		rv_out_line("%s", line);
		free(line);
	}
	if (type && !strcmp(type, "welcome") && c->room && !c->joined_sent) {
		c->joined_sent = 1;
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "type", "join");
		cJSON_AddStringToObject(j, "room", c->room);
		if (c->name)
			cJSON_AddStringToObject(j, "name", c->name);
		if (c->token[0])
			cJSON_AddStringToObject(j, "token", c->token);
		char *js = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		send_text(c, js, strlen(js));
		free(js);
	}
	/* stdin is read once the session is ready: after the welcome, or after
	 * the join's answer, so that lines never race ahead of the join */
	if (type && !c->ready && ((!strcmp(type, "welcome") && !c->room) || !strcmp(type, "state"))) {
		c->ready = 1;
		c->in_open = 1;
		if (rv_input_start(&c->in, c->loop, 0, on_line, NULL, on_eof, c) < 0)
			c->in_open = 0;
	}
	const char *re = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "re"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "code"));
	if (type && !strcmp(type, "error") && code && !strcmp(code, "replaced"))
		c->exit_code = RV_EXIT_REPLACED;	/* the close that follows ends us */
	if (type && !strcmp(type, "error") && re && !strcmp(re, "join") && c->room) {
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "message"));
		rv_say_error("join %s: %s", c->room, msg ? msg : "refused");
		finish(c, RV_EXIT_DENIED);
	}
	cJSON_Delete(m);
}

static void on_ws(void *ud, int opcode, const uint8_t *data, size_t len)
{
	(void)opcode;
	got(ud, (const char *)data, len);
}

static void on_read(struct rv_stream *s, const uint8_t *data, size_t len)
{
	struct client *c = s->ud;
	if (c->done)
		return;
	if (!c->tcp && c->upgraded) {
		int rc = rv_ws_feed(c->ws, data, len);
		struct rv_buf out;
		rv_buf_init(&out, 1 << 16);
		rv_ws_take(c->ws, &out);
		if (rv_buf_size(&out))
			rv_stream_write(s, rv_buf_head(&out), rv_buf_size(&out));
		rv_buf_free(&out);
		if (rc < 0 || rv_ws_closed(c->ws))
			finish(c, rc < 0 ? RV_EXIT_FAIL : c->exit_code);
		return;
	}
	if (rv_buf_append(&c->head, data, len) < 0) {
		rv_say_error("the server sent too much at once");
		finish(c, RV_EXIT_FAIL);
		return;
	}
	if (c->tcp) {	/* the broker: one JSON object per line */
		for (;;) {
			const uint8_t *p = rv_buf_head(&c->head);
			const uint8_t *nl = memchr(p, '\n', rv_buf_size(&c->head));
			if (!nl || c->done)
				break;
			got(c, (const char *)p, (size_t)(nl - p));
			rv_buf_consume(&c->head, (size_t)(nl - p) + 1);
		}
		return;
	}
	char err[160];
	long n = rv_http_ws_response((const char *)rv_buf_head(&c->head), rv_buf_size(&c->head), c->key,
				     err, sizeof err);
	if (n == 0)
		return;
	if (n < 0) {
		rv_say_error("%s", err);
		finish(c, RV_EXIT_CONNECT);
		return;
	}
	c->upgraded = 1;
	size_t rest = rv_buf_size(&c->head) - (size_t)n;
	uint8_t *copy = rest ? malloc(rest) : NULL;
	if (copy)
		memcpy(copy, rv_buf_head(&c->head) + n, rest);
	rv_buf_free(&c->head);
	if (copy) {
		on_read(s, copy, rest);
		free(copy);
	}
}

static void on_closed(struct rv_stream *s, int reason)
{
	struct client *c = s->ud;
	free(s);
	c->st = NULL;
	if (!c->done) {
		if (reason && reason != RV_ECLOSED)
			rv_say_error("connection: %s", rv_strerror(reason));
		/* the server closing is a normal end, but for a replaced session */
		finish(c, c->exit_code ? c->exit_code : reason && reason != RV_ECLOSED ? rv_cli_exit_for(reason) : 0);
	}
}

static void on_keepalive(uv_timer_t *t)
{
	struct client *c = t->data;
	static const char ping[] = "{\"type\":\"ping\"}";
	if (send_text(c, ping, sizeof ping - 1) == 0)
		c->auto_pings++;
}

static void on_connected(struct rv_stream *s, int status)
{
	struct client *c = s->ud;
	if (status < 0) {
		rv_say_error("cannot connect to %s: %s", c->host,
			     status == RV_ETLS && s->tls ? rv_tls_errstr(s->tls) : rv_strerror(status));
		c->exit_code = RV_EXIT_CONNECT;
		c->done = 1;
		uv_close((uv_handle_t *)&c->timer, NULL);
		uv_close((uv_handle_t *)&c->keepalive, NULL);
		if (c->in_open)
			rv_input_stop(&c->in);
		rv_io_close(&c->io);
		return;
	}
	uv_timer_stop(&c->timer);
	if (c->tcp) {	/* keep the broker connection from going idle */
		uv_timer_start(&c->keepalive, on_keepalive, 15000, 15000);
		return;
	}
	struct rv_buf req;
	rv_buf_init(&req, 4096);
	rv_http_ws_request(&req, c->host, c->path, c->key);
	rv_stream_write(s, rv_buf_head(&req), rv_buf_size(&req));
	rv_buf_free(&req);
}

/* One stdin line is one message, however long: parts are put together. */
static void on_line(struct rv_input *in, char *line, size_t len)
{
	struct client *c = in->ud;
	struct rv_buf *b = &c->longline;
	if (in->partial || rv_buf_size(b)) {
		if (rv_buf_append(b, line, len) < 0) {
			rv_say_error("a stdin line longer than %u bytes", LONG_LINE_MAX);
			finish(c, RV_EXIT_FAIL);
			return;
		}
		if (in->partial)
			return;
		send_text(c, (const char *)rv_buf_head(b), rv_buf_size(b));
		rv_buf_free(b);
		rv_buf_init(b, LONG_LINE_MAX);
		return;
	}
	if (len)
		send_text(c, line, len);
}

static void on_linger(uv_timer_t *t)
{
	finish(t->data, 0);
}

static void on_eof(struct rv_input *in, int err)
{
	struct client *c = in->ud;
	(void)err;
	c->in_open = 0;
	/* answers may still be on their way */
	uv_timer_start(&c->timer, on_linger, 500, 0);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct client *c = t->data;
	rv_say_error("no connection to %s in time", c->host);
	if (c->st) {
		c->done = 1;
		c->exit_code = RV_EXIT_TIMEOUT;
		uv_close((uv_handle_t *)&c->timer, NULL);
		uv_close((uv_handle_t *)&c->keepalive, NULL);
		if (c->in_open)
			rv_input_stop(&c->in);
		rv_io_close(&c->io);
		rv_stream_close(c->st, RV_ETIMEOUT);
	}
}

int cmd_connect(const struct connect_args *a)
{
	static struct client cl;
	struct client *c = &cl;
	const char *url = a->url, *room = a->room, *name = a->name, *token_file = a->token_file;
	int verbosity = a->verbosity;
	double timeout = a->timeout;
	int tls = 0, port;
	const char *rest;
	if (!strncmp(url, "ws://", 5)) {
		rest = url + 5;
		port = 80;
	} else if (!strncmp(url, "wss://", 6)) {
		rest = url + 6;
		tls = 1;
		port = 443;
	} else if (!strncmp(url, "tcp://", 6)) {
		rest = url + 6;
		c->tcp = 1;
		port = -1;
	} else {
		fprintf(stderr, "rvsignal: connect takes ws://, wss:// or tcp:// URLs\n");
		return RV_EXIT_USAGE;
	}
	const char *slash = strchr(rest, '/');
	char hostport[300];	/* host[:port], and the Host header */
	snprintf(hostport, sizeof hostport, "%.*s", (int)(slash ? slash - rest : (long)strlen(rest)), rest);
	snprintf(c->path, sizeof c->path, "%s", slash ? slash : "/ws");
	snprintf(c->host, sizeof c->host, "%s", hostport);
	char host[320];
	if (rv_parse_hostport(hostport, host, sizeof host, &port) < 0 || port < 0) {
		fprintf(stderr, "rvsignal: bad host or port in '%s'\n", url);
		return RV_EXIT_USAGE;
	}
	c->room = room;
	c->name = name;
	size_t toklen;
	int rc;
	if (token_file && (rc = rv_secret_read(token_file, c->token, sizeof c->token, &toklen)) < 0) {
		fprintf(stderr, "rvsignal: cannot read --token-file %s: %s\n", token_file, rv_strerror(rc));
		return RV_EXIT_USAGE;
	}
	rv_diag_init("rvsignal", verbosity);
	rv_out_init(1);
	c->loop = uv_default_loop();
	rv_io_init(&c->io, c->loop);
	rv_buf_init(&c->head, 1 << 20);
	rv_buf_init(&c->longline, LONG_LINE_MAX);
	if (tls) {
		char msg[256];
		if (rv_tls_ctx_client_new(&c->tls, a->ca, a->insecure, NULL, msg, sizeof msg) < 0) {
			rv_say_error("TLS: %s", msg);
			return RV_EXIT_CONNECT;
		}
	}
	if (!c->tcp && rv_ws_new(&c->ws, 0, 1 << 20, on_ws, c) < 0)
		return RV_EXIT_FAIL;
	c->st = malloc(sizeof *c->st);
	if (!c->st || rv_stream_init(&c->io, c->st, 16u << 20, on_read, on_closed, c) < 0)
		return RV_EXIT_FAIL;
	uv_timer_init(c->loop, &c->timer);
	c->timer.data = c;
	uv_timer_init(c->loop, &c->keepalive);
	c->keepalive.data = c;
	uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)(timeout * 1000), 0);
	if (rv_stream_connect(c->st, host, port, c->tls, on_connected) < 0) {
		rv_say_error("cannot resolve %s", host);
		return RV_EXIT_CONNECT;
	}
	uv_run(c->loop, UV_RUN_DEFAULT);
	rv_ws_free(c->ws);
	rv_buf_free(&c->head);
	rv_buf_free(&c->longline);
	rv_tls_ctx_free(c->tls);
	return c->exit_code;
}
