/* files.c - incoming transfers: files saved safely, data streams to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "rvrecv.h"

#define ACK_EVERY (1u << 20)   /* acknowledge at least every MiB written */

static struct xfer *find(struct app *a, const char *id, const char *from)
{
	for (struct xfer *x = a->xfers; x; x = x->next)
		if (id && from && !strcmp(x->id, id) && !strcmp(x->from, from))
			return x;
	return NULL;
}

static void unlink_xfer(struct app *a, struct xfer *x)
{
	for (struct xfer **pp = &a->xfers; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	if (x->fd >= 0 && !x->data)
		close(x->fd);
	EVP_MD_CTX_free(x->md);
	free(x);
}

static void refuse(struct app *a, const char *from, double conn, const char *id, const char *why)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "xfer", id);
	cJSON_AddStringToObject(f, "reason", why);
	reply_to(a, from, conn, "xfer-refuse", f);
}

/* X failed (WHY): on stderr, and as an error event with --json. */
static void say_failed(const struct xfer *x, const char *why)
{
	rv_say_error("%s from %s: %s", x->data ? "stream" : x->name, x->from, why);
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "error");
		cJSON_AddStringToObject(o, "from", x->from);
		if (!x->data)
			cJSON_AddStringToObject(o, "name", x->name);
		cJSON_AddStringToObject(o, "error", why);
		rv_out_obj(o);
	}
}

/* End X with an error to the sender; a file's partial data goes too when
 * DISCARD (a checksum mismatch, a full disk), else it stays for a resume. */
static void fail(struct app *a, struct xfer *x, const char *why, int discard)
{
	say_failed(x, why);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "xfer", x->id);
	cJSON_AddBoolToObject(f, "ok", 0);
	cJSON_AddStringToObject(f, "error", why);
	reply_to(a, x->from, x->conn, "xfer-done", f);
	if (discard && !x->data) {
		unlink(x->part);
		unlink(x->meta);
	}
	unlink_xfer(a, x);
	a->exit_code = RV_EXIT_FAIL;
}

static void ack(struct app *a, struct xfer *x)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "xfer", x->id);
	cJSON_AddNumberToObject(f, "off", (double)x->off);
	reply_to(a, x->from, x->conn, "xfer-ack", f);
	x->acked = x->off;
}

/* Hash what a partial file already holds, to go on from its end. */
static int rehash(struct xfer *x, uint64_t len)
{
	static uint8_t buf[1 << 16];
	uint64_t done = 0;
	while (done < len) {
		size_t want = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
		ssize_t n = pread(x->fd, buf, want, (off_t)done);
		if (n <= 0)
			return -1;
		EVP_DigestUpdate(x->md, buf, (size_t)n);
		done += (uint64_t)n;
	}
	return 0;
}

/* Is PATH the part file of a transfer this process is receiving now? */
static int part_busy(struct app *a, const char *path)
{
	for (struct xfer *x = a->xfers; x; x = x->next)
		if (!x->data && x->fd >= 0 && !strcmp(x->part, path))
			return 1;
	return 0;
}

/* Open the part file: DIR/NAME.part, going on from an earlier try of the
 * same file (its NAME.part.rv says size and SHA-256). A part that another
 * transfer is writing, or that is not ours at all (no matching .rv), is
 * left alone: "NAME (1).part" and so on are tried instead. */
static int open_part(struct app *a, struct xfer *x)
{
	char meta[160], want[160], alt[RV_XFER_NAME_MAX + 32];
	snprintf(want, sizeof want, "%" PRIu64 " %s\n", x->size, x->sha);
	for (unsigned n = 0; n < 1000; n++) {
		if (n == 0)
			snprintf(alt, sizeof alt, "%s", x->name);
		else
			rv_numbered_name(x->name, n, alt, sizeof alt);
		snprintf(x->part, sizeof x->part, "%s/%s.part", a->dir, alt);
		snprintf(x->meta, sizeof x->meta, "%s/%s.part.rv", a->dir, alt);
		if (part_busy(a, x->part))
			continue;
		FILE *m = fopen(x->meta, "r");
		int same = m && fgets(meta, sizeof meta, m) && strcmp(meta, want) == 0;
		if (m)
			fclose(m);
		if (same) {	/* ours from an earlier try: go on from its end */
			x->fd = open(x->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			if (x->fd < 0)
				return -errno;
			struct stat st;
			if (fstat(x->fd, &st) == 0 && (uint64_t)st.st_size <= x->size &&
			    rehash(x, (uint64_t)st.st_size) == 0) {
				x->off = (uint64_t)st.st_size;
				if (x->off)
					rv_say_info("%s: resuming at byte %" PRIu64, x->name, x->off);
				return 0;
			}
			EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
			if (ftruncate(x->fd, 0) < 0)
				return -errno;
			return 0;
		}
		x->fd = open(x->part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (x->fd < 0) {
			if (errno == EEXIST)
				continue;	/* somebody else's file */
			return -errno;
		}
		m = fopen(x->meta, "w");
		if (!m || fputs(want, m) < 0 || fclose(m) != 0) {
			if (m)
				fclose(m);
			return -EIO;
		}
		return 0;
	}
	return -EEXIST;
}

/* X ended on the sender's side (WHY): nothing to answer. A file's .part
 * stays for a resume; rvrecv data has nothing more to wait for. */
static void lost(struct app *a, struct xfer *x, const char *why)
{
	say_failed(x, why);
	int stream = x->data;
	unlink_xfer(a, x);
	a->exit_code = RV_EXIT_FAIL;
	if (stream && a->take == TAKE_DATA)
		app_finish(a, RV_EXIT_FAIL);
}

void xfer_abort(struct app *a, cJSON *h)
{
	struct xfer *x = find(a, rv_json_str(h, "xfer"), rv_json_str(h, "from"));
	if (!x)
		return;
	const char *why = rv_json_str(h, "reason");
	char text[300];
	snprintf(text, sizeof text, "the sender gave up: %.200s", why ? why : "no reason");
	lost(a, x, text);
}

/* Every transfer from ID's connection NUM (0: any) ends: it is gone. */
static void sender_gone(struct app *a, const char *id, double num, const char *msg)
{
	char why[300];
	snprintf(why, sizeof why, "sender gone (%.200s)", msg ? msg : "disconnected");
	for (struct xfer *x = a->xfers, *next; x && !a->done; x = next) {
		next = x->next;
		if (!strcmp(x->from, id) && (num == 0 || x->conn == num))
			lost(a, x, why);
	}
}

void xfer_gone(struct app *a, cJSON *h)
{
	const char *id = rv_json_str(h, "id");
	if (id)
		sender_gone(a, id, (double)rv_json_u64(h, "conn", 0), rv_json_str(h, "message"));
}

/* A monitor request's closure: whose connection. */
struct mon {
	struct app *a;
	char id[65];
	double conn;
};

static void on_monitor_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct mon *m = ud;
	(void)s;
	if (err == RV_ENOTFOUND && !m->a->done)	/* it went before we asked */
		sender_gone(m->a, m->id, m->conn, rv_json_str(reply, "message"));
	free(m);
}

/* Ask the server to say when the sender's connection goes. */
static void monitor_sender(struct app *a, const char *id, double conn)
{
	struct mon *m = calloc(1, sizeof *m);
	if (!m)
		return;
	m->a = a;
	snprintf(m->id, sizeof m->id, "%s", id);
	m->conn = conn;
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "monitor");
	cJSON_AddStringToObject(h, "id", id);
	if (conn >= 1)
		cJSON_AddNumberToObject(h, "conn", conn);
	if (app_request(a, h, on_monitor_reply, m) < 0)
		free(m);
}

void xfer_offer(struct app *a, cJSON *h)
{
	const char *from = rv_json_str(h, "from"), *id = rv_json_str(h, "xfer"), *what = rv_json_str(h, "what");
	double conn = (double)rv_json_u64(h, "conn", 0);
	if (!from || !id || strlen(id) >= sizeof ((struct xfer *)0)->id || !what)
		return;
	int data = !strcmp(what, "data");
	if ((data && !(a->take & TAKE_DATA)) || (!data && (strcmp(what, "file") || !(a->take & TAKE_FILE)))) {
		refuse(a, from, conn, id, data ? "this receiver takes no data streams" : "this receiver takes no files");
		return;
	}
	if (a->from && strcmp(a->from, from) != 0) {
		refuse(a, from, conn, id, "this receiver takes streams from another sender");
		return;
	}
	if (find(a, id, from))
		return;	/* a repeated offer */
	if (data) {
		for (struct xfer *x = a->xfers; x; x = x->next)
			if (x->data) {
				refuse(a, from, conn, id, "busy with another stream");
				return;
			}
	}
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return;
	snprintf(x->id, sizeof x->id, "%s", id);
	snprintf(x->from, sizeof x->from, "%s", from);
	x->conn = conn;
	x->data = data;
	uint64_t window = rv_json_u64(h, "window", 0);
	x->ack_every = window >= 4 && window / 4 < ACK_EVERY ? window / 4 : ACK_EVERY;
	x->fd = data ? STDOUT_FILENO : -1;
	x->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
	x->next = a->xfers;
	a->xfers = x;
	if (!data) {
		const char *name = rv_json_str(h, "name"), *sha = rv_json_str(h, "sha256");
		uint64_t size = rv_json_u64(h, "size", UINT64_MAX);
		if (!name || !sha || strlen(sha) != 64 || size > 9000000000000000u) {
			refuse(a, from, conn, id, "bad offer: name, size and sha256 are needed");
			unlink_xfer(a, x);
			return;
		}
		rv_safe_name(name, x->name, sizeof x->name);
		x->size = size;
		snprintf(x->sha, sizeof x->sha, "%s", sha);
		for (char *p = x->sha; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		int rc = open_part(a, x);
		if (rc < 0) {
			char why[160];
			snprintf(why, sizeof why, "cannot write %.100s: %s", x->name, strerror(-rc));
			refuse(a, from, conn, id, why);
			rv_say_error("%s", why);
			unlink_xfer(a, x);
			return;
		}
		rv_progress_init(&x->bar, x->name, x->size, a->progress);
	} else {
		rv_progress_init(&x->bar, "stream", 0, a->progress);
	}
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "xfer", id);
	cJSON_AddNumberToObject(f, "offset", (double)x->off);
	reply_to(a, from, conn, "xfer-accept", f);
	x->acked = x->off;
	monitor_sender(a, from, conn);
}

static int write_all(int fd, const uint8_t *p, size_t n, off_t off, int seekable)
{
	while (n > 0) {
		ssize_t w = seekable ? pwrite(fd, p, n, off) : write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

void xfer_data(struct app *a, cJSON *h, const uint8_t *body, size_t len)
{
	struct xfer *x = find(a, rv_json_str(h, "xfer"), rv_json_str(h, "from"));
	uint64_t o = rv_json_u64(h, "off", UINT64_MAX);
	if (!x || o == UINT64_MAX)
		return;	/* not ours: another receiver's transfer in the group */
	if (o + len <= x->off)
		return;	/* already have it (resumed) */
	if (o > x->off) {
		fail(a, x, "data is missing (a gap in the stream)", 0);
		return;
	}
	size_t skip = (size_t)(x->off - o);
	body += skip;
	len -= skip;
	if (!x->data && x->off + len > x->size) {
		fail(a, x, "more data than announced", 1);
		return;
	}
	int rc = write_all(x->fd, body, len, (off_t)x->off, !x->data);
	if (rc == -EPIPE && x->data) {	/* our reader went away */
		fail(a, x, "output closed", 0);
		app_finish(a, RV_EXIT_FAIL);
		return;
	}
	if (rc < 0) {
		fail(a, x, rc == -ENOSPC ? "disk full" : strerror(-rc), 1);
		return;
	}
	if (!x->data)	/* files are checked with SHA-256; streams by length */
		EVP_DigestUpdate(x->md, body, len);
	x->off += len;
	rv_progress_update(&x->bar, x->off, 0);
	if (x->off - x->acked >= x->ack_every)
		ack(a, x);
}

/* Give the file its final name: NAME, or NAME (1).EXT ... if that is taken.
 * link(2) never replaces an existing file. */
static int finish_file(struct app *a, struct xfer *x, char *final, size_t len)
{
	char alt[RV_XFER_NAME_MAX + 32];
	for (unsigned n = 0; n < 10000; n++) {
		if (n == 0)
			snprintf(alt, sizeof alt, "%s", x->name);
		else
			rv_numbered_name(x->name, n, alt, sizeof alt);
		snprintf(final, len, "%s/%s", a->dir, alt);
		if (link(x->part, final) == 0) {
			unlink(x->part);
			unlink(x->meta);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

void xfer_end(struct app *a, cJSON *h)
{
	struct xfer *x = find(a, rv_json_str(h, "xfer"), rv_json_str(h, "from"));
	if (!x)
		return;
	uint8_t md[32];
	char hex[RV_SHA256_HEX] = "";
	unsigned mdlen = 0;
	uint64_t size = rv_json_u64(h, "size", UINT64_MAX);
	if (size != x->off || (!x->data && x->off != x->size)) {
		fail(a, x, "size mismatch", 1);
		return;
	}
	if (!x->data) {
		EVP_DigestFinal_ex(x->md, md, &mdlen);
		rv_hex(md, 32, hex);
		if (strcasecmp(x->sha, hex) != 0) {
			fail(a, x, "SHA-256 mismatch", 1);
			return;
		}
	}
	char final[4096 + 64] = "";
	if (!x->data) {
		if (fsync(x->fd) < 0 && errno != EINVAL) {
			fail(a, x, strerror(errno), 1);
			return;
		}
		int rc = finish_file(a, x, final, sizeof final);
		if (rc < 0) {
			fail(a, x, strerror(-rc), 0);
			return;
		}
	}
	rv_progress_update(&x->bar, x->off, 1);
	ack(a, x);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "xfer", x->id);
	cJSON_AddBoolToObject(f, "ok", 1);
	cJSON_AddNumberToObject(f, "size", (double)x->off);
	if (!x->data) {
		cJSON_AddStringToObject(f, "sha256", hex);
		cJSON_AddStringToObject(f, "path", final);
	}
	reply_to(a, x->from, x->conn, "xfer-done", f);
	if (!x->data) {
		if (rv_out_json_mode()) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "event", "file");
			cJSON_AddStringToObject(o, "from", x->from);
			cJSON_AddStringToObject(o, "name", x->name);
			cJSON_AddStringToObject(o, "path", final);
			cJSON_AddNumberToObject(o, "size", (double)x->off);
			cJSON_AddStringToObject(o, "sha256", hex);
			rv_out_obj(o);
		} else {
			rv_out_line("saved %s (%" PRIu64 " bytes, sha256 %s) from %s", final, x->off, hex, x->from);
		}
	} else {
		rv_say_info("stream from %s: %" PRIu64 " bytes", x->from, x->off);
	}
	unlink_xfer(a, x);
	app_counted(a);
}


void xfer_free_all(struct app *a)
{
	while (a->xfers)
		unlink_xfer(a, a->xfers);
}
