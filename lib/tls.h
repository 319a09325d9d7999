/* tls.h - TLS as a pure engine over memory BIOs (OpenSSL 3), no I/O.
 *
 * The caller moves bytes: ciphertext that arrives from the network goes in
 * with rv_tls_feed(); plaintext comes out of rv_tls_read(); plaintext to send
 * goes in with rv_tls_write(); the ciphertext that must then be sent is taken
 * with rv_tls_take(). The handshake is driven by read/write/start. */
#ifndef RV_TLS_H
#define RV_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct rv_tls_ctx;
struct rv_tls;

/* rv_tls_ctx_server_new - a server context from PEM files. *OUT is owned by
 * the caller (rv_tls_ctx_free). ALPN, if not NULL, is a NUL-terminated protocol
 * name the server accepts (others are accepted too; ALPN is advisory). */
int rv_tls_ctx_server_new(struct rv_tls_ctx **out, const char *cert_file,
			  const char *key_file, const char *alpn,
			  char *err, size_t errlen);
/* rv_tls_ctx_client_new - a client context that verifies the peer against
 * CA_FILE (NULL: the system store) unless INSECURE. ALPN as above (offered). */
int rv_tls_ctx_client_new(struct rv_tls_ctx **out, const char *ca_file,
			  int insecure, const char *alpn, char *err, size_t errlen);
void rv_tls_ctx_free(struct rv_tls_ctx *ctx);

/* rv_tls_new - one connection's engine. SNI (client only, may be NULL) is
 * also the name checked against the certificate unless the context is
 * insecure. *OUT is owned by the caller (rv_tls_free). */
int rv_tls_new(struct rv_tls **out, struct rv_tls_ctx *ctx, int server,
	       const char *sni);
void rv_tls_free(struct rv_tls *t);

/* rv_tls_start - client: produce the ClientHello (take it with rv_tls_take). */
int rv_tls_start(struct rv_tls *t);
/* rv_tls_feed - hand ciphertext from the network to the engine. */
int rv_tls_feed(struct rv_tls *t, const void *data, size_t len);
/* rv_tls_read - decrypted bytes into BUF: >0 bytes, 0 none available yet,
 * RV_ECLOSED after the peer's close_notify, RV_ETLS on failure (see
 * rv_tls_errstr). Drives the handshake; after it, check rv_tls_take(). */
ssize_t rv_tls_read(struct rv_tls *t, void *buf, size_t len);
/* rv_tls_write - encrypt LEN bytes; all are taken (buffered until the
 * handshake completes) or an error is returned. */
int rv_tls_write(struct rv_tls *t, const void *data, size_t len);
/* rv_tls_take - move all ciphertext waiting to be sent into OUT. Returns the
 * number of bytes moved or a negative error (OUT's cap). */
ssize_t rv_tls_take(struct rv_tls *t, struct rv_buf *out);
/* rv_tls_done - 1 once the handshake has completed. */
int rv_tls_done(const struct rv_tls *t);
/* rv_tls_alpn - the ALPN protocol agreed in the handshake, "" if none. The
 * string belongs to T. */
const char *rv_tls_alpn(const struct rv_tls *t);
/* rv_tls_close - queue a close_notify (take it with rv_tls_take). */
void rv_tls_close(struct rv_tls *t);
/* rv_tls_errstr - the last failure's text ("certificate verify failed: ..."). */
const char *rv_tls_errstr(const struct rv_tls *t);

#endif
