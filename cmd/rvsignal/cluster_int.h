/* cluster_int.h - what cluster.c and cluster_resume.c share: the cluster
 * state of an rvsignal node, its requests in flight, and the helpers that
 * encode, publish and ask the directory through lib/bus.h. */
#ifndef RVSIGNAL_CLUSTER_INT_H
#define RVSIGNAL_CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "bus.h"
#include "cmsg.h"
#include "router.h"
#include "signal.h"

/* A cross-node resume in progress. */
struct claim {
	struct claim *next;
	struct sigcl *cl;
	struct conn *c;               /* NULL once it closed */
	int by_message;               /* a resume message (else a hello's token) */
	int steps;                    /* subscriptions and this call, awaited */
	int sent, marked, answered;   /* claim sent; its handover read; its answer in */
	char token[64], id[16], addr[48];
	char *name;
	char **rooms;
	size_t nrooms;
	char **kept;                  /* the claim's answer: messages kept in Redis */
	size_t nkept;
	struct peer *p;               /* adopted once the handover is read */
};

/* A join awaiting the directory, or a direct message awaiting PUBLISH's answer. */
struct creq {
	struct creq *prev, *next;
	struct sigcl *cl;
	struct conn *c;               /* NULL once it closed */
	int steps, num;
	char id[16], room[RV_ID_MAX + 1], mtype[64];
	char *name;
	cJSON *members;
};

struct sigcl {
	struct sig *g;
	struct rv_bus *bus;
	struct rv_bus_node node;      /* address, secret, incarnation */
	struct rv_cmsg_key key;       /* the secret, keyed once for every message */
	uv_timer_t timer;             /* heartbeat, sweep */
	uint64_t msgno;
	struct rv_cmsg_replay replay;
	struct rv_buf enc;
	struct claim *claims;
	struct creq *rq;
};

uint64_t cl_wall_ms(void);
/* The bus answers (RV_BUS_UP). */
int cl_up(const struct sigcl *cl);
/* A message (TYPE, A, B, payload P1 then P2) encoded into cl->enc: NULL
 * when it cannot be (too big, or no memory). */
const struct rv_buf *cl_encode(struct sigcl *cl, uint8_t type, const char *a, const char *b, const char *p1,
			       size_t n1, const char *p2, size_t n2);
/* B published on sig:KIND:NAME, counted as sent or failed; <0 when it cannot be. */
int cl_publish(struct sigcl *cl, const char *kind, const char *name, const struct rv_buf *b, rv_bus_done_fn fn,
	       void *ud);
int cl_dir(struct sigcl *cl, enum rv_dir_op op, int argc, const char *const *argv, const size_t *argl,
	   rv_bus_done_fn fn, void *ud);
int cl_sub(struct sigcl *cl, const char *kind, const char *name, rv_bus_done_fn fn, void *ud);
void cl_unsub(struct sigcl *cl, const char *kind, const char *name);

/* cluster_resume.c: a claim ended (its rooms and subscriptions tidied);
 * a handover read on the bus (MINE: this node's own). */
void cl_claim_free(struct claim *k);
void cl_handover_in(struct sigcl *cl, const struct rv_cmsg *m, int mine);

#endif
