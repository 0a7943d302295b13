/* test_cluster_opencl.c - the OpenCL backend against a double-precision
 * computation written here: gains, gains_slots, add, add_many, reset, value,
 * in fp64 (1e-12 relative), fp32 (1e-5) and fp16 (1e-2 of each gain plus
 * 2^-11 of the data's spread), on odd d, d = 1,
 * N = 1, N = 65,537 (fp16), several slots, batches larger than one call.
 * Without an OpenCL device the tests skip with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/env.h"
#include "cluster/backend_opencl.h"
#include "ocl/ocl.h"

static int have_device(void)
{
    bl_ocl_device_info *all;
    size_t n = 0;
    if (bl_ocl_list(&all, &n, NULL) == 0) free(all);
    if (n == 0) fprintf(stderr, "skip: no OpenCL platform/device present (make deps installs PoCL)\n");
    return n > 0;
}

/* ---- reference ------------------------------------------------------------ */
typedef struct ref {
    size_t n, d;
    const double *x;
    double *m;  /* nslots x n */
} ref;

static double d2(const ref *r, size_t a, size_t b)
{
    double s = 0;
    for (size_t k = 0; k < r->d; ++k) { double t = r->x[a * r->d + k] - r->x[b * r->d + k]; s += t * t; }
    return s;
}
static void ref_reset(ref *r, int slot)
{
    for (size_t v = 0; v < r->n; ++v) {
        double s = 0;
        for (size_t k = 0; k < r->d; ++k) s += r->x[v * r->d + k] * r->x[v * r->d + k];
        r->m[(size_t)slot * r->n + v] = s;
    }
}
static double ref_gain(const ref *r, int slot, size_t c)
{
    double s = 0;
    for (size_t v = 0; v < r->n; ++v) {
        double t = r->m[(size_t)slot * r->n + v] - d2(r, v, c);
        if (t > 0) s += t;
    }
    return s / (double)r->n;
}
static void ref_add(ref *r, int slot, size_t e)
{
    for (size_t v = 0; v < r->n; ++v) {
        double t = d2(r, v, e);
        if (t < r->m[(size_t)slot * r->n + v]) r->m[(size_t)slot * r->n + v] = t;
    }
}
static double ref_value(const ref *r, int slot)
{
    double s = 0;
    for (size_t v = 0; v < r->n; ++v) {
        double q = 0;
        for (size_t k = 0; k < r->d; ++k) q += r->x[v * r->d + k] * r->x[v * r->d + k];
        s += q - r->m[(size_t)slot * r->n + v];
    }
    return s / (double)r->n;
}

static uint64_t rs = 88172645463325252ull;
static double urand(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (double)(rs >> 11) / 9007199254740992.0; }
static double nrand(void) { double u = urand() + 1e-300, v = urand(); return sqrt(-2 * log(u)) * cos(6.283185307179586 * v); }

static double *blobs(size_t n, size_t d, double offset)
{
    double *x = malloc(n * d * sizeof *x);
    double centers[5][64];
    for (int c = 0; c < 5; ++c) for (int k = 0; k < 64; ++k) centers[c][k] = 3 * nrand() + offset;
    for (size_t i = 0; i < n; ++i) {
        int c = (int)(urand() * 5) % 5;
        for (size_t k = 0; k < d; ++k) x[i * d + k] = centers[c][k % 64] + nrand();
    }
    return x;
}

/* Relative error against the reference; `floor_` bounds the denominator from
 * below for gains far below the batch's largest (a gain that is a small
 * difference of large minima cannot be closer than the storage precision of
 * the data allows: fp32 data are rounded by 6e-8 of |x|, see d = 1).
 * fp16 (abs16_ > 0) instead allows |got - want| <= tol * |want| + abs16_:
 * relative to each gain, plus the error the data's rounding (2^-11 of the
 * centred |x|^2: the backend centres before converting) can cause.  abs16_
 * is far below the gains (fp16_power checks it), so an all-zero fp16 backend
 * fails; a floor tied to the batch maximum would let any single gain drift. */
static double floor_ = 0, abs16_ = 0;
static void close_rel(double got, double want, double tol, const char *what, size_t i)
{
    if (abs16_ > 0) {
        if (!(fabs(got - want) <= tol * fabs(want) + abs16_)) {
            fprintf(stderr, "%s[%zu]: got %.17g want %.17g (|diff| %.3g > %.3g * |want| + %.3g)\n",
                    what, i, got, want, fabs(got - want), tol, abs16_);
            fail();
        }
        return;
    }
    double den = fabs(want) > floor_ ? fabs(want) : floor_;
    if (den < 1e-300) den = 1;
    double rel = fabs(got - want) / den;
    if (!(rel <= tol)) {
        fprintf(stderr, "%s[%zu]: got %.17g want %.17g (rel %.3g > %.3g)\n", what, i, got, want, rel, tol);
        fail();
    }
}

static void check_batch(const double *g, const ref *r, int slot, const uint32_t *cand, size_t m,
                        double tol, const char *what)
{
    double *want = malloc(m * sizeof *want), gmax = 0;
    for (size_t i = 0; i < m; ++i) { want[i] = ref_gain(r, slot, cand[i]); if (want[i] > gmax) gmax = want[i]; }
    /* fp16: the tolerance must be able to tell the largest gain from 0 */
    if (abs16_ > 0 && !(gmax - tol * gmax > abs16_)) {
        fprintf(stderr, "%s: fp16 tolerance %.3g would accept 0 for the largest gain %.3g\n", what, abs16_, gmax);
        fail();
    }
    floor_ = 1e-2 * gmax;
    for (size_t i = 0; i < m; ++i) close_rel(g[i], want[i], tol, what, i);
    floor_ = 0;
    free(want);
}

/* Mean squared distance of the rows to their mean. */
static double centred_sq(const double *x, size_t n, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; ++k) {
        double mu = 0;
        for (size_t i = 0; i < n; ++i) mu += x[i * d + k];
        mu /= (double)n;
        for (size_t i = 0; i < n; ++i) s += (x[i * d + k] - mu) * (x[i * d + k] - mu);
    }
    return s / (double)n;
}

/* The full scenario on one dataset: empty-set gains, adds, gains after adds,
 * several slots, gains_slots, value, reset, add_many. */
static void scenario(size_t n, size_t d, bl_precision prec, double tol, double offset, size_t ncand)
{
    double *x = blobs(n, d, offset);
    bl_cluster_data data = { n, d, x };
    const int ns = 3;
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    int rc = bl_cluster_opencl_new("opencl", &data, prec, ns, cli_settings(), &b, &err);
    if (rc) fprintf(stderr, "bl_cluster_opencl_new: %s\n", err.msg);
    assert_int_equal(rc, 0);
    ref r = { n, d, x, malloc((size_t)ns * n * sizeof(double)) };
    for (int s = 0; s < ns; ++s) ref_reset(&r, s);
    abs16_ = prec == BL_PREC_FP16 ? 0x1p-11 * centred_sq(x, n, d) : 0;

    uint32_t *cand = malloc(ncand * sizeof *cand);
    double *g = malloc(ncand * sizeof *g);
    for (size_t i = 0; i < ncand; ++i) cand[i] = (uint32_t)((i * 7919u + 13) % n);
    /* empty set */
    assert_int_equal(b->ops->gains(b, 0, cand, ncand, g, &err), 0);
    for (size_t i = 0; i < ncand; ++i) close_rel(g[i], ref_gain(&r, 0, cand[i]), tol, "gains(empty)", i);
    /* add a few to slot 0 and 1 element to slot 2 */
    size_t adds[3] = { 0, n / 2, n - 1 };
    for (int a = 0; a < 3; ++a) {
        assert_int_equal(b->ops->add(b, 0, (uint32_t)adds[a], &err), 0);
        ref_add(&r, 0, adds[a]);
    }
    assert_int_equal(b->ops->add(b, 2, (uint32_t)(n / 3), &err), 0);
    ref_add(&r, 2, n / 3);
    assert_int_equal(b->ops->gains(b, 0, cand, ncand, g, &err), 0);
    check_batch(g, &r, 0, cand, ncand, tol, "gains(S)");
    /* gains_slots */
    int sl[4] = { 2, 0, 1, 0 };
    double gs[4];
    uint32_t e = (uint32_t)(n / 5);
    assert_int_equal(b->ops->gains_slots(b, e, sl, 4, gs, &err), 0);
    for (int j = 0; j < 4; ++j) close_rel(gs[j], ref_gain(&r, sl[j], e), tol, "gains_slots", (size_t)j);
    /* value */
    for (int s = 0; s < ns; ++s) {
        double f;
        assert_int_equal(b->ops->value(b, s, &f, &err), 0);
        double want = ref_value(&r, s);
        if (s == 1) assert_true(fabs(f) <= 1e-12 * (1 + fabs(ref_value(&r, 0))));
        else close_rel(f, want, tol, "value", (size_t)s);
    }
    /* add_many on slot 1 == adds one by one */
    uint32_t many[5] = { 1 % (uint32_t)n, (uint32_t)(n / 7), (uint32_t)(n / 4), (uint32_t)(n - 1), 0 };
    assert_int_equal(bl_cluster_opencl_add_many(b, 1, many, 5, &err), 0);
    for (int a = 0; a < 5; ++a) ref_add(&r, 1, many[a]);
    double f1;
    assert_int_equal(b->ops->value(b, 1, &f1, &err), 0);
    close_rel(f1, ref_value(&r, 1), tol, "value(add_many)", 1);
    assert_int_equal(b->ops->gains(b, 1, cand, ncand < 50 ? ncand : 50, g, &err), 0);
    check_batch(g, &r, 1, cand, ncand < 50 ? ncand : 50, tol, "gains(add_many)");
    /* reset */
    assert_int_equal(b->ops->reset(b, 0, &err), 0);
    ref_reset(&r, 0);
    double f0;
    assert_int_equal(b->ops->value(b, 0, &f0, &err), 0);
    assert_true(fabs(f0) < 1e-6 * (1 + fabs(ref_value(&r, 2))));
    assert_int_equal(b->ops->gains(b, 0, cand, 1, g, &err), 0);
    close_rel(g[0], ref_gain(&r, 0, cand[0]), tol, "gains(reset)", 0);
    /* errors */
    assert_int_equal(b->ops->add(b, ns, 0, &err), BL_EINVAL);
    assert_int_equal(b->ops->add(b, 0, (uint32_t)n, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    b->ops->free(b);
    abs16_ = 0;
    free(cand); free(g); free(r.m); free(x);
}

static void test_fp64(void **state) { (void)state; if (!have_device()) skip(); scenario(1001, 7, BL_PREC_FP64, 1e-12, 0.5, 300); }
static void test_fp32(void **state) { (void)state; if (!have_device()) skip(); scenario(1001, 7, BL_PREC_FP32, 1e-5, 0.5, 300); }
static void test_fp16(void **state) { (void)state; if (!have_device()) skip(); scenario(777, 13, BL_PREC_FP16, 1e-2, 0.5, 200); }
static void test_d1(void **state)
{
    (void)state;
    if (!have_device()) skip();
    scenario(517, 1, BL_PREC_FP64, 1e-12, 0.0, 100);
    scenario(517, 1, BL_PREC_FP32, 1e-5, 0.0, 100);
    scenario(517, 1, BL_PREC_FP16, 1e-2, 0.0, 100);
}
static void test_large_d_offset(void **state)
{
    (void)state;
    if (!have_device()) skip();
    /* far from the origin and d not a multiple of any tile */
    scenario(300, 129, BL_PREC_FP32, 1e-5, 40.0, 64);
    scenario(300, 129, BL_PREC_FP64, 1e-12, 40.0, 64);
}

static void test_n1(void **state)
{
    (void)state;
    if (!have_device()) skip();
    for (int p = 0; p < 3; ++p) {
        double x[3] = { 1.5, -2, 0.25 };
        bl_cluster_data data = { 1, 3, x };
        bl_cluster_backend *b;
        bl_error err = { 0 };
        assert_int_equal(bl_cluster_opencl_new("opencl", &data, (bl_precision)p, 1, cli_settings(), &b, &err), 0);
        uint32_t c = 0;
        double g, f;
        assert_int_equal(b->ops->gains(b, 0, &c, 1, &g, &err), 0);
        close_rel(g, 1.5 * 1.5 + 4 + 0.0625, p == 2 ? 1e-2 : 1e-6, "n1 gain", 0);
        assert_int_equal(b->ops->add(b, 0, 0, &err), 0);
        assert_int_equal(b->ops->value(b, 0, &f, &err), 0);
        close_rel(f, 6.3125, p == 2 ? 1e-2 : 1e-6, "n1 f", 0);
        assert_int_equal(b->ops->gains(b, 0, &c, 1, &g, &err), 0);
        assert_true(fabs(g) < 1e-6);
        b->ops->free(b);
    }
}

/* fp16, N = 65,537 (> 65,500: the published half path returns zeros there). */
static void test_fp16_large_n(void **state)
{
    (void)state;
    if (!have_device()) skip();
    size_t n = 65537, d = 5;
    double *x = blobs(n, d, 1.0);
    bl_cluster_data data = { n, d, x };
    bl_cluster_backend *b;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_opencl_new("opencl", &data, BL_PREC_FP16, 1, cli_settings(), &b, &err), 0);
    ref r = { n, d, x, malloc(n * sizeof(double)) };
    ref_reset(&r, 0);
    ref_add(&r, 0, 12345);
    assert_int_equal(b->ops->add(b, 0, 12345, &err), 0);
    uint32_t cand[6] = { 0, 1, 65535, 65536, 40000, 777 };
    double g[6];
    assert_int_equal(b->ops->gains(b, 0, cand, 6, g, &err), 0);
    for (int i = 0; i < 6; ++i) {
        double want = ref_gain(&r, 0, cand[i]);
        assert_true(want > 0);
        close_rel(g[i], want, 1e-2, "fp16 N=65537 gain", (size_t)i);
    }
    double f;
    assert_int_equal(b->ops->value(b, 0, &f, &err), 0);
    close_rel(f, ref_value(&r, 0), 1e-2, "fp16 N=65537 f", 0);
    b->ops->free(b);
    free(r.m); free(x);
}

/* Candidate batches larger than one device call (BETLAB_OCL_BATCH forces small calls). */
static void test_batches(void **state)
{
    (void)state;
    if (!have_device()) skip();
    size_t n = 400, d = 3, m = 1000;
    double *x = blobs(n, d, 0.0);
    bl_cluster_data data = { n, d, x };
    uint32_t *cand = malloc(m * sizeof *cand);
    double *g1 = malloc(m * sizeof *g1), *g2 = malloc(m * sizeof *g2);
    for (size_t i = 0; i < m; ++i) cand[i] = (uint32_t)((i * 31) % n);
    bl_cluster_backend *b;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_opencl_new("opencl", &data, BL_PREC_FP32, 1, cli_settings(), &b, &err), 0);
    assert_int_equal(b->ops->add(b, 0, 3, &err), 0);
    assert_int_equal(b->ops->gains(b, 0, cand, m, g1, &err), 0);
    assert_int_equal((int)b->evaluations, (int)m);
    b->ops->free(b);
    bl_settings st = { .ocl_batch = 64 };
    assert_int_equal(bl_cluster_opencl_new("opencl", &data, BL_PREC_FP32, 1, &st, &b, &err), 0);
    char info[512];
    assert_int_equal(bl_cluster_opencl_info(b, info, sizeof info), 0);
    assert_non_null(strstr(info, "batch 64"));
    assert_int_equal(b->ops->add(b, 0, 3, &err), 0);
    assert_int_equal(b->ops->gains(b, 0, cand, m, g2, &err), 0);
    ref r = { n, d, x, malloc(n * sizeof(double)) };
    ref_reset(&r, 0);
    ref_add(&r, 0, 3);
    for (size_t i = 0; i < m; ++i) {
        close_rel(g2[i], ref_gain(&r, 0, cand[i]), 1e-5, "batched gains", i);
        close_rel(g2[i], g1[i], 1e-6, "batched vs one call", i);
    }
    b->ops->free(b);
    free(r.m); free(cand); free(g1); free(g2); free(x);
}

static void test_bad_input(void **state)
{
    (void)state;
    if (!have_device()) skip();
    double x[4] = { 1, NAN, 2, 3 };
    bl_cluster_data data = { 2, 2, x };
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_opencl_new("opencl", &data, BL_PREC_FP32, 1, cli_settings(), &b, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "non-finite"));
    x[1] = 0;
    assert_int_not_equal(bl_cluster_opencl_new("opencl:nosuchdevice", &data, BL_PREC_FP32, 1, cli_settings(), &b, &err), 0);
    assert_non_null(strstr(err.msg, "nosuchdevice"));
    bl_cluster_data empty = { 0, 2, x };
    assert_int_equal(bl_cluster_opencl_new("opencl", &empty, BL_PREC_FP32, 1, cli_settings(), &b, &err), BL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp64),   cmocka_unit_test(test_fp32),       cmocka_unit_test(test_fp16),
        cmocka_unit_test(test_d1),     cmocka_unit_test(test_large_d_offset), cmocka_unit_test(test_n1),
        cmocka_unit_test(test_fp16_large_n), cmocka_unit_test(test_batches), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
