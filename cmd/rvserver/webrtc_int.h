/* webrtc_int.h - the WebRTC sessions' own types, shared by webrtc.c (the
 * transport: ICE, DTLS, SRTP, timers; a publisher's media in) and
 * webrtc_out.c (a viewer's media out). Not for the rest of rvserver: see
 * webrtc.h. */
#ifndef RVSERVER_WEBRTC_INT_H
#define RVSERVER_WEBRTC_INT_H

#include <stdint.h>

#include <uv.h>

#include "ice.h"
#include "map.h"
#include "rtcpstat.h"
#include "rtpcache.h"
#include "router.h"
#include "webrtc.h"

struct rv_dtls;
struct rv_dtls_ctx;
struct rv_srtp;
struct relay_ep;

#define MAX_SESSIONS 1024            /* WebRTC sessions on one server */
#define MAX_TRACKS 4                 /* m-lines of one session that carry media */
#define ANSWER_MAX 16384

enum wstate { W_ICE, W_DTLS, W_UP, W_CLOSED };

struct wtrack {                      /* one accepted m-line of a publisher */
	char kind[8], codec[16];
	int pt, clock, channels;
	unsigned fb;                     /* rtcp-fb in the answer (RV_WSDP_FB_*) */
	uint32_t ssrc;                   /* the browser's, 0 until known */
	struct rv_rtcpstat rx;           /* for our receiver reports, once the SSRC is known */
	uint64_t packets, bytes;         /* RTP in */
};

/* A source stream as this server's viewers share it (webrtc_out.c): its
 * SRTP key, one context each way for all of them (with libsrtp2 on NSS each
 * context is softoken sessions and keys, and every packet's cost grows with
 * their number), and its last packet in the clear. The relay hands the same
 * packet to each viewer in turn: it is decrypted once for all (one
 * decryption per viewer was half of the egress CPU at 50 viewers), and the
 * shared context's replay window sees it once. Counted by the viewers
 * using it, freed with the last. */
#define WSRC_MAX_PACKET 1500
struct wsrc {
	struct wsrc *next;
	uint32_t stream;                 /* the relay's stream number */
	unsigned refs;
	struct rv_srtp *in, *out;        /* unprotect its packets; protect our RTCP to it */
	size_t cn, pn;                   /* the last packet: its ciphertext and clear lengths (0: none) */
	uint8_t id[32];                  /* its first 16 bytes and its last 16 (the tag): it, for a source */
	uint8_t p[WSRC_MAX_PACKET];      /* in the clear */
};

/* What a viewer sends of one kind (0 video, 1 audio): the source stream's
 * packets with our SSRC and the browser's payload type, sequence numbers
 * and timestamps carried on across a change of source. */
struct wout {
	char codec[16];                  /* negotiated: "VP8", "H264", "opus"; "" none */
	int pt;                          /* the browser's payload type */
	uint32_t ssrc;                   /* ours, in the answer */
	uint32_t src_ssrc;               /* the source's now, 0: none */
	uint32_t stream;                 /* its stream, and the SSRC our RTCP for it is */
	uint32_t fb_ssrc;
	uint16_t seq_off, last_seq;      /* out = in + off */
	uint32_t ts_off, last_ts;
	int started, rebase;             /* a packet went out; the next sets the offsets */
	uint64_t packets, bytes, retransmits;
	struct rv_rtpcache cache;        /* video: the last packets sent, for NACKs */
	struct wsrc *src;                /* the source's SRTP key, when it has one */
};

/* A path over TCP (ICE over TCP): its connection (NULL once closed: the path
 * is gone, nothing is sent to its address) and the peer's address, the
 * tuple ICE knows it by. ICE keys tuples by address alone, so a UDP tuple
 * from the very same address and port would be taken for this path (the
 * browser's TCP and UDP ports would have to coincide). */
#define WSESS_TCP 4
struct wtcp {
	struct conn *c;
	struct sockaddr_storage addr;
	socklen_t len;
};

struct wsess {
	struct server *srv;
	struct wsess *next;
	char secret[WEBRTC_SECRET_LEN + 1];
	char group[RV_ID_MAX + 1];
	char fp[128];                    /* the offer's a=fingerprint (sha-256) */
	struct rv_ice_cred cred;
	char old_ufrag[RV_ICE_UFRAG_LEN + 1]; /* after an ICE restart: the one still valid, "" */
	struct rv_ice *ice;
	struct rv_dtls *dtls;
	struct rv_srtp *in, *out;        /* the browser's SRTP in; our SRTCP out */
	struct rv_client *client;        /* the router's: the stream's sender */
	struct relay_ep *edge;
	struct wtrack tracks[MAX_TRACKS];
	int ntracks;
	int64_t stream;                  /* the relay's stream, 0 before it is announced */
	uint32_t own_ssrc;               /* what our RTCP is sent as */
	uv_timer_t timer;
	enum wstate state;
	uint64_t created_ms;
	uint64_t dtls_due;               /* the handshake's deadline (loop ms), in W_DTLS */
	char ip[46];                     /* the address its offer came from (per-IP limit) */
	uint64_t packets, bytes, srtp_fails;
	uint64_t early;                  /* media before the keys: dropped */
	uint64_t ice_refused;            /* its checks refused (the first is logged at -v) */
	uint64_t rtcp_due;               /* a publisher's: its next receiver report (loop ms) */
	uint64_t reports, nacks, plis;   /* RTCP: reports sent; NACKs and PLI/FIR passed on
					    (a publisher) or received (a viewer) */
	int viewer;                      /* WHEP: it receives the group's streams */
	int source;                      /* a publisher counted as a source of its group (cluster_source) */
	struct wout tx[2];               /* a viewer's video and audio */
	struct wtcp tcp[WSESS_TCP];      /* its TCP paths, by the order of their first valid check */
};

struct webrtc_counters {
	uint64_t sessions, offers_refused, per_ip_refused, ice_checks, ice_refused, handshakes, failures;
	uint64_t packets_in, bytes_in, srtp_fails, plis;
	uint64_t reports, rembs, nacks_to_publishers, rtcp_terminated;
	uint64_t packets_out, bytes_out, nacks_in, retransmits, retransmits_limited, nacks_to_sources;
	uint64_t src_decrypts;           /* source packets unprotected for viewers (struct wsrc) */
	uint64_t tcp_paths, tcp_drops;
	uint64_t fail_ice, fail_dtls, fail_fingerprint, fail_keys, closed_by_peer, deleted;
	uint64_t trickles, ice_restarts;
};

struct webrtc {
	struct rv_dtls_ctx *ctx;
	struct rv_map by_ufrag;          /* local ufrag -> wsess */
	struct rv_map by_secret;         /* Location secret -> wsess */
	struct wsess *sessions;
	size_t nsessions;
	char cands[WEBRTC_MAX_CANDS][64];
	int ncands;
	char turn_secret[512];           /* --turn-secret-file, for the Link headers */
	size_t turn_secret_len;
	uint32_t last_id;                /* "whip-N" */
	int no_udp;                      /* RV_TEST_NO_UDP_CANDIDATES: answers offer TCP alone */
	struct wsrc *srcs;               /* the sources viewers take, with their keys */
	uint8_t *tx;                     /* viewers' packets queued in the UDP batch (webrtc_out.c) */
	size_t tx_used;                  /* slots of TX in the batch; 0 once it is flushed */
	struct webrtc_counters n;
};

static inline struct webrtc *W(const struct server *srv) { return srv->webrtc; }

/* webrtc.c */
/* Protect the RTP or RTCP packet P (N bytes, room for the SRTP trailer)
 * and send it to the session's selected path. */
void wsess_send_srtp(struct wsess *s, uint8_t *p, size_t n);
/* The same for P that stays valid until the UDP batch is flushed: queued
 * there when the path is UDP (1: P is the batch's now), else sent at once
 * (0, as when S is not up or protection fails). */
int wsess_queue_srtp(struct wsess *s, uint8_t *p, size_t n);
/* A packet in the clear from S into the relay (flushed at the batch's end). */
void wsess_to_relay(struct wsess *s, const uint8_t *p, size_t n);
/* S's path over TCP whose peer is TO (LEN bytes), or NULL: TO is a UDP one. */
struct wtcp *wsess_tcp_path(const struct wsess *s, const struct sockaddr *to, socklen_t len);
/* What S's DTLS engine has to send, out now. */
void wsess_dtls_flush(struct wsess *s);
/* S's timer set again for its next deadline (DTLS, ICE, RTCP). */
void wsess_rearm(struct wsess *s);
/* The relay edge of a session: its datagrams, packets, streams. */
extern const struct relay_edge wsess_edge_ops;

/* webrtc_sess.c: see webrtc.h (webrtc_offer, webrtc_patch, webrtc_close, ...) */

/* webrtc_in.c: a publisher's side of the relay edge, and our RTCP to it */
/* S is up: its stream is announced (once every track's SSRC is known). */
void win_up(struct wsess *s);
/* A packet from the browser in the clear: RTP counted for the reports,
 * SRs noted, both into the relay. */
void win_media(struct wsess *s, const uint8_t *p, size_t n);
/* Receivers' RTCP for S's stream (P in the clear): NACK, PLI and FIR go to
 * the browser; their reports stay here (the leg has ours). */
void win_feedback(struct wsess *s, const uint8_t *p, size_t n);
/* A receiver joined: a PLI for each video track. */
void win_keyframe(struct wsess *s);
/* The timer: the receiver report (and REMB) when due; the next due time. */
void win_tick(struct wsess *s, uint64_t now);

/* webrtc_out.c: a viewer's side of the relay edge, and the browser's RTCP */
void wout_packet(struct wsess *s, const uint8_t *p, size_t n);
void wout_stream(struct wsess *s, const cJSON *announce, uint32_t fb_ssrc);
void wout_stream_end(struct wsess *s, uint32_t id);
/* The browser's RTCP (in the clear): PLI and FIR become the source's, NACKs
 * are translated back to the source's sequence numbers. */
void wout_rtcp(struct wsess *s, const uint8_t *p, size_t n);
/* Ask every source of S for a keyframe (a PLI as S's receiver). */
void wout_keyframe(struct wsess *s);
/* The viewer's source keys go (the session closes). */
void wout_free(struct wsess *s);
/* The UDP batch went out: the slots of W->tx are free again. */
static inline void wout_flushed(struct webrtc *w) { w->tx_used = 0; }
/* Every source's state and the slots go (the server stops). */
void wout_free_all(struct webrtc *w);

#endif
