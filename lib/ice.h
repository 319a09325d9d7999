/* ice.h - an ICE-lite responder (RFC 8445 lite, RFC 7675 consent), no I/O.
 *
 * One struct rv_ice is one WebRTC session's ICE state on the server side of a
 * lite agent: it answers the browser's connectivity checks (STUN Binding
 * requests, short-term credentials) and keeps the tuples (source addresses)
 * that passed one, selecting the one media and DTLS go to. It never sends a
 * check of its own and has no clock: the caller passes now_ms (monotonic
 * milliseconds) to every call that depends on time and calls rv_ice_tick()
 * when rv_ice_next_ms() says.
 *
 * A check is answered in mediasoup's order (IceServer): only Binding requests
 * (other requests 400, indications and responses ignored); FINGERPRINT
 * present and valid (400); USERNAME "ours:theirs" naming this session (else
 * dropped, no answer); MESSAGE-INTEGRITY keyed with our ice-pwd (missing 400,
 * wrong 401); PRIORITY (400); no ICE-CONTROLLED (487: lite is always
 * controlled). The success response carries XOR-MAPPED-ADDRESS of the source,
 * MESSAGE-INTEGRITY and FINGERPRINT and the request's transaction id. Error
 * responses to authenticated requests (400 for PRIORITY, 487) carry
 * MESSAGE-INTEGRITY too; all carry FINGERPRINT.
 *
 * Credentials are ice-chars [A-Za-z0-9+/] (RFC 8839): a ufrag of 4-8 and a
 * pwd of 22-24 characters locally, a remote ufrag of 0-256 characters. */
#ifndef RV_ICE_H
#define RV_ICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RV_ICE_UFRAG_LEN 8              /* what rv_ice_cred_new makes */
#define RV_ICE_PWD_LEN 24
#define RV_ICE_REMOTE_MAX 256           /* the longest remote ufrag (RFC 8839 5.4) */
#define RV_ICE_MAX_TUPLES 8             /* validated tuples kept per session */
#define RV_ICE_CONSENT_MS 30000         /* a tuple silent this long is dropped (default) */
#define RV_ICE_CONSENT_MIN_MS 10000     /* the shortest rv_ice_set_consent takes */
#define RV_ICE_FIRST_CHECK_MS 10000     /* the first valid check must come within this */

/* rv_ice_feed's events */
enum { RV_ICE_EV_VALID = 1, RV_ICE_EV_SELECTED = 2, RV_ICE_EV_FIRST = 4 };

struct rv_ice_cred {
	char ufrag[RV_ICE_UFRAG_LEN + 1];
	char pwd[RV_ICE_PWD_LEN + 1];
};

/* Counters for /stats; they only grow. */
struct rv_ice_stats {
	uint64_t checks;                /* valid checks answered with success */
	uint64_t bad_request;           /* 400 answered, or dropped as not STUN */
	uint64_t unauthorized;          /* 401 answered */
	uint64_t role_conflict;         /* 487 answered */
	uint64_t unknown_user;          /* dropped: USERNAME not this session's */
	uint64_t ignored;               /* indications and responses */
	uint64_t selections;            /* selected-tuple changes */
	uint64_t evicted;               /* tuples pushed out by a newer one (limit) */
	uint64_t expired;               /* tuples dropped by consent */
};

/* rv_ice_cred_new - random ice-chars of RV_ICE_UFRAG_LEN and RV_ICE_PWD_LEN.
 * 0, or RV_ETLS when RAND_bytes fails. */
int rv_ice_cred_new(struct rv_ice_cred *c);

/* rv_ice_local_ufrag - for the caller's session lookup: when P (N bytes) is a
 * STUN Binding request whose USERNAME is "ours:theirs", copy "ours" into OUT
 * (CAP bytes, NUL-terminated) and return its length. RV_EPROTO otherwise: not
 * STUN, not a Binding request, no USERNAME, no colon (rv's own registrations
 * have none), an empty "ours", or one that does not fit in CAP. */
int rv_ice_local_ufrag(const uint8_t *p, size_t n, char *out, size_t cap);

struct rv_ice;

/* rv_ice_new - a session answering checks made with LOCAL (copied) from a
 * peer whose ufrag is REMOTE_UFRAG ("" or NULL: not checked) at NOW_MS. *OUT
 * is owned by the caller (rv_ice_free). -EINVAL for credentials that are not
 * ice-chars of the lengths above, -ENOMEM. */
int rv_ice_new(struct rv_ice **out, const struct rv_ice_cred *local, const char *remote_ufrag,
	       uint64_t now_ms);
void rv_ice_free(struct rv_ice *ice);
/* rv_ice_set_consent - how long a tuple may stay silent before it is dropped
 * (RFC 7675 consent): MS, at least RV_ICE_CONSENT_MIN_MS (browsers check
 * every 2.5 to 5 s), RV_ICE_CONSENT_MS until set. -EINVAL below the minimum. */
int rv_ice_set_consent(struct rv_ice *ice, uint64_t ms);

/* rv_ice_feed - one STUN datagram P (N bytes) from FROM (FLEN: an AF_INET or
 * AF_INET6 address) at NOW_MS. Writes the datagram to send back to FROM (a
 * success or error response) into OUT (CAP >= RV_STUN_MAX) and its length
 * into *OUT_LEN (0: send nothing). Returns a bitmask of RV_ICE_EV_* >= 0:
 *   RV_ICE_EV_VALID     a valid check from FROM (answered with success);
 *   RV_ICE_EV_SELECTED  the selected tuple changed: the first valid check,
 *                       or a nomination (USE-CANDIDATE, or a Google
 *                       NOMINATION higher than any before) from another tuple;
 *   RV_ICE_EV_FIRST     the session's first valid check ever: start DTLS;
 * 0 for an indication or a response (ignored), or a refusal:
 *   RV_EPROTO    not a well-formed STUN message (nothing sent), or a
 *                request refused with 400: not Binding, FINGERPRINT missing
 *                or bad, no USERNAME, no MESSAGE-INTEGRITY, no PRIORITY;
 *   RV_EDENIED   MESSAGE-INTEGRITY wrong (401 written), or ICE-CONTROLLED
 *                (487 Role Conflict written; rv_ice_stats tells them apart);
 *   RV_ENOTFOUND USERNAME names another session (dropped, nothing sent);
 *   RV_ETIMEOUT  the session is over (rv_ice_tick said so; nothing sent);
 *   -EINVAL      FROM is no IPv4/IPv6 address of FLEN bytes, or CAP is
 *                below RV_STUN_MAX (nothing sent, nothing counted).
 * rv_ice_errstr tells the last refusal. A valid check refreshes FROM's
 * consent. During a restart (rv_ice_restart) checks with the old
 * credentials are answered (signed with the old pwd) until the first valid
 * check with the new ones. */
int rv_ice_feed(struct rv_ice *ice, uint64_t now_ms, const uint8_t *p, size_t n,
		const struct sockaddr *from, socklen_t flen, uint8_t *out, size_t cap,
		size_t *out_len);

/* rv_ice_selected - the selected tuple (where media and DTLS go) and its
 * length in *FLEN (may be NULL), or NULL before the first valid check and
 * after every tuple expired. The address belongs to ICE and is valid until
 * the next rv_ice_feed, rv_ice_tick, rv_ice_restart or rv_ice_free. */
const struct sockaddr *rv_ice_selected(const struct rv_ice *ice, socklen_t *flen);
/* rv_ice_valid_from - 1 when FROM is a validated tuple (accept DTLS/SRTP only
 * from those), else 0. */
int rv_ice_valid_from(const struct rv_ice *ice, const struct sockaddr *from, socklen_t flen);

/* rv_ice_tick - at NOW_MS: drop tuples silent for the consent time (when the
 * selected one goes, the most recently checked other one is selected: look
 * at rv_ice_selected again). 0 while alive; RV_ETIMEOUT once the session is
 * over (and from then on): no valid check within RV_ICE_FIRST_CHECK_MS of
 * rv_ice_new, or every tuple expired. Calling it early is harmless. */
int rv_ice_tick(struct rv_ice *ice, uint64_t now_ms);
/* rv_ice_next_ms - when rv_ice_tick is due next (absolute ms); UINT64_MAX
 * once the session is over. */
uint64_t rv_ice_next_ms(const struct rv_ice *ice);

/* rv_ice_restart - new local credentials LOCAL (copied) and remote ufrag (an
 * ICE restart, RFC 8445 9). The old ones stay valid until the first valid
 * check using the new ones (only the ones just replaced: a second restart
 * before that forgets the first's); tuples and the selection stay, the
 * NOMINATION count starts again. -EINVAL for credentials as in rv_ice_new
 * (nothing changed). */
int rv_ice_restart(struct rv_ice *ice, const struct rv_ice_cred *local, const char *remote_ufrag);
/* rv_ice_knows_ufrag - 1 when UFRAG is the local ufrag, or the old one still
 * valid during a restart (for the caller's ufrag -> session map). */
int rv_ice_knows_ufrag(const struct rv_ice *ice, const char *ufrag);

const struct rv_ice_stats *rv_ice_stats(const struct rv_ice *ice);
/* rv_ice_errstr - the last refusal ("bad MESSAGE-INTEGRITY"), "" if none;
 * static text. */
const char *rv_ice_errstr(const struct rv_ice *ice);

#endif
