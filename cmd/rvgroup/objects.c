/* objects.c - rvgroup p2p share and fetch: one replicated object
 * (lib/p2pobj.h) in a peer run (p2prun.c), under p2p.c. share hashes the
 * file, prints the object ID and serves it until stopped; fetch asks the
 * neighbours for the manifest and the chunks, writes each checked chunk to
 * FILE.part where it belongs, keeps the manifest in FILE.rvobj (so a run
 * killed halfway resumes: the chunks already in FILE.part are checked again
 * and not fetched twice), serves what it holds meanwhile, and renames
 * FILE.part to FILE when it is whole. It calls only p2prun.c's p2p_end,
 * lib. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "p2pobj.h"
#include "progress.h"
#include "rvgroup.h"

#define TICK_MS 20                  /* the engine's timers are looked at this often */

struct objrun {
	struct p2p *g;
	struct rv_p2p_obj *o;
	int fetch, fd, finished;
	char *part, *state;             /* fetch: FILE.part, FILE.rvobj */
	uv_timer_t tick;
	int tick_open;
	struct rv_progress bar;
	int bar_on;
	uint64_t fetched, resumed, last_progress, started;
	char label[64];
	uint8_t msg[RV_P2P_MSG_MAX], chunk[RV_P2P_CHUNK_MAX];
};

static uint64_t now_ms(struct objrun *r)
{
	uv_update_time(r->g->a->loop);
	return uv_now(r->g->a->loop);
}

/* ---- files ---- */

/* Chunk I's bytes from the file into r->chunk: its length, or 0. */
static size_t read_chunk(struct objrun *r, const struct rv_p2p_man *m, uint32_t i)
{
	size_t len = rv_p2p_man_chunk_len(m, i);
	ssize_t n = pread(r->fd, r->chunk, len, (off_t)i * m->chunk_size);
	return n == (ssize_t)len ? len : 0;
}

/* The whole of P (N bytes) into PATH, by a temporary file renamed. */
static int write_file(const char *path, const uint8_t *p, size_t n)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, p, n);
	int rc = w == (ssize_t)n && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > RV_P2P_MAN_MAX) {
		close(fd);
		return -EINVAL;
	}
	uint8_t *p = malloc((size_t)st.st_size);
	ssize_t n = p ? read(fd, p, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(p);
		return -EIO;
	}
	*out = p;
	*len = (size_t)n;
	return 0;
}

/* ---- share ---- */

static int share_prepare(struct objrun *r, const char *path)
{
	struct stat st;
	if ((r->fd = open(path, O_RDONLY)) < 0 || fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rv_say_error("%s: %s", path, r->fd < 0 ? strerror(errno) : "not a regular file");
		return RV_EXIT_FAIL;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint32_t cs = rv_p2p_man_chunk_size(size);
	if (!cs) {
		rv_say_error("%s: too large to share (at most %u chunks of %u bytes)", path, RV_P2P_MAN_CHUNKS,
			     RV_P2P_CHUNK_MAX);
		return RV_EXIT_FAIL;
	}
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char name[256];
	snprintf(name, sizeof name, "%s", base);
	for (char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '_';
	struct rv_p2p_man probe = { .size = size, .chunk_size = cs };
	uint32_t n = (uint32_t)(size / cs + (size % cs != 0));
	probe.nchunks = n;
	uint8_t *hashes = malloc(n ? (size_t)n * 32 : 1);
	size_t cap = rv_p2p_man_len(size, cs, strlen(name));
	uint8_t *man = malloc(cap);
	int code = RV_EXIT_FAIL;
	if (!hashes || !man)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = read_chunk(r, &probe, i);
		if (!len) {
			rv_say_error("%s: cannot read it whole", path);
			goto out;
		}
		rv_p2p_sha256(r->chunk, len, hashes + (size_t)i * 32);
	}
	long mlen = rv_p2p_man_build(&r->g->key, size, cs, rv_p2plink_wall_ms(), name, hashes, man, cap);
	uint8_t id[32];
	const char *why = "?";
	if (mlen < 0)
		goto out;
	rv_p2p_sha256(man, (size_t)mlen, id);
	if (rv_p2p_obj_new(&r->o, id, NULL) < 0 || rv_p2p_obj_set_manifest(r->o, man, (size_t)mlen, &why) < 0) {
		rv_say_error("cannot make the manifest: %s", why);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		rv_p2p_obj_hold(r->o, i);
	char hex[65];
	p2p_hex(id, 32, hex);
	if (rv_out_json_mode()) {
		cJSON *o = p2p_json_event("NetGroup.Replication.Share");
		cJSON_AddStringToObject(o, "object", hex);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "size", (double)size);
		cJSON_AddNumberToObject(o, "chunks", n);
		cJSON_AddNumberToObject(o, "chunkSize", cs);
		rv_out_obj(o);
	} else {
		rv_out_line("%s", hex);
	}
	code = 0;
out:
	free(hashes);
	free(man);
	return code;
}

/* ---- fetch ---- */

/* What a run before left: the manifest in FILE.rvobj, the chunks in FILE.part. */
static int fetch_resume(struct objrun *r)
{
	uint8_t *man = NULL;
	size_t len = 0;
	const char *why;
	if (read_file(r->state, &man, &len) < 0)
		return 0;
	int rc = rv_p2p_obj_set_manifest(r->o, man, len, &why);
	free(man);
	if (rc < 0) {
		rv_say_error("%s: not this object's manifest (%s): starting again", r->state, why);
		return 0;
	}
	const struct rv_p2p_man *m = rv_p2p_obj_manifest(r->o);
	for (uint32_t i = 0; i < m->nchunks; i++) {
		size_t n = read_chunk(r, m, i);
		if (n && rv_p2p_man_check(m, i, r->chunk, n) == 0) {
			rv_p2p_obj_hold(r->o, i);
			r->resumed += n;
		}
	}
	rv_say_info("resuming: %llu of %llu bytes already here", (unsigned long long)r->resumed,
		    (unsigned long long)m->size);
	return 1;
}

static int fetch_prepare(struct objrun *r)
{
	struct p2p_opts *o = r->g->o;
	uint8_t id[32];
	size_t n = strlen(o->output) + 8;
	r->part = malloc(n);
	r->state = malloc(n);
	if (!r->part || !r->state)
		return RV_EXIT_FAIL;
	snprintf(r->part, n, "%s.part", o->output);
	snprintf(r->state, n, "%s.rvobj", o->output);
	p2p_unhex32(r->g->a->args[2], id);
	if (rv_p2p_obj_new(&r->o, id, NULL) < 0)
		return RV_EXIT_FAIL;
	if ((r->fd = open(r->part, O_RDWR | O_CREAT, 0644)) < 0) {
		rv_say_error("%s: %s", r->part, strerror(errno));
		return RV_EXIT_FAIL;
	}
	if (!fetch_resume(r) && ftruncate(r->fd, 0) < 0) {
		rv_say_error("%s: %s", r->part, strerror(errno));
		return RV_EXIT_FAIL;
	}
	return 0;
}

/* The object is whole: FILE.part becomes FILE, FILE.rvobj goes. */
static void fetch_done(struct objrun *r)
{
	struct p2p *g = r->g;
	const struct rv_p2p_man *m = rv_p2p_obj_manifest(r->o);
	r->finished = 1;
	if (r->bar_on)
		rv_progress_update(&r->bar, r->fetched + r->resumed, 1);
	if (fsync(r->fd) < 0 || rename(r->part, g->o->output) < 0) {
		rv_say_error("%s: %s", g->o->output, strerror(errno));
		p2p_end(g, RV_EXIT_FAIL);
		return;
	}
	unlink(r->state);
	struct rv_p2p_obj_stats st;
	rv_p2p_obj_stats(r->o, &st);
	double secs = (double)(now_ms(r) - r->started) / 1000.0;
	if (rv_out_json_mode()) {
		cJSON *o = p2p_json_event("NetGroup.Replication.Fetch.Complete");
		p2p_json_hex(o, "object", m ? m->id : (const uint8_t *)"");
		cJSON_AddStringToObject(o, "file", g->o->output);
		cJSON_AddNumberToObject(o, "size", m ? (double)m->size : 0);
		cJSON_AddNumberToObject(o, "fetchedBytes", (double)r->fetched);
		cJSON_AddNumberToObject(o, "resumedBytes", (double)r->resumed);
		cJSON_AddNumberToObject(o, "receivedBytes", (double)st.bytes_down);
		cJSON_AddNumberToObject(o, "badChunks", (double)st.bad_chunks);
		cJSON_AddNumberToObject(o, "timeouts", (double)st.timeouts);
		cJSON_AddNumberToObject(o, "seconds", secs);
		rv_out_obj(o);
	}
	rv_say_info("%s: %llu bytes, %llu fetched, %llu resumed, in %.1f s", g->o->output,
		    (unsigned long long)(m ? m->size : 0), (unsigned long long)r->fetched,
		    (unsigned long long)r->resumed, secs);
	if (!g->o->stay)
		p2p_end(g, RV_EXIT_OK);
}

static void got_manifest(struct objrun *r, const struct rv_p2p_obj_ev *e)
{
	const struct rv_p2p_man *m = rv_p2p_obj_manifest(r->o);
	if (write_file(r->state, e->data, e->len) < 0 || ftruncate(r->fd, (off_t)m->size) < 0) {
		rv_say_error("%s: cannot write it: %s", r->state, strerror(errno));
		p2p_end(r->g, RV_EXIT_FAIL);
		return;
	}
	rv_say_debug("manifest: %.*s, %llu bytes in %u chunks", (int)m->name_len, (const char *)m->name,
		     (unsigned long long)m->size, m->nchunks);
	if (rv_out_json_mode()) {
		cJSON *o = p2p_json_event("NetGroup.Replication.Manifest");
		p2p_json_hex(o, "from", e->peer);
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)m->name_len, (const char *)m->name);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "size", (double)m->size);
		cJSON_AddNumberToObject(o, "chunks", m->nchunks);
		p2p_json_hex(o, "sharer", m->author);
		rv_out_obj(o);
	}
}

/* ---- the engine's events ---- */

static void print_chunk(const char *code, const struct rv_p2p_obj_ev *e, size_t bytes)
{
	if (!rv_out_json_mode())
		return;
	cJSON *o = p2p_json_event(code);
	cJSON_AddNumberToObject(o, "index", e->index);
	p2p_json_hex(o, "peer", e->peer);
	if (bytes)
		cJSON_AddNumberToObject(o, "bytes", (double)bytes);
	if (e->why)
		cJSON_AddStringToObject(o, "reason", e->why);
	rv_out_obj(o);
}

static void serve(struct objrun *r, const struct rv_p2p_obj_ev *e)
{
	const struct rv_p2p_man *m = rv_p2p_obj_manifest(r->o);
	size_t len = read_chunk(r, m, e->index);
	if (len && rv_p2plink_impair(r->g->peer)->corrupt)
		r->chunk[len / 2] ^= 0x5a;	/* RV_TEST_IMPAIR=corrupt=1: a lying peer, for the tests */
	rv_p2p_obj_serve(r->o, e->peer, e->index, len ? r->chunk : NULL, len);
}

static void result(struct objrun *r, const struct rv_p2p_obj_ev *e)
{
	const struct rv_p2p_man *m = rv_p2p_obj_manifest(r->o);
	if (pwrite(r->fd, e->data, e->len, (off_t)e->index * m->chunk_size) != (ssize_t)e->len) {
		rv_say_error("%s: %s", r->part, strerror(errno));
		p2p_end(r->g, RV_EXIT_FAIL);
		return;
	}
	r->fetched += e->len;
	r->last_progress = now_ms(r);
	print_chunk("NetGroup.Replication.Fetch.Result", e, e->len);
	if (!r->bar_on) {
		rv_progress_init(&r->bar, r->label, m->size, r->g->o->progress);
		r->bar_on = 1;
	}
	rv_progress_update(&r->bar, r->fetched + r->resumed, 0);
}

static void on_obj_event(struct objrun *r, const struct rv_p2p_obj_ev *e)
{
	char peer[65];
	switch (e->type) {
	case RV_P2P_OBJ_MANIFEST:
		r->last_progress = now_ms(r);
		got_manifest(r, e);
		return;
	case RV_P2P_OBJ_SEND_NOTIFY:
		print_chunk("NetGroup.Replication.Fetch.SendNotify", e, 0);
		return;
	case RV_P2P_OBJ_RESULT:
		result(r, e);
		return;
	case RV_P2P_OBJ_FAILED:
		print_chunk("NetGroup.Replication.Fetch.Failed", e, 0);
		return;
	case RV_P2P_OBJ_AVOID:
		p2p_hex(e->peer, 32, peer);
		rv_say_error("neighbour %.8s avoided: %s", peer, e->why ? e->why : "?");
		return;
	case RV_P2P_OBJ_REQUEST:
		if (rv_out_json_mode() && r->g->a->co.verbosity > 1)
			print_chunk("NetGroup.Replication.Request", e, 0);
		serve(r, e);
		return;
	case RV_P2P_OBJ_DONE:
		if (r->fetch && !r->finished)
			fetch_done(r);
		return;
	}
}

/* Events, then what the engine has to send, until both are quiet. */
static void pump(struct objrun *r)
{
	struct rv_p2p_obj_ev e;
	uint8_t to[32];
	ssize_t n;
	for (int busy = 1; busy && r->o;) {
		busy = 0;
		while (!r->g->ended && rv_p2p_obj_poll(r->o, &e)) {
			on_obj_event(r, &e);
			busy = 1;
		}
		while ((n = rv_p2p_obj_take(r->o, to, r->msg, sizeof r->msg)) > 0) {
			rv_p2plink_send_peer(r->g->peer, to, r->msg, (size_t)n);
			busy = 1;
		}
	}
}

/* Is PEER still a neighbour (by another session)? */
static int still_neighbor(struct p2p *g, const uint8_t peer[32])
{
	struct rv_p2p_node_nb nb;
	for (size_t k = 0; rv_p2p_node_neighbor(rv_p2plink_node(g->peer), k, &nb); k++)
		if (!memcmp(nb.peer, peer, 32))
			return 1;
	return 0;
}

static void on_object(struct p2p *g, const struct rv_p2p_node_ev *e)
{
	struct objrun *r = g->obj;
	uint64_t now = now_ms(r);
	if (e->type != RV_P2P_NODE_OBJECT) {
		char peer[65];
		p2p_hex(e->peer, 32, peer);
		rv_say_debug("neighbour %.8s %s", peer, e->type == RV_P2P_NODE_NEIGHBOR_UP ? "up" : "down");
	}
	if (e->type == RV_P2P_NODE_NEIGHBOR_UP) {	/* a second session of a peer: it started again */
		rv_p2p_obj_peer_down(r->o, e->peer);
		rv_p2p_obj_peer_up(r->o, now, e->peer);
	} else if (e->type == RV_P2P_NODE_NEIGHBOR_DOWN) {
		if (!still_neighbor(g, e->peer))	/* the old session of a peer that started again */
			rv_p2p_obj_peer_down(r->o, e->peer);
	} else {
		struct rv_p2p_msg m;
		const char *why;
		if (rv_p2p_msg_parse(e->data, e->len, &m, &why) == 0 &&
		    rv_p2p_obj_input(r->o, now, e->peer, &m, &why) < 0) {
			char peer[65];
			p2p_hex(e->peer, 32, peer);
			rv_say_error("neighbour %.8s: %s", peer, why);
		}
	}
	pump(r);
}

static void on_tick(uv_timer_t *t)
{
	struct objrun *r = t->data;
	struct p2p *g = r->g;
	if (g->ended) {	/* the run is ending: the loop must not wait for us */
		uv_timer_stop(t);
		return;
	}
	uint64_t now = now_ms(r);
	rv_p2p_obj_tick(r->o, now);
	pump(r);
	if (!r->fetch || r->finished || g->ended)
		return;
	uint64_t wait = (uint64_t)(g->o->wait * 1000);
	if (now - r->last_progress < wait)
		return;
	const char *why = !g->neighbors_seen ? "no neighbour" :
			  !rv_p2p_obj_manifest(r->o) ? "no neighbour offered the object" : "no progress";
	if (!rv_p2p_obj_manifest(r->o))	/* nothing to resume from: no empty FILE.part left behind */
		unlink(r->part);
	rv_say_error("%s within %g s (run it again to resume)", why, g->o->wait);
	if (rv_out_json_mode()) {
		cJSON *o = p2p_json_event("NetGroup.Replication.Fetch.Failed");
		cJSON_AddStringToObject(o, "reason", why);
		rv_out_obj(o);
	}
	p2p_end(g, RV_EXIT_TIMEOUT);
}

/* What this peer did for the object, as the run ends. */
static void print_stats(struct p2p *g)
{
	struct objrun *r = g->obj;
	struct rv_p2p_obj_stats st;
	rv_p2p_obj_stats(r->o, &st);
	rv_say_info("%s: %llu chunk bytes sent (%llu chunks), %llu received, %llu bad chunks", r->label,
		    (unsigned long long)st.bytes_up, (unsigned long long)st.served, (unsigned long long)st.bytes_down,
		    (unsigned long long)st.bad_chunks);
	if (!rv_out_json_mode())
		return;
	cJSON *o = p2p_json_event("NetGroup.Replication.Info");
	cJSON_AddNumberToObject(o, "size", (double)st.size);
	cJSON_AddNumberToObject(o, "chunks", st.chunks);
	cJSON_AddNumberToObject(o, "held", st.held);
	cJSON_AddNumberToObject(o, "sendBytes", (double)st.bytes_up);
	cJSON_AddNumberToObject(o, "sentChunks", (double)st.served);
	cJSON_AddNumberToObject(o, "manifestSendBytes", (double)st.manifest_up);
	cJSON_AddNumberToObject(o, "receiveBytes", (double)st.bytes_down);
	cJSON_AddNumberToObject(o, "requests", (double)st.requests);
	cJSON_AddNumberToObject(o, "duplicates", (double)st.duplicates);
	cJSON_AddNumberToObject(o, "badChunks", (double)st.bad_chunks);
	cJSON_AddNumberToObject(o, "timeouts", (double)st.timeouts);
	cJSON_AddNumberToObject(o, "avoided", (double)st.avoided);
	rv_out_obj(o);
}

/* ---- the run ---- */

int objects_prepare(struct p2p *g)
{
	struct objrun *r = calloc(1, sizeof *r);
	if (!r)
		return RV_EXIT_FAIL;
	g->obj = r;
	r->g = g;
	r->fd = -1;
	r->fetch = !strcmp(g->a->args[0], "fetch");
	snprintf(r->label, sizeof r->label, "%s", r->fetch ? "fetch" : "share");
	return r->fetch ? fetch_prepare(r) : share_prepare(r, g->a->args[2]);
}

int objects_start(struct p2p *g)
{
	struct objrun *r = g->obj;
	g->on_object = on_object;
	g->on_end = print_stats;
	r->started = r->last_progress = now_ms(r);
	uv_timer_init(g->a->loop, &r->tick);
	r->tick.data = r;
	r->tick_open = 1;
	uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
	struct rv_p2p_node_nb nb;
	for (size_t k = 0; rv_p2p_node_neighbor(rv_p2plink_node(g->peer), k, &nb); k++)
		rv_p2p_obj_peer_up(r->o, r->started, nb.peer);
	if (r->fetch && rv_p2p_obj_manifest(r->o)) {
		struct rv_p2p_obj_stats st;
		rv_p2p_obj_stats(r->o, &st);
		if (st.held == st.chunks) {	/* a run before got it all */
			fetch_done(r);
			return 0;
		}
	}
	pump(r);
	return 0;
}

void objects_free(struct p2p *g)
{
	struct objrun *r = g->obj;
	if (!r)
		return;

	if (r->tick_open) {
		uv_close((uv_handle_t *)&r->tick, NULL);
		uv_run(g->a->loop, UV_RUN_NOWAIT);
	}
	if (r->fd >= 0)
		close(r->fd);
	rv_p2p_obj_free(r->o);
	free(r->part);
	free(r->state);
	free(r);
	g->obj = NULL;
	g->on_object = NULL;
	g->on_end = NULL;
}
