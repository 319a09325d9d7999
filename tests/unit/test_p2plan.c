/* test_p2plan.c - LAN announcements (p2plan.h): what a member seals opens
 * for the members of its group only, once, within 30 s of its time; every
 * byte counts; nothing else looks like one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "p2plan.h"

#define NOW 1700000000000ull

static const uint8_t group[RV_P2P_HASH_LEN] = { 0x6c, 0x61, 0x6e };

static struct rv_p2p_key key;

static int setup(void **state)
{
	(void)state;
	uint8_t seed[32] = { 42 };
	return rv_p2p_key_from_seed(&key, seed);
}

static int teardown(void **state)
{
	(void)state;
	rv_p2p_key_free(&key);
	return 0;
}

/* Build the announcement at T with NONCE into D. */
static void build(uint8_t d[RV_P2P_LAN_LEN], uint64_t t, uint64_t nonce)
{
	assert_int_equal(rv_p2p_lan_build(&key, group, t, nonce, d, RV_P2P_LAN_LEN), RV_P2P_LAN_LEN);
}

/* Re-tag D for G as any member can, from the layout of p2plan.h alone:
 * HMAC-SHA256(G, "rvp2p-lan" || all but the tag), first 16 bytes. */
static void retag(uint8_t d[RV_P2P_LAN_LEN], const uint8_t *g)
{
	uint8_t in[9 + RV_P2P_LAN_LEN - 16], mac[32];
	unsigned len = sizeof mac;
	memcpy(in, "rvp2p-lan", 9);
	memcpy(in + 9, d, 5);
	memcpy(in + 14, d + 21, RV_P2P_LAN_LEN - 21);
	HMAC(EVP_sha256(), g, RV_P2P_HASH_LEN, in, sizeof in, mac, &len);
	memcpy(d + 5, mac, 16);
}

/* Open D (N bytes) for G at NOW: the return code, and *WHY's reason name
 * ("tag", "stale", ...) checked against WANT when it fails. */
static int open_as(const uint8_t *d, size_t n, const uint8_t *g, uint64_t now,
		   struct rv_p2p_lan_seen *seen, const char *want)
{
	uint8_t id[RV_P2P_HASH_LEN], pub[RV_P2P_PUB_LEN];
	const char *why = NULL;
	int rc = rv_p2p_lan_open(d, n, g, now, seen, id, pub, &why);
	if (rc == 0) {
		assert_memory_equal(id, key.id, RV_P2P_HASH_LEN);
		assert_memory_equal(pub, key.pub, RV_P2P_PUB_LEN);
		assert_null(want);
		return rc;
	}
	assert_int_equal(rc, RV_EPROTO);
	assert_non_null(why);
	assert_non_null(want);
	if (strncmp(why, want, strlen(want)) || why[strlen(want)] != ':')
		fail_msg("refused for \"%s\", expected %s", why, want);
	return rc;
}

static void round_trip(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN];
	struct rv_p2p_lan_seen seen = { 0 };
	assert_int_equal(RV_P2P_LAN_LEN, 133);     /* as rv-p2p(7) says */
	build(d, NOW, 7);
	assert_memory_equal(d, "\xF0rvL1", 5);
	assert_true(rv_p2p_lan_is(d, sizeof d));
	assert_int_equal(open_as(d, sizeof d, group, NOW, &seen, NULL), 0);
	/* the key travels in the clear at its place; the group ID nowhere */
	assert_memory_equal(d + 21, key.pub, RV_P2P_PUB_LEN);
	assert_null(memmem(d, sizeof d, group, RV_P2P_HASH_LEN));
	/* the same key, time and nonce make the same bytes (Ed25519 is
	 * deterministic); another nonce makes another tag */
	uint8_t again[RV_P2P_LAN_LEN], other[RV_P2P_LAN_LEN];
	build(again, NOW, 7);
	assert_memory_equal(again, d, sizeof d);
	build(other, NOW, 8);
	assert_memory_not_equal(other + 5, d + 5, RV_P2P_LAN_TAG_LEN);
	/* too small a buffer */
	assert_int_equal(rv_p2p_lan_build(&key, group, NOW, 7, other, RV_P2P_LAN_LEN - 1), RV_ETOOBIG);
}

/* Every bit counts: a flip in the magic is "magic", anywhere else "tag"
 * (the tag covers all the rest); with the tag recomputed as a member can,
 * a flip in the key, time, nonce or signature is "signature". */
static void every_byte(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN];
	build(d, NOW, 9);
	for (size_t i = 0; i < sizeof d; i++) {
		for (int bit = 0; bit < 8; bit++) {
			d[i] ^= (uint8_t)(1 << bit);
			open_as(d, sizeof d, group, NOW, NULL, i < RV_P2P_LAN_MAGIC_LEN ? "magic" : "tag");
			d[i] ^= (uint8_t)(1 << bit);
		}
	}
	open_as(d, sizeof d, group, NOW, NULL, NULL);
	uint8_t m[RV_P2P_LAN_LEN];
	memcpy(m, d, sizeof m);
	retag(m, group);
	assert_memory_equal(m, d, sizeof m);     /* the layout is as documented */
	/* a flip of the lowest bit: for the time's last byte, 1 ms (its
	 * other bytes would leave the window: see times) */
	for (size_t i = 21; i < sizeof d; i++) {
		if (i >= 53 && i < 60)
			continue;
		m[i] ^= 0x01;
		retag(m, group);
		open_as(m, sizeof m, group, NOW, NULL, "signature");
		m[i] ^= 0x01;
	}
}

/* Another group's ID: the tag does not match, whatever the rest. */
static void other_group(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN], g2[RV_P2P_HASH_LEN];
	build(d, NOW, 10);
	memcpy(g2, group, sizeof g2);
	for (size_t i = 0; i < sizeof g2; i++) {
		g2[i] ^= 0x80;
		open_as(d, sizeof d, g2, NOW, NULL, "tag");
		g2[i] ^= 0x80;
	}
	open_as(d, sizeof d, g2, NOW, NULL, NULL);
}

/* A member knows the group ID, so it can make tags, but not another's
 * signature: it cannot pass its own signature off under a victim's key,
 * nor carry the victim's announcement into another group it is in. */
static void forged_by_member(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN], m[RV_P2P_LAN_LEN], seed[32] = { 43 };
	uint8_t g2[RV_P2P_HASH_LEN] = { 0x6f };
	struct rv_p2p_key other;
	assert_int_equal(rv_p2p_key_from_seed(&other, seed), 0);
	build(d, NOW, 11);
	assert_int_equal(rv_p2p_lan_build(&other, group, NOW, 11, m, sizeof m), RV_P2P_LAN_LEN);
	memcpy(m + 21, key.pub, RV_P2P_PUB_LEN);
	retag(m, group);
	open_as(m, sizeof m, group, NOW, NULL, "signature");
	memcpy(m, d, sizeof m);
	retag(m, g2);
	open_as(m, sizeof m, g2, NOW, NULL, "signature");
	rv_p2p_key_free(&other);
}

static void times(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN];
	build(d, NOW, 12);
	open_as(d, sizeof d, group, NOW + 30000, NULL, NULL);
	open_as(d, sizeof d, group, NOW + 30001, NULL, "stale");
	open_as(d, sizeof d, group, NOW - 30000, NULL, NULL);
	open_as(d, sizeof d, group, NOW - 30001, NULL, "future");
	open_as(d, sizeof d, group, 0, NULL, "future");
	open_as(d, sizeof d, group, UINT64_MAX, NULL, "stale");
	/* the far ends of the clock do not wrap */
	build(d, UINT64_MAX, 12);
	open_as(d, sizeof d, group, 0, NULL, "future");
	open_as(d, sizeof d, group, UINT64_MAX - 30000, NULL, NULL);
	build(d, 0, 12);
	open_as(d, sizeof d, group, UINT64_MAX, NULL, "stale");
	open_as(d, sizeof d, group, 30000, NULL, NULL);
}

static void replays(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN], e[RV_P2P_LAN_LEN];
	struct rv_p2p_lan_seen seen = { 0 };
	build(d, NOW, 13);
	open_as(d, sizeof d, group, NOW, &seen, NULL);
	open_as(d, sizeof d, group, NOW + 1000, &seen, "replay");
	/* without a cache, the caller chose not to check */
	open_as(d, sizeof d, group, NOW + 1000, NULL, NULL);
	/* what fails does not enter the cache */
	build(e, NOW, 14);
	open_as(e, sizeof e, group, NOW + 40000, &seen, "stale");
	open_as(e, sizeof e, group, NOW, &seen, NULL);
	/* the cache holds the last RV_P2P_LAN_SEEN: the first is forgotten
	 * after that many others */
	for (uint64_t i = 0; i < RV_P2P_LAN_SEEN - 2; i++) {
		build(e, NOW, 100 + i);
		open_as(e, sizeof e, group, NOW, &seen, NULL);
	}
	open_as(d, sizeof d, group, NOW, &seen, "replay");
	build(e, NOW, 99);
	open_as(e, sizeof e, group, NOW, &seen, NULL);
	open_as(d, sizeof d, group, NOW, &seen, NULL);
	open_as(d, sizeof d, group, NOW, &seen, "replay");
}

static void lengths(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_LAN_LEN + 64];
	build(d, NOW, 15);
	memset(d + RV_P2P_LAN_LEN, 0, 64);
	for (size_t n = 0; n <= sizeof d; n++) {
		if (n == RV_P2P_LAN_LEN)
			continue;
		open_as(d, n, group, NOW, NULL, n < RV_P2P_LAN_MAGIC_LEN ? "magic" : "length");
	}
	open_as(d, RV_P2P_LAN_LEN, group, NOW, NULL, NULL);
}

/* DTLS records (content types 20-63), STUN (top bits 00), TURN
 * ChannelData (64-79), RTP (128-191): none is taken for an announcement,
 * and an announcement is none of them. */
static void not_others(void **state)
{
	(void)state;
	uint8_t p[RV_P2P_LAN_LEN];
	memcpy(p, RV_P2P_LAN_MAGIC, RV_P2P_LAN_MAGIC_LEN);
	memset(p + RV_P2P_LAN_MAGIC_LEN, 0, sizeof p - RV_P2P_LAN_MAGIC_LEN);
	for (int b = 0; b < 256; b++) {
		p[0] = (uint8_t)b;
		assert_int_equal(rv_p2p_lan_is(p, sizeof p), b == 0xF0);
	}
	assert_false(rv_p2p_lan_is(p, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(every_byte),
		cmocka_unit_test(other_group),
		cmocka_unit_test(forged_by_member),
		cmocka_unit_test(times),
		cmocka_unit_test(replays),
		cmocka_unit_test(lengths),
		cmocka_unit_test(not_others),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
