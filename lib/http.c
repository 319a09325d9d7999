/* http.c - HTTP/1.1 request parsing on http-parser, and responses.
 *
 * http-parser hands the request over in pieces through callbacks, and any
 * piece (the URL, a header name, a header value) may be split across calls
 * when the bytes arrive split. The state below accumulates each piece into a
 * bounded scratch buffer and acts on a header once its value is complete:
 * when the next header name starts, or when the head ends.
 *
 * Caps: the head is fed to the parser in slices that never take it past
 * RV_HTTP_MAX_HEAD, the path is capped at RV_HTTP_MAX_PATH, the headers kept
 * are capped by their fields in struct rv_http_req, and the body by its
 * rv_buf. The parser is paused when the message completes, so bytes that
 * follow one request are never consumed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"
#include "http.h"

/* Longest header name worth remembering; longer names are not ones we use. */
#define RV__HTTP_FIELD_MAX 32
/* Longest header value we keep (the largest destination is authorization). */
#define RV__HTTP_VALUE_MAX 1024

/* The parser state behind req->parser. */
struct rv__http {
	http_parser p;
	struct rv_http_req *req;
	char field[RV__HTTP_FIELD_MAX + 1];
	size_t field_len;
	int field_long;         /* the name outgrew FIELD: not one we keep */
	char value[RV__HTTP_VALUE_MAX + 1];
	size_t value_len;
	int value_long;         /* the value outgrew VALUE */
	int in_value;           /* the last callback was a header value */
	size_t path_len;
	int headers_done;
	int conn_upgrade;       /* Connection lists the "upgrade" token */
	int upgrade_ws;         /* Upgrade lists the "websocket" token */
};

/* Copy a complete header value into DST (DSTLEN bytes with the NUL). */
static int rv__http_store(char *dst, size_t dstlen, const struct rv__http *h)
{
	if (h->value_long || h->value_len >= dstlen)
		return RV_ETOOBIG;
	memcpy(dst, h->value, h->value_len);
	dst[h->value_len] = '\0';
	return 0;
}

/* Does the comma-separated token list LIST contain TOKEN (any case)? */
static int rv__http_has_token(const char *list, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = list;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

/* Act on the header whose name and value are now complete. */
static int rv__http_header_done(struct rv__http *h)
{
	struct rv_http_req *req = h->req;
	const char *f = h->field;

	h->in_value = 0;
	if (h->field_long)
		goto reset;
	h->value[h->value_len] = '\0';
	int rc = 0;
	if (strcasecmp(f, "host") == 0) {
		rc = rv__http_store(req->host, sizeof req->host, h);
	} else if (strcasecmp(f, "sec-websocket-key") == 0) {
		rc = rv__http_store(req->ws_key, sizeof req->ws_key, h);
	} else if (strcasecmp(f, "sec-websocket-protocol") == 0) {
		rc = rv__http_store(req->ws_protocol, sizeof req->ws_protocol, h);
	} else if (strcasecmp(f, "authorization") == 0) {
		rc = rv__http_store(req->authorization, sizeof req->authorization, h);
	} else if (strcasecmp(f, "content-type") == 0) {
		rc = rv__http_store(req->content_type, sizeof req->content_type, h);
	} else if (strcasecmp(f, "if-match") == 0) {
		rc = rv__http_store(req->if_match, sizeof req->if_match, h);
	} else if (strcasecmp(f, "sec-websocket-version") == 0) {
		/* A short decimal number; anything else counts as absent. */
		char *end;
		long v = strtol(h->value, &end, 10);
		if (h->value_len > 0 && h->value_len < 6 && *end == '\0' && v > 0)
			req->ws_version = (int)v;
	} else if (strcasecmp(f, "connection") == 0) {
		if (h->value_long)
			rc = RV_ETOOBIG;
		else if (rv__http_has_token(h->value, "upgrade"))
			h->conn_upgrade = 1;
	} else if (strcasecmp(f, "upgrade") == 0) {
		if (h->value_long)
			rc = RV_ETOOBIG;
		else if (rv__http_has_token(h->value, "websocket"))
			h->upgrade_ws = 1;
	}
	if (rc < 0) {
		req->err = rc;
		return -1;
	}
reset:
	h->field_len = 0;
	h->field_long = 0;
	h->value_len = 0;
	h->value_long = 0;
	return 0;
}

static int rv__http_on_url(http_parser *p, const char *at, size_t len)
{
	struct rv__http *h = p->data;
	struct rv_http_req *req = h->req;

	if (len >= sizeof req->path - h->path_len) {
		req->err = RV_ETOOBIG;
		return -1;
	}
	memcpy(req->path + h->path_len, at, len);
	h->path_len += len;
	req->path[h->path_len] = '\0';
	return 0;
}

static int rv__http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct rv__http *h = p->data;

	/* A name after a value: the previous header is complete. */
	if (h->in_value && rv__http_header_done(h) < 0)
		return -1;
	if (h->field_long)
		return 0;
	if (len > RV__HTTP_FIELD_MAX - h->field_len) {
		h->field_long = 1;
		return 0;
	}
	memcpy(h->field + h->field_len, at, len);
	h->field_len += len;
	h->field[h->field_len] = '\0';
	return 0;
}

static int rv__http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct rv__http *h = p->data;

	h->in_value = 1;
	if (h->field_long || h->value_long)
		return 0;
	if (len > RV__HTTP_VALUE_MAX - h->value_len) {
		h->value_long = 1;
		return 0;
	}
	memcpy(h->value + h->value_len, at, len);
	h->value_len += len;
	return 0;
}

static int rv__http_on_headers_complete(http_parser *p)
{
	struct rv__http *h = p->data;
	struct rv_http_req *req = h->req;

	if (h->in_value && rv__http_header_done(h) < 0)
		return -1;
	h->headers_done = 1;
	snprintf(req->method, sizeof req->method, "%s",
		 http_method_str((enum http_method)p->method));
	req->keep_alive = http_should_keep_alive(p);
	req->upgrade_websocket = h->conn_upgrade && h->upgrade_ws;
	req->head_complete = 1;         /* what follows is about the body */
	if (req->on_head && req->on_head(req, req->on_head_ud) == 1) {
		req->stopped = 1;
		http_parser_pause(p, 1);
		return 0;
	}
	/* Refuse a declared body past the cap before reading any of it. */
	if (p->content_length != ULLONG_MAX && p->content_length > 0 &&
	    p->content_length > req->body.cap) {
		req->err = RV_ETOOBIG;
		return -1;
	}
	return 0;
}

static int rv__http_on_body(http_parser *p, const char *at, size_t len)
{
	struct rv__http *h = p->data;
	int rc = rv_buf_append(&h->req->body, at, len);

	if (rc < 0) {
		h->req->err = rc;
		return -1;
	}
	return 0;
}

static int rv__http_on_message_complete(http_parser *p)
{
	struct rv__http *h = p->data;

	h->req->complete = 1;
	/* Stop here: whatever follows belongs to the next request or protocol. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings rv__http_settings = {
	.on_url = rv__http_on_url,
	.on_header_field = rv__http_on_header_field,
	.on_header_value = rv__http_on_header_value,
	.on_headers_complete = rv__http_on_headers_complete,
	.on_body = rv__http_on_body,
	.on_message_complete = rv__http_on_message_complete,
};

int rv_http_req_init(struct rv_http_req *req, size_t body_cap)
{
	memset(req, 0, sizeof *req);
	rv_buf_init(&req->body, body_cap);
	struct rv__http *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = h;
	h->req = req;
	req->parser = h;
	return 0;
}

void rv_http_req_free(struct rv_http_req *req)
{
	free(req->parser);
	req->parser = NULL;
	rv_buf_free(&req->body);
}

long rv_http_parse(struct rv_http_req *req, const char *data, size_t len)
{
	struct rv__http *h = req->parser;
	size_t used = 0;

	if (req->err)
		return req->err;
	if (!h)
		return -EINVAL;
	while (used < len && !req->complete) {
		size_t n = len - used;
		/* While the head is being read, never let it pass the cap. */
		if (!h->headers_done) {
			size_t room = RV_HTTP_MAX_HEAD - req->head_bytes;
			if (room == 0) {
				req->err = RV_ETOOBIG;
				return req->err;
			}
			if (n > room)
				n = room;
		}
		int in_head = !h->headers_done;
		size_t got = http_parser_execute(&h->p, &rv__http_settings,
						 data + used, n);
		/* Counts every byte fed while the head was incomplete (a body
		 * that starts in the same slice included): an upper bound. */
		if (in_head)
			req->head_bytes += got;
		used += got;

		enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
		if (e == HPE_PAUSED)
			break;          /* on_message_complete: done */
		if (e != HPE_OK) {
			if (!req->err)
				req->err = e == HPE_HEADER_OVERFLOW ? RV_ETOOBIG : RV_EHTTP;
			return req->err;
		}
		if (h->p.upgrade)
			break;          /* the parser stops after an upgrade's head */
		if (got < n) {          /* should not happen without an error */
			req->err = RV_EHTTP;
			return req->err;
		}
	}
	return (long)used;
}

void rv_http_ws_accept(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
	    EVP_DigestUpdate(ctx, guid, sizeof guid - 1) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20)
		EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 chars + NUL */
	EVP_MD_CTX_free(ctx);
}

/* Is S safe inside a header line (no CR, LF or other control bytes)? */
static int rv__http_header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int rv_http_respond(struct rv_buf *out, int status, const char *content_type,
		    const void *body, size_t len)
{
	return rv_http_respond_hdrs(out, status, content_type, NULL, body, len);
}

int rv_http_respond_hdrs(struct rv_buf *out, int status, const char *content_type,
			 const char *const *headers, const void *body, size_t len)
{
	size_t mark = out->len;
	int rc;

	if (!content_type)
		content_type = "text/plain; charset=utf-8";
	if (status < 100 || status > 999 || !rv__http_header_safe(content_type))
		return -EINVAL;
	for (size_t i = 0; headers && headers[i]; i++)
		if (!rv__http_header_safe(headers[i]) || !strchr(headers[i], ':'))
			return -EINVAL;
	rc = rv_buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n",
			   status, rv_http_status_text(status), content_type);
	for (size_t i = 0; rc == 0 && headers && headers[i]; i++)
		rc = rv_buf_printf(out, "%s\r\n", headers[i]);
	if (rc == 0)
		rc = rv_buf_printf(out, "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	if (rc == 0 && len > 0)
		rc = rv_buf_append(out, body, len);
	if (rc < 0)
		out->len = mark;        /* all or nothing */
	return rc;
}

int rv_http_ws_upgrade(struct rv_buf *out, const char *key, const char *protocol)
{
	char accept[29];
	size_t mark = out->len;
	int rc;

	if (!key || !*key || !rv__http_header_safe(key) ||
	    (protocol && !rv__http_header_safe(protocol)))
		return -EINVAL;
	rv_http_ws_accept(key, accept);
	if (!accept[0])
		return -ENOMEM;
	rc = rv_buf_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
			   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			   "Sec-WebSocket-Accept: %s\r\n", accept);
	if (rc == 0 && protocol && *protocol)
		rc = rv_buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", protocol);
	if (rc == 0)
		rc = rv_buf_append(out, "\r\n", 2);
	if (rc < 0)
		out->len = mark;
	return rc;
}

const char *rv_http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

/* ---- the client side of a WebSocket upgrade ---- */

int rv_http_ws_request(struct rv_buf *out, const char *host, const char *path, char key[25])
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);	/* 24 chars + NUL */
	if (!rv__http_header_safe(host) || !rv__http_header_safe(path))
		return -EINVAL;
	return rv_buf_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			     "Sec-WebSocket-Version: 13\r\nUser-Agent: rvkit/" RV_VERSION "\r\n\r\n",
			     path, host, key);
}

long rv_http_ws_response(const char *p, size_t n, const char *key, char *err, size_t errlen)
{
	size_t end = 0;
	for (size_t i = 3; i < n && i < RV_HTTP_MAX_HEAD; i++)
		if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n') {
			end = i + 1;
			break;
		}
	if (!end) {
		if (n >= RV_HTTP_MAX_HEAD) {
			snprintf(err, errlen, "the server's answer is too long");
			return RV_ETOOBIG;
		}
		return 0;
	}
	if (end < 12 || strncmp(p, "HTTP/1.1 101", 12) != 0) {
		size_t l = strcspn(p, "\r\n");
		snprintf(err, errlen, "no WebSocket upgrade: %.*s", (int)(l < 80 ? l : 80), p);
		return RV_EHTTP;
	}
	char want[29];
	rv_http_ws_accept(key, want);
	for (size_t i = 0; i < end;) {	/* each header line */
		size_t l = 0;
		while (i + l < end && p[i + l] != '\r')
			l++;
		static const char name[] = "sec-websocket-accept:";
		if (l > sizeof name - 1 && strncasecmp(p + i, name, sizeof name - 1) == 0) {
			const char *v = p + i + sizeof name - 1;
			size_t vl = l - (sizeof name - 1);
			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl == 28 && memcmp(v, want, 28) == 0)
				return (long)end;
			snprintf(err, errlen, "wrong Sec-WebSocket-Accept in the server's answer");
			return RV_EHTTP;
		}
		i += l + 2;
	}
	snprintf(err, errlen, "no Sec-WebSocket-Accept in the server's answer");
	return RV_EHTTP;
}
