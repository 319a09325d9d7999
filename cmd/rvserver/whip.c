/* whip.c - WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) on rvserver's
 * HTTP port: a publisher POSTs its SDP offer to /whip/GROUP, a viewer its
 * (recvonly) offer to /whep/GROUP, and gets 201, the answer, and its
 * session's Location /whip/GROUP/SECRET (or /whep/...), which it DELETEs to
 * stop. The sessions are webrtc_sess.c's; this file is the HTTP: routes, CORS,
 * auth, status codes. WHEP accepts the offer (no counter-offer).
 *
 *   OPTIONS any          204, CORS headers, Accept-Post: application/sdp
 *   POST /whip/G[?id=N]  201 + Location + ETag, application/sdp; 415 for another
 *                        type, 400 for a malformed or unanswerable offer (the
 *                        reason in the body), 401 without a valid Bearer token
 *                        when rvserver has --auth-secret-file (the token is
 *                        `rvserver token N` for the id N), 409 for an id taken;
 *                        WHEP: 422 when the browser cannot decode the
 *                        group's stream (its codec is not offered); with
 *                        --cluster, 307 to the group's home node when its
 *                        media is on another (cluster_home.c)
 *   POST /whep/G?from=N  a viewer of N's streams alone (the room page's)
 *   DELETE /whip/G/S     200, the session ends (close_notify)
 *   PATCH /whip/G/S      application/trickle-ice-sdpfrag (RFC 9725 4.3):
 *                        trickled candidates 204 (If-Match: the ETag), an
 *                        ICE restart 200 + our new ufrag/pwd and a new ETag
 *                        (If-Match: *); 412, 428, 415 (webrtc_patch)
 *   anything else        405 with Allow, or 404 for no such session */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "log.h"
#include "router.h"
#include "server.h"
#include "token.h"
#include "webrtc.h"

static const char *const cors[] = {
	"Access-Control-Allow-Origin: *",
	"Access-Control-Allow-Methods: OPTIONS, POST, PATCH, DELETE",
	"Access-Control-Allow-Headers: Authorization, Content-Type, If-Match",
	"Access-Control-Expose-Headers: ETag, Location, Link",
	"Accept-Post: application/sdp",
	NULL,
};

#define LINKS_MAX 8                  /* Link headers of ICE servers in one reply */
#define HDRS_MAX (8 + LINKS_MAX)     /* a reply's extra headers, with the NULL */

/* BASE's headers (NULL-ended), then the Link headers of the --ice servers
 * with credentials for USER (written in LINKS), into HDRS, NULL-ended. */
static void with_links(struct server *srv, const char *user, const char *const *base,
		       char links[LINKS_MAX][WEBRTC_LINK_MAX], const char *hdrs[HDRS_MAX])
{
	int k = 0, n = webrtc_links(srv, user, links, LINKS_MAX);
	for (; base[k] && k < HDRS_MAX - LINKS_MAX - 1; k++)
		hdrs[k] = base[k];
	for (int i = 0; i < n; i++)
		hdrs[k++] = links[i];
	hdrs[k] = NULL;
}

/* The query parameter NAME=... of Q (after the ?) into OUT (empty when
 * absent): 0, or -1 when too long or not a valid id. */
static int param(const char *q, const char *name, char *out, size_t olen)
{
	size_t nl = strlen(name);
	out[0] = 0;
	for (const char *a = q; a && *a; a = strchr(a, '&') ? strchr(a, '&') + 1 : NULL) {
		if (strncmp(a, name, nl) || a[nl] != '=')
			continue;
		size_t l = strcspn(a + nl + 1, "&");
		if (l >= olen)
			return -1;
		memcpy(out, a + nl + 1, l);
		out[l] = 0;
	}
	return !out[0] || rv_id_valid(out) ? 0 : -1;
}

/* The path after /whip/ split into GROUP and SECRET (may be empty), and the
 * query's id=... and from=... (empty when absent). 0, or -1 when malformed. */
static int split(const char *path, char *group, size_t glen, char *secret, size_t slen, char *id, char *from,
		 size_t ilen)
{
	const char *p = path + strlen("/whip/");
	const char *q = strchr(p, '?');
	size_t plen = q ? (size_t)(q - p) : strlen(p);
	const char *slash = memchr(p, '/', plen);
	size_t gl = slash ? (size_t)(slash - p) : plen;
	size_t sl = slash ? plen - gl - 1 : 0;
	if (gl == 0 || gl >= glen || sl >= slen)
		return -1;
	memcpy(group, p, gl);
	group[gl] = 0;
	memcpy(secret, slash ? slash + 1 : "", sl);
	secret[sl] = 0;
	if (param(q ? q + 1 : NULL, "id", id, ilen) < 0 || param(q ? q + 1 : NULL, "from", from, ilen) < 0)
		return -1;
	return rv_id_valid(group) ? 0 : -1;
}

/* Content-Type is application/sdp (parameters allowed). */
static int is_sdp(const char *ctype)
{
	size_t n = strlen("application/sdp");
	return !strncasecmp(ctype, "application/sdp", n) && (ctype[n] == 0 || ctype[n] == ';' || ctype[n] == ' ');
}

/* With --auth-secret-file: a Bearer token for ID. 0, or 401 with WHY. */
static int authorized(struct server *srv, const char *auth, const char *id, const char **why)
{
	if (!srv->secret_len)
		return 0;
	if (!id[0]) {
		*why = "this server takes tokens: POST to /whip/GROUP?id=NAME with the token of NAME";
		return 401;
	}
	if (strncasecmp(auth, "Bearer ", 7)) {
		*why = "token required (Authorization: Bearer TOKEN)";
		return 401;
	}
	if (rv_token_check(srv->secret, srv->secret_len, id, auth + 7, wall_ms() / 1000, why) < 0) {
		srv->n.auth_failures++;
		return 401;
	}
	return 0;
}

static void reply_error(struct rv_httpd *h, int status, const char *why)
{
	char body[512];
	snprintf(body, sizeof body, "%s\n", why);
	rv_httpd_reply(h, status, NULL, cors, body, strlen(body));
}

static void post(struct rv_httpd *h, struct conn *c, const struct webrtc_req *rq)
{
	struct server *srv = c->srv;
	int viewer = rq->viewer;
	const char *group = rq->group, *id = rq->id ? rq->id : "";
	const char *why = NULL;
	char err[256] = "";
	int status;
	if (!is_sdp(h->req.content_type)) {
		reply_error(h, 415, "the offer goes as Content-Type: application/sdp");
		return;
	}
	if ((status = authorized(srv, h->req.authorization, id, &why))) {
		rv_info("%s for #%s refused: %s", viewer ? "WHEP" : "WHIP", group, why);
		reply_error(h, status, why);
		return;
	}
	if (cluster_webrtc_post(c, viewer, group))
		return;	/* answered once the directory says where #group's media is */
	char *answer = NULL;
	size_t alen = 0;
	struct wsess *s = NULL;
	uint64_t t0 = uv_hrtime();
	status = webrtc_offer(srv, rq, (const char *)rv_buf_head(&h->req.body), rv_buf_size(&h->req.body), &answer,
			      &alen, &s, err, sizeof err);
	if (status != 201) {
		rv_info("%s offer for #%s refused (%d): %s", viewer ? "WHEP" : "WHIP", group, status, err);
		reply_error(h, status, err);
		return;
	}
	char location[128 + WEBRTC_SECRET_LEN], etag[64];
	snprintf(location, sizeof location, "Location: /%s/%s/%s", viewer ? "whep" : "whip", group,
		 webrtc_secret(s));
	snprintf(etag, sizeof etag, "ETag: \"%s\"", webrtc_etag(s));
	const char *base[] = { location, etag, cors[0], cors[3], NULL }, *hdrs[HDRS_MAX];
	char links[LINKS_MAX][WEBRTC_LINK_MAX];
	with_links(srv, id[0] ? id : viewer ? "whep" : "whip", base, links, hdrs);
	rv_httpd_reply(h, 201, "application/sdp", hdrs, answer, alen);
	free(answer);
	/* issue 13's goal is 2 ms of server time; the browser tests print it */
	rv_debug("WHIP POST for #%s answered in %.3f ms", group, (double)(uv_hrtime() - t0) / 1e6);
}

/* Content-Type is application/trickle-ice-sdpfrag (parameters allowed). */
static int is_frag(const char *ctype)
{
	size_t n = strlen("application/trickle-ice-sdpfrag");
	return !strncasecmp(ctype, "application/trickle-ice-sdpfrag", n) &&
	       (ctype[n] == 0 || ctype[n] == ';' || ctype[n] == ' ');
}

static void patch(struct rv_httpd *h, struct wsess *s)
{
	char err[256] = "", frag[WEBRTC_FRAG_MAX], etag[64];
	size_t n = 0;
	if (!is_frag(h->req.content_type)) {
		reply_error(h, 415, "a PATCH goes as Content-Type: application/trickle-ice-sdpfrag");
		return;
	}
	int status = webrtc_patch(s, h->req.if_match, (const char *)rv_buf_head(&h->req.body),
				  rv_buf_size(&h->req.body), frag, sizeof frag, &n, err, sizeof err);
	if (status >= 400) {
		rv_info("webrtc %s: PATCH refused (%d): %s", webrtc_id(s), status, err);
		reply_error(h, status, err);
		return;
	}
	snprintf(etag, sizeof etag, "ETag: \"%s\"", webrtc_etag(s));
	const char *hdrs[] = { etag, cors[0], cors[3], NULL };
	rv_httpd_reply(h, status, status == 200 ? "application/trickle-ice-sdpfrag" : NULL, hdrs, frag, n);
}

static void reply_405(struct rv_httpd *h, const char *allow, const char *why)
{
	const char *hdrs[] = { allow, cors[0], NULL };
	char body[256];
	snprintf(body, sizeof body, "%s\n", why);
	rv_httpd_reply(h, 405, NULL, hdrs, body, strlen(body));
}

void whip_http(struct rv_httpd *h, void *ud)
{
	struct conn *c = ud;
	struct server *srv = c->srv;
	int viewer = !strncmp(h->req.path, "/whep/", 6);
	char group[RV_ID_MAX + 1], secret[WEBRTC_SECRET_LEN + 1], id[RV_ID_MAX + 1], from[RV_ID_MAX + 1];
	unsigned m = rv_httpd_method_bit(h->req.method);
	int bad = split(h->req.path, group, sizeof group, secret, sizeof secret, id, from, sizeof id);
	if (m == RV_HTTPD_OPTIONS) {	/* the ICE servers too, for clients that gather first */
		const char *hdrs[HDRS_MAX];
		char links[LINKS_MAX][WEBRTC_LINK_MAX];
		with_links(srv, bad < 0 || !id[0] ? viewer ? "whep" : "whip" : id, cors, links, hdrs);
		rv_httpd_reply(h, 204, NULL, hdrs, NULL, 0);
		return;
	}
	if (bad < 0) {
		reply_error(h, 404, viewer ? "not a WHEP endpoint: POST to /whep/GROUP" : "not a WHIP endpoint: POST to /whip/GROUP");
		return;
	}
	if (!srv->webrtc) {
		reply_error(h, 503, "WebRTC is off on this server");
		return;
	}
	if (!secret[0]) {	/* the endpoint */
		char ip[INET6_ADDRSTRLEN] = "";
		struct sockaddr_storage ss;
		int sl = sizeof ss;
		if (uv_tcp_getpeername(&c->s.tcp, (struct sockaddr *)&ss, &sl) == 0)
			uv_ip_name((struct sockaddr *)&ss, ip, sizeof ip);
		struct webrtc_req rq = { viewer, group, id[0] ? id : NULL, viewer && from[0] ? from : NULL, ip };
		if (m == RV_HTTPD_POST)
			post(h, c, &rq);
		else
			reply_405(h, "Allow: OPTIONS, POST", "POST an SDP offer here");
		return;
	}
	struct wsess *s = webrtc_find(srv, secret);
	if (!s || strcmp(webrtc_group(s), group) || webrtc_viewer(s) != viewer) {
		reply_error(h, 404, viewer ? "no such WHEP session" : "no such WHIP session");
		return;
	}
	if (m == RV_HTTPD_DELETE) {
		webrtc_deleted(srv);
		webrtc_close(s, "DELETE");
		rv_httpd_reply(h, 200, NULL, cors, NULL, 0);
		return;
	}
	if (m == RV_HTTPD_PATCH) {
		patch(h, s);
		return;
	}
	reply_405(h, "Allow: OPTIONS, PATCH, DELETE",
		  "a session takes PATCH (trickle ICE, ICE restart) and DELETE");
}
