/* p2penv.c - signed envelopes (p2penv.h). */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2penv.h"

long rv_p2p_env_seal(const struct rv_p2p_key *k, const uint8_t group[RV_P2P_HASH_LEN],
		     enum rv_p2p_kind kind, uint64_t time_ms, uint64_t nonce,
		     const void *payload, size_t len, uint8_t *out, size_t cap,
		     uint8_t id[RV_P2P_HASH_LEN])
{
	size_t size = RV_P2P_ENV_HEAD + len + RV_P2P_SIG_LEN;
	if (len > RV_P2P_PAYLOAD_MAX || size > cap)
		return RV_ETOOBIG;
	out[0] = 1;
	out[1] = (uint8_t)kind;
	memcpy(out + 2, group, RV_P2P_HASH_LEN);
	memcpy(out + 34, k->pub, RV_P2P_PUB_LEN);
	rv_wr64(out + 66, time_ms);
	rv_wr64(out + 74, nonce);
	rv_wr16(out + 82, (uint16_t)len);
	if (len)
		memcpy(out + RV_P2P_ENV_HEAD, payload, len);
	if (rv_p2p_sign(k, out, RV_P2P_ENV_HEAD + len, out + RV_P2P_ENV_HEAD + len) < 0)
		return RV_EPROTO;
	if (id)
		rv_p2p_sha256(out, size, id);
	return (long)size;
}

int rv_p2p_env_read(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		    struct rv_p2p_env *e, const char **why)
{
	if (n < RV_P2P_ENV_HEAD + RV_P2P_SIG_LEN || n > RV_P2P_ENV_MAX)
		return *why = "truncated or oversized envelope", RV_EPROTO;
	if (p[0] != 1)
		return *why = "unknown envelope version", RV_EPROTO;
	if (p[1] < RV_P2P_POST || p[1] > RV_P2P_ACK)
		return *why = "unknown envelope kind", RV_EPROTO;
	size_t len = rv_rd16(p + 82);
	if (len > RV_P2P_PAYLOAD_MAX || RV_P2P_ENV_HEAD + len + RV_P2P_SIG_LEN != n)
		return *why = "envelope length mismatch", RV_EPROTO;
	if (memcmp(p + 2, group, RV_P2P_HASH_LEN))
		return *why = "envelope of another group", RV_EPROTO;
	e->kind = p[1];
	e->group = p + 2;
	e->author = p + 34;
	e->time_ms = rv_rd64(p + 66);
	e->nonce = rv_rd64(p + 74);
	e->payload = p + RV_P2P_ENV_HEAD;
	e->len = len;
	e->size = n;
	rv_p2p_sha256(p, n, e->id);
	return 0;
}

int rv_p2p_env_open(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN],
		    struct rv_p2p_env *e, const char **why)
{
	int rc = rv_p2p_env_read(p, n, group, e, why);
	if (rc < 0)
		return rc;
	if (rv_p2p_verify(e->author, p, RV_P2P_ENV_HEAD + e->len, p + RV_P2P_ENV_HEAD + e->len) < 0)
		return *why = "bad envelope signature", RV_EDENIED;
	return 0;
}
