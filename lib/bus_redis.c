/* bus_redis.c - lib/bus.h on Redis, through hiredis 0.14 and its libuv
 * adapter: one connection for commands, one subscribed (and with Sentinel,
 * a short one to ask a Sentinel where the master is). The directory's
 * scripts run by EVALSHA: loaded (SCRIPT LOAD) at every connection, and
 * on NOSCRIPT (a Redis that lost its script cache: SCRIPT FLUSH, a restart
 * between two commands) loaded again and the command sent once more. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis.h>
#include <async.h>
#include <adapters/libuv.h>
#include <openssl/evp.h>

#include "bus.h"
#include "bus_int.h"
#include "dlist.h"
#include "err.h"
#include "log.h"
#include "map.h"

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
	int role_ok;                  /* the master said ROLE master (or no Sentinel: not asked) */
	redisAsyncContext *sen;       /* asking a Sentinel for the master, or NULL */
	redisAsyncContext *watch;     /* the Sentinel that answered, subscribed to +switch-master */
	int sen_i, sen_asked;         /* the Sentinel asked (next: the one after), how many this round */
	int sen_warned;               /* "no Sentinel named the master" said since the last up */
	char master[80];              /* the master's IP:PORT last named, for the log */
	uint64_t step_deadline;       /* connecting, Sentinel or ROLE: the answer is due by then */
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
static void go_down(struct rbus *b);

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
		const char *argv[3] = { "SCRIPT", "LOAD", rv__bus_scripts[op] };
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
		struct rbus *b = p->b;
		int demoted = strncmp(r->str, "READONLY", 8) == 0;
		rv_warn("cluster: Redis: %s", r->str);
		out.err = RV_EPROTO;
		finish(p, &out);
		if (demoted && ac == b->cmd && !b->closing) {	/* a replica now: failed over */
			rv_warn("cluster: the Redis master was demoted to a replica: %s",
				b->addr.master[0] ? "asking the Sentinels again" : "reconnecting");
			go_down(b);
		}
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

static void maybe_free(struct rbus *b);
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
	if (!b->cmd_up || !b->sub_up || !b->role_ok || b->pub.state == RV_BUS_UP)
		return;
	size_t i = 0;
	const char *chan;
	while (rv_map_next(&b->chans, &i, &chan))	/* again: the old Redis may be gone */
		send_sub(b, "SUBSCRIBE", chan);
	load_scripts(b);
	b->backoff = RV_BUS_BACKOFF_MIN_MS;
	b->step_deadline = 0;
	b->sen_warned = 0;
	b->pub.state = RV_BUS_UP;
	if (b->addr.master[0])
		rv_info("cluster: connected to Redis (master %s at %s)", b->addr.master, b->master);
	else
		rv_info("cluster: connected to Redis");
	b->pub.on_state(b->pub.ud, RV_BUS_UP);
}

/* ROLE's answer on the command connection: a master, or down. */
static void on_role(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rbus *b = privdata;
	redisReply *r = reply;
	if (!r || ac != b->cmd || b->closing)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0) {
		b->role_ok = 1;
		maybe_up(b);
		return;
	}
	rv_warn("cluster: %s, named master %s by a Sentinel, is not a master (%s): asking again", b->master,
		b->addr.master, r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
		r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : "no ROLE");
	go_down(b);
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
		else
			return;
		go_down(b);
		return;
	}
	if (ac == b->cmd) {
		b->cmd_up = 1;
		if (!b->role_ok)	/* a Sentinel's master: is it one still? */
			redisAsyncCommand(b->cmd, on_role, b, "ROLE");
	} else if (ac == b->sub) {
		b->sub_up = 1;
	}
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
	} else {	/* one go_down dropped already */
		maybe_free(b);
		return;
	}
	go_down(b);	/* closing: only frees B once both are gone */
}

/* Closing: once every connection is gone, the timer closes and B is freed. */
static void maybe_free(struct rbus *b)
{
	if (!b->closing || b->cmd || b->sub || b->sen || b->watch || b->freeing)
		return;
	b->freeing = 1;
	uv_close((uv_handle_t *)&b->timer, on_timer_closed);
}

/* Drop the Sentinel connections, if any (their callbacks see they are no
 * longer B's); with WATCH, the one subscribed too. */
static void drop_sen(struct rbus *b, int watch)
{
	redisAsyncContext *ac = b->sen, *w = watch ? b->watch : NULL;
	b->sen = NULL;
	if (watch)
		b->watch = NULL;
	if (ac)
		redisAsyncFree(ac);
	if (w)
		redisAsyncFree(w);
}

/* Drop every connection (their pending callbacks fail) and report down once. */
static void go_down(struct rbus *b)
{
	if (b->closing) {
		maybe_free(b);
		return;
	}
	redisAsyncContext *c = b->cmd, *s = b->sub;
	b->cmd = b->sub = NULL;
	b->cmd_up = b->sub_up = 0;
	b->role_ok = 0;
	b->step_deadline = 0;
	if (c)
		redisAsyncFree(c);
	if (s)
		redisAsyncFree(s);
	drop_sen(b, 1);
	fail_waits(b);
	b->retry_at = uv_now(b->loop) + b->backoff;
	b->backoff = b->backoff * 2 > RV_BUS_BACKOFF_MAX_MS ? RV_BUS_BACKOFF_MAX_MS : b->backoff * 2;
	if (b->pub.state == RV_BUS_UP) {
		b->pub.state = RV_BUS_DOWN;
		rv_warn("cluster: lost Redis: cross-node traffic fails until it is back");
		b->pub.on_state(b->pub.ud, RV_BUS_DOWN);
	}
}

static redisAsyncContext *open_at(struct rbus *b, const char *ip, int port, const char *path,
				  void (*on_conn)(const redisAsyncContext *, int),
				  void (*on_disc)(const redisAsyncContext *, int))
{
	redisAsyncContext *ac = path[0] ? redisAsyncConnectUnix(path) : redisAsyncConnect(ip, port);
	if (!ac)
		return NULL;
	if (ac->err || redisLibuvAttach(ac, b->loop) != REDIS_OK) {
		rv_debug("cluster: cannot connect to %s: %s", path[0] ? path : ip, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = b;
	redisAsyncSetConnectCallback(ac, on_conn);
	redisAsyncSetDisconnectCallback(ac, on_disc);
	return ac;
}

/* Connect to the Redis at b->addr (the master a Sentinel named, or given). */
static void open_redis(struct rbus *b)
{
	b->step_deadline = uv_now(b->loop) + RV_BUS_TIMEOUT_MS;
	if (!(b->cmd = open_at(b, b->addr.ip, b->addr.port, b->addr.path, on_connect, on_disconnect)) ||
	    !(b->sub = open_at(b, b->addr.ip, b->addr.port, b->addr.path, on_connect, on_disconnect)))
		go_down(b);
}

/* ---- Sentinel: which Redis is the master ---- */

static void ask_sentinel(struct rbus *b);

/* The Sentinel asked did not answer well: the next one, or down. */
static void next_sentinel(struct rbus *b, const char *why)
{
	const struct rv_bus_hostport *s = &b->addr.sentinels[b->sen_i];
	rv_debug("cluster: Sentinel %s port %d: %s", s->ip, s->port, why);
	drop_sen(b, 1);
	b->sen_i = (b->sen_i + 1) % b->addr.nsentinels;
	if (b->sen_asked < b->addr.nsentinels) {
		ask_sentinel(b);
		return;
	}
	if (!b->sen_warned) {
		b->sen_warned = 1;
		rv_warn("cluster: no Sentinel named master %s (last: %s port %d: %s): asking again", b->addr.master,
			s->ip, s->port, why);
	}
	go_down(b);
}

/* A message on the watch: +switch-master naming another address for our
 * master moves the bus there now (down, then the Sentinels asked again). */
static void on_switch(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rbus *b = privdata;
	redisReply *r = reply;
	struct rv_bus_hostport to;
	if (!r || ac != b->watch || b->closing || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (rv_bus_switch_parse(r->element[2]->str, r->element[2]->len, b->addr.master, &to) != 1 ||
	    (strcmp(to.ip, b->addr.ip) == 0 && to.port == b->addr.port))
		return;
	rv_warn("cluster: a Sentinel moved master %s to %s port %d: reconnecting there", b->addr.master, to.ip,
		to.port);
	go_down(b);
}

static void on_sen_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rbus *b = privdata;
	redisReply *r = reply;
	if (ac != b->sen)
		return;	/* dropped meanwhile */
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		next_sentinel(b, !r ? "connection lost"
			      : r->type == REDIS_REPLY_NIL ? "it does not know the master's name"
			      : r->type == REDIS_REPLY_ERROR ? r->str : "an answer that is not [IP, PORT]");
		return;
	}
	struct rv_bus_hostport hp;
	if (rv_bus_hostport_parse(r->element[0]->str, r->element[0]->len, r->element[1]->str, r->element[1]->len,
				  &hp) < 0) {
		next_sentinel(b, "the master's address is not IP and port");
		return;
	}
	char was[sizeof b->master];
	memcpy(was, b->master, sizeof was);
	snprintf(b->master, sizeof b->master, strchr(hp.ip, ':') ? "[%s]:%d" : "%s:%d", hp.ip, hp.port);
	if (strcmp(was, b->master) != 0)
		rv_info("cluster: Sentinel %s port %d names %s as master %s", b->addr.sentinels[b->sen_i].ip,
			b->addr.sentinels[b->sen_i].port, b->master, b->addr.master);
	memcpy(b->addr.ip, hp.ip, sizeof b->addr.ip);
	b->addr.port = hp.port;
	b->sen = NULL;
	drop_sen(b, 1);	/* an older watch, if any */
	/* AC now watches: the bus hears at once when the master moves */
	if (redisAsyncCommand(ac, on_switch, b, "SUBSCRIBE +switch-master") == REDIS_OK)
		b->watch = ac;
	else
		redisAsyncFree(ac);	/* freed once this callback returns */
	open_redis(b);
}

static void on_sen_connect(const redisAsyncContext *ac, int status)
{
	struct rbus *b = ac->data;
	if (status != REDIS_OK && ac == b->sen) {	/* hiredis frees AC after this */
		b->sen = NULL;
		next_sentinel(b, ac->errstr[0] ? ac->errstr : "cannot connect");
	}
}

static void on_sen_disconnect(const redisAsyncContext *ac, int status)
{
	struct rbus *b = ac->data;
	(void)status;
	if (ac == b->sen) {	/* before its answer */
		b->sen = NULL;
		next_sentinel(b, "connection lost");
	} else if (ac == b->watch) {	/* no watch until the next connection */
		b->watch = NULL;
		rv_debug("cluster: lost the Sentinel watching master %s", b->addr.master);
		maybe_free(b);
	} else {
		maybe_free(b);
	}
}

/* Ask Sentinel b->sen_i for the master's address. */
static void ask_sentinel(struct rbus *b)
{
	const struct rv_bus_hostport *s = &b->addr.sentinels[b->sen_i];
	b->sen_asked++;
	b->step_deadline = uv_now(b->loop) + RV_BUS_TIMEOUT_MS;
	if (!(b->sen = open_at(b, s->ip, s->port, "", on_sen_connect, on_sen_disconnect))) {
		next_sentinel(b, "cannot connect");
		return;
	}
	if (redisAsyncCommand(b->sen, on_sen_reply, b, "SENTINEL get-master-addr-by-name %s", b->addr.master) !=
	    REDIS_OK)
		next_sentinel(b, "cannot send");
}

/* hiredis 0.14's libuv adapter drops a poll error, so a TCP connection
 * refused would wait for its deadline: look at the socket. Its errno, or 0. */
static int connect_failed(const redisAsyncContext *ac)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (!ac || (ac->c.flags & REDIS_CONNECTED) || ac->c.fd < 0)
		return 0;
	if (getsockopt(ac->c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static void try_connect(struct rbus *b)
{
	b->retry_at = 0;
	b->pub.reconnects++;
	if (b->addr.master[0]) {
		b->role_ok = 0;
		b->sen_asked = 0;
		ask_sentinel(b);
	} else {
		b->role_ok = 1;
		open_redis(b);
	}
}

/* Every 100 ms: an answer overdue means a hung Redis (or Sentinel, or a
 * connection that does not complete); reconnect when due. */
static void on_tick(uv_timer_t *t)
{
	struct rbus *b = t->data;
	uint64_t now = uv_now(b->loop);
	if (b->closing) {	/* a Redis that never answers does not hold the close */
		if ((b->head && now >= b->head->deadline) || b->sen || !b->role_ok) {
			redisAsyncContext *c = b->cmd, *s = b->sub;
			b->cmd = b->sub = NULL;
			if (c)
				redisAsyncFree(c);
			if (s)
				redisAsyncFree(s);
			drop_sen(b, 1);
			maybe_free(b);
		}
		return;
	}
	if (b->head && now >= b->head->deadline) {
		b->pub.timeouts++;
		rv_warn("cluster: Redis did not answer within %d ms: reconnecting", RV_BUS_TIMEOUT_MS);
		go_down(b);
	}
	int err;
	if ((err = connect_failed(b->cmd)) || (err = connect_failed(b->sub))) {
		rv_debug("cluster: cannot connect to Redis: %s", strerror(err));
		go_down(b);
	}
	if ((err = connect_failed(b->sen)))
		next_sentinel(b, strerror(err));
	if (b->pub.state != RV_BUS_UP && b->step_deadline && now >= b->step_deadline) {
		b->pub.timeouts++;
		if (b->sen)
			next_sentinel(b, "no answer in time");
		else
			go_down(b);	/* connecting, or ROLE, took too long */
	}
	if (!b->cmd && !b->sub && !b->sen && b->retry_at && now >= b->retry_at)
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
	drop_sen(b, 1);
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
		if (!EVP_Digest(rv__bus_scripts[op], strlen(rv__bus_scripts[op]), md, &len, EVP_sha1(), NULL) || len != 20) {
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
