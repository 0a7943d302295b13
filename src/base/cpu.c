#include "base/cpu.h"

#include <stdlib.h>
#include <string.h>

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
    const char *env = getenv("BETLAB_SIMD");
    if (env && *env) {
        int want = bl_simd_parse(env);
        if (want >= 0 && (bl_simd)want < s)
            s = (bl_simd)want;
    }
    return s;
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
