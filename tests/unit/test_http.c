/* test_http.c - HTTP request parsing and responses (lib/http.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "http.h"

static const char upgrade_req[] =
	"GET /ws?room=1 HTTP/1.1\r\n"
	"Host: example.com:7350\r\n"
	"upgrade: WebSocket\r\n"
	"Connection: keep-alive, Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"sec-websocket-version: 13\r\n"
	"Sec-WebSocket-Protocol: rv.v1\r\n"
	"Authorization: Bearer abc\r\n"
	"\r\n";

static const char post_req[] =
	"POST /api/send HTTP/1.1\r\n"
	"Host: h\r\n"
	"Content-Length: 11\r\n"
	"\r\n"
	"hello world";

/* Parse all of DATA in one call; returns what rv_http_parse returned. */
static long parse_all(struct rv_http_req *req, const char *data, size_t len,
		      size_t body_cap)
{
	assert_int_equal(rv_http_req_init(req, body_cap), 0);
	return rv_http_parse(req, data, len);
}

static void check_upgrade(const struct rv_http_req *req)
{
	assert_true(req->complete);
	assert_string_equal(req->method, "GET");
	assert_string_equal(req->path, "/ws?room=1");
	assert_string_equal(req->host, "example.com:7350");
	assert_string_equal(req->ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_string_equal(req->ws_protocol, "rv.v1");
	assert_string_equal(req->authorization, "Bearer abc");
	assert_int_equal(req->ws_version, 13);
	assert_true(req->upgrade_websocket);
}

static void test_full_request(void **state)
{
	struct rv_http_req req;
	(void)state;

	long n = parse_all(&req, upgrade_req, strlen(upgrade_req), 0);
	assert_int_equal(n, (long)strlen(upgrade_req));
	check_upgrade(&req);
	rv_http_req_free(&req);

	n = parse_all(&req, post_req, strlen(post_req), 64);
	assert_int_equal(n, (long)strlen(post_req));
	assert_true(req.complete);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.path, "/api/send");
	assert_false(req.upgrade_websocket);
	assert_true(req.keep_alive);
	assert_int_equal(rv_buf_size(&req.body), 11);
	assert_memory_equal(rv_buf_head(&req.body), "hello world", 11);
	assert_string_equal(req.ws_key, "");
	assert_int_equal(req.ws_version, 0);
	rv_http_req_free(&req);
}

/* Feed the request in two parts split at every offset, then one byte at a
 * time: the result must not depend on how the bytes arrive. */
static void test_split_everywhere(void **state)
{
	size_t len = strlen(upgrade_req);
	(void)state;

	for (size_t cut = 0; cut <= len; cut++) {
		struct rv_http_req req;
		assert_int_equal(rv_http_req_init(&req, 0), 0);
		long a = rv_http_parse(&req, upgrade_req, cut);
		assert_int_equal(a, (long)cut);
		assert_int_equal(req.complete, cut == len);
		long b = rv_http_parse(&req, upgrade_req + cut, len - cut);
		assert_int_equal(b, (long)(len - cut));
		check_upgrade(&req);
		rv_http_req_free(&req);
	}

	struct rv_http_req req;
	assert_int_equal(rv_http_req_init(&req, 64), 0);
	for (size_t i = 0; i < strlen(post_req); i++)
		assert_int_equal(rv_http_parse(&req, post_req + i, 1), 1);
	assert_true(req.complete);
	assert_memory_equal(rv_buf_head(&req.body), "hello world", 11);
	rv_http_req_free(&req);
}

static void test_upgrade_detection(void **state)
{
	static const char *no[] = {
		/* Upgrade without Connection: upgrade */
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n",
		/* Connection: upgrade, but to something else */
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
		/* a token that only contains "upgrade" */
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgraded\r\n\r\n",
	};
	static const char yes[] =
		"GET / HTTP/1.1\r\nConnection: close\r\nUPGRADE: websocket\r\n"
		"connection:  upgrade  \r\n\r\n";
	struct rv_http_req req;
	(void)state;

	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		long n = parse_all(&req, no[i], strlen(no[i]), 0);
		assert_int_equal(n, (long)strlen(no[i]));
		assert_true(req.complete);
		assert_false(req.upgrade_websocket);
		rv_http_req_free(&req);
	}
	assert_int_equal(parse_all(&req, yes, strlen(yes), 0), (long)strlen(yes));
	assert_true(req.upgrade_websocket);
	rv_http_req_free(&req);

	/* Connection: close turns keep-alive off. */
	static const char closing[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(parse_all(&req, closing, strlen(closing), 0),
			 (long)strlen(closing));
	assert_false(req.keep_alive);
	rv_http_req_free(&req);
}

static void test_oversize_head(void **state)
{
	struct rv_http_req req;
	size_t len = RV_HTTP_MAX_HEAD + 100;
	char *big = malloc(len);
	(void)state;

	assert_non_null(big);
	int off = snprintf(big, len, "GET / HTTP/1.1\r\nX-Fill: ");
	memset(big + off, 'a', len - (size_t)off);

	/* All at once: the head itself is too large. */
	assert_int_equal(parse_all(&req, big, len, 0), RV_ETOOBIG);
	assert_false(req.head_complete);
	/* The error sticks. */
	assert_int_equal(rv_http_parse(&req, "\r\n\r\n", 4), RV_ETOOBIG);
	rv_http_req_free(&req);

	/* In small pieces. */
	assert_int_equal(rv_http_req_init(&req, 0), 0);
	long rc = 0;
	for (size_t i = 0; i < len && rc >= 0; i += 100)
		rc = rv_http_parse(&req, big + i, 100);
	assert_int_equal(rc, RV_ETOOBIG);
	rv_http_req_free(&req);

	/* Many small headers that add up past the cap. */
	assert_int_equal(rv_http_req_init(&req, 0), 0);
	rc = rv_http_parse(&req, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(rc, 16);
	for (int i = 0; i < 2000 && rc >= 0; i++)
		rc = rv_http_parse(&req, "X-A: b\r\n", 8);
	assert_int_equal(rc, RV_ETOOBIG);
	rv_http_req_free(&req);
	free(big);

	/* A head of exactly the cap is fine. */
	char *exact = malloc(RV_HTTP_MAX_HEAD);
	assert_non_null(exact);
	off = snprintf(exact, RV_HTTP_MAX_HEAD, "GET / HTTP/1.1\r\nX-Fill: ");
	memset(exact + off, 'b', RV_HTTP_MAX_HEAD - (size_t)off - 4);
	memcpy(exact + RV_HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
	assert_int_equal(parse_all(&req, exact, RV_HTTP_MAX_HEAD, 0), RV_HTTP_MAX_HEAD);
	assert_true(req.complete);
	rv_http_req_free(&req);
	free(exact);
}

static void test_oversize_path_and_fields(void **state)
{
	struct rv_http_req req;
	char line[RV_HTTP_MAX_PATH + 64];
	(void)state;

	/* A path of RV_HTTP_MAX_PATH - 1 bytes fits; one more does not. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t plen = RV_HTTP_MAX_PATH - 1 + (size_t)extra;
		memcpy(line, "GET ", 4);
		line[4] = '/';
		memset(line + 5, 'p', plen - 1);
		int n = snprintf(line + 4 + plen, sizeof line - 4 - plen,
				 " HTTP/1.1\r\n\r\n");
		size_t len = 4 + plen + (size_t)n;
		long rc = parse_all(&req, line, len, 0);
		if (extra) {
			assert_int_equal(rc, RV_ETOOBIG);
		} else {
			assert_int_equal(rc, (long)len);
			assert_int_equal(strlen(req.path), plen);
		}
		rv_http_req_free(&req);
	}

	/* A Host header longer than its field. */
	char host[400];
	int n = snprintf(host, sizeof host, "GET / HTTP/1.1\r\nHost: ");
	memset(host + n, 'h', 300);
	memcpy(host + n + 300, "\r\n\r\n", 4);
	assert_int_equal(parse_all(&req, host, (size_t)n + 304, 0), RV_ETOOBIG);
	rv_http_req_free(&req);

	/* A long header we do not keep is fine. */
	n = snprintf(host, sizeof host, "GET / HTTP/1.1\r\nX-Other: ");
	memset(host + n, 'h', 300);
	memcpy(host + n + 300, "\r\n\r\n", 4);
	assert_int_equal(parse_all(&req, host, (size_t)n + 304, 0), (long)n + 304);
	rv_http_req_free(&req);
}

static void test_body_cap(void **state)
{
	struct rv_http_req req;
	static const char chunked[] =
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
	(void)state;

	/* Declared too large: refused before the body arrives, but the head
	 * was read (a 405 or 413, not a 431). */
	assert_int_equal(parse_all(&req, post_req, strlen(post_req) - 11, 10),
			 RV_ETOOBIG);
	assert_true(req.head_complete);
	assert_false(req.complete);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.path, "/api/send");
	rv_http_req_free(&req);
	/* Any body at all with a cap of 0. */
	assert_int_equal(parse_all(&req, post_req, strlen(post_req), 0), RV_ETOOBIG);
	assert_true(req.head_complete);
	assert_string_equal(req.method, "POST");
	rv_http_req_free(&req);
	/* Chunked past the cap. */
	assert_int_equal(parse_all(&req, chunked, strlen(chunked), 10), RV_ETOOBIG);
	assert_true(req.head_complete);
	rv_http_req_free(&req);
	/* A head that is only partly there is not complete. */
	assert_int_equal(parse_all(&req, chunked, 20, 0), 20);
	assert_false(req.head_complete);
	rv_http_req_free(&req);
	/* Chunked within the cap. */
	assert_int_equal(parse_all(&req, chunked, strlen(chunked), 16),
			 (long)strlen(chunked));
	assert_true(req.complete);
	assert_int_equal(rv_buf_size(&req.body), 16);
	rv_http_req_free(&req);
}

static void test_bytes_after_request(void **state)
{
	struct rv_http_req req;
	char buf[1024];
	static const char frame[] = "\x81\x85\x01\x02\x03\x04garbage";
	(void)state;

	/* A WebSocket upgrade followed at once by frame bytes. */
	size_t hlen = strlen(upgrade_req);
	memcpy(buf, upgrade_req, hlen);
	memcpy(buf + hlen, frame, sizeof frame - 1);
	assert_int_equal(parse_all(&req, buf, hlen + sizeof frame - 1, 0), (long)hlen);
	check_upgrade(&req);
	/* Once complete, nothing more is consumed. */
	assert_int_equal(rv_http_parse(&req, buf + hlen, sizeof frame - 1), 0);
	rv_http_req_free(&req);

	/* A pipelined second request stays for the next parse. */
	size_t plen = strlen(post_req);
	memcpy(buf, post_req, plen);
	memcpy(buf + plen, post_req, plen);
	assert_int_equal(parse_all(&req, buf, 2 * plen, 64), (long)plen);
	assert_true(req.complete);
	rv_http_req_free(&req);
	assert_int_equal(parse_all(&req, buf + plen, plen, 64), (long)plen);
	assert_memory_equal(rv_buf_head(&req.body), "hello world", 11);
	rv_http_req_free(&req);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n",
		"NOPE / HTTP/1.1\r\n\r\n",
		"GET / HTTP/9x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01",
	};
	struct rv_http_req req;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse_all(&req, bad[i], strlen(bad[i]), 0), RV_EHTTP);
		rv_http_req_free(&req);
	}
}

static void test_ws_accept(void **state)
{
	char out[29];
	(void)state;

	rv_http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_responses(void **state)
{
	struct rv_buf out;
	static const char want[] =
		"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
		"Content-Length: 5\r\nConnection: close\r\n\r\nnope\n";
	static const char want101[] =
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		"Sec-WebSocket-Protocol: rv.v1\r\n\r\n";
	(void)state;

	rv_buf_init(&out, 4096);
	assert_int_equal(rv_http_respond(&out, 404, "text/plain", "nope\n", 5), 0);
	assert_int_equal(rv_buf_size(&out), strlen(want));
	assert_memory_equal(rv_buf_head(&out), want, strlen(want));
	rv_buf_reset(&out);

	assert_int_equal(rv_http_ws_upgrade(&out, "dGhlIHNhbXBsZSBub25jZQ==", "rv.v1"), 0);
	assert_int_equal(rv_buf_size(&out), strlen(want101));
	assert_memory_equal(rv_buf_head(&out), want101, strlen(want101));
	rv_buf_reset(&out);

	/* No header injection, and all or nothing at the cap. */
	assert_int_equal(rv_http_respond(&out, 200, "text/plain\r\nX: y", "", 0), -EINVAL);
	assert_int_equal(rv_http_ws_upgrade(&out, "k", "a\r\nb"), -EINVAL);
	assert_int_equal(rv_buf_size(&out), 0);
	struct rv_buf tiny;
	rv_buf_init(&tiny, 100);
	assert_int_equal(rv_http_respond(&tiny, 200, "text/plain", want, strlen(want)),
			 RV_ETOOBIG);
	assert_int_equal(rv_buf_size(&tiny), 0);
	rv_buf_free(&tiny);
	rv_buf_free(&out);

	/* Extra header lines, e.g. the Allow of a 405. */
	static const char want405[] =
		"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
		"Allow: GET, HEAD\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n";
	const char *allow[] = { "Allow: GET, HEAD", NULL };
	rv_buf_init(&out, 4096);
	assert_int_equal(rv_http_respond_hdrs(&out, 405, "text/plain", allow, "no\n", 3), 0);
	assert_int_equal(rv_buf_size(&out), strlen(want405));
	assert_memory_equal(rv_buf_head(&out), want405, strlen(want405));
	rv_buf_reset(&out);
	const char *inject[] = { "Allow: GET\r\nX-Evil: 1", NULL };
	const char *noname[] = { "just text", NULL };
	assert_int_equal(rv_http_respond_hdrs(&out, 405, "text/plain", inject, "", 0), -EINVAL);
	assert_int_equal(rv_http_respond_hdrs(&out, 405, "text/plain", noname, "", 0), -EINVAL);
	assert_int_equal(rv_buf_size(&out), 0);
	rv_buf_free(&out);

	assert_string_equal(rv_http_status_text(200), "OK");
	assert_string_equal(rv_http_status_text(101), "Switching Protocols");
	assert_string_equal(rv_http_status_text(799), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_request),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_upgrade_detection),
		cmocka_unit_test(test_oversize_head),
		cmocka_unit_test(test_oversize_path_and_fields),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_bytes_after_request),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ws_accept),
		cmocka_unit_test(test_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
