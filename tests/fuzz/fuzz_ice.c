/* fuzz_ice.c - the ICE-lite responder (lib/ice.c): one session fed a script.
 *
 * Input grammar: a series of records, each "u8 op | u16 len (big-endian) |
 * len bytes" (a record cut short by the end of input is dropped):
 *   op >> 5     first a step: 0..6 advance the clock by 0, 1, 1000, 5000,
 *               10000, 29999 or 30001 ms; 7 restarts the session (the
 *               credentials alternate between sets A and B)
 *   op & 0x10   sign: when the bytes parse as STUN, rebuild them with the
 *               same header and attributes but MESSAGE-INTEGRITY and
 *               FINGERPRINT, then add those two keyed with the current pwd
 *   op & 0x0F   the source: 0..11 are 192.0.2.1 ports 1000..1011, 12..15
 *               are [2001:db8::1] ports 1012..1015 (more than 8 tuples)
 *   bytes       one datagram for rv_ice_feed (none when len is 0)
 * then rv_ice_tick at the clock. Credentials (the seeds, made by
 * tests/unit/test_ice.c with RV_ICE_CORPUS=DIR, use them): A is ufrag
 * fuzzAAAA, pwd fuzzPasswordAAAAAAAAAAAA, remote ufrag rmtA; B is fuzzBBBB,
 * fuzzPasswordBBBBBBBBBBBB, rmtB.
 * After every step the invariants are checked: the return is an event mask
 * or a documented refusal; a response is at most the cap, parses as one
 * STUN Binding response with the request's transaction id and a good
 * FINGERPRINT, success exactly when the check was valid (then signed with A
 * or B's pwd and mapping the source), nothing for a drop; a valid source is
 * a validated tuple, a selection change selects the source, FIRST comes once;
 * at most 8 tuples; the selected tuple is validated; once over, always over;
 * alive after a tick means the next tick is in the future. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "bytes.h"
#include "err.h"
#include "ice.h"
#include "stun.h"

#define NADDR 16

static const struct rv_ice_cred creds[2] = {
	{ "fuzzAAAA", "fuzzPasswordAAAAAAAAAAAA" }, { "fuzzBBBB", "fuzzPasswordBBBBBBBBBBBB" },
};
static const char *remotes[2] = { "rmtA", "rmtB" };
static const uint64_t steps[7] = { 0, 1, 1000, 5000, 10000, 29999, 30001 };

static struct sockaddr_storage addr_of(int i)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (i < 12) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(1000 + i));
		s->sin_addr.s_addr = htonl(0xC0000201);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)(1000 + i));
		inet_pton(AF_INET6, "2001:db8::1", &s->sin6_addr);
	}
	return ss;
}

static socklen_t len_of(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* The message at P re-signed with PWD into B; 0 if P is not STUN. */
static int sign(struct rv_stun_builder *b, const uint8_t *p, size_t n, const char *pwd,
		const uint8_t **out, size_t *len)
{
	struct rv_stun_msg m;
	if (rv_stun_parse(p, n, &m) != 0 || m.len != n)
		return 0;
	rv_stun_begin(b, m.method, m.cls, m.tid);
	for (int i = 0; i < m.nattrs; i++)
		if (m.attrs[i].type != RV_STUN_A_MESSAGE_INTEGRITY && m.attrs[i].type != RV_STUN_A_FINGERPRINT)
			rv_stun_add(b, m.attrs[i].type, m.attrs[i].val, m.attrs[i].len);
	rv_stun_add_integrity(b, (const uint8_t *)pwd, strlen(pwd));
	rv_stun_add_fingerprint(b);
	return rv_stun_end(b, out, len) > 0;
}

static int signed_by_us(const struct rv_stun_msg *m)
{
	for (int i = 0; i < 2; i++)
		if (rv_stun_check_integrity(m, (const uint8_t *)creds[i].pwd, strlen(creds[i].pwd)) == 1)
			return 1;
	return 0;
}

static void check_response(int rc, const uint8_t *req, const uint8_t *out, size_t len, size_t cap,
			   const struct sockaddr_storage *from)
{
	struct rv_stun_msg m;
	assert(len <= cap);
	if (rc == RV_ENOTFOUND || rc == RV_ETIMEOUT || (rc >= 0 && !(rc & RV_ICE_EV_VALID)))
		assert(len == 0);
	if (rc >= 0 && (rc & RV_ICE_EV_VALID))
		assert(len > 0);
	if (!len)
		return;
	assert(rv_stun_parse(out, len, &m) == 0 && m.len == len);
	assert(!memcmp(m.tid, req + 8, 12));
	assert(rv_stun_check_fingerprint(&m) == 1);
	assert(m.cls == (rc >= 0 ? RV_STUN_SUCCESS : RV_STUN_ERROR));
	if (m.cls == RV_STUN_ERROR) {
		int code = rv_stun_error_code(&m, NULL, 0);
		assert(code == 400 || code == 401 || code == 487);
		assert((code == 400) == (rc == RV_EPROTO));
		return;
	}
	assert(m.method == RV_STUN_BINDING && signed_by_us(&m));
	struct sockaddr_storage mapped;
	const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_XOR_MAPPED_ADDRESS);
	assert(a && rv_stun_addr(&m, a, &mapped) == 0);
	assert(!memcmp(&mapped, from, len_of(from)));
}

static void check_state(const struct rv_ice *ice)
{
	int valid = 0;
	for (int i = 0; i < NADDR; i++) {
		struct sockaddr_storage a = addr_of(i);
		valid += rv_ice_valid_from(ice, (const struct sockaddr *)&a, len_of(&a));
	}
	assert(valid <= RV_ICE_MAX_TUPLES);
	socklen_t sl = 0;
	const struct sockaddr *sel = rv_ice_selected(ice, &sl);
	assert(!sel || rv_ice_valid_from(ice, sel, sl));
	assert(!sel || valid > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_ice *ice;
	uint64_t now = 1000;
	int set = 0, first = 0, over = 0;
	static uint8_t out[RV_STUN_MAX];
	if (rv_ice_new(&ice, &creds[0], remotes[0], now) < 0)
		return 0;
	for (size_t off = 0; off + 3 <= size;) {
		uint8_t op = data[off];
		size_t n = rv_rd16(data + off + 1);
		const uint8_t *p = data + off + 3;
		if (n > size - off - 3)
			break;
		off += 3 + n;
		if (op >> 5 == 7) {
			set ^= 1;
			assert(rv_ice_restart(ice, &creds[set], remotes[set]) == 0);
		} else {
			now += steps[op >> 5];
		}
		assert(rv_ice_knows_ufrag(ice, creds[set].ufrag));
		struct rv_stun_builder b;
		if ((op & 0x10) && n)
			sign(&b, p, n, creds[set].pwd, &p, &n);
		struct sockaddr_storage from = addr_of(op & 0x0F);
		if (n) {
			size_t len = 1;
			int rc = rv_ice_feed(ice, now, p, n, (const struct sockaddr *)&from, len_of(&from), out,
					     sizeof out, &len);
			assert(rc >= 0 ? rc <= 7 : rc == RV_EPROTO || rc == RV_EDENIED || rc == RV_ENOTFOUND ||
						   rc == RV_ETIMEOUT);
			assert(!over || rc == RV_ETIMEOUT);
			check_response(rc, p, out, len, sizeof out, &from);
			if (rc >= 0 && (rc & RV_ICE_EV_VALID))
				assert(rv_ice_valid_from(ice, (const struct sockaddr *)&from, len_of(&from)));
			if (rc >= 0 && (rc & RV_ICE_EV_SELECTED)) {
				socklen_t sl;
				const struct sockaddr *sel = rv_ice_selected(ice, &sl);
				assert(sel && sl == len_of(&from) && !memcmp(sel, &from, sl));
			}
			if (rc >= 0 && (rc & RV_ICE_EV_FIRST))
				assert(!first++);
			check_state(ice);
		}
		int t = rv_ice_tick(ice, now);
		assert(t == 0 || t == RV_ETIMEOUT);
		assert(!over || t == RV_ETIMEOUT);
		over = t == RV_ETIMEOUT;
		assert(over ? rv_ice_next_ms(ice) == UINT64_MAX : rv_ice_next_ms(ice) > now);
		check_state(ice);
	}
	rv_ice_free(ice);
	return 0;
}
