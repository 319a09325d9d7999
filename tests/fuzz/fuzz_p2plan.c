/* fuzz_p2plan.c - LAN announcements (lib/p2plan.c) as a peer's socket meets
 * them: anything at all from the multicast group, and announcements sealed
 * by fuzzer-chosen keys, then damaged.
 *
 * Input grammar: byte 0 picks the mode, the rest is DATA.
 *   even: DATA is a datagram from the network, opened for the harness's
 *         group at the harness's clock (NOW below) with an empty replay
 *         cache. When it opens, it must be RV_P2P_LAN_LEN bytes with the
 *         magic, its time within 30 s of NOW, the peer ID SHA-256 of the
 *         key at byte 21, its signature that key's over what p2plan.h
 *         says; and a second open must be refused as a replay. A refusal
 *         must come with one of the documented reasons.
 *   odd:  DATA is "seed[32] | u64 time | u64 nonce | u16 skew | u8 at |
 *         u8 mask | group...": the key of SEED seals an announcement at
 *         TIME with NONCE for the group (the rest of DATA, zero-padded or
 *         cut to 32 bytes). Opened at TIME + SKEW - 32768 ms (when that
 *         does not wrap), it must open with that key's peer ID when the
 *         skew is at most 30 s, and be refused as stale or future past it;
 *         opened again, it is a replay; opened for a group that differs in
 *         one bit, the tag is wrong; and with MASK xored into the byte at
 *         AT (mod the length), unless MASK is 0, it must not open.
 * Invariant: nothing but an announcement sealed for the group opens, and
 * what is sealed opens once. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2plan.h"

#define NOW 1700000000000ull

static const uint8_t harness_group[RV_P2P_HASH_LEN] = { 0x4c, 0x41, 0x4e };

/* A refusal: RV_EPROTO and a reason p2plan.h documents. */
static void refused(int rc, const char *why)
{
	static const char *const reasons[] = {
		"magic:", "length:", "tag:", "stale:", "future:", "replay:", "signature:",
	};
	assert(rc == RV_EPROTO && why);
	for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
		if (!strncmp(why, reasons[i], strlen(reasons[i])))
			return;
	assert(!"undocumented reason");
}

/* Open P for G at T; when REASON is set, it must be refused for it. */
static int open_for(const uint8_t *p, size_t n, const uint8_t *g, uint64_t t,
		    struct rv_p2p_lan_seen *seen, uint8_t id[RV_P2P_HASH_LEN], const char *reason)
{
	uint8_t pub[RV_P2P_PUB_LEN];
	const char *why = NULL;
	int rc = rv_p2p_lan_open(p, n, g, t, seen, id, pub, &why);
	if (rc < 0) {
		refused(rc, why);
		assert(!reason || !strncmp(why, reason, strlen(reason)));
		return rc;
	}
	assert(!reason && !memcmp(pub, p + 21, RV_P2P_PUB_LEN));
	return 0;
}

static void from_network(const uint8_t *d, size_t n)
{
	struct rv_p2p_lan_seen seen = { 0 };
	uint8_t id[RV_P2P_HASH_LEN], want[RV_P2P_HASH_LEN];
	uint8_t b[11 + RV_P2P_HASH_LEN + 5 + 48];
	if (open_for(d, n, harness_group, NOW, &seen, id, NULL) < 0)
		return;
	assert(n == RV_P2P_LAN_LEN && rv_p2p_lan_is(d, n));
	uint64_t t = rv_rd64(d + 53);
	assert(t <= NOW ? NOW - t <= RV_P2P_LAN_SKEW_MS : t - NOW <= RV_P2P_LAN_SKEW_MS);
	rv_p2p_peer_id(d + 21, want);
	assert(!memcmp(id, want, sizeof id));
	memcpy(b, "rvp2p-lan-1", 11);
	memcpy(b + 11, harness_group, RV_P2P_HASH_LEN);
	memcpy(b + 43, d, 5);
	memcpy(b + 48, d + 21, 48);
	assert(rv_p2p_verify(d + 21, b, sizeof b, d + 69) == 0);
	open_for(d, n, harness_group, NOW, &seen, id, "replay:");
}

static void sealed(const uint8_t *d, size_t n)
{
	struct rv_p2p_lan_seen seen = { 0 };
	struct rv_p2p_key k;
	uint8_t g[RV_P2P_HASH_LEN] = { 0 }, a[RV_P2P_LAN_LEN], id[RV_P2P_HASH_LEN];
	if (n < 32 + 8 + 8 + 2 + 2)
		return;
	uint64_t t = rv_rd64(d + 32), nonce = rv_rd64(d + 40);
	int64_t skew = (int64_t)rv_rd16(d + 48) - 32768;
	size_t at = d[50];
	uint8_t mask = d[51];
	memcpy(g, d + 52, n - 52 < sizeof g ? n - 52 : sizeof g);
	assert(rv_p2p_key_from_seed(&k, d) == 0);
	assert(rv_p2p_lan_build(&k, g, t, nonce, a, sizeof a) == RV_P2P_LAN_LEN);
	uint64_t now = t + (uint64_t)skew;
	if ((skew < 0 && t < (uint64_t)-skew) || (skew > 0 && t > UINT64_MAX - (uint64_t)skew))
		now = t;      /* it would wrap: no clock reads that */
	int64_t s = now >= t ? (int64_t)(now - t) : -(int64_t)(t - now);
	if (s > RV_P2P_LAN_SKEW_MS)
		open_for(a, sizeof a, g, now, &seen, id, "stale:");
	else if (s < -RV_P2P_LAN_SKEW_MS)
		open_for(a, sizeof a, g, now, &seen, id, "future:");
	else {
		assert(open_for(a, sizeof a, g, now, &seen, id, NULL) == 0);
		assert(!memcmp(id, k.id, sizeof id));
		open_for(a, sizeof a, g, now, &seen, id, "replay:");
	}
	g[at % sizeof g] ^= (uint8_t)(1u << (mask & 7));
	open_for(a, sizeof a, g, t, NULL, id, "tag:");
	g[at % sizeof g] ^= (uint8_t)(1u << (mask & 7));
	if (mask) {
		a[at % sizeof a] ^= mask;
		assert(open_for(a, sizeof a, g, t, NULL, id, NULL) < 0);
	}
	rv_p2p_key_free(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		sealed(data + 1, size - 1);
	else
		from_network(data + 1, size - 1);
	return 0;
}
