/* test_stunc.c - the STUN client transaction engine and the TURN allocation
 * on it, against a scripted server in memory: the retransmission schedule,
 * 401 and 438 retries with integrity (SHA-1 and SHA-256), transaction ids,
 * timeouts, refresh timing, channel binding, indications and ChannelData. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "err.h"
#include "stunc.h"
#include "turn.h"

/* ---- the scripted server ---- */

struct reply {
	int cls;                        /* RV_STUN_SUCCESS or RV_STUN_ERROR */
	int code;                       /* error code */
	const char *realm, *nonce;
	int offer_sha256;               /* PASSWORD-ALGORITHMS: MD5, SHA-256 */
	const uint8_t *key;             /* sign with MESSAGE-INTEGRITY (16) or -SHA256 (32) */
	size_t keylen;
	const uint8_t *tid;             /* NULL: the request's */
	int relayed;                    /* XOR-RELAYED-ADDRESS 192.0.2.9:50000, LIFETIME 600 */
};

static struct rv_stun_builder out;

/* The answer to REQ as R describes it, in out. */
static const uint8_t *answer(const struct rv_stun_msg *req, const struct reply *r, size_t *len)
{
	const uint8_t *msg;
	rv_stun_begin(&out, req->method, r->cls, r->tid ? r->tid : req->tid);
	if (r->code) {
		uint8_t ec[4 + 16] = { 0, 0, (uint8_t)(r->code / 100), (uint8_t)(r->code % 100) };
		memcpy(ec + 4, "Some reason here", 16);
		rv_stun_add(&out, RV_STUN_A_ERROR_CODE, ec, sizeof ec);
	}
	if (r->realm)
		rv_stun_add_str(&out, RV_STUN_A_REALM, r->realm);
	if (r->nonce)
		rv_stun_add_str(&out, RV_STUN_A_NONCE, r->nonce);
	if (r->offer_sha256) {
		uint8_t algs[8] = { 0, 1, 0, 0, 0, 2, 0, 0 };
		rv_stun_add(&out, RV_STUN_A_PASSWORD_ALGORITHMS, algs, sizeof algs);
	}
	if (r->relayed) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(50000) };
		inet_pton(AF_INET, "192.0.2.9", &a.sin_addr);
		rv_stun_add_xor_addr(&out, RV_STUN_A_XOR_RELAYED_ADDRESS, (struct sockaddr *)&a);
		rv_stun_add_u32(&out, RV_STUN_A_LIFETIME, 600);
	}
	if (r->key && r->keylen == 16)
		rv_stun_add_integrity(&out, r->key, r->keylen);
	else if (r->key)
		rv_stun_add_integrity_sha256(&out, r->key, r->keylen);
	assert_true(rv_stun_end(&out, &msg, len) > 0);
	return msg;
}

static uint8_t sent[RV_STUN_MAX];
static struct rv_stun_msg sent_msg;

/* The request the engine has to send now, parsed into sent_msg; 0 if none. */
static int take(struct rv_stunc *t)
{
	const uint8_t *p;
	size_t n;
	if (!rv_stunc_take(t, &p, &n))
		return 0;
	memcpy(sent, p, n);
	assert_int_equal(rv_stun_parse(sent, n, &sent_msg), 0);
	assert_int_equal(sent_msg.cls, RV_STUN_REQUEST);
	assert_int_equal(rv_stun_check_fingerprint(&sent_msg), 1);
	return 1;
}

static int reply(struct rv_stunc *t, const struct reply *r, uint64_t now)
{
	size_t len;
	const uint8_t *msg = answer(&sent_msg, r, &len);
	return rv_stunc_feed(t, msg, len, now);
}

/* The times at which the engine sends, from NOW until it gives up. */
static int schedule(struct rv_stunc *t, uint64_t now, uint64_t *times, int max, uint64_t *gave_up)
{
	int n = 0;
	while (t->state == RV_STUNC_WAIT && n < max) {
		if (take(t))
			times[n++] = now;
		int64_t at = rv_stunc_timeout(t);
		if (at < 0)
			break;
		now = (uint64_t)at;
		rv_stunc_tick(t, now - 1);	/* a moment early: nothing happens */
		assert_int_equal(rv_stunc_take(t, &(const uint8_t *){ NULL }, &(size_t){ 0 }), 0);
		rv_stunc_tick(t, now);
	}
	*gave_up = now;
	return n;
}

/* ---- transactions ---- */

static void udp_retransmission(void **state)
{
	(void)state;
	struct rv_stunc t;
	rv_stunc_init(&t, NULL);	/* RFC 8489 defaults: RTO 500, Rc 7, Rm 16 */
	assert_int_equal(rv_stunc_timeout(&t), -1);
	assert_int_equal(rv_stunc_start(&t, RV_STUN_BINDING, NULL, NULL, 0, 1000), 0);
	uint64_t times[16], end;
	int n = schedule(&t, 1000, times, 16, &end);
	static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++)
		assert_int_equal(times[i] - 1000, want[i]);
	assert_int_equal(end - 1000, 39500);
	assert_int_equal(t.state, RV_STUNC_TIMEOUT);
	assert_true(rv_stunc_done(&t));

	/* configured: RTO 100, 3 sends, Rm 4, and a cap of 1000 per request */
	struct rv_stunc_cfg cfg = { .rto_ms = 100, .rc = 3, .rm = 4 };
	rv_stunc_init(&t, &cfg);
	rv_stunc_start(&t, RV_STUN_BINDING, NULL, NULL, 0, 0);
	n = schedule(&t, 0, times, 16, &end);
	assert_int_equal(n, 3);
	assert_int_equal(times[1], 100);
	assert_int_equal(times[2], 300);
	assert_int_equal(end, 700);
	cfg.ti_ms = 250;
	rv_stunc_init(&t, &cfg);
	rv_stunc_start(&t, RV_STUN_BINDING, NULL, NULL, 0, 0);
	n = schedule(&t, 0, times, 16, &end);
	assert_int_equal(n, 2);	/* 0, 100; the cap at 250 comes before 300 */
	assert_int_equal(end, 250);
	assert_int_equal(t.state, RV_STUNC_TIMEOUT);
}

static void reliable_one_send(void **state)
{
	(void)state;
	struct rv_stunc t;
	struct rv_stunc_cfg cfg = { .reliable = 1 };
	rv_stunc_init(&t, &cfg);
	rv_stunc_start(&t, RV_STUN_BINDING, NULL, NULL, 0, 10);
	uint64_t times[16], end;
	assert_int_equal(schedule(&t, 10, times, 16, &end), 1);
	assert_int_equal(end, 10 + 39500);	/* Ti */
	assert_int_equal(t.state, RV_STUNC_TIMEOUT);
}

static void success_and_ids(void **state)
{
	(void)state;
	struct rv_stunc t;
	rv_stunc_init(&t, NULL);
	rv_stunc_start(&t, RV_STUN_BINDING, NULL, NULL, 0, 0);
	assert_true(take(&t));
	uint8_t other[12];
	memcpy(other, sent_msg.tid, 12);
	other[0] ^= 0xff;
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_SUCCESS, .tid = other }, 5), 0);
	assert_int_equal(t.state, RV_STUNC_WAIT);	/* another transaction's: ignored */
	assert_int_equal(rv_stunc_feed(&t, (const uint8_t *)"\x40\x00\x00\x00", 4, 5), 0);
	assert_int_equal(rv_stunc_feed(&t, sent, sent_msg.len, 5), 0);	/* a request is no answer */
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_SUCCESS }, 6), 1);
	assert_int_equal(t.state, RV_STUNC_OK);
	assert_int_equal(t.msg.method, RV_STUN_BINDING);
	assert_int_equal(rv_stunc_timeout(&t), -1);
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_SUCCESS }, 7), 0);	/* done: ignored */
}

static void sign_after_401(void **state)
{
	(void)state;
	struct rv_stunc t;
	uint8_t key[16];
	rv_stun_long_term_key("alice", "example.org", "secret", key);
	rv_stunc_init(&t, NULL);
	t.software = "test";
	assert_int_equal(rv_stunc_credentials(&t, "alice", "secret"), 0);
	rv_stunc_start(&t, RV_STUN_ALLOCATE, NULL, NULL, 1, 0);
	assert_true(take(&t));
	assert_null(rv_stun_get(&sent_msg, RV_STUN_A_MESSAGE_INTEGRITY));
	assert_non_null(rv_stun_get(&sent_msg, RV_STUN_A_SOFTWARE));
	uint8_t first[12];
	memcpy(first, sent_msg.tid, 12);
	struct reply r401 = { .cls = RV_STUN_ERROR, .code = 401, .realm = "example.org", .nonce = "n1" };
	assert_int_equal(reply(&t, &r401, 100), 1);
	assert_int_equal(t.state, RV_STUNC_WAIT);
	assert_int_equal(rv_stunc_timeout(&t), 100);	/* the signed request, at once */
	assert_true(take(&t));
	assert_memory_not_equal(sent_msg.tid, first, 12);	/* a new transaction */
	assert_int_equal(rv_stun_check_integrity(&sent_msg, key, sizeof key), 1);
	const struct rv_stun_attr *n = rv_stun_get(&sent_msg, RV_STUN_A_NONCE);
	assert_non_null(n);
	assert_memory_equal(n->val, "n1", 2);
	assert_string_equal(t.auth.realm, "example.org");
	assert_int_equal(rv_stunc_timeout(&t), 600);	/* its own RTO from now */

	/* a success with integrity made with our key */
	struct reply ok = { .cls = RV_STUN_SUCCESS, .key = key, .keylen = 16 };
	assert_int_equal(reply(&t, &ok, 200), 1);
	assert_int_equal(t.state, RV_STUNC_OK);

	/* signed from the start now; a wrong key in the answer is BADMI */
	rv_stunc_start(&t, RV_STUN_REFRESH, NULL, NULL, 1, 300);
	assert_true(take(&t));
	assert_int_equal(rv_stun_check_integrity(&sent_msg, key, sizeof key), 1);
	uint8_t bad[16] = { 1 };
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_SUCCESS, .key = bad, .keylen = 16 }, 301), 1);
	assert_int_equal(t.state, RV_STUNC_BADMI);

	/* signed and refused with 401 again after a retry: the credentials */
	rv_stunc_start(&t, RV_STUN_REFRESH, NULL, NULL, 1, 400);
	assert_true(take(&t));
	assert_int_equal(reply(&t, &r401, 401), 1);	/* first signed one: the realm may be new */
	assert_true(take(&t));
	assert_int_equal(reply(&t, &r401, 402), 1);
	assert_int_equal(t.state, RV_STUNC_ERROR);
	assert_int_equal(t.code, 401);
	assert_string_equal(t.reason, "Some reason here");
}

static void no_password_no_retry(void **state)
{
	(void)state;
	struct rv_stunc t;
	rv_stunc_init(&t, NULL);
	rv_stunc_credentials(&t, "alice", NULL);
	rv_stunc_start(&t, RV_STUN_ALLOCATE, NULL, NULL, 1, 0);
	assert_true(take(&t));
	struct reply r401 = { .cls = RV_STUN_ERROR, .code = 401, .realm = "r", .nonce = "n" };
	assert_int_equal(reply(&t, &r401, 1), 1);
	assert_int_equal(t.state, RV_STUNC_ERROR);
	assert_string_equal(t.auth.realm, "r");	/* learnt all the same */
	assert_int_equal(t.auth.have_key, 0);
}

static void stale_nonce_438(void **state)
{
	(void)state;
	struct rv_stunc t;
	uint8_t key[16];
	rv_stun_long_term_key("alice", "example.org", "secret", key);
	rv_stunc_init(&t, NULL);
	rv_stunc_credentials(&t, "alice", "secret");
	rv_stunc_start(&t, RV_STUN_CREATE_PERMISSION, NULL, NULL, 1, 0);
	assert_true(take(&t));
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_ERROR, .code = 401, .realm = "example.org",
						    .nonce = "old" }, 1), 1);
	assert_true(take(&t));
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_ERROR, .code = 438, .realm = "example.org",
						    .nonce = "fresh" }, 2), 1);
	assert_int_equal(t.state, RV_STUNC_WAIT);
	assert_true(take(&t));
	const struct rv_stun_attr *n = rv_stun_get(&sent_msg, RV_STUN_A_NONCE);
	assert_int_equal(n->len, 5);
	assert_memory_equal(n->val, "fresh", 5);
	assert_int_equal(rv_stun_check_integrity(&sent_msg, key, sizeof key), 1);
	/* a third stale nonce: RV_STUNC_ATTEMPTS requests, then the error */
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_ERROR, .code = 438, .nonce = "again" }, 3), 1);
	assert_int_equal(t.state, RV_STUNC_ERROR);
	assert_int_equal(t.code, 438);
	assert_int_equal(t.attempts, RV_STUNC_ATTEMPTS);
}

static void sha256_when_offered(void **state)
{
	(void)state;
	struct rv_stunc t;
	uint8_t key[32];
	rv_stun_long_term_key_sha256("alice", "example.org", "secret", key);
	rv_stunc_init(&t, NULL);
	rv_stunc_credentials(&t, "alice", "secret");
	rv_stunc_start(&t, RV_STUN_ALLOCATE, NULL, NULL, 1, 0);
	assert_true(take(&t));
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_ERROR, .code = 401, .realm = "example.org",
						    .nonce = "n", .offer_sha256 = 1 }, 1), 1);
	assert_true(take(&t));
	assert_int_equal(rv_stun_check_integrity_sha256(&sent_msg, key, sizeof key), 1);
	assert_null(rv_stun_get(&sent_msg, RV_STUN_A_MESSAGE_INTEGRITY));
	assert_non_null(rv_stun_get(&sent_msg, RV_STUN_A_PASSWORD_ALGORITHMS));
	assert_non_null(rv_stun_get(&sent_msg, RV_STUN_A_PASSWORD_ALGORITHM));
	assert_int_equal(reply(&t, &(struct reply){ .cls = RV_STUN_SUCCESS, .key = key, .keylen = 32 }, 2), 1);
	assert_int_equal(t.state, RV_STUNC_OK);
}

static void caps(void **state)
{
	(void)state;
	struct rv_stunc t;
	char big[600];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	rv_stunc_init(&t, NULL);
	assert_int_equal(rv_stunc_credentials(&t, big, "x"), RV_ETOOBIG);
	uint8_t huge[RV_STUN_MAX + 4] = { 0 };
	assert_int_equal(rv_stunc_feed(&t, huge, sizeof huge, 0), 0);
}

/* ---- TURN ---- */

static void turn_allocate_refresh(void **state)
{
	(void)state;
	struct rv_turn a;
	rv_turn_init(&a, NULL, "test");
	assert_int_equal(rv_turn_allocate(&a, 900, 0, 0), 0);
	assert_true(take(&a.tx));
	assert_int_equal(sent_msg.method, RV_STUN_ALLOCATE);
	assert_non_null(rv_stun_get(&sent_msg, RV_STUN_A_REQUESTED_TRANSPORT));
	assert_non_null(rv_stun_get(&sent_msg, RV_STUN_A_LIFETIME));
	assert_int_equal(reply(&a.tx, &(struct reply){ .cls = RV_STUN_SUCCESS }, 1), 1);
	assert_int_equal(rv_turn_finish(&a), RV_EPROTO);	/* no relayed address */
	rv_turn_allocate(&a, 0, 0, 2);
	assert_true(take(&a.tx));
	assert_null(rv_stun_get(&sent_msg, RV_STUN_A_LIFETIME));
	reply(&a.tx, &(struct reply){ .cls = RV_STUN_SUCCESS, .relayed = 1 }, 3);
	assert_int_equal(rv_turn_finish(&a), 0);
	assert_int_equal(a.allocated, 1);
	assert_int_equal(a.lifetime, 600);
	assert_int_equal(ntohs(((struct sockaddr_in *)&a.relayed)->sin_port), 50000);

	/* refresh at half the lifetime; 600 s when the server gave none */
	assert_int_equal(rv_turn_refresh_in(600), 300000);
	assert_int_equal(rv_turn_refresh_in(0), 300000);
	assert_int_equal(rv_turn_refresh_in(120), 60000);
	struct rv_turn_timers k;
	rv_turn_timers_start(&k, 120, 1000);
	assert_int_equal(rv_turn_timers_due(&k, 120, 60999), 0);
	assert_int_equal(rv_turn_timers_due(&k, 120, 61000), RV_TURN_DUE_ALLOC);
	assert_int_equal(k.alloc_at, 121000);
	assert_int_equal(rv_turn_timers_due(&k, 120, 241000), RV_TURN_DUE_ALLOC | RV_TURN_DUE_PERM);
	assert_int_equal(rv_turn_timers_due(&k, 120, 481000), RV_TURN_DUE_ALLOC | RV_TURN_DUE_PERM | RV_TURN_DUE_CHAN);

	/* refresh to 0 deletes */
	rv_turn_refresh(&a, 0, 10);
	assert_true(take(&a.tx));
	const struct rv_stun_attr *lt = rv_stun_get(&sent_msg, RV_STUN_A_LIFETIME);
	assert_non_null(lt);
	assert_int_equal(lt->val[3], 0);
	reply(&a.tx, &(struct reply){ .cls = RV_STUN_SUCCESS }, 11);
	assert_int_equal(rv_turn_finish(&a), 0);
	assert_int_equal(a.allocated, 0);
}

static void turn_channel_bind(void **state)
{
	(void)state;
	struct rv_turn a;
	struct sockaddr_storage peer = { 0 };
	struct sockaddr_in *p4 = (struct sockaddr_in *)&peer;
	p4->sin_family = AF_INET;
	p4->sin_port = htons(7000);
	inet_pton(AF_INET, "198.51.100.4", &p4->sin_addr);
	uint8_t key[16];
	rv_stun_long_term_key("u", "r", "p", key);
	rv_turn_init(&a, NULL, NULL);
	rv_stunc_credentials(&a.tx, "u", "p");
	assert_int_equal(rv_turn_channel_bind(&a, 0x4001, &peer, 0), 0);
	assert_true(take(&a.tx));
	reply(&a.tx, &(struct reply){ .cls = RV_STUN_ERROR, .code = 401, .realm = "r", .nonce = "n" }, 1);
	assert_true(take(&a.tx));	/* the retry rebuilds the same request, signed */
	assert_int_equal(sent_msg.method, RV_STUN_CHANNEL_BIND);
	const struct rv_stun_attr *ch = rv_stun_get(&sent_msg, RV_STUN_A_CHANNEL_NUMBER);
	assert_non_null(ch);
	assert_int_equal(ch->val[0] << 8 | ch->val[1], 0x4001);
	struct sockaddr_storage got;
	assert_int_equal(rv_stun_addr(&sent_msg, rv_stun_get(&sent_msg, RV_STUN_A_XOR_PEER_ADDRESS), &got), 0);
	assert_memory_equal(&((struct sockaddr_in *)&got)->sin_addr, &p4->sin_addr, 4);
	assert_int_equal(rv_stun_check_integrity(&sent_msg, key, sizeof key), 1);
	reply(&a.tx, &(struct reply){ .cls = RV_STUN_SUCCESS, .key = key, .keylen = 16 }, 2);
	assert_int_equal(rv_turn_finish(&a), 0);
	/* its refresh: the same request again */
	rv_turn_channel_bind(&a, 0x4001, &peer, RV_TURN_CHANNEL_MS);
	assert_true(take(&a.tx));
	assert_int_equal(rv_stun_check_integrity(&sent_msg, key, sizeof key), 1);
	reply(&a.tx, &(struct reply){ .cls = RV_STUN_ERROR, .code = 403 }, RV_TURN_CHANNEL_MS + 1);
	assert_int_equal(rv_turn_finish(&a), RV_EDENIED);
	assert_int_equal(a.tx.code, 403);

	/* ChannelData and a Send indication, read back as the server's would be */
	uint8_t buf[64];
	int n = rv_channel_data_build(buf, sizeof buf, 0x4001, "hi", 2, 0);
	const uint8_t *d;
	size_t len;
	uint16_t c;
	struct sockaddr_storage from;
	assert_int_equal(rv_turn_data(buf, (size_t)n, &d, &len, &from, &c), 1);
	assert_int_equal(c, 0x4001);
	assert_int_equal(len, 2);
	struct rv_stun_builder b;
	assert_int_equal(rv_turn_send_build(&b, &peer, "yo", 2), 0);
	b.buf[1] = 0x17;	/* Send -> Data indication (method 7) */
	assert_int_equal(rv_turn_data(b.buf, b.len, &d, &len, &from, &c), 1);
	assert_int_equal(c, 0);
	assert_memory_equal(d, "yo", 2);
	assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), 7000);
	assert_int_equal(rv_turn_data(buf, 3, &d, &len, &from, &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_retransmission),
		cmocka_unit_test(reliable_one_send),
		cmocka_unit_test(success_and_ids),
		cmocka_unit_test(sign_after_401),
		cmocka_unit_test(no_password_no_retry),
		cmocka_unit_test(stale_nonce_438),
		cmocka_unit_test(sha256_when_offered),
		cmocka_unit_test(caps),
		cmocka_unit_test(turn_allocate_refresh),
		cmocka_unit_test(turn_channel_bind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
