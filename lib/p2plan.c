/* p2plan.c - LAN announcements (p2plan.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bytes.h"
#include "err.h"
#include "p2plan.h"

#define TAG_CONTEXT "rvp2p-lan"
#define SIG_CONTEXT "rvp2p-lan-1"
#define OFF_TAG RV_P2P_LAN_MAGIC_LEN
#define OFF_PUB (OFF_TAG + RV_P2P_LAN_TAG_LEN)
#define OFF_TIME (OFF_PUB + RV_P2P_PUB_LEN)
#define OFF_NONCE (OFF_TIME + 8)
#define OFF_SIG (OFF_NONCE + 8)
#define SIGNED_MAX (sizeof SIG_CONTEXT - 1 + RV_P2P_HASH_LEN + RV_P2P_LAN_MAGIC_LEN + \
		    (OFF_SIG - OFF_PUB))

_Static_assert(OFF_SIG + RV_P2P_SIG_LEN == RV_P2P_LAN_LEN, "announcement layout");

int rv_p2p_lan_is(const uint8_t *p, size_t n)
{
	return n >= RV_P2P_LAN_MAGIC_LEN && !memcmp(p, RV_P2P_LAN_MAGIC, RV_P2P_LAN_MAGIC_LEN);
}

/* The tag of the announcement D for GROUP: HMAC over all of D but the tag. */
static void lan_tag(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t *d,
		    uint8_t tag[RV_P2P_LAN_TAG_LEN])
{
	uint8_t in[sizeof TAG_CONTEXT - 1 + RV_P2P_LAN_LEN - RV_P2P_LAN_TAG_LEN];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned len = sizeof mac;
	size_t c = sizeof TAG_CONTEXT - 1;
	memcpy(in, TAG_CONTEXT, c);
	memcpy(in + c, d, OFF_TAG);
	memcpy(in + c + OFF_TAG, d + OFF_PUB, RV_P2P_LAN_LEN - OFF_PUB);
	HMAC(EVP_sha256(), group, RV_P2P_HASH_LEN, in, sizeof in, mac, &len);
	memcpy(tag, mac, RV_P2P_LAN_TAG_LEN);
}

/* What the signature of the announcement D for GROUP covers, into B. */
static size_t lan_signed(uint8_t *b, const uint8_t group[RV_P2P_HASH_LEN], const uint8_t *d)
{
	size_t n = sizeof SIG_CONTEXT - 1;
	memcpy(b, SIG_CONTEXT, n);
	memcpy(b + n, group, RV_P2P_HASH_LEN);
	n += RV_P2P_HASH_LEN;
	memcpy(b + n, d, RV_P2P_LAN_MAGIC_LEN);
	n += RV_P2P_LAN_MAGIC_LEN;
	memcpy(b + n, d + OFF_PUB, OFF_SIG - OFF_PUB);
	return n + (OFF_SIG - OFF_PUB);
}

long rv_p2p_lan_build(const struct rv_p2p_key *k, const uint8_t group[RV_P2P_HASH_LEN], uint64_t now,
		      uint64_t nonce, uint8_t *out, size_t cap)
{
	uint8_t b[SIGNED_MAX];
	if (cap < RV_P2P_LAN_LEN)
		return RV_ETOOBIG;
	memcpy(out, RV_P2P_LAN_MAGIC, RV_P2P_LAN_MAGIC_LEN);
	memcpy(out + OFF_PUB, k->pub, RV_P2P_PUB_LEN);
	rv_wr64(out + OFF_TIME, now);
	rv_wr64(out + OFF_NONCE, nonce);
	if (rv_p2p_sign(k, b, lan_signed(b, group, out), out + OFF_SIG) < 0)
		return RV_EPROTO;
	lan_tag(group, out, out + OFF_TAG);
	return RV_P2P_LAN_LEN;
}

/* The replay cache's key for an announcement: peer ID prefix and nonce. */
static void seen_key(const uint8_t id[RV_P2P_HASH_LEN], const uint8_t *d, uint8_t key[16])
{
	memcpy(key, id, 8);
	memcpy(key + 8, d + OFF_NONCE, 8);
}

static int seen_has(const struct rv_p2p_lan_seen *s, const uint8_t key[16])
{
	for (unsigned i = 0; i < s->n; i++)
		if (!memcmp(s->ent[i], key, 16))
			return 1;
	return 0;
}

static void seen_add(struct rv_p2p_lan_seen *s, const uint8_t key[16])
{
	memcpy(s->ent[s->next], key, 16);
	s->next = (s->next + 1) % RV_P2P_LAN_SEEN;
	if (s->n < RV_P2P_LAN_SEEN)
		s->n++;
}

/* Refuse a time more than RV_P2P_LAN_SKEW_MS away from NOW: 0 or RV_EPROTO. */
static int lan_time(uint64_t t, uint64_t now, const char **why)
{
	if (t < now && now - t > RV_P2P_LAN_SKEW_MS)
		return *why = "stale: announcement older than 30 s", RV_EPROTO;
	if (t > now && t - now > RV_P2P_LAN_SKEW_MS)
		return *why = "future: announcement dated more than 30 s ahead", RV_EPROTO;
	return 0;
}

int rv_p2p_lan_open(const uint8_t *p, size_t n, const uint8_t group[RV_P2P_HASH_LEN], uint64_t now,
		    struct rv_p2p_lan_seen *seen, uint8_t id[RV_P2P_HASH_LEN], uint8_t pub[RV_P2P_PUB_LEN],
		    const char **why)
{
	uint8_t tag[RV_P2P_LAN_TAG_LEN], b[SIGNED_MAX], key[16], pid[RV_P2P_HASH_LEN];
	if (!rv_p2p_lan_is(p, n))
		return *why = "magic: not a LAN announcement", RV_EPROTO;
	if (n != RV_P2P_LAN_LEN)
		return *why = "length: truncated or oversized LAN announcement", RV_EPROTO;
	lan_tag(group, p, tag);
	if (CRYPTO_memcmp(tag, p + OFF_TAG, RV_P2P_LAN_TAG_LEN))
		return *why = "tag: not an announcement of this group", RV_EPROTO;
	if (lan_time(rv_rd64(p + OFF_TIME), now, why) < 0)
		return RV_EPROTO;
	rv_p2p_peer_id(p + OFF_PUB, pid);
	seen_key(pid, p, key);
	if (seen && seen_has(seen, key))
		return *why = "replay: announcement seen before", RV_EPROTO;
	if (rv_p2p_verify(p + OFF_PUB, b, lan_signed(b, group, p), p + OFF_SIG) < 0)
		return *why = "signature: bad announcement signature", RV_EPROTO;
	if (seen)
		seen_add(seen, key);
	memcpy(id, pid, RV_P2P_HASH_LEN);
	memcpy(pub, p + OFF_PUB, RV_P2P_PUB_LEN);
	return 0;
}
