/* p2pintro.c - the introducer's wire (p2pintro.h): building the peers'
 * requests and MEMBER attributes, parsing every message of the four
 * methods. The server's engine is p2pintrod.c. */
#include <string.h>

#include <netinet/in.h>

#include "bytes.h"
#include "err.h"
#include "p2pintro.h"

#define ID RV_P2P_INTRO_ID_LEN

int rv_p2p_intro_is(const uint8_t *p, size_t n)
{
	if (!rv_stun_is(p, n))
		return 0;
	uint16_t t = rv_rd16(p);
	uint16_t method = (uint16_t)((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2));
	return method >= RV_P2P_INTRO_M_JOIN && method <= RV_P2P_INTRO_M_LEAVE;
}

void rv_p2p_intro_unmap(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(out, sa, sizeof *s6);
	} else if (sa->sa_family == AF_INET) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
	}
}

int rv_p2p_intro_add_member(struct rv_stun_builder *b, const struct rv_p2p_intro_member *m)
{
	uint8_t v[ID + 3 + 16];
	struct sockaddr_storage ss;
	rv_p2p_intro_unmap((const struct sockaddr *)&m->addr, &ss);
	memcpy(v, m->id, ID);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		v[ID] = 4;
		memcpy(v + ID + 1, &s4->sin_port, 2);
		memcpy(v + ID + 3, &s4->sin_addr, 4);
		rv_stun_add(b, RV_P2P_INTRO_A_MEMBER, v, ID + 3 + 4);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		v[ID] = 6;
		memcpy(v + ID + 1, &s6->sin6_port, 2);
		memcpy(v + ID + 3, &s6->sin6_addr, 16);
		rv_stun_add(b, RV_P2P_INTRO_A_MEMBER, v, ID + 3 + 16);
	} else {
		return RV_EPROTO;
	}
	return 0;
}

static int member_read(const struct rv_stun_attr *a, struct rv_p2p_intro_member *m)
{
	memset(m, 0, sizeof *m);
	if (a->len == ID + 3 + 4 && a->val[ID] == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&m->addr;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_port, a->val + ID + 1, 2);
		memcpy(&s4->sin_addr, a->val + ID + 3, 4);
	} else if (a->len == ID + 3 + 16 && a->val[ID] == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m->addr;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_port, a->val + ID + 1, 2);
		memcpy(&s6->sin6_addr, a->val + ID + 3, 16);
	} else {
		return RV_EPROTO;
	}
	memcpy(m->id, a->val, ID);
	return 0;
}

/* A 32-byte attribute of TYPE into OUT: 0, or RV_EPROTO (absent, wrong size). */
static int get32(const struct rv_stun_msg *s, uint16_t type, uint8_t out[ID])
{
	const struct rv_stun_attr *a = rv_stun_get(s, type);
	if (!a || a->len != ID)
		return RV_EPROTO;
	memcpy(out, a->val, ID);
	return 0;
}

/* Every MEMBER, in order. */
static int read_members(const struct rv_stun_msg *s, struct rv_p2p_intro_msg *m)
{
	for (int i = 0; i < s->nattrs; i++) {
		if (s->attrs[i].type != RV_P2P_INTRO_A_MEMBER)
			continue;
		if (m->nmembers == RV_P2P_INTRO_GIVEN || member_read(&s->attrs[i], &m->members[m->nmembers]) < 0)
			return RV_EPROTO;
		m->nmembers++;
	}
	return 0;
}

static int read_joined(const struct rv_stun_msg *s, struct rv_p2p_intro_msg *m)
{
	const struct rv_stun_attr *x = rv_stun_get(s, RV_STUN_A_XOR_MAPPED_ADDRESS);
	const struct rv_stun_attr *l = rv_stun_get(s, RV_P2P_INTRO_A_LIFETIME);
	if (!x || !l || l->len != 4 || rv_stun_addr(s, x, &m->mapped) < 0)
		return RV_EPROTO;
	m->lifetime = rv_rd32(l->val);
	return read_members(s, m);
}

static int read_relay(const struct rv_stun_msg *s, struct rv_p2p_intro_msg *m)
{
	const struct rv_stun_attr *d = rv_stun_get(s, RV_P2P_INTRO_A_DATA);
	if (get32(s, RV_P2P_INTRO_A_GROUP, m->group) < 0 || !d || d->len > RV_P2P_INTRO_DATA_MAX ||
	    read_members(s, m) < 0 || m->nmembers != 1)
		return RV_EPROTO;
	m->data = d->val;
	m->len = d->len;
	return 0;
}

/* The COOKIE, if one came: 0, or RV_EPROTO when it is not of its size. */
static int read_cookie(const struct rv_stun_msg *s, struct rv_p2p_intro_msg *m)
{
	const struct rv_stun_attr *c = rv_stun_get(s, RV_P2P_INTRO_A_COOKIE);
	if (!c)
		return 0;
	if (c->len != RV_P2P_INTRO_COOKIE_LEN)
		return RV_EPROTO;
	memcpy(m->cookie, c->val, RV_P2P_INTRO_COOKIE_LEN);
	m->has_cookie = 1;
	return 0;
}

/* The kind of METHOD in class CLS, or 0. */
static enum rv_p2p_intro_kind kind_of(uint16_t method, int cls)
{
	switch (method) {
	case RV_P2P_INTRO_M_JOIN:
		return cls == RV_STUN_REQUEST ? RV_P2P_INTRO_JOIN : cls == RV_STUN_SUCCESS ? RV_P2P_INTRO_JOINED :
		       cls == RV_STUN_ERROR ? RV_P2P_INTRO_REFUSED : 0;
	case RV_P2P_INTRO_M_INTRO: return cls == RV_STUN_INDICATION ? RV_P2P_INTRO_INTRO : 0;
	case RV_P2P_INTRO_M_RELAY: return cls == RV_STUN_INDICATION ? RV_P2P_INTRO_RELAY : 0;
	case RV_P2P_INTRO_M_LEAVE: return cls == RV_STUN_INDICATION ? RV_P2P_INTRO_LEAVE : 0;
	}
	return 0;
}

int rv_p2p_intro_parse(const uint8_t *p, size_t n, struct rv_p2p_intro_msg *m)
{
	struct rv_stun_msg s;
	memset(m, 0, sizeof *m);
	if (rv_stun_parse(p, n, &s) < 0 || s.len != n || rv_stun_check_fingerprint(&s) != 1 ||
	    !(m->kind = kind_of(s.method, s.cls)))
		return RV_EPROTO;
	memcpy(m->tid, s.tid, sizeof m->tid);
	switch (m->kind) {
	case RV_P2P_INTRO_JOIN:
	case RV_P2P_INTRO_LEAVE:
		if (get32(&s, RV_P2P_INTRO_A_GROUP, m->group) < 0 || get32(&s, RV_P2P_INTRO_A_PEER_ID, m->id) < 0)
			return RV_EPROTO;
		return read_cookie(&s, m);
	case RV_P2P_INTRO_JOINED:
		return read_joined(&s, m) < 0 ? RV_EPROTO : read_cookie(&s, m);
	case RV_P2P_INTRO_REFUSED:
		m->code = rv_stun_error_code(&s, m->reason, sizeof m->reason);
		return m->code >= 300 && m->code <= 699 ? read_cookie(&s, m) : RV_EPROTO;
	case RV_P2P_INTRO_INTRO:
		return read_members(&s, m) < 0 || m->nmembers != 1 ? RV_EPROTO : 0;
	case RV_P2P_INTRO_RELAY:
		return read_relay(&s, m);
	}
	return RV_EPROTO;
}

/* GROUP, PEER-ID and a COOKIE if any: JOIN and LEAVE. */
static int group_id_build(struct rv_stun_builder *b, uint16_t method, int cls, const uint8_t *group,
			  const uint8_t *id, const uint8_t *cookie, const uint8_t *tid)
{
	rv_stun_begin(b, method, cls, tid);
	rv_stun_add(b, RV_P2P_INTRO_A_GROUP, group, ID);
	rv_stun_add(b, RV_P2P_INTRO_A_PEER_ID, id, ID);
	if (cookie)
		rv_stun_add(b, RV_P2P_INTRO_A_COOKIE, cookie, RV_P2P_INTRO_COOKIE_LEN);
	rv_stun_add_fingerprint(b);
	return b->err;
}

int rv_p2p_intro_join_build(struct rv_stun_builder *b, const uint8_t group[ID], const uint8_t id[ID],
			    const uint8_t *cookie, const uint8_t *tid)
{
	return group_id_build(b, RV_P2P_INTRO_M_JOIN, RV_STUN_REQUEST, group, id, cookie, tid);
}

int rv_p2p_intro_leave_build(struct rv_stun_builder *b, const uint8_t group[ID], const uint8_t id[ID])
{
	return group_id_build(b, RV_P2P_INTRO_M_LEAVE, RV_STUN_INDICATION, group, id, NULL, NULL);
}

int rv_p2p_intro_relay_build(struct rv_stun_builder *b, const uint8_t group[ID],
			     const struct rv_p2p_intro_member *to, const void *data, size_t n,
			     const uint8_t *tid)
{
	if (n > RV_P2P_INTRO_DATA_MAX)
		return RV_ETOOBIG;
	rv_stun_begin(b, RV_P2P_INTRO_M_RELAY, RV_STUN_INDICATION, tid);
	rv_stun_add(b, RV_P2P_INTRO_A_GROUP, group, ID);
	if (rv_p2p_intro_add_member(b, to) < 0)
		return RV_EPROTO;
	rv_stun_add(b, RV_P2P_INTRO_A_DATA, data, n);
	rv_stun_add_fingerprint(b);
	return b->err;
}
