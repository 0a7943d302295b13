/* kernels_avx512.c - AVX-512 kernels (VPOPCNTDQ, VNNI). */
#include "bnn/kernels.h"

const bl_kernels bl_kernels_avx512 = { 0 };
