/* p2pmsg.c - peer group messages (p2pmsg.h). */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pmsg.h"

#define ID 32
#define HELLO_LEN RV_P2P_HELLO_SIZE
#define PEER_HEAD (ID + 2 + 1 + 2)       /* a REPORT entry before its address */

static int bad(const char **why, const char *what)
{
	*why = what;
	return RV_EPROTO;
}

/* A count byte and N entries of SIZE bytes filling P[1..N) exactly. */
static int list(const uint8_t *p, size_t n, size_t size, size_t *count, const char **why)
{
	if (n < 2)
		return bad(why, "truncated message");
	*count = p[1];
	if (*count > RV_P2P_LIST_MAX)
		return bad(why, "list too long");
	if (n != 2 + *count * size)
		return bad(why, "message length mismatch");
	return 0;
}

/* REPORT: a count, then entries of id, age, family, port and an address
 * of 4 or 16 bytes, filling the message exactly. */
static int report(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why)
{
	if (n < 2)
		return bad(why, "truncated message");
	m->n = p[1];
	if (m->n > RV_P2P_LIST_MAX)
		return bad(why, "list too long");
	size_t off = 2;
	for (size_t i = 0; i < m->n; i++) {
		if (n - off < PEER_HEAD)
			return bad(why, "message length mismatch");
		struct rv_p2p_peer_seen *e = &m->peers[i];
		e->id = p + off;
		e->age_s = rv_rd16(p + off + ID);
		e->family = p[off + ID + 2];
		e->port = rv_rd16(p + off + ID + 3);
		if (e->family != 4 && e->family != 6)
			return bad(why, "unknown address family");
		size_t alen = e->family == 4 ? 4 : 16;
		if (n - off - PEER_HEAD < alen)
			return bad(why, "message length mismatch");
		e->ip = p + off + PEER_HEAD;
		off += PEER_HEAD + alen;
	}
	return off == n ? 0 : bad(why, "message length mismatch");
}

#define RANGE 8
#define OBJ_HEAD (1 + ID)

struct rv_p2p_range rv_p2p_msg_range(const struct rv_p2p_msg *m, size_t i)
{
	struct rv_p2p_range r = { rv_rd32(m->ranges + i * RANGE), rv_rd32(m->ranges + i * RANGE + 4) };
	return r;
}

uint32_t rv_p2p_msg_key(const struct rv_p2p_msg *m, size_t i)
{
	return rv_rd32(m->keys + i * 4);
}

/* CAST_MAP's tail after its ranges: a count and that many seqs, then
 * the hops of each sub-stream or nothing, filling the message exactly. */
static int map_keys(const uint8_t *p, size_t n, size_t off, struct rv_p2p_msg *m, const char **why)
{
	if (n < off + 1)
		return bad(why, "truncated message");
	m->nkeys = p[off];
	if (m->nkeys > RV_P2P_CAST_KEYS)
		return bad(why, "list too long");
	size_t end = off + 1 + m->nkeys * 4;
	if (n != end && n != end + RV_P2P_CAST_SUBS)
		return bad(why, "message length mismatch");
	m->keys = p + off + 1;
	m->cast_hops = n == end ? NULL : p + end;
	return 0;
}

/* The flags a ranges message of TYPE may carry (OBJ_HAVE and CAST_MAP:
 * any, a peer ignores those it does not know). */
static uint8_t ranges_flags(uint8_t type)
{
	return type == RV_P2P_M_OBJ_WANT ? 0 : type == RV_P2P_M_CAST_PULL ? RV_P2P_CAST_PULL_LAST : 0xff;
}

/* OBJ_HAVE, OBJ_WANT, CAST_MAP, CAST_PULL: flags, a count and that many
 * ranges, none empty or past u32, filling the message exactly (CAST_MAP:
 * then its keyframe starts). */
static int obj_ranges(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why)
{
	if (n < OBJ_HEAD + 3)
		return bad(why, "truncated message");
	m->flags = p[OBJ_HEAD];
	m->n = rv_rd16(p + OBJ_HEAD + 1);
	if (m->n > RV_P2P_RANGES_MAX)
		return bad(why, "list too long");
	size_t end = OBJ_HEAD + 3 + m->n * RANGE;
	if (m->type == RV_P2P_M_CAST_MAP) {
		int rc = n < end ? bad(why, "message length mismatch") : map_keys(p, n, end, m, why);
		if (rc < 0)
			return rc;
	} else if (n != end) {
		return bad(why, "message length mismatch");
	}
	if (m->flags & ~ranges_flags(m->type))
		return bad(why, "unknown flags");
	m->ranges = p + OBJ_HEAD + 3;
	for (size_t i = 0; i < m->n; i++) {
		struct rv_p2p_range r = rv_p2p_msg_range(m, i);
		if (r.count == 0 || r.first > UINT32_MAX - r.count)
			return bad(why, "bad chunk range");
	}
	return 0;
}

/* The live streams' messages (type 17 and up), but for the ranges'. */
static int cast(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why)
{
	switch (m->type) {
	case RV_P2P_M_CAST_FRAG: {
		if (n < OBJ_HEAD + 6)
			return bad(why, "truncated message");
		m->index = rv_rd32(p + OBJ_HEAD);
		m->flags = p[OBJ_HEAD + 4];
		if (m->flags & ~(RV_P2P_FRAG_KEY | RV_P2P_FRAG_PULLED | RV_P2P_FRAG_SIGNED))
			return bad(why, "unknown flags");
		size_t at = OBJ_HEAD + 5 + (m->flags & RV_P2P_FRAG_SIGNED ? RV_P2P_SIG_LEN : 0);
		if (n < at + 1)
			return bad(why, "truncated message");
		m->sig = m->flags & RV_P2P_FRAG_SIGNED ? p + OBJ_HEAD + 5 : NULL;
		m->data = p + at;
		m->data_len = n - at;
		if (m->data_len > RV_P2P_CAST_FRAG_MAX)
			return bad(why, "fragment too long");
		return 0;
	}
	case RV_P2P_M_CAST_GRANT:
		if (n != OBJ_HEAD + 2)
			return bad(why, "message length mismatch");
		m->asked = p[OBJ_HEAD];
		m->flags = p[OBJ_HEAD + 1];
		return 0;
	case RV_P2P_M_CAST_PUSH:
	case RV_P2P_M_CAST_KEY:
		if (n != OBJ_HEAD + 1)
			return bad(why, "message length mismatch");
		m->flags = m->type == RV_P2P_M_CAST_PUSH ? p[OBJ_HEAD] : 0;
		m->hops = m->type == RV_P2P_M_CAST_KEY ? p[OBJ_HEAD] : 0;
		if (m->hops > RV_P2P_TTL_MAX)
			return bad(why, "route TTL past the maximum");
		return 0;
	case RV_P2P_M_CAST_END:
		if (n != OBJ_HEAD + 4)
			return bad(why, "message length mismatch");
		m->index = rv_rd32(p + OBJ_HEAD);
		return 0;
	default:	/* CAST_INFO */
		if (n < OBJ_HEAD + 1)
			return bad(why, "truncated message");
		m->data = p + OBJ_HEAD;
		m->data_len = n - OBJ_HEAD;
		if (m->data_len > RV_P2P_CAST_INFO_MAX)
			return bad(why, "announce too long");
		return 0;
	}
}

/* The replicated objects' and live streams' messages (type 12 and up). */
static int obj(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why)
{
	if (n < OBJ_HEAD)
		return bad(why, "truncated message");
	m->obj = p + 1;
	switch (m->type) {
	case RV_P2P_M_OBJ_GET:
		if (n != OBJ_HEAD + 4)
			return bad(why, "message length mismatch");
		m->offset = rv_rd32(p + OBJ_HEAD);
		return 0;
	case RV_P2P_M_OBJ_MAN:
		if (n < OBJ_HEAD + 9)
			return bad(why, "truncated message");
		m->total = rv_rd32(p + OBJ_HEAD);
		m->offset = rv_rd32(p + OBJ_HEAD + 4);
		m->data = p + OBJ_HEAD + 8;
		m->data_len = n - OBJ_HEAD - 8;
		if (m->total > RV_P2P_MAN_MAX || m->data_len > RV_P2P_PIECE_MAX || m->offset >= m->total ||
		    m->data_len > m->total - m->offset)
			return bad(why, "bad manifest piece");
		return 0;
	case RV_P2P_M_OBJ_HAVE:
	case RV_P2P_M_OBJ_WANT:
	case RV_P2P_M_CAST_MAP:
	case RV_P2P_M_CAST_PULL:
		return obj_ranges(p, n, m, why);
	case RV_P2P_M_CAST_FRAG:
	case RV_P2P_M_CAST_PUSH:
	case RV_P2P_M_CAST_KEY:
	case RV_P2P_M_CAST_INFO:
	case RV_P2P_M_CAST_END:
	case RV_P2P_M_CAST_GRANT:
		return cast(p, n, m, why);
	default:	/* OBJ_CHUNK */
		if (n < OBJ_HEAD + 5)
			return bad(why, "truncated message");
		m->index = rv_rd32(p + OBJ_HEAD);
		m->data = p + OBJ_HEAD + 4;
		m->data_len = n - OBJ_HEAD - 4;
		if (m->data_len > RV_P2P_CHUNK_MAX)
			return bad(why, "chunk too long");
		return 0;
	}
}

int rv_p2p_msg_parse(const uint8_t *p, size_t n, struct rv_p2p_msg *m, const char **why)
{
	int rc = 0;
	if (n > RV_P2P_MSG_MAX)
		return *why = "message too long", RV_ETOOBIG;
	if (n == 0)
		return bad(why, "empty message");
	memset(m, 0, sizeof *m);
	m->type = p[0];
	switch (m->type) {
	case RV_P2P_M_HELLO:
		if (n != HELLO_LEN)
			return bad(why, "message length mismatch");
		m->key = p + 1;
		m->proof = p + 1 + ID;
		m->sig = p + 1 + 2 * ID;
		m->flags = p[HELLO_LEN - 1];
		return 0;
	case RV_P2P_M_REPORT:
		return report(p, n, m, why);
	case RV_P2P_M_ASK_CLOSE:
	case RV_P2P_M_PRUNE:
		return n == 1 ? 0 : bad(why, "message length mismatch");
	case RV_P2P_M_POST:
		if (n < 2)
			return bad(why, "truncated message");
		m->env = p + 1;
		m->env_len = n - 1;
		return 0;
	case RV_P2P_M_IHAVE:
	case RV_P2P_M_IWANT:
	case RV_P2P_M_IDONTWANT:
		if ((rc = list(p, n, ID, &m->n, why)) < 0)
			return rc;
		for (size_t i = 0; i < m->n; i++)
			m->ids[i] = p + 2 + i * ID;
		return 0;
	case RV_P2P_M_ROUTE:
		if (n < 4 + ID + 1)
			return bad(why, "truncated message");
		m->mode = p[1];
		m->ttl = p[2];
		m->hops = p[3];
		if (m->mode != RV_P2P_TO_PEER && m->mode != RV_P2P_TO_NEAREST)
			return bad(why, "unknown route mode");
		if (m->ttl > RV_P2P_TTL_MAX || m->hops > RV_P2P_TTL_MAX)
			return bad(why, "route TTL past the maximum");
		m->dst = p + 4;
		m->env = p + 4 + ID;
		m->env_len = n - 4 - ID;
		return 0;
	case RV_P2P_M_PING:
	case RV_P2P_M_PONG:
		if (n != 9)
			return bad(why, "message length mismatch");
		m->stamp = rv_rd64(p + 1);
		return 0;
	case RV_P2P_M_OBJ_GET:
	case RV_P2P_M_OBJ_MAN:
	case RV_P2P_M_OBJ_HAVE:
	case RV_P2P_M_OBJ_WANT:
	case RV_P2P_M_OBJ_CHUNK:
	case RV_P2P_M_CAST_FRAG:
	case RV_P2P_M_CAST_MAP:
	case RV_P2P_M_CAST_PULL:
	case RV_P2P_M_CAST_PUSH:
	case RV_P2P_M_CAST_KEY:
	case RV_P2P_M_CAST_INFO:
	case RV_P2P_M_CAST_END:
	case RV_P2P_M_CAST_GRANT:
		return obj(p, n, m, why);
	default:
		return bad(why, "unknown message type");
	}
}

/* Room for N bytes in OUT (CAP) within the message cap, or 0. */
static int room(size_t cap, size_t n)
{
	return n <= cap && n <= RV_P2P_MSG_MAX;
}

long rv_p2p_msg_hello(uint8_t *out, size_t cap, const uint8_t key[32], const uint8_t proof[32],
		      const uint8_t sig[64], uint8_t flags)
{
	if (!room(cap, HELLO_LEN))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_HELLO;
	memcpy(out + 1, key, ID);
	memcpy(out + 1 + ID, proof, ID);
	memcpy(out + 1 + 2 * ID, sig, 64);
	out[HELLO_LEN - 1] = flags;
	return HELLO_LEN;
}

long rv_p2p_msg_report(uint8_t *out, size_t cap, const struct rv_p2p_peer_seen *peers, size_t n)
{
	if (n > RV_P2P_LIST_MAX)
		return RV_ETOOBIG;
	size_t len = 2;
	for (size_t i = 0; i < n; i++) {
		if (peers[i].family != 4 && peers[i].family != 6)
			return RV_EPROTO;
		len += PEER_HEAD + (peers[i].family == 4 ? 4 : 16);
	}
	if (!room(cap, len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_REPORT;
	out[1] = (uint8_t)n;
	uint8_t *q = out + 2;
	for (size_t i = 0; i < n; i++) {
		size_t alen = peers[i].family == 4 ? 4 : 16;
		memcpy(q, peers[i].id, ID);
		rv_wr16(q + ID, peers[i].age_s);
		q[ID + 2] = peers[i].family;
		rv_wr16(q + ID + 3, peers[i].port);
		memcpy(q + PEER_HEAD, peers[i].ip, alen);
		q += PEER_HEAD + alen;
	}
	return (long)len;
}

long rv_p2p_msg_signal(uint8_t *out, size_t cap, enum rv_p2p_msg_type type)
{
	if (type != RV_P2P_M_ASK_CLOSE && type != RV_P2P_M_PRUNE)
		return RV_EPROTO;
	if (!room(cap, 1))
		return RV_ETOOBIG;
	out[0] = (uint8_t)type;
	return 1;
}

long rv_p2p_msg_post(uint8_t *out, size_t cap, const uint8_t *env, size_t len)
{
	if (len == 0 || !room(cap, 1 + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_POST;
	memcpy(out + 1, env, len);
	return (long)(1 + len);
}

long rv_p2p_msg_ids(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t *ids, size_t n)
{
	size_t len = 2 + n * ID;
	if (type != RV_P2P_M_IHAVE && type != RV_P2P_M_IWANT && type != RV_P2P_M_IDONTWANT)
		return RV_EPROTO;
	if (n > RV_P2P_LIST_MAX || !room(cap, len))
		return RV_ETOOBIG;
	out[0] = (uint8_t)type;
	out[1] = (uint8_t)n;
	if (n)
		memcpy(out + 2, ids, n * ID);
	return (long)len;
}

long rv_p2p_msg_route(uint8_t *out, size_t cap, enum rv_p2p_route_mode mode, uint8_t ttl, uint8_t hops,
		      const uint8_t dst[32], const uint8_t *env, size_t len)
{
	if (ttl > RV_P2P_TTL_MAX || hops > RV_P2P_TTL_MAX ||
	    (mode != RV_P2P_TO_PEER && mode != RV_P2P_TO_NEAREST))
		return RV_EPROTO;
	if (len == 0 || !room(cap, 4 + ID + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_ROUTE;
	out[1] = (uint8_t)mode;
	out[2] = ttl;
	out[3] = hops;
	memcpy(out + 4, dst, ID);
	memcpy(out + 4 + ID, env, len);
	return (long)(4 + ID + len);
}

long rv_p2p_msg_ping(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, uint64_t stamp)
{
	if (type != RV_P2P_M_PING && type != RV_P2P_M_PONG)
		return RV_EPROTO;
	if (!room(cap, 9))
		return RV_ETOOBIG;
	out[0] = (uint8_t)type;
	rv_wr64(out + 1, stamp);
	return 9;
}

long rv_p2p_msg_obj_get(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t offset)
{
	if (!room(cap, OBJ_HEAD + 4))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_OBJ_GET;
	memcpy(out + 1, obj, ID);
	rv_wr32(out + OBJ_HEAD, offset);
	return OBJ_HEAD + 4;
}

long rv_p2p_msg_obj_man(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t total, uint32_t offset,
			const uint8_t *piece, size_t len)
{
	if (total > RV_P2P_MAN_MAX || offset >= total || len > total - offset)
		return RV_EPROTO;
	if (len == 0 || len > RV_P2P_PIECE_MAX || !room(cap, OBJ_HEAD + 8 + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_OBJ_MAN;
	memcpy(out + 1, obj, ID);
	rv_wr32(out + OBJ_HEAD, total);
	rv_wr32(out + OBJ_HEAD + 4, offset);
	memcpy(out + OBJ_HEAD + 8, piece, len);
	return (long)(OBJ_HEAD + 8 + len);
}

/* The ranges R (N) at Q. */
static void put_ranges(uint8_t *q, const struct rv_p2p_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rv_wr32(q + i * RANGE, r[i].first);
		rv_wr32(q + i * RANGE + 4, r[i].count);
	}
}

static int ranges_bad(const struct rv_p2p_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].count == 0 || r[i].first > UINT32_MAX - r[i].count)
			return 1;
	return 0;
}

long rv_p2p_msg_obj_ranges(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t obj[32],
			   uint8_t flags, const struct rv_p2p_range *r, size_t n)
{
	size_t len = OBJ_HEAD + 3 + n * RANGE;
	if ((type != RV_P2P_M_OBJ_HAVE && type != RV_P2P_M_OBJ_WANT && type != RV_P2P_M_CAST_PULL) ||
	    (flags & ~ranges_flags((uint8_t)type)) || ranges_bad(r, n))
		return RV_EPROTO;
	if (n > RV_P2P_RANGES_MAX || !room(cap, len))
		return RV_ETOOBIG;
	out[0] = (uint8_t)type;
	memcpy(out + 1, obj, ID);
	out[OBJ_HEAD] = flags;
	rv_wr16(out + OBJ_HEAD + 1, (uint16_t)n);
	put_ranges(out + OBJ_HEAD + 3, r, n);
	return (long)len;
}

long rv_p2p_msg_cast_map(uint8_t *out, size_t cap, const uint8_t stream[32], uint8_t flags,
			 const struct rv_p2p_range *r, size_t n, const uint32_t *keys, size_t nk,
			 const uint8_t *hops)
{
	size_t len = OBJ_HEAD + 3 + n * RANGE + 1 + nk * 4 + (hops ? RV_P2P_CAST_SUBS : 0);
	if (ranges_bad(r, n))
		return RV_EPROTO;
	if (n > RV_P2P_RANGES_MAX || nk > RV_P2P_CAST_KEYS || !room(cap, len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_CAST_MAP;
	memcpy(out + 1, stream, ID);
	out[OBJ_HEAD] = flags;
	rv_wr16(out + OBJ_HEAD + 1, (uint16_t)n);
	put_ranges(out + OBJ_HEAD + 3, r, n);
	uint8_t *q = out + OBJ_HEAD + 3 + n * RANGE;
	q[0] = (uint8_t)nk;
	for (size_t i = 0; i < nk; i++)
		rv_wr32(q + 1 + i * 4, keys[i]);
	if (hops)
		memcpy(q + 1 + nk * 4, hops, RV_P2P_CAST_SUBS);
	return (long)len;
}

long rv_p2p_msg_cast_frag(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t seq, uint8_t flags,
			  const uint8_t *data, size_t len)
{
	return rv_p2p_msg_cast_frag_sig(out, cap, stream, seq, flags, NULL, data, len);
}

long rv_p2p_msg_cast_frag_sig(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t seq, uint8_t flags,
			      const uint8_t *sig, const uint8_t *data, size_t len)
{
	size_t head = OBJ_HEAD + 5 + (sig ? RV_P2P_SIG_LEN : 0);
	if (flags & ~(RV_P2P_FRAG_KEY | RV_P2P_FRAG_PULLED))
		return RV_EPROTO;
	if (len == 0 || len > RV_P2P_CAST_FRAG_MAX || !room(cap, head + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_CAST_FRAG;
	memcpy(out + 1, stream, ID);
	rv_wr32(out + OBJ_HEAD, seq);
	out[OBJ_HEAD + 4] = (uint8_t)(flags | (sig ? RV_P2P_FRAG_SIGNED : 0));
	if (sig)
		memcpy(out + OBJ_HEAD + 5, sig, RV_P2P_SIG_LEN);
	memcpy(out + head, data, len);
	return (long)(head + len);
}

long rv_p2p_msg_cast_grant(uint8_t *out, size_t cap, const uint8_t stream[32], uint8_t asked, uint8_t mask)
{
	if (!room(cap, OBJ_HEAD + 2))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_CAST_GRANT;
	memcpy(out + 1, stream, ID);
	out[OBJ_HEAD] = asked;
	out[OBJ_HEAD + 1] = mask;
	return OBJ_HEAD + 2;
}

long rv_p2p_msg_cast_byte(uint8_t *out, size_t cap, enum rv_p2p_msg_type type, const uint8_t stream[32],
			  uint8_t v)
{
	if ((type != RV_P2P_M_CAST_PUSH && type != RV_P2P_M_CAST_KEY) ||
	    (type == RV_P2P_M_CAST_KEY && v > RV_P2P_TTL_MAX))
		return RV_EPROTO;
	if (!room(cap, OBJ_HEAD + 1))
		return RV_ETOOBIG;
	out[0] = (uint8_t)type;
	memcpy(out + 1, stream, ID);
	out[OBJ_HEAD] = v;
	return OBJ_HEAD + 1;
}

long rv_p2p_msg_cast_info(uint8_t *out, size_t cap, const uint8_t stream[32], const uint8_t *data, size_t len)
{
	if (len == 0 || len > RV_P2P_CAST_INFO_MAX || !room(cap, OBJ_HEAD + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_CAST_INFO;
	memcpy(out + 1, stream, ID);
	memcpy(out + OBJ_HEAD, data, len);
	return (long)(OBJ_HEAD + len);
}

long rv_p2p_msg_cast_end(uint8_t *out, size_t cap, const uint8_t stream[32], uint32_t end)
{
	if (!room(cap, OBJ_HEAD + 4))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_CAST_END;
	memcpy(out + 1, stream, ID);
	rv_wr32(out + OBJ_HEAD, end);
	return OBJ_HEAD + 4;
}

long rv_p2p_msg_obj_chunk(uint8_t *out, size_t cap, const uint8_t obj[32], uint32_t index, const uint8_t *data,
			  size_t len)
{
	if (len == 0 || len > RV_P2P_CHUNK_MAX || !room(cap, OBJ_HEAD + 4 + len))
		return RV_ETOOBIG;
	out[0] = RV_P2P_M_OBJ_CHUNK;
	memcpy(out + 1, obj, ID);
	rv_wr32(out + OBJ_HEAD, index);
	memcpy(out + OBJ_HEAD + 4, data, len);
	return (long)(OBJ_HEAD + 4 + len);
}

int rv_p2p_queue_put(struct rv_buf *q, const uint8_t peer[32], const uint8_t *msg, long len)
{
	if (len <= 0 || len > RV_P2P_MSG_MAX)
		return RV_ETOOBIG;
	uint8_t *p = rv_buf_reserve(q, ID + 4 + (size_t)len);
	if (!p)
		return RV_ETOOBIG;
	memcpy(p, peer, ID);
	rv_wr32(p + ID, (uint32_t)len);
	memcpy(p + ID + 4, msg, (size_t)len);
	rv_buf_commit(q, ID + 4 + (size_t)len);
	return 0;
}

long rv_p2p_queue_take(struct rv_buf *q, uint8_t peer[32], uint8_t *buf, size_t cap)
{
	if (rv_buf_size(q) < ID + 4)
		return 0;
	const uint8_t *p = rv_buf_head(q);
	size_t len = rv_rd32(p + ID);
	if (len > cap) {
		rv_buf_consume(q, ID + 4 + len);
		return RV_ETOOBIG;
	}
	memcpy(peer, p, ID);
	memcpy(buf, p + ID + 4, len);
	rv_buf_consume(q, ID + 4 + len);
	return (long)len;
}
