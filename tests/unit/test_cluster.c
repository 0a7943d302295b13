/* test_cluster.c - CPU clustering backend against the double reference,
 * determinism, optimizers, invalid input, subsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/rng.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"

static double *uniform01(size_t n, size_t d, uint64_t seed)
{
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++)  /* FashionMNIST-like: u8 / 255 */
        x[i] = (double)(bl_rng_u64(seed, BL_RNG_TEST, 9, i) % 256) / 255.0;
    return x;
}

static bl_cluster_backend *mk(const char *dev, const double *x, size_t n, size_t d, int prec,
                              int slots, int threads)
{
    bl_cluster_data data = { n, d, x };
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    int rc = bl_cluster_backend_new(dev, &data, prec, slots, threads, NULL, &b, &err);
    if (rc)
        fail_msg("%s: %s", dev, err.msg);
    return b;
}

/* gains of `m` candidates after adding `nadd` elements, on one backend */
static void run_gains(bl_cluster_backend *b, const uint32_t *add, size_t nadd,
                      const uint32_t *cand, size_t m, double *out, double *f)
{
    bl_error err = { 0 };
    for (size_t i = 0; i < nadd; i++)
        assert_int_equal(b->ops->add(b, 0, add[i], &err), 0);
    assert_int_equal(b->ops->gains(b, 0, cand, m, out, &err), 0);
    assert_int_equal(b->ops->value(b, 0, f, &err), 0);
}

/* fp16 stores each coordinate with a relative rounding of up to 2^-11, so a
 * gain or value (a mean of differences of squared distances) may be off by
 * about 2^-11 * mean |x|^2 however small it is; beyond that, fp16 results
 * must be relative to each gain.  The absolute part is tied to the data's
 * scale (not to 1, which hid gains of 0.003 entirely), so it stays far below
 * the gains and an all-zero fp16 backend fails; fp16_power() checks that. */
static double fp16_abs(const double *x, size_t n, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < n * d; i++)
        s += x[i] * x[i];
    return 0x1p-11 * s / (double)n;
}

/* Allowed |got - ref| at precision `prec` (abs16: fp16_abs of the data). */
static double allowed(int prec, double tol, double ref, double abs16)
{
    switch (prec) {
    case BL_PREC_FP64: return tol * fmax(1.0, fabs(ref));  /* 1e-12 hides no result */
    case BL_PREC_FP32: return tol * fmax(fabs(ref), 1e-300);
    default: return tol * fabs(ref) + abs16;
    }
}

/* The fp16 tolerance can tell the largest of the `m` reference gains from 0. */
static void fp16_power(const double *ref, size_t m, double tol, double abs16)
{
    double gmax = 0;
    for (size_t i = 0; i < m; i++)
        gmax = fmax(gmax, fabs(ref[i]));
    if (!(gmax > allowed(BL_PREC_FP16, tol, gmax, abs16)))
        fail_msg("fp16 tolerance %g + %g*|gain| would accept 0 for the largest gain %g",
                 abs16, tol, gmax);
}

static void compare(size_t n, size_t d, int prec, double tol, const double *x)
{
    size_t m = n < 150 ? n : 150;
    uint32_t cand[150], add[5] = { 0 };
    for (size_t i = 0; i < m; i++)
        cand[i] = (uint32_t)((i * 7919) % n);
    size_t nadd = n < 5 ? n : 5;
    for (size_t i = 0; i < nadd; i++)
        add[i] = (uint32_t)((i * 104729 + 3) % n);
    double ref[150], got[150], fr, fg;
    bl_cluster_backend *r = mk("reference", x, n, d, BL_PREC_FP64, 1, 1);
    run_gains(r, add, nadd, cand, m, ref, &fr);
    double abs16 = fp16_abs(x, n, d);
    if (prec == BL_PREC_FP16 && n > nadd)  /* n <= nadd: every gain is 0 */
        fp16_power(ref, m, tol, abs16);
    for (int s = 0; s <= (int)bl_simd_supported(); s++) {
        char dev[32];
        snprintf(dev, sizeof dev, "cpu:%s", bl_simd_name((bl_simd)s));
        bl_cluster_backend *b = mk(dev, x, n, d, prec, 1, 2);
        run_gains(b, add, nadd, cand, m, got, &fg);
        for (size_t i = 0; i < m; i++) {
            if (!(fabs(got[i] - ref[i]) <= allowed(prec, tol, ref[i], abs16)))
                fail_msg("%s %s n=%zu d=%zu cand %zu: %.17g vs ref %.17g", dev,
                         bl_precision_name(prec), n, d, i, got[i], ref[i]);
        }
        double flim = prec == BL_PREC_FP16 ? allowed(prec, tol, fr, abs16)
                                           : tol * fmax(1.0, fabs(fr)) * 10;
        if (!(fabs(fg - fr) <= flim))
            fail_msg("%s %s n=%zu d=%zu value %.17g vs ref %.17g", dev, bl_precision_name(prec),
                     n, d, fg, fr);
        bl_cluster_backend_free(b);
    }
    bl_cluster_backend_free(r);
}

static void test_precisions_vs_reference(void **state)
{
    (void)state;
    size_t ns[] = { 1, 7, 100, 333 }, ds[] = { 1, 3, 17, 64, 101 };
    for (size_t a = 0; a < 4; a++)
        for (size_t c = 0; c < 5; c++) {
            double *x = uniform01(ns[a], ds[c], ns[a] * 31 + ds[c]);
            compare(ns[a], ds[c], BL_PREC_FP64, 1e-12, x);
            compare(ns[a], ds[c], BL_PREC_FP32, 1e-5, x);
            compare(ns[a], ds[c], BL_PREC_FP16, 1e-2, x);
            free(x);
        }
    /* Gaussian blobs (centres in [-10, 10]^d) */
    double *x;
    assert_int_equal(bl_cluster_blobs(500, 20, 5, 3, &x, NULL, NULL), 0);
    compare(500, 20, BL_PREC_FP64, 1e-12, x);
    compare(500, 20, BL_PREC_FP32, 1e-5, x);
    compare(500, 20, BL_PREC_FP16, 1e-2, x);
    free(x);
    /* FashionMNIST-sized rows */
    x = uniform01(200, 784, 5);
    compare(200, 784, BL_PREC_FP32, 1e-5, x);
    free(x);
}

static void test_fp16_large_n(void **state)
{
    (void)state;
    size_t n = 65537, d = 3;
    double *x = uniform01(n, d, 77);
    uint32_t cand[8] = { 0, 1, 65536, 12345, 40000, 7, 65535, 30000 };
    double ref[8], got[8], fr, fg;
    bl_cluster_backend *r = mk("reference", x, n, d, BL_PREC_FP64, 1, 1);
    bl_cluster_backend *b = mk("cpu", x, n, d, BL_PREC_FP16, 1, 0);
    uint32_t add[2] = { 65536, 3 };
    run_gains(r, add, 2, cand, 8, ref, &fr);
    run_gains(b, add, 2, cand, 8, got, &fg);
    double abs16 = fp16_abs(x, n, d);
    fp16_power(ref, 8, 1e-2, abs16);
    for (int i = 0; i < 8; i++)
        if (!(fabs(got[i] - ref[i]) <= allowed(BL_PREC_FP16, 1e-2, ref[i], abs16)))
            fail_msg("fp16 N=65537 cand %d: %.17g vs ref %.17g", i, got[i], ref[i]);
    assert_true(fabs(fg - fr) <= allowed(BL_PREC_FP16, 1e-2, fr, abs16));
    bl_cluster_backend_free(r);
    bl_cluster_backend_free(b);
    free(x);
}

static void test_thread_independence(void **state)
{
    (void)state;
    size_t n = 5003, d = 13, m = 300;
    double *x = uniform01(n, d, 11);
    uint32_t cand[300];
    for (size_t i = 0; i < m; i++)
        cand[i] = (uint32_t)(i * 13 % n);
    uint32_t add[3] = { 5, 4000, 5002 };
    for (int prec = 0; prec < 3; prec++) {
        double g[3][300], f[3];
        for (int t = 1; t <= 3; t++) {
            bl_cluster_backend *b = mk("cpu", x, n, d, prec, 1, t);
            run_gains(b, add, 3, cand, m, g[t - 1], &f[t - 1]);
            bl_cluster_backend_free(b);
        }
        assert_memory_equal(g[0], g[1], sizeof g[0]);
        assert_memory_equal(g[0], g[2], sizeof g[0]);
        assert_memory_equal(&f[0], &f[2], sizeof f[0]);
    }
    free(x);
}

static void test_gains_slots_and_added(void **state)
{
    (void)state;
    size_t n = 777, d = 9;
    double *x = uniform01(n, d, 12);
    bl_error err = { 0 };
    for (int prec = 0; prec < 3; prec++) {
        bl_cluster_backend *b = mk("cpu", x, n, d, prec, 3, 2);
        assert_int_equal(b->ops->add(b, 1, 10, &err), 0);
        assert_int_equal(b->ops->add(b, 2, 20, &err), 0);
        assert_int_equal(b->ops->add(b, 2, 30, &err), 0);
        int slots[3] = { 0, 1, 2 };
        double gs[3], g;
        uint32_t e = 99;
        assert_int_equal(b->ops->gains_slots(b, e, slots, 3, gs, &err), 0);
        for (int s = 0; s < 3; s++) {
            assert_int_equal(b->ops->gains(b, s, &e, 1, &g, &err), 0);
            assert_memory_equal(&g, &gs[s], sizeof g);  /* bit-identical */
        }
        uint32_t in = 20;  /* already in slot 2: exactly zero */
        assert_int_equal(b->ops->gains(b, 2, &in, 1, &g, &err), 0);
        assert_true(g == 0.0);
        bl_cluster_backend_free(b);
    }
    free(x);
}

static bl_cluster_result run_opt(const double *x, size_t n, size_t d, const char *dev, int prec,
                                 bl_optimizer o, size_t k, uint64_t seed)
{
    bl_cluster_opts op = { .k = k, .optimizer = o, .seed = seed, .batch = 97 };
    bl_cluster_backend *b = mk(dev, x, n, d, prec, bl_cluster_slots_needed(&op), 2);
    bl_cluster_result r;
    bl_error err = { 0 };
    if (bl_cluster_run(b, &op, &r, &err))
        fail_msg("%s: %s", bl_optimizer_name(o), err.msg);
    bl_cluster_backend_free(b);
    return r;
}

static void test_lazy_equals_greedy(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        double *x;
        size_t n = 300 + 37 * seed, d = 2 + seed % 5;
        assert_int_equal(bl_cluster_blobs(n, d, 4 + seed % 4, seed, &x, NULL, NULL), 0);
        for (int prec = 0; prec < 3; prec++) {
            bl_cluster_result g = run_opt(x, n, d, "cpu", prec, BL_OPT_GREEDY, 12, seed);
            bl_cluster_result l = run_opt(x, n, d, "cpu", prec, BL_OPT_LAZY_GREEDY, 12, seed);
            assert_int_equal(g.k, l.k);
            assert_memory_equal(g.exemplars, l.exemplars, g.k * sizeof *g.exemplars);
            assert_true(g.f == l.f);
            assert_true(l.evaluations < g.evaluations);
            bl_cluster_result_free(&g);
            bl_cluster_result_free(&l);
        }
        if (seed <= 3) {  /* and on the reference */
            bl_cluster_result g = run_opt(x, n, d, "reference", 0, BL_OPT_GREEDY, 6, seed);
            bl_cluster_result l = run_opt(x, n, d, "reference", 0, BL_OPT_LAZY_GREEDY, 6, seed);
            assert_memory_equal(g.exemplars, l.exemplars, g.k * sizeof *g.exemplars);
            bl_cluster_result_free(&g);
            bl_cluster_result_free(&l);
        }
        free(x);
    }
}

static void test_streaming_bounds_and_determinism(void **state)
{
    (void)state;
    size_t n = 1200, d = 5, k = 8;
    double *x;
    assert_int_equal(bl_cluster_blobs(n, d, 8, 21, &x, NULL, NULL), 0);
    bl_cluster_result g = run_opt(x, n, d, "cpu", BL_PREC_FP32, BL_OPT_GREEDY, k, 1);
    for (int o = BL_OPT_STOCHASTIC_GREEDY; o < BL_OPT_COUNT; o++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            bl_cluster_result a = run_opt(x, n, d, "cpu", BL_PREC_FP32, o, k, seed);
            bl_cluster_result b = run_opt(x, n, d, "cpu", BL_PREC_FP32, o, k, seed);
            assert_true(a.k >= 1 && a.k <= k);
            if (!(a.f >= (0.5 - 0.1) * g.f))
                fail_msg("%s seed %llu: f %g < (1/2 - eps) greedy %g", bl_optimizer_name(o),
                         (unsigned long long)seed, a.f, g.f);
            assert_int_equal(a.k, b.k);
            assert_memory_equal(a.exemplars, b.exemplars, a.k * sizeof *a.exemplars);
            assert_true(a.f == b.f);
            assert_true(a.evaluations > 0);
            bl_cluster_result_free(&a);
            bl_cluster_result_free(&b);
        }
    bl_cluster_result_free(&g);
    free(x);
}

static void test_invalid_inputs(void **state)
{
    (void)state;
    double x[6] = { 0, 1, 2, NAN, 4, 5 };
    bl_cluster_data data = { 3, 2, x };
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_backend_new("cpu", &data, BL_PREC_FP32, 1, 1, NULL, &b, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "NaN at row 1, column 1"));
    x[3] = 3;
    bl_cluster_data empty = { 0, 2, x };
    assert_int_equal(bl_cluster_backend_new("cpu", &empty, BL_PREC_FP32, 1, 1, NULL, &b, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(bl_cluster_backend_new("tpu", &data, BL_PREC_FP32, 1, 1, NULL, &b, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "unknown device 'tpu'"));
    assert_int_equal(bl_cluster_backend_new("reference", &data, BL_PREC_FP16, 1, 1, NULL, &b, &err),
                     BL_EINVAL);
    double big[2] = { 1e6, 0 };
    bl_cluster_data bd = { 1, 2, big };
    assert_int_equal(bl_cluster_backend_new("cpu", &bd, BL_PREC_FP16, 1, 1, NULL, &b, &err), BL_ERANGE);
    assert_int_equal(bl_cluster_backend_new("cpu", &data, BL_PREC_FP32, 1, 1, NULL, &b, &err), 0);
    bl_cluster_result r;
    bl_cluster_opts o = { .k = 4, .optimizer = BL_OPT_GREEDY };
    assert_int_equal(bl_cluster_run(b, &o, &r, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "exceeds"));
    o.k = 0;
    assert_int_equal(bl_cluster_run(b, &o, &r, &err), BL_EINVAL);
    o.k = 1;
    o.optimizer = BL_OPT_SIEVE_STREAMING;  /* one slot is not enough */
    assert_int_equal(bl_cluster_run(b, &o, &r, &err), BL_ERANGE);
    uint32_t c = 3;
    double g;
    assert_int_equal(b->ops->gains(b, 0, &c, 1, &g, &err), BL_EINVAL);
    assert_int_equal(b->ops->gains(b, 1, &c, 0, &g, &err), BL_EINVAL);
    bl_cluster_backend_free(b);
    assert_int_equal(bl_optimizer_parse("Lazy_Greedy"), BL_OPT_LAZY_GREEDY);
    assert_int_equal(bl_optimizer_parse("sieve-streaming++"), BL_OPT_SIEVE_STREAMING_PP);
    assert_int_equal(bl_optimizer_parse("threesieves"), BL_OPT_THREE_SIEVES);
    assert_int_equal(bl_optimizer_parse("nope"), -1);
    for (int i = 0; i < BL_OPT_COUNT; i++)
        assert_int_equal(bl_optimizer_parse(bl_optimizer_name(i)), i);
    assert_int_equal(bl_precision_parse("fp16"), BL_PREC_FP16);
    assert_int_equal(bl_precision_parse("fp8"), -1);
}

static void test_assign_weights_sum(void **state)
{
    (void)state;
    size_t n = 1001, d = 4;
    double *x;
    assert_int_equal(bl_cluster_blobs(n, d, 5, 2, &x, NULL, NULL), 0);
    bl_cluster_result r = run_opt(x, n, d, "cpu", BL_PREC_FP32, BL_OPT_LAZY_GREEDY, 7, 1);
    uint32_t w[7];
    bl_cluster_data data = { n, d, x };
    assert_int_equal(bl_cluster_assign(&data, r.exemplars, r.k, w, NULL), 0);
    size_t s = 0;
    for (size_t i = 0; i < r.k; i++) {
        s += w[i];
        assert_true(w[i] >= 1);  /* an exemplar is nearest to itself */
    }
    assert_int_equal(s, n);
    bl_cluster_result_free(&r);
    free(x);
    size_t bn, bdm, bk;
    uint64_t bs;
    assert_int_equal(bl_cluster_blobs_parse("blobs:10,2,3", &bn, &bdm, &bk, &bs), 0);
    assert_int_equal(bn, 10);
    assert_int_equal(bs, 1);
    assert_int_equal(bl_cluster_blobs_parse("blobs:10,2,3,9", &bn, &bdm, &bk, &bs), 0);
    assert_int_equal(bs, 9);
    assert_int_equal(bl_cluster_blobs_parse("blobs:10,2", &bn, &bdm, &bk, &bs), -1);
    assert_int_equal(bl_cluster_blobs_parse("blobs:10,2,3x", &bn, &bdm, &bk, &bs), -1);
}

static int stop_after(void *ctx, double frac, double f)
{
    (void)frac;
    (void)f;
    return ++*(int *)ctx >= 2;
}

static void test_progress_stop(void **state)
{
    (void)state;
    double *x;
    assert_int_equal(bl_cluster_blobs(300, 3, 4, 1, &x, NULL, NULL), 0);
    bl_cluster_backend *b = mk("cpu", x, 300, 3, BL_PREC_FP32, 1, 1);
    int calls = 0;
    bl_cluster_opts o = { .k = 10, .optimizer = BL_OPT_GREEDY, .on_progress = stop_after,
                          .ctx = &calls };
    bl_cluster_result r;
    assert_int_equal(bl_cluster_run(b, &o, &r, NULL), 0);
    assert_int_equal(r.k, 2);
    assert_true(r.f > 0 && r.f == r.f_trace[1]);
    bl_cluster_result_free(&r);
    bl_cluster_backend_free(b);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precisions_vs_reference),
        cmocka_unit_test(test_fp16_large_n),
        cmocka_unit_test(test_thread_independence),
        cmocka_unit_test(test_gains_slots_and_added),
        cmocka_unit_test(test_lazy_equals_greedy),
        cmocka_unit_test(test_streaming_bounds_and_determinism),
        cmocka_unit_test(test_invalid_inputs),
        cmocka_unit_test(test_assign_weights_sum),
        cmocka_unit_test(test_progress_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
