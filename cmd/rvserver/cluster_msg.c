/* cluster_msg.c - the cluster's message side: a client's message to an
 * id, a connection or a group on other nodes (published once, acks
 * counted into the sender's ok), acks, and what other nodes publish:
 * deliveries to our receivers and members, joined/left events, evictions.
 * See cluster_int.h. */
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

/* ---- messages across nodes ---- */

void cl_pmsg_free(struct pmsg *p)
{
	struct cluster *cl = p->cl;
	RV_LIST_REMOVE(cl->pm_head, cl->pm_tail, p);
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
	cl_pmsg_free(p);
}

static void pmsg_error(struct pmsg *p, enum rv_code code, const char *text)
{
	if (p->c && !p->c->closing)
		conn_error(p->c, p->seq, code, text);
	cl_pmsg_free(p);
}

/* The directory's members of a group no node took a post for: members kept
 * offline (--keep-client-info) make it a group, as on one server (ok,
 * delivered 0); none, no such group. */
static void on_group_known(void *ud, const struct rv_bus_reply *r)
{
	struct pmsg *p = ud;
	p->asking = 0;
	if (!r->err && r->num != -1 && r->n > 0)
		pmsg_ok(p);
	else
		pmsg_error(p, r->err ? RV_CODE_INTERNAL : RV_CODE_NO_SUCH_GROUP,
			   r->err ? "the cluster directory did not answer" : NULL);
}

/* 1 when the directory was asked (kept client info can hold a group whose
 * members are all offline, on no node), else 0. */
static int ask_group(struct pmsg *p)
{
	struct cluster *cl = p->cl;
	if (cl->srv->conf.router.keep == RV_KEEP_NONE)
		return 0;
	const char *argv[] = { p->to };
	p->asking = 1;
	if (cl_dir(cl, RV_DIR_MEMBERS, 1, argv, NULL, on_group_known, p) < 0) {
		p->asking = 0;
		return 0;
	}
	return 1;
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
		if (!ask_group(p))
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

void cl_on_ack(struct cluster *cl, const struct rv_cmsg *m)
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

struct pmsg *cl_pmsg_new(struct cluster *cl, struct conn *c, uint64_t seq, const char *to, uint64_t conn,
			 const char *group, int local_n, cJSON *receivers)
{
	struct pmsg *p = calloc(1, sizeof *p);
	if (!p) {
		cJSON_Delete(receivers);
		conn_error(c, seq, RV_CODE_INTERNAL, NULL);
		return NULL;
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
	RV_LIST_APPEND(cl->pm_head, cl->pm_tail, p);
	return p;
}

int cluster_route(struct conn *c, uint64_t seq, const char *to, uint64_t conn, const char *group, const char *kind,
		  const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers)
{
	struct cluster *cl = c->srv->cluster;
	if (kind && strncmp(kind, "xfer-", 5) == 0 && !conn)	/* files and data: over a trunk */
		return cl_trunk_route(c, seq, to, group, head, hlen, body, blen, local_n, receivers);
	if (hlen + blen > RV_CMSG_PAYLOAD_MAX) {
		cJSON_Delete(receivers);
		conn_error(c, seq, RV_CODE_TOO_LARGE, "messages across cluster nodes are at most 64 KiB");
		return 1;
	}
	struct pmsg *p = cl_pmsg_new(cl, c, seq, to, conn, group, local_n, receivers);
	if (!p)
		return 1;

	rv_buf_reset(&cl->frame);
	struct rv_cmsg m = cl_msg_new(cl, p->type, p->to, c->client->id, NULL);
	m.seq = p->nseq;
	m.conn = conn;
	m.code = receivers ? CL_WANT_RECEIVERS : 0;
	if (rv_buf_append(&cl->frame, head, hlen) < 0 || (blen && rv_buf_append(&cl->frame, body, blen) < 0)) {
		pmsg_error(p, RV_CODE_INTERNAL, NULL);
		return 1;
	}
	m.payload = rv_buf_head(&cl->frame);
	m.payload_len = rv_buf_size(&cl->frame);
	char chan[128], tag[16];
	snprintf(tag, sizeof tag, "%" PRIu64, CLUSTER_CONN_TAG(conn));
	cl_chan_of(chan, sizeof chan, conn ? "c" : to ? "i" : "g", conn ? tag : p->to);
	if (cl_publish(cl, chan, &m, on_published, p) < 0)
		pmsg_error(p, RV_CODE_INTERNAL, p->local_group ? "delivered on this node only: the cluster bus is unavailable"
							       : "not sent: the cluster bus is unavailable");
	else if (cl->bus->pending > BUS_HIGH) {	/* hold this sender until the bus drains */
		cl->throttled = 1;
		c->srv->feeding_congested = 1;
	}
	return 1;
}

/* Each publish to a contact elsewhere answered: the nodes that hold one
 * (PUBLISH's count) each ack. */
static void on_contact_published(void *ud, const struct rv_bus_reply *r)
{
	struct pmsg *p = ud;
	if (r->err) {
		p->failed++;
		p->cl->srv->n.cl_failed++;
	} else if (r->num > 0) {
		p->expect++;
	}
	if (--p->pubs > 0)
		return;
	p->published = 1;
	if (p->failed) {
		pmsg_error(p, RV_CODE_INTERNAL, "delivered on this node only: the cluster bus is unavailable");
		return;
	}
	p->acks = p->nseq ? p->expect - p->early : 0;
	if (p->acks <= 0)
		pmsg_ok(p);
}

int cluster_route_contacts(struct conn *c, uint64_t seq, const uint8_t *head, size_t hlen, const uint8_t *body,
			   size_t blen, int local_n, cJSON *receivers)
{
	struct cluster *cl = c->srv->cluster;
	const struct rv_strv *ids = &c->client->contacts;
	size_t elsewhere = 0;
	for (size_t i = 0; i < ids->n; i++) {	/* online here: delivered (or refused) already */
		const struct rv_client *to = rv_router_find(&c->srv->router, ids->v[i]);
		elsewhere += (!to || !to->recv) && strcmp(ids->v[i], c->client->id) != 0;
	}
	if (!cl || !elsewhere)
		return 0;
	if (hlen + blen > RV_CMSG_PAYLOAD_MAX) {
		cJSON_Delete(receivers);
		conn_error(c, seq, RV_CODE_TOO_LARGE, "messages across cluster nodes are at most 64 KiB");
		return 1;
	}
	struct pmsg *p = cl_pmsg_new(cl, c, seq, c->client->id, 0, NULL, local_n, receivers);
	if (!p)
		return 1;
	p->contacts = 1;
	p->pubs = 1;	/* held until every publish below is made */
	rv_buf_reset(&cl->frame);
	if (rv_buf_append(&cl->frame, head, hlen) < 0 || (blen && rv_buf_append(&cl->frame, body, blen) < 0)) {
		pmsg_error(p, RV_CODE_INTERNAL, NULL);
		return 1;
	}
	for (size_t i = 0; i < ids->n; i++) {
		const struct rv_client *to = rv_router_find(&c->srv->router, ids->v[i]);
		if ((to && to->recv) || strcmp(ids->v[i], c->client->id) == 0)
			continue;
		struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_DIRECT, ids->v[i], c->client->id, NULL);
		m.seq = p->nseq;
		m.code = (p->receivers ? CL_WANT_RECEIVERS : 0) | CL_SILENT;
		m.payload = rv_buf_head(&cl->frame);
		m.payload_len = rv_buf_size(&cl->frame);
		char chan[128];
		cl_chan_of(chan, sizeof chan, "i", ids->v[i]);
		p->pubs++;
		if (cl_publish(cl, chan, &m, on_contact_published, p) < 0) {
			p->pubs--;
			p->failed++;
		}
	}
	struct rv_bus_reply none = { 0 };
	on_contact_published(p, &none);	/* the hold above */
	if (cl->bus && cl->bus->pending > BUS_HIGH) {	/* hold this sender until the bus drains */
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
	struct rv_cmsg m = cl_msg_new(cl, RV_CMSG_ACK, NULL, NULL, text);
	m.seq = in->seq;
	m.code = (uint8_t)code;
	m.count = (uint32_t)count;
	if (ids && strlen(ids) <= RV_CMSG_PAYLOAD_MAX) {
		m.payload = (const uint8_t *)ids;
		m.payload_len = strlen(ids);
	}
	cl_chan_of(chan, sizeof chan, "n", in->origin);
	cl_publish(cl, chan, &m, NULL, NULL);
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
	if (!m->seq)
		return;
	if (miss && (m->code & CL_SILENT)) {	/* a contact that does not take it: skipped, as on one node */
		ack(cl, m, 0, NULL, 0, NULL);
		return;
	}
	cJSON *ids = !miss && (m->code & CL_WANT_RECEIVERS) ? cJSON_CreateArray() : NULL;
	if (ids)
		cJSON_AddItemToArray(ids, cJSON_CreateString(t->client->id));
	ack(cl, m, miss ? rv_route_miss_code(miss) : 0, miss ? why : NULL, miss ? 0 : 1, ids);
}

static void group_in(struct cluster *cl, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	struct rv_group *g = rv_router_group(&srv->router, m->a);
	cJSON *ids = m->seq && (m->code & CL_WANT_RECEIVERS) ? cJSON_CreateArray() : NULL;
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
void cl_event_in(struct cluster *cl, const struct rv_cmsg *m)
{
	struct rv_group *g = rv_router_group(&cl->srv->router, m->a);
	for (size_t i = 0; g && i < g->n; i++)
		if (g->members[i]->recv && strcmp(g->members[i]->id, m->b) != 0)
			proto_event_id(g->members[i]->recv, m->type == RV_CMSG_JOINED, m->a, m->b, m->c[0] ? m->c : NULL);
}

void cl_on_bus_msg(void *ud, const char *channel, const uint8_t *data, size_t len)
{
	struct cluster *cl = ud;
	struct server *srv = cl->srv;
	struct rv_cmsg m;
	int rc = rv_cmsg_parse(data, len, &m);
	/* our own posts and events, echoed by the bus, are dropped before the
	 * HMAC is checked: dropping is all we would do with them anyway */
	if (rc == 0 && (m.type == RV_CMSG_GROUP || m.type == RV_CMSG_JOINED || m.type == RV_CMSG_LEFT) &&
	    strcmp(m.origin, cl->inc) == 0)
		return;
	if (rc == 0)
		rc = rv_cmsg_verify(data, len, &cl->key);
	if (rc < 0) {
		srv->n.cl_bad++;
		rv_info("cluster: a message on %s refused: %s", channel,
			rc == RV_EDENIED ? "bad HMAC (another cluster secret?)" : rv_strerror(rc));
		return;
	}
	enum rv_cmsg_verdict v = rv_cmsg_replay_check(&cl->replay, &m, (uint64_t)wall_ms());
	if (v != RV_CMSG_FRESH) {	/* published again (the HMAC cannot tell), or too old */
		if (v == RV_CMSG_DUP)
			srv->n.cl_dup++;
		else
			srv->n.cl_stale++;
		rv_debug("cluster: a %s message from %s (#%" PRIu64 ") on %s dropped", v == RV_CMSG_DUP ? "duplicate"
			 : "stale", m.origin, m.nseq, channel);
		return;
	}
	srv->n.cl_received++;
	int mine = strcmp(m.origin, cl->inc) == 0;
	switch (m.type) {
	case RV_CMSG_DIRECT: direct_in(cl, &m); break;
	case RV_CMSG_GROUP: if (!mine) group_in(cl, &m); break;
	case RV_CMSG_JOINED:
	case RV_CMSG_LEFT: if (!mine) cl_event_in(cl, &m); break;
	case RV_CMSG_EVICT: cl_evict(cl, &m); break;
	case RV_CMSG_MOVED: if (!mine) cl_moved(cl, &m); break;
	case RV_CMSG_ACK: cl_on_ack(cl, &m); break;
	default: break;
	}
}

/* Acks that never came: the senders get their answer at the deadline. */
void cl_msg_tick(struct cluster *cl, uint64_t now)
{
	struct pmsg *p = cl->pm_head, *next;
	for (; p && now >= p->deadline; p = next) {
		next = p->next;
		if (p->asking)	/* the directory answers it (within RV_BUS_TIMEOUT_MS) */
			continue;
		if (!p->published || (p->type == RV_CMSG_DIRECT && !p->contacts))
			pmsg_error(p, RV_CODE_TIMEOUT, "no answer from the receiving node");
		else
			pmsg_ok(p);
	}
}
