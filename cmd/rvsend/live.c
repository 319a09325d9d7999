/* live.c - rvsend media through rvserver, live.
 *
 * The encoder runs on a worker thread (capture and encoding block); it
 * packetizes each frame and hands the packets to the loop thread through
 * a bounded queue. The loop announces the stream on the session, sends the
 * packets over the media path (UDP, or TCP when UDP does not answer),
 * keeps about a second of them to answer NACKs, and turns PLI, FIR and the
 * server's keyframe requests into a keyframe at once. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "media.h"
#include "mlink.h"
#include "rtp.h"
#include "rvsend.h"
#include "srtp.h"
#include "track.h"

#define QCAP 4096                  /* packets between the threads */
#define HIST 1024                  /* video packets kept for NACK (~1 s at 8 Mb/s) */
#define AHIST 128                  /* audio packets kept for NACK (2.5 s of 20 ms frames) */
#define PKT_MAX TRACK_PKT_MAX

struct pkt {
	uint16_t len, seq;
	uint8_t rtp;                    /* 0: an RTCP sender report */
	uint8_t video;                  /* video or audio: kept for NACK in its history */
	uint8_t data[PKT_MAX];
};

/* What one receiver last reported (RTCP RR), by the SSRC it reports as. */
struct report {
	uint32_t from;
	int32_t lost[2];                /* video, audio: cumulative */
	double rtt_ms;                  /* -1: unknown */
};
#define MAX_REPORTS 64

/* An input and the thread that encodes it. */
struct source {
	struct tx *t;
	struct rv_media_src *src;
	uv_thread_t thread;
	int started;
};

struct tx {
	struct app *a;
	struct source in[2];
	int nin;
	struct rv_media_src *vsrc;      /* the input the video comes from */
	struct track video, audio;
	int has_video, has_audio;
	struct rv_mlink *link;
	uv_signal_t sigint, sigterm;
	uv_async_t wake;
	uv_mutex_t mu;
	struct pkt *q;
	unsigned qhead, qtail;          /* under mu */
	int workers_done, worker_rc;    /* under mu */
	int threads, ending;
	atomic_int stop;
	struct pkt *hist;               /* video, by seq % HIST */
	struct pkt *ahist;              /* audio, by seq % AHIST */
	/* loop only */
	struct rv_srtp *out, *inb;      /* with SRTP: ours, and the receivers' RTCP */
	char key[64];
	double stream_id;
	int receivers, udp;
	int nodes;                     /* other cluster nodes it is piped to (the ok's "nodes") */
	uint64_t packets, bytes, nacks, audio_nacks, resent, keyframe_requests, qdrops, send_errors;
	struct report reports[MAX_REPORTS];
	int nreports;
	const char *codec;
	int w, h;
	double fps;
};

/* ---- the workers: encode, packetize, queue ---- */

static void enqueue(struct tx *t, const uint8_t *p, size_t n, int rtp, int video, uint16_t seq)
{
	uv_mutex_lock(&t->mu);
	if (t->qtail - t->qhead < QCAP) {
		struct pkt *k = &t->q[t->qtail++ % QCAP];
		k->len = (uint16_t)n;
		k->seq = seq;
		k->rtp = (uint8_t)rtp;
		k->video = (uint8_t)video;
		memcpy(k->data, p, n);
	} else {
		t->qdrops++;	/* the network side is stuck: lose, do not block capture */
	}
	uv_mutex_unlock(&t->mu);
}

/* A track's packet: to the loop, through the queue. */
static int queue_out(struct track *k, uint8_t *p, size_t n, int rtp)
{
	enqueue(k->ud, p, n, rtp, k->video, k->hdr.seq);
	return 0;
}

static void worker(void *arg)
{
	struct source *in = arg;
	struct tx *t = in->t;
	struct rv_media_frame f;
	int rc;
	while (!atomic_load(&t->stop) && (rc = rv_media_next(in->src, &f)) == 1) {
		struct track *k = f.audio ? &t->audio : &t->video;
		if ((f.audio && !t->has_audio) || (!f.audio && (!t->has_video || in->src != t->vsrc)))
			continue;	/* a medium taken from the other input */
		int n = track_frame(k, in->src, &f);
		if (n < 0) {
			rc = n;
			break;
		}
		uv_async_send(&t->wake);
	}
	if (atomic_load(&t->stop))
		rc = 0;
	uv_mutex_lock(&t->mu);
	t->workers_done++;
	if (rc < 0)
		t->worker_rc = rc;
	uv_mutex_unlock(&t->mu);
	uv_async_send(&t->wake);
}

/* ---- the loop: send, remember, answer feedback ---- */

static void finish(struct tx *t, int code);

static void on_ended(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct tx *t = ud;
	(void)s; (void)reply;
	if (err)
		rv_say_debug("stream-end: %s", rv_strerror(err));
	finish(t, t->a->exit_code);
}

/* The input is done (or we were told to stop): tell the server. */
static void end_stream(struct tx *t)
{
	if (t->ending)
		return;
	t->ending = 1;
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "stream-end");
	cJSON_AddNumberToObject(h, "stream", t->stream_id);
	if (rv_session_request(t->a->sess, h, NULL, 0, on_ended, t) < 0)
		finish(t, t->a->exit_code);
}

static void on_wake(uv_async_t *h)
{
	struct tx *t = h->data;
	static struct pkt batch[RV_MLINK_BATCH];
	if (t->a->done)
		return;
	for (;;) {
		unsigned n = 0;
		int done, rc;
		uv_mutex_lock(&t->mu);
		while (n < RV_MLINK_BATCH && t->qhead != t->qtail)
			batch[n++] = t->q[t->qhead++ % QCAP];
		done = t->workers_done == t->threads && t->qhead == t->qtail;
		rc = t->worker_rc;
		uv_mutex_unlock(&t->mu);
		struct iovec out[RV_MLINK_BATCH];
		size_t nout = 0;
		for (unsigned i = 0; i < n; i++) {
			struct pkt *k = &batch[i];
			size_t len = k->len;
			if (t->out && rv_srtp_protect(t->out, k->data, &len) < 0) {
				t->send_errors++;
				continue;
			}
			k->len = (uint16_t)len;
			if (k->rtp) {
				if (k->video)
					t->hist[k->seq % HIST] = *k;
				else
					t->ahist[k->seq % AHIST] = *k;
				t->packets++;
				t->bytes += k->len;
			}
			out[nout++] = (struct iovec){ k->data, k->len };
		}
		/* a frame's packets mostly share one size: one GSO send */
		int sent = rv_mlink_sendv(t->link, out, nout);
		if (sent >= 0 && (size_t)sent < nout)
			t->send_errors += nout - (size_t)sent;
		if (done) {
			if (rc < 0 && !t->a->exit_code) {
				rv_say_error("media input: %s", rc == -1 ? "failed" : rv_strerror(rc));
				t->a->exit_code = RV_EXIT_FAIL;
			}
			if (t->video.frames + t->audio.frames == 0 && !t->a->exit_code)
				t->a->exit_code = RV_EXIT_FAIL;
			end_stream(t);
			return;
		}
		if (n < RV_MLINK_BATCH)
			return;
	}
}

static void resend_from(struct tx *t, struct pkt *k, uint16_t seq)
{
	t->nacks++;
	if (k->len && k->seq == seq && rv_mlink_send(t->link, k->data, k->len) == 0)
		t->resent++;
}

static void resend_video(void *ud, uint16_t seq)
{
	struct tx *t = ud;
	resend_from(t, &t->hist[seq % HIST], seq);
}

static void resend_audio(void *ud, uint16_t seq)
{
	struct tx *t = ud;
	t->audio_nacks++;
	resend_from(t, &t->ahist[seq % AHIST], seq);
}

static void keyframe(struct tx *t)
{
	t->keyframe_requests++;
	if (t->vsrc)
		rv_media_request_keyframe(t->vsrc);
}

/* A receiver report: its losses, and the round trip from the delay since
 * our last sender report (RFC 3550 6.4.1). */
static void got_report(struct tx *t, const struct rv_rtcp *c)
{
	struct rv_rtcp_rb rb;
	for (int i = 0; rv_rtcp_parse_rb(c, i, &rb) == 0; i++) {
		int which = t->has_video && rb.ssrc == t->video.hdr.ssrc ? 0
			    : t->has_audio && rb.ssrc == t->audio.hdr.ssrc ? 1 : -1;
		if (which < 0)
			continue;
		struct report *r = NULL;
		for (int k = 0; k < t->nreports && !r; k++)
			if (t->reports[k].from == c->sender_ssrc)
				r = &t->reports[k];
		if (!r && t->nreports < MAX_REPORTS) {
			r = &t->reports[t->nreports++];
			memset(r, 0, sizeof *r);
			r->from = c->sender_ssrc;
			r->rtt_ms = -1;
		}
		if (!r)
			continue;
		r->lost[which] = rb.lost;
		if (rb.lsr)
			r->rtt_ms = rv_rtcp_rtt_ms((uint32_t)(rv_ntp_now() >> 16), rb.lsr, rb.dlsr);
	}
}

/* RTCP from the receivers, through the server. */
static void on_packet(void *ud, const uint8_t *p, size_t n)
{
	struct tx *t = ud;
	struct rv_rtcp c;
	size_t off = 0;
	uint8_t buf[2048];
	if (!rv_rtp_is_rtcp(p, n) || n > sizeof buf)
		return;
	if (t->inb) {	/* SRTCP from the receivers */
		memcpy(buf, p, n);
		if (rv_srtp_unprotect(t->inb, buf, &n) < 0)
			return;
		p = buf;
	}
	while (rv_rtcp_next(p, n, &off, &c) == 1) {
		if (c.type == RV_RTCP_RR) {
			got_report(t, &c);
			continue;
		}
		int video = t->has_video && c.media_ssrc == t->video.hdr.ssrc;
		int audio = t->has_audio && c.media_ssrc == t->audio.hdr.ssrc;
		if (c.type == RV_RTCP_RTPFB && c.fmt == 1 && (video || audio))
			rv_rtcp_nack_each(&c, video ? resend_video : resend_audio, t);
		else if (c.type == RV_RTCP_PSFB && (c.fmt == 1 || c.fmt == 4) && video)	/* PLI, FIR */
			keyframe(t);
	}
}

static void on_ready(void *ud, int udp)
{
	struct tx *t = ud;
	t->udp = udp;
	char what[128];
	const char *audio = !strcmp(rv_media_audio_codec(t->a->acodec), "opus") ? "Opus" : rv_media_audio_codec(t->a->acodec);
	if (t->has_video)
		snprintf(what, sizeof what, "%s %dx%d%s%s", t->codec, t->w, t->h, t->has_audio ? " and " : "",
			 t->has_audio ? audio : "");
	else
		snprintf(what, sizeof what, "%s", audio);
	char nodes[64] = "";
	if (t->nodes > 0)
		snprintf(nodes, sizeof nodes, ", and on %d other cluster node%s", t->nodes, t->nodes > 1 ? "s" : "");
	rv_say_info("streaming %s to %s over %s (%d receivers now%s)", what,
		    t->a->to ? t->a->to : t->a->group ? t->a->group : "the default receivers",
		    udp ? "UDP" : "TCP", t->receivers, nodes);
	for (int i = 0; i < t->nin; i++) {
		if (uv_thread_create(&t->in[i].thread, worker, &t->in[i]) != 0) {
			finish(t, RV_EXIT_FAIL);
			return;
		}
		t->in[i].started = 1;
		t->threads++;
	}
}

static void on_stream(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct tx *t = ud;
	(void)s;
	if (err) {
		const char *msg = rv_json_str(reply, "message");
		rv_say_error("stream refused: %s", msg ? msg : rv_strerror(err));
		finish(t, rv_cli_exit_for(err));
		return;
	}
	cJSON *id = cJSON_GetObjectItemCaseSensitive(reply, "stream");
	cJSON *rx = cJSON_GetObjectItemCaseSensitive(reply, "receivers");
	t->stream_id = cJSON_IsNumber(id) ? id->valuedouble : 0;
	t->receivers = cJSON_IsNumber(rx) ? (int)rx->valuedouble : 0;
	cJSON *nodes = cJSON_GetObjectItemCaseSensitive(reply, "nodes");
	t->nodes = cJSON_IsNumber(nodes) && nodes->valuedouble > 0 && nodes->valuedouble < 1000 ? (int)nodes->valuedouble : 0;
	if (rv_mlink_start(&t->link, t->a->loop, t->a->sess, t->a->co.host,
			   cJSON_GetObjectItemCaseSensitive(reply, "udp"), t->a->tcp, on_packet, on_ready, t) < 0)
		finish(t, RV_EXIT_FAIL);
}

static void announce(struct tx *t)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "stream");
	if (t->a->to)
		cJSON_AddStringToObject(h, "to", t->a->to);
	else if (t->a->group)
		cJSON_AddStringToObject(h, "group", t->a->group);
	cJSON *media = cJSON_AddArrayToObject(h, "media");
	if (t->has_video) {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "kind", "video");
		cJSON_AddStringToObject(v, "codec", t->codec);
		cJSON_AddNumberToObject(v, "pt", t->video.hdr.pt);
		cJSON_AddNumberToObject(v, "clock", 90000);
		cJSON_AddNumberToObject(v, "ssrc", t->video.hdr.ssrc);
		cJSON_AddNumberToObject(v, "width", t->w);
		cJSON_AddNumberToObject(v, "height", t->h);
		cJSON_AddNumberToObject(v, "fps", t->fps);
		cJSON_AddItemToArray(media, v);
	}
	if (t->has_audio) {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "kind", "audio");
		cJSON_AddStringToObject(v, "codec", rv_media_audio_codec(t->a->acodec));
		cJSON_AddNumberToObject(v, "pt", t->audio.hdr.pt);
		cJSON_AddNumberToObject(v, "clock", t->audio.clock);
		cJSON_AddNumberToObject(v, "channels", rv_media_audio_channels(t->a->acodec));
		cJSON_AddNumberToObject(v, "ssrc", t->audio.hdr.ssrc);
		cJSON_AddItemToArray(media, v);
	}
	if (t->out) {	/* the key goes to the receivers through the server */
		cJSON *s = cJSON_AddObjectToObject(h, "srtp");
		cJSON_AddStringToObject(s, "suite", rv_srtp_suite_name(t->a->srtp));
		cJSON_AddStringToObject(s, "key", t->key);
	}
	rv_session_request(t->a->sess, h, NULL, 0, on_stream, t);
}

static void on_state(struct rv_session *s, enum rv_session_state st, int err, const char *why, void *ud)
{
	struct tx *t = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		announce(t);
		return;
	}
	if (t->a->done)
		return;
	rv_say_error("%s", why);
	finish(t, rv_cli_exit_for(err));
}

static void on_frame(struct rv_session *s, const char *type, cJSON *h, const uint8_t *body, size_t len,
		     void *ud)
{
	struct tx *t = ud;
	(void)s;
	if (!strcmp(type, "media")) {
		if (t->link)
			rv_mlink_frame(t->link, body, len);
	} else if (!strcmp(type, "keyframe")) {
		keyframe(t);
	} else if (!strcmp(type, "error")) {
		const char *msg = rv_json_str(h, "message");
		rv_say_error("%s", msg ? msg : "error from the server");
	}
}

static void on_signal(uv_signal_t *sg, int signum)
{
	struct tx *t = sg->data;
	(void)signum;
	atomic_store(&t->stop, 1);	/* the workers end after this frame */
	if (!t->threads)
		finish(t, RV_EXIT_FAIL);
}

static void finish(struct tx *t, int code)
{
	struct app *a = t->a;
	if (a->done)
		return;
	a->done = 1;
	a->exit_code = code;
	atomic_store(&t->stop, 1);
	uv_close((uv_handle_t *)&t->sigint, NULL);
	uv_close((uv_handle_t *)&t->sigterm, NULL);
	rv_mlink_close(t->link);
	t->link = NULL;
	rv_session_close(a->sess);
	a->sess = NULL;
	uv_stop(a->loop);	/* the worker may still signal wake: closed after the join */
}

/* Open the inputs: video from the first that has it, audio likewise.
 * 0 or the exit code. */
static int open_inputs(struct tx *t)
{
	struct app *a = t->a;
	char err[256];
	for (int i = 0; i < 2 && a->inputs[i].input; i++) {
		int want_v = !t->has_video && a->vcodec != RV_VCODEC_NONE;
		int want_a = !t->has_audio && a->acodec != RV_ACODEC_NONE;
		if (!want_v && !want_a) {
			rv_say_error("%s: nothing left to take from it (video and audio come from the first input)",
				     a->inputs[i].input);
			return RV_EXIT_FAIL;
		}
		struct rv_media_src *src;
		int rc = media_open(a, i, want_v, want_a, &src, err, sizeof err);
		if (rc) {
			rv_say_error("%s", err);
			return rc;
		}
		t->in[t->nin].t = t;
		t->in[t->nin++].src = src;
		if (rv_media_codec(src)) {
			t->has_video = 1;
			t->vsrc = src;
			t->codec = rv_media_codec(src);
			rv_media_size(src, &t->w, &t->h, &t->fps);
		}
		t->has_audio |= rv_media_has_audio(src);
	}
	return 0;
}

int live_run(struct app *a)
{
	static struct tx tx;
	struct tx *t = &tx;
	t->a = a;
	int rc = open_inputs(t);
	t->q = calloc(QCAP, sizeof *t->q);
	t->hist = calloc(HIST, sizeof *t->hist);
	t->ahist = calloc(AHIST, sizeof *t->ahist);
	if (!rc && (!t->q || !t->hist || !t->ahist))
		rc = RV_EXIT_FAIL;
	if (!rc) {
		track_init(&t->video, 1, a->pt, t->codec && !strcmp(t->codec, "H264"), a->acodec, queue_out, t);
		track_init(&t->audio, 0, a->apt, 0, a->acodec, queue_out, t);
		if (a->srtp != RV_SRTP_NONE &&
		    (rv_srtp_new_key(a->srtp, t->key) < 0 || rv_srtp_new(&t->out, a->srtp, t->key, 1) < 0 ||
		     rv_srtp_new(&t->inb, a->srtp, t->key, 0) < 0)) {
			rv_say_error("cannot set up SRTP");
			rc = RV_EXIT_FAIL;
		}
	}
	if (rc) {
		for (int i = 0; i < t->nin; i++)
			rv_media_close(t->in[i].src);
		return rc;
	}

	a->loop = uv_default_loop();
	uv_mutex_init(&t->mu);
	uv_async_init(a->loop, &t->wake, on_wake);
	t->wake.data = t;
	uv_signal_init(a->loop, &t->sigint);
	uv_signal_init(a->loop, &t->sigterm);
	t->sigint.data = t->sigterm.data = t;
	uv_signal_start(&t->sigint, on_signal, SIGINT);
	uv_signal_start(&t->sigterm, on_signal, SIGTERM);
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = "send",
		.token = a->co.token, .client = "rvsend/" RV_VERSION, .tls = a->tls,
		.connect_timeout = a->co.connect_timeout,
	};
	if (rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, t) < 0)
		return RV_EXIT_FAIL;
	rv_session_start(a->sess);
	uv_run(a->loop, UV_RUN_DEFAULT);	/* until finish() */
	atomic_store(&t->stop, 1);
	for (int i = 0; i < t->nin; i++)
		if (t->in[i].started)
			uv_thread_join(&t->in[i].thread);
	uv_close((uv_handle_t *)&t->wake, NULL);
	uv_run(a->loop, UV_RUN_DEFAULT);
	uv_mutex_destroy(&t->mu);

	if (t->nin)
		media_say_idle(a, t->in[0].src);
	rv_say_info("%" PRIu64 " frames%s, %" PRIu64 " packets, %" PRIu64 " bytes; %" PRIu64
		    " NACKed (%" PRIu64 " resent), %" PRIu64 " keyframe requests", t->video.frames,
		    t->has_audio ? " and their audio" : "", t->packets, t->bytes, t->nacks, t->resent,
		    t->keyframe_requests);
	for (int i = 0; i < t->nreports; i++) {
		char rtt[32] = "";
		if (t->reports[i].rtt_ms >= 0)
			snprintf(rtt, sizeof rtt, ", round trip %.1f ms", t->reports[i].rtt_ms);
		rv_say_info("a receiver reported %d packets never received%s", t->reports[i].lost[0] + t->reports[i].lost[1],
			    rtt);
	}
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "media");
		if (t->has_video)
			cJSON_AddStringToObject(j, "codec", t->codec);
		cJSON_AddNumberToObject(j, "frames", (double)t->video.frames);
		if (t->has_audio)
			cJSON_AddNumberToObject(j, "audio_frames", (double)t->audio.frames);
		cJSON_AddNumberToObject(j, "packets", (double)t->packets);
		cJSON_AddNumberToObject(j, "bytes", (double)t->bytes);
		cJSON_AddNumberToObject(j, "nacks", (double)t->nacks);
		if (t->has_audio)
			cJSON_AddNumberToObject(j, "audio_nacks", (double)t->audio_nacks);
		cJSON_AddNumberToObject(j, "resent", (double)t->resent);
		cJSON_AddNumberToObject(j, "keyframe_requests", (double)t->keyframe_requests);
		cJSON_AddBoolToObject(j, "udp", t->udp);
		cJSON_AddStringToObject(j, "srtp", rv_srtp_suite_name(a->srtp));
		cJSON *rs = cJSON_AddArrayToObject(j, "receivers");
		for (int i = 0; i < t->nreports; i++) {
			cJSON *r = cJSON_CreateObject();
			cJSON_AddNumberToObject(r, "lost", t->reports[i].lost[0]);
			if (t->has_audio)
				cJSON_AddNumberToObject(r, "audio_lost", t->reports[i].lost[1]);
			if (t->reports[i].rtt_ms >= 0)
				cJSON_AddNumberToObject(r, "rtt_ms", (double)(int)(t->reports[i].rtt_ms * 10) / 10);
			cJSON_AddItemToArray(rs, r);
		}
		rv_out_obj(j);
	}
	for (int i = 0; i < t->nin; i++)
		rv_media_close(t->in[i].src);
	rv_srtp_free(t->out);
	rv_srtp_free(t->inb);
	free(t->q);
	free(t->hist);
	free(t->ahist);
	return a->exit_code;
}
