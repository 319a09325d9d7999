/* cluster_dir.c - the cluster's directory side: one receiver per id
 * cluster-wide (login, eviction), groups (join, leave, members, groups
 * lists, with the limits held in the directory), and
 * liveness (heartbeat, sweep of dead nodes, re-assertion after the bus
 * came back). See cluster_int.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"

/* ---- login: one receiver per id, cluster-wide ---- */

static void hello_step(struct creq *q)
{
	if (--q->steps > 0)
		return;
	if (q->c && !q->c->closing)
		proto_welcome(q->c);
	cl_release(q->c);
	cl_req_free(q);
}

static void on_hello_sub(void *ud, const struct rv_bus_reply *r)
{
	(void)r;
	hello_step(ud);
}

/* The directory's answer to a login: the previous holder, told to let go. */
static void on_login(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	if (!r->err && r->n >= 2 && strcmp(r->v[0], cl->inc) != 0 && rv_cmsg_node_valid(r->v[0])) {
		char chan[128];
		struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_EVICT, q->id, NULL, r->v[1]);
		cl_chan_of(chan, sizeof chan, "n", r->v[0]);
		cl_publish(cl, chan, &m, NULL, NULL);
	}
	hello_step(q);
}

int cluster_hello(struct conn *c)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || c->role != ROLE_RECV)
		return 0;
	char gen[128];
	c->cgen = ++cl->cgen;
	if (!cl_bus_up(cl)) {	/* kept: subscribed and asserted once the bus is back */
		cl_sub(cl, "i", c->client->id, NULL, NULL);
		return 0;
	}
	struct creq *q = cl_req_new(cl, c, 0, c->client->id, NULL);
	if (!q)
		return 0;
	cl_gen_of(cl, c, gen, sizeof gen);
	const char *argv[] = { cl->inc, c->client->id, gen };
	q->steps = 3;	/* the two answers, and this call */
	if (cl_sub(cl, "i", c->client->id, on_hello_sub, q) < 0)
		q->steps--;
	if (cl_dir(cl, RV_DIR_LOGIN, 3, argv, NULL, on_login, q) < 0)
		q->steps--;
	if (q->steps == 1) {	/* nothing pending: welcome now */
		cl_req_free(q);
		return 0;
	}
	q->steps--;
	cl_hold(c);
	return 1;
}

void cluster_recv_gone(struct conn *c)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !c->client || !c->cgen)
		return;
	char gen[128];
	cl_unsub(cl, "i", c->client->id);
	cl_gen_of(cl, c, gen, sizeof gen);
	const char *argv[] = { cl->inc, c->client->id, gen };
	cl_dir(cl, RV_DIR_LOGOUT, 3, argv, NULL, NULL, NULL);
}

/* Another node took ID: our receiver of that generation goes (exit 5). */
void cl_evict(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct rv_client *cli = rv_router_find(&srv->router, m->a);
	struct conn *r = cli ? cli->recv : NULL;
	char gen[128];
	if (!r)
		return;
	cl_gen_of(cl, r, gen, sizeof gen);
	if (strcmp(gen, m->c) != 0)
		return;
	srv->n.replaced++;
	srv->n.cl_evicted++;
	rv_info("%s logged in on node %s: replacing this node's connection", m->a, m->origin);
	conn_bye(r, RV_CODE_REPLACED, NULL);
}

/* ---- groups ---- */

static void join_answer(struct creq *q)
{
	struct conn *c = q->c;
	struct cluster *cl = q->cl;
	struct server *srv = cl->srv;
	if (!c || c->closing || !c->client) {
		if (q->joined) {	/* the client went meanwhile: undo */
			const char *argv[] = { cl->inc, q->group, q->id, "" };
			cl_dir(cl, RV_DIR_LEAVE, 4, argv, NULL, NULL, NULL);
		}
	} else if (q->num == -1 || q->num == -2) {
		conn_error(c, q->seq, RV_CODE_LIMIT, q->num == -2 ? "the group is full (--max-group-members)"
								: "too many groups on this server (--max-groups)");
	} else if (q->num < 0) {
		conn_error(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
	} else if (rv_router_join(&srv->router, c->client, q->group) < 0) {
		conn_error(c, q->seq, RV_CODE_INTERNAL, NULL);
	} else {
		cJSON *ok = proto_ok(q->seq);
		cJSON_AddStringToObject(ok, "group", q->group);
		cJSON_AddItemToObject(ok, "members", q->members ? q->members : cJSON_CreateArray());
		q->members = NULL;
		conn_send_json(c, ok);
		relay_changed(&srv->relay);
	}
	if (!rv_router_group(&srv->router, q->group))
		cl_unsub(cl, "g", q->group);
	cl_release(c);
	cl_req_free(q);
}

static void join_step(struct creq *q)
{
	if (--q->steps == 0)
		join_answer(q);
}

static void on_join_sub(void *ud, const struct rv_bus_reply *r)
{
	(void)r;
	join_step(ud);
}

static void on_join(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	q->num = r->err ? -3 : (int)r->num;
	q->joined = !r->err && r->num == 0;
	if (!r->err) {
		q->members = cJSON_CreateArray();
		for (size_t i = 0; i < r->n; i++)
			cJSON_AddItemToArray(q->members, cJSON_CreateString(r->v[i]));
	}
	join_step(q);
}

/* The JOINED or LEFT message for ID in GROUP, encoded into cl->enc. */
const struct rv_buf *cl_event_msg(struct cluster *cl, uint8_t type, const char *group, const char *id,
				      const char *reason)
{
	struct rv_cmsg m = cl_msg_new(cl, type, group, id, reason);
	return cl_encode(cl, &m);
}

int cluster_join(struct conn *c, uint64_t seq, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	struct server *srv = c->srv;
	if (!cl || !cl_bus_up(cl))
		return 0;
	struct creq *q = cl_req_new(cl, c, seq, c->client->id, group);
	const struct rv_buf *ev = q ? cl_event_msg(cl, RV_CMSG_JOINED, group, c->client->id, NULL) : NULL;
	if (!ev) {
		if (q)
			cl_req_free(q);
		return 0;
	}
	char maxg[24], maxm[24];
	snprintf(maxg, sizeof maxg, "%zu", srv->conf.router.max_groups);
	snprintf(maxm, sizeof maxm, "%zu", srv->conf.router.max_group_members);
	const char *argv[] = { cl->inc, group, c->client->id, maxg, maxm, (const char *)rv_buf_head(ev) };
	const size_t argl[] = { strlen(cl->inc), strlen(group), strlen(c->client->id), strlen(maxg), strlen(maxm),
				rv_buf_size(ev) };
	q->steps = 3;
	if (cl_sub(cl, "g", group, on_join_sub, q) < 0)
		q->steps--;
	if (cl_dir(cl, RV_DIR_JOIN, 6, argv, argl, on_join, q) < 0) {
		q->steps--;
		q->num = -3;
	}
	cl_hold(c);
	join_step(q);
	return 1;
}

void cluster_unlinked(void *ud, const struct rv_client *c, const struct rv_group *g)
{
	struct server *srv = ud;
	struct cluster *cl = srv->cluster;
	if (!cl)
		return;
	const struct rv_buf *ev = cl_event_msg(cl, RV_CMSG_LEFT, g->name, c->id, NULL);
	if (ev) {
		const char *argv[] = { cl->inc, g->name, c->id, (const char *)rv_buf_head(ev) };
		const size_t argl[] = { strlen(cl->inc), strlen(g->name), strlen(c->id), rv_buf_size(ev) };
		cl_dir(cl, RV_DIR_LEAVE, 4, argv, argl, NULL, NULL);
	}
	if (g->n == 0)
		cl_unsub(cl, "g", g->name);
}

/* members and groups: the directory's lists, answered in order */
static void on_members(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing) {
		if (r->err) {
			conn_error(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
		} else if (r->num == -1 || r->n == 0) {
			conn_error(c, q->seq, RV_CODE_NO_SUCH_GROUP, NULL);
		} else {
			cJSON *ok = proto_ok(q->seq), *a = cJSON_CreateArray();
			for (size_t i = 0; i + 1 < r->n; i += 2) {
				cJSON *m = cJSON_CreateObject();
				cJSON_AddStringToObject(m, "id", r->v[i]);
				cJSON_AddBoolToObject(m, "online", strcmp(r->v[i + 1], "1") == 0);
				cJSON_AddItemToArray(a, m);
			}
			cJSON_AddStringToObject(ok, "group", q->group);
			cJSON_AddItemToObject(ok, "members", a);
			conn_send_json(c, ok);
		}
	}
	cl_release(c);
	cl_req_free(q);
}

static void on_groups(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing) {
		if (r->err) {
			conn_error(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
		} else {
			cJSON *ok = proto_ok(q->seq), *a = cJSON_CreateArray();
			for (size_t i = 0; i + 1 < r->n; i += 2) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "name", r->v[i]);
				cJSON_AddNumberToObject(o, "members", strtod(r->v[i + 1], NULL));
				cJSON_AddItemToArray(a, o);
			}
			cJSON_AddItemToObject(ok, "groups", a);
			conn_send_json(c, ok);
		}
	}
	cl_release(c);
	cl_req_free(q);
}

/* A directory query for C: held until FN answers. 1, or 0 when it cannot be asked. */
static int query(struct conn *c, uint64_t seq, const char *group, enum rv_dir_op op, int argc,
		 const char *const *argv, rv_bus_done_fn fn)
{
	struct cluster *cl = c->srv->cluster;
	struct creq *q = cl_req_new(cl, c, seq, c->client->id, group);
	if (!q)
		return 0;
	if (cl_dir(cl, op, argc, argv, NULL, fn, q) < 0) {
		cl_req_free(q);
		return 0;
	}
	cl_hold(c);
	return 1;
}

int cluster_members(struct conn *c, uint64_t seq, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !cl_bus_up(cl) || !group)
		return 0;
	const char *argv[] = { group };
	return query(c, seq, group, RV_DIR_MEMBERS, 1, argv, on_members);
}

int cluster_groups(struct conn *c, uint64_t seq, int all)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !cl_bus_up(cl))
		return 0;
	struct rv_client *cli = c->client;
	const char **argv = malloc((cli->ngroups + 1) * sizeof *argv);
	if (!argv)
		return 0;
	argv[0] = all ? "all" : "";
	for (size_t i = 0; i < cli->ngroups; i++)
		argv[i + 1] = cli->groups[i]->name;
	int rc = query(c, seq, NULL, RV_DIR_GROUPS, all ? 1 : (int)cli->ngroups + 1, argv, on_groups);
	free(argv);
	return rc;
}

/* ---- liveness: heartbeat, sweep, re-assertion ---- */

static void on_reassert(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	if (!r->err && r->n >= 2 && strcmp(r->v[0], cl->inc) != 0) {	/* taken meanwhile: ours goes */
		struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_EVICT, q->id, NULL, r->v[1]);
		struct rv_client *cli = rv_router_find(&cl->srv->router, q->id);
		if (cli && cli->recv) {
			char gen[128];
			cl_gen_of(cl, cli->recv, gen, sizeof gen);
			snprintf(m.c, sizeof m.c, "%s", gen);
			cl_evict(cl, &m);
		}
	}
	cl_req_free(q);
}

/* After the bus came back (or the directory lost us): our receivers, our
 * memberships, again; members the directory lacked are announced. */
void cl_reassert(struct cluster *cl)
{
	struct server *srv = cl->srv;
	size_t i = 0;
	struct rv_client *cli;
	struct rv_group *g;
	char gen[128];
	while ((cli = rv_map_next(&srv->router.clients, &i, NULL))) {
		struct conn *r = cli->recv;
		if (!r || !r->cgen)
			continue;
		struct creq *q = cl_req_new(cl, NULL, 0, cli->id, NULL);
		cl_gen_of(cl, r, gen, sizeof gen);
		const char *argv[] = { cl->inc, cli->id, gen };
		if (q && cl_dir(cl, RV_DIR_REASSERT, 3, argv, NULL, on_reassert, q) < 0)
			cl_req_free(q);
	}
	i = 0;
	while ((g = rv_map_next(&srv->router.groups, &i, NULL))) {
		for (size_t k = 0; k < g->n; k++) {
			const struct rv_buf *ev = cl_event_msg(cl, RV_CMSG_JOINED, g->name, g->members[k]->id, NULL);
			if (!ev)
				continue;
			const char *argv[] = { cl->inc, g->name, g->members[k]->id, "0", "0", (const char *)rv_buf_head(ev) };
			const size_t argl[] = { strlen(cl->inc), strlen(g->name), strlen(g->members[k]->id), 1, 1,
						rv_buf_size(ev) };
			cl_dir(cl, RV_DIR_JOIN, 6, argv, argl, NULL, NULL);
		}
	}
	cl_home_reassert(cl);
}

static void on_register(void *ud, const struct rv_bus_reply *r)
{
	struct cluster *cl = ud;
	if (!r->err && r->num == 1 && cl->srv->router.clients.count) {
		rv_info("cluster: the directory did not know this node: asserting its clients again");
		cl_reassert(cl);
	}
}

/* Memberships of a dead node removed: everyone's members hear "left". */
static void on_sweep(void *ud, const struct rv_bus_reply *r)
{
	struct cluster *cl = ud;
	struct server *srv = cl->srv;
	if (r->err)
		return;
	if (r->num > 0) {
		srv->n.cl_reaps += (uint64_t)r->num;
		rv_info("cluster: reaped %lld node(s) whose heartbeat ran out", r->num);
	}
	for (size_t i = 0; i + 2 < r->n; i += 3) {
		const char *group = r->v[i + 1], *id = r->v[i + 2];
		if (!rv_id_valid(group) || !rv_id_valid(id))
			continue;
		struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_LEFT, group, id, "node-lost");
		char chan[128];
		cl_event_in(cl, &m);	/* our own members: we skip what we publish */
		cl_chan_of(chan, sizeof chan, "g", group);
		cl_publish(cl, chan, &m, NULL, NULL);
	}
}

/* Every second while the bus is up: the heartbeat, and the sweep of dead nodes. */
void cl_dir_tick(struct cluster *cl)
{
	const char *reg[] = { cl->inc, cl_trunk_addr(cl) };
	cl_dir(cl, RV_DIR_REGISTER, 2, reg, NULL, on_register, cl);
	const char *sw[] = { cl->inc, cl->srv->conf.router.keep == RV_KEEP_NONE ? "1" : "0" };
	cl_dir(cl, RV_DIR_SWEEP, 2, sw, NULL, on_sweep, cl);
}

/* The bus is (back) up: register, and assert what this node owns. */
void cl_dir_up(struct cluster *cl)
{
	const char *reg[] = { cl->inc, cl_trunk_addr(cl) };
	cl_dir(cl, RV_DIR_REGISTER, 2, reg, NULL, NULL, NULL);
	cl_reassert(cl);
}
