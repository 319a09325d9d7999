/* ws.h - WebSocket framing (wslay) as a pure engine, no I/O.
 *
 * Bytes from the network go in with rv_ws_feed(); each complete message is
 * handed to the callback; pings are answered and a close is echoed by the
 * engine. Messages to send are queued with rv_ws_send(); the bytes that must
 * then go out are taken with rv_ws_take(). Incoming messages are capped.
 *
 * An engine between messages holds no wslay context (about 9 KiB): it is
 * made again on the next byte received, ping or close, and a data message
 * sent meanwhile is framed without one. Nothing of this shows in the API. */
#ifndef RV_WS_H
#define RV_WS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum { RV_WS_TEXT = 1, RV_WS_BINARY = 2 };

struct rv_ws;

/* Called once per complete data message; DATA is valid during the call only. */
typedef void (*rv_ws_msg_fn)(void *ud, int opcode, const uint8_t *data, size_t len);

/* rv_ws_new - SERVER: 1 for the server side (expects masked input, sends
 * unmasked), 0 for a client. MAX_MSG caps one message. *OUT is owned by the
 * caller (rv_ws_free). */
int rv_ws_new(struct rv_ws **out, int server, size_t max_msg, rv_ws_msg_fn fn, void *ud);
void rv_ws_free(struct rv_ws *ws);
/* rv_ws_feed - parse LEN bytes, calling the callback for each message.
 * RV_EWS on a protocol error (the engine queues a close frame; take it). */
int rv_ws_feed(struct rv_ws *ws, const void *data, size_t len);
/* rv_ws_send - queue one message. */
int rv_ws_send(struct rv_ws *ws, int opcode, const void *data, size_t len);
/* rv_ws_frame - append to OUT one whole server (unmasked) data message
 * whose payload is P1 then P2 (L1 + L2 bytes), framed as rv_ws_send would
 * frame it: a fan-out frames a message once and writes the same bytes to
 * every client whose engine is idle (rv_ws_idle). 0, RV_ETOOBIG when OUT's
 * cap has no room, -EINVAL for another opcode, -ENOMEM. */
int rv_ws_frame(struct rv_buf *out, int opcode, const void *p1, size_t l1, const void *p2, size_t l2);
/* rv_ws_ping - queue a ping. */
int rv_ws_ping(struct rv_ws *ws);
/* rv_ws_close - queue a close frame with CODE and REASON. */
int rv_ws_close(struct rv_ws *ws, uint16_t code, const char *reason);
/* rv_ws_take - append every byte waiting to be sent to OUT. Returns bytes. */
long rv_ws_take(struct rv_ws *ws, struct rv_buf *out);
/* rv_ws_closed - 1 when a close frame was received or sent and nothing
 * remains to be sent: the connection can be closed. */
int rv_ws_closed(const struct rv_ws *ws);
/* rv_ws_idle - 1 while the engine holds no wslay context: nothing partly
 * received, nothing queued in wslay, no close under way. */
int rv_ws_idle(const struct rv_ws *ws);

#endif
