/* httpd.c - a route table over lib/http: matching, the engine's own
 * answers, replies. No I/O: the caller moves the bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "httpd.h"

static const char *const method_names[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
#define NMETHODS (sizeof method_names / sizeof method_names[0])

unsigned rv_httpd_method_bit(const char *method)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (strcmp(method, method_names[i]) == 0)
			return 1u << i;
	return 0;
}

void rv_httpd_allow(unsigned methods, char *buf, size_t len)
{
	size_t at = 0;
	if (!len)
		return;
	int n = snprintf(buf, len, "Allow:");
	at = n > 0 && (size_t)n < len ? (size_t)n : len - 1;
	const char *sep = " ";
	for (size_t i = 0; i < NMETHODS; i++) {
		if (!(methods & (1u << i)))
			continue;
		n = snprintf(buf + at, len - at, "%s%s", sep, method_names[i]);
		at = n > 0 && (size_t)n < len - at ? at + (size_t)n : len - 1;
		sep = ", ";
	}
}

/* Does ROW serve the path P (PLEN bytes, the query string left out)? */
static int route_matches(const struct rv_httpd_route *row, const char *p, size_t plen)
{
	size_t l = strlen(row->path);
	if (row->flags & RV_HTTPD_PREFIX)
		return plen >= l && memcmp(row->path, p, l) == 0;
	return plen == l && memcmp(row->path, p, l) == 0;
}

int rv_httpd_reply(struct rv_httpd *h, int status, const char *ctype,
		   const char *const *headers, const void *body, size_t len)
{
	static const char oom[] = "out of memory\n", notbuilt[] = "reply not built\n";
	rv_buf_reset(&h->out);
	h->step = RV_HTTPD_REPLY;
	int rc = rv_http_respond_hdrs(&h->out, status, ctype, headers, body, len);
	if (rc == 0) {
		h->status = status;
		if (h->head)
			h->out.len -= (uint32_t)len;	/* the body is last */
		return 0;
	}
	const char *text = rc == -EINVAL ? notbuilt : oom;
	h->status = 500;
	if (rv_http_respond(&h->out, 500, "text/plain", text, strlen(text)) == 0 && h->head)
		h->out.len -= (uint32_t)strlen(text);
	return rc;
}

int rv_httpd_reply_text(struct rv_httpd *h, int status, const char *text)
{
	return rv_httpd_reply(h, status, "text/plain", NULL, text, strlen(text));
}

int rv_httpd_reply_json(struct rv_httpd *h, int status, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	size_t n = s ? strlen(s) : 0;
	char *line = s ? realloc(s, n + 2) : NULL;	/* one line: the object and a newline */
	if (!line) {
		free(s);
		rv_httpd_reply_text(h, 500, "out of memory\n");
		return -ENOMEM;
	}
	line[n] = '\n';
	int rc = rv_httpd_reply(h, status, "application/json", NULL, line, n + 1);
	free(line);
	return rc;
}

void rv_httpd_healthz(struct rv_httpd *h, void *ud)
{
	(void)ud;
	rv_httpd_reply_text(h, 200, "ok\n");
}

void rv_httpd_file(struct rv_httpd *h, void *ud)
{
	const struct rv_web_file *f = h->route->arg;
	(void)ud;
	rv_httpd_reply(h, 200, f->type, NULL, f->data, f->len);
}

int rv_httpd_web_routes(const struct rv_httpd_route *fixed, size_t n, const struct rv_web_file *files,
			const char *page, struct rv_httpd_route **out, size_t *nout)
{
	const unsigned get = RV_HTTPD_GET | RV_HTTPD_HEAD;
	const struct rv_web_file *room = NULL;
	size_t nfiles = 0, k = n;
	for (const struct rv_web_file *f = files; f->path; f++, nfiles++)
		if (!strcmp(f->path, page))
			room = f;
	struct rv_httpd_route *r = calloc(n + 2 + nfiles, sizeof *r);
	if (!r)
		return -ENOMEM;
	memcpy(r, fixed, n * sizeof *r);
	if (room) {
		r[k++] = (struct rv_httpd_route){ "/", get, 0, 0, rv_httpd_file, room };
		r[k++] = (struct rv_httpd_route){ "/room/", get, RV_HTTPD_PREFIX, 0, rv_httpd_file, room };
	}
	for (const struct rv_web_file *f = files; f->path; f++)
		r[k++] = (struct rv_httpd_route){ f->path, get, 0, 0, rv_httpd_file, f };
	*out = r;
	*nout = k;
	return 0;
}

/* The head is read: find the row, or answer 404 / 405 now (1: stop). A
 * row found sets this request's body cap. */
static int on_head(struct rv_http_req *req, void *ud)
{
	struct rv_httpd *h = ud;
	size_t plen = strcspn(req->path, "?");
	unsigned want = rv_httpd_method_bit(req->method), allowed = 0;

	h->head = want == RV_HTTPD_HEAD;
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct rv_httpd_route *row = &h->routes[i];
		if (!route_matches(row, req->path, plen))
			continue;
		if (row->methods & want) {
			h->route = row;
			req->body.cap = row->body_cap < RV_BUF_MAX_CAP ? (uint32_t)row->body_cap : RV_BUF_MAX_CAP;
			return 0;
		}
		allowed |= row->methods;
	}
	if (!allowed) {
		rv_httpd_reply_text(h, 404, "not found\n");
		return 1;
	}
	char allow[64];
	rv_httpd_allow(allowed, allow, sizeof allow);
	const char *hdrs[] = { allow, NULL };
	static const char text[] = "method not allowed\n";
	rv_httpd_reply(h, 405, "text/plain", hdrs, text, sizeof text - 1);
	return 1;
}

int rv_httpd_init(struct rv_httpd *h, const struct rv_httpd_route *routes, size_t n)
{
	memset(h, 0, sizeof *h);
	h->routes = routes;
	h->nroutes = n;
	rv_buf_init(&h->out, RV_HTTPD_MAX_REPLY);
	int rc = rv_http_req_init(&h->req, 0);
	h->req.on_head = on_head;
	h->req.on_head_ud = h;
	return rc;
}

void rv_httpd_free(struct rv_httpd *h)
{
	rv_http_req_free(&h->req);
	rv_buf_free(&h->out);
}

/* A WEBSOCKET row's complete request: the 101, or why not. */
static void upgrade(struct rv_httpd *h, size_t rest)
{
	const struct rv_http_req *req = &h->req;
	if (!req->upgrade_websocket) {
		rv_httpd_reply_text(h, 426, "WebSocket upgrade required\n");
		return;
	}
	if (!req->ws_key[0] || req->ws_version != 13) {
		rv_httpd_reply_text(h, 400, "bad WebSocket handshake\n");
		return;
	}
	rv_buf_reset(&h->out);
	if (rv_http_ws_upgrade(&h->out, req->ws_key, NULL) < 0) {
		rv_httpd_reply_text(h, 400, "bad WebSocket handshake\n");
		return;
	}
	h->status = 101;
	h->rest = rest;
	h->step = RV_HTTPD_UPGRADE;
}

/* The head is bad (ERR), or the body is: the engine's answer. */
static void refuse(struct rv_httpd *h, long err)
{
	if (!h->req.head_complete) {
		h->bad = 1;
		if (err == RV_ETOOBIG)
			rv_httpd_reply_text(h, 431, "request header fields too large\n");
		else
			rv_httpd_reply_text(h, 400, "bad request\n");
	} else if (err == RV_ETOOBIG) {
		rv_httpd_reply_text(h, 413, h->route && h->route->body_cap ? "request body too large\n"
						      : "no request body accepted\n");
	} else {
		h->bad = 1;
		rv_httpd_reply_text(h, 400, "bad request body\n");
	}
}

void rv_httpd_defer(struct rv_httpd *h)
{
	if (h->step == RV_HTTPD_MORE)
		h->step = RV_HTTPD_LATER;
}

enum rv_httpd_step rv_httpd_feed(struct rv_httpd *h, const uint8_t *data, size_t len, void *ud)
{
	if (h->step != RV_HTTPD_MORE)
		return h->step;
	long used = rv_http_parse(&h->req, (const char *)data, len);
	if (h->step != RV_HTTPD_MORE)	/* answered from the head */
		return h->step;
	if (used < 0) {
		refuse(h, used);
		return h->step;
	}
	if (!h->req.complete)
		return RV_HTTPD_MORE;
	if (!h->route) {	/* cannot happen: a complete head found its row */
		rv_httpd_reply_text(h, 500, "no route\n");
		return h->step;
	}
	if (h->route->flags & RV_HTTPD_WEBSOCKET) {
		upgrade(h, len - (size_t)used);
		return h->step;
	}
	h->route->fn(h, ud);
	if (h->step == RV_HTTPD_MORE)	/* the handler said nothing */
		rv_httpd_reply_text(h, 500, "no reply\n");
	return h->step;
}
