/* backend_cpu_avx2.c - the generic CPU clustering kernels compiled with
 * AVX2 + FMA (the Makefile gives *_avx2.c those flags); fmaf/fma become
 * single instructions and the candidate loops vectorise. */
#include <math.h>

#include "cluster/cpu_kernels.h"

BL_CPU_GENERIC_KERNELS(avx2)

const bl_cpu_kern *bl_cpu_kern_avx2(void) { return &kern_avx2; }
