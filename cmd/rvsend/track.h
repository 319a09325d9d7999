/* track.h - one medium's RTP sending: what a frame becomes (RTP packets
 * per RFC 6184, 7741, 7587 or 3551 (G.711), and RTCP sender reports before the first
 * frame, every keyframe and every second), whatever then carries the
 * packets. Used only by the thread of the input that carries the medium. */
#ifndef RVSEND_TRACK_H
#define RVSEND_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"
#include "rtp.h"
#include "srtp.h"

/* a packet as built here, with room for SRTP to grow it in place */
#define TRACK_PKT_MAX (RV_RTP_HEADER + RV_RTP_MAX_PAYLOAD + RV_SRTP_MAX_TRAILER)

struct track;
/* A packet is ready: P (N bytes, room for TRACK_PKT_MAX), RTP when RTP is 1
 * (its sequence number is K->hdr.seq), else a sender report. Negative to
 * stop the stream. */
typedef int (*track_out_fn)(struct track *k, uint8_t *p, size_t n, int rtp);

struct track {
	int video, h264;
	uint32_t clock;                 /* RTP clock: 90000 video; 48000 Opus, 8000 G.711 */
	struct rv_rtp hdr;
	uint32_t ts_base, last_sr, packets, octets;
	uint64_t frames;
	uint16_t picture_id;
	int key_start;                  /* a keyframe's first packet (its sender report) goes out next */
	track_out_fn out;
	void *ud;                       /* the caller's */
	uint8_t pkt[TRACK_PKT_MAX];
};

/* track_init - a random SSRC, sequence number (below 2^15) and timestamp base; PT;
 * H264 picks RFC 6184 over VP8 for video; ACODEC says audio's clock. */
void track_init(struct track *k, int video, int pt, int h264, enum rv_acodec acodec, track_out_fn out,
		void *ud);
/* track_frame - F (from SRC, whose clock the sender reports read) as RTP. */
int track_frame(struct track *k, const struct rv_media_src *src, const struct rv_media_frame *f);

#endif
