/* watch.c - rvrecv media through rvserver: take the streams the server
 * announces, put their packets back in order (asking for the missing ones
 * with NACK, and for a keyframe with PLI when a frame cannot be repaired),
 * rebuild whole frames and write them into a container without
 * re-encoding: one file (-o FILE or - for stdout), or one per sender with
 * a %s in the name. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "json.h"
#include "early.h"
#include "jitter.h"
#include "pending.h"
#include "log.h"
#include "media.h"
#include "mlink.h"
#include "rtcpstat.h"
#include "rtp.h"
#include "rvrecv.h"
#include "srtp.h"

#define HOLD_MS 200                /* a gap is waited for this long (NACKs go out at once) */
#define PLI_GAP_MS 300             /* at most one keyframe request this often */
#define TICK_MS 10
/* A stream the sender ended is closed this much later: its last packets,
 * relayed over UDP, may come after the stream-end sent on the connection. */
#define END_LINGER_MS HOLD_MS
#define RR_EVERY_MS 1000           /* receiver reports */

/* RTP time of a track to the shared timeline (microseconds): through the
 * sender reports when the stream has audio and video to line up, else
 * simply unwrapped. */
struct clockmap {
	int clock;
	int have_sr;
	uint32_t sr_rtp;
	int64_t sr_us;                /* the SR's NTP time */
	int have;
	uint32_t last;
	int64_t ext;
};

struct wstream;

struct atrack {
	struct wstream *s;
	uint32_t ssrc;
	struct jitter jb;
	struct clockmap map;
	struct rv_rtcpstat stat;
	uint64_t frames;
};

struct wstream {
	struct wstream *next;
	struct watch *w;
	double id;
	char from[65];
	uint32_t ssrc, fb_ssrc;
	const char *codec;
	struct jitter jb;
	struct rv_depack dp;
	struct rv_media_sink *sink;
	struct rv_srtp *in, *out;     /* with SRTP: the sender's packets, our RTCP */
	uint64_t frames, keyframes, skipped, plis, unauth;
	double end_at;                /* the sender ended it: close at this time */
	int has_video, has_audio;
	struct clockmap vmap;
	struct rv_rtcpstat vstat;
	double last_rr;
	struct atrack au;
	double last_pli;
	int waiting_key;              /* until a keyframe: at the start, after a loss */
	int sink_err;
	struct pending pend;          /* frames before both tracks' first sender report */
	int pend_told;
};

struct watch {
	struct app *a;
	struct rv_mlink *link;
	struct wstream *streams;
	struct early *early;          /* packets ahead of their stream's announcement */
	uv_timer_t tick;
	uv_signal_t sigint, sigterm;
	int started, single_done, udp;
	int stop, stop_code;          /* finish on the next tick (not inside a callback) */
	double first_ms;
	/* totals of the streams already closed */
	uint64_t packets, lost, recovered, nacked, frames, keyframes, plis, streams_seen, audio_frames;
	uint64_t audio_packets, audio_lost, audio_recovered;
};

static struct watch W;

static double now_ms(struct watch *w)
{
	return (double)uv_now(w->a->loop);
}

/* P has room for the SRTCP trailer. */
static void send_rtcp(struct wstream *s, uint8_t *p, int n)
{
	size_t len = (size_t)n;
	if (n <= 0 || !s->w->link || (s->out && rv_srtp_protect(s->out, p, &len) < 0))
		return;
	rv_mlink_send(s->w->link, p, len);
}

static void on_nack(void *ud, const uint16_t *seqs, size_t n)
{
	struct wstream *s = ud;
	uint8_t buf[1200 + RV_SRTP_MAX_TRAILER];
	for (size_t i = 0; i < n; i += 64)	/* a bounded packet each */
		send_rtcp(s, buf, rv_rtcp_build_nack(buf, 1200, s->fb_ssrc, s->ssrc, seqs + i,
						      n - i < 64 ? n - i : 64));
}

/* Audio is repaired the same way, for its own SSRC. */
static void on_audio_nack(void *ud, const uint16_t *seqs, size_t n)
{
	struct atrack *k = ud;
	uint8_t buf[1200 + RV_SRTP_MAX_TRAILER];
	for (size_t i = 0; i < n; i += 64)
		send_rtcp(k->s, buf, rv_rtcp_build_nack(buf, 1200, k->s->fb_ssrc, k->ssrc, seqs + i,
							 n - i < 64 ? n - i : 64));
}

static void ask_keyframe(struct wstream *s)
{
	double now = now_ms(s->w);
	if (s->last_pli && now - s->last_pli < PLI_GAP_MS)
		return;
	s->last_pli = now;
	s->plis++;
	uint8_t buf[32 + RV_SRTP_MAX_TRAILER];
	send_rtcp(s, buf, rv_rtcp_build_pli(buf, 32, s->fb_ssrc, s->ssrc));
}

/* A gap the NACKs did not fill: the frames after it need a keyframe. */
static void on_gave_up(void *ud)
{
	struct wstream *s = ud;
	s->waiting_key = 1;
	ask_keyframe(s);
}

static void finish_all(struct watch *w, int code);

static int to_us(struct wstream *s, struct clockmap *m, uint32_t ts, int64_t *out)
{
	if (s->has_video && s->has_audio) {
		if (!m->have_sr)
			return -1;
		*out = m->sr_us + (int64_t)(int32_t)(ts - m->sr_rtp) * 1000000 / m->clock;
		return 0;
	}
	m->ext = m->have ? m->ext + (int32_t)(ts - m->last) : 0;
	m->last = ts;
	m->have = 1;
	*out = m->ext * 1000000 / m->clock;
	return 0;
}

static void sink_failed(struct wstream *s, int rc)
{
	s->sink_err = rc;
	char why[128];
	rv_say_error("writing %s: %s", s->w->a->output, rv_media_sink_strerror(rc, why, sizeof why));
	s->w->stop = 1;
	s->w->stop_code = RV_EXIT_FAIL;
}

/* An Opus packet at T into the audio track. */
static void put_audio(struct atrack *k, const uint8_t *p, size_t n, int64_t t)
{
	struct wstream *s = k->s;
	int rc = rv_media_sink_write(s->sink, 1, p, n, t, 1);
	if (rc < 0)
		sink_failed(s, rc);
	else if (rc > 0)
		k->frames++;	/* written: not before the file's first video keyframe */
}

/* A video frame at T into the video track. */
static void put_video(struct wstream *s, const uint8_t *f, size_t len, int64_t t, int key)
{
	struct app *a = s->w->a;
	int rc = rv_media_sink_write(s->sink, 0, f, len, t, key);
	if (rc < 0) {
		sink_failed(s, rc);
		return;
	}
	if (rc == 0) {	/* not written: before the file's first keyframe */
		s->skipped++;
		return;
	}
	s->frames++;
	s->keyframes += key != 0;
	uint64_t total = s->w->frames;
	for (struct wstream *o = s->w->streams; o; o = o->next)
		total += o->frames;
	if (a->frames > 0 && total >= (uint64_t)a->frames)
		s->w->stop = 1;
}

/* Not every track has its first sender report yet, or frames wait for
 * them: a frame now must wait too, behind those. */
static int must_wait(const struct wstream *s)
{
	return s->pend.head || (s->has_video && s->has_audio && !(s->vmap.have_sr && s->au.map.have_sr));
}

/* A frame that cannot be placed yet (no sender report): held, 0; or -1. */
static int hold(struct wstream *s, int audio, int key, uint32_t ts, const uint8_t *p, size_t n)
{
	if (pending_add(&s->pend, audio, key, ts, p, n, now_ms(s->w)) == 0)
		return 0;
	if (!s->pend_told) {
		s->pend_told = 1;
		rv_say_info("stream from %s: no sender report for %d s: the recording starts at a later keyframe",
			    s->from, PENDING_MAX_MS / 1000);
	}
	return -1;
}

/* Both tracks are placed now: what waited goes into the file, in order. */
static void placed(struct wstream *s)
{
	struct pending_item *it;
	int64_t t;
	while ((it = pending_pop(&s->pend))) {
		if (!s->sink_err && it->audio && to_us(s, &s->au.map, it->ts, &t) == 0)
			put_audio(&s->au, it->data, it->len, t);
		else if (!s->sink_err && !it->audio && to_us(s, &s->vmap, it->ts, &t) == 0)
			put_video(s, it->data, it->len, t, it->key);
		free(it);
	}
}

/* The stream ends before both tracks' first sender report: what waited is
 * placed by its first packets instead (they came at about the same time;
 * a track that has a report keeps it) rather than lost. */
static void place_unreported(struct wstream *s)
{
	struct pending_item *fv = NULL, *fa = NULL;
	int64_t base = 0;
	for (struct pending_item *it = s->pend.head; it; it = it->next) {
		if (it->audio && !fa)
			fa = it;
		if (!it->audio && !fv)
			fv = it;
	}
	if (!fv && !fa)
		return;
	if (s->vmap.have_sr && fv)
		to_us(s, &s->vmap, fv->ts, &base);
	else if (s->au.map.have_sr && fa)
		to_us(s, &s->au.map, fa->ts, &base);
	if (!s->vmap.have_sr && fv)
		s->vmap = (struct clockmap){ .clock = s->vmap.clock, .have_sr = 1, .sr_rtp = fv->ts, .sr_us = base };
	if (!s->au.map.have_sr && fa)
		s->au.map = (struct clockmap){ .clock = s->au.map.clock, .have_sr = 1, .sr_rtp = fa->ts, .sr_us = base };
	placed(s);
}

/* An Opus packet in order: into the audio track. */
static void on_audio(void *ud, const uint8_t *p, size_t n)
{
	struct atrack *k = ud;
	struct wstream *s = k->s;
	struct rv_rtp r;
	int64_t t;
	if (s->sink_err || !s->sink || rv_rtp_parse(p, n, &r) < 0 || !r.payload_len)
		return;
	if (must_wait(s) && hold(s, 1, 0, r.ts, r.payload, r.payload_len) == 0)
		return;
	if (to_us(s, &k->map, r.ts, &t) == 0)
		put_audio(k, r.payload, r.payload_len, t);
}

static void on_frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	struct wstream *s = ud;
	if (s->sink_err || !s->sink)
		return;
	if (s->waiting_key && !key) {
		s->skipped++;
		return;
	}
	int64_t t;
	if (must_wait(s) && hold(s, 0, key, ts, f, len) == 0) {
		s->waiting_key = 0;
		return;
	}
	if (to_us(s, &s->vmap, ts, &t) < 0) {	/* no sender report yet to place it */
		s->skipped++;
		s->waiting_key = 1;
		ask_keyframe(s);
		return;
	}
	s->waiting_key = 0;
	put_video(s, f, len, t, key);
}

static void on_packet_in_order(void *ud, const uint8_t *p, size_t n)
{
	struct wstream *s = ud;
	struct rv_rtp r;
	if (rv_rtp_parse(p, n, &r) == 0)
		rv_depack_push(&s->dp, &r);
}

/* The file for a stream: -o as given, or with %s replaced by the sender. */
static void out_path(const char *pattern, const char *from, char *out, size_t len)
{
	const char *pct = strstr(pattern, "%s");
	if (!pct) {
		snprintf(out, len, "%s", pattern);
		return;
	}
	snprintf(out, len, "%.*s%s%s", (int)(pct - pattern), pattern, from, pct + 2);
}

static void stream_free(struct wstream *s)
{
	if (s->has_video)
		rv_depack_free(&s->dp);
	jitter_free(&s->jb);
	jitter_free(&s->au.jb);
	pending_clear(&s->pend);
	rv_srtp_free(s->in);
	rv_srtp_free(s->out);
	free(s);
}

static void stream_close(struct watch *w, struct wstream *s, const char *why)
{
	for (struct wstream **pp = &w->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->has_video)	/* hand on what is held */
		jitter_tick(&s->jb, now_ms(w) + 1e6);
	if (s->has_audio)
		jitter_tick(&s->au.jb, now_ms(w) + 1e6);
	place_unreported(s);
	if (s->sink && rv_media_sink_close(s->sink) < 0 && !w->a->exit_code)
		w->a->exit_code = RV_EXIT_FAIL;
	rv_say_info("stream %.0f from %s %s: %" PRIu64 " packets, %" PRIu64 " lost, %" PRIu64
		    " recovered, %" PRIu64 " frames (%" PRIu64 " keyframes), %" PRIu64 " keyframe requests",
		    s->id, s->from, why, s->jb.packets, s->jb.lost, s->jb.recovered, s->frames, s->keyframes,
		    s->plis);
	rv_say_debug("stream %.0f: %" PRIu64 " frames skipped (before a keyframe or a report), %" PRIu64
		     " broken", s->id, s->skipped, s->has_video ? s->dp.dropped : 0);
	if (s->has_audio)
		rv_say_info("stream %.0f audio: %" PRIu64 " packets, %" PRIu64 " lost, %" PRIu64 " recovered, %" PRIu64
			    " frames", s->id, s->au.jb.packets, s->au.jb.lost, s->au.jb.recovered, s->au.frames);
	w->audio_packets += s->au.jb.packets;
	w->audio_lost += s->au.jb.lost;
	w->audio_recovered += s->au.jb.recovered;
	w->packets += s->jb.packets;
	w->lost += s->jb.lost;
	w->recovered += s->jb.recovered;
	w->nacked += s->jb.nacked;
	w->frames += s->frames;
	w->keyframes += s->keyframes;
	w->plis += s->plis;
	w->audio_frames += s->au.frames;
	stream_free(s);
}

static cJSON *media_of(cJSON *h, const char *kind)
{
	cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(h, "media")) {
		const char *k = rv_json_str(m, "kind");
		if (k && !strcmp(k, kind))
			return m;
	}
	return NULL;
}

/* The stream's SRTP sessions, when the announcement carries a key. */
/* The RTP clock of an audio codec rvrecv records, 0 for one it does not:
 * Opus 48 kHz, G.711 (PCMU, PCMA; RFC 3551) 8 kHz. */
static int audio_clock(const char *codec)
{
	if (!codec)
		return 0;
	return !strcmp(codec, "opus") ? 48000 : !strcmp(codec, "PCMU") || !strcmp(codec, "PCMA") ? 8000 : 0;
}

static int stream_srtp(struct wstream *s, cJSON *h)
{
	cJSON *srtp = cJSON_GetObjectItemCaseSensitive(h, "srtp");
	if (!srtp)
		return 0;
	const char *name = rv_json_str(srtp, "suite");
	const char *key = rv_json_str(srtp, "key");
	int suite = rv_srtp_suite(name);
	if (!suite || rv_srtp_new(&s->in, suite, key, 0) < 0 || rv_srtp_new(&s->out, suite, key, 1) < 0) {
		rv_say_error("stream from %s: unusable SRTP (%s)", s->from, name ? name : "no suite");
		return -1;
	}
	return 0;
}

static void replay(void *ud, const uint8_t *p, size_t n);

static void stream_add(struct watch *w, cJSON *h)
{
	struct app *a = w->a;
	const char *from = rv_json_str(h, "from");
	cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "stream");
	cJSON *fb = cJSON_GetObjectItemCaseSensitive(h, "rtcp_ssrc");
	cJSON *video = media_of(h, "video"), *audio = media_of(h, "audio");
	if (!from || !cJSON_IsNumber(id) || !cJSON_IsNumber(fb) || (!video && !audio))
		return;
	if (a->from && strcmp(a->from, from) != 0)
		return;
	const char *codec = rv_json_str(video, "codec");
	cJSON *vssrc = cJSON_GetObjectItemCaseSensitive(video, "ssrc");
	cJSON *assrc = cJSON_GetObjectItemCaseSensitive(audio, "ssrc");
	const char *acodec = rv_json_str(audio, "codec");
	int dc = codec && !strcmp(codec, "H264") ? RV_DEPACK_H264 : codec && !strcmp(codec, "VP8") ? RV_DEPACK_VP8 : 0;
	if (video && (!dc || !cJSON_IsNumber(vssrc))) {
		rv_say_error("stream from %s: %s video is not supported (H264, VP8)", from, codec ? codec : "?");
		return;
	}
	if (audio && (!audio_clock(acodec) || !cJSON_IsNumber(assrc))) {
		rv_say_info("stream from %s: %s audio is not supported (Opus, PCMU, PCMA): video only", from,
			    acodec ? acodec : "?");
		audio = NULL;
		if (!video)
			return;
	}
	int per_sender = strstr(a->output, "%s") != NULL;
	if (!per_sender && (w->streams || w->single_done)) {
		rv_say_info("stream from %s ignored: already recording one (use -o 'NAME-%%s.mkv' for one file per sender)", from);
		return;
	}
	struct wstream *s = calloc(1, sizeof *s);
	if (!s)
		return;
	s->w = w;
	s->id = id->valuedouble;
	snprintf(s->from, sizeof s->from, "%s", from);
	s->fb_ssrc = (uint32_t)fb->valuedouble;
	s->has_video = video != NULL;
	s->has_audio = audio != NULL;
	s->au.s = s;
	s->vmap.clock = 90000;
	s->au.map.clock = audio ? audio_clock(acodec) : 48000;
	if ((video && jitter_init(&s->jb, HOLD_MS, on_packet_in_order, s) < 0) ||
	    (audio && jitter_init(&s->au.jb, HOLD_MS / 2, on_audio, &s->au) < 0) || stream_srtp(s, h) < 0) {
		stream_free(s);
		return;
	}
	if (video) {
		s->ssrc = (uint32_t)vssrc->valuedouble;
		rv_rtcpstat_init(&s->vstat, s->ssrc, 90000);
		s->codec = !strcmp(codec, "H264") ? "H264" : "VP8";
		s->waiting_key = 1;
		s->jb.nack = on_nack;
		s->jb.gave_up = on_gave_up;
		rv_depack_init(&s->dp, dc, 16u << 20, on_frame, s);
	}
	if (audio) {
		s->au.ssrc = (uint32_t)assrc->valuedouble;
		s->au.jb.nack = on_audio_nack;
		rv_rtcpstat_init(&s->au.stat, s->au.ssrc, (uint32_t)s->au.map.clock);
	}
	char path[4096], err[256];
	out_path(a->output, from, path, sizeof path);
	cJSON *wd = cJSON_GetObjectItemCaseSensitive(video, "width");
	cJSON *ht = cJSON_GetObjectItemCaseSensitive(video, "height");
	cJSON *ch = cJSON_GetObjectItemCaseSensitive(audio, "channels");
	struct rv_media_track vt = { s->codec, cJSON_IsNumber(wd) ? (int)wd->valuedouble : 0,
				     cJSON_IsNumber(ht) ? (int)ht->valuedouble : 0, 0 };
	struct rv_media_track at = { audio ? acodec : "opus", 0, 0, cJSON_IsNumber(ch) ? (int)ch->valuedouble : 2 };
	if (rv_media_sink_open(&s->sink, path, a->mformat, video ? &vt : NULL, audio ? &at : NULL,
			       err, sizeof err) < 0) {
		rv_say_error("%s", err);
		stream_free(s);
		finish_all(w, RV_EXIT_FAIL);
		return;
	}
	s->next = w->streams;
	w->streams = s;
	w->streams_seen++;
	if (video)	/* its first packets may have come before this announcement */
		early_take(w->early, s->ssrc, now_ms(w), replay, w);
	if (audio)
		early_take(w->early, s->au.ssrc, now_ms(w), replay, w);
	char what[64];
	snprintf(what, sizeof what, "%s%s%s", video ? s->codec : "", video && audio ? " and " : "",
		 !audio ? "" : !strcmp(acodec, "opus") ? "Opus" : acodec);
	rv_say_info("recording %s from %s into %s", what, from, path);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "stream");
		cJSON_AddStringToObject(j, "from", from);
		if (video)
			cJSON_AddStringToObject(j, "codec", s->codec);
		if (audio)
			cJSON_AddStringToObject(j, "audio", acodec);
		cJSON_AddStringToObject(j, "file", path);
		rv_out_obj(j);
	}
	if (video)
		ask_keyframe(s);	/* start the recording at a keyframe, soon */
}

/* With SRTP, the packet P (*N bytes) decrypted into BUF, or NULL when it
 * fails authentication; without, P itself. SSRCs and sequence numbers are
 * clear text either way, which is how the packet was matched. */
static const uint8_t *unprotect(struct wstream *s, const uint8_t *p, size_t *n, uint8_t *buf, size_t cap)
{
	if (!s->in)
		return p;
	if (*n > cap)
		return NULL;
	memcpy(buf, p, *n);
	if (rv_srtp_unprotect(s->in, buf, n) < 0) {
		s->unauth++;
		return NULL;
	}
	return buf;
}

/* A sender report: where the track's RTP time is in wall-clock time. */
static void sender_report(struct wstream *s, const uint8_t *p, size_t n)
{
	uint8_t buf[2048];
	if (!(p = unprotect(s, p, &n, buf, sizeof buf)))
		return;
	struct rv_rtcp c;
	struct rv_rtcp_sr sr;
	size_t off = 0;
	while (rv_rtcp_next(p, n, &off, &c) == 1) {
		if (c.type != RV_RTCP_SR || rv_rtcp_parse_sr(&c, &sr) < 0)
			continue;
		int video = s->has_video && sr.ssrc == s->ssrc, audio = s->has_audio && sr.ssrc == s->au.ssrc;
		struct clockmap *m = video ? &s->vmap : audio ? &s->au.map : NULL;
		if (m)
			rv_rtcpstat_sr(video ? &s->vstat : &s->au.stat, sr.ntp, (uint64_t)(now_ms(s->w) * 1000));
		if (!m || m->have_sr)
			continue;	/* the first report places the track; later ones would jitter it */
		m->have_sr = 1;
		m->sr_rtp = sr.rtp_ts;
		m->sr_us = rv_ntp_unix_us(sr.ntp);
		if (s->vmap.have_sr && s->au.map.have_sr)
			placed(s);
	}
}

/* A packet to its stream: 1, or 0 when no stream has its SSRC. */
static int deliver(struct watch *w, const uint8_t *p, size_t n)
{
	int rtcp = rv_rtp_is_rtcp(p, n);
	uint32_t ssrc = rv_rd32(p + (rtcp ? 4 : 8));
	uint8_t buf[JITTER_PKT + RV_SRTP_MAX_TRAILER];
	for (struct wstream *s = w->streams; s; s = s->next) {
		int v = s->has_video && s->ssrc == ssrc, au = s->has_audio && s->au.ssrc == ssrc;
		if (!v && !au)
			continue;
		if (rtcp) {
			sender_report(s, p, n);
			return 1;
		}
		if (!(p = unprotect(s, p, &n, buf, sizeof buf)))
			return 1;
		if (!w->first_ms)
			w->first_ms = now_ms(w);
		rv_rtcpstat_packet(v ? &s->vstat : &s->au.stat, rv_rd16(p + 2), rv_rd32(p + 4), (uint64_t)(now_ms(w) * 1000));
		jitter_push(v ? &s->jb : &s->au.jb, p, n, now_ms(w));
		return 1;
	}
	return 0;
}

static void on_packet(void *ud, const uint8_t *p, size_t n)
{
	struct watch *w = ud;
	if (n < RV_RTP_HEADER)
		return;
	if (!deliver(w, p, n))	/* perhaps ahead of its stream's announcement */
		early_hold(w->early, p, n, rv_rd32(p + (rv_rtp_is_rtcp(p, n) ? 4 : 8)), now_ms(w));
}

static void replay(void *ud, const uint8_t *p, size_t n)
{
	deliver(ud, p, n);
}

/* How reception goes, to the sender through the server. */
static void receiver_report(struct wstream *s, struct rv_rtcpstat *st, double now)
{
	struct rv_rtcp_rb rb;
	uint8_t buf[32 + RV_SRTP_MAX_TRAILER];
	if (rv_rtcpstat_block(st, (uint64_t)(now * 1000), &rb) == 0)
		send_rtcp(s, buf, rv_rtcp_build_rr(buf, 32, s->fb_ssrc, &rb));
}

/* S's sender ended it and its last packets had END_LINGER_MS to come. */
static void stream_ended(struct watch *w, struct wstream *s)
{
	int single = !strstr(w->a->output, "%s");
	stream_close(w, s, "ended");
	if (single) {
		w->single_done = 1;
		finish_all(w, w->a->exit_code);
	} else {
		app_counted(w->a);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct watch *w = t->data;
	double now = now_ms(w);
	if (w->stop) {
		finish_all(w, w->stop_code);
		return;
	}
	for (struct wstream *s = w->streams, *next; s; s = next) {
		next = s->next;
		if (s->end_at && now >= s->end_at) {
			stream_ended(w, s);
			if (w->a->done)
				return;
			continue;
		}
		if (s->has_video)
			jitter_tick(&s->jb, now);
		if (s->has_audio)
			jitter_tick(&s->au.jb, now);
		if (now - s->last_rr >= RR_EVERY_MS) {
			s->last_rr = now;
			receiver_report(s, &s->vstat, now);
			receiver_report(s, &s->au.stat, now);
		}
	}
	if (w->a->duration > 0 && w->first_ms && now - w->first_ms >= w->a->duration * 1000)
		finish_all(w, 0);
}

static void on_ready(void *ud, int udp)
{
	struct watch *w = ud;
	w->udp = udp;
	rv_say_info("taking media over %s", udp ? "UDP" : "TCP");
}

static void on_watch(struct rv_session *sess, int err, cJSON *reply, void *ud)
{
	struct watch *w = ud;
	(void)sess;
	if (err) {
		const char *msg = rv_json_str(reply, "message");
		rv_say_error("watch: %s", msg ? msg : rv_strerror(err));
		finish_all(w, rv_cli_exit_for(err));
		return;
	}
	if (w->link)	/* a reconnect: the old path is stale */
		rv_mlink_close(w->link);
	w->link = NULL;
	if (rv_mlink_start(&w->link, w->a->loop, w->a->sess, w->a->co.host,
			   cJSON_GetObjectItemCaseSensitive(reply, "udp"), w->a->tcp, on_packet, on_ready, w) < 0)
		finish_all(w, RV_EXIT_FAIL);
}

static void on_signal(uv_signal_t *sg, int signum)
{
	(void)signum;
	finish_all(sg->data, 0);
}

void watch_start(struct app *a)
{
	struct watch *w = &W;
	if (!w->started) {
		w->started = 1;
		w->a = a;
		if (early_init(&w->early) < 0)
			rv_say_error("no memory to hold packets that come before their stream's announcement");
		uv_timer_init(a->loop, &w->tick);
		uv_signal_init(a->loop, &w->sigint);
		uv_signal_init(a->loop, &w->sigterm);
		w->tick.data = w->sigint.data = w->sigterm.data = w;
		uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
		uv_signal_start(&w->sigint, on_signal, SIGINT);
		uv_signal_start(&w->sigterm, on_signal, SIGTERM);
	}
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "watch");
	rv_session_request(a->sess, h, NULL, 0, on_watch, w);
}

void watch_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len)
{
	struct watch *w = &W;
	(void)a;
	if (!w->started)
		return;
	if (!strcmp(type, "media")) {
		if (w->link)
			rv_mlink_frame(w->link, body, len);
	} else if (!strcmp(type, "stream")) {
		stream_add(w, h);
	} else if (!strcmp(type, "stream-end")) {
		cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "stream");
		for (struct wstream *s = w->streams; s; s = s->next)
			if (cJSON_IsNumber(id) && s->id == id->valuedouble && !s->end_at)
				s->end_at = now_ms(w) + END_LINGER_MS;	/* closed by on_tick */
	}
}

static void finish_all(struct watch *w, int code)
{
	if (w->a->done)
		return;
	while (w->streams)
		stream_close(w, w->streams, "stopped");
	app_finish(w->a, w->a->exit_code ? w->a->exit_code : code);
}

/* app_ops.stop, called by app_finish: stop the media side and print the summary. */
void watch_stop(struct app *a)
{
	struct watch *w = &W;
	if (!w->started)
		return;
	w->started = 0;
	while (w->streams)
		stream_close(w, w->streams, "stopped");
	uv_close((uv_handle_t *)&w->tick, NULL);
	uv_close((uv_handle_t *)&w->sigint, NULL);
	uv_close((uv_handle_t *)&w->sigterm, NULL);
	rv_mlink_close(w->link);
	w->link = NULL;
	early_free(w->early);
	w->early = NULL;
	rv_say_info("%" PRIu64 " packets (%" PRIu64 " lost, %" PRIu64 " recovered by NACK), %" PRIu64
		    " frames (%" PRIu64 " keyframes), %" PRIu64 " keyframe requests", w->packets, w->lost,
		    w->recovered, w->frames, w->keyframes, w->plis);
	if (a->co.json && strcmp(a->output, "-")) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "media");
		cJSON_AddNumberToObject(j, "streams", (double)w->streams_seen);
		cJSON_AddNumberToObject(j, "packets", (double)w->packets);
		cJSON_AddNumberToObject(j, "lost", (double)w->lost);
		cJSON_AddNumberToObject(j, "recovered", (double)w->recovered);
		cJSON_AddNumberToObject(j, "nacked", (double)w->nacked);
		cJSON_AddNumberToObject(j, "frames", (double)w->frames);
		cJSON_AddNumberToObject(j, "keyframes", (double)w->keyframes);
		cJSON_AddNumberToObject(j, "audio_frames", (double)w->audio_frames);
		cJSON_AddNumberToObject(j, "audio_packets", (double)w->audio_packets);
		cJSON_AddNumberToObject(j, "audio_lost", (double)w->audio_lost);
		cJSON_AddNumberToObject(j, "audio_recovered", (double)w->audio_recovered);
		cJSON_AddNumberToObject(j, "keyframe_requests", (double)w->plis);
		cJSON_AddBoolToObject(j, "udp", w->udp);
		rv_out_obj(j);
	}
}
