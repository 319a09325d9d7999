/* p2plan.h - LAN announcements: how peers of a group find each other by IP
 * multicast, no I/O.
 *
 * A peer whose group spec has a LAN address (p2pspec.h, field "lan") sends
 * one announcement every few seconds from its one UDP socket to that
 * multicast group and port; a peer of the same group that hears one may
 * connect to the datagram's source address, which is the sender's socket:
 * no address travels inside (NAT and multicast would falsify it). The
 * datagram, RV_P2P_LAN_LEN bytes, integers big-endian:
 *
 *   0    5 B    magic: 0xF0 "rvL1" (no DTLS record starts 0xF0, no STUN
 *               message has its top bits set: told apart at the first byte)
 *   5    16 B   tag: HMAC-SHA256(key: group ID, "rvp2p-lan" || every byte
 *               of the datagram but the tag), first 16 bytes
 *   21   32 B   sender's Ed25519 public key (its peer ID is SHA-256 of it)
 *   53   u64    sender's clock, unix milliseconds
 *   61   u64    nonce, random
 *   69   64 B   Ed25519 signature of "rvp2p-lan-1" || group ID || bytes 0-4
 *               and 21-68 (magic, key, time, nonce)
 *
 * Only members can recognise or make one: without the group ID (which never
 * travels; the server only knows its hash) the tag is random bytes. A
 * listener on the multicast group sees the sender's public key and clock in
 * the clear, so it learns which keys announce themselves there, but not in
 * which group, nor whether two keys share one. The signature binds the
 * announcement to its sender's key and to this group, so a member cannot
 * forge another's announcement nor carry one into another group. An
 * announcement dated more than RV_P2P_LAN_SKEW_MS before or after the
 * receiver's clock is refused, and so is one seen before (struct
 * rv_p2p_lan_seen: the last RV_P2P_LAN_SEEN announcements that opened). All
 * a replay from elsewhere (within the window, past the cache) can do is make
 * a member dial the replayer, whose session then fails its HELLO
 * (p2psess.h): an announcement says where a member may be, the session
 * proves who it is.
 *
 * A sender hears its own announcements (multicast loopback): the caller
 * compares the peer ID with its own. */
#ifndef RV_P2PLAN_H
#define RV_P2PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "p2pkey.h"

#define RV_P2P_LAN_MAGIC "\xF0rvL1"
#define RV_P2P_LAN_MAGIC_LEN 5
#define RV_P2P_LAN_TAG_LEN 16
#define RV_P2P_LAN_LEN (RV_P2P_LAN_MAGIC_LEN + RV_P2P_LAN_TAG_LEN + RV_P2P_PUB_LEN + 8 + 8 + \
			RV_P2P_SIG_LEN)                 /* 133 */
#define RV_P2P_LAN_SKEW_MS 30000     /* refused past this age, or this far ahead */
#define RV_P2P_LAN_SEEN 64           /* announcements remembered against replay */

/* The replay cache: zero it (= {0}) before first use; it holds no pointers. */
struct rv_p2p_lan_seen {
	uint8_t ent[RV_P2P_LAN_SEEN][16];    /* peer ID prefix (8) | nonce (8) */
	unsigned next, n;
};

/* rv_p2p_lan_is - 1 when P (N bytes) starts with the magic: a LAN
 * announcement, to be opened, not fed to DTLS or STUN. */
int rv_p2p_lan_is(const uint8_t *p, size_t n);

/* rv_p2p_lan_build - K's announcement for GROUP (its ID) at NOW (unix ms)
 * with NONCE into OUT (CAP bytes): RV_P2P_LAN_LEN, or RV_ETOOBIG when CAP
 * is shorter, or RV_EPROTO when signing failed. NONCE is random and fresh
 * for each announcement: receivers tell announcements apart by sender and
 * nonce. */
long rv_p2p_lan_build(const struct rv_p2p_key *k, const uint8_t group[RV_P2P_HASH_LEN], uint64_t now,
		      uint64_t nonce, uint8_t *out, size_t cap);

/* rv_p2p_lan_open - check the datagram at P (exactly N bytes) for GROUP at
 * NOW (unix ms) against SEEN (NULL: no replay check; else what opens is
 * remembered): 0 with the sender's peer ID in ID and its public key in PUB,
 * or RV_EPROTO with *WHY, a static string
 * that starts with the reason's name:
 *   "magic: ..."      it does not start with RV_P2P_LAN_MAGIC (not ours)
 *   "length: ..."     it is not RV_P2P_LAN_LEN bytes
 *   "tag: ..."        the tag is not this group's (another group, noise)
 *   "stale: ..."      its time is more than RV_P2P_LAN_SKEW_MS behind NOW
 *   "future: ..."     its time is more than RV_P2P_LAN_SKEW_MS ahead of NOW
 *   "replay: ..."     SEEN holds one of the same sender and nonce
 *   "signature: ..."  its signature is not its key's
 * The checks run in the order magic, length, tag, time, replay, signature:
 * the costly one last, and only for what a member made. */
int rv_p2p_lan_open(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN], uint64_t now,
		    struct rv_p2p_lan_seen *seen, uint8_t id[RV_P2P_HASH_LEN], uint8_t pub[RV_P2P_PUB_LEN],
		    const char **why);

#endif
