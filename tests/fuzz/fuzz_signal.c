/* fuzz_signal.c - rvsignal's message handling (cmd/rvsignal/rooms.c and
 * auth.c, linked as they are: this file provides only their socket edge,
 * edge.h) with four fake connections and no I/O: joins with and without
 * tokens, leave, resume, direct and room messages with exclude/include,
 * bye under --hangup close, rate limits, lost connections that come back and
 * sessions that expire.
 *
 * The input is lines. The first line's first byte sets the configuration
 * (bit 0: --hangup close, bit 1: --rate 5, bit 2: --max-peers 2, bit 3:
 * --json events, bit 4: --max-resumable 1 instead of 2; connections 0 and 2
 * come from one address, 1 and 3 from another); then each line is one
 * action:
 *   0..3 TEXT   connection N sends TEXT (a message) to peer_message
 *   D N         connection N is lost (its peer detaches); a new one replaces it
 *   R N M       connection N is lost; a new one resumes with the token that
 *               connection M's peer was welcomed with (as /ws?resume=TOKEN)
 *   H N         connection N's session is resumed on another cluster node and
 *               back (peer_release, peer_adopt with its rooms, and a new
 *               connection in slot N takes it with one message kept elsewhere)
 *   S           the resume window passes (peers_sweep)
 *   W           a sweep inside the window
 * Inside TEXT, $N is the id of connection N's (last) peer, %N its resume
 * token, @J a valid join token for any room and @K one for room "r" (HS256
 * with the fuzzer's secret), so that the fuzzer reaches real peers, real
 * sessions and an admitted jwt_check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../cmd/rvsignal/edge.h"
#include "../../cmd/rvsignal/signal.h"
#include "err.h"
#include "log.h"

#define NCONN 4
#define SECRET "fuzz-token-secret"

/* ---- edge.h: the socket edge that rooms.c and auth.c (linked as they
 * are) reach, here with no I/O ---- */

static size_t sent_bytes;

int conn_send_text(struct conn *c, const char *s, size_t n)
{
	if (c->closing)
		return RV_ECLOSED;
	/* every message the server sends is one JSON object with a type */
	cJSON *m = cJSON_ParseWithLength(s, n);
	if (!cJSON_IsObject(m) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "type")))
		abort();
	cJSON_Delete(m);
	sent_bytes += n;
	return 0;
}

int conn_send_fanout(struct conn *c, const char *s, size_t n, struct rv_buf *frame)
{
	(void)frame;
	return conn_send_text(c, s, n);
}

int conn_send(struct conn *c, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (!s)
		return -1;
	int rc = conn_send_text(c, s, strlen(s));
	free(s);
	return rc;
}

void conn_close(struct conn *c, const char *why)
{
	(void)why;
	c->closing = 1;
	c->kind = C_DONE;
}

void sig_event(struct sig *g, const char *event, const char *id, cJSON *extra)
{
	if (!g->conf.json) {
		cJSON_Delete(extra);
		return;
	}
	cJSON *o = extra ? extra : cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	if (id)
		cJSON_AddStringToObject(o, "id", id);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	free(s);
}

/* ---- cluster.c's hooks: rooms.c calls them only with --cluster, never here ---- */

void sigcl_peer_new(struct sig *g, const struct peer *p) { (void)g; (void)p; abort(); }
void sigcl_gone(struct sig *g, const struct peer *p) { (void)g; (void)p; abort(); }
void sigcl_park(struct sig *g, const struct peer *p, const char *s, size_t n) { (void)g; (void)p; (void)s; (void)n; abort(); }
void sigcl_resumed(struct sig *g, const struct peer *p) { (void)g; (void)p; abort(); }
void sigcl_room_empty(struct sig *g, const char *room) { (void)g; (void)room; abort(); }
int sigcl_join(struct conn *c, const char *room, const char *name) { (void)c; (void)room; (void)name; abort(); }
void sigcl_left(struct sig *g, const char *room, const struct peer *p, const char *event)
{
	(void)g; (void)room; (void)p; (void)event;
	abort();
}
int sigcl_send_peer(struct conn *c, const char *to, const char *s, size_t n, const char *mtype)
{
	(void)c; (void)to; (void)s; (void)n; (void)mtype;
	abort();
}
int sigcl_send_room(struct conn *c, const char *room, const char *s, size_t n, const cJSON *exclude,
		    const cJSON *include)
{
	(void)c; (void)room; (void)s; (void)n; (void)exclude; (void)include;
	abort();
}
int sigcl_resume(struct conn *c, const char *token, int by_message) { (void)c; (void)token; (void)by_message; abort(); }

/* ---- the fake server ---- */

static struct sig g;
static struct conn *conns[NCONN];
static char ids[NCONN][16], tokens[NCONN][40];
static char jwt_any[512], jwt_r[512];

static void b64url(const uint8_t *in, size_t n, char *out)
{
	char tmp[512];
	int len = EVP_EncodeBlock((uint8_t *)tmp, in, (int)n);
	int j = 0;
	for (int i = 0; i < len && tmp[i] != '='; i++)
		out[j++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
	out[j] = 0;
}

static void make_jwt(const char *claims, char *out)
{
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char h[128], p[256], s[128];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	b64url((const uint8_t *)hdr, strlen(hdr), h);
	b64url((const uint8_t *)claims, strlen(claims), p);
	char signing[400];
	snprintf(signing, sizeof signing, "%s.%s", h, p);
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (uint8_t *)signing, strlen(signing), mac, &maclen);
	b64url(mac, maclen, s);
	snprintf(out, 512, "%s.%s", signing, s);
}

static void remember(int i)
{
	struct peer *p = conns[i]->peer;
	if (p) {
		snprintf(ids[i], sizeof ids[i], "%s", p->id);
		snprintf(tokens[i], sizeof tokens[i], "%s", p->resume);
	}
}

/* A new connection in slot I, greeted (resuming TOKEN if not NULL). */
static void open_conn(int i, const char *token)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->sig = &g;
	c->kind = C_WS;
	c->last_rx = c->tokens_at = uv_now(g.loop);
	c->tokens = g.conf.rate * 2;
	snprintf(c->addr, sizeof c->addr, "127.0.0.%d", i % 2 + 1);
	conns[i] = c;
	peer_hello(c, token);
	remember(i);
}

/* What server.c's close callback does. */
static void drop_conn(int i)
{
	struct conn *c = conns[i];
	hook_forget(c);
	if (c->peer)
		peer_detach(c);
	free(c);
	conns[i] = NULL;
}

/* Connections the code closed (hangup, replaced) go away and are replaced. */
static void reap(void)
{
	for (int i = 0; i < NCONN; i++)
		if (conns[i]->closing) {
			drop_conn(i);
			open_conn(i, NULL);
		}
}

/* TEXT with the placeholders filled in, into OUT (of CAP bytes). */
static size_t expand(const char *t, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		if ((t[i] == '$' || t[i] == '%') && i + 1 < n && t[i + 1] >= '0' && t[i + 1] < '0' + NCONN) {
			int k = t[i + 1] - '0';
			rep = t[i] == '$' ? ids[k] : tokens[k];
		} else if (t[i] == '@' && i + 1 < n && (t[i + 1] == 'J' || t[i + 1] == 'K')) {
			rep = t[i + 1] == 'J' ? jwt_any : jwt_r;
		}
		if (rep) {
			size_t l = strlen(rep);
			if (o + l >= cap)
				break;
			memcpy(out + o, rep, l);
			o += l;
			i++;
			continue;
		}
		if (o + 1 >= cap)
			break;
		out[o++] = t[i];
	}
	return o;
}

/* Connection I's session goes to another node and comes back (cluster.c's
 * side of a resume elsewhere: the old node lets go, the new one adopts it
 * detached in its rooms, then a connection takes it). */
static void handover(int i)
{
	struct peer *p = rv_map_get(&g.peers, ids[i]);
	if (!p)
		return;
	char id[16], tok[40], name[80], rbuf[8][72];
	const char *rooms[8];
	size_t nr = 0;
	snprintf(id, sizeof id, "%s", p->id);
	snprintf(tok, sizeof tok, "%s", p->resume);
	snprintf(name, sizeof name, "%s", p->name ? p->name : p->id);
	for (size_t k = 0; k < p->nrooms && nr < 8; k++, nr++) {
		snprintf(rbuf[nr], sizeof rbuf[nr], "%s", p->rooms[k]->name);
		rooms[nr] = rbuf[nr];
	}
	peer_release(&g, p);
	struct peer *np = peer_adopt(&g, id, tok, name, rooms, nr, "127.0.0.9");
	if (!np)
		abort();	/* released: nothing here holds the id or the token */
	char kept[] = "{\"type\":\"chat\",\"kept\":1}";
	char *kv[] = { kept };
	drop_conn(i);
	open_conn(i, NULL);
	peer_attach(&g, conns[i], np, kv, 1);
	if (conns[i]->peer != np)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	rv_log_set(RV_LOG_ERROR, NULL, NULL);
	make_jwt("{\"room\":\"*\",\"exp\":4102444800}", jwt_any);
	make_jwt("{\"room\":\"r\",\"exp\":4102444800,\"sub\":\"fuzz\"}", jwt_r);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[70000];
	memset(&g, 0, sizeof g);
	g.loop = uv_default_loop();
	uint8_t flags = size ? data[0] : 0;
	g.conf.hangup_close = flags & 1;
	g.conf.rate = flags & 2 ? 5 : 0;
	g.conf.max_peers = flags & 4 ? 2 : 0;
	g.conf.json = (flags & 8) != 0;
	g.conf.resume_window = 30;
	g.conf.max_resumable = flags & 16 ? 1 : 2;
	g.conf.turn_ttl = 600;
	g.conf.ice[g.conf.nice++] = "stun:127.0.0.1:3478";
	g.conf.ice[g.conf.nice++] = "turn:127.0.0.1:3478?transport=tcp";
	memcpy(g.turn_secret, "turn-secret", 11);
	g.turn_secret_len = 11;
	memcpy(g.token_secret, SECRET, strlen(SECRET));
	g.token_secret_len = strlen(SECRET);
	memset(ids, 0, sizeof ids);
	memset(tokens, 0, sizeof tokens);
	for (int i = 0; i < NCONN; i++)
		open_conn(i, NULL);

	const char *p = (const char *)data, *end = p + size;
	const char *nl = memchr(p, '\n', size);
	p = nl ? nl + 1 : end;	/* the first line is the configuration */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;
		p = nl ? nl + 1 : end;
		if (!n)
			continue;
		int a = n > 1 ? (line[1] - '0') & (NCONN - 1) : 0, b = n > 2 ? (line[2] - '0') & (NCONN - 1) : 0;
		switch (line[0]) {
		case '0': case '1': case '2': case '3': {
			size_t len = expand(line + 1, n - 1, buf, sizeof buf);
			peer_message(conns[line[0] - '0'], buf, len);
			break;
		}
		case 'D':
			drop_conn(a);
			open_conn(a, NULL);
			break;
		case 'R': {
			char tok[40];
			snprintf(tok, sizeof tok, "%s", tokens[b]);
			drop_conn(a);
			open_conn(a, tok[0] ? tok : NULL);
			break;
		}
		case 'H':
			handover(a);
			break;
		case 'S':
			peers_sweep(&g, uv_now(g.loop) + 31000);
			break;
		case 'W':
			peers_sweep(&g, uv_now(g.loop) + 1000);
			break;
		}
		reap();
		for (int i = 0; i < NCONN; i++)
			remember(i);
	}

	/* every connection goes; the sessions expire; nothing may be left */
	for (int i = 0; i < NCONN; i++)
		drop_conn(i);
	peers_sweep(&g, UINT64_MAX);
	if (g.peers.count || g.resumes.count || g.rooms.count)
		abort();
	peers_free(&g);
	return 0;
}
