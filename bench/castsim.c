/* castsim.c - the live-stream engine (lib/p2pcast.h) of a publisher and
 * N receivers in one process, on a simulated clock: no sessions, no
 * kernel, no other load, so that a change to the engine can be judged
 * apart from a loaded machine (bench/p2pcast20.sh measures the real
 * tools, in namespaces, on whatever the machine is doing).
 *
 * The model of bench/p2pcast20.sh: a full mesh of N + 1 peers, each with
 * an upload of --link bits/s (a FIFO: a message waits for those before it
 * on its sender's uplink, and one that would wait more than 400 ms is
 * dropped, as the tbf's "latency 400ms"), 1 ms of propagation, and the
 * engine's --max-upload at every peer; the receivers are neighbours of
 * each other from the start, the publisher's sessions come up at random
 * over its first 600 ms, and it publishes from 100 ms on: 25 frames a
 * second of up to 1,100-byte fragments, a keyframe (4x a frame) every 25
 * frames, about --bitrate bits/s in all, for --secs seconds.
 *
 *   castsim [--n 20] [--secs 10] [--bitrate 2000000] [--link 4000000]
 *           [--max-upload 3500000] [--seed 1] [--stalls K] [--stall-ms 500]
 *           [--start-stall MS] [--pub-up MS] [--lead MS] [--verbose]
 *
 * --stalls K: a loaded machine: each process is not run, K times a minute
 * on average, for up to --stall-ms (its datagrams wait, its timers are
 * late), as bench/p2pcast20.sh's 22 processes are when other work shares
 * the machine's two cores. --start-stall MS: no receiver is run for the
 * stream's first MS (as p2pcast20.sh's were, for about a second, while
 * rvsend started its encoder on a loaded machine). --pub-up MS: the
 * publisher's sessions come up over its first MS instead of 600; --lead
 * MS: it publishes MS after the first of them is up (rvsend --p2p waits
 * 300 ms) instead of 100 ms after the receivers are neighbours.
 *
 * Prints one line: continuity (fragments delivered / delivered + given
 * up, over the receivers), latency publisher -> last peer p50 / p99 (ms;
 * for each fragment every receiver delivered, the latest of them) over
 * the stream and over the fragments from its third second on, duplicate
 * bytes / bytes received, the publisher's upload / the stream, messages
 * the uplinks dropped, pushes and pull answers not sent for the budget
 * (fragments_over_budget: the publisher's, the receivers'), the receivers'
 * pulls and the neighbours told to ask another (push_declines, all peers).
 * --verbose adds, for each half second of the
 * stream, the (receiver, fragment) pairs never delivered and the worst
 * latency, and the worst and mean first arrival of a fragment at a receiver
 * and the share that came pulled (delivery is in order: a fragment that
 * came in time may wait behind one that did not). Exit 0, or 2 for bad
 * arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2pcast.h"
#include "p2pmsg.h"

#define PEERS_MAX 64
#define FRAGS_MAX 200000
#define QUEUE_MAX 2000000
#define FRAG_BYTES 1100
#define PROP_MS 1
#define DROP_MS 400

struct qmsg {
	uint64_t at;
	int from, to;
	uint16_t len;
	uint8_t *bytes;
};

static struct sim {
	int n;                                  /* peers: 0 the publisher, 1..n - 1 receivers */
	double link;                            /* bits/s of each uplink */
	struct rv_p2p_cast *e[PEERS_MAX];
	uint8_t id[PEERS_MAX][32];
	int up[PEERS_MAX][PEERS_MAX];
	double link_free[PEERS_MAX];            /* ms when each uplink is free */
	struct qmsg *q;
	size_t nq;
	uint64_t now, rs;
	uint64_t pub_at[FRAGS_MAX];
	uint32_t published;
	int64_t *got;                           /* [peer * FRAGS_MAX + seq]: delivered at (ms), or -1 */
	int64_t *arr;                           /* first arrival (ms), or -1 */
	uint8_t *arrp;                          /* it came pulled */
	uint64_t drops;
	uint64_t frozen[PEERS_MAX];             /* a peer not run till then (--stalls) */
} S;

static uint32_t rnd(void)
{
	S.rs ^= S.rs << 13;
	S.rs ^= S.rs >> 7;
	S.rs ^= S.rs << 17;
	return (uint32_t)(S.rs >> 11);
}

static int who(const uint8_t *id)
{
	for (int i = 0; i < S.n; i++)
		if (!memcmp(S.id[i], id, 32))
			return i;
	return -1;
}

static void connect_(int a, int b)
{
	S.up[a][b] = S.up[b][a] = 1;
	rv_p2p_cast_peer_up(S.e[a], S.now, S.id[b]);
	rv_p2p_cast_peer_up(S.e[b], S.now, S.id[a]);
}

/* What peer I's engine sends, onto its uplink. */
static void drain(int i)
{
	static uint8_t buf[RV_P2P_MSG_MAX];
	uint8_t peer[32];
	ssize_t n;
	while ((n = rv_p2p_cast_take(S.e[i], peer, buf, sizeof buf)) > 0) {
		double start = S.link_free[i] > (double)S.now ? S.link_free[i] : (double)S.now;
		if (start - (double)S.now > DROP_MS || S.nq == QUEUE_MAX) {
			S.drops++;
			continue;
		}
		S.link_free[i] = start + (double)(n + RV_P2P_CAST_WIRE_EXTRA) * 8 * 1000 / S.link;
		struct qmsg *m = &S.q[S.nq++];
		m->at = (uint64_t)S.link_free[i] + PROP_MS;
		m->from = i;
		m->to = who(peer);
		m->len = (uint16_t)n;
		m->bytes = malloc((size_t)n);
		if (!m->bytes || m->to < 0)
			abort();
		memcpy(m->bytes, buf, (size_t)n);
	}
	struct rv_p2p_cast_ev e;
	while (rv_p2p_cast_poll(S.e[i], &e))
		if (e.type == RV_P2P_CAST_DATA && e.seq < FRAGS_MAX)
			S.got[(size_t)i * FRAGS_MAX + e.seq] = (int64_t)S.now;
}

/* The messages due, to their engines (in the order they came due). */
static void deliver(void)
{
	for (size_t k = 0; k < S.nq;) {
		if (S.q[k].at > S.now) {
			k++;
			continue;
		}
		if (S.frozen[S.q[k].to] > S.now) {	/* its process is not run: the datagram waits */
			k++;
			continue;
		}
		struct qmsg m = S.q[k];
		S.q[k] = S.q[--S.nq];
		struct rv_p2p_msg pm;
		const char *why;
		if (S.up[m.from][m.to] && rv_p2p_msg_parse(m.bytes, m.len, &pm, &why) == 0) {
			if (pm.type == RV_P2P_M_CAST_FRAG && pm.index < FRAGS_MAX && S.arr[(size_t)m.to * FRAGS_MAX + pm.index] < 0) {
				S.arr[(size_t)m.to * FRAGS_MAX + pm.index] = (int64_t)S.now;
				S.arrp[(size_t)m.to * FRAGS_MAX + pm.index] = pm.flags & RV_P2P_FRAG_PULLED ? 1 : 0;
			}
			rv_p2p_cast_input(S.e[m.to], S.now, S.id[m.from], &pm, &why);
		}
		free(m.bytes);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	if (!n)
		return -1;
	size_t i = (size_t)((double)n * p);
	return v[i < n ? i : n - 1];
}

static int usage(void)
{
	fprintf(stderr, "usage: castsim [--n RECEIVERS] [--secs S] [--bitrate B] [--link B] [--max-upload B] "
			"[--seed K] [--stalls K] [--stall-ms MS] [--start-stall MS] [--pub-up MS] [--lead MS] [--verbose]\n");
	return 2;
}

int main(int argc, char **argv)
{
	long n = 20, secs = 10, seed = 1, stalls = 0, stall_ms = 500, start_stall = 0, pub_spread = 600, lead = -1;
	double bitrate = 2e6, link = 4e6, budget = 3.5e6;
	int verbose = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--verbose")) {
			verbose = 1;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--n"))
			n = atol(v);
		else if (!strcmp(a, "--secs"))
			secs = atol(v);
		else if (!strcmp(a, "--seed"))
			seed = atol(v);
		else if (!strcmp(a, "--bitrate"))
			bitrate = atof(v);
		else if (!strcmp(a, "--link"))
			link = atof(v);
		else if (!strcmp(a, "--max-upload"))
			budget = atof(v);
		else if (!strcmp(a, "--stalls"))
			stalls = atol(v);
		else if (!strcmp(a, "--stall-ms"))
			stall_ms = atol(v);
		else if (!strcmp(a, "--start-stall"))
			start_stall = atol(v);
		else if (!strcmp(a, "--pub-up"))
			pub_spread = atol(v);
		else if (!strcmp(a, "--lead"))
			lead = atol(v);
		else
			return usage();
	}
	if (n < 1 || n >= PEERS_MAX || secs < 1 || secs > 60 || bitrate < 1e5 || link < 1e5 || budget < 0 ||
	    stalls < 0 || stalls > 1000 || stall_ms < 1 || start_stall < 0 || start_stall > 10000 || pub_spread < 1 ||
	    pub_spread > 10000 || lead < -1 || lead > 10000)
		return usage();
	S.n = (int)n + 1;
	S.link = link;
	S.rs = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x2545f4914f6cdd1dull);
	S.q = calloc(QUEUE_MAX, sizeof *S.q);
	S.got = malloc((size_t)S.n * FRAGS_MAX * sizeof *S.got);
	if (!S.q || !S.got)
		return 1;
	memset(S.got, 0xff, (size_t)S.n * FRAGS_MAX * sizeof *S.got);
	S.arr = malloc((size_t)S.n * FRAGS_MAX * sizeof *S.arr);
	S.arrp = calloc((size_t)S.n * FRAGS_MAX, 1);
	if (!S.arr || !S.arrp)
		return 1;
	memset(S.arr, 0xff, (size_t)S.n * FRAGS_MAX * sizeof *S.arr);
	uint8_t stream[32];
	rv_p2p_cast_id("live", stream);
	for (int i = 0; i < S.n; i++) {
		struct rv_p2p_cast_conf c = { .publisher = i == 0, .max_upload = (uint64_t)budget };
		S.id[i][0] = (uint8_t)rnd();
		S.id[i][1] = (uint8_t)i;
		if (rv_p2p_cast_new(&S.e[i], stream, &c) < 0)
			return 1;
	}
	S.now = 1000;
	for (int a = 1; a < S.n; a++)
		for (int b = a + 1; b < S.n; b++)
			connect_(a, b);
	uint64_t start = S.now + 100, pub_up[PEERS_MAX], first_up = UINT64_MAX;
	for (int b = 1; b < S.n; b++) {
		pub_up[b] = S.now + rnd() % (uint64_t)pub_spread;
		first_up = pub_up[b] < first_up ? pub_up[b] : first_up;
	}
	if (lead >= 0)	/* as rvsend --p2p: its inputs start once the group is there */
		start = first_up + (uint64_t)lead;
	uint64_t end = start + (uint64_t)secs * 1000;
	rv_p2p_cast_set_info(S.e[0], (const uint8_t *)"v=0\r\n", 5);
	size_t frame_bytes = (size_t)(bitrate / 8 / 25 * 25 / 28);	/* 24 frames + a keyframe of 4 */
	uint8_t frag[FRAG_BYTES] = { 0 };
	for (uint32_t frame = 0; S.now < end + 4000; S.now++) {
		for (int b = 1; b < S.n; b++) {
			if (pub_up[b] == S.now)
				connect_(0, b);
			if (S.now == start && start_stall)	/* --start-stall: not run as it starts */
				S.frozen[b] = start + (uint64_t)start_stall;
		}
		if (S.now >= start && S.now < end && (S.now - start) % 40 == 0) {
			int key = frame++ % 25 == 0;
			for (size_t left = key ? 4 * frame_bytes : frame_bytes, first = 1; left; first = 0) {
				size_t len = left > FRAG_BYTES ? FRAG_BYTES : left;
				long s = rv_p2p_cast_publish(S.e[0], S.now, frag, len, key && first);
				if (s < 0 || s >= FRAGS_MAX)
					return 1;
				S.pub_at[s] = S.now;
				S.published = (uint32_t)s + 1;
				left -= len;
			}
		}
		if (S.now == end)
			rv_p2p_cast_end(S.e[0], S.now);
		for (int i = 0; stalls && i < S.n; i++)	/* a loaded machine: now and then a process is not run */
			if (S.frozen[i] <= S.now && rnd() % 60000 < (uint32_t)stalls)
				S.frozen[i] = S.now + 1 + rnd() % (uint32_t)stall_ms;
		deliver();
		for (int i = 0; i < S.n; i++) {
			if (S.frozen[i] > S.now)
				continue;
			if (rv_p2p_cast_next(S.e[i]) <= S.now)
				rv_p2p_cast_tick(S.e[i], S.now);
			drain(i);
		}
	}
	struct rv_p2p_cast_stats st;
	uint64_t deliv = 0, skip = 0, dup = 0, got = 0, over = 0, pulls = 0, declines = 0;
	for (int i = 1; i < S.n; i++) {
		rv_p2p_cast_stats(S.e[i], &st);
		over += st.fragments_over_budget;
		pulls += st.pulls;
		declines += st.push_declines;
		deliv += st.delivered;
		skip += st.skipped;
		dup += st.bytes_duplicate;
		got += st.bytes_pushed_from_peers + st.bytes_requested_from_peers;
	}
	double *lat = malloc(S.published * sizeof *lat), *lat2 = malloc(S.published * sizeof *lat2);
	size_t nl = 0, nl2 = 0;
	if (!lat || !lat2)
		return 1;
	for (uint32_t s = 0; s < S.published; s++) {
		double worst = 0;
		int all = 1;
		for (int i = 1; i < S.n && all; i++) {
			int64_t t = S.got[(size_t)i * FRAGS_MAX + s];
			all = t >= 0;
			if (all && (double)(t - (int64_t)S.pub_at[s]) > worst)
				worst = (double)(t - (int64_t)S.pub_at[s]);
		}
		if (!all)
			continue;
		lat[nl++] = worst;
		if (S.pub_at[s] >= start + 2000)
			lat2[nl2++] = worst;
	}
	qsort(lat, nl, sizeof *lat, cmp);
	qsort(lat2, nl2, sizeof *lat2, cmp);
	rv_p2p_cast_stats(S.e[0], &st);
	printf("castsim: N=%d seed %ld: continuity %.4f, latency p50 / p99 %.0f / %.0f ms (third second on: %.0f / "
	       "%.0f), duplicates %.1f%%, publisher upload %.2fx, uplink drops %llu, over the budget %llu (publisher) / "
	       "%llu (receivers), pulls %llu, declines %llu\n",
	       S.n - 1, seed, deliv + skip ? (double)deliv / (double)(deliv + skip) : 0, pct(lat, nl, 0.5),
	       pct(lat, nl, 0.99), pct(lat2, nl2, 0.5), pct(lat2, nl2, 0.99),
	       got + dup ? 100.0 * (double)dup / (double)(got + dup) : 0,
	       st.bytes_published ? (double)(st.bytes_pushed_to_peers + st.bytes_requested_by_peers) /
					    (double)st.bytes_published : 0,
	       (unsigned long long)S.drops, (unsigned long long)st.fragments_over_budget, (unsigned long long)over,
	       (unsigned long long)pulls, (unsigned long long)declines);
	for (long h = 0; verbose && h < secs * 2; h++) {
		int frags = 0, missing = 0;
		double worst = 0;
		for (uint32_t s = 0; s < S.published; s++) {
			if (S.pub_at[s] < start + (uint64_t)h * 500 || S.pub_at[s] >= start + (uint64_t)h * 500 + 500)
				continue;
			frags++;
			for (int i = 1; i < S.n; i++) {
				int64_t t = S.got[(size_t)i * FRAGS_MAX + s];
				if (t < 0)
					missing++;
				else if ((double)(t - (int64_t)S.pub_at[s]) > worst)
					worst = (double)(t - (int64_t)S.pub_at[s]);
			}
		}
		double aw = 0, asum = 0;	/* first arrivals (delivery may wait behind an earlier fragment) */
		int pulled = 0, arrived = 0;
		for (uint32_t s = 0; s < S.published; s++) {
			if (S.pub_at[s] < start + (uint64_t)h * 500 || S.pub_at[s] >= start + (uint64_t)h * 500 + 500)
				continue;
			for (int i = 1; i < S.n; i++) {
				int64_t t = S.arr[(size_t)i * FRAGS_MAX + s];
				if (t < 0)
					continue;
				double l = (double)(t - (int64_t)S.pub_at[s]);
				arrived++;
				asum += l;
				pulled += S.arrp[(size_t)i * FRAGS_MAX + s];
				aw = l > aw ? l : aw;
			}
		}
		printf("  %4.1f s: %4d fragments, %5d (receiver, fragment) never delivered, worst latency %5.0f ms; "
		       "first arrivals: worst %5.0f ms, mean %4.0f ms, pulled %.2f\n",
		       (double)h / 2, frags, missing, worst, aw, arrived ? asum / arrived : 0,
		       arrived ? (double)pulled / arrived : 0);
	}
	for (int i = 0; i < S.n; i++)
		rv_p2p_cast_free(S.e[i]);
	for (size_t k = 0; k < S.nq; k++)
		free(S.q[k].bytes);
	free(S.q);
	free(S.got);
	free(S.arr);
	free(S.arrp);
	free(lat);
	free(lat2);
	return 0;
}
