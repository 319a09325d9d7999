/* session.h - an RV client session: connect, hello, requests, events,
 * reconnect with backoff.
 *
 * Requests are frames with a "seq"; each waits for its ok or error reply.
 * Requests made while disconnected are queued and sent once the session is
 * up; with reconnect on, requests that were sent but not answered when the
 * connection broke are sent again after reconnecting, so nothing accepted
 * by rv_session_request is silently lost. */
#ifndef RV_SESSION_H
#define RV_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <uv.h>

#include "buf.h"
#include "stream.h"
#include "tls.h"

struct rv_session;

struct rv_session_conf {
	const char *host;
	int port;
	const char *id;
	const char *role;            /* "recv" or "send" */
	const char *token;           /* or NULL */
	const char *client;          /* e.g. "rvgroup/0.1.0" */
	struct rv_tls_ctx *tls;      /* NULL: plain TCP */
	cJSON *hello_extra;          /* fields merged into hello (borrowed) */
	int reconnect;               /* reconnect with backoff after a loss */
	double connect_timeout;      /* seconds, per attempt */
	size_t max_frame;            /* largest body accepted */
};

enum rv_session_state { RV_SESSION_UP, RV_SESSION_DOWN };

/* The session came up (ERR 0) or went down (ERR why). A DOWN with the
 * session not reconnecting is final: close the session. */
typedef void (*rv_session_state_fn)(struct rv_session *s, enum rv_session_state st,
				    int err, const char *why, void *ud);
/* A frame that is not a reply: a message, an event, a bye. HDR and BODY are
 * valid during the call only. A media frame (TYPE "media") is recognised
 * without parsing JSON; its HDR is one object the session keeps. */
typedef void (*rv_session_frame_fn)(struct rv_session *s, const char *type, cJSON *hdr,
				    const uint8_t *body, size_t len, void *ud);
/* The reply to a request: ERR 0 and the ok frame, or a negative code with
 * the error frame (or NULL when the session closed first). */
typedef void (*rv_session_reply_fn)(struct rv_session *s, int err, cJSON *reply, void *ud);

/* rv_session_new - a session on LOOP. CONF is copied (its strings must
 * outlive the session). *OUT is owned by the caller: rv_session_close. */
int rv_session_new(struct rv_session **out, uv_loop_t *loop, const struct rv_session_conf *conf,
		   rv_session_state_fn on_state, rv_session_frame_fn on_frame, void *ud);
int rv_session_start(struct rv_session *s);
/* rv_session_request - send HDR (consumed; "seq" is set here) with BODY.
 * FN (may be NULL) gets the reply. */
int rv_session_request(struct rv_session *s, cJSON *hdr, const void *body, size_t len,
		       rv_session_reply_fn fn, void *ud);
/* rv_session_send - send HDR (consumed) and BODY now, with no seq and so no
 * reply: for bulk data. RV_ECLOSED while the session is not up; RV_ETOOBIG
 * when the connection's output queue is full. */
int rv_session_send(struct rv_session *s, cJSON *hdr, const void *body, size_t len);
/* rv_session_writev - send the N buffers of B now, which together are whole
 * frames the caller built (e.g. rv_frame_media_head and its packet): no
 * JSON and no allocation here. Return values as for rv_session_send. */
int rv_session_writev(struct rv_session *s, const uv_buf_t *b, unsigned n);
/* rv_session_queued - bytes waiting in the connection's output queue. */
size_t rv_session_queued(const struct rv_session *s);
/* rv_session_server_queue - the server's cap on what it queues for one
 * connection (welcome's max_queue), or 0 when it did not say. */
size_t rv_session_server_queue(const struct rv_session *s);
/* rv_session_server_frame - the largest frame body the server takes
 * (welcome's max_frame, its --max-frame), or 0 when it did not say. */
size_t rv_session_server_frame(const struct rv_session *s);
/* rv_session_pending - requests not yet answered. */
size_t rv_session_pending(const struct rv_session *s);
/* rv_session_close - end the session; pending replies get RV_ECLOSED. The
 * memory is freed once libuv has closed the handles. */
void rv_session_close(struct rv_session *s);
/* rv_session_code - map an error frame's "code" to an RV_E* value. */
int rv_session_code(const char *code);

#endif
