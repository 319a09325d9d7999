/* p2pmsg.h - the messages peers of a group exchange, no I/O.
 *
 * Each message travels inside a peer session (encrypted, authenticated by
 * the peers' keys), which cuts those longer than a datagram into pieces;
 * it is at most RV_P2P_MSG_MAX bytes (a ROUTE with the largest envelope).
 * It starts with a type byte; integers are big-endian; lists carry a count
 * byte and are capped. Envelopes (p2penv.h) ride inside POST and ROUTE and
 * are checked by p2penv, not here: this codec checks framing only.
 *
 *   HELLO      1  key[32] proof[32] sig[64] flags u8
 *                                             who we are and that we know the
 *                                             group, bound to this session
 *                                             (p2pkey.h: rv_p2p_hello_check)
 *   REPORT     2  n u8, n x { id[32] age_s u16 family u8 port u16 addr[4|16] }
 *                                             peers the sender knows and the
 *                                             address it reaches each at
 *                                             (family 4 or 6)
 *   ASK_CLOSE  3                               "you are not in my best list"
 *   POST       4  envelope                     a post, pushed eagerly
 *   IHAVE      5  n u8, n x id[32]             message IDs, announced lazily
 *   IWANT      6  n u8, n x id[32]             send me these, and push to me
 *                                             eagerly from now on (a graft)
 *   IDONTWANT  7  n u8, n x id[32]             I have these: do not send them
 *   ROUTE      8  mode u8 ttl u8 hops u8 dst[32] envelope
 *                                             toward a peer ID (mode 1) or the
 *                                             peer nearest a ring address (2)
 *   PING       9  stamp u64                    round-trip probe
 *   PONG      10  stamp u64                    its echo
 *   PRUNE     11                               I got that post from another:
 *                                             announce to me lazily from now on
 *
 * Replicated objects (p2pobj.h), between neighbours; OBJ is an object ID,
 * a range is "first u32 count u32" (count at least 1, first + count within
 * u32), at most RV_P2P_RANGES_MAX of them:
 *   OBJ_GET   12  obj[32] offset u32           send me the object's manifest
 *                                             from OFFSET
 *   OBJ_MAN   13  obj[32] total u32 offset u32 bytes
 *                                             a piece of the manifest (TOTAL
 *                                             bytes in all, at most
 *                                             RV_P2P_MAN_MAX; the piece 1 to
 *                                             RV_P2P_PIECE_MAX bytes, within it)
 *   OBJ_HAVE  14  obj[32] flags u8 n u16 n x range
 *                                             I hold these chunks (added to
 *                                             what I said before); flag 1:
 *                                             tell me yours; flag 2: I have
 *                                             the manifest
 *   OBJ_WANT  15  obj[32] flags u8 n u16 n x range
 *                                             send me these chunks (flags 0)
 *   OBJ_CHUNK 16  obj[32] index u32 bytes     a chunk (1 to RV_P2P_CHUNK_MAX
 *                                             bytes), checked by the receiver
 *                                             against the manifest
 *
 * Live streams (p2pcast.h), between neighbours; STREAM is a stream ID, SEQ
 * a fragment's number in it, ranges as above (of fragment numbers):
 *   CAST_FRAG 17  stream[32] seq u32 flags u8 [sig 64] bytes
 *                                             a fragment: one of the
 *                                             publisher's RTP/SRTP packets (1
 *                                             to RV_P2P_CAST_FRAG_MAX bytes); flag
 *                                             1: a keyframe starts here; flag
 *                                             2: an answer to CAST_PULL; flag
 *                                             4: SIG, its publisher's
 *                                             signature, comes first
 *                                             (restricted publishing,
 *                                             p2pcast.h)
 *   CAST_MAP  18  stream[32] flags u8 n u16 n x range k u8 k x seq u32 [hops 8 x u8]
 *                                             the fragments I hold (all of
 *                                             them, replacing what I said
 *                                             before) and the keyframe starts
 *                                             among them (at most
 *                                             RV_P2P_CAST_KEYS); flag 1: tell
 *                                             me yours; flag 2: send me the
 *                                             announce (CAST_INFO); flag 4:
 *                                             I stopped pushing to you, ask
 *                                             another; flag 8: unused (sent
 *                                             as 0, ignored); flags >> 4: my
 *                                             spare upload (0 not said, 1
 *                                             none, 1 + K: K more
 *                                             sub-streams); HOPS, when there
 *                                             (8 bytes, or none: not said):
 *                                             for each sub-stream (seq % 8)
 *                                             how far I am from the publisher
 *                                             on pushes granted (0: I publish,
 *                                             1 + my pusher's; 255: nobody
 *                                             pushes it to me); a
 *                                             peer ignores flags it does not know
 *   CAST_PULL 19  stream[32] flags u8 n u16 n x range
 *                                             send me these fragments; flag
 *                                             1: each asked 4 times already
 *                                             unanswered, answer it even
 *                                             past your push limit
 *   CAST_PUSH 20  stream[32] mask u8          push me the fragments whose
 *                                             seq % 8 is a bit of MASK
 *   CAST_KEY  21  stream[32] hops u8          a keyframe, please: toward the
 *                                             publisher (hops at most
 *                                             RV_P2P_TTL_MAX)
 *   CAST_INFO 22  stream[32] bytes            the publisher's announce of the
 *                                             stream (1 to RV_P2P_CAST_INFO_MAX
 *                                             bytes, opaque here)
 *   CAST_END  23  stream[32] end u32          the publisher ended the stream:
 *                                             its fragments are 0 to END - 1
 *                                             (relayed as fragments are)
 *   CAST_GRANT 24 stream[32] asked u8 mask u8 of ASKED, your last CAST_PUSH
 *                                             (as I had it), I push you MASK
 *                                             (an answer to each CAST_PUSH,
 *                                             and again when it changes): ask
 *                                             another for the rest; bits of
 *                                             MASK not in ASKED: a publisher
 *                                             feeds you those unasked
 *
 * Anything else is refused: unknown types, counts past the caps, lengths
 * that do not add up, a TTL past RV_P2P_TTL_MAX, an address family
 * other than 4 or 6, an empty or overflowing range, a WANT or PULL with
 * flags, a fragment with unknown flags, a manifest piece past its total or
 * a total past RV_P2P_MAN_MAX. */
#ifndef RV_P2PMSG_H
#define RV_P2PMSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "p2penv.h"
#include "p2pring.h"

#define RV_P2P_MSG_MAX (4 + 32 + RV_P2P_ENV_MAX)
#define RV_P2P_HELLO_SIZE (1 + 32 + 32 + 64 + 1)
#define RV_P2P_LIST_MAX 32        /* IDs or peers in one message */
#define RV_P2P_TTL_MAX 64
#define RV_P2P_RANGES_MAX 256     /* ranges in one OBJ_HAVE or OBJ_WANT */
#define RV_P2P_PIECE_MAX 32768    /* manifest bytes in one OBJ_MAN */
#define RV_P2P_CHUNK_MAX 32768    /* bytes in one chunk */
#define RV_P2P_MAN_MAX (512 + 65536 * 32)   /* a manifest's bytes (p2pman.h) */
#define RV_P2P_OBJ_HAVE_ASK 0x01  /* OBJ_HAVE flag: answer with all of yours */
#define RV_P2P_OBJ_HAVE_MAN 0x02  /* OBJ_HAVE flag: I have the manifest (OBJ_GET it of me) */
#define RV_P2P_CAST_FRAG_MAX 1500 /* bytes in one CAST_FRAG (a UDP payload) */
#define RV_P2P_CAST_KEYS 16       /* keyframe starts in one CAST_MAP */
#define RV_P2P_CAST_INFO_MAX 4096 /* bytes of a stream's announce */
#define RV_P2P_FRAG_KEY 0x01      /* CAST_FRAG flag: a keyframe starts here */
#define RV_P2P_FRAG_PULLED 0x02   /* CAST_FRAG flag: an answer to CAST_PULL */
#define RV_P2P_FRAG_SIGNED 0x04   /* CAST_FRAG flag: its publisher's signature comes first (p2pcast.h) */
#define RV_P2P_CAST_PULL_LAST 0x01 /* CAST_PULL flag: asked RV_P2P_CAST_PULL_TRIES times unanswered:
				     * answer past your push limit */
#define RV_P2P_CAST_PULL_TRIES 4
#define RV_P2P_CAST_MAP_ASK 0x01  /* CAST_MAP flag: answer with yours */
#define RV_P2P_CAST_MAP_INFO 0x02 /* CAST_MAP flag: I lack the announce: send it */
#define RV_P2P_CAST_MAP_DECLINE 0x04 /* CAST_MAP flag: my upload is full: ask another to push what you
				     * asked of me (p2pcast.h, upload budget) */
#define RV_P2P_CAST_SUBS 8        /* push sub-streams: a fragment's is its seq % 8 */
#define RV_P2P_CAST_HOPS_NONE 255 /* CAST_MAP hops: nobody pushes me this sub-stream */
#define RV_P2P_CAST_MAP_SPARE(f) ((f) >> 4) /* CAST_MAP flags' high nibble: 0 not said (no budget),
					     * 1 no spare upload, 1 + K: room to push K more sub-streams */

enum rv_p2p_msg_type {
	RV_P2P_M_HELLO = 1, RV_P2P_M_REPORT, RV_P2P_M_ASK_CLOSE, RV_P2P_M_POST, RV_P2P_M_IHAVE,
	RV_P2P_M_IWANT, RV_P2P_M_IDONTWANT, RV_P2P_M_ROUTE, RV_P2P_M_PING, RV_P2P_M_PONG,
	RV_P2P_M_PRUNE, RV_P2P_M_OBJ_GET, RV_P2P_M_OBJ_MAN, RV_P2P_M_OBJ_HAVE, RV_P2P_M_OBJ_WANT,
	RV_P2P_M_OBJ_CHUNK, RV_P2P_M_CAST_FRAG, RV_P2P_M_CAST_MAP, RV_P2P_M_CAST_PULL, RV_P2P_M_CAST_PUSH,
	RV_P2P_M_CAST_KEY, RV_P2P_M_CAST_INFO, RV_P2P_M_CAST_END, RV_P2P_M_CAST_GRANT,
};

/* A range of chunk indices. */
struct rv_p2p_range {
	uint32_t first, count;
};

struct rv_p2p_peer_seen {
	const uint8_t *id;            /* 32 bytes */
	uint16_t age_s;               /* seconds since the sender heard from it */
	uint8_t family;               /* 4 or 6 */
	uint16_t port;
	const uint8_t *ip;            /* 4 or 16 bytes, network order */
};

/* A parsed message; pointers alias the bytes it was read from. */
struct rv_p2p_msg {
	uint8_t type;
	uint8_t flags;                            /* HELLO, OBJ_HAVE, CAST_FRAG, CAST_MAP; CAST_PUSH,
						   * CAST_GRANT: the mask */
	uint8_t asked;                            /* CAST_GRANT: the mask asked */
	const uint8_t *key, *proof, *sig;         /* HELLO: 32, 32 and 64 bytes; CAST_FRAG: sig (or NULL) */
	size_t n;                                 /* REPORT, IHAVE, IWANT, IDONTWANT */
	struct rv_p2p_peer_seen peers[RV_P2P_LIST_MAX];   /* REPORT */
	const uint8_t *ids[RV_P2P_LIST_MAX];      /* IHAVE, IWANT, IDONTWANT: 32 bytes each */
	uint8_t mode, ttl, hops;                  /* ROUTE; CAST_KEY: hops */
	const uint8_t *dst;                       /* ROUTE: 32 bytes */
	const uint8_t *env;                       /* POST, ROUTE: the envelope */
	size_t env_len;
	uint64_t stamp;                           /* PING, PONG */
	const uint8_t *obj;                       /* OBJ_*: the object ID; CAST_*: the stream ID (32 bytes) */
	uint32_t index;                           /* OBJ_CHUNK; CAST_FRAG: its seq; CAST_END: the end */
	uint32_t total, offset;                   /* OBJ_GET (offset), OBJ_MAN */
	const uint8_t *ranges;                    /* OBJ_HAVE, OBJ_WANT, CAST_MAP, CAST_PULL: n ranges
						   * (rv_p2p_msg_range) */
	const uint8_t *keys;                      /* CAST_MAP: nkeys seqs (rv_p2p_msg_key) */
	size_t nkeys;
	const uint8_t *cast_hops;                 /* CAST_MAP: RV_P2P_CAST_SUBS bytes, or NULL (not said) */
	const uint8_t *data;                      /* OBJ_MAN, OBJ_CHUNK, CAST_FRAG, CAST_INFO: the bytes */
	size_t data_len;
};

/* rv_p2p_msg_range - the Ith range of a parsed OBJ_HAVE, OBJ_WANT,
 * CAST_MAP or CAST_PULL. */
struct rv_p2p_range rv_p2p_msg_range(const struct rv_p2p_msg *m, size_t i);
/* rv_p2p_msg_key - the Ith keyframe start of a parsed CAST_MAP. */
uint32_t rv_p2p_msg_key(const struct rv_p2p_msg *m, size_t i);

/* rv_p2p_msg_parse - read the message at P (exactly N bytes) into M: 0, or
 * RV_EPROTO with *WHY saying what is wrong, or RV_ETOOBIG past
 * RV_P2P_MSG_MAX. */
int rv_p2p_msg_parse(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why);

/* Builders write into OUT (CAP bytes) and return the message's length, or
 * RV_ETOOBIG when it does not fit CAP or RV_P2P_MSG_MAX (lists are capped
 * at RV_P2P_LIST_MAX; an envelope is not empty), or RV_EPROTO for a type,
 * mode or TTL the message cannot have. What they build parses back to the
 * same fields, and a parsed message rebuilds to the same bytes. */
long rv_p2p_msg_hello(uint8_t *out, size_t cap, const uint8_t key[32], const uint8_t proof[32],
		      const uint8_t sig[64], uint8_t flags);
long rv_p2p_msg_report(uint8_t *out, size_t cap, const struct rv_p2p_peer_seen *peers, size_t n);
/* TYPE: RV_P2P_M_ASK_CLOSE or RV_P2P_M_PRUNE (no body). */
long rv_p2p_msg_signal(uint8_t *out, size_t cap, enum rv_p2p_msg_type type);
long rv_p2p_msg_post(uint8_t *out, size_t cap, const uint8_t *env, size_t len);
/* TYPE: RV_P2P_M_IHAVE, RV_P2P_M_IWANT or RV_P2P_M_IDONTWANT; IDS: N x 32 bytes. */
long rv_p2p_msg_ids(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t *ids, size_t n);
long rv_p2p_msg_route(uint8_t *out, size_t cap, enum rv_p2p_route_mode mode, uint8_t ttl, uint8_t hops,
		      const uint8_t dst[32], const uint8_t *env, size_t len);
/* TYPE: RV_P2P_M_PING or RV_P2P_M_PONG. */
long rv_p2p_msg_ping(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, uint64_t stamp);
long rv_p2p_msg_obj_get(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t offset);
/* A piece (LEN bytes) of a manifest of TOTAL bytes, at OFFSET. */
long rv_p2p_msg_obj_man(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t total, uint32_t offset,
			const uint8_t *piece, size_t len);
/* TYPE: RV_P2P_M_OBJ_HAVE, RV_P2P_M_OBJ_WANT or RV_P2P_M_CAST_PULL (the
 * last two with FLAGS 0); N ranges R; OBJ is the object or stream ID. */
long rv_p2p_msg_obj_ranges(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t obj[32],
			   uint8_t flags, const struct rv_p2p_range *r, size_t n);
long rv_p2p_msg_obj_chunk(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t index, const uint8_t *data,
			  size_t len);
/* A fragment (LEN bytes, 1 to RV_P2P_FRAG_MAX) of STREAM; FLAGS of
 * RV_P2P_FRAG_KEY and RV_P2P_FRAG_PULLED. */
long rv_p2p_msg_cast_frag(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t seq, uint8_t flags,
			  const uint8_t *data, size_t len);
/* The same with its publisher's signature SIG (RV_P2P_SIG_LEN bytes; NULL:
 * none), flagged RV_P2P_FRAG_SIGNED. */
long rv_p2p_msg_cast_frag_sig(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t seq, uint8_t flags,
			      const uint8_t *sig, const uint8_t *data, size_t len);
/* An availability map: N ranges R (at most RV_P2P_RANGES_MAX), NK keyframe
 * starts KEYS (at most RV_P2P_CAST_KEYS), HOPS (RV_P2P_CAST_SUBS bytes; NULL:
 * none said). */
long rv_p2p_msg_cast_map(uint8_t *out, size_t cap, const uint8_t stream[32], uint8_t flags,
			 const struct rv_p2p_range *r, size_t n, const uint32_t *keys, size_t nk,
			 const uint8_t *hops);
/* TYPE: RV_P2P_M_CAST_PUSH (V: the mask) or RV_P2P_M_CAST_KEY (V: hops). */
long rv_p2p_msg_cast_byte(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t stream[32],
			  uint8_t v);
/* Of ASKED, STREAM's sub-streams MASK pushed (CAST_GRANT). */
long rv_p2p_msg_cast_grant(uint8_t *out, size_t cap, const uint8_t stream[32], uint8_t asked, uint8_t mask);
/* The stream's announce (LEN bytes, 1 to RV_P2P_CAST_INFO_MAX). */
long rv_p2p_msg_cast_info(uint8_t *out, size_t cap, const uint8_t stream[32], const uint8_t *data, size_t len);
/* The stream's end: its fragments are 0 to END - 1. */
long rv_p2p_msg_cast_end(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t end);

/* A queue of messages for neighbours (the engines' out queues, p2pobj.h,
 * p2pcast.h) in a capped buffer: peer[32] | len u32 | message, each.
 * rv_p2p_queue_put - MSG (LEN bytes, 1 to RV_P2P_MSG_MAX) for PEER: 0, or
 * RV_ETOOBIG (past the cap, or LEN out of range: nothing is queued). */
int rv_p2p_queue_put(struct rv_buf *q, const uint8_t peer[32], const uint8_t *msg, long len);
/* rv_p2p_queue_take - the next message into BUF (CAP) and PEER: its
 * length, 0 when none waits, or RV_ETOOBIG when CAP is too small (the
 * message is dropped). */
long rv_p2p_queue_take(struct rv_buf *q, uint8_t peer[32], uint8_t *buf, size_t cap);

#endif
