/* p2pspec.c - peer group specs (p2pspec.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "b32.h"
#include "bytes.h"
#include "err.h"
#include "p2pspec.h"

#define PREFIX "rvg1:"
#define PREFIX_LEN 5
/* The most TLV bytes a spec can hold, and the most base32 can carry. */
#define TLV_MAX (3 + 2 + RV_P2P_NAME_MAX + 4 + 2 + RV_P2P_UNIQUE_LEN + \
		 RV_P2P_OWNERS_MAX * (2 + RV_P2P_KEY_LEN) + 2 + 18)
#define DECODED_MAX ((RV_P2P_SPEC_MAX - PREFIX_LEN) * 5 / 8)
_Static_assert(PREFIX_LEN + (TLV_MAX * 8 + 4) / 5 <= RV_P2P_SPEC_MAX, "every spec fits its text cap");

enum { T_VERSION = 1, T_NAME, T_CAPS, T_UNIQUE, T_OWNER, T_LAN };

/* A name is printable: no control bytes (UTF-8 is not checked further). */
static int name_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > RV_P2P_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

static int field(struct rv_p2p_spec *s, int type, const uint8_t *v, size_t n, const char **why)
{
	switch (type) {
	case T_VERSION:
		if (n != 1 || v[0] < 1 || v[0] > RV_P2P_SPEC_VERSION)
			return *why = "unsupported spec version", RV_EPROTO;
		s->version = v[0];
		return 0;
	case T_NAME:
		if (!name_ok(v, n))
			return *why = "bad group name", RV_EPROTO;
		memcpy(s->name, v, n);
		s->name[n] = 0;
		return 0;
	case T_CAPS:
		if (n != 2 || (rv_rd16(v) & ~RV_P2P_CAP_ALL))
			return *why = "unknown capabilities", RV_EPROTO;
		s->caps = rv_rd16(v);
		return 0;
	case T_UNIQUE:
		if (n != RV_P2P_UNIQUE_LEN)
			return *why = "bad unique tag", RV_EPROTO;
		memcpy(s->unique, v, n);
		s->has_unique = 1;
		return 0;
	case T_OWNER:
		if (n != RV_P2P_KEY_LEN)
			return *why = "bad owner key", RV_EPROTO;
		if (s->nowners == RV_P2P_OWNERS_MAX)
			return *why = "too many owner keys", RV_EPROTO;
		if (s->nowners && memcmp(s->owners[s->nowners - 1], v, n) >= 0)
			return *why = "owner keys out of order", RV_EPROTO;
		memcpy(s->owners[s->nowners++], v, n);
		return 0;
	case T_LAN:
		if (n != 6 && n != 18)
			return *why = "bad LAN address", RV_EPROTO;
		s->lan_family = n == 6 ? 4 : 6;
		memcpy(s->lan_addr, v, n - 2);
		s->lan_port = rv_rd16(v + n - 2);
		if (s->lan_port == 0)
			return *why = "bad LAN address", RV_EPROTO;
		return 0;
	default:
		return *why = "unknown spec field", RV_EPROTO;
	}
}

static int parse_tlv(const uint8_t *p, size_t n, struct rv_p2p_spec *s, const char **why)
{
	int last = 0;
	unsigned seen = 0;
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < n;) {
		if (n - i < 2 || n - i - 2 < p[i + 1])
			return *why = "truncated spec", RV_EPROTO;
		int type = p[i];
		if (type < last || (type == last && type != T_OWNER))
			return *why = "spec fields out of order", RV_EPROTO;
		int rc = field(s, type, p + i + 2, p[i + 1], why);
		if (rc < 0)
			return rc;
		last = type;
		seen |= 1u << type;
		i += 2 + (size_t)p[i + 1];
	}
	if (!(seen & (1u << T_VERSION)) || !(seen & (1u << T_NAME)) || !(seen & (1u << T_CAPS)))
		return *why = "spec lacks version, name or capabilities", RV_EPROTO;
	return 0;
}

int rv_p2p_spec_parse(const char *text, size_t len, struct rv_p2p_spec *s, const char **why)
{
	uint8_t tlv[DECODED_MAX];
	if (len > RV_P2P_SPEC_MAX)
		return *why = "spec too long", RV_ETOOBIG;
	if (len < PREFIX_LEN || memcmp(text, PREFIX, PREFIX_LEN))
		return *why = "not a group spec (rvg1:...)", RV_EPROTO;
	long n = rv_b32_decode(text + PREFIX_LEN, len - PREFIX_LEN, tlv, sizeof tlv);
	if (n < 0)
		return *why = "spec is not lowercase base32", RV_EPROTO;
	return parse_tlv(tlv, (size_t)n, s, why);
}

static size_t put(uint8_t *p, size_t o, int type, const void *v, size_t n)
{
	p[o] = (uint8_t)type;
	p[o + 1] = (uint8_t)n;
	memcpy(p + o + 2, v, n);
	return o + 2 + n;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, RV_P2P_KEY_LEN);
}

/* The TLV bytes of S into P (TLV_MAX bytes): their count, or RV_EPROTO. */
static long encode_tlv(struct rv_p2p_spec *s, uint8_t *p, const char **why)
{
	size_t o = 0, nlen = strnlen(s->name, sizeof s->name);
	uint8_t v[18];
	if (s->version < 1 || s->version > RV_P2P_SPEC_VERSION)
		return *why = "unsupported spec version", RV_EPROTO;
	if (nlen > RV_P2P_NAME_MAX || !name_ok((const uint8_t *)s->name, nlen))
		return *why = "bad group name", RV_EPROTO;
	if (s->caps & ~RV_P2P_CAP_ALL)
		return *why = "unknown capabilities", RV_EPROTO;
	if (s->nowners < 0 || s->nowners > RV_P2P_OWNERS_MAX)
		return *why = "too many owner keys", RV_EPROTO;
	qsort(s->owners, (size_t)s->nowners, RV_P2P_KEY_LEN, cmp_key);
	for (int i = 1; i < s->nowners; i++)
		if (!memcmp(s->owners[i - 1], s->owners[i], RV_P2P_KEY_LEN)) {
			memmove(s->owners[i], s->owners[i + 1], (size_t)(s->nowners - i - 1) * RV_P2P_KEY_LEN);
			s->nowners--;
			i--;
		}
	o = put(p, o, T_VERSION, &s->version, 1);
	o = put(p, o, T_NAME, s->name, nlen);
	rv_wr16(v, s->caps);
	o = put(p, o, T_CAPS, v, 2);
	if (s->has_unique)
		o = put(p, o, T_UNIQUE, s->unique, RV_P2P_UNIQUE_LEN);
	for (int i = 0; i < s->nowners; i++)
		o = put(p, o, T_OWNER, s->owners[i], RV_P2P_KEY_LEN);
	if (s->lan_family) {
		size_t alen = s->lan_family == 4 ? 4 : 16;
		if ((s->lan_family != 4 && s->lan_family != 6) || s->lan_port == 0)
			return *why = "bad LAN address", RV_EPROTO;
		memcpy(v, s->lan_addr, alen);
		rv_wr16(v + alen, s->lan_port);
		o = put(p, o, T_LAN, v, alen + 2);
	}
	return (long)o;
}

int rv_p2p_spec_format(struct rv_p2p_spec *s, char *out, size_t len, const char **why)
{
	uint8_t tlv[TLV_MAX];
	long n = encode_tlv(s, tlv, why);
	if (n < 0)
		return (int)n;
	size_t chars = PREFIX_LEN + ((size_t)n * 8 + 4) / 5;   /* within RV_P2P_SPEC_MAX */
	if (chars + 1 > len)
		return *why = "no room for the spec", RV_ETOOBIG;
	memcpy(out, PREFIX, PREFIX_LEN);
	rv_b32_encode(tlv, (size_t)n, out + PREFIX_LEN);
	out[chars] = 0;
	return (int)chars;
}

int rv_p2p_group_id(struct rv_p2p_spec *s, uint8_t id[RV_P2P_ID_LEN], const char **why)
{
	uint8_t tlv[TLV_MAX];
	long n = encode_tlv(s, tlv, why);
	if (n < 0)
		return (int)n;
	SHA256(tlv, (size_t)n, id);
	return 0;
}

void rv_p2p_group_hash(const uint8_t id[RV_P2P_ID_LEN], uint8_t out[RV_P2P_ID_LEN])
{
	SHA256(id, RV_P2P_ID_LEN, out);
}

int rv_p2p_spec_allows(const struct rv_p2p_spec *s, uint16_t cap)
{
	if (s->version == 1)	/* version 1 had no replication or multicast bits: both on */
		cap &= (uint16_t)~(RV_P2P_CAP_REPLICATION | RV_P2P_CAP_MULTICAST);
	return (s->caps & cap) == cap;
}
