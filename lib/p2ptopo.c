/* p2ptopo.c - a node's known peers, the choice of its neighbours and the
 * reports it sends and reads (p2pnode.h). Directed routing: p2proute.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "p2pnode_int.h"

#define RETRY_MS 5000               /* a failed peer waits this, doubled per failure */
#define RETRY_MAX_MS 120000
#define CLOSED_WAIT_MS 30000        /* a peer that asked us to close is left alone */
#define CHOOSE_SOON_MS 20           /* news gathered this long before choosing again */

/* ---- known peers ---- */

static struct known *known_get(struct rv_p2p_node *n, const uint8_t id[RV_P2P_HASH_LEN])
{
	struct known *k = rv_bmap_get(&n->known, id);
	return k && !memcmp(k->id, id, RV_P2P_HASH_LEN) ? k : NULL;
}

static void choose_soon(struct rv_p2p_node *n)
{
	if (n->choose_at > n->now + CHOOSE_SOON_MS)
		n->choose_at = n->now + CHOOSE_SOON_MS;
}

/* Peer ID at ADDR, heard of at HEARD: remembered or refreshed. */
struct known *p2p_learn(struct rv_p2p_node *n, const uint8_t id[RV_P2P_HASH_LEN], const struct sockaddr *addr,
			   socklen_t alen, uint64_t heard)
{
	if (!memcmp(id, n->conf.key->id, RV_P2P_HASH_LEN) || alen > sizeof(struct sockaddr_storage))
		return NULL;
	struct known *k = known_get(n, id);
	if (k) {
		if (heard > k->heard)
			k->heard = heard;
		if (k->slot < 0 && !p2p_addr_eq(&k->addr, addr)) {	/* news of where it is */
			memset(&k->addr, 0, sizeof k->addr);
			memcpy(&k->addr, addr, alen);
			k->alen = alen;
		}
		return k;
	}
	if (rv_bmap_get(&n->known, id) || !(k = calloc(1, sizeof *k)))
		return NULL;	/* an ID prefix taken by another: not worth a second key */
	memcpy(k->id, id, RV_P2P_HASH_LEN);
	rv_p2p_ring_addr(id, k->ring);
	memcpy(&k->addr, addr, alen);
	k->alen = alen;
	k->heard = heard;
	k->slot = -1;
	if (rv_bmap_put(&n->known, id, k) < 0) {
		free(k);
		return NULL;
	}
	choose_soon(n);
	return k;
}

int rv_p2p_node_learn(struct rv_p2p_node *n, uint64_t now, const uint8_t id[RV_P2P_HASH_LEN],
		      const struct sockaddr *addr, socklen_t alen)
{
	n->now = now;
	if (!memcmp(id, n->conf.key->id, RV_P2P_HASH_LEN))
		return 0;
	return p2p_learn(n, id, addr, alen, now) ? 0 : RV_ELIMIT;
}

static void forget(struct rv_p2p_node *n, struct known *k)
{
	rv_bmap_del(&n->known, k->id);
	free(k);
}

void p2p_known_free(struct rv_p2p_node *n)
{
	size_t i = 0;
	struct known *k;
	while ((k = rv_bmap_next(&n->known, &i, NULL)))
		free(k);
	rv_bmap_free(&n->known);
}

/* Session S came up: its peer is known, at its address, through it. Two
 * sessions with one peer: the one the lower peer ID opened stays. */
void p2p_known_attach(struct rv_p2p_node *n, struct nsess *s)
{
	if (s->k && memcmp(s->k->id, s->s.peer_id, RV_P2P_HASH_LEN)) {	/* someone else answered */
		s->k->slot = -1;
		s->k = NULL;
	}
	struct known *k = p2p_learn(n, s->s.peer_id, (const struct sockaddr *)&s->addr, s->alen, n->now);
	if (!k)
		return;
	if (k->slot >= 0 && k->slot != p2p_slot(n, s) && n->sess[k->slot].up) {
		struct nsess *o = &n->sess[k->slot];
		int mine_lower = memcmp(n->conf.key->id, k->id, RV_P2P_HASH_LEN) < 0;
		struct nsess *drop = s->mine == mine_lower ? o : s;
		if ((!s->mine && !o->mine) || o->s.last_rx < s->opened)
			drop = o;	/* the peer opened both, or the old one has been silent since the new one
					 * began: it started again (or moved), and the old one is dead */
		rv_p2p_sess_close(&drop->s, "a second session with the peer");
		if (drop == s)
			return;
		o->k = NULL;
		p2p_sess_end(n, o, "a second session with the peer");
	}
	k->slot = p2p_slot(n, s);
	k->fails = 0;
	k->heard = n->now;
	s->k = k;
	memcpy(&k->addr, &s->addr, sizeof k->addr);
	k->alen = s->alen;
}

/* Session S ends: its peer is free to be chosen again, after a while
 * when the session FAILED to come up (doubling) or was closed. */
void p2p_known_detach(struct rv_p2p_node *n, struct nsess *s, int failed)
{
	struct known *k = s->k ? s->k : s->want_known ? known_get(n, s->want) : NULL;
	s->k = NULL;
	if (!k || k->slot != p2p_slot(n, s))
		return;
	k->slot = -1;
	if (failed) {
		k->fails++;
		uint64_t wait = (uint64_t)RETRY_MS << (k->fails < 6 ? k->fails - 1 : 5);
		k->retry_at = n->now + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
	} else {	/* it closed: it did not want us, give it time */
		uint64_t wait = s->s.peer_closed ? CLOSED_WAIT_MS : RETRY_MS;
		if (k->retry_at < n->now + wait)
			k->retry_at = n->now + wait;
	}
}

/* ---- candidates ---- */

struct cands {
	struct rv_p2p_cand *c;
	struct known **k;
	size_t n;
};

/* Every known peer (but SKIP) as the ring sees it; forgets the stale. */
static int cands_build(struct rv_p2p_node *n, struct cands *cs, const struct known *skip)
{
	size_t cap = n->known.count ? n->known.count : 1;
	cs->c = malloc(cap * sizeof *cs->c);
	cs->k = malloc(cap * sizeof *cs->k);
	cs->n = 0;
	if (!cs->c || !cs->k) {
		free(cs->c);
		free(cs->k);
		return -ENOMEM;
	}
	size_t i = 0;
	struct known *k;
	while ((k = rv_bmap_next(&n->known, &i, NULL)) && cs->n < cap) {
		if (k == skip)
			continue;
		const struct nsess *s = k->slot >= 0 ? &n->sess[k->slot] : NULL;
		cs->c[cs->n].addr = k->ring;
		cs->c[cs->n].rtt_ms = s && s->up ? s->s.rtt_ms : UINT32_MAX;
		cs->k[cs->n++] = k;
	}
	return 0;
}

static void cands_free(struct cands *cs)
{
	free(cs->c);
	free(cs->k);
}

static void sweep(struct rv_p2p_node *n)
{
	struct known *old[64];
	size_t nold = 0, i = 0;
	struct known *k;
	while (nold < 64 && (k = rv_bmap_next(&n->known, &i, NULL)))
		if (k->slot < 0 && k->heard + RV_P2P_NODE_FORGET_MS < n->now)
			old[nold++] = k;
	while (nold)
		forget(n, old[--nold]);
}

/* ---- reports ---- */

/* To neighbour S: the peers it should have, as far as we know (the best
 * list from its ring address among ours), and where we reach them. */
static void swap(struct cands *cs, size_t a, size_t b)
{
	struct rv_p2p_cand c = cs->c[a];
	struct known *k = cs->k[a];
	cs->c[a] = cs->c[b];
	cs->k[a] = cs->k[b];
	cs->c[b] = c;
	cs->k[b] = k;
}

static void report_from(struct rv_p2p_node *n, struct nsess *s, struct cands *all)
{
	if (!s->k || !all->n)
		return;
	/* the receiver is no candidate of its own: moved last, left out */
	size_t me = 0, nc = all->n;
	while (me < all->n && all->k[me] != s->k)
		me++;
	if (me < all->n)
		swap(all, me, --nc);
	uint32_t pick[RV_P2P_LIST_MAX];
	size_t np = rv_p2p_choose(s->k->ring, all->c, nc, RV_P2P_LIST_MAX, n->conf.rnd, n->conf.rnd_ud, pick);
	struct rv_p2p_peer_seen seen[RV_P2P_LIST_MAX];
	for (size_t i = 0; i < np; i++) {
		const struct known *k = all->k[pick[i]];
		uint64_t age = (n->now - (k->heard < n->now ? k->heard : n->now)) / 1000;
		seen[i].id = k->id;
		seen[i].age_s = age > UINT16_MAX ? UINT16_MAX : (uint16_t)age;
		if (k->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)&k->addr;
			seen[i].family = 6;
			seen[i].port = ntohs(a->sin6_port);
			seen[i].ip = a->sin6_addr.s6_addr;
		} else {
			const struct sockaddr_in *a = (const void *)&k->addr;
			seen[i].family = 4;
			seen[i].port = ntohs(a->sin_port);
			seen[i].ip = (const uint8_t *)&a->sin_addr.s_addr;
		}
	}
	uint8_t msg[2 + RV_P2P_LIST_MAX * (32 + 5 + 16)];
	long len = rv_p2p_msg_report(msg, sizeof msg, seen, np);
	if (me < all->n)
		swap(all, me, all->n - 1);	/* as it was */
	if (len > 0)
		p2p_send(n, p2p_slot(n, s), msg, (size_t)len);
}

void p2p_report_to(struct rv_p2p_node *n, struct nsess *s)
{
	struct cands all;
	if (cands_build(n, &all, NULL) < 0)
		return;
	report_from(n, s, &all);
	cands_free(&all);
}

void p2p_report_in(struct rv_p2p_node *n, struct nsess *s, const struct rv_p2p_msg *m)
{
	(void)s;
	for (size_t i = 0; i < m->n; i++) {
		const struct rv_p2p_peer_seen *e = &m->peers[i];
		struct sockaddr_storage ss = { 0 };
		socklen_t alen;
		if (e->port == 0)
			continue;
		if (e->family == 4) {
			struct sockaddr_in *a = (void *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons(e->port);
			memcpy(&a->sin_addr.s_addr, e->ip, 4);
			alen = sizeof *a;
		} else {
			struct sockaddr_in6 *a = (void *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(e->port);
			memcpy(a->sin6_addr.s6_addr, e->ip, 16);
			alen = sizeof *a;
		}
		uint64_t age = (uint64_t)e->age_s * 1000;
		p2p_learn(n, e->id, (const struct sockaddr *)&ss, alen, n->now > age ? n->now - age : 0);
	}
}

void p2p_ask_close_in(struct rv_p2p_node *n, struct nsess *s)
{
	if (!s->k || s->k->best)
		return;	/* we want it: the session stays */
	struct known *k = s->k;
	rv_p2p_sess_close(&s->s, "asked to close");
	p2p_sess_end(n, s, "the peer asked to close");
	k->retry_at = n->now + CLOSED_WAIT_MS;
}

/* ---- the choice ---- */

static size_t opening(const struct rv_p2p_node *n)
{
	size_t c = 0;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		c += n->sess[i].used && n->sess[i].mine && !n->sess[i].up;
	return c;
}

/* A session with known peer K: ours, or the one it opened to us. Sessions
 * are told apart by address, so a second one with K's address would take
 * the first one's datagrams, and its ClientHello would make K give way on
 * the handshake K has under way with us (p2pnode.h): both would stall until
 * handshake_ms. The peer's handshake to us is ours to wait for instead. */
static void open_to(struct rv_p2p_node *n, struct known *k)
{
	struct nsess *s = p2p_sess_by_addr(n, (const struct sockaddr *)&k->addr);
	if (s) {
		if (!s->up && !s->want_known) {	/* theirs, under way: K's once it proves */
			memcpy(s->want, k->id, RV_P2P_HASH_LEN);
			s->want_known = 1;
			s->k = k;
			k->slot = p2p_slot(n, s);
		}
		return;
	}
	s = p2p_sess_open(n, (const struct sockaddr *)&k->addr, k->alen, 1);
	if (!s)
		return;
	memcpy(s->want, k->id, RV_P2P_HASH_LEN);
	s->want_known = 1;
	s->k = k;
	k->slot = p2p_slot(n, s);
}

void p2p_maintain(struct rv_p2p_node *n)
{
	int reports = n->next_report <= n->now;
	n->choose_at = UINT64_MAX;
	if (reports) {
		n->next_report = n->now + n->conf.report_ms;
		sweep(n);
	}
	struct cands all;
	if (cands_build(n, &all, NULL) < 0)
		return;
	n->estimate = rv_p2p_estimate(n->ring, all.c, all.n);
	n->target = rv_p2p_target(n->estimate, n->conf.max_neighbors);
	uint32_t *pick = malloc((all.n ? all.n : 1) * sizeof *pick);
	size_t np = pick ? rv_p2p_choose(n->ring, all.c, all.n, n->conf.max_neighbors, n->conf.rnd,
					 n->conf.rnd_ud, pick) : 0;
	for (size_t i = 0; i < all.n; i++)
		all.k[i]->best = 0;
	for (size_t i = 0; i < np; i++)
		all.k[pick[i]]->best = 1;
	size_t busy = opening(n), up = 0;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		up += n->sess[i].used && n->sess[i].up;
	/* the ring's own (the first picks) always; the others while we are
	 * short; one that failed a moment ago when its wait is over (not at the
	 * next report: the LAN says nothing new of a peer it announced) */
	uint64_t retry = UINT64_MAX;
	for (size_t i = 0; i < np && busy < RV_P2P_NODE_OPENING; i++) {
		struct known *k = all.k[pick[i]];
		if (k->slot >= 0 || (i >= RV_P2P_RING_BEFORE + RV_P2P_RING_AFTER && up + busy >= n->target))
			continue;
		if (k->retry_at > n->now) {
			retry = k->retry_at < retry ? k->retry_at : retry;
			continue;
		}
		open_to(n, k);
		busy += k->slot >= 0;
	}
	free(pick);
	if (reports) {
		for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
			struct nsess *s = &n->sess[i];
			if (!s->used || !s->up)
				continue;
			/* past max_neighbors, a neighbour we do not want is asked
			 * to close (it does if it does not want us either); a
			 * quarter past it, one is closed whatever it wants (and
			 * leaves us alone for a while: CLOSED_WAIT_MS) */
			if (s->k && !s->k->best && up > n->conf.max_neighbors + n->conf.max_neighbors / 4) {
				rv_p2p_sess_close(&s->s, "not among the best");
				p2p_sess_end(n, s, "not among our best neighbours");
				n->choose_at = UINT64_MAX;	/* the choice just made freed it */
				up--;
				continue;
			}
			if (s->k && !s->k->best && up > n->conf.max_neighbors) {
				uint8_t m[1];
				long len = rv_p2p_msg_signal(m, sizeof m, RV_P2P_M_ASK_CLOSE);
				if (len > 0)
					p2p_send(n, (int)i, m, (size_t)len);
			}
			report_from(n, s, &all);
		}
	}
	cands_free(&all);
	if (retry < n->choose_at)
		n->choose_at = retry;
}
