/* dgram.c - RFC 4571 framing: a 2-byte length before each datagram. */
#include "bytes.h"
#include "dgram.h"
#include "err.h"

long rv_dgram_next(const uint8_t *p, size_t n, size_t max, const uint8_t **pkt, size_t *plen)
{
	if (n < RV_DGRAM_HEAD)
		return 0;
	size_t len = rv_rd16(p);
	if (len == 0 || len > max)
		return RV_EPROTO;
	if (n < RV_DGRAM_HEAD + len)
		return 0;
	*pkt = p + RV_DGRAM_HEAD;
	*plen = len;
	return (long)(RV_DGRAM_HEAD + len);
}

void rv_dgram_head(uint8_t out[RV_DGRAM_HEAD], size_t n)
{
	rv_wr16(out, (uint16_t)n);
}
