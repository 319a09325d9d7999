/* p2pipmc.c - fragments as IP multicast datagrams (p2pipmc.h). */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pipmc.h"

#define OFF_VER 4
#define OFF_FLAGS 5
#define OFF_GROUP 6
#define OFF_STREAM (OFF_GROUP + RV_P2P_IPMC_ID_LEN)
#define OFF_RUN (OFF_STREAM + RV_P2P_IPMC_ID_LEN)
#define OFF_SEQ (OFF_RUN + 8)
#define VERSION 1

_Static_assert(OFF_SEQ + 4 == RV_P2P_IPMC_HEAD, "datagram layout");

/* The payload's bounds for FLAGS: 0, or RV_EPROTO (flags unknown or of
 * two kinds). */
static int bounds(uint8_t flags, size_t *min, size_t *max)
{
	switch (flags) {
	case 0:
	case RV_P2P_FRAG_KEY:
		*min = 1, *max = RV_P2P_CAST_FRAG_MAX;
		return 0;
	case RV_P2P_IPMC_INFO:
		*min = 1, *max = RV_P2P_CAST_INFO_MAX;
		return 0;
	case RV_P2P_IPMC_END:
		*min = 0, *max = 0;
		return 0;
	default:
		return RV_EPROTO;
	}
}

long rv_p2p_ipmc_build(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t stream[RV_P2P_HASH_LEN],
		       const struct rv_p2p_ipmc_frag *f, uint8_t *out, size_t cap)
{
	size_t min, max, sig = f->sig ? RV_P2P_SIG_LEN : 0;
	if (bounds(f->flags, &min, &max) < 0 || (sig && (f->flags & ~RV_P2P_FRAG_KEY)))
		return RV_EPROTO;	/* (only a fragment is signed) */
	if (f->len < min || f->len > max || cap < RV_P2P_IPMC_HEAD + sig + f->len)
		return RV_ETOOBIG;
	memcpy(out, RV_P2P_IPMC_MAGIC, 4);
	out[OFF_VER] = VERSION;
	out[OFF_FLAGS] = (uint8_t)(f->flags | (sig ? RV_P2P_IPMC_SIGNED : 0));
	memcpy(out + OFF_GROUP, group, RV_P2P_IPMC_ID_LEN);
	memcpy(out + OFF_STREAM, stream, RV_P2P_IPMC_ID_LEN);
	rv_wr64(out + OFF_RUN, f->run);
	rv_wr32(out + OFF_SEQ, f->seq);
	if (sig)
		memcpy(out + RV_P2P_IPMC_HEAD, f->sig, sig);
	if (f->len)
		memcpy(out + RV_P2P_IPMC_HEAD + sig, f->data, f->len);
	return (long)(RV_P2P_IPMC_HEAD + sig + f->len);
}

int rv_p2p_ipmc_parse(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		      const uint8_t stream[RV_P2P_HASH_LEN], struct rv_p2p_ipmc_frag *f, const char **why)
{
	if (n < RV_P2P_IPMC_HEAD || memcmp(p, RV_P2P_IPMC_MAGIC, 4))
		return *why = "magic: not a fragment datagram", RV_EPROTO;
	if (p[OFF_VER] != VERSION)
		return *why = "version: unknown", RV_EPROTO;
	if ((group && memcmp(p + OFF_GROUP, group, RV_P2P_IPMC_ID_LEN)) ||
	    memcmp(p + OFF_STREAM, stream, RV_P2P_IPMC_ID_LEN))
		return *why = "another group or stream", RV_EPROTO;
	size_t min, max, sig = p[OFF_FLAGS] & RV_P2P_IPMC_SIGNED ? RV_P2P_SIG_LEN : 0;
	uint8_t flags = p[OFF_FLAGS] & (uint8_t)~RV_P2P_IPMC_SIGNED;
	if (bounds(flags, &min, &max) < 0 || (sig && (flags & ~RV_P2P_FRAG_KEY)))
		return *why = "flags: unknown, or of two kinds", RV_EPROTO;
	if (n - RV_P2P_IPMC_HEAD < sig + min || n - RV_P2P_IPMC_HEAD - sig > max)
		return *why = "length: a payload empty or too long for its kind", RV_EPROTO;
	f->flags = flags;
	f->run = rv_rd64(p + OFF_RUN);
	f->seq = rv_rd32(p + OFF_SEQ);
	f->sig = sig ? p + RV_P2P_IPMC_HEAD : NULL;
	f->data = p + RV_P2P_IPMC_HEAD + sig;
	f->len = n - RV_P2P_IPMC_HEAD - sig;
	f->group = p + OFF_GROUP;
	return 0;
}
