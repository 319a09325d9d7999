/* test_p2pgossip.c - posting (p2pgossip.h) among engines wired in memory:
 * every member gets every post once on a line, a triangle settles into a
 * tree (duplicates only until the PRUNEs), a lost push is mended by IHAVE
 * and IWANT, a forged post is reported against its sender and goes no
 * further, a large post is followed by IDONTWANT, and a peer keeps its
 * place in the tree (its last eager link is not pruned; a graft by an
 * IWANT of no ID when a PRUNE leaves none or an eager neighbour goes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "err.h"
#include "p2penv.h"
#include "p2pgossip.h"

#define NODES 8

static struct rv_p2p_gossip g[NODES];
static struct rv_p2p_key key;
static uint8_t group[32] = { 0x11 };
static int link_to[NODES][RV_P2P_GOSSIP_SLOTS];    /* slot -> node, -1: none */
static int delivered[NODES];
static int bad[NODES];
static int drop_from = -1, drop_to = -1, drop_type;   /* lose one kind of message once */
static uint64_t now;
static uint64_t nonce;

/* Slot s of node a is node b; slot of b for a likewise (slot = peer's index). */
static void wire(int a, int b)
{
	link_to[a][b] = b;
	link_to[b][a] = a;
	rv_p2p_gossip_up(&g[a], b);
	rv_p2p_gossip_up(&g[b], a);
}

static void setup_nodes(int n)
{
	memset(link_to, -1, sizeof link_to);
	memset(delivered, 0, sizeof delivered);
	memset(bad, 0, sizeof bad);
	now = 1000;
	for (int i = 0; i < n; i++)
		rv_p2p_gossip_init(&g[i], group, NULL);
}

static void teardown_nodes(int n)
{
	for (int i = 0; i < n; i++)
		rv_p2p_gossip_free(&g[i]);
}

/* Move every queued message to its node, until nothing moves. */
static void settle(int n)
{
	for (int moved = 1; moved;) {
		moved = 0;
		for (int a = 0; a < n; a++) {
			struct rv_p2p_gossip_out o;
			while (rv_p2p_gossip_poll(&g[a], &o)) {
				moved = 1;
				if (o.ev == RV_P2P_EV_DELIVER) {
					delivered[a]++;
					continue;
				}
				if (o.ev == RV_P2P_EV_BAD) {
					bad[a]++;
					continue;
				}
				int b = link_to[a][o.slot];
				if (a == drop_from && b == drop_to && o.bytes[0] == drop_type) {
					drop_from = -1;
					continue;
				}
				uint8_t copy[RV_P2P_MSG_MAX];
				struct rv_p2p_msg m;
				const char *why;
				memcpy(copy, o.bytes, o.len);
				assert_int_equal(rv_p2p_msg_parse(copy, o.len, &m, &why), 0);
				assert_int_equal(rv_p2p_gossip_input(&g[b], now, a, &m), 0);
			}
		}
	}
}

/* Let TOTAL ms pass in steps of 5, ticking every node. */
static void run(int n, uint64_t total)
{
	for (uint64_t end = now + total; now < end; now += 5) {
		for (int i = 0; i < n; i++)
			rv_p2p_gossip_tick(&g[i], now);
		settle(n);
	}
}

static void post(int from, size_t len)
{
	static uint8_t payload[4096], env[RV_P2P_ENV_MAX];
	long n = rv_p2p_env_seal(&key, group, RV_P2P_POST, now, ++nonce, payload, len, env, sizeof env, NULL);
	assert_true(n > 0);
	assert_int_equal(rv_p2p_gossip_post(&g[from], now, env, (size_t)n), 0);
	settle(NODES);
}

static int group_setup(void **state)
{
	(void)state;
	uint8_t seed[32] = { 3 };
	return rv_p2p_key_from_seed(&key, seed);
}

static void line(void **state)
{
	(void)state;
	setup_nodes(3);
	wire(0, 1);
	wire(1, 2);
	post(0, 10);
	assert_int_equal(delivered[1], 1);
	assert_int_equal(delivered[2], 1);
	assert_int_equal(delivered[0], 0);               /* not to its author */
	assert_int_equal(g[1].st.duplicates + g[2].st.duplicates, 0);
	teardown_nodes(3);
}

static void triangle_settles_into_a_tree(void **state)
{
	(void)state;
	setup_nodes(3);
	wire(0, 1);
	wire(1, 2);
	wire(0, 2);
	post(0, 10);
	run(3, 50);
	uint64_t first = g[1].st.duplicates + g[2].st.duplicates;
	assert_true(first >= 1);                          /* 1 and 2 also push to each other */
	assert_true(g[1].st.prunes + g[2].st.prunes >= 1);
	for (int i = 0; i < 5; i++) {
		post(0, 10);
		run(3, 50);
	}
	assert_int_equal(delivered[1], 6);
	assert_int_equal(delivered[2], 6);
	assert_int_equal(g[1].st.duplicates + g[2].st.duplicates, first);   /* none since */
	teardown_nodes(3);
}

static void lost_push_is_mended(void **state)
{
	(void)state;
	setup_nodes(3);
	wire(0, 1);
	wire(1, 2);
	wire(0, 2);
	post(0, 10);                                      /* the tree forms */
	run(3, 50);
	drop_from = 0, drop_to = 2, drop_type = RV_P2P_M_POST;
	post(0, 10);
	assert_int_equal(drop_from, -1);                  /* the push to 2 was lost */
	assert_int_equal(delivered[2], 1);
	struct rv_p2p_gossip_conf d;
	rv_p2p_gossip_defaults(&d);
	run(3, d.ihave_ms + d.graft_ms / 2);              /* IHAVE from 1; IWANT waits graft_ms */
	assert_int_equal(delivered[2], 1);
	run(3, 100);
	assert_int_equal(delivered[2], 2);
	assert_true(g[2].st.grafts >= 1);
	assert_int_equal(delivered[1], 2);
	teardown_nodes(3);
}

static void forged_post_goes_nowhere(void **state)
{
	(void)state;
	setup_nodes(3);
	wire(0, 1);
	wire(1, 2);
	uint8_t env[RV_P2P_ENV_MAX], msg[RV_P2P_MSG_MAX];
	long n = rv_p2p_env_seal(&key, group, RV_P2P_POST, now, 99, "hi", 2, env, sizeof env, NULL);
	env[RV_P2P_ENV_HEAD] ^= 1;                        /* the payload changed on the way */
	long m = rv_p2p_msg_post(msg, sizeof msg, env, (size_t)n);
	struct rv_p2p_msg parsed;
	const char *why;
	assert_int_equal(rv_p2p_msg_parse(msg, (size_t)m, &parsed, &why), 0);
	assert_int_equal(rv_p2p_gossip_input(&g[1], now, 0, &parsed), 0);
	settle(3);
	assert_int_equal(bad[1], 1);
	assert_int_equal(delivered[1] + delivered[2], 0);
	/* our own post must be a valid envelope of the group */
	assert_int_equal(rv_p2p_gossip_post(&g[0], now, env, (size_t)n), RV_EPROTO);
	teardown_nodes(3);
}

static void large_post_asks_dontwant(void **state)
{
	(void)state;
	setup_nodes(3);
	wire(0, 1);
	wire(1, 2);
	wire(0, 2);
	post(0, 3000);
	assert_int_equal(delivered[1], 1);
	assert_int_equal(delivered[2], 1);
	uint64_t data = g[0].st.data_out + g[1].st.data_out + g[2].st.data_out;
	assert_true(data < 4 * 3200);                     /* at most one extra copy crossed */
	teardown_nodes(3);
}

/* A node with 20 lazy neighbours (slots 0..19) tells each of them about
 * its share of its posts: lazy_max (8) of 20, starting where the post's
 * ID says among those 20, so none is left out (starting among all 64
 * slots sent most announcements to the first lazy_max). */
static void announcements_are_shared(void **state)
{
	(void)state;
	struct rv_p2p_gossip one;
	static uint8_t env[512];
	int told[20] = { 0 };
	struct rv_p2p_gossip_conf c;
	rv_p2p_gossip_defaults(&c);
	c.eager_min = 0;                                  /* all 20 stay lazy: no graft */
	rv_p2p_gossip_init(&one, group, &c);
	for (int s = 0; s < 20; s++) {
		rv_p2p_gossip_up(&one, s);
		struct rv_p2p_msg prune = { .type = RV_P2P_M_PRUNE };
		rv_p2p_gossip_input(&one, now, s, &prune);	/* lazy */
	}
	for (int k = 0; k < 200; k++) {
		long n = rv_p2p_env_seal(&key, group, RV_P2P_POST, 1, (uint64_t)k, "x", 1, env, sizeof env, NULL);
		assert_int_equal(rv_p2p_gossip_post(&one, now, env, (size_t)n), 0);
		now += 100;	/* each post's IHAVEs go out on their own */
		rv_p2p_gossip_tick(&one, now);
		struct rv_p2p_gossip_out o;
		while (rv_p2p_gossip_poll(&one, &o))
			if (o.ev == RV_P2P_EV_SEND && o.bytes[0] == RV_P2P_M_IHAVE)
				told[o.slot]++;
	}
	for (int s = 0; s < 20; s++)	/* 8/20 of 200 = 80 on average */
		assert_true(told[s] * 3 >= (int)c.lazy_max * 20 && told[s] * 3 <= (int)c.lazy_max * 40);
	rv_p2p_gossip_free(&one);
}

/* The lazy neighbours told of a post, as slot bits, by an engine with
 * SALT and 20 lazy neighbours, for each of N posts (the same N posts for
 * every salt). */
static void lazy_told(uint32_t salt, uint32_t *told, int n)
{
	struct rv_p2p_gossip one;
	struct rv_p2p_gossip_conf c;
	static uint8_t env[512];
	rv_p2p_gossip_defaults(&c);
	c.eager_min = 0;
	c.salt = salt;
	rv_p2p_gossip_init(&one, group, &c);
	for (int s = 0; s < 20; s++) {
		rv_p2p_gossip_up(&one, s);
		struct rv_p2p_msg prune = { .type = RV_P2P_M_PRUNE };
		rv_p2p_gossip_input(&one, now, s, &prune);
	}
	for (int k = 0; k < n; k++) {
		long len = rv_p2p_env_seal(&key, group, RV_P2P_POST, 1, (uint64_t)k, "x", 1, env, sizeof env, NULL);
		assert_int_equal(rv_p2p_gossip_post(&one, now, env, (size_t)len), 0);
		rv_p2p_gossip_tick(&one, now + c.ihave_ms);
		struct rv_p2p_gossip_out o;
		told[k] = 0;
		while (rv_p2p_gossip_poll(&one, &o))
			if (o.ev == RV_P2P_EV_SEND && o.bytes[0] == RV_P2P_M_IHAVE)
				told[k] |= 1u << o.slot;
	}
	rv_p2p_gossip_free(&one);
}

/* Members whose slots line up (they all met the others in the same order)
 * still tell different lazy neighbours of the same post: with one choice
 * for all, a member in the slots none picks hears of the post from nobody,
 * and a lost push loses it (a 20-node group at 5 % loss did). */
static void members_pick_their_own_lazy(void **state)
{
	(void)state;
	enum { POSTS = 50 };
	uint32_t a[POSTS], b[POSTS];
	int same = 0;
	lazy_told(0x1234, a, POSTS);
	lazy_told(0xbeef, b, POSTS);
	for (int k = 0; k < POSTS; k++) {
		assert_int_equal(__builtin_popcount(a[k]), 8);
		same += a[k] == b[k];
	}
	assert_true(same < POSTS / 5);	/* 1 in 20 by chance */
}

/* A neighbour that showed it has a post (it announced it, or pushed a copy)
 * before our IHAVE batch went is not told of it; the others are. */
static void no_ihave_to_who_has_it(void **state)
{
	(void)state;
	struct rv_p2p_gossip one;
	struct rv_p2p_gossip_conf c;
	static uint8_t env[512], buf[RV_P2P_MSG_MAX];
	struct rv_p2p_msg m, prune = { .type = RV_P2P_M_PRUNE };
	const char *why;
	int told[4] = { 0 };
	rv_p2p_gossip_defaults(&c);
	c.eager_min = 0;
	rv_p2p_gossip_init(&one, group, &c);
	for (int s = 0; s < 4; s++)
		rv_p2p_gossip_up(&one, s);
	for (int s = 1; s < 4; s++)
		rv_p2p_gossip_input(&one, now, s, &prune);	/* 1..3 lazy, 0 eager */
	long n = rv_p2p_env_seal(&key, group, RV_P2P_POST, 1, 7, "x", 1, env, sizeof env, NULL);
	long k = rv_p2p_msg_post(buf, sizeof buf, env, (size_t)n);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)k, &m, &why), 0);
	assert_int_equal(rv_p2p_gossip_input(&one, now, 0, &m), 0);	/* new: from 0 */
	assert_int_equal(rv_p2p_gossip_input(&one, now, 2, &m), 0);	/* a copy from 2 */
	uint8_t id[32], ids[RV_P2P_MSG_MAX];
	SHA256(env, (size_t)n, id);
	k = rv_p2p_msg_ids(ids, sizeof ids, RV_P2P_M_IHAVE, id, 1);
	assert_int_equal(rv_p2p_msg_parse(ids, (size_t)k, &m, &why), 0);
	assert_int_equal(rv_p2p_gossip_input(&one, now, 3, &m), 0);	/* 3 has it */
	now += c.ihave_ms;
	rv_p2p_gossip_tick(&one, now);
	struct rv_p2p_gossip_out o;
	while (rv_p2p_gossip_poll(&one, &o))
		if (o.ev == RV_P2P_EV_SEND && o.bytes[0] == RV_P2P_M_IHAVE)
			told[o.slot]++;
	assert_int_equal(told[0], 0);
	assert_int_equal(told[1], 1);
	assert_int_equal(told[2], 0);
	assert_int_equal(told[3], 0);
	assert_int_equal(one.st.ihave_skipped, 2);
	assert_int_equal(one.st.delivered, 1);
	rv_p2p_gossip_free(&one);
}

/* The sends ONE queued: how many, and the last one's slot and message. */
static int sends(struct rv_p2p_gossip *one, int *slot, struct rv_p2p_msg *m, uint8_t *copy)
{
	struct rv_p2p_gossip_out o;
	const char *why;
	int k = 0;
	while (rv_p2p_gossip_poll(one, &o)) {
		if (o.ev != RV_P2P_EV_SEND)
			continue;
		k++;
		*slot = o.slot;
		memcpy(copy, o.bytes, o.len);
		assert_int_equal(rv_p2p_msg_parse(copy, o.len, m, &why), 0);
	}
	return k;
}

/* An announced post whose IWANT (or its answer) is lost is asked for
 * again, of the same announcer, after 2, 4, 8 and 16 x regraft_ms, and
 * then given up: one announcer and one lost datagram lost it before. */
static void iwant_asked_again(void **state)
{
	(void)state;
	struct rv_p2p_gossip one;
	struct rv_p2p_msg m, prune = { .type = RV_P2P_M_PRUNE };
	uint8_t copy[RV_P2P_MSG_MAX], ids[RV_P2P_MSG_MAX], id[32] = { 0x42 };
	const char *why;
	int slot = -1, iwants = 0;
	uint64_t last = 0, gaps[8] = { 0 };
	rv_p2p_gossip_init(&one, group, NULL);
	rv_p2p_gossip_up(&one, 0);
	rv_p2p_gossip_up(&one, 1);
	rv_p2p_gossip_input(&one, now, 1, &prune);
	long k = rv_p2p_msg_ids(ids, sizeof ids, RV_P2P_M_IHAVE, id, 1);
	assert_int_equal(rv_p2p_msg_parse(ids, (size_t)k, &m, &why), 0);
	uint64_t t = now;
	assert_int_equal(rv_p2p_gossip_input(&one, t, 1, &m), 0);
	for (; t < now + 2000; t++) {
		if (rv_p2p_gossip_next(&one) > t)
			continue;
		rv_p2p_gossip_tick(&one, t);
		if (sends(&one, &slot, &m, copy)) {
			assert_int_equal(m.type, RV_P2P_M_IWANT);
			assert_int_equal(slot, 1);
			assert_int_equal(m.n, 1);
			if (iwants < 8)
				gaps[iwants] = t - last;
			iwants++;
			last = t;
		}
	}
	assert_int_equal(iwants, 5);
	assert_int_equal(gaps[1], 40);
	assert_int_equal(gaps[4], 320);
	assert_int_equal(one.nmissing, 0);
	rv_p2p_gossip_free(&one);
}

static int eager_links(const struct rv_p2p_gossip *one)
{
	int k = 0;
	for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++)
		k += one->nb[s].up && one->nb[s].eager;
	return k;
}

/* A PRUNE that leaves a peer no eager link makes it graft a lazy one at
 * once with an IWANT of no ID, never the pruner; with one left it sends
 * nothing. An eager neighbour gone is replaced whatever is left. */
static void pruned_peer_grafts_at_once(void **state)
{
	(void)state;
	struct rv_p2p_gossip one;
	struct rv_p2p_msg m, prune = { .type = RV_P2P_M_PRUNE };
	uint8_t copy[RV_P2P_MSG_MAX];
	int slot = -1;
	rv_p2p_gossip_init(&one, group, NULL);
	for (int s = 0; s < 4; s++)
		rv_p2p_gossip_up(&one, s);
	rv_p2p_gossip_input(&one, now, 0, &prune);
	rv_p2p_gossip_input(&one, now, 1, &prune);
	rv_p2p_gossip_input(&one, now, 2, &prune);
	assert_int_equal(sends(&one, &slot, &m, copy), 0);     /* 3 is left */
	assert_int_equal(eager_links(&one), 1);
	rv_p2p_gossip_input(&one, now, 3, &prune);
	assert_int_equal(sends(&one, &slot, &m, copy), 1);
	assert_int_equal(m.type, RV_P2P_M_IWANT);
	assert_int_equal(m.n, 0);
	assert_true(slot >= 0 && slot <= 2);
	assert_true(one.nb[slot].eager);
	assert_int_equal(eager_links(&one), 1);
	assert_int_equal(one.st.grafts, 1);
	int first = slot;
	rv_p2p_gossip_up(&one, 5);
	rv_p2p_gossip_input(&one, now, 5, &prune);
	assert_int_equal(sends(&one, &slot, &m, copy), 0);     /* FIRST is left */
	rv_p2p_gossip_down(&one, first);                         /* it goes: replaced */
	assert_int_equal(sends(&one, &slot, &m, copy), 1);
	assert_int_equal(m.type, RV_P2P_M_IWANT);
	assert_int_equal(m.n, 0);
	assert_true(slot != first && one.nb[slot].up && one.nb[slot].eager);
	assert_int_equal(one.st.grafts, 2);
	rv_p2p_gossip_free(&one);

	rv_p2p_gossip_init(&one, group, NULL);                   /* two neighbours: */
	rv_p2p_gossip_up(&one, 0);
	rv_p2p_gossip_up(&one, 1);
	rv_p2p_gossip_input(&one, now, 0, &prune);
	rv_p2p_gossip_input(&one, now, 1, &prune);               /* never back to the pruner */
	assert_int_equal(sends(&one, &slot, &m, copy), 1);
	assert_int_equal(slot, 0);
	rv_p2p_gossip_input(&one, now, 0, &prune);
	assert_int_equal(sends(&one, &slot, &m, copy), 1);
	assert_int_equal(slot, 1);
	rv_p2p_gossip_free(&one);
}

/* A duplicate from a peer's only eager neighbour does not prune it (a
 * line keeps its pushes); an IWANT of no ID makes its sender eager and
 * sends nothing back. */
static void last_eager_link_kept(void **state)
{
	(void)state;
	struct rv_p2p_gossip one;
	struct rv_p2p_msg m, prune = { .type = RV_P2P_M_PRUNE }, iwant = { .type = RV_P2P_M_IWANT };
	uint8_t copy[RV_P2P_MSG_MAX], env[512], msg[RV_P2P_MSG_MAX];
	int slot = -1;
	rv_p2p_gossip_init(&one, group, NULL);
	for (int s = 0; s < 4; s++)
		rv_p2p_gossip_up(&one, s);
	rv_p2p_gossip_input(&one, now, 1, &prune);
	rv_p2p_gossip_input(&one, now, 2, &prune);
	rv_p2p_gossip_input(&one, now, 3, &prune);
	long n = rv_p2p_env_seal(&key, group, RV_P2P_POST, now, ++nonce, "y", 1, env, sizeof env, NULL);
	long k = rv_p2p_msg_post(msg, sizeof msg, env, (size_t)n);
	struct rv_p2p_msg post_msg;
	const char *why;
	assert_int_equal(rv_p2p_msg_parse(msg, (size_t)k, &post_msg, &why), 0);
	assert_int_equal(rv_p2p_gossip_input(&one, now, 1, &post_msg), 0);   /* from lazy 1: new */
	assert_true(one.nb[1].eager);                            /* it brought something */
	(void)sends(&one, &slot, &m, copy);
	assert_int_equal(rv_p2p_gossip_input(&one, now, 0, &post_msg), 0);   /* a duplicate: 2 eager */
	assert_int_equal(one.st.prunes, 1);
	assert_false(one.nb[0].eager);
	assert_int_equal(rv_p2p_gossip_input(&one, now, 1, &post_msg), 0);   /* from the last one */
	assert_int_equal(one.st.duplicates, 2);
	assert_int_equal(one.st.prunes, 1);
	assert_true(one.nb[1].eager);
	assert_int_equal(sends(&one, &slot, &m, copy), 1);       /* only the PRUNE to 0 */
	assert_int_equal(m.type, RV_P2P_M_PRUNE);
	assert_int_equal(slot, 0);

	assert_int_equal(rv_p2p_gossip_input(&one, now, 3, &iwant), 0);
	assert_int_equal(sends(&one, &slot, &m, copy), 0);
	assert_true(one.nb[3].eager);
	n = rv_p2p_env_seal(&key, group, RV_P2P_POST, now, ++nonce, "z", 1, env, sizeof env, NULL);
	assert_int_equal(rv_p2p_gossip_post(&one, now, env, (size_t)n), 0);
	assert_int_equal(sends(&one, &slot, &m, copy), 2);       /* pushed to 1 and 3 */
	rv_p2p_gossip_free(&one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line),
		cmocka_unit_test(triangle_settles_into_a_tree),
		cmocka_unit_test(lost_push_is_mended),
		cmocka_unit_test(forged_post_goes_nowhere),
		cmocka_unit_test(large_post_asks_dontwant),
		cmocka_unit_test(announcements_are_shared),
		cmocka_unit_test(pruned_peer_grafts_at_once),
		cmocka_unit_test(last_eager_link_kept),
		cmocka_unit_test(no_ihave_to_who_has_it),
		cmocka_unit_test(members_pick_their_own_lazy),
		cmocka_unit_test(iwant_asked_again),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
