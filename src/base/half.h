/* half.h - IEEE 754 binary16 ("fp16") storage conversions in portable C.
 *
 * fp16 is a storage format in betlab (exemplar clustering keeps data as
 * halves and computes in fp32), so only conversions are needed.  Written
 * out rather than using _Float16, which not every compiler supports on
 * x86 (clang 14 does not); results equal the hardware conversions
 * (round to nearest even; test_base checks all 65,536 halves). */
#ifndef BL_BASE_HALF_H
#define BL_BASE_HALF_H

#include <stdint.h>
#include <string.h>

typedef uint16_t bl_half;

static inline bl_half bl_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
    if (exp == 0xffu) /* inf, nan (kept quiet) */
        return (bl_half)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (bl_half)(sign | 0x7c00u); /* overflow: inf */
    if (e <= 0) {                         /* subnormal half or zero */
        if (e < -10)
            return (bl_half)sign;
        mant |= 0x800000u;
        unsigned shift = (unsigned)(14 - e);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (bl_half)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is right, up to inf */
    return (bl_half)(sign | h);
}

static inline float bl_half_to_float(bl_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in float */
        float f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    uint32_t x = exp == 0x1fu ? (sign | 0x7f800000u | (mant << 13))
                              : (sign | ((exp - 15 + 127) << 23) | (mant << 13));
    float f;
    memcpy(&f, &x, 4);
    return f;
}

#endif
