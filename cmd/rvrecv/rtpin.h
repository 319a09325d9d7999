/* rtpin.h - rvrecv --sdp: one m= section received. Its RTP port and the
 * RTCP port after it, each a UDP socket; SRTP and SRTCP undone with the
 * section's key; packets put back in order by a jitter buffer; and what
 * places its RTP clock in time: the first packet (its timestamp and when it
 * came) and the first RTCP sender report (its timestamp and NTP time). */
#ifndef RVRECV_RTPIN_H
#define RVRECV_RTPIN_H

#include <poll.h>
#include <stdint.h>

#include "jitter.h"
#include "srtp.h"

/* Where an RTP clock is. Times are microseconds: arrival on the monotonic
 * clock, sender reports in Unix time from their NTP timestamp. */
struct rtpclock {
	int clock;                   /* Hz */
	int have_first;
	uint32_t first_rtp;
	int64_t first_us;            /* when the first packet came */
	int have_sr;
	uint32_t sr_rtp;
	int64_t sr_us;
	int have_last;               /* unwrapping the timestamps handed on */
	uint32_t last_rtp;
	int64_t last_ext;
};

struct rtpin_conf {
	const char *kind;            /* "video", "audio": for messages */
	const char *addr;            /* listen here when it is a loopback address, else on any */
	int v6, port, clock;         /* port 0: no sockets, rtpin_packet brings the packets */
	const char *suite, *key;     /* SRTP (NULL suite: plain RTP) */
	int hold_ms;                 /* jitter buffer: how long a gap is waited for */
	void (*deliver)(void *ud, const uint8_t *p, size_t n);   /* RTP packets in order */
	void *ud;
};

struct rtpin {
	const char *kind;
	int rtp_fd, rtcp_fd;         /* rtcp_fd -1 when port+1 could not be had */
	struct rv_srtp *srtp;
	struct jitter jb;
	struct rtpclock clk;
	uint32_t ssrc, sr_ssrc;      /* of the first packet, of the report taken */
	uint64_t unauth, reports;
};

/* rtpin_open - sockets, SRTP session and jitter buffer for CONF. 0, or
 * with ERR set RV_EPROTO (an unusable key), -ENOMEM, or a negative errno
 * (cannot listen on the RTP port). After a failure too, rtpin_close. */
int rtpin_open(struct rtpin *t, const struct rtpin_conf *conf, char *err, size_t errlen);
/* rtpin_packet - P (N bytes, room for none more; RTCP when RTCP is 1 or
 * its type says so), as if it came on a socket at NOW_MS. 1 when it was
 * an RTP packet taken, else 0. */
int rtpin_packet(struct rtpin *t, uint8_t *p, size_t n, int rtcp, double now_ms);
/* rtpin_pollfds - add T's sockets to PF; how many were added. */
int rtpin_pollfds(const struct rtpin *t, struct pollfd *pf);
/* rtpin_read - take what waits on the sockets (NOW_MS: monotonic). 1 when
 * an RTP packet came, else 0. */
int rtpin_read(struct rtpin *t, double now_ms);
void rtpin_close(struct rtpin *t);

/* rtpclock_ext - TS (of the packets or frames handed on, in their order)
 * unwrapped: ticks since the first packet's timestamp. */
int64_t rtpclock_ext(struct rtpclock *c, uint32_t ts);
/* rtpclock_arrival_us - the time of EXT (from rtpclock_ext) counted from
 * when C's first packet came: on the monotonic clock, microseconds. */
int64_t rtpclock_arrival_us(const struct rtpclock *c, int64_t ext);
/* rtpclock_report_us - the time of EXT of C on the timeline of ANCHOR
 * (whose times are rtpclock_arrival_us): the sender reports of both say
 * how far apart they are in wall-clock time. 0, or -1 while a report or a
 * first packet is missing. */
int rtpclock_report_us(const struct rtpclock *anchor, const struct rtpclock *c, int64_t ext, int64_t *out);

#endif
