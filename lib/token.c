/* token.c - HMAC-SHA256 auth tokens. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "token.h"

static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n) v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n) out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n) out[o++] = tab[v & 63];
	}
	out[o] = 0;
}

static int sign(const void *secret, size_t secret_len, const char *id,
		int64_t expiry, char sig[64])
{
	char msg[128];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n = snprintf(msg, sizeof msg, "%s.%" PRId64, id, expiry);
	if (n < 0 || (size_t)n >= sizeof msg)
		return -EINVAL;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)msg, (size_t)n, mac, &maclen))
		return -EINVAL;
	b64url(mac, maclen, sig);
	return 0;
}

int rv_token_make(const void *secret, size_t secret_len, const char *id,
		  int64_t expiry, char *out, size_t outlen)
{
	char sig[64];
	int rc = sign(secret, secret_len, id, expiry, sig);
	if (rc < 0)
		return rc;
	int n = snprintf(out, outlen, "v1.%" PRId64 ".%s", expiry, sig);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

int rv_token_check(const void *secret, size_t secret_len, const char *id,
		   const char *token, int64_t now, const char **why)
{
	char sig[64];
	if (!token || !*token) {
		*why = "token required";
		return RV_EDENIED;
	}
	*why = "malformed token";
	if (strncmp(token, "v1.", 3) != 0 || strlen(token) > RV_TOKEN_MAX)
		return RV_EDENIED;
	char *end;
	errno = 0;
	long long expiry = strtoll(token + 3, &end, 10);
	if (errno || end == token + 3 || *end != '.')
		return RV_EDENIED;
	if (sign(secret, secret_len, id, expiry, sig) < 0)
		return RV_EDENIED;
	size_t n = strlen(sig);
	if (strlen(end + 1) != n || CRYPTO_memcmp(sig, end + 1, n) != 0) {
		*why = "bad token signature";
		return RV_EDENIED;
	}
	if (expiry < now) {
		*why = "token expired";
		return RV_EDENIED;
	}
	return 0;
}

int rv_secret_read(const char *path, char *buf, size_t len, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	errno = 0;
	size_t n = fread(buf, 1, len - 1, f);
	int err = ferror(f) ? (errno ? -errno : -EIO) : 0;	/* EISDIR for a directory */
	fclose(f);
	if (err)
		return err;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	if (n == 0)
		return -EINVAL;
	*outlen = n;
	return 0;
}

int rv_turn_rest(const void *secret, size_t secret_len, const char *user, int64_t expiry,
		 char *username, size_t ulen, char password[RV_TURN_REST_PASS_MAX])
{
	int n = snprintf(username, ulen, "%" PRId64 ":%s", expiry, user);
	if (n < 0 || (size_t)n >= ulen)
		return -ENOSPC;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha1(), secret, (int)secret_len, (const uint8_t *)username, (size_t)n, mac, &maclen);
	EVP_EncodeBlock((uint8_t *)password, mac, (int)maclen);   /* 20 bytes: 28 characters */
	return 0;
}

int rv_ice_uri_turn(const char *uri)
{
	return !strncmp(uri, "turn:", 5) || !strncmp(uri, "turns:", 6);
}

const char *rv_ice_uri_add(const char **list, int *n, int max, const char *uri)
{
	if (*n >= max)
		return "too many ICE servers";
	if (strncmp(uri, "stun:", 5) && !rv_ice_uri_turn(uri))
		return "expected a stun:, turn: or turns: URI";
	list[(*n)++] = uri;
	return NULL;
}
