/* rvcode.c - the RV error vocabulary: one table, looked up both ways. */
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "rvcode.h"

#define E RV_CODE_IN_ERROR
#define B RV_CODE_IN_BYE

/* In enum order (rv_code_info checks it in the unit test); the order is
 * also rv-protocol(7)'s. */
static const struct rv_code_info table[RV_CODE_COUNT] = {
	{ RV_CODE_UNKNOWN, "unknown", "unknown error code", RV_EPROTO, 0,
	  "not sent: what a client makes of a code it does not know." },
	{ RV_CODE_BAD_REQUEST, "bad-request", "bad request", RV_EPROTO, E | B,
	  "a well-formed frame with a wrong request: missing or invalid id, group or ids, "
	  "unknown op or type, hello not first, hello twice. Before hello it closes the connection." },
	{ RV_CODE_BAD_FRAME, "bad-frame", "malformed frame", RV_EPROTO, E | B,
	  "a frame that cannot be parsed, or a text WebSocket message; the connection is closed." },
	{ RV_CODE_TOO_LARGE, "too-large", "frame too large", RV_ETOOBIG, E | B,
	  "a frame past --max-frame (the connection is closed) or a message header past its cap." },
	{ RV_CODE_DENIED, "denied", "authentication failed", RV_EDENIED, E | B,
	  "authentication failed: the hello's token was missing or refused." },
	{ RV_CODE_NOT_ALLOWED, "not-allowed", "receiver does not allow this sender", RV_EDENIED, E,
	  "the receiver does not accept this sender." },
	{ RV_CODE_NO_SUCH_CLIENT, "no-such-client", "no such client", RV_ENOTFOUND, E,
	  "the target id (or connection number) is unknown or not connected." },
	{ RV_CODE_NO_SUCH_GROUP, "no-such-group", "no such group", RV_ENOTFOUND, E,
	  "the group does not exist." },
	{ RV_CODE_NO_RECEIVERS, "no-receivers", "no default receivers", RV_ENOTFOUND, E,
	  "a message or stream without target from a client with no default receivers." },
	{ RV_CODE_LIMIT, "limit", "a limit was reached", RV_EDENIED, E | B,
	  "too many groups, a full group, more than 1024 ids in a list, more than 8 streams "
	  "or 1024 monitors on one connection; with a bye, an RV or WebSocket client over "
	  "--max-clients." },
	{ RV_CODE_NOT_FOUND, "not-found", "no such stream of this connection", RV_EPROTO, E,
	  "stream-end of a stream the connection does not have." },
	{ RV_CODE_NOT_MEMBER, "not-member", "not a member of that group", RV_ENOTFOUND, E,
	  "leave of a group the client is not in." },
	{ RV_CODE_TIMEOUT, "timeout", "no hello before the handshake timeout", RV_ETIMEOUT, E | B,
	  "no hello before the handshake timeout." },
	{ RV_CODE_INTERNAL, "internal", "out of memory", RV_EPROTO, E | B,
	  "the server ran out of memory." },
	{ RV_CODE_IDLE, "idle", "no traffic within the idle timeout", RV_ETIMEOUT, B,
	  "no input within the idle timeout." },
	{ RV_CODE_REPLACED, "replaced", "another connection logged in with this id", RV_EREPLACED, B,
	  "a new recv hello with the same id took over." },
	{ RV_CODE_SHUTDOWN, "shutdown", "the server is shutting down", RV_ECLOSED, B,
	  "the server is stopping (SIGINT or SIGTERM)." },
	{ RV_CODE_BYE, "bye", "goodbye", RV_EPROTO, B,
	  "the answer to the client's own bye." },
	{ RV_CODE_SLOW_CONSUMER, "slow-consumer", "output queue full (--max-queue): reading too slowly",
	  RV_EPROTO, B,
	  "the connection's output queue reached --max-queue, or stayed past half of it for "
	  "--slow-timeout seconds." },
	{ RV_CODE_CLOSED, "closed", "the connection closed", RV_ECLOSED, RV_CODE_IN_GONE,
	  "the watched connection closed without a bye: its peer closed it, or it failed." },
};

#undef E
#undef B

const struct rv_code_info *rv_code_info(enum rv_code code)
{
	if ((unsigned)code >= RV_CODE_COUNT)
		code = RV_CODE_UNKNOWN;
	return &table[code];
}

const char *rv_code_wire(enum rv_code code)
{
	return rv_code_info(code)->wire;
}

const char *rv_code_text(enum rv_code code)
{
	return rv_code_info(code)->text;
}

enum rv_code rv_code_parse(const char *wire)
{
	if (!wire)
		return RV_CODE_UNKNOWN;
	for (size_t i = 1; i < RV_CODE_COUNT; i++)
		if (strcmp(table[i].wire, wire) == 0)
			return table[i].code;
	return RV_CODE_UNKNOWN;
}

int rv_code_err(enum rv_code code)
{
	return rv_code_info(code)->err;
}
