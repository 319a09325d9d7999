/* cluster_dir.c - the cluster's directory side: one receiver per id
 * cluster-wide (login, eviction), groups (join, leave, members, groups
 * lists, with the limits held in the directory), what a client keeps
 * (--keep-client-info) across nodes, and liveness (heartbeat, sweep of
 * dead nodes, re-assertion after the bus came back). See cluster_int.h;
 * the keys are described in lib/bus_scripts.c.
 *
 * What a client keeps follows it from node to node:
 * - Memberships: rv:ig:ID maps each group of ID to the node that owns the
 *   membership (rv:gm:INC lists them per node, for the sweep). JOIN makes
 *   the joining node the owner; LEAVE ends a membership only for its owner
 *   (a node that lost it to a login elsewhere changes nothing); LOGIN makes
 *   the login's node the owner of all of them, in the same atomic step,
 *   and answers them with their previous owners. In every mode: a login
 *   that replaces a receiver on another node keeps its groups, as a second
 *   login does on one server.
 * - The login's node takes them over before its welcome (the client's
 *   input is held until then): it joins its router silently (no joined
 *   event: a member all along), subscribes the groups' channels (the
 *   welcome waits for the subscriptions) and tells each previous owner
 *   (RV_CMSG_MOVED on rv:n:OWNER, with the gen of the receiver replaced
 *   there, if any). The previous owner drops what it kept of the id,
 *   silently, unless it holds a newer login of the id. A kept client is
 *   offline there, so it never took posts: after the welcome, posts reach
 *   the client through its new node only, once.
 * - With --keep-client-info all, default receivers and allowed senders:
 *   rv:c:ID, written (RV_DIR_KEEP) each time they change and when a node
 *   re-asserts its receivers, read by LOGIN, and (RV_DIR_LISTS) by the hello
 *   of a sending connection that is its id's first on the node, held until
 *   then too. A hello that sets allowed senders replaces the kept ones (and
 *   writes them), as on one server.
 * - With none, nothing outlives the last connection: the node's router
 *   leaves the groups (LEAVE) as on one server; the sweep of a dead node
 *   removes its clients' memberships. With groups or all, the sweep keeps
 *   them (offline, as one server keeps a client that left) and the next
 *   login, anywhere, takes them over. */
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

/* ---- what a client keeps, across nodes ---- */

/* L from the ids in S (separated by spaces; invalid ones skipped). */
static void lists_from(struct rv_strv *l, const char *s)
{
	rv_strv_free(l);
	while (*s && l->n < 1024) {
		char id[RV_ID_MAX + 1];
		size_t n = strcspn(s, " ");
		if (n && n <= RV_ID_MAX) {
			memcpy(id, s, n);
			id[n] = 0;
			if (rv_id_valid(id) && rv_strv_add(l, id) < 0)
				return;
		}
		s += n + (s[n] == ' ');
	}
}

/* L as ids separated by spaces: malloc'd (the caller frees), or NULL. */
static char *lists_text(const struct rv_strv *l)
{
	size_t n = 1;
	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->v[i]) + 1;
	char *out = malloc(n), *w = out;
	if (!out)
		return NULL;
	*w = 0;
	for (size_t i = 0; i < l->n; i++)
		w += sprintf(w, "%s%s", i ? " " : "", l->v[i]);
	return out;
}

/* With --keep-client-info all: CLI's default receivers and allowed senders
 * into the directory (rv:c:ID), where a login on any node finds them. */
static void keep_lists(struct cluster *cl, const struct rv_client *cli)
{
	if (cl->srv->conf.router.keep != RV_KEEP_ALL || !cl_bus_up(cl))
		return;
	char *contacts = lists_text(&cli->contacts), *allowed = lists_text(&cli->allowed);
	if (contacts && allowed) {
		const char *argv[] = { cli->id, cli->allow_all ? "1" : "0", contacts, allowed };
		cl_dir(cl, RV_DIR_KEEP, 4, argv, NULL, NULL, NULL);
	}
	free(contacts);
	free(allowed);
}

void cluster_lists_changed(struct conn *c)
{
	if (c->srv->cluster && c->client)
		keep_lists(c->srv->cluster, c->client);
}

/* With --keep-client-info all, the lists the directory kept for CLI (V:
 * ALL, CONTACTS, ALLOWED; ALL "": none kept) are its own; the allowed
 * senders a hello set (Q's) replace the kept ones, and are kept. */
static void lists_adopt(const struct creq *q, struct rv_client *cli, const char *const *v)
{
	if (v[0][0]) {
		lists_from(&cli->contacts, v[1]);
		if (!q->allow_set) {
			cli->allow_all = v[0][0] == '1';
			lists_from(&cli->allowed, v[2]);
		}
	}
	if (q->allow_set)
		keep_lists(q->cl, cli);
}

/* The directory's answer for a sending connection: its id's kept lists. */
static void on_lists(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing && c->client) {
		if (!r->err && r->n >= 3)
			lists_adopt(q, c->client, r->v);
		else if (q->allow_set)
			keep_lists(q->cl, c->client);
		proto_welcome(c);
	}
	cl_release(c);
	cl_req_free(q);
}

/* A sending connection, the first of its id here (no receiver): with
 * --keep-client-info all, the id's kept lists are asked for and adopted
 * before its welcome. 1 when asked (C held), else 0. */
static int hello_sender(struct conn *c, int allow_set)
{
	struct cluster *cl = c->srv->cluster;
	struct rv_client *cli = c->client;
	if (cl->srv->conf.router.keep != RV_KEEP_ALL || !cl_bus_up(cl) || cli->conns != 1 || cli->recv)
		return 0;
	struct creq *q = cl_req_new(cl, c, 0, cli->id, NULL);
	const char *argv[] = { cli->id };
	if (!q)
		return 0;
	q->allow_set = allow_set;
	if (cl_dir(cl, RV_DIR_LISTS, 1, argv, NULL, on_lists, q) < 0) {
		cl_req_free(q);
		return 0;
	}
	cl_hold(c);
	return 1;
}

/* 1 when GROUP is among the memberships of a LOGIN answer. */
static int listed(const struct rv_bus_reply *r, const char *group)
{
	for (size_t k = 5; k + 1 < r->n; k += 2)
		if (strcmp(r->v[k], group) == 0)
			return 1;
	return 0;
}

/* Take over what the directory kept for Q's id, from its LOGIN answer R:
 * its memberships, silently (it was a member all along), their channels
 * subscribed before the welcome (Q's steps); with --keep-client-info all,
 * its lists (the allowed senders unless the hello set them: then those are
 * kept). The nodes that owned the memberships drop what they kept (MOVED),
 * so a post reaches the client here only. */
static void adopt(struct creq *q, const struct rv_bus_reply *r)
{
	struct cluster *cl = q->cl;
	struct server *srv = cl->srv;
	struct rv_client *cli = rv_router_attach(&srv->router, q->id);	/* held while here */
	if (!cli)
		return;
	for (size_t i = cli->ngroups; i-- > 0;) {	/* kept here, but taken elsewhere since */
		char name[RV_ID_MAX + 1];
		snprintf(name, sizeof name, "%s", cli->groups[i]->name);
		if (listed(r, name))
			continue;
		rv_router_drop(&srv->router, cli, name);
		if (!rv_router_group(&srv->router, name))
			cl_unsub(cl, "g", name);
	}
	for (size_t k = 5; k + 1 < r->n; k += 2) {
		const char *g = r->v[k], *from = r->v[k + 1];
		if (!rv_id_valid(g) || rv_router_adopt(&srv->router, cli, g) < 0)
			continue;
		q->steps++;
		if (cl_sub(cl, "g", g, on_hello_sub, q) < 0)
			q->steps--;
		int told = strcmp(from, cl->inc) == 0 || !rv_cmsg_node_valid(from);
		for (size_t j = 5; j < k && !told; j += 2)
			told = strcmp(r->v[j + 1], from) == 0;
		if (!told) {
			char chan[128];
			struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_MOVED, q->id, NULL,
						      strcmp(from, r->v[0]) == 0 ? r->v[1] : "");
			cl_chan_of(chan, sizeof chan, "n", from);
			cl_publish(cl, chan, &m, NULL, NULL);
		}
	}
	if (srv->conf.router.keep == RV_KEEP_ALL)
		lists_adopt(q, cli, r->v + 2);
	rv_router_detach(&srv->router, cli);	/* gone meanwhile: kept as its mode says */
	relay_changed(&srv->relay);
}

/* The directory's answer to a login: the previous holder, told to let go;
 * what the directory kept for the id, taken over. */
static void on_login(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	if (r->err || r->n < 5) {
		hello_step(q);
		return;
	}
	if (r->v[0][0] && strcmp(r->v[0], cl->inc) != 0 && rv_cmsg_node_valid(r->v[0])) {
		char chan[128];
		struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_EVICT, q->id, NULL, r->v[1]);
		cl_chan_of(chan, sizeof chan, "n", r->v[0]);
		cl_publish(cl, chan, &m, NULL, NULL);
	}
	adopt(q, r);
	hello_step(q);
}

static const char *const keep_names[] = { [RV_KEEP_NONE] = "none", [RV_KEEP_GROUPS] = "groups",
					  [RV_KEEP_ALL] = "all" };

int cluster_hello(struct conn *c, int allow_set)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl)
		return 0;
	if (c->role != ROLE_RECV)
		return hello_sender(c, allow_set);
	char gen[128];
	c->cgen = ++cl->cgen;
	if (!cl_bus_up(cl)) {	/* kept: subscribed and asserted once the bus is back */
		cl_sub(cl, "i", c->client->id, NULL, NULL);
		return 0;
	}
	struct creq *q = cl_req_new(cl, c, 0, c->client->id, NULL);
	if (!q)
		return 0;
	q->allow_set = allow_set;
	cl_gen_of(cl, c, gen, sizeof gen);
	const char *argv[] = { cl->inc, c->client->id, gen, keep_names[cl->srv->conf.router.keep] };
	q->steps = 3;	/* the two answers, and this call */
	if (cl_sub(cl, "i", c->client->id, on_hello_sub, q) < 0)
		q->steps--;
	if (cl_dir(cl, RV_DIR_LOGIN, 4, argv, NULL, on_login, q) < 0)
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

/* Another node took over the memberships of M->a (a login there): what
 * this node kept of it goes, silently, unless it holds a newer login of
 * M->a than the one replaced (M->c). */
void cl_moved(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct rv_client *cli = rv_router_find(&srv->router, m->a);
	char gen[128];
	if (!cli)
		return;
	if (cli->recv) {
		cl_gen_of(cl, cli->recv, gen, sizeof gen);
		if (strcmp(gen, m->c) != 0)
			return;
	}
	size_t n = cli->ngroups;
	char (*names)[RV_ID_MAX + 1] = malloc((n ? n : 1) * sizeof *names);
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		snprintf(names[i], sizeof names[i], "%s", cli->groups[i]->name);
	rv_debug("cluster: %s logged in on node %s: its %zu membership(s) moved there", m->a, m->origin, n);
	rv_router_forget(&srv->router, cli);
	for (size_t i = 0; i < n; i++)
		if (!rv_router_group(&srv->router, names[i]))
			cl_unsub(cl, "g", names[i]);
	free(names);
	relay_changed(&srv->relay);
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
	const char *argv[] = { all ? "all" : "", c->client->id };	/* its own: wherever they are owned */
	return query(c, seq, NULL, RV_DIR_GROUPS, 2, argv, on_groups);
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
		keep_lists(cl, cli);	/* a Redis that lost them (mode all): the receiver's node has them */
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
