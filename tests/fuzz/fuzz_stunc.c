/* fuzz_stunc.c - the STUN client transaction engine (lib/stunc.c) and the
 * TURN allocation on it (lib/turn.c), driven by a script.
 *
 * Input grammar: a series of records, each "u8 op | u16 len (big-endian) |
 * len bytes" (a record cut short by the end of input is dropped):
 *   op % 5 == 0  start: bytes[0] picks the request (allocate, refresh,
 *                permission, channel-bind, binding), bytes[1] & 1 signs it
 *   op % 5 == 1  feed the bytes as they are (a datagram from anywhere)
 *   op % 5 == 2  feed an answer to the request in flight: its transaction id,
 *                class success (bytes[0] & 1 == 0) or error, then bytes[1..]
 *                as its attributes (cut to a multiple of 4)
 *   op % 5 == 3  time passes: bytes[0..1] milliseconds, then tick
 *   op % 5 == 4  a new engine: bytes[0] & 1 reliable, bytes[1] rc, bytes[2]
 *                rm, bytes[3] rto (x10 ms), bytes[4] ti (x100 ms)
 * After every record whatever is due is taken and checked, and so are the
 * invariants: the state is one of the enum's, a waiting engine has a timer
 * and a finished one none, at most RV_STUNC_ATTEMPTS requests and rc sends
 * each, every request parses with a good fingerprint and carries the
 * engine's transaction id, realm and nonce are terminated strings. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stunc.h"
#include "turn.h"

static struct rv_turn t;
static uint64_t now;

static void fresh(const uint8_t *p, size_t n)
{
	struct rv_stunc_cfg cfg = { 0 };
	if (n >= 5) {
		cfg.reliable = p[0] & 1;
		cfg.rc = p[1] % 10;
		cfg.rm = p[2] % 40;
		cfg.rto_ms = (unsigned)p[3] * 10;
		cfg.ti_ms = (unsigned)p[4] * 100;
	}
	rv_turn_init(&t, &cfg, "fuzz");
	rv_stunc_credentials(&t.tx, "alice", "secret");
}

static void start(const uint8_t *p, size_t n)
{
	struct sockaddr_storage peer = { 0 };
	peer.ss_family = AF_INET;
	int which = n ? p[0] % 5 : 0, auth = n > 1 ? p[1] & 1 : 1;
	switch (which) {
	case 0: rv_turn_allocate(&t, 600, auth, now); break;
	case 1: rv_turn_refresh(&t, 0, now); break;
	case 2: rv_turn_permission(&t, &peer, now); break;
	case 3: rv_turn_channel_bind(&t, 0x4000, &peer, now); break;
	default: rv_stunc_start(&t.tx, RV_STUN_BINDING, NULL, NULL, auth, now); break;
	}
}

static void answer(const uint8_t *p, size_t n)
{
	static uint8_t buf[RV_STUN_MAX];
	struct rv_stun_builder b;
	if (t.tx.state != RV_STUNC_WAIT || !n)
		return;
	rv_stun_begin(&b, t.tx.method, p[0] & 1 ? RV_STUN_ERROR : RV_STUN_SUCCESS, rv_stun_tid(&t.tx.req));
	size_t body = (n - 1) & ~(size_t)3;
	if (body > sizeof buf - RV_STUN_HEADER)
		body = sizeof buf - RV_STUN_HEADER;
	memcpy(buf, b.buf, RV_STUN_HEADER);
	memcpy(buf + RV_STUN_HEADER, p + 1, body);
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
	rv_stunc_feed(&t.tx, buf, RV_STUN_HEADER + body, now);
}

static void check(void)
{
	const struct rv_stunc *x = &t.tx;
	assert(x->state >= RV_STUNC_IDLE && x->state <= RV_STUNC_BADMI);
	assert((rv_stunc_timeout(x) >= 0) == (x->state == RV_STUNC_WAIT));
	assert(x->attempts <= RV_STUNC_ATTEMPTS);
	assert(x->sends <= x->cfg.rc);
	assert(memchr(x->auth.realm, 0, sizeof x->auth.realm));
	assert(memchr(x->auth.nonce, 0, sizeof x->auth.nonce));
	assert(x->auth.algs_len <= sizeof x->auth.algs);
	const uint8_t *p;
	size_t n;
	while (rv_stunc_take(&t.tx, &p, &n)) {
		struct rv_stun_msg m;
		assert(rv_stun_parse(p, n, &m) == 0 && m.len == n);
		assert(m.cls == RV_STUN_REQUEST && m.method == x->method);
		assert(rv_stun_check_fingerprint(&m) == 1);
		assert(!memcmp(m.tid, rv_stun_tid(&x->req), 12));
	}
	if (rv_stunc_done(x)) {
		assert(!rv_stunc_take(&t.tx, &p, &n));
		if (x->state == RV_STUNC_OK || x->state == RV_STUNC_ERROR)
			assert(x->msg.len <= RV_STUN_MAX && x->msg.raw == x->resp);
		rv_turn_finish(&t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	now = 1000;
	fresh(NULL, 0);
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		if (len > size - 3)
			break;
		const uint8_t *p = data + 3;
		switch (op % 5) {
		case 0: start(p, len); break;
		case 1: rv_stunc_feed(&t.tx, p, len, now); break;
		case 2: answer(p, len); break;
		case 3:
			now += len >= 2 ? (uint64_t)(p[0] << 8 | p[1]) : 1;
			rv_stunc_tick(&t.tx, now);
			break;
		default: fresh(p, len); break;
		}
		check();
		data += 3 + len;
		size -= 3 + len;
	}
	return 0;
}
