/* turn.c - a TURN client allocation over STUN client transactions. */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "turn.h"

void rv_turn_init(struct rv_turn *t, const struct rv_stunc_cfg *cfg, const char *software)
{
	memset(t, 0, sizeof *t);
	rv_stunc_init(&t->tx, cfg);
	t->tx.software = software;
}

static void b_allocate(struct rv_stun_builder *b, void *ud)
{
	const struct rv_turn *t = ud;
	rv_stun_add_u32(b, RV_STUN_A_REQUESTED_TRANSPORT, 17u << 24);	/* UDP */
	if (t->req_lifetime)
		rv_stun_add_u32(b, RV_STUN_A_LIFETIME, t->req_lifetime);
}

static void b_refresh(struct rv_stun_builder *b, void *ud)
{
	const struct rv_turn *t = ud;
	rv_stun_add_u32(b, RV_STUN_A_LIFETIME, t->req_lifetime);
}

static void b_peer(struct rv_stun_builder *b, void *ud)
{
	const struct rv_turn *t = ud;
	rv_stun_add_xor_addr(b, RV_STUN_A_XOR_PEER_ADDRESS, (const struct sockaddr *)&t->req_peer);
}

static void b_bind(struct rv_stun_builder *b, void *ud)
{
	const struct rv_turn *t = ud;
	rv_stun_add_u32(b, RV_STUN_A_CHANNEL_NUMBER, (uint32_t)t->req_ch << 16);
	b_peer(b, ud);
}

int rv_turn_allocate(struct rv_turn *t, unsigned lifetime, int auth, uint64_t now)
{
	t->req_lifetime = lifetime;
	return rv_stunc_start(&t->tx, RV_STUN_ALLOCATE, b_allocate, t, auth, now);
}

int rv_turn_refresh(struct rv_turn *t, unsigned lifetime, uint64_t now)
{
	t->req_lifetime = lifetime;
	return rv_stunc_start(&t->tx, RV_STUN_REFRESH, b_refresh, t, 1, now);
}

int rv_turn_permission(struct rv_turn *t, const struct sockaddr_storage *peer, uint64_t now)
{
	t->req_peer = *peer;
	return rv_stunc_start(&t->tx, RV_STUN_CREATE_PERMISSION, b_peer, t, 1, now);
}

int rv_turn_channel_bind(struct rv_turn *t, uint16_t ch, const struct sockaddr_storage *peer, uint64_t now)
{
	t->req_ch = ch;
	t->req_peer = *peer;
	return rv_stunc_start(&t->tx, RV_STUN_CHANNEL_BIND, b_bind, t, 1, now);
}

static unsigned lifetime_of(const struct rv_stun_msg *m, unsigned dflt)
{
	const struct rv_stun_attr *a = rv_stun_get(m, RV_STUN_A_LIFETIME);
	if (!a || a->len != 4)
		return dflt;
	return rv_rd32(a->val);
}

int rv_turn_finish(struct rv_turn *t)
{
	const struct rv_stun_msg *m = &t->tx.msg;
	switch (t->tx.state) {
	case RV_STUNC_OK:
		break;
	case RV_STUNC_ERROR:
		return RV_EDENIED;
	case RV_STUNC_TIMEOUT:
		return RV_ETIMEOUT;
	default:
		return RV_EPROTO;
	}
	if (m->method == RV_STUN_REFRESH) {
		t->lifetime = lifetime_of(m, t->lifetime);
		if (!t->req_lifetime)
			t->allocated = 0;
		return 0;
	}
	if (m->method != RV_STUN_ALLOCATE)
		return 0;
	const struct rv_stun_attr *a = rv_stun_get(m, RV_STUN_A_XOR_RELAYED_ADDRESS);
	if (!a || rv_stun_addr(m, a, &t->relayed) < 0)
		return RV_EPROTO;
	a = rv_stun_get(m, RV_STUN_A_XOR_MAPPED_ADDRESS);
	if (a)
		rv_stun_addr(m, a, &t->mapped);
	t->lifetime = lifetime_of(m, 0);
	t->allocated = 1;
	return 0;
}

uint64_t rv_turn_refresh_in(unsigned lifetime)
{
	return (uint64_t)(lifetime ? lifetime : RV_TURN_LIFETIME) * 500u;
}

int rv_turn_send_build(struct rv_stun_builder *b, const struct sockaddr_storage *peer,
		       const void *data, size_t n)
{
	const uint8_t *msg;
	size_t len;
	rv_stun_begin(b, RV_STUN_SEND, RV_STUN_INDICATION, NULL);
	rv_stun_add_xor_addr(b, RV_STUN_A_XOR_PEER_ADDRESS, (const struct sockaddr *)peer);
	rv_stun_add(b, RV_STUN_A_DATA, data, n);
	return rv_stun_end(b, &msg, &len) < 0 ? RV_ETOOBIG : 0;
}

int rv_turn_data(const uint8_t *buf, size_t n, const uint8_t **d, size_t *len,
		 struct sockaddr_storage *from, uint16_t *ch)
{
	*ch = 0;
	if (rv_channel_data_parse(buf, n, ch, d, len, NULL) == 0)
		return 1;
	*ch = 0;
	struct rv_stun_msg m;
	if (rv_stun_parse(buf, n, &m) < 0 || m.method != RV_STUN_DATA || m.cls != RV_STUN_INDICATION)
		return 0;
	const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_DATA);
	const struct rv_stun_attr *p = rv_stun_get(&m, RV_STUN_A_XOR_PEER_ADDRESS);
	if (!a || !p || rv_stun_addr(&m, p, from) < 0)
		return 0;
	*d = a->val;
	*len = a->len;
	return 1;
}

void rv_turn_timers_start(struct rv_turn_timers *k, unsigned lifetime, uint64_t now)
{
	k->alloc_at = now + rv_turn_refresh_in(lifetime);
	k->perm_at = now + RV_TURN_PERMISSION_MS;
	k->chan_at = now + RV_TURN_CHANNEL_MS;
}

int rv_turn_timers_due(struct rv_turn_timers *k, unsigned lifetime, uint64_t now)
{
	int due = 0;
	if (now >= k->alloc_at) {
		due |= RV_TURN_DUE_ALLOC;
		k->alloc_at = now + rv_turn_refresh_in(lifetime);
	}
	if (now >= k->perm_at) {
		due |= RV_TURN_DUE_PERM;
		k->perm_at = now + RV_TURN_PERMISSION_MS;
	}
	if (now >= k->chan_at) {
		due |= RV_TURN_DUE_CHAN;
		k->chan_at = now + RV_TURN_CHANNEL_MS;
	}
	return due;
}
