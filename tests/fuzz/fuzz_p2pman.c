/* fuzz_p2pman.c - the manifest of a replicated object (lib/p2pman.c).
 *
 * Input grammar: "u8 mode | rest".
 *   mode even: REST is a manifest as a peer would send it. When it parses,
 *     its length is the one its fields call for, its ID is SHA-256 of REST,
 *     its author SHA-256 of its key, every pointer stays inside REST, the
 *     chunks' lengths add up to its size, and every field is within its cap;
 *     a refusal says why, and is RV_EPROTO or RV_EDENIED.
 *   mode odd: REST is "size u32 | chunk_size u16 (x 64) | name_len u8 |
 *     name | hashes": a manifest is built of those fields by the harness's
 *     key; when the builder takes them, the result parses back to the same
 *     fields, and one byte flipped (chosen by the last input byte) makes it
 *     refused. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pman.h"

static struct rv_p2p_key key;
static uint8_t out[1 << 20];

static int inside(const uint8_t *p, size_t len, const uint8_t *d, size_t n)
{
	return p >= d && p + len <= d + n;
}

static void parsed(const uint8_t *d, size_t n)
{
	struct rv_p2p_man m;
	const char *why = NULL;
	int rc = rv_p2p_man_parse(d, n, &m, &why);
	if (rc < 0) {
		assert((rc == RV_EPROTO || rc == RV_EDENIED) && why && *why);
		return;
	}
	assert(rv_p2p_man_len(m.size, m.chunk_size, m.name_len) == n);
	assert(m.chunk_size >= RV_P2P_MAN_CHUNK_MIN && m.chunk_size <= RV_P2P_CHUNK_MAX);
	assert(m.nchunks <= RV_P2P_MAN_CHUNKS && m.name_len <= 255);
	assert(inside(m.pub, 32, d, n) && inside(m.name, m.name_len, d, n) &&
	       inside(m.hashes, (size_t)m.nchunks * 32, d, n));
	uint8_t id[32], author[32];
	rv_p2p_sha256(d, n, id);
	rv_p2p_peer_id(m.pub, author);
	assert(!memcmp(id, m.id, 32) && !memcmp(author, m.author, 32));
	uint64_t total = 0;
	for (uint32_t i = 0; i < m.nchunks; i++) {
		size_t len = rv_p2p_man_chunk_len(&m, i);
		assert(len >= 1 && len <= m.chunk_size);
		total += len;
	}
	assert(total == m.size);
}

static void built(const uint8_t *d, size_t n)
{
	if (n < 7)
		return;
	uint64_t size = rv_rd32(d);
	uint32_t cs = (uint32_t)rv_rd16(d + 4) * 64;
	size_t name_len = d[6];
	if (n < 7 + name_len)
		return;
	char name[256];
	memcpy(name, d + 7, name_len);
	name[name_len] = 0;
	const uint8_t *hashes = d + 7 + name_len;
	size_t hl = n - 7 - name_len;
	if (cs == 0 || size / cs + (size % cs != 0) > hl / 32)
		return;	/* not enough hashes given */
	long len = rv_p2p_man_build(&key, size, cs, 42, name, hashes, out, sizeof out);
	if (len < 0) {
		assert(len == RV_EPROTO || len == RV_ETOOBIG);
		return;
	}
	struct rv_p2p_man m;
	const char *why;
	assert(rv_p2p_man_parse(out, (size_t)len, &m, &why) == 0);
	assert(m.size == size && m.chunk_size == cs && m.time_ms == 42 && m.name_len == strlen(name));
	assert(!memcmp(m.name, name, m.name_len) && !memcmp(m.author, key.id, 32));
	assert(!memcmp(m.hashes, hashes, (size_t)m.nchunks * 32));
	size_t flip = d[n - 1] % (size_t)len;
	out[flip] ^= 0x01;
	assert(rv_p2p_man_parse(out, (size_t)len, &m, &why) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!key.pkey) {
		uint8_t seed[32] = { 1, 2, 3 };
		assert(rv_p2p_key_from_seed(&key, seed) == 0);
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		parsed(data + 1, size - 1);
	else
		built(data + 1, size - 1);
	return 0;
}
