/* bytes.h - big-endian (network order) reads and writes at any alignment.
 *
 * Wire formats (RTP, RTCP, STUN, RV frames, WebSocket) store integers most
 * significant byte first. These read and write them from byte pointers with
 * no alignment requirement; the caller has checked the length. */
#ifndef RV_BYTES_H
#define RV_BYTES_H

#include <stdint.h>

static inline uint16_t rv_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rv_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rv_rd64(const uint8_t *p)
{
	return (uint64_t)rv_rd32(p) << 32 | rv_rd32(p + 4);
}

static inline void rv_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rv_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void rv_wr64(uint8_t *p, uint64_t v)
{
	rv_wr32(p, (uint32_t)(v >> 32));
	rv_wr32(p + 4, (uint32_t)v);
}

#endif
