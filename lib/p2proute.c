/* p2proute.c - directed routing (p2pnode.h): a message to a peer ID or to
 * whoever is nearest a ring address, passed hop by hop to the neighbour
 * nearest the destination, and its end-to-end acknowledgement.
 *
 * At least once, and once to the application: a routed message of ours
 * that left is kept (a copy of its envelope, RV_P2P_NODE_UNACKED at most)
 * and sent again, unchanged, after RV_P2P_NODE_RESEND_MS, then twice that,
 * until its ACK comes (RV_P2P_NODE_RESENDS times at most; then the caller's
 * own wait decides). The peer that delivers it remembers its ID
 * (RV_P2P_NODE_ROUTED_SEEN of the latest): a copy that arrives again is
 * acknowledged again and not delivered twice. A message to the nearest
 * peer may meet another nearest peer when the ring changed in between. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "p2pnode_int.h"

/* ---- what we sent and what we delivered ---- */

static void unacked_free(struct p2p_unacked *u)
{
	free(u->env);
	memset(u, 0, sizeof *u);
}

/* Keep ENV (LEN bytes, message ID) to send again toward DST; when every
 * slot is taken, the oldest gives way (it is not sent again). */
static void unacked_add(struct rv_p2p_node *n, enum rv_p2p_route_mode mode, const uint8_t dst[32],
			const uint8_t *env, size_t len, const uint8_t id[RV_P2P_HASH_LEN])
{
	struct p2p_unacked *u = &n->unacked[0];
	for (size_t i = 0; i < RV_P2P_NODE_UNACKED; i++) {	/* a free slot, or the oldest */
		struct p2p_unacked *v = &n->unacked[i];
		if (!v->env != !u->env ? !v->env : v->sent < u->sent)
			u = v;
	}
	unacked_free(u);
	if (!(u->env = malloc(len)))
		return;	/* then it is sent once, as before */
	memcpy(u->env, env, len);
	u->len = len;
	u->mode = (uint8_t)mode;
	memcpy(u->dst, dst, sizeof u->dst);
	memcpy(u->id, id, sizeof u->id);
	u->sent = n->now;
	u->due = n->now + RV_P2P_NODE_RESEND_MS;
}

/* The ACK for ID came: 1 for the first answer (or one to a message not
 * kept), 0 for the answer to a copy sent again after the first came. */
static int unacked_settle(struct rv_p2p_node *n, const uint8_t id[RV_P2P_HASH_LEN])
{
	for (size_t i = 0; i < RV_P2P_NODE_UNACKED; i++) {
		struct p2p_unacked *u = &n->unacked[i];
		if (!memcmp(u->id, id, RV_P2P_HASH_LEN) && (u->env || u->answered)) {
			int first = !u->answered;
			free(u->env);
			u->env = NULL;	/* the slot is free again; the ID stays to know a late copy */
			u->answered = 1;
			return first;
		}
	}
	return 1;
}

/* Was ID delivered here lately? If not, it is remembered now. */
static int seen(struct rv_p2p_node *n, const uint8_t id[RV_P2P_HASH_LEN])
{
	for (size_t i = 0; i < RV_P2P_NODE_ROUTED_SEEN; i++)
		if (!memcmp(n->routed_seen[i], id, RV_P2P_HASH_LEN))
			return 1;
	memcpy(n->routed_seen[n->seen_next], id, RV_P2P_HASH_LEN);
	n->seen_next = (n->seen_next + 1) % RV_P2P_NODE_ROUTED_SEEN;
	return 0;
}

/* ---- routing ---- */

static int route_step(struct rv_p2p_node *n, enum rv_p2p_route_mode mode, uint8_t ttl, uint8_t hops,
		      const uint8_t dst[32], const uint8_t *env, const struct rv_p2p_env *e, int local);

/* The routed message E (not ours) arrived here or stopped here (STATUS):
 * an ACK to its author, routed like any exact message. */
static void ack(struct rv_p2p_node *n, const struct rv_p2p_env *e, uint8_t status)
{
	uint8_t body[RV_P2P_ACK_LEN], author[RV_P2P_HASH_LEN];
	struct rv_p2p_env a;
	const char *why;
	if (e->kind == RV_P2P_ACK)
		return;	/* an ACK is never acknowledged */
	body[0] = status;
	memcpy(body + 1, e->id, RV_P2P_HASH_LEN);
	rv_p2p_peer_id(e->author, author);
	long size = rv_p2p_env_seal(n->conf.key, n->conf.group, RV_P2P_ACK, e->time_ms, p2p_nonce(n), body,
				    sizeof body, n->env, sizeof n->env, NULL);
	if (size < 0 || rv_p2p_env_read(n->env, (size_t)size, n->conf.group, &a, &why) < 0)
		return;
	if (route_step(n, RV_P2P_TO_PEER, RV_P2P_NODE_TTL, 0, author, n->env, &a, 1) == 0)
		n->st.acks_sent++;
}

/* The ACK E for us: an event. */
static void ack_in(struct rv_p2p_node *n, const struct rv_p2p_env *e)
{
	if (e->len != RV_P2P_ACK_LEN || e->payload[0] > RV_P2P_ACK_TTL)
		return;
	struct rv_p2p_node_ev ev = { .type = RV_P2P_NODE_ACK, .time_ms = e->time_ms, .mode = e->payload[0] };
	memcpy(ev.id, e->payload + 1, sizeof ev.id);
	rv_p2p_peer_id(e->author, ev.author);
	if (!unacked_settle(n, ev.id))
		return;	/* an answer to a copy sent again, after the first one's */
	n->st.acks_received++;
	p2p_event(n, &ev);
}

/* Envelope ENV (its parse E) toward DST, MODE, with TTL and HOPS so far:
 * delivered here, passed to the next neighbour, or RV_ENOTFOUND. */
static int route_step(struct rv_p2p_node *n, enum rv_p2p_route_mode mode, uint8_t ttl, uint8_t hops,
		      const uint8_t dst[32], const uint8_t *env, const struct rv_p2p_env *e, int local)
{
	struct rv_p2p_route_nb nb[RV_P2P_NODE_SESSIONS];
	int slot[RV_P2P_NODE_SESSIONS];
	size_t cnt = 0;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
		const struct nsess *s = &n->sess[i];
		if (s->used && s->up && s->k) {
			nb[cnt].id = s->k->id;
			nb[cnt].addr = s->k->ring;
			slot[cnt++] = (int)i;
		}
	}
	int next = rv_p2p_route_next(n->conf.key->id, n->ring, nb, cnt, mode, dst);
	if (next == RV_P2P_ROUTE_HERE && e->kind == RV_P2P_ACK) {
		ack_in(n, e);
		return 0;
	}
	if (next == RV_P2P_ROUTE_HERE && !local && seen(n, e->id)) {
		n->st.routed_duplicates++;	/* sent again: its ACK was lost, or is late */
		ack(n, e, RV_P2P_ACK_DELIVERED);
		return 0;
	}
	if (next == RV_P2P_ROUTE_HERE) {
		struct rv_p2p_node_ev ev = { .type = RV_P2P_NODE_ROUTED, .time_ms = e->time_ms, .mode = (uint8_t)mode,
					     .hops = hops, .data = e->payload, .len = e->len };
		memcpy(ev.id, e->id, sizeof ev.id);
		rv_p2p_peer_id(e->author, ev.author);
		n->st.routed_received++;
		p2p_event(n, &ev);
		if (!local)
			ack(n, e, RV_P2P_ACK_DELIVERED);
		return 0;
	}
	if (next < 0) {
		n->st.no_route++;
		if (!local)
			ack(n, e, RV_P2P_ACK_NO_ROUTE);
		return RV_ENOTFOUND;
	}
	if (ttl == 0) {
		n->st.ttl_expired++;
		if (!local)
			ack(n, e, RV_P2P_ACK_TTL);
		return 0;
	}
	long len = rv_p2p_msg_route(n->route, sizeof n->route, mode, (uint8_t)(ttl - 1), hops, dst, env, e->size);
	if (len < 0)
		return (int)len;
	p2p_send(n, slot[next], n->route, (size_t)len);
	if (local && e->kind != RV_P2P_ACK)
		n->st.routed_sent++;
	else
		n->st.routed_forwarded++;
	return 0;
}

void p2p_route_in(struct rv_p2p_node *n, struct nsess *s, const struct rv_p2p_msg *m)
{
	struct rv_p2p_env e;
	const char *why;
	if (rv_p2p_env_open(m->env, m->env_len, n->conf.group, &e, &why) < 0)
		return p2p_bad(n, s, why);
	if (e.kind != (m->mode == RV_P2P_TO_PEER ? RV_P2P_DIRECT : RV_P2P_NEAREST) &&
	    !(e.kind == RV_P2P_ACK && m->mode == RV_P2P_TO_PEER))
		return p2p_bad(n, s, "a routed envelope of the wrong kind");
	if (m->hops >= RV_P2P_TTL_MAX) {
		n->st.ttl_expired++;
		ack(n, &e, RV_P2P_ACK_TTL);
		return;
	}
	route_step(n, m->mode, m->ttl, (uint8_t)(m->hops + 1), m->dst, m->env, &e, 0);
}

int rv_p2p_node_send(struct rv_p2p_node *n, uint64_t now, uint64_t time_ms, enum rv_p2p_route_mode mode,
		     const uint8_t dst[RV_P2P_HASH_LEN], const void *data, size_t len,
		     uint8_t id[RV_P2P_HASH_LEN])
{
	n->now = now;
	if (mode != RV_P2P_TO_PEER && mode != RV_P2P_TO_NEAREST)
		return RV_EPROTO;
	if (!p2p_allows(n, RV_P2P_CAP_ROUTING))
		return RV_EDENIED;
	long size = rv_p2p_env_seal(n->conf.key, n->conf.group, mode == RV_P2P_TO_PEER ? RV_P2P_DIRECT : RV_P2P_NEAREST,
				    time_ms, p2p_nonce(n), data, len, n->env, sizeof n->env, id);
	if (size < 0)
		return (int)size;
	struct rv_p2p_env e;
	const char *why;
	if (rv_p2p_env_read(n->env, (size_t)size, n->conf.group, &e, &why) < 0)
		return RV_EPROTO;
	uint64_t here = n->st.routed_received;
	int rc = route_step(n, mode, RV_P2P_NODE_TTL, 0, dst, n->env, &e, 1);
	if (rc == 0 && n->st.routed_received == here)	/* it left: sent again until acknowledged */
		unacked_add(n, mode, dst, n->env, (size_t)size, e.id);
	return rc;
}

void p2p_route_tick(struct rv_p2p_node *n)
{
	for (size_t i = 0; i < RV_P2P_NODE_UNACKED; i++) {
		struct p2p_unacked *u = &n->unacked[i];
		if (!u->env || u->due > n->now)
			continue;
		if (u->tries == RV_P2P_NODE_RESENDS) {	/* the caller's wait decides now */
			unacked_free(u);
			continue;
		}
		struct rv_p2p_env e;
		const char *why;
		u->tries++;
		u->due = n->now + ((uint64_t)RV_P2P_NODE_RESEND_MS << u->tries);
		if (rv_p2p_env_read(u->env, u->len, n->conf.group, &e, &why) == 0 &&
		    route_step(n, u->mode, RV_P2P_NODE_TTL, 0, u->dst, u->env, &e, 1) == 0)
			n->st.routed_resent++;
	}
}

uint64_t p2p_route_next(const struct rv_p2p_node *n)
{
	uint64_t t = UINT64_MAX;
	for (size_t i = 0; i < RV_P2P_NODE_UNACKED; i++)
		if (n->unacked[i].env && n->unacked[i].due < t)
			t = n->unacked[i].due;
	return t;
}

void p2p_route_free(struct rv_p2p_node *n)
{
	for (size_t i = 0; i < RV_P2P_NODE_UNACKED; i++)
		unacked_free(&n->unacked[i]);
}
