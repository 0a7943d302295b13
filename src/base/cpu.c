#include "base/cpu.h"

#include <stdatomic.h>
#include <string.h>

/* The cap set by the front end (bl_simd_set_limit); BL_SIMD_COUNT: none.
 * One process-wide value on purpose: the level is consulted deep in hot
 * paths (fault masks, training) that take no options, and every level gives
 * bit-identical results, so the cap only trades speed for a code path. */
static _Atomic int simd_limit = BL_SIMD_COUNT;

bl_simd bl_simd_supported(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq") &&
        __builtin_cpu_supports("avx512vnni"))
        return BL_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
        __builtin_cpu_supports("fma"))
        return BL_SIMD_AVX2;
#endif
    return BL_SIMD_PORTABLE;
}

bl_simd bl_simd_default(void)
{
    bl_simd s = bl_simd_supported();
    int cap = atomic_load_explicit(&simd_limit, memory_order_relaxed);
    return cap < (int)s ? (bl_simd)cap : s;
}

void bl_simd_set_limit(int level)
{
    if (level < 0 || level > BL_SIMD_COUNT)
        level = BL_SIMD_COUNT;
    atomic_store_explicit(&simd_limit, level, memory_order_relaxed);
}

const char *bl_simd_name(bl_simd s)
{
    switch (s) {
    case BL_SIMD_PORTABLE: return "portable";
    case BL_SIMD_AVX2: return "avx2";
    case BL_SIMD_AVX512: return "avx512";
    default: return "?";
    }
}

int bl_simd_parse(const char *name)
{
    for (int s = 0; s < BL_SIMD_COUNT; s++)
        if (strcmp(name, bl_simd_name((bl_simd)s)) == 0)
            return s;
    return -1;
}
