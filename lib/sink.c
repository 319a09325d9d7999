/* sink.c - received frames into a container without re-encoding (see media.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av.h"
#include "media.h"
#include "rtp.h"

#define RV_SINK_MAX_REORDER 16     /* H.264's largest picture buffer */

struct rv_media_sink {
	AVFormatContext *oc;
	AVStream *st[2];              /* video, audio (either may be NULL) */
	AVPacket *pkt;
	int h264, started;
	int64_t base_us;              /* the first video keyframe's time */
	int64_t last_pts[2];          /* audio: the last pts */
	/* Video decode times from presentation times, as FFmpeg's demuxers
	 * derive them when a stream (RTP) carries only the latter: the REORDER+1
	 * largest pts seen so far, sorted; each frame's dts is the smallest
	 * once its pts is in (libavformat's pts_buffer). */
	int reorder;
	int64_t ptsbuf[RV_SINK_MAX_REORDER + 1];
	int64_t last_dts;
};

/* SPS and PPS, as Annex-B, for the stream's extradata. */
static size_t annexb_params(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0, pos = 0, len;
	const uint8_t *nal;
	while (rv_h264_next_nal(p, n, &pos, &nal, &len)) {
		int type = nal[0] & 0x1F;
		if ((type == 7 || type == 8) && o + 4 + len <= cap) {
			memcpy(out + o, "\0\0\0\1", 4);
			memcpy(out + o + 4, nal, len);
			o += 4 + len;
		}
	}
	return o;
}

/* Whether the access unit at P holds both an SPS and a PPS. */
static int has_params(const uint8_t *p, size_t n)
{
	size_t pos = 0, len;
	const uint8_t *nal;
	int seen = 0;
	while (rv_h264_next_nal(p, n, &pos, &nal, &len))
		if (len)
			seen |= (nal[0] & 0x1F) == 7 ? 1 : (nal[0] & 0x1F) == 8 ? 2 : 0;
	return seen == 3;
}

static void set_extradata(AVCodecParameters *par, const uint8_t *p, size_t n)
{
	par->extradata = AV(av_mallocz)(n + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!par->extradata)
		return;
	memcpy(par->extradata, p, n);
	par->extradata_size = (int)n;
}

/* Opus in Matroska, WebM and MP4 wants its identification header
 * (RFC 7845 5.1): version 1, channels, pre-skip 312, 48 kHz, no gain,
 * mapping family 0. */
static void opus_head(AVCodecParameters *par, int channels)
{
	uint8_t h[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, (uint8_t)channels,
			  0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0 };
	set_extradata(par, h, sizeof h);
	par->initial_padding = 312;
}

int rv_media_load(char *err, size_t errlen)
{
	return rv_av_load(err, errlen);
}

int rv_media_sink_open(struct rv_media_sink **out, const char *path, const char *format,
		       const struct rv_media_track *video, const struct rv_media_track *audio,
		       char *err, size_t errlen)
{
	int lrc = rv_av_load(err, errlen);
	if (lrc < 0)
		return lrc;
	/* FFmpeg's warnings (fMP4: "estimating the duration of the last
	 * packet in a fragment", every second) are not the user's business */
	AV(av_log_set_level)(AV_LOG_ERROR);
	struct rv_media_sink *k = calloc(1, sizeof *k);
	if (!k)
		return -ENOMEM;
	const char *target = strcmp(path, "-") ? path : "pipe:1";
	int g711 = audio && (!strcmp(audio->codec, "PCMU") || !strcmp(audio->codec, "PCMA"));
	if (!format && !strcmp(path, "-"))
		format = "matroska";
	int rc = AV(avformat_alloc_output_context2)(&k->oc, NULL, format, target);
	if (rc < 0 || !k->oc) {	/* an unknown extension: Matroska */
		rc = AV(avformat_alloc_output_context2)(&k->oc, NULL, "matroska", target);
		if (rc < 0) {
			rv_av_err(rc, path, err, errlen);
			free(k);
			return rc;
		}
	}
	if (video) {
		k->h264 = !strcmp(video->codec, "H264");
		AVStream *v = k->st[0] = AV(avformat_new_stream)(k->oc, NULL);
		v->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
		v->codecpar->codec_id = k->h264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8;
		v->codecpar->width = video->width;
		v->codecpar->height = video->height;
		v->time_base = (AVRational){ 1, 90000 };
	}
	if (audio && g711 && strcmp(k->oc->oformat->name, "matroska")) {
		snprintf(err, errlen, "%s: %s audio can be recorded into Matroska only (.mkv, or - for stdout)",
			 path, audio->codec);
		AV(avformat_free_context)(k->oc);
		free(k);
		return -EINVAL;
	}
	if (audio) {
		AVStream *a = k->st[1] = AV(avformat_new_stream)(k->oc, NULL);
		AVCodecParameters *par = a->codecpar;
		par->codec_type = AVMEDIA_TYPE_AUDIO;
		if (g711) {	/* RFC 3551: 8 kHz mono, a byte a sample */
			par->codec_id = !strcmp(audio->codec, "PCMU") ? AV_CODEC_ID_PCM_MULAW : AV_CODEC_ID_PCM_ALAW;
			par->sample_rate = 8000;
			AV(av_channel_layout_default)(&par->ch_layout, 1);
			par->bits_per_coded_sample = 8;
			par->block_align = 1;
			a->time_base = (AVRational){ 1, 8000 };
		} else {
			par->codec_id = AV_CODEC_ID_OPUS;
			par->sample_rate = 48000;
			AV(av_channel_layout_default)(&par->ch_layout, audio->channels > 0 ? audio->channels : 2);
			opus_head(par, par->ch_layout.nb_channels);
			a->time_base = (AVRational){ 1, 48000 };
		}
	}
	k->pkt = AV(av_packet_alloc)();
	*out = k;
	return 0;
}

/* The size of a keyframe, when no one said it: from a VP8 key frame's
 * header (RFC 6386 9.1), or from H.264's SPS through FFmpeg's parser. */
static void learn_size(struct rv_media_sink *k, const uint8_t *p, size_t n)
{
	AVCodecParameters *par = k->st[0]->codecpar;
	if (!k->h264) {
		if (n >= 10 && !(p[0] & 1) && p[3] == 0x9d && p[4] == 0x01 && p[5] == 0x2a) {
			par->width = (p[7] << 8 | p[6]) & 0x3fff;
			par->height = (p[9] << 8 | p[8]) & 0x3fff;
		}
		return;
	}
	AVCodecParserContext *pc = AV(av_parser_init)(AV_CODEC_ID_H264);
	AVCodecContext *cc = AV(avcodec_alloc_context3)(AV(avcodec_find_decoder)(AV_CODEC_ID_H264));
	if (pc && cc) {
		uint8_t *out;
		int outlen;
		pc->flags |= PARSER_FLAG_COMPLETE_FRAMES;
		AV(av_parser_parse2)(pc, cc, &out, &outlen, p, (int)n, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
		if (pc->width > 0 && pc->height > 0) {
			par->width = pc->width;
			par->height = pc->height;
		}
	}
	if (pc)
		AV(av_parser_close)(pc);
	AV(avcodec_free_context)(&cc);
}

/* How many frames H.264 may show later than it decodes them (B-frames):
 * what FFmpeg's decoder learns from the SPS (num_reorder_frames) when it
 * decodes the first keyframe. 0 when it cannot say. */
static int reorder_depth(const uint8_t *p, size_t n)
{
	AVCodecContext *cc = AV(avcodec_alloc_context3)(AV(avcodec_find_decoder)(AV_CODEC_ID_H264));
	AVPacket *pkt = AV(av_packet_alloc)();
	int depth = 0;
	if (cc && pkt && n < INT32_MAX) {
		cc->thread_count = 1;
		if (AV(avcodec_open2)(cc, NULL, NULL) >= 0 && AV(av_new_packet)(pkt, (int)n) >= 0) {
			memcpy(pkt->data, p, n);
			AV(avcodec_send_packet)(cc, pkt);
			depth = cc->has_b_frames;
			/* no bitstream restriction in the SPS: B-frames are possible
			 * beyond Baseline; room for the common two (more is learnt) */
			if (!depth && cc->profile != FF_PROFILE_H264_BASELINE &&
			    cc->profile != FF_PROFILE_H264_CONSTRAINED_BASELINE)
				depth = 2;
		}
	}
	AV(av_packet_free)(&pkt);
	AV(avcodec_free_context)(&cc);
	return depth < 0 ? 0 : depth > RV_SINK_MAX_REORDER ? RV_SINK_MAX_REORDER : depth;
}

static void sort_ts(int64_t *b, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && b[j - 1] > b[j]; j--) {
			int64_t t = b[j];
			b[j] = b[j - 1];
			b[j - 1] = t;
		}
}

/* The decode time of the next video frame (they come in decode order),
 * shown at PTS. */
static int64_t next_dts(struct rv_media_sink *k, int64_t pts)
{
	int64_t *b = k->ptsbuf;
	int n = k->reorder + 1;
	if (k->last_dts == INT64_MIN) {	/* the first: the REORDER before it a unit apart */
		for (int i = 0; i < n; i++)
			b[i] = pts - (n - 1 - i);
	} else if (pts > b[0]) {
		b[0] = pts;	/* replaces the last decode time */
		sort_ts(b, n);
	}
	int64_t dts = b[0];
	if (k->last_dts != INT64_MIN && dts <= k->last_dts) {
		/* deeper reordering than the SPS said, or it said nothing: this
		 * frame shows a little late, and the ones after it have room */
		dts = b[0] = k->last_dts + 1;
		if (n <= RV_SINK_MAX_REORDER) {
			b[n++] = dts + 1;
			k->reorder++;
		}
		sort_ts(b, n);
	}
	k->last_dts = dts;
	return dts;
}

/* The header goes out with the first keyframe, once H.264's SPS and PPS are known. */
static int sink_start(struct rv_media_sink *k, const uint8_t *data, size_t len)
{
	if (k->st[0] && data && (!k->st[0]->codecpar->width || !k->st[0]->codecpar->height))
		learn_size(k, data, len);
	if (k->h264 && data) {
		uint8_t params[1024];
		size_t n = annexb_params(data, len, params, sizeof params);
		if (n)
			set_extradata(k->st[0]->codecpar, params, n);
		k->reorder = reorder_depth(data, len);
		k->st[0]->codecpar->video_delay = k->reorder;
	}
	int rc = 0;
	if (!(k->oc->oformat->flags & AVFMT_NOFILE))
		rc = AV(avio_open)(&k->oc->pb, k->oc->url, AVIO_FLAG_WRITE);
	if (rc < 0)
		return rc;
	AVDictionary *o = NULL;
	if (!strcmp(k->oc->oformat->name, "matroska") || !strcmp(k->oc->oformat->name, "webm")) {
		/* crash-safe to about a second: each cluster is written out as
		 * it closes, and the segment's size stays "unknown" until the
		 * trailer. A file (seekable) gets its duration and cues at the
		 * end; a pipe is written as a live stream, without them. */
		AV(av_dict_set)(&o, "cluster_time_limit", "1000", 0);
		if (!k->oc->pb || !(k->oc->pb->seekable & AVIO_SEEKABLE_NORMAL))
			AV(av_dict_set)(&o, "live", "1", 0);
	}
	if (!strcmp(k->oc->oformat->name, "mp4")) {	/* a fragment at each keyframe, and at least every second */
		AV(av_dict_set)(&o, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
		AV(av_dict_set)(&o, "frag_duration", "1000000", 0);
	}
	k->oc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
	k->oc->max_interleave_delta = 500000;	/* a silent track holds the other back 0.5 s at most */
	rc = AV(avformat_write_header)(k->oc, &o);
	AV(av_dict_free)(&o);
	if (rc >= 0)
		k->started = 1;
	return rc;
}

int rv_media_sink_write(struct rv_media_sink *k, int track, const uint8_t *data, size_t len,
			int64_t t_us, int key)
{
	if (track < 0 || track > 1 || !k->st[track])
		return -EINVAL;
	if (len > INT32_MAX)
		return -EINVAL;
	if (!k->started) {
		if (k->st[0] && (track != 0 || !key))
			return 0;	/* a file starts at a video keyframe */
		if (k->h264 && !has_params(data, len))
			return 0;	/* one whose parameter sets were lost on the way: the next */
		int rc = sink_start(k, data, len);
		if (rc < 0)
			return rc;
		k->base_us = t_us;
		k->last_pts[0] = k->last_pts[1] = -1;
		k->last_dts = INT64_MIN;
	}
	if (t_us < k->base_us)
		return 0;	/* audio from before the first keyframe */
	AVStream *st = k->st[track];
	int64_t pts = AV(av_rescale_q)(t_us - k->base_us, (AVRational){ 1, 1000000 }, st->time_base), dts;
	if (track == 0) {	/* frames come in decode order, each with its presentation time */
		dts = next_dts(k, pts);
		if (pts < dts)
			pts = dts;
	} else {
		if (pts <= k->last_pts[track])
			pts = k->last_pts[track] + 1;	/* strictly increasing for the muxer */
		k->last_pts[track] = dts = pts;
	}
	AV(av_packet_unref)(k->pkt);
	if (AV(av_new_packet)(k->pkt, (int)len) < 0)
		return -ENOMEM;
	memcpy(k->pkt->data, data, len);
	k->pkt->pts = pts;
	k->pkt->dts = dts;
	k->pkt->stream_index = st->index;
	if (key || track == 1)
		k->pkt->flags |= AV_PKT_FLAG_KEY;
	int rc = AV(av_interleaved_write_frame)(k->oc, k->pkt);
	return rc < 0 ? rc : 1;
}

const char *rv_media_sink_strerror(int rc, char *buf, size_t n)
{
	if (AV(av_strerror)(rc, buf, n) < 0)
		snprintf(buf, n, "error %d", rc);
	return buf;
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
