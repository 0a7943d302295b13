/* cpu_kernels.h - inner kernels of the CPU exemplar-clustering backend
 * (backend_cpu.c), one table per SIMD level.
 *
 * Data layout: V is stored in panels of 16 points; panel p holds d x 16
 * values, x[p*16*d + j*16 + lane] = coordinate j of point 16p + lane.  The
 * number of points is padded to a multiple of 16 with zero rows, whose
 * minima are 0 and so contribute exactly 0 to every sum.
 *
 * Distances are computed directly, never in the expanded form
 * ||v||^2 - 2 v.c + ||c||^2: per point and candidate,
 *     acc = 0;  for j in 0..d-1: t = c_j - v_j; acc = fma(t, t, acc)
 * in the working precision (fp32 for fp32/fp16 storage, fp64 for fp64).
 * Every level performs exactly these operations per lane, so all levels
 * give bit-identical results ((c - v)^2 and (v - c)^2 are the same number).
 *
 * Gains tile: candidates live in a transposed buffer ct[j*ldc + c]; one
 * tile is 4 points x 64 (fp32) or 32 (fp64) candidates.  Its contribution
 * is s = ((g0 + g1) + g2) + g3 with g_p = max(0, m_p - dist_p) in the
 * working precision (positive terms, no cancellation), added to a double
 * accumulator per candidate; quads are visited in point order. */
#ifndef BL_CLUSTER_CPU_KERNELS_H
#define BL_CLUSTER_CPU_KERNELS_H

#include <stddef.h>

#include "base/half.h"
#include <stdint.h>

#define BL_CPU_PANEL 16
#define BL_CPU_GROUP32 64  /* fp32 candidates per tile */
#define BL_CPU_GROUP64 32  /* fp64 candidates per tile */

typedef struct bl_cpu_kern {
    /* acc[c] += sum over the npanels*16 points of max(0, m - dist(point, cand c)),
     * for c in [0, ncols) (ncols a multiple of the group width). */
    void (*tile_f32)(const float *panels, size_t npanels, const float *m, const float *ct,
                     size_t ldc, size_t d, size_t ncols, double *acc);
    void (*tile_f64)(const double *panels, size_t npanels, const double *m, const double *ct,
                     size_t ldc, size_t d, size_t ncols, double *acc);
    /* dist[i] = ||point i - e||^2 for the npanels*16 points. */
    void (*dist_f32)(const float *panels, size_t npanels, size_t d, const float *e, float *dist);
    void (*dist_f64)(const double *panels, size_t npanels, size_t d, const double *e,
                     double *dist);
    /* fp16 -> fp32 (exact). */
    void (*h2f)(const bl_half *src, float *dst, size_t n);
} bl_cpu_kern;

const bl_cpu_kern *bl_cpu_kern_portable(void);
const bl_cpu_kern *bl_cpu_kern_avx2(void);
const bl_cpu_kern *bl_cpu_kern_avx512(void);

/* Generic C versions, instantiated by backend_cpu.c (portable) and
 * backend_cpu_avx2.c (the same C compiled with AVX2/FMA). */
#define BL_CPU_GENERIC_KERNELS(SUFFIX)                                                          \
    static void tile_f32_##SUFFIX(const float *P, size_t np, const float *m, const float *ct,   \
                                  size_t ldc, size_t d, size_t ncols, double *accd)             \
    {                                                                                           \
        enum { G = BL_CPU_GROUP32 };                                                            \
        for (size_t g = 0; g < ncols; g += G)                                                   \
            for (size_t p = 0; p < np; p++)                                                     \
                for (int q = 0; q < 4; q++) {                                                   \
                    const float *pp = P + p * 16 * d + 4 * q;                                   \
                    const float *mm = m + p * 16 + 4 * q;                                       \
                    float acc[4][G];                                                            \
                    for (int r = 0; r < 4; r++)                                                 \
                        for (int c = 0; c < G; c++)                                             \
                            acc[r][c] = 0.0f;                                                   \
                    for (size_t j = 0; j < d; j++) {                                            \
                        const float *cj = ct + j * ldc + g;                                     \
                        for (int r = 0; r < 4; r++) {                                           \
                            float v = pp[j * 16 + r];                                           \
                            for (int c = 0; c < G; c++) {                                       \
                                float t = cj[c] - v;                                            \
                                acc[r][c] = fmaf(t, t, acc[r][c]);                              \
                            }                                                                   \
                        }                                                                       \
                    }                                                                           \
                    for (int c = 0; c < G; c++) {                                               \
                        float s = 0.0f;                                                         \
                        for (int r = 0; r < 4; r++) {                                           \
                            float x = mm[r] - acc[r][c];                                        \
                            x = 0.0f > x ? 0.0f : x;                                            \
                            s = r ? s + x : x;                                                  \
                        }                                                                       \
                        accd[g + c] += (double)s;                                               \
                    }                                                                           \
                }                                                                               \
    }                                                                                           \
    static void tile_f64_##SUFFIX(const double *P, size_t np, const double *m, const double *ct, \
                                  size_t ldc, size_t d, size_t ncols, double *accd)             \
    {                                                                                           \
        enum { G = BL_CPU_GROUP64 };                                                            \
        for (size_t g = 0; g < ncols; g += G)                                                   \
            for (size_t p = 0; p < np; p++)                                                     \
                for (int q = 0; q < 4; q++) {                                                   \
                    const double *pp = P + p * 16 * d + 4 * q;                                  \
                    const double *mm = m + p * 16 + 4 * q;                                      \
                    double acc[4][G];                                                           \
                    for (int r = 0; r < 4; r++)                                                 \
                        for (int c = 0; c < G; c++)                                             \
                            acc[r][c] = 0.0;                                                    \
                    for (size_t j = 0; j < d; j++) {                                            \
                        const double *cj = ct + j * ldc + g;                                    \
                        for (int r = 0; r < 4; r++) {                                           \
                            double v = pp[j * 16 + r];                                          \
                            for (int c = 0; c < G; c++) {                                       \
                                double t = cj[c] - v;                                           \
                                acc[r][c] = fma(t, t, acc[r][c]);                               \
                            }                                                                   \
                        }                                                                       \
                    }                                                                           \
                    for (int c = 0; c < G; c++) {                                               \
                        double s = 0.0;                                                         \
                        for (int r = 0; r < 4; r++) {                                           \
                            double x = mm[r] - acc[r][c];                                       \
                            x = 0.0 > x ? 0.0 : x;                                              \
                            s = r ? s + x : x;                                                  \
                        }                                                                       \
                        accd[g + c] += s;                                                       \
                    }                                                                           \
                }                                                                               \
    }                                                                                           \
    static void dist_f32_##SUFFIX(const float *P, size_t np, size_t d, const float *e,         \
                                  float *dist)                                                  \
    {                                                                                           \
        for (size_t p = 0; p < np; p++) {                                                       \
            float acc[16] = { 0 };                                                              \
            for (size_t j = 0; j < d; j++)                                                      \
                for (int l = 0; l < 16; l++) {                                                  \
                    float t = P[p * 16 * d + j * 16 + l] - e[j];                                \
                    acc[l] = fmaf(t, t, acc[l]);                                                \
                }                                                                               \
            for (int l = 0; l < 16; l++)                                                        \
                dist[p * 16 + l] = acc[l];                                                      \
        }                                                                                       \
    }                                                                                           \
    static void dist_f64_##SUFFIX(const double *P, size_t np, size_t d, const double *e,       \
                                  double *dist)                                                 \
    {                                                                                           \
        for (size_t p = 0; p < np; p++) {                                                       \
            double acc[16] = { 0 };                                                             \
            for (size_t j = 0; j < d; j++)                                                      \
                for (int l = 0; l < 16; l++) {                                                  \
                    double t = P[p * 16 * d + j * 16 + l] - e[j];                               \
                    acc[l] = fma(t, t, acc[l]);                                                 \
                }                                                                               \
            for (int l = 0; l < 16; l++)                                                        \
                dist[p * 16 + l] = acc[l];                                                      \
        }                                                                                       \
    }                                                                                           \
    static void h2f_##SUFFIX(const bl_half *src, float *dst, size_t n)                          \
    {                                                                                           \
        for (size_t i = 0; i < n; i++)                                                          \
            dst[i] = bl_half_to_float(src[i]);                                                  \
    }                                                                                           \
    static const bl_cpu_kern kern_##SUFFIX = { tile_f32_##SUFFIX, tile_f64_##SUFFIX,           \
                                               dist_f32_##SUFFIX, dist_f64_##SUFFIX,           \
                                               h2f_##SUFFIX };

#endif
