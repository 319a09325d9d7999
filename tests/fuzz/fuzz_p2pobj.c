/* fuzz_p2pobj.c - the replication engine (lib/p2pobj.c) driven by a script
 * of neighbours, their messages and time, over a real manifest (p2pman.c)
 * of a 40-chunk object made at start.
 *
 * Input grammar: "u8 mode", then records of "u8 op | u8 arg | u8 len | len
 * bytes" (a record cut short by the end of input is dropped). Mode bit 0:
 * we hold every chunk (we seed); else bit 1: we resume, the manifest known
 * and the chunks whose bit is set in "mode >> 2" (x 8) held; else we start
 * from the object ID alone. Neighbour P is arg % 4:
 *   op % 8 == 0  P comes up          op % 8 == 1  P goes down
 *   op % 8 == 2  P sends the bytes as a message (parsed first, as the node
 *                does; what does not parse is dropped)
 *   op % 8 == 3  P sends chunk (arg / 4) % 40, right, or with a byte flipped
 *                when bytes[0] is odd
 *   op % 8 == 4  P sends the manifest's piece at offset u16(bytes) % its
 *                length, of bytes[2] * 64 + 1 bytes at most
 *   op % 8 == 5  P sends OBJ_HAVE, flags arg / 4, of the ranges in bytes
 *                ("first u8 | count u8" each)
 *   op % 8 == 6  arg * 8 ms pass, then the engine ticks
 *   op % 8 == 7  P sends OBJ_WANT of chunk arg / 4 (it may be past the end)
 * After every record every event and message is taken and checked: a
 * RESULT's bytes are the chunk the manifest names (nothing unchecked is
 * passed on) and held from then on, a REQUEST is for a chunk held (and is
 * served), a MANIFEST is the real one, FAILED and AVOID say why, DONE comes
 * once with every chunk held; each message parses as an OBJ_* message of
 * this object for one of the four neighbours; the counters never go down,
 * and the next deadline is not in the past after a tick. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pobj.h"

#define CS 1024
#define NCHUNKS 40
#define SIZE (NCHUNKS * CS - 100)

static struct rv_p2p_key key;
static uint8_t object[SIZE], man[4096], id[32], peers[4][32];
static size_t man_len;
static uint8_t msg[RV_P2P_MSG_MAX];
static uint64_t now;
static int dones;

static void init(void)
{
	uint8_t seed[32] = { 9 }, hashes[NCHUNKS * 32];
	assert(rv_p2p_key_from_seed(&key, seed) == 0);
	for (size_t i = 0; i < SIZE; i++)
		object[i] = (uint8_t)(i * 131 + (i >> 8));
	for (int i = 0; i < NCHUNKS; i++)
		rv_p2p_sha256(object + i * CS, i == NCHUNKS - 1 ? SIZE - i * CS : CS, hashes + 32 * i);
	long n = rv_p2p_man_build(&key, SIZE, CS, 1, "obj", hashes, man, sizeof man);
	assert(n > 0);
	man_len = (size_t)n;
	rv_p2p_sha256(man, man_len, id);
	for (int i = 0; i < 4; i++)
		memset(peers[i], 0xa0 + i, 32);
}

static size_t chunk_len(uint32_t i)
{
	return i == NCHUNKS - 1 ? SIZE - i * CS : CS;
}

static void feed(struct rv_p2p_obj *o, int p, const uint8_t *bytes, long len)
{
	struct rv_p2p_msg m;
	const char *why = NULL;
	if (len <= 0 || rv_p2p_msg_parse(bytes, (size_t)len, &m, &why) < 0)
		return;
	int rc = rv_p2p_obj_input(o, now, peers[p], &m, &why);
	assert(rc == 0 || (rc == RV_EPROTO && why && *why));
}

static void check(struct rv_p2p_obj *o, struct rv_p2p_obj_stats *last)
{
	struct rv_p2p_obj_ev e;
	while (rv_p2p_obj_poll(o, &e)) {
		switch (e.type) {
		case RV_P2P_OBJ_MANIFEST:
			assert(e.len == man_len && !memcmp(e.data, man, man_len));
			break;
		case RV_P2P_OBJ_RESULT:
			assert(e.index < NCHUNKS && e.len == chunk_len(e.index));
			assert(!memcmp(e.data, object + e.index * CS, e.len));
			assert(rv_p2p_obj_holds(o, e.index));
			break;
		case RV_P2P_OBJ_REQUEST:
			assert(e.index < NCHUNKS && rv_p2p_obj_holds(o, e.index));
			rv_p2p_obj_serve(o, e.peer, e.index, object + e.index * CS, chunk_len(e.index));
			break;
		case RV_P2P_OBJ_FAILED:
		case RV_P2P_OBJ_AVOID:
			assert(e.why && *e.why);
			break;
		case RV_P2P_OBJ_DONE:
			assert(++dones == 1);
			break;
		case RV_P2P_OBJ_SEND_NOTIFY:
			assert(e.index < NCHUNKS);
			break;
		default:
			assert(!"unknown event");
		}
	}
	uint8_t to[32];
	ssize_t n;
	while ((n = rv_p2p_obj_take(o, to, msg, sizeof msg)) > 0) {
		struct rv_p2p_msg m;
		const char *why;
		assert(rv_p2p_msg_parse(msg, (size_t)n, &m, &why) == 0);
		assert(m.type >= RV_P2P_M_OBJ_GET && !memcmp(m.obj, id, 32));
		int known = 0;
		for (int i = 0; i < 4; i++)
			known |= !memcmp(to, peers[i], 32);
		assert(known);
	}
	struct rv_p2p_obj_stats st;
	rv_p2p_obj_stats(o, &st);
	assert(st.held <= st.chunks && (st.chunks == 0 || st.chunks == NCHUNKS));
	assert(st.held >= last->held && st.bytes_up >= last->bytes_up && st.bytes_down >= last->bytes_down);
	assert(st.requests >= last->requests && st.results >= last->results && st.bad_chunks >= last->bad_chunks);
	assert(dones == 0 || st.held == NCHUNKS);
	*last = st;
}

static void record(struct rv_p2p_obj *o, uint8_t op, uint8_t arg, const uint8_t *b, size_t len)
{
	int p = arg % 4;
	uint32_t i = (uint32_t)(arg / 4) % NCHUNKS;
	struct rv_p2p_range r[RV_P2P_RANGES_MAX];
	size_t n = 0;
	switch (op % 8) {
	case 0: rv_p2p_obj_peer_up(o, now, peers[p]); break;
	case 1: rv_p2p_obj_peer_down(o, peers[p]); break;
	case 2: feed(o, p, b, (long)len); break;
	case 3: {
		static uint8_t chunk[CS];
		memcpy(chunk, object + i * CS, chunk_len(i));
		if (len && (b[0] & 1))
			chunk[b[0] % chunk_len(i)] ^= 0x01;
		feed(o, p, msg, rv_p2p_msg_obj_chunk(msg, sizeof msg, id, i, chunk, chunk_len(i)));
		break;
	}
	case 4: {
		if (len < 3)
			break;
		size_t off = rv_rd16(b) % man_len, piece = (size_t)b[2] * 64 + 1;
		if (piece > man_len - off)
			piece = man_len - off;
		feed(o, p, msg, rv_p2p_msg_obj_man(msg, sizeof msg, id, (uint32_t)man_len, (uint32_t)off, man + off,
						   piece));
		break;
	}
	case 5:
		for (size_t k = 0; k + 1 < len && n < RV_P2P_RANGES_MAX; k += 2)
			if (b[k + 1])
				r[n++] = (struct rv_p2p_range){ b[k], b[k + 1] };
		feed(o, p, msg, rv_p2p_msg_obj_ranges(msg, sizeof msg, RV_P2P_M_OBJ_HAVE, id, (uint8_t)(arg / 4), r, n));
		break;
	case 6:
		now += (uint64_t)arg * 8;
		rv_p2p_obj_tick(o, now);
		assert(rv_p2p_obj_next(o) > now);
		break;
	default:
		r[0] = (struct rv_p2p_range){ arg / 4, 1 };
		feed(o, p, msg, rv_p2p_msg_obj_ranges(msg, sizeof msg, RV_P2P_M_OBJ_WANT, id, 0, r, 1));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!man_len)
		init();
	if (size < 1)
		return 0;
	struct rv_p2p_obj *o;
	struct rv_p2p_obj_conf c = { .window = 4, .timeout_ms = 200 };
	const char *why;
	assert(rv_p2p_obj_new(&o, id, &c) == 0);
	now = 1000;
	dones = 0;
	if (data[0] & 3) {
		assert(rv_p2p_obj_set_manifest(o, man, man_len, &why) == 0);
		for (uint32_t i = 0; i < NCHUNKS; i++)
			if ((data[0] & 1) || ((data[0] >> 2) >> (i / 8) & 1))
				assert(rv_p2p_obj_hold(o, i) == 0);
	}
	struct rv_p2p_obj_stats last = { 0 };
	rv_p2p_obj_stats(o, &last);
	for (size_t off = 1; off + 3 <= size;) {
		size_t len = data[off + 2];
		if (off + 3 + len > size)
			break;
		record(o, data[off], data[off + 1], data + off + 3, len);
		check(o, &last);
		off += 3 + len;
	}
	rv_p2p_obj_free(o);
	return 0;
}
