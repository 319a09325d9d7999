/* http.h - HTTP/1.1 request parsing (http-parser) and responses, no I/O.
 *
 * rv_http_parse() consumes bytes incrementally until one request's head (and
 * body, if any, up to a cap) is complete. Everything is capped: the head at
 * RV_HTTP_MAX_HEAD bytes, the path at RV_HTTP_MAX_PATH, bodies at the cap
 * passed to rv_http_req_init. */
#ifndef RV_HTTP_H
#define RV_HTTP_H

#include <stddef.h>

#include "buf.h"

#define RV_HTTP_MAX_HEAD 8192
#define RV_HTTP_MAX_PATH 1024

struct rv_http_req {
	char method[16];
	char path[RV_HTTP_MAX_PATH];   /* the request target, NUL-terminated */
	char host[256];
	char ws_key[64];               /* Sec-WebSocket-Key, "" if absent */
	char ws_protocol[128];         /* Sec-WebSocket-Protocol, "" if absent */
	char authorization[512];
	char content_type[128];        /* Content-Type, "" if absent */
	char if_match[128];            /* If-Match, "" if absent */
	int ws_version;                /* Sec-WebSocket-Version, 0 if absent */
	int upgrade_websocket;         /* Upgrade: websocket + Connection: upgrade */
	int keep_alive;
	int head_complete;             /* 1 once the head was read: method, path and
	                                * headers above are valid, even if the body
	                                * then fails (too large, malformed) */
	int complete;                  /* 1 once the whole request was read */
	struct rv_buf body;            /* the body, capped */
	/* ON_HEAD, when set (after rv_http_req_init), is called once the head
	 * is read, before any byte of the body: it may set body.cap for this
	 * request (a route's own cap), or return 1 to stop there (parsing
	 * pauses: rv_http_parse returns the bytes it used, complete stays 0,
	 * stopped is 1). ON_HEAD_UD is its argument. */
	int (*on_head)(struct rv_http_req *req, void *ud);
	void *on_head_ud;
	int stopped;                   /* ON_HEAD returned 1 */
	void *parser;                  /* internal */
	size_t head_bytes;
	int err;
};

/* rv_http_req_init - ready REQ for one request; BODY_CAP caps the body. */
int rv_http_req_init(struct rv_http_req *req, size_t body_cap);
void rv_http_req_free(struct rv_http_req *req);
/* rv_http_parse - feed LEN bytes. Returns the number of bytes consumed
 * (bytes after a complete request are not consumed: they belong to the next
 * protocol, e.g. WebSocket frames) or RV_EHTTP / RV_ETOOBIG. Check
 * req->complete after each call. An error with req->head_complete set is
 * about the body (RV_ETOOBIG: past the cap, a 413), one without it about the
 * head (RV_ETOOBIG: a 431). */
long rv_http_parse(struct rv_http_req *req, const char *data, size_t len);

/* rv_http_ws_accept - the Sec-WebSocket-Accept value for KEY (RFC 6455). */
void rv_http_ws_accept(const char *key, char out[29]);
/* rv_http_respond - append a full response (status line, Content-Type,
 * Content-Length, Connection: close, body) to OUT. */
int rv_http_respond(struct rv_buf *out, int status, const char *content_type,
		    const void *body, size_t len);
/* rv_http_respond_hdrs - the same with extra header lines HEADERS ("Name:
 * value" strings, NULL-terminated; HEADERS itself may be NULL), e.g. the
 * Allow of a 405. A header with a control byte is refused (-EINVAL). */
int rv_http_respond_hdrs(struct rv_buf *out, int status, const char *content_type,
			 const char *const *headers, const void *body, size_t len);
/* rv_http_ws_upgrade - append the 101 Switching Protocols response. */
int rv_http_ws_upgrade(struct rv_buf *out, const char *key, const char *protocol);
/* rv_http_ws_request - append a client's upgrade request for PATH on HOST
 * to OUT; KEY gets the random Sec-WebSocket-Key it carries. */
int rv_http_ws_request(struct rv_buf *out, const char *host, const char *path, char key[25]);
/* rv_http_ws_response - check the server's answer to that request in
 * P[0..N): the length of its head once complete and a valid 101 with the
 * right Sec-WebSocket-Accept, 0 when more bytes are needed, or RV_EHTTP /
 * RV_ETOOBIG with ERR saying why. */
long rv_http_ws_response(const char *p, size_t n, const char *key, char *err, size_t errlen);
/* rv_http_status_text - "OK", "Not Found", ... */
const char *rv_http_status_text(int status);

#endif
