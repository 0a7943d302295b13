/* train_layers.c - forward and backward kernels of the trainer's layers:
 * dense and 3x3 conv (im2col + OpenBLAS sgemm), 2x2 max-pool with argmax,
 * batch norm, losses (cross-entropy, squared hinge), margin regularizer.
 * All activations are NHWC.  Gradient-checked in tests/unit/test_train.c. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bnn/train_internal.h"

void tr_dense_fwd(const float *x, const float *wb, size_t b, uint32_t rows, uint32_t cols,
                  float *y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)rows, (int)cols, 1.0f, x,
                (int)cols, wb, (int)cols, 0.0f, y, (int)rows);
}

void tr_dense_bwd(const float *x, const float *wb, const float *dy, size_t b, uint32_t rows,
                  uint32_t cols, float *dW, float *dx)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)cols, (int)b, 1.0f, dy,
                (int)rows, x, (int)cols, 0.0f, dW, (int)cols);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)cols, (int)rows, 1.0f,
                    dy, (int)rows, wb, (int)cols, 0.0f, dx, (int)cols);
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

void tr_conv_fwd(const float *x, const float *wb, size_t b, uint32_t h, uint32_t w, uint32_t cin,
                 uint32_t cout, float *cols_buf, float *y)
{
    size_t hw = (size_t)h * w, k = (size_t)9 * cin;
    for (size_t i0 = 0; i0 < b; i0 += TR_CONV_CHUNK) {
        size_t n = b - i0 < TR_CONV_CHUNK ? b - i0 : TR_CONV_CHUNK;
        im2col(x + i0 * hw * cin, n, h, w, cin, cols_buf);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * hw), (int)cout, (int)k,
                    1.0f, cols_buf, (int)k, wb, (int)k, 0.0f, y + i0 * hw * cout, (int)cout);
    }
}

void tr_conv_bwd(const float *x, const float *wb, const float *dy, size_t b, uint32_t h,
                 uint32_t w, uint32_t cin, uint32_t cout, float *cols_buf, float *dcols_buf,
                 float *dW, float *dx)
{
    size_t hw = (size_t)h * w, k = (size_t)9 * cin;
    if (dx)
        memset(dx, 0, b * hw * cin * sizeof *dx);
    for (size_t i0 = 0; i0 < b; i0 += TR_CONV_CHUNK) {
        size_t n = b - i0 < TR_CONV_CHUNK ? b - i0 : TR_CONV_CHUNK;
        const float *dyc = dy + i0 * hw * cout;
        im2col(x + i0 * hw * cin, n, h, w, cin, cols_buf);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cout, (int)k, (int)(n * hw),
                    1.0f, dyc, (int)cout, cols_buf, (int)k, i0 == 0 ? 0.0f : 1.0f, dW, (int)k);
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * hw), (int)k,
                        (int)cout, 1.0f, dyc, (int)cout, wb, (int)k, 0.0f, dcols_buf, (int)k);
            col2im_add(dcols_buf, n, h, w, cin, dx + i0 * hw * cin);
        }
    }
}

void tr_pool_fwd(const float *x, size_t b, uint32_t h, uint32_t w, uint32_t c, float *y,
                 uint8_t *arg)
{
    uint32_t oh = h / 2, ow = w / 2;
    for (size_t img = 0; img < b; img++) {
        const float *xi = x + img * h * w * c;
        float *yi = y + img * oh * ow * c;
        uint8_t *ai = arg + img * oh * ow * c;
        for (uint32_t i = 0; i < oh; i++)
            for (uint32_t j = 0; j < ow; j++) {
                const float *p[4] = {
                    xi + ((size_t)(2 * i) * w + 2 * j) * c,
                    xi + ((size_t)(2 * i) * w + 2 * j + 1) * c,
                    xi + ((size_t)(2 * i + 1) * w + 2 * j) * c,
                    xi + ((size_t)(2 * i + 1) * w + 2 * j + 1) * c,
                };
                float *yo = yi + ((size_t)i * ow + j) * c;
                uint8_t *ao = ai + ((size_t)i * ow + j) * c;
                for (uint32_t ch = 0; ch < c; ch++) {
                    float best = p[0][ch];
                    uint8_t bi = 0;
                    for (uint8_t q = 1; q < 4; q++)
                        if (p[q][ch] > best) {
                            best = p[q][ch];
                            bi = q;
                        }
                    yo[ch] = best;
                    ao[ch] = bi;
                }
            }
    }
}

void tr_pool_bwd(const float *dy, const uint8_t *arg, size_t b, uint32_t h, uint32_t w,
                 uint32_t c, float *dx)
{
    uint32_t oh = h / 2, ow = w / 2;
    memset(dx, 0, b * h * w * c * sizeof *dx);
    for (size_t img = 0; img < b; img++) {
        float *di = dx + img * h * w * c;
        const float *gi = dy + img * oh * ow * c;
        const uint8_t *ai = arg + img * oh * ow * c;
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
}

void tr_bn_fwd_train(const float *a, float unit, size_t m, uint32_t c, const float *gamma,
                     const float *beta, float *bmean, float *binvstd, float *z)
{
    double s1[c], s2[c];
    memset(s1, 0, sizeof s1);
    for (size_t r = 0; r < m; r++)
        for (uint32_t ch = 0; ch < c; ch++)
            s1[ch] += (double)a[r * c + ch];
    for (uint32_t ch = 0; ch < c; ch++) {
        s1[ch] /= (double)m;
        s2[ch] = 0;
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t ch = 0; ch < c; ch++) {
            double d = (double)a[r * c + ch] - s1[ch];
            s2[ch] += d * d;
        }
    for (uint32_t ch = 0; ch < c; ch++) {
        double mean = s1[ch] * unit, var = s2[ch] / (double)m * unit * unit;
        bmean[ch] = (float)mean;
        binvstd[ch] = (float)(1.0 / sqrt(var + TR_BN_EPS));
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t ch = 0; ch < c; ch++) {
            float xhat = (unit * a[r * c + ch] - bmean[ch]) * binvstd[ch];
            z[r * c + ch] = gamma[ch] * xhat + beta[ch];
        }
}

void tr_bn_bwd(const float *a, float unit, size_t m, uint32_t c, const float *gamma,
               const float *bmean, const float *binvstd, const float *dz, float *dgamma,
               float *dbeta, float *da)
{
    double sd[c], sdx[c];
    memset(sd, 0, sizeof sd);
    memset(sdx, 0, sizeof sdx);
    for (size_t r = 0; r < m; r++)
        for (uint32_t ch = 0; ch < c; ch++) {
            float xhat = (unit * a[r * c + ch] - bmean[ch]) * binvstd[ch];
            sd[ch] += dz[r * c + ch];
            sdx[ch] += (double)dz[r * c + ch] * xhat;
        }
    for (uint32_t ch = 0; ch < c; ch++) {
        dgamma[ch] = (float)sdx[ch];
        dbeta[ch] = (float)sd[ch];
    }
    if (!da)
        return;
    float k1[c], k2[c], k3[c];
    for (uint32_t ch = 0; ch < c; ch++) {
        /* da = unit*gamma*invstd * (dz - mean(dz) - xhat*mean(dz*xhat)) */
        k1[ch] = unit * gamma[ch] * binvstd[ch];
        k2[ch] = (float)(sd[ch] / (double)m);
        k3[ch] = (float)(sdx[ch] / (double)m);
    }
    for (size_t r = 0; r < m; r++)
        for (uint32_t ch = 0; ch < c; ch++) {
            float xhat = (unit * a[r * c + ch] - bmean[ch]) * binvstd[ch];
            da[r * c + ch] = k1[ch] * (dz[r * c + ch] - k2[ch] - xhat * k3[ch]);
        }
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
