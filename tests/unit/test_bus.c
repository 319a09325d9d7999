/* test_bus.c - the cluster bus's addresses (rv_bus_url_parse), and what a
 * Sentinel answers (rv_bus_hostport_parse, rv_bus_switch_parse). */
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
	assert_string_equal(a.master, "");
	assert_int_equal(a.nsentinels, 0);
}

static void sentinel(void **state)
{
	(void)state;
	struct rv_bus_addr a;
	const char *why = NULL;
	assert_int_equal(rv_bus_url_parse("sentinel://10.0.0.5:26379/rv", &a, &why), 0);
	assert_string_equal(a.master, "rv");
	assert_int_equal(a.nsentinels, 1);
	assert_string_equal(a.sentinels[0].ip, "10.0.0.5");
	assert_int_equal(a.sentinels[0].port, 26379);
	assert_string_equal(a.ip, "");	/* learnt from a Sentinel */
	assert_string_equal(a.path, "");
	assert_int_equal(rv_bus_url_parse("sentinel://10.0.0.5:26379,[::1]:26380,10.0.0.7:1/my-master.1", &a, &why), 0);
	assert_string_equal(a.master, "my-master.1");
	assert_int_equal(a.nsentinels, 3);
	assert_string_equal(a.sentinels[1].ip, "::1");
	assert_int_equal(a.sentinels[1].port, 26380);
	assert_string_equal(a.sentinels[2].ip, "10.0.0.7");
	assert_int_equal(a.sentinels[2].port, 1);
	char many[400] = "sentinel://";	/* 8 Sentinels: the most */
	for (int i = 0; i < 8; i++)
		strcat(many, i ? ",10.0.0.1:26379" : "10.0.0.1:26379");
	strcat(many, "/rv");
	assert_int_equal(rv_bus_url_parse(many, &a, &why), 0);
	assert_int_equal(a.nsentinels, 8);
	char name[100] = "sentinel://10.0.0.1:26379/";	/* a name of 63 bytes: the longest */
	memset(name + strlen(name), 'n', 63);
	assert_int_equal(rv_bus_url_parse(name, &a, &why), 0);
	assert_int_equal(strlen(a.master), 63);
}

static void sentinel_bad(void **state)
{
	(void)state;
	static const struct {
		const char *url, *why;
	} cases[] = {
		{ "sentinel://10.0.0.5:26379", "name is missing" },
		{ "sentinel://10.0.0.5:26379/", "1-63 characters" },
		{ "sentinel://10.0.0.5:26379/r v", "1-63 characters" },
		{ "sentinel://10.0.0.5:26379/rv/x", "1-63 characters" },
		{ "sentinel:///rv", "no Sentinel given" },
		{ "sentinel://localhost:26379/rv", "IP address" },
		{ "sentinel://10.0.0.5/rv", "IP address" },
		{ "sentinel://10.0.0.5:0/rv", "port 1-65535" },
		{ "sentinel://10.0.0.5:65536/rv", "port 1-65535" },
		{ "sentinel://10.0.0.5:+1/rv", "port 1-65535" },
		{ "sentinel://10.0.0.5:26379,/rv", "empty Sentinel" },
		{ "sentinel://,10.0.0.5:26379/rv", "IP address" },
		{ "sentinel://10.0.0.5:26379,,10.0.0.6:1/rv", "IP address" },
		{ "sentinel://[::1:26379/rv", "IP address" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct rv_bus_addr a;
		const char *why = NULL;
		assert_int_equal(rv_bus_url_parse(cases[i].url, &a, &why), RV_EPROTO);
		assert_non_null(why);
		if (!strstr(why, cases[i].why))
			fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].url, why, cases[i].why);
		assert_int_equal(a.nsentinels, 0);	/* nothing half-filled */
		assert_string_equal(a.master, "");
	}
	char many[400] = "sentinel://";	/* 9 Sentinels */
	for (int i = 0; i < 9; i++)
		strcat(many, i ? ",10.0.0.1:26379" : "10.0.0.1:26379");
	strcat(many, "/rv");
	struct rv_bus_addr a;
	const char *why = NULL;
	assert_int_equal(rv_bus_url_parse(many, &a, &why), RV_EPROTO);
	assert_non_null(strstr(why, "at most 8"));
	char name[100] = "sentinel://10.0.0.1:26379/";	/* 64 bytes: too long */
	memset(name + strlen(name), 'n', 64);
	assert_int_equal(rv_bus_url_parse(name, &a, &why), RV_EPROTO);
}

/* What a Sentinel answers: the master's [IP, PORT]; +switch-master messages. */
static void answers(void **state)
{
	(void)state;
	struct rv_bus_hostport hp;
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1", 9, "6379", 4, &hp), 0);
	assert_string_equal(hp.ip, "127.0.0.1");
	assert_int_equal(hp.port, 6379);
	assert_int_equal(rv_bus_hostport_parse("::1", 3, "1", 1, &hp), 0);
	assert_int_equal(rv_bus_hostport_parse("redis.local", 11, "6379", 4, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1", 9, "0", 1, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1", 9, "65536", 5, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1", 9, "000001", 6, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1", 9, "", 0, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("", 0, "6379", 4, &hp), RV_EPROTO);
	assert_int_equal(rv_bus_hostport_parse("127.0.0.1\0x", 11, "6379", 4, &hp), RV_EPROTO);
	assert_int_equal(hp.port, 0);

	const char *m = "rv 127.0.0.1 6379 127.0.0.1 6380";
	assert_int_equal(rv_bus_switch_parse(m, strlen(m), "rv", &hp), 1);
	assert_string_equal(hp.ip, "127.0.0.1");
	assert_int_equal(hp.port, 6380);
	assert_int_equal(rv_bus_switch_parse(m, strlen(m), "r", &hp), 0);	/* another master's */
	assert_int_equal(rv_bus_switch_parse(m, strlen(m), "rv2", &hp), 0);
	static const char *const bad[] = {
		"", "rv", "rv 127.0.0.1 6379 127.0.0.1", "rv 127.0.0.1 6379 127.0.0.1 6380 x",
		"rv  127.0.0.1 6379 127.0.0.1 6380", "rv 127.0.0.1 6379 127.0.0.1 6380 ", " rv 127.0.0.1 6379 127.0.0.1 6380",
		"rv 127.0.0.1 6379 host 6380", "rv 127.0.0.1 6379 127.0.0.1 0", "rv 127.0.0.1 x 127.0.0.1 6380",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (rv_bus_switch_parse(bad[i], strlen(bad[i]), "rv", &hp) != RV_EPROTO)
			fail_msg("\"%s\" taken", bad[i]);
}

static void bad(void **state)
{
	(void)state;
	static const char *const urls[] = {
		"redis://localhost:6379",	/* a name: hiredis would block resolving it */
		"redis://10.0.0.5", "redis://10.0.0.5:", "redis://10.0.0.5:0", "redis://10.0.0.5:65536",
		"redis://10.0.0.5:63x", "redis://:6379", "redis://[::1:6379", "unix:", "http://10.0.0.5:6379",
		"",
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
		cmocka_unit_test(sentinel),
		cmocka_unit_test(sentinel_bad),
		cmocka_unit_test(answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
