/* p2pintrod.c - the introducer's engine on the server (p2pintro.h):
 * groups by hash, their members ordered by ring address, the choice of
 * whom a newcomer meets, INTROs, the relay's token bucket, expiry.
 *
 * A group is found by the first 20 bytes of SHA-256(group hash) (a bmap
 * key: nobody picks a hash that collides with another group's), a member
 * by binary search of its ring address in the group's ordered array, or by
 * its address in the group's address map. Every member is on one list
 * ordered by expiry: the lifetime is one for all and time never goes
 * back, so a refresh moves a member to the tail and expiry eats the head.
 *
 * A JOIN is acted on only with a cookie the engine made for its source
 * (p2pintro.h); every answer to a source not proven so is capped at the
 * size of the request that caused it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "bmap.h"
#include "bytes.h"
#include "err.h"
#include "p2pintro.h"
#include "p2pkey.h"
#include "vec.h"

#define ID RV_P2P_INTRO_ID_LEN
#define ADDR_KEY 19                    /* family, port, 16 address bytes */
#define RANDOM_TRIES 64                /* draws before a linear scan finishes the choice */
#define SECRET_LEN 32                  /* the cookies' HMAC key */
#define COOKIE_MAC 16                  /* bytes of HMAC in a cookie */

struct member {
	struct rv_p2p_intro_member m;     /* id and address as received */
	uint8_t ring[ID];
	uint8_t akey[ADDR_KEY];
	uint64_t expires;
	struct group *g;
	struct member *prev, *next;       /* the expiry list */
};

struct group {
	uint8_t hash[ID];
	uint8_t key[RV_BMAP_KEY_MAX];
	struct member **v;                /* ordered by ring address */
	size_t n, alloc;
	struct rv_bmap by_addr;           /* ADDR_KEY -> member */
};

struct reply {
	struct sockaddr_storage to;
	struct rv_stun_builder b;
};

struct rv_p2p_intro {
	struct rv_p2p_intro_conf conf;
	struct rv_bmap groups;            /* key -> group */
	struct member *head, *tail;       /* expiry order */
	uint64_t tokens;                  /* the relay bucket, in byte-milliseconds */
	uint64_t refilled;                /* when (ms) */
	struct rv_p2p_intro_counters n;
	uint8_t secret[SECRET_LEN];       /* made at start: cookies die with the process */
	struct reply q[RV_P2P_INTRO_QUEUE];
	size_t nq, polled;
};

void rv_p2p_intro_defaults(struct rv_p2p_intro_conf *c)
{
	memset(c, 0, sizeof *c);
	c->max_groups = 10000;
	c->max_members = 10000;
	c->max_total = 100000;
	c->lifetime = 60;
	c->relay_budget = 1000000;
}

struct rv_p2p_intro *rv_p2p_intro_new(const struct rv_p2p_intro_conf *conf)
{
	if (!conf->random)
		return NULL;
	struct rv_p2p_intro *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->conf = *conf;
	if (RAND_bytes(e->secret, sizeof e->secret) != 1) {
		free(e);
		return NULL;
	}
	if (!e->conf.max_groups)
		e->conf.max_groups = 1;
	if (!e->conf.max_members)
		e->conf.max_members = 1;
	if (!e->conf.max_total)
		e->conf.max_total = 1;
	if (e->conf.lifetime < 1 || e->conf.lifetime > 86400)
		e->conf.lifetime = e->conf.lifetime ? 86400 : 1;
	if (e->conf.relay_budget > UINT64_MAX / 2000)
		e->conf.relay_budget = UINT64_MAX / 2000;
	e->tokens = e->conf.relay_budget * 1000;
	rv_bmap_init(&e->groups, RV_BMAP_KEY_MAX, e->conf.max_groups);
	return e;
}

/* ---- addresses ---- */

/* The address as a key, an IPv4-mapped IPv6 address as its IPv4 one. */
static int addr_key(const struct sockaddr *sa, uint8_t k[ADDR_KEY])
{
	struct sockaddr_storage ss;
	rv_p2p_intro_unmap(sa, &ss);
	memset(k, 0, ADDR_KEY);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		k[0] = 4;
		memcpy(k + 1, &s4->sin_port, 2);
		memcpy(k + 3, &s4->sin_addr, 4);
		return 0;
	}
	if (ss.ss_family != AF_INET6)
		return RV_EPROTO;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	k[0] = 6;
	memcpy(k + 1, &s6->sin6_port, 2);
	memcpy(k + 3, &s6->sin6_addr, 16);
	return 0;
}

static void addr_copy(struct sockaddr_storage *out, const struct sockaddr *sa)
{
	memset(out, 0, sizeof *out);
	memcpy(out, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
}

/* ---- groups and members ---- */

static struct group *group_find(struct rv_p2p_intro *e, const uint8_t hash[ID], uint8_t key[RV_BMAP_KEY_MAX])
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	SHA256(hash, ID, d);
	memcpy(key, d, RV_BMAP_KEY_MAX);
	return rv_bmap_get(&e->groups, key);
}

/* Where RING is in G's array, or would go: *FOUND says which. */
static size_t ring_pos(const struct group *g, const uint8_t ring[ID], int *found)
{
	size_t lo = 0, hi = g->n;
	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(g->v[mid]->ring, ring, ID);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void list_unlink(struct rv_p2p_intro *e, struct member *m)
{
	if (!m->expires)
		return;	/* not on the list yet */
	*(m->prev ? &m->prev->next : &e->head) = m->next;
	*(m->next ? &m->next->prev : &e->tail) = m->prev;
	m->prev = m->next = NULL;
}

static void list_append(struct rv_p2p_intro *e, struct member *m, uint64_t now)
{
	m->expires = now + (uint64_t)e->conf.lifetime * 1000;
	m->prev = e->tail;
	m->next = NULL;
	*(e->tail ? &e->tail->next : &e->head) = m;
	e->tail = m;
}

static void group_drop(struct rv_p2p_intro *e, struct group *g)
{
	rv_bmap_del(&e->groups, g->key);
	rv_bmap_free(&g->by_addr);
	free(g->v);
	free(g);
	e->n.groups--;
}

/* Forget M; its group goes with its last member. */
static void member_drop(struct rv_p2p_intro *e, struct member *m)
{
	struct group *g = m->g;
	int found;
	size_t i = ring_pos(g, m->ring, &found);
	if (found) {
		memmove(g->v + i, g->v + i + 1, (g->n - i - 1) * sizeof *g->v);
		g->n--;
	}
	if (rv_bmap_get(&g->by_addr, m->akey) == m)
		rv_bmap_del(&g->by_addr, m->akey);
	list_unlink(e, m);
	free(m);
	e->n.members--;
	if (!g->n)
		group_drop(e, g);
}

/* A new group for HASH (KEY its map key), or NULL: RV_ELIMIT or -ENOMEM in *RC. */
static struct group *group_new(struct rv_p2p_intro *e, const uint8_t hash[ID], const uint8_t *key, int *rc)
{
	*rc = RV_ELIMIT;
	if (e->groups.count >= e->conf.max_groups || e->n.members >= e->conf.max_total)
		return NULL;
	struct group *g = calloc(1, sizeof *g);
	*rc = -ENOMEM;
	if (!g)
		return NULL;
	memcpy(g->hash, hash, ID);
	memcpy(g->key, key, RV_BMAP_KEY_MAX);
	rv_bmap_init(&g->by_addr, ADDR_KEY, 0);
	if ((*rc = rv_bmap_put(&e->groups, key, g)) < 0) {
		free(g);
		return NULL;
	}
	e->n.groups++;
	return g;
}

/* Give M the address FROM (key AKEY), replacing whoever held it in G. */
static int member_place(struct rv_p2p_intro *e, struct group *g, struct member *m,
			const struct sockaddr *from, const uint8_t akey[ADDR_KEY])
{
	struct member *old = rv_bmap_get(&g->by_addr, akey);
	if (old && old != m)
		member_drop(e, old);
	if (rv_bmap_get(&g->by_addr, m->akey) == m)
		rv_bmap_del(&g->by_addr, m->akey);
	addr_copy(&m->m.addr, from);
	memcpy(m->akey, akey, ADDR_KEY);
	return rv_bmap_put(&g->by_addr, akey, m);
}

/* A new member of G at ring position POS, or NULL: RV_ELIMIT or -ENOMEM in *RC. */
static struct member *member_new(struct rv_p2p_intro *e, struct group *g, size_t pos, const uint8_t id[ID],
				 const uint8_t ring[ID], int *rc)
{
	struct member *m;
	*rc = RV_ELIMIT;
	if (g->n >= e->conf.max_members || e->n.members >= e->conf.max_total)
		return NULL;
	*rc = -ENOMEM;
	if (rv_grow((void **)&g->v, &g->alloc, g->n + 1, sizeof *g->v) < 0 || !(m = calloc(1, sizeof *m)))
		return NULL;
	memcpy(m->m.id, id, ID);
	memcpy(m->ring, ring, ID);
	m->g = g;
	memmove(g->v + pos + 1, g->v + pos, (g->n - pos) * sizeof *g->v);
	g->v[pos] = m;
	g->n++;
	e->n.members++;
	return m;
}

/* ---- replies ---- */

static void random_tid(struct rv_p2p_intro *e, uint8_t tid[12])
{
	for (int i = 0; i < 12; i += 4) {
		uint32_t r = e->conf.random(e->conf.random_ud);
		memcpy(tid + i, &r, 4);
	}
}

/* The next reply's builder, to TO; NULL when the queue is full. */
static struct rv_stun_builder *reply(struct rv_p2p_intro *e, const struct sockaddr *to)
{
	if (e->nq == RV_P2P_INTRO_QUEUE)
		return NULL;
	addr_copy(&e->q[e->nq].to, to);
	return &e->q[e->nq++].b;
}

static void drop_unfinished(struct rv_p2p_intro *e, struct rv_stun_builder *b)
{
	if (b->err)
		e->nq--;
}

/* ---- cookies ---- */

/* The cookie for a JOIN of Q from the address AKEY, made at T (seconds). */
static void cookie_make(const struct rv_p2p_intro *e, uint32_t t, const uint8_t akey[ADDR_KEY],
			const struct rv_p2p_intro_msg *q, uint8_t out[RV_P2P_INTRO_COOKIE_LEN])
{
	uint8_t in[4 + ADDR_KEY + 2 * ID], mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	rv_wr32(in, t);
	memcpy(in + 4, akey, ADDR_KEY);
	memcpy(in + 4 + ADDR_KEY, q->group, ID);
	memcpy(in + 4 + ADDR_KEY + ID, q->id, ID);
	if (!HMAC(EVP_sha256(), e->secret, sizeof e->secret, in, sizeof in, mac, &len) || len < COOKIE_MAC)
		memset(mac, 0, COOKIE_MAC);	/* cannot happen; a cookie of zeros never checks */
	rv_wr32(out, t);
	memcpy(out + 4, mac, COOKIE_MAC);
}

/* Does Q carry a cookie of ours for AKEY, made at most RV_P2P_INTRO_COOKIE_S ago? */
static int cookie_ok(const struct rv_p2p_intro *e, uint64_t now, const uint8_t akey[ADDR_KEY],
		     const struct rv_p2p_intro_msg *q)
{
	uint8_t want[RV_P2P_INTRO_COOKIE_LEN];
	uint32_t t = rv_rd32(q->cookie), s = (uint32_t)(now / 1000);
	if (!q->has_cookie || t > s || s - t > RV_P2P_INTRO_COOKIE_S)
		return 0;
	cookie_make(e, t, akey, q, want);
	return CRYPTO_memcmp(want, q->cookie, sizeof want) == 0;
}

/* A reply of B to a source not proven: dropped when larger than the
 * REQUEST that caused it (no amplifier). */
static void cap_to(struct rv_p2p_intro *e, struct rv_stun_builder *b, size_t request)
{
	if (!b->err && b->len > request)
		e->nq--;
}

/* An error response CODE to the JOIN (TID) from FROM: at most CAP bytes
 * (its request's size when FROM is not proven, else SIZE_MAX); 401 carries
 * COOKIE. */
static void refuse(struct rv_p2p_intro *e, const struct sockaddr *from, const uint8_t tid[12], int code,
		   const uint8_t *cookie, size_t cap)
{
	static const char *why[] = { [0] = "Bad Request", [1] = "Cookie Required", [3] = "Forbidden",
				     [8] = "Insufficient Capacity" };
	struct rv_stun_builder *b = reply(e, from);
	if (!b)
		return;
	const char *r = why[code % 100];
	uint8_t v[4 + 32] = { 0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100) };
	size_t len = strlen(r);
	memcpy(v + 4, r, len);
	rv_stun_begin(b, RV_P2P_INTRO_M_JOIN, RV_STUN_ERROR, tid);
	rv_stun_add(b, RV_STUN_A_ERROR_CODE, v, 4 + len);
	if (cookie)
		rv_stun_add(b, RV_P2P_INTRO_A_COOKIE, cookie, RV_P2P_INTRO_COOKIE_LEN);
	rv_stun_add_fingerprint(b);
	drop_unfinished(e, b);
	cap_to(e, b, cap);
}

/* The JOIN Q (N bytes) from FROM (AKEY) came with no good cookie: a 401
 * with one, no larger than Q. */
static int challenge(struct rv_p2p_intro *e, uint64_t now, const struct sockaddr *from,
		     const uint8_t akey[ADDR_KEY], const struct rv_p2p_intro_msg *q, size_t n)
{
	uint8_t c[RV_P2P_INTRO_COOKIE_LEN];
	cookie_make(e, (uint32_t)(now / 1000), akey, q, c);
	e->n.challenges++;
	refuse(e, from, q->tid, 401, c, n);
	return RV_EDENIED;
}

/* ---- who a newcomer meets ---- */

static int chosen(struct member *const *out, size_t k, const struct member *m)
{
	for (size_t i = 0; i < k; i++)
		if (out[i] == m)
			return 1;
	return 0;
}

/* Up to RV_P2P_INTRO_GIVEN members of G for the one at SELF: the two
 * before and after it on the ring, then random ones. How many, in OUT. */
static size_t choose(struct rv_p2p_intro *e, const struct group *g, size_t self, struct member **out)
{
	size_t n = g->n, k = 0;
	if (n - 1 <= RV_P2P_INTRO_GIVEN) {
		for (size_t i = 1; i < n; i++)
			out[k++] = g->v[(self + i) % n];
		return k;
	}
	out[k++] = g->v[(self + n - 1) % n];
	out[k++] = g->v[(self + n - 2) % n];
	out[k++] = g->v[(self + 1) % n];
	out[k++] = g->v[(self + 2) % n];
	for (int t = 0; t < RANDOM_TRIES && k < RV_P2P_INTRO_GIVEN; t++) {
		size_t i = (size_t)(((uint64_t)e->conf.random(e->conf.random_ud) * n) >> 32);
		if (i != self && !chosen(out, k, g->v[i]))
			out[k++] = g->v[i];
	}
	size_t start = k < RV_P2P_INTRO_GIVEN ? (size_t)(((uint64_t)e->conf.random(e->conf.random_ud) * n) >> 32) : 0;
	for (size_t j = 0; j < n && k < RV_P2P_INTRO_GIVEN; j++) {
		size_t i = (start + j) % n;
		if (i != self && !chosen(out, k, g->v[i]))
			out[k++] = g->v[i];
	}
	return k;
}

/* The success response to M's JOIN (TID), with COOKIE for the next one,
 * and, when NEW, an INTRO of M to each member it is given. */
static void joined(struct rv_p2p_intro *e, struct member *m, size_t self, const uint8_t tid[12], int isnew,
		   const uint8_t *cookie)
{
	struct member *given[RV_P2P_INTRO_GIVEN];
	size_t k = choose(e, m->g, self, given);
	struct rv_stun_builder *b = reply(e, (const struct sockaddr *)&m->m.addr);
	if (!b)
		return;
	struct sockaddr_storage mapped;
	rv_p2p_intro_unmap((const struct sockaddr *)&m->m.addr, &mapped);
	rv_stun_begin(b, RV_P2P_INTRO_M_JOIN, RV_STUN_SUCCESS, tid);
	rv_stun_add_xor_addr(b, RV_STUN_A_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&mapped);
	rv_stun_add_u32(b, RV_P2P_INTRO_A_LIFETIME, e->conf.lifetime);
	rv_stun_add(b, RV_P2P_INTRO_A_COOKIE, cookie, RV_P2P_INTRO_COOKIE_LEN);
	for (size_t i = 0; i < k; i++)
		rv_p2p_intro_add_member(b, &given[i]->m);
	rv_stun_add_fingerprint(b);
	drop_unfinished(e, b);
	for (size_t i = 0; isnew && i < k; i++) {
		uint8_t t[12];
		if (!(b = reply(e, (const struct sockaddr *)&given[i]->m.addr)))
			break;
		random_tid(e, t);
		rv_stun_begin(b, RV_P2P_INTRO_M_INTRO, RV_STUN_INDICATION, t);
		rv_p2p_intro_add_member(b, &m->m);
		rv_stun_add_fingerprint(b);
		drop_unfinished(e, b);
		e->n.intros += !b->err;
	}
}

/* ---- input ---- */

static int join(struct rv_p2p_intro *e, uint64_t now, const struct sockaddr *from, const struct rv_p2p_intro_msg *q,
		size_t n)
{
	uint8_t key[RV_BMAP_KEY_MAX], ring[ID], akey[ADDR_KEY], cookie[RV_P2P_INTRO_COOKIE_LEN];
	int rc = 0, found;
	addr_key(from, akey);
	if (!cookie_ok(e, now, akey, q))
		return challenge(e, now, from, akey, q, n);
	cookie_make(e, (uint32_t)(now / 1000), akey, q, cookie);
	rv_p2p_ring_addr(q->id, ring);
	struct group *g = group_find(e, q->group, key);
	if (g && memcmp(g->hash, q->group, ID) != 0)
		g = NULL, rc = RV_ELIMIT;	/* a SHA-256 collision: never seen */
	else if (!g)
		g = group_new(e, q->group, key, &rc);
	if (!g)
		goto refused;
	size_t pos = ring_pos(g, ring, &found);
	struct member *m = found ? g->v[pos] : NULL;
	if (m && memcmp(m->m.id, q->id, ID) != 0) {
		rc = RV_ELIMIT;	/* two IDs on one ring address: never seen either */
		goto refused;
	}
	int isnew = !m || memcmp(m->akey, akey, ADDR_KEY) != 0;
	struct member *old = m ? NULL : rv_bmap_get(&g->by_addr, akey);
	if (old && g->n > 1) {	/* a new peer ID at that address: the old one goes first (caps) */
		member_drop(e, old);
		pos = ring_pos(g, ring, &found);
	}
	if (!m && !(m = member_new(e, g, pos, q->id, ring, &rc)))
		goto refused;
	if (isnew && (rc = member_place(e, g, m, from, akey)) < 0) {
		member_drop(e, m);	/* its group too, when it was alone */
		g = NULL;
		goto refused;
	}
	/* placing M may have dropped another member before it */
	pos = ring_pos(g, ring, &found);
	list_unlink(e, m);
	list_append(e, m, now);
	if (isnew)
		e->n.joins++;
	else
		e->n.refreshes++;
	joined(e, m, pos, q->tid, isnew, cookie);
	return 0;
refused:
	if (g && !g->n)
		group_drop(e, g);
	e->n.refused_capacity++;
	refuse(e, from, q->tid, 508, NULL, SIZE_MAX);
	return rc;
}

/* The member of GROUP at ADDR, or NULL. */
static struct member *member_at(struct rv_p2p_intro *e, const uint8_t group[ID], const struct sockaddr *addr)
{
	uint8_t key[RV_BMAP_KEY_MAX], akey[ADDR_KEY];
	struct group *g = group_find(e, group, key);
	if (!g || memcmp(g->hash, group, ID) != 0 || addr_key(addr, akey) < 0)
		return NULL;
	return rv_bmap_get(&g->by_addr, akey);
}

/* Take N bytes from the relay's bucket at NOW: 0, or RV_ELIMIT. */
static int spend(struct rv_p2p_intro *e, uint64_t now, size_t n)
{
	uint64_t full = e->conf.relay_budget * 1000;
	uint64_t dt = now > e->refilled ? now - e->refilled : 0;
	e->refilled = now > e->refilled ? now : e->refilled;
	e->tokens = dt >= 1000 || full - e->tokens <= e->conf.relay_budget * dt ? full
										 : e->tokens + e->conf.relay_budget * dt;
	if (!full || e->tokens < (uint64_t)n * 1000)
		return RV_ELIMIT;
	e->tokens -= (uint64_t)n * 1000;
	return 0;
}

static int relay(struct rv_p2p_intro *e, uint64_t now, const struct sockaddr *from, const struct rv_p2p_intro_msg *q)
{
	struct member *src = member_at(e, q->group, from);
	struct member *dst = member_at(e, q->group, (const struct sockaddr *)&q->members[0].addr);
	if (!src || !dst) {
		e->n.refused_stranger++;
		return RV_EDENIED;
	}
	if (spend(e, now, q->len) < 0) {
		e->n.relay_drops++;
		return RV_ELIMIT;
	}
	struct rv_stun_builder *b = reply(e, (const struct sockaddr *)&dst->m.addr);
	uint8_t tid[12];
	random_tid(e, tid);
	if (!b || rv_p2p_intro_relay_build(b, q->group, &src->m, q->data, q->len, tid) < 0) {
		if (b)
			e->nq--;
		e->n.relay_drops++;
		return RV_ELIMIT;
	}
	e->n.relayed++;
	e->n.relayed_bytes += q->len;
	return 0;
}

static int leave(struct rv_p2p_intro *e, const struct sockaddr *from, const struct rv_p2p_intro_msg *q)
{
	struct member *m = member_at(e, q->group, from);
	if (!m || memcmp(m->m.id, q->id, ID) != 0) {
		e->n.refused_stranger++;
		return RV_EDENIED;
	}
	member_drop(e, m);
	e->n.leaves++;
	return 0;
}

/* A JOIN request's transaction ID, when P is one (for a 400). */
static int join_tid(const uint8_t *p, size_t n, uint8_t tid[12])
{
	struct rv_stun_msg s;
	if (rv_stun_parse(p, n, &s) < 0 || s.len != n || s.method != RV_P2P_INTRO_M_JOIN ||
	    s.cls != RV_STUN_REQUEST || rv_stun_check_fingerprint(&s) != 1)
		return 0;
	memcpy(tid, s.tid, 12);
	return 1;
}

int rv_p2p_intro_input(struct rv_p2p_intro *e, uint64_t now, const struct sockaddr *from,
		       const uint8_t *p, size_t n)
{
	struct rv_p2p_intro_msg q;
	uint8_t tid[12];
	e->nq = e->polled = 0;
	if (from->sa_family != AF_INET && from->sa_family != AF_INET6) {
		e->n.refused_malformed++;
		return RV_EPROTO;
	}
	if (rv_p2p_intro_parse(p, n, &q) < 0 ||
	    (q.kind != RV_P2P_INTRO_JOIN && q.kind != RV_P2P_INTRO_RELAY && q.kind != RV_P2P_INTRO_LEAVE)) {
		e->n.refused_malformed++;
		if (join_tid(p, n, tid))
			refuse(e, from, tid, 400, NULL, n);
		return RV_EPROTO;
	}
	if (e->conf.disabled) {
		e->n.refused_disabled++;
		if (q.kind == RV_P2P_INTRO_JOIN)
			refuse(e, from, q.tid, 403, NULL, n);
		return RV_EDENIED;
	}
	switch (q.kind) {
	case RV_P2P_INTRO_JOIN: return join(e, now, from, &q, n);
	case RV_P2P_INTRO_RELAY: return relay(e, now, from, &q);
	default: return leave(e, from, &q);
	}
}

int rv_p2p_intro_poll(struct rv_p2p_intro *e, const uint8_t **p, size_t *n, const struct sockaddr **to)
{
	if (e->polled >= e->nq)
		return 0;
	struct reply *r = &e->q[e->polled++];
	*p = r->b.buf;
	*n = r->b.len;
	*to = (const struct sockaddr *)&r->to;
	return 1;
}

size_t rv_p2p_intro_tick(struct rv_p2p_intro *e, uint64_t now)
{
	size_t k = 0;
	e->nq = e->polled = 0;
	while (e->head && e->head->expires <= now) {
		member_drop(e, e->head);
		e->n.expired++;
		k++;
	}
	return k;
}

uint64_t rv_p2p_intro_next(const struct rv_p2p_intro *e)
{
	return e->head ? e->head->expires : UINT64_MAX;
}

const struct rv_p2p_intro_counters *rv_p2p_intro_stats(const struct rv_p2p_intro *e)
{
	return &e->n;
}

void rv_p2p_intro_free(struct rv_p2p_intro *e)
{
	if (!e)
		return;
	while (e->head)
		member_drop(e, e->head);
	rv_bmap_free(&e->groups);
	free(e);
}
