/* cpu.h - CPU feature detection and the SIMD level used by kernels.
 *
 * Kernels are compiled for several levels (portable C, AVX2, AVX-512 with
 * VPOPCNTDQ/VNNI) and one is chosen at run time.  Every level must give
 * bit-identical results; tests run each level the CPU supports.
 * BETLAB_SIMD=portable|avx2|avx512 in the environment caps the level. */
#ifndef BL_BASE_CPU_H
#define BL_BASE_CPU_H

typedef enum bl_simd {
    BL_SIMD_PORTABLE = 0,
    BL_SIMD_AVX2 = 1,     /* AVX2 + POPCNT + FMA                           */
    BL_SIMD_AVX512 = 2,   /* AVX-512 F/BW/VL + VPOPCNTDQ + VNNI            */
    BL_SIMD_COUNT
} bl_simd;

/* Best level this CPU supports (ignores the environment). */
bl_simd bl_simd_supported(void);

/* Level to use by default: supported, capped by $BETLAB_SIMD. */
bl_simd bl_simd_default(void);

const char *bl_simd_name(bl_simd s);

/* Parse "portable"/"avx2"/"avx512"; returns -1 when unknown. */
int bl_simd_parse(const char *name);

#endif
