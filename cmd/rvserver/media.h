/* media.h - rvserver's media relay: streams of RTP/RTCP (or SRTP/SRTCP,
 * relayed without decrypting) from a sender to the receivers that the
 * router picks for it, over UDP or framed on the TCP connection.
 *
 * A sender announces a stream on its connection ("stream"); a receiver says
 * it takes media ("watch") on its receiving connection. Each gets UDP
 * credentials in the reply and registers its UDP address with a STUN
 * Binding signed with them (short-term credentials, RFC 8489 9.1); a client
 * that cannot reach the UDP port sends and gets "media" frames instead.
 * Receivers are told of each stream ("stream" event: codecs, SSRCs, SRTP
 * key, and the SSRC to send its RTCP as), which lets RTCP feedback be routed
 * back to the sender by its clear-text sender SSRC. */
#ifndef RVSERVER_MEDIA_H
#define RVSERVER_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct rv_buf;
struct server;
struct conn;
struct mstream;
struct media_ep;

struct media_counters {
	uint64_t streams_total, packets_in, bytes_in, packets_out, bytes_out;
	uint64_t drops, test_drops, rtcp_in, feedback, keyframe_requests, bindings, bad_bindings;
	uint64_t unknown;             /* packets from no registered address or SSRC */
	uint64_t udp_bursts;          /* UDP reads that carried several datagrams (GRO) */
};

struct media {
	struct mstream *streams;      /* every live stream */
	size_t nstreams;
	uint32_t last_stream, last_ssrc;
	struct rv_map *by_addr;       /* "family:addr:port" -> media_ep */
	struct rv_map *by_fb;         /* receiver RTCP SSRC (hex) -> mstream */
	struct media_ep *last;        /* the endpoint the last datagram came from */
	uint64_t gen;                 /* bumped by anything that can change routes */
	uint64_t stamp;               /* one per route refresh (media.c) */
	struct media_ep **rx;         /* a refresh's receivers, reused */
	size_t rxcap;
	uint8_t key[32];              /* for the UDP passwords */
	double drop_rate;             /* --drop-rate: test-only loss */
	struct media_counters n;
};

int media_init(struct server *srv);
void media_free(struct server *srv);
/* A datagram on the UDP port. */
void media_udp(struct server *srv, const uint8_t *p, size_t n, const struct sockaddr *from);
/* A frame of type stream, stream-end, watch or unwatch; 1 when handled. */
int media_request(struct conn *c, const char *type, cJSON *h);
/* A media frame's packet from C. */
void media_tcp(struct conn *c, const uint8_t *p, size_t n);
/* C is closing: its streams end, its subscriptions go. */
void media_conn_closed(struct conn *c);
/* Membership, allowed senders or contacts may have changed. */
static inline void media_changed(struct media *m) { m->gen++; }
/* /stats' "media" object (NULL: no memory) and the lines of /metrics
 * (0, or rv_buf_append's error), from one table in media.c; packets lost on
 * the way in (live streams). */
cJSON *media_stats(struct server *srv);
int media_metrics(struct server *srv, struct rv_buf *out);
uint64_t media_lost(struct server *srv);

#endif
