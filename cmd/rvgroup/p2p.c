/* p2p.c - rvgroup p2p: peer-to-peer groups, where the peers carry the
 * messages among themselves (lib/p2pnode.h) and rvserver only introduces
 * them. Here: the checks of the p2p commands' arguments, the dispatch,
 * and the commands that run no peer (id, spec new|show, grant); the
 * others are p2prun.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "err.h"
#include "log.h"
#include "p2pcap.h"
#include "p2pspec.h"
#include "rvgroup.h"

static int cmd_id(struct p2p *g)
{
	if (p2p_load_key(g) < 0)
		return RV_EXIT_FAIL;
	char id[65], ring[65];
	uint8_t r[32];
	rv_p2p_ring_addr(g->key.id, r);
	p2p_hex(g->key.id, 32, id);
	p2p_hex(r, 32, ring);
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "peer", id);
		cJSON_AddStringToObject(o, "ring", ring);
		rv_out_obj(o);
	} else {
		rv_out_line("%s", id);
	}
	return RV_EXIT_OK;
}

static const struct { uint16_t cap; const char *name; } caps[] = {
	{ RV_P2P_CAP_POSTING, "posting" }, { RV_P2P_CAP_ROUTING, "routing" },
	{ RV_P2P_CAP_REPLICATION, "replication" }, { RV_P2P_CAP_MULTICAST, "multicast" },
	{ RV_P2P_CAP_SERVER_CHANNEL, "server-channel" }, { RV_P2P_CAP_RESTRICT_POSTING, "restrict-posting" },
	{ RV_P2P_CAP_RESTRICT_PUBLISH, "restrict-publish" },
};

/* grant SPEC PEERID: an owner's capability for the peer, printed. */
static int cmd_grant(struct p2p *g, const char *spec, const char *peer)
{
	uint8_t grantee[32], cap[RV_P2P_CAP_LEN];
	char text[RV_P2P_CAP_TEXT];
	if (p2p_load_spec(g, spec) < 0)
		return RV_EXIT_USAGE;
	if (p2p_load_key(g) < 0)
		return RV_EXIT_FAIL;
	if (!p2p_is_owner(g)) {
		rv_say_error("this key is not an owner of the group: only an owner grants (--key the owner's key)");
		return RV_EXIT_DENIED;
	}
	p2p_unhex32(peer, grantee);
	uint64_t expires = rv_p2plink_wall_ms() / 1000 + g->o->expires;
	uint8_t rights = RV_P2P_RIGHT_POST | (g->o->publish ? RV_P2P_RIGHT_PUBLISH : 0);
	if (rv_p2p_cap_make(&g->key, g->group, grantee, rights, expires, cap) < 0)
		return RV_EXIT_FAIL;
	rv_p2p_cap_format(cap, text);
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "cap", text);
		cJSON_AddStringToObject(o, "peer", peer);
		cJSON_AddNumberToObject(o, "expires", (double)expires);
		cJSON *r = cJSON_AddArrayToObject(o, "rights");
		cJSON_AddItemToArray(r, cJSON_CreateString("post"));
		if (rights & RV_P2P_RIGHT_PUBLISH)
			cJSON_AddItemToArray(r, cJSON_CreateString("publish"));
		rv_out_obj(o);
	} else {
		rv_out_line("%s", text);
	}
	return RV_EXIT_OK;
}

static int spec_new(struct p2p *g, const char *name)
{
	struct p2p_opts *o = g->o;
	struct rv_p2p_spec *s = &g->spec;
	memset(s, 0, sizeof *s);
	s->version = RV_P2P_SPEC_VERSION;
	if (strlen(name) > RV_P2P_NAME_MAX) {
		rv_say_error("the name is longer than %d bytes", RV_P2P_NAME_MAX);
		return RV_EXIT_USAGE;
	}
	snprintf(s->name, sizeof s->name, "%s", name);
	uint16_t what = RV_P2P_CAP_POSTING | RV_P2P_CAP_ROUTING | RV_P2P_CAP_REPLICATION |
			RV_P2P_CAP_MULTICAST;	/* none named: all four */
	s->caps = (o->caps & what ? o->caps & what : what) | (o->caps & ~what);
	if (!o->no_server_channel)
		s->caps |= RV_P2P_CAP_SERVER_CHANNEL;
	s->has_unique = 1;
	if (RAND_bytes(s->unique, sizeof s->unique) != 1)
		return RV_EXIT_FAIL;
	if (o->lan) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (rv_p2plink_addr(o->lan, 0, &ss, &len) < 0) {
			rv_say_error("--lan %s: not an address with a port", o->lan);
			return RV_EXIT_USAGE;
		}
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)&ss;
			s->lan_family = 4;
			memcpy(s->lan_addr, &a->sin_addr, 4);
			s->lan_port = ntohs(a->sin_port);
		} else {
			const struct sockaddr_in6 *a = (const void *)&ss;
			s->lan_family = 6;
			memcpy(s->lan_addr, &a->sin6_addr, 16);
			s->lan_port = ntohs(a->sin6_port);
		}
	}
	if (p2p_load_key(g) < 0)
		return RV_EXIT_FAIL;
	s->nowners = 1;	/* the maker owns the group: it signs the capabilities of a restricted one */
	memcpy(s->owners[0], g->key.pub, RV_P2P_KEY_LEN);
	char text[RV_P2P_SPEC_MAX + 1];
	const char *why;
	if (rv_p2p_spec_format(s, text, sizeof text, &why) < 0) {
		rv_say_error("cannot make the spec: %s", why);
		return RV_EXIT_FAIL;
	}
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "spec", text);
		rv_out_obj(j);
	} else {
		rv_out_line("%s", text);
	}
	return RV_EXIT_OK;
}

static int spec_show(struct p2p *g, const char *text)
{
	if (p2p_load_spec(g, text) < 0)
		return RV_EXIT_USAGE;
	char id[65], h[65];
	uint8_t hash[32];
	rv_p2p_group_hash(g->group, hash);
	p2p_hex(g->group, 32, id);
	p2p_hex(hash, 32, h);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", g->spec.name);
	cJSON_AddStringToObject(o, "group", id);
	cJSON_AddStringToObject(o, "serverSees", h);
	cJSON *c = cJSON_AddArrayToObject(o, "capabilities");
	for (size_t i = 0; i < sizeof caps / sizeof *caps; i++)
		if (rv_p2p_spec_allows(&g->spec, caps[i].cap))	/* a version 1 spec's implied ones too */
			cJSON_AddItemToArray(c, cJSON_CreateString(caps[i].name));
	cJSON *ow = cJSON_AddArrayToObject(o, "owners");
	for (int i = 0; i < g->spec.nowners; i++) {
		uint8_t pid[32];
		char t[65];
		rv_p2p_peer_id(g->spec.owners[i], pid);
		p2p_hex(pid, 32, t);
		cJSON_AddItemToArray(ow, cJSON_CreateString(t));
	}
	struct sockaddr_storage lan;
	if (rv_p2plink_lan(NULL, &g->spec, &lan) > 0) {
		char t[80];
		rv_p2plink_addr_text((const struct sockaddr *)&lan, t, sizeof t);
		cJSON_AddStringToObject(o, "lan", t);
	}
	if (rv_out_json_mode()) {
		rv_out_obj(o);
		return RV_EXIT_OK;
	}
	char *caps_text = cJSON_PrintUnformatted(c);
	rv_out_line("name: %s\ngroup: %s\nserver sees: %s\ncapabilities: %s", g->spec.name, id, h, caps_text);
	free(caps_text);
	cJSON_Delete(o);
	return RV_EXIT_OK;
}

const char *p2p_check(struct app *a)
{
	struct p2p_opts *o = &a->p2p;
	const char *cmd = a->nargs > 0 ? a->args[0] : "";
	uint8_t dst[32];
	if (!rv_cli_choice("id|spec|join|post|send|info|grant|share|fetch", cmd))
		return "p2p takes id, spec, join, post, send, info, grant, share or fetch";
	if (!strcmp(cmd, "share"))
		return a->nargs != 3 ? "usage: p2p share SPEC FILE" : NULL;
	if (!strcmp(cmd, "fetch"))
		return a->nargs != 3 ? "usage: p2p fetch SPEC OBJECT-ID -o FILE" :
		       p2p_unhex32(a->args[2], dst) < 0 ? "fetch: OBJECT-ID is 64 hex digits" :
		       !o->output ? "p2p fetch needs -o FILE" : NULL;
	if (!strcmp(cmd, "grant"))
		return a->nargs != 3 ? "usage: p2p grant SPEC PEERID" :
		       p2p_unhex32(a->args[2], dst) < 0 ? "grant: PEERID is 64 hex digits" : NULL;
	if (!strcmp(cmd, "id"))
		return a->nargs == 1 ? NULL : "p2p id takes no argument";
	if (!strcmp(cmd, "spec")) {
		const char *sub = a->nargs > 1 ? a->args[1] : "";
		if (!rv_cli_choice("new|show", sub) || a->nargs != 3)
			return "usage: p2p spec new NAME, or p2p spec show SPEC";
		return NULL;
	}
	if (a->nargs < 2)
		return "this p2p command needs the group's SPEC";
	if (!strcmp(cmd, "send")) {
		if (!o->to == !o->nearest)
			return "p2p send needs one of --to PEERID and --nearest ADDRESS";
		if (p2p_unhex32(o->to ? o->to : o->nearest, dst) < 0)
			return "--to and --nearest take 64 hex digits";
		if (a->nargs < 3)
			return "p2p send needs TEXT";
	}
	if ((!strcmp(cmd, "join") || !strcmp(cmd, "info")) && a->nargs > 2)
		return "only post and send take TEXT";
	return NULL;
}

int p2p_run(struct app *a)
{
	struct p2p_opts *o = &a->p2p;
	struct p2p *g = calloc(1, sizeof *g);
	if (!g)
		return RV_EXIT_FAIL;
	g->a = a;
	g->o = o;
	a->p2p_run = g;
	const char *cmd = a->args[0];
	int code;
	if (!strcmp(cmd, "id"))
		code = cmd_id(g);
	else if (!strcmp(cmd, "grant"))
		code = cmd_grant(g, a->args[1], a->args[2]);
	else if (!strcmp(cmd, "spec"))
		code = !strcmp(a->args[1], "new") ? spec_new(g, a->args[2]) : spec_show(g, a->args[2]);
	else
		code = p2p_run_peer(g);
	rv_p2p_key_free(&g->key);
	free(g);
	a->p2p_run = NULL;
	return code;
}
