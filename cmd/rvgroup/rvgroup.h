/* rvgroup.h - shared state of the rvgroup tool.
 *
 * The spine, each file calling only the ones below it:
 *   main.c   the option table, the checks of names and arguments (exit 2),
 *            dispatch through the subcommand table
 *   chat.c   join and listen: a session with groups, stdin lines to them
 *   cmds.c   post, say, members, groups, contacts, allow: requests
 *   p2p.c    p2p: peer-to-peer groups: checks, dispatch, id, spec, grant
 *   p2prun.c   join, post, send, info: a peer run, its events printed
 *   objects.c  share, fetch: replicated objects in a peer run (lib/p2pobj.h)
 *   app.c    the lifecycle: the session to the server, stdin lines whole,
 *            the end with an exit code, failures reported, the check of a name
 *   lib/     the session, input, output, the peer on the loop (p2plink.h)
 *            and the rest */
#ifndef RVGROUP_H
#define RVGROUP_H

#include <uv.h>

#include "buf.h"
#include "cli.h"
#include "frame.h"
#include "impair.h"
#include "input.h"
#include "p2pcap.h"
#include "p2plink.h"
#include "p2pnode.h"
#include "session.h"

/* One stdin line is one message: the largest is rvserver's default
 * --max-frame. A longer line is refused (and reported), not cut. */
#define RVGROUP_MAX_LINE RV_FRAME_DEFAULT_MAX_BODY

#define P2P_PEERS_MAX 64

/* The options of the p2p commands. */
struct p2p_opts {
	const char *key;             /* --key: the peer's key file */
	const char *bind;            /* --bind ADDR[:PORT] */
	const char *port_file;
	const char *peers[P2P_PEERS_MAX];   /* --peer, repeated */
	int npeers;
	const char *lan;             /* --lan ADDR:PORT */
	const char *to, *nearest;    /* send */
	int serverless, stay, no_server_channel;
	uint16_t caps;               /* spec new: --posting, --routing, ... */
	double wait;                 /* post, send, info: seconds to wait for a neighbour */
	const char *cap;             /* --cap TOKEN|FILE */
	uint64_t expires;            /* grant: seconds */
	int publish;                 /* grant --publish: the right to publish too */
	size_t max_neighbors;
	const char *output;          /* fetch: -o FILE */
	int progress;                /* fetch: 1 --progress, -1 --no-progress, 0 on a terminal */
};

struct app {
	struct rv_client_opts co;
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	const char *cmd;
	char **args;                 /* positionals after the command */
	int nargs;
	const char *id_arg;          /* --id as given, checked with the other names */
	const char *allow;           /* --allow ID,... */
	int reconnect;
	long count;                  /* --count: exit after this many messages */
	long received;
	int exit_code;
	int stdin_eof, leaving, done;
	struct rv_input in;          /* stdin, line by line */
	int stdin_open;
	int joined;                  /* join replies received */
	int up;                      /* the session is up */
	unsigned ups;                /* times it came up */
	unsigned downs;              /* connections lost after being up (--reconnect) */
	int said_wait;               /* "end of input: N lines wait" said */
	char bye_code[32];           /* code of the server's last bye */
	unsigned long lineno;        /* stdin lines read */
	unsigned long refused;       /* stdin lines too long to send */
	struct rv_buf longline;      /* a line arriving in parts (rv_input) */
	size_t skipping;             /* bytes of a too-long line so far, or 0 */
	void (*on_line)(struct app *a, char *line, size_t len);
	void (*on_eof)(struct app *a);
	struct p2p_opts p2p;
	void *p2p_run;               /* p2p.c's state while it runs */
};

/* chat.c: join (LISTEN_ONLY 0) and listen; returns the exit code */
int chat_run(struct app *a, int listen_only);
/* cmds.c: the one-request commands; returns the exit code */
int cmds_run(struct app *a);

/* A p2p command's state while it runs (p2p.c, p2prun.c). */
struct p2p {
	struct app *a;
	struct p2p_opts *o;
	struct rv_p2p_key key;
	struct rv_p2p_spec spec;
	uint8_t group[32];
	struct rv_p2plink *peer;
	uint8_t cap[RV_P2P_CAP_LEN];
	int has_cap;
	uv_timer_t wait;                /* the first neighbour, then settling, then lingering */
	uv_signal_t usr1;
	uv_signal_t stop[2];            /* SIGINT, SIGTERM: goodbyes, then exit */
	int waiting, lingering, neighbors_seen, ended;
	int awaiting;                   /* send: the message's ACK (sent_id, to sent_to) */
	uint8_t sent_id[32], sent_to[32];
	uint64_t started_wall;
	long received;
	/* share and fetch (objects.c): the NEIGHBOR_UP, NEIGHBOR_DOWN and OBJECT events */
	void (*on_object)(struct p2p *g, const struct rv_p2p_node_ev *e);
	void (*on_end)(struct p2p *g);  /* share and fetch: the run ends (its summary) */
	struct objrun *obj;
};

/* p2prun.c: what every p2p command loads, and the commands that run a peer */
void p2p_hex(const uint8_t *p, size_t n, char *out);
/* An event object: its CODE and the time (unix ms); a 32-byte ID in hex as NAME. */
cJSON *p2p_json_event(const char *code);
void p2p_json_hex(cJSON *o, const char *name, const uint8_t *p);
int p2p_unhex32(const char *s, uint8_t out[32]);
int p2p_load_key(struct p2p *g);
int p2p_load_spec(struct p2p *g, const char *text);
int p2p_is_owner(const struct p2p *g);
/* p2p_run_peer - join, post, send or info (a->args[0]): the exit code */
int p2p_run_peer(struct p2p *g);

/* p2p_end - the run ends with CODE (the first call counts): goodbyes, then the loop ends. */
void p2p_end(struct p2p *g, int code);

/* objects.c: share and fetch. objects_prepare - before the peer starts:
 * share hashes FILE and prints the object ID, fetch loads what a run before
 * left; 0, or the exit code. objects_start - with the peer up: 0, or the
 * exit code. objects_free - what is left at the end. */
int objects_prepare(struct p2p *g);
int objects_start(struct p2p *g);
void objects_free(struct p2p *g);

/* p2p.c: p2p_check - a usage error of the p2p commands, or NULL;
 * p2p_run - the command, its exit code */
const char *p2p_check(struct app *a);
int p2p_run(struct app *a);


/* app.c: stdin lines (whole, up to RVGROUP_MAX_LINE) to on_line, then on_eof */
int input_start(struct app *a);
void input_pause(struct app *a, int pause);
void input_stop(struct app *a);
/* app_connect - start the session to the server as ROLE ("send", "recv"),
 * EXTRA (or NULL; the caller's) added to the hello, ON_STATE and ON_FRAME
 * (or NULL) called with A: 0, or -1 when it cannot be made. */
int app_connect(struct app *a, const char *role, cJSON *extra, rv_session_state_fn on_state,
		rv_session_frame_fn on_frame);
/* app_finish - end with CODE (the first call counts): stdin stopped, the
 * session closed, so that the loop ends. */
void app_finish(struct app *a, int code);
/* app_fail - say "WHAT: why" (the server's message in REPLY, else ERR's
 * text) and finish with ERR's exit code. */
void app_fail(struct app *a, int err, const char *what, cJSON *reply);
/* app_free - what the run left: the TLS context, the line buffer, A. */
void app_free(struct app *a);
/* app_printable - N bytes at P as a string (free it) that keeps a terminal
 * safe: control characters become '?'; NULL without memory. */
char *app_printable(const uint8_t *p, size_t n);
/* name_problem - NULL when S is a valid client id or group name, else why not */
const char *name_problem(const char *s);

#endif
