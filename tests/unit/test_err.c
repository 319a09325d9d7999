/* test_err.c - rv_strerror knows every kind of code a caller may hold:
 * errno values, rvkit's own, and libuv's (the resolver's UV_EAI_*). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "err.h"

static void known(const char *s)
{
	assert_non_null(s);
	assert_true(s[0] != 0);
	assert_null(strstr(s, "nknown error"));	/* not strerror's "Unknown error 3008" */
}

static void errno_and_rv_codes(void **state)
{
	(void)state;
	assert_string_equal(rv_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(rv_strerror(RV_ETIMEOUT), "timed out");
	assert_string_equal(rv_strerror(0), "success");
	for (int c = RV_ELIMIT; c <= RV_EPROTO; c++)
		known(rv_strerror(c));
	assert_string_equal(rv_strerror(-(RV_EBASE + 99)), "unknown error");
}

static void libuv_resolver_codes(void **state)
{
	(void)state;
	const int codes[] = {
		UV_EAI_ADDRFAMILY, UV_EAI_AGAIN, UV_EAI_BADFLAGS, UV_EAI_BADHINTS, UV_EAI_CANCELED,
		UV_EAI_FAIL, UV_EAI_FAMILY, UV_EAI_MEMORY, UV_EAI_NODATA, UV_EAI_NONAME,
		UV_EAI_OVERFLOW, UV_EAI_PROTOCOL, UV_EAI_SERVICE, UV_EAI_SOCKTYPE,
	};
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
		known(rv_strerror(codes[i]));
		assert_string_equal(rv_strerror(codes[i]), uv_strerror(codes[i]));
	}
	known(rv_strerror(UV_EOF));
	/* libuv's errno-range codes are errno values */
	assert_string_equal(rv_strerror(UV_ECONNREFUSED), strerror(ECONNREFUSED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errno_and_rv_codes),
		cmocka_unit_test(libuv_resolver_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
