/* token.h - rvserver auth tokens.
 *
 * A token proves that whoever holds the shared secret let ID connect until
 * EXPIRY (unix seconds): "v1.EXPIRY.SIG", SIG being the base64url (no
 * padding) HMAC-SHA256 of "ID.EXPIRY" keyed with the secret. */
#ifndef RV_TOKEN_H
#define RV_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define RV_TOKEN_MAX 128

/* rv_token_make - write the token for ID valid until EXPIRY into OUT. */
int rv_token_make(const void *secret, size_t secret_len, const char *id,
		  int64_t expiry, char *out, size_t outlen);
/* rv_token_check - 0 when TOKEN is valid for ID at time NOW; RV_EDENIED with
 * *WHY ("token required" for a NULL or empty TOKEN, "malformed token", "bad
 * token signature", "token expired") otherwise. */
int rv_token_check(const void *secret, size_t secret_len, const char *id,
		   const char *token, int64_t now, const char **why);
/* rv_secret_read - read a secret file (trailing newline dropped) into BUF:
 * 0, -errno when it cannot be opened or read, -EINVAL when it is empty. */
int rv_secret_read(const char *path, char *buf, size_t len, size_t *outlen);

/* TURN REST credentials, as coturn's use-auth-secret checks them: the
 * username is "EXPIRY:USER" and the password the base64 HMAC-SHA1 of the
 * username keyed with the shared secret. */
#define RV_TURN_REST_PASS_MAX 32   /* 28 base64 characters and the NUL */
/* rv_turn_rest - write both for USER valid until EXPIRY (unix seconds):
 * 0, or -ENOSPC when USERNAME (ULEN bytes) cannot hold it. PASSWORD has
 * room for RV_TURN_REST_PASS_MAX bytes. */
int rv_turn_rest(const void *secret, size_t secret_len, const char *user, int64_t expiry,
		 char *username, size_t ulen, char password[RV_TURN_REST_PASS_MAX]);
/* rv_ice_uri_add - URI, an ICE server (stun:, turn: or turns:), becomes
 * LIST[*N] (LIST holds MAX): NULL, or why it cannot (for an option's
 * error). */
const char *rv_ice_uri_add(const char **list, int *n, int max, const char *uri);
/* rv_ice_uri_turn - 1 for a turn: or turns: URI: TURN REST credentials go
 * with it. */
int rv_ice_uri_turn(const char *uri);

#endif
