/* kernels.h - private compute kernels of the packed engine (engine.c).
 *
 * One table per SIMD level (kernels_portable.c, kernels_avx2.c,
 * kernels_avx512.c); engine.c picks one with bl_kernels_get() and never
 * calls a level the CPU lacks.  Every kernel is exact integer arithmetic,
 * so all levels give bit-identical results.
 *
 * Data layouts (all per block of BL_KB = 64 inputs, "lane" = input b):
 *   IL bits   binary activations, uint64 X[word][64]: word w of input b.
 *             Rows padded with zero bits.  A conv input has words_per_tap
 *             words per pixel (pixel-major, HWC).
 *   NM int32  pre-activations, neuron-major: out[j][64].
 *   Q4 u8     first-layer input codes, X[quad][64][4]: features 4q..4q+3
 *             of input b (features padded with zero codes to whole quads).
 *   W8 s8     first dense layer weights expanded to +-1 bytes, row j at
 *             W8 + j*stride, 4*nquads bytes, padding features 0.
 *   D  int32  real conv inputs q - zero, D[feature][64].
 *   combo     scratch for real_conv_nm: G * 8 * 64 int32.
 */
#ifndef BL_BNN_KERNELS_H
#define BL_BNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/cpu.h"

#define BL_KB 64 /* inputs per block: one uint64 of lanes per neuron mask */

/* A run of `nw` consecutive words: input words xw.. against row words ww.. */
typedef struct bl_kseg {
    uint32_t xw, ww, nw;
} bl_kseg;

typedef struct bl_kernels {
    /* Binary layer: out[(j-j0)*64 + b] = nvalid - 2 * sum over segments s,
     * words k < s.nw of popcount(W[j*wpr + s.ww + k] ^ X[(s.xw + k)*64 + b]),
     * for j in [j0, j0+nj).  nseg <= 3. */
    void (*bin_nm)(const uint64_t *X, const bl_kseg *seg, int nseg, const uint64_t *W,
                   size_t wpr, uint32_t j0, uint32_t nj, int32_t nvalid, int32_t *out);
    /* First dense layer: out[(j-j0)*64 + b] = sum_q,f W8[j*stride + 4q+f] *
     * X[(q*64 + b)*4 + f] - corr[j]. */
    void (*real_nm)(const uint8_t *X, uint32_t nquads, const int8_t *W8, size_t stride,
                    uint32_t j0, uint32_t nj, const int32_t *corr, int32_t *out);
    /* First conv layer, one output pixel, features grouped in triples:
     * dp[3g+i] points at the 64 values d = q - zero of feature i of group
     * g (a zero row for padding taps and missing features), idx[o*G + g]
     * holds the 3 weight bits of that group for output channel o (bit i =
     * weight +1).  out[o*64 + b] = sum_g sum_i (bit ? +d : -d).  Each group
     * forms its 8 signed combinations once per pixel, then a channel costs
     * G loads and adds per vector instead of 3G masked adds. */
    void (*real_conv_nm)(const int32_t *const *dp, uint32_t G, const uint8_t *idx, uint32_t cout,
                         int32_t *combo, int32_t *out);
    /* masks[i] bit b = (dir[i] > 0 ? a[i*64+b] >= tau[i] : a[i*64+b] <= tau[i]),
     * i < n (n <= 64). */
    void (*thresh_mask)(const int32_t *a, uint32_t n, const int32_t *tau, const int8_t *dir,
                        uint64_t *masks);
    /* Cache corrections of one neuron: x points at input b0 of feature row
     * 0 of the transposed inputs (row stride `stride` bytes, 64 inputs
     * used); acc[b] += 2 * (sum over plus[] of x[f][b] - sum over minus[]
     * of x[f][b]) + add. */
    void (*apply_flips)(int32_t *acc, const uint8_t *x, size_t stride, const uint32_t *plus,
                        size_t nplus, const uint32_t *minus, size_t nminus, int32_t add);
    /* a[i] = max(a[i], b[i]) for i < n (n a multiple of 64). */
    void (*max_into)(int32_t *a, const int32_t *b, size_t n);
} bl_kernels;

extern const bl_kernels bl_kernels_portable;
extern const bl_kernels bl_kernels_avx2;
extern const bl_kernels bl_kernels_avx512;

/* Table for a level (the caller checked bl_simd_supported()). */
const bl_kernels *bl_kernels_get(bl_simd s);

#endif
