/* fuzz_busaddr.c - what a Sentinel sends a cluster node (lib/bus.h): the
 * master's address (rv_bus_hostport_parse) and +switch-master messages
 * (rv_bus_switch_parse), and --cluster URLs (rv_bus_url_parse).
 *
 * Input grammar: byte 0 picks the parser (0: the address, split at the
 * first space into IP and PORT; 1: a +switch-master message, for master
 * "rv"; 2: a URL, NUL-terminated at the first NUL). Invariants: no read
 * past the input; 0 (or 1) or RV_EPROTO only; an address taken is an IP
 * address that inet_pton reads and a port 1-65535; a failed parse leaves
 * nothing half-filled; a URL taken is exactly one of the three forms, with
 * 1-8 Sentinels and a master's name of [A-Za-z0-9._-] for sentinel://, and
 * a URL refused says why. */
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "err.h"

static void check_hp(const struct rv_bus_hostport *hp)
{
	struct in6_addr a;
	assert(hp->port >= 1 && hp->port <= 65535);
	assert(memchr(hp->ip, 0, sizeof hp->ip));
	assert(inet_pton(AF_INET, hp->ip, &a) == 1 || inet_pton(AF_INET6, hp->ip, &a) == 1);
}

static void empty_hp(const struct rv_bus_hostport *hp)
{
	assert(hp->port == 0 && hp->ip[0] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct rv_bus_hostport hp;
	switch (data[0] % 3) {
	case 0: {
		const char *sp = memchr(p, ' ', n);
		size_t il = sp ? (size_t)(sp - p) : n;
		int rc = rv_bus_hostport_parse(p, il, sp ? sp + 1 : p + n, sp ? n - il - 1 : 0, &hp);
		assert(rc == 0 || rc == RV_EPROTO);
		if (rc == 0) {
			check_hp(&hp);
			assert(strlen(hp.ip) == il && memcmp(hp.ip, p, il) == 0);
		} else {
			empty_hp(&hp);
		}
		break;
	}
	case 1: {
		int rc = rv_bus_switch_parse(p, n, "rv", &hp);
		assert(rc == 0 || rc == 1 || rc == RV_EPROTO);
		if (rc >= 0)
			check_hp(&hp);
		if (rc == 1)
			assert(n > 3 && memcmp(p, "rv ", 3) == 0);
		break;
	}
	default: {
		char *url = malloc(n + 1);
		assert(url);
		memcpy(url, p, n);
		url[n] = 0;
		struct rv_bus_addr a;
		const char *why = NULL;
		int rc = rv_bus_url_parse(url, &a, &why);
		assert(rc == 0 || rc == RV_EPROTO);
		if (rc < 0) {
			assert(why && *why);
			assert(a.nsentinels == 0 && !a.master[0] && !a.path[0] && !a.ip[0]);
		} else if (strncmp(url, "unix:", 5) == 0) {
			assert(a.path[0] && strcmp(a.path, url + 5) == 0 && !a.ip[0] && !a.nsentinels);
		} else if (strncmp(url, "sentinel://", 11) == 0) {
			assert(a.nsentinels >= 1 && a.nsentinels <= RV_BUS_SENTINELS_MAX && !a.ip[0] && !a.path[0]);
			size_t ml = strlen(a.master);
			assert(ml >= 1 && ml < RV_BUS_MASTER_MAX);
			assert(strspn(a.master, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ml);
			for (int i = 0; i < a.nsentinels; i++)
				check_hp(&a.sentinels[i]);
		} else {
			assert(strncmp(url, "redis://", 8) == 0 && !a.nsentinels && !a.path[0]);
			struct rv_bus_hostport r = { .port = a.port };
			memcpy(r.ip, a.ip, sizeof r.ip);
			check_hp(&r);
		}
		free(url);
		break;
	}
	}
	return 0;
}
