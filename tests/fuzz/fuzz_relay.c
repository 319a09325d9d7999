/* fuzz_relay.c - rvserver's media relay (cmd/rvserver/relay.c, relay_ep.c,
 * relay_stats.c, linked as they are) driven by a script: connections open
 * and close, join and leave groups, change their default receivers and
 * allowed senders, send "stream", "stream-end", "watch" and "unwatch"
 * requests (built from the input, or raw JSON), STUN Bindings (signed with
 * the right password, a wrong one, or none) and RTP and RTCP over UDP from
 * a set of addresses or framed on TCP. It runs on a real rv_router; the
 * relay reaches its host only through relay.h's host functions, which this
 * file provides: a connection of its own (struct conn below), a clock it
 * moves, and sends that go nowhere: the frame and datagram sends check what
 * they are given.
 *
 * The input: a byte of settings, then records of an op byte and its
 * arguments (see the cases in LLVMFuzzerTestOneInput). After each record
 * the relay's tables are checked against the connections that exist: every
 * stream's sender and receivers are live endpoints, every by_addr and
 * by_fb entry is current. At the end every connection closes, after which
 * nothing may be left; leaks and uses after free are ASan's. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "../../cmd/rvserver/relay_int.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "router.h"
#include "rtp.h"
#include "stun.h"

#define NSLOT 6

static const char *const ids[] = { "alice", "bob", "carol", "dave" };
static const char *const groups[] = { "room", "ops", "lobby" };

/* A connection as the harness holds it: what relay.h's host functions
 * report of it. */
struct conn {
	struct relay_ep *ep;
	struct rv_client *client;     /* after hello */
	char numkey[16];              /* its number, once it has one */
	int recv;                     /* its role is recv */
	int closing, leaving;
	int full;                     /* its next send finds its queue full */
};

static struct relay relay;
static struct rv_router router;
static struct rv_router_conf rconf;
static struct rv_map by_num;
static unsigned last_num;
static struct conn *slots[NSLOT];
static uint64_t clock_ms;
static int udp_fail;
static uint64_t frames_out, slow_drops;

/* ---- relay.h's host functions ---- */

uint64_t relay_now(const struct relay *r)
{
	if (r != &relay)
		abort();
	return clock_ms;
}

static long group_sources;    /* streams to a group begun minus ended: 0 once all ended */
void relay_group_source(struct relay *r, const char *group, int delta)
{
	if (r != &relay || !group)
		abort();
	group_sources += delta;
}

struct relay_ep **relay_ep_slot(struct conn *c) { return &c->ep; }
struct rv_client *relay_client(const struct conn *c) { return c->client; }
int relay_conn_open(const struct conn *c) { return !c->closing; }
size_t relay_conn_queued(const struct conn *c) { (void)c; return 0; }

const char *relay_conn_number(struct conn *c)
{
	if (!c->numkey[0]) {
		snprintf(c->numkey, sizeof c->numkey, "%u", ++last_num);
		if (rv_map_put(&by_num, c->numkey, c) < 0) {
			c->numkey[0] = 0;
			return NULL;
		}
	}
	return c->numkey;
}

struct conn *relay_conn_by_number(struct relay *r, const char *num)
{
	if (r != &relay)
		abort();
	return rv_map_get(&by_num, num);
}

/* The server's bye: told, then closing; it leaves the router before the
 * next poll (settle). */
static void bye(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->client)
		c->leaving = 1;
}

/* A frame to C: every byte must be readable, and a control frame must
 * decode as one whole frame. */
int relay_conn_send(struct conn *c, const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen)
{
	if (c->closing)
		return RV_ECLOSED;
	uint8_t *copy = malloc(hlen + blen + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, head, hlen);
	if (blen)
		memcpy(copy + hlen, body, blen);
	struct rv_frame_view v;
	if (rv_frame_decode(copy, hlen + blen, 1 << 16, &v) != (long)(hlen + blen))
		abort();
	free(copy);
	if (c->full) {	/* its queue is full: dropped as a slow consumer */
		c->full = 0;
		slow_drops++;
		bye(c);
		return RV_ETOOBIG;
	}
	frames_out++;
	return 0;
}

/* A datagram the relay sends, checked: a relayed packet goes only to a
 * registered address; anything else is a STUN answer. */
static void check_send(const uint8_t *p, size_t n, const struct sockaddr *addr)
{
	if (!addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		abort();
	uint8_t *copy = malloc(n + 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	free(copy);
	if (n >= 1 && (p[0] & 0xC0) == 0x80) {
		uint8_t key[RELAY_ADDR_KEY];
		relay_addr_key(addr, key);
		struct relay_ep *ep = rv_bmap_get(&relay.by_addr, key);
		if (!ep || !ep->udp)
			abort();
	} else {
		struct rv_stun_msg m;
		if (rv_stun_parse(p, n, &m) < 0 || m.len != n || m.method != RV_STUN_BINDING ||
		    (m.cls != RV_STUN_SUCCESS && m.cls != RV_STUN_ERROR))
			abort();
	}
}

/* Nothing leaves the process; a send may fail. */
void relay_udp_send(struct relay *r, const void *p, size_t n, const struct sockaddr *to)
{
	if (r != &relay)
		abort();
	check_send(p, n, to);
	if (udp_fail)
		r->n.drops++;
}

/* The batch, checked at once: relayed RTP goes only to a registered
 * address, and DEST is the endpoint the address belongs to. */
void relay_udp_queue(struct relay *r, const void *dest, const struct sockaddr *to, socklen_t tolen,
		     const void *p, size_t n)
{
	if (r != &relay || !dest || tolen > sizeof(struct sockaddr_in6))
		abort();
	check_send(p, n, to);
	uint8_t key[RELAY_ADDR_KEY];
	relay_addr_key(to, key);
	if (rv_bmap_get(&relay.by_addr, key) != dest)
		abort();
}

void relay_udp_flush(struct relay *r)
{
	if (r != &relay)
		abort();
}

/* Membership events: the router's strings must be readable. */
static void on_event(void *ud, struct rv_client *to, enum rv_event_type type, const struct rv_group *g,
		     const struct rv_client *who)
{
	(void)ud;
	(void)type;
	if (to->recv && strlen(g->name) + strlen(who->id) == 0)
		abort();
}

/* ---- the harness's side of a connection ---- */

static int is_live_ep(const struct relay_ep *ep)
{
	for (int i = 0; i < NSLOT; i++)
		if (slots[i] && slots[i]->ep == ep)
			return 1;
	return 0;
}

/* A hello: the client attaches; a receiving connection replaces an older
 * one of the same id (told to go). */
static void open_conn(int slot, const char *id, int recv, int replies)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	struct rv_client *cl = rv_router_attach(&router, id);
	if (!cl) {
		free(c);
		return;
	}
	slots[slot] = c;
	c->client = cl;
	c->recv = recv;
	if (recv) {
		struct conn *old = cl->recv;
		cl->recv = c;
		if (old) {
			old->client = NULL;
			rv_router_detach(&router, cl);
			bye(old);
		}
	}
	if (replies)
		relay_conn_number(c);
	relay_changed(&relay);
}

/* Before the next poll: those that said bye leave the router. */
static void settle(void)
{
	for (int i = 0; i < NSLOT; i++) {
		struct conn *c = slots[i];
		if (!c || !c->leaving)
			continue;
		c->leaving = 0;
		relay_conn_closed(&relay, c);
		if (!c->client)
			continue;
		if (c->client->recv == c)
			c->client->recv = NULL;
		rv_router_detach(&router, c->client);
		c->client = NULL;
	}
}

/* The connection is gone. */
static void close_conn(int slot)
{
	struct conn *c = slots[slot];
	c->leaving = 0;
	relay_conn_closed(&relay, c);
	if (c->ep)
		abort();
	if (c->numkey[0])
		rv_map_del(&by_num, c->numkey);
	if (c->client) {
		if (c->client->recv == c)
			c->client->recv = NULL;
		rv_router_detach(&router, c->client);
	}
	free(c);
	slots[slot] = NULL;
}

/* The server reads no more from a connection that is closing, and nothing
 * but a hello before it has a client. */
static struct conn *reading(uint8_t sel)
{
	struct conn *c = slots[sel % NSLOT];
	if (!c || c->closing || !c->client)
		return NULL;
	return c;
}

/* The relay's rows of proto.c's dispatch table: 1 when TYPE is one. A
 * watch from a sending connection is refused there, before the relay. */
static int request(struct conn *c, const char *type, cJSON *h)
{
	if (strcmp(type, "stream") == 0)
		relay_stream(&relay, c, h);
	else if (strcmp(type, "stream-end") == 0)
		relay_stream_end(&relay, c, h);
	else if (strcmp(type, "watch") == 0 || strcmp(type, "unwatch") == 0) {
		if (c->recv)
			relay_watch(&relay, c, h, type[0] == 'w');
	} else
		return 0;
	return 1;
}

static void from_addr(uint8_t b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	uint16_t port = (uint16_t)(40000 + (b >> 3));
	if (b & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr.s6_addr[15] = (uint8_t)(1 + ((b >> 1) & 3));
		if (b & 4) {	/* 2001:db8::N, else ::N */
			s6->sin6_addr.s6_addr[0] = 0x20;
			s6->sin6_addr.s6_addr[1] = 0x01;
			s6->sin6_addr.s6_addr[2] = 0x0d;
			s6->sin6_addr.s6_addr[3] = 0xb8;
		}
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(0x7f000001u + ((b >> 1) & 3));
	}
}

/* A datagram, in a buffer of its own size so that reading past it is caught. */
static void udp_in(const uint8_t *p, size_t n, const struct sockaddr *from)
{
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
	relay_udp_in(&relay, copy, n, from);
	free(copy);
}

static void tcp_in(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
	relay_tcp_in(&relay, c, copy, n);
	free(copy);
}

static struct mstream *nth_stream(uint8_t k)
{
	if (!relay.nstreams)
		return NULL;
	size_t i = k % relay.nstreams;
	struct mstream *st = relay.streams;
	while (st && i--)
		st = st->next;
	return st;
}

/* ---- invariants ---- */

static void check(void)
{
	struct relay *m = &relay;
	size_t n = 0, subs = 0;
	for (struct mstream *st = m->streams; st; st = st->next) {
		n++;
		if (!is_live_ep(st->src) || st->src->c->ep != st->src || st->nssrc < 1 || st->nssrc > MAX_SSRCS)
			abort();
		for (size_t i = 0; i < st->nsubs; i++) {
			struct sub *s = st->subs[i];
			if (!is_live_ep(s->rx) || rv_bmap_get(&m->by_fb, &s->fb_ssrc) != st || s->fb_ssrc == 0)
				abort();
			for (size_t j = 0; j < i; j++)
				if (st->subs[j]->rx == s->rx)
					abort();	/* one receiver twice */
		}
		subs += st->nsubs;
	}
	if (n != m->nstreams || m->by_fb.count != subs)
		abort();
	size_t it = 0, regs = 0;
	const uint8_t *key;
	struct relay_ep *ep;
	while ((ep = rv_bmap_next(&m->by_addr, &it, &key))) {
		if (!is_live_ep(ep) || !ep->udp || memcmp(key, ep->addrkey, RELAY_ADDR_KEY) != 0)
			abort();
		regs++;
	}
	size_t udp = 0, nums = 0;
	for (int i = 0; i < NSLOT; i++) {
		struct conn *c = slots[i];
		if (!c)
			continue;
		if (c->ep && (c->ep->c != c))
			abort();
		if (c->ep && c->ep->udp) {
			if (rv_bmap_get(&m->by_addr, c->ep->addrkey) != c->ep)
				abort();
			udp++;
		}
		if (c->numkey[0]) {
			if (rv_map_get(&by_num, c->numkey) != c)
				abort();
			nums++;
		}
	}
	if (udp != regs || nums != by_num.count)
		abort();
}

/* ---- the script ---- */

struct input {
	const uint8_t *p;
	size_t n, off;
};

static uint8_t u8(struct input *in)
{
	return in->off < in->n ? in->p[in->off++] : 0;
}

static const uint8_t *bytes(struct input *in, size_t *len)
{
	size_t want = *len;
	if (want > in->n - in->off)
		want = in->n - in->off;
	*len = want;
	const uint8_t *p = in->p + in->off;
	in->off += want;
	return p;
}

static size_t u16(struct input *in)
{
	size_t hi = u8(in);
	return hi << 8 | u8(in);
}

static cJSON *media_entry(uint8_t e)
{
	static const double ssrcs[] = { 1, 2, 3, 0x11111111, 4294967295.0, 0, 4294967296.0, -1 };
	static const char *const codecs[] = { "H264", "VP8", "opus", "" };
	if (e == 0xff)
		return cJSON_CreateString("video");
	cJSON *it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "kind", e & 8 ? "audio" : "video");
	if (!(e & 0x80))
		cJSON_AddStringToObject(it, "codec", codecs[(e >> 4) & 3]);
	if (!(e & 0x40))
		cJSON_AddNumberToObject(it, "ssrc", ssrcs[e & 7]);
	return it;
}

/* A request built from a few bytes: valid most of the time. */
static void built_request(struct conn *c, struct input *in)
{
	static const char *const types[] = { "stream", "stream-end", "watch", "unwatch", "ping", "stream " };
	uint8_t kind = u8(in), seq = u8(in);
	const char *type = types[kind % 6];
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", type);
	if (seq)
		cJSON_AddNumberToObject(h, "seq", seq);
	if (kind % 6 == 0) {
		uint8_t t = u8(in), nm = u8(in);
		const char *id = ids[(t >> 3) & 3], *g = groups[(t >> 5) % 3];
		switch ((t & 7) % 5) {
		case 0: cJSON_AddStringToObject(h, "to", id); break;
		case 1: cJSON_AddStringToObject(h, "group", g); break;
		case 2: break;	/* default receivers */
		case 3:
			cJSON_AddStringToObject(h, "to", id);
			cJSON_AddStringToObject(h, "group", g);
			break;
		case 4: cJSON_AddStringToObject(h, t & 8 ? "to" : "group", t & 16 ? "not valid" : ""); break;
		}
		if (nm & 0x80) {
			cJSON_AddNumberToObject(h, "media", 1);
		} else {
			cJSON *a = cJSON_AddArrayToObject(h, "media");
			for (int i = 0; i < (nm & 7); i++)
				cJSON_AddItemToArray(a, media_entry(u8(in)));
		}
		if (nm & 0x40) {
			cJSON *s = cJSON_AddObjectToObject(h, "srtp");
			cJSON_AddStringToObject(s, "suite", "AES_CM_128_HMAC_SHA1_80");
			cJSON_AddStringToObject(s, "key", "AAAA");
		}
	} else if (kind % 6 == 1) {
		uint8_t s = u8(in);
		struct mstream *st = nth_stream(s);
		if (s == 0xff)
			;	/* no stream named */
		else if (s & 0x80 || !st)
			cJSON_AddNumberToObject(h, "stream", s & 0x7f);
		else
			cJSON_AddNumberToObject(h, "stream", st->id);
	}
	int handled = request(c, type, h);
	if (handled != (kind % 6 < 4))
		abort();
	cJSON_Delete(h);
}

static void binding_in(struct input *in)
{
	uint8_t sel = u8(in), f = u8(in), a = u8(in);
	size_t tl = 12;
	const uint8_t *t = bytes(in, &tl);
	uint8_t tid[12] = { 0 };
	memcpy(tid, t, tl);
	char user[64] = "0", pass[33];
	struct conn *fc = slots[sel % NSLOT];
	if (f & 1)
		snprintf(user, sizeof user, "%u", (unsigned)sel);
	else if (fc && fc->numkey[0])
		snprintf(user, sizeof user, "%s", fc->numkey);
	if (f & 0x80)	/* too long a name */
		snprintf(user, sizeof user, "%s", "123456789012345678901234567890");
	/* the password the relay gives the connection USER names, if any */
	struct conn *named = rv_map_get(&by_num, user);
	cJSON *cred = named ? relay_udp_info(&relay, named) : NULL;
	const char *pw = rv_json_str(cred, "pass");
	snprintf(pass, sizeof pass, "%s", pw && strlen(pw) == 32 ? pw : "0123456789abcdef0123456789abcdef");
	cJSON_Delete(cred);
	if (f & 2)
		pass[0] ^= 1;
	struct rv_stun_builder b;
	rv_stun_begin(&b, f & 0x40 ? RV_STUN_ALLOCATE : RV_STUN_BINDING, f & 0x20 ? RV_STUN_INDICATION : RV_STUN_REQUEST,
		      tid);
	if (f & 0x10)
		rv_stun_add_str(&b, RV_STUN_A_SOFTWARE, "fuzz");
	rv_stun_add_str(&b, RV_STUN_A_USERNAME, user);
	if (!(f & 4))
		rv_stun_add_integrity(&b, (const uint8_t *)pass, 32);
	if (f & 8)
		rv_stun_add_fingerprint(&b);
	const uint8_t *msg;
	size_t len;
	if (rv_stun_end(&b, &msg, &len) < 0)
		return;
	struct sockaddr_storage ss;
	from_addr(a, &ss);
	uint64_t ok = relay.n.bindings;
	udp_in(msg, len, (struct sockaddr *)&ss);
	/* a signed Binding request for a connection with media registers it */
	if (!(f & 0xe7) && fc && fc->numkey[0] && !fc->closing && fc->ep) {
		uint8_t key[RELAY_ADDR_KEY];
		relay_addr_key((struct sockaddr *)&ss, key);
		if (relay.n.bindings != ok + 1 || rv_bmap_get(&relay.by_addr, key) != fc->ep)
			abort();
	}
}

/* An RTP or RTCP packet that a stream's sender or receivers would send. */
static void media_in(struct input *in)
{
	uint8_t sel = u8(in), kind = u8(in);
	size_t n = u8(in);
	const uint8_t *body = bytes(in, &n);
	struct mstream *st = nth_stream(sel);
	if (!st)
		return;
	uint8_t pkt[12 + 256];
	struct relay_ep *ep = st->src;
	uint32_t ssrc = st->ssrc[(kind >> 2) % st->nssrc];
	size_t len;
	if (kind % 4 == 0) {	/* RTP */
		struct rv_rtp r = { .pt = 96, .marker = kind >> 7, .seq = sel, .ts = kind, .ssrc = ssrc };
		rv_rtp_header(pkt, &r);
		memcpy(pkt + 12, body, n);
		len = 12 + n;
	} else {		/* RTCP: a sender report, or a receiver's feedback */
		n &= ~(size_t)3;
		uint8_t pt = RV_RTCP_SR;
		if (kind % 4 >= 2) {
			if (!st->nsubs)
				return;
			struct sub *s = st->subs[(kind >> 2) % st->nsubs];
			ssrc = s->fb_ssrc;
			ep = s->rx;
			pt = kind & 0x20 ? RV_RTCP_PSFB : RV_RTCP_RTPFB;
			if (kind % 4 == 3) {	/* from someone else */
				struct conn *o = slots[(kind >> 4) % NSLOT];
				if (!o || !o->ep)
					return;
				ep = o->ep;
			}
		}
		pkt[0] = 0x81;
		pkt[1] = pt;
		pkt[2] = (uint8_t)(((4 + n) / 4 - 1) >> 8);
		pkt[3] = (uint8_t)((4 + n) / 4 - 1);
		pkt[4] = (uint8_t)(ssrc >> 24);
		pkt[5] = (uint8_t)(ssrc >> 16);
		pkt[6] = (uint8_t)(ssrc >> 8);
		pkt[7] = (uint8_t)ssrc;
		memcpy(pkt + 8, body, n);
		len = 8 + n;
	}
	if (ep->udp && !(kind & 0x40)) {
		udp_in(pkt, len, (const struct sockaddr *)&ep->addr);
	} else {
		struct conn *c = ep->c;
		if (!c->closing && c->client)
			tcp_in(c, pkt, len);
	}
}

/* Log lines are formatted (so that their arguments are read) and dropped. */
static void no_log(enum rv_log_level level, const char *line, void *ud)
{
	(void)level; (void)line; (void)ud;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	rv_log_set(RV_LOG_DEBUG, no_log, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	uint8_t set = u8(&in);
	memset(slots, 0, sizeof slots);
	clock_ms = 1000;
	udp_fail = 0;
	last_num = 0;
	rconf.keep = set % 3;
	rconf.max_group_members = (set >> 2) & 3;
	rconf.max_groups = set & 0x20 ? 1 : 0;
	srandom(1);
	rv_router_init(&router, &rconf, on_event, NULL);
	rv_map_init(&by_num);
	if (relay_init(&relay, NULL, &router, 1 << 20, set & 0x10 ? 0.25 : 0) < 0)
		abort();
	memset(relay.key, 0x5a, sizeof relay.key);

	while (in.off < in.n) {
		uint8_t op = u8(&in);
		switch (op % 15) {
		case 0: {	/* a connection says hello: u8 slot/id/role/replies */
			uint8_t a = u8(&in), s = (a & 7) % NSLOT;
			if (!slots[s])
				open_conn(s, ids[(a >> 3) & 3], a & 0x20, !(a & 0x40));
			break;
		}
		case 1: {	/* a request built from bytes */
			struct conn *c = reading(u8(&in));
			if (c)
				built_request(c, &in);
			else
				in.off = in.off < in.n ? in.off + 1 : in.off;
			break;
		}
		case 2: {	/* a request as raw JSON: u8 slot | u16 length | text */
			struct conn *c = reading(u8(&in));
			size_t n = u16(&in);
			const uint8_t *t = bytes(&in, &n);
			cJSON *h = cJSON_ParseWithLength((const char *)t, n);
			cJSON *type = cJSON_GetObjectItemCaseSensitive(h, "type");
			if (c && cJSON_IsObject(h) && cJSON_IsString(type) && type->valuestring[0])
				request(c, type->valuestring, h);
			cJSON_Delete(h);
			break;
		}
		case 3: {	/* a datagram: u8 source | u16 length | bytes */
			struct sockaddr_storage ss;
			from_addr(u8(&in), &ss);
			size_t n = u16(&in);
			const uint8_t *p = bytes(&in, &n);
			udp_in(p, n, (struct sockaddr *)&ss);
			break;
		}
		case 4:		/* a STUN Binding */
			binding_in(&in);
			break;
		case 5: {	/* a media frame's packet: u8 slot | u16 length | bytes */
			struct conn *c = reading(u8(&in));
			size_t n = u16(&in);
			const uint8_t *p = bytes(&in, &n);
			if (c)
				tcp_in(c, p, n);
			break;
		}
		case 6:		/* a stream's RTP or RTCP */
			media_in(&in);
			break;
		case 7: {	/* join or leave: u8 slot | u8 group and which */
			struct conn *c = reading(u8(&in));
			uint8_t g = u8(&in);
			if (!c)
				break;
			if (g & 0x80)
				rv_router_leave(&router, c->client, groups[g % 3]);
			else
				rv_router_join(&router, c->client, groups[g % 3]);
			relay_changed(&relay);
			break;
		}
		case 8: {	/* contacts or allowed senders: u8 slot | u8 what */
			struct conn *c = reading(u8(&in));
			uint8_t w = u8(&in);
			if (!c)
				break;
			struct rv_client *cl = c->client;
			const char *id = ids[w & 3];
			switch ((w >> 2) % 6) {
			case 0: rv_strv_add(&cl->contacts, id); break;
			case 1: rv_strv_del(&cl->contacts, id); break;
			case 2:
				if (cl->allow_all) {
					cl->allow_all = 0;
					rv_strv_free(&cl->allowed);
				}
				rv_strv_add(&cl->allowed, id);
				break;
			case 3: rv_strv_del(&cl->allowed, id); break;
			case 4: cl->allow_all = 1; rv_strv_free(&cl->allowed); break;
			case 5: cl->allow_all = 0; rv_strv_free(&cl->allowed); break;
			}
			relay_changed(&relay);
			break;
		}
		case 9: {	/* a connection says bye, or is told to */
			struct conn *c = slots[u8(&in) % NSLOT];
			if (c)
				bye(c);
			break;
		}
		case 10:	/* before the next poll */
			settle();
			break;
		case 11: {	/* a connection closes */
			uint8_t s = u8(&in) % NSLOT;
			if (slots[s])
				close_conn(s);
			break;
		}
		case 12: {	/* time passes; sends start or stop failing */
			uint8_t t = u8(&in);
			clock_ms += (uint64_t)(t & 0x7f) * 10;
			if (t & 0x80)
				udp_fail = !udp_fail;
			break;
		}
		case 13: {	/* a receiver's queue fills up */
			struct conn *c = slots[u8(&in) % NSLOT];
			if (c)
				c->full = 1;
			break;
		}
		case 14: {	/* GET /stats */
			cJSON *st = relay_stats(&relay);
			char *text = cJSON_PrintUnformatted(st);
			if (!text)
				abort();
			free(text);
			cJSON_Delete(st);
			break;
		}
		}
		check();
	}
	settle();
	for (int i = 0; i < NSLOT; i++)
		if (slots[i])
			close_conn(i);
	check();
	if (relay.streams || relay.nstreams || relay.by_addr.count || relay.by_fb.count || by_num.count)
		abort();
	relay_free(&relay);
	if (group_sources != 0)	/* every stream to a group told its end */
		abort();
	rv_map_free(&by_num);
	rv_router_free(&router);
	return 0;
}
