/* session.c - the RV client session. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "rvcode.h"
#include "session.h"

struct request {
	struct request *next;
	uint64_t seq;
	int sent;
	rv_session_reply_fn fn;
	void *ud;
	size_t len;
	uint8_t frame[];              /* the whole frame, ready to send */
};

struct rv_session {
	struct rv_session_conf conf;
	uv_loop_t *loop;
	struct rv_io io;
	struct rv_stream *st;         /* the current connection, or NULL */
	uv_timer_t timer;             /* connect timeout, then reconnect backoff */
	rv_session_state_fn on_state;
	rv_session_frame_fn on_frame;
	void *ud;
	struct request *head, **tail;
	size_t pending;               /* requests in that list */
	struct rv_buf in;
	uint64_t seq;
	unsigned attempt;
	int up, closing, final_err;
	size_t server_queue;          /* the welcome's max_queue, or 0 */
	size_t server_frame;          /* the welcome's max_frame, or 0 */
	cJSON *media_hdr;             /* {"type":"media"}, given with every media frame */
	char why[256];
	int handles;                  /* open libuv handles, for the final free */
};

int rv_session_code(const char *code)
{
	return rv_code_err(rv_code_parse(code));
}

static void maybe_free(struct rv_session *s)
{
	if (s->closing && s->handles == 0 && !s->st) {
		rv_buf_free(&s->in);
		cJSON_Delete(s->media_hdr);
		free(s);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct rv_session *s = h->data;
	s->handles--;
	maybe_free(s);
}

static void send_request(struct rv_session *s, struct request *r)
{
	if (rv_stream_write(s->st, r->frame, r->len) == 0)
		r->sent = 1;
}

static void fail_all(struct rv_session *s, int err)
{
	while (s->head) {
		struct request *r = s->head;
		s->head = r->next;
		if (r->fn)
			r->fn(s, err, NULL, r->ud);
		free(r);
	}
	s->tail = &s->head;
}

static void connect_now(struct rv_session *s);

static void on_timer(uv_timer_t *t)
{
	struct rv_session *s = t->data;
	if (s->st) {	/* the attempt took too long */
		snprintf(s->why, sizeof s->why, "no answer within %.0f s", s->conf.connect_timeout);
		rv_stream_close(s->st, RV_ETIMEOUT);
		return;
	}
	connect_now(s);
}

/* Decide what follows a lost or failed connection. */
static void went_down(struct rv_session *s, int err)
{
	int was_up = s->up;
	s->up = 0;
	uv_timer_stop(&s->timer);
	if (s->closing)
		return;
	int final = !s->conf.reconnect || err == RV_EREPLACED || err == RV_EDENIED;
	if (!s->why[0])
		snprintf(s->why, sizeof s->why, "%s", rv_strerror(err));
	if (s->on_state)
		s->on_state(s, RV_SESSION_DOWN, err, s->why, s->ud);
	s->why[0] = 0;
	if (s->closing)
		return;
	if (final) {
		fail_all(s, err);
		return;
	}
	for (struct request *r = s->head; r; r = r->next)
		r->sent = 0;	/* send again after reconnecting */
	if (was_up)
		s->attempt = 0;
	/* 250 ms doubling to 30 s, with up to 50% jitter. */
	uint64_t ms = 250ull << (s->attempt < 7 ? s->attempt : 7);
	if (ms > 30000)
		ms = 30000;
	unsigned char r;
	RAND_bytes(&r, 1);
	ms = ms / 2 + ms * r / 512;
	s->attempt++;
	rv_info("reconnecting in %llu ms", (unsigned long long)ms);
	uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void on_stream_closed(struct rv_stream *st, int reason)
{
	struct rv_session *s = st->ud;
	free(st);
	s->st = NULL;
	rv_buf_free(&s->in);
	int err = s->final_err ? s->final_err : reason ? reason : RV_ECLOSED;
	s->final_err = 0;
	went_down(s, err);
	maybe_free(s);
}

static void handle_frame(struct rv_session *s, const struct rv_frame_view *v)
{
	const char *type;
	int err;
	if (rv_frame_is_media(v)) {	/* one per packet: no JSON */
		if (s->on_frame)
			s->on_frame(s, "media", s->media_hdr, v->body, v->body_len, s->ud);
		return;
	}
	cJSON *h = rv_frame_header(v, &type, &err);
	if (!h) {
		snprintf(s->why, sizeof s->why, "the server sent a malformed frame");
		rv_stream_close(s->st, RV_EPROTO);
		return;
	}
	cJSON *re = cJSON_GetObjectItemCaseSensitive(h, "re");
	int is_reply = (!strcmp(type, "ok") || !strcmp(type, "error") || !strcmp(type, "pong")) &&
		       cJSON_IsNumber(re);
	if (!strcmp(type, "welcome")) {
		cJSON *q = cJSON_GetObjectItemCaseSensitive(h, "max_queue");
		s->server_queue = cJSON_IsNumber(q) && q->valuedouble > 0 ? (size_t)q->valuedouble : 0;
		cJSON *f = cJSON_GetObjectItemCaseSensitive(h, "max_frame");
		s->server_frame = cJSON_IsNumber(f) && f->valuedouble >= 1 && f->valuedouble < 4294967296.0 ?
				  (size_t)f->valuedouble : 0;
		s->up = 1;
		s->attempt = 0;
		uv_timer_stop(&s->timer);
		if (s->on_state)
			s->on_state(s, RV_SESSION_UP, 0, NULL, s->ud);
		for (struct request *r = s->head; r && s->st; r = r->next)
			if (!r->sent)
				send_request(s, r);
	} else if (is_reply) {
		uint64_t seq = (uint64_t)re->valuedouble;
		struct request **pp = &s->head;
		while (*pp && (*pp)->seq != seq)
			pp = &(*pp)->next;
		struct request *r = *pp;
		if (r) {
			*pp = r->next;
			if (s->tail == &r->next)
				s->tail = pp;
			s->pending--;
			if (r->fn) {
				const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "code"));
				r->fn(s, !strcmp(type, "error") ? rv_session_code(code) : 0, h, r->ud);
			}
			free(r);
		}
	} else if (!strcmp(type, "ping")) {
		static const char pong[] = "{\"type\":\"pong\"}";
		struct rv_buf b;
		rv_buf_init(&b, 64);
		rv_frame_append(&b, pong, sizeof pong - 1, NULL, 0);
		rv_stream_write(s->st, rv_buf_head(&b), rv_buf_size(&b));
		rv_buf_free(&b);
	} else {
		if (!strcmp(type, "bye") || (!strcmp(type, "error") && !s->up)) {
			const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "code"));
			const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "message"));
			s->final_err = rv_session_code(code);
			snprintf(s->why, sizeof s->why, "%s", msg ? msg : code ? code : "closed by the server");
		}
		if (s->on_frame)
			s->on_frame(s, type, h, v->body, v->body_len, s->ud);
	}
	cJSON_Delete(h);
}

/* Each whole frame from the server; the session goes on while its stream
 * is the same and open. */
static int on_frame(void *ud, const struct rv_frame_view *v)
{
	struct rv_stream *st = ud;
	struct rv_session *s = st->ud;
	handle_frame(s, v);
	return s->st != st || st->closing ? RV_FRAME_GONE : 0;
}

/* The rest of a bulk frame is read straight into the kept buffer. */
static uint8_t *room(struct rv_stream *st, size_t *len)
{
	struct rv_session *s = st->ud;
	return rv_frame_room(&s->in, s->conf.max_frame, len);
}

/* Frames are handled where they lie in the read buffer; only a frame split
 * across reads is kept (copied) until the rest arrives, and a bulk frame's
 * rest is read into where it is kept (room). */
static void on_read(struct rv_stream *st, const uint8_t *data, size_t len)
{
	struct rv_session *s = st->ud;
	int rc = rv_frame_feed(&s->in, s->conf.max_frame, data, len, on_frame, st);
	if (rc >= 0)
		return;
	snprintf(s->why, sizeof s->why, rc == RV_ETOOBIG ? "the server sent a frame over the size cap"
							 : "the server sent a bad frame");
	rv_stream_close(st, rc);
}

static void on_connect(struct rv_stream *st, int status)
{
	struct rv_session *s = st->ud;
	if (status < 0) {
		snprintf(s->why, sizeof s->why, "cannot connect to %s port %d: %s", s->conf.host,
			 s->conf.port, status == RV_ETLS && st->tls ? rv_tls_errstr(st->tls) : rv_strerror(status));
		return;	/* the close callback follows */
	}
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "hello");
	cJSON_AddStringToObject(h, "id", s->conf.id);
	cJSON_AddStringToObject(h, "role", s->conf.role);
	cJSON_AddNumberToObject(h, "version", 1);
	if (s->conf.client)
		cJSON_AddStringToObject(h, "client", s->conf.client);
	if (s->conf.token && *s->conf.token)
		cJSON_AddStringToObject(h, "token", s->conf.token);
	cJSON *it;
	cJSON_ArrayForEach(it, s->conf.hello_extra)
		cJSON_AddItemToObject(h, it->string, cJSON_Duplicate(it, 1));
	struct rv_buf b;
	rv_buf_init(&b, RV_FRAME_MAX_HEADER + 64);
	rv_buf_append(&b, RV_PREFACE, RV_PREFACE_LEN);
	int rc = rv_frame_append_json(&b, h, NULL, 0);
	cJSON_Delete(h);
	if (rc == 0)
		rc = rv_stream_write(st, rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
	if (rc < 0)
		rv_stream_close(st, rc);
}

static void connect_now(struct rv_session *s)
{
	struct rv_stream *st = malloc(sizeof *st);
	if (!st) {
		went_down(s, -ENOMEM);
		return;
	}
	rv_buf_init(&s->in, s->conf.max_frame + RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + RV_IO_READ_SIZE);
	int rc = rv_stream_init(&s->io, st, 64u << 20, on_read, on_stream_closed, s);
	if (rc < 0) {
		free(st);
		went_down(s, rc);
		return;
	}
	s->st = st;
	rc = rv_stream_connect(st, s->conf.host, s->conf.port, s->conf.tls, on_connect);
	if (rc < 0) {
		snprintf(s->why, sizeof s->why, "cannot resolve %s: %s", s->conf.host, uv_strerror(rc));
		rv_stream_close(st, rc);
		return;
	}
	uv_timer_start(&s->timer, on_timer, (uint64_t)(s->conf.connect_timeout * 1000), 0);
}

int rv_session_new(struct rv_session **out, uv_loop_t *loop, const struct rv_session_conf *conf,
		   rv_session_state_fn on_state, rv_session_frame_fn on_frame, void *ud)
{
	struct rv_session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->conf = *conf;
	if (!s->conf.max_frame)
		s->conf.max_frame = RV_FRAME_DEFAULT_MAX_BODY;
	if (s->conf.connect_timeout <= 0)
		s->conf.connect_timeout = 10;
	s->loop = loop;
	s->on_state = on_state;
	s->on_frame = on_frame;
	s->ud = ud;
	s->tail = &s->head;
	s->media_hdr = cJSON_CreateObject();
	if (!s->media_hdr || !cJSON_AddStringToObject(s->media_hdr, "type", "media")) {
		cJSON_Delete(s->media_hdr);
		free(s);
		return -ENOMEM;
	}
	int rc = rv_io_init(&s->io, loop);
	if (rc < 0) {
		cJSON_Delete(s->media_hdr);
		free(s);
		return rc;
	}
	rv_io_set_room(&s->io, room);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	s->io.check.data = &s->io;
	*out = s;
	return 0;
}

int rv_session_start(struct rv_session *s)
{
	connect_now(s);
	return 0;
}

int rv_session_request(struct rv_session *s, cJSON *hdr, const void *body, size_t len,
		       rv_session_reply_fn fn, void *ud)
{
	struct rv_buf b;
	cJSON_DeleteItemFromObjectCaseSensitive(hdr, "seq");
	cJSON_AddNumberToObject(hdr, "seq", (double)++s->seq);
	rv_buf_init(&b, RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + s->conf.max_frame);
	int rc = rv_frame_append_json(&b, hdr, body, len);
	cJSON_Delete(hdr);
	if (rc < 0) {
		rv_buf_free(&b);
		return rc;
	}
	struct request *r = malloc(sizeof *r + rv_buf_size(&b));
	if (!r) {
		rv_buf_free(&b);
		return -ENOMEM;
	}
	r->next = NULL;
	r->seq = s->seq;
	r->sent = 0;
	r->fn = fn;
	r->ud = ud;
	r->len = rv_buf_size(&b);
	memcpy(r->frame, rv_buf_head(&b), r->len);
	rv_buf_free(&b);
	*s->tail = r;
	s->tail = &r->next;
	s->pending++;
	if (s->up && s->st)
		send_request(s, r);
	return 0;
}

int rv_session_send(struct rv_session *s, cJSON *hdr, const void *body, size_t len)
{
	struct rv_buf head;
	if (!s->up || !s->st) {
		cJSON_Delete(hdr);
		return RV_ECLOSED;
	}
	rv_buf_init(&head, RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER);
	int rc = rv_frame_append_head(&head, hdr, len);
	cJSON_Delete(hdr);
	if (rc == 0) {
		uv_buf_t b[2] = { uv_buf_init((char *)rv_buf_head(&head), (unsigned)rv_buf_size(&head)),
				  uv_buf_init((char *)body, (unsigned)len) };
		rc = rv_stream_writev(s->st, b, len ? 2 : 1);
	}
	rv_buf_free(&head);
	return rc;
}

int rv_session_writev(struct rv_session *s, const uv_buf_t *b, unsigned n)
{
	if (!s->up || !s->st)
		return RV_ECLOSED;
	return rv_stream_writev(s->st, b, n);
}

size_t rv_session_queued(const struct rv_session *s)
{
	return s->st ? rv_stream_queued(s->st) : 0;
}

size_t rv_session_server_frame(const struct rv_session *s)
{
	return s->server_frame;
}

size_t rv_session_server_queue(const struct rv_session *s)
{
	return s->server_queue;
}

size_t rv_session_pending(const struct rv_session *s)
{
	return s->pending;
}

void rv_session_close(struct rv_session *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	fail_all(s, RV_ECLOSED);
	s->handles = 2;
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	uv_check_stop(&s->io.check);
	s->io.check.data = s;
	uv_close((uv_handle_t *)&s->io.check, on_handle_closed);
	if (s->st && s->up) {	/* let what is queued leave first */
		rv_io_flush(&s->io);
		rv_stream_end(s->st);
	} else if (s->st) {
		rv_stream_close(s->st, RV_ECLOSED);
	}
}
