/* wsdp_int.h - what wsdp.c (the offer parser) and wsdpans.c (the answer
 * builder) share. Not for other files. */
#ifndef RV_WSDP_INT_H
#define RV_WSDP_INT_H

#include <stddef.h>

/* wsdp_err - format the reason into ERR (ERRLEN may be 0); returns CODE. */
int wsdp_err(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* wsdp_token - 1 if S is a non-empty RFC 8866 token (as mids are), of fewer
 * than MAX bytes. */
int wsdp_token(const char *s, size_t max);

#endif
