/* test_dtls.c - the DTLS engine (lib/dtls.c): a client engine and a server
 * engine handshake in memory, with the datagrams shuttled by the test: P-256
 * and Ed25519 identities, fingerprints, the peer's raw key, SRTP keys in
 * mirror image, application data, lost flights recovered through the timer,
 * garbage, close_notify, the caps. Every datagram taken is checked to be at
 * most RV_DTLS_MTU bytes. The last test prints the CPU of a handshake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "dtls.h"
#include "err.h"
#include "p2pkey.h"
#include "rtp.h"
#include "srtp.h"

enum { P256, ED25519 };

struct pair {
	EVP_PKEY *ckey, *skey;
	struct rv_p2p_key cp2p, sp2p;           /* when Ed25519 */
	struct rv_dtls_ctx *cctx, *sctx;
	struct rv_dtls *c, *s;
	unsigned drop_c, drop_s;                /* flights to lose, bit per flight */
	int drop_s_final;                       /* lose the server's last flight once */
	int finals_s;                           /* server flights sent once connected */
	int flights_c, flights_s;               /* flights taken so far */
	int timeouts;                           /* timer waits the pump made */
	size_t datagrams, max_len;
	double server_us;                       /* CPU in the server's feeds */
};

static double cpu_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static EVP_PKEY *make_key(int kind, struct rv_p2p_key *p2p)
{
	EVP_PKEY *k = NULL;
	if (kind == P256) {
		assert_int_equal(rv_dtls_key_p256(&k), 0);
		EVP_PKEY_up_ref(k);     /* pair_free frees both kinds alike */
		EVP_PKEY_free(k);
		return k;
	}
	assert_int_equal(rv_p2p_key_generate(p2p), 0);
	return p2p->pkey;
}

static void pair_init(struct pair *k, int ckind, int skind, int srtp)
{
	char err[256];
	memset(k, 0, sizeof *k);
	k->ckey = make_key(ckind, &k->cp2p);
	k->skey = make_key(skind, &k->sp2p);
	assert_int_equal(rv_dtls_ctx_new(&k->cctx, k->ckey, srtp, err, sizeof err), 0);
	assert_int_equal(rv_dtls_ctx_new(&k->sctx, k->skey, srtp, err, sizeof err), 0);
	assert_int_equal(rv_dtls_new(&k->c, k->cctx, 0), 0);
	assert_int_equal(rv_dtls_new(&k->s, k->sctx, 1), 0);
}

static void pair_free(struct pair *k)
{
	rv_dtls_free(k->c);
	rv_dtls_free(k->s);
	rv_dtls_ctx_free(k->cctx);
	rv_dtls_ctx_free(k->sctx);
	if (k->cp2p.pkey)
		rv_p2p_key_free(&k->cp2p);
	else
		EVP_PKEY_free(k->ckey);
	if (k->sp2p.pkey)
		rv_p2p_key_free(&k->sp2p);
	else
		EVP_PKEY_free(k->skey);
}

/* Move what FROM has to send into TO, unless this flight is to be lost.
 * Returns the number of datagrams taken. */
static int shuttle(struct pair *k, struct rv_dtls *from, struct rv_dtls *to,
		   unsigned drop, int *flights)
{
	uint8_t d[RV_DTLS_MTU];
	int n = 0;
	ssize_t len;
	int lose = *flights < 32 && ((drop >> *flights) & 1);
	if (from == k->s && rv_dtls_state(from) == RV_DTLS_CONNECTED && to == k->c &&
	    rv_dtls_state(to) != RV_DTLS_CONNECTED) {
		lose = lose || (k->drop_s_final && k->finals_s == 0);
		k->finals_s++;
	}
	while ((len = rv_dtls_take(from, d, sizeof d)) > 0) {
		assert_true(len <= RV_DTLS_MTU);
		k->datagrams++;
		if ((size_t)len > k->max_len)
			k->max_len = (size_t)len;
		n++;
		if (!lose && rv_dtls_state(to) != RV_DTLS_FAILED) {
			double t0 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
			int rc = rv_dtls_feed(to, d, (size_t)len);
			if (to == k->s)
				k->server_us += cpu_us(CLOCK_THREAD_CPUTIME_ID) - t0;
			assert_true(rc == 0 || rc == RV_ECLOSED);
		}
	}
	assert_int_equal(len, 0);
	if (n > 0)
		(*flights)++;
	return n;
}

static int both_connected(const struct pair *k)
{
	return rv_dtls_state(k->c) == RV_DTLS_CONNECTED && rv_dtls_state(k->s) == RV_DTLS_CONNECTED;
}

/* Wait for the sooner of the two timers (a few hundred ms at most here),
 * then tell both engines. */
static void wait_timer(struct pair *k)
{
	int64_t tc = rv_dtls_timeout_ms(k->c), ts = rv_dtls_timeout_ms(k->s);
	int64_t t = tc < 0 ? ts : ts < 0 ? tc : tc < ts ? tc : ts;
	assert_true(t >= 0 && t <= 4000);
	usleep((useconds_t)(t * 1000 + 2000));
	assert_int_equal(rv_dtls_on_timeout(k->c), 0);
	assert_int_equal(rv_dtls_on_timeout(k->s), 0);
	k->timeouts++;
}

/* Run the handshake to its end: shuttle flights, and when nothing moves,
 * let the timer resend. */
static void handshake(struct pair *k)
{
	assert_int_equal(rv_dtls_start(k->s), 0);
	assert_int_equal(rv_dtls_timeout_ms(k->s), -1);        /* nothing sent yet */
	assert_int_equal(rv_dtls_start(k->c), 0);
	int64_t t = rv_dtls_timeout_ms(k->c);
	assert_true(t > 0 && t <= 200);
	for (int round = 0; round < 40 && !both_connected(k); round++) {
		int moved = shuttle(k, k->c, k->s, k->drop_c, &k->flights_c);
		moved += shuttle(k, k->s, k->c, k->drop_s, &k->flights_s);
		if (!moved && !both_connected(k))
			wait_timer(k);
	}
	/* the server's last flight may still be on its way */
	shuttle(k, k->s, k->c, 0, &k->flights_s);
	assert_int_equal(rv_dtls_state(k->c), RV_DTLS_CONNECTED);
	assert_int_equal(rv_dtls_state(k->s), RV_DTLS_CONNECTED);
	assert_int_equal(rv_dtls_timeout_ms(k->c), -1);
	assert_int_equal(rv_dtls_timeout_ms(k->s), -1);
	assert_string_equal(rv_dtls_errstr(k->c), "no error");
}

/* MSG from A reaches B unchanged, as one message. */
static void send_msg(struct pair *k, struct rv_dtls *a, struct rv_dtls *b, const char *msg)
{
	uint8_t got[RV_DTLS_MTU];
	int f = 0;
	assert_int_equal(rv_dtls_write(a, msg, strlen(msg)), 0);
	shuttle(k, a, b, 0, &f);
	ssize_t n = rv_dtls_read(b, got, sizeof got);
	assert_int_equal(n, (ssize_t)strlen(msg));
	assert_memory_equal(got, msg, strlen(msg));
	assert_int_equal(rv_dtls_read(b, got, sizeof got), 0);
}

/* Each end sees the other's certificate by the fingerprint it announces. */
static void check_fingerprints(struct pair *k)
{
	const char *cfp = rv_dtls_ctx_fingerprint(k->cctx), *sfp = rv_dtls_ctx_fingerprint(k->sctx);
	assert_int_equal(strlen(cfp), 95);
	assert_string_not_equal(cfp, sfp);
	assert_int_equal(rv_dtls_fingerprint_check(k->c, sfp), 0);
	assert_int_equal(rv_dtls_fingerprint_check(k->s, cfp), 0);
	assert_int_equal(rv_dtls_fingerprint_check(k->c, cfp), RV_EDENIED);
	uint8_t fp[RV_DTLS_FP_LEN], want[RV_DTLS_FP_LEN];
	assert_int_equal(rv_dtls_peer_fingerprint(k->c, fp), 0);
	assert_int_equal(rv_dtls_fingerprint_parse(sfp, want), 0);
	assert_memory_equal(fp, want, sizeof fp);
}

/* The client's outbound SRTP keys are the server's inbound ones and back:
 * a packet protected by one end is unprotected by the other. */
static void check_srtp(struct pair *k)
{
	struct rv_dtls_srtp ck, sk;
	assert_int_equal(rv_dtls_srtp_keys(k->c, &ck), 0);
	assert_int_equal(rv_dtls_srtp_keys(k->s, &sk), 0);
	assert_int_equal(ck.suite, RV_SRTP_AEAD_AES_128_GCM);     /* our first choice */
	assert_int_equal(sk.suite, ck.suite);
	assert_int_equal(ck.len, rv_srtp_key_len(ck.suite));
	assert_memory_equal(ck.local, sk.remote, ck.len);
	assert_memory_equal(ck.remote, sk.local, ck.len);
	assert_memory_not_equal(ck.local, ck.remote, ck.len);
	struct rv_srtp *tx, *rx;
	assert_int_equal(rv_srtp_new_raw(&tx, ck.suite, ck.local, ck.len, 1), 0);
	assert_int_equal(rv_srtp_new_raw(&rx, sk.suite, sk.remote, sk.len, 0), 0);
	uint8_t p[RV_RTP_HEADER + 20 + RV_SRTP_MAX_TRAILER];
	struct rv_rtp h = { .pt = 96, .seq = 1, .ts = 90000, .ssrc = 0x1234 };
	rv_rtp_header(p, &h);
	memset(p + RV_RTP_HEADER, 0x5a, 20);
	size_t n = RV_RTP_HEADER + 20;
	assert_int_equal(rv_srtp_protect(tx, p, &n), 0);
	assert_int_equal(rv_srtp_unprotect(rx, p, &n), 0);
	assert_int_equal(n, RV_RTP_HEADER + 20);
	rv_srtp_free(tx);
	rv_srtp_free(rx);
}

static void p256(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, P256, P256, 1);
	assert_int_equal(rv_dtls_write(k.c, "early", 5), -ENOTCONN);
	struct rv_dtls_srtp keys;
	assert_int_equal(rv_dtls_srtp_keys(k.c, &keys), -ENOTCONN);
	uint8_t early[32];
	assert_int_equal(rv_dtls_export(k.c, "EXTRACTOR-x", early, 32), -ENOTCONN);
	handshake(&k);
	assert_int_equal(k.timeouts, 0);
	check_fingerprints(&k);
	check_srtp(&k);
	uint8_t pub[RV_DTLS_ED25519_LEN];
	assert_int_equal(rv_dtls_peer_pubkey_raw(k.c, pub), RV_EPROTO);    /* not Ed25519 */
	send_msg(&k, k.c, k.s, "hello server");
	send_msg(&k, k.s, k.c, "hello client");
	assert_true(k.max_len <= RV_DTLS_MTU);
	/* keying material: the same at both ends, another for another label */
	uint8_t ec[32], es[32], other[32];
	assert_int_equal(rv_dtls_export(k.c, "EXTRACTOR-rvp2p-hello", ec, 32), 0);
	assert_int_equal(rv_dtls_export(k.s, "EXTRACTOR-rvp2p-hello", es, 32), 0);
	assert_memory_equal(ec, es, 32);
	assert_int_equal(rv_dtls_export(k.c, "EXTRACTOR-other", other, 32), 0);
	assert_memory_not_equal(ec, other, 32);
	assert_int_equal(rv_dtls_export(k.c, "EXTRACTOR-x", other, RV_DTLS_EXPORT_MAX + 1), -EINVAL);
	pair_free(&k);
}

/* Peer-group identities: an Ed25519 client certificate, checked by its raw
 * key, against a P-256 server (OpenSSL 3.0 cannot serve DTLS with an
 * Ed25519 certificate: refused up front). */
static void ed25519(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, ED25519, P256, 0);
	struct rv_dtls *no;
	assert_int_equal(rv_dtls_new(&no, k.cctx, 1), -EOPNOTSUPP);
	assert_null(no);
	handshake(&k);
	check_fingerprints(&k);
	uint8_t pub[RV_DTLS_ED25519_LEN], id[RV_P2P_HASH_LEN];
	assert_int_equal(rv_dtls_peer_pubkey_raw(k.s, pub), 0);
	assert_memory_equal(pub, k.cp2p.pub, sizeof pub);
	rv_p2p_peer_id(pub, id);
	assert_memory_equal(id, k.cp2p.id, sizeof id);
	assert_int_equal(rv_dtls_peer_pubkey_raw(k.c, pub), RV_EPROTO);    /* P-256 */
	struct rv_dtls_srtp keys;
	assert_int_equal(rv_dtls_srtp_keys(k.c, &keys), RV_EPROTO);         /* no use_srtp */
	send_msg(&k, k.c, k.s, "post 1");
	send_msg(&k, k.s, k.c, "post 2");
	pair_free(&k);
}

/* An Ed25519 client and a P-256 server with SRTP offered. */
static void mixed(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, ED25519, P256, 1);
	handshake(&k);
	check_fingerprints(&k);
	check_srtp(&k);
	pair_free(&k);
}

/* The ClientHello is lost: the client's timer resends it. */
static void lost_client_hello(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, P256, P256, 1);
	k.drop_c = 1;
	handshake(&k);
	assert_true(k.timeouts >= 1);
	send_msg(&k, k.c, k.s, "after a loss");
	pair_free(&k);
}

/* The server's first flight and its last (CCS, Finished) are lost: the
 * timers resend the first; for the last, the client, not done, resends its
 * own last flight, which makes the connected server resend its Finished. */
static void lost_server_flights(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, ED25519, P256, 0);
	k.drop_s = 1;
	k.drop_s_final = 1;
	handshake(&k);
	assert_true(k.timeouts >= 2);
	assert_true(k.finals_s >= 2);           /* the last flight went twice */
	send_msg(&k, k.s, k.c, "after two losses");
	pair_free(&k);
}

/* Garbage: refused untouched when it is not DTLS by its first byte, too
 * short or too long; dropped inside (the session goes on) when it looks
 * like records. */
static void garbage(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, P256, P256, 0);
	uint8_t g[2000];
	unsigned seed = 12345;
	for (size_t i = 0; i < sizeof g; i++) {
		seed = seed * 1103515245u + 12345u;
		g[i] = (uint8_t)(seed >> 16);
	}
	g[0] = 0;                                                 /* STUN */
	assert_int_equal(rv_dtls_feed(k.s, g, 100), RV_EPROTO);
	g[0] = 128;                                               /* RTP */
	assert_int_equal(rv_dtls_feed(k.s, g, 100), RV_EPROTO);
	g[0] = 23;
	assert_int_equal(rv_dtls_feed(k.s, g, 12), RV_EPROTO);   /* shorter than a header */
	static uint8_t big[RV_DTLS_MAX_DATAGRAM + 1];
	big[0] = 22;
	assert_int_equal(rv_dtls_feed(k.s, big, sizeof big), RV_ETOOBIG);
	/* records of every content type with random contents, before the
	 * handshake and after it */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 200; i++) {
			uint8_t *p = g + (i * 7) % 1000;
			size_t n = 13 + (size_t)(i * 37) % 900;
			p[0] = (uint8_t)(20 + i % 4);
			assert_int_equal(rv_dtls_feed(k.s, p, n), 0);
			assert_int_equal(rv_dtls_feed(k.c, p, n), 0);
		}
		uint8_t d[RV_DTLS_MTU];
		assert_int_equal(rv_dtls_take(k.s, d, sizeof d), 0);        /* nothing answered */
		if (pass == 0)
			handshake(&k);
	}
	send_msg(&k, k.c, k.s, "still here");
	pair_free(&k);
}

/* A server flight fed to a client that did not send the ClientHello it
 * answers fails that client (the signature covers its random). */
static void failed_handshake(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, P256, P256, 0);
	struct rv_dtls *other;
	assert_int_equal(rv_dtls_new(&other, k.cctx, 0), 0);
	assert_int_equal(rv_dtls_start(k.c), 0);
	assert_int_equal(rv_dtls_start(other), 0);
	int f = 0;
	shuttle(&k, k.c, k.s, 0, &f);
	uint8_t d[RV_DTLS_MTU];
	ssize_t n;
	int rc = 0;
	while ((n = rv_dtls_take(k.s, d, sizeof d)) > 0)
		if (rc == 0)
			rc = rv_dtls_feed(other, d, (size_t)n);
	assert_int_equal(rc, RV_ETLS);
	assert_int_equal(rv_dtls_state(other), RV_DTLS_FAILED);
	assert_string_not_equal(rv_dtls_errstr(other), "no error");
	assert_non_null(strstr(rv_dtls_errstr(other), "handshake failed"));
	assert_int_equal(rv_dtls_feed(other, d, 20), RV_ETLS);
	assert_int_equal(rv_dtls_on_timeout(other), RV_ETLS);
	assert_int_equal(rv_dtls_timeout_ms(other), -1);
	while (rv_dtls_take(other, d, sizeof d) > 0)    /* the alert */
		;
	rv_dtls_free(other);
	pair_free(&k);
}

/* Message caps, a full-size message in one datagram, short read buffers,
 * and close_notify. */
static void caps_and_close(void **state)
{
	(void)state;
	struct pair k;
	pair_init(&k, P256, P256, 1);
	handshake(&k);
	size_t max = rv_dtls_max_write(k.c);
	assert_true(max > 1100 && max < RV_DTLS_MTU);
	static uint8_t m[RV_DTLS_MTU + 1];
	memset(m, 'x', sizeof m);
	assert_int_equal(rv_dtls_write(k.c, m, max + 1), RV_ETOOBIG);
	assert_int_equal(rv_dtls_write(k.c, m, max), 0);
	uint8_t d[RV_DTLS_MTU];
	assert_int_equal(rv_dtls_take(k.c, d, 100), RV_ETOOBIG);     /* stays queued */
	ssize_t n = rv_dtls_take(k.c, d, sizeof d);
	assert_true(n > 0 && n <= RV_DTLS_MTU);
	assert_int_equal(rv_dtls_feed(k.s, d, (size_t)n), 0);
	assert_int_equal(rv_dtls_read(k.s, d, 10), RV_ETOOBIG);
	assert_int_equal(rv_dtls_read(k.s, d, sizeof d), (ssize_t)max);
	/* several messages in one go arrive in order, one per read */
	for (int i = 0; i < 5; i++) {
		uint8_t b = (uint8_t)i;
		assert_int_equal(rv_dtls_write(k.s, &b, 1), 0);
	}
	int f = 0;
	shuttle(&k, k.s, k.c, 0, &f);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rv_dtls_read(k.c, d, sizeof d), 1);
		assert_int_equal(d[0], i);
	}
	assert_int_equal(rv_dtls_dropped(k.c), 0);
	/* three full-size messages are three datagrams; ten small ones share
	 * one (records are packed up to the MTU, never past it) */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rv_dtls_write(k.c, m, max), 0);
	size_t before = k.datagrams;
	shuttle(&k, k.c, k.s, 0, &f);
	assert_int_equal(k.datagrams - before, 3);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rv_dtls_write(k.c, m, 50), 0);
	before = k.datagrams;
	shuttle(&k, k.c, k.s, 0, &f);
	assert_int_equal(k.datagrams - before, 1);
	for (int i = 0; i < 13; i++)
		assert_true(rv_dtls_read(k.s, d, sizeof d) > 0);
	assert_int_equal(rv_dtls_read(k.s, d, sizeof d), 0);
	/* unread messages past RV_DTLS_READ_CAP are dropped and counted */
	for (int i = 0; i < 60; i++)
		assert_int_equal(rv_dtls_write(k.c, m, max), 0);
	shuttle(&k, k.c, k.s, 0, &f);
	assert_int_equal(rv_dtls_dropped(k.s), 60 - RV_DTLS_READ_CAP / (2 + max));
	while (rv_dtls_read(k.s, d, sizeof d) > 0)
		;
	/* ciphertext never taken stops at RV_DTLS_TAKE_CAP */
	int rc = 0, writes = 0;
	while (rc == 0 && writes < 1000) {
		rc = rv_dtls_write(k.c, m, max);
		writes++;
	}
	assert_int_equal(rc, RV_ELIMIT);
	assert_true(writes > RV_DTLS_TAKE_CAP / RV_DTLS_MTU);
	while (rv_dtls_take(k.c, d, sizeof d) > 0)
		;
	rv_dtls_close(k.c);
	assert_int_equal(rv_dtls_state(k.c), RV_DTLS_CLOSED);
	assert_int_equal(rv_dtls_write(k.c, "x", 1), -ENOTCONN);
	shuttle(&k, k.c, k.s, 0, &f);
	assert_int_equal(rv_dtls_state(k.s), RV_DTLS_CLOSED);
	assert_int_equal(rv_dtls_feed(k.s, d, 20), RV_ECLOSED);
	pair_free(&k);
}

static void keys_and_text(void **state)
{
	(void)state;
	struct rv_dtls_ctx *ctx;
	char err[128];
	EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(x);
	assert_int_equal(rv_dtls_ctx_new(&ctx, x, 0, err, sizeof err), -EINVAL);
	assert_null(ctx);
	assert_int_equal(rv_dtls_ctx_new(&ctx, NULL, 0, err, sizeof err), -EINVAL);
	EVP_PKEY_free(x);
	uint8_t fp[RV_DTLS_FP_LEN];
	const char *good = "ab:CD:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
			   "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";
	assert_int_equal(rv_dtls_fingerprint_parse(good, fp), 0);
	assert_int_equal(fp[0], 0xab);
	assert_int_equal(fp[1], 0xcd);
	assert_int_equal(fp[31], 0xdd);
	char bad[RV_DTLS_FP_TEXT];
	memcpy(bad, good, sizeof bad);
	bad[2] = '-';
	assert_int_equal(rv_dtls_fingerprint_parse(bad, fp), RV_EPROTO);
	memcpy(bad, good, sizeof bad);
	bad[4] = 'g';
	assert_int_equal(rv_dtls_fingerprint_parse(bad, fp), RV_EPROTO);
	assert_int_equal(rv_dtls_fingerprint_parse("AB:CD", fp), RV_EPROTO);
	assert_int_equal(rv_dtls_fingerprint_parse(NULL, fp), RV_EPROTO);
	/* RFC 7983 first bytes */
	uint8_t b;
	const struct { uint8_t first; int kind; } t[] = {
		{ 0, RV_DEMUX_STUN }, { 3, RV_DEMUX_STUN }, { 4, RV_DEMUX_OTHER },
		{ 20, RV_DEMUX_DTLS }, { 63, RV_DEMUX_DTLS }, { 64, RV_DEMUX_TURN },
		{ 79, RV_DEMUX_TURN }, { 80, RV_DEMUX_OTHER }, { 128, RV_DEMUX_RTP },
		{ 191, RV_DEMUX_RTP }, { 192, RV_DEMUX_OTHER },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		b = t[i].first;
		assert_int_equal(rv_dtls_demux(&b, 1), t[i].kind);
	}
	assert_int_equal(rv_dtls_demux(&b, 0), RV_DEMUX_OTHER);
}

/* Not a check: the CPU of one handshake (both ends, contexts made once). */
static void cost(void **state)
{
	(void)state;
	const char *names[] = { "P-256", "Ed25519 client, P-256 server" };
	for (int kind = P256; kind <= ED25519; kind++) {
		struct pair k;
		pair_init(&k, kind, P256, kind == P256);
		enum { N = 20 };
		double t0 = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
		for (int i = 0; i < N; i++) {
			if (i > 0) {
				rv_dtls_free(k.c);
				rv_dtls_free(k.s);
				assert_int_equal(rv_dtls_new(&k.c, k.cctx, 0), 0);
				assert_int_equal(rv_dtls_new(&k.s, k.sctx, 1), 0);
			}
			handshake(&k);
		}
		double per = (cpu_us(CLOCK_PROCESS_CPUTIME_ID) - t0) / N;
		print_message("dtls: %s handshake: %.0f us of CPU for both ends, %.0f us in the "
			      "server (%zu datagrams, largest %zu bytes)\n", names[kind], per,
			      k.server_us / N, k.datagrams / N, k.max_len);
		pair_free(&k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(p256),
		cmocka_unit_test(ed25519),
		cmocka_unit_test(mixed),
		cmocka_unit_test(lost_client_hello),
		cmocka_unit_test(lost_server_flights),
		cmocka_unit_test(garbage),
		cmocka_unit_test(failed_handshake),
		cmocka_unit_test(caps_and_close),
		cmocka_unit_test(keys_and_text),
		cmocka_unit_test(cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
