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
	int json, verbosity;
};

enum conn_kind { C_SNIFF, C_HTTP, C_WS, C_BROKER, C_DONE };

struct peer;
struct hook;

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
	struct {
		uint64_t connects, messages, delivered, errors, rate_limited, slow_drops, joins, resumes, denied;
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
