/* test_metrics.c - one counter table, two renderings: the Prometheus text of
 * /metrics and the JSON object of /stats come from the same entries, so a
 * number is in both or in neither. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "metrics.h"

struct state {
	uint64_t hits, misses;
	struct {
		uint64_t in, out;
	} media;
	size_t open;
	double uptime;
};

static double open_conns(const void *ctx) { return (double)((const struct state *)ctx)->open; }
static double uptime(const void *ctx) { return ((const struct state *)ctx)->uptime; }

static const struct rv_metric table[] = {
	RV_METRIC_FN("open", "t_open", "Open things.", open_conns),
	RV_METRIC_AT("hits", "t_hits_total", "Hits.", struct state, hits),
	RV_METRIC_AT("misses", "t_misses_total", "Misses.", struct state, misses),
	RV_METRIC_AT("media.in", "t_media_in_total", "Media in.", struct state, media.in),
	RV_METRIC_AT("media.out", "t_media_out_total", "Media out.", struct state, media.out),
	{ "media.streams", "t_media_streams", RV_METRIC_GAUGE, "Streams.", 0, open_conns, RV_METRIC_LIST },
	RV_METRIC_FN("uptime_s", "t_uptime_seconds", "Uptime.", uptime),
};
#define N (sizeof table / sizeof table[0])

static const struct state st = {
	.hits = 18446744073709551615u,  /* 2^64 - 1: printed exactly in the text */
	.misses = 0,
	.media = { 7, 9 },
	.open = 3,
	.uptime = 12.5,
};

static void prometheus_text(void **unused)
{
	(void)unused;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 16);
	assert_int_equal(rv_metrics_prom(&b, table, N, &st), 0);
	assert_int_equal(rv_buf_printf(&b, "%c", 0), 0);
	assert_string_equal((const char *)rv_buf_head(&b),
			    "# HELP t_open Open things.\n# TYPE t_open gauge\nt_open 3\n"
			    "# HELP t_hits_total Hits.\n# TYPE t_hits_total counter\n"
			    "t_hits_total 18446744073709551615\n"
			    "# HELP t_misses_total Misses.\n# TYPE t_misses_total counter\nt_misses_total 0\n"
			    "# HELP t_media_in_total Media in.\n# TYPE t_media_in_total counter\nt_media_in_total 7\n"
			    "# HELP t_media_out_total Media out.\n# TYPE t_media_out_total counter\nt_media_out_total 9\n"
			    "# HELP t_media_streams Streams.\n# TYPE t_media_streams gauge\nt_media_streams 3\n"
			    "# HELP t_uptime_seconds Uptime.\n# TYPE t_uptime_seconds gauge\nt_uptime_seconds 12.5\n");
	rv_buf_free(&b);
}

static void prometheus_past_the_cap(void **unused)
{
	(void)unused;
	struct rv_buf b;
	rv_buf_init(&b, 100);
	assert_int_equal(rv_metrics_prom(&b, table, N, &st), RV_ETOOBIG);
	rv_buf_free(&b);
}

static char *json(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	assert_non_null(s);
	return s;
}

static void json_nested_by_key(void **unused)
{
	(void)unused;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "server", "t/1");
	assert_int_equal(rv_metrics_json(o, table, N, &st), 0);
	char *s = json(o);
	/* the list is the caller's: not in the object; doubles as cJSON prints them */
	assert_string_equal(s, "{\"server\":\"t/1\",\"open\":3,\"hits\":1.8446744073709552e+19,\"misses\":0,"
			       "\"media\":{\"in\":7,\"out\":9},\"uptime_s\":12.5}");
	free(s);
	cJSON_Delete(o);
}

static void json_adds_to_objects_there(void **unused)
{
	(void)unused;
	cJSON *o = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(o, "media");
	cJSON_AddItemToObject(m, "streams", cJSON_CreateArray());
	assert_int_equal(rv_metrics_json(o, table, N, &st), 0);
	char *s = json(o);
	assert_string_equal(s, "{\"media\":{\"streams\":[],\"in\":7,\"out\":9},\"open\":3,"
			       "\"hits\":1.8446744073709552e+19,\"misses\":0,\"uptime_s\":12.5}");
	free(s);
	cJSON_Delete(o);
}

static void json_refuses_bad_keys(void **unused)
{
	(void)unused;
	static const struct rv_metric twice[] = {
		RV_METRIC_AT("hits", "t_hits_total", "Hits.", struct state, hits),
		RV_METRIC_AT("hits", "t_hits2_total", "Hits again.", struct state, misses),
	};
	static const struct rv_metric through_number[] = {
		RV_METRIC_AT("hits", "t_hits_total", "Hits.", struct state, hits),
		RV_METRIC_AT("hits.in", "t_hits_in_total", "Hits in.", struct state, misses),
	};
	static const struct rv_metric empty_level[] = {
		RV_METRIC_AT("media..in", "t_in_total", "In.", struct state, misses),
	};
	static const struct rv_metric empty_leaf[] = {
		RV_METRIC_AT("media.", "t_in_total", "In.", struct state, misses),
	};
	static const struct rv_metric long_level[] = {
		RV_METRIC_AT("a234567890123456789012345678901234567890123456789012345678901234.x", "t_x_total",
			     "X.", struct state, misses),
	};
	const struct { const struct rv_metric *t; size_t n; } bad[] = {
		{ twice, 2 }, { through_number, 2 }, { empty_level, 1 }, { empty_leaf, 1 }, { long_level, 1 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *o = cJSON_CreateObject();
		assert_int_equal(rv_metrics_json(o, bad[i].t, bad[i].n, &st), RV_EPROTO);
		cJSON_Delete(o);
	}
	cJSON *a = cJSON_CreateArray();
	assert_int_equal(rv_metrics_json(a, table, N, &st), RV_EPROTO);
	cJSON_Delete(a);
	assert_int_equal(rv_metrics_json(NULL, table, N, &st), -ENOMEM);	/* a failed create */
}

/* cJSON out of memory after FAIL_AFTER allocations: an error, never a crash. */
static int fail_after = -1;
static void *failing_malloc(size_t n)
{
	if (fail_after == 0)
		return NULL;
	if (fail_after > 0)
		fail_after--;
	return malloc(n);
}

static void json_out_of_memory(void **unused)
{
	(void)unused;
	cJSON_Hooks hooks = { failing_malloc, free };
	cJSON_InitHooks(&hooks);
	int failed = 0;
	for (int k = 0; k < 64; k++) {
		fail_after = -1;
		cJSON *o = cJSON_CreateObject();
		fail_after = k;
		int rc = rv_metrics_json(o, table, N, &st);
		fail_after = -1;
		assert_true(rc == 0 || rc == -ENOMEM);
		failed += rc < 0;
		cJSON_Delete(o);
	}
	cJSON_InitHooks(NULL);
	assert_true(failed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prometheus_text),
		cmocka_unit_test(prometheus_past_the_cap),
		cmocka_unit_test(json_nested_by_key),
		cmocka_unit_test(json_adds_to_objects_there),
		cmocka_unit_test(json_refuses_bad_keys),
		cmocka_unit_test(json_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
