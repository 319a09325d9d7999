/* trunk.h - the node-to-node bulk trunk of an rvserver cluster: framing and
 * the mutual handshake, sans-I/O (the caller moves the bytes).
 *
 * A trunk is one TCP connection between two nodes of a cluster; it carries
 * RV frames for clients on the other node (files and data, which the bus
 * caps at 64 KiB) and their answers. The dialing node sends the preface
 * RV_TRUNK_PREFACE first, so the trunk can share a port with other
 * protocols (lib/sniff: rvserver's listening port). Then, in frames:
 *
 *    dialer  -> HELLO (version 1, its nonce, its incarnation)
 *    listener-> HELLO (its nonce, its incarnation), AUTH (proof L)
 *    dialer  -> AUTH (proof D); both sides are up; MSG frames follow.
 *
 * A proof is HMAC-SHA256 keyed with the cluster secret over "rvkit-trunk-1",
 * the role ('L' or 'D'), the OTHER side's nonce (32 random bytes, OpenSSL's
 * RAND_bytes), then the prover's and the verifier's incarnations (each a
 * length byte and its bytes). Each side thus proves it holds the secret
 * over a nonce it did not choose, bound to both names and to its role (a
 * proof cannot be reflected back). A peer without the secret gets
 * RV_EDENIED from rv_trunk_input at its AUTH frame, and nothing it sent
 * before that is delivered. Proofs are compared in constant time. The
 * trunk is not encrypted: like the bus, it assumes the nodes' network is
 * private; the handshake keeps strangers out, it does not hide the bytes.
 *
 * Frame: u32 length (of what follows, network order), u8 kind, body.
 *    HELLO (1): u8 version (1), nonce[32], u8 n, incarnation[n]
 *    AUTH  (2): proof[32]
 *    PING  (4): no body; a keepalive, so that each side can tell a silent
 *               peer (a stopped node whose kernel still holds the TCP
 *               connection) from an idle one
 *    MSG   (3): u8 type (RV_CMSG_DIRECT, RV_CMSG_GROUP, RV_CMSG_ACK or
 *               RV_CMSG_PIPE: a media pipe step), u8
 *               code, u64 seq, u64 conn, u64 sconn, u32 count, then a, b
 *               and c as in lib/cmsg.h (a length byte and the bytes), then
 *               the payload: every byte left (an RV frame, or for an ACK a
 *               JSON list of receiver ids). sconn is the sending client's
 *               connection number on the origin node (errors for frames
 *               that wanted no answer go back to it), or 0.
 * Before the handshake completes only HELLO and AUTH are valid, at most
 * RV_TRUNK_HANDSHAKE_MAX bytes each; afterwards only MSG and PING, at most
 * RV_TRUNK_FRAME_MAX bytes. Anything else is RV_EPROTO.
 *
 * Ownership: struct rv_trunk is the caller's, with no allocation; it keeps
 * KEY (the caller's, which must outlive it). Output is appended to the
 * caller's rv_buf. A decoded message's strings are copied into it; its
 * payload points into the caller's input, valid during the callback. */
#ifndef RV_TRUNK_H
#define RV_TRUNK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmsg.h"

#define RV_TRUNK_PREFACE "RVT1"
#define RV_TRUNK_PREFACE_LEN 4
#define RV_TRUNK_NONCE 32
#define RV_TRUNK_MAC 32
#define RV_TRUNK_HANDSHAKE_MAX 256
#define RV_TRUNK_FRAME_MAX (2u << 20)   /* a 1 MiB body, an RV header, the fields */
#define RV_TRUNK_MSG_FIXED 30           /* type, code, seq, conn, sconn, count */

enum rv_trunk_state {
	RV_TRUNK_HELLO,     /* waiting for the peer's HELLO */
	RV_TRUNK_AUTH,      /* waiting for the peer's AUTH */
	RV_TRUNK_UP         /* both proved the secret: MSG frames flow */
};

struct rv_trunk {
	int dialer;
	enum rv_trunk_state state;
	const void *key;
	size_t keylen;
	uint8_t nonce[RV_TRUNK_NONCE], peer_nonce[RV_TRUNK_NONCE];
	char inc[RV_CMSG_NODE_MAX + 1];
	char peer[RV_CMSG_NODE_MAX + 1];  /* the peer's incarnation ("" before its HELLO;
					   * authenticated once the state is UP) */
	uint64_t pings_in;                /* PING frames taken */
};

/* A MSG frame: M (its origin is the trunk's peer), SCONN; 0 to go on, 1 to
 * stop here (the rest of the input is left unconsumed: back-pressure). */
typedef int (*rv_trunk_msg_fn)(void *ud, const struct rv_cmsg *m, uint64_t sconn);

/* rv_trunk_init - T as the DIALER (1) or listener (0) of a trunk, for the
 * node incarnation INC, keyed with KEY (KEYLEN > 0 bytes). 0; RV_EPROTO for
 * an invalid INC or an empty key; -EIO when no random nonce could be made. */
int rv_trunk_init(struct rv_trunk *t, int dialer, const char *inc, const void *key, size_t keylen);

/* rv_trunk_start - the dialer's first bytes (the preface and its HELLO),
 * appended to OUT. 0; RV_EPROTO on a listener; RV_ETOOBIG when OUT cannot
 * take them. A listener sends nothing until the dialer's HELLO. */
int rv_trunk_start(struct rv_trunk *t, struct rv_buf *out);

/* rv_trunk_input - the N bytes at P that the peer sent (after the preface,
 * on the listener), starting at a frame boundary. Handshake frames are
 * answered into OUT; MSG frames go to FN (UD) one by one. The number of
 * bytes consumed (whole frames: the caller keeps the rest and offers it
 * again with more), or: RV_EDENIED for a bad proof (a stranger, or another
 * cluster's secret), RV_ETOOBIG for a frame past its cap, RV_EPROTO for
 * anything malformed or out of order (the trunk must then be closed). */
long rv_trunk_input(struct rv_trunk *t, const uint8_t *p, size_t n, struct rv_buf *out, rv_trunk_msg_fn fn,
		    void *ud);

/* rv_trunk_ping - append a PING frame to OUT. 0; RV_EPROTO before the
 * handshake completed; RV_ETOOBIG when OUT cannot take it. */
int rv_trunk_ping(const struct rv_trunk *t, struct rv_buf *out);

/* rv_trunk_msg_head - append to OUT the head of a MSG frame for M (type,
 * code, seq, conn, count, a, b, c; M's origin and payload are ignored) and
 * SCONN, whose payload of PAYLOAD_LEN bytes the caller sends right after
 * it. 0; RV_EPROTO for an invalid field or type; RV_ETOOBIG when the frame
 * would pass RV_TRUNK_FRAME_MAX or OUT cannot take the head. */
int rv_trunk_msg_head(struct rv_buf *out, const struct rv_cmsg *m, uint64_t sconn, size_t payload_len);

#endif
