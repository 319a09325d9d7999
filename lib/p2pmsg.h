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
 * Anything else is refused: unknown types, counts past the caps, lengths
 * that do not add up, a TTL past RV_P2P_TTL_MAX, an address family
 * other than 4 or 6. */
#ifndef RV_P2PMSG_H
#define RV_P2PMSG_H

#include <stddef.h>
#include <stdint.h>

#include "p2penv.h"
#include "p2pring.h"

#define RV_P2P_MSG_MAX (4 + 32 + RV_P2P_ENV_MAX)
#define RV_P2P_HELLO_SIZE (1 + 32 + 32 + 64 + 1)
#define RV_P2P_LIST_MAX 32        /* IDs or peers in one message */
#define RV_P2P_TTL_MAX 64

enum rv_p2p_msg_type {
	RV_P2P_M_HELLO = 1, RV_P2P_M_REPORT, RV_P2P_M_ASK_CLOSE, RV_P2P_M_POST, RV_P2P_M_IHAVE,
	RV_P2P_M_IWANT, RV_P2P_M_IDONTWANT, RV_P2P_M_ROUTE, RV_P2P_M_PING, RV_P2P_M_PONG,
	RV_P2P_M_PRUNE,
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
	uint8_t flags;                            /* HELLO */
	const uint8_t *key, *proof, *sig;         /* HELLO: 32, 32 and 64 bytes */
	size_t n;                                 /* REPORT, IHAVE, IWANT, IDONTWANT */
	struct rv_p2p_peer_seen peers[RV_P2P_LIST_MAX];   /* REPORT */
	const uint8_t *ids[RV_P2P_LIST_MAX];      /* IHAVE, IWANT, IDONTWANT: 32 bytes each */
	uint8_t mode, ttl, hops;                  /* ROUTE */
	const uint8_t *dst;                       /* ROUTE: 32 bytes */
	const uint8_t *env;                       /* POST, ROUTE: the envelope */
	size_t env_len;
	uint64_t stamp;                           /* PING, PONG */
};

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

#endif
