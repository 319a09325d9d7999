/* srtp.h - SRTP and SRTCP (RFC 3711, RFC 7714) on libsrtp2: one session
 * per direction keyed with a master key and salt, for any SSRC. Packets
 * are protected and unprotected in place; RTP or RTCP is told apart by
 * the payload type (RFC 5761). Keys travel as base64 of key || salt, the
 * form SDP's a=crypto inline: uses (RFC 4568). With a libsrtp2 built on
 * NSS, the first session opens NSS for the process, tuned for speed (see
 * srtp.c), and it stays open. */
#ifndef RV_SRTP_H
#define RV_SRTP_H

#include <stddef.h>
#include <stdint.h>

enum rv_srtp_suite { RV_SRTP_NONE, RV_SRTP_AES_CM_128_HMAC_SHA1_80, RV_SRTP_AEAD_AES_128_GCM };

#define RV_SRTP_MAX_KEY 30          /* master key and salt */
#define RV_SRTP_MAX_TRAILER 148     /* what protection may add (tag, MKI, SRTCP index) */

struct rv_srtp;

/* The suite called NAME (as in SDP: "AES_CM_128_HMAC_SHA1_80",
 * "AEAD_AES_128_GCM"), or RV_SRTP_NONE. */
int rv_srtp_suite(const char *name);
const char *rv_srtp_suite_name(int suite);
/* Bytes of key and salt the suite takes. */
size_t rv_srtp_key_len(int suite);
/* rv_srtp_new_key - a random key for SUITE, as base64 in B64 (64 bytes). */
int rv_srtp_new_key(int suite, char b64[64]);
/* rv_srtp_init - libsrtp (and NSS) set up for the process now rather than
 * by the first session: 0 or RV_ETLS. It takes a while (NSS's self-tests:
 * 100-200 ms on a busy machine), so a tool whose loop must not stall when
 * its first session comes calls it early. */
int rv_srtp_init(void);
/* rv_srtp_new - a session for SUITE with the base64 key B64; OUTBOUND 1 to
 * protect, 0 to unprotect. 0, RV_EPROTO (bad key) or RV_ETLS (libsrtp). */
int rv_srtp_new(struct rv_srtp **out, int suite, const char *b64, int outbound);
/* rv_srtp_new_raw - the same with the key and salt as LEN raw bytes (LEN
 * must be rv_srtp_key_len(SUITE)), as DTLS-SRTP exports them. 0, RV_EPROTO
 * (wrong length or suite), RV_ETLS or -ENOMEM. The key is copied. */
int rv_srtp_new_raw(struct rv_srtp **out, int suite, const uint8_t *key, size_t len,
		    int outbound);
/* rv_srtp_protect - protect the RTP or RTCP packet P (*N bytes) in place;
 * P has room for RV_SRTP_MAX_TRAILER more. */
int rv_srtp_protect(struct rv_srtp *s, uint8_t *p, size_t *n);
/* rv_srtp_unprotect - check and decrypt in place; RV_EPROTO when the
 * packet fails authentication or is a replay. */
int rv_srtp_unprotect(struct rv_srtp *s, uint8_t *p, size_t *n);
void rv_srtp_free(struct rv_srtp *s);

#endif
