/* rooms.c - peers, rooms and the messages between them: join and leave
 * with state/joined/left, direct delivery ("to") and room broadcast with
 * exclude/include, rate limits, and resuming a lost connection. With
 * --cluster, what crosses nodes goes through the sigcl_ hooks (cluster.c);
 * this node's rooms hold this node's peers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "edge.h"
#include "err.h"
#include "log.h"
#include "json.h"
#include "router.h"
#include "signal.h"
#include "xfer.h"

#define MAX_MISSED 256
#define MAX_NAME 64

void send_error(struct conn *c, const char *code, const char *msg, const char *re)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "type", "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	if (re)
		cJSON_AddStringToObject(e, "re", re);
	c->sig->n.errors++;
	conn_send(c, e);
}

static cJSON *peer_obj(const struct peer *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "name", p->name ? p->name : p->id);
	return o;
}

/* To P: now, or kept for it while it may still come back. S is N bytes of
 * printed JSON, not consumed; FRAME: a fan-out's frame cache, or NULL. */
static void deliver_text(struct sig *g, struct peer *p, const char *s, size_t n, struct rv_buf *frame)
{
	g->n.delivered++;
	if (p->conn) {
		conn_send_fanout(p->conn, s, n, frame);
		return;
	}
	if (g->cl)	/* where any node can read it: the resume may come there */
		sigcl_park(g, p, s, n);
	if (p->nmissed == MAX_MISSED) {	/* the oldest goes */
		free(p->missed[0]);
		memmove(p->missed, p->missed + 1, (MAX_MISSED - 1) * sizeof *p->missed);
		p->nmissed--;
	}
	if (!p->missed && !(p->missed = calloc(MAX_MISSED, sizeof *p->missed)))
		return;
	if ((p->missed[p->nmissed] = strndup(s, n)))
		p->nmissed++;
}

/* The same for a message object, consumed. */
static void deliver(struct sig *g, struct peer *p, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (s)
		deliver_text(g, p, s, strlen(s), NULL);
	free(s);
}

static struct room *room_get(struct sig *g, const char *name, int create)
{
	struct room *r = rv_map_get(&g->rooms, name);
	if (r || !create)
		return r;
	r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(name)) || rv_map_put(&g->rooms, r->name, r) < 0) {
		if (r)
			free(r->name);
		free(r);
		return NULL;
	}
	return r;
}

static int in_room(const struct room *r, const struct peer *p)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->peers[i] == p)
			return 1;
	return 0;
}

static int listed(const cJSON *list, const char *id)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, id))
			return 1;
	return 0;
}

/* S (N bytes, printed and framed once for everyone) to R's peers but SKIP,
 * filtered by EXCLUDE and INCLUDE. */
static void fanout(struct sig *g, struct room *r, const char *skip, const char *s, size_t n, const cJSON *exclude,
		   const cJSON *include)
{
	rv_buf_reset(&g->wsframe);
	for (size_t i = 0; s && i < r->n; i++) {
		struct peer *t = r->peers[i];
		if ((skip && !strcmp(t->id, skip)) || (exclude && listed(exclude, t->id)) ||
		    (include && !listed(include, t->id)))
			continue;
		deliver_text(g, t, s, n, &g->wsframe);
	}
}

void room_deliver(struct sig *g, const char *room, const char *skip, const char *s, size_t n, cJSON *exclude,
		  cJSON *include)
{
	struct room *r = rv_map_get(&g->rooms, room);
	if (r)
		fanout(g, r, skip, s, n, exclude, include);
}

void peer_deliver(struct sig *g, const char *id, const char *s, size_t n)
{
	struct peer *p = rv_map_get(&g->peers, id);
	if (p)
		deliver_text(g, p, s, n, NULL);
}

char *room_event(const char *type, const char *room, const char *id, const char *name, const char *reason)
{
	cJSON *m = cJSON_CreateObject(), *o = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddStringToObject(m, "room", room);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddItemToObject(m, "peer", o);
	if (reason)
		cJSON_AddStringToObject(m, "reason", reason);
	char *s = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return s;
}

/* Tell R's other peers here that WHO joined or left (TYPE); the event, printed, is returned. */
static char *tell_room(struct sig *g, struct room *r, const struct peer *who, const char *type)
{
	char *s = room_event(type, r->name, who->id, who->name ? who->name : who->id, NULL);
	if (s)
		fanout(g, r, who->id, s, strlen(s), NULL, NULL);
	return s;
}

/* P leaves R here; with TELL, R's peers hear it (and the cluster does). */
static void room_unlink(struct sig *g, struct room *r, struct peer *p, int tell)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->peers[i] == p) {
			memmove(&r->peers[i], &r->peers[i + 1], (r->n - i - 1) * sizeof *r->peers);
			r->n--;
			break;
		}
	for (size_t i = 0; i < p->nrooms; i++)
		if (p->rooms[i] == r) {
			p->rooms[i] = p->rooms[--p->nrooms];
			break;
		}
	if (tell) {
		char *ev = tell_room(g, r, p, "left");
		if (g->cl && ev)
			sigcl_left(g, r->name, p, ev);
		free(ev);
		sig_event(g, "leave", p->id, cJSON_CreateObject());
	}
	if (r->n == 0) {
		if (g->cl)
			sigcl_room_empty(g, r->name);
		rv_map_del(&g->rooms, r->name);
		free(r->peers);
		free(r->name);
		free(r);
	}
}

static void room_remove(struct sig *g, struct room *r, struct peer *p)
{
	room_unlink(g, r, p, 1);
}

/* P in R here; with TELL, R's peers here hear it. */
static int room_link(struct sig *g, struct room *r, struct peer *p, int tell)
{
	if (r->n == r->alloc) {
		size_t na = r->alloc ? r->alloc * 2 : 8;
		struct peer **v = realloc(r->peers, na * sizeof *v);
		if (!v)
			return -1;
		r->peers = v;
		r->alloc = na;
	}
	struct room **pr = realloc(p->rooms, (p->nrooms + 1) * sizeof *pr);
	if (!pr)
		return -1;
	p->rooms = pr;
	p->rooms[p->nrooms++] = r;
	r->peers[r->n++] = p;
	if (tell) {
		free(tell_room(g, r, p, "joined"));
		g->n.joins++;
	}
	return 0;
}

/* ---- sessions kept for a resume ----
 * Only a peer that is in a room when its connection drops is kept: a
 * connection that only said hello has nothing to come back to. Per client
 * address at most --max-resumable are kept; one more ends the oldest. */

static void unkeep(struct sig *g, struct peer *p)
{
	struct addr_kept *k = p->kept;
	if (!k)
		return;
	*(p->kprev ? &p->kprev->knext : &k->head) = p->knext;
	*(p->knext ? &p->knext->kprev : &k->tail) = p->kprev;
	p->kept = NULL;
	p->kprev = p->knext = NULL;
	g->nkept--;
	if (--k->n == 0) {
		rv_map_del(&g->kept, k->addr);
		free(k);
	}
}

static void peer_gone(struct sig *g, struct peer *p);

/* Keep detached P for a resume; 0, or -1 when it cannot be kept. */
static int keep(struct sig *g, struct peer *p)
{
	struct addr_kept *k = rv_map_get(&g->kept, p->addr);
	if (!k) {
		if (!(k = calloc(1, sizeof *k)))
			return -1;
		snprintf(k->addr, sizeof k->addr, "%s", p->addr);
		if (rv_map_put(&g->kept, k->addr, k) < 0) {
			free(k);
			return -1;
		}
	}
	p->kept = k;
	p->kprev = k->tail;
	*(k->tail ? &k->tail->knext : &k->head) = p;
	k->tail = p;
	k->n++;
	g->nkept++;
	if (k->n > g->conf.max_resumable) {
		struct peer *old = k->head;
		rv_debug("%s: more than %zu sessions kept for a resume: %s ends", p->addr,
			 g->conf.max_resumable, old->id);
		peer_gone(g, old);	/* unkeeps it (K may go with it) */
	}
	return 0;
}

static void peer_free(struct sig *g, struct peer *p)
{
	rv_map_del(&g->peers, p->id);
	rv_map_del(&g->resumes, p->resume);
	for (size_t i = 0; i < p->nmissed; i++)
		free(p->missed[i]);
	free(p->missed);
	free(p->rooms);
	free(p->name);
	free(p);
}

static void peer_gone(struct sig *g, struct peer *p)
{
	unkeep(g, p);
	while (p->nrooms)
		room_remove(g, p->rooms[p->nrooms - 1], p);
	sig_event(g, "disconnect", p->id, NULL);
	if (g->cl)
		sigcl_gone(g, p);
	peer_free(g, p);
}

void peer_release(struct sig *g, struct peer *p)
{
	if (p->conn) {	/* one live connection per session, cluster-wide */
		struct conn *old = p->conn;
		old->peer = NULL;
		send_error(old, "replaced", "another connection resumed this session", NULL);
		conn_close(old, "replaced");
	}
	unkeep(g, p);
	while (p->nrooms)
		room_unlink(g, p->rooms[p->nrooms - 1], p, 0);
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "reason", "resumed-elsewhere");
	sig_event(g, "disconnect", p->id, ev);
	peer_free(g, p);
}

static void welcome(struct conn *c, int resumed)
{
	struct peer *p = c->peer;
	cJSON *w = cJSON_CreateObject();
	cJSON_AddStringToObject(w, "type", "welcome");
	cJSON_AddStringToObject(w, "id", p->id);
	cJSON_AddItemToObject(w, "iceServers", ice_servers(c->sig, p->id));
	cJSON_AddStringToObject(w, "resume", p->resume);
	if (resumed)
		cJSON_AddBoolToObject(w, "resumed", 1);
	conn_send(c, w);
}

static struct peer *peer_new(struct sig *g)
{
	struct peer *p = calloc(1, sizeof *p);
	uint8_t r[20];
	if (!p)
		return NULL;
	p->id[0] = 'p';
	p->id[1] = '-';
	/* Ids are 32 random bits: among 10,000 peers two share one about once
	 * in a hundred servers, so an id already taken is drawn again. */
	for (int tries = 0;; tries++) {
		if (tries == 8 || RAND_bytes(r, sizeof r) != 1) {
			free(p);
			return NULL;
		}
		rv_hex(r, 4, p->id + 2);
		if (!rv_map_get(&g->peers, p->id))
			break;
	}
	rv_hex(r + 4, 16, p->resume);
	if (rv_map_put(&g->peers, p->id, p) < 0) {
		free(p);
		return NULL;
	}
	if (rv_map_put(&g->resumes, p->resume, p) < 0) {
		rv_map_del(&g->peers, p->id);
		free(p);
		return NULL;
	}
	return p;
}

/* Take over P (found by its resume token) on connection C: KEPT (N) are
 * messages kept for it elsewhere (the cluster's), before its own missed ones. */
static void resume_with(struct conn *c, struct peer *p, char *const *kept, size_t nkept)
{
	struct sig *g = c->sig;
	if (p->conn && p->conn != c) {	/* a stale connection still holds it */
		struct conn *old = p->conn;
		old->peer = NULL;
		send_error(old, "replaced", "another connection resumed this session", NULL);
		conn_close(old, "replaced");
	}
	unkeep(g, p);
	snprintf(p->addr, sizeof p->addr, "%s", c->addr);
	p->conn = c;
	c->peer = p;
	g->n.resumes++;
	welcome(c, 1);
	for (size_t i = 0; i < nkept; i++)
		conn_send_text(c, kept[i], strlen(kept[i]));
	for (size_t i = 0; i < p->nmissed; i++) {
		conn_send_text(c, p->missed[i], strlen(p->missed[i]));
		free(p->missed[i]);
	}
	p->nmissed = 0;
	sig_event(g, "connect", p->id, cJSON_CreateObject());
}

static void resume(struct conn *c, struct peer *p)
{
	resume_with(c, p, NULL, 0);
	if (c->sig->cl)	/* what the cluster kept for it is out: its list goes */
		sigcl_resumed(c->sig, p);
}

void peer_hello(struct conn *c, const char *token)
{
	struct sig *g = c->sig;
	struct peer *p = token ? rv_map_get(&g->resumes, token) : NULL;
	g->n.connects++;
	if (p) {
		resume(c, p);
		return;
	}
	if (token && g->cl && sigcl_resume(c, token, 0))
		return;	/* held elsewhere, perhaps: the directory answers */
	peer_fresh(c);
}

void peer_fresh(struct conn *c)
{
	struct sig *g = c->sig;
	struct peer *p;
	if (!(p = peer_new(g))) {
		conn_close(c, "out of memory");
		return;
	}
	p->conn = c;
	c->peer = p;
	snprintf(p->addr, sizeof p->addr, "%s", c->addr);
	if (g->cl)
		sigcl_peer_new(g, p);
	welcome(c, 0);
	sig_event(g, "connect", p->id, NULL);
}

/* P has no connection now: kept for a resume, or gone. */
static void detached(struct sig *g, struct peer *p)
{
	p->conn = NULL;
	p->detached_at = uv_now(g->loop);
	if (g->conf.resume_window <= 0 || p->nrooms == 0 || keep(g, p) < 0)
		peer_gone(g, p);
}

void peer_detach(struct conn *c)
{
	struct peer *p = c->peer;
	c->peer = NULL;
	if (!p || p->conn != c)
		return;
	detached(c->sig, p);
}

struct peer *peer_adopt(struct sig *g, const char *id, const char *token, const char *name,
			const char *const *rooms, size_t nrooms, const char *addr)
{
	if (rv_map_get(&g->peers, id) || rv_map_get(&g->resumes, token) || strlen(id) >= sizeof ((struct peer *)0)->id ||
	    strlen(token) >= sizeof ((struct peer *)0)->resume)
		return NULL;
	struct peer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	strcpy(p->id, id);
	strcpy(p->resume, token);
	snprintf(p->addr, sizeof p->addr, "%s", addr);
	p->name = strcmp(name, id) ? strndup(name, MAX_NAME) : NULL;
	p->detached_at = uv_now(g->loop);
	if (rv_map_put(&g->peers, p->id, p) < 0) {
		free(p->name);
		free(p);
		return NULL;
	}
	if (rv_map_put(&g->resumes, p->resume, p) < 0) {
		peer_free(g, p);
		return NULL;
	}
	for (size_t i = 0; i < nrooms; i++) {
		struct room *r = room_get(g, rooms[i], 1);
		if (r && !in_room(r, p))
			room_link(g, r, p, 0);
	}
	return p;
}

void peer_attach(struct sig *g, struct conn *c, struct peer *p, char *const *kept, size_t n)
{
	if (!c) {
		detached(g, p);
		return;
	}
	struct peer *fresh = c->peer;
	if (fresh && fresh != p) {	/* this fresh session gives way to the old one */
		c->peer = NULL;
		fresh->conn = NULL;
		peer_gone(g, fresh);
	}
	resume_with(c, p, kept, n);
	if (g->cl)
		sigcl_resumed(g, p);
}

void peers_sweep(struct sig *g, uint64_t now)
{
	uint64_t window = (uint64_t)(g->conf.resume_window * 1000);
	size_t i = 0;
	struct peer *p;
	while ((p = rv_map_next(&g->peers, &i, NULL)))
		if (!p->conn && (now == UINT64_MAX || now - p->detached_at >= window))
			peer_gone(g, p);
}

void peers_free(struct sig *g)
{
	peers_sweep(g, UINT64_MAX);
	rv_map_free(&g->kept);
	rv_map_free(&g->peers);
	rv_map_free(&g->resumes);
	rv_map_free(&g->rooms);
}

/* ---- requests ---- */

static void admit(struct conn *c, cJSON *req, int ok, const char *why)
{
	struct sig *g = c->sig;
	struct peer *p = c->peer;
	const char *room = rv_json_str(req, "room"), *name = rv_json_str(req, "name");
	if (!p || c->closing)
		goto out;
	if (!ok) {
		g->n.denied++;
		send_error(c, "denied", why && *why ? why : "not admitted", "join");
		goto out;
	}
	struct room *r = room_get(g, room, 0);
	if (r && in_room(r, p)) {
		send_error(c, "bad-request", "already in this room", "join");
		goto out;
	}
	if (!(g->cl && sigcl_join(c, room, name)))	/* the cluster's directory, or here */
		join_finish(c, room, name, NULL);
out:
	cJSON_Delete(req);
}

void join_finish(struct conn *c, const char *room, const char *name, cJSON *members)
{
	struct sig *g = c->sig;
	struct peer *p = c->peer;
	struct room *r = room_get(g, room, 1);
	if (!r) {
		cJSON_Delete(members);
		send_error(c, "internal", "out of memory", "join");
		return;
	}
	if (in_room(r, p)) {	/* two joins of one room at once (cluster) */
		cJSON_Delete(members);
		send_error(c, "bad-request", "already in this room", "join");
		return;
	}
	if (!members && g->conf.max_peers && r->n >= g->conf.max_peers) {
		char msg[96];
		snprintf(msg, sizeof msg, "room %s is full (%zu peers)", room, r->n);
		send_error(c, "room-full", msg, "join");
		return;
	}
	if (name) {
		free(p->name);
		p->name = strndup(name, MAX_NAME);
	}
	cJSON *state = cJSON_CreateObject(), *peers = members ? members : cJSON_CreateArray();
	cJSON_AddStringToObject(state, "type", "state");
	cJSON_AddStringToObject(state, "room", room);
	cJSON_AddItemToObject(state, "peers", peers);
	for (size_t i = 0; !members && i < r->n; i++)
		cJSON_AddItemToArray(peers, peer_obj(r->peers[i]));
	if (room_link(g, r, p, 1) < 0) {
		cJSON_Delete(state);
		send_error(c, "internal", "out of memory", "join");
		return;
	}
	conn_send(c, state);
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "room", room);
	sig_event(g, "join", p->id, ev);
}

static void do_join(struct conn *c, cJSON *req)
{
	struct sig *g = c->sig;
	const char *room = rv_json_str(req, "room"), *why = NULL;
	cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
	if (!room || !rv_id_valid(room) || (name && (!cJSON_IsString(name) || !*name->valuestring))) {
		send_error(c, "bad-request", "join needs a room (1-64 characters [A-Za-z0-9._@-]) and a name", "join");
		cJSON_Delete(req);
		return;
	}
	if (g->token_secret_len && jwt_check(g, rv_json_str(req, "token"), room, &why) < 0) {
		g->n.denied++;
		send_error(c, "denied", why, "join");
		cJSON_Delete(req);
		return;
	}
	if (g->conf.on_join) {
		cJSON_AddStringToObject(req, "id", c->peer->id);
		if (hook_run(c, req, admit) < 0)
			admit(c, req, 0, "the admission hook could not run");
		return;
	}
	admit(c, req, 1, NULL);
}

/* A token bucket: RATE a second, bursts of twice that. */
static int allowed(struct conn *c)
{
	double rate = c->sig->conf.rate;
	if (rate <= 0)
		return 1;
	uint64_t now = uv_now(c->sig->loop);
	c->tokens += (double)(now - c->tokens_at) * rate / 1000.0;
	if (c->tokens > 2 * rate)
		c->tokens = 2 * rate;
	c->tokens_at = now;
	if (c->tokens < 1)
		return 0;
	c->tokens -= 1;
	return 1;
}

void peer_message(struct conn *c, const char *text, size_t len)
{
	struct sig *g = c->sig;
	struct peer *p = c->peer;
	if (!p)
		return;
	if (!allowed(c)) {
		g->n.rate_limited++;
		send_error(c, "rate-limited", "too many messages: slow down", NULL);
		return;
	}
	cJSON *m = cJSON_ParseWithLength(text, len);
	const char *type = m ? rv_json_str(m, "type") : NULL;
	if (!m) {	/* cut short or not JSON at all: say so, as rv-signal(7) does */
		send_error(c, "bad-request", "invalid JSON", NULL);
		return;
	}
	if (!cJSON_IsObject(m) || !type || !*type) {
		send_error(c, "bad-request", "each message is a JSON object with a string \"type\"", NULL);
		cJSON_Delete(m);
		return;
	}
	g->n.messages++;
	if (!strcmp(type, "join")) {
		do_join(c, m);
		return;
	}
	if (!strcmp(type, "resume")) {
		const char *token = rv_json_str(m, "token") ? rv_json_str(m, "token") : "";
		struct peer *old = rv_map_get(&g->resumes, token);
		if (!old && *token && p->nrooms == 0 && g->cl && strlen(token) < 64 && sigcl_resume(c, token, 1)) {
			/* held elsewhere, perhaps: the directory answers */
		} else if (!old || old == p) {
			send_error(c, "not-found", "no session to resume (expired or unknown token)", type);
		} else if (p->nrooms == 0) {	/* this fresh session gives way to the old one */
			c->peer = NULL;
			p->conn = NULL;
			peer_gone(g, p);
			resume(c, old);
		} else {
			send_error(c, "bad-request", "resume before joining anything", type);
		}
		cJSON_Delete(m);
		return;
	}
	if (!strcmp(type, "leave")) {
		struct room *r = rv_json_str(m, "room") ? room_get(g, rv_json_str(m, "room"), 0) : NULL;
		if (!r || !in_room(r, p))
			send_error(c, "not-in-room", "not in that room", type);
		else
			room_remove(g, r, p);
		cJSON_Delete(m);
		return;
	}
	if (!strcmp(type, "ping")) {
		cJSON *pong = cJSON_CreateObject();
		cJSON_AddStringToObject(pong, "type", "pong");
		conn_send(c, pong);
		cJSON_Delete(m);
		return;
	}
	/* anything else is routed: to one peer, or to a room */
	char to[64] = "", room[128] = "", mtype[64];
	snprintf(mtype, sizeof mtype, "%s", type);
	if (rv_json_str(m, "to"))
		snprintf(to, sizeof to, "%s", rv_json_str(m, "to"));
	if (rv_json_str(m, "room"))
		snprintf(room, sizeof room, "%s", rv_json_str(m, "room"));
	cJSON_DeleteItemFromObjectCaseSensitive(m, "from");
	cJSON_AddStringToObject(m, "from", p->id);
	int bye = !strcmp(mtype, "bye");
	if (to[0]) {
		struct peer *t = rv_map_get(&g->peers, to);
		if (!t && g->cl) {	/* on another node, perhaps */
			char *out = cJSON_PrintUnformatted(m);
			cJSON_Delete(m);
			int rc = out ? sigcl_send_peer(c, to, out, strlen(out), mtype) : -1;
			free(out);
			if (rc < 0) {
				send_error(c, "cluster-unavailable", "the cluster bus is down: peers on other nodes cannot be reached", mtype);
				return;
			}
		} else if (!t) {
			send_error(c, "not-found", "no such peer", mtype);
			cJSON_Delete(m);
			return;
		} else {
			deliver(g, t, m);
		}
	} else if (room[0]) {
		struct room *r = room_get(g, room, 0);
		if (!r || !in_room(r, p)) {
			send_error(c, "not-in-room", "join the room before sending to it", mtype);
			cJSON_Delete(m);
			return;
		}
		cJSON *exclude = cJSON_DetachItemFromObjectCaseSensitive(m, "exclude");
		cJSON *include = cJSON_DetachItemFromObjectCaseSensitive(m, "include");
		char *out = cJSON_PrintUnformatted(m);	/* printed and framed once for everyone */
		cJSON_Delete(m);
		size_t n = out ? strlen(out) : 0;
		fanout(g, r, p->id, out, n, exclude, include);
		if (out && g->cl && sigcl_send_room(c, room, out, n, exclude, include) < 0)
			send_error(c, "cluster-unavailable",
				   "the cluster bus is down: the room's peers on other nodes did not get it", mtype);
		free(out);
		cJSON_Delete(exclude);
		cJSON_Delete(include);
	} else {
		send_error(c, "bad-request", "a message needs \"to\" (a peer) or \"room\"", mtype);
		cJSON_Delete(m);
		return;
	}
	if (g->conf.json) {
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", mtype);
		if (to[0])
			cJSON_AddStringToObject(ev, "to", to);
		if (room[0])
			cJSON_AddStringToObject(ev, "room", room);
		sig_event(g, "message", p->id, ev);
	}
	if (bye && g->conf.hangup_close)	/* --hangup close: a bye ends the session */
		conn_close(c, "hangup");
}
