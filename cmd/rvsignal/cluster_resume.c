/* cluster_resume.c - a peer resumed on another node of an rvsignal cluster
 * (cluster.c has the rest). The new node looks the token up in the
 * directory, subscribes to the peer's channels and rooms, then claims the
 * peer in one script that takes the messages kept for it and publishes a
 * handover on sig:p:PID. The old node lets go when it reads the handover
 * (cl_handover_in); the new node adopts the peer when it reads its own,
 * and attaches the connection once the claim's answer is in too: what the
 * bus delivers after the handover is for the peer it now holds. A claim
 * that fails anywhere ends as if there were nothing to resume. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "json.h"
#include "log.h"
#include "router.h"
#include "signal.h"

void cl_claim_free(struct claim *k)
{
	struct sigcl *cl = k->cl;
	for (struct claim **pp = &cl->claims; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	for (size_t i = 0; i < k->nrooms; i++) {
		if (!rv_map_get(&cl->g->rooms, k->rooms[i]))
			sigcl_room_empty(cl->g, k->rooms[i]);
		free(k->rooms[i]);
	}
	if (!k->p && !rv_map_get(&cl->g->peers, k->id))
		cl_unsub(cl, "p", k->id);
	for (size_t i = 0; i < k->nkept; i++)
		free(k->kept[i]);
	free(k->kept);
	free(k->rooms);
	free(k->name);
	free(k);
}

/* The resume could not be made here: as if there were nothing to resume. */
static void claim_fail(struct claim *k)
{
	struct conn *c = k->c;
	int by_message = k->by_message;
	cl_claim_free(k);
	if (!c || c->closing)
		return;
	if (!by_message)
		peer_fresh(c);
	else if (c->peer)
		send_error(c, "not-found", "no session to resume (expired or unknown token)", "resume");
}

/* Both the claim's answer and its handover are in: the peer is this node's. */
static void claim_done(struct claim *k)
{
	struct sigcl *cl = k->cl;
	struct conn *c = k->c && !k->c->closing ? k->c : NULL;
	struct peer *p = k->p;
	if (!p) {	/* it could not be made here (no memory, the id taken meanwhile) */
		claim_fail(k);
		return;
	}
	cl->g->n.cl_resumes++;
	k->p = NULL;
	if (p && c && c->peer && c->peer->nrooms) {	/* joined meanwhile: it cannot give way now */
		send_error(c, "bad-request", "resume before joining anything", "resume");
		c = NULL;
	}
	rv_info("cluster: %s resumed here from another node", p->id);
	peer_attach(cl->g, c, p, k->kept, k->nkept);
	cl_claim_free(k);
}

static void on_claim(void *ud, const struct rv_bus_reply *r)
{
	struct claim *k = ud;
	if (r->err || r->num != 0) {
		if (k->p) {	/* adopted at a handover that was not ours after all */
			struct peer *p = k->p;
			k->p = NULL;
			peer_release(k->cl->g, p);
		}
		claim_fail(k);
		return;
	}
	k->answered = 1;
	if (r->n && (k->kept = calloc(r->n, sizeof *k->kept)))
		for (size_t i = 0; i < r->n; i++)
			if ((k->kept[k->nkept] = strndup(r->v[i], r->len[i])))
				k->nkept++;
	if (k->marked)
		claim_done(k);
}

/* The subscriptions hold: claim the peer. */
static void claim_step(struct claim *k)
{
	if (--k->steps > 0)
		return;
	struct sigcl *cl = k->cl;
	const struct rv_buf *b = cl_encode(cl, RV_CMSG_SIG_HANDOVER, k->id, NULL, NULL, 0, NULL, 0);
	const char *argv[] = { cl->node.inc, k->token, k->id, b ? (const char *)rv_buf_head(b) : "" };
	const size_t argl[] = { strlen(cl->node.inc), strlen(k->token), strlen(k->id), b ? rv_buf_size(b) : 0 };
	k->sent = 1;
	if (!b || cl_dir(cl, RV_DIR_SIG_CLAIM, 4, argv, argl, on_claim, k) < 0)
		claim_fail(k);
}

static void on_claim_sub(void *ud, const struct rv_bus_reply *r)
{
	(void)r;
	claim_step(ud);
}

static void on_lookup(void *ud, const struct rv_bus_reply *r)
{
	struct claim *k = ud;
	struct sigcl *cl = k->cl;
	if (r->err || r->n < 3 || r->len[0] >= sizeof k->id || !(k->name = strndup(r->v[2], r->len[2]))) {
		claim_fail(k);
		return;
	}
	snprintf(k->id, sizeof k->id, "%.*s", (int)r->len[0], r->v[0]);
	if (!rv_id_valid(k->id) || rv_map_get(&cl->g->peers, k->id)) {
		claim_fail(k);
		return;
	}
	k->rooms = calloc(r->n - 3 + 1, sizeof *k->rooms);
	for (size_t i = 3; k->rooms && i < r->n; i++)
		if ((k->rooms[k->nrooms] = strndup(r->v[i], r->len[i])) && rv_id_valid(k->rooms[k->nrooms]))
			k->nrooms++;
		else
			free(k->rooms[k->nrooms]);
	/* subscribed first: what is published after the claim reaches this node */
	k->steps = 1 + 1 + (int)k->nrooms;
	if (cl_sub(cl, "p", k->id, on_claim_sub, k) < 0)
		k->steps--;
	for (size_t i = 0; i < k->nrooms; i++)
		if (cl_sub(cl, "r", k->rooms[i], on_claim_sub, k) < 0)
			k->steps--;
	claim_step(k);
}

int sigcl_resume(struct conn *c, const char *token, int by_message)
{
	struct sigcl *cl = c->sig->cl;
	if (!cl_up(cl) || strlen(token) >= sizeof ((struct claim *)0)->token)
		return 0;
	struct claim *k = calloc(1, sizeof *k);
	if (!k)
		return 0;
	k->cl = cl;
	k->c = c;
	k->by_message = by_message;
	snprintf(k->token, sizeof k->token, "%s", token);
	snprintf(k->addr, sizeof k->addr, "%s", c->addr);
	const char *argv[] = { token };
	if (cl_dir(cl, RV_DIR_SIG_LOOKUP, 1, argv, NULL, on_lookup, k) < 0) {
		free(k);
		return 0;
	}
	k->next = cl->claims;
	cl->claims = k;
	return 1;
}

/* A handover on the bus: ours (a claim went through: the peer is adopted
 * here, detached until the claim's answer), or another node's (our peer goes). */
void cl_handover_in(struct sigcl *cl, const struct rv_cmsg *m, int mine)
{
	struct sig *g = cl->g;
	if (mine) {
		for (struct claim *k = cl->claims; k; k = k->next)
			if (k->sent && !k->marked && !strcmp(k->id, m->a)) {
				k->marked = 1;
				k->p = peer_adopt(g, k->id, k->token, k->name, (const char *const *)k->rooms, k->nrooms,
						  k->addr);
				if (k->answered)
					claim_done(k);
				return;
			}
		return;
	}
	struct peer *p = rv_map_get(&g->peers, m->a);
	if (!p)
		return;
	g->n.cl_handovers++;
	rv_info("cluster: %s resumed on node %s: it goes from here", p->id, m->origin);
	peer_release(g, p);
	cl_unsub(cl, "p", m->a);
}
