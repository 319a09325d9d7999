/* nat.c - rvturn binding: the mapped address and, when the server offers
 * OTHER-ADDRESS, the NAT's mapping and filtering behaviour (RFC 5780 4.3
 * and 4.4), over one unconnected UDP socket. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cJSON.h>

#include "cli.h"
#include "rvturn.h"

#define A_CHANGE_REQUEST 0x0003
#define CHANGE_IP 0x04
#define CHANGE_PORT 0x02

static int same_host_port(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[128], y[128];
	return !strcmp(addr_str(a, x, sizeof x), addr_str(b, y, sizeof y));
}

struct probe {
	int fd;
	double timeout_ms;
	struct sockaddr_storage mapped, other;
	int has_other;
	char err[256];               /* why the last probe got -1 */
};

/* ICMP errors queued on P's socket (IP_RECVERR): -1 with p->err when one
 * says nothing listens at TO (or it is unreachable), else 0. */
static int refused(struct probe *p, const struct sockaddr_storage *to)
{
	struct sockaddr_storage where;
	int e, rc = 0;
	while ((e = udp_icmp_error(p->fd, &where)) >= 0)
		if (e && same_host_port(&where, to) && udp_unreachable(e, to, 0, p->err, sizeof p->err))
			rc = -1;
	return rc;
}

/* A Binding to TO (with CHANGE-REQUEST flags CHANGE); 1 with the mapped
 * address (and OTHER-ADDRESS), 0 when no answer came in time, -1 at once
 * when an ICMP error says nothing listens there (p->err). */
static int probe(struct probe *p, const struct sockaddr_storage *to, uint32_t change)
{
	struct rv_stun_builder b;
	const uint8_t *req;
	size_t len;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, NULL);
	if (change)
		rv_stun_add_u32(&b, A_CHANGE_REQUEST, change);
	rv_stun_add_str(&b, RV_STUN_A_SOFTWARE, "rvturn/" RV_VERSION);
	rv_stun_add_fingerprint(&b);
	if (rv_stun_end(&b, &req, &len) < 0)
		return -1;
	socklen_t tl = to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	double deadline = now_ms() + p->timeout_ms, rto = 250;
	while (now_ms() < deadline) {
		sendto(p->fd, req, len, 0, (const struct sockaddr *)to, tl);
		double until = now_ms() + rto;
		rto *= 2;
		if (until > deadline)
			until = deadline;
		for (;;) {
			int left = (int)(until - now_ms());
			if (left <= 0)
				break;
			struct pollfd pf = { p->fd, POLLIN, 0 };
			if (poll(&pf, 1, left) <= 0)
				break;
			if ((pf.revents & POLLERR) && refused(p, to) < 0)
				return -1;
			uint8_t buf[RV_STUN_MAX];
			ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
			struct rv_stun_msg m;
			if (n <= 0 || rv_stun_parse(buf, (size_t)n, &m) < 0 || memcmp(m.tid, rv_stun_tid(&b), 12) ||
			    m.cls != RV_STUN_SUCCESS)
				continue;
			const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_XOR_MAPPED_ADDRESS);
			if (!a)
				a = rv_stun_get(&m, RV_STUN_A_MAPPED_ADDRESS);
			if (!a || rv_stun_addr(&m, a, &p->mapped) < 0)
				continue;
			a = rv_stun_get(&m, RV_STUN_A_OTHER_ADDRESS);
			if (a && rv_stun_addr(&m, a, &p->other) == 0)
				p->has_other = 1;
			return 1;
		}
	}
	return 0;
}


static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

int cmd_binding(struct opts *o)
{
	struct addrinfo hints = { .ai_family = o->family, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	char port[16], s1[128], s2[128];
	snprintf(port, sizeof port, "%d", o->uri.port);
	if (o->uri.tr != TR_UDP) {	/* RFC 5780 tests are UDP; over TCP/TLS: the mapped address */
		struct client c;
		char addr[128] = "";
		int rc = 0;
		if (client_open(&c, o, o->uri.tr, addr, sizeof addr) < 0 || binding(&c) != 1) {
			rv_say_error("%s: %s", addr[0] ? addr : o->uri.host, c.err);
			rc = client_exit(&c);
		} else if (rv_out_json_mode()) {
			cJSON *j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "server", addr);
			cJSON_AddStringToObject(j, "mapped", addr_str(&c.mapped, s1, sizeof s1));
			rv_out_obj(j);
		} else {
			rv_out_line("%s", addr_str(&c.mapped, s1, sizeof s1));
		}
		client_close(&c);
		return rc;
	}
	int rc = getaddrinfo(o->uri.host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		rv_say_error("cannot resolve %s: %s", o->uri.host, gai_strerror(rc));
		return RV_EXIT_CONNECT;
	}
	struct sockaddr_storage server;
	memcpy(&server, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	struct probe p = { .timeout_ms = o->timeout * 1000 };
	p.fd = socket(server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p.fd < 0)
		return RV_EXIT_FAIL;
	udp_recverr(p.fd, server.ss_family);	/* an unconnected socket hears of ICMP errors only so */
	rc = probe(&p, &server, 0);
	if (rc != 1) {
		if (rc < 0)	/* the same rule as client_exit() */
			rv_say_error("%s", p.err);
		else
			rv_say_error("%s: no answer within %.0f s (wrong port or transport, or a firewall?)",
				     addr_str(&server, s1, sizeof s1), o->timeout);
		close(p.fd);
		return rc < 0 ? RV_EXIT_CONNECT : RV_EXIT_TIMEOUT;
	}
	struct sockaddr_storage x1 = p.mapped, other = p.other;
	int has_other = p.has_other;
	const char *mapping = NULL, *filtering = NULL;
	if (has_other) {
		/* 4.3 mapping: the other IP with the primary port, then the other IP and port */
		p.timeout_ms = o->timeout * 1000 < 3000 ? o->timeout * 1000 : 3000;
		struct sockaddr_storage alt = other;
		set_port(&alt, get_port(&server));
		if (probe(&p, &alt, 0) == 1) {
			struct sockaddr_storage x2 = p.mapped;
			if (same_host_port(&x1, &x2))
				mapping = "endpoint-independent";
			else if (probe(&p, &other, 0) == 1)
				mapping = same_host_port(&x2, &p.mapped) ? "address-dependent" : "address-and-port-dependent";
		}
		/* 4.4 filtering: ask for the answer from the other IP and port, then the other port */
		if (probe(&p, &server, CHANGE_IP | CHANGE_PORT) == 1)
			filtering = "endpoint-independent";
		else if (probe(&p, &server, CHANGE_PORT) == 1)
			filtering = "address-dependent";
		else
			filtering = "address-and-port-dependent";
	}
	close(p.fd);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "server", addr_str(&server, s1, sizeof s1));
		cJSON_AddStringToObject(j, "mapped", addr_str(&x1, s2, sizeof s2));
		if (has_other) {
			cJSON_AddStringToObject(j, "other", addr_str(&other, s1, sizeof s1));
			if (mapping)
				cJSON_AddStringToObject(j, "mapping", mapping);
			cJSON_AddStringToObject(j, "filtering", filtering);
		}
		rv_out_obj(j);
		return 0;
	}
	rv_out_line("%s", addr_str(&x1, s1, sizeof s1));
	if (!has_other) {
		rv_say_info("the server gives no OTHER-ADDRESS (RFC 5780), so it cannot tell how a NAT "
			    "maps or filters; only the mapped address above");
		return 0;
	}
	rv_out_line("mapping: %s", mapping ? mapping : "unknown (the other address did not answer)");
	rv_out_line("filtering: %s", filtering);
	return 0;
}
