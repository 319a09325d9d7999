/* srvconn.h - the connection layer rvserver and rvsignal share, on top of
 * lib/stream: what a server connection does between its accept and its
 * own protocol.
 *
 *   accept -> sniff (lib/sniff: TLS, a preface, HTTP or the server's own)
 *          -> TLS: rv_stream_start_tls, then sniff the plaintext again
 *          -> HTTP: rv_srvconn_http feeds lib/httpd (the server's route
 *             table) and writes its reply, or the 101 of an upgrade
 *          -> WebSocket: rv_srvconn_ws_input / rv_srvconn_ws_send
 *   sweeps: rv_sweep_check says what each connection is due (a closing
 *           deadline, a handshake timeout, an idle timeout, a ping)
 *   stop:   struct rv_srvlife owns the sweep timer, SIGINT/SIGTERM and the
 *           stop deadline: the server tells its connections, the loop ends
 *           when the last is gone or, at the deadline, what remains is
 *           closed
 *
 * The decisions live in the sans-I/O engines (lib/sniff.h, lib/httpd.h,
 * lib/ws.h); this file moves their bytes to and from a stream. The
 * listener, port file, open-file limit and stop signals are lib/listen.h
 * and lib/portfile.h; the /metrics and /stats table is lib/metrics.h.
 *
 * Who uses it: rvserver (cmd/rvserver/server.c: sniffing, sweeps, stop;
 * endpoints.c: its route rows) and rvsignal (cmd/rvsignal/server.c). Each
 * keeps its own connection struct (a struct rv_stream first) and list, and
 * its protocol glue (RV frames and the relay; rooms and the line broker):
 * the layer has no connection type, so their structs stay as their
 * protocol code knows them. Future HTTP endpoints (WHIP, WHEP) are rows.
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
#include "listen.h"
#include "stream.h"
#include "ws.h"

/* rv_srvconn_http - feed LEN bytes of an HTTP request on S to *HP, made
 * on first use (rv_httpd_init on ROUTES, N rows); the rows' handlers get
 * UD. Returns the step: MORE; REPLY: the reply is written and S ends once
 * it is out; UPGRADE: the 101 is written, and the last (*HP)->rest bytes
 * of DATA are WebSocket's; LATER: the handler deferred (rv_httpd_defer),
 * nothing is written until rv_srvconn_http_replied. *HP stays (its
 * request, status, route) until the caller frees it with
 * rv_srvconn_http_free. -ENOMEM: S is closed. */
int rv_srvconn_http(struct rv_stream *s, struct rv_httpd **hp, const struct rv_httpd_route *routes,
		    size_t n, const uint8_t *data, size_t len, void *ud);
/* rv_srvconn_http_replied - a deferred request (step RV_HTTPD_LATER) got
 * its reply in H->out: write it and end S. Does nothing while the step is
 * not REPLY or S is closing. */
void rv_srvconn_http_replied(struct rv_stream *s, struct rv_httpd *h);
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

/* ---- sweeps: what a connection is due, no I/O ---- */

#define RV_CLOSE_DEADLINE_MS 5000   /* a closing connection's last chance */
#define RV_STOP_DEADLINE_MS 1000    /* a stopping server's connections' last chance */

enum rv_sweep_phase {
	RV_SWEEP_HANDSHAKING,         /* not yet a client (no hello, a request being read) */
	RV_SWEEP_OPEN,                /* a client */
	RV_SWEEP_CLOSING,             /* told goodbye, its last bytes on their way */
};

enum rv_sweep_due {
	RV_SWEEP_NOTHING,
	RV_SWEEP_CLOSE,               /* CLOSING past closing_ms: close it now */
	RV_SWEEP_HANDSHAKE,           /* HANDSHAKING past handshake_ms */
	RV_SWEEP_IDLE,                /* OPEN and silent for idle_ms: say goodbye */
	RV_SWEEP_PING,                /* OPEN, silent for ping_ms, not pinged since */
};

/* The deadlines, in ms; 0 turns one off (closing_ms 0: never forced). */
struct rv_sweep_conf {
	uint64_t handshake_ms, idle_ms, ping_ms, closing_ms;
};

/* rv_sweep_check - what a connection in PHASE, last heard from at
 * LAST_RX (loop time, ms; a closing one: since it was told), PINGED or
 * not, is due at NOW. An idle timeout wins over a ping. */
enum rv_sweep_due rv_sweep_check(const struct rv_sweep_conf *cf, uint64_t now, uint64_t last_rx,
				 enum rv_sweep_phase phase, int pinged);

/* ---- a server's life: sweeps, stop signals, the stop deadline ---- */

struct rv_srvlife {
	uv_timer_t sweep, deadline;
	struct rv_stop_signals signals;
	struct rv_io *io;
	void *ud;
	void (*on_sweep)(void *ud, uint64_t now);  /* every sweep interval */
	void (*on_stop)(void *ud, const char *why); /* SIGINT ("interrupted"), SIGTERM ("terminated") */
	void (*close_all)(void *ud);               /* the stop deadline passed */
	void (*on_finish)(void *ud);               /* last: close the server's own handles (may be NULL) */
	int stopping, finished;
};

/* rv_srvlife_start - run ON_SWEEP every SWEEP_MS on LOOP and turn SIGINT
 * and SIGTERM into ON_STOP; IO is the server's (closed at the finish).
 * The callbacks get UD. */
void rv_srvlife_start(struct rv_srvlife *l, uv_loop_t *loop, struct rv_io *io, uint64_t sweep_ms,
		      void *ud, void (*on_sweep)(void *ud, uint64_t now),
		      void (*on_stop)(void *ud, const char *why), void (*close_all)(void *ud),
		      void (*on_finish)(void *ud));
/* rv_srvlife_stop - begin a graceful stop: 1 the first time (sweeps stop;
 * the caller closes its listeners, tells its connections, then calls
 * rv_srvlife_drain), 0 when already stopping. */
int rv_srvlife_stop(struct rv_srvlife *l);
/* rv_srvlife_drain - NCONNS connections remain: none, finish now; else
 * give them DEADLINE_MS (0: no deadline), then CLOSE_ALL. */
void rv_srvlife_drain(struct rv_srvlife *l, size_t nconns, uint64_t deadline_ms);
/* rv_srvlife_closed - a connection closed, NCONNS remain: once stopping
 * and none remain, finish. */
void rv_srvlife_closed(struct rv_srvlife *l, size_t nconns);
/* rv_srvlife_finish - close the timers, the signals (from here on the
 * process ignores them: it ends in a moment) and IO, then ON_FINISH; once.
 * uv_run then returns. */
void rv_srvlife_finish(struct rv_srvlife *l);

#endif
