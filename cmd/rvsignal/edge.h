/* edge.h - the socket edge of rvsignal's peer logic: all that rooms.c and
 * auth.c reach of the connection layer (server.c). A peer's messages go out
 * and its connection closes through these; events go to --json's output.
 * server.c implements them; tests/fuzz/fuzz_signal.c, which links rooms.c
 * and auth.c as they are, provides its own. */
#ifndef RVSIGNAL_EDGE_H
#define RVSIGNAL_EDGE_H

#include <stddef.h>

#include <cJSON.h>

struct conn;
struct rv_buf;
struct sig;

/* Send one JSON message (consumed) to C; a slow peer is dropped. 0, or a
 * negative code (C closing or dropped, no memory). */
int conn_send(struct conn *c, cJSON *msg);
/* The same for a message already printed (S: N bytes, not consumed). */
int conn_send_text(struct conn *c, const char *s, size_t n);
/* The same for one of many receivers of S: FRAME (empty before the first
 * receiver, reset by the caller per message) holds S framed once for every
 * WebSocket receiver, so a room message costs no copy per receiver. */
int conn_send_fanout(struct conn *c, const char *s, size_t n, struct rv_buf *frame);
/* Close C once what is queued is out; WHY (or NULL) for the log. */
void conn_close(struct conn *c, const char *why);
/* One --json event line: EVENT about peer ID (or NULL), with the fields of
 * EXTRA (consumed; NULL: none). Nothing without --json. */
void sig_event(struct sig *g, const char *event, const char *id, cJSON *extra);

#endif
