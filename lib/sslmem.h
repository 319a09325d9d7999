/* sslmem.h - an OpenSSL connection over two memory BIOs: what the sans-I/O
 * TLS (tls.c) and DTLS (dtls.c) engines are built on. No I/O. */
#ifndef RV_SSLMEM_H
#define RV_SSLMEM_H

#include <openssl/ssl.h>

/* rv_sslmem_new - a connection of CTX reading ciphertext from *RBIO (an
 * empty one means "not yet", never end of file) and writing it to *WBIO.
 * The SSL owns both BIOs (SSL_free frees them); the caller owns the SSL.
 * NULL when out of memory (OpenSSL's error queue is cleared). */
SSL *rv_sslmem_new(SSL_CTX *ctx, BIO **rbio, BIO **wbio);

#endif
