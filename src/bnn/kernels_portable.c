/* kernels_portable.c - plain C kernels (any x86-64 / any CPU): the
 * correctness baseline for the SIMD levels.  Layouts in kernels.h. */
#include "bnn/kernels.h"

static void bin_nm(const uint64_t *X, const bl_kseg *seg, int nseg, const uint64_t *W, size_t wpr,
                   uint32_t j0, uint32_t nj, int32_t nvalid, int32_t *out)
{
    for (uint32_t jj = 0; jj < nj; jj++) {
        const uint64_t *row = W + (size_t)(j0 + jj) * wpr;
        int32_t acc[BL_KB] = { 0 };
        for (int s = 0; s < nseg; s++)
            for (uint32_t k = 0; k < seg[s].nw; k++) {
                uint64_t w = row[seg[s].ww + k];
                const uint64_t *x = X + (size_t)(seg[s].xw + k) * BL_KB;
                for (int b = 0; b < BL_KB; b++)
                    acc[b] += __builtin_popcountll(w ^ x[b]);
            }
        for (int b = 0; b < BL_KB; b++)
            out[(size_t)jj * BL_KB + b] = nvalid - 2 * acc[b];
    }
}

static void real_nm(const uint8_t *X, uint32_t nquads, const int8_t *W8, size_t stride,
                    uint32_t j0, uint32_t nj, const int32_t *corr, int32_t *out)
{
    for (uint32_t jj = 0; jj < nj; jj++) {
        const int8_t *w = W8 + (size_t)(j0 + jj) * stride;
        int32_t acc[BL_KB] = { 0 };
        for (uint32_t q = 0; q < nquads; q++) {
            const uint8_t *x = X + (size_t)q * BL_KB * 4;
            for (int b = 0; b < BL_KB; b++)
                acc[b] += w[4 * q] * x[4 * b] + w[4 * q + 1] * x[4 * b + 1] +
                          w[4 * q + 2] * x[4 * b + 2] + w[4 * q + 3] * x[4 * b + 3];
        }
        for (int b = 0; b < BL_KB; b++)
            out[(size_t)jj * BL_KB + b] = acc[b] - corr[j0 + jj];
    }
}

static void real_conv_nm(const int32_t *const *dp, uint32_t G, const uint8_t *idx, uint32_t cout,
                         int32_t *combo, int32_t *out)
{
    for (uint32_t g = 0; g < G; g++)
        for (int m = 0; m < 8; m++) {
            int32_t *cm = combo + ((size_t)g * 8 + (size_t)m) * BL_KB;
            for (int b = 0; b < BL_KB; b++) {
                int32_t v = 0;
                for (int i = 0; i < 3; i++)
                    v += ((m >> i) & 1) ? dp[3 * g + (uint32_t)i][b] : -dp[3 * g + (uint32_t)i][b];
                cm[b] = v;
            }
        }
    for (uint32_t o = 0; o < cout; o++) {
        int32_t *r = out + (size_t)o * BL_KB;
        for (int b = 0; b < BL_KB; b++)
            r[b] = 0;
        for (uint32_t g = 0; g < G; g++) {
            const int32_t *cm = combo + ((size_t)g * 8 + idx[(size_t)o * G + g]) * BL_KB;
            for (int b = 0; b < BL_KB; b++)
                r[b] += cm[b];
        }
    }
}

static void thresh_mask(const int32_t *a, uint32_t n, const int32_t *tau, const int8_t *dir,
                        uint64_t *masks)
{
    for (uint32_t i = 0; i < n; i++) {
        const int32_t *r = a + (size_t)i * BL_KB;
        int32_t t = tau[i];
        uint64_t m = 0;
        if (dir[i] > 0) {
            for (int b = 0; b < BL_KB; b++)
                m |= (uint64_t)(r[b] >= t) << b;
        } else {
            for (int b = 0; b < BL_KB; b++)
                m |= (uint64_t)(r[b] <= t) << b;
        }
        masks[i] = m;
    }
}

static void apply_flips(int32_t *acc, const uint8_t *x, size_t stride, const uint32_t *plus,
                        size_t nplus, const uint32_t *minus, size_t nminus, int32_t add)
{
    int32_t d[BL_KB] = { 0 };
    for (size_t i = 0; i < nplus; i++)
        for (int b = 0; b < BL_KB; b++)
            d[b] += x[(size_t)plus[i] * stride + (size_t)b];
    for (size_t i = 0; i < nminus; i++)
        for (int b = 0; b < BL_KB; b++)
            d[b] -= x[(size_t)minus[i] * stride + (size_t)b];
    for (int b = 0; b < BL_KB; b++)
        acc[b] += 2 * d[b] + add;
}

static void max_into(int32_t *a, const int32_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] > a[i] ? b[i] : a[i];
}

const bl_kernels bl_kernels_portable = {
    .max_into = max_into,
    .bin_nm = bin_nm,
    .real_nm = real_nm,
    .real_conv_nm = real_conv_nm,
    .thresh_mask = thresh_mask,
    .apply_flips = apply_flips,
};

const bl_kernels *bl_kernels_get(bl_simd s)
{
#if defined(__x86_64__)
    if (s == BL_SIMD_AVX512)
        return &bl_kernels_avx512;
    if (s == BL_SIMD_AVX2)
        return &bl_kernels_avx2;
#endif
    (void)s;
    return &bl_kernels_portable;
}
