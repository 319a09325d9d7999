/* rvrecv.h - shared state of the rvrecv tool. */
#ifndef RVRECV_H
#define RVRECV_H

#include <stdint.h>

#include <openssl/evp.h>
#include <uv.h>

#include "cli.h"
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

struct app {
	struct rv_client_opts co;
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
	double duration;
	long frames;
	int tcp;                     /* media over the TCP connection */
	int progress;                /* -1 never, 0 on a terminal, 1 always */
	int exit_code, done;
	struct xfer *xfers;
};

/* files.c */
void xfer_offer(struct app *a, cJSON *h);
void xfer_data(struct app *a, cJSON *h, const uint8_t *body, size_t len);
void xfer_end(struct app *a, cJSON *h);
void xfer_abort(struct app *a, cJSON *h);
/* A "gone" event: a sender we monitor went away mid-transfer. */
void xfer_gone(struct app *a, cJSON *h);
void xfer_free_all(struct app *a);
/* media.c: --sdp (no server) */
int cmd_media(struct app *a);
/* watch.c: media through rvserver */
void watch_start(struct app *a);
void watch_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len);
void watch_stop(struct app *a);
/* main.c */
void app_finish(struct app *a, int code);
void app_counted(struct app *a);
/* A request to the server (HDR consumed); FN gets its answer, unless this
 * returns an error (not connected). */
int app_request(struct app *a, cJSON *hdr, rv_session_reply_fn fn, void *ud);
/* Reply to the sender of X: a msg of KIND with FIELDS (consumed) added. */
void reply_to(struct app *a, const char *to, double conn, const char *kind, cJSON *fields);

#endif
