/* stun.h - STUN (RFC 8489) and TURN (RFC 8656) messages, no I/O.
 *
 * rv_stun_parse() checks a message's framing and indexes its attributes
 * (pointers alias the input); the builder writes a request or indication
 * into a fixed buffer, with MESSAGE-INTEGRITY and FINGERPRINT computed
 * over what precedes them. ChannelData framing is here too. */
#ifndef RV_STUN_H
#define RV_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RV_STUN_MAGIC 0x2112A442u
#define RV_STUN_HEADER 20
#define RV_STUN_MAX 2048            /* the largest message built or accepted */
#define RV_STUN_MAX_ATTRS 32

/* Methods */
enum {
	RV_STUN_BINDING = 0x001, RV_STUN_ALLOCATE = 0x003, RV_STUN_REFRESH = 0x004,
	RV_STUN_SEND = 0x006, RV_STUN_DATA = 0x007, RV_STUN_CREATE_PERMISSION = 0x008,
	RV_STUN_CHANNEL_BIND = 0x009,
};
/* Classes */
enum { RV_STUN_REQUEST = 0, RV_STUN_INDICATION = 1, RV_STUN_SUCCESS = 2, RV_STUN_ERROR = 3 };
/* Attributes */
enum {
	RV_STUN_A_MAPPED_ADDRESS = 0x0001, RV_STUN_A_USERNAME = 0x0006,
	RV_STUN_A_MESSAGE_INTEGRITY = 0x0008, RV_STUN_A_ERROR_CODE = 0x0009,
	RV_STUN_A_UNKNOWN_ATTRIBUTES = 0x000A, RV_STUN_A_CHANNEL_NUMBER = 0x000C,
	RV_STUN_A_LIFETIME = 0x000D, RV_STUN_A_XOR_PEER_ADDRESS = 0x0012, RV_STUN_A_DATA = 0x0013,
	RV_STUN_A_REALM = 0x0014, RV_STUN_A_NONCE = 0x0015, RV_STUN_A_XOR_RELAYED_ADDRESS = 0x0016,
	RV_STUN_A_REQUESTED_TRANSPORT = 0x0019, RV_STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	RV_STUN_A_XOR_MAPPED_ADDRESS = 0x0020, RV_STUN_A_PASSWORD_ALGORITHM = 0x001D,
	RV_STUN_A_PASSWORD_ALGORITHMS = 0x8002, RV_STUN_A_SOFTWARE = 0x8022,
	RV_STUN_A_ALTERNATE_SERVER = 0x8023, RV_STUN_A_FINGERPRINT = 0x8028,
	RV_STUN_A_RESPONSE_ORIGIN = 0x802B, RV_STUN_A_OTHER_ADDRESS = 0x802C,
	/* ICE (RFC 8445 16.1) and Google's renomination (a u32 counter) */
	RV_STUN_A_PRIORITY = 0x0024, RV_STUN_A_USE_CANDIDATE = 0x0025,
	RV_STUN_A_ICE_CONTROLLED = 0x8029, RV_STUN_A_ICE_CONTROLLING = 0x802A,
	RV_STUN_A_GOOG_NOMINATION = 0xC001,
};

struct rv_stun_attr {
	uint16_t type, len;
	const uint8_t *val;
	size_t off;                     /* where its header starts in the message */
};

struct rv_stun_msg {
	uint16_t method;
	uint8_t cls;
	uint8_t tid[12];
	const uint8_t *raw;
	size_t len;                     /* whole message */
	struct rv_stun_attr attrs[RV_STUN_MAX_ATTRS];
	int nattrs;
};

/* rv_stun_is - 1 when P looks like a STUN message (top bits 00 and the magic). */
int rv_stun_is(const uint8_t *p, size_t n);
/* rv_stun_parse - index the message at P (exactly N bytes, or the first of
 * a stream: M->len tells its length). 0, RV_EPROTO for bad framing, or 0
 * with fewer bytes than the header announces: -EAGAIN (stream: read more). */
int rv_stun_parse(const uint8_t *p, size_t n, struct rv_stun_msg *m);
const struct rv_stun_attr *rv_stun_get(const struct rv_stun_msg *m, uint16_t type);
/* rv_stun_addr - an (XOR-)address attribute as a sockaddr; RV_EPROTO if bad. */
int rv_stun_addr(const struct rv_stun_msg *m, const struct rv_stun_attr *a,
		 struct sockaddr_storage *out);
/* rv_stun_error_code - the ERROR-CODE as a number (e.g. 401) and its reason;
 * 0 when there is none. */
int rv_stun_error_code(const struct rv_stun_msg *m, char *reason, size_t len);
/* rv_stun_check_integrity - 1: MESSAGE-INTEGRITY matches KEY; 0: it does
 * not; -1: the message has none. */
int rv_stun_check_integrity(const struct rv_stun_msg *m, const uint8_t *key, size_t keylen);
/* rv_stun_check_integrity_sha256 - the same for MESSAGE-INTEGRITY-SHA256. */
int rv_stun_check_integrity_sha256(const struct rv_stun_msg *m, const uint8_t *key, size_t keylen);
/* rv_stun_offers_sha256 - 1 when PASSWORD-ALGORITHMS lists SHA-256 (RFC 8489 14.11). */
int rv_stun_offers_sha256(const struct rv_stun_msg *m);
/* rv_stun_check_fingerprint - 1 good, 0 bad, -1 absent. */
int rv_stun_check_fingerprint(const struct rv_stun_msg *m);

struct rv_stun_builder {
	uint8_t buf[RV_STUN_MAX];
	size_t len;
	int err;                        /* sticky: RV_ETOOBIG once something did not fit */
};

/* rv_stun_begin - start a message; TID (12 bytes) may be NULL for a random one. */
void rv_stun_begin(struct rv_stun_builder *b, uint16_t method, int cls, const uint8_t *tid);
void rv_stun_add(struct rv_stun_builder *b, uint16_t type, const void *val, size_t len);
void rv_stun_add_u32(struct rv_stun_builder *b, uint16_t type, uint32_t v);
void rv_stun_add_str(struct rv_stun_builder *b, uint16_t type, const char *s);
/* rv_stun_add_error - ERROR-CODE: CODE (300-699) and its REASON phrase. */
void rv_stun_add_error(struct rv_stun_builder *b, int code, const char *reason);
void rv_stun_add_xor_addr(struct rv_stun_builder *b, uint16_t type, const struct sockaddr *sa);
/* MESSAGE-INTEGRITY (HMAC-SHA1) then, optionally, FINGERPRINT: add last. */
void rv_stun_add_integrity(struct rv_stun_builder *b, const uint8_t *key, size_t keylen);
void rv_stun_add_fingerprint(struct rv_stun_builder *b);
/* MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, 32 bytes), after PASSWORD-ALGORITHM. */
void rv_stun_add_integrity_sha256(struct rv_stun_builder *b, const uint8_t *key, size_t keylen);
/* rv_stun_end - the finished message's length, or a negative error. */
int rv_stun_end(struct rv_stun_builder *b, const uint8_t **msg, size_t *len);
const uint8_t *rv_stun_tid(const struct rv_stun_builder *b);

/* rv_stun_long_term_key - MD5(username ":" realm ":" password) (RFC 8489 9.2.2). */
void rv_stun_long_term_key(const char *user, const char *realm, const char *pass, uint8_t key[16]);
/* rv_stun_long_term_key_sha256 - SHA-256(username ":" realm ":" password). */
void rv_stun_long_term_key_sha256(const char *user, const char *realm, const char *pass, uint8_t key[32]);

/* ChannelData (RFC 8656 12.4): channel 0x4000-0x4FFF, length, data, padded
 * to 4 bytes when PAD (stream transports). */
int rv_channel_data_parse(const uint8_t *p, size_t n, uint16_t *ch, const uint8_t **data,
			  size_t *len, size_t *total);
int rv_channel_data_build(uint8_t *out, size_t cap, uint16_t ch, const void *data,
			  size_t len, int pad);

#endif
