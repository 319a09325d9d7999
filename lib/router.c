/* router.c - clients, groups and routing decisions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "router.h"
#include "vec.h"

int rv_id_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' || ch == '@'))
			return 0;
		if (n >= RV_ID_MAX)
			return 0;
	}
	return n > 0;
}

int rv_strv_has(const struct rv_strv *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

int rv_strv_add(struct rv_strv *l, const char *s)
{
	if (rv_strv_has(l, s))
		return 0;
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	l->v = v;
	if (!(l->v[l->n] = strdup(s)))
		return -ENOMEM;
	l->n++;
	return 0;
}

int rv_strv_del(struct rv_strv *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return 0;
		}
	}
	return RV_ENOTFOUND;
}

void rv_strv_free(struct rv_strv *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void rv_router_init(struct rv_router *r, const struct rv_router_conf *conf,
		    rv_router_event_fn on_event, void *ud)
{
	memset(r, 0, sizeof *r);
	r->conf = *conf;
	r->on_event = on_event;
	r->ud = ud;
	rv_map_init(&r->clients);
	rv_map_init(&r->groups);
}

static void client_free(struct rv_client *c)
{
	free(c->groups);
	rv_strv_free(&c->contacts);
	rv_strv_free(&c->allowed);
	free(c->id);
	free(c);
}

static void group_free(struct rv_group *g)
{
	free(g->members);
	free(g->name);
	free(g);
}

void rv_router_free(struct rv_router *r)
{
	size_t i = 0;
	struct rv_client *c;
	struct rv_group *g;
	while ((c = rv_map_next(&r->clients, &i, NULL)))
		client_free(c);
	i = 0;
	while ((g = rv_map_next(&r->groups, &i, NULL)))
		group_free(g);
	rv_map_free(&r->clients);
	rv_map_free(&r->groups);
}

struct rv_client *rv_router_find(struct rv_router *r, const char *id)
{
	return rv_map_get(&r->clients, id);
}

struct rv_group *rv_router_group(struct rv_router *r, const char *name)
{
	return rv_map_get(&r->groups, name);
}

struct rv_client *rv_router_attach(struct rv_router *r, const char *id)
{
	struct rv_client *c = rv_map_get(&r->clients, id);
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c || !(c->id = strdup(id)) || rv_map_put(&r->clients, c->id, c) < 0) {
			if (c)
				free(c->id);
			free(c);
			return NULL;
		}
		c->allow_all = 1;
	}
	c->conns++;
	return c;
}

static void tell_members(struct rv_router *r, struct rv_group *g,
			 enum rv_event_type type, struct rv_client *who)
{
	if (!r->on_event)
		return;
	for (size_t i = 0; i < g->n; i++)
		if (g->members[i] != who && g->members[i]->recv)
			r->on_event(r->ud, g->members[i], type, g, who);
}

/* Remove C from G (both sides); G is freed when it empties. QUIET: no
 * event and no on_unlink (the membership moved, it did not end). */
static void unlink_member_q(struct rv_router *r, struct rv_group *g, struct rv_client *c, int quiet)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->members[i] == c) {
			memmove(&g->members[i], &g->members[i + 1],
				(g->n - i - 1) * sizeof *g->members);
			g->n--;
			break;
		}
	}
	for (size_t i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g) {
			c->groups[i] = c->groups[--c->ngroups];
			break;
		}
	}
	if (!quiet) {
		tell_members(r, g, RV_EV_LEFT, c);
		if (r->on_unlink)
			r->on_unlink(r->ud, c, g);
	}
	if (g->n == 0) {
		rv_map_del(&r->groups, g->name);
		group_free(g);
	}
}

static void unlink_member(struct rv_router *r, struct rv_group *g, struct rv_client *c)
{
	unlink_member_q(r, g, c, 0);
}

void rv_router_detach(struct rv_router *r, struct rv_client *c)
{
	if (c->conns > 0)
		c->conns--;
	if (c->conns > 0)
		return;
	c->recv = NULL;
	if (r->conf.keep == RV_KEEP_NONE) {
		while (c->ngroups)
			unlink_member(r, c->groups[c->ngroups - 1], c);
	}
	if (r->conf.keep != RV_KEEP_ALL) {
		rv_strv_free(&c->contacts);
		rv_strv_free(&c->allowed);
		c->allow_all = 1;
	}
	if (c->ngroups == 0 && c->contacts.n == 0 && c->allowed.n == 0 && c->allow_all) {
		rv_map_del(&r->clients, c->id);
		client_free(c);
	}
}

/* Join; QUIET: no event and no limits (a membership that moved here). */
static int join_q(struct rv_router *r, struct rv_client *c, const char *name, int quiet)
{
	struct rv_group *g = rv_map_get(&r->groups, name);
	if (g) {
		for (size_t i = 0; i < g->n; i++)
			if (g->members[i] == c)
				return 1;
		if (!quiet && r->conf.max_group_members && g->n >= r->conf.max_group_members)
			return RV_ELIMIT;
	} else {
		if (!quiet && r->conf.max_groups && r->groups.count >= r->conf.max_groups)
			return RV_ELIMIT;
		g = calloc(1, sizeof *g);
		if (!g || !(g->name = strdup(name)) || rv_map_put(&r->groups, g->name, g) < 0) {
			if (g)
				free(g->name);
			free(g);
			return -ENOMEM;
		}
	}
	struct rv_group **cg = realloc(c->groups, (c->ngroups + 1) * sizeof *cg);
	if (!cg)
		goto nomem;
	c->groups = cg;
	if (rv_grow((void **)&g->members, &g->alloc, g->n + 1, sizeof *g->members) < 0)
		goto nomem;
	g->members[g->n++] = c;
	c->groups[c->ngroups++] = g;
	if (!quiet)
		tell_members(r, g, RV_EV_JOINED, c);
	return 0;
nomem:
	if (g->n == 0) {
		rv_map_del(&r->groups, g->name);
		group_free(g);
	}
	return -ENOMEM;
}

int rv_router_join(struct rv_router *r, struct rv_client *c, const char *name)
{
	return join_q(r, c, name, 0);
}

int rv_router_adopt(struct rv_router *r, struct rv_client *c, const char *name)
{
	return join_q(r, c, name, 1);
}

static int leave_q(struct rv_router *r, struct rv_client *c, const char *name, int quiet)
{
	struct rv_group *g = rv_map_get(&r->groups, name);
	if (!g)
		return RV_ENOTFOUND;
	for (size_t i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g) {
			unlink_member_q(r, g, c, quiet);
			return 0;
		}
	}
	return RV_ENOTFOUND;
}

int rv_router_leave(struct rv_router *r, struct rv_client *c, const char *name)
{
	return leave_q(r, c, name, 0);
}

int rv_router_drop(struct rv_router *r, struct rv_client *c, const char *name)
{
	return leave_q(r, c, name, 1);
}

int rv_router_forget(struct rv_router *r, struct rv_client *c)
{
	while (c->ngroups)
		unlink_member_q(r, c->groups[c->ngroups - 1], c, 1);
	if (c->conns)
		return 0;
	rv_map_del(&r->clients, c->id);
	client_free(c);
	return 1;
}

int rv_router_allows(const struct rv_client *to, const char *from_id)
{
	return to->allow_all || rv_strv_has(&to->allowed, from_id);
}

static const struct {
	const char *text;
	enum rv_code code;
} misses[] = {
	[RV_MISS_NONE] = { "routed", RV_CODE_UNKNOWN },
	[RV_MISS_NO_CLIENT] = { "no such client", RV_CODE_NO_SUCH_CLIENT },
	[RV_MISS_OFFLINE] = { "client is not connected", RV_CODE_NO_SUCH_CLIENT },
	[RV_MISS_REFUSED] = { "receiver does not allow this sender", RV_CODE_NOT_ALLOWED },
	[RV_MISS_NO_GROUP] = { "no such group", RV_CODE_NO_SUCH_GROUP },
	[RV_MISS_NO_CONTACTS] = { "no default receivers", RV_CODE_NO_RECEIVERS },
};

const char *rv_route_miss_text(enum rv_route_miss miss)
{
	return (unsigned)miss < sizeof misses / sizeof *misses ? misses[miss].text : "unknown miss";
}

enum rv_code rv_route_miss_code(enum rv_route_miss miss)
{
	return (unsigned)miss < sizeof misses / sizeof *misses ? misses[miss].code : RV_CODE_UNKNOWN;
}

/* The miss, told when the caller asked. */
static int missed(enum rv_route_miss *out, enum rv_route_miss miss, int rc)
{
	if (out)
		*out = miss;
	return rc;
}

int rv_router_route(struct rv_router *r, struct rv_client *from, const char *to_id,
		    const char *group, rv_router_deliver_fn fn, void *ud,
		    enum rv_route_miss *miss)
{
	int count = 0;

	if (miss)
		*miss = RV_MISS_NONE;
	if (to_id) {
		struct rv_client *to = rv_map_get(&r->clients, to_id);
		if (!to || !to->recv)
			return missed(miss, to ? RV_MISS_OFFLINE : RV_MISS_NO_CLIENT, RV_ENOTFOUND);
		if (!rv_router_allows(to, from->id))
			return missed(miss, RV_MISS_REFUSED, RV_EDENIED);
		fn(ud, to);
		return 1;
	}
	if (group) {
		struct rv_group *g = rv_map_get(&r->groups, group);
		if (!g)
			return missed(miss, RV_MISS_NO_GROUP, RV_ENOTFOUND);
		for (size_t i = 0; i < g->n; i++) {
			struct rv_client *to = g->members[i];
			if (to != from && to->recv && rv_router_allows(to, from->id)) {
				fn(ud, to);
				count++;
			}
		}
		return count;
	}
	if (from->contacts.n == 0)
		return missed(miss, RV_MISS_NO_CONTACTS, RV_ENOTFOUND);
	for (size_t i = 0; i < from->contacts.n; i++) {
		struct rv_client *to = rv_map_get(&r->clients, from->contacts.v[i]);
		if (to && to != from && to->recv && rv_router_allows(to, from->id)) {
			fn(ud, to);
			count++;
		}
	}
	return count;
}
