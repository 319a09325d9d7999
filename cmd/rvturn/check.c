/* check.c - rvturn check: every step of using a TURN server, in order,
 * each with PASS or FAIL, its time, and for a failure the likely cause. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "rvturn.h"

struct run {
	struct opts *o;
	const char *tr;
	int failed;
	int exit_code;
	double t0;
};

static void step(struct run *r, const char *name, int ok, const char *detail, const char *hint)
{
	double ms = now_ms() - r->t0;
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "transport", r->tr);
		cJSON_AddStringToObject(j, "step", name);
		cJSON_AddBoolToObject(j, "ok", ok);
		cJSON_AddNumberToObject(j, "ms", (double)(long)(ms * 1000) / 1000);
		if (detail && *detail)
			cJSON_AddStringToObject(j, "detail", detail);
		if (hint)
			cJSON_AddStringToObject(j, "hint", hint);
		rv_out_obj(j);
	} else {
		rv_out_line("%-4s %s %-18s %8.2f ms  %s", ok ? "PASS" : "FAIL", r->tr, name, ms,
			    detail ? detail : "");
		if (hint)
			rv_out_line("     hint: %s", hint);
	}
	if (!ok)
		r->failed = 1;
	r->t0 = now_ms();
}

/* The likely cause of a failed step, in words a user can act on. */
static const char *hint_for(const struct client *c, int authed)
{
	if (c->unreachable)
		return c->tr == TR_TLS && c->reached ? "check the certificate (--ca FILE, or --insecure to skip) and the name"
						     : "is the server running on that address and port?";
	if (c->lost)
		return "the server went away during the check (stopped or restarted?)";
	if (c->timed_out)
		return "no answer: check the port, the transport (UDP, TCP, TLS) and firewalls";
	switch (c->err_code) {
	case 401:
		return authed ? "wrong username or password, or the wrong realm (use-auth-secret servers: --secret-file)"
			      : NULL;
	case 403:
		return "the server refuses this peer address: coturn refuses loopback and private peers unless "
		       "started with --allow-loopback-peers (and without denied-peer-ip for them)";
	case 437:
		return "allocation mismatch: a previous allocation from this address still exists; wait or use another port";
	case 438:
		return "the nonce went stale again at once: the server's clock or --stale-nonce setting";
	case 441:
		return "wrong credentials for this allocation";
	case 442:
		return "the server does not relay UDP";
	case 486:
		return "allocation quota reached (coturn: user-quota / total-quota)";
	case 508:
		return "the server is out of relay ports (min-port/max-port)";
	}
	return NULL;
}

static void fail(struct run *r, const char *name, struct client *c, int authed)
{
	step(r, name, 0, c->err, hint_for(c, authed));
	if (r->exit_code == 0)
		r->exit_code = client_exit(c);
}

/* Wait up to MS for a message on C carrying PAYLOAD (Data indication or
 * ChannelData); 1 when it came, 0 when not, -1 when the connection failed
 * (c->err). */
static int expect(struct client *c, const char *payload, int ms, int *via_channel)
{
	uint8_t buf[RV_STUN_MAX];
	double deadline = now_ms() + ms;
	size_t plen = strlen(payload);
	for (;;) {
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return 0;
		int n = client_recv(c, buf, sizeof buf, left);
		if (n <= 0)
			return n < 0 ? -1 : 0;
		uint16_t ch;
		const uint8_t *d;
		size_t len;
		if (rv_channel_data_parse(buf, (size_t)n, &ch, &d, &len, NULL) == 0) {
			if (len == plen && !memcmp(d, payload, plen)) {
				*via_channel = 1;
				return 1;
			}
			continue;
		}
		struct rv_stun_msg m;
		if (rv_stun_parse(buf, (size_t)n, &m) == 0 && m.method == RV_STUN_DATA &&
		    m.cls == RV_STUN_INDICATION) {
			const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_DATA);
			if (a && a->len == plen && !memcmp(a->val, payload, plen)) {
				*via_channel = 0;
				return 1;
			}
		}
	}
}

/* B: a second client with its own allocation, using A's realm and nonce. */
static int open_peer(struct opts *o, enum tr tr, const struct client *a, struct client *b)
{
	char addr[128];
	if (client_open(b, o, tr, addr, sizeof addr) < 0)
		return -1;
	client_share_auth(b, a);
	return turn_allocate(b, 1) == 1 ? 0 : -1;
}

static int check_one(struct opts *o, enum tr tr)
{
	struct run r = { o, tr == TR_UDP ? "udp" : tr == TR_TCP ? "tcp" : "tls", 0, 0, now_ms() };
	struct client a, b;
	char addr[128], s1[128], s2[128], detail[512];
	int have_b = 0;

	/* resolve and connect (TCP and TLS) */
	if (client_open(&a, o, tr, addr, sizeof addr) < 0) {
		fail(&r, tr == TR_UDP ? "resolve" : tr == TR_TCP ? "connect" : "tls", &a, 0);
		client_close(&a);
		return r.exit_code;
	}
	snprintf(detail, sizeof detail, "%s%s", addr, tr == TR_TLS ? " (handshake done)" : "");
	step(&r, tr == TR_UDP ? "resolve" : tr == TR_TCP ? "connect" : "tls", 1, detail, NULL);

	if (binding(&a) != 1) {
		fail(&r, "binding", &a, 0);
		goto out;
	}
	snprintf(detail, sizeof detail, "mapped %s", addr_str(&a.mapped, s1, sizeof s1));
	step(&r, "binding", 1, detail, NULL);
	if (!o->uri.turn && !o->user)
		goto out;

	/* unauthenticated Allocate: the server must ask for credentials */
	int rc = turn_allocate(&a, 0);
	if (rc == 0 && a.err_code == 401 && client_realm(&a)[0]) {
		snprintf(detail, sizeof detail, "401 as expected, realm \"%s\"", client_realm(&a));
		step(&r, "allocate-401", 1, detail, NULL);
	} else if (rc == 1) {
		step(&r, "allocate-401", 0, "the server allocated without credentials: it is an open relay",
		     "configure authentication (coturn: lt-cred-mech or use-auth-secret)");
		r.exit_code = RV_EXIT_FAIL;
		goto out;
	} else {
		fail(&r, "allocate-401", &a, 0);
		goto out;
	}
	if (!o->user) {
		step(&r, "allocate", 0, "no credentials given", "pass -u USER and a password (RV_TURN_PASSWORD)");
		r.exit_code = RV_EXIT_USAGE;
		goto out;
	}
	if (turn_allocate(&a, 1) != 1) {
		fail(&r, "allocate", &a, 1);
		goto out;
	}
	snprintf(detail, sizeof detail, "relayed %s, lifetime %u s%s%s", addr_str(&a.relayed, s1, sizeof s1),
		 a.lifetime, a.moved_to[0] ? ", after 300 Try Alternate to " : "", a.moved_to);
	step(&r, "allocate", 1, detail, NULL);

	if (turn_refresh(&a, o->lifetime) != 1) {
		fail(&r, "refresh", &a, 1);
		goto out;
	}
	snprintf(detail, sizeof detail, "lifetime %u s", a.lifetime);
	step(&r, "refresh", 1, detail, NULL);

	/* a second allocation of our own is the peer */
	if (open_peer(o, tr, &a, &b) < 0) {
		fail(&r, "peer-allocate", &b, 1);
		client_close(&b);
		goto out;
	}
	have_b = 1;
	if (turn_permission(&a, &b.relayed) != 1) {
		fail(&r, "permission", &a, 1);
		goto out;
	}
	if (turn_permission(&b, &a.relayed) != 1) {
		fail(&r, "permission", &b, 1);
		goto out;
	}
	snprintf(detail, sizeof detail, "%s <-> %s", addr_str(&a.relayed, s1, sizeof s1),
		 addr_str(&b.relayed, s2, sizeof s2));
	step(&r, "permission", 1, detail, NULL);

	int via = 0;
	turn_send(&a, &b.relayed, "rvturn send", 11);
	int got = expect(&b, "rvturn send", (int)(o->timeout * 1000), &via);
	if (got < 0) {
		fail(&r, "send-indication", &b, 1);
		goto out;
	}
	if (!got) {
		step(&r, "send-indication", 0, "the peer got nothing within the timeout",
		     "the server dropped relayed data: permissions, or a firewall between relay ports");
		r.exit_code = RV_EXIT_FAIL;
		goto out;
	}
	step(&r, "send-indication", 1, "the peer got it as a Data indication", NULL);

	if (turn_bind(&a, 0x4000, &b.relayed) != 1) {
		fail(&r, "channel-bind", &a, 1);
		goto out;
	}
	step(&r, "channel-bind", 1, "channel 0x4000", NULL);

	turn_channel_send(&a, 0x4000, "rvturn channel", 14);
	got = expect(&b, "rvturn channel", (int)(o->timeout * 1000), &via);
	if (got < 0) {
		fail(&r, "channel-data", &b, 1);
		goto out;
	}
	if (!got) {
		step(&r, "channel-data", 0, "the peer got nothing within the timeout", NULL);
		r.exit_code = RV_EXIT_FAIL;
		goto out;
	}
	step(&r, "channel-data", 1, "the peer got it", NULL);

	/* the round trip: a -> channel -> b, b -> indication -> a (as ChannelData) */
	double t = now_ms();
	turn_channel_send(&a, 0x4000, "rvturn ping", 11);
	struct client *echo = &b;
	int ok = expect(&b, "rvturn ping", (int)(o->timeout * 1000), &via);
	if (ok > 0) {
		turn_send(&b, &a.relayed, "rvturn pong", 11);
		echo = &a;
		ok = expect(&a, "rvturn pong", (int)(o->timeout * 1000), &via);
	}
	if (ok < 0) {
		fail(&r, "round-trip", echo, 1);
		goto out;
	}
	if (!ok) {
		step(&r, "round-trip", 0, "no echo within the timeout", NULL);
		r.exit_code = RV_EXIT_FAIL;
		goto out;
	}
	snprintf(detail, sizeof detail, "%.2f ms through two relays", now_ms() - t);
	step(&r, "round-trip", 1, detail, NULL);

	if (turn_refresh(&a, 0) != 1) {
		fail(&r, "delete", &a, 1);
		goto out;
	}
	step(&r, "delete", 1, "Refresh with lifetime 0", NULL);
	turn_refresh(&b, 0);
out:
	if (have_b)
		client_close(&b);
	client_close(&a);
	return r.exit_code;
}

int cmd_check(struct opts *o)
{
	if (!o->transport_all)
		return check_one(o, o->uri.tr);
	int worst = 0;
	for (enum tr tr = TR_UDP; tr <= TR_TLS; tr++) {
		struct opts copy = *o;
		if (tr == TR_TLS && o->uri.tr != TR_TLS && o->uri.port == 3478)
			copy.uri.port = 5349;	/* the TLS port of a default URI */
		int rc = check_one(&copy, tr);
		if (rc && !worst)
			worst = rc;
	}
	return worst;
}
