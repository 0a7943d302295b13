/* train_layers.c - forward and backward kernels of the trainer's layers:
 * dense and 3x3 conv (im2col + OpenBLAS sgemm), 2x2 max-pool with argmax,
 * batch norm, losses (cross-entropy, squared hinge), margin regularizer.
 * All activations are NHWC.  Gradient-checked in tests/unit/test_train.c. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bnn/train_internal.h"

/* Parallel GEMMs.  Every product is cut into a fixed number of blocks
 * along M or N (never K), chosen from the sizes alone, and OpenBLAS runs
 * single-threaded inside each block: each output element is computed by
 * the same sequence of operations whatever the thread count. */
#define TR_SPLIT 4u

static void split_range(uint32_t n, uint32_t part, uint32_t nparts, uint32_t *lo, uint32_t *hi)
{
    /* blocks of multiples of 16 (kernel tile) */
    uint32_t step = ((n + nparts - 1) / nparts + 15) & ~15u;
    *lo = part * step < n ? part * step : n;
    *hi = *lo + step < n ? *lo + step : n;
}

static uint32_t nsplit(uint32_t n) { return n >= 256 ? TR_SPLIT : 1; }

typedef struct {
    const float *x, *wb, *dy;
    size_t b;
    uint32_t rows, cols;
    float *y, *dW, *dx;
} dense_ctx;

static void dense_fwd_task(void *vc, size_t task, int worker)
{
    (void)worker;
    const dense_ctx *c = vc;
    uint32_t r0, r1;
    split_range(c->rows, (uint32_t)task, nsplit(c->rows), &r0, &r1);
    if (r1 > r0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->b, (int)(r1 - r0),
                    (int)c->cols, 1.0f, c->x, (int)c->cols, c->wb + (size_t)r0 * c->cols,
                    (int)c->cols, 0.0f, c->y + r0, (int)c->rows);
}

void tr_dense_fwd(bl_pool *pool, const float *x, const float *wb, size_t b, uint32_t rows,
                  uint32_t cols, float *y)
{
    dense_ctx c = { x, wb, NULL, b, rows, cols, y, NULL, NULL };
    bl_pool_run(pool, nsplit(rows), dense_fwd_task, &c);
}

static void dense_bwd_task(void *vc, size_t task, int worker)
{
    (void)worker;
    const dense_ctx *c = vc;
    uint32_t nw = nsplit(c->rows), lo, hi;
    if (task < nw) { /* dW rows [lo, hi) = dy[:, lo:hi]^T x */
        split_range(c->rows, (uint32_t)task, nw, &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), (int)c->cols,
                        (int)c->b, 1.0f, c->dy + lo, (int)c->rows, c->x, (int)c->cols, 0.0f,
                        c->dW + (size_t)lo * c->cols, (int)c->cols);
    } else { /* dx columns [lo, hi) = dy wb[:, lo:hi] */
        split_range(c->cols, (uint32_t)(task - nw), nsplit(c->cols), &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->b, (int)(hi - lo),
                        (int)c->rows, 1.0f, c->dy, (int)c->rows, c->wb + lo, (int)c->cols, 0.0f,
                        c->dx + lo, (int)c->cols);
    }
}

void tr_dense_bwd(bl_pool *pool, const float *x, const float *wb, const float *dy, size_t b,
                  uint32_t rows, uint32_t cols, float *dW, float *dx)
{
    dense_ctx c = { x, wb, dy, b, rows, cols, NULL, dW, dx };
    bl_pool_run(pool, nsplit(rows) + (dx ? nsplit(cols) : 0), dense_bwd_task, &c);
}

/* cols[(n*h*w) x 9cin], column (ky*3+kx)*cin + c, zero outside the map. */
static void im2col(const float *x, size_t n, uint32_t h, uint32_t w, uint32_t cin, float *cols)
{
    size_t k = (size_t)9 * cin;
    for (size_t img = 0; img < n; img++) {
        const float *xi = x + img * h * w * cin;
        for (uint32_t i = 0; i < h; i++)
            for (uint32_t j = 0; j < w; j++) {
                float *row = cols + ((img * h + i) * w + j) * k;
                for (int ky = 0; ky < 3; ky++) {
                    int yy = (int)i + ky - 1;
                    for (int kx = 0; kx < 3; kx++) {
                        int xx = (int)j + kx - 1;
                        float *dst = row + (size_t)(ky * 3 + kx) * cin;
                        if (yy < 0 || xx < 0 || yy >= (int)h || xx >= (int)w)
                            memset(dst, 0, cin * sizeof *dst);
                        else
                            memcpy(dst, xi + ((size_t)yy * w + (size_t)xx) * cin,
                                   cin * sizeof *dst);
                    }
                }
            }
    }
}

static void col2im_add(const float *cols, size_t n, uint32_t h, uint32_t w, uint32_t cin,
                       float *dx)
{
    size_t k = (size_t)9 * cin;
    for (size_t img = 0; img < n; img++) {
        float *di = dx + img * h * w * cin;
        for (uint32_t i = 0; i < h; i++)
            for (uint32_t j = 0; j < w; j++) {
                const float *row = cols + ((img * h + i) * w + j) * k;
                for (int ky = 0; ky < 3; ky++) {
                    int yy = (int)i + ky - 1;
                    if (yy < 0 || yy >= (int)h)
                        continue;
                    for (int kx = 0; kx < 3; kx++) {
                        int xx = (int)j + kx - 1;
                        if (xx < 0 || xx >= (int)w)
                            continue;
                        const float *src = row + (size_t)(ky * 3 + kx) * cin;
                        float *dst = di + ((size_t)yy * w + (size_t)xx) * cin;
                        for (uint32_t c = 0; c < cin; c++)
                            dst[c] += src[c];
                    }
                }
            }
    }
}

/* Conv kernels: one task per chunk of TR_CONV_CHUNK images, each with its
 * worker's im2col scratch; weight gradients are per-chunk partials summed
 * in chunk order afterwards (fixed, whatever the thread count). */
typedef struct {
    const float *x, *wb, *dy;
    size_t b;
    uint32_t h, w, cin, cout;
    float *cols_buf, *dcols_buf, *y, *dW, *dW_part, *dx;
} conv_ctx;

static void conv_fwd_task(void *vc, size_t chunk, int worker)
{
    const conv_ctx *c = vc;
    size_t hw = (size_t)c->h * c->w, k = (size_t)9 * c->cin, i0 = chunk * TR_CONV_CHUNK;
    size_t n = c->b - i0 < TR_CONV_CHUNK ? c->b - i0 : TR_CONV_CHUNK;
    float *cols = c->cols_buf + (size_t)worker * TR_CONV_CHUNK * hw * k;
    im2col(c->x + i0 * hw * c->cin, n, c->h, c->w, c->cin, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * hw), (int)c->cout, (int)k,
                1.0f, cols, (int)k, c->wb, (int)k, 0.0f, c->y + i0 * hw * c->cout, (int)c->cout);
}

void tr_conv_fwd(bl_pool *pool, const float *x, const float *wb, size_t b, uint32_t h, uint32_t w,
                 uint32_t cin, uint32_t cout, float *cols_buf, float *y)
{
    conv_ctx c = { x, wb, NULL, b, h, w, cin, cout, cols_buf, NULL, y, NULL, NULL, NULL };
    bl_pool_run(pool, (b + TR_CONV_CHUNK - 1) / TR_CONV_CHUNK, conv_fwd_task, &c);
}

static void conv_bwd_task(void *vc, size_t chunk, int worker)
{
    const conv_ctx *c = vc;
    size_t hw = (size_t)c->h * c->w, k = (size_t)9 * c->cin, i0 = chunk * TR_CONV_CHUNK;
    size_t n = c->b - i0 < TR_CONV_CHUNK ? c->b - i0 : TR_CONV_CHUNK;
    size_t scratch = (size_t)worker * TR_CONV_CHUNK * hw * k;
    float *cols = c->cols_buf + scratch;
    const float *dyc = c->dy + i0 * hw * c->cout;
    im2col(c->x + i0 * hw * c->cin, n, c->h, c->w, c->cin, cols);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c->cout, (int)k, (int)(n * hw), 1.0f,
                dyc, (int)c->cout, cols, (int)k, 0.0f,
                chunk == 0 ? c->dW : c->dW_part + (chunk - 1) * c->cout * k, (int)k);
    if (c->dx) {
        float *dcols = c->dcols_buf + scratch, *dxc = c->dx + i0 * hw * c->cin;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * hw), (int)k, (int)c->cout,
                    1.0f, dyc, (int)c->cout, c->wb, (int)k, 0.0f, dcols, (int)k);
        memset(dxc, 0, n * hw * c->cin * sizeof *dxc);
        col2im_add(dcols, n, c->h, c->w, c->cin, dxc);
    }
}

static void conv_sum_task(void *vc, size_t task, int worker)
{
    (void)worker;
    const conv_ctx *c = vc;
    size_t nw = (size_t)c->cout * 9 * c->cin, nchunks = (c->b + TR_CONV_CHUNK - 1) / TR_CONV_CHUNK;
    size_t lo = task * 4096, hi = lo + 4096 < nw ? lo + 4096 : nw;
    for (size_t ch = 1; ch < nchunks; ch++) {
        const float *p = c->dW_part + (ch - 1) * nw;
        for (size_t i = lo; i < hi; i++)
            c->dW[i] += p[i];
    }
}

void tr_conv_bwd(bl_pool *pool, const float *x, const float *wb, const float *dy, size_t b,
                 uint32_t h, uint32_t w, uint32_t cin, uint32_t cout, float *cols_buf,
                 float *dcols_buf, float *dW_part, float *dW, float *dx)
{
    conv_ctx c = { x, wb, dy, b, h, w, cin, cout, cols_buf, dcols_buf, NULL, dW, dW_part, dx };
    bl_pool_run(pool, (b + TR_CONV_CHUNK - 1) / TR_CONV_CHUNK, conv_bwd_task, &c);
    size_t nw = (size_t)cout * 9 * cin;
    if (b > TR_CONV_CHUNK)
        bl_pool_run(pool, (nw + 4095) / 4096, conv_sum_task, &c);
}

typedef struct {
    const float *x, *dy;
    const uint8_t *carg;
    size_t b;
    uint32_t h, w, c;
    float *y, *dx;
    uint8_t *arg;
} pool_ctx;

static void pool_fwd_task(void *vc, size_t img, int worker)
{
    (void)worker;
    const pool_ctx *p = vc;
    uint32_t h = p->h, w = p->w, c = p->c, oh = h / 2, ow = w / 2;
    const float *xi = p->x + img * h * w * c;
    float *yi = p->y + img * oh * ow * c;
    uint8_t *ai = p->arg + img * oh * ow * c;
    for (uint32_t i = 0; i < oh; i++)
        for (uint32_t j = 0; j < ow; j++) {
            const float *p0 = xi + ((size_t)(2 * i) * w + 2 * j) * c, *p1 = p0 + c;
            const float *p2 = p0 + (size_t)w * c, *p3 = p2 + c;
            float *yo = yi + ((size_t)i * ow + j) * c;
            uint8_t *ao = ai + ((size_t)i * ow + j) * c;
            for (uint32_t ch = 0; ch < c; ch++) {
                float best = p0[ch];
                uint8_t bi = 0;
                if (p1[ch] > best) { best = p1[ch]; bi = 1; }
                if (p2[ch] > best) { best = p2[ch]; bi = 2; }
                if (p3[ch] > best) { best = p3[ch]; bi = 3; }
                yo[ch] = best;
                ao[ch] = bi;
            }
        }
}

void tr_pool_fwd(bl_pool *pool, const float *x, size_t b, uint32_t h, uint32_t w, uint32_t c,
                 float *y, uint8_t *arg)
{
    pool_ctx p = { x, NULL, NULL, b, h, w, c, y, NULL, arg };
    bl_pool_run(pool, b, pool_fwd_task, &p);
}

static void pool_bwd_task(void *vc, size_t img, int worker)
{
    (void)worker;
    const pool_ctx *p = vc;
    uint32_t h = p->h, w = p->w, c = p->c, oh = h / 2, ow = w / 2;
    float *di = p->dx + img * h * w * c;
    const float *gi = p->dy + img * oh * ow * c;
    const uint8_t *ai = p->carg + img * oh * ow * c;
    memset(di, 0, (size_t)h * w * c * sizeof *di);
    for (uint32_t i = 0; i < oh; i++)
        for (uint32_t j = 0; j < ow; j++) {
            size_t o = ((size_t)i * ow + j) * c;
            for (uint32_t ch = 0; ch < c; ch++) {
                uint8_t q = ai[o + ch];
                size_t yy = 2 * i + (q >> 1), xx = 2 * j + (q & 1);
                di[(yy * w + xx) * c + ch] = gi[o + ch];
            }
        }
}

void tr_pool_bwd(bl_pool *pool, const float *dy, const uint8_t *arg, size_t b, uint32_t h,
                 uint32_t w, uint32_t c, float *dx)
{
    pool_ctx p = { NULL, dy, arg, b, h, w, c, NULL, dx, NULL };
    bl_pool_run(pool, b, pool_bwd_task, &p);
}

/* Batch norm: one task per group of TR_BN_GROUP channels; each channel's
 * sums run sequentially over the rows (same order for any thread count). */
#define TR_BN_GROUP 16u

typedef struct {
    const float *a;
    float unit;
    size_t m;
    uint32_t c;
    const float *gamma, *beta, *z;
    float *bmean, *binvstd, *zout, *ysign, *dz, *dgamma, *dbeta, *da;
} bn_ctx;

static void bn_fwd_task(void *vc, size_t task, int worker)
{
    (void)worker;
    const bn_ctx *p = vc;
    const float *a = p->a;
    float unit = p->unit, *bmean = p->bmean, *binvstd = p->binvstd;
    size_t m = p->m, c = p->c;
    uint32_t c0 = (uint32_t)task * TR_BN_GROUP;
    uint32_t nc = c - c0 < TR_BN_GROUP ? (uint32_t)(c - c0) : TR_BN_GROUP;
    double s1[TR_BN_GROUP] = { 0 }, s2[TR_BN_GROUP] = { 0 };
    for (size_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < nc; j++)
            s1[j] += (double)a[r * c + c0 + j];
    for (uint32_t j = 0; j < nc; j++)
        s1[j] /= (double)m;
    for (size_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < nc; j++) {
            double d = (double)a[r * c + c0 + j] - s1[j];
            s2[j] += d * d;
        }
    float g[TR_BN_GROUP], be[TR_BN_GROUP], mu[TR_BN_GROUP], is[TR_BN_GROUP];
    for (uint32_t j = 0; j < nc; j++) {
        double mean = s1[j] * unit, var = s2[j] / (double)m * unit * unit;
        mu[j] = bmean[c0 + j] = (float)mean;
        is[j] = binvstd[c0 + j] = (float)(1.0 / sqrt(var + TR_BN_EPS));
        g[j] = p->gamma[c0 + j];
        be[j] = p->beta[c0 + j];
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < nc; j++) {
            size_t k = r * c + c0 + j;
            float xhat = (unit * a[k] - mu[j]) * is[j];
            float zz = g[j] * xhat + be[j];
            p->zout[k] = zz;
            if (p->ysign)
                p->ysign[k] = zz >= 0 ? 1.0f : -1.0f;
        }
}

void tr_bn_fwd_train(bl_pool *pool, const float *a, float unit, size_t m, uint32_t c,
                     const float *gamma, const float *beta, float *bmean, float *binvstd, float *z,
                     float *ysign)
{
    bn_ctx p = { .a = a, .unit = unit, .m = m, .c = c, .gamma = gamma, .beta = beta,
                 .bmean = bmean, .binvstd = binvstd, .zout = z, .ysign = ysign };
    bl_pool_run(pool, (c + TR_BN_GROUP - 1) / TR_BN_GROUP, bn_fwd_task, &p);
}

static void bn_bwd_task(void *vc, size_t task, int worker)
{
    (void)worker;
    const bn_ctx *p = vc;
    const float *a = p->a, *z = p->z;
    float unit = p->unit, *dz = p->dz;
    size_t m = p->m, c = p->c;
    uint32_t c0 = (uint32_t)task * TR_BN_GROUP;
    uint32_t nc = c - c0 < TR_BN_GROUP ? (uint32_t)(c - c0) : TR_BN_GROUP;
    double sd[TR_BN_GROUP] = { 0 }, sdx[TR_BN_GROUP] = { 0 };
    float mu[TR_BN_GROUP], is[TR_BN_GROUP];
    for (uint32_t j = 0; j < nc; j++) {
        mu[j] = p->bmean[c0 + j];
        is[j] = p->binvstd[c0 + j];
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < nc; j++) {
            size_t k = r * c + c0 + j;
            if (z && fabsf(z[k]) > 1.0f)
                dz[k] = 0.0f; /* STE of sign */
            float xhat = (unit * a[k] - mu[j]) * is[j];
            sd[j] += dz[k];
            sdx[j] += (double)dz[k] * xhat;
        }
    for (uint32_t j = 0; j < nc; j++) {
        p->dgamma[c0 + j] = (float)sdx[j];
        p->dbeta[c0 + j] = (float)sd[j];
    }
    if (!p->da)
        return;
    float k1[TR_BN_GROUP], k2[TR_BN_GROUP], k3[TR_BN_GROUP];
    for (uint32_t j = 0; j < nc; j++) {
        /* da = unit*gamma*invstd * (dz - mean(dz) - xhat*mean(dz*xhat)) */
        k1[j] = unit * p->gamma[c0 + j] * is[j];
        k2[j] = (float)(sd[j] / (double)m);
        k3[j] = (float)(sdx[j] / (double)m);
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < nc; j++) {
            size_t k = r * c + c0 + j;
            float xhat = (unit * a[k] - mu[j]) * is[j];
            p->da[k] = k1[j] * (dz[k] - k2[j] - xhat * k3[j]);
        }
}

void tr_bn_bwd(bl_pool *pool, const float *a, float unit, size_t m, uint32_t c,
               const float *gamma, const float *bmean, const float *binvstd, const float *z_ste,
               float *dz, float *dgamma, float *dbeta, float *da)
{
    bn_ctx p = { .a = a, .unit = unit, .m = m, .c = c, .gamma = gamma, .z = z_ste,
                 .bmean = (float *)bmean, .binvstd = (float *)binvstd, .dz = dz,
                 .dgamma = dgamma, .dbeta = dbeta, .da = da };
    bl_pool_run(pool, (c + TR_BN_GROUP - 1) / TR_BN_GROUP, bn_bwd_task, &p);
}

double tr_loss(bl_loss_kind kind, const float *s, const int32_t *labels, size_t b, uint32_t k,
               float alpha, float *ds, float *dalpha, size_t *correct)
{
    double loss = 0, da = 0;
    for (size_t i = 0; i < b; i++) {
        const float *si = s + i * k;
        float *di = ds + i * k;
        int32_t y = labels[i];
        uint32_t best = 0;
        for (uint32_t j = 1; j < k; j++)
            if (si[j] > si[best])
                best = j;
        if ((int32_t)best == y && correct)
            (*correct)++;
        if (kind == BL_LOSS_CE) {
            double mx = -INFINITY, sum = 0;
            for (uint32_t j = 0; j < k; j++)
                mx = fmax(mx, (double)alpha * si[j]);
            for (uint32_t j = 0; j < k; j++)
                sum += exp((double)alpha * si[j] - mx);
            double lse = mx + log(sum);
            loss += lse - (double)alpha * si[y];
            for (uint32_t j = 0; j < k; j++) {
                double p = exp((double)alpha * si[j] - lse);
                double dl = (p - (j == (uint32_t)y ? 1.0 : 0.0)) / (double)b;
                di[j] = (float)(dl * alpha);
                da += dl * si[j];
            }
        } else {
            for (uint32_t j = 0; j < k; j++) {
                double t = j == (uint32_t)y ? 1.0 : -1.0;
                double h = 1.0 - t * (double)alpha * si[j];
                double dl = 0;
                if (h > 0) {
                    loss += h * h;
                    dl = -2.0 * t * h / (double)b;
                }
                di[j] = (float)(dl * alpha);
                da += dl * si[j];
            }
        }
    }
    *dalpha = (float)da;
    return loss / (double)b;
}

double tr_margin_reg(const float *z, size_t n, double lambda, double bm, float *dz)
{
    if (lambda == 0 || n == 0)
        return 0;
    double sum = 0, g = lambda / (double)n;
    for (size_t i = 0; i < n; i++) {
        double az = fabs((double)z[i]);
        if (bm - az > 0) {
            sum += bm - az;
            dz[i] += (float)(z[i] >= 0 ? -g : g);
        }
    }
    return lambda * sum / (double)n;
}
