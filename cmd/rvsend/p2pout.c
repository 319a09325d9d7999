/* p2pout.c - rvsend media --p2p: the RTP and SRTP packets rtpout.c makes
 * (the same encoders, payloads and SRTP as through rvserver), published
 * into a peer group as a live stream (lib/p2plive.h) instead of sent to
 * an address. The input threads queue their packets; the loop, on the
 * main thread, publishes them, answers keyframe requests routed from the
 * receivers, and, once every input ended (or at SIGINT or SIGTERM: the
 * inputs are told to stop), ends the stream (the receivers finish their
 * recordings) and stays LINGER_MS for the receivers' last pulls; a second
 * signal stops at once. A fragment is "tag u8 | packet": tag 0 video
 * RTP, 1 video RTCP, 2 audio RTP, 3 audio RTCP. It calls only lib. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "buf.h"
#include "bytes.h"
#include "err.h"
#include "media.h"
#include "p2pcap.h"
#include "p2plink.h"
#include "p2plive.h"
#include "rvsend.h"

#define LINGER_MS 2000              /* after the last packet: for the receivers' pulls */
#define SETTLE_MS 300               /* the inputs start this long after the first neighbour came, */
#define WAIT_MS 2000                /* or this long after joining, with none */
#define QUEUE_MAX (8u << 20)        /* packets waiting for the loop (past it: dropped, counted) */

struct p2pout {
	struct app *a;
	uv_loop_t *loop;
	uv_async_t wake;
	uv_timer_t linger, ready;
	uint64_t wait_from, first_up;   /* p2pout_wait: since when; when a neighbour was first up */
	uv_signal_t sig[3];             /* SIGINT, SIGTERM; SIGUSR1: the counters now */
	atomic_int *stop;               /* the inputs' (rtpout.c) */
	int signo, stopped;
	uv_mutex_t mu;                  /* guards what the threads touch: q, sdp, ended, dropped, done */
	struct rv_buf q;                /* tag u8 | key u8 | len u16 | packet, each */
	char *sdp;
	size_t sdp_len;
	int inputs, ended, lingering, sdp_sent;
	int done;                       /* the loop is over: the threads no longer wake it */
	uint64_t dropped, key_requests;
	struct rv_media_src *vsrc;
	struct rv_p2plive *live;
	int exit_code;
	uint8_t frag[RV_P2P_CAST_FRAG_MAX];
	FILE *stamps;                   /* RV_TEST_STAMPS: "SEQ USEC" for each fragment published */
};

/* RV_TEST_STAMPS=FILE (for bench/p2pcast20.sh; not for users): a line
 * "SEQ USEC" (CLOCK_MONOTONIC, microseconds) for each fragment published,
 * against the receivers' lines of when the same fragment was delivered
 * (rvrecv's sdprec.c). */
static long long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The loop woken (unless it is done: its handles are closing), and the
 * lock let go. */
static void wake_unlock(struct p2pout *o)
{
	if (!o->done)
		uv_async_send(&o->wake);
	uv_mutex_unlock(&o->mu);
}

void p2pout_packet(struct p2pout *o, int tag, const uint8_t *p, size_t n, int key)
{
	if (n + 1 > RV_P2P_CAST_FRAG_MAX)
		return;
	uv_mutex_lock(&o->mu);
	uint8_t *q = rv_buf_reserve(&o->q, 4 + n);
	if (q) {
		q[0] = (uint8_t)tag;
		q[1] = (uint8_t)(key != 0);
		rv_wr16(q + 2, (uint16_t)n);
		memcpy(q + 4, p, n);
		rv_buf_commit(&o->q, 4 + n);
	} else {
		o->dropped++;
	}
	wake_unlock(o);
}

void p2pout_sdp(struct p2pout *o, const char *sdp, size_t n)
{
	char *s = malloc(n);
	if (!s)
		return;
	memcpy(s, sdp, n);
	uv_mutex_lock(&o->mu);
	free(o->sdp);
	o->sdp = s;
	o->sdp_len = n;
	wake_unlock(o);
}

void p2pout_input_ended(struct p2pout *o)
{
	uv_mutex_lock(&o->mu);
	o->ended++;
	wake_unlock(o);
}

static void report(struct p2pout *o)
{
	struct rv_p2p_cast_stats st;
	rv_p2plive_stats(o->live, &st);
	rv_say_info("p2p: %" PRIu64 " fragments published (%" PRIu64 " bytes); %" PRIu64 " pushed to peers (%" PRIu64
		    " bytes), %" PRIu64 " requested by peers (%" PRIu64 " bytes); %" PRIu64 " keyframe requests",
		    st.fragments_published, st.bytes_published, st.fragments_pushed_to_peers, st.bytes_pushed_to_peers,
		    st.fragments_requested_by_peers, st.bytes_requested_by_peers, o->key_requests);
	if (st.fragments_over_budget || st.push_declines)
		rv_say_info("p2p: upload budget: %" PRIu64 " fragments not sent in time (%" PRIu64 " bytes), %" PRIu64
			    " neighbours asked to take pushes from another", st.fragments_over_budget,
			    st.bytes_over_budget, st.push_declines);
	if (o->dropped)
		rv_say_info("p2p: %" PRIu64 " packets dropped waiting for the loop", o->dropped);
	if (!rv_out_json_mode())
		return;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "event", "NetStream.MulticastInfo");
	rv_p2plive_json(o->live, j);
	rv_out_obj(j);
}

static void on_closed(void *ud)
{
	struct p2pout *o = ud;
	o->live = NULL;
	uv_mutex_lock(&o->mu);
	o->done = 1;
	uv_mutex_unlock(&o->mu);
	uv_close((uv_handle_t *)&o->wake, NULL);
	uv_close((uv_handle_t *)&o->linger, NULL);
	uv_close((uv_handle_t *)&o->ready, NULL);
	for (int i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&o->sig[i], NULL);
}

static void on_linger(uv_timer_t *t)
{
	struct p2pout *o = t->data;
	if (!o->live || o->stopped)
		return;
	o->stopped = 1;
	report(o);
	rv_p2plive_stop(o->live, on_closed, o);
}

/* The stream ends: the receivers are told, then have LINGER_MS to pull. */
static void end_stream(struct p2pout *o)
{
	if (o->lingering || !o->live)
		return;
	o->lingering = 1;
	rv_p2plive_end(o->live);
	rv_say_debug("the stream ended: the receivers have %d ms for their last pulls", LINGER_MS);
	uv_timer_start(&o->linger, on_linger, LINGER_MS, 0);
}

static void on_wake(uv_async_t *h);

/* SIGINT or SIGTERM: the inputs stop, what they made is published, the
 * stream ends (a second signal: at once); the exit code says the signal. */
static void on_signal(uv_signal_t *s, int signo)
{
	struct p2pout *o = s->data;
	if (signo == SIGUSR1) {
		if (o->live && !o->stopped)
			report(o);
		return;
	}
	o->exit_code = 128 + signo;
	atomic_store(o->stop, 1);
	if (o->signo++) {
		on_linger(&o->linger);
		return;
	}
	on_wake(&o->wake);
	end_stream(o);
}

static void on_event(void *ud, const struct rv_p2p_cast_ev *e)
{
	struct p2pout *o = ud;
	if (e->type != RV_P2P_CAST_KEY_REQUEST)
		return;
	o->key_requests++;
	if (o->vsrc)
		rv_media_request_keyframe(o->vsrc);
}

/* The packets queued, published; the SDP, announced; the end, lingered. */
static void on_wake(uv_async_t *h)
{
	struct p2pout *o = h->data;
	uv_mutex_lock(&o->mu);
	struct rv_buf q = o->q;
	rv_buf_init(&o->q, QUEUE_MAX);
	char *sdp = o->sdp_sent ? NULL : o->sdp;
	size_t sdp_len = o->sdp_len;
	int ended = o->ended == o->inputs;
	uv_mutex_unlock(&o->mu);
	if (!o->live)
		goto out;
	if (sdp) {
		rv_p2plive_set_info(o->live, (const uint8_t *)sdp, sdp_len);
		o->sdp_sent = 1;
	}
	while (rv_buf_size(&q) >= 4) {
		const uint8_t *p = rv_buf_head(&q);
		size_t n = rv_rd16(p + 2);
		o->frag[0] = p[0];
		memcpy(o->frag + 1, p + 4, n);
		long seq = rv_p2plive_publish(o->live, o->frag, n + 1, p[1]);
		if (seq >= 0 && o->stamps)
			fprintf(o->stamps, "%ld %lld\n", seq, mono_us());
		rv_buf_consume(&q, 4 + n);
	}
	if (ended)
		end_stream(o);
out:
	rv_buf_free(&q);
}

/* --cap: a token ("rvc1:...") or a file that holds one, into CAP: 0, or
 * the exit code (said why). */
static int load_cap(const char *arg, uint8_t cap[RV_P2P_CAP_LEN])
{
	int rc = rv_p2plink_cap_load(arg, cap);
	if (rc == RV_EPROTO)
		rv_say_error("--cap: not a capability (rvc1:...)");
	else if (rc < 0)
		rv_say_error("--cap %s: %s", arg, rv_strerror(rc));
	return rc < 0 ? RV_EXIT_USAGE : 0;
}

int p2pout_start(struct p2pout **out, struct app *a, int inputs, struct rv_media_src *vsrc, atomic_int *stop)
{
	uint8_t cap[RV_P2P_CAP_LEN];
	int rc = a->p2p_cap ? load_cap(a->p2p_cap, cap) : 0;
	if (rc)
		return rc;
	struct p2pout *o = calloc(1, sizeof *o);
	if (!o)
		return RV_EXIT_FAIL;
	o->a = a;
	o->loop = uv_default_loop();
	o->inputs = inputs;
	o->vsrc = vsrc;
	o->stop = stop;
	rv_buf_init(&o->q, QUEUE_MAX);
	const char *sp = getenv("RV_TEST_STAMPS");
	if (sp && *sp)
		o->stamps = fopen(sp, "w");
	struct rv_p2plive_opts lo = { .spec = a->p2p, .key = a->p2p_key,
				      .server_host = a->serverless ? NULL : a->co.host, .server_port = a->co.port,
				      .bind = a->bind, .port_file = a->port_file, .lan = a->lan, .npeers = a->npeers,
				      .name = a->p2p_name ? a->p2p_name : "live", .cap = a->p2p_cap ? cap : NULL,
				      .cast = { .publisher = 1, .push_limit = (uint32_t)a->push_limit,
						.max_upload = a->max_upload },
				      .ipmc = a->ipmc, .ipmc_ttl = a->ipmc_ttl };
	memcpy(lo.peers, a->peers, sizeof lo.peers);
	const char *why = "?";
	rc = rv_p2plive_start(&o->live, o->loop, &lo, on_event, o, &why);
	if (rc < 0) {
		rv_say_error("--p2p: %s", why);
		rv_buf_free(&o->q);
		if (o->stamps)
			fclose(o->stamps);
		free(o);
		return rc == RV_EPROTO ? RV_EXIT_USAGE : rc == RV_EDENIED ? RV_EXIT_DENIED : RV_EXIT_FAIL;
	}
	uv_mutex_init(&o->mu);
	uv_async_init(o->loop, &o->wake, on_wake);
	uv_timer_init(o->loop, &o->linger);
	uv_timer_init(o->loop, &o->ready);
	o->wake.data = o->linger.data = o->ready.data = o;
	const int signos[3] = { SIGINT, SIGTERM, SIGUSR1 };
	for (int i = 0; i < 3; i++) {
		uv_signal_init(o->loop, &o->sig[i]);
		o->sig[i].data = o;
		uv_signal_start(&o->sig[i], on_signal, signos[i]);
	}
	char id[65];
	rv_hex(rv_p2plive_id(o->live), 32, id);
	rv_say_info("publishing \"%s\" into the peer group as peer %s (UDP port %d%s)", lo.name, id,
		    rv_p2plive_port(o->live), a->serverless ? ", serverless" : "");
	*out = o;
	return 0;
}

static void on_ready(uv_timer_t *t)
{
	struct p2pout *o = t->data;
	uint64_t now = uv_now(o->loop);
	if (!o->first_up && o->live && rv_p2plive_neighbors(o->live))
		o->first_up = now;
	if (o->signo || !o->live || now >= o->wait_from + WAIT_MS || (o->first_up && now >= o->first_up + SETTLE_MS)) {
		uv_timer_stop(t);
		uv_stop(o->loop);
	}
}

void p2pout_wait(struct p2pout *o)
{
	o->wait_from = uv_now(o->loop);
	uv_timer_start(&o->ready, on_ready, 10, 10);
	uv_run(o->loop, UV_RUN_DEFAULT);
}

int p2pout_run(struct p2pout *o)
{
	uv_run(o->loop, UV_RUN_DEFAULT);
	return o->exit_code;
}

void p2pout_free(struct p2pout *o)
{
	if (!o)
		return;
	uv_mutex_destroy(&o->mu);
	rv_buf_free(&o->q);
	free(o->sdp);
	if (o->stamps)
		fclose(o->stamps);
	free(o);
}
