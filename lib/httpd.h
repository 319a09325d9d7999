/* httpd.h - the HTTP side of a server port, as a sans-I/O engine: a route
 * table, request reading on lib/http, replies, the WebSocket upgrade.
 *
 * A server declares its endpoints as rows of a table, each with the methods
 * it serves, a path (exact, or a prefix with RV_HTTPD_PREFIX; a query string
 * is not part of the match), a body cap and a handler:
 *
 *   static const struct rv_httpd_route routes[] = {
 *       { "/healthz", RV_HTTPD_GET | RV_HTTPD_HEAD, 0, 0, healthz, NULL },
 *       { "/rv", RV_HTTPD_GET, RV_HTTPD_WEBSOCKET, 0, NULL, NULL },
 *       { "/whip/", RV_HTTPD_PATCH | RV_HTTPD_DELETE, RV_HTTPD_PREFIX, 65536, whip, NULL },
 *   };
 *
 * One struct rv_httpd reads one request: the caller feeds it the bytes that
 * arrive (rv_httpd_feed) and acts on the step it returns. The engine answers
 * by itself, as soon as the head is read (any body is then not read):
 *   404 "not found"          no row matches the path
 *   405 "method not allowed" rows match the path, none has the method; Allow
 *                            lists the methods of every row that matches
 *   431                      the head passed RV_HTTP_MAX_HEAD (its own cap)
 *   400 "bad request"        a malformed head (or body: "bad request body")
 *   413                      a body past the row's cap ("no request body
 *                            accepted" for a row that takes none)
 * and, for a WEBSOCKET row, 426 without an upgrade, 400 "bad WebSocket
 * handshake" without a version 13 key. Otherwise, once the whole request
 * (head and body, up to the row's cap) is read, the row's handler runs and
 * replies through rv_httpd_reply*: a handler that does not reply leaves a
 * 500. A HEAD request gets every reply's head without its body. Replies
 * close the connection (Connection: close): one request per connection.
 *
 * The first matching row with the method serves: put specific rows before
 * prefixes that cover them. Memory: the request (lib/http, its body capped
 * by the row) and the reply (H->out, capped at RV_HTTPD_MAX_REPLY), both
 * owned by H until rv_httpd_free. The route table is borrowed. */
#ifndef RV_HTTPD_H
#define RV_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"
#include "http.h"

/* Methods, as bits of a row's METHODS. */
#define RV_HTTPD_GET     (1u << 0)
#define RV_HTTPD_HEAD    (1u << 1)
#define RV_HTTPD_POST    (1u << 2)
#define RV_HTTPD_PUT     (1u << 3)
#define RV_HTTPD_PATCH   (1u << 4)
#define RV_HTTPD_DELETE  (1u << 5)
#define RV_HTTPD_OPTIONS (1u << 6)

/* Row flags. */
#define RV_HTTPD_PREFIX    1u   /* PATH is a prefix of the paths served */
#define RV_HTTPD_WEBSOCKET 2u   /* an upgrade to WebSocket (no handler: RV_HTTPD_UPGRADE) */

#define RV_HTTPD_MAX_REPLY (16u << 20)   /* a reply, head and body */

struct rv_httpd;

/* A row's handler: H's request is complete (H->req: method, path, headers,
 * body); UD is rv_httpd_feed's. It answers with rv_httpd_reply*. */
typedef void (*rv_httpd_fn)(struct rv_httpd *h, void *ud);

struct rv_httpd_route {
	const char *path;             /* "/stats"; with RV_HTTPD_PREFIX "/room/" */
	unsigned methods;             /* RV_HTTPD_GET | ...: HEAD only when listed */
	unsigned flags;               /* RV_HTTPD_PREFIX, RV_HTTPD_WEBSOCKET */
	size_t body_cap;              /* the largest body taken; 0: none */
	rv_httpd_fn fn;               /* NULL for a WEBSOCKET row */
	const void *arg;              /* the handler's, as H->route->arg */
};

enum rv_httpd_step {
	RV_HTTPD_MORE,                /* the request is not complete: feed more */
	RV_HTTPD_REPLY,               /* H->out holds the whole reply: send it, then close */
	RV_HTTPD_UPGRADE,             /* H->out holds the 101 of a WEBSOCKET row (H->route):
	                               * send it; the last H->rest bytes fed are WebSocket's */
	RV_HTTPD_LATER,               /* the handler deferred (rv_httpd_defer): nothing to send
	                               * yet; once it replies, the step is REPLY */
};

struct rv_httpd {
	struct rv_http_req req;       /* the request being read */
	struct rv_buf out;            /* the reply once decided */
	const struct rv_httpd_route *routes;
	size_t nroutes;
	const struct rv_httpd_route *route;  /* the row serving the request, once read */
	size_t rest;                  /* UPGRADE: bytes of the last feed after the request */
	int status;                   /* the status of the reply, 0 before one */
	int bad;                      /* the reply is about bad input (400, 431) */
	int head;                     /* a HEAD request: replies carry no body */
	enum rv_httpd_step step;
};

/* rv_httpd_init - ready H to read one request served by ROUTES (N rows).
 * 0 or -ENOMEM; either way H is released with rv_httpd_free. */
int rv_httpd_init(struct rv_httpd *h, const struct rv_httpd_route *routes, size_t n);
void rv_httpd_free(struct rv_httpd *h);

/* rv_httpd_feed - read LEN more bytes of the request at DATA; handlers run
 * here, with UD. Returns the step (above); once it is not MORE, further
 * bytes are not read (feeding again returns the same step). */
enum rv_httpd_step rv_httpd_feed(struct rv_httpd *h, const uint8_t *data, size_t len, void *ud);

/* rv_httpd_reply - answer with STATUS, content type CTYPE (NULL:
 * "text/plain; charset=utf-8"), extra header lines HEADERS ("Name: value",
 * NULL-terminated; may be NULL) and BODY (LEN bytes), replacing any reply
 * built before. 0; or why it could not be built (-ENOMEM, RV_ETOOBIG past
 * RV_HTTPD_MAX_REPLY, -EINVAL for a header with a control byte or no
 * colon): H then holds a 500 "out of memory" (or "reply not built"), or,
 * when even that failed, nothing (the connection just closes). */
int rv_httpd_reply(struct rv_httpd *h, int status, const char *ctype,
		   const char *const *headers, const void *body, size_t len);
/* rv_httpd_defer - called by a handler that answers later (after an
 * asynchronous lookup): the feed returns RV_HTTPD_LATER instead of a 500,
 * and the caller sends H->out once a later rv_httpd_reply* built it (the
 * step is then REPLY). H must stay alive until then: the caller owns it. */
void rv_httpd_defer(struct rv_httpd *h);
/* rv_httpd_reply_text - STATUS with TEXT (a C string) as text/plain. */
int rv_httpd_reply_text(struct rv_httpd *h, int status, const char *text);
/* rv_httpd_reply_json - STATUS with O (consumed) printed on one line and a
 * newline, as application/json. O NULL (its builder ran out of memory) or
 * a failed print: a 500 and -ENOMEM. */
int rv_httpd_reply_json(struct rv_httpd *h, int status, cJSON *o);

/* rv_httpd_healthz - a handler for /healthz: 200 "ok". */
void rv_httpd_healthz(struct rv_httpd *h, void *ud);

/* A file served from the binary (scripts/embed-web.sh makes a table of
 * them, ended by a row with a NULL path). */
struct rv_web_file {
	const char *path;             /* "/room.html" */
	const char *type;             /* its Content-Type */
	const unsigned char *data;
	size_t len;
};
/* rv_httpd_file - a handler that serves H->route->arg, a struct
 * rv_web_file: 200 with its type. */
void rv_httpd_file(struct rv_httpd *h, void *ud);
/* rv_httpd_web_routes - a route table: the N rows of FIXED, then "/" and
 * "/room/" (a prefix) serving the file PAGE of FILES, then a GET/HEAD row
 * per file. *OUT is the caller's to free; its rows borrow FIXED's and
 * FILES' strings. 0, or -ENOMEM. */
int rv_httpd_web_routes(const struct rv_httpd_route *fixed, size_t n, const struct rv_web_file *files,
			const char *page, struct rv_httpd_route **out, size_t *nout);

/* rv_httpd_method_bit - the RV_HTTPD_* bit of METHOD ("GET"), 0 if none. */
unsigned rv_httpd_method_bit(const char *method);
/* rv_httpd_allow - "Allow: GET, HEAD" for the bits of METHODS into BUF
 * (LEN bytes; 64 hold them all). */
void rv_httpd_allow(unsigned methods, char *buf, size_t len);

#endif
