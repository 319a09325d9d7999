/* media.h - media on FFmpeg.
 *
 * Sources (media.c): open anything libavformat and libavdevice open
 * (files, lavfi, v4l2, x11grab, pulse, alsa, pipes), decode, and encode
 * video to H.264 (libx264: constrained baseline, zerolatency, no B-frames,
 * SPS/PPS before every IDR) or VP8 (libvpx, realtime), audio to Opus
 * (libopus, 48 kHz stereo, 20 ms frames) or G.711 (PCMU or PCMA, 8 kHz
 * mono, 20 ms frames of 160 bytes); or pass H.264/VP8/Opus through
 * untouched. Out come encoded frames with timestamps in their RTP clock
 * (90 kHz video; audio: 48 kHz Opus, 8 kHz G.711), ready for the
 * packetizers in rtp.h.
 *
 * Sinks (sink.c): received frames into a container, without re-encoding. */
#ifndef RV_MEDIA_H
#define RV_MEDIA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum rv_vcodec { RV_VCODEC_H264, RV_VCODEC_VP8, RV_VCODEC_COPY, RV_VCODEC_NONE };
enum rv_acodec { RV_ACODEC_OPUS, RV_ACODEC_COPY, RV_ACODEC_NONE, RV_ACODEC_PCMU, RV_ACODEC_PCMA };

struct rv_media_conf {
	const char *format;          /* -f: an input format or device (NULL: guess) */
	const char *input;           /* -i: a file, URL, device, or "-" for stdin */
	enum rv_vcodec vcodec;       /* NONE: take no video from this input */
	enum rv_acodec acodec;       /* NONE: take no audio from this input */
	int width, height;           /* 0: the input's */
	double fps;                  /* 0: the input's, else 30 */
	int bitrate;                 /* video bits per second (default 1000000) */
	int abitrate;                /* audio bits per second (default 64000) */
	int gop;                     /* frames between keyframes (default 2 s of frames) */
	int realtime;                /* --re: pace a file to real time */
	double duration;             /* stop after this many seconds (0: never) */
	/* INPUT is an rtmp:// URL to listen on (libavformat's RTMP listen
	 * mode): rv_media_open waits there for one publisher and takes what it
	 * sends as FLV; its end is the end of the input. */
	int listen;
	double listen_timeout;       /* with listen: seconds to wait for the publisher (0: forever) */
	double idle_timeout;         /* a read waiting this many seconds ends the input (0: never) */
	/* NULL, or a flag (set by a signal handler, say) that, once nonzero,
	 * ends the wait for the publisher and any read waiting for input. */
	const atomic_int *stop;
};

struct rv_media_frame {
	const uint8_t *data;         /* H.264 Annex-B, a VP8 frame, or an Opus packet */
	size_t len;
	uint32_t ts;                 /* presentation time in the RTP clock (rv_media_audio_clock) */
	int keyframe;
	int audio;                   /* 1: an Opus packet or 20 ms of G.711 */
};

struct rv_media_src;

/* rv_media_open - open CONF's input and set up decoding and encoding for
 * the video and audio it has and CONF wants. ERR gets a readable reason on
 * failure (also when it has neither); with listen, -ETIMEDOUT when no
 * publisher came within listen_timeout, and FFmpeg's error (such as
 * -EADDRINUSE) when the address cannot be listened on. *OUT: rv_media_close. */
int rv_media_open(struct rv_media_src **out, const struct rv_media_conf *conf, char *err, size_t errlen);
/* rv_media_next - the next encoded frame: 1, 0 at the end of the input
 * (or --duration, or a read that waited idle_timeout), negative on error.
 * FRAME stays valid until the next call. With --re, returns no earlier
 * than the frame's time. */
int rv_media_next(struct rv_media_src *s, struct rv_media_frame *frame);
/* rv_media_clock - the source's media time now, in the RTP clock of a
 * medium (CLOCK Hz: 90000, 48000), on the scale of the frames' ts: a frame
 * is due when the clock reaches its ts (paced so with --re; a capture
 * device runs at that pace). What a sender report pairs with the wall
 * clock. Call it from the thread that calls rv_media_next. */
uint32_t rv_media_clock(const struct rv_media_src *s, uint32_t clock);
/* rv_media_request_keyframe - make the next encoded frame a keyframe; safe
 * to call from another thread than the one calling rv_media_next. */
void rv_media_request_keyframe(struct rv_media_src *s);
/* What is being sent: video codec ("H264"/"VP8", or NULL without video),
 * size and frame rate; whether there is audio. */
const char *rv_media_codec(const struct rv_media_src *s);
void rv_media_size(const struct rv_media_src *s, int *w, int *h, double *fps);
int rv_media_has_audio(const struct rv_media_src *s);
/* The audio codec of CONF ("opus", "PCMU" or "PCMA"; copy is Opus), its
 * RTP clock (48000 or 8000) and channels (2 or 1): fixed by the
 * configuration, so known before the source opens. */
const char *rv_media_audio_codec(enum rv_acodec acodec);
uint32_t rv_media_audio_clock(enum rv_acodec acodec);
int rv_media_audio_channels(enum rv_acodec acodec);
/* rv_media_idle - 1 when the input ended because a read waited idle_timeout. */
int rv_media_idle(const struct rv_media_src *s);
/* rv_media_sprop - H.264 sprop-parameter-sets for SDP ("" until known). */
const char *rv_media_sprop(const struct rv_media_src *s);
void rv_media_close(struct rv_media_src *s);

/* ---- sinks ---- */

struct rv_media_sink;

/* rv_media_load - load FFmpeg now. It is loaded on first use otherwise,
 * which takes a few hundred milliseconds: a recorder calls this before its
 * first stream comes. 0, or -ENOENT with ERR saying what is missing. */
int rv_media_load(char *err, size_t errlen);

/* A track of a sink: codec "H264", "VP8", "opus", or "PCMU" or "PCMA"
 * (G.711: 8 kHz mono; into Matroska only, rv_media_sink_open says so). */
struct rv_media_track {
	const char *codec;
	int width, height;           /* video; 0 when unknown */
	int channels;                /* audio */
};

/* rv_media_sink_open - write to PATH ("-": Matroska on stdout) in FORMAT
 * (NULL: from the extension: .mkv, .webm, .mp4 fragmented, .ts) with a
 * video track, an audio track, or both (NULL: none). Matroska is
 * written in clusters of at most a second, flushed as they close, and MP4
 * in fragments of at most a second, so after a crash the file plays up to
 * about its last second; rv_media_sink_close adds Matroska's duration and
 * cues (not on a pipe). */
int rv_media_sink_open(struct rv_media_sink **out, const char *path, const char *format,
		       const struct rv_media_track *video, const struct rv_media_track *audio,
		       char *err, size_t errlen);
/* rv_media_sink_write - one frame of TRACK (0 video, Annex-B for H.264;
 * 1 audio) at T_US microseconds on a timeline shared by the tracks. The
 * file starts at the first video keyframe (H.264: the first that carries
 * its SPS and PPS, which the file's header needs; without video, the first
 * audio frame): earlier frames are dropped, and times count from it. 1
 * when the frame was written, 0 when it was dropped so, or a negative
 * error (errno, or FFmpeg's own: rv_media_sink_strerror says which). */
int rv_media_sink_write(struct rv_media_sink *k, int track, const uint8_t *data, size_t len,
			int64_t t_us, int key);
/* rv_media_sink_close - finish the file (trailer, index). */
int rv_media_sink_close(struct rv_media_sink *k);
/* rv_media_sink_strerror - what the error RC of a sink means, in BUF (N
 * bytes): FFmpeg's words, which cover errno codes too. */
const char *rv_media_sink_strerror(int rc, char *buf, size_t n);

#endif
