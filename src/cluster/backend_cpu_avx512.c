/* backend_cpu_avx512.c - AVX-512 kernels of the CPU clustering backend.
 *
 * Same operations per lane as the generic C kernels (cpu_kernels.h), so
 * results are bit-identical; written with intrinsics because GCC keeps
 * 256-bit vectors on this CPU otherwise.  Gains tile: 4 points x 64
 * candidates (fp32: 16 zmm accumulators, 4 candidate vectors per j, the 4
 * point values broadcast from the panel) or 4 x 32 (fp64).  Per element one
 * subtract and one FMA. */
#include <immintrin.h>
#include <math.h>

#include "cluster/cpu_kernels.h"

#define TILE_ROW(R, ACC0, ACC1, ACC2, ACC3)                                                      \
    do {                                                                                         \
        __m512 v_ = _mm512_set1_ps(pp[R]);                                                       \
        __m512 t0_ = _mm512_sub_ps(c0, v_), t1_ = _mm512_sub_ps(c1, v_);                         \
        __m512 t2_ = _mm512_sub_ps(c2, v_), t3_ = _mm512_sub_ps(c3, v_);                         \
        ACC0 = _mm512_fmadd_ps(t0_, t0_, ACC0);                                                  \
        ACC1 = _mm512_fmadd_ps(t1_, t1_, ACC1);                                                  \
        ACC2 = _mm512_fmadd_ps(t2_, t2_, ACC2);                                                  \
        ACC3 = _mm512_fmadd_ps(t3_, t3_, ACC3);                                                  \
    } while (0)

static inline void add_gain_f32(double *ad, __m512 s)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(s));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1));
    _mm512_storeu_pd(ad, _mm512_add_pd(_mm512_loadu_pd(ad), lo));
    _mm512_storeu_pd(ad + 8, _mm512_add_pd(_mm512_loadu_pd(ad + 8), hi));
}

static inline __m512 gain4_f32(const float *mm, __m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    const __m512 z = _mm512_setzero_ps();
    __m512 x0 = _mm512_max_ps(z, _mm512_sub_ps(_mm512_set1_ps(mm[0]), a0));
    __m512 x1 = _mm512_max_ps(z, _mm512_sub_ps(_mm512_set1_ps(mm[1]), a1));
    __m512 x2 = _mm512_max_ps(z, _mm512_sub_ps(_mm512_set1_ps(mm[2]), a2));
    __m512 x3 = _mm512_max_ps(z, _mm512_sub_ps(_mm512_set1_ps(mm[3]), a3));
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), x2), x3);
}

static void tile_f32(const float *P, size_t np, const float *m, const float *ct, size_t ldc,
                     size_t d, size_t ncols, double *accd)
{
    for (size_t g = 0; g < ncols; g += BL_CPU_GROUP32)
        for (size_t p = 0; p < np; p++)
            for (int q = 0; q < 4; q++) {
                const float *pp = P + p * 16 * d + 4 * q;
                const float *cj = ct + g;
                __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
                __m512 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                __m512 a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                for (size_t j = 0; j < d; j++, cj += ldc, pp += 16) {
                    __m512 c0 = _mm512_loadu_ps(cj), c1 = _mm512_loadu_ps(cj + 16);
                    __m512 c2 = _mm512_loadu_ps(cj + 32), c3 = _mm512_loadu_ps(cj + 48);
                    TILE_ROW(0, a00, a01, a02, a03);
                    TILE_ROW(1, a10, a11, a12, a13);
                    TILE_ROW(2, a20, a21, a22, a23);
                    TILE_ROW(3, a30, a31, a32, a33);
                }
                const float *mm = m + p * 16 + 4 * q;
                double *ad = accd + g;
                add_gain_f32(ad, gain4_f32(mm, a00, a10, a20, a30));
                add_gain_f32(ad + 16, gain4_f32(mm, a01, a11, a21, a31));
                add_gain_f32(ad + 32, gain4_f32(mm, a02, a12, a22, a32));
                add_gain_f32(ad + 48, gain4_f32(mm, a03, a13, a23, a33));
            }
}

#define TILE_ROW64(R, ACC0, ACC1, ACC2, ACC3)                                                    \
    do {                                                                                         \
        __m512d v_ = _mm512_set1_pd(pp[R]);                                                      \
        __m512d t0_ = _mm512_sub_pd(c0, v_), t1_ = _mm512_sub_pd(c1, v_);                        \
        __m512d t2_ = _mm512_sub_pd(c2, v_), t3_ = _mm512_sub_pd(c3, v_);                        \
        ACC0 = _mm512_fmadd_pd(t0_, t0_, ACC0);                                                  \
        ACC1 = _mm512_fmadd_pd(t1_, t1_, ACC1);                                                  \
        ACC2 = _mm512_fmadd_pd(t2_, t2_, ACC2);                                                  \
        ACC3 = _mm512_fmadd_pd(t3_, t3_, ACC3);                                                  \
    } while (0)

static inline void add_gain_f64(double *ad, const double *mm, __m512d a0, __m512d a1, __m512d a2,
                                __m512d a3)
{
    const __m512d z = _mm512_setzero_pd();
    __m512d x0 = _mm512_max_pd(z, _mm512_sub_pd(_mm512_set1_pd(mm[0]), a0));
    __m512d x1 = _mm512_max_pd(z, _mm512_sub_pd(_mm512_set1_pd(mm[1]), a1));
    __m512d x2 = _mm512_max_pd(z, _mm512_sub_pd(_mm512_set1_pd(mm[2]), a2));
    __m512d x3 = _mm512_max_pd(z, _mm512_sub_pd(_mm512_set1_pd(mm[3]), a3));
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(x0, x1), x2), x3);
    _mm512_storeu_pd(ad, _mm512_add_pd(_mm512_loadu_pd(ad), s));
}

static void tile_f64(const double *P, size_t np, const double *m, const double *ct, size_t ldc,
                     size_t d, size_t ncols, double *accd)
{
    for (size_t g = 0; g < ncols; g += BL_CPU_GROUP64)
        for (size_t p = 0; p < np; p++)
            for (int q = 0; q < 4; q++) {
                const double *pp = P + p * 16 * d + 4 * q;
                const double *cj = ct + g;
                __m512d a00 = _mm512_setzero_pd(), a01 = a00, a02 = a00, a03 = a00;
                __m512d a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                __m512d a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                __m512d a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                for (size_t j = 0; j < d; j++, cj += ldc, pp += 16) {
                    __m512d c0 = _mm512_loadu_pd(cj), c1 = _mm512_loadu_pd(cj + 8);
                    __m512d c2 = _mm512_loadu_pd(cj + 16), c3 = _mm512_loadu_pd(cj + 24);
                    TILE_ROW64(0, a00, a01, a02, a03);
                    TILE_ROW64(1, a10, a11, a12, a13);
                    TILE_ROW64(2, a20, a21, a22, a23);
                    TILE_ROW64(3, a30, a31, a32, a33);
                }
                const double *mm = m + p * 16 + 4 * q;
                double *ad = accd + g;
                add_gain_f64(ad, mm, a00, a10, a20, a30);
                add_gain_f64(ad + 8, mm, a01, a11, a21, a31);
                add_gain_f64(ad + 16, mm, a02, a12, a22, a32);
                add_gain_f64(ad + 24, mm, a03, a13, a23, a33);
            }
}

static void dist_f32(const float *P, size_t np, size_t d, const float *e, float *dist)
{
    size_t p = 0;
    for (; p + 4 <= np; p += 4) {
        const float *q = P + p * 16 * d;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t j = 0; j < d; j++) {
            __m512 v = _mm512_set1_ps(e[j]);
            __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + j * 16), v);
            __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + 16 * d + j * 16), v);
            __m512 t2 = _mm512_sub_ps(_mm512_loadu_ps(q + 32 * d + j * 16), v);
            __m512 t3 = _mm512_sub_ps(_mm512_loadu_ps(q + 48 * d + j * 16), v);
            a0 = _mm512_fmadd_ps(t0, t0, a0);
            a1 = _mm512_fmadd_ps(t1, t1, a1);
            a2 = _mm512_fmadd_ps(t2, t2, a2);
            a3 = _mm512_fmadd_ps(t3, t3, a3);
        }
        _mm512_storeu_ps(dist + p * 16, a0);
        _mm512_storeu_ps(dist + p * 16 + 16, a1);
        _mm512_storeu_ps(dist + p * 16 + 32, a2);
        _mm512_storeu_ps(dist + p * 16 + 48, a3);
    }
    for (; p < np; p++) {
        const float *q = P + p * 16 * d;
        __m512 a = _mm512_setzero_ps();
        for (size_t j = 0; j < d; j++) {
            __m512 t = _mm512_sub_ps(_mm512_loadu_ps(q + j * 16), _mm512_set1_ps(e[j]));
            a = _mm512_fmadd_ps(t, t, a);
        }
        _mm512_storeu_ps(dist + p * 16, a);
    }
}

static void dist_f64(const double *P, size_t np, size_t d, const double *e, double *dist)
{
    for (size_t p = 0; p < np; p++) {
        const double *q = P + p * 16 * d;
        __m512d a0 = _mm512_setzero_pd(), a1 = a0;
        for (size_t j = 0; j < d; j++) {
            __m512d v = _mm512_set1_pd(e[j]);
            __m512d t0 = _mm512_sub_pd(_mm512_loadu_pd(q + j * 16), v);
            __m512d t1 = _mm512_sub_pd(_mm512_loadu_pd(q + j * 16 + 8), v);
            a0 = _mm512_fmadd_pd(t0, t0, a0);
            a1 = _mm512_fmadd_pd(t1, t1, a1);
        }
        _mm512_storeu_pd(dist + p * 16, a0);
        _mm512_storeu_pd(dist + p * 16 + 8, a1);
    }
}

static void h2f(const bl_half *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i,
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(src + i))));
    for (; i < n; i++)
        dst[i] = bl_half_to_float(src[i]);
}

static const bl_cpu_kern kern = { tile_f32, tile_f64, dist_f32, dist_f64, h2f };

const bl_cpu_kern *bl_cpu_kern_avx512(void) { return &kern; }
