/* test_train.c - the BNN trainer: gradient checks of every layer against
 * finite differences, learning on separable synthetic data, flip-exact vs
 * flip-ste, resume equality, packed/float prediction equality. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/rng.h"
#include "bnn/engine.h"
#include "bnn/train.h"
#include "bnn/train_internal.h"
#include "support/synth.h"
#include "support/needs.h"

/* ---- helpers --------------------------------------------------------------- */

static void fill(float *x, size_t n, uint32_t key, float lo, float hi)
{
    bl_rng_stream s = bl_rng_stream_init(42, BL_RNG_TEST, key);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)bl_rng_stream_uniform(&s);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* |a - b| <= atol + rtol*|b| */
static void near(double a, double b, double atol, double rtol, const char *what, size_t i)
{
    if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
        print_error("%s[%zu]: analytic %.6g vs numeric %.6g\n", what, i, a, b);
        fail();
    }
}

/* ---- gradient checks ---------------------------------------------------------- */

/* The dense and conv kernels are linear in x and W, so a central difference
 * of L = <r, y> is exact up to float rounding of O(1e-6 * |L| / h). */
static void test_grad_dense(void **state)
{
    (void)state;
    enum { B = 3, R = 4, C = 5 };
    float x[B * C], w[R * C], r[B * R], y[B * R], dW[R * C], dx[B * C];
    fill(x, B * C, 1, -1, 1);
    fill(w, R * C, 2, -1, 1);
    fill(r, B * R, 3, -1, 1);
    tr_dense_bwd(NULL, x, w, r, B, R, C, dW, dx);
    const float h = 1e-2f;
    for (size_t i = 0; i < R * C; i++) {
        float s = w[i];
        w[i] = s + h;
        tr_dense_fwd(NULL, x, w, B, R, C, y);
        double lp = dot(r, y, B * R);
        w[i] = s - h;
        tr_dense_fwd(NULL, x, w, B, R, C, y);
        double lm = dot(r, y, B * R);
        w[i] = s;
        near(dW[i], (lp - lm) / (2 * h), 1e-3, 1e-3, "dense dW", i);
    }
    for (size_t i = 0; i < B * C; i++) {
        float s = x[i];
        x[i] = s + h;
        tr_dense_fwd(NULL, x, w, B, R, C, y);
        double lp = dot(r, y, B * R);
        x[i] = s - h;
        tr_dense_fwd(NULL, x, w, B, R, C, y);
        double lm = dot(r, y, B * R);
        x[i] = s;
        near(dx[i], (lp - lm) / (2 * h), 1e-3, 1e-3, "dense dx", i);
    }
}

static void test_grad_conv(void **state)
{
    (void)state;
    enum { B = 2, H = 4, W = 5, CI = 3, CO = 2 };
    float x[B * H * W * CI], w[CO * 9 * CI], r[B * H * W * CO], y[B * H * W * CO];
    float dW[CO * 9 * CI], dx[B * H * W * CI];
    float *cols = calloc((size_t)TR_CONV_CHUNK * H * W * 9 * CI, sizeof(float));
    float *dcols = calloc((size_t)TR_CONV_CHUNK * H * W * 9 * CI, sizeof(float));
    fill(x, sizeof x / 4, 4, -1, 1);
    fill(w, sizeof w / 4, 5, -1, 1);
    fill(r, sizeof r / 4, 6, -1, 1);
    tr_conv_bwd(NULL, x, w, r, B, H, W, CI, CO, cols, dcols, NULL, dW, dx);
    const float h = 1e-2f;
    for (size_t i = 0; i < sizeof w / 4; i++) {
        float s = w[i];
        w[i] = s + h;
        tr_conv_fwd(NULL, x, w, B, H, W, CI, CO, cols, y);
        double lp = dot(r, y, sizeof y / 4);
        w[i] = s - h;
        tr_conv_fwd(NULL, x, w, B, H, W, CI, CO, cols, y);
        double lm = dot(r, y, sizeof y / 4);
        w[i] = s;
        near(dW[i], (lp - lm) / (2 * h), 2e-3, 1e-3, "conv dW", i);
    }
    for (size_t i = 0; i < sizeof x / 4; i++) {
        float s = x[i];
        x[i] = s + h;
        tr_conv_fwd(NULL, x, w, B, H, W, CI, CO, cols, y);
        double lp = dot(r, y, sizeof y / 4);
        x[i] = s - h;
        tr_conv_fwd(NULL, x, w, B, H, W, CI, CO, cols, y);
        double lm = dot(r, y, sizeof y / 4);
        x[i] = s;
        near(dx[i], (lp - lm) / (2 * h), 2e-3, 1e-3, "conv dx", i);
    }
    /* a direct (non-im2col) evaluation of one output, zero padding */
    tr_conv_fwd(NULL, x, w, B, H, W, CI, CO, cols, y);
    for (int img = 0; img < B; img++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int o = 0; o < CO; o++) {
                    double s = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int yy = i + ky - 1, xx = j + kx - 1;
                            if (yy < 0 || xx < 0 || yy >= H || xx >= W)
                                continue;
                            for (int c = 0; c < CI; c++)
                                s += (double)w[(o * 9 + ky * 3 + kx) * CI + c] *
                                     x[((img * H + yy) * W + xx) * CI + c];
                        }
                    near(y[((img * H + i) * W + j) * CO + o], s, 1e-4, 1e-4, "conv y", 0);
                }
    free(cols);
    free(dcols);
}

static void test_grad_pool(void **state)
{
    (void)state;
    enum { B = 2, H = 5, W = 4, C = 3 }; /* odd height: last row dropped */
    float x[B * H * W * C], r[B * 2 * 2 * C], y[B * 2 * 2 * C], dx[B * H * W * C];
    uint8_t arg[B * 2 * 2 * C];
    /* distinct values: a permutation scaled, so +-h never changes the max */
    for (size_t i = 0; i < sizeof x / 4; i++)
        x[i] = (float)((i * 37) % (sizeof x / 4));
    fill(r, sizeof r / 4, 7, -1, 1);
    tr_pool_fwd(NULL, x, B, H, W, C, y, arg);
    tr_pool_bwd(NULL, r, arg, B, H, W, C, dx);
    const float h = 0.25f;
    for (size_t i = 0; i < sizeof x / 4; i++) {
        float s = x[i];
        x[i] = s + h;
        tr_pool_fwd(NULL, x, B, H, W, C, y, arg);
        double lp = dot(r, y, sizeof y / 4);
        x[i] = s - h;
        tr_pool_fwd(NULL, x, B, H, W, C, y, arg);
        double lm = dot(r, y, sizeof y / 4);
        x[i] = s;
        near(dx[i], (lp - lm) / (2 * h), 1e-4, 1e-4, "pool dx", i);
    }
}

static double bn_probe(const float *a, float unit, size_t m, uint32_t c, const float *g,
                       const float *be, const float *r)
{
    float z[64], mean[8], inv[8];
    tr_bn_fwd_train(NULL, a, unit, m, c, g, be, mean, inv, z, NULL);
    return dot(r, z, m * c);
}

static void test_grad_bn(void **state)
{
    (void)state;
    enum { M = 6, C = 3 };
    float a[M * C], g[C] = { 1.3f, -0.7f, 0.4f }, be[C] = { 0.2f, -0.1f, 0.5f }, r[M * C];
    float z[M * C], mean[C], inv[C], dg[C], db[C], da[M * C];
    const float unit = 0.5f;
    fill(a, M * C, 8, -4, 4);
    fill(r, M * C, 9, -1, 1);
    tr_bn_fwd_train(NULL, a, unit, M, C, g, be, mean, inv, z, NULL);
    tr_bn_bwd(NULL, a, unit, M, C, g, mean, inv, NULL, r, dg, db, da);
    const float h = 1e-2f;
    for (size_t i = 0; i < M * C; i++) {
        float s = a[i];
        a[i] = s + h;
        double lp = bn_probe(a, unit, M, C, g, be, r);
        a[i] = s - h;
        double lm = bn_probe(a, unit, M, C, g, be, r);
        a[i] = s;
        near(da[i], (lp - lm) / (2 * h), 5e-3, 2e-2, "bn da", i);
    }
    for (size_t i = 0; i < C; i++) {
        float s = g[i];
        g[i] = s + h;
        double lp = bn_probe(a, unit, M, C, g, be, r);
        g[i] = s - h;
        double lm = bn_probe(a, unit, M, C, g, be, r);
        g[i] = s;
        near(dg[i], (lp - lm) / (2 * h), 5e-3, 1e-2, "bn dgamma", i);
        s = be[i];
        be[i] = s + h;
        lp = bn_probe(a, unit, M, C, g, be, r);
        be[i] = s - h;
        lm = bn_probe(a, unit, M, C, g, be, r);
        be[i] = s;
        near(db[i], (lp - lm) / (2 * h), 5e-3, 1e-2, "bn dbeta", i);
    }
}

static void check_loss(bl_loss_kind kind)
{
    enum { B = 4, K = 5 };
    float s[B * K], ds[B * K], dalpha, tmp[B * K], dtmp;
    int32_t y[B] = { 0, 3, 4, 1 };
    fill(s, B * K, 10 + kind, -3, 3);
    float alpha = 0.8f;
    tr_loss(kind, s, y, B, K, alpha, ds, &dalpha, NULL);
    const float h = 1e-3f;
    for (size_t i = 0; i < B * K; i++) {
        float v = s[i];
        s[i] = v + h;
        double lp = tr_loss(kind, s, y, B, K, alpha, tmp, &dtmp, NULL);
        s[i] = v - h;
        double lm = tr_loss(kind, s, y, B, K, alpha, tmp, &dtmp, NULL);
        s[i] = v;
        near(ds[i], (lp - lm) / (2 * h), 2e-3, 2e-2, kind ? "mhl ds" : "ce ds", i);
    }
    double lp = tr_loss(kind, s, y, B, K, alpha + h, tmp, &dtmp, NULL);
    double lm = tr_loss(kind, s, y, B, K, alpha - h, tmp, &dtmp, NULL);
    near(dalpha, (lp - lm) / (2 * h), 2e-3, 2e-2, kind ? "mhl dalpha" : "ce dalpha", 0);
}

static void test_grad_losses(void **state)
{
    (void)state;
    check_loss(BL_LOSS_CE);
    check_loss(BL_LOSS_MHL);
}

static void test_grad_margin_reg(void **state)
{
    (void)state;
    enum { N = 40 };
    float z[N], dz[N], tmp[N];
    fill(z, N, 20, -2, 2);
    memset(dz, 0, sizeof dz);
    const double lambda = 0.3, bm = 1.0;
    tr_margin_reg(z, N, lambda, bm, dz);
    const float h = 1e-3f;
    for (size_t i = 0; i < N; i++) {
        if (fabsf(fabsf(z[i]) - (float)bm) < 2 * h || fabsf(z[i]) < 2 * h)
            continue; /* kinks */
        float v = z[i];
        z[i] = v + h;
        double lp = tr_margin_reg(z, N, lambda, bm, tmp);
        z[i] = v - h;
        double lm = tr_margin_reg(z, N, lambda, bm, tmp);
        z[i] = v;
        near(dz[i], (lp - lm) / (2 * h), 1e-4, 1e-2, "margin dz", i);
    }
}

/* ---- synthetic data ------------------------------------------------------------ */


static bl_trainer *make_trainer(const char *spec, bl_dataset *tr, bl_dataset *te, int epochs,
                                double p, bl_flip_mode mode)
{
    bl_train_opts o;
    bl_train_opts_default(&o);
    snprintf(o.spec, sizeof o.spec, "%s", spec);
    o.epochs = epochs;
    o.batch = 50;
    o.lr = 0.01;
    o.p01 = o.p10 = p;
    o.flip_mode = mode;
    o.threads = 1;
    o.seed = 3;
    bl_trainer *t;
    bl_error err = { 0 };
    int rc = bl_trainer_new(&o, tr, te, &t, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    return t;
}

static void test_learns_separable(void **state)
{
    (void)state;
    bl_dataset *tr = synth(1000, 8, 8, 10, 1), *te = synth(500, 8, 8, 10, 2);
    bl_error err = { 0 };
    const char *specs[] = { "64-128-10", "8x8x1-c8-p-32-10" };
    for (int k = 0; k < 2; k++) {
        bl_trainer *t = make_trainer(specs[k], tr, te, 4, k ? 0.02 : 0.0, BL_FLIP_STE);
        assert_int_equal(bl_trainer_run(t, NULL, NULL, &err), 0);
        int n;
        const bl_epoch_stats *h = bl_trainer_history(t, &n);
        assert_int_equal(n, 4);
        if (!(h[n - 1].test_acc > 0.95))
            print_error("%s: test accuracy %.4f\n", specs[k], h[n - 1].test_acc);
        assert_true(h[n - 1].test_acc > 0.95);
        bl_trainer_free(t);
    }
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

/* ---- flips ------------------------------------------------------------------------ */

static void test_flip_exact_vs_ste(void **state)
{
    (void)state;
    bl_dataset *tr = synth(200, 8, 8, 10, 3);
    bl_trainer *ts = make_trainer("8x8x1-c8-p-32-10", tr, NULL, 1, 0.1, BL_FLIP_STE);
    bl_trainer *te = make_trainer("8x8x1-c8-p-32-10", tr, NULL, 1, 0.1, BL_FLIP_EXACT);
    bl_error err = { 0 };
    const uint8_t *codes = bl_dataset_row(tr, 0);
    int32_t labels[64];
    for (int i = 0; i < 64; i++)
        labels[i] = bl_dataset_label(tr, (size_t)i);
    double ls, le;
    assert_int_equal(bl_trainer_step_grad(ts, codes, labels, 64, 17, &ls, &err), 0);
    assert_int_equal(bl_trainer_step_grad(te, codes, labels, 64, 17, &le, &err), 0);
    assert_true(ls == le); /* same forward pass */
    size_t total_flips = 0, total = 0;
    for (int li = 0; li < bl_trainer_nlayers(ts); li++) {
        size_t n, n2, nw;
        float *gs = bl_trainer_grad(ts, li, "W", &n), *ge = bl_trainer_grad(te, li, "W", &n2);
        if (!gs)
            continue;
        const uint64_t *ms = bl_trainer_flipmask(ts, li, &nw);
        const uint64_t *me = bl_trainer_flipmask(te, li, &nw);
        assert_memory_equal(ms, me, ((nw + 63) / 64) * 8);
        for (size_t i = 0; i < n; i++) {
            int f = (int)((ms[i / 64] >> (i % 64)) & 1);
            total_flips += (size_t)f;
            if (f)
                assert_true(ge[i] == -gs[i]);
            else
                assert_true(ge[i] == gs[i]);
        }
        total += n;
    }
    /* BN gradients agree exactly */
    for (int li = 0; li < bl_trainer_nlayers(ts); li++) {
        const char *other[] = { "gamma", "beta" };
        for (int k = 0; k < 2; k++) {
            size_t n, n2;
            float *a = bl_trainer_grad(ts, li, other[k], &n);
            float *b = bl_trainer_grad(te, li, other[k], &n2);
            if (a && b)
                assert_memory_equal(a, b, n * sizeof(float));
        }
    }
    /* rate about 0.1 (n ~ 5k: sd ~ 0.004) */
    double rate = (double)total_flips / (double)total;
    assert_true(rate > 0.08 && rate < 0.12);
    /* a different step gives different flips, the same step the same */
    size_t nw;
    int l0 = 0;
    uint64_t *copy = malloc(((bl_trainer_flipmask(ts, l0, &nw) ? nw : 0) + 63) / 64 * 8);
    memcpy(copy, bl_trainer_flipmask(ts, l0, &nw), (nw + 63) / 64 * 8);
    assert_int_equal(bl_trainer_step_grad(ts, codes, labels, 64, 18, &ls, &err), 0);
    assert_memory_not_equal(copy, bl_trainer_flipmask(ts, l0, &nw), (nw + 63) / 64 * 8);
    assert_int_equal(bl_trainer_step_grad(ts, codes, labels, 64, 17, &ls, &err), 0);
    assert_memory_equal(copy, bl_trainer_flipmask(ts, l0, &nw), (nw + 63) / 64 * 8);
    free(copy);
    bl_trainer_free(ts);
    bl_trainer_free(te);

    /* asymmetric: p10 = 0.5, p01 = 0: only +1 weights (bit 1) flip */
    bl_train_opts o;
    bl_train_opts_default(&o);
    snprintf(o.spec, sizeof o.spec, "64-128-10");
    o.threads = 1;
    o.p01 = 0;
    o.p10 = 0.5;
    bl_trainer *ta;
    assert_int_equal(bl_trainer_new(&o, tr, NULL, &ta, &err), 0);
    assert_int_equal(bl_trainer_step_grad(ta, codes, labels, 64, 5, &ls, &err), 0);
    size_t n;
    float *w = bl_trainer_param(ta, 0, "W", &n);
    const uint64_t *mk = bl_trainer_flipmask(ta, 0, &nw);
    size_t pos = 0, pos_flipped = 0, neg_flipped = 0;
    for (size_t i = 0; i < n; i++) {
        int f = (int)((mk[i / 64] >> (i % 64)) & 1);
        if (w[i] >= 0) {
            pos++;
            pos_flipped += (size_t)f;
        } else {
            neg_flipped += (size_t)f;
        }
    }
    assert_int_equal(neg_flipped, 0);
    assert_true(fabs((double)pos_flipped / (double)pos - 0.5) < 0.05);
    bl_trainer_free(ta);
    bl_dataset_free(tr);
}

/* ---- resume -------------------------------------------------------------------------- */

static int stop_after(void *ctx, const bl_train_progress *p)
{
    int *left = ctx;
    (void)p;
    return --(*left) <= 0;
}

static void test_resume_equal(void **state)
{
    (void)state;
    bl_dataset *tr = synth(400, 8, 8, 10, 4), *te = synth(100, 8, 8, 10, 5);
    bl_error err = { 0 };
    const char *spec = "8x8x1-c8-p-32-10";
    bl_trainer *a = make_trainer(spec, tr, te, 3, 0.05, BL_FLIP_EXACT);
    assert_int_equal(bl_trainer_run(a, NULL, NULL, &err), 0);

    char path[] = "/tmp/betlab-test-ckpt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    bl_trainer *b = make_trainer(spec, tr, te, 3, 0.05, BL_FLIP_EXACT);
    int stops[] = { 11, 8 }; /* mid-epoch (epoch 2 step 3), then at an epoch's last step */
    size_t per_epoch = bl_trainer_steps_done(a) / 3;
    for (int k = 0; k < 2; k++) {
        int left = stops[k];
        assert_int_equal(bl_trainer_run(b, stop_after, &left, &err), BL_ECANCELED);
        int ep = bl_trainer_epochs_done(b);
        size_t st = bl_trainer_steps_done(b);
        assert_true(ep < 3 && st > 0 && st < 3 * per_epoch);
        if (k == 0) /* stopped inside epoch 2: one epoch done, the next resumes at 2 */
            assert_int_equal(ep, 1);
        assert_int_equal(bl_trainer_save_checkpoint(b, path, &err), 0);
        bl_trainer_free(b);
        assert_int_equal(bl_trainer_load_checkpoint(path, tr, te, 1, &b, &err), 0);
        /* the checkpoint resumes exactly where the run stopped */
        assert_int_equal(bl_trainer_epochs_done(b), ep);
        assert_int_equal(bl_trainer_steps_done(b), st);
        int nh;
        bl_trainer_history(b, &nh);
        assert_int_equal(nh, ep);
    }
    assert_int_equal(bl_trainer_run(b, NULL, NULL, &err), 0);
    assert_int_equal(bl_trainer_epochs_done(b), 3);
    assert_int_equal(bl_trainer_steps_done(a), bl_trainer_steps_done(b));
    for (int li = 0; li < bl_trainer_nlayers(a); li++) {
        const char *what[] = { "W", "gamma", "beta" };
        for (int k = 0; k < 3; k++) {
            size_t na, nb;
            float *pa = bl_trainer_param(a, li, what[k], &na);
            float *pb = bl_trainer_param(b, li, what[k], &nb);
            assert_int_equal(na, nb);
            if (pa)
                assert_memory_equal(pa, pb, na * sizeof(float));
        }
    }
    bl_model *ma, *mb;
    assert_int_equal(bl_trainer_export(a, &ma, &err), 0);
    assert_int_equal(bl_trainer_export(b, &mb, &err), 0);
    assert_int_equal(bl_model_checksum(ma), bl_model_checksum(mb));
    int na, nb;
    const bl_epoch_stats *ha = bl_trainer_history(a, &na), *hb = bl_trainer_history(b, &nb);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_true(ha[i].loss == hb[i].loss);
        assert_true(ha[i].test_acc == hb[i].test_acc);
    }
    /* a corrupted checkpoint is refused */
    assert_int_equal(bl_trainer_save_checkpoint(b, path, &err), 0);
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    bl_trainer *c;
    assert_int_equal(bl_trainer_load_checkpoint(path, tr, te, 1, &c, &err), BL_ECHECKSUM);
    unlink(path);
    bl_model_free(ma);
    bl_model_free(mb);
    bl_trainer_free(a);
    bl_trainer_free(b);
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

/* ---- export ------------------------------------------------------------------------------ */

static void check_export(bl_trainer *t, bl_dataset *ds)
{
    bl_error err = { 0 };
    bl_model *m;
    assert_int_equal(bl_trainer_export(t, &m, &err), 0);
    size_t n = bl_dataset_count(ds), d = bl_dataset_features(ds);
    uint8_t *codes = malloc(n * d);
    for (size_t i = 0; i < n; i++)
        memcpy(codes + i * d, bl_dataset_row(ds, i), d);
    int32_t *pt = malloc(n * 4), *pe = malloc(n * 4);
    assert_int_equal(bl_trainer_predict(t, codes, n, pt, &err), 0);
    bl_inputs *in;
    bl_engine *e;
    bl_engine_opts eo = { 1, 0, 0 };
    assert_int_equal(bl_inputs_from_codes(m, codes, NULL, n, &in, &err), 0);
    assert_int_equal(bl_engine_new(m, &eo, &e, &err), 0);
    assert_int_equal(bl_engine_predict(e, m, in, pe, &err), 0);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) {
        diff += pt[i] != pe[i];
        /* the float reference agrees as well */
        if (i < 50)
            assert_int_equal(bl_reference_forward(m, codes + i * d, NULL, NULL), pt[i]);
    }
    if (diff)
        print_error("%zu of %zu predictions differ\n", diff, n);
    assert_int_equal(diff, 0);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_model_free(m);
    free(codes);
    free(pt);
    free(pe);
}

static void test_export_equal(void **state)
{
    (void)state;
    bl_dataset *tr = synth(600, 8, 8, 10, 6), *te = synth(300, 8, 8, 10, 7);
    bl_error err = { 0 };
    const char *specs[] = { "64-96-48-10", "8x8x1-c8-p-c16-p-24-10", "8x8x1-c8-c8-p-16-10" };
    for (int k = 0; k < 3; k++) {
        bl_trainer *t = make_trainer(specs[k], tr, te, 2, 0.05, BL_FLIP_STE);
        assert_int_equal(bl_trainer_run(t, NULL, NULL, &err), 0);
        check_export(t, te);
        /* negative and zero gammas: decreasing BN (and max-pool before it) */
        for (int li = 0; li < bl_trainer_nlayers(t); li++) {
            size_t n;
            float *g = bl_trainer_param(t, li, "gamma", &n);
            float *b = bl_trainer_param(t, li, "beta", &n);
            for (size_t c = 0; g && c < n; c++) {
                if (c % 3 == 1)
                    g[c] = -g[c];
                if (c % 7 == 5) {
                    g[c] = 0;
                    b[c] = c % 2 ? 0.5f : -0.5f;
                }
            }
        }
        check_export(t, te);
        check_export(t, tr);
        bl_trainer_free(t);
    }
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

static void test_export_fashion(void **state)
{
    (void)state;
    bl_error err = { 0 };
    bl_dataset *tr, *te, *trs, *tes;
    needs_fashion();
    /* installed but unreadable is a failure, never a skip */
    if (bl_dataset_load("fashion-mnist:train", NULL, &tr, &err))
        fail_msg("fashion-mnist:train: %s", err.msg);
    assert_int_equal(bl_dataset_load("fashion-mnist:test", NULL, &te, &err), 0);
    assert_int_equal(bl_dataset_subset(tr, 0, 1000, &trs, &err), 0);
    assert_int_equal(bl_dataset_subset(te, 0, 1000, &tes, &err), 0);
    bl_trainer *t = make_trainer("784-128-10", trs, tes, 1, 0.05, BL_FLIP_STE);
    assert_int_equal(bl_trainer_run(t, NULL, NULL, &err), 0);
    check_export(t, tes);
    int n;
    const bl_epoch_stats *h = bl_trainer_history(t, &n);
    assert_true(h[0].test_acc > 0.6);
    bl_trainer_free(t);
    bl_dataset_free(trs);
    bl_dataset_free(tes);
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

/* Same seed, different thread counts: bit-identical weights. */
static void test_threads_identical(void **state)
{
    (void)state;
    bl_dataset *tr = synth(400, 8, 8, 10, 9);
    bl_error err = { 0 };
    uint32_t sum[2];
    for (int k = 0; k < 2; k++) {
        bl_train_opts o;
        bl_train_opts_default(&o);
        snprintf(o.spec, sizeof o.spec, "8x8x1-c16-p-256-10");
        o.p01 = o.p10 = 0.05;
        o.threads = k + 1;
        o.batch = 200;
        bl_trainer *t;
        assert_int_equal(bl_trainer_new(&o, tr, NULL, &t, &err), 0);
        assert_int_equal(bl_trainer_run(t, NULL, NULL, &err), 0);
        bl_model *m;
        assert_int_equal(bl_trainer_export(t, &m, &err), 0);
        sum[k] = bl_model_checksum(m);
        bl_model_free(m);
        bl_trainer_free(t);
    }
    assert_int_equal(sum[0], sum[1]);
    bl_dataset_free(tr);
}

static void test_bad_options(void **state)
{
    (void)state;
    bl_dataset *tr = synth(100, 8, 8, 10, 8);
    bl_train_opts o;
    bl_train_opts_default(&o);
    bl_trainer *t;
    bl_error err = { 0 };
    snprintf(o.spec, sizeof o.spec, "fc"); /* 784 inputs, data has 64 */
    assert_int_equal(bl_trainer_new(&o, tr, NULL, &t, &err), BL_EINVAL);
    snprintf(o.spec, sizeof o.spec, "64-10");
    o.p10 = 1.5;
    assert_int_equal(bl_trainer_new(&o, tr, NULL, &t, &err), BL_EINVAL);
    o.p10 = 0;
    snprintf(o.spec, sizeof o.spec, "64-8"); /* 10 classes in the data */
    assert_int_equal(bl_trainer_new(&o, tr, NULL, &t, &err), BL_EINVAL);
    bl_dataset_free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_dense),
        cmocka_unit_test(test_grad_conv),
        cmocka_unit_test(test_grad_pool),
        cmocka_unit_test(test_grad_bn),
        cmocka_unit_test(test_grad_losses),
        cmocka_unit_test(test_grad_margin_reg),
        cmocka_unit_test(test_learns_separable),
        cmocka_unit_test(test_flip_exact_vs_ste),
        cmocka_unit_test(test_resume_equal),
        cmocka_unit_test(test_export_equal),
        cmocka_unit_test(test_export_fashion),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
