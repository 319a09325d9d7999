/* frame.c - the RV frame codec. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "frame.h"

long rv_frame_size(const uint8_t *p, size_t max_body)
{
	uint32_t hlen = rv_rd32(p), blen = rv_rd32(p + 4);
	if (hlen == 0)
		return RV_EPROTO;
	if (hlen > RV_FRAME_MAX_HEADER || blen > max_body)
		return RV_ETOOBIG;
	return (long)(RV_FRAME_PREFIX + (size_t)hlen + blen);
}

long rv_frame_decode(const uint8_t *p, size_t n, size_t max_body,
		     struct rv_frame_view *v)
{
	if (n < RV_FRAME_PREFIX)
		return 0;
	long total = rv_frame_size(p, max_body);
	if (total <= 0 || n < (size_t)total)
		return total < 0 ? total : 0;
	uint32_t hlen = rv_rd32(p);
	v->hdr = (const char *)p + RV_FRAME_PREFIX;
	v->hdr_len = hlen;
	v->body = p + RV_FRAME_PREFIX + hlen;
	v->body_len = (size_t)total - RV_FRAME_PREFIX - hlen;
	return total;
}

/* The whole frames at P (N bytes), handed to FN: *USED gets the bytes
 * they took, *LAST the size of the last one; FN's last word, or a decoding
 * error. */
static int frames(const uint8_t *p, size_t n, size_t max_body, rv_frame_fn fn, void *ud,
		  size_t *used, size_t *last)
{
	*used = 0;
	for (;;) {
		struct rv_frame_view v;
		long fl = rv_frame_decode(p + *used, n - *used, max_body, &v);
		if (fl <= 0)
			return (int)fl;
		*used += (size_t)fl;
		*last = (size_t)fl;
		int rc = fn(ud, &v);
		if (rc)
			return rc;
	}
}

/* KEEP is empty: after a bulk frame it keeps its memory for the next
 * (rv_frame_room), else it lets it go (an idle connection holds none). */
static void settle(struct rv_buf *keep, size_t last)
{
	if (last >= RV_FRAME_BULK)
		rv_buf_reset(keep);
	else
		rv_buf_free(keep);
}

uint8_t *rv_frame_room(struct rv_buf *keep, size_t max_body, size_t *len)
{
	size_t have = rv_buf_size(keep), want = RV_FRAME_PEEK;
	if (have >= RV_FRAME_PREFIX) {
		long total = rv_frame_size(rv_buf_head(keep), max_body);
		if (total <= 0 || (size_t)total <= have)
			return NULL;	/* a bad frame, or whole frames held: feed says */
		if ((size_t)total < RV_FRAME_BULK && keep->alloc < RV_FRAME_BULK)
			return NULL;
		want = (size_t)total - have;
	} else if (keep->alloc < RV_FRAME_BULK) {
		return NULL;
	}
	uint8_t *p = rv_buf_reserve(keep, want);
	if (p)
		*len = want;
	return p;
}

/* KEEP holds the start of one frame: complete it from DATA (only the bytes
 * it lacks) and handle it. *TAKEN: the bytes of DATA it took. */
static int complete_kept(struct rv_buf *keep, size_t max_body, const uint8_t *data, size_t len,
			 rv_frame_fn fn, void *ud, size_t *taken)
{
	size_t have = rv_buf_size(keep), take = 0, used, last = 0;
	*taken = 0;
	if (have < RV_FRAME_PREFIX) {
		take = len < RV_FRAME_PREFIX - have ? len : RV_FRAME_PREFIX - have;
		if (take && rv_buf_append(keep, data, take) < 0)
			return RV_ETOOBIG;
		*taken = take;
		if ((have += take) < RV_FRAME_PREFIX)
			return 0;
	}
	long total = rv_frame_size(rv_buf_head(keep), max_body);
	if (total < 0)
		return (int)total;
	size_t more = (size_t)total - have < len - take ? (size_t)total - have : len - take;
	if (more && rv_buf_append(keep, data + take, more) < 0)
		return RV_ETOOBIG;
	*taken = take + more;
	if (rv_buf_size(keep) < (size_t)total)
		return 0;
	int rc = frames(rv_buf_head(keep), rv_buf_size(keep), max_body, fn, ud, &used, &last);
	if (rc != RV_FRAME_GONE)
		settle(keep, last);
	return rc;
}

int rv_frame_feed(struct rv_buf *keep, size_t max_body, const uint8_t *data, size_t len,
		  rv_frame_fn fn, void *ud)
{
	size_t used, taken = 0, last = 0;
	int rc = 0;
	if (len && keep->data && data == keep->data + keep->len) {
		rv_buf_commit(keep, len);	/* read into rv_frame_room: kept already */
		len = 0;
	}
	if (rv_buf_size(keep)) {
		/* whole frames kept back by a hold first, then the start of one */
		rc = frames(rv_buf_head(keep), rv_buf_size(keep), max_body, fn, ud, &used, &last);
		if (rc == RV_FRAME_GONE || rc < 0)
			return rc;
		rv_buf_consume(keep, used);
		if (rc == RV_FRAME_HOLD) {
			if (len && rv_buf_append(keep, data, len) < 0)
				return RV_ETOOBIG;
			return rc;
		}
		if (rv_buf_size(keep) == 0)
			settle(keep, last);
		else if ((rc = complete_kept(keep, max_body, data, len, fn, ud, &taken)) != 0 ||
			 rv_buf_size(keep)) {
			if (rc == RV_FRAME_HOLD && taken < len && rv_buf_append(keep, data + taken, len - taken) < 0)
				return RV_ETOOBIG;
			return rc;
		}
	}
	if (taken == len)
		return 0;
	rc = frames(data + taken, len - taken, max_body, fn, ud, &used, &last);
	if (rc == RV_FRAME_GONE || rc < 0)
		return rc;
	used += taken;
	if (used < len && rv_buf_append(keep, data + used, len - used) < 0)
		return RV_ETOOBIG;
	return rc;
}

cJSON *rv_frame_header(const struct rv_frame_view *v, const char **type, int *err)
{
	cJSON *h = cJSON_ParseWithLength(v->hdr, v->hdr_len);
	if (!h || !cJSON_IsObject(h)) {
		cJSON_Delete(h);
		*err = RV_EJSON;
		return NULL;
	}
	cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "type");
	if (!cJSON_IsString(t) || !t->valuestring[0]) {
		cJSON_Delete(h);
		*err = RV_EJSON;
		return NULL;
	}
	*type = t->valuestring;
	return h;
}

int rv_frame_append(struct rv_buf *out, const char *hdr, size_t hdr_len,
		    const void *body, size_t body_len)
{
	if (hdr_len == 0 || hdr_len > RV_FRAME_MAX_HEADER || body_len > UINT32_MAX)
		return RV_ETOOBIG;
	size_t total = RV_FRAME_PREFIX + hdr_len + body_len;
	uint8_t *dst = rv_buf_reserve(out, total);
	if (!dst)
		return total > out->cap ? RV_ETOOBIG : -ENOMEM;
	rv_wr32(dst, (uint32_t)hdr_len);
	rv_wr32(dst + 4, (uint32_t)body_len);
	memcpy(dst + RV_FRAME_PREFIX, hdr, hdr_len);
	if (body_len)
		memcpy(dst + RV_FRAME_PREFIX + hdr_len, body, body_len);
	rv_buf_commit(out, total);
	return 0;
}

int rv_frame_append_head(struct rv_buf *out, const cJSON *hdr, size_t body_len)
{
	char *text = cJSON_PrintUnformatted(hdr);
	if (!text)
		return -ENOMEM;
	size_t hdr_len = strlen(text);
	int rc = 0;
	if (hdr_len == 0 || hdr_len > RV_FRAME_MAX_HEADER || body_len > UINT32_MAX) {
		rc = RV_ETOOBIG;
	} else {
		uint8_t *dst = rv_buf_reserve(out, RV_FRAME_PREFIX + hdr_len);
		if (!dst) {
			rc = -ENOMEM;
		} else {
			rv_wr32(dst, (uint32_t)hdr_len);
			rv_wr32(dst + 4, (uint32_t)body_len);
			memcpy(dst + RV_FRAME_PREFIX, text, hdr_len);
			rv_buf_commit(out, RV_FRAME_PREFIX + hdr_len);
		}
	}
	free(text);
	return rc;
}

int rv_frame_append_json(struct rv_buf *out, const cJSON *hdr,
			 const void *body, size_t body_len)
{
	char *text = cJSON_PrintUnformatted(hdr);
	if (!text)
		return -ENOMEM;
	int rc = rv_frame_append(out, text, strlen(text), body, body_len);
	free(text);
	return rc;
}

int rv_frame_append_error(struct rv_buf *out, uint64_t re, enum rv_code code, const char *msg)
{
	cJSON *h = cJSON_CreateObject();
	if (!h)
		return -ENOMEM;
	cJSON_AddStringToObject(h, "type", "error");
	if (re)
		cJSON_AddNumberToObject(h, "re", (double)re);
	cJSON_AddStringToObject(h, "code", rv_code_wire(code));
	cJSON_AddStringToObject(h, "message", msg ? msg : rv_code_text(code));
	int rc = rv_frame_append_json(out, h, NULL, 0);
	cJSON_Delete(h);
	return rc;
}

void rv_frame_media_head(uint8_t out[RV_FRAME_MEDIA_HEAD], size_t len)
{
	rv_wr32(out, (uint32_t)(sizeof RV_FRAME_MEDIA_HDR - 1));
	rv_wr32(out + 4, (uint32_t)len);
	memcpy(out + RV_FRAME_PREFIX, RV_FRAME_MEDIA_HDR, sizeof RV_FRAME_MEDIA_HDR - 1);
}

int rv_frame_is_media(const struct rv_frame_view *v)
{
	return v->hdr_len == sizeof RV_FRAME_MEDIA_HDR - 1 &&
	       memcmp(v->hdr, RV_FRAME_MEDIA_HDR, v->hdr_len) == 0;
}
