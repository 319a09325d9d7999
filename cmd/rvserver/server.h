/* server.h - rvserver's state: listeners, connections, counters. */
#ifndef RVSERVER_SERVER_H
#define RVSERVER_SERVER_H

#include <stdint.h>

#include <cJSON.h>
#include <uv.h>

#include "buf.h"
#include "httpd.h"
#include "impair.h"
#include "listen.h"
#include "map.h"
#include "relay.h"
#include "router.h"
#include "rvcode.h"
#include "srvconn.h"
#include "stream.h"
#include "tls.h"
#include "udpq.h"
#include "ws.h"

struct server_conf {
	const char *listen;           /* address to bind */
	int port, udp_port;           /* udp_port -1: same as port */
	const char *port_file;
	const char *tls_cert, *tls_key;
	const char *auth_secret_file;
	size_t max_queue;             /* per-connection output cap */
	double slow_timeout;          /* seconds a receiver may stay congested */
	size_t max_frame;             /* body cap */
	size_t max_clients;           /* connections; 0 = no limit */
	double handshake_timeout, idle_timeout;
	struct rv_router_conf router;
	double media_drop_rate;       /* --drop-rate: test-only media loss */
	struct rv_p2p_intro_conf p2p; /* the peer-group introducer (p2p.c) */
	const char *public_ip;        /* --public-ip: the WebRTC candidate (webrtc.c) */
	int no_webrtc;                /* --no-webrtc */
	const char *ice[16];          /* --ice: ICE servers in WHIP's Link headers */
	int nice;
	const char *turn_secret_file; /* their TURN REST credentials */
	double turn_ttl;
	size_t webrtc_max_per_ip;     /* WebRTC sessions from one address; 0: no limit */
	double webrtc_consent;        /* --webrtc-consent-timeout: seconds a path may stay silent */
	uint64_t webrtc_max_bitrate;  /* --webrtc-max-bitrate: REMB to publishers, 0 none */
	const char *cluster_url;      /* --cluster: the bus (cluster.c), or NULL */
	const char *node_id, *cluster_secret_file, *advertise;
};

enum conn_state { CONN_SNIFF, CONN_RV, CONN_HTTP, CONN_WS, CONN_ICE, CONN_TRUNK, CONN_DONE };
enum conn_role { ROLE_NONE, ROLE_SEND, ROLE_RECV };

struct conn {
	struct rv_stream s;           /* first: the stream's ud is the conn */
	struct server *srv;
	struct rv_client *client;     /* after hello */
	struct rv_buf in;             /* bytes of a frame not yet complete */
	struct rv_httpd *http;        /* while reading an HTTP request */
	struct rv_ws *ws;             /* after a WebSocket upgrade */
	struct relay_ep *media;       /* once it streams or watches (relay.c) */
	struct wsess *wsess;          /* CONN_ICE: the WebRTC session whose path it is (webrtc.c) */
	struct trunk *trunk;          /* CONN_TRUNK: the cluster trunk it carries (cluster_trunk.c) */
	struct conn *prev, *next;     /* every live connection */
	uint64_t last_rx;             /* loop time (ms) of the last input */
	uint64_t congested_since;     /* loop time its queue passed half the cap, or 0 */
	uint64_t cgen;                /* cluster: its login's generation as a receiver, or 0 */
	char *numkey;                 /* its number as a by_num key, when it takes replies */
	struct monitor *watchers;     /* who is told when it goes (monitor.c) */
	struct monitor *watching;     /* the connections it monitors */
	uint32_t nwatching;
	uint64_t num;                 /* 0, or the number replies address it by (with --cluster,
				       * the node's tag above bit 32: cluster_conn_base) */
	uint8_t state, role, pinged, tls_seen, closing, refused, paused, leaving;
	uint8_t held;                 /* input held until the cluster directory answers (cluster.c) */
	uint8_t checked;              /* the frame being handled again was found local (cluster.c) */
	uint8_t client_slot;          /* holds one of --max-clients' slots (server.c) */
};

/* Datagrams to send at the end of a receive batch (udp.c, an rv_udpq):
 * they point into the UDP port's receive slots or a frame being handled,
 * and are flushed before either changes. */
#define UDP_QUEUE_MAX 1024

struct conn_list {                /* a small unordered set of connections */
	struct conn **v;
	size_t n, alloc;
};

struct counters {
	uint64_t conns_total, frames_in, frames_out, bytes_in, bytes_out;
	uint64_t msgs_in, deliveries, slow_drops, bad_input, auth_failures, replaced;
	uint64_t http_requests, refused_full, pauses;
	uint64_t cl_sent, cl_received, cl_failed, cl_offline, cl_bad, cl_evicted, cl_reaps,
		 cl_dup, cl_stale;  /* cluster*.c */
	uint64_t cl_redirects, cl_home_failed;  /* cluster_home.c */
	uint64_t tr_frames_out, tr_bytes_out, tr_frames_in, tr_bytes_in, tr_refused,
		 tr_failed, tr_silent;  /* cluster_trunk.c */
	uint64_t pipe_packets_out, pipe_bytes_out, pipe_packets_in, pipe_bytes_in, pipe_refused, pipe_failed,
		 pipe_silent;  /* cluster_pipe.c */
};

struct server {
	struct server_conf conf;
	uv_loop_t *loop;
	struct rv_io io;
	uv_tcp_t tcp;
	uv_poll_t udp;                /* the UDP port: UDP_FD, read in udp.c */
	int udp_fd;
	struct udp_rx *udprx;
	uint64_t udp_cost_ns;         /* what a datagram read costs (udp.c), an average */
	struct rv_srvlife life;       /* sweeps, SIGINT/SIGTERM, the stop deadline */
	uv_prepare_t flow;            /* before each poll: congestion and pauses */
	struct conn_list congested;   /* receivers past half their queue cap */
	struct conn_list paused;      /* senders not read until those drain */
	struct conn_list leaving;     /* said bye: leave the router before poll */
	int feeding_congested;        /* the frame being handled reached only congested receivers */
	int flow_drained;             /* a congested receiver drained or left: resume senders */
	struct rv_tls_ctx *tls;
	struct rv_router router;
	struct rv_map by_num;         /* connections that take replies, by number */
	uint32_t last_num;
	struct conn *conns;
	size_t nconns;
	size_t nclients;              /* RV and WebSocket connections in --max-clients */
	struct rv_buf scratch;        /* one outgoing frame being built */
	struct rv_buf msghead;        /* a message's delivered prefix and header (proto.c) */
	struct rv_buf wsmsg;          /* the same message framed once for WebSocket receivers */
	struct rv_buf wsbuf;          /* a frame wrapped for WebSocket */
	struct rv_httpd_route *routes; /* endpoints.c's, with the room page */
	size_t nroutes;
	char secret[512];
	size_t secret_len;
	uint64_t msg_id;
	uint64_t started_ms;
	int bound_port, bound_udp_port;
	struct counters n;
	struct relay relay;           /* the media relay (relay.h) */
	struct webrtc *webrtc;        /* WebRTC sessions (webrtc.h) */
	struct rv_udpq udpq;          /* the UDP port's batch (udp.c) */
	struct rv_impair impair;      /* RV_TEST_IMPAIR: tests lose datagrams sent (udp.c) */
	struct cluster *cluster;      /* --cluster: the other nodes (cluster.c), or NULL */
};

int server_start(struct server *srv, uv_loop_t *loop, const struct server_conf *conf);
/* server_stop - tell every client, close, and end the loop. */
void server_stop(struct server *srv, const char *why);
void server_free(struct server *srv);

/* Send one whole frame (FRAME: LEN bytes) to C, wrapped for WebSocket if
 * needed. A slow consumer past its cap is dropped. */
int conn_send(struct conn *c, const uint8_t *frame, size_t len);
/* The same for a frame in two parts: prefix and header, then body. */
int conn_sendv(struct conn *c, const uint8_t *head, size_t hlen,
	       const uint8_t *body, size_t blen);
/* The same for one of many receivers of a message: WSFRAME (empty before
 * the first receiver, reset by the caller per message) holds the message
 * framed once for every WebSocket receiver. */
int conn_sendv_shared(struct conn *c, struct rv_buf *wsframe, const uint8_t *head, size_t hlen,
		      const uint8_t *body, size_t blen);
/* Build a frame from HDR (consumed) and send it. */
int conn_send_json(struct conn *c, cJSON *hdr);
/* Give C a number that replies can address ("to" with "conn"). */
int conn_number(struct conn *c);
/* Send an error frame (lib/frame.h's rv_frame_append_error); RE is the
 * request seq or 0; MSG NULL: CODE's default text. */
void conn_error(struct conn *c, uint64_t re, enum rv_code code, const char *msg);
/* Tell C why (CODE; MSG NULL: the code's default text) and close it once
 * the message is out. */
void conn_bye(struct conn *c, enum rv_code code, const char *msg);
/* C speaks RV (or RV over WebSocket): it takes a --max-clients slot, or is
 * marked refused when none is free (told at hello). */
void conn_claim_slot(struct conn *c);

/* flow.c */
void flow_init(struct server *srv);
void flow_close(struct server *srv);
/* A delivery to C was queued: note when its queue passes half the cap.
 * 1 when C is congested, 0 when it keeps up (or is closing). */
int flow_queued(struct conn *c);
/* The message being handled was queued to DELIVERED receivers, FREE of
 * them not congested: with none free, its sender is held (flow_after_input). */
void flow_fed(struct server *srv, int delivered, int free_receivers);
/* C's input was handled: pause it if its last message fed only congested
 * receivers. */
void flow_after_input(struct conn *c);
void flow_forget(struct conn *c);
/* C said bye: its client leaves groups before the next poll, not when the
 * peer finally reads the bye (never, for a stalled one). */
void flow_leave(struct conn *c);
/* Drop C as a slow consumer, telling it why. */
void conn_drop_slow(struct conn *c);

/* monitor.c */
struct monitor;
/* A monitor request from C: {"type":"monitor","id":ID[,"conn":N]}. */
void monitor_request(struct conn *c, cJSON *h);
/* C is going (CODE, MSG: the bye's, or "closed"): tell its watchers, once. */
void monitor_gone(struct conn *c, const char *code, const char *msg);
/* C closed: drop the monitors it had on others. */
void monitor_forget(struct conn *c);

/* udp.c */
/* Bind the UDP port to SA and read it; PORT: the port it got. */
int udp_start(struct server *srv, const struct sockaddr *sa, int *port);
void udp_stop(struct server *srv);
/* Send what the relay queued (relay_udp_queue, also in udp.c). */
void udp_flush(struct server *srv);

/* A new connection of SRV with an output cap of MAX_QUEUE bytes (its
 * stream initialized, not yet accepted or connected), or NULL. */
struct conn *conn_new(struct server *srv, size_t max_queue);

/* Close C now (bad input, timeout): queued output is dropped. */
void conn_drop(struct conn *c, int reason);

/* p2p.c: the peer-group introducer on the UDP port (relay->p2p) */
/* Make it from conf.p2p: 0 or -ENOMEM. */
int p2p_start(struct server *srv);
void p2p_free(struct server *srv);
/* Forget the members that expired by NOW. */
void p2p_sweep(struct server *srv, uint64_t now);
/* Its lines of /metrics (0, or rv_buf_append's error); its /stats "p2p"
 * object added to ROOT (0, or rv_metrics_json's error). */
int p2p_metrics(struct server *srv, struct rv_buf *out);
int p2p_stats(struct server *srv, cJSON *root);

/* web_rvserver.c (generated from web/rvserver and web/shared) */
extern const struct rv_web_file web_files[];

/* endpoints.c */
/* The HTTP routes (srv->routes): 0 or -ENOMEM. */
int endpoints_init(struct server *srv);
void http_input(struct conn *c, const uint8_t *data, size_t len);
void ws_input(struct conn *c, const uint8_t *data, size_t len);
/* proto.c */
void proto_input(struct conn *c, const uint8_t *data, size_t len);
void proto_frame(struct conn *c, const uint8_t *frame, size_t len);
/* The same for a frame already decoded (V): its bytes stay where they are. */
struct rv_frame_view;
void proto_frame_view(struct conn *c, const struct rv_frame_view *v);
void proto_event(void *ud, struct rv_client *to, enum rv_event_type type,
		 const struct rv_group *g, const struct rv_client *who);
/* The same for a member known by id (on another node): JOINED 1 or left,
 * REASON (NULL: none) in the event. */
void proto_event_id(struct conn *c, int joined, const char *group, const char *id, const char *reason);
/* The welcome C's hello gets; an ok reply to RE. */
void proto_welcome(struct conn *c);
cJSON *proto_ok(uint64_t re);

/* cluster.c, cluster_dir.c, cluster_msg.c (cluster_int.h): --cluster.
 * Each cluster_X returning int answers 1 when it took the request over
 * (it answers the client itself, perhaps later, holding C's input
 * meanwhile), 0 when the caller goes on as on one server (no cluster, or
 * its bus is down: local service continues). */
int cluster_start(struct server *srv);
void cluster_stop(struct server *srv);
void cluster_free(struct server *srv);
/* A hello (ALLOW_SET: it set its allowed senders): a receiver's login in
 * the directory, and what the directory kept for its id taken over; a
 * sender's, its id's kept lists (--keep-client-info all). */
int cluster_hello(struct conn *c, int allow_set);
/* C's client changed its default receivers or allowed senders: kept in the
 * directory with --keep-client-info all. */
void cluster_lists_changed(struct conn *c);
int cluster_join(struct conn *c, uint64_t seq, const char *group);
int cluster_members(struct conn *c, uint64_t seq, const char *group);
int cluster_groups(struct conn *c, uint64_t seq, int all);
/* A message that found no local receiver (TO, or TO's connection number
 * CONN when not 0) or went to GROUP's local members (LOCAL_N deliveries,
 * RECEIVERS consumed): on to the other nodes. */
int cluster_route(struct conn *c, uint64_t seq, const char *to, uint64_t conn, const char *group, const char *kind,
		  const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen, int local_n, cJSON *receivers);
/* A message to the sender's default receivers (no target) that reached
 * LOCAL_N here: 1 when some of C's contacts are not online here, and the
 * message goes on to them on other nodes (RECEIVERS consumed; the ok comes
 * once those nodes answered); 0 when none are (nothing consumed). */
int cluster_route_contacts(struct conn *c, uint64_t seq, const uint8_t *head, size_t hlen, const uint8_t *body,
			   size_t blen, int local_n, cJSON *receivers);
/* cluster_pipe.c: a stream (media) to TO or GROUP, in frame V. 1 when the
 * directory is asked which other nodes hold the target (C held meanwhile):
 * V is then handled again, and the stream piped to those nodes; 0: handle
 * it here now. */
int cluster_media_route(struct conn *c, const struct rv_frame_view *v, const char *to, const char *group);
/* cluster_home.c: a group's live media has a home node, that of its first
 * source. A POST to /whip/GROUP or /whep/GROUP on C (VIEWER: WHEP): 1 when
 * the directory is asked where GROUP's home is (C's request deferred: it
 * is answered with a 307 to the home, or handled here once known), 0 to
 * handle it here now (no cluster, the home is here, or the bus is down). */
int cluster_webrtc_post(struct conn *c, int viewer, const char *group);
/* A source of GROUP's media began (DELTA 1) or ended (-1) on this node: the
 * first claims GROUP's home, the last's end removes it. */
void cluster_source(struct server *srv, const char *group, int delta);
/* cluster_trunk.c: node-to-node trunks (see there). A connection that sent
 * the trunk preface: N bytes at P follow it. */
void cluster_trunk_accept(struct conn *c, const uint8_t *p, size_t n);
/* Bytes from a trunk's peer (P NULL: go on with what was kept). */
void cluster_trunk_input(struct conn *c, const uint8_t *p, size_t n);
/* 1 when C is a trunk whose handshake completed. */
int cluster_trunk_up(const struct conn *c);
size_t cluster_trunks_up(const struct server *srv);
/* C is no longer its client's receiver; C closed. */
void cluster_recv_gone(struct conn *c);
void cluster_conn_closed(struct conn *c);
/* The router's on_unlink: a local member left a group (UD: the server). */
void cluster_unlinked(void *ud, const struct rv_client *c, const struct rv_group *g);
int cluster_bus_up(const struct server *srv);
/* The high bits of this node's connection numbers (a 20-bit tag of its
 * incarnation, above bit 32), 0 without --cluster; the tag of NUM. */
uint64_t cluster_conn_base(const struct server *srv);
#define CLUSTER_CONN_TAG(num) ((uint64_t)(num) >> 32)
#define CONN_NUM_MAX (1ull << 53)     /* connection numbers stay exact as JSON numbers */
uint64_t cluster_reconnects(const struct server *srv);
uint64_t cluster_script_reloads(const struct server *srv);

uint64_t now_ms(const struct server *srv);
int64_t wall_ms(void);

#endif
