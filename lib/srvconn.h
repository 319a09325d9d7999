/* srvconn.h - the connection layer rvserver and rvsignal share, on top of
 * lib/stream: what a server connection does between its accept and its
 * own protocol.
 *
 *   accept -> sniff (lib/sniff: TLS, a preface, HTTP or the server's own)
 *          -> TLS: rv_stream_start_tls, then sniff the plaintext again
 *          -> HTTP: rv_srvconn_http feeds lib/httpd (the server's route
 *             table) and writes its reply, or the 101 of an upgrade
 *          -> WebSocket: rv_srvconn_ws_input / rv_srvconn_ws_send
 *
 * The decisions live in the sans-I/O engines (lib/sniff.h, lib/httpd.h,
 * lib/ws.h); this file moves their bytes to and from a stream. The
 * listener, port file, open-file limit and stop signals are lib/listen.h
 * and lib/portfile.h; the /metrics and /stats table is lib/metrics.h.
 *
 * Ownership: the caller owns its connection (the stream, the struct
 * rv_httpd behind *HP, the struct rv_ws); SCRATCH buffers are the
 * caller's, reset here before use, and hold nothing between calls. */
#ifndef RV_SRVCONN_H
#define RV_SRVCONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "httpd.h"
#include "stream.h"
#include "ws.h"

/* rv_srvconn_http - feed LEN bytes of an HTTP request on S to *HP, made
 * on first use (rv_httpd_init on ROUTES, N rows); the rows' handlers get
 * UD. Returns the step: MORE; REPLY: the reply is written and S ends once
 * it is out; UPGRADE: the 101 is written, and the last (*HP)->rest bytes
 * of DATA are WebSocket's. *HP stays (its request, status, route) until
 * the caller frees it with rv_srvconn_http_free. -ENOMEM: S is closed. */
int rv_srvconn_http(struct rv_stream *s, struct rv_httpd **hp, const struct rv_httpd_route *routes,
		    size_t n, const uint8_t *data, size_t len, void *ud);
/* rv_srvconn_http_free - release *HP (may be NULL) and set it to NULL. */
void rv_srvconn_http_free(struct rv_httpd **hp);

/* rv_srvconn_ws_flush - write to S what WS has to send (pongs, close
 * frames, queued messages), through SCRATCH. 0, or rv_stream_write's error. */
int rv_srvconn_ws_flush(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *scratch);
/* rv_srvconn_ws_input - feed LEN bytes from the peer to WS (its messages
 * go to its callback, which may close S) and flush the answers. 0; 1 once
 * the WebSocket is closed (end S); RV_EWS on a protocol error (end S). */
int rv_srvconn_ws_input(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *scratch,
			const uint8_t *data, size_t len);
/* rv_srvconn_ws_send - send one data message (OPCODE: RV_WS_TEXT or
 * RV_WS_BINARY) whose payload is HEAD then BODY (BLEN may be 0). FRAME,
 * when not NULL, is a fan-out's cache: empty before the message's first
 * receiver and reset by the caller per message, it holds the message
 * framed once, and the same bytes go to every receiver whose engine is
 * idle (no copy per receiver). 0; rv_stream_write's error (RV_ETOOBIG: S's
 * cap, nothing queued); -ENOMEM. */
int rv_srvconn_ws_send(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *frame,
		       struct rv_buf *scratch, int opcode, const uint8_t *head, size_t hlen,
		       const uint8_t *body, size_t blen);

#endif
