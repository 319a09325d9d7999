/* sniff.c - the protocol of a connection from its first bytes. */
#include <string.h>

#include "sniff.h"

enum rv_sniff rv_sniff(const uint8_t *p, size_t n, unsigned accept,
		       const void *preface, size_t plen)
{
	if (n == 0)
		return RV_SNIFF_MORE;
	if ((accept & RV_SNIFF_ACCEPT(RV_SNIFF_TLS)) && p[0] == RV_SNIFF_TLS_BYTE)
		return RV_SNIFF_TLS;
	if ((accept & RV_SNIFF_ACCEPT(RV_SNIFF_PREFACE)) && preface && plen) {
		size_t k = n < plen ? n : plen;
		if (memcmp(p, preface, k) == 0)
			return n < plen ? RV_SNIFF_MORE : RV_SNIFF_PREFACE;
	}
	if ((accept & RV_SNIFF_ACCEPT(RV_SNIFF_HTTP)) && p[0] >= 'A' && p[0] <= 'Z')
		return RV_SNIFF_HTTP;
	return RV_SNIFF_OTHER;
}
