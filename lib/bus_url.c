/* bus_url.c - lib/bus.h's addresses (--cluster URL) and node setup. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "err.h"
#include "log.h"
#include "token.h"

/* ---- addresses ---- */

/* HOST:PORT of LEN bytes at S (IPv6 in brackets) into *HP: 0 or RV_EPROTO. */
static int hostport(const char *s, size_t len, struct rv_bus_hostport *hp)
{
	char buf[80];
	if (len >= sizeof buf)
		return RV_EPROTO;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *host = buf, *colon = strrchr(host, ':'), *end = colon;
	if (*host == '[') {	/* [IPv6]:PORT */
		host++;
		end = colon && colon > host && colon[-1] == ']' ? colon - 1 : NULL;
	}
	if (!colon || !end || end <= host)
		return RV_EPROTO;
	*end = 0;
	return rv_bus_hostport_parse(host, strlen(host), colon + 1, strlen(colon + 1), hp);
}

int rv_bus_hostport_parse(const char *ip, size_t iplen, const char *port, size_t portlen,
			  struct rv_bus_hostport *hp)
{
	memset(hp, 0, sizeof *hp);
	if (iplen == 0 || iplen >= sizeof hp->ip || memchr(ip, 0, iplen) || portlen == 0 || portlen > 5)
		return RV_EPROTO;
	long p = 0;
	for (size_t i = 0; i < portlen; i++) {
		if (port[i] < '0' || port[i] > '9')
			return RV_EPROTO;
		p = p * 10 + (port[i] - '0');
	}
	if (p < 1 || p > 65535)
		return RV_EPROTO;
	memcpy(hp->ip, ip, iplen);
	struct in6_addr a6;
	if (inet_pton(AF_INET, hp->ip, &a6) != 1 && inet_pton(AF_INET6, hp->ip, &a6) != 1) {
		memset(hp, 0, sizeof *hp);
		return RV_EPROTO;
	}
	hp->port = (int)p;
	return 0;
}

/* sentinel://IP:PORT[,IP:PORT...]/NAME (REST: after the scheme) */
static int sentinel_url(const char *rest, struct rv_bus_addr *a, const char **why)
{
	const char *slash = strchr(rest, '/');
	if (!slash) {
		*why = "expected sentinel://IP:PORT[,IP:PORT...]/MASTERNAME: the master's name is missing";
		return RV_EPROTO;
	}
	const char *name = slash + 1;
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen >= sizeof a->master ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != nlen) {
		*why = "the master's name in sentinel://.../NAME must be 1-63 characters [A-Za-z0-9._-]";
		return RV_EPROTO;
	}
	for (const char *p = rest; p < slash;) {
		const char *comma = memchr(p, ',', (size_t)(slash - p)), *e = comma ? comma : slash;
		if (a->nsentinels == RV_BUS_SENTINELS_MAX) {
			*why = "sentinel:// takes at most 8 Sentinels";
			return RV_EPROTO;
		}
		if (hostport(p, (size_t)(e - p), &a->sentinels[a->nsentinels]) < 0) {
			*why = "expected sentinel://IP:PORT[,IP:PORT...]/MASTERNAME: each Sentinel an IP address "
			       "(hiredis resolves names with a blocking call) and a port 1-65535";
			return RV_EPROTO;
		}
		a->nsentinels++;
		p = comma ? comma + 1 : slash;
		if (comma && p == slash) {	/* a trailing comma */
			*why = "expected sentinel://IP:PORT[,IP:PORT...]/MASTERNAME: an empty Sentinel after a comma";
			return RV_EPROTO;
		}
	}
	if (a->nsentinels == 0) {
		*why = "expected sentinel://IP:PORT[,IP:PORT...]/MASTERNAME: no Sentinel given";
		return RV_EPROTO;
	}
	memcpy(a->master, name, nlen + 1);
	return 0;
}

int rv_bus_switch_parse(const char *msg, size_t len, const char *master, struct rv_bus_hostport *to)
{
	const char *w[5];
	size_t wl[5], n = 0, i = 0;
	memset(to, 0, sizeof *to);
	while (i < len) {	/* five words, one space apart */
		if (n == 5)
			return RV_EPROTO;
		size_t j = i;
		while (j < len && msg[j] != ' ')
			j++;
		if (j == i)
			return RV_EPROTO;
		w[n] = msg + i;
		wl[n++] = j - i;
		i = j < len ? j + 1 : j;
		if (j + 1 == len)	/* a trailing space */
			return RV_EPROTO;
	}
	if (n != 5)
		return RV_EPROTO;
	struct rv_bus_hostport hp;
	if (rv_bus_hostport_parse(w[1], wl[1], w[2], wl[2], &hp) < 0 ||
	    rv_bus_hostport_parse(w[3], wl[3], w[4], wl[4], to) < 0)
		return RV_EPROTO;
	return wl[0] == strlen(master) && memcmp(w[0], master, wl[0]) == 0 ? 1 : 0;
}

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
		int rc = sentinel_url(url + 11, a, why);
		if (rc < 0)
			memset(a, 0, sizeof *a);
		return rc;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		*why = "expected redis://IP:PORT, unix:PATH or sentinel://IP:PORT[,IP:PORT...]/MASTERNAME";
		return RV_EPROTO;
	}
	struct rv_bus_hostport hp;
	const char *host = url + 8, *colon = strrchr(host, ':');
	if (!colon || colon == host || !colon[1]) {
		*why = "expected redis://IP:PORT (port 1-65535)";
		return RV_EPROTO;
	}
	if (hostport(host, strlen(host), &hp) < 0) {
		char *pe;
		long port = strtol(colon + 1, &pe, 10);
		*why = *pe || port < 1 || port > 65535 || (*host == '[' && colon[-1] != ']')
			       ? "expected redis://IP:PORT (port 1-65535)"
			       : "the Redis host must be an IP address (hiredis resolves names with a blocking call)";
		return RV_EPROTO;
	}
	memcpy(a->ip, hp.ip, sizeof a->ip);
	a->port = hp.port;
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

