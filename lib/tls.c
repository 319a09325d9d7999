/* tls.c - TLS as a pure engine over two OpenSSL memory BIOs.
 *
 * Each connection's SSL object reads ciphertext from RBIO, which
 * rv_tls_feed() fills, and writes ciphertext to WBIO, which rv_tls_take()
 * drains. Nothing here touches a socket. Plaintext written before the
 * handshake completes waits in a capped buffer and is encrypted as soon as
 * the handshake is done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "sslmem.h"
#include "tls.h"

/* Most ciphertext fed and not yet read, and most plaintext written before
 * the handshake completes. */
#define RV__TLS_IN_CAP (1024 * 1024)
#define RV__TLS_PENDING_CAP (4 * 1024 * 1024)

struct rv_tls_ctx {
	SSL_CTX *ssl;
	int server;
	int insecure;
	unsigned char alpn[256];        /* wire format: length byte + name */
	size_t alpn_len;
};

struct rv_tls {
	SSL *ssl;
	BIO *rbio;              /* network -> engine (owned by SSL) */
	BIO *wbio;              /* engine -> network (owned by SSL) */
	int server;
	int done;               /* handshake completed */
	int failed;             /* a fatal error: only rv_tls_take() still works */
	struct rv_buf pending;  /* plaintext waiting for the handshake */
	char alpn[256];
	char err[256];
};

/* Describe the first error on OpenSSL's queue into ERR, then clear it. */
static void rv__tls_ctx_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, reason ? reason : "unknown error");
	ERR_clear_error();
}

/* Encode NAME as an ALPN protocol list of one entry. */
static int rv__tls_set_alpn(struct rv_tls_ctx *c, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return 0;
	if (n > 255)
		return -EINVAL;
	c->alpn[0] = (unsigned char)n;
	memcpy(c->alpn + 1, name, n);
	c->alpn_len = n + 1;
	return 0;
}

/* Server: pick our protocol if the client offers it; otherwise go on
 * without ALPN rather than fail the handshake. */
static int rv__tls_alpn_select(SSL *ssl, const unsigned char **out,
			       unsigned char *outlen, const unsigned char *in,
			       unsigned int inlen, void *arg)
{
	struct rv_tls_ctx *c = arg;
	unsigned char *sel = NULL;
	unsigned char sellen = 0;

	(void)ssl;
	if (c->alpn_len == 0)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_select_next_proto(&sel, &sellen, c->alpn, (unsigned int)c->alpn_len,
				  in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	*outlen = sellen;
	return SSL_TLSEXT_ERR_OK;
}

/* The parts both kinds of context share. */
static int rv__tls_ctx_new(struct rv_tls_ctx **out, int server, const char *alpn,
			   char *err, size_t errlen)
{
	struct rv_tls_ctx *c = calloc(1, sizeof *c);

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->server = server;
	if (rv__tls_set_alpn(c, alpn) < 0) {
		free(c);
		if (err && errlen)
			snprintf(err, errlen, "ALPN name too long");
		return -EINVAL;
	}
	c->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!c->ssl || !SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION)) {
		rv__tls_ctx_err(err, errlen, "cannot create TLS context");
		SSL_CTX_free(c->ssl);
		free(c);
		return RV_ETLS;
	}
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION);
	/* Retried writes come from rv_tls.pending, which may move. */
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	*out = c;
	return 0;
}

int rv_tls_ctx_server_new(struct rv_tls_ctx **out, const char *cert_file,
			  const char *key_file, const char *alpn,
			  char *err, size_t errlen)
{
	struct rv_tls_ctx *c;
	int rc = rv__tls_ctx_new(&c, 1, alpn, err, errlen);

	if (rc < 0)
		return rc;
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert_file) != 1) {
		rv__tls_ctx_err(err, errlen, "cannot load certificate");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key_file, SSL_FILETYPE_PEM) != 1) {
		rv__tls_ctx_err(err, errlen, "cannot load private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		rv__tls_ctx_err(err, errlen, "private key does not match certificate");
		goto fail;
	}
	if (c->alpn_len)
		SSL_CTX_set_alpn_select_cb(c->ssl, rv__tls_alpn_select, c);
	*out = c;
	return 0;
fail:
	rv_tls_ctx_free(c);
	return RV_ETLS;
}

int rv_tls_ctx_client_new(struct rv_tls_ctx **out, const char *ca_file,
			  int insecure, const char *alpn, char *err, size_t errlen)
{
	struct rv_tls_ctx *c;
	int rc = rv__tls_ctx_new(&c, 0, alpn, err, errlen);

	if (rc < 0)
		return rc;
	c->insecure = insecure;
	if (insecure) {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		int ok = ca_file ? SSL_CTX_load_verify_locations(c->ssl, ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(c->ssl);
		if (ok != 1) {
			rv__tls_ctx_err(err, errlen, "cannot load CA certificates");
			goto fail;
		}
	}
	/* Note the inverted convention: 0 is success here. */
	if (c->alpn_len && SSL_CTX_set_alpn_protos(c->ssl, c->alpn,
						   (unsigned int)c->alpn_len) != 0) {
		rv__tls_ctx_err(err, errlen, "cannot set ALPN");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	rv_tls_ctx_free(c);
	return RV_ETLS;
}

void rv_tls_ctx_free(struct rv_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);         /* live connections hold their own ref */
	free(ctx);
}

/* Client: send SNI and check the certificate against NAME. An IP literal is
 * checked against the certificate's IP addresses and not sent as SNI. */
static int rv__tls_set_peer_name(struct rv_tls *t, const struct rv_tls_ctx *ctx,
				 const char *name)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
	int is_ip = 0;

	if (!ctx->insecure) {
		/* set1_ip_asc succeeds only for an IP literal. */
		is_ip = X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1;
		if (!is_ip && SSL_set1_host(t->ssl, name) != 1)
			return -EINVAL;
		ERR_clear_error();
	} else {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
		is_ip = ip != NULL;
		ASN1_OCTET_STRING_free(ip);
		ERR_clear_error();
	}
	if (!is_ip && SSL_set_tlsext_host_name(t->ssl, name) != 1)
		return -EINVAL;
	return 0;
}

int rv_tls_new(struct rv_tls **out, struct rv_tls_ctx *ctx, int server,
	       const char *sni)
{
	struct rv_tls *t;

	*out = NULL;
	if (!ctx || server != ctx->server)
		return -EINVAL;
	/* Without a name a verifying client could not tell its server from
	 * any other holder of a trusted certificate. */
	if (!server && !ctx->insecure && (!sni || !*sni))
		return -EINVAL;
	t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->server = server;
	rv_buf_init(&t->pending, RV__TLS_PENDING_CAP);
	t->ssl = rv_sslmem_new(ctx->ssl, &t->rbio, &t->wbio);
	if (!t->ssl) {
		rv_buf_free(&t->pending);
		free(t);
		return -ENOMEM;
	}
	if (server) {
		SSL_set_accept_state(t->ssl);
	} else {
		SSL_set_connect_state(t->ssl);
		if (sni && *sni && rv__tls_set_peer_name(t, ctx, sni) < 0) {
			rv_tls_free(t);
			return -EINVAL;
		}
	}
	*out = t;
	return 0;
}

void rv_tls_free(struct rv_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	rv_buf_free(&t->pending);
	free(t);
}

/* Record why the last call failed and mark the engine failed. */
static int rv__tls_fail(struct rv_tls *t, int ssl_err)
{
	unsigned long e = ERR_peek_error();
	long vr = SSL_get_verify_result(t->ssl);
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	t->failed = 1;
	if (!t->server && (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) &&
	    vr != X509_V_OK)
		snprintf(t->err, sizeof t->err, "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (reason)
		snprintf(t->err, sizeof t->err, "%s: %s",
			 t->done ? "TLS error" : "TLS handshake failed", reason);
	else if (ssl_err == SSL_ERROR_SYSCALL)
		snprintf(t->err, sizeof t->err, "TLS error: unexpected end of stream");
	else
		snprintf(t->err, sizeof t->err, "TLS error (SSL error %d)", ssl_err);
	ERR_clear_error();
	return RV_ETLS;
}

/* Encrypt what rv_tls_write() held back. Returns 0 or RV_ETLS. */
static int rv__tls_flush_pending(struct rv_tls *t)
{
	while (rv_buf_size(&t->pending) > 0) {
		size_t n = 0;
		ERR_clear_error();
		int r = SSL_write_ex(t->ssl, rv_buf_head(&t->pending),
				     rv_buf_size(&t->pending), &n);
		if (r != 1) {
			int e = SSL_get_error(t->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;       /* retried on the next read */
			return rv__tls_fail(t, e);
		}
		rv_buf_consume(&t->pending, n);
	}
	return 0;
}

/* Advance the handshake as far as the bytes fed so far allow. */
static int rv__tls_handshake(struct rv_tls *t)
{
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		const unsigned char *p = NULL;
		unsigned int n = 0;
		t->done = 1;
		SSL_get0_alpn_selected(t->ssl, &p, &n);
		if (n > 0 && n < sizeof t->alpn) {
			memcpy(t->alpn, p, n);
			t->alpn[n] = '\0';
		}
		return rv__tls_flush_pending(t);
	}
	int e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return rv__tls_fail(t, e);
}

int rv_tls_start(struct rv_tls *t)
{
	if (t->failed)
		return RV_ETLS;
	if (t->server)
		return 0;       /* the server speaks when the ClientHello arrives */
	return rv__tls_handshake(t);
}

int rv_tls_feed(struct rv_tls *t, const void *data, size_t len)
{
	if (t->failed)
		return RV_ETLS;
	if (len == 0)
		return 0;
	if (len > RV__TLS_IN_CAP || BIO_ctrl_pending(t->rbio) > RV__TLS_IN_CAP - len)
		return RV_ETOOBIG;
	if (len > INT32_MAX || BIO_write(t->rbio, data, (int)len) != (int)len) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

ssize_t rv_tls_read(struct rv_tls *t, void *buf, size_t len)
{
	if (t->failed)
		return RV_ETLS;
	if (!t->done) {
		int rc = rv__tls_handshake(t);
		if (rc < 0 || !t->done)
			return rc;
	} else if (rv_buf_size(&t->pending) > 0) {
		int rc = rv__tls_flush_pending(t);
		if (rc < 0)
			return rc;
	}
	if (len == 0)
		return 0;
	size_t n = 0;
	ERR_clear_error();
	int r = SSL_read_ex(t->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	int e = SSL_get_error(t->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return RV_ECLOSED;
	default:
		return rv__tls_fail(t, e);
	}
}

int rv_tls_write(struct rv_tls *t, const void *data, size_t len)
{
	if (t->failed)
		return RV_ETLS;
	if (len == 0)
		return 0;
	/* Keep the order: while anything is held back, queue behind it. */
	if (!t->done || rv_buf_size(&t->pending) > 0)
		return rv_buf_append(&t->pending, data, len);
	size_t n = 0;
	ERR_clear_error();
	int r = SSL_write_ex(t->ssl, data, len, &n);
	if (r == 1)
		return 0;       /* without partial writes, all LEN were taken */
	int e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return rv_buf_append(&t->pending, data, len);
	return rv__tls_fail(t, e);
}

ssize_t rv_tls_take(struct rv_tls *t, struct rv_buf *out)
{
	size_t have = BIO_ctrl_pending(t->wbio);
	size_t room = out->cap - rv_buf_size(out);
	size_t n = have < room ? have : room;

	if (have == 0)
		return 0;
	if (n == 0)
		return RV_ETOOBIG;      /* OUT is full; the bytes stay queued */
	if (n > INT32_MAX)
		n = INT32_MAX;
	uint8_t *dst = rv_buf_reserve(out, n);
	if (!dst)
		return -ENOMEM;
	int r = BIO_read(t->wbio, dst, (int)n);
	if (r <= 0) {
		ERR_clear_error();
		return 0;
	}
	rv_buf_commit(out, (size_t)r);
	return r;
}

int rv_tls_done(const struct rv_tls *t)
{
	return t->done;
}

const char *rv_tls_alpn(const struct rv_tls *t)
{
	return t->alpn;
}

void rv_tls_close(struct rv_tls *t)
{
	if (t->failed || !t->done)
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);   /* writes close_notify into WBIO */
	ERR_clear_error();
}

const char *rv_tls_errstr(const struct rv_tls *t)
{
	return t->err[0] ? t->err : "no error";
}
