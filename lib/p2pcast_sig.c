/* p2pcast_sig.c - a live stream's signed fragments (p2pcast.h, "Signed
 * fragments"): what the publisher signs, its signature made and checked
 * through the caller's conf.sign and conf.verify, a fragment's signature
 * as held. The window and the messages are p2pcast.c's (p2pcast_int.h). */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pcast_int.h"

#define TAG "rvp2p-frag-1"

/* What the publisher signs of fragment SEQ (FLAGS, DATA, LEN bytes): into
 * c->sigmsg, its length. */
static size_t signed_bytes(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t *q = c->sigmsg;
	memcpy(q, TAG, sizeof TAG - 1);
	q += sizeof TAG - 1;
	memcpy(q, c->id, ID);
	rv_wr64(q + ID, c->run);
	rv_wr32(q + ID + 8, seq);
	q[ID + 12] = flags & RV_P2P_FRAG_KEY;
	memcpy(q + ID + 13, data, len);
	return (size_t)(q + ID + 13 + len - c->sigmsg);
}

int cast_sign(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *data, size_t len,
	      uint8_t sig[RV_P2P_SIG_LEN])
{
	return c->conf.sign(c->conf.sig_ud, c->sigmsg, signed_bytes(c, seq, flags, data, len), sig) < 0 ? RV_EPROTO : 0;
}

int cast_check(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *sig, const uint8_t *data,
	       size_t len, const char **why)
{
	if (sig && c->conf.verify(c->conf.sig_ud, c->run, c->sigmsg, signed_bytes(c, seq, flags, data, len), sig) == 0)
		return 0;
	c->st.forged++;
	return *why = sig ? "a fragment whose signature is not its publisher's" : "an unsigned fragment", RV_EPROTO;
}

const uint8_t *rv_p2p_cast_sig(const struct rv_p2p_cast *c, uint32_t seq)
{
	const struct frag *f = cast_get((struct rv_p2p_cast *)c, seq, HELD);
	return f && (f->flags & RV_P2P_FRAG_SIGNED) ? f->data + f->len : NULL;
}
