/* test_rvcode.c - the RV error vocabulary: one table that the server's
 * errors, the client's mapping (rv_session_code, rv_cli_exit_for) and
 * rv-protocol(7) all come from. The wire strings are pinned here byte for
 * byte: clients and scripts match them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "err.h"
#include "rvcode.h"
#include "session.h"

/* What the wire says and what a client makes of it: the codes rvserver sent
 * before the table existed, with the RV_E* value and exit status they had
 * (but "closed", only ever in gone events, which no client mapped: it is
 * now RV_ECLOSED, the connection lost). */
static const struct {
	enum rv_code code;
	const char *wire;
	int err;
	int status;
} pinned[] = {
	{ RV_CODE_BAD_REQUEST, "bad-request", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_BAD_FRAME, "bad-frame", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_TOO_LARGE, "too-large", RV_ETOOBIG, RV_EXIT_FAIL },
	{ RV_CODE_DENIED, "denied", RV_EDENIED, RV_EXIT_DENIED },
	{ RV_CODE_NOT_ALLOWED, "not-allowed", RV_EDENIED, RV_EXIT_DENIED },
	{ RV_CODE_NO_SUCH_CLIENT, "no-such-client", RV_ENOTFOUND, RV_EXIT_DENIED },
	{ RV_CODE_NO_SUCH_GROUP, "no-such-group", RV_ENOTFOUND, RV_EXIT_DENIED },
	{ RV_CODE_NO_RECEIVERS, "no-receivers", RV_ENOTFOUND, RV_EXIT_DENIED },
	{ RV_CODE_LIMIT, "limit", RV_EDENIED, RV_EXIT_DENIED },
	{ RV_CODE_NOT_FOUND, "not-found", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_NOT_MEMBER, "not-member", RV_ENOTFOUND, RV_EXIT_DENIED },
	{ RV_CODE_TIMEOUT, "timeout", RV_ETIMEOUT, RV_EXIT_TIMEOUT },
	{ RV_CODE_INTERNAL, "internal", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_IDLE, "idle", RV_ETIMEOUT, RV_EXIT_TIMEOUT },
	{ RV_CODE_REPLACED, "replaced", RV_EREPLACED, RV_EXIT_REPLACED },
	{ RV_CODE_SHUTDOWN, "shutdown", RV_ECLOSED, RV_EXIT_LOST },
	{ RV_CODE_BYE, "bye", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_SLOW_CONSUMER, "slow-consumer", RV_EPROTO, RV_EXIT_FAIL },
	{ RV_CODE_CLOSED, "closed", RV_ECLOSED, RV_EXIT_LOST },
};
#define NPINNED (sizeof pinned / sizeof *pinned)

static void table_is_complete(void **state)
{
	(void)state;
	assert_int_equal(NPINNED, RV_CODE_COUNT - 1);	/* a new code gets a pinned line */
	for (int i = 0; i < RV_CODE_COUNT; i++) {
		const struct rv_code_info *e = rv_code_info((enum rv_code)i);
		assert_int_equal(e->code, i);		/* the table is in enum order */
		assert_non_null(e->wire);
		assert_non_null(e->text);
		assert_non_null(e->doc);
		assert_true(e->wire[0] && e->text[0] && e->doc[0]);
		assert_true(e->err < 0);
		if (i != RV_CODE_UNKNOWN)
			assert_true(e->frames != 0);	/* it travels somewhere */
	}
	/* out of range: the unknown entry, never a read past the table */
	assert_ptr_equal(rv_code_info(RV_CODE_COUNT), rv_code_info(RV_CODE_UNKNOWN));
	assert_ptr_equal(rv_code_info((enum rv_code)-1), rv_code_info(RV_CODE_UNKNOWN));
	assert_int_equal(rv_code_err(RV_CODE_COUNT), RV_EPROTO);
}

static void wire_strings_are_pinned_and_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NPINNED; i++) {
		assert_string_equal(rv_code_wire(pinned[i].code), pinned[i].wire);
		assert_int_equal(rv_code_parse(pinned[i].wire), pinned[i].code);
	}
	for (int c = RV_CODE_UNKNOWN + 1; c < RV_CODE_COUNT; c++)
		assert_int_equal(rv_code_parse(rv_code_wire((enum rv_code)c)), c);
	assert_string_equal(rv_code_wire(RV_CODE_UNKNOWN), "unknown");
}

static void unknown_strings(void **state)
{
	(void)state;
	const char *const odd[] = {
		"", "nope", "Denied", "denied ", " denied", "no-such", "no-such-client-x",
		"no_such_client", "error", "ok", "unknown",
	};
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
		assert_int_equal(rv_code_parse(odd[i]), RV_CODE_UNKNOWN);
	assert_int_equal(rv_code_parse(NULL), RV_CODE_UNKNOWN);
	assert_int_equal(rv_code_err(RV_CODE_UNKNOWN), RV_EPROTO);
}

/* The client's mapping is the table's, and what it was before the table. */
static void session_code_agrees(void **state)
{
	(void)state;
	for (int c = RV_CODE_UNKNOWN + 1; c < RV_CODE_COUNT; c++) {
		const struct rv_code_info *e = rv_code_info((enum rv_code)c);
		assert_int_equal(rv_session_code(e->wire), e->err);
	}
	for (size_t i = 0; i < NPINNED; i++) {
		assert_int_equal(rv_session_code(pinned[i].wire), pinned[i].err);
		assert_int_equal(rv_cli_exit_for(rv_session_code(pinned[i].wire)), pinned[i].status);
	}
	assert_int_equal(rv_session_code(NULL), RV_EPROTO);
	assert_int_equal(rv_session_code("from-a-newer-server"), RV_EPROTO);
	assert_int_equal(rv_cli_exit_for(rv_session_code("from-a-newer-server")), RV_EXIT_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_is_complete),
		cmocka_unit_test(wire_strings_are_pinned_and_round_trip),
		cmocka_unit_test(unknown_strings),
		cmocka_unit_test(session_code_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
