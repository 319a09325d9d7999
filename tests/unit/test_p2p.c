/* test_p2p.c - peer group identities (p2pkey.h) and specs (p2pspec.h):
 * RFC 8032's Ed25519 vector, key files, specs that have exactly one text
 * each, and signed envelopes (p2penv.h) that no relay can alter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "p2penv.h"
#include "p2pkey.h"
#include "p2pspec.h"

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

/* RFC 8032 section 7.1, TEST 1 (the empty message). */
static void ed25519_vector(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], sig[64], want[64];
	unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed);
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub);
	unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", want);
	struct rv_p2p_key k;
	assert_int_equal(rv_p2p_key_from_seed(&k, seed), 0);
	assert_memory_equal(k.pub, pub, 32);
	assert_int_equal(rv_p2p_sign(&k, "", 0, sig), 0);
	assert_memory_equal(sig, want, 64);
	assert_int_equal(rv_p2p_verify(pub, "", 0, sig), 0);
	sig[10] ^= 1;
	assert_int_equal(rv_p2p_verify(pub, "", 0, sig), RV_EDENIED);
	sig[10] ^= 1;
	assert_int_equal(rv_p2p_verify(pub, "x", 1, sig), RV_EDENIED);
	rv_p2p_key_free(&k);
}

/* The ID is SHA-256(pub) and the ring address SHA-256(01 || ID), as
 * `openssl dgst -sha256` computes them for RFC 8032's key. */
static void ids(void **state)
{
	(void)state;
	uint8_t pub[32], id[32], addr[32], want[32];
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub);
	rv_p2p_peer_id(pub, id);
	unhex("21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9", want);
	assert_memory_equal(id, want, 32);
	rv_p2p_ring_addr(id, addr);
	unhex("538773183b87849bb4cb8a92059bca72e281fae702685f629f9c92197b70a54e", want);
	assert_memory_equal(addr, want, 32);
	uint8_t id2[32];
	memcpy(id2, id, 32);
	id2[31] ^= 1;
	uint8_t addr2[32];
	rv_p2p_ring_addr(id2, addr2);
	assert_memory_not_equal(addr, addr2, 32);
}

static void key_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/rv-p2pkey.XXXXXX", path[64], cmd[96];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/key.pem", dir);
	struct rv_p2p_key a, b;
	int created;
	assert_int_equal(rv_p2p_key_open(path, &a, &created), 0);
	assert_int_equal(created, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(rv_p2p_key_open(path, &b, &created), 0);
	assert_int_equal(created, 0);                  /* the same key, loaded */
	assert_memory_equal(a.pub, b.pub, 32);
	uint8_t sig[64];
	assert_int_equal(rv_p2p_sign(&b, "m", 1, sig), 0);
	assert_int_equal(rv_p2p_verify(a.pub, "m", 1, sig), 0);
	rv_p2p_key_free(&a);
	rv_p2p_key_free(&b);
	/* not a key: refused, and left alone */
	FILE *f = fopen(path, "w");
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(rv_p2p_key_open(path, &a, &created), RV_EPROTO);
	assert_int_equal(rv_p2p_key_load(dir, &a) < 0, 1);   /* a directory */
	snprintf(path, sizeof path, "%s/none/key.pem", dir);
	assert_int_equal(rv_p2p_key_open(path, &a, &created), -ENOENT);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct rv_p2p_spec sample(void)
{
	struct rv_p2p_spec s = { .version = 1, .caps = RV_P2P_CAP_POSTING | RV_P2P_CAP_SERVER_CHANNEL };
	strcpy(s.name, "chat.example");
	return s;
}

static void spec_round_trip(void **state)
{
	(void)state;
	struct rv_p2p_spec s = sample(), r;
	char text[RV_P2P_SPEC_MAX + 1], again[RV_P2P_SPEC_MAX + 1];
	const char *why = NULL;
	s.has_unique = 1;
	memset(s.unique, 7, sizeof s.unique);
	s.nowners = 3;
	memset(s.owners[0], 9, 32);
	memset(s.owners[1], 2, 32);
	memset(s.owners[2], 9, 32);                     /* a duplicate */
	s.lan_family = 4;
	memcpy(s.lan_addr, "\xef\xff\x2a\x01", 4);
	s.lan_port = 30000;
	int n = rv_p2p_spec_format(&s, text, sizeof text, &why);
	assert_true(n > 5);
	assert_int_equal(strlen(text), n);
	assert_memory_equal(text, "rvg1:", 5);
	assert_int_equal(rv_p2p_spec_parse(text, (size_t)n, &r, &why), 0);
	assert_string_equal(r.name, "chat.example");
	assert_int_equal(r.caps, s.caps);
	assert_int_equal(r.nowners, 2);                 /* sorted, deduplicated */
	assert_int_equal(r.owners[0][0], 2);
	assert_int_equal(r.lan_family, 4);
	assert_int_equal(r.lan_port, 30000);
	assert_int_equal(rv_p2p_spec_format(&r, again, sizeof again, &why), n);
	assert_string_equal(again, text);               /* one text per spec */
	uint8_t id1[32], id2[32], h[32];
	assert_int_equal(rv_p2p_group_id(&s, id1, &why), 0);
	assert_int_equal(rv_p2p_group_id(&r, id2, &why), 0);
	assert_memory_equal(id1, id2, 32);
	r.unique[0] ^= 1;                               /* another group of that name */
	assert_int_equal(rv_p2p_group_id(&r, id2, &why), 0);
	assert_memory_not_equal(id1, id2, 32);
	rv_p2p_group_hash(id1, h);
	assert_memory_not_equal(h, id1, 32);
	char small[16];
	assert_int_equal(rv_p2p_spec_format(&s, small, sizeof small, &why), RV_ETOOBIG);
}

/* Base32 of a TLV byte string, as the spec text. */
static void text_of(const uint8_t *tlv, size_t n, char *out)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t o = 5;
	uint32_t acc = 0;
	int bits = 0;
	memcpy(out, "rvg1:", 5);
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | tlv[i];
		for (bits += 8; bits >= 5; bits -= 5)
			out[o++] = a[(acc >> (bits - 5)) & 31];
	}
	if (bits)
		out[o++] = a[(acc << (5 - bits)) & 31];
	out[o] = 0;
}

static void expect_refused(const uint8_t *tlv, size_t n, const char *reason)
{
	char text[2048];
	struct rv_p2p_spec s;
	const char *why = NULL;
	text_of(tlv, n, text);
	assert_int_equal(rv_p2p_spec_parse(text, strlen(text), &s, &why), RV_EPROTO);
	assert_string_equal(why, reason);
}

/* What a group does: version 2 specs by their bits alone; version 1 specs
 * (before the replication and multicast bits) do both of those too. The
 * version survives a round trip, and is part of the group ID. */
static void spec_allows(void **state)
{
	(void)state;
	struct rv_p2p_spec s = { .version = 2, .caps = RV_P2P_CAP_ROUTING | RV_P2P_CAP_REPLICATION }, r;
	snprintf(s.name, sizeof s.name, "g");
	assert_false(rv_p2p_spec_allows(&s, RV_P2P_CAP_POSTING));
	assert_true(rv_p2p_spec_allows(&s, RV_P2P_CAP_ROUTING));
	assert_true(rv_p2p_spec_allows(&s, RV_P2P_CAP_REPLICATION));
	assert_false(rv_p2p_spec_allows(&s, RV_P2P_CAP_MULTICAST));
	assert_false(rv_p2p_spec_allows(&s, RV_P2P_CAP_ROUTING | RV_P2P_CAP_MULTICAST));	/* all of them */
	char text[RV_P2P_SPEC_MAX + 1];
	const char *why;
	uint8_t id2[32], id1[32];
	assert_true(rv_p2p_spec_format(&s, text, sizeof text, &why) > 0);
	assert_int_equal(rv_p2p_spec_parse(text, strlen(text), &r, &why), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(rv_p2p_group_id(&s, id2, &why), 0);
	s.version = 1;
	assert_true(rv_p2p_spec_allows(&s, RV_P2P_CAP_MULTICAST));
	assert_false(rv_p2p_spec_allows(&s, RV_P2P_CAP_POSTING));
	assert_int_equal(rv_p2p_group_id(&s, id1, &why), 0);
	assert_memory_not_equal(id1, id2, 32);
}

static void spec_refusals(void **state)
{
	(void)state;
	struct rv_p2p_spec s;
	const char *why;
	/* the smallest valid spec, for reference */
	const uint8_t ok[] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0, 1 };
	char text[64];
	text_of(ok, sizeof ok, text);
	assert_int_equal(rv_p2p_spec_parse(text, strlen(text), &s, &why), 0);
	/* upper case, padding, stray bits: the same bytes in another text */
	char up[64];
	strcpy(up, text);
	up[6] = (char)(up[6] - 'a' + 'A');
	assert_int_equal(rv_p2p_spec_parse(up, strlen(up), &s, &why), RV_EPROTO);
	strcpy(up, text);
	strcat(up, "=");
	assert_int_equal(rv_p2p_spec_parse(up, strlen(up), &s, &why), RV_EPROTO);
	const uint8_t ok11[] = { 1, 1, 1, 2, 2, 'g', 'g', 3, 2, 0, 1 };  /* 88 bits: 2 left over */
	text_of(ok11, sizeof ok11, up);
	assert_int_equal(rv_p2p_spec_parse(up, strlen(up), &s, &why), 0);
	up[strlen(up) - 1] = (char)(up[strlen(up) - 1] + 1);   /* one of those bits set */
	assert_int_equal(rv_p2p_spec_parse(up, strlen(up), &s, &why), RV_EPROTO);
	assert_string_equal(why, "spec is not lowercase base32");
	assert_int_equal(rv_p2p_spec_parse("G:0101", 6, &s, &why), RV_EPROTO);
	assert_string_equal(why, "not a group spec (rvg1:...)");
	char big[RV_P2P_SPEC_MAX + 2];
	memset(big, 'a', sizeof big);
	memcpy(big, "rvg1:", 5);
	assert_int_equal(rv_p2p_spec_parse(big, sizeof big, &s, &why), RV_ETOOBIG);

	const uint8_t v3[] = { 1, 1, 3, 2, 1, 'g', 3, 2, 0, 1 };
	expect_refused(v3, sizeof v3, "unsupported spec version");
	const uint8_t v0[] = { 1, 1, 0, 2, 1, 'g', 3, 2, 0, 1 };
	expect_refused(v0, sizeof v0, "unsupported spec version");
	const uint8_t noname[] = { 1, 1, 1, 3, 2, 0, 1 };
	expect_refused(noname, sizeof noname, "spec lacks version, name or capabilities");
	const uint8_t ctl[] = { 1, 1, 1, 2, 2, 'g', '\n', 3, 2, 0, 1 };
	expect_refused(ctl, sizeof ctl, "bad group name");
	const uint8_t caps[] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0x80, 0 };
	expect_refused(caps, sizeof caps, "unknown capabilities");
	const uint8_t order[] = { 1, 1, 1, 3, 2, 0, 1, 2, 1, 'g' };
	expect_refused(order, sizeof order, "spec fields out of order");
	const uint8_t twice[] = { 1, 1, 1, 2, 1, 'g', 2, 1, 'h', 3, 2, 0, 1 };
	expect_refused(twice, sizeof twice, "spec fields out of order");
	const uint8_t unknown[] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0, 1, 9, 0 };
	expect_refused(unknown, sizeof unknown, "unknown spec field");
	const uint8_t trunc[] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0, 1, 4, 16, 0 };
	expect_refused(trunc, sizeof trunc, "truncated spec");
	uint8_t owners[10 + 2 * 34] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0, 1 };
	for (int i = 0; i < 2; i++) {
		owners[10 + 34 * i] = 5;
		owners[11 + 34 * i] = 32;
		memset(owners + 12 + 34 * i, 5 - i, 32);    /* decreasing */
	}
	expect_refused(owners, sizeof owners, "owner keys out of order");
	const uint8_t lan[] = { 1, 1, 1, 2, 1, 'g', 3, 2, 0, 1, 6, 6, 239, 1, 2, 3, 0, 0 };
	expect_refused(lan, sizeof lan, "bad LAN address");
}

static void envelopes(void **state)
{
	(void)state;
	uint8_t seed[32] = { 1 }, group[32], other[32], env[RV_P2P_ENV_HEAD + 64 + 5], id[32], id2[32];
	struct rv_p2p_key k;
	struct rv_p2p_env e;
	const char *why = NULL;
	memset(group, 0xaa, 32);
	memset(other, 0xbb, 32);
	assert_int_equal(rv_p2p_key_from_seed(&k, seed), 0);
	long n = rv_p2p_env_seal(&k, group, RV_P2P_POST, 1700000000000ull, 42, "hello", 5, env, sizeof env, id);
	assert_int_equal(n, sizeof env);
	assert_int_equal(rv_p2p_env_open(env, (size_t)n, group, &e, &why), 0);
	assert_int_equal(e.kind, RV_P2P_POST);
	assert_memory_equal(e.author, k.pub, 32);
	assert_true(e.time_ms == 1700000000000ull && e.nonce == 42);
	assert_int_equal(e.len, 5);
	assert_memory_equal(e.payload, "hello", 5);
	assert_memory_equal(e.id, id, 32);
	/* the same bytes with another nonce are another message */
	assert_int_equal(rv_p2p_env_seal(&k, group, RV_P2P_POST, 1700000000000ull, 43, "hello", 5,
					 env, sizeof env, id2), n);
	assert_memory_not_equal(id, id2, 32);
	/* every byte is covered: any flip is refused */
	for (long i = 0; i < n; i++) {
		env[i] ^= 0x10;
		assert_true(rv_p2p_env_open(env, (size_t)n, group, &e, &why) < 0);
		env[i] ^= 0x10;
	}
	assert_int_equal(rv_p2p_env_open(env, (size_t)n, other, &e, &why), RV_EPROTO);
	assert_string_equal(why, "envelope of another group");
	env[n - 1] ^= 1;
	assert_int_equal(rv_p2p_env_open(env, (size_t)n, group, &e, &why), RV_EDENIED);
	assert_string_equal(why, "bad envelope signature");
	assert_int_equal(rv_p2p_env_open(env, (size_t)n - 1, group, &e, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_env_seal(&k, group, RV_P2P_POST, 0, 0, "hello", 5, env, sizeof env - 1, NULL),
			 RV_ETOOBIG);
	rv_p2p_key_free(&k);
}

/* A session proof: good for its group, session and role only. */
static void hello_proofs(void **state)
{
	(void)state;
	uint8_t seed[32] = { 9 }, group[32], other[32], exp[32], exp2[32], proof[32], sig[64], id[32];
	struct rv_p2p_key k;
	const char *why = NULL;
	memset(group, 0x21, 32);
	memset(other, 0x22, 32);
	memset(exp, 0x31, 32);
	memset(exp2, 0x32, 32);
	assert_int_equal(rv_p2p_key_from_seed(&k, seed), 0);
	rv_p2p_group_proof(group, exp, proof);
	assert_int_equal(rv_p2p_hello_sign(&k, exp, proof, 1, sig), 0);
	assert_int_equal(rv_p2p_hello_check(group, exp, k.pub, proof, sig, 1, id, &why), 0);
	assert_memory_equal(id, k.id, 32);
	/* another group: the proof does not match */
	assert_int_equal(rv_p2p_hello_check(other, exp, k.pub, proof, sig, 1, id, &why), RV_EDENIED);
	assert_string_equal(why, "wrong group proof");
	/* another session: neither does it */
	assert_int_equal(rv_p2p_hello_check(group, exp2, k.pub, proof, sig, 1, id, &why), RV_EDENIED);
	assert_string_equal(why, "wrong group proof");
	/* sent back to its author (the other role), or signed by someone else */
	assert_int_equal(rv_p2p_hello_check(group, exp, k.pub, proof, sig, 0, id, &why), RV_EDENIED);
	assert_string_equal(why, "bad hello signature");
	uint8_t pub2[32];
	memcpy(pub2, k.pub, 32);
	pub2[0] ^= 1;
	assert_int_equal(rv_p2p_hello_check(group, exp, pub2, proof, sig, 1, id, &why), RV_EDENIED);
	rv_p2p_key_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ed25519_vector),
		cmocka_unit_test(ids),
		cmocka_unit_test(key_files),
		cmocka_unit_test(spec_round_trip),
		cmocka_unit_test(spec_refusals),
		cmocka_unit_test(spec_allows),
		cmocka_unit_test(envelopes),
		cmocka_unit_test(hello_proofs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
