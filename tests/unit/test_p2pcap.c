/* test_p2pcap.c - capabilities of a restricted group (p2pcap.h): one made
 * by an owner checks for its grantee, and is refused for each reason the
 * header lists; the text form round-trips; a post's payload admits the
 * owner without a capability, a holder with one, and nobody else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "p2pcap.h"

static struct rv_p2p_key owner, member, other;
static struct rv_p2p_spec spec;
static uint8_t group[32];

static int setup(void **state)
{
	(void)state;
	uint8_t s1[32] = { 1 }, s2[32] = { 2 }, s3[32] = { 3 };
	assert_int_equal(rv_p2p_key_from_seed(&owner, s1), 0);
	assert_int_equal(rv_p2p_key_from_seed(&member, s2), 0);
	assert_int_equal(rv_p2p_key_from_seed(&other, s3), 0);
	memset(&spec, 0, sizeof spec);
	spec.version = 1;
	strcpy(spec.name, "restricted");
	spec.caps = RV_P2P_CAP_POSTING | RV_P2P_CAP_RESTRICT_POSTING;
	spec.nowners = 1;
	memcpy(spec.owners[0], owner.pub, 32);
	const char *why;
	assert_int_equal(rv_p2p_group_id(&spec, group, &why), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rv_p2p_key_free(&owner);
	rv_p2p_key_free(&member);
	rv_p2p_key_free(&other);
	return 0;
}

static void refused(const uint8_t *cap, const uint8_t *who, uint8_t right, uint64_t now, const char *reason)
{
	const char *why = NULL;
	assert_int_equal(rv_p2p_cap_check(cap, RV_P2P_CAP_LEN, &spec, group, who, right, now, &why), RV_EDENIED);
	assert_non_null(why);
	assert_memory_equal(why, reason, strlen(reason));
}

static void check(void **state)
{
	(void)state;
	uint8_t cap[RV_P2P_CAP_LEN], bad[RV_P2P_CAP_LEN], other_group[32] = { 9 };
	const char *why;
	assert_int_equal(rv_p2p_cap_make(&owner, group, member.id, RV_P2P_RIGHT_POST, 1000000, cap), 0);
	assert_int_equal(rv_p2p_cap_check(cap, sizeof cap, &spec, group, member.id, RV_P2P_RIGHT_POST, 1000000, &why), 0);
	/* within the skew past its expiry, then not */
	assert_int_equal(rv_p2p_cap_check(cap, sizeof cap, &spec, group, member.id, RV_P2P_RIGHT_POST,
					  1000000 + RV_P2P_CAP_SKEW_S, &why), 0);
	refused(cap, member.id, RV_P2P_RIGHT_POST, 1000000 + RV_P2P_CAP_SKEW_S + 1, "expired");
	refused(cap, other.id, RV_P2P_RIGHT_POST, 1000, "grantee");
	refused(cap, member.id, RV_P2P_RIGHT_PUBLISH, 1000, "right");
	assert_int_equal(rv_p2p_cap_check(cap, sizeof cap, &spec, other_group, member.id, RV_P2P_RIGHT_POST, 1000, &why),
			 RV_EDENIED);
	assert_int_equal(rv_p2p_cap_check(cap, sizeof cap - 1, &spec, group, member.id, RV_P2P_RIGHT_POST, 1000, &why),
			 RV_EDENIED);
	/* a member signing for itself is not an owner */
	assert_int_equal(rv_p2p_cap_make(&member, group, member.id, RV_P2P_RIGHT_POST, 1000000, bad), 0);
	refused(bad, member.id, RV_P2P_RIGHT_POST, 1000, "owner");
	/* any byte changed after signing: refused */
	for (size_t i = 0; i < RV_P2P_CAP_LEN; i++) {
		memcpy(bad, cap, sizeof bad);
		bad[i] ^= 0x10;
		assert_int_equal(rv_p2p_cap_check(bad, sizeof bad, &spec, group, member.id, RV_P2P_RIGHT_POST, 1000, &why),
				 RV_EDENIED);
	}
	/* the later expiry a member would like is the owner's to give */
	memcpy(bad, cap, sizeof bad);
	bad[66] = 0x7f;
	refused(bad, member.id, RV_P2P_RIGHT_POST, 1000, "signature");
}

static void text(void **state)
{
	(void)state;
	uint8_t cap[RV_P2P_CAP_LEN], back[RV_P2P_CAP_LEN];
	char t[RV_P2P_CAP_TEXT];
	assert_int_equal(rv_p2p_cap_make(&owner, group, member.id, RV_P2P_RIGHT_POST, 42, cap), 0);
	rv_p2p_cap_format(cap, t);
	assert_memory_equal(t, "rvc1:", 5);
	assert_int_equal(strlen(t), RV_P2P_CAP_TEXT - 1);
	assert_int_equal(rv_p2p_cap_parse(t, strlen(t), back), 0);
	assert_memory_equal(back, cap, sizeof cap);
	char padded[RV_P2P_CAP_TEXT + 4];
	snprintf(padded, sizeof padded, " %s\n", t);
	assert_int_equal(rv_p2p_cap_parse(padded, strlen(padded), back), 0);
	t[10] = 'A';	/* upper case is not base32 here */
	assert_int_equal(rv_p2p_cap_parse(t, strlen(t), back), RV_EPROTO);
	assert_int_equal(rv_p2p_cap_parse("rvc1:", 5, back), RV_EPROTO);
	assert_int_equal(rv_p2p_cap_parse("rvg1:aaaa", 9, back), RV_EPROTO);
}

/* A sealed post's payload in the group: admitted or not, and its bytes. */
static int post(const struct rv_p2p_key *author, const uint8_t *cap, int marker, const char *text, const char **why,
		char *got)
{
	uint8_t payload[512], env[1024];
	long n = rv_p2p_cap_wrap(cap, text, strlen(text), payload, sizeof payload);
	assert_true(n > 0);
	if (marker >= 0)
		payload[0] = (uint8_t)marker;
	long size = rv_p2p_env_seal(author, group, RV_P2P_POST, 1000, 7, payload, (size_t)n, env, sizeof env, NULL);
	struct rv_p2p_env e;
	assert_int_equal(rv_p2p_env_open(env, (size_t)size, group, &e, why), 0);
	const uint8_t *data;
	size_t len;
	int rc = rv_p2p_cap_admit(&e, &spec, group, 1000, &data, &len, why);
	if (rc == 0)
		snprintf(got, 64, "%.*s", (int)len, (const char *)data);
	return rc;
}

static void admit(void **state)
{
	(void)state;
	uint8_t cap[RV_P2P_CAP_LEN], theirs[RV_P2P_CAP_LEN];
	char got[64];
	const char *why;
	assert_int_equal(rv_p2p_cap_make(&owner, group, member.id, RV_P2P_RIGHT_POST, 100000, cap), 0);
	assert_int_equal(rv_p2p_cap_make(&owner, group, other.id, RV_P2P_RIGHT_POST, 100000, theirs), 0);
	assert_int_equal(post(&owner, NULL, -1, "from the owner", &why, got), 0);
	assert_string_equal(got, "from the owner");
	assert_int_equal(post(&member, cap, -1, "with a capability", &why, got), 0);
	assert_string_equal(got, "with a capability");
	assert_int_equal(post(&member, NULL, -1, "claims to own it", &why, got), RV_EDENIED);
	assert_int_equal(post(&member, theirs, -1, "someone else's", &why, got), RV_EDENIED);
	assert_int_equal(post(&member, cap, 2, "unknown marker", &why, got), RV_EDENIED);
	long n = rv_p2p_cap_wrap(cap, "x", 1, (uint8_t[8]){ 0 }, 8);
	assert_int_equal(n, RV_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check),
		cmocka_unit_test(text),
		cmocka_unit_test(admit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
