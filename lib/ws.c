/* ws.c - WebSocket framing on wslay's event API, over memory.
 *
 * wslay normally reads from and writes to a socket through callbacks. Here
 * the recv callback reads from the bytes handed to rv_ws_feed() and reports
 * WSLAY_ERR_WOULDBLOCK once they are used up; the send callback appends to
 * an internal capped buffer that rv_ws_take() empties. wslay does the rest:
 * it reassembles fragmented messages (capped by max_msg), answers pings,
 * echoes a close, and on a protocol error queues a close frame and stops
 * reading, which rv_ws_feed() reports as RV_EWS.
 *
 * Idle engines hold no wslay context. An event context carries two fixed
 * 4 KiB buffers (its own output buffer and its frame parser's input buffer),
 * about 9 KiB, while an idle WebSocket needs no state at all. So the context
 * is made when the first byte arrives, or when a ping or a close is to be
 * sent, and freed as soon as it holds nothing again:
 *   - every byte it has read belongs to a frame it has finished (counted
 *     with wslay's frame callbacks: see rv__ws_frame_end()),
 *   - no fragmented message is half received,
 *   - its send queues are empty (what it encoded waits in ws->out, ours),
 *   - no close was sent or received and no error seen: from then on the
 *     context stays until rv_ws_free(), so its close state is never lost.
 * A data message sent while there is no context is framed by wslay's frame
 * API, with one frame context shared by every engine of the thread (it keeps
 * no state from one whole frame to the next). */
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
/* The longest frame header: 2 bytes, a 64-bit length, a mask key. */
#define RV__WS_MAX_HEADER 14

struct rv_ws {
	wslay_event_context_ptr ctx;  /* NULL while idle */
	rv_ws_msg_fn fn;
	void *ud;
	size_t max_msg;
	const uint8_t *in;      /* the bytes of the current rv_ws_feed() */
	size_t in_len;
	size_t in_off;
	uint64_t held;          /* bytes wslay read that no finished frame accounts for */
	uint64_t frame_len;     /* payload length of the frame being received */
	struct rv_buf out;      /* encoded frames waiting for rv_ws_take() */
	uint8_t server;
	uint8_t failed;         /* a protocol error was seen */
	uint8_t busy;           /* inside wslay_event_recv(): ctx must stay */
	uint8_t frame_data;     /* the frame being received carries data ... */
	uint8_t frame_fin;      /* ... and ends its message */
	uint8_t partial;        /* a fragmented message is half received */
	uint8_t keep;           /* the byte count went wrong: never free ctx */
};

/* ---- the shared frame context ---- */

/* Frames data messages for the engines of this thread that have no event
 * context. An rv_ws is used and freed on the thread that made it (one libuv
 * loop); the context lives while any engine does. */
static _Thread_local struct {
	wslay_frame_context_ptr ctx;
	struct rv_buf *to;      /* the buffer written to, during wslay_frame_send() */
	unsigned long users;    /* engines alive */
} rv__ws_framer;

static ssize_t rv__ws_framer_send(const uint8_t *data, size_t len, int flags, void *user_data)
{
	(void)flags;
	(void)user_data;
	/* The room was reserved: this cannot fail (see rv__ws_send_direct()). */
	if (rv_buf_append(rv__ws_framer.to, data, len) < 0)
		return -1;
	return (ssize_t)len;
}

static ssize_t rv__ws_framer_recv(uint8_t *buf, size_t len, int flags, void *user_data)
{
	(void)buf;
	(void)len;
	(void)flags;
	(void)user_data;
	return -1;              /* it only ever sends */
}

static int rv__ws_framer_genmask(uint8_t *buf, size_t len, void *user_data)
{
	(void)user_data;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void rv__ws_framer_reset(void)
{
	wslay_frame_context_free(rv__ws_framer.ctx);
	rv__ws_framer.ctx = NULL;
}

/* Frame one whole data message of P1 then P2 (L1 + L2 bytes) into OUT with
 * the shared frame context, masked when MASK. 1 when done, 0 when OUT has no
 * room for it, or a negative error. */
static int rv__ws_frame_into(struct rv_buf *out, int mask, uint8_t opcode,
			     const void *p1, size_t l1, const void *p2, size_t l2)
{
	static const struct wslay_frame_callbacks cb = {
		.send_callback = rv__ws_framer_send,
		.recv_callback = rv__ws_framer_recv,
		.genmask_callback = rv__ws_framer_genmask,
	};
	size_t len = l1 + l2;
	struct wslay_frame_iocb iocb = {
		.fin = 1,
		.opcode = opcode,
		.mask = mask,
		.payload_length = len,
		.data = p1,
		.data_length = l1,
	};
	size_t room = out->cap - rv_buf_size(out);

	if (room < RV__WS_MAX_HEADER || len > room - RV__WS_MAX_HEADER)
		return 0;
	/* With the whole frame's room reserved, every append of the send
	 * callback succeeds, so wslay always takes each part in one call and
	 * the shared context is back at a frame boundary after the last. */
	if (!rv_buf_reserve(out, len + RV__WS_MAX_HEADER))
		return -ENOMEM;
	if (!rv__ws_framer.ctx && wslay_frame_context_init(&rv__ws_framer.ctx, &cb, NULL) != 0) {
		rv__ws_framer.ctx = NULL;
		return -ENOMEM;
	}
	uint32_t mark = out->len;
	rv__ws_framer.to = out;
	ssize_t n = wslay_frame_send(rv__ws_framer.ctx, &iocb);
	if (n == (ssize_t)l1 && l2) {	/* the rest of the payload */
		iocb.data = p2;
		iocb.data_length = l2;
		ssize_t m = wslay_frame_send(rv__ws_framer.ctx, &iocb);
		n = m == (ssize_t)l2 ? (ssize_t)len : m < 0 ? m : -1;
	}
	rv__ws_framer.to = NULL;
	if (n != (ssize_t)len) {
		/* Only the mask callback can fail, before any byte is written;
		 * still, drop any part of the frame and start the context afresh. */
		out->len = mark;
		rv__ws_framer_reset();
		return n == WSLAY_ERR_NOMEM ? -ENOMEM : RV_EWS;
	}
	return 1;
}

/* Frame one whole data message into ws->out (see rv__ws_frame_into). */
static int rv__ws_send_direct(struct rv_ws *ws, uint8_t opcode, const void *data, size_t len)
{
	return rv__ws_frame_into(&ws->out, !ws->server, opcode, data, len, NULL, 0);
}

int rv_ws_frame(struct rv_buf *out, int opcode, const void *p1, size_t l1, const void *p2, size_t l2)
{
	if ((opcode != RV_WS_TEXT && opcode != RV_WS_BINARY) || (l2 && !p2))
		return -EINVAL;
	int rc = rv__ws_frame_into(out, 0, (uint8_t)opcode, p1, l1, p2, l2);
	if (rv__ws_framer.users == 0)	/* no engine keeps the context alive */
		rv__ws_framer_reset();
	return rc == 0 ? RV_ETOOBIG : rc < 0 ? rc : 0;
}

/* ---- the event context ---- */

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
	ws->held += n;
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

static void rv__ws_frame_start(wslay_event_context_ptr ctx,
			       const struct wslay_event_on_frame_recv_start_arg *arg,
			       void *user_data)
{
	struct rv_ws *ws = user_data;

	(void)ctx;
	ws->frame_len = arg->payload_length;
	ws->frame_data = arg->opcode == WSLAY_CONTINUATION_FRAME ||
			 arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME;
	ws->frame_fin = arg->fin;
}

/* A frame is complete: the bytes it took leave the count of bytes held.
 * wslay accepts only the shortest length encoding and, from a client, only
 * masked frames (from a server, only unmasked ones), so its header length
 * follows from its payload length. */
static void rv__ws_frame_end(wslay_event_context_ptr ctx, void *user_data)
{
	struct rv_ws *ws = user_data;
	uint64_t len = ws->frame_len;
	uint64_t n = len + 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (ws->server ? 4 : 0);

	(void)ctx;
	if (n > ws->held)
		ws->keep = 1;   /* cannot happen; if it did, the context stays */
	else
		ws->held -= n;
	if (ws->frame_data)
		ws->partial = !ws->frame_fin;
	/* Control frames may come between fragments: they change nothing. */
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

/* Make the event context if there is none. */
static int rv__ws_engine(struct rv_ws *ws)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = rv__ws_recv,
		.send_callback = rv__ws_send,
		.genmask_callback = ws->server ? NULL : rv__ws_genmask,
		.on_frame_recv_start_callback = rv__ws_frame_start,
		.on_frame_recv_end_callback = rv__ws_frame_end,
		.on_msg_recv_callback = rv__ws_on_msg,
	};
	int rc;

	if (ws->ctx)
		return 0;
	if (ws->server)
		rc = wslay_event_context_server_init(&ws->ctx, &cb, ws);
	else
		rc = wslay_event_context_client_init(&ws->ctx, &cb, ws);
	if (rc != 0) {
		ws->ctx = NULL;
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
	return 0;
}

/* Free the event context if it holds nothing (see the top of this file), and
 * ws->out's memory once it is empty with no context. */
static void rv__ws_settle(struct rv_ws *ws)
{
	wslay_event_context_ptr ctx = ws->ctx;

	if (ctx && !ws->busy && !ws->failed && !ws->keep && !ws->held && !ws->partial &&
	    wslay_event_get_read_enabled(ctx) && wslay_event_get_write_enabled(ctx) &&
	    !wslay_event_want_write(ctx)) {
		wslay_event_context_free(ctx);
		ws->ctx = NULL;
	}
	if (!ws->ctx && rv_buf_size(&ws->out) == 0)
		rv_buf_free(&ws->out);
}

/* Let wslay encode what it has queued into ws->out, as far as it fits. */
static int rv__ws_flush(struct rv_ws *ws)
{
	if (!wslay_event_want_write(ws->ctx))
		return 0;
	int rc = wslay_event_send(ws->ctx);
	return rc < 0 ? rv__ws_err(rc) : 0;
}

/* ---- the API ---- */

int rv_ws_new(struct rv_ws **out, int server, size_t max_msg, rv_ws_msg_fn fn, void *ud)
{
	struct rv_ws *ws;

	*out = NULL;
	if (!fn || max_msg == 0)
		return -EINVAL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return -ENOMEM;
	ws->fn = fn;
	ws->ud = ud;
	ws->max_msg = max_msg;
	ws->server = server != 0;
	rv_buf_init(&ws->out, RV__WS_OUT_CAP);
	rv__ws_framer.users++;
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
	if (--rv__ws_framer.users == 0)
		rv__ws_framer_reset();
}

int rv_ws_feed(struct rv_ws *ws, const void *data, size_t len)
{
	int rc;

	if (ws->failed)
		return RV_EWS;
	if (len == 0 && !ws->ctx)
		return 0;
	if ((rc = rv__ws_engine(ws)) < 0)
		return rc;
	ws->in = data;
	ws->in_len = len;
	ws->in_off = 0;
	ws->busy = 1;           /* the message callback may send */
	rc = wslay_event_recv(ws->ctx);
	ws->busy = 0;
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
	rv__ws_settle(ws);
	if (rc == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (ws->failed)
		return RV_EWS;
	return frc;
}

/* Queue MSG on the event context (made if needed) and encode it. */
static int rv__ws_queue(struct rv_ws *ws, const struct wslay_event_msg *msg)
{
	int rc = rv__ws_engine(ws);

	if (rc < 0)
		return rc;
	rc = wslay_event_queue_msg(ws->ctx, msg);
	if (rc != 0)
		rc = rc == WSLAY_ERR_NO_MORE_MSG ? RV_ECLOSED : rv__ws_err(rc);
	else
		rc = rv__ws_flush(ws);
	rv__ws_settle(ws);
	return rc;
}

int rv_ws_send(struct rv_ws *ws, int opcode, const void *data, size_t len)
{
	struct wslay_event_msg msg = {
		.opcode = opcode == RV_WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
		.msg = data,
		.msg_length = len,
	};

	if (opcode != RV_WS_TEXT && opcode != RV_WS_BINARY)
		return -EINVAL;
	/* Without a context nothing is queued in wslay, so framing it now
	 * keeps the order. Either way DATA is the caller's again on return. */
	if (!ws->ctx) {
		int rc = rv__ws_send_direct(ws, msg.opcode, data, len);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return rv__ws_queue(ws, &msg);
}

int rv_ws_ping(struct rv_ws *ws)
{
	struct wslay_event_msg msg = { .opcode = WSLAY_PING };

	return rv__ws_queue(ws, &msg);
}

int rv_ws_close(struct rv_ws *ws, uint16_t code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	int rc;

	if (rlen > 123)         /* a control frame carries at most 125 bytes */
		return -EINVAL;
	if ((rc = rv__ws_engine(ws)) < 0)
		return rc;
	rc = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rlen);
	if (rc != 0)
		rc = rc == WSLAY_ERR_NO_MORE_MSG ? RV_ECLOSED : rv__ws_err(rc);
	else
		rc = rv__ws_flush(ws);
	rv__ws_settle(ws);
	return rc;
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
		if (!ws->ctx || !wslay_event_want_write(ws->ctx))
			break;
		int rc = rv__ws_flush(ws);
		if (rc < 0)
			return moved ? moved : rc;
		if (rv_buf_size(&ws->out) == 0)
			break;  /* wslay had nothing it could send */
	}
	rv__ws_settle(ws);
	return moved;
}

int rv_ws_closed(const struct rv_ws *ws)
{
	wslay_event_context_ptr ctx = ws->ctx;

	if (!ctx)
		return 0;       /* a close keeps the context */
	if (!wslay_event_get_close_received(ctx) && !wslay_event_get_close_sent(ctx))
		return 0;
	return rv_buf_size(&ws->out) == 0 && !wslay_event_want_write(ctx);
}

int rv_ws_idle(const struct rv_ws *ws)
{
	return ws->ctx == NULL;
}
