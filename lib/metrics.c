/* metrics.c - one counter table, two renderings: Prometheus text and JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "metrics.h"

static uint64_t at(const struct rv_metric *m, const void *ctx)
{
	uint64_t v;
	memcpy(&v, (const char *)ctx + m->off, sizeof v);
	return v;
}

double rv_metric_value(const struct rv_metric *m, const void *ctx)
{
	return m->get ? m->get(ctx) : (double)at(m, ctx);
}

static int prom_one(struct rv_buf *out, const struct rv_metric *m, const void *ctx)
{
	int rc = rv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
			       m->type == RV_METRIC_COUNTER ? "counter" : "gauge");
	if (rc < 0)
		return rc;
	if (m->get)
		return rv_buf_printf(out, "%s %.15g\n", m->name, m->get(ctx));
	return rv_buf_printf(out, "%s %" PRIu64 "\n", m->name, at(m, ctx));
}

int rv_metrics_prom(struct rv_buf *out, const struct rv_metric *t, size_t n, const void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		int rc = prom_one(out, &t[i], ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The object at the first LEN bytes of PATH under O ("media" of
 * "media.rtcp_in"), made when missing; NULL with *ERR set. */
static cJSON *level(cJSON *o, const char *path, size_t len, int *err)
{
	char name[64];
	if (len == 0 || len >= sizeof name) {
		*err = RV_EPROTO;
		return NULL;
	}
	memcpy(name, path, len);
	name[len] = 0;
	cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, name);
	if (sub) {
		if (!cJSON_IsObject(sub))
			*err = RV_EPROTO;
		return cJSON_IsObject(sub) ? sub : NULL;
	}
	if (!(sub = cJSON_AddObjectToObject(o, name)))
		*err = -ENOMEM;
	return sub;
}

static int json_one(cJSON *root, const struct rv_metric *m, const void *ctx)
{
	const char *key = m->key, *dot;
	int err = 0;
	while ((dot = strchr(key, '.'))) {
		if (!(root = level(root, key, (size_t)(dot - key), &err)))
			return err;
		key = dot + 1;
	}
	if (!*key)
		return RV_EPROTO;
	if (m->flags & RV_METRIC_LIST)
		return 0;	/* the caller's, before or after */
	if (cJSON_GetObjectItemCaseSensitive(root, key))
		return RV_EPROTO;	/* two entries, one key */
	return cJSON_AddNumberToObject(root, key, rv_metric_value(m, ctx)) ? 0 : -ENOMEM;
}

int rv_metrics_json(cJSON *root, const struct rv_metric *t, size_t n, const void *ctx)
{
	if (!cJSON_IsObject(root))
		return root ? RV_EPROTO : -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = json_one(root, &t[i], ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}
