/* rvcode.h - the RV protocol's error vocabulary: every code that rvserver
 * puts in the "code" field of an error frame, a bye or a gone event.
 *
 * One static table (rvcode.c) holds, per code, its wire string, a default
 * human text, the RV_E* value a client maps it to (rv_cli_exit_for then
 * gives the exit status) and its meaning for rv-protocol(7), whose ERROR
 * CODES list is generated from it (`rvserver --dump=man-error-codes`). The
 * server picks codes by enum, so the wire strings live only here; a client
 * turns a received string back into the enum. No I/O, no allocation: every
 * string returned is static. */
#ifndef RV_RVCODE_H
#define RV_RVCODE_H

enum rv_code {
	RV_CODE_UNKNOWN,        /* a string this table does not know (or none) */
	RV_CODE_BAD_REQUEST,    /* "bad-request" */
	RV_CODE_BAD_FRAME,      /* "bad-frame" */
	RV_CODE_TOO_LARGE,      /* "too-large" */
	RV_CODE_DENIED,         /* "denied" */
	RV_CODE_NOT_ALLOWED,    /* "not-allowed" */
	RV_CODE_NO_SUCH_CLIENT, /* "no-such-client" */
	RV_CODE_NO_SUCH_GROUP,  /* "no-such-group" */
	RV_CODE_NO_RECEIVERS,   /* "no-receivers" */
	RV_CODE_LIMIT,          /* "limit" */
	RV_CODE_NOT_FOUND,      /* "not-found" */
	RV_CODE_NOT_MEMBER,     /* "not-member" */
	RV_CODE_TIMEOUT,        /* "timeout" */
	RV_CODE_INTERNAL,       /* "internal" */
	RV_CODE_IDLE,           /* "idle" */
	RV_CODE_REPLACED,       /* "replaced" */
	RV_CODE_SHUTDOWN,       /* "shutdown" */
	RV_CODE_BYE,            /* "bye" */
	RV_CODE_SLOW_CONSUMER,  /* "slow-consumer" */
	RV_CODE_CLOSED,         /* "closed" */
	RV_CODE_COUNT           /* not a code: the table's size */
};

/* Where a code travels (struct rv_code_info.frames). A gone event carries
 * the code of the bye that ended the watched connection, or "closed". */
enum {
	RV_CODE_IN_ERROR = 1,   /* {"type":"error","code":...} */
	RV_CODE_IN_BYE = 2,     /* {"type":"bye","code":...} (and so in gone) */
	RV_CODE_IN_GONE = 4,    /* only in {"type":"gone","code":...} */
};

struct rv_code_info {
	enum rv_code code;
	const char *wire;       /* the "code" string, byte for byte */
	const char *text;       /* a default "message" */
	int err;                /* the RV_E* value a client maps it to */
	unsigned frames;        /* RV_CODE_IN_* */
	const char *doc;        /* its meaning, one or two sentences (plain text) */
};

/* rv_code_info - CODE's table entry; the RV_CODE_UNKNOWN one for a value
 * out of range. Static. */
const struct rv_code_info *rv_code_info(enum rv_code code);
/* rv_code_wire - CODE's wire string ("unknown" for RV_CODE_UNKNOWN). */
const char *rv_code_wire(enum rv_code code);
/* rv_code_text - CODE's default human text. */
const char *rv_code_text(enum rv_code code);
/* rv_code_parse - the code whose wire string is WIRE; RV_CODE_UNKNOWN for
 * NULL or a string not in the table. */
enum rv_code rv_code_parse(const char *wire);
/* rv_code_err - the RV_E* value for CODE (RV_EPROTO for RV_CODE_UNKNOWN). */
int rv_code_err(enum rv_code code);

#endif
