/* sslmem.c - an OpenSSL connection over two memory BIOs (sslmem.h). */
#include <openssl/err.h>

#include "sslmem.h"

SSL *rv_sslmem_new(SSL_CTX *ctx, BIO **rbio, BIO **wbio)
{
	SSL *ssl = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	if (!ssl || !r || !w) {
		BIO_free(r);
		BIO_free(w);
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_mem_eof_return(r, -1);
	SSL_set_bio(ssl, r, w);
	*rbio = r;
	*wbio = w;
	return ssl;
}
