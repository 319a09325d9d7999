/* relay.h - rvserver's media relay: streams of RTP/RTCP (or SRTP/SRTCP,
 * relayed without decrypting) from a sender to the receivers that the
 * router picks for it, over UDP or framed on the TCP connection.
 *
 * A sender announces a stream on its connection ("stream"); a receiver says
 * it takes media ("watch") on its receiving connection. Each gets UDP
 * credentials in the reply and registers its UDP address with a STUN
 * Binding signed with them (short-term credentials, RFC 8489 9.1; see
 * relay_bind.c); a client that cannot reach the UDP port sends and gets
 * "media" frames instead. Receivers are told of each stream ("stream" event:
 * codecs, SSRCs, SRTP key, and the SSRC to send its RTCP as), which lets
 * RTCP feedback be routed back to the sender by its clear-text sender SSRC.
 *
 * The relay is its own state (struct relay) and reaches the rest of
 * rvserver only through the host functions at the end of this header (a
 * clock, a connection's few facts, a frame to a connection, a datagram out):
 * rvserver implements them in relay_host.c, tests/fuzz/fuzz_relay.c with
 * stubs. A connection is opaque here (struct conn); the router's client
 * recv pointer is the receiving connection. */
#ifndef RVSERVER_RELAY_H
#define RVSERVER_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <cJSON.h>

#include "bmap.h"
#include "buf.h"
#include "p2pintro.h"

struct conn;
struct relay_ep;
struct mstream;
struct rv_router;
struct rv_client;

struct relay_counters {
	uint64_t streams_total, packets_in, bytes_in, packets_out, bytes_out;
	uint64_t drops, test_drops, rtcp_in, feedback, keyframe_requests, bindings, bad_bindings;
	uint64_t unknown;             /* packets from no registered address or SSRC */
	uint64_t udp_bursts;          /* UDP reads that carried several datagrams (GRO) */
	uint64_t udp_yields;          /* readable events cut short by their time (udp.c) */
};

/* A UDP address as a by_addr key: family, address, port (relay_addr_key). */
#define RELAY_ADDR_KEY 19
/* Caps on the packet path's maps: registered addresses and receivers'
 * RTCP SSRCs. */
#define RELAY_MAX_ADDRS (1u << 20)
#define RELAY_MAX_SUBS (1u << 22)

struct relay {
	void *host;                   /* passed back to the host functions: the server */
	struct rv_router *router;
	size_t max_queue;             /* a TCP receiver past half of it loses packets */
	int udp_port;                 /* told to clients with their credentials */
	struct mstream *streams;      /* every live stream */
	size_t nstreams;
	uint32_t last_stream, last_ssrc;
	struct rv_bmap by_addr;       /* RELAY_ADDR_KEY bytes -> relay_ep */
	struct rv_bmap by_fb;         /* receiver RTCP SSRC (4 bytes, host order) -> mstream */
	struct relay_ep *last;        /* the endpoint the last datagram came from */
	uint64_t gen;                 /* bumped by anything that can change routes */
	uint64_t stamp;               /* one per route refresh (relay.c) */
	struct relay_ep **rx;         /* a refresh's receivers, reused */
	size_t rxcap;
	struct rv_buf scratch;        /* one control frame being built */
	uint8_t key[32];              /* for the UDP passwords */
	double drop_rate;             /* --drop-rate: test-only loss */
	struct rv_p2p_intro *p2p;     /* the peer-group introducer (the host's), or NULL: none */
	/* ICE checks (a STUN request whose USERNAME has a colon: rv's have
	 * none) go here first: 1 when taken, 0 to answer it as a Binding. */
	int (*ice_in)(void *ud, const uint8_t *p, size_t n, const struct sockaddr *from);
	void *ice_ud;
	struct relay_ep **viewers;    /* edges watching a group (relay_edge_watch) */
	size_t nviewers, viewercap;
	int next_nodes;               /* set by cluster_pipe.c while it makes a stream: the
				       * other nodes it goes to, told in the ok ("nodes") */
	struct relay_counters n;
};

/* relay_init - an empty relay for HOST routing with ROUTER; TCP receivers
 * lose packets past MAX_QUEUE/2 queued bytes; DROP_RATE: test-only loss.
 * 0, -ENOMEM, or RV_ETLS (no random key). */
int relay_init(struct relay *r, void *host, struct rv_router *router, size_t max_queue, double drop_rate);
/* relay_free - every stream ends (nobody is told); the relay's memory goes. */
void relay_free(struct relay *r);
/* relay_udp_in - a datagram on the UDP port: a STUN Binding, an ICE check
 * (R->ice_in), a message for the peer-group introducer R->p2p (STUN
 * methods 0x0C0-0x0C3), or media from a registered address. P is the
 * port's receive slot: an edge may rewrite it in place (SRTP decryption),
 * and queued sends point into it until the host flushes (see
 * relay_udp_queue). */
void relay_udp_in(struct relay *r, uint8_t *p, size_t n, const struct sockaddr *from);
/* relay_tcp_in - a media frame's packet (N bytes) from C; flushes the UDP
 * batch before returning (P lives only as long as the frame). */
void relay_tcp_in(struct relay *r, struct conn *c, const uint8_t *p, size_t n);
/* The requests, header H from C (after hello): {"type":"stream",...},
 * {"type":"stream-end","stream":N}, and "watch"/"unwatch" (ON 1/0) on C's
 * receiving connection ("watch" with "media":false: told of the streams,
 * sent none of their packets). Each answers C (ok or error). */
void relay_stream(struct relay *r, struct conn *c, cJSON *h);
void relay_stream_end(struct relay *r, struct conn *c, cJSON *h);
void relay_watch(struct relay *r, struct conn *c, cJSON *h, int on);
/* relay_conn_closed - C is closing: its streams end, its subscriptions go,
 * its endpoint is freed (*relay_ep_slot(C) is NULL again). */
void relay_conn_closed(struct relay *r, struct conn *c);
/* relay_changed - membership, allowed senders or contacts may have changed:
 * routes are worked out again at each stream's next packet. */
static inline void relay_changed(struct relay *r) { r->gen++; }
/* relay_addr_key - the by_addr key of SA (AF_INET or AF_INET6). */
void relay_addr_key(const struct sockaddr *sa, uint8_t out[RELAY_ADDR_KEY]);
/* relay_addr_text - SA as "IP:PORT" for the log (LEN >= 64 holds any). */
void relay_addr_text(const struct sockaddr *sa, char *out, size_t len);

/* ---- edges: stream ends that are not connections ----
 *
 * A WebRTC publisher or viewer (webrtc.c) is an edge: an endpoint with a
 * client of its own and no connection. A publisher's streams are routed as
 * a connection's are; a viewer watches one group and receives every stream
 * sent to it but its own client's. What would go to a connection goes to the
 * edge's functions. */
struct relay_edge {
	/* A datagram from the edge's registered address that is not STUN; P
	 * may be rewritten in place (see relay_udp_in). */
	void (*datagram)(void *ud, uint8_t *p, size_t n, const struct sockaddr *from);
	/* A packet for the edge (P lives for the call): receivers' RTCP for a
	 * stream it sends; RTP and sender reports of a stream it receives. */
	void (*packet)(void *ud, const uint8_t *p, size_t n);
	/* A receiver joined stream ID after packets began: a keyframe, soon. */
	void (*keyframe)(void *ud, uint32_t id);
	/* A viewer's: it receives stream ANNOUNCE ({"stream":ID,"from",
	 * "media":[...],...}, borrowed) and sends its RTCP for it as
	 * FB_SSRC; and stream ID ended for it. */
	void (*stream)(void *ud, const cJSON *announce, uint32_t fb_ssrc);
	void (*stream_end)(void *ud, uint32_t id);
};
/* relay_edge_new - an edge sending as AS (the router's; the caller attaches
 * and detaches it), calling OPS with UD. NULL: no memory. */
struct relay_ep *relay_edge_new(struct relay *r, struct rv_client *as, const struct relay_edge *ops, void *ud);
/* relay_edge_addr - the edge's datagrams come from SA now (its selected
 * path), in place of any address before. */
void relay_edge_addr(struct relay *r, struct relay_ep *ep, const struct sockaddr *sa);
/* relay_edge_stream - announce a stream from EP to GROUP with MEDIA (an
 * array of 1 to 4 entries with kind, codec and ssrc; borrowed). The
 * stream's number, or RV_EPROTO (bad media), RV_ELIMIT (8 streams),
 * -ENOMEM. */
int64_t relay_edge_stream(struct relay *r, struct relay_ep *ep, const char *group, const cJSON *media);
/* relay_edge_watch - EP receives the streams sent to GROUP from now on
 * (those running included); with FROM, only those the client FROM sends.
 * 0, or -ENOMEM. */
int relay_edge_watch(struct relay *r, struct relay_ep *ep, const char *group, const char *from);
/* relay_group_media - the "media" of the newest stream to GROUP (from the
 * client FROM, unless NULL; borrowed: valid until the relay changes), or
 * NULL. */
const cJSON *relay_group_media(const struct relay *r, const char *group, const char *from);
/* relay_edge_packet - an RTP or RTCP packet in the clear from EP, routed
 * as a connection's (by its SSRCs); the caller flushes the UDP batch
 * (relay_udp_flush) before P changes. */
void relay_edge_packet(struct relay *r, struct relay_ep *ep, const uint8_t *p, size_t n);
/* relay_test_drop - 1 when --drop-rate says to lose this RTP packet
 * (counted). Packets to a connection are lost in the relay; an edge sends
 * RTP on its own and asks this itself, after its NACK cache, as a path
 * would lose them. */
int relay_test_drop(struct relay *r);
/* relay_edge_free - EP's streams end ("the sender left"), EP goes. */
void relay_edge_free(struct relay *r, struct relay_ep *ep);

/* ---- pipes: a stream's receivers on other cluster nodes ----
 *
 * cluster_pipe.c makes one edge per stream and node: on the sending node a
 * receiver of the stream (relay_pipe_attach), on the receiving node its
 * source (relay_pipe_stream), whose client is the remote sender's. */
/* relay_conn_newest - the number of C's newest stream (just made), or 0. */
uint32_t relay_conn_newest(struct relay *r, struct conn *c);
/* relay_pipe_attach - EP (an edge) becomes a receiver of stream ID: it is
 * told of it at once. 0, RV_ECLOSED (no such stream), RV_ELIMIT (16). */
int relay_pipe_attach(struct relay *r, uint32_t id, struct relay_ep *ep);
/* relay_pipe_stream - a stream from EP to TO or GROUP announced as ANNOUNCE
 * (media and srtp taken from it, borrowed); not a source of the group's
 * media here (relay_group_source). Its number, or RV_EPROTO,
 * RV_ELIMIT, -ENOMEM as relay_edge_stream. */
int64_t relay_pipe_stream(struct relay *r, struct relay_ep *ep, const cJSON *announce, const char *to,
			  const char *group);
/* relay_pipe_feedback - RTCP from receivers behind receiver edge EP for
 * stream ID (their SSRCs are another node's): to the stream's sender. */
void relay_pipe_feedback(struct relay *r, struct relay_ep *ep, uint32_t id, const uint8_t *p, size_t n);
/* relay_pipe_keyframe - a receiver elsewhere asks stream ID for a keyframe. */
void relay_pipe_keyframe(struct relay *r, uint32_t id);
/* relay_each_sent - FN (UD) for each stream a connection here sends to an
 * id or a group (not those piped in from another node): the streams whose
 * receivers other nodes may hold. FN must not change the relay. */
void relay_each_sent(struct relay *r, void (*fn)(void *ud, uint32_t id, const char *to, const char *group),
		     void *ud);

/* relay_stats.c: /stats' "media" object (NULL: no memory) and the lines of
 * /metrics (0, or rv_buf_append's error), from one table; packets lost on
 * the way in (live streams). */
cJSON *relay_stats(struct relay *r);
int relay_metrics(struct relay *r, struct rv_buf *out);
uint64_t relay_lost(const struct relay *r);

/* ---- the host: what the relay needs of rvserver (relay_host.c) ---- */

/* The loop's clock, in ms. */
uint64_t relay_now(const struct relay *r);
/* A stream to GROUP began (DELTA 1) or ended (-1): a source of the group's
 * media on this node (rvserver: cluster_source). */
void relay_group_source(struct relay *r, const char *group, int delta);
/* Where C keeps its relay endpoint (NULL until it streams or watches). */
struct relay_ep **relay_ep_slot(struct conn *c);
/* C's client (after hello), or NULL. */
struct rv_client *relay_client(const struct conn *c);
/* 1 while C is open, 0 once it is closing (nothing more goes to it). */
int relay_conn_open(const struct conn *c);
/* Bytes queued to C and not yet written. */
size_t relay_conn_queued(const struct conn *c);
/* C's number as text (the UDP user name), given one if it has none; NULL
 * when there is no memory for it. The string lives as long as C. */
const char *relay_conn_number(struct conn *c);
/* The connection with number NUM (text), or NULL. */
struct conn *relay_conn_by_number(struct relay *r, const char *num);
/* Send one frame in two parts to C: 0, or a negative code when it was not
 * queued (C closing, or dropped as a slow consumer). */
int relay_conn_send(struct conn *c, const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen);
/* Send one datagram now (a STUN answer). */
void relay_udp_send(struct relay *r, const void *p, size_t n, const struct sockaddr *to);
/* Queue a datagram for the end of the batch: P must stay valid until the
 * next relay_udp_flush (the host flushes after each receive batch); DEST
 * stands for the address (grouping). */
void relay_udp_queue(struct relay *r, const void *dest, const struct sockaddr *to, socklen_t tolen,
		     const void *p, size_t n);
void relay_udp_flush(struct relay *r);

#endif
