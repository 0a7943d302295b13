/* test_metrics.c - margins, flips needed (tie rule), analytic flip
 * probability against exhaustive enumeration, importance (fast method
 * against brute force; zero-effect neuron has importance 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "bnn/engine.h"
#include "study/metrics.h"
#include "study/metrics_report.h"

static bl_model *make_model(const char *spec, uint64_t seed)
{
    bl_model *m = NULL;
    bl_error err = { 0 };
    if (bl_model_from_spec(spec, NULL, &m, &err))
        fail_msg("spec %s: %s", spec, err.msg);
    bl_model_randomize(m, seed);
    return m;
}

static bl_inputs *make_inputs(const bl_model *m, size_t n, uint64_t seed)
{
    size_t F = bl_shape_size(m->input);
    uint8_t *c = malloc(n * F);
    int32_t *y = malloc(n * sizeof *y);
    bl_rng_stream s = bl_rng_stream_init(seed, BL_RNG_TEST, 7);
    for (size_t i = 0; i < n * F; i++)
        c[i] = (uint8_t)bl_rng_stream_u64(&s);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)bl_rng_stream_below(&s, m->nclasses);
    bl_inputs *in = NULL;
    bl_error err = { 0 };
    if (bl_inputs_from_codes(m, c, y, n, &in, &err))
        fail_msg("inputs: %s", err.msg);
    free(c);
    free(y);
    return in;
}

static bl_engine *engine(const bl_model *m, int threads)
{
    bl_engine *e = NULL;
    bl_error err = { 0 };
    bl_engine_opts o = { .threads = threads };
    if (bl_engine_new(m, &o, &e, &err))
        fail_msg("engine: %s", err.msg);
    return e;
}

/* flips needed = smallest K such that moving a by 2K in the right
 * direction changes the THRESH output */
static void test_flips_needed(void **s)
{
    (void)s;
    for (int dir = -1; dir <= 1; dir += 2)
        for (int32_t tau = -5; tau <= 5; tau++)
            for (int32_t a = -20; a <= 20; a++) {
                int o = bl_thresh_out(a, tau, dir);
                int64_t want = -1;
                for (int64_t K = 1; K < 100 && want < 0; K++)
                    if (bl_thresh_out((int32_t)(a - 2 * K), tau, dir) != o ||
                        bl_thresh_out((int32_t)(a + 2 * K), tau, dir) != o)
                        want = K;
                assert_int_equal(bl_flips_needed(a, tau, dir), want);
            }
    /* the stated rule: on the tie side floor(m/2)+1, else ceil(m/2) */
    assert_int_equal(bl_flips_needed(4, 4, 1), 1);  /* a = tau, out +1: 1 flip */
    assert_int_equal(bl_flips_needed(7, 3, 1), 3);  /* m = 4 inclusive: 4/2 + 1 */
    assert_int_equal(bl_flips_needed(-1, 3, 1), 2); /* m = 4 other side: 2 */
    assert_int_equal(bl_flips_needed(3, 3, -1), 1);
    assert_int_equal(bl_flips_needed(6, 3, -1), 2); /* m = 3 other side: ceil */
}

/* Exhaustive: n terms t_i in {+1,-1} with a = sum t_i; every flip pattern
 * with probability p^k (1-p)^(n-k). */
static double enumerate(uint32_t n, int32_t a, int32_t tau, int dir, double p)
{
    uint32_t plus = (uint32_t)(((int32_t)n + a) / 2);
    int o = bl_thresh_out(a, tau, dir);
    double P = 0;
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        int32_t b = a;
        int k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (mask >> i & 1) {
                b -= 2 * (i < plus ? 1 : -1);
                k++;
            }
        if (bl_thresh_out(b, tau, dir) != o)
            P += pow(p, k) * pow(1 - p, (double)n - k);
    }
    return P;
}

static void test_flip_prob_exact(void **s)
{
    (void)s;
    const uint32_t n = 12;
    const double ps[] = { 0.01, 0.1, 0.3, 0.5 };
    for (int pi = 0; pi < 4; pi++)
        for (int dir = -1; dir <= 1; dir += 2)
            for (int32_t tau = -4; tau <= 4; tau += 2)
                for (int32_t a = -(int32_t)n; a <= (int32_t)n; a += 2) {
                    double want = enumerate(n, a, tau, dir, ps[pi]);
                    double got = bl_flip_prob(n, a, tau, dir, ps[pi]);
                    if (fabs(got - want) > 1e-12)
                        fail_msg("n %u a %d tau %d dir %d p %g: %.15g vs %.15g", n, a, tau, dir,
                                 ps[pi], got, want);
                }
    assert_true(bl_flip_prob(2048, 100, 0, 1, 0.0) == 0.0);
    double big = bl_flip_prob(2048, 40, 0, 1, 0.05);
    assert_true(big > 0 && big < 1);
}

static void test_margins(void **s)
{
    (void)s;
    bl_model *m = make_model("30-16-8-4", 3);
    bl_engine *e = engine(m, 2);
    bl_inputs *in = make_inputs(m, 200, 4);
    bl_hidden hs[8];
    assert_int_equal(bl_hidden_layers(m, hs, 8), 2);
    assert_string_equal(hs[0].name, "fc1");
    assert_string_equal(hs[1].name, "fc2");
    bl_hidden h;
    assert_int_equal(bl_hidden_find(m, "fc2", &h), 1);
    bl_error err = { 0 };
    int32_t *pre;
    assert_int_equal(bl_hidden_preacts(e, m, in, &h, &pre, &err), 0);
    bl_margin_summary ms;
    assert_int_equal(bl_margin_summarize(m, &h, pre, 200, &ms, &err), 0);
    assert_int_equal(ms.count, 200 * 8);
    const bl_layer *th = &m->layers[h.thresh];
    double sum = 0;
    uint64_t below2 = 0, hsum = 0;
    int64_t *all = malloc(ms.count * sizeof *all);
    for (size_t i = 0; i < ms.count; i++) {
        int64_t mg = llabs((long long)pre[i] - th->tau[i % 8]);
        all[i] = mg;
        sum += (double)mg;
        below2 += mg < 2;
    }
    assert_true(fabs(ms.mean - sum / (double)ms.count) < 1e-9);
    assert_true(fabs(ms.below[0] - (double)below2 / (double)ms.count) < 1e-12);
    for (uint32_t b = 0; b < ms.nbins; b++)
        hsum += ms.hist[b];
    assert_int_equal(hsum, ms.count);
    /* quantiles: #(m <= q) >= ceil(level * N) and #(m <= q - 1) < it */
    for (int q = 0; q < BL_MARGIN_NQ; q++) {
        uint64_t le = 0, lt = 0;
        for (size_t i = 0; i < ms.count; i++) {
            le += all[i] <= ms.q[q];
            lt += all[i] < ms.q[q];
        }
        double need = ceil(bl_margin_qlevels[q] * (double)ms.count);
        assert_true((double)le >= need);
        assert_true((double)lt < need);
    }
    free(all);
    bl_margin_summary_free(&ms);
    free(pre);
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_model_free(m);
}

static void check_importance(const char *spec, uint64_t seed)
{
    bl_model *m = make_model(spec, seed);
    bl_engine *e = engine(m, 2);
    bl_inputs *in = make_inputs(m, 150, seed + 1);
    bl_hidden hs[8];
    int nh = bl_hidden_layers(m, hs, 8);
    int nfast = 0;
    for (int i = 0; i < nh; i++) {
        bl_error err = { 0 };
        bl_importance a, b;
        assert_int_equal(bl_importance_layer(e, m, in, &hs[i], BL_IMP_BRUTE, 0, &b, &err), 0);
        int rc = bl_importance_layer(e, m, in, &hs[i], BL_IMP_FAST, 2, &a, &err);
        if (rc == BL_EUNSUPPORTED) {
            bl_importance_free(&b);
            continue;
        }
        assert_int_equal(rc, 0);
        nfast++;
        assert_int_equal(a.n, b.n);
        for (size_t j = 0; j < a.n; j++)
            if (a.imp[j] != b.imp[j])
                fail_msg("%s %s neuron %zu: fast %g brute %g", spec, hs[i].name, j, a.imp[j],
                         b.imp[j]);
        assert_true(a.variance == b.variance && a.max == b.max);
        bl_importance_free(&a);
        bl_importance_free(&b);
    }
    assert_true(nfast >= 1);
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_model_free(m);
}

static void test_importance_fast_equals_brute(void **s)
{
    (void)s;
    check_importance("40-24-20-6", 11);
    check_importance("40-64-70-33-5", 12);
    check_importance("6x6x2-c4-p-c5-p-12-5", 13);
    check_importance("6x6x1-c3-7-4", 14);
}

static void test_importance_zero_effect(void **s)
{
    (void)s;
    bl_model *m = make_model("30-16-12-5", 21);
    /* neuron 3 of the last hidden layer: the same outgoing weight for every
     * class, so inverting it shifts all scores equally */
    bl_layer *last = &m->layers[m->nlayers - 1];
    for (uint32_t k = 0; k < last->rows; k++)
        last->weights[(size_t)k * last->words_per_row] |= 1ull << 3;
    bl_engine *e = engine(m, 1);
    bl_inputs *in = make_inputs(m, 300, 22);
    bl_hidden h;
    assert_int_equal(bl_hidden_find(m, "fc2", &h), 1);
    bl_error err = { 0 };
    for (int method = BL_IMP_FAST; method <= BL_IMP_BRUTE; method++) {
        bl_importance imp;
        assert_int_equal(bl_importance_layer(e, m, in, &h, method, 1, &imp, &err), 0);
        assert_int_equal(imp.n, 12);
        assert_true(imp.imp[3] == 0.0);
        assert_true(imp.max > 0.0); /* the others do matter */
        bl_importance_free(&imp);
    }
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_model_free(m);
}

/* Analytic flip fraction vs Monte-Carlo injection on that layer only. */
static void check_mc(const char *spec, const char *layer, const double *ps, int np, int reps)
{
    bl_model *m = make_model(spec, 31);
    bl_engine *e = engine(m, 2);
    bl_inputs *in = make_inputs(m, 200, 32);
    bl_fault_registry *reg = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&reg, &err), 0);
    bl_hidden h;
    assert_true(bl_hidden_find(m, layer, &h) >= 0);
    int32_t *pre;
    assert_int_equal(bl_hidden_preacts(e, m, in, &h, &pre, &err), 0);
    for (int i = 0; i < np; i++) {
        double an;
        if (bl_flip_fraction_analytic(m, &h, pre, 200, ps[i], &an, &err))
            fail_msg("analytic: %s", err.msg);
        bl_ci ci;
        if (bl_flip_fraction_measured(e, m, in, &h, reg, ps[i], 1000, reps, pre, &ci, &err))
            fail_msg("measured: %s", err.msg);
        print_message("%s %s p=%g: analytic %.5f measured %.5f [%.5f, %.5f]\n", spec, layer,
                      ps[i], an, ci.mean, ci.low, ci.high);
        if (!(an >= ci.low && an <= ci.high))
            fail_msg("%s p=%g: analytic %.5f outside the Monte-Carlo CI [%.5f, %.5f]", layer,
                     ps[i], an, ci.low, ci.high);
        assert_true(an > 0.0);
    }
    free(pre);
    bl_fault_registry_free(reg);
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_model_free(m);
}

static void test_analytic_vs_mc(void **s)
{
    (void)s;
    const double ps[] = { 0.002, 0.01, 0.05, 0.2 };
    check_mc("100-256-160-10", "fc2", ps, 4, 40);
    const double pc[] = { 0.01, 0.1 };
    check_mc("8x8x1-c4-c6-10-4", "conv2", pc, 2, 40);

    /* real-input and pooled layers: no analytic value, a clear reason */
    bl_model *m = make_model("6x6x1-c4-p-c4-p-8-3", 3);
    bl_hidden hs[4];
    assert_int_equal(bl_hidden_layers(m, hs, 4), 3);
    bl_error err = { 0 };
    double f;
    int32_t dummy[1] = { 0 };
    assert_int_equal(bl_flip_fraction_analytic(m, &hs[0], dummy, 0, 0.01, &f, &err),
                     BL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "real-input"));
    assert_int_equal(bl_flip_fraction_analytic(m, &hs[1], dummy, 0, 0.01, &f, &err),
                     BL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "pooled"));
    bl_model_free(m);
}


/* The one metrics call equals the primitives it assembles, layer by layer;
 * the faulty histogram shares the clean one's bins; parameters are checked
 * before anything is computed. */
static void test_metrics_report(void **s)
{
    (void)s;
    bl_model *m = make_model("20-24-16-4", 3);
    bl_inputs *in = make_inputs(m, 150, 4);
    bl_fault_registry *reg = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&reg, &err), 0);
    bl_metrics_cfg c = { .model = m, .inputs = in, .reg = reg,
                         .what = BL_MET_ALL | BL_MET_FAULTY_MARGINS, .ber = 0.05, .reps = 3,
                         .seed = 9, .threads = 1, .max_bins = 16, .fault = "bitflip:p=0.1" };
    bl_metrics_result *r = NULL;
    assert_int_equal(bl_metrics_run(&c, NULL, &r, &err), 0);
    assert_int_equal(r->nlayers, 2);
    bl_engine *e = engine(m, 1);
    for (int i = 0; i < r->nlayers; i++) {
        const bl_metrics_layer *L = &r->layers[i];
        int32_t *pre = NULL;
        assert_int_equal(bl_hidden_preacts(e, m, in, &L->h, &pre, &err), 0);
        bl_margin_summary ms;
        assert_int_equal(bl_margin_summarize_bins(m, &L->h, pre, 150, 0, 16, &ms, &err), 0);
        assert_true(ms.mean == L->margins.mean);
        assert_int_equal(ms.nbins, L->margins.nbins);
        assert_true(ms.nbins <= 16);
        assert_memory_equal(ms.hist, L->margins.hist, ms.nbins * sizeof *ms.hist);
        assert_int_equal(L->faulty.bin_width, L->margins.bin_width);
        assert_int_equal(L->faulty.count, L->margins.count);
        double an;
        bl_error e2 = { 0 };
        if (bl_flip_fraction_analytic(m, &L->h, pre, 150, 0.05, &an, &e2) == 0)
            assert_true(an == L->analytic);
        else
            assert_true(isnan(L->analytic) && L->analytic_note[0]);
        bl_ci ci;
        assert_int_equal(bl_flip_fraction_measured(e, m, in, &L->h, reg, 0.05, 9, 3, pre, &ci,
                                                   &err), 0);
        assert_true(ci.mean == L->measured.mean && ci.low == L->measured.low);
        bl_importance imp = { 0 };
        assert_int_equal(bl_importance_layer(e, m, in, &L->h, BL_IMP_AUTO, 1, &imp, &err), 0);
        assert_true(imp.variance == L->importance.variance);
        bl_importance_free(&imp);
        bl_margin_summary_free(&ms);
        free(pre);
    }
    json_t *j = bl_metrics_to_json(r);
    assert_int_equal(json_array_size(json_object_get(j, "layers")), 2);
    json_decref(j);
    bl_metrics_result_free(r);
    /* parameters, checked once */
    bl_metrics_cfg bad = c;
    bad.ber = 1.5;
    assert_int_equal(bl_metrics_run(&bad, NULL, &r, &err), BL_ERANGE);
    assert_non_null(strstr(err.msg, "BER 1.5"));
    bad = c;
    bad.reps = -2;
    assert_int_equal(bl_metrics_check_params(&bad, &err), BL_ERANGE);
    bad = c;
    bad.layer = "fc9";
    assert_int_equal(bl_metrics_run(&bad, NULL, &r, &err), BL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "fc9"));
    bl_engine_free(e);
    bl_fault_registry_free(reg);
    bl_inputs_free(in);
    bl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flips_needed),
        cmocka_unit_test(test_flip_prob_exact),
        cmocka_unit_test(test_margins),
        cmocka_unit_test(test_importance_fast_equals_brute),
        cmocka_unit_test(test_importance_zero_effect),
        cmocka_unit_test(test_analytic_vs_mc),
        cmocka_unit_test(test_metrics_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
