/* import_npz.c - build a betlab model from float weights and batch-norm
 * parameters saved with numpy.savez (PyTorch or Larq/Keras).
 *
 * Array names and conventions are documented in betlab-format(5), section
 * IMPORT.  In short, for an architecture spec (bl_model_from_spec):
 *
 *   <layer>.weight        every weight layer, betlab's names: conv1, conv2,
 *                         ..., fc1, fc2, ... (convs and dense layers are
 *                         numbered separately).  Dense [out, in] (PyTorch)
 *                         or [in, out] (Keras); conv [out, in, 3, 3]
 *                         (PyTorch OIHW) or [3, 3, in, out] (Keras HWIO).
 *   <layer>.bias          optional, folded into the following threshold
 *                         (or into the output affine for the last layer).
 *   bnK.running_mean, bnK.running_var   required per BN+sign layer;
 *   bnK.weight (gamma, default 1), bnK.bias (beta, default 0),
 *   bnK.eps (default 1e-5)              optional.
 *   out.*                 optional batch norm (or plain affine) after the
 *                         last layer -> out_scale / out_bias.
 *   input.scale, input.zero             input code encoding (1/255, 0).
 *   layout                0 = PyTorch, 1 = Keras/Larq (else from shapes).
 *   flatten_chw           1: the float model flattened C,H,W (PyTorch's
 *                         default), 0: H,W,C (Keras).  Default by layout.
 *   bn_before_pool        1 (default): batch norm came before the max-pool
 *                         in the float model; 0: conv -> pool -> BN.
 *
 * Thresholds: output +1 iff f(a) >= 0 with f evaluated in IEEE double as
 * gamma * ((u*a + bias) - mean) / sqrt(var + eps) + beta, u the input
 * scale for the real-input layer, else 1.  tau is the exact integer
 * boundary of that predicate (the predicate is monotone in a). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "bnn/model.h"
#include "data/npy.h"

enum { LAYOUT_TORCH = 0, LAYOUT_KERAS = 1, LAYOUT_UNKNOWN = -1 };

typedef struct {
    const char *path;
    bl_npz *z;
    size_t n;
    char *used;   /* per archive member */
} ictx;

static int member(const ictx *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(bl_npz_name(c->z, i), name) == 0)
            return (int)i;
    return -1;
}

static void shape_text(const bl_array *a, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < a->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%zu", d ? ", " : "", a->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* Fetch an array: 0 = got it, 1 = absent (when optional), <0 = error. */
static int get_raw(ictx *c, const char *name, int required, bl_array *a, bl_error *err)
{
    memset(a, 0, sizeof *a);
    int i = member(c, name);
    if (i < 0) {
        if (!required)
            return 1;
        return bl_error_set(err, BL_ENOTFOUND, "%s: required array '%s' is missing", c->path,
                            name);
    }
    c->used[i] = 1;
    return bl_npz_get(c->z, name, a, err);
}

static int is_float(const bl_array *a) { return a->dtype == BL_DT_F32 || a->dtype == BL_DT_F64; }

static double elem(const bl_array *a, size_t i)
{
    switch (a->dtype) {
    case BL_DT_F32: return ((const float *)a->data)[i];
    case BL_DT_F64: return ((const double *)a->data)[i];
    case BL_DT_U8: return ((const uint8_t *)a->data)[i];
    case BL_DT_BOOL: return ((const uint8_t *)a->data)[i] != 0;
    case BL_DT_I32: return ((const int32_t *)a->data)[i];
    case BL_DT_I64: return (double)((const int64_t *)a->data)[i];
    }
    return NAN;
}

/* Float array -> doubles, all finite. */
static int to_doubles(const ictx *c, const char *name, const bl_array *a, double **out,
                      bl_error *err)
{
    *out = NULL;
    if (!is_float(a))
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: array '%s' has dtype %s, expected float32 or float64", c->path,
                            name, bl_dtype_name(a->dtype));
    double *d = malloc((a->count ? a->count : 1) * sizeof *d);
    if (!d)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory reading '%s'", c->path, name);
    for (size_t i = 0; i < a->count; i++) {
        d[i] = elem(a, i);
        if (!isfinite(d[i])) {
            free(d);
            return bl_error_set(err, BL_EFORMAT, "%s: array '%s' element %zu is %g (not finite)",
                                c->path, name, i, elem(a, i));
        }
    }
    *out = d;
    return 0;
}

/* A float vector of exactly n entries; *out NULL when optional and absent. */
static int get_vec(ictx *c, const char *name, int required, size_t n, double **out,
                   bl_error *err)
{
    *out = NULL;
    bl_array a;
    int rc = get_raw(c, name, required, &a, err);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (a.ndim != 1 || a.shape[0] != n) {
        char sh[128];
        shape_text(&a, sh, sizeof sh);
        bl_array_free(&a);
        return bl_error_set(err, BL_EFORMAT, "%s: array '%s' has shape %s, expected [%zu]",
                            c->path, name, sh, n);
    }
    rc = to_doubles(c, name, &a, out, err);
    bl_array_free(&a);
    return rc;
}

/* A scalar (shape [] or [1]); *present 0 when absent.  any_dtype allows
 * integer and boolean flags. */
static int get_scalar(ictx *c, const char *name, int any_dtype, double *v, int *present,
                      bl_error *err)
{
    *present = 0;
    bl_array a;
    int rc = get_raw(c, name, 0, &a, err);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (a.count != 1 || a.ndim > 1) {
        char sh[128];
        shape_text(&a, sh, sizeof sh);
        bl_array_free(&a);
        return bl_error_set(err, BL_EFORMAT, "%s: array '%s' has shape %s, expected a scalar",
                            c->path, name, sh);
    }
    if (!any_dtype && !is_float(&a)) {
        bl_array_free(&a);
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: array '%s' has dtype %s, expected float32 or float64", c->path,
                            name, bl_dtype_name(a.dtype));
    }
    *v = elem(&a, 0);
    bl_array_free(&a);
    if (!isfinite(*v))
        return bl_error_set(err, BL_EFORMAT, "%s: array '%s' is %g (not finite)", c->path, name,
                            *v);
    *present = 1;
    return 0;
}

static int get_flag(ictx *c, const char *name, int *v, bl_error *err)
{
    double d;
    int present;
    int rc = get_scalar(c, name, 1, &d, &present, err);
    if (rc)
        return rc;
    if (!present)
        return 0;
    if (d != 0 && d != 1)
        return bl_error_set(err, BL_EFORMAT, "%s: array '%s' is %g, expected 0 or 1", c->path,
                            name, d);
    *v = (int)d;
    return 0;
}

/* Which layouts a weight array's shape fits: bit 0 PyTorch, bit 1 Keras. */
static int layout_fits(const bl_layer *l, const bl_array *a)
{
    int f = 0;
    size_t R = l->rows, C = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
    if (l->kind == BL_LAYER_DENSE && a->ndim == 2) {
        if (a->shape[0] == R && a->shape[1] == C)
            f |= 1;
        if (a->shape[0] == C && a->shape[1] == R)
            f |= 2;
    } else if (l->kind == BL_LAYER_CONV3 && a->ndim == 4) {
        if (a->shape[0] == R && a->shape[1] == C && a->shape[2] == 3 && a->shape[3] == 3)
            f |= 1;
        if (a->shape[0] == 3 && a->shape[1] == 3 && a->shape[2] == C && a->shape[3] == R)
            f |= 2;
    }
    return f;
}

static int shape_error(const ictx *c, const bl_layer *l, const char *name, const bl_array *a,
                       int layout, bl_error *err)
{
    char sh[128], want[200];
    shape_text(a, sh, sizeof sh);
    size_t R = l->rows;
    if (l->kind == BL_LAYER_DENSE) {
        size_t C = l->cols;
        if (layout == LAYOUT_TORCH)
            snprintf(want, sizeof want, "[%zu, %zu] ([out, in], PyTorch layout)", R, C);
        else if (layout == LAYOUT_KERAS)
            snprintf(want, sizeof want, "[%zu, %zu] ([in, out], Keras layout)", C, R);
        else
            snprintf(want, sizeof want, "[%zu, %zu] (PyTorch [out, in]) or [%zu, %zu] (Keras [in, out])",
                     R, C, C, R);
    } else {
        size_t C = l->in.c;
        if (layout == LAYOUT_TORCH)
            snprintf(want, sizeof want, "[%zu, %zu, 3, 3] (PyTorch OIHW)", R, C);
        else if (layout == LAYOUT_KERAS)
            snprintf(want, sizeof want, "[3, 3, %zu, %zu] (Keras HWIO)", C, R);
        else
            snprintf(want, sizeof want, "[%zu, %zu, 3, 3] (PyTorch OIHW) or [3, 3, %zu, %zu] (Keras HWIO)",
                     R, C, C, R);
    }
    return bl_error_set(err, BL_EFORMAT, "%s: array '%s' has shape %s, expected %s", c->path,
                        name, sh, want);
}

/* Fill a weight layer's bits from its float array (sign, w >= 0 -> 1). */
static void fill_weights(bl_layer *l, const double *w, int layout, int chw, bl_shape flat_in)
{
    memset(l->weights, 0, (size_t)l->rows * l->words_per_row * 8);
    uint32_t R = l->rows;
    if (l->kind == BL_LAYER_DENSE) {
        uint32_t C = l->cols;
        size_t H = flat_in.h, W = flat_in.w, CH = flat_in.c;
        int permute = chw && H * W > 1 && CH > 1 && (size_t)C == H * W * CH;
        for (uint32_t r = 0; r < R; r++) {
            uint64_t *row = l->weights + (size_t)r * l->words_per_row;
            for (uint32_t j = 0; j < C; j++) {
                /* j indexes the float model's flattened input */
                double v = layout == LAYOUT_TORCH ? w[(size_t)r * C + j] : w[(size_t)j * R + r];
                size_t jb = j;
                if (permute) {
                    size_t ch = j / (H * W), pix = j % (H * W);
                    jb = pix * CH + ch;
                }
                if (v >= 0)
                    bl_bit_set(row, jb, 1);
            }
        }
    } else {
        uint32_t cin = l->in.c;
        for (uint32_t r = 0; r < R; r++) {
            uint64_t *row = l->weights + (size_t)r * l->words_per_row;
            for (uint32_t i = 0; i < cin; i++)
                for (int t = 0; t < 9; t++) {
                    int ky = t / 3, kx = t % 3;
                    double v = layout == LAYOUT_TORCH
                                   ? w[(((size_t)r * cin + i) * 3 + ky) * 3 + kx]
                                   : w[(((size_t)ky * 3 + kx) * cin + i) * R + r];
                    if (v >= 0)
                        bl_bit_set(row, (size_t)t * l->words_per_tap * 64 + i, 1);
                }
        }
    }
}

/* Batch-norm + sign of a pre-activation, as the importer defines it. */
typedef struct {
    double gamma, beta, mean, sd, u, bias;
} bnp;

static int bn_on(const bnp *p, double a)
{
    return p->gamma * ((p->u * a + p->bias) - p->mean) / p->sd + p->beta >= 0;
}

/* Fold into (tau, dir); see the file comment and betlab-format(5). */
static void fold(const bnp *p, int32_t *tau, int8_t *dir)
{
    if (p->gamma == 0) {
        *tau = INT32_MIN;
        *dir = p->beta >= 0 ? 1 : -1; /* a >= MIN always; a <= MIN never */
        return;
    }
    double t = ((p->mean - p->bias) - p->beta * p->sd / p->gamma) / p->u;
    const double lo = (double)INT32_MIN, hi = (double)INT32_MAX;
    if (p->gamma > 0) {
        /* smallest a with bn_on(a) */
        double c = ceil(t);
        if (!(c > lo)) { /* also catches NaN: always on */
            *tau = INT32_MIN;
        } else if (c > hi) {
            *tau = INT32_MAX;
        } else {
            int64_t k = (int64_t)c;
            for (int it = 0; it < 8 && k > INT32_MIN && bn_on(p, (double)(k - 1)); it++)
                k--;
            for (int it = 0; it < 8 && k < INT32_MAX && !bn_on(p, (double)k); it++)
                k++;
            *tau = (int32_t)k;
        }
        *dir = 1;
    } else {
        /* largest a with bn_on(a) */
        double f = floor(t);
        if (!(f < hi)) {
            *tau = INT32_MAX;
        } else if (f < lo) {
            *tau = INT32_MIN; /* a <= MIN: never on */
        } else {
            int64_t k = (int64_t)f;
            for (int it = 0; it < 8 && k < INT32_MAX && bn_on(p, (double)(k + 1)); it++)
                k++;
            for (int it = 0; it < 8 && k > INT32_MIN && !bn_on(p, (double)k); it++)
                k--;
            *tau = (int32_t)k;
        }
        *dir = -1;
    }
}

/* Read a batch norm's parameters named <prefix>.*; gamma/beta default 1/0.
 * mean/var required unless `optional_all` (then *present tells). */
typedef struct {
    double *gamma, *beta, *mean, *var;
    double eps;
} bn_arrays;

static void bn_free(bn_arrays *b)
{
    free(b->gamma);
    free(b->beta);
    free(b->mean);
    free(b->var);
    memset(b, 0, sizeof *b);
}

static int get_bn(ictx *c, const char *prefix, size_t n, int required, bn_arrays *b,
                  int *present, bl_error *err)
{
    memset(b, 0, sizeof *b);
    char nm[BL_NAME_MAX + 32];
    int rc;
    snprintf(nm, sizeof nm, "%s.running_mean", prefix);
    *present = member(c, nm) >= 0;
    if (!*present && !required)
        return 0;
    if ((rc = get_vec(c, nm, 1, n, &b->mean, err)))
        goto fail;
    snprintf(nm, sizeof nm, "%s.running_var", prefix);
    if ((rc = get_vec(c, nm, 1, n, &b->var, err)))
        goto fail;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    if ((rc = get_vec(c, nm, 0, n, &b->gamma, err)))
        goto fail;
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    if ((rc = get_vec(c, nm, 0, n, &b->beta, err)))
        goto fail;
    snprintf(nm, sizeof nm, "%s.eps", prefix);
    int have_eps;
    b->eps = 1e-5;
    if ((rc = get_scalar(c, nm, 0, &b->eps, &have_eps, err)))
        goto fail;
    if (!(b->eps >= 0)) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: array '%s' is %g, must be >= 0", c->path, nm,
                          b->eps);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if (!(b->var[i] >= 0) || !(b->var[i] + b->eps > 0)) {
            rc = bl_error_set(err, BL_EFORMAT,
                              "%s: array '%s.running_var' channel %zu: variance %g %s", c->path,
                              prefix, i, b->var[i],
                              b->var[i] < 0 ? "is negative" : "plus eps is zero");
            goto fail;
        }
    return 0;
fail:
    bn_free(b);
    return rc;
}

int bl_model_import_npz(const char *path, const char *spec, bl_model **out, bl_error *err)
{
    *out = NULL;
    bl_model *m = NULL;
    ictx c = { path, NULL, 0, NULL };
    double **wts = NULL, **biases = NULL;
    int rc = bl_model_from_spec(spec, NULL, &m, err);
    if (rc) {
        bl_error_prefix(err, "%s", path);
        return rc;
    }
    if ((rc = bl_npz_open(path, &c.z, err)))
        goto done;
    c.n = bl_npz_count(c.z);
    c.used = calloc(c.n ? c.n : 1, 1);
    wts = calloc(m->nlayers, sizeof *wts);
    biases = calloc(m->nlayers, sizeof *biases);
    if (!c.used || !wts || !biases) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
        goto done;
    }

    /* -- global settings -- */
    int layout = LAYOUT_UNKNOWN, chw = -1, bn_before_pool = 1;
    if ((rc = get_flag(&c, "layout", &layout, err)) || (rc = get_flag(&c, "flatten_chw", &chw, err)) ||
        (rc = get_flag(&c, "bn_before_pool", &bn_before_pool, err)))
        goto done;
    double v;
    int have;
    if ((rc = get_scalar(&c, "input.scale", 0, &v, &have, err)))
        goto done;
    if (have) {
        float f = (float)v;
        if (!(f > 0) || !isfinite(f)) {
            rc = bl_error_set(err, BL_EFORMAT, "%s: array 'input.scale' is %g, must be > 0", path,
                              v);
            goto done;
        }
        m->input_scale = f;
    }
    if ((rc = get_scalar(&c, "input.zero", 1, &v, &have, err)))
        goto done;
    if (have) {
        if (v != floor(v) || v < 0 || v > 255) {
            rc = bl_error_set(err, BL_EFORMAT,
                              "%s: array 'input.zero' is %g, must be an integer code 0..255",
                              path, v);
            goto done;
        }
        m->input_zero = (int32_t)v;
    }

    /* -- weight arrays: decide the layout, then read them -- */
    int fits_all = 3;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        bl_layer *l = &m->layers[i];
        if (!l->weights)
            continue;
        char nm[BL_NAME_MAX + 16];
        snprintf(nm, sizeof nm, "%s.weight", l->name);
        bl_array a;
        if ((rc = get_raw(&c, nm, 1, &a, err)))
            goto done;
        int f = layout_fits(l, &a);
        if (layout != LAYOUT_UNKNOWN && !(f & (1 << layout)))
            rc = shape_error(&c, l, nm, &a, layout, err);
        else if (f == 0)
            rc = shape_error(&c, l, nm, &a, LAYOUT_UNKNOWN, err);
        else if (layout == LAYOUT_UNKNOWN && !(fits_all & f))
            rc = bl_error_set(err, BL_EFORMAT,
                              "%s: array '%s' is in %s layout but earlier weights are in %s "
                              "layout; add a scalar array 'layout' (0 = PyTorch, 1 = Keras)",
                              path, nm, f == 1 ? "PyTorch" : "Keras",
                              f == 1 ? "Keras" : "PyTorch");
        if (!rc) {
            fits_all &= f;
            rc = to_doubles(&c, nm, &a, &wts[i], err);
        }
        bl_array_free(&a);
        if (rc)
            goto done;
        snprintf(nm, sizeof nm, "%s.bias", l->name);
        if ((rc = get_vec(&c, nm, 0, l->rows, &biases[i], err)))
            goto done;
    }
    if (layout == LAYOUT_UNKNOWN) {
        if (fits_all == 3) {
            rc = bl_error_set(err, BL_EFORMAT,
                              "%s: the weight shapes fit both the PyTorch and the Keras layout "
                              "(square dense layers); add a scalar array 'layout' (0 = PyTorch "
                              "[out, in], 1 = Keras [in, out])",
                              path);
            goto done;
        }
        layout = fits_all == 1 ? LAYOUT_TORCH : LAYOUT_KERAS;
    }
    if (chw < 0)
        chw = layout == LAYOUT_TORCH;

    /* -- fill weights; thresholds from the batch norms -- */
    bl_shape flat_in = m->input;
    int last_w = -1;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        bl_layer *l = &m->layers[i];
        if (l->kind == BL_LAYER_FLATTEN)
            flat_in = l->in;
        if (l->weights) {
            fill_weights(l, wts[i], layout, chw, l->kind == BL_LAYER_DENSE ? flat_in : l->in);
            last_w = (int)i;
            flat_in = l->out;
        }
        if (l->kind != BL_LAYER_THRESH)
            continue;
        const bl_layer *wl = &m->layers[last_w];
        int after_pool = m->layers[i - 1].kind == BL_LAYER_MAXPOOL2;
        bn_arrays b;
        int present;
        if ((rc = get_bn(&c, l->name, l->out.c, 1, &b, &present, err)))
            goto done;
        for (uint32_t ch = 0; ch < l->out.c; ch++) {
            bnp p = { b.gamma ? b.gamma[ch] : 1.0, b.beta ? b.beta[ch] : 0.0, b.mean[ch],
                      sqrt(b.var[ch] + b.eps), wl->real_input ? (double)m->input_scale : 1.0,
                      biases[last_w] ? biases[last_w][ch] : 0.0 };
            if (after_pool && bn_before_pool && p.gamma < 0) {
                rc = bl_error_set(
                    err, BL_EUNSUPPORTED,
                    "%s: %s channel %u has gamma %g < 0 and follows the max-pool %s: betlab "
                    "pools pre-activations before thresholding, which equals batch norm before "
                    "the pool only for gamma >= 0; if the float model pooled before its batch "
                    "norm (conv -> pool -> BN -> sign), add the scalar array bn_before_pool = 0",
                    path, l->name, ch, p.gamma, m->layers[i - 1].name);
                bn_free(&b);
                goto done;
            }
            fold(&p, &l->tau[ch], &l->dir[ch]);
        }
        bn_free(&b);
    }

    /* -- output affine: out BN or plain scale/bias, and the last bias -- */
    {
        bl_layer *l = &m->layers[m->nlayers - 1];
        bn_arrays b;
        int present;
        if ((rc = get_bn(&c, "out", l->rows, 0, &b, &present, err)))
            goto done;
        double *sc = NULL, *bi = NULL;
        if (!present) {
            /* a plain affine: out.weight / out.bias */
            if ((rc = get_vec(&c, "out.weight", 0, l->rows, &sc, err)) ||
                (rc = get_vec(&c, "out.bias", 0, l->rows, &bi, err))) {
                free(sc);
                goto done;
            }
        }
        const double *lb = biases[m->nlayers - 1];
        if (present || sc || bi || lb) {
            l->out_scale = bl_alloc((size_t)l->rows * 4);
            l->out_bias = bl_alloc((size_t)l->rows * 4);
            if (!l->out_scale || !l->out_bias) {
                rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
            } else {
                double u = l->real_input ? (double)m->input_scale : 1.0;
                for (uint32_t r = 0; r < l->rows; r++) {
                    double g, h;
                    if (present) {
                        double s = sqrt(b.var[r] + b.eps), gm = b.gamma ? b.gamma[r] : 1.0;
                        g = gm / s;
                        h = (b.beta ? b.beta[r] : 0.0) - gm * b.mean[r] / s;
                    } else {
                        g = sc ? sc[r] : 1.0;
                        h = bi ? bi[r] : 0.0;
                    }
                    double fs = g * u, fb = g * (lb ? lb[r] : 0.0) + h;
                    if (!isfinite((float)fs) || !isfinite((float)fb)) {
                        rc = bl_error_set(err, BL_ERANGE,
                                          "%s: output affine of class %u overflows float32",
                                          path, r);
                        break;
                    }
                    l->out_scale[r] = (float)fs;
                    l->out_bias[r] = (float)fb;
                }
            }
        }
        free(sc);
        free(bi);
        bn_free(&b);
        if (rc)
            goto done;
    }

    /* -- every array must have been used -- */
    for (size_t i = 0; i < c.n; i++) {
        const char *nm = bl_npz_name(c.z, i);
        size_t k = strlen(nm);
        const char *skip = ".num_batches_tracked";
        if (c.used[i] || (k >= strlen(skip) && strcmp(nm + k - strlen(skip), skip) == 0))
            continue;
        rc = bl_error_set(err, BL_EFORMAT,
                          "%s: array '%s' is not used by architecture '%s' (misspelt, or the "
                          "spec has fewer layers than the weights?)",
                          path, nm, spec);
        goto done;
    }

    const char *base = strrchr(path, '/');
    if (bl_model_meta_set(m, "import.source", base ? base + 1 : path) ||
        bl_model_meta_set(m, "import.spec", spec) ||
        bl_model_meta_set(m, "import.layout", layout == LAYOUT_TORCH ? "pytorch" : "keras") ||
        bl_model_meta_set(m, "import.flatten", chw ? "chw" : "hwc")) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    rc = bl_model_validate(m, err);
    if (rc)
        bl_error_prefix(err, "%s", path);
done:
    if (wts)
        for (uint32_t i = 0; i < m->nlayers; i++)
            free(wts[i]);
    if (biases)
        for (uint32_t i = 0; i < m->nlayers; i++)
            free(biases[i]);
    free(wts);
    free(biases);
    free(c.used);
    bl_npz_close(c.z);
    if (rc) {
        bl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
