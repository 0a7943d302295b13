/* train_net.c - the trainer's network: building it from the model spec,
 * buffers, initialisation, the training forward/backward pass, the eval
 * forward pass with folded thresholds, BN folding and the Adam step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "bnn/train_internal.h"

static int param_alloc(tr_param *p, size_t n, int clip)
{
    p->n = n;
    p->clip = clip;
    p->w = bl_alloc(n * sizeof(float));
    p->wb = bl_alloc(n * sizeof(float)); /* sign(w): the binarized weights */
    p->g = bl_alloc(n * sizeof(float));
    p->m = bl_alloc(n * sizeof(float));
    p->v = bl_alloc(n * sizeof(float));
    return p->w && p->g && p->m && p->v && p->wb ? 0 : BL_ENOMEM;
}

static void param_free(tr_param *p)
{
    bl_free(p->w);
    bl_free(p->g);
    bl_free(p->m);
    bl_free(p->v);
    bl_free(p->wb);
    memset(p, 0, sizeof *p);
}

int tr_net_build(bl_trainer *t, bl_error *err)
{
    bl_model *m = t->arch;
    t->nl = (int)m->nlayers;
    t->L = calloc((size_t)t->nl, sizeof *t->L);
    if (!t->L)
        return bl_error_set(err, BL_ENOMEM, "trainer: out of memory");
    int rc = 0;
    float unit = 1.0f;
    for (int i = 0; i < t->nl && rc == 0; i++) {
        const bl_layer *ml = &m->layers[i];
        tr_layer *l = &t->L[i];
        l->kind = ml->kind;
        l->index = i;
        l->in_size = bl_shape_size(ml->in);
        l->out_size = bl_shape_size(ml->out);
        switch (ml->kind) {
        case BL_LAYER_DENSE:
        case BL_LAYER_CONV3:
            l->real_input = ml->real_input;
            l->rows = ml->rows;
            l->cols = ml->cols;
            l->h = ml->in.h;
            l->w = ml->in.w;
            l->cin = ml->in.c;
            unit = ml->real_input ? m->input_scale : 1.0f;
            rc = param_alloc(&l->W, (size_t)l->rows * l->cols, 1);
            if (rc)
                break;
            l->wb = l->W.wb;
            l->flipmask = bl_alloc(((l->W.n + 63) / 64) * sizeof(uint64_t));
            if (!l->wb || !l->flipmask)
                rc = BL_ENOMEM;
            break;
        case BL_LAYER_THRESH: {
            uint32_t c = ml->out.c;
            l->unit = unit;
            rc = param_alloc(&l->gamma, c, 0);
            if (!rc)
                rc = param_alloc(&l->beta, c, 0);
            if (rc)
                break;
            l->rmean = bl_alloc(c * sizeof(float));
            l->rvar = bl_alloc(c * sizeof(float));
            l->bmean = bl_alloc(c * sizeof(float));
            l->binvstd = bl_alloc(c * sizeof(float));
            l->tau = bl_alloc(c * sizeof(int32_t));
            l->dir = bl_alloc(c);
            if (!l->rmean || !l->rvar || !l->bmean || !l->binvstd || !l->tau || !l->dir)
                rc = BL_ENOMEM;
            break;
        }
        default:
            break;
        }
    }
    if (!rc)
        rc = param_alloc(&t->alpha, 1, 0);
    if (rc)
        return bl_error_set(err, BL_ENOMEM, "trainer: out of memory for parameters");
    return 0;
}

static void free_batch_buffers(bl_trainer *t)
{
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        if (l->kind != BL_LAYER_FLATTEN) {
            bl_free(l->y);
            bl_free(l->dy);
        }
        l->y = l->dy = NULL;
        bl_free(l->arg);
        bl_free(l->z);
        bl_free(l->cols_buf);
        bl_free(l->dcols_buf);
        bl_free(l->dW_part);
        l->cols_buf = l->dcols_buf = l->dW_part = NULL;
        l->arg = NULL;
        l->z = NULL;
    }
    bl_free(t->x0);
    t->x0 = NULL;
    t->cap = 0;
}

void tr_net_free(bl_trainer *t)
{
    if (!t->L)
        return;
    free_batch_buffers(t);
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        param_free(&l->W);
        param_free(&l->gamma);
        param_free(&l->beta);
        bl_free(l->flipmask);
        bl_free(l->rmean);
        bl_free(l->rvar);
        bl_free(l->bmean);
        bl_free(l->binvstd);
        bl_free(l->tau);
        bl_free(l->dir);
    }
    param_free(&t->alpha);
    free(t->L);
    t->L = NULL;
}

int tr_net_reserve(bl_trainer *t, size_t batch, bl_error *err)
{
    if (batch <= t->cap)
        return 0;
    free_batch_buffers(t);
    size_t nin = bl_shape_size(t->arch->input);
    t->x0 = bl_alloc(batch * nin * sizeof(float));
    int ok = t->x0 != NULL;
    for (int i = 0; i < t->nl && ok; i++) {
        tr_layer *l = &t->L[i];
        if (l->kind == BL_LAYER_FLATTEN) {
            l->y = t->L[i - 1].y;
            l->dy = t->L[i - 1].dy;
            continue;
        }
        size_t sz = batch * l->out_size * sizeof(float);
        l->y = bl_alloc(sz);
        l->dy = bl_alloc(sz);
        ok = l->y && l->dy;
        if (l->kind == BL_LAYER_MAXPOOL2) {
            l->arg = bl_alloc(batch * l->out_size);
            ok = ok && l->arg;
        }
        if (l->kind == BL_LAYER_THRESH) {
            l->z = bl_alloc(sz);
            ok = ok && l->z;
        }
        if (l->kind == BL_LAYER_CONV3) {
            size_t nth = (size_t)bl_pool_threads(t->pool);
            size_t csz = nth * TR_CONV_CHUNK * l->h * l->w * l->cols * sizeof(float);
            size_t nchunks = (batch + TR_CONV_CHUNK - 1) / TR_CONV_CHUNK;
            l->cols_buf = bl_alloc(csz);
            l->dcols_buf = l->real_input ? NULL : bl_alloc(csz);
            l->dW_part = nchunks > 1 ? bl_alloc((nchunks - 1) * l->W.n * sizeof(float)) : NULL;
            ok = ok && l->cols_buf && (l->real_input || l->dcols_buf) &&
                 (nchunks <= 1 || l->dW_part);
        }
    }
    if (!ok) {
        free_batch_buffers(t);
        return bl_error_set(err, BL_ENOMEM, "trainer: out of memory for a batch of %zu", batch);
    }
    t->cap = batch;
    return 0;
}

void tr_init_params(bl_trainer *t)
{
    uint32_t last_cols = 1;
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        if (l->W.n) {
            bl_rng_stream s = bl_rng_stream_init(t->o.seed, BL_RNG_INIT, (uint32_t)i);
            float a = (float)(1.0 / sqrt((double)l->cols));
            for (size_t k = 0; k < l->W.n; k++)
                l->W.w[k] = (float)(2.0 * bl_rng_stream_uniform(&s) - 1.0) * a;
            last_cols = l->cols;
        }
        if (l->kind == BL_LAYER_THRESH)
            for (size_t c = 0; c < l->gamma.n; c++) {
                l->gamma.w[c] = 1.0f;
                l->beta.w[c] = 0.0f;
                l->rmean[c] = 0.0f;
                l->rvar[c] = 1.0f;
            }
    }
    t->alpha.w[0] = (float)(1.0 / sqrt((double)last_cols));
}

static void load_inputs(bl_trainer *t, const uint8_t *codes, size_t b)
{
    size_t n = b * bl_shape_size(t->arch->input);
    for (size_t i = 0; i < n; i++)
        t->x0[i] = (float)codes[i];
}

static void weight_fwd(bl_trainer *t, tr_layer *l, const float *x, size_t b)
{
    if (l->kind == BL_LAYER_DENSE)
        tr_dense_fwd(t->pool, x, l->wb, b, l->rows, l->cols, l->y);
    else
        tr_conv_fwd(t->pool, x, l->wb, b, l->h, l->w, l->cin, l->rows, l->cols_buf, l->y);
}

double tr_forward_backward_ex(bl_trainer *t, const uint8_t *codes, const int32_t *labels,
                              size_t b, size_t *correct, int update_running)
{
    load_inputs(t, codes, b);
    const float *prev = t->x0;
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        const bl_layer *ml = &t->arch->layers[i];
        switch (l->kind) {
        case BL_LAYER_DENSE:
        case BL_LAYER_CONV3:
            weight_fwd(t, l, prev, b);
            break;
        case BL_LAYER_MAXPOOL2:
            tr_pool_fwd(t->pool, prev, b, ml->in.h, ml->in.w, ml->in.c, l->y, l->arg);
            break;
        case BL_LAYER_THRESH: {
            uint32_t c = ml->out.c;
            size_t m = b * l->out_size / c, n = b * l->out_size;
            (void)n;
            tr_bn_fwd_train(t->pool, prev, l->unit, m, c, l->gamma.w, l->beta.w, l->bmean,
                            l->binvstd, l->z, l->y);
            if (update_running)
                for (uint32_t ch = 0; ch < c; ch++) {
                    double var = 1.0 / ((double)l->binvstd[ch] * l->binvstd[ch]) - TR_BN_EPS;
                    if (var < 0)
                        var = 0;
                    if (m > 1)
                        var *= (double)m / (double)(m - 1);
                    l->rmean[ch] = (1 - TR_BN_MOMENTUM) * l->rmean[ch] + TR_BN_MOMENTUM * l->bmean[ch];
                    l->rvar[ch] = (float)((1 - TR_BN_MOMENTUM) * l->rvar[ch] + TR_BN_MOMENTUM * var);
                }
            break;
        }
        case BL_LAYER_FLATTEN:
            break;
        }
        prev = l->y;
    }
    tr_layer *last = &t->L[t->nl - 1];
    float dalpha = 0;
    double loss = tr_loss(t->o.loss, last->y, labels, b, last->rows, t->alpha.w[0], last->dy,
                          &dalpha, correct);
    t->alpha.g[0] = dalpha;
    for (int i = t->nl - 1; i >= 0; i--) {
        tr_layer *l = &t->L[i];
        const bl_layer *ml = &t->arch->layers[i];
        const float *x = i > 0 ? t->L[i - 1].y : t->x0;
        float *dx = i > 0 ? t->L[i - 1].dy : NULL;
        switch (l->kind) {
        case BL_LAYER_DENSE:
            tr_dense_bwd(t->pool, x, l->wb, l->dy, b, l->rows, l->cols, l->W.g, l->real_input ? NULL : dx);
            break;
        case BL_LAYER_CONV3:
            tr_conv_bwd(t->pool, x, l->wb, l->dy, b, l->h, l->w, l->cin, l->rows, l->cols_buf,
                        l->dcols_buf, l->dW_part, l->W.g, l->real_input ? NULL : dx);
            break;
        case BL_LAYER_MAXPOOL2:
            tr_pool_bwd(t->pool, l->dy, l->arg, b, ml->in.h, ml->in.w, ml->in.c, dx);
            break;
        case BL_LAYER_THRESH: {
            uint32_t c = ml->out.c;
            size_t n = b * l->out_size;
            const float *ste = l->z; /* STE of sign: fused into tr_bn_bwd */
            if (t->o.reg_lambda != 0) { /* the regularizer's gradient comes after the STE */
                for (size_t k = 0; k < n; k++)
                    if (fabsf(l->z[k]) > 1.0f)
                        l->dy[k] = 0.0f;
                loss += tr_margin_reg(l->z, n, t->o.reg_lambda, t->o.reg_b, l->dy);
                ste = NULL;
            }
            tr_bn_bwd(t->pool, x, l->unit, n / c, c, l->gamma.w, l->bmean, l->binvstd, ste, l->dy,
                      l->gamma.g, l->beta.g, dx);
            break;
        }
        case BL_LAYER_FLATTEN:
            break;
        }
    }
    if (t->o.flip_mode == BL_FLIP_EXACT)
        for (int i = 0; i < t->nl; i++) {
            tr_layer *l = &t->L[i];
            if (!l->W.n)
                continue;
            size_t nw = (l->W.n + 63) / 64;
            for (size_t k = 0; k < nw; k++) {
                uint64_t bits = l->flipmask[k];
                while (bits) {
                    int j = __builtin_ctzll(bits);
                    bits &= bits - 1;
                    l->W.g[k * 64 + (size_t)j] = -l->W.g[k * 64 + (size_t)j];
                }
            }
        }
    return loss;
}

double tr_forward_backward(bl_trainer *t, const uint8_t *codes, const int32_t *labels, size_t b,
                           size_t *correct)
{
    return tr_forward_backward_ex(t, codes, labels, b, correct, 1);
}

/* ---- eval ------------------------------------------------------------- */

static int64_t tr_fan_in_bound(const bl_trainer *t, int thresh_index)
{
    for (int k = thresh_index - 1; k >= 0; k--)
        if (t->L[k].W.n)
            return (int64_t)t->L[k].cols * (t->L[k].real_input ? 255 : 1) + 1;
    return 1;
}

void tr_fold_layer(const bl_trainer *t, int i, int32_t *tau, int8_t *dir)
{
    const tr_layer *l = &t->L[i];
    double big = (double)tr_fan_in_bound(t, i);
    for (size_t c = 0; c < l->gamma.n; c++) {
        double g = l->gamma.w[c], be = l->beta.w[c];
        double sd = sqrt((double)l->rvar[c] + TR_BN_EPS);
        if (g == 0) { /* constant output sign(beta) */
            dir[c] = 1;
            tau[c] = (int32_t)(be >= 0 ? -big : big);
            continue;
        }
        /* z >= 0  <=>  unit*a >= mu - beta*sd/gamma (gamma > 0; <= for gamma < 0) */
        double th = ((double)l->rmean[c] - be * sd / g) / (double)l->unit;
        if (!(th > -big))
            th = -big;
        if (!(th < big))
            th = big;
        if (g > 0) {
            dir[c] = 1;
            tau[c] = (int32_t)ceil(th);
        } else {
            dir[c] = -1;
            tau[c] = (int32_t)floor(th);
        }
    }
}

void tr_fold_all(bl_trainer *t)
{
    for (int i = 0; i < t->nl; i++)
        if (t->L[i].kind == BL_LAYER_THRESH)
            tr_fold_layer(t, i, t->L[i].tau, t->L[i].dir);
}

void tr_eval_forward(bl_trainer *t, const uint8_t *codes, size_t b, int32_t *pred)
{
    load_inputs(t, codes, b);
    const float *prev = t->x0;
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        const bl_layer *ml = &t->arch->layers[i];
        switch (l->kind) {
        case BL_LAYER_DENSE:
        case BL_LAYER_CONV3:
            weight_fwd(t, l, prev, b);
            break;
        case BL_LAYER_MAXPOOL2:
            tr_pool_fwd(t->pool, prev, b, ml->in.h, ml->in.w, ml->in.c, l->y, l->arg);
            break;
        case BL_LAYER_THRESH: {
            uint32_t c = ml->out.c;
            size_t n = b * l->out_size;
            for (size_t k = 0; k < n; k++) {
                /* prev holds exact integer pre-activations */
                int32_t a = (int32_t)prev[k];
                size_t ch = k % c;
                int on = l->dir[ch] > 0 ? a >= l->tau[ch] : a <= l->tau[ch];
                l->y[k] = on ? 1.0f : -1.0f;
            }
            break;
        }
        case BL_LAYER_FLATTEN:
            break;
        }
        prev = l->y;
    }
    tr_layer *last = &t->L[t->nl - 1];
    for (size_t i = 0; i < b; i++) {
        const float *s = last->y + i * last->rows;
        uint32_t best = 0;
        for (uint32_t j = 1; j < last->rows; j++)
            if (s[j] > s[best])
                best = j;
        pred[i] = (int32_t)best;
    }
}

/* ---- Adam ---------------------------------------------------------------- */

typedef struct {
    tr_param *p;
    tr_adam_fn fn;
    float lr, bc1, bc2;
} adam_ctx;

void tr_adam_range_scalar(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                          float lo, float hi, float lr, float ib1, float ib2)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = TR_ADAM_B1 * m[i] + (1 - TR_ADAM_B1) * gi;
        float vi = TR_ADAM_B2 * v[i] + (1 - TR_ADAM_B2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float x = w[i] - lr * (mi * ib1) / (sqrtf(vi * ib2) + TR_ADAM_EPS);
        x = x > hi ? hi : x;
        x = x < lo ? lo : x;
        w[i] = x;
        wb[i] = x >= 0 ? 1.0f : -1.0f;
    }
}

static void adam_chunk(void *vctx, size_t chunk, int worker)
{
    (void)worker;
    adam_ctx *c = vctx;
    tr_param *p = c->p;
    size_t lo = chunk * TR_FLIP_CHUNK, hi = lo + TR_FLIP_CHUNK < p->n ? lo + TR_FLIP_CHUNK : p->n;
    float big = p->clip ? 1.0f : INFINITY;
    c->fn(p->w + lo, p->g + lo, p->m + lo, p->v + lo, p->wb + lo, hi - lo, -big, big, c->lr,
          1.0f / c->bc1, 1.0f / c->bc2);
}

int tr_params_list(bl_trainer *t, tr_param **out, int max)
{
    int n = 0;
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        if (l->W.n && n < max)
            out[n++] = &l->W;
        if (l->gamma.n && n + 1 < max) {
            out[n++] = &l->gamma;
            out[n++] = &l->beta;
        }
    }
    if (n < max)
        out[n++] = &t->alpha;
    return n;
}

void tr_adam_step(bl_trainer *t, double lr, size_t tstep)
{
    tr_param *ps[256];
    int np = tr_params_list(t, ps, 256);
    float bc1 = (float)(1.0 - pow(TR_ADAM_B1, (double)tstep));
    float bc2 = (float)(1.0 - pow(TR_ADAM_B2, (double)tstep));
    for (int i = 0; i < np; i++) {
        adam_ctx c = { ps[i], t->adam, (float)lr, bc1, bc2 };
        size_t nchunks = (ps[i]->n + TR_FLIP_CHUNK - 1) / TR_FLIP_CHUNK;
        if (nchunks > 1)
            bl_pool_run(t->pool, nchunks, adam_chunk, &c);
        else
            adam_chunk(&c, 0, 0);
    }
    if (t->alpha.w[0] < TR_ALPHA_MIN)
        t->alpha.w[0] = TR_ALPHA_MIN;
    t->wb_clean = 1; /* Adam rewrote every wb = sign(w) */
}

double tr_lr_at(const bl_trainer *t, size_t step)
{
    size_t spe = t->ntrain >= (size_t)t->o.batch ? t->ntrain / (size_t)t->o.batch : 1;
    double T = (double)spe * t->o.epochs;
    double x = (double)step / T;
    if (x > 1)
        x = 1;
    return t->o.lr * 0.5 * (1.0 + cos(M_PI * x));
}
