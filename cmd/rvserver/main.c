/* rvserver - relay of messages between identified clients: options, dispatch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "bus.h"
#include "cli.h"
#include "err.h"
#include "frame.h"
#include "ice.h"
#include "log.h"
#include "server.h"
#include "token.h"

enum {
	O_LISTEN = 1, O_PORT, O_UDP_PORT, O_PORT_FILE, O_TLS_CERT, O_TLS_KEY,
	O_AUTH_SECRET, O_MAX_CLIENTS, O_MAX_GROUPS, O_MAX_MEMBERS, O_KEEP,
	O_MAX_QUEUE, O_MAX_FRAME, O_HANDSHAKE, O_IDLE, O_TTL, O_SLOW, O_DROP_RATE,
	O_NO_P2P, O_P2P_MAX_MEMBERS, O_P2P_RELAY_BUDGET, O_PUBLIC_IP, O_NO_WEBRTC,
	O_ICE, O_TURN_SECRET, O_TURN_TTL, O_WEBRTC_PER_IP, O_WEBRTC_MAX_BITRATE, O_WEBRTC_CONSENT,
	O_CLUSTER, O_NODE_ID, O_CLUSTER_SECRET, O_ADVERTISE,
};

static const struct rv_opt opts[] = {
	{ O_LISTEN, 'l', "listen", "ADDR", "address to listen on (default 0.0.0.0)", "host", NULL },
	{ O_PORT, 'p', "port", "PORT", "TCP port for RV, HTTP and WebSocket (default 7350; 0 picks one)", NULL, NULL },
	{ O_UDP_PORT, 0, "udp-port", "PORT", "UDP port for media (default: the TCP port's number; with --port 0, when that number is taken for UDP, one the kernel picks)", NULL, NULL },
	{ O_PORT_FILE, 0, "port-file", "FILE", "write the bound TCP and UDP ports to FILE, one a line", "file", NULL },
	{ O_TLS_CERT, 0, "tls-cert", "FILE", "PEM certificate chain: accept TLS on the same port", "file", NULL },
	{ O_TLS_KEY, 0, "tls-key", "FILE", "PEM private key for --tls-cert", "file", NULL },
	{ O_AUTH_SECRET, 0, "auth-secret-file", "FILE", "require tokens made with the secret in FILE", "file", NULL },
	{ O_MAX_CLIENTS, 0, "max-clients", "N", "most RV and WebSocket clients at once (default 0: no limit); HTTP requests get 16 connections more", NULL, NULL },
	{ O_MAX_GROUPS, 0, "max-groups", "N", "most groups on the server (default 0: no limit)", NULL, NULL },
	{ O_MAX_MEMBERS, 0, "max-group-members", "N", "most members in one group (default 0: no limit)", NULL, NULL },
	{ O_KEEP, 0, "keep-client-info", "MODE", "what survives a client's disconnection: none, groups or all (default none)", "none|groups|all", NULL },
	{ O_MAX_QUEUE, 0, "max-queue", "BYTES", "output queue cap per connection; past half of it a receiver is congested (default 8M)", NULL, NULL },
	{ O_SLOW, 0, "slow-timeout", "S", "drop a receiver whose queue stays past half of --max-queue for S seconds (default 10)", NULL, NULL },
	{ O_MAX_FRAME, 0, "max-frame", "BYTES", "largest frame body accepted (default 1M)", NULL, NULL },
	{ O_HANDSHAKE, 0, "handshake-timeout", "S", "close connections without a hello after S seconds (default 10)", NULL, NULL },
	{ O_IDLE, 0, "idle-timeout", "S", "close clients silent for S seconds; pings at a third of it (default 90; 0: never)", NULL, NULL },
	{ O_NO_P2P, 0, "no-p2p", NULL, "no peer-group introducer on the UDP port: JOINs are answered 403", NULL, NULL },
	{ O_P2P_MAX_MEMBERS, 0, "p2p-max-members", "N", "most members of one peer group (default 10000)", NULL, NULL },
	{ O_P2P_RELAY_BUDGET, 0, "p2p-relay-budget", "BYTES", "bytes per second relayed between peer-group members, for the whole server (default 1000000; 0: no relaying)", NULL, NULL },
	{ O_PUBLIC_IP, 0, "public-ip", "ADDR", "the IP address WebRTC peers reach the UDP and TCP ports at, offered as the ICE candidates (default: the --listen address, or every interface's)", NULL, NULL },
	{ O_NO_WEBRTC, 0, "no-webrtc", NULL, "no WebRTC: /whip/ answers 503 and ICE checks are dropped", NULL, NULL },
	{ O_WEBRTC_PER_IP, 0, "webrtc-max-per-ip", "N", "most WebRTC sessions from one client address (default 64; 0: no limit)", NULL, NULL },
	{ O_WEBRTC_CONSENT, 0, "webrtc-consent-timeout", "S", "end a WebRTC session whose peer sends no ICE check (consent, RFC 7675) for S seconds, or has not finished DTLS S seconds after its first check: a closed or killed page leaves (default 30; at least 10)", NULL, NULL },
	{ O_ICE, 0, "ice", "URI", "an ICE server for WHIP and WHEP clients, in Link headers (repeatable)", NULL, NULL },
	{ O_TURN_SECRET, 0, "turn-secret-file", "FILE", "give the TURN servers of --ice REST credentials made with this secret", "file", NULL },
	{ O_TURN_TTL, 0, "turn-ttl", "S", "seconds TURN credentials last (default 86400)", NULL, NULL },
	{ O_WEBRTC_MAX_BITRATE, 0, "webrtc-max-bitrate", "BPS", "the most video bits per second a WebRTC publisher may send, told it by REMB every second; K and M as in ffmpeg (default 2.5M; 0: no REMB)", NULL, NULL },
	{ O_CLUSTER, 0, "cluster", "URL", "join the cluster whose Redis is at URL: redis://IP:PORT, unix:PATH or sentinel://IP:PORT[,IP:PORT...]/MASTER (see CLUSTER)", NULL, NULL },
	{ O_NODE_ID, 0, "node-id", "ID", "this node's name in the cluster, 1-40 characters [A-Za-z0-9_-] (needed with --cluster)", NULL, NULL },
	{ O_CLUSTER_SECRET, 0, "cluster-secret-file", "FILE", "the secret every node of the cluster shares: it authenticates their messages (needed with --cluster)", "file", NULL },
	{ O_ADVERTISE, 0, "advertise", "ADDR", "the IP address other nodes reach this one at, for trunks and media pipes (default: the listen address, 127.0.0.1 for a wildcard)", NULL, NULL },
	{ O_DROP_RATE, 0, "drop-rate", "P", "for tests: drop this fraction (0-0.5) of relayed RTP packets at random (a WebRTC viewer's after its NACK cache)", NULL, NULL },
	{ O_TTL, 0, "ttl", "S", "with the token command: seconds the token is valid (default 86400)", NULL, NULL },
	{ RV_OPT_VERBOSE, 'v', "verbose", NULL, "more diagnostics on stderr (repeatable)", NULL, NULL },
	{ RV_OPT_QUIET, 'q', "quiet", NULL, "only errors (and the ready line) on stderr", NULL, NULL },
	{ RV_OPT_HELP, 'h', "help", NULL, "print this help and exit", NULL, NULL },
	{ RV_OPT_VERSION, 'V', "version", NULL, "print the version and exit", NULL, NULL },
	{ 0 }
};

static int run_serve(void *ud, int argc, char **argv);
static int run_token(void *ud, int argc, char **argv);

static const struct rv_subcmd cmds[] = {
	{ "serve", "", "run the relay (the default)", 0, 0, run_serve, 0 },
	{ "token", "ID", "print an auth token for ID (secret from --auth-secret-file or env RV_AUTH_SECRET)", 1, 1, run_token, 0 },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvserver",
	.summary = "Relay messages, commands, files and media between identified clients, in groups or directly.",
	.cmd_optional = 1,	/* serve */
	.opts = opts,
	.cmds = cmds,
	.footer = "Clients connect with rvgroup, rvsend and rvrecv. HTTP on the same port:\n"
		  "GET /healthz, /metrics (Prometheus), /stats (JSON), /webrtc (sessions); WebSocket at /rv;\n"
		  "POST /whip/GROUP: a WebRTC publisher (WHIP) into GROUP; POST /whep/GROUP: a viewer (WHEP).",
};

struct args {
	struct server_conf conf;
	int verbosity;
	double ttl;
};

static int parse_secs(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return *end || end == s || *out < 0 ? -1 : 0;
}

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct args *a = ud;
	struct server_conf *c = &a->conf;
	size_t n;
	switch (key) {
	case O_LISTEN: c->listen = arg; break;
	case O_PORT:
		if (rv_parse_size(arg, &n) < 0 || n > 65535)
			return "expected a port number 0-65535";
		c->port = (int)n;
		break;
	case O_UDP_PORT:
		if (rv_parse_size(arg, &n) < 0 || n > 65535)
			return "expected a port number 0-65535";
		c->udp_port = (int)n;
		break;
	case O_PORT_FILE: c->port_file = arg; break;
	case O_TLS_CERT: c->tls_cert = arg; break;
	case O_TLS_KEY: c->tls_key = arg; break;
	case O_AUTH_SECRET: c->auth_secret_file = arg; break;
	case O_MAX_CLIENTS:
		if (rv_parse_size(arg, &c->max_clients) < 0)
			return "expected a number";
		break;
	case O_MAX_GROUPS:
		if (rv_parse_size(arg, &c->router.max_groups) < 0)
			return "expected a number";
		break;
	case O_MAX_MEMBERS:
		if (rv_parse_size(arg, &c->router.max_group_members) < 0)
			return "expected a number";
		break;
	case O_KEEP:
		if (strcmp(arg, "none") == 0) c->router.keep = RV_KEEP_NONE;
		else if (strcmp(arg, "groups") == 0) c->router.keep = RV_KEEP_GROUPS;
		else if (strcmp(arg, "all") == 0) c->router.keep = RV_KEEP_ALL;
		else return "expected none, groups or all";
		break;
	case O_MAX_QUEUE:
		if (rv_parse_size(arg, &c->max_queue) < 0 || c->max_queue < 65536)
			return "expected a size of at least 64K (suffixes K, M, G)";
		break;
	case O_NO_P2P: c->p2p.disabled = 1; break;
	case O_PUBLIC_IP: {
		struct in6_addr a6;
		struct in_addr a4;
		if (inet_pton(AF_INET, arg, &a4) != 1 && inet_pton(AF_INET6, arg, &a6) != 1)
			return "expected an IP address (browsers refuse names in candidates)";
		c->public_ip = arg;
		break;
	}
	case O_NO_WEBRTC: c->no_webrtc = 1; break;
	case O_CLUSTER: c->cluster_url = arg; break;
	case O_NODE_ID:
		c->node_id = arg;
		return rv_bus_node_id_check(arg);
	case O_CLUSTER_SECRET: c->cluster_secret_file = arg; break;
	case O_ADVERTISE: {
		struct in6_addr a6;
		if (inet_pton(AF_INET, arg, &a6) != 1 && inet_pton(AF_INET6, arg, &a6) != 1)
			return "expected an IP address";
		c->advertise = arg;
		break;
	}
	case O_WEBRTC_PER_IP:
		if (rv_parse_size(arg, &c->webrtc_max_per_ip) < 0)
			return "expected a number";
		break;
	case O_WEBRTC_CONSENT:
		if (parse_secs(arg, &c->webrtc_consent) < 0 || c->webrtc_consent < RV_ICE_CONSENT_MIN_MS / 1000)
			return "expected seconds, at least 10";
		break;
	case O_ICE: return rv_ice_uri_add(c->ice, &c->nice, (int)(sizeof c->ice / sizeof *c->ice), arg);
	case O_TURN_SECRET: c->turn_secret_file = arg; break;
	case O_TURN_TTL:
		if (parse_secs(arg, &c->turn_ttl) < 0 || c->turn_ttl == 0)
			return "expected a positive number of seconds";
		break;
	case O_WEBRTC_MAX_BITRATE:
		if (rv_parse_bits(arg, 0, 10000000000ull, &c->webrtc_max_bitrate) < 0)
			return "expected bits per second, 0 to 10000M (K and M as in ffmpeg)";
		break;
	case O_P2P_MAX_MEMBERS:
		if (rv_parse_size(arg, &n) < 0 || n == 0)
			return "expected a positive number";
		c->p2p.max_members = n;
		break;
	case O_P2P_RELAY_BUDGET:
		if (rv_parse_size(arg, &n) < 0)
			return "expected a number of bytes (suffixes K, M, G)";
		c->p2p.relay_budget = n;
		break;
	case O_DROP_RATE: {
		char *end;
		c->media_drop_rate = strtod(arg, &end);
		if (end == arg || *end || c->media_drop_rate < 0 || c->media_drop_rate > 0.5)
			return "expected a fraction from 0 to 0.5";
		break;
	}
	case O_SLOW:
		if (parse_secs(arg, &c->slow_timeout) < 0 || c->slow_timeout == 0)
			return "expected a positive number of seconds";
		break;
	case O_MAX_FRAME:
		if (rv_parse_size(arg, &c->max_frame) < 0 || c->max_frame < 1024 || c->max_frame > (256u << 20))
			return "expected a size from 1K to 256M";
		break;
	case O_HANDSHAKE:
		if (parse_secs(arg, &c->handshake_timeout) < 0 || c->handshake_timeout == 0)
			return "expected a positive number of seconds";
		break;
	case O_IDLE:
		if (parse_secs(arg, &c->idle_timeout) < 0)
			return "expected a number of seconds";
		break;
	case O_TTL:
		if (parse_secs(arg, &a->ttl) < 0 || a->ttl == 0)
			return "expected a positive number of seconds";
		break;
	case RV_OPT_VERBOSE: a->verbosity++; break;
	case RV_OPT_QUIET: a->verbosity = 0; break;
	}
	return NULL;
}

static void log_line(enum rv_log_level level, const char *line, void *ud)
{
	(void)ud;
	static const char *names[] = { "error", "warning", "info", "debug" };
	fprintf(stderr, "rvserver: %s%s%s\n", level <= RV_LOG_WARN ? names[level] : "",
		level <= RV_LOG_WARN ? ": " : "", line);
}

static int run_token(void *ud, int argc, char **argv)
{
	struct args *a = ud;
	const char *id = argv[0];
	char secret[512], token[RV_TOKEN_MAX];
	size_t len = 0;
	const char *env = getenv("RV_AUTH_SECRET");

	(void)argc;
	if (!rv_id_valid(id))
		rv_cli_usage_error(&tool, "'%s' is not a valid id (1-64 characters [A-Za-z0-9._@-])", id);
	if (a->conf.auth_secret_file) {
		int rc = rv_secret_read(a->conf.auth_secret_file, secret, sizeof secret, &len);
		if (rc < 0) {
			fprintf(stderr, "rvserver: error: cannot read --auth-secret-file %s: %s\n",
				a->conf.auth_secret_file, rc == -EINVAL ? "empty" : rv_strerror(rc));
			return RV_EXIT_FAIL;
		}
	} else if (env && *env) {
		len = strlen(env);
		if (len >= sizeof secret)
			len = sizeof secret - 1;
		memcpy(secret, env, len);
	} else {
		rv_cli_usage_error(&tool, "token needs --auth-secret-file FILE or env RV_AUTH_SECRET");
	}
	if (rv_token_make(secret, len, id, (int64_t)time(NULL) + (int64_t)a->ttl, token, sizeof token) < 0)
		return RV_EXIT_FAIL;
	printf("%s\n", token);
	return 0;
}

static int run_serve(void *ud, int argc, char **argv)
{
	struct args *a = ud;
	(void)argc; (void)argv;
	/* -q: errors only; default: what happens to clients; -v: debugging. */
	rv_log_set(a->verbosity == 0 ? RV_LOG_ERROR : a->verbosity == 1 ? RV_LOG_INFO : RV_LOG_DEBUG,
		   log_line, NULL);

	const struct server_conf *cf = &a->conf;
	if (cf->cluster_url && (!cf->node_id || !cf->cluster_secret_file))
		rv_cli_usage_error(&tool, "--cluster needs --node-id and --cluster-secret-file");
	if (!cf->cluster_url && (cf->node_id || cf->cluster_secret_file || cf->advertise))
		rv_cli_usage_error(&tool, "--node-id, --cluster-secret-file and --advertise go with --cluster");
	static struct server srv;	/* large: its read buffer is inside */
	uv_loop_t *loop = uv_default_loop();
	if (server_start(&srv, loop, &a->conf) < 0)
		return RV_EXIT_FAIL;
	fprintf(stderr, "rvserver: ready on %s port %d (tcp%s, udp %d)%s\n", a->conf.listen,
			srv.bound_port, srv.tls ? "+tls" : "", srv.bound_udp_port,
			srv.secret_len ? "; tokens required" : "; no auth: anyone may connect");
	uv_run(loop, UV_RUN_DEFAULT);
	server_free(&srv);
	uv_loop_close(loop);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {
		.conf = {
			.listen = "0.0.0.0", .port = 7350, .udp_port = -1,
			.max_queue = 8u << 20, .slow_timeout = 10, .max_frame = RV_FRAME_DEFAULT_MAX_BODY,
			.handshake_timeout = 10, .idle_timeout = 90, .turn_ttl = 86400, .webrtc_max_per_ip = 64,
			.webrtc_consent = RV_ICE_CONSENT_MS / 1000,
			.webrtc_max_bitrate = 2500000,
		},
		.verbosity = 1, .ttl = 86400,
	};
	rv_p2p_intro_defaults(&a.conf.p2p);
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, &a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	if (!c)
		c = &cmds[0];	/* serve */
	return c->run(&a, npos ? npos - 1 : 0, argv + (npos ? 1 : 0));
}
