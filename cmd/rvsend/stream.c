/* stream.c - rvsend media through rvserver.
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

#include <openssl/rand.h>

#include "err.h"
#include "log.h"
#include "media.h"
#include "mlink.h"
#include "rtp.h"
#include "rvsend.h"
#include "srtp.h"

#define QCAP 4096                  /* packets between the threads */
#define HIST 1024                  /* packets kept for NACK (~1 s at 8 Mb/s) */
#define PKT_MAX (RV_RTP_HEADER + RV_RTP_MAX_PAYLOAD + RV_SRTP_MAX_TRAILER)

struct pkt {
	uint16_t len, seq;
	uint8_t rtp;                    /* 0: an RTCP sender report */
	uint8_t data[PKT_MAX];
};

struct tx {
	struct app *a;
	struct rv_media_src *src;
	struct rv_mlink *link;
	uv_signal_t sigint, sigterm;
	uv_async_t wake;
	uv_thread_t thread;
	uv_mutex_t mu;
	struct pkt *q;
	unsigned qhead, qtail;          /* under mu */
	int worker_done, worker_rc;     /* under mu */
	int thread_started, ending;
	atomic_int stop;
	struct pkt *hist;               /* by seq % HIST */
	/* worker only */
	struct rv_rtp hdr;
	uint32_t ts_base, packets_w, octets_w;
	uint64_t frames;
	/* loop only */
	struct rv_srtp *out, *in;       /* with SRTP: ours, and the receivers' RTCP */
	char key[64];
	uint32_t ssrc;
	double stream_id;
	int receivers, udp;
	uint64_t packets, bytes, nacks, resent, keyframe_requests, qdrops, send_errors;
	const char *codec;
	int w, h;
	double fps;
};

/* ---- the worker: encode, packetize, queue ---- */

static void enqueue(struct tx *t, const uint8_t *p, size_t n, int rtp, uint16_t seq)
{
	uv_mutex_lock(&t->mu);
	if (t->qtail - t->qhead < QCAP) {
		struct pkt *k = &t->q[t->qtail++ % QCAP];
		k->len = (uint16_t)n;
		k->seq = seq;
		k->rtp = (uint8_t)rtp;
		memcpy(k->data, p, n);
	} else {
		t->qdrops++;	/* the network side is stuck: lose, do not block capture */
	}
	uv_mutex_unlock(&t->mu);
}

static int on_payload(void *ud, const uint8_t *data, size_t len, int last)
{
	struct tx *t = ud;
	uint8_t pkt[PKT_MAX];
	t->hdr.marker = last;
	rv_rtp_header(pkt, &t->hdr);
	memcpy(pkt + RV_RTP_HEADER, data, len);
	enqueue(t, pkt, RV_RTP_HEADER + len, 1, t->hdr.seq);
	t->hdr.seq++;
	t->packets_w++;
	t->octets_w += (uint32_t)len;
	return 0;
}

static void sender_report(struct tx *t)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t ntp = ((uint64_t)now.tv_sec + 2208988800ull) << 32 |
		       (uint64_t)((double)now.tv_nsec * 4294967296.0 / 1e9);
	struct rv_rtcp_sr sr = { t->hdr.ssrc, ntp, t->hdr.ts, t->packets_w, t->octets_w };
	uint8_t buf[64];
	int n = rv_rtcp_build_sr(buf, sizeof buf, &sr);
	if (n > 0)
		enqueue(t, buf, (size_t)n, 0, 0);
}

static void worker(void *arg)
{
	struct tx *t = arg;
	struct rv_media_frame f;
	int rc, h264 = !strcmp(t->codec, "H264");
	uint16_t picture_id = 0;
	uint32_t last_sr = 0;
	while (!atomic_load(&t->stop) && (rc = rv_media_next(t->src, &f)) == 1) {
		t->hdr.ts = t->ts_base + f.ts90k;
		int n = h264 ? rv_h264_packetize(f.data, f.len, RV_RTP_MAX_PAYLOAD, on_payload, t)
			     : rv_vp8_packetize(f.data, f.len, RV_RTP_MAX_PAYLOAD, picture_id++ & 0x7FFF,
						on_payload, t);
		if (n < 0) {
			rc = n;
			break;
		}
		if (t->frames == 0 || f.ts90k - last_sr >= 90000) {
			sender_report(t);
			last_sr = f.ts90k;
		}
		t->frames++;
		uv_async_send(&t->wake);
	}
	if (atomic_load(&t->stop))
		rc = 0;
	uv_mutex_lock(&t->mu);
	t->worker_done = 1;
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
	static struct pkt batch[64];
	if (t->a->done)
		return;
	for (;;) {
		unsigned n = 0;
		int done, rc;
		uv_mutex_lock(&t->mu);
		while (n < 64 && t->qhead != t->qtail)
			batch[n++] = t->q[t->qhead++ % QCAP];
		done = t->worker_done && t->qhead == t->qtail;
		rc = t->worker_rc;
		uv_mutex_unlock(&t->mu);
		for (unsigned i = 0; i < n; i++) {
			struct pkt *k = &batch[i];
			size_t len = k->len;
			if (t->out && rv_srtp_protect(t->out, k->data, &len) < 0) {
				t->send_errors++;
				continue;
			}
			k->len = (uint16_t)len;
			if (k->rtp) {
				t->hist[k->seq % HIST] = *k;
				t->packets++;
				t->bytes += k->len;
			}
			if (rv_mlink_send(t->link, k->data, k->len) < 0)
				t->send_errors++;
		}
		if (done) {
			if (rc < 0 && !t->a->exit_code) {
				rv_say_error("media input: %s", rc == -1 ? "failed" : rv_strerror(rc));
				t->a->exit_code = RV_EXIT_FAIL;
			}
			if (t->frames == 0 && !t->a->exit_code)
				t->a->exit_code = RV_EXIT_FAIL;
			end_stream(t);
			return;
		}
		if (n < 64)
			return;
	}
}

static void resend(void *ud, uint16_t seq)
{
	struct tx *t = ud;
	struct pkt *k = &t->hist[seq % HIST];
	t->nacks++;
	if (k->len && k->seq == seq && rv_mlink_send(t->link, k->data, k->len) == 0)
		t->resent++;
}

static void keyframe(struct tx *t)
{
	t->keyframe_requests++;
	rv_media_request_keyframe(t->src);
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
	if (t->in) {	/* SRTCP from the receivers */
		memcpy(buf, p, n);
		if (rv_srtp_unprotect(t->in, buf, &n) < 0)
			return;
		p = buf;
	}
	while (rv_rtcp_next(p, n, &off, &c) == 1) {
		if (c.media_ssrc != t->ssrc)
			continue;
		if (c.type == RV_RTCP_RTPFB && c.fmt == 1)
			rv_rtcp_nack_each(&c, resend, t);
		else if (c.type == RV_RTCP_PSFB && (c.fmt == 1 || c.fmt == 4))	/* PLI, FIR */
			keyframe(t);
	}
}

static void on_ready(void *ud, int udp)
{
	struct tx *t = ud;
	t->udp = udp;
	rv_say_info("streaming %s %dx%d to %s over %s (%d receivers now)", t->codec, t->w, t->h,
		    t->a->to ? t->a->to : t->a->group ? t->a->group : "the default receivers",
		    udp ? "UDP" : "TCP", t->receivers);
	if (uv_thread_create(&t->thread, worker, t) == 0)
		t->thread_started = 1;
	else
		finish(t, RV_EXIT_FAIL);
}

static void on_stream(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct tx *t = ud;
	(void)s;
	if (err) {
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "message"));
		rv_say_error("stream refused: %s", msg ? msg : rv_strerror(err));
		finish(t, rv_cli_exit_for(err));
		return;
	}
	cJSON *id = cJSON_GetObjectItemCaseSensitive(reply, "stream");
	cJSON *rx = cJSON_GetObjectItemCaseSensitive(reply, "receivers");
	t->stream_id = cJSON_IsNumber(id) ? id->valuedouble : 0;
	t->receivers = cJSON_IsNumber(rx) ? (int)rx->valuedouble : 0;
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
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "kind", "video");
	cJSON_AddStringToObject(v, "codec", t->codec);
	cJSON_AddNumberToObject(v, "pt", t->a->pt);
	cJSON_AddNumberToObject(v, "clock", 90000);
	cJSON_AddNumberToObject(v, "ssrc", t->ssrc);
	cJSON_AddNumberToObject(v, "width", t->w);
	cJSON_AddNumberToObject(v, "height", t->h);
	cJSON_AddNumberToObject(v, "fps", t->fps);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(h, "media"), v);
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
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "message"));
		rv_say_error("%s", msg ? msg : "error from the server");
	}
}

static void on_signal(uv_signal_t *sg, int signum)
{
	struct tx *t = sg->data;
	(void)signum;
	atomic_store(&t->stop, 1);	/* the worker ends after this frame */
	if (!t->thread_started)
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

int cmd_stream(struct app *a)
{
	static struct tx tx;
	struct tx *t = &tx;
	char err[256];
	t->a = a;
	if (media_open(a, &t->src, err, sizeof err) < 0) {
		rv_say_error("%s", err);
		return RV_EXIT_FAIL;
	}
	t->codec = rv_media_codec(t->src);
	rv_media_size(t->src, &t->w, &t->h, &t->fps);
	t->q = calloc(QCAP, sizeof *t->q);
	t->hist = calloc(HIST, sizeof *t->hist);
	if (!t->q || !t->hist) {
		rv_media_close(t->src);
		return RV_EXIT_FAIL;
	}
	uint8_t r[6];
	RAND_bytes(r, sizeof r);
	t->ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
	if (!t->ssrc)
		t->ssrc = 1;
	t->hdr.ssrc = t->ssrc;
	t->hdr.pt = (uint8_t)a->pt;
	t->hdr.seq = (uint16_t)(r[4] << 8 | r[5]);
	t->ts_base = t->ssrc ^ 0x5a5a5a5a;
	if (a->srtp != RV_SRTP_NONE &&
	    (rv_srtp_new_key(a->srtp, t->key) < 0 || rv_srtp_new(&t->out, a->srtp, t->key, 1) < 0 ||
	     rv_srtp_new(&t->in, a->srtp, t->key, 0) < 0)) {
		rv_say_error("cannot set up SRTP");
		rv_media_close(t->src);
		return RV_EXIT_FAIL;
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
	if (t->thread_started)
		uv_thread_join(&t->thread);
	uv_close((uv_handle_t *)&t->wake, NULL);
	uv_run(a->loop, UV_RUN_DEFAULT);
	uv_mutex_destroy(&t->mu);

	rv_say_info("%" PRIu64 " frames, %" PRIu64 " packets, %" PRIu64 " bytes; %" PRIu64
		    " NACKed (%" PRIu64 " resent), %" PRIu64 " keyframe requests", t->frames, t->packets, t->bytes,
		    t->nacks, t->resent, t->keyframe_requests);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "media");
		cJSON_AddStringToObject(j, "codec", t->codec);
		cJSON_AddNumberToObject(j, "frames", (double)t->frames);
		cJSON_AddNumberToObject(j, "packets", (double)t->packets);
		cJSON_AddNumberToObject(j, "bytes", (double)t->bytes);
		cJSON_AddNumberToObject(j, "nacks", (double)t->nacks);
		cJSON_AddNumberToObject(j, "resent", (double)t->resent);
		cJSON_AddNumberToObject(j, "keyframe_requests", (double)t->keyframe_requests);
		cJSON_AddBoolToObject(j, "udp", t->udp);
		cJSON_AddStringToObject(j, "srtp", rv_srtp_suite_name(a->srtp));
		rv_out_obj(j);
	}
	rv_media_close(t->src);
	rv_srtp_free(t->out);
	rv_srtp_free(t->in);
	free(t->q);
	free(t->hist);
	return a->exit_code;
}
