/* sdprec.c - rvrecv media --sdp FILE: receive the plain RTP or SRTP an SDP
 * describes (an m=video section with H.264 or VP8, an m=audio section with
 * Opus or G.711, or both), put it back in order, rebuild whole frames and write
 * them into a container without re-encoding (Matroska by default; -o -
 * for stdout). The two tracks are lined up by the first RTCP sender report
 * of each (on port+1), or until both came, by when their first packets
 * arrived. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "bytes.h"
#include "err.h"
#include "media.h"
#include "p2plive.h"
#include "rtp.h"
#include "rtpin.h"
#include "rvrecv.h"
#include "sdp.h"
#include "srtp.h"

#define HOLD_MS 100                /* how long a gap is waited for */
#define LINGER_MS 1000             /* --p2p: after the stream's end, for the neighbours' last pulls */

enum { LINEUP_NONE, LINEUP_ARRIVAL, LINEUP_REPORTS };

struct rx {
	int has_video, has_audio;
	const char *acodec;             /* "opus", "PCMU" or "PCMA" */
	int aclock;
	struct rtpin vi, au;
	struct rv_depack dp;
	struct rv_media_sink *sink;
	uint64_t frames, keyframes, aframes;   /* written */
	uint64_t skipped, askipped;            /* before the file's first keyframe: not written */
	int lineup;                     /* how audio is placed against the video */
	int sink_err;
	/* --p2p: the stream's fragments instead of the SDP's ports */
	struct rv_p2plive *live;
	int ipmc;                       /* --ipmc: fragments from IP multicast too */
	int mc_only;                    /* --ipmc with no --p2p: from IP multicast alone, no peer */
	uv_loop_t *loop;
	uv_timer_t tick;
	uv_signal_t usr1;               /* the counters now */
	char *info;                     /* the announce (the SDP), once it came */
	size_t info_len;
	struct rv_buf early;            /* fragments before the tracks were open: len u16 | bytes */
	int open, closed;               /* the tracks are open; the peer closed */
	int ended;                      /* the publisher ended the stream, and all of it came (or was given up) */
	int reset;                      /* a new run of the stream began (its publisher started again) */
	uint32_t reset_seq;             /* how many fragments the run recorded had */
	double first;                   /* when the first RTP packet came */
};

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig)
{
	stop_signal = sig;
}

/* RV_TEST_STAMPS=FILE (for bench/p2pcast20.sh; not for users): with
 * --p2p, "start USEC" when the peer starts, then "SEQ USEC" for each
 * fragment the engine delivers (CLOCK_MONOTONIC, microseconds, shared by
 * every process of the machine); rvsend --p2p writes "SEQ USEC" for each
 * fragment it publishes: the bench takes latency and the time to the first
 * fragment from them (through stdio's buffer: a kill -9 loses its tail). */
static FILE *stamps;

static long long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void write_frame(struct rx *x, int track, const uint8_t *f, size_t len, int64_t t_us, int key)
{
	int rc = rv_media_sink_write(x->sink, track, f, len, t_us, key);
	if (rc < 0) {
		x->sink_err = rc;
	} else if (rc == 0) {
		*(track == 0 ? &x->skipped : &x->askipped) += 1;
	} else if (track == 0) {
		x->frames++;
		x->keyframes += key != 0;
	} else {
		x->aframes++;
	}
}

/* A video frame: the video is the timeline, from its first packet on. */
static void on_frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	struct rx *x = ud;
	if (!x->sink_err)
		write_frame(x, 0, f, len, rtpclock_arrival_us(&x->vi.clk, rtpclock_ext(&x->vi.clk, ts)), key);
}

/* A video packet in sequence order, to the depacketizer. */
static void on_video(void *ud, const uint8_t *p, size_t n)
{
	struct rx *x = ud;
	struct rv_rtp r;
	if (rv_rtp_parse(p, n, &r) == 0)
		rv_depack_push(&x->dp, &r);
}

/* Where audio at EXT goes: by the sender reports once both came, else by
 * the first packets' arrival; said once, and again when that changes. */
static int64_t audio_us(struct rx *x, int64_t ext)
{
	int64_t arrival = rtpclock_arrival_us(&x->au.clk, ext), t;
	if (!x->has_video)
		return arrival;
	int how = rtpclock_report_us(&x->vi.clk, &x->au.clk, ext, &t) == 0 ? LINEUP_REPORTS : LINEUP_ARRIVAL;
	if (how != x->lineup && how == LINEUP_ARRIVAL)
		rv_say_debug("lining up audio with video by their first packets' arrival (no RTCP sender reports yet)");
	else if (how != x->lineup)
		rv_say_debug("lining up audio with video by their RTCP sender reports (%+.1f ms from arrival)",
			     (double)(t - arrival) / 1000);
	x->lineup = how;
	return how == LINEUP_REPORTS ? t : arrival;
}

/* An audio packet in sequence order (an Opus frame, or 20 ms or so of
 * G.711 samples): one frame of the audio track. */
static void on_audio(void *ud, const uint8_t *p, size_t n)
{
	struct rx *x = ud;
	struct rv_rtp r;
	if (x->sink_err || rv_rtp_parse(p, n, &r) < 0 || !r.payload_len)
		return;
	int64_t t = audio_us(x, rtpclock_ext(&x->au.clk, r.ts));
	write_frame(x, 1, r.payload, r.payload_len, t, 1);
}

static int read_sdp(const char *path, struct rv_sdp *sdp)
{
	char err[256], text[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		rv_say_error("cannot read --sdp %s: %s", path, strerror(errno));
		return -1;
	}
	if (rv_sdp_parse(text, (size_t)n, sdp, err, sizeof err) < 0) {
		rv_say_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

/* The sections we take: 0, or -1 with the reason said. */
static int choose(const char *path, const struct rv_sdp *sdp, struct rx *x, int *depack)
{
	x->has_video = rv_sdp_has_video(sdp);
	*depack = !strcmp(sdp->codec, "H264") ? RV_DEPACK_H264 : !strcmp(sdp->codec, "VP8") ? RV_DEPACK_VP8 : 0;
	if (x->has_video && !*depack) {
		rv_say_error("%s: %s video is not supported (H264, VP8)", path, sdp->codec);
		return -1;
	}
	if (!x->has_video && sdp->port)
		rv_say_info("%s: m=video has no a=rtpmap for payload type %d: no video", path, sdp->pt);
	const struct rv_sdp_audio *au = &sdp->audio;
	int opus = !strcasecmp(au->codec, "opus") && au->clock == 48000;
	int g711 = (!strcasecmp(au->codec, "PCMU") || !strcasecmp(au->codec, "PCMA")) && au->clock == 8000;
	x->has_audio = rv_sdp_has_audio(sdp) && (opus || g711);
	x->acodec = opus ? "opus" : !strcasecmp(au->codec, "PCMU") ? "PCMU" : "PCMA";
	x->aclock = opus ? 48000 : 8000;
	if (x->has_audio || !au->port)
		return 0;
	if (!x->has_video) {
		rv_say_error("%s: %s/%d audio is not supported (opus/48000, PCMU/8000, PCMA/8000), and there is no video",
			     path, au->codec[0] ? au->codec : "?", au->clock);
		return -1;
	}
	rv_say_info("%s: %s audio is not supported (opus/48000, PCMU/8000, PCMA/8000): video only", path,
		    au->codec[0] ? au->codec : "?");
	return 0;
}

/* Sockets, keys and jitter buffers of the sections taken. */
static int open_tracks(const struct rv_sdp *sdp, struct rx *x)
{
	char err[256];
	int rc = 0;
	if (x->has_video) {
		struct rtpin_conf c = { "video", sdp->addr, sdp->v6, x->live ? 0 : sdp->port, 90000,
					sdp->has_crypto ? sdp->crypto_suite : NULL, sdp->crypto_key, HOLD_MS,
					on_video, x };
		rc = rtpin_open(&x->vi, &c, err, sizeof err);
	}
	if (rc == 0 && x->has_audio) {
		const struct rv_sdp_audio *au = &sdp->audio;
		struct rtpin_conf c = { "audio", au->addr, au->v6, x->live ? 0 : au->port, x->aclock,
					au->has_crypto ? au->crypto_suite : NULL, au->crypto_key, HOLD_MS,
					on_audio, x };
		rc = rtpin_open(&x->au, &c, err, sizeof err);
	}
	if (rc < 0)
		rv_say_error("%s", err);
	return rc;
}

static int open_sink(struct app *a, const struct rv_sdp *sdp, struct rx *x)
{
	char err[256];
	struct rv_media_track vt = { sdp->codec, sdp->width, sdp->height, 0 };
	struct rv_media_track at = { x->acodec, 0, 0, sdp->audio.channels == 1 ? 1 : 2 };
	if (rv_media_sink_open(&x->sink, a->output, a->mformat, x->has_video ? &vt : NULL,
			       x->has_audio ? &at : NULL, err, sizeof err) < 0) {
		rv_say_error("%s", err);
		return -1;
	}
	return 0;
}

/* --p2p: a fragment "tag u8 | packet" (p2pout.c in rvsend) to its track. */
static void fragment(struct rx *x, const uint8_t *p, size_t n)
{
	uint8_t pkt[JITTER_PKT + RV_SRTP_MAX_TRAILER];
	if (n < 2 || n - 1 > sizeof pkt || p[0] > 3)
		return;
	struct rtpin *t = p[0] < 2 ? (x->has_video ? &x->vi : NULL) : (x->has_audio ? &x->au : NULL);
	if (!t)
		return;
	memcpy(pkt, p + 1, n - 1);
	double now = mono_ms();
	if (rtpin_packet(t, pkt, n - 1, p[0] & 1, now) && !x->first)
		x->first = now;
}

static void on_live(void *ud, const struct rv_p2p_cast_ev *e)
{
	struct rx *x = ud;
	if (e->type == RV_P2P_CAST_DATA && stamps)
		fprintf(stamps, "%" PRIu32 " %lld\n", e->seq, mono_us());
	if (e->type == RV_P2P_CAST_INFO && !x->info && (x->info = malloc(e->len + 1))) {
		memcpy(x->info, e->data, e->len);
		x->info[e->len] = 0;
		x->info_len = e->len;
	} else if (e->type == RV_P2P_CAST_END) {
		x->ended = 1;
	} else if (e->type == RV_P2P_CAST_RESET && !x->reset) {	/* the recording ends with its run */
		x->reset = 1;
		x->reset_seq = e->seq;
	} else if (e->type == RV_P2P_CAST_DATA && x->reset) {	/* the new run's: not this recording's */
	} else if (e->type == RV_P2P_CAST_DATA && x->open) {
		fragment(x, e->data, e->len);
	} else if (e->type == RV_P2P_CAST_DATA) {	/* kept until the announce says what they are */
		uint8_t *q = rv_buf_reserve(&x->early, 2 + e->len);
		if (q) {
			rv_wr16(q, (uint16_t)e->len);
			memcpy(q + 2, e->data, e->len);
			rv_buf_commit(&x->early, 2 + e->len);
		}
	}
}

static void on_tick(uv_timer_t *t)
{
	(void)t;	/* it wakes the loop: run() checks the clock and the signals */
}

/* Wait for packets (at most 50 ms), take them, hand on what is due. */
static void step(struct rx *x, double *first)
{
	if (x->live) {
		uv_run(x->loop, UV_RUN_ONCE);
		if (x->first && !*first)
			*first = x->first;
		if (x->has_video)
			jitter_tick(&x->vi.jb, mono_ms());
		if (x->has_audio)
			jitter_tick(&x->au.jb, mono_ms());
		return;
	}
	struct pollfd pf[4];
	int n = 0;
	if (x->has_video)
		n += rtpin_pollfds(&x->vi, pf + n);
	if (x->has_audio)
		n += rtpin_pollfds(&x->au, pf + n);
	if (poll(pf, (nfds_t)n, 50) > 0) {
		double now = mono_ms();
		int got = x->has_video ? rtpin_read(&x->vi, now) : 0;
		got += x->has_audio ? rtpin_read(&x->au, now) : 0;
		if (got && !*first)
			*first = now;
	}
	if (x->has_video)
		jitter_tick(&x->vi.jb, mono_ms());
	if (x->has_audio)
		jitter_tick(&x->au.jb, mono_ms());
}

/* Until a signal, --duration, --timeout, --frames, a write error or
 * (--p2p) the stream's end. */
static int run(struct app *a, struct rx *x)
{
	double start = mono_ms(), first = 0;
	while (!stop_signal) {
		double now = mono_ms();
		if (x->ended || x->reset)
			return 0;
		if (a->duration > 0 && first && now - first >= a->duration * 1000)
			return 0;
		if (a->timeout > 0 && now - start >= a->timeout * 1000)
			return x->frames + x->aframes ? 0 : RV_EXIT_TIMEOUT;
		if (a->frames > 0 && (long)(x->has_video ? x->frames : x->aframes) >= a->frames)
			return 0;
		if (x->sink_err) {
			char why[128];
			rv_say_error("writing %s failed: %s", a->output,
				     rv_media_sink_strerror(x->sink_err, why, sizeof why));
			return RV_EXIT_FAIL;
		}
		step(x, &first);
	}
	return 0;
}

static void summary(struct app *a, const struct rv_sdp *sdp, struct rx *x)
{
	const struct jitter *v = &x->vi.jb, *au = &x->au.jb;
	if (x->has_video)
		rv_say_info("%" PRIu64 " packets (%" PRIu64 " lost, %" PRIu64 " late), %" PRIu64 " frames written (%" PRIu64
			    " keyframes; %" PRIu64 " before the first keyframe skipped, %" PRIu64 " dropped incomplete)",
			    v->packets, v->lost, v->late, x->frames, x->keyframes, x->skipped, x->dp.dropped);
	if (x->has_audio)
		rv_say_info("audio: %" PRIu64 " packets (%" PRIu64 " lost, %" PRIu64 " late), %" PRIu64
			    " frames written (%" PRIu64 " before the first video keyframe skipped)",
			    au->packets, au->lost, au->late, x->aframes, x->askipped);
	uint64_t unauth = x->vi.unauth + x->au.unauth;
	if (unauth)
		rv_say_info("%" PRIu64 " packets failed SRTP authentication", unauth);
	if (!a->co.json || !strcmp(a->output, "-"))
		return;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "event", "media");
	if (x->has_video)
		cJSON_AddStringToObject(j, "codec", sdp->codec);
	cJSON_AddNumberToObject(j, "packets", (double)v->packets);
	cJSON_AddNumberToObject(j, "lost", (double)v->lost);
	cJSON_AddNumberToObject(j, "frames", (double)x->frames);
	cJSON_AddNumberToObject(j, "keyframes", (double)x->keyframes);
	cJSON_AddNumberToObject(j, "skipped", (double)x->skipped);
	cJSON_AddNumberToObject(j, "dropped", (double)x->dp.dropped);
	if (x->has_audio)
		cJSON_AddStringToObject(j, "audio", x->acodec);
	cJSON_AddNumberToObject(j, "audio_packets", (double)au->packets);
	cJSON_AddNumberToObject(j, "audio_frames", (double)x->aframes);
	cJSON_AddNumberToObject(j, "audio_skipped", (double)x->askipped);
	cJSON_AddNumberToObject(j, "audio_lost", (double)au->lost);
	rv_out_obj(j);
}

/* The audio codec as the log says it. */
static const char *audio_name(const struct rx *x)
{
	return !x->has_audio ? "" : !strcmp(x->acodec, "opus") ? "Opus" : x->acodec;
}

/* Hand on what the jitter buffers hold, then finish the file. */
static int finish(struct rx *x, int rc)
{
	if (x->has_video && !x->sink_err)
		jitter_tick(&x->vi.jb, mono_ms() + 1e6);
	if (x->has_audio && !x->sink_err)
		jitter_tick(&x->au.jb, mono_ms() + 1e6);
	if (rv_media_sink_close(x->sink) < 0 && !rc)
		rc = RV_EXIT_FAIL;
	x->sink = NULL;
	return rc;
}

static void describe(const struct app *a, const struct rv_sdp *sdp, const struct rx *x)
{
	char v[96] = "", au[96] = "";
	if (x->live) {
		rv_say_info("receiving %s%s%s from %s into %s", x->has_video ? sdp->codec : "",
			    x->has_video && x->has_audio ? " and " : "", audio_name(x),
			    a->p2p ? "the peer group" : "IP multicast", a->output);
		return;
	}
	if (x->has_video)
		snprintf(v, sizeof v, "%s on %s port %d", sdp->codec, sdp->addr, sdp->port);
	if (x->has_audio)
		snprintf(au, sizeof au, "%s on %s port %d", audio_name(x), sdp->audio.addr, sdp->audio.port);
	rv_say_info("receiving %s%s%s into %s", v, v[0] && au[0] ? " and " : "", au, a->output);
}

/* Receive and record, once the tracks and the file are open. */
static int record(struct app *a, const struct rv_sdp *sdp, struct rx *x, int depack)
{
	if (x->has_video)
		rv_depack_init(&x->dp, depack, 16u << 20, on_frame, x);
	x->open = 1;
	while (rv_buf_size(&x->early) >= 2) {	/* --p2p: what came before the announce */
		const uint8_t *q = rv_buf_head(&x->early);
		size_t n = rv_rd16(q);
		fragment(x, q + 2, n);
		rv_buf_consume(&x->early, 2 + n);
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	describe(a, sdp, x);
	int rc = finish(x, run(a, x));
	summary(a, sdp, x);
	if (x->has_video)
		rv_depack_free(&x->dp);
	return rc;
}

/* --p2p: NetStreamMulticastInfo's counters, in all and (-v) by neighbour
 * (at the end, and at SIGUSR1). */
static void p2p_summary(struct rx *x)
{
	struct rv_p2p_cast_stats st;
	struct rv_p2p_cast_peer_stats ps;
	rv_p2plive_stats(x->live, &st);
	if (!x->mc_only)
		rv_say_info("p2p: %" PRIu64 " fragments pushed from peers, %" PRIu64 " pulled, %" PRIu64 " duplicates, %"
			    PRIu64 " given up; %" PRIu64 " pushed to peers, %" PRIu64 " sent on request",
			    st.fragments_pushed_from_peers, st.fragments_requested_from_peers, st.duplicates, st.skipped,
			    st.fragments_pushed_to_peers, st.fragments_requested_by_peers);
	if (x->ipmc)
		rv_say_info("p2p: %" PRIu64 " fragments from IP multicast", st.fragments_from_ipmc);
	if (x->mc_only && st.skipped)
		rv_say_info("p2p: %" PRIu64 " given up (IP multicast lost them, and no peer had them)", st.skipped);
	if (st.fragments_over_budget || st.push_declines || st.push_declined)
		rv_say_info("p2p: upload budget: %" PRIu64 " fragments not sent in time, %" PRIu64
			    " neighbours asked to take pushes from another, asked %" PRIu64 " times",
			    st.fragments_over_budget, st.push_declines, st.push_declined);
	for (size_t k = 0; rv_p2plive_peer_stats(x->live, k, &ps); k++) {
		char id[65];
		rv_hex(ps.peer, 32, id);
		rv_say_debug("p2p: peer %.16s%s: %" PRIu64 " fragments pushed from it, %" PRIu64 " pulled, %" PRIu64
			     " duplicates; %" PRIu64 " pushed to it, %" PRIu64 " sent on its request",
			     id, ps.up ? "" : " (gone)", ps.fragments_pushed_from, ps.fragments_requested_from,
			     ps.duplicates, ps.fragments_pushed_to, ps.fragments_requested_by);
	}
	if (!rv_out_json_mode())
		return;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "event", "NetStream.MulticastInfo");
	rv_p2plive_json(x->live, j);
	rv_out_obj(j);
}

/* --p2p: the stream ended (the recording is finished): said, then the
 * neighbours have LINGER_MS for their last pulls of us. */
static void p2p_ended(struct app *a, struct rx *x, const char *name)
{
	rv_say_info("\"%s\" ended: its publisher stopped", name);
	if (a->co.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "NetGroup.MulticastStream.UnpublishNotify");
		cJSON_AddStringToObject(j, "name", name);
		rv_out_obj(j);
	}
	double until = mono_ms() + (a->p2p ? LINGER_MS : 0);	/* IP multicast alone: no neighbour */
	while (!stop_signal && mono_ms() < until)
		uv_run(x->loop, UV_RUN_ONCE);
}

/* --p2p: the stream's publisher started again (a new run, numbering from
 * 0: NetStream.MulticastStream.Reset): the recording of the old run is
 * finished, said. */
static void p2p_reset(struct app *a, struct rx *x, const char *name)
{
	rv_say_info("\"%s\" started again (a new run of the stream, its publisher restarted): the recording of the "
		    "run before (%" PRIu32 " fragments) ends here", name, x->reset_seq);
	if (a->co.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "NetStream.MulticastStream.Reset");
		cJSON_AddStringToObject(j, "name", name);
		cJSON_AddNumberToObject(j, "fragments", x->reset_seq);
		rv_out_obj(j);
	}
}

static void on_usr1(uv_signal_t *s, int sig)
{
	(void)sig;
	p2p_summary(s->data);
}

static void p2p_closed(void *ud)
{
	struct rx *x = ud;
	x->live = NULL;
	uv_close((uv_handle_t *)&x->tick, NULL);
	uv_close((uv_handle_t *)&x->usr1, NULL);
}

/* --p2p: join, wait for the stream's announce (its SDP), then record what
 * the fragments carry exactly as from the SDP's ports. */
static int p2p_record(struct app *a, struct rx *x)
{
	struct rv_sdp sdp;
	char err[256];
	const char *why = "?";
	int depack, rc;
	struct rv_p2plive_opts lo = { .spec = a->p2p, .key = a->p2p_key,
				      .server_host = a->serverless ? NULL : a->co.host, .server_port = a->co.port,
				      .bind = a->bind, .port_file = a->port_file, .lan = a->lan, .npeers = a->npeers,
				      .name = a->p2p_name ? a->p2p_name : "live",
				      .cast = { .push_limit = (uint32_t)a->push_limit, .max_upload = a->max_upload },
				      .ipmc = a->ipmc };
	memcpy(lo.peers, a->peers, sizeof lo.peers);
	x->vi.rtp_fd = x->vi.rtcp_fd = x->au.rtp_fd = x->au.rtcp_fd = -1;
	x->loop = uv_default_loop();
	x->ipmc = a->ipmc != NULL;
	const char *sp = getenv("RV_TEST_STAMPS");
	if (sp && *sp && (stamps = fopen(sp, "w")))
		fprintf(stamps, "start %lld\n", mono_us());
	x->mc_only = !a->p2p;
	/* FFmpeg and SRTP now, before joining: loading FFmpeg holds the loop a
	 * few hundred milliseconds (seconds on a busy machine), NSS's self-tests
	 * (SRTP's first session) 100-200 ms, and when the announce came that
	 * was the stream's start, with nothing read, pushed on or pulled */
	if (rv_media_load(err, sizeof err) < 0) {
		rv_say_error("%s", err);
		return RV_EXIT_FAIL;
	}
	if (rv_srtp_init() < 0) {
		rv_say_error("cannot set up SRTP (libsrtp2)");
		return RV_EXIT_FAIL;
	}
	rv_buf_init(&x->early, 8u << 20);
	if ((rc = rv_p2plive_start(&x->live, x->loop, &lo, on_live, x, &why)) < 0) {
		rv_say_error("%s: %s", a->p2p ? "--p2p" : "--ipmc", why);
		rv_buf_free(&x->early);
		return rc == RV_EPROTO ? RV_EXIT_USAGE : rc == RV_EDENIED ? RV_EXIT_DENIED : RV_EXIT_FAIL;
	}
	uv_signal_init(x->loop, &x->usr1);
	x->usr1.data = x;
	uv_signal_start(&x->usr1, on_usr1, SIGUSR1);
	uv_timer_init(x->loop, &x->tick);
	uv_timer_start(&x->tick, on_tick, 20, 20);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	char id[65];
	rv_hex(rv_p2plive_id(x->live), 32, id);
	if (a->p2p)
		rv_say_info("joined the peer group as peer %s (UDP port %d%s); waiting for \"%s\"", id,
			    rv_p2plive_port(x->live), a->serverless ? ", serverless" : "", lo.name);
	else
		rv_say_info("listening to IP multicast %s alone (no peer group, no server); waiting for \"%s\"",
			    a->ipmc, lo.name);
	double start = mono_ms();
	while (!x->info && !x->ended && !stop_signal && !(a->timeout > 0 && mono_ms() - start >= a->timeout * 1000))
		uv_run(x->loop, UV_RUN_ONCE);
	if (!x->info && x->ended) {
		rv_say_error("\"%s\" ended before its announce came", lo.name);
		rc = RV_EXIT_FAIL;
	} else if (!x->info) {
		rv_say_error("no announce of \"%s\" came from %s", lo.name, a->p2p ? "the peer group" : "IP multicast");
		rc = stop_signal ? 0 : RV_EXIT_TIMEOUT;
	} else if (rv_sdp_parse(x->info, x->info_len, &sdp, err, sizeof err) < 0) {
		rv_say_error("the stream's announce: %s%s", err, a->p2p ? "" : " (a group that restricts publishing "
			     "signs its announce: give its spec, --p2p SPEC, to check it)");
		rc = RV_EXIT_FAIL;
	} else if (choose("the stream's announce", &sdp, x, &depack) < 0 || open_tracks(&sdp, x) < 0 ||
		   open_sink(a, &sdp, x) < 0) {
		rc = RV_EXIT_FAIL;
	} else {
		rc = record(a, &sdp, x, depack);
	}
	if (x->reset)
		p2p_reset(a, x, lo.name);
	else if (x->ended)
		p2p_ended(a, x, lo.name);
	p2p_summary(x);
	rv_p2plive_stop(x->live, p2p_closed, x);
	uv_run(x->loop, UV_RUN_DEFAULT);
	rtpin_close(&x->vi);
	rtpin_close(&x->au);
	rv_buf_free(&x->early);
	free(x->info);
	if (stamps)
		fclose(stamps);
	stamps = NULL;
	return rc;
}

int sdprec_run(struct app *a)
{
	static struct rx x;
	struct rv_sdp sdp;
	int depack, rc;
	if (a->p2p || a->ipmc)
		return p2p_record(a, &x);
	if (read_sdp(a->sdp, &sdp) < 0 || choose(a->sdp, &sdp, &x, &depack) < 0)
		return RV_EXIT_USAGE;
	x.vi.rtp_fd = x.vi.rtcp_fd = x.au.rtp_fd = x.au.rtcp_fd = -1;	/* nothing to close yet */
	int orc = open_tracks(&sdp, &x);
	if (orc < 0)
		rc = orc == RV_EPROTO ? RV_EXIT_USAGE : RV_EXIT_FAIL;
	else if (open_sink(a, &sdp, &x) < 0)
		rc = RV_EXIT_FAIL;
	else
		rc = record(a, &sdp, &x, depack);
	rtpin_close(&x.vi);
	rtpin_close(&x.au);
	return rc;
}
