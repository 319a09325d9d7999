/* rvrecv.h - shared state of the rvrecv tool.
 *
 * The spine, each file calling only the ones below it:
 *   main.c    the option table, the checks (exit 2), dispatch through the
 *             subcommand table
 *   take.c    cmd, data, file and media through rvserver: each frame to the
 *             command that takes it; commands printed here
 *   sdprec.c  media --sdp FILE: plain RTP into a container, no server
 *             (with rtpin.c, jitter.c); media --p2p: the same from a
 *             peer group's live stream (lib/p2plive.h)
 *   files.c   incoming files and data streams
 *   watch.c   media through rvserver into a container (with jitter.c;
 *             its receiver reports from lib/rtcpstat.h)
 *   app.c     the lifecycle: the session and its loop, the end with an exit
 *             code, counting, requests, replies to a sender; the commands
 *             plug in through struct app_ops
 *   lib/      the session, media, RTP and the rest */
#ifndef RVRECV_H
#define RVRECV_H

#include <stdint.h>

#include <openssl/evp.h>
#include <uv.h>

#include "cli.h"
#include "p2plive.h"
#include "progress.h"
#include "session.h"
#include "xfer.h"

enum { TAKE_CMD = 1, TAKE_FILE = 2, TAKE_DATA = 4, TAKE_MEDIA = 8 };

/* One incoming transfer (a file or a data stream). */
struct xfer {
	struct xfer *next;
	char id[96];
	char from[65];
	double conn;                 /* the sender connection's number */
	int data;                    /* a stream to stdout, not a file */
	int fd;
	uint64_t size;               /* announced (files) */
	uint64_t off;                /* bytes written */
	uint64_t acked;              /* last offset acknowledged */
	uint64_t ack_every;          /* a quarter of the sender's window, at most 1 MiB */
	char sha[RV_SHA256_HEX];     /* announced (files) */
	EVP_MD_CTX *md;
	char name[RV_XFER_NAME_MAX + 1];
	char part[4096], meta[4096];
	struct rv_progress bar;
};

struct app;

/* What a command plugs into the session (app_run); NULL: nothing. */
struct app_ops {
	void (*up)(struct app *a);   /* the session is up (after joining --group) */
	/* A frame from the server, while the run is not done. */
	void (*frame)(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len);
	void (*stop)(struct app *a); /* app_finish: before the session closes */
};

struct app {
	struct rv_client_opts co;
	const struct app_ops *ops;
	cJSON *hello_extra;          /* the hello's extra fields (--allow), or NULL */
	uv_loop_t *loop;
	struct rv_tls_ctx *tls;
	struct rv_session *sess;
	uv_timer_t timer;
	const char *group, *allow, *dir, *from;
	int take;                    /* TAKE_* */
	long count, received;
	double timeout;
	/* media */
	const char *sdp, *output, *mformat;
	const char *p2p, *p2p_key, *p2p_name;   /* media --p2p SPEC, --key FILE, --name NAME */
	int push_limit;              /* --push-limit N (0: the default) */
	const char *ipmc;            /* media --ipmc ADDR:PORT[,SRC] (fusion; no --p2p: IP multicast alone) */
	int serverless, server_set;  /* --serverless; --server given */
	const char *bind, *port_file, *lan;     /* media --p2p: --bind, --port-file, --lan */
	const char *peers[RV_P2PLIVE_PEERS];    /* media --p2p: --peer ADDR:PORT */
	int npeers;
	uint64_t max_upload;         /* --max-upload BITS (0: no budget) */
	double duration;
	long frames;
	int tcp;                     /* media over the TCP connection */
	int progress;                /* -1 never, 0 on a terminal, 1 always */
	int exit_code, done;
	struct xfer *xfers;
};

/* take.c: cmd, data, file and media through rvserver; the exit code */
int take_run(struct app *a);
/* sdprec.c: media --sdp (no server) and --p2p; the exit code */
int sdprec_run(struct app *a);
/* files.c */
void xfer_offer(struct app *a, cJSON *h);
void xfer_data(struct app *a, cJSON *h, const uint8_t *body, size_t len);
void xfer_end(struct app *a, cJSON *h);
void xfer_abort(struct app *a, cJSON *h);
/* A "gone" event: a sender we monitor went away mid-transfer. */
void xfer_gone(struct app *a, cJSON *h);
void xfer_free_all(struct app *a);
/* watch.c: media through rvserver */
void watch_start(struct app *a);
void watch_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len);
void watch_stop(struct app *a);

/* app.c */
/* app_run - connect and run the loop with OPS until the end; the exit code. */
int app_run(struct app *a, const struct app_ops *ops);
/* app_finish - end with CODE (the first call counts): OPS->stop, the
 * timer and the session closed, so that the loop ends. */
void app_finish(struct app *a, int code);
/* app_counted - one more command, file or stream taken: the end at --count
 * (data: after one stream). */
void app_counted(struct app *a);
/* A request to the server (HDR consumed); FN gets its answer, unless this
 * returns an error (not connected). */
int app_request(struct app *a, cJSON *hdr, rv_session_reply_fn fn, void *ud);
/* Reply to the sender of X: a msg of KIND with FIELDS (consumed) added. */
void reply_to(struct app *a, const char *to, double conn, const char *kind, cJSON *fields);

#endif
