/* fuzz_p2pcap.c - capabilities of a restricted group (lib/p2pcap.c) as a
 * command line and the network meet them.
 *
 * Input grammar: byte 0 picks the mode, the rest is DATA.
 *   0 mod 3: DATA is text for --cap: when rv_p2p_cap_parse takes it, the
 *            capability formats back to DATA without its surrounding white
 *            space (one text per capability).
 *   1 mod 3: DATA is a capability's bytes from anyone: rv_p2p_cap_check
 *            for the harness's group and member takes it only when it is
 *            byte for byte the one the owner made (the owner's signature
 *            cannot be made by the fuzzer), and a refusal has a reason.
 *   2 mod 3: DATA is a post's payload, sealed by the member's key
 *            (DATA starting 0xFF: marker 1, the owner's capability for the
 *            member, then the rest of DATA, so that the good path runs):
 *            rv_p2p_cap_admit takes it only with marker 1 and that
 *            capability in front, and then hands back exactly the bytes
 *            after it.
 *   byte 0 of 0xF0 and up (before the above): DATA is a stream's announce
 *            (DATA starting 0xFF: the member's, signed, with the owner's
 *            capability to publish, around the rest of DATA, so that the
 *            good path runs): rv_p2p_cap_admit_announce takes only that
 *            one, and then points at exactly the rest of DATA; anything
 *            else (the fuzzer cannot sign) is refused with a reason.
 * The owner's and member's keys are seeded; the capabilities the owner made
 * for the member are made once. */
#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "p2pcap.h"

static struct rv_p2p_key owner, member;
static struct rv_p2p_spec spec;
static uint8_t group[32], granted[RV_P2P_CAP_LEN], granted_pub[RV_P2P_CAP_LEN], stream[32];
static uint8_t ann[1 + 32 + RV_P2P_CAP_LEN + 64 + 2048];
static uint8_t payload[RV_P2P_PAYLOAD_MAX], env[RV_P2P_ENV_MAX];

static void init(void)
{
	uint8_t s1[32] = { 1 }, s2[32] = { 2 };
	const char *why;
	assert(rv_p2p_key_from_seed(&owner, s1) == 0 && rv_p2p_key_from_seed(&member, s2) == 0);
	spec.version = 1;
	strcpy(spec.name, "fuzz");
	spec.caps = RV_P2P_CAP_POSTING | RV_P2P_CAP_RESTRICT_POSTING;
	spec.nowners = 1;
	memcpy(spec.owners[0], owner.pub, 32);
	assert(rv_p2p_group_id(&spec, group, &why) == 0);
	assert(rv_p2p_cap_make(&owner, group, member.id, RV_P2P_RIGHT_POST, 2000000000, granted) == 0);
	assert(rv_p2p_cap_make(&owner, group, member.id, RV_P2P_RIGHT_PUBLISH, 2000000000, granted_pub) == 0);
	memset(stream, 0x5c, 32);
}

static void announce(const uint8_t *d, size_t n)
{
	const char *why = NULL;
	size_t skip = 0;
	uint8_t pub[32];
	int ours = n && d[0] == 0xff;
	if (ours) {
		n = n - 1 > 2048 ? 2048 : n - 1;
		long len = rv_p2p_cap_announce(&member, granted_pub, stream, d + 1, n, ann, sizeof ann);
		assert(len == (long)(1 + 32 + RV_P2P_CAP_LEN + 64 + n));
		d++;
		int rc = rv_p2p_cap_admit_announce(ann, (size_t)len, &spec, group, stream, 1000, &skip, pub, &why);
		assert(rc == 0 && skip == (size_t)len - n && !memcmp(ann + skip, d, n) && !memcmp(pub, member.pub, 32));
		return;
	}
	int rc = rv_p2p_cap_admit_announce(d, n, &spec, group, stream, 1000, &skip, pub, &why);
	assert(rc == RV_EDENIED && why && *why);
}

static void text(const uint8_t *d, size_t n)
{
	uint8_t cap[RV_P2P_CAP_LEN];
	char back[RV_P2P_CAP_TEXT];
	if (rv_p2p_cap_parse((const char *)d, n, cap) < 0)
		return;
	while (n && isspace(*d))
		d++, n--;
	while (n && isspace(d[n - 1]))
		n--;
	rv_p2p_cap_format(cap, back);
	assert(strlen(back) == n && !memcmp(back, d, n));
}

static void bytes(const uint8_t *d, size_t n)
{
	const char *why = NULL;
	int rc = rv_p2p_cap_check(d, n, &spec, group, member.id, RV_P2P_RIGHT_POST, 1000, &why);
	if (rc == 0)
		assert(n == RV_P2P_CAP_LEN && !memcmp(d, granted, n));
	else
		assert(rc == RV_EDENIED && why && *why);
}

static void post(const uint8_t *d, size_t n)
{
	struct rv_p2p_env e;
	const uint8_t *data;
	size_t len;
	const char *why = NULL;
	if (n && d[0] == 0xff) {
		n = n - 1 > RV_P2P_PAYLOAD_MAX - 1 - RV_P2P_CAP_LEN ? RV_P2P_PAYLOAD_MAX - 1 - RV_P2P_CAP_LEN : n - 1;
		payload[0] = 1;
		memcpy(payload + 1, granted, RV_P2P_CAP_LEN);
		memcpy(payload + 1 + RV_P2P_CAP_LEN, d + 1, n);
		n += 1 + RV_P2P_CAP_LEN;
	} else {
		if (n > RV_P2P_PAYLOAD_MAX)
			n = RV_P2P_PAYLOAD_MAX;
		memcpy(payload, d, n);
	}
	d = payload;
	long size = rv_p2p_env_seal(&member, group, RV_P2P_POST, 1000, 7, payload, n, env, sizeof env, NULL);
	assert(size > 0 && rv_p2p_env_open(env, (size_t)size, group, &e, &why) == 0);
	int rc = rv_p2p_cap_admit(&e, &spec, group, 1000, &data, &len, &why);
	if (rc < 0) {
		assert(rc == RV_EDENIED && why && *why);
		return;
	}
	assert(n >= 1 + RV_P2P_CAP_LEN && d[0] == 1 && !memcmp(d + 1, granted, RV_P2P_CAP_LEN));
	assert(data == e.payload + 1 + RV_P2P_CAP_LEN && len == n - 1 - RV_P2P_CAP_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (n == 0)
		return 0;
	if (d[0] >= 0xf0) {
		announce(d + 1, n - 1);
		return 0;
	}
	switch (d[0] % 3) {
	case 0: text(d + 1, n - 1); break;
	case 1: bytes(d + 1, n - 1); break;
	default: post(d + 1, n - 1); break;
	}
	return 0;
}
