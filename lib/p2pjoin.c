/* p2pjoin.c - a node and the introducer (p2pnode.h, p2pintro.h): JOINs
 * and their answers, INTROs and the punches they ask for, and the
 * sessions relayed through the server when punching failed. */
#include <string.h>

#include "err.h"
#include "p2pintro.h"
#include "p2pnode_int.h"
#include "p2pspec.h"

#define JOIN_FIRST_MS 1000          /* an unanswered JOIN goes again, doubling */
#define CHALLENGES_MAX 3            /* 401s in a row answered at once; then at the JOINs' pace */

void p2p_join_init(struct rv_p2p_node *n)
{
	rv_p2p_group_hash(n->conf.group, n->group_hash);
	n->join_at = n->now;
	n->join_wait = JOIN_FIRST_MS;
}

int p2p_is_server(const struct rv_p2p_node *n, const struct sockaddr *a)
{
	return n->conf.server_len && p2p_addr_eq(&n->conf.server, a);
}

static void queue_stun(struct rv_p2p_node *n, struct rv_stun_builder *b)
{
	const uint8_t *m;
	size_t len;
	if (rv_stun_end(b, &m, &len) >= 0)
		rv_p2p_node_queue(n, m, len, (const struct sockaddr *)&n->conf.server, n->conf.server_len);
}

void p2p_join_tick(struct rv_p2p_node *n)
{
	if (!n->conf.server_len || n->refused || n->now < n->join_at)
		return;
	struct rv_stun_builder b;
	if (rv_p2p_intro_join_build(&b, n->group_hash, n->conf.key->id, n->has_cookie ? n->cookie : NULL, NULL) < 0)
		return;
	queue_stun(n, &b);
	n->st.joins++;
	if (n->st.introduced) {
		n->join_at = n->now + RV_P2P_INTRO_REFRESH_S * 1000;
	} else {
		n->join_at = n->now + n->join_wait;
		n->join_wait = n->join_wait * 2 < RV_P2P_INTRO_REFRESH_S * 1000 ? n->join_wait * 2
										    : RV_P2P_INTRO_REFRESH_S * 1000;
		if (++n->unanswered == RV_P2P_NODE_SILENT_JOINS) {	/* say so, once */
			struct rv_p2p_node_ev e = { .type = RV_P2P_NODE_SERVER_SILENT, .addr = n->conf.server,
						    .alen = n->conf.server_len };
			p2p_event(n, &e);
		}
	}
}

void p2p_leave(struct rv_p2p_node *n)
{
	struct rv_stun_builder b;
	if (n->conf.server_len && n->st.introduced && rv_p2p_intro_leave_build(&b, n->group_hash, n->conf.key->id) == 0)
		queue_stun(n, &b);
}

uint64_t p2p_join_next(const struct rv_p2p_node *n)
{
	return n->conf.server_len && !n->refused ? n->join_at : UINT64_MAX;
}

/* A punch toward ADDR: one byte no session takes (rv_dtls_demux: other),
 * so that our NAT lets its handshake in. */
static void punch(struct rv_p2p_node *n, const struct sockaddr_storage *addr)
{
	static const uint8_t p[1] = { 0xff };
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (rv_p2p_node_queue(n, p, sizeof p, (const struct sockaddr *)addr, len) == 0)
		n->st.punches++;
}

static socklen_t len_of(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

void p2p_join_input(struct rv_p2p_node *n, const uint8_t *p, size_t len)
{
	struct rv_p2p_intro_msg m;
	if (rv_p2p_intro_parse(p, len, &m) < 0)
		return;
	if (m.has_cookie && (m.kind == RV_P2P_INTRO_JOINED || m.kind == RV_P2P_INTRO_REFUSED)) {
		memcpy(n->cookie, m.cookie, sizeof n->cookie);	/* for the next JOIN */
		n->has_cookie = 1;
	}
	if (m.kind == RV_P2P_INTRO_REFUSED && m.code == 401 && m.has_cookie) {
		n->unanswered = 0;	/* the server is there: prove our address, at once */
		if (++n->challenges <= CHALLENGES_MAX)
			n->join_at = n->now;
		return;
	}
	if (m.kind == RV_P2P_INTRO_JOINED) {
		n->challenges = 0;
		struct rv_p2p_node_ev e = { .type = RV_P2P_NODE_INTRODUCED, .hops = (uint8_t)m.nmembers,
					    .addr = m.mapped, .alen = len_of(&m.mapped) };
		if (!n->st.introduced)
			p2p_event(n, &e);
		n->st.introduced = 1;
		n->unanswered = 0;
		n->st.mapped = m.mapped;
		n->join_at = n->now + RV_P2P_INTRO_REFRESH_S * 1000;
		for (size_t i = 0; i < m.nmembers; i++)
			p2p_learn(n, m.members[i].id, (const struct sockaddr *)&m.members[i].addr,
				  len_of(&m.members[i].addr), n->now);
	} else if (m.kind == RV_P2P_INTRO_REFUSED) {
		struct rv_p2p_node_ev e = { .type = RV_P2P_NODE_REFUSED, .data = (const uint8_t *)m.reason,
					    .len = strlen(m.reason) };
		p2p_event(n, &e);
		if (m.code == 403 || m.code == 400)
			n->refused = 1;	/* no introducer here, or it cannot read us: asking again will not help */
	} else if (m.kind == RV_P2P_INTRO_INTRO && m.nmembers == 1) {
		n->st.intros++;
		punch(n, &m.members[0].addr);
		p2p_learn(n, m.members[0].id, (const struct sockaddr *)&m.members[0].addr,
			  len_of(&m.members[0].addr), n->now);
	} else if (m.kind == RV_P2P_INTRO_RELAY && m.nmembers == 1 &&
		   !memcmp(m.group, n->group_hash, sizeof m.group)) {
		n->st.relayed_in++;
		p2p_input(n, m.data, m.len, (const struct sockaddr *)&m.members[0].addr,
			  len_of(&m.members[0].addr), 1);
	}
}

size_t p2p_relay_wrap(struct rv_p2p_node *n, const struct nsess *s, const uint8_t *d, size_t len, uint8_t *out,
		      size_t cap)
{
	struct rv_p2p_intro_member to = { .addr = s->addr };
	const uint8_t *id = s->up ? s->s.peer_id : s->want_known ? s->want : NULL;
	if (id)
		memcpy(to.id, id, sizeof to.id);
	struct rv_stun_builder b;
	const uint8_t *m;
	size_t mlen;
	if (rv_p2p_intro_relay_build(&b, n->group_hash, &to, d, len, NULL) < 0 || rv_stun_end(&b, &m, &mlen) < 0 ||
	    mlen > cap)
		return 0;
	memcpy(out, m, mlen);
	n->st.relayed_out++;
	return mlen;
}
