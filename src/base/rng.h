/* rng.h - counter-based random numbers (Philox4x32-10).
 *
 * DESIGN.md "Determinism": randomness is a pure function of
 * (seed, purpose, layer, index), never of global state or thread timing, so
 * results are bit-identical whatever the thread count.  Philox is the
 * generator of Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"
 * (SC'11); it passes BigCrush and needs no state beyond the key. */
#ifndef BL_BASE_RNG_H
#define BL_BASE_RNG_H

#include <stdint.h>

/* Seeds every front end accepts: 0..BL_SEED_MAX (the largest Lua integer,
 * so a seed written by one front end is valid in all the others). */
#define BL_SEED_MAX INT64_MAX

/* What the numbers are for, so streams never collide across uses. */
enum bl_rng_purpose {
    BL_RNG_FAULT = 1,     /* coupled fault maps: one uniform per stored bit */
    BL_RNG_SHUFFLE = 2,   /* data shuffling                                 */
    BL_RNG_INIT = 3,      /* weight initialisation                          */
    BL_RNG_TRAINFLIP = 4, /* bit flips during training                      */
    BL_RNG_TEST = 5,      /* synthetic data / models in tests and benches   */
    BL_RNG_CLUSTER = 6,   /* stochastic optimizers                          */
};

typedef struct { uint32_t v[4]; } bl_rng_block;

/* Four independent 32-bit words for (seed, purpose, layer, index). */
bl_rng_block bl_rng_block_at(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index);

/* 64 random bits for (seed, purpose, layer, index). */
uint64_t bl_rng_u64(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index);

/* Uniform double in [0, 1) with 53 random bits. */
double bl_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t layer, uint64_t index);

/* Convenience stream for sequential use (tests, shuffles): a counter that
 * advances; still a pure function of its starting key. */
typedef struct {
    uint64_t seed;
    uint32_t purpose, layer;
    uint64_t next;
} bl_rng_stream;

static inline bl_rng_stream bl_rng_stream_init(uint64_t seed, uint32_t purpose, uint32_t layer)
{
    bl_rng_stream s = { seed, purpose, layer, 0 };
    return s;
}
uint64_t bl_rng_stream_u64(bl_rng_stream *s);
double bl_rng_stream_uniform(bl_rng_stream *s);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t bl_rng_stream_below(bl_rng_stream *s, uint64_t n);

#endif
