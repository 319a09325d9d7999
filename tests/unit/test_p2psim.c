/* test_p2psim.c - a peer group of 1,000 simulated peers in one process, on
 * a virtual clock: the real engines (p2pkey, p2pring, p2penv, p2pmsg,
 * p2pgossip) with a simulated network in place of sessions and sockets.
 *
 * Each peer has a seeded Ed25519 key and chooses its neighbours with
 * rv_p2p_choose among all others (as if every report had reached it);
 * links are symmetric and each peer keeps at most MAX_NB. Every message
 * a peer sends is parsed and handed to the other end after a latency of
 * 1-10 ms, or lost with the run's loss rate. Posts come from random peers
 * 50 ms apart. Measured as the reference does (peer-groups.md section 5):
 *   delivery   (post, member) pairs delivered / expected
 *   RMR        copies received / (N - 1) - 1 per post (redundancy)
 *   LDH        hops of the last delivery of a post
 * and asserted: all delivered without loss, at least 99.9 % at 5 % loss,
 * at most one redundant copy per member per post once the tree has formed,
 * and the last delivery within log2 N + 2 hops. Directed routing on the
 * same neighbours (rv_p2p_route_next, hop by hop): at least 99 % of
 * messages to random peers arrive, within ceil(log2 N) hops, and "nearest"
 * messages end at the peer truly nearest their address. Figures are
 * printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "p2penv.h"
#include "p2pgossip.h"
#include "p2pkey.h"
#include "p2pmsg.h"
#include "p2pring.h"

/* Under ASan the same paths run on 250 peers, a tenth of the time (the
 * figures to quote are the plain build's, at 1,000). */
#if defined(__SANITIZE_ADDRESS__)
#define N 250
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define N 250
#endif
#endif
#ifndef N
#define N 1000
#endif
#define MAX_NB 32
#define POSTS 20
#define WARMUP_POSTS 5      /* posts that build the tree: not in RMR */
#define TICK_MS 5

struct peer {
	struct rv_p2p_key key;
	uint8_t addr[32];
	struct rv_p2p_gossip g;
	int nb[MAX_NB];         /* slot -> peer */
	int nnb;
	int got[POSTS];         /* copies of each post received */
	int hops[POSTS];        /* hops of its first copy, -1 before */
};

/* A message on the wire, in a heap ordered by arrival time. */
struct wire {
	uint64_t at;
	int from, to;
	uint8_t hops;
	uint16_t len;
	uint8_t *bytes;
};

static struct peer *peers;
static struct wire *heap;
static size_t nheap, aheap;
static uint64_t now, rng = 88172645463325252ull;
static uint8_t group[32] = { 0x5e };
static double loss;
static int posted;
static uint8_t post_ids[POSTS][32];
static uint64_t post_copies[POSTS];

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static uint32_t rand_cb(void *ud)
{
	(void)ud;
	return next_rand();
}

static int slot_of(const struct peer *p, int other)
{
	for (int s = 0; s < p->nnb; s++)
		if (p->nb[s] == other)
			return s;
	return -1;
}

static void heap_push(struct wire w)
{
	if (nheap == aheap) {
		aheap = aheap ? 2 * aheap : 1024;
		heap = realloc(heap, aheap * sizeof *heap);
		assert_non_null(heap);
	}
	size_t i = nheap++;
	for (; i > 0 && heap[(i - 1) / 2].at > w.at; i = (i - 1) / 2)
		heap[i] = heap[(i - 1) / 2];
	heap[i] = w;
}

static struct wire heap_pop(void)
{
	struct wire top = heap[0], last = heap[--nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && heap[c + 1].at < heap[c].at)
			c++;
		if (heap[c].at >= last.at)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap)
		heap[i] = last;
	return top;
}

/* Which post an envelope is (by ID: the engines check signatures), or -1. */
static int post_index(const uint8_t *env, size_t len)
{
	uint8_t id[32];
	SHA256(env, len, id);
	for (int i = 0; i < posted; i++)
		if (!memcmp(post_ids[i], id, 32))
			return i;
	return -1;
}

/* Take everything peer A's engine wants done; HOPS: of what A just got. */
static void drain(int a, int hops)
{
	struct peer *p = &peers[a];
	struct rv_p2p_gossip_out o;
	while (rv_p2p_gossip_poll(&p->g, &o)) {
		if (o.ev == RV_P2P_EV_DELIVER) {
			int k = post_index(o.bytes, o.len);
			if (k >= 0 && p->hops[k] < 0)
				p->hops[k] = hops;
			continue;
		}
		assert_int_equal(o.ev, RV_P2P_EV_SEND);   /* nobody here forges */
		if (loss > 0 && next_rand() % 100000 < (uint32_t)(loss * 100000))
			continue;
		struct wire w = { now + 1 + next_rand() % 10, a, p->nb[o.slot], (uint8_t)(hops + 1),
				  (uint16_t)o.len, malloc(o.len) };
		assert_non_null(w.bytes);
		memcpy(w.bytes, o.bytes, o.len);
		heap_push(w);
	}
}

static void arrive(struct wire w)
{
	struct peer *p = &peers[w.to];
	struct rv_p2p_msg m;
	const char *why;
	int slot = slot_of(p, w.from);
	assert_true(slot >= 0);
	assert_int_equal(rv_p2p_msg_parse(w.bytes, w.len, &m, &why), 0);
	if (m.type == RV_P2P_M_POST) {
		int k = post_index(m.env, m.env_len);
		if (k >= 0) {
			p->got[k]++;
			post_copies[k]++;
		}
	}
	assert_int_equal(rv_p2p_gossip_input(&p->g, now, slot, &m), 0);
	drain(w.to, w.hops);
	free(w.bytes);
}

static void link_peers(int a, int b)
{
	struct peer *pa = &peers[a], *pb = &peers[b];
	if (a == b || slot_of(pa, b) >= 0 || pa->nnb == MAX_NB || pb->nnb == MAX_NB)
		return;
	pa->nb[pa->nnb] = b;
	rv_p2p_gossip_up(&pa->g, pa->nnb++);
	pb->nb[pb->nnb] = a;
	rv_p2p_gossip_up(&pb->g, pb->nnb++);
}

static void build(void)
{
	static struct rv_p2p_cand cands[N];
	static int idx[N];
	uint32_t chosen[64];
	peers = calloc(N, sizeof *peers);
	assert_non_null(peers);
	for (int i = 0; i < N; i++) {
		uint8_t seed[32] = { 0 };
		memcpy(seed, &i, sizeof i);
		assert_int_equal(rv_p2p_key_from_seed(&peers[i].key, seed), 0);
		rv_p2p_ring_addr(peers[i].key.id, peers[i].addr);
		rv_p2p_gossip_init(&peers[i].g, group, NULL);
		for (int k = 0; k < POSTS; k++)
			peers[i].hops[k] = -1;
	}
	for (int i = 0; i < N; i++) {
		size_t n = 0;
		for (int j = 0; j < N; j++)
			if (j != i) {
				cands[n] = (struct rv_p2p_cand){ peers[j].addr, 1 + next_rand() % 100 };
				idx[n++] = j;
			}
		size_t got = rv_p2p_choose(peers[i].addr, cands, n, MAX_NB / 2, rand_cb, NULL, chosen);
		for (size_t k = 0; k < got; k++)
			link_peers(i, idx[chosen[k]]);
	}
}

static void teardown(void)
{
	for (int i = 0; i < N; i++) {
		rv_p2p_gossip_free(&peers[i].g);
		rv_p2p_key_free(&peers[i].key);
	}
	while (nheap)
		free(heap_pop().bytes);
	free(heap);
	heap = NULL;
	aheap = 0;
	free(peers);
	memset(post_copies, 0, sizeof post_copies);
	posted = 0;
	now = 0;
}

static void post_from(int a)
{
	uint8_t env[256];
	char text[32];
	int len = snprintf(text, sizeof text, "post %d", posted);
	long n = rv_p2p_env_seal(&peers[a].key, group, RV_P2P_POST, now, (uint64_t)posted, text,
				 (size_t)len, env, sizeof env, post_ids[posted]);
	assert_true(n > 0);
	peers[a].hops[posted] = 0;
	peers[a].got[posted] = 1;
	posted++;
	assert_int_equal(rv_p2p_gossip_post(&peers[a].g, now, env, (size_t)n), 0);
	drain(a, 0);
}

static void run_until(uint64_t end)
{
	for (; now < end; now += TICK_MS) {
		while (nheap && heap[0].at <= now)
			arrive(heap_pop());
		for (int i = 0; i < N; i++) {
			rv_p2p_gossip_tick(&peers[i].g, now);
			drain(i, 0);
		}
	}
}

struct figures {
	double delivery, rmr;
	int ldh;
};

static struct figures simulate(double loss_rate)
{
	struct figures f = { 0 };
	loss = loss_rate;
	build();
	now = 1000;
	for (int k = 0; k < POSTS; k++) {
		post_from((int)(next_rand() % N));
		run_until(now + 50);
	}
	run_until(now + 2000);                     /* repairs finish */
	uint64_t delivered = 0, copies = 0;
	for (int k = 0; k < POSTS; k++) {
		for (int i = 0; i < N; i++) {
			delivered += peers[i].got[k] > 0;
			if (peers[i].hops[k] > f.ldh)
				f.ldh = peers[i].hops[k];
		}
		if (k >= WARMUP_POSTS)
			copies += post_copies[k];
	}
	f.delivery = (double)delivered / ((double)POSTS * N);
	f.rmr = (double)copies / ((double)(POSTS - WARMUP_POSTS) * (N - 1)) - 1;
	teardown();
	return f;
}

static void without_loss(void **state)
{
	(void)state;
	struct figures f = simulate(0);
	printf("# %d peers, no loss: delivery %.4f, RMR %.3f, LDH %d\n", N, f.delivery, f.rmr, f.ldh);
	assert_true(f.delivery == 1.0);
	assert_true(f.rmr <= 1.0);
	assert_true(f.ldh <= (int)ceil(log2(N)) + 2);
}

static void at_five_percent_loss(void **state)
{
	(void)state;
	struct figures f = simulate(0.05);
	printf("# %d peers, 5%% loss: delivery %.4f, RMR %.3f, LDH %d\n", N, f.delivery, f.rmr, f.ldh);
	assert_true(f.delivery >= 0.999);
	assert_true(f.rmr <= 1.0);
}

/* Route a message from A for DST hop by hop: the hops taken, or -1 when
 * it stops short (NO_ROUTE or a TTL of 64 spent); *END: where it ended. */
static int route(int a, enum rv_p2p_route_mode mode, const uint8_t dst[32], int *end)
{
	struct rv_p2p_route_nb nb[MAX_NB];
	for (int hops = 0; hops <= 64; hops++) {
		struct peer *p = &peers[a];
		for (int s = 0; s < p->nnb; s++)
			nb[s] = (struct rv_p2p_route_nb){ peers[p->nb[s]].key.id, peers[p->nb[s]].addr };
		int next = rv_p2p_route_next(p->key.id, p->addr, nb, (size_t)p->nnb, mode, dst);
		if (next == RV_P2P_ROUTE_HERE) {
			*end = a;
			return hops;
		}
		if (next == RV_P2P_ROUTE_NONE)
			return -1;
		a = p->nb[next];
	}
	return -1;
}

static void directed_routing(void **state)
{
	(void)state;
	const int tries = 500;
	const int limit = (int)ceil(log2(N));
	int ok = 0, within = 0, maxh = 0, sum = 0, nearest_ok = 0, end;
	build();
	for (int t = 0; t < tries; t++) {
		int a = (int)(next_rand() % N), b = (int)(next_rand() % N);
		int h = route(a, RV_P2P_TO_PEER, peers[b].key.id, &end);
		if (h >= 0 && end == b) {
			ok++;
			within += h <= limit;
			sum += h;
			maxh = h > maxh ? h : maxh;
		}
		uint8_t target[32];
		for (int i = 0; i < 32; i++)
			target[i] = (uint8_t)next_rand();
		static struct rv_p2p_cand all[N];
		for (int i = 0; i < N; i++)
			all[i] = (struct rv_p2p_cand){ peers[i].addr, 0 };
		int truly = rv_p2p_nearest(all, N, target);
		nearest_ok += route(a, RV_P2P_TO_NEAREST, target, &end) >= 0 && end == truly;
	}
	printf("# %d peers, routing: %d/%d to a peer, %d within %d hops (mean %.2f, max %d), %d/%d nearest\n",
	       N, ok, tries, within, limit, ok ? (double)sum / ok : 0.0, maxh, nearest_ok, tries);
	assert_true(within >= tries * 99 / 100);
	assert_true(nearest_ok >= tries * 99 / 100);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(without_loss),
		cmocka_unit_test(at_five_percent_loss),
		cmocka_unit_test(directed_routing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
