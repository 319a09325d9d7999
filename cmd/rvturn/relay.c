/* relay.c - rvturn relay (netcat through a relay) and rvturn session (the
 * TURN client component as a script: one verb a line, one event a line). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cJSON.h>

#include "cli.h"
#include "rvturn.h"

static int connect_and_allocate(struct opts *o, struct client *c)
{
	char addr[128];
	if (client_open(c, o, o->uri.tr, addr, sizeof addr) < 0) {
		rv_say_error("%s", c->err);
		return client_exit(c);
	}
	if (turn_allocate(c, 1) != 1) {
		rv_say_error("allocate: %s", c->err);
		return client_exit(c);
	}
	return 0;
}

/* Keep the allocation, permission and channel alive when the engine's
 * timers say so (lib/turn.h: the allocation at half its lifetime, the
 * permission every 240 s, the channel every 480 s). */
static void keep_alive(struct client *c, struct rv_turn_timers *k, const struct sockaddr_storage *peer)
{
	int due = rv_turn_timers_due(k, c->lifetime, (uint64_t)now_ms());
	if (due & RV_TURN_DUE_ALLOC)
		turn_refresh(c, c->o->lifetime);
	if (due & RV_TURN_DUE_PERM)
		turn_permission(c, peer);
	if (due & RV_TURN_DUE_CHAN)
		turn_bind(c, 0x4000, peer);
}

int cmd_relay(struct opts *o)
{
	struct client c;
	struct sockaddr_storage peer;
	char s1[128];
	if (!o->peer || addr_parse(o->peer, &peer) < 0) {
		fprintf(stderr, "rvturn: relay needs --peer IP:PORT\n");
		return RV_EXIT_USAGE;
	}
	int rc = connect_and_allocate(o, &c);
	if (rc)
		goto out;
	if (turn_permission(&c, &peer) != 1 || turn_bind(&c, 0x4000, &peer) != 1) {
		rv_say_error("%s: %s%s", o->peer, c.err, c.err_code == 403 ?
			     " (the server refuses this peer; coturn: --allow-loopback-peers for loopback)" : "");
		rc = client_exit(&c);
		goto out;
	}
	rv_say_info("relayed address %s, sending to %s", addr_str(&c.relayed, s1, sizeof s1), o->peer);
	struct rv_turn_timers k;
	rv_turn_timers_start(&k, c.lifetime, (uint64_t)now_ms());
	int in_open = 1;
	double linger_until = 0;
	uint8_t buf[RV_STUN_MAX];
	for (;;) {
		struct pollfd pf[2] = { { c.fd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
		int timeout = in_open ? 1000 : (int)(linger_until - now_ms());
		if (!in_open && timeout <= 0)
			break;
		if (poll(pf, in_open ? 2 : 1, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents || c.rlen) {
			int n;
			while ((n = client_recv(&c, buf, sizeof buf, 0)) > 0) {
				const uint8_t *d;
				size_t len;
				struct sockaddr_storage from;
				uint16_t ch;
				if (rv_turn_data(buf, (size_t)n, &d, &len, &from, &ch))
					rv_out_bytes(d, len);
			}
			if (n < 0) {
				rv_say_error("%s", c.err);
				rc = client_exit(&c);
				goto out;
			}
		}
		if (in_open && pf[1].revents) {
			uint8_t in[1200];	/* one read, one relayed datagram */
			ssize_t n = read(STDIN_FILENO, in, sizeof in);
			if (n <= 0) {
				in_open = 0;
				linger_until = now_ms() + 1000;	/* answers still on their way */
			} else {
				turn_channel_send(&c, 0x4000, in, (size_t)n);
			}
		}
		keep_alive(&c, &k, &peer);
		if (c.lost || c.unreachable) {	/* a send or a refresh found the server gone */
			rv_say_error("%s", c.err);
			rc = client_exit(&c);
			goto out;
		}
	}
	turn_refresh(&c, 0);
out:
	client_close(&c);
	return rc;
}

/* ---- session ---- */

static void event(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static cJSON *ev_obj;

static void event(const char *name, const char *fmt, ...)
{
	char text[2048] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (rv_out_json_mode()) {
		cJSON *o = ev_obj ? ev_obj : cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", name);
		rv_out_obj(o);
	} else {
		rv_out_line("%s %s", name, text);
		cJSON_Delete(ev_obj);
	}
	ev_obj = NULL;
}

static cJSON *fields(void)
{
	if (!ev_obj)
		ev_obj = cJSON_CreateObject();
	return ev_obj;
}

static void error_event(struct client *c, const char *verb)
{
	cJSON_AddStringToObject(fields(), "verb", verb);
	cJSON_AddNumberToObject(fields(), "code", c->err_code);
	cJSON_AddStringToObject(fields(), "reason", c->err);
	event("error", "%s %d %s", verb, c->err_code, c->err);
}

static void show_data(const struct opts *o, const uint8_t *d, size_t len, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 3 < cap; i++) {
		if (o->hex)
			k += (size_t)snprintf(out + k, cap - k, "%02x", d[i]);
		else
			out[k++] = d[i] < 0x20 || d[i] == 0x7f ? '.' : (char)d[i];
	}
	out[k] = 0;
}

/* The bytes of TEXT: as is, or decoded from hex with --hex. */
static size_t payload(const struct opts *o, const char *text, uint8_t *out, size_t cap)
{
	size_t n = strlen(text);
	if (!o->hex) {
		n = n < cap ? n : cap;
		memcpy(out, text, n);
		return n;
	}
	size_t k = 0;
	for (size_t i = 0; i + 1 < n && k < cap; i += 2) {
		unsigned v;
		if (sscanf(text + i, "%2x", &v) != 1)
			break;
		out[k++] = (uint8_t)v;
	}
	return k;
}

/* The verbs that act on an allocation: without one they fail locally. */
static int needs_allocation(const char *verb)
{
	static const char *const verbs[] = { "refresh", "permission", "bind", "send", "data" };
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (!strcmp(verb, verbs[i]))
			return 1;
	return 0;
}

struct binding_slot {
	struct sockaddr_storage peer;
	uint16_t ch;
};

static void session_line(struct opts *o, struct client *c, int *have_alloc, char *line,
			 struct binding_slot *slots, int *nslots, int *quit)
{
	char verb[32] = "", arg[512] = "", s1[128];
	int off = 0;
	sscanf(line, "%31s %n", verb, &off);
	const char *rest = line + off;
	sscanf(rest, "%511s", arg);
	const char *text = strchr(rest, ' ') ? strchr(rest, ' ') + 1 : "";
	struct sockaddr_storage peer;
	uint8_t data[1400];

	if (!verb[0] || verb[0] == '#')
		return;
	if (!*have_alloc && needs_allocation(verb)) {
		c->err_code = 0;	/* nothing goes to the server without an allocation */
		snprintf(c->err, sizeof c->err, "allocate first");
		error_event(c, verb);
		return;
	}
	if (!strcmp(verb, "quit")) {
		*quit = 1;
	} else if (!strcmp(verb, "allocate")) {
		if (arg[0])
			o->lifetime = (unsigned)atoi(arg);
		if (turn_allocate(c, 1) == 1) {
			*have_alloc = 1;
			cJSON_AddStringToObject(fields(), "relayed", addr_str(&c->relayed, s1, sizeof s1));
			cJSON_AddNumberToObject(fields(), "lifetime", c->lifetime);
			event("allocated", "%s lifetime %u", s1, c->lifetime);
		} else {
			error_event(c, verb);
		}
	} else if (!strcmp(verb, "refresh")) {
		unsigned lt = (unsigned)atoi(arg);
		if (turn_refresh(c, lt) == 1) {
			cJSON_AddNumberToObject(fields(), "lifetime", lt ? c->lifetime : 0);
			event("refreshed", "%u", lt ? c->lifetime : 0);
			if (!lt)
				*have_alloc = 0;
		} else {
			error_event(c, verb);
		}
	} else if (!strcmp(verb, "permission")) {
		char ip[128];
		int n = 0;
		while (sscanf(rest, "%127s %n", ip, &n) == 1) {
			char withport[140];
			snprintf(withport, sizeof withport, strchr(ip, ':') && ip[0] != '[' ? "[%s]:0" : "%s:0", ip);
			if (addr_parse(withport, &peer) < 0) {
				c->err_code = 0;
				snprintf(c->err, sizeof c->err, "'%s' is not an IP address", ip);
				error_event(c, verb);
			} else if (turn_permission(c, &peer) == 1) {
				cJSON_AddStringToObject(fields(), "peer", ip);
				event("permission", "%s", ip);
			} else {
				error_event(c, verb);
			}
			rest += n;
		}
	} else if (!strcmp(verb, "bind")) {
		if (addr_parse(arg, &peer) < 0 || *nslots >= 16) {
			c->err_code = 0;
			snprintf(c->err, sizeof c->err, "bind takes IP:PORT");
			error_event(c, verb);
			return;
		}
		uint16_t ch = (uint16_t)(0x4000 + *nslots);
		for (int i = 0; i < *nslots; i++)
			if (!memcmp(&slots[i].peer, &peer, sizeof peer))
				ch = slots[i].ch;
		if (turn_bind(c, ch, &peer) == 1) {
			if (ch == 0x4000 + *nslots)
				slots[(*nslots)++] = (struct binding_slot){ peer, ch };
			cJSON_AddNumberToObject(fields(), "channel", ch);
			cJSON_AddStringToObject(fields(), "peer", arg);
			event("bound", "0x%04x %s", ch, arg);
		} else {
			error_event(c, verb);
		}
	} else if (!strcmp(verb, "send") || !strcmp(verb, "data")) {
		if (addr_parse(arg, &peer) < 0) {
			c->err_code = 0;
			snprintf(c->err, sizeof c->err, "%s takes IP:PORT TEXT", verb);
			error_event(c, verb);
			return;
		}
		size_t n = payload(o, text, data, sizeof data);
		int ch = 0;
		for (int i = 0; i < *nslots; i++)
			if (!memcmp(&slots[i].peer, &peer, sizeof peer))
				ch = slots[i].ch;
		c->err_code = 0;
		if (!strcmp(verb, "data") && !ch)
			snprintf(c->err, sizeof c->err, "no channel bound to %.128s (bind it first)", arg);
		else if ((!strcmp(verb, "send") ? turn_send(c, &peer, data, n)
						 : turn_channel_send(c, (uint16_t)ch, data, n)) == 0)
			return;
		error_event(c, verb);	/* (a failed send put its reason in c->err) */
	} else {
		c->err_code = 0;
		snprintf(c->err, sizeof c->err, "unknown verb '%s' (allocate, refresh, permission, send, bind, data, quit)", verb);
		error_event(c, verb);
	}
}

/* Keep what the script made alive when the engine's timers say so
 * (lib/turn.h): the allocation at half its lifetime, the bound channels
 * (and so their permissions) when a permission or a channel is due. */
static void session_keep_alive(struct client *c, struct rv_turn_timers *k, const struct binding_slot *slots,
			       int nslots)
{
	int due = rv_turn_timers_due(k, c->lifetime, (uint64_t)now_ms());
	if (due & RV_TURN_DUE_ALLOC)
		turn_refresh(c, c->o->lifetime);
	if (due & (RV_TURN_DUE_PERM | RV_TURN_DUE_CHAN))
		for (int i = 0; i < nslots; i++)
			turn_bind(c, slots[i].ch, &slots[i].peer);
}

int cmd_session(struct opts *o)
{
	struct client c;
	char addr[128], line[4096], s1[128], shown[4096];
	size_t linelen = 0;
	struct binding_slot slots[16];
	int nslots = 0, have_alloc = 0, quit = 0, in_open = 1;
	if (client_open(&c, o, o->uri.tr, addr, sizeof addr) < 0) {
		rv_say_error("%s", c.err);
		client_close(&c);
		return client_exit(&c);
	}
	uint8_t buf[RV_STUN_MAX];
	double linger_until = 0;
	struct rv_turn_timers k;
	int timed = 0;	/* K runs: started when an allocation was made */
	/* the server not there (on UDP: an ICMP error to a verb) or gone ends it */
	while (!quit && !c.unreachable && !c.lost) {
		if (have_alloc && !timed)
			rv_turn_timers_start(&k, c.lifetime, (uint64_t)now_ms());
		timed = have_alloc;
		if (timed)
			session_keep_alive(&c, &k, slots, nslots);
		struct pollfd pf[2] = { { c.fd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
		int timeout = in_open ? 1000 : (int)(linger_until - now_ms());
		if (!in_open && timeout <= 0)
			break;
		poll(pf, in_open ? 2 : 1, timeout);
		int n;
		while (!c.unreachable && !c.lost && (n = client_recv(&c, buf, sizeof buf, 0)) > 0) {
			const uint8_t *d;
			size_t len;
			struct sockaddr_storage from;
			uint16_t ch;
			if (!rv_turn_data(buf, (size_t)n, &d, &len, &from, &ch))
				continue;
			show_data(o, d, len, shown, sizeof shown);
			if (ch) {
				const char *who = "?";
				for (int i = 0; i < nslots; i++)
					if (slots[i].ch == ch)
						who = addr_str(&slots[i].peer, s1, sizeof s1);
				cJSON_AddNumberToObject(fields(), "channel", ch);
				cJSON_AddStringToObject(fields(), "from", who);
				cJSON_AddStringToObject(fields(), "text", shown);
				event("channel-data", "0x%04x %s %s", ch, who, shown);
			} else {
				cJSON_AddStringToObject(fields(), "from", addr_str(&from, s1, sizeof s1));
				cJSON_AddStringToObject(fields(), "text", shown);
				event("data", "%s %s", s1, shown);
			}
		}
		if (in_open && (pf[1].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(STDIN_FILENO, line + linelen, sizeof line - 1 - linelen);
			if (r <= 0) {
				in_open = 0;
				linger_until = now_ms() + 1000;
				r = 0;
			}
			linelen += (size_t)r;
			char *nl;
			while (!quit && !c.unreachable && !c.lost &&
			       ((nl = memchr(line, '\n', linelen)) || (!in_open && linelen))) {
				size_t l = nl ? (size_t)(nl - line) : linelen;
				line[l] = 0;
				session_line(o, &c, &have_alloc, line, slots, &nslots, &quit);
				size_t used = nl ? l + 1 : l;
				memmove(line, line + used, linelen - used);
				linelen -= used;
			}
			if (linelen == sizeof line - 1)
				linelen = 0;	/* an overlong line is dropped */
		}
	}
	int rc = 0;
	if (c.unreachable || c.lost) {
		rv_say_error("%s", c.err);
		rc = client_exit(&c);
	} else if (have_alloc) {
		turn_refresh(&c, 0);
	}
	client_close(&c);
	return rc;
}
