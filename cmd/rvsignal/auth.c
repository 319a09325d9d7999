/* auth.c - what rvsignal hands out and checks: ICE servers with per-peer
 * TURN REST credentials, HS256 JSON Web Tokens for joins, and the
 * --on-join admission hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "log.h"
#include "signal.h"
#include "token.h"

/* iceServers in the W3C RTCIceServer form. With --turn-secret-file, each
 * turn: and turns: URI gets credentials for this peer alone (username
 * "EXPIRY:ID", credential base64 HMAC-SHA1), as coturn's use-auth-secret
 * expects. */
cJSON *ice_servers(struct sig *g, const char *id)
{
	cJSON *list = cJSON_CreateArray();
	char user[128], cred[RV_TURN_REST_PASS_MAX];
	if (g->turn_secret_len &&
	    rv_turn_rest(g->turn_secret, g->turn_secret_len, id, (int64_t)time(NULL) + (int64_t)g->conf.turn_ttl,
			 user, sizeof user, cred) < 0)
		return list;          /* an id too long for a username: no servers */
	for (int i = 0; i < g->conf.nice; i++) {
		const char *uri = g->conf.ice[i];
		cJSON *s = cJSON_CreateObject(), *urls = cJSON_AddArrayToObject(s, "urls");
		cJSON_AddItemToArray(urls, cJSON_CreateString(uri));
		if (g->turn_secret_len && rv_ice_uri_turn(uri)) {
			cJSON_AddStringToObject(s, "username", user);
			cJSON_AddStringToObject(s, "credential", cred);
		}
		cJSON_AddItemToArray(list, s);
	}
	return list;
}

/* base64url (no padding) into OUT; the decoded length, or -1. */
static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	char tmp[4096];
	if (n + 4 > sizeof tmp || n / 4 * 3 + 3 > cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	size_t pad = (4 - n % 4) % 4;
	if (pad == 3)
		return -1;
	memset(tmp + n, '=', pad);
	int len = EVP_DecodeBlock(out, (uint8_t *)tmp, (int)(n + pad));
	return len < 0 ? -1 : len - (int)pad;
}

int jwt_check(struct sig *g, const char *token, const char *room, const char **why)
{
	*why = "a token is required to join (JWT, HS256)";
	if (!token)
		return RV_EDENIED;
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	*why = "malformed token";
	if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
		return RV_EDENIED;
	uint8_t buf[3072], mac[EVP_MAX_MD_SIZE], sig[64];
	unsigned maclen = 0;
	int n = b64url_decode(token, (size_t)(dot1 - token), buf, sizeof buf - 1);
	if (n < 0)
		return RV_EDENIED;
	buf[n] = 0;
	/* a header that is not a JSON object is no JWT at all: malformed, not
	 * a question of the algorithm */
	cJSON *hdr = cJSON_Parse((char *)buf);
	int isobj = cJSON_IsObject(hdr);
	const char *alg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hdr, "alg"));
	int hs256 = alg && !strcmp(alg, "HS256");
	cJSON_Delete(hdr);
	if (!isobj)
		return RV_EDENIED;
	if (!hs256) {
		*why = "token algorithm must be HS256";
		return RV_EDENIED;
	}
	HMAC(EVP_sha256(), g->token_secret, (int)g->token_secret_len, (const uint8_t *)token,
	     (size_t)(dot2 - token), mac, &maclen);
	int sl = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof sig);
	if (sl != (int)maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
		*why = "bad token signature";
		return RV_EDENIED;
	}
	*why = "malformed token";
	n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof buf - 1);
	if (n < 0)
		return RV_EDENIED;
	buf[n] = 0;
	cJSON *claims = cJSON_Parse((char *)buf);
	cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(claims, "room"));
	int rc = 0;
	if (!cJSON_IsObject(claims)) {
		rc = RV_EDENIED;	/* malformed */
	} else if (!cJSON_IsNumber(exp) || exp->valuedouble < (double)time(NULL)) {
		*why = "token expired (or no exp claim)";
		rc = RV_EDENIED;
	} else if (!r || (strcmp(r, room) != 0 && strcmp(r, "*") != 0)) {
		*why = "token is not for this room";
		rc = RV_EDENIED;
	}
	cJSON_Delete(claims);
	return rc;
}

/* ---- the --on-join hook: sh -c CMD, the request on stdin ---- */

struct hook {
	uv_process_t proc;
	uv_pipe_t in, out;
	uv_write_t wreq;
	uv_timer_t timer;
	struct conn *c;               /* NULL once the connection is gone */
	cJSON *req;
	hook_done_fn done;
	char *json;
	char reply[1024];
	size_t rlen;
	int handles, exited, status, finished;
};

static void hook_free_if_done(struct hook *h)
{
	if (h->handles)
		return;
	cJSON_Delete(h->req);
	free(h->json);
	free(h);
}

static void on_hook_closed(uv_handle_t *x)
{
	struct hook *h = x->data;
	h->handles--;
	hook_free_if_done(h);
}

static void hook_finish(struct hook *h, int ok, const char *why)
{
	if (h->finished)
		return;
	h->finished = 1;
	if (h->c) {
		h->c->hook = NULL;
		cJSON *req = h->req;
		h->req = NULL;
		h->done(h->c, req, ok, why);
		h->c = NULL;
	}
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_hook_closed);
	if (!uv_is_closing((uv_handle_t *)&h->out))
		uv_close((uv_handle_t *)&h->out, on_hook_closed);
	if (!uv_is_closing((uv_handle_t *)&h->in))
		uv_close((uv_handle_t *)&h->in, on_hook_closed);
	if (!uv_is_closing((uv_handle_t *)&h->proc))
		uv_close((uv_handle_t *)&h->proc, on_hook_closed);
}

static void on_hook_exit(uv_process_t *p, int64_t status, int sig)
{
	struct hook *h = p->data;
	h->exited = 1;
	h->status = sig ? -1 : (int)status;
	/* the reason may still be in the pipe: finish when it hits EOF */
	if (uv_is_closing((uv_handle_t *)&h->out) || !uv_is_active((uv_handle_t *)&h->out)) {
		h->reply[h->rlen] = 0;
		hook_finish(h, h->status == 0, h->reply);
	}
}

static void on_hook_alloc(uv_handle_t *x, size_t hint, uv_buf_t *b)
{
	struct hook *h = x->data;
	(void)hint;
	b->base = h->reply + h->rlen;
	b->len = sizeof h->reply - 1 - h->rlen;
}

static void on_hook_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct hook *h = s->data;
	(void)b;
	if (n > 0) {
		h->rlen += (size_t)n;
		if (h->rlen < sizeof h->reply - 1)
			return;
	} else if (n == 0) {
		return;
	}
	uv_read_stop(s);
	while (h->rlen && (h->reply[h->rlen - 1] == '\n' || h->reply[h->rlen - 1] == '\r'))
		h->rlen--;
	h->reply[h->rlen] = 0;
	if (h->exited)
		hook_finish(h, h->status == 0, h->reply);
}

static void on_hook_written(uv_write_t *w, int status)
{
	struct hook *h = w->data;
	(void)status;
	if (!uv_is_closing((uv_handle_t *)&h->in))
		uv_close((uv_handle_t *)&h->in, on_hook_closed);	/* EOF for the hook */
}

static void on_hook_timeout(uv_timer_t *t)
{
	struct hook *h = t->data;
	uv_process_kill(&h->proc, SIGKILL);
	hook_finish(h, 0, "the admission hook took too long");
}

int hook_run(struct conn *c, cJSON *req, hook_done_fn done)
{
	struct sig *g = c->sig;
	struct hook *h = calloc(1, sizeof *h);
	if (!h)
		return -1;
	h->c = c;
	h->req = req;
	h->done = done;
	h->json = cJSON_PrintUnformatted(req);
	uv_pipe_init(g->loop, &h->in, 0);
	uv_pipe_init(g->loop, &h->out, 0);
	uv_timer_init(g->loop, &h->timer);
	h->in.data = h->out.data = h->timer.data = h->proc.data = h->wreq.data = h;
	char *args[] = { "/bin/sh", "-c", (char *)g->conf.on_join, NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&h->in },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&h->out },
		{ .flags = UV_INHERIT_FD, .data.fd = 2 },
	};
	uv_process_options_t po = { .exit_cb = on_hook_exit, .file = "/bin/sh", .args = args,
				    .stdio = stdio, .stdio_count = 3 };
	h->handles = 4;
	int rc = uv_spawn(g->loop, &h->proc, &po);
	if (rc < 0) {
		rv_warn("--on-join: cannot run: %s", uv_strerror(rc));
		h->req = NULL;	/* the caller still owns it */
		h->c = NULL;
		uv_close((uv_handle_t *)&h->timer, on_hook_closed);
		uv_close((uv_handle_t *)&h->out, on_hook_closed);
		uv_close((uv_handle_t *)&h->in, on_hook_closed);
		uv_close((uv_handle_t *)&h->proc, on_hook_closed);
		return -1;
	}
	c->hook = h;
	uv_buf_t b = uv_buf_init(h->json, (unsigned)strlen(h->json));
	uv_write(&h->wreq, (uv_stream_t *)&h->in, &b, 1, on_hook_written);
	uv_read_start((uv_stream_t *)&h->out, on_hook_alloc, on_hook_read);
	uv_timer_start(&h->timer, on_hook_timeout, 5000, 0);
	return 0;
}

void hook_forget(struct conn *c)
{
	if (c->hook) {
		c->hook->c = NULL;
		c->hook = NULL;
	}
}
