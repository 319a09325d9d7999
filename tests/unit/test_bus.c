/* test_bus.c - the cluster bus's addresses (rv_bus_url_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "err.h"

static void good(void **state)
{
	(void)state;
	struct rv_bus_addr a;
	const char *why = NULL;
	assert_int_equal(rv_bus_url_parse("redis://10.0.0.5:6379", &a, &why), 0);
	assert_string_equal(a.ip, "10.0.0.5");
	assert_int_equal(a.port, 6379);
	assert_string_equal(a.path, "");
	assert_int_equal(rv_bus_url_parse("redis://[::1]:7000", &a, &why), 0);
	assert_string_equal(a.ip, "::1");
	assert_int_equal(a.port, 7000);
	assert_int_equal(rv_bus_url_parse("unix:/run/redis/r.sock", &a, &why), 0);
	assert_string_equal(a.path, "/run/redis/r.sock");
	assert_string_equal(a.ip, "");
}

static void bad(void **state)
{
	(void)state;
	static const char *const urls[] = {
		"redis://localhost:6379",	/* a name: hiredis would block resolving it */
		"redis://10.0.0.5", "redis://10.0.0.5:", "redis://10.0.0.5:0", "redis://10.0.0.5:65536",
		"redis://10.0.0.5:63x", "redis://:6379", "redis://[::1:6379", "unix:", "http://10.0.0.5:6379",
		"sentinel://10.0.0.5:26379/rv", "",
	};
	for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
		struct rv_bus_addr a;
		const char *why = NULL;
		assert_int_equal(rv_bus_url_parse(urls[i], &a, &why), RV_EPROTO);
		assert_non_null(why);
	}
	char longpath[200] = "unix:";
	memset(longpath + 5, 'x', 150);
	struct rv_bus_addr a;
	const char *why;
	assert_int_equal(rv_bus_url_parse(longpath, &a, &why), RV_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
