/* kernels_avx2.c - AVX2 kernels (compiled with -mavx2 -mpopcnt -mfma -mbmi2;
 * engine.c calls them only when bl_simd_supported() >= BL_SIMD_AVX2).
 *
 * Binary layers: 4 inputs per register (64-bit lanes), popcount by the
 * vpshufb nibble table into byte counts, summed over up to 31 words (8 per
 * word, so a byte never overflows) before one vpsadbw per tile register.
 * First dense layer: vpmaddubsw (u8 codes x s8 +-1 weights, two products
 * of at most 255 each: no s16 saturation) then vpmaddwd by ones. */
#include <immintrin.h>
#include <string.h>

#include "bnn/kernels.h"

#define UNROLL _Pragma("GCC unroll 8")

/* ---- binary layers -------------------------------------------------------- */

#define TJ 2
#define TG 4 /* registers of 4 inputs: 16 inputs per tile */

static inline __attribute__((always_inline)) void bin_tile(const uint64_t *X, const bl_kseg *seg,
                                                           int nseg, const uint64_t *W, size_t wpr,
                                                           uint32_t j, int nj, int g0,
                                                           int32_t nvalid, int32_t *out)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i acc[TJ][TG];
    UNROLL for (int a = 0; a < TJ; a++)
        UNROLL for (int g = 0; g < TG; g++) acc[a][g] = _mm256_setzero_si256();
    for (int s = 0; s < nseg; s++) {
        const uint64_t *x = X + (size_t)seg[s].xw * BL_KB + (size_t)g0 * 4;
        const uint64_t *w = W + (size_t)j * wpr + seg[s].ww;
        uint32_t left = seg[s].nw;
        while (left) {
            uint32_t run = left < 31 ? left : 31;
            left -= run;
            __m256i c8[TJ][TG];
            UNROLL for (int a = 0; a < TJ; a++)
                UNROLL for (int g = 0; g < TG; g++) c8[a][g] = _mm256_setzero_si256();
            for (uint32_t k = 0; k < run; k++, x += BL_KB, w++) {
                __m256i xv[TG];
                UNROLL for (int g = 0; g < TG; g++)
                    xv[g] = _mm256_load_si256((const __m256i *)(x + 4 * g));
                UNROLL for (int a = 0; a < TJ; a++) {
                    if (a >= nj)
                        break;
                    __m256i wv = _mm256_set1_epi64x((long long)w[(size_t)a * wpr]);
                    UNROLL for (int g = 0; g < TG; g++) {
                        __m256i v = _mm256_xor_si256(xv[g], wv);
                        __m256i lo = _mm256_and_si256(v, low);
                        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                        c8[a][g] = _mm256_add_epi8(
                            c8[a][g], _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo),
                                                      _mm256_shuffle_epi8(lut, hi)));
                    }
                }
            }
            UNROLL for (int a = 0; a < TJ; a++)
                UNROLL for (int g = 0; g < TG; g++) acc[a][g] = _mm256_add_epi64(
                    acc[a][g], _mm256_sad_epu8(c8[a][g], _mm256_setzero_si256()));
        }
    }
    __m256i nv = _mm256_set1_epi64x(nvalid);
    UNROLL for (int a = 0; a < TJ; a++) {
        if (a >= nj)
            break;
        UNROLL for (int g = 0; g < TG; g++) {
            __m256i r = _mm256_sub_epi64(nv, _mm256_slli_epi64(acc[a][g], 1));
            /* the low 32 bits of each 64-bit lane, in order */
            __m256i p = _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
            _mm_storeu_si128((__m128i *)(out + (size_t)a * BL_KB + (size_t)(g0 + g) * 4),
                             _mm256_castsi256_si128(p));
        }
    }
}

static void bin_nm(const uint64_t *X, const bl_kseg *seg, int nseg, const uint64_t *W, size_t wpr,
                   uint32_t j0, uint32_t nj, int32_t nvalid, int32_t *out)
{
    for (uint32_t jj = 0; jj < nj; jj += TJ) {
        int n = nj - jj < TJ ? (int)(nj - jj) : TJ;
        for (int g0 = 0; g0 < BL_KB / 4; g0 += TG) {
            if (n == TJ)
                bin_tile(X, seg, nseg, W, wpr, j0 + jj, TJ, g0, nvalid, out + (size_t)jj * BL_KB);
            else
                bin_tile(X, seg, nseg, W, wpr, j0 + jj, 1, g0, nvalid, out + (size_t)jj * BL_KB);
        }
    }
}

/* ---- first dense layer ---------------------------------------------------------- */

static void real_nm(const uint8_t *X, uint32_t nquads, const int8_t *W8, size_t stride,
                    uint32_t j0, uint32_t nj, const int32_t *corr, int32_t *out)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (uint32_t jj = 0; jj < nj; jj += 2) {
        int n = nj - jj < 2 ? 1 : 2;
        for (int v0 = 0; v0 < 8; v0 += 4) { /* 4 registers of 8 inputs */
            __m256i acc[2][4];
            UNROLL for (int a = 0; a < 2; a++)
                UNROLL for (int v = 0; v < 4; v++) acc[a][v] = _mm256_setzero_si256();
            const uint8_t *x = X + (size_t)v0 * 32;
            for (uint32_t q = 0; q < nquads; q++, x += BL_KB * 4) {
                __m256i xv[4];
                UNROLL for (int v = 0; v < 4; v++)
                    xv[v] = _mm256_load_si256((const __m256i *)(x + 32 * v));
                UNROLL for (int a = 0; a < 2; a++) {
                    if (a >= n)
                        break;
                    int32_t wq;
                    memcpy(&wq, W8 + (size_t)(j0 + jj + (uint32_t)a) * stride + 4 * q, 4);
                    __m256i wv = _mm256_set1_epi32(wq);
                    UNROLL for (int v = 0; v < 4; v++) acc[a][v] = _mm256_add_epi32(
                        acc[a][v], _mm256_madd_epi16(_mm256_maddubs_epi16(xv[v], wv), ones));
                }
            }
            UNROLL for (int a = 0; a < 2; a++) {
                if (a >= n)
                    break;
                __m256i c = _mm256_set1_epi32(corr[j0 + jj + (uint32_t)a]);
                UNROLL for (int v = 0; v < 4; v++)
                    _mm256_store_si256((__m256i *)(out + (size_t)(jj + (uint32_t)a) * BL_KB +
                                                   (size_t)(v0 + v) * 8),
                                       _mm256_sub_epi32(acc[a][v], c));
            }
        }
    }
}

/* ---- first conv layer --------------------------------------------------------------- */

static void real_conv_nm(const int32_t *const *dp, uint32_t G, const uint8_t *idx, uint32_t cout,
                         int32_t *combo, int32_t *out)
{
    for (uint32_t g = 0; g < G; g++) {
        const int32_t *d0 = dp[3 * g], *d1 = dp[3 * g + 1], *d2 = dp[3 * g + 2];
        int32_t *cm = combo + (size_t)g * 8 * BL_KB;
        for (int v = 0; v < 8; v++) {
            __m256i a = _mm256_load_si256((const __m256i *)(d0 + 8 * v));
            __m256i b = _mm256_load_si256((const __m256i *)(d1 + 8 * v));
            __m256i c = _mm256_load_si256((const __m256i *)(d2 + 8 * v));
            __m256i z = _mm256_setzero_si256();
            __m256i pp = _mm256_add_epi32(a, b), pm = _mm256_sub_epi32(a, b);
            __m256i c0 = _mm256_sub_epi32(z, pp), c1 = pm, c2 = _mm256_sub_epi32(z, pm), c3 = pp;
            __m256i r[8] = { _mm256_sub_epi32(c0, c), _mm256_sub_epi32(c1, c),
                             _mm256_sub_epi32(c2, c), _mm256_sub_epi32(c3, c),
                             _mm256_add_epi32(c0, c), _mm256_add_epi32(c1, c),
                             _mm256_add_epi32(c2, c), _mm256_add_epi32(c3, c) };
            UNROLL for (int m = 0; m < 8; m++)
                _mm256_store_si256((__m256i *)(cm + m * BL_KB + 8 * v), r[m]);
        }
    }
    for (uint32_t o = 0; o < cout; o++) {
        const uint8_t *ix = idx + (size_t)o * G;
        __m256i acc[8];
        UNROLL for (int v = 0; v < 8; v++) acc[v] = _mm256_setzero_si256();
        for (uint32_t g = 0; g < G; g++) {
            const int32_t *cm = combo + ((size_t)g * 8 + ix[g]) * BL_KB;
            UNROLL for (int v = 0; v < 8; v++) acc[v] = _mm256_add_epi32(
                acc[v], _mm256_load_si256((const __m256i *)(cm + 8 * v)));
        }
        UNROLL for (int v = 0; v < 8; v++)
            _mm256_store_si256((__m256i *)(out + (size_t)o * BL_KB + 8 * v), acc[v]);
    }
}

/* ---- threshold masks, cache corrections, pooling --------------------------------------- */

static void thresh_mask(const int32_t *a, uint32_t n, const int32_t *tau, const int8_t *dir,
                        uint64_t *masks)
{
    for (uint32_t i = 0; i < n; i++) {
        const int32_t *r = a + (size_t)i * BL_KB;
        __m256i t = _mm256_set1_epi32(tau[i]);
        uint64_t m = 0;
        UNROLL for (int v = 0; v < 8; v++) {
            __m256i x = _mm256_load_si256((const __m256i *)(r + 8 * v));
            /* a >= t  <=>  !(t > a);  a <= t  <=>  !(a > t) */
            __m256i gt = dir[i] > 0 ? _mm256_cmpgt_epi32(t, x) : _mm256_cmpgt_epi32(x, t);
            uint32_t bits = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(gt)) ^ 0xffu;
            m |= (uint64_t)bits << (8 * v);
        }
        masks[i] = m;
    }
}

static void apply_flips(int32_t *acc, const uint8_t *x, size_t stride, const uint32_t *plus,
                        size_t nplus, const uint32_t *minus, size_t nminus, int32_t add)
{
    /* int16 partial sums, flushed to int32 every 128 rows (128 * 255 < 32768) */
    for (int side = 0; side < 2; side++) {
        const uint32_t *f = side ? minus : plus;
        size_t n = side ? nminus : nplus;
        for (size_t i0 = 0; i0 < n; i0 += 128) {
            size_t i1 = n - i0 < 128 ? n : i0 + 128;
            __m256i s[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(),
                             _mm256_setzero_si256(), _mm256_setzero_si256() };
            for (size_t i = i0; i < i1; i++) {
                const uint8_t *r = x + (size_t)f[i] * stride;
                UNROLL for (int v = 0; v < 4; v++) s[v] = _mm256_add_epi16(
                    s[v], _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r + 16 * v))));
            }
            UNROLL for (int v = 0; v < 4; v++) {
                __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[v]));
                __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[v], 1));
                __m256i *p0 = (__m256i *)(acc + 16 * v), *p1 = (__m256i *)(acc + 16 * v + 8);
                lo = _mm256_slli_epi32(lo, 1);
                hi = _mm256_slli_epi32(hi, 1);
                _mm256_store_si256(p0, side ? _mm256_sub_epi32(_mm256_load_si256(p0), lo)
                                            : _mm256_add_epi32(_mm256_load_si256(p0), lo));
                _mm256_store_si256(p1, side ? _mm256_sub_epi32(_mm256_load_si256(p1), hi)
                                            : _mm256_add_epi32(_mm256_load_si256(p1), hi));
            }
        }
    }
    __m256i av = _mm256_set1_epi32(add);
    for (int v = 0; v < 8; v++) {
        __m256i *p = (__m256i *)(acc + 8 * v);
        _mm256_store_si256(p, _mm256_add_epi32(_mm256_load_si256(p), av));
    }
}

static void max_into(int32_t *a, const int32_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i *p = (__m256i *)(a + i);
        _mm256_store_si256(p, _mm256_max_epi32(_mm256_load_si256(p),
                                               _mm256_load_si256((const __m256i *)(b + i))));
    }
}

const bl_kernels bl_kernels_avx2 = {
    .bin_nm = bin_nm,
    .real_nm = real_nm,
    .real_conv_nm = real_conv_nm,
    .thresh_mask = thresh_mask,
    .apply_flips = apply_flips,
    .max_into = max_into,
};
