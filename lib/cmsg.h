/* cmsg.h - the messages rvserver (and rvsignal) nodes of one cluster exchange over the bus
 * (lib/bus.h): sans-I/O encoder and decoder, authenticated with the cluster
 * secret.
 *
 * Wire (all integers in network order):
 *    0  4  magic "RVC2"
 *    4  1  type (enum rv_cmsg_type)
 *    5  1  code: an enum rv_code (acks); flags the sending layer defines
 *          (DIRECT and GROUP: rvserver's CL_WANT_RECEIVERS, CL_SILENT); else 0
 *    6  2  reserved, 0
 *    8  8  seq: the origin's number for an ack, 0 = none wanted
 *   16  8  conn: a connection number (replies to one connection), or 0
 *   24  4  count: deliveries (acks), else 0
 *   28  8  nseq: the origin's number for this message (1, 2, ... per
 *          incarnation, every message): the replay window's key
 *   36  8  ts: the origin's wall clock at encoding, ms since the epoch
 *   44  1+n origin: the sending node's incarnation, 1..RV_CMSG_NODE_MAX bytes
 *       1+n a: a client id or group (rv_id_valid), or empty
 *       1+n b: a client id (rv_id_valid), or empty
 *       1+n c: text (gen, reason), 0..RV_CMSG_TEXT_MAX bytes of 0x20-0x7e
 *       4+n payload: 0..RV_CMSG_PAYLOAD_MAX bytes (an RV frame, a member list)
 *   end 32 HMAC-SHA256 of every byte before it, keyed with the cluster secret
 * Nothing may follow the HMAC.
 *
 * The HMAC proves a message came from a node of the cluster, not that it
 * is new: anyone who can PUBLISH on the bus (Redis MONITOR shows the bytes)
 * can send it again. struct rv_cmsg_replay drops those: by (origin, nseq)
 * in a window of RV_CMSG_REPLAY_WINDOW numbers per origin, and by ts, older
 * or newer than RV_CMSG_REPLAY_AGE_MS (the nodes' clocks must agree within
 * that), so that an origin can be forgotten once its messages are stale.
 *
 * Ownership: rv_cmsg_decode copies the strings into the rv_cmsg (NUL
 * terminated) and points payload into the caller's input, which must
 * outlive its use. rv_cmsg_encode appends to a caller-owned rv_buf. The
 * replay checker owns its table; rv_cmsg_replay_free releases it. */
#ifndef RV_CMSG_H
#define RV_CMSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "map.h"

#define RV_CMSG_NODE_MAX 80         /* an incarnation: node id, '.', boot ms */
#define RV_CMSG_ID_MAX 64           /* as RV_ID_MAX */
#define RV_CMSG_TEXT_MAX 128
#define RV_CMSG_PAYLOAD_MAX (80u << 10)  /* 64 KiB of body and an RV header */
#define RV_CMSG_MAC_LEN 32
#define RV_CMSG_FIXED 44            /* bytes before the origin */
#define RV_CMSG_MAX (RV_CMSG_FIXED + 4 + RV_CMSG_NODE_MAX + 2 * RV_CMSG_ID_MAX + \
		     RV_CMSG_TEXT_MAX + 4 + RV_CMSG_PAYLOAD_MAX + RV_CMSG_MAC_LEN)

enum rv_cmsg_type {
	RV_CMSG_DIRECT = 1,   /* payload: an RV frame for client a, from b */
	RV_CMSG_GROUP,        /* payload: an RV frame for group a's members, from b */
	RV_CMSG_JOINED,       /* b joined group a */
	RV_CMSG_LEFT,         /* b left group a; c: the reason, or empty */
	RV_CMSG_EVICT,        /* client a logged in elsewhere; c: the gen it replaced */
	RV_CMSG_ACK,          /* to seq's origin: count deliveries, code (0 = ok);
			       * payload: a JSON array of receiver ids, or empty */
	/* rvsignal's (its ids are peer ids and room names; payloads printed JSON): */
	RV_CMSG_SIG_PEER,     /* payload: a message for peer a, from peer b */
	RV_CMSG_SIG_ROOM,     /* payload: a message for room a's members other than peer b
			       * (b may be empty): a filter line ({}, or {"exclude":[ids]}
			       * and/or {"include":[ids]}), '\n', then the message */
	RV_CMSG_SIG_HANDOVER, /* peer a's session resumed on the origin node: its old node
			       * lets it go (and the new one knows that messages published
			       * after this one are its own) */
	RV_CMSG_PIPE,         /* trunk only: a media pipe's control (cmd/rvserver/cluster_pipe.c):
			       * code the step, seq the origin's stream, c an "IP:PORT",
			       * a and b the stream's target and sender, payload its announce */
	RV_CMSG_MOVED,        /* client a logged in on the origin node, which took over its
			       * memberships: the receiving node drops what it kept of a,
			       * silently, unless it holds a newer login of a; c: the gen of
			       * the receiver the login replaced there, or empty */
	RV_CMSG_TYPE_MAX = RV_CMSG_MOVED
};

struct rv_cmsg {
	uint8_t type, code;
	uint64_t seq, conn;
	uint64_t nseq, ts;
	uint32_t count;
	char origin[RV_CMSG_NODE_MAX + 1];
	char a[RV_CMSG_ID_MAX + 1], b[RV_CMSG_ID_MAX + 1];
	char c[RV_CMSG_TEXT_MAX + 1];
	const uint8_t *payload;
	size_t payload_len;
};

/* rv_cmsg_node_valid - 1 when S (1..RV_CMSG_NODE_MAX bytes) is a valid
 * node id or incarnation: [A-Za-z0-9._-]. */
int rv_cmsg_node_valid(const char *s);

/* The cluster secret, ready to authenticate many messages: an HMAC-SHA256
 * context (OpenSSL's EVP_MAC) keyed once and re-initialised per message.
 * HMAC() with the key on every call fetched the digest and set the key up
 * each time: a third of a node's CPU in a fan-out across nodes. Used by one
 * thread at a time. */
struct rv_cmsg_key {
	struct evp_mac_ctx_st *ctx;
};

/* rv_cmsg_key_init - K for the KEYLEN (> 0) bytes at KEY. 0; RV_EPROTO for
 * an empty key; -ENOMEM when OpenSSL cannot make the context. */
int rv_cmsg_key_init(struct rv_cmsg_key *k, const void *key, size_t keylen);
void rv_cmsg_key_free(struct rv_cmsg_key *k);

/* rv_cmsg_encode - append M, authenticated with K, to OUT. 0; RV_EPROTO
 * when a field is invalid (type, origin, a, b or c, as the decoder checks
 * them); RV_ETOOBIG for a payload past RV_CMSG_PAYLOAD_MAX, RV_ETOOBIG too
 * when OUT cannot take it (no memory, or past its cap); -EIO when the MAC
 * fails; OUT is unchanged on every error. */
int rv_cmsg_encode(struct rv_buf *out, const struct rv_cmsg *m, struct rv_cmsg_key *k);

/* rv_cmsg_parse - decode the LEN bytes at P into *M without checking the
 * HMAC (the fields may be forged until rv_cmsg_verify says otherwise: use
 * them only to drop the message unread). 0; RV_ETOOBIG for LEN past
 * RV_CMSG_MAX; RV_EPROTO for anything malformed (magic, type, reserved
 * bits, a length past its cap or the input, a field that is not valid,
 * bytes after the HMAC). *M is undefined on error. */
int rv_cmsg_parse(const uint8_t *p, size_t len, struct rv_cmsg *m);
/* rv_cmsg_verify - 0 when the HMAC of the parsed message at P (LEN bytes)
 * matches K; RV_EDENIED when not (a stranger, or another cluster). */
int rv_cmsg_verify(const uint8_t *p, size_t len, struct rv_cmsg_key *k);
/* rv_cmsg_decode - rv_cmsg_parse, then rv_cmsg_verify: their results. */
int rv_cmsg_decode(const uint8_t *p, size_t len, struct rv_cmsg_key *k, struct rv_cmsg *m);
/* rv_cmsg_get_str - one string as a message carries it (a length byte,
 * then that many bytes, at most MAX, no NUL among them) from *R (the input
 * ends at END) into DST (MAX + 1 bytes, NUL-terminated), *R moved past it:
 * 0, or RV_EPROTO. lib/trunk's frames carry their strings the same way. */
int rv_cmsg_get_str(const uint8_t **r, const uint8_t *end, char *dst, size_t max);

#define RV_CMSG_REPLAY_WINDOW 1024  /* numbers per origin: a message this far behind is stale */
#define RV_CMSG_REPLAY_AGE_MS 30000 /* a ts this far from the checker's clock: stale */
#define RV_CMSG_REPLAY_ORIGINS 1024 /* origins remembered at most */

enum rv_cmsg_verdict {
	RV_CMSG_FRESH = 0,          /* new: recorded, to be handled */
	RV_CMSG_DUP,                /* (origin, nseq) seen already: a replay */
	RV_CMSG_STALE               /* ts outside the age bound, nseq 0, or behind the window */
};

/* The messages seen per origin incarnation: a window of RV_CMSG_REPLAY_WINDOW
 * numbers below the highest. An origin whose newest ts is older than
 * RV_CMSG_REPLAY_AGE_MS is forgotten (all its messages are stale by then);
 * past RV_CMSG_REPLAY_ORIGINS live origins, the one heard from least
 * recently is (counted in evicted). */
struct rv_cmsg_replay {
	struct rv_map origins;
	uint64_t evicted;
};

void rv_cmsg_replay_init(struct rv_cmsg_replay *r);
void rv_cmsg_replay_free(struct rv_cmsg_replay *r);

/* rv_cmsg_replay_check - the verdict on decoded message M at NOW (the
 * checker's wall clock, ms since the epoch); a fresh one is recorded. A
 * message that cannot be recorded (no memory) is RV_CMSG_STALE. */
enum rv_cmsg_verdict rv_cmsg_replay_check(struct rv_cmsg_replay *r, const struct rv_cmsg *m, uint64_t now);

/* rv_cmsg_replay_prune - forget the origins whose messages are all stale at
 * NOW; the number forgotten. */
size_t rv_cmsg_replay_prune(struct rv_cmsg_replay *r, uint64_t now);

#endif
