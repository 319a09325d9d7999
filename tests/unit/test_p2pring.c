/* test_p2pring.c - the ring of a peer group (p2pring.h): distances that
 * wrap, the member estimate on evenly spread rings, the neighbour target
 * (22 at a thousand members, 32 at a million, as RTMFP's), and a
 * neighbour choice that follows NetGroup's rules without duplicates, and
 * greedy routing that stops where nobody is nearer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p2pkey.h"
#include "p2pring.h"

#define N 1000

static uint8_t addrs[N][RV_P2P_ADDR_LEN];
static struct rv_p2p_cand cands[N];

/* Address I of COUNT spread evenly round the ring: I * 2^256 / COUNT on
 * its top 64 bits. */
static void spread(uint8_t *a, uint64_t i, uint64_t count)
{
	uint64_t v = (uint64_t)(((unsigned __int128)i << 64) / count);
	memset(a, 0, RV_P2P_ADDR_LEN);
	for (int b = 0; b < 8; b++)
		a[b] = (uint8_t)(v >> (56 - 8 * b));
}

static void distances(void **state)
{
	(void)state;
	uint8_t a[32], b[32], d[32], want[32] = { 0 };
	memset(a, 0xff, 32);
	memset(b, 0, 32);
	b[31] = 1;
	rv_p2p_ring_dist(a, b, d);           /* across zero: 2 */
	want[31] = 2;
	assert_memory_equal(d, want, 32);
	rv_p2p_ring_dist(b, a, d);           /* symmetric */
	assert_memory_equal(d, want, 32);
	memset(a, 0, 32);
	memset(b, 0, 32);
	b[0] = 0xc0;                         /* 3/4 of the way: 1/4 the other way */
	rv_p2p_ring_dist(a, b, d);
	memset(want, 0, 32);
	want[0] = 0x40;
	assert_memory_equal(d, want, 32);
	assert_true(rv_p2p_ring_cmp(a, b) < 0);
}

static void nearest(void **state)
{
	(void)state;
	for (int i = 0; i < 10; i++) {
		spread(addrs[i], (uint64_t)i, 10);
		cands[i].addr = addrs[i];
	}
	uint8_t t[32];
	spread(t, 37, 100);                  /* 0.37: nearest is 0.4 */
	assert_int_equal(rv_p2p_nearest(cands, 10, t), 4);
	spread(t, 97, 100);                  /* 0.97: nearest is 0.0, across zero */
	assert_int_equal(rv_p2p_nearest(cands, 10, t), 0);
	assert_int_equal(rv_p2p_nearest(cands, 0, t), -1);
}

static void estimate_and_target(void **state)
{
	(void)state;
	uint8_t self[32];
	spread(self, 0, N);
	for (int i = 1; i < N; i++) {
		spread(addrs[i - 1], (uint64_t)i, N);
		cands[i - 1].addr = addrs[i - 1];
		cands[i - 1].rtt_ms = UINT32_MAX;
	}
	uint64_t e = rv_p2p_estimate(self, cands, N - 1);
	assert_true(e >= N - 2 && e <= N + 2);
	assert_int_equal(rv_p2p_estimate(self, cands, 3), 4);   /* too few: count them */
	assert_int_equal(rv_p2p_target(1, 64), 13);
	assert_int_equal(rv_p2p_target(1000, 64), 22);
	assert_int_equal(rv_p2p_target(1000000, 64), 32);
	assert_int_equal(rv_p2p_target(1000000, 24), 24);
}

static uint32_t fixed(void *ud)
{
	return *(uint32_t *)ud;
}

static void choose(void **state)
{
	(void)state;
	uint8_t self[32];
	uint32_t out[64], r = 500;
	spread(self, 0, N);
	for (int i = 1; i < N; i++) {       /* candidate i-1 sits at i/N */
		spread(addrs[i - 1], (uint64_t)i, N);
		cands[i - 1].addr = addrs[i - 1];
		cands[i - 1].rtt_ms = (uint32_t)(1000 + (i * 7919) % 1000);  /* a permutation */
	}
	size_t n = rv_p2p_choose(self, cands, N - 1, 32, fixed, &r, out);
	assert_int_equal(n, 22);            /* floor(log2 1000) + 13 */
	int seen[N] = { 0 };
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seen[out[i]]++, 0);
	for (int i = 0; i < 4; i++)         /* the 4 after us: 1/N .. 4/N */
		assert_int_equal(out[i], i);
	assert_int_equal(out[4], N - 2);    /* and the 2 before: 999/N, 998/N */
	assert_int_equal(out[5], N - 3);
	for (int i = 0; i < 6; i++)         /* the 6 lowest RTTs */
		assert_true(cands[out[6 + i]].rtt_ms < 1006 + 6);
	int half = 0;                       /* a finger half way round */
	for (size_t i = 13; i < n; i++)
		half |= out[i] == N / 2 - 1;
	assert_true(half);
	/* a cap below the target, and small groups: everyone */
	assert_int_equal(rv_p2p_choose(self, cands, N - 1, 10, fixed, &r, out), 10);
	assert_int_equal(rv_p2p_choose(self, cands, 5, 32, fixed, &r, out), 5);
}

/* A ring of 8 peers whose addresses we set by hand (IDs are their index). */
static void routing(void **state)
{
	(void)state;
	uint8_t ids[8][32] = { { 0 } }, ad[8][32];
	for (int i = 0; i < 8; i++) {
		ids[i][0] = (uint8_t)i;
		spread(ad[i], (uint64_t)i, 8);
	}
	/* peer 0 knows 1 and 4; a message for the address at 5/8 goes to 4 */
	struct rv_p2p_route_nb nb[2] = { { ids[1], ad[1] }, { ids[4], ad[4] } };
	assert_int_equal(rv_p2p_route_next(ids[0], ad[0], nb, 2, RV_P2P_TO_NEAREST, ad[5]), 1);
	/* for 1/8 + a little: peer 1 */
	uint8_t t[32];
	spread(t, 9, 64);
	assert_int_equal(rv_p2p_route_next(ids[0], ad[0], nb, 2, RV_P2P_TO_NEAREST, t), 0);
	/* for 63/64: nobody is nearer than 0 itself, across zero */
	spread(t, 63, 64);
	assert_int_equal(rv_p2p_route_next(ids[0], ad[0], nb, 2, RV_P2P_TO_NEAREST, t), RV_P2P_ROUTE_HERE);
	/* exact: ours, a neighbour's ID, and an ID nobody nearer knows */
	assert_int_equal(rv_p2p_route_next(ids[0], ad[0], nb, 2, RV_P2P_TO_PEER, ids[0]), RV_P2P_ROUTE_HERE);
	assert_int_equal(rv_p2p_route_next(ids[0], ad[0], nb, 2, RV_P2P_TO_PEER, ids[4]), 1);
	uint8_t self_addr[32];
	rv_p2p_ring_addr(ids[7], self_addr);        /* a peer sitting where ids[7]'s address is */
	assert_int_equal(rv_p2p_route_next(ids[0], self_addr, nb, 2, RV_P2P_TO_PEER, ids[7]), RV_P2P_ROUTE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(distances),
		cmocka_unit_test(nearest),
		cmocka_unit_test(estimate_and_target),
		cmocka_unit_test(choose),
		cmocka_unit_test(routing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
