/* media.c - media sources on FFmpeg (see media.h): one input, its video
 * and its audio, each decoded and encoded (or copied), in input order. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "av.h"
#include "err.h"
#include "media.h"
#include "rtp.h"

#define OPUS_RATE 48000
#define OPUS_CHANNELS 2
#define G711_RATE 8000
#define G711_FRAME 160                  /* 20 ms */

struct video {
	int idx;
	AVStream *st;
	AVCodecContext *dec, *enc;
	AVBSFContext *bsf;              /* copy of H.264: to Annex-B */
	struct SwsContext *sws;
	AVFrame *frame, *scaled;
	int w, h;
	double fps;
	int64_t frames;
	int draining, done;
	atomic_int want_key;            /* set from another thread (RTCP, the server) */
	char sprop[512];
	const char *codec;
};

struct audio {
	int idx;
	AVStream *st;
	AVCodecContext *dec, *enc;      /* enc NULL: Opus copied as it is */
	SwrContext *swr;
	AVAudioFifo *fifo;
	AVFrame *frame, *chunk;
	int64_t next;                   /* the next chunk's time, in RATE */
	int rate, channels;             /* what the encoder takes: Opus 48 kHz stereo, G.711 8 kHz mono */
	int started, draining, flushed, done;
	int16_t pcm[2 * OPUS_RATE];     /* one resampled frame */
};

struct rv_media_src {
	struct rv_media_conf conf;
	AVFormatContext *fc;
	struct video v;
	struct audio a;
	int has_v, has_a;
	AVPacket *in, *out;
	int eof;
	int64_t origin_us;              /* the input's first timestamp: time 0 */
	int have_origin, clock_started;
	double start_ms;
	double read_deadline_ms;        /* idle_timeout: a read still waiting then is stopped (0: none) */
	int idle;                       /* the input ended so */
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int open_video_encoder(struct video *v, const struct rv_media_conf *conf, char *err, size_t errlen)
{
	const char *name = conf->vcodec == RV_VCODEC_VP8 ? "libvpx" : "libx264";
	const AVCodec *c = AV(avcodec_find_encoder_by_name)(name);
	if (!c) {
		snprintf(err, errlen, "this FFmpeg has no %s encoder", name);
		return -ENOENT;
	}
	v->enc = AV(avcodec_alloc_context3)(c);
	v->enc->width = v->w;
	v->enc->height = v->h;
	v->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	v->enc->time_base = (AVRational){ 1, 90000 };
	v->enc->framerate = (AVRational){ (int)(v->fps * 1000), 1000 };
	v->enc->gop_size = conf->gop > 0 ? conf->gop : (int)(2 * v->fps);
	v->enc->max_b_frames = 0;
	v->enc->bit_rate = conf->bitrate > 0 ? conf->bitrate : 1000000;
	if (conf->vcodec == RV_VCODEC_VP8) {
		AV(av_opt_set)(v->enc->priv_data, "deadline", "realtime", 0);
		AV(av_opt_set_int)(v->enc->priv_data, "cpu-used", 8, 0);
		AV(av_opt_set_int)(v->enc->priv_data, "lag-in-frames", 0, 0);
		AV(av_opt_set_int)(v->enc->priv_data, "error-resilient", 1, 0);
		v->codec = "VP8";
	} else {
		AV(av_opt_set)(v->enc->priv_data, "preset", "veryfast", 0);
		AV(av_opt_set)(v->enc->priv_data, "tune", "zerolatency", 0);
		AV(av_opt_set)(v->enc->priv_data, "profile", "baseline", 0);
		/* SPS/PPS before every IDR, so a receiver can start at any keyframe */
		AV(av_opt_set)(v->enc->priv_data, "x264-params", "repeat-headers=1:bframes=0", 0);
		v->codec = "H264";
	}
	int rc = AV(avcodec_open2)(v->enc, c, NULL);
	if (rc < 0) {
		rv_av_err(rc, name, err, errlen);
		return rc;
	}
	v->scaled = AV(av_frame_alloc)();
	v->scaled->format = AV_PIX_FMT_YUV420P;
	v->scaled->width = v->w;
	v->scaled->height = v->h;
	return AV(av_frame_get_buffer)(v->scaled, 0);
}


static int open_audio(struct rv_media_src *s, const AVCodec *dc, char *err, size_t errlen)
{
	struct audio *a = &s->a;
	int rc;
	a->rate = s->conf.acodec == RV_ACODEC_PCMU || s->conf.acodec == RV_ACODEC_PCMA ? G711_RATE : OPUS_RATE;
	a->channels = a->rate == OPUS_RATE ? OPUS_CHANNELS : 1;
	if (s->conf.acodec == RV_ACODEC_COPY) {
		if (a->st->codecpar->codec_id != AV_CODEC_ID_OPUS) {
			snprintf(err, errlen, "--acodec copy needs Opus input, not %s",
				 AV(avcodec_get_name)(a->st->codecpar->codec_id));
			return -EINVAL;
		}
		return 0;
	}
	a->dec = AV(avcodec_alloc_context3)(dc);
	AV(avcodec_parameters_to_context)(a->dec, a->st->codecpar);
	if ((rc = AV(avcodec_open2)(a->dec, dc, NULL)) < 0) {
		rv_av_err(rc, "opening the audio decoder", err, errlen);
		return rc;
	}
	int opus = s->conf.acodec == RV_ACODEC_OPUS;
	const char *name = opus ? "libopus" : s->conf.acodec == RV_ACODEC_PCMU ? "pcm_mulaw" : "pcm_alaw";
	const AVCodec *c = AV(avcodec_find_encoder_by_name)(name);
	if (!c) {
		snprintf(err, errlen, "this FFmpeg has no %s encoder", name);
		return -ENOENT;
	}
	a->enc = AV(avcodec_alloc_context3)(c);
	a->enc->sample_rate = a->rate;
	a->enc->sample_fmt = AV_SAMPLE_FMT_S16;
	AV(av_channel_layout_default)(&a->enc->ch_layout, a->channels);
	if (opus)
		a->enc->bit_rate = s->conf.abitrate > 0 ? s->conf.abitrate : 64000;
	a->enc->time_base = (AVRational){ 1, a->rate };
	if ((rc = AV(avcodec_open2)(a->enc, c, NULL)) < 0) {
		rv_av_err(rc, name, err, errlen);
		return rc;
	}
	if (a->dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
		AV(av_channel_layout_default)(&a->dec->ch_layout, a->dec->ch_layout.nb_channels > 0
								  ? a->dec->ch_layout.nb_channels : 1);
	if ((rc = AV(swr_alloc_set_opts2)(&a->swr, &a->enc->ch_layout, AV_SAMPLE_FMT_S16, a->rate,
					  &a->dec->ch_layout, a->dec->sample_fmt, a->dec->sample_rate, 0, NULL)) < 0 ||
	    (rc = AV(swr_init)(a->swr)) < 0) {
		rv_av_err(rc, "setting up the resampler", err, errlen);
		return rc;
	}
	a->fifo = AV(av_audio_fifo_alloc)(AV_SAMPLE_FMT_S16, a->channels, a->rate);
	a->frame = AV(av_frame_alloc)();
	a->chunk = AV(av_frame_alloc)();
	if (!a->fifo || !a->frame || !a->chunk)
		return -ENOMEM;
	a->chunk->nb_samples = a->enc->frame_size > 0 ? a->enc->frame_size : opus ? 960 : G711_FRAME;
	a->chunk->format = AV_SAMPLE_FMT_S16;
	a->chunk->sample_rate = a->rate;
	AV(av_channel_layout_default)(&a->chunk->ch_layout, a->channels);
	return AV(av_frame_get_buffer)(a->chunk, 0);
}

static int open_video(struct rv_media_src *s, const AVCodec *dc, char *err, size_t errlen)
{
	struct video *v = &s->v;
	const struct rv_media_conf *conf = &s->conf;
	int rc;
	AVRational fr = AV(av_guess_frame_rate)(s->fc, v->st, NULL);
	v->fps = conf->fps > 0 ? conf->fps : fr.num && fr.den ? av_q2d(fr) : 30;
	if (conf->vcodec == RV_VCODEC_COPY) {
		enum AVCodecID id = v->st->codecpar->codec_id;
		if (id != AV_CODEC_ID_H264 && id != AV_CODEC_ID_VP8) {
			snprintf(err, errlen, "--vcodec copy needs H.264 or VP8 input, not %s", AV(avcodec_get_name)(id));
			return -EINVAL;
		}
		v->codec = id == AV_CODEC_ID_H264 ? "H264" : "VP8";
		v->w = v->st->codecpar->width;
		v->h = v->st->codecpar->height;
		if (id == AV_CODEC_ID_H264) {	/* mp4/mkv keep NAL lengths: make them Annex-B */
			const AVBitStreamFilter *f = AV(av_bsf_get_by_name)("h264_mp4toannexb");
			if (!f || AV(av_bsf_alloc)(f, &v->bsf) < 0 ||
			    AV(avcodec_parameters_copy)(v->bsf->par_in, v->st->codecpar) < 0 ||
			    (v->bsf->time_base_in = v->st->time_base, AV(av_bsf_init)(v->bsf)) < 0) {
				snprintf(err, errlen, "cannot set up h264_mp4toannexb");
				return -EINVAL;
			}
		}
		return 0;
	}
	v->dec = AV(avcodec_alloc_context3)(dc);
	AV(avcodec_parameters_to_context)(v->dec, v->st->codecpar);
	if ((rc = AV(avcodec_open2)(v->dec, dc, NULL)) < 0) {
		rv_av_err(rc, "opening the decoder", err, errlen);
		return rc;
	}
	v->w = conf->width > 0 ? conf->width : v->dec->width;
	v->h = conf->height > 0 ? conf->height : v->dec->height;
	v->w &= ~1;	/* 4:2:0 wants even sizes */
	v->h &= ~1;
	v->frame = AV(av_frame_alloc)();
	return open_video_encoder(v, conf, err, errlen);
}

/* FFmpeg's interrupt callback: stops a read that waited past the
 * deadline, and any wait once the stop flag is up. */
static int interrupted(void *ud)
{
	const struct rv_media_src *s = ud;
	return (s->conf.stop && atomic_load(s->conf.stop)) ||
	       (s->read_deadline_ms > 0 && mono_ms() > s->read_deadline_ms);
}

/* idle_timeout: the reads from now on may wait N idle timeouts; 0: the reads are over. */
static void wait_reads(struct rv_media_src *s, int n)
{
	s->read_deadline_ms = n && s->conf.idle_timeout > 0 ? mono_ms() + n * s->conf.idle_timeout * 1000 : 0;
}

/* avformat_open_input on CONF's input; with listen, RTMP's listen mode
 * and its wait for the publisher ("timeout", in whole seconds). */
static int open_input(struct rv_media_src *s, const AVInputFormat *ifmt, char *err, size_t errlen)
{
	const struct rv_media_conf *conf = &s->conf;
	AVDictionary *opts = NULL;
	int rc;
	if (!(s->fc = AV(avformat_alloc_context)())) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->fc->interrupt_callback = (AVIOInterruptCB){ interrupted, s };
	if (conf->listen) {
		char secs[32];
		snprintf(secs, sizeof secs, "%lld",
			 conf->listen_timeout > 0 ? (long long)(conf->listen_timeout + 0.999) : -1LL);
		AV(av_dict_set)(&opts, "listen", "1", 0);
		AV(av_dict_set)(&opts, "timeout", secs, 0);
		/* live: probe half a second, not FFmpeg's 5 s of stream time */
		AV(av_dict_set)(&opts, "analyzeduration", "500000", 0);
	}
	const char *input = strcmp(conf->input, "-") ? conf->input : "pipe:0";
	rc = AV(avformat_open_input)(&s->fc, input, ifmt, &opts);	/* frees fc on failure */
	AV(av_dict_free)(&opts);
	if (rc < 0)
		rv_av_err(rc, conf->input, err, errlen);
	return rc;
}

int rv_media_open(struct rv_media_src **out, const struct rv_media_conf *conf, char *err, size_t errlen)
{
	static int registered;
	int rc = rv_av_load(err, errlen);
	if (rc < 0)
		return rc;
	if (!registered) {
		AV(avdevice_register_all)();
		AV(av_log_set_level)(AV_LOG_ERROR);
		registered = 1;
	}
	struct rv_media_src *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->conf = *conf;
	s->v.idx = s->a.idx = -1;
	const AVInputFormat *ifmt = NULL;
	if (conf->format && !(ifmt = AV(av_find_input_format)(conf->format))) {
		snprintf(err, errlen, "unknown input format '%s'", conf->format);
		free(s);
		return -EINVAL;
	}
	if ((rc = open_input(s, ifmt, err, errlen)) < 0) {
		free(s);
		return rc;
	}
	wait_reads(s, 2);	/* probing reads for a while */
	rc = AV(avformat_find_stream_info)(s->fc, NULL);
	wait_reads(s, 0);
	if (rc < 0) {
		rv_av_err(rc, "reading the input", err, errlen);
		rv_media_close(s);
		return rc;
	}
	s->in = AV(av_packet_alloc)();
	s->out = AV(av_packet_alloc)();
	const AVCodec *vdc = NULL, *adc = NULL;
	if (conf->vcodec != RV_VCODEC_NONE &&
	    (s->v.idx = AV(av_find_best_stream)(s->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &vdc, 0)) >= 0) {
		s->has_v = 1;
		s->v.st = s->fc->streams[s->v.idx];
		if ((rc = open_video(s, vdc, err, errlen)) < 0) {
			rv_media_close(s);
			return rc;
		}
	}
	if (conf->acodec != RV_ACODEC_NONE &&
	    (s->a.idx = AV(av_find_best_stream)(s->fc, AVMEDIA_TYPE_AUDIO, -1, -1, &adc, 0)) >= 0) {
		s->has_a = 1;
		s->a.st = s->fc->streams[s->a.idx];
		if ((rc = open_audio(s, adc, err, errlen)) < 0) {
			rv_media_close(s);
			return rc;
		}
	}
	if (!s->has_v && !s->has_a) {
		snprintf(err, errlen, "%s has no %s", conf->input,
			 conf->vcodec == RV_VCODEC_NONE ? "audio" : conf->acodec == RV_ACODEC_NONE ? "video"
											: "video or audio");
		rv_media_close(s);
		return -ENOENT;
	}
	s->v.done = !s->has_v;
	s->a.done = !s->has_a;
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
static void learn_sprop(struct video *v, const uint8_t *p, size_t n)
{
	char sps[200] = "", pps[200] = "";
	size_t pos = 0, len;
	const uint8_t *nal;
	while (rv_h264_next_nal(p, n, &pos, &nal, &len)) {
		int type = nal[0] & 0x1F;
		if (type == 7 && len < 140)
			b64(nal, len, sps, sizeof sps);
		else if (type == 8 && len < 140)
			b64(nal, len, pps, sizeof pps);
	}
	if (sps[0] && pps[0])
		snprintf(v->sprop, sizeof v->sprop, "%s,%s", sps, pps);
}

/* A time in stream time base TB as microseconds since the input's start. */
static int64_t since_origin(struct rv_media_src *s, int64_t pts, AVRational tb)
{
	if (pts == AV_NOPTS_VALUE)
		return 0;
	int64_t us = AV(av_rescale_q)(pts, tb, (AVRational){ 1, 1000000 });
	if (!s->have_origin) {
		s->origin_us = us;
		s->have_origin = 1;
	}
	return us - s->origin_us;
}

/* --re and --duration: wait for the frame's time; 0 when past the end. */
static int pace(struct rv_media_src *s, double t_ms)
{
	if (s->conf.duration > 0 && t_ms >= s->conf.duration * 1000)
		return 0;
	if (s->conf.realtime) {
		double wait = s->start_ms + t_ms - mono_ms();
		if (wait > 0) {
			struct timespec ts = { (time_t)(wait / 1000), (long)((wait - (double)(long)(wait / 1000) * 1000) * 1e6) };
			nanosleep(&ts, NULL);
		}
	}
	return 1;
}

static int emit_video(struct rv_media_src *s, AVPacket *p, uint32_t ts, struct rv_media_frame *f)
{
	f->data = p->data;
	f->len = (size_t)p->size;
	f->keyframe = (p->flags & AV_PKT_FLAG_KEY) != 0;
	f->audio = 0;
	f->ts = ts;
	if (f->keyframe && !strcmp(s->v.codec, "H264"))
		learn_sprop(&s->v, p->data, (size_t)p->size);
	s->v.frames++;
	return pace(s, ts / 90.0);
}

static int emit_audio(struct rv_media_src *s, AVPacket *p, uint32_t ts, struct rv_media_frame *f)
{
	f->data = p->data;
	f->len = (size_t)p->size;
	f->keyframe = 1;
	f->audio = 1;
	f->ts = ts;
	return pace(s, (int32_t)ts / (s->a.rate / 1000.0));
}

/* A decoded video frame: scale it and hand it to the encoder. */
static int encode_video(struct rv_media_src *s)
{
	struct video *v = &s->v;
	int64_t pts = v->frame->best_effort_timestamp;
	pts = pts == AV_NOPTS_VALUE ? (int64_t)(v->frames * 90000 / v->fps) : since_origin(s, pts, v->st->time_base) * 9 / 100;
	int key = atomic_exchange(&v->want_key, 0);
	if (v->frame->format == AV_PIX_FMT_YUV420P && v->frame->width == v->w && v->frame->height == v->h) {
		/* already what the encoder takes: no scaling, no copy */
		v->frame->pts = pts;
		v->frame->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
		int rc = AV(avcodec_send_frame)(v->enc, v->frame);
		AV(av_frame_unref)(v->frame);
		return rc;
	}
	if (!v->sws)
		v->sws = AV(sws_getContext)(v->frame->width, v->frame->height, v->frame->format, v->w, v->h,
					    AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (!v->sws)
		return -EINVAL;
	AV(av_frame_make_writable)(v->scaled);
	AV(sws_scale)(v->sws, (const uint8_t *const *)v->frame->data, v->frame->linesize, 0, v->frame->height,
		      v->scaled->data, v->scaled->linesize);
	v->scaled->pts = pts;
	v->scaled->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	AV(av_frame_unref)(v->frame);
	return AV(avcodec_send_frame)(v->enc, v->scaled);
}

/* A decoded audio frame: resample it to the encoder's rate and channels,
 * queue it, and hand the encoder every whole 20 ms it makes. At the end,
 * the rest padded. */
static int encode_audio(struct rv_media_src *s, int flush)
{
	struct audio *a = &s->a;
	int rc;
	if (!flush) {
		if (!a->started) {
			int64_t pts = a->frame->best_effort_timestamp;
			a->next = pts == AV_NOPTS_VALUE ? 0 : since_origin(s, pts, a->st->time_base) * (a->rate / 1000) / 1000;
			a->started = 1;
		}
		uint8_t *outp[1] = { (uint8_t *)a->pcm };
		int n = AV(swr_convert)(a->swr, outp, OPUS_RATE, (const uint8_t **)a->frame->extended_data,
					a->frame->nb_samples);
		AV(av_frame_unref)(a->frame);
		if (n < 0)
			return n;
		if (n && AV(av_audio_fifo_write)(a->fifo, (void **)outp, n) < n)
			return -ENOMEM;
	}
	int size = a->chunk->nb_samples, have = AV(av_audio_fifo_size)(a->fifo);
	if (have < size && !(flush && have > 0))
		return 0;
	if ((rc = AV(av_frame_make_writable)(a->chunk)) < 0)
		return rc;
	memset(a->chunk->data[0], 0, (size_t)size * (size_t)a->channels * sizeof(int16_t));
	AV(av_audio_fifo_read)(a->fifo, (void **)a->chunk->data, have < size ? have : size);
	a->chunk->pts = a->next;
	a->next += size;
	return AV(avcodec_send_frame)(a->enc, a->chunk);
}

/* Feed one input packet to its decoder or filter; 1 when it is a frame to emit as it is. */
static int feed(struct rv_media_src *s, AVPacket *p, struct rv_media_frame *f, int *rc)
{
	if (s->has_v && p->stream_index == s->v.idx) {
		struct video *v = &s->v;
		if (v->dec) {
			AV(avcodec_send_packet)(v->dec, p);	/* a damaged packet is skipped */
		} else if (v->bsf) {
			AV(av_bsf_send_packet)(v->bsf, p);
		} else {	/* VP8 passes as it is */
			AV(av_packet_ref)(s->out, p);
			*rc = emit_video(s, s->out, (uint32_t)(since_origin(s, p->pts, v->st->time_base) * 9 / 100), f);
			return 1;
		}
	} else if (s->has_a && p->stream_index == s->a.idx) {
		struct audio *a = &s->a;
		if (a->dec) {
			AV(avcodec_send_packet)(a->dec, p);
		} else {	/* Opus passes as it is */
			AV(av_packet_ref)(s->out, p);
			*rc = emit_audio(s, s->out, (uint32_t)(since_origin(s, p->pts, a->st->time_base) * 48 / 1000), f);
			return 1;
		}
	}
	return 0;
}

uint32_t rv_media_clock(const struct rv_media_src *s, uint32_t clock)
{
	double ms = s->clock_started ? mono_ms() - s->start_ms : 0;
	return (uint32_t)(int64_t)(ms * clock / 1000.0);
}

int rv_media_next(struct rv_media_src *s, struct rv_media_frame *f)
{
	struct video *v = &s->v;
	struct audio *a = &s->a;
	int rc;
	if (!s->clock_started) {	/* --re counts from the first frame asked for */
		s->start_ms = mono_ms();
		s->clock_started = 1;
	}
	for (;;) {
		/* encoded video waiting? */
		if (!v->done && (v->enc || v->bsf)) {
			AV(av_packet_unref)(s->out);
			rc = v->enc ? AV(avcodec_receive_packet)(v->enc, s->out) : AV(av_bsf_receive_packet)(v->bsf, s->out);
			if (rc == 0) {
				uint32_t ts = v->enc ? (uint32_t)s->out->pts
						     : (uint32_t)(since_origin(s, s->out->pts, v->st->time_base) * 9 / 100);
				return emit_video(s, s->out, ts, f);
			}
			if (rc == AVERROR_EOF)
				v->done = 1;
			else if (rc != AVERROR(EAGAIN))
				return rc;
		}
		/* encoded audio waiting? */
		if (!a->done && a->enc) {
			AV(av_packet_unref)(s->out);
			rc = AV(avcodec_receive_packet)(a->enc, s->out);
			if (rc == 0)
				return emit_audio(s, s->out, (uint32_t)s->out->pts, f);
			if (rc == AVERROR_EOF)
				a->done = 1;
			else if (rc != AVERROR(EAGAIN))
				return rc;
		}
		/* decoded video waiting? */
		if (!v->done && v->dec) {
			rc = AV(avcodec_receive_frame)(v->dec, v->frame);
			if (rc == 0) {
				if ((rc = encode_video(s)) < 0)
					return rc;
				continue;
			}
			if (rc == AVERROR_EOF && !v->draining) {
				v->draining = 1;
				AV(avcodec_send_frame)(v->enc, NULL);
				continue;
			}
			if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
				return rc;
		}
		/* decoded audio waiting? */
		if (!a->done && a->dec) {
			rc = AV(avcodec_receive_frame)(a->dec, a->frame);
			if (rc == 0) {
				if ((rc = encode_audio(s, 0)) < 0 && rc != AVERROR(EAGAIN))
					return rc;
				continue;
			}
			if (rc == AVERROR_EOF && !a->draining) {
				if (AV(av_audio_fifo_size)(a->fifo) > 0) {	/* the last partial frame */
					encode_audio(s, 1);
					continue;
				}
				a->draining = 1;
				AV(avcodec_send_frame)(a->enc, NULL);
				continue;
			}
			if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
				return rc;
		}
		if (s->eof) {
			if ((v->done || !(v->enc || v->bsf)) && (a->done || !a->enc))
				return 0;
			continue;
		}
		AV(av_packet_unref)(s->in);
		wait_reads(s, 1);
		rc = AV(av_read_frame)(s->fc, s->in);
		wait_reads(s, 0);
		if (rc < 0) {	/* the end: flush what is in the decoders */
			s->eof = 1;
			s->idle = rc == AVERROR_EXIT;
			if (v->dec)
				AV(avcodec_send_packet)(v->dec, NULL);
			else if (v->bsf)
				AV(av_bsf_send_packet)(v->bsf, NULL);
			if (a->dec)
				AV(avcodec_send_packet)(a->dec, NULL);
			continue;
		}
		if (feed(s, s->in, f, &rc))
			return rc;
	}
}

void rv_media_request_keyframe(struct rv_media_src *s)
{
	atomic_store(&s->v.want_key, 1);
}

const char *rv_media_codec(const struct rv_media_src *s)
{
	return s->has_v ? s->v.codec : NULL;
}

void rv_media_size(const struct rv_media_src *s, int *w, int *h, double *fps)
{
	*w = s->v.w;
	*h = s->v.h;
	*fps = s->v.fps;
}

int rv_media_has_audio(const struct rv_media_src *s)
{
	return s->has_a;
}

const char *rv_media_audio_codec(enum rv_acodec acodec)
{
	return acodec == RV_ACODEC_PCMU ? "PCMU" : acodec == RV_ACODEC_PCMA ? "PCMA" : "opus";
}

uint32_t rv_media_audio_clock(enum rv_acodec acodec)
{
	return acodec == RV_ACODEC_PCMU || acodec == RV_ACODEC_PCMA ? G711_RATE : OPUS_RATE;
}

int rv_media_audio_channels(enum rv_acodec acodec)
{
	return acodec == RV_ACODEC_PCMU || acodec == RV_ACODEC_PCMA ? 1 : OPUS_CHANNELS;
}

int rv_media_idle(const struct rv_media_src *s)
{
	return s->idle;
}

const char *rv_media_sprop(const struct rv_media_src *s)
{
	return s->v.sprop;
}

void rv_media_close(struct rv_media_src *s)
{
	if (!s)
		return;
	AV(sws_freeContext)(s->v.sws);
	AV(av_frame_free)(&s->v.frame);
	AV(av_frame_free)(&s->v.scaled);
	AV(av_bsf_free)(&s->v.bsf);
	AV(avcodec_free_context)(&s->v.dec);
	AV(avcodec_free_context)(&s->v.enc);
	AV(swr_free)(&s->a.swr);
	if (s->a.fifo)
		AV(av_audio_fifo_free)(s->a.fifo);
	AV(av_frame_free)(&s->a.frame);
	AV(av_frame_free)(&s->a.chunk);
	AV(avcodec_free_context)(&s->a.dec);
	AV(avcodec_free_context)(&s->a.enc);
	AV(av_packet_free)(&s->in);
	AV(av_packet_free)(&s->out);
	AV(avformat_close_input)(&s->fc);
	free(s);
}
