/* p2plive.h - one live stream in a peer group, on a libuv loop: a peer
 * (p2plink.h) and the stream's engine (p2pcast.h) wired together. rvsend
 * --p2p publishes through it, rvrecv --p2p receives.
 *
 * It loads the group spec and the key, starts the peer (introduced by
 * rvserver's UDP port when the spec lets it and the caller names it; with
 * no introducer, serverless, it finds peers by the addresses it is given
 * and LAN discovery only), gives the engine the
 * neighbours that come and go and the CAST_* messages they send, sends
 * what the engine says, runs its timer, and hands its events (DATA,
 * SKIP, INFO, KEY_REQUEST, END, RESET) to the caller. Every announce is
 * "run u64 | the caller's bytes", the run being when the publisher
 * started (unix ms): a publisher started again under the same name is a
 * newer run, which the receivers take after a RESET event (p2pcast.h,
 * runs). Where the spec restricts
 * publishing (RV_P2P_CAP_RESTRICT_PUBLISH), the publisher's announce is
 * signed and carries its capability, and every peer takes (and passes on)
 * a stream only once its announce passed rv_p2p_cap_admit_announce (the
 * engine's conf.admit). Not thread-safe: call it from the loop's thread. */
#ifndef RV_P2PLIVE_H
#define RV_P2PLIVE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "p2pcast.h"

#define RV_P2PLIVE_PEERS 16         /* --peer addresses */

struct rv_p2plive_opts {
	const char *spec;               /* the group spec's text; NULL: IP multicast only (below) */
	const char *key;                /* the key file (made when missing); NULL: a new key for this run */
	const char *bind, *port_file;   /* as p2plink.h's */
	const char *peers[RV_P2PLIVE_PEERS];
	int npeers;
	const char *lan;                /* LAN discovery: ADDR:PORT for this run; NULL: the spec's, if any
					 * (rv_p2plink_lan, as rvgroup p2p) */
	const char *server_host;        /* the introducer (rvserver's UDP port); NULL: none (serverless:
					 * peers from PEERS and LAN discovery only) */
	int server_port;
	const char *name;               /* the stream's name (rv_p2p_cast_id) */
	const uint8_t *cap;             /* the publisher's capability (RV_P2P_CAP_LEN bytes, p2pcap.h) in a
					 * group that restricts publishing; NULL: none (an owner needs none) */
	struct rv_p2p_cast_conf cast;   /* publisher, push limit, window... */
	const char *ipmc;               /* "ADDR:PORT[,SRC]": fusion with IP multicast (p2pipmc.h): a publisher
					 * also sends each fragment to ADDR:PORT, a receiver joins the group
					 * (from SRC only: source-specific) and feeds what comes to the engine;
					 * NULL: none */
	int ipmc_ttl;                   /* the publisher's multicast TTL (0: 1) */
};
/* IP multicast only (SPEC NULL; a receiver with IPMC, no PEERS): no peer,
 * no mesh, no spec. The group is unknown: the first announce of the stream
 * NAME that comes by multicast, from any group, is taken (its group's ID
 * then filters the datagrams, as a spec's would) and nothing before it.
 * Nothing checks that announce: it is read as an open group's ("run u64 |
 * the caller's bytes"); a group that restricts publishing signs it, and
 * only a receiver given the spec can check that (p2pcap.h). */

struct rv_p2plive;
typedef void (*rv_p2plive_event_fn)(void *ud, const struct rv_p2p_cast_ev *e);

/* rv_p2plive_start - load, bind, join: 0, or with *WHY (static) RV_EPROTO
 * (the spec does not parse), -EINVAL (o->ipmc is no multicast ADDR:PORT,
 * or its source no address), a libuv error (the multicast socket), RV_EDENIED (the spec does not enable
 * multicast; or we publish where publishing is restricted, and are no
 * owner, and o->cap is missing or not a valid capability to publish for
 * our key), -EINVAL (the key file is not a key), or another error (the
 * peer cannot start); -EINVAL (*WHY) when o->spec is NULL but o->ipmc
 * is not, or we publish, or o->peers or o->lan are given, or when o->lan
 * is no address with a port. */
int rv_p2plive_start(struct rv_p2plive **out, uv_loop_t *loop, const struct rv_p2plive_opts *o,
		     rv_p2plive_event_fn on_event, void *ud, const char **why);
/* rv_p2plive_publish - the publisher's next fragment: rv_p2p_cast_publish's result. */
long rv_p2plive_publish(struct rv_p2plive *l, const uint8_t *p, size_t n, int key);
/* rv_p2plive_end - the publisher ends the stream (rv_p2p_cast_end's
 * result); the receivers get an END event. */
int rv_p2plive_end(struct rv_p2plive *l);
/* rv_p2plive_set_info - the stream's announce (the application's bytes:
 * signed, with the capability, where publishing is restricted):
 * rv_p2p_cast_set_info's result, or RV_ETOOBIG. */
int rv_p2plive_set_info(struct rv_p2plive *l, const uint8_t *p, size_t n);
void rv_p2plive_stats(const struct rv_p2plive *l, struct rv_p2p_cast_stats *st);
/* rv_p2plive_peer_stats - rv_p2p_cast_peer_stats's. */
int rv_p2plive_peer_stats(const struct rv_p2plive *l, size_t i, struct rv_p2p_cast_peer_stats *st);
/* rv_p2plive_neighbors - neighbours up now. */
size_t rv_p2plive_neighbors(const struct rv_p2plive *l);
/* rv_p2plive_id - our peer ID (32 bytes; zeros: IP multicast only). */
const uint8_t *rv_p2plive_id(const struct rv_p2plive *l);
/* rv_p2plive_port - the UDP port bound (-1: IP multicast only). */
int rv_p2plive_port(struct rv_p2plive *l);
/* rv_p2plive_json - the counters into O with NetStreamMulticastInfo's
 * names, and by neighbour (an array "peers"). */
struct cJSON;
void rv_p2plive_json(const struct rv_p2plive *l, struct cJSON *o);
/* rv_p2plive_ipmc_check - --ipmc's argument S ("ADDR:PORT[,SRC]": a
 * multicast group, a source of its family): 0, or -EINVAL with *WHY. */
int rv_p2plive_ipmc_check(const char *s, const char **why);
/* rv_p2plive_addr_opt - --lan (LAN 1) or --peer (LAN 0) ARG, an
 * "ADDR:PORT", into *LANP, or appended to PEERS (*NPEERS of
 * RV_P2PLIVE_PEERS at most). NULL, or what is wrong with it. */
const char *rv_p2plive_addr_opt(const char *arg, int lan, const char **lanp, const char **peers, int *npeers);
/* rv_p2plive_push_limit - --push-limit's argument S: 1 to 64, or -1. */
int rv_p2plive_push_limit(const char *s);
/* rv_p2plive_stop - goodbyes, handles closed, then ON_CLOSED (or NULL)
 * with UD; L is freed then. */
void rv_p2plive_stop(struct rv_p2plive *l, void (*on_closed)(void *ud), void *ud);

#endif
