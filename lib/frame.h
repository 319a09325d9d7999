/* frame.h - the RV frame codec, no I/O.
 *
 * On TCP (and inside TLS) a connection opens with the 4-byte preface "RVP1"
 * from the client; after it, both directions carry frames:
 *
 *     u32 header length (big endian) | u32 body length (big endian)
 *     header: one JSON object, UTF-8, at most RV_FRAME_MAX_HEADER bytes
 *     body:   opaque bytes, at most the receiver's frame cap
 *
 * Over WebSocket each binary message is exactly one frame with the same
 * layout. The header always has a string "type"; see rv-protocol(7). */
#ifndef RV_FRAME_H
#define RV_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"
#include "rvcode.h"

#define RV_PREFACE "RVP1"
#define RV_PREFACE_LEN 4
#define RV_FRAME_PREFIX 8
#define RV_FRAME_MAX_HEADER 16384
#define RV_FRAME_DEFAULT_MAX_BODY (1024 * 1024)

/* A frame found in a byte range; pointers alias the input. */
struct rv_frame_view {
	const char *hdr;
	size_t hdr_len;
	const uint8_t *body;
	size_t body_len;
};

/* rv_frame_size - the total size of the frame whose prefix is at P (at
 * least RV_FRAME_PREFIX bytes there), or RV_ETOOBIG / RV_EPROTO as
 * rv_frame_decode would say. */
long rv_frame_size(const uint8_t *p, size_t max_body);
/* rv_frame_decode - look for one whole frame at the start of P[0..N).
 * Returns its total size (> 0) and fills V, 0 when more bytes are needed,
 * or RV_ETOOBIG when a length is past its cap (header RV_FRAME_MAX_HEADER,
 * body MAX_BODY) or RV_EPROTO for an empty header. */
long rv_frame_decode(const uint8_t *p, size_t n, size_t max_body,
		     struct rv_frame_view *v);

/* Cutting a byte stream into frames, for both ends of a connection. FN is
 * called with each whole frame and says how to go on: 0 next frame,
 * RV_FRAME_HOLD stop and keep the bytes after this frame for later (a
 * sender held back), RV_FRAME_GONE stop and touch nothing (the connection
 * closed or changed under the callback). */
enum { RV_FRAME_HOLD = 1, RV_FRAME_GONE = 2 };
typedef int (*rv_frame_fn)(void *ud, const struct rv_frame_view *v);
/* rv_frame_feed - the frames in KEEP (bytes kept from earlier calls) and
 * then DATA (LEN bytes, may be NULL with LEN 0: go on with what is kept).
 * Frames that lie wholly in DATA are handled where they lie; a frame split
 * across reads is completed in KEEP with only the bytes it lacks, and only
 * an incomplete tail (or, after a hold, the rest) is copied into KEEP.
 * DATA may be the room rv_frame_room gave: its bytes are kept in place.
 * KEEP lets its memory go once empty, unless the last frame was bulk.
 * Returns 0, RV_FRAME_HOLD or RV_FRAME_GONE as FN last said (0 when all was
 * handled or is waiting for more), or RV_ETOOBIG / RV_EPROTO for a bad
 * frame or a KEEP past its cap, -ENOMEM: the caller closes the connection. */
int rv_frame_feed(struct rv_buf *keep, size_t max_body, const uint8_t *data, size_t len,
		  rv_frame_fn fn, void *ud);

/* Bulk frames (file and stream data) are read straight into KEEP, where
 * they are handled: no copy, whatever the read sizes. A frame of at least
 * RV_FRAME_BULK bytes puts KEEP in bulk mode: it keeps its memory (at most
 * one frame) until a frame below that size has gone through, and reads
 * the start of the next frame RV_FRAME_PEEK bytes at a time. */
#define RV_FRAME_BULK (64u << 10)
#define RV_FRAME_PEEK (64u << 10)
/* rv_frame_room - where the next read of a connection should land: in
 * KEEP's spare room (*LEN bytes: exactly what a known frame lacks, else
 * RV_FRAME_PEEK), then passed to rv_frame_feed as DATA; or NULL when the
 * bytes should go to a shared read buffer (no bulk frame under way, a bad
 * or held frame, no memory). Nothing is committed until rv_frame_feed. */
uint8_t *rv_frame_room(struct rv_buf *keep, size_t max_body, size_t *len);

/* rv_frame_header - parse V's header. Returns a new cJSON object owned by
 * the caller (cJSON_Delete) and sets *TYPE to its "type" string (owned by
 * the object), or NULL with *ERR set (RV_EJSON: not a JSON object with a
 * string "type"). */
cJSON *rv_frame_header(const struct rv_frame_view *v, const char **type, int *err);

/* rv_frame_append - append one frame (HDR: LEN bytes of JSON text) to OUT. */
int rv_frame_append(struct rv_buf *out, const char *hdr, size_t hdr_len,
		    const void *body, size_t body_len);
/* rv_frame_append_head - append a frame's prefix and header only, for a body
 * of BODY_LEN bytes the caller sends right after (no copy of the body). */
int rv_frame_append_head(struct rv_buf *out, const cJSON *hdr, size_t body_len);
/* rv_frame_append_json - the same with the header printed from a cJSON object. */
int rv_frame_append_json(struct rv_buf *out, const cJSON *hdr,
			 const void *body, size_t body_len);
/* rv_frame_append_error - an error frame: {"type":"error","re":RE (left out
 * when 0),"code":CODE's wire string,"message":MSG (NULL: CODE's default
 * text)}, as rvserver answers a request it refuses. Errors as above. */
int rv_frame_append_error(struct rv_buf *out, uint64_t re, enum rv_code code, const char *msg);

/* Media over the TCP connection (when UDP is not available): one RTP or
 * RTCP packet per frame, with the fixed header {"type":"media"}. The head
 * is built without cJSON, and recognised without parsing JSON. */
#define RV_FRAME_MEDIA_HDR "{\"type\":\"media\"}"
#define RV_FRAME_MEDIA_HEAD (RV_FRAME_PREFIX + sizeof RV_FRAME_MEDIA_HDR - 1)
/* rv_frame_media_head - the prefix and header of a media frame for a
 * packet of LEN bytes. */
void rv_frame_media_head(uint8_t out[RV_FRAME_MEDIA_HEAD], size_t len);
/* rv_frame_is_media - 1 when V is a media frame. */
int rv_frame_is_media(const struct rv_frame_view *v);

#endif
