#include "base/rng.h"

/* Philox4x32 round constants (Random123). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

bl_rng_block bl_rng_block_at(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index)
{
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = layer, c3 = purpose;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    bl_rng_block b = { { c0, c1, c2, c3 } };
    return b;
}

uint64_t bl_rng_u64(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index)
{
    bl_rng_block b = bl_rng_block_at(seed, purpose, layer, index);
    return (uint64_t)b.v[0] | (uint64_t)b.v[1] << 32;
}

double bl_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index)
{
    return (double)(bl_rng_u64(seed, purpose, layer, index) >> 11) * 0x1.0p-53;
}

uint64_t bl_rng_stream_u64(bl_rng_stream *s)
{
    return bl_rng_u64(s->seed, s->purpose, s->layer, s->next++);
}

double bl_rng_stream_uniform(bl_rng_stream *s)
{
    return (double)(bl_rng_stream_u64(s) >> 11) * 0x1.0p-53;
}

uint64_t bl_rng_stream_below(bl_rng_stream *s, uint64_t n)
{
    /* Rejection sampling on the top of the range (Lemire would also do). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = bl_rng_stream_u64(s);
    } while (x >= limit);
    return x % n;
}
