/* media.c - media sources on FFmpeg (see media.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavdevice/avdevice.h>
#include <libavdevice/version.h>
#include <libavformat/version.h>
#include <libavcodec/version.h>
#include <libswscale/version.h>
#include <libavutil/version.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <openssl/evp.h>

#include "err.h"
#include "media.h"

/* FFmpeg is loaded when media is first used, not when the tool starts:
 * with its dependencies it is some 200 shared libraries and 40 MB, which
 * rvsend and rvrecv should not pay for commands, streams and files. */
#define AV_FUNCS(X) \
	X(avdevice_register_all) \
	X(av_log_set_level) \
	X(av_find_input_format) \
	X(avformat_open_input) \
	X(avformat_find_stream_info) \
	X(av_find_best_stream) \
	X(av_guess_frame_rate) \
	X(av_packet_alloc) \
	X(av_frame_alloc) \
	X(avcodec_get_name) \
	X(av_bsf_get_by_name) \
	X(av_bsf_alloc) \
	X(avcodec_parameters_copy) \
	X(av_bsf_init) \
	X(avcodec_alloc_context3) \
	X(avcodec_parameters_to_context) \
	X(avcodec_open2) \
	X(avcodec_find_encoder_by_name) \
	X(av_opt_set) \
	X(av_opt_set_int) \
	X(av_frame_get_buffer) \
	X(av_strerror) \
	X(avcodec_receive_packet) \
	X(avcodec_receive_frame) \
	X(sws_getContext) \
	X(av_frame_make_writable) \
	X(sws_scale) \
	X(av_rescale_q) \
	X(av_frame_unref) \
	X(avcodec_send_frame) \
	X(av_bsf_receive_packet) \
	X(av_packet_unref) \
	X(av_read_frame) \
	X(avcodec_send_packet) \
	X(av_bsf_send_packet) \
	X(av_packet_ref) \
	X(sws_freeContext) \
	X(av_frame_free) \
	X(av_packet_free) \
	X(av_bsf_free) \
	X(avcodec_free_context) \
	X(avformat_close_input) \
	X(avformat_alloc_output_context2) \
	X(avformat_new_stream) \
	X(av_mallocz) \
	X(av_dict_set) \
	X(avio_open) \
	X(avformat_write_header) \
	X(av_dict_free) \
	X(av_new_packet) \
	X(av_interleaved_write_frame) \
	X(av_write_trailer) \
	X(avio_closep) \
	X(avformat_free_context) \

#define AV_DECLARE(f) static __typeof__(&f) p_##f;
AV_FUNCS(AV_DECLARE)
#define AV(f) (*p_##f)

static int av_loaded;

static int av_load(char *err, size_t errlen)
{
	static const char *const libs[] = {
		"libavutil.so." AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR),
		"libswscale.so." AV_STRINGIFY(LIBSWSCALE_VERSION_MAJOR),
		"libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR),
		"libavformat.so." AV_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR),
		"libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR),
	};
	void *h[5];
	if (av_loaded)
		return 0;
	for (int i = 0; i < 5; i++) {
		if (!(h[i] = dlopen(libs[i], RTLD_NOW | RTLD_GLOBAL))) {
			snprintf(err, errlen, "cannot load FFmpeg (%s): install the FFmpeg libraries", libs[i]);
			return -ENOENT;
		}
	}
#define AV_RESOLVE(f) \
	for (int i = 0; i < 5 && !p_##f; i++) \
		*(void **)&p_##f = dlsym(h[i], #f); \
	if (!p_##f) { \
		snprintf(err, errlen, "FFmpeg has no %s", #f); \
		return -ENOENT; \
	}
	AV_FUNCS(AV_RESOLVE)
	av_loaded = 1;
	return 0;
}

struct rv_media_src {
	struct rv_media_conf conf;
	AVFormatContext *fc;
	int vidx;
	AVStream *st;
	AVCodecContext *dec, *enc;
	AVBSFContext *bsf;              /* copy of H.264: to Annex-B */
	struct SwsContext *sws;
	AVFrame *frame, *scaled;
	AVPacket *in, *out;
	int w, h;
	double fps;
	int64_t frames, first_pts;
	int have_first, eof, draining;
	atomic_int want_key;            /* set from another thread (RTCP, the server) */
	double start_ms;
	char sprop[512];
	const char *codec;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void averr(int rc, const char *what, char *err, size_t errlen)
{
	char msg[128];
	AV(av_strerror)(rc, msg, sizeof msg);
	snprintf(err, errlen, "%s: %s", what, msg);
}

static int open_encoder(struct rv_media_src *s, char *err, size_t errlen)
{
	const char *name = s->conf.vcodec == RV_VCODEC_VP8 ? "libvpx" : "libx264";
	const AVCodec *c = AV(avcodec_find_encoder_by_name)(name);
	if (!c) {
		snprintf(err, errlen, "this FFmpeg has no %s encoder", name);
		return -ENOENT;
	}
	s->enc = AV(avcodec_alloc_context3)(c);
	s->enc->width = s->w;
	s->enc->height = s->h;
	s->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	s->enc->time_base = (AVRational){ 1, 90000 };
	s->enc->framerate = (AVRational){ (int)(s->fps * 1000), 1000 };
	s->enc->gop_size = s->conf.gop > 0 ? s->conf.gop : (int)(2 * s->fps);
	s->enc->max_b_frames = 0;
	s->enc->bit_rate = s->conf.bitrate > 0 ? s->conf.bitrate : 1000000;
	if (s->conf.vcodec == RV_VCODEC_VP8) {
		AV(av_opt_set)(s->enc->priv_data, "deadline", "realtime", 0);
		AV(av_opt_set_int)(s->enc->priv_data, "cpu-used", 8, 0);
		AV(av_opt_set_int)(s->enc->priv_data, "lag-in-frames", 0, 0);
		AV(av_opt_set_int)(s->enc->priv_data, "error-resilient", 1, 0);
		s->codec = "VP8";
	} else {
		AV(av_opt_set)(s->enc->priv_data, "preset", "veryfast", 0);
		AV(av_opt_set)(s->enc->priv_data, "tune", "zerolatency", 0);
		AV(av_opt_set)(s->enc->priv_data, "profile", "baseline", 0);
		/* SPS/PPS before every IDR, so a receiver can start at any keyframe */
		AV(av_opt_set)(s->enc->priv_data, "x264-params", "repeat-headers=1:bframes=0", 0);
		s->codec = "H264";
	}
	int rc = AV(avcodec_open2)(s->enc, c, NULL);
	if (rc < 0) {
		averr(rc, name, err, errlen);
		return rc;
	}
	s->scaled = AV(av_frame_alloc)();
	s->scaled->format = AV_PIX_FMT_YUV420P;
	s->scaled->width = s->w;
	s->scaled->height = s->h;
	return AV(av_frame_get_buffer)(s->scaled, 0);
}

int rv_media_open(struct rv_media_src **out, const struct rv_media_conf *conf, char *err, size_t errlen)
{
	static int registered;
	int lrc = av_load(err, errlen);
	if (lrc < 0)
		return lrc;
	if (!registered) {
		AV(avdevice_register_all)();
		AV(av_log_set_level)(AV_LOG_ERROR);
		registered = 1;
	}
	struct rv_media_src *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->conf = *conf;
	const AVInputFormat *ifmt = NULL;
	if (conf->format && !(ifmt = AV(av_find_input_format)(conf->format))) {
		snprintf(err, errlen, "unknown input format '%s'", conf->format);
		free(s);
		return -EINVAL;
	}
	const char *input = strcmp(conf->input, "-") ? conf->input : "pipe:0";
	int rc = AV(avformat_open_input)(&s->fc, input, ifmt, NULL);
	if (rc < 0) {
		averr(rc, conf->input, err, errlen);
		free(s);
		return rc;
	}
	if ((rc = AV(avformat_find_stream_info)(s->fc, NULL)) < 0) {
		averr(rc, "reading the input", err, errlen);
		rv_media_close(s);
		return rc;
	}
	const AVCodec *dc = NULL;
	s->vidx = AV(av_find_best_stream)(s->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &dc, 0);
	if (s->vidx < 0) {
		snprintf(err, errlen, "%s has no video", conf->input);
		rv_media_close(s);
		return -ENOENT;
	}
	s->st = s->fc->streams[s->vidx];
	AVRational fr = AV(av_guess_frame_rate)(s->fc, s->st, NULL);
	s->fps = conf->fps > 0 ? conf->fps : fr.num && fr.den ? av_q2d(fr) : 30;
	s->in = AV(av_packet_alloc)();
	s->out = AV(av_packet_alloc)();
	s->frame = AV(av_frame_alloc)();
	if (conf->vcodec == RV_VCODEC_COPY) {
		enum AVCodecID id = s->st->codecpar->codec_id;
		if (id != AV_CODEC_ID_H264 && id != AV_CODEC_ID_VP8) {
			snprintf(err, errlen, "--vcodec copy needs H.264 or VP8 input, not %s", AV(avcodec_get_name)(id));
			rv_media_close(s);
			return -EINVAL;
		}
		s->codec = id == AV_CODEC_ID_H264 ? "H264" : "VP8";
		s->w = s->st->codecpar->width;
		s->h = s->st->codecpar->height;
		if (id == AV_CODEC_ID_H264) {	/* mp4/mkv keep NAL lengths: make them Annex-B */
			const AVBitStreamFilter *f = AV(av_bsf_get_by_name)("h264_mp4toannexb");
			if (!f || AV(av_bsf_alloc)(f, &s->bsf) < 0 ||
			    AV(avcodec_parameters_copy)(s->bsf->par_in, s->st->codecpar) < 0 ||
			    (s->bsf->time_base_in = s->st->time_base, AV(av_bsf_init)(s->bsf)) < 0) {
				snprintf(err, errlen, "cannot set up h264_mp4toannexb");
				rv_media_close(s);
				return -EINVAL;
			}
		}
	} else {
		s->dec = AV(avcodec_alloc_context3)(dc);
		AV(avcodec_parameters_to_context)(s->dec, s->st->codecpar);
		if ((rc = AV(avcodec_open2)(s->dec, dc, NULL)) < 0) {
			averr(rc, "opening the decoder", err, errlen);
			rv_media_close(s);
			return rc;
		}
		s->w = conf->width > 0 ? conf->width : s->dec->width;
		s->h = conf->height > 0 ? conf->height : s->dec->height;
		s->w &= ~1;	/* 4:2:0 wants even sizes */
		s->h &= ~1;
		if ((rc = open_encoder(s, err, errlen)) < 0) {
			rv_media_close(s);
			return rc;
		}
	}
	s->start_ms = mono_ms();
	*out = s;
	return 0;
}

static void b64(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (4 * ((n + 2) / 3) + 1 > cap) {
		out[0] = 0;
		return;
	}
	EVP_EncodeBlock((uint8_t *)out, p, (int)n);
}

/* Remember SPS and PPS (for SDP's sprop-parameter-sets) from a keyframe. */
static void learn_sprop(struct rv_media_src *s, const uint8_t *p, size_t n)
{
	char sps[200] = "", pps[200] = "";
	for (size_t i = 0; i + 3 < n; i++) {
		if (!(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
			continue;
		size_t start = i + 3, end = start;
		while (end + 3 <= n && !(p[end] == 0 && p[end + 1] == 0 && (p[end + 2] == 1 || p[end + 2] == 0)))
			end++;
		if (end + 3 > n)
			end = n;
		int type = p[start] & 0x1F;
		if (type == 7 && end - start < 140)
			b64(p + start, end - start, sps, sizeof sps);
		else if (type == 8 && end - start < 140)
			b64(p + start, end - start, pps, sizeof pps);
		i = end - 1;
	}
	if (sps[0] && pps[0])
		snprintf(s->sprop, sizeof s->sprop, "%s,%s", sps, pps);
}

static uint32_t ts_of(struct rv_media_src *s, int64_t pts, AVRational tb)
{
	if (pts == AV_NOPTS_VALUE)
		return (uint32_t)(s->frames * 90000 / (s->fps > 0 ? s->fps : 30));
	if (!s->have_first) {
		s->first_pts = pts;
		s->have_first = 1;
	}
	return (uint32_t)AV(av_rescale_q)(pts - s->first_pts, tb, (AVRational){ 1, 90000 });
}

/* --re and --duration: wait for the frame's time; 0 when past the end. */
static int pace(struct rv_media_src *s, uint32_t ts)
{
	double t = ts / 90.0;
	if (s->conf.duration > 0 && t >= s->conf.duration * 1000)
		return 0;
	if (s->conf.realtime) {
		double wait = s->start_ms + t - mono_ms();
		if (wait > 0) {
			struct timespec ts2 = { (time_t)(wait / 1000), (long)((wait - (double)(long)(wait / 1000) * 1000) * 1e6) };
			nanosleep(&ts2, NULL);
		}
	}
	return 1;
}

static int emit(struct rv_media_src *s, AVPacket *p, AVRational tb, struct rv_media_frame *f)
{
	f->data = p->data;
	f->len = (size_t)p->size;
	f->keyframe = (p->flags & AV_PKT_FLAG_KEY) != 0;
	f->ts90k = ts_of(s, p->pts, tb);
	if (f->keyframe && !strcmp(s->codec, "H264"))
		learn_sprop(s, p->data, (size_t)p->size);
	s->frames++;
	return pace(s, f->ts90k);
}

int rv_media_next(struct rv_media_src *s, struct rv_media_frame *f)
{
	int rc;
	for (;;) {
		if (s->enc) {	/* an encoded packet waiting? */
			AV(av_packet_unref)(s->out);
			rc = AV(avcodec_receive_packet)(s->enc, s->out);
			if (rc == 0)
				return emit(s, s->out, s->enc->time_base, f);
			if (rc == AVERROR_EOF)
				return 0;
			if (rc != AVERROR(EAGAIN))
				return rc;
			/* a decoded frame waiting? scale it and encode it */
			rc = AV(avcodec_receive_frame)(s->dec, s->frame);
			if (rc == 0) {
				if (!s->sws)
					s->sws = AV(sws_getContext)(s->frame->width, s->frame->height, s->frame->format,
								s->w, s->h, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
								NULL, NULL, NULL);
				if (!s->sws)
					return -EINVAL;
				AV(av_frame_make_writable)(s->scaled);
				AV(sws_scale)(s->sws, (const uint8_t *const *)s->frame->data, s->frame->linesize, 0,
					  s->frame->height, s->scaled->data, s->scaled->linesize);
				int64_t pts = s->frame->best_effort_timestamp;
				s->scaled->pts = pts == AV_NOPTS_VALUE ? s->frames * 90000 / (int64_t)s->fps
								       : AV(av_rescale_q)(pts, s->st->time_base,
										      (AVRational){ 1, 90000 });
				s->scaled->pict_type = atomic_exchange(&s->want_key, 0) ? AV_PICTURE_TYPE_I
											: AV_PICTURE_TYPE_NONE;
				AV(av_frame_unref)(s->frame);
				if ((rc = AV(avcodec_send_frame)(s->enc, s->scaled)) < 0)
					return rc;
				continue;
			}
			if (rc == AVERROR_EOF) {
				if (!s->draining) {
					s->draining = 1;
					AV(avcodec_send_frame)(s->enc, NULL);
				}
				continue;
			}
			if (rc != AVERROR(EAGAIN))
				return rc;
		} else if (s->bsf) {
			AV(av_packet_unref)(s->out);
			rc = AV(av_bsf_receive_packet)(s->bsf, s->out);
			if (rc == 0)
				return emit(s, s->out, s->st->time_base, f);
			if (rc == AVERROR_EOF)
				return 0;
		}
		if (s->eof) {
			if (!s->enc && !s->bsf)
				return 0;
			continue;
		}
		/* read more input */
		AV(av_packet_unref)(s->in);
		rc = AV(av_read_frame)(s->fc, s->in);
		if (rc < 0) {
			s->eof = 1;
			if (s->dec)
				AV(avcodec_send_packet)(s->dec, NULL);
			else if (s->bsf)
				AV(av_bsf_send_packet)(s->bsf, NULL);
			continue;
		}
		if (s->in->stream_index != s->vidx)
			continue;
		if (s->dec) {
			if ((rc = AV(avcodec_send_packet)(s->dec, s->in)) < 0 && rc != AVERROR(EAGAIN))
				continue;	/* a damaged packet: skip it */
		} else if (s->bsf) {
			AV(av_bsf_send_packet)(s->bsf, s->in);
		} else {	/* VP8 passes as it is */
			AV(av_packet_ref)(s->out, s->in);
			return emit(s, s->out, s->st->time_base, f);
		}
	}
}

void rv_media_request_keyframe(struct rv_media_src *s)
{
	s->want_key = 1;
}

const char *rv_media_codec(const struct rv_media_src *s)
{
	return s->codec;
}

void rv_media_size(const struct rv_media_src *s, int *w, int *h, double *fps)
{
	*w = s->w;
	*h = s->h;
	*fps = s->fps;
}

const char *rv_media_sprop(const struct rv_media_src *s)
{
	return s->sprop;
}

void rv_media_close(struct rv_media_src *s)
{
	if (!s)
		return;
	AV(sws_freeContext)(s->sws);
	AV(av_frame_free)(&s->frame);
	AV(av_frame_free)(&s->scaled);
	AV(av_packet_free)(&s->in);
	AV(av_packet_free)(&s->out);
	AV(av_bsf_free)(&s->bsf);
	AV(avcodec_free_context)(&s->dec);
	AV(avcodec_free_context)(&s->enc);
	AV(avformat_close_input)(&s->fc);
	free(s);
}

/* ---- sinks ---- */

struct rv_media_sink {
	AVFormatContext *oc;
	AVStream *st;
	AVPacket *pkt;
	int h264, started;
	uint32_t first_ts;
	int64_t last_pts;
};

/* SPS and PPS, as Annex-B, for the stream's extradata. */
static size_t annexb_params(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i + 3 < n; i++) {
		if (!(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
			continue;
		size_t start = i + 3, end = start;
		while (end + 3 <= n && !(p[end] == 0 && p[end + 1] == 0 && (p[end + 2] == 1 || p[end + 2] == 0)))
			end++;
		if (end + 3 > n)
			end = n;
		int type = p[start] & 0x1F;
		if ((type == 7 || type == 8) && o + 4 + (end - start) <= cap) {
			memcpy(out + o, "\0\0\0\1", 4);
			memcpy(out + o + 4, p + start, end - start);
			o += 4 + (end - start);
		}
		i = end - 1;
	}
	return o;
}

int rv_media_sink_open(struct rv_media_sink **out, const char *path, const char *format,
		       const char *codec, int w, int h, char *err, size_t errlen)
{
	int lrc = av_load(err, errlen);
	if (lrc < 0)
		return lrc;
	struct rv_media_sink *k = calloc(1, sizeof *k);
	if (!k)
		return -ENOMEM;
	const char *target = strcmp(path, "-") ? path : "pipe:1";
	if (!format && !strcmp(path, "-"))
		format = "matroska";
	int rc = AV(avformat_alloc_output_context2)(&k->oc, NULL, format, target);
	if (rc < 0 || !k->oc) {	/* an unknown extension: Matroska */
		rc = AV(avformat_alloc_output_context2)(&k->oc, NULL, "matroska", target);
		if (rc < 0) {
			averr(rc, path, err, errlen);
			free(k);
			return rc;
		}
	}
	k->h264 = !strcmp(codec, "H264");
	k->st = AV(avformat_new_stream)(k->oc, NULL);
	k->st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
	k->st->codecpar->codec_id = k->h264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8;
	k->st->codecpar->width = w;
	k->st->codecpar->height = h;
	k->st->time_base = (AVRational){ 1, 90000 };
	k->pkt = AV(av_packet_alloc)();
	*out = k;
	return 0;
}

/* The header goes out with the first keyframe, once H.264's SPS and PPS are known. */
static int sink_start(struct rv_media_sink *k, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	if (k->h264) {
		uint8_t params[1024];
		size_t n = annexb_params(data, len, params, sizeof params);
		if (n) {
			k->st->codecpar->extradata = AV(av_mallocz)(n + AV_INPUT_BUFFER_PADDING_SIZE);
			memcpy(k->st->codecpar->extradata, params, n);
			k->st->codecpar->extradata_size = (int)n;
		}
	}
	AVDictionary *o = NULL;
	if (!strcmp(k->oc->oformat->name, "matroska") || !strcmp(k->oc->oformat->name, "webm")) {
		AV(av_dict_set)(&o, "cluster_time_limit", "1000", 0);	/* crash-safe to about a second */
		AV(av_dict_set)(&o, "live", "1", 0);
	}
	if (!strcmp(k->oc->oformat->name, "mp4"))
		AV(av_dict_set)(&o, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
	k->oc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
	int rc = 0;
	if (!(k->oc->oformat->flags & AVFMT_NOFILE))
		rc = AV(avio_open)(&k->oc->pb, k->oc->url, AVIO_FLAG_WRITE);
	if (rc >= 0)
		rc = AV(avformat_write_header)(k->oc, &o);
	AV(av_dict_free)(&o);
	if (rc < 0)
		averr(rc, k->oc->url, err, errlen);
	else
		k->started = 1;
	return rc;
}

int rv_media_sink_write(struct rv_media_sink *k, const uint8_t *data, size_t len, uint32_t ts90k, int key)
{
	char err[160];
	if (!k->started) {
		if (!key)
			return 0;	/* a file starts at a keyframe */
		int rc = sink_start(k, data, len, err, sizeof err);
		if (rc < 0)
			return rc;
		k->first_ts = ts90k;
		k->last_pts = -1;
	}
	int64_t pts = (int64_t)(uint32_t)(ts90k - k->first_ts);
	if (pts <= k->last_pts)
		pts = k->last_pts + 1;	/* strictly increasing for the muxer */
	k->last_pts = pts;
	AV(av_packet_unref)(k->pkt);
	if (AV(av_new_packet)(k->pkt, (int)len) < 0)
		return -ENOMEM;
	memcpy(k->pkt->data, data, len);
	k->pkt->pts = k->pkt->dts = AV(av_rescale_q)(pts, (AVRational){ 1, 90000 }, k->st->time_base);
	k->pkt->stream_index = 0;
	if (key)
		k->pkt->flags |= AV_PKT_FLAG_KEY;
	return AV(av_interleaved_write_frame)(k->oc, k->pkt);
}

int rv_media_sink_close(struct rv_media_sink *k)
{
	int rc = 0;
	if (!k)
		return 0;
	if (k->started)
		rc = AV(av_write_trailer)(k->oc);
	if (k->oc && !(k->oc->oformat->flags & AVFMT_NOFILE))
		AV(avio_closep)(&k->oc->pb);
	AV(av_packet_free)(&k->pkt);
	AV(avformat_free_context)(k->oc);
	free(k);
	return rc;
}
