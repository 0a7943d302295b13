/* coupled.h - coupled per-bit uniforms and fault masks (DESIGN.md "Fault
 * models").
 *
 * A stream is (seed, stream id); stream ids combine a layer index and a
 * fault target (bl_coupled_stream).  Bit b of a stream has one fixed
 * 32-bit uniform U_b in [0, 2^32), i.e. u_b = U_b / 2^32 in [0, 1), and is
 * faulty at rate p iff u_b < p.
 *
 * Definition of U_b.  Bit b lives in word w = b / 64, lane j = b % 64.
 * The binary digits of the 64 uniforms of word w are 32 "planes" R_1 ..
 * R_32 (64-bit words, R_1 the most significant digit): bit j of R_k is
 * digit k of U_(64w+j), so U = sum_k bit_j(R_k) 2^(32-k).  Planes come in
 * pairs from Philox4x32-10 (src/base/rng.h, purpose BL_RNG_FAULT):
 *     block = bl_rng_block_at(seed, BL_RNG_FAULT, stream, (w << 4) | q)
 *     R_(2q+1) = v[0] | v[1] << 32,   R_(2q+2) = v[2] | v[3] << 32,
 * q = 0 .. 15.
 *
 * Masks.  u < p  <=>  U < P with P = ceil(p 2^32) clamped to [0, 2^32]
 * (U is an integer and p 2^32 is exact in double), so a mask is an exact
 * integer comparison: the resolution of rates is 2^-32 (a rate below
 * 2^-32 but above 0 still faults the bits with U = 0).  The comparison is
 * done bit-sliced, 64 lanes at once, walking the planes from the most
 * significant: `und` = lanes whose U equals P so far, `lt` = lanes already
 * known to be below P.  At plane k with P's digit P_k:
 *     P_k = 1:  lt |= und & ~R_k;   und &= R_k
 *     P_k = 0:                      und &= ~R_k
 * It stops when und = 0 or when P has no 1 digit left (the remaining und
 * lanes then have U >= P).  Most words stop after ~log2(1/p) + 7 planes.
 *
 * Coupling (why a bit faulty at p is faulty at every p' > p): U_b depends
 * on (seed, stream, b) only, never on p; the loop computes the exact
 * predicate [U_b < P(p)] (stopping early only once every lane's answer is
 * settled); and P(p) = ceil(p 2^32) is non-decreasing in p.  Hence
 * U_b < P(p) <= P(p') and the mask at p is a subset of the mask at p'.
 * Several thresholds evaluated on the same planes (bl_coupled_masks) are
 * nested the same way.
 *
 * Speed: the AVX-512 path computes 16 Philox blocks per instruction
 * sequence (the first planes of 8 words at once) and finishes the few
 * undecided lanes with the scalar generator; every path returns identical
 * bits (tests compare them). */
#ifndef BL_BASE_COUPLED_H
#define BL_BASE_COUPLED_H

#include <stddef.h>
#include <stdint.h>

#include "base/cpu.h"

/* Stream id of (layer, target): layer < 2^24, target < 256. */
static inline uint32_t bl_coupled_stream(uint32_t layer, uint32_t target)
{
    return (layer & 0xFFFFFFu) | (target << 24);
}

/* P = ceil(p * 2^32) clamped to [0, 2^32]; NaN and p <= 0 give 0. */
uint64_t bl_coupled_threshold(double p);

/* U_b and u_b = U_b / 2^32 (slow: up to 16 Philox blocks per call). */
uint32_t bl_coupled_u32(uint64_t seed, uint32_t stream, uint64_t bit);
double bl_coupled_uniform(uint64_t seed, uint32_t stream, uint64_t bit);

/* Mask of one word: bit j set iff U_(64 word + j) < P. */
uint64_t bl_coupled_word(uint64_t seed, uint32_t stream, uint64_t word, uint64_t P);

/* out[i] = mask of word word0 + i at rate p, i < nwords, with the default
 * SIMD level (bl_simd_default()); _simd forces a level (<= supported). */
void bl_coupled_mask(uint64_t seed, uint32_t stream, double p, uint64_t word0, size_t nwords,
                     uint64_t *out);
void bl_coupled_mask_simd(bl_simd simd, uint64_t seed, uint32_t stream, double p, uint64_t word0,
                          size_t nwords, uint64_t *out);

/* Several rates on the same uniforms (nrates <= BL_COUPLED_MAX_RATES):
 * out[r][i] = mask of word word0 + i at rates[r]. */
#define BL_COUPLED_MAX_RATES 16
void bl_coupled_masks(uint64_t seed, uint32_t stream, size_t nrates, const double *rates,
                      uint64_t word0, size_t nwords, uint64_t *const *out);

#endif
