/* test_p2pintro.c - the peer-group introducer (p2pintro.h): whom a
 * newcomer is given (ring neighbours and random members, never itself,
 * never twice), INTROs to those only and spread over the group, refreshes,
 * expiry, LEAVE, the relay between members of one group and its budget,
 * the caps and their error codes, and malformed input. Every reply is read
 * back with the peers' codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "err.h"
#include "p2pintro.h"
#include "p2pkey.h"
#include "p2pnode.h"

static uint64_t seed = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void *ud)
{
	(void)ud;
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed >> 16);
}

static struct rv_p2p_intro *engine(size_t groups, size_t members, size_t total, uint64_t budget)
{
	struct rv_p2p_intro_conf c;
	rv_p2p_intro_defaults(&c);
	c.random = rnd;
	if (groups)
		c.max_groups = groups;
	if (members)
		c.max_members = members;
	if (total)
		c.max_total = total;
	c.relay_budget = budget;
	struct rv_p2p_intro *e = rv_p2p_intro_new(&c);
	assert_non_null(e);
	return e;
}

/* Peer I: 10.(I>>8).(I&255).1 port 4000 + I % 1000, ID SHA-256-like bytes. */
static struct sockaddr_in addr_of(unsigned i)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(4000 + i % 1000)) };
	a.sin_addr.s_addr = htonl(0x0A000001u | (i & 0xFFFF) << 8);
	return a;
}

static void id_of(unsigned i, uint8_t id[32])
{
	uint8_t pub[32] = { 0 };
	memcpy(pub, &i, sizeof i);
	rv_p2p_peer_id(pub, id);
}

static const uint8_t group1[32] = { 1 }, group2[32] = { 2 };

/* Every reply of the last input, parsed. */
struct out {
	struct rv_p2p_intro_msg m[RV_P2P_INTRO_QUEUE];
	struct sockaddr_storage to[RV_P2P_INTRO_QUEUE];
	size_t n;
};

static void drain(struct rv_p2p_intro *e, struct out *o)
{
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	o->n = 0;
	while (rv_p2p_intro_poll(e, &p, &n, &to)) {
		assert_true(o->n < RV_P2P_INTRO_QUEUE);
		assert_int_equal(rv_p2p_intro_parse(p, n, &o->m[o->n]), 0);
		memcpy(&o->to[o->n], to, sizeof(struct sockaddr_in));
		o->n++;
	}
}

/* A JOIN of ID to GROUP from FROM at NOW with the cookie round the peers
 * do: a JOIN, answered 401 with a cookie (no larger than the JOIN), then
 * the JOIN again with it. What the engine returned for the last one; its
 * replies are left to poll. A JOIN answered otherwise (403) is not sent
 * again. */
static int join_raw(struct rv_p2p_intro *e, uint64_t now, const uint8_t *group, const uint8_t id[32],
		    const struct sockaddr *from)
{
	struct rv_stun_builder b;
	assert_int_equal(rv_p2p_intro_join_build(&b, group, id, NULL, NULL), 0);
	uint64_t challenges = rv_p2p_intro_stats(e)->challenges;
	int rc = rv_p2p_intro_input(e, now, from, b.buf, b.len);
	if (rv_p2p_intro_stats(e)->challenges == challenges)
		return rc;
	assert_int_equal(rc, RV_EDENIED);
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	struct rv_p2p_intro_msg m;
	assert_int_equal(rv_p2p_intro_poll(e, &p, &n, &to), 1);
	assert_true(n <= b.len);
	assert_int_equal(rv_p2p_intro_parse(p, n, &m), 0);
	assert_int_equal(m.kind, RV_P2P_INTRO_REFUSED);
	assert_int_equal(m.code, 401);
	assert_true(m.has_cookie);
	assert_int_equal(rv_p2p_intro_poll(e, &p, &n, &to), 0);
	assert_int_equal(rv_p2p_intro_join_build(&b, group, id, m.cookie, NULL), 0);
	return rv_p2p_intro_input(e, now, from, b.buf, b.len);
}

static int join_as(struct rv_p2p_intro *e, uint64_t now, const uint8_t *group, unsigned i,
		   const struct sockaddr_in *from, struct out *o)
{
	uint8_t id[32];
	id_of(i, id);
	int rc = join_raw(e, now, group, id, (const struct sockaddr *)from);
	drain(e, o);
	return rc;
}

static int join(struct rv_p2p_intro *e, uint64_t now, const uint8_t *group, unsigned i, struct out *o)
{
	struct sockaddr_in a = addr_of(i);
	return join_as(e, now, group, i, &a, o);
}

/* Which peer (0..N-1, N at most 1000) has ID, or -1. */
static int who(const uint8_t id[32], unsigned n)
{
	static uint8_t ids[1000][32];
	static unsigned known;
	for (; known < n; known++)
		id_of(known, ids[known]);
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(ids[i], id, 32))
			return (int)i;
	return -1;
}

static int cmp_ring(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void neighbours_and_random(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(join(e, 1000, group1, i, &o), 0);
	/* the last newcomer: 8 members, distinct, not itself, the first reply to it */
	assert_int_equal(o.n, 1 + RV_P2P_INTRO_GIVEN);
	assert_int_equal(o.m[0].kind, RV_P2P_INTRO_JOINED);
	assert_int_equal(o.m[0].nmembers, RV_P2P_INTRO_GIVEN);
	assert_int_equal(o.m[0].lifetime, 60);
	struct sockaddr_in me = addr_of(19);
	assert_memory_equal(&((struct sockaddr_in *)&o.m[0].mapped)->sin_addr, &me.sin_addr, 4);
	assert_int_equal(((struct sockaddr_in *)&o.m[0].mapped)->sin_port, me.sin_port);
	int seen[20] = { 0 };
	for (size_t k = 0; k < o.m[0].nmembers; k++) {
		int w = who(o.m[0].members[k].id, 20);
		assert_true(w >= 0 && w != 19);
		assert_int_equal(seen[w]++, 0);
		struct sockaddr_in a = addr_of((unsigned)w);
		assert_memory_equal(&((struct sockaddr_in *)&o.m[0].members[k].addr)->sin_addr, &a.sin_addr, 4);
		/* and that member is told, once */
		assert_int_equal(o.m[1 + k].kind, RV_P2P_INTRO_INTRO);
		assert_int_equal(who(o.m[1 + k].members[0].id, 20), 19);
		assert_memory_equal(&((struct sockaddr_in *)&o.to[1 + k])->sin_addr, &a.sin_addr, 4);
	}
	/* the two before and the two after its ring address are among them */
	uint8_t ring[20][64];
	for (unsigned i = 0; i < 20; i++) {
		id_of(i, ring[i] + 32);
		rv_p2p_ring_addr(ring[i] + 32, ring[i]);
	}
	uint8_t mine[32];
	memcpy(mine, ring[19], 32);
	qsort(ring, 20, sizeof ring[0], cmp_ring);
	int at = 0;
	while (memcmp(ring[at], mine, 32))
		at++;
	for (int d = -2; d <= 2; d++)
		if (d)
			assert_int_equal(seen[who(ring[(at + d + 20) % 20] + 32, 20)], 1);
	rv_p2p_intro_free(e);
}

static void small_group_gets_all(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	assert_int_equal(join(e, 1000, group1, 0, &o), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.m[0].nmembers, 0);
	join(e, 1000, group1, 1, &o);
	join(e, 1000, group2, 2, &o);	/* another group: not met */
	join(e, 1000, group1, 3, &o);
	assert_int_equal(o.m[0].nmembers, 2);
	assert_int_equal(o.n, 3);
	int w0 = who(o.m[0].members[0].id, 4), w1 = who(o.m[0].members[1].id, 4);
	assert_true((w0 == 0 && w1 == 1) || (w0 == 1 && w1 == 0));
	assert_int_equal(rv_p2p_intro_stats(e)->groups, 2);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 4);
	rv_p2p_intro_free(e);
}

#define MANY 1000
#define SETTLED 100        /* newcomers counted once the group has this many */

static void spread_over_the_group(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	static unsigned handed[MANY], handed_late[MANY];
	unsigned intros = 0, most = 0, most_late = 0;
	for (unsigned i = 0; i < MANY; i++) {
		assert_int_equal(join(e, 1000 + i, group1, i, &o), 0);
		assert_true(o.m[0].nmembers <= RV_P2P_INTRO_GIVEN);
		assert_int_equal(o.n, 1 + o.m[0].nmembers);	/* O(1) per join */
		assert_int_equal(o.m[0].nmembers, i < RV_P2P_INTRO_GIVEN ? i : RV_P2P_INTRO_GIVEN);
		for (size_t k = 0; k < o.m[0].nmembers; k++) {
			int w = who(o.m[0].members[k].id, i);
			assert_true(w >= 0);
			handed[w]++;
			if (i >= SETTLED)
				handed_late[w]++;
		}
		intros += (unsigned)(o.n - 1);
	}
	for (unsigned i = 0; i < MANY; i++) {
		most = handed[i] > most ? handed[i] : most;
		most_late = handed_late[i] > most_late ? handed_late[i] : most_late;
	}
	print_message("most INTROs to one member: %u of %u joins; after %u: %u of %u\n", most, MANY,
		      SETTLED, most_late, MANY - SETTLED);
	assert_int_equal(rv_p2p_intro_stats(e)->intros, intros);
	/* no hot spot: nobody is handed to more than 5% of the newcomers that
	 * find a settled group (the oldest are in every draw of the first
	 * ones, so over all joins the bound is 10%) */
	assert_true(most_late * 20 <= MANY - SETTLED);
	assert_true(most * 10 <= MANY);
	rv_p2p_intro_free(e);
}

static void refresh_and_moves(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	for (unsigned i = 0; i < 5; i++)
		join(e, 1000, group1, i, &o);
	assert_int_equal(o.n, 5);
	/* the same peer from the same address: members, no INTRO */
	assert_int_equal(join(e, 2000, group1, 4, &o), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.m[0].nmembers, 4);
	assert_int_equal(rv_p2p_intro_stats(e)->refreshes, 1);
	/* from another address: a new join, the others are told */
	struct sockaddr_in moved = addr_of(77);
	assert_int_equal(join_as(e, 3000, group1, 4, &moved, &o), 0);
	assert_int_equal(o.n, 5);
	assert_int_equal(rv_p2p_intro_stats(e)->joins, 6);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 5);
	/* another peer from that address replaces it */
	assert_int_equal(join_as(e, 3000, group1, 9, &moved, &o), 0);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 5);
	assert_int_equal(o.m[0].nmembers, 4);
	for (size_t k = 0; k < 4; k++)
		assert_int_not_equal(who(o.m[0].members[k].id, 10), 4);
	rv_p2p_intro_free(e);
}

static void expiry(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	assert_int_equal(rv_p2p_intro_next(e), UINT64_MAX);
	join(e, 1000, group1, 0, &o);
	join(e, 2000, group1, 1, &o);
	assert_int_equal(rv_p2p_intro_next(e), 61000);
	join(e, 30000, group1, 0, &o);	/* refreshed: 1 goes first */
	assert_int_equal(rv_p2p_intro_next(e), 62000);
	assert_int_equal(rv_p2p_intro_tick(e, 61999), 0);
	assert_int_equal(rv_p2p_intro_tick(e, 62000), 1);
	assert_int_equal(rv_p2p_intro_next(e), 90000);
	assert_int_equal(rv_p2p_intro_tick(e, 90000), 1);
	const struct rv_p2p_intro_counters *n = rv_p2p_intro_stats(e);
	assert_int_equal(n->expired, 2);
	assert_int_equal(n->members, 0);
	assert_int_equal(n->groups, 0);
	assert_int_equal(rv_p2p_intro_next(e), UINT64_MAX);
	rv_p2p_intro_free(e);
}

static int send_msg(struct rv_p2p_intro *e, uint64_t now, unsigned from, struct rv_stun_builder *b,
		    struct out *o)
{
	struct sockaddr_in a = addr_of(from);
	int rc = rv_p2p_intro_input(e, now, (const struct sockaddr *)&a, b->buf, b->len);
	drain(e, o);
	return rc;
}

static void leave(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	struct rv_stun_builder b;
	uint8_t id[32];
	join(e, 1000, group1, 0, &o);
	join(e, 1000, group1, 1, &o);
	id_of(0, id);
	assert_int_equal(rv_p2p_intro_leave_build(&b, group1, id), 0);
	assert_int_equal(send_msg(e, 1000, 1, &b, &o), RV_EDENIED);	/* not 0's address */
	assert_int_equal(o.n, 0);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 2);
	assert_int_equal(rv_p2p_intro_stats(e)->refused_stranger, 1);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), 0);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 1);
	assert_int_equal(rv_p2p_intro_stats(e)->leaves, 1);
	rv_p2p_intro_free(e);
}

static int relay_to(struct rv_p2p_intro *e, uint64_t now, unsigned from, const uint8_t *group, unsigned to,
		    size_t len, struct out *o)
{
	static uint8_t data[RV_P2P_INTRO_DATA_MAX];
	struct rv_p2p_intro_member t = { { 0 } };
	struct sockaddr_in a = addr_of(to);
	memset(data, 'x', sizeof data);
	memcpy(&t.addr, &a, sizeof a);
	struct rv_stun_builder b;
	assert_int_equal(rv_p2p_intro_relay_build(&b, group, &t, data, len, NULL), 0);
	return send_msg(e, now, from, &b, o);
}

static void relay(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 1000000);
	struct out o;
	join(e, 1000, group1, 0, &o);
	join(e, 1000, group1, 1, &o);
	join(e, 1000, group2, 2, &o);
	assert_int_equal(relay_to(e, 1000, 0, group1, 1, 5, &o), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.m[0].kind, RV_P2P_INTRO_RELAY);
	assert_int_equal(who(o.m[0].members[0].id, 3), 0);	/* from 0, with its address */
	struct sockaddr_in a0 = addr_of(0), a1 = addr_of(1);
	assert_int_equal(((struct sockaddr_in *)&o.m[0].members[0].addr)->sin_port, a0.sin_port);
	assert_int_equal(((struct sockaddr_in *)&o.to[0])->sin_port, a1.sin_port);
	assert_memory_equal(o.m[0].group, group1, 32);
	assert_int_equal(o.m[0].len, 5);
	assert_memory_equal(o.m[0].data, "xxxxx", 5);
	/* to a member of another group, from one, from a stranger, to nobody */
	assert_int_equal(relay_to(e, 1000, 0, group1, 2, 5, &o), RV_EDENIED);
	assert_int_equal(relay_to(e, 1000, 2, group1, 1, 5, &o), RV_EDENIED);
	assert_int_equal(relay_to(e, 1000, 2, group2, 0, 5, &o), RV_EDENIED);
	assert_int_equal(relay_to(e, 1000, 5, group1, 1, 5, &o), RV_EDENIED);
	assert_int_equal(o.n, 0);
	const struct rv_p2p_intro_counters *n = rv_p2p_intro_stats(e);
	assert_int_equal(n->relayed, 1);
	assert_int_equal(n->relayed_bytes, 5);
	assert_int_equal(n->refused_stranger, 4);
	rv_p2p_intro_free(e);
}

static void relay_budget(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 2000);	/* 2,000 bytes a second */
	struct out o;
	join(e, 1000, group1, 0, &o);
	join(e, 1000, group1, 1, &o);
	assert_int_equal(relay_to(e, 1000, 0, group1, 1, 1400, &o), 0);
	assert_int_equal(relay_to(e, 1000, 0, group1, 1, 1400, &o), RV_ELIMIT);
	assert_int_equal(o.n, 0);
	assert_int_equal(relay_to(e, 1000, 0, group1, 1, 600, &o), 0);
	assert_int_equal(relay_to(e, 1100, 0, group1, 1, 300, &o), RV_ELIMIT);	/* 200 back */
	assert_int_equal(relay_to(e, 1100, 0, group1, 1, 200, &o), 0);
	assert_int_equal(relay_to(e, 5000, 0, group1, 1, 1400, &o), 0);	/* full again, no more */
	assert_int_equal(relay_to(e, 5000, 0, group1, 1, 1400, &o), RV_ELIMIT);
	const struct rv_p2p_intro_counters *n = rv_p2p_intro_stats(e);
	assert_int_equal(n->relayed, 4);
	assert_int_equal(n->relayed_bytes, 1400 + 600 + 200 + 1400);
	assert_int_equal(n->relay_drops, 3);
	rv_p2p_intro_free(e);
	/* budget 0: no relaying */
	e = engine(0, 0, 0, 0);
	join(e, 1000, group1, 0, &o);
	join(e, 1000, group1, 1, &o);
	assert_int_equal(relay_to(e, 1000, 0, group1, 1, 1, &o), RV_ELIMIT);
	assert_int_equal(rv_p2p_intro_stats(e)->relay_drops, 1);
	rv_p2p_intro_free(e);
}

static void refused_code(struct out *o, int code)
{
	assert_int_equal(o->n, 1);
	assert_int_equal(o->m[0].kind, RV_P2P_INTRO_REFUSED);
	assert_int_equal(o->m[0].code, code);
}

static void caps(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(1, 2, 0, 0);
	struct out o;
	uint8_t group3[32] = { 3 };
	assert_int_equal(join(e, 1000, group1, 0, &o), 0);
	assert_int_equal(join(e, 1000, group2, 1, &o), RV_ELIMIT);	/* one group at most */
	refused_code(&o, 508);
	assert_string_equal(o.m[0].reason, "Insufficient Capacity");
	assert_int_equal(join(e, 1000, group1, 1, &o), 0);
	assert_int_equal(join(e, 1000, group1, 2, &o), RV_ELIMIT);	/* two members at most */
	refused_code(&o, 508);
	assert_int_equal(join(e, 1000, group1, 1, &o), 0);	/* a refresh still is */
	/* and a new peer ID from a member's address replaces it, full or not */
	struct sockaddr_in a1 = addr_of(1);
	assert_int_equal(join_as(e, 1000, group1, 5, &a1, &o), 0);
	assert_int_equal(o.m[0].nmembers, 1);
	assert_int_equal(who(o.m[0].members[0].id, 6), 0);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 2);
	assert_int_equal(rv_p2p_intro_stats(e)->refused_capacity, 2);
	assert_int_equal(rv_p2p_intro_stats(e)->groups, 1);
	rv_p2p_intro_free(e);
	/* members in all */
	e = engine(0, 0, 2, 0);
	join(e, 1000, group1, 0, &o);
	join(e, 1000, group2, 1, &o);
	assert_int_equal(join(e, 1000, group3, 2, &o), RV_ELIMIT);
	refused_code(&o, 508);
	assert_int_equal(join(e, 1000, group1, 3, &o), RV_ELIMIT);
	assert_int_equal(rv_p2p_intro_stats(e)->groups, 2);
	rv_p2p_intro_free(e);
	/* disabled */
	struct rv_p2p_intro_conf c;
	rv_p2p_intro_defaults(&c);
	c.random = rnd;
	c.disabled = 1;
	assert_non_null(e = rv_p2p_intro_new(&c));
	assert_int_equal(join(e, 1000, group1, 0, &o), RV_EDENIED);
	refused_code(&o, 403);
	assert_int_equal(rv_p2p_intro_stats(e)->refused_disabled, 1);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 0);
	rv_p2p_intro_free(e);
	c.random = NULL;
	c.disabled = 0;
	assert_null(rv_p2p_intro_new(&c));
}

static void malformed(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	struct rv_stun_builder b;
	uint8_t id[32] = { 7 };
	/* a JOIN without PEER-ID, or with a short GROUP: 400 */
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, group1, 32);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	refused_code(&o, 400);
	assert_memory_equal(o.m[0].tid, b.buf + 8, 12);
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, group1, 31);
	rv_stun_add(&b, RV_P2P_INTRO_A_PEER_ID, id, 32);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	refused_code(&o, 400);
	/* without FINGERPRINT, truncated, a bit flipped: no answer */
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, group1, 32);
	rv_stun_add(&b, RV_P2P_INTRO_A_PEER_ID, id, 32);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	assert_int_equal(o.n, 0);
	assert_int_equal(rv_p2p_intro_join_build(&b, group1, id, NULL, NULL), 0);
	struct sockaddr_in a = addr_of(0);
	for (size_t cut = 0; cut < b.len; cut += 7) {
		assert_int_equal(rv_p2p_intro_input(e, 1000, (struct sockaddr *)&a, b.buf, cut), RV_EPROTO);
		drain(e, &o);
		assert_int_equal(o.n, 0);
	}
	b.buf[30] ^= 1;
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	assert_int_equal(o.n, 0);
	/* what only the server sends, from a peer: dropped */
	struct rv_p2p_intro_member m = { { 0 } };
	memcpy(&m.addr, &a, sizeof a);
	rv_stun_begin(&b, RV_P2P_INTRO_M_INTRO, RV_STUN_INDICATION, NULL);
	rv_p2p_intro_add_member(&b, &m);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	assert_int_equal(o.n, 0);
	/* DATA over the cap, in the builder and on the wire */
	static uint8_t big[RV_P2P_INTRO_DATA_MAX + 1];
	assert_int_equal(rv_p2p_intro_relay_build(&b, group1, &m, big, sizeof big, NULL), RV_ETOOBIG);
	rv_stun_begin(&b, RV_P2P_INTRO_M_RELAY, RV_STUN_INDICATION, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, group1, 32);
	rv_p2p_intro_add_member(&b, &m);
	rv_stun_add(&b, RV_P2P_INTRO_A_DATA, big, sizeof big);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(send_msg(e, 1000, 0, &b, &o), RV_EPROTO);
	/* 2 answered, 1 without FINGERPRINT, 15 cuts of 100 bytes, flipped, INTRO, DATA */
	assert_int_equal(rv_p2p_intro_stats(e)->refused_malformed, 2 + 1 + 15 + 3);
	rv_p2p_intro_free(e);
}

static void codec(void **state)
{
	(void)state;
	/* an IPv4-mapped address goes out as IPv4; IPv6 as it is */
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
	struct rv_p2p_intro_member m = { { 5 } };
	memcpy(&m.addr, &s6, sizeof s6);
	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_P2P_INTRO_M_INTRO, RV_STUN_INDICATION, NULL);
	assert_int_equal(rv_p2p_intro_add_member(&b, &m), 0);
	rv_stun_add_fingerprint(&b);
	struct rv_p2p_intro_msg q;
	assert_int_equal(rv_p2p_intro_parse(b.buf, b.len, &q), 0);
	assert_int_equal(q.members[0].addr.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&q.members[0].addr)->sin_port, htons(9));
	assert_int_equal(((struct sockaddr_in *)&q.members[0].addr)->sin_addr.s_addr, inet_addr("192.0.2.7"));
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	memcpy(&m.addr, &s6, sizeof s6);
	rv_stun_begin(&b, RV_P2P_INTRO_M_INTRO, RV_STUN_INDICATION, NULL);
	rv_p2p_intro_add_member(&b, &m);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(rv_p2p_intro_parse(b.buf, b.len, &q), 0);
	assert_int_equal(q.members[0].addr.ss_family, AF_INET6);
	assert_memory_equal(&((struct sockaddr_in6 *)&q.members[0].addr)->sin6_addr, &s6.sin6_addr, 16);
	assert_int_equal(q.members[0].id[0], 5);
	assert_int_equal(rv_p2p_intro_is(b.buf, b.len), 1);
	/* a Binding is not ours */
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, NULL);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(rv_p2p_intro_is(b.buf, b.len), 0);
	assert_int_equal(rv_p2p_intro_parse(b.buf, b.len, &q), RV_EPROTO);
	/* a dual-stack server's peers: IPv4-mapped in, IPv4 in MEMBER and the mapped address */
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	uint8_t id[32];
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	for (unsigned i = 0; i < 2; i++) {
		id_of(i, id);
		s6.sin6_port = htons((uint16_t)(100 + i));
		inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
		assert_int_equal(join_raw(e, 1, group1, id, (struct sockaddr *)&s6), 0);
	}
	assert_int_equal(rv_p2p_intro_poll(e, &p, &n, &to), 1);
	assert_int_equal(to->sa_family, AF_INET6);	/* sent back as it came */
	assert_int_equal(rv_p2p_intro_parse(p, n, &q), 0);
	assert_int_equal(q.mapped.ss_family, AF_INET);
	assert_int_equal(q.members[0].addr.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&q.members[0].addr)->sin_port, htons(100));
	rv_p2p_intro_free(e);
}

/* A JOIN (ID, GROUP, COOKIE or none) from FROM at NOW: its return, its
 * replies in O, and none larger than the JOIN when SMALL. */
static int join_cookie(struct rv_p2p_intro *e, uint64_t now, const uint8_t *group, unsigned i,
		       const struct sockaddr_in *from, const uint8_t *cookie, struct out *o, int small)
{
	struct rv_stun_builder b;
	uint8_t id[32];
	id_of(i, id);
	assert_int_equal(rv_p2p_intro_join_build(&b, group, id, cookie, NULL), 0);
	int rc = rv_p2p_intro_input(e, now, (const struct sockaddr *)from, b.buf, b.len);
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	o->n = 0;
	while (rv_p2p_intro_poll(e, &p, &n, &to)) {
		assert_true(!small || n <= b.len);
		assert_int_equal(rv_p2p_intro_parse(p, n, &o->m[o->n]), 0);
		memcpy(&o->to[o->n++], to, sizeof(struct sockaddr_in));
	}
	return rc;
}

/* The 401 with a cookie in O, to A: the cookie. */
static const uint8_t *challenged(const struct out *o, const struct sockaddr_in *a)
{
	assert_int_equal(o->n, 1);
	assert_int_equal(o->m[0].kind, RV_P2P_INTRO_REFUSED);
	assert_int_equal(o->m[0].code, 401);
	assert_string_equal(o->m[0].reason, "Cookie Required");
	assert_true(o->m[0].has_cookie);
	assert_memory_equal(&((const struct sockaddr_in *)&o->to[0])->sin_addr, &a->sin_addr, 4);
	return o->m[0].cookie;
}

/* Return routability: a JOIN from a forged address (no cookie, another
 * address's, another peer's or group's, a stale one, another server's)
 * registers nothing, sends no INTRO, and its one answer is no larger than
 * the JOIN; the cookie the answer carries, sent back from that address,
 * registers it; each success carries a fresh cookie for the refreshes. */
static void cookies(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct out o;
	assert_int_equal(join(e, 1000, group1, 0, &o), 0);	/* a member, to be INTROduced to */
	uint8_t c1[RV_P2P_INTRO_COOKIE_LEN], c2[RV_P2P_INTRO_COOKIE_LEN];
	struct sockaddr_in victim = addr_of(1), attacker = addr_of(2);
	/* spoofed from the victim's address: a small 401 to it, nothing else */
	assert_int_equal(join_cookie(e, 2000, group1, 1, &victim, NULL, &o, 1), RV_EDENIED);
	memcpy(c1, challenged(&o, &victim), sizeof c1);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 1);
	assert_int_equal(rv_p2p_intro_stats(e)->intros, 0);
	/* the attacker's own cookie does not pass for the victim's address */
	assert_int_equal(join_cookie(e, 2000, group1, 1, &attacker, NULL, &o, 1), RV_EDENIED);
	memcpy(c2, challenged(&o, &attacker), sizeof c2);
	assert_int_equal(join_cookie(e, 2000, group1, 1, &victim, c2, &o, 1), RV_EDENIED);
	challenged(&o, &victim);
	/* nor for another peer ID or group at its own address */
	assert_int_equal(join_cookie(e, 2000, group1, 3, &attacker, c2, &o, 1), RV_EDENIED);
	challenged(&o, &attacker);
	assert_int_equal(join_cookie(e, 2000, group2, 1, &attacker, c2, &o, 1), RV_EDENIED);
	challenged(&o, &attacker);
	/* bytes changed: refused */
	uint8_t bad[RV_P2P_INTRO_COOKIE_LEN];
	memcpy(bad, c1, sizeof bad);
	bad[10] ^= 1;
	assert_int_equal(join_cookie(e, 2000, group1, 1, &victim, bad, &o, 1), RV_EDENIED);
	challenged(&o, &victim);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 1);
	assert_int_equal(rv_p2p_intro_stats(e)->intros, 0);
	assert_int_equal(rv_p2p_intro_stats(e)->challenges, 1 + 6);
	/* the victim's own answer: registered, and the member told */
	assert_int_equal(join_cookie(e, 3000, group1, 1, &victim, c1, &o, 0), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.m[0].kind, RV_P2P_INTRO_JOINED);
	assert_true(o.m[0].has_cookie);
	assert_int_equal(o.m[1].kind, RV_P2P_INTRO_INTRO);
	assert_int_equal(rv_p2p_intro_stats(e)->members, 2);
	/* refreshes with the cookie of the last success, 20 s apart */
	uint64_t t = 3000;
	for (int k = 0; k < 10; k++) {
		memcpy(c1, o.m[0].cookie, sizeof c1);
		t += 20000;
		assert_int_equal(join_cookie(e, t, group1, 1, &victim, c1, &o, 0), 0);
		assert_int_equal(o.m[0].kind, RV_P2P_INTRO_JOINED);
		join(e, t, group1, 0, &o);	/* (member 0 stays too) */
		assert_int_equal(join_cookie(e, t, group1, 1, &victim, c1, &o, 0), 0);	/* used again */
	}
	assert_int_equal(rv_p2p_intro_stats(e)->refreshes, 3 * 10);
	/* a cookie older than RV_P2P_INTRO_COOKIE_S: another round */
	t += (RV_P2P_INTRO_COOKIE_S + 1) * 1000;
	assert_int_equal(join_cookie(e, t, group1, 1, &victim, o.m[0].cookie, &o, 1), RV_EDENIED);
	memcpy(c1, challenged(&o, &victim), sizeof c1);
	/* another server (a restart: a new secret): another round */
	struct rv_p2p_intro *e2 = engine(0, 0, 0, 0);
	assert_int_equal(join_cookie(e2, t, group1, 1, &victim, c1, &o, 1), RV_EDENIED);
	challenged(&o, &victim);
	assert_int_equal(join_cookie(e, t, group1, 1, &victim, c1, &o, 0), 0);
	assert_int_equal(o.m[0].kind, RV_P2P_INTRO_JOINED);
	rv_p2p_intro_free(e2);
	/* a cookie of the wrong size is malformed: 400, small too */
	struct rv_stun_builder b;
	uint8_t id[32];
	id_of(1, id);
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, group1, 32);
	rv_stun_add(&b, RV_P2P_INTRO_A_PEER_ID, id, 32);
	rv_stun_add(&b, RV_P2P_INTRO_A_COOKIE, c1, 8);
	rv_stun_add_fingerprint(&b);
	assert_int_equal(rv_p2p_intro_input(e, t, (struct sockaddr *)&victim, b.buf, b.len), RV_EPROTO);
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	assert_int_equal(rv_p2p_intro_poll(e, &p, &n, &to), 1);
	assert_true(n <= b.len);
	rv_p2p_intro_free(e);
}

/* No answer to an address not proven is larger than the request, even to
 * the smallest JOIN that still parses as one (a 400 would be: not sent). */
static void no_amplifier(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct rv_stun_builder b;
	struct sockaddr_in a = addr_of(0);
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, NULL);
	rv_stun_add_fingerprint(&b);	/* 28 bytes: a 400 would be 48 */
	assert_int_equal(rv_p2p_intro_input(e, 1000, (struct sockaddr *)&a, b.buf, b.len), RV_EPROTO);
	assert_int_equal(rv_p2p_intro_poll(e, &p, &n, &to), 0);
	rv_p2p_intro_free(e);
}

/* Every datagram node N has for the server goes to engine E (from A) at
 * NOW, and every reply back to N: how many JOINs went. */
static int node_rounds(struct rv_p2p_node *nd, struct rv_p2p_intro *e, const struct sockaddr_in *a,
		       const struct sockaddr_in *srv, uint64_t now)
{
	uint8_t buf[RV_P2P_NODE_DGRAM_MAX];
	struct sockaddr_storage to;
	socklen_t tolen;
	ssize_t len;
	int joins = 0;
	for (int round = 0; round < 8; round++) {
		if (rv_p2p_node_next(nd) <= now)
			rv_p2p_node_tick(nd, now);
		int sent = 0;
		while ((len = rv_p2p_node_take(nd, buf, sizeof buf, &to, &tolen)) > 0) {
			struct rv_p2p_intro_msg m;
			if (rv_p2p_intro_parse(buf, (size_t)len, &m) == 0 && m.kind == RV_P2P_INTRO_JOIN)
				joins++;
			rv_p2p_intro_input(e, now, (const struct sockaddr *)a, buf, (size_t)len);
			const uint8_t *p;
			size_t n;
			const struct sockaddr *rto;
			while (rv_p2p_intro_poll(e, &p, &n, &rto))
				rv_p2p_node_input(nd, now, p, n, (const struct sockaddr *)srv, sizeof *srv);
			sent = 1;
		}
		if (!sent && rv_p2p_node_next(nd) > now)
			break;
	}
	return joins;
}

/* A node (p2pnode.h) and the engine: its first JOIN is answered 401, it
 * sends it again at once with the cookie and is introduced, with no time
 * passing; its refreshes carry the cookie of the last success and are
 * never challenged again. */
static void node_answers_the_cookie(void **state)
{
	(void)state;
	struct rv_p2p_intro *e = engine(0, 0, 0, 0);
	struct rv_p2p_key key;
	uint8_t sd[32] = { 9 };
	assert_int_equal(rv_p2p_key_from_seed(&key, sd), 0);
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(7350) }, a = addr_of(3);
	srv.sin_addr.s_addr = htonl(0x7f000001);
	struct rv_p2p_node_conf c = { .key = &key, .rnd = NULL };
	memcpy(c.group, group1, 32);
	memcpy(&c.server, &srv, sizeof srv);
	c.server_len = sizeof srv;
	struct rv_p2p_node *nd;
	const char *why;
	assert_int_equal(rv_p2p_node_new(&nd, &c, 1000, &why), 0);
	assert_int_equal(node_rounds(nd, e, &a, &srv, 1000), 2);
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(nd, &st);
	assert_true(st.introduced);
	assert_int_equal(rv_p2p_intro_stats(e)->joins, 1);
	assert_int_equal(rv_p2p_intro_stats(e)->challenges, 1);
	struct rv_p2p_node_ev ev;
	int refused = 0, introduced = 0;
	while (rv_p2p_node_poll(nd, &ev)) {
		refused += ev.type == RV_P2P_NODE_REFUSED;
		introduced += ev.type == RV_P2P_NODE_INTRODUCED;
	}
	assert_int_equal(refused, 0);	/* a 401 is no refusal */
	assert_int_equal(introduced, 1);
	for (uint64_t t = 1000 + RV_P2P_INTRO_REFRESH_S * 1000; t < 400000; t += RV_P2P_INTRO_REFRESH_S * 1000)
		assert_int_equal(node_rounds(nd, e, &a, &srv, t), 1);
	assert_int_equal(rv_p2p_intro_stats(e)->refreshes, 19);
	assert_int_equal(rv_p2p_intro_stats(e)->challenges, 1);
	rv_p2p_node_free(nd);
	rv_p2p_key_free(&key);
	rv_p2p_intro_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(neighbours_and_random),
		cmocka_unit_test(small_group_gets_all),
		cmocka_unit_test(spread_over_the_group),
		cmocka_unit_test(refresh_and_moves),
		cmocka_unit_test(expiry),
		cmocka_unit_test(leave),
		cmocka_unit_test(relay),
		cmocka_unit_test(relay_budget),
		cmocka_unit_test(caps),
		cmocka_unit_test(malformed),
		cmocka_unit_test(codec),
		cmocka_unit_test(cookies),
		cmocka_unit_test(no_amplifier),
		cmocka_unit_test(node_answers_the_cookie),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
