/* dtls.h - DTLS 1.2 as a pure engine over OpenSSL memory BIOs, no I/O.
 *
 * The caller moves datagrams: each datagram that arrives goes in with
 * rv_dtls_feed(); the datagrams to send come out one at a time from
 * rv_dtls_take(), each at most RV_DTLS_MTU bytes and made of whole records
 * (OpenSSL's memory BIO concatenates records; the engine splits them on
 * their 13-byte headers and packs as many as fit). After the handshake,
 * rv_dtls_write() encrypts one message into one record and rv_dtls_read()
 * returns the messages the peer sent, one per record, in arrival order.
 *
 * Identity: a context holds a private key the caller gives (ECDSA P-256 for
 * WebRTC, from rv_dtls_key_p256(); or the Ed25519 key of a peer group,
 * lib/p2pkey.h) and a self-signed certificate made from it. Both ends
 * present a certificate and accept any: authentication is the caller's
 * check after the handshake, of the peer certificate's SHA-256 fingerprint
 * (WebRTC, against SDP's a=fingerprint: rv_dtls_fingerprint_check, in
 * constant time) or of its raw Ed25519 public key (peer groups: SHA-256 of
 * it is the peer ID). The handshake's CertificateVerify proves the peer
 * holds that key.
 *
 * Ed25519 works in the client role only: OpenSSL 3.0 offers no cipher
 * suite to a DTLS server whose certificate is Ed25519 (ssl_set_masks()
 * allows Ed25519 under aECDSA only when TLS1_get_version() is TLS 1.2,
 * which is 0 for DTLS), so a handshake with one fails with "no shared
 * cipher". rv_dtls_new refuses that case with -EOPNOTSUPP. An Ed25519
 * client certificate is accepted by a P-256 server.
 *
 * Timer: no clock of its own. While handshaking, rv_dtls_timeout_ms() says
 * in how many milliseconds rv_dtls_on_timeout() is due; call it then (or
 * later) and take what it queued. Re-arm after every call into the engine.
 * The delay is 200 ms, doubling on each retransmission up to 4 s. The time
 * is OpenSSL's (DTLSv1_get_timeout reads the system clock): a call that
 * comes early does nothing, and a datagram fed after the delay may itself
 * trigger the retransmission. The engine fails (RV_DTLS_FAILED, "read
 * timeout expired") after 12 retransmissions of one flight (the 13th
 * timeout, 38.2 s after the first send); a caller with a shorter
 * handshake deadline (rvserver: its consent timeout, 30 s by default,
 * after the first valid ICE check) enforces it by freeing the session.
 *
 * Caps: a datagram fed is at most RV_DTLS_MAX_DATAGRAM bytes; a message
 * written at most rv_dtls_max_write() (the data MTU left by 1200 after
 * record overhead, about 1160); messages received and not yet read at most
 * RV_DTLS_READ_CAP bytes (more are dropped, as datagrams are); ciphertext
 * not yet taken at most RV_DTLS_TAKE_CAP (writes past it are refused).
 *
 * Errors: negative codes of err.h; after RV_ETLS the session is
 * RV_DTLS_FAILED for good and rv_dtls_errstr() says why (an alert to the
 * peer may still wait in rv_dtls_take). No printing, no exit. */
#ifndef RV_DTLS_H
#define RV_DTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "srtp.h"

#define RV_DTLS_MTU 1200            /* largest datagram taken */
#define RV_DTLS_MAX_DATAGRAM 16384  /* largest datagram fed */
#define RV_DTLS_READ_CAP 65536      /* received messages waiting for rv_dtls_read */
#define RV_DTLS_TAKE_CAP 262144     /* ciphertext waiting for rv_dtls_take */
#define RV_DTLS_FP_LEN 32           /* SHA-256 fingerprint */
#define RV_DTLS_FP_TEXT 96          /* "AB:CD:..." and its NUL */
#define RV_DTLS_ED25519_LEN 32      /* raw Ed25519 public key */

enum rv_dtls_state {
	RV_DTLS_HANDSHAKING,        /* new, started, or waiting for the peer */
	RV_DTLS_CONNECTED,          /* handshake done: read, write, keys */
	RV_DTLS_CLOSED,             /* close_notify sent or received */
	RV_DTLS_FAILED,             /* fatal error (rv_dtls_errstr) */
};

/* RFC 7983 (and 9443) demultiplexing by the first byte of a datagram. */
enum rv_dtls_demux {
	RV_DEMUX_OTHER,             /* nothing we speak: drop */
	RV_DEMUX_STUN,              /* 0-3 */
	RV_DEMUX_DTLS,              /* 20-63 */
	RV_DEMUX_TURN,              /* 64-79: TURN ChannelData */
	RV_DEMUX_RTP,               /* 128-191: RTP or RTCP */
};

struct evp_pkey_st;                 /* OpenSSL's EVP_PKEY */
struct rv_dtls_ctx;
struct rv_dtls;

/* rv_dtls_demux - what the datagram P (N bytes) is, by its first byte. */
int rv_dtls_demux(const uint8_t *p, size_t n);

/* rv_dtls_key_p256 - a fresh ECDSA P-256 key (the WebRTC identity): 0 or
 * -ENOMEM. *OUT is owned by the caller (EVP_PKEY_free). */
int rv_dtls_key_p256(struct evp_pkey_st **out);

/* rv_dtls_ctx_new - a context for KEY (ECDSA P-256 or Ed25519) with a
 * self-signed certificate made from it (random serial, valid from a day ago
 * for 30 days; nobody checks the dates). The context takes its own
 * reference to KEY. SRTP 1 offers and accepts use_srtp with
 * SRTP_AEAD_AES_128_GCM and SRTP_AES128_CM_SHA1_80 (lib/srtp.c's suites).
 * 0, -EINVAL (no key, or a key type other than those two) or RV_ETLS with
 * the reason in ERR (ERRLEN bytes, may be NULL). *OUT is owned by the
 * caller (rv_dtls_ctx_free); sessions hold their own reference, so the
 * context may be freed before them. */
int rv_dtls_ctx_new(struct rv_dtls_ctx **out, struct evp_pkey_st *key, int srtp,
		    char *err, size_t errlen);
void rv_dtls_ctx_free(struct rv_dtls_ctx *ctx);
/* rv_dtls_ctx_fingerprint - the certificate's SHA-256 fingerprint as
 * "AB:CD:..." (95 characters), as SDP's a=fingerprint:sha-256 wants it. The
 * string belongs to CTX. */
const char *rv_dtls_ctx_fingerprint(const struct rv_dtls_ctx *ctx);

/* rv_dtls_new - one association's engine. SERVER 1 waits for the
 * ClientHello (accept state), 0 is the client (connect state, speaks at
 * rv_dtls_start). 0, -EINVAL, -ENOMEM, or -EOPNOTSUPP for a server on an
 * Ed25519 context (see above). *OUT is owned by the caller (rv_dtls_free). */
int rv_dtls_new(struct rv_dtls **out, struct rv_dtls_ctx *ctx, int server);
void rv_dtls_free(struct rv_dtls *s);

/* rv_dtls_start - client: queue the ClientHello (take it). Server: nothing.
 * 0 or RV_ETLS. */
int rv_dtls_start(struct rv_dtls *s);
/* rv_dtls_feed - one datagram P (N bytes) from the peer; advances the
 * handshake and queues received messages for rv_dtls_read. Take afterwards.
 * Returns 0 when it was accepted (a record that fails its checks inside is
 * dropped silently, as RFC 6347 4.1.2.7 asks: the session goes on),
 * RV_EPROTO when it is not DTLS by its first byte or is shorter than a
 * record header (refused untouched, the session goes on), RV_ETOOBIG past
 * RV_DTLS_MAX_DATAGRAM (refused), RV_ECLOSED once closed (ignored), or
 * RV_ETLS: the session failed (a well-formed record with a bad handshake
 * message, a failed handshake, or already failed). */
int rv_dtls_feed(struct rv_dtls *s, const uint8_t *p, size_t n);
/* rv_dtls_take - the next datagram to send into BUF (CAP bytes): its length
 * (at most RV_DTLS_MTU), 0 when nothing waits, or RV_ETOOBIG when it does
 * not fit CAP (it stays queued; CAP >= RV_DTLS_MTU always fits). Works in
 * every state (a failed session may have an alert to send). */
ssize_t rv_dtls_take(struct rv_dtls *s, uint8_t *buf, size_t cap);

/* rv_dtls_timeout_ms - while handshaking with a flight out, the
 * milliseconds until rv_dtls_on_timeout is due (0: now); -1 when no timer
 * runs (not started, server before the ClientHello, connected, closed or
 * failed). */
int64_t rv_dtls_timeout_ms(const struct rv_dtls *s);
/* rv_dtls_on_timeout - retransmit the last flight if its time has come
 * (take it). 0, or RV_ETLS when the retransmission limit was reached (the
 * session failed). Ignored outside the handshake. */
int rv_dtls_on_timeout(struct rv_dtls *s);

/* rv_dtls_state - the session's enum rv_dtls_state. */
int rv_dtls_state(const struct rv_dtls *s);
/* rv_dtls_errstr - the failure's text ("handshake failed: ..."), or
 * "no error". The string belongs to S. */
const char *rv_dtls_errstr(const struct rv_dtls *s);

/* rv_dtls_max_write - the largest message rv_dtls_write takes now (0 before
 * the handshake is done). */
size_t rv_dtls_max_write(const struct rv_dtls *s);
/* rv_dtls_write - encrypt one message of N bytes into one record (take it).
 * 0; -ENOTCONN unless connected; RV_ETOOBIG past rv_dtls_max_write;
 * RV_ELIMIT when RV_DTLS_TAKE_CAP bytes wait untaken; RV_ETLS (failed). */
int rv_dtls_write(struct rv_dtls *s, const void *p, size_t n);
/* rv_dtls_read - the next message received into BUF (CAP bytes): its
 * length (never more than RV_DTLS_MTU: longer records are dropped), 0 when
 * none waits, RV_ETOOBIG when it does not fit CAP (it stays queued). */
ssize_t rv_dtls_read(struct rv_dtls *s, uint8_t *buf, size_t cap);
/* rv_dtls_dropped - messages dropped so far (past RV_DTLS_READ_CAP, or
 * longer than RV_DTLS_MTU). */
uint64_t rv_dtls_dropped(const struct rv_dtls *s);
/* rv_dtls_close - queue a close_notify (take it) and enter RV_DTLS_CLOSED.
 * Nothing is sent unless connected. */
void rv_dtls_close(struct rv_dtls *s);

/* rv_dtls_peer_fingerprint - SHA-256 of the peer certificate's DER into
 * FP: 0, or -ENOENT while there is none (before the peer's Certificate). */
int rv_dtls_peer_fingerprint(const struct rv_dtls *s, uint8_t fp[RV_DTLS_FP_LEN]);
/* rv_dtls_fingerprint_parse - "AB:CD:..." (either case) into FP: 0 or
 * RV_EPROTO. */
int rv_dtls_fingerprint_parse(const char *text, uint8_t fp[RV_DTLS_FP_LEN]);
/* rv_dtls_fingerprint_check - 0 when the peer certificate's fingerprint is
 * TEXT ("AB:CD:...", compared in constant time), RV_EDENIED when it is
 * not, RV_EPROTO when TEXT is malformed, -ENOENT with no peer certificate. */
int rv_dtls_fingerprint_check(const struct rv_dtls *s, const char *text);
/* rv_dtls_peer_pubkey_raw - the peer certificate's Ed25519 public key into
 * PUB: 0, -ENOENT with no peer certificate, RV_EPROTO when its key is not
 * Ed25519. */
int rv_dtls_peer_pubkey_raw(const struct rv_dtls *s, uint8_t pub[RV_DTLS_ED25519_LEN]);

/* The SRTP keys of a connected session (RFC 5764 4.2): the keying material
 * clientKey|serverKey|clientSalt|serverSalt, split by our role. */
struct rv_dtls_srtp {
	int suite;                          /* enum rv_srtp_suite */
	size_t len;                         /* key and salt: rv_srtp_key_len(suite) */
	uint8_t local[RV_SRTP_MAX_KEY];     /* key||salt we protect with */
	uint8_t remote[RV_SRTP_MAX_KEY];    /* key||salt we unprotect with */
};

/* rv_dtls_srtp_keys - export the SRTP keys into OUT: 0, -ENOTCONN unless
 * connected, RV_EPROTO when no SRTP profile was negotiated (the context
 * without SRTP, or a peer without use_srtp), RV_ETLS (export failed). OUT
 * holds secrets: the caller wipes it (OPENSSL_cleanse) after use. */
int rv_dtls_srtp_keys(struct rv_dtls *s, struct rv_dtls_srtp *out);

/* rv_dtls_export - LEN bytes (at most RV_DTLS_EXPORT_MAX) of keying
 * material for LABEL (RFC 5705, no context), the same at both ends of the
 * session: what binds a proof made inside the session to this session
 * (peer groups sign it with their identity key). 0, -ENOTCONN unless
 * connected, -EINVAL for a length past the max, RV_ETLS. */
#define RV_DTLS_EXPORT_MAX 64
int rv_dtls_export(struct rv_dtls *s, const char *label, uint8_t *out, size_t len);

#endif
