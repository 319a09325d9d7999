/* rvgroup - group membership and chat in the shell: options, dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2pspec.h"
#include "rvgroup.h"

enum {
	O_ALLOW = 1, O_RECONNECT, O_COUNT,
	O_KEY, O_BIND, O_PORT_FILE, O_PEER, O_LAN, O_SERVERLESS, O_STAY, O_TO, O_NEAREST,
	O_POSTING, O_ROUTING, O_NO_SERVER_CHANNEL, O_WAIT, O_MAX_NEIGHBORS, O_RESTRICT_POSTING, O_RESTRICT_PUBLISH, O_CAP, O_EXPIRES, O_PUBLISH,
	O_OUTPUT, O_REPLICATION, O_MULTICAST, O_PROGRESS, O_NO_PROGRESS,
};

static const struct rv_opt opts[] = {
	RV_CLIENT_OPTS,
	{ O_ALLOW, 0, "allow", "ID,...", "join/listen: accept messages only from these senders", NULL, NULL },
	{ O_RECONNECT, 0, "reconnect", NULL, "reconnect with backoff after a lost connection and rejoin", NULL, NULL },
	{ O_COUNT, 'c', "count", "N", "join/listen: exit after N messages", NULL, NULL },
	{ O_KEY, 0, "key", "FILE", "p2p: this peer's Ed25519 key, made on first use (default ~/.config/rvkit/p2p.key)", "file", NULL },
	{ O_BIND, 0, "bind", "ADDR[:PORT]", "p2p: the peer's UDP address (default 0.0.0.0, any port)", NULL, NULL },
	{ O_PORT_FILE, 0, "port-file", "FILE", "p2p: write the peer's UDP port to FILE", "file", NULL },
	{ O_PEER, 0, "peer", "ADDR:PORT", "p2p: connect to the peer at ADDR:PORT (repeatable)", NULL, NULL },
	{ O_LAN, 0, "lan", "ADDR:PORT", "p2p: the IP multicast address of LAN discovery (spec new: put it in the spec)", NULL, NULL },
	{ O_SERVERLESS, 0, "serverless", NULL, "p2p: do not ask rvserver to introduce peers", NULL, NULL },
	{ O_STAY, 0, "stay", NULL, "p2p join: keep relaying after the end of standard input; fetch: keep serving the object once fetched", NULL, NULL },
	{ O_TO, 0, "to", "PEERID", "p2p send: to the peer with this ID (64 hex digits)", NULL, NULL },
	{ O_NEAREST, 0, "nearest", "ADDRESS", "p2p send: to the peer nearest this ring address (64 hex digits)", NULL, NULL },
	{ O_POSTING, 0, "posting", NULL, "p2p spec new: members post to every member", NULL, NULL },
	{ O_ROUTING, 0, "routing", NULL, "p2p spec new: members route messages to a peer or address", NULL, NULL },
	{ O_REPLICATION, 0, "replication", NULL, "p2p spec new: members share objects (p2p share, fetch)", NULL, NULL },
	{ O_MULTICAST, 0, "multicast", NULL, "p2p spec new: members pass live streams (rvsend/rvrecv --p2p); none of the four named: all four", NULL, NULL },
	{ O_NO_SERVER_CHANNEL, 0, "no-server-channel", NULL, "p2p spec new: rvserver does not introduce members", NULL, NULL },
	{ O_RESTRICT_POSTING, 0, "restrict-posting", NULL, "p2p spec new: only owners and holders of their capability post", NULL, NULL },
	{ O_RESTRICT_PUBLISH, 0, "restrict-publish", NULL, "p2p spec new: only owners and holders of their capability publish live streams (rvsend --p2p --cap)", NULL, NULL },
	{ O_CAP, 0, "cap", "TOKEN|FILE", "p2p join/post: this peer's capability in a restricted group (from p2p grant)", "file", NULL },
	{ O_PUBLISH, 0, "publish", NULL, "p2p grant: the capability lets its peer publish live streams too (rvsend --p2p --cap)", NULL, NULL },
	{ O_EXPIRES, 0, "expires", "DURATION", "p2p grant: the capability expires after DURATION (s, m, h or d; default 30d)", NULL, NULL },
	{ O_WAIT, 0, "wait", "S", "p2p post/send/info/fetch: wait at most S seconds for a neighbour (fetch: and for progress; default 10)", NULL, NULL },
	{ O_OUTPUT, 'o', "output", "FILE", "p2p fetch: write the object to FILE (FILE.part and FILE.rvobj until it is whole)", "file", NULL },
	{ O_PROGRESS, 0, "progress", NULL, "p2p fetch: draw a progress bar on stderr even when it is not a terminal", NULL, NULL },
	{ O_NO_PROGRESS, 0, "no-progress", NULL, "p2p fetch: never draw a progress bar", NULL, NULL },
	{ O_MAX_NEIGHBORS, 0, "max-neighbors", "N", "p2p: at most N neighbours (default 32, at most 64)", NULL, NULL },
	{ 0 }
};

/* join and listen are chats (chat.c); the others one request each (cmds.c). */
static int run_join(void *a, int argc, char **argv) { (void)argc; (void)argv; return chat_run(a, 0); }
static int run_listen(void *a, int argc, char **argv) { (void)argc; (void)argv; return chat_run(a, 1); }
static int run_request(void *a, int argc, char **argv) { (void)argc; (void)argv; return cmds_run(a); }
static int run_p2p(void *a, int argc, char **argv) { (void)argc; (void)argv; return p2p_run(a); }

static const struct rv_subcmd cmds[] = {
	{ "join", "GROUP...", "join groups: stdin lines go to the group, the group comes to stdout", 1, RV_ARGS_ANY, run_join, 0 },
	{ "listen", "", "print everything addressed to this id", 0, 0, run_listen, 0 },
	{ "post", "GROUP [TEXT...]", "post TEXT (or each stdin line) to a group", 1, RV_ARGS_ANY, run_request, 0 },
	{ "say", "ID [TEXT...]", "send TEXT (or each stdin line) to one client", 1, RV_ARGS_ANY, run_request, 0 },
	{ "members", "GROUP", "list a group's members", 1, 1, run_request, 0 },
	{ "groups", "", "list the groups on the server", 0, 0, run_request, 0 },
	/* the operation and its IDs: check_list_args */
	{ "contacts", "list|add|del [ID...]", "show or change this id's default receivers", 0, RV_ARGS_ANY, run_request, 0 },
	{ "allow", "list|add|del|all|none [ID...]", "show or change who may send to this id", 0, RV_ARGS_ANY, run_request, 0 },
	{ "p2p", "id|spec|join|post|send|info|grant|share|fetch [ARG...]", "peer-to-peer groups: the peers carry the messages, rvserver only introduces them", 1, RV_ARGS_ANY, run_p2p, 0 },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvgroup",
	.summary = "Group membership and chat through rvserver, from the shell.",
	.command_word = "COMMAND",
	.opts = opts,
	.cmds = cmds,
	.footer = "In join, a line \"#GROUP text\" posts to one of several joined groups and\n"
		  "\"@ID text\" sends to one client. Text output: \"[group] from: text\",\n"
		  "\"[@from] text\" for direct messages, \"* id joined group\", \"* id left group\".",
};

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct app *a = ud;
	const char *err = NULL;
	if (key == RV_OPT_ID) {	/* checked with the other names, in check_names */
		a->id_arg = arg;
		return NULL;
	}
	if (rv_client_opt(&a->co, key, arg, &err))
		return err;
	switch (key) {
	case O_ALLOW: a->allow = arg; break;
	case O_RECONNECT: a->reconnect = 1; break;
	case O_KEY: a->p2p.key = arg; break;
	case O_BIND: a->p2p.bind = arg; break;
	case O_PORT_FILE: a->p2p.port_file = arg; break;
	case O_PEER:
		if (a->p2p.npeers == P2P_PEERS_MAX)
			return "too many --peer";
		a->p2p.peers[a->p2p.npeers++] = arg;
		break;
	case O_LAN: a->p2p.lan = arg; break;
	case O_SERVERLESS: a->p2p.serverless = 1; break;
	case O_STAY: a->p2p.stay = 1; break;
	case O_TO: a->p2p.to = arg; break;
	case O_NEAREST: a->p2p.nearest = arg; break;
	case O_POSTING: a->p2p.caps |= RV_P2P_CAP_POSTING; break;
	case O_ROUTING: a->p2p.caps |= RV_P2P_CAP_ROUTING; break;
	case O_REPLICATION: a->p2p.caps |= RV_P2P_CAP_REPLICATION; break;
	case O_MULTICAST: a->p2p.caps |= RV_P2P_CAP_MULTICAST; break;
	case O_NO_SERVER_CHANNEL: a->p2p.no_server_channel = 1; break;
	case O_RESTRICT_POSTING: a->p2p.caps |= RV_P2P_CAP_RESTRICT_POSTING; break;
	case O_RESTRICT_PUBLISH: a->p2p.caps |= RV_P2P_CAP_RESTRICT_PUBLISH; break;
	case O_PUBLISH: a->p2p.publish = 1; break;
	case O_CAP: a->p2p.cap = arg; break;
	case O_OUTPUT: a->p2p.output = arg; break;
	case O_PROGRESS: a->p2p.progress = 1; break;
	case O_NO_PROGRESS: a->p2p.progress = -1; break;
	case O_EXPIRES: {
		char *end;
		double v = strtod(arg, &end);
		double unit = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 :
			      !strcmp(end, "d") ? 86400 : 0;
		if (!(v > 0) || unit == 0 || v * unit > 3650.0 * 86400)
			return "expected a duration: a number with s, m, h or d, at most ten years";
		a->p2p.expires = (uint64_t)(v * unit);
		break;
	}
	case O_WAIT: {
		char *end;
		a->p2p.wait = strtod(arg, &end);
		if (*end || !(a->p2p.wait > 0))
			return "expected a positive number of seconds";
		break;
	}
	case O_MAX_NEIGHBORS: {
		char *end;
		long n = strtol(arg, &end, 10);
		if (*end || n < 1 || n > RV_P2P_NODE_SESSIONS)
			return "expected a number from 1 to 64";
		a->p2p.max_neighbors = (size_t)n;
		break;
	}
	case O_COUNT: {
		char *end;
		a->count = strtol(arg, &end, 10);
		if (*end || a->count <= 0)
			return "expected a positive number";
		break;
	}
	}
	return NULL;
}

static void check_name(const char *what, const char *s)
{
	const char *why = name_problem(s);
	if (why)
		rv_cli_usage_error(&tool, "%s '%s' is not a valid name: %s", what, s, why);
}

/* Every name rvgroup would send, checked in one place before connecting
 * (exit 2): this client's id, the command's groups or target, the IDs of
 * contacts and allow, and --allow. */
static void check_names(struct app *a)
{
	const char *env = getenv("RV_ID");
	if (a->id_arg) {
		check_name("--id", a->id_arg);
		snprintf(a->co.id, sizeof a->co.id, "%s", a->id_arg);
	} else if (env && *env) {
		check_name("RV_ID", env);
	}
	int lists = !strcmp(a->cmd, "contacts") || !strcmp(a->cmd, "allow");
	int all = !strcmp(a->cmd, "join");
	for (int i = lists ? 1 : 0; i < a->nargs && (all || lists || i == 0); i++)
		check_name(lists || !strcmp(a->cmd, "say") ? "ID" : "group", a->args[i]);
	if (!a->allow)
		return;
	char *copy = strdup(a->allow), *save = NULL;
	int n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++)
		check_name("--allow: ID", t);
	free(copy);
	if (n == 0)
		rv_cli_usage_error(&tool, "--allow needs at least one ID");
}

/* Usage errors are found before connecting: a message, and exit 2. */
static const char *check_list_args(struct app *a)
{
	int allow = strcmp(a->cmd, "allow") == 0;
	const char *op = a->nargs ? a->args[0] : "list";
	if (!rv_cli_choice(allow ? "list|add|del|all|none" : "list|add|del", op))
		return allow ? "allow takes list, add, del, all or none" : "contacts takes list, add or del";
	if ((!strcmp(op, "add") || !strcmp(op, "del")) && a->nargs < 2)
		return "add and del need at least one ID";
	if (strcmp(op, "add") && strcmp(op, "del") && a->nargs > 1)
		return "only add and del take IDs";
	return NULL;
}

/* post and say with TEXT: the words are one message, within the limit. */
static void check_text(struct app *a)
{
	if (strcmp(a->cmd, "post") && strcmp(a->cmd, "say"))
		return;
	size_t len = 0;
	for (int i = 1; i < a->nargs; i++)
		len += strlen(a->args[i]) + (i > 1);
	if (len > RVGROUP_MAX_LINE)
		rv_cli_usage_error(&tool, "TEXT is %zu bytes, more than the %u bytes of one message",
				   len, (unsigned)RVGROUP_MAX_LINE);
}

int main(int argc, char **argv)
{
	struct app *a = calloc(1, sizeof *a);
	if (!a)
		return RV_EXIT_FAIL;
	rv_client_opts_init(&a->co);
	a->p2p.wait = 10;
	a->p2p.expires = 30 * 86400;
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	a->cmd = c->name;
	a->args = argv + 1;
	a->nargs = npos - 1;
	const char *err = NULL;
	if (!strcmp(a->cmd, "contacts") || !strcmp(a->cmd, "allow"))
		err = check_list_args(a);
	if (!strcmp(a->cmd, "p2p"))
		err = p2p_check(a);
	if (err)
		rv_cli_usage_error(&tool, "%s", err);
	if (strcmp(a->cmd, "p2p"))
		check_names(a);
	check_text(a);
	err = rv_client_opts_finish(&a->co);
	if (err)
		rv_cli_usage_error(&tool, "%s", err);

	int rc = rv_client_start("rvgroup", &a->co, &a->tls);
	if (rc)
		return rc;
	a->loop = uv_default_loop();
	int code = c->run(a, a->nargs, a->args);
	app_free(a);
	return code;
}
