/* p2penv.h - signed envelopes: what a peer group carries from its author to
 * every member, unchanged, whichever peers relay it. No I/O.
 *
 * An envelope is the unit that is signed, identified and deduplicated:
 *
 *   0    u8      version, 1
 *   1    u8      kind (enum rv_p2p_kind)
 *   2    32 B    group ID (p2pspec.h): an envelope is valid in one group only
 *   34   32 B    author's Ed25519 public key (its peer ID is SHA-256 of it)
 *   66   u64     author's clock, unix milliseconds
 *   74   u64     nonce: two posts of the same bytes are two posts
 *   82   u16     payload length
 *   84   ...     payload, at most RV_P2P_PAYLOAD_MAX bytes
 *   ...  64 B    Ed25519 signature of every byte before it
 *
 * (integers big-endian). Its message ID is SHA-256 of all of it, signature
 * included: a relay cannot alter a byte without changing the ID and breaking
 * the signature, and the application never has to make posts unique.
 * Hop-by-hop fields (TTL, route) are outside the envelope. */
#ifndef RV_P2PENV_H
#define RV_P2PENV_H

#include <stddef.h>
#include <stdint.h>

#include "p2pkey.h"

#define RV_P2P_ENV_HEAD 84
#define RV_P2P_PAYLOAD_MAX 60000
#define RV_P2P_ENV_MAX (RV_P2P_ENV_HEAD + RV_P2P_PAYLOAD_MAX + RV_P2P_SIG_LEN)

enum rv_p2p_kind {
	RV_P2P_POST = 1,         /* to every member */
	RV_P2P_DIRECT = 2,       /* routed to one peer ID */
	RV_P2P_NEAREST = 3,      /* routed to whoever is nearest a ring address */
	RV_P2P_ACK = 4,          /* routed back to the author of a DIRECT or NEAREST
				  * message: u8 status (p2pnode.h) | its message ID */
};

/* A parsed envelope; its pointers alias the bytes it was read from. */
struct rv_p2p_env {
	uint8_t kind;
	const uint8_t *group;                 /* 32 bytes */
	const uint8_t *author;                /* 32 bytes: the public key */
	uint64_t time_ms, nonce;
	const uint8_t *payload;
	size_t len;                           /* payload bytes */
	size_t size;                          /* the whole envelope */
	uint8_t id[RV_P2P_HASH_LEN];          /* message ID */
};

/* rv_p2p_env_seal - write the envelope of KIND with PAYLOAD (LEN bytes)
 * for GROUP, signed by K, into OUT (CAP bytes): its size, or RV_ETOOBIG
 * (payload past the max, or OUT too small), or RV_EPROTO (signing failed).
 * ID, when not NULL, gets its message ID. */
long rv_p2p_env_seal(const struct rv_p2p_key *k, const uint8_t group[RV_P2P_HASH_LEN],
		     enum rv_p2p_kind kind, uint64_t time_ms, uint64_t nonce,
		     const void *payload, size_t len, uint8_t *out, size_t cap,
		     uint8_t id[RV_P2P_HASH_LEN]);
/* rv_p2p_env_open - check the envelope at P (exactly N bytes) for GROUP:
 * 0 and E filled, or RV_EPROTO (*WHY: bad version, unknown kind, truncated,
 * length mismatch, another group) or RV_EDENIED (*WHY: bad signature). */
int rv_p2p_env_open(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		    struct rv_p2p_env *e, const char **why);
/* rv_p2p_env_read - the same without the signature check, for an envelope
 * already opened once (a post the gossip engine delivered). */
int rv_p2p_env_read(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		    struct rv_p2p_env *e, const char **why);

#endif
