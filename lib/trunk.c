/* trunk.c - the cluster's node-to-node trunk: handshake and frames (trunk.h). */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "err.h"
#include "router.h"
#include "trunk.h"

enum { F_HELLO = 1, F_AUTH = 2, F_MSG = 3, F_PING = 4 };

static const char label[] = "rvkit-trunk-1";

int rv_trunk_init(struct rv_trunk *t, int dialer, const char *inc, const void *key, size_t keylen)
{
	memset(t, 0, sizeof *t);
	if (!inc || !rv_cmsg_node_valid(inc) || !key || !keylen)
		return RV_EPROTO;
	t->dialer = dialer;
	t->state = RV_TRUNK_HELLO;
	t->key = key;
	t->keylen = keylen;
	memcpy(t->inc, inc, strlen(inc) + 1);
	if (RAND_bytes(t->nonce, RV_TRUNK_NONCE) != 1)
		return -EIO;
	return 0;
}

/* The proof of ROLE over NONCE, from FROM to TO. */
static void proof(const struct rv_trunk *t, char role, const uint8_t *nonce, const char *from, const char *to,
		  uint8_t out[RV_TRUNK_MAC])
{
	uint8_t msg[sizeof label + 1 + RV_TRUNK_NONCE + 2 * (RV_CMSG_NODE_MAX + 1)], *w = msg;
	size_t nf = strlen(from), nt = strlen(to);
	memcpy(w, label, sizeof label - 1);
	w += sizeof label - 1;
	*w++ = (uint8_t)role;
	memcpy(w, nonce, RV_TRUNK_NONCE);
	w += RV_TRUNK_NONCE;
	*w++ = (uint8_t)nf;
	memcpy(w, from, nf);
	w += nf;
	*w++ = (uint8_t)nt;
	memcpy(w, to, nt);
	w += nt;
	unsigned len = RV_TRUNK_MAC;
	HMAC(EVP_sha256(), t->key, (int)t->keylen, msg, (size_t)(w - msg), out, &len);
}

/* Reserve a frame of kind KIND with BODY bytes in OUT: the body's start, or NULL. */
static uint8_t *frame(struct rv_buf *out, uint8_t kind, size_t body)
{
	uint8_t *w = rv_buf_reserve(out, 5 + body);
	if (!w)
		return NULL;
	rv_wr32(w, (uint32_t)(1 + body));
	w[4] = kind;
	return w + 5;
}

static int put_hello(struct rv_trunk *t, struct rv_buf *out)
{
	size_t n = strlen(t->inc), body = 1 + RV_TRUNK_NONCE + 1 + n;
	uint8_t *w = frame(out, F_HELLO, body);
	if (!w)
		return RV_ETOOBIG;
	w[0] = 1;
	memcpy(w + 1, t->nonce, RV_TRUNK_NONCE);
	w[1 + RV_TRUNK_NONCE] = (uint8_t)n;
	memcpy(w + 2 + RV_TRUNK_NONCE, t->inc, n);
	rv_buf_commit(out, 5 + body);
	return 0;
}

static int put_auth(struct rv_trunk *t, struct rv_buf *out)
{
	uint8_t *w = frame(out, F_AUTH, RV_TRUNK_MAC);
	if (!w)
		return RV_ETOOBIG;
	proof(t, t->dialer ? 'D' : 'L', t->peer_nonce, t->inc, t->peer, w);
	rv_buf_commit(out, 5 + RV_TRUNK_MAC);
	return 0;
}

int rv_trunk_start(struct rv_trunk *t, struct rv_buf *out)
{
	if (!t->dialer || t->state != RV_TRUNK_HELLO)
		return RV_EPROTO;
	size_t n = strlen(t->inc), len = RV_TRUNK_PREFACE_LEN + 5 + 1 + RV_TRUNK_NONCE + 1 + n;
	if (!rv_buf_reserve(out, len))	/* room for both: OUT unchanged on error */
		return RV_ETOOBIG;
	rv_buf_append(out, RV_TRUNK_PREFACE, RV_TRUNK_PREFACE_LEN);
	return put_hello(t, out);
}

static int on_hello(struct rv_trunk *t, const uint8_t *b, size_t n, struct rv_buf *out)
{
	if (n < 2 + RV_TRUNK_NONCE || b[0] != 1)
		return RV_EPROTO;
	size_t il = b[1 + RV_TRUNK_NONCE];
	if (il == 0 || il > RV_CMSG_NODE_MAX || n != 2 + RV_TRUNK_NONCE + il)
		return RV_EPROTO;
	memcpy(t->peer, b + 2 + RV_TRUNK_NONCE, il);
	t->peer[il] = 0;
	if (strlen(t->peer) != il || !rv_cmsg_node_valid(t->peer))
		return RV_EPROTO;
	memcpy(t->peer_nonce, b + 1, RV_TRUNK_NONCE);
	t->state = RV_TRUNK_AUTH;
	if (t->dialer)
		return 0;
	int rc = put_hello(t, out);
	return rc < 0 ? rc : put_auth(t, out);
}

static int on_auth(struct rv_trunk *t, const uint8_t *b, size_t n, struct rv_buf *out)
{
	uint8_t want[RV_TRUNK_MAC];
	if (n != RV_TRUNK_MAC)
		return RV_EPROTO;
	/* the peer's proof: its role, over our nonce, from it to us */
	proof(t, t->dialer ? 'L' : 'D', t->nonce, t->peer, t->inc, want);
	if (CRYPTO_memcmp(want, b, RV_TRUNK_MAC) != 0)
		return RV_EDENIED;
	if (t->dialer) {
		int rc = put_auth(t, out);
		if (rc < 0)
			return rc;
	}
	t->state = RV_TRUNK_UP;
	return 0;
}

static int text_valid(const char *s)
{
	for (; *s; s++)
		if ((uint8_t)*s < 0x20 || (uint8_t)*s > 0x7e)
			return 0;
	return 1;
}

static int type_valid(uint8_t type)
{
	return type == RV_CMSG_DIRECT || type == RV_CMSG_GROUP || type == RV_CMSG_ACK || type == RV_CMSG_PIPE;
}

/* A MSG body B[0..N) into *M and *SCONN. */
static int decode_msg(const struct rv_trunk *t, const uint8_t *b, size_t n, struct rv_cmsg *m, uint64_t *sconn)
{
	if (n < RV_TRUNK_MSG_FIXED)
		return RV_EPROTO;
	memset(m, 0, sizeof *m);
	m->type = b[0];
	m->code = b[1];
	m->seq = rv_rd64(b + 2);
	m->conn = rv_rd64(b + 10);
	*sconn = rv_rd64(b + 18);
	m->count = rv_rd32(b + 26);
	const uint8_t *r = b + RV_TRUNK_MSG_FIXED, *end = b + n;
	if (!type_valid(m->type) || rv_cmsg_get_str(&r, end, m->a, RV_CMSG_ID_MAX) < 0 ||
	    rv_cmsg_get_str(&r, end, m->b, RV_CMSG_ID_MAX) < 0 || rv_cmsg_get_str(&r, end, m->c, RV_CMSG_TEXT_MAX) < 0 ||
	    (m->a[0] && !rv_id_valid(m->a)) || (m->b[0] && !rv_id_valid(m->b)) || !text_valid(m->c))
		return RV_EPROTO;
	memcpy(m->origin, t->peer, sizeof m->origin);
	m->payload = r;
	m->payload_len = (size_t)(end - r);
	return 0;
}

long rv_trunk_input(struct rv_trunk *t, const uint8_t *p, size_t n, struct rv_buf *out, rv_trunk_msg_fn fn,
		    void *ud)
{
	size_t used = 0;
	while (n - used >= 4) {
		const uint8_t *f = p + used;
		uint32_t len = rv_rd32(f);
		size_t cap = t->state == RV_TRUNK_UP ? RV_TRUNK_FRAME_MAX : RV_TRUNK_HANDSHAKE_MAX;
		if (len == 0)
			return RV_EPROTO;
		if (len > cap)
			return t->state == RV_TRUNK_UP ? RV_ETOOBIG : RV_EPROTO;
		if (n - used - 4 < len)
			break;
		const uint8_t *b = f + 5;
		size_t bn = len - 1;
		int rc;
		switch (f[4]) {
		case F_HELLO:
			rc = t->state == RV_TRUNK_HELLO ? on_hello(t, b, bn, out) : RV_EPROTO;
			break;
		case F_AUTH:
			rc = t->state == RV_TRUNK_AUTH ? on_auth(t, b, bn, out) : RV_EPROTO;
			break;
		case F_MSG: {
			struct rv_cmsg m;
			uint64_t sconn;
			if (t->state != RV_TRUNK_UP)
				return RV_EPROTO;
			if ((rc = decode_msg(t, b, bn, &m, &sconn)) < 0)
				return rc;
			used += 4 + len;
			if (fn && fn(ud, &m, sconn))
				return (long)used;
			continue;
		}
		case F_PING:
			rc = t->state == RV_TRUNK_UP && bn == 0 ? 0 : RV_EPROTO;
			t->pings_in += rc == 0;
			break;
		default:
			rc = RV_EPROTO;
		}
		if (rc < 0)
			return rc;
		used += 4 + len;
	}
	return (long)used;
}

int rv_trunk_ping(const struct rv_trunk *t, struct rv_buf *out)
{
	if (t->state != RV_TRUNK_UP)
		return RV_EPROTO;
	if (!frame(out, F_PING, 0))
		return RV_ETOOBIG;
	rv_buf_commit(out, 5);
	return 0;
}

int rv_trunk_msg_head(struct rv_buf *out, const struct rv_cmsg *m, uint64_t sconn, size_t payload_len)
{
	size_t na = strlen(m->a), nb = strlen(m->b), nc = strlen(m->c);
	if (!type_valid(m->type) || na > RV_CMSG_ID_MAX || nb > RV_CMSG_ID_MAX || nc > RV_CMSG_TEXT_MAX ||
	    (na && !rv_id_valid(m->a)) || (nb && !rv_id_valid(m->b)) || !text_valid(m->c))
		return RV_EPROTO;
	size_t head = RV_TRUNK_MSG_FIXED + 3 + na + nb + nc;
	if (1 + head + payload_len > RV_TRUNK_FRAME_MAX)
		return RV_ETOOBIG;
	uint8_t *w = rv_buf_reserve(out, 5 + head);
	if (!w)
		return RV_ETOOBIG;
	rv_wr32(w, (uint32_t)(1 + head + payload_len));
	w[4] = F_MSG;
	w += 5;
	w[0] = m->type;
	w[1] = m->code;
	rv_wr64(w + 2, m->seq);
	rv_wr64(w + 10, m->conn);
	rv_wr64(w + 18, sconn);
	rv_wr32(w + 26, m->count);
	w += RV_TRUNK_MSG_FIXED;
	*w++ = (uint8_t)na;
	memcpy(w, m->a, na);
	w += na;
	*w++ = (uint8_t)nb;
	memcpy(w, m->b, nb);
	w += nb;
	*w++ = (uint8_t)nc;
	memcpy(w, m->c, nc);
	rv_buf_commit(out, 5 + head);
	return 0;
}
