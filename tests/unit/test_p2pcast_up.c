/* test_p2pcast_up.c - a live stream's upload budget (p2pcast.h, "Upload
 * budget"): engines passing their messages in memory on a simulated
 * clock; the bucket paces what a peer pushes and drops (and counts apart)
 * what it cannot send in time; a publisher past its budget declines
 * neighbours, which take their sub-streams from another; maps say the
 * spare upload and old peers' parsers take the new flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "p2pcast.h"

#define N 6
#define LAT 5                   /* ms a message takes */
#define QMAX 400000
#define FLEN 1000               /* bytes of each fragment */

static uint8_t buf[RV_P2P_MSG_MAX];
static struct rv_p2p_msg m;
static const char *why;
static uint8_t stream[32];

struct qmsg {
	uint64_t at;
	int from, to;
	uint16_t len;
	uint8_t *bytes;
};

static struct sim {
	struct rv_p2p_cast *e[N];
	uint8_t id[N][32];
	int link[N][N], n;
	struct qmsg *q;
	size_t qhead, qtail;
	uint64_t now;
	uint32_t published;
	uint64_t frag_bits[N];      /* fragments sent, on the wire as the budget counts them */
	uint32_t delivered[N], skipped[N], next[N];
	uint8_t spare[N];           /* the spare upload of each one's last map */
	int push[N][N];             /* the last CAST_PUSH mask each sent each (-1: none) */
	int grant[N][N];            /* the last CAST_GRANT each sent each: asked << 8 | mask (-1: none) */
	int started[N];
	uint32_t slow[N];           /* ms more that each one's messages take */
} S;

static void sim_init(int n, const struct rv_p2p_cast_conf *pub, const struct rv_p2p_cast_conf *rx)
{
	memset(&S, 0, sizeof S);
	S.n = n;
	S.q = calloc(QMAX, sizeof *S.q);
	S.now = 1000;
	memset(S.push, 0xff, sizeof S.push);
	memset(S.grant, 0xff, sizeof S.grant);
	rv_p2p_cast_id("live", stream);
	for (int i = 0; i < n; i++) {
		struct rv_p2p_cast_conf c = i ? *rx : *pub;
		c.publisher = i == 0;
		memset(S.id[i], 0x20 + i, 32);
		assert_int_equal(rv_p2p_cast_new(&S.e[i], stream, &c), 0);
	}
}

static void sim_free(void)
{
	for (int i = 0; i < S.n; i++)
		rv_p2p_cast_free(S.e[i]);
	for (size_t i = S.qhead; i < S.qtail; i++)
		free(S.q[i].bytes);	/* (NULL: handed over) */
	free(S.q);
}

static void connect_(int a, int b)
{
	S.link[a][b] = S.link[b][a] = 1;
	rv_p2p_cast_peer_up(S.e[a], S.now, S.id[b]);
	rv_p2p_cast_peer_up(S.e[b], S.now, S.id[a]);
}

static int who(const uint8_t *id)
{
	for (int i = 0; i < S.n; i++)
		if (!memcmp(S.id[i], id, 32))
			return i;
	return -1;
}

static void drain(int i)
{
	uint8_t peer[32];
	ssize_t n;
	while ((n = rv_p2p_cast_take(S.e[i], peer, buf, sizeof buf)) > 0) {
		int to = who(peer);
		assert_true(to >= 0 && S.link[i][to]);
		if (buf[0] == RV_P2P_M_CAST_FRAG)
			S.frag_bits[i] += ((uint64_t)n + RV_P2P_CAST_WIRE_EXTRA) * 8;
		if (buf[0] == RV_P2P_M_CAST_MAP)
			S.spare[i] = (uint8_t)RV_P2P_CAST_MAP_SPARE(buf[1 + 32]);
		if (buf[0] == RV_P2P_M_CAST_PUSH)
			S.push[i][to] = buf[1 + 32];
		if (buf[0] == RV_P2P_M_CAST_GRANT)
			S.grant[i][to] = buf[1 + 32] << 8 | buf[2 + 32];
		assert_true(S.qtail < QMAX);
		struct qmsg *q = &S.q[S.qtail++];
		q->at = S.now + LAT + S.slow[i];
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
	while (rv_p2p_cast_poll(S.e[i], &e)) {
		if (e.type == RV_P2P_CAST_DATA) {
			if (!S.started[i]) {
				S.started[i] = 1;
				S.next[i] = e.seq;
			}
			assert_int_equal(e.seq, S.next[i]);
			S.next[i]++;
			S.delivered[i]++;
		} else if (e.type == RV_P2P_CAST_SKIP) {
			S.next[i] += (uint32_t)e.len;
			S.skipped[i] += (uint32_t)e.len;
		}
	}
}

/* MS simulated milliseconds, the publisher publishing a fragment every
 * PERIOD ms (a keyframe every 50) while PUBLISH. */
static void run(uint32_t ms, int publish, uint32_t period)
{
	for (uint32_t t = 0; t < ms; t++) {
		S.now++;
		if (publish && S.now % period == 0) {
			uint8_t f[FLEN];
			memset(f, (int)S.published, sizeof f);
			assert_int_equal(rv_p2p_cast_publish(S.e[0], S.now, f, sizeof f, S.published % 50 == 0),
					 S.published);
			S.published++;
		}
		for (size_t k = S.qhead; k < S.qtail; k++) {	/* (a slow sender's come later) */
			struct qmsg *q = &S.q[k];
			if (!q->bytes || q->at > S.now)
				continue;
			assert_int_equal(rv_p2p_msg_parse(q->bytes, q->len, &m, &why), 0);
			assert_int_equal(rv_p2p_cast_input(S.e[q->to], S.now, S.id[q->from], &m, &why), 0);
			free(q->bytes);
			q->bytes = NULL;
		}
		while (S.qhead < S.qtail && !S.q[S.qhead].bytes)
			S.qhead++;
		for (int i = 0; i < S.n; i++) {
			if (rv_p2p_cast_next(S.e[i]) <= S.now)
				rv_p2p_cast_tick(S.e[i], S.now);
			drain(i);
			events(i);
		}
	}
}

/* The messages in flight handed over, nothing sent after (for counts
 * that must match at both ends). */
static void flush(void)
{
	while (S.qhead < S.qtail) {
		struct qmsg *q = &S.q[S.qhead++];
		if (!q->bytes)
			continue;
		assert_int_equal(rv_p2p_msg_parse(q->bytes, q->len, &m, &why), 0);
		assert_int_equal(rv_p2p_cast_input(S.e[q->to], S.now, S.id[q->from], &m, &why), 0);
		free(q->bytes);
	}
}

/* The new map flags: old parsers took any flags of a map, so they still do. */
static void map_flags(void **state)
{
	(void)state;
	struct rv_p2p_range r = { 3, 2 };
	long n = rv_p2p_msg_cast_map(buf, sizeof buf, stream, RV_P2P_CAST_MAP_DECLINE | (5 << 4), &r, 1, NULL, 0, NULL);
	assert_true(n > 0);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.flags & RV_P2P_CAST_MAP_DECLINE, RV_P2P_CAST_MAP_DECLINE);
	assert_int_equal(RV_P2P_CAST_MAP_SPARE(m.flags), 5);
}

/* One receiver asks the publisher for everything; the publisher's budget
 * is a third of the stream: what it sends stays within the budget (plus
 * the bucket's depth), the rest is counted over budget and not as pushed,
 * and what it counts as sent is what came. */
static void bucket_drops_counted(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .max_upload = 600000 }, rx = { 0 };
	sim_init(2, &pub, &rx);
	connect_(0, 1);
	run(3000, 1, 5);	/* 200 fragments a second of 1,118 bytes on the wire: 1.8 Mbit/s */
	flush();
	struct rv_p2p_cast_stats p, r;
	rv_p2p_cast_stats(S.e[0], &p);
	rv_p2p_cast_stats(S.e[1], &r);
	assert_true(p.fragments_over_budget > 0);
	assert_int_equal(p.bytes_over_budget % FLEN, 0);
	/* 3 s of budget, the bucket's depth, a map's worth of slack */
	assert_true(S.frag_bits[0] <= 600000ull * 3 + 600000 / 20 + 20000);
	assert_true(S.frag_bits[0] >= 600000ull * 3 / 2);	/* and it is used */
	assert_int_equal(p.fragments_pushed_to_peers + p.fragments_requested_by_peers,
			 r.fragments_pushed_from_peers + r.fragments_requested_from_peers + r.duplicates);
	assert_true(p.upload_rate > 0);	/* offered, measured */
	assert_true(r.skipped > 0);	/* (the stream does not fit) */
	assert_true(S.spare[0] >= 1 && S.spare[0] <= 3);	/* said, and little spare */
	sim_free();
}

/* Five receivers in a full mesh; the publisher's budget is about two and a
 * half times the stream: it pushes within 85 % of it (a few sub-streams to
 * each), the receivers take the rest from the others (which have no
 * budget), and everyone gets the whole stream. */
static void publisher_declines_receivers_repick(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .max_upload = 2300000 }, rx = { 0 };
	sim_init(N, &pub, &rx);
	for (int a = 0; a < N; a++)
		for (int b = a + 1; b < N; b++)
			connect_(a, b);
	run(6000, 1, 10);	/* 0.9 Mbit/s on the wire */
	run(1000, 0, 10);
	struct rv_p2p_cast_stats p, r;
	rv_p2p_cast_stats(S.e[0], &p);
	assert_true(p.fragments_pushed_to_peers < 3ull * S.published);	/* not to all 5 */
	assert_true(S.frag_bits[0] <= 2300000ull * 7 + 2300000 / 20 + 20000);
	uint64_t declined = 0, relayed = 0;
	for (int i = 1; i < N; i++) {
		rv_p2p_cast_stats(S.e[i], &r);
		declined += r.push_declined;
		relayed += r.fragments_pushed_to_peers;
		assert_true(S.delivered[i] >= S.published - 60);	/* all but the start */
		assert_int_equal(S.skipped[i], 0);
	}
	(void)declined;
	assert_true(relayed > S.published);	/* the receivers carry part of the fan-out */
	/* in the last seconds the publisher pushed under its budget's 85 % */
	uint64_t before = S.frag_bits[0];
	struct rv_p2p_cast_stats p0;
	rv_p2p_cast_stats(S.e[0], &p0);
	run(3000, 1, 10);
	rv_p2p_cast_stats(S.e[0], &p);
	uint64_t pushed = (p.fragments_pushed_to_peers - p0.fragments_pushed_to_peers) * (FLEN + 38 + RV_P2P_CAST_WIRE_EXTRA) * 8;
	assert_true(pushed <= 2300000ull * 3 * 85 / 100);	/* pushes within 85 % */
	assert_true(S.frag_bits[0] - before <= 2300000ull * 3 + 2300000 / 20);	/* and pull answers within it all */
	for (int i = 1; i < N; i++)
		assert_int_equal(S.skipped[i], 0);
	sim_free();
}

/* A receiver whose pusher declined re-picks at once, never the one that
 * declined; the spare upload the maps say. */
static void declined_receiver_repicks(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .max_upload = 10000000 }, rx = { .max_upload = 5000000 };
	sim_init(3, &pub, &rx);
	connect_(0, 1);
	run(1500, 1, 10);	/* 1 asks all 8 sub-streams of 0, its only neighbour (0 grants it one
				 * and feeds it the other seven unasked till it measured a second of
				 * the stream: 1 takes them up) */
	connect_(0, 2);
	connect_(1, 2);
	run(1200, 1, 10);	/* (2's rate is measured over a whole second of the stream) */
	assert_true(S.spare[0] >= 2 && S.spare[1] >= 2 && S.spare[2] >= 2);	/* room for more */
	/* 0 says it pushes 1 four of the eight (CAST_GRANT): 1 asks 0 for those
	 * four only, and 2 for the other four at once */
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(S.e[1], &st);
	uint64_t declined = st.push_declined;
	memset(S.push, 0xff, sizeof S.push);
	long k = rv_p2p_msg_cast_grant(buf, sizeof buf, stream, 0xff, 0x0f);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)k, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[1], S.now, S.id[0], &m, &why), 0);
	drain(1);
	assert_int_equal(S.push[1][0], 0x0f);
	assert_int_equal(S.push[1][2], 0xf0);
	/* 0 says DECLINE to 1 (and no spare): 1 asks 2 for the 8 at once, not 0 again */
	long n = rv_p2p_msg_cast_map(buf, sizeof buf, stream, RV_P2P_CAST_MAP_DECLINE | (1 << 4), NULL, 0, NULL, 0, NULL);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(S.e[1], S.now, S.id[0], &m, &why), 0);
	rv_p2p_cast_stats(S.e[1], &st);
	assert_int_equal(st.push_declined, declined + 2);
	memset(S.push, 0xff, sizeof S.push);
	drain(1);
	assert_int_equal(S.push[1][2], 0xff);	/* all 8 asked of 2 */
	assert_int_equal(S.push[1][0], -1);	/* nothing of 0 */
	struct rv_p2p_cast_peer_stats ps;
	uint64_t from2 = 0;
	for (size_t i = 0; rv_p2p_cast_peer_stats(S.e[1], i, &ps); i++)
		if (!memcmp(ps.peer, S.id[2], 32))
			from2 = ps.fragments_pushed_from + ps.duplicates;	/* (0 still pushes too: it said nothing) */
	run(1000, 1, 10);
	for (size_t i = 0; rv_p2p_cast_peer_stats(S.e[1], i, &ps); i++)
		if (!memcmp(ps.peer, S.id[2], 32))
			assert_true(ps.fragments_pushed_from + ps.duplicates > from2 + 10);
	assert_int_equal(S.skipped[1], 0);
	sim_free();
}

/* Without a budget the maps say nothing of spare upload (as old peers). */
static void no_budget_no_spare(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf none = { 0 };
	sim_init(2, &none, &none);
	connect_(0, 1);
	run(500, 1, 10);
	assert_int_equal(S.spare[0], 0);
	assert_int_equal(S.spare[1], 0);
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(S.e[0], &st);
	assert_int_equal(st.fragments_over_budget + st.push_declines + st.upload_rate, 0);
	sim_free();
}

/* The fan-out limit is kept where a push is asked, not only where a
 * fragment goes: a peer pushes each sub-stream to push_limit + 1
 * neighbours at most and does not grant it to the next asker (CAST_GRANT),
 * which takes the sub-stream of another at once; taken silently, the asker
 * would get nothing, find its sub-stream stalled and pull what it lacks.
 * With no budget and a push limit of 1, 5 receivers in a mesh settle
 * into trees that bring everything by push. */
static void fanout_declined_when_full(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .push_limit = 1 }, rx = { .push_limit = 1 };
	sim_init(N, &pub, &rx);
	for (int a = 0; a < N; a++)
		for (int b = a + 1; b < N; b++)
			connect_(a, b);
	run(4000, 1, 10);
	struct rv_p2p_cast_stats p, r0[N], r;
	rv_p2p_cast_stats(S.e[0], &p);
	assert_true(p.push_declines > 0);	/* it said so */
	for (int i = 1; i < N; i++)
		rv_p2p_cast_stats(S.e[i], &r0[i]);
	uint64_t pulls = 0;	/* while the trees settle: 55 (305 when taken silently) */
	for (int i = 1; i < N; i++)
		pulls += r0[i].pulls;
	assert_true(pulls < 120);
	uint32_t from = S.published;
	run(3000, 1, 10);
	for (int i = 1; i < N; i++) {
		rv_p2p_cast_stats(S.e[i], &r);
		assert_int_equal(r.pulls - r0[i].pulls, 0);	/* push brought it all */
		assert_true(r.fragments_pushed_from_peers - r0[i].fragments_pushed_from_peers + 2 >= S.published - from);
		assert_int_equal(S.skipped[i], 0);
	}
	sim_free();
}

/* A push granted mid-stream brings at once what the asker lacks of the
 * last second (as answers to pulls it did not have to send): a receiver
 * that comes to a relay 2 s into the stream holds the relay's last second
 * of the sub-streams it asked a fetch period later without pulling it. */
static void catch_up_on_grant(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .window_ms = 1500 }, rx = { .window_ms = 1500 };	/* (older than
		* the window, the stream is joined at its newest keyframe, not pulled from its start) */
	sim_init(3, &pub, &rx);
	connect_(0, 1);
	run(2000, 1, 10);
	connect_(1, 2);	/* 2's only neighbour: 1 */
	run(300, 1, 10);
	struct rv_p2p_cast_stats r1, r2;
	rv_p2p_cast_stats(S.e[1], &r1);
	rv_p2p_cast_stats(S.e[2], &r2);
	assert_true(r2.fragments_requested_from_peers >= 60);	/* about 100: the last second, all 8 asked */
	assert_int_equal(r1.fragments_requested_by_peers, r2.fragments_requested_from_peers);
	assert_true(r2.pulls < 10);	/* not asked for */
	run(2000, 1, 10);
	assert_int_equal(S.skipped[2], 0);
	sim_free();
}

/* A pusher that brings its sub-stream only long after we knew of it (it
 * is fed late: here its messages take 250 ms more) is left for another,
 * as one that brings nothing: 3 asks nothing of slow 1 once settled and
 * delivers everything. Counted in time, 1's late pushes kept it. */
static void late_pusher_left(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { 0 }, rx = { 0 };
	sim_init(4, &pub, &rx);
	S.slow[1] = 250;
	connect_(0, 1);
	connect_(0, 2);
	connect_(1, 3);	/* first 3's only neighbour, so its pusher of all eight */
	run(2000, 1, 10);
	assert_int_equal(S.push[3][1], 0xff);
	connect_(2, 3);
	run(4000, 1, 10);
	assert_int_equal(S.push[3][1] > 0 ? S.push[3][1] : 0, 0);	/* nothing asked of 1 */
	assert_true(S.push[3][2] == 0xff);	/* all of 2 */
	uint32_t from = S.delivered[3];
	run(2000, 1, 10);
	assert_true(S.delivered[3] - from >= 190);
	assert_int_equal(S.skipped[3], 0);
	sim_free();
}

/* A publisher pushes unasked each sub-stream nobody asked for, and says
 * so (CAST_GRANT past what was asked); its neighbour takes them up and
 * asks for them, and is served, not declined (it was: past the
 * publisher's share per neighbour, nothing of the ask was new to take). */
static void adopted_then_asked_not_declined(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf pub = { .max_upload = 3500000 }, rx = { .max_upload = 3500000 };
	sim_init(2, &pub, &rx);
	connect_(0, 1);
	run(800, 1, 10);
	struct rv_p2p_cast_stats p;
	rv_p2p_cast_stats(S.e[0], &p);
	assert_true(p.push_declines <= 1);	/* (before the stream: one sub-stream of the eight asked) */
	assert_int_equal(S.push[1][0], 0xff);	/* it asks all eight of its only neighbour */
	assert_int_equal(S.grant[0][1], 0xffff);	/* and is granted all eight */
	assert_true(S.delivered[1] + 10 >= S.published);
	assert_int_equal(S.skipped[1], 0);
	sim_free();
}

/* Before the stream's first fragment, each receiver asks its pushes of
 * neighbours fed on a chain of grants from the publisher (the hops their
 * maps say; CAST_GRANT says what each pushes): with a push limit of 1 the
 * publisher feeds two receivers, which feed the other three, and all of
 * it is in place before the stream, so its first fragments come pushed
 * along those trees, none pulled, none late. */
static void trees_before_the_stream(void **state)
{
	(void)state;
	struct rv_p2p_cast_conf c = { .push_limit = 1 };
	sim_init(N, &c, &c);
	for (int a = 0; a < N; a++)
		for (int b = a + 1; b < N; b++)
			connect_(a, b);
	run(600, 0, 10);
	for (int i = 1; i < N; i++) {
		int fed = 0;
		for (int j = 0; j < N; j++)
			if (S.push[i][j] > 0 && S.grant[j][i] >= 0 && S.grant[j][i] >> 8 == S.push[i][j])
				fed |= S.grant[j][i] & S.push[i][j];
		assert_int_equal(fed, 0xff);
	}
	for (int b = 0; b < 8; b++) {	/* the publisher pushes each sub-stream to two */
		int n = 0;
		for (int i = 1; i < N; i++)
			n += S.push[i][0] > 0 && S.grant[0][i] >> 8 == S.push[i][0] && (S.grant[0][i] >> b & 1);
		assert_int_equal(n, 2);
	}
	run(1000, 1, 10);
	for (int i = 1; i < N; i++) {
		struct rv_p2p_cast_stats st;
		rv_p2p_cast_stats(S.e[i], &st);
		assert_int_equal(st.fragments_requested_from_peers, 0);
		assert_int_equal(S.skipped[i], 0);
		assert_true(S.delivered[i] + 2 >= S.published);
	}
	sim_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_flags),
		cmocka_unit_test(bucket_drops_counted),
		cmocka_unit_test(publisher_declines_receivers_repick),
		cmocka_unit_test(declined_receiver_repicks),
		cmocka_unit_test(no_budget_no_spare),
		cmocka_unit_test(fanout_declined_when_full),
		cmocka_unit_test(catch_up_on_grant),
		cmocka_unit_test(late_pusher_left),
		cmocka_unit_test(adopted_then_asked_not_declined),
		cmocka_unit_test(trees_before_the_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
