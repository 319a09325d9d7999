/* cluster_int.h - the cluster's own types and helpers, shared by
 * cluster.c (helpers, the timer, start and stop), cluster_dir.c (the
 * directory side: login and eviction, join, leave, members and groups,
 * heartbeat, sweep and re-assertion) and
 * cluster_msg.c (the message side: publishing a client's message, acks,
 * deliveries of messages from other nodes, replies to a connection, and
 * dropping replayed ones), cluster_home.c (where a group's live media is)
 * and cluster_trunk.c (files and data over
 * node-to-node TCP trunks). Not for the rest of rvserver: see server.h.
 *
 * Each node is authoritative for its own connections; the directory holds a
 * copy that every node asserts again when the bus comes back. Channels:
 * rv:i:ID (direct messages for ID, subscribed by the node of ID's
 * receiver), rv:g:GROUP (posts and joined/left events, subscribed while the
 * group has a member here), rv:n:INC (this node: acks, evictions, moved
 * memberships), rv:c:TAG
 * (replies to one connection: this node's connection numbers carry TAG, a
 * hash of INC, above bit 32). */
#ifndef RVSERVER_CLUSTER_INT_H
#define RVSERVER_CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"
#include "bus.h"
#include "cmsg.h"
#include "map.h"
#include "trunk.h"
#include "server.h"

#define ACK_TIMEOUT_MS 2000
/* A DIRECT or GROUP message's code: bits the sending node sets. */
#define CL_WANT_RECEIVERS 1         /* the sender asked for the receivers' ids */
#define CL_SILENT 2                 /* to a contact: a refusal is skipped, not an error */

/* Senders are held (flow.c) while more bus commands than this await their
 * answer, and resumed below BUS_LOW: hiredis queues without a limit, and an
 * answer later than RV_BUS_TIMEOUT_MS counts as a lost Redis. */
#define BUS_HIGH 2048
#define BUS_LOW 512

/* A cross-node message awaiting PUBLISH's answer and the nodes' acks. */
struct pmsg {
	struct pmsg *prev, *next;
	struct cluster *cl;
	struct conn *c;               /* the sender; NULL once it closed */
	uint64_t seq, nseq;           /* the client's; the node's (0: no acks wanted) */
	int acks;                     /* acks awaited once published */
	int delivered;
	int local_group;              /* this node has members (it counts in PUBLISH's answer) */
	int published;
	int early;                    /* acks that came before PUBLISH's answer */
	int asking;                   /* no node took a group post: is the group in the directory? */
	uint8_t err_code;             /* a refusal among them (direct), and its text */
	char err_text[RV_CMSG_TEXT_MAX + 1];
	uint8_t type;                 /* RV_CMSG_DIRECT or RV_CMSG_GROUP */
	int contacts;                 /* to the sender's default receivers elsewhere: one
				       * direct publish each, refusals skipped silently */
	int pubs, expect, failed;     /* contacts: publishes unanswered, acks they promise,
				       * and publishes that failed */
	uint64_t conn;                /* a direct one to this connection number */
	char to[RV_ID_MAX + 1];
	cJSON *receivers;             /* when the sender asked for them */
	uint64_t deadline;
};

/* A request awaiting the directory. */
struct creq {
	struct creq *prev, *next;
	struct cluster *cl;
	struct conn *c;               /* NULL once it closed */
	uint64_t seq;
	int steps;                    /* answers still awaited */
	int num;                      /* the directory's answer */
	int joined;                   /* a join the directory made */
	int allow_set;                /* a login whose hello set its allowed senders */
	cJSON *members;
	char id[RV_ID_MAX + 1], group[RV_ID_MAX + 1];
	char *hdr;                    /* a frame to handle again (cluster_local_only) */
	uint8_t *body;
	size_t hdr_len, body_len;
	const char *what;
};

struct cluster {
	struct server *srv;
	struct rv_bus *bus;
	char inc[RV_CMSG_NODE_MAX + 1];
	char advertise[64];
	char secret[512];
	size_t secret_len;
	struct rv_cmsg_key key;       /* the secret, keyed once for every message */
	uv_timer_t timer;             /* heartbeat, sweep, ack deadlines */
	uint64_t nseq, cgen;
	uint64_t msgno;               /* the last message's number (rv_cmsg nseq) */
	struct rv_cmsg_replay replay; /* what other nodes' messages were seen (cluster_msg.c) */
	uint64_t conn_base;           /* TAG << 32 */
	char tag[16];
	int throttled;                /* senders held for the bus (BUS_HIGH) */
	struct pmsg *pm_head, *pm_tail;
	struct creq *rq;
	struct rv_buf enc, frame;
	struct trunk *trunks;         /* to and from other nodes (cluster_trunk.c), in order made */
	struct rv_map routes;         /* "i:ID" or "g:GROUP": struct troute, the nodes to send to */
	struct rv_buf thead;          /* a trunk frame's head being built */
	char addr[96];                /* what the directory says we are at: "IP:PORT" */
	struct rv_map homes;          /* groups with media sources here (cluster_home.c) */
	struct cl_pipe *pipes;        /* media pipes, one per peer node (cluster_pipe.c) */
	uint64_t repipe_at;           /* when the directory is next asked where streams go */
	int repipe_asking;            /* its answers still awaited */
};

/* ---- cluster.c: helpers ---- */

void cl_chan_of(char *out, size_t n, const char *kind, const char *name);
/* C's login generation: "INC/CGEN". */
void cl_gen_of(const struct cluster *cl, const struct conn *c, char *out, size_t n);
/* Encode a message into cl->enc: NULL when it cannot be. */
const struct rv_buf *cl_encode(struct cluster *cl, const struct rv_cmsg *m);
struct rv_cmsg cl_msg_new(struct cluster *cl, uint8_t type, const char *a, const char *b, const char *c);
/* Publish M on CHAN, FN told the answer (may be NULL); counted as sent or failed. */
int cl_publish(struct cluster *cl, const char *chan, const struct rv_cmsg *m, rv_bus_done_fn fn, void *ud);
int cl_dir(struct cluster *cl, enum rv_dir_op op, int argc, const char *const *argv, const size_t *argl,
	   rv_bus_done_fn fn, void *ud);
/* (Un)subscribe KIND:NAME; the bus keeps the set across reconnections. */
int cl_sub(struct cluster *cl, const char *kind, const char *name, rv_bus_done_fn fn, void *ud);
void cl_unsub(struct cluster *cl, const char *kind, const char *name);
int cl_bus_up(const struct cluster *cl);
/* Hold C's input while the directory answers; release it (handling what came meanwhile). */
void cl_hold(struct conn *c);
void cl_release(struct conn *c);
struct creq *cl_req_new(struct cluster *cl, struct conn *c, uint64_t seq, const char *id, const char *group);
void cl_req_free(struct creq *q);

/* ---- cluster_dir.c ---- */

/* Another node took M->a with gen M->c: our receiver of that gen goes (exit 5). */
void cl_evict(struct cluster *cl, const struct rv_cmsg *m);
/* Another node took over M->a's memberships (RV_CMSG_MOVED): ours go. */
void cl_moved(struct cluster *cl, const struct rv_cmsg *m);
void cl_reassert(struct cluster *cl);
void cl_dir_tick(struct cluster *cl);
void cl_dir_up(struct cluster *cl);

/* ---- cluster_msg.c ---- */

/* A cross-node message of C's awaiting its answers (RECEIVERS consumed); NULL
 * when out of memory (C was told). */
struct pmsg *cl_pmsg_new(struct cluster *cl, struct conn *c, uint64_t seq, const char *to, uint64_t conn,
			 const char *group, int local_n, cJSON *receivers);
/* An ack for one of our messages (from the bus or a trunk). */
void cl_on_ack(struct cluster *cl, const struct rv_cmsg *m);

/* A member of a group joined or left on another node: our members hear it. */
void cl_event_in(struct cluster *cl, const struct rv_cmsg *m);
void cl_pmsg_free(struct pmsg *p);
void cl_msg_tick(struct cluster *cl, uint64_t now);
/* The bus's message callback (UD: the cluster). */
void cl_on_bus_msg(void *ud, const char *channel, const uint8_t *data, size_t len);

/* ---- cluster_home.c ---- */

/* Claim again the homes of the groups with sources here (after the bus came back). */
void cl_home_reassert(struct cluster *cl);
void cl_home_free(struct cluster *cl);

/* ---- cluster_trunk.c ---- */

/* A file or data frame (kind xfer-*) to TO or GROUP that goes on to other
 * nodes, over their trunks; the arguments as cluster_route's. 1 (taken). */
int cl_trunk_route(struct conn *c, uint64_t seq, const char *to, const char *group, const uint8_t *head,
		   size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers);
/* The address other nodes reach this one at: "IP:PORT". */
const char *cl_trunk_addr(struct cluster *cl);
void cl_trunk_tick(struct cluster *cl, uint64_t now);
void cl_trunk_conn_closed(struct conn *c);
void cl_trunk_free(struct cluster *cl);
/* Send M with payload P (N bytes) to node INC over its trunk, dialed at ADDR
 * if there is none (ADDR "": only an existing one). 0 or an error. */
int cl_trunk_send(struct cluster *cl, const char *inc, const char *addr, const struct rv_cmsg *m, const uint8_t *p,
		  size_t n);

/* ---- cluster_pipe.c ---- */

/* A pipe step M (RV_CMSG_PIPE) from node PEER over its trunk. */
void cl_pipe_msg(struct cluster *cl, const char *peer, const struct rv_cmsg *m);
/* Silent pipes end their streams; ended ones are freed. */
void cl_pipe_tick(struct cluster *cl, uint64_t now);
/* The last trunk with node INC closed (it died or fell silent): its pipes'
 * streams stop now and end at the next tick, rather than by silence. */
void cl_pipe_node_gone(struct cluster *cl, const char *inc);
/* Now and then: streams sent here follow their receivers to nodes new to them. */
void cl_pipe_repipe(struct cluster *cl, uint64_t now);
void cl_pipe_free(struct cluster *cl);

#endif
