/* test_xfer.c - safe names for received files, numbered alternatives, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xfer.h"

static void safe_names(void **state)
{
	(void)state;
	char out[RV_XFER_NAME_MAX + 1];
	struct { const char *in, *want; } cases[] = {
		{ "report.pdf", "report.pdf" },
		{ "../../etc/passwd", "passwd" },
		{ "C:\\Users\\x\\evil.exe", "evil.exe" },
		{ "dir/", "file" },
		{ "..", "file" },
		{ ".", "file" },
		{ "", "file" },
		{ "a\001b\nc", "a_b_c" },
		{ ".hidden", ".hidden" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rv_safe_name(cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].want);
	}
	/* long names are cut at a UTF-8 boundary */
	char longname[600];
	memset(longname, 'x', sizeof longname);
	memcpy(longname + RV_XFER_NAME_MAX - 1, "\xc3\xa9", 2);	/* é across the cap */
	longname[sizeof longname - 1] = 0;
	rv_safe_name(longname, out, sizeof out);
	assert_int_equal(strlen(out), RV_XFER_NAME_MAX - 1);
}

static void numbered(void **state)
{
	(void)state;
	char out[256];
	rv_numbered_name("report.pdf", 1, out, sizeof out);
	assert_string_equal(out, "report (1).pdf");
	rv_numbered_name("archive.tar.gz", 2, out, sizeof out);
	assert_string_equal(out, "archive.tar (2).gz");
	rv_numbered_name("README", 3, out, sizeof out);
	assert_string_equal(out, "README (3)");
	rv_numbered_name(".bashrc", 1, out, sizeof out);
	assert_string_equal(out, ".bashrc (1)");
}

static void hex(void **state)
{
	(void)state;
	char out[9];
	rv_hex((const uint8_t *)"\x00\x1f\xa0\xff", 4, out);
	assert_string_equal(out, "001fa0ff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(safe_names),
		cmocka_unit_test(numbered),
		cmocka_unit_test(hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
