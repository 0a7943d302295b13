/* cpu.h - CPU feature detection and the SIMD level used by kernels.
 *
 * Kernels are compiled for several levels (portable C, AVX2, AVX-512 with
 * VPOPCNTDQ/VNNI) and one is chosen at run time.  Every level must give
 * bit-identical results; tests run each level the CPU supports.
 * The front end caps the level (BETLAB_SIMD=portable|avx2|avx512, read in
 * src/cli/env.c) with bl_simd_set_limit. */
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

/* Level to use by default: supported, capped by bl_simd_set_limit. */
bl_simd bl_simd_default(void);

/* Cap bl_simd_default at `level` (a bl_simd); BL_SIMD_COUNT or -1 removes
 * the cap.  Process-wide: the front end calls it once at start, before any
 * engine exists. */
void bl_simd_set_limit(int level);

const char *bl_simd_name(bl_simd s);

/* Parse "portable"/"avx2"/"avx512"; returns -1 when unknown. */
int bl_simd_parse(const char *name);

#endif
