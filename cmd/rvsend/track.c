/* track.c - one medium's RTP sending (see track.h). */
#include <string.h>

#include <openssl/rand.h>

#include "bytes.h"
#include "track.h"

void track_init(struct track *k, int video, int pt, int h264, enum rv_acodec acodec, track_out_fn out,
		void *ud)
{
	uint8_t r[6];
	RAND_bytes(r, sizeof r);
	memset(k, 0, sizeof *k);
	k->video = video;
	k->h264 = video && h264;
	k->clock = video ? 90000 : rv_media_audio_clock(acodec);
	k->out = out;
	k->ud = ud;
	k->hdr.pt = (uint8_t)pt;
	k->hdr.ssrc = rv_rd32(r);
	if (!k->hdr.ssrc)
		k->hdr.ssrc = 1;
	/* The first sequence number below 2^15, as libwebrtc picks it: SDES
	 * receivers that join mid-stream (ffmpeg with our SDP) take the SRTP
	 * rollover counter to be 0 (RFC 3711 3.3.1), so a wrap of the 16-bit
	 * number before they join would fail every packet's authentication. */
	k->hdr.seq = rv_rd16(r + 4) & 0x7fff;
	k->ts_base = k->hdr.ssrc ^ 0x5a5a5a5a;	/* a random start for timestamps */
}

static int on_payload(void *ud, const uint8_t *data, size_t len, int last)
{
	struct track *k = ud;
	k->hdr.marker = k->video && last;	/* audio: RFC 7587 leaves it clear */
	rv_rtp_header(k->pkt, &k->hdr);
	memcpy(k->pkt + RV_RTP_HEADER, data, len);
	int rc = k->out(k, k->pkt, RV_RTP_HEADER + len, 1);
	if (rc < 0)
		return rc;
	k->hdr.seq++;
	k->packets++;
	k->octets += (uint32_t)len;
	return 0;
}

/* A sender report maps the medium's RTP time to wall-clock time: receivers
 * line audio and video up with it. Both are read now, the RTP time from the
 * source's clock: a frame may go out early, in a burst of the encoder's. */
static void sender_report(struct track *k, const struct rv_media_src *src)
{
	uint32_t now = k->ts_base + rv_media_clock(src, k->clock);
	struct rv_rtcp_sr sr = { k->hdr.ssrc, rv_ntp_now(), now, k->packets, k->octets };
	uint8_t buf[TRACK_PKT_MAX];
	int n = rv_rtcp_build_sr(buf, 64, &sr);
	if (n > 0)
		k->out(k, buf, (size_t)n, 0);	/* a report lost is not the end */
}

int track_frame(struct track *k, const struct rv_media_src *src, const struct rv_media_frame *f)
{
	uint32_t clock = k->clock;
	k->hdr.ts = k->ts_base + f->ts;
	/* before the first frame, every keyframe (a receiver may start there)
	 * and every second */
	k->key_start = k->video && f->keyframe;
	if (k->frames == 0 || (k->video && f->keyframe) || f->ts - k->last_sr >= clock) {
		sender_report(k, src);
		k->last_sr = f->ts;
	}
	k->frames++;
	if (!k->video)	/* RFC 7587: one Opus packet per RTP packet; RFC 3551: 20 ms of G.711 */
		return f->len > RV_RTP_MAX_PAYLOAD ? 0 : on_payload(k, f->data, f->len, 1);
	return k->h264 ? rv_h264_packetize(f->data, f->len, RV_RTP_MAX_PAYLOAD, on_payload, k)
		       : rv_vp8_packetize(f->data, f->len, RV_RTP_MAX_PAYLOAD, k->picture_id++ & 0x7FFF,
					  on_payload, k);
}
