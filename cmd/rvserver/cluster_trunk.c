/* cluster_trunk.c - files and data across nodes: node-to-node TCP trunks.
 *
 * Frames of kind xfer-* (rvsend file and data: offers, chunks up to 1 MiB,
 * ends, aborts) to an id or a group that is not (only) here do not go
 * through the bus, which caps messages at 64 KiB and cuts slow subscribers:
 * they go over one TCP connection to each node that holds the receiver or
 * members, lib/trunk.h's framing and handshake (the cluster secret proved
 * both ways with HMAC-SHA256 over the other side's nonce). The answers of
 * receivers (accept, ack, done: replies to one connection) stay on the bus,
 * as they are small. A sender's frames to a target all take one trunk, in
 * order, so an end never overtakes the chunks before it.
 *
 * The port: a trunk rides on the node's listening port, told apart by its
 * preface "RVT1" (lib/sniff), rather than a port of its own: no new option,
 * port file or firewall rule, and the address the directory holds for a
 * node (--advertise, else the listening address, with the bound port) is
 * the one its clients use. The trunk is plain TCP even where clients use
 * TLS, like the bus: the nodes' network is assumed private.
 *
 * Where to: the directory names the live nodes holding the id or members of
 * the group (RV_DIR_NODES), cached ROUTE_TTL_MS per target. A sender whose
 * target is not cached is held (its input paused, as for any directory
 * request) until the directory answers, so its frames stay in order. A
 * trunk to a node is dialed on first use and reused by either side; frames
 * written while its handshake runs wait in its pending buffer (capped).
 *
 * Back-pressure, end to end and bounded:
 * - rvsend's window (acks from the receiver) bounds what one transfer has
 *   in flight, below half of --max-queue.
 * - Sending node: a trunk's output is capped at TRUNK_QUEUE_FACTOR x
 *   --max-queue; past half of --max-queue it counts as a congested receiver
 *   (flow.c): a sender that fed it is no longer read until it drains to a
 *   quarter. A frame the cap refuses gets its sender an error. A trunk is
 *   never dropped as a slow consumer: it waits for its peer.
 * - Receiving node: frames are delivered as from a local sender. When one
 *   reached only congested receivers, the trunk's reading side is paused
 *   (flow.c, as a local sender would be): TCP then pushes back to the
 *   sending node, whose trunk queue fills and holds its senders. A receiver
 *   congested past --slow-timeout is dropped as on one node, and reading
 *   resumes.
 * - Nothing accepted is lost silently: a frame the receiving node cannot
 *   deliver (receiver gone, not allowed, dropped) is answered over the trunk
 *   with an ack carrying the error, which its sender gets as on one node
 *   (with a seq: the request's error; without: an error frame); a frame no
 *   trunk took is an error at once; when a trunk closes (its node died),
 *   the senders that wrote to it within TRUNK_RECENT_MS get an error frame
 *   saying so, and a request still awaiting its answer times out with an
 *   error (ACK_TIMEOUT_MS). A node that stops (SIGSTOP, a wedged loop)
 *   keeps its TCP connections open: the keepalive (a PING each idle
 *   second, closed after TRUNK_SILENT_MS of silence) closes its trunks.
 *
 * Not across nodes: "monitor" (rvsend watching its receivers, rvrecv its
 * sender): the server answers ok for an id elsewhere (monitor.c), and the
 * transfer's --stall-timeout covers a receiver that goes.
 *
 * Ownership: struct trunk is the cluster's (cl->trunks), freed when its
 * connection closes (cl_trunk_conn_closed) or with the cluster; its
 * connection (c->trunk) is the server's, as any connection. Routes are the
 * cluster's (cl->routes), pruned on the one-second tick. */
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

#define ROUTE_TTL_MS 2000
#define ROUTES_MAX 4096
#define ROUTE_NODES 16
#define TRUNK_QUEUE_FACTOR 4
#define TRUNK_SENDERS 64            /* recent senders a trunk remembers */
#define TRUNK_RECENT_MS 10000       /* "recent": wrote within this long */
#define TRUNK_PING_MS 1000          /* a PING after this long with nothing sent */
#define TRUNK_SILENT_MS 3000        /* closed after this long with nothing heard
				     * (as long as a node's heartbeat is valid) */

struct trunk {
	struct trunk *prev, *next;
	struct cluster *cl;
	struct conn *c;               /* its connection (the server's) */
	struct rv_trunk eng;
	struct rv_buf pending;        /* frames written before the handshake completed */
	char want[RV_CMSG_NODE_MAX + 1]; /* dialer: the node it was dialed for */
	int dialer;
	uint64_t last_in, last_out;   /* loop ms of the last bytes heard, and sent */
	struct {                      /* senders that wrote to it lately (told if it closes) */
		uint64_t num, at;
	} senders[TRUNK_SENDERS];
};

struct troute {
	char key[RV_ID_MAX + 3];      /* "i:ID" or "g:GROUP" */
	uint64_t expires;
	int n;
	char inc[ROUTE_NODES][RV_CMSG_NODE_MAX + 1];
	char addr[ROUTE_NODES][96];
};

/* ---- trunks ---- */

static const char *peer_of(const struct trunk *t)
{
	if (t->dialer)
		return t->want;
	return t->eng.state == RV_TRUNK_UP ? t->eng.peer : "";
}

int cluster_trunk_up(const struct conn *c)
{
	return c->state == CONN_TRUNK && c->trunk && c->trunk->eng.state == RV_TRUNK_UP;
}

size_t cluster_trunks_up(const struct server *srv)
{
	size_t n = 0;
	for (struct trunk *t = srv->cluster ? srv->cluster->trunks : NULL; t; t = t->next)
		n += t->c && t->eng.state == RV_TRUNK_UP;
	return n;
}

/* A trunk's output cap: TRUNK_QUEUE_FACTOR x --max-queue. */
static size_t trunk_cap(const struct server *srv)
{
	size_t q = srv->conf.max_queue * TRUNK_QUEUE_FACTOR;
	return q > RV_BUF_MAX_CAP / 2 ? RV_BUF_MAX_CAP / 2 : q;
}

static void grow_input(struct conn *c)
{
	rv_buf_free(&c->in);
	rv_buf_init(&c->in, RV_TRUNK_FRAME_MAX + RV_IO_READ_SIZE);
	c->s.out.cap = c->s.inflight.cap = (uint32_t)trunk_cap(c->srv);
}

/* 1 when T holds back its senders: past half of --max-queue queued (its
 * connection is then in flow.c's congested list), or pending so much
 * before its handshake completed. */
static int trunk_congested(struct trunk *t)
{
	if (!t->c || t->c->closing)
		return 0;
	if (t->eng.state != RV_TRUNK_UP)
		return rv_buf_size(&t->pending) > t->cl->srv->conf.max_queue / 2;
	return flow_queued(t->c);
}

static struct trunk *trunk_new(struct cluster *cl, struct conn *c, int dialer)
{
	struct trunk *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (rv_trunk_init(&t->eng, dialer, cl->inc, cl->secret, cl->secret_len) < 0) {
		free(t);
		return NULL;
	}
	t->cl = cl;
	t->c = c;
	t->dialer = dialer;
	t->last_in = t->last_out = now_ms(cl->srv);
	rv_buf_init(&t->pending, trunk_cap(c->srv));	/* so that it fits in the queue once up */
	c->trunk = t;
	c->state = CONN_TRUNK;
	grow_input(c);
	struct trunk **tail = &cl->trunks;	/* appended: the oldest trunk to a node is the one used */
	while (*tail) {
		t->prev = *tail;
		tail = &(*tail)->next;
	}
	*tail = t;
	return t;
}

/* Remember sender C (its number) as one that wrote to T now. */
static void note_sender(struct trunk *t, struct conn *c, uint64_t now)
{
	int oldest = 0;
	for (int i = 0; i < TRUNK_SENDERS; i++) {
		if (t->senders[i].num == c->num) {
			t->senders[i].at = now;
			return;
		}
		if (t->senders[i].at < t->senders[oldest].at)
			oldest = i;
	}
	t->senders[oldest].num = c->num;
	t->senders[oldest].at = now;
}

/* T closed: the senders that wrote to it lately hear that what they sent
 * may not have arrived (it was accepted, so it is not lost silently). */
static void tell_senders(struct trunk *t)
{
	struct server *srv = t->cl->srv;
	uint64_t now = now_ms(srv);
	char key[24], why[200];
	snprintf(why, sizeof why, "the trunk to cluster node %s closed: what was sent through it may not have arrived",
		 peer_of(t)[0] ? peer_of(t) : "?");
	for (int i = 0; i < TRUNK_SENDERS; i++) {
		if (!t->senders[i].num || now - t->senders[i].at > TRUNK_RECENT_MS)
			continue;
		snprintf(key, sizeof key, "%" PRIu64, t->senders[i].num);
		struct conn *s = rv_map_get(&srv->by_num, key);
		if (s && !s->closing)
			conn_error(s, 0, RV_CODE_INTERNAL, why);
	}
}

void cl_trunk_conn_closed(struct conn *c)
{
	struct trunk *t = c->trunk;
	if (!t)
		return;
	struct cluster *cl = t->cl;
	if (t->eng.state == RV_TRUNK_UP)
		rv_info("cluster: the trunk with node %s closed", t->eng.peer);
	if (!cl->srv->life.stopping)
		tell_senders(t);
	RV_LIST_UNLINK(cl->trunks, t);
	int another = 0;	/* both nodes may have dialed: is one left? */
	for (struct trunk *o = cl->trunks; o; o = o->next)
		another |= o->eng.state == RV_TRUNK_UP && !strcmp(o->eng.peer, t->eng.peer);
	if (t->eng.state == RV_TRUNK_UP && !another && !cl->srv->life.stopping)
		cl_pipe_node_gone(cl, t->eng.peer);
	rv_buf_free(&t->pending);
	c->trunk = NULL;
	free(t);
}

void cl_trunk_free(struct cluster *cl)
{
	while (cl->trunks) {
		struct trunk *t = cl->trunks;
		cl->trunks = t->next;
		if (t->c)
			t->c->trunk = NULL;
		rv_buf_free(&t->pending);
		free(t);
	}
	size_t i = 0;
	struct troute *r;
	while ((r = rv_map_next(&cl->routes, &i, NULL)))
		free(r);
	rv_map_free(&cl->routes);
	rv_buf_free(&cl->thead);
}

static void on_connected(struct rv_stream *s, int status)
{
	struct conn *c = s->ud;
	struct trunk *t = c->trunk;
	if (status < 0 || !t)
		return;	/* the close callback follows */
	struct rv_buf out;
	rv_buf_init(&out, RV_TRUNK_HANDSHAKE_MAX);
	if (rv_trunk_start(&t->eng, &out) < 0 || rv_stream_write(&c->s, rv_buf_head(&out), rv_buf_size(&out)) < 0)
		conn_drop(c, RV_EPROTO);
	rv_buf_free(&out);
}

/* A trunk to node INC at ADDR ("IP:PORT", "[IP6]:PORT"), dialed now. */
static struct trunk *dial(struct cluster *cl, const char *inc, const char *addr)
{
	struct server *srv = cl->srv;
	char host[96];
	const char *colon = strrchr(addr, ':');
	int port = colon ? atoi(colon + 1) : 0;
	if (!colon || port <= 0 || port > 65535 || (size_t)(colon - addr) >= sizeof host)
		return NULL;
	if (addr[0] == '[' && colon > addr + 1 && colon[-1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)(colon - addr - 2), addr + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
	struct conn *c = conn_new(srv, srv->conf.max_queue);
	if (!c)
		return NULL;
	struct trunk *t = trunk_new(cl, c, 1);
	if (!t) {
		conn_drop(c, -ENOMEM);
		return NULL;
	}
	snprintf(t->want, sizeof t->want, "%s", inc);
	if (rv_stream_connect(&c->s, host, port, NULL, on_connected) < 0) {
		conn_drop(c, RV_ECLOSED);
		return NULL;
	}
	rv_debug("cluster: dialing node %s at %s for a trunk", inc, addr);
	return t;
}

static struct trunk *trunk_get(struct cluster *cl, const char *inc, const char *addr)
{
	for (struct trunk *t = cl->trunks; t; t = t->next)
		if (t->c && !t->c->closing && strcmp(peer_of(t), inc) == 0)
			return t;
	return addr[0] ? dial(cl, inc, addr) : NULL;
}

/* Write M (SCONN) with the payload HEAD and BODY to T: 0, or an error
 * (RV_ETOOBIG: its queue is full; RV_ECLOSED). */
static int trunk_write(struct trunk *t, const struct rv_cmsg *m, uint64_t sconn, const uint8_t *head, size_t hlen,
		       const uint8_t *body, size_t blen)
{
	struct cluster *cl = t->cl;
	struct server *srv = cl->srv;
	if (!t->c || t->c->closing)
		return RV_ECLOSED;
	rv_buf_reset(&cl->thead);
	int rc = rv_trunk_msg_head(&cl->thead, m, sconn, hlen + blen);
	if (rc < 0)
		return rc;
	size_t n = rv_buf_size(&cl->thead) + hlen + blen;
	if (t->eng.state != RV_TRUNK_UP) {
		if (!rv_buf_reserve(&t->pending, n))
			return RV_ETOOBIG;
		rv_buf_append(&t->pending, rv_buf_head(&cl->thead), rv_buf_size(&cl->thead));
		rv_buf_append(&t->pending, head, hlen);
		rv_buf_append(&t->pending, body, blen);
	} else {
		uv_buf_t b[3] = { uv_buf_init((char *)rv_buf_head(&cl->thead), (unsigned)rv_buf_size(&cl->thead)),
				  uv_buf_init((char *)head, (unsigned)hlen), uv_buf_init((char *)body, (unsigned)blen) };
		if ((rc = rv_stream_writev(&t->c->s, b, blen ? 3 : 2)) < 0)
			return rc;
		t->last_out = now_ms(srv);
	}
	srv->n.tr_frames_out++;
	srv->n.tr_bytes_out += n;
	return 0;
}

/* An ack to T's peer: for its message SEQ, or (SEQ 0) an error for its
 * connection SCONN. */
static void trunk_ack(struct trunk *t, uint64_t seq, uint64_t sconn, enum rv_code code, const char *text, int count,
		      cJSON *receivers)
{
	struct rv_cmsg m = { .type = RV_CMSG_ACK, .code = (uint8_t)code, .seq = seq, .conn = seq ? 0 : sconn,
			     .count = (uint32_t)count };
	snprintf(m.c, sizeof m.c, "%s", text ? text : "");
	char *ids = receivers ? cJSON_PrintUnformatted(receivers) : NULL;
	size_t n = ids ? strlen(ids) : 0;
	if (trunk_write(t, &m, 0, (const uint8_t *)(ids ? ids : ""), n, NULL, 0) < 0)
		rv_debug("cluster: an ack to node %s could not be queued", t->eng.peer);
	free(ids);
	cJSON_Delete(receivers);
}

/* ---- frames from a trunk ---- */

/* Queue payload frame M to C: 1 when queued (*FREE += it is not congested). */
static int deliver(struct server *srv, struct conn *c, const struct rv_cmsg *m, int *free_n)
{
	if (conn_send(c, m->payload, m->payload_len) < 0)
		return 0;
	*free_n += !flow_queued(c);
	srv->n.deliveries++;
	return 1;
}

static void direct_in(struct trunk *t, const struct rv_cmsg *m, uint64_t sconn)
{
	struct server *srv = t->cl->srv;
	struct rv_client *cli = rv_router_find(&srv->router, m->a);
	struct conn *to = cli ? cli->recv : NULL;
	enum rv_route_miss miss = RV_MISS_NONE;
	int free_n = 0;
	if (!to || to->closing)
		miss = RV_MISS_OFFLINE;
	else if (!rv_router_allows(cli, m->b))
		miss = RV_MISS_REFUSED;
	else if (!deliver(srv, to, m, &free_n))
		miss = RV_MISS_OFFLINE;
	else
		flow_fed(srv, 1, free_n);
	cJSON *ids = !miss && m->seq && m->code ? cJSON_CreateArray() : NULL;
	if (ids)
		cJSON_AddItemToArray(ids, cJSON_CreateString(m->a));
	if (m->seq || (miss && sconn))
		trunk_ack(t, m->seq, sconn, miss ? rv_route_miss_code(miss) : 0, miss ? rv_route_miss_text(miss) : NULL,
			  miss ? 0 : 1, ids);
	else
		cJSON_Delete(ids);
}

static void group_in(struct trunk *t, const struct rv_cmsg *m)
{
	struct server *srv = t->cl->srv;
	struct rv_group *g = rv_router_group(&srv->router, m->a);
	cJSON *ids = m->seq && m->code ? cJSON_CreateArray() : NULL;
	int n = 0, free_n = 0;
	for (size_t i = 0; g && i < g->n; i++) {
		struct rv_client *to = g->members[i];
		if (strcmp(to->id, m->b) == 0 || !to->recv || !rv_router_allows(to, m->b) ||
		    !deliver(srv, to->recv, m, &free_n))
			continue;
		n++;
		if (ids)
			cJSON_AddItemToArray(ids, cJSON_CreateString(to->id));
	}
	flow_fed(srv, n, free_n);
	if (m->seq)
		trunk_ack(t, m->seq, 0, 0, NULL, n, ids);
	else
		cJSON_Delete(ids);
}

/* An error for a frame of our connection M->conn that wanted no answer. */
static void error_in(struct cluster *cl, const struct rv_cmsg *m)
{
	char key[24];
	snprintf(key, sizeof key, "%" PRIu64, m->conn);
	struct conn *c = m->conn ? rv_map_get(&cl->srv->by_num, key) : NULL;
	if (c && !c->closing && m->code)
		conn_error(c, 0, (enum rv_code)m->code, m->c[0] ? m->c : NULL);
}

static int on_msg(void *ud, const struct rv_cmsg *m, uint64_t sconn)
{
	struct trunk *t = ud;
	struct cluster *cl = t->cl;
	struct server *srv = cl->srv;
	srv->n.tr_frames_in++;
	switch (m->type) {
	case RV_CMSG_DIRECT: direct_in(t, m, sconn); break;
	case RV_CMSG_GROUP: group_in(t, m); break;
	case RV_CMSG_PIPE: cl_pipe_msg(cl, t->eng.peer, m); break;
	case RV_CMSG_ACK:
		if (m->seq)
			cl_on_ack(cl, m);
		else
			error_in(cl, m);
		break;
	default: break;
	}
	/* stop at a frame that reached only congested receivers: flow.c pauses the trunk */
	return srv->feeding_congested || !t->c || t->c->closing;
}

static void trunk_is_up(struct trunk *t)
{
	struct conn *c = t->c;
	if (t->dialer && strcmp(t->eng.peer, t->want) != 0) {	/* another node at that address now */
		rv_info("cluster: node %s answered at the address of %s: closing that trunk", t->eng.peer, t->want);
		conn_drop(c, RV_EPROTO);
		return;
	}
	rv_info("cluster: trunk %s node %s up", t->dialer ? "to" : "from", t->eng.peer);
	if (rv_buf_size(&t->pending) &&
	    rv_stream_write(&c->s, rv_buf_head(&t->pending), rv_buf_size(&t->pending)) < 0) {
		t->cl->srv->n.tr_failed++;
		conn_drop(c, RV_ETOOBIG);
	}
	rv_buf_free(&t->pending);
	flow_queued(c);	/* congested from here on, if it is */
	c->srv->flow_drained = 1;	/* senders held for the handshake go on (flow.c) */
}

void cluster_trunk_input(struct conn *c, const uint8_t *p, size_t n)
{
	struct trunk *t = c->trunk;
	struct server *srv = c->srv;
	if (!t || c->closing)
		return;
	srv->n.tr_bytes_in += n;
	if (p && n)
		t->last_in = now_ms(srv);
	const uint8_t *in = p;
	size_t len = n;
	int kept = rv_buf_size(&c->in) > 0 || !p;
	if (kept) {	/* what was kept comes first */
		if (p && n && rv_buf_append(&c->in, p, n) < 0) {
			conn_drop(c, RV_ETOOBIG);
			return;
		}
		in = rv_buf_head(&c->in);
		len = rv_buf_size(&c->in);
	}
	struct rv_buf out;
	rv_buf_init(&out, 2 * RV_TRUNK_HANDSHAKE_MAX);
	enum rv_trunk_state before = t->eng.state;
	long rc = rv_trunk_input(&t->eng, in, len, &out, on_msg, t);
	if (rv_buf_size(&out) && !c->closing)
		rv_stream_write(&c->s, rv_buf_head(&out), rv_buf_size(&out));
	rv_buf_free(&out);
	if (c->closing)
		return;
	if (rc < 0) {
		char peer[64];
		rv_stream_peer(&c->s, peer, sizeof peer);
		if (before != RV_TRUNK_UP) {
			srv->n.tr_refused++;
			rv_info("cluster: a trunk from %s refused: %s", peer,
				rc == RV_EDENIED ? "it does not hold the cluster secret" : "not the trunk handshake");
		} else {
			srv->n.bad_input++;
			rv_info("cluster: the trunk with node %s sent a bad frame: %s", t->eng.peer, rv_strerror((int)rc));
		}
		conn_drop(c, (int)rc);
		return;
	}
	if (kept)
		rv_buf_consume(&c->in, (size_t)rc);
	else if ((size_t)rc < len && rv_buf_append(&c->in, p + rc, len - (size_t)rc) < 0) {
		conn_drop(c, RV_ETOOBIG);
		return;
	}
	if (before != RV_TRUNK_UP && t->eng.state == RV_TRUNK_UP)
		trunk_is_up(t);
}

void cluster_trunk_accept(struct conn *c, const uint8_t *p, size_t n)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || !trunk_new(cl, c, 0)) {
		conn_drop(c, -ENOMEM);
		return;
	}
	if (n)
		cluster_trunk_input(c, p, n);
}

/* ---- routes: which nodes a target is on ---- */

const char *cl_trunk_addr(struct cluster *cl)
{
	const struct server_conf *cf = &cl->srv->conf;
	const char *ip = cl->advertise[0] ? cl->advertise : cf->listen;
	if (!ip || !ip[0] || strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0)
		ip = "127.0.0.1";
	snprintf(cl->addr, sizeof cl->addr, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, cl->srv->bound_port);
	return cl->addr;
}

/* Keepalive, once a second: a PING on a trunk that sent nothing for
 * TRUNK_PING_MS, and a trunk whose peer said nothing for TRUNK_SILENT_MS is
 * closed (its recent senders are told, as when a node dies): a stopped or
 * wedged node keeps its TCP connections open, so only silence shows it.
 * While flow.c holds the trunk's reading (a congested receiver here), the
 * peer's PINGs wait unread: that is not silence. */
static void keepalive(struct cluster *cl, uint64_t now)
{
	struct server *srv = cl->srv;
	for (struct trunk *t = cl->trunks, *next; t; t = next) {
		next = t->next;
		struct conn *c = t->c;
		if (!c || c->closing || t->eng.state != RV_TRUNK_UP)
			continue;	/* a handshake has its own deadline (server.c's sweep) */
		if (c->paused)
			t->last_in = now;
		if (now - t->last_in >= TRUNK_SILENT_MS) {
			srv->n.tr_silent++;
			rv_info("cluster: node %s sent nothing on its trunk for %d s: closing it", t->eng.peer,
				TRUNK_SILENT_MS / 1000);
			conn_drop(c, RV_ETIMEOUT);
			continue;
		}
		if (now - t->last_out >= TRUNK_PING_MS) {
			rv_buf_reset(&cl->thead);
			if (rv_trunk_ping(&t->eng, &cl->thead) == 0 &&
			    rv_stream_write(&c->s, rv_buf_head(&cl->thead), rv_buf_size(&cl->thead)) == 0)
				t->last_out = now;
		}
	}
}

void cl_trunk_tick(struct cluster *cl, uint64_t now)
{
	keepalive(cl, now);
	size_t i = 0;
	const char *key;
	struct troute *r;
	while ((r = rv_map_next(&cl->routes, &i, &key)))
		if (r->expires <= now) {
			rv_map_del(&cl->routes, key);
			free(r);
			i = 0;
		}
}

static void route_key(char *out, size_t n, const char *to, const char *group)
{
	snprintf(out, n, "%s:%s", to ? "i" : "g", to ? to : group);
}

/* Send a frame of C's (as cl_trunk_route) along route R. */
static void send_via(struct conn *c, const struct troute *r, uint64_t seq, const char *to, const char *group,
		     const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers)
{
	struct server *srv = c->srv;
	struct cluster *cl = srv->cluster;
	if (r->n == 0) {	/* on no other node */
		if (to) {
			srv->n.cl_offline++;
			cJSON_Delete(receivers);
			conn_error(c, seq, RV_CODE_NO_SUCH_CLIENT, rv_route_miss_text(RV_MISS_NO_CLIENT));
		} else if (local_n > 0 || rv_router_group(&srv->router, group)) {
			if (seq) {
				cJSON *ok = proto_ok(seq);
				cJSON_AddNumberToObject(ok, "delivered", local_n);
				if (receivers)
					cJSON_AddItemToObject(ok, "receivers", receivers);
				conn_send_json(c, ok);
			} else {
				cJSON_Delete(receivers);
			}
		} else {
			cJSON_Delete(receivers);
			conn_error(c, seq, RV_CODE_NO_SUCH_GROUP, NULL);
		}
		return;
	}
	int want_ids = receivers != NULL;
	struct pmsg *p = NULL;
	if (!c->num)	/* errors for its frames that wanted no answer come back by this number */
		conn_number(c);
	if (seq && !(p = cl_pmsg_new(cl, c, seq, to, 0, group, local_n, receivers)))
		return;
	if (!seq)
		cJSON_Delete(receivers);
	struct rv_cmsg m = { .type = to ? RV_CMSG_DIRECT : RV_CMSG_GROUP, .seq = p ? p->nseq : 0,
			     .code = want_ids ? 1 : 0 };
	snprintf(m.a, sizeof m.a, "%s", to ? to : group);
	snprintf(m.b, sizeof m.b, "%s", c->client->id);
	int sent = 0, congested = 0, full = 0;
	for (int i = 0; i < r->n; i++) {
		struct trunk *t = trunk_get(cl, r->inc[i], r->addr[i]);
		int rc = t ? trunk_write(t, &m, c->num, head, hlen, body, blen) : RV_ECLOSED;
		if (rc < 0) {
			srv->n.tr_failed++;
			full |= rc == RV_ETOOBIG;
			continue;
		}
		sent++;
		congested |= trunk_congested(t);
		if (c->num)
			note_sender(t, c, now_ms(srv));
	}
	if (congested)
		srv->feeding_congested = 1;	/* this sender waits for the trunk (flow.c) */
	if (sent == 0 || (to && sent < r->n)) {
		char key[RV_ID_MAX + 3];
		route_key(key, sizeof key, to, group);
		free(rv_map_del(&cl->routes, key));	/* ask the directory again next time */
		const char *why = full ? "not sent: the trunk to the receiving node is full"
				       : "not sent: no trunk to the receiving node";
		conn_error(c, seq, full ? RV_CODE_LIMIT : RV_CODE_INTERNAL, why);
		if (p) {
			p->c = NULL;
			cl_pmsg_free(p);
		}
		return;
	}
	if (p) {
		p->published = 1;
		p->acks = sent;
	}
}

static void on_nodes(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	struct conn *c = q->c;
	if (c && !c->closing && r->err) {
		conn_error(c, q->seq, RV_CODE_INTERNAL, "not sent: the cluster directory did not answer");
	} else if (c && !c->closing) {
		struct troute *rt = calloc(1, sizeof *rt), tmp;
		struct troute *use = rt ? rt : &tmp;
		memset(&tmp, 0, sizeof tmp);
		for (size_t i = 0; i + 1 < r->n && use->n < ROUTE_NODES; i += 2) {
			if (r->len[i] > RV_CMSG_NODE_MAX || r->len[i + 1] >= sizeof use->addr[0])
				continue;
			snprintf(use->inc[use->n], sizeof use->inc[0], "%.*s", (int)r->len[i], r->v[i]);
			snprintf(use->addr[use->n], sizeof use->addr[0], "%.*s", (int)r->len[i + 1], r->v[i + 1]);
			use->n++;
		}
		route_key(use->key, sizeof use->key, q->id[0] ? q->id : NULL, q->group);
		use->expires = now_ms(cl->srv) + ROUTE_TTL_MS;
		send_via(c, use, q->seq, q->id[0] ? q->id : NULL, q->id[0] ? NULL : q->group, (const uint8_t *)q->hdr,
			 q->hdr_len, q->body, q->body_len, q->num, q->members);
		q->members = NULL;
		if (rt) {
			free(rv_map_del(&cl->routes, rt->key));
			if (cl->routes.count >= ROUTES_MAX || rv_map_put(&cl->routes, rt->key, rt) < 0)
				free(rt);
		}
		flow_after_input(c);
	}
	cl_req_free(q);
	cl_release(c);
}

int cl_trunk_route(struct conn *c, uint64_t seq, const char *to, const char *group, const uint8_t *head,
		   size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers)
{
	struct cluster *cl = c->srv->cluster;
	char key[RV_ID_MAX + 3];
	route_key(key, sizeof key, to, group);
	struct troute *r = rv_map_get(&cl->routes, key);
	if (r && r->expires > now_ms(c->srv)) {
		send_via(c, r, seq, to, group, head, hlen, body, blen, local_n, receivers);
		return 1;
	}
	struct creq *q = cl_bus_up(cl) ? cl_req_new(cl, c, seq, to, to ? NULL : group) : NULL;
	if (q) {
		q->hdr = malloc(hlen + 1);
		q->body = malloc(blen + 1);
	}
	const char *argv[] = { cl->inc, to ? "id" : "group", to ? to : group };
	if (!q || !q->hdr || !q->body || cl_dir(cl, RV_DIR_NODES, 3, argv, NULL, on_nodes, q) < 0) {
		if (q)
			cl_req_free(q);
		cJSON_Delete(receivers);
		cl->srv->n.cl_failed++;
		conn_error(c, seq, RV_CODE_INTERNAL, "not sent: the cluster bus is unavailable");
		return 1;
	}
	memcpy(q->hdr, head, hlen);
	if (blen)
		memcpy(q->body, body, blen);
	q->hdr_len = hlen;
	q->body_len = blen;
	q->num = local_n;
	q->members = receivers;
	cl_hold(c);
	return 1;
}

int cl_trunk_send(struct cluster *cl, const char *inc, const char *addr, const struct rv_cmsg *m, const uint8_t *p,
		  size_t n)
{
	struct trunk *t = trunk_get(cl, inc, addr);
	int rc = t ? trunk_write(t, m, 0, p, n, NULL, 0) : RV_ECLOSED;
	if (rc < 0)
		cl->srv->n.tr_failed++;
	return rc;
}
