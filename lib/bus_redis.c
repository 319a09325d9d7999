/* bus_redis.c - lib/bus.h on Redis, through hiredis 0.14 and its libuv
 * adapter: one connection for commands, one subscribed. The directory's
 * scripts run by EVALSHA: loaded (SCRIPT LOAD) at every connection, and
 * on NOSCRIPT (a Redis that lost its script cache: SCRIPT FLUSH, a restart
 * between two commands) loaded again and the command sent once more. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <async.h>
#include <adapters/libuv.h>
#include <openssl/evp.h>

#include "bus.h"
#include "dlist.h"
#include "err.h"
#include "log.h"
#include "map.h"
#include "token.h"

/* ---- addresses ---- */

int rv_bus_url_parse(const char *url, struct rv_bus_addr *a, const char **why)
{
	memset(a, 0, sizeof *a);
	if (strncmp(url, "unix:", 5) == 0) {
		const char *p = url + 5;
		if (!*p || strlen(p) >= sizeof a->path) {
			*why = "unix:PATH needs a path of 1-107 bytes";
			return RV_EPROTO;
		}
		strcpy(a->path, p);
		return 0;
	}
	if (strncmp(url, "sentinel://", 11) == 0) {
		*why = "sentinel:// is not supported yet: give the master as redis://IP:PORT";
		return RV_EPROTO;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		*why = "expected redis://IP:PORT or unix:PATH";
		return RV_EPROTO;
	}
	const char *host = url + 8, *colon = strrchr(host, ':'), *end = colon;
	if (*host == '[') {	/* [IPv6]:PORT */
		host++;
		end = colon && colon > host && colon[-1] == ']' ? colon - 1 : NULL;
	}
	char *pe;
	long port = colon ? strtol(colon + 1, &pe, 10) : 0;
	if (!colon || !end || end <= host || (size_t)(end - host) >= sizeof a->ip || *pe || colon[1] == 0 ||
	    port < 1 || port > 65535) {
		*why = "expected redis://IP:PORT (port 1-65535)";
		return RV_EPROTO;
	}
	memcpy(a->ip, host, (size_t)(end - host));
	struct in6_addr a6;
	if (inet_pton(AF_INET, a->ip, &a6) != 1 && inet_pton(AF_INET6, a->ip, &a6) != 1) {
		*why = "the Redis host must be an IP address (hiredis resolves names with a blocking call)";
		return RV_EPROTO;
	}
	a->port = (int)port;
	return 0;
}

const char *rv_bus_node_id_check(const char *arg)
{
	size_t len = strlen(arg);
	if (len == 0 || len > 40 || strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		return "expected 1-40 characters [A-Za-z0-9_-]";
	return NULL;
}

int rv_bus_node_setup(struct rv_bus_node *n, const char *url, const char *node_id, const char *secret_file,
		      uint64_t now_ms)
{
	const char *why;
	memset(n, 0, sizeof *n);
	if (rv_bus_url_parse(url, &n->addr, &why) < 0) {
		rv_error("--cluster %s: %s", url, why);
		return -EINVAL;
	}
	int rc = rv_secret_read(secret_file, n->secret, sizeof n->secret, &n->secret_len);
	if (rc < 0) {
		rv_error("cannot read --cluster-secret-file %s: %s", secret_file, rc == -EINVAL ? "empty" : rv_strerror(rc));
		return rc;
	}
	snprintf(n->inc, sizeof n->inc, "%s.%" PRIu64, node_id, now_ms);
	return 0;
}

#define scripts rv__bus_scripts   /* bus_scripts.c: one per directory operation */

/* ---- the connections ---- */

struct pend {                     /* one command awaiting its answer */
	struct pend *prev, *next;
	struct rbus *b;
	rv_bus_done_fn fn;
	void *ud;
	uint64_t deadline;
	int argc, retried;            /* an EVALSHA: its words, to send again once on NOSCRIPT */
	uint64_t loads;               /* the scripts' loads sent before it (rbus loads) */
	const char **argv;
	size_t *argl;
};

struct subwait {                  /* a subscribe awaiting its confirmation */
	struct subwait *next;
	char *chan;
	rv_bus_done_fn fn;
	void *ud;
};

struct rbus {
	struct rv_bus pub;            /* first */
	uv_loop_t *loop;
	struct rv_bus_addr addr;
	redisAsyncContext *cmd, *sub;
	int cmd_up, sub_up, closing, freeing;
	uv_timer_t timer;
	uint64_t retry_at, backoff;
	struct pend *head, *tail;     /* oldest first */
	struct subwait *waits;
	struct rv_map chans;          /* subscribed channels: the value is the key, owned */
	char sha[RV_DIR_COUNT][41];   /* the scripts' SHA-1, hex */
	uint64_t loads;               /* times the scripts were sent (SCRIPT LOAD) */
};

static void finish(struct pend *p, const struct rv_bus_reply *r)
{
	struct rbus *b = p->b;
	RV_LIST_REMOVE(b->head, b->tail, p);
	b->pub.pending--;
	if (p->fn)
		p->fn(p->ud, r);
	free(p->argv);
	free(p);
}

static void fail_waits(struct rbus *b)
{
	static const struct rv_bus_reply down = { .err = RV_ECLOSED };
	while (b->waits) {
		struct subwait *w = b->waits;
		b->waits = w->next;
		if (w->fn)
			w->fn(w->ud, &down);
		free(w->chan);
		free(w);
	}
}

/* Flatten an answer: the first integer is num, strings in order. */
static int flatten(const redisReply *r, struct rv_bus_reply *out, const char **v, size_t *len, size_t max, int *have_num)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		if (!*have_num) {
			out->num = r->integer;
			*have_num = 1;
		}
		return 0;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		if (out->n >= max)
			return RV_ETOOBIG;
		v[out->n] = r->str;
		len[out->n++] = r->len;
		return 0;
	case REDIS_REPLY_NIL:
		return 0;
	case REDIS_REPLY_ARRAY:
		for (size_t i = 0; i < r->elements; i++)
			if (flatten(r->element[i], out, v, len, max, have_num) < 0)
				return RV_ETOOBIG;
		return 0;
	default:
		return RV_EPROTO;
	}
}

static size_t count_strings(const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return 1;
	size_t n = 0;
	for (size_t i = 0; i < r->elements; i++)
		n += count_strings(r->element[i]);
	return n;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static void on_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	(void)privdata;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR)
		rv_warn("cluster: Redis refused a directory script: %s", r->str);
}

/* SCRIPT LOAD every script: the EVALSHAs sent after them find them (one
 * connection: Redis runs its commands in order). */
static void load_scripts(struct rbus *b)
{
	b->loads++;
	for (int op = 0; op < RV_DIR_COUNT && b->cmd; op++) {
		const char *argv[3] = { "SCRIPT", "LOAD", scripts[op] };
		redisAsyncCommandArgv(b->cmd, on_loaded, NULL, 3, argv, NULL);
	}
}

/* NOSCRIPT: load the scripts again and send P's EVALSHA once more, last in
 * line. 0, or RV_ECLOSED when it cannot be (P is answered with the error). */
static int retry(struct pend *p)
{
	struct rbus *b = p->b;
	if (!p->argv || p->retried || !b->cmd || b->closing)
		return RV_ECLOSED;
	p->retried = 1;
	if (p->loads == b->loads) {	/* else loaded again since P was sent: only retry */
		b->pub.script_reloads++;
		rv_info("cluster: Redis lost the directory scripts: loading them again");
		load_scripts(b);
	}
	if (p->next) {	/* to the tail: the list stays in deadline order */
		RV_LIST_REMOVE(b->head, b->tail, p);
		RV_LIST_APPEND(b->head, b->tail, p);
	}
	p->deadline = uv_now(b->loop) + RV_BUS_TIMEOUT_MS;
	return redisAsyncCommandArgv(b->cmd, on_reply, p, p->argc, p->argv, p->argl) == REDIS_OK ? 0 : RV_ECLOSED;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct pend *p = privdata;
	redisReply *r = reply;
	struct rv_bus_reply out = { 0 };
	if (!r) {
		out.err = RV_ECLOSED;
		finish(p, &out);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && retry(p) == 0)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		rv_warn("cluster: Redis: %s", r->str);
		out.err = RV_EPROTO;
		finish(p, &out);
		return;
	}
	size_t max = count_strings(r) + 1;
	const char **v = malloc(max * sizeof *v);
	size_t *len = malloc(max * sizeof *len);
	int have = 0;
	if (!v || !len)
		out.err = -ENOMEM;
	else if (flatten(r, &out, v, len, max, &have) < 0)
		out.err = RV_EPROTO;
	out.v = v;
	out.len = len;
	finish(p, &out);
	free(v);
	free(len);
}

static void go_down(struct rbus *b);
static void on_timer_closed(uv_handle_t *h);

static void on_sub_msg(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct rbus *b = privdata;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = r->element[0]->str;
	const redisReply *ch = r->element[1], *d = r->element[2];
	if (strcmp(kind, "message") == 0 && ch->type == REDIS_REPLY_STRING && d->type == REDIS_REPLY_STRING) {
		b->pub.on_msg(b->pub.ud, ch->str, (const uint8_t *)d->str, d->len);
	} else if (strcmp(kind, "subscribe") == 0 && ch->type == REDIS_REPLY_STRING) {
		static const struct rv_bus_reply ok = { 0 };
		for (struct subwait **pw = &b->waits; *pw;) {
			struct subwait *w = *pw;
			if (strcmp(w->chan, ch->str) != 0) {
				pw = &w->next;
				continue;
			}
			*pw = w->next;
			if (w->fn)
				w->fn(w->ud, &ok);
			free(w->chan);
			free(w);
		}
	}
}

static int send_sub(struct rbus *b, const char *verb, const char *chan)
{
	const char *argv[2] = { verb, chan };
	return redisAsyncCommandArgv(b->sub, on_sub_msg, b, 2, argv, NULL) == REDIS_OK ? 0 : RV_ECLOSED;
}

static void maybe_up(struct rbus *b)
{
	if (!b->cmd_up || !b->sub_up || b->pub.state == RV_BUS_UP)
		return;
	size_t i = 0;
	const char *chan;
	while (rv_map_next(&b->chans, &i, &chan))	/* again: the old Redis may be gone */
		send_sub(b, "SUBSCRIBE", chan);
	load_scripts(b);
	b->backoff = RV_BUS_BACKOFF_MIN_MS;
	b->pub.state = RV_BUS_UP;
	rv_info("cluster: connected to Redis");
	b->pub.on_state(b->pub.ud, RV_BUS_UP);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rbus *b = ac->data;
	if (status != REDIS_OK) {	/* hiredis frees AC after this */
		rv_debug("cluster: cannot connect to Redis: %s", ac->errstr);
		if (ac == b->cmd)
			b->cmd = NULL;
		else if (ac == b->sub)
			b->sub = NULL;
		go_down(b);
		return;
	}
	if (ac == b->cmd)
		b->cmd_up = 1;
	else
		b->sub_up = 1;
	maybe_up(b);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rbus *b = ac->data;
	(void)status;
	if (ac == b->cmd) {
		b->cmd = NULL;
		b->cmd_up = 0;
	} else if (ac == b->sub) {
		b->sub = NULL;
		b->sub_up = 0;
	}
	go_down(b);	/* closing: only frees B once both are gone */
}

/* Closing: once both connections are gone, the timer closes and B is freed. */
static void maybe_free(struct rbus *b)
{
	if (!b->closing || b->cmd || b->sub || b->freeing)
		return;
	b->freeing = 1;
	uv_close((uv_handle_t *)&b->timer, on_timer_closed);
}

/* Drop both connections (their pending callbacks fail) and report down once. */
static void go_down(struct rbus *b)
{
	if (b->closing) {
		maybe_free(b);
		return;
	}
	redisAsyncContext *c = b->cmd, *s = b->sub;
	b->cmd = b->sub = NULL;
	b->cmd_up = b->sub_up = 0;
	if (c)
		redisAsyncFree(c);
	if (s)
		redisAsyncFree(s);
	fail_waits(b);
	b->retry_at = uv_now(b->loop) + b->backoff;
	b->backoff = b->backoff * 2 > RV_BUS_BACKOFF_MAX_MS ? RV_BUS_BACKOFF_MAX_MS : b->backoff * 2;
	if (b->pub.state == RV_BUS_UP) {
		b->pub.state = RV_BUS_DOWN;
		rv_warn("cluster: lost Redis: cross-node traffic fails until it is back");
		b->pub.on_state(b->pub.ud, RV_BUS_DOWN);
	}
}

static redisAsyncContext *open_one(struct rbus *b)
{
	redisAsyncContext *ac = b->addr.path[0] ? redisAsyncConnectUnix(b->addr.path)
						: redisAsyncConnect(b->addr.ip, b->addr.port);
	if (!ac)
		return NULL;
	if (ac->err || redisLibuvAttach(ac, b->loop) != REDIS_OK) {
		rv_debug("cluster: cannot connect to Redis: %s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = b;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

static void try_connect(struct rbus *b)
{
	b->retry_at = 0;
	b->pub.reconnects++;
	if (!(b->cmd = open_one(b)) || !(b->sub = open_one(b)))
		go_down(b);
}

/* Every 100 ms: an answer overdue means a hung Redis; reconnect when due. */
static void on_tick(uv_timer_t *t)
{
	struct rbus *b = t->data;
	uint64_t now = uv_now(b->loop);
	if (b->closing) {	/* a Redis that never answers does not hold the close */
		if (b->head && now >= b->head->deadline) {
			redisAsyncContext *c = b->cmd, *s = b->sub;
			b->cmd = b->sub = NULL;
			if (c)
				redisAsyncFree(c);
			if (s)
				redisAsyncFree(s);
			maybe_free(b);
		}
		return;
	}
	if (b->head && now >= b->head->deadline) {
		b->pub.timeouts++;
		rv_warn("cluster: Redis did not answer within %d ms: reconnecting", RV_BUS_TIMEOUT_MS);
		go_down(b);
	}
	if (!b->cmd && !b->sub && b->retry_at && now >= b->retry_at)
		try_connect(b);
}

/* ---- the operations ---- */

/* Keep a copy of a command's words in P (one allocation): 0 or -ENOMEM. */
static int keep_words(struct pend *p, int argc, const char **argv, const size_t *argl)
{
	size_t n = (size_t)argc, bytes = n * (sizeof *p->argv + sizeof *p->argl);
	for (size_t i = 0; i < n; i++)
		bytes += argl[i];
	char *mem = malloc(bytes ? bytes : 1);
	if (!mem)
		return -ENOMEM;
	p->argv = (const char **)(void *)mem;
	p->argl = (size_t *)(void *)(mem + n * sizeof *p->argv);
	char *data = mem + n * (sizeof *p->argv + sizeof *p->argl);
	for (size_t i = 0; i < n; i++) {
		memcpy(data, argv[i], argl[i]);
		p->argv[i] = data;
		p->argl[i] = argl[i];
		data += argl[i];
	}
	p->argc = argc;
	return 0;
}

/* Send a command (ARGL: the words' lengths); with KEEP, its words are kept
 * to send it again (an EVALSHA). */
static int command(struct rbus *b, int argc, const char **argv, const size_t *argl, int keep, rv_bus_done_fn fn,
		   void *ud)
{
	if (b->pub.state != RV_BUS_UP || !b->cmd)
		return RV_ECLOSED;
	struct pend *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	if (keep && keep_words(p, argc, argv, argl) < 0) {
		free(p);
		return -ENOMEM;
	}
	p->b = b;
	p->fn = fn;
	p->ud = ud;
	p->loads = b->loads;
	p->deadline = uv_now(b->loop) + RV_BUS_TIMEOUT_MS;
	RV_LIST_APPEND(b->head, b->tail, p);
	if (redisAsyncCommandArgv(b->cmd, on_reply, p, argc, argv, argl) != REDIS_OK) {
		RV_LIST_REMOVE(b->head, b->tail, p);
		free(p->argv);
		free(p);
		return RV_ECLOSED;
	}
	b->pub.pending++;
	return 0;
}

static int r_publish(struct rv_bus *bus, const char *chan, const void *data, size_t len, rv_bus_done_fn fn, void *ud)
{
	const char *argv[3] = { "PUBLISH", chan, data };
	size_t argl[3] = { 7, strlen(chan), len };
	return command((struct rbus *)bus, 3, argv, argl, 0, fn, ud);
}

static int r_dir(struct rv_bus *bus, enum rv_dir_op op, int argc, const char *const *args, const size_t *argl,
		 rv_bus_done_fn fn, void *ud)
{
	struct rbus *b = (struct rbus *)bus;
	if ((unsigned)op >= RV_DIR_COUNT || argc < 0)
		return RV_EPROTO;
	const char **argv = malloc(((size_t)argc + 3) * sizeof *argv);
	size_t *l = malloc(((size_t)argc + 3) * sizeof *l);
	int rc = -ENOMEM;
	if (argv && l) {
		argv[0] = "EVALSHA";
		argv[1] = b->sha[op];
		argv[2] = "0";
		for (int i = 0; i < argc; i++) {
			argv[i + 3] = args[i];
			l[i + 3] = argl ? argl[i] : strlen(args[i]);
		}
		l[0] = 7;
		l[1] = 40;
		l[2] = 1;
		rc = command(b, argc + 3, argv, l, 1, fn, ud);
	}
	free(argv);
	free(l);
	return rc;
}

static int r_subscribe(struct rv_bus *bus, const char *chan, rv_bus_done_fn fn, void *ud)
{
	struct rbus *b = (struct rbus *)bus;
	if (rv_map_get(&b->chans, chan)) {
		static const struct rv_bus_reply ok = { 0 };
		if (fn)
			fn(ud, &ok);
		return 0;
	}
	char *key = strdup(chan);
	if (!key || rv_map_put(&b->chans, key, key) < 0) {
		free(key);
		return -ENOMEM;
	}
	if (b->pub.state != RV_BUS_UP)
		return fn ? RV_ECLOSED : 0;	/* kept: subscribed once the bus is up */
	if (fn) {
		struct subwait *w = calloc(1, sizeof *w);
		if (!w || !(w->chan = strdup(chan))) {
			free(w);
			return -ENOMEM;
		}
		w->fn = fn;
		w->ud = ud;
		w->next = b->waits;
		b->waits = w;
	}
	send_sub(b, "SUBSCRIBE", chan);
	return 0;
}

static int r_unsubscribe(struct rv_bus *bus, const char *chan)
{
	struct rbus *b = (struct rbus *)bus;
	if (!rv_map_get(&b->chans, chan))
		return RV_ENOTFOUND;
	free(rv_map_del(&b->chans, chan));
	if (b->pub.state == RV_BUS_UP && b->sub)
		send_sub(b, "UNSUBSCRIBE", chan);
	return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct rbus *b = h->data;
	size_t i = 0;
	char *key;
	while ((key = rv_map_next(&b->chans, &i, NULL)))
		free(key);
	rv_map_free(&b->chans);
	free(b);
}

/* A connection that is up goes once its pending answers are in (on_disconnect
 * clears *PP); one still connecting goes now. */
static void close_ctx(redisAsyncContext **pp, int up)
{
	redisAsyncContext *ac = *pp;
	if (!ac)
		return;
	if (up) {
		redisAsyncDisconnect(ac);
	} else {
		*pp = NULL;
		redisAsyncFree(ac);
	}
}

static void r_close(struct rv_bus *bus)
{
	struct rbus *b = (struct rbus *)bus;
	b->closing = 1;
	b->pub.state = RV_BUS_DOWN;
	fail_waits(b);
	close_ctx(&b->cmd, b->cmd_up);
	close_ctx(&b->sub, b->sub_up);
	maybe_free(b);
}

static const struct rv_bus_ops redis_ops = { r_publish, r_subscribe, r_unsubscribe, r_dir, r_close };

int rv_bus_redis_new(struct rv_bus **out, uv_loop_t *loop, const struct rv_bus_addr *a,
		     rv_bus_msg_fn on_msg, rv_bus_state_fn on_state, void *ud)
{
	struct rbus *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->pub.ops = &redis_ops;
	b->pub.on_msg = on_msg;
	b->pub.on_state = on_state;
	b->pub.ud = ud;
	b->loop = loop;
	b->addr = *a;
	b->backoff = RV_BUS_BACKOFF_MIN_MS;
	for (int op = 0; op < RV_DIR_COUNT; op++) {	/* what EVALSHA names them by */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		if (!EVP_Digest(scripts[op], strlen(scripts[op]), md, &len, EVP_sha1(), NULL) || len != 20) {
			free(b);
			return -ENOMEM;
		}
		for (unsigned i = 0; i < len; i++) {
			b->sha[op][2 * i] = "0123456789abcdef"[md[i] >> 4];
			b->sha[op][2 * i + 1] = "0123456789abcdef"[md[i] & 15];
		}
	}
	rv_map_init(&b->chans);
	uv_timer_init(loop, &b->timer);
	b->timer.data = b;
	uv_timer_start(&b->timer, on_tick, 100, 100);
	try_connect(b);
	*out = &b->pub;
	return 0;
}
