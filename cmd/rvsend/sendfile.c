/* sendfile.c - rvsend data and file: sending files and byte streams with end-to-end flow control.
 *
 * A transfer is offered to the target; every receiver answers accept (with
 * the offset it already has) or refuse. Data then goes to the target in
 * chunks, never more than --window bytes past the slowest receiver that
 * keeps up, so rvsend holds no more than a window whatever the size.
 *
 * A slow receiver costs only itself:
 * - One whose acknowledgement has not moved for LAG_MS while another's did
 *   no longer paces the others: the transfer goes on at the pace of those
 *   that keep up, and rvserver queues what the laggard has not read (up to
 *   its --max-queue). It paces again once it catches up.
 * - Each receiver is monitored (rv-protocol(7) MONITOR): when its connection
 *   goes, killed, or dropped by rvserver as a slow consumer, it leaves the
 *   transfer at once and is reported.
 * - One without progress for --stall-timeout is dropped and told
 *   (xfer-abort); the others finish. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "rvcode.h"
#include "rvsend.h"

static uint64_t now(struct app *a)
{
	return uv_now(a->loop);
}

static struct rx *find_rx(struct app *a, const char *id)
{
	for (size_t i = 0; id && i < a->nrx; i++)
		if (!strcmp(a->rx[i].id, id))
			return &a->rx[i];
	return NULL;
}

static size_t count(struct app *a, enum rx_state st)
{
	size_t n = 0;
	for (size_t i = 0; i < a->nrx; i++)
		n += a->rx[i].state == st;
	return n;
}

/* Is R behind: owing an acknowledgement? Receivers acknowledge at least
 * every quarter window (rv-protocol(7)), so less than that unacknowledged
 * is not a receiver that stopped, just one waiting for more. */
static int behind(const struct app *a, const struct rx *r)
{
	return a->pos - r->acked >= a->window / 4;
}

/* A receiver behind and without progress for this long stops pacing the
 * transfer while another keeps up. */
#define LAG_MS 1000

static int lagging(struct app *a, const struct rx *r)
{
	return behind(a, r) && now(a) - r->since >= LAG_MS;
}

/* The acknowledged offset the window counts from: the slowest active
 * receiver's that keeps up, or the slowest's when none does. */
static uint64_t min_acked(struct app *a)
{
	uint64_t m = UINT64_MAX, all = UINT64_MAX;
	for (size_t i = 0; i < a->nrx; i++) {
		const struct rx *r = &a->rx[i];
		if (r->state != RX_ACTIVE)
			continue;
		if (r->acked < all)
			all = r->acked;
		if (r->acked < m && !lagging(a, r))
			m = r->acked;
	}
	if (m == UINT64_MAX)
		m = all;
	return m == UINT64_MAX ? a->pos : m;
}

static void report(struct app *a, struct rx *r, const char *error)
{
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", error ? "failed" : "sent");
		cJSON_AddStringToObject(o, "name", a->name);
		cJSON_AddStringToObject(o, "to", r->id);
		cJSON_AddNumberToObject(o, "size", (double)a->size);
		if (!error && a->sha[0])
			cJSON_AddStringToObject(o, "sha256", a->sha);
		else
			cJSON_AddStringToObject(o, "error", error);
		rv_out_obj(o);
	}
	if (error)
		rv_say_error("%s: %s: %s", a->name, r->id, error);
	else if (a->sha[0])
		rv_say_info("%s: %s has it (%" PRIu64 " bytes, sha256 %s)", a->name, r->id, a->size, a->sha);
	else
		rv_say_info("%s: %s has it (%" PRIu64 " bytes)", a->name, r->id, a->size);
}

/* The answer to an xfer-abort: the receiver may be gone by now, which is
 * no error of ours. */
static void on_abort_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	(void)s; (void)err; (void)reply; (void)ud;
}

static void drop_rx(struct app *a, struct rx *r, const char *why, int tell)
{
	if (r->state == RX_OK || r->state == RX_FAILED)
		return;
	r->state = RX_FAILED;
	report(a, r, why);
	if (a->exit_code == 0)
		a->exit_code = RV_EXIT_FAIL;
	if (tell) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "msg");
		cJSON_AddStringToObject(h, "to", r->id);
		cJSON_AddStringToObject(h, "kind", "xfer-abort");
		cJSON_AddStringToObject(h, "xfer", a->xid);
		cJSON_AddStringToObject(h, "reason", why);
		rv_session_request(a->sess, h, NULL, 0, on_abort_reply, NULL);
	}
}

static void next(struct app *a);
static void xfer_frame(struct app *a, const char *kind, cJSON *h);

static void finish_transfer(struct app *a)
{
	fmap_close(&a->map);
	if (a->fd > 0)
		close(a->fd);
	a->fd = -1;
	free(a->rx);
	a->rx = NULL;
	a->nrx = 0;
	a->phase = PH_IDLE;
	a->file_index++;
	next(a);
}

static void check_done(struct app *a)
{
	if (a->phase == PH_END && count(a, RX_ACTIVE) == 0)
		finish_transfer(a);
}

static void send_end(struct app *a)
{
	if (a->data)
		a->size = a->pos;	/* a stream's end carries its length only */
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "kind", "xfer-end");
	cJSON_AddStringToObject(h, "xfer", a->xid);
	cJSON_AddNumberToObject(h, "size", (double)a->size);
	if (!a->data)
		cJSON_AddStringToObject(h, "sha256", a->sha);
	send_to_target(a, h, NULL, 0);
	a->phase = PH_END;
	rv_progress_update(&a->bar, a->pos, 1);
	check_done(a);
}

static int send_chunk(struct app *a, const void *p, size_t n)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "kind", "xfer-data");
	cJSON_AddStringToObject(h, "xfer", a->xid);
	cJSON_AddNumberToObject(h, "off", (double)a->pos);
	int rc = send_to_target(a, h, p, n);
	if (rc < 0)
		return rc;
	a->pos += n;
	rv_progress_update(&a->bar, a->pos, 0);
	return 0;
}

/* A send failed: was it the file, cut shorter under the mapping (the
 * write's EFAULT)? Then that is said, and the exit code is 1, not 5. */
static int file_shrank(struct app *a, uint64_t end)
{
	struct stat st;
	if (fstat(a->fd, &st) < 0 || (uint64_t)st.st_size >= end)
		return 0;
	rv_say_error("%s: read: file shrank", a->name);
	return 1;
}

/* The next chunk of a regular file sent as a stream, at FBASE + POS: from
 * a mapping as far as fstat vouches for its size, else read (a file that
 * grows, or one whose size says nothing: /proc says 0, /sys a page, hence
 * a mapping only for 64 KiB or more). 0, 1 at its end, 2 failed (said),
 * -1 the connection is gone. */
static int stream_file_chunk(struct app *a)
{
	uint64_t at = a->fbase + a->pos;
	if (at + a->chunk > a->fsize) {
		struct stat st;
		if (fstat(a->fd, &st) == 0)
			a->fsize = (uint64_t)st.st_size;
	}
	size_t n = a->fsize > at && a->fsize - at < a->chunk ? (size_t)(a->fsize - at) : a->chunk;
	const uint8_t *p = a->fsize > at && n >= (64u << 10) ? fmap_at(&a->map, a->fd, at, n, a->fsize, a->name) : NULL;
	if (p) {
		if (send_chunk(a, p, n) == 0)
			return 0;
		return file_shrank(a, at + n) ? 2 : -1;
	}
	ssize_t got = pread(a->fd, a->buf, a->chunk, (off_t)at);
	if (got < 0) {
		rv_say_error("%s: read: %s", a->name, strerror(errno));
		return 2;
	}
	if (got == 0)
		return 1;
	return send_chunk(a, a->buf, (size_t)got) < 0 ? -1 : 0;
}

/* Our own output queue stays short: the kernel and the window do the rest. */
#define SEND_QUEUE (2u << 20)

/* Send while the window allows. */
static void pump(struct app *a)
{
	if (a->phase != PH_SEND)
		return;
	if (count(a, RX_ACTIVE) == 0) {
		send_end(a);
		return;
	}
	uint64_t limit = min_acked(a) + a->window;
	if (a->data && a->fd >= 0) {	/* a regular file as a stream: read on demand */
		while (!a->in_eof && a->pos < limit && a->phase == PH_SEND &&
		       rv_session_queued(a->sess) < SEND_QUEUE) {
			int rc = stream_file_chunk(a);
			if (rc == 1)
				a->in_eof = 1;
			else if (rc) {
				app_finish(a, rc > 0 ? RV_EXIT_FAIL : RV_EXIT_LOST);
				return;
			}
		}
		if (a->in_eof)
			send_end(a);
		return;
	}
	if (a->data) {	/* a pipe or a terminal: read while the window is open */
		if (a->in_eof)
			send_end(a);
		else
			rv_input_pause(&a->in, a->pos >= limit || rv_session_queued(a->sess) >= SEND_QUEUE);
		return;
	}
	while (a->pos < a->size && a->pos < limit && a->phase == PH_SEND &&
	       rv_session_queued(a->sess) < SEND_QUEUE) {
		size_t want = a->chunk;
		if (a->size - a->pos < want)
			want = (size_t)(a->size - a->pos);
		const uint8_t *p = fmap_at(&a->map, a->fd, a->pos, want, a->size, a->name);
		ssize_t n = p ? (ssize_t)want : pread(a->fd, a->buf, want, (off_t)a->pos);
		if (n <= 0) {
			rv_say_error("%s: read: %s", a->name, n < 0 ? strerror(errno) : "file shrank");
			app_finish(a, RV_EXIT_FAIL);
			return;
		}
		if (send_chunk(a, p ? p : a->buf, (size_t)n) < 0) {
			if (p && file_shrank(a, a->pos + want)) {
				app_finish(a, RV_EXIT_FAIL);
				return;
			}
			rv_say_error("%s: the connection is gone", a->name);
			app_finish(a, RV_EXIT_LOST);
			return;
		}
	}
	if (a->pos == a->size)
		send_end(a);
}

static void on_stdin_data(struct rv_input *in, const char *data, size_t len)
{
	struct app *a = in->ud;
	if (a->phase != PH_SEND || send_chunk(a, data, len) < 0) {
		app_finish(a, RV_EXIT_LOST);
		return;
	}
	if (a->pos >= min_acked(a) + a->window || rv_session_queued(a->sess) >= SEND_QUEUE)
		rv_input_pause(&a->in, 1);
}

static void on_stdin_eof(struct rv_input *in, int err)
{
	struct app *a = in->ud;
	if (err < 0) {
		rv_say_error("reading stdin: %s", uv_strerror(err));
		app_finish(a, RV_EXIT_FAIL);
		return;
	}
	a->in_eof = 1;
	if (a->phase == PH_SEND)
		send_end(a);
}

static void start_sending(struct app *a)
{
	if (count(a, RX_ACTIVE) == 0) {
		rv_say_error("%s: no receiver took it", a->name);
		if (a->exit_code == 0 || a->exit_code == RV_EXIT_FAIL)
			a->exit_code = a->exit_code ? a->exit_code : RV_EXIT_TIMEOUT;
		finish_transfer(a);
		return;
	}
	a->phase = PH_SEND;
	a->pos = min_acked(a);
	if (a->pos)
		rv_say_info("%s: resuming at byte %" PRIu64, a->name, a->pos);
	for (size_t i = 0; i < a->nrx; i++)
		a->rx[i].since = now(a);
	rv_progress_init(&a->bar, a->name, a->data ? 0 : a->size, a->progress);
	if (a->data && !a->in_open && a->fd < 0) {
		const char *path = a->nargs ? a->args[0] : "-";
		int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			a->fd = fd;	/* read on demand in pump() */
			off_t at = lseek(fd, 0, SEEK_CUR);	/* stdin may be part-read */
			a->fbase = at > 0 ? (uint64_t)at : 0;
			a->fsize = (uint64_t)st.st_size;
		} else if (fd < 0 || rv_input_start(&a->in, a->loop, fd, NULL, on_stdin_data, on_stdin_eof, a) < 0) {
			rv_say_error("%s: %s", path, strerror(errno));
			app_finish(a, RV_EXIT_FAIL);
			return;
		} else {
			a->in_open = 1;
		}
	}
	pump(a);
}

static void after_drop(struct app *a)
{
	if (a->phase == PH_ACCEPT && count(a, RX_WAIT) == 0)
		start_sending(a);
	else {
		pump(a);
		check_done(a);
	}
}

/* A monitor request's closure: which receiver of which transfer. */
struct mon {
	struct app *a;
	char xid[128];
	char id[65];
};

/* The answer to a monitor request: no-such-client means it left already. */
static void on_monitor_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct mon *m = ud;
	struct app *a = m->a;
	(void)s;
	struct rx *r = find_rx(a, m->id);
	if (err == RV_ENOTFOUND && !a->done && r && !strcmp(m->xid, a->xid) &&
	    (r->state == RX_WAIT || r->state == RX_ACTIVE)) {
		const char *msg = rv_json_str(reply, "message");
		char why[200];
		snprintf(why, sizeof why, "receiver gone (%s)", msg ? msg : "not connected");
		drop_rx(a, r, why, 0);
		after_drop(a);
	}
	free(m);
}

/* Ask the server to say when receiver ID's connection goes. */
static void monitor(struct app *a, const char *id)
{
	struct mon *m = calloc(1, sizeof *m);
	if (!m)
		return;	/* then only the stall timeout notices */
	m->a = a;
	snprintf(m->xid, sizeof m->xid, "%s", a->xid);
	snprintf(m->id, sizeof m->id, "%s", id);
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "monitor");
	cJSON_AddStringToObject(h, "id", id);
	if (rv_session_request(a->sess, h, NULL, 0, on_monitor_reply, m) < 0)
		free(m);
}

static void xfer_gone(struct app *a, cJSON *h)
{
	struct rx *r = find_rx(a, rv_json_str(h, "id"));
	if (!r || (r->state != RX_WAIT && r->state != RX_ACTIVE))
		return;
	const char *code = rv_json_str(h, "code"), *msg = rv_json_str(h, "message");
	char why[200];
	if (rv_code_parse(code) == RV_CODE_SLOW_CONSUMER)
		snprintf(why, sizeof why, "dropped by the server as a slow consumer (reading too slowly)");
	else
		snprintf(why, sizeof why, "receiver gone (%s)", msg ? msg : code ? code : "disconnected");
	drop_rx(a, r, why, 0);
	after_drop(a);
}

static void on_offer_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (a->done)
		return;
	if (err) {
		const char *msg = rv_json_str(reply, "message");
		rv_say_error("%s: %s", a->name, msg ? msg : rv_strerror(err));
		app_finish(a, rv_cli_exit_for(err));
		return;
	}
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(reply, "receivers"), *id;
	size_t n = (size_t)cJSON_GetArraySize(ids);
	a->rx = calloc(n ? n : 1, sizeof *a->rx);
	a->nrx = 0;
	cJSON_ArrayForEach(id, ids)
		if (cJSON_IsString(id))
			snprintf(a->rx[a->nrx++].id, sizeof a->rx->id, "%s", id->valuestring);
	if (a->nrx == 0) {
		rv_say_error("%s: nobody to send it to (no receiver is connected)", a->name);
		app_finish(a, RV_EXIT_DENIED);
		return;
	}
	a->phase = PH_ACCEPT;
	a->phase_ms = now(a);
	for (size_t i = 0; i < a->nrx; i++)
		monitor(a, a->rx[i].id);
	cJSON *early = a->early, *it;
	a->early = NULL;
	cJSON_ArrayForEach(it, early)
		if (!a->done && a->phase == PH_ACCEPT)
			xfer_frame(a, rv_json_str(it, "kind"), it);
	cJSON_Delete(early);
}

/* Offer the next file (or the stream); exit when all are done. */
static void next(struct app *a)
{
	if (a->done)
		return;
	int nfiles = a->data ? 1 : a->nargs;
	if (a->file_index >= nfiles) {
		app_finish(a, a->exit_code);
		return;
	}
	cJSON *h = cJSON_CreateObject();
	snprintf(a->xid, sizeof a->xid, "%s.%" PRIu64 ".%d", a->co.id, (uint64_t)uv_hrtime(), a->file_index);
	a->pos = 0;
	if (a->data) {
		snprintf(a->name, sizeof a->name, "stream");
		a->sha[0] = 0;
		cJSON_AddStringToObject(h, "what", "data");
		cJSON_AddNumberToObject(h, "size", -1);
	} else {
		const char *path = a->args[a->file_index];
		const char *base = strrchr(path, '/');
		snprintf(a->name, sizeof a->name, "%s", base && base[1] ? base + 1 : path);
		a->fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (a->fd < 0 || fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			rv_say_error("%s: %s", path, a->fd < 0 ? strerror(errno) : "not a regular file");
			cJSON_Delete(h);
			app_finish(a, RV_EXIT_FAIL);
			return;
		}
		a->size = (uint64_t)st.st_size;
		/* The checksum first: receivers check against it at the end. */
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		uint64_t done = 0;
		while (done < a->size) {
			ssize_t n = pread(a->fd, a->buf, a->chunk, (off_t)done);
			if (n <= 0)
				break;
			EVP_DigestUpdate(md, a->buf, (size_t)n);
			done += (uint64_t)n;
		}
		uint8_t d[32];
		unsigned dl = 0;
		EVP_DigestFinal_ex(md, d, &dl);
		EVP_MD_CTX_free(md);
		if (done != a->size) {
			rv_say_error("%s: cannot read it all", path);
			cJSON_Delete(h);
			app_finish(a, RV_EXIT_FAIL);
			return;
		}
		rv_hex(d, 32, a->sha);
		cJSON_AddStringToObject(h, "what", "file");
		cJSON_AddStringToObject(h, "name", a->name);
		cJSON_AddNumberToObject(h, "size", (double)a->size);
		cJSON_AddStringToObject(h, "sha256", a->sha);
	}
	target_msg(a, h);
	cJSON_AddStringToObject(h, "kind", "xfer-offer");
	cJSON_AddStringToObject(h, "xfer", a->xid);
	cJSON_AddNumberToObject(h, "window", (double)a->window);	/* receivers ack often enough */
	cJSON_AddBoolToObject(h, "receivers", 1);
	a->phase = PH_OFFER;
	cJSON_Delete(a->early);
	a->early = NULL;
	rv_session_request(a->sess, h, NULL, 0, on_offer_reply, a);
}

/* After each loop turn: written bytes may have made room to send more. */
static void on_check(uv_check_t *h)
{
	pump(h->data);
}

static void xfer_start(struct app *a)
{
	/* What is in flight to a receiver waits in the server's queue for it:
	 * keep the window (with the frames' headers) below half of that
	 * queue's cap, so a receiver that keeps up is never congested, let
	 * alone dropped. */
	size_t q = rv_session_server_queue(a->sess), most = q / 2 - q / 16;
	if (q && a->window > most) {
		rv_say_debug("window %zu bytes: below half the server's --max-queue", most);
		a->window = most;
	}
	size_t f = rv_session_server_frame(a->sess);
	if (!a->chunk)
		a->chunk = !f ? RVSEND_CHUNK_OLD : f < RVSEND_CHUNK_MAX ? f : RVSEND_CHUNK_MAX;
	else if (f && a->chunk > f) {
		rv_say_debug("chunk %zu bytes: the server's --max-frame", f);
		a->chunk = f;
	}
	if (a->chunk > a->window)
		a->chunk = a->window;
	uv_check_init(a->loop, &a->pump);
	a->pump.data = a;
	uv_check_start(&a->pump, on_check);
	uv_unref((uv_handle_t *)&a->pump);
	a->fd = -1;
	a->buf = malloc(a->chunk);
	if (!a->buf) {
		app_finish(a, RV_EXIT_FAIL);
		return;
	}
	next(a);
}

static void xfer_frame(struct app *a, const char *kind, cJSON *h)
{
	const char *xid = rv_json_str(h, "xfer");
	struct rx *r = find_rx(a, rv_json_str(h, "from"));
	if (!r && a->phase == PH_OFFER && xid && strcmp(xid, a->xid) == 0 &&
	    (!strcmp(kind, "xfer-accept") || !strcmp(kind, "xfer-refuse"))) {
		/* before the offer's ok: a receiver near us answered while
		 * receivers on other cluster nodes were still being counted */
		if (!a->early)
			a->early = cJSON_CreateArray();
		if (a->early && cJSON_GetArraySize(a->early) < 4096)
			cJSON_AddItemToArray(a->early, cJSON_Duplicate(h, 1));
		return;
	}
	if (!r || !xid || strcmp(xid, a->xid) != 0)
		return;
	if (!strcmp(kind, "xfer-accept") && r->state == RX_WAIT) {
		uint64_t off = rv_json_u64(h, "offset", 0);
		r->acked = a->data || off <= a->size ? off : 0;
		r->state = RX_ACTIVE;
		r->since = now(a);
		if (a->phase == PH_ACCEPT && count(a, RX_WAIT) == 0)
			start_sending(a);
	} else if (!strcmp(kind, "xfer-refuse") && r->state == RX_WAIT) {
		const char *why = rv_json_str(h, "reason");
		if (a->to) {
			drop_rx(a, r, why ? why : "refused", 0);
			a->exit_code = RV_EXIT_DENIED;
		} else {	/* a group member that takes no files: not a failure */
			r->state = RX_FAILED;
			rv_say_info("%s: %s refused: %s", a->name, r->id, why ? why : "no reason");
		}
		if (a->phase == PH_ACCEPT && count(a, RX_WAIT) == 0)
			start_sending(a);
	} else if (!strcmp(kind, "xfer-ack") && r->state == RX_ACTIVE) {
		uint64_t off = rv_json_u64(h, "off", 0);
		if (off > r->acked) {
			r->acked = off;
			r->since = now(a);
		}
		pump(a);
	} else if (!strcmp(kind, "xfer-done") && r->state == RX_ACTIVE) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "ok"))) {
			r->state = RX_OK;
			report(a, r, NULL);
		} else {
			const char *err = rv_json_str(h, "error");
			drop_rx(a, r, err ? err : "failed", 0);
		}
		pump(a);
		check_done(a);
	}
}

/* Twice a second: receivers that do not answer or make no progress. */
static void xfer_tick(struct app *a)
{
	uint64_t t = now(a);
	if (a->phase == PH_ACCEPT && t - a->phase_ms >= (uint64_t)(a->accept_timeout * 1000)) {
		for (size_t i = 0; i < a->nrx; i++) {
			struct rx *r = &a->rx[i];
			if (r->state != RX_WAIT)
				continue;
			if (a->to) {
				drop_rx(a, r, "did not answer the offer (is rvrecv file running?)", 0);
				a->exit_code = RV_EXIT_TIMEOUT;
			} else {
				r->state = RX_FAILED;
				rv_say_info("%s: %s did not answer the offer", a->name, r->id);
			}
		}
		start_sending(a);
		return;
	}
	if (a->phase != PH_SEND && a->phase != PH_END)
		return;
	uint64_t stall = (uint64_t)(a->stall_timeout * 1000);
	for (size_t i = 0; i < a->nrx; i++) {
		struct rx *r = &a->rx[i];
		/* behind (or owing its verdict) and silent for too long */
		if (r->state == RX_ACTIVE && (behind(a, r) || a->phase == PH_END) &&
		    t - r->since >= stall)
			drop_rx(a, r, "stalled: no progress within --stall-timeout", 1);
	}
	pump(a);
	check_done(a);
}

/* The abort reached the server (or the session is gone): we are done. */
static void on_interrupt_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s; (void)err; (void)reply;
	if (a->interrupted)
		a->interrupted(a);
}

static void xfer_interrupt(struct app *a, void (*fn)(struct app *))
{
	int under_way = a->phase == PH_ACCEPT || a->phase == PH_SEND || a->phase == PH_END;
	if (!under_way || count(a, RX_WAIT) + count(a, RX_ACTIVE) == 0) {
		fn(a);
		return;
	}
	char why[64];
	snprintf(why, sizeof why, "the sender was interrupted (%s)", a->signo == SIGINT ? "SIGINT" : "SIGTERM");
	rv_say_error("%s: aborted: %s", a->name, why);
	for (size_t i = 0; i < a->nrx; i++)
		if (a->rx[i].state == RX_WAIT || a->rx[i].state == RX_ACTIVE) {
			a->rx[i].state = RX_FAILED;
			if (rv_out_json_mode())
				report(a, &a->rx[i], why);
		}
	a->phase = PH_IDLE;
	if (a->in_open)
		rv_input_stop(&a->in);
	a->in_open = 0;
	/* One abort to the whole target, as the data went; its reply tells
	 * us the server has it, ahead of our bye. */
	a->interrupted = fn;
	cJSON *h = target_msg(a, cJSON_CreateObject());
	cJSON_AddStringToObject(h, "kind", "xfer-abort");
	cJSON_AddStringToObject(h, "xfer", a->xid);
	cJSON_AddStringToObject(h, "reason", why);
	if (rv_session_request(a->sess, h, NULL, 0, on_interrupt_reply, a) < 0)
		fn(a);
}

/* The session's frames: a receiver gone, and its answers to the transfer. */
static void on_frame(struct app *a, const char *type, cJSON *h)
{
	if (!strcmp(type, "gone")) {	/* a receiver we monitor went away */
		xfer_gone(a, h);
		return;
	}
	const char *kind = rv_json_str(h, "kind");
	if (!strcmp(type, "msg") && kind && !strncmp(kind, "xfer-", 5))
		xfer_frame(a, kind, h);
}

int sendfile_run(struct app *a)
{
	static const struct app_ops ops = {
		.up = xfer_start, .frame = on_frame, .tick = xfer_tick, .interrupt = xfer_interrupt,
	};
	int code = app_run(a, &ops);
	fmap_close(&a->map);
	cJSON_Delete(a->early);
	free(a->buf);
	free(a->rx);
	return code;
}
