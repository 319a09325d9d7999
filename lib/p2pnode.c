/* p2pnode.c - one peer of a group (p2pnode.h): sessions by address, the
 * messages they carry, events and datagrams out. Topology and routing are
 * in p2ptopo.c, behind p2pnode_int.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bytes.h"
#include "err.h"
#include "p2pcap.h"
#include "p2pintro.h"
#include "p2pnode_int.h"

/* ---- addresses ---- */

int p2p_addr_eq(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

static socklen_t addr_copy(struct sockaddr_storage *to, const struct sockaddr *from, socklen_t len)
{
	if (len > sizeof *to)
		len = sizeof *to;
	memset(to, 0, sizeof *to);
	memcpy(to, from, len);
	return len;
}

/* ---- events ---- */

void p2p_event(struct rv_p2p_node *n, const struct rv_p2p_node_ev *e)
{
	if (rv_buf_size(&n->events) == 0)
		rv_buf_reset(&n->events);
	uint8_t *w = rv_buf_reserve(&n->events, sizeof *e + e->len);
	if (!w) {
		n->st.events_dropped++;
		return;
	}
	memcpy(w, e, sizeof *e);
	if (e->len)
		memcpy(w + sizeof *e, e->data, e->len);
	rv_buf_commit(&n->events, sizeof *e + e->len);
}

/* An event about session S (its peer and address). */
static void sess_event(struct rv_p2p_node *n, const struct nsess *s, enum rv_p2p_node_ev_type type,
		       const char *why)
{
	struct rv_p2p_node_ev e = { .type = type, .why = why, .alen = s->alen, .relayed = s->relayed };
	memcpy(&e.addr, &s->addr, sizeof e.addr);
	if (s->s.state == RV_P2P_SESS_UP || s->up)
		memcpy(e.peer, s->s.peer_id, RV_P2P_HASH_LEN);
	else if (s->want_known)
		memcpy(e.peer, s->want, RV_P2P_HASH_LEN);
	p2p_event(n, &e);
}

int rv_p2p_node_poll(struct rv_p2p_node *n, struct rv_p2p_node_ev *e)
{
	if (rv_buf_size(&n->events) == 0)
		return 0;
	memcpy(e, rv_buf_head(&n->events), sizeof *e);
	e->data = e->len ? rv_buf_head(&n->events) + sizeof *e : NULL;
	rv_buf_consume(&n->events, sizeof *e + e->len);   /* the bytes stay until the next append */
	return 1;
}

/* ---- datagrams out ---- */

struct outrec {
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
};

int rv_p2p_node_queue(struct rv_p2p_node *n, const uint8_t *p, size_t len, const struct sockaddr *to,
		      socklen_t tolen)
{
	if (len > RV_P2P_NODE_DGRAM_MAX || len == 0)
		return len ? RV_ETOOBIG : -EINVAL;	/* take's 0 means "nothing left" */
	if (rv_buf_size(&n->out) == 0)
		rv_buf_reset(&n->out);
	uint8_t *w = rv_buf_reserve(&n->out, sizeof(struct outrec) + len);
	if (!w)
		return RV_ELIMIT;
	struct outrec r = { .len = len };
	r.tolen = addr_copy(&r.to, to, tolen);
	memcpy(w, &r, sizeof r);
	memcpy(w + sizeof r, p, len);
	rv_buf_commit(&n->out, sizeof r + len);
	return 0;
}

ssize_t rv_p2p_node_take(struct rv_p2p_node *n, uint8_t *buf, size_t cap, struct sockaddr_storage *to,
			 socklen_t *tolen)
{
	if (rv_buf_size(&n->out)) {
		struct outrec r;
		memcpy(&r, rv_buf_head(&n->out), sizeof r);
		if (r.len > cap)
			return RV_ETOOBIG;
		memcpy(buf, rv_buf_head(&n->out) + sizeof r, r.len);
		rv_buf_consume(&n->out, sizeof r + r.len);
		*to = r.to;
		*tolen = r.tolen;
		n->st.datagrams_out++;
		n->st.bytes_out += r.len;
		return (ssize_t)r.len;
	}
	while (n->dirty) {
		int i = __builtin_ctzll(n->dirty);
		struct nsess *s = &n->sess[i];
		ssize_t len = s->used ? rv_p2p_sess_take(&s->s, s->relayed ? n->wrap : buf, cap) : 0;
		if (len <= 0) {
			n->dirty &= ~(1ull << i);
			continue;
		}
		if (s->relayed) {	/* through the server */
			if (!(len = (ssize_t)p2p_relay_wrap(n, s, n->wrap, (size_t)len, buf, cap)))
				continue;
			*to = n->conf.server;
			*tolen = n->conf.server_len;
		} else {
			*to = s->addr;
			*tolen = s->alen;
		}
		n->st.datagrams_out++;
		n->st.bytes_out += (size_t)len;
		return len;
	}
	return 0;
}

/* What session S has to send goes to the queue now: it is about to go. */
static void drain(struct rv_p2p_node *n, struct nsess *s)
{
	uint8_t d[RV_DTLS_MTU], w[RV_P2P_NODE_DGRAM_MAX];
	ssize_t len;
	while ((len = rv_p2p_sess_take(&s->s, d, sizeof d)) > 0) {
		int rc;
		if (s->relayed) {
			size_t wl = p2p_relay_wrap(n, s, d, (size_t)len, w, sizeof w);
			rc = wl ? rv_p2p_node_queue(n, w, wl, (const struct sockaddr *)&n->conf.server,
						    n->conf.server_len) : 0;
		} else {
			rc = rv_p2p_node_queue(n, d, (size_t)len, (const struct sockaddr *)&s->addr, s->alen);
		}
		if (rc < 0)
			break;
	}
}

/* ---- sessions ---- */

struct nsess *p2p_sess_by_addr(struct rv_p2p_node *n, const struct sockaddr *a)
{
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used && p2p_addr_eq(&n->sess[i].addr, a))
			return &n->sess[i];
	return NULL;
}

int p2p_slot(const struct rv_p2p_node *n, const struct nsess *s)
{
	return (int)(s - n->sess);
}

static struct nsess *free_slot(struct rv_p2p_node *n)
{
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (!n->sess[i].used)
			return &n->sess[i];
	return NULL;
}

/* A session with the peer at ADDR: ours (the client) when MINE. */
struct nsess *p2p_sess_open(struct rv_p2p_node *n, const struct sockaddr *addr, socklen_t alen, int mine)
{
	struct nsess *s = free_slot(n);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	if (rv_p2p_sess_new(&s->s, n->ctx, n->conf.key, n->conf.group, !mine, n->now, n->conf.sess) < 0)
		return NULL;
	s->used = 1;
	s->mine = mine;
	s->opened = n->now;
	s->alen = addr_copy(&s->addr, addr, alen);
	if (mine && rv_p2p_sess_start(&s->s) < 0) {
		rv_p2p_sess_free(&s->s);
		s->used = 0;
		return NULL;
	}
	n->dirty |= 1ull << p2p_slot(n, s);
	return s;
}

/* Session S ends (WHY): its neighbour goes, or its connection failed. */
void p2p_sess_end(struct rv_p2p_node *n, struct nsess *s, const char *why)
{
	int slot = p2p_slot(n, s);
	drain(n, s);
	if (s->up) {
		rv_p2p_gossip_down(&n->g, slot);
		sess_event(n, s, RV_P2P_NODE_NEIGHBOR_DOWN, why);
		n->st.disconnects++;
	} else if (s->mine) {
		sess_event(n, s, RV_P2P_NODE_CONNECT_FAILED, why);
		n->st.connect_failures++;
	}
	p2p_known_detach(n, s, !s->up);
	rv_p2p_sess_free(&s->s);
	s->used = 0;
	n->dirty &= ~(1ull << slot);
	n->choose_at = n->now;      /* a place is free: choose again */
}

/* Send message M (LEN) to the neighbour in SLOT. */
void p2p_send(struct rv_p2p_node *n, int slot, const uint8_t *m, size_t len)
{
	struct nsess *s = &n->sess[slot];
	if (!s->used || !s->up)
		return;
	if (rv_p2p_sess_send(&s->s, n->now, m, len) == 0)
		n->dirty |= 1ull << slot;
}

/* Is P (LEN) a DTLS ClientHello in epoch 0 (a handshake being started)? */
static int client_hello(const uint8_t *p, size_t len)
{
	return len > 13 && p[0] == 22 && p[1] == 0xfe && p[3] == 0 && p[4] == 0 && p[13] == 1;
}

/* ---- what sessions carry ---- */

int p2p_allows(const struct rv_p2p_node *n, uint16_t cap)
{
	return !n->conf.spec || rv_p2p_spec_allows(n->conf.spec, cap);
}

static int restricted(const struct rv_p2p_node *n)
{
	return n->conf.spec && (n->conf.spec->caps & RV_P2P_CAP_RESTRICT_POSTING);
}

/* The application's bytes of a restricted group's post E. */
static int admit_data(struct rv_p2p_node *n, const struct rv_p2p_env *e, const uint8_t **data, size_t *len)
{
	const char *why;
	uint64_t now_ms = n->conf.wall_ms ? n->conf.wall_ms() : e->time_ms;
	return rv_p2p_cap_admit(e, n->conf.spec, n->conf.group, now_ms / 1000, data, len, &why);
}

static void pump_gossip(struct rv_p2p_node *n)
{
	struct rv_p2p_gossip_out o;
	while (rv_p2p_gossip_poll(&n->g, &o)) {
		if (o.ev == RV_P2P_EV_SEND) {
			p2p_send(n, o.slot, o.bytes, o.len);
		} else if (o.ev == RV_P2P_EV_DELIVER) {
			struct rv_p2p_env env;
			const char *why;
			if (rv_p2p_env_read(o.bytes, o.len, n->conf.group, &env, &why) < 0)
				continue;
			struct rv_p2p_node_ev e = { .type = RV_P2P_NODE_POST, .time_ms = env.time_ms,
						    .data = env.payload, .len = env.len };
			if (restricted(n) && admit_data(n, &env, &e.data, &e.len) < 0)
				continue;	/* admitted a moment ago: cannot happen */
			memcpy(e.id, env.id, sizeof e.id);
			rv_p2p_peer_id(env.author, e.author);
			struct nsess *s = &n->sess[o.slot];
			if (s->used && s->up) {
				memcpy(e.peer, s->s.peer_id, sizeof e.peer);
				memcpy(&e.addr, &s->addr, sizeof e.addr);
				e.alen = s->alen;
			}
			n->st.posts_received++;
			p2p_event(n, &e);
		} else if (o.ev == RV_P2P_EV_BAD) {
			p2p_bad(n, &n->sess[o.slot], o.why);
		}
	}
}

/* The neighbour in S broke the rules (WHY): cut it off. */
void p2p_bad(struct rv_p2p_node *n, struct nsess *s, const char *why)
{
	if (!s->used)
		return;
	n->st.bad++;
	sess_event(n, s, RV_P2P_NODE_BAD_PEER, why);
	rv_p2p_sess_close(&s->s, why);
	p2p_sess_end(n, s, why);
}

/* Why a message of TYPE has no place in this group, or NULL when it has. */
static const char *not_enabled(const struct rv_p2p_node *n, int type)
{
	switch (type) {
	case RV_P2P_M_POST: case RV_P2P_M_IHAVE: case RV_P2P_M_IWANT: case RV_P2P_M_IDONTWANT:
	case RV_P2P_M_PRUNE:
		return p2p_allows(n, RV_P2P_CAP_POSTING) ? NULL : "posting is not enabled in this group";
	case RV_P2P_M_ROUTE:
		return p2p_allows(n, RV_P2P_CAP_ROUTING) ? NULL : "routing is not enabled in this group";
	}
	if (type >= RV_P2P_M_CAST_FRAG)
		return p2p_allows(n, RV_P2P_CAP_MULTICAST) ? NULL : "multicast is not enabled in this group";
	if (type >= RV_P2P_M_OBJ_GET)
		return p2p_allows(n, RV_P2P_CAP_REPLICATION) ? NULL : "object replication is not enabled in this group";
	return NULL;
}

static void on_msg(struct rv_p2p_node *n, struct nsess *s, const uint8_t *p, size_t len)
{
	struct rv_p2p_msg m;
	const char *why;
	if (rv_p2p_msg_parse(p, len, &m, &why) < 0)
		return p2p_bad(n, s, why);
	const char *off = not_enabled(n, m.type);
	if (off)	/* the spec leaves it out: only a peer that ignores the spec sends it */
		return p2p_bad(n, s, off);
	switch (m.type) {
	case RV_P2P_M_POST:
	case RV_P2P_M_IHAVE:
	case RV_P2P_M_IWANT:
	case RV_P2P_M_IDONTWANT:
	case RV_P2P_M_PRUNE:
		rv_p2p_gossip_input(&n->g, n->now, p2p_slot(n, s), &m);
		pump_gossip(n);
		return;
	case RV_P2P_M_REPORT:
		p2p_report_in(n, s, &m);
		return;
	case RV_P2P_M_ASK_CLOSE:
		p2p_ask_close_in(n, s);
		return;
	case RV_P2P_M_ROUTE:
		p2p_route_in(n, s, &m);
		return;
	default:
		break;
	}
	if (m.type >= RV_P2P_M_OBJ_GET) {	/* objects and live streams: the caller's (p2pobj.h, p2pcast.h) */
		struct rv_p2p_node_ev e = { .type = RV_P2P_NODE_OBJECT, .data = p, .len = len, .alen = s->alen };
		memcpy(&e.addr, &s->addr, sizeof e.addr);
		memcpy(e.peer, s->s.peer_id, RV_P2P_HASH_LEN);
		n->st.objects_in++;
		p2p_event(n, &e);
	}	/* else HELLO, PING, PONG: the session's */
}

/* One more message of LEN bytes from S: past the second's allowance? */
static int flooding(struct rv_p2p_node *n, struct nsess *s, size_t len)
{
	if (n->now >= s->win_start + 1000) {
		s->win_start = n->now;
		s->win_msgs = 0;
		s->win_bytes = 0;
	}
	s->win_bytes += len;
	return ++s->win_msgs > RV_P2P_NODE_FLOOD_MSGS || s->win_bytes > RV_P2P_NODE_FLOOD_BYTES;
}

/* After S was fed or ticked: its messages, and what became of it. */
static void settle(struct rv_p2p_node *n, struct nsess *s)
{
	n->dirty |= 1ull << p2p_slot(n, s);
	if (s->s.state == RV_P2P_SESS_UP && !s->up && !memcmp(s->s.peer_id, n->conf.key->id, RV_P2P_HASH_LEN)) {
		rv_p2p_sess_close(&s->s, "a session with ourselves");	/* our key elsewhere, or our own echo */
		p2p_sess_end(n, s, "a session with ourselves");
		return;
	}
	if (s->s.state == RV_P2P_SESS_UP && !s->up) {
		s->up = 1;
		s->since = n->now;
		n->st.connects++;
		n->st.relayed_sessions += s->relayed;
		rv_p2p_gossip_up(&n->g, p2p_slot(n, s));
		p2p_known_attach(n, s);
		sess_event(n, s, RV_P2P_NODE_NEIGHBOR_UP, NULL);
		p2p_report_to(n, s);
		n->choose_at = n->now;
	}
	ssize_t len;
	while (s->used && (len = rv_p2p_sess_poll(&s->s, n->msg, sizeof n->msg)) > 0) {
		if (flooding(n, s, (size_t)len))
			return p2p_bad(n, s, "flooding: past the messages or bytes a neighbour may send in a second");
		on_msg(n, s, n->msg, (size_t)len);
	}
	if (s->used && (s->s.state == RV_P2P_SESS_FAILED || s->s.state == RV_P2P_SESS_CLOSED))
		p2p_sess_end(n, s, s->s.why ? s->s.why : "closed");
}

int rv_p2p_node_input(struct rv_p2p_node *n, uint64_t now, const uint8_t *p, size_t len,
		      const struct sockaddr *from, socklen_t flen)
{
	n->now = now;
	n->st.datagrams_in++;
	n->st.bytes_in += len;
	if (p2p_is_server(n, from) && rv_p2p_intro_is(p, len)) {
		p2p_join_input(n, p, len);
		return 0;
	}
	return p2p_input(n, p, len, from, flen, 0);
}

int p2p_input(struct rv_p2p_node *n, const uint8_t *p, size_t len, const struct sockaddr *from, socklen_t flen,
	      int relayed)
{
	if (rv_dtls_demux(p, len) != RV_DEMUX_DTLS)     /* not DTLS: the caller's */
		return RV_EPROTO;
	struct nsess *s = p2p_sess_by_addr(n, from);
	if (s && client_hello(p, len)) {
		if (s->up && n->now >= s->since + RV_P2P_NODE_RESTART_MS) {	/* the peer started again */
			p2p_sess_end(n, s, "the peer started again");
			s = NULL;
		} else if (s->up) {
			return 0;	/* a late copy of a handshake that lost to ours */
		} else if (s->mine && s->s.state == RV_P2P_SESS_HANDSHAKE) {
			/* both opened at once: the higher peer ID gives way */
			if (!s->want_known || memcmp(n->conf.key->id, s->want, RV_P2P_HASH_LEN) < 0)
				return 0;
			uint8_t want[RV_P2P_HASH_LEN];
			memcpy(want, s->want, sizeof want);
			rv_p2p_sess_free(&s->s);
			s->used = 0;
			n->dirty &= ~(1ull << p2p_slot(n, s));
			if ((s = p2p_sess_open(n, from, flen, 0))) {
				memcpy(s->want, want, sizeof want);
				s->want_known = 1;
			}
			if (!s)
				return 0;
		}
	}
	if (!s) {
		if (!client_hello(p, len) || !(s = p2p_sess_open(n, from, flen, 0))) {
			n->st.stray++;
			return 0;
		}
	}
	/* the way the peer's datagrams come is the way back, but once a
	 * datagram came straight we answer straight: the peer switches back
	 * when it hears us (a slow handshake sent it through the server) */
	if (!relayed) {
		s->relayed = 0;
		s->direct_rx++;
	} else if (!s->direct_rx) {
		s->relayed = 1;
	}
	rv_p2p_sess_feed(&s->s, n->now, p, len);
	settle(n, s);
	return 0;
}

int rv_p2p_node_add_peer(struct rv_p2p_node *n, uint64_t now, const struct sockaddr *addr, socklen_t alen)
{
	n->now = now;
	if (p2p_sess_by_addr(n, addr))
		return -EEXIST;
	if (n->nboot < RV_P2P_NODE_BOOT && alen <= sizeof n->boot[0]) {
		size_t i = 0;
		while (i < n->nboot && !p2p_addr_eq(&n->boot[i], addr))
			i++;
		if (i == n->nboot) {
			memset(&n->boot[i], 0, sizeof n->boot[i]);
			memcpy(&n->boot[i], addr, alen);
			n->bootlen[n->nboot++] = alen;
		}
		n->boot_at = now + RV_P2P_NODE_BOOT_MS;
	}
	return p2p_sess_open(n, addr, alen, 1) ? 0 : RV_ELIMIT;
}

/* Alone: the add_peer addresses again, those without a session. */
static void boot_again(struct rv_p2p_node *n)
{
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used && n->sess[i].up)
			return;
	for (size_t i = 0; i < n->nboot; i++)
		if (!p2p_sess_by_addr(n, (const struct sockaddr *)&n->boot[i]))
			p2p_sess_open(n, (const struct sockaddr *)&n->boot[i], n->bootlen[i], 1);
}

/* ---- time ---- */

void rv_p2p_node_tick(struct rv_p2p_node *n, uint64_t now)
{
	n->now = now;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
		struct nsess *s = &n->sess[i];
		if (s->used && rv_p2p_sess_next(&s->s) <= now) {
			rv_p2p_sess_tick(&s->s, now);
			settle(n, s);
		}
	}
	if (rv_p2p_gossip_next(&n->g) <= now) {
		rv_p2p_gossip_tick(&n->g, now);
		pump_gossip(n);
	}
	p2p_join_tick(n);
	if (n->nboot && now >= n->boot_at) {
		n->boot_at = now + RV_P2P_NODE_BOOT_MS;
		boot_again(n);
	}
	for (size_t i = 0; n->st.introduced && i < RV_P2P_NODE_SESSIONS; i++) {
		struct nsess *s = &n->sess[i];
		if (s->used && s->mine && !s->up && !s->relayed && !s->direct_rx &&
		    now >= s->opened + RV_P2P_NODE_PUNCH_MS) {
			s->relayed = 1;	/* punching failed (not a byte came straight): through the server */
			n->dirty |= 1ull << i;
		}
	}
	if (n->choose_at <= now || n->next_report <= now)
		p2p_maintain(n);
	p2p_route_tick(n);
}

uint64_t rv_p2p_node_next(const struct rv_p2p_node *n)
{
	uint64_t t = n->next_report < n->choose_at ? n->next_report : n->choose_at;
	uint64_t g = rv_p2p_gossip_next(&n->g), j = p2p_join_next(n), r = p2p_route_next(n);
	if (g < t)
		t = g;
	if (r < t)
		t = r;
	if (n->nboot && n->boot_at < t)
		t = n->boot_at;
	if (j < t)
		t = j;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
		const struct nsess *s = &n->sess[i];
		if (!s->used)
			continue;
		uint64_t x = rv_p2p_sess_next(&s->s);
		if (n->st.introduced && s->mine && !s->up && !s->relayed && !s->direct_rx &&
		    s->opened + RV_P2P_NODE_PUNCH_MS < x)
			x = s->opened + RV_P2P_NODE_PUNCH_MS;
		if (x < t)
			t = x;
	}
	return t;
}

/* ---- messages of the caller's, to one neighbour ---- */

void rv_p2p_node_cut(struct rv_p2p_node *n, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN], const char *why)
{
	n->now = now;
	for (int i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used && n->sess[i].up && !memcmp(n->sess[i].s.peer_id, peer, RV_P2P_HASH_LEN))
			p2p_bad(n, &n->sess[i], why);
}

int rv_p2p_node_send_peer(struct rv_p2p_node *n, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN],
			  const uint8_t *msg, size_t len)
{
	const char *why;
	struct rv_p2p_msg m;
	if (len > RV_P2P_MSG_MAX)
		return RV_ETOOBIG;
	if (rv_p2p_msg_parse(msg, len, &m, &why) < 0 || m.type < RV_P2P_M_OBJ_GET)
		return RV_EPROTO;
	if (not_enabled(n, m.type))
		return RV_EDENIED;
	n->now = now;
	int best = -1;	/* a peer that started again has a newer session than the one dying */
	for (int i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
		struct nsess *s = &n->sess[i];
		if (s->used && s->up && !memcmp(s->s.peer_id, peer, RV_P2P_HASH_LEN) &&
		    (best < 0 || s->since > n->sess[best].since))
			best = i;
	}
	if (best < 0)
		return RV_ENOTFOUND;
	p2p_send(n, best, msg, len);
	n->st.objects_out++;
	return 0;
}

/* ---- posting ---- */

/* The gossip engine's admit hook: a restricted group's capabilities. */
static int admit(void *ud, const struct rv_p2p_env *e, const char **why)
{
	struct rv_p2p_node *n = ud;
	const uint8_t *data;
	size_t len;
	uint64_t now_ms = n->conf.wall_ms ? n->conf.wall_ms() : e->time_ms;
	return rv_p2p_cap_admit(e, n->conf.spec, n->conf.group, now_ms / 1000, &data, &len, why);
}

uint64_t p2p_nonce(struct rv_p2p_node *n)
{
	return ((uint64_t)n->conf.rnd(n->conf.rnd_ud) << 32 | n->conf.rnd(n->conf.rnd_ud)) ^ ++n->nonce;
}

int rv_p2p_node_post(struct rv_p2p_node *n, uint64_t now, uint64_t time_ms, const void *data, size_t len,
		     uint8_t id[RV_P2P_HASH_LEN])
{
	n->now = now;
	uint8_t mid[RV_P2P_HASH_LEN];
	if (!p2p_allows(n, RV_P2P_CAP_POSTING))
		return RV_EDENIED;
	if (restricted(n)) {	/* the capability goes first: n->route is free scratch here */
		long w = rv_p2p_cap_wrap(n->conf.cap, data, len, n->route, RV_P2P_PAYLOAD_MAX);
		if (w < 0)
			return (int)w;
		data = n->route;
		len = (size_t)w;
	}
	long size = rv_p2p_env_seal(n->conf.key, n->conf.group, RV_P2P_POST, time_ms, p2p_nonce(n), data, len,
				    n->env, sizeof n->env, mid);
	if (size < 0)
		return (int)size;
	int rc = rv_p2p_gossip_post(&n->g, now, n->env, (size_t)size);
	if (rc < 0)
		return rc;
	n->st.posts_sent++;
	if (id)
		memcpy(id, mid, sizeof mid);
	pump_gossip(n);
	return 0;
}

/* ---- life ---- */

static uint32_t default_rnd(void *ud)
{
	(void)ud;
	return (uint32_t)random() ^ (uint32_t)random() << 16;
}

int rv_p2p_node_new(struct rv_p2p_node **out, const struct rv_p2p_node_conf *conf, uint64_t now,
		    const char **why)
{
	struct rv_p2p_node *n = calloc(1, sizeof *n);
	if (!n)
		return *why = "out of memory", -ENOMEM;
	n->conf = *conf;
	if (!n->conf.max_neighbors || n->conf.max_neighbors > RV_P2P_NODE_SESSIONS)
		n->conf.max_neighbors = n->conf.max_neighbors ? RV_P2P_NODE_SESSIONS : 32;
	if (!n->conf.report_ms)
		n->conf.report_ms = 10000;
	if (!n->conf.rnd)
		n->conf.rnd = default_rnd;
	char err[256];
	if (rv_dtls_key_p256(&n->pkey) < 0 || rv_dtls_ctx_new(&n->ctx, n->pkey, 0, err, sizeof err) < 0) {
		rv_p2p_node_free(n);
		return *why = "cannot make the DTLS context", RV_ETLS;
	}
	rv_p2p_ring_addr(conf->key->id, n->ring);

	struct rv_p2p_gossip_conf gc;
	if (conf->gossip)
		gc = *conf->gossip;
	else
		rv_p2p_gossip_defaults(&gc);
	if (!gc.salt)
		gc.salt = rv_rd32(conf->key->id);
	if (restricted(n)) {
		gc.admit = admit;
		gc.admit_ud = n;
	}
	rv_p2p_gossip_init(&n->g, conf->group, &gc);
	rv_bmap_init(&n->known, RV_P2P_KNOWN_KEY, RV_P2P_NODE_KNOWN);
	rv_buf_init(&n->events, RV_P2P_NODE_EVENTS_MAX);
	rv_buf_init(&n->out, RV_P2P_NODE_OUT_MAX);
	n->now = now;
	p2p_join_init(n);
	n->next_report = now + (n->conf.report_ms < RV_P2P_NODE_FIRST_REPORT_MS ? n->conf.report_ms
										   : RV_P2P_NODE_FIRST_REPORT_MS);
	n->choose_at = UINT64_MAX;
	*out = n;
	return 0;
}

void rv_p2p_node_close(struct rv_p2p_node *n, uint64_t now)
{
	n->now = now;
	p2p_leave(n);
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used) {
			rv_p2p_sess_close(&n->sess[i].s, "leaving");
			drain(n, &n->sess[i]);
		}
}

void rv_p2p_node_free(struct rv_p2p_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used)
			rv_p2p_sess_free(&n->sess[i].s);
	p2p_known_free(n);
	p2p_route_free(n);
	rv_p2p_gossip_free(&n->g);
	rv_buf_free(&n->events);
	rv_buf_free(&n->out);
	rv_dtls_ctx_free(n->ctx);
	EVP_PKEY_free(n->pkey);
	free(n);
}

/* ---- what it is ---- */

void rv_p2p_node_stats(const struct rv_p2p_node *n, struct rv_p2p_node_stats *st)
{
	*st = n->st;
	st->neighbors = st->opening = 0;
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++) {
		const struct nsess *s = &n->sess[i];
		st->neighbors += s->used && s->up;
		st->opening += s->used && !s->up && s->mine;
	}
	st->known = n->known.count;
	st->estimate = n->estimate;
	st->target = n->target;
	st->gossip = n->g.st;
}

int rv_p2p_node_neighbor(const struct rv_p2p_node *n, size_t i, struct rv_p2p_node_nb *nb)
{
	for (size_t k = 0; k < RV_P2P_NODE_SESSIONS; k++) {
		const struct nsess *s = &n->sess[k];
		if (!s->used || !s->up || i--)
			continue;
		memcpy(nb->peer, s->s.peer_id, sizeof nb->peer);
		nb->addr = s->addr;
		nb->alen = s->alen;
		nb->rtt_ms = s->s.rtt_ms;
		nb->since_ms = s->since;
		nb->eager = n->g.nb[k].eager;
		nb->relayed = s->relayed;
		return 1;
	}
	return 0;
}

const uint8_t *rv_p2p_node_ring(const struct rv_p2p_node *n)
{
	return n->ring;
}
