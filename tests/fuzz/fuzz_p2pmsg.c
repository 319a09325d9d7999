/* fuzz_p2pmsg.c - peer group messages (lib/p2pmsg.c).
 *
 * Input grammar: the whole input is one message as it comes out of a peer
 * session. When it parses, it is rebuilt from the parsed fields with the
 * builders, and the bytes must come back exactly: no field is lost or
 * invented, and every pointer stays inside the input. A refusal must come
 * with a reason. Every type is rebuilt, the live streams' (CAST_*) too. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "p2pmsg.h"

static uint8_t out[RV_P2P_MSG_MAX];

static int inside(const uint8_t *p, size_t len, const uint8_t *d, size_t n)
{
	return p >= d && p + len <= d + n;
}

static long rebuild(const struct rv_p2p_msg *m, const uint8_t *d, size_t n)
{
	uint8_t ids[RV_P2P_LIST_MAX * 32];
	switch (m->type) {
	case RV_P2P_M_HELLO:
		assert(inside(m->key, 32, d, n) && inside(m->proof, 32, d, n) && inside(m->sig, 64, d, n));
		return rv_p2p_msg_hello(out, sizeof out, m->key, m->proof, m->sig, m->flags);
	case RV_P2P_M_REPORT:
		for (size_t i = 0; i < m->n; i++)
			assert(inside(m->peers[i].id, 32, d, n));
		return rv_p2p_msg_report(out, sizeof out, m->peers, m->n);
	case RV_P2P_M_ASK_CLOSE:
	case RV_P2P_M_PRUNE:
		return rv_p2p_msg_signal(out, sizeof out, m->type);
	case RV_P2P_M_POST:
		assert(inside(m->env, m->env_len, d, n));
		return rv_p2p_msg_post(out, sizeof out, m->env, m->env_len);
	case RV_P2P_M_IHAVE:
	case RV_P2P_M_IWANT:
	case RV_P2P_M_IDONTWANT:
		for (size_t i = 0; i < m->n; i++) {
			assert(inside(m->ids[i], 32, d, n));
			memcpy(ids + 32 * i, m->ids[i], 32);
		}
		return rv_p2p_msg_ids(out, sizeof out, m->type, ids, m->n);
	case RV_P2P_M_ROUTE:
		assert(inside(m->dst, 32, d, n) && inside(m->env, m->env_len, d, n));
		return rv_p2p_msg_route(out, sizeof out, m->mode, m->ttl, m->hops, m->dst, m->env, m->env_len);
	case RV_P2P_M_PING:
	case RV_P2P_M_PONG:
		return rv_p2p_msg_ping(out, sizeof out, m->type, m->stamp);
	case RV_P2P_M_OBJ_GET:
		assert(inside(m->obj, 32, d, n));
		return rv_p2p_msg_obj_get(out, sizeof out, m->obj, m->offset);
	case RV_P2P_M_OBJ_MAN:
		assert(inside(m->obj, 32, d, n) && inside(m->data, m->data_len, d, n));
		assert(m->offset < m->total && m->data_len <= m->total - m->offset && m->total <= RV_P2P_MAN_MAX);
		return rv_p2p_msg_obj_man(out, sizeof out, m->obj, m->total, m->offset, m->data, m->data_len);
	case RV_P2P_M_OBJ_HAVE:
	case RV_P2P_M_OBJ_WANT:
	case RV_P2P_M_CAST_MAP:
	case RV_P2P_M_CAST_PULL: {
		static struct rv_p2p_range r[RV_P2P_RANGES_MAX];
		uint32_t keys[RV_P2P_CAST_KEYS];
		assert(inside(m->obj, 32, d, n) && m->n <= RV_P2P_RANGES_MAX && inside(m->ranges, m->n * 8, d, n));
		for (size_t i = 0; i < m->n; i++) {
			r[i] = rv_p2p_msg_range(m, i);
			assert(r[i].count && r[i].first <= UINT32_MAX - r[i].count);
		}
		if (m->type != RV_P2P_M_CAST_MAP)
			return rv_p2p_msg_obj_ranges(out, sizeof out, m->type, m->obj, m->flags, r, m->n);
		assert(m->nkeys <= RV_P2P_CAST_KEYS && inside(m->keys, m->nkeys * 4, d, n) &&
		       (!m->cast_hops || inside(m->cast_hops, RV_P2P_CAST_SUBS, d, n)));
		for (size_t i = 0; i < m->nkeys; i++)
			keys[i] = rv_p2p_msg_key(m, i);
		return rv_p2p_msg_cast_map(out, sizeof out, m->obj, m->flags, r, m->n, keys, m->nkeys, m->cast_hops);
	}
	case RV_P2P_M_CAST_FRAG:
		assert(inside(m->obj, 32, d, n) && inside(m->data, m->data_len, d, n));
		assert(m->data_len >= 1 && m->data_len <= RV_P2P_CAST_FRAG_MAX);
		assert(!m->sig == !(m->flags & RV_P2P_FRAG_SIGNED) && (!m->sig || inside(m->sig, RV_P2P_SIG_LEN, d, n)));
		return rv_p2p_msg_cast_frag_sig(out, sizeof out, m->obj, m->index, m->flags & ~RV_P2P_FRAG_SIGNED, m->sig,
						m->data, m->data_len);
	case RV_P2P_M_CAST_PUSH:
	case RV_P2P_M_CAST_KEY:
		assert(inside(m->obj, 32, d, n));
		return rv_p2p_msg_cast_byte(out, sizeof out, m->type, m->obj,
					    m->type == RV_P2P_M_CAST_PUSH ? m->flags : m->hops);
	case RV_P2P_M_CAST_GRANT:
		assert(inside(m->obj, 32, d, n));
		return rv_p2p_msg_cast_grant(out, sizeof out, m->obj, m->asked, m->flags);
	case RV_P2P_M_CAST_INFO:
		assert(inside(m->obj, 32, d, n) && inside(m->data, m->data_len, d, n));
		assert(m->data_len >= 1 && m->data_len <= RV_P2P_CAST_INFO_MAX);
		return rv_p2p_msg_cast_info(out, sizeof out, m->obj, m->data, m->data_len);
	case RV_P2P_M_CAST_END:
		assert(inside(m->obj, 32, d, n));
		return rv_p2p_msg_cast_end(out, sizeof out, m->obj, m->index);
	case RV_P2P_M_OBJ_CHUNK:
		assert(inside(m->obj, 32, d, n) && inside(m->data, m->data_len, d, n));
		assert(m->data_len >= 1 && m->data_len <= RV_P2P_CHUNK_MAX);
		return rv_p2p_msg_obj_chunk(out, sizeof out, m->obj, m->index, m->data, m->data_len);
	}
	assert(!"parsed an unknown type");
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rv_p2p_msg m;
	const char *why = NULL;
	int rc = rv_p2p_msg_parse(data, size, &m, &why);
	if (rc < 0) {
		assert((rc == RV_EPROTO || rc == RV_ETOOBIG) && why && *why);
		return 0;
	}
	assert(m.n <= RV_P2P_RANGES_MAX);
	long len = rebuild(&m, data, size);
	assert(len == (long)size && !memcmp(out, data, size));
	return 0;
}
