/* fuzz_dgram.c - ICE over TCP's first bytes and framing: rv_sniff with
 * RV_SNIFF_STUN (lib/sniff.c) and rv_dgram_next (lib/dgram.c), as
 * rvserver's TCP port reads a connection, on arbitrary bytes.
 *
 * Input grammar: byte 0 is a chunk size (1-256) and the rest is a byte
 * stream from a peer. Sniffing: every prefix's answer is MORE until one
 * decides, and every longer prefix decides the same (10 bytes always
 * decide); STUN only when asked for. Framing: the stream is cut into
 * datagrams (at most 1500 bytes) twice, in one piece and fed in chunks of
 * that size with the bytes not yet whole kept between them (as
 * cmd/rvserver/server.c's ice_input does), and both agree: the same
 * datagrams (count and a hash of their bytes) and the same outcome (a bad
 * length or not); each datagram is 1 to 1500 bytes, and what is kept is
 * never a whole datagram. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dgram.h"
#include "err.h"
#include "sniff.h"

#define MAX RV_SNIFF_STUN_MAX

struct tally {
	size_t n;
	uint64_t hash;
	int bad;
};

/* Cut P[0..N) as far as it goes: the bytes taken. */
static size_t cut(const uint8_t *p, size_t n, struct tally *t)
{
	size_t off = 0;
	const uint8_t *pkt;
	size_t len;
	long k;
	while (!t->bad && (k = rv_dgram_next(p + off, n - off, MAX, &pkt, &len)) != 0) {
		if (k < 0) {
			assert(k == RV_EPROTO);
			t->bad = 1;
			break;
		}
		assert(len >= 1 && len <= MAX && (size_t)k == len + RV_DGRAM_HEAD && pkt == p + off + RV_DGRAM_HEAD);
		t->n++;
		for (size_t i = 0; i < len; i++)
			t->hash = t->hash * 131 + pkt[i];
		off += (size_t)k;
	}
	return off;
}

static void sniffing(const uint8_t *p, size_t n)
{
	const unsigned all = RV_SNIFF_ACCEPT(RV_SNIFF_TLS) | RV_SNIFF_ACCEPT(RV_SNIFF_PREFACE) |
			     RV_SNIFF_ACCEPT(RV_SNIFF_HTTP) | RV_SNIFF_ACCEPT(RV_SNIFF_STUN);
	enum rv_sniff decided = RV_SNIFF_MORE;
	for (size_t k = 1; k <= n && k <= 16; k++) {
		enum rv_sniff s = rv_sniff(p, k, all, "RVP1", 4);
		if (decided != RV_SNIFF_MORE)
			assert(s == decided);
		else
			decided = s;
		if (k >= 10)
			assert(s != RV_SNIFF_MORE);
		if (s == RV_SNIFF_STUN) {
			assert(p[2] == 0 && p[3] == 1 && p[6] == 0x21 && p[7] == 0x12 && p[8] == 0xA4 && p[9] == 0x42);
			size_t len = (size_t)p[0] << 8 | p[1];
			assert(len >= 20 && len <= MAX);
			unsigned no_stun = all & ~RV_SNIFF_ACCEPT(RV_SNIFF_STUN);
			assert(rv_sniff(p, k, no_stun, "RVP1", 4) == RV_SNIFF_OTHER);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t keep[2 * (MAX + RV_DGRAM_HEAD) + 256];
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	sniffing(data, size);

	struct tally whole = { 0 }, parts = { 0 };
	cut(data, size, &whole);
	size_t kept = 0;
	for (size_t off = 0; off < size && !parts.bad; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		memcpy(keep + kept, data + off, n);
		kept += n;
		size_t took = cut(keep, kept, &parts);
		if (parts.bad)
			break;
		memmove(keep, keep + took, kept - took);
		kept -= took;
		const uint8_t *pkt;
		size_t len;
		assert(rv_dgram_next(keep, kept, MAX, &pkt, &len) == 0);	/* nothing whole left */
		assert(kept < MAX + RV_DGRAM_HEAD);
	}
	assert(whole.n == parts.n && whole.hash == parts.hash && whole.bad == parts.bad);
	return 0;
}
