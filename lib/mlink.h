/* mlink.h - a client's media path to rvserver: RTP and RTCP over UDP, with
 * the UDP address registered by a STUN Binding signed with the credentials
 * the server gave on the session ("udp": {port, user, pass}); or, with
 * --tcp or when no Binding answer comes within 2 s, media frames on the
 * session's TCP connection: the fixed head of rv_frame_media_head and the
 * packet, no JSON and no allocation per packet. The choice is made once
 * and reported. */
#ifndef RV_MLINK_H
#define RV_MLINK_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include <cJSON.h>
#include <uv.h>

#include "session.h"

#define RV_MLINK_UDP_WAIT_MS 2000    /* no Binding answer by then: TCP */
/* The UDP socket's receive buffer asked for (the kernel caps it at
 * net.core.rmem_max): 4 MiB holds 0.6 s of a 50 Mbit/s stream, so a
 * receiver busy for a moment (a keyframe's write, a slow disk) loses nothing. */
#define RV_MLINK_RCVBUF (4 << 20)

struct rv_mlink;

/* A packet from the server (RTP or RTCP), over either path. */
typedef void (*rv_mlink_packet_fn)(void *ud, const uint8_t *p, size_t n);
/* The path is settled: UDP 1 (registered) or 0 (framed on TCP). */
typedef void (*rv_mlink_ready_fn)(void *ud, int udp);

/* rv_mlink_start - register with the server HOST (as the session reached
 * it) using UDP (the "udp" object of an ok reply: port, user, pass), or go
 * straight to TCP when FORCE_TCP. HOST is resolved off the loop
 * (uv_getaddrinfo); nothing is sent before the loop runs, and resolving
 * and registering together wait at most RV_MLINK_UDP_WAIT_MS. With
 * FORCE_TCP or no usable UDP object, ON_READY(0) runs before this returns. */
int rv_mlink_start(struct rv_mlink **out, uv_loop_t *loop, struct rv_session *s, const char *host,
		   const cJSON *udp, int force_tcp, rv_mlink_packet_fn on_packet,
		   rv_mlink_ready_fn on_ready, void *ud);
/* rv_mlink_send - one packet to the server; packets sent before the path
 * is settled go over TCP. Negative when it could not be sent (dropped). */
int rv_mlink_send(struct rv_mlink *l, const uint8_t *p, size_t n);
/* rv_mlink_sendv - up to RV_MLINK_BATCH packets (V[0..N-1]) in order, over
 * UDP in one system call, runs of equal ones as one GSO send each. Returns
 * how many went out; the others were dropped. */
#define RV_MLINK_BATCH 64
int rv_mlink_sendv(struct rv_mlink *l, const struct iovec *v, size_t n);
/* rv_mlink_frame - feed a "media" frame the session received. */
void rv_mlink_frame(struct rv_mlink *l, const uint8_t *p, size_t n);
/* rv_mlink_udp - 1 when the path is UDP. */
int rv_mlink_udp(const struct rv_mlink *l);
/* rv_mlink_close - stop; the memory goes once libuv has closed the handles. */
void rv_mlink_close(struct rv_mlink *l);

#endif
