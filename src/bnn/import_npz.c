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

#include "bnn/import_npz.h"

#include "base/mem.h"
#include "bnn/model.h"
#include "data/npy.h"

enum { LAYOUT_TORCH = 0, LAYOUT_KERAS = 1, LAYOUT_UNKNOWN = -1 };

typedef struct {
    const char *path;
    bl_npz *z;
    size_t n;
    char *used;   /* per archive member */
    char **eff;   /* per member: its name after renaming (NULL: as saved) */
    const char *spec;
    const bl_model *m;
    double eps_default;
} ictx;

static const char *eff_name(const ictx *c, size_t i)
{
    return c->eff && c->eff[i] ? c->eff[i] : bl_npz_name(c->z, i);
}

static int member(const ictx *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(eff_name(c, i), name) == 0)
            return (int)i;
    return -1;
}

/* Append to a bounded message buffer; "..." once it is full. */
static void add_text(char *buf, size_t cap, size_t *k, const char *fmt, const char *s)
{
    if (*k + 4 >= cap)
        return;
    int w = snprintf(buf + *k, cap - *k, fmt, s);
    if (w < 0 || *k + (size_t)w + 4 >= cap) {
        snprintf(buf + *k, cap - *k, "...");
        *k = cap;
        return;
    }
    *k += (size_t)w;
}

/* The names a spec needs (weights, batch-norm statistics), comma-joined. */
static void expected_names(const ictx *c, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < c->m->nlayers; i++) {
        const bl_layer *l = &c->m->layers[i];
        if (l->weights)
            add_text(buf, cap, &k, k ? ", %s.weight" : "%s.weight", l->name);
        else if (l->kind == BL_LAYER_THRESH)
            add_text(buf, cap, &k, k ? ", %s.running_mean/_var" : "%s.running_mean/_var",
                     l->name);
    }
}

static int missing_error(const ictx *c, const char *name, bl_error *err)
{
    char found[200], want[160];
    size_t k = 0;
    found[0] = 0;
    for (size_t i = 0; i < c->n; i++)
        add_text(found, sizeof found, &k, k ? ", %s" : "%s", eff_name(c, i));
    expected_names(c, want, sizeof want);
    return bl_error_set(err, BL_ENOTFOUND,
                        "%s: required array '%s' is missing; found %zu array%s: %s; '%s' "
                        "expects %s (rename with --map OLD=NEW or --names torch|larq)",
                        c->path, name, c->n, c->n == 1 ? "" : "s", c->n ? found : "none",
                        c->spec, want);
}

static void shape_text(const bl_array *a, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < a->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%zu", d ? ", " : "", a->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* -- renaming: OLD=NEW rules and the torch/larq schemes (import_npz.h) -- */

int bl_import_check_opts(const bl_import_opts *o, bl_error *err)
{
    if (!o)
        return 0;
    if (o->names && strcmp(o->names, "torch") && strcmp(o->names, "larq") &&
        strcmp(o->names, "betlab"))
        return bl_error_set(err, BL_EINVAL, "naming scheme '%s' is not one of betlab, torch, "
                            "larq", o->names);
    for (size_t r = 0; r < o->nmap; r++) {
        const char *eq = strchr(o->map[r], '=');
        if (!eq || eq == o->map[r] || !eq[1])
            return bl_error_set(err, BL_EINVAL, "rename rule '%s' is not OLD=NEW", o->map[r]);
    }
    return 0;
}

/* name renamed by rule "OLD=NEW" (NULL when it does not apply). */
static char *apply_rule(const char *rule, const char *name)
{
    const char *eq = strchr(rule, '=');
    size_t k = (size_t)(eq - rule);
    if (strncmp(name, rule, k) || (name[k] && name[k] != '.'))
        return NULL;
    size_t len = strlen(eq + 1) + strlen(name + k) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s", eq + 1, name + k);
    return s;
}

/* Keras weight field -> PyTorch field. */
static const char *larq_field(const char *f)
{
    static const char *const tr[][2] = {
        { "kernel", "weight" },       { "gamma", "weight" },
        { "beta", "bias" },           { "moving_mean", "running_mean" },
        { "moving_variance", "running_var" },
    };
    for (size_t i = 0; i < sizeof tr / sizeof tr[0]; i++)
        if (!strcmp(f, tr[i][0]))
            return tr[i][1];
    return f;
}

/* Split a saved name into module prefix and (PyTorch) field; 0 when it
 * has no module part. */
static int split_name(const char *name, int larq, char *pre, char *field, size_t cap)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", name);
    char *colon = larq ? strrchr(tmp, ':') : NULL;
    if (colon)
        *colon = 0;
    char *sep = strrchr(tmp, larq ? '/' : '.');
    if (!sep || sep == tmp)
        return 0;
    *sep = 0;
    snprintf(pre, cap, "%s", tmp);
    snprintf(field, cap, "%s", larq ? larq_field(sep + 1) : sep + 1);
    return 1;
}

enum { G_OTHER, G_WEIGHT, G_BN };

/* Order rule of the schemes: modules in archive order; one with a 2-D or
 * 4-D weight is the next fcK/convK, one with running_mean the next bnK
 * ("out" after the last weight layer). */
static int scheme_rename(ictx *c, int larq, bl_error *err)
{
    enum { CAP = 256 };
    size_t n = c->n;
    char (*pre)[CAP] = calloc(n ? n : 1, sizeof *pre), (*fld)[CAP] = calloc(n ? n : 1, sizeof *fld);
    int *grp = calloc(n ? n : 1, sizeof *grp), *kind = calloc(n ? n : 1, sizeof *kind),
        *ndim = calloc(n ? n : 1, sizeof *ndim);
    int rc = 0, ng = 0;
    if (!pre || !fld || !grp || !kind || !ndim) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        grp[i] = -1;
        if (c->eff[i] || !split_name(bl_npz_name(c->z, i), larq, pre[i], fld[i], CAP))
            continue;
        for (size_t j = 0; j < i && grp[i] < 0; j++)
            if (grp[j] >= 0 && !strcmp(pre[j], pre[i]))
                grp[i] = grp[j];
        if (grp[i] < 0)
            grp[i] = ng++;
        bl_array a;
        if (!strcmp(fld[i], "weight") && !bl_npz_get(c->z, bl_npz_name(c->z, i), &a, NULL)) {
            ndim[grp[i]] = a.ndim > ndim[grp[i]] ? a.ndim : ndim[grp[i]];
            if (a.ndim == 2 || a.ndim == 4)
                kind[grp[i]] = kind[grp[i]] == G_BN ? G_BN : G_WEIGHT;
            bl_array_free(&a);
        }
        if (!strcmp(fld[i], "running_mean"))
            kind[grp[i]] = G_BN;
    }
    int last_w = -1;
    for (int g = 0; g < ng; g++)
        if (kind[g] == G_WEIGHT)
            last_w = g;
    int nconv = 0, nfc = 0, nbn = 0;
    char (*gname)[BL_NAME_MAX] = calloc(ng ? (size_t)ng : 1, sizeof *gname);
    if (!gname) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
        goto done;
    }
    for (int g = 0; g < ng; g++) {
        if (kind[g] == G_WEIGHT)
            snprintf(gname[g], BL_NAME_MAX, ndim[g] == 4 ? "conv%d" : "fc%d",
                     ndim[g] == 4 ? ++nconv : ++nfc);
        else if (kind[g] == G_BN && g > last_w)
            snprintf(gname[g], BL_NAME_MAX, "out");
        else if (kind[g] == G_BN)
            snprintf(gname[g], BL_NAME_MAX, "bn%d", ++nbn);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (grp[i] < 0 || kind[grp[i]] == G_OTHER)
            continue;
        size_t len = strlen(gname[grp[i]]) + strlen(fld[i]) + 2;
        if (!(c->eff[i] = malloc(len)))
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
        else
            snprintf(c->eff[i], len, "%s.%s", gname[grp[i]], fld[i]);
    }
    free(gname);
done:
    free(pre);
    free(fld);
    free(grp);
    free(kind);
    free(ndim);
    return rc;
}

/* Effective names: rules first (on the names as saved), then the scheme
 * for the rest.  Counts renamed members into *renamed. */
static int rename_members(ictx *c, const bl_import_opts *o, size_t *renamed, bl_error *err)
{
    *renamed = 0;
    if (!o || (!o->nmap && (!o->names || !strcmp(o->names, "betlab"))))
        return 0;
    if (!(c->eff = calloc(c->n ? c->n : 1, sizeof *c->eff)))
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < c->n; i++)
        for (size_t r = 0; r < o->nmap && !c->eff[i]; r++)
            c->eff[i] = apply_rule(o->map[r], bl_npz_name(c->z, i));
    int rc = 0;
    if (o->names && strcmp(o->names, "betlab"))
        rc = scheme_rename(c, !strcmp(o->names, "larq"), err);
    for (size_t i = 0; i < c->n; i++)
        if (c->eff[i] && strcmp(c->eff[i], bl_npz_name(c->z, i)))
            (*renamed)++;
    /* two arrays may not end up with one name */
    for (size_t i = 0; !rc && i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++)
            if (!strcmp(eff_name(c, i), eff_name(c, j))) {
                rc = bl_error_set(err, BL_EINVAL,
                                  "%s: arrays '%s' and '%s' are both renamed to '%s'", c->path,
                                  bl_npz_name(c->z, i), bl_npz_name(c->z, j), eff_name(c, i));
                break;
            }
    return rc;
}

static int ignored(const bl_import_opts *o, const char *saved, const char *eff)
{
    for (size_t k = 0; o && k < o->nignore; k++) {
        size_t L = strlen(o->ignore[k]);
        if (!strcmp(saved, o->ignore[k]) || !strcmp(eff, o->ignore[k]) ||
            (!strncmp(saved, o->ignore[k], L) && saved[L] == '.') ||
            (!strncmp(eff, o->ignore[k], L) && eff[L] == '.'))
            return 1;
    }
    return 0;
}

/* Fetch an array: 0 = got it, 1 = absent (when optional), <0 = error. */
static int get_raw(ictx *c, const char *name, int required, bl_array *a, bl_error *err)
{
    memset(a, 0, sizeof *a);
    int i = member(c, name);
    if (i < 0) {
        if (!required)
            return 1;
        return missing_error(c, name, err);
    }
    c->used[i] = 1;
    return bl_npz_get(c->z, bl_npz_name(c->z, (size_t)i), a, err);
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

static int get_scalar(ictx *c, const char *name, int any_dtype, double *v, int *present,
                      bl_error *err);

/* A float vector of n entries, or a scalar broadcast to n (an XNOR-style
 * output scale); *out NULL when absent. */
static int get_vec_or_scalar(ictx *c, const char *name, size_t n, double **out, bl_error *err)
{
    int i = member(c, name);
    bl_array a;
    *out = NULL;
    if (i < 0 || bl_npz_get(c->z, bl_npz_name(c->z, (size_t)i), &a, NULL))
        return get_vec(c, name, 0, n, out, err);
    int scalar = a.count == 1 && a.ndim <= 1 && n != 1;
    bl_array_free(&a);
    if (!scalar)
        return get_vec(c, name, 0, n, out, err);
    double v;
    int have, rc = get_scalar(c, name, 0, &v, &have, err);
    if (rc)
        return rc;
    if (!(*out = malloc(n * sizeof **out)))
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
    for (size_t k = 0; k < n; k++)
        (*out)[k] = v;
    return 0;
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
    b->eps = c->eps_default;
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

void bl_import_info_free(bl_import_info *info)
{
    if (!info)
        return;
    free(info->reference_pred);
    free(info->bn);
    memset(info, 0, sizeof *info);
}

int bl_model_import_npz(const char *path, const char *spec, bl_model **out, bl_error *err)
{
    return bl_import_npz(path, spec, NULL, out, NULL, err);
}

/* The input encoding: input.scale/input.zero (codes) or input.mean/
 * input.std (torchvision's Normalize after ToTensor: x = (q/255 - mean) /
 * std).  A zero that is no integer code is kept in *zero_real; the model
 * gets the nearest code (the difference is folded into the first layer). */
static int read_input_norm(ictx *c, bl_model *m, double *zero_real, bl_error *err)
{
    double scale = (double)m->input_scale, zero = m->input_zero, mean, sd;
    int hs, hz, hm, hd, rc;
    if ((rc = get_scalar(c, "input.scale", 0, &scale, &hs, err)) ||
        (rc = get_scalar(c, "input.zero", 1, &zero, &hz, err)) ||
        (rc = get_scalar(c, "input.mean", 0, &mean, &hm, err)) ||
        (rc = get_scalar(c, "input.std", 0, &sd, &hd, err)))
        return rc;
    if ((hm || hd) && (hs || hz))
        return bl_error_set(err, BL_EINVAL, "%s: give input.mean/input.std or input.scale/"
                            "input.zero, not both", c->path);
    if (hm != hd)
        return bl_error_set(err, BL_EINVAL, "%s: input.mean and input.std go together",
                            c->path);
    if (hm) {
        if (!(sd > 0))
            return bl_error_set(err, BL_EFORMAT, "%s: array 'input.std' is %g, must be > 0",
                                c->path, sd);
        scale = 1.0 / (255.0 * sd);
        zero = 255.0 * mean;
    }
    if (!(zero >= 0 && zero <= 255))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: input.zero%s is %g, outside the code range 0..255", c->path,
                            hm ? " (255 x input.mean)" : "", zero);
    float f = (float)scale;
    if (!(f > 0) || !isfinite(f))
        return bl_error_set(err, BL_EFORMAT, "%s: %s is %g, must be > 0 (and fit float32)",
                            c->path, hm ? "input scale 1/(255 x input.std)" : "array 'input.scale'",
                            scale);
    m->input_scale = f;
    double z0 = floor(zero + 0.5);
    z0 = z0 < 0 ? 0 : z0 > 255 ? 255 : z0;
    m->input_zero = (int32_t)z0;
    *zero_real = zero;
    return 0;
}

/* Sum of a weight row's +-1 values (padding bits are zero). */
static double row_sum(const bl_layer *l, uint32_t r)
{
    const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
    uint64_t pc = 0;
    for (uint32_t w = 0; w < l->words_per_row; w++)
        pc += (uint64_t)__builtin_popcountll(row[w]);
    return 2.0 * (double)pc - (double)l->cols;
}

/* reference.pred: the float model's class per image (int). */
static int read_reference(ictx *c, bl_import_info *info, bl_error *err)
{
    bl_array a;
    int rc = get_raw(c, "reference.pred", 0, &a, err);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (a.ndim != 1 || (a.dtype != BL_DT_I64 && a.dtype != BL_DT_I32 && a.dtype != BL_DT_U8))
        rc = bl_error_set(err, BL_EFORMAT, "%s: array 'reference.pred' must be a 1-D integer "
                          "array (one class per image), got dtype %s with %d dimensions",
                          c->path, bl_dtype_name(a.dtype), a.ndim);
    else if (info && !(info->reference_pred = malloc((a.count ? a.count : 1) * 8)))
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", c->path);
    else if (info) {
        for (size_t i = 0; i < a.count; i++)
            info->reference_pred[i] = (int64_t)elem(&a, i);
        info->nreference = a.count;
    }
    bl_array_free(&a);
    return rc;
}

int bl_import_npz(const char *path, const char *spec, const bl_import_opts *opts,
                  bl_model **out, bl_import_info *info, bl_error *err)
{
    *out = NULL;
    bl_model *m = NULL;
    ictx c = { path, NULL, 0, NULL, NULL, spec, NULL, 1e-5 };
    double **wts = NULL, **biases = NULL;
    bl_import_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    info->first_thresh = -1;
    int rc = bl_import_check_opts(opts, err);
    if (rc)
        return rc;
    rc = bl_model_from_spec(spec, NULL, &m, err);
    if (rc) {
        bl_error_prefix(err, "%s", path);
        return rc;
    }
    c.m = m;
    if (opts && opts->names && !strcmp(opts->names, "larq"))
        c.eps_default = 1e-3; /* Keras' BatchNormalization default */
    if ((rc = bl_npz_open(path, &c.z, err)))
        goto done;
    c.n = bl_npz_count(c.z);
    if ((rc = rename_members(&c, opts, &info->nrenamed, err)))
        goto done;
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
    double zero_real = 0;
    if ((rc = read_input_norm(&c, m, &zero_real, err)) || (rc = read_reference(&c, info, err)))
        goto done;
    info->input_scale = (double)m->input_scale;
    info->input_zero = zero_real;
    info->norm_real = zero_real != (double)m->input_zero;
    info->norm_exact = 1;
    /* real inputs see (q - z) u = (q - z0) u + (z0 - z) u: the second term
     * is u (z0 - z) S_r for row r, a bias */
    const double dz = (double)m->input_zero - zero_real;

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
        if (wl->real_input) {
            info->first_thresh = (int)i;
            info->norm_exact = !(info->norm_real && wl->kind == BL_LAYER_CONV3);
            if (!(info->bn = malloc((size_t)l->out.c * 5 * sizeof *info->bn))) {
                rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
                bn_free(&b);
                goto done;
            }
        }
        for (uint32_t ch = 0; ch < l->out.c; ch++) {
            double bias0 = biases[last_w] ? biases[last_w][ch] : 0.0;
            bnp p = { b.gamma ? b.gamma[ch] : 1.0, b.beta ? b.beta[ch] : 0.0, b.mean[ch],
                      sqrt(b.var[ch] + b.eps), wl->real_input ? (double)m->input_scale : 1.0,
                      bias0 };
            if (wl->real_input) {
                double *q = info->bn + (size_t)ch * 5;
                q[0] = p.gamma, q[1] = p.beta, q[2] = p.mean, q[3] = p.sd, q[4] = bias0;
                if (dz != 0)
                    p.bias += p.u * dz * row_sum(wl, ch);
            }
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
            if ((rc = get_vec_or_scalar(&c, "out.weight", l->rows, &sc, err)) ||
                (rc = get_vec_or_scalar(&c, "out.bias", l->rows, &bi, err))) {
                free(sc);
                goto done;
            }
        }
        const double *lb = biases[m->nlayers - 1];
        if (present || sc || bi || lb || (l->real_input && dz != 0)) {
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
                    if (l->real_input && dz != 0)
                        fb += g * u * dz * row_sum(l, r);
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

    /* -- every array must have been used (or be ignored) -- */
    {
        char names[300];
        size_t k = 0, nun = 0;
        names[0] = 0;
        for (size_t i = 0; i < c.n; i++) {
            const char *nm = eff_name(&c, i), *skip = ".num_batches_tracked";
            size_t L = strlen(nm);
            if (c.used[i] || (L >= strlen(skip) && strcmp(nm + L - strlen(skip), skip) == 0))
                continue;
            if (ignored(opts, bl_npz_name(c.z, i), nm)) {
                info->nignored++;
                continue;
            }
            add_text(names, sizeof names, &k, nun ? ", '%s'" : "'%s'", bl_npz_name(c.z, i));
            nun++;
        }
        if (nun) {
            rc = bl_error_set(err, BL_EFORMAT,
                              "%s: array%s %s %s not used by architecture '%s' (misspelt, or "
                              "the spec has fewer layers than the weights? skip with --ignore "
                              "NAME)",
                              path, nun == 1 ? "" : "s", names, nun == 1 ? "is" : "are", spec);
            goto done;
        }
    }

    const char *base = strrchr(path, '/');
    if (bl_model_meta_set(m, "import.source", base ? base + 1 : path) ||
        bl_model_meta_set(m, "import.spec", spec) ||
        bl_model_meta_set(m, "import.layout", layout == LAYOUT_TORCH ? "pytorch" : "keras") ||
        bl_model_meta_set(m, "import.flatten", chw ? "chw" : "hwc")) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (info->norm_real) {
        char zt[96];
        snprintf(zt, sizeof zt, "%.17g folded into %s (%s)", zero_real, m->layers[0].name,
                 info->norm_exact ? "exact" : "exact away from the border");
        if (bl_model_meta_set(m, "import.input_zero", zt)) {
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
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
    if (c.eff)
        for (size_t i = 0; i < c.n; i++)
            free(c.eff[i]);
    free(c.eff);
    bl_npz_close(c.z);
    if (rc || info == &scratch)
        bl_import_info_free(info);
    if (rc) {
        bl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* -- the check of an inexact normalisation fold -- */

/* Pre-activations of the first weight layer for one input at output
 * position (y, x), channel r: betlab's integer one (zero code z0, padding
 * 0) and the float model's (real zero z, padding 0, bias). */
static void first_preact(const bl_layer *l, const uint8_t *q, uint32_t y, uint32_t x,
                         uint32_t r, double z0, double z, double u, double bias, double *ai,
                         double *ar)
{
    const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
    double si = 0, sr = 0;
    if (l->kind == BL_LAYER_DENSE) {
        for (uint32_t j = 0; j < l->cols; j++) {
            double w = bl_bit_get(row, j) ? 1.0 : -1.0;
            si += w * (q[j] - z0);
            sr += w * (q[j] - z);
        }
    } else {
        uint32_t H = l->in.h, W = l->in.w, C = l->in.c;
        for (int t = 0; t < 9; t++) {
            int yy = (int)y + t / 3 - 1, xx = (int)x + t % 3 - 1;
            if (yy < 0 || xx < 0 || yy >= (int)H || xx >= (int)W)
                continue; /* zero padding: 0 in both models */
            const uint8_t *p = q + ((size_t)yy * W + (size_t)xx) * C;
            for (uint32_t i = 0; i < C; i++) {
                double w = bl_bit_get(row, (size_t)t * l->words_per_tap * 64 + i) ? 1.0 : -1.0;
                si += w * (p[i] - z0);
                sr += w * (p[i] - z);
            }
        }
    }
    *ai = si;
    *ar = u * sr + bias;
}

int bl_import_norm_check(const bl_model *m, const bl_import_info *info, const bl_dataset *ds,
                         size_t limit, size_t *changed_inputs, uint64_t *outputs,
                         bl_error *err)
{
    *changed_inputs = 0;
    *outputs = 0;
    if (!info || info->first_thresh < 0 || !info->bn)
        return 0; /* no hidden threshold: the fold went into the output affine */
    if (bl_dataset_dtype(ds) != BL_DT_U8 || bl_dataset_features(ds) != bl_shape_size(m->input))
        return bl_error_set(err, BL_EINVAL, "normalisation check: the data must be 8-bit codes "
                            "of %zu features per input", bl_shape_size(m->input));
    const bl_layer *t = &m->layers[info->first_thresh];
    const bl_layer *l = NULL;
    for (uint32_t i = 0; i < m->nlayers && !l; i++)
        if (m->layers[i].weights)
            l = &m->layers[i];
    int pool = m->layers[info->first_thresh - 1].kind == BL_LAYER_MAXPOOL2;
    size_t n = bl_dataset_count(ds);
    if (limit && limit < n)
        n = limit;
    double z0 = m->input_zero, z = info->input_zero, u = info->input_scale;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *q = bl_dataset_row(ds, k);
        uint64_t diff = 0;
        for (uint32_t y = 0; y < t->in.h; y++)
            for (uint32_t x = 0; x < t->in.w; x++)
                for (uint32_t r = 0; r < t->in.c; r++) {
                    const double *b = info->bn + (size_t)r * 5;
                    double ai = -INFINITY, ar = -INFINITY, a1, a2;
                    for (uint32_t d = 0; d < (pool ? 4u : 1u); d++) {
                        uint32_t yy = pool ? 2 * y + d / 2 : y, xx = pool ? 2 * x + d % 2 : x;
                        first_preact(l, q, yy, xx, r, z0, z, u, b[4], &a1, &a2);
                        ai = a1 > ai ? a1 : ai;
                        ar = a2 > ar ? a2 : ar;
                    }
                    int on_b = t->dir[r] > 0 ? ai >= t->tau[r] : ai <= t->tau[r];
                    int on_f = b[0] * (ar - b[2]) / b[3] + b[1] >= 0;
                    diff += on_b != on_f;
                }
        *outputs += diff;
        *changed_inputs += diff != 0;
    }
    return 0;
}
