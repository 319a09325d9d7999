/* sdp.h - the little of SDP (RFC 8866) that plain RTP needs: where the
 * video and the audio come (c= and m=), their payload types and codecs
 * (a=rtpmap), the video's size (a=framesize) and each one's SRTP key
 * (a=crypto, RFC 4568). A parser of file input, no I/O.
 *
 * The first m=video and the first m=audio are read; other m= sections are
 * skipped. A c= or a=crypto line belongs to the m= section it follows; one
 * before any m= line (session level) applies to every section that has
 * none of its own. */
#ifndef RV_SDP_H
#define RV_SDP_H

#include <stddef.h>

/* The m=audio section. */
struct rv_sdp_audio {
	int port;                    /* 0: no m=audio */
	int pt;                      /* its first payload type, or -1 */
	char codec[16];              /* from a=rtpmap: "opus", "PCMU"; payload type 0
					PCMU, 8 PCMA without one (RFC 3551), else "" */
	int clock;                   /* 48000, 8000 */
	int channels;                /* from a=rtpmap (1 when not given) */
	char addr[64];               /* its c=, else the session's, else 0.0.0.0 */
	int v6;
	int has_crypto;
	char crypto_suite[32];
	char crypto_key[64];
};

struct rv_sdp {
	/* the m=video section (port 0 and codec "" without one) */
	char addr[64];               /* its c=, else the session's, else 0.0.0.0 */
	int v6;
	int port;                    /* m=video port */
	int pt;                      /* its first payload type, or -1 */
	char codec[16];              /* from a=rtpmap: "H264", "VP8"; "" without one */
	int clock;                   /* 90000 */
	int width, height;           /* a=framesize, or 0 */
	int has_crypto;              /* an a=crypto line (SRTP, RFC 4568) */
	char crypto_suite[32];       /* e.g. "AES_CM_128_HMAC_SHA1_80" */
	char crypto_key[64];         /* its inline: key||salt, base64 */
	struct rv_sdp_audio audio;
};

/* rv_sdp_has_video / rv_sdp_has_audio - an m= section of that kind with
 * an a=rtpmap for its payload type (the codec may still be one the caller
 * does not take). */
int rv_sdp_has_video(const struct rv_sdp *s);
int rv_sdp_has_audio(const struct rv_sdp *s);

/* rv_sdp_parse - read TEXT (LEN bytes, need not be NUL-terminated).
 * 0 when at least one section is usable (rv_sdp_has_video or
 * rv_sdp_has_audio), else RV_EPROTO with ERR saying what is missing. */
int rv_sdp_parse(const char *text, size_t len, struct rv_sdp *out, char *err, size_t errlen);

#endif
