/* p2psess.h - one session between two peers of a group, no I/O.
 *
 * Over one DTLS association (lib/dtls.h, P-256: OpenSSL 3.0 cannot serve
 * DTLS with the peers' Ed25519 keys), each side first sends a HELLO
 * (p2pmsg.h) that proves its Ed25519 identity and its knowledge of the
 * group, bound to this association (p2pkey.h: rv_p2p_hello_check). Only
 * then does the session carry messages, and each side knows the other's
 * peer ID.
 *
 *   HANDSHAKE --DTLS up, HELLO sent--> PROVING --their HELLO checks--> UP
 *   any state --failure, timeout, dead peer, close--> CLOSED or FAILED
 *
 * Datagrams may be lost, HELLOs too: a side that has not had the peer's
 * HELLO sends its own again (flagged RV_P2P_HELLO_NEED) every
 * RV_P2P_HELLO_RESEND_MS, doubling, and a side already UP answers such a
 * HELLO with its own. Messages that arrive before the peer's HELLO are held
 * and polled once it checks (or dropped with the session if it does not).
 *
 * Messages (at most RV_P2P_MSG_MAX bytes) are cut into fragments of one
 * DTLS record each: "u16 message number | u8 index | u8 count | bytes".
 * Datagrams may be lost: a message is delivered when all its fragments
 * came (in any order), and a message whose fragments stop coming is dropped
 * when RV_P2P_SESS_PARTIAL newer messages have started; repair is the
 * group's (IWANT). PING and PONG are the session's own (they measure
 * rtt_ms) and never polled. While idle, a PING goes out every keepalive_ms; a peer
 * heard from by nothing for dead_ms is dead (FAILED, "peer silent"). A
 * handshake not UP within handshake_ms fails the same way.
 *
 * The caller moves datagrams (feed / take), calls tick when
 * rv_p2p_sess_next says, and polls whole messages. Time is the caller's
 * (ms); only DTLS retransmissions follow OpenSSL's own clock. */
#ifndef RV_P2PSESS_H
#define RV_P2PSESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dtls.h"
#include "p2pkey.h"
#include "p2pmsg.h"

#define RV_P2P_SESS_PARTIAL 8       /* messages being reassembled at once */
#define RV_P2P_FRAG_HEAD 4
#define RV_P2P_FRAG_MAX 64          /* fragments in one message */
#define RV_P2P_SESS_READY_MAX (1u << 20)  /* whole messages waiting to be polled */
#define RV_P2P_HELLO_NEED 0x01      /* HELLO flag: "I have not had yours yet" */
#define RV_P2P_HELLO_RESEND_MS 250  /* a HELLO not answered goes again, doubling to 2 s */

enum rv_p2p_sess_state {
	RV_P2P_SESS_HANDSHAKE = 1,
	RV_P2P_SESS_PROVING,
	RV_P2P_SESS_UP,
	RV_P2P_SESS_CLOSED,
	RV_P2P_SESS_FAILED,
};

struct rv_p2p_sess_conf {
	uint32_t keepalive_ms;      /* PING after this long without sending (15,000) */
	uint32_t dead_ms;           /* silence that makes a peer dead (45,000) */
	uint32_t handshake_ms;      /* DTLS and HELLOs must be done by then (10,000) */
};

struct rv_p2p_partial {
	uint8_t *buf;               /* count slots of RV_DTLS_MTU bytes, owned; NULL: free */
	uint16_t num;
	uint8_t count, got;
	uint16_t lens[RV_P2P_FRAG_MAX];   /* 0: not yet */
	uint64_t started;           /* order of arrival, for eviction */
};

struct rv_p2p_sess {
	struct rv_dtls *dtls;
	const struct rv_p2p_key *key;
	uint8_t group[RV_P2P_HASH_LEN];
	int role;                   /* 0 client, 1 server */
	enum rv_p2p_sess_state state;
	const char *why;            /* CLOSED / FAILED: the reason */
	int peer_closed;            /* the peer said goodbye (close_notify) */
	struct rv_p2p_sess_conf conf;
	uint8_t peer_id[RV_P2P_HASH_LEN], peer_pub[RV_P2P_PUB_LEN];
	uint8_t exp[RV_P2P_HASH_LEN];   /* the association's keying material (HELLOs) */
	uint8_t flags;              /* the peer's HELLO flags */
	int proven;                 /* the peer's HELLO checked: its messages may be polled */
	uint64_t hello_at;          /* PROVING: when our HELLO goes again */
	uint32_t hello_wait;
	uint32_t rtt_ms;            /* from the last PONG; UINT32_MAX before one */
	uint64_t started, last_rx, last_tx, now;   /* now: of the last call */
	uint64_t dtls_due;          /* HANDSHAKE: DTLS's retransmission, in our time */
	uint16_t next_num;
	uint64_t arrivals;
	struct rv_p2p_partial part[RV_P2P_SESS_PARTIAL];
	uint8_t *ready;             /* whole messages waiting: u32 length | bytes */
	size_t ready_len, ready_off, ready_alloc;
	uint64_t dropped;           /* messages lost to missing fragments */
	uint8_t rec[RV_DTLS_MTU];
};

/* rv_p2p_sess_new - a session with KEY (outlives it) for GROUP over a DTLS
 * engine on CTX (a P-256 context, lib/dtls.h), as client (ROLE 0: start it
 * with rv_p2p_sess_start) or server (1), at NOW; CONF NULL: the defaults.
 * 0, -ENOMEM or the DTLS engine's error. */
int rv_p2p_sess_new(struct rv_p2p_sess *s, struct rv_dtls_ctx *ctx, const struct rv_p2p_key *key,
		    const uint8_t group[RV_P2P_HASH_LEN], int role, uint64_t now,
		    const struct rv_p2p_sess_conf *conf);
void rv_p2p_sess_free(struct rv_p2p_sess *s);
/* rv_p2p_sess_start - the client's first flight (take it). */
int rv_p2p_sess_start(struct rv_p2p_sess *s);

/* rv_p2p_sess_feed - one datagram from the peer at NOW. 0, or the DTLS
 * engine's refusal of a datagram that is not DTLS (RV_EPROTO, the session
 * goes on); a failure moves the session to FAILED (see state and why). */
int rv_p2p_sess_feed(struct rv_p2p_sess *s, uint64_t now, const uint8_t *p, size_t n);
/* rv_p2p_sess_take - the next datagram to send (BUF of at least
 * RV_DTLS_MTU): its length, or 0. */
ssize_t rv_p2p_sess_take(struct rv_p2p_sess *s, uint8_t *buf, size_t cap);
/* rv_p2p_sess_send - one message M (N bytes) to the peer at NOW: 0,
 * -ENOTCONN unless UP, RV_ETOOBIG past RV_P2P_MSG_MAX, RV_ELIMIT when the
 * DTLS output is full. */
int rv_p2p_sess_send(struct rv_p2p_sess *s, uint64_t now, const uint8_t *m, size_t n);
/* rv_p2p_sess_poll - the next whole message received into BUF (CAP bytes):
 * its length, 0 when none waits, RV_ETOOBIG when it does not fit (it stays). */
ssize_t rv_p2p_sess_poll(struct rv_p2p_sess *s, uint8_t *buf, size_t cap);
/* rv_p2p_sess_tick - timers at NOW: DTLS retransmission, keepalive, dead
 * peer, handshake deadline. rv_p2p_sess_next says when it is next due. */
void rv_p2p_sess_tick(struct rv_p2p_sess *s, uint64_t now);
uint64_t rv_p2p_sess_next(const struct rv_p2p_sess *s);
/* rv_p2p_sess_close - say goodbye (close_notify; take it). */
void rv_p2p_sess_close(struct rv_p2p_sess *s, const char *why);

#endif
