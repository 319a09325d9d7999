/* rvturn - diagnose and drive STUN/TURN servers: options, binding, dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>

#include "cli.h"
#include "rvturn.h"

enum {
	O_USER = 1, O_PASSWORD_FILE, O_SECRET_FILE, O_TTL, O_TRANSPORT, O_CA, O_INSECURE,
	O_V4, O_V6, O_TIMEOUT, O_LIFETIME, O_PEER, O_HEX, O_CLIENTS, O_RATE, O_SIZE, O_DURATION,
	O_BURST, O_READ_EVERY,
};

static const struct rv_opt opts[] = {
	{ O_USER, 'u', "user", "USER", "TURN username (password from env RV_TURN_PASSWORD, --password-file or a prompt)", NULL, NULL },
	{ O_PASSWORD_FILE, 0, "password-file", "FILE", "read the password from FILE", "file", "RV_TURN_PASSWORD" },
	{ O_SECRET_FILE, 0, "secret-file", "FILE", "TURN REST: make credentials from the shared secret in FILE (coturn use-auth-secret)", "file", NULL },
	{ O_TTL, 0, "ttl", "S", "TURN REST: seconds the credentials are valid (default 86400)", NULL, NULL },
	{ O_TRANSPORT, 'T', "transport", "PROTO", "udp, tcp, tls, or all (check); default: from the URI", "udp|tcp|tls|all", NULL },
	{ O_CA, 0, "ca", "FILE", "TLS: trust the CA certificates in FILE", "file", NULL },
	{ O_INSECURE, 0, "insecure", NULL, "TLS: do not verify the server's certificate", NULL, NULL },
	{ O_V4, '4', "ipv4", NULL, "use IPv4 only", NULL, NULL },
	{ O_V6, '6', "ipv6", NULL, "use IPv6 only", NULL, NULL },
	{ O_TIMEOUT, 0, "timeout", "S", "wait at most S seconds for each answer (default 5)", NULL, NULL },
	{ O_LIFETIME, 0, "lifetime", "S", "allocation lifetime to ask for (default 600)", NULL, NULL },
	{ O_PEER, 0, "peer", "IP:PORT", "relay: the peer to send to; bench: every allocation sends to this UDP echo (as turnutils_uclient -e to turnutils_peer) instead of pairs echoing each other", NULL, NULL },
	{ O_HEX, 0, "hex", NULL, "session: payloads in and out as hex", NULL, NULL },
	{ O_CLIENTS, 0, "clients", "N", "bench: allocations, in pairs (default 2)", NULL, NULL },
	{ O_RATE, 0, "rate", "PPS", "bench: packets per second each sender sends (default 50)", NULL, NULL },
	{ O_SIZE, 0, "size", "BYTES", "bench: payload bytes per packet (default 160, at least 16)", NULL, NULL },
	{ O_DURATION, 0, "duration", "S", "bench: seconds of sending, at most 540 (default 10)", NULL, NULL },
	{ O_BURST, 0, "burst", "N", "bench: packets a sender sends at once, a tick's worth (default 16; 1: each packet at its own time, as turnutils_uclient -z)", NULL, NULL },
	{ O_READ_EVERY, 0, "read-every", "MS", "bench: read the sockets every MS milliseconds, not on every arrival or tick (default 10; 0: every tick); round trips use the kernel's receive times", NULL, NULL },
	{ RV_OPT_JSON, 0, "json", NULL, "print one JSON object per line", NULL, NULL },
	{ RV_OPT_VERBOSE, 'v', "verbose", NULL, "more diagnostics on stderr (repeatable)", NULL, NULL },
	{ RV_OPT_QUIET, 'q', "quiet", NULL, "only errors on stderr", NULL, NULL },
	{ RV_OPT_HELP, 'h', "help", NULL, "print this help and exit", NULL, NULL },
	{ RV_OPT_VERSION, 'V', "version", NULL, "print the version and exit", NULL, NULL },
	{ 0 }
};

/* The commands, each run with the URI already parsed into struct opts. */
static int run_binding(void *o, int argc, char **argv) { (void)argc; (void)argv; return cmd_binding(o); }
static int run_check(void *o, int argc, char **argv) { (void)argc; (void)argv; return cmd_check(o); }
static int run_relay(void *o, int argc, char **argv) { (void)argc; (void)argv; return cmd_relay(o); }
static int run_session(void *o, int argc, char **argv) { (void)argc; (void)argv; return cmd_session(o); }
static int run_bench(void *o, int argc, char **argv) { (void)argc; (void)argv; return cmd_bench(o); }

enum { C_BINDING = 1, C_CHECK, C_RELAY, C_SESSION, C_BENCH };

static const struct rv_subcmd cmds[] = {
	{ "binding", "URI", "print the mapped (server-reflexive) address", 1, 1, run_binding, C_BINDING },
	{ "check", "URI", "run every step of using the server, each with PASS/FAIL and its time", 1, 1, run_check, C_CHECK },
	{ "relay", "URI", "stdin to --peer IP:PORT through a relay, the peer's packets to stdout", 1, 1, run_relay, C_RELAY },
	{ "session", "URI", "scripted TURN: one verb a line on stdin, one event a line on stdout", 1, 1, run_session, C_SESSION },
	{ "bench", "URI", "allocations in pairs relay packets to each other; rates, loss, round trips, jitter", 1, 1, run_bench, C_BENCH },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvturn",
	.summary = "Diagnose and drive STUN/TURN servers: step-by-step checks, relaying, scripted sessions.",
	.opts = opts,
	.cmds = cmds,
	.footer = "URI: stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp], turns:HOST[:PORT].\n"
		  "session verbs: allocate [LIFETIME], refresh LIFETIME, permission IP..., send IP:PORT TEXT,\n"
		  "bind IP:PORT, data IP:PORT TEXT, quit.",
};

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct opts *o = ud;
	char *end;
	switch (key) {
	case O_USER: o->user = arg; break;
	case O_PASSWORD_FILE: o->password_file = arg; break;
	case O_SECRET_FILE: o->secret_file = arg; break;
	case O_TTL:
		o->ttl = strtod(arg, &end);
		if (*end || o->ttl <= 0)
			return "expected a positive number of seconds";
		break;
	case O_TRANSPORT:
		if (!rv_cli_choice("udp|tcp|tls|all", arg))
			return "expected udp, tcp, tls or all";
		o->transport_all = !strcmp(arg, "all");
		o->uri.tr = !strcmp(arg, "tcp") ? TR_TCP : !strcmp(arg, "tls") ? TR_TLS : TR_UDP;
		o->uri.port = -1;	/* mark: given on the command line */
		break;
	case O_CA: o->ca = arg; break;
	case O_INSECURE: o->insecure = 1; break;
	case O_V4: o->family = AF_INET; break;
	case O_V6: o->family = AF_INET6; break;
	case O_TIMEOUT:
		o->timeout = strtod(arg, &end);
		if (*end || o->timeout <= 0)
			return "expected a positive number of seconds";
		break;
	case O_LIFETIME:
		o->lifetime = (unsigned)strtoul(arg, &end, 10);
		if (*end)
			return "expected a number of seconds";
		break;
	case O_PEER: o->peer = arg; break;
	case O_HEX: o->hex = 1; break;
	case O_CLIENTS:
	case O_RATE:
	case O_SIZE:
	case O_BURST: {
		unsigned long v = strtoul(arg, &end, 10);
		if (*end || v == 0 || v > 1000000)
			return "expected a positive number";
		if (key == O_SIZE && (v < 16 || v > 1400))
			return "expected 16 to 1400 bytes";
		if (key == O_BURST && v > 64)
			return "expected 1 to 64 packets";
		*(key == O_CLIENTS ? &o->clients : key == O_RATE ? &o->rate : key == O_SIZE ? &o->size : &o->burst) = (unsigned)v;
		break;
	}
	case O_READ_EVERY: {
		unsigned long v = strtoul(arg, &end, 10);
		if (*end || end == arg || v > 1000)
			return "expected 0 to 1000 milliseconds";
		o->read_ms = (unsigned)v;
		break;
	}
	case O_DURATION:
		o->duration = strtod(arg, &end);
		/* allocations and channel bindings (10 minutes) are not refreshed
		 * while the bench sends: a run ends well before they expire */
		if (*end || o->duration <= 0 || o->duration > 540)
			return "expected seconds, up to 540 (a run does not refresh its allocations)";
		break;
	case RV_OPT_JSON: o->json = 1; break;
	case RV_OPT_VERBOSE: o->verbosity++; break;
	case RV_OPT_QUIET: o->verbosity = 0; break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct opts o;
	o.ttl = 86400;
	o.timeout = 5;
	o.lifetime = 600;
	o.verbosity = 1;
	o.family = AF_UNSPEC;
	o.clients = 2;
	o.rate = 50;
	o.size = 160;
	o.duration = 10;
	o.burst = 16;
	o.read_ms = 10;
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, &o);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	struct uri given = o.uri;
	char err[256];
	if (uri_parse(argv[1], &o.uri, err, sizeof err) < 0)
		rv_cli_usage_error(&tool, "%s", err);
	if (given.port == -1) {	/* -T overrides the URI's transport */
		const char *colon = strchr(argv[1], ':') + 1, *bracket = strrchr(colon, ']');
		int has_port = strchr(bracket ? bracket : colon, ':') != NULL;
		if (given.tr == TR_TLS && o.uri.tr != TR_TLS && !has_port)
			o.uri.port = 5349;
		o.uri.tr = given.tr;
	}
	if (o.transport_all && c->id != C_CHECK)
		rv_cli_usage_error(&tool, "--transport all goes with check only");
	if (c->id == C_RELAY && !o.peer)
		rv_cli_usage_error(&tool, "relay needs --peer IP:PORT");
	if (c->id == C_BENCH && o.uri.tr != TR_UDP)
		rv_cli_usage_error(&tool, "bench runs over UDP");
	if (c->id != C_BINDING && c->id != C_CHECK && !o.user)
		rv_cli_usage_error(&tool, "%s needs -u USER", c->name);
	rv_diag_init("rvturn", o.verbosity);
	rv_out_init(o.json);
	int crc = credentials(&o);
	if (crc)
		return crc;
	return c->run(&o, npos - 1, argv + 1);
}
