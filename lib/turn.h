/* turn.h - a TURN client allocation (RFC 8656) over a STUN client
 * transaction engine (stunc.h), no I/O, no clock.
 *
 * rv_turn_allocate/refresh/permission/channel_bind start one transaction on
 * t->tx; the caller moves its bytes (rv_stunc_take, rv_stunc_feed,
 * rv_stunc_tick) until rv_stunc_done, then calls rv_turn_finish, which reads
 * the answer into the allocation (relayed and mapped address, lifetime).
 * The request's arguments live in T, so a 401/438 retry rebuilds them.
 * Send and Data indications and ChannelData are built and read by
 * rv_turn_send_build and rv_turn_data. rv_turn_timers says when the
 * allocation, its permission and its channel need refreshing. */
#ifndef RV_TURN_H
#define RV_TURN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stunc.h"

#define RV_TURN_PERMISSION_MS 240000u   /* refresh a permission (lasts 300 s) */
#define RV_TURN_CHANNEL_MS 480000u      /* refresh a channel binding (lasts 600 s) */
#define RV_TURN_LIFETIME 600u           /* assumed when the server says none */

struct rv_turn {
	struct rv_stunc tx;
	/* the request in progress */
	unsigned req_lifetime;          /* 0: not sent (allocate) */
	uint16_t req_ch;
	struct sockaddr_storage req_peer;
	/* the allocation, from the answers */
	struct sockaddr_storage relayed, mapped;
	unsigned lifetime;              /* seconds, as the server granted */
	int allocated;
};

/* rv_turn_init - no allocation yet; CFG as for rv_stunc_init; SOFTWARE a
 * static string or NULL. */
void rv_turn_init(struct rv_turn *t, const struct rv_stunc_cfg *cfg, const char *software);
/* The requests: each returns rv_stunc_start's result (0 or RV_ETOOBIG).
 * LIFETIME 0 in an Allocate sends none (the server's default); in a Refresh
 * it deletes the allocation. AUTH: sign (always for all but Allocate). */
int rv_turn_allocate(struct rv_turn *t, unsigned lifetime, int auth, uint64_t now);
int rv_turn_refresh(struct rv_turn *t, unsigned lifetime, uint64_t now);
int rv_turn_permission(struct rv_turn *t, const struct sockaddr_storage *peer, uint64_t now);
int rv_turn_channel_bind(struct rv_turn *t, uint16_t ch, const struct sockaddr_storage *peer, uint64_t now);
/* rv_turn_finish - after the transaction is done: 0 on success (the
 * allocation updated), RV_EPROTO when a success to Allocate lacks
 * XOR-RELAYED-ADDRESS, else the transaction's failure: RV_EDENIED (error
 * response: t->tx.code), RV_ETIMEOUT, or RV_EPROTO (integrity mismatch). */
int rv_turn_finish(struct rv_turn *t);
/* rv_turn_refresh_in - milliseconds until an allocation of LIFETIME seconds
 * (0: RV_TURN_LIFETIME) is refreshed: half its lifetime. */
uint64_t rv_turn_refresh_in(unsigned lifetime);

/* rv_turn_send_build - a Send indication of DATA/N to PEER into B: 0 or RV_ETOOBIG. */
int rv_turn_send_build(struct rv_stun_builder *b, const struct sockaddr_storage *peer,
		       const void *data, size_t n);
/* rv_turn_data - what a message from the server carries for us: 1 with the
 * data (aliasing BUF) and, for ChannelData, its channel in CH (else 0 and the
 * Data indication's peer in FROM); 0 for anything else. */
int rv_turn_data(const uint8_t *buf, size_t n, const uint8_t **d, size_t *len,
		 struct sockaddr_storage *from, uint16_t *ch);

/* When the allocation, the permission and the channel are next refreshed. */
struct rv_turn_timers {
	uint64_t alloc_at, perm_at, chan_at;
};
enum { RV_TURN_DUE_ALLOC = 1, RV_TURN_DUE_PERM = 2, RV_TURN_DUE_CHAN = 4 };
/* rv_turn_timers_start - all three from NOW, for an allocation of LIFETIME. */
void rv_turn_timers_start(struct rv_turn_timers *k, unsigned lifetime, uint64_t now);
/* rv_turn_timers_due - which are due at NOW (RV_TURN_DUE_* bits); each due
 * one is moved to its next time (the allocation's from LIFETIME). */
int rv_turn_timers_due(struct rv_turn_timers *k, unsigned lifetime, uint64_t now);

#endif
