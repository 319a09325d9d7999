/* webrtc.h - rvserver as a WebRTC endpoint: sessions of browsers and other
 * WebRTC stacks on the UDP port, offered over HTTP (whip.c).
 *
 * A session is one PeerConnection's far end: ICE-lite (lib/ice.h) answers
 * its checks, DTLS (lib/dtls.h, rvserver the client: setup:active) starts
 * on the first valid check, and once the peer's certificate matches its
 * SDP fingerprint the exported SRTP keys (lib/srtp.h) open its media. A
 * publisher's media (WHIP) then goes into its group as an ordinary stream:
 * unprotected, sent by an edge of the relay (relay.h), so rvrecv records
 * it as it records rvsend. Receivers' keyframe requests become PLIs to the
 * browser; their RTCP feedback goes to it re-protected.
 *
 * Datagrams reach a session two ways: ICE checks through relay->ice_in by
 * the local ufrag of their USERNAME, everything else (DTLS, SRTP) through
 * the relay's address map once a check selected the path. A path is a UDP
 * address or, with ICE over TCP (RFC 6544, passive: the answer offers a TCP
 * candidate on the TCP port), a connection of the TCP port whose RFC 4571
 * frames are the datagrams (webrtc_tcp_in): one session's, from its first
 * valid check on. What a session sends goes to its selected path, framed on
 * the connection when it is one; when that connection closes the path is
 * gone, and consent ends the session as for a UDP path gone quiet.
 *
 * Lifetime: a session ends on DELETE, on a DTLS failure or alert, on a
 * fingerprint mismatch, when no valid check came within 10 s of the offer,
 * or when consent lapsed (no check for 30 s). Each ending is logged with
 * its cause and counted. */
#ifndef RVSERVER_WEBRTC_H
#define RVSERVER_WEBRTC_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"

struct server;
struct wsess;

#define WEBRTC_MAX_CANDS 4           /* host candidates in an answer */
#define WEBRTC_SECRET_LEN 32         /* hex characters of a session's Location */

/* webrtc_start - a DTLS identity (ECDSA P-256) and the candidates: PUBLIC_IP
 * (NULL: the listening address, or every interface's address when that is
 * a wildcard). 0, or a negative code (logged). */
int webrtc_start(struct server *srv, const char *public_ip);
/* webrtc_stop - every session ends (close_notify sent), timers close. */
void webrtc_stop(struct server *srv);
void webrtc_free(struct server *srv);

/* What an offer asks for. */
struct webrtc_req {
	int viewer;                  /* 1: WHEP, a viewer of GROUP's streams; 0: WHIP, a publisher into GROUP */
	const char *group;
	const char *id;              /* the session's client id; NULL: "whip-N", "whep-N" */
	const char *from;            /* a viewer's: the one client whose streams it takes; NULL: any */
	const char *ip;              /* the address the offer came from: at most --webrtc-max-per-ip */
};
/* webrtc_offer - the offer SDP (LEN bytes) for RQ. ID may be an RV
 * client's (a room page's member publishes and watches as itself) or
 * another viewer's, not another publisher's. On success 201: *ANSWER (malloc'd,
 * LEN in *ALEN) and *OUT. Otherwise an HTTP status with a reason in ERR:
 * 400 (a malformed offer, nothing in common), 409 (ID is taken), 422 (a
 * viewer whose browser cannot decode the group's stream), 429 (too many
 * sessions from IP), 503 (too many sessions), 500. */
int webrtc_offer(struct server *srv, const struct webrtc_req *rq, const char *sdp, size_t len, char **answer,
		 size_t *alen, struct wsess **out, char *err, size_t errlen);
#define WEBRTC_LINK_MAX 512          /* one Link header line */
/* webrtc_links - the Link headers of the --ice servers (RFC 9725 4.6), TURN
 * ones with REST credentials for USER, into LINKS: how many (at most MAX). */
int webrtc_links(struct server *srv, const char *user, char links[][WEBRTC_LINK_MAX], int max);
/* webrtc_find - the session whose Location secret is SECRET, or NULL. */
struct wsess *webrtc_find(struct server *srv, const char *secret);
/* The session's Location secret, its ETag (the local ufrag) and group. */
const char *webrtc_secret(const struct wsess *s);
const char *webrtc_id(const struct wsess *s);       /* its client id ("whip-1", "alice") */
const char *webrtc_etag(const struct wsess *s);
const char *webrtc_group(const struct wsess *s);
int webrtc_viewer(const struct wsess *s);
/* webrtc_tcp_in - a datagram P (N bytes, writable) framed on C, a
 * connection of the TCP port that began with a framed STUN Binding: an ICE
 * check (answered on C; a valid one makes C a path of its session), else
 * DTLS or SRTP for C's session. */
struct conn;
void webrtc_tcp_in(struct server *srv, struct conn *c, uint8_t *p, size_t n);
/* webrtc_udp_flushed - the UDP port's batch went out (udp_flush): what
 * viewers queued in it is sent, and its memory free for the next. */
void webrtc_udp_flushed(struct server *srv);
/* webrtc_tcp_closed - C is closing: the path it was is gone. */
void webrtc_tcp_closed(struct server *srv, struct conn *c);
/* webrtc_close - end S (WHY is logged); it is freed once its timer closed
 * (and its TCP paths are closed once what was queued to them is out). */
void webrtc_close(struct wsess *s, const char *why);

/* whip.c: the handler of the /whip/ row (every method), offers at most
 * WHIP_SDP_MAX bytes. */
#define WHIP_SDP_MAX 16384
#define WHIP_METHODS (RV_HTTPD_GET | RV_HTTPD_HEAD | RV_HTTPD_POST | RV_HTTPD_PUT | RV_HTTPD_PATCH | \
		      RV_HTTPD_DELETE | RV_HTTPD_OPTIONS)
struct rv_httpd;
void whip_http(struct rv_httpd *h, void *ud);

/* webrtc_patch - a PATCH of S's resource (application/trickle-ice-sdpfrag,
 * RFC 9725 4.3, FRAG LEN bytes) with IF_MATCH (the header, "" absent):
 *   204  trickled candidates, If-Match S's ETag (ICE-lite needs none: counted)
 *   200  an ICE restart (If-Match: *): the fragment's new ice-ufrag/pwd are
 *        the peer's, ours are new (in OUT, CAP bytes, *OLEN), and so is the
 *        ETag (webrtc_etag); the old ones answer until the first new check
 *   400  a malformed fragment, or a restart without ufrag/pwd
 *   412  If-Match is not S's ETag; 428 no If-Match; 500 no memory
 * ERR (ERRLEN bytes) says why for a 4xx/5xx. */
#define WEBRTC_FRAG_MAX 256
int webrtc_patch(struct wsess *s, const char *if_match, const char *frag, size_t len, char *out, size_t cap,
		 size_t *olen, char *err, size_t errlen);
/* webrtc_deleted - count an HTTP DELETE of a session (whip.c). */
void webrtc_deleted(struct server *srv);

/* /stats' "webrtc" object added to ROOT, and the rvserver_webrtc_* lines of
 * /metrics: 0, or a negative code (no memory). */
int webrtc_stats(struct server *srv, cJSON *root);
int webrtc_metrics(struct server *srv, struct rv_buf *out);
/* webrtc_list - one object per session, newest first (GET /webrtc and
 * /stats' webrtc.legs): id, group, role (publisher, viewer), state (ice,
 * dtls, up), age_s, path (the selected address), packets and bytes in and
 * out, nacks, plis, transport (udp or tcp, with a path), and per track its kind, codec, ssrc, packets and bytes
 * (a publisher's also lost and jitter, a viewer's retransmits and the
 * stream it follows). NULL: no memory (an empty array with WebRTC off). */
cJSON *webrtc_list(struct server *srv);

#endif
