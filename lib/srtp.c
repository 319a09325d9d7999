/* srtp.c - SRTP and SRTCP on libsrtp2 (see srtp.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>
#ifdef RV_SRTP_NSS
#include <nss.h>
#endif

#include "err.h"
#include "rtp.h"
#include "srtp.h"

struct rv_srtp {
	srtp_t ctx;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc;

/* libsrtp2 built on NSS (Debian's) opens NSS in every cipher it makes and
 * asks for the space-optimized softoken: 32 hash buckets for its sessions
 * and its objects. Each key imported holds a softoken session, and each
 * packet opens one more (C_OpenSession walks the chain of its bucket under
 * a lock) and looks its key up (another chain): with 100 WebRTC viewers,
 * about 400 SRTP sessions and 800 keys, those walks were a quarter of
 * rvserver's CPU. NSS is set up once per process, by the first caller's
 * flags: opening it here first, without NSS_INIT_OPTIMIZESPACE, gives the
 * time-optimized tables (1024 buckets), and libsrtp2's own contexts join
 * ours. Ours stays open for the process, which also spares NSS a shutdown
 * and a fresh start whenever the last SRTP session goes. */
static void init(void)
{
#ifdef RV_SRTP_NSS
	if (!NSS_InitContext("", "", "", "", NULL,
			     NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_FORCEOPEN |
				     NSS_INIT_NOROOTINIT)) {
		init_rc = RV_ETLS;
		return;
	}
#endif
	init_rc = srtp_init() == srtp_err_status_ok ? 0 : RV_ETLS;
}

int rv_srtp_init(void)
{
	pthread_once(&once, init);
	return init_rc;
}

int rv_srtp_suite(const char *name)
{
	if (!name)
		return RV_SRTP_NONE;
	if (!strcmp(name, "AES_CM_128_HMAC_SHA1_80"))
		return RV_SRTP_AES_CM_128_HMAC_SHA1_80;
	if (!strcmp(name, "AEAD_AES_128_GCM"))
		return RV_SRTP_AEAD_AES_128_GCM;
	return RV_SRTP_NONE;
}

const char *rv_srtp_suite_name(int suite)
{
	return suite == RV_SRTP_AES_CM_128_HMAC_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
	       : suite == RV_SRTP_AEAD_AES_128_GCM   ? "AEAD_AES_128_GCM" : "none";
}

size_t rv_srtp_key_len(int suite)
{
	return suite == RV_SRTP_AES_CM_128_HMAC_SHA1_80 ? SRTP_AES_ICM_128_KEY_LEN_WSALT
	       : suite == RV_SRTP_AEAD_AES_128_GCM   ? SRTP_AES_GCM_128_KEY_LEN_WSALT : 0;
}

int rv_srtp_new_key(int suite, char b64[64])
{
	uint8_t key[RV_SRTP_MAX_KEY];
	size_t n = rv_srtp_key_len(suite);
	if (!n || RAND_bytes(key, (int)n) != 1)
		return RV_ETLS;
	EVP_EncodeBlock((unsigned char *)b64, key, (int)n);
	return 0;
}

int rv_srtp_new(struct rv_srtp **out, int suite, const char *b64, int outbound)
{
	uint8_t key[64];
	size_t want = rv_srtp_key_len(suite), bl = b64 ? strlen(b64) : 0;
	*out = NULL;
	/* base64 of 30 or 28 bytes: 40 characters, with padding */
	if (!want || bl == 0 || bl > 60 || bl % 4)
		return RV_EPROTO;
	int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)bl);
	while (n > 0 && bl && b64[--bl] == '=')
		n--;
	if (n < 0 || (size_t)n != want)
		return RV_EPROTO;
	int rc = rv_srtp_new_raw(out, suite, key, (size_t)n, outbound);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

int rv_srtp_new_raw(struct rv_srtp **out, int suite, const uint8_t *key, size_t len,
		    int outbound)
{
	uint8_t k[RV_SRTP_MAX_KEY];
	*out = NULL;
	if (rv_srtp_init() < 0)
		return init_rc;
	if (!rv_srtp_key_len(suite) || len != rv_srtp_key_len(suite))
		return RV_EPROTO;
	memcpy(k, key, len);         /* libsrtp takes a non-const key */
	srtp_policy_t p;
	memset(&p, 0, sizeof p);
	if (suite == RV_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
	} else {
		srtp_crypto_policy_set_rtp_default(&p.rtp);
		srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	}
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.key = k;
	p.window_size = 1024;        /* NACKed packets come back late */
	p.allow_repeat_tx = 1;       /* and may be sent twice */
	struct rv_srtp *s = calloc(1, sizeof *s);
	int rc = 0;
	if (!s)
		rc = -ENOMEM;
	else if (srtp_create(&s->ctx, &p) != srtp_err_status_ok)
		rc = RV_ETLS;
	OPENSSL_cleanse(k, sizeof k);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int rv_srtp_protect(struct rv_srtp *s, uint8_t *p, size_t *n)
{
	int len = (int)*n;
	srtp_err_status_t rc = rv_rtp_is_rtcp(p, *n) ? srtp_protect_rtcp(s->ctx, p, &len)
						     : srtp_protect(s->ctx, p, &len);
	if (rc != srtp_err_status_ok)
		return RV_EPROTO;
	*n = (size_t)len;
	return 0;
}

int rv_srtp_unprotect(struct rv_srtp *s, uint8_t *p, size_t *n)
{
	int len = (int)*n;
	if (*n < 12)
		return RV_EPROTO;
	srtp_err_status_t rc = rv_rtp_is_rtcp(p, *n) ? srtp_unprotect_rtcp(s->ctx, p, &len)
						     : srtp_unprotect(s->ctx, p, &len);
	if (rc != srtp_err_status_ok)
		return RV_EPROTO;
	*n = (size_t)len;
	return 0;
}

void rv_srtp_free(struct rv_srtp *s)
{
	if (!s)
		return;
	srtp_dealloc(s->ctx);
	free(s);
}
