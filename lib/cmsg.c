/* cmsg.c - node-to-node cluster messages: encode, check, decode. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bytes.h"
#include "cmsg.h"
#include "err.h"
#include "router.h"

static const uint8_t magic[4] = { 'R', 'V', 'C', '2' };

int rv_cmsg_node_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (n >= RV_CMSG_NODE_MAX ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n > 0;
}

static int text_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] > 0x7e)
			return 0;
	return 1;
}

/* The fields the decoder checks, on a decoded or to-be-encoded M. */
static int fields_valid(const struct rv_cmsg *m)
{
	return m->type >= 1 && m->type <= RV_CMSG_TYPE_MAX && rv_cmsg_node_valid(m->origin) &&
	       (!m->a[0] || rv_id_valid(m->a)) && (!m->b[0] || rv_id_valid(m->b)) &&
	       strlen(m->c) <= RV_CMSG_TEXT_MAX && text_valid(m->c, strlen(m->c));
}

int rv_cmsg_key_init(struct rv_cmsg_key *k, const void *key, size_t keylen)
{
	k->ctx = NULL;
	if (!keylen)
		return RV_EPROTO;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_MAC_free(hmac);	/* the context holds its own reference */
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
				OSSL_PARAM_construct_end() };
	if (!c || !EVP_MAC_init(c, key, keylen, params)) {
		EVP_MAC_CTX_free(c);
		return -ENOMEM;
	}
	k->ctx = c;
	return 0;
}

void rv_cmsg_key_free(struct rv_cmsg_key *k)
{
	EVP_MAC_CTX_free(k->ctx);
	k->ctx = NULL;
}

/* The MAC of P under K: the context re-initialised with the key it holds. */
static int mac(struct rv_cmsg_key *k, const uint8_t *p, size_t n, uint8_t out[RV_CMSG_MAC_LEN])
{
	size_t len = 0;
	if (!k->ctx || !EVP_MAC_init(k->ctx, NULL, 0, NULL) || !EVP_MAC_update(k->ctx, p, n) ||
	    !EVP_MAC_final(k->ctx, out, &len, RV_CMSG_MAC_LEN) || len != RV_CMSG_MAC_LEN)
		return -EIO;
	return 0;
}

static void put_str(uint8_t **w, const char *s)
{
	size_t n = strlen(s);
	*(*w)++ = (uint8_t)n;
	memcpy(*w, s, n);
	*w += n;
}

int rv_cmsg_encode(struct rv_buf *out, const struct rv_cmsg *m, struct rv_cmsg_key *k)
{
	if (!fields_valid(m) || strlen(m->a) > RV_CMSG_ID_MAX || strlen(m->b) > RV_CMSG_ID_MAX)
		return RV_EPROTO;
	if (m->payload_len > RV_CMSG_PAYLOAD_MAX)
		return RV_ETOOBIG;
	size_t n = RV_CMSG_FIXED + 4 + strlen(m->origin) + strlen(m->a) + strlen(m->b) + strlen(m->c) +
		   4 + m->payload_len + RV_CMSG_MAC_LEN;
	uint8_t *start = rv_buf_reserve(out, n), *w = start;
	if (!start)
		return RV_ETOOBIG;
	memcpy(w, magic, 4);
	w[4] = m->type;
	w[5] = m->code;
	rv_wr16(w + 6, 0);
	rv_wr64(w + 8, m->seq);
	rv_wr64(w + 16, m->conn);
	rv_wr32(w + 24, m->count);
	rv_wr64(w + 28, m->nseq);
	rv_wr64(w + 36, m->ts);
	w += RV_CMSG_FIXED;
	put_str(&w, m->origin);
	put_str(&w, m->a);
	put_str(&w, m->b);
	put_str(&w, m->c);
	rv_wr32(w, (uint32_t)m->payload_len);
	w += 4;
	if (m->payload_len)
		memcpy(w, m->payload, m->payload_len);
	w += m->payload_len;
	if (mac(k, start, (size_t)(w - start), w) < 0)
		return -EIO;	/* not committed: OUT unchanged */
	rv_buf_commit(out, n);
	return 0;
}

int rv_cmsg_get_str(const uint8_t **r, const uint8_t *end, char *dst, size_t max)
{
	if (*r >= end)
		return RV_EPROTO;
	size_t n = *(*r)++;
	if (n > max || (size_t)(end - *r) < n)
		return RV_EPROTO;
	memcpy(dst, *r, n);
	dst[n] = 0;
	if (memchr(dst, 0, n))
		return RV_EPROTO;
	*r += n;
	return 0;
}

int rv_cmsg_parse(const uint8_t *p, size_t len, struct rv_cmsg *m)
{
	if (len > RV_CMSG_MAX)
		return RV_ETOOBIG;
	if (len < RV_CMSG_FIXED + 4 + 1 + 4 + RV_CMSG_MAC_LEN || memcmp(p, magic, 4) != 0 || rv_rd16(p + 6))
		return RV_EPROTO;
	const uint8_t *end = p + len - RV_CMSG_MAC_LEN, *r = p + RV_CMSG_FIXED;
	m->type = p[4];
	m->code = p[5];
	m->seq = rv_rd64(p + 8);
	m->conn = rv_rd64(p + 16);
	m->count = rv_rd32(p + 24);
	m->nseq = rv_rd64(p + 28);
	m->ts = rv_rd64(p + 36);
	if (rv_cmsg_get_str(&r, end, m->origin, RV_CMSG_NODE_MAX) < 0 || rv_cmsg_get_str(&r, end, m->a, RV_CMSG_ID_MAX) < 0 ||
	    rv_cmsg_get_str(&r, end, m->b, RV_CMSG_ID_MAX) < 0 || rv_cmsg_get_str(&r, end, m->c, RV_CMSG_TEXT_MAX) < 0 ||
	    end - r < 4)
		return RV_EPROTO;
	m->payload_len = rv_rd32(r);
	r += 4;
	if (m->payload_len > RV_CMSG_PAYLOAD_MAX || (size_t)(end - r) != m->payload_len)
		return RV_EPROTO;
	m->payload = m->payload_len ? r : NULL;
	return fields_valid(m) ? 0 : RV_EPROTO;
}

int rv_cmsg_verify(const uint8_t *p, size_t len, struct rv_cmsg_key *k)
{
	uint8_t want[RV_CMSG_MAC_LEN];
	if (len < RV_CMSG_MAC_LEN || mac(k, p, len - RV_CMSG_MAC_LEN, want) < 0)
		return RV_EDENIED;
	return CRYPTO_memcmp(want, p + len - RV_CMSG_MAC_LEN, RV_CMSG_MAC_LEN) == 0 ? 0 : RV_EDENIED;
}

int rv_cmsg_decode(const uint8_t *p, size_t len, struct rv_cmsg_key *k, struct rv_cmsg *m)
{
	int rc = rv_cmsg_parse(p, len, m);
	return rc < 0 ? rc : rv_cmsg_verify(p, len, k);
}

/* ---- the replay window ---- */

#define WORDS (RV_CMSG_REPLAY_WINDOW / 64)

struct origin {
	char name[RV_CMSG_NODE_MAX + 1];  /* the map's key */
	uint64_t top;                     /* the highest nseq seen */
	uint64_t ts;                      /* the newest ts seen */
	uint64_t seen[WORDS];             /* bit nseq % WINDOW: nseq in (top - WINDOW, top] seen */
};

void rv_cmsg_replay_init(struct rv_cmsg_replay *r)
{
	rv_map_init(&r->origins);
	r->evicted = 0;
}

void rv_cmsg_replay_free(struct rv_cmsg_replay *r)
{
	size_t i = 0;
	struct origin *o;
	while ((o = rv_map_next(&r->origins, &i, NULL)))
		free(o);
	rv_map_free(&r->origins);
}

static int stale_at(uint64_t ts, uint64_t now)
{
	return ts + RV_CMSG_REPLAY_AGE_MS < now || ts > now + RV_CMSG_REPLAY_AGE_MS;
}

static int seen(const struct origin *o, uint64_t n)
{
	return (o->seen[n / 64 % WORDS] >> (n % 64)) & 1;
}

static void mark(struct origin *o, uint64_t n)
{
	o->seen[n / 64 % WORDS] |= 1ull << (n % 64);
}

/* Move the window's top to N > o->top: the numbers it passes are unseen. */
static void advance(struct origin *o, uint64_t n)
{
	if (n - o->top >= RV_CMSG_REPLAY_WINDOW) {
		memset(o->seen, 0, sizeof o->seen);
	} else {
		for (uint64_t k = o->top + 1; k <= n; k++)
			o->seen[k / 64 % WORDS] &= ~(1ull << (k % 64));
	}
	o->top = n;
}

size_t rv_cmsg_replay_prune(struct rv_cmsg_replay *r, uint64_t now)
{
	size_t i = 0, n = 0;
	const char *key;
	struct origin *o;
	while ((o = rv_map_next(&r->origins, &i, &key))) {
		if (o->ts + RV_CMSG_REPLAY_AGE_MS < now) {
			rv_map_del(&r->origins, key);
			free(o);
			n++;
		}
	}
	return n;
}

/* Room for one more origin: the stale ones go, else the least recent one. */
static void make_room(struct rv_cmsg_replay *r, uint64_t now)
{
	if (r->origins.count < RV_CMSG_REPLAY_ORIGINS || rv_cmsg_replay_prune(r, now))
		return;
	size_t i = 0;
	struct origin *o, *old = NULL;
	while ((o = rv_map_next(&r->origins, &i, NULL)))
		if (!old || o->ts < old->ts)
			old = o;
	if (old) {
		rv_map_del(&r->origins, old->name);
		free(old);
		r->evicted++;
	}
}

enum rv_cmsg_verdict rv_cmsg_replay_check(struct rv_cmsg_replay *r, const struct rv_cmsg *m, uint64_t now)
{
	if (!m->nseq || stale_at(m->ts, now))
		return RV_CMSG_STALE;
	struct origin *o = rv_map_get(&r->origins, m->origin);
	if (!o) {
		make_room(r, now);
		o = calloc(1, sizeof *o);
		if (!o)
			return RV_CMSG_STALE;
		memcpy(o->name, m->origin, sizeof o->name);
		if (rv_map_put(&r->origins, o->name, o) < 0) {
			free(o);
			return RV_CMSG_STALE;
		}
		o->top = m->nseq;
	} else if (m->nseq > o->top) {
		advance(o, m->nseq);
	} else if (o->top - m->nseq >= RV_CMSG_REPLAY_WINDOW) {
		return RV_CMSG_STALE;
	} else if (seen(o, m->nseq)) {
		return RV_CMSG_DUP;
	}
	mark(o, m->nseq);
	if (m->ts > o->ts)
		o->ts = m->ts;
	return RV_CMSG_FRESH;
}
