/* monitor.c - "tell me when that connection goes".
 *
 * A connection asks {"type":"monitor","id":ID[,"conn":N]} to hear when ID's
 * receiving connection (or its connection number N) goes away; the server
 * then sends it {"type":"gone","id":ID,"conn":N,"code":C,"message":M} once:
 * the moment the watched connection is closed by the server (bye, slow
 * consumer, replaced, idle, shutdown: C is that bye's code) or by its peer
 * (C "closed"). The sender of a transfer learns this way that a receiver
 * died or was dropped, and a receiver that its sender did, without waiting
 * for a timeout.
 *
 * Each monitor is one small allocation, linked into two lists: the
 * watched connection's and the watcher's, so either side closing unlinks it
 * in O(1). A connection holds at most MONITOR_MAX monitors. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "server.h"

#define MONITOR_MAX 1024

struct monitor {
	struct conn *watcher, *target;
	struct monitor **tprev, *tnext;   /* in target->watchers */
	struct monitor **wprev, *wnext;   /* in watcher->watching */
	uint64_t num;                     /* the "conn" asked for, 0 for none */
};

static void unlink_monitor(struct monitor *m)
{
	*m->tprev = m->tnext;
	if (m->tnext)
		m->tnext->tprev = m->tprev;
	*m->wprev = m->wnext;
	if (m->wnext)
		m->wnext->wprev = m->wprev;
	m->watcher->nwatching--;
	free(m);
}

/* The connection a monitor request names: ID's receiver, or its number N. */
static struct conn *target_of(struct server *srv, const char *id, double num)
{
	if (num == 0) {
		struct rv_client *cl = rv_router_find(&srv->router, id);
		return cl ? cl->recv : NULL;
	}
	char key[24];
	snprintf(key, sizeof key, "%.0f", num);
	struct conn *t = num >= 1 && num <= CONN_NUM_MAX ? rv_map_get(&srv->by_num, key) : NULL;
	return t && t->client && strcmp(t->client->id, id) == 0 ? t : NULL;
}

void monitor_request(struct conn *c, cJSON *h)
{
	uint64_t seq = rv_json_u64(h, "seq", 0);
	const char *id = rv_json_str(h, "id");
	cJSON *n = cJSON_GetObjectItemCaseSensitive(h, "conn");
	double num = cJSON_IsNumber(n) ? n->valuedouble : 0;
	if (!id || !rv_id_valid(id) || (n && (!cJSON_IsNumber(n) || num < 1 || num > CONN_NUM_MAX))) {
		conn_error(c, seq, RV_CODE_BAD_REQUEST,
				"monitor needs a valid id (and conn, a connection number)");
		return;
	}
	struct conn *t = target_of(c->srv, id, num);
	if (!t && c->srv->cluster &&
	    (num ? CLUSTER_CONN_TAG((uint64_t)num) != CLUSTER_CONN_TAG(cluster_conn_base(c->srv))
		 : !rv_router_find(&c->srv->router, id))) {
		/* on another node, maybe: not watched across nodes (a transfer's
		 * --stall-timeout notices a peer that goes) */
		cJSON *ok = proto_ok(seq);
		cJSON_AddBoolToObject(ok, "remote", 1);
		conn_send_json(c, ok);
		return;
	}
	if (!t || t->closing) {
		conn_error(c, seq, RV_CODE_NO_SUCH_CLIENT, num ? "that connection is gone" : NULL);
		return;
	}
	for (struct monitor *m = c->watching; m; m = m->wnext)
		if (m->target == t && m->num == (uint64_t)num)
			goto ok;	/* already watched: once is enough */
	if (c->nwatching >= MONITOR_MAX) {
		conn_error(c, seq, RV_CODE_LIMIT, "too many monitors on this connection (1024)");
		return;
	}
	struct monitor *m = calloc(1, sizeof *m);
	if (!m) {
		conn_error(c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	m->watcher = c;
	m->target = t;
	m->num = (uint64_t)num;
	m->tnext = t->watchers;
	if (m->tnext)
		m->tnext->tprev = &m->tnext;
	m->tprev = &t->watchers;
	t->watchers = m;
	m->wnext = c->watching;
	if (m->wnext)
		m->wnext->wprev = &m->wnext;
	m->wprev = &c->watching;
	c->watching = m;
	c->nwatching++;
ok:
	if (seq) {
		cJSON *ok = cJSON_CreateObject();
		cJSON_AddStringToObject(ok, "type", "ok");
		cJSON_AddNumberToObject(ok, "re", (double)seq);
		conn_send_json(c, ok);
	}
}

void monitor_gone(struct conn *c, const char *code, const char *msg)
{
	while (c->watchers) {
		struct monitor *m = c->watchers;
		struct conn *w = m->watcher;
		if (!w->closing && c->client) {
			cJSON *h = cJSON_CreateObject();
			cJSON_AddStringToObject(h, "type", "gone");
			cJSON_AddStringToObject(h, "id", c->client->id);
			if (m->num)
				cJSON_AddNumberToObject(h, "conn", m->num);
			cJSON_AddStringToObject(h, "code", code);
			cJSON_AddStringToObject(h, "message", msg);
			conn_send_json(w, h);
		}
		unlink_monitor(m);
	}
}

void monitor_forget(struct conn *c)
{
	while (c->watching)
		unlink_monitor(c->watching);
}
