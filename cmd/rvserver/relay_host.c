/* relay_host.c - relay.h's host functions: the relay's narrow way into the
 * rest of rvserver (the loop's clock, a connection's few facts and sends,
 * the UDP port's batch). Everything else of the server is out of its reach. */
#include "relay.h"
#include "server.h"

static struct server *host(const struct relay *r) { return r->host; }

uint64_t relay_now(const struct relay *r) { return now_ms(host(r)); }
void relay_group_source(struct relay *r, const char *group, int delta) { cluster_source(host(r), group, delta); }
struct relay_ep **relay_ep_slot(struct conn *c) { return &c->media; }
struct rv_client *relay_client(const struct conn *c) { return c->client; }
int relay_conn_open(const struct conn *c) { return !c->closing; }
size_t relay_conn_queued(const struct conn *c) { return rv_stream_queued(&c->s); }

const char *relay_conn_number(struct conn *c)
{
	return conn_number(c) < 0 ? NULL : c->numkey;
}

struct conn *relay_conn_by_number(struct relay *r, const char *num)
{
	return rv_map_get(&host(r)->by_num, num);
}

int relay_conn_send(struct conn *c, const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen)
{
	return conn_sendv(c, head, hlen, body, blen);
}
