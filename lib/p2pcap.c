/* p2pcap.c - capabilities of a restricted peer group (p2pcap.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "b32.h"
#include "bytes.h"
#include "err.h"
#include "p2pcap.h"

#define SIGNED 106
#define PREFIX "rvc1:"

int rv_p2p_cap_make(const struct rv_p2p_key *owner, const uint8_t group[RV_P2P_HASH_LEN],
		    const uint8_t grantee[RV_P2P_HASH_LEN], uint8_t rights, uint64_t expires,
		    uint8_t out[RV_P2P_CAP_LEN])
{
	out[0] = 1;
	out[1] = rights;
	memcpy(out + 2, group, 32);
	memcpy(out + 34, grantee, 32);
	rv_wr64(out + 66, expires);
	memcpy(out + 74, owner->pub, 32);
	return rv_p2p_sign(owner, out, SIGNED, out + SIGNED) < 0 ? RV_EPROTO : 0;
}

static int denied(const char **why, const char *what)
{
	*why = what;
	return RV_EDENIED;
}

int rv_p2p_cap_check(const uint8_t *cap, size_t n, const struct rv_p2p_spec *spec,
		     const uint8_t group[RV_P2P_HASH_LEN], const uint8_t author[RV_P2P_HASH_LEN], uint8_t right,
		     uint64_t now_s, const char **why)
{
	if (n != RV_P2P_CAP_LEN)
		return denied(why, "length: not a capability");
	if (cap[0] != 1)
		return denied(why, "version: unknown capability version");
	if (memcmp(cap + 2, group, 32))
		return denied(why, "group: a capability of another group");
	if (memcmp(cap + 34, author, 32))
		return denied(why, "grantee: a capability for another peer");
	if (!(cap[1] & right))
		return denied(why, "right: the capability does not allow it");
	int owner = 0;
	for (int i = 0; i < spec->nowners && !owner; i++)
		owner = !memcmp(spec->owners[i], cap + 74, 32);
	if (!owner)
		return denied(why, "owner: not signed by an owner of the group");
	if (rv_rd64(cap + 66) + RV_P2P_CAP_SKEW_S < now_s)
		return denied(why, "expired: the capability has expired");
	if (rv_p2p_verify(cap + 74, cap, SIGNED, cap + SIGNED) < 0)
		return denied(why, "signature: the capability's signature is not its owner's");
	return 0;
}

void rv_p2p_cap_format(const uint8_t cap[RV_P2P_CAP_LEN], char out[RV_P2P_CAP_TEXT])
{
	memcpy(out, PREFIX, 5);
	out[5 + rv_b32_encode(cap, RV_P2P_CAP_LEN, out + 5)] = 0;
}

int rv_p2p_cap_parse(const char *text, size_t len, uint8_t cap[RV_P2P_CAP_LEN])
{
	while (len && isspace((unsigned char)*text))
		text++, len--;
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < 5 || memcmp(text, PREFIX, 5))
		return RV_EPROTO;
	return rv_b32_decode(text + 5, len - 5, cap, RV_P2P_CAP_LEN) == RV_P2P_CAP_LEN ? 0 : RV_EPROTO;
}

long rv_p2p_cap_wrap(const uint8_t *cap, const void *data, size_t len, uint8_t *out, size_t cap_out)
{
	size_t head = cap ? 1 + RV_P2P_CAP_LEN : 1;
	if (len > cap_out || head > cap_out - len)
		return RV_ETOOBIG;
	out[0] = cap ? 1 : 0;
	if (cap)
		memcpy(out + 1, cap, RV_P2P_CAP_LEN);
	if (len)
		memcpy(out + head, data, len);
	return (long)(head + len);
}

int rv_p2p_cap_admit(const struct rv_p2p_env *e, const struct rv_p2p_spec *spec,
		     const uint8_t group[RV_P2P_HASH_LEN], uint64_t now_s, const uint8_t **data, size_t *len,
		     const char **why)
{
	uint8_t author[RV_P2P_HASH_LEN];
	if (e->len < 1 || e->payload[0] > 1)
		return denied(why, "marker: a post of a restricted group without its capability byte");
	if (e->payload[0] == 0) {	/* the author says it is an owner */
		int owner = 0;
		for (int i = 0; i < spec->nowners && !owner; i++)
			owner = !memcmp(spec->owners[i], e->author, 32);
		if (!owner)
			return denied(why, "owner: a post without a capability from a non-owner");
		*data = e->payload + 1;
		*len = e->len - 1;
		return 0;
	}
	if (e->len < 1 + RV_P2P_CAP_LEN)
		return denied(why, "length: a post cut inside its capability");
	rv_p2p_peer_id(e->author, author);
	int rc = rv_p2p_cap_check(e->payload + 1, RV_P2P_CAP_LEN, spec, group, author, RV_P2P_RIGHT_POST, now_s,
				  why);
	if (rc < 0)
		return rc;
	*data = e->payload + 1 + RV_P2P_CAP_LEN;
	*len = e->len - 1 - RV_P2P_CAP_LEN;
	return 0;
}

/* ---- stream announces ---- */

#define ANN_LABEL "rvp2p-announce-1"
#define ANN_LABEL_LEN 16

/* What the publisher signs: the label, the stream ID, the announce but
 * its signature (HEAD bytes of head, LEN of the application's), into a
 * buffer it returns (NULL: out of memory); *N its length. */
static uint8_t *ann_signed(const uint8_t stream[RV_P2P_HASH_LEN], const uint8_t *head, size_t hlen,
			   const uint8_t *data, size_t len, size_t *n)
{
	*n = ANN_LABEL_LEN + RV_P2P_HASH_LEN + hlen + len;
	uint8_t *b = malloc(*n);
	if (!b)
		return NULL;
	memcpy(b, ANN_LABEL, ANN_LABEL_LEN);
	memcpy(b + ANN_LABEL_LEN, stream, RV_P2P_HASH_LEN);
	memcpy(b + ANN_LABEL_LEN + RV_P2P_HASH_LEN, head, hlen);
	if (len)
		memcpy(b + ANN_LABEL_LEN + RV_P2P_HASH_LEN + hlen, data, len);
	return b;
}

long rv_p2p_cap_announce(const struct rv_p2p_key *k, const uint8_t *cap, const uint8_t stream[RV_P2P_HASH_LEN],
			 const void *data, size_t len, uint8_t *out, size_t cap_out)
{
	size_t head = 1 + RV_P2P_PUB_LEN + (cap ? RV_P2P_CAP_LEN : 0), n;
	if (len > cap_out || head + RV_P2P_SIG_LEN > cap_out - len)
		return RV_ETOOBIG;
	out[0] = cap ? 1 : 0;
	memcpy(out + 1, k->pub, RV_P2P_PUB_LEN);
	if (cap)
		memcpy(out + 1 + RV_P2P_PUB_LEN, cap, RV_P2P_CAP_LEN);
	uint8_t *b = ann_signed(stream, out, head, data, len, &n);
	if (!b)
		return RV_EPROTO;
	int rc = rv_p2p_sign(k, b, n, out + head);
	free(b);
	if (rc < 0)
		return RV_EPROTO;
	if (len)
		memcpy(out + head + RV_P2P_SIG_LEN, data, len);
	return (long)(head + RV_P2P_SIG_LEN + len);
}

int rv_p2p_cap_admit_announce(const uint8_t *p, size_t n, const struct rv_p2p_spec *spec,
			      const uint8_t group[RV_P2P_HASH_LEN], const uint8_t stream[RV_P2P_HASH_LEN],
			      uint64_t now_s, size_t *skip, uint8_t pub[RV_P2P_PUB_LEN], const char **why)
{
	if (n < 1 || p[0] > 1)
		return denied(why, "marker: an announce of a restricted group without its capability byte");
	size_t head = 1 + RV_P2P_PUB_LEN + (p[0] ? RV_P2P_CAP_LEN : 0);
	if (n < head + RV_P2P_SIG_LEN)
		return denied(why, "length: an announce cut before its signature");
	const uint8_t *key = p + 1;
	if (p[0] == 0) {	/* the publisher says it is an owner */
		int owner = 0;
		for (int i = 0; i < spec->nowners && !owner; i++)
			owner = !memcmp(spec->owners[i], key, RV_P2P_PUB_LEN);
		if (!owner)
			return denied(why, "owner: a stream without a capability from a non-owner");
	} else {
		uint8_t id[RV_P2P_HASH_LEN];
		rv_p2p_peer_id(key, id);
		int rc = rv_p2p_cap_check(p + 1 + RV_P2P_PUB_LEN, RV_P2P_CAP_LEN, spec, group, id,
					  RV_P2P_RIGHT_PUBLISH, now_s, why);
		if (rc < 0)
			return rc;
	}
	size_t len = n - head - RV_P2P_SIG_LEN, sn;
	uint8_t *b = ann_signed(stream, p, head, p + head + RV_P2P_SIG_LEN, len, &sn);
	if (!b)
		return denied(why, "memory: out of memory checking an announce");
	int rc = rv_p2p_verify(key, b, sn, p + head);
	free(b);
	if (rc < 0)
		return denied(why, "signature: the announce's signature is not its publisher's");
	*skip = head + RV_P2P_SIG_LEN;
	if (pub)
		memcpy(pub, key, RV_P2P_PUB_LEN);
	return 0;
}
