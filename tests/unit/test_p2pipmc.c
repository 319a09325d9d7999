/* test_p2pipmc.c - fusion (p2pipmc.h, rv_p2p_cast_input_fragment): the
 * datagram's layout, and a receiver fed by IP multicast whose peers only
 * fill what multicast missed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "p2pcast.h"
#include "p2pipmc.h"

static uint8_t group[32], stream[32];

static void datagram(void **state)
{
	(void)state;
	uint8_t d[RV_P2P_IPMC_MAX + 1], frag[RV_P2P_CAST_FRAG_MAX + 1], other[32];
	const char *why;
	memset(group, 0x11, 32);
	memset(frag, 0xab, sizeof frag);
	rv_p2p_cast_id("live", stream);
	struct rv_p2p_ipmc_frag f = { .run = 0x0102030405060708ull, .seq = 70000, .flags = RV_P2P_FRAG_KEY,
				      .data = frag, .len = 100 }, g;
	long n = rv_p2p_ipmc_build(group, stream, &f, d, sizeof d);
	assert_int_equal(n, RV_P2P_IPMC_HEAD + 100);
	assert_memory_equal(d, "RVMC\x01\x01", 6);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), 0);
	assert_true(g.run == f.run);
	assert_int_equal(g.seq, 70000);
	assert_int_equal(g.flags, RV_P2P_FRAG_KEY);
	assert_int_equal(g.len, 100);
	assert_memory_equal(g.data, frag, 100);
	/* another stream, another group: a stray datagram */
	rv_p2p_cast_id("other", other);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, other, &g, &why), RV_EPROTO);
	assert_string_equal(why, "another group or stream");
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, other, stream, &g, &why), RV_EPROTO);
	/* a receiver with no spec: any group (the datagram says which), its stream only */
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, NULL, stream, &g, &why), 0);
	assert_ptr_equal(g.group, d + 6);
	assert_memory_equal(g.group, group, RV_P2P_IPMC_ID_LEN);
	assert_int_equal(g.seq, 70000);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, NULL, other, &g, &why), RV_EPROTO);
	/* no fragment, a short header, another version, another magic */
	assert_int_equal(rv_p2p_ipmc_parse(d, RV_P2P_IPMC_HEAD, group, stream, &g, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_ipmc_parse(d, RV_P2P_IPMC_HEAD - 1, group, stream, &g, &why), RV_EPROTO);
	d[4] = 2;
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	d[4] = 1;
	d[0] = 'X';
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	d[0] = 'R';
	/* flags of two kinds, unknown; an end with a payload, an announce without */
	d[5] = RV_P2P_FRAG_KEY | RV_P2P_IPMC_INFO;
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	d[5] = 0x80;
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	d[5] = RV_P2P_IPMC_END;
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_ipmc_parse(d, RV_P2P_IPMC_HEAD, group, stream, &g, &why), 0);
	assert_int_equal(g.flags, RV_P2P_IPMC_END);
	assert_int_equal(g.len, 0);
	d[5] = RV_P2P_IPMC_INFO;
	assert_int_equal(rv_p2p_ipmc_parse(d, RV_P2P_IPMC_HEAD, group, stream, &g, &why), RV_EPROTO);
	f.flags = RV_P2P_IPMC_INFO;
	f.len = RV_P2P_CAST_INFO_MAX;
	uint8_t big[RV_P2P_CAST_INFO_MAX + 1] = { 0 };
	f.data = big;
	n = rv_p2p_ipmc_build(group, stream, &f, d, sizeof d);
	assert_int_equal(n, RV_P2P_IPMC_MAX);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), 0);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n + 1, group, stream, &g, &why), RV_EPROTO);
	f.len++;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_ETOOBIG);
	f.flags = RV_P2P_IPMC_END;
	f.len = 1;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_ETOOBIG);
	f.flags = 0x81;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_EPROTO);
	f.flags = 0;
	f.data = frag;
	/* the bounds */
	f.len = RV_P2P_CAST_FRAG_MAX + 1;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_ETOOBIG);
	f.len = 0;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_ETOOBIG);
	f.len = 10;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, RV_P2P_IPMC_HEAD + 9), RV_ETOOBIG);
	f.len = RV_P2P_CAST_FRAG_MAX;
	n = rv_p2p_ipmc_build(group, stream, &f, d, sizeof d);
	assert_int_equal(n, RV_P2P_IPMC_HEAD + RV_P2P_CAST_FRAG_MAX);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), 0);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n + 1, group, stream, &g, &why), RV_EPROTO);
	/* a signed fragment: the signature first, a fragment only */
	uint8_t sig[RV_P2P_SIG_LEN];
	memset(sig, 0x33, sizeof sig);
	f.sig = sig;
	f.flags = RV_P2P_FRAG_KEY;
	f.len = 10;
	n = rv_p2p_ipmc_build(group, stream, &f, d, sizeof d);
	assert_int_equal(n, RV_P2P_IPMC_HEAD + RV_P2P_SIG_LEN + 10);
	assert_int_equal(d[5], RV_P2P_FRAG_KEY | RV_P2P_IPMC_SIGNED);
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), 0);
	assert_int_equal(g.flags, RV_P2P_FRAG_KEY);
	assert_non_null(g.sig);
	assert_memory_equal(g.sig, sig, sizeof sig);
	assert_int_equal(g.len, 10);
	assert_memory_equal(g.data, frag, 10);
	assert_int_equal(rv_p2p_ipmc_parse(d, RV_P2P_IPMC_HEAD + RV_P2P_SIG_LEN, group, stream, &g, &why), RV_EPROTO);
	d[5] = RV_P2P_IPMC_INFO | RV_P2P_IPMC_SIGNED;	/* an announce is not signed so */
	assert_int_equal(rv_p2p_ipmc_parse(d, (size_t)n, group, stream, &g, &why), RV_EPROTO);
	f.flags = RV_P2P_IPMC_END;
	f.len = 0;
	assert_int_equal(rv_p2p_ipmc_build(group, stream, &f, d, sizeof d), RV_EPROTO);
}

/* ---- a publisher and a receiver, messages passed at once ---- */

static uint8_t ida[32], idb[32];
static uint32_t delivered, next_seq;

/* Everything E has for the other, into it; DATA events of RX counted (in order). */
static void exchange(struct rv_p2p_cast *pub, struct rv_p2p_cast *rx, uint64_t now)
{
	uint8_t msg[RV_P2P_MSG_MAX], to[32];
	struct rv_p2p_msg m;
	const char *why;
	ssize_t n;
	int moved;
	do {
		moved = 0;
		while ((n = rv_p2p_cast_take(pub, to, msg, sizeof msg)) > 0) {
			assert_int_equal(rv_p2p_msg_parse(msg, (size_t)n, &m, &why), 0);
			assert_int_equal(rv_p2p_cast_input(rx, now, ida, &m, &why), 0);
			moved = 1;
		}
		while ((n = rv_p2p_cast_take(rx, to, msg, sizeof msg)) > 0) {
			assert_int_equal(rv_p2p_msg_parse(msg, (size_t)n, &m, &why), 0);
			assert_int_equal(rv_p2p_cast_input(pub, now, idb, &m, &why), 0);
			moved = 1;
		}
	} while (moved);
	struct rv_p2p_cast_ev e;
	while (rv_p2p_cast_poll(rx, &e))
		if (e.type == RV_P2P_CAST_DATA) {
			assert_int_equal(e.seq, next_seq);
			next_seq++;
			delivered++;
		}
	while (rv_p2p_cast_poll(pub, &e))
		;
}

static void fusion(void **state)
{
	(void)state;
	struct rv_p2p_cast *pub, *rx;
	uint8_t frag[200];
	memset(ida, 1, 32);
	memset(idb, 2, 32);
	rv_p2p_cast_id("live", stream);
	struct rv_p2p_cast_conf c = { .publisher = 1 };
	assert_int_equal(rv_p2p_cast_new(&pub, stream, &c), 0);
	c.publisher = 0;
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &c), 0);
	/* a publisher takes none from multicast; nor anyone an empty one */
	assert_int_equal(rv_p2p_cast_input_fragment(pub, 1, 0, 0, RV_P2P_FRAG_KEY, frag, 10), 0);
	assert_int_equal(rv_p2p_cast_input_fragment(rx, 1, 0, 0, RV_P2P_FRAG_KEY, frag, 0), RV_ETOOBIG);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(pub, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.fragments_from_ipmc, 0);
	rv_p2p_cast_peer_up(pub, 1, idb);
	rv_p2p_cast_peer_up(rx, 1, ida);
	exchange(pub, rx, 1);
	/* 100 fragments, one each 10 ms (a keyframe each 25), all but 40 and
	 * 41 by multicast, before the peers' copies */
	uint64_t now = 10;
	for (uint32_t s = 0; s < 100; s++, now += 10) {
		memset(frag, (int)s, sizeof frag);
		assert_int_equal(rv_p2p_cast_publish(pub, now, frag, sizeof frag, s % 25 == 0), (long)s);
		if (s != 40 && s != 41)
			assert_int_equal(rv_p2p_cast_input_fragment(rx, now, 0, s, s % 25 == 0 ? RV_P2P_FRAG_KEY : 0,
								      frag, sizeof frag), 0);
		exchange(pub, rx, now);
		rv_p2p_cast_tick(pub, now);
		rv_p2p_cast_tick(rx, now);
		exchange(pub, rx, now);
	}
	for (int i = 0; i < 100; i++, now += 10) {	/* the mesh fills the gaps */
		rv_p2p_cast_tick(pub, now);
		rv_p2p_cast_tick(rx, now);
		exchange(pub, rx, now);
	}
	assert_int_equal(delivered, 100);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.fragments_from_ipmc, 98);
	assert_int_equal(st.bytes_from_ipmc, 98 * sizeof frag);
	assert_int_equal(st.skipped, 0);
	/* the two multicast missed came from the peer; those it brought were
	 * not asked again (at most the two pulled) */
	assert_int_equal(st.fragments_pushed_from_peers + st.fragments_requested_from_peers, 2);
	assert_true(st.pulls <= 2);
	uint64_t dups = st.duplicates;
	/* while multicast brings the stream, the receiver asks no pushes: the
	 * publisher pushed at most the first fragments, before multicast came */
	struct rv_p2p_cast_stats ps;
	rv_p2p_cast_stats(pub, &ps);
	assert_true(ps.fragments_pushed_to_peers <= 2);
	/* a peer's copy of a fragment multicast brought: a duplicate, not delivered again */
	uint8_t msg[RV_P2P_MSG_MAX];
	struct rv_p2p_msg m;
	const char *why;
	long n = rv_p2p_msg_cast_frag(msg, sizeof msg, stream, 90, 0, frag, sizeof frag);
	assert_int_equal(rv_p2p_msg_parse(msg, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, now, ida, &m, &why), 0);
	/* and a multicast copy of one held: a duplicate too */
	assert_int_equal(rv_p2p_cast_input_fragment(rx, now, 0, 91, 0, frag, sizeof frag), 0);
	exchange(pub, rx, now);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.duplicates, dups + 2);
	assert_int_equal(st.fragments_from_ipmc, 98);
	assert_int_equal(delivered, 100);
	rv_p2p_cast_free(pub);
	rv_p2p_cast_free(rx);
}

/* An admitted stream: multicast fragments of another run than ours are ignored. */
static int admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **why)
{
	(void)ud;
	(void)why;
	*skip = 1;
	*run = n ? info[0] : 0;
	return 0;
}

static void runs(void **state)
{
	(void)state;
	struct rv_p2p_cast *rx;
	uint8_t frag[10] = { 0 }, info[2] = { 7, 'x' };
	rv_p2p_cast_id("live", stream);
	struct rv_p2p_cast_conf c = { .admit = admit };
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &c), 0);
	/* before the announce: refused */
	assert_int_equal(rv_p2p_cast_input_fragment(rx, 1, 7, 0, RV_P2P_FRAG_KEY, frag, sizeof frag), 0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(rv_p2p_cast_set_info(rx, info, sizeof info), 0);
	assert_int_equal(rv_p2p_cast_input_fragment(rx, 2, 6, 0, RV_P2P_FRAG_KEY, frag, sizeof frag), 0);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.other_run, 1);
	assert_int_equal(st.fragments_from_ipmc, 0);
	assert_int_equal(rv_p2p_cast_input_fragment(rx, 3, 7, 0, RV_P2P_FRAG_KEY, frag, sizeof frag), 0);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.fragments_from_ipmc, 1);
	assert_int_equal(st.delivered, 1);
	/* an end of another run is ignored; ours ends the stream */
	const char *why;
	assert_int_equal(rv_p2p_cast_input_end(rx, 4, 6, 1, &why), 0);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.ended, 0);
	assert_int_equal(rv_p2p_cast_input_end(rx, 4, 7, 1, &why), 0);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.ended, 1);
	assert_int_equal(st.end, 1);
	rv_p2p_cast_free(rx);
}

/* Multicast alone, no neighbour: the announce, the fragments and the end
 * all come from it, and the stream is delivered whole. */
static void multicast_only(void **state)
{
	(void)state;
	struct rv_p2p_cast *rx;
	uint8_t frag[50] = { 0 }, info[2] = { 9, 'v' };
	const char *why;
	rv_p2p_cast_id("live", stream);
	struct rv_p2p_cast_conf c = { .admit = admit };
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &c), 0);
	assert_int_equal(rv_p2p_cast_input_announce(rx, 1, info, 0, &why), RV_ETOOBIG);
	assert_int_equal(rv_p2p_cast_input_announce(rx, 1, info, sizeof info, &why), 0);
	uint64_t now = 1;
	for (uint32_t s = 0; s < 30; s++, now += 10) {
		assert_int_equal(rv_p2p_cast_input_fragment(rx, now, 9, s, s % 10 == 0 ? RV_P2P_FRAG_KEY : 0, frag,
							    sizeof frag), 0);
		rv_p2p_cast_tick(rx, now);
	}
	assert_int_equal(rv_p2p_cast_input_end(rx, now, 9, 30, &why), 0);
	struct rv_p2p_cast_ev e;
	int infos = 0, ends = 0;
	uint32_t data = 0;
	while (rv_p2p_cast_poll(rx, &e)) {
		infos += e.type == RV_P2P_CAST_INFO;
		ends += e.type == RV_P2P_CAST_END;
		data += e.type == RV_P2P_CAST_DATA;
		if (e.type == RV_P2P_CAST_INFO)
			assert_memory_equal(e.data, "v", 1);
	}
	assert_int_equal(infos, 1);
	assert_int_equal(data, 30);
	assert_int_equal(ends, 1);
	/* a newer run announced by multicast: a RESET, no peer */
	info[0] = 10;
	assert_int_equal(rv_p2p_cast_input_announce(rx, now, info, sizeof info, &why), 0);
	assert_int_equal(rv_p2p_cast_poll(rx, &e), 1);
	assert_int_equal(e.type, RV_P2P_CAST_RESET);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.resets, 1);
	assert_true(st.run == 10);
	rv_p2p_cast_free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(datagram),
		cmocka_unit_test(fusion),
		cmocka_unit_test(runs),
		cmocka_unit_test(multicast_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
