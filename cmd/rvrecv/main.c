/* rvrecv - take commands, byte streams and files sent through rvserver:
 * options, checks, dispatch. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "router.h"
#include "p2plink.h"
#include "p2plive.h"
#include "rvrecv.h"

enum { O_GROUP = 1, O_ALLOW, O_COUNT, O_TIMEOUT, O_DIR, O_FROM, O_PROGRESS, O_NO_PROGRESS,
       O_SDP, O_OUTPUT, O_MFORMAT, O_DURATION, O_FRAMES, O_TCP, O_P2P, O_KEY, O_NAME, O_PUSH_LIMIT, O_MAX_UPLOAD, O_IPMC,
       O_SERVERLESS, O_PEER, O_LAN, O_BIND, O_PORT_FILE };

static const struct rv_opt opts[] = {
	RV_CLIENT_OPTS,
	{ O_GROUP, 'g', "group", "GROUP", "join GROUP for the session", NULL, NULL },
	{ O_ALLOW, 0, "allow", "ID,...", "accept messages only from these senders", NULL, NULL },
	{ O_FROM, 0, "from", "ID", "data and media: take the streams of this sender only", NULL, NULL },
	{ O_DIR, 'd', "dir", "DIR", "file: save files in DIR (default: the current folder)", "dir", NULL },
	{ O_COUNT, 'c', "count", "N", "exit after N commands, files or streams", NULL, NULL },
	{ O_TIMEOUT, 0, "timeout", "S", "exit after S seconds (status 6 if --count was not reached)", NULL, NULL },
	{ O_PROGRESS, 0, "progress", NULL, "draw a progress bar on stderr even when it is not a terminal", NULL, NULL },
	{ O_NO_PROGRESS, 0, "no-progress", NULL, "never draw a progress bar", NULL, NULL },
	{ O_SDP, 0, "sdp", "FILE", "media: no server: receive the plain RTP that FILE describes", "file", NULL },
	{ O_P2P, 0, "p2p", "SPEC", "media: join the peer group SPEC (rvgroup p2p spec) and record its live stream; the peers relay it to each other, rvserver only introduces them", NULL, NULL },
	{ O_KEY, 0, "key", "FILE", "media --p2p: this peer's Ed25519 key, made if missing (default: a new key for this run)", "file", NULL },
	{ O_NAME, 0, "name", "NAME", "media --p2p: the stream's name (default live)", NULL, NULL },
	{ O_PUSH_LIMIT, 0, "push-limit", "N", "media --p2p: each fragment leaves this peer at most N + 1 times (default 4)", NULL, NULL },
	{ O_MAX_UPLOAD, 0, "max-upload", "BITS", "media --p2p: this peer's upload budget, bits per second (K and M as in --bitrate; 64K to 10000M): pushes and pull answers paced at it, neighbours asked to take their pushes from another past 85 % of it (default: none)", NULL, NULL },
	{ O_IPMC, 0, "ipmc", "ADDR:PORT[,SRC]", "media --p2p: also take the stream's fragments from this IP multicast group (from SRC only: source-specific); the peers fill only what it misses. With --serverless and no --p2p: from there alone, no peer group", NULL, NULL },
	{ O_SERVERLESS, 0, "serverless", NULL, "media --p2p: no rvserver: peers only from --peer and LAN discovery (--lan or the spec's); with --ipmc and no --p2p: IP multicast alone", NULL, NULL },
	{ O_PEER, 0, "peer", "ADDR:PORT", "media --p2p: connect to the peer at ADDR:PORT (repeatable)", NULL, NULL },
	{ O_LAN, 0, "lan", "ADDR:PORT", "media --p2p: the IP multicast address of LAN discovery (default: the spec's, if any)", NULL, NULL },
	{ O_BIND, 0, "bind", "ADDR[:PORT]", "media --p2p: the peer's UDP address (default 0.0.0.0, any port)", NULL, NULL },
	{ O_PORT_FILE, 0, "port-file", "FILE", "media --p2p: write the peer's UDP port to FILE (for another's --peer)", "file", NULL },
	{ O_OUTPUT, 'o', "output", "FILE", "media: write to FILE (.mkv default, .webm, .mp4 fragmented), - for stdout; a %s in FILE makes one file per sender", "file", NULL },
	{ O_MFORMAT, 0, "format", "FMT", "media: the container, as ffmpeg -f names it (default: from -o)", NULL, NULL },
	{ O_DURATION, 0, "duration", "S", "media: stop S seconds after the first packet", NULL, NULL },
	{ O_FRAMES, 0, "frames", "N", "media: stop after N frames", NULL, NULL },
	{ O_TCP, 0, "tcp", NULL, "media: take it over the TCP connection, not UDP", NULL, NULL },
	{ 0 }
};

/* Each command is what it takes (TAKE_*); with none, commands and files.
 * All take through rvserver (take.c), but media --sdp and --p2p (sdprec.c). */
static int run_take(void *a, int argc, char **argv) { (void)argc; (void)argv; return take_run(a); }
static int run_media(void *ud, int argc, char **argv)
{
	struct app *a = ud;
	(void)argc; (void)argv;
	return a->sdp || a->p2p || a->ipmc ? sdprec_run(a) : take_run(a);
}

static const struct rv_subcmd cmds[] = {
	{ "cmd", "", "print each command as 'from: text'", 0, 0, run_take, TAKE_CMD },
	{ "data", "", "write one byte stream to stdout, in order", 0, 0, run_take, TAKE_DATA },
	{ "file", "", "save the files sent to this id", 0, 0, run_take, TAKE_FILE },
	{ "media", "", "record the video streams sent to this id into a file or to stdout (or --sdp FILE: plain RTP; --p2p SPEC: a peer group's live stream)", 0, 0, run_media, TAKE_MEDIA },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvrecv",
	.summary = "Take the commands, byte streams, files and media sent to this id through rvserver.",
	.cmd_optional = 1,	/* commands and files */
	.opts = opts,
	.cmds = cmds,
	.footer = "With no command, takes commands and files. data ends after one stream\n"
		  "(or --count streams); cmd and file run until --count, --timeout or a signal.",
};

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct app *a = ud;
	const char *err = NULL;
	char *end;
	if (key == RV_OPT_SERVER)
		a->server_set = 1;
	if (rv_client_opt(&a->co, key, arg, &err))
		return err;
	switch (key) {
	case O_GROUP:
		if (!rv_id_valid(arg))
			return "a group name is 1-64 characters [A-Za-z0-9._@-]";
		a->group = arg;
		break;
	case O_ALLOW: a->allow = arg; break;
	case O_FROM:
		if (!rv_id_valid(arg))
			return "an id is 1-64 characters [A-Za-z0-9._@-]";
		a->from = arg;
		break;
	case O_DIR: {	/* "inbox/" and "inbox" name the same folder */
		static char dir[4096];
		snprintf(dir, sizeof dir, "%s", arg);
		for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
			dir[n - 1] = 0;
		a->dir = dir;
		break;
	}
	case O_COUNT:
		a->count = strtol(arg, &end, 10);
		if (*end || a->count <= 0)
			return "expected a positive number";
		break;
	case O_TIMEOUT:
		a->timeout = strtod(arg, &end);
		if (*end || a->timeout <= 0)
			return "expected a positive number of seconds";
		break;
	case O_SDP: a->sdp = arg; break;
	case O_OUTPUT: a->output = arg; break;
	case O_MFORMAT: a->mformat = arg; break;
	case O_DURATION:
		a->duration = strtod(arg, &end);
		if (*end || a->duration <= 0)
			return "expected a positive number of seconds";
		break;
	case O_FRAMES:
		a->frames = strtol(arg, &end, 10);
		if (*end || a->frames <= 0)
			return "expected a positive number";
		break;
	case O_TCP: a->tcp = 1; break;
	case O_P2P: a->p2p = arg; break;
	case O_KEY: a->p2p_key = arg; break;
	case O_IPMC: {
		const char *why;
		if (rv_p2plive_ipmc_check(arg, &why) < 0)
			return why + strlen("--ipmc: ");
		a->ipmc = arg;
		break;
	}
	case O_NAME: a->p2p_name = arg; break;
	case O_SERVERLESS: a->serverless = 1; break;
	case O_PEER:
	case O_LAN:
		return rv_p2plive_addr_opt(arg, key == O_LAN, &a->lan, a->peers, &a->npeers);
	case O_BIND: a->bind = arg; break;
	case O_PORT_FILE: a->port_file = arg; break;
	case O_PUSH_LIMIT:
		if ((a->push_limit = rv_p2plive_push_limit(arg)) < 0)
			return "expected a number of neighbours, 1 to 64";
		break;
	case O_MAX_UPLOAD:
		if (rv_parse_bits(arg, 64000, 10000000000ull, &a->max_upload) < 0)
			return "expected bits per second, 64K to 10000M";
		break;
	case O_PROGRESS: a->progress = 1; break;
	case O_NO_PROGRESS: a->progress = -1; break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	rv_client_opts_init(&a->co);
	a->dir = ".";
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	a->take = c ? c->id : TAKE_CMD | TAKE_FILE;
	if (a->take == TAKE_MEDIA) {
		if (!a->output)
			a->output = "show.mkv";
		if (!strcmp(a->output, "-") && a->co.json)
			rv_cli_usage_error(&tool, "-o - writes the stream to stdout: --json would mix with it");
		if (a->sdp && a->p2p)
			rv_cli_usage_error(&tool, "--sdp and --p2p do not go together");
		int mc_only = a->ipmc && !a->p2p;	/* IP multicast alone: no spec, no peer, no server */
		if (mc_only && !a->serverless)
			rv_cli_usage_error(&tool, "--ipmc goes with --p2p SPEC, or alone with --serverless");
		if (a->serverless && !a->p2p && !a->ipmc)
			rv_cli_usage_error(&tool, "--serverless goes with --p2p SPEC or --ipmc");
		if (a->serverless && a->server_set)
			rv_cli_usage_error(&tool, "--serverless and --server do not go together");
		if ((a->p2p_key || a->push_limit || a->max_upload || a->npeers || a->lan || a->bind || a->port_file) && !a->p2p)
			rv_cli_usage_error(&tool, mc_only ? "from IP multicast alone there is no peer: --key, --push-limit, --max-upload, "
							    "--peer, --lan, --bind and --port-file need --p2p SPEC"
							  : "--key, --push-limit, --max-upload, --peer, --lan, --bind and --port-file go with --p2p");
		if (a->p2p_name && !a->p2p && !mc_only)
			rv_cli_usage_error(&tool, "--name goes with --p2p or --ipmc");
		if (a->sdp && mc_only)
			rv_cli_usage_error(&tool, "--sdp and --ipmc do not go together");
		if (a->sdp || a->p2p || mc_only) {	/* no server (--p2p: its UDP port introduces the peers) */
			rv_diag_init("rvrecv", a->co.verbosity);
			rv_out_init(a->co.json);
			int rc = a->sdp ? 0 : rv_client_start("rvrecv", &a->co, &a->tls);	/* lib's log lines too */
			if (rc)
				return rc;
			return c->run(a, npos - 1, argv + 1);
		}
	}
	if (a->serverless || a->npeers || a->lan || a->bind || a->port_file)
		rv_cli_usage_error(&tool, "--serverless, --peer, --lan, --bind and --port-file are for media");
	if (a->take == TAKE_DATA && a->co.json)
		rv_cli_usage_error(&tool, "data writes the stream to stdout: --json would mix with it");
	struct stat st;
	if ((a->take & TAKE_FILE) && (stat(a->dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		rv_cli_usage_error(&tool, "--dir %s is not a directory", a->dir);
	const char *err = rv_client_opts_finish(&a->co);
	if (err)
		rv_cli_usage_error(&tool, "%s", err);

	int rc = rv_client_start("rvrecv", &a->co, &a->tls);
	if (rc)
		return rc;
	if (a->allow) {
		a->hello_extra = cJSON_CreateObject();
		cJSON *ids = cJSON_AddArrayToObject(a->hello_extra, "allow");
		char *copy = strdup(a->allow), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!rv_id_valid(t))
				rv_cli_usage_error(&tool, "--allow takes ids separated by commas");
			cJSON_AddItemToArray(ids, cJSON_CreateString(t));
		}
		free(copy);
	}
	rc = c ? c->run(a, npos - 1, argv + 1) : take_run(a);
	cJSON_Delete(a->hello_extra);
	rv_tls_ctx_free(a->tls);
	return rc;
}
