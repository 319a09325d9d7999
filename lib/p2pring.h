/* p2pring.h - the ring of a peer group: distances, the member estimate and
 * the choice of neighbours, as RTMFP's NetGroup makes them. No I/O, no
 * clock, no allocation: the caller passes what it knows and a random
 * number source, and gets indices back.
 *
 * Ring addresses (p2pkey.h: SHA-256(01 || peer ID)) are 256-bit numbers on
 * a circle. The clockwise distance from A to B is (B - A) mod 2^256; the
 * ring distance is the shorter of the two ways round.
 *
 * Neighbours (librtmfp NetGroup::updateBestList, every 10 s):
 *   - with at most RV_P2P_RING_ALL known peers, all of them;
 *   - otherwise the RV_P2P_RING_BEFORE peers just before our address and
 *     RV_P2P_RING_AFTER just after it, the RV_P2P_RTT_BEST of lowest RTT,
 *     one at random, then "fingers" half, a quarter, an eighth... of the
 *     way round, clockwise then counter-clockwise, and if the ring is too
 *     dense for that, more at random, up to the target count
 *     floor(log2 N) + 13 for an estimated N members (rv_p2p_target),
 *     capped by the caller's maximum.
 * The estimate of N (Flash's estimatedMemberCount) reads the density of
 * the ring around us: 2^64 / ((a[+2] - a[-2]) / 4) + 1 on the top 64 bits
 * of the addresses two before and two after ours. */
#ifndef RV_P2PRING_H
#define RV_P2PRING_H

#include <stddef.h>
#include <stdint.h>

#define RV_P2P_ADDR_LEN 32
#define RV_P2P_RING_ALL 6
#define RV_P2P_RING_BEFORE 2
#define RV_P2P_RING_AFTER 4
#define RV_P2P_RTT_BEST 6
#define RV_P2P_TARGET_BASE 13
#define RV_P2P_CANDIDATES_MAX 4096    /* known peers considered at once */

/* A known peer as the ring sees it. */
struct rv_p2p_cand {
	const uint8_t *addr;          /* its ring address, RV_P2P_ADDR_LEN bytes */
	uint32_t rtt_ms;              /* UINT32_MAX: not measured */
};

/* rv_p2p_ring_cmp - the order of A and B as unsigned 256-bit numbers. */
int rv_p2p_ring_cmp(const uint8_t a[RV_P2P_ADDR_LEN], const uint8_t b[RV_P2P_ADDR_LEN]);
/* rv_p2p_ring_dist - the ring distance between A and B into OUT. */
void rv_p2p_ring_dist(const uint8_t a[RV_P2P_ADDR_LEN], const uint8_t b[RV_P2P_ADDR_LEN],
		      uint8_t out[RV_P2P_ADDR_LEN]);
/* rv_p2p_nearest - the index of the candidate (of N) nearest TARGET on the
 * ring, ties to the lower address; -1 when N is 0. */
int rv_p2p_nearest(const struct rv_p2p_cand *c, size_t n, const uint8_t target[RV_P2P_ADDR_LEN]);

/* rv_p2p_estimate - members estimated from SELF and the N candidates
 * (self excluded): N + 1 while fewer than 4 others are known. */
uint64_t rv_p2p_estimate(const uint8_t self[RV_P2P_ADDR_LEN], const struct rv_p2p_cand *c, size_t n);
/* rv_p2p_target - the neighbour count for ESTIMATE members:
 * floor(log2 ESTIMATE) + 13, at most MAX. */
size_t rv_p2p_target(uint64_t estimate, size_t max);

/* rv_p2p_choose - the neighbours SELF should have among the N candidates
 * (at most RV_P2P_CANDIDATES_MAX; self excluded, no duplicates): their
 * indices into OUT, which has room for MAX, in the order of the rules
 * above; RND (with UD) picks the random one and returns any 32 bits.
 * Returns how many were chosen. */
size_t rv_p2p_choose(const uint8_t self[RV_P2P_ADDR_LEN], const struct rv_p2p_cand *c, size_t n,
		     size_t max, uint32_t (*rnd)(void *ud), void *ud, uint32_t *out);

/* Directed routing, greedy on the ring: a message for DST goes to the
 * neighbour nearest DST's ring address, only if it is strictly nearer than
 * we are (so a message never loops, whatever each peer knows), and stops
 * at the peer it is for. Exact mode (RV_P2P_TO_PEER) addresses a peer
 * by its ID and fails where no neighbour is nearer; nearest mode addresses
 * a ring address and ends at whoever is nearest it (RTMFP's NEAREST). The
 * values are the wire's (p2pmsg.h ROUTE). */
enum rv_p2p_route_mode { RV_P2P_TO_PEER = 1, RV_P2P_TO_NEAREST = 2 };
enum { RV_P2P_ROUTE_HERE = -1, RV_P2P_ROUTE_NONE = -2 };

struct rv_p2p_route_nb {
	const uint8_t *id;            /* peer ID, 32 bytes */
	const uint8_t *addr;          /* its ring address */
};

/* rv_p2p_route_next - where a message for DST goes from SELF (ID and ring
 * ADDR) among its N neighbours: the neighbour's index, RV_P2P_ROUTE_HERE
 * when it is ours to deliver, or RV_P2P_ROUTE_NONE (exact mode only: it is
 * not us and nobody is nearer). DST is a peer ID (exact) or a ring address
 * (nearest). */
int rv_p2p_route_next(const uint8_t self_id[32], const uint8_t self_addr[RV_P2P_ADDR_LEN],
		      const struct rv_p2p_route_nb *nb, size_t n, enum rv_p2p_route_mode mode,
		      const uint8_t dst[32]);

#endif
