/* backend_opencl.c - exemplar clustering on any OpenCL device.
 *
 * V is centred (x - mean; distances are translation invariant, only the
 * initial minima ||v||^2 use the original coordinates), converted to the
 * chosen precision (fp16: also scaled by a power of two so the largest
 * |value| is in [64, 128), results rescaled exactly), transposed and padded
 * (kernels/exemplar.cl "Layout") and uploaded once.  Minima slots live on
 * the device.  A gains call uploads candidate indices and downloads one
 * number per candidate.  Sums over points run in double where the device
 * has fp64, else in float over at most one work-group tile and then in a
 * fixed-order tree; the host adds the final per-group partials in double. */
#include "base/half.h"
#include "cluster/backend_opencl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl/ocl.h"

typedef struct tile_cfg { int tp, tc, tk, rp, rc; } tile_cfg;

typedef struct ocl_backend {
    bl_cluster_backend base;
    bl_ocl *o;
    cl_program prog;
    cl_kernel k_gather, k_gains, k_minupd, k_mincomb, k_dist, k_add, k_slots, k_reduce, k_value;
    cl_mem vt, nvc, nv0, slots, cand, ct, ncand, partials, dist, slotidx, out, pmin;
    size_t ldv, dpad;        /* padded points / dimensions                     */
    size_t mb, ldc;          /* candidates per device call, padded             */
    size_t partials_cap;     /* elements of acc in `partials`                  */
    size_t pmin_cap;         /* candidate tiles that fit `pmin`                */
    size_t rwg, value_groups;
    size_t real_size, acc_size, store_size;
    tile_cfg t;
    double scale;            /* distances on the device times scale = true     */
    int acc_double;
    int dist_dot;            /* BETLAB_OCL_DIST=dot: ||v||^2+||c||^2-2v.c form */
    size_t pref_multiple;
} ocl_backend;

#define CK(call, what)                                                       \
    do {                                                                     \
        cl_int ce_ = (call);                                                 \
        if (ce_ != CL_SUCCESS) return bl_ocl_error(err, ce_, what);          \
    } while (0)

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

static void release_all(ocl_backend *b)
{
    cl_kernel ks[] = { b->k_gather, b->k_gains, b->k_minupd, b->k_mincomb, b->k_dist,
                       b->k_add, b->k_slots, b->k_reduce, b->k_value };
    for (size_t i = 0; i < sizeof ks / sizeof *ks; ++i) if (ks[i]) clReleaseKernel(ks[i]);
    cl_mem ms[] = { b->vt, b->nvc, b->nv0, b->slots, b->cand, b->ct, b->ncand, b->partials,
                    b->dist, b->slotidx, b->out, b->pmin };
    for (size_t i = 0; i < sizeof ms / sizeof *ms; ++i) if (ms[i]) clReleaseMemObject(ms[i]);
    if (b->prog) clReleaseProgram(b->prog);
    bl_ocl_close(b->o);
}

static void ob_free(bl_cluster_backend *bb)
{
    ocl_backend *b = (ocl_backend *)bb;
    if (!b) return;
    release_all(b);
    free(b);
}

static int set_args(cl_kernel k, int n, const size_t *sizes, const void **vals, bl_error *err)
{
    for (int i = 0; i < n; ++i) {
        cl_int ce = clSetKernelArg(k, (cl_uint)i, sizes[i], vals[i]);
        if (ce != CL_SUCCESS) {
            char what[64];
            snprintf(what, sizeof what, "clSetKernelArg(%d)", i);
            return bl_ocl_error(err, ce, what);
        }
    }
    return 0;
}
/* Kernel argument helpers with explicit sizes. */
typedef struct { size_t size; const void *p; } karg;
static int kargs(cl_kernel k, const karg *a, int n, bl_error *err)
{
    size_t sizes[16];
    const void *vals[16];
    for (int i = 0; i < n; ++i) { sizes[i] = a[i].size; vals[i] = a[i].p; }
    return set_args(k, n, sizes, vals, err);
}
#define KM(x) { sizeof(cl_mem), &(x) }
#define KU(x) { sizeof(cl_uint), &(x) }
#define KL(x) { sizeof(cl_ulong), &(x) }
#define KN(arr) ((int)(sizeof(arr) / sizeof *(arr)))

static int launch(ocl_backend *b, cl_kernel k, cl_uint dims, const size_t *gs, const size_t *ls,
                  const char *what, bl_error *err)
{
    cl_int ce = clEnqueueNDRangeKernel(b->o->queue, k, dims, NULL, gs, ls, 0, NULL, NULL);
    if (ce != CL_SUCCESS) return bl_ocl_error(err, ce, what);
    return 0;
}

static int check_slot(ocl_backend *b, int slot, bl_error *err)
{
    if (slot < 0 || slot >= b->base.nslots)
        return bl_error_set(err, BL_EINVAL, "slot %d out of range (0..%d)", slot, b->base.nslots - 1);
    return 0;
}

static int check_elem(ocl_backend *b, uint32_t e, bl_error *err)
{
    if ((size_t)e >= b->base.n)
        return bl_error_set(err, BL_EINVAL, "row index %u out of range (n = %zu)", e, b->base.n);
    return 0;
}

static double acc_get(const ocl_backend *b, const void *buf, size_t i)
{
    return b->acc_double ? ((const double *)buf)[i] : (double)((const float *)buf)[i];
}

/* Upload candidates [0, m) (m <= mb) and gather their rows into CT. */
static int gather(ocl_backend *b, const uint32_t *cand, size_t m, size_t ldc, bl_error *err)
{
    CK(clEnqueueWriteBuffer(b->o->queue, b->cand, CL_TRUE, 0, m * sizeof(cl_uint), cand, 0, NULL, NULL),
       "uploading candidates");
    cl_uint ldv = (cl_uint)b->ldv, mm = (cl_uint)m, lc = (cl_uint)ldc;
    karg a[] = { KM(b->vt), KU(ldv), KM(b->cand), KU(mm), KU(lc), KM(b->ct), KM(b->nvc), KM(b->ncand) };
    int rc = kargs(b->k_gather, a, KN(a), err);
    if (rc) return rc;
    size_t gs[2] = { ldc, b->dpad };
    return launch(b, b->k_gather, 2, gs, NULL, "gather", err);
}

static int ob_gains(bl_cluster_backend *bb, int slot, const uint32_t *cand, size_t m, double *out,
                    bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    int rc = check_slot(b, slot, err);
    if (rc) return rc;
    for (size_t i = 0; i < m; ++i) if ((rc = check_elem(b, cand[i], err))) return rc;
    size_t ngp = b->ldv / (size_t)b->t.tp;
    void *host = malloc(b->mb * b->acc_size);
    if (!host) return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t off = 0; off < m; off += b->mb) {
        size_t cm = m - off < b->mb ? m - off : b->mb;
        size_t ldc = round_up(cm, (size_t)b->t.tc);
        if ((rc = gather(b, cand + off, cm, ldc, err))) break;
        cl_uint ldv = (cl_uint)b->ldv, dpad = (cl_uint)b->dpad, lc = (cl_uint)ldc, n = (cl_uint)b->base.n;
        cl_ulong moff = (cl_ulong)slot * b->ldv;
        karg a[] = { KM(b->vt), KU(ldv), KU(dpad), KM(b->ct), KU(lc), KM(b->nvc), KM(b->ncand),
                     KM(b->slots), KL(moff), KU(n), KM(b->partials) };
        if ((rc = kargs(b->k_gains, a, KN(a), err))) break;
        size_t ls[2] = { (size_t)(b->t.tc / b->t.rc), (size_t)(b->t.tp / b->t.rp) };
        size_t gs[2] = { ldc / (size_t)b->t.tc * ls[0], ngp * ls[1] };
        if ((rc = launch(b, b->k_gains, 2, gs, ls, "gains_tile", err))) break;
        cl_uint ng = (cl_uint)ngp;
        karg r[] = { KM(b->partials), KU(ng), KU(lc), KM(b->out) };
        if ((rc = kargs(b->k_reduce, r, KN(r), err))) break;
        size_t rgs = cm * b->rwg, rls = b->rwg;
        if ((rc = launch(b, b->k_reduce, 1, &rgs, &rls, "reduce_partials", err))) break;
        cl_int ce = clEnqueueReadBuffer(b->o->queue, b->out, CL_TRUE, 0, cm * b->acc_size, host, 0, NULL, NULL);
        if (ce != CL_SUCCESS) { rc = bl_ocl_error(err, ce, "reading gains"); break; }
        for (size_t i = 0; i < cm; ++i) out[off + i] = acc_get(b, host, i) * b->scale / (double)b->base.n;
    }
    free(host);
    if (!rc) b->base.evaluations += m;
    return rc;
}

static int dist_to_elem(ocl_backend *b, uint32_t elem, bl_error *err)
{
    cl_uint ldv = (cl_uint)b->ldv, d = (cl_uint)b->base.d, e = elem, n = (cl_uint)b->base.n;
    karg a[] = { KM(b->vt), KU(ldv), KU(d), KU(e), KU(n), KM(b->dist) };
    int rc = kargs(b->k_dist, a, KN(a), err);
    if (rc) return rc;
    size_t gs = b->ldv;
    return launch(b, b->k_dist, 1, &gs, NULL, "dist_one", err);
}

static int ob_gains_slots(bl_cluster_backend *bb, uint32_t elem, const int *slots, size_t ns,
                          double *out, bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    int rc = check_elem(b, elem, err);
    if (rc) return rc;
    if (ns == 0) return 0;
    for (size_t j = 0; j < ns; ++j) if ((rc = check_slot(b, slots[j], err))) return rc;
    if ((rc = dist_to_elem(b, elem, err))) return rc;
    size_t chunk = 16 * b->rwg;
    size_t ng = (b->base.n + chunk - 1) / chunk;
    /* slots per call bounded by the partials buffer */
    size_t per = b->partials_cap / ng;
    if (per > (size_t)b->base.nslots) per = (size_t)b->base.nslots;
    void *host = malloc(per * b->acc_size);
    if (!host) return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t off = 0; off < ns && !rc; off += per) {
        size_t cn = ns - off < per ? ns - off : per;
        cl_int ce = clEnqueueWriteBuffer(b->o->queue, b->slotidx, CL_TRUE, 0, cn * sizeof(cl_int),
                                         slots + off, 0, NULL, NULL);
        if (ce != CL_SUCCESS) { rc = bl_ocl_error(err, ce, "uploading slot list"); break; }
        cl_uint ldv = (cl_uint)b->ldv, nsu = (cl_uint)cn, n = (cl_uint)b->base.n, ch = (cl_uint)chunk;
        karg a[] = { KM(b->slots), KU(ldv), KM(b->slotidx), KU(nsu), KM(b->dist), KU(n), KU(ch),
                     KM(b->partials) };
        if ((rc = kargs(b->k_slots, a, KN(a), err))) break;
        size_t gs[2] = { ng * b->rwg, cn }, ls[2] = { b->rwg, 1 };
        if ((rc = launch(b, b->k_slots, 2, gs, ls, "slots_partial", err))) break;
        cl_uint ngu = (cl_uint)ng;
        karg r[] = { KM(b->partials), KU(ngu), KU(nsu), KM(b->out) };
        if ((rc = kargs(b->k_reduce, r, KN(r), err))) break;
        size_t rgs = cn * b->rwg, rls = b->rwg;
        if ((rc = launch(b, b->k_reduce, 1, &rgs, &rls, "reduce_partials", err))) break;
        ce = clEnqueueReadBuffer(b->o->queue, b->out, CL_TRUE, 0, cn * b->acc_size, host, 0, NULL, NULL);
        if (ce != CL_SUCCESS) { rc = bl_ocl_error(err, ce, "reading gains"); break; }
        for (size_t i = 0; i < cn; ++i) out[off + i] = acc_get(b, host, i) * b->scale / (double)b->base.n;
    }
    free(host);
    if (!rc) b->base.evaluations += ns;
    return rc;
}

static int ob_add(bl_cluster_backend *bb, int slot, uint32_t elem, bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    int rc = check_slot(b, slot, err);
    if (rc || (rc = check_elem(b, elem, err))) return rc;
    cl_uint ldv = (cl_uint)b->ldv, d = (cl_uint)b->base.d, e = elem, n = (cl_uint)b->base.n;
    cl_ulong moff = (cl_ulong)slot * b->ldv;
    karg a[] = { KM(b->vt), KU(ldv), KU(d), KU(e), KU(n), KM(b->slots), KL(moff) };
    if ((rc = kargs(b->k_add, a, KN(a), err))) return rc;
    size_t gs = b->ldv;
    return launch(b, b->k_add, 1, &gs, NULL, "add_one", err);
}

int bl_cluster_opencl_add_many(bl_cluster_backend *bb, int slot, const uint32_t *elems, size_t count,
                               bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    if (!b || b->base.ops->free != ob_free)
        return bl_error_set(err, BL_EINVAL, "add_many: not an OpenCL backend");
    int rc = check_slot(b, slot, err);
    if (rc) return rc;
    for (size_t i = 0; i < count; ++i) if ((rc = check_elem(b, elems[i], err))) return rc;
    size_t per = b->pmin_cap * (size_t)b->t.tc;
    if (per > b->mb) per = b->mb;
    for (size_t off = 0; off < count; off += per) {
        size_t cm = count - off < per ? count - off : per;
        size_t ldc = round_up(cm, (size_t)b->t.tc), nct = ldc / (size_t)b->t.tc;
        if ((rc = gather(b, elems + off, cm, ldc, err))) return rc;
        cl_uint ldv = (cl_uint)b->ldv, dpad = (cl_uint)b->dpad, lc = (cl_uint)ldc, mm = (cl_uint)cm;
        karg a[] = { KM(b->vt), KU(ldv), KU(dpad), KM(b->ct), KU(lc), KM(b->nvc), KM(b->ncand), KU(mm),
                     KM(b->pmin) };
        if ((rc = kargs(b->k_minupd, a, KN(a), err))) return rc;
        size_t ls[2] = { (size_t)(b->t.tc / b->t.rc), (size_t)(b->t.tp / b->t.rp) };
        size_t gs[2] = { nct * ls[0], b->ldv / (size_t)b->t.tp * ls[1] };
        if ((rc = launch(b, b->k_minupd, 2, gs, ls, "minupdate_tile", err))) return rc;
        cl_ulong moff = (cl_ulong)slot * b->ldv;
        cl_uint nc = (cl_uint)nct, n = (cl_uint)b->base.n;
        karg c[] = { KM(b->slots), KL(moff), KM(b->pmin), KU(nc), KU(ldv), KU(n) };
        if ((rc = kargs(b->k_mincomb, c, KN(c), err))) return rc;
        size_t cgs = b->ldv;
        if ((rc = launch(b, b->k_mincomb, 1, &cgs, NULL, "min_combine", err))) return rc;
    }
    return 0;
}

int bl_cluster_opencl_finish(bl_cluster_backend *bb, bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    CK(clFinish(b->o->queue), "clFinish");
    return 0;
}

static int ob_reset(bl_cluster_backend *bb, int slot, bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    int rc = check_slot(b, slot, err);
    if (rc) return rc;
    CK(clEnqueueCopyBuffer(b->o->queue, b->nv0, b->slots, 0, (size_t)slot * b->ldv * b->real_size,
                           b->ldv * b->real_size, 0, NULL, NULL), "resetting slot");
    return 0;
}

static int ob_value(bl_cluster_backend *bb, int slot, double *f, bl_error *err)
{
    ocl_backend *b = (ocl_backend *)bb;
    int rc = check_slot(b, slot, err);
    if (rc) return rc;
    size_t ng = b->value_groups;
    size_t chunk = (b->base.n + ng - 1) / ng;
    cl_uint n = (cl_uint)b->base.n, ch = (cl_uint)chunk;
    cl_ulong moff = (cl_ulong)slot * b->ldv;
    karg a[] = { KM(b->nv0), KM(b->slots), KL(moff), KU(n), KU(ch), KM(b->partials) };
    if ((rc = kargs(b->k_value, a, KN(a), err))) return rc;
    size_t gs = ng * b->rwg, ls = b->rwg;
    if ((rc = launch(b, b->k_value, 1, &gs, &ls, "value_partial", err))) return rc;
    void *host = malloc(ng * b->acc_size);
    if (!host) return bl_error_set(err, BL_ENOMEM, "out of memory");
    cl_int ce = clEnqueueReadBuffer(b->o->queue, b->partials, CL_TRUE, 0, ng * b->acc_size, host, 0, NULL, NULL);
    if (ce != CL_SUCCESS) { free(host); return bl_ocl_error(err, ce, "reading f"); }
    double s = 0;
    for (size_t i = 0; i < ng; ++i) s += acc_get(b, host, i);
    free(host);
    *f = s * b->scale / (double)b->base.n;
    return 0;
}

static const bl_cluster_ops opencl_ops = {
    .name = "opencl",
    .gains = ob_gains,
    .gains_slots = ob_gains_slots,
    .add = ob_add,
    .reset = ob_reset,
    .value = ob_value,
    .free = ob_free,
};

/* ---- construction --------------------------------------------------------- */

static int make_buf(ocl_backend *b, cl_mem *m, size_t size, const char *what, bl_error *err)
{
    if (size == 0) size = 64;
    if (size > b->o->info.max_alloc)
        return bl_error_set(err, BL_ERANGE, "%s: %zu bytes exceed the device's largest allocation (%llu) on %s",
                            what, size, (unsigned long long)b->o->info.max_alloc, b->o->info.name);
    cl_int ce;
    *m = clCreateBuffer(b->o->ctx, CL_MEM_READ_WRITE, size, NULL, &ce);
    if (!*m) {
        char w[128];
        snprintf(w, sizeof w, "allocating %s (%zu bytes)", what, size);
        return bl_ocl_error(err, ce, w);
    }
    return 0;
}

static int get_kernel(ocl_backend *b, cl_kernel *k, const char *name, bl_error *err)
{
    cl_int ce;
    *k = clCreateKernel(b->prog, name, &ce);
    if (!*k) {
        char w[96];
        snprintf(w, sizeof w, "clCreateKernel(%s)", name);
        return bl_ocl_error(err, ce, w);
    }
    return 0;
}

/* The tiling the settings ask to try first ("TP,TC,TK,RP,RC"). */
static int parse_tile_setting(const bl_settings *st, tile_cfg *t)
{
    const char *s = st ? st->ocl_tile : NULL;
    if (!s || !*s) return 0;
    tile_cfg c;
    if (sscanf(s, "%d,%d,%d,%d,%d", &c.tp, &c.tc, &c.tk, &c.rp, &c.rc) != 5) return 0;
    *t = c;
    return 1;
}

static int is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

static int tile_ok(const ocl_backend *b, const tile_cfg *t)
{
    if (t->rp % 4 || t->rc % 4 || t->tp % t->rp || t->tc % t->rc || t->tk < 1) return 0;
    if (!is_pow2(t->tp / t->rp) || !is_pow2(t->tc / t->rc)) return 0;
    size_t wg = (size_t)(t->tp / t->rp) * (size_t)(t->tc / t->rc);
    if (wg > b->o->info.max_wg) return 0;
    size_t lm = (size_t)t->tk * (size_t)(t->tp + t->tc) * b->real_size;
    size_t red1 = (size_t)(t->tp / t->rp) * (size_t)t->tc * b->acc_size;
    size_t red2 = (size_t)(t->tc / t->rc) * (size_t)t->tp * b->real_size;
    return lm + (red1 > red2 ? red1 : red2) + 256 <= b->o->info.local_mem;
}

static int build(ocl_backend *b, bl_precision prec, const tile_cfg *t, int no_unroll, bl_error *err)
{
    char opts[512];
    snprintf(opts, sizeof opts, "-D%s %s %s -DTP=%d -DTC=%d -DTK=%d -DRP=%d -DRC=%d -DRWG=%zu%s",
             prec == BL_PREC_FP16 ? "STORE_HALF" : prec == BL_PREC_FP32 ? "STORE_FLOAT" : "STORE_DOUBLE",
             prec == BL_PREC_FP64 ? "-DREAL_DOUBLE" : "", b->acc_double ? "-DACC_DOUBLE" : "", t->tp, t->tc,
             t->tk, t->rp, t->rc, b->rwg, no_unroll ? " -DBL_NO_UNROLL" : "");
    if (b->dist_dot) strcat(opts, " -DDIST_DOT");
    return bl_ocl_build(b->o, "exemplar.cl", opts, &b->prog, NULL, err);
}

int bl_cluster_opencl_new(const char *device, const bl_cluster_data *data, bl_precision prec, int nslots,
                          const bl_settings *settings, bl_cluster_backend **out, bl_error *err)
{
    *out = NULL;
    if (!data || !data->x || data->n == 0 || data->d == 0)
        return bl_error_set(err, BL_EINVAL, "exemplar clustering: empty data");
    if (nslots < 1) return bl_error_set(err, BL_EINVAL, "nslots must be >= 1 (got %d)", nslots);
    if (prec != BL_PREC_FP64 && prec != BL_PREC_FP32 && prec != BL_PREC_FP16)
        return bl_error_set(err, BL_EINVAL, "unknown precision %d", (int)prec);
    if (data->n >= (size_t)1 << 31 || data->d >= (size_t)1 << 24)
        return bl_error_set(err, BL_ERANGE, "data too large for the OpenCL backend (n = %zu, d = %zu)",
                            data->n, data->d);
    for (size_t i = 0; i < data->n * data->d; ++i)
        if (!isfinite(data->x[i]))
            return bl_error_set(err, BL_EINVAL, "data: non-finite value at row %zu, column %zu",
                                i / data->d, i % data->d);
    ocl_backend *b = calloc(1, sizeof *b);
    if (!b) return bl_error_set(err, BL_ENOMEM, "out of memory");
    b->base.ops = &opencl_ops;
    b->base.n = data->n;
    b->base.d = data->d;
    b->base.nslots = nslots;
    b->base.precision = prec;
    int rc = bl_ocl_open(device ? device : "opencl", settings, &b->o, err);
    if (rc) { free(b); return rc; }
    const bl_ocl_device_info *di = &b->o->info;
    snprintf(b->base.device, sizeof b->base.device, "%s (opencl:%d:%d)", di->name, di->platform, di->index);
    if (prec == BL_PREC_FP64 && !di->fp64) {
        rc = bl_error_set(err, BL_EUNSUPPORTED, "%s has no fp64 support (cl_khr_fp64); use fp32 or fp16",
                          di->name);
        goto fail;
    }
    b->acc_double = di->fp64;
    b->real_size = prec == BL_PREC_FP64 ? 8 : 4;
    b->acc_size = b->acc_double ? 8 : 4;
    b->store_size = prec == BL_PREC_FP64 ? 8 : prec == BL_PREC_FP32 ? 4 : 2;
    b->dist_dot = settings && settings->ocl_dist_dot;
    b->rwg = 1;
    while (b->rwg * 2 <= di->max_wg && b->rwg < 256) b->rwg *= 2;

    /* tiling: the largest configuration the device takes (work-group size,
     * local memory, and the compiled kernel's own limit) */
    tile_cfg cfgs[] = {
        { 128, 128, 16, 8, 8 }, { 64, 64, 16, 4, 4 }, { 32, 32, 8, 4, 4 }, { 16, 16, 8, 4, 4 }, { 8, 8, 4, 4, 4 },
    };
    size_t ncfg = sizeof cfgs / sizeof *cfgs, first = 0;
    if (prec == BL_PREC_FP64 || di->type == CL_DEVICE_TYPE_CPU) first = 1;
    tile_cfg env;
    int have_env = parse_tile_setting(settings, &env);
    int built = 0;
    for (size_t ci = have_env ? 0 : first; ci < ncfg + (size_t)have_env && !built; ++ci) {
        tile_cfg t = have_env ? (ci == 0 ? env : cfgs[ci - 1]) : cfgs[ci];
        if (!tile_ok(b, &t)) continue;
        bl_error e2 = { 0 };
        rc = build(b, prec, &t, 0, &e2);
        if (rc) rc = build(b, prec, &t, 1, err);  /* compilers without #pragma unroll */
        if (rc) goto fail;
        size_t kwg = 0, wg = (size_t)(t.tp / t.rp) * (size_t)(t.tc / t.rc);
        cl_kernel k = clCreateKernel(b->prog, "gains_tile", NULL);
        if (k) {
            clGetKernelWorkGroupInfo(k, di->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
            clGetKernelWorkGroupInfo(k, di->id, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                     sizeof b->pref_multiple, &b->pref_multiple, NULL);
            clReleaseKernel(k);
        }
        if (k && kwg >= wg) {
            b->t = t;
            built = 1;
        } else {
            clReleaseProgram(b->prog);
            b->prog = NULL;
        }
    }
    if (!built) {
        rc = bl_error_set(err, BL_EUNSUPPORTED, "%s: no gains tiling fits (work-group %zu, local memory %llu)",
                          di->name, di->max_wg, (unsigned long long)di->local_mem);
        goto fail;
    }
    if ((rc = get_kernel(b, &b->k_gather, "gather", err)) || (rc = get_kernel(b, &b->k_gains, "gains_tile", err)) ||
        (rc = get_kernel(b, &b->k_minupd, "minupdate_tile", err)) ||
        (rc = get_kernel(b, &b->k_mincomb, "min_combine", err)) || (rc = get_kernel(b, &b->k_dist, "dist_one", err)) ||
        (rc = get_kernel(b, &b->k_add, "add_one", err)) || (rc = get_kernel(b, &b->k_slots, "slots_partial", err)) ||
        (rc = get_kernel(b, &b->k_reduce, "reduce_partials", err)) ||
        (rc = get_kernel(b, &b->k_value, "value_partial", err)))
        goto fail;

    size_t n = data->n, d = data->d;
    b->ldv = round_up(n, (size_t)b->t.tp);
    b->dpad = round_up(d, (size_t)b->t.tk);
    size_t ngp = b->ldv / (size_t)b->t.tp;

    /* batch: <= 4096 candidates, CT within the largest allocation, partials <= 256 MB */
    size_t part_bytes = (size_t)256 << 20;
    if (part_bytes > di->max_alloc / 2) part_bytes = di->max_alloc / 2;
    size_t mb = 4096;
    while (mb > (size_t)b->t.tc && (ngp * mb * b->acc_size > part_bytes || b->dpad * mb * b->real_size > di->max_alloc / 2))
        mb /= 2;
    mb = mb / (size_t)b->t.tc * (size_t)b->t.tc;
    if (mb == 0) mb = (size_t)b->t.tc;
    if (settings && settings->ocl_batch > 0) mb = settings->ocl_batch;
    b->mb = mb;
    b->ldc = round_up(mb, (size_t)b->t.tc);
    b->value_groups = 64;
    size_t chunk_ns = (n + 16 * b->rwg - 1) / (16 * b->rwg);
    size_t pc = ngp * b->ldc;
    if (pc < chunk_ns * (size_t)nslots) pc = chunk_ns * (size_t)nslots;
    if (pc < chunk_ns) pc = chunk_ns;
    if (pc < b->value_groups) pc = b->value_groups;
    b->partials_cap = pc;
    /* pmin for add_many: candidate tiles x ldv reals, <= 64 MB */
    size_t pm = ((size_t)64 << 20) / (b->ldv * b->real_size);
    if (pm < 1) pm = 1;
    if (pm > b->ldc / (size_t)b->t.tc) pm = b->ldc / (size_t)b->t.tc;
    b->pmin_cap = pm;

    /* host-side conversion: centre, scale (fp16), transpose, pad */
    double *mean = calloc(d, sizeof *mean);
    double *nv0h = calloc(n, sizeof *nv0h), *nvch = calloc(n, sizeof *nvch);
    size_t vt_bytes = b->dpad * b->ldv * b->store_size;
    void *vth = calloc(1, vt_bytes);
    void *nvc_buf = calloc(b->ldv, b->real_size), *nv0_buf = calloc(b->ldv, b->real_size);
    if (!mean || !nv0h || !nvch || !vth || !nvc_buf || !nv0_buf) {
        free(mean); free(nv0h); free(nvch); free(vth); free(nvc_buf); free(nv0_buf);
        rc = bl_error_set(err, BL_ENOMEM, "out of memory converting %zu x %zu data", n, d);
        goto fail;
    }
    for (size_t i = 0; i < n; ++i)
        for (size_t k = 0; k < d; ++k) mean[k] += data->x[i * d + k];
    for (size_t k = 0; k < d; ++k) mean[k] /= (double)n;
    double amax = 0;
    for (size_t i = 0; i < n; ++i) {
        double s = 0;
        for (size_t k = 0; k < d; ++k) {
            double x = data->x[i * d + k];
            s += x * x;
            double c = fabs(x - mean[k]);
            if (c > amax) amax = c;
        }
        nv0h[i] = s;
    }
    double s = 1;  /* data scale: stored = (x - mean) / s */
    if (prec == BL_PREC_FP16 && amax > 0) {
        int ex;
        frexp(amax, &ex);          /* amax in [2^(ex-1), 2^ex) */
        s = ldexp(1.0, ex - 7);    /* amax / s in [64, 128) */
    }
    b->scale = s * s;
    for (size_t i = 0; i < n; ++i) {
        double nrm = 0;
        for (size_t k = 0; k < d; ++k) {
            double c = (data->x[i * d + k] - mean[k]) / s, q;
            size_t at = k * b->ldv + i;
            if (prec == BL_PREC_FP16) {
                uint16_t h = bl_float_to_half((float)c);
                ((uint16_t *)vth)[at] = h;
                q = (double)bl_half_to_float(h);
            } else if (prec == BL_PREC_FP32) {
                float f = (float)c;
                ((float *)vth)[at] = f;
                q = f;
            } else {
                ((double *)vth)[at] = c;
                q = c;
            }
            nrm += q * q;
        }
        if (prec == BL_PREC_FP64) {
            ((double *)nvc_buf)[i] = nrm;
            ((double *)nv0_buf)[i] = nv0h[i] / b->scale;
        } else {
            ((float *)nvc_buf)[i] = (float)nrm;
            ((float *)nv0_buf)[i] = (float)(nv0h[i] / b->scale);
        }
    }
    free(mean); free(nv0h); free(nvch);
    if (!(rc = make_buf(b, &b->vt, vt_bytes, "V", err)) &&
        !(rc = make_buf(b, &b->nvc, b->ldv * b->real_size, "norms", err)) &&
        !(rc = make_buf(b, &b->nv0, b->ldv * b->real_size, "norms", err)) &&
        !(rc = make_buf(b, &b->slots, (size_t)nslots * b->ldv * b->real_size, "minima slots", err)) &&
        !(rc = make_buf(b, &b->cand, b->ldc * sizeof(cl_uint), "candidates", err)) &&
        !(rc = make_buf(b, &b->ct, b->dpad * b->ldc * b->real_size, "candidate rows", err)) &&
        !(rc = make_buf(b, &b->ncand, b->ldc * b->real_size, "candidate norms", err)) &&
        !(rc = make_buf(b, &b->partials, b->partials_cap * b->acc_size, "partial sums", err)) &&
        !(rc = make_buf(b, &b->dist, b->ldv * b->real_size, "distances", err)) &&
        !(rc = make_buf(b, &b->slotidx, (size_t)nslots * sizeof(cl_int), "slot list", err)) &&
        !(rc = make_buf(b, &b->out, (b->ldc > (size_t)nslots ? b->ldc : (size_t)nslots) * b->acc_size, "gains", err)) &&
        !(rc = make_buf(b, &b->pmin, b->pmin_cap * b->ldv * b->real_size, "minima partials", err))) {
        cl_int ce = clEnqueueWriteBuffer(b->o->queue, b->vt, CL_TRUE, 0, vt_bytes, vth, 0, NULL, NULL);
        if (ce == CL_SUCCESS)
            ce = clEnqueueWriteBuffer(b->o->queue, b->nvc, CL_TRUE, 0, b->ldv * b->real_size, nvc_buf, 0, NULL, NULL);
        if (ce == CL_SUCCESS)
            ce = clEnqueueWriteBuffer(b->o->queue, b->nv0, CL_TRUE, 0, b->ldv * b->real_size, nv0_buf, 0, NULL, NULL);
        if (ce != CL_SUCCESS) rc = bl_ocl_error(err, ce, "uploading V");
    }
    free(vth); free(nvc_buf); free(nv0_buf);
    if (rc) goto fail;
    for (int sl = 0; sl < nslots; ++sl)
        if ((rc = ob_reset(&b->base, sl, err))) goto fail;
    if ((rc = bl_cluster_opencl_finish(&b->base, err))) goto fail;
    *out = &b->base;
    return 0;
fail:
    release_all(b);
    free(b);
    return rc;
}

int bl_cluster_opencl_info(const bl_cluster_backend *bb, char *buf, size_t size)
{
    const ocl_backend *b = (const ocl_backend *)bb;
    if (!b || b->base.ops != &opencl_ops) return BL_EINVAL;
    snprintf(buf, size, "%s; tile %dx%d points x candidates, k-step %d, %dx%d per work-item; "
             "batch %zu; acc %s; distances %s; preferred wg multiple %zu",
             b->o->info.name, b->t.tp, b->t.tc, b->t.tk, b->t.rp, b->t.rc, b->mb,
             b->acc_double ? "double" : "float", b->dist_dot ? "dot (norm expansion)" : "direct", b->pref_multiple);
    return 0;
}
