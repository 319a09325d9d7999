/* err.h - error codes shared by every rvkit layer.
 *
 * Functions return 0 (or a count) on success and a negative code on failure:
 * either a negated errno value (-ENOMEM, -ECONNREFUSED, ...) or one of the
 * RV_E* codes below, which live in a range errno never uses.
 * rv_strerror() describes either kind, and libuv's own codes (the
 * resolver's UV_EAI_*, UV_EOF); the string is static. */
#ifndef RV_ERR_H
#define RV_ERR_H

enum {
	RV_EBASE = 10000,
	RV_EPROTO = -(RV_EBASE + 1),   /* peer broke the protocol */
	RV_ETOOBIG = -(RV_EBASE + 2),  /* input past a size cap */
	RV_EJSON = -(RV_EBASE + 3),    /* malformed JSON */
	RV_ETLS = -(RV_EBASE + 4),     /* TLS failure */
	RV_EHTTP = -(RV_EBASE + 5),    /* malformed HTTP */
	RV_EWS = -(RV_EBASE + 6),      /* WebSocket protocol error */
	RV_EDENIED = -(RV_EBASE + 7),  /* refused: auth, not allowed, limit */
	RV_ENOTFOUND = -(RV_EBASE + 8),/* no such client or group */
	RV_EREPLACED = -(RV_EBASE + 9),/* another login took this id */
	RV_ETIMEOUT = -(RV_EBASE + 10),/* a bounded wait ran out */
	RV_ECLOSED = -(RV_EBASE + 11), /* the peer closed the connection */
	RV_ELIMIT = -(RV_EBASE + 12),  /* a configured limit was reached */
};

/* rv_strerror - a static description of CODE (negative errno or RV_E*). */
const char *rv_strerror(int code);

#endif
