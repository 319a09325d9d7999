/* wload.c - WebRTC load generator: N emulated viewers (or WHIP publishers) of one server.
 *
 * Every session is one UDP socket on 127.0.0.1 in one process. A session does what a browser
 * does on the wire, and no more:
 *   signalling  --target rv: a recvonly WHEP offer (video, H.264 42e01f packetization-mode 1)
 *               POSTed to rvserver's /whep/GROUP; the answer gives the server's ICE
 *               credentials, fingerprint and candidate.
 *               --target janus: the Janus HTTP API: create, attach janus.plugin.streaming,
 *               watch the mountpoint --mount, the offer from the long poll, then start with
 *               our JSEP answer (recvonly, the offer's first payload type, setup:passive).
 *               --whip (rv only): a sendonly WHIP offer (video H.264) to /whip/GROUP.
 *   ICE         we are the controlling full agent, the server ICE-lite: Binding requests with
 *               USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY (the
 *               server's ice-pwd) and FINGERPRINT (lib/stun), every 100 ms until answered,
 *               then every 5 s (consent freshness); requests from the server are answered.
 *   DTLS        both servers answer setup:active (rvserver) or are told setup:passive
 *               (Janus), so the session is the DTLS server (lib/dtls, ECDSA P-256); the
 *               server's certificate is checked against the SDP fingerprint; SRTP keys out.
 *   media       every SRTP packet is authenticated and decrypted (lib/srtp) and counted; the
 *               RTP sequence numbers of the first SSRC give the loss. SRTCP is counted apart.
 *               A WHIP publisher sends nothing after the handshake.
 * Signalling is blocking HTTP/1.0 on 127.0.0.1, one session at a time, at most --parallel
 * handshakes under way; the datagrams of every session are handled in between (epoll).
 *
 * Egress (the default): once every session is up and has media, --warmup seconds, then a
 * --window of seconds over which it counts the packets every viewer received and reads the
 * server's CPU (utime+stime of --pid, all threads, /proc/PID/stat) and its own (getrusage).
 * Prints RESULT with pkts_per_cpu_s (packets received by all viewers / server CPU seconds) and
 * legs_per_core: how many 1 Mbit/s viewer legs one core would serve at that cost per packet,
 * pkts_per_cpu_s / (the packets per second of one leg at the measured bitrate, scaled to
 * 1 Mbit/s) = pkts_per_cpu_s * per_viewer_bps / (per_viewer_pps * 1e6).
 *
 * --whip: N publishers, --parallel at a time; --loss F drops that share of the datagrams this
 * process sends (the server's own loss comes from its environment). Each session's connect
 * time is from the POST to the DTLS handshake done here (the server is done when our last
 * flight reaches it: it says so in its log). After the last is up, --warmup seconds more
 * answer the server's resends of a flight whose answer was lost. Prints CONNECT with the
 * failures and p50/p95/max. A session that is not up within --setup-timeout fails.
 *
 * Only 127.0.0.1 is dialled for HTTP; media goes to the candidate the server gives (Janus
 * offers no loopback candidate: its host address, which the kernel delivers over lo too).
 * --max-time ends the process whatever happens (exit 3).
 * Output: RESULT / CONNECT / INFO lines (key=value), ERROR lines on failure.
 * Exit: 0 ok, 1 a measurement failed (a session failed, or no media), 2 usage, 3 setup. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cpu.h"
#include "dtls.h"
#include "err.h"
#include "srtp.h"
#include "stun.h"

#define MAX_SESS 1024
#define SDP_MAX 16384
#define BATCH 32

enum { S_NEW, S_ICE, S_DTLS, S_UP, S_FAILED };

struct sess {
	int fd, state;
	struct sockaddr_in to;                  /* the server's candidate */
	char lufrag[16], lpwd[32];              /* ours */
	char rufrag[260], rpwd[260], rfp[RV_DTLS_FP_TEXT];
	struct rv_dtls *dtls;
	struct rv_srtp *in;
	double t_post, t_dtls, t_media, next_check;
	uint8_t tid[12];
	int answered;                           /* a check of ours got its success response */
	uint64_t pkts, bytes, bad, rtcp;
	uint32_t ssrc;                          /* the first SSRC: its sequence numbers */
	int have_seq;
	uint64_t ext_first, ext_high;           /* extended sequence numbers */
	char why[160];
};

static struct {
	const char *target;
	int http_port, n, pid, parallel, mount, whip;
	const char *group;
	double warmup, window, setup_timeout, max_time, loss;
} opt = { .target = "rv", .n = 10, .parallel = 20, .mount = 1, .group = "bench", .warmup = 2, .window = 10,
	  .setup_timeout = 60, .max_time = 300 };

static struct sess *sess;
static void sess_open(struct sess *s, struct in_addr addr);
static void pump(double secs);
static int nsess, ep;
static struct rv_dtls_ctx *ctx;
static uint64_t tiebreak, sent_drop, loss_state = 0x9E3779B97F4A7C15ull;
static int suite_seen;                  /* the SRTP suite of the last handshake */

/* ---- small helpers ---- */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	static const char m[] = "ERROR wload: --max-time reached\n";
	(void)sig;
	if (write(1, m, sizeof m - 1) < 0) {
		/* nothing left to do */
	}
	_exit(3);
}

static void die(const char *what, const char *arg)
{
	printf("ERROR wload: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	fflush(stdout);
	exit(3);
}

static void fail(struct sess *s, const char *why)
{
	if (s->state == S_FAILED)
		return;
	s->state = S_FAILED;
	snprintf(s->why, sizeof s->why, "%s", why);
}

/* ice-chars [A-Za-z0-9+/] */
static void ice_chars(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];
	if (RAND_bytes(r, (int)n) != 1)
		die("RAND_bytes failed", NULL);
	for (size_t i = 0; i < n; i++)
		out[i] = set[r[i] & 63];
	out[n] = 0;
}

/* ---- HTTP/1.0 on 127.0.0.1, blocking with a deadline ---- */

struct reply {
	int status;
	char location[512];
	char *body;                             /* NUL-terminated, malloc'd */
};

static int http(const char *method, const char *path, const char *ctype, const char *body, struct reply *r)
{
	memset(r, 0, sizeof *r);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.http_port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int hl = snprintf(head, sizeof head,
			  "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", method,
			  path, opt.http_port, ctype ? ctype : "application/json", blen);
	if (write(fd, head, (size_t)hl) != hl || (blen && write(fd, body, blen) != (ssize_t)blen)) {
		close(fd);
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	double end = mono() + 35;       /* Janus's long poll answers within 30 s */
	for (;;) {      /* the other sessions' datagrams are handled while the server answers */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ready = 0;
		while (buf && mono() < end && !(ready = poll(&p, 1, 0)))
			pump(0.002);
		if (ready <= 0)
			break;
		if (len == cap) {
			char *nb = realloc(buf, 2 * cap + 1);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -1;
	buf[len] = 0;
	char *eoh = strstr(buf, "\r\n\r\n");
	if (!eoh || sscanf(buf, "HTTP/%*s %d", &r->status) != 1) {
		free(buf);
		return -1;
	}
	*eoh = 0;
	for (char *l = strstr(buf, "\r\n"); l; l = strstr(l + 2, "\r\n"))
		if (!strncasecmp(l + 2, "Location:", 9))
			sscanf(l + 11, " %511[^\r\n]", r->location);
	r->body = strdup(eoh + 4);
	free(buf);
	return r->body ? 0 : -1;
}

/* ---- SDP ---- */

/* The value of the first line starting with KEY ("a=ice-ufrag:") into OUT. */
static int sdp_get(const char *sdp, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *l = sdp; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl)) {
			size_t n = strcspn(l + kl, "\r\n");
			if (n >= cap)
				return -1;
			memcpy(out, l + kl, n);
			out[n] = 0;
			return 0;
		}
	return -1;
}

/* The server's ICE credentials, fingerprint and first IPv4 UDP candidate. */
static int sdp_remote(struct sess *s, const char *sdp)
{
	char fp[160];
	if (sdp_get(sdp, "a=ice-ufrag:", s->rufrag, sizeof s->rufrag) < 0 ||
	    sdp_get(sdp, "a=ice-pwd:", s->rpwd, sizeof s->rpwd) < 0 ||
	    sdp_get(sdp, "a=fingerprint:sha-256 ", fp, sizeof fp) < 0 || strlen(fp) >= sizeof s->rfp)
		return -1;
	memcpy(s->rfp, fp, strlen(fp) + 1);	/* it fits: checked above */
	for (const char *l = strstr(sdp, "a=candidate:"); l; l = strstr(l + 1, "a=candidate:")) {
		char proto[8], ip[64];
		unsigned port;
		if (sscanf(l, "a=candidate:%*s %*s %7s %*s %63s %u typ", proto, ip, &port) != 3 ||
		    strcasecmp(proto, "udp") || !port || port > 65535)
			continue;
		memset(&s->to, 0, sizeof s->to);
		s->to.sin_family = AF_INET;
		s->to.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, ip, &s->to.sin_addr) == 1)
			return 0;
	}
	return -1;
}

static const char *h264 = "a=rtpmap:96 H264/90000\r\n"
			  "a=rtcp-fb:96 nack\r\n"
			  "a=rtcp-fb:96 nack pli\r\n"
			  "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

/* Our session-level and transport lines (after m= and c=). */
static int sdp_ours(const struct sess *s, char *out, size_t cap, const char *mid, const char *dir,
		    const char *setup)
{
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	getsockname(s->fd, (struct sockaddr *)&me, &ml);
	return snprintf(out, cap,
			"a=mid:%s\r\na=%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n"
			"a=setup:%s\r\na=rtcp-mux\r\na=candidate:1 1 udp 2130706431 %s %u typ host\r\n"
			"a=end-of-candidates\r\n",
			mid, dir, s->lufrag, s->lpwd, rv_dtls_ctx_fingerprint(ctx), setup, inet_ntoa(me.sin_addr),
			ntohs(me.sin_port));
}

static void rv_offer(const struct sess *s, char *out, size_t cap)
{
	char t[2048];
	sdp_ours(s, t, sizeof t, "0", opt.whip ? "sendonly" : "recvonly", "actpass");
	snprintf(out, cap,
		 "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
		 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\n%s%s%s",
		 (unsigned)(s - sess) + 1, t, h264,
		 opt.whip ? "a=ssrc:1234 cname:wload\r\na=msid:wload v\r\n" : "");
}

/* Janus's offer answered: its first m-line, recvonly, its first payload type's rtpmap and fmtp. */
static int janus_answer(const struct sess *s, const char *offer, char *out, size_t cap)
{
	char mid[64], m[256], pt[16], rtpmap[256] = "", fmtp[512] = "", key[64], t[2048];
	if (sdp_get(offer, "a=mid:", mid, sizeof mid) < 0 || sdp_get(offer, "m=video ", m, sizeof m) < 0 ||
	    sscanf(m, "%*s %*s %15s", pt) != 1)
		return -1;
	snprintf(key, sizeof key, "a=rtpmap:%s ", pt);
	sdp_get(offer, key, rtpmap, sizeof rtpmap);
	snprintf(key, sizeof key, "a=fmtp:%s ", pt);
	sdp_get(offer, key, fmtp, sizeof fmtp);
	sdp_ours(s, t, sizeof t, mid, "recvonly", "passive");
	int n = snprintf(out, cap,
			 "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE %s\r\n"
			 "m=video 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 127.0.0.1\r\n%sa=rtpmap:%s %s\r\n"
			 "a=rtcp-fb:%s nack\r\na=rtcp-fb:%s nack pli\r\n",
			 (unsigned)(s - sess) + 1, mid, pt, t, pt, rtpmap, pt, pt);
	if (fmtp[0] && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, "a=fmtp:%s %s\r\n", pt, fmtp);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ---- signalling ---- */

static int signal_rv(struct sess *s)
{
	char offer[SDP_MAX], path[256];
	struct reply r;
	sess_open(s, (struct in_addr){ htonl(INADDR_LOOPBACK) });
	rv_offer(s, offer, sizeof offer);
	snprintf(path, sizeof path, "/%s/%s", opt.whip ? "whip" : "whep", opt.group);
	s->t_post = mono();
	if (http("POST", path, "application/sdp", offer, &r) < 0)
		return fail(s, "POST failed"), -1;
	int ok = r.status == 201 && sdp_remote(s, r.body) == 0;
	if (!ok) {
		char why[160];
		snprintf(why, sizeof why, "POST %.40s: %d %.100s", path, r.status, r.body ? r.body : "");
		fail(s, why);
	}
	free(r.body);
	return ok ? 0 : -1;
}

/* A Janus request: the reply's JSON, or NULL. */
static cJSON *janus(const char *path, const char *body)
{
	struct reply r;
	if (http(body ? "POST" : "GET", path, NULL, body, &r) < 0)
		return NULL;
	cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
	free(r.body);
	return j;
}

static uint64_t janus_id(cJSON *j)
{
	cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
	cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
	uint64_t v = cJSON_IsNumber(id) ? (uint64_t)id->valuedouble : 0;
	cJSON_Delete(j);
	return v;
}

/* The JSEP offer for HANDLE from the session's long poll (10 s at most). */
static char *janus_offer(uint64_t sid)
{
	char path[128];
	double end = mono() + 10;
	snprintf(path, sizeof path, "/janus/%" PRIu64 "?maxev=10", sid);
	while (mono() < end) {
		cJSON *j = janus(path, NULL), *ev;
		if (!j)
			return NULL;
		cJSON *arr = cJSON_IsArray(j) ? j : NULL;
		int n = arr ? cJSON_GetArraySize(arr) : 1;
		for (int i = 0; i < n; i++) {
			ev = arr ? cJSON_GetArrayItem(arr, i) : j;
			cJSON *jsep = cJSON_GetObjectItemCaseSensitive(ev, "jsep");
			cJSON *sdp = cJSON_GetObjectItemCaseSensitive(jsep, "sdp");
			if (cJSON_IsString(sdp)) {
				char *o = strdup(sdp->valuestring);
				cJSON_Delete(j);
				return o;
			}
		}
		cJSON_Delete(j);
	}
	return NULL;
}

static int signal_janus(struct sess *s)
{
	char path[128], body[SDP_MAX + 512], ans[SDP_MAX];
	s->t_post = mono();
	uint64_t sid = janus_id(janus("/janus", "{\"janus\":\"create\",\"transaction\":\"c\"}"));
	if (!sid)
		return fail(s, "janus: create failed"), -1;
	snprintf(path, sizeof path, "/janus/%" PRIu64, sid);
	uint64_t hid = janus_id(janus(path, "{\"janus\":\"attach\",\"plugin\":\"janus.plugin.streaming\",\"transaction\":\"a\"}"));
	if (!hid)
		return fail(s, "janus: attach failed"), -1;
	snprintf(path, sizeof path, "/janus/%" PRIu64 "/%" PRIu64, sid, hid);
	snprintf(body, sizeof body,
		 "{\"janus\":\"message\",\"transaction\":\"w\",\"body\":{\"request\":\"watch\",\"id\":%d}}", opt.mount);
	cJSON_Delete(janus(path, body));
	char *offer = janus_offer(sid);
	if (!offer)
		return fail(s, "janus: no offer after watch"), -1;
	int rc = sdp_remote(s, offer);
	if (rc == 0) {  /* on the address of its candidate: libnice gathers none on lo */
		sess_open(s, s->to.sin_addr);
		rc = janus_answer(s, offer, ans, sizeof ans);
	}
	free(offer);
	if (rc < 0)
		return fail(s, "janus: cannot answer its offer"), -1;
	cJSON *req = cJSON_CreateObject(), *b = cJSON_AddObjectToObject(req, "body"), *js = cJSON_AddObjectToObject(req, "jsep");
	cJSON_AddStringToObject(req, "janus", "message");
	cJSON_AddStringToObject(req, "transaction", "s");
	cJSON_AddStringToObject(b, "request", "start");
	cJSON_AddStringToObject(js, "type", "answer");
	cJSON_AddStringToObject(js, "sdp", ans);
	char *text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	cJSON *r = text ? janus(path, text) : NULL;
	free(text);
	if (!r)
		return fail(s, "janus: start failed"), -1;
	cJSON_Delete(r);
	/* every candidate is in the answer: Janus waits for this before it calls ICE failed */
	r = janus(path, "{\"janus\":\"trickle\",\"transaction\":\"t\",\"candidate\":{\"completed\":true}}");
	if (!r)
		return fail(s, "janus: trickle failed"), -1;
	cJSON_Delete(r);
	return 0;
}

/* ---- the wire ---- */

static void send_dgram(struct sess *s, const uint8_t *p, size_t n)
{
	if (opt.loss > 0) {
		loss_state ^= loss_state << 13;
		loss_state ^= loss_state >> 7;
		loss_state ^= loss_state << 17;
		if ((double)(loss_state >> 11) / 9007199254740992.0 < opt.loss) {
			sent_drop++;
			return;
		}
	}
	if (sendto(s->fd, p, n, 0, (struct sockaddr *)&s->to, sizeof s->to) < 0 && errno != EAGAIN)
		fail(s, "sendto failed");
}

static void dtls_flush(struct sess *s)
{
	uint8_t d[RV_DTLS_MTU];
	ssize_t n;
	while ((n = rv_dtls_take(s->dtls, d, sizeof d)) > 0)
		send_dgram(s, d, (size_t)n);
}

/* A connectivity check: controlling, nominating. */
static void send_check(struct sess *s, double now)
{
	struct rv_stun_builder b;
	char user[600];
	uint8_t tb[8];
	const uint8_t *m;
	size_t len;
	for (int i = 0; i < 8; i++)
		tb[i] = (uint8_t)(tiebreak >> (56 - 8 * i));
	snprintf(user, sizeof user, "%s:%s", s->rufrag, s->lufrag);
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, NULL);
	memcpy(s->tid, rv_stun_tid(&b), 12);
	rv_stun_add_str(&b, RV_STUN_A_USERNAME, user);
	rv_stun_add_u32(&b, RV_STUN_A_PRIORITY, 1845501695u);
	rv_stun_add(&b, RV_STUN_A_ICE_CONTROLLING, tb, 8);
	rv_stun_add(&b, RV_STUN_A_USE_CANDIDATE, NULL, 0);
	rv_stun_add_integrity(&b, (const uint8_t *)s->rpwd, strlen(s->rpwd));
	rv_stun_add_fingerprint(&b);
	if (rv_stun_end(&b, &m, &len) >= 0)
		send_dgram(s, m, len);
	s->next_check = now + (s->answered ? 5.0 : 0.1);
}

/* A Binding request from the server (a full agent checks us): answer it. */
static void answer_check(struct sess *s, const struct rv_stun_msg *m)
{
	struct rv_stun_builder b;
	const uint8_t *out;
	size_t len;
	if (!rv_stun_check_integrity(m, (const uint8_t *)s->lpwd, strlen(s->lpwd)))
		return;
	rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_SUCCESS, m->tid);
	rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_MAPPED_ADDRESS, (struct sockaddr *)&s->to);
	rv_stun_add_integrity(&b, (const uint8_t *)s->lpwd, strlen(s->lpwd));
	rv_stun_add_fingerprint(&b);
	if (rv_stun_end(&b, &out, &len) >= 0)
		send_dgram(s, out, len);
}

static void stun_in(struct sess *s, const uint8_t *p, size_t n)
{
	struct rv_stun_msg m;
	if (rv_stun_parse(p, n, &m) < 0 || m.method != RV_STUN_BINDING)
		return;
	if (m.cls == RV_STUN_REQUEST) {
		answer_check(s, &m);
		return;
	}
	if (memcmp(m.tid, s->tid, 12))
		return;
	if (m.cls == RV_STUN_ERROR) {
		char reason[128] = "", why[160];
		snprintf(why, sizeof why, "ICE: error %d %s", rv_stun_error_code(&m, reason, sizeof reason), reason);
		fail(s, why);
		return;
	}
	if (m.cls != RV_STUN_SUCCESS || !rv_stun_check_integrity(&m, (const uint8_t *)s->rpwd, strlen(s->rpwd)))
		return;
	s->answered = 1;
	if (s->state == S_ICE) {
		s->state = S_DTLS;
		s->next_check = mono() + 5.0;
	}
}

static void dtls_in(struct sess *s, const uint8_t *p, size_t n)
{
	if (s->state == S_FAILED || s->state == S_NEW)
		return;
	if (rv_dtls_feed(s->dtls, p, n) == RV_ETLS) {
		dtls_flush(s);
		fail(s, rv_dtls_errstr(s->dtls));
		return;
	}
	dtls_flush(s);  /* up already: the server lost our last flight and sent its own again */
	if (s->state == S_UP || rv_dtls_state(s->dtls) != RV_DTLS_CONNECTED)
		return;
	struct rv_dtls_srtp k;
	if (rv_dtls_fingerprint_check(s->dtls, s->rfp) != 0) {
		fail(s, "DTLS: the server's certificate is not the SDP's fingerprint");
		return;
	}
	if (rv_dtls_srtp_keys(s->dtls, &k) < 0 || rv_srtp_new_raw(&s->in, k.suite, k.remote, k.len, 0) < 0) {
		OPENSSL_cleanse(&k, sizeof k);
		fail(s, "DTLS: no SRTP keys");
		return;
	}
	suite_seen = k.suite;
	OPENSSL_cleanse(&k, sizeof k);
	s->state = S_UP;
	s->t_dtls = mono();
}

static void media_in(struct sess *s, uint8_t *p, size_t n)
{
	if (s->state != S_UP || n < 12)
		return;
	int rtcp = p[1] >= 192 && p[1] <= 223;
	if (rv_srtp_unprotect(s->in, p, &n) < 0) {
		s->bad++;
		return;
	}
	if (rtcp) {
		s->rtcp++;
		return;
	}
	uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
	if (!s->pkts)
		s->t_media = mono();
	s->pkts++;
	s->bytes += n;
	if (!s->have_seq) {
		s->have_seq = 1;
		s->ssrc = ssrc;
		s->ext_first = s->ext_high = 65536u + seq;
	} else if (ssrc == s->ssrc) {
		uint64_t cyc = s->ext_high & ~0xFFFFull;
		uint64_t e = cyc | seq;
		if (e + 32768 < s->ext_high)
			e += 65536;
		else if (e > s->ext_high + 32768)
			e -= 65536;
		if (e > s->ext_high)
			s->ext_high = e;
	}
}

static void datagram(struct sess *s, uint8_t *p, size_t n)
{
	switch (rv_dtls_demux(p, n)) {
	case RV_DEMUX_STUN: stun_in(s, p, n); break;
	case RV_DEMUX_DTLS: dtls_in(s, p, n); break;
	case RV_DEMUX_RTP: media_in(s, p, n); break;
	default: break;
	}
}

static void read_all(struct sess *s)
{
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int n = recvmmsg(s->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n && s->state != S_FAILED; i++)
			datagram(s, bufs[i], mm[i].msg_len);
		if (n < BATCH)
			return;
	}
}

/* Timers: checks, DTLS retransmissions, the setup deadline. */
static void tick(double now)
{
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sess[i];
		if (s->state == S_NEW || s->state == S_FAILED)
			continue;
		if (s->state != S_UP && now - s->t_post > opt.setup_timeout) {
			fail(s, s->state == S_ICE ? "ICE: no answer to the checks" : "DTLS: handshake not done");
			continue;
		}
		if (now >= s->next_check)
			send_check(s, now);
		if (s->state == S_DTLS && rv_dtls_timeout_ms(s->dtls) == 0) {
			if (rv_dtls_on_timeout(s->dtls) < 0)
				fail(s, rv_dtls_errstr(s->dtls));
			dtls_flush(s);
		}
	}
}

/* Handle datagrams and timers for up to SECS seconds. */
static void pump(double secs)
{
	double end = mono() + secs, last = 0;
	struct epoll_event ev[64];
	do {
		double now = mono();
		int ms = (int)((end - now) * 1000);
		if (ms > 10)
			ms = 10;
		int n = epoll_wait(ep, ev, 64, ms < 0 ? 0 : ms);
		for (int i = 0; i < n; i++)
			read_all(&sess[ev[i].data.u32]);
		now = mono();
		if (now - last >= 0.01) {
			tick(now);
			last = now;
		}
	} while (mono() < end);
}

static int count(int state)
{
	int c = 0;
	for (int i = 0; i < nsess; i++)
		c += sess[i].state == state;
	return c;
}

static int pending(void)
{
	return count(S_ICE) + count(S_DTLS);
}

/* The session's socket on ADDR (port 0), its credentials and DTLS engine. */
static void sess_open(struct sess *s, struct in_addr addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = addr };
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int rb = 1 << 20;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("cannot open a UDP socket", strerror(errno));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)(s - sess) };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) < 0)
		die("epoll_ctl", strerror(errno));
	ice_chars(s->lufrag, 8);
	ice_chars(s->lpwd, 24);
	if (rv_dtls_new(&s->dtls, ctx, 1) < 0)
		die("rv_dtls_new failed", NULL);
}

/* Start every session, at most --parallel handshakes at a time. */
static void start_all(void)
{
	for (int i = 0; i < opt.n; i++) {
		struct sess *s = &sess[i];
		while (pending() >= opt.parallel)
			pump(0.005);
		s->fd = -1;
		nsess = i + 1;
		if ((!strcmp(opt.target, "janus") ? signal_janus(s) : signal_rv(s)) == 0) {
			s->state = S_ICE;
			send_check(s, mono());
		}
		pump(0);
	}
	double end = mono() + opt.setup_timeout + 1;
	while (pending() && mono() < end)
		pump(0.05);
}

/* ---- figures ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* p-th percentile (nearest rank) of V (N sorted values) */
static double pct(const double *v, int n, double p)
{
	if (n <= 0)
		return -1;
	int k = (int)(p / 100.0 * n + 0.999999);
	return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

static void print_connect(void)
{
	double d[MAX_SESS], m[MAX_SESS];
	int nd = 0, nm = 0, failed = 0;
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sess[i];
		if (s->state == S_FAILED) {
			if (failed++ < 5)
				printf("INFO session=%d failed=\"%s\"\n", i, s->why);
			continue;
		}
		if (s->t_dtls > 0)
			d[nd++] = (s->t_dtls - s->t_post) * 1000;
		if (s->t_media > 0)
			m[nm++] = (s->t_media - s->t_post) * 1000;
	}
	qsort(d, (size_t)nd, sizeof d[0], cmp_d);
	qsort(m, (size_t)nm, sizeof m[0], cmp_d);
	printf("CONNECT target=%s sessions=%d up=%d failed=%d dtls_p50_ms=%.1f dtls_p95_ms=%.1f dtls_max_ms=%.1f "
	       "media_n=%d media_p50_ms=%.1f media_p95_ms=%.1f loss_sent=%" PRIu64 "\n",
	       opt.target, nsess, nd, failed, pct(d, nd, 50), pct(d, nd, 95), nd ? d[nd - 1] : -1, nm, pct(m, nm, 50),
	       pct(m, nm, 95), sent_drop);
}

struct snap {
	double t, srv, gen;
	uint64_t pkts, bytes, expected, bad;
};

static void snap(struct snap *x)
{
	memset(x, 0, sizeof *x);
	x->t = mono();
	x->srv = bench_proc_cpu(opt.pid);
	x->gen = bench_self_cpu();
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &sess[i];
		if (s->state != S_UP)
			continue;
		x->pkts += s->pkts;
		x->bytes += s->bytes;
		x->bad += s->bad;
		if (s->have_seq)
			x->expected += s->ext_high - s->ext_first + 1;
	}
}

static int egress(void)
{
	int up = count(S_UP);
	double end = mono() + 10;
	for (;;) {     /* every viewer's first packet (a keyframe may take a GOP) */
		int waiting = 0;
		for (int i = 0; i < nsess; i++)
			waiting += sess[i].state == S_UP && !sess[i].pkts;
		if (!waiting || mono() > end)
			break;
		pump(0.1);
	}
	print_connect();
	if (up < opt.n) {
		printf("ERROR wload: %d of %d viewers up\n", up, opt.n);
		return 1;
	}
	pump(opt.warmup);
	struct snap a, b;
	snap(&a);
	pump(opt.window);
	snap(&b);
	double dt = b.t - a.t, srv = b.srv - a.srv, gen = b.gen - a.gen;
	uint64_t pkts = b.pkts - a.pkts, bytes = b.bytes - a.bytes, exp = b.expected - a.expected;
	uint64_t mn = UINT64_MAX, mx = 0;
	for (int i = 0; i < nsess; i++) {      /* per viewer over the whole run: every one got media */
		mn = sess[i].pkts < mn ? sess[i].pkts : mn;
		mx = sess[i].pkts > mx ? sess[i].pkts : mx;
	}
	double vpps = (double)pkts / dt / up, vbps = (double)bytes * 8 / dt / up;
	double ppc = srv > 0 ? (double)pkts / srv : -1;
	double legs = ppc > 0 && vpps > 0 ? ppc * vbps / (vpps * 1e6) : -1;
	double loss = exp > 0 ? 100.0 * ((double)exp - (double)pkts) / (double)exp : 0;
	printf("RESULT target=%s viewers=%d window_s=%.2f pkts=%" PRIu64 " pps=%.0f per_viewer_pps=%.1f "
	       "per_viewer_kbps=%.1f srv_cpu_s=%.3f srv_cpu_pct=%.1f pkts_per_cpu_s=%.0f us_per_pkt=%.3f "
	       "legs_per_core=%.0f loss_pct=%.3f srtp_fail=%" PRIu64 " gen_cpu_pct=%.1f min_viewer_pkts=%" PRIu64
	       " max_viewer_pkts=%" PRIu64 " srtp=%s\n",
	       opt.target, up, dt, pkts, (double)pkts / dt, vpps, vbps / 1000, srv, 100 * srv / dt, ppc,
	       pkts ? srv * 1e6 / (double)pkts : -1, legs, loss, b.bad - a.bad, 100 * gen / dt, mn, mx,
	       rv_srtp_suite_name(suite_seen));
	fflush(stdout);
	return pkts && srv > 0 && mn > 0 ? 0 : 1;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: wload --http-port P [--target rv|janus] [-n N] [--pid SERVER_PID] [--group G] "
			"[--mount ID] [--parallel K] [--warmup S] [--window S] [--setup-timeout S] [--whip] "
			"[--loss F] [--max-time S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--whip")) {
			opt.whip = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--target"))
			opt.target = v;
		else if (!strcmp(a, "--http-port"))
			opt.http_port = atoi(v);
		else if (!strcmp(a, "-n"))
			opt.n = atoi(v);
		else if (!strcmp(a, "--pid"))
			opt.pid = atoi(v);
		else if (!strcmp(a, "--group"))
			opt.group = v;
		else if (!strcmp(a, "--mount"))
			opt.mount = atoi(v);
		else if (!strcmp(a, "--parallel"))
			opt.parallel = atoi(v);
		else if (!strcmp(a, "--warmup"))
			opt.warmup = atof(v);
		else if (!strcmp(a, "--window"))
			opt.window = atof(v);
		else if (!strcmp(a, "--setup-timeout"))
			opt.setup_timeout = atof(v);
		else if (!strcmp(a, "--loss"))
			opt.loss = atof(v);
		else if (!strcmp(a, "--max-time"))
			opt.max_time = atof(v);
		else
			usage();
	}
	if (opt.http_port <= 0 || opt.http_port > 65535 || opt.n < 1 || opt.n > MAX_SESS || opt.parallel < 1 ||
	    (strcmp(opt.target, "rv") && strcmp(opt.target, "janus")) || (opt.whip && strcmp(opt.target, "rv")) ||
	    opt.loss < 0 || opt.loss >= 1)
		usage();
	signal(SIGALRM, on_alarm);
	alarm((unsigned)opt.max_time);
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct evp_pkey_st *key = NULL;
	char err[256];
	if (rv_dtls_key_p256(&key) < 0 || rv_dtls_ctx_new(&ctx, key, 1, err, sizeof err) < 0)
		die("no DTLS context", err);
	EVP_PKEY_free(key);
	if (RAND_bytes((uint8_t *)&tiebreak, sizeof tiebreak) != 1 || (ep = epoll_create1(0)) < 0 ||
	    !(sess = calloc((size_t)opt.n, sizeof *sess)))
		die("setup failed", NULL);
	double t0 = mono();
	start_all();
	printf("INFO setup_s=%.2f up=%d failed=%d\n", mono() - t0, count(S_UP), count(S_FAILED));
	fflush(stdout);
	if (opt.whip) {
		pump(opt.warmup);       /* the server may have lost our last flight: answer its resend */
		print_connect();
		return count(S_FAILED) ? 1 : 0;
	}
	return egress();
}
