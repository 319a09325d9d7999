/* p2psess.c - one session between two peers of a group (p2psess.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2psess.h"

static const struct rv_p2p_sess_conf defaults = {
	.keepalive_ms = 15000, .dead_ms = 45000, .handshake_ms = 10000,
};

int rv_p2p_sess_new(struct rv_p2p_sess *s, struct rv_dtls_ctx *ctx, const struct rv_p2p_key *key,
		    const uint8_t group[RV_P2P_HASH_LEN], int role, uint64_t now,
		    const struct rv_p2p_sess_conf *conf)
{
	memset(s, 0, sizeof *s);
	s->key = key;
	memcpy(s->group, group, RV_P2P_HASH_LEN);
	s->role = role != 0;
	s->state = RV_P2P_SESS_HANDSHAKE;
	s->conf = conf ? *conf : defaults;
	s->started = s->last_rx = s->last_tx = s->now = now;
	s->dtls_due = UINT64_MAX;
	s->rtt_ms = UINT32_MAX;
	return rv_dtls_new(&s->dtls, ctx, s->role);
}

void rv_p2p_sess_free(struct rv_p2p_sess *s)
{
	rv_dtls_free(s->dtls);
	s->dtls = NULL;
	for (int i = 0; i < RV_P2P_SESS_PARTIAL; i++)
		free(s->part[i].buf);
	free(s->ready);
	memset(s->part, 0, sizeof s->part);
	s->ready = NULL;
}

/* When DTLS wants its timer again, read from OpenSSL's clock now and kept
 * in ours: the deadline does not move between two calls. */
static void dtls_rearm(struct rv_p2p_sess *s)
{
	int64_t t = s->state == RV_P2P_SESS_HANDSHAKE ? rv_dtls_timeout_ms(s->dtls) : -1;
	s->dtls_due = t < 0 ? UINT64_MAX : s->now + (uint64_t)(t > 0 ? t : 1);
}

int rv_p2p_sess_start(struct rv_p2p_sess *s)
{
	int rc = rv_dtls_start(s->dtls);
	dtls_rearm(s);
	return rc;
}

static void fail(struct rv_p2p_sess *s, const char *why)
{
	if (s->state == RV_P2P_SESS_FAILED || s->state == RV_P2P_SESS_CLOSED)
		return;
	s->state = RV_P2P_SESS_FAILED;
	s->why = why;
	rv_dtls_close(s->dtls);        /* a close_notify, if anything can still go */
}

ssize_t rv_p2p_sess_take(struct rv_p2p_sess *s, uint8_t *buf, size_t cap)
{
	ssize_t n = rv_dtls_take(s->dtls, buf, cap);
	return n > 0 ? n : 0;
}

/* ---- sending: a message in fragments of one record each ---- */

static int send_frags(struct rv_p2p_sess *s, uint64_t now, const uint8_t *m, size_t n)
{
	size_t room = rv_dtls_max_write(s->dtls);
	if (room <= RV_P2P_FRAG_HEAD)
		return -ENOTCONN;
	room -= RV_P2P_FRAG_HEAD;
	size_t count = n ? (n + room - 1) / room : 1;
	if (count > RV_P2P_FRAG_MAX || n > RV_P2P_MSG_MAX)
		return RV_ETOOBIG;
	uint16_t num = s->next_num++;
	for (size_t i = 0; i < count; i++) {
		size_t off = i * room, len = n - off < room ? n - off : room;
		rv_wr16(s->rec, num);
		s->rec[2] = (uint8_t)i;
		s->rec[3] = (uint8_t)count;
		if (len)
			memcpy(s->rec + RV_P2P_FRAG_HEAD, m + off, len);
		int rc = rv_dtls_write(s->dtls, s->rec, RV_P2P_FRAG_HEAD + len);
		if (rc < 0)
			return rc;
	}
	s->last_tx = now;
	return 0;
}

int rv_p2p_sess_send(struct rv_p2p_sess *s, uint64_t now, const uint8_t *m, size_t n)
{
	if (s->state != RV_P2P_SESS_UP)
		return -ENOTCONN;
	return send_frags(s, now, m, n);
}

/* Our HELLO, with FLAGS; the first one (DTLS just up) exports the keying
 * material it is bound to. */
static void send_hello(struct rv_p2p_sess *s, uint64_t now, uint8_t flags)
{
	uint8_t proof[RV_P2P_HASH_LEN], sig[RV_P2P_SIG_LEN], msg[256];
	if (s->state == RV_P2P_SESS_HANDSHAKE && rv_dtls_export(s->dtls, RV_P2P_HELLO_LABEL, s->exp, sizeof s->exp) < 0)
		return fail(s, "cannot export keying material");
	rv_p2p_group_proof(s->group, s->exp, proof);
	if (rv_p2p_hello_sign(s->key, s->exp, proof, s->role, sig) < 0)
		return fail(s, "cannot sign the hello");
	long n = rv_p2p_msg_hello(msg, sizeof msg, s->key->pub, proof, sig, flags);
	if (n < 0 || send_frags(s, now, msg, (size_t)n) < 0)
		return fail(s, "cannot send the hello");
	if (s->state == RV_P2P_SESS_HANDSHAKE) {
		s->state = RV_P2P_SESS_PROVING;
		s->hello_wait = RV_P2P_HELLO_RESEND_MS;
	}
	if (s->state == RV_P2P_SESS_PROVING) {
		s->hello_at = now + s->hello_wait;
		if (s->hello_wait < 2000)
			s->hello_wait *= 2;
	}
}

/* ---- receiving: fragments into messages ---- */

static void queue_ready(struct rv_p2p_sess *s, const uint8_t *m, size_t n)
{
	if (s->ready_off == s->ready_len)
		s->ready_off = s->ready_len = 0;
	size_t need = s->ready_len + 4 + n;
	if (need - s->ready_off > RV_P2P_SESS_READY_MAX) {
		s->dropped++;
		return;
	}
	if (need > s->ready_alloc) {
		size_t a = s->ready_alloc ? s->ready_alloc : 4096;
		while (a < need)
			a *= 2;
		uint8_t *p = realloc(s->ready, a);
		if (!p) {
			s->dropped++;
			return;
		}
		s->ready = p;
		s->ready_alloc = a;
	}
	rv_wr32(s->ready + s->ready_len, (uint32_t)n);
	memcpy(s->ready + s->ready_len + 4, m, n);
	s->ready_len = need;
}

/* The peer's HELLO M: its proof for our group and its signature, both bound
 * to this association (the keying material exported when it came up, which
 * a close_notify right behind the HELLO does not take away); 0 and the peer
 * ID set, or RV_EDENIED with *WHY. */
static int check_hello(struct rv_p2p_sess *s, const struct rv_p2p_msg *m, const char **why)
{
	return rv_p2p_hello_check(s->group, s->exp, m->key, m->proof, m->sig, !s->role, s->peer_id, why);
}

/* A whole message M (N bytes) from the peer. */
static void message(struct rv_p2p_sess *s, uint64_t now, const uint8_t *m, size_t n)
{
	struct rv_p2p_msg msg;
	const char *why;
	uint8_t out[16];
	if (n == RV_P2P_HELLO_SIZE && m[0] == RV_P2P_M_HELLO) {
		if (rv_p2p_msg_parse(m, n, &msg, &why) < 0)
			return fail(s, why);
		if (s->state == RV_P2P_SESS_UP) {	/* again: ours was lost if it asks */
			if (msg.flags & RV_P2P_HELLO_NEED)
				send_hello(s, now, 0);
			return;
		}
		if (s->state != RV_P2P_SESS_PROVING)
			return;
		if (check_hello(s, &msg, &why) < 0)
			return fail(s, why);
		memcpy(s->peer_pub, msg.key, RV_P2P_PUB_LEN);
		s->flags = msg.flags;
		s->state = RV_P2P_SESS_UP;
		s->proven = 1;
		long k = rv_p2p_msg_ping(out, sizeof out, RV_P2P_M_PING, now);	/* the RTT, at once */
		send_frags(s, now, out, (size_t)k);
		return;
	}
	if (s->state != RV_P2P_SESS_UP && s->state != RV_P2P_SESS_PROVING)
		return;	/* held while PROVING: polled once the HELLO checks */
	if (n == 9 && (m[0] == RV_P2P_M_PING || m[0] == RV_P2P_M_PONG) &&
	    rv_p2p_msg_parse(m, n, &msg, &why) == 0) {
		if (msg.type == RV_P2P_M_PING) {
			long k = rv_p2p_msg_ping(out, sizeof out, RV_P2P_M_PONG, msg.stamp);
			send_frags(s, now, out, (size_t)k);
		} else if (msg.stamp <= now) {
			s->rtt_ms = (uint32_t)(now - msg.stamp);
		}
		return;
	}
	queue_ready(s, m, n);
}

static struct rv_p2p_partial *partial(struct rv_p2p_sess *s, uint16_t num, uint8_t count)
{
	struct rv_p2p_partial *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < RV_P2P_SESS_PARTIAL; i++) {
		struct rv_p2p_partial *p = &s->part[i];
		if (p->buf && p->num == num)
			return p->count == count ? p : NULL;
		if (!p->buf && !free_slot)
			free_slot = p;
		if (p->buf && (!oldest || p->started < oldest->started))
			oldest = p;
	}
	struct rv_p2p_partial *p = free_slot;
	if (!p) {                            /* the oldest never completed: lost */
		p = oldest;
		free(p->buf);
		s->dropped++;
	}
	memset(p, 0, sizeof *p);
	if (!(p->buf = malloc((size_t)count * RV_DTLS_MTU)))
		return NULL;
	p->num = num;
	p->count = count;
	p->started = ++s->arrivals;
	return p;
}

static void fragment(struct rv_p2p_sess *s, uint64_t now, const uint8_t *f, size_t n)
{
	if (n < RV_P2P_FRAG_HEAD)
		return;
	uint16_t num = rv_rd16(f);
	uint8_t idx = f[2], count = f[3];
	const uint8_t *b = f + RV_P2P_FRAG_HEAD;
	size_t len = n - RV_P2P_FRAG_HEAD;
	if (count == 0 || count > RV_P2P_FRAG_MAX || idx >= count)
		return;                          /* not ours to make sense of */
	if (count == 1)
		return message(s, now, b, len);
	struct rv_p2p_partial *p = partial(s, num, count);
	if (!p || p->lens[idx] || len == 0)
		return;
	memcpy(p->buf + (size_t)idx * RV_DTLS_MTU, b, len);
	p->lens[idx] = (uint16_t)len;
	if (++p->got < count)
		return;
	size_t total = 0;                    /* whole: close the gaps between slots */
	for (int i = 0; i < count; i++) {
		memmove(p->buf + total, p->buf + (size_t)i * RV_DTLS_MTU, p->lens[i]);
		total += p->lens[i];
	}
	message(s, now, p->buf, total);
	free(p->buf);
	p->buf = NULL;
}

int rv_p2p_sess_feed(struct rv_p2p_sess *s, uint64_t now, const uint8_t *p, size_t n)
{
	s->now = now;
	if (s->state == RV_P2P_SESS_FAILED || s->state == RV_P2P_SESS_CLOSED)
		return RV_ECLOSED;
	int rc = rv_dtls_feed(s->dtls, p, n);
	if (rc == RV_EPROTO || rc == RV_ETOOBIG)
		return rc;                       /* not DTLS: refused, the session goes on */
	if (rc == RV_ECLOSED)
		return s->peer_closed = 1, fail(s, "the peer closed"), 0;
	if (rc < 0 || rv_dtls_state(s->dtls) == RV_DTLS_FAILED)
		return fail(s, rv_dtls_errstr(s->dtls)), 0;
	s->last_rx = now;
	if (s->state == RV_P2P_SESS_HANDSHAKE && rv_dtls_state(s->dtls) == RV_DTLS_CONNECTED)
		send_hello(s, now, RV_P2P_HELLO_NEED);
	ssize_t got;
	while (s->state != RV_P2P_SESS_FAILED && (got = rv_dtls_read(s->dtls, s->rec, sizeof s->rec)) > 0)
		fragment(s, now, s->rec, (size_t)got);
	if (rv_dtls_state(s->dtls) == RV_DTLS_CLOSED && s->state != RV_P2P_SESS_FAILED) {
		s->state = RV_P2P_SESS_CLOSED;	/* a close_notify: what came before it was read */
		s->why = "the peer closed";
		s->peer_closed = 1;
	}
	dtls_rearm(s);
	return 0;
}

ssize_t rv_p2p_sess_poll(struct rv_p2p_sess *s, uint8_t *buf, size_t cap)
{
	if (s->ready_off == s->ready_len || !s->proven)
		return 0;
	size_t n = rv_rd32(s->ready + s->ready_off);
	if (n > cap)
		return RV_ETOOBIG;
	memcpy(buf, s->ready + s->ready_off + 4, n);
	s->ready_off += 4 + n;
	return (ssize_t)n;
}

/* ---- time ---- */

void rv_p2p_sess_tick(struct rv_p2p_sess *s, uint64_t now)
{
	s->now = now;
	if (s->state == RV_P2P_SESS_FAILED || s->state == RV_P2P_SESS_CLOSED)
		return;
	if (s->state != RV_P2P_SESS_UP && now - s->started >= s->conf.handshake_ms)
		return fail(s, "handshake timed out");
	if (now - s->last_rx >= s->conf.dead_ms)
		return fail(s, "peer silent");
	if (s->state == RV_P2P_SESS_HANDSHAKE && now >= s->dtls_due) {
		if (rv_dtls_on_timeout(s->dtls) < 0)
			return fail(s, rv_dtls_errstr(s->dtls));
		dtls_rearm(s);
	}
	if (s->state == RV_P2P_SESS_PROVING && now >= s->hello_at)
		send_hello(s, now, RV_P2P_HELLO_NEED);
	if (s->state == RV_P2P_SESS_UP && now - s->last_tx >= s->conf.keepalive_ms) {
		uint8_t ping[16];
		long k = rv_p2p_msg_ping(ping, sizeof ping, RV_P2P_M_PING, now);
		send_frags(s, now, ping, (size_t)k);
	}
}

uint64_t rv_p2p_sess_next(const struct rv_p2p_sess *s)
{
	if (s->state == RV_P2P_SESS_FAILED || s->state == RV_P2P_SESS_CLOSED)
		return UINT64_MAX;
	uint64_t next = s->last_rx + s->conf.dead_ms;
	if (s->state != RV_P2P_SESS_UP && s->started + s->conf.handshake_ms < next)
		next = s->started + s->conf.handshake_ms;
	if (s->state == RV_P2P_SESS_UP && s->last_tx + s->conf.keepalive_ms < next)
		next = s->last_tx + s->conf.keepalive_ms;
	if (s->state == RV_P2P_SESS_PROVING && s->hello_at < next)
		next = s->hello_at;
	if (s->state == RV_P2P_SESS_HANDSHAKE && s->dtls_due < next)
		next = s->dtls_due;                  /* OpenSSL's clock, read at our last call */
	return next;
}

void rv_p2p_sess_close(struct rv_p2p_sess *s, const char *why)
{
	if (s->state == RV_P2P_SESS_FAILED || s->state == RV_P2P_SESS_CLOSED)
		return;
	s->state = RV_P2P_SESS_CLOSED;
	s->why = why;
	rv_dtls_close(s->dtls);
}
