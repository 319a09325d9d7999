/* p2plive.c - one live stream in a peer group on the loop (p2plive.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/rand.h>

#include "err.h"
#include "impair.h"
#include "log.h"
#include "p2pcap.h"
#include "p2pipmc.h"
#include "p2plink.h"
#include "p2plive.h"
#include "bytes.h"
#include "p2pspec.h"
#include "xfer.h"

struct rv_p2plive {
	uv_loop_t *loop;
	struct rv_p2p_key key;
	struct rv_p2p_spec spec;
	struct rv_p2plink *link;
	struct rv_p2p_cast *cast;
	uint8_t group[32], stream[32];
	uint64_t run;                   /* our run, when we publish: when we started (unix ms) */
	int restricted, has_cap, warned;        /* the spec restricts publishing; we publish with a capability */
	int publisher;                  /* the stream is ours */
	uint8_t cap[RV_P2P_CAP_LEN];
	uint8_t ann[RV_P2P_CAST_INFO_MAX];
	struct { uint64_t run; uint8_t pub[RV_P2P_PUB_LEN]; int set; } signer[2];   /* restricted: the
							 * publishers of the last two runs admitted */
	uv_timer_t timer;
	uv_udp_t *ipmc;                 /* fusion: the publisher sends there, a receiver listens (NULL: none) */
	int any_group;                  /* IP multicast only, no spec: the group of the first announce is ours */
	struct sockaddr_storage lan;    /* LAN discovery's group (the link's conf points here) */
	struct sockaddr_storage ipmc_to;
	uint64_t ipmc_bad;              /* datagrams refused (logged once) */
	struct rv_impair impair;        /* RV_TEST_IMPAIR's mloss: tests lose multicast datagrams here (sent or read) */
	int timer_open, stopping;
	rv_p2plive_event_fn on_event;
	void *ud;
	void (*on_closed)(void *ud);
	void *closed_ud;
	int pending;                    /* handles and the link still closing */
	uint8_t msg[RV_P2P_MSG_MAX];
	uint8_t dgram[RV_P2P_IPMC_MAX];
};

static void rearm(struct rv_p2plive *l);

/* The engine's random numbers: each peer its own (they pick pushers and
 * spread their pulls with them). */
static uint32_t random32(void *ud)
{
	uint32_t v = 0;
	(void)ud;
	RAND_bytes((unsigned char *)&v, sizeof v);
	return v;
}

/* What the engine has to send, sent; its events, handed on. */
static void pump(struct rv_p2plive *l)
{
	uint8_t peer[32];
	ssize_t n;
	struct rv_p2p_cast_ev e;
	while ((n = rv_p2p_cast_take(l->cast, peer, l->msg, sizeof l->msg)) > 0) {
		if (!l->link)
			continue;
		if (rv_p2plink_impair(l->link)->corrupt && !l->publisher && l->msg[0] == RV_P2P_M_CAST_FRAG)
			l->msg[n - 1] ^= 0x5a;	/* RV_TEST_IMPAIR=corrupt=1: a forging relay, for the tests */
		rv_p2plink_send_peer(l->link, peer, l->msg, (size_t)n);
	}
	while (!l->stopping && rv_p2p_cast_poll(l->cast, &e))
		l->on_event(l->ud, &e);
	rearm(l);
}

static void on_timer(uv_timer_t *t)
{
	struct rv_p2plive *l = t->data;
	rv_p2p_cast_tick(l->cast, uv_now(l->loop));
	pump(l);
}

static void rearm(struct rv_p2plive *l)
{
	if (l->stopping)
		return;
	uint64_t now = uv_now(l->loop), next = rv_p2p_cast_next(l->cast);
	uv_timer_start(&l->timer, on_timer, next > now ? next - now : 0, 0);
}

static void on_link(void *ud, const struct rv_p2p_node_ev *e)
{
	struct rv_p2plive *l = ud;
	uint64_t now = uv_now(l->loop);
	struct rv_p2p_msg m;
	const char *why;
	int rc;
	switch (e->type) {
	case RV_P2P_NODE_NEIGHBOR_UP:
		rv_p2p_cast_peer_up(l->cast, now, e->peer);
		break;
	case RV_P2P_NODE_NEIGHBOR_DOWN:
		rv_p2p_cast_peer_down(l->cast, e->peer);
		break;
	case RV_P2P_NODE_OBJECT:
		if (rv_p2p_msg_parse(e->data, e->len, &m, &why) == 0 &&
		    (rc = rv_p2p_cast_input(l->cast, now, e->peer, &m, &why)) < 0) {
			if (rc == RV_EDENIED && !l->warned++)	/* once: it may come again each map period */
				rv_warn("p2p stream: an announce refused (publishing is restricted): %s", why);
			else if (m.type == RV_P2P_M_CAST_FRAG && l->link) {	/* forged: cut off */
				rv_warn("p2p stream: neighbour %02x%02x%02x%02x cut off: %s", e->peer[0], e->peer[1],
					e->peer[2], e->peer[3], why);
				rv_p2plink_cut(l->link, e->peer, why);
			} else
				rv_debug("p2p stream: a neighbour's message refused: %s", why);
		}
		break;
	default:
		return;
	}
	pump(l);
}

/* Where publishing is restricted: are we an owner, or is CAP (NULL: none)
 * ours to publish with? 0, or RV_EDENIED with *WHY. */
static int may_publish(struct rv_p2plive *l, const uint8_t *cap, const char **why)
{
	for (int i = 0; i < l->spec.nowners; i++)
		if (!memcmp(l->spec.owners[i], l->key.pub, 32))
			return 0;
	if (!cap)
		return *why = "the group restricts publishing: publishing needs a capability from an owner "
			      "(rvgroup p2p grant --publish, then --cap)", RV_EDENIED;
	if (rv_p2p_cap_check(cap, RV_P2P_CAP_LEN, &l->spec, l->group, l->key.id, RV_P2P_RIGHT_PUBLISH,
			     rv_p2plink_wall_ms() / 1000, why) < 0)
		return RV_EDENIED;
	memcpy(l->cap, cap, RV_P2P_CAP_LEN);
	l->has_cap = 1;
	return 0;
}

/* The engine's conf.admit: an announce is "run u64 | the application's
 * bytes" (where publishing is restricted: inside the signed announce). */
static int admit(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **why)
{
	struct rv_p2plive *l = ud;
	*skip = 0;
	uint8_t pub[RV_P2P_PUB_LEN];
	if (l->restricted) {
		int rc = rv_p2p_cap_admit_announce(info, n, &l->spec, l->group, l->stream,
						   rv_p2plink_wall_ms() / 1000, skip, pub, why);
		if (rc < 0)
			return rc;
	}
	if (n - *skip < 8)
		return *why = "an announce without its run", RV_EDENIED;
	*run = rv_rd64(info + *skip);
	*skip += 8;
	if (l->restricted && !(l->signer[0].set && l->signer[0].run == *run)) {	/* its fragments are signed by it */
		l->signer[1] = l->signer[0];
		l->signer[0].run = *run;
		memcpy(l->signer[0].pub, pub, RV_P2P_PUB_LEN);
		l->signer[0].set = 1;
	}
	return 0;
}

/* The engine's conf.sign (a restricted stream's publisher): our key's. */
static int sign_fragment(void *ud, const uint8_t *msg, size_t n, uint8_t sig[RV_P2P_SIG_LEN])
{
	struct rv_p2plive *l = ud;
	return rv_p2p_sign(&l->key, msg, n, sig);
}

/* The engine's conf.verify (a restricted stream's receiver): by the
 * publisher whose announce of RUN was admitted. */
static int verify_fragment(void *ud, uint64_t run, const uint8_t *msg, size_t n, const uint8_t sig[RV_P2P_SIG_LEN])
{
	struct rv_p2plive *l = ud;
	for (int i = 0; i < 2; i++)
		if (l->signer[i].set && l->signer[i].run == run)
			return rv_p2p_verify(l->signer[i].pub, msg, n, sig);
	return RV_EDENIED;
}

/* The spec, the key and the introducer's address into LC. */
static int load(struct rv_p2plive *l, const struct rv_p2plive_opts *o, struct rv_p2plink_conf *lc,
		struct sockaddr_storage *server, const char **why)
{
	int created = 0, rc;
	if (rv_p2p_spec_parse(o->spec, strlen(o->spec), &l->spec, why) < 0 ||
	    rv_p2p_group_id(&l->spec, lc->group, why) < 0)
		return RV_EPROTO;
	if (!rv_p2p_spec_allows(&l->spec, RV_P2P_CAP_MULTICAST))
		return *why = "the group's spec does not enable multicast (p2p spec new --multicast)", RV_EDENIED;
	rc = o->key ? rv_p2p_key_open(o->key, &l->key, &created) : rv_p2p_key_generate(&l->key);
	if (rc < 0)
		return *why = rc == RV_EPROTO ? "not an Ed25519 private key (PEM)" : rv_strerror(rc), -EINVAL;
	memcpy(l->group, lc->group, 32);
	l->restricted = (l->spec.caps & RV_P2P_CAP_RESTRICT_PUBLISH) != 0;
	if (l->restricted && o->cast.publisher && (rc = may_publish(l, o->cap, why)) < 0) {
		rv_p2p_key_free(&l->key);
		return rc;
	}
	lc->key = &l->key;
	lc->spec = &l->spec;
	lc->bind = o->bind;
	lc->port_file = o->port_file;
	lc->peers = o->peers;
	lc->npeers = o->npeers;
	if (o->server_host && (l->spec.caps & RV_P2P_CAP_SERVER_CHANNEL)) {
		char hp[300];
		int v6 = strchr(o->server_host, ':') != NULL;
		snprintf(hp, sizeof hp, "%s%s%s:%d", v6 ? "[" : "", o->server_host, v6 ? "]" : "", o->server_port);
		if (rv_p2plink_addr(hp, o->server_port, server, &lc->server_len) < 0)
			return *why = "cannot resolve the server", -ENOENT;
		lc->server = server;
	}
	int lan = rv_p2plink_lan(o->lan, &l->spec, &l->lan);	/* --lan, else the spec's: as rvgroup p2p */
	if (lan < 0)
		return *why = "--lan: not an address with a port", -EINVAL;
	if (lan)
		lc->lan = &l->lan;
	return 0;
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void ipmc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct rv_p2plive *l = h->data;
	(void)hint;
	*b = uv_buf_init((char *)l->dgram, sizeof l->dgram);
}

/* A datagram of the multicast group: a fragment of ours to the engine. */
static void ipmc_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
	struct rv_p2plive *l = u->data;
	struct rv_p2p_ipmc_frag f;
	const char *why;
	(void)from;
	if (n <= 0 || (flags & UV_UDP_PARTIAL) || l->stopping || rv_impair_drop(&l->impair))
		return;
	if (rv_p2p_ipmc_parse((const uint8_t *)b->base, (size_t)n, l->any_group ? NULL : l->group, l->stream, &f,
			      &why) < 0) {
		if (!l->ipmc_bad++)
			rv_debug("p2p stream: an IP multicast datagram ignored: %s", why);
		return;
	}
	uv_update_time(l->loop);
	uint64_t now = uv_now(l->loop);
	if (l->any_group) {	/* no spec: the first announce that stands says the group */
		if (f.flags != RV_P2P_IPMC_INFO || rv_p2p_cast_input_announce(l->cast, now, f.data, f.len, &why) < 0 ||
		    !rv_p2p_cast_info(l->cast, &(size_t){ 0 }))
			return;
		memcpy(l->group, f.group, RV_P2P_IPMC_ID_LEN);
		l->any_group = 0;
		char hex[2 * RV_P2P_IPMC_ID_LEN + 1];
		rv_hex(l->group, RV_P2P_IPMC_ID_LEN, hex);
		rv_info("p2p stream: IP multicast: the stream of the group %s... taken (its announce came)", hex);
		pump(l);
		return;
	}
	int rc = f.flags == RV_P2P_IPMC_INFO ? rv_p2p_cast_input_announce(l->cast, now, f.data, f.len, &why)
		 : f.flags == RV_P2P_IPMC_END ? rv_p2p_cast_input_end(l->cast, now, f.run, f.seq, &why)
		 : rv_p2p_cast_input_fragment_sig(l->cast, now, f.run, f.seq, f.flags, f.sig, f.data, f.len);
	if (rc < 0 && !l->ipmc_bad++)
		rv_debug("p2p stream: an IP multicast datagram refused: %s", rc == RV_ETOOBIG ? "too big" : why);
	pump(l);
}

/* "ADDR:PORT[,SRC]" (S) into *TO, the group's address as text (IP) and
 * the source (*SRC, in TEXT; NULL: none): 0, or -EINVAL with *WHY. */
static int ipmc_parse(const char *s, char *text, size_t cap, struct sockaddr_storage *to, char *ip,
		      const char **src, const char **why)
{
	socklen_t len;
	uint8_t a6[16];
	snprintf(text, cap, "%s", s);
	char *comma = strchr(text, ',');
	*src = NULL;
	if (comma) {
		*comma = 0;
		*src = comma + 1;
	}
	if (rv_p2plink_addr(text, 0, to, &len) < 0 || !rv_p2plink_addr_port(to))
		return *why = "--ipmc: not ADDR:PORT[,SRC]", -EINVAL;
	if (to->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)to;
		if (!IN_MULTICAST(ntohl(a->sin_addr.s_addr)))
			return *why = "--ipmc: not an IP multicast address (224.0.0.0/4)", -EINVAL;
		uv_ip4_name(a, ip, INET6_ADDRSTRLEN);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)to;
		if (a->sin6_addr.s6_addr[0] != 0xff)
			return *why = "--ipmc: not an IP multicast address (ff00::/8)", -EINVAL;
		uv_ip6_name(a, ip, INET6_ADDRSTRLEN);
	}
	if (*src && inet_pton(to->ss_family, *src, a6) != 1)
		return *why = "--ipmc: the source is no address of the group's family", -EINVAL;
	return 0;
}

int rv_p2plive_ipmc_check(const char *s, const char **why)
{
	char text[300], ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage to;
	const char *src;
	return ipmc_parse(s, text, sizeof text, &to, ip, &src, why);
}

/* O->ipmc: "ADDR:PORT[,SRC]". A publisher sends there (TTL, looped back
 * to receivers on this host); a receiver binds the port and joins. */
static int ipmc_start(struct rv_p2plive *l, const struct rv_p2plive_opts *o, const char **why)
{
	char text[300], ip[INET6_ADDRSTRLEN];
	const char *src;
	int rc;
	if ((rc = ipmc_parse(o->ipmc, text, sizeof text, &l->ipmc_to, ip, &src, why)) < 0)
		return rc;
	struct sockaddr_storage any = { .ss_family = l->ipmc_to.ss_family };
	if (any.ss_family == AF_INET)
		((struct sockaddr_in *)&any)->sin_port = ((const struct sockaddr_in *)&l->ipmc_to)->sin_port;
	else
		((struct sockaddr_in6 *)&any)->sin6_port = ((const struct sockaddr_in6 *)&l->ipmc_to)->sin6_port;
	if (rv_impair_from_env(&l->impair, (uint64_t)getpid() << 24 ^ rv_p2plink_wall_ms(), why) < 0)
		return -EINVAL;
	l->impair.loss = l->impair.mloss;	/* ours: multicast's only (p2plink.c loses the rest) */
	uv_udp_t *u = malloc(sizeof *u);
	if (!u)
		return *why = "out of memory", -ENOMEM;
	uv_udp_init(l->loop, u);
	u->data = l;
	if (o->cast.publisher) {
		struct sockaddr_storage eph = { .ss_family = l->ipmc_to.ss_family };
		if ((rc = uv_udp_bind(u, (const struct sockaddr *)&eph, 0)) < 0 ||
		    (rc = uv_udp_set_multicast_ttl(u, o->ipmc_ttl ? o->ipmc_ttl : 1)) < 0 ||
		    (rc = uv_udp_set_multicast_loop(u, 1)) < 0)	/* receivers on this host hear it too */
			*why = uv_strerror(rc);
	} else if ((rc = uv_udp_bind(u, (const struct sockaddr *)&any, UV_UDP_REUSEADDR)) < 0) {
		*why = uv_strerror(rc);
	} else if ((rc = src ? uv_udp_set_source_membership(u, ip, NULL, src, UV_JOIN_GROUP)
			     : uv_udp_set_membership(u, ip, NULL, UV_JOIN_GROUP)) < 0) {
		*why = uv_strerror(rc);
	} else if ((rc = uv_udp_recv_start(u, ipmc_alloc, ipmc_recv)) < 0) {
		*why = uv_strerror(rc);
	}
	if (rc < 0) {
		uv_close((uv_handle_t *)u, free_handle);
		return rc;
	}
	l->ipmc = u;
	return 0;
}

int rv_p2plive_start(struct rv_p2plive **out, uv_loop_t *loop, const struct rv_p2plive_opts *o,
		     rv_p2plive_event_fn on_event, void *ud, const char **why)
{
	struct rv_p2plive *l = calloc(1, sizeof *l);
	struct rv_p2plink_conf lc = { 0 };
	struct sockaddr_storage server;
	uint8_t id[32];
	if (!l)
		return *why = "out of memory", -ENOMEM;
	l->loop = loop;
	l->on_event = on_event;
	l->ud = ud;
	int rc = 0;
	if (o->spec)
		rc = load(l, o, &lc, &server, why);
	else if (!o->ipmc || o->cast.publisher || o->npeers || o->lan)	/* IP multicast only: no group, no peer */
		rc = (*why = "no spec: only a receiver from IP multicast alone (--ipmc), with no peer", -EINVAL);
	l->any_group = !o->spec;
	rv_p2p_cast_id(o->name, id);
	memcpy(l->stream, id, 32);
	struct rv_p2p_cast_conf cc = o->cast;
	if (!cc.rnd)
		cc.rnd = random32;
	cc.admit = admit;
	cc.admit_ud = l;
	if (l->restricted) {	/* signed fragments: a member that may not publish slips nothing in */
		cc.sign = cc.publisher ? sign_fragment : NULL;
		cc.verify = cc.publisher ? NULL : verify_fragment;
		cc.sig_ud = l;
	}
	l->publisher = cc.publisher;
	l->run = rv_p2plink_wall_ms();	/* a publisher started again is a newer run */
	if (rc == 0 && (rc = rv_p2p_cast_new(&l->cast, id, &cc)) < 0)
		*why = rc == -EINVAL ? "window too large" : "out of memory";
	if (rc == 0 && o->ipmc)
		rc = ipmc_start(l, o, why);
	if (rc == 0 && o->spec)
		rc = rv_p2plink_start(&l->link, loop, &lc, on_link, l, why);
	if (rc < 0) {
		if (l->ipmc)
			uv_close((uv_handle_t *)l->ipmc, free_handle);	/* touches nothing of L */
		rv_p2p_cast_free(l->cast);
		rv_p2p_key_free(&l->key);
		free(l);
		return rc;
	}
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	l->timer_open = 1;
	rearm(l);
	*out = l;
	return 0;
}

/* A datagram to the multicast group, if any: FLAGS (p2pipmc.h), SEQ, the
 * payload P (N bytes; NULL with RV_P2P_IPMC_INFO: our announce). One
 * lost or refused by the kernel is for the mesh to fill. */
static void ipmc_send(struct rv_p2plive *l, uint8_t flags, uint32_t seq, const uint8_t *p, size_t n)
{
	if (!l->ipmc || rv_impair_drop(&l->impair))
		return;
	if (flags == RV_P2P_IPMC_INFO && !(p = rv_p2p_cast_info(l->cast, &n)))
		return;
	struct rv_p2p_ipmc_frag f = { .run = l->run, .seq = seq, .flags = flags, .data = p, .len = n };
	if (!(flags & (RV_P2P_IPMC_INFO | RV_P2P_IPMC_END)))
		f.sig = rv_p2p_cast_sig(l->cast, seq);	/* (a restricted stream's) */
	long len = rv_p2p_ipmc_build(l->group, l->stream, &f, l->dgram, sizeof l->dgram);
	uv_buf_t b = uv_buf_init((char *)l->dgram, len > 0 ? (unsigned)len : 0);
	if (len > 0)
		uv_udp_try_send(l->ipmc, &b, 1, (const struct sockaddr *)&l->ipmc_to);
}

long rv_p2plive_publish(struct rv_p2plive *l, const uint8_t *p, size_t n, int key)
{
	uv_update_time(l->loop);
	long rc = rv_p2p_cast_publish(l->cast, uv_now(l->loop), p, n, key);
	if (rc >= 0 && key)	/* a receiver with no neighbour can start here */
		ipmc_send(l, RV_P2P_IPMC_INFO, 0, NULL, 0);
	if (rc >= 0)	/* before the peers' copies: multicast first, the mesh fills gaps */
		ipmc_send(l, key ? RV_P2P_FRAG_KEY : 0, (uint32_t)rc, p, n);
	pump(l);
	return rc;
}

int rv_p2plive_end(struct rv_p2plive *l)
{
	uv_update_time(l->loop);
	int rc = rv_p2p_cast_end(l->cast, uv_now(l->loop));
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(l->cast, &st);
	for (int i = 0; rc == 0 && i < 3; i++)	/* a datagram may be lost; the copies are ignored */
		ipmc_send(l, RV_P2P_IPMC_END, st.end, NULL, 0);
	pump(l);
	return rc;
}

int rv_p2plive_set_info(struct rv_p2plive *l, const uint8_t *p, size_t n)
{
	uint8_t app[RV_P2P_CAST_INFO_MAX];
	if (n > sizeof app - 8)
		return RV_ETOOBIG;
	rv_wr64(app, l->run);	/* our run first */
	memcpy(app + 8, p, n);
	p = app;
	n += 8;
	if (l->restricted) {	/* signed, with our capability */
		long len = rv_p2p_cap_announce(&l->key, l->has_cap ? l->cap : NULL, l->stream, p, n, l->ann,
					       sizeof l->ann);
		if (len < 0)
			return (int)len;
		p = l->ann;
		n = (size_t)len;
	}
	int rc = rv_p2p_cast_set_info(l->cast, p, n);
	if (rc == 0)
		ipmc_send(l, RV_P2P_IPMC_INFO, 0, NULL, 0);
	pump(l);
	return rc;
}

void rv_p2plive_stats(const struct rv_p2plive *l, struct rv_p2p_cast_stats *st)
{
	rv_p2p_cast_stats(l->cast, st);
}

int rv_p2plive_peer_stats(const struct rv_p2plive *l, size_t i, struct rv_p2p_cast_peer_stats *st)
{
	return rv_p2p_cast_peer_stats(l->cast, i, st);
}

size_t rv_p2plive_neighbors(const struct rv_p2plive *l)
{
	struct rv_p2p_node_stats st;
	if (!l->link)
		return 0;
	rv_p2p_node_stats(rv_p2plink_node(l->link), &st);
	return st.neighbors;
}

const uint8_t *rv_p2plive_id(const struct rv_p2plive *l)
{
	return l->key.id;
}

int rv_p2plive_port(struct rv_p2plive *l)
{
	return l->link ? rv_p2plink_port(l->link) : -1;
}

void rv_p2plive_json(const struct rv_p2plive *l, cJSON *o)
{
	struct rv_p2p_cast_stats st;
	rv_p2p_cast_stats(l->cast, &st);
	const struct { const char *name; uint64_t v; } f[] = {
		{ "fragmentsPushedFromPeers", st.fragments_pushed_from_peers },
		{ "bytesPushedFromPeers", st.bytes_pushed_from_peers },
		{ "fragmentsPushedToPeers", st.fragments_pushed_to_peers },
		{ "bytesPushedToPeers", st.bytes_pushed_to_peers },
		{ "fragmentsRequestedByPeers", st.fragments_requested_by_peers },
		{ "bytesRequestedByPeers", st.bytes_requested_by_peers },
		{ "fragmentsRequestedFromPeers", st.fragments_requested_from_peers },
		{ "bytesRequestedFromPeers", st.bytes_requested_from_peers },
		{ "fragmentsPublished", st.fragments_published },
		{ "fragmentsReceivedFromIPMulticast", st.fragments_from_ipmc },
		{ "bytesReceivedFromIPMulticast", st.bytes_from_ipmc },
		{ "bytesPublished", st.bytes_published },
		{ "pulls", st.pulls },
		{ "duplicates", st.duplicates },
		{ "bytesDuplicate", st.bytes_duplicate },
		{ "late", st.late },
		{ "delivered", st.delivered },
		{ "skipped", st.skipped },
		{ "keyframeRequests", st.key_requests },
		{ "refused", st.refused },
		{ "dropped", st.dropped },
		{ "stalls", st.stalls },
		{ "controlBytesSent", st.control_bytes_out },
		{ "fragmentsOverBudget", st.fragments_over_budget },
		{ "bytesOverBudget", st.bytes_over_budget },
		{ "pushDeclines", st.push_declines },
		{ "pushDeclined", st.push_declined },
		{ "uploadRate", st.upload_rate },
		{ "announcesRefused", st.announces_refused },
		{ "forged", st.forged },
		{ "resets", st.resets },
		{ "otherRun", st.other_run },
		{ "run", st.run },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		cJSON_AddNumberToObject(o, f[i].name, (double)f[i].v);
	if (st.joined)
		cJSON_AddNumberToObject(o, "first", st.first);
	cJSON_AddBoolToObject(o, "ended", st.ended);
	if (st.ended)
		cJSON_AddNumberToObject(o, "end", st.end);
	cJSON *list = cJSON_AddArrayToObject(o, "peers");
	struct rv_p2p_cast_peer_stats ps;
	for (size_t k = 0; list && rv_p2p_cast_peer_stats(l->cast, k, &ps); k++) {
		char id[65];
		cJSON *x = cJSON_CreateObject();
		if (!x)
			break;
		rv_hex(ps.peer, 32, id);
		cJSON_AddStringToObject(x, "peer", id);
		cJSON_AddBoolToObject(x, "up", ps.up);
		const struct { const char *name; uint64_t v; } g[] = {
			{ "fragmentsPushedFrom", ps.fragments_pushed_from },
			{ "bytesPushedFrom", ps.bytes_pushed_from },
			{ "fragmentsRequestedFrom", ps.fragments_requested_from },
			{ "bytesRequestedFrom", ps.bytes_requested_from },
			{ "duplicates", ps.duplicates },
			{ "fragmentsPushedTo", ps.fragments_pushed_to },
			{ "bytesPushedTo", ps.bytes_pushed_to },
			{ "fragmentsRequestedBy", ps.fragments_requested_by },
			{ "bytesRequestedBy", ps.bytes_requested_by },
		};
		for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
			cJSON_AddNumberToObject(x, g[i].name, (double)g[i].v);
		cJSON_AddItemToArray(list, x);
	}
}

const char *rv_p2plive_addr_opt(const char *arg, int lan, const char **lanp, const char **peers, int *npeers)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (rv_p2plink_addr(arg, 0, &ss, &len) < 0 || !rv_p2plink_addr_port(&ss))
		return "expected ADDR:PORT";
	if (lan)
		*lanp = arg;
	else if (*npeers == RV_P2PLIVE_PEERS)
		return "too many --peer (at most 16)";
	else
		peers[(*npeers)++] = arg;
	return NULL;
}

int rv_p2plive_push_limit(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v >= 1 && v <= 64 ? (int)v : -1;
}

static void one_closed(struct rv_p2plive *l)
{
	if (--l->pending > 0)
		return;
	void (*cb)(void *) = l->on_closed;
	void *ud = l->closed_ud;
	rv_p2p_cast_free(l->cast);
	rv_p2p_key_free(&l->key);
	free(l);
	if (cb)
		cb(ud);
}

static void timer_closed(uv_handle_t *h)
{
	one_closed(h->data);
}

static void ipmc_closed(uv_handle_t *h)
{
	struct rv_p2plive *l = h->data;
	free(h);
	one_closed(l);
}

static void link_closed(void *ud)
{
	one_closed(ud);
}

void rv_p2plive_stop(struct rv_p2plive *l, void (*on_closed)(void *ud), void *ud)
{
	if (l->stopping)
		return;
	l->stopping = 1;
	l->on_closed = on_closed;
	l->closed_ud = ud;
	l->pending = 1 + (l->ipmc != NULL) + (l->link != NULL);
	uv_close((uv_handle_t *)&l->timer, timer_closed);
	if (l->ipmc)
		uv_close((uv_handle_t *)l->ipmc, ipmc_closed);
	if (l->link)
		rv_p2plink_stop(l->link, link_closed);
}
