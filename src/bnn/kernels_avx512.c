/* kernels_avx512.c - AVX-512 kernels: VPOPCNTQ for binary layers, VNNI
 * VPDPBUSD for the first dense layer.  Compiled with the AVX-512 flags;
 * engine.c calls them only when bl_simd_supported() says so.
 *
 * Binary layers: the 64 inputs of a block sit in the lanes (8 inputs per
 * register), a weight word is broadcast, so XOR + popcount + add gives 8
 * (neuron, input) partial sums per instruction triple and no horizontal
 * reduction is ever needed.  A register tile holds TJ neurons x TG input
 * vectors of accumulators.
 *
 * First dense layer: 16 inputs per register (int32 lanes), 4 input codes
 * per lane against 4 broadcast s8 weights per VPDPBUSD; a tile is TJ
 * neurons x 4 registers (all 64 inputs). */
#include <immintrin.h>
#include <string.h>

#include "bnn/kernels.h"

#define UNROLL _Pragma("GCC unroll 8")

/* ---- binary dense / conv ------------------------------------------------ */

#define BIN_TILE(TJ, TG)                                                                         \
    static inline __attribute__((always_inline)) void bin_tile_##TJ##_##TG(                      \
        const uint64_t *X, const bl_kseg *seg, int nseg, const uint64_t *W, size_t wpr,          \
        uint32_t j, int g0, int32_t nvalid, int32_t *out)                                        \
    {                                                                                            \
        __m512i acc[TJ][TG];                                                                     \
        UNROLL for (int a = 0; a < TJ; a++)                                                      \
            UNROLL for (int g = 0; g < TG; g++) acc[a][g] = _mm512_setzero_si512();              \
        for (int s = 0; s < nseg; s++) {                                                         \
            const uint64_t *x = X + (size_t)seg[s].xw * BL_KB + (size_t)g0 * 8;                  \
            const uint64_t *w = W + (size_t)j * wpr + seg[s].ww;                                 \
            for (uint32_t k = 0; k < seg[s].nw; k++, x += BL_KB, w++) {                          \
                __m512i xv[TG];                                                                  \
                UNROLL for (int g = 0; g < TG; g++) xv[g] = _mm512_load_si512(x + 8 * g);        \
                UNROLL for (int a = 0; a < TJ; a++) {                                            \
                    __m512i wv = _mm512_set1_epi64((long long)w[(size_t)a * wpr]);               \
                    UNROLL for (int g = 0; g < TG; g++) acc[a][g] = _mm512_add_epi64(            \
                        acc[a][g], _mm512_popcnt_epi64(_mm512_xor_si512(xv[g], wv)));            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        __m512i nv = _mm512_set1_epi64(nvalid);                                                  \
        UNROLL for (int a = 0; a < TJ; a++)                                                      \
            UNROLL for (int g = 0; g < TG; g++) {                                                \
                __m512i r = _mm512_sub_epi64(nv, _mm512_slli_epi64(acc[a][g], 1));               \
                _mm256_store_si256((__m256i *)(out + (size_t)a * BL_KB + (size_t)(g0 + g) * 8),  \
                                   _mm512_cvtepi64_epi32(r));                                    \
            }                                                                                    \
    }

BIN_TILE(4, 4)
BIN_TILE(1, 4)

static void bin_nm(const uint64_t *X, const bl_kseg *seg, int nseg, const uint64_t *W, size_t wpr,
                   uint32_t j0, uint32_t nj, int32_t nvalid, int32_t *out)
{
    uint32_t jj = 0;
    for (; jj + 4 <= nj; jj += 4)
        for (int g0 = 0; g0 < 8; g0 += 4)
            bin_tile_4_4(X, seg, nseg, W, wpr, j0 + jj, g0, nvalid, out + (size_t)jj * BL_KB);
    for (; jj < nj; jj++)
        for (int g0 = 0; g0 < 8; g0 += 4)
            bin_tile_1_4(X, seg, nseg, W, wpr, j0 + jj, g0, nvalid, out + (size_t)jj * BL_KB);
}

/* ---- first dense layer (VNNI) --------------------------------------------- */

/* acc += u8(x) . s8(w) per 32-bit lane.  Inline asm: with the intrinsic,
 * gcc 12 copies every accumulator around each vpdpbusd of a register tile
 * (tied operand), which doubled the uops of the loop. */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i x, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}

#define REAL_TILE(TJ)                                                                            \
    static inline __attribute__((always_inline)) void real_tile_##TJ(                            \
        const uint8_t *X, uint32_t nquads, const int8_t *W8, size_t stride, uint32_t j,          \
        const int32_t *corr, int32_t *out)                                                       \
    {                                                                                            \
        __m512i acc[TJ][4];                                                                      \
        UNROLL for (int a = 0; a < TJ; a++)                                                      \
            UNROLL for (int v = 0; v < 4; v++) acc[a][v] = _mm512_setzero_si512();               \
        const int8_t *w = W8 + (size_t)j * stride;                                               \
        const uint8_t *x = X;                                                                    \
        for (uint32_t q = 0; q < nquads; q++, x += BL_KB * 4, w += 4) {                          \
            __m512i xv[4];                                                                       \
            UNROLL for (int v = 0; v < 4; v++) xv[v] = _mm512_load_si512(x + 64 * v);            \
            UNROLL for (int a = 0; a < TJ; a++) {                                                \
                int32_t wq;                                                                      \
                memcpy(&wq, w + (size_t)a * stride, 4);                                          \
                __m512i wv = _mm512_set1_epi32(wq);                                              \
                UNROLL for (int v = 0; v < 4; v++) acc[a][v] =                                   \
                    dpbusd(acc[a][v], xv[v], wv);                                   \
            }                                                                                    \
        }                                                                                        \
        UNROLL for (int a = 0; a < TJ; a++) {                                                    \
            __m512i c = _mm512_set1_epi32(corr[j + (uint32_t)a]);                                \
            UNROLL for (int v = 0; v < 4; v++)                                                   \
                _mm512_store_si512(out + (size_t)a * BL_KB + 16 * v,                             \
                                   _mm512_sub_epi32(acc[a][v], c));                              \
        }                                                                                        \
    }

/* (a 6-neuron tile measured slower than 4; not instantiated) */
REAL_TILE(4)
REAL_TILE(1)

static void real_nm(const uint8_t *X, uint32_t nquads, const int8_t *W8, size_t stride,
                    uint32_t j0, uint32_t nj, const int32_t *corr, int32_t *out)
{
    uint32_t jj = 0;
    for (; jj + 4 <= nj; jj += 4)
        real_tile_4(X, nquads, W8, stride, j0 + jj, corr, out + (size_t)jj * BL_KB);
    for (; jj < nj; jj++)
        real_tile_1(X, nquads, W8, stride, j0 + jj, corr, out + (size_t)jj * BL_KB);
}

/* ---- first conv layer ------------------------------------------------------- */

static void real_conv_nm(const int32_t *const *dp, uint32_t G, const uint8_t *idx, uint32_t cout,
                         int32_t *combo, int32_t *out)
{
    for (uint32_t g = 0; g < G; g++) {
        const int32_t *d0 = dp[3 * g], *d1 = dp[3 * g + 1], *d2 = dp[3 * g + 2];
        int32_t *cm = combo + (size_t)g * 8 * BL_KB;
        UNROLL for (int v = 0; v < 4; v++) {
            __m512i a = _mm512_load_si512(d0 + 16 * v), b = _mm512_load_si512(d1 + 16 * v),
                    c = _mm512_load_si512(d2 + 16 * v);
            __m512i pp = _mm512_add_epi32(a, b), pm = _mm512_sub_epi32(a, b);
            /* m = bit0 (a) | bit1 (b) << 1 | bit2 (c) << 2, bit set = + */
            __m512i z = _mm512_setzero_si512();
            __m512i c0 = _mm512_sub_epi32(z, pp);                 /* -a-b */
            __m512i c1 = pm;                                      /* +a-b */
            __m512i c2 = _mm512_sub_epi32(z, pm);                 /* -a+b */
            __m512i c3 = pp;                                      /* +a+b */
            _mm512_store_si512(cm + 0 * BL_KB + 16 * v, _mm512_sub_epi32(c0, c));
            _mm512_store_si512(cm + 1 * BL_KB + 16 * v, _mm512_sub_epi32(c1, c));
            _mm512_store_si512(cm + 2 * BL_KB + 16 * v, _mm512_sub_epi32(c2, c));
            _mm512_store_si512(cm + 3 * BL_KB + 16 * v, _mm512_sub_epi32(c3, c));
            _mm512_store_si512(cm + 4 * BL_KB + 16 * v, _mm512_add_epi32(c0, c));
            _mm512_store_si512(cm + 5 * BL_KB + 16 * v, _mm512_add_epi32(c1, c));
            _mm512_store_si512(cm + 6 * BL_KB + 16 * v, _mm512_add_epi32(c2, c));
            _mm512_store_si512(cm + 7 * BL_KB + 16 * v, _mm512_add_epi32(c3, c));
        }
    }
    for (uint32_t o = 0; o < cout; o++) {
        const uint8_t *ix = idx + (size_t)o * G;
        __m512i acc[4];
        UNROLL for (int v = 0; v < 4; v++) acc[v] = _mm512_setzero_si512();
        for (uint32_t g = 0; g < G; g++) {
            const int32_t *cm = combo + ((size_t)g * 8 + ix[g]) * BL_KB;
            UNROLL for (int v = 0; v < 4; v++) acc[v] =
                _mm512_add_epi32(acc[v], _mm512_load_si512(cm + 16 * v));
        }
        UNROLL for (int v = 0; v < 4; v++)
            _mm512_store_si512(out + (size_t)o * BL_KB + 16 * v, acc[v]);
    }
}

static void max_into(int32_t *a, const int32_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 16)
        _mm512_store_si512(a + i, _mm512_max_epi32(_mm512_load_si512(a + i),
                                                   _mm512_load_si512(b + i)));
}

/* ---- threshold masks and cache corrections ------------------------------------ */

static void thresh_mask(const int32_t *a, uint32_t n, const int32_t *tau, const int8_t *dir,
                        uint64_t *masks)
{
    for (uint32_t i = 0; i < n; i++) {
        const int32_t *r = a + (size_t)i * BL_KB;
        __m512i t = _mm512_set1_epi32(tau[i]);
        int pred = dir[i] > 0 ? _MM_CMPINT_NLT : _MM_CMPINT_LE;
        uint64_t m = 0;
        if (pred == _MM_CMPINT_NLT) {
            UNROLL for (int v = 0; v < 4; v++) m |=
                (uint64_t)_mm512_cmp_epi32_mask(_mm512_load_si512(r + 16 * v), t, _MM_CMPINT_NLT)
                << (16 * v);
        } else {
            UNROLL for (int v = 0; v < 4; v++) m |=
                (uint64_t)_mm512_cmp_epi32_mask(_mm512_load_si512(r + 16 * v), t, _MM_CMPINT_LE)
                << (16 * v);
        }
        masks[i] = m;
    }
}

static void apply_flips(int32_t *acc, const uint8_t *x, size_t stride, const uint32_t *plus,
                        size_t nplus, const uint32_t *minus, size_t nminus, int32_t add)
{
    /* int16 partial sums (32 inputs per register), flushed to int32 every
     * 128 rows: 128 * 255 < 32768 */
    __m512i a32[4];
    UNROLL for (int v = 0; v < 4; v++) a32[v] = _mm512_load_si512(acc + 16 * v);
    for (int side = 0; side < 2; side++) {
        const uint32_t *f = side ? minus : plus;
        size_t n = side ? nminus : nplus;
        for (size_t i0 = 0; i0 < n; i0 += 128) {
            size_t i1 = n - i0 < 128 ? n : i0 + 128;
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
            for (size_t i = i0; i < i1; i++) {
                const uint8_t *r = x + (size_t)f[i] * stride;
                s0 = _mm512_add_epi16(s0, _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)r)));
                s1 = _mm512_add_epi16(s1, _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(r + 32))));
            }
            __m512i w[4] = { _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0)),
                             _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 1)),
                             _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1)),
                             _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 1)) };
            UNROLL for (int v = 0; v < 4; v++) {
                __m512i t = _mm512_slli_epi32(w[v], 1);
                a32[v] = side ? _mm512_sub_epi32(a32[v], t) : _mm512_add_epi32(a32[v], t);
            }
        }
    }
    __m512i av = _mm512_set1_epi32(add);
    UNROLL for (int v = 0; v < 4; v++)
        _mm512_store_si512(acc + 16 * v, _mm512_add_epi32(a32[v], av));
}

const bl_kernels bl_kernels_avx512 = {
    .bin_nm = bin_nm,
    .real_nm = real_nm,
    .real_conv_nm = real_conv_nm,
    .thresh_mask = thresh_mask,
    .apply_flips = apply_flips,
    .max_into = max_into,
};
