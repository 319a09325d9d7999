/* fuzz_p2pcast.c - the live stream engine (lib/p2pcast.c, p2pcast_rx.c) driven by a
 * script of neighbours, their messages, the publisher's fragments and time.
 *
 * Input grammar: "u8 mode", then records of "u8 op | u8 arg | u8 len | len
 * bytes" (a record cut short by the end of input is dropped). Mode bit 0:
 * we publish; bits 1-3: the push limit (0: the default 4); bit 4: a small
 * window (64 fragments); bit 5: a restricted stream (conf.admit: an announce
 * is admitted when its first byte is 0xFF, its run the second, its
 * application's bytes after them); bit 6: an upload budget (conf.max_upload
 * 200 kbit/s: pacing, slots, DECLINE maps); bit 7 with bit 5: signed
 * fragments (a toy conf.sign/verify: a signature is good when its first
 * byte is 0x5A and its second the signed bytes' last; a publisher
 * announces itself first). Neighbour P is arg % 4:
 *   op % 8 == 0  P comes up          op % 8 == 1  P goes down
 *   op % 8 == 2  P sends the bytes as a message (parsed first, as the node
 *                does; what does not parse is dropped)
 *   op % 8 == 3  P sends CAST_FRAG seq u16(bytes), flags (arg / 4) % 4, of
 *                the bytes after the first two (at least one); signed
 *                when arg / 16 % 4 is not 0, well when it is 1
 *   op % 8 == 4  P sends CAST_MAP (flags arg / 4 % 2) of the ranges in the
 *                bytes ("first u8 | count u8" each, made to ascend), the
 *                first range's start a keyframe start; when arg / 8 is
 *                odd, with hops (sub-stream B's: arg / 16 + B % 2)
 *   op % 8 == 5  arg * 8 ms pass, then the engine ticks
 *   op % 8 == 6  we publish the bytes (a keyframe when arg is odd) if we
 *                publish; else P sends CAST_PULL of the ranges in the bytes
 *                (marked LAST when arg / 4 is odd)
 *   op % 8 == 7  P sends CAST_KEY (hops arg / 4) when there are no
 *                bytes, CAST_GRANT (asked bytes[0], mask bytes[1]) when
 *                2, CAST_PUSH of mask bytes[0] when 1 or 3, else CAST_END
 *                at u16(bytes) (a publisher: ends its stream when arg is
 *                odd)
 * After every record every event and message is taken and checked: the
 * events deliver in order (DATA and SKIP cover consecutive seqs, the first
 * DATA starts a keyframe, none for a publisher), KEY_REQUEST only to a
 * publisher, END once with no DATA or SKIP after it (a receiver's after
 * what it delivered: at its seq); each message parses as a CAST_* message of the stream for one
 * of the four neighbours, up; no fragment leaves more than push limit + 1
 * times, but once more for each LAST pull of it; a publisher uploads at
 * most that many times what it published, and what it sent past the limit;
 * with signed fragments every fragment sent carries a good signature (a
 * forged one is never passed on);
 * the counters never go down, and once it has ticked and what it queued
 * was taken (as lib/p2plive.c's pump does) the next deadline is not in the
 * past (a tick may queue fragments due at once: catch-up); a restricted stream's receiver, until an announce was
 * admitted (the INFO event, its bytes past the 0xFF), delivers nothing and
 * sends only maps, keyframe requests, push asks and grants (the trees are
 * made before the announce comes), and no asks but withdrawals once an
 * announce was refused; a RESET (a newer run) comes only
 * to a receiver that had an announce, and is followed by its INFO, after
 * which delivery, the end and the copies sent count afresh. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pcast.h"

static uint8_t stream[32], peers[4][32], msg[RV_P2P_MSG_MAX];
static uint64_t now;
static int up[4], publisher, started, playing, ended, we_ended, restricted, admitted, reset_seen, ticked, refused_seen;
static int signing, announced;
static uint32_t limit, next_seq;
static uint8_t sent[65536];
static uint16_t lasts[65536];         /* LAST pulls of each seq: each allows a copy past the limit */
static uint64_t over_bytes;           /* bytes of the copies past the limit */

static void feed(struct rv_p2p_cast *c, int p, const uint8_t *bytes, long len)
{
	struct rv_p2p_msg m;
	const char *why = NULL;
	if (len <= 0 || rv_p2p_msg_parse(bytes, (size_t)len, &m, &why) < 0)
		return;
	int rc = rv_p2p_cast_input(c, now, peers[p], &m, &why);
	assert(rc == 0 || (rc == RV_EPROTO && why && *why) ||
	       (rc == RV_EDENIED && restricted && m.type == RV_P2P_M_CAST_INFO && !strcmp(why, "not 0xff")));
	refused_seen |= rc == RV_EDENIED;
}

static int admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **why)
{
	(void)ud;
	if (n < 2 || info[0] != 0xff)
		return *why = "not 0xff", RV_EDENIED;
	*skip = 2;
	*run = info[1];
	return 0;
}

/* "first u8 | count u8" pairs of B (N bytes) into R, ascending: how many. */
static size_t ranges(const uint8_t *b, size_t n, struct rv_p2p_range *r)
{
	size_t k = 0;
	uint32_t at = 0;
	for (size_t i = 0; i + 1 < n && k < 64; i += 2) {
		at += b[i];
		r[k++] = (struct rv_p2p_range){ at, (uint32_t)b[i + 1] + 1 };
		at += (uint32_t)b[i + 1] + 1;
	}
	return k;
}

static void check_event(const struct rv_p2p_cast_ev *e)
{
	assert(!ended || e->type == RV_P2P_CAST_INFO || e->type == RV_P2P_CAST_KEY_REQUEST ||
	       e->type == RV_P2P_CAST_RESET);
	assert(!restricted || publisher || admitted || e->type == RV_P2P_CAST_INFO);
	switch (e->type) {
	case RV_P2P_CAST_END:
		ended = 1;
		assert(publisher || !started || e->seq == next_seq);
		return;
	case RV_P2P_CAST_DATA:
		assert(!publisher);
		assert(e->len >= 1 && e->len <= RV_P2P_CAST_FRAG_MAX && e->data);
		assert(playing || (e->flags & RV_P2P_FRAG_KEY));
		playing = 1;
		if (!started) {
			started = 1;
			next_seq = e->seq;
		}
		assert(e->seq == next_seq);
		next_seq++;
		return;
	case RV_P2P_CAST_SKIP:	/* the keyframe start joined at may be given up too */
		assert(!publisher && e->len >= 1);
		if (!started) {
			started = 1;
			next_seq = e->seq;
		}
		assert(e->seq == next_seq);
		next_seq += (uint32_t)e->len;
		return;
	case RV_P2P_CAST_INFO:
		assert(e->len >= (restricted ? 0 : 1) && e->len <= RV_P2P_CAST_INFO_MAX);
		assert(!admitted || reset_seen);
		admitted = 1;
		reset_seen = 0;
		return;
	case RV_P2P_CAST_RESET:	/* a newer run: everything starts again, its INFO follows */
		assert(restricted && !publisher && admitted && !reset_seen);
		reset_seen = 1;
		started = playing = ended = 0;
		next_seq = 0;
		memset(sent, 0, sizeof sent);
		memset(lasts, 0, sizeof lasts);
		over_bytes = 0;
		return;
	case RV_P2P_CAST_KEY_REQUEST:
		assert(publisher);
		return;
	default:
		assert(0);
	}
}

static void check_msg(const uint8_t *peer, long n, uint32_t newest)
{
	struct rv_p2p_msg m;
	const char *why;
	int p = -1;
	for (int i = 0; i < 4; i++)
		if (!memcmp(peer, peers[i], 32))
			p = i;
	assert(p >= 0 && up[p]);
	assert(rv_p2p_msg_parse(msg, (size_t)n, &m, &why) == 0);
	assert(m.type >= RV_P2P_M_CAST_FRAG && m.type <= RV_P2P_M_CAST_GRANT);
	assert(!memcmp(m.obj, stream, 32));
	assert(!restricted || publisher || admitted || m.type == RV_P2P_M_CAST_MAP || m.type == RV_P2P_M_CAST_KEY ||
	       m.type == RV_P2P_M_CAST_GRANT || (m.type == RV_P2P_M_CAST_PUSH && (!refused_seen || !m.flags)));
	if (m.type == RV_P2P_M_CAST_FRAG && newest < 65536) {
		assert(++sent[m.index] <= limit + 1 + lasts[m.index]);
		if (sent[m.index] > limit + 1)
			over_bytes += m.data_len;
	}
	if (m.type == RV_P2P_M_CAST_FRAG && signing)
		assert(m.sig && m.sig[0] == 0x5a && m.sig[1] == m.data[m.data_len - 1]);
}

static int toy_sign(void *ud, const uint8_t *b, size_t n, uint8_t sig[RV_P2P_SIG_LEN])
{
	(void)ud;
	memset(sig, 0, RV_P2P_SIG_LEN);
	sig[0] = 0x5a;
	sig[1] = b[n - 1];
	return 0;
}

static int toy_verify(void *ud, uint64_t run, const uint8_t *b, size_t n, const uint8_t sig[RV_P2P_SIG_LEN])
{
	(void)ud;
	(void)run;
	return sig[0] == 0x5a && sig[1] == b[n - 1] ? 0 : RV_EDENIED;
}

#define MONO(f) assert(st.f >= last->f)

static void check(struct rv_p2p_cast *c, struct rv_p2p_cast_stats *last)
{
	struct rv_p2p_cast_ev e;
	while (rv_p2p_cast_poll(c, &e))
		check_event(&e);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(c, &st);
	uint8_t peer[32];
	ssize_t n;
	while ((n = rv_p2p_cast_take(c, peer, msg, sizeof msg)) > 0)
		check_msg(peer, n, st.newest);
	assert(!ticked || rv_p2p_cast_next(c) > now);
	rv_p2p_cast_stats(c, &st);
	MONO(fragments_pushed_from_peers);
	MONO(fragments_pushed_to_peers);
	MONO(fragments_requested_by_peers);
	MONO(fragments_requested_from_peers);
	MONO(duplicates);
	MONO(late);
	MONO(delivered);
	MONO(skipped);
	MONO(pulls);
	MONO(key_requests);
	if (publisher)
		assert(st.bytes_pushed_to_peers + st.bytes_requested_by_peers <= (limit + 1) * st.bytes_published + over_bytes);
	*last = st;
}

static void record(struct rv_p2p_cast *c, uint8_t op, uint8_t arg, const uint8_t *b, size_t len)
{
	int p = arg % 4;
	struct rv_p2p_range r[64];
	long n = 0;
	switch (op % 8) {
	case 0:
		up[p] = 1;
		rv_p2p_cast_peer_up(c, now, peers[p]);
		return;
	case 1:
		up[p] = 0;
		rv_p2p_cast_peer_down(c, peers[p]);
		return;
	case 2:
		if (up[p])
			feed(c, p, b, (long)len);
		return;
	case 3:
		if (len >= 3) {
			uint8_t sig[RV_P2P_SIG_LEN] = { arg / 16 % 4 == 1 ? 0x5a : 0, b[len - 1] };
			n = rv_p2p_msg_cast_frag_sig(msg, sizeof msg, stream, rv_rd16(b), (uint8_t)((arg / 4) % 4),
						     arg / 16 % 4 ? sig : NULL, b + 2, len - 2);
		}
		break;
	case 4: {
		size_t k = ranges(b, len, r);
		uint32_t key = k ? r[0].first : 0;
		uint8_t hops[RV_P2P_CAST_SUBS];
		for (int b = 0; b < RV_P2P_CAST_SUBS; b++)
			hops[b] = (uint8_t)(arg / 16 + b % 2);
		n = rv_p2p_msg_cast_map(msg, sizeof msg, stream, (uint8_t)(arg / 4 % 2), r, k, &key, k ? 1 : 0,
					arg / 8 % 2 ? hops : NULL);
		break;
	}
	case 5:
		now += (uint64_t)arg * 8;
		rv_p2p_cast_tick(c, now);
		ticked = 1;
		return;
	case 6:
		if (publisher) {
			long seq = rv_p2p_cast_publish(c, now, b, len, arg & 1);
			assert(we_ended || (signing && !announced) ? seq == -EINVAL
					: seq >= 0 || (seq == RV_ETOOBIG && (len == 0 || len > RV_P2P_CAST_FRAG_MAX)));
			return;
		}
		n = rv_p2p_msg_obj_ranges(msg, sizeof msg, RV_P2P_M_CAST_PULL, stream,
					  arg >> 2 & 1 ? RV_P2P_CAST_PULL_LAST : 0, r, ranges(b, len, r));
		if (n > 0 && (arg >> 2 & 1))
			for (size_t i = 0; i < ranges(b, len, r); i++)
				for (uint32_t q = r[i].first; q - r[i].first < r[i].count && q < 65536; q++)
					if (lasts[q] < UINT16_MAX)
						lasts[q]++;
		break;
	default:
		if (len >= 4 && publisher && (arg & 1)) {
			int rc = rv_p2p_cast_end(c, now);
			assert(we_ended ? rc == -EINVAL : rc == 0);
			we_ended = 1;
			return;
		}
		n = len >= 4 ? rv_p2p_msg_cast_end(msg, sizeof msg, stream, rv_rd16(b))
		    : len == 2 ? rv_p2p_msg_cast_grant(msg, sizeof msg, stream, b[0], b[1])
		    : len ? rv_p2p_msg_cast_byte(msg, sizeof msg, RV_P2P_M_CAST_PUSH, stream, b[0])
			  : rv_p2p_msg_cast_byte(msg, sizeof msg, RV_P2P_M_CAST_KEY, stream, (uint8_t)(arg / 4 % 80));
		break;
	}
	if (up[p] && n > 0) {
		static uint8_t copy[RV_P2P_MSG_MAX];
		memcpy(copy, msg, (size_t)n);
		feed(c, p, copy, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	rv_p2p_cast_id("live", stream);
	for (int i = 0; i < 4; i++) {
		memset(peers[i], 0xa0 + i, 32);
		up[i] = 0;
	}
	memset(sent, 0, sizeof sent);
	memset(lasts, 0, sizeof lasts);
	over_bytes = 0;
	publisher = data[0] & 1;
	started = playing = ended = we_ended = admitted = reset_seen = ticked = refused_seen = 0;
	restricted = (data[0] & 32) != 0;
	signing = restricted && (data[0] & 128);
	announced = 0;
	next_seq = 0;
	now = 1000;
	struct rv_p2p_cast_conf conf = { .publisher = publisher, .push_limit = (data[0] >> 1) & 7,
					 .window_max = (data[0] & 16) ? 64 : 0, .admit = restricted ? admit : NULL,
					 .max_upload = (data[0] & 64) ? 200000 : 0 };
	if (signing) {
		conf.sign = publisher ? toy_sign : NULL;
		conf.verify = publisher ? NULL : toy_verify;
	}
	limit = conf.push_limit ? conf.push_limit : 4;
	struct rv_p2p_cast *c;
	if (rv_p2p_cast_new(&c, stream, &conf) < 0)
		return 0;
	if (signing && publisher && (data[0] & 2))	/* (or not: its fragments are refused till then) */
		announced = rv_p2p_cast_set_info(c, (const uint8_t[]){ 0xff, 1, 'x' }, 3) == 0;
	struct rv_p2p_cast_stats last = { 0 };
	size_t off = 1;
	while (size - off >= 3) {
		uint8_t op = data[off], arg = data[off + 1], len = data[off + 2];
		off += 3;
		if (size - off < len)
			break;
		record(c, op, arg, data + off, len);
		off += len;
		check(c, &last);
	}
	rv_p2p_cast_free(c);
	return 0;
}
