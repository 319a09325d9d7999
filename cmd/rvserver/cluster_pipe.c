/* cluster_pipe.c - live media across nodes: node-to-node UDP pipes.
 *
 * A stream ("stream" request) to an id or a group that is (also) on other
 * nodes: the directory names those nodes (RV_DIR_NODES, asked before the
 * stream is made, with the sender's input held so its packets wait); the
 * stream gets one receiver edge per node (relay_pipe_attach). That edge
 * sends the stream's announce over the node's trunk (RV_CMSG_PIPE, code
 * STEP_STREAM: target, sender, announce with the SRTP key as the sender
 * gave it, and the sending node's UDP address); the other node makes the
 * stream's source edge there (relay_pipe_stream, as the remote sender) and
 * relays it to its receivers exactly as a local stream (TCP or UDP), then
 * answers STEP_WANT with its own UDP address. From then on the stream's
 * packets go as datagrams between the two nodes' relay UDP ports, behind
 * lib/mpipe.h's 8-byte head (the stream's number on the sending node); the
 * receivers' RTCP (NACK, PLI, RR) comes back the same way and goes to the
 * sender, which answers NACKs from its own history; a new receiver there
 * asks the sender for a keyframe (STEP_KEYFRAME, as relay.c asks for a local
 * one), as does the WANT. The relay never decrypts: SRTP stays end to end.
 * The stream's end crosses as STEP_END; a pipe silent for PIPE_SILENCE_MS
 * ends the stream for the receiving node's receivers (stream-end), which
 * tells the sending node to stop piping it (STEP_UNWANT).
 *
 * Who may send datagrams: each node registers, for each peer node, one
 * "door" edge at the UDP address the peer declared over its trunk; a
 * datagram from any other address is not a pipe's (relay.c counts it
 * unknown). The trunk's handshake proved the peer holds the cluster secret,
 * so the address comes from an authenticated node; a per-datagram MAC is
 * not added, for the reason the trunk is not encrypted: the nodes' network
 * is assumed private (no spoofed sources), and a forged packet could not
 * pass the receivers' SRTP authentication anyway (it costs them a decrypt
 * attempt, no more). Datagrams with a bad head or an unknown stream are
 * refused (counted).
 *
 * Which nodes: those the directory names when the stream starts, then,
 * every REPIPE_MS, any node new to it (a member joining the group there
 * mid-stream gets it within about 2 s, from a keyframe); 16 nodes per
 * stream. A node whose receivers all left keeps getting the stream until
 * it ends (its relay then has no one to send it to). When the last
 * trunk with a node closes (it died, or fell silent: cluster_trunk.c's
 * keepalive), its pipes' streams end both ways at once. Packets are sent one sendto each
 * (relay_udp_send), not through the relay's batch.
 *
 * Ownership: pipes (one per peer node) and their stream entries are the
 * cluster's (cl->pipes), freed with it or when their stream ends (at the
 * next tick: an edge is not freed inside its own callback). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "mpipe.h"
#include "rtp.h"

#define PIPE_SILENCE_MS 3000
#define REPIPE_MS 2000
#define PIPE_DGRAM_MAX 1600

/* The steps (RV_CMSG_PIPE's code); seq: the stream's number on the sending node. */
enum {
	STEP_STREAM_TO = 1,   /* -> a new stream for id a from b; c the sender's UDP address */
	STEP_STREAM_GROUP,    /* -> the same for group a */
	STEP_WANT,            /* <- taken: c the receiving node's UDP address */
	STEP_END,             /* -> it ended */
	STEP_KEYFRAME,        /* <- a receiver there needs a keyframe */
	STEP_UNWANT           /* <- the receiving node ended it (pipe silence): stop sending */
};

struct pipe_s {                       /* one stream through a pipe, either way */
	struct pipe_s *next;
	struct cl_pipe *p;
	int out;                      /* 1: ours, to the peer; 0: the peer's, here */
	uint32_t id;                  /* out: our stream's number; in: the peer's */
	char to[RV_ID_MAX + 1], group[RV_ID_MAX + 1];	/* out: its target */
	struct relay_ep *ep;
	struct rv_client *as;         /* in: the remote sender, as a client here */
	uint64_t last;                /* in: the last datagram (ms) */
	int wanted;                   /* out: the peer answered STEP_WANT (packets go from then on) */
	int dead;
};

struct cl_pipe {
	struct cl_pipe *next;
	struct cluster *cl;
	char inc[RV_CMSG_NODE_MAX + 1], addr[96];	/* the peer node and its trunk address */
	struct sockaddr_storage to;   /* its UDP address, once it told it */
	int have_to;
	struct relay_ep *door;        /* registered at that address: its datagrams */
	struct pipe_s *s;
};

static struct relay *relay_of(struct cluster *cl) { return &cl->srv->relay; }

/* "IP:PORT" (IPv4, or IPv6 in brackets or not) into SA. 0 or -1. */
static int parse_addr(const char *s, struct sockaddr_storage *sa)
{
	char ip[96];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof ip)
		return -1;
	long port = strtol(colon + 1, NULL, 10);
	size_t n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memcpy(ip, s + 1, n - 2);
		ip[n - 2] = 0;
	} else {
		memcpy(ip, s, n);
		ip[n] = 0;
	}
	if (port <= 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof *sa);
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

/* This node's pipe address: its trunk address's IP, its relay UDP port. */
static void my_udp(struct cluster *cl, char *out, size_t n)
{
	char ip[96];
	snprintf(ip, sizeof ip, "%s", cl_trunk_addr(cl));
	char *colon = strrchr(ip, ':');
	if (colon)
		*colon = 0;
	snprintf(out, n, "%s:%d", ip, cl->srv->bound_udp_port);
}

static void send_step(struct cl_pipe *p, int step, uint32_t id, const char *a, const char *b, const char *payload)
{
	struct cluster *cl = p->cl;
	struct rv_cmsg m = { .type = RV_CMSG_PIPE, .code = (uint8_t)step, .seq = id };
	snprintf(m.a, sizeof m.a, "%s", a ? a : "");
	snprintf(m.b, sizeof m.b, "%s", b ? b : "");
	if (step == STEP_STREAM_TO || step == STEP_STREAM_GROUP || step == STEP_WANT)
		my_udp(cl, m.c, sizeof m.c);
	size_t n = payload ? strlen(payload) : 0;
	if (cl_trunk_send(cl, p->inc, p->addr, &m, (const uint8_t *)(payload ? payload : ""), n) < 0) {
		cl->srv->n.pipe_failed++;
		rv_warn("cluster: a media pipe step to node %s could not be sent", p->inc);
	}
}

/* A datagram to the peer: HEAD for ID and FLAGS, then P. */
static void send_dgram(struct cl_pipe *p, uint32_t id, uint16_t flags, const uint8_t *pk, size_t n)
{
	struct server *srv = p->cl->srv;
	uint8_t d[PIPE_DGRAM_MAX];
	if (!p->have_to || n > sizeof d - RV_MPIPE_HEAD) {
		srv->n.pipe_failed++;
		return;
	}
	rv_mpipe_head(d, id, flags);
	memcpy(d + RV_MPIPE_HEAD, pk, n);
	relay_udp_send(&srv->relay, d, RV_MPIPE_HEAD + n, (const struct sockaddr *)&p->to);
	srv->n.pipe_packets_out++;
	srv->n.pipe_bytes_out += RV_MPIPE_HEAD + n;
}

static void nop_dgram(void *ud, uint8_t *p, size_t n, const struct sockaddr *from) { (void)ud, (void)p, (void)n, (void)from; }
static void nop_kf(void *ud, uint32_t id) { (void)ud, (void)id; }
static void nop_stream(void *ud, const cJSON *a, uint32_t fb) { (void)ud, (void)a, (void)fb; }

/* ---- our stream, to the peer (a receiver edge here) ---- */

static void out_packet(void *ud, const uint8_t *pk, size_t n)
{
	struct pipe_s *s = ud;
	if (!s->dead && s->wanted)	/* not before the peer made the stream: it would refuse them */
		send_dgram(s->p, s->id, RV_MPIPE_FORWARD, pk, n);
}

static void out_stream(void *ud, const cJSON *announce, uint32_t fb_ssrc)
{
	(void)fb_ssrc;	/* the peer gives its receivers their own */
	struct pipe_s *s = ud;
	char *a = cJSON_PrintUnformatted(announce);
	const char *from = rv_json_str(announce, "from");
	if (a)
		send_step(s->p, s->to[0] ? STEP_STREAM_TO : STEP_STREAM_GROUP, s->id, s->to[0] ? s->to : s->group, from,
			  a);
	free(a);
}

static void out_end(void *ud, uint32_t id)
{
	struct pipe_s *s = ud;
	(void)id;
	if (!s->dead)
		send_step(s->p, STEP_END, s->id, NULL, NULL, NULL);
	s->dead = 1;
}

static const struct relay_edge out_ops = { nop_dgram, out_packet, nop_kf, out_stream, out_end };

/* ---- the peer's stream, here (a source edge) ---- */

static void in_packet(void *ud, const uint8_t *pk, size_t n)
{
	struct pipe_s *s = ud;	/* our receivers' RTCP: back to the sender */
	if (!s->dead)
		send_dgram(s->p, s->id, RV_MPIPE_FEEDBACK, pk, n);
}

static void in_keyframe(void *ud, uint32_t id)
{
	struct pipe_s *s = ud;
	(void)id;
	if (!s->dead)
		send_step(s->p, STEP_KEYFRAME, s->id, NULL, NULL, NULL);
}

static void in_end(void *ud, uint32_t id) { (void)ud, (void)id; }

static const struct relay_edge in_ops = { nop_dgram, in_packet, in_keyframe, nop_stream, in_end };

/* ---- pipes ---- */

static struct pipe_s *find_s(struct cl_pipe *p, int out, uint32_t id)
{
	for (struct pipe_s *s = p->s; s; s = s->next)
		if (s->out == out && s->id == id && !s->dead)
			return s;
	return NULL;
}

static void door_dgram(void *ud, uint8_t *pk, size_t n, const struct sockaddr *from)
{
	(void)from;	/* the door's address: the peer's */
	struct cl_pipe *p = ud;
	struct server *srv = p->cl->srv;
	struct rv_mpipe m;
	struct pipe_s *s;
	if (rv_mpipe_parse(pk, n, &m) < 0 ||
	    !(s = find_s(p, m.flags == RV_MPIPE_FEEDBACK, m.stream))) {
		srv->n.pipe_refused++;
		return;
	}
	srv->n.pipe_packets_in++;
	srv->n.pipe_bytes_in += n;
	if (s->out) {
		relay_pipe_feedback(&srv->relay, s->ep, s->id, m.packet, m.len);
	} else {
		s->last = now_ms(srv);
		relay_edge_packet(&srv->relay, s->ep, m.packet, m.len);
	}
}

static void nop_packet(void *ud, const uint8_t *p, size_t n) { (void)ud, (void)p, (void)n; }
static const struct relay_edge door_ops = { door_dgram, nop_packet, nop_kf, nop_stream, nop_kf };

static struct cl_pipe *pipe_get(struct cluster *cl, const char *inc, const char *addr)
{
	struct cl_pipe *p;
	for (p = cl->pipes; p; p = p->next)
		if (!strcmp(p->inc, inc))
			break;
	if (!p) {
		if (!(p = calloc(1, sizeof *p)))
			return NULL;
		p->cl = cl;
		snprintf(p->inc, sizeof p->inc, "%s", inc);
		p->next = cl->pipes;
		cl->pipes = p;
	}
	if (addr && addr[0])
		snprintf(p->addr, sizeof p->addr, "%s", addr);
	return p;
}

/* The peer's UDP address is TEXT (told over its trunk): its door. */
static void pipe_door(struct cl_pipe *p, const char *text)
{
	struct sockaddr_storage sa;
	if (parse_addr(text, &sa) < 0)
		return;
	if (!p->door && !(p->door = relay_edge_new(relay_of(p->cl), NULL, &door_ops, p)))
		return;
	p->to = sa;
	p->have_to = 1;
	relay_edge_addr(relay_of(p->cl), p->door, (const struct sockaddr *)&sa);
}

static void s_free(struct cluster *cl, struct pipe_s *s)
{
	relay_edge_free(relay_of(cl), s->ep);
	if (s->as)
		rv_router_detach(&cl->srv->router, s->as);
	free(s);
}

static void stream_in(struct cluster *cl, struct cl_pipe *p, const struct rv_cmsg *m)
{
	struct server *srv = cl->srv;
	cJSON *a = cJSON_ParseWithLength((const char *)m->payload, m->payload_len);
	const char *from = rv_json_str(a, "from");
	struct pipe_s *s = calloc(1, sizeof *s);
	int64_t id = RV_EPROTO;
	if (s && from && rv_id_valid(from) && m->seq && m->seq <= UINT32_MAX && !find_s(p, 0, (uint32_t)m->seq)) {
		s->p = p;
		s->id = (uint32_t)m->seq;
		s->last = now_ms(srv);
		if ((s->as = rv_router_attach(&srv->router, from)) && (s->ep = relay_edge_new(&srv->relay, s->as, &in_ops, s)))
			id = relay_pipe_stream(&srv->relay, s->ep, a, m->code == STEP_STREAM_TO ? m->a : NULL,
					       m->code == STEP_STREAM_GROUP ? m->a : NULL);
	}
	cJSON_Delete(a);
	if (id < 0) {
		rv_warn("cluster: stream %" PRIu64 " from node %s refused: %s", m->seq, p->inc, rv_strerror((int)id));
		srv->n.pipe_refused++;
		if (s) {
			if (s->ep)
				relay_edge_free(&srv->relay, s->ep);
			if (s->as)
				rv_router_detach(&srv->router, s->as);
			free(s);
		}
		return;
	}
	s->next = p->s;
	p->s = s;
	pipe_door(p, m->c);
	send_step(p, STEP_WANT, s->id, NULL, NULL, NULL);
}

void cl_pipe_msg(struct cluster *cl, const char *peer, const struct rv_cmsg *m)
{
	struct cl_pipe *p = pipe_get(cl, peer, NULL);
	struct pipe_s *s;
	if (!p)
		return;
	switch (m->code) {
	case STEP_STREAM_TO:
	case STEP_STREAM_GROUP: stream_in(cl, p, m); break;
	case STEP_WANT:
		pipe_door(p, m->c);
		if ((s = find_s(p, 1, (uint32_t)m->seq))) {
			s->wanted = 1;
			relay_pipe_keyframe(relay_of(cl), s->id);	/* what went before is lost there */
		}
		break;
	case STEP_KEYFRAME:
		if ((s = find_s(p, 1, (uint32_t)m->seq)))
			relay_pipe_keyframe(relay_of(cl), s->id);
		break;
	case STEP_END:
	case STEP_UNWANT:
		if ((s = find_s(p, m->code == STEP_UNWANT, (uint32_t)m->seq)))
			s->dead = 1;	/* ended at once, below */
		cl_pipe_tick(cl, now_ms(cl->srv));
		break;
	default: cl->srv->n.pipe_refused++; break;
	}
}

void cl_pipe_tick(struct cluster *cl, uint64_t now)
{
	for (struct cl_pipe *p = cl->pipes; p; p = p->next)
		for (struct pipe_s **pp = &p->s, *s; (s = *pp);) {
			if (!s->out && !s->dead && now - s->last > PIPE_SILENCE_MS) {
				rv_info("cluster: stream %u from node %s: pipe silent, ended", s->id, p->inc);
				cl->srv->n.pipe_silent++;
				send_step(p, STEP_UNWANT, s->id, NULL, NULL, NULL);
				s->dead = 1;
			}
			if (!s->dead) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			s_free(cl, s);
		}
}

void cl_pipe_node_gone(struct cluster *cl, const char *inc)
{
	struct cl_pipe *p;
	for (p = cl->pipes; p && strcmp(p->inc, inc); p = p->next)
		;
	if (!p || !p->s)
		return;
	for (struct pipe_s *s = p->s; s; s = s->next) {
		if (!s->dead)
			rv_info("cluster: stream %u %s node %s: its trunk closed, the stream ends there", s->id,
				s->out ? "to" : "from", inc);
		s->dead = 1;	/* sends nothing more; freed at the next tick (maybe
				 * inside a relay callback here) */
	}
}

void cl_pipe_free(struct cluster *cl)
{
	while (cl->pipes) {
		struct cl_pipe *p = cl->pipes;
		cl->pipes = p->next;
		while (p->s) {
			struct pipe_s *s = p->s;
			p->s = s->next;
			s_free(cl, s);
		}
		relay_edge_free(relay_of(cl), p->door);
		free(p);
	}
}

/* ---- a new stream of a connection's ---- */

/* Stream ID (to TO or GROUP) gets a receiver edge for each node R names
 * ([INC, ADDR]...) that it is not yet piped to. */
static void pipe_out_nodes(struct cluster *cl, uint32_t id, const char *to, const char *group,
			   const struct rv_bus_reply *r)
{
	for (size_t i = 0; i + 1 < r->n; i += 2) {
		char inc[RV_CMSG_NODE_MAX + 1], addr[96];
		if (r->len[i] > RV_CMSG_NODE_MAX || r->len[i + 1] >= sizeof addr)
			continue;
		snprintf(inc, sizeof inc, "%.*s", (int)r->len[i], r->v[i]);
		snprintf(addr, sizeof addr, "%.*s", (int)r->len[i + 1], r->v[i + 1]);
		struct cl_pipe *p = pipe_get(cl, inc, addr);
		if (!p)
			continue;
		struct pipe_s *s;
		for (s = p->s; s && (!s->out || s->dead || s->id != id); s = s->next)
			;
		if (s || !(s = calloc(1, sizeof *s)))	/* piped there already */
			continue;
		s->p = p;
		s->out = 1;
		s->id = id;
		snprintf(to ? s->to : s->group, sizeof s->to, "%s", to ? to : group);
		if (!(s->ep = relay_edge_new(&cl->srv->relay, NULL, &out_ops, s))) {
			free(s);
			continue;
		}
		s->next = p->s;
		p->s = s;
		if (relay_pipe_attach(&cl->srv->relay, id, s->ep) < 0)
			s->dead = 1;	/* freed at the tick */
	}
}

static void on_nodes(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	struct conn *c = q->c;
	if (c && !c->closing) {
		struct rv_frame_view v = { q->hdr, q->hdr_len, q->body, q->body_len };
		c->checked = 1;
		cl->srv->relay.next_nodes = r->err ? 0 : (int)(r->n / 2);
		proto_frame_view(c, &v);	/* the stream, made here as on one node */
		cl->srv->relay.next_nodes = 0;
		c->checked = 0;
		uint32_t id = relay_conn_newest(&cl->srv->relay, c);
		if (id && !r->err)
			pipe_out_nodes(cl, id, q->id[0] ? q->id : NULL, q->group[0] ? q->group : NULL, r);
	}
	cl_release(c);
	cl_req_free(q);
}

/* ---- streams follow their receivers to new nodes ---- */

static void on_nodes_again(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	if (!r->err)
		pipe_out_nodes(q->cl, (uint32_t)q->seq, q->id[0] ? q->id : NULL, q->group[0] ? q->group : NULL, r);
	q->cl->repipe_asking--;
	cl_req_free(q);
}

static void ask_nodes_again(void *ud, uint32_t id, const char *to, const char *group)
{
	struct cluster *cl = ud;
	struct creq *q = cl_req_new(cl, NULL, id, to, to ? NULL : group);
	if (!q)
		return;
	const char *argv[] = { cl->inc, to ? "id" : "group", to ? to : group };
	if (cl_dir(cl, RV_DIR_NODES, 3, argv, NULL, on_nodes_again, q) < 0) {
		cl_req_free(q);
		return;
	}
	cl->repipe_asking++;
}

/* Every REPIPE_MS: the directory is asked again where each stream sent
 * here has receivers, and nodes new to it (a member who joined the group
 * there, a receiver who logged in there) get it from now on (their WANT
 * brings them a keyframe). Not while the last round is unanswered. */
void cl_pipe_repipe(struct cluster *cl, uint64_t now)
{
	if (now < cl->repipe_at || cl->repipe_asking || !cl_bus_up(cl))
		return;
	cl->repipe_at = now + REPIPE_MS;
	relay_each_sent(&cl->srv->relay, ask_nodes_again, cl);
}

int cluster_media_route(struct conn *c, const struct rv_frame_view *v, const char *to, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || c->checked || !cl_bus_up(cl) || (!to && !group))
		return 0;
	if (to) {
		struct rv_client *t = rv_router_find(&c->srv->router, to);
		if (t && t->recv)
			return 0;
	}
	struct creq *q = cl_req_new(cl, c, 0, to, to ? NULL : group);
	if (!q)
		return 0;
	q->hdr = malloc(v->hdr_len + 1);
	q->body = malloc(v->body_len + 1);
	const char *argv[] = { cl->inc, to ? "id" : "group", to ? to : group };
	if (!q->hdr || !q->body || cl_dir(cl, RV_DIR_NODES, 3, argv, NULL, on_nodes, q) < 0) {
		cl_req_free(q);
		return 0;
	}
	memcpy(q->hdr, v->hdr, v->hdr_len);
	memcpy(q->body, v->body, v->body_len);
	q->hdr_len = v->hdr_len;
	q->body_len = v->body_len;
	cl_hold(c);
	return 1;
}
