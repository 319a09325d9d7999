/* rtp.h - RTP (RFC 3550) and RTCP, and the payload formats rvkit sends:
 * H.264 (RFC 6184, packetization-mode 1: single NAL, STAP-A, FU-A),
 * VP8 (RFC 7741) and Opus (RFC 7587). No I/O: packets in, packets out.
 *
 * Packetizers write into a caller's buffer one packet at a time through a
 * callback; depacketizers take payloads in sequence order and hand out
 * whole frames (Annex-B for H.264) through a callback. Every length is
 * checked against the input. */
#ifndef RV_RTP_H
#define RV_RTP_H

#include <stddef.h>
#include <stdint.h>

#define RV_RTP_MAX_PAYLOAD 1200     /* what fits any path's MTU with room for SRTP */
#define RV_RTP_HEADER 12

struct rv_rtp {
	uint8_t pt;
	int marker;
	uint16_t seq;
	uint32_t ts, ssrc;
	const uint8_t *payload;         /* parse: aliases the packet */
	size_t payload_len;
};

/* rv_rtp_parse - the header and payload of the RTP packet P (N bytes),
 * skipping CSRCs, a header extension and padding. 0 or RV_EPROTO. */
int rv_rtp_parse(const uint8_t *p, size_t n, struct rv_rtp *r);
/* rv_rtp_header - write R's 12-byte header (no CSRC, no extension) to OUT. */
void rv_rtp_header(uint8_t out[RV_RTP_HEADER], const struct rv_rtp *r);
/* rv_rtp_is_rtcp - 1 when a packet on a muxed port is RTCP (RFC 5761). */
int rv_rtp_is_rtcp(const uint8_t *p, size_t n);

/* ---- RTCP ---- */
enum { RV_RTCP_SR = 200, RV_RTCP_RR = 201, RV_RTCP_SDES = 202, RV_RTCP_BYE = 203,
       RV_RTCP_RTPFB = 205, RV_RTCP_PSFB = 206 };

struct rv_rtcp_sr {
	uint32_t ssrc;
	uint64_t ntp;                   /* NTP timestamp, 32.32 */
	uint32_t rtp_ts, packets, octets;
};

/* A report block of a receiver report (RFC 3550 6.4.1). */
struct rv_rtcp_rb {
	uint32_t ssrc;                  /* the source it is about */
	uint8_t fraction;               /* lost since the last report, /256 */
	int32_t lost;                   /* cumulative (24 bits, signed) */
	uint32_t highest;               /* extended highest sequence number */
	uint32_t jitter, lsr, dlsr;
};

/* One packet of a compound RTCP packet. */
struct rv_rtcp {
	uint8_t type, fmt;              /* fmt: report count, or feedback format */
	uint32_t sender_ssrc, media_ssrc;
	const uint8_t *body;            /* after the common 8 bytes */
	size_t body_len;
};

/* rv_rtcp_next - the packet at *OFF of the compound P (N bytes): 1 and
 * advances *OFF, 0 at the end, RV_EPROTO when malformed. */
int rv_rtcp_next(const uint8_t *p, size_t n, size_t *off, struct rv_rtcp *out);
/* rv_rtcp_parse_sr - the sender info of an SR. 0 or RV_EPROTO. */
int rv_rtcp_parse_sr(const struct rv_rtcp *c, struct rv_rtcp_sr *sr);
/* rv_rtcp_parse_rr - report block I (from 0) of an RR or SR. 0 or RV_EPROTO. */
int rv_rtcp_parse_rb(const struct rv_rtcp *c, int i, struct rv_rtcp_rb *rb);
/* rv_rtcp_nack_each - call FN with every sequence number a generic NACK
 * (RTPFB FMT 1) asks for. Returns how many, or RV_EPROTO. */
int rv_rtcp_nack_each(const struct rv_rtcp *c, void (*fn)(void *ud, uint16_t seq), void *ud);
/* Builders: each writes one packet into OUT (CAP bytes) and returns its
 * length, or RV_ETOOBIG. */
int rv_rtcp_build_sr(uint8_t *out, size_t cap, const struct rv_rtcp_sr *sr);
/* rv_ntp_now - the wall clock as an NTP timestamp (32.32), for sender reports. */
uint64_t rv_ntp_now(void);
/* rv_ntp_unix_us - an NTP timestamp as microseconds since 1970. */
int64_t rv_ntp_unix_us(uint64_t ntp);
/* rv_rtcp_rtt_ms - the round trip in milliseconds that a report block
 * with LSR and DLSR gives when it arrives at NOW (the middle 32 bits of
 * an NTP timestamp, as rv_ntp_now() >> 16): NOW - LSR - DLSR in 16.16
 * seconds (RFC 3550 6.4.1). Clock granularity and the receiver's rounding
 * of DLSR can make that slightly negative; it is clamped to 0 rather than
 * wrapping to 65536 s. -1 when LSR is 0 (no sender report seen yet). */
double rv_rtcp_rtt_ms(uint32_t now, uint32_t lsr, uint32_t dlsr);
/* A receiver report from SENDER with one report block. */
int rv_rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender, const struct rv_rtcp_rb *rb);
/* The same with the N (0 to 31) report blocks RB; -EINVAL for more. */
int rv_rtcp_build_rrs(uint8_t *out, size_t cap, uint32_t sender, const struct rv_rtcp_rb *rb, size_t n);
/* An SDES with one chunk: SSRC's CNAME (at most 255 bytes, else -EINVAL). */
int rv_rtcp_build_sdes(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname);
/* REMB (draft-alvestrand-rmcat-remb-03, PSFB FMT 15 "REMB"): the receiver
 * SENDER's estimate of BPS bits per second for the N (1 to 255) SSRCS,
 * written as an 18-bit mantissa and a 6-bit exponent (rounded down: the
 * cap is never exceeded); -EINVAL for N out of range. */
int rv_rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender, uint64_t bps, const uint32_t *ssrcs, size_t n);
/* rv_rtcp_parse_remb - the bitrate of a REMB into *BPS and its SSRCs' count;
 * the first MAX SSRCs into SSRCS (may be NULL with MAX 0). The count, or
 * RV_EPROTO for anything else. */
int rv_rtcp_parse_remb(const struct rv_rtcp *c, uint64_t *bps, uint32_t *ssrcs, size_t max);
int rv_rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender, uint32_t media);
int rv_rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender, uint32_t media, uint8_t fir_seq);
/* NACK for the N sequence numbers in SEQS (any order; packed into PID/BLP pairs). */
int rv_rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender, uint32_t media,
		       const uint16_t *seqs, size_t n);

/* ---- packetizers ---- */
/* Called for each packet's payload; LAST marks the frame's last packet
 * (the RTP marker bit for video). DATA is valid during the call only. */
typedef int (*rv_rtp_out_fn)(void *ud, const uint8_t *data, size_t len, int last);

/* rv_h264_packetize - one access unit in Annex-B (start codes) into RTP
 * payloads of at most MTU bytes: small NAL units are aggregated into STAP-A,
 * large ones fragmented into FU-A. Returns packets written or an error. */
int rv_h264_packetize(const uint8_t *au, size_t len, size_t mtu, rv_rtp_out_fn fn, void *ud);
/* rv_h264_next_nal - the next NAL unit of the Annex-B buffer P (N bytes)
 * from *POS: 1 with *NAL and *LEN (start code excluded), 0 at the end. */
int rv_h264_next_nal(const uint8_t *p, size_t n, size_t *pos, const uint8_t **nal, size_t *len);
/* rv_h264_is_keyframe - 1 when the access unit holds an IDR slice. */
int rv_h264_is_keyframe(const uint8_t *au, size_t len);
/* rv_vp8_packetize - one VP8 frame, with a payload descriptor carrying a
 * 15-bit PictureID. */
int rv_vp8_packetize(const uint8_t *frame, size_t len, size_t mtu, uint16_t picture_id,
		     rv_rtp_out_fn fn, void *ud);

/* ---- depacketizers ---- */
/* A whole frame: Annex-B for H.264, the raw frame for VP8. */
typedef void (*rv_rtp_frame_fn)(void *ud, const uint8_t *frame, size_t len, uint32_t ts, int keyframe);

struct rv_depack {
	int codec;                      /* RV_DEPACK_H264 or RV_DEPACK_VP8 */
	uint8_t *buf;                   /* owned; the frame being assembled */
	size_t len, cap, max;
	uint32_t ts;
	int have_ts, in_fu, broken, keyframe;
	uint16_t next_seq;
	int have_seq;
	rv_rtp_frame_fn fn;
	void *ud;
	uint64_t frames, dropped;       /* frames out, frames lost to gaps */
};
enum { RV_DEPACK_H264 = 1, RV_DEPACK_VP8 = 2 };

/* rv_depack_init - MAX caps one frame (bigger ones are dropped). */
void rv_depack_init(struct rv_depack *d, int codec, size_t max, rv_rtp_frame_fn fn, void *ud);
void rv_depack_free(struct rv_depack *d);
/* rv_depack_push - one RTP packet (parsed), in sequence order; a gap in
 * sequence numbers drops the frame it hits. */
int rv_depack_push(struct rv_depack *d, const struct rv_rtp *r);

#endif
