/* p2plink.h - one peer of a group on a libuv loop: the UDP socket, the
 * clock and the timer around the sans-I/O node (p2pnode.h), and LAN
 * discovery (p2plan.h). rvgroup p2p, rvsend --p2p and rvrecv --p2p drive
 * their peer through it, as the tools drive the server through mlink.h.
 *
 * Every datagram received goes to the node; after each one, what the node
 * has to send goes out and its events go to the caller's callback (in the
 * loop's thread). RV_TEST_IMPAIR (impair.h) drops datagrams sent, for
 * tests. Not thread-safe: call it from the loop's thread. */
#ifndef RV_P2PLINK_H
#define RV_P2PLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "impair.h"
#include "p2pcap.h"
#include "p2pnode.h"
#include "p2pspec.h"

struct rv_p2plink;
struct rv_p2plink_conf {
	const struct rv_p2p_key *key;   /* outlives the peer */
	uint8_t group[32];              /* the group ID */
	const char *bind;               /* ADDR[:PORT]; NULL: 0.0.0.0, any port */
	const char *port_file;          /* NULL, or where to write the UDP port */
	const char *const *peers;       /* addresses to connect to (--peer) */
	int npeers;
	size_t max_neighbors;           /* 0: the node's default */
	const struct sockaddr_storage *lan;   /* NULL, or the LAN discovery group */
	const struct rv_p2p_spec *spec;          /* the group's spec (restrictions) */
	const uint8_t *cap;                      /* our capability, or NULL */
	const struct sockaddr_storage *server;   /* NULL, or the introducer: rvserver's UDP port */
	socklen_t server_len;
};
typedef void (*rv_p2plink_event_fn)(void *ud, const struct rv_p2p_node_ev *e);

/* rv_p2plink_start - bind, connect to the --peer addresses, and report
 * events to ON_EVENT with UD: 0, or an error with *WHY (static). */
int rv_p2plink_start(struct rv_p2plink **out, uv_loop_t *loop, const struct rv_p2plink_conf *c,
		     rv_p2plink_event_fn on_event, void *ud, const char **why);
/* rv_p2plink_stop - goodbyes to the neighbours, then the handles close;
 * ON_CLOSED (or NULL) is called with UD when they have. */
void rv_p2plink_stop(struct rv_p2plink *p, void (*on_closed)(void *ud));
/* Posting and routing (p2pnode.h's rv_p2p_node_post and _send, now). */
int rv_p2plink_post(struct rv_p2plink *p, const void *data, size_t len, uint8_t id[32]);
int rv_p2plink_send(struct rv_p2plink *p, enum rv_p2p_route_mode mode, const uint8_t dst[32], const void *data,
		    size_t len, uint8_t id[32]);
/* rv_p2plink_send_peer - an OBJ_* or CAST_* message to the neighbour DST
 * (p2pobj.h, p2pcast.h): rv_p2p_node_send_peer's result. */
int rv_p2plink_send_peer(struct rv_p2plink *p, const uint8_t dst[32], const uint8_t *msg, size_t len);
/* rv_p2plink_cut - the neighbour PEER broke a rule of ours (WHY): cut off
 * (rv_p2p_node_cut). */
void rv_p2plink_cut(struct rv_p2plink *p, const uint8_t peer[32], const char *why);
/* rv_p2plink_impair - the test-only impairment this peer reads (RV_TEST_IMPAIR). */
const struct rv_impair *rv_p2plink_impair(const struct rv_p2plink *p);
/* rv_p2plink_port - the UDP port bound, or -1. */
int rv_p2plink_port(struct rv_p2plink *p);
struct rv_p2p_node *rv_p2plink_node(struct rv_p2plink *p);
/* Addresses: "host:port" resolved (DEFAULT_PORT when none is given; 0 may
 * stay 0): 0, -EINVAL or -ENOENT; as text; the port. */
int rv_p2plink_addr(const char *text, int default_port, struct sockaddr_storage *ss, socklen_t *len);
void rv_p2plink_addr_text(const struct sockaddr *sa, char *out, size_t cap);
int rv_p2plink_addr_port(const struct sockaddr_storage *a);
/* rv_p2plink_lan - the LAN discovery group (p2plan.h) of a peer of SPEC's
 * group into SS, as rvgroup p2p, rvsend and rvrecv --p2p choose it: ARG
 * (--lan ADDR:PORT, for this run, whatever the spec says) when not NULL,
 * else the spec's field lan. 1; 0 when there is none (no ARG, and the spec
 * names none); -EINVAL when ARG is no address with a port. */
int rv_p2plink_lan(const char *arg, const struct rv_p2p_spec *spec, struct sockaddr_storage *ss);
/* rv_p2plink_wall_ms - the wall clock, Unix ms. */
uint64_t rv_p2plink_wall_ms(void);
/* rv_p2plink_cap_load - a --cap argument: a capability's text ("rvc1:...")
 * or a file that holds it, into CAP. 0; a negative errno when the file
 * cannot be read; RV_EPROTO when what it holds is not a capability. */
int rv_p2plink_cap_load(const char *arg, uint8_t cap[RV_P2P_CAP_LEN]);

#endif
