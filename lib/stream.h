/* stream.h - TCP and TLS connections on libuv, with batched, capped output.
 *
 * A struct rv_io belongs to one loop. It owns a shared read buffer (so an idle
 * connection holds no read memory) and a check handle that, once per loop
 * turn, flushes every stream written to during that turn: many small frames
 * to one peer leave in one write(2). A plain TCP stream whose owner gives it
 * room (rv_io_set_room: the rest of a large frame being assembled) reads
 * into that room instead, so bulk bytes land where they are handled with
 * no copy; the room is the owner's memory, lent for one read.
 *
 * A struct rv_stream is one connection. Its memory belongs to the caller, who
 * may free it only from the close callback. Output is capped: a write that
 * would queue more than the cap fails with RV_ETOOBIG and leaves the stream
 * as it was, so the caller decides (the server drops slow consumers). */
#ifndef RV_STREAM_H
#define RV_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "tls.h"

#define RV_IO_READ_SIZE (1 << 20)  /* one read(2); a whole bulk frame fits */
#define RV_IO_TLS_SIZE 65536       /* plaintext taken out of TLS at once */
#define RV_STREAM_FLUSH_AT 65536  /* queued bytes that trigger an immediate write */
#define RV_STREAM_DIRECT_AT 16384 /* writes this large skip the queue when it is empty */

struct rv_stream;
struct connect_req;
/* Asked before each read of a plain TCP stream: where to put the bytes
 * (*LEN of room, the owner's, left untouched but for the read), or NULL for
 * the shared read buffer. The read callback then gets a pointer into it. */
typedef uint8_t *(*rv_stream_room_fn)(struct rv_stream *s, size_t *len);

struct rv_io {
	uv_loop_t *loop;
	uv_check_t check;
	struct rv_stream *dirty;              /* streams with output to flush */
	rv_stream_room_fn room;               /* NULL: always the shared read buffer */
	uint8_t rbuf[RV_IO_READ_SIZE];        /* shared: bytes from read(2) */
	uint8_t pbuf[RV_IO_TLS_SIZE];         /* shared: plaintext out of TLS */
};

/* Called with bytes that arrived (plaintext, after TLS). DATA is valid
 * during the call only. The callback may close the stream. */
typedef void (*rv_stream_read_fn)(struct rv_stream *s, const uint8_t *data, size_t len);
/* Called once the handle is closed; REASON is 0 for a local close, else why
 * (RV_ECLOSED for the peer's EOF, a negative errno, RV_ETLS, ...). The
 * stream's memory may be freed here. */
typedef void (*rv_stream_close_fn)(struct rv_stream *s, int reason);
/* Called when a connect finishes: 0 once TCP (and TLS) is up, else the error;
 * on error the close callback follows. */
typedef void (*rv_stream_connect_fn)(struct rv_stream *s, int status);

struct rv_stream {
	uv_tcp_t tcp;                 /* first: the handle's data points back */
	struct rv_io *io;
	struct rv_tls *tls;           /* owned; NULL for plain TCP */
	struct rv_buf out;            /* wire bytes waiting for the kernel */
	struct rv_buf inflight;       /* wire bytes handed to uv_write */
	uv_write_t *wreq;             /* owned while a write is in flight */
	struct connect_req *connecting; /* while resolving */
	struct rv_stream *next_dirty;
	rv_stream_read_fn on_read;
	rv_stream_close_fn on_close;
	rv_stream_connect_fn on_connect;
	void *ud;                     /* the caller's */
	int close_reason;
	uint8_t dirty, closing, end_after_flush, handshaking;
};

/* rv_io_init - set up IO on LOOP. rv_io_close stops its check handle; the
 * loop must then run once for the close to finish. */
int rv_io_init(struct rv_io *io, uv_loop_t *loop);
void rv_io_close(struct rv_io *io);
/* rv_io_set_room - every plain TCP stream of IO reads into its owner's room
 * when ROOM gives one (TLS records go through the shared buffers). */
void rv_io_set_room(struct rv_io *io, rv_stream_room_fn room);
/* rv_io_flush - flush every dirty stream now (the check handle does it
 * after each poll). */
void rv_io_flush(struct rv_io *io);

/* rv_stream_init - prepare S on IO with an output cap of MAX_QUEUE bytes
 * (counting both queued and in-flight bytes) and the callbacks. Initializes
 * the TCP handle: from here on, S is released through rv_stream_close. */
int rv_stream_init(struct rv_io *io, struct rv_stream *s, size_t max_queue,
		   rv_stream_read_fn on_read, rv_stream_close_fn on_close, void *ud);
/* rv_stream_accept - accept a pending connection of SERVER into S and start
 * reading. On error S must still be closed with rv_stream_close. */
int rv_stream_accept(struct rv_stream *s, uv_stream_t *server);
/* rv_stream_connect - resolve HOST, connect to PORT, then, with TLS_CTX,
 * run a TLS handshake checking the certificate against SNI (default HOST).
 * CB reports the outcome; an error returned here means CB never runs. */
int rv_stream_connect(struct rv_stream *s, const char *host, int port,
		      struct rv_tls_ctx *tls_ctx, rv_stream_connect_fn cb);
/* rv_stream_start_tls - server side: from now on bytes are TLS. BYTES (may
 * be empty) are ciphertext already read, fed to the engine first. */
int rv_stream_start_tls(struct rv_stream *s, struct rv_tls_ctx *ctx,
			const uint8_t *bytes, size_t len);
/* rv_stream_write - queue LEN bytes (encrypted first on TLS). RV_ETOOBIG when
 * the output cap would be passed: nothing was queued. */
int rv_stream_write(struct rv_stream *s, const void *data, size_t len);
/* rv_stream_writev - the same for N buffers, written in order. */
int rv_stream_writev(struct rv_stream *s, const uv_buf_t *bufs, unsigned n);
/* rv_stream_queued - bytes queued or in flight. */
size_t rv_stream_queued(const struct rv_stream *s);
/* rv_stream_pause - stop (PAUSE 1) or resume (0) reading from the peer. */
void rv_stream_pause(struct rv_stream *s, int pause);
/* rv_stream_end - close once everything queued has been written. */
void rv_stream_end(struct rv_stream *s);
/* rv_stream_close - close now; queued output is dropped. REASON is reported
 * to the close callback. Safe to call more than once. */
void rv_stream_close(struct rv_stream *s, int reason);
/* rv_stream_peer - the peer's address as "ip:port" into BUF. */
void rv_stream_peer(struct rv_stream *s, char *buf, size_t len);

#endif
