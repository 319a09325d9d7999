/* rtpout.c - rvsend media --rtp: encode what FFmpeg opens and send it as RTP.
 * With --rtp HOST:PORT and --sdp FILE no server is involved: plain RTP (or
 * SRTP) to an address, video to PORT and audio to PORT+2 (RTCP to the port
 * after each), described by an SDP that ffplay, ffmpeg and rvrecv open.
 * Each input is read on a thread of its own, which packetizes and sends
 * the media it carries. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <uv.h>

#include "err.h"
#include "media.h"
#include "rtp.h"
#include "rvsend.h"
#include "srtp.h"
#include "track.h"

/* One medium's RTP to its address. */
struct medium {
	struct track k;
	int on, fd, port;
	struct p2pout *p2p;             /* --p2p: the packets go there, not to the socket */
	int key_all;                    /* --p2p, audio alone: every packet is a place to start */
	struct sockaddr_storage to, rtcp_to;
	socklen_t tolen;
	struct rv_srtp *srtp;           /* protects what goes out */
	char key[64];                   /* its key, for a=crypto */
};

struct rtp_run {
	struct app *a;
	char host[256];
	struct medium video, audio;
	struct rv_media_src *vsrc, *asrc;
	struct input {
		struct rtp_run *r;
		struct rv_media_src *src;
		uv_thread_t thread;
		int rc, started;
	} in[2];
	int nin;
	uv_mutex_t mu;                  /* the SDP is written once, by either thread */
	int sdp_done, sdp_rc;
	struct p2pout *p2p;             /* --p2p */
	atomic_int stop;                /* --p2p: the inputs end after their frame (a signal) */
};

static int medium_out(struct track *k, uint8_t *p, size_t n, int rtp)
{
	struct medium *m = k->ud;
	if (m->srtp && rv_srtp_protect(m->srtp, p, &n) < 0)
		return -EPROTO;
	if (m->p2p) {
		p2pout_packet(m->p2p, (m->k.video ? 0 : 2) + !rtp, p, n, m->key_all || m->k.key_start);
		m->k.key_start = 0;
		return 0;
	}
	const struct sockaddr_storage *to = rtp ? &m->to : &m->rtcp_to;
	if (sendto(m->fd, p, n, 0, (const struct sockaddr *)to, m->tolen) < 0 && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

/* The m= section of medium M. */
static void sdp_section(FILE *f, const struct rtp_run *r, const struct medium *m)
{
	const struct app *a = r->a;
	int pt = m->k.hdr.pt;
	fprintf(f, "m=%s %d RTP/%s %d\r\n", m->k.video ? "video" : "audio", m->port, m->srtp ? "SAVP" : "AVP", pt);
	if (m->srtp)	/* RFC 4568, a key per section: what ffmpeg and rvrecv --sdp read */
		fprintf(f, "a=crypto:1 %s inline:%s\r\n", rv_srtp_suite_name(a->srtp), m->key);
	if (!m->k.video && a->acodec != RV_ACODEC_PCMU && a->acodec != RV_ACODEC_PCMA) {	/* RFC 7587 */
		fprintf(f, "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d sprop-stereo=1\r\n", pt, pt);
		return;
	}
	if (!m->k.video) {	/* RFC 3551: the rtpmap even for static 0 and 8 */
		fprintf(f, "a=rtpmap:%d %s/8000\r\n", pt, rv_media_audio_codec(a->acodec));
		return;
	}
	if (m->k.h264) {
		fprintf(f, "a=rtpmap:%d H264/90000\r\na=fmtp:%d packetization-mode=1;profile-level-id=42e01f", pt, pt);
		if (rv_media_sprop(r->vsrc)[0])
			fprintf(f, ";sprop-parameter-sets=%s", rv_media_sprop(r->vsrc));
		fprintf(f, "\r\n");
	} else {
		fprintf(f, "a=rtpmap:%d VP8/90000\r\n", pt);
	}
	int w, h;
	double fps;
	rv_media_size(r->vsrc, &w, &h, &fps);
	fprintf(f, "a=framesize:%d %d-%d\r\na=framerate:%.2f\r\n", pt, w, h, fps);
}

static void sdp_body(FILE *f, const struct rtp_run *r)
{
	int ipv = strchr(r->host, ':') ? 6 : 4;
	fprintf(f, "v=0\r\no=- 0 0 IN IP%d %s\r\ns=rvkit\r\nc=IN IP%d %s\r\nt=0 0\r\n", ipv, r->host, ipv, r->host);
	if (r->video.on)
		sdp_section(f, r, &r->video);
	if (r->audio.on)
		sdp_section(f, r, &r->audio);
}

/* --p2p: the SDP is the stream's announce. */
static int announce_sdp(const struct rtp_run *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	sdp_body(f, r);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	p2pout_sdp(r->p2p, text, len);
	free(text);
	return 0;
}

static int write_sdp(const struct rtp_run *r)
{
	if (r->p2p)
		return announce_sdp(r);
	const char *path = r->a->sdp;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	sdp_body(f, r);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/* Once the first frame of the medium the SDP waits for has come (H.264's
 * first keyframe tells SPS and PPS): the SDP, then the line saying so. */
static int sdp_once(struct rtp_run *r)
{
	uv_mutex_lock(&r->mu);
	if (!r->sdp_done) {
		r->sdp_done = 1;
		if ((r->a->sdp || r->p2p) && (r->sdp_rc = write_sdp(r)) < 0)
			rv_say_error("cannot write --sdp %s: %s", r->a->sdp ? r->a->sdp : "(the announce)",
				     strerror(-r->sdp_rc));
		else
			rv_say_info("sending %s%s%s to %s", r->video.on ? rv_media_codec(r->vsrc) : "",
				    r->video.on && r->audio.on ? " and " : "",
				    !r->audio.on ? "" : r->a->acodec == RV_ACODEC_PCMU ? "PCMU" : r->a->acodec == RV_ACODEC_PCMA ? "PCMA" : "Opus",
				    r->p2p ? "the peer group" : r->a->rtp);
	}
	int rc = r->sdp_rc;
	uv_mutex_unlock(&r->mu);
	return rc;
}

static void run_input(void *arg)
{
	struct input *in = arg;
	struct rtp_run *r = in->r;
	struct rv_media_frame f;
	int rc = 0;
	while (!atomic_load(&r->stop) && (rc = rv_media_next(in->src, &f)) == 1) {
		struct medium *m = f.audio ? &r->audio : &r->video;
		if (!m->on || in->src != (f.audio ? r->asrc : r->vsrc))
			continue;	/* a medium taken from the other input */
		/* the SDP waits for video's first frame (H.264's SPS and PPS), else audio's */
		if ((!f.audio || !r->video.on) && (rc = sdp_once(r)) < 0)
			break;
		if ((rc = track_frame(&m->k, in->src, &f)) < 0) {
			rv_say_error("sending: %s", strerror(-rc));
			break;
		}
	}
	in->rc = rc;
	if (r->p2p)
		p2pout_input_ended(r->p2p);
}

/* HOST's address for PORT; the medium's socket, key and RTP state. */
static int medium_init(struct medium *m, const struct app *a, const char *host, int port, int pt,
		       const struct rv_media_src *vsrc)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
		rv_say_error("cannot resolve %s", host);
		return RV_EXIT_CONNECT;
	}
	memcpy(&m->to, ai->ai_addr, ai->ai_addrlen);
	m->tolen = ai->ai_addrlen;
	freeaddrinfo(ai);
	m->rtcp_to = m->to;
	uint16_t rtcp = htons((uint16_t)(port + 1));
	if (m->to.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&m->rtcp_to)->sin6_port = rtcp;
	else
		((struct sockaddr_in *)&m->rtcp_to)->sin_port = rtcp;
	if ((a->srtp_set || a->p2p) && a->srtp != RV_SRTP_NONE &&	/* --p2p: SRTP as through rvserver */
	    (rv_srtp_new_key(a->srtp, m->key) < 0 || rv_srtp_new(&m->srtp, a->srtp, m->key, 1) < 0)) {
		rv_say_error("cannot set up SRTP");
		return RV_EXIT_FAIL;
	}
	m->fd = -1;
	if (!a->p2p && (m->fd = socket(m->to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return RV_EXIT_FAIL;
	m->on = 1;
	m->port = port;
	track_init(&m->k, vsrc != NULL, pt, vsrc && !strcmp(rv_media_codec(vsrc), "H264"), a->acodec, medium_out, m);
	return 0;
}

static void medium_free(struct medium *m)
{
	rv_srtp_free(m->srtp);
	if (m->on && m->fd >= 0)
		close(m->fd);
}

/* Capture devices run at their own pace; everything else is paced to its
 * timestamps when it is streamed live. */
static int is_device(const char *format)
{
	static const char *const live[] = { "v4l2", "video4linux2", "x11grab", "pulse", "alsa", "kmsgrab",
					    "fbdev", NULL };
	for (int i = 0; format && live[i]; i++)
		if (!strcmp(format, live[i]))
			return 1;
	return 0;
}

static atomic_int listen_stop;
static void on_listen_signal(int signo)
{
	(void)signo;
	atomic_store(&listen_stop, 1);
}

int media_open(struct app *a, int which, int want_video, int want_audio, struct rv_media_src **src,
	       char *err, size_t errlen)
{
	const char *format = a->inputs[which].format;
	struct rv_media_conf mc = {
		.format = format, .input = a->inputs[which].input,
		.vcodec = want_video ? a->vcodec : RV_VCODEC_NONE,
		.acodec = want_audio ? a->acodec : RV_ACODEC_NONE,
		.width = a->width, .height = a->height, .fps = a->fps, .bitrate = a->bitrate,
		.abitrate = a->abitrate, .gop = a->gop,
		.realtime = a->realtime || !is_device(format), .duration = a->duration,
		.listen = a->listen != NULL, .listen_timeout = a->listen_timeout,
		.idle_timeout = a->listen ? a->stall_timeout : 0,
	};
	if (!a->listen)
		return rv_media_open(src, &mc, err, errlen) < 0 ? RV_EXIT_FAIL : 0;
	mc.stop = &listen_stop;
	/* SIGINT and SIGTERM end the wait (the loop's own handlers come later) */
	struct sigaction sa = { .sa_handler = on_listen_signal }, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rv_say_info("waiting for a publisher at %s", a->listen);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "listening");
		cJSON_AddStringToObject(j, "url", a->listen);
		rv_out_obj(j);
	}
	int rc = rv_media_open(src, &mc, err, errlen);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc < 0 && atomic_load(&listen_stop)) {
		snprintf(err, errlen, "interrupted while waiting for a publisher at %s", a->listen);
		return RV_EXIT_FAIL;
	}
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "no publisher came to %s within %g s", a->listen, a->listen_timeout);
		return RV_EXIT_TIMEOUT;
	}
	if (rc == 0)
		rv_say_info("a publisher is sending to %s", a->listen);
	return rc < 0 ? RV_EXIT_FAIL : 0;
}

void media_say_idle(const struct app *a, const struct rv_media_src *src)
{
	if (a->listen && rv_media_idle(src))
		rv_say_info("the publisher sent nothing for %g s: its stream ended there", a->stall_timeout);
}

/* Open the inputs: video from the first that has it, audio likewise. */
static int open_inputs(struct rtp_run *r)
{
	struct app *a = r->a;
	char err[256];
	for (int i = 0; i < 2 && a->inputs[i].input; i++) {
		int want_v = !r->vsrc && a->vcodec != RV_VCODEC_NONE;
		int want_a = !r->asrc && a->acodec != RV_ACODEC_NONE;
		if (!want_v && !want_a) {
			rv_say_error("%s: nothing left to take from it (video and audio come from the first input)",
				     a->inputs[i].input);
			return RV_EXIT_USAGE;
		}
		struct rv_media_src *src;
		int rc = media_open(a, i, want_v, want_a, &src, err, sizeof err);
		if (rc) {
			rv_say_error("%s", err);
			return rc;
		}
		r->in[r->nin].r = r;
		r->in[r->nin++].src = src;
		if (rv_media_codec(src))
			r->vsrc = src;
		if (rv_media_has_audio(src) && !r->asrc)
			r->asrc = src;
	}
	return 0;
}

static void report(const struct rtp_run *r)
{
	const struct track *v = &r->video.k, *au = &r->audio.k;
	if (r->nin)
		media_say_idle(r->a, r->in[0].src);
	if (r->video.on)
		rv_say_info("video: %" PRIu64 " frames, %u packets, %u bytes sent", v->frames, v->packets, v->octets);
	if (r->audio.on)
		rv_say_info("audio: %" PRIu64 " frames, %u packets, %u bytes sent", au->frames, au->packets, au->octets);
	if (!rv_out_json_mode())
		return;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "event", "media");
	if (r->video.on)
		cJSON_AddStringToObject(j, "codec", rv_media_codec(r->vsrc));
	cJSON_AddNumberToObject(j, "frames", (double)v->frames);
	cJSON_AddNumberToObject(j, "packets", v->packets);
	cJSON_AddNumberToObject(j, "bytes", v->octets);
	cJSON_AddNumberToObject(j, "audio_frames", (double)au->frames);
	cJSON_AddNumberToObject(j, "audio_packets", au->packets);
	cJSON_AddNumberToObject(j, "audio_bytes", au->octets);
	rv_out_obj(j);
}

/* --p2p: the peer and the stream; the media's packets go there. */
static int p2p_start(struct rtp_run *r)
{
	int rc = p2pout_start(&r->p2p, r->a, r->nin, r->vsrc, &r->stop);
	if (rc)
		return rc;
	r->video.p2p = r->audio.p2p = r->p2p;
	r->audio.key_all = !r->video.on;
	return 0;
}

int rtpout_run(struct app *a)
{
	static struct rtp_run run;
	struct rtp_run *r = &run;
	int port = -1, rc = 0;
	r->a = a;
	if (a->p2p) {	/* the SDP's addresses are not used: the packets go into the group */
		snprintf(r->host, sizeof r->host, "127.0.0.1");
		port = 5004;
	} else if (rv_parse_hostport(a->rtp, r->host, sizeof r->host, &port) < 0 || port <= 0 || port > 65532) {
		rv_say_error("--rtp takes HOST:PORT (video to PORT, audio to PORT+2, RTCP to the port after each)");
		return RV_EXIT_USAGE;
	}
	if (a->vcodec == RV_VCODEC_NONE && a->acodec == RV_ACODEC_NONE) {
		rv_say_error("--vcodec none and --acodec none leave nothing to send");
		return RV_EXIT_USAGE;
	}
	if ((rc = open_inputs(r)) != 0)
		goto done;
	if (!r->vsrc && !r->asrc) {
		rv_say_error("nothing to send: no video and no audio");
		rc = RV_EXIT_USAGE;
		goto done;
	}
	if ((r->vsrc && (rc = medium_init(&r->video, a, r->host, port, a->pt, r->vsrc)) != 0) ||
	    (r->asrc && (rc = medium_init(&r->audio, a, r->host, r->vsrc ? port + 2 : port, a->apt, NULL)) != 0))
		goto done;
	if (a->p2p && (rc = p2p_start(r)) != 0)
		goto done;
	uv_mutex_init(&r->mu);
	if (r->p2p)
		p2pout_wait(r->p2p);
	for (int i = r->p2p ? 0 : 1; i < r->nin; i++) {	/* --p2p: the loop has the main thread */
		r->in[i].started = uv_thread_create(&r->in[i].thread, run_input, &r->in[i]) == 0;
		if (!r->in[i].started) {
			r->in[i].rc = -EAGAIN;
			if (r->p2p)
				p2pout_input_ended(r->p2p);
		}
	}
	if (r->p2p)
		rc = p2pout_run(r->p2p);
	else
		run_input(&r->in[0]);
	for (int i = r->p2p ? 0 : 1; i < r->nin; i++)
		if (r->in[i].started)
			uv_thread_join(&r->in[i].thread);
	p2pout_free(r->p2p);	/* the threads that used it are joined */
	r->p2p = r->video.p2p = r->audio.p2p = NULL;
	uv_mutex_destroy(&r->mu);
	for (int i = 0; i < r->nin; i++)
		if (r->in[i].rc < 0)
			rc = RV_EXIT_FAIL;
	report(r);
	if (!rc && r->video.k.frames + r->audio.k.frames == 0)
		rc = RV_EXIT_FAIL;
done:
	for (int i = 0; i < r->nin; i++)
		rv_media_close(r->in[i].src);
	medium_free(&r->video);
	medium_free(&r->audio);
	return rc;
}
