/* rvsend.h - shared state of the rvsend tool.
 *
 * The spine, each file calling only the ones below it:
 *   main.c      the option table, the checks (exit 2), dispatch through the
 *               subcommand table
 *   cmd.c       cmd: text commands to the target
 *   sendfile.c  data and file: transfers with end-to-end flow control
 *   fmap.c      a regular file's bytes through a mapping (no pread copy)
 *   live.c      media through rvserver (its own session; opens its inputs
 *               with rtpout.c's media_open)
 *   rtpout.c    media --rtp: plain RTP to an address, no server; with
 *               --p2p, the same packets to p2pout.c
 *   p2pout.c    media --p2p: the packets published into a peer group
 *   track.c     one medium's RTP packetizing and pacing
 *   app.c       the lifecycle of cmd and sendfile: the session and its loop,
 *               signals, the end with an exit code, messages to the target;
 *               the commands plug in through struct app_ops
 *   lib/        the session, media, SRTP and the rest */
#ifndef RVSEND_H
#define RVSEND_H

#include <stdatomic.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <uv.h>

#include "cli.h"
#include "input.h"
#include "p2plive.h"
#include "progress.h"
#include "session.h"
#include "xfer.h"

/* --chunk: bytes per data frame. The default is the largest body the server
 * takes (welcome's max_frame) up to RVSEND_CHUNK_MAX, or RVSEND_CHUNK_OLD
 * from a server that does not say: fewer, larger frames cost both ends
 * about a fifth less kernel time per byte than 256K ones. */
#define RVSEND_CHUNK_MAX ((1u << 20) - 4096)
#define RVSEND_CHUNK_OLD (256u << 10)

/* One receiver of the current transfer. */
enum rx_state { RX_WAIT, RX_ACTIVE, RX_OK, RX_FAILED };
struct rx {
	char id[65];
	enum rx_state state;
	uint64_t acked;              /* written at the receiver up to here */
	uint64_t since;              /* loop ms of its last progress */
};

enum phase { PH_IDLE, PH_OFFER, PH_ACCEPT, PH_SEND, PH_END };

/* A window of a regular file mapped for reading (fmap.c). */
struct fmap {
	uint8_t *base;               /* NULL: none */
	uint64_t off;                /* the file offset at base */
	size_t len;
};
/* fmap_at - N bytes of FD at OFF, within the SIZE its caller knows, mapped
 * (valid until the next call or fmap_close), or NULL when they cannot be:
 * read them instead. A file cut shorter while mapped makes a copy of them
 * in this process end it: "rvsend: NAME: read: the file shrank while being
 * sent", exit 1 (the kernel's copy in a write fails with EFAULT instead). */
const uint8_t *fmap_at(struct fmap *m, int fd, uint64_t off, size_t n, uint64_t size, const char *name);
/* fmap_close - unmap M's window (M stays usable). */
void fmap_close(struct fmap *m);

struct app;

/* What a command plugs into the session (app_run); NULL: nothing. */
struct app_ops {
	void (*up)(struct app *a);   /* the session is up: start (required) */
	/* A frame from the server other than an error, while the run is not done. */
	void (*frame)(struct app *a, const char *type, cJSON *h);
	void (*tick)(struct app *a); /* every 500 ms */
	/* SIGINT or SIGTERM: wind down, then FN(A); NULL: FN at once. */
	void (*interrupt)(struct app *a, void (*fn)(struct app *));
};

struct app {
	struct rv_client_opts co;
	const struct app_ops *ops;
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	const char *cmd, *to, *group;
	char **args;
	int nargs;
	size_t window, chunk;         /* chunk 0: the default, set in xfer_start */
	/* media */
	struct { const char *format, *input; } inputs[2];  /* -f FMT -i INPUT, twice at most */
	const char *pending_format;  /* -f waiting for its -i */
	const char *rtp, *sdp;
	const char *p2p, *p2p_key, *p2p_name;   /* --p2p SPEC, --key FILE, --name NAME */
	const char *p2p_cap;         /* --cap TOKEN|FILE */
	int push_limit;              /* --push-limit N (0: the default) */
	uint64_t max_upload;         /* --max-upload BITS (0: no budget) */
	const char *ipmc;            /* --ipmc ADDR:PORT (fusion) */
	int ipmc_ttl;                /* --ipmc-ttl N (0: 1) */
	int serverless, server_set;  /* --serverless; --server given */
	const char *bind, *port_file, *lan;     /* --p2p: --bind, --port-file, --lan */
	const char *peers[RV_P2PLIVE_PEERS];    /* --p2p: --peer ADDR:PORT */
	int npeers;
	const char *listen;          /* --listen URL: the RTMP publisher is input 0 */
	double listen_timeout;
	int vcodec, acodec, width, height, bitrate, abitrate, gop, realtime, pt, apt, tcp, srtp, srtp_set;
	double fps, duration;
	double accept_timeout, stall_timeout;
	int progress;
	int exit_code, done;
	struct rv_input in;
	int in_open, in_eof;
	uv_timer_t tick;
	uv_signal_t sigint, sigterm;  /* abort the transfer, tell the receivers */
	int signo;                   /* the signal that interrupted us, or 0 */
	void (*interrupted)(struct app *);  /* once the abort is out */
	uv_check_t pump;             /* sends more as the output drains */

	/* the current transfer */
	enum phase phase;
	int data;                    /* a stream, not a file */
	int file_index;
	int fd;
	char xid[128];
	char name[4096];
	uint64_t size, pos;
	uint64_t fbase, fsize;       /* data from a regular file: its offset at pos 0, its size last seen */
	struct fmap map;             /* the file's bytes being sent (fmap.c) */
	char sha[RV_SHA256_HEX];
	uint8_t *buf;
	struct rx *rx;
	size_t nrx;
	cJSON *early;                /* answers that came before the offer's ok (sendfile.c) */
	uint64_t phase_ms;
	struct rv_progress bar;
};

/* cmd.c: cmd; the exit code */
int cmd_run(struct app *a);
/* sendfile.c: data and file; the exit code */
int sendfile_run(struct app *a);
/* live.c: media through rvserver; the exit code */
int live_run(struct app *a);
/* rtpout.c: media --rtp (no server) and --p2p; the exit code */
int rtpout_run(struct app *a);
/* p2pout.c: media --p2p. p2pout_start - the peer and the stream, for
 * INPUTS input threads and the video source VSRC (keyframe requests go to
 * it; or NULL), which end after their frame once *STOP is set (at a
 * signal): 0, or the exit code. p2pout_packet - a packet of TAG (0
 * video RTP, 1 video RTCP, 2 audio RTP, 3 audio RTCP; KEY: a keyframe
 * starts here), p2pout_sdp - the stream's SDP, p2pout_input_ended - an
 * input is done: from any thread (after the loop is over they do nothing).
 * p2pout_wait - the loop until the group is there to publish into, before
 * the inputs start: SETTLE_MS after the first neighbour came up (the
 * others come meanwhile), at most WAIT_MS after joining, or a signal
 * (fragments published before the sessions were up reached nobody by
 * push, and every receiver pulled them of the publisher).
 * p2pout_run - the loop until every input ended (or a signal), the stream
 * ended and the receivers had time to pull; the exit code (128 + the
 * signal's number after one). p2pout_free - O, once the input threads are
 * joined (after a signal one may still be in its last frame when the loop
 * is over). */
struct p2pout;
struct rv_media_src;
int p2pout_start(struct p2pout **out, struct app *a, int inputs, struct rv_media_src *vsrc, atomic_int *stop);
void p2pout_packet(struct p2pout *o, int tag, const uint8_t *p, size_t n, int key);
void p2pout_sdp(struct p2pout *o, const char *sdp, size_t n);
void p2pout_input_ended(struct p2pout *o);
void p2pout_wait(struct p2pout *o);
int p2pout_run(struct p2pout *o);
void p2pout_free(struct p2pout *o);
struct rv_media_src;
/* Open input WHICH (0 or 1) with the encoder options, taking its video
 * and audio when WANT_VIDEO and WANT_AUDIO; with --listen, wait for the
 * publisher, saying so. 0, or the exit code (RV_EXIT_TIMEOUT when
 * --listen-timeout ran out, else RV_EXIT_FAIL) with ERR saying why. */
int media_open(struct app *a, int which, int want_video, int want_audio, struct rv_media_src **src,
	       char *err, size_t errlen);
/* With --listen, say when the publisher's stream ended by --stall-timeout. */
void media_say_idle(const struct app *a, const struct rv_media_src *src);

/* app.c */
/* app_run - connect and run the loop with OPS until the end; the exit code. */
int app_run(struct app *a, const struct app_ops *ops);
/* app_finish - end with CODE (the first call counts): input, timers,
 * signals and the session closed, so that the loop ends. */
void app_finish(struct app *a, int code);
/* HDR made a msg to the target (-t, -g or default receivers); returns HDR. */
cJSON *target_msg(struct app *a, cJSON *hdr);
/* A msg to the target (-t, -g or default receivers): HDR is consumed. */
int send_to_target(struct app *a, cJSON *hdr, const void *body, size_t len);

#endif
