/* relay_stats.c - the relay's numbers: one table for /stats' "media"
 * object and /metrics' rvserver_media_* lines, and the streams' loss. */
#include "metrics.h"
#include "relay_int.h"

/* Packets the sender sent that never reached the server (resent ones
 * count as received, so this is a floor). */
uint64_t relay_stream_lost(const struct mstream *st)
{
	uint64_t lost = 0;
	for (int i = 0; i < st->nssrc; i++) {
		const struct seqstat *s = &st->seq[i];
		uint64_t expected = s->init ? (uint64_t)s->cycles + s->max - s->base + 1 : 0;
		if (expected > s->received)
			lost += expected - s->received;
	}
	return lost;
}

uint64_t relay_lost(const struct relay *r)
{
	uint64_t lost = 0;
	for (const struct mstream *st = r->streams; st; st = st->next)
		lost += relay_stream_lost(st);
	return lost;
}

static double nstreams(const void *ctx) { return (double)((const struct relay *)ctx)->nstreams; }
static double lost(const void *ctx) { return (double)relay_lost(ctx); }

#define C(key, name, help, member) \
	RV_METRIC_AT("media." key, "rvserver_media_" name, help, struct relay, n.member)
#define G(key, name, help, get) RV_METRIC_FN("media." key, "rvserver_media_" name, help, get)
/* The relay's numbers: in /stats under "media", in /metrics as
 * rvserver_media_*. "streams" is the list of streams in /stats. */
static const struct rv_metric table[] = {
	{ "media.streams", "rvserver_media_streams", RV_METRIC_GAUGE, "Media streams being relayed.", 0, nstreams,
	  RV_METRIC_LIST },
	C("streams_total", "streams_total", "Media streams started.", streams_total),
	C("packets_in", "packets_in_total", "RTP and RTCP packets received from clients.", packets_in),
	C("bytes_in", "bytes_in_total", "Media bytes received.", bytes_in),
	C("packets_out", "packets_out_total", "Media packets relayed to clients.", packets_out),
	C("bytes_out", "bytes_out_total", "Media bytes relayed.", bytes_out),
	C("drops", "drops_total", "Media packets dropped for a slow or unreachable receiver.", drops),
	C("test_drops", "test_drops_total", "Media packets dropped on purpose (--drop-rate).", test_drops),
	C("rtcp_in", "rtcp_in_total", "RTCP packets received from clients.", rtcp_in),
	C("feedback", "feedback_total", "RTCP feedback packets routed back to senders.", feedback),
	C("keyframe_requests", "keyframe_requests_total", "Keyframes asked of senders for new receivers.",
	  keyframe_requests),
	C("udp_bindings", "udp_bindings_total", "STUN Bindings answered on the UDP port.", bindings),
	C("bad_bindings", "bad_bindings_total", "STUN Bindings refused for an unknown user or a wrong password.",
	  bad_bindings),
	C("unknown", "unknown_total", "Media packets from no registered address or stream.", unknown),
	C("udp_bursts", "udp_bursts_total", "UDP reads that carried a burst of datagrams (GRO).", udp_bursts),
	C("udp_yields", "udp_yields_total",
	  "UDP reads cut short at their time budget so that HTTP, timers and clients get their turn.", udp_yields),
	G("lost", "lost", "RTP packets of live streams that never reached the server.", lost),
};
#undef C
#undef G

int relay_metrics(struct relay *r, struct rv_buf *out)
{
	return rv_metrics_prom(out, table, sizeof table / sizeof table[0], r);
}

/* One object per live stream, or NULL (no memory). */
static cJSON *streams_json(const struct relay *m)
{
	cJSON *a = cJSON_CreateArray();
	for (const struct mstream *st = m->streams; st && a; st = st->next) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddNumberToObject(s, "id", st->id);
		cJSON_AddStringToObject(s, "from", cJSON_GetObjectItemCaseSensitive(st->announce, "from")->valuestring);
		if (st->to)
			cJSON_AddStringToObject(s, "to", st->to);
		if (st->group)
			cJSON_AddStringToObject(s, "group", st->group);
		cJSON_AddBoolToObject(s, "udp", st->src->udp);
		cJSON_AddNumberToObject(s, "receivers", (double)st->nsubs);
		cJSON_AddNumberToObject(s, "packets", (double)st->packets);
		cJSON_AddNumberToObject(s, "bytes", (double)st->bytes);
		cJSON_AddNumberToObject(s, "drops", (double)st->drops);
		cJSON_AddNumberToObject(s, "lost", (double)relay_stream_lost(st));
		if (!cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			a = NULL;
		}
	}
	return a;
}

cJSON *relay_stats(struct relay *r)
{
	cJSON *root = cJSON_CreateObject(), *o = NULL, *a;
	if (rv_metrics_json(root, table, sizeof table / sizeof table[0], r) == 0 &&
	    (a = streams_json(r))) {
		o = cJSON_DetachItemFromObjectCaseSensitive(root, "media");
		if (!cJSON_AddItemToObject(o, "streams", a)) {
			cJSON_Delete(a);
			cJSON_Delete(o);
			o = NULL;
		}
	}
	cJSON_Delete(root);
	return o;
}
