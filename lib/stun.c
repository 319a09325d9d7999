/* stun.c - STUN/TURN message codec. */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "bytes.h"
#include "err.h"
#include "stun.h"

/* The 14-bit message type interleaves method and class bits (RFC 8489 5). */
static uint16_t type_of(uint16_t method, int cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
			  ((cls & 1) << 4) | ((cls & 2) << 7));
}

int rv_stun_is(const uint8_t *p, size_t n)
{
	return n >= RV_STUN_HEADER && (p[0] & 0xC0) == 0 && rv_rd32(p + 4) == RV_STUN_MAGIC;
}

int rv_stun_parse(const uint8_t *p, size_t n, struct rv_stun_msg *m)
{
	if (n < RV_STUN_HEADER)
		return -EAGAIN;
	if (!rv_stun_is(p, n))
		return RV_EPROTO;
	uint16_t t = rv_rd16(p), len = rv_rd16(p + 2);
	if (len % 4)
		return RV_EPROTO;
	if (RV_STUN_HEADER + (size_t)len > RV_STUN_MAX)
		return RV_ETOOBIG;
	if (n < RV_STUN_HEADER + (size_t)len)
		return -EAGAIN;
	memset(m, 0, sizeof *m);
	m->method = (uint16_t)((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2));
	m->cls = (uint8_t)(((t >> 4) & 1) | ((t >> 7) & 2));
	memcpy(m->tid, p + 8, 12);
	m->raw = p;
	m->len = RV_STUN_HEADER + (size_t)len;
	size_t off = RV_STUN_HEADER;
	while (off < m->len) {
		if (m->len - off < 4)
			return RV_EPROTO;
		uint16_t at = rv_rd16(p + off), al = rv_rd16(p + off + 2);
		size_t padded = ((size_t)al + 3) & ~(size_t)3;
		if (padded > m->len - off - 4)
			return RV_EPROTO;
		if (m->nattrs == RV_STUN_MAX_ATTRS)
			return RV_ETOOBIG;
		m->attrs[m->nattrs++] = (struct rv_stun_attr){ at, al, p + off + 4, off };
		off += 4 + padded;
	}
	return 0;
}

const struct rv_stun_attr *rv_stun_get(const struct rv_stun_msg *m, uint16_t type)
{
	for (int i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

int rv_stun_addr(const struct rv_stun_msg *m, const struct rv_stun_attr *a,
		 struct sockaddr_storage *out)
{
	int xor = a->type != RV_STUN_A_MAPPED_ADDRESS && a->type != RV_STUN_A_ALTERNATE_SERVER &&
		  a->type != RV_STUN_A_OTHER_ADDRESS && a->type != RV_STUN_A_RESPONSE_ORIGIN;
	if (a->len < 8)
		return RV_EPROTO;
	uint8_t fam = a->val[1];
	uint16_t port = rv_rd16(a->val + 2);
	uint8_t magic[16];
	rv_wr32(magic, RV_STUN_MAGIC);
	memcpy(magic + 4, m->tid, 12);
	memset(out, 0, sizeof *out);
	if (xor)
		port ^= (uint16_t)(RV_STUN_MAGIC >> 16);
	if (fam == 0x01 && a->len == 8) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		uint8_t ip[4];
		for (int i = 0; i < 4; i++)
			ip[i] = (uint8_t)(a->val[4 + i] ^ (xor ? magic[i] : 0));
		memcpy(&s4->sin_addr, ip, 4);
		return 0;
	}
	if (fam == 0x02 && a->len == 20) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		for (int i = 0; i < 16; i++)
			s6->sin6_addr.s6_addr[i] = (uint8_t)(a->val[4 + i] ^ (xor ? magic[i] : 0));
		return 0;
	}
	return RV_EPROTO;
}

int rv_stun_error_code(const struct rv_stun_msg *m, char *reason, size_t len)
{
	const struct rv_stun_attr *a = rv_stun_get(m, RV_STUN_A_ERROR_CODE);
	if (!a || a->len < 4)
		return 0;
	int code = (a->val[2] & 7) * 100 + a->val[3];
	if (reason && len) {
		size_t n = (size_t)a->len - 4 < len - 1 ? (size_t)a->len - 4 : len - 1;
		memcpy(reason, a->val + 4, n);
		reason[n] = 0;
	}
	return code;
}

/* HMAC over the message up to attribute A, with the header length field set
 * as if A were the last attribute (RFC 8489 14.5, 14.6). */
static int check_mac(const struct rv_stun_msg *m, uint16_t type, const EVP_MD *md, size_t maclen_want,
		     const uint8_t *key, size_t keylen)
{
	const struct rv_stun_attr *a = rv_stun_get(m, type);
	if (!a)
		return -1;
	if (a->len != maclen_want)
		return 0;
	uint8_t copy[RV_STUN_MAX], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	memcpy(copy, m->raw, a->off);
	rv_wr16(copy + 2, (uint16_t)(a->off + 4 + maclen_want - RV_STUN_HEADER));
	if (!HMAC(md, key, (int)keylen, copy, a->off, mac, &maclen))
		return 0;
	return maclen == maclen_want && CRYPTO_memcmp(mac, a->val, maclen_want) == 0;
}

int rv_stun_check_integrity(const struct rv_stun_msg *m, const uint8_t *key, size_t keylen)
{
	return check_mac(m, RV_STUN_A_MESSAGE_INTEGRITY, EVP_sha1(), 20, key, keylen);
}

int rv_stun_check_integrity_sha256(const struct rv_stun_msg *m, const uint8_t *key, size_t keylen)
{
	return check_mac(m, RV_STUN_A_MESSAGE_INTEGRITY_SHA256, EVP_sha256(), 32, key, keylen);
}

int rv_stun_offers_sha256(const struct rv_stun_msg *m)
{
	const struct rv_stun_attr *a = rv_stun_get(m, RV_STUN_A_PASSWORD_ALGORITHMS);
	/* a list of: algorithm u16, parameters length u16, parameters (padded) */
	for (size_t off = 0; a && off + 4 <= a->len;) {
		uint16_t alg = rv_rd16(a->val + off), plen = rv_rd16(a->val + off + 2);
		if (alg == 0x0002)
			return 1;
		off += 4 + (((size_t)plen + 3) & ~(size_t)3);
	}
	return 0;
}

int rv_stun_check_fingerprint(const struct rv_stun_msg *m)
{
	const struct rv_stun_attr *a = rv_stun_get(m, RV_STUN_A_FINGERPRINT);
	if (!a)
		return -1;
	if (a->len != 4 || a->off + 8 != m->len)
		return 0;
	uint32_t crc = (uint32_t)crc32(0L, m->raw, (uInt)a->off) ^ 0x5354554Eu;
	return crc == rv_rd32(a->val);
}

void rv_stun_begin(struct rv_stun_builder *b, uint16_t method, int cls, const uint8_t *tid)
{
	b->len = RV_STUN_HEADER;
	b->err = 0;
	rv_wr16(b->buf, type_of(method, cls));
	rv_wr16(b->buf + 2, 0);
	rv_wr32(b->buf + 4, RV_STUN_MAGIC);
	if (tid)
		memcpy(b->buf + 8, tid, 12);
	else if (RAND_bytes(b->buf + 8, 12) != 1)
		b->err = -EIO;
}

void rv_stun_add(struct rv_stun_builder *b, uint16_t type, const void *val, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	if (b->err || len > 0xFFFF || b->len + 4 + padded > sizeof b->buf) {
		if (!b->err)
			b->err = RV_ETOOBIG;
		return;
	}
	rv_wr16(b->buf + b->len, type);
	rv_wr16(b->buf + b->len + 2, (uint16_t)len);
	if (len)
		memcpy(b->buf + b->len + 4, val, len);
	memset(b->buf + b->len + 4 + len, 0, padded - len);
	b->len += 4 + padded;
	rv_wr16(b->buf + 2, (uint16_t)(b->len - RV_STUN_HEADER));
}

void rv_stun_add_u32(struct rv_stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t p[4];
	rv_wr32(p, v);
	rv_stun_add(b, type, p, 4);
}

void rv_stun_add_str(struct rv_stun_builder *b, uint16_t type, const char *s)
{
	rv_stun_add(b, type, s, strlen(s));
}

void rv_stun_add_error(struct rv_stun_builder *b, int code, const char *reason)
{
	uint8_t v[4 + 128] = { 0, 0, (uint8_t)(code / 100 & 7), (uint8_t)(code % 100) };
	size_t len = strlen(reason) < 128 ? strlen(reason) : 128;
	memcpy(v + 4, reason, len);
	rv_stun_add(b, RV_STUN_A_ERROR_CODE, v, 4 + len);
}

void rv_stun_add_xor_addr(struct rv_stun_builder *b, uint16_t type, const struct sockaddr *sa)
{
	uint8_t v[20], magic[16];
	rv_wr32(magic, RV_STUN_MAGIC);
	memcpy(magic + 4, b->buf + 8, 12);
	v[0] = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		v[1] = 0x01;
		rv_wr16(v + 2, (uint16_t)(ntohs(s4->sin_port) ^ (RV_STUN_MAGIC >> 16)));
		const uint8_t *ip = (const uint8_t *)&s4->sin_addr;
		for (int i = 0; i < 4; i++)
			v[4 + i] = ip[i] ^ magic[i];
		rv_stun_add(b, type, v, 8);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		v[1] = 0x02;
		rv_wr16(v + 2, (uint16_t)(ntohs(s6->sin6_port) ^ (RV_STUN_MAGIC >> 16)));
		for (int i = 0; i < 16; i++)
			v[4 + i] = s6->sin6_addr.s6_addr[i] ^ magic[i];
		rv_stun_add(b, type, v, 20);
	}
}

static void add_mac(struct rv_stun_builder *b, uint16_t type, const EVP_MD *md, size_t maclen_want,
		    const uint8_t *key, size_t keylen)
{
	uint8_t mac[EVP_MAX_MD_SIZE] = { 0 };
	unsigned maclen = 0;
	if (b->err || b->len + 4 + maclen_want > sizeof b->buf) {
		if (!b->err)
			b->err = RV_ETOOBIG;
		return;
	}
	rv_wr16(b->buf + 2, (uint16_t)(b->len + 4 + maclen_want - RV_STUN_HEADER));	/* as if added */
	if (!HMAC(md, key, (int)keylen, b->buf, b->len, mac, &maclen)) {
		b->err = -EIO;
		return;
	}
	rv_stun_add(b, type, mac, maclen_want);
}

void rv_stun_add_integrity(struct rv_stun_builder *b, const uint8_t *key, size_t keylen)
{
	add_mac(b, RV_STUN_A_MESSAGE_INTEGRITY, EVP_sha1(), 20, key, keylen);
}

void rv_stun_add_integrity_sha256(struct rv_stun_builder *b, const uint8_t *key, size_t keylen)
{
	add_mac(b, RV_STUN_A_MESSAGE_INTEGRITY_SHA256, EVP_sha256(), 32, key, keylen);
}

void rv_stun_add_fingerprint(struct rv_stun_builder *b)
{
	if (b->err || b->len + 8 > sizeof b->buf) {
		if (!b->err)
			b->err = RV_ETOOBIG;
		return;
	}
	rv_wr16(b->buf + 2, (uint16_t)(b->len + 8 - RV_STUN_HEADER));
	uint32_t crc = (uint32_t)crc32(0L, b->buf, (uInt)b->len) ^ 0x5354554Eu;
	rv_stun_add_u32(b, RV_STUN_A_FINGERPRINT, crc);
}

int rv_stun_end(struct rv_stun_builder *b, const uint8_t **msg, size_t *len)
{
	if (b->err)
		return b->err;
	*msg = b->buf;
	*len = b->len;
	return (int)b->len;
}

const uint8_t *rv_stun_tid(const struct rv_stun_builder *b)
{
	return b->buf + 8;
}

static void long_term_key(const EVP_MD *md, const char *user, const char *realm, const char *pass,
			  uint8_t *key)
{
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, md, NULL);
	EVP_DigestUpdate(c, user, strlen(user));
	EVP_DigestUpdate(c, ":", 1);
	EVP_DigestUpdate(c, realm, strlen(realm));
	EVP_DigestUpdate(c, ":", 1);
	EVP_DigestUpdate(c, pass, strlen(pass));
	EVP_DigestFinal_ex(c, key, &len);
	EVP_MD_CTX_free(c);
}

void rv_stun_long_term_key(const char *user, const char *realm, const char *pass, uint8_t key[16])
{
	long_term_key(EVP_md5(), user, realm, pass, key);
}

void rv_stun_long_term_key_sha256(const char *user, const char *realm, const char *pass, uint8_t key[32])
{
	long_term_key(EVP_sha256(), user, realm, pass, key);
}

int rv_channel_data_parse(const uint8_t *p, size_t n, uint16_t *ch, const uint8_t **data,
			  size_t *len, size_t *total)
{
	if (n < 4)
		return -EAGAIN;
	uint16_t c = rv_rd16(p), l = rv_rd16(p + 2);
	if (c < 0x4000 || c > 0x4FFF)
		return RV_EPROTO;
	if (n < 4 + (size_t)l)
		return -EAGAIN;
	*ch = c;
	*data = p + 4;
	*len = l;
	if (total)
		*total = 4 + (((size_t)l + 3) & ~(size_t)3);
	return 0;
}

int rv_channel_data_build(uint8_t *out, size_t cap, uint16_t ch, const void *data,
			  size_t len, int pad)
{
	size_t total = 4 + (pad ? ((len + 3) & ~(size_t)3) : len);
	if (len > 0xFFFF || total > cap)
		return RV_ETOOBIG;
	rv_wr16(out, ch);
	rv_wr16(out + 2, (uint16_t)len);
	memcpy(out + 4, data, len);
	memset(out + 4 + len, 0, total - 4 - len);
	return (int)total;
}
