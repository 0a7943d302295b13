/* kernels_avx2.c - AVX2 kernels (compiled with -mavx2 -mpopcnt -mfma -mbmi2). */
#include "bnn/kernels.h"

const bl_kernels bl_kernels_avx2 = { 0 };
