/* relay_ep.c - a connection's media endpoint on the UDP port: the
 * credentials it is given, the STUN Binding that registers its address, the
 * address lookup of every datagram (see relay.h); and the hand-over of the
 * peer-group introducer's messages (lib/p2pintro.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/hmac.h>

#include "log.h"
#include "relay_int.h"
#include "router.h"
#include "stun.h"

struct relay_ep *relay_ep_of(struct conn *c)
{
	struct relay_ep **slot = relay_ep_slot(c);
	if (!*slot) {
		*slot = calloc(1, sizeof **slot);
		if (*slot)
			(*slot)->c = c;
	}
	return *slot;
}

/* The UDP password of connection number USER: derived, never stored. */
static void udp_pass(const struct relay *r, const char *user, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[32];
	unsigned len = sizeof mac;
	HMAC(EVP_sha256(), r->key, sizeof r->key, (const uint8_t *)user, strlen(user), mac, &len);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[32] = 0;
}

cJSON *relay_udp_info(struct relay *r, struct conn *c)
{
	char pass[33];
	const char *user = relay_conn_number(c);
	if (!user)
		return NULL;
	udp_pass(r, user, pass);
	cJSON *u = cJSON_CreateObject();
	cJSON_AddNumberToObject(u, "port", r->udp_port);
	cJSON_AddStringToObject(u, "user", user);
	cJSON_AddStringToObject(u, "pass", pass);
	return u;
}

/* The address's bytes, no text: a tag, 16 address bytes (an IPv4 address
 * in the first 4, the rest zero), the port in network order. */
void relay_addr_key(const struct sockaddr *sa, uint8_t out[RELAY_ADDR_KEY])
{
	memset(out, 0, RELAY_ADDR_KEY);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		out[0] = 6;
		memcpy(out + 1, s6->sin6_addr.s6_addr, 16);
		memcpy(out + 17, &s6->sin6_port, 2);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		out[0] = 4;
		memcpy(out + 1, &s4->sin_addr.s_addr, 4);
		memcpy(out + 17, &s4->sin_port, 2);
	}
}

/* For people: "ADDR:PORT". */
void relay_addr_text(const struct sockaddr *sa, char *out, size_t len)
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

void relay_ep_unregister(struct relay *r, struct relay_ep *ep)
{
	if (r->last == ep)
		r->last = NULL;
	if (ep->udp && rv_bmap_get(&r->by_addr, ep->addrkey) == ep)
		rv_bmap_del(&r->by_addr, ep->addrkey);
	ep->udp = 0;
}

struct rv_client *relay_ep_client(const struct relay_ep *ep)
{
	return ep->edge ? ep->client : relay_client(ep->c);
}

void relay_ep_register(struct relay *r, struct relay_ep *ep, const struct sockaddr *sa)
{
	uint8_t key[RELAY_ADDR_KEY];
	relay_addr_key(sa, key);
	if (ep->udp && memcmp(key, ep->addrkey, sizeof key) == 0)
		return;
	relay_ep_unregister(r, ep);
	struct relay_ep *old = rv_bmap_del(&r->by_addr, key);
	if (old) {	/* the address moved to a new connection */
		if (r->last == old)
			r->last = NULL;
		old->udp = 0;
	}
	memcpy(ep->addrkey, key, sizeof key);
	ep->alen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	memcpy(&ep->addr, sa, ep->alen);
	if (rv_bmap_put(&r->by_addr, ep->addrkey, ep) == 0)
		ep->udp = 1;
	char text[80];
	struct rv_client *cl = relay_ep_client(ep);
	relay_addr_text(sa, text, sizeof text);
	rv_debug("%s: media over UDP from %s", cl ? cl->id : "?", text);
}

/* A STUN Binding request on the media port: USERNAME names a connection,
 * MESSAGE-INTEGRITY proves the client got its password over that
 * connection. The answer carries the mapped address, signed the same way. */
void relay_binding(struct relay *r, const uint8_t *p, size_t n, const struct sockaddr *from)
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
		c = relay_conn_by_number(r, user);
	}
	struct rv_stun_builder b;
	if (!c || !relay_conn_open(c) || !*relay_ep_slot(c)) {
		r->n.bad_bindings++;
		rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_ERROR, m.tid);
		static const uint8_t e401[] = { 0, 0, 4, 1, 'U', 'n', 'a', 'u', 't', 'h', 'o', 'r', 'i', 'z', 'e', 'd' };
		rv_stun_add(&b, RV_STUN_A_ERROR_CODE, e401, sizeof e401);
		rv_stun_add_fingerprint(&b);
	} else {
		udp_pass(r, user, pass);
		if (rv_stun_check_integrity(&m, (const uint8_t *)pass, 32) != 1) {
			r->n.bad_bindings++;
			return;	/* a forged or stale request: no answer */
		}
		r->n.bindings++;
		relay_ep_register(r, *relay_ep_slot(c), from);
		rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_SUCCESS, m.tid);
		rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_MAPPED_ADDRESS, from);
		rv_stun_add_integrity(&b, (const uint8_t *)pass, 32);
		rv_stun_add_fingerprint(&b);
	}
	const uint8_t *out;
	size_t len;
	if (rv_stun_end(&b, &out, &len) < 0)
		return;
	relay_udp_send(r, out, len, from);
}

/* Is FROM the endpoint's registered address? */
static int same_addr(const struct relay_ep *ep, const struct sockaddr *from)
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

/* A message for the peer-group introducer: its replies go out now. */
static void p2p_in(struct relay *r, const uint8_t *p, size_t n, const struct sockaddr *from)
{
	const uint8_t *out;
	size_t len;
	const struct sockaddr *to;
	rv_p2p_intro_input(r->p2p, relay_now(r), from, p, n);
	while (rv_p2p_intro_poll(r->p2p, &out, &len, &to))
		relay_udp_send(r, out, len, to);
}

void relay_udp_in(struct relay *r, uint8_t *p, size_t n, const struct sockaddr *from)
{
	if (rv_stun_is(p, n)) {
		if (r->p2p && rv_p2p_intro_is(p, n))
			p2p_in(r, p, n, from);
		else if (!r->ice_in || !r->ice_in(r->ice_ud, p, n, from))
			relay_binding(r, p, n, from);
		return;
	}
	/* packets come in runs from one sender: try the last one first */
	struct relay_ep *ep = r->last;
	if (!ep || !ep->udp || !same_addr(ep, from)) {
		uint8_t key[RELAY_ADDR_KEY];
		relay_addr_key(from, key);
		if (!(ep = rv_bmap_get(&r->by_addr, key))) {
			r->n.unknown++;
			return;
		}
		r->last = ep;
	}
	if (ep->edge)	/* DTLS or SRTP: the edge's to read */
		ep->edge->datagram(ep->edge_ud, p, n, from);
	else
		relay_packet(r, ep, p, n);
}
