/* stunc.h - STUN client transactions (RFC 8489 6.2, 9.2), no I/O, no clock.
 *
 * One engine runs one transaction at a time: start a request, take the
 * bytes to send, feed what arrives, ask when the next timer is due and pass
 * the time. Times are milliseconds on any monotonic clock the caller picks.
 * Over UDP the request is resent after RTO, doubling each time, Rc sends in
 * all, then the last wait is Rm x RTO (RFC 8489 6.2.1); over TCP and TLS it
 * is sent once and Ti bounds the wait (6.2.2).
 *
 * Long-term credentials (9.2): a 401 or 438 with a NONCE gives the realm and
 * nonce; with a password the request is built again, signed with
 * MESSAGE-INTEGRITY (or, when the server offers SHA-256 in
 * PASSWORD-ALGORITHMS, MESSAGE-INTEGRITY-SHA256) and sent as a new
 * transaction: at most RV_STUNC_ATTEMPTS requests, and a signed request
 * refused with 401 again ends it (the credentials are wrong). A success to
 * a signed request must carry integrity that matches the key.
 *
 * Results are states: RV_STUNC_OK (t->msg is the response), RV_STUNC_ERROR
 * (t->msg, t->code, t->reason), RV_STUNC_TIMEOUT (no answer), RV_STUNC_BADMI
 * (an answer whose integrity does not match our key). The engine owns its
 * buffers; t->msg points into the engine and stays valid until the next
 * start. Caps: a request or response is at most RV_STUN_MAX bytes; realm,
 * nonce, username and password fit their fields or are refused. */
#ifndef RV_STUNC_H
#define RV_STUNC_H

#include <stddef.h>
#include <stdint.h>

#include "stun.h"

#define RV_STUNC_ATTEMPTS 3         /* requests per transaction: first + retries */

struct rv_stunc_cfg {
	unsigned rto_ms;                /* UDP: the first wait, 500 by default */
	unsigned rc;                    /* UDP: sends in all, 7 by default */
	unsigned rm;                    /* UDP: the last wait is rm x RTO, 16 by default */
	unsigned ti_ms;                 /* TCP/TLS: the wait (39500 by default); UDP: a
					 * cap on each request's waits too, 0 for none */
	int reliable;                   /* 1: TCP or TLS, no retransmission */
};

/* Long-term credentials and what the server told us: copy it to share a
 * realm and nonce between two engines (two allocations of one user). */
struct rv_stunc_auth {
	char user[512], pass[512];
	int have_password;
	char realm[256], nonce[512];
	uint8_t key[16];                /* MD5(user:realm:pass) */
	uint8_t key256[32];             /* SHA-256(user:realm:pass) */
	int have_key;
	int sha256;                     /* the server offered SHA-256: sign with it */
	uint8_t algs[64];               /* its PASSWORD-ALGORITHMS, echoed back */
	size_t algs_len;
};

enum rv_stunc_state {
	RV_STUNC_IDLE,                  /* no transaction yet */
	RV_STUNC_WAIT,                  /* sending or waiting for the answer */
	RV_STUNC_OK,                    /* a success response: t->msg */
	RV_STUNC_ERROR,                 /* an error response: t->code, t->reason, t->msg */
	RV_STUNC_TIMEOUT,               /* no answer after the last wait */
	RV_STUNC_BADMI,                 /* a success whose integrity does not match */
};

/* Adds the request's own attributes (no integrity, no fingerprint) to B;
 * called again for each retry, so UD must live as long as the transaction. */
typedef void (*rv_stunc_build_fn)(struct rv_stun_builder *b, void *ud);

struct rv_stunc {
	struct rv_stunc_cfg cfg;
	struct rv_stunc_auth auth;
	const char *software;           /* SOFTWARE attribute (static string) or NULL */
	enum rv_stunc_state state;
	uint16_t method;
	rv_stunc_build_fn build;
	void *ud;
	int use_auth;
	int attempts;                   /* requests built for this transaction */
	struct rv_stun_builder req;     /* the request being sent */
	int due;                        /* req waits to be taken */
	unsigned sends;                 /* datagrams of req sent */
	unsigned rto;                   /* the next wait */
	uint64_t now;                   /* the last time passed in */
	uint64_t next;                  /* resend or give up at */
	uint64_t cap;                   /* ti_ms after req was built (0: none) */
	uint8_t resp[RV_STUN_MAX];
	struct rv_stun_msg msg;         /* the answer, into resp */
	int code;                       /* the error response's code (401, 438, ...) */
	char reason[256];
};

/* rv_stunc_init - an idle engine; CFG NULL for the RFC defaults, or fields 0
 * for their defaults (ti_ms 0 with reliable 0 means no cap). */
void rv_stunc_init(struct rv_stunc *t, const struct rv_stunc_cfg *cfg);
/* rv_stunc_credentials - the username and password to sign with: 0, or
 * RV_ETOOBIG when one does not fit. PASS NULL: none (401 then ends it). */
int rv_stunc_credentials(struct rv_stunc *t, const char *user, const char *pass);
/* rv_stunc_start - a new transaction at NOW: METHOD's request with BUILD's
 * attributes, signed when USE_AUTH and a key is known. 0, or RV_ETOOBIG
 * (the request does not fit RV_STUN_MAX; the state is then RV_STUNC_IDLE). */
int rv_stunc_start(struct rv_stunc *t, uint16_t method, rv_stunc_build_fn build, void *ud,
		   int use_auth, uint64_t now);
/* rv_stunc_take - 1 with the request to send now in P/N (valid until the
 * next call into the engine), 0 when nothing is to be sent. */
int rv_stunc_take(struct rv_stunc *t, const uint8_t **p, size_t *n);
/* rv_stunc_timeout - when rv_stunc_tick must be called next, or -1 when no
 * transaction waits. A due request (rv_stunc_take) comes first. */
int64_t rv_stunc_timeout(const struct rv_stunc *t);
/* rv_stunc_tick - the time is NOW: resend, or give up (RV_STUNC_TIMEOUT). */
void rv_stunc_tick(struct rv_stunc *t, uint64_t now);
/* rv_stunc_feed - one datagram or stream message P/N arrived at NOW: 1 when
 * it was the answer to this transaction (the state changed, or a retry is
 * due), 0 when it was not (not STUN, not a response, another transaction
 * id, or no transaction waiting): the caller may read it as something else. */
int rv_stunc_feed(struct rv_stunc *t, const uint8_t *p, size_t n, uint64_t now);
/* rv_stunc_done - 1 when the transaction has a result (OK, ERROR, TIMEOUT, BADMI). */
int rv_stunc_done(const struct rv_stunc *t);
/* rv_stunc_forget - drop the realm, nonce and keys (a new server). */
void rv_stunc_forget(struct rv_stunc *t);

#endif
