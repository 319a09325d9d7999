/* signal.h - rvsignal: WebRTC signalling over WebSocket and a raw-TCP
 * broker. Peers join rooms and pass messages (offers, answers, candidates,
 * anything) to one peer or to their room. */
#ifndef RVSIGNAL_H
#define RVSIGNAL_H

#include <stdint.h>

#include <cJSON.h>
#include <uv.h>

#include "buf.h"
#include "edge.h"
#include "httpd.h"
#include "listen.h"
#include "map.h"
#include "srvconn.h"
#include "stream.h"
#include "tls.h"
#include "ws.h"

struct sig_conf {
	const char *listen;
	int port, broker_port;
	const char *port_file;
	const char *tls_cert, *tls_key;
	const char *ice[16];
	int nice;
	const char *turn_secret_file;
	double turn_ttl;
	size_t max_peers;             /* per room; 0 = no limit */
	const char *token_secret_file;
	const char *on_join;
	int hangup_close;
	double ping, idle_timeout, resume_window;
	size_t max_resumable;         /* detached sessions kept per client address */
	double rate;                  /* messages per second per connection */
	size_t max_message, max_queue;
	const char *cluster_url, *node_id, *cluster_secret_file;   /* --cluster (cluster.c) */
	int json, verbosity;
};

enum conn_kind { C_SNIFF, C_HTTP, C_WS, C_BROKER, C_DONE };

struct peer;
struct hook;
struct sigcl;

struct conn {
	struct rv_stream s;           /* first */
	struct sig *sig;
	struct peer *peer;            /* after the welcome */
	enum conn_kind kind;
	int broker;                   /* accepted on the broker port */
	struct rv_httpd *http;        /* while reading an HTTP request */
	struct rv_ws *ws;
	struct rv_buf in;             /* broker: a line not yet complete */
	struct conn *prev, *next;
	uint64_t last_rx;
	double tokens;                /* rate limit bucket */
	uint64_t tokens_at;
	struct hook *hook;            /* an --on-join hook running for it */
	char addr[48];                /* the client's IP address, as text */
	uint8_t closing, tls_seen, pinged;
};

struct room {
	char *name;                   /* owned; the map key */
	struct peer **peers;
	size_t n, alloc;
};

struct peer {
	char id[16];                  /* also the map key */
	char *name;
	char resume[40];
	struct conn *conn;            /* NULL while detached (resume window) */
	struct room **rooms;
	size_t nrooms;
	char **missed;                /* messages while detached, in order */
	size_t nmissed;
	uint64_t detached_at;
	char addr[48];                /* the client address of its last connection */
	struct addr_kept *kept;       /* while detached and kept for a resume */
	struct peer *kprev, *knext;   /* in kept's list, oldest first */
};

/* The sessions kept for a resume that were last connected from one address,
 * oldest first: at most --max-resumable of them. */
struct addr_kept {
	char addr[48];                /* the map key */
	struct peer *head, *tail;
	size_t n;
};

struct sig {
	struct sig_conf conf;
	uv_loop_t *loop;
	struct rv_io io;
	uv_tcp_t tcp, broker;
	struct rv_srvlife life;       /* sweeps, SIGINT/SIGTERM, the stop deadline */
	struct rv_tls_ctx *tls;
	struct rv_httpd_route *routes;   /* the HTTP endpoints, the pages among them */
	size_t nroutes;
	struct rv_buf wsbuf;          /* WebSocket bytes on their way to a stream */
	struct rv_buf wsframe;        /* a room message framed once for its receivers */
	struct conn *conns;
	size_t nconns;
	struct rv_map peers;          /* by id */
	struct rv_map resumes;        /* by resume token */
	struct rv_map rooms;          /* by name */
	struct rv_map kept;           /* struct addr_kept by client address */
	size_t nkept;                 /* sessions kept for a resume, in all */
	char turn_secret[512], token_secret[512];
	size_t turn_secret_len, token_secret_len;
	int bound_port, bound_broker;
	struct sigcl *cl;             /* --cluster, or NULL */
	struct {
		uint64_t connects, messages, delivered, errors, rate_limited, slow_drops, joins, resumes, denied;
		uint64_t cl_sent, cl_received, cl_failed, cl_offline, cl_bad, cl_dup, cl_stale, cl_reaps,
			 cl_resumes, cl_handovers;
	} n;
};

/* server.c */
int sig_start(struct sig *g, uv_loop_t *loop, const struct sig_conf *conf);
void sig_free(struct sig *g);
/* conn_send, conn_send_text, conn_close, sig_event: edge.h */
/* rooms.c */
void peer_hello(struct conn *c, const char *resume_token);
void peer_message(struct conn *c, const char *text, size_t len);
void peer_detach(struct conn *c);
void peers_sweep(struct sig *g, uint64_t now);
void peers_free(struct sig *g);
void send_error(struct conn *c, const char *code, const char *msg, const char *re);
/* For cluster.c: */
/* The joined or left event (TYPE) of peer ID (NAME) in ROOM, printed; REASON or NULL. */
char *room_event(const char *type, const char *room, const char *id, const char *name, const char *reason);
/* Deliver S (N bytes) to ROOM's peers here but SKIP (an id, or NULL), filtered
 * by EXCLUDE and INCLUDE (id arrays, or NULL); to peer ID here. */
void room_deliver(struct sig *g, const char *room, const char *skip, const char *s, size_t n, cJSON *exclude,
		  cJSON *include);
void peer_deliver(struct sig *g, const char *id, const char *s, size_t n);
/* The join of C's peer in ROOM as NAME (or NULL), after the checks; MEMBERS
 * (consumed): the room's members from the directory, or NULL (this node's). */
void join_finish(struct conn *c, const char *room, const char *name, cJSON *members);
/* A hello on C that resumes nothing: a new peer. */
void peer_fresh(struct conn *c);
/* A session resumed from another node: detached here, in its ROOMS (silently). */
struct peer *peer_adopt(struct sig *g, const char *id, const char *token, const char *name,
			const char *const *rooms, size_t nrooms, const char *addr);
/* C takes P back (after the KEPT messages, N of them); C's own fresh peer, if
 * any, gives way. C NULL: P stays detached, kept for a resume. */
void peer_attach(struct sig *g, struct conn *c, struct peer *p, char *const *kept, size_t n);
/* P's session was resumed on another node: it goes from here without a word to its rooms. */
void peer_release(struct sig *g, struct peer *p);
/* cluster.c (tests/fuzz/fuzz_signal.c has its own: no cluster there). The
 * rooms.c hooks do nothing without --cluster. */
int sigcl_start(struct sig *g);
void sigcl_stop(struct sig *g);
void sigcl_free(struct sig *g);
void sigcl_conn_closed(struct conn *c);
int sigcl_bus_up(const struct sig *g);
void sigcl_peer_new(struct sig *g, const struct peer *p);
void sigcl_gone(struct sig *g, const struct peer *p);
void sigcl_park(struct sig *g, const struct peer *p, const char *s, size_t n);
void sigcl_resumed(struct sig *g, const struct peer *p);
void sigcl_room_empty(struct sig *g, const char *room);
/* 1 when the directory takes the join (join_finish follows), 0: join here. */
int sigcl_join(struct conn *c, const char *room, const char *name);
void sigcl_left(struct sig *g, const char *room, const struct peer *p, const char *event);
/* To peer TO elsewhere: 0 (an error follows if no node has TO), or <0: not sent. */
int sigcl_send_peer(struct conn *c, const char *to, const char *s, size_t n, const char *mtype);
int sigcl_send_room(struct conn *c, const char *room, const char *s, size_t n, const cJSON *exclude,
		    const cJSON *include);
/* 1 when TOKEN is looked up in the directory (the answer follows), else 0.
 * BY_MESSAGE: a resume message (else the hello's token). */
int sigcl_resume(struct conn *c, const char *token, int by_message);
/* auth.c */
cJSON *ice_servers(struct sig *g, const char *id);
int jwt_check(struct sig *g, const char *token, const char *room, const char **why);
/* Run --on-join for C's join request REQ (consumed); DONE is called with
 * 1 (admitted) or 0 and the reason. */
typedef void (*hook_done_fn)(struct conn *c, cJSON *req, int ok, const char *why);
int hook_run(struct conn *c, cJSON *req, hook_done_fn done);
/* C is closing: its hook, if any, must not call back. */
void hook_forget(struct conn *c);
/* web_rvsignal.c (generated from web/rvsignal and web/shared) */
extern const struct rv_web_file web_files[];
/* connect.c */
struct connect_args {
	const char *url, *room, *name, *token_file, *ca;
	int insecure, verbosity;
	double timeout;
};
int cmd_connect(const struct connect_args *a);

#endif
