/* test_cmsg.c - cluster messages: round trip, authentication, every cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmsg.h"
#include "err.h"

static const char key[] = "cluster secret";
#define T0 1733400000000ull

/* A keyed context for the N bytes at S; two are alive at a time (the one
 * made two calls ago is freed). */
static struct rv_cmsg_key *keyed(const char *s, size_t n)
{
	static struct rv_cmsg_key k[2];
	static int i;
	i ^= 1;
	rv_cmsg_key_free(&k[i]);
	assert_int_equal(rv_cmsg_key_init(&k[i], s, n), 0);
	return &k[i];
}

static struct rv_cmsg sample(void)
{
	static const uint8_t body[] = "frame bytes";
	struct rv_cmsg m = { .type = RV_CMSG_DIRECT, .seq = 42, .conn = (7ull << 32) | 3, .count = 0,
			     .nseq = 9, .ts = T0, .payload = body, .payload_len = sizeof body };
	strcpy(m.origin, "n1.1733400000000");
	strcpy(m.a, "bob");
	strcpy(m.b, "alice");
	strcpy(m.c, "n1.1733400000000/17");
	return m;
}

static void encode(struct rv_buf *b, const struct rv_cmsg *m)
{
	rv_buf_init(b, RV_CMSG_MAX);
	assert_int_equal(rv_cmsg_encode(b, m, keyed(key, strlen(key))), 0);
}

/* The sample, encoded into B: its bytes (writable) and their count. */
static uint8_t *sample_bytes(struct rv_buf *b, size_t *n)
{
	struct rv_cmsg m = sample();
	encode(b, &m);
	*n = rv_buf_size(b);
	return (uint8_t *)rv_buf_head(b);
}

static int dec(const uint8_t *p, size_t n, struct rv_cmsg *d)
{
	return rv_cmsg_decode(p, n, keyed(key, strlen(key)), d);
}

static void round_trip(void **state)
{
	(void)state;
	struct rv_cmsg m = sample(), d;
	struct rv_buf b;
	encode(&b, &m);
	assert_int_equal(rv_cmsg_decode(rv_buf_head(&b), rv_buf_size(&b), keyed(key, strlen(key)), &d), 0);
	assert_int_equal(d.type, RV_CMSG_DIRECT);
	assert_true(d.seq == 42 && d.conn == ((7ull << 32) | 3));
	assert_true(d.nseq == 9 && d.ts == T0);
	assert_string_equal(d.origin, m.origin);
	assert_string_equal(d.a, "bob");
	assert_string_equal(d.b, "alice");
	assert_string_equal(d.c, m.c);
	assert_int_equal(d.payload_len, m.payload_len);
	assert_memory_equal(d.payload, m.payload, m.payload_len);
	rv_buf_free(&b);
}

static void empty_fields(void **state)
{
	(void)state;
	struct rv_cmsg m = { .type = RV_CMSG_ACK, .code = 6, .count = 3 }, d;
	strcpy(m.origin, "n2");
	struct rv_buf b;
	encode(&b, &m);
	assert_int_equal(rv_cmsg_decode(rv_buf_head(&b), rv_buf_size(&b), keyed(key, strlen(key)), &d), 0);
	assert_int_equal(d.code, 6);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.a, "");
	assert_null(d.payload);
	rv_buf_free(&b);
}

static void wrong_key_or_tampered(void **state)
{
	(void)state;
	struct rv_cmsg d;
	struct rv_buf b;
	size_t n;
	uint8_t *p = sample_bytes(&b, &n);
	assert_int_equal(rv_cmsg_decode(p, n, keyed("other", 5), &d), RV_EDENIED);
	p[n - 40] ^= 1;	/* a payload byte */
	assert_int_equal(dec(p, n, &d), RV_EDENIED);
	p[n - 40] ^= 1;
	p[n - 1] ^= 1;	/* the MAC */
	assert_int_equal(dec(p, n, &d), RV_EDENIED);
	rv_buf_free(&b);
}

static void malformed(void **state)
{
	(void)state;
	struct rv_cmsg d;
	struct rv_buf b;
	size_t n;
	uint8_t *p = sample_bytes(&b, &n);
	for (size_t cut = 0; cut < n; cut++)	/* every truncation */
		assert_int_not_equal(dec(p, cut, &d), 0);
	p[0] = 'X';
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[0] = 'R';
	p[4] = 0;	/* type */
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[4] = RV_CMSG_TYPE_MAX + 1;
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[4] = RV_CMSG_DIRECT;
	p[6] = 1;	/* reserved */
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[6] = 0;
	assert_int_equal(dec(p, n, &d), 0);
	assert_int_equal(dec(p, RV_CMSG_MAX + 1, &d), RV_ETOOBIG);
	rv_buf_free(&b);
}

/* One keyed context serves many messages (each MAC starts afresh from the
 * key); parse alone does not check the MAC, verify does; an empty key is
 * refused. */
static void one_key_many_messages(void **state)
{
	(void)state;
	struct rv_cmsg_key k, fresh;
	assert_int_equal(rv_cmsg_key_init(&k, key, 0), RV_EPROTO);
	assert_int_equal(rv_cmsg_key_init(&k, key, strlen(key)), 0);
	struct rv_buf b;
	rv_buf_init(&b, 3 * RV_CMSG_MAX);
	size_t at[4] = { 0 };
	for (int i = 0; i < 3; i++) {
		struct rv_cmsg m = sample();
		m.nseq = 100 + (uint64_t)i;
		assert_int_equal(rv_cmsg_encode(&b, &m, &k), 0);
		at[i + 1] = rv_buf_size(&b);
	}
	for (int i = 2; i >= 0; i--) {	/* out of order, and with a context of its own */
		const uint8_t *p = rv_buf_head(&b) + at[i];
		size_t n = at[i + 1] - at[i];
		struct rv_cmsg d;
		assert_int_equal(rv_cmsg_key_init(&fresh, key, strlen(key)), 0);
		assert_int_equal(rv_cmsg_decode(p, n, &fresh, &d), 0);
		assert_int_equal(d.nseq, 100 + (uint64_t)i);
		assert_int_equal(rv_cmsg_decode(p, n, &k, &d), 0);
		rv_cmsg_key_free(&fresh);
		assert_int_equal(rv_cmsg_key_init(&fresh, "other", 5), 0);
		assert_int_equal(rv_cmsg_parse(p, n, &d), 0);
		assert_int_equal(rv_cmsg_verify(p, n, &fresh), RV_EDENIED);
		rv_cmsg_key_free(&fresh);
	}
	rv_buf_free(&b);
	rv_cmsg_key_free(&k);
}

static void encoder_refuses(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, RV_CMSG_MAX);
	struct rv_cmsg m = sample();
	strcpy(m.a, "no spaces");
	assert_int_equal(rv_cmsg_encode(&b, &m, keyed(key, 1)), RV_EPROTO);
	m = sample();
	m.origin[0] = 0;
	assert_int_equal(rv_cmsg_encode(&b, &m, keyed(key, 1)), RV_EPROTO);
	m = sample();
	m.c[0] = '\n';
	assert_int_equal(rv_cmsg_encode(&b, &m, keyed(key, 1)), RV_EPROTO);
	m = sample();
	m.type = 0;
	assert_int_equal(rv_cmsg_encode(&b, &m, keyed(key, 1)), RV_EPROTO);
	m = sample();
	m.payload_len = RV_CMSG_PAYLOAD_MAX + 1;
	assert_int_equal(rv_cmsg_encode(&b, &m, keyed(key, 1)), RV_ETOOBIG);
	assert_int_equal(rv_buf_size(&b), 0);
	rv_buf_free(&b);
	assert_true(rv_cmsg_node_valid("n1.1733400000000"));
	assert_false(rv_cmsg_node_valid("n1/x"));
	assert_false(rv_cmsg_node_valid(""));
}

/* rvsignal's kinds: peer ids and room names in a and b, printed JSON (and
 * a room message's filter line) in the payload, round trip like the others;
 * a handover carries no payload, nor does rvserver's MOVED (c: a gen). */
static void signal_kinds(void **state)
{
	(void)state;
	static const char room_msg[] = "{\"exclude\":[\"p-0000beef\"]}\n{\"type\":\"chat\",\"from\":\"p-12345678\"}";
	const struct { uint8_t type; const char *a, *b, *payload; } kinds[] = {
		{ RV_CMSG_SIG_PEER, "p-0000beef", "p-12345678", "{\"type\":\"offer\",\"sdp\":\"v=0\"}" },
		{ RV_CMSG_SIG_ROOM, "room.1", "p-12345678", room_msg },
		{ RV_CMSG_SIG_ROOM, "room.1", "", "{}\n{\"type\":\"left\",\"reason\":\"node-lost\"}" },
		{ RV_CMSG_SIG_HANDOVER, "p-0000beef", "", "" },
		{ RV_CMSG_MOVED, "bob", "", "" },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct rv_cmsg m = { .type = kinds[i].type, .nseq = 1 + i, .ts = T0,
				     .payload = (const uint8_t *)kinds[i].payload, .payload_len = strlen(kinds[i].payload) };
		struct rv_cmsg d;
		struct rv_buf b;
		strcpy(m.origin, "s1.1733400000000");
		strcpy(m.a, kinds[i].a);
		strcpy(m.b, kinds[i].b);
		encode(&b, &m);
		assert_int_equal(dec(rv_buf_head(&b), rv_buf_size(&b), &d), 0);
		assert_int_equal(d.type, kinds[i].type);
		assert_string_equal(d.a, kinds[i].a);
		assert_string_equal(d.b, kinds[i].b);
		assert_int_equal(d.payload_len, strlen(kinds[i].payload));
		assert_true(!d.payload_len || memcmp(d.payload, kinds[i].payload, d.payload_len) == 0);
		rv_buf_free(&b);
	}
	assert_int_equal(RV_CMSG_TYPE_MAX, RV_CMSG_MOVED);
}

static enum rv_cmsg_verdict check(struct rv_cmsg_replay *r, const char *origin, uint64_t nseq, uint64_t ts,
				   uint64_t now)
{
	struct rv_cmsg m = { .type = RV_CMSG_GROUP, .nseq = nseq, .ts = ts };
	strcpy(m.origin, origin);
	return rv_cmsg_replay_check(r, &m, now);
}

/* The same bytes again are a duplicate; order within the window does not
 * matter; behind the window, too old, from the future or unnumbered: stale. */
static void replay_window(void **state)
{
	(void)state;
	struct rv_cmsg_replay r;
	rv_cmsg_replay_init(&r);
	assert_int_equal(check(&r, "n1.1", 5, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n1.1", 5, T0, T0), RV_CMSG_DUP);
	assert_int_equal(check(&r, "n2.1", 5, T0, T0), RV_CMSG_FRESH);	/* another origin */
	assert_int_equal(check(&r, "n1.1", 3, T0, T0), RV_CMSG_FRESH);	/* late, in the window */
	assert_int_equal(check(&r, "n1.1", 3, T0, T0), RV_CMSG_DUP);
	assert_int_equal(check(&r, "n1.1", 4, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n1.1", 6 + RV_CMSG_REPLAY_WINDOW, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n1.1", 6, T0, T0), RV_CMSG_STALE);	/* behind the window */
	assert_int_equal(check(&r, "n1.1", 7, T0, T0), RV_CMSG_FRESH);	/* its last number */
	assert_int_equal(check(&r, "n1.1", 7, T0, T0), RV_CMSG_DUP);
	assert_int_equal(check(&r, "n1.1", 5 + RV_CMSG_REPLAY_WINDOW, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n1.1", 6 + RV_CMSG_REPLAY_WINDOW, T0, T0), RV_CMSG_DUP);
	assert_int_equal(check(&r, "n1.1", 1 << 20, T0, T0), RV_CMSG_FRESH);	/* a jump clears it */
	assert_int_equal(check(&r, "n1.1", (1 << 20) - 1, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n1.1", 0, T0, T0), RV_CMSG_STALE);
	uint64_t later = T0 + RV_CMSG_REPLAY_AGE_MS + 1;
	assert_int_equal(check(&r, "n3.1", 1, T0, later), RV_CMSG_STALE);	/* too old */
	assert_int_equal(check(&r, "n3.1", 1, later, T0), RV_CMSG_STALE);	/* from the future */
	assert_int_equal(check(&r, "n3.1", 1, T0 + 1, later), RV_CMSG_FRESH);	/* at the bound */
	rv_cmsg_replay_free(&r);
}

/* An origin is forgotten once its newest message is stale: a replay of
 * anything it sent is then refused by its ts. */
static void replay_prune(void **state)
{
	(void)state;
	struct rv_cmsg_replay r;
	rv_cmsg_replay_init(&r);
	assert_int_equal(check(&r, "n1.1", 1, T0, T0), RV_CMSG_FRESH);
	assert_int_equal(check(&r, "n2.1", 1, T0 + 10, T0 + 10), RV_CMSG_FRESH);
	assert_int_equal(rv_cmsg_replay_prune(&r, T0 + RV_CMSG_REPLAY_AGE_MS), 0);
	assert_int_equal(rv_cmsg_replay_prune(&r, T0 + RV_CMSG_REPLAY_AGE_MS + 1), 1);
	assert_int_equal(r.origins.count, 1);
	assert_int_equal(check(&r, "n1.1", 1, T0, T0 + RV_CMSG_REPLAY_AGE_MS + 1), RV_CMSG_STALE);
	assert_int_equal(check(&r, "n2.1", 1, T0 + 10, T0 + RV_CMSG_REPLAY_AGE_MS + 1), RV_CMSG_DUP);
	char name[32];
	for (int i = 0; i < RV_CMSG_REPLAY_ORIGINS; i++) {	/* past the cap: the least recent goes */
		snprintf(name, sizeof name, "m%d.1", i);
		assert_int_equal(check(&r, name, 1, T0 + 20 + (uint64_t)i, T0 + 20), RV_CMSG_FRESH);
	}
	assert_int_equal(r.origins.count, RV_CMSG_REPLAY_ORIGINS);
	assert_int_equal(r.evicted, 1);
	assert_null(rv_map_get(&r.origins, "n2.1"));
	rv_cmsg_replay_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(empty_fields),
		cmocka_unit_test(wrong_key_or_tampered),
		cmocka_unit_test(malformed),
		cmocka_unit_test(encoder_refuses),
		cmocka_unit_test(one_key_many_messages),
		cmocka_unit_test(signal_kinds),
		cmocka_unit_test(replay_window),
		cmocka_unit_test(replay_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
