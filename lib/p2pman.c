/* p2pman.c - the manifest of a replicated object (p2pman.h). */
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "err.h"
#include "p2pman.h"

#define MAGIC "RVO1"

static uint64_t nchunks(uint64_t size, uint32_t chunk_size)
{
	return size / chunk_size + (size % chunk_size != 0);
}

uint32_t rv_p2p_man_chunk_size(uint64_t size)
{
	for (uint32_t c = RV_P2P_MAN_CHUNK_DEFAULT; c <= RV_P2P_CHUNK_MAX; c *= 2)
		if (nchunks(size, c) <= RV_P2P_MAN_CHUNKS)
			return c;
	return 0;
}

size_t rv_p2p_man_len(uint64_t size, uint32_t chunk_size, size_t name_len)
{
	if (chunk_size < RV_P2P_MAN_CHUNK_MIN || chunk_size > RV_P2P_CHUNK_MAX || name_len > 255 ||
	    nchunks(size, chunk_size) > RV_P2P_MAN_CHUNKS)
		return 0;
	return RV_P2P_MAN_HEAD + name_len + (size_t)nchunks(size, chunk_size) * 32 + RV_P2P_SIG_LEN;
}

static int name_ok(const uint8_t *s, size_t n)
{
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int bad(const char **why, const char *what)
{
	*why = what;
	return RV_EPROTO;
}

int rv_p2p_man_parse(const uint8_t *p, size_t n, struct rv_p2p_man *m, const char **why)
{
	memset(m, 0, sizeof *m);
	if (n < RV_P2P_MAN_HEAD + RV_P2P_SIG_LEN || n > RV_P2P_MAN_MAX)
		return bad(why, "manifest length out of range");
	if (memcmp(p, MAGIC, 4))
		return bad(why, "not a manifest");
	m->pub = p + 4;
	m->size = rv_rd64(p + 36);
	m->chunk_size = rv_rd32(p + 44);
	m->time_ms = rv_rd64(p + 48);
	m->name_len = p[56];
	m->name = p + RV_P2P_MAN_HEAD;
	size_t want = rv_p2p_man_len(m->size, m->chunk_size, m->name_len);
	if (!want)
		return bad(why, "manifest field past its cap");
	if (want != n)
		return bad(why, "manifest length mismatch");
	if (!name_ok(m->name, m->name_len))
		return bad(why, "bad name in manifest");
	m->nchunks = (uint32_t)nchunks(m->size, m->chunk_size);
	m->hashes = m->name + m->name_len;
	if (rv_p2p_verify(m->pub, p, n - RV_P2P_SIG_LEN, p + n - RV_P2P_SIG_LEN) < 0) {
		*why = "bad manifest signature";
		return RV_EDENIED;
	}
	rv_p2p_peer_id(m->pub, m->author);
	rv_p2p_sha256(p, n, m->id);
	return 0;
}

long rv_p2p_man_build(const struct rv_p2p_key *k, uint64_t size, uint32_t chunk_size, uint64_t time_ms,
		      const char *name, const uint8_t *hashes, uint8_t *out, size_t cap)
{
	size_t name_len = strlen(name);
	if (name_len > 255 || !name_ok((const uint8_t *)name, name_len) || chunk_size < RV_P2P_MAN_CHUNK_MIN ||
	    chunk_size > RV_P2P_CHUNK_MAX)
		return RV_EPROTO;
	size_t len = rv_p2p_man_len(size, chunk_size, name_len);
	if (!len || len > cap)
		return RV_ETOOBIG;
	memcpy(out, MAGIC, 4);
	memcpy(out + 4, k->pub, 32);
	rv_wr64(out + 36, size);
	rv_wr32(out + 44, chunk_size);
	rv_wr64(out + 48, time_ms);
	out[56] = (uint8_t)name_len;
	memcpy(out + RV_P2P_MAN_HEAD, name, name_len);
	size_t hl = (size_t)nchunks(size, chunk_size) * 32;
	if (hl)
		memcpy(out + RV_P2P_MAN_HEAD + name_len, hashes, hl);
	if (rv_p2p_sign(k, out, len - RV_P2P_SIG_LEN, out + len - RV_P2P_SIG_LEN) < 0)
		return RV_EPROTO;
	return (long)len;
}

size_t rv_p2p_man_chunk_len(const struct rv_p2p_man *m, uint32_t i)
{
	uint64_t off = (uint64_t)i * m->chunk_size;
	return (size_t)(m->size - off < m->chunk_size ? m->size - off : m->chunk_size);
}

int rv_p2p_man_check(const struct rv_p2p_man *m, uint32_t i, const uint8_t *data, size_t len)
{
	uint8_t h[32];
	if (i >= m->nchunks || len != rv_p2p_man_chunk_len(m, i))
		return RV_EPROTO;
	rv_p2p_sha256(data, len, h);
	return CRYPTO_memcmp(h, m->hashes + (size_t)i * 32, 32) ? RV_EPROTO : 0;
}
