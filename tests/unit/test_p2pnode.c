/* test_p2pnode.c - peer nodes (p2pnode.h) in one process: real DTLS
 * sessions over an in-memory network on a virtual clock (addresses
 * 10.0.0.N:7400, nothing leaves the process).
 *
 * Twenty nodes bootstrap from node 0 alone; after a few report rounds
 * every node knows every other through REPORTs, has neighbours, and the
 * neighbour graph is connected. A post reaches every other node exactly
 * once, also with 5 % of datagrams lost; a routed message reaches the peer
 * it names, and a "nearest" one the peer nearest the address; a lone node
 * has no route. A neighbour that sends garbage, a forged post or a flood
 * is cut off and the others lose nothing; a quarter of the nodes replaced
 * and a minute-long partition leave a mesh that carries every post. A node
 * that leaves is seen to go. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "err.h"
#include "p2pnode.h"

#define N 20

struct peer {
	struct rv_p2p_key key;
	struct rv_p2p_node *node;
	struct sockaddr_in addr;
	int posts, routed, ups, downs, bad;
	int downs_watched;               /* NEIGHBOR_DOWN about the peer in watch */
	uint8_t last_author[32];
	char last[64];
	uint8_t last_hops;
	int objects;                     /* RV_P2P_NODE_OBJECT events */
	int acks;                        /* RV_P2P_NODE_ACK: how many, the last one's */
	uint8_t ack_mode, ack_id[32], ack_author[32];
};

static struct peer p[N];
static uint8_t group[32];
static uint64_t now;
static uint32_t seed = 1;
static uint32_t loss_permille;     /* datagrams lost on the way, after the mesh formed */
static int split;
static struct peer *muted_in;             /* with muted: what node MUTED of that set sends is lost */
static int muted;
static uint8_t watch[32];                  /* nodes below it and the others cannot reach each other (0: none) */

static uint32_t rnd(void *ud)
{
	(void)ud;
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* The peer of PS (N of them) at A, or -1. */
static int index_in(const struct peer *ps, int n, const struct sockaddr_storage *a)
{
	const struct sockaddr_in *in = (const void *)a;
	for (int i = 0; i < n; i++)
		if (ps[i].node && in->sin_addr.s_addr == ps[i].addr.sin_addr.s_addr)
			return i;
	return -1;
}

static int index_of(const struct sockaddr_storage *a)
{
	return index_in(p, N, a);
}

static void events_of(struct peer *q)
{
	struct rv_p2p_node_ev e;
	while (rv_p2p_node_poll(q->node, &e)) {
		switch (e.type) {
		case RV_P2P_NODE_NEIGHBOR_UP: q->ups++; break;
		case RV_P2P_NODE_NEIGHBOR_DOWN:
			q->downs++;
			q->downs_watched += !memcmp(e.peer, watch, 32);
			break;
		case RV_P2P_NODE_BAD_PEER: q->bad++; break;
		case RV_P2P_NODE_OBJECT: q->objects++; break;
		case RV_P2P_NODE_ACK:
			q->acks++;
			q->ack_mode = e.mode;
			memcpy(q->ack_id, e.id, 32);
			memcpy(q->ack_author, e.author, 32);
			break;
		case RV_P2P_NODE_POST:
		case RV_P2P_NODE_ROUTED:
			if (e.type == RV_P2P_NODE_POST)
				q->posts++;
			else
				q->routed++;
			memcpy(q->last_author, e.author, 32);
			snprintf(q->last, sizeof q->last, "%.*s", (int)e.len, (const char *)e.data);
			q->last_hops = e.hops;
			break;
		default: break;
		}
	}
}

static void events(int i)
{
	events_of(&p[i]);
}

/* Move every datagram of PS (N nodes) to its node, fire timers (after a
 * tick at now the next is later), MS of virtual time in 5 ms steps. */
static void run_on(struct peer *ps, int n, uint64_t ms)
{
	uint8_t buf[RV_P2P_NODE_DGRAM_MAX];
	for (uint64_t end = now + ms; now < end; now += 5) {
		for (int moved = 1; moved;) {
			moved = 0;
			for (int i = 0; i < n; i++) {
				struct sockaddr_storage to;
				socklen_t tolen;
				ssize_t len;
				while (ps[i].node && (len = rv_p2p_node_take(ps[i].node, buf, sizeof buf, &to, &tolen)) > 0) {
					int j = index_in(ps, n, &to);
					moved = 1;
					if (loss_permille && rnd(NULL) % 1000 < loss_permille)
						continue;
					if (split && j >= 0 && (i < split) != (j < split))
						continue;
					if (ps == muted_in && i == muted)
						continue;
					if (j >= 0)
						rv_p2p_node_input(ps[j].node, now, buf, (size_t)len,
								  (const struct sockaddr *)&ps[i].addr, sizeof ps[i].addr);
				}
			}
		}
		uint64_t next = end;
		int ticked = 0;
		for (int i = 0; i < n; i++)
			if (ps[i].node) {
				if (rv_p2p_node_next(ps[i].node) <= now) {
					rv_p2p_node_tick(ps[i].node, now);
					assert_true(rv_p2p_node_next(ps[i].node) > now);
					ticked = 1;
				}
				events_of(&ps[i]);
				uint64_t t = rv_p2p_node_next(ps[i].node);
				if (t < next)
					next = t;
			}
		/* nothing to do until then: skip ahead, but not past what a
		 * timer just sent (it moves in the next step) */
		if (!ticked && next > now + 5)
			now = next - 5;
	}
}

static void run(uint64_t ms)
{
	run_on(p, N, ms);
}

/* Sessions that give up sooner than the defaults: a partition in seconds. */
static const struct rv_p2p_sess_conf quick = { .keepalive_ms = 2000, .dead_ms = 6000, .handshake_ms = 5000 };
/* Sessions that outlive a peer muted for seconds. */
static const struct rv_p2p_sess_conf patient = { .keepalive_ms = 2000, .dead_ms = 30000, .handshake_ms = 5000 };

/* Peer Q, the I-th, at 10.0.0.(I + 1) with at most MAX neighbours (0: the
 * default), in a group whose spec is SPEC (NULL: none, everything allowed),
 * its sessions' timers SESS. */
static void start_node(struct peer *q, int i, size_t max, const struct rv_p2p_spec *spec,
		       const struct rv_p2p_sess_conf *sess)
{
	uint8_t sd[32] = { (uint8_t)(i + 1), 7 };
	assert_int_equal(rv_p2p_key_from_seed(&q->key, sd), 0);
	struct rv_p2p_node_conf c = { .key = &q->key, .rnd = rnd, .max_neighbors = max,
				      .sess = sess, .spec = spec };
	memcpy(c.group, group, 32);
	const char *why;
	assert_int_equal(rv_p2p_node_new(&q->node, &c, now, &why), 0);
	q->addr.sin_family = AF_INET;
	q->addr.sin_port = htons(7400);
	q->addr.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i + 1);
}

static void start_peer(struct peer *q, int i, size_t max)
{
	start_node(q, i, max, NULL, &quick);
}

static void start(int i)
{
	start_peer(&p[i], i, 0);
}

static void stop_peer(struct peer *q)
{
	rv_p2p_node_free(q->node);
	q->node = NULL;
	rv_p2p_key_free(&q->key);
}

static void stop(int i)
{
	stop_peer(&p[i]);
}

static int setup(void **state)
{
	(void)state;
	memset(p, 0, sizeof p);
	memset(group, 0x42, sizeof group);
	now = 1000;
	for (int i = 0; i < N; i++)
		start(i);
	for (int i = 1; i < N; i++)
		assert_int_equal(rv_p2p_node_add_peer(p[i].node, now, (const struct sockaddr *)&p[0].addr,
						      sizeof p[0].addr), 0);
	run(25000);	/* two report rounds and more */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N; i++)
		if (p[i].node)
			stop(i);
	return 0;
}

/* Everyone known, everyone has neighbours, and the graph is connected. */
static void test_mesh(void **state)
{
	(void)state;
	int seen[N] = { 1 }, queue[N] = { 0 }, head = 0, tail = 1;
	for (int i = 0; i < N; i++) {
		struct rv_p2p_node_stats st;
		rv_p2p_node_stats(p[i].node, &st);
		assert_int_equal(st.known, N - 1);
		assert_true(st.neighbors >= 6);
		assert_int_equal(st.bad, 0);
	}
	while (head < tail) {
		int i = queue[head++];
		struct rv_p2p_node_nb nb;
		for (size_t k = 0; rv_p2p_node_neighbor(p[i].node, k, &nb); k++) {
			int j = index_of(&nb.addr);
			assert_true(j >= 0);
			if (!seen[j]) {
				seen[j] = 1;
				queue[tail++] = j;
			}
		}
	}
	assert_int_equal(tail, N);
}

static void test_post(void **state)
{
	(void)state;
	uint8_t id[32];
	assert_int_equal(rv_p2p_node_post(p[3].node, now, 123, "build 142 is green", 18, id), 0);
	run(500);
	for (int i = 0; i < N; i++) {
		assert_int_equal(p[i].posts, i == 3 ? 0 : 1);
		if (i != 3) {
			assert_string_equal(p[i].last, "build 142 is green");
			assert_memory_equal(p[i].last_author, p[3].key.id, 32);
		}
	}
}

/* 5 % of datagrams lost: repairs (IHAVE, IWANT) still bring every post. */
static void test_post_loss(void **state)
{
	(void)state;
	int before[N];
	for (int i = 0; i < N; i++)
		before[i] = p[i].posts;
	loss_permille = 50;
	for (int k = 0; k < 40; k++) {
		char text[24];
		snprintf(text, sizeof text, "lossy %d", k);
		assert_int_equal(rv_p2p_node_post(p[k % N].node, now, 1, text, strlen(text), NULL), 0);
		run(20);
	}
	run(3000);
	loss_permille = 0;
	for (int i = 0; i < N; i++) {
		if (p[i].posts - before[i] != 38)
			fprintf(stderr, "node %d: %d of 38\n", i, p[i].posts - before[i]);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].posts - before[i], 38);
}

static void test_route(void **state)
{
	(void)state;
	uint8_t id[32];
	int acks = p[5].acks;
	assert_int_equal(rv_p2p_node_send(p[5].node, now, 1, RV_P2P_TO_PEER, p[12].key.id, "hi", 2, id), 0);
	run(200);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].routed, i == 12);
	/* the author is told, by the destination, end to end */
	assert_int_equal(p[5].acks, acks + 1);
	assert_int_equal(p[5].ack_mode, RV_P2P_ACK_DELIVERED);
	assert_memory_equal(p[5].ack_id, id, 32);
	assert_memory_equal(p[5].ack_author, p[12].key.id, 32);
	assert_string_equal(p[12].last, "hi");
	assert_memory_equal(p[12].last_author, p[5].key.id, 32);
	assert_true(p[12].last_hops >= 1 && p[12].last_hops <= 5);	/* ceil(log2 20) */

	/* nearest: the ring address of node 7, slightly off, ends at node 7 */
	uint8_t target[32];
	memcpy(target, rv_p2p_node_ring(p[7].node), 32);
	target[31] ^= 1;
	assert_int_equal(rv_p2p_node_send(p[0].node, now, 1, RV_P2P_TO_NEAREST, target, "near", 4, NULL), 0);
	run(200);
	assert_int_equal(p[7].routed, 1);
	assert_string_equal(p[7].last, "near");
	assert_int_equal(p[0].ack_mode, RV_P2P_ACK_DELIVERED);
	assert_memory_equal(p[0].ack_author, p[7].key.id, 32);
	/* an ID nobody has: where it stops, the peer nearest it says so */
	uint8_t nobody[32];
	memcpy(nobody, rv_p2p_node_ring(p[7].node), 32);
	nobody[31] ^= 1;	/* near node 7's ring address, so not node 3's own way */
	for (int k = 0; k < 4; k++) {
		int sender = (3 + 5 * k) % N, before = p[sender].acks;
		int rc = rv_p2p_node_send(p[sender].node, now, 1, RV_P2P_TO_PEER, nobody, "lost", 4, id);
		run(200);
		if (rc == RV_ENOTFOUND) {	/* the sender itself is nearest: said at once */
			assert_int_equal(p[sender].acks, before);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(p[sender].acks, before + 1);
		assert_int_equal(p[sender].ack_mode, RV_P2P_ACK_NO_ROUTE);
		assert_memory_equal(p[sender].ack_id, id, 32);
	}
	for (int i = 0; i < N; i++)
		assert_true(strcmp(p[i].last, "lost") != 0);
}

static void test_leave(void **state)
{
	(void)state;
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(p[9].node, &st);
	memcpy(watch, p[9].key.id, 32);
	rv_p2p_node_close(p[9].node, now);
	run(5);	/* the goodbyes go out */
	stop(9);
	run(100);
	int seen = 0;
	for (int i = 0; i < N; i++)
		seen += p[i].downs_watched;
	assert_int_equal(seen, (int)st.neighbors);
}

/* The caller cuts a neighbour off (rv_p2p_node_cut: a forged fragment,
 * p2pcast.h): a BAD_PEER and its NEIGHBOR_DOWN here, and it is no
 * neighbour any more; a peer that is none is nothing. */
static void test_cut(void **state)
{
	(void)state;
	struct rv_p2p_node_nb nb;
	assert_true(rv_p2p_node_neighbor(p[0].node, 0, &nb));
	int j = index_of(&nb.addr);
	assert_true(j > 0);
	struct rv_p2p_node_stats before, after;
	rv_p2p_node_stats(p[0].node, &before);
	int bad = p[0].bad;
	memcpy(watch, p[j].key.id, 32);
	p[0].downs_watched = 0;
	rv_p2p_node_cut(p[0].node, now, p[j].key.id, "a forged fragment");
	events(0);
	assert_int_equal(p[0].bad, bad + 1);
	assert_int_equal(p[0].downs_watched, 1);
	rv_p2p_node_stats(p[0].node, &after);
	assert_int_equal(after.bad, before.bad + 1);
	for (size_t k = 0; rv_p2p_node_neighbor(p[0].node, k, &nb); k++)
		assert_int_not_equal(index_of(&nb.addr), j);
	uint8_t nobody[32] = { 0 };
	rv_p2p_node_cut(p[0].node, now, nobody, "nobody");
	rv_p2p_node_stats(p[0].node, &before);
	assert_int_equal(before.bad, after.bad);
}

/* A lone node: nothing to route through, and NO_ROUTE says so. */
static void test_no_route(void **state)
{
	(void)state;
	uint8_t sd[32] = { 99 }, other[32] = { 1 };
	struct rv_p2p_key k;
	struct rv_p2p_node *n;
	const char *why;
	assert_int_equal(rv_p2p_key_from_seed(&k, sd), 0);
	struct rv_p2p_node_conf c = { .key = &k, .rnd = rnd };
	assert_int_equal(rv_p2p_node_new(&n, &c, now, &why), 0);
	assert_int_equal(rv_p2p_node_send(n, now, 1, RV_P2P_TO_PEER, other, "x", 1, NULL), RV_ENOTFOUND);
	/* nearest mode always ends somewhere: here */
	assert_int_equal(rv_p2p_node_send(n, now, 1, RV_P2P_TO_NEAREST, other, "x", 1, NULL), 0);
	struct rv_p2p_node_ev e;
	assert_int_equal(rv_p2p_node_poll(n, &e), 1);
	assert_int_equal(e.type, RV_P2P_NODE_ROUTED);
	assert_int_equal(e.hops, 0);
	rv_p2p_node_free(n);
	rv_p2p_key_free(&k);
}

/* A session of our own making into node 0 (the rogue), up. */
static struct rogue {
	EVP_PKEY *pk;
	struct rv_dtls_ctx *ctx;
	struct rv_p2p_key k;
	struct rv_p2p_sess s;
	struct sockaddr_in me;
} r;

static void rogue_flush(void)
{
	uint8_t buf[RV_P2P_NODE_DGRAM_MAX];
	ssize_t len;
	while ((len = rv_p2p_sess_take(&r.s, buf, sizeof buf)) > 0)
		rv_p2p_node_input(p[0].node, now, buf, (size_t)len, (const struct sockaddr *)&r.me, sizeof r.me);
}

static void rogue_up(int seed)
{
	char err[256];
	uint8_t sd[32] = { (uint8_t)seed }, buf[RV_P2P_NODE_DGRAM_MAX];
	r.me.sin_family = AF_INET;
	r.me.sin_port = htons((uint16_t)(9000 + seed));
	r.me.sin_addr.s_addr = htonl(0x0a0000ffu);
	assert_int_equal(rv_dtls_key_p256(&r.pk), 0);
	assert_int_equal(rv_dtls_ctx_new(&r.ctx, r.pk, 0, err, sizeof err), 0);
	assert_int_equal(rv_p2p_key_from_seed(&r.k, sd), 0);
	assert_int_equal(rv_p2p_sess_new(&r.s, r.ctx, &r.k, group, 0, now, NULL), 0);
	assert_int_equal(rv_p2p_sess_start(&r.s), 0);
	for (int round = 0; round < 20 && r.s.state != RV_P2P_SESS_UP; round++) {
		rogue_flush();
		struct sockaddr_storage to;
		socklen_t tolen;
		ssize_t len;
		while ((len = rv_p2p_node_take(p[0].node, buf, sizeof buf, &to, &tolen)) > 0)
			if (((const struct sockaddr_in *)&to)->sin_addr.s_addr == r.me.sin_addr.s_addr)
				rv_p2p_sess_feed(&r.s, now, buf, (size_t)len);
		events(0);
	}
	assert_int_equal(r.s.state, RV_P2P_SESS_UP);
}

static void rogue_free(void)
{
	rv_p2p_sess_free(&r.s);
	rv_dtls_ctx_free(r.ctx);
	EVP_PKEY_free(r.pk);
	rv_p2p_key_free(&r.k);
}

/* The rogue sends what MAKE writes (K times); node 0 cuts it off, once,
 * and keeps its other neighbours. */
static void rogue_cut(int seed, long (*make)(uint8_t *out, size_t cap, int i), int k)
{
	struct rv_p2p_node_stats before, after;
	static uint8_t m[RV_P2P_MSG_MAX];
	rogue_up(seed);
	rv_p2p_node_stats(p[0].node, &before);
	int bad = p[0].bad;
	for (int i = 0; i < k && r.s.state == RV_P2P_SESS_UP; i++) {
		long len = make(m, sizeof m, i);
		assert_true(len > 0);
		if (rv_p2p_sess_send(&r.s, now, m, (size_t)len) < 0) {
			rogue_flush();
			assert_int_equal(rv_p2p_sess_send(&r.s, now, m, (size_t)len), 0);
		}
		if (i % 64 == 63)
			rogue_flush();
	}
	rogue_flush();
	events(0);
	assert_int_equal(p[0].bad, bad + 1);
	rv_p2p_node_stats(p[0].node, &after);
	assert_int_equal(after.bad, before.bad + 1);
	assert_int_equal(after.neighbors, before.neighbors);	/* the rogue came and went */
	rogue_free();
}

static long junk(uint8_t *out, size_t cap, int i)
{
	(void)cap; (void)i;
	out[0] = 99;	/* no such type */
	return 4;
}

/* A post whose envelope was changed after it was signed. */
static long forged(uint8_t *out, size_t cap, int i)
{
	uint8_t env[256];
	(void)i;
	long n = rv_p2p_env_seal(&r.k, group, RV_P2P_POST, 1, 7, "pay me", 6, env, sizeof env, NULL);
	env[RV_P2P_ENV_HEAD] ^= 1;	/* "pay me" becomes "qay me" */
	return rv_p2p_msg_post(out, cap, env, (size_t)n);
}

/* IHAVEs past the allowance of a second: well formed, just too many. */
static long flood(uint8_t *out, size_t cap, int i)
{
	uint8_t ids[32] = { (uint8_t)i, (uint8_t)(i >> 8), 0x77 };
	return rv_p2p_msg_ids(out, cap, RV_P2P_M_IHAVE, ids, 1);
}

static void test_bad_peer(void **state)
{
	(void)state;
	rogue_cut(77, junk, 1);
	rogue_cut(78, forged, 1);
	rogue_cut(79, flood, RV_P2P_NODE_FLOOD_MSGS + 10);
	/* the forged post went nowhere, and the group still carries posts */
	for (int i = 0; i < N; i++)
		assert_false(p[i].node && !strcmp(p[i].last, "qay me"));
	int before = p[1].posts;
	assert_int_equal(rv_p2p_node_post(p[0].node, now, 1, "after the rogues", 16, NULL), 0);
	run(300);
	assert_int_equal(p[1].posts, before + 1);
}

/* A quarter of the nodes leave and as many new ones come, knowing only
 * node 0: the mesh takes them in, and posts reach everyone there now. */
static void test_churn(void **state)
{
	(void)state;
	for (int i = 15; i < N; i++) {
		if (p[i].node) {
			rv_p2p_node_close(p[i].node, now);
			run(5);
			stop(i);
		}
		int seed = i + 100;
		uint8_t sd[32] = { (uint8_t)seed, 7 };
		assert_int_equal(rv_p2p_key_from_seed(&p[i].key, sd), 0);
		struct rv_p2p_node_conf c = { .key = &p[i].key, .rnd = rnd, .sess = &quick };
		memcpy(c.group, group, 32);
		const char *why;
		assert_int_equal(rv_p2p_node_new(&p[i].node, &c, now, &why), 0);
		p[i].posts = 0;
		p[i].addr.sin_addr.s_addr = htonl(0x0a000100u + (uint32_t)i + 1);	/* a new process, a new address */
		assert_int_equal(rv_p2p_node_add_peer(p[i].node, now, (const struct sockaddr *)&p[0].addr,
						      sizeof p[0].addr), 0);
	}
	run(25000);
	int before[N];
	for (int i = 0; i < N; i++)
		before[i] = p[i].posts;
	assert_int_equal(rv_p2p_node_post(p[17].node, now, 1, "new here", 8, NULL), 0);
	assert_int_equal(rv_p2p_node_post(p[2].node, now, 1, "old here", 8, NULL), 0);
	run(500);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].posts - before[i], i == 17 || i == 2 ? 1 : 2);
}

/* The network splits in two for 10 s (every session across dies of
 * silence: 6 s here), then heals: the halves find each other again from what they
 * remember, and a post reaches everyone. */
static void test_partition(void **state)
{
	(void)state;
	split = N / 2;
	run(10000);
	int before[N];
	for (int i = 0; i < N; i++)
		before[i] = p[i].posts;
	assert_int_equal(rv_p2p_node_post(p[1].node, now, 1, "split", 5, NULL), 0);
	run(500);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].posts - before[i], i < split && i != 1 ? 1 : 0);
	split = 0;
	run(40000);	/* backoffs, then report rounds */
	for (int i = 0; i < N; i++)
		before[i] = p[i].posts;
	assert_int_equal(rv_p2p_node_post(p[1].node, now, 1, "healed", 6, NULL), 0);
	run(500);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].posts - before[i], i == 1 ? 0 : 1);
}

/* A node with more neighbours than it wants drops those not among its
 * best at its report; the choice it has just made stands: after that
 * tick, the next is later (found by fuzz_p2pnode). */
static void test_trim(void **state)
{
	(void)state;
	struct peer q[4];
	memset(q, 0, sizeof q);
	for (int i = 0; i < 4; i++)
		start_peer(&q[i], 40 + i, 1);
	for (int i = 1; i < 4; i++)
		assert_int_equal(rv_p2p_node_add_peer(q[i].node, now, (const struct sockaddr *)&q[0].addr,
						      sizeof q[0].addr), 0);
	run_on(q, 4, 11000);	/* a report round: node 0 keeps its best */
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(q[0].node, &st);
	assert_true(st.disconnects >= 2);
	for (int i = 0; i < 4; i++)
		stop_peer(&q[i]);
}

/* Peer I (Q[0] or Q[1]: the one with the higher peer ID when HI) learns of
 * the other, R, and opens a session; R answers I's ClientHello before it
 * learns of I (from a REPORT, the LAN) and chooses I as a neighbour while
 * its answer is still on the way:
 * it waits for I's handshake, it does not open a second session with I's
 * address (whose ClientHello made I, the higher ID, give way on the
 * handshake R was serving: both stalled until handshake_ms, then 5 s
 * more). One session, up at once, and nothing fails later. */
static void answer_then_learn(int hi)
{
	struct peer q[2];
	memset(q, 0, sizeof q);
	start_peer(&q[0], 60, 0);
	start_peer(&q[1], 61, 0);
	int first_hi = memcmp(q[0].key.id, q[1].key.id, 32) > 0;
	struct peer *in = first_hi == hi ? &q[0] : &q[1], *r = in == &q[0] ? &q[1] : &q[0];
	assert_int_equal(rv_p2p_node_learn(in->node, now, r->key.id, (const struct sockaddr *)&r->addr,
					   sizeof r->addr), 0);
	now += 25;
	rv_p2p_node_tick(in->node, now);	/* I opens: its ClientHello to R */
	uint8_t buf[RV_P2P_NODE_DGRAM_MAX];
	struct sockaddr_storage to;
	socklen_t tolen;
	ssize_t len;
	int sent = 0;
	while ((len = rv_p2p_node_take(in->node, buf, sizeof buf, &to, &tolen)) > 0) {
		rv_p2p_node_input(r->node, now, buf, (size_t)len, (const struct sockaddr *)&in->addr,
				  sizeof in->addr);
		sent++;
	}
	assert_true(sent > 0);
	assert_int_equal(rv_p2p_node_learn(r->node, now, in->key.id, (const struct sockaddr *)&in->addr,
					   sizeof in->addr), 0);
	now += 25;	/* R's answer is on its way (loaded hosts: tens of ms) when R chooses */
	rv_p2p_node_tick(r->node, now);
	run_on(q, 2, 1000);
	for (int i = 0; i < 2; i++) {
		struct rv_p2p_node_stats st;
		rv_p2p_node_stats(q[i].node, &st);
		assert_int_equal(st.neighbors, 1);
		assert_int_equal(st.opening, 0);
	}
	run_on(q, 2, 15000);	/* past every handshake deadline */
	for (int i = 0; i < 2; i++) {
		struct rv_p2p_node_stats st;
		rv_p2p_node_stats(q[i].node, &st);
		assert_int_equal(st.neighbors, 1);
		assert_int_equal(st.connect_failures, 0);
		assert_int_equal(q[i].ups, 1);
		assert_int_equal(q[i].downs, 0);
	}
	for (int i = 0; i < 2; i++)
		stop_peer(&q[i]);
}

static void test_answer_then_learn_hi(void **state)
{
	(void)state;
	answer_then_learn(1);
}

static void test_answer_then_learn_lo(void **state)
{
	(void)state;
	answer_then_learn(0);
}

/* A peer learnt of (the LAN, a REPORT) that does not answer yet is tried
 * again when its wait is over (5 s after the failure), not at the next
 * report (up to 10 s later): the LAN announces nothing new of it. */
static void test_retry_when_due(void **state)
{
	(void)state;
	struct peer q[2];
	memset(q, 0, sizeof q);
	uint64_t t0 = now;
	start_peer(&q[0], 62, 0);	/* its reports at t0 + 10 s, t0 + 20 s */
	run_on(q, 1, 3000);
	start_peer(&q[1], 63, 0);	/* known, but not there yet */
	struct rv_p2p_node *later = q[1].node;
	q[1].node = NULL;
	assert_int_equal(rv_p2p_node_learn(q[0].node, now, q[1].key.id, (const struct sockaddr *)&q[1].addr,
					   sizeof q[1].addr), 0);
	run_on(q, 2, 6000);		/* the handshake fails at t0 + 8 s */
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(q[0].node, &st);
	assert_int_equal(st.connect_failures, 1);
	q[1].node = later;		/* there at t0 + 9 s: tried again at t0 + 13 s */
	run_on(q, 2, t0 + 15000 - now);
	rv_p2p_node_stats(q[0].node, &st);
	assert_int_equal(st.neighbors, 1);
	for (int i = 0; i < 2; i++)
		stop_peer(&q[i]);
}

/* A peer that started again (its key, another address) while the old
 * session with it is not dead yet: the new session is kept whichever ID is
 * higher and whichever side opened the old one, and a message to the peer
 * (rv_p2p_node_send_peer) reaches the new one, not the dead one. HI: the
 * restarting peer's ID is the higher; STAY_OPENED: the other side opened
 * the old session. */
static void restarted(int hi, int stay_opened)
{
	struct peer q[2];
	memset(q, 0, sizeof q);
	start_peer(&q[0], 66, 0);
	start_peer(&q[1], 67, 0);
	int i = (memcmp(q[0].key.id, q[1].key.id, 32) > 0) == hi ? 0 : 1;	/* it restarts */
	struct peer *stay = &q[1 - i], *back = &q[i], *opener = stay_opened ? stay : back;
	struct peer *other = stay_opened ? back : stay;
	assert_int_equal(rv_p2p_node_add_peer(opener->node, now, (const struct sockaddr *)&other->addr,
					      sizeof other->addr), 0);
	run_on(q, 2, 2000);
	assert_int_equal(stay->ups, 1);
	rv_p2p_node_free(back->node);	/* killed: no goodbye */
	back->node = NULL;
	run_on(q, 2, 300);
	uint8_t sd[32] = { (uint8_t)(66 + i + 1), 7 };
	struct rv_p2p_node_conf c = { .key = &back->key, .rnd = rnd, .sess = &quick };
	memcpy(c.group, group, 32);
	const char *why;
	rv_p2p_key_free(&back->key);	/* the same key again, made anew as a restarted process would */
	assert_int_equal(rv_p2p_key_from_seed(&back->key, sd), 0);
	assert_int_equal(rv_p2p_node_new(&back->node, &c, now, &why), 0);
	back->addr.sin_addr.s_addr = htonl(0x0a000000u + 200);	/* a new address */
	back->ups = 0;
	assert_int_equal(rv_p2p_node_add_peer(back->node, now, (const struct sockaddr *)&stay->addr,
					      sizeof stay->addr), 0);
	run_on(q, 2, 1000);
	assert_int_equal(back->ups, 1);
	uint8_t obj[32] = { 1 }, msg[64];
	long len = rv_p2p_msg_obj_get(msg, sizeof msg, obj, 0);
	assert_int_equal(rv_p2p_node_send_peer(stay->node, now, back->key.id, msg, (size_t)len), 0);
	run_on(q, 2, 100);
	assert_int_equal(back->objects, 1);
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(back->node, &st);
	assert_int_equal(st.neighbors, 1);
	assert_int_equal(back->downs, 0);
	for (int k = 0; k < 2; k++)
		stop_peer(&q[k]);
}

static void test_restarted_hi(void **state)
{
	(void)state;
	restarted(1, 0);
	restarted(1, 1);
}

static void test_restarted_lo(void **state)
{
	(void)state;
	restarted(0, 0);
	restarted(0, 1);
}

/* Node 0's group routes and nothing else (its spec): it neither posts nor
 * asks for objects, routing works, and node 1, which ignores the spec and
 * asks node 0 for an object, is cut off. */
static void test_spec_enforced(void **state)
{
	(void)state;
	struct rv_p2p_spec only_routing = { .version = 2, .caps = RV_P2P_CAP_ROUTING };
	struct peer q[2];
	memset(q, 0, sizeof q);
	start_node(&q[0], 70, 0, &only_routing, &quick);
	start_node(&q[1], 71, 0, NULL, &quick);
	assert_int_equal(rv_p2p_node_add_peer(q[1].node, now, (const struct sockaddr *)&q[0].addr,
					      sizeof q[0].addr), 0);
	run_on(q, 2, 2000);
	assert_int_equal(q[0].ups, 1);
	assert_int_equal(rv_p2p_node_post(q[0].node, now, 1, "no", 2, NULL), RV_EDENIED);
	uint8_t m[128];
	uint8_t obj[32] = { 1 };
	long n = rv_p2p_msg_obj_get(m, sizeof m, obj, 0);
	assert_true(n > 0);
	assert_int_equal(rv_p2p_node_send_peer(q[0].node, now, q[1].key.id, m, (size_t)n), RV_EDENIED);
	assert_int_equal(rv_p2p_node_send_peer(q[1].node, now, q[0].key.id, m, (size_t)n), 0);	/* 1 may: no spec */
	assert_int_equal(rv_p2p_node_send(q[0].node, now, 1, RV_P2P_TO_PEER, q[1].key.id, "hi", 2, NULL), 0);
	run_on(q, 2, 200);
	assert_int_equal(q[1].routed, 1);	/* routing is on */
	assert_int_equal(q[0].objects, 0);	/* the object request was refused */
	assert_int_equal(q[0].bad, 1);		/* ... and its sender cut off */
	for (int i = 0; i < 2; i++)
		stop_peer(&q[i]);
}

/* A routed message whose acknowledgements are lost is sent again (twice at
 * most); the destination delivers it once and acknowledges each copy; one
 * whose first copy's ACK is lost is settled by the second copy's. */
static void test_route_resent(void **state)
{
	(void)state;
	struct peer q[2];
	struct rv_p2p_node_stats a, b;
	memset(q, 0, sizeof q);
	start_node(&q[0], 80, 0, NULL, &patient);
	start_node(&q[1], 81, 0, NULL, &patient);
	assert_int_equal(rv_p2p_node_add_peer(q[1].node, now, (const struct sockaddr *)&q[0].addr,
					      sizeof q[0].addr), 0);
	run_on(q, 2, 2000);
	assert_int_equal(q[0].ups, 1);
	muted_in = q;
	muted = 1;	/* every ACK of node 1 is lost */
	assert_int_equal(rv_p2p_node_send(q[0].node, now, 1, RV_P2P_TO_PEER, q[1].key.id, "one", 3, NULL), 0);
	run_on(q, 2, 4500);	/* past the copies (1 s, 3 s) */
	muted_in = NULL;
	run_on(q, 2, 3000);
	rv_p2p_node_stats(q[0].node, &a);
	rv_p2p_node_stats(q[1].node, &b);
	assert_int_equal(q[1].routed, 1);		/* once, however many copies */
	assert_int_equal(b.routed_duplicates, 2);
	assert_int_equal(a.routed_resent, 2);		/* at 1 s and 3 s, then no more */
	assert_int_equal(q[0].acks, 0);
	assert_int_equal(q[0].downs, 0);
	/* the first copy's ACK lost, the second's comes */
	uint8_t id[32];
	muted_in = q;
	assert_int_equal(rv_p2p_node_send(q[0].node, now, 1, RV_P2P_TO_PEER, q[1].key.id, "two", 3, id), 0);
	run_on(q, 2, 500);
	muted_in = NULL;
	run_on(q, 2, 5000);
	rv_p2p_node_stats(q[0].node, &a);
	rv_p2p_node_stats(q[1].node, &b);
	assert_int_equal(q[1].routed, 2);
	assert_string_equal(q[1].last, "two");
	assert_int_equal(q[0].acks, 1);			/* one event, for the message */
	assert_memory_equal(q[0].ack_id, id, 32);
	assert_int_equal(a.routed_resent, 3);		/* one copy: then it was settled */
	assert_int_equal(b.routed_duplicates, 3);
	for (int i = 0; i < 2; i++)
		stop_peer(&q[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mesh),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_post_loss),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_bad_peer),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_leave),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_answer_then_learn_hi),
		cmocka_unit_test(test_answer_then_learn_lo),
		cmocka_unit_test(test_retry_when_due),
		cmocka_unit_test(test_restarted_hi),
		cmocka_unit_test(test_restarted_lo),
		cmocka_unit_test(test_spec_enforced),
		cmocka_unit_test(test_route_resent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
