/* p2pcast_ipmc.c - a live stream's fragments, announce and end as IP
 * multicast brought them (fusion, p2pcast.h): taken as a neighbour's
 * would be, but from no neighbour. The window, the messages and delivery
 * are p2pcast.c's (p2pcast_int.h). */
#include <stdint.h>

#include "err.h"
#include "p2pcast_int.h"

int rv_p2p_cast_input_fragment(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t seq, uint8_t flags,
			       const uint8_t *data, size_t len)
{
	return rv_p2p_cast_input_fragment_sig(c, now, run, seq, flags, NULL, data, len);
}

int rv_p2p_cast_input_fragment_sig(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t seq, uint8_t flags,
				   const uint8_t *sig, const uint8_t *data, size_t len)
{
	const char *why;
	if (len == 0 || len > RV_P2P_CAST_FRAG_MAX)
		return RV_ETOOBIG;
	cast_advance(c, now);
	if (c->conf.admit && c->info && run != c->run) {	/* another run's numbering */
		c->st.other_run++;
		return 0;
	}
	return cast_frag_take(c, NULL, seq, flags & RV_P2P_FRAG_KEY, sig, data, len, &why);
}

int rv_p2p_cast_input_announce(struct rv_p2p_cast *c, uint64_t now, const uint8_t *p, size_t n, const char **why)
{
	if (n == 0 || n > RV_P2P_CAST_INFO_MAX)
		return RV_ETOOBIG;
	cast_advance(c, now);
	struct rv_p2p_msg m = { .type = RV_P2P_M_CAST_INFO, .data = p, .data_len = n };
	return cast_info_in(c, NULL, &m, why);
}

int rv_p2p_cast_input_end(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t end, const char **why)
{
	cast_advance(c, now);
	if (c->conf.admit && c->info && run != c->run) {
		c->st.other_run++;
		return 0;
	}
	return cast_end_in(c, NULL, end, why);
}
