/* coupled.c - coupled uniforms and bit-sliced fault masks (coupled.h).
 *
 * Philox4x32-10 is repeated here (identical to rng.c; a test checks
 * bl_rng_block_at against it) so that the scalar path inlines and the
 * AVX-512 path can run 16 blocks per instruction sequence. */
#include "base/coupled.h"

#include <math.h>
#include <string.h>

#include "base/rng.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BL_HAVE_X86 1
#else
#define BL_HAVE_X86 0
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Planes 2q+1 and 2q+2 of word w. */
static inline void planes(uint64_t seed, uint32_t stream, uint64_t w, uint32_t q, uint64_t *ra,
                          uint64_t *rb)
{
    uint64_t ctr = (w << 4) | q;
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = stream, c3 = BL_RNG_FAULT;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    *ra = (uint64_t)c0 | (uint64_t)c1 << 32;
    *rb = (uint64_t)c2 | (uint64_t)c3 << 32;
}

uint64_t bl_coupled_threshold(double p)
{
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return (uint64_t)1 << 32;
    return (uint64_t)ceil(p * 4294967296.0);
}

uint32_t bl_coupled_u32(uint64_t seed, uint32_t stream, uint64_t bit)
{
    uint64_t w = bit >> 6;
    unsigned j = (unsigned)(bit & 63);
    uint32_t u = 0;
    for (uint32_t q = 0; q < 16; q++) {
        uint64_t a, b;
        planes(seed, stream, w, q, &a, &b);
        u = (u << 2) | (uint32_t)((a >> j) & 1) << 1 | (uint32_t)((b >> j) & 1);
    }
    return u;
}

double bl_coupled_uniform(uint64_t seed, uint32_t stream, uint64_t bit)
{
    return (double)bl_coupled_u32(seed, stream, bit) * 0x1.0p-32;
}

/* Last plane (1-based) holding a 1 digit of P, 0 < P < 2^32. */
static inline int last_plane(uint64_t P) { return 32 - __builtin_ctzll(P); }

/* One plane step (see coupled.h). */
#define STEP(R, k)                                                                    \
    do {                                                                              \
        if ((P >> (32 - (k))) & 1) {                                                  \
            lt |= und & ~(R);                                                         \
            und &= (R);                                                               \
        } else {                                                                      \
            und &= ~(R);                                                              \
        }                                                                             \
    } while (0)

/* Continue the comparison of word w from plane k (odd, 1-based) with the
 * given state; 0 < P < 2^32. */
static inline uint64_t finish_word(uint64_t seed, uint32_t stream, uint64_t w, uint64_t P,
                                   int kmax, int k, uint64_t und, uint64_t lt)
{
    while (und && k <= kmax) {
        uint64_t a, b;
        planes(seed, stream, w, (uint32_t)(k >> 1), &a, &b);
        STEP(a, k);
        if (!und || k + 1 > kmax)
            break;
        STEP(b, k + 1);
        k += 2;
    }
    return lt;
}

uint64_t bl_coupled_word(uint64_t seed, uint32_t stream, uint64_t word, uint64_t P)
{
    if (P == 0)
        return 0;
    if (P >= (uint64_t)1 << 32)
        return ~(uint64_t)0;
    return finish_word(seed, stream, word, P, last_plane(P), 1, ~(uint64_t)0, 0);
}

static void mask_portable(uint64_t seed, uint32_t stream, uint64_t P, uint64_t word0,
                          size_t nwords, uint64_t *out)
{
    int kmax = last_plane(P);
    for (size_t i = 0; i < nwords; i++)
        out[i] = finish_word(seed, stream, word0 + i, P, kmax, 1, ~(uint64_t)0, 0);
}

#if BL_HAVE_X86
#define AVX512_TARGET __attribute__((target("avx512f,avx512dq")))

AVX512_TARGET static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo)
{
    __m512i pe = _mm512_mul_epu32(a, m);
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/* 16 Philox blocks: counters c0/c1 per lane, fixed c2 = stream, c3. */
AVX512_TARGET static inline void philox16(__m512i c0, __m512i c1, uint32_t stream, uint64_t seed,
                                          uint32_t *o0, uint32_t *o1, uint32_t *o2, uint32_t *o3)
{
    __m512i c2 = _mm512_set1_epi32((int)stream), c3 = _mm512_set1_epi32(BL_RNG_FAULT);
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        __m512i hi0, lo0, hi1, lo1;
        mulhilo16(c0, m0, &hi0, &lo0);
        mulhilo16(c2, m1, &hi1, &lo1);
        __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    _mm512_storeu_si512(o0, c0);
    _mm512_storeu_si512(o1, c1);
    _mm512_storeu_si512(o2, c2);
    _mm512_storeu_si512(o3, c3);
}

/* 16 words at a time: pairs of planes for all 16 words in one vector while
 * at least 4 words are undecided, then scalar for the rest. */
AVX512_TARGET static void mask_avx512(uint64_t seed, uint32_t stream, uint64_t P, uint64_t word0,
                                      size_t nwords, uint64_t *out)
{
    int kmax = last_plane(P);
    size_t i = 0;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= nwords; i += 16) {
        uint64_t und[16], lt[16];
        for (int l = 0; l < 16; l++) {
            und[l] = ~(uint64_t)0;
            lt[l] = 0;
        }
        uint64_t w = word0 + i;
        /* counters (w + l) << 4 | q: w + l never wraps in 64 bits here */
        __m512i wl = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)(w << 4)),
                                      _mm512_slli_epi32(lane, 4));
        /* high half: carry when the low half wrapped */
        uint32_t lo_base = (uint32_t)(w << 4);
        uint32_t hi_base = (uint32_t)(w >> 28);
        __mmask16 carry = _mm512_cmplt_epu32_mask(wl, _mm512_set1_epi32((int)lo_base));
        __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32((int)hi_base), carry,
                                           _mm512_set1_epi32((int)hi_base), _mm512_set1_epi32(1));
        int k = 1, nund = 16;
        while (k <= kmax && nund >= 4) {
            uint32_t o0[16], o1[16], o2[16], o3[16];
            __m512i c0 = _mm512_or_si512(wl, _mm512_set1_epi32(k >> 1));
            philox16(c0, c1, stream, seed, o0, o1, o2, o3);
            nund = 0;
            for (int l = 0; l < 16; l++) {
                uint64_t a = (uint64_t)o0[l] | (uint64_t)o1[l] << 32;
                uint64_t b = (uint64_t)o2[l] | (uint64_t)o3[l] << 32;
                uint64_t u = und[l], t = lt[l];
                if ((P >> (32 - k)) & 1) {
                    t |= u & ~a;
                    u &= a;
                } else {
                    u &= ~a;
                }
                if (k + 1 <= kmax) {
                    if ((P >> (31 - k)) & 1) {
                        t |= u & ~b;
                        u &= b;
                    } else {
                        u &= ~b;
                    }
                }
                und[l] = u;
                lt[l] = t;
                nund += u != 0;
            }
            k += 2;
        }
        for (int l = 0; l < 16; l++)
            out[i + (size_t)l] =
                und[l] && k <= kmax ? finish_word(seed, stream, w + (uint64_t)l, P, kmax, k, und[l], lt[l])
                                    : lt[l];
    }
    for (; i < nwords; i++)
        out[i] = finish_word(seed, stream, word0 + i, P, kmax, 1, ~(uint64_t)0, 0);
}
#endif

void bl_coupled_mask_simd(bl_simd simd, uint64_t seed, uint32_t stream, double p, uint64_t word0,
                          size_t nwords, uint64_t *out)
{
    uint64_t P = bl_coupled_threshold(p);
    if (P == 0 || P >= (uint64_t)1 << 32) {
        memset(out, P ? 0xFF : 0, nwords * sizeof *out);
        return;
    }
#if BL_HAVE_X86
    if (simd >= BL_SIMD_AVX512 && bl_simd_supported() >= BL_SIMD_AVX512) {
        mask_avx512(seed, stream, P, word0, nwords, out);
        return;
    }
#else
    (void)simd;
#endif
    mask_portable(seed, stream, P, word0, nwords, out);
}

void bl_coupled_mask(uint64_t seed, uint32_t stream, double p, uint64_t word0, size_t nwords,
                     uint64_t *out)
{
    bl_coupled_mask_simd(bl_simd_default(), seed, stream, p, word0, nwords, out);
}

void bl_coupled_masks(uint64_t seed, uint32_t stream, size_t nrates, const double *rates,
                      uint64_t word0, size_t nwords, uint64_t *const *out)
{
    if (nrates > BL_COUPLED_MAX_RATES)
        nrates = BL_COUPLED_MAX_RATES;
    if (nrates == 1) {
        bl_coupled_mask(seed, stream, rates[0], word0, nwords, out[0]);
        return;
    }
    uint64_t P[BL_COUPLED_MAX_RATES];
    int kmax = 0;
    for (size_t r = 0; r < nrates; r++) {
        P[r] = bl_coupled_threshold(rates[r]);
        if (P[r] > 0 && P[r] < (uint64_t)1 << 32 && last_plane(P[r]) > kmax)
            kmax = last_plane(P[r]);
    }
    for (size_t i = 0; i < nwords; i++) {
        uint64_t und[BL_COUPLED_MAX_RATES], lt[BL_COUPLED_MAX_RATES], any = 0;
        for (size_t r = 0; r < nrates; r++) {
            int trivial = P[r] == 0 || P[r] >= (uint64_t)1 << 32;
            und[r] = trivial ? 0 : ~(uint64_t)0;
            lt[r] = P[r] == 0 ? 0 : (trivial ? ~(uint64_t)0 : 0);
            any |= und[r];
        }
        uint64_t w = word0 + i;
        for (int k = 1; any && k <= kmax; k += 2) {
            uint64_t R[2];
            planes(seed, stream, w, (uint32_t)(k >> 1), &R[0], &R[1]);
            any = 0;
            for (int h = 0; h < 2 && k + h <= kmax; h++) {
                int kk = k + h;
                for (size_t r = 0; r < nrates; r++) {
                    if (!und[r])
                        continue;
                    if ((P[r] >> (32 - kk)) & 1) {
                        lt[r] |= und[r] & ~R[h];
                        und[r] &= R[h];
                    } else {
                        und[r] &= ~R[h];
                    }
                    /* no 1 digit of P left: the equal lanes are >= P */
                    if (kk >= last_plane(P[r]))
                        und[r] = 0;
                }
            }
            for (size_t r = 0; r < nrates; r++)
                any |= und[r];
        }
        for (size_t r = 0; r < nrates; r++)
            out[r][i] = lt[r];
    }
}
