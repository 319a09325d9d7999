/* cluster_home.c - where a group's live media is: its home node.
 *
 * WebRTC sessions do not cross nodes, so a group's media has one home: the
 * node of its first source, recorded in the directory (RV_DIR_HOME_CLAIM,
 * one atomic script: the first live claimer wins; the key goes with
 * RV_DIR_HOME_DROP when the node's last source of the group ends, and with
 * the node when SWEEP reaps it). A source is a WHIP session from its
 * accepted POST to its end, and any relay stream to the group (rvsend
 * media, or a WHIP session's tracks once its keys are up; not one piped
 * from another node): see
 * cluster_source.
 *
 * Why a WHIP session counts from its accepted offer, not from ICE or its
 * first packet: the answer commits this node to receive the publisher's
 * media, and a viewer who POSTs meanwhile (publisher and viewers often
 * start together) must be sent where that media will arrive. A WHIP POST
 * claims the home before its session is made (one atomic step, so two
 * publishers POSTing to two nodes at once cannot both be home: the loser
 * gets the 307); a session that never completes ICE ends within 10 s and
 * its home goes with it.
 *
 * On a node that is not the home, POST /whip/GROUP and POST /whep/GROUP
 * answer 307 with Location: the same path on the home node (the address it
 * registered, http or https as the request came), and make no session.
 * With no home anywhere, or a lookup that failed (logged), the node answers
 * itself. The request is held meanwhile (rv_httpd_defer) and answered from
 * the directory's callback.
 *
 * State: cl->homes maps a group with local sources, or a claim in flight,
 * to a struct home; an entry goes once both are 0. Memory: one entry per
 * such group, one creq per lookup in flight (nulled when its connection
 * closes, as every creq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "log.h"
#include "webrtc.h"

struct home {
	char group[RV_ID_MAX + 1];    /* the map's key (rv_map does not copy keys) */
	int sources;                  /* live sources of the group on this node */
	int claims;                   /* claims sent, not answered yet */
	int ours;                     /* the directory said this node is the home */
};

static struct home *home_get(struct cluster *cl, const char *group, int make)
{
	struct home *h = rv_map_get(&cl->homes, group);
	if (h || !make)
		return h;
	if (!(h = calloc(1, sizeof *h)))
		return NULL;
	snprintf(h->group, sizeof h->group, "%s", group);
	if (rv_map_put(&cl->homes, h->group, h) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

/* No source left and no claim in flight: the home goes (if ours), the entry too. */
static void settle(struct cluster *cl, const char *group)
{
	struct home *h = rv_map_get(&cl->homes, group);
	if (!h || h->sources > 0 || h->claims > 0)
		return;
	if (h->ours) {
		const char *argv[] = { cl->inc, group };
		/* no cl->bus: the node is stopping, and reaping it drops its homes */
		if (cl_dir(cl, RV_DIR_HOME_DROP, 2, argv, NULL, NULL, NULL) < 0 && cl->bus) {
			rv_warn("cluster: #%s's media home could not be removed (bus down): dropped when the bus"
				" is back", group);
			return;	/* kept, ours: cl_home_reassert drops it */
		}
	}
	free(rv_map_del(&cl->homes, group));
}

/* A 307 to the same path on the home node at ADDR ("IP:PORT"). */
static void redirect(struct conn *c, const char *group, const char *inc, const char *addr)
{
	struct rv_httpd *h = c->http;
	size_t n = strlen(addr) + strlen(h->req.path) + 32;
	char *loc = malloc(n), body[256];
	if (!loc) {
		rv_httpd_reply_text(h, 500, "out of memory\n");
		return;
	}
	snprintf(loc, n, "Location: %s://%s%s", c->tls_seen ? "https" : "http", addr, h->req.path);
	snprintf(body, sizeof body, "#%s's media is on cluster node %s: POST there\n", group, inc);
	const char *hdrs[] = { loc, "Access-Control-Allow-Origin: *",
			       "Access-Control-Expose-Headers: ETag, Location, Link", NULL };
	rv_httpd_reply(h, 307, NULL, hdrs, body, strlen(body));
	free(loc);
	c->srv->n.cl_redirects++;
	rv_info("%s POST for #%s: 307 to node %s at %s", strncmp(h->req.path, "/whep/", 6) ? "WHIP" : "WHEP", group,
		inc, addr);
}

/* The directory's answer to a claim or a lookup (Q->num: 1 a claim); Q->c
 * the HTTP request held, or NULL (a source's claim, or it closed). */
static void on_home(void *ud, const struct rv_bus_reply *r)
{
	struct creq *q = ud;
	struct cluster *cl = q->cl;
	struct conn *c = q->c;
	int elsewhere = !r->err && r->n >= 2 && r->v[1][0] && rv_cmsg_node_valid(r->v[0]);
	struct home *h = q->num ? rv_map_get(&cl->homes, q->group) : NULL;
	if (h) {
		h->claims--;
		if (!r->err)	/* a lost answer changes nothing we know */
			h->ours = r->n == 0;
	}
	if (r->err && c) {
		cl->srv->n.cl_home_failed++;
		rv_warn("cluster: where #%s's media is: the directory did not answer: answering on this node",
			q->group);
	} else if (r->err) {
		rv_warn("cluster: #%s's media home: the directory did not answer: claimed again when the bus is back",
			q->group);
	} else if (!c && q->num && r->n >= 2 && h && h->sources > 0) {
		rv_warn("cluster: #%s's media is on node %s already: this node's source reaches only its own viewers",
			q->group, r->v[0]);
	}
	if (c && !c->closing && c->http && c->http->step == RV_HTTPD_LATER) {
		if (cl->srv->life.stopping) {
			rv_httpd_reply_text(c->http, 503, "the server is stopping\n");
		} else if (elsewhere) {
			redirect(c, q->group, r->v[0], r->v[1]);
		} else {	/* here: the request runs again, local this time */
			c->checked = 1;
			whip_http(c->http, c);
			c->checked = 0;
		}
		rv_srvconn_http_replied(&c->s, c->http);
		c->closing = 1;
		c->state = CONN_DONE;
	}
	if (q->num)
		settle(cl, q->group);
	cl_req_free(q);
}

/* Ask the directory about GROUP (claim it when CLAIM) for C (NULL: nobody
 * waits). 0, or -1 when it could not be asked. */
static int ask(struct cluster *cl, struct conn *c, const char *group, int claim)
{
	struct home *h = claim ? home_get(cl, group, 1) : NULL;
	struct creq *q = claim && !h ? NULL : cl_req_new(cl, c, 0, NULL, group);
	if (!q)
		return -1;
	q->num = claim;
	const char *argv[] = { cl->inc, group };
	if (cl_dir(cl, claim ? RV_DIR_HOME_CLAIM : RV_DIR_HOME, 2, argv, NULL, on_home, q) < 0) {
		cl_req_free(q);
		return -1;
	}
	if (h)
		h->claims++;
	return 0;
}

int cluster_webrtc_post(struct conn *c, int viewer, const char *group)
{
	struct cluster *cl = c->srv->cluster;
	if (!cl || c->checked || !c->http)
		return 0;
	struct home *h = rv_map_get(&cl->homes, group);
	if (h && h->ours)	/* the home is here */
		return 0;
	if (!cl_bus_up(cl) || ask(cl, c, group, !viewer) < 0) {
		cl->srv->n.cl_home_failed++;
		rv_warn("cluster: where #%s's media is: the directory cannot be asked: answering on this node", group);
		if (!viewer)
			settle(cl, group);
		return 0;
	}
	rv_httpd_defer(c->http);
	return 1;
}

void cluster_source(struct server *srv, const char *group, int delta)
{
	struct cluster *cl = srv->cluster;
	if (!cl || !group)
		return;
	struct home *h = home_get(cl, group, delta > 0);
	if (!h)
		return;
	if (delta > 0) {
		if (h->sources++ == 0 && !h->ours && !h->claims && cl_bus_up(cl))
			ask(cl, NULL, group, 1);
	} else if (h->sources > 0) {
		h->sources--;
	}
	settle(cl, group);
}

/* The bus came back, or the directory lost this node: its homes again,
 * and the drops that could not be sent meanwhile. */
void cl_home_reassert(struct cluster *cl)
{
	size_t i = 0;
	const char *group;
	struct home *h;
	while ((h = rv_map_next(&cl->homes, &i, &group))) {
		if (h->sources > 0) {
			ask(cl, NULL, group, 1);
		} else if (h->ours && !h->claims) {
			const char *argv[] = { cl->inc, group };
			if (cl_dir(cl, RV_DIR_HOME_DROP, 2, argv, NULL, NULL, NULL) == 0)
				h->ours = 0;
		}
	}
	for (i = 0; (h = rv_map_next(&cl->homes, &i, &group));)	/* the dropped go */
		if (!h->sources && !h->claims && !h->ours) {
			free(rv_map_del(&cl->homes, group));
			i = 0;
		}
}

void cl_home_free(struct cluster *cl)
{
	size_t i = 0;
	struct home *h;
	while ((h = rv_map_next(&cl->homes, &i, NULL)))
		free(h);
	rv_map_free(&cl->homes);
}
