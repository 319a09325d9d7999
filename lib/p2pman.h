/* p2pman.h - the manifest of a replicated object (p2pobj.h), no I/O.
 *
 * A sharer cuts a file into chunks of chunk_size bytes (the last may be
 * shorter) and signs, with its peer key (p2pkey.h), a manifest that names
 * them by their SHA-256. The object's ID is SHA-256 of the whole manifest,
 * signature included, so an ID names one manifest, one sharer and one
 * content; a fetcher that holds the ID checks every byte it is given.
 * Integers big-endian:
 *
 *   magic "RVO1" | pub[32] | size u64 | chunk_size u32 | time_ms u64 |
 *   name_len u8 | name | nchunks x sha256[32] | sig[64]
 *
 * sig is the Ed25519 signature by pub of every byte before it (the magic
 * keeps it apart from what else peers sign). nchunks = ceil(size /
 * chunk_size) is not written: the length must match it exactly. Caps:
 * chunk_size RV_P2P_MAN_CHUNK_MIN..RV_P2P_CHUNK_MAX, at most
 * RV_P2P_MAN_CHUNKS chunks (so at most RV_P2P_MAN_MAX bytes), a name of at
 * most 255 bytes with no '/', no control character, not "." or "..".
 * SHA-256 and Ed25519 are OpenSSL's (EVP). */
#ifndef RV_P2PMAN_H
#define RV_P2PMAN_H

#include <stddef.h>
#include <stdint.h>

#include "p2pkey.h"
#include "p2pmsg.h"

#define RV_P2P_MAN_CHUNK_MIN 1024
#define RV_P2P_MAN_CHUNKS 65536
#define RV_P2P_MAN_HEAD (4 + 32 + 8 + 4 + 8 + 1)   /* before the name */
#define RV_P2P_MAN_CHUNK_DEFAULT 16384

/* A parsed manifest; pointers alias the bytes it was read from. */
struct rv_p2p_man {
	const uint8_t *pub;           /* the sharer's public key */
	uint8_t author[RV_P2P_HASH_LEN];   /* its peer ID */
	uint8_t id[RV_P2P_HASH_LEN];  /* the object ID: SHA-256 of the manifest */
	uint64_t size, time_ms;
	uint32_t chunk_size, nchunks;
	const uint8_t *name;          /* name_len bytes, not NUL-terminated */
	size_t name_len;
	const uint8_t *hashes;        /* nchunks x 32 bytes */
};

/* rv_p2p_man_parse - the manifest at P (N bytes) into M: 0, RV_EPROTO with
 * *WHY when it breaks the format or a cap, RV_EDENIED when its signature
 * is not its sharer's. */
int rv_p2p_man_parse(const uint8_t *p, size_t n, struct rv_p2p_man *m, const char **why);

/* rv_p2p_man_chunk_size - the chunk size for an object of SIZE bytes:
 * RV_P2P_MAN_CHUNK_DEFAULT, or larger so that it has at most
 * RV_P2P_MAN_CHUNKS chunks; 0 when even RV_P2P_CHUNK_MAX is not enough. */
uint32_t rv_p2p_man_chunk_size(uint64_t size);
/* rv_p2p_man_len - the manifest's length for SIZE, CHUNK_SIZE, NAME_LEN:
 * 0 when past a cap. */
size_t rv_p2p_man_len(uint64_t size, uint32_t chunk_size, size_t name_len);
/* rv_p2p_man_build - K's manifest into OUT (CAP): its length, RV_ETOOBIG
 * (CAP, or past a cap), RV_EPROTO (a bad name, a chunk size out of range,
 * the signature failed). HASHES: ceil(SIZE / CHUNK_SIZE) x 32 bytes. */
long rv_p2p_man_build(const struct rv_p2p_key *k, uint64_t size, uint32_t chunk_size, uint64_t time_ms,
		      const char *name, const uint8_t *hashes, uint8_t *out, size_t cap);

/* rv_p2p_man_chunk_len - the length of chunk I of M (I < nchunks). */
size_t rv_p2p_man_chunk_len(const struct rv_p2p_man *m, uint32_t i);
/* rv_p2p_man_check - 0 when DATA (LEN bytes) is chunk I of M, else
 * RV_EPROTO (wrong length or hash). */
int rv_p2p_man_check(const struct rv_p2p_man *m, uint32_t i, const uint8_t *data, size_t len);
/* rv_p2p_sha256 - SHA-256 of P (N bytes) into OUT (defined in p2pkey.c). */
void rv_p2p_sha256(const void *p, size_t n, uint8_t out[32]);

#endif
