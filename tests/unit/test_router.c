/* test_router.c - routing decisions, groups, limits, keep modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "map.h"
#include "router.h"
#include "rvcode.h"

static char events[4096];
static char delivered[1024];

static void on_event(void *ud, struct rv_client *to, enum rv_event_type t,
		     const struct rv_group *g, const struct rv_client *who)
{
	(void)ud;
	size_t n = strlen(events);
	snprintf(events + n, sizeof events - n, "%s:%s %s %s;", to->id,
		 t == RV_EV_JOINED ? "joined" : "left", who->id, g->name);
}

static void deliver(void *ud, struct rv_client *to)
{
	(void)ud;
	size_t n = strlen(delivered);
	snprintf(delivered + n, sizeof delivered - n, "%s;", to->id);
}

static int dummy;
static struct rv_client *online(struct rv_router *r, const char *id)
{
	struct rv_client *c = rv_router_attach(r, id);
	c->recv = &dummy;
	return c;
}

static void groups_and_events(void **state)
{
	(void)state;
	struct rv_router r;
	struct rv_router_conf conf = { 0 };
	rv_router_init(&r, &conf, on_event, NULL);
	struct rv_client *a = online(&r, "alice"), *b = online(&r, "bob");
	events[0] = 0;
	assert_int_equal(rv_router_join(&r, a, "ops"), 0);
	assert_string_equal(events, "");
	assert_int_equal(rv_router_join(&r, b, "ops"), 0);
	assert_string_equal(events, "alice:joined bob ops;");
	assert_int_equal(rv_router_join(&r, b, "ops"), 1);	/* already a member */
	events[0] = 0;
	assert_int_equal(rv_router_leave(&r, b, "ops"), 0);
	assert_string_equal(events, "alice:left bob ops;");
	assert_int_equal(rv_router_leave(&r, b, "ops"), RV_ENOTFOUND);
	rv_router_leave(&r, a, "ops");
	assert_null(rv_router_group(&r, "ops"));		/* empty groups vanish */
	rv_router_free(&r);
}

/* Each failed route says which miss it was (no strings to compare), with
 * the wire code that reports it and the router's text for the message. */
static void expect_miss(struct rv_router *r, struct rv_client *from, const char *to,
			const char *group, int rc, enum rv_route_miss want, enum rv_code code,
			const char *text)
{
	enum rv_route_miss miss = RV_MISS_NONE;
	assert_int_equal(rv_router_route(r, from, to, group, deliver, NULL, &miss), rc);
	assert_int_equal(miss, want);
	assert_int_equal(rv_route_miss_code(miss), code);
	assert_string_equal(rv_route_miss_text(miss), text);
}

static void routing(void **state)
{
	(void)state;
	struct rv_router r;
	struct rv_router_conf conf = { 0 };
	enum rv_route_miss miss = RV_MISS_NO_GROUP;
	rv_router_init(&r, &conf, NULL, NULL);
	struct rv_client *a = online(&r, "alice"), *b = online(&r, "bob"), *c = online(&r, "carol");
	rv_router_join(&r, a, "ops");
	rv_router_join(&r, b, "ops");
	rv_router_join(&r, c, "ops");

	delivered[0] = 0;
	assert_int_equal(rv_router_route(&r, a, NULL, "ops", deliver, NULL, &miss), 2);
	assert_string_equal(delivered, "bob;carol;");		/* never back to the sender */
	assert_int_equal(miss, RV_MISS_NONE);

	delivered[0] = 0;
	assert_int_equal(rv_router_route(&r, a, "bob", "ops", deliver, NULL, NULL), 1);
	assert_string_equal(delivered, "bob;");			/* to wins over group */

	expect_miss(&r, a, "zed", NULL, RV_ENOTFOUND, RV_MISS_NO_CLIENT, RV_CODE_NO_SUCH_CLIENT,
		    "no such client");
	expect_miss(&r, a, NULL, "nope", RV_ENOTFOUND, RV_MISS_NO_GROUP, RV_CODE_NO_SUCH_GROUP,
		    "no such group");
	expect_miss(&r, a, NULL, NULL, RV_ENOTFOUND, RV_MISS_NO_CONTACTS, RV_CODE_NO_RECEIVERS,
		    "no default receivers");
	assert_int_equal(rv_router_route(&r, a, NULL, NULL, deliver, NULL, NULL), RV_ENOTFOUND);

	/* allowed senders: bob takes only carol */
	b->allow_all = 0;
	rv_strv_add(&b->allowed, "carol");
	expect_miss(&r, a, "bob", NULL, RV_EDENIED, RV_MISS_REFUSED, RV_CODE_NOT_ALLOWED,
		    "receiver does not allow this sender");
	delivered[0] = 0;
	assert_int_equal(rv_router_route(&r, a, NULL, "ops", deliver, NULL, &miss), 1);
	assert_string_equal(delivered, "carol;");		/* bob is skipped */
	assert_int_equal(rv_router_route(&r, c, "bob", NULL, deliver, NULL, &miss), 1);

	/* default receivers */
	rv_strv_add(&a->contacts, "carol");
	rv_strv_add(&a->contacts, "ghost");
	delivered[0] = 0;
	assert_int_equal(rv_router_route(&r, a, NULL, NULL, deliver, NULL, &miss), 1);
	assert_string_equal(delivered, "carol;");

	/* offline receivers get nothing */
	c->recv = NULL;
	expect_miss(&r, a, "carol", NULL, RV_ENOTFOUND, RV_MISS_OFFLINE, RV_CODE_NO_SUCH_CLIENT,
		    "client is not connected");
	rv_router_free(&r);
}

static void limits(void **state)
{
	(void)state;
	struct rv_router r;
	struct rv_router_conf conf = { .max_groups = 2, .max_group_members = 2 };
	rv_router_init(&r, &conf, NULL, NULL);
	struct rv_client *a = online(&r, "a"), *b = online(&r, "b"), *c = online(&r, "c");
	assert_int_equal(rv_router_join(&r, a, "g1"), 0);
	assert_int_equal(rv_router_join(&r, a, "g2"), 0);
	assert_int_equal(rv_router_join(&r, a, "g3"), RV_ELIMIT);
	assert_int_equal(rv_router_join(&r, b, "g1"), 0);
	assert_int_equal(rv_router_join(&r, c, "g1"), RV_ELIMIT);
	assert_int_equal(r.groups.count, 2);
	rv_router_free(&r);
}

static void keep_modes(void **state)
{
	(void)state;
	for (int keep = RV_KEEP_NONE; keep <= RV_KEEP_ALL; keep++) {
		struct rv_router r;
		struct rv_router_conf conf = { .keep = keep };
		rv_router_init(&r, &conf, on_event, NULL);
		struct rv_client *a = online(&r, "alice");
		online(&r, "bob");
		rv_router_join(&r, a, "ops");
		rv_router_join(&r, rv_router_find(&r, "bob"), "ops");
		rv_strv_add(&a->contacts, "bob");
		events[0] = 0;
		rv_router_detach(&r, a);
		struct rv_client *back = rv_router_find(&r, "alice");
		if (keep == RV_KEEP_NONE) {
			assert_null(back);
			assert_string_equal(events, "bob:left alice ops;");
			assert_int_equal(rv_router_group(&r, "ops")->n, 1);
		} else {
			assert_non_null(back);
			assert_null(back->recv);
			assert_int_equal(rv_router_group(&r, "ops")->n, 2);
			assert_int_equal(back->contacts.n, keep == RV_KEEP_ALL ? 1 : 0);
		}
		rv_router_free(&r);
	}
}

static char unlinked[256];
static void on_unlink(void *ud, const struct rv_client *c, const struct rv_group *g)
{
	(void)ud;
	size_t n = strlen(unlinked);
	snprintf(unlinked + n, sizeof unlinked - n, "%s-%s:%zu;", c->id, g->name, g->n);
}

/* The owner hears every member that leaves a group: by leave, by the last
 * detach (keep none), with the members left (0: the group goes next). */
static void unlink_hook(void **state)
{
	(void)state;
	struct rv_router r;
	struct rv_router_conf conf = { 0 };
	rv_router_init(&r, &conf, NULL, NULL);
	r.on_unlink = on_unlink;
	struct rv_client *a = online(&r, "alice"), *b = online(&r, "bob");
	rv_router_join(&r, a, "ops");
	rv_router_join(&r, b, "ops");
	rv_router_join(&r, b, "dev");
	unlinked[0] = 0;
	assert_int_equal(rv_router_leave(&r, a, "ops"), 0);
	assert_string_equal(unlinked, "alice-ops:1;");
	unlinked[0] = 0;
	rv_router_detach(&r, b);
	assert_string_equal(unlinked, "bob-dev:0;bob-ops:0;");
	assert_null(rv_router_group(&r, "ops"));
	rv_router_free(&r);
}

/* Memberships that move (a cluster): silent, no limits, no on_unlink. */
static void moves(void **state)
{
	(void)state;
	struct rv_router r;
	struct rv_router_conf conf = { .max_groups = 1, .max_group_members = 1 };
	rv_router_init(&r, &conf, on_event, NULL);
	r.on_unlink = on_unlink;
	struct rv_client *a = online(&r, "alice"), *b = online(&r, "bob");
	assert_int_equal(rv_router_join(&r, a, "ops"), 0);
	events[0] = 0;
	unlinked[0] = 0;
	assert_int_equal(rv_router_adopt(&r, b, "ops"), 0);	/* past max_group_members */
	assert_int_equal(rv_router_adopt(&r, b, "dev"), 0);	/* past max_groups */
	assert_int_equal(rv_router_adopt(&r, b, "ops"), 1);
	assert_string_equal(events, "");
	assert_int_equal(rv_router_group(&r, "ops")->n, 2);
	assert_int_equal(rv_router_drop(&r, b, "ops"), 0);
	assert_int_equal(rv_router_drop(&r, b, "ops"), RV_ENOTFOUND);
	assert_string_equal(events, "");
	assert_string_equal(unlinked, "");
	assert_int_equal(rv_router_forget(&r, b), 0);	/* connected: kept, without groups */
	assert_int_equal(b->ngroups, 0);
	assert_null(rv_router_group(&r, "dev"));
	rv_router_detach(&r, b);
	struct rv_client *c = rv_router_attach(&r, "carol");
	assert_int_equal(rv_router_adopt(&r, c, "ops"), 0);
	c->conns = 0;	/* as if kept offline */
	assert_int_equal(rv_router_forget(&r, c), 1);
	assert_null(rv_router_find(&r, "carol"));
	assert_int_equal(rv_router_group(&r, "ops")->n, 1);
	assert_string_equal(events, "");
	assert_string_equal(unlinked, "");
	rv_router_free(&r);
}

static void ids(void **state)
{
	(void)state;
	assert_true(rv_id_valid("alice"));
	assert_true(rv_id_valid("a.b_c-d@e1"));
	assert_false(rv_id_valid(""));
	assert_false(rv_id_valid("has space"));
	assert_false(rv_id_valid("../etc"));
	char longid[70];
	memset(longid, 'x', 65);
	longid[65] = 0;
	assert_false(rv_id_valid(longid));
	longid[64] = 0;
	assert_true(rv_id_valid(longid));
}

static void map(void **state)
{
	(void)state;
	struct rv_map m;
	char keys[2000][16];
	rv_map_init(&m);
	for (int i = 0; i < 2000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		assert_int_equal(rv_map_put(&m, keys[i], keys[i]), 0);
	}
	assert_int_equal(m.count, 2000);
	for (int i = 0; i < 2000; i += 2)
		assert_ptr_equal(rv_map_del(&m, keys[i]), keys[i]);
	for (int i = 0; i < 2000; i++)
		assert_ptr_equal(rv_map_get(&m, keys[i]), i % 2 ? keys[i] : NULL);
	size_t it = 0, n = 0;
	while (rv_map_next(&m, &it, NULL))
		n++;
	assert_int_equal(n, 1000);
	rv_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(groups_and_events),
		cmocka_unit_test(routing),
		cmocka_unit_test(limits),
		cmocka_unit_test(keep_modes),
		cmocka_unit_test(ids),
		cmocka_unit_test(unlink_hook),
		cmocka_unit_test(moves),
		cmocka_unit_test(map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
