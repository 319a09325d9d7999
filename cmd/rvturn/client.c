/* client.c - the TURN operations on one client: each one a transaction of
 * the lib/turn.h engine, driven here over the client's socket (net.c). The
 * engine decides what to send and how long to wait; this file moves the
 * bytes and passes the time. Failures come back as return values and words
 * in c->err, never as an exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli.h"
#include "err.h"
#include "rvturn.h"
#include "token.h"
#include "turn.h"

#define SOFTWARE "rvturn/" RV_VERSION

/* Password from the environment, a file or a prompt; TURN REST credentials
 * from a shared secret (username "expiry:user", password base64 HMAC-SHA1),
 * as coturn's use-auth-secret expects. Never from argv. */
int credentials(struct opts *o)
{
	if (!o->user)
		return 0;
	snprintf(o->username, sizeof o->username, "%s", o->user);
	if (o->secret_file) {
		char secret[512];
		size_t len;
		int rc = rv_secret_read(o->secret_file, secret, sizeof secret, &len);
		if (rc < 0) {
			fprintf(stderr, "rvturn: cannot read --secret-file %s: %s\n", o->secret_file, rv_strerror(rc));
			return RV_EXIT_USAGE;
		}
		if (rv_turn_rest(secret, len, o->user, (int64_t)time(NULL) + (int64_t)o->ttl,
				 o->username, sizeof o->username, o->password) < 0) {
			fprintf(stderr, "rvturn: --user %s is too long for a TURN REST username\n", o->user);
			return RV_EXIT_USAGE;
		}
		o->have_password = 1;
		return 0;
	}
	const char *env = getenv("RV_TURN_PASSWORD");
	if (o->password_file) {
		size_t len;
		int rc = rv_secret_read(o->password_file, o->password, sizeof o->password, &len);
		if (rc < 0) {
			fprintf(stderr, "rvturn: cannot read --password-file %s: %s\n", o->password_file, rv_strerror(rc));
			return RV_EXIT_USAGE;
		}
	} else if (env) {
		snprintf(o->password, sizeof o->password, "%s", env);
	} else if (isatty(STDIN_FILENO)) {
		struct termios t, quiet;
		fprintf(stderr, "TURN password for %s: ", o->user);
		tcgetattr(STDIN_FILENO, &t);
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
		if (!fgets(o->password, sizeof o->password, stdin))
			o->password[0] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
		fputc('\n', stderr);
		o->password[strcspn(o->password, "\r\n")] = 0;
	} else {
		fprintf(stderr, "rvturn: -u needs a password: env RV_TURN_PASSWORD, --password-file or a terminal\n");
		return RV_EXIT_USAGE;
	}
	o->have_password = 1;
	return 0;
}

static uint64_t clock_ms(void)
{
	return (uint64_t)now_ms();
}

/* The client's engine, made at its first use: UDP resends after 500 ms,
 * doubling, 7 sends, the last wait 64 x 500 ms, each request's waits capped
 * by --timeout; TCP and TLS wait --timeout once. */
static struct rv_turn *engine(struct client *c)
{
	if (c->engine_ready)
		return &c->turn;
	struct rv_stunc_cfg cfg = {
		.rto_ms = 500, .rc = 7, .rm = 64, .ti_ms = (unsigned)(c->o->timeout * 1000),
		.reliable = c->tr != TR_UDP,
	};
	rv_turn_init(&c->turn, &cfg, SOFTWARE);
	rv_stunc_credentials(&c->turn.tx, c->o->username, c->o->have_password ? c->o->password : NULL);
	c->engine_ready = 1;
	return &c->turn;
}

void client_share_auth(struct client *dst, const struct client *src)
{
	engine(dst)->tx.auth = src->turn.tx.auth;
}

const char *client_realm(const struct client *c)
{
	return c->engine_ready ? c->turn.tx.auth.realm : "";
}

/* Move the engine's bytes until its transaction has a result: 0, or -1 when
 * the socket failed (c->err says why; an ICMP error can come out here).
 * Indications and ChannelData that arrive meanwhile are dropped (check and
 * relay read those themselves). */
static int run(struct client *c)
{
	struct rv_stunc *t = &c->turn.tx;
	uint8_t buf[RV_STUN_MAX + 8];
	while (t->state == RV_STUNC_WAIT) {
		const uint8_t *p;
		size_t n;
		if (rv_stunc_take(t, &p, &n) && client_send(c, p, n) < 0)
			return -1;
		int64_t left = rv_stunc_timeout(t) - (int64_t)clock_ms();
		if (left > 0) {
			int r = client_recv(c, buf, sizeof buf, left > 60000 ? 60000 : (int)left);
			if (r < 0)
				return -1;	/* refused or lost: definite, at once */
			if (r > 0) {
				rv_stunc_feed(t, buf, (size_t)r, clock_ms());
				continue;
			}
		}
		rv_stunc_tick(t, clock_ms());
	}
	return 0;
}

/* 300 Try Alternate: the same request to the server it names, afresh. */
static int redirect(struct client *c)
{
	struct rv_stunc *t = &c->turn.tx;
	const struct rv_stun_attr *alt = rv_stun_get(&t->msg, RV_STUN_A_ALTERNATE_SERVER);
	char addr[128];
	if (t->code != 300 || !alt || c->redirects >= 3 || rv_stun_addr(&t->msg, alt, &c->server) < 0)
		return 0;
	c->redirects++;
	rv_stunc_forget(t);
	if (client_connect(c, addr, sizeof addr) < 0)
		return -1;
	snprintf(c->moved_to, sizeof c->moved_to, "%s", addr);
	if (rv_stunc_start(t, t->method, t->build, t->ud, t->use_auth, clock_ms()) < 0) {
		snprintf(c->err, sizeof c->err, "request too large");
		return -1;
	}
	return 1;
}

/* The transaction STARTED (rv_turn_*'s result) to its end: 1 success (the
 * answer in c->turn.tx.msg), 0 error response (c->err_code), -1 no answer
 * (c->timed_out) or failure (c->err). */
static int transact(struct client *c, int started)
{
	struct rv_stunc *t = &c->turn.tx;
	c->err[0] = 0;
	c->err_code = 0;
	c->timed_out = 0;
	if (started < 0) {
		snprintf(c->err, sizeof c->err, "request too large");
		return -1;
	}
	for (;;) {
		if (run(c) < 0)
			return -1;
		switch (t->state) {
		case RV_STUNC_OK:
			return 1;
		case RV_STUNC_TIMEOUT:
			c->timed_out = 1;
			snprintf(c->err, sizeof c->err,
				 "no answer within %.0f s (wrong port or transport, or a firewall?)", c->o->timeout);
			return -1;
		case RV_STUNC_ERROR:
			break;
		default:
			snprintf(c->err, sizeof c->err, "the answer's MESSAGE-INTEGRITY does not match our key");
			return -1;
		}
		c->err_code = t->code;
		snprintf(c->err, sizeof c->err, "%d %s", t->code, t->reason);
		int r = redirect(c);
		if (r <= 0)
			return r;
	}
}

int client_exit(const struct client *c)
{
	if (c->unreachable)
		return RV_EXIT_CONNECT;
	if (c->lost)
		return RV_EXIT_LOST;
	if (c->timed_out)
		return RV_EXIT_TIMEOUT;
	if (c->err_code == 401 || c->err_code == 403 || c->err_code == 441)
		return RV_EXIT_DENIED;
	return RV_EXIT_FAIL;
}

/* The allocation as the engine now holds it. */
static void take_allocation(struct client *c)
{
	c->relayed = c->turn.relayed;
	if (c->turn.mapped.ss_family)
		c->mapped = c->turn.mapped;
	c->lifetime = c->turn.lifetime;
}

int turn_allocate(struct client *c, int auth)
{
	struct rv_turn *t = engine(c);
	int r = transact(c, rv_turn_allocate(t, c->o->lifetime, auth, clock_ms()));
	/* 437: the server still holds an allocation for this local port (an
	 * earlier client's); RFC 8656 7.3: try again from another port. */
	for (int tries = 0; r == 0 && c->err_code == 437 && tries < 3; tries++) {
		char addr[128];
		if (client_connect(c, addr, sizeof addr) < 0)
			return -1;
		r = transact(c, rv_turn_allocate(t, c->o->lifetime, auth, clock_ms()));
	}
	if (r != 1)
		return r;
	if (rv_turn_finish(t) < 0) {
		snprintf(c->err, sizeof c->err, "the answer has no XOR-RELAYED-ADDRESS");
		return -1;
	}
	take_allocation(c);
	return 1;
}

int turn_refresh(struct client *c, unsigned lifetime)
{
	struct rv_turn *t = engine(c);
	int r = transact(c, rv_turn_refresh(t, lifetime, clock_ms()));
	if (r == 1) {
		rv_turn_finish(t);
		c->lifetime = t->lifetime;
	}
	return r;
}

int turn_permission(struct client *c, const struct sockaddr_storage *peer)
{
	return transact(c, rv_turn_permission(engine(c), peer, clock_ms()));
}

int turn_bind(struct client *c, uint16_t ch, const struct sockaddr_storage *peer)
{
	return transact(c, rv_turn_channel_bind(engine(c), ch, peer, clock_ms()));
}

int turn_send(struct client *c, const struct sockaddr_storage *peer, const void *p, size_t n)
{
	struct rv_stun_builder b;
	if (rv_turn_send_build(&b, peer, p, n) < 0)
		return RV_ETOOBIG;
	return client_send(c, b.buf, b.len);
}

int turn_channel_send(struct client *c, uint16_t ch, const void *p, size_t n)
{
	uint8_t buf[RV_STUN_MAX + 8];
	int len = rv_channel_data_build(buf, sizeof buf, ch, p, n, c->tr != TR_UDP);
	if (len < 0)
		return len;
	return client_send(c, buf, (size_t)len);
}

int binding(struct client *c)
{
	struct rv_stunc *t = &engine(c)->tx;
	int r = transact(c, rv_stunc_start(t, RV_STUN_BINDING, NULL, NULL, 0, clock_ms()));
	if (r != 1)
		return r;
	const struct rv_stun_attr *a = rv_stun_get(&t->msg, RV_STUN_A_XOR_MAPPED_ADDRESS);
	if (!a)
		a = rv_stun_get(&t->msg, RV_STUN_A_MAPPED_ADDRESS);
	if (!a || rv_stun_addr(&t->msg, a, &c->mapped) < 0) {
		snprintf(c->err, sizeof c->err, "the answer has no mapped address");
		return -1;
	}
	return 1;
}
