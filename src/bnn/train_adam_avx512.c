/* train_adam_avx512.c - the Adam update of train_net.c with AVX-512.
 * Same operations in the same order as the portable loop (no FMA
 * contraction; sqrt and division are correctly rounded), so every SIMD
 * level gives bit-identical weights. */
#include <immintrin.h>
#include <stddef.h>

#include "bnn/train_internal.h"

void tr_adam_range_avx512(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                          float lo, float hi, float lr, float ib1, float ib2)
{
    const __m512 b1 = _mm512_set1_ps(TR_ADAM_B1), c1 = _mm512_set1_ps(1 - TR_ADAM_B1);
    const __m512 b2 = _mm512_set1_ps(TR_ADAM_B2), c2 = _mm512_set1_ps(1 - TR_ADAM_B2);
    const __m512 vlr = _mm512_set1_ps(lr), vib1 = _mm512_set1_ps(ib1), vib2 = _mm512_set1_ps(ib2);
    const __m512 eps = _mm512_set1_ps(TR_ADAM_EPS), vlo = _mm512_set1_ps(lo),
                 vhi = _mm512_set1_ps(hi), one = _mm512_set1_ps(1.0f),
                 mone = _mm512_set1_ps(-1.0f), zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(c1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                  _mm512_mul_ps(_mm512_mul_ps(c2, gi), gi));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        __m512 num = _mm512_mul_ps(vlr, _mm512_mul_ps(mi, vib1));
        __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, vib2)), eps);
        __m512 x = _mm512_sub_ps(_mm512_loadu_ps(w + i), _mm512_div_ps(num, den));
        x = _mm512_min_ps(x, vhi);   /* x > hi ? hi : x */
        x = _mm512_max_ps(x, vlo);   /* x < lo ? lo : x */
        _mm512_storeu_ps(w + i, x);
        __mmask16 pos = _mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ);
        _mm512_storeu_ps(wb + i, _mm512_mask_blend_ps(pos, mone, one));
    }
    if (i < n)
        tr_adam_range_scalar(w + i, g + i, m + i, v + i, wb + i, n - i, lo, hi, lr, ib1, ib2);
}
