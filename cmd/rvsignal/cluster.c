/* cluster.c - rvsignal nodes as one cluster (--cluster): rooms, peers,
 * --max-peers and resume across nodes, through lib/bus.h (Redis) and
 * lib/cmsg.h's authenticated messages, as rvserver's cluster does.
 *
 * Each node is authoritative for its own peers; the directory (keys sig:*,
 * see lib/bus_redis.c) holds a copy that every node asserts again when the
 * bus comes back. Channels: sig:p:PID (messages for a peer, subscribed by
 * its node), sig:r:ROOM (room messages and joined/left events, subscribed
 * while the room has a peer here), sig:n:INC (unused yet: kept for node
 * control). A join runs one script that checks --max-peers, adds the peer
 * and publishes "joined" atomically. A detached peer's messages are also
 * kept in Redis (sig:q:PID, the 256 newest, for the resume window), so a
 * resume on another node gets them (cluster_resume.c). The state and the
 * helpers both files use are in cluster_int.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "cmsg.h"
#include "dlist.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "router.h"
#include "cluster_int.h"
#include "signal.h"

uint64_t cl_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- helpers ---- */

int cl_up(const struct sigcl *cl)
{
	return cl->bus && cl->bus->state == RV_BUS_UP;
}

int sigcl_bus_up(const struct sig *g)
{
	return g->cl && cl_up(g->cl);
}

static void chan_of(char *out, size_t n, const char *kind, const char *name)
{
	snprintf(out, n, "sig:%s:%s", kind, name);
}

/* M (TYPE, A, B, PAYLOAD of N bytes) encoded into cl->enc: NULL when it cannot be. */
const struct rv_buf *cl_encode(struct sigcl *cl, uint8_t type, const char *a, const char *b, const char *p1,
				   size_t n1, const char *p2, size_t n2)
{
	struct rv_cmsg m = { .type = type, .nseq = ++cl->msgno, .ts = cl_wall_ms() };
	snprintf(m.origin, sizeof m.origin, "%s", cl->node.inc);
	snprintf(m.a, sizeof m.a, "%s", a ? a : "");
	snprintf(m.b, sizeof m.b, "%s", b ? b : "");
	if (n1 + n2 > RV_CMSG_PAYLOAD_MAX)
		return NULL;
	struct rv_buf pay;	/* the payload, in one piece */
	rv_buf_init(&pay, RV_CMSG_PAYLOAD_MAX);
	if ((n1 && rv_buf_append(&pay, p1, n1) < 0) || (n2 && rv_buf_append(&pay, p2, n2) < 0)) {
		rv_buf_free(&pay);
		return NULL;
	}
	m.payload = rv_buf_head(&pay);
	m.payload_len = rv_buf_size(&pay);
	rv_buf_reset(&cl->enc);
	int rc = rv_cmsg_encode(&cl->enc, &m, &cl->key);
	rv_buf_free(&pay);
	if (rc < 0) {
		rv_warn("cluster: cannot encode a message: %s", rv_strerror(rc));
		return NULL;
	}
	return &cl->enc;
}

/* Publish the message in cl->enc on KIND:NAME; counted as sent or failed. */
int cl_publish(struct sigcl *cl, const char *kind, const char *name, const struct rv_buf *b, rv_bus_done_fn fn,
		   void *ud)
{
	char chan[128];
	chan_of(chan, sizeof chan, kind, name);
	int rc = b && cl->bus ? cl->bus->ops->publish(cl->bus, chan, rv_buf_head(b), rv_buf_size(b), fn, ud)
			      : RV_ECLOSED;
	if (rc < 0)
		cl->g->n.cl_failed++;
	else
		cl->g->n.cl_sent++;
	return rc;
}

int cl_dir(struct sigcl *cl, enum rv_dir_op op, int argc, const char *const *argv, const size_t *argl,
	       rv_bus_done_fn fn, void *ud)
{
	return cl->bus ? cl->bus->ops->dir(cl->bus, op, argc, argv, argl, fn, ud) : RV_ECLOSED;
}

int cl_sub(struct sigcl *cl, const char *kind, const char *name, rv_bus_done_fn fn, void *ud)
{
	char chan[128];
	chan_of(chan, sizeof chan, kind, name);
	return cl->bus ? cl->bus->ops->subscribe(cl->bus, chan, fn, ud) : RV_ECLOSED;
}

void cl_unsub(struct sigcl *cl, const char *kind, const char *name)
{
	char chan[128];
	chan_of(chan, sizeof chan, kind, name);
	if (cl->bus)
		cl->bus->ops->unsubscribe(cl->bus, chan);
}

static struct creq *req_new(struct sigcl *cl, struct conn *c)
{
	struct creq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->cl = cl;
	q->c = c;
	RV_LIST_PUSH(cl->rq, q);
	return q;
}

static void req_free(struct creq *q)
{
	struct sigcl *cl = q->cl;
	RV_LIST_UNLINK(cl->rq, q);
	cJSON_Delete(q->members);
	free(q->name);
	free(q);
}

/* The joined/left event of peer ID in ROOM, as a room message: "{}\n" and the event. */
static const struct rv_buf *event_msg(struct sigcl *cl, const char *room, const char *id, const char *ev)
{
	return cl_encode(cl, RV_CMSG_SIG_ROOM, room, id, "{}\n", 3, ev, strlen(ev));
}

/* ---- peers ---- */

static const char *shown(const struct peer *p)
{
	return p->name ? p->name : p->id;
}

/* Another live node holds the peer now (this node was hung, or cut off,
 * and it resumed there): it goes from here. */
static void on_assert(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct sigcl *cl = q->cl;
	struct peer *p = rv_map_get(&cl->g->peers, q->id);
	if (!r->err && r->num == -1 && p) {
		rv_info("cluster: %s is held by another node now: it goes from here", q->id);
		cl->g->n.cl_handovers++;
		peer_release(cl->g, p);
		cl_unsub(cl, "p", q->id);
	}
	req_free(q);
}

static void assert_peer(struct sigcl *cl, const struct peer *p)
{
	const char *argv[] = { cl->node.inc, p->id, p->resume, shown(p) };
	struct creq *q = req_new(cl, NULL);
	if (!q)
		return;
	snprintf(q->id, sizeof q->id, "%s", p->id);
	if (cl_dir(cl, RV_DIR_SIG_PEER, 4, argv, NULL, on_assert, q) < 0)
		req_free(q);
}

void sigcl_peer_new(struct sig *g, const struct peer *p)
{
	struct sigcl *cl = g->cl;
	cl_sub(cl, "p", p->id, NULL, NULL);	/* kept by the bus when it is down: asserted once up */
	if (cl_up(cl))
		assert_peer(cl, p);
}

void sigcl_gone(struct sig *g, const struct peer *p)
{
	struct sigcl *cl = g->cl;
	const char *argv[] = { cl->node.inc, p->id };
	cl_unsub(cl, "p", p->id);
	cl_dir(cl, RV_DIR_SIG_GONE, 2, argv, NULL, NULL, NULL);
}

/* What the directory would not keep for P (another node holds it now):
 * to that node, as a message for P. */
static void on_park(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct sigcl *cl = q->cl;
	if (!r->err && r->num == 0 && q->name)
		cl_publish(cl, "p", q->id, cl_encode(cl, RV_CMSG_SIG_PEER, q->id, NULL, q->name, strlen(q->name), NULL, 0),
			NULL, NULL);
	req_free(q);
}

void sigcl_park(struct sig *g, const struct peer *p, const char *s, size_t n)
{
	struct sigcl *cl = g->cl;
	if (!cl_up(cl))
		return;	/* kept here only */
	struct creq *q = req_new(cl, NULL);
	char window[24];
	snprintf(window, sizeof window, "%.0f", g->conf.resume_window * 1000 + 1000);
	const char *argv[] = { cl->node.inc, p->id, s, window };
	const size_t argl[] = { strlen(cl->node.inc), strlen(p->id), n, strlen(window) };
	if (!q || !(q->name = strndup(s, n))) {
		if (q)
			req_free(q);
		return;
	}
	snprintf(q->id, sizeof q->id, "%s", p->id);
	if (cl_dir(cl, RV_DIR_SIG_PARK, 4, argv, argl, on_park, q) < 0)
		req_free(q);
}

void sigcl_resumed(struct sig *g, const struct peer *p)
{
	struct sigcl *cl = g->cl;
	if (!cl || !cl_up(cl))
		return;
	/* claimed again by this node: the list kept in Redis goes (this node sent
	 * its own copy), and the handover it publishes is this node's own */
	const struct rv_buf *b = cl_encode(cl, RV_CMSG_SIG_HANDOVER, p->id, NULL, NULL, 0, NULL, 0);
	if (!b)
		return;
	const char *argv[] = { cl->node.inc, p->resume, p->id, (const char *)rv_buf_head(b) };
	const size_t argl[] = { strlen(cl->node.inc), strlen(p->resume), strlen(p->id), rv_buf_size(b) };
	cl_dir(cl, RV_DIR_SIG_CLAIM, 4, argv, argl, NULL, NULL);
}

/* ---- rooms ---- */

void sigcl_room_empty(struct sig *g, const char *room)
{
	int claimed = 0;	/* a resume in progress may want it */
	for (struct claim *k = g->cl->claims; k && !claimed; k = k->next)
		for (size_t i = 0; i < k->nrooms; i++)
			claimed |= !strcmp(k->rooms[i], room);
	if (!claimed)
		cl_unsub(g->cl, "r", room);
}

static void join_answer(struct creq *q)
{
	struct sigcl *cl = q->cl;
	struct conn *c = q->c;
	if (!c || c->closing || !c->peer || strcmp(c->peer->id, q->id) != 0) {
		if (q->num == 0) {	/* it went meanwhile: undo */
			char *ev = room_event("left", q->room, q->id, q->name, NULL);
			const struct rv_buf *b = ev ? event_msg(cl, q->room, q->id, ev) : NULL;
			const char *argv[] = { cl->node.inc, q->room, q->id, b ? (const char *)rv_buf_head(b) : "" };
			const size_t argl[] = { strlen(cl->node.inc), strlen(q->room), strlen(q->id), b ? rv_buf_size(b) : 0 };
			cl_dir(cl, RV_DIR_SIG_LEAVE, 4, argv, argl, NULL, NULL);
			free(ev);
		}
	} else if (q->num == -2) {
		char msg[160];
		snprintf(msg, sizeof msg, "room %s is full (%s peers)", q->room,
			 q->members && cJSON_GetArraySize(q->members) ? cJSON_GetArrayItem(q->members, 0)->valuestring : "?");
		send_error(c, "room-full", msg, "join");
	} else if (q->num < 0) {
		send_error(c, "cluster-unavailable", "the cluster directory did not answer", "join");
	} else {
		cJSON *members = q->members;
		q->members = NULL;
		join_finish(c, q->room, q->name, members);
	}
	if (!rv_map_get(&cl->g->rooms, q->room))
		sigcl_room_empty(cl->g, q->room);
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
	q->members = cJSON_CreateArray();
	if (!r->err && r->num == -2 && r->n >= 1) {
		cJSON_AddItemToArray(q->members, cJSON_CreateString(r->v[0]));
	} else if (!r->err && r->num == 0) {
		for (size_t i = 0; i + 1 < r->n; i += 2) {
			cJSON *o = cJSON_CreateObject();
			char id[RV_ID_MAX + 1], name[256];
			snprintf(id, sizeof id, "%.*s", (int)r->len[i], r->v[i]);
			snprintf(name, sizeof name, "%.*s", (int)r->len[i + 1], r->v[i + 1]);
			cJSON_AddStringToObject(o, "id", id);
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddItemToArray(q->members, o);
		}
	}
	join_step(q);
}

int sigcl_join(struct conn *c, const char *room, const char *name)
{
	struct sigcl *cl = c->sig->cl;
	struct peer *p = c->peer;
	if (!cl_up(cl))
		return 0;	/* here only: asserted once the bus is back */
	struct creq *q = req_new(cl, c);
	const char *as = name ? name : shown(p);
	char *ev = q ? room_event("joined", room, p->id, as, NULL) : NULL;
	const struct rv_buf *b = ev ? event_msg(cl, room, p->id, ev) : NULL;
	free(ev);
	if (!b || !(q->name = strndup(as, 64))) {
		if (q)
			req_free(q);
		return 0;
	}
	snprintf(q->id, sizeof q->id, "%s", p->id);
	snprintf(q->room, sizeof q->room, "%s", room);
	char max[24];
	snprintf(max, sizeof max, "%zu", c->sig->conf.max_peers);
	const char *argv[] = { cl->node.inc, room, p->id, q->name, max, (const char *)rv_buf_head(b) };
	const size_t argl[] = { strlen(cl->node.inc), strlen(room), strlen(p->id), strlen(q->name), strlen(max),
				rv_buf_size(b) };
	q->steps = 3;	/* the subscription, the script, this call */
	if (cl_sub(cl, "r", room, on_join_sub, q) < 0)
		q->steps--;
	if (cl_dir(cl, RV_DIR_SIG_JOIN, 6, argv, argl, on_join, q) < 0) {
		q->steps--;
		q->num = -3;
	}
	join_step(q);
	return 1;
}

void sigcl_left(struct sig *g, const char *room, const struct peer *p, const char *event)
{
	struct sigcl *cl = g->cl;
	const struct rv_buf *b = event_msg(cl, room, p->id, event);
	const char *argv[] = { cl->node.inc, room, p->id, b ? (const char *)rv_buf_head(b) : "" };
	const size_t argl[] = { strlen(cl->node.inc), strlen(room), strlen(p->id), b ? rv_buf_size(b) : 0 };
	if (cl_dir(cl, RV_DIR_SIG_LEAVE, 4, argv, argl, NULL, NULL) < 0)
		g->n.cl_failed++;
}

/* ---- messages ---- */

static void on_sent(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct conn *c = q->c;
	if (c && !c->closing) {
		if (r->err) {
			q->cl->g->n.cl_failed++;
			send_error(c, "cluster-unavailable", "the cluster bus failed: the message may not have arrived",
				   q->mtype);
		} else if (r->num == 0) {
			q->cl->g->n.cl_offline++;
			send_error(c, "not-found", "no such peer", q->mtype);
		}
	}
	req_free(q);
}

int sigcl_send_peer(struct conn *c, const char *to, const char *s, size_t n, const char *mtype)
{
	struct sigcl *cl = c->sig->cl;
	if (!rv_id_valid(to)) {	/* no node has it */
		send_error(c, "not-found", "no such peer", mtype);
		return 0;
	}
	if (!cl_up(cl)) {
		cl->g->n.cl_failed++;
		return RV_ECLOSED;
	}
	struct creq *q = req_new(cl, c);
	if (!q)
		return -ENOMEM;
	snprintf(q->mtype, sizeof q->mtype, "%s", mtype);
	int rc = cl_publish(cl, "p", to, cl_encode(cl, RV_CMSG_SIG_PEER, to, c->peer->id, s, n, NULL, 0), on_sent, q);
	if (rc < 0)
		req_free(q);
	return rc;
}

int sigcl_send_room(struct conn *c, const char *room, const char *s, size_t n, const cJSON *exclude,
		    const cJSON *include)
{
	struct sigcl *cl = c->sig->cl;
	cJSON *f = cJSON_CreateObject();
	if (exclude)
		cJSON_AddItemToObject(f, "exclude", cJSON_Duplicate(exclude, 1));
	if (include)
		cJSON_AddItemToObject(f, "include", cJSON_Duplicate(include, 1));
	char *fl = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (!fl)
		return -ENOMEM;
	size_t fn = strlen(fl);
	char *line = malloc(fn + 2);
	int rc = -ENOMEM;
	if (line) {
		memcpy(line, fl, fn);
		line[fn] = '\n';
		rc = cl_up(cl) ? cl_publish(cl, "r", room, cl_encode(cl, RV_CMSG_SIG_ROOM, room, c->peer->id, line, fn + 1, s, n),
				      NULL, NULL)
			    : (cl->g->n.cl_failed++, RV_ECLOSED);
	}
	free(line);
	free(fl);
	return rc;
}

/* A room message from another node: to this node's peers of the room. */
static void room_in(struct sigcl *cl, const struct rv_cmsg *m)
{
	const char *p = (const char *)m->payload, *nl = p ? memchr(p, '\n', m->payload_len) : NULL;
	if (!nl)
		return;
	cJSON *f = cJSON_ParseWithLength(p, (size_t)(nl - p));
	cJSON *ex = cJSON_GetObjectItemCaseSensitive(f, "exclude"), *in = cJSON_GetObjectItemCaseSensitive(f, "include");
	size_t n = m->payload_len - (size_t)(nl + 1 - p);
	char *s = strndup(nl + 1, n);	/* printed JSON: no NUL in it */
	if (s)
		room_deliver(cl->g, m->a, m->b[0] ? m->b : NULL, s, n, cJSON_IsArray(ex) ? ex : NULL,
			     cJSON_IsArray(in) ? in : NULL);
	free(s);
	cJSON_Delete(f);
}

static void peer_in(struct sigcl *cl, const struct rv_cmsg *m)
{
	char *s = strndup((const char *)m->payload, m->payload_len);
	if (s)
		peer_deliver(cl->g, m->a, s, m->payload_len);
	free(s);
}

/* ---- the bus ---- */

static void on_bus_msg(void *ud, const char *channel, const uint8_t *data, size_t len)
{
	struct sigcl *cl = ud;
	struct sig *g = cl->g;
	struct rv_cmsg m;
	int rc = rv_cmsg_decode(data, len, &cl->key, &m);
	if (rc < 0) {
		g->n.cl_bad++;
		rv_info("cluster: a message on %s refused: %s", channel,
			rc == RV_EDENIED ? "bad HMAC (another cluster secret?)" : rv_strerror(rc));
		return;
	}
	enum rv_cmsg_verdict v = rv_cmsg_replay_check(&cl->replay, &m, cl_wall_ms());
	if (v != RV_CMSG_FRESH) {
		if (v == RV_CMSG_DUP)
			g->n.cl_dup++;
		else
			g->n.cl_stale++;
		return;
	}
	int mine = strcmp(m.origin, cl->node.inc) == 0;
	if (m.type == RV_CMSG_SIG_HANDOVER) {
		cl_handover_in(cl, &m, mine);
		return;
	}
	if (mine)	/* delivered here already */
		return;
	g->n.cl_received++;
	if (m.type == RV_CMSG_SIG_PEER)
		peer_in(cl, &m);
	else if (m.type == RV_CMSG_SIG_ROOM)
		room_in(cl, &m);
}

/* After the bus came back, or the directory lost this node: its peers and
 * their rooms, again; the rooms' other members hear of those it lacked. */
static void reassert(struct sigcl *cl)
{
	struct sig *g = cl->g;
	size_t i = 0;
	struct peer *p;
	while ((p = rv_map_next(&g->peers, &i, NULL))) {
		assert_peer(cl, p);
		for (size_t k = 0; k < p->nrooms; k++) {
			const char *room = p->rooms[k]->name;
			char *ev = room_event("joined", room, p->id, shown(p), NULL);
			const struct rv_buf *b = ev ? event_msg(cl, room, p->id, ev) : NULL;
			free(ev);
			const char *argv[] = { cl->node.inc, room, p->id, shown(p), "0", b ? (const char *)rv_buf_head(b) : "" };
			const size_t argl[] = { strlen(cl->node.inc), strlen(room), strlen(p->id), strlen(shown(p)), 1,
						b ? rv_buf_size(b) : 0 };
			cl_dir(cl, RV_DIR_SIG_JOIN, 6, argv, argl, NULL, NULL);
		}
	}
}

static void on_register(void *ud, const struct rv_bus_reply *r)
{
	struct sigcl *cl = ud;
	if (!r->err && r->num == 1 && cl->g->peers.count) {
		rv_info("cluster: the directory did not know this node: asserting its peers again");
		reassert(cl);
	}
}

/* Peers of dead nodes removed from rooms: every node's peers hear "left". */
static void on_sweep(void *ud, const struct rv_bus_reply *r)
{
	struct sigcl *cl = ud;
	if (r->err)
		return;
	if (r->num > 0) {
		cl->g->n.cl_reaps += (uint64_t)r->num;
		rv_info("cluster: reaped %lld node(s) whose heartbeat ran out", r->num);
	}
	for (size_t i = 0; i + 2 < r->n; i += 3) {
		char room[RV_ID_MAX + 1], id[RV_ID_MAX + 1], name[256];
		snprintf(room, sizeof room, "%.*s", (int)r->len[i], r->v[i]);
		snprintf(id, sizeof id, "%.*s", (int)r->len[i + 1], r->v[i + 1]);
		snprintf(name, sizeof name, "%.*s", (int)r->len[i + 2], r->v[i + 2]);
		if (!rv_id_valid(room) || !rv_id_valid(id))
			continue;
		char *ev = room_event("left", room, id, name, "node-lost");
		if (!ev)
			continue;
		room_deliver(cl->g, room, id, ev, strlen(ev), NULL, NULL);	/* we skip what we publish */
		cl_publish(cl, "r", room, event_msg(cl, room, id, ev), NULL, NULL);
		free(ev);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct sigcl *cl = t->data;
	rv_cmsg_replay_prune(&cl->replay, cl_wall_ms());
	if (!cl_up(cl))
		return;
	const char *argv[] = { cl->node.inc };
	cl_dir(cl, RV_DIR_SIG_REGISTER, 1, argv, NULL, on_register, cl);
	cl_dir(cl, RV_DIR_SIG_SWEEP, 1, argv, NULL, on_sweep, cl);
}

static void on_state(void *ud, enum rv_bus_state st)
{
	struct sigcl *cl = ud;
	if (st != RV_BUS_UP)
		return;
	const char *argv[] = { cl->node.inc };
	cl_dir(cl, RV_DIR_SIG_REGISTER, 1, argv, NULL, NULL, NULL);
	reassert(cl);
}

/* ---- life ---- */

int sigcl_start(struct sig *g)
{
	const struct sig_conf *conf = &g->conf;
	int rc;
	if (!conf->cluster_url)
		return 0;
	struct sigcl *cl = calloc(1, sizeof *cl);
	if (!cl)
		return -ENOMEM;
	g->cl = cl;
	cl->g = g;
	rv_buf_init(&cl->enc, RV_CMSG_MAX);
	rv_cmsg_replay_init(&cl->replay);
	if ((rc = rv_bus_node_setup(&cl->node, conf->cluster_url, conf->node_id, conf->cluster_secret_file,
				    cl_wall_ms())) < 0 ||
	    (rc = rv_cmsg_key_init(&cl->key, cl->node.secret, cl->node.secret_len)) < 0)
		return rc;
	if ((rc = rv_bus_redis_new(&cl->bus, g->loop, &cl->node.addr, on_bus_msg, on_state, cl)) < 0)
		return rc;
	uv_timer_init(g->loop, &cl->timer);
	cl->timer.data = cl;
	uv_timer_start(&cl->timer, on_tick, 1000, 1000);
	rv_info("cluster: node %s on %s", cl->node.inc, conf->cluster_url);
	return 0;
}

void sigcl_conn_closed(struct conn *c)
{
	struct sigcl *cl = c->sig->cl;
	if (!cl)
		return;
	for (struct creq *q = cl->rq; q; q = q->next)
		if (q->c == c)
			q->c = NULL;
	for (struct claim *k = cl->claims; k; k = k->next)
		if (k->c == c)
			k->c = NULL;
}

void sigcl_stop(struct sig *g)
{
	struct sigcl *cl = g->cl;
	if (!cl || !cl->bus)
		return;
	struct rv_bus *b = cl->bus;
	uv_close((uv_handle_t *)&cl->timer, NULL);
	cl->bus = NULL;	/* from here on every call fails at once */
	b->ops->close(b);	/* pending answers still come */
}

void sigcl_free(struct sig *g)
{
	struct sigcl *cl = g->cl;
	if (!cl)
		return;
	while (cl->rq)
		req_free(cl->rq);
	while (cl->claims)
		cl_claim_free(cl->claims);
	rv_buf_free(&cl->enc);
	rv_cmsg_replay_free(&cl->replay);
	rv_cmsg_key_free(&cl->key);
	free(cl);
	g->cl = NULL;
}
