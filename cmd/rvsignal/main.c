/* rvsignal - WebRTC signalling server (WebSocket and raw TCP), its
 * scriptable client, and a room page for browsers: options, dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cli.h"
#include "err.h"
#include "log.h"
#include "signal.h"
#include "token.h"

enum {
	O_LISTEN = 1, O_PORT, O_PORT_FILE, O_BROKER_PORT, O_TLS_CERT, O_TLS_KEY, O_ICE,
	O_TURN_SECRET, O_TURN_TTL, O_MAX_PEERS, O_TOKEN_SECRET, O_ON_JOIN, O_HANGUP, O_PING,
	O_IDLE, O_RATE, O_MAX_MESSAGE, O_MAX_QUEUE, O_RESUME, O_ROOM, O_NAME, O_TOKEN_FILE,
	O_CA, O_INSECURE, O_TIMEOUT, O_MAX_RESUMABLE, O_CLUSTER, O_NODE_ID, O_CLUSTER_SECRET,
};

static const struct rv_opt opts[] = {
	{ O_LISTEN, 'l', "listen", "ADDR", "serve: address to listen on (default 0.0.0.0)", "host", NULL },
	{ O_PORT, 'p', "port", "PORT", "serve: HTTP and WebSocket port (default 8443; 0 picks one)", NULL, NULL },
	{ O_PORT_FILE, 0, "port-file", "FILE", "serve: write the bound ports (WebSocket, then broker) to FILE", "file", NULL },
	{ O_BROKER_PORT, 0, "broker-port", "PORT", "serve: also a raw-TCP broker (one JSON message a line) on PORT", NULL, NULL },
	{ O_TLS_CERT, 0, "tls-cert", "FILE", "serve: PEM certificate: wss:// and TLS on the broker", "file", NULL },
	{ O_TLS_KEY, 0, "tls-key", "FILE", "serve: PEM private key for --tls-cert", "file", NULL },
	{ O_ICE, 0, "ice", "URI", "serve: an ICE server pushed to every peer (repeatable)", NULL, NULL },
	{ O_TURN_SECRET, 0, "turn-secret-file", "FILE", "serve: give each peer TURN REST credentials made with this secret", "file", NULL },
	{ O_TURN_TTL, 0, "turn-ttl", "S", "serve: seconds TURN credentials last (default 86400)", NULL, NULL },
	{ O_MAX_PEERS, 0, "max-peers", "N", "serve: most peers in one room (default 0: no limit)", NULL, NULL },
	{ O_TOKEN_SECRET, 0, "token-secret-file", "FILE", "serve: joins need an HS256 JWT (claims room, exp) made with this secret", "file", NULL },
	{ O_ON_JOIN, 0, "on-join", "CMD", "serve: run CMD with each join request as JSON on stdin; exit 0 admits", NULL, NULL },
	{ O_HANGUP, 0, "hangup", "MODE", "serve: on bye, close the sender's session or only notify (default notify)", "close|notify", NULL },
	{ O_PING, 0, "ping", "S", "serve: WebSocket ping after S quiet seconds (default 20)", NULL, NULL },
	{ O_IDLE, 0, "idle-timeout", "S", "serve: close connections quiet for S seconds (default 60; 0: never)", NULL, NULL },
	{ O_RATE, 0, "rate", "N", "serve: messages per second per connection, bursts of 2N (default 50; 0: no limit)", NULL, NULL },
	{ O_MAX_MESSAGE, 0, "max-message", "BYTES", "serve: largest message (default 64K)", NULL, NULL },
	{ O_MAX_QUEUE, 0, "max-queue", "BYTES", "serve: output queue per connection before a slow peer is dropped (default 1M)", NULL, NULL },
	{ O_RESUME, 0, "resume-window", "S", "serve: seconds a lost peer may resume its session (default 30)", NULL, NULL },
	{ O_MAX_RESUMABLE, 0, "max-resumable", "N", "serve: sessions kept for a resume per client address (default 16)", NULL, NULL },
	{ O_CLUSTER, 0, "cluster", "URL", "serve: share rooms with the nodes whose Redis is at URL: redis://IP:PORT, unix:PATH or sentinel://IP:PORT[,IP:PORT...]/MASTER (see CLUSTER)", NULL, NULL },
	{ O_NODE_ID, 0, "node-id", "ID", "serve: this node's name in the cluster, 1-40 characters [A-Za-z0-9_-] (needed with --cluster)", NULL, NULL },
	{ O_CLUSTER_SECRET, 0, "cluster-secret-file", "FILE", "serve: the secret every node of the cluster shares: it authenticates their messages (needed with --cluster)", "file", NULL },
	{ O_ROOM, 0, "room", "ROOM", "connect: join ROOM", NULL, NULL },
	{ O_NAME, 0, "name", "NAME", "connect: the name to join with", NULL, NULL },
	{ O_TOKEN_FILE, 0, "token-file", "FILE", "connect: the join token (JWT) in FILE", "file", NULL },
	{ O_CA, 0, "ca", "FILE", "connect: trust the CA certificates in FILE (wss://)", "file", NULL },
	{ O_INSECURE, 0, "insecure", NULL, "connect: do not verify the server's certificate", NULL, NULL },
	{ O_TIMEOUT, 0, "connect-timeout", "S", "connect: give up connecting after S seconds (default 10)", NULL, NULL },
	{ RV_OPT_JSON, 0, "json", NULL, "serve: write events (connect, disconnect, join, leave, message, error) to stdout", NULL, NULL },
	{ RV_OPT_VERBOSE, 'v', "verbose", NULL, "more diagnostics on stderr (repeatable)", NULL, NULL },
	{ RV_OPT_QUIET, 'q', "quiet", NULL, "only errors on stderr", NULL, NULL },
	{ RV_OPT_HELP, 'h', "help", NULL, "print this help and exit", NULL, NULL },
	{ RV_OPT_VERSION, 'V', "version", NULL, "print the version and exit", NULL, NULL },
	{ 0 }
};

static int run_serve(void *ud, int argc, char **argv);
static int run_connect(void *ud, int argc, char **argv);

static const struct rv_subcmd cmds[] = {
	{ "serve", "", "run the signalling server (WebSocket at /ws, the room page at /room/NAME)", 0, 0, run_serve, 0 },
	{ "connect", "URL", "join a room (--room, --name) at ws://HOST:PORT/ws or tcp://HOST:PORT: "
	  "stdin lines out, messages in as JSON lines", 1, 1, run_connect, 0 },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvsignal",
	.summary = "WebRTC signalling: rooms, direct and room messages, ICE servers with TURN credentials, a room page.",
	.cmd_optional = 1,	/* serve */
	.opts = opts,
	.cmds = cmds,
	.footer = "Open http://HOST:PORT/room/NAME in browsers for a video room. The protocol is in rv-signal(7).",
};

struct args {
	struct sig_conf conf;
	struct connect_args connect;
};

static const char *secs(const char *arg, double *out, int zero_ok)
{
	char *end;
	*out = strtod(arg, &end);
	if (*end || end == arg || *out < 0 || (!zero_ok && *out == 0))
		return zero_ok ? "expected a number of seconds" : "expected a positive number of seconds";
	return NULL;
}

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct args *a = ud;
	struct sig_conf *c = &a->conf;
	size_t n;
	switch (key) {
	case O_LISTEN: c->listen = arg; break;
	case O_PORT:
	case O_BROKER_PORT:
		if (rv_parse_size(arg, &n) < 0 || n > 65535)
			return "expected a port number 0-65535";
		*(key == O_PORT ? &c->port : &c->broker_port) = (int)n;
		break;
	case O_PORT_FILE: c->port_file = arg; break;
	case O_TLS_CERT: c->tls_cert = arg; break;
	case O_TLS_KEY: c->tls_key = arg; break;
	case O_ICE: return rv_ice_uri_add(c->ice, &c->nice, (int)(sizeof c->ice / sizeof *c->ice), arg);
	case O_TURN_SECRET: c->turn_secret_file = arg; break;
	case O_TURN_TTL: return secs(arg, &c->turn_ttl, 0);
	case O_MAX_PEERS:
		if (rv_parse_size(arg, &c->max_peers) < 0)
			return "expected a number";
		break;
	case O_TOKEN_SECRET: c->token_secret_file = arg; break;
	case O_ON_JOIN: c->on_join = arg; break;
	case O_HANGUP:
		if (!rv_cli_choice("close|notify", arg))
			return "expected close or notify";
		c->hangup_close = !strcmp(arg, "close");
		break;
	case O_PING: return secs(arg, &c->ping, 1);
	case O_IDLE: return secs(arg, &c->idle_timeout, 1);
	case O_RATE: return secs(arg, &c->rate, 1);
	case O_MAX_MESSAGE:
		if (rv_parse_size(arg, &c->max_message) < 0 || c->max_message < 1024 || c->max_message > (16u << 20))
			return "expected a size from 1K to 16M";
		break;
	case O_MAX_QUEUE:
		if (rv_parse_size(arg, &c->max_queue) < 0 || c->max_queue < 65536)
			return "expected a size of at least 64K";
		break;
	case O_RESUME: return secs(arg, &c->resume_window, 1);
	case O_MAX_RESUMABLE:
		if (rv_parse_size(arg, &c->max_resumable) < 0)
			return "expected a number";
		break;
	case O_CLUSTER: c->cluster_url = arg; break;
	case O_NODE_ID:
		c->node_id = arg;
		return rv_bus_node_id_check(arg);
	case O_CLUSTER_SECRET: c->cluster_secret_file = arg; break;
	case O_ROOM: a->connect.room = arg; break;
	case O_NAME: a->connect.name = arg; break;
	case O_TOKEN_FILE: a->connect.token_file = arg; break;
	case O_CA: a->connect.ca = arg; break;
	case O_INSECURE: a->connect.insecure = 1; break;
	case O_TIMEOUT: return secs(arg, &a->connect.timeout, 0);
	case RV_OPT_JSON: c->json = 1; break;
	case RV_OPT_VERBOSE: c->verbosity++; break;
	case RV_OPT_QUIET: c->verbosity = 0; break;
	}
	return NULL;
}

static void log_line(enum rv_log_level level, const char *line, void *ud)
{
	(void)ud;
	fprintf(stderr, "rvsignal: %s%s\n", level <= RV_LOG_WARN ? (level == RV_LOG_ERROR ? "error: " : "warning: ") : "",
		line);
}

static int run_connect(void *ud, int argc, char **argv)
{
	struct args *a = ud;
	(void)argc;
	a->connect.url = argv[0];
	a->connect.verbosity = a->conf.verbosity;
	return cmd_connect(&a->connect);
}

static int run_serve(void *ud, int argc, char **argv)
{
	struct args *a = ud;
	(void)argc; (void)argv;
	if (a->conf.turn_secret_file && !a->conf.nice)
		rv_cli_usage_error(&tool, "--turn-secret-file needs at least one --ice turn: URI");
	if (a->conf.cluster_url && (!a->conf.node_id || !a->conf.cluster_secret_file))
		rv_cli_usage_error(&tool, "--cluster needs --node-id and --cluster-secret-file");
	if (!a->conf.cluster_url && (a->conf.node_id || a->conf.cluster_secret_file))
		rv_cli_usage_error(&tool, "--node-id and --cluster-secret-file go with --cluster");
	rv_log_set(a->conf.verbosity == 0 ? RV_LOG_ERROR : a->conf.verbosity == 1 ? RV_LOG_INFO : RV_LOG_DEBUG,
		   log_line, NULL);
	rv_out_init(a->conf.json);
	rv_out_keep_running();	/* a reader that goes away ends the events, not the server */
	static struct sig g;
	uv_loop_t *loop = uv_default_loop();
	if (sig_start(&g, loop, &a->conf) < 0)
		return RV_EXIT_FAIL;
	fprintf(stderr, "rvsignal: ready on %s port %d (ws%s) broker %d%s%s\n", a->conf.listen, g.bound_port,
		g.tls ? "s" : "", g.bound_broker, g.token_secret_len ? "; joins need tokens" : "",
		a->conf.on_join ? "; joins go through --on-join" : "");
	uv_run(loop, UV_RUN_DEFAULT);
	sig_free(&g);
	uv_loop_close(loop);
	return 0;
}

int main(int argc, char **argv)
{
	static struct args a = {
		.conf = {
			.listen = "0.0.0.0", .port = 8443, .broker_port = -1, .turn_ttl = 86400,
			.ping = 20, .idle_timeout = 60, .rate = 50, .max_message = 64 << 10,
			.max_queue = 1 << 20, .resume_window = 30, .max_resumable = 16, .verbosity = 1,
		},
		.connect = { .timeout = 10 },
	};
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, &a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	if (!c)
		c = &cmds[0];	/* serve */
	return c->run(&a, npos ? npos - 1 : 0, argv + (npos ? 1 : 0));
}
