/* reference.c - the plain double-precision reference backend: loops
 * straight from the definition (DESIGN.md "Exemplar clustering"),
 * ||v - c||^2 computed directly, no SIMD, no threads.  The oracle every
 * other backend is tested against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"

typedef struct ref_be {
    bl_cluster_backend base;
    double *x;     /* n x d */
    double *norm;  /* ||v||^2 */
    double *m;     /* nslots x n */
} ref_be;

static double sqdist(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

static int check_slot(const bl_cluster_backend *b, int slot, bl_error *err)
{
    if (slot < 0 || slot >= b->nslots)
        return bl_error_set(err, BL_EINVAL, "cluster: slot %d out of range (0..%d)", slot,
                            b->nslots - 1);
    return 0;
}

static int check_elem(const bl_cluster_backend *b, uint32_t e, bl_error *err)
{
    if (e >= b->n)
        return bl_error_set(err, BL_EINVAL, "cluster: element %u out of range (n = %zu)", e, b->n);
    return 0;
}

static int ref_gains(bl_cluster_backend *base, int slot, const uint32_t *cand, size_t m,
                     double *out, bl_error *err)
{
    ref_be *b = (ref_be *)base;
    size_t n = base->n, d = base->d;
    int rc = check_slot(base, slot, err);
    for (size_t i = 0; !rc && i < m; i++)
        rc = check_elem(base, cand[i], err);
    if (rc)
        return rc;
    const double *mm = b->m + (size_t)slot * n;
    for (size_t i = 0; i < m; i++) {
        const double *c = b->x + (size_t)cand[i] * d;
        double s = 0;
        for (size_t v = 0; v < n; v++) {
            double g = mm[v] - sqdist(b->x + v * d, c, d);
            if (g > 0)
                s += g;
        }
        out[i] = s / (double)n;
    }
    base->evaluations += m;
    return 0;
}

static int ref_gains_slots(bl_cluster_backend *base, uint32_t elem, const int *slots,
                           size_t nslots, double *out, bl_error *err)
{
    ref_be *b = (ref_be *)base;
    size_t n = base->n, d = base->d;
    int rc = check_elem(base, elem, err);
    for (size_t s = 0; !rc && s < nslots; s++)
        rc = check_slot(base, slots[s], err);
    if (rc)
        return rc;
    const double *c = b->x + (size_t)elem * d;
    for (size_t s = 0; s < nslots; s++) {
        const double *mm = b->m + (size_t)slots[s] * n;
        double acc = 0;
        for (size_t v = 0; v < n; v++) {
            double g = mm[v] - sqdist(b->x + v * d, c, d);
            if (g > 0)
                acc += g;
        }
        out[s] = acc / (double)n;
    }
    base->evaluations += nslots;
    return 0;
}

static int ref_add(bl_cluster_backend *base, int slot, uint32_t elem, bl_error *err)
{
    ref_be *b = (ref_be *)base;
    size_t n = base->n, d = base->d;
    int rc = check_slot(base, slot, err);
    if (!rc)
        rc = check_elem(base, elem, err);
    if (rc)
        return rc;
    double *mm = b->m + (size_t)slot * n;
    const double *c = b->x + (size_t)elem * d;
    for (size_t v = 0; v < n; v++) {
        double t = sqdist(b->x + v * d, c, d);
        if (t < mm[v])
            mm[v] = t;
    }
    return 0;
}

static int ref_reset(bl_cluster_backend *base, int slot, bl_error *err)
{
    ref_be *b = (ref_be *)base;
    int rc = check_slot(base, slot, err);
    if (!rc)
        memcpy(b->m + (size_t)slot * base->n, b->norm, base->n * sizeof(double));
    return rc;
}

static int ref_value(bl_cluster_backend *base, int slot, double *f, bl_error *err)
{
    ref_be *b = (ref_be *)base;
    int rc = check_slot(base, slot, err);
    if (rc)
        return rc;
    const double *mm = b->m + (size_t)slot * base->n;
    double s = 0;
    for (size_t v = 0; v < base->n; v++)
        s += b->norm[v] - mm[v];
    *f = s / (double)base->n;
    return 0;
}

static void ref_free(bl_cluster_backend *base)
{
    ref_be *b = (ref_be *)base;
    if (!b)
        return;
    free(b->x);
    free(b->norm);
    free(b->m);
    free(b);
}

static const bl_cluster_ops ref_ops = { "reference", ref_gains, ref_gains_slots, ref_add,
                                        ref_reset,  ref_value, ref_free };

int bl_cluster_reference_new(const bl_cluster_data *data, int nslots, bl_cluster_backend **out,
                             bl_error *err);

int bl_cluster_reference_new(const bl_cluster_data *data, int nslots, bl_cluster_backend **out,
                             bl_error *err)
{
    *out = NULL;
    size_t n = data->n, d = data->d;
    ref_be *b = calloc(1, sizeof *b);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    b->base.ops = &ref_ops;
    b->base.n = n;
    b->base.d = d;
    b->base.nslots = nslots;
    b->base.precision = BL_PREC_FP64;
    snprintf(b->base.device, sizeof b->base.device, "reference (plain double loops)");
    b->x = malloc(n * d * sizeof(double));
    b->norm = malloc(n * sizeof(double));
    b->m = malloc(n * (size_t)nslots * sizeof(double));
    if (!b->x || !b->norm || !b->m) {
        ref_free(&b->base);
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory for %zu x %zu points", n, d);
    }
    memcpy(b->x, data->x, n * d * sizeof(double));
    for (size_t v = 0; v < n; v++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += b->x[v * d + j] * b->x[v * d + j];
        b->norm[v] = s;
    }
    for (int s = 0; s < nslots; s++)
        memcpy(b->m + (size_t)s * n, b->norm, n * sizeof(double));
    *out = &b->base;
    return 0;
}
