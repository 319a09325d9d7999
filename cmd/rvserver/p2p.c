/* p2p.c - rvserver's side of the peer-group introducer (lib/p2pintro.h):
 * the engine made from the options (the UDP port hands it STUN methods
 * 0x0C0-0x0C3 and sends its replies: relay_ep.c), expiry on the sweep,
 * and its numbers: in
 * /stats under "p2p", in /metrics as rvserver_p2p_*. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "log.h"
#include "metrics.h"
#include "server.h"

static uint32_t random32(void *ud)
{
	uint32_t r = 0;
	(void)ud;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint32_t)rand();
	return r;
}

int p2p_start(struct server *srv)
{
	struct rv_p2p_intro_conf c = srv->conf.p2p;
	c.random = random32;
	if (!(srv->relay.p2p = rv_p2p_intro_new(&c)))
		return -ENOMEM;
	if (c.disabled)
		rv_debug("peer-group introducer disabled (--no-p2p): JOINs are answered 403");
	return 0;
}

void p2p_free(struct server *srv)
{
	rv_p2p_intro_free(srv->relay.p2p);
	srv->relay.p2p = NULL;
}

void p2p_sweep(struct server *srv, uint64_t now)
{
	size_t gone = rv_p2p_intro_tick(srv->relay.p2p, now);
	if (gone)
		rv_debug("peer groups: %zu members expired", gone);
}

#define C(key, name, help, member) \
	RV_METRIC_AT("p2p." key, "rvserver_p2p_" name, help, struct rv_p2p_intro_counters, member)
#define G(key, help, member) \
	{ "p2p." key, "rvserver_p2p_" key, RV_METRIC_GAUGE, help, \
	  offsetof(struct rv_p2p_intro_counters, member), NULL, 0 }
/* The introducer's numbers, read from its counters. */
static const struct rv_metric table[] = {
	G("groups", "Peer groups with members.", groups),
	G("members", "Members of peer groups.", members),
	C("joins", "joins_total", "Peer-group JOINs of a new member or a new address.", joins),
	C("refreshes", "refreshes_total", "Peer-group JOINs that refreshed a member.", refreshes),
	C("leaves", "leaves_total", "Peer-group members that left.", leaves),
	C("expired", "expired_total", "Peer-group members forgotten for no refresh.", expired),
	C("intros", "intros_total", "INTROs sent to members for a newcomer.", intros),
	C("relayed", "relayed_total", "Datagrams relayed between peer-group members.", relayed),
	C("relayed_bytes", "relayed_bytes_total", "DATA bytes relayed between peer-group members.",
	  relayed_bytes),
	C("relay_drops", "relay_drops_total", "Relayed datagrams dropped over --p2p-relay-budget.",
	  relay_drops),
	C("refused_malformed", "refused_malformed_total", "Introducer messages refused as malformed.",
	  refused_malformed),
	C("refused_capacity", "refused_capacity_total", "JOINs refused at a cap (508).", refused_capacity),
	C("refused_disabled", "refused_disabled_total", "Introducer messages refused under --no-p2p (403).",
	  refused_disabled),
	C("refused_stranger", "refused_stranger_total", "RELAYs and LEAVEs from or to no member.",
	  refused_stranger),
	C("challenges", "challenges_total", "JOINs with no good cookie, answered 401 with one.", challenges),
};
#undef C
#undef G

int p2p_metrics(struct server *srv, struct rv_buf *out)
{
	return rv_metrics_prom(out, table, sizeof table / sizeof table[0], rv_p2p_intro_stats(srv->relay.p2p));
}

int p2p_stats(struct server *srv, cJSON *root)
{
	return rv_metrics_json(root, table, sizeof table / sizeof table[0], rv_p2p_intro_stats(srv->relay.p2p));
}
