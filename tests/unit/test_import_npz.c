/* test_import_npz.c - importing float weights and batch norms from .npz.
 *
 * Random float networks are written with bl_npz_save in PyTorch or Keras
 * layout, imported, and the imported packed model (run by a plain integer
 * forward pass written here) must reproduce a straightforward float
 * forward pass (sign(w), batch norm in double, sign) on random inputs:
 * every hidden +-1 activation and every prediction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "bnn/model.h"
#include "data/npy.h"

/* ---- deterministic random numbers ------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static double normal(void)
{
    double u = unif() + 1e-300, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- a set of named float arrays, saved as .npz ------------------------ */

typedef struct {
    char name[64];
    bl_dtype dt;
    int ndim;
    size_t shape[4];
    size_t n;
    double *v;
} farr;

typedef struct {
    farr a[64];
    int n;
} fset;

static farr *fs_add(fset *s, const char *name, bl_dtype dt, int ndim, size_t s0, size_t s1,
                    size_t s2, size_t s3)
{
    assert_true(s->n < 64);
    farr *a = &s->a[s->n++];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->dt = dt;
    a->ndim = ndim;
    size_t sh[4] = { s0, s1, s2, s3 };
    a->n = 1;
    for (int d = 0; d < ndim; d++) {
        a->shape[d] = sh[d];
        a->n *= sh[d];
    }
    a->v = calloc(a->n ? a->n : 1, sizeof *a->v);
    return a;
}

static farr *fs_get(fset *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->a[i].name, name) == 0)
            return &s->a[i];
    return NULL;
}

static void fs_del(fset *s, const char *name)
{
    farr *a = fs_get(s, name);
    assert_non_null(a);
    free(a->v);
    *a = s->a[--s->n];
}

static void fs_free(fset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->a[i].v);
    s->n = 0;
}

static void fs_scalar(fset *s, const char *name, bl_dtype dt, double v)
{
    farr *a = fs_add(s, name, dt, 0, 0, 0, 0, 0);
    a->v[0] = v;
}

static void fs_save(const fset *s, const char *path)
{
    bl_array arr[64];
    const char *names[64];
    for (int i = 0; i < s->n; i++) {
        const farr *a = &s->a[i];
        bl_array *b = &arr[i];
        memset(b, 0, sizeof *b);
        b->dtype = a->dt;
        b->ndim = a->ndim;
        for (int d = 0; d < a->ndim; d++)
            b->shape[d] = a->shape[d];
        b->count = a->n;
        size_t es = bl_dtype_size(a->dt);
        b->data = calloc(a->n ? a->n : 1, es);
        for (size_t k = 0; k < a->n; k++) {
            switch (a->dt) {
            case BL_DT_F32: ((float *)b->data)[k] = (float)a->v[k]; break;
            case BL_DT_F64: ((double *)b->data)[k] = a->v[k]; break;
            case BL_DT_I32: ((int32_t *)b->data)[k] = (int32_t)a->v[k]; break;
            case BL_DT_I64: ((int64_t *)b->data)[k] = (int64_t)a->v[k]; break;
            case BL_DT_U8:
            case BL_DT_BOOL: ((uint8_t *)b->data)[k] = (uint8_t)a->v[k]; break;
            }
        }
        names[i] = a->name;
    }
    bl_error err;
    int rc = bl_npz_save(path, (size_t)s->n, names, arr, &err);
    for (int i = 0; i < s->n; i++)
        free(arr[i].data);
    if (rc)
        fail_msg("npz_save: %s", err.msg);
}

/* Values as they will be read back (float32 arrays round). */
static double val(const farr *a, size_t i)
{
    return a->dt == BL_DT_F32 ? (double)(float)a->v[i] : a->v[i];
}

/* ---- random float networks ------------------------------------------- */

enum { TORCH = 0, KERAS = 1 };

typedef struct {
    const char *spec;
    int layout;          /* TORCH / KERAS                                */
    int chw;             /* the float model flattens C,H,W               */
    int bn_first;        /* float model: conv -> BN -> sign -> pool      */
    int neg_gamma_pool;  /* allow gamma < 0 in BNs that follow a pool    */
    int biases, out_bn;
    bl_dtype dt;
    float scale;
    int zero;
} netopts;

/* Float arrays for the architecture of `skel` (from bl_model_from_spec). */
static void make_net(const bl_model *skel, const netopts *o, fset *s)
{
    memset(s, 0, sizeof *s);
    double prev_n = 1;
    for (uint32_t i = 0; i < skel->nlayers; i++) {
        const bl_layer *l = &skel->layers[i];
        char nm[96];
        if (l->weights) {
            size_t R = l->rows;
            farr *w;
            snprintf(nm, sizeof nm, "%s.weight", l->name);
            if (l->kind == BL_LAYER_DENSE)
                w = o->layout == TORCH ? fs_add(s, nm, o->dt, 2, R, l->cols, 0, 0)
                                       : fs_add(s, nm, o->dt, 2, l->cols, R, 0, 0);
            else
                w = o->layout == TORCH ? fs_add(s, nm, o->dt, 4, R, l->in.c, 3, 3)
                                       : fs_add(s, nm, o->dt, 4, 3, 3, l->in.c, R);
            for (size_t k = 0; k < w->n; k++) {
                uint64_t r = rnd() % 40;
                w->v[k] = r == 0 ? 0.0 : r == 1 ? -0.0 : 2 * unif() - 1;
            }
            double n = l->kind == BL_LAYER_DENSE ? l->cols : 9.0 * l->in.c;
            prev_n = l->real_input ? sqrt(n) * 0.3 : sqrt(n);
            if (o->biases) {
                snprintf(nm, sizeof nm, "%s.bias", l->name);
                farr *b = fs_add(s, nm, o->dt, 1, R, 0, 0, 0);
                for (size_t k = 0; k < R; k++)
                    b->v[k] = normal() * 0.1 * prev_n;
            }
        }
        int is_out = i == skel->nlayers - 1 && o->out_bn;
        if (l->kind == BL_LAYER_THRESH || is_out) {
            size_t C = l->out.c;
            const char *p = is_out ? "out" : l->name;
            int after_pool = i > 0 && skel->layers[i - 1].kind == BL_LAYER_MAXPOOL2;
            snprintf(nm, sizeof nm, "%s.weight", p);
            farr *g = fs_add(s, nm, o->dt, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "%s.bias", p);
            farr *be = fs_add(s, nm, o->dt, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "%s.running_mean", p);
            farr *mu = fs_add(s, nm, o->dt, 1, C, 0, 0, 0);
            snprintf(nm, sizeof nm, "%s.running_var", p);
            farr *var = fs_add(s, nm, o->dt, 1, C, 0, 0, 0);
            for (size_t k = 0; k < C; k++) {
                uint64_t r = rnd() % 16;
                double mag = 0.5 + 1.5 * unif();
                int neg = r < 4 && (!after_pool || o->neg_gamma_pool) && !is_out;
                g->v[k] = r == 15 && !is_out ? 0.0 : neg ? -mag : mag;
                /* the output batch norm only mildly rescales, so classes vary */
                double spread = is_out ? 0.1 : 0.5;
                be->v[k] = normal() * spread;
                mu->v[k] = normal() * spread * prev_n + (after_pool ? 0.5 * prev_n : 0);
                var->v[k] = (is_out ? 0.5 + unif() : 0.05 + unif()) * prev_n * prev_n;
            }
            if (rnd() & 1) {
                snprintf(nm, sizeof nm, "%s.eps", p);
                fs_scalar(s, nm, BL_DT_F64, 1e-3);
            }
            if (!is_out) {
                snprintf(nm, sizeof nm, "%s.num_batches_tracked", p);
                fs_scalar(s, nm, BL_DT_I64, 1234);
            }
            prev_n = 1;
        }
    }
    fs_scalar(s, "input.scale", BL_DT_F32, o->scale);
    fs_scalar(s, "input.zero", BL_DT_I64, o->zero);
}

/* ---- the float forward pass (CHW tensors, as PyTorch computes) -------- */

static double bn_eval(fset *s, const char *p, size_t c, double z)
{
    char nm[96];
    snprintf(nm, sizeof nm, "%s.weight", p);
    farr *g = fs_get(s, nm);
    snprintf(nm, sizeof nm, "%s.bias", p);
    farr *b = fs_get(s, nm);
    snprintf(nm, sizeof nm, "%s.running_mean", p);
    farr *mu = fs_get(s, nm);
    snprintf(nm, sizeof nm, "%s.running_var", p);
    farr *var = fs_get(s, nm);
    snprintf(nm, sizeof nm, "%s.eps", p);
    farr *e = fs_get(s, nm);
    double eps = e ? val(e, 0) : 1e-5;
    double sd = sqrt(val(var, c) + eps);
    return (g ? val(g, c) : 1.0) * (z - val(mu, c)) / sd + (b ? val(b, c) : 0.0);
}

static double sgn(double w) { return w >= 0 ? 1.0 : -1.0; }

/* Returns the class; acts[li] (HWC, +-1) filled for every THRESH layer. */
static int float_forward(const bl_model *skel, fset *s, const netopts *o, const uint8_t *q,
                         int8_t **acts, double *scores)
{
    bl_shape sh = skel->input;
    size_t H = sh.h, W = sh.w, C = sh.c;
    double scale = (double)o->scale;
    double *t = malloc(H * W * C * sizeof *t); /* CHW, or a flat vector */
    for (size_t c = 0; c < C; c++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < W; x++)
                t[(c * H + y) * W + x] = ((double)q[(y * W + x) * C + c] - o->zero) * scale;
    int flat = H * W == 1, done_bn = 0, cls = 0;
    for (uint32_t li = 0; li < skel->nlayers; li++) {
        const bl_layer *l = &skel->layers[li];
        char nm[96];
        if (l->kind == BL_LAYER_FLATTEN || (l->kind == BL_LAYER_DENSE && !flat)) {
            double *v = malloc(H * W * C * sizeof *v);
            for (size_t c = 0; c < C; c++)
                for (size_t p = 0; p < H * W; p++)
                    v[o->chw ? c * H * W + p : p * C + c] = t[c * H * W + p];
            free(t);
            t = v;
            C = H * W * C;
            H = W = 1;
            flat = 1;
            if (l->kind == BL_LAYER_FLATTEN)
                continue;
        }
        if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3) {
            snprintf(nm, sizeof nm, "%s.weight", l->name);
            farr *w = fs_get(s, nm);
            snprintf(nm, sizeof nm, "%s.bias", l->name);
            farr *b = fs_get(s, nm);
            size_t R = l->rows;
            double *z;
            if (l->kind == BL_LAYER_DENSE) {
                z = calloc(R, sizeof *z);
                for (size_t r = 0; r < R; r++) {
                    double acc = 0;
                    for (size_t j = 0; j < C; j++)
                        acc += sgn(val(w, o->layout == TORCH ? r * C + j : j * R + r)) * t[j];
                    z[r] = acc + (b ? val(b, r) : 0.0);
                }
                C = R;
            } else {
                z = calloc(R * H * W, sizeof *z);
                for (size_t r = 0; r < R; r++)
                    for (size_t y = 0; y < H; y++)
                        for (size_t x = 0; x < W; x++) {
                            double acc = 0;
                            for (size_t i = 0; i < C; i++)
                                for (int ky = 0; ky < 3; ky++)
                                    for (int kx = 0; kx < 3; kx++) {
                                        long yy = (long)y + ky - 1, xx = (long)x + kx - 1;
                                        if (yy < 0 || xx < 0 || yy >= (long)H || xx >= (long)W)
                                            continue;
                                        size_t wi = o->layout == TORCH
                                                        ? ((r * C + i) * 3 + (size_t)ky) * 3 + (size_t)kx
                                                        : (((size_t)ky * 3 + (size_t)kx) * C + i) * R + r;
                                        acc += sgn(val(w, wi)) * t[(i * H + (size_t)yy) * W + (size_t)xx];
                                    }
                            z[(r * H + y) * W + x] = acc + (b ? val(b, r) : 0.0);
                        }
                C = R;
                /* conv -> BN -> sign -> pool: apply the BN that betlab
                 * places after the pool now */
                if (o->bn_first && li + 2 < skel->nlayers &&
                    skel->layers[li + 1].kind == BL_LAYER_MAXPOOL2) {
                    const char *bn = skel->layers[li + 2].name;
                    for (size_t c = 0; c < C; c++)
                        for (size_t p = 0; p < H * W; p++)
                            z[c * H * W + p] = bn_eval(s, bn, c, z[c * H * W + p]) >= 0 ? 1 : -1;
                    done_bn = 1;
                }
            }
            free(t);
            t = z;
        } else if (l->kind == BL_LAYER_MAXPOOL2) {
            size_t h2 = H / 2, w2 = W / 2;
            double *z = malloc(C * h2 * w2 * sizeof *z);
            for (size_t c = 0; c < C; c++)
                for (size_t y = 0; y < h2; y++)
                    for (size_t x = 0; x < w2; x++) {
                        double mx = -INFINITY;
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++) {
                                double v = t[(c * H + 2 * y + (size_t)dy) * W + 2 * x + (size_t)dx];
                                mx = v > mx ? v : mx;
                            }
                        z[(c * h2 + y) * w2 + x] = mx;
                    }
            free(t);
            t = z;
            H = h2;
            W = w2;
        } else if (l->kind == BL_LAYER_THRESH) {
            for (size_t c = 0; c < C; c++)
                for (size_t p = 0; p < H * W; p++) {
                    double *v = &t[c * H * W + p];
                    if (!done_bn)
                        *v = bn_eval(s, l->name, c, *v) >= 0 ? 1 : -1;
                    acts[li][p * C + c] = (int8_t)*v;
                }
            done_bn = 0;
        }
    }
    /* output */
    int has_out = fs_get(s, "out.running_mean") != NULL;
    double best = -INFINITY;
    for (size_t k = 0; k < C; k++) {
        double v = has_out ? bn_eval(s, "out", k, t[k]) : t[k];
        scores[k] = v;
        if (v > best) {
            best = v;
            cls = (int)k;
        }
    }
    free(t);
    return cls;
}

/* ---- a plain integer forward pass over the packed model --------------- */

static int int_forward(const bl_model *m, const uint8_t *q, int8_t **acts)
{
    size_t n = bl_shape_size(m->input);
    int64_t *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int64_t)q[i] - m->input_zero;
    int cls = 0;
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        size_t on = bl_shape_size(l->out);
        int64_t *y = calloc(on, sizeof *y);
        if (l->kind == BL_LAYER_DENSE) {
            for (uint32_t r = 0; r < l->rows; r++) {
                const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
                for (uint32_t j = 0; j < l->cols; j++)
                    y[r] += bl_bit_get(row, j) ? x[j] : -x[j];
            }
        } else if (l->kind == BL_LAYER_CONV3) {
            uint32_t H = l->in.h, W = l->in.w, C = l->in.c;
            for (uint32_t yy = 0; yy < H; yy++)
                for (uint32_t xx = 0; xx < W; xx++)
                    for (uint32_t r = 0; r < l->rows; r++) {
                        const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
                        int64_t acc = 0;
                        for (int t = 0; t < 9; t++) {
                            long sy = (long)yy + t / 3 - 1, sx = (long)xx + t % 3 - 1;
                            if (sy < 0 || sx < 0 || sy >= (long)H || sx >= (long)W)
                                continue;
                            for (uint32_t c = 0; c < C; c++) {
                                int64_t v = x[((size_t)sy * W + (size_t)sx) * C + c];
                                acc += bl_bit_get(row, (size_t)t * l->words_per_tap * 64 + c) ? v : -v;
                            }
                        }
                        y[((size_t)yy * W + xx) * l->rows + r] = acc;
                    }
        } else if (l->kind == BL_LAYER_MAXPOOL2) {
            uint32_t W = l->in.w, C = l->in.c;
            for (uint32_t yy = 0; yy < l->out.h; yy++)
                for (uint32_t xx = 0; xx < l->out.w; xx++)
                    for (uint32_t c = 0; c < C; c++) {
                        int64_t mx = INT64_MIN;
                        for (int d = 0; d < 4; d++) {
                            int64_t v = x[((size_t)(2 * yy + d / 2) * W + 2 * xx + d % 2) * C + c];
                            mx = v > mx ? v : mx;
                        }
                        y[((size_t)yy * l->out.w + xx) * C + c] = mx;
                    }
        } else if (l->kind == BL_LAYER_THRESH) {
            uint32_t C = l->out.c;
            for (size_t i = 0; i < on; i++) {
                int on1 = l->dir[i % C] > 0 ? x[i] >= l->tau[i % C] : x[i] <= l->tau[i % C];
                y[i] = on1 ? 1 : -1;
                acts[li][i] = (int8_t)y[i];
            }
        } else {
            memcpy(y, x, on * sizeof *y);
        }
        free(x);
        x = y;
    }
    const bl_layer *last = &m->layers[m->nlayers - 1];
    float best = -INFINITY;
    for (uint32_t k = 0; k < last->rows; k++) {
        float v = last->out_scale ? (float)x[k] * last->out_scale[k] + last->out_bias[k]
                                  : (float)x[k];
        if (v > best) {
            best = v;
            cls = (int)k;
        }
    }
    free(x);
    return cls;
}

/* ---- the comparison ---------------------------------------------------- */

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bl_test_import.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void npz_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* Import a random net and compare on `ninputs` random inputs. */
static void check_net(const netopts *o, uint64_t seed, int ninputs)
{
    rng_state = seed;
    bl_model *skel;
    bl_error err;
    assert_int_equal(bl_model_from_spec(o->spec, NULL, &skel, &err), 0);
    fset s;
    make_net(skel, o, &s);
    /* declare the flatten order when it is not the layout's default, and
     * sometimes when it is */
    if (o->chw != (o->layout == TORCH) || (rnd() & 1))
        fs_scalar(&s, "flatten_chw", BL_DT_U8, o->chw);
    if (!o->bn_first)
        fs_scalar(&s, "bn_before_pool", BL_DT_BOOL, 0);
    if (rnd() & 1)
        fs_scalar(&s, "layout", BL_DT_I32, o->layout);
    char path[512];
    npz_path(path, sizeof path, "net.npz");
    fs_save(&s, path);
    bl_model *m;
    if (bl_model_import_npz(path, o->spec, &m, &err))
        fail_msg("import %s: %s", o->spec, err.msg);
    assert_int_equal(bl_model_validate(m, &err), 0);
    assert_int_equal(!!m->layers[m->nlayers - 1].out_scale, o->out_bn || o->biases);
    assert_string_equal(bl_model_meta_get(m, "import.spec"), o->spec);
    assert_memory_equal(&m->input_scale, &o->scale, 4);

    int8_t *fa[64] = { 0 }, *ia[64] = { 0 };
    for (uint32_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == BL_LAYER_THRESH) {
            fa[i] = calloc(bl_shape_size(m->layers[i].out), 1);
            ia[i] = calloc(bl_shape_size(m->layers[i].out), 1);
        }
    size_t n = bl_shape_size(m->input);
    uint8_t *q = malloc(n);
    double scores[4096];
    int hist[64] = { 0 }, near_ties = 0, ic_last = -1;
    size_t flips_seen = 0, on_seen = 0;
    for (int it = 0; it < ninputs; it++) {
        /* images with their own brightness and contrast, so that
         * thresholds are crossed in every layer */
        double mean = 255 * unif(), amp = 120 * unif();
        for (size_t i = 0; i < n; i++) {
            double v = mean + amp * normal();
            q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        int fc = float_forward(skel, &s, o, q, fa, scores);
        int ic = int_forward(m, q, ia);
        for (uint32_t i = 0; i < m->nlayers; i++)
            if (fa[i]) {
                size_t on = bl_shape_size(m->layers[i].out);
                for (size_t k = 0; k < on; k++) {
                    if (fa[i][k] != ia[i][k])
                        fail_msg("%s input %d: layer %s element %zu: float %d, imported %d",
                                 o->spec, it, m->layers[i].name, k, fa[i][k], ia[i][k]);
                    on_seen += fa[i][k] > 0;
                    flips_seen++;
                }
            }
        if (fc != ic) {
            /* only a float32-vs-double near tie of the output affine may differ */
            double gap = fabs(scores[fc] - scores[ic]);
            if (!(gap < 1e-4 * (1 + fabs(scores[fc]))))
                fail_msg("%s input %d: float class %d, imported %d", o->spec, it, fc, ic);
            near_ties++;
        }
        hist[fc]++;
        ic_last = ic;
    }
    assert_true(near_ties <= ninputs / 50);
    /* the test is only meaningful if activations and classes vary */
    assert_true(on_seen > flips_seen / 10 && on_seen < flips_seen * 9 / 10);
    int classes = 0;
    for (int k = 0; k < 64; k++)
        classes += hist[k] > 0;
    if (classes < 2)
        fail_msg("%s seed %llu: every input gave class %d", o->spec, (unsigned long long)seed, ic_last);
    for (int i = 0; i < 64; i++) {
        free(fa[i]);
        free(ia[i]);
    }
    free(q);
    bl_model_free(m);
    bl_model_free(skel);
    fs_free(&s);
}

static void test_dense_torch(void **state)
{
    (void)state;
    netopts o = { "20-16-12-5", TORCH, 1, 1, 1, 1, 1, BL_DT_F32, 1.0f / 255, 0 };
    check_net(&o, 1, 300);
    o.biases = 0;
    o.out_bn = 0;
    o.dt = BL_DT_F64;
    o.scale = 0.0123f;
    o.zero = 17;
    check_net(&o, 2, 300);
    o.spec = "70-65-3"; /* words with padding */
    o.out_bn = 1;
    check_net(&o, 3, 200);
    /* a dense first layer on a 3-channel image: PyTorch flattens C,H,W */
    o.spec = "4x4x3-48-10-5";
    check_net(&o, 31, 200);
}

static void test_dense_keras(void **state)
{
    (void)state;
    netopts o = { "20-16-12-5", KERAS, 0, 1, 1, 1, 1, BL_DT_F32, 1.0f / 255, 0 };
    check_net(&o, 4, 300);
    o.spec = "4x4x3-48-10-5";
    check_net(&o, 41, 200);
}

static void test_conv_torch(void **state)
{
    (void)state;
    /* conv -> pool -> BN -> sign: exact for every gamma sign */
    netopts o = { "8x8x3-c5-p-c4-p-24-3", TORCH, 1, 0, 1, 1, 1, BL_DT_F32, 1.0f / 255, 0 };
    check_net(&o, 5, 200);
    /* conv -> BN -> sign -> pool with gamma > 0 after pools (the default) */
    o.bn_first = 1;
    o.neg_gamma_pool = 0;
    o.dt = BL_DT_F64;
    check_net(&o, 6, 200);
    /* conv without pool, two convs, 65 channels (two words per tap) */
    netopts o2 = { "5x6x2-c65-c3-p-9-4", TORCH, 1, 0, 1, 0, 1, BL_DT_F32, 0.5f, 128 };
    check_net(&o2, 7, 100);
}

static void test_conv_keras(void **state)
{
    (void)state;
    netopts o = { "8x8x3-c5-p-c4-p-24-3", KERAS, 0, 0, 1, 1, 1, BL_DT_F32, 1.0f / 255, 0 };
    check_net(&o, 8, 200);
    /* Keras weights but a CHW flatten, declared */
    o.chw = 1;
    o.neg_gamma_pool = 0;
    o.bn_first = 1;
    check_net(&o, 9, 200);
}

/* ---- folding at exact boundaries ------------------------------------ */

static void bn_arrays(fset *s, const char *p, int n, const double *g, const double *b,
                      const double *mu, const double *var)
{
    char nm[64];
    const double *src[4] = { g, b, mu, var };
    const char *suf[4] = { "weight", "bias", "running_mean", "running_var" };
    for (int k = 0; k < 4; k++) {
        snprintf(nm, sizeof nm, "%s.%s", p, suf[k]);
        farr *a = fs_add(s, nm, BL_DT_F64, 1, (size_t)n, 0, 0, 0);
        memcpy(a->v, src[k], (size_t)n * sizeof(double));
    }
}

static void test_fold_exact(void **state)
{
    (void)state;
    /* "4-8-2": bn1 has 8 channels; input scale 0.5 so the real-input
     * pre-activation in float is 0.5 * a.  eps 0 with var 1: sd = 1. */
    fset s = { 0 };
    farr *w = fs_add(&s, "fc1.weight", BL_DT_F32, 2, 8, 4, 0, 0);
    for (size_t k = 0; k < w->n; k++)
        w->v[k] = (k % 3) == 0 ? -1 : 1;
    w = fs_add(&s, "fc2.weight", BL_DT_F32, 2, 2, 8, 0, 0);
    for (size_t k = 0; k < w->n; k++)
        w->v[k] = (k % 2) ? -0.5 : 0.0; /* zeros count as +1 */
    double g[8] = { 1, -2, 0, 0, 1, -1, 1, 1 };
    double b[8] = { 0, 0, -1, 0, 0, 0, 0.25, -1e30 };
    double mu[8] = { 2.5, 2.5, 0, 0, 2.75, 2.75, 1e12, 0 };
    double var[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    bn_arrays(&s, "bn1", 8, g, b, mu, var);
    fs_scalar(&s, "bn1.eps", BL_DT_F64, 0);
    fs_scalar(&s, "input.scale", BL_DT_F64, 0.5);
    char path[512];
    npz_path(path, sizeof path, "fold.npz");
    fs_save(&s, path);
    bl_model *m;
    bl_error err;
    if (bl_model_import_npz(path, "4-8-2", &m, &err))
        fail_msg("%s", err.msg);
    const bl_layer *bn = &m->layers[1];
    /* a >= 5 exactly (0.5*5 - 2.5 = 0 -> +1) */
    assert_int_equal(bn->tau[0], 5);
    assert_int_equal(bn->dir[0], 1);
    /* gamma < 0: a <= 5 */
    assert_int_equal(bn->tau[1], 5);
    assert_int_equal(bn->dir[1], -1);
    /* gamma 0, beta -1: always off;  gamma 0, beta 0: always on */
    assert_int_equal(bn->tau[2], INT32_MIN);
    assert_int_equal(bn->dir[2], -1);
    assert_int_equal(bn->tau[3], INT32_MIN);
    assert_int_equal(bn->dir[3], 1);
    /* 0.5 a >= 2.75 -> a >= 5.5 -> 6;  gamma < 0: a <= 5 */
    assert_int_equal(bn->tau[4], 6);
    assert_int_equal(bn->dir[4], 1);
    assert_int_equal(bn->tau[5], 5);
    assert_int_equal(bn->dir[5], -1);
    /* out of int32 range: clamped */
    assert_int_equal(bn->tau[6], INT32_MAX);
    assert_int_equal(bn->dir[6], 1);
    assert_int_equal(bn->tau[7], INT32_MAX);
    /* weights: sign with w >= 0 -> bit 1 */
    const bl_layer *f1 = &m->layers[0], *f2 = &m->layers[2];
    for (uint32_t r = 0; r < 8; r++)
        for (uint32_t j = 0; j < 4; j++)
            assert_int_equal(bl_bit_get(f1->weights + r, j), ((r * 4 + j) % 3) != 0);
    for (uint32_t r = 0; r < 2; r++)
        for (uint32_t j = 0; j < 8; j++)
            assert_int_equal(bl_bit_get(f2->weights + r, j), ((r * 8 + j) % 2) == 0);
    assert_null(f2->out_scale);
    assert_true(m->input_scale == 0.5f);
    bl_model_free(m);
    fs_free(&s);
}

/* ---- malformed archives ------------------------------------------------ */

static fset base_set(const char *spec, uint64_t seed)
{
    rng_state = seed;
    bl_model *skel;
    bl_error err;
    assert_int_equal(bl_model_from_spec(spec, NULL, &skel, &err), 0);
    netopts o = { spec, TORCH, 1, 0, 0, 1, 0, BL_DT_F32, 1.0f / 255, 0 };
    fset s;
    make_net(skel, &o, &s);
    bl_model_free(skel);
    return s;
}

static int try_import(fset *s, const char *spec, bl_error *err)
{
    char path[512];
    npz_path(path, sizeof path, "bad.npz");
    fs_save(s, path);
    bl_model *m = (bl_model *)1;
    int rc = bl_model_import_npz(path, spec, &m, err);
    if (rc == 0) {
        bl_model_free(m);
    } else {
        assert_null(m);
        assert_non_null(strstr(err->msg, "bad.npz"));
        assert_int_equal(strncmp(err->msg, tmpdir, strlen(tmpdir)), 0);
    }
    return rc;
}

static void expect(fset *s, const char *spec, int code, const char *a, const char *b)
{
    bl_error err;
    int rc = try_import(s, spec, &err);
    if (rc != code)
        fail_msg("expected rc %d, got %d: %s", code, rc, rc ? err.msg : "(imported)");
    if (a && !strstr(err.msg, a))
        fail_msg("message lacks '%s': %s", a, err.msg);
    if (b && !strstr(err.msg, b))
        fail_msg("message lacks '%s': %s", b, err.msg);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *spec = "6x6x2-c3-p-5-3";
    fset s = base_set(spec, 11);
    expect(&s, spec, 0, NULL, NULL);
    /* missing arrays */
    const char *req[] = { "conv1.weight", "fc1.weight", "fc2.weight", "bn1.running_mean",
                          "bn2.running_var" };
    for (int k = 0; k < 5; k++) {
        fset t = base_set(spec, 11);
        fs_del(&t, req[k]);
        expect(&t, spec, BL_ENOTFOUND, req[k], "missing");
        fs_free(&t);
    }
    /* optional ones may go */
    {
        fset t = base_set(spec, 11);
        fs_del(&t, "bn1.weight");
        fs_del(&t, "bn2.bias");
        fs_del(&t, "conv1.bias");
        fs_del(&t, "input.scale");
        fs_del(&t, "input.zero");
        expect(&t, spec, 0, NULL, NULL);
        fs_free(&t);
    }
    /* wrong shapes: the message names expected and actual */
    {
        fset t = base_set(spec, 11);
        farr *a = fs_get(&t, "fc1.weight");
        a->shape[0] = 4; /* [4, 27] instead of [5, 27] */
        a->n = 4 * 27;
        expect(&t, spec, BL_EFORMAT, "'fc1.weight' has shape [4, 27]", "[5, 27]");
        fs_free(&t);
        t = base_set(spec, 11);
        a = fs_get(&t, "conv1.weight");
        a->shape[2] = 9;
        a->shape[3] = 1;
        expect(&t, spec, BL_EFORMAT, "[3, 2, 9, 1]", "[3, 2, 3, 3]");
        fs_free(&t);
        t = base_set(spec, 11);
        a = fs_get(&t, "bn1.running_var");
        a->ndim = 2;
        a->shape[1] = 1;
        expect(&t, spec, BL_EFORMAT, "'bn1.running_var' has shape [3, 1]", "expected [3]");
        fs_free(&t);
        t = base_set(spec, 11);
        a = fs_get(&t, "input.scale");
        a->ndim = 1;
        a->shape[0] = 1;
        expect(&t, spec, 0, NULL, NULL); /* [1] is a scalar too */
        fs_free(&t);
    }
    /* NaN and infinity */
    {
        fset t = base_set(spec, 11);
        fs_get(&t, "fc1.weight")->v[7] = NAN;
        expect(&t, spec, BL_EFORMAT, "'fc1.weight' element 7", "not finite");
        fs_free(&t);
        t = base_set(spec, 11);
        fs_get(&t, "bn2.bias")->v[1] = INFINITY;
        expect(&t, spec, BL_EFORMAT, "'bn2.bias' element 1", "not finite");
        fs_free(&t);
    }
    /* negative variance, bad eps, bad input encoding */
    {
        fset t = base_set(spec, 11);
        fs_get(&t, "bn2.running_var")->v[3] = -0.5;
        expect(&t, spec, BL_EFORMAT, "'bn2.running_var' channel 3", "negative");
        fs_free(&t);
        t = base_set(spec, 11);
        fs_get(&t, "bn2.running_var")->v[0] = 0;
        fs_scalar(&t, "bn2.eps", BL_DT_F32, 0);
        expect(&t, spec, BL_EFORMAT, "channel 0", "zero");
        fs_free(&t);
        t = base_set(spec, 11);
        fs_get(&t, "input.scale")->v[0] = -1;
        expect(&t, spec, BL_EFORMAT, "input.scale", NULL);
        fs_free(&t);
        t = base_set(spec, 11);
        fs_get(&t, "input.zero")->v[0] = 300;
        expect(&t, spec, BL_EFORMAT, "input.zero", NULL);
        fs_free(&t);
    }
    /* dtypes */
    {
        fset t = base_set(spec, 11);
        fs_get(&t, "fc2.weight")->dt = BL_DT_I32;
        expect(&t, spec, BL_EUNSUPPORTED, "'fc2.weight' has dtype", "float32 or float64");
        fs_free(&t);
    }
    /* arrays the architecture does not use */
    {
        fset t = base_set(spec, 11);
        fs_add(&t, "fc3.weight", BL_DT_F32, 2, 3, 3, 0, 0);
        expect(&t, spec, BL_EFORMAT, "'fc3.weight' is not used", spec);
        fs_free(&t);
        t = base_set(spec, 11);
        fs_add(&t, "bn1.runing_mean", BL_DT_F32, 1, 3, 0, 0, 0);
        expect(&t, spec, BL_EFORMAT, "bn1.runing_mean", NULL);
        fs_free(&t);
    }
    /* gamma < 0 after a pool without bn_before_pool = 0 */
    {
        fset t = base_set(spec, 11);
        fs_get(&t, "bn1.weight")->v[2] = -1;
        expect(&t, spec, BL_EUNSUPPORTED, "bn1 channel 2", "bn_before_pool");
        fs_scalar(&t, "bn_before_pool", BL_DT_I64, 0);
        expect(&t, spec, 0, NULL, NULL);
        fs_free(&t);
        t = base_set(spec, 11);
        fs_scalar(&t, "bn_before_pool", BL_DT_F32, 0.5);
        expect(&t, spec, BL_EFORMAT, "bn_before_pool", "0 or 1");
        fs_free(&t);
    }
    /* layout declared but contradicted by a shape */
    {
        fset t = base_set(spec, 11);
        fs_scalar(&t, "layout", BL_DT_U8, 1);
        expect(&t, spec, BL_EFORMAT, "'conv1.weight'", "Keras");
        fs_free(&t);
    }
    /* bad spec, missing file */
    {
        expect(&s, "6x6x2-q3", BL_EINVAL, "spec", NULL);
        bl_model *m;
        bl_error err;
        assert_int_equal(bl_model_import_npz("/nonexistent/x.npz", spec, &m, &err), BL_ENOTFOUND);
        assert_null(m);
        assert_non_null(strstr(err.msg, "/nonexistent/x.npz"));
    }
    fs_free(&s);
}

static void test_layout_ambiguity(void **state)
{
    (void)state;
    /* square dense layers only: both layouts fit */
    const char *spec = "8-8-8";
    fset s = base_set(spec, 12);
    expect(&s, spec, BL_EFORMAT, "layout", "both");
    fs_scalar(&s, "layout", BL_DT_I64, 0);
    expect(&s, spec, 0, NULL, NULL);
    fs_free(&s);
    /* mixed layouts */
    spec = "6-4-3";
    s = base_set(spec, 13);
    farr *a = fs_get(&s, "fc2.weight"); /* [3, 4] -> [4, 3] */
    a->shape[0] = 4;
    a->shape[1] = 3;
    expect(&s, spec, BL_EFORMAT, "'fc2.weight' is in Keras layout", NULL);
    fs_free(&s);
}

/* ---- the numpy-written fixture (tests/data/make_npz_fixture.py) -------- */

static void test_numpy_fixture(void **state)
{
    (void)state;
    /* Values as the script defines them:
     *   fc1.weight[r, j] = ((r*7 + j*3) % 5) - 2        shape [4, 6] float32
     *   fc1.bias[r]      = 0.25 * r                      float32
     *   bn1.weight       = [1, -1, 0.5, 0]; bn1.bias = [0, 0.5, -0.5, -1]
     *   bn1.running_mean = r - 1.5;  bn1.running_var = r + 0.5   float64
     *   fc2.weight[r, j] = ((r + 2*j) % 3) - 1           shape [3, 4] float32
     *   input.scale = 1/64 (float32), input.zero = 10 (int64)
     *   bn1.num_batches_tracked (int64), ignored */
    const char *paths[] = { "tests/data/import_6-4-3.npz", "tests/data/import_6-4-3_compressed.npz" };
    for (int p = 0; p < 2; p++) {
        bl_model *m;
        bl_error err;
        if (bl_model_import_npz(paths[p], "6-4-3", &m, &err))
            fail_msg("%s", err.msg);
        assert_true(m->input_scale == 1.0f / 64);
        assert_int_equal(m->input_zero, 10);
        const bl_layer *f1 = &m->layers[0], *bn = &m->layers[1], *f2 = &m->layers[2];
        for (uint32_t r = 0; r < 4; r++)
            for (uint32_t j = 0; j < 6; j++)
                assert_int_equal(bl_bit_get(f1->weights + r, j), (int)((r * 7 + j * 3) % 5) - 2 >= 0);
        for (uint32_t r = 0; r < 3; r++)
            for (uint32_t j = 0; j < 4; j++)
                assert_int_equal(bl_bit_get(f2->weights + r, j), (int)((r + 2 * j) % 3) - 1 >= 0);
        double g[4] = { 1, -1, 0.5, 0 }, b[4] = { 0, 0.5, -0.5, -1 };
        for (int c = 0; c < 4; c++) {
            double mu = c - 1.5, sd = sqrt(c + 0.5 + 1e-5), bias = 0.25 * c;
            /* check tau is the exact boundary of the float predicate */
            int32_t t = bn->tau[c];
            int8_t d = bn->dir[c];
            for (int64_t a = -2000; a <= 2000; a++) {
                double z = (1.0 / 64) * (double)a + bias;
                int want = g[c] * (z - mu) / sd + b[c] >= 0;
                int got = d > 0 ? a >= t : a <= t;
                if (want != got)
                    fail_msg("%s: bn1 channel %d at a = %lld: float %d, tau %d dir %d", paths[p],
                             c, (long long)a, want, t, d);
            }
        }
        assert_null(f2->out_scale);
        bl_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_torch),
        cmocka_unit_test(test_dense_keras),
        cmocka_unit_test(test_conv_torch),
        cmocka_unit_test(test_conv_keras),
        cmocka_unit_test(test_fold_exact),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_layout_ambiguity),
        cmocka_unit_test(test_numpy_fixture),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
