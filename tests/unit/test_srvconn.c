/* test_srvconn.c - the shared server connection layer: protocol sniffing
 * (lib/sniff.c), the HTTP route table with its replies (lib/httpd.c), the
 * sweeps' decisions and the stop deadline (lib/srvconn.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dgram.h"
#include "err.h"
#include "httpd.h"
#include "sniff.h"
#include "srvconn.h"

/* ---- sniff ---- */

#define ALL (RV_SNIFF_ACCEPT(RV_SNIFF_TLS) | RV_SNIFF_ACCEPT(RV_SNIFF_PREFACE) | RV_SNIFF_ACCEPT(RV_SNIFF_HTTP))

static enum rv_sniff sn(const char *p, size_t n, unsigned accept)
{
	return rv_sniff((const uint8_t *)p, n, accept, "RVP1", 4);
}

static void test_sniff_partial(void **state)
{
	(void)state;
	assert_int_equal(sn("", 0, ALL), RV_SNIFF_MORE);
	/* a prefix of the preface waits, the whole of it decides */
	assert_int_equal(sn("R", 1, ALL), RV_SNIFF_MORE);
	assert_int_equal(sn("RVP", 3, ALL), RV_SNIFF_MORE);
	assert_int_equal(sn("RVP1", 4, ALL), RV_SNIFF_PREFACE);
	assert_int_equal(sn("RVP1\0\0\0\x05", 8, ALL), RV_SNIFF_PREFACE);
	/* one byte is enough for TLS and for an HTTP method */
	assert_int_equal(sn("\x16", 1, ALL), RV_SNIFF_TLS);
	assert_int_equal(sn("G", 1, ALL), RV_SNIFF_HTTP);
	assert_int_equal(sn("RX", 2, ALL), RV_SNIFF_HTTP);	/* left the preface: an upper-case word */
	assert_int_equal(sn("RVP2", 4, ALL), RV_SNIFF_HTTP);
	/* anything else is the caller's */
	assert_int_equal(sn("\0\xff", 2, ALL), RV_SNIFF_OTHER);
	assert_int_equal(sn("hello", 5, ALL), RV_SNIFF_OTHER);
}

static void test_sniff_accept(void **state)
{
	(void)state;
	/* after TLS, a second ClientHello in the plaintext is not TLS */
	unsigned no_tls = ALL & ~RV_SNIFF_ACCEPT(RV_SNIFF_TLS);
	assert_int_equal(sn("\x16\x03\x01", 3, no_tls), RV_SNIFF_OTHER);
	/* rvsignal: TLS or its own protocol */
	unsigned tls = RV_SNIFF_ACCEPT(RV_SNIFF_TLS);
	assert_int_equal(rv_sniff((const uint8_t *)"\x16", 1, tls, NULL, 0), RV_SNIFF_TLS);
	assert_int_equal(rv_sniff((const uint8_t *)"GET", 3, tls, NULL, 0), RV_SNIFF_OTHER);
	assert_int_equal(rv_sniff((const uint8_t *)"{", 1, 0, NULL, 0), RV_SNIFF_OTHER);
	/* no preface asked for: R is a method letter */
	assert_int_equal(sn("R", 1, RV_SNIFF_ACCEPT(RV_SNIFF_HTTP)), RV_SNIFF_HTTP);
}

/* A framed STUN Binding request (RFC 4571, RFC 6544): the length, then the
 * STUN header with the magic cookie at bytes 6..9. */
static const uint8_t framed[] = { 0x00, 0x58, 0x00, 0x01, 0x00, 0x44, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3 };

static void test_sniff_stun(void **state)
{
	(void)state;
	unsigned all = ALL | RV_SNIFF_ACCEPT(RV_SNIFF_STUN);
	/* the 10 bytes decide; fewer wait while they fit */
	for (size_t n = 1; n < 10; n++)
		assert_int_equal(rv_sniff(framed, n, all, "RVP1", 4), RV_SNIFF_MORE);
	assert_int_equal(rv_sniff(framed, 10, all, "RVP1", 4), RV_SNIFF_STUN);
	assert_int_equal(rv_sniff(framed, sizeof framed, all, "RVP1", 4), RV_SNIFF_STUN);
	/* not asked for: the byte is nobody's, as before */
	assert_int_equal(rv_sniff(framed, 10, ALL, "RVP1", 4), RV_SNIFF_OTHER);
	/* each decisive byte wrong: not STUN */
	static const size_t fixed[] = { 2, 3, 6, 7, 8, 9 };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		uint8_t b[10];
		memcpy(b, framed, sizeof b);
		b[fixed[i]] ^= 0x40;
		assert_int_equal(rv_sniff(b, 10, all, "RVP1", 4), RV_SNIFF_OTHER);
	}
	/* a framed length below a STUN header or past the cap */
	uint8_t b[10];
	memcpy(b, framed, sizeof b);
	b[1] = 19;
	assert_int_equal(rv_sniff(b, 10, all, "RVP1", 4), RV_SNIFF_OTHER);
	b[0] = 0x05, b[1] = 0xdd;	/* 1501 */
	assert_int_equal(rv_sniff(b, 2, all, "RVP1", 4), RV_SNIFF_OTHER);
	b[1] = 0xdc;	/* 1500 */
	assert_int_equal(rv_sniff(b, 2, all, "RVP1", 4), RV_SNIFF_MORE);
	/* the other kinds still decide on their first bytes */
	assert_int_equal(sn("\x16", 1, all), RV_SNIFF_TLS);
	assert_int_equal(sn("G", 1, all), RV_SNIFF_HTTP);
	assert_int_equal(sn("RVP1", 4, all), RV_SNIFF_PREFACE);
	assert_int_equal(sn("\x06", 1, all), RV_SNIFF_OTHER);
}

static void test_dgram(void **state)
{
	(void)state;
	const uint8_t *pkt = NULL;
	size_t len = 0;
	static const uint8_t two[] = { 0, 3, 'a', 'b', 'c', 0, 1, 'd', 0 };
	assert_int_equal(rv_dgram_next(two, 0, 1500, &pkt, &len), 0);
	assert_int_equal(rv_dgram_next(two, 4, 1500, &pkt, &len), 0);	/* not whole yet */
	assert_int_equal(rv_dgram_next(two, 5, 1500, &pkt, &len), 5);
	assert_ptr_equal(pkt, two + 2);
	assert_int_equal(len, 3);
	assert_int_equal(rv_dgram_next(two + 5, 3, 1500, &pkt, &len), 3);
	assert_int_equal(len, 1);
	assert_int_equal(pkt[0], 'd');
	assert_int_equal(rv_dgram_next(two + 8, 1, 1500, &pkt, &len), 0);
	/* a length of 0 or past the cap breaks the stream */
	static const uint8_t zero[] = { 0, 0, 1 }, big[] = { 0x05, 0xdd };
	assert_int_equal(rv_dgram_next(zero, 3, 1500, &pkt, &len), RV_EPROTO);
	assert_int_equal(rv_dgram_next(big, 2, 1500, &pkt, &len), RV_EPROTO);
	assert_int_equal(rv_dgram_next(big, 2, 1501, &pkt, &len), 0);
	uint8_t h[RV_DGRAM_HEAD];
	rv_dgram_head(h, 1500);
	assert_int_equal(h[0], 0x05);
	assert_int_equal(h[1], 0xdc);
}

/* ---- routes ---- */

static int calls;

static void ok(struct rv_httpd *h, void *ud)
{
	calls++;
	assert_ptr_equal(ud, &calls);
	rv_httpd_reply_text(h, 200, h->route->arg ? h->route->arg : "ok\n");
}

static void silent(struct rv_httpd *h, void *ud)
{
	(void)h;
	(void)ud;
	calls++;
}

static void echo(struct rv_httpd *h, void *ud)
{
	(void)ud;
	calls++;
	const char *hdrs[] = { "Location: /whip/1", "X-Two: 2", NULL };
	rv_httpd_reply(h, 201, "application/sdp", hdrs, rv_buf_head(&h->req.body), rv_buf_size(&h->req.body));
}

static void bad_header(struct rv_httpd *h, void *ud)
{
	(void)ud;
	const char *hdrs[] = { "X-Evil: a\r\nInjected: 1", NULL };
	assert_int_equal(rv_httpd_reply(h, 200, NULL, hdrs, "x", 1), -EINVAL);
}

static void json_null(struct rv_httpd *h, void *ud)
{
	(void)ud;
	assert_int_equal(rv_httpd_reply_json(h, 200, NULL), -ENOMEM);
}

static void json_obj(struct rv_httpd *h, void *ud)
{
	(void)ud;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "n", 1);
	assert_int_equal(rv_httpd_reply_json(h, 200, o), 0);
}

static void later(struct rv_httpd *h, void *ud)
{
	(void)ud;
	calls++;
	rv_httpd_defer(h);
}

#define GH (RV_HTTPD_GET | RV_HTTPD_HEAD)

static const struct rv_httpd_route routes[] = {
	{ "/healthz", GH, 0, 0, ok, NULL },
	{ "/rv", RV_HTTPD_GET, RV_HTTPD_WEBSOCKET, 0, NULL, NULL },
	{ "/whip", RV_HTTPD_POST, 0, 64, echo, NULL },
	{ "/whip/", RV_HTTPD_PATCH | RV_HTTPD_DELETE, RV_HTTPD_PREFIX, 16, echo, NULL },
	{ "/room/", GH, RV_HTTPD_PREFIX, 0, ok, "room\n" },
	{ "/silent", RV_HTTPD_GET, 0, 0, silent, NULL },
	{ "/badhdr", RV_HTTPD_GET, 0, 0, bad_header, NULL },
	{ "/jnull", RV_HTTPD_GET, 0, 0, json_null, NULL },
	{ "/json", RV_HTTPD_GET, 0, 0, json_obj, NULL },
	{ "/later", RV_HTTPD_POST, 0, 64, later, NULL },
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* The reply to request REQ fed in pieces of STEP bytes, as a C string
 * (the caller frees it); *STEPP gets the last step. */
static char *serve(const char *req, size_t step, enum rv_httpd_step *stepp, struct rv_httpd *h)
{
	size_t len = strlen(req);
	enum rv_httpd_step st = RV_HTTPD_MORE;
	assert_int_equal(rv_httpd_init(h, routes, NROUTES), 0);
	for (size_t off = 0; off < len && st == RV_HTTPD_MORE; off += step) {
		size_t n = len - off < step ? len - off : step;
		st = rv_httpd_feed(h, (const uint8_t *)req + off, n, &calls);
	}
	if (stepp)
		*stepp = st;
	char *out = calloc(1, rv_buf_size(&h->out) + 1);
	assert_non_null(out);
	if (rv_buf_size(&h->out))
		memcpy(out, rv_buf_head(&h->out), rv_buf_size(&h->out));
	return out;
}

/* REQ fed in pieces of STEP bytes gets STATUS, and its reply holds NEEDLE. */
static void expect(const char *req, size_t step, int status, const char *needle)
{
	struct rv_httpd h;
	char *out = serve(req, step, NULL, &h);
	assert_int_equal(h.status, status);
	assert_non_null(strstr(out, needle));
	free(out);
	rv_httpd_free(&h);
}

/* Status of REQ, fed whole and byte by byte (the same both ways). */
static int status_of(const char *req)
{
	struct rv_httpd h;
	enum rv_httpd_step st;
	free(serve(req, 1, &st, &h));
	int s1 = h.status;
	rv_httpd_free(&h);
	free(serve(req, 1 << 20, &st, &h));
	assert_int_equal(h.status, s1);
	rv_httpd_free(&h);
	return s1;
}

/* Requests and the status each gets, fed whole and byte by byte. */
static const struct {
	const char *req;
	int status;
} statuses[] = {
	{ "GET /healthz HTTP/1.1\r\n\r\n", 200 },
	{ "GET /healthz?probe=1 HTTP/1.1\r\n\r\n", 200 },	/* the query is no part of the match */
	{ "HEAD /healthz HTTP/1.1\r\n\r\n", 200 },
	{ "GET /room/r1 HTTP/1.1\r\n\r\n", 200 },		/* a prefix row serves what is under it */
	/* unknown paths: 404 whatever the method, body or not */
	{ "GET /nope HTTP/1.1\r\n\r\n", 404 },
	{ "POST /nope HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 404 },
	{ "GET /healthzz HTTP/1.1\r\n\r\n", 404 },
	{ "GET /whi HTTP/1.1\r\n\r\n", 404 },
	/* known path, wrong method: 405, whatever the body */
	{ "POST /healthz HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 405 },
	{ "PROPFIND /healthz HTTP/1.1\r\n\r\n", 405 },
	{ "HEAD /rv HTTP/1.1\r\n\r\n", 405 },
	/* WebSocket row: 426 without an upgrade, 400 without a key */
	{ "GET /rv HTTP/1.1\r\n\r\n", 426 },
	{ "GET /rv HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400 },
	{ "GET /silent HTTP/1.1\r\n\r\n", 500 },		/* a handler that says nothing */
	{ "GET /healthz HTTP/9x\r\n\r\n", 400 },		/* a bad request line */
};

static void test_routes_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		calls = 0;
		int want = statuses[i].status;
		if (status_of(statuses[i].req) != want)
			fail_msg("%s: not %d", statuses[i].req, want);
		/* handlers run for what they serve, never for the engine's answers */
		assert_int_equal(calls, want == 200 || want == 500 ? 2 : 0);
	}
}

static void test_routes_allow(void **state)
{
	(void)state;
	struct rv_httpd h;
	char *out = serve("DELETE /healthz HTTP/1.1\r\n\r\n", 7, NULL, &h);
	assert_non_null(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nmethod not allowed\n"));
	free(out);
	rv_httpd_free(&h);
	out = serve("POST /rv HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 3, NULL, &h);
	assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));
	free(out);
	rv_httpd_free(&h);
	/* a path served by two rows: Allow has the methods of both */
	expect("GET /whip/abc HTTP/1.1\r\n\r\n", 100, 405, "\r\nAllow: PATCH, DELETE\r\n");
	char allow[64];
	rv_httpd_allow(0x7f, allow, sizeof allow);
	assert_string_equal(allow, "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	rv_httpd_allow(RV_HTTPD_GET, allow, 8);	/* truncated, terminated */
	assert_string_equal(allow, "Allow: ");
	assert_int_equal(rv_httpd_method_bit("PATCH"), RV_HTTPD_PATCH);
	assert_int_equal(rv_httpd_method_bit("get"), 0);
}

static void test_routes_431(void **state)
{
	(void)state;
	size_t fill = RV_HTTP_MAX_HEAD + 100;
	char *req = malloc(fill + 64);
	assert_non_null(req);
	int n = sprintf(req, "GET /healthz HTTP/1.1\r\nX-Fill: ");
	memset(req + n, 'a', fill);
	strcpy(req + n + fill, "\r\n\r\n");
	struct rv_httpd h;
	enum rv_httpd_step st;
	char *out = serve(req, 1000, &st, &h);
	assert_int_equal(st, RV_HTTPD_REPLY);
	assert_int_equal(h.status, 431);
	assert_int_equal(h.bad, 1);
	assert_non_null(strstr(out, "request header fields too large"));
	free(out);
	rv_httpd_free(&h);
	/* an oversized head on an unknown path or with a body: still 431 */
	memcpy(req, "POST /nope       ", 17);
	memcpy(req + 17, "HTTP/1.1\r\nX-", 12);
	out = serve(req, 4096, &st, &h);
	assert_int_equal(h.status, 431);
	free(out);
	rv_httpd_free(&h);
	free(req);
}

static void test_routes_body_cap(void **state)
{
	(void)state;
	struct rv_httpd h;
	enum rv_httpd_step st;
	calls = 0;
	/* a body within the row's cap reaches the handler whole, even split */
	char *out = serve("POST /whip HTTP/1.1\r\nContent-Length: 5\r\n\r\nv=0\r\n", 2, &st, &h);
	assert_int_equal(st, RV_HTTPD_REPLY);
	assert_int_equal(h.status, 201);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(out, "\r\nLocation: /whip/1\r\nX-Two: 2\r\n"));
	assert_non_null(strstr(out, "Content-Type: application/sdp\r\n"));
	assert_non_null(strstr(out, "Content-Length: 5\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nv=0\r\n"));
	free(out);
	rv_httpd_free(&h);
	/* a partial body: more */
	out = serve("POST /whip HTTP/1.1\r\nContent-Length: 5\r\n\r\nv=", 100, &st, &h);
	assert_int_equal(st, RV_HTTPD_MORE);
	assert_int_equal(h.status, 0);
	assert_int_equal(rv_httpd_feed(&h, (const uint8_t *)"0\r\n", 3, &calls), RV_HTTPD_REPLY);
	assert_int_equal(h.status, 201);
	free(out);
	rv_httpd_free(&h);
	/* declared past the cap: 413 before any of it */
	expect("POST /whip HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 100, 413, "request body too large");
	/* chunked past the prefix row's own cap (16) */
	out = serve("PATCH /whip/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "14\r\n01234567890123456789\r\n0\r\n\r\n", 5, &st, &h);
	assert_int_equal(h.status, 413);
	free(out);
	rv_httpd_free(&h);
	/* a row that takes no body: 413 "no request body accepted" */
	out = serve("GET /healthz HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 100, &st, &h);
	assert_int_equal(h.status, 413);
	assert_non_null(strstr(out, "no request body accepted"));
	assert_int_equal(h.bad, 0);
	free(out);
	rv_httpd_free(&h);
	/* a malformed chunked body: 400, bad input */
	out = serve("PATCH /whip/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, &st, &h);
	assert_int_equal(h.status, 400);
	assert_int_equal(h.bad, 1);
	assert_non_null(strstr(out, "bad request body"));
	free(out);
	rv_httpd_free(&h);
}

static void test_reply_head_and_failures(void **state)
{
	(void)state;
	struct rv_httpd h;
	/* HEAD: the same head, no body */
	char *out = serve("HEAD /healthz HTTP/1.1\r\n\r\n", 100, NULL, &h);
	assert_non_null(strstr(out, "Content-Length: 3\r\n"));
	size_t l = strlen(out);
	assert_true(l >= 4 && strcmp(out + l - 4, "\r\n\r\n") == 0);
	free(out);
	rv_httpd_free(&h);
	/* a header with a control byte is refused: a 500, never the header */
	out = serve("GET /badhdr HTTP/1.1\r\n\r\n", 100, NULL, &h);
	assert_int_equal(h.status, 500);
	assert_null(strstr(out, "Injected"));
	free(out);
	rv_httpd_free(&h);
	/* a JSON builder that ran out of memory: 500 */
	expect("GET /jnull HTTP/1.1\r\n\r\n", 100, 500, "out of memory");
	/* JSON: one line and a newline */
	out = serve("GET /json HTTP/1.1\r\n\r\n", 100, NULL, &h);
	assert_int_equal(h.status, 200);
	assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(out, "\r\n\r\n{\"n\":1}\n"));
	free(out);
	rv_httpd_free(&h);
}

static void test_upgrade(void **state)
{
	(void)state;
	static const char req[] =
		"GET /rv?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		"\x82\x80";	/* the first WebSocket bytes, in the same read */
	struct rv_httpd h;
	assert_int_equal(rv_httpd_init(&h, routes, NROUTES), 0);
	assert_int_equal(rv_httpd_feed(&h, (const uint8_t *)req, sizeof req - 1, NULL), RV_HTTPD_UPGRADE);
	assert_int_equal(h.status, 101);
	assert_int_equal(h.rest, 2);
	assert_ptr_equal(h.route, &routes[1]);
	const char *out = (const char *)rv_buf_head(&h.out);
	assert_memory_equal(out, "HTTP/1.1 101 Switching Protocols\r\n", 34);
	char all[512];
	snprintf(all, sizeof all, "%.*s", (int)rv_buf_size(&h.out), out);
	assert_non_null(strstr(all, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	/* decided: more bytes change nothing */
	assert_int_equal(rv_httpd_feed(&h, (const uint8_t *)"xx", 2, NULL), RV_HTTPD_UPGRADE);
	rv_httpd_free(&h);
	/* a wrong version: 400 */
	static const char v8[] =
		"GET /rv HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
	assert_int_equal(status_of(v8), 400);
}

/* A handler that defers: no 500, nothing to send until it replies, and
 * more bytes change nothing; its reply (a 307 here) is then the step. */
static void test_defer(void **state)
{
	(void)state;
	static const char req[] = "POST /later?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
	struct rv_httpd h;
	calls = 0;
	assert_int_equal(rv_httpd_init(&h, routes, NROUTES), 0);
	assert_int_equal(rv_httpd_feed(&h, (const uint8_t *)req, sizeof req - 1, NULL), RV_HTTPD_LATER);
	assert_int_equal(calls, 1);
	assert_int_equal(h.status, 0);
	assert_int_equal(rv_buf_size(&h.out), 0);
	assert_int_equal(rv_httpd_feed(&h, (const uint8_t *)"xx", 2, NULL), RV_HTTPD_LATER);
	assert_int_equal(calls, 1);
	assert_string_equal(h.req.path, "/later?x=1");	/* the request stays for the reply */
	const char *hdrs[] = { "Location: http://127.0.0.1:9/later?x=1", NULL };
	assert_int_equal(rv_httpd_reply(&h, 307, NULL, hdrs, "go\n", 3), 0);
	assert_int_equal(h.step, RV_HTTPD_REPLY);
	assert_int_equal(h.status, 307);
	char all[512];
	snprintf(all, sizeof all, "%.*s", (int)rv_buf_size(&h.out), (const char *)rv_buf_head(&h.out));
	assert_non_null(strstr(all, "HTTP/1.1 307 "));
	assert_non_null(strstr(all, "\r\nLocation: http://127.0.0.1:9/later?x=1\r\n"));
	/* deferring once replied changes nothing */
	rv_httpd_defer(&h);
	assert_int_equal(h.step, RV_HTTPD_REPLY);
	rv_httpd_free(&h);
}

/* ---- sweeps and the stop ---- */

static void test_sweep_check(void **state)
{
	(void)state;
	const struct rv_sweep_conf cf = { .handshake_ms = 1000, .idle_ms = 3000, .ping_ms = 1000, .closing_ms = 5000 };
	assert_int_equal(rv_sweep_check(&cf, 10999, 10000, RV_SWEEP_HANDSHAKING, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&cf, 11000, 10000, RV_SWEEP_HANDSHAKING, 0), RV_SWEEP_HANDSHAKE);
	/* a client pings before it idles, once */
	assert_int_equal(rv_sweep_check(&cf, 10500, 10000, RV_SWEEP_OPEN, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&cf, 11000, 10000, RV_SWEEP_OPEN, 0), RV_SWEEP_PING);
	assert_int_equal(rv_sweep_check(&cf, 12000, 10000, RV_SWEEP_OPEN, 1), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&cf, 13000, 10000, RV_SWEEP_OPEN, 1), RV_SWEEP_IDLE);
	assert_int_equal(rv_sweep_check(&cf, 13000, 10000, RV_SWEEP_OPEN, 0), RV_SWEEP_IDLE);
	/* a closing one: only its deadline */
	assert_int_equal(rv_sweep_check(&cf, 14999, 10000, RV_SWEEP_CLOSING, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&cf, 15000, 10000, RV_SWEEP_CLOSING, 0), RV_SWEEP_CLOSE);
	/* 0 turns a deadline off; a clock behind last_rx is no time */
	const struct rv_sweep_conf off = { 0 };
	assert_int_equal(rv_sweep_check(&off, 1u << 30, 0, RV_SWEEP_HANDSHAKING, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&off, 1u << 30, 0, RV_SWEEP_OPEN, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&off, 1u << 30, 0, RV_SWEEP_CLOSING, 0), RV_SWEEP_NOTHING);
	assert_int_equal(rv_sweep_check(&cf, 5, 10, RV_SWEEP_HANDSHAKING, 0), RV_SWEEP_NOTHING);
}

/* A server with one connection that never goes by itself. */
struct life_test {
	struct rv_srvlife life;
	struct rv_io io;
	size_t nconns;
	int closed_all, finished;
};

static void lt_sweep(void *ud, uint64_t now)
{
	(void)ud;
	(void)now;
}

static void lt_stop(void *ud, const char *why)
{
	(void)ud;
	(void)why;
}

static void lt_close_all(void *ud)
{
	struct life_test *t = ud;
	t->closed_all++;
	t->nconns = 0;	/* its close callback, as a stream's would */
	rv_srvlife_closed(&t->life, t->nconns);
}

static void lt_finish(void *ud)
{
	((struct life_test *)ud)->finished++;
}

static void test_stop_deadline(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct life_test *t = calloc(1, sizeof *t);	/* rv_io holds its read buffers */
	assert_non_null(t);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(rv_io_init(&t->io, &loop), 0);
	rv_srvlife_start(&t->life, &loop, &t->io, 1000, t, lt_sweep, lt_stop, lt_close_all, lt_finish);
	t->nconns = 1;
	assert_int_equal(rv_srvlife_stop(&t->life), 1);
	assert_int_equal(rv_srvlife_stop(&t->life), 0);	/* once */
	rv_srvlife_closed(&t->life, t->nconns);	/* one remains: no finish */
	assert_int_equal(t->finished, 0);
	rv_srvlife_drain(&t->life, t->nconns, 20);
	uv_run(&loop, UV_RUN_DEFAULT);	/* returns once finished: every handle closed */
	assert_int_equal(t->closed_all, 1);
	assert_int_equal(t->finished, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(t);
}

static void test_stop_none_left(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct life_test *t = calloc(1, sizeof *t);
	assert_non_null(t);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(rv_io_init(&t->io, &loop), 0);
	rv_srvlife_start(&t->life, &loop, &t->io, 1000, t, lt_sweep, lt_stop, lt_close_all, lt_finish);
	assert_int_equal(rv_srvlife_stop(&t->life), 1);
	rv_srvlife_drain(&t->life, 0, 60000);	/* none: finished at once, no deadline */
	assert_int_equal(t->finished, 1);
	rv_srvlife_finish(&t->life);	/* once */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(t->closed_all, 0);
	assert_int_equal(t->finished, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sniff_partial),
		cmocka_unit_test(test_sniff_accept),
		cmocka_unit_test(test_sniff_stun),
		cmocka_unit_test(test_dgram),
		cmocka_unit_test(test_routes_status),
		cmocka_unit_test(test_routes_allow),
		cmocka_unit_test(test_routes_431),
		cmocka_unit_test(test_routes_body_cap),
		cmocka_unit_test(test_reply_head_and_failures),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_sweep_check),
		cmocka_unit_test(test_stop_deadline),
		cmocka_unit_test(test_stop_none_left),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
