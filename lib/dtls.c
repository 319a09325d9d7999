/* dtls.c - DTLS 1.2 as a pure engine over two OpenSSL memory BIOs (see
 * dtls.h).
 *
 * Each session's SSL object reads the datagram rv_dtls_feed() put into RBIO
 * and writes records into WBIO, which rv_dtls_take() cuts into datagrams on
 * record boundaries. A feed is processed to the end before it returns (the
 * handshake advanced, every application record moved into a queue), so RBIO
 * never holds more than one datagram: OpenSSL reads a memory BIO as one
 * packet, and a bad record must not take a later datagram with it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "bytes.h"
#include "dtls.h"
#include "err.h"
#include "sslmem.h"

#define RV__DTLS_HDR 13             /* record header; length at offset 11 */
/* ECDSA suites only (an ECDHE_RSA offer with an ECDSA certificate stalls
 * some stacks: webrtc-rs/webrtc #808); OpenSSL signs with Ed25519 under
 * the same aECDSA suites. */
#define RV__DTLS_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384"
#define RV__DTLS_GROUPS "X25519:P-256"
#define RV__DTLS_SRTP "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
#define RV__DTLS_T0_US 200000u      /* first retransmission delay */
#define RV__DTLS_TMAX_US 4000000u   /* its cap */

struct rv_dtls_ctx {
	SSL_CTX *ssl;
	int ed25519;            /* the key is Ed25519: client role only */
	char fp[RV_DTLS_FP_TEXT];
};

struct rv_dtls {
	SSL *ssl;
	BIO *rbio;              /* network -> engine (owned by SSL) */
	BIO *wbio;              /* engine -> network (owned by SSL) */
	int server;
	int state;              /* enum rv_dtls_state */
	size_t data_mtu;        /* rv_dtls_max_write's answer, fixed once connected
				 * (no renegotiation): read once, not per record */
	struct rv_buf rq;       /* received messages: u16 length, bytes */
	uint64_t dropped;
	char err[256];
};

int rv_dtls_demux(const uint8_t *p, size_t n)
{
	if (n == 0)
		return RV_DEMUX_OTHER;
	if (p[0] <= 3)
		return RV_DEMUX_STUN;
	if (p[0] >= 20 && p[0] <= 63)
		return RV_DEMUX_DTLS;
	if (p[0] >= 64 && p[0] <= 79)
		return RV_DEMUX_TURN;
	if (p[0] >= 128 && p[0] <= 191)
		return RV_DEMUX_RTP;
	return RV_DEMUX_OTHER;
}

int rv_dtls_key_p256(struct evp_pkey_st **out)
{
	*out = EVP_EC_gen("P-256");
	ERR_clear_error();
	return *out ? 0 : -ENOMEM;
}

/* Describe the first error on OpenSSL's queue into ERR, then clear it. */
static void rv__dtls_ctx_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, reason ? reason : "unknown error");
	ERR_clear_error();
}

/* A self-signed certificate for KEY: random positive 63-bit serial, CN
 * "rvkit", valid from a day ago for 30 days. NULL on failure. */
static X509 *rv__dtls_cert(EVP_PKEY *key)
{
	unsigned char rnd[8];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	int ok = x && RAND_bytes(rnd, sizeof rnd) == 1;

	if (ok) {
		rnd[0] &= 0x7f;
		bn = BN_bin2bn(rnd, sizeof rnd, NULL);
	}
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	ok = ok && bn && X509_set_version(x, X509_VERSION_3) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -86400L) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400L) &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"rvkit", -1, -1, 0) &&
	     X509_set_issuer_name(x, name);
	/* Ed25519 signs the whole message: no digest. */
	const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	ok = ok && X509_sign(x, key, md) > 0;
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* FP as "AB:CD:..." into TEXT. */
static void rv__dtls_fp_text(const uint8_t fp[RV_DTLS_FP_LEN], char text[RV_DTLS_FP_TEXT])
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < RV_DTLS_FP_LEN; i++) {
		text[3 * i] = hex[fp[i] >> 4];
		text[3 * i + 1] = hex[fp[i] & 15];
		text[3 * i + 2] = ':';
	}
	text[RV_DTLS_FP_TEXT - 1] = '\0';       /* over the last ':' */
}

static int rv__dtls_cert_fp(const X509 *x, uint8_t fp[RV_DTLS_FP_LEN])
{
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != RV_DTLS_FP_LEN) {
		ERR_clear_error();
		return RV_ETLS;
	}
	return 0;
}

/* Accept any certificate: the caller checks the peer's after the handshake
 * (fingerprint or raw key). The handshake itself still proves the peer
 * holds the certificate's key. */
static int rv__dtls_verify(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

/* The context's options (dtls.h, webrtc-media.md 3). 0 or -1. */
static int rv__dtls_ctx_setup(SSL_CTX *c, EVP_PKEY *key, X509 *x, int srtp)
{
	SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, rv__dtls_verify);
	if (!SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) ||
	    SSL_CTX_set_cipher_list(c, RV__DTLS_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(c, RV__DTLS_GROUPS) != 1 ||
	    SSL_CTX_use_certificate(c, x) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1 ||
	    SSL_CTX_check_private_key(c) != 1)
		return -1;
	/* Note the inverted convention: 0 is success here. */
	if (srtp && SSL_CTX_set_tlsext_use_srtp(c, RV__DTLS_SRTP) != 0)
		return -1;
	return 0;
}

int rv_dtls_ctx_new(struct rv_dtls_ctx **out, struct evp_pkey_st *key, int srtp,
		    char *err, size_t errlen)
{
	*out = NULL;
	int type = key ? EVP_PKEY_get_base_id(key) : 0;
	if (type != EVP_PKEY_EC && type != EVP_PKEY_ED25519) {
		if (err && errlen)
			snprintf(err, errlen, "DTLS key: ECDSA or Ed25519 wanted");
		return -EINVAL;
	}
	struct rv_dtls_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	X509 *x = rv__dtls_cert(key);
	uint8_t fp[RV_DTLS_FP_LEN];
	if (!x || rv__dtls_cert_fp(x, fp) < 0) {
		rv__dtls_ctx_err(err, errlen, "cannot make DTLS certificate");
		goto fail;
	}
	rv__dtls_fp_text(fp, c->fp);
	c->ed25519 = type == EVP_PKEY_ED25519;
	c->ssl = SSL_CTX_new(DTLS_method());
	if (!c->ssl || rv__dtls_ctx_setup(c->ssl, key, x, srtp) < 0) {
		rv__dtls_ctx_err(err, errlen, "cannot create DTLS context");
		goto fail;
	}
	X509_free(x);           /* the SSL_CTX holds its own reference */
	*out = c;
	return 0;
fail:
	X509_free(x);
	SSL_CTX_free(c->ssl);
	free(c);
	return RV_ETLS;
}

void rv_dtls_ctx_free(struct rv_dtls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);         /* live sessions hold their own ref */
	free(ctx);
}

const char *rv_dtls_ctx_fingerprint(const struct rv_dtls_ctx *ctx)
{
	return ctx->fp;
}

/* The retransmission delay: 200 ms, doubling, capped at 4 s. */
static unsigned int rv__dtls_timer(SSL *ssl, unsigned int us)
{
	(void)ssl;
	if (us == 0)
		return RV__DTLS_T0_US;
	return us >= RV__DTLS_TMAX_US / 2 ? RV__DTLS_TMAX_US : 2 * us;
}

int rv_dtls_new(struct rv_dtls **out, struct rv_dtls_ctx *ctx, int server)
{
	*out = NULL;
	if (!ctx)
		return -EINVAL;
	if (server && ctx->ed25519)
		return -EOPNOTSUPP;     /* OpenSSL 3.0: "no shared cipher" (dtls.h) */
	struct rv_dtls *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->server = server;
	s->state = RV_DTLS_HANDSHAKING;
	rv_buf_init(&s->rq, RV_DTLS_READ_CAP);
	s->ssl = rv_sslmem_new(ctx->ssl, &s->rbio, &s->wbio);
	if (!s->ssl) {
		rv_buf_free(&s->rq);
		free(s);
		return -ENOMEM;
	}
	SSL_set_mtu(s->ssl, RV_DTLS_MTU);
	DTLS_set_link_mtu(s->ssl, RV_DTLS_MTU);
	DTLS_set_timer_cb(s->ssl, rv__dtls_timer);
	if (server)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
	*out = s;
	return 0;
}

void rv_dtls_free(struct rv_dtls *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	rv_buf_free(&s->rq);
	free(s);
}

/* Record why the last call failed and mark the session failed. */
static int rv__dtls_fail(struct rv_dtls *s, int ssl_err)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	const char *what = s->state == RV_DTLS_HANDSHAKING ? "DTLS handshake failed" : "DTLS error";

	s->state = RV_DTLS_FAILED;
	if (reason)
		snprintf(s->err, sizeof s->err, "%s: %s", what, reason);
	else
		snprintf(s->err, sizeof s->err, "%s (SSL error %d)", what, ssl_err);
	ERR_clear_error();
	return RV_ETLS;
}

/* Queue one received message, or count it dropped. */
static void rv__dtls_queue(struct rv_dtls *s, const uint8_t *p, size_t n)
{
	uint8_t *dst = n <= RV_DTLS_MTU ? rv_buf_reserve(&s->rq, 2 + n) : NULL;

	if (!dst) {
		s->dropped++;
		return;
	}
	rv_wr16(dst, (uint16_t)n);
	memcpy(dst + 2, p, n);
	rv_buf_commit(&s->rq, 2 + n);
}

/* Read every application record OpenSSL has into the queue (this also
 * answers a retransmitted Finished and sees close_notify). */
/* The error queue emptied before a call whose SSL_get_error reads it: on
 * the per-record paths only when it holds something (ERR_clear_error
 * itself walks all its slots, a quarter of a microsecond, every time). */
static void rv__dtls_clear_errors(void)
{
	if (ERR_peek_error())
		ERR_clear_error();
}

static int rv__dtls_drain(struct rv_dtls *s)
{
	uint8_t rec[SSL3_RT_MAX_PLAIN_LENGTH];

	while (s->state == RV_DTLS_CONNECTED) {
		size_t n = 0;
		rv__dtls_clear_errors();
		int r = SSL_read_ex(s->ssl, rec, sizeof rec, &n);
		if (r == 1) {
			rv__dtls_queue(s, rec, n);
			continue;
		}
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			s->state = RV_DTLS_CLOSED;
			break;
		}
		return rv__dtls_fail(s, e);
	}
	rv__dtls_clear_errors();
	return 0;
}

/* Advance the handshake as far as the datagrams fed allow, then read. */
static int rv__dtls_advance(struct rv_dtls *s)
{
	if (s->state == RV_DTLS_HANDSHAKING) {
		ERR_clear_error();
		int r = SSL_do_handshake(s->ssl);
		if (r != 1) {
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				return 0;
			}
			return rv__dtls_fail(s, e);
		}
		s->state = RV_DTLS_CONNECTED;
		size_t mtu = DTLS_get_data_mtu(s->ssl);
		s->data_mtu = mtu < RV_DTLS_MTU ? mtu : RV_DTLS_MTU;
	}
	return rv__dtls_drain(s);
}

int rv_dtls_start(struct rv_dtls *s)
{
	if (s->state == RV_DTLS_FAILED)
		return RV_ETLS;
	if (s->server || s->state != RV_DTLS_HANDSHAKING)
		return 0;       /* the server speaks when the ClientHello arrives */
	return rv__dtls_advance(s);
}

int rv_dtls_feed(struct rv_dtls *s, const uint8_t *p, size_t n)
{
	if (s->state == RV_DTLS_FAILED)
		return RV_ETLS;
	if (s->state == RV_DTLS_CLOSED)
		return RV_ECLOSED;
	if (n > RV_DTLS_MAX_DATAGRAM)
		return RV_ETOOBIG;
	if (n < RV__DTLS_HDR || rv_dtls_demux(p, n) != RV_DEMUX_DTLS)
		return RV_EPROTO;
	if (BIO_write(s->rbio, p, (int)n) != (int)n) {
		ERR_clear_error();
		return -ENOMEM;
	}
	int rc = rv__dtls_advance(s);
	/* Whatever OpenSSL left unread (a truncated record) goes: the next
	 * datagram starts clean. */
	(void)BIO_reset(s->rbio);
	return rc;
}

/* The bytes of the whole records at the head of P (N bytes) that fit one
 * datagram; 0 when the first record is longer than RV_DTLS_MTU or cut. */
static size_t rv__dtls_cut(const uint8_t *p, size_t n)
{
	size_t used = 0;

	while (n - used >= RV__DTLS_HDR) {
		size_t rec = RV__DTLS_HDR + rv_rd16(p + used + 11);
		if (rec > n - used || used + rec > RV_DTLS_MTU)
			break;
		used += rec;
	}
	return used;
}

ssize_t rv_dtls_take(struct rv_dtls *s, uint8_t *buf, size_t cap)
{
	for (;;) {
		char *data = NULL;
		long have = BIO_get_mem_data(s->wbio, &data);
		if (have <= 0 || !data)
			return 0;
		size_t n = rv__dtls_cut((const uint8_t *)data, (size_t)have);
		if (n == 0) {
			/* OpenSSL writes whole records of at most the MTU: this
			 * cannot happen, and must not be sent if it does. */
			(void)BIO_reset(s->wbio);
			return 0;
		}
		if (n > cap)
			return RV_ETOOBIG;
		if (BIO_read(s->wbio, buf, (int)n) != (int)n) {
			ERR_clear_error();
			(void)BIO_reset(s->wbio);
			continue;
		}
		return (ssize_t)n;
	}
}

int64_t rv_dtls_timeout_ms(const struct rv_dtls *s)
{
	struct timeval tv;

	if (s->state != RV_DTLS_HANDSHAKING || DTLSv1_get_timeout(s->ssl, &tv) != 1)
		return -1;
	return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int rv_dtls_on_timeout(struct rv_dtls *s)
{
	if (s->state != RV_DTLS_HANDSHAKING)
		return s->state == RV_DTLS_FAILED ? RV_ETLS : 0;
	ERR_clear_error();
	if (DTLSv1_handle_timeout(s->ssl) < 0)
		return rv__dtls_fail(s, SSL_ERROR_SSL);
	ERR_clear_error();
	return 0;
}

int rv_dtls_state(const struct rv_dtls *s)
{
	return s->state;
}

const char *rv_dtls_errstr(const struct rv_dtls *s)
{
	return s->err[0] ? s->err : "no error";
}

size_t rv_dtls_max_write(const struct rv_dtls *s)
{
	return s->state == RV_DTLS_CONNECTED ? s->data_mtu : 0;
}

int rv_dtls_write(struct rv_dtls *s, const void *p, size_t n)
{
	if (s->state == RV_DTLS_FAILED)
		return RV_ETLS;
	if (s->state != RV_DTLS_CONNECTED)
		return -ENOTCONN;
	if (n > rv_dtls_max_write(s))
		return RV_ETOOBIG;
	if (n == 0)
		return 0;
	if (BIO_ctrl_pending(s->wbio) > RV_DTLS_TAKE_CAP - n)
		return RV_ELIMIT;
	size_t done = 0;
	rv__dtls_clear_errors();
	int r = SSL_write_ex(s->ssl, p, n, &done);
	if (r != 1)
		return rv__dtls_fail(s, SSL_get_error(s->ssl, r));
	return 0;
}

ssize_t rv_dtls_read(struct rv_dtls *s, uint8_t *buf, size_t cap)
{
	if (rv_buf_size(&s->rq) < 2)
		return 0;
	size_t n = rv_rd16(rv_buf_head(&s->rq));
	if (n > cap)
		return RV_ETOOBIG;
	memcpy(buf, rv_buf_head(&s->rq) + 2, n);
	rv_buf_consume(&s->rq, 2 + n);
	return (ssize_t)n;
}

uint64_t rv_dtls_dropped(const struct rv_dtls *s)
{
	return s->dropped;
}

void rv_dtls_close(struct rv_dtls *s)
{
	if (s->state == RV_DTLS_CONNECTED) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);   /* writes close_notify into WBIO */
		ERR_clear_error();
	}
	if (s->state != RV_DTLS_FAILED)
		s->state = RV_DTLS_CLOSED;
}

int rv_dtls_peer_fingerprint(const struct rv_dtls *s, uint8_t fp[RV_DTLS_FP_LEN])
{
	X509 *x = SSL_get0_peer_certificate(s->ssl);

	if (!x)
		return -ENOENT;
	return rv__dtls_cert_fp(x, fp);
}

static int rv__dtls_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rv_dtls_fingerprint_parse(const char *text, uint8_t fp[RV_DTLS_FP_LEN])
{
	if (!text || strlen(text) != RV_DTLS_FP_TEXT - 1)
		return RV_EPROTO;
	for (size_t i = 0; i < RV_DTLS_FP_LEN; i++) {
		const char *t = text + 3 * i;
		int hi = rv__dtls_hex(t[0]), lo = rv__dtls_hex(t[1]);
		if (hi < 0 || lo < 0 || (i + 1 < RV_DTLS_FP_LEN && t[2] != ':'))
			return RV_EPROTO;
		fp[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int rv_dtls_fingerprint_check(const struct rv_dtls *s, const char *text)
{
	uint8_t want[RV_DTLS_FP_LEN], have[RV_DTLS_FP_LEN];

	if (rv_dtls_fingerprint_parse(text, want) < 0)
		return RV_EPROTO;
	int rc = rv_dtls_peer_fingerprint(s, have);
	if (rc < 0)
		return rc;
	return CRYPTO_memcmp(want, have, RV_DTLS_FP_LEN) == 0 ? 0 : RV_EDENIED;
}

int rv_dtls_peer_pubkey_raw(const struct rv_dtls *s, uint8_t pub[RV_DTLS_ED25519_LEN])
{
	X509 *x = SSL_get0_peer_certificate(s->ssl);
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
	size_t n = RV_DTLS_ED25519_LEN;

	if (!x)
		return -ENOENT;
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != RV_DTLS_ED25519_LEN) {
		ERR_clear_error();
		return RV_EPROTO;
	}
	return 0;
}

int rv_dtls_export(struct rv_dtls *s, const char *label, uint8_t *out, size_t len)
{
	if (s->state != RV_DTLS_CONNECTED)
		return -ENOTCONN;
	if (len == 0 || len > RV_DTLS_EXPORT_MAX)
		return -EINVAL;
	if (SSL_export_keying_material(s->ssl, out, len, label, strlen(label), NULL, 0, 0) != 1) {
		ERR_clear_error();
		return RV_ETLS;
	}
	return 0;
}

int rv_dtls_srtp_keys(struct rv_dtls *s, struct rv_dtls_srtp *out)
{
	static const char label[] = "EXTRACTOR-dtls_srtp";
	uint8_t km[2 * RV_SRTP_MAX_KEY];

	memset(out, 0, sizeof *out);
	if (s->state != RV_DTLS_CONNECTED)
		return -ENOTCONN;
	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(s->ssl);
	int suite = !prof ? RV_SRTP_NONE
		    : prof->id == SRTP_AES128_CM_SHA1_80 ? RV_SRTP_AES_CM_128_HMAC_SHA1_80
		    : prof->id == SRTP_AEAD_AES_128_GCM ? RV_SRTP_AEAD_AES_128_GCM : RV_SRTP_NONE;
	if (suite == RV_SRTP_NONE)
		return RV_EPROTO;
	size_t len = rv_srtp_key_len(suite), k = 16, salt = len - k;
	if (SSL_export_keying_material(s->ssl, km, 2 * len, label, sizeof label - 1,
				       NULL, 0, 0) != 1) {
		ERR_clear_error();
		return RV_ETLS;
	}
	/* clientKey | serverKey | clientSalt | serverSalt */
	const uint8_t *ck = km, *sk = km + k, *cs = km + 2 * k, *ss = km + 2 * k + salt;
	uint8_t *cli = s->server ? out->remote : out->local;
	uint8_t *srv = s->server ? out->local : out->remote;
	memcpy(cli, ck, k);
	memcpy(cli + k, cs, salt);
	memcpy(srv, sk, k);
	memcpy(srv + k, ss, salt);
	OPENSSL_cleanse(km, sizeof km);
	out->suite = suite;
	out->len = len;
	return 0;
}
