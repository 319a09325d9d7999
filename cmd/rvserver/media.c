/* media.c - rvserver's media relay (see media.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "map.h"
#include "media.h"
#include "metrics.h"
#include "rtp.h"
#include "server.h"
#include "stun.h"

#define MAX_SSRCS 4                /* per stream: video, audio, and room */
#define MAX_STREAMS_PER_CONN 8
#define KEYFRAME_GAP_MS 300        /* at most one keyframe request this often */

/* A connection's media side: its UDP address once registered. */
struct media_ep {
	struct conn *c;
	struct sockaddr_storage addr;
	socklen_t alen;
	int udp, watching;
	char addrkey[64];             /* by_addr key while registered */
	struct mstream *mine[MAX_STREAMS_PER_CONN];	/* the streams it sends */
	int nmine;
	uint64_t seen, subscribed;    /* refresh stamps: a receiver now, and already one */
};

/* A receiver of a stream. */
struct sub {
	struct media_ep *rx;
	uint32_t fb_ssrc;             /* the SSRC its RTCP for this stream comes as */
	char fbkey[12];               /* by_fb key */
	uint64_t packets, drops;
};

/* Sequence numbers seen from one SSRC (RFC 3550 A.1, simplified): what
 * was lost between the sender and the server. */
struct seqstat {
	int init;
	uint16_t base, max;
	uint32_t cycles;
	uint64_t received;
};

struct mstream {
	struct mstream *next;
	uint32_t id;
	struct media_ep *src;
	char *to, *group;             /* the target, as the sender named it */
	cJSON *announce;              /* the "stream" event, without rtcp_ssrc */
	uint32_t ssrc[MAX_SSRCS];
	struct seqstat seq[MAX_SSRCS];
	int nssrc;
	struct sub **subs;
	size_t nsubs, subcap;
	uint64_t gen;                 /* routes last computed at this media.gen */
	uint64_t last_kf_ms;
	uint64_t packets, bytes, drops;
	int started;                  /* a packet has been relayed */
};

static struct media *M(struct server *srv) { return &srv->media; }

int media_init(struct server *srv)
{
	struct media *m = M(srv);
	m->by_addr = calloc(1, sizeof *m->by_addr);
	m->by_fb = calloc(1, sizeof *m->by_fb);
	if (!m->by_addr || !m->by_fb)
		return -ENOMEM;
	rv_map_init(m->by_addr);
	rv_map_init(m->by_fb);
	if (RAND_bytes(m->key, sizeof m->key) != 1)
		return RV_ETLS;
	m->drop_rate = srv->conf.media_drop_rate;
	return 0;
}

static void stream_free(struct server *srv, struct mstream *st);

void media_free(struct server *srv)
{
	struct media *m = M(srv);
	while (m->streams)
		stream_free(srv, m->streams);
	if (m->by_addr) {
		rv_map_free(m->by_addr);
		free(m->by_addr);
	}
	if (m->by_fb) {
		rv_map_free(m->by_fb);
		free(m->by_fb);
	}
	m->by_addr = m->by_fb = NULL;
	free(m->rx);
	m->rx = NULL;
	m->rxcap = 0;
}

/* ---- endpoints and credentials ---- */

static struct media_ep *ep_of(struct conn *c)
{
	if (!c->media) {
		c->media = calloc(1, sizeof *c->media);
		if (c->media)
			c->media->c = c;
	}
	return c->media;
}

/* The UDP password of connection number USER: derived, never stored. */
static void udp_pass(struct server *srv, const char *user, char out[33])
{
	uint8_t mac[32];
	unsigned len = sizeof mac;
	HMAC(EVP_sha256(), M(srv)->key, sizeof M(srv)->key, (const uint8_t *)user, strlen(user), mac, &len);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The credentials a client registers its UDP address with. */
static cJSON *udp_info(struct conn *c)
{
	char pass[33];
	if (conn_number(c) < 0)
		return NULL;
	udp_pass(c->srv, c->numkey, pass);
	cJSON *u = cJSON_CreateObject();
	cJSON_AddNumberToObject(u, "port", c->srv->bound_udp_port);
	cJSON_AddStringToObject(u, "user", c->numkey);
	cJSON_AddStringToObject(u, "pass", pass);
	return u;
}

/* The by_addr key of an address: its bytes in hex, made for every packet
 * (cheaper than inet_ntop and printf). */
static void addr_key(const struct sockaddr *sa, char out[64])
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *ip, *port;
	size_t n;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		ip = s6->sin6_addr.s6_addr;
		n = 16;
		port = (const uint8_t *)&s6->sin6_port;
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		ip = (const uint8_t *)&s4->sin_addr.s_addr;
		n = 4;
		port = (const uint8_t *)&s4->sin_port;
	}
	char *o = out;
	*o++ = n == 4 ? '4' : '6';
	for (size_t i = 0; i < n; i++) {
		*o++ = hex[ip[i] >> 4];
		*o++ = hex[ip[i] & 15];
	}
	for (size_t i = 0; i < 2; i++) {
		*o++ = hex[port[i] >> 4];
		*o++ = hex[port[i] & 15];
	}
	*o = 0;
}

/* For people: "ADDR:PORT". */
static void addr_text(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port;
	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	}
	snprintf(out, len, "%s:%d", ip, port);
}

static void ep_unregister(struct server *srv, struct media_ep *ep)
{
	if (M(srv)->last == ep)
		M(srv)->last = NULL;
	if (ep->udp && rv_map_get(M(srv)->by_addr, ep->addrkey) == ep)
		rv_map_del(M(srv)->by_addr, ep->addrkey);
	ep->udp = 0;
}

static void ep_register(struct server *srv, struct media_ep *ep, const struct sockaddr *sa)
{
	char key[64];
	addr_key(sa, key);
	if (ep->udp && strcmp(key, ep->addrkey) == 0)
		return;
	ep_unregister(srv, ep);
	struct media_ep *old = rv_map_get(M(srv)->by_addr, key);
	if (old) {	/* the address moved to a new connection */
		rv_map_del(M(srv)->by_addr, key);
		old->udp = 0;
	}
	memcpy(ep->addrkey, key, sizeof key);
	ep->alen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	memcpy(&ep->addr, sa, ep->alen);
	if (rv_map_put(M(srv)->by_addr, ep->addrkey, ep) == 0)
		ep->udp = 1;
	char text[80];
	addr_text(sa, text, sizeof text);
	rv_debug("%s: media over UDP from %s", ep->c->client ? ep->c->client->id : "?", text);
}

/* A STUN Binding request on the media port: USERNAME names a connection,
 * MESSAGE-INTEGRITY proves the client got its password over that
 * connection. The answer carries the mapped address, signed the same way. */
static void binding(struct server *srv, const uint8_t *p, size_t n, const struct sockaddr *from)
{
	struct rv_stun_msg m;
	if (rv_stun_parse(p, n, &m) < 0 || m.len != n || m.method != RV_STUN_BINDING || m.cls != RV_STUN_REQUEST)
		return;
	const struct rv_stun_attr *u = rv_stun_get(&m, RV_STUN_A_USERNAME);
	char user[24] = "", pass[33];
	struct conn *c = NULL;
	if (u && u->len < sizeof user) {
		memcpy(user, u->val, u->len);
		user[u->len] = 0;
		c = rv_map_get(&srv->by_num, user);
	}
	struct rv_stun_builder b;
	if (!c || c->closing || !c->media) {
		M(srv)->n.bad_bindings++;
		rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_ERROR, m.tid);
		static const uint8_t e401[] = { 0, 0, 4, 1, 'U', 'n', 'a', 'u', 't', 'h', 'o', 'r', 'i', 'z', 'e', 'd' };
		rv_stun_add(&b, RV_STUN_A_ERROR_CODE, e401, sizeof e401);
		rv_stun_add_fingerprint(&b);
	} else {
		udp_pass(srv, user, pass);
		if (rv_stun_check_integrity(&m, (const uint8_t *)pass, 32) != 1) {
			M(srv)->n.bad_bindings++;
			return;	/* a forged or stale request: no answer */
		}
		M(srv)->n.bindings++;
		ep_register(srv, c->media, from);
		rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_SUCCESS, m.tid);
		rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_MAPPED_ADDRESS, from);
		rv_stun_add_integrity(&b, (const uint8_t *)pass, 32);
		rv_stun_add_fingerprint(&b);
	}
	const uint8_t *out;
	size_t len;
	if (rv_stun_end(&b, &out, &len) < 0)
		return;
	udp_send_now(srv, out, len, from);
}

/* ---- sending to an endpoint ---- */

static int ep_send(struct server *srv, struct media_ep *ep, const uint8_t *p, size_t n)
{
	struct conn *c = ep->c;
	if (ep->udp) {	/* goes out with the rest of the batch */
		udp_queue(srv, ep, (const struct sockaddr *)&ep->addr, ep->alen, p, n);
	} else {
		/* A receiver that falls behind loses packets; it is never paused
		 * for, and never dropped for media alone. */
		if (c->closing || rv_stream_queued(&c->s) > srv->conf.max_queue / 2)
			return -1;
		uint8_t head[RV_FRAME_MEDIA_HEAD];
		rv_frame_media_head(head, n);
		if (conn_sendv(c, head, sizeof head, p, n) < 0)
			return -1;
	}
	M(srv)->n.packets_out++;
	M(srv)->n.bytes_out += n;
	return 0;
}

/* ---- streams and their receivers ---- */

static void sub_free(struct server *srv, struct sub *s)
{
	if (rv_map_get(M(srv)->by_fb, s->fbkey))
		rv_map_del(M(srv)->by_fb, s->fbkey);
	free(s);
}

static void tell_end(struct mstream *st, struct media_ep *rx, const char *why)
{
	if (rx->c->closing)
		return;
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "stream-end");
	cJSON_AddNumberToObject(h, "stream", st->id);
	cJSON *from = cJSON_GetObjectItemCaseSensitive(st->announce, "from");
	if (cJSON_IsString(from))
		cJSON_AddStringToObject(h, "from", from->valuestring);
	cJSON_AddStringToObject(h, "reason", why);
	conn_send_json(rx->c, h);
}

static void request_keyframe(struct server *srv, struct mstream *st)
{
	uint64_t now = now_ms(srv);
	if (st->last_kf_ms && now - st->last_kf_ms < KEYFRAME_GAP_MS)
		return;
	st->last_kf_ms = now;
	M(srv)->n.keyframe_requests++;
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "keyframe");
	cJSON_AddNumberToObject(h, "stream", st->id);
	conn_send_json(st->src->c, h);
}

/* The receivers a route reaches: at most CAP, or as many as memory allows
 * with GROW (a stamp marks each, so one listed twice counts once). */
struct collect {
	struct media_ep **v;
	size_t n, cap;
	int grow, truncated;
	uint64_t stamp;
};

static void collect(void *ud, struct rv_client *to)
{
	struct collect *k = ud;
	struct conn *c = to->recv;
	if (!c || !c->media || !c->media->watching || c->closing)
		return;
	if (k->stamp) {
		if (c->media->seen == k->stamp)
			return;
		c->media->seen = k->stamp;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct media_ep **v = k->grow ? realloc(k->v, cap * sizeof *v) : NULL;
		if (!v) {
			k->truncated |= k->grow;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = c->media;
}

static struct sub *add_sub(struct server *srv, struct mstream *st, struct media_ep *rx)
{
	if (st->nsubs == st->subcap) {	/* geometric growth */
		size_t cap = st->subcap ? st->subcap * 2 : 8;
		struct sub **v = realloc(st->subs, cap * sizeof *v);
		if (!v)
			return NULL;
		st->subs = v;
		st->subcap = cap;
	}
	struct sub *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	do {	/* a server-wide unique SSRC for this receiver's RTCP */
		s->fb_ssrc = ++M(srv)->last_ssrc;
		snprintf(s->fbkey, sizeof s->fbkey, "%08x", s->fb_ssrc);
	} while (s->fb_ssrc == 0 || rv_map_get(M(srv)->by_fb, s->fbkey));
	if (rv_map_put(M(srv)->by_fb, s->fbkey, st) < 0) {
		free(s);
		return NULL;
	}
	s->rx = rx;
	st->subs[st->nsubs++] = s;
	cJSON *h = cJSON_Duplicate(st->announce, 1);
	cJSON_AddNumberToObject(h, "rtcp_ssrc", s->fb_ssrc);
	conn_send_json(rx->c, h);
	return s;
}

/* Work out the stream's receivers again: newcomers are told of it (and get
 * a keyframe soon), those who left are told it ended for them. In time
 * linear in the receivers, with no cap on their number. */
static void refresh(struct server *srv, struct mstream *st)
{
	struct media *m = M(srv);
	struct collect k = { m->rx, 0, m->rxcap, 1, 0, ++m->stamp };
	st->gen = m->gen;
	if (st->src->c->client)
		rv_router_route(&srv->router, st->src->c->client, st->to, st->group, collect, &k, NULL);
	m->rx = k.v;
	m->rxcap = k.cap;
	if (k.truncated)
		rv_warn("stream %u: out of memory listing its receivers: only %zu reached", st->id, k.n);
	for (size_t i = 0; i < st->nsubs;) {
		struct media_ep *ep = st->subs[i]->rx;
		if (ep->seen == k.stamp) {	/* still a receiver */
			ep->subscribed = k.stamp;
			i++;
			continue;
		}
		tell_end(st, ep, "not a receiver any more");
		sub_free(srv, st->subs[i]);
		st->subs[i] = st->subs[--st->nsubs];
	}
	int added = 0;
	for (size_t j = 0; j < k.n; j++)
		if (k.v[j]->subscribed != k.stamp && add_sub(srv, st, k.v[j]))
			added++;
	if (added && st->started)
		request_keyframe(srv, st);
}

static void stream_free(struct server *srv, struct mstream *st)
{
	struct media *m = M(srv);
	for (struct mstream **pp = &m->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	m->nstreams--;
	struct media_ep *src = st->src;
	for (int k = 0; k < src->nmine; k++)
		if (src->mine[k] == st) {
			src->mine[k] = src->mine[--src->nmine];
			break;
		}
	for (size_t i = 0; i < st->nsubs; i++)
		sub_free(srv, st->subs[i]);
	free(st->subs);
	free(st->to);
	free(st->group);
	cJSON_Delete(st->announce);
	free(st);
}

static void stream_end(struct server *srv, struct mstream *st, const char *why)
{
	for (size_t i = 0; i < st->nsubs; i++)
		tell_end(st, st->subs[i]->rx, why);
	rv_debug("stream %u ended: %s", st->id, why);
	stream_free(srv, st);
}

static struct mstream *stream_by_id(struct server *srv, struct conn *c, double id)
{
	for (struct mstream *st = M(srv)->streams; st; st = st->next)
		if (st->id == id && st->src->c == c)
			return st;
	return NULL;
}

static void reply_ok(struct conn *c, uint64_t seq, cJSON *extra_udp, uint32_t stream, int receivers)
{
	cJSON *ok = cJSON_CreateObject();
	cJSON_AddStringToObject(ok, "type", "ok");
	cJSON_AddNumberToObject(ok, "re", (double)seq);
	if (stream) {
		cJSON_AddNumberToObject(ok, "stream", stream);
		cJSON_AddNumberToObject(ok, "receivers", receivers);
	}
	if (extra_udp)
		cJSON_AddItemToObject(ok, "udp", extra_udp);
	conn_send_json(c, ok);
}

/* {"type":"stream","to"|"group":...,"media":[{"kind","codec","ssrc",...}],
 *  "srtp":{...}}: a new stream from this connection. */
static void do_stream(struct conn *c, cJSON *h)
{
	struct server *srv = c->srv;
	uint64_t seq = hdr_seq(h);
	const char *to = hdr_str(h, "to"), *group = hdr_str(h, "group");
	enum rv_route_miss miss;
	cJSON *media = cJSON_GetObjectItemCaseSensitive(h, "media"), *it;
	if ((to && !rv_id_valid(to)) || (group && !rv_id_valid(group)) || !cJSON_IsArray(media) ||
	    cJSON_GetArraySize(media) < 1 || cJSON_GetArraySize(media) > MAX_SSRCS) {
		conn_error_code(c, seq, RV_CODE_BAD_REQUEST,
				"stream needs media (1-4 entries) and a valid to or group");
		return;
	}
	struct mstream *st = calloc(1, sizeof *st);
	if (!st) {
		conn_error_code(c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	cJSON_ArrayForEach(it, media) {
		cJSON *ssrc = cJSON_GetObjectItemCaseSensitive(it, "ssrc");
		if (!cJSON_IsObject(it) || !cJSON_IsNumber(ssrc) || ssrc->valuedouble < 1 ||
		    ssrc->valuedouble > 4294967295.0 || !hdr_str(it, "codec") || !hdr_str(it, "kind")) {
			free(st);
			conn_error_code(c, seq, RV_CODE_BAD_REQUEST,
					"each media entry needs kind, codec and an ssrc");
			return;
		}
		st->ssrc[st->nssrc++] = (uint32_t)ssrc->valuedouble;
	}
	if (c->media && c->media->nmine >= MAX_STREAMS_PER_CONN) {
		free(st);
		conn_error_code(c, seq, RV_CODE_LIMIT, "too many streams on one connection");
		return;
	}
	/* A refused target is refused now; one that is not there yet (a group
	 * nobody joined, a receiver not connected) may come later. */
	struct media_ep *probe[1];
	struct collect k = { probe, 0, 0, 0, 0, 0 };
	int rc = rv_router_route(&srv->router, c->client, to, to ? NULL : group, collect, &k, &miss);
	if (rc == RV_EDENIED || (rc < 0 && miss == RV_MISS_NO_CONTACTS)) {
		free(st);
		conn_error_code(c, seq, rv_route_miss_code(miss), rv_route_miss_text(miss));
		return;
	}
	struct media_ep *ep = ep_of(c);
	cJSON *udp = ep ? udp_info(c) : NULL;
	if (!ep || !udp) {
		free(st);
		cJSON_Delete(udp);
		conn_error_code(c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	st->src = ep;
	ep->mine[ep->nmine++] = st;
	st->id = ++M(srv)->last_stream ? M(srv)->last_stream : ++M(srv)->last_stream;
	st->to = to ? strdup(to) : NULL;
	st->group = !to && group ? strdup(group) : NULL;
	st->announce = cJSON_CreateObject();
	cJSON_AddStringToObject(st->announce, "type", "stream");
	cJSON_AddNumberToObject(st->announce, "stream", st->id);
	cJSON_AddStringToObject(st->announce, "from", c->client->id);
	if (st->group)
		cJSON_AddStringToObject(st->announce, "group", st->group);
	cJSON_AddItemToObject(st->announce, "media", cJSON_Duplicate(media, 1));
	cJSON *srtp = cJSON_GetObjectItemCaseSensitive(h, "srtp");
	if (cJSON_IsObject(srtp))
		cJSON_AddItemToObject(st->announce, "srtp", cJSON_Duplicate(srtp, 1));
	st->next = M(srv)->streams;
	M(srv)->streams = st;
	M(srv)->nstreams++;
	M(srv)->n.streams_total++;
	refresh(srv, st);
	rv_info("%s: stream %u to %s%s (%zu receivers)", c->client->id, st->id, st->group ? "#" : "",
		st->to ? st->to : st->group ? st->group : "default receivers", st->nsubs);
	reply_ok(c, seq, udp, st->id, (int)st->nsubs);
}

int media_request(struct conn *c, const char *type, cJSON *h)
{
	struct server *srv = c->srv;
	uint64_t seq = hdr_seq(h);
	if (strcmp(type, "stream") == 0) {
		do_stream(c, h);
	} else if (strcmp(type, "stream-end") == 0) {
		cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "stream");
		struct mstream *st = cJSON_IsNumber(id) ? stream_by_id(srv, c, id->valuedouble) : NULL;
		if (!st) {
			conn_error_code(c, seq, RV_CODE_NOT_FOUND, NULL);
			return 1;
		}
		stream_end(srv, st, "the sender ended it");
		if (seq)
			reply_ok(c, seq, NULL, 0, 0);
	} else if (strcmp(type, "watch") == 0 || strcmp(type, "unwatch") == 0) {
		if (c->role != ROLE_RECV) {
			conn_error_code(c, seq, RV_CODE_BAD_REQUEST,
					"watch on the receiving connection (role recv)");
			return 1;
		}
		struct media_ep *ep = ep_of(c);
		cJSON *udp = ep && type[0] == 'w' ? udp_info(c) : NULL;
		if (!ep || (type[0] == 'w' && !udp)) {
			conn_error_code(c, seq, RV_CODE_INTERNAL, NULL);
			return 1;
		}
		ep->watching = type[0] == 'w';
		reply_ok(c, seq, udp, 0, 0);
		media_changed(M(srv));
		/* tell it of the streams already running */
		for (struct mstream *st = M(srv)->streams; st; st = st->next)
			refresh(srv, st);
	} else {
		return 0;
	}
	return 1;
}

void media_conn_closed(struct conn *c)
{
	struct server *srv = c->srv;
	struct media_ep *ep = c->media;
	if (!ep)
		return;
	for (struct mstream *st = M(srv)->streams, *next; st; st = next) {
		next = st->next;
		if (st->src == ep) {
			stream_end(srv, st, "the sender left");
			continue;
		}
		for (size_t i = 0; i < st->nsubs; i++)
			if (st->subs[i]->rx == ep) {
				sub_free(srv, st->subs[i]);
				st->subs[i] = st->subs[--st->nsubs];
				break;
			}
	}
	ep_unregister(srv, ep);
	media_changed(M(srv));
	free(ep);
	c->media = NULL;
}

/* ---- packets ---- */

static int test_drop(struct media *m)
{
	if (m->drop_rate <= 0)
		return 0;
	if ((double)random() / ((double)RAND_MAX + 1.0) >= m->drop_rate)
		return 0;
	m->n.test_drops++;
	return 1;
}

/* RTP and sender reports from the sender: to every receiver. */
static void fan_out(struct server *srv, struct mstream *st, const uint8_t *p, size_t n, int rtp)
{
	if (st->gen != M(srv)->gen)
		refresh(srv, st);
	st->started = 1;
	st->packets++;
	st->bytes += n;
	for (size_t i = 0; i < st->nsubs; i++) {
		struct sub *s = st->subs[i];
		if (rtp && test_drop(M(srv)))
			continue;
		if (ep_send(srv, s->rx, p, n) < 0) {
			s->drops++;
			st->drops++;
			M(srv)->n.drops++;
		} else {
			s->packets++;
		}
	}
}

static struct mstream *stream_of_ssrc(struct media_ep *ep, uint32_t ssrc, int *which)
{
	for (int k = 0; k < ep->nmine; k++) {
		struct mstream *st = ep->mine[k];
		for (int i = 0; i < st->nssrc; i++)
			if (st->ssrc[i] == ssrc) {
				*which = i;
				return st;
			}
	}
	return NULL;
}

static void seq_seen(struct seqstat *s, uint16_t seq)
{
	s->received++;
	if (!s->init) {
		s->init = 1;
		s->base = s->max = seq;
		return;
	}
	int16_t d = (int16_t)(seq - s->max);
	if (d > 0) {
		if (seq < s->max)
			s->cycles += 65536;
		s->max = seq;
	}
}

/* Packets the sender sent that never reached the server (resent ones
 * count as received, so this is a floor). */
static uint64_t stream_lost(const struct mstream *st)
{
	uint64_t lost = 0;
	for (int i = 0; i < st->nssrc; i++) {
		const struct seqstat *s = &st->seq[i];
		uint64_t expected = s->init ? (uint64_t)s->cycles + s->max - s->base + 1 : 0;
		if (expected > s->received)
			lost += expected - s->received;
	}
	return lost;
}

static void packet(struct server *srv, struct media_ep *ep, const uint8_t *p, size_t n)
{
	struct media *m = M(srv);
	if (n < 8 || (p[0] & 0xC0) != 0x80) {
		m->n.unknown++;
		return;
	}
	m->n.packets_in++;
	m->n.bytes_in += n;
	uint32_t ssrc = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	struct mstream *st;
	int which;
	if (!rv_rtp_is_rtcp(p, n)) {
		if (n < RV_RTP_HEADER)
			return;
		ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
		if ((st = stream_of_ssrc(ep, ssrc, &which))) {
			seq_seen(&st->seq[which], (uint16_t)(p[2] << 8 | p[3]));
			fan_out(srv, st, p, n, 1);
		} else {
			m->n.unknown++;
		}
		return;
	}
	m->n.rtcp_in++;
	/* RTCP: the first packet's sender SSRC is clear text even in SRTCP. */
	if ((st = stream_of_ssrc(ep, ssrc, &which))) {	/* the sender's reports */
		fan_out(srv, st, p, n, 0);
		return;
	}
	char key[12];
	snprintf(key, sizeof key, "%08x", ssrc);
	if ((st = rv_map_get(m->by_fb, key))) {		/* a receiver's, to its sender */
		for (size_t i = 0; i < st->nsubs; i++)
			if (st->subs[i]->fb_ssrc == ssrc && st->subs[i]->rx == ep) {
				m->n.feedback++;
				ep_send(srv, st->src, p, n);
				return;
			}
	}
	m->n.unknown++;
}

/* Is FROM the endpoint's registered address? */
static int same_addr(const struct media_ep *ep, const struct sockaddr *from)
{
	if (from->sa_family != ep->addr.ss_family)
		return 0;
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)from, *b = (const struct sockaddr_in *)&ep->addr;
		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from, *b = (const struct sockaddr_in6 *)&ep->addr;
	return a->sin6_port == b->sin6_port && !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr);
}

void media_udp(struct server *srv, const uint8_t *p, size_t n, const struct sockaddr *from)
{
	struct media *m = M(srv);
	if (rv_stun_is(p, n)) {
		binding(srv, p, n, from);
		return;
	}
	/* packets come in runs from one sender: try the last one first */
	struct media_ep *ep = m->last;
	if (!ep || !ep->udp || !same_addr(ep, from)) {
		char key[64];
		addr_key(from, key);
		if (!(ep = rv_map_get(m->by_addr, key))) {
			m->n.unknown++;
			return;
		}
		m->last = ep;
	}
	packet(srv, ep, p, n);
}

void media_tcp(struct conn *c, const uint8_t *p, size_t n)
{
	struct media_ep *ep = c->media;
	if (!ep) {
		c->srv->media.n.unknown++;
		return;
	}
	packet(c->srv, ep, p, n);
	udp_flush(c->srv);	/* P lives only as long as this frame */
}

uint64_t media_lost(struct server *srv)
{
	uint64_t lost = 0;
	for (struct mstream *st = M(srv)->streams; st; st = st->next)
		lost += stream_lost(st);
	return lost;
}

static double nstreams(const void *ctx) { return (double)((const struct server *)ctx)->media.nstreams; }
static double lost(const void *ctx) { return (double)media_lost((struct server *)ctx); }

#define C(key, name, help, member) \
	RV_METRIC_AT("media." key, "rvserver_media_" name, help, struct server, media.n.member)
#define G(key, name, help, get) RV_METRIC_FN("media." key, "rvserver_media_" name, help, get)
/* The relay's numbers: in /stats under "media", in /metrics as
 * rvserver_media_*. "streams" is the list of streams in /stats. */
static const struct rv_metric table[] = {
	{ "media.streams", "rvserver_media_streams", RV_METRIC_GAUGE, "Media streams being relayed.", 0, nstreams,
	  RV_METRIC_LIST },
	C("streams_total", "streams_total", "Media streams started.", streams_total),
	C("packets_in", "packets_in_total", "RTP and RTCP packets received from clients.", packets_in),
	C("bytes_in", "bytes_in_total", "Media bytes received.", bytes_in),
	C("packets_out", "packets_out_total", "Media packets relayed to clients.", packets_out),
	C("bytes_out", "bytes_out_total", "Media bytes relayed.", bytes_out),
	C("drops", "drops_total", "Media packets dropped for a slow or unreachable receiver.", drops),
	C("test_drops", "test_drops_total", "Media packets dropped on purpose (--drop-rate).", test_drops),
	C("rtcp_in", "rtcp_in_total", "RTCP packets received from clients.", rtcp_in),
	C("feedback", "feedback_total", "RTCP feedback packets routed back to senders.", feedback),
	C("keyframe_requests", "keyframe_requests_total", "Keyframes asked of senders for new receivers.",
	  keyframe_requests),
	C("udp_bindings", "udp_bindings_total", "STUN Bindings answered on the UDP port.", bindings),
	C("bad_bindings", "bad_bindings_total", "STUN Bindings refused for an unknown user or a wrong password.",
	  bad_bindings),
	C("unknown", "unknown_total", "Media packets from no registered address or stream.", unknown),
	C("udp_bursts", "udp_bursts_total", "UDP reads that carried a burst of datagrams (GRO).", udp_bursts),
	G("lost", "lost", "RTP packets of live streams that never reached the server.", lost),
};
#undef C
#undef G

int media_metrics(struct server *srv, struct rv_buf *out)
{
	return rv_metrics_prom(out, table, sizeof table / sizeof table[0], srv);
}

/* One object per live stream, or NULL (no memory). */
static cJSON *streams_json(struct media *m)
{
	cJSON *a = cJSON_CreateArray();
	for (struct mstream *st = m->streams; st && a; st = st->next) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddNumberToObject(s, "id", st->id);
		cJSON_AddStringToObject(s, "from", cJSON_GetObjectItemCaseSensitive(st->announce, "from")->valuestring);
		if (st->to)
			cJSON_AddStringToObject(s, "to", st->to);
		if (st->group)
			cJSON_AddStringToObject(s, "group", st->group);
		cJSON_AddBoolToObject(s, "udp", st->src->udp);
		cJSON_AddNumberToObject(s, "receivers", (double)st->nsubs);
		cJSON_AddNumberToObject(s, "packets", (double)st->packets);
		cJSON_AddNumberToObject(s, "bytes", (double)st->bytes);
		cJSON_AddNumberToObject(s, "drops", (double)st->drops);
		cJSON_AddNumberToObject(s, "lost", (double)stream_lost(st));
		if (!cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			a = NULL;
		}
	}
	return a;
}

cJSON *media_stats(struct server *srv)
{
	cJSON *root = cJSON_CreateObject(), *o = NULL, *a;
	if (rv_metrics_json(root, table, sizeof table / sizeof table[0], srv) == 0 &&
	    (a = streams_json(M(srv)))) {
		o = cJSON_DetachItemFromObjectCaseSensitive(root, "media");
		if (!cJSON_AddItemToObject(o, "streams", a)) {
			cJSON_Delete(a);
			cJSON_Delete(o);
			o = NULL;
		}
	}
	cJSON_Delete(root);
	return o;
}
