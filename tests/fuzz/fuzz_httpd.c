/* fuzz_httpd.c - libFuzzer harness for the shared server layer's engines:
 * protocol sniffing (lib/sniff.c) and the HTTP route table with its
 * replies (lib/httpd.c, over lib/http.c), the real code both servers run.
 *
 * Input grammar:
 *   byte 0     the feed size: bytes are fed in pieces of (byte 0 % 64) + 1
 *   byte 1     sniff's ACCEPT bits (bit 0 TLS, bit 1 preface, bit 2 HTTP,
 *              as RV_SNIFF_ACCEPT of each)
 *   the rest   what a peer sends on a fresh connection
 * The bytes grow piece by piece through rv_sniff (preface "RVP1") until it
 * decides; whatever it decides, the same bytes are then read as an HTTP
 * request by a route table like the servers' (exact rows, a prefix row, a
 * WebSocket row, rows with and without a body cap, handlers that reply
 * text, JSON, extra headers, or nothing).
 *
 * Invariants (abort on breach): sniff's decision never changes once made
 * and needs at most 4 bytes; the engine's step never goes back to MORE and
 * the reply stays the same once decided; a decided request has a status
 * of 101..599 and bytes that start with its status line; a reply closes the
 * connection; 405 carries Allow; a HEAD reply has no body; an UPGRADE
 * comes from the WebSocket row with its rest within the last piece; a
 * handler sees a whole body within its row's cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void text(struct rv_httpd *h, void *ud)
{
	(void)ud;
	if (!h->req.complete || rv_buf_size(&h->req.body) > h->route->body_cap)
		abort();
	rv_httpd_reply_text(h, 200, "ok\n");
}

static void echo(struct rv_httpd *h, void *ud)
{
	(void)ud;
	if (rv_buf_size(&h->req.body) > h->route->body_cap)
		abort();
	/* the path as a header: refused (a 500) when it holds a control byte */
	char loc[RV_HTTP_MAX_PATH + 16];
	snprintf(loc, sizeof loc, "Location: %s", h->req.path);
	const char *hdrs[] = { loc, NULL };
	rv_httpd_reply(h, 201, "application/sdp", hdrs, rv_buf_head(&h->req.body), rv_buf_size(&h->req.body));
}

static void json(struct rv_httpd *h, void *ud)
{
	(void)ud;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", h->req.path);
	rv_httpd_reply_json(h, 200, o);
}

static void nothing(struct rv_httpd *h, void *ud)
{
	(void)h;
	(void)ud;
}

#define GH (RV_HTTPD_GET | RV_HTTPD_HEAD)

static const struct rv_httpd_route routes[] = {
	{ "/healthz", GH, 0, 0, text, NULL },
	{ "/stats", GH, 0, 0, json, NULL },
	{ "/rv", RV_HTTPD_GET, RV_HTTPD_WEBSOCKET, 0, NULL, NULL },
	{ "/whip", RV_HTTPD_POST, 0, 256, echo, NULL },
	{ "/whip/", RV_HTTPD_PATCH | RV_HTTPD_DELETE, RV_HTTPD_PREFIX, 64, echo, NULL },
	{ "/room/", GH | RV_HTTPD_PUT, RV_HTTPD_PREFIX, 32, text, NULL },
	{ "/quiet", RV_HTTPD_GET, 0, 0, nothing, NULL },
};

static void check_sniff(const uint8_t *p, size_t n, size_t step, unsigned accept)
{
	enum rv_sniff first = RV_SNIFF_MORE;
	for (size_t k = 0;; k = k + step < n ? k + step : n) {
		enum rv_sniff d = rv_sniff(p, k, accept, "RVP1", 4);
		if (first == RV_SNIFF_MORE)
			first = d;
		else if (d != first)
			abort();	/* a decision changed with more bytes */
		if (d == RV_SNIFF_MORE && k >= 4)
			abort();	/* 4 bytes decide */
		if (k == n)
			break;
	}
}

static void check_reply(const struct rv_httpd *h, enum rv_httpd_step st, size_t last)
{
	const char *o = (const char *)rv_buf_head(&h->out);
	size_t n = rv_buf_size(&h->out);
	if (h->status < 101 || h->status > 599)
		abort();
	char line[32];
	int l = snprintf(line, sizeof line, "HTTP/1.1 %d ", h->status);
	if (n < (size_t)l || memcmp(o, line, (size_t)l) != 0)
		abort();
	if (!memmem(o, n, "\r\n\r\n", 4))
		abort();
	if (st == RV_HTTPD_UPGRADE) {
		if (!h->route || !(h->route->flags & RV_HTTPD_WEBSOCKET) || h->status != 101 || h->rest > last)
			abort();
		return;
	}
	if (!memmem(o, n, "\r\nConnection: close\r\n", 21))
		abort();
	if (h->status == 405 && !memmem(o, n, "\r\nAllow: ", 9))
		abort();
	if (h->head && memcmp(o + n - 4, "\r\n\r\n", 4) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	unsigned accept = data[1] & 7u;	/* RV_SNIFF_ACCEPT(TLS, PREFACE, HTTP) */
	const uint8_t *p = data + 2;
	size_t len = size - 2;

	check_sniff(p, len, step, accept);

	struct rv_httpd h;
	if (rv_httpd_init(&h, routes, sizeof routes / sizeof routes[0]) < 0) {
		rv_httpd_free(&h);
		return 0;
	}
	enum rv_httpd_step st = RV_HTTPD_MORE;
	size_t off = 0, last = 0;
	while (off < len && st == RV_HTTPD_MORE) {
		last = len - off < step ? len - off : step;
		st = rv_httpd_feed(&h, p + off, last, NULL);
		off += last;
	}
	if (st != RV_HTTPD_MORE) {
		check_reply(&h, st, last);
		/* decided: more bytes change nothing */
		size_t before = rv_buf_size(&h.out);
		int status = h.status;
		if (rv_httpd_feed(&h, p, len, NULL) != st || h.status != status || rv_buf_size(&h.out) != before)
			abort();
	} else if (h.status != 0) {
		abort();
	}
	rv_httpd_free(&h);
	return 0;
}
