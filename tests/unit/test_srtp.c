/* test_srtp.c - SRTP and SRTCP through lib/srtp.c: what one side protects
 * the other unprotects; tampering, replays, wrong keys and bad keys fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#ifdef RV_SRTP_NSS
#include <nss.h>
#endif

#include "err.h"
#include "rtp.h"
#include "srtp.h"

static size_t rtp_packet(uint8_t *p, uint16_t seq)
{
	struct rv_rtp r = { .pt = 96, .seq = seq, .ts = 1000u * seq, .ssrc = 0x11223344 };
	rv_rtp_header(p, &r);
	for (int i = 0; i < 100; i++)
		p[RV_RTP_HEADER + i] = (uint8_t)(i * 7 + seq);
	return RV_RTP_HEADER + 100;
}

static void round_trip(int suite)
{
	char key[64];
	struct rv_srtp *tx, *rx;
	assert_int_equal(rv_srtp_new_key(suite, key), 0);
	assert_int_equal(rv_srtp_new(&tx, suite, key, 1), 0);
	assert_int_equal(rv_srtp_new(&rx, suite, key, 0), 0);
	uint8_t p[RV_RTP_HEADER + 100 + RV_SRTP_MAX_TRAILER], plain[sizeof p], copy[sizeof p];
	for (uint16_t seq = 10; seq < 20; seq++) {
		size_t n = rtp_packet(p, seq), plen = n;
		memcpy(plain, p, n);
		assert_int_equal(rv_srtp_protect(tx, p, &n), 0);
		assert_true(n > plen);                                   /* a tag was added */
		assert_memory_equal(p, plain, RV_RTP_HEADER);            /* the header stays clear */
		assert_memory_not_equal(p + RV_RTP_HEADER, plain + RV_RTP_HEADER, 100);
		memcpy(copy, p, n);
		size_t cn = n;
		if (seq == 15) {	/* a flipped bit fails authentication */
			copy[RV_RTP_HEADER + 3] ^= 1;
			assert_int_not_equal(rv_srtp_unprotect(rx, copy, &cn), 0);
		}
		assert_int_equal(rv_srtp_unprotect(rx, p, &n), 0);
		assert_int_equal(n, plen);
		assert_memory_equal(p, plain, n);
	}
	/* a replay of seq 19 is refused */
	size_t n = rtp_packet(p, 19);
	struct rv_srtp *tx2;
	assert_int_equal(rv_srtp_new(&tx2, suite, key, 1), 0);
	assert_int_equal(rv_srtp_protect(tx2, p, &n), 0);
	assert_int_not_equal(rv_srtp_unprotect(rx, p, &n), 0);
	/* RTCP: a PLI goes through SRTCP */
	uint8_t c[64 + RV_SRTP_MAX_TRAILER];
	int cl = rv_rtcp_build_pli(c, 64, 0xabcdef01, 0x11223344);
	assert_true(cl > 0);
	size_t cn = (size_t)cl;
	assert_int_equal(rv_srtp_protect(tx2, c, &cn), 0);
	assert_true(cn > (size_t)cl);
	assert_int_equal(rv_srtp_unprotect(rx, c, &cn), 0);
	assert_int_equal(cn, (size_t)cl);
	size_t off = 0;
	struct rv_rtcp fb;
	assert_int_equal(rv_rtcp_next(c, cn, &off, &fb), 1);
	assert_int_equal(fb.type, RV_RTCP_PSFB);
	assert_int_equal(fb.media_ssrc, 0x11223344);
	rv_srtp_free(tx);
	rv_srtp_free(tx2);
	rv_srtp_free(rx);
}

static void aes_cm(void **state)
{
	(void)state;
	round_trip(RV_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(rv_srtp_key_len(RV_SRTP_AES_CM_128_HMAC_SHA1_80), 30);
}

static void gcm(void **state)
{
	(void)state;
	round_trip(RV_SRTP_AEAD_AES_128_GCM);
	assert_int_equal(rv_srtp_key_len(RV_SRTP_AEAD_AES_128_GCM), 28);
}

static void wrong_and_bad_keys(void **state)
{
	(void)state;
	char k1[64], k2[64];
	struct rv_srtp *tx, *rx, *x;
	int suite = RV_SRTP_AES_CM_128_HMAC_SHA1_80;
	assert_int_equal(rv_srtp_new_key(suite, k1), 0);
	assert_int_equal(rv_srtp_new_key(suite, k2), 0);
	assert_string_not_equal(k1, k2);
	assert_int_equal(rv_srtp_new(&tx, suite, k1, 1), 0);
	assert_int_equal(rv_srtp_new(&rx, suite, k2, 0), 0);
	uint8_t p[RV_RTP_HEADER + 100 + RV_SRTP_MAX_TRAILER];
	size_t n = rtp_packet(p, 1);
	assert_int_equal(rv_srtp_protect(tx, p, &n), 0);
	assert_int_not_equal(rv_srtp_unprotect(rx, p, &n), 0);
	/* keys of the wrong length, not base64, missing; unknown suites */
	assert_int_not_equal(rv_srtp_new(&x, suite, "c2hvcnQ=", 0), 0);
	assert_int_not_equal(rv_srtp_new(&x, suite, "!!!!not-base64-at-all!!!!!!!!!!!!!!!!!!!", 0), 0);
	assert_int_not_equal(rv_srtp_new(&x, suite, NULL, 0), 0);
	assert_int_not_equal(rv_srtp_new(&x, RV_SRTP_AEAD_AES_128_GCM, k1, 0), 0);	/* 30 bytes, GCM takes 28 */
	assert_int_equal(rv_srtp_suite("AEAD_AES_128_GCM"), RV_SRTP_AEAD_AES_128_GCM);
	assert_int_equal(rv_srtp_suite("AES_CM_128_HMAC_SHA1_80"), RV_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(rv_srtp_suite("AES_CM_128_HMAC_SHA1_32"), RV_SRTP_NONE);
	rv_srtp_free(tx);
	rv_srtp_free(rx);
}

/* A raw key and salt (as DTLS-SRTP exports them) keys the same session as
 * its base64; wrong lengths are refused. */
static void raw_key(void **state)
{
	(void)state;
	for (int suite = RV_SRTP_AES_CM_128_HMAC_SHA1_80; suite <= RV_SRTP_AEAD_AES_128_GCM; suite++) {
		uint8_t raw[RV_SRTP_MAX_KEY];
		char b64[64];
		size_t len = rv_srtp_key_len(suite);
		for (size_t i = 0; i < len; i++)
			raw[i] = (uint8_t)(i * 13 + 5);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)len);
		struct rv_srtp *tx, *rx, *x;
		assert_int_equal(rv_srtp_new(&tx, suite, b64, 1), 0);
		assert_int_equal(rv_srtp_new_raw(&rx, suite, raw, len, 0), 0);
		uint8_t p[RV_RTP_HEADER + 100 + RV_SRTP_MAX_TRAILER], plain[sizeof p];
		size_t n = rtp_packet(p, 7);
		memcpy(plain, p, n);
		assert_int_equal(rv_srtp_protect(tx, p, &n), 0);
		assert_int_equal(rv_srtp_unprotect(rx, p, &n), 0);
		assert_memory_equal(p, plain, n);
		assert_int_equal(rv_srtp_new_raw(&x, suite, raw, len - 1, 0), RV_EPROTO);
		assert_null(x);
		assert_int_equal(rv_srtp_new_raw(&x, RV_SRTP_NONE, raw, len, 0), RV_EPROTO);
		rv_srtp_free(tx);
		rv_srtp_free(rx);
	}
}

#ifdef RV_SRTP_NSS
/* With libsrtp2 on NSS, lib/srtp.c opens NSS itself (time-optimized) and
 * keeps it open: NSS is up before libsrtp2's first cipher and stays up once
 * every session is gone, where libsrtp2 alone shuts it down with its last
 * cipher (and would set it up space-optimized again). */
static void nss_held(void **state)
{
	(void)state;
	char key[64];
	struct rv_srtp *s;
	assert_int_equal(rv_srtp_new_key(RV_SRTP_AEAD_AES_128_GCM, key), 0);
	assert_int_equal(rv_srtp_new(&s, RV_SRTP_AEAD_AES_128_GCM, key, 1), 0);
	assert_true(NSS_IsInitialized());
	rv_srtp_free(s);
	assert_true(NSS_IsInitialized());
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aes_cm),
		cmocka_unit_test(gcm),
		cmocka_unit_test(wrong_and_bad_keys),
		cmocka_unit_test(raw_key),
#ifdef RV_SRTP_NSS
		cmocka_unit_test(nss_held),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
