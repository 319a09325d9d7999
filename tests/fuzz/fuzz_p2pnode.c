/* fuzz_p2pnode.c - one or two peer nodes (lib/p2pnode.h, p2ptopo.c,
 * p2pjoin.c) taking every datagram their sockets would: real DTLS sessions
 * between them, a real introducer (p2pintrod.c) at the server's address,
 * introducer messages built by the script, a third peer M (a bare
 * p2psess client) whose messages are the script's bytes, and raw bytes
 * from anywhere.
 *
 * Addresses: 0 the server 192.0.2.1:3478, 1 node A 10.0.0.1:7400, 2 node B
 * 10.0.0.2:7400, 3 M 10.0.0.3:7400, 4 a stranger 10.0.0.4:7400, 5 a
 * stranger [2001:db8::5]:7400, 6 ::ffff:10.0.0.1 port 7400 (A, mapped), 7
 * 10.0.0.1:7401 (A, another port). IDs (u8 % 8): A, B, M, the stranger's,
 * zeros, B's ring address, all ones, A's ring address.
 *
 * The input: a byte of settings (bit 0: node B exists; bit 1: A has the
 * server; bit 2: B has it; bit 3: max_neighbors 2; bits 4-5: report_ms
 * 500 << B, 3: the default), then records, by op byte % 18 (NODE: a
 * byte, bit 0: node A or B):
 *   0: NODE | u8 from | u16 len | bytes      raw datagram from address from % 8
 *   1: u16 ms                                time passes; due nodes tick
 *   2: NODE | u8 n | n x u8 member | u8 mapped
 *      JOINED from the server (n % 9 members: id = member % 8,
 *      address = member / 8 % 8) with our mapped address
 *   3: NODE | u8 code                        REFUSED 400, 403, 508
 *   4: NODE | u8 member                      INTRO of member
 *   5: NODE | u8 member | u8 flags | u16 len | bytes
 *      RELAY from member carrying the bytes (flags bit 0: for another
 *      group; bit 1: the bytes are M's next DTLS datagram instead)
 *   6: NODE | u8 addr                        add_peer
 *   7: NODE | u8 id | u8 addr                learn
 *   8: NODE | u8 flags | u8 len | bytes      post (flags bit 0: len * 235 bytes)
 *   9: NODE | u8 mode | u8 dst | u8 len | bytes
 *      send, mode % 3 (0: an invalid mode) to id dst % 8
 *  10: u8 flags                              pump: datagrams go where they
 *      are addressed until none is left (at most 40 rounds), 1 << 2 * (flags
 *      & 3) ms passing per round with due timers fired; flags bit 2: what
 *      A, B and M send each other directly is lost (only the server's relay
 *      gets through). At most 6 an input
 *  11: u8 n | u8 byte                        the next n % 4 datagrams pumped
 *      are lost (byte 0) or have byte `byte` flipped (else)
 *  12: u8 k | u8 flip                        the k % 16 th last datagram
 *      delivered is delivered again (flip: a byte of it flipped, 0: none)
 *  13: NODE                                  M opens a session to the node
 *      (at most 3 an input; the handshake runs in pumps); NODE bit 1: M's
 *      datagrams reach the node as RELAYs from the server, and the node's
 *      RELAYs to M's address reach M (the server's relay, as it does it);
 *      bits 2-3: M's key is M's (0, 3), B's (1: a second session with B)
 *      or the stranger's (2); bit 4: M is at the stranger's address (its
 *      last session there, if any, is left to the node's timers)
 *  14: u8 kind | u16 len | bytes             M sends a message: kind % 4 0 the
 *      bytes; 1 a REPORT of len / 3 peers (u8 id, u8 addr, u8 age); 2 a
 *      ROUTE of an envelope M sealed (u8 mode: % 3, bit 2 an envelope of
 *      the other kind, bit 3 a byte of it flipped; u8 ttl % 80, u8 hops %
 *      80, u8 dst, the rest the payload); 3 a POST M sealed of the bytes
 *  15: NODE                                  close (goodbyes queued)
 *  16: NODE                                  the node starts again (a new
 *      node, same key; at most 2 an input)
 *  17: NODE | u8 addr | u16 len | bytes      queue a datagram of the caller's
 * Times start at 1000 ms and only advance.
 *
 * Checked after every step, for each node: rv_p2p_node_next is later than
 * a tick's now (unless a DTLS handshake's retransmission came due on
 * OpenSSL's wall clock meanwhile: then a second tick makes it later);
 * every datagram taken is at most RV_P2P_NODE_DGRAM_MAX bytes, to an IPv4
 * or IPv6 address; every event has a known type and consistent fields
 * (POST, ROUTED: data of at most RV_P2P_PAYLOAD_MAX, authored by A, B, M
 * or the stranger, a POST never by the node itself; NEIGHBOR_UP: a peer of
 * those, never the node itself, see below; DOWN,
 * FAILED, BAD_PEER: a reason); counters never go back; neighbours at most
 * RV_P2P_NODE_SESSIONS, as many as connects less disconnects and as
 * rv_p2p_node_neighbor lists; known peers at most RV_P2P_NODE_KNOWN.
 *
 * Cost: a node's DTLS key and context (a P-256 key and certificate, an
 * SSL_CTX: 5 ms under ASan, most of an input's time) are made once and
 * shared by every node (the link wraps rv_dtls_key_p256, rv_dtls_ctx_new
 * and rv_dtls_ctx_free, see the Makefile; no session cache, and a peer is
 * known by its Ed25519 key, not its certificate). Not reachable here: a
 * handshake of ours going through the server after RV_P2P_NODE_PUNCH_MS,
 * since OpenSSL retransmits only on its wall clock; a session relayed
 * because its peer's datagrams came that way is (M, op 13).
 *
 * M with B's key connecting to node B is refused ("a session with
 * ourselves"); its posts may still reach B through A (allowed).
 *
 * Built with -DFUZZ_DEBUG, it prints each node's events and counters. */
#include <arpa/inet.h>
#include <errno.h>
#ifdef FUZZ_DEBUG
#include <stdio.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "p2pintro.h"
#include "p2pmsg.h"
#include "p2pnode_int.h"    /* dtls_due: the sessions' state */
#include "p2pspec.h"

/* An invariant (kept under NDEBUG; libFuzzer reports the abort with its stack). */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

#define ADDRS 8
#define IDS 8
#define FLIGHT 256
#define HISTORY 16
#define DG_MAX RV_STUN_MAX

enum { A_SERVER, A_A, A_B, A_M, A_STRANGER, A_V6, A_MAPPED, A_PORT };

struct dgram {
	uint8_t b[DG_MAX];
	size_t len;
	int from, to;
};

struct nodeview {
	struct rv_p2p_node *n;
	struct rv_p2p_node_stats last;
	int server;
};

static struct rv_p2p_key keys[4];          /* A, B, M, the stranger */
static EVP_PKEY *dtls_pk;                  /* every peer's DTLS key and context */
static struct rv_dtls_ctx *dtls_ctx;
static struct sockaddr_storage addr[ADDRS];
static uint8_t ids[IDS][32];
static const uint8_t group[32] = { 0x42, 0x42, 0x42 };
static uint8_t group_hash[32];
static uint8_t msg[RV_P2P_MSG_MAX], env[RV_P2P_ENV_MAX], payload[RV_P2P_PAYLOAD_MAX];
static struct dgram flight[FLIGHT], history[HISTORY];
static volatile unsigned touched;

struct fuzz {
	const uint8_t *p;
	size_t n;
	uint64_t now, seed;
	uint8_t settings;
	struct nodeview node[2];
	struct rv_p2p_intro *server;
	struct rv_p2p_sess m;
	int m_used, m_to, m_relayed;       /* M's session, to node M_TO, through the server */
	int m_addr;                        /* M's address */
	int twin[2];                       /* M has had node I's key */
	size_t nflight, nhist, hist_at;
	int lose, flip_at;                 /* the next LOSE datagrams: lost or flipped at FLIP_AT */
	int pumps, m_opens, restarts, big_posts;
};

static uint32_t rnd(void *ud)
{
	struct fuzz *f = ud;
	f->seed ^= f->seed << 13;
	f->seed ^= f->seed >> 7;
	f->seed ^= f->seed << 17;
	return (uint32_t)(f->seed >> 16);
}

/* ---- the DTLS key and context, made once (see the top) ---- */

int __real_rv_dtls_key_p256(EVP_PKEY **out);
int __real_rv_dtls_ctx_new(struct rv_dtls_ctx **out, EVP_PKEY *key, int srtp, char *err, size_t errlen);
void __real_rv_dtls_ctx_free(struct rv_dtls_ctx *ctx);
int __wrap_rv_dtls_key_p256(EVP_PKEY **out);
int __wrap_rv_dtls_ctx_new(struct rv_dtls_ctx **out, EVP_PKEY *key, int srtp, char *err, size_t errlen);
void __wrap_rv_dtls_ctx_free(struct rv_dtls_ctx *ctx);

int __wrap_rv_dtls_key_p256(EVP_PKEY **out)
{
	CHECK(dtls_pk && EVP_PKEY_up_ref(dtls_pk) == 1);
	*out = dtls_pk;
	return 0;
}

int __wrap_rv_dtls_ctx_new(struct rv_dtls_ctx **out, EVP_PKEY *key, int srtp, char *err, size_t errlen)
{
	(void)key, (void)srtp, (void)err, (void)errlen;
	*out = dtls_ctx;
	return 0;
}

void __wrap_rv_dtls_ctx_free(struct rv_dtls_ctx *ctx)
{
	CHECK(ctx == dtls_ctx);	/* shared: lives as long as the process */
}

/* ---- the input ---- */

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

/* A u16 length and that many bytes (fewer when the input ends). */
static int bytes(struct fuzz *f, const uint8_t **p, size_t *len)
{
	const uint8_t *l;
	if (!take(f, 2, &l))
		return 0;
	*len = (size_t)(l[0] << 8 | l[1]);
	if (*len > f->n)
		*len = f->n;
	return take(f, *len, p);
}

/* ---- addresses ---- */

static void set4(int i, uint32_t ip, uint16_t port)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&addr[i];
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(ip);
}

static void set6(int i, const char *ip)
{
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr[i];
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(7400);
	inet_pton(AF_INET6, ip, &a->sin6_addr);
}

static socklen_t alen(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const struct sockaddr *sa(int i)
{
	return (const struct sockaddr *)&addr[i];
}

/* Which of ours is A (by family, port and address), or -1. */
static int addr_index(const struct sockaddr_storage *a)
{
	for (int i = 0; i < ADDRS; i++)
		if (a->ss_family == addr[i].ss_family && !memcmp(a, &addr[i], alen(a)))
			return i;
	return -1;
}

static void setup_once(void)
{
	char err[256];
	for (int i = 0; i < 4; i++) {
		uint8_t sd[32] = { (uint8_t)(i + 1), 0x5e };
		CHECK(rv_p2p_key_from_seed(&keys[i], sd) == 0);
		memcpy(ids[i], keys[i].id, 32);
	}
	memset(ids[4], 0, 32);
	rv_p2p_ring_addr(keys[1].id, ids[5]);
	memset(ids[6], 0xff, 32);
	rv_p2p_ring_addr(keys[0].id, ids[7]);
	CHECK(__real_rv_dtls_key_p256(&dtls_pk) == 0 && __real_rv_dtls_ctx_new(&dtls_ctx, dtls_pk, 0, err, sizeof err) == 0);
	set4(A_SERVER, 0xC0000201u, 3478);
	set4(A_A, 0x0A000001u, 7400);
	set4(A_B, 0x0A000002u, 7400);
	set4(A_M, 0x0A000003u, 7400);
	set4(A_STRANGER, 0x0A000004u, 7400);
	set6(A_V6, "2001:db8::5");
	set6(A_MAPPED, "::ffff:10.0.0.1");
	set4(A_PORT, 0x0A000001u, 7401);
	rv_p2p_group_hash(group, group_hash);
}

/* ---- the invariants ---- */

static int is_key(const uint8_t id[32])
{
	for (int i = 0; i < 4; i++)
		if (!memcmp(id, keys[i].id, 32))
			return 1;
	return 0;
}

/* Is ID node WHO's own, and may it be (M has had that key: a twin)? */
static int self_bad(const struct fuzz *f, int who, const uint8_t id[32])
{
	return !memcmp(id, keys[who].id, 32) && !f->twin[who];
}

static void check_event(const struct fuzz *f, int who, const struct rv_p2p_node_ev *e)
{
#ifdef FUZZ_DEBUG
	fprintf(stderr, "%c: event %d hops %u len %zu why %s\n", 'A' + who, e->type, e->hops, e->len,
		e->why ? e->why : "");
#endif
	switch (e->type) {
	case RV_P2P_NODE_NEIGHBOR_UP:
		CHECK(is_key(e->peer) && memcmp(e->peer, keys[who].id, 32));	/* never ourselves */
		CHECK(e->alen > 0 && e->alen <= sizeof e->addr);
		break;
	case RV_P2P_NODE_NEIGHBOR_DOWN:
	case RV_P2P_NODE_CONNECT_FAILED:
	case RV_P2P_NODE_BAD_PEER:
		CHECK(e->why && e->alen > 0 && e->alen <= sizeof e->addr);
		break;
	case RV_P2P_NODE_POST:
	case RV_P2P_NODE_ROUTED:
		CHECK(e->len <= RV_P2P_PAYLOAD_MAX && (e->len == 0 || e->data));
		CHECK(is_key(e->author));
		if (e->type == RV_P2P_NODE_POST)
			CHECK(!self_bad(f, who, e->author));
		else
			CHECK(e->hops <= RV_P2P_TTL_MAX && (e->mode == RV_P2P_TO_PEER || e->mode == RV_P2P_TO_NEAREST));
		if (e->len)	/* readable, to its last byte */
			touched += e->data[0] + e->data[e->len - 1];
		break;
	case RV_P2P_NODE_INTRODUCED:
		CHECK(e->alen > 0 && e->hops <= RV_P2P_INTRO_GIVEN);
		break;
	case RV_P2P_NODE_REFUSED:
		CHECK(e->len < 64 && (e->len == 0 || e->data));
		break;
	case RV_P2P_NODE_SERVER_SILENT:
		CHECK(e->alen > 0 && e->alen <= sizeof e->addr);
		break;
	case RV_P2P_NODE_ACK:	/* an answer about a routed message of ours */
		CHECK(e->mode == RV_P2P_ACK_DELIVERED || e->mode == RV_P2P_ACK_NO_ROUTE || e->mode == RV_P2P_ACK_TTL);
		break;
	case RV_P2P_NODE_OBJECT: {	/* an OBJ_* message, framing checked, from a neighbour */
		struct rv_p2p_msg m;
		const char *why;
		CHECK(is_key(e->peer) && e->len && e->data && e->len <= RV_P2P_MSG_MAX);
		CHECK(rv_p2p_msg_parse(e->data, e->len, &m, &why) == 0 && m.type >= RV_P2P_M_OBJ_GET);
		break;
	}
	default:
		abort();
	}
}

#define MONO(x) CHECK(st.x >= v->last.x)

static void check_node(struct fuzz *f, int who)
{
	struct nodeview *v = &f->node[who];
	if (!v->n)
		return;
	struct rv_p2p_node_ev e;
	while (rv_p2p_node_poll(v->n, &e))
		check_event(f, who, &e);
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(v->n, &st);
	MONO(posts_sent); MONO(posts_received); MONO(routed_sent); MONO(routed_received);
	MONO(routed_forwarded); MONO(no_route); MONO(ttl_expired); MONO(bad); MONO(connects);
	MONO(connect_failures); MONO(disconnects); MONO(bytes_in); MONO(bytes_out); MONO(datagrams_in);
	MONO(datagrams_out); MONO(stray); MONO(events_dropped); MONO(joins); MONO(intros); MONO(punches);
	MONO(relayed_sessions); MONO(relayed_in); MONO(relayed_out); MONO(introduced);
	CHECK(st.neighbors <= RV_P2P_NODE_SESSIONS && st.neighbors + st.opening <= RV_P2P_NODE_SESSIONS);
	CHECK(st.known <= RV_P2P_NODE_KNOWN);
	CHECK(st.connects - st.disconnects == st.neighbors);
	CHECK(st.relayed_sessions <= st.connects);
	size_t k = 0;
	struct rv_p2p_node_nb nb;
	while (rv_p2p_node_neighbor(v->n, k, &nb)) {
		CHECK(is_key(nb.peer) && !self_bad(f, who, nb.peer));
		k++;
	}
	CHECK(k == st.neighbors);
	v->last = st;
}

static void check_all(struct fuzz *f)
{
	check_node(f, 0);
	check_node(f, 1);
}

/* ---- the network ---- */

static void push(struct fuzz *f, const uint8_t *p, size_t len, int from, int to)
{
	if (f->nflight == FLIGHT || len > DG_MAX)
		return;
	struct dgram *d = &flight[f->nflight++];
	memcpy(d->b, p, len);
	d->len = len;
	d->from = from;
	d->to = to;
}

/* Everything node WHO has to send, into the flight. */
static void collect_node(struct fuzz *f, int who)
{
	struct rv_p2p_node *n = f->node[who].n;
	uint8_t buf[RV_P2P_NODE_DGRAM_MAX];
	struct sockaddr_storage to;
	socklen_t tolen;
	ssize_t len;
	if (!n)
		return;
	while ((len = rv_p2p_node_take(n, buf, sizeof buf, &to, &tolen)) > 0) {
		CHECK(len <= RV_P2P_NODE_DGRAM_MAX);
		CHECK((to.ss_family == AF_INET && tolen == sizeof(struct sockaddr_in)) ||
		       (to.ss_family == AF_INET6 && tolen == sizeof(struct sockaddr_in6)));
		push(f, buf, (size_t)len, who ? A_B : A_A, addr_index(&to));
	}
	CHECK(len == 0);
}

static void collect(struct fuzz *f)
{
	collect_node(f, 0);
	collect_node(f, 1);
	if (f->m_used) {
		uint8_t buf[RV_DTLS_MTU];
		ssize_t len;
		while ((len = rv_p2p_sess_take(&f->m, buf, sizeof buf)) > 0) {
			struct rv_stun_builder b;
			struct rv_p2p_intro_member m = { .addr = addr[f->m_addr] };
			memcpy(m.id, f->m.key->id, 32);
			if (!f->m_relayed)
				push(f, buf, (size_t)len, f->m_addr, f->m_to ? A_B : A_A);
			else if (rv_p2p_intro_relay_build(&b, group_hash, &m, buf, (size_t)len, NULL) == 0)
				push(f, b.buf, b.len, A_SERVER, f->m_to ? A_B : A_A);
		}
	}
}

static void to_node(struct fuzz *f, int who, const uint8_t *p, size_t len, int from)
{
	if (f->node[who].n)
		rv_p2p_node_input(f->node[who].n, f->now, p, len, sa(from), alen(&addr[from]));
}

static void to_m(struct fuzz *f, const uint8_t *p, size_t len)
{
	rv_p2p_sess_feed(&f->m, f->now, p, len);
	while (rv_p2p_sess_poll(&f->m, msg, sizeof msg) > 0)
		;
}

/* A RELAY to M from the node M talks to through the server (D): to M. */
static int relay_to_m(struct fuzz *f, const struct dgram *d)
{
	struct rv_p2p_intro_msg m;
	if (!f->m_used || !f->m_relayed || d->from != (f->m_to ? A_B : A_A) ||
	    rv_p2p_intro_parse(d->b, d->len, &m) < 0 || m.kind != RV_P2P_INTRO_RELAY ||
	    addr_index(&m.members[0].addr) != f->m_addr)
		return 0;
	CHECK(!memcmp(m.group, group_hash, 32));
	to_m(f, m.data, m.len);
	return 1;
}

static void deliver(struct fuzz *f, const struct dgram *d)
{
	if (d->to == A_SERVER && relay_to_m(f, d))
		return;
	if (d->to == A_A || d->to == A_B) {
		to_node(f, d->to == A_B, d->b, d->len, d->from);
	} else if (f->m_used && d->to == f->m_addr && d->from == (f->m_to ? A_B : A_A)) {
		to_m(f, d->b, d->len);
	} else if (d->to == A_SERVER) {
		rv_p2p_intro_input(f->server, f->now, sa(d->from), d->b, d->len);
		const uint8_t *p;
		size_t len;
		const struct sockaddr *to;
		while (rv_p2p_intro_poll(f->server, &p, &len, &to))
			push(f, p, len, A_SERVER, addr_index((const struct sockaddr_storage *)to));
	}
	/* anything else: nobody there */
}

static void remember(struct fuzz *f, const struct dgram *d)
{
	history[f->hist_at] = *d;
	f->hist_at = (f->hist_at + 1) % HISTORY;
	if (f->nhist < HISTORY)
		f->nhist++;
}

/* Is a session of N in a DTLS handshake whose retransmission is due? Its
 * timer runs on OpenSSL's wall clock (p2psess.c: rv_p2p_sess_next), so it
 * may come due between a tick and rv_p2p_node_next: then next is now. */
static int dtls_due(const struct rv_p2p_node *n, uint64_t now)
{
	for (size_t i = 0; i < RV_P2P_NODE_SESSIONS; i++)
		if (n->sess[i].used && n->sess[i].s.state == RV_P2P_SESS_HANDSHAKE &&
		    rv_p2p_sess_next(&n->sess[i].s) <= now)
			return 1;
	return 0;
}

/* A tick at now when due: then the next is later, but for a DTLS timer
 * that came due meanwhile (a second tick retransmits and doubles it). */
static void tick_node(struct fuzz *f, int who)
{
	struct rv_p2p_node *n = f->node[who].n;
	if (!n || rv_p2p_node_next(n) > f->now)
		return;
	rv_p2p_node_tick(n, f->now);
	for (int again = 0; rv_p2p_node_next(n) <= f->now; again++) {
		CHECK(again < 3 && dtls_due(n, f->now));
		rv_p2p_node_tick(n, f->now);
	}
}

static void tick_all(struct fuzz *f)
{
	tick_node(f, 0);
	tick_node(f, 1);
	if (f->m_used && rv_p2p_sess_next(&f->m) <= f->now)
		rv_p2p_sess_tick(&f->m, f->now);
	rv_p2p_intro_tick(f->server, f->now);
}

static void pump(struct fuzz *f, uint8_t flags)
{
	if (++f->pumps > 6)
		return;
	uint64_t step = 1u << 2 * (flags & 3);
	for (int round = 0; round < 40; round++) {
		tick_all(f);
		collect(f);
		if (!f->nflight)
			break;
		size_t n = f->nflight;
		f->nflight = 0;
		static struct dgram now_flying[FLIGHT];
		memcpy(now_flying, flight, n * sizeof flight[0]);
		for (size_t i = 0; i < n; i++) {
			struct dgram *d = &now_flying[i];
			if (flags & 4 && d->from != A_SERVER && d->to != A_SERVER)
				continue;	/* no path but the relay */
			if (f->lose > 0) {
				f->lose--;
				if (!f->flip_at)
					continue;
				d->b[(size_t)f->flip_at % d->len] ^= 0x10;
			}
			remember(f, d);
			deliver(f, d);
		}
		check_all(f);
		f->now += step;
	}
}

/* ---- introducer messages from the server ---- */

static void from_server(struct fuzz *f, int who, struct rv_stun_builder *b)
{
	const uint8_t *m;
	size_t len;
	rv_stun_add_fingerprint(b);
	if (rv_stun_end(b, &m, &len) >= 0)
		to_node(f, who, m, len, A_SERVER);
}

static struct rv_p2p_intro_member member(uint8_t x)
{
	struct rv_p2p_intro_member m = { .addr = addr[x / IDS % ADDRS] };
	memcpy(m.id, ids[x % IDS], 32);
	return m;
}

static void op_joined(struct fuzz *f, int who)
{
	uint8_t n, x, mapped;
	struct rv_stun_builder b;
	struct rv_p2p_intro_member m[RV_P2P_INTRO_GIVEN];
	if (!byte(f, &n))
		return;
	n %= RV_P2P_INTRO_GIVEN + 1;
	for (uint8_t i = 0; i < n; i++) {
		if (!byte(f, &x))
			return;
		m[i] = member(x);
	}
	if (!byte(f, &mapped))
		return;
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_SUCCESS, NULL);
	rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_MAPPED_ADDRESS, sa(mapped % ADDRS));
	rv_stun_add_u32(&b, RV_P2P_INTRO_A_LIFETIME, 60);
	for (uint8_t i = 0; i < n; i++)
		CHECK(rv_p2p_intro_add_member(&b, &m[i]) == 0);
	from_server(f, who, &b);
}

static void op_refused(struct fuzz *f, int who)
{
	static const int codes[] = { 400, 403, 508 };
	uint8_t c;
	struct rv_stun_builder b;
	if (!byte(f, &c))
		return;
	int code = codes[c % 3];
	uint8_t v[4 + 8] = { 0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100), 'r', 'e', 'f', 'u', 's', 'e', 'd' };
	rv_stun_begin(&b, RV_P2P_INTRO_M_JOIN, RV_STUN_ERROR, NULL);
	rv_stun_add(&b, RV_STUN_A_ERROR_CODE, v, 4 + (c >> 2) % 8);
	from_server(f, who, &b);
}

static void op_intro(struct fuzz *f, int who)
{
	uint8_t x;
	struct rv_stun_builder b;
	if (!byte(f, &x))
		return;
	struct rv_p2p_intro_member m = member(x);
	rv_stun_begin(&b, RV_P2P_INTRO_M_INTRO, RV_STUN_INDICATION, NULL);
	CHECK(rv_p2p_intro_add_member(&b, &m) == 0);
	from_server(f, who, &b);
}

static void op_relay(struct fuzz *f, int who)
{
	uint8_t x, flags;
	const uint8_t *p;
	size_t len;
	uint8_t buf[RV_DTLS_MTU];
	struct rv_stun_builder b;
	if (!byte(f, &x) || !byte(f, &flags) || !bytes(f, &p, &len))
		return;
	if (flags & 2 && f->m_used) {	/* M's next datagram, as if through the server */
		ssize_t n = rv_p2p_sess_take(&f->m, buf, sizeof buf);
		if (n <= 0)
			return;
		p = buf;
		len = (size_t)n;
	}
	if (len > RV_P2P_INTRO_DATA_MAX)
		len = RV_P2P_INTRO_DATA_MAX;
	struct rv_p2p_intro_member m = member(x);
	uint8_t other[32];
	memset(other, 0x17, sizeof other);
	rv_stun_begin(&b, RV_P2P_INTRO_M_RELAY, RV_STUN_INDICATION, NULL);
	rv_stun_add(&b, RV_P2P_INTRO_A_GROUP, flags & 1 ? other : group_hash, 32);
	CHECK(rv_p2p_intro_add_member(&b, &m) == 0);
	rv_stun_add(&b, RV_P2P_INTRO_A_DATA, p, len);
	from_server(f, who, &b);
}

/* ---- the node's API ---- */

static void new_node(struct fuzz *f, int who)
{
	struct nodeview *v = &f->node[who];
	struct rv_p2p_node_conf c = { .key = &keys[who], .rnd = rnd, .rnd_ud = f,
				      .max_neighbors = f->settings & 8 ? 2 : 0,
				      .report_ms = (f->settings >> 4 & 3) == 3 ? 0 : 500u << (f->settings >> 4 & 3) };
	memcpy(c.group, group, sizeof c.group);
	if (f->settings & (2 << who)) {
		memcpy(&c.server, &addr[A_SERVER], sizeof c.server);
		c.server_len = sizeof(struct sockaddr_in);
	}
	const char *why;
	memset(v, 0, sizeof *v);
	if (rv_p2p_node_new(&v->n, &c, f->now, &why) != 0)
		abort();	/* its first rv_p2p_node_next may be in the past (the gossip engine's
			 * first sweep is due at 0): the first tick is due at once */
}

static struct rv_p2p_node *node_arg(struct fuzz *f, int *who)
{
	uint8_t x;
	if (!byte(f, &x))
		return NULL;
	*who = x & 1;
	return f->node[*who].n;
}

static void op_raw(struct fuzz *f)
{
	int who;
	uint8_t from;
	const uint8_t *p;
	size_t len;
	struct rv_p2p_node *n = node_arg(f, &who);
	if (!n || !byte(f, &from) || !bytes(f, &p, &len))
		return;
	rv_p2p_node_input(n, f->now, p, len, sa(from % ADDRS), alen(&addr[from % ADDRS]));
}

static void op_post(struct fuzz *f)
{
	int who;
	uint8_t flags, l;
	const uint8_t *p;
	struct rv_p2p_node *n = node_arg(f, &who);
	if (!n || !byte(f, &flags) || !byte(f, &l))
		return;
	size_t len = l < f->n ? l : f->n;
	take(f, len, &p);
	if (flags & 1 && f->big_posts++ < 2) {
		len = (size_t)l * 235;	/* up to 59,925 bytes: many fragments */
		memset(payload, flags, len);
		p = payload;
	}
	uint8_t id[32];
	int rc = rv_p2p_node_post(n, f->now, f->now, p, len, id);
	CHECK(rc == 0 || rc == RV_ELIMIT);
}

static void op_send(struct fuzz *f)
{
	int who;
	uint8_t mode, dst, l;
	const uint8_t *p;
	struct rv_p2p_node *n = node_arg(f, &who);
	if (!n || !byte(f, &mode) || !byte(f, &dst) || !byte(f, &l))
		return;
	size_t len = l < f->n ? l : f->n;
	take(f, len, &p);
	int rc = rv_p2p_node_send(n, f->now, f->now, (enum rv_p2p_route_mode)(mode % 3), ids[dst % IDS], p, len,
				  NULL);
	CHECK(rc == 0 || rc == RV_ENOTFOUND || (mode % 3 == 0 && rc == RV_EPROTO));
}

/* ---- M, a peer of the script's ---- */

static void m_open(struct fuzz *f)
{
	uint8_t x;
	if (!byte(f, &x) || f->m_opens++ >= 3)
		return;
	if (f->m_used)
		rv_p2p_sess_free(&f->m);
	f->m_used = 0;
	static const int key_of[4] = { 2, 1, 3, 2 };
	int k = key_of[x >> 2 & 3];
	CHECK(rv_p2p_sess_new(&f->m, dtls_ctx, &keys[k], group, 0, f->now, NULL) == 0);
	if (k < 2)
		f->twin[k] = 1;
	f->m_used = 1;
	f->m_to = x & 1;
	f->m_relayed = x >> 1 & 1;
	f->m_addr = x & 16 ? A_STRANGER : A_M;
	CHECK(rv_p2p_sess_start(&f->m) == 0);
}

static long m_report(const uint8_t *p, size_t len)
{
	struct rv_p2p_peer_seen seen[RV_P2P_LIST_MAX];
	size_t n = 0;
	for (; n < RV_P2P_LIST_MAX && (n + 1) * 3 <= len; n++) {
		const struct sockaddr_storage *a = &addr[p[3 * n + 1] % ADDRS];
		seen[n].id = ids[p[3 * n] % IDS];
		seen[n].age_s = (uint16_t)(p[3 * n + 2] * 4);
		if (a->ss_family == AF_INET6) {
			seen[n].family = 6;
			seen[n].port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
			seen[n].ip = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		} else {
			seen[n].family = 4;
			seen[n].port = ntohs(((const struct sockaddr_in *)a)->sin_port);
			seen[n].ip = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr.s_addr;
		}
	}
	return rv_p2p_msg_report(msg, sizeof msg, seen, n);
}

static void m_send(struct fuzz *f)
{
	uint8_t kind;
	const uint8_t *p;
	size_t len;
	long n = -1, e;
	if (!byte(f, &kind) || !bytes(f, &p, &len) || !f->m_used || f->m.state != RV_P2P_SESS_UP)
		return;
	switch (kind % 4) {
	case 0:
		if (len) {
			memcpy(msg, p, len);
			n = (long)len;
		}
		break;
	case 1: n = m_report(p, len); break;
	case 2:
		if (len < 4)
			break;
		e = rv_p2p_env_seal(&keys[2], group, (p[0] % 3 == RV_P2P_TO_NEAREST) ^ (p[0] >> 2 & 1) ?
				    RV_P2P_NEAREST : RV_P2P_DIRECT, f->now, f->now,
				    p + 4, len - 4, env, sizeof env, NULL);
		if (e > 0 && p[0] & 8)
			env[(size_t)p[1] % (size_t)e] ^= 0x40;	/* no longer what M signed */
		if (e > 0)
			n = rv_p2p_msg_route(msg, sizeof msg, (enum rv_p2p_route_mode)(p[0] % 3), p[1] % 80, p[2] % 80,
					     ids[p[3] % IDS], env, (size_t)e);
		break;
	case 3:
		e = rv_p2p_env_seal(&keys[2], group, RV_P2P_POST, f->now, f->seed, p, len, env, sizeof env, NULL);
		if (e > 0)
			n = rv_p2p_msg_post(msg, sizeof msg, env, (size_t)e);
		break;
	}
	if (n > 0)
		rv_p2p_sess_send(&f->m, f->now, msg, (size_t)n);
}

/* ---- the rest ---- */

static void op_replay(struct fuzz *f)
{
	uint8_t k, flip;
	if (!byte(f, &k) || !byte(f, &flip) || !f->nhist)
		return;
	struct dgram d = history[(f->hist_at + HISTORY - 1 - k % f->nhist) % HISTORY];
	if (flip && d.len)
		d.b[flip % d.len] ^= 0x01;
	deliver(f, &d);
}

static void op_queue(struct fuzz *f)
{
	int who;
	uint8_t a;
	const uint8_t *p;
	size_t len;
	struct rv_p2p_node *n = node_arg(f, &who);
	if (!n || !byte(f, &a) || !bytes(f, &p, &len))
		return;
	int rc = rv_p2p_node_queue(n, p, len, sa(a % ADDRS), alen(&addr[a % ADDRS]));
	CHECK(rc == 0 || rc == RV_ETOOBIG || rc == RV_ELIMIT || rc == -EINVAL);
	CHECK(rc != RV_ETOOBIG || len > RV_P2P_NODE_DGRAM_MAX);
	CHECK((rc == -EINVAL) == (len == 0));	/* an empty datagram would read as "nothing left" */
}

static void step(struct fuzz *f, uint8_t op)
{
	int who;
	uint8_t x, y;
	const uint8_t *s;
	struct rv_p2p_node *n;
	switch (op % 18) {
	case 0: op_raw(f); break;
	case 1:
		if (take(f, 2, &s)) {
			f->now += (uint64_t)(s[0] << 8 | s[1]);
			tick_all(f);
		}
		break;
	case 2: if (node_arg(f, &who)) op_joined(f, who); break;
	case 3: if (node_arg(f, &who)) op_refused(f, who); break;
	case 4: if (node_arg(f, &who)) op_intro(f, who); break;
	case 5: if (node_arg(f, &who)) op_relay(f, who); break;
	case 6:
		if ((n = node_arg(f, &who)) && byte(f, &x)) {
			int rc = rv_p2p_node_add_peer(n, f->now, sa(x % ADDRS), alen(&addr[x % ADDRS]));
			CHECK(rc == 0 || rc == -EEXIST || rc == RV_ELIMIT);
		}
		break;
	case 7:
		if ((n = node_arg(f, &who)) && byte(f, &x) && byte(f, &y)) {
			int rc = rv_p2p_node_learn(n, f->now, ids[x % IDS], sa(y % ADDRS), alen(&addr[y % ADDRS]));
			CHECK(rc == 0 || rc == RV_ELIMIT);
		}
		break;
	case 8: op_post(f); break;
	case 9: op_send(f); break;
	case 10: if (byte(f, &x)) pump(f, x); break;
	case 11:
		if (byte(f, &x) && byte(f, &y)) {
			f->lose = x % 4;
			f->flip_at = y;
		}
		break;
	case 12: op_replay(f); break;
	case 13: m_open(f); break;
	case 14: m_send(f); break;
	case 15: if ((n = node_arg(f, &who))) rv_p2p_node_close(n, f->now); break;
	case 16:
		if ((n = node_arg(f, &who)) && f->restarts++ < 2) {
			rv_p2p_node_free(n);
			new_node(f, who);
		}
		break;
	case 17: op_queue(f); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz f;
	if (!dtls_ctx)
		setup_once();
	memset(&f, 0, sizeof f);
	f.p = data;
	f.n = size;
	f.now = 1000;
	if (!byte(&f, &f.settings))
		return 0;
	f.seed = 0x9E3779B97F4A7C15u ^ f.settings;
	struct rv_p2p_intro_conf ic;
	rv_p2p_intro_defaults(&ic);
	ic.random = rnd;
	ic.random_ud = &f;
	CHECK((f.server = rv_p2p_intro_new(&ic)));
	new_node(&f, 0);
	if (f.settings & 1)
		new_node(&f, 1);
	uint8_t op;
	for (int ops = 0; ops < 256 && byte(&f, &op); ops++) {
		step(&f, op);
		check_all(&f);
	}
#ifdef FUZZ_DEBUG
	for (int i = 0; i < 2; i++)
		if (f.node[i].n) {
			const struct rv_p2p_node_stats *st = &f.node[i].last;
			fprintf(stderr, "%c: now %llu nb %zu known %zu conn %llu fail %llu down %llu bad %llu posts %llu/%llu "
				"routed %llu/%llu joins %llu intro %d intros %llu punches %llu relayed %llu in %llu out %llu stray %llu\n",
				'A' + i, (unsigned long long)f.now, st->neighbors, st->known,
				(unsigned long long)st->connects, (unsigned long long)st->connect_failures,
				(unsigned long long)st->disconnects, (unsigned long long)st->bad,
				(unsigned long long)st->posts_sent, (unsigned long long)st->posts_received,
				(unsigned long long)st->routed_sent, (unsigned long long)st->routed_received,
				(unsigned long long)st->joins, st->introduced, (unsigned long long)st->intros,
				(unsigned long long)st->punches, (unsigned long long)st->relayed_sessions,
				(unsigned long long)st->relayed_in, (unsigned long long)st->relayed_out,
				(unsigned long long)st->stray);
		}
#endif
	for (int i = 0; i < 2; i++)
		rv_p2p_node_free(f.node[i].n);
	if (f.m_used)
		rv_p2p_sess_free(&f.m);
	rv_p2p_intro_free(f.server);
	return 0;
}
