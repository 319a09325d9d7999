/* cluster.c - rvserver nodes as one cluster (--cluster): a directory and a
 * message bus shared through lib/bus.h (Redis), messages between nodes in
 * lib/cmsg.h's authenticated format. Here: the helpers the two sides share,
 * the one-second timer, start and stop. The directory side is in
 * cluster_dir.c, the message side in cluster_msg.c; cluster_int.h says what
 * is where and describes the channels.
 *
 * A request that needs the directory (hello of a receiver, join, members,
 * groups) holds its connection's input until answered, so requests are
 * answered in order, as on one server. Messages are not held: a message to
 * an id or group elsewhere is published once; PUBLISH's answer says whether
 * any node took it (none: the id is offline), and with a seq the receiving
 * nodes ack, so the ok counts every delivery. Files and data cross nodes
 * over trunks (cluster_trunk.c), not the bus; live media over UDP pipes
 * between the nodes' relays (cluster_pipe.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "dlist.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"

/* ---- helpers ---- */

void cl_chan_of(char *out, size_t n, const char *kind, const char *name)
{
	snprintf(out, n, "rv:%s:%s", kind, name);
}

void cl_gen_of(const struct cluster *cl, const struct conn *c, char *out, size_t n)
{
	snprintf(out, n, "%s/%" PRIu64, cl->inc, c->cgen);
}

/* Encode a message into cl->enc: NULL when it cannot be. */
const struct rv_buf *cl_encode(struct cluster *cl, const struct rv_cmsg *m)
{
	struct rv_cmsg numbered = *m;	/* every message numbered and dated: the receivers' replay check */
	numbered.nseq = ++cl->msgno;
	numbered.ts = (uint64_t)wall_ms();
	rv_buf_reset(&cl->enc);
	int rc = rv_cmsg_encode(&cl->enc, &numbered, &cl->key);
	if (rc < 0) {
		rv_warn("cluster: cannot encode a message: %s", rv_strerror(rc));
		return NULL;
	}
	return &cl->enc;
}

struct rv_cmsg cl_msg_new(struct cluster *cl, uint8_t type, const char *a, const char *b, const char *c)
{
	struct rv_cmsg m = { .type = type };
	snprintf(m.origin, sizeof m.origin, "%s", cl->inc);
	snprintf(m.a, sizeof m.a, "%s", a ? a : "");
	snprintf(m.b, sizeof m.b, "%s", b ? b : "");
	snprintf(m.c, sizeof m.c, "%s", c ? c : "");
	return m;
}

/* Publish M on CHAN, FN told the answer (may be NULL). */
int cl_publish(struct cluster *cl, const char *chan, const struct rv_cmsg *m, rv_bus_done_fn fn, void *ud)
{
	const struct rv_buf *b = cl->bus ? cl_encode(cl, m) : NULL;
	if (!b)
		return RV_ECLOSED;
	int rc = cl->bus->ops->publish(cl->bus, chan, rv_buf_head(b), rv_buf_size(b), fn, ud);
	if (rc < 0)
		cl->srv->n.cl_failed++;
	else
		cl->srv->n.cl_sent++;
	return rc;
}

int cl_dir(struct cluster *cl, enum rv_dir_op op, int argc, const char *const *argv, const size_t *argl,
	       rv_bus_done_fn fn, void *ud)
{
	return cl->bus ? cl->bus->ops->dir(cl->bus, op, argc, argv, argl, fn, ud) : RV_ECLOSED;
}

/* (Un)subscribe KIND:NAME; the bus keeps the set across reconnections. */
int cl_sub(struct cluster *cl, const char *kind, const char *name, rv_bus_done_fn fn, void *ud)
{
	char chan[128];
	cl_chan_of(chan, sizeof chan, kind, name);
	return cl->bus ? cl->bus->ops->subscribe(cl->bus, chan, fn, ud) : RV_ECLOSED;
}

void cl_unsub(struct cluster *cl, const char *kind, const char *name)
{
	char chan[128];
	cl_chan_of(chan, sizeof chan, kind, name);
	if (cl->bus)
		cl->bus->ops->unsubscribe(cl->bus, chan);
}

int cl_bus_up(const struct cluster *cl)
{
	return cl->bus && cl->bus->state == RV_BUS_UP;
}

/* ---- holding a connection's input while the directory answers ---- */

void cl_hold(struct conn *c)
{
	c->held = 1;
	rv_stream_pause(&c->s, 1);
}

void cl_release(struct conn *c)
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

struct creq *cl_req_new(struct cluster *cl, struct conn *c, uint64_t seq, const char *id, const char *group)
{
	struct creq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->cl = cl;
	q->c = c;
	q->seq = seq;
	snprintf(q->id, sizeof q->id, "%s", id ? id : "");
	snprintf(q->group, sizeof q->group, "%s", group ? group : "");
	RV_LIST_PUSH(cl->rq, q);
	return q;
}

void cl_req_free(struct creq *q)
{
	struct cluster *cl = q->cl;
	RV_LIST_UNLINK(cl->rq, q);
	cJSON_Delete(q->members);
	free(q->hdr);
	free(q->body);
	free(q);
}

/* ---- the timer and the bus's state ---- */

static void on_tick(uv_timer_t *t)
{
	struct cluster *cl = t->data;
	cl_msg_tick(cl, now_ms(cl->srv));
	cl_trunk_tick(cl, now_ms(cl->srv));
	cl_pipe_tick(cl, now_ms(cl->srv));
	cl_pipe_repipe(cl, now_ms(cl->srv));
	rv_cmsg_replay_prune(&cl->replay, (uint64_t)wall_ms());
	if (cl_bus_up(cl))
		cl_dir_tick(cl);
}

static void on_state(void *ud, enum rv_bus_state st)
{
	if (st == RV_BUS_UP)
		cl_dir_up(ud);
}

/* ---- life ---- */

int cluster_start(struct server *srv)
{
	const struct server_conf *conf = &srv->conf;
	struct rv_bus_node node;
	int rc;
	if (!conf->cluster_url)
		return 0;
	struct cluster *cl = calloc(1, sizeof *cl);
	if (!cl)
		return -ENOMEM;
	srv->cluster = cl;
	cl->srv = srv;
	if ((rc = rv_bus_node_setup(&node, conf->cluster_url, conf->node_id, conf->cluster_secret_file,
				    (uint64_t)wall_ms())) < 0)
		return rc;
	memcpy(cl->secret, node.secret, sizeof cl->secret);
	cl->secret_len = node.secret_len;
	if ((rc = rv_cmsg_key_init(&cl->key, cl->secret, cl->secret_len)) < 0)
		return rc;	/* freed by cluster_free, as on every failure here */
	memcpy(cl->inc, node.inc, sizeof cl->inc);
	snprintf(cl->advertise, sizeof cl->advertise, "%s", conf->advertise ? conf->advertise : "");
	rv_buf_init(&cl->enc, RV_CMSG_MAX);
	rv_buf_init(&cl->frame, RV_CMSG_PAYLOAD_MAX);
	rv_cmsg_replay_init(&cl->replay);
	rv_map_init(&cl->routes);
	rv_map_init(&cl->homes);
	rv_buf_init(&cl->thead, 1024);
	/* limits hold cluster-wide, in the directory */
	srv->router.conf.max_groups = 0;
	srv->router.conf.max_group_members = 0;
	srv->router.on_unlink = cluster_unlinked;
	if ((rc = rv_bus_redis_new(&cl->bus, srv->loop, &node.addr, cl_on_bus_msg, on_state, cl)) < 0)
		return rc;
	cl_sub(cl, "n", cl->inc, NULL, NULL);
	uint32_t h = 2166136261u;	/* FNV-1a of the incarnation: the tag of our connection numbers */
	for (const char *p = cl->inc; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	cl->conn_base = (uint64_t)(h % 0xFFFFFu + 1) << 32;
	snprintf(cl->tag, sizeof cl->tag, "%" PRIu64, CLUSTER_CONN_TAG(cl->conn_base));
	cl_sub(cl, "c", cl->tag, NULL, NULL);
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
	cl_trunk_conn_closed(c);
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
		cl_pmsg_free(cl->pm_head);
	while (cl->rq)
		cl_req_free(cl->rq);
	rv_buf_free(&cl->enc);
	rv_buf_free(&cl->frame);
	rv_cmsg_replay_free(&cl->replay);
	cl_pipe_free(cl);
	cl_trunk_free(cl);
	cl_home_free(cl);
	rv_cmsg_key_free(&cl->key);
	free(cl);
	srv->cluster = NULL;
}

uint64_t cluster_conn_base(const struct server *srv)
{
	return srv->cluster ? srv->cluster->conn_base : 0;
}

int cluster_bus_up(const struct server *srv)
{
	return srv->cluster && cl_bus_up(srv->cluster);
}

uint64_t cluster_reconnects(const struct server *srv)
{
	return srv->cluster && srv->cluster->bus ? srv->cluster->bus->reconnects : 0;
}

uint64_t cluster_script_reloads(const struct server *srv)
{
	return srv->cluster && srv->cluster->bus ? srv->cluster->bus->script_reloads : 0;
}

