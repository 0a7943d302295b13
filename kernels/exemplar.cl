/* exemplar.cl - exemplar-clustering kernels (DESIGN.md "Exemplar clustering").
 *
 * Built by src/cluster/backend_opencl.c with these -D options:
 *   STORE_HALF | STORE_FLOAT | STORE_DOUBLE   storage of V (VT below)
 *   REAL_DOUBLE        arithmetic in double (fp64 precision), else float
 *   ACC_DOUBLE         sums over points in double (device has fp64), else float
 *   TP TC TK RP RC     gains tiling: TP points x TC candidates per work-group,
 *                      TK dimensions per local-memory step, RP x RC per work-item
 *                      (RP, RC multiples of 4; TP/RP and TC/RC powers of two)
 *   RWG                work-group size of the reduction kernels (power of two)
 *
 * Layout: VT is V transposed and padded, dpad rows (dimensions) of ldv
 * columns (points); padding dimensions and padding points are zero and
 * padding points are masked out of every sum.  Data are centred (and, for
 * fp16, scaled by a power of two) on the host; distances are translation
 * invariant and the host rescales results, so nothing here knows about it.
 * Minima slots are arrays of ldv reals, slot s at offset s*ldv.
 *
 * Gains accumulate ||v - c||^2 (or v.c, DIST_DOT) over d in registers,
 * GEMM-style (each work-item an RP x RC tile fed from local memory), then max(0, m_v - dist) summed over the
 * work-group's points in a fixed tree order into partials[group][candidate],
 * which reduce_partials sums per candidate in a fixed order: results do not
 * depend on scheduling. */

#if defined(REAL_DOUBLE) || defined(ACC_DOUBLE) || defined(STORE_DOUBLE)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#ifdef REAL_DOUBLE
typedef double real;
typedef double4 real4;
#define REAL_MAX DBL_MAX
#ifdef FP_FAST_FMA
#define MAD(a, b, c) fma(a, b, c)
#else
#define MAD(a, b, c) ((a) * (b) + (c))
#endif
#else
typedef float real;
typedef float4 real4;
#define REAL_MAX FLT_MAX
#ifdef FP_FAST_FMAF
#define MAD(a, b, c) fma(a, b, c)
#else
#define MAD(a, b, c) ((a) * (b) + (c))
#endif
#endif

/* BL_NO_UNROLL: the host retries with it if a compiler rejects the pragma */
#ifndef BL_NO_UNROLL
#define UNROLL _Pragma("unroll")
#else
#define UNROLL
#endif

#ifdef ACC_DOUBLE
typedef double acc_t;
#else
typedef float acc_t;
#endif

#if defined(STORE_HALF)
typedef half store_t;          /* pointer use only: no cl_khr_fp16 needed */
#define LOAD1(p, i) ((real)vload_half((i), (p)))
#define LOAD4(p) vload_half4(0, (p))
#elif defined(STORE_DOUBLE)
typedef double store_t;
#define LOAD1(p, i) ((real)(p)[i])
#define LOAD4(p) vload4(0, (p))
#else
typedef float store_t;
#define LOAD1(p, i) ((real)(p)[i])
#define LOAD4(p) vload4(0, (p))
#endif

#ifndef TP
#define TP 64
#define TC 64
#define TK 16
#define RP 4
#define RC 4
#endif
#ifndef RWG
#define RWG 64
#endif
#define NTX (TC / RC)
#define NTY (TP / RP)
#define WG (NTX * NTY)
#define GP (RP / 4)
#define GC (RC / 4)
/* point / candidate of register i (j) of work-item ty (tx), within the tile */
#define PIDX(i) (((i) / 4) * (TP / GP) + ty * 4 + ((i) % 4))
#define CIDX(j) (((j) / 4) * (TC / GC) + tx * 4 + ((j) % 4))

/* DIST_DOT: accumulate v.c and use ||v||^2 + ||c||^2 - 2 v.c (one FMA per
 * element, but the error scales with ||v||^2, not with the distance);
 * default: accumulate (v - c)^2 directly (two operations per element, error
 * relative to the distance itself: exact to tolerance for small gains). */
#ifdef DIST_DOT
#define ACCUM(s, a, b) s = MAD(a, b, s)
#define DIST(i, j, nv, ncj) fmax((nv) + (ncj) - 2 * accum[i][j], (real)0)
#else
#define ACCUM(s, a, b) { real t_ = (a) - (b); s = MAD(t_, t_, s); }
#define DIST(i, j, nv, ncj) accum[i][j]
#endif

/* The shared GEMM core: acc[i][j] = sum_k VT[k][p0+PIDX(i)] * CT[k][c0+CIDX(j)]. */
#define GEMM_CORE()                                                                      \
    real accum[RP][RC];                                                                  \
    UNROLL for (int i = 0; i < RP; ++i)                                       \
        UNROLL for (int j = 0; j < RC; ++j) accum[i][j] = 0;                  \
    for (uint k0 = 0; k0 < dpad; k0 += TK) {                                             \
        __global const store_t *vb = VT + (ulong)k0 * ldv + p0;                          \
        __global const real *cb = CT + (ulong)k0 * ldc + c0;                             \
        for (int e = lid; e < TK * TP / 4; e += WG) {                                    \
            int kk = e / (TP / 4), pp = (e % (TP / 4)) * 4;                              \
            vstore4(convert_real4(LOAD4(vb + (ulong)kk * ldv + pp)), 0, &As[kk][pp]);    \
        }                                                                                \
        for (int e = lid; e < TK * TC / 4; e += WG) {                                    \
            int kk = e / (TC / 4), pp = (e % (TC / 4)) * 4;                              \
            vstore4(vload4(0, cb + (ulong)kk * ldc + pp), 0, &Bs[kk][pp]);               \
        }                                                                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                    \
        UNROLL for (int k = 0; k < TK; ++k) {                                 \
            real a[RP], b[RC];                                                           \
            UNROLL for (int g = 0; g < GP; ++g) {                             \
                real4 t = vload4(0, &As[k][g * (TP / GP) + ty * 4]);                     \
                a[g * 4] = t.s0; a[g * 4 + 1] = t.s1; a[g * 4 + 2] = t.s2; a[g * 4 + 3] = t.s3; \
            }                                                                            \
            UNROLL for (int g = 0; g < GC; ++g) {                             \
                real4 t = vload4(0, &Bs[k][g * (TC / GC) + tx * 4]);                     \
                b[g * 4] = t.s0; b[g * 4 + 1] = t.s1; b[g * 4 + 2] = t.s2; b[g * 4 + 3] = t.s3; \
            }                                                                            \
            UNROLL for (int i = 0; i < RP; ++i)                               \
                UNROLL for (int j = 0; j < RC; ++j)                           \
                    ACCUM(accum[i][j], a[i], b[j]);                                      \
        }                                                                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                    \
    }

#ifdef REAL_DOUBLE
#define convert_real4 convert_double4
#else
#define convert_real4 convert_float4
#endif

/* Gather candidate rows into CT (dpad x ldc, real) and their norms. */
__kernel void gather(__global const store_t *VT, const uint ldv, __global const uint *cand,
                     const uint m, const uint ldc, __global real *CT, __global const real *nvc,
                     __global real *ncand)
{
    const uint j = get_global_id(0), k = get_global_id(1);
    real v = 0;
    if (j < m) v = LOAD1(VT, (ulong)k * ldv + cand[j]);
    CT[(ulong)k * ldc + j] = v;
    if (k == 0) ncand[j] = j < m ? nvc[cand[j]] : (real)0;
}

/* partials[group_p][c] = sum over the group's points of max(0, m_v - ||v - c||^2). */
__kernel __attribute__((reqd_work_group_size(NTX, NTY, 1)))
void gains_tile(__global const store_t *VT, const uint ldv, const uint dpad,
                __global const real *CT, const uint ldc, __global const real *nvc,
                __global const real *ncand, __global const real *minima, const ulong moff,
                const uint n, __global acc_t *partials)
{
    __local real As[TK][TP];
    __local real Bs[TK][TC];
    __local acc_t red[NTY][TC];
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * NTX + tx;
    const uint c0 = get_group_id(0) * TC, p0 = get_group_id(1) * TP;
    GEMM_CORE()
    real nc[RC];
    acc_t sum[RC];
    UNROLL for (int j = 0; j < RC; ++j) { nc[j] = ncand[c0 + CIDX(j)]; sum[j] = 0; }
    UNROLL for (int i = 0; i < RP; ++i) {
        const uint p = p0 + PIDX(i);
        if (p < n) {
            const real mv = minima[moff + p], nv = nvc[p];
            UNROLL for (int j = 0; j < RC; ++j) {
                real dist = DIST(i, j, nv, nc[j]);
                sum[j] += (acc_t)fmax(mv - dist, (real)0);
            }
        }
    }
    UNROLL for (int j = 0; j < RC; ++j) red[ty][CIDX(j)] = sum[j];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = NTY / 2; s > 0; s >>= 1) {
        if (ty < s)
            UNROLL for (int j = 0; j < RC; ++j) red[ty][CIDX(j)] += red[ty + s][CIDX(j)];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (ty == 0)
        UNROLL for (int j = 0; j < RC; ++j)
            partials[(ulong)get_group_id(1) * ldc + c0 + CIDX(j)] = red[0][CIDX(j)];
}

/* pmin[group_c][v] = min over the group's candidates (< m) of ||v - c||^2. */
__kernel __attribute__((reqd_work_group_size(NTX, NTY, 1)))
void minupdate_tile(__global const store_t *VT, const uint ldv, const uint dpad,
                    __global const real *CT, const uint ldc, __global const real *nvc,
                    __global const real *ncand, const uint m, __global real *pmin)
{
    __local real As[TK][TP];
    __local real Bs[TK][TC];
    __local real redm[NTX][TP];
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * NTX + tx;
    const uint c0 = get_group_id(0) * TC, p0 = get_group_id(1) * TP;
    GEMM_CORE()
    real nc[RC];
    UNROLL for (int j = 0; j < RC; ++j) nc[j] = ncand[c0 + CIDX(j)];
    UNROLL for (int i = 0; i < RP; ++i) {
        const real nv = nvc[p0 + PIDX(i)];
        real mn = REAL_MAX;
        UNROLL for (int j = 0; j < RC; ++j)
            if (c0 + CIDX(j) < m) mn = fmin(mn, DIST(i, j, nv, nc[j]));
        redm[tx][PIDX(i)] = mn;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = NTX / 2; s > 0; s >>= 1) {
        if (tx < s)
            UNROLL for (int i = 0; i < RP; ++i)
                redm[tx][PIDX(i)] = fmin(redm[tx][PIDX(i)], redm[tx + s][PIDX(i)]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (tx == 0)
        UNROLL for (int i = 0; i < RP; ++i)
            pmin[(ulong)get_group_id(0) * ldv + p0 + PIDX(i)] = redm[0][PIDX(i)];
}

/* minima[v] = min(minima[v], pmin[t][v] for t < nct). */
__kernel void min_combine(__global real *minima, const ulong moff, __global const real *pmin,
                          const uint nct, const uint ldv, const uint n)
{
    const uint p = get_global_id(0);
    if (p >= n) return;
    real m = minima[moff + p];
    for (uint t = 0; t < nct; ++t) m = fmin(m, pmin[(ulong)t * ldv + p]);
    minima[moff + p] = m;
}

/* ||v - V[e]||^2 by differences (exact for a candidate in V), summed in acc_t. */
real dist_to(__global const store_t *VT, uint ldv, uint d, uint p, uint e)
{
    acc_t s = 0;
    for (uint k = 0; k < d; ++k) {
        real x = LOAD1(VT, (ulong)k * ldv + p) - LOAD1(VT, (ulong)k * ldv + e);
        s += (acc_t)(x * x);
    }
    return (real)s;
}

__kernel void dist_one(__global const store_t *VT, const uint ldv, const uint d, const uint e,
                       const uint n, __global real *dist)
{
    const uint p = get_global_id(0);
    if (p < n) dist[p] = dist_to(VT, ldv, d, p, e);
}

/* S := S u {e}: minima[v] = min(minima[v], ||v - V[e]||^2). */
__kernel void add_one(__global const store_t *VT, const uint ldv, const uint d, const uint e,
                      const uint n, __global real *minima, const ulong moff)
{
    const uint p = get_global_id(0);
    if (p < n) minima[moff + p] = fmin(minima[moff + p], dist_to(VT, ldv, d, p, e));
}

acc_t tree_sum(__local acc_t *red, acc_t s)
{
    const int lid = get_local_id(0);
    red[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RWG / 2; h > 0; h >>= 1) {
        if (lid < h) red[lid] += red[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return red[0];
}

/* Sieve pattern: partials[g][j] = sum over chunk g of max(0, M_slots[j][v] - dist[v]). */
__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void slots_partial(__global const real *minima, const uint ldv, __global const int *slots,
                   const uint ns, __global const real *dist, const uint n, const uint chunk,
                   __global acc_t *partials)
{
    __local acc_t red[RWG];
    const uint g = get_group_id(0), j = get_group_id(1), lid = get_local_id(0);
    __global const real *mv = minima + (ulong)slots[j] * ldv;
    const uint start = g * chunk, end = min(n, start + chunk);
    acc_t s = 0;
    for (uint p = start + lid; p < end; p += RWG) s += (acc_t)fmax(mv[p] - dist[p], (real)0);
    s = tree_sum(red, s);
    if (lid == 0) partials[(ulong)g * ns + j] = s;
}

/* out[j] = sum_g partials[g][j], fixed order. */
__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void reduce_partials(__global const acc_t *partials, const uint ngroups, const uint ldp,
                     __global acc_t *out)
{
    __local acc_t red[RWG];
    const uint j = get_group_id(0), lid = get_local_id(0);
    acc_t s = 0;
    for (uint g = lid; g < ngroups; g += RWG) s += partials[(ulong)g * ldp + j];
    s = tree_sum(red, s);
    if (lid == 0) out[j] = s;
}

/* partials[g] = sum over chunk g of (||v||^2 - m_v)  (f of a slot, times n). */
__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void value_partial(__global const real *nv0, __global const real *minima, const ulong moff,
                   const uint n, const uint chunk, __global acc_t *partials)
{
    __local acc_t red[RWG];
    const uint g = get_group_id(0), lid = get_local_id(0);
    const uint start = g * chunk, end = min(n, start + chunk);
    acc_t s = 0;
    for (uint p = start + lid; p < end; p += RWG) s += (acc_t)(nv0[p] - minima[moff + p]);
    s = tree_sum(red, s);
    if (lid == 0) partials[g] = s;
}
