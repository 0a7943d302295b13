/* train_adam_avx2.c - the Adam update of train_net.c with AVX2.
 * Same operations in the same order as the portable loop (no FMA
 * contraction; sqrt and division are correctly rounded), so every SIMD
 * level gives bit-identical weights. */
#include <immintrin.h>
#include <stddef.h>

#include "bnn/train_internal.h"

void tr_adam_range_avx2(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                          float lo, float hi, float lr, float ib1, float ib2)
{
    const __m256 b1 = _mm256_set1_ps(TR_ADAM_B1), c1 = _mm256_set1_ps(1 - TR_ADAM_B1);
    const __m256 b2 = _mm256_set1_ps(TR_ADAM_B2), c2 = _mm256_set1_ps(1 - TR_ADAM_B2);
    const __m256 vlr = _mm256_set1_ps(lr), vib1 = _mm256_set1_ps(ib1), vib2 = _mm256_set1_ps(ib2);
    const __m256 eps = _mm256_set1_ps(TR_ADAM_EPS), vlo = _mm256_set1_ps(lo),
                 vhi = _mm256_set1_ps(hi), one = _mm256_set1_ps(1.0f),
                 mone = _mm256_set1_ps(-1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 num = _mm256_mul_ps(vlr, _mm256_mul_ps(mi, vib1));
        __m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, vib2)), eps);
        __m256 x = _mm256_sub_ps(_mm256_loadu_ps(w + i), _mm256_div_ps(num, den));
        x = _mm256_min_ps(x, vhi);   /* x > hi ? hi : x */
        x = _mm256_max_ps(x, vlo);   /* x < lo ? lo : x */
        _mm256_storeu_ps(w + i, x);
        __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GE_OQ);
        _mm256_storeu_ps(wb + i, _mm256_blendv_ps(mone, one, pos));
    }
    if (i < n)
        tr_adam_range_scalar(w + i, g + i, m + i, v + i, wb + i, n - i, lo, hi, lr, ib1, ib2);
}
