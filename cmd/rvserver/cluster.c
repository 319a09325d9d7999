/* cluster.c - rvserver nodes as one cluster (--cluster): a directory and a
 * message bus shared through lib/bus.h (Redis), messages between nodes in
 * lib/cmsg.h's authenticated format.
 *
 * Each node is authoritative for its own connections; the directory holds a
 * copy that every node asserts again when the bus comes back. Channels:
 * rv:i:ID (direct messages for ID, subscribed by the node of ID's
 * receiver), rv:g:GROUP (posts and joined/left events, subscribed while the
 * group has a member here), rv:n:INC (this node: acks, evictions), rv:c:TAG
 * (replies to one connection: this node's connection numbers carry TAG, a
 * hash of INC, above bit 32).
 *
 * A request that needs the directory (hello of a receiver, join, members,
 * groups) holds its connection's input until answered, so requests are
 * answered in order, as on one server. Messages are not held: a message to
 * an id or group elsewhere is published once; PUBLISH's answer says whether
 * any node took it (none: the id is offline), and with a seq the receiving
 * nodes ack, so the ok counts every delivery. Files, data and media do not
 * cross nodes in this version: they get an error, never silence. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cmsg.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "token.h"

#define ACK_TIMEOUT_MS 2000
/* Senders are held (flow.c) while more bus commands than this await their
 * answer, and resumed below BUS_LOW: hiredis queues without a limit, and an
 * answer later than RV_BUS_TIMEOUT_MS counts as a lost Redis. */
#define BUS_HIGH 2048
#define BUS_LOW 512

/* A cross-node message awaiting PUBLISH's answer and the nodes' acks. */
struct pmsg {
	struct pmsg *prev, *next;
	struct cluster *cl;
	struct conn *c;               /* the sender; NULL once it closed */
	uint64_t seq, nseq;           /* the client's; the node's (0: no acks wanted) */
	int acks;                     /* acks awaited once published */
	int delivered;
	int local_group;              /* this node has members (it counts in PUBLISH's answer) */
	int published;
	int early;                    /* acks that came before PUBLISH's answer */
	uint8_t err_code;             /* a refusal among them (direct), and its text */
	char err_text[RV_CMSG_TEXT_MAX + 1];
	uint8_t type;                 /* RV_CMSG_DIRECT or RV_CMSG_GROUP */
	uint64_t conn;                /* a direct one to this connection number */
	char to[RV_ID_MAX + 1];
	cJSON *receivers;             /* when the sender asked for them */
	uint64_t deadline;
};

/* A request awaiting the directory. */
struct creq {
	struct creq *prev, *next;
	struct cluster *cl;
	struct conn *c;               /* NULL once it closed */
	uint64_t seq;
	int steps;                    /* answers still awaited */
	int num;                      /* the directory's answer */
	int joined;                   /* a join the directory made */
	cJSON *members;
	char id[RV_ID_MAX + 1], group[RV_ID_MAX + 1];
	char *hdr;                    /* a frame to handle again (cluster_local_only) */
	uint8_t *body;
	size_t hdr_len, body_len;
	const char *what;
};

struct cluster {
	struct server *srv;
	struct rv_bus *bus;
	char inc[RV_CMSG_NODE_MAX + 1];
	char advertise[64];
	char secret[512];
	size_t secret_len;
	uv_timer_t timer;             /* heartbeat, sweep, ack deadlines */
	uint64_t nseq, cgen;
	uint64_t conn_base;           /* TAG << 32 */
	char tag[16];
	int throttled;                /* senders held for the bus (BUS_HIGH) */
	struct pmsg *pm_head, *pm_tail;
	struct creq *rq;
	struct rv_buf enc, frame;
};

/* ---- helpers ---- */

static void chan_of(char *out, size_t n, const char *kind, const char *name)
{
	snprintf(out, n, "rv:%s:%s", kind, name);
}

static void gen_of(const struct cluster *cl, const struct conn *c, char *out, size_t n)
{
	snprintf(out, n, "%s/%" PRIu64, cl->inc, c->cgen);
}

/* Encode a message into cl->enc: NULL when it cannot be. */
static const struct rv_buf *encode(struct cluster *cl, const struct rv_cmsg *m)
{
	rv_buf_reset(&cl->enc);
	int rc = rv_cmsg_encode(&cl->enc, m, cl->secret, cl->secret_len);
	if (rc < 0) {
		rv_warn("cluster: cannot encode a message: %s", rv_strerror(rc));
		return NULL;
	}
	return &cl->enc;
}

static struct rv_cmsg msg_new(struct cluster *cl, uint8_t type, const char *a, const char *b, const char *c)
{
	struct rv_cmsg m = { .type = type };
	snprintf(m.origin, sizeof m.origin, "%s", cl->inc);
	snprintf(m.a, sizeof m.a, "%s", a ? a : "");
	snprintf(m.b, sizeof m.b, "%s", b ? b : "");
	snprintf(m.c, sizeof m.c, "%s", c ? c : "");
	return m;
}

/* Publish M on CHAN, FN told the answer (may be NULL). */
static int publish(struct cluster *cl, const char *chan, const struct rv_cmsg *m, rv_bus_done_fn fn, void *ud)
{
	const struct rv_buf *b = cl->bus ? encode(cl, m) : NULL;
	if (!b)
		return RV_ECLOSED;
	int rc = cl->bus->ops->publish(cl->bus, chan, rv_buf_head(b), rv_buf_size(b), fn, ud);
	if (rc < 0)
		cl->srv->n.cl_failed++;
	else
		cl->srv->n.cl_sent++;
	return rc;
}

static int dir(struct cluster *cl, enum rv_dir_op op, int argc, const char *const *argv, const size_t *argl,
	       rv_bus_done_fn fn, void *ud)
{
	return cl->bus ? cl->bus->ops->dir(cl->bus, op, argc, argv, argl, fn, ud) : RV_ECLOSED;
}

/* (Un)subscribe KIND:NAME; the bus keeps the set across reconnections. */
static int sub(struct cluster *cl, const char *kind, const char *name, rv_bus_done_fn fn, void *ud)
{
	char chan[128];
	chan_of(chan, sizeof chan, kind, name);
	return cl->bus ? cl->bus->ops->subscribe(cl->bus, chan, fn, ud) : RV_ECLOSED;
}

static void unsub(struct cluster *cl, const char *kind, const char *name)
{
	char chan[128];
	chan_of(chan, sizeof chan, kind, name);
	if (cl->bus)
		cl->bus->ops->unsubscribe(cl->bus, chan);
}

static int bus_up(const struct cluster *cl)
{
	return cl->bus && cl->bus->state == RV_BUS_UP;
}

/* ---- holding a connection's input while the directory answers ---- */

static void hold(struct conn *c)
{
	c->held = 1;
	rv_stream_pause(&c->s, 1);
}

static void release(struct conn *c)
{
	if (!c || !c->held)
		return;
	c->held = 0;
	if (c->closing)
		return;
	if (!c->paused)
		rv_stream_pause(&c->s, 0);
	if (c->state == CONN_RV && rv_buf_size(&c->in)) {
		proto_input(c, NULL, 0);
		flow_after_input(c);
	}
}

static struct creq *req_new(struct cluster *cl, struct conn *c, uint64_t seq, const char *id, const char *group)
{
	struct creq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->cl = cl;
	q->c = c;
	q->seq = seq;
	snprintf(q->id, sizeof q->id, "%s", id ? id : "");
	snprintf(q->group, sizeof q->group, "%s", group ? group : "");
	q->next = cl->rq;
	if (cl->rq)
		cl->rq->prev = q;
	cl->rq = q;
	return q;
}

static void req_free(struct creq *q)
{
	struct cluster *cl = q->cl;
	if (q->prev) q->prev->next = q->next; else cl->rq = q->next;
	if (q->next) q->next->prev = q->prev;
	cJSON_Delete(q->members);
	free(q->hdr);
	free(q->body);
	free(q);
}

/* ---- login: one receiver per id, cluster-wide ---- */

static void hello_step(struct creq *q)
{
	if (--q->steps > 0)
		return;
	if (q->c && !q->c->closing)
		proto_welcome(q->c);
	release(q->c);
	req_free(q);
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
		struct rv_cmsg m = msg_new(cl, RV_CMSG_EVICT, q->id, NULL, r->v[1]);
		chan_of(chan, sizeof chan, "n", r->v[0]);
		publish(cl, chan, &m, NULL, NULL);
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
	if (!bus_up(cl)) {	/* kept: subscribed and asserted once the bus is back */
		sub(cl, "i", c->client->id, NULL, NULL);
		return 0;
	}
	struct creq *q = req_new(cl, c, 0, c->client->id, NULL);
	if (!q)
		return 0;
	gen_of(cl, c, gen, sizeof gen);
	const char *argv[] = { cl->inc, c->client->id, gen };
	q->steps = 3;	/* the two answers, and this call */
	if (sub(cl, "i", c->client->id, on_hello_sub, q) < 0)
		q->steps--;
	if (dir(cl, RV_DIR_LOGIN, 3, argv, NULL, on_login, q) < 0)
		q->steps--;
	if (q->steps == 1) {	/* nothing pending: welcome now */
		req_free(q);
		return 0;
	}
	q->steps--;
	hold(c);
	return 1;
}

void cluster_recv_gone(struct conn *c)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !c->client || !c->cgen)
		return;
	char gen[128];
	unsub(cl, "i", c->client->id);
	gen_of(cl, c, gen, sizeof gen);
	const char *argv[] = { cl->inc, c->client->id, gen };
	dir(cl, RV_DIR_LOGOUT, 3, argv, NULL, NULL, NULL);
}

/* Another node took ID: our receiver of that generation goes (exit 5). */
static void evict(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct rv_client *cli = rv_router_find(&srv->router, m->a);
	struct conn *r = cli ? cli->recv : NULL;
	char gen[128];
	if (!r)
		return;
	gen_of(cl, r, gen, sizeof gen);
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
			dir(cl, RV_DIR_LEAVE, 4, argv, NULL, NULL, NULL);
		}
	} else if (q->num == -1 || q->num == -2) {
		conn_error_code(c, q->seq, RV_CODE_LIMIT, q->num == -2 ? "the group is full (--max-group-members)"
								: "too many groups on this server (--max-groups)");
	} else if (q->num < 0) {
		conn_error_code(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
	} else if (rv_router_join(&srv->router, c->client, q->group) < 0) {
		conn_error_code(c, q->seq, RV_CODE_INTERNAL, NULL);
	} else {
		cJSON *ok = proto_ok(q->seq);
		cJSON_AddStringToObject(ok, "group", q->group);
		cJSON_AddItemToObject(ok, "members", q->members ? q->members : cJSON_CreateArray());
		q->members = NULL;
		conn_send_json(c, ok);
		relay_changed(&srv->relay);
	}
	if (!rv_router_group(&srv->router, q->group))
		unsub(cl, "g", q->group);
	release(c);
	req_free(q);
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
static const struct rv_buf *event_msg(struct cluster *cl, uint8_t type, const char *group, const char *id,
				      const char *reason)
{
	struct rv_cmsg m = msg_new(cl, type, group, id, reason);
	return encode(cl, &m);
}

int cluster_join(struct conn *c, uint64_t seq, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	struct server *srv = c->srv;
	if (!cl || !bus_up(cl))
		return 0;
	struct creq *q = req_new(cl, c, seq, c->client->id, group);
	const struct rv_buf *ev = q ? event_msg(cl, RV_CMSG_JOINED, group, c->client->id, NULL) : NULL;
	if (!ev) {
		if (q)
			req_free(q);
		return 0;
	}
	char maxg[24], maxm[24];
	snprintf(maxg, sizeof maxg, "%zu", srv->conf.router.max_groups);
	snprintf(maxm, sizeof maxm, "%zu", srv->conf.router.max_group_members);
	const char *argv[] = { cl->inc, group, c->client->id, maxg, maxm, (const char *)rv_buf_head(ev) };
	const size_t argl[] = { strlen(cl->inc), strlen(group), strlen(c->client->id), strlen(maxg), strlen(maxm),
				rv_buf_size(ev) };
	q->steps = 3;
	if (sub(cl, "g", group, on_join_sub, q) < 0)
		q->steps--;
	if (dir(cl, RV_DIR_JOIN, 6, argv, argl, on_join, q) < 0) {
		q->steps--;
		q->num = -3;
	}
	hold(c);
	join_step(q);
	return 1;
}

void cluster_unlinked(void *ud, const struct rv_client *c, const struct rv_group *g)
{
	struct server *srv = ud;
	struct cluster *cl = srv->cluster;
	if (!cl)
		return;
	const struct rv_buf *ev = event_msg(cl, RV_CMSG_LEFT, g->name, c->id, NULL);
	if (ev) {
		const char *argv[] = { cl->inc, g->name, c->id, (const char *)rv_buf_head(ev) };
		const size_t argl[] = { strlen(cl->inc), strlen(g->name), strlen(c->id), rv_buf_size(ev) };
		dir(cl, RV_DIR_LEAVE, 4, argv, argl, NULL, NULL);
	}
	if (g->n == 0)
		unsub(cl, "g", g->name);
}

/* members and groups: the directory's lists, answered in order */
static void on_members(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing) {
		if (r->err) {
			conn_error_code(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
		} else if (r->num == -1 || r->n == 0) {
			conn_error_code(c, q->seq, RV_CODE_NO_SUCH_GROUP, NULL);
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
	release(c);
	req_free(q);
}

static void on_groups(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing) {
		if (r->err) {
			conn_error_code(c, q->seq, RV_CODE_INTERNAL, "the cluster directory did not answer");
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
	release(c);
	req_free(q);
}

/* A directory query for C: held until FN answers. 1, or 0 when it cannot be asked. */
static int query(struct conn *c, uint64_t seq, const char *group, enum rv_dir_op op, int argc,
		 const char *const *argv, rv_bus_done_fn fn)
{
	struct cluster *cl = c->srv->cluster;
	struct creq *q = req_new(cl, c, seq, c->client->id, group);
	if (!q)
		return 0;
	if (dir(cl, op, argc, argv, NULL, fn, q) < 0) {
		req_free(q);
		return 0;
	}
	hold(c);
	return 1;
}

int cluster_members(struct conn *c, uint64_t seq, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !bus_up(cl) || !group)
		return 0;
	const char *argv[] = { group };
	return query(c, seq, group, RV_DIR_MEMBERS, 1, argv, on_members);
}

int cluster_groups(struct conn *c, uint64_t seq, int all)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !bus_up(cl))
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

/* ---- what does not cross nodes yet: media, files ---- */

static void on_where(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing && !r->err && r->num == 1) {
		char why[200];
		snprintf(why, sizeof why, "%s%s is on another cluster node: %s does not cross nodes yet",
			 q->group[0] ? "a member of " : "", q->group[0] ? q->group : q->id, q->what);
		conn_error_code(c, q->seq, q->group[0] ? RV_CODE_NO_RECEIVERS : RV_CODE_NO_SUCH_CLIENT, why);
	} else if (c && !c->closing) {	/* local (or unknown): as on one server */
		struct rv_frame_view v = { q->hdr, q->hdr_len, q->body, q->body_len };
		c->checked = 1;
		proto_frame_view(c, &v);
		c->checked = 0;
	}
	release(c);
	req_free(q);
}

int cluster_local_only(struct conn *c, const struct rv_frame_view *v, uint64_t seq, const char *to,
		       const char *group, const char *what)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || c->checked || !bus_up(cl) || (!to && !group))
		return 0;
	if (to) {
		struct rv_client *t = rv_router_find(&c->srv->router, to);
		if (t && t->recv)
			return 0;
	}
	struct creq *q = req_new(cl, c, seq, to, to ? NULL : group);
	if (!q)
		return 0;
	q->what = what;
	q->hdr = malloc(v->hdr_len + 1);
	q->body = malloc(v->body_len + 1);
	const char *argv[] = { cl->inc, to ? "id" : "group", to ? to : group };
	if (!q->hdr || !q->body || dir(cl, RV_DIR_WHERE, 3, argv, NULL, on_where, q) < 0) {
		req_free(q);
		return 0;
	}
	memcpy(q->hdr, v->hdr, v->hdr_len);
	memcpy(q->body, v->body, v->body_len);
	q->hdr_len = v->hdr_len;
	q->body_len = v->body_len;
	hold(c);
	return 1;
}

/* ---- messages across nodes ---- */

static void pmsg_free(struct pmsg *p)
{
	struct cluster *cl = p->cl;
	if (p->prev) p->prev->next = p->next; else cl->pm_head = p->next;
	if (p->next) p->next->prev = p->prev; else cl->pm_tail = p->prev;
	cJSON_Delete(p->receivers);
	free(p);
}

/* The sender's answer: ok with every delivery counted. */
static void pmsg_ok(struct pmsg *p)
{
	struct conn *c = p->c;
	if (c && !c->closing && p->seq) {
		cJSON *ok = proto_ok(p->seq);
		cJSON_AddNumberToObject(ok, "delivered", p->delivered);
		if (p->receivers) {
			cJSON_AddItemToObject(ok, "receivers", p->receivers);
			p->receivers = NULL;
		}
		conn_send_json(c, ok);
	}
	pmsg_free(p);
}

static void pmsg_error(struct pmsg *p, enum rv_code code, const char *text)
{
	if (p->c && !p->c->closing)
		conn_error_code(p->c, p->seq, code, text);
	pmsg_free(p);
}

static void on_published(void *ud, const struct rv_bus_reply *r)
{
	struct pmsg *p = ud;
	struct cluster *cl = p->cl;
	struct server *srv = cl->srv;
	p->published = 1;
	if (cl->throttled && (!cl->bus || cl->bus->pending < BUS_LOW)) {
		cl->throttled = 0;
		srv->flow_drained = 1;	/* the held senders go on (flow.c) */
	}
	if (r->err) {
		srv->n.cl_failed++;
		pmsg_error(p, RV_CODE_INTERNAL, p->type == RV_CMSG_GROUP && p->local_group
			   ? "delivered on this node only: the cluster bus is unavailable"
			   : "not sent: the cluster bus is unavailable");
		return;
	}
	long long remote = r->num - (p->local_group ? 1 : 0);
	if (p->type == RV_CMSG_DIRECT && r->num <= 0) {
		srv->n.cl_offline++;
		pmsg_error(p, RV_CODE_NO_SUCH_CLIENT, p->conn ? "that connection is gone" : rv_route_miss_text(RV_MISS_NO_CLIENT));
		return;
	}
	if (p->type == RV_CMSG_GROUP && remote <= 0 && !p->local_group) {
		pmsg_error(p, RV_CODE_NO_SUCH_GROUP, NULL);
		return;
	}
	if (p->type == RV_CMSG_DIRECT)
		remote = 1;	/* one owner, even while a login moves */
	if (p->err_code) {	/* its ack came first (another connection) */
		pmsg_error(p, (enum rv_code)p->err_code, p->err_text[0] ? p->err_text : NULL);
		return;
	}
	p->acks = p->nseq ? (int)(remote > 0 ? remote : 0) - p->early : 0;
	if (p->acks <= 0)
		pmsg_ok(p);
}

static void on_ack(struct cluster *cl, const struct rv_cmsg *m)
{
	struct pmsg *p = cl->pm_head;
	while (p && p->nseq != m->seq)
		p = p->next;
	if (!p)
		return;
	if (p->type == RV_CMSG_DIRECT && m->code) {
		if (p->published) {
			pmsg_error(p, (enum rv_code)m->code, m->c[0] ? m->c : NULL);
		} else {
			p->err_code = m->code;
			snprintf(p->err_text, sizeof p->err_text, "%s", m->c);
		}
		return;
	}
	p->delivered += (int)m->count;
	if (p->receivers && m->payload_len) {
		cJSON *ids = cJSON_ParseWithLength((const char *)m->payload, m->payload_len), *it;
		cJSON_ArrayForEach(it, ids)
			if (cJSON_IsString(it) && rv_id_valid(it->valuestring))
				cJSON_AddItemToArray(p->receivers, cJSON_CreateString(it->valuestring));
		cJSON_Delete(ids);
	}
	if (!p->published)	/* acks and PUBLISH's answer come on two connections */
		p->early++;
	else if (--p->acks <= 0)
		pmsg_ok(p);
}

int cluster_route(struct conn *c, uint64_t seq, const char *to, uint64_t conn, const char *group, const char *kind,
		  const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers)
{
	struct cluster *cl = c->srv->cluster;
	if (kind && strncmp(kind, "xfer-", 5) == 0 && to && !conn) {
		cJSON_Delete(receivers);
		conn_error_code(c, seq, RV_CODE_NO_SUCH_CLIENT,
				"no such client on this node: files and data do not cross cluster nodes yet");
		return 1;
	}
	if (hlen + blen > RV_CMSG_PAYLOAD_MAX) {
		cJSON_Delete(receivers);
		conn_error_code(c, seq, RV_CODE_TOO_LARGE, "messages across cluster nodes are at most 64 KiB");
		return 1;
	}
	struct pmsg *p = calloc(1, sizeof *p);
	if (!p) {
		cJSON_Delete(receivers);
		conn_error_code(c, seq, RV_CODE_INTERNAL, NULL);
		return 1;
	}
	p->cl = cl;
	p->c = c;
	p->seq = seq;
	p->nseq = seq ? ++cl->nseq : 0;
	p->type = to ? RV_CMSG_DIRECT : RV_CMSG_GROUP;
	p->conn = conn;
	p->delivered = local_n;
	p->local_group = group && rv_router_group(&c->srv->router, group) != NULL;
	p->receivers = receivers;
	p->deadline = now_ms(c->srv) + ACK_TIMEOUT_MS;
	snprintf(p->to, sizeof p->to, "%s", to ? to : group);
	p->prev = cl->pm_tail;
	if (cl->pm_tail) cl->pm_tail->next = p; else cl->pm_head = p;
	cl->pm_tail = p;

	rv_buf_reset(&cl->frame);
	struct rv_cmsg m = msg_new(cl, p->type, p->to, c->client->id, NULL);
	m.seq = p->nseq;
	m.conn = conn;
	m.code = receivers ? 1 : 0;
	if (rv_buf_append(&cl->frame, head, hlen) < 0 || (blen && rv_buf_append(&cl->frame, body, blen) < 0)) {
		pmsg_error(p, RV_CODE_INTERNAL, NULL);
		return 1;
	}
	m.payload = rv_buf_head(&cl->frame);
	m.payload_len = rv_buf_size(&cl->frame);
	char chan[128], tag[16];
	snprintf(tag, sizeof tag, "%" PRIu64, CLUSTER_CONN_TAG(conn));
	chan_of(chan, sizeof chan, conn ? "c" : to ? "i" : "g", conn ? tag : p->to);
	if (publish(cl, chan, &m, on_published, p) < 0)
		pmsg_error(p, RV_CODE_INTERNAL, p->local_group ? "delivered on this node only: the cluster bus is unavailable"
							       : "not sent: the cluster bus is unavailable");
	else if (cl->bus->pending > BUS_HIGH) {	/* hold this sender until the bus drains */
		cl->throttled = 1;
		c->srv->feeding_congested = 1;
	}
	return 1;
}

/* The origin wants to know: an ack on its node channel. */
static void ack(struct cluster *cl, const struct rv_cmsg *in, enum rv_code code, const char *text, int count,
		cJSON *receivers)
{
	char chan[128], *ids = receivers ? cJSON_PrintUnformatted(receivers) : NULL;
	struct rv_cmsg m = msg_new(cl, RV_CMSG_ACK, NULL, NULL, text);
	m.seq = in->seq;
	m.code = (uint8_t)code;
	m.count = (uint32_t)count;
	if (ids && strlen(ids) <= RV_CMSG_PAYLOAD_MAX) {
		m.payload = (const uint8_t *)ids;
		m.payload_len = strlen(ids);
	}
	chan_of(chan, sizeof chan, "n", in->origin);
	publish(cl, chan, &m, NULL, NULL);
	free(ids);
	cJSON_Delete(receivers);
}

static int send_frame(struct server *srv, struct conn *to, const struct rv_cmsg *m)
{
	if (conn_send(to, m->payload, m->payload_len) < 0)
		return 0;
	flow_queued(to);
	srv->n.deliveries++;
	return 1;
}

/* The client and connection a direct message names: the receiver of id A,
 * or the connection numbered CONN when it is A's. */
static struct conn *target(struct server *srv, const struct rv_cmsg *m)
{
	if (!m->conn) {
		struct rv_client *to = rv_router_find(&srv->router, m->a);
		return to ? to->recv : NULL;
	}
	char key[24];
	snprintf(key, sizeof key, "%" PRIu64, m->conn);
	struct conn *t = rv_map_get(&srv->by_num, key);
	return t && !t->closing && t->client && strcmp(t->client->id, m->a) == 0 ? t : NULL;
}

static void direct_in(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct conn *t = target(srv, m);
	enum rv_route_miss miss = RV_MISS_NONE;
	if (!t)
		miss = RV_MISS_OFFLINE;
	else if (!rv_router_allows(t->client, m->b))
		miss = RV_MISS_REFUSED;
	else if (!send_frame(srv, t, m))
		miss = RV_MISS_OFFLINE;
	const char *why = m->conn && miss == RV_MISS_OFFLINE ? "that connection is gone" : rv_route_miss_text(miss);
	if (m->seq)
		ack(cl, m, miss ? rv_route_miss_code(miss) : 0, miss ? why : NULL, miss ? 0 : 1, NULL);
}

static void group_in(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct rv_group *g = rv_router_group(&srv->router, m->a);
	cJSON *ids = m->seq && m->code ? cJSON_CreateArray() : NULL;
	int n = 0;
	for (size_t i = 0; g && i < g->n; i++) {
		struct rv_client *to = g->members[i];
		if (strcmp(to->id, m->b) == 0 || !to->recv || !rv_router_allows(to, m->b) ||
		    !send_frame(srv, to->recv, m))
			continue;
		n++;
		if (ids)
			cJSON_AddItemToArray(ids, cJSON_CreateString(to->id));
	}
	if (m->seq)
		ack(cl, m, 0, NULL, n, ids);
	else
		cJSON_Delete(ids);
}

/* A member of a group joined or left on another node: our members hear it. */
static void event_in(struct cluster *cl, const struct rv_cmsg *m)
{
	struct rv_group *g = rv_router_group(&cl->srv->router, m->a);
	for (size_t i = 0; g && i < g->n; i++)
		if (g->members[i]->recv && strcmp(g->members[i]->id, m->b) != 0)
			proto_event_id(g->members[i]->recv, m->type == RV_CMSG_JOINED, m->a, m->b, m->c[0] ? m->c : NULL);
}

static void on_bus_msg(void *ud, const char *channel, const uint8_t *data, size_t len)
{
	struct cluster *cl = ud;
	struct server *srv = cl->srv;
	struct rv_cmsg m;
	int rc = rv_cmsg_decode(data, len, cl->secret, cl->secret_len, &m);
	if (rc < 0) {
		srv->n.cl_bad++;
		rv_info("cluster: a message on %s refused: %s", channel,
			rc == RV_EDENIED ? "bad HMAC (another cluster secret?)" : rv_strerror(rc));
		return;
	}
	srv->n.cl_received++;
	int mine = strcmp(m.origin, cl->inc) == 0;
	switch (m.type) {
	case RV_CMSG_DIRECT: direct_in(cl, &m); break;
	case RV_CMSG_GROUP: if (!mine) group_in(cl, &m); break;
	case RV_CMSG_JOINED:
	case RV_CMSG_LEFT: if (!mine) event_in(cl, &m); break;
	case RV_CMSG_EVICT: evict(cl, &m); break;
	case RV_CMSG_ACK: on_ack(cl, &m); break;
	default: break;
	}
}

/* ---- liveness: heartbeat, sweep, re-assertion ---- */

static void on_reassert(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	if (!r->err && r->n >= 2 && strcmp(r->v[0], cl->inc) != 0) {	/* taken meanwhile: ours goes */
		struct rv_cmsg m = msg_new(cl, RV_CMSG_EVICT, q->id, NULL, r->v[1]);
		struct rv_client *cli = rv_router_find(&cl->srv->router, q->id);
		if (cli && cli->recv) {
			char gen[128];
			gen_of(cl, cli->recv, gen, sizeof gen);
			snprintf(m.c, sizeof m.c, "%s", gen);
			evict(cl, &m);
		}
	}
	req_free(q);
}

/* After the bus came back (or the directory lost us): our receivers, our
 * memberships, again; members the directory lacked are announced. */
static void reassert(struct cluster *cl)
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
		struct creq *q = req_new(cl, NULL, 0, cli->id, NULL);
		gen_of(cl, r, gen, sizeof gen);
		const char *argv[] = { cl->inc, cli->id, gen };
		if (q && dir(cl, RV_DIR_REASSERT, 3, argv, NULL, on_reassert, q) < 0)
			req_free(q);
	}
	i = 0;
	while ((g = rv_map_next(&srv->router.groups, &i, NULL))) {
		for (size_t k = 0; k < g->n; k++) {
			const struct rv_buf *ev = event_msg(cl, RV_CMSG_JOINED, g->name, g->members[k]->id, NULL);
			if (!ev)
				continue;
			const char *argv[] = { cl->inc, g->name, g->members[k]->id, "0", "0", (const char *)rv_buf_head(ev) };
			const size_t argl[] = { strlen(cl->inc), strlen(g->name), strlen(g->members[k]->id), 1, 1,
						rv_buf_size(ev) };
			dir(cl, RV_DIR_JOIN, 6, argv, argl, NULL, NULL);
		}
	}
}

static void on_register(void *ud, const struct rv_bus_reply *r)
{
	struct cluster *cl = ud;
	if (!r->err && r->num == 1 && cl->srv->router.clients.count) {
		rv_info("cluster: the directory did not know this node: asserting its clients again");
		reassert(cl);
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
		struct rv_cmsg m = msg_new(cl, RV_CMSG_LEFT, group, id, "node-lost");
		char chan[128];
		event_in(cl, &m);	/* our own members: we skip what we publish */
		chan_of(chan, sizeof chan, "g", group);
		publish(cl, chan, &m, NULL, NULL);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct cluster *cl = t->data;
	uint64_t now = now_ms(cl->srv);
	while (cl->pm_head && now >= cl->pm_head->deadline) {	/* acks that never came */
		struct pmsg *p = cl->pm_head;
		if (!p->published || p->type == RV_CMSG_DIRECT)
			pmsg_error(p, RV_CODE_TIMEOUT, "no answer from the receiving node");
		else
			pmsg_ok(p);
	}
	if (!bus_up(cl))
		return;
	const char *reg[] = { cl->inc, cl->advertise };
	dir(cl, RV_DIR_REGISTER, 2, reg, NULL, on_register, cl);
	const char *sw[] = { cl->inc, cl->srv->conf.router.keep == RV_KEEP_NONE ? "1" : "0" };
	dir(cl, RV_DIR_SWEEP, 2, sw, NULL, on_sweep, cl);
}

static void on_state(void *ud, enum rv_bus_state st)
{
	struct cluster *cl = ud;
	if (st != RV_BUS_UP)
		return;
	const char *reg[] = { cl->inc, cl->advertise };
	dir(cl, RV_DIR_REGISTER, 2, reg, NULL, NULL, NULL);
	reassert(cl);
}

/* ---- life ---- */

int cluster_start(struct server *srv)
{
	const struct server_conf *conf = &srv->conf;
	struct rv_bus_addr addr;
	const char *why;
	int rc;
	if (!conf->cluster_url)
		return 0;
	if (rv_bus_url_parse(conf->cluster_url, &addr, &why) < 0) {
		rv_error("--cluster %s: %s", conf->cluster_url, why);
		return -EINVAL;
	}
	struct cluster *cl = calloc(1, sizeof *cl);
	if (!cl)
		return -ENOMEM;
	srv->cluster = cl;
	cl->srv = srv;
	rc = rv_secret_read(conf->cluster_secret_file, cl->secret, sizeof cl->secret, &cl->secret_len);
	if (rc < 0) {
		rv_error("cannot read --cluster-secret-file %s: %s", conf->cluster_secret_file,
			 rc == -EINVAL ? "empty" : rv_strerror(rc));
		return rc;
	}
	snprintf(cl->inc, sizeof cl->inc, "%s.%" PRId64, conf->node_id, wall_ms());
	snprintf(cl->advertise, sizeof cl->advertise, "%s", conf->advertise ? conf->advertise : "");
	rv_buf_init(&cl->enc, RV_CMSG_MAX);
	rv_buf_init(&cl->frame, RV_CMSG_PAYLOAD_MAX);
	/* limits hold cluster-wide, in the directory */
	srv->router.conf.max_groups = 0;
	srv->router.conf.max_group_members = 0;
	srv->router.on_unlink = cluster_unlinked;
	if ((rc = rv_bus_redis_new(&cl->bus, srv->loop, &addr, on_bus_msg, on_state, cl)) < 0)
		return rc;
	sub(cl, "n", cl->inc, NULL, NULL);
	uint32_t h = 2166136261u;	/* FNV-1a of the incarnation: the tag of our connection numbers */
	for (const char *p = cl->inc; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	cl->conn_base = (uint64_t)(h % 0xFFFFFu + 1) << 32;
	snprintf(cl->tag, sizeof cl->tag, "%" PRIu64, CLUSTER_CONN_TAG(cl->conn_base));
	sub(cl, "c", cl->tag, NULL, NULL);
	uv_timer_init(srv->loop, &cl->timer);
	cl->timer.data = cl;
	uv_timer_start(&cl->timer, on_tick, 1000, 1000);
	rv_info("cluster: node %s on %s", cl->inc, conf->cluster_url);
	return 0;
}

void cluster_conn_closed(struct conn *c)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl)
		return;
	for (struct pmsg *p = cl->pm_head; p; p = p->next)
		if (p->c == c)
			p->c = NULL;
	for (struct creq *q = cl->rq; q; q = q->next)
		if (q->c == c)
			q->c = NULL;
}

void cluster_stop(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	if (!cl || !cl->bus)
		return;
	struct rv_bus *b = cl->bus;
	uv_close((uv_handle_t *)&cl->timer, NULL);
	cl->bus = NULL;	/* from here on every call fails at once */
	b->ops->close(b);	/* pending answers still come */
}

void cluster_free(struct server *srv)
{
	struct cluster *cl = srv->cluster;
	if (!cl)
		return;
	while (cl->pm_head)
		pmsg_free(cl->pm_head);
	while (cl->rq)
		req_free(cl->rq);
	rv_buf_free(&cl->enc);
	rv_buf_free(&cl->frame);
	free(cl);
	srv->cluster = NULL;
}

uint64_t cluster_conn_base(const struct server *srv)
{
	return srv->cluster ? srv->cluster->conn_base : 0;
}

int cluster_bus_up(const struct server *srv)
{
	return srv->cluster && bus_up(srv->cluster);
}

uint64_t cluster_reconnects(const struct server *srv)
{
	return srv->cluster && srv->cluster->bus ? srv->cluster->bus->reconnects : 0;
}
