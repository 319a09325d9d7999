/* p2pipmc.h - a live stream as IP multicast datagrams (fusion, p2pcast.h),
 * no I/O.
 *
 * A publisher with an IP multicast address sends each fragment it
 * publishes (the same bytes as its CAST_FRAG: an SRTP packet) in one UDP
 * datagram to that group, its announce (the bytes of its CAST_INFO) when
 * it sets it and before each keyframe, and its end (three times);
 * receivers that joined the group feed what comes to their engine
 * (rv_p2p_cast_input_fragment, _announce, _end). The datagram
 * (big-endian):
 *
 *     magic "RVMC" | version u8 (1) | flags u8 | group ID's first 16 bytes |
 *     stream ID's first 16 bytes | run u64 | seq u32 | payload
 *
 * flags: RV_P2P_FRAG_KEY (a fragment that starts a keyframe), or
 * RV_P2P_IPMC_INFO (the payload is the announce, 1 to
 * RV_P2P_CAST_INFO_MAX bytes, seq 0), or RV_P2P_IPMC_END (the stream's
 * fragments are 0 to seq - 1; no payload); none of these: a fragment (1
 * to RV_P2P_CAST_FRAG_MAX bytes). RV_P2P_IPMC_SIGNED, with a fragment only:
 * the payload starts with the publisher's signature of it (64 bytes,
 * p2pcast.h "Signed fragments"). The run is the publisher's (p2plive.h).
 *
 * The group and stream IDs only tell a stray datagram (another group or
 * stream on the same address) from ours; the header is not authenticated.
 * Where the group restricts publishing, the announce is signed and so is
 * every fragment, and the receiver's engine checks both; elsewhere the
 * fragments are SRTP, checked by the player. */
#ifndef RV_P2PIPMC_H
#define RV_P2PIPMC_H

#include <stddef.h>
#include <stdint.h>

#include "p2pcast.h"

#define RV_P2P_IPMC_MAGIC "RVMC"
#define RV_P2P_IPMC_ID_LEN 16
#define RV_P2P_IPMC_HEAD (4 + 1 + 1 + 2 * RV_P2P_IPMC_ID_LEN + 8 + 4)
#define RV_P2P_IPMC_MAX (RV_P2P_IPMC_HEAD + RV_P2P_CAST_INFO_MAX)
#define RV_P2P_IPMC_INFO 0x02
#define RV_P2P_IPMC_END 0x04
#define RV_P2P_IPMC_SIGNED 0x08

struct rv_p2p_ipmc_frag {
	uint64_t run;
	uint32_t seq;
	uint8_t flags;                  /* RV_P2P_FRAG_KEY, RV_P2P_IPMC_INFO or RV_P2P_IPMC_END */
	const uint8_t *sig;             /* a fragment's signature (RV_P2P_SIG_LEN bytes), or NULL */
	const uint8_t *data;            /* points into the datagram */
	size_t len;
	const uint8_t *group;           /* the group ID's first 16 bytes, in the datagram */
};

/* rv_p2p_ipmc_build - F (a fragment, announce or end) of the stream
 * STREAM in GROUP into OUT (CAP bytes): its length, or RV_ETOOBIG (a
 * payload empty or too long for its kind, an end with one, or CAP too
 * small), or RV_EPROTO (flags of two kinds, or unknown). */
long rv_p2p_ipmc_build(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t stream[RV_P2P_HASH_LEN],
		       const struct rv_p2p_ipmc_frag *f, uint8_t *out, size_t cap);

/* rv_p2p_ipmc_parse - the datagram P (N bytes) into F: 0, or RV_EPROTO
 * with *WHY (not one of ours, another version, another group or stream,
 * flags unknown or of two kinds, a payload empty or too long for its kind,
 * an end with one). GROUP NULL: any group (a receiver that knows no spec;
 * F->group says which). */
int rv_p2p_ipmc_parse(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		      const uint8_t stream[RV_P2P_HASH_LEN], struct rv_p2p_ipmc_frag *f, const char **why);

#endif
