/* fuzz_p2penv.c - signed envelopes (lib/p2penv.c) as a relay meets them.
 *
 * Input grammar: byte 0 picks the mode, the rest is DATA.
 *   even: DATA is an envelope from the network, opened for the harness's
 *         group. When it opens, its fields must lie inside DATA, the sizes
 *         must add up and its ID must be SHA-256 of DATA.
 *   odd:  DATA is "u8 kind | u16 flip | payload": the payload is sealed by
 *         the harness's key (seeded), which must open to the same fields;
 *         then the byte at flip (mod size) is changed, and the envelope
 *         must no longer open.
 * A refusal must come with a reason. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "err.h"
#include "p2penv.h"

static struct rv_p2p_key key;
static const uint8_t group[RV_P2P_HASH_LEN] = { 0x47, 0x52 };
static uint8_t env[RV_P2P_ENV_MAX];

static void from_network(const uint8_t *d, size_t n)
{
	struct rv_p2p_env e;
	const char *why = NULL;
	uint8_t id[RV_P2P_HASH_LEN];
	int rc = rv_p2p_env_open(d, n, group, &e, &why);
	if (rc < 0) {
		assert((rc == RV_EPROTO || rc == RV_EDENIED) && why && *why);
		return;
	}
	assert(e.size == n && e.payload + e.len + RV_P2P_SIG_LEN == d + n);
	assert(e.kind >= RV_P2P_POST && e.kind <= RV_P2P_ACK);
	SHA256(d, n, id);
	assert(!memcmp(id, e.id, sizeof id));
}

static void sealed(const uint8_t *d, size_t n)
{
	struct rv_p2p_env e;
	const char *why = NULL;
	uint8_t id[RV_P2P_HASH_LEN];
	if (n < 3)
		return;
	int kind = RV_P2P_POST + d[0] % 3;
	size_t flip = (size_t)d[1] << 8 | d[2];
	long size = rv_p2p_env_seal(&key, group, kind, 1, 2, d + 3, n - 3, env, sizeof env, id);
	assert(size == (long)(RV_P2P_ENV_HEAD + n - 3 + RV_P2P_SIG_LEN));
	assert(rv_p2p_env_open(env, (size_t)size, group, &e, &why) == 0);
	assert(e.kind == kind && e.len == n - 3 && !memcmp(e.payload, d + 3, n - 3));
	assert(!memcmp(e.author, key.pub, RV_P2P_PUB_LEN) && !memcmp(e.id, id, sizeof id));
	env[flip % (size_t)size] ^= 0x01;
	assert(rv_p2p_env_open(env, (size_t)size, group, &e, &why) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!key.pkey) {
		uint8_t seed[32] = { 7 };
		assert(rv_p2p_key_from_seed(&key, seed) == 0);
	}
	if (size == 0)
		return 0;
	if (data[0] & 1)
		sealed(data + 1, size - 1);
	else
		from_network(data + 1, size - 1);
	return 0;
}
