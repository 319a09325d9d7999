/* sdp.h - the little of SDP (RFC 8866) that plain RTP needs: where the
 * video comes (c= and m=), its payload type and codec (a=rtpmap) and, if
 * given, its size (a=framesize) and SRTP key (a=crypto). A parser of file
 * input, no I/O. */
#ifndef RV_SDP_H
#define RV_SDP_H

#include <stddef.h>

struct rv_sdp {
	char addr[64];               /* c= address */
	int v6;
	int port;                    /* m=video port */
	int pt;                      /* its first payload type */
	char codec[16];              /* from a=rtpmap: "H264", "VP8" */
	int clock;                   /* 90000 */
	int width, height;           /* a=framesize, or 0 */
	int has_crypto;              /* an a=crypto line (SRTP, RFC 4568) */
	char crypto_suite[32];       /* e.g. "AES_CM_128_HMAC_SHA1_80" */
	char crypto_key[64];         /* its inline: key||salt, base64 */
};

/* rv_sdp_parse - read TEXT (LEN bytes, need not be NUL-terminated).
 * 0, or RV_EPROTO with ERR saying what is missing. */
int rv_sdp_parse(const char *text, size_t len, struct rv_sdp *out, char *err, size_t errlen);

#endif
