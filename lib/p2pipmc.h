/* p2pipmc.h - a live stream's fragments as IP multicast datagrams (fusion,
 * p2pcast.h), no I/O.
 *
 * A publisher with an IP multicast address sends each fragment it
 * publishes (the same bytes as its CAST_FRAG: an SRTP packet) in one UDP
 * datagram to that group; receivers that joined it feed what comes to
 * their engine (rv_p2p_cast_input_fragment). The datagram (big-endian):
 *
 *     magic "RVMC" | version u8 (1) | flags u8 (RV_P2P_FRAG_KEY) |
 *     group ID's first 16 bytes | stream ID's first 16 bytes |
 *     run u64 | seq u32 | fragment (1 to RV_P2P_CAST_FRAG_MAX bytes)
 *
 * The group and stream IDs only tell a stray datagram (another group or
 * stream on the same address) from ours: nothing here is authenticated,
 * the fragments are (SRTP, checked by the player). */
#ifndef RV_P2PIPMC_H
#define RV_P2PIPMC_H

#include <stddef.h>
#include <stdint.h>

#include "p2pcast.h"

#define RV_P2P_IPMC_MAGIC "RVMC"
#define RV_P2P_IPMC_ID_LEN 16
#define RV_P2P_IPMC_HEAD (4 + 1 + 1 + 2 * RV_P2P_IPMC_ID_LEN + 8 + 4)
#define RV_P2P_IPMC_MAX (RV_P2P_IPMC_HEAD + RV_P2P_CAST_FRAG_MAX)

struct rv_p2p_ipmc_frag {
	uint64_t run;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *data;            /* points into the datagram */
	size_t len;
};

/* rv_p2p_ipmc_build - fragment F of the stream STREAM in GROUP into OUT
 * (CAP bytes): its length, or RV_ETOOBIG (an empty or too long fragment,
 * or CAP too small). */
long rv_p2p_ipmc_build(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t stream[RV_P2P_HASH_LEN],
		       const struct rv_p2p_ipmc_frag *f, uint8_t *out, size_t cap);

/* rv_p2p_ipmc_parse - the datagram P (N bytes) into F: 0, or RV_EPROTO
 * with *WHY (not one of ours, another version, another group or stream,
 * no fragment or too long). */
int rv_p2p_ipmc_parse(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		      const uint8_t stream[RV_P2P_HASH_LEN], struct rv_p2p_ipmc_frag *f, const char **why);

#endif
