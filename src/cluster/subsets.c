/* subsets.c - dataset features for clustering, nearest-exemplar weights and
 * representative test subsets (k exemplars weighted by cluster size) of a
 * test set, in pixel space or in a layer's activation space. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/pool.h"
#include "bnn/engine.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"

int bl_cluster_features(const bl_dataset *ds, size_t limit, double **x, size_t *n, size_t *d,
                        bl_error *err)
{
    *x = NULL;
    size_t cnt = bl_dataset_count(ds), f = bl_dataset_features(ds), nd;
    if (limit && limit < cnt)
        cnt = limit;
    if (cnt == 0 || f == 0)
        return bl_error_set(err, BL_EINVAL, "cluster: empty data (%zu rows of %zu values)", cnt, f);
    int rc = bl_cluster_size_check(cnt, f, err);   /* before the n x d allocation */
    if (rc)
        return rc;
    if (!bl_size_mul(cnt, f, &nd) || !bl_size_mul(nd, sizeof(double), &nd))
        return bl_error_set(err, BL_ERANGE, "cluster: %zu x %zu values is too large", cnt, f);
    double *v = malloc(nd);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory for %zu x %zu values", cnt, f);
    bl_dtype t = bl_dataset_dtype(ds);
    for (size_t i = 0; i < cnt; i++) {
        const void *row = bl_dataset_row(ds, i);
        double *o = v + i * f;
        for (size_t j = 0; j < f; j++) {
            switch (t) {
            case BL_DT_U8: o[j] = ((const uint8_t *)row)[j] / 255.0; break;
            case BL_DT_BOOL: o[j] = ((const uint8_t *)row)[j] ? 1.0 : 0.0; break;
            case BL_DT_I32: o[j] = ((const int32_t *)row)[j]; break;
            case BL_DT_I64: o[j] = (double)((const int64_t *)row)[j]; break;
            case BL_DT_F32: o[j] = ((const float *)row)[j]; break;
            default: o[j] = ((const double *)row)[j]; break;
            }
        }
    }
    *x = v;
    *n = cnt;
    *d = f;
    return 0;
}

typedef struct assign_job {
    const bl_cluster_data *data;
    const uint32_t *ex;
    size_t k;
    uint32_t *owner;
} assign_job;

#define ASSIGN_ROWS 64

static void assign_task(void *ctx, size_t task, int w)
{
    (void)w;
    assign_job *a = ctx;
    size_t d = a->data->d, i1 = (task + 1) * ASSIGN_ROWS;
    if (i1 > a->data->n)
        i1 = a->data->n;
    for (size_t i = task * ASSIGN_ROWS; i < i1; i++) {
        const double *v = a->data->x + i * d;
        double best = INFINITY;
        uint32_t arg = 0;
        for (size_t e = 0; e < a->k; e++) {
            const double *c = a->data->x + (size_t)a->ex[e] * d;
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double t = v[j] - c[j];
                s += t * t;
            }
            if (s < best) {
                best = s;
                arg = (uint32_t)e;
            }
        }
        a->owner[i] = arg;
    }
}

int bl_cluster_assign(const bl_cluster_data *data, const uint32_t *ex, size_t k,
                      uint32_t *weights, bl_error *err)
{
    if (!k)
        return bl_error_set(err, BL_EINVAL, "cluster: no exemplars to assign to");
    for (size_t e = 0; e < k; e++)
        if (ex[e] >= data->n)
            return bl_error_set(err, BL_EINVAL, "cluster: exemplar %u out of range", ex[e]);
    uint32_t *owner = malloc(data->n * sizeof *owner);
    if (!owner)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    bl_pool *pool = bl_pool_new(0);
    assign_job a = { data, ex, k, owner };
    bl_pool_run(pool, (data->n + ASSIGN_ROWS - 1) / ASSIGN_ROWS, assign_task, &a);
    bl_pool_free(pool);
    memset(weights, 0, k * sizeof *weights);
    for (size_t i = 0; i < data->n; i++)
        weights[owner[i]]++;
    free(owner);
    return 0;
}

void bl_subset_result_free(bl_subset_result *res)
{
    if (!res)
        return;
    free(res->exemplars);
    free(res->weights);
    memset(res, 0, sizeof *res);
}

/* Layer by index or name; must have pre-activations. */
static int find_layer(const bl_model *m, const char *s, bl_error *err)
{
    int idx = -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        idx = (int)v;
    else
        for (uint32_t i = 0; i < m->nlayers; i++)
            if (!strcasecmp(m->layers[i].name, s))
                idx = (int)i;
    if (idx < 0 || idx >= (int)m->nlayers)
        return bl_error_set(err, BL_ENOTFOUND, "subset: no layer '%s' (pixels, an index 0..%u or "
                            "a layer name)", s, m->nlayers - 1);
    bl_layer_kind k = m->layers[idx].kind;
    if (k != BL_LAYER_DENSE && k != BL_LAYER_CONV3 && k != BL_LAYER_MAXPOOL2)
        return bl_error_set(err, BL_EINVAL, "subset: layer %d (%s) has no pre-activations "
                            "(dense, conv or pool layers only)", idx, m->layers[idx].name);
    return idx;
}

int bl_subset_choose(const bl_model *m, const bl_dataset *ds, const bl_subset_opts *o,
                     bl_subset_result *res, bl_error *err)
{
    memset(res, 0, sizeof *res);
    bl_engine *eng = NULL;
    bl_inputs *in = NULL;
    bl_dataset *view = NULL;
    bl_cluster_backend *b = NULL;
    double *x = NULL;
    int32_t *pred = NULL, *pre = NULL;
    bl_cluster_result cr = { 0 };
    size_t n = 0, d = 0;
    const char *space = o->space && *o->space ? o->space : "pixels";
    int rc = 0;
    if (!bl_dataset_has_labels(ds))
        return bl_error_set(err, BL_EINVAL, "subset: the data has no labels");
    rc = bl_dataset_subset(ds, 0, o->limit && o->limit < bl_dataset_count(ds)
                                      ? o->limit : bl_dataset_count(ds), &view, err);
    if (!rc)
        rc = bl_engine_new(m, &(bl_engine_opts){ .threads = o->threads, .simd = -1 }, &eng, err);
    if (!rc)
        rc = bl_inputs_prepare(m, view, 0, &in, err);
    if (rc)
        goto out;
    n = bl_inputs_count(in);
    if (o->k == 0 || o->k > n) {
        rc = bl_error_set(err, BL_EINVAL, "subset: k = %zu must be in 1..%zu", o->k, n);
        goto out;
    }
    if (!strcasecmp(space, "pixels")) {
        if ((rc = bl_cluster_features(view, 0, &x, &n, &d, err)))
            goto out;
    } else {
        int layer = find_layer(m, space, err);
        if (layer < 0) {
            rc = layer;
            goto out;
        }
        d = bl_shape_size(m->layers[layer].out);
        pre = malloc(n * d * sizeof *pre);
        x = malloc(n * d * sizeof *x);
        if (!pre || !x) {
            rc = bl_error_set(err, BL_ENOMEM, "subset: out of memory");
            goto out;
        }
        if ((rc = bl_engine_preacts(eng, m, in, layer, pre, err)))
            goto out;
        for (size_t i = 0; i < n * d; i++)
            x[i] = o->sign ? (pre[i] >= 0 ? 1.0 : -1.0) : (double)pre[i];
    }
    bl_cluster_data data = { n, d, x };
    bl_cluster_opts co = { .k = o->k, .optimizer = o->optimizer, .seed = o->seed };
    if ((rc = bl_cluster_backend_new(o->device ? o->device : "cpu", &data, o->precision,
                                     bl_cluster_slots_needed(&co), o->threads, o->settings, &b,
                                     err)))
        goto out;
    if ((rc = bl_cluster_run(b, &co, &cr, err)))
        goto out;
    res->n = n;
    res->k = cr.k;
    res->f = cr.f;
    res->seconds = cr.seconds;
    res->exemplars = malloc(cr.k * sizeof *res->exemplars);
    res->weights = malloc(cr.k * sizeof *res->weights);
    pred = malloc(n * sizeof *pred);
    if (!res->exemplars || !res->weights || !pred) {
        rc = bl_error_set(err, BL_ENOMEM, "subset: out of memory");
        goto out;
    }
    memcpy(res->exemplars, cr.exemplars, cr.k * sizeof *res->exemplars);
    if ((rc = bl_cluster_assign(&data, res->exemplars, res->k, res->weights, err)))
        goto out;
    if ((rc = bl_engine_predict(eng, m, in, pred, err)))
        goto out;
    const int32_t *lab = bl_inputs_labels(in);
    size_t correct = 0;
    double wc = 0;
    for (size_t i = 0; i < n; i++)
        correct += pred[i] == lab[i];
    for (size_t e = 0; e < res->k; e++)
        if (pred[res->exemplars[e]] == lab[res->exemplars[e]])
            wc += res->weights[e];
    res->full_accuracy = (double)correct / (double)n;
    res->weighted_accuracy = wc / (double)n;
out:
    if (rc)
        bl_subset_result_free(res);
    bl_cluster_result_free(&cr);
    bl_cluster_backend_free(b);
    free(pred);
    free(pre);
    free(x);
    bl_inputs_free(in);
    bl_engine_free(eng);
    bl_dataset_free(view);
    return rc;
}
