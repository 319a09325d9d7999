/* proto.c - the RV protocol on one connection: frames in, requests, routing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "token.h"

/* One request being handled: its connection, header and frame, and the
 * argument of its row in the dispatch table. */
struct req {
	struct conn *c;
	cJSON *h;
	const struct rv_frame_view *v;
	int arg;
};

/* A request's "seq": a whole number, or 0 (none, or not one). */
static uint64_t seq_of(const cJSON *h)
{
	return rv_json_u64(h, "seq", 0);
}

cJSON *proto_ok(uint64_t re)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "ok");
	cJSON_AddNumberToObject(h, "re", (double)re);
	return h;
}

/* An error, then a bye with the same code: the peer cannot go on. MSG NULL:
 * the code's default text. */
static void bad_input(struct conn *c, enum rv_code code, const char *msg)
{
	if (!msg)
		msg = rv_code_text(code);
	c->srv->n.bad_input++;
	rv_info("closing connection: %s", msg);
	conn_error(c, 0, code, msg);
	conn_bye(c, code, msg);
}

/* ---- hello ---- */

static int set_allowed(struct rv_client *cl, cJSON *ids)
{
	cJSON *it;
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || !rv_id_valid(it->valuestring))
			return -EINVAL;
	}
	rv_strv_free(&cl->allowed);
	cl->allow_all = 0;
	cJSON_ArrayForEach(it, ids)
		if (rv_strv_add(&cl->allowed, it->valuestring) < 0)
			return -ENOMEM;
	return 0;
}

static void do_hello(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	struct server *srv = c->srv;
	const char *id = rv_json_str(h, "id"), *role = rv_json_str(h, "role");

	if (c->refused) {
		conn_error(c, 0, RV_CODE_LIMIT, "the server is full (--max-clients)");
		conn_bye(c, RV_CODE_LIMIT, "the server is full (--max-clients)");
		return;
	}
	if (!id || !rv_id_valid(id)) {
		bad_input(c, RV_CODE_BAD_REQUEST, "hello needs an id of 1-64 characters [A-Za-z0-9._@-]");
		return;
	}
	if (role && strcmp(role, "recv") != 0 && strcmp(role, "send") != 0) {
		bad_input(c, RV_CODE_BAD_REQUEST, "role is recv or send");
		return;
	}
	if (srv->secret_len) {
		const char *why;
		if (rv_token_check(srv->secret, srv->secret_len, id, rv_json_str(h, "token"),
				   wall_ms() / 1000, &why) < 0) {
			srv->n.auth_failures++;
			rv_info("auth failed for %s: %s", id, why);
			conn_error(c, 0, RV_CODE_DENIED, why);
			conn_bye(c, RV_CODE_DENIED, why);
			return;
		}
	}
	struct rv_client *cl = rv_router_attach(&srv->router, id);
	if (!cl) {
		bad_input(c, RV_CODE_INTERNAL, NULL);
		return;
	}
	c->client = cl;
	c->role = role && strcmp(role, "recv") == 0 ? ROLE_RECV : ROLE_SEND;
	if (c->role == ROLE_RECV) {
		struct conn *old = cl->recv;
		cl->recv = c;
		if (old) {
			srv->n.replaced++;
			rv_info("%s logged in again: replacing the older connection", id);
			old->client = NULL;	/* it no longer counts for this id */
			rv_router_detach(&srv->router, cl);
			conn_bye(old, RV_CODE_REPLACED, NULL);
		}
	}
	cJSON *allow = cJSON_GetObjectItemCaseSensitive(h, "allow");
	if (allow && (!cJSON_IsArray(allow) || set_allowed(cl, allow) < 0)) {
		bad_input(c, RV_CODE_BAD_REQUEST, "allow must list valid client ids");
		return;
	}
	c->last_rx = now_ms(srv);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "replies")) && conn_number(c) < 0) {
		bad_input(c, RV_CODE_INTERNAL, NULL);
		return;
	}
	if (!cluster_hello(c, allow != NULL))	/* else welcomed once the cluster knows */
		proto_welcome(c);
}

void proto_welcome(struct conn *c)
{
	struct server *srv = c->srv;
	cJSON *w = cJSON_CreateObject();
	cJSON_AddStringToObject(w, "type", "welcome");
	cJSON_AddStringToObject(w, "id", c->client->id);
	cJSON_AddStringToObject(w, "server", "rvserver/" RV_VERSION);
	cJSON_AddNumberToObject(w, "version", 1);
	cJSON_AddNumberToObject(w, "ping", srv->conf.idle_timeout / 3);
	cJSON_AddBoolToObject(w, "auth", srv->secret_len > 0);
	cJSON_AddNumberToObject(w, "udp", srv->bound_udp_port);
	if (c->num) {	/* a sender of transfers: it paces by the queue cap, sizes frames by the body cap */
		cJSON_AddNumberToObject(w, "conn", c->num);
		cJSON_AddNumberToObject(w, "max_queue", (double)srv->conf.max_queue);
		cJSON_AddNumberToObject(w, "max_frame", (double)srv->conf.max_frame);
	}
	conn_send_json(c, w);
}

/* ---- messages ---- */

struct fanout {
	const uint8_t *head, *body;
	size_t hlen, blen;
	int n;                        /* receivers it was queued to */
	int free;                     /* of those, not congested */
	cJSON *receivers;             /* ids delivered to, when the sender asked */
	struct rv_buf *wsframe;       /* the message framed once for WebSocket receivers */
};

static void deliver(void *ud, struct rv_client *to)
{
	struct fanout *f = ud;
	struct conn *c = to->recv;
	if (conn_sendv_shared(c, f->wsframe, f->head, f->hlen, f->body, f->blen) == 0) {
		f->n++;
		f->free += !flow_queued(c);
		if (f->receivers)
			cJSON_AddItemToArray(f->receivers, cJSON_CreateString(to->id));
	}
}

/* The router's miss (or route_conn's) as an error: the code from what it
 * was, the router's text for the message. */
static void route_error(struct conn *c, uint64_t seq, enum rv_route_miss miss, int by_num)
{
	const char *why = by_num && miss == RV_MISS_OFFLINE ? "that connection is gone"
							     : rv_route_miss_text(miss);
	conn_error(c, seq, rv_route_miss_code(miss), why);
}

/* A reply to one connection of a client ("to" and "conn"): the sender of a
 * transfer, say, whose sending connection is not the client's receiver. */
static int route_conn(struct server *srv, struct conn *from, const char *to,
		      double num, struct fanout *f, enum rv_route_miss *miss)
{
	char key[24];
	snprintf(key, sizeof key, "%.0f", num);
	struct conn *t = num >= 1 ? rv_map_get(&srv->by_num, key) : NULL;
	if (!t || t->closing || !t->client || strcmp(t->client->id, to) != 0) {
		*miss = RV_MISS_OFFLINE;
		return RV_ENOTFOUND;
	}
	if (!rv_router_allows(t->client, from->client->id)) {
		*miss = RV_MISS_REFUSED;
		return RV_EDENIED;
	}
	if (conn_sendv(t, f->head, f->hlen, f->body, f->blen) == 0) {
		f->n++;
		f->free += !flow_queued(t);
	}
	return f->n;
}

static void do_msg(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	const uint8_t *body = q->v->body;
	size_t blen = q->v->body_len;
	struct server *srv = c->srv;
	uint64_t seq = seq_of(h);
	const char *to = rv_json_str(h, "to"), *group = rv_json_str(h, "group"), *kind = rv_json_str(h, "kind");
	enum rv_route_miss miss = RV_MISS_NONE;
	cJSON *num = cJSON_GetObjectItemCaseSensitive(h, "conn");
	double to_conn = cJSON_IsNumber(num) ? num->valuedouble : 0;
	int want_receivers = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "receivers"));

	srv->n.msgs_in++;
	if ((to && !rv_id_valid(to)) || (group && !rv_id_valid(group)) ||
	    (kind && strlen(kind) > 32) || (num && (!to || !cJSON_IsNumber(num)))) {
		conn_error(c, seq, RV_CODE_BAD_REQUEST,
				"to, group and kind must be valid names; conn goes with to");
		return;
	}
	/* The delivered header: the sender's, with from, time, an id and the
	 * sender's connection number (when it takes replies) added, and seq
	 * dropped. Built once, shared by every receiver; the body is not copied. */
	static const char *const drop[] = { "seq", "from", "time", "id", "conn", "receivers" };
	for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(h, drop[i]);
	if (to) {	/* a client id wins over a group */
		group = NULL;
		cJSON_DeleteItemFromObjectCaseSensitive(h, "group");
	}
	cJSON_AddStringToObject(h, "from", c->client->id);
	if (c->num)
		cJSON_AddNumberToObject(h, "conn", c->num);
	cJSON_AddNumberToObject(h, "time", (double)wall_ms());
	/* with --cluster, above bit 32 the node's tag (as connection numbers):
	 * unique across the nodes, not only here */
	uint64_t base = cluster_conn_base(srv);
	cJSON_AddNumberToObject(h, "id", (double)(base ? base | (++srv->msg_id & 0xFFFFFFFFu) : ++srv->msg_id));
	struct rv_buf *head = &srv->msghead;	/* the server's: no allocation per message */
	rv_buf_reset(head);
	if (rv_frame_append_head(head, h, blen) < 0) {
		conn_error(c, seq, RV_CODE_TOO_LARGE, "message header too large");
		return;
	}
	rv_buf_reset(&srv->wsmsg);
	struct fanout f = { rv_buf_head(head), body, rv_buf_size(head), blen, 0, 0,
			    want_receivers ? cJSON_CreateArray() : NULL, &srv->wsmsg };
	int rc = to_conn ? route_conn(srv, c, to, to_conn, &f, &miss)
			 : rv_router_route(&srv->router, c->client, to, group, deliver, &f, &miss);
	uint64_t conn_num = to_conn >= 1 && to_conn < 9007199254740992.0 ? (uint64_t)to_conn : 0;
	if (srv->cluster &&
	    (to_conn ? rc < 0 && miss == RV_MISS_OFFLINE && conn_num &&
			   CLUSTER_CONN_TAG(conn_num) != CLUSTER_CONN_TAG(cluster_conn_base(srv))
	     : to ? rc < 0 && (miss == RV_MISS_NO_CLIENT || miss == RV_MISS_OFFLINE)
		  : group && (rc >= 0 || miss == RV_MISS_NO_GROUP))) {	/* on to the other nodes */
		srv->n.deliveries += (uint64_t)f.n;
		flow_fed(srv, f.n, f.free);
		cluster_route(c, seq, to, conn_num, group, kind, rv_buf_head(head), rv_buf_size(head), body, blen,
			      f.n, f.receivers);
		return;
	}
	if (rc < 0) {
		cJSON_Delete(f.receivers);
		route_error(c, seq, miss, to_conn != 0);
		return;
	}
	srv->n.deliveries += (uint64_t)f.n;
	flow_fed(srv, f.n, f.free);
	if (srv->cluster && !to && !group && !to_conn &&	/* default receivers: some elsewhere? */
	    cluster_route_contacts(c, seq, rv_buf_head(head), rv_buf_size(head), body, blen, f.n, f.receivers))
		return;
	if (seq && !c->closing) {
		cJSON *ok = proto_ok(seq);
		cJSON_AddNumberToObject(ok, "delivered", f.n);
		if (f.receivers)
			cJSON_AddItemToObject(ok, "receivers", f.receivers);
		conn_send_json(c, ok);
	} else {
		cJSON_Delete(f.receivers);
	}
}

/* ---- groups ---- */

static cJSON *member_ids(const struct rv_group *g, int with_state)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; g && i < g->n; i++) {
		if (!with_state) {
			cJSON_AddItemToArray(a, cJSON_CreateString(g->members[i]->id));
			continue;
		}
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "id", g->members[i]->id);
		cJSON_AddBoolToObject(m, "online", g->members[i]->recv != NULL);
		cJSON_AddItemToArray(a, m);
	}
	return a;
}

/* join (ARG 1) or leave (0) */
static void do_join(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	int join = q->arg;
	struct server *srv = c->srv;
	uint64_t seq = seq_of(h);
	const char *g = rv_json_str(h, "group");
	if (!g || !rv_id_valid(g)) {
		conn_error(c, seq, RV_CODE_BAD_REQUEST, "group must be 1-64 characters [A-Za-z0-9._@-]");
		return;
	}
	if (join && cluster_join(c, seq, g))
		return;
	int rc = join ? rv_router_join(&srv->router, c->client, g)
		      : rv_router_leave(&srv->router, c->client, g);
	if (rc == RV_ELIMIT) {
		conn_error(c, seq, RV_CODE_LIMIT, rv_router_group(&srv->router, g)
			   ? "the group is full (--max-group-members)"
			   : "too many groups on this server (--max-groups)");
		return;
	}
	if (rc == RV_ENOTFOUND) {
		conn_error(c, seq, RV_CODE_NOT_MEMBER, NULL);
		return;
	}
	if (rc < 0) {
		conn_error(c, seq, RV_CODE_INTERNAL, rv_strerror(rc));
		return;
	}
	cJSON *ok = proto_ok(seq);
	cJSON_AddStringToObject(ok, "group", g);
	if (join)
		cJSON_AddItemToObject(ok, "members", member_ids(rv_router_group(&srv->router, g), 0));
	conn_send_json(c, ok);
}

static void do_members(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	uint64_t seq = seq_of(h);
	const char *g = rv_json_str(h, "group");
	if (g && rv_id_valid(g) && cluster_members(c, seq, g))
		return;
	const struct rv_group *grp = g ? rv_router_group(&c->srv->router, g) : NULL;
	if (!grp) {
		conn_error(c, seq, RV_CODE_NO_SUCH_GROUP, NULL);
		return;
	}
	cJSON *ok = proto_ok(seq);
	cJSON_AddStringToObject(ok, "group", g);
	cJSON_AddItemToObject(ok, "members", member_ids(grp, 1));
	conn_send_json(c, ok);
}

static void do_groups(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	struct rv_router *r = &c->srv->router;
	int all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "all"));
	if (cluster_groups(c, seq_of(h), all))
		return;
	cJSON *ok = proto_ok(seq_of(h)), *a = cJSON_CreateArray();
	if (all) {
		size_t i = 0;
		struct rv_group *g;
		while ((g = rv_map_next(&r->groups, &i, NULL))) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", g->name);
			cJSON_AddNumberToObject(o, "members", (double)g->n);
			cJSON_AddItemToArray(a, o);
		}
	} else {
		for (size_t i = 0; i < c->client->ngroups; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", c->client->groups[i]->name);
			cJSON_AddNumberToObject(o, "members", (double)c->client->groups[i]->n);
			cJSON_AddItemToArray(a, o);
		}
	}
	cJSON_AddItemToObject(ok, "groups", a);
	conn_send_json(c, ok);
}

/* contacts (default receivers) and allow (ARG 1: allowed senders) share a shape. */
static void do_list(const struct req *q)
{
	struct conn *c = q->c;
	cJSON *h = q->h;
	int allow = q->arg;
	uint64_t seq = seq_of(h);
	struct rv_client *cl = c->client;
	struct rv_strv *l = allow ? &cl->allowed : &cl->contacts;
	const char *op = rv_json_str(h, "op");
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(h, "ids"), *it;

	if (!op)
		op = "list";
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || !rv_id_valid(it->valuestring)) {
			conn_error(c, seq, RV_CODE_BAD_REQUEST, "ids must be valid client ids");
			return;
		}
	}
	if (strcmp(op, "add") == 0) {
		if (allow && cl->allow_all) {
			cl->allow_all = 0;	/* the first add starts a list */
			rv_strv_free(l);
		}
		cJSON_ArrayForEach(it, ids)
			if (l->n >= 1024 || rv_strv_add(l, it->valuestring) < 0) {
				conn_error(c, seq, RV_CODE_LIMIT, "at most 1024 ids");
				return;
			}
	} else if (strcmp(op, "del") == 0) {
		cJSON_ArrayForEach(it, ids)
			rv_strv_del(l, it->valuestring);
	} else if (allow && strcmp(op, "all") == 0) {
		cl->allow_all = 1;
		rv_strv_free(l);
	} else if (allow && strcmp(op, "none") == 0) {
		cl->allow_all = 0;
		rv_strv_free(l);
	} else if (strcmp(op, "list") != 0) {
		conn_error(c, seq, RV_CODE_BAD_REQUEST, allow ? "op is list, add, del, all or none"
						     : "op is list, add or del");
		return;
	}
	if (strcmp(op, "list") != 0)
		cluster_lists_changed(c);
	cJSON *ok = proto_ok(seq), *a = cJSON_CreateArray();
	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	if (allow)
		cJSON_AddBoolToObject(ok, "all", cl->allow_all);
	cJSON_AddItemToObject(ok, "ids", a);
	conn_send_json(c, ok);
}

/* ---- dispatch ---- */

static void do_monitor(const struct req *q) { monitor_request(q->c, q->h); }
static void do_stream(const struct req *q)
{
	const char *to = rv_json_str(q->h, "to"), *group = rv_json_str(q->h, "group");
	if ((to && !rv_id_valid(to)) || (group && !rv_id_valid(group)) ||
	    !cluster_media_route(q->c, q->v, to, group))
		relay_stream(&q->c->srv->relay, q->c, q->h);
}
static void do_stream_end(const struct req *q) { relay_stream_end(&q->c->srv->relay, q->c, q->h); }

/* watch (ARG 1) or unwatch (0): media to the receiving connection. */
static void do_watch(const struct req *q)
{
	if (q->c->role != ROLE_RECV)
		conn_error(q->c, seq_of(q->h), RV_CODE_BAD_REQUEST, "watch on the receiving connection (role recv)");
	else
		relay_watch(&q->c->srv->relay, q->c, q->h, q->arg);
}

static void do_ping(const struct req *q)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "type", "pong");
	if (seq_of(q->h))
		cJSON_AddNumberToObject(p, "re", (double)seq_of(q->h));
	conn_send_json(q->c, p);
}

static void do_pong(const struct req *q) { (void)q; /* activity is enough */ }
static void do_bye(const struct req *q) { conn_bye(q->c, RV_CODE_BYE, NULL); }

enum {
	FIRST = 1,                    /* only as the first frame (hello); every other row needs a hello */
	ROUTES = 2,                   /* may change routes: the relay works its streams' out again */
};

/* The RV requests by "type": the handler, its argument, and flags. */
static const struct verb {
	const char *type;
	void (*run)(const struct req *q);
	int arg;
	unsigned flags;
} verbs[] = {
	{ "msg", do_msg, 0, 0 },
	{ "hello", do_hello, 0, FIRST | ROUTES },
	{ "join", do_join, 1, ROUTES },
	{ "leave", do_join, 0, ROUTES },
	{ "members", do_members, 0, 0 },
	{ "groups", do_groups, 0, 0 },
	{ "contacts", do_list, 0, ROUTES },
	{ "allow", do_list, 1, ROUTES },
	{ "monitor", do_monitor, 0, 0 },
	{ "stream", do_stream, 0, 0 },
	{ "stream-end", do_stream_end, 0, 0 },
	{ "watch", do_watch, 1, 0 },
	{ "unwatch", do_watch, 0, 0 },
	{ "ping", do_ping, 0, 0 },
	{ "pong", do_pong, 0, 0 },
	{ "bye", do_bye, 0, 0 },
};

static const struct verb *verb_of(const char *type)
{
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(verbs[i].type, type) == 0)
			return &verbs[i];
	return NULL;
}

void proto_frame(struct conn *c, const uint8_t *frame, size_t len)
{
	struct rv_frame_view v;
	long n = rv_frame_decode(frame, len, c->srv->conf.max_frame, &v);
	if (n <= 0 || (size_t)n != len) {
		bad_input(c, RV_CODE_BAD_FRAME, NULL);
		return;
	}
	proto_frame_view(c, &v);
}

void proto_frame_view(struct conn *c, const struct rv_frame_view *v)
{
	struct server *srv = c->srv;
	const char *type;
	int err;

	srv->n.frames_in++;
	if (c->client && rv_frame_is_media(v)) {	/* the hot path: no JSON */
		relay_tcp_in(&srv->relay, c, v->body, v->body_len);
		return;
	}
	cJSON *h = rv_frame_header(v, &type, &err);
	if (!h) {
		bad_input(c, RV_CODE_BAD_FRAME, "frame header is not a JSON object with a type");
		return;
	}
	const struct verb *vb = verb_of(type);
	struct req q = { c, h, v, vb ? vb->arg : 0 };
	if (!c->client && (!vb || !(vb->flags & FIRST)))
		bad_input(c, RV_CODE_BAD_REQUEST, "the first frame must be hello");
	else if (c->client && (!vb || vb->flags & FIRST))
		conn_error(c, seq_of(h), RV_CODE_BAD_REQUEST, vb ? "already said hello" : "unknown frame type");
	else {
		vb->run(&q);
		if (vb->flags & ROUTES)
			relay_changed(&srv->relay);
	}
	cJSON_Delete(h);
}

/* Each whole frame of C's input: handled, then whether C goes on. */
static int on_frame(void *ud, const struct rv_frame_view *v)
{
	struct conn *c = ud;
	proto_frame_view(c, v);	/* decoded once, handled where it lies */
	if (c->closing)
		return RV_FRAME_GONE;
	return c->state != CONN_RV || c->srv->feeding_congested || c->held ? RV_FRAME_HOLD : 0;
}

/* Bytes of the RV protocol after the preface: cut into frames by
 * rv_frame_feed, handled where they lie. Only a frame split across reads
 * is copied (the bytes it lacks; none for a bulk frame, whose rest is read
 * straight into c->in: server.c's conn_room), and the rest of a read after
 * a frame that fed only congested receivers: the connection is then
 * paused, and proto_input(c, NULL, 0) goes on once it is resumed. */
void proto_input(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->held) {	/* a request awaits the cluster: what follows waits with it */
		if (len && rv_buf_append(&c->in, data, len) < 0)
			bad_input(c, RV_CODE_TOO_LARGE, NULL);
		return;
	}
	int rc = rv_frame_feed(&c->in, c->srv->conf.max_frame, data, len, on_frame, c);
	if (rc < 0)
		bad_input(c, rc == RV_ETOOBIG ? RV_CODE_TOO_LARGE : RV_CODE_BAD_FRAME, NULL);
}

/* Membership events from the router, to each member's receiving connection. */
void proto_event(void *ud, struct rv_client *to, enum rv_event_type type,
		 const struct rv_group *g, const struct rv_client *who)
{
	(void)ud;
	if (to->recv)
		proto_event_id(to->recv, type == RV_EV_JOINED, g->name, who->id, NULL);
}

void proto_event_id(struct conn *c, int joined, const char *group, const char *id, const char *reason)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", joined ? "joined" : "left");
	cJSON_AddStringToObject(h, "group", group);
	cJSON_AddStringToObject(h, "id", id);
	if (reason)
		cJSON_AddStringToObject(h, "reason", reason);
	cJSON_AddNumberToObject(h, "time", (double)wall_ms());
	conn_send_json(c, h);
}
