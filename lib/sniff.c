/* sniff.c - the protocol of a connection from its first bytes. */
#include <string.h>

#include "bytes.h"
#include "sniff.h"

/* P[0..N) so far can be a framed STUN Binding request: 1 when the 10 bytes
 * that decide are there, 0 while they may come, -1 when it cannot be one. */
static int framed_stun(const uint8_t *p, size_t n)
{
	static const uint8_t tail[8] = { 0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42 };
	if (p[0] > RV_SNIFF_STUN_MAX >> 8)
		return -1;
	if (n >= 2 && (rv_rd16(p) < 20 || rv_rd16(p) > RV_SNIFF_STUN_MAX))
		return -1;
	for (size_t i = 2; i < n && i < 10; i++)
		if ((i < 4 || i >= 6) && p[i] != tail[i - 2])
			return -1;
	return n >= 10;
}

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
	if (accept & RV_SNIFF_ACCEPT(RV_SNIFF_STUN)) {
		int k = framed_stun(p, n);
		if (k >= 0)
			return k ? RV_SNIFF_STUN : RV_SNIFF_MORE;
	}
	if ((accept & RV_SNIFF_ACCEPT(RV_SNIFF_HTTP)) && p[0] >= 'A' && p[0] <= 'Z')
		return RV_SNIFF_HTTP;
	return RV_SNIFF_OTHER;
}
