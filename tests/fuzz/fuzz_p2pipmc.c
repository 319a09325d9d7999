/* fuzz_p2pipmc.c - IP multicast datagrams (lib/p2pipmc.c) into a
 * receiver's engine (lib/p2pcast.c: rv_p2p_cast_input_fragment_sig, _announce,
 * _end), as p2plive.c feeds them.
 *
 * Input grammar: records of "u8 op | u16 len | len bytes" (a record cut
 * short by the end of input is dropped). op bit 0: the group and stream ID
 * prefixes are written over the datagram's (else it stays as given, most
 * often a stray one); op / 2 * 8 ms pass before it, then the datagram is
 * parsed and what parses is fed, and the engine ticks. An announce is
 * admitted when its first byte is not 0, its run that byte. After every
 * record each event is taken and checked: DATA and SKIP cover consecutive
 * seqs, the first DATA starts a keyframe (after an INFO), END comes once
 * per run; what parses round-trips through rv_p2p_ipmc_build (a signed
 * fragment's signature with it, only a fragment signed); the counters
 * never go down. Each datagram is parsed for any group too (a receiver
 * with no spec), and that parse agrees. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "p2pcast.h"
#include "p2pipmc.h"

static int admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **why)
{
	(void)ud;
	if (!n || !info[0])
		return *why = "no run", RV_EDENIED;
	*skip = 1;
	*run = info[0];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t d[RV_P2P_IPMC_MAX + 64], again[RV_P2P_IPMC_MAX];
	uint8_t group[32], stream[32];
	memset(group, 0x47, sizeof group);
	rv_p2p_cast_id("live", stream);
	struct rv_p2p_cast *c;
	struct rv_p2p_cast_conf conf = { .admit = admit, .window_max = 256 };
	if (rv_p2p_cast_new(&c, stream, &conf) < 0)
		return 0;
	uint64_t now = 1;
	uint32_t next = 0;
	int started = 0, playing = 0, ended = 0;
	struct rv_p2p_cast_stats before = { 0 }, st;
	size_t i = 0;
	while (i + 3 <= size) {
		uint8_t op = data[i];
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (len > size - i || len > sizeof d)
			break;
		memcpy(d, data + i, len);
		i += len;
		if ((op & 1) && len >= RV_P2P_IPMC_HEAD) {
			memcpy(d + 6, group, RV_P2P_IPMC_ID_LEN);
			memcpy(d + 6 + RV_P2P_IPMC_ID_LEN, stream, RV_P2P_IPMC_ID_LEN);
		}
		now += (uint64_t)(op >> 1) * 8;
		struct rv_p2p_ipmc_frag f, g;
		const char *why = NULL, *why_any = NULL;
		int any = rv_p2p_ipmc_parse(d, len, NULL, stream, &g, &why_any);	/* a receiver with no spec */
		assert(any == 0 ? g.group == d + 6 : why_any != NULL);
		if (rv_p2p_ipmc_parse(d, len, group, stream, &f, &why) == 0) {
			assert(any == 0 && g.seq == f.seq && g.len == f.len && g.flags == f.flags && !g.sig == !f.sig);
			assert(!f.sig || (f.sig == d + RV_P2P_IPMC_HEAD && !(f.flags & ~RV_P2P_FRAG_KEY)));
			long n = rv_p2p_ipmc_build(group, stream, &f, again, sizeof again);
			assert(n == (long)len && !memcmp(again, d, len));
			int rc = f.flags == RV_P2P_IPMC_INFO ? rv_p2p_cast_input_announce(c, now, f.data, f.len, &why)
				 : f.flags == RV_P2P_IPMC_END ? rv_p2p_cast_input_end(c, now, f.run, f.seq, &why)
				 : rv_p2p_cast_input_fragment_sig(c, now, f.run, f.seq, f.flags, f.sig, f.data, f.len);
			assert(rc == 0 || rc == RV_EDENIED || rc == RV_EPROTO);
		} else {
			assert(why);
			assert(any < 0 || memcmp(g.group, group, RV_P2P_IPMC_ID_LEN));	/* only another group's */
		}
		rv_p2p_cast_tick(c, now);
		struct rv_p2p_cast_ev e;
		while (rv_p2p_cast_poll(c, &e)) {
			switch (e.type) {
			case RV_P2P_CAST_RESET:
				started = playing = ended = 0;
				next = 0;
				break;
			case RV_P2P_CAST_DATA:
				assert(!ended);
				assert(!started || e.seq == next);
				assert(playing || (e.flags & RV_P2P_FRAG_KEY));
				started = playing = 1;
				next = e.seq + 1;
				break;
			case RV_P2P_CAST_SKIP:
				assert(!ended);
				assert(!started || e.seq == next);
				started = 1;
				next = e.seq + (uint32_t)e.len;
				break;
			case RV_P2P_CAST_END:
				assert(!ended);
				ended = 1;
				break;
			case RV_P2P_CAST_INFO:
				break;
			default:
				assert(0);	/* no KEY_REQUEST to a receiver */
			}
		}
		uint8_t peer[32];
		assert(rv_p2p_cast_take(c, peer, d, sizeof d) == 0);	/* no neighbour: nothing to send */
		rv_p2p_cast_stats(c, &st);
		assert(st.fragments_from_ipmc >= before.fragments_from_ipmc && st.duplicates >= before.duplicates &&
		       st.delivered >= before.delivered);
		before = st;
	}
	rv_p2p_cast_free(c);
	return 0;
}
