/* srvconn.c - a server connection's HTTP and WebSocket bytes, to and
 * from its stream. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "srvconn.h"

int rv_srvconn_http(struct rv_stream *s, struct rv_httpd **hp, const struct rv_httpd_route *routes,
		    size_t n, const uint8_t *data, size_t len, void *ud)
{
	if (!*hp) {
		*hp = malloc(sizeof **hp);
		if (!*hp || rv_httpd_init(*hp, routes, n) < 0) {
			rv_srvconn_http_free(hp);
			rv_stream_close(s, -ENOMEM);
			return -ENOMEM;
		}
	}
	enum rv_httpd_step step = rv_httpd_feed(*hp, data, len, ud);
	if (step == RV_HTTPD_MORE || s->closing)
		return step;
	struct rv_buf *out = &(*hp)->out;
	if (rv_buf_size(out))
		rv_stream_write(s, rv_buf_head(out), rv_buf_size(out));
	rv_buf_free(out);
	if (step == RV_HTTPD_REPLY)
		rv_stream_end(s);
	return step;
}

void rv_srvconn_http_replied(struct rv_stream *s, struct rv_httpd *h)
{
	if (!h || h->step != RV_HTTPD_REPLY || s->closing)
		return;
	struct rv_buf *out = &h->out;
	if (rv_buf_size(out))
		rv_stream_write(s, rv_buf_head(out), rv_buf_size(out));
	rv_buf_free(out);
	rv_stream_end(s);
}

void rv_srvconn_http_free(struct rv_httpd **hp)
{
	if (!*hp)
		return;
	rv_httpd_free(*hp);
	free(*hp);
	*hp = NULL;
}

int rv_srvconn_ws_flush(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *scratch)
{
	rv_buf_reset(scratch);
	if (rv_ws_take(ws, scratch) <= 0)
		return 0;
	return rv_stream_write(s, rv_buf_head(scratch), rv_buf_size(scratch));
}

int rv_srvconn_ws_input(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *scratch,
			const uint8_t *data, size_t len)
{
	int rc = rv_ws_feed(ws, data, len);
	if (s->closing)
		return 1;
	rv_srvconn_ws_flush(s, ws, scratch);	/* pongs, close echoes */
	if (rc < 0)
		return RV_EWS;
	return rv_ws_closed(ws) ? 1 : 0;
}

int rv_srvconn_ws_send(struct rv_stream *s, struct rv_ws *ws, struct rv_buf *frame,
		       struct rv_buf *scratch, int opcode, const uint8_t *head, size_t hlen,
		       const uint8_t *body, size_t blen)
{
	if (frame && !rv_buf_size(frame) && rv_ws_frame(frame, opcode, head, hlen, body, blen) < 0)
		frame = NULL;	/* out of memory: each frames its own */
	if (frame && rv_ws_idle(ws)) {
		rv_srvconn_ws_flush(s, ws, scratch);	/* anything before it first */
		return rv_stream_write(s, rv_buf_head(frame), rv_buf_size(frame));
	}
	uint8_t *whole = blen ? malloc(hlen + blen) : NULL;
	if (blen && !whole)
		return -ENOMEM;
	if (whole) {
		memcpy(whole, head, hlen);
		memcpy(whole + hlen, body, blen);
	}
	int rc = rv_ws_send(ws, opcode, whole ? whole : head, hlen + blen);
	free(whole);
	if (rc == 0) {
		rv_buf_reset(scratch);
		rv_ws_take(ws, scratch);
		rc = rv_stream_write(s, rv_buf_head(scratch), rv_buf_size(scratch));
	}
	return rc;
}

enum rv_sweep_due rv_sweep_check(const struct rv_sweep_conf *cf, uint64_t now, uint64_t last_rx,
				 enum rv_sweep_phase phase, int pinged)
{
	uint64_t quiet = now > last_rx ? now - last_rx : 0;
	switch (phase) {
	case RV_SWEEP_CLOSING:
		return cf->closing_ms && quiet >= cf->closing_ms ? RV_SWEEP_CLOSE : RV_SWEEP_NOTHING;
	case RV_SWEEP_HANDSHAKING:
		return cf->handshake_ms && quiet >= cf->handshake_ms ? RV_SWEEP_HANDSHAKE : RV_SWEEP_NOTHING;
	case RV_SWEEP_OPEN:
		if (cf->idle_ms && quiet >= cf->idle_ms)
			return RV_SWEEP_IDLE;
		if (cf->ping_ms && quiet >= cf->ping_ms && !pinged)
			return RV_SWEEP_PING;
		return RV_SWEEP_NOTHING;
	}
	return RV_SWEEP_NOTHING;
}

static void on_sweep_timer(uv_timer_t *t)
{
	struct rv_srvlife *l = t->data;
	l->on_sweep(l->ud, uv_now(t->loop));
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct rv_srvlife *l = h->data;
	l->on_stop(l->ud, signum == SIGINT ? "interrupted" : "terminated");
}

static void on_deadline(uv_timer_t *t)
{
	struct rv_srvlife *l = t->data;
	l->close_all(l->ud);
}

void rv_srvlife_start(struct rv_srvlife *l, uv_loop_t *loop, struct rv_io *io, uint64_t sweep_ms,
		      void *ud, void (*on_sweep)(void *ud, uint64_t now),
		      void (*on_stop)(void *ud, const char *why), void (*close_all)(void *ud),
		      void (*on_finish)(void *ud))
{
	memset(l, 0, sizeof *l);
	l->io = io;
	l->ud = ud;
	l->on_sweep = on_sweep;
	l->on_stop = on_stop;
	l->close_all = close_all;
	l->on_finish = on_finish;
	uv_timer_init(loop, &l->sweep);
	l->sweep.data = l;
	uv_timer_start(&l->sweep, on_sweep_timer, sweep_ms, sweep_ms);
	uv_timer_init(loop, &l->deadline);
	l->deadline.data = l;
	rv_stop_signals_start(&l->signals, loop, l, on_stop_signal);
}

int rv_srvlife_stop(struct rv_srvlife *l)
{
	if (l->stopping)
		return 0;
	l->stopping = 1;
	uv_timer_stop(&l->sweep);
	return 1;
}

void rv_srvlife_drain(struct rv_srvlife *l, size_t nconns, uint64_t deadline_ms)
{
	if (nconns == 0)
		rv_srvlife_finish(l);
	else if (deadline_ms && !l->finished)
		uv_timer_start(&l->deadline, on_deadline, deadline_ms, 0);
}

void rv_srvlife_closed(struct rv_srvlife *l, size_t nconns)
{
	if (l->stopping && nconns == 0)
		rv_srvlife_finish(l);
}

void rv_srvlife_finish(struct rv_srvlife *l)
{
	if (l->finished)
		return;
	l->finished = 1;
	uv_close((uv_handle_t *)&l->sweep, NULL);
	uv_close((uv_handle_t *)&l->deadline, NULL);
	/* The process ends in a moment: a signal repeated now (timeout(1)
	 * sends one to the child and again to its group) must not kill it. */
	rv_stop_signals_close(&l->signals, NULL);
	if (l->on_finish)
		l->on_finish(l->ud);
	rv_io_close(l->io);
}
