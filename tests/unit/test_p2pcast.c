/* test_p2pcast.c - live streams: the CAST_* messages (p2pmsg.h) and the
 * engine (p2pcast.h) in a simulated mesh: engines passing their messages
 * in memory on a simulated clock, with loss, a late joiner that needs a
 * keyframe, and a relaying peer removed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "p2pcap.h"
#include "p2pcast.h"

static uint8_t buf[RV_P2P_MSG_MAX];
static struct rv_p2p_msg m;
static const char *why;

/* ---- messages ---- */

static void messages(void **state)
{
	(void)state;
	uint8_t id[32];
	memset(id, 0x5c, 32);
	long n = rv_p2p_msg_cast_frag(buf, sizeof buf, id, 70000, RV_P2P_FRAG_KEY, id, 20);
	assert_int_equal(n, 1 + 32 + 5 + 20);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_FRAG);
	assert_memory_equal(m.obj, id, 32);
	assert_int_equal(m.index, 70000);
	assert_int_equal(m.flags, RV_P2P_FRAG_KEY);
	assert_int_equal(m.data_len, 20);
	buf[1 + 32 + 4] = 4;	/* an unknown flag */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_parse(buf, 1 + 32 + 5, &m, &why), RV_EPROTO);	/* empty */
	assert_int_equal(rv_p2p_msg_cast_frag(buf, sizeof buf, id, 1, 0, buf, RV_P2P_CAST_FRAG_MAX + 1), RV_ETOOBIG);
	assert_int_equal(rv_p2p_msg_cast_frag(buf, sizeof buf, id, 1, 8, buf, 1), RV_EPROTO);

	struct rv_p2p_range r[2] = { { 0, 3 }, { 10, 1 } };
	uint32_t keys[2] = { 0, 10 };
	n = rv_p2p_msg_cast_map(buf, sizeof buf, id, RV_P2P_CAST_MAP_ASK, r, 2, keys, 2, NULL);
	assert_int_equal(n, 1 + 32 + 3 + 16 + 1 + 8);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_MAP);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.nkeys, 2);
	assert_int_equal(rv_p2p_msg_key(&m, 1), 10);
	assert_int_equal(rv_p2p_msg_range(&m, 1).first, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);
	buf[1 + 32 + 3 + 16] = RV_P2P_CAST_KEYS + 1;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	n = rv_p2p_msg_cast_map(buf, sizeof buf, id, 0, NULL, 0, NULL, 0, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.n + m.nkeys, 0);
	assert_null(m.cast_hops);	/* not said */
	uint8_t hops[RV_P2P_CAST_SUBS] = { 0, 1, 2, 3, 4, 5, 6, RV_P2P_CAST_HOPS_NONE };
	n = rv_p2p_msg_cast_map(buf, sizeof buf, id, 0, r, 2, keys, 2, hops);
	assert_int_equal(n, 1 + 32 + 3 + 16 + 1 + 8 + 8);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_non_null(m.cast_hops);
	assert_memory_equal(m.cast_hops, hops, sizeof hops);
	assert_int_equal(rv_p2p_msg_key(&m, 1), 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);	/* hops cut short */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 8 - 4, &m, &why), RV_EPROTO);

	n = rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, id, 0, r, 2);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_PULL);
	n = rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, id, RV_P2P_CAST_PULL_LAST, r, 2);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.flags, RV_P2P_CAST_PULL_LAST);
	assert_int_equal(rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, id, 2, r, 2), RV_EPROTO);
	buf[1 + 32] = 2;	/* a flag not known */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);

	n = rv_p2p_msg_cast_byte(buf, sizeof buf, RV_P2P_M_CAST_PUSH, id, 0xa5);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.flags, 0xa5);
	n = rv_p2p_msg_cast_grant(buf, sizeof buf, id, 0xff, 0x0f);
	assert_int_equal(n, 1 + 32 + 2);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_GRANT);
	assert_int_equal(m.asked, 0xff);
	assert_int_equal(m.flags, 0x0f);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_cast_byte(buf, sizeof buf, RV_P2P_M_CAST_GRANT, id, 1), RV_EPROTO);
	n = rv_p2p_msg_cast_byte(buf, sizeof buf, RV_P2P_M_CAST_KEY, id, 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.hops, 3);
	assert_int_equal(rv_p2p_msg_cast_byte(buf, sizeof buf, RV_P2P_M_CAST_KEY, id, RV_P2P_TTL_MAX + 1), RV_EPROTO);
	buf[33] = RV_P2P_TTL_MAX + 1;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);

	n = rv_p2p_msg_cast_info(buf, sizeof buf, id, (const uint8_t *)"v=0", 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.data_len, 3);
	assert_int_equal(rv_p2p_msg_parse(buf, 33, &m, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_cast_info(buf, sizeof buf, id, buf, RV_P2P_CAST_INFO_MAX + 1), RV_ETOOBIG);

	n = rv_p2p_msg_cast_end(buf, sizeof buf, id, 0x01020304);
	assert_int_equal(n, 37);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_END);
	assert_int_equal(m.index, 0x01020304);
	assert_memory_equal(m.obj, id, 32);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);
	buf[n] = 0;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n + 1, &m, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_cast_end(buf, 36, id, 1), RV_ETOOBIG);
}

/* ---- a simulated mesh ---- */

#define N 8
#define LAT 5                   /* ms a message takes */
#define QMAX 200000

struct qmsg {
	uint64_t at;
	int from, to;
	uint16_t len;
	uint8_t *bytes;
};

static struct sim {
	struct rv_p2p_cast *e[N];
	uint8_t id[N][32];
	int link[N][N], alive[N];
	struct qmsg *q;
	size_t qhead, qtail;
	uint64_t now, rnd;
	uint32_t loss_pct;          /* of every message */
	uint32_t published, key_every, key_offset;
	int key_next;               /* the publisher's next fragment starts a keyframe */
	/* per receiver */
	uint32_t first[N], next[N], delivered[N], skipped[N], key_reqs, infos[N];
	int started[N], ends[N];
	uint32_t end_at[N];         /* the END event's seq */
	int denied_ok;              /* a restricted stream: announces may be refused */
	uint8_t gen;                /* the publisher's run, in the fragments' bytes */
	uint32_t resets[N], reset_seq[N], run_delivered[N];
} S;

static uint8_t stream[32];

static uint32_t srnd(void)
{
	S.rnd ^= S.rnd << 13;
	S.rnd ^= S.rnd >> 7;
	S.rnd ^= S.rnd << 17;
	return (uint32_t)(S.rnd >> 11);
}

static size_t frag_len(uint32_t seq)
{
	return 100 + (seq * 37) % 1100;
}

static void frag_bytes(uint32_t seq, uint8_t *out)
{
	size_t n = frag_len(seq);
	rv_wr32(out, seq);
	for (size_t i = 4; i < n; i++)
		out[i] = (uint8_t)(seq + i + S.gen * 7u);
}

static void sim_init(uint32_t loss, const struct rv_p2p_cast_conf *conf)
{
	memset(&S, 0, sizeof S);
	S.q = calloc(QMAX, sizeof *S.q);
	S.rnd = 0x9e3779b97f4a7c15ull;
	S.loss_pct = loss;
	S.now = 1000;
	rv_p2p_cast_id("live", stream);
	for (int i = 0; i < N; i++) {
		struct rv_p2p_cast_conf c = conf ? *conf : (struct rv_p2p_cast_conf){ 0 };
		c.publisher = i == 0;
		memset(S.id[i], 0x10 + i, 32);
		assert_int_equal(rv_p2p_cast_new(&S.e[i], stream, &c), 0);
	}
}

static void sim_free(void)
{
	for (int i = 0; i < N; i++)
		rv_p2p_cast_free(S.e[i]);
	for (size_t i = S.qhead; i < S.qtail; i++)
		free(S.q[i].bytes);
	free(S.q);
}

static void connect_(int a, int b)
{
	S.link[a][b] = S.link[b][a] = 1;
	if (S.alive[a] && S.alive[b]) {
		rv_p2p_cast_peer_up(S.e[a], S.now, S.id[b]);
		rv_p2p_cast_peer_up(S.e[b], S.now, S.id[a]);
	}
}

/* Peer I starts: up with the neighbours already alive. */
static void start(int i)
{
	S.alive[i] = 1;
	for (int j = 0; j < N; j++)
		if (j != i && S.link[i][j] && S.alive[j]) {
			rv_p2p_cast_peer_up(S.e[i], S.now, S.id[j]);
			rv_p2p_cast_peer_up(S.e[j], S.now, S.id[i]);
		}
}

/* Peer I is removed: its neighbours see it go, its messages are lost. */
static void stop(int i)
{
	S.alive[i] = 0;
	for (int j = 0; j < N; j++)
		if (j != i && S.link[i][j] && S.alive[j])
			rv_p2p_cast_peer_down(S.e[j], S.id[i]);
}

static int who(const uint8_t *id)
{
	for (int i = 0; i < N; i++)
		if (!memcmp(S.id[i], id, 32))
			return i;
	return -1;
}

static void drain_out(int i)
{
	uint8_t peer[32];
	ssize_t n;
	while ((n = rv_p2p_cast_take(S.e[i], peer, buf, sizeof buf)) > 0) {
		int to = who(peer);
		assert_true(to >= 0 && to != i && S.link[i][to]);
		if (srnd() % 100 < S.loss_pct)
			continue;
		assert_true(S.qtail < QMAX);
		struct qmsg *q = &S.q[S.qtail++];
		q->at = S.now + LAT;
		q->from = i;
		q->to = to;
		q->len = (uint16_t)n;
		q->bytes = malloc((size_t)n);
		memcpy(q->bytes, buf, (size_t)n);
	}
}

static void events(int i)
{
	struct rv_p2p_cast_ev e;
	uint8_t want[RV_P2P_CAST_FRAG_MAX];
	while (rv_p2p_cast_poll(S.e[i], &e)) {
		switch (e.type) {
		case RV_P2P_CAST_KEY_REQUEST:
			assert_int_equal(i, 0);
			S.key_reqs++;
			S.key_next = 1;
			break;
		case RV_P2P_CAST_INFO:
			assert_int_equal(e.len, 5);
			assert_memory_equal(e.data, "v=0\r\n", 5);
			S.infos[i]++;
			break;
		case RV_P2P_CAST_DATA:
			if (!S.started[i]) {	/* a receiver starts at a keyframe */
				assert_true(e.flags & RV_P2P_FRAG_KEY);
				S.started[i] = 1;
				S.first[i] = S.next[i] = e.seq;
			}
			assert_int_equal(e.seq, S.next[i]);
			assert_int_equal(e.len, frag_len(e.seq));
			frag_bytes(e.seq, want);
			assert_memory_equal(e.data, want, e.len);
			S.next[i]++;
			S.delivered[i]++;
			S.run_delivered[i]++;
			break;
		case RV_P2P_CAST_RESET:	/* delivery starts again */
			S.resets[i]++;
			S.reset_seq[i] = e.seq;
			S.started[i] = 0;
			S.run_delivered[i] = 0;
			break;
		case RV_P2P_CAST_END:	/* once, after everything */
			assert_int_equal(S.ends[i], 0);
			S.ends[i] = 1;
			S.end_at[i] = e.seq;
			if (i)
				assert_int_equal(S.next[i], e.seq);
			break;
		case RV_P2P_CAST_SKIP:
			assert_true(S.started[i]);
			assert_int_equal(e.seq, S.next[i]);
			S.next[i] += (uint32_t)e.len;
			S.skipped[i] += (uint32_t)e.len;
			break;
		}
	}
}

/* One simulated millisecond: messages due are delivered, timers run,
 * and every PERIOD ms the publisher publishes while PUBLISH. */
static void step(int publish, uint32_t period)
{
	S.now++;
	if (publish && S.now % period == 0 && S.alive[0]) {
		uint8_t f[RV_P2P_CAST_FRAG_MAX];
		uint32_t seq = S.published;
		frag_bytes(seq, f);
		int key = S.key_next || (S.key_every && seq % S.key_every == S.key_offset);
		S.key_next = 0;
		assert_int_equal(rv_p2p_cast_publish(S.e[0], S.now, f, frag_len(seq), key), seq);
		S.published++;
	}
	while (S.qhead < S.qtail && S.q[S.qhead].at <= S.now) {
		struct qmsg *q = &S.q[S.qhead++];
		if (S.alive[q->to] && S.alive[q->from]) {
			assert_int_equal(rv_p2p_msg_parse(q->bytes, q->len, &m, &why), 0);
			int rc = rv_p2p_cast_input(S.e[q->to], S.now, S.id[q->from], &m, &why);
			assert_true(rc == 0 || (S.denied_ok && rc == RV_EDENIED));
		}
		free(q->bytes);
	}
	for (int i = 0; i < N; i++) {
		if (!S.alive[i])
			continue;
		if (rv_p2p_cast_next(S.e[i]) <= S.now)
			rv_p2p_cast_tick(S.e[i], S.now);
		drain_out(i);
		events(i);
	}
}

static void run(uint32_t ms, int publish, uint32_t period)
{
	for (uint32_t t = 0; t < ms; t++)
		step(publish, period);
}

/* The publisher 0 reaches 1..3 directly, 4..7 only through them, over
 * two paths each. */
static void topology(void)
{
	connect_(0, 1);
	connect_(0, 2);
	connect_(0, 3);
	connect_(1, 2);
	connect_(2, 3);
	connect_(1, 4);
	connect_(2, 5);
	connect_(3, 6);
	connect_(4, 5);
	connect_(5, 6);
	connect_(6, 7);
	connect_(4, 7);
	connect_(1, 5);
	connect_(3, 7);
}

static void check_receivers(uint32_t skipped_max)
{
	struct rv_p2p_cast_stats pub;
	rv_p2p_cast_stats(S.e[0], &pub);
	uint64_t up = pub.bytes_pushed_to_peers + pub.bytes_requested_by_peers;
	assert_true(up <= 5 * pub.bytes_published);	/* push limit 4: at most 5 x the stream */
	uint64_t dup = 0, got = 0;
	for (int i = 1; i < N; i++) {
		if (!S.alive[i])
			continue;
		struct rv_p2p_cast_stats st;
		rv_p2p_cast_stats(S.e[i], &st);
		assert_true(S.started[i]);
		assert_int_equal(S.next[i], S.published);	/* everything delivered or given up */
		assert_true(S.skipped[i] <= skipped_max);
		assert_int_equal(st.delivered, S.delivered[i]);
		dup += st.bytes_duplicate;
		got += st.bytes_pushed_from_peers + st.bytes_requested_from_peers;
	}
	print_message("publisher upload %.2f x the stream, duplicates %.1f%% of bytes received\n",
		      (double)up / (double)pub.bytes_published, 100.0 * (double)dup / (double)(got + dup));
}

static void mesh_with_loss(void **state)
{
	(void)state;
	sim_init(3, NULL);
	S.key_every = 100;
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	assert_int_equal(rv_p2p_cast_set_info(S.e[0], (const uint8_t *)"v=0\r\n", 5), 0);
	run(200, 0, 5);
	run(10000, 1, 5);	/* 2000 fragments, 200 a second, 3% of messages lost */
	run(3000, 0, 5);
	for (int i = 1; i < N; i++) {
		assert_int_equal(S.first[i], 0);
		assert_int_equal(S.skipped[i], 0);	/* pulls made up for every loss */
		assert_int_equal(S.infos[i], 1);	/* the announce, relayed (asked again when lost) */
	}
	check_receivers(0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(S.e[7], &st);
	assert_true(st.fragments_pushed_from_peers > st.fragments_requested_from_peers);
	assert_true(st.pulls > 0);
	sim_free();
}

/* The publisher ends the stream: with loss, every receiver gets the END
 * after the last fragment, and its counters by neighbour add up. */
static void end_of_stream(void **state)
{
	(void)state;
	sim_init(5, NULL);
	S.key_every = 100;
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	run(3000, 1, 5);
	assert_int_equal(rv_p2p_cast_end(S.e[0], S.now), 0);
	assert_int_equal(rv_p2p_cast_end(S.e[0], S.now), -EINVAL);
	assert_int_equal(rv_p2p_cast_publish(S.e[0], S.now, (const uint8_t *)"x", 1, 0), -EINVAL);
	run(3000, 0, 5);
	check_receivers(0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(S.ends[i], 1);
		assert_int_equal(S.end_at[i], S.published);
		struct rv_p2p_cast_stats st;
		struct rv_p2p_cast_peer_stats ps;
		uint64_t from = 0, pulled = 0, dup = 0, to = 0, by = 0, bytes = 0;
		rv_p2p_cast_stats(S.e[i], &st);
		assert_true(st.ended);
		assert_int_equal(st.end, S.published);
		for (size_t k = 0; rv_p2p_cast_peer_stats(S.e[i], k, &ps); k++) {
			assert_true(ps.up);
			from += ps.fragments_pushed_from;
			pulled += ps.fragments_requested_from;
			dup += ps.duplicates;
			to += ps.fragments_pushed_to;
			by += ps.fragments_requested_by;
			bytes += ps.bytes_pushed_from + ps.bytes_requested_from;
		}
		assert_int_equal(from, st.fragments_pushed_from_peers);
		assert_int_equal(pulled, st.fragments_requested_from_peers);
		assert_int_equal(dup, st.duplicates);
		assert_int_equal(to, st.fragments_pushed_to_peers);
		assert_int_equal(by, st.fragments_requested_by_peers);
		assert_int_equal(bytes, st.bytes_pushed_from_peers + st.bytes_requested_from_peers);
		if (i)	/* each fragment came new once, and was delivered */
			assert_int_equal(from + pulled, st.delivered + st.skipped);
	}
	/* a neighbour's end before a fragment known, or a fragment past the end */
	uint8_t f[4] = { 0 };
	long n = rv_p2p_msg_cast_end(buf, sizeof buf, stream, 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_CAST_END);
	assert_int_equal(m.index, 3);
	struct rv_p2p_cast *rx;
	assert_int_equal(rv_p2p_cast_new(&rx, stream, NULL), 0);
	rv_p2p_cast_peer_up(rx, 1000, S.id[1]);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 5, RV_P2P_FRAG_KEY, f, 4);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1000, S.id[1], &m, &why), 0);
	n = rv_p2p_msg_cast_end(buf, sizeof buf, stream, 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1000, S.id[1], &m, &why), RV_EPROTO);
	n = rv_p2p_msg_cast_end(buf, sizeof buf, stream, 6);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1000, S.id[1], &m, &why), 0);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 6, 0, f, 4);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1000, S.id[1], &m, &why), 0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.refused, 1);
	assert_true(st.ended && st.end == 6);
	rv_p2p_cast_free(rx);
	sim_free();
}

static void late_joiner_asks_a_keyframe(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf c = { .window_max = 512 };
	sim_init(0, &c);
	S.key_every = 0;	/* a keyframe at 0, then only when asked */
	S.key_next = 1;
	topology();
	for (int i = 0; i < N - 1; i++)
		start(i);
	run(6000, 1, 5);	/* fragment 0 (the only keyframe) fell out of the window */
	assert_int_equal(S.key_reqs, 0);
	uint32_t at = S.published;
	start(N - 1);
	run(3000, 1, 5);
	run(3000, 0, 5);
	assert_true(S.key_reqs >= 1);	/* routed to the publisher through 3 or 6 */
	assert_true(S.first[N - 1] >= at);
	assert_int_equal(S.skipped[N - 1], 0);
	check_receivers(0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(S.e[N - 1], &st);
	assert_true(st.key_requests >= 1);
	assert_int_equal(st.first, S.first[N - 1]);
	sim_free();
}

static void late_joiner_starts_at_a_keyframe_held(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf c = { .window_max = 256 };
	sim_init(0, &c);
	S.key_every = 200;
	topology();
	for (int i = 0; i < N - 1; i++)
		start(i);
	run(2100, 1, 5);	/* 420 fragments: keyframes at 0, 200, 400; 0 out of the window */
	start(N - 1);
	run(1000, 1, 5);
	run(3000, 0, 5);
	assert_int_equal(S.first[N - 1], 400);	/* the newest keyframe start, pulled */
	assert_int_equal(S.key_reqs, 0);
	check_receivers(0);
	sim_free();
}

/* A receiver that comes while the window still has the stream's start
 * takes it whole, though newer keyframe starts are known. */
static void young_stream_taken_whole(void **state)
{
	(void)state;
	sim_init(0, NULL);
	S.key_every = 50;
	topology();
	for (int i = 0; i < N - 1; i++)
		start(i);
	run(1000, 1, 5);	/* 200 fragments: keyframes at 0, 50, 100, 150 */
	start(N - 1);
	run(1000, 1, 5);
	run(3000, 0, 5);
	assert_int_equal(S.first[N - 1], 0);
	check_receivers(0);
	sim_free();
}

/* A stream whose first fragments are no keyframe start (audio before
 * the video's first keyframe): the receivers there from the start begin at
 * its first keyframe start, not at fragment 0, and not at a newer one. */
static void young_stream_without_a_key_first(void **state)
{
	(void)state;
	sim_init(0, NULL);
	S.key_every = 50;
	S.key_offset = 3;
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	run(200, 0, 5);
	run(1000, 1, 5);
	run(3000, 0, 5);
	for (int i = 1; i < N; i++)
		assert_int_equal(S.first[i], 3);
	sim_free();
}

static void relay_removed(void **state)
{
	(void)state;
	sim_init(1, NULL);
	S.key_every = 100;
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	run(5000, 1, 5);
	stop(1);	/* 4 and 5 lose a neighbour that may push to them */
	stop(6);
	run(5000, 1, 5);
	run(3000, 0, 5);
	check_receivers(0);	/* pulls from the others made up for what they held */
	for (int i = 2; i < N; i++)
		if (S.alive[i])
			assert_int_equal(S.delivered[i], S.published);
	sim_free();
}

/* The message of N bytes in buf (as built), parsed into *OUT. */
#define parse_into(n, out)                                                                  \
	do {                                                                                \
		long n_ = (n);                                                              \
		const char *why_;                                                           \
		assert_true(n_ > 0);                                                        \
		assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n_, (out), &why_), 0);       \
	} while (0)

/* How many CAST_FRAGs E has to send (taken), the flags of the last CAST_PULL in *PULL. */
static int frags_out(struct rv_p2p_cast *e, int *pull)
{
	uint8_t peer[32], out[RV_P2P_MSG_MAX];
	ssize_t n;
	int k = 0;
	while ((n = rv_p2p_cast_take(e, peer, out, sizeof out)) > 0) {
		k += out[0] == RV_P2P_M_CAST_FRAG;
		if (out[0] == RV_P2P_M_CAST_PULL && pull) {
			struct rv_p2p_msg m;
			const char *why;
			assert_int_equal(rv_p2p_msg_parse(out, (size_t)n, &m, &why), 0);
			*pull = m.flags;
		}
	}
	return k;
}

/* A fragment leaves a peer push_limit + 1 times at most, pulls too; but a
 * pull marked LAST (its asker asked RV_P2P_CAST_PULL_TRIES times already,
 * unanswered) is answered past the limit: where a forging relay took the
 * copies a fragment may leave its publisher, nobody else held it, and the
 * publisher ignored every pull of it until its deadline. A receiver marks
 * its pulls of a fragment LAST from the fifth on. */
static void last_pull_past_the_limit(void **state)
{
	(void)state;
	struct rv_p2p_cast *pub, *rx;
	struct rv_p2p_msg m;
	uint8_t a[32], b[32], c3[32], f[200] = { 0 };
	struct rv_p2p_range one = { 0, 1 };
	memset(a, 1, 32);
	memset(b, 2, 32);
	memset(c3, 3, 32);
	rv_p2p_cast_id("x", stream);
	struct rv_p2p_cast_conf c = { .publisher = 1, .push_limit = 1 };
	assert_int_equal(rv_p2p_cast_new(&pub, stream, &c), 0);
	rv_p2p_cast_peer_up(pub, 1, a);
	rv_p2p_cast_peer_up(pub, 1, b);
	rv_p2p_cast_peer_up(pub, 1, c3);
	assert_int_equal(rv_p2p_cast_publish(pub, 2, f, sizeof f, 1), 0);
	frags_out(pub, NULL);
	const char *why;
	const uint8_t *from[3] = { a, b, c3 };
	for (int i = 0; i < 3; i++) {	/* a and b get it; c's pull is past the limit */
		parse_into(rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, stream, 0, &one, 1), &m);
		assert_int_equal(rv_p2p_cast_input(pub, 3, from[i], &m, &why), 0);
		assert_int_equal(frags_out(pub, NULL), i < 2);
	}
	parse_into(rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, stream, RV_P2P_CAST_PULL_LAST, &one, 1), &m);
	assert_int_equal(rv_p2p_cast_input(pub, 4, c3, &m, &why), 0);
	assert_int_equal(frags_out(pub, NULL), 1);
	rv_p2p_cast_free(pub);

	/* a receiver told of 0..2 by A, given 0 (a keyframe) and 2: it pulls 1 of A */
	c.publisher = 0;
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &c), 0);
	rv_p2p_cast_peer_up(rx, 1, a);
	struct rv_p2p_range all = { 0, 3 };
	uint32_t key0 = 0;
	parse_into(rv_p2p_msg_cast_map(buf, sizeof buf, stream, 0, &all, 1, &key0, 1, NULL), &m);
	assert_int_equal(rv_p2p_cast_input(rx, 1, a, &m, &why), 0);
	parse_into(rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 0, RV_P2P_FRAG_KEY, f, sizeof f), &m);
	assert_int_equal(rv_p2p_cast_input(rx, 1, a, &m, &why), 0);
	parse_into(rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 2, 0, f, sizeof f), &m);
	assert_int_equal(rv_p2p_cast_input(rx, 1, a, &m, &why), 0);
	int plain = 0, last = 0;
	for (uint64_t t = 1; t < 5000; t++) {
		if (rv_p2p_cast_next(rx) > t)
			continue;
		rv_p2p_cast_tick(rx, t);
		int flags = -1;
		frags_out(rx, &flags);
		if (flags == 0)
			assert_int_equal(last, 0), plain++;
		else if (flags == RV_P2P_CAST_PULL_LAST)
			last++;
	}
	assert_int_equal(plain, RV_P2P_CAST_PULL_TRIES);
	assert_true(last > 0);
	rv_p2p_cast_free(rx);
}

/* ---- caps and refusals ---- */

static void refusals(void **state)
{
	(void)state;
	struct rv_p2p_cast *pub, *rx;
	uint8_t a[32], b[32], f[RV_P2P_CAST_FRAG_MAX + 1] = { 0 };
	memset(a, 1, 32);
	memset(b, 2, 32);
	rv_p2p_cast_id("x", stream);
	struct rv_p2p_cast_conf c = { .publisher = 1, .window_max = 16 };
	assert_int_equal(rv_p2p_cast_new(&pub, stream, &c), 0);
	c.publisher = 0;
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &c), 0);
	c.window_max = RV_P2P_CAST_WINDOW_MAX + 1;
	struct rv_p2p_cast *bad;
	assert_int_equal(rv_p2p_cast_new(&bad, stream, &c), -EINVAL);
	assert_int_equal(rv_p2p_cast_publish(rx, 1, f, 10, 1), -EINVAL);
	assert_int_equal(rv_p2p_cast_publish(pub, 1, f, RV_P2P_CAST_FRAG_MAX + 1, 1), RV_ETOOBIG);
	assert_int_equal(rv_p2p_cast_publish(pub, 1, f, 0, 1), RV_ETOOBIG);
	assert_int_equal(rv_p2p_cast_set_info(pub, f, RV_P2P_CAST_INFO_MAX + 1), RV_ETOOBIG);
	/* a publisher takes no fragment of its stream from others, nor their numbering */
	rv_p2p_cast_peer_up(pub, 1, b);
	long k = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 7, 0, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)k, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(pub, 1, b, &m, &why), 0);
	struct rv_p2p_range far = { 1000, 5 };
	k = rv_p2p_msg_cast_map(buf, sizeof buf, stream, 0, &far, 1, NULL, 0, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)k, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(pub, 1, b, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_publish(pub, 2, f, 10, 1), 0);
	struct rv_p2p_cast_stats ps;
	rv_p2p_cast_stats(pub, &ps);
	assert_int_equal(ps.refused, 1);
	assert_int_equal(ps.fragments_pushed_from_peers, 0);

	rv_p2p_cast_peer_up(rx, 1, a);
	/* a map out of order, a pull past the window */
	struct rv_p2p_range r[2] = { { 10, 5 }, { 12, 1 } };
	long n = rv_p2p_msg_cast_map(buf, sizeof buf, stream, 0, r, 2, NULL, 0, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 2, a, &m, &why), RV_EPROTO);
	assert_string_equal(why, "map out of order");
	r[0] = (struct rv_p2p_range){ 0, 17 };
	n = rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_CAST_PULL, stream, 0, r, 1);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 2, a, &m, &why), RV_EPROTO);
	assert_string_equal(why, "pull past the window");
	/* from a peer not up, or of another stream: ignored */
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 0, RV_P2P_FRAG_KEY, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 2, b, &m, &why), 0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.fragments_pushed_from_peers, 0);
	/* a copy is a duplicate; one behind the window is late */
	assert_int_equal(rv_p2p_cast_input(rx, 2, a, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 2, a, &m, &why), 0);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 100, 0, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 3, a, &m, &why), 0);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 5, 0, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 3, a, &m, &why), 0);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.fragments_pushed_from_peers, 2);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.late, 1);
	/* fragment 0 was delivered, 1..84 fell out of the window: skipped */
	struct rv_p2p_cast_ev e;
	assert_int_equal(rv_p2p_cast_poll(rx, &e), 1);
	assert_int_equal(e.type, RV_P2P_CAST_DATA);
	assert_int_equal(e.seq, 0);
	assert_int_equal(rv_p2p_cast_poll(rx, &e), 1);
	assert_int_equal(e.type, RV_P2P_CAST_SKIP);
	assert_int_equal(e.seq, 1);
	assert_int_equal(e.len, 100 - 16 + 1 - 1);
	rv_p2p_cast_free(pub);
	rv_p2p_cast_free(rx);
}

/* A receiver not run for 5 s (a stall) gives up nothing it could not
 * have pulled meanwhile: the deadlines move on by the gap. */
static void stall(void **state)
{
	(void)state;
	struct rv_p2p_cast *rx;
	uint8_t a[32], f[100] = { 0 };
	memset(a, 1, 32);
	rv_p2p_cast_id("x", stream);
	assert_int_equal(rv_p2p_cast_new(&rx, stream, NULL), 0);
	rv_p2p_cast_peer_up(rx, 1000, a);
	struct rv_p2p_range r = { 0, 3 };
	uint32_t key = 0;
	long n = rv_p2p_msg_cast_map(buf, sizeof buf, stream, 0, &r, 1, &key, 1, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1000, a, &m, &why), 0);	/* joins at 0 */
	rv_p2p_cast_tick(rx, 1050);
	rv_p2p_cast_tick(rx, 6050);	/* 5 s later */
	struct rv_p2p_cast_ev e;
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.stalls, 1);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 0, RV_P2P_FRAG_KEY | RV_P2P_FRAG_PULLED, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 6060, a, &m, &why), 0);
	while (rv_p2p_cast_poll(rx, &e) && e.type != RV_P2P_CAST_DATA)
		;
	assert_int_equal(e.type, RV_P2P_CAST_DATA);
	assert_int_equal(e.seq, 0);
	for (uint64_t t = 6100; t <= 8600; t += 100)	/* the others' deadlines pass, the ordinary way */
		rv_p2p_cast_tick(rx, t);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.skipped, 2);
	rv_p2p_cast_free(rx);
}

/* ---- restricted publishing (RV_P2P_CAP_RESTRICT_PUBLISH) ---- */

static struct {
	struct rv_p2p_spec spec;
	uint8_t group[32];
	struct rv_p2p_key owner, pub, other;
} R;

static int admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **w)
{
	(void)ud;
	*run = 7;
	return rv_p2p_cap_admit_announce(info, n, &R.spec, R.group, stream, 1000000, skip, NULL, w);
}

static void restricted_setup(void)
{
	uint8_t seed[32];
	memset(&R, 0, sizeof R);
	memset(seed, 1, 32);
	assert_int_equal(rv_p2p_key_from_seed(&R.owner, seed), 0);
	memset(seed, 2, 32);
	assert_int_equal(rv_p2p_key_from_seed(&R.pub, seed), 0);
	memset(seed, 3, 32);
	assert_int_equal(rv_p2p_key_from_seed(&R.other, seed), 0);
	R.spec.version = RV_P2P_SPEC_VERSION;
	strcpy(R.spec.name, "restricted.example");
	R.spec.caps = RV_P2P_CAP_MULTICAST | RV_P2P_CAP_RESTRICT_PUBLISH;
	R.spec.nowners = 1;
	memcpy(R.spec.owners[0], R.owner.pub, 32);
	assert_int_equal(rv_p2p_group_id(&R.spec, R.group, &why), 0);
}

static void restricted_free(void)
{
	rv_p2p_key_free(&R.owner);
	rv_p2p_key_free(&R.pub);
	rv_p2p_key_free(&R.other);
}

/* The stream of the mesh above, published by KEY with CAP (NULL: none)
 * where publishing is restricted: 1 when every receiver took it whole, 0
 * when none took, held or passed on any of it (anything else fails). */
static int restricted_run(const struct rv_p2p_key *key, const uint8_t *cap)
{
	struct rv_p2p_cast_conf conf = { .admit = admit };
	sim_init(0, &conf);
	S.denied_ok = 1;
	S.key_every = 50;
	rv_p2p_cast_free(S.e[0]);	/* a publisher that does not check its own announce */
	assert_int_equal(rv_p2p_cast_new(&S.e[0], stream, &(struct rv_p2p_cast_conf){ .publisher = 1 }), 0);
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	uint8_t ann[RV_P2P_CAST_INFO_MAX];
	long n = rv_p2p_cap_announce(key, cap, stream, "v=0\r\n", 5, ann, sizeof ann);
	assert_true(n > 5);
	assert_int_equal(rv_p2p_cast_set_info(S.e[0], ann, (size_t)n), 0);
	run(200, 0, 5);
	run(2000, 1, 5);	/* 400 fragments */
	run(2500, 0, 5);
	int taken = 0, refused = 0;
	for (int i = 1; i < N; i++) {
		struct rv_p2p_cast_stats st;
		rv_p2p_cast_stats(S.e[i], &st);
		size_t len;
		if (S.infos[i]) {	/* the application's bytes (events() checks them) */
			assert_int_equal(S.delivered[i], S.published);
			assert_int_equal(st.announces_refused, 0);
			assert_non_null(rv_p2p_cast_info(S.e[i], &len));
			assert_int_equal(len, (size_t)n);	/* kept whole, passed on whole */
			taken++;
		} else {	/* nothing delivered, held, passed on */
			assert_int_equal(S.delivered[i] + S.skipped[i], 0);
			assert_true(st.announces_refused > 0 || i > 3);	/* 4..7: nobody passed it on */
			assert_int_equal(st.fragments_pushed_to_peers + st.fragments_requested_by_peers, 0);
			assert_int_equal(st.fragments_pushed_from_peers + st.fragments_requested_from_peers, 0);
			assert_null(rv_p2p_cast_info(S.e[i], &len));
			assert_int_equal(st.joined, 0);
			refused++;
		}
	}
	if (refused) {	/* nobody asked the publisher for any of it */
		struct rv_p2p_cast_stats st;
		rv_p2p_cast_stats(S.e[0], &st);
		assert_int_equal(st.fragments_pushed_to_peers + st.fragments_requested_by_peers, 0);
		assert_int_equal(st.fragments_published, 400);
	}
	sim_free();
	assert_true(taken == 0 || refused == 0);
	return taken > 0;
}

static uint8_t signer[32];	/* the publisher whose announce was admitted */

static int admit_signed(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **w)
{
	(void)ud;
	*run = 7;
	return rv_p2p_cap_admit_announce(info, n, &R.spec, R.group, stream, 1000000, skip, signer, w);
}

static int sign_cb(void *ud, const uint8_t *msg, size_t n, uint8_t sig[RV_P2P_SIG_LEN])
{
	return rv_p2p_sign(ud, msg, n, sig);
}

static int verify_cb(void *ud, uint64_t run, const uint8_t *msg, size_t n, const uint8_t sig[RV_P2P_SIG_LEN])
{
	(void)ud;
	assert_int_equal(run, 7);
	return rv_p2p_verify(signer, msg, n, sig);
}

/* Signed fragments: the publisher (with an owner's capability) signs each
 * fragment, the receivers check each before they keep, pass on or deliver
 * it, and relays pass the signature on: every receiver, also those four
 * hops away, takes the whole stream. A member that may not publish cannot
 * slip a fragment in: one signed by another key, one of the publisher's
 * with its bytes changed, and an unsigned one are refused (RV_EPROTO,
 * counted forged) and move nothing. A signing publisher announces first. */
static void signed_fragments(void **state)
{
	(void)state;
	restricted_setup();
	uint8_t cap[RV_P2P_CAP_LEN];
	assert_int_equal(rv_p2p_cap_make(&R.owner, R.group, R.pub.id, RV_P2P_RIGHT_PUBLISH, 2000000, cap), 0);
	struct rv_p2p_cast_conf conf = { .admit = admit_signed, .verify = verify_cb };
	sim_init(0, &conf);
	S.key_every = 50;
	rv_p2p_cast_free(S.e[0]);
	assert_int_equal(rv_p2p_cast_new(&S.e[0], stream,
					 &(struct rv_p2p_cast_conf){ .publisher = 1, .admit = admit_signed, .sign = sign_cb,
								     .sig_ud = &R.pub }), 0);
	uint8_t f[10] = { 0 };
	assert_int_equal(rv_p2p_cast_publish(S.e[0], S.now, f, sizeof f, 1), -EINVAL);	/* not announced */
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	uint8_t ann[RV_P2P_CAST_INFO_MAX];
	long n = rv_p2p_cap_announce(&R.pub, cap, stream, "v=0\r\n", 5, ann, sizeof ann);
	assert_int_equal(rv_p2p_cast_set_info(S.e[0], ann, (size_t)n), 0);
	run(200, 0, 5);
	run(1500, 1, 5);
	run(2500, 0, 5);
	struct rv_p2p_cast_stats st;
	for (int i = 1; i < N; i++) {
		assert_int_equal(S.delivered[i], S.published);
		rv_p2p_cast_stats(S.e[i], &st);
		assert_int_equal(st.forged, 0);
	}
	/* what the publisher signed: the tag, the stream, the run, seq, flags, the bytes */
	uint32_t seq = S.published + 3;
	uint8_t msgb[12 + 32 + 13 + sizeof f], sig[RV_P2P_SIG_LEN];
	memcpy(msgb, "rvp2p-frag-1", 12);
	memcpy(msgb + 12, stream, 32);
	rv_wr64(msgb + 44, 7);
	rv_wr32(msgb + 52, seq);
	msgb[56] = 0;
	memcpy(msgb + 57, f, sizeof f);
	struct rv_p2p_cast_stats before;
	rv_p2p_cast_stats(S.e[5], &before);
	assert_int_equal(rv_p2p_sign(&R.other, msgb, sizeof msgb, sig), 0);	/* another member's key */
	n = rv_p2p_msg_cast_frag_sig(buf, sizeof buf, stream, seq, 0, sig, f, sizeof f);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[5], S.now, S.id[4], &m, &why), RV_EPROTO);
	assert_non_null(why);
	assert_int_equal(rv_p2p_sign(&R.pub, msgb, sizeof msgb, sig), 0);	/* the publisher's, bytes changed */
	f[0] = 1;
	n = rv_p2p_msg_cast_frag_sig(buf, sizeof buf, stream, seq, 0, sig, f, sizeof f);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[5], S.now, S.id[4], &m, &why), RV_EPROTO);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, seq, 0, f, sizeof f);	/* unsigned */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[5], S.now, S.id[4], &m, &why), RV_EPROTO);
	f[0] = 0;	/* and the publisher's own, signed as it was: taken */
	n = rv_p2p_msg_cast_frag_sig(buf, sizeof buf, stream, seq, 0, sig, f, sizeof f);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[5], S.now, S.id[4], &m, &why), 0);
	rv_p2p_cast_stats(S.e[5], &st);
	assert_int_equal(st.forged, before.forged + 3);
	assert_int_equal(st.newest, seq);	/* (the forged ones moved nothing: only this one did) */
	assert_non_null(rv_p2p_cast_sig(S.e[5], seq));
	assert_memory_equal(rv_p2p_cast_sig(S.e[5], seq), sig, RV_P2P_SIG_LEN);
	sim_free();
	restricted_free();
}

static void restricted_publishing(void **state)
{
	(void)state;
	restricted_setup();
	uint8_t cap[RV_P2P_CAP_LEN];
	/* an owner needs no capability */
	assert_int_equal(restricted_run(&R.owner, NULL), 1);
	/* another peer without one is refused, and nobody passes it on */
	assert_int_equal(restricted_run(&R.pub, NULL), 0);
	/* with an owner's capability to publish, for its peer ID: taken */
	assert_int_equal(rv_p2p_cap_make(&R.owner, R.group, R.pub.id, RV_P2P_RIGHT_POST | RV_P2P_RIGHT_PUBLISH,
					 2000000, cap), 0);
	assert_int_equal(restricted_run(&R.pub, cap), 1);
	/* a capability for another peer: refused */
	assert_int_equal(rv_p2p_cap_make(&R.owner, R.group, R.other.id, RV_P2P_RIGHT_PUBLISH, 2000000, cap), 0);
	assert_int_equal(restricted_run(&R.pub, cap), 0);
	/* one to post only: refused */
	assert_int_equal(rv_p2p_cap_make(&R.owner, R.group, R.pub.id, RV_P2P_RIGHT_POST, 2000000, cap), 0);
	assert_int_equal(restricted_run(&R.pub, cap), 0);
	/* one signed by a non-owner: refused */
	assert_int_equal(rv_p2p_cap_make(&R.other, R.group, R.pub.id, RV_P2P_RIGHT_PUBLISH, 2000000, cap), 0);
	assert_int_equal(restricted_run(&R.pub, cap), 0);
	restricted_free();
}

/* Runs: an announce is "run u64 | v=0\\r\\n". */
static int run_admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **w)
{
	(void)ud;
	if (n < 8)
		return *w = "no run", RV_EDENIED;
	*skip = 8;
	*run = rv_rd64(info);
	return 0;
}

static void announce_run(uint64_t run)
{
	uint8_t a[13];
	rv_wr64(a, run);
	memcpy(a + 8, "v=0\r\n", 5);
	assert_int_equal(rv_p2p_cast_set_info(S.e[0], a, sizeof a), 0);
}

/* The publisher dies (no end) and starts again under the same name,
 * numbering from 0 again: every receiver takes it as a new run (RESET,
 * then INFO), forgets the old one, and delivers the new one whole; none
 * of the old run's fragments reach it after the reset (their bytes
 * differ: S.gen). */
static void publisher_restarts(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf conf = { .admit = run_admit };
	sim_init(2, &conf);
	S.key_every = 50;
	topology();
	for (int i = 0; i < N; i++)
		start(i);
	announce_run(1000);
	run(200, 0, 5);
	run(1500, 1, 5);	/* 300 fragments of run 1000 */
	run(1000, 0, 5);
	for (int i = 1; i < N; i++)
		assert_int_equal(S.next[i], 300);
	stop(0);	/* killed: no end */
	run(500, 0, 5);
	rv_p2p_cast_free(S.e[0]);
	struct rv_p2p_cast_conf pc = conf;
	pc.publisher = 1;
	assert_int_equal(rv_p2p_cast_new(&S.e[0], stream, &pc), 0);
	S.published = 0;
	S.gen = 1;
	start(0);
	announce_run(2000);
	run(100, 0, 5);
	run(1500, 1, 5);	/* 300 fragments of run 2000 */
	run(2500, 0, 5);
	for (int i = 1; i < N; i++) {
		struct rv_p2p_cast_stats st;
		rv_p2p_cast_stats(S.e[i], &st);
		assert_int_equal(S.resets[i], 1);
		assert_int_equal(st.resets, 1);
		assert_true(S.reset_seq[i] >= 290 && S.reset_seq[i] <= 300);	/* the old run's length known */
		assert_int_equal(S.infos[i], 2);
		assert_int_equal(st.run, 2000);
		assert_true(S.started[i]);
		assert_int_equal(S.first[i], 0);	/* the new run from its start */
		assert_int_equal(S.next[i], 300);
		assert_int_equal(S.run_delivered[i], 300);
	}
	/* a neighbour that announces the old run again is told the new one, and not followed */
	uint8_t a[13];
	rv_wr64(a, 1000);
	memcpy(a + 8, "v=0\r\n", 5);
	long n = rv_p2p_msg_cast_info(buf, sizeof buf, stream, a, sizeof a);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[7], S.now, S.id[6], &m, &why), 0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(S.e[7], &st);
	assert_int_equal(st.run, 2000);
	assert_int_equal(st.resets, 1);
	uint8_t peer[32];
	int told = 0;
	while ((n = rv_p2p_cast_take(S.e[7], peer, buf, sizeof buf)) > 0)
		if (!memcmp(peer, S.id[6], 32) && rv_p2p_msg_parse(buf, (size_t)n, &m, &why) == 0 &&
		    m.type == RV_P2P_M_CAST_INFO && m.data_len == 13 && rv_rd64(m.data) == 2000)
			told = 1;
	assert_true(told);
	sim_free();
}

/* The announce itself: each byte signed, bound to its stream. */
static void restricted_announce(void **state)
{
	(void)state;
	restricted_setup();
	uint8_t cap[RV_P2P_CAP_LEN], ann[600], pub[32], other[32];
	size_t skip;
	rv_p2p_cast_id("live", stream);
	assert_int_equal(rv_p2p_cap_make(&R.owner, R.group, R.pub.id, RV_P2P_RIGHT_PUBLISH, 2000000, cap), 0);
	long n = rv_p2p_cap_announce(&R.pub, cap, stream, "sdp", 3, ann, sizeof ann);
	assert_int_equal(n, 1 + 32 + RV_P2P_CAP_LEN + 64 + 3);
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, stream, 1000000, &skip, pub,
						   &why), 0);
	assert_int_equal(skip, (size_t)n - 3);
	assert_memory_equal(ann + skip, "sdp", 3);
	assert_memory_equal(pub, R.pub.pub, 32);
	/* expired */
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, stream, 3000000, &skip, NULL,
						   &why), RV_EDENIED);
	assert_string_equal(why, "expired: the capability has expired");
	/* of another stream */
	rv_p2p_cast_id("other", other);
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, other, 1000000, &skip, NULL,
						   &why), RV_EDENIED);
	assert_string_equal(why, "signature: the announce's signature is not its publisher's");
	/* one byte of the application's changed */
	ann[n - 1] ^= 1;
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, stream, 1000000, &skip, NULL,
						   &why), RV_EDENIED);
	ann[n - 1] ^= 1;
	/* cut, or without the marker */
	assert_int_equal(rv_p2p_cap_admit_announce(ann, 1 + 32 + RV_P2P_CAP_LEN + 63, &R.spec, R.group, stream,
						   1000000, &skip, NULL, &why), RV_EDENIED);
	assert_string_equal(why, "length: an announce cut before its signature");
	ann[0] = 2;
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, stream, 1000000, &skip, NULL,
						   &why), RV_EDENIED);
	/* the owner marker from a non-owner */
	n = rv_p2p_cap_announce(&R.pub, NULL, stream, "sdp", 3, ann, sizeof ann);
	assert_int_equal(rv_p2p_cap_admit_announce(ann, (size_t)n, &R.spec, R.group, stream, 1000000, &skip, NULL,
						   &why), RV_EDENIED);
	assert_string_equal(why, "owner: a stream without a capability from a non-owner");
	assert_int_equal(rv_p2p_cap_announce(&R.pub, NULL, stream, "sdp", 3, ann, 1 + 32 + 64 + 2), RV_ETOOBIG);

	/* a receiver: nothing of the stream before an announce that passes */
	struct rv_p2p_cast *rx;
	struct rv_p2p_cast_conf conf = { .admit = admit };
	struct rv_p2p_cast_stats st;
	struct rv_p2p_cast_ev e;
	uint8_t a[32], f[10] = { 0 };
	memset(a, 1, 32);
	assert_int_equal(rv_p2p_cast_new(&rx, stream, &conf), 0);
	rv_p2p_cast_peer_up(rx, 1000, a);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 0, RV_P2P_FRAG_KEY, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1001, a, &m, &why), 0);
	struct rv_p2p_range r = { 0, 3 };
	uint32_t key = 0;
	n = rv_p2p_msg_cast_map(buf, sizeof buf, stream, 0, &r, 1, &key, 1, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1002, a, &m, &why), 0);
	n = rv_p2p_msg_cast_end(buf, sizeof buf, stream, 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1003, a, &m, &why), 0);
	n = rv_p2p_cap_announce(&R.pub, NULL, stream, "sdp", 3, ann, sizeof ann);	/* no capability */
	n = rv_p2p_msg_cast_info(buf, sizeof buf, stream, ann, (size_t)n);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1004, a, &m, &why), RV_EDENIED);
	rv_p2p_cast_tick(rx, 1100);
	rv_p2p_cast_stats(rx, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.announces_refused, 1);
	assert_int_equal(st.newest + st.ended + st.joined, 0);
	while (rv_p2p_cast_poll(rx, &e))
		fail();
	/* then one that passes: the stream is taken from then on */
	n = rv_p2p_cap_announce(&R.pub, cap, stream, "sdp", 3, ann, sizeof ann);
	n = rv_p2p_msg_cast_info(buf, sizeof buf, stream, ann, (size_t)n);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1105, a, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_poll(rx, &e), 1);
	assert_int_equal(e.type, RV_P2P_CAST_INFO);
	assert_int_equal(e.len, 3);
	assert_memory_equal(e.data, "sdp", 3);
	n = rv_p2p_msg_cast_frag(buf, sizeof buf, stream, 0, RV_P2P_FRAG_KEY, f, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(rx, 1106, a, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_poll(rx, &e), 1);
	assert_int_equal(e.type, RV_P2P_CAST_DATA);
	assert_int_equal(e.seq, 0);
	rv_p2p_cast_free(rx);
	restricted_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(messages),
		cmocka_unit_test(mesh_with_loss),
		cmocka_unit_test(end_of_stream),
		cmocka_unit_test(late_joiner_asks_a_keyframe),
		cmocka_unit_test(late_joiner_starts_at_a_keyframe_held),
		cmocka_unit_test(young_stream_taken_whole),
		cmocka_unit_test(young_stream_without_a_key_first),
		cmocka_unit_test(relay_removed),
		cmocka_unit_test(refusals),
		cmocka_unit_test(stall),
		cmocka_unit_test(restricted_announce),
		cmocka_unit_test(signed_fragments),
		cmocka_unit_test(restricted_publishing),
		cmocka_unit_test(publisher_restarts),
		cmocka_unit_test(last_pull_past_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
