/* p2plink.c - one peer of a group on the loop (p2plink.h): the UDP
 * socket, the clock and the timer around the sans-I/O node. LAN
 * announcements come on a second socket bound to the multicast group's
 * port, and ours go out from the session socket (so that the address heard
 * is the one to connect to): LAN_QUICK of them LAN_QUICK_MS apart on
 * joining, as mDNS announces (RFC 6762 8.3: a datagram may be lost, a
 * listener may come up a moment late), then every LAN_EVERY_MS. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cli.h"
#include "err.h"
#include "impair.h"
#include "p2plan.h"
#include "log.h"
#include "portfile.h"
#include "p2plink.h"
#include "token.h"
#include "udpq.h"

#define RX_BUF 65536
#define TX_BATCH 64                     /* datagrams sent in one sendmmsg (udpq.h) */
#define LAN_EVERY_MS 5000               /* a LAN announcement this often */
#define LAN_QUICK 3                     /* the first ones, on joining, */
#define LAN_QUICK_MS 500                /* this far apart */

struct rv_p2plink {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_timer_t timer;
	uv_prepare_t prep;              /* once a loop turn, before it waits: the timer rearmed */
	int rearm_due;
	uv_udp_t lan;                   /* LAN discovery: the multicast group's port */
	uv_timer_t lan_timer;           /* our announcements */
	unsigned lan_sent;              /* how many so far */
	struct sockaddr_storage lan_addr;
	struct rv_p2p_lan_seen lan_seen;
	const struct rv_p2p_key *key;
	uint8_t group[32];
	struct sockaddr_storage server;
	socklen_t server_len;
	int open, has_lan;              /* handles to close; the LAN ones among them */
	struct rv_p2p_node *node;
	rv_p2plink_event_fn on_event;
	void *ud;
	void (*on_closed)(void *ud);
	int closing;
	uint64_t send_errors;
	struct rv_impair impair;        /* RV_TEST_IMPAIR: tests lose datagrams here */
	uint8_t rx[RX_BUF];
	struct rv_udpq q;               /* the datagrams of one flush (TX_BATCH at a time); cap 0: none */
	uint8_t tx[TX_BATCH][RV_P2P_NODE_DGRAM_MAX];
};

uint64_t rv_p2plink_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rv_p2plink_addr(const char *text, int default_port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	int port = default_port;
	if (rv_parse_hostport(text, host, sizeof host, &port) < 0 || port < 0 || port > 65535)
		return -EINVAL;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *ai;
	char ps[8];
	snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -ENOENT;
	memset(ss, 0, sizeof *ss);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = (socklen_t)ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int rv_p2plink_lan(const char *arg, const struct rv_p2p_spec *spec, struct sockaddr_storage *ss)
{
	socklen_t len;
	if (arg)	/* for this run, whatever the spec says */
		return rv_p2plink_addr(arg, 0, ss, &len) < 0 || !rv_p2plink_addr_port(ss) ? -EINVAL : 1;
	memset(ss, 0, sizeof *ss);
	if (spec->lan_family == 4) {
		struct sockaddr_in *a = (void *)ss;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, spec->lan_addr, 4);
		a->sin_port = htons(spec->lan_port);
	} else if (spec->lan_family == 6) {
		struct sockaddr_in6 *a = (void *)ss;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, spec->lan_addr, 16);
		a->sin6_port = htons(spec->lan_port);
	}
	return spec->lan_family != 0;
}

int rv_p2plink_addr_port(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
					      : ((const struct sockaddr_in *)a)->sin_port);
}

void rv_p2plink_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;
		uv_ip4_name(a, ip, sizeof ip);
		port = ntohs(a->sin_port);
		snprintf(out, cap, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		uv_ip6_name(a, ip, sizeof ip);
		port = ntohs(a->sin6_port);
		snprintf(out, cap, "[%s]:%d", ip, port);
	} else {
		snprintf(out, cap, "?");
	}
}

/* ---- moving bytes ---- */

static void send_batch(struct rv_p2plink *p, int fd)
{
	size_t queued = p->q.n;
	p->send_errors += queued - rv_udpq_flush(&p->q, fd);	/* a full socket buffer: as if lost */
}

/* What the node has to send, TX_BATCH datagrams to a sendmmsg (a chunk's
 * records to one neighbour become one GSO send): one system call a
 * datagram was a third of a peer's time moving an object. */
static void flush(struct rv_p2plink *p)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	ssize_t n;
	size_t k = 0;
	uv_os_fd_t fd = -1;
	if (!p->q.cap && rv_udpq_init(&p->q, TX_BATCH) < 0)
		p->q.cap = 0;
	if (p->q.cap && uv_fileno((const uv_handle_t *)&p->udp, &fd) < 0)
		fd = -1;
	while ((n = rv_p2p_node_take(p->node, p->tx[k], sizeof p->tx[k], &to, &tolen)) > 0) {
		if (rv_impair_drop(&p->impair))
			continue;
		if (p->impair.no_direct && !(p->server_len && !memcmp(&to, &p->server, p->server_len)))
			continue;	/* RV_TEST_IMPAIR=direct=0: only the server is reached */
		if (fd < 0 || rv_udpq_add(&p->q, NULL, (const struct sockaddr *)&to, tolen, p->tx[k], (size_t)n) < 0) {
			uv_buf_t b = uv_buf_init((char *)p->tx[k], (unsigned)n);
			if (uv_udp_try_send(&p->udp, &b, 1, (const struct sockaddr *)&to) < 0)
				p->send_errors++;
		} else if (++k == TX_BATCH) {
			send_batch(p, fd);
			k = 0;
		}
	}
	if (k)
		send_batch(p, fd);
}

static void rearm(struct rv_p2plink *p);

/* After any input: send and report now; the timer is set once this turn
 * of the loop is over (on_prepare), not after every datagram. */
static void settle(struct rv_p2plink *p)
{
	struct rv_p2p_node_ev e;
	flush(p);
	while (!p->closing && rv_p2p_node_poll(p->node, &e))
		p->on_event(p->ud, &e);
	flush(p);
	p->rearm_due = !p->closing;
}

static void on_prepare(uv_prepare_t *h)
{
	struct rv_p2plink *p = h->data;
	if (p->rearm_due) {
		p->rearm_due = 0;
		rearm(p);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct rv_p2plink *p = t->data;
	rv_p2p_node_tick(p->node, uv_now(p->loop));
	settle(p);
}

static void rearm(struct rv_p2plink *p)
{
	uint64_t now = uv_now(p->loop), next = rv_p2p_node_next(p->node);
	uint64_t wait = next > now ? next - now : 0;
	uv_timer_start(&p->timer, on_timer, wait > 1000 ? 1000 : wait, 0);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct rv_p2plink *p = h->data;
	(void)want;
	*b = uv_buf_init((char *)p->rx, sizeof p->rx);
}

static void on_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
	struct rv_p2plink *p = u->data;
	(void)b;
	if (n <= 0 || !from || (flags & UV_UDP_PARTIAL) || p->closing)
		return;
	socklen_t flen = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	uv_update_time(p->loop);
	rv_p2p_node_input(p->node, uv_now(p->loop), p->rx, (size_t)n, from, flen);
	settle(p);
}

/* ---- LAN discovery ---- */

static void lan_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
	struct rv_p2plink *p = u->data;
	uint8_t id[32], pub[32];
	const char *why;
	(void)b;
	if (n <= 0 || !from || (flags & UV_UDP_PARTIAL) || p->closing || !rv_p2p_lan_is(p->rx, (size_t)n))
		return;
	if (rv_p2p_lan_open(p->rx, (size_t)n, p->group, rv_p2plink_wall_ms(), &p->lan_seen, id, pub, &why) < 0) {
		if (strncmp(why, "tag", 3))	/* another group's is not worth a word */
			rv_debug("LAN announcement refused: %s", why);
		return;
	}
	socklen_t flen = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	struct sockaddr_storage at;
	memcpy(&at, from, flen);
	if (at.ss_family == AF_INET && ((struct sockaddr_in *)&at)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&at)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (at.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&at)->sin6_addr))
		((struct sockaddr_in6 *)&at)->sin6_addr = in6addr_loopback;
	/* (from no address: a peer of this host whose multicast went out on lo
	 * with no source address, as in a network namespace with lo alone; its
	 * answers come from the loopback address) */
	uv_update_time(p->loop);
	rv_p2p_node_learn(p->node, uv_now(p->loop), id, (const struct sockaddr *)&at, flen);
	settle(p);
}

static void lan_announce(uv_timer_t *t)
{
	struct rv_p2plink *p = t->data;
	uint64_t nonce;
	uint8_t a[RV_P2P_LAN_LEN];
	if (RAND_bytes((unsigned char *)&nonce, sizeof nonce) != 1)
		return;
	long n = rv_p2p_lan_build(p->key, p->group, rv_p2plink_wall_ms(), nonce, a, sizeof a);
	uv_buf_t b = uv_buf_init((char *)a, (unsigned)(n > 0 ? n : 0));
	if (n > 0 && uv_udp_try_send(&p->udp, &b, 1, (const struct sockaddr *)&p->lan_addr) < 0)
		p->send_errors++;
	if (++p->lan_sent == LAN_QUICK)
		uv_timer_set_repeat(t, LAN_EVERY_MS);
}

/* Listen on ADDR's port, in its group, and announce there. */
static int lan_start(struct rv_p2plink *p, const struct sockaddr_storage *addr, const char **why)
{
	char ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage any = { .ss_family = addr->ss_family };
	int rc;
	p->lan_addr = *addr;
	if (addr->ss_family == AF_INET) {
		((struct sockaddr_in *)&any)->sin_port = ((const struct sockaddr_in *)addr)->sin_port;
		uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof ip);
	} else {
		((struct sockaddr_in6 *)&any)->sin6_port = ((const struct sockaddr_in6 *)addr)->sin6_port;
		uv_ip6_name((const struct sockaddr_in6 *)addr, ip, sizeof ip);
	}
	uv_udp_init(p->loop, &p->lan);
	uv_timer_init(p->loop, &p->lan_timer);
	p->lan.data = p->lan_timer.data = p;
	p->open += 2;
	p->has_lan = 1;
	if ((rc = uv_udp_bind(&p->lan, (const struct sockaddr *)&any, UV_UDP_REUSEADDR)) < 0 ||
	    (rc = uv_udp_set_membership(&p->lan, ip, NULL, UV_JOIN_GROUP)) < 0) {
		*why = uv_strerror(rc);
		return rc;
	}
	uv_udp_set_multicast_loop(&p->udp, 1);	/* peers on this host hear us too */
	uv_udp_set_multicast_ttl(&p->udp, 1);	/* and nobody past the LAN */
	uv_udp_recv_start(&p->lan, on_alloc, lan_recv);
	uv_timer_start(&p->lan_timer, lan_announce, 0, LAN_QUICK_MS);
	return 0;
}

/* ---- life ---- */

int rv_p2plink_start(struct rv_p2plink **out, uv_loop_t *loop, const struct rv_p2plink_conf *c, rv_p2plink_event_fn on_event,
	       void *ud, const char **why)
{
	struct rv_p2plink *p = calloc(1, sizeof *p);
	if (!p)
		return *why = "out of memory", -ENOMEM;
	p->loop = loop;
	p->on_event = on_event;
	p->key = c->key;
	memcpy(p->group, c->group, sizeof p->group);
	if (rv_impair_from_env(&p->impair, (uint64_t)getpid() << 20 ^ rv_p2plink_wall_ms(), why) < 0) {
		free(p);
		return -EINVAL;
	}
	p->ud = ud;
	struct rv_p2p_node_conf nc = { .key = c->key, .max_neighbors = c->max_neighbors, .spec = c->spec,
				       .cap = c->cap, .wall_ms = rv_p2plink_wall_ms };
	memcpy(nc.group, c->group, sizeof nc.group);
	if (c->server) {
		nc.server = p->server = *c->server;
		nc.server_len = p->server_len = c->server_len;
	}
	int rc = rv_p2p_node_new(&p->node, &nc, uv_now(loop), why);
	if (rc < 0) {
		free(p);
		return rc;
	}
	struct sockaddr_storage bind;
	socklen_t blen;
	if ((rc = rv_p2plink_addr(c->bind ? c->bind : "0.0.0.0:0", 0, &bind, &blen)) < 0) {
		*why = "--bind: not an address";
		goto fail;
	}
	uv_udp_init(loop, &p->udp);
	uv_timer_init(loop, &p->timer);
	uv_prepare_init(loop, &p->prep);
	p->udp.data = p->timer.data = p->prep.data = p;
	p->open = 3;
	uv_prepare_start(&p->prep, on_prepare);
	if ((rc = uv_udp_bind(&p->udp, (const struct sockaddr *)&bind, 0)) < 0) {
		*why = uv_strerror(rc);
		goto fail;
	}
	int size = 4 << 20;
	uv_send_buffer_size((uv_handle_t *)&p->udp, &size);
	uv_recv_buffer_size((uv_handle_t *)&p->udp, &size);
	if (c->port_file) {
		int port = rv_p2plink_port(p);
		if (rv_port_file_write(c->port_file, &port, 1) < 0) {
			*why = "cannot write the port file";
			rc = -EIO;
			goto fail;
		}
	}
	uv_udp_recv_start(&p->udp, on_alloc, on_recv);
	if (c->lan && (rc = lan_start(p, c->lan, why)) < 0)
		goto fail;
	for (int i = 0; i < c->npeers; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (rv_p2plink_addr(c->peers[i], 0, &ss, &len) < 0 || !((const struct sockaddr_in *)&ss)->sin_port) {
			rv_error("--peer %s: not an address with a port", c->peers[i]);
			continue;
		}
		rv_p2p_node_add_peer(p->node, uv_now(loop), (const struct sockaddr *)&ss, len);
	}
	*out = p;
	settle(p);
	return 0;
fail:
	rv_p2plink_stop(p, NULL);
	return rc < 0 ? rc : -EIO;
}

int rv_p2plink_port(struct rv_p2plink *p)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	if (uv_udp_getsockname(&p->udp, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

struct rv_p2p_node *rv_p2plink_node(struct rv_p2plink *p)
{
	return p->node;
}

int rv_p2plink_post(struct rv_p2plink *p, const void *data, size_t len, uint8_t id[32])
{
	uv_update_time(p->loop);
	int rc = rv_p2p_node_post(p->node, uv_now(p->loop), rv_p2plink_wall_ms(), data, len, id);
	settle(p);
	return rc;
}

int rv_p2plink_send_peer(struct rv_p2plink *p, const uint8_t dst[32], const uint8_t *msg, size_t len)
{
	uv_update_time(p->loop);
	int rc = rv_p2p_node_send_peer(p->node, uv_now(p->loop), dst, msg, len);
	flush(p);	/* events are polled by the caller's caller: no settle here */
	p->rearm_due = !p->closing;
	return rc;
}

void rv_p2plink_cut(struct rv_p2plink *p, const uint8_t peer[32], const char *why)
{
	uv_update_time(p->loop);
	rv_p2p_node_cut(p->node, uv_now(p->loop), peer, why);
	flush(p);
	p->rearm_due = !p->closing;
}

const struct rv_impair *rv_p2plink_impair(const struct rv_p2plink *p)
{
	return &p->impair;
}

int rv_p2plink_send(struct rv_p2plink *p, enum rv_p2p_route_mode mode, const uint8_t dst[32], const void *data, size_t len,
	      uint8_t id[32])
{
	uv_update_time(p->loop);
	int rc = rv_p2p_node_send(p->node, uv_now(p->loop), rv_p2plink_wall_ms(), mode, dst, data, len, id);
	settle(p);
	return rc;
}

static void on_close(uv_handle_t *h)
{
	struct rv_p2plink *p = h->data;
	if (--p->open > 0)
		return;
	void (*cb)(void *) = p->on_closed;
	void *ud = p->ud;
	rv_p2p_node_free(p->node);
	rv_udpq_free(&p->q);
	free(p);
	if (cb)
		cb(ud);
}

void rv_p2plink_stop(struct rv_p2plink *p, void (*on_closed)(void *ud))
{
	if (p->closing)
		return;
	p->closing = 1;
	p->on_closed = on_closed;
	if (!p->open) {
		rv_p2p_node_free(p->node);
		rv_udpq_free(&p->q);
		free(p);
		return;
	}
	uv_update_time(p->loop);
	rv_p2p_node_close(p->node, uv_now(p->loop));
	flush(p);	/* the goodbyes */
	if (p->has_lan) {
		uv_close((uv_handle_t *)&p->lan, on_close);
		uv_close((uv_handle_t *)&p->lan_timer, on_close);
	}
	uv_close((uv_handle_t *)&p->udp, on_close);
	uv_close((uv_handle_t *)&p->timer, on_close);
	uv_close((uv_handle_t *)&p->prep, on_close);
}

int rv_p2plink_cap_load(const char *arg, uint8_t cap[RV_P2P_CAP_LEN])
{
	if (!strncmp(arg, "rvc1:", 5))
		return rv_p2p_cap_parse(arg, strlen(arg), cap);
	char buf[RV_P2P_CAP_TEXT + 64];
	size_t len;
	int rc = rv_secret_read(arg, buf, sizeof buf, &len);
	if (rc < 0)
		return rc == -EINVAL ? RV_EPROTO : rc;	/* an empty file */
	return rv_p2p_cap_parse(buf, len, cap);
}
