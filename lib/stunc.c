/* stunc.c - STUN client transactions: retransmission and long-term credentials. */
#include <string.h>

#include "err.h"
#include "stunc.h"

void rv_stunc_init(struct rv_stunc *t, const struct rv_stunc_cfg *cfg)
{
	memset(t, 0, sizeof *t);
	if (cfg)
		t->cfg = *cfg;
	if (!t->cfg.rto_ms)
		t->cfg.rto_ms = 500;
	if (!t->cfg.rc)
		t->cfg.rc = 7;
	if (!t->cfg.rm)
		t->cfg.rm = 16;
	if (!t->cfg.ti_ms && t->cfg.reliable)
		t->cfg.ti_ms = 39500;
	t->state = RV_STUNC_IDLE;
}

static int copy_str(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		return RV_ETOOBIG;
	memcpy(dst, s, n + 1);
	return 0;
}

int rv_stunc_credentials(struct rv_stunc *t, const char *user, const char *pass)
{
	struct rv_stunc_auth *a = &t->auth;
	if (copy_str(a->user, sizeof a->user, user ? user : "") < 0 ||
	    copy_str(a->pass, sizeof a->pass, pass ? pass : "") < 0)
		return RV_ETOOBIG;
	a->have_password = pass != NULL;
	return 0;
}

void rv_stunc_forget(struct rv_stunc *t)
{
	struct rv_stunc_auth *a = &t->auth;
	a->realm[0] = a->nonce[0] = 0;
	a->have_key = a->sha256 = 0;
	a->algs_len = 0;
}

static void sign(const struct rv_stunc_auth *a, struct rv_stun_builder *b)
{
	rv_stun_add_str(b, RV_STUN_A_USERNAME, a->user);
	rv_stun_add_str(b, RV_STUN_A_REALM, a->realm);
	rv_stun_add_str(b, RV_STUN_A_NONCE, a->nonce);
	if (a->sha256) {	/* RFC 8489 9.2.4: echo the list, say which, SHA-256 integrity */
		rv_stun_add(b, RV_STUN_A_PASSWORD_ALGORITHMS, a->algs, a->algs_len);
		rv_stun_add_u32(b, RV_STUN_A_PASSWORD_ALGORITHM, 0x00020000);
		rv_stun_add_integrity_sha256(b, a->key256, sizeof a->key256);
	} else {
		rv_stun_add_integrity(b, a->key, sizeof a->key);
	}
}

/* A 401 or 438: its realm and nonce (each kept only if it fits), whether
 * SHA-256 is offered, and the keys when there is a password. */
static void take_realm_nonce(struct rv_stunc_auth *a, const struct rv_stun_msg *m)
{
	const struct rv_stun_attr *r = rv_stun_get(m, RV_STUN_A_REALM);
	const struct rv_stun_attr *n = rv_stun_get(m, RV_STUN_A_NONCE);
	if (r && r->len < sizeof a->realm) {
		memcpy(a->realm, r->val, r->len);
		a->realm[r->len] = 0;
	}
	if (n && n->len < sizeof a->nonce) {
		memcpy(a->nonce, n->val, n->len);
		a->nonce[n->len] = 0;
	}
	const struct rv_stun_attr *algs = rv_stun_get(m, RV_STUN_A_PASSWORD_ALGORITHMS);
	a->sha256 = algs && algs->len <= sizeof a->algs && rv_stun_offers_sha256(m);
	a->algs_len = 0;
	if (a->sha256) {
		memcpy(a->algs, algs->val, algs->len);
		a->algs_len = algs->len;
	}
	if (a->have_password && a->realm[0]) {
		rv_stun_long_term_key(a->user, a->realm, a->pass, a->key);
		rv_stun_long_term_key_sha256(a->user, a->realm, a->pass, a->key256);
		a->have_key = 1;
	}
}

/* Build the request again (a new transaction id) and schedule its first send. */
static int build(struct rv_stunc *t)
{
	struct rv_stun_builder *b = &t->req;
	const uint8_t *msg;
	size_t len;
	rv_stun_begin(b, t->method, RV_STUN_REQUEST, NULL);
	if (t->build)
		t->build(b, t->ud);
	if (t->software)
		rv_stun_add_str(b, RV_STUN_A_SOFTWARE, t->software);
	if (t->use_auth && t->auth.have_key)
		sign(&t->auth, b);
	rv_stun_add_fingerprint(b);
	if (rv_stun_end(b, &msg, &len) < 0)
		return RV_ETOOBIG;
	t->attempts++;
	t->due = 1;
	t->sends = 0;
	t->rto = t->cfg.rto_ms;
	t->cap = t->cfg.ti_ms ? t->now + t->cfg.ti_ms : 0;
	t->next = t->now;
	t->state = RV_STUNC_WAIT;
	return 0;
}

int rv_stunc_start(struct rv_stunc *t, uint16_t method, rv_stunc_build_fn fn, void *ud,
		   int use_auth, uint64_t now)
{
	t->method = method;
	t->build = fn;
	t->ud = ud;
	t->use_auth = use_auth;
	t->attempts = 0;
	t->now = now;
	t->code = 0;
	t->reason[0] = 0;
	memset(&t->msg, 0, sizeof t->msg);
	int rc = build(t);
	if (rc < 0)
		t->state = RV_STUNC_IDLE;
	return rc;
}

int rv_stunc_take(struct rv_stunc *t, const uint8_t **p, size_t *n)
{
	if (t->state != RV_STUNC_WAIT || !t->due)
		return 0;
	t->due = 0;
	t->sends++;
	/* RFC 8489 6.2.1: waits of RTO, 2 RTO, 4 RTO...; after the last send
	 * Rm x the first RTO (0, 500, 1500, ..., 31500, give up at 39500). */
	uint64_t wait = t->cfg.reliable ? t->cfg.ti_ms
		      : t->sends < t->cfg.rc ? t->rto : (uint64_t)t->cfg.rto_ms * t->cfg.rm;
	t->rto *= 2;
	t->next = t->now + wait;
	if (t->cap && t->next > t->cap)
		t->next = t->cap;
	*p = t->req.buf;
	*n = t->req.len;
	return 1;
}

int64_t rv_stunc_timeout(const struct rv_stunc *t)
{
	if (t->state != RV_STUNC_WAIT)
		return -1;
	return t->due ? (int64_t)t->now : (int64_t)t->next;
}

void rv_stunc_tick(struct rv_stunc *t, uint64_t now)
{
	if (now > t->now)
		t->now = now;	/* (a clock that goes back is read as standing still) */
	if (t->state != RV_STUNC_WAIT || t->due || t->now < t->next)
		return;
	if (t->cfg.reliable || t->sends >= t->cfg.rc || (t->cap && t->now >= t->cap))
		t->state = RV_STUNC_TIMEOUT;
	else
		t->due = 1;
}

int rv_stunc_done(const struct rv_stunc *t)
{
	return t->state != RV_STUNC_IDLE && t->state != RV_STUNC_WAIT;
}

static int matches(const struct rv_stunc *t, const struct rv_stun_msg *m)
{
	return m->method == t->method && (m->cls == RV_STUN_SUCCESS || m->cls == RV_STUN_ERROR) &&
	       !memcmp(m->tid, rv_stun_tid(&t->req), 12);
}

static void success(struct rv_stunc *t)
{
	const struct rv_stunc_auth *a = &t->auth;
	int mi = 1;
	if (t->use_auth && a->have_key)
		mi = a->sha256 ? rv_stun_check_integrity_sha256(&t->msg, a->key256, sizeof a->key256)
			       : rv_stun_check_integrity(&t->msg, a->key, sizeof a->key);
	t->state = mi == 0 ? RV_STUNC_BADMI : RV_STUNC_OK;
}

/* 401 with a realm and nonce: sign and retry (once signed: the credentials
 * are wrong); 438: the nonce went stale, retry with the new one. */
static void error(struct rv_stunc *t)
{
	struct rv_stunc_auth *a = &t->auth;
	t->code = rv_stun_error_code(&t->msg, t->reason, sizeof t->reason);
	t->state = RV_STUNC_ERROR;
	if ((t->code != 401 && t->code != 438) || !rv_stun_get(&t->msg, RV_STUN_A_NONCE))
		return;
	int had_key = a->have_key;
	take_realm_nonce(a, &t->msg);
	if (!t->use_auth || !a->have_password || !a->have_key)
		return;
	if (t->attempts >= RV_STUNC_ATTEMPTS || (t->code == 401 && had_key && t->attempts > 1))
		return;
	if (build(t) < 0)
		t->state = RV_STUNC_ERROR;	/* (signed, it no longer fits) */
}

int rv_stunc_feed(struct rv_stunc *t, const uint8_t *p, size_t n, uint64_t now)
{
	struct rv_stun_msg m;
	if (t->state != RV_STUNC_WAIT || n > sizeof t->resp || rv_stun_parse(p, n, &m) < 0 ||
	    m.len != n || !matches(t, &m))
		return 0;
	if (now > t->now)
		t->now = now;
	memcpy(t->resp, p, n);
	if (rv_stun_parse(t->resp, n, &t->msg) < 0)
		return 0;	/* (cannot happen: the same bytes parsed above) */
	if (t->msg.cls == RV_STUN_SUCCESS)
		success(t);
	else
		error(t);
	return 1;
}
