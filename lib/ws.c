/* ws.c - WebSocket framing on wslay's event API, over memory.
 *
 * wslay normally reads from and writes to a socket through callbacks. Here
 * the recv callback reads from the bytes handed to rv_ws_feed() and reports
 * WSLAY_ERR_WOULDBLOCK once they are used up; the send callback appends to
 * an internal capped buffer that rv_ws_take() empties. wslay does the rest:
 * it reassembles fragmented messages (capped by max_msg), answers pings,
 * echoes a close, and on a protocol error queues a close frame and stops
 * reading, which rv_ws_feed() reports as RV_EWS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "err.h"
#include "ws.h"

/* How many encoded bytes may wait in the engine before rv_ws_take() must
 * run; wslay keeps anything more in its own queue until there is room. */
#define RV__WS_OUT_CAP (256 * 1024)

struct rv_ws {
	wslay_event_context_ptr ctx;
	rv_ws_msg_fn fn;
	void *ud;
	const uint8_t *in;      /* the bytes of the current rv_ws_feed() */
	size_t in_len;
	size_t in_off;
	struct rv_buf out;      /* encoded frames waiting for rv_ws_take() */
	int failed;             /* a protocol error was seen */
};

static ssize_t rv__ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			   int flags, void *user_data)
{
	struct rv_ws *ws = user_data;
	size_t n = ws->in_len - ws->in_off;

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n > len)
		n = len;
	memcpy(buf, ws->in + ws->in_off, n);
	ws->in_off += n;
	return (ssize_t)n;
}

static ssize_t rv__ws_send(wslay_event_context_ptr ctx, const uint8_t *data,
			   size_t len, int flags, void *user_data)
{
	struct rv_ws *ws = user_data;
	size_t room = ws->out.cap - rv_buf_size(&ws->out);

	(void)flags;
	if (room == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > room)
		len = room;     /* wslay resends the rest later */
	if (rv_buf_append(&ws->out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Client frames are masked with a fresh random key each (RFC 6455 5.3). */
static int rv__ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			  void *user_data)
{
	(void)user_data;
	if (RAND_bytes(buf, (int)len) != 1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void rv__ws_on_msg(wslay_event_context_ptr ctx,
			  const struct wslay_event_on_msg_recv_arg *arg, void *user_data)
{
	static const uint8_t empty[1];
	struct rv_ws *ws = user_data;
	/* wslay passes NULL for an empty message; callers may memcpy it. */
	const uint8_t *msg = arg->msg ? arg->msg : empty;

	(void)ctx;
	/* Control frames (ping, pong, close) are handled by wslay itself. */
	if (arg->opcode == WSLAY_TEXT_FRAME)
		ws->fn(ws->ud, RV_WS_TEXT, msg, arg->msg_length);
	else if (arg->opcode == WSLAY_BINARY_FRAME)
		ws->fn(ws->ud, RV_WS_BINARY, msg, arg->msg_length);
}

/* Map a wslay error to ours. */
static int rv__ws_err(int rc)
{
	return rc == WSLAY_ERR_NOMEM ? -ENOMEM : RV_EWS;
}

/* Let wslay encode what it has queued into ws->out, as far as it fits. */
static int rv__ws_flush(struct rv_ws *ws)
{
	if (!wslay_event_want_write(ws->ctx))
		return 0;
	int rc = wslay_event_send(ws->ctx);
	return rc < 0 ? rv__ws_err(rc) : 0;
}

int rv_ws_new(struct rv_ws **out, int server, size_t max_msg, rv_ws_msg_fn fn, void *ud)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = rv__ws_recv,
		.send_callback = rv__ws_send,
		.genmask_callback = server ? NULL : rv__ws_genmask,
		.on_msg_recv_callback = rv__ws_on_msg,
	};
	struct rv_ws *ws;
	int rc;

	*out = NULL;
	if (!fn || max_msg == 0)
		return -EINVAL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return -ENOMEM;
	ws->fn = fn;
	ws->ud = ud;
	rv_buf_init(&ws->out, RV__WS_OUT_CAP);
	if (server)
		rc = wslay_event_context_server_init(&ws->ctx, &cb, ws);
	else
		rc = wslay_event_context_client_init(&ws->ctx, &cb, ws);
	if (rc != 0) {
		free(ws);
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, max_msg);
	*out = ws;
	return 0;
}

void rv_ws_free(struct rv_ws *ws)
{
	if (!ws)
		return;
	wslay_event_context_free(ws->ctx);
	rv_buf_free(&ws->out);
	free(ws);
}

int rv_ws_feed(struct rv_ws *ws, const void *data, size_t len)
{
	int rc;

	if (ws->failed)
		return RV_EWS;
	ws->in = data;
	ws->in_len = len;
	ws->in_off = 0;
	rc = wslay_event_recv(ws->ctx);
	ws->in = NULL;
	ws->in_len = ws->in_off = 0;
	/* wslay stops reading for good after a close frame (normal) or after
	 * a protocol error or an oversized message. For those it has queued a
	 * close frame: 1002, 1007 or 1009 for errors in a frame's content, or
	 * one without a status code (and a negative return) for a malformed
	 * frame header. */
	if (rc < 0 || (!wslay_event_get_read_enabled(ws->ctx) &&
		       !wslay_event_get_close_received(ws->ctx)))
		ws->failed = 1;
	int frc = rv__ws_flush(ws); /* pongs, the close echo or the error close */
	if (rc == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (ws->failed)
		return RV_EWS;
	return frc;
}

int rv_ws_send(struct rv_ws *ws, int opcode, const void *data, size_t len)
{
	struct wslay_event_msg msg = {
		.opcode = opcode == RV_WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
		.msg = data,
		.msg_length = len,
	};
	int rc;

	if (opcode != RV_WS_TEXT && opcode != RV_WS_BINARY)
		return -EINVAL;
	/* wslay copies the payload, so DATA is the caller's again on return. */
	rc = wslay_event_queue_msg(ws->ctx, &msg);
	if (rc != 0)
		return rc == WSLAY_ERR_NO_MORE_MSG ? RV_ECLOSED : rv__ws_err(rc);
	return rv__ws_flush(ws);
}

int rv_ws_ping(struct rv_ws *ws)
{
	struct wslay_event_msg msg = { .opcode = WSLAY_PING };
	int rc = wslay_event_queue_msg(ws->ctx, &msg);

	if (rc != 0)
		return rc == WSLAY_ERR_NO_MORE_MSG ? RV_ECLOSED : rv__ws_err(rc);
	return rv__ws_flush(ws);
}

int rv_ws_close(struct rv_ws *ws, uint16_t code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;

	if (rlen > 123)         /* a control frame carries at most 125 bytes */
		return -EINVAL;
	int rc = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rlen);
	if (rc != 0)
		return rc == WSLAY_ERR_NO_MORE_MSG ? RV_ECLOSED : rv__ws_err(rc);
	return rv__ws_flush(ws);
}

long rv_ws_take(struct rv_ws *ws, struct rv_buf *out)
{
	long moved = 0;

	for (;;) {
		size_t have = rv_buf_size(&ws->out);
		size_t room = out->cap - rv_buf_size(out);
		size_t n = have < room ? have : room;
		if (n > 0) {
			int rc = rv_buf_append(out, rv_buf_head(&ws->out), n);
			if (rc < 0)
				return moved ? moved : rc;
			rv_buf_consume(&ws->out, n);
			moved += (long)n;
		}
		if (rv_buf_size(&ws->out) > 0) {
			/* OUT is full: the rest waits for the next call. */
			return moved ? moved : RV_ETOOBIG;
		}
		if (!wslay_event_want_write(ws->ctx))
			return moved;
		int rc = rv__ws_flush(ws);
		if (rc < 0)
			return moved ? moved : rc;
		if (rv_buf_size(&ws->out) == 0)
			return moved;   /* wslay had nothing it could send */
	}
}

int rv_ws_closed(const struct rv_ws *ws)
{
	wslay_event_context_ptr ctx = ws->ctx;

	if (!wslay_event_get_close_received(ctx) && !wslay_event_get_close_sent(ctx))
		return 0;
	return rv_buf_size(&ws->out) == 0 && !wslay_event_want_write(ctx);
}
