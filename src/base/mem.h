/* mem.h - allocation helpers: aligned buffers and overflow-checked sizes.
 *
 * Loaders compute every size with bl_size_mul/bl_size_add before allocating,
 * so a hostile header cannot make us allocate a wrapped-around size. */
#ifndef BL_BASE_MEM_H
#define BL_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BL_ALIGN 64  /* cache line and AVX-512 register */

/* Aligned allocation (BL_ALIGN), zero-filled; free with bl_free.  Returns
 * NULL on failure or when size overflows after rounding. */
void *bl_alloc(size_t size);
void bl_free(void *p);

/* true and *out = a*b (a+b) when it fits in size_t; false on overflow. */
static inline bool bl_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool bl_size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Number of 64-bit words holding nbits bits. */
static inline size_t bl_words_for_bits(size_t nbits) { return (nbits + 63) / 64; }

/* Little-endian packed bit access: bit i lives in word i/64, bit i%64. */
static inline int bl_bit_get(const uint64_t *w, size_t i)
{
    return (int)((w[i >> 6] >> (i & 63)) & 1u);
}
static inline void bl_bit_set(uint64_t *w, size_t i, int v)
{
    uint64_t m = (uint64_t)1 << (i & 63);
    if (v) w[i >> 6] |= m; else w[i >> 6] &= ~m;
}
static inline void bl_bit_flip(uint64_t *w, size_t i)
{
    w[i >> 6] ^= (uint64_t)1 << (i & 63);
}

/* Little-endian readers/writers for file formats (no alignment needed). */
static inline uint16_t bl_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t bl_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bl_rd64(const uint8_t *p)
{
    return (uint64_t)bl_rd32(p) | (uint64_t)bl_rd32(p + 4) << 32;
}
static inline uint32_t bl_rd32be(const uint8_t *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static inline void bl_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void bl_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void bl_wr64(uint8_t *p, uint64_t v) { bl_wr32(p, (uint32_t)v); bl_wr32(p + 4, (uint32_t)(v >> 32)); }

#endif
