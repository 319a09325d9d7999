/* srvconn.c - a server connection's HTTP and WebSocket bytes, to and
 * from its stream. */
#include <errno.h>
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
