/* ice.c - the ICE-lite responder: checks answered, tuples kept, consent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "err.h"
#include "ice.h"
#include "stun.h"

struct creds {
	struct rv_ice_cred local;               /* local.ufrag[0] == 0: none */
	char remote[RV_ICE_REMOTE_MAX + 1];     /* "": not checked */
};

struct tuple {
	struct sockaddr_storage addr;
	socklen_t len;
	uint64_t seen_ms;                       /* its last valid check */
};

struct rv_ice {
	struct creds cur, old;                  /* old: until the first check with cur */
	struct tuple t[RV_ICE_MAX_TUPLES];      /* t[0..n) validated */
	int n;
	int sel;                                /* the selected tuple's index, -1: none */
	uint32_t nomination;                    /* the highest Google NOMINATION seen */
	uint64_t born_ms;
	uint64_t consent_ms;                    /* a tuple silent this long is dropped */
	int checked;                            /* a valid check came once */
	int over;                               /* rv_ice_tick said RV_ETIMEOUT */
	struct rv_ice_stats st;
	const char *err;
};

static const char ice_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int rv_ice_cred_new(struct rv_ice_cred *c)
{
	uint8_t r[RV_ICE_UFRAG_LEN + RV_ICE_PWD_LEN];
	if (RAND_bytes(r, sizeof r) != 1)
		return RV_ETLS;
	for (size_t i = 0; i < RV_ICE_UFRAG_LEN; i++)
		c->ufrag[i] = ice_alphabet[r[i] & 63];
	for (size_t i = 0; i < RV_ICE_PWD_LEN; i++)
		c->pwd[i] = ice_alphabet[r[RV_ICE_UFRAG_LEN + i] & 63];
	c->ufrag[RV_ICE_UFRAG_LEN] = c->pwd[RV_ICE_PWD_LEN] = 0;
	return 0;
}

/* 1 when S is MIN..MAX ice-chars then a NUL (S[0..MAX] may be read). */
static int ice_chars(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n == max || !memchr(ice_alphabet, s[n], sizeof ice_alphabet - 1))
			return 0;
	return n >= min;
}

static int set_creds(struct creds *c, const struct rv_ice_cred *local, const char *remote)
{
	if (!remote)
		remote = "";
	if (!local || !ice_chars(local->ufrag, 4, RV_ICE_UFRAG_LEN) ||
	    !ice_chars(local->pwd, 22, RV_ICE_PWD_LEN) || strlen(remote) > RV_ICE_REMOTE_MAX ||
	    !ice_chars(remote, 0, RV_ICE_REMOTE_MAX))
		return -EINVAL;
	c->local = *local;
	strcpy(c->remote, remote);
	return 0;
}

int rv_ice_new(struct rv_ice **out, const struct rv_ice_cred *local, const char *remote_ufrag,
	       uint64_t now_ms)
{
	struct rv_ice *ice = calloc(1, sizeof *ice);
	if (!ice)
		return -ENOMEM;
	int rc = set_creds(&ice->cur, local, remote_ufrag);
	if (rc < 0) {
		free(ice);
		return rc;
	}
	ice->sel = -1;
	ice->born_ms = now_ms;
	ice->consent_ms = RV_ICE_CONSENT_MS;
	ice->err = "";
	*out = ice;
	return 0;
}

void rv_ice_free(struct rv_ice *ice)
{
	free(ice);
}

int rv_ice_restart(struct rv_ice *ice, const struct rv_ice_cred *local, const char *remote_ufrag)
{
	struct creds next;
	int rc = set_creds(&next, local, remote_ufrag);
	if (rc < 0)
		return rc;
	ice->old = ice->cur;
	ice->cur = next;
	ice->nomination = 0;    /* the peer counts nominations anew */
	return 0;
}

int rv_ice_knows_ufrag(const struct rv_ice *ice, const char *ufrag)
{
	return !strcmp(ufrag, ice->cur.local.ufrag) || (ice->old.local.ufrag[0] && !strcmp(ufrag, ice->old.local.ufrag));
}

/* ---- addresses and tuples ---- */

static int addr_ok(const struct sockaddr *a, socklen_t len)
{
	return a && ((a->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) ||
		     (a->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)));
}

static int addr_eq(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
	return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
	       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

static int tuple_find(const struct rv_ice *ice, const struct sockaddr *a)
{
	for (int i = 0; i < ice->n; i++)
		if (addr_eq(&ice->t[i].addr, a))
			return i;
	return -1;
}

/* The most (OLDEST: least) recently checked tuple other than SKIP, -1 if none. */
static int tuple_by_age(const struct rv_ice *ice, int skip, int oldest)
{
	int best = -1;
	for (int i = 0; i < ice->n; i++)
		if (i != skip && (best < 0 || (oldest ? ice->t[i].seen_ms < ice->t[best].seen_ms
						       : ice->t[i].seen_ms > ice->t[best].seen_ms)))
			best = i;
	return best;
}

/* FROM's tuple, added when new; with RV_ICE_MAX_TUPLES kept, the least
 * recently checked one that is not selected makes room. */
static int tuple_get(struct rv_ice *ice, const struct sockaddr *from, uint64_t now)
{
	int i = tuple_find(ice, from);
	if (i < 0) {
		if (ice->n < RV_ICE_MAX_TUPLES) {
			i = ice->n++;
		} else {
			i = tuple_by_age(ice, ice->sel, 1);
			ice->st.evicted++;
		}
		struct tuple *t = &ice->t[i];
		memset(t, 0, sizeof *t);
		t->len = from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&t->addr, from, t->len);
	}
	ice->t[i].seen_ms = now;
	return i;
}

static void tuple_remove(struct rv_ice *ice, int i)
{
	if (ice->sel == i)
		ice->sel = -1;
	ice->t[i] = ice->t[--ice->n];
	if (ice->sel == ice->n)
		ice->sel = i;
}

const struct sockaddr *rv_ice_selected(const struct rv_ice *ice, socklen_t *flen)
{
	if (ice->sel < 0)
		return NULL;
	if (flen)
		*flen = ice->t[ice->sel].len;
	return (const struct sockaddr *)&ice->t[ice->sel].addr;
}

int rv_ice_set_consent(struct rv_ice *ice, uint64_t ms)
{
	if (ms < RV_ICE_CONSENT_MIN_MS)
		return -EINVAL;
	ice->consent_ms = ms;
	return 0;
}

int rv_ice_valid_from(const struct rv_ice *ice, const struct sockaddr *from, socklen_t flen)
{
	return addr_ok(from, flen) && tuple_find(ice, from) >= 0;
}

/* ---- time ---- */

int rv_ice_tick(struct rv_ice *ice, uint64_t now_ms)
{
	if (ice->over)
		return RV_ETIMEOUT;
	for (int i = 0; i < ice->n;) {
		if (now_ms >= ice->t[i].seen_ms + ice->consent_ms) {
			tuple_remove(ice, i);
			ice->st.expired++;
		} else {
			i++;
		}
	}
	if (ice->sel < 0 && ice->n) {
		ice->sel = tuple_by_age(ice, -1, 0);
		ice->st.selections++;
	}
	if (ice->checked ? ice->n == 0 : now_ms >= ice->born_ms + RV_ICE_FIRST_CHECK_MS) {
		ice->over = 1;
		ice->err = ice->checked ? "consent expired on every tuple" : "no valid check in time";
		return RV_ETIMEOUT;
	}
	return 0;
}

uint64_t rv_ice_next_ms(const struct rv_ice *ice)
{
	if (ice->over)
		return UINT64_MAX;
	if (!ice->checked)
		return ice->born_ms + RV_ICE_FIRST_CHECK_MS;
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < ice->n; i++)
		if (ice->t[i].seen_ms + ice->consent_ms < next)
			next = ice->t[i].seen_ms + ice->consent_ms;
	return next;
}

/* ---- checks ---- */

int rv_ice_local_ufrag(const uint8_t *p, size_t n, char *out, size_t cap)
{
	struct rv_stun_msg m;
	if (rv_stun_parse(p, n, &m) != 0 || m.len != n || m.method != RV_STUN_BINDING || m.cls != RV_STUN_REQUEST)
		return RV_EPROTO;
	const struct rv_stun_attr *u = rv_stun_get(&m, RV_STUN_A_USERNAME);
	const uint8_t *colon = u ? memchr(u->val, ':', u->len) : NULL;
	size_t k = colon ? (size_t)(colon - u->val) : 0;
	if (!k || k >= cap)
		return RV_EPROTO;
	memcpy(out, u->val, k);
	out[k] = 0;
	return (int)k;
}

/* Does USERNAME U read "<C's local ufrag>:<C's remote ufrag>" (any remote
 * when C's is "")? */
static int names(const struct creds *c, const struct rv_stun_attr *u)
{
	size_t k = strlen(c->local.ufrag), r = strlen(c->remote);
	if (!k || u->len <= k || memcmp(u->val, c->local.ufrag, k) || u->val[k] != ':')
		return 0;
	return !r || (u->len - k - 1 == r && !memcmp(u->val + k + 1, c->remote, r));
}

/* The credentials whose ufrags USERNAME U names and whose pwd keys M's
 * MESSAGE-INTEGRITY; NULL otherwise, with *MI: 1 none named, 0 wrong
 * integrity, -1 no MESSAGE-INTEGRITY. */
static struct creds *authenticate(struct rv_ice *ice, const struct rv_stun_msg *m,
				  const struct rv_stun_attr *u, int *mi)
{
	struct creds *sets[2] = { &ice->cur, &ice->old };
	*mi = 1;
	for (int i = 0; i < 2; i++) {
		struct creds *c = sets[i];
		if (!c->local.ufrag[0] || !names(c, u))
			continue;
		*mi = rv_stun_check_integrity(m, (const uint8_t *)c->local.pwd, strlen(c->local.pwd));
		if (*mi == 1)
			return c;
	}
	return NULL;
}

static void finish(struct rv_stun_builder *b, const char *pwd, uint8_t *out, size_t *out_len)
{
	const uint8_t *msg;
	size_t len;
	if (pwd)
		rv_stun_add_integrity(b, (const uint8_t *)pwd, strlen(pwd));
	rv_stun_add_fingerprint(b);
	if (rv_stun_end(b, &msg, &len) >= 0) {
		memcpy(out, msg, len);
		*out_len = len;
	}
}

/* Refuse M: answer CODE (0: no answer), signed with PWD when not NULL. */
static int refuse(struct rv_ice *ice, const struct rv_stun_msg *m, int code, const char *why,
		  const char *pwd, uint8_t *out, size_t *out_len)
{
	static const struct { int code, rc; const char *reason; } kinds[] = {
		{ 400, RV_EPROTO, "Bad Request" }, { 401, RV_EDENIED, "Unauthorized" },
		{ 487, RV_EDENIED, "Role Conflict" },
	};
	uint64_t *count[] = { &ice->st.bad_request, &ice->st.unauthorized, &ice->st.role_conflict };
	ice->err = why;
	if (!code) {
		ice->st.unknown_user++;
		return RV_ENOTFOUND;
	}
	int k = code == 400 ? 0 : code == 401 ? 1 : 2;
	(*count[k])++;
	if (m) {
		struct rv_stun_builder b;
		rv_stun_begin(&b, m->method, RV_STUN_ERROR, m->tid);
		rv_stun_add_error(&b, code, kinds[k].reason);
		finish(&b, pwd, out, out_len);
	}
	return kinds[k].rc;
}

/* A valid check from tuple I: the events it makes (mediasoup's HandleTuple). */
static int handle_tuple(struct rv_ice *ice, const struct rv_stun_msg *m, int i)
{
	const struct rv_stun_attr *nom = rv_stun_get(m, RV_STUN_A_GOOG_NOMINATION);
	int ev = RV_ICE_EV_VALID, nominated = rv_stun_get(m, RV_STUN_A_USE_CANDIDATE) != NULL;
	if (nom && nom->len == 4) {
		uint32_t v = rv_rd32(nom->val);
		nominated = v > ice->nomination;
		if (nominated)
			ice->nomination = v;
	}
	if (!ice->checked) {
		ice->checked = 1;
		ev |= RV_ICE_EV_FIRST;
	}
	if (ice->sel < 0 || (nominated && ice->sel != i)) {
		ice->sel = i;
		ice->st.selections++;
		ev |= RV_ICE_EV_SELECTED;
	}
	ice->st.checks++;
	return ev;
}

int rv_ice_feed(struct rv_ice *ice, uint64_t now_ms, const uint8_t *p, size_t n,
		const struct sockaddr *from, socklen_t flen, uint8_t *out, size_t cap,
		size_t *out_len)
{
	struct rv_stun_msg m;
	*out_len = 0;
	if (!addr_ok(from, flen) || cap < RV_STUN_MAX)
		return -EINVAL;
	if (ice->over) {
		ice->err = "session over";
		return RV_ETIMEOUT;
	}
	if (rv_stun_parse(p, n, &m) != 0 || m.len != n)
		return refuse(ice, NULL, 400, "not a STUN message", NULL, out, out_len);
	if (m.cls != RV_STUN_REQUEST) {
		ice->st.ignored++;
		return 0;
	}
	if (m.method != RV_STUN_BINDING)
		return refuse(ice, &m, 400, "not a Binding request", NULL, out, out_len);
	int fp = rv_stun_check_fingerprint(&m);
	if (fp != 1)
		return refuse(ice, &m, 400, fp < 0 ? "no FINGERPRINT" : "bad FINGERPRINT", NULL, out, out_len);
	const struct rv_stun_attr *u = rv_stun_get(&m, RV_STUN_A_USERNAME);
	if (!u)
		return refuse(ice, &m, 400, "no USERNAME", NULL, out, out_len);
	int mi;
	struct creds *c = authenticate(ice, &m, u, &mi);
	if (!c && mi == 1)
		return refuse(ice, &m, 0, "USERNAME of another session", NULL, out, out_len);
	if (!c)
		return refuse(ice, &m, mi < 0 ? 400 : 401, mi < 0 ? "no MESSAGE-INTEGRITY" : "bad MESSAGE-INTEGRITY",
			      NULL, out, out_len);
	const char *pwd = c->local.pwd;
	const struct rv_stun_attr *prio = rv_stun_get(&m, RV_STUN_A_PRIORITY);
	if (!prio || prio->len != 4)
		return refuse(ice, &m, 400, "no PRIORITY", pwd, out, out_len);
	if (rv_stun_get(&m, RV_STUN_A_ICE_CONTROLLED))
		return refuse(ice, &m, 487, "role conflict: ICE-CONTROLLED (lite is controlled)", pwd, out, out_len);
	if (c == &ice->cur)
		memset(&ice->old, 0, sizeof ice->old);  /* the restart is complete */
	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_SUCCESS, m.tid);
	rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_MAPPED_ADDRESS, from);
	finish(&b, pwd, out, out_len);
	return handle_tuple(ice, &m, tuple_get(ice, from, now_ms));
}

const struct rv_ice_stats *rv_ice_stats(const struct rv_ice *ice)
{
	return &ice->st;
}

const char *rv_ice_errstr(const struct rv_ice *ice)
{
	return ice->err;
}
