/* client.c - STUN transactions and the TURN operations on one client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cli.h"
#include "err.h"
#include "rvturn.h"

#define SOFTWARE "rvturn/" RV_VERSION

/* Password from the environment, a file or a prompt; TURN REST credentials
 * from a shared secret (username "expiry:user", password base64 HMAC-SHA1),
 * as coturn's use-auth-secret expects. Never from argv. */
void credentials(struct opts *o)
{
	if (!o->user)
		return;
	snprintf(o->username, sizeof o->username, "%s", o->user);
	if (o->secret_file) {
		char secret[512];
		FILE *f = fopen(o->secret_file, "r");
		if (!f || !fgets(secret, sizeof secret, f)) {
			fprintf(stderr, "rvturn: cannot read --secret-file %s\n", o->secret_file);
			exit(2);
		}
		fclose(f);
		secret[strcspn(secret, "\r\n")] = 0;
		snprintf(o->username, sizeof o->username, "%lld:%s",
			 (long long)time(NULL) + (long long)o->ttl, o->user);
		uint8_t mac[EVP_MAX_MD_SIZE];
		unsigned maclen = 0;
		HMAC(EVP_sha1(), secret, (int)strlen(secret), (uint8_t *)o->username,
		     strlen(o->username), mac, &maclen);
		EVP_EncodeBlock((uint8_t *)o->password, mac, (int)maclen);
		o->have_password = 1;
		return;
	}
	const char *env = getenv("RV_TURN_PASSWORD");
	if (o->password_file) {
		FILE *f = fopen(o->password_file, "r");
		if (!f || !fgets(o->password, sizeof o->password, f)) {
			fprintf(stderr, "rvturn: cannot read --password-file %s\n", o->password_file);
			exit(2);
		}
		fclose(f);
		o->password[strcspn(o->password, "\r\n")] = 0;
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
		exit(2);
	}
	o->have_password = 1;
}

void client_share_auth(struct client *dst, const struct client *src)
{
	memcpy(dst->realm, src->realm, sizeof dst->realm);
	memcpy(dst->nonce, src->nonce, sizeof dst->nonce);
	memcpy(dst->key, src->key, sizeof dst->key);
	memcpy(dst->key256, src->key256, sizeof dst->key256);
	memcpy(dst->algs, src->algs, sizeof dst->algs);
	dst->algs_len = src->algs_len;
	dst->sha256 = src->sha256;
	dst->have_key = src->have_key;
}

static void sign(struct client *c, struct rv_stun_builder *b)
{
	rv_stun_add_str(b, RV_STUN_A_USERNAME, c->o->username);
	rv_stun_add_str(b, RV_STUN_A_REALM, c->realm);
	rv_stun_add_str(b, RV_STUN_A_NONCE, c->nonce);
	if (c->sha256) {	/* RFC 8489 9.2.4: echo the list, say which, SHA-256 integrity */
		rv_stun_add(b, RV_STUN_A_PASSWORD_ALGORITHMS, c->algs, c->algs_len);
		rv_stun_add_u32(b, RV_STUN_A_PASSWORD_ALGORITHM, 0x00020000);
		rv_stun_add_integrity_sha256(b, c->key256, sizeof c->key256);
	} else {
		rv_stun_add_integrity(b, c->key, sizeof c->key);
	}
}

static void take_realm_nonce(struct client *c, const struct rv_stun_msg *m)
{
	const struct rv_stun_attr *r = rv_stun_get(m, RV_STUN_A_REALM);
	const struct rv_stun_attr *n = rv_stun_get(m, RV_STUN_A_NONCE);
	if (r && r->len < sizeof c->realm) {
		memcpy(c->realm, r->val, r->len);
		c->realm[r->len] = 0;
	}
	if (n && n->len < sizeof c->nonce) {
		memcpy(c->nonce, n->val, n->len);
		c->nonce[n->len] = 0;
	}
	const struct rv_stun_attr *algs = rv_stun_get(m, RV_STUN_A_PASSWORD_ALGORITHMS);
	c->sha256 = algs && algs->len <= sizeof c->algs && rv_stun_offers_sha256(m);
	if (c->sha256) {
		memcpy(c->algs, algs->val, algs->len);
		c->algs_len = algs->len;
	}
	if (c->o->have_password && c->realm[0]) {
		rv_stun_long_term_key(c->o->username, c->realm, c->o->password, c->key);
		rv_stun_long_term_key_sha256(c->o->username, c->realm, c->o->password, c->key256);
		c->have_key = 1;
	}
}

/* One request, retransmitted on UDP (RTO 500 ms, doubling, 7 tries; RFC
 * 8489 6.2.1), one timeout on TCP and TLS. Returns 1 with the answer in
 * M, -1 when none came. Indications and ChannelData that arrive meanwhile
 * are dropped (check and relay read those themselves). */
static int exchange(struct client *c, const uint8_t *req, size_t len,
		    struct rv_stun_msg *m, uint8_t *buf, size_t cap)
{
	const uint8_t *tid = req + 8;
	int tries = c->tr == TR_UDP ? 7 : 1;
	double rto = 500, total = c->o->timeout * 1000;
	double deadline = now_ms() + total;
	for (int t = 0; t < tries && now_ms() < deadline; t++) {
		if (client_send(c, req, len) < 0)
			return -1;	/* c->err says why (an ICMP error can come out here) */
		double until = c->tr == TR_UDP ? now_ms() + rto : deadline;
		if (until > deadline)
			until = deadline;
		rto *= 2;
		for (;;) {
			int left = (int)(until - now_ms());
			if (left <= 0)
				break;
			int n = client_recv(c, buf, cap, left);
			if (n < 0)
				return -1;	/* refused or lost: definite, at once */
			if (n == 0)
				break;
			if (rv_stun_parse(buf, (size_t)n, m) == 0 && !memcmp(m->tid, tid, 12) &&
			    (m->cls == RV_STUN_SUCCESS || m->cls == RV_STUN_ERROR))
				return 1;
		}
	}
	c->timed_out = 1;
	snprintf(c->err, sizeof c->err, "no answer within %.0f s (wrong port or transport, or a firewall?)",
		 c->o->timeout);
	return -1;
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

int transact(struct client *c, uint16_t method, build_fn build, void *ud, int auth,
	     struct rv_stun_msg *m, uint8_t *buf, size_t cap)
{
	c->err[0] = 0;
	c->err_code = 0;
	c->timed_out = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct rv_stun_builder b;
		const uint8_t *req;
		size_t len;
		rv_stun_begin(&b, method, RV_STUN_REQUEST, NULL);
		if (build)
			build(&b, ud);
		rv_stun_add_str(&b, RV_STUN_A_SOFTWARE, SOFTWARE);
		if (auth && c->have_key)
			sign(c, &b);
		rv_stun_add_fingerprint(&b);
		if (rv_stun_end(&b, &req, &len) < 0) {
			snprintf(c->err, sizeof c->err, "request too large");
			return -1;
		}
		if (exchange(c, req, len, m, buf, cap) < 0)
			return -1;
		if (m->cls == RV_STUN_SUCCESS) {
			if (auth && c->have_key &&
			    (c->sha256 ? rv_stun_check_integrity_sha256(m, c->key256, sizeof c->key256)
				       : rv_stun_check_integrity(m, c->key, sizeof c->key)) == 0) {
				snprintf(c->err, sizeof c->err, "the answer's MESSAGE-INTEGRITY does not match our key");
				return -1;
			}
			return 1;
		}
		char reason[256] = "";
		c->err_code = rv_stun_error_code(m, reason, sizeof reason);
		snprintf(c->err, sizeof c->err, "%d %s", c->err_code, reason);
		/* 300 Try Alternate: the same request to the server it names. */
		const struct rv_stun_attr *alt = rv_stun_get(m, RV_STUN_A_ALTERNATE_SERVER);
		if (c->err_code == 300 && alt && c->redirects < 3 && rv_stun_addr(m, alt, &c->server) == 0) {
			char addr[128];
			c->redirects++;
			c->have_key = 0;
			c->realm[0] = c->nonce[0] = 0;
			if (client_connect(c, addr, sizeof addr) < 0)
				return -1;
			snprintf(c->moved_to, sizeof c->moved_to, "%s", addr);
			attempt = -1;	/* a fresh start there */
			continue;
		}
		/* 401 with a new realm/nonce: sign and retry; 438: the nonce went stale. */
		if (auth && c->o->have_password && (c->err_code == 401 || c->err_code == 438) &&
		    rv_stun_get(m, RV_STUN_A_NONCE)) {
			int had_key = c->have_key;
			take_realm_nonce(c, m);
			if (c->err_code == 401 && had_key && attempt > 0)
				return 0;	/* signed and still refused: the credentials */
			continue;
		}
		return 0;
	}
	return 0;
}

static void b_transport(struct rv_stun_builder *b, void *ud)
{
	const unsigned *lifetime = ud;
	rv_stun_add_u32(b, RV_STUN_A_REQUESTED_TRANSPORT, 17u << 24);	/* UDP */
	if (lifetime && *lifetime)
		rv_stun_add_u32(b, RV_STUN_A_LIFETIME, *lifetime);
}

int turn_allocate(struct client *c, int auth)
{
	struct rv_stun_msg m;
	uint8_t buf[RV_STUN_MAX];
	unsigned lifetime = c->o->lifetime;
	int r = transact(c, RV_STUN_ALLOCATE, b_transport, &lifetime, auth, &m, buf, sizeof buf);
	/* 437: the server still holds an allocation for this local port (an
	 * earlier client's); RFC 8656 7.3: try again from another port. */
	for (int tries = 0; r == 0 && c->err_code == 437 && tries < 3; tries++) {
		char addr[128];
		if (client_connect(c, addr, sizeof addr) < 0)
			return -1;
		r = transact(c, RV_STUN_ALLOCATE, b_transport, &lifetime, auth, &m, buf, sizeof buf);
	}
	if (r == 0 && !auth && (c->err_code == 401 || c->err_code == 438))
		take_realm_nonce(c, &m);
	if (r != 1)
		return r;
	const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_XOR_RELAYED_ADDRESS);
	if (!a || rv_stun_addr(&m, a, &c->relayed) < 0) {
		snprintf(c->err, sizeof c->err, "the answer has no XOR-RELAYED-ADDRESS");
		return -1;
	}
	a = rv_stun_get(&m, RV_STUN_A_XOR_MAPPED_ADDRESS);
	if (a)
		rv_stun_addr(&m, a, &c->mapped);
	a = rv_stun_get(&m, RV_STUN_A_LIFETIME);
	c->lifetime = a && a->len == 4 ? (unsigned)(a->val[0] << 24 | a->val[1] << 16 | a->val[2] << 8 | a->val[3]) : 0;
	return 1;
}

static void b_lifetime(struct rv_stun_builder *b, void *ud)
{
	rv_stun_add_u32(b, RV_STUN_A_LIFETIME, *(const unsigned *)ud);
}

int turn_refresh(struct client *c, unsigned lifetime)
{
	struct rv_stun_msg m;
	uint8_t buf[RV_STUN_MAX];
	int r = transact(c, RV_STUN_REFRESH, b_lifetime, &lifetime, 1, &m, buf, sizeof buf);
	if (r == 1) {
		const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_LIFETIME);
		if (a && a->len == 4)
			c->lifetime = (unsigned)(a->val[0] << 24 | a->val[1] << 16 | a->val[2] << 8 | a->val[3]);
	}
	return r;
}

static void b_peer(struct rv_stun_builder *b, void *ud)
{
	rv_stun_add_xor_addr(b, RV_STUN_A_XOR_PEER_ADDRESS, ud);
}

int turn_permission(struct client *c, const struct sockaddr_storage *peer)
{
	struct rv_stun_msg m;
	uint8_t buf[RV_STUN_MAX];
	return transact(c, RV_STUN_CREATE_PERMISSION, b_peer, (void *)peer, 1, &m, buf, sizeof buf);
}

struct bind_args {
	uint16_t ch;
	const struct sockaddr_storage *peer;
};

static void b_bind(struct rv_stun_builder *b, void *ud)
{
	const struct bind_args *a = ud;
	rv_stun_add_u32(b, RV_STUN_A_CHANNEL_NUMBER, (uint32_t)a->ch << 16);
	rv_stun_add_xor_addr(b, RV_STUN_A_XOR_PEER_ADDRESS, (const struct sockaddr *)a->peer);
}

int turn_bind(struct client *c, uint16_t ch, const struct sockaddr_storage *peer)
{
	struct rv_stun_msg m;
	uint8_t buf[RV_STUN_MAX];
	struct bind_args a = { ch, peer };
	return transact(c, RV_STUN_CHANNEL_BIND, b_bind, &a, 1, &m, buf, sizeof buf);
}

int turn_send(struct client *c, const struct sockaddr_storage *peer, const void *p, size_t n)
{
	struct rv_stun_builder b;
	const uint8_t *msg;
	size_t len;
	rv_stun_begin(&b, RV_STUN_SEND, RV_STUN_INDICATION, NULL);
	rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_PEER_ADDRESS, (const struct sockaddr *)peer);
	rv_stun_add(&b, RV_STUN_A_DATA, p, n);
	if (rv_stun_end(&b, &msg, &len) < 0)
		return RV_ETOOBIG;
	return client_send(c, msg, len);
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
	struct rv_stun_msg m;
	uint8_t buf[RV_STUN_MAX];
	int r = transact(c, RV_STUN_BINDING, NULL, NULL, 0, &m, buf, sizeof buf);
	if (r != 1)
		return r;
	const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_XOR_MAPPED_ADDRESS);
	if (!a)
		a = rv_stun_get(&m, RV_STUN_A_MAPPED_ADDRESS);
	if (!a || rv_stun_addr(&m, a, &c->mapped) < 0) {
		snprintf(c->err, sizeof c->err, "the answer has no mapped address");
		return -1;
	}
	return 1;
}
