/* rvsend.h - shared state of the rvsend tool. */
#ifndef RVSEND_H
#define RVSEND_H

#include <stdint.h>

#include <openssl/evp.h>
#include <uv.h>

#include "cli.h"
#include "input.h"
#include "progress.h"
#include "session.h"
#include "xfer.h"

/* One receiver of the current transfer. */
enum rx_state { RX_WAIT, RX_ACTIVE, RX_OK, RX_FAILED };
struct rx {
	char id[65];
	enum rx_state state;
	uint64_t acked;              /* written at the receiver up to here */
	uint64_t since;              /* loop ms of its last progress */
};

enum phase { PH_IDLE, PH_OFFER, PH_ACCEPT, PH_SEND, PH_END };

struct app {
	struct rv_client_opts co;
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	const char *cmd, *to, *group;
	char **args;
	int nargs;
	size_t window, chunk;
	/* media */
	struct { const char *format, *input; } inputs[2];  /* -f FMT -i INPUT, twice at most */
	const char *pending_format;  /* -f waiting for its -i */
	const char *rtp, *sdp;
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
	char sha[RV_SHA256_HEX];
	uint8_t *buf;
	struct rx *rx;
	size_t nrx;
	uint64_t phase_ms;
	struct rv_progress bar;
};

/* xfer.c */
void xfer_start(struct app *a);
void xfer_frame(struct app *a, const char *kind, cJSON *h);
void xfer_tick(struct app *a);
/* A "gone" event: a monitored receiver's connection went away. */
void xfer_gone(struct app *a, cJSON *h);
/* SIGINT or SIGTERM: tell the receivers of the transfer under way that it
 * is aborted; FN(A) once that is out (or at once when none is). */
void xfer_interrupt(struct app *a, void (*fn)(struct app *));
/* media.c: --rtp (no server) */
struct rv_media_src;
int cmd_media(struct app *a);
/* Open input WHICH (0 or 1) with the encoder options, taking its video
 * and audio when WANT_VIDEO and WANT_AUDIO. */
int media_open(struct app *a, int which, int want_video, int want_audio, struct rv_media_src **src,
	       char *err, size_t errlen);
/* stream.c: media through rvserver */
int cmd_stream(struct app *a);
/* main.c */
void app_finish(struct app *a, int code);
/* HDR made a msg to the target (-t, -g or default receivers); returns HDR. */
cJSON *target_msg(struct app *a, cJSON *hdr);
/* A msg to the target (-t, -g or default receivers): HDR is consumed. */
int send_to_target(struct app *a, cJSON *hdr, const void *body, size_t len);

#endif
