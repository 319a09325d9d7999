/* mpipe.c - media pipe datagram headers (see mpipe.h). */
#include "mpipe.h"

#include "bytes.h"
#include "err.h"

int rv_mpipe_parse(const uint8_t *p, size_t n, struct rv_mpipe *m)
{
	if (n < RV_MPIPE_HEAD + RV_MPIPE_MIN_PACKET)
		return RV_EPROTO;
	m->stream = rv_rd32(p);
	m->flags = rv_rd16(p + 4);
	if (m->stream == 0 || (m->flags != RV_MPIPE_FORWARD && m->flags != RV_MPIPE_FEEDBACK) || rv_rd16(p + 6) != 0 ||
	    (p[RV_MPIPE_HEAD] & 0xC0) != 0x80)
		return RV_EPROTO;
	m->packet = p + RV_MPIPE_HEAD;
	m->len = n - RV_MPIPE_HEAD;
	return 0;
}

void rv_mpipe_head(uint8_t out[RV_MPIPE_HEAD], uint32_t stream, uint16_t flags)
{
	rv_wr32(out, stream);
	rv_wr16(out + 4, flags);
	rv_wr16(out + 6, 0);
}
