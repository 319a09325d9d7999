/* fuzz_p2pintro.c - the peer-group introducer (lib/p2pintro.h) driven by a
 * script of peers: joins, refreshes, moves, relays, leaves and raw bytes
 * from several addresses, with time passing and expiry ticks.
 *
 * The input: a byte of caps (groups 1 + bits 0-1, members a group 1 + bits
 * 2-4 times 2, members in all 1 + bits 5-7 times 4), a byte of relay budget (B * 64
 * bytes a second; 0: no relaying), a byte seeding the random function, then
 * records, by op byte % 6:
 *   0: u8 peer | u8 group | u8 addr          a JOIN (peer % 16, group % 3,
 *                                            addr % 16: 12 IPv4, 2 IPv6, and
 *                                            IPv4-mapped IPv6 twins of two
 *                                            of the IPv4 ones), answered 401
 *                                            with a cookie, then again with it
 *   1: u8 addr | u8 group | u8 to | u8 len   a RELAY of LEN bytes to TO
 *   2: u8 addr | u8 group | u8 peer          a LEAVE
 *   3: u16 step                              time passes (ms)
 *   4: (none)                                a tick at now
 *   5: u8 mode | u16 length | bytes | u8 addr
 *      raw bytes (mode bit 0 clear), or (bit 0 set) attributes: the bytes,
 *      padded to 4, after a STUN header of method 0x0C0 + bits 1-2 and
 *      class bits 3-4, FINGERPRINT added, so the attribute checks are
 *      reached
 * Times start at 1000 ms and only advance.
 *
 * Checked at every step: the gauges stay within the caps; every queued
 * reply parses with the peers' codec and is of a kind the server sends;
 * a JOIN without a cookie, and anything raw, registers nobody, and an
 * error response is never larger than its request (no amplifier);
 * an input queues at most a response and one INTRO per member it lists; a
 * JOIN's answer never lists the newcomer itself nor anyone twice, nor more
 * than the group may hold, and a refresh sends no INTRO; a relayed
 * datagram carries the bytes sent, to the target; the relayed bytes never
 * exceed the budget over the time passed (plus one second's burst); after
 * a tick, the next expiry is later than now. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "err.h"
#include "p2pintro.h"
#include "p2pkey.h"

#define PEERS 16
#define GROUPS 3
#define ADDRS 16

struct fuzz {
	struct rv_p2p_intro *e;
	struct rv_p2p_intro_conf conf;
	struct sockaddr_storage addr[ADDRS];
	uint8_t ids[PEERS][32];
	uint8_t groups[GROUPS][32];
	uint64_t now, start, seed;
	const uint8_t *p;
	size_t n;
};

static uint32_t rnd(void *ud)
{
	struct fuzz *f = ud;
	f->seed ^= f->seed << 13;
	f->seed ^= f->seed >> 7;
	f->seed ^= f->seed << 17;
	return (uint32_t)(f->seed >> 16);
}

static int take(struct fuzz *f, size_t k, const uint8_t **out)
{
	if (f->n < k)
		return 0;
	*out = f->p;
	f->p += k;
	f->n -= k;
	return 1;
}

static int byte(struct fuzz *f, uint8_t *b)
{
	const uint8_t *p;
	if (!take(f, 1, &p))
		return 0;
	*b = *p;
	return 1;
}

static void setup_addrs(struct fuzz *f)
{
	for (int i = 0; i < ADDRS; i++) {
		memset(&f->addr[i], 0, sizeof f->addr[i]);
		if (i < 12) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&f->addr[i];
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)(5000 + i % 2));
			s4->sin_addr.s_addr = htonl(0x7F000001u + (uint32_t)(i / 2));
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&f->addr[i];
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)(5000 + i % 2));
			/* 12, 13: twins of 0 and 1 (127.0.0.1 ports 5000, 5001); 14, 15: IPv6 */
			inet_pton(AF_INET6, i < 14 ? "::ffff:127.0.0.1" : "2001:db8::7", &s6->sin6_addr);
		}
	}
}

/* Is A the same address as B, an IPv4-mapped twin included? */
static int same(const struct sockaddr *a, const struct sockaddr *b)
{
	struct sockaddr_storage x, y;
	rv_p2p_intro_unmap(a, &x);
	rv_p2p_intro_unmap(b, &y);
	if (x.ss_family != y.ss_family)
		return 0;
	size_t len = x.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	return memcmp(&x, &y, len) == 0;
}

/* Every reply of the last input against what it answered: JOIN_ID is the
 * newcomer's ID for a JOIN (else NULL), RELAY_DATA/LEN a RELAY's bytes
 * and RELAY_TO its target (else NULL). */
static void check_replies(struct fuzz *f, const uint8_t *join_id, const struct sockaddr *from,
			  const uint8_t *relay_data, size_t relay_len, const struct sockaddr *relay_to,
			  uint64_t refreshes_before, size_t request)
{
	const uint8_t *p;
	size_t n, k = 0, given = 0;
	const struct sockaddr *to;
	struct rv_p2p_intro_msg m;
	const struct rv_p2p_intro_counters *c = rv_p2p_intro_stats(f->e);
	int refreshed = c->refreshes > refreshes_before;
	while (rv_p2p_intro_poll(f->e, &p, &n, &to)) {
		if (rv_p2p_intro_parse(p, n, &m) != 0 || ++k > RV_P2P_INTRO_QUEUE)
			abort();
		switch (m.kind) {
		case RV_P2P_INTRO_JOINED:
			if (k != 1 || !join_id || !same(to, from) || m.nmembers >= f->conf.max_members)
				abort();
			given = m.nmembers;
			for (size_t i = 0; i < m.nmembers; i++) {
				if (!memcmp(m.members[i].id, join_id, 32))
					abort();	/* handed itself */
				for (size_t j = 0; j < i; j++)
					if (!memcmp(m.members[i].id, m.members[j].id, 32))
						abort();	/* twice */
			}
			break;
		case RV_P2P_INTRO_REFUSED:
			if (k != 1 || (m.code != 400 && m.code != 401 && m.code != 403 && m.code != 508) ||
			    (m.code != 508 && n > request) || (m.code == 401) != m.has_cookie)
				abort();
			break;
		case RV_P2P_INTRO_INTRO:
			if (!join_id || refreshed || k > given + 1 || memcmp(m.members[0].id, join_id, 32) ||
			    same(to, from))
				abort();
			break;
		case RV_P2P_INTRO_RELAY:
			if (!relay_data || k != 1 || m.len != relay_len || memcmp(m.data, relay_data, relay_len) ||
			    !same(to, relay_to) || !same((const struct sockaddr *)&m.members[0].addr, from))
				abort();
			break;
		default:
			abort();
		}
	}
}

static void check_state(struct fuzz *f)
{
	const struct rv_p2p_intro_counters *c = rv_p2p_intro_stats(f->e);
	if (c->members > f->conf.max_total || c->groups > f->conf.max_groups || c->groups > c->members ||
	    c->members > c->groups * f->conf.max_members)
		abort();
	if (c->relayed_bytes > f->conf.relay_budget * (1 + (f->now - f->start) / 1000 + 1))
		abort();
}

static void feed(struct fuzz *f, const struct sockaddr *from, const uint8_t *msg, size_t len,
		 const uint8_t *join_id, const uint8_t *data, size_t dlen, const struct sockaddr *to)
{
	uint64_t refreshes = rv_p2p_intro_stats(f->e)->refreshes;
	rv_p2p_intro_input(f->e, f->now, from, msg, len);
	check_replies(f, join_id, from, data, dlen, to, refreshes, len);
}

/* A JOIN of ID to GROUP from FROM with no cookie: one 401 no larger than
 * it, nobody registered; its cookie into COOKIE. */
static void challenged(struct fuzz *f, const uint8_t *group, const uint8_t *id, const struct sockaddr *from,
		       uint8_t cookie[RV_P2P_INTRO_COOKIE_LEN])
{
	struct rv_stun_builder b;
	const uint8_t *p;
	size_t n;
	const struct sockaddr *to;
	struct rv_p2p_intro_msg m;
	if (rv_p2p_intro_join_build(&b, group, id, NULL, NULL) != 0)
		abort();
	const struct rv_p2p_intro_counters *c = rv_p2p_intro_stats(f->e);
	uint64_t joins = c->joins, refreshes = c->refreshes, intros = c->intros;
	if (rv_p2p_intro_input(f->e, f->now, from, b.buf, b.len) != RV_EDENIED ||
	    !rv_p2p_intro_poll(f->e, &p, &n, &to) || n > b.len || rv_p2p_intro_parse(p, n, &m) != 0 ||
	    m.kind != RV_P2P_INTRO_REFUSED || m.code != 401 || !m.has_cookie || !same(to, from) ||
	    rv_p2p_intro_poll(f->e, &p, &n, &to) || c->joins != joins || c->refreshes != refreshes ||
	    c->intros != intros)
		abort();
	memcpy(cookie, m.cookie, RV_P2P_INTRO_COOKIE_LEN);
}

static void op_join(struct fuzz *f)
{
	uint8_t peer, g, a;
	struct rv_stun_builder b;
	if (!byte(f, &peer) || !byte(f, &g) || !byte(f, &a))
		return;
	const uint8_t *id = f->ids[peer % PEERS];
	const struct sockaddr *from = (const struct sockaddr *)&f->addr[a % ADDRS];
	uint8_t cookie[RV_P2P_INTRO_COOKIE_LEN];
	challenged(f, f->groups[g % GROUPS], id, from, cookie);
	if (rv_p2p_intro_join_build(&b, f->groups[g % GROUPS], id, cookie, NULL) != 0)
		abort();
	feed(f, from, b.buf, b.len, id, NULL, 0, NULL);
}

static void op_relay(struct fuzz *f)
{
	uint8_t a, g, to, len;
	static uint8_t data[256];
	struct rv_stun_builder b;
	if (!byte(f, &a) || !byte(f, &g) || !byte(f, &to) || !byte(f, &len))
		return;
	struct rv_p2p_intro_member t = { .addr = f->addr[to % ADDRS] };
	memset(data, a ^ len, len);
	if (rv_p2p_intro_relay_build(&b, f->groups[g % GROUPS], &t, data, len, NULL) != 0)
		abort();
	feed(f, (const struct sockaddr *)&f->addr[a % ADDRS], b.buf, b.len, NULL, data, len,
	     (const struct sockaddr *)&t.addr);
}

static void op_leave(struct fuzz *f)
{
	uint8_t a, g, peer;
	struct rv_stun_builder b;
	if (!byte(f, &a) || !byte(f, &g) || !byte(f, &peer))
		return;
	if (rv_p2p_intro_leave_build(&b, f->groups[g % GROUPS], f->ids[peer % PEERS]) != 0)
		abort();
	feed(f, (const struct sockaddr *)&f->addr[a % ADDRS], b.buf, b.len, NULL, NULL, 0, NULL);
}

/* Attributes P (N bytes) framed as MODE says (see the top) into B. */
static void frame(struct rv_stun_builder *b, uint8_t mode, const uint8_t *p, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;
	rv_stun_begin(b, (uint16_t)(RV_P2P_INTRO_M_JOIN + (mode >> 1 & 3)), mode >> 3 & 3, NULL);
	if (padded > RV_STUN_MAX - RV_STUN_HEADER - 8)
		return;
	memset(b->buf + b->len, 0, padded);
	memcpy(b->buf + b->len, p, n);
	b->len += padded;
	rv_stun_add_fingerprint(b);
}

static void op_raw(struct fuzz *f)
{
	const uint8_t *p, *len;
	uint8_t a, mode;
	struct rv_stun_builder b;
	if (!byte(f, &mode) || !take(f, 2, &len))
		return;
	size_t n = (size_t)(len[0] << 8 | len[1]);
	if (n > f->n)
		n = f->n;
	take(f, n, &p);
	if (!byte(f, &a))
		return;
	if (mode & 1) {
		frame(&b, mode, p, n);
		p = b.buf;
		n = b.len;
	}
	/* the replies only have to parse; with no cookie of the server's
	 * (its secret is random), nobody joins and no error is larger than
	 * what caused it */
	uint64_t joins = rv_p2p_intro_stats(f->e)->joins, refreshes = rv_p2p_intro_stats(f->e)->refreshes;
	rv_p2p_intro_input(f->e, f->now, (const struct sockaddr *)&f->addr[a % ADDRS], p, n);
	const uint8_t *out;
	size_t on;
	const struct sockaddr *to;
	struct rv_p2p_intro_msg m;
	size_t k = 0;
	while (rv_p2p_intro_poll(f->e, &out, &on, &to))
		if (rv_p2p_intro_parse(out, on, &m) != 0 || ++k > RV_P2P_INTRO_QUEUE ||
		    (m.kind == RV_P2P_INTRO_REFUSED && on > n))
			abort();
	if (rv_p2p_intro_stats(f->e)->joins != joins || rv_p2p_intro_stats(f->e)->refreshes != refreshes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = { .p = data, .n = size, .now = 1000, .start = 1000 };
	uint8_t caps, budget, seed;
	if (!byte(&f, &caps) || !byte(&f, &budget) || !byte(&f, &seed))
		return 0;
	rv_p2p_intro_defaults(&f.conf);
	f.conf.max_groups = 1 + (caps & 3);
	f.conf.max_members = 1 + (size_t)(caps >> 2 & 7) * 2;
	f.conf.max_total = 1 + (size_t)(caps >> 5) * 4;
	f.conf.relay_budget = (uint64_t)budget * 64;
	f.conf.lifetime = 2;
	f.conf.random = rnd;
	f.conf.random_ud = &f;
	f.seed = 0x9E3779B97F4A7C15u ^ seed;
	setup_addrs(&f);
	for (unsigned i = 0; i < PEERS; i++) {
		uint8_t pub[32] = { (uint8_t)i };
		rv_p2p_peer_id(pub, f.ids[i]);
	}
	for (unsigned i = 0; i < GROUPS; i++)
		memset(f.groups[i], (int)(0xA0 + i), 32);
	if (!(f.e = rv_p2p_intro_new(&f.conf)))
		abort();
	uint8_t op;
	while (byte(&f, &op)) {
		const uint8_t *step;
		switch (op % 6) {
		case 0: op_join(&f); break;
		case 1: op_relay(&f); break;
		case 2: op_leave(&f); break;
		case 3:
			if (take(&f, 2, &step))
				f.now += (uint64_t)(step[0] << 8 | step[1]);
			break;
		case 4:
			rv_p2p_intro_tick(f.e, f.now);
			if (rv_p2p_intro_next(f.e) <= f.now)
				abort();
			break;
		case 5: op_raw(&f); break;
		}
		check_state(&f);
	}
	rv_p2p_intro_free(f.e);
	return 0;
}
