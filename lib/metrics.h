/* metrics.h - one table of a server's numbers that writes both its /metrics
 * (Prometheus text format 0.0.4) and its /stats (a JSON object), so the two
 * cannot drift: a number is added to the table, and so to both, or to neither.
 *
 * Each entry names the number twice: its /stats key, a path with '.' between
 * levels ("media.rtcp_in" is {"media":{"rtcp_in":N}}), and its Prometheus
 * name, prefix and _total (counters) included ("rvserver_media_rtcp_in_total").
 * The value is a uint64_t at an offset in the caller's state, or comes from a
 * getter. Sans-I/O: the renderers read the state the caller passes (CTX) and
 * append to a buffer or an object that the caller owns. Lists in /stats (one
 * object per stream or room) stay hand-written next to the table. */
#ifndef RV_METRICS_H
#define RV_METRICS_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"

enum rv_metric_type { RV_METRIC_COUNTER, RV_METRIC_GAUGE };

/* In /stats, KEY holds a list that the caller adds (one entry per stream...):
 * the metric is its length, and rv_metrics_json leaves the key to the caller. */
#define RV_METRIC_LIST 1u

struct rv_metric {
	const char *key;              /* /stats path: "connections", "media.rtcp_in" */
	const char *name;             /* Prometheus name: "rvserver_media_rtcp_in_total" */
	enum rv_metric_type type;
	const char *help;             /* one line, no backslash */
	size_t off;                   /* the value: a uint64_t at CTX + OFF ... */
	double (*get)(const void *ctx);   /* ... or this, when not NULL */
	unsigned flags;               /* RV_METRIC_LIST */
};

/* A counter that is the uint64_t MEMBER of TYPE (CTX points to a TYPE). */
#define RV_METRIC_AT(key, name, help, type, member) \
	{ (key), (name), RV_METRIC_COUNTER, (help), offsetof(type, member), NULL, 0 }
/* A gauge that GET computes from CTX. */
#define RV_METRIC_FN(key, name, help, get) \
	{ (key), (name), RV_METRIC_GAUGE, (help), 0, (get), 0 }

/* rv_metric_value - entry M's value in CTX. */
double rv_metric_value(const struct rv_metric *m, const void *ctx);
/* rv_metrics_prom - append the N entries of T, read from CTX, to OUT as
 * Prometheus text: HELP, TYPE and the sample of each. Counters at an offset
 * are printed exactly, getters' values as %.15g. 0, or rv_buf_append's error
 * (OUT then holds part of the text). */
int rv_metrics_prom(struct rv_buf *out, const struct rv_metric *t, size_t n, const void *ctx);
/* rv_metrics_json - add the N entries of T, read from CTX, to the object
 * ROOT at their key paths, creating the objects on the way (or adding to
 * those there). 0; -ENOMEM; RV_EPROTO for a key already in ROOT, a path
 * through a value that is not an object, or a level of more than 63 bytes
 * or none. ROOT then holds part of them. */
int rv_metrics_json(cJSON *root, const struct rv_metric *t, size_t n, const void *ctx);

#endif
