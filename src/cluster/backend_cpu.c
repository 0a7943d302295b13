/* backend_cpu.c - the CPU exemplar-clustering backend: SIMD kernels
 * (cpu_kernels.h, chosen at run time) over the thread pool.
 *
 * Determinism: V is cut into at most 256 superblocks whose size depends on
 * n only; every task owns one superblock (and one chunk of candidates) and
 * writes its per-candidate sums to its own row of `partial`; rows are added
 * in superblock order.  Results are therefore bit-identical for any thread
 * count and, since all SIMD levels do the same operations per lane, for any
 * SIMD level.  gains_slots() and add() compute distances with exactly the
 * operations of the gains tile, so gains_slots(e, s) == gains(e | s) bitwise
 * and the gain of an element already in S is exactly 0.
 *
 * Accuracy: distances are computed directly (sum of (c_j - v_j)^2 by FMA),
 * not by the expanded form ||v||^2 - 2 v.c + ||c||^2, which cancels
 * catastrophically in fp32 for near points (exactly the points that decide
 * late greedy gains).  Same cost per element as the expanded form with a
 * separate subtract (one sub + one FMA); per-candidate sums in double. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "base/cpu.h"
#include "base/mem.h"
#include "base/pool.h"
#include "cluster/cluster.h"
#include "cluster/cpu_kernels.h"

BL_CPU_GENERIC_KERNELS(portable)

const bl_cpu_kern *bl_cpu_kern_portable(void) { return &kern_portable; }

#define MAX_SUPER 256
#define CHUNK 256      /* candidate columns per task */
#define MAX_BATCH 4096 /* candidates per pass (bounds the transposed buffer) */

typedef struct cpu_be {
    bl_cluster_backend base;
    const bl_cpu_kern *k;
    bl_simd simd;
    bl_pool *pool;
    int nthreads;
    size_t npan, npad;   /* panels, points incl. padding                 */
    size_t sbp, nsb;     /* panels per superblock, superblocks           */
    size_t subp;         /* panels per sub-block (fp16 conversion)       */
    size_t esz;          /* bytes per working value (4 or 8)             */
    void *x;             /* panels in storage precision                   */
    void *norm;          /* npad working values                          */
    void *m;             /* nslots * npad working values                 */
    void *ct;            /* d * MAX_BATCH working values                 */
    double *partial;     /* nsb * MAX_BATCH                              */
    float *conv;         /* per worker: subp*16*d floats (fp16 only)     */
    void *dist;          /* per worker: sbp*16 working values             */
    void *erow;          /* d working values                              */
} cpu_be;

static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

/* Working-precision pointer to panel `p` of V for worker `w` (fp16:
 * converts panels [p, p+np) into the worker's scratch). */
static const void *panels_at(cpu_be *b, size_t p, size_t np, int w)
{
    size_t d = b->base.d;
    if (b->base.precision == BL_PREC_FP16) {
        float *dst = b->conv + (size_t)w * b->subp * 16 * d;
        b->k->h2f((const bl_half *)b->x + p * 16 * d, dst, np * 16 * d);
        return dst;
    }
    return (const char *)b->x + p * 16 * d * b->esz;
}

static void *slot_m(cpu_be *b, int slot) { return (char *)b->m + (size_t)slot * b->npad * b->esz; }

/* Row i of V in working precision into dst. */
static void get_row(const cpu_be *b, size_t i, void *dst)
{
    size_t d = b->base.d, p = i / 16, l = i % 16;
    for (size_t j = 0; j < d; j++) {
        size_t at = p * 16 * d + j * 16 + l;
        switch (b->base.precision) {
        case BL_PREC_FP64: ((double *)dst)[j] = ((const double *)b->x)[at]; break;
        case BL_PREC_FP32: ((float *)dst)[j] = ((const float *)b->x)[at]; break;
        default: ((float *)dst)[j] = bl_half_to_float(((const bl_half *)b->x)[at]); break;
        }
    }
}

/* ---- gains of a batch of candidates ------------------------------------ */

typedef struct gains_job {
    cpu_be *b;
    const void *m;
    size_t ldc, nchunks, cols;
} gains_job;

static void gains_task(void *ctx, size_t task, int w)
{
    gains_job *g = ctx;
    cpu_be *b = g->b;
    size_t sb = task / g->nchunks, ch = task % g->nchunks;
    size_t c0 = ch * CHUNK, nc = g->cols - c0 < CHUNK ? g->cols - c0 : CHUNK;
    size_t p0 = sb * b->sbp, p1 = p0 + b->sbp < b->npan ? p0 + b->sbp : b->npan;
    double *acc = b->partial + sb * g->ldc + c0;
    size_t d = b->base.d;
    for (size_t p = p0; p < p1; p += b->subp) {
        size_t np = p1 - p < b->subp ? p1 - p : b->subp;
        const void *pan = panels_at(b, p, np, w);
        if (b->base.precision == BL_PREC_FP64)
            b->k->tile_f64(pan, np, (const double *)g->m + p * 16, (const double *)b->ct + c0,
                           g->ldc, d, nc, acc);
        else
            b->k->tile_f32(pan, np, (const float *)g->m + p * 16, (const float *)b->ct + c0,
                           g->ldc, d, nc, acc);
    }
}

static int cpu_gains(bl_cluster_backend *base, int slot, const uint32_t *cand, size_t m,
                     double *out, bl_error *err)
{
    cpu_be *b = (cpu_be *)base;
    size_t d = base->d;
    if (slot < 0 || slot >= base->nslots)
        return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slot,
                            base->nslots - 1);
    for (size_t i = 0; i < m; i++)
        if (cand[i] >= base->n)
            return bl_error_set(err, BL_EINVAL, "cluster: candidate %u out of range (n = %zu)",
                                cand[i], base->n);
    for (size_t off = 0; off < m; off += MAX_BATCH) {
        size_t mb = m - off < MAX_BATCH ? m - off : MAX_BATCH;
        size_t ldc = round_up(mb, BL_CPU_GROUP32);
        /* transposed candidates, padding columns zero */
        memset(b->ct, 0, d * ldc * b->esz);
        for (size_t i = 0; i < mb; i++) {
            get_row(b, cand[off + i], b->erow);
            for (size_t j = 0; j < d; j++) {
                if (b->esz == 8)
                    ((double *)b->ct)[j * ldc + i] = ((double *)b->erow)[j];
                else
                    ((float *)b->ct)[j * ldc + i] = ((float *)b->erow)[j];
            }
        }
        memset(b->partial, 0, b->nsb * ldc * sizeof(double));
        gains_job g = { b, slot_m(b, slot), ldc, (ldc + CHUNK - 1) / CHUNK, ldc };
        bl_pool_run(b->pool, b->nsb * g.nchunks, gains_task, &g);
        for (size_t i = 0; i < mb; i++) {
            double s = 0;
            for (size_t sb = 0; sb < b->nsb; sb++)
                s += b->partial[sb * ldc + i];
            out[off + i] = s / (double)base->n;
        }
    }
    base->evaluations += m;
    return 0;
}

/* ---- one element against many slots, and add ------------------------- */

typedef struct elem_job {
    cpu_be *b;
    const int *slots;
    size_t nslots;
    int add_slot;  /* >= 0: add() into this slot instead of gains */
} elem_job;

static void elem_task(void *ctx, size_t sb, int w)
{
    elem_job *e = ctx;
    cpu_be *b = e->b;
    size_t d = b->base.d;
    size_t p0 = sb * b->sbp, p1 = p0 + b->sbp < b->npan ? p0 + b->sbp : b->npan;
    char *dist = (char *)b->dist + (size_t)w * b->sbp * 16 * b->esz;
    for (size_t p = p0; p < p1; p += b->subp) {
        size_t np = p1 - p < b->subp ? p1 - p : b->subp;
        const void *pan = panels_at(b, p, np, w);
        char *dd = dist + (p - p0) * 16 * b->esz;
        if (b->esz == 8)
            b->k->dist_f64(pan, np, d, b->erow, (double *)dd);
        else
            b->k->dist_f32(pan, np, d, b->erow, (float *)dd);
    }
    size_t i0 = p0 * 16, cnt = (p1 - p0) * 16;
    if (e->add_slot >= 0) {
        if (b->esz == 8) {
            double *mm = (double *)slot_m(b, e->add_slot) + i0;
            const double *ds = (const double *)dist;
            for (size_t i = 0; i < cnt; i++)
                mm[i] = ds[i] < mm[i] ? ds[i] : mm[i];
        } else {
            float *mm = (float *)slot_m(b, e->add_slot) + i0;
            const float *ds = (const float *)dist;
            for (size_t i = 0; i < cnt; i++)
                mm[i] = ds[i] < mm[i] ? ds[i] : mm[i];
        }
        return;
    }
    for (size_t s = 0; s < e->nslots; s++) {
        double acc = 0;
        if (b->esz == 8) {
            const double *mm = (const double *)slot_m(b, e->slots[s]) + i0;
            const double *ds = (const double *)dist;
            for (size_t i = 0; i < cnt; i += 4) {
                double x, t = 0;
                for (int r = 0; r < 4; r++) {
                    x = mm[i + r] - ds[i + r];
                    x = 0.0 > x ? 0.0 : x;
                    t = r ? t + x : x;
                }
                acc += t;
            }
        } else {
            const float *mm = (const float *)slot_m(b, e->slots[s]) + i0;
            const float *ds = (const float *)dist;
            for (size_t i = 0; i < cnt; i += 4) {
                float x, t = 0;
                for (int r = 0; r < 4; r++) {
                    x = mm[i + r] - ds[i + r];
                    x = 0.0f > x ? 0.0f : x;
                    t = r ? t + x : x;
                }
                acc += (double)t;
            }
        }
        b->partial[sb * e->nslots + s] = acc;
    }
}

static int cpu_gains_slots(bl_cluster_backend *base, uint32_t elem, const int *slots,
                           size_t nslots, double *out, bl_error *err)
{
    cpu_be *b = (cpu_be *)base;
    if (elem >= base->n)
        return bl_error_set(err, BL_EINVAL, "cluster: element %u out of range (n = %zu)", elem,
                            base->n);
    for (size_t s = 0; s < nslots; s++)
        if (slots[s] < 0 || slots[s] >= base->nslots)
            return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slots[s],
                                base->nslots - 1);
    get_row(b, elem, b->erow);
    for (size_t off = 0; off < nslots; off += MAX_BATCH) {
        size_t ns = nslots - off < MAX_BATCH ? nslots - off : MAX_BATCH;
        elem_job e = { b, slots + off, ns, -1 };
        bl_pool_run(b->pool, b->nsb, elem_task, &e);
        for (size_t s = 0; s < ns; s++) {
            double acc = 0;
            for (size_t sb = 0; sb < b->nsb; sb++)
                acc += b->partial[sb * ns + s];
            out[off + s] = acc / (double)base->n;
        }
    }
    base->evaluations += nslots;
    return 0;
}

static int cpu_add(bl_cluster_backend *base, int slot, uint32_t elem, bl_error *err)
{
    cpu_be *b = (cpu_be *)base;
    if (slot < 0 || slot >= base->nslots)
        return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slot,
                            base->nslots - 1);
    if (elem >= base->n)
        return bl_error_set(err, BL_EINVAL, "cluster: element %u out of range (n = %zu)", elem,
                            base->n);
    get_row(b, elem, b->erow);
    elem_job e = { b, NULL, 0, slot };
    bl_pool_run(b->pool, b->nsb, elem_task, &e);
    return 0;
}

static int cpu_reset(bl_cluster_backend *base, int slot, bl_error *err)
{
    cpu_be *b = (cpu_be *)base;
    if (slot < 0 || slot >= base->nslots)
        return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slot,
                            base->nslots - 1);
    memcpy(slot_m(b, slot), b->norm, b->npad * b->esz);
    return 0;
}

static int cpu_value(bl_cluster_backend *base, int slot, double *f, bl_error *err)
{
    cpu_be *b = (cpu_be *)base;
    if (slot < 0 || slot >= base->nslots)
        return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slot,
                            base->nslots - 1);
    double s = 0;
    if (b->esz == 8) {
        const double *nv = b->norm, *mm = slot_m(b, slot);
        for (size_t i = 0; i < base->n; i++)
            s += nv[i] - mm[i];
    } else {
        const float *nv = b->norm, *mm = slot_m(b, slot);
        for (size_t i = 0; i < base->n; i++)
            s += (double)nv[i] - (double)mm[i];
    }
    *f = s / (double)base->n;
    return 0;
}

static void cpu_free(bl_cluster_backend *base)
{
    cpu_be *b = (cpu_be *)base;
    if (!b)
        return;
    bl_pool_free(b->pool);
    bl_free(b->x);
    bl_free(b->norm);
    bl_free(b->m);
    bl_free(b->ct);
    bl_free(b->partial);
    bl_free(b->conv);
    bl_free(b->dist);
    bl_free(b->erow);
    free(b);
}

static const bl_cluster_ops cpu_ops = { "cpu", cpu_gains, cpu_gains_slots, cpu_add,
                                        cpu_reset, cpu_value, cpu_free };

static void *alloc_n(size_t a, size_t b2, size_t c)
{
    size_t s;
    if (!bl_size_mul(a, b2, &s) || !bl_size_mul(s, c, &s))
        return NULL;
    return bl_alloc(s ? s : 64);
}

/* Declared for cluster.c (the dispatcher). */
int bl_cluster_cpu_new(const bl_cluster_data *data, bl_precision prec, int nslots, int threads,
                       int simd, bl_cluster_backend **out, bl_error *err);

int bl_cluster_cpu_new(const bl_cluster_data *data, bl_precision prec, int nslots, int threads,
                       int simd, bl_cluster_backend **out, bl_error *err)
{
    *out = NULL;
    size_t n = data->n, d = data->d;
    cpu_be *b = calloc(1, sizeof *b);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    b->base.ops = &cpu_ops;
    b->base.n = n;
    b->base.d = d;
    b->base.nslots = nslots;
    b->base.precision = prec;
    bl_simd s = simd >= 0 && simd <= (int)bl_simd_supported() ? (bl_simd)simd : bl_simd_default();
    b->simd = s;
    b->k = s == BL_SIMD_AVX512 ? bl_cpu_kern_avx512()
         : s == BL_SIMD_AVX2   ? bl_cpu_kern_avx2()
                               : bl_cpu_kern_portable();
    b->pool = bl_pool_new(threads);
    if (!b->pool) {
        cpu_free(&b->base);
        return bl_error_set(err, BL_ENOMEM, "cluster: cannot start the thread pool");
    }
    b->nthreads = bl_pool_threads(b->pool);
    snprintf(b->base.device, sizeof b->base.device, "cpu (%s, %d thread%s)", bl_simd_name(s),
             b->nthreads, b->nthreads == 1 ? "" : "s");
    b->npan = (n + 15) / 16;
    b->npad = b->npan * 16;
    b->sbp = (b->npan + MAX_SUPER - 1) / MAX_SUPER;
    b->nsb = (b->npan + b->sbp - 1) / b->sbp;
    b->subp = 1024 / d ? 1024 / d : 1;
    if (b->subp > b->sbp)
        b->subp = b->sbp;
    b->esz = prec == BL_PREC_FP64 ? 8 : 4;
    size_t ssz = prec == BL_PREC_FP64 ? 8 : prec == BL_PREC_FP32 ? 4 : 2;
    size_t partial_n = b->nsb * MAX_BATCH;
    b->x = alloc_n(b->npad, d, ssz);
    b->norm = alloc_n(b->npad, 1, b->esz);
    b->m = alloc_n(b->npad, (size_t)nslots, b->esz);
    b->ct = alloc_n(d, MAX_BATCH, b->esz);
    b->partial = alloc_n(partial_n, 1, sizeof(double));
    b->dist = alloc_n((size_t)b->nthreads * b->sbp * 16, 1, b->esz);
    b->erow = alloc_n(d, 1, 8);
    if (prec == BL_PREC_FP16)
        b->conv = alloc_n((size_t)b->nthreads * b->subp * 16, d, sizeof(float));
    if (!b->x || !b->norm || !b->m || !b->ct || !b->partial || !b->dist || !b->erow ||
        (prec == BL_PREC_FP16 && !b->conv)) {
        cpu_free(&b->base);
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory for %zu x %zu points", n, d);
    }
    for (size_t i = 0; i < n; i++) {
        size_t p = i / 16, l = i % 16;
        for (size_t j = 0; j < d; j++) {
            double v = data->x[i * d + j];
            size_t at = p * 16 * d + j * 16 + l;
            if (prec == BL_PREC_FP64)
                ((double *)b->x)[at] = v;
            else if (prec == BL_PREC_FP32) {
                if (fabs(v) > FLT_MAX) {
                    cpu_free(&b->base);
                    return bl_error_set(err, BL_ERANGE,
                                        "cluster: value %g at row %zu, column %zu is out of fp32 range",
                                        v, i, j);
                }
                ((float *)b->x)[at] = (float)v;
            } else {
                if (fabs(v) > 65504.0) {
                    cpu_free(&b->base);
                    return bl_error_set(err, BL_ERANGE,
                                        "cluster: value %g at row %zu, column %zu is out of fp16 range "
                                        "(|x| <= 65504)", v, i, j);
                }
                ((bl_half *)b->x)[at] = bl_float_to_half((float)v);
            }
        }
    }
    /* norms = distances to the zero vector, by the same kernel */
    memset(b->erow, 0, d * 8);
    for (size_t p = 0; p < b->npan; p += b->subp) {
        size_t np = b->npan - p < b->subp ? b->npan - p : b->subp;
        const void *pan = panels_at(b, p, np, 0);
        if (b->esz == 8)
            b->k->dist_f64(pan, np, d, b->erow, (double *)b->norm + p * 16);
        else
            b->k->dist_f32(pan, np, d, b->erow, (float *)b->norm + p * 16);
    }
    for (int s2 = 0; s2 < nslots; s2++)
        memcpy(slot_m(b, s2), b->norm, b->npad * b->esz);
    *out = &b->base;
    return 0;
}
