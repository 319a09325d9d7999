/* flow.c - flow control between senders and slow receivers.
 *
 * Every connection's output is its own queue, capped by --max-queue. A
 * receiver whose queue passes half the cap is congested. A slow receiver
 * costs only itself:
 * - A message that reaches at least one receiver that is not congested
 *   never holds its sender back: the receivers that keep up get it at once,
 *   the congested ones queue it.
 * - Only a sender whose message reached nothing but congested receivers
 *   (it is faster than every receiver it feeds) is no longer read, and TCP
 *   pushes back on it. It is read again as soon as one congested receiver
 *   drains to a quarter of its cap, leaves, or is dropped.
 * - A receiver congested for longer than --slow-timeout, or whose queue
 *   reaches the cap, is dropped as a slow consumer: it is told why
 *   (bye slow-consumer) and its connection closes; whoever monitors it
 *   learns at once (see monitor.c).
 * So a receiver that keeps up loses nothing, memory stays bounded, and a
 * stalled receiver delays nobody but a sender that feeds it alone, for at
 * most --slow-timeout.
 *
 * On the input side a connection holds at most one frame (c->in, capped
 * at --max-frame and a header) plus, while it is held, the rest of its last
 * read. The rest of a bulk frame (64 KiB or more: file and stream data) is
 * read straight into c->in (rv_frame_room, server.c's conn_room) and
 * handled there, so data is never copied on its way through; between bulk
 * frames c->in keeps its memory, and lets it go after a smaller frame. */
#include <stdlib.h>

#include "log.h"
#include "server.h"
#include "vec.h"

static int list_add(struct conn_list *l, struct conn *c)
{
	if (rv_grow((void **)&l->v, &l->alloc, l->n + 1, sizeof *l->v) < 0)
		return -1;
	l->v[l->n++] = c;
	return 0;
}

static void list_del(struct conn_list *l, size_t i)
{
	l->v[i] = l->v[--l->n];
}

static void list_remove(struct conn_list *l, struct conn *c)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == c) {
			list_del(l, i);
			return;
		}
}

int flow_queued(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->closing)
		return 0;	/* going away: it holds nobody back */
	if (!c->congested_since) {
		if (rv_stream_queued(&c->s) <= srv->conf.max_queue / 2)
			return 0;
		if (list_add(&srv->congested, c) < 0)
			return 0;
		c->congested_since = now_ms(srv) + 1;	/* loop time + 1: never 0 */
		rv_debug("%s is congested (%zu bytes queued)",
			 c->client ? c->client->id : "?", rv_stream_queued(&c->s));
	}
	return 1;
}

void flow_fed(struct server *srv, int delivered, int free_receivers)
{
	if (delivered > 0 && free_receivers == 0)
		srv->feeding_congested = 1;
}

void flow_after_input(struct conn *c)
{
	struct server *srv = c->srv;
	if (!srv->feeding_congested)
		return;
	srv->feeding_congested = 0;
	if (c->paused || c->closing || list_add(&srv->paused, c) < 0)
		return;
	c->paused = 1;
	srv->n.pauses++;
	rv_stream_pause(&c->s, 1);
}

void flow_leave(struct conn *c)
{
	if (c->client && !c->leaving && list_add(&c->srv->leaving, c) == 0)
		c->leaving = 1;
}

/* Detach the clients of connections that said bye (not during routing:
 * the router may be walking a group when a receiver is dropped). */
static void settle_leaving(struct server *srv)
{
	while (srv->leaving.n) {
		struct conn *c = srv->leaving.v[--srv->leaving.n];
		c->leaving = 0;
		relay_conn_closed(&c->srv->relay, c);	/* its streams end, its subscriptions go, now */
		if (!c->client)
			continue;
		if (c->client->recv == c) {
			c->client->recv = NULL;
			cluster_recv_gone(c);
		}
		rv_router_detach(&srv->router, c->client);
		c->client = NULL;
	}
}

void flow_forget(struct conn *c)
{
	if (c->leaving)
		list_remove(&c->srv->leaving, c);
	c->leaving = 0;
	if (c->congested_since) {
		list_remove(&c->srv->congested, c);
		c->srv->flow_drained = 1;	/* senders held for it may go on */
	}
	if (c->paused)
		list_remove(&c->srv->paused, c);
	c->congested_since = 0;
	c->paused = 0;
}

/* Before each poll: settle congested receivers, then resume senders. */
static void on_prepare(uv_prepare_t *h)
{
	struct server *srv = h->data;
	uint64_t now = now_ms(srv);
	uint64_t limit = (uint64_t)(srv->conf.slow_timeout * 1000);

	for (size_t i = srv->congested.n; i-- > 0;) {
		struct conn *c = srv->congested.v[i];
		if (c->closing || rv_stream_queued(&c->s) <= srv->conf.max_queue / 4) {
			c->congested_since = 0;
			list_del(&srv->congested, i);
			srv->flow_drained = 1;
		} else if (now + 1 - c->congested_since >= limit && c->state != CONN_TRUNK) {
			/* (a trunk is never dropped as slow: its senders wait for it) */
			c->congested_since = 0;
			list_del(&srv->congested, i);
			srv->flow_drained = 1;
			conn_drop_slow(c);
		}
	}
	settle_leaving(srv);
	if (srv->flow_drained && srv->paused.n) {
		/* A receiver drained, left or was dropped: resume every held
		 * sender. Each first handles what it had read; one whose next
		 * message again reaches only congested receivers is held again. */
		srv->flow_drained = 0;
		struct conn_list resumed = srv->paused;
		srv->paused = (struct conn_list){ 0 };
		for (size_t i = 0; i < resumed.n; i++) {
			struct conn *c = resumed.v[i];
			c->paused = 0;
			if (c->closing || c->held)	/* held: cluster.c resumes it */
				continue;
			rv_stream_pause(&c->s, 0);
			if (c->state == CONN_RV && rv_buf_size(&c->in)) {
				proto_input(c, NULL, 0);
				flow_after_input(c);
			} else if (c->state == CONN_TRUNK && rv_buf_size(&c->in)) {
				cluster_trunk_input(c, NULL, 0);
				flow_after_input(c);
			}
		}
		free(resumed.v);
	}
}

void flow_init(struct server *srv)
{
	uv_prepare_init(srv->loop, &srv->flow);
	srv->flow.data = srv;
	uv_prepare_start(&srv->flow, on_prepare);
	uv_unref((uv_handle_t *)&srv->flow);
}

void flow_close(struct server *srv)
{
	uv_close((uv_handle_t *)&srv->flow, NULL);
	free(srv->congested.v);
	free(srv->paused.v);
	free(srv->leaving.v);
	srv->leaving = (struct conn_list){ 0 };
	srv->congested = (struct conn_list){ 0 };
	srv->paused = (struct conn_list){ 0 };
}
