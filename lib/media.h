/* media.h - media sources on FFmpeg: open anything libavformat and
 * libavdevice open (files, lavfi, v4l2, x11grab, pipes), decode, scale to
 * the size asked for, and encode to H.264 (libx264: constrained baseline,
 * zerolatency, no B-frames, SPS/PPS before every IDR) or VP8 (libvpx,
 * realtime); or pass H.264/VP8 through untouched. Out come encoded frames
 * with a 90 kHz timestamp, ready for the RTP packetizers in rtp.h. */
#ifndef RV_MEDIA_H
#define RV_MEDIA_H

#include <stddef.h>
#include <stdint.h>

enum rv_vcodec { RV_VCODEC_H264, RV_VCODEC_VP8, RV_VCODEC_COPY };

struct rv_media_conf {
	const char *format;          /* -f: an input format or device (NULL: guess) */
	const char *input;           /* -i: a file, URL, device, or "-" for stdin */
	enum rv_vcodec vcodec;
	int width, height;           /* 0: the input's */
	double fps;                  /* 0: the input's, else 30 */
	int bitrate;                 /* bits per second (default 1000000) */
	int gop;                     /* frames between keyframes (default 2 s of frames) */
	int realtime;                /* --re: pace a file to real time */
	double duration;             /* stop after this many seconds (0: never) */
};

struct rv_media_frame {
	const uint8_t *data;         /* H.264 Annex-B, or a VP8 frame */
	size_t len;
	uint32_t ts90k;              /* presentation time, 90 kHz */
	int keyframe;
};

struct rv_media_src;

/* rv_media_open - open CONF's input and set up decoding and encoding.
 * ERR gets a readable reason on failure. *OUT: rv_media_close. */
int rv_media_open(struct rv_media_src **out, const struct rv_media_conf *conf, char *err, size_t errlen);
/* rv_media_next - the next encoded frame: 1, 0 at the end of the input
 * (or --duration), negative on error. FRAME stays valid until the next call.
 * With --re, returns no earlier than the frame's time. */
int rv_media_next(struct rv_media_src *s, struct rv_media_frame *frame);
/* rv_media_request_keyframe - make the next encoded frame a keyframe; safe
 * to call from another thread than the one calling rv_media_next. */
void rv_media_request_keyframe(struct rv_media_src *s);
/* What is being sent: codec name ("H264"/"VP8"), size, frame rate. */
const char *rv_media_codec(const struct rv_media_src *s);
void rv_media_size(const struct rv_media_src *s, int *w, int *h, double *fps);
/* rv_media_sprop - H.264 sprop-parameter-sets for SDP ("" until known). */
const char *rv_media_sprop(const struct rv_media_src *s);
void rv_media_close(struct rv_media_src *s);

#endif

/* ---- sinks: received frames into a container, without re-encoding ---- */

struct rv_media_sink;

/* rv_media_sink_open - write to PATH ("-": Matroska on stdout) in FORMAT
 * (NULL: from the extension: .mkv, .webm, .mp4 fragmented, .ts). CODEC is
 * "H264" or "VP8"; W and H may be 0 (unknown). Matroska is written in
 * clusters of at most a second, flushed as they close, so after a crash
 * the file plays up to about its last second. */
int rv_media_sink_open(struct rv_media_sink **out, const char *path, const char *format,
		       const char *codec, int w, int h, char *err, size_t errlen);
/* rv_media_sink_write - one frame (Annex-B for H.264) with its 90 kHz time. */
int rv_media_sink_write(struct rv_media_sink *k, const uint8_t *data, size_t len, uint32_t ts90k, int key);
/* rv_media_sink_close - finish the file (trailer, index). */
int rv_media_sink_close(struct rv_media_sink *k);
