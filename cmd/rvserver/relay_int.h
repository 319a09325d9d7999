/* relay_int.h - the relay's own types, shared by relay.c (streams and
 * packets), relay_ep.c (UDP endpoints and STUN Bindings) and relay_stats.c
 * (/stats and /metrics). Not for the rest of rvserver: see relay.h. */
#ifndef RVSERVER_RELAY_INT_H
#define RVSERVER_RELAY_INT_H

#include <stdint.h>

#include <sys/socket.h>

#include <cJSON.h>

#include "relay.h"

#define MAX_SSRCS 4                /* per stream: video, audio, and room */
#define MAX_STREAMS_PER_CONN 8
#define RELAY_PIPES 16             /* other nodes a stream is piped to */

/* A connection's media side: its UDP address once registered. Or an edge's
 * (relay.h): C is NULL, EDGE says where its packets and requests go. */
struct relay_ep {
	struct conn *c;
	const struct relay_edge *edge;
	void *edge_ud;
	struct rv_client *client;     /* an edge's client (a connection's is relay_client(c)) */
	char *watch_group;            /* a viewer edge's group */
	char *watch_from;             /* and the one sender it takes, or NULL: any */
	struct sockaddr_storage addr;
	socklen_t alen;
	int udp;
	enum { WATCH_NONE, WATCH_MEDIA, WATCH_EVENTS } watching;	/* a connection's "watch" */
	uint8_t addrkey[RELAY_ADDR_KEY];	/* by_addr key while registered */
	struct mstream *mine[MAX_STREAMS_PER_CONN];	/* the streams it sends */
	int nmine;
	uint64_t seen, subscribed;    /* refresh stamps: a receiver now, and already one */
};

/* A receiver of a stream. */
struct sub {
	struct relay_ep *rx;
	uint32_t fb_ssrc;             /* the SSRC its RTCP for this stream comes as (by_fb key) */
	uint64_t packets, drops;
};

/* Sequence numbers seen from one SSRC (RFC 3550 A.1, simplified): what
 * was lost between the sender and the server. */
struct seqstat {
	int init;
	uint16_t base, max;
	uint32_t cycles;
	uint64_t received;
};

struct mstream {
	struct mstream *next;
	uint32_t id;
	struct relay_ep *src;
	char *to, *group;             /* the target, as the sender named it */
	cJSON *announce;              /* the "stream" event, without rtcp_ssrc */
	uint32_t ssrc[MAX_SSRCS];
	struct seqstat seq[MAX_SSRCS];
	int nssrc;
	struct sub **subs;
	size_t nsubs, subcap;
	uint64_t gen;                 /* routes last computed at this relay.gen */
	uint64_t last_kf_ms;
	uint64_t packets, bytes, drops;
	int started;                  /* a packet has been relayed */
	struct relay_ep *pipes[RELAY_PIPES];	/* receivers on other nodes (relay_pipe_attach) */
	int npipes;
	int piped;                    /* from another node (relay_pipe_stream): not a group source here */
};

/* relay.c: a packet from EP (registered address or its TCP connection). */
void relay_packet(struct relay *r, struct relay_ep *ep, const uint8_t *p, size_t n);

/* relay_ep.c */
/* The client EP sends as (NULL: a connection before hello). */
struct rv_client *relay_ep_client(const struct relay_ep *ep);
/* EP's address is now SA (a connection's Binding, an edge's selected path). */
void relay_ep_register(struct relay *r, struct relay_ep *ep, const struct sockaddr *sa);
/* C's endpoint, made on first use; NULL: no memory. */
struct relay_ep *relay_ep_of(struct conn *c);
/* The credentials C registers its UDP address with ({port,user,pass}), or
 * NULL (no memory). */
cJSON *relay_udp_info(struct relay *r, struct conn *c);
/* EP's address is no longer registered. */
void relay_ep_unregister(struct relay *r, struct relay_ep *ep);
/* A STUN message on the UDP port. */
void relay_binding(struct relay *r, const uint8_t *p, size_t n, const struct sockaddr *from);

/* relay_stats.c: packets ST's sender sent that never reached the server. */
uint64_t relay_stream_lost(const struct mstream *st);

#endif
