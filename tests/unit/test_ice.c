/* test_ice.c - the ICE-lite responder: RFC 5769 sample, Chrome-style checks,
 * refusals (400, 401, 487, dropped), nomination, the tuple limit, consent,
 * the first-check deadline, restart, IPv6.
 *
 * With RV_ICE_CORPUS=DIR it also writes fuzz_ice's seed corpus into DIR
 * (tests/fuzz/corpus/fuzz_ice), made with the same builder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "bytes.h"
#include "err.h"
#include "ice.h"
#include "stun.h"

/* RFC 5769 2.1: sample request (USERNAME "evtj:h6vY", ICE-CONTROLLED). */
static const uint8_t rfc5769_req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
static const struct rv_ice_cred rfc5769_cred = { "evtj", "VOkJxbRl1RmTxUk/WvJxBt" };

static const struct rv_ice_cred cred = { "ourUfrag", "ourPasswordOurPassword24" };
static const struct rv_ice_cred cred2 = { "newUfrag", "newPasswordNewPassword24" };
#define USER "ourUfrag:brws"
#define USER2 "newUfrag:brw2"

/* What a check carries beyond USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. */
enum { F_NOPRIO = 1, F_CONTROLLED = 2, F_USE = 4, F_NOFP = 8, F_NOMI = 16, F_NOM = 32, F_NOUSER = 64 };

/* A Chrome-style Binding request into OUT: USERNAME, PRIORITY,
 * ICE-CONTROLLING (or -CONTROLLED), USE-CANDIDATE, NOMINATION, integrity
 * keyed with PWD, FINGERPRINT; its length. */
static size_t check(uint8_t *out, const char *user, const char *pwd, int flags, uint32_t nom)
{
	static uint32_t seq;
	uint8_t tid[12] = { 0x7e, 0x57 };
	rv_wr32(tid + 8, ++seq);
	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, tid);
	if (!(flags & F_NOUSER))
		rv_stun_add_str(&b, RV_STUN_A_USERNAME, user);
	rv_stun_add_u32(&b, 0xC057, 1 << 16);      /* Chrome's GOOG-NETWORK-INFO */
	if (!(flags & F_NOPRIO))
		rv_stun_add_u32(&b, RV_STUN_A_PRIORITY, 0x6e7f1eff);
	uint8_t tie[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	rv_stun_add(&b, flags & F_CONTROLLED ? RV_STUN_A_ICE_CONTROLLED : RV_STUN_A_ICE_CONTROLLING, tie, 8);
	if (flags & F_USE)
		rv_stun_add(&b, RV_STUN_A_USE_CANDIDATE, NULL, 0);
	if (flags & F_NOM)
		rv_stun_add_u32(&b, RV_STUN_A_GOOG_NOMINATION, nom);
	if (!(flags & F_NOMI))
		rv_stun_add_integrity(&b, (const uint8_t *)pwd, strlen(pwd));
	if (!(flags & F_NOFP))
		rv_stun_add_fingerprint(&b);
	const uint8_t *msg;
	size_t len;
	assert_true(rv_stun_end(&b, &msg, &len) > 0);
	memcpy(out, msg, len);
	return len;
}

static struct sockaddr_storage v4(int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "192.0.2.7", &s->sin_addr);
	return ss;
}

static socklen_t len_of(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

struct res {
	uint8_t out[RV_STUN_MAX];
	size_t len;
	struct rv_stun_msg m;           /* the response parsed, when len */
};

static int feed(struct rv_ice *ice, uint64_t now, const uint8_t *p, size_t n,
		const struct sockaddr_storage *from, struct res *r)
{
	int rc = rv_ice_feed(ice, now, p, n, (const struct sockaddr *)from, len_of(from), r->out,
			     sizeof r->out, &r->len);
	if (r->len) {
		assert_int_equal(rv_stun_parse(r->out, r->len, &r->m), 0);
		assert_int_equal(r->m.len, r->len);
		assert_memory_equal(r->m.tid, p + 8, 12);
		assert_int_equal(r->m.method, RV_STUN_BINDING);
		assert_int_equal(rv_stun_check_fingerprint(&r->m), 1);
	}
	return rc;
}

/* A check with FLAGS from FROM at NOW; its events or refusal. */
static int send_check(struct rv_ice *ice, uint64_t now, int port, int flags, uint32_t nom)
{
	uint8_t req[RV_STUN_MAX];
	struct sockaddr_storage a = v4(port);
	struct res r;
	return feed(ice, now, req, check(req, USER, cred.pwd, flags, nom), &a, &r);
}

static int selected_port(const struct rv_ice *ice)
{
	const struct sockaddr *s = rv_ice_selected(ice, NULL);
	return s ? ntohs(((const struct sockaddr_in *)s)->sin_port) : -1;
}

static int valid_port(const struct rv_ice *ice, int port)
{
	struct sockaddr_storage a = v4(port);
	return rv_ice_valid_from(ice, (const struct sockaddr *)&a, sizeof(struct sockaddr_in));
}

static void rfc5769_request(void **state)
{
	(void)state;
	char uf[RV_ICE_UFRAG_LEN + 1];
	assert_int_equal(rv_ice_local_ufrag(rfc5769_req, sizeof rfc5769_req, uf, sizeof uf), 4);
	assert_string_equal(uf, "evtj");
	assert_int_equal(rv_ice_local_ufrag(rfc5769_req, sizeof rfc5769_req, uf, 4), RV_EPROTO);

	struct rv_ice *ice;
	struct sockaddr_storage a = v4(32853);
	struct res r;
	assert_int_equal(rv_ice_new(&ice, &rfc5769_cred, "h6vY", 0), 0);
	/* authenticated, but ICE-CONTROLLED: 487, signed with our pwd */
	assert_int_equal(feed(ice, 0, rfc5769_req, sizeof rfc5769_req, &a, &r), RV_EDENIED);
	assert_int_equal(r.m.cls, RV_STUN_ERROR);
	assert_int_equal(rv_stun_error_code(&r.m, NULL, 0), 487);
	const char *pw = rfc5769_cred.pwd;
	assert_int_equal(rv_stun_check_integrity(&r.m, (const uint8_t *)pw, strlen(pw)), 1);
	assert_int_equal(rv_ice_stats(ice)->role_conflict, 1);
	assert_null(rv_ice_selected(ice, NULL));
	rv_ice_free(ice);

	/* the same ufrag with another pwd: 401, unsigned */
	struct rv_ice_cred other = { "evtj", "VOkJxbRl1RmTxUk/WvJxBu" };
	assert_int_equal(rv_ice_new(&ice, &other, "", 0), 0);
	assert_int_equal(feed(ice, 0, rfc5769_req, sizeof rfc5769_req, &a, &r), RV_EDENIED);
	assert_int_equal(rv_stun_error_code(&r.m, NULL, 0), 401);
	assert_null(rv_stun_get(&r.m, RV_STUN_A_MESSAGE_INTEGRITY));
	assert_int_equal(rv_ice_stats(ice)->unauthorized, 1);
	rv_ice_free(ice);

	/* another remote ufrag: not this session's, dropped */
	assert_int_equal(rv_ice_new(&ice, &rfc5769_cred, "h6vZ", 0), 0);
	assert_int_equal(feed(ice, 0, rfc5769_req, sizeof rfc5769_req, &a, &r), RV_ENOTFOUND);
	assert_int_equal(r.len, 0);
	rv_ice_free(ice);
}

static void chrome_check(void **state)
{
	(void)state;
	struct rv_ice *ice;
	uint8_t req[RV_STUN_MAX];
	struct sockaddr_storage a = v4(50000);
	struct res r;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 100), 0);
	size_t n = check(req, USER, cred.pwd, F_USE, 0);
	char uf[64];
	assert_int_equal(rv_ice_local_ufrag(req, n, uf, sizeof uf), 8);
	assert_string_equal(uf, "ourUfrag");
	assert_int_equal(feed(ice, 200, req, n, &a, &r), RV_ICE_EV_VALID | RV_ICE_EV_SELECTED | RV_ICE_EV_FIRST);
	assert_int_equal(r.m.cls, RV_STUN_SUCCESS);
	assert_int_equal(rv_stun_check_integrity(&r.m, (const uint8_t *)cred.pwd, strlen(cred.pwd)), 1);
	struct sockaddr_storage mapped;
	assert_int_equal(rv_stun_addr(&r.m, rv_stun_get(&r.m, RV_STUN_A_XOR_MAPPED_ADDRESS), &mapped), 0);
	assert_memory_equal(&mapped, &a, sizeof(struct sockaddr_in));
	socklen_t sl = 0;
	assert_non_null(rv_ice_selected(ice, &sl));
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_int_equal(selected_port(ice), 50000);
	assert_int_equal(valid_port(ice, 50000), 1);
	assert_int_equal(valid_port(ice, 50001), 0);
	/* a consent refresh: valid, nothing new */
	n = check(req, USER, cred.pwd, 0, 0);
	assert_int_equal(feed(ice, 5200, req, n, &a, &r), RV_ICE_EV_VALID);
	assert_int_equal(rv_ice_stats(ice)->checks, 2);
	assert_int_equal(rv_ice_next_ms(ice), 5200 + RV_ICE_CONSENT_MS);
	/* a Binding indication (keepalive) and a response are ignored */
	struct rv_stun_builder b;
	const uint8_t *msg;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_INDICATION, NULL);
	rv_stun_add_fingerprint(&b);
	assert_true(rv_stun_end(&b, &msg, &n) > 0);
	assert_int_equal(feed(ice, 5300, msg, n, &a, &r), 0);
	assert_int_equal(r.len, 0);
	assert_int_equal(rv_ice_stats(ice)->ignored, 1);
	assert_string_equal(rv_ice_errstr(ice), "");
	rv_ice_free(ice);
}

static void refusals(void **state)
{
	(void)state;
	struct rv_ice *ice;
	uint8_t req[RV_STUN_MAX];
	struct sockaddr_storage a = v4(50000);
	struct res r;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	static const struct { int flags, rc, code, signed_; const char *user, *pwd; } cases[] = {
		{ 0, RV_EDENIED, 401, 0, USER, "notOurPasswordNotOurPass" },
		{ F_NOFP, RV_EPROTO, 400, 0, USER, "ourPasswordOurPassword24" },
		{ F_NOMI, RV_EPROTO, 400, 0, USER, "ourPasswordOurPassword24" },
		{ F_NOUSER, RV_EPROTO, 400, 0, USER, "ourPasswordOurPassword24" },
		{ F_NOPRIO, RV_EPROTO, 400, 1, USER, "ourPasswordOurPassword24" },
		{ F_CONTROLLED, RV_EDENIED, 487, 1, USER, "ourPasswordOurPassword24" },
		{ 0, RV_ENOTFOUND, 0, 0, "ourUfrag:else", "ourPasswordOurPassword24" },
		{ 0, RV_ENOTFOUND, 0, 0, "notOurs1:brws", "ourPasswordOurPassword24" },
		{ 0, RV_ENOTFOUND, 0, 0, "ourUfrag", "ourPasswordOurPassword24" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = check(req, cases[i].user, cases[i].pwd, cases[i].flags | F_USE, 0);
		assert_int_equal(feed(ice, 0, req, n, &a, &r), cases[i].rc);
		assert_int_equal(r.len ? rv_stun_error_code(&r.m, NULL, 0) : 0, cases[i].code);
		if (r.len)
			assert_int_equal(rv_stun_check_integrity(&r.m, (const uint8_t *)cred.pwd, strlen(cred.pwd)),
					 cases[i].signed_ ? 1 : -1);
		assert_true(*rv_ice_errstr(ice));
	}
	/* a bad FINGERPRINT: one bit flipped after it was computed */
	size_t n = check(req, USER, cred.pwd, 0, 0);
	req[n - 1] ^= 1;
	assert_int_equal(feed(ice, 0, req, n, &a, &r), RV_EPROTO);
	assert_string_equal(rv_ice_errstr(ice), "bad FINGERPRINT");
	/* another method: 400 with that method */
	struct rv_stun_builder b;
	const uint8_t *msg;
	rv_stun_begin(&b, RV_STUN_ALLOCATE, RV_STUN_REQUEST, NULL);
	rv_stun_add_fingerprint(&b);
	assert_true(rv_stun_end(&b, &msg, &n) > 0);
	assert_int_equal(rv_ice_feed(ice, 0, msg, n, (struct sockaddr *)&a, sizeof(struct sockaddr_in), r.out,
				     sizeof r.out, &r.len), RV_EPROTO);
	assert_int_equal(rv_stun_parse(r.out, r.len, &r.m), 0);
	assert_int_equal(r.m.method, RV_STUN_ALLOCATE);
	assert_int_equal(rv_stun_error_code(&r.m, NULL, 0), 400);
	/* not STUN, a short read, bad arguments: nothing sent */
	assert_int_equal(feed(ice, 0, (const uint8_t *)"hello, world, not stun", 22, &a, &r), RV_EPROTO);
	assert_int_equal(r.len, 0);
	n = check(req, USER, cred.pwd, 0, 0);
	assert_int_equal(feed(ice, 0, req, n - 4, &a, &r), RV_EPROTO);
	assert_int_equal(r.len, 0);
	assert_int_equal(rv_ice_feed(ice, 0, req, n, (struct sockaddr *)&a, 4, r.out, sizeof r.out, &r.len), -EINVAL);
	assert_int_equal(rv_ice_feed(ice, 0, req, n, (struct sockaddr *)&a, sizeof(struct sockaddr_in), r.out, 100,
				     &r.len), -EINVAL);
	const struct rv_ice_stats *st = rv_ice_stats(ice);
	assert_int_equal(st->checks, 0);
	assert_int_equal(st->bad_request, 8);
	assert_int_equal(st->unauthorized, 1);
	assert_int_equal(st->role_conflict, 1);
	assert_int_equal(st->unknown_user, 3);
	assert_null(rv_ice_selected(ice, NULL));
	assert_int_equal(valid_port(ice, 50000), 0);
	/* rv's own registration (no colon) is not an ICE check */
	char uf[16];
	n = check(req, "42", cred.pwd, 0, 0);
	assert_int_equal(rv_ice_local_ufrag(req, n, uf, sizeof uf), RV_EPROTO);
	assert_int_equal(rv_ice_local_ufrag(msg, 20, uf, sizeof uf), RV_EPROTO);
	rv_ice_free(ice);
}

static void bad_credentials(void **state)
{
	(void)state;
	struct rv_ice *ice;
	struct rv_ice_cred c = cred;
	c.ufrag[2] = ':';
	assert_int_equal(rv_ice_new(&ice, &c, "", 0), -EINVAL);
	struct rv_ice_cred short_pwd = { "abcd", "only21characters12345" };
	assert_int_equal(rv_ice_new(&ice, &short_pwd, "", 0), -EINVAL);
	assert_int_equal(rv_ice_new(&ice, &cred, "bad ufrag", 0), -EINVAL);
	char long_remote[RV_ICE_REMOTE_MAX + 2];
	memset(long_remote, 'x', sizeof long_remote - 1);
	long_remote[sizeof long_remote - 1] = 0;
	assert_int_equal(rv_ice_new(&ice, &cred, long_remote, 0), -EINVAL);
	long_remote[RV_ICE_REMOTE_MAX] = 0;
	assert_int_equal(rv_ice_new(&ice, &cred, long_remote, 0), 0);
	assert_int_equal(rv_ice_restart(ice, &c, NULL), -EINVAL);
	assert_int_equal(rv_ice_knows_ufrag(ice, cred.ufrag), 1);
	rv_ice_free(ice);
}

static void cred_new(void **state)
{
	(void)state;
	struct rv_ice_cred a, b;
	assert_int_equal(rv_ice_cred_new(&a), 0);
	assert_int_equal(rv_ice_cred_new(&b), 0);
	assert_int_equal(strlen(a.ufrag), RV_ICE_UFRAG_LEN);
	assert_int_equal(strlen(a.pwd), RV_ICE_PWD_LEN);
	assert_int_equal(strspn(a.pwd, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
			 RV_ICE_PWD_LEN);
	assert_string_not_equal(a.pwd, b.pwd);
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &a, NULL, 0), 0);
	rv_ice_free(ice);
}

static void nomination(void **state)
{
	(void)state;
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	const int all = RV_ICE_EV_VALID | RV_ICE_EV_SELECTED;
	assert_int_equal(send_check(ice, 10, 1000, 0, 0), all | RV_ICE_EV_FIRST);  /* first: selected */
	assert_int_equal(send_check(ice, 20, 2000, 0, 0), RV_ICE_EV_VALID);        /* valid, not selected */
	assert_int_equal(selected_port(ice), 1000);
	assert_int_equal(valid_port(ice, 2000), 1);
	assert_int_equal(send_check(ice, 30, 2000, F_USE, 0), all);                /* USE-CANDIDATE */
	assert_int_equal(selected_port(ice), 2000);
	assert_int_equal(send_check(ice, 40, 2000, F_USE, 0), RV_ICE_EV_VALID);    /* already */
	/* Google renomination: only a higher NOMINATION moves the selection */
	assert_int_equal(send_check(ice, 50, 1000, F_NOM, 5), all);
	assert_int_equal(send_check(ice, 60, 2000, F_NOM | F_USE, 3), RV_ICE_EV_VALID);
	assert_int_equal(selected_port(ice), 1000);
	assert_int_equal(send_check(ice, 70, 2000, F_NOM, 6), all);
	assert_int_equal(selected_port(ice), 2000);
	assert_int_equal(rv_ice_stats(ice)->selections, 4);
	rv_ice_free(ice);
}

static void ninth_tuple(void **state)
{
	(void)state;
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	for (int i = 0; i < RV_ICE_MAX_TUPLES; i++)
		assert_true(send_check(ice, 100 + (uint64_t)i, 3000 + i, 0, 0) & RV_ICE_EV_VALID);
	assert_int_equal(send_check(ice, 200, 3000, 0, 0), RV_ICE_EV_VALID);  /* the selected one, fresh */
	for (int i = 0; i < RV_ICE_MAX_TUPLES; i++)
		assert_int_equal(valid_port(ice, 3000 + i), 1);
	/* the 9th pushes out the least recently checked one (3001), never the selected */
	assert_int_equal(send_check(ice, 300, 3000 + RV_ICE_MAX_TUPLES, 0, 0), RV_ICE_EV_VALID);
	assert_int_equal(valid_port(ice, 3001), 0);
	assert_int_equal(valid_port(ice, 3000 + RV_ICE_MAX_TUPLES), 1);
	assert_int_equal(valid_port(ice, 3002), 1);
	assert_int_equal(selected_port(ice), 3000);
	assert_int_equal(rv_ice_stats(ice)->evicted, 1);
	/* the selected one is the oldest now and stays through a 10th */
	for (int i = 2; i <= RV_ICE_MAX_TUPLES; i++)
		assert_int_equal(send_check(ice, 400, 3000 + i, 0, 0), RV_ICE_EV_VALID);
	assert_int_equal(send_check(ice, 500, 3100, 0, 0), RV_ICE_EV_VALID);
	assert_int_equal(selected_port(ice), 3000);
	assert_int_equal(rv_ice_stats(ice)->evicted, 2);
	rv_ice_free(ice);
}

static void consent(void **state)
{
	(void)state;
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	assert_true(send_check(ice, 1000, 4000, 0, 0) & RV_ICE_EV_SELECTED);
	assert_int_equal(send_check(ice, 11000, 4001, 0, 0), RV_ICE_EV_VALID);
	assert_int_equal(rv_ice_next_ms(ice), 1000 + RV_ICE_CONSENT_MS);
	assert_int_equal(rv_ice_tick(ice, 1000 + RV_ICE_CONSENT_MS - 1), 0);
	assert_int_equal(valid_port(ice, 4000), 1);
	/* the selected tuple went silent: dropped, the other one selected */
	assert_int_equal(rv_ice_tick(ice, 1000 + RV_ICE_CONSENT_MS), 0);
	assert_int_equal(valid_port(ice, 4000), 0);
	assert_int_equal(selected_port(ice), 4001);
	assert_int_equal(rv_ice_stats(ice)->expired, 1);
	assert_int_equal(rv_ice_next_ms(ice), 11000 + RV_ICE_CONSENT_MS);
	/* no tuple left: over, and it stays so */
	assert_int_equal(rv_ice_tick(ice, 11000 + RV_ICE_CONSENT_MS), RV_ETIMEOUT);
	assert_null(rv_ice_selected(ice, NULL));
	assert_int_equal(rv_ice_next_ms(ice), UINT64_MAX);
	assert_int_equal(send_check(ice, 50000, 4000, 0, 0), RV_ETIMEOUT);
	assert_int_equal(rv_ice_tick(ice, 50001), RV_ETIMEOUT);
	rv_ice_free(ice);
}

/* rv_ice_set_consent: a shorter consent (--webrtc-consent-timeout), not
 * under RV_ICE_CONSENT_MIN_MS */
static void consent_set(void **state)
{
	(void)state;
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	assert_int_equal(rv_ice_set_consent(ice, RV_ICE_CONSENT_MIN_MS - 1), -EINVAL);
	assert_int_equal(rv_ice_set_consent(ice, 12000), 0);
	assert_true(send_check(ice, 1000, 4000, 0, 0) & RV_ICE_EV_SELECTED);
	assert_int_equal(rv_ice_next_ms(ice), 13000);
	assert_int_equal(rv_ice_tick(ice, 12999), 0);
	assert_int_equal(rv_ice_tick(ice, 13000), RV_ETIMEOUT);
	assert_int_equal(rv_ice_stats(ice)->expired, 1);
	rv_ice_free(ice);
}

static void first_check_deadline(void **state)
{
	(void)state;
	struct rv_ice *ice;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 1000), 0);
	assert_int_equal(rv_ice_next_ms(ice), 1000 + RV_ICE_FIRST_CHECK_MS);
	assert_int_equal(send_check(ice, 2000, 5000, F_NOPRIO, 0), RV_EPROTO);   /* refused: no help */
	assert_int_equal(rv_ice_tick(ice, 1000 + RV_ICE_FIRST_CHECK_MS - 1), 0);
	assert_int_equal(rv_ice_tick(ice, 1000 + RV_ICE_FIRST_CHECK_MS), RV_ETIMEOUT);
	assert_string_equal(rv_ice_errstr(ice), "no valid check in time");
	rv_ice_free(ice);
	/* one valid check in time: the deadline is gone */
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 1000), 0);
	assert_true(send_check(ice, 1000 + RV_ICE_FIRST_CHECK_MS - 1, 5000, 0, 0) & RV_ICE_EV_FIRST);
	assert_int_equal(rv_ice_tick(ice, 1000 + RV_ICE_FIRST_CHECK_MS + 1), 0);
	rv_ice_free(ice);
}

static void restart(void **state)
{
	(void)state;
	struct rv_ice *ice;
	uint8_t req[RV_STUN_MAX];
	struct sockaddr_storage a = v4(6000);
	struct res r;
	assert_int_equal(rv_ice_new(&ice, &cred, "brws", 0), 0);
	assert_true(send_check(ice, 10, 6000, F_NOM, 9) & RV_ICE_EV_FIRST);
	assert_int_equal(rv_ice_restart(ice, &cred2, "brw2"), 0);
	assert_int_equal(rv_ice_knows_ufrag(ice, "ourUfrag"), 1);
	assert_int_equal(rv_ice_knows_ufrag(ice, "newUfrag"), 1);
	assert_int_equal(selected_port(ice), 6000);            /* tuples stay */
	/* the old credentials still work, answered with the old pwd */
	assert_int_equal(feed(ice, 20, req, check(req, USER, cred.pwd, 0, 0), &a, &r), RV_ICE_EV_VALID);
	assert_int_equal(rv_stun_check_integrity(&r.m, (const uint8_t *)cred.pwd, strlen(cred.pwd)), 1);
	/* the new ones: nominations count from 0 again */
	size_t n = check(req, USER2, cred2.pwd, F_NOM, 1);
	assert_int_equal(feed(ice, 30, req, n, &a, &r), RV_ICE_EV_VALID);
	assert_int_equal(rv_stun_check_integrity(&r.m, (const uint8_t *)cred2.pwd, strlen(cred2.pwd)), 1);
	/* and from then on the old ones are gone */
	assert_int_equal(feed(ice, 40, req, check(req, USER, cred.pwd, 0, 0), &a, &r), RV_ENOTFOUND);
	assert_int_equal(rv_ice_knows_ufrag(ice, "ourUfrag"), 0);
	struct sockaddr_storage b = v4(6001);
	assert_int_equal(feed(ice, 50, req, check(req, USER2, cred2.pwd, F_NOM, 2), &b, &r),
			 RV_ICE_EV_VALID | RV_ICE_EV_SELECTED);
	rv_ice_free(ice);
}

static void ipv6_tuple(void **state)
{
	(void)state;
	struct rv_ice *ice;
	uint8_t req[RV_STUN_MAX];
	struct sockaddr_storage a = { 0 };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(7000);
	inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
	struct res r;
	assert_int_equal(rv_ice_new(&ice, &cred, "", 0), 0);   /* remote ufrag not checked */
	assert_int_equal(feed(ice, 0, req, check(req, "ourUfrag:anything", cred.pwd, 0, 0), &a, &r),
			 RV_ICE_EV_VALID | RV_ICE_EV_SELECTED | RV_ICE_EV_FIRST);
	struct sockaddr_storage mapped;
	assert_int_equal(rv_stun_addr(&r.m, rv_stun_get(&r.m, RV_STUN_A_XOR_MAPPED_ADDRESS), &mapped), 0);
	assert_int_equal(mapped.ss_family, AF_INET6);
	assert_memory_equal(&((struct sockaddr_in6 *)&mapped)->sin6_addr, &s6->sin6_addr, 16);
	socklen_t sl;
	const struct sockaddr *sel = rv_ice_selected(ice, &sl);
	assert_int_equal(sl, sizeof(struct sockaddr_in6));
	assert_memory_equal(sel, &a, sizeof(struct sockaddr_in6));
	assert_int_equal(rv_ice_valid_from(ice, (struct sockaddr *)&a, sizeof(struct sockaddr_in6)), 1);
	assert_int_equal(rv_ice_valid_from(ice, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	s6->sin6_port = htons(7001);
	assert_int_equal(rv_ice_valid_from(ice, (struct sockaddr *)&a, sizeof(struct sockaddr_in6)), 0);
	rv_ice_free(ice);
}

/* ---- fuzz_ice's seed corpus (its grammar is at the top of tests/fuzz/fuzz_ice.c) ---- */

enum { T0, T1, T1S, T5S, T10S, T30S_MINUS, T30S_PLUS, RESTART };     /* op >> 5 */
#define SIGN 0x10                                                     /* op & 0x10 */

struct seed {
	uint8_t buf[8192];
	size_t len;
};

static void rec(struct seed *s, int time, int addr, const uint8_t *p, size_t n)
{
	assert_true(s->len + 3 + n <= sizeof s->buf);
	s->buf[s->len] = (uint8_t)(time << 5 | addr);
	rv_wr16(s->buf + s->len + 1, (uint16_t)n);
	memcpy(s->buf + s->len + 3, p, n);
	s->len += 3 + n;
}

static void save(const char *dir, const char *name, const struct seed *s)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s->buf, 1, s->len, f), s->len);
	assert_int_equal(fclose(f), 0);
}

static void write_corpus(const char *dir)
{
	/* fuzz_ice's credentials: set A, then B after a restart, then A... */
	const char *ua = "fuzzAAAA:rmtA", *pa = "fuzzPasswordAAAAAAAAAAAA";
	const char *ub = "fuzzBBBB:rmtB", *pb = "fuzzPasswordBBBBBBBBBBBB";
	uint8_t req[RV_STUN_MAX];
	struct seed s = { .len = 0 };
	rec(&s, T0, 0, req, check(req, ua, pa, 0, 0));
	rec(&s, T1S, 1, req, check(req, ua, pa, F_USE, 0));
	rec(&s, T5S, 12, req, check(req, ua, pa, F_NOM, 3));
	rec(&s, T30S_MINUS, 1, req, check(req, ua, pa, 0, 0));
	rec(&s, T30S_PLUS, 1, NULL, 0);
	save(dir, "checks", &s);
	s.len = 0;
	rec(&s, T0, 0, req, check(req, ua, pa, F_NOM, 1));
	rec(&s, RESTART, 0, req, check(req, ua, pa, 0, 0));
	rec(&s, T1, 1, req, check(req, ub, pb, F_NOM, 1));
	rec(&s, T1, 1, req, check(req, ua, pa, 0, 0));
	rec(&s, RESTART, 2, req, check(req, ub, pb, 0, 0));
	save(dir, "restart", &s);
	s.len = 0;
	for (int i = 0; i < 16; i++)
		rec(&s, T1, i, req, check(req, ua, pa, i == 5 ? F_USE : 0, 0));
	rec(&s, T30S_PLUS, 0, NULL, 0);
	save(dir, "tuples", &s);
	s.len = 0;
	rec(&s, T0, 3, req, check(req, ua, pb, 0, 0));
	rec(&s, T0, 3, req, check(req, ua, pa, F_NOFP, 0));
	rec(&s, T0, 3, req, check(req, ua, pa, F_CONTROLLED, 0));
	rec(&s, T0, 3, req, check(req, ub, pb, 0, 0));
	rec(&s, T0, 3 | SIGN, req, check(req, ua, "", F_NOPRIO | F_NOMI | F_NOFP, 0));
	rec(&s, T0, 4 | SIGN, req, check(req, ua, "", F_USE | F_NOMI | F_NOFP, 0));
	rec(&s, T0, 4, rfc5769_req, sizeof rfc5769_req);
	rec(&s, T10S, 4, NULL, 0);
	save(dir, "refusals", &s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc5769_request),
		cmocka_unit_test(chrome_check),
		cmocka_unit_test(refusals),
		cmocka_unit_test(bad_credentials),
		cmocka_unit_test(cred_new),
		cmocka_unit_test(nomination),
		cmocka_unit_test(ninth_tuple),
		cmocka_unit_test(consent),
		cmocka_unit_test(consent_set),
		cmocka_unit_test(first_check_deadline),
		cmocka_unit_test(restart),
		cmocka_unit_test(ipv6_tuple),
	};
	const char *dir = getenv("RV_ICE_CORPUS");
	if (dir)
		write_corpus(dir);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
