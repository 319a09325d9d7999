/* test_tls.c - TLS engine (lib/tls.c): a client engine and a server engine
 * run against each other in memory, with a self-signed certificate made
 * for the test by the openssl command. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "tls.h"

static char dir[64];
static char cert[128], key[128];

/* Make a certificate for "localhost" and 127.0.0.1 in a fresh directory. */
static int setup(void **state)
{
	char cmd[1024];
	(void)state;

	snprintf(dir, sizeof dir, "/tmp/rv-test-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		 "-nodes -days 2 -subj /CN=localhost "
		 "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
		 "-keyout %s -out %s 2>/dev/null", key, cert);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cert);
	unlink(key);
	rmdir(dir);
	return 0;
}

/* One engine and what it has read. */
struct end {
	struct rv_tls *t;
	char got[4096];
	size_t got_len;
	int rc;                 /* the first error rv_tls_read returned */
};

/* Read everything END has decrypted so far. */
static void drain(struct end *e)
{
	for (;;) {
		ssize_t n = rv_tls_read(e->t, e->got + e->got_len,
					sizeof e->got - e->got_len);
		if (n <= 0) {
			if (n < 0 && e->rc == 0)
				e->rc = (int)n;
			return;
		}
		e->got_len += (size_t)n;
	}
}

/* Move bytes both ways until neither side has anything left to send. */
static void pump(struct end *c, struct end *s)
{
	struct rv_buf wire;

	rv_buf_init(&wire, 1 << 20);
	for (int round = 0; round < 50; round++) {
		size_t moved = 0;
		ssize_t n;
		rv_buf_reset(&wire);
		n = rv_tls_take(c->t, &wire);
		assert_true(n >= 0);
		if (n > 0 && s->rc == 0)
			assert_int_equal(rv_tls_feed(s->t, rv_buf_head(&wire), (size_t)n), 0);
		moved += (size_t)n;
		drain(s);
		rv_buf_reset(&wire);
		n = rv_tls_take(s->t, &wire);
		assert_true(n >= 0);
		if (n > 0 && c->rc == 0)
			assert_int_equal(rv_tls_feed(c->t, rv_buf_head(&wire), (size_t)n), 0);
		moved += (size_t)n;
		drain(c);
		if (moved == 0)
			break;
	}
	rv_buf_free(&wire);
}

struct conn {
	struct rv_tls_ctx *cctx, *sctx;
	struct end c, s;
};

/* Set up a client and a server engine and run the handshake. */
static void connect_pair(struct conn *k, const char *ca, int insecure,
			 const char *calpn, const char *salpn, const char *sni)
{
	char err[256];

	memset(k, 0, sizeof *k);
	assert_int_equal(rv_tls_ctx_server_new(&k->sctx, cert, key, salpn, err, sizeof err), 0);
	assert_int_equal(rv_tls_ctx_client_new(&k->cctx, ca, insecure, calpn, err, sizeof err), 0);
	assert_int_equal(rv_tls_new(&k->s.t, k->sctx, 1, NULL), 0);
	assert_int_equal(rv_tls_new(&k->c.t, k->cctx, 0, sni), 0);
	assert_int_equal(rv_tls_start(k->c.t), 0);
	pump(&k->c, &k->s);
}

static void conn_free(struct conn *k)
{
	rv_tls_free(k->c.t);
	rv_tls_free(k->s.t);
	rv_tls_ctx_free(k->cctx);
	rv_tls_ctx_free(k->sctx);
}

static void test_handshake_and_data(void **state)
{
	struct conn k;
	(void)state;

	memset(&k, 0, sizeof k);
	char err[256];
	assert_int_equal(rv_tls_ctx_server_new(&k.sctx, cert, key, "rv/1", err, sizeof err), 0);
	assert_int_equal(rv_tls_ctx_client_new(&k.cctx, cert, 0, "rv/1", err, sizeof err), 0);
	assert_int_equal(rv_tls_new(&k.s.t, k.sctx, 1, NULL), 0);
	assert_int_equal(rv_tls_new(&k.c.t, k.cctx, 0, "localhost"), 0);
	/* Written before the handshake: held back, then sent. */
	assert_int_equal(rv_tls_write(k.c.t, "early ", 6), 0);
	assert_int_equal(rv_tls_start(k.c.t), 0);
	assert_false(rv_tls_done(k.c.t));
	pump(&k.c, &k.s);
	assert_int_equal(k.c.rc, 0);
	assert_int_equal(k.s.rc, 0);
	assert_true(rv_tls_done(k.c.t));
	assert_true(rv_tls_done(k.s.t));
	assert_string_equal(rv_tls_alpn(k.c.t), "rv/1");
	assert_string_equal(rv_tls_alpn(k.s.t), "rv/1");

	/* Both ways. */
	assert_int_equal(rv_tls_write(k.c.t, "hello server", 12), 0);
	assert_int_equal(rv_tls_write(k.s.t, "hello client", 12), 0);
	pump(&k.c, &k.s);
	assert_int_equal(k.s.got_len, 18);
	assert_memory_equal(k.s.got, "early hello server", 18);
	assert_int_equal(k.c.got_len, 12);
	assert_memory_equal(k.c.got, "hello client", 12);

	/* A larger write spans several records. */
	static char big[3000];
	memset(big, 'b', sizeof big);
	k.s.got_len = 0;
	assert_int_equal(rv_tls_write(k.c.t, big, sizeof big), 0);
	pump(&k.c, &k.s);
	assert_int_equal(k.s.got_len, sizeof big);

	/* close_notify reaches the peer as RV_ECLOSED. */
	rv_tls_close(k.c.t);
	pump(&k.c, &k.s);
	assert_int_equal(k.s.rc, RV_ECLOSED);
	assert_string_equal(rv_tls_errstr(k.c.t), "no error");
	conn_free(&k);
}

static void test_ip_address(void **state)
{
	struct conn k;
	(void)state;

	connect_pair(&k, cert, 0, NULL, NULL, "127.0.0.1");
	assert_int_equal(k.c.rc, 0);
	assert_true(rv_tls_done(k.c.t));
	assert_string_equal(rv_tls_alpn(k.c.t), "");
	conn_free(&k);

	connect_pair(&k, cert, 0, NULL, NULL, "127.0.0.2");
	assert_int_equal(k.c.rc, RV_ETLS);
	assert_non_null(strstr(rv_tls_errstr(k.c.t), "certificate verify failed"));
	conn_free(&k);
}

static void test_hostname_mismatch(void **state)
{
	struct conn k;
	(void)state;

	connect_pair(&k, cert, 0, NULL, NULL, "example.org");
	assert_int_equal(k.c.rc, RV_ETLS);
	assert_false(rv_tls_done(k.c.t));
	const char *e = rv_tls_errstr(k.c.t);
	assert_non_null(strstr(e, "certificate verify failed"));
	assert_non_null(strstr(e, "hostname mismatch"));
	/* The client's alert tells the server why. */
	assert_int_equal(k.s.rc, RV_ETLS);
	assert_non_null(strstr(rv_tls_errstr(k.s.t), "alert"));
	/* A failed engine stays failed. */
	assert_int_equal(rv_tls_write(k.c.t, "x", 1), RV_ETLS);
	assert_int_equal(rv_tls_read(k.c.t, k.c.got, 1), RV_ETLS);
	conn_free(&k);

	/* Insecure: the same name mismatch is accepted. */
	connect_pair(&k, NULL, 1, NULL, NULL, "example.org");
	assert_int_equal(k.c.rc, 0);
	assert_true(rv_tls_done(k.c.t));
	assert_true(rv_tls_done(k.s.t));
	conn_free(&k);
}

static void test_unknown_ca(void **state)
{
	struct conn k;
	(void)state;

	/* The system store does not know our self-signed certificate. */
	connect_pair(&k, NULL, 0, NULL, NULL, "localhost");
	assert_int_equal(k.c.rc, RV_ETLS);
	assert_non_null(strstr(rv_tls_errstr(k.c.t), "certificate verify failed: self"));
	conn_free(&k);
}

static void test_alpn(void **state)
{
	struct conn k;
	(void)state;

	/* Different protocols: no ALPN, but the handshake succeeds. */
	connect_pair(&k, cert, 0, "h2", "rv/1", "localhost");
	assert_int_equal(k.c.rc, 0);
	assert_true(rv_tls_done(k.c.t));
	assert_string_equal(rv_tls_alpn(k.c.t), "");
	assert_string_equal(rv_tls_alpn(k.s.t), "");
	conn_free(&k);

	/* The client offers none. */
	connect_pair(&k, cert, 0, NULL, "rv/1", "localhost");
	assert_true(rv_tls_done(k.c.t));
	assert_string_equal(rv_tls_alpn(k.s.t), "");
	conn_free(&k);
}

static void test_bad_setup(void **state)
{
	struct rv_tls_ctx *ctx = NULL;
	struct rv_tls *t = NULL;
	char err[256] = "";
	(void)state;

	assert_int_equal(rv_tls_ctx_server_new(&ctx, "/nonexistent/cert.pem", key,
					       NULL, err, sizeof err), RV_ETLS);
	assert_null(ctx);
	assert_non_null(strstr(err, "cannot load certificate"));
	/* A key that does not match: use the certificate as the key file. */
	assert_int_equal(rv_tls_ctx_server_new(&ctx, cert, cert, NULL, err, sizeof err),
			 RV_ETLS);
	assert_int_equal(rv_tls_ctx_client_new(&ctx, "/nonexistent/ca.pem", 0, NULL,
					       err, sizeof err), RV_ETLS);
	assert_non_null(strstr(err, "CA"));

	/* A verifying client needs a name to check. */
	assert_int_equal(rv_tls_ctx_client_new(&ctx, cert, 0, NULL, err, sizeof err), 0);
	assert_int_equal(rv_tls_new(&t, ctx, 0, NULL), -EINVAL);
	assert_int_equal(rv_tls_new(&t, ctx, 1, NULL), -EINVAL); /* wrong side */
	rv_tls_ctx_free(ctx);

	/* Garbage instead of a ClientHello. */
	assert_int_equal(rv_tls_ctx_server_new(&ctx, cert, key, NULL, err, sizeof err), 0);
	assert_int_equal(rv_tls_new(&t, ctx, 1, NULL), 0);
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n";
	assert_int_equal(rv_tls_feed(t, junk, sizeof junk - 1), 0);
	char buf[16];
	assert_int_equal(rv_tls_read(t, buf, sizeof buf), RV_ETLS);
	assert_non_null(strstr(rv_tls_errstr(t), "TLS handshake failed"));
	rv_tls_free(t);
	rv_tls_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_ip_address),
		cmocka_unit_test(test_hostname_mismatch),
		cmocka_unit_test(test_unknown_ca),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_bad_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
