/* p2prun.c - the p2p commands that run a peer (join, post, send, info),
 * under p2p.c: the key and spec they load, the peer they start
 * (lib/p2plink.h), and the events they print with the NetStatus names Flash's
 * NetGroup users know. It calls only app.c and lib. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "log.h"
#include "p2pcap.h"
#include "p2pspec.h"
#include "xfer.h"
#include "rvgroup.h"

#define SETTLE_MS 1000              /* post, send, info: after the first neighbour, for the ring to form */
#define ACK_WAIT_MS 5000            /* send: its acknowledgement, at most this long after it left */
#define LINGER_MS 500               /* after the last post: for repairs (IWANT) to be answered */

/* ---- text ---- */

void p2p_hex(const uint8_t *p, size_t n, char *out)
{
	rv_hex(p, n, out);
}

int p2p_unhex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* The key file: --key, else $XDG_CONFIG_HOME/rvkit/p2p.key, else ~/.config/rvkit/p2p.key. */
static const char *key_path(struct p2p_opts *o, char *buf, size_t cap)
{
	if (o->key)
		return o->key;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(buf, cap, "%s/rvkit", xdg);
	else
		snprintf(buf, cap, "%s/.config/rvkit", home && *home ? home : ".");
	if (!(xdg && *xdg)) {
		char parent[4096];
		snprintf(parent, sizeof parent, "%s/.config", home && *home ? home : ".");
		mkdir(parent, 0700);
	}
	mkdir(buf, 0700);
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, "/p2p.key");
	return buf;
}

int p2p_load_key(struct p2p *g)
{
	char buf[4096];
	const char *path = key_path(g->o, buf, sizeof buf);
	int created = 0, rc = rv_p2p_key_open(path, &g->key, &created);
	if (rc < 0) {
		rv_say_error("--key %s: %s", path, rc == RV_EPROTO ? "not an Ed25519 private key (PEM)" : rv_strerror(rc));
		return -1;
	}
	if (created)
		rv_say_info("made a new peer key in %s", path);
	return 0;
}

int p2p_load_spec(struct p2p *g, const char *text)
{
	const char *why;
	if (rv_p2p_spec_parse(text, strlen(text), &g->spec, &why) < 0) {
		rv_say_error("not a group spec: %s", why);
		return -1;
	}
	if (rv_p2p_group_id(&g->spec, g->group, &why) < 0) {
		rv_say_error("group spec: %s", why);
		return -1;
	}
	return 0;
}

int p2p_is_owner(const struct p2p *g)
{
	for (int i = 0; i < g->spec.nowners; i++)
		if (!memcmp(g->spec.owners[i], g->key.pub, RV_P2P_KEY_LEN))
			return 1;
	return 0;
}

/* --cap: a token ("rvc1:...") or a file that holds one. */
static int load_cap(struct p2p *g)
{
	const char *arg = g->o->cap, *why;
	int rc = rv_p2plink_cap_load(arg, g->cap);
	if (rc < 0) {
		if (rc == RV_EPROTO)
			rv_say_error("--cap: not a capability (rvc1:...)");
		else
			rv_say_error("--cap %s: %s", arg, rv_strerror(rc));
		return -1;
	}
	if (rv_p2p_cap_check(g->cap, sizeof g->cap, &g->spec, g->group, g->key.id, RV_P2P_RIGHT_POST,
			     rv_p2plink_wall_ms() / 1000, &why) < 0) {
		rv_say_error("--cap: %s", why);
		return -1;
	}
	g->has_cap = 1;
	return 0;
}

/* ---- events ---- */

cJSON *p2p_json_event(const char *code)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddNumberToObject(o, "time", (double)rv_p2plink_wall_ms());
	return o;
}

void p2p_json_hex(cJSON *o, const char *name, const uint8_t *p)
{
	char t[65];
	p2p_hex(p, 32, t);
	cJSON_AddStringToObject(o, name, t);
}

static void add_addr(cJSON *o, const struct sockaddr_storage *a)
{
	char t[80];
	rv_p2plink_addr_text((const struct sockaddr *)a, t, sizeof t);
	cJSON_AddStringToObject(o, "addr", t);
}

/* A number as cJSON prints it (so that the fast line below reads the same):
 * a whole number below 10^15 as its digits, without formatting a double. */
static void json_number(char *b, size_t cap, double d)
{
	if (d >= 0 && d < 1e15 && d == (double)(uint64_t)d) {
		snprintf(b, cap, "%" PRIu64, (uint64_t)d);
		return;
	}
	snprintf(b, cap, "%1.15g", d);
	if (strtod(b, NULL) != d)
		snprintf(b, cap, "%1.17g", d);
}

/* A post or routed message as one JSON line, the same keys in the same order
 * as a cJSON object would print, without building one: a peer prints a line
 * per post delivered, and the object's allocations and generic printer were
 * most of that (cJSON still escapes the text). */
static void print_message_json(struct p2p *g, const struct rv_p2p_node_ev *e, const char *author)
{
	char id[65], now[32], sent[32], extra[64] = "";
	p2p_hex(e->id, 32, id);
	json_number(now, sizeof now, (double)rv_p2plink_wall_ms());
	json_number(sent, sizeof sent, (double)e->time_ms);
	if (e->type == RV_P2P_NODE_ROUTED)
		snprintf(extra, sizeof extra, ",\"hops\":%u,\"fromLocal\":%s", (unsigned)e->hops,
			 !memcmp(e->author, g->key.id, 32) ? "true" : "false");
	char *text = malloc(e->len + 1), *quoted = NULL;
	if (text) {
		memcpy(text, e->data, e->len);
		text[e->len] = 0;
		cJSON *t = cJSON_CreateString(text);
		quoted = t ? cJSON_PrintUnformatted(t) : NULL;
		cJSON_Delete(t);
		free(text);
	}
	size_t cap = 512 + (quoted ? strlen(quoted) : 0);
	char *line = malloc(cap);
	if (line) {
		int n = snprintf(line, cap, "{\"code\":\"%s\",\"time\":%s,\"id\":\"%s\",\"from\":\"%s\",\"sent\":%s%s%s%s}\n",
				 e->type == RV_P2P_NODE_POST ? "NetGroup.Posting.Notify" : "NetGroup.SendTo.Notify",
				 now, id, author, sent, extra, quoted ? ",\"text\":" : "", quoted ? quoted : "");
		if (n > 0 && (size_t)n < cap)
			rv_out_bytes(line, (size_t)n);
		free(line);
	}
	free(quoted);
}

static void print_message(struct p2p *g, const struct rv_p2p_node_ev *e)
{
	char author[65];
	p2p_hex(e->author, 32, author);
	if (rv_out_json_mode()) {
		print_message_json(g, e, author);
	} else {
		char *text = app_printable(e->data, e->len);
		if (e->type == RV_P2P_NODE_POST)
			rv_out_line("[p2p] %.8s: %s", author, text ? text : "?");
		else
			rv_out_line("[@%.8s] %s", author, text ? text : "?");
		free(text);
	}
}

static void print_neighbor(const struct rv_p2p_node_ev *e)
{
	char peer[65], addr[80];
	p2p_hex(e->peer, 32, peer);
	rv_p2plink_addr_text((const struct sockaddr *)&e->addr, addr, sizeof addr);
	int up = e->type == RV_P2P_NODE_NEIGHBOR_UP;
	if (rv_out_json_mode()) {
		cJSON *o = p2p_json_event(up ? "NetGroup.Neighbor.Connect" : "NetGroup.Neighbor.Disconnect");
		cJSON_AddStringToObject(o, "peer", peer);
		add_addr(o, &e->addr);
		if (up)
			cJSON_AddBoolToObject(o, "relayed", e->relayed);
		else
			cJSON_AddStringToObject(o, "reason", e->why ? e->why : "closed");
		rv_out_obj(o);
	} else if (up) {
		rv_out_line("* neighbour %.8s connected (%s)", peer, addr);
	} else {
		rv_out_line("* neighbour %.8s left: %s", peer, e->why ? e->why : "closed");
	}
}

/* What the introducer said: in join, an event; elsewhere, diagnostics. */
static void print_server(struct p2p *g, const struct rv_p2p_node_ev *e)
{
	char addr[80];
	int join = !strcmp(g->a->args[0], "join");
	if (e->type == RV_P2P_NODE_SERVER_SILENT) {
		rv_p2plink_addr_text((const struct sockaddr *)&e->addr, addr, sizeof addr);
		rv_say_error("no answer from rvserver's UDP port at %s: is it running there? (--server; "
			     "peers can still be found with --peer or --lan; --serverless stops asking)", addr);
		if (join && rv_out_json_mode()) {
			cJSON *o = p2p_json_event("NetGroup.Introducer.Silent");
			cJSON_AddStringToObject(o, "server", addr);
			rv_out_obj(o);
		}
		return;
	}
	if (e->type == RV_P2P_NODE_REFUSED) {
		rv_say_error("rvserver refused to introduce this peer: %.*s", (int)e->len, (const char *)e->data);
		if (join && rv_out_json_mode()) {
			cJSON *o = p2p_json_event("NetGroup.Introducer.Refused");
			char reason[80];
			snprintf(reason, sizeof reason, "%.*s", (int)e->len, (const char *)e->data);
			cJSON_AddStringToObject(o, "reason", reason);
			rv_out_obj(o);
		}
		return;
	}
	rv_p2plink_addr_text((const struct sockaddr *)&e->addr, addr, sizeof addr);
	rv_say_debug("rvserver introduced this peer (it sees %s) to %u members", addr, e->hops);
	if (join && rv_out_json_mode()) {
		cJSON *o = p2p_json_event("NetGroup.Introducer.Joined");
		cJSON_AddStringToObject(o, "mapped", addr);
		cJSON_AddNumberToObject(o, "members", e->hops);
		rv_out_obj(o);
	}
}

static void end(struct p2p *g, int code);
static void waited(uv_timer_t *t);
static void acked(struct p2p *g, const struct rv_p2p_node_ev *e);

static void on_event(void *ud, const struct rv_p2p_node_ev *e)
{
	struct p2p *g = ud;
	static const uint8_t zero[32];
	switch (e->type) {
	case RV_P2P_NODE_NEIGHBOR_UP:
		if (!g->neighbors_seen++ && g->waiting)	/* the first: now let the ring form */
			uv_timer_start(&g->wait, waited, SETTLE_MS, 0);
		/* fall through */
	case RV_P2P_NODE_NEIGHBOR_DOWN:
		if (g->on_object)
			g->on_object(g, e);
		if (!strcmp(g->a->args[0], "join"))	/* post, send and info print only their result */
			print_neighbor(e);
		return;
	case RV_P2P_NODE_CONNECT_FAILED:
		if (memcmp(e->peer, zero, 32) == 0) {	/* a --peer: the user wants to know */
			char addr[80];
			rv_p2plink_addr_text((const struct sockaddr *)&e->addr, addr, sizeof addr);
			if (rv_out_json_mode()) {
				cJSON *o = p2p_json_event("NetGroup.Connect.Failed");
				add_addr(o, &e->addr);
				cJSON_AddStringToObject(o, "reason", e->why ? e->why : "no answer");
				rv_out_obj(o);
			}
			rv_say_error("no session with %s: %s", addr, e->why ? e->why : "no answer");
		}
		return;
	case RV_P2P_NODE_INTRODUCED:
	case RV_P2P_NODE_REFUSED:
	case RV_P2P_NODE_SERVER_SILENT:
		print_server(g, e);
		return;
	case RV_P2P_NODE_BAD_PEER: {
		char peer[65];
		p2p_hex(e->peer, 32, peer);
		rv_say_error("neighbour %.8s cut off: %s", peer, e->why ? e->why : "bad message");
		return;
	}
	case RV_P2P_NODE_POST:
	case RV_P2P_NODE_ROUTED:
		print_message(g, e);
		if (g->a->count && ++g->received >= g->a->count)
			end(g, RV_EXIT_OK);
		return;
	case RV_P2P_NODE_ACK:
		acked(g, e);
		return;
	case RV_P2P_NODE_OBJECT:	/* replicated objects: share and fetch's (objects.c) */
		if (g->on_object)
			g->on_object(g, e);
		return;
	}
}

/* ---- info ---- */

static cJSON *info(struct p2p *g)
{
	struct rv_p2p_node *n = rv_p2plink_node(g->peer);
	struct rv_p2p_node_stats st;
	rv_p2p_node_stats(n, &st);
	double secs = (double)(rv_p2plink_wall_ms() - g->started_wall) / 1000.0;
	if (secs < 0.001)
		secs = 0.001;
	cJSON *o = p2p_json_event("NetGroup.Info");
	p2p_json_hex(o, "peer", g->key.id);
	cJSON_AddNumberToObject(o, "port", rv_p2plink_port(g->peer));
	cJSON_AddNumberToObject(o, "neighborCount", (double)st.neighbors);
	cJSON_AddNumberToObject(o, "estimatedMemberCount", (double)st.estimate);
	cJSON_AddNumberToObject(o, "neighborTarget", (double)st.target);
	cJSON_AddNumberToObject(o, "knownPeers", (double)st.known);
	cJSON *i = cJSON_AddObjectToObject(o, "info");
	cJSON_AddNumberToObject(i, "postingSendDataBytesPerSecond", (double)st.gossip.data_out / secs);
	cJSON_AddNumberToObject(i, "postingSendControlBytesPerSecond", (double)st.gossip.control_out / secs);
	cJSON_AddNumberToObject(i, "receiveBytesPerSecond", (double)st.bytes_in / secs);
	cJSON_AddNumberToObject(i, "sendBytesPerSecond", (double)st.bytes_out / secs);
	cJSON *c = cJSON_AddObjectToObject(o, "counts");
	cJSON_AddNumberToObject(c, "postsSent", (double)st.posts_sent);
	cJSON_AddNumberToObject(c, "postsReceived", (double)st.posts_received);
	cJSON_AddNumberToObject(c, "duplicates", (double)st.gossip.duplicates);
	cJSON_AddNumberToObject(c, "grafts", (double)st.gossip.grafts);
	cJSON_AddNumberToObject(c, "prunes", (double)st.gossip.prunes);
	cJSON_AddNumberToObject(c, "routedSent", (double)st.routed_sent);
	cJSON_AddNumberToObject(c, "routedReceived", (double)st.routed_received);
	cJSON_AddNumberToObject(c, "routedForwarded", (double)st.routed_forwarded);
	cJSON_AddNumberToObject(c, "routedResent", (double)st.routed_resent);
	cJSON_AddNumberToObject(c, "routedDuplicates", (double)st.routed_duplicates);
	cJSON_AddNumberToObject(c, "noRoute", (double)st.no_route);
	cJSON_AddNumberToObject(c, "badPeers", (double)st.bad);
	cJSON_AddNumberToObject(c, "connects", (double)st.connects);
	cJSON_AddNumberToObject(c, "connectFailures", (double)st.connect_failures);
	cJSON_AddNumberToObject(c, "disconnects", (double)st.disconnects);
	cJSON_AddNumberToObject(c, "relayedSessions", (double)st.relayed_sessions);
	cJSON_AddNumberToObject(c, "relayedIn", (double)st.relayed_in);
	cJSON_AddNumberToObject(c, "relayedOut", (double)st.relayed_out);
	cJSON_AddNumberToObject(c, "intros", (double)st.intros);
	cJSON_AddNumberToObject(c, "punches", (double)st.punches);
	if (st.introduced) {	/* our address as rvserver sees it, and what that says of NAT */
		char t[80];
		rv_p2plink_addr_text((const struct sockaddr *)&st.mapped, t, sizeof t);
		cJSON_AddStringToObject(o, "mapped", t);
		cJSON_AddStringToObject(o, "natClass", rv_p2plink_port(g->peer) == rv_p2plink_addr_port(&st.mapped) ?
					"none, or a NAT that keeps ports" : "NAT (the port is translated)");
	} else {
		cJSON_AddStringToObject(o, "natClass", "unknown (no introducer)");
	}
	cJSON *list = cJSON_AddArrayToObject(o, "neighbors");
	struct rv_p2p_node_nb nb;
	for (size_t k = 0; rv_p2p_node_neighbor(n, k, &nb); k++) {
		cJSON *x = cJSON_CreateObject();
		p2p_json_hex(x, "peer", nb.peer);
		add_addr(x, &nb.addr);
		if (nb.rtt_ms != UINT32_MAX)
			cJSON_AddNumberToObject(x, "rttMs", nb.rtt_ms);
		cJSON_AddBoolToObject(x, "eager", nb.eager);
		cJSON_AddBoolToObject(x, "relayed", nb.relayed);
		cJSON_AddItemToArray(list, x);
	}
	return o;
}

static void print_info(struct p2p *g)
{
	cJSON *o = info(g);
	if (rv_out_json_mode()) {
		rv_out_obj(o);
		return;
	}
	rv_out_line("peer %s, port %d: %d neighbours (target %d), %d peers known, about %d members",
		    cJSON_GetObjectItem(o, "peer")->valuestring, rv_p2plink_port(g->peer),
		    cJSON_GetObjectItem(o, "neighborCount")->valueint, cJSON_GetObjectItem(o, "neighborTarget")->valueint,
		    cJSON_GetObjectItem(o, "knownPeers")->valueint, cJSON_GetObjectItem(o, "estimatedMemberCount")->valueint);
	cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "neighbors")) {
		cJSON *rtt = cJSON_GetObjectItem(x, "rttMs");
		char ms[32] = "";
		if (rtt)
			snprintf(ms, sizeof ms, "  rtt %d ms", rtt->valueint);
		rv_out_line("  %.16s  %s%s", cJSON_GetObjectItem(x, "peer")->valuestring,
			    cJSON_GetObjectItem(x, "addr")->valuestring, ms);
	}
	cJSON_Delete(o);
}

static void on_usr1(uv_signal_t *s, int sig)
{
	(void)sig;
	print_info(s->data);
}

/* ---- the run ---- */

static void closed(void *ud)
{
	struct p2p *g = ud;
	uv_close((uv_handle_t *)&g->wait, NULL);
	uv_close((uv_handle_t *)&g->usr1, NULL);
	uv_close((uv_handle_t *)&g->stop[0], NULL);
	uv_close((uv_handle_t *)&g->stop[1], NULL);
}

static void end(struct p2p *g, int code)
{
	if (g->ended)
		return;
	g->ended = 1;
	if (g->on_end)	/* now: a second signal (timeout(1) sends its group one) may not wait */
		g->on_end(g);
	app_finish(g->a, code);
	rv_p2plink_stop(g->peer, closed);
}

void p2p_end(struct p2p *g, int code)
{
	end(g, code);
}

/* Interrupted: the neighbours are told (they need not wait for silence). */
static void on_stop(uv_signal_t *s, int sig)
{
	end(s->data, 128 + sig);
}

static void lingered(uv_timer_t *t)
{
	end(t->data, RV_EXIT_OK);
}

static void linger(struct p2p *g)
{
	g->lingering = 1;
	uv_timer_start(&g->wait, lingered, LINGER_MS, 0);
}

/* The line TEXT as a post, or "@PEERID text" routed to one peer. */
static int post_line(struct p2p *g, const char *line, size_t len)
{
	uint8_t dst[32];
	if (len > 66 && line[0] == '@' && line[65] == ' ') {
		char id[65];
		memcpy(id, line + 1, 64);
		id[64] = 0;
		if (p2p_unhex32(id, dst) == 0) {
			int rc = rv_p2plink_send(g->peer, RV_P2P_TO_PEER, dst, line + 66, len - 66, NULL);
			if (rc == RV_ENOTFOUND)
				rv_say_error("no route to %.8s", id);
			return rc;
		}
	}
	int rc = rv_p2plink_post(g->peer, line, len, NULL);
	if (rc == RV_EDENIED)
		rv_say_error("cannot post: the group is restricted, and posting needs a capability from an owner "
			     "(rvgroup p2p grant, then --cap)");
	else if (rc < 0)
		rv_say_error("cannot post: %s", rv_strerror(rc));
	return rc;
}

static void join_line(struct app *a, char *line, size_t len)
{
	post_line(a->p2p_run, line, len);
}

static void join_eof(struct app *a)
{
	struct p2p *g = a->p2p_run;
	if (!g->o->stay)
		linger(g);
}

/* send: no acknowledgement came in time. */
static void not_acked(uv_timer_t *t)
{
	struct p2p *g = t->data;
	rv_say_error("not delivered: no acknowledgement within %d s (the message or its acknowledgement was "
		     "lost on the way)", ACK_WAIT_MS / 1000);
	end(g, RV_EXIT_TIMEOUT);
}

/* send: an acknowledgement E; ours when it names the message we sent, and,
 * for a message to a peer ID, comes from that peer when it says delivered. */
static void acked(struct p2p *g, const struct rv_p2p_node_ev *e)
{
	char who[65];
	if (!g->awaiting || memcmp(e->id, g->sent_id, 32))
		return;
	if (e->mode == RV_P2P_ACK_DELIVERED && g->awaiting == 2 && memcmp(e->author, g->sent_to, 32))
		return;	/* only the destination may say it has it */
	g->awaiting = 0;
	uv_timer_stop(&g->wait);
	p2p_hex(e->author, 32, who);
	if (e->mode == RV_P2P_ACK_DELIVERED) {
		rv_say_debug("delivered to %.16s", who);
		end(g, RV_EXIT_OK);
		return;
	}
	rv_say_error("not delivered: %s (peer %.16s, nearest the destination, says so)",
		     e->mode == RV_P2P_ACK_NO_ROUTE ? "no peer of the group has that ID" : "it ran out of hops", who);
	end(g, RV_EXIT_NO_ROUTE);
}

/* post, send, info: what they do once neighbours are there. */
static void act(struct p2p *g)
{
	const char *cmd = g->a->args[0];
	if (!strcmp(cmd, "info")) {
		print_info(g);
		end(g, RV_EXIT_OK);
		return;
	}
	size_t len = 0;
	char text[RVGROUP_MAX_LINE + 1] = "";
	for (int i = 2; i < g->a->nargs; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", i > 2 ? " " : "", g->a->args[i]);
	if (!strcmp(cmd, "post")) {
		if (g->a->nargs > 2) {
			post_line(g, text, len);
			linger(g);
		} else {
			g->a->on_line = join_line;	/* each stdin line, then leave */
			g->a->on_eof = join_eof;
			input_start(g->a);
		}
		return;
	}
	uint8_t dst[32];
	int nearest = g->o->nearest != NULL;
	p2p_unhex32(nearest ? g->o->nearest : g->o->to, dst);
	struct rv_p2p_node_stats before, after;
	rv_p2p_node_stats(rv_p2plink_node(g->peer), &before);
	int rc = rv_p2plink_send(g->peer, nearest ? RV_P2P_TO_NEAREST : RV_P2P_TO_PEER, dst, text, len, g->sent_id);
	rv_p2p_node_stats(rv_p2plink_node(g->peer), &after);
	if (rc == RV_ENOTFOUND) {
		rv_say_error("no route to %.16s: no peer of the group is nearer it", nearest ? g->o->nearest : g->o->to);
		end(g, RV_EXIT_NO_ROUTE);
		return;
	}
	if (rc < 0) {
		rv_say_error("cannot send: %s", rv_strerror(rc));
		end(g, RV_EXIT_FAIL);
		return;
	}
	if (after.routed_received > before.routed_received) {
		end(g, RV_EXIT_OK);	/* ours: delivered here, no datagram */
		return;
	}
	memcpy(g->sent_to, dst, sizeof g->sent_to);
	g->awaiting = !nearest + 1;	/* 2: exact, the destination must say it */
	uv_timer_start(&g->wait, not_acked, ACK_WAIT_MS, 0);
}

static void waited(uv_timer_t *t)
{
	struct p2p *g = t->data;
	g->waiting = 0;
	if (!g->neighbors_seen) {
		rv_say_error("no neighbour within %g s", g->o->wait);
		end(g, RV_EXIT_TIMEOUT);
		return;
	}
	act(g);
}

int p2p_run_peer(struct p2p *g)
{
	struct app *a = g->a;
	struct p2p_opts *o = g->o;
	if (p2p_load_spec(g, a->args[1]) < 0)
		return RV_EXIT_USAGE;
	if (p2p_load_key(g) < 0)
		return RV_EXIT_FAIL;
	if (g->o->cap && load_cap(g) < 0)
		return RV_EXIT_DENIED;
	static const struct { const char *cmd; uint16_t cap; const char *what, *option; } needs[] = {
		{ "post", RV_P2P_CAP_POSTING, "posting", "--posting" },
		{ "send", RV_P2P_CAP_ROUTING, "routing", "--routing" },
		{ "share", RV_P2P_CAP_REPLICATION, "object replication", "--replication" },
		{ "fetch", RV_P2P_CAP_REPLICATION, "object replication", "--replication" },
	};
	for (size_t i = 0; i < sizeof needs / sizeof *needs; i++)
		if (!strcmp(a->args[0], needs[i].cmd) && !rv_p2p_spec_allows(&g->spec, needs[i].cap)) {
			rv_say_error("the group's spec does not enable %s (p2p spec new %s)", needs[i].what,
				     needs[i].option);
			return RV_EXIT_DENIED;
		}
	if (!strcmp(a->args[0], "post") && (g->spec.caps & RV_P2P_CAP_RESTRICT_POSTING) && !p2p_is_owner(g) && !g->has_cap) {
		rv_say_error("the group is restricted: posting needs a capability from an owner (rvgroup p2p grant, "
			     "then --cap)");
		return RV_EXIT_DENIED;
	}
	struct rv_p2plink_conf pc = { .key = &g->key, .bind = o->bind, .port_file = o->port_file,
				.peers = o->peers, .npeers = o->npeers, .max_neighbors = o->max_neighbors,
				.spec = &g->spec, .cap = g->has_cap ? g->cap : NULL };
	memcpy(pc.group, g->group, 32);
	struct sockaddr_storage lan;
	int has_lan = rv_p2plink_lan(o->lan, &g->spec, &lan);	/* --lan, else the spec's */
	if (has_lan < 0) {
		rv_say_error("--lan %s: not an address with a port", o->lan);
		return RV_EXIT_USAGE;
	}
	if (has_lan)
		pc.lan = &lan;
	struct sockaddr_storage server;
	if ((g->spec.caps & RV_P2P_CAP_SERVER_CHANNEL) && !o->serverless) {	/* rvserver introduces */
		char hp[300];
		snprintf(hp, sizeof hp, "%s%s%s:%d", strchr(a->co.host, ':') ? "[" : "", a->co.host,
			 strchr(a->co.host, ':') ? "]" : "", a->co.port);
		if (rv_p2plink_addr(hp, a->co.port, &server, &pc.server_len) < 0) {
			rv_say_error("--server %s: cannot resolve it", a->co.host);
			return RV_EXIT_CONNECT;
		}
		pc.server = &server;
	}
	int obj = !strcmp(a->args[0], "share") || !strcmp(a->args[0], "fetch");
	int code;
	if (obj && (code = objects_prepare(g)) != 0) {
		objects_free(g);
		return code;
	}
	const char *why = NULL;
	g->started_wall = rv_p2plink_wall_ms();
	uv_timer_init(a->loop, &g->wait);
	uv_signal_init(a->loop, &g->usr1);
	uv_signal_init(a->loop, &g->stop[0]);
	uv_signal_init(a->loop, &g->stop[1]);
	g->wait.data = g->usr1.data = g->stop[0].data = g->stop[1].data = g;
	if (rv_p2plink_start(&g->peer, a->loop, &pc, on_event, g, &why) < 0) {
		rv_say_error("cannot start the peer: %s", why ? why : "?");
		closed(g);
		uv_run(a->loop, UV_RUN_DEFAULT);
		objects_free(g);
		return RV_EXIT_FAIL;
	}
	uv_signal_start(&g->usr1, on_usr1, SIGUSR1);
	uv_signal_start(&g->stop[0], on_stop, SIGINT);
	uv_signal_start(&g->stop[1], on_stop, SIGTERM);
	int join = !strcmp(a->args[0], "join");
	if (join && rv_out_json_mode()) {
		cJSON *ev = p2p_json_event("NetGroup.Connect.Success");
		p2p_json_hex(ev, "peer", g->key.id);
		cJSON_AddNumberToObject(ev, "port", rv_p2plink_port(g->peer));
		rv_out_obj(ev);
	} else if (join) {
		char id[65];
		p2p_hex(g->key.id, 32, id);
		rv_say_info("peer %s on UDP port %d", id, rv_p2plink_port(g->peer));
	}
	if (obj) {
		if ((code = objects_start(g)) != 0)
			end(g, code);
	} else if (join) {
		a->on_line = join_line;
		a->on_eof = join_eof;
		if (input_start(a) < 0) {
			rv_say_error("cannot read stdin");
			end(g, RV_EXIT_FAIL);
		}
	} else {
		g->waiting = 1;
		uv_timer_start(&g->wait, waited, (uint64_t)(o->wait * 1000), 0);
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	objects_free(g);
	return a->exit_code;
}
