/* p2pring.c - ring distances, the member estimate and neighbour choice
 * (p2pring.h). */
#include <stdlib.h>
#include <string.h>

#include "p2pkey.h"
#include "p2pring.h"

#define L RV_P2P_ADDR_LEN

int rv_p2p_ring_cmp(const uint8_t a[L], const uint8_t b[L])
{
	return memcmp(a, b, L);
}

/* OUT = (B - A) mod 2^256: the clockwise distance from A to B. */
static void cw(const uint8_t a[L], const uint8_t b[L], uint8_t out[L])
{
	int borrow = 0;
	for (int i = L - 1; i >= 0; i--) {
		int d = b[i] - a[i] - borrow;
		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

void rv_p2p_ring_dist(const uint8_t a[L], const uint8_t b[L], uint8_t out[L])
{
	uint8_t there[L], back[L];
	cw(a, b, there);
	cw(b, a, back);
	memcpy(out, memcmp(there, back, L) <= 0 ? there : back, L);
}

int rv_p2p_nearest(const struct rv_p2p_cand *c, size_t n, const uint8_t target[L])
{
	int best = -1;
	uint8_t bd[L], d[L];
	for (size_t i = 0; i < n; i++) {
		rv_p2p_ring_dist(c[i].addr, target, d);
		int k = best < 0 ? -1 : memcmp(d, bd, L);
		if (best < 0 || k < 0 || (k == 0 && memcmp(c[i].addr, c[best].addr, L) < 0)) {
			best = (int)i;
			memcpy(bd, d, L);
		}
	}
	return best;
}

static uint64_t top64(const uint8_t d[L])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v;
}

/* Candidates in clockwise order from SELF: an index sort. */
struct ring_sort {
	const uint8_t *self;
	const struct rv_p2p_cand *c;
};

static int by_position(const void *x, const void *y, void *ctx)
{
	const struct ring_sort *r = ctx;
	uint8_t dx[L], dy[L];
	cw(r->self, r->c[*(const uint32_t *)x].addr, dx);
	cw(r->self, r->c[*(const uint32_t *)y].addr, dy);
	return memcmp(dx, dy, L);
}

static int by_rtt(const void *x, const void *y, void *ctx)
{
	const struct rv_p2p_cand *c = ctx;
	uint32_t a = c[*(const uint32_t *)x].rtt_ms, b = c[*(const uint32_t *)y].rtt_ms;
	return a < b ? -1 : a > b;
}

static void ring_order(const uint8_t self[L], const struct rv_p2p_cand *c, size_t n, uint32_t *idx)
{
	struct ring_sort r = { self, c };
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof *idx, by_position, &r);
}

/* The estimate from the ring order IDX of N candidates (N >= 4). */
static uint64_t estimate_sorted(const uint8_t self[L], const struct rv_p2p_cand *c, size_t n,
				const uint32_t *idx)
{
	uint8_t after[L], before[L];
	cw(self, c[idx[1]].addr, after);            /* to the second after us */
	cw(c[idx[n - 2]].addr, self, before);       /* from the second before us */
	uint64_t a = top64(after), b = top64(before);
	uint64_t span = a + b < a ? UINT64_MAX : a + b;
	uint64_t gap = span / 4;
	return gap == 0 ? UINT64_MAX : UINT64_MAX / gap + 1;
}

uint64_t rv_p2p_estimate(const uint8_t self[L], const struct rv_p2p_cand *c, size_t n)
{
	uint32_t idx[RV_P2P_CANDIDATES_MAX];
	if (n > RV_P2P_CANDIDATES_MAX)
		n = RV_P2P_CANDIDATES_MAX;
	if (n < 4)
		return n + 1;
	ring_order(self, c, n, idx);
	return estimate_sorted(self, c, n, idx);
}

size_t rv_p2p_target(uint64_t estimate, size_t max)
{
	size_t log2 = 0;
	while (estimate > 1) {
		estimate >>= 1;
		log2++;
	}
	size_t t = log2 + RV_P2P_TARGET_BASE;
	return t < max ? t : max;
}

struct pick {
	uint32_t *out;
	size_t n, max;
	uint8_t used[RV_P2P_CANDIDATES_MAX];
};

static int take(struct pick *p, uint32_t i)
{
	if (p->used[i] || p->n == p->max)
		return 0;
	p->used[i] = 1;
	p->out[p->n++] = i;
	return 1;
}

/* One candidate not taken yet, at random. */
static void random_one(struct pick *p, size_t n, uint32_t (*rnd)(void *ud), void *ud)
{
	for (uint32_t r = rnd(ud) % (uint32_t)n, k = 0; k < n; k++)
		if (take(p, (r + k) % (uint32_t)n))
			return;
}

/* Fingers: the candidate nearest SELF + 2^256 / 2^k clockwise (the first
 * at or past it), then SELF - 2^256 / 2^k (the last at or before it), for
 * k = 1, 2, ..., while the target count is not reached. IDX is in ring
 * order, so each is a binary search. */
static void fingers(struct pick *p, const uint8_t self[L], const struct rv_p2p_cand *c, size_t n,
		    const uint32_t *idx, size_t target, int back)
{
	for (int k = 1; k < 8 * L && p->n < target && p->n < p->max; k++) {
		uint8_t off[L] = { 0 }, d[L];
		off[(k - 1) / 8] = (uint8_t)(0x80 >> ((k - 1) % 8));
		if (back)                   /* 2^256 - off: the same point the other way */
			cw(off, (uint8_t[L]){ 0 }, off);
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			cw(self, c[idx[mid]].addr, d);
			if (memcmp(d, off, L) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (back && lo > 0)
			take(p, idx[lo - 1]);
		else if (!back && lo < n)
			take(p, idx[lo]);
	}
}

size_t rv_p2p_choose(const uint8_t self[L], const struct rv_p2p_cand *c, size_t n,
		     size_t max, uint32_t (*rnd)(void *ud), void *ud, uint32_t *out)
{
	struct pick p;
	uint32_t idx[RV_P2P_CANDIDATES_MAX], rtt[RV_P2P_CANDIDATES_MAX];
	if (n > RV_P2P_CANDIDATES_MAX)
		n = RV_P2P_CANDIDATES_MAX;
	memset(p.used, 0, n);
	p.out = out;
	p.n = 0;
	p.max = max;
	if (n <= RV_P2P_RING_ALL) {
		for (size_t i = 0; i < n; i++)
			take(&p, (uint32_t)i);
		return p.n;
	}
	ring_order(self, c, n, idx);
	for (size_t i = 0; i < RV_P2P_RING_AFTER; i++)
		take(&p, idx[i]);
	for (size_t i = 0; i < RV_P2P_RING_BEFORE; i++)
		take(&p, idx[n - 1 - i]);
	memcpy(rtt, idx, n * sizeof *idx);
	qsort_r(rtt, n, sizeof *rtt, by_rtt, (void *)c);
	for (size_t i = 0, got = 0; i < n && got < RV_P2P_RTT_BEST && c[rtt[i]].rtt_ms != UINT32_MAX; i++)
		got += (size_t)take(&p, rtt[i]);
	random_one(&p, n, rnd, ud);
	size_t target = rv_p2p_target(estimate_sorted(self, c, n, idx), max);
	fingers(&p, self, c, n, idx, target, 0);
	fingers(&p, self, c, n, idx, target, 1);
	while (p.n < target && p.n < n)       /* a dense ring: the rest at random */
		random_one(&p, n, rnd, ud);
	return p.n;
}

int rv_p2p_route_next(const uint8_t self_id[32], const uint8_t self_addr[L],
		      const struct rv_p2p_route_nb *nb, size_t n, enum rv_p2p_route_mode mode,
		      const uint8_t dst[32])
{
	uint8_t target[L], best[L], d[L];
	int pick = RV_P2P_ROUTE_HERE;
	if (mode == RV_P2P_TO_PEER) {
		if (!memcmp(self_id, dst, 32))
			return RV_P2P_ROUTE_HERE;
		for (size_t i = 0; i < n; i++)
			if (!memcmp(nb[i].id, dst, 32))
				return (int)i;          /* a neighbour: straight there */
		rv_p2p_ring_addr(dst, target);
	} else {
		memcpy(target, dst, L);
	}
	rv_p2p_ring_dist(self_addr, target, best);
	for (size_t i = 0; i < n; i++) {
		rv_p2p_ring_dist(nb[i].addr, target, d);
		if (memcmp(d, best, L) < 0) {
			memcpy(best, d, L);
			pick = (int)i;
		}
	}
	if (pick == RV_P2P_ROUTE_HERE && mode == RV_P2P_TO_PEER)
		return RV_P2P_ROUTE_NONE;
	return pick;
}
