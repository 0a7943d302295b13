/* test_evaluate.c - the one evaluator: bit-identical across thread counts
 * and runs, coupled maps, CIs and their method, the stopping rule, clean
 * and saved-map evaluations, a caller's engine and cache, per-map hooks,
 * parameter checks, jobs (result, progress, cancellation), CSV/JSON
 * outputs, BER lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/rng.h"
#include "jobs/eval_job.h"
#include "study/stats.h"

typedef struct fixture {
    bl_model *m;
    bl_inputs *in;
    bl_fault_registry *reg;
} fixture;

/* Random model; labels = its clean predictions, so accuracy starts at 1. */
static fixture make(const char *spec, size_t n)
{
    fixture f;
    bl_error err = { 0 };
    if (bl_model_from_spec(spec, NULL, &f.m, &err))
        fail_msg("%s", err.msg);
    bl_model_randomize(f.m, 5);
    size_t F = bl_shape_size(f.m->input);
    uint8_t *c = malloc(n * F);
    bl_rng_stream s = bl_rng_stream_init(6, BL_RNG_TEST, 1);
    for (size_t i = 0; i < n * F; i++)
        c[i] = (uint8_t)bl_rng_stream_u64(&s);
    bl_inputs *tmp;
    assert_int_equal(bl_inputs_from_codes(f.m, c, NULL, n, &tmp, &err), 0);
    bl_engine *e;
    bl_engine_opts o = { .threads = 1 };
    assert_int_equal(bl_engine_new(f.m, &o, &e, &err), 0);
    int32_t *y = malloc(n * sizeof *y);
    assert_int_equal(bl_engine_predict(e, f.m, tmp, y, &err), 0);
    assert_int_equal(bl_inputs_from_codes(f.m, c, y, n, &f.in, &err), 0);
    bl_inputs_free(tmp);
    bl_engine_free(e);
    free(c);
    free(y);
    assert_int_equal(bl_fault_registry_new(&f.reg, &err), 0);
    return f;
}

static void unmake(fixture *f)
{
    bl_fault_registry_free(f->reg);
    bl_inputs_free(f->in);
    bl_model_free(f->m);
}

static const double bers[] = { 0.0, 0.001, 0.005, 0.02, 0.05, 0.1 };

static bl_evaluate_cfg cfg_of(const fixture *f, int threads)
{
    bl_evaluate_cfg c = { .model = f->m, .inputs = f->in, .reg = f->reg, .fault = "bitflip",
                          .bers = bers, .nbers = 6, .seed = 42, .reps = 5, .threads = threads };
    return c;
}

static bl_evaluate_result *run(const bl_evaluate_cfg *c)
{
    bl_evaluate_result *r = NULL;
    bl_error err = { 0 };
    if (bl_evaluate(c, NULL, &r, &err))
        fail_msg("evaluate: %s", err.msg);
    return r;
}

static void same(const bl_evaluate_result *a, const bl_evaluate_result *b)
{
    assert_int_equal(a->nrows, b->nrows);
    for (size_t i = 0; i < a->nrows; i++) {
        assert_int_equal(a->rows[i].reps, b->rows[i].reps);
        assert_memory_equal(a->rows[i].acc, b->rows[i].acc, a->rows[i].reps * sizeof(double));
        assert_true(a->rows[i].accuracy == b->rows[i].accuracy);
        assert_true(a->rows[i].ci_low == b->rows[i].ci_low);
        assert_true(a->rows[i].ci_high == b->rows[i].ci_high);
        assert_int_equal(a->rows[i].changed_bits, b->rows[i].changed_bits);
    }
}

static void test_deterministic(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 300);
    bl_evaluate_cfg c1 = cfg_of(&f, 1), c2 = cfg_of(&f, 2), c3 = cfg_of(&f, 3);
    bl_evaluate_result *a = run(&c1), *b = run(&c2), *c = run(&c3), *d = run(&c2);
    same(a, b);
    same(a, c);
    same(b, d);
    /* BER 0: the clean model; coupling: changed bits grow with the BER */
    assert_true(a->clean_accuracy == 1.0);
    assert_true(a->rows[0].accuracy == 1.0 && a->rows[0].ci_low == 1.0);
    assert_int_equal(a->rows[0].changed_bits, 0);
    for (size_t i = 1; i < a->nrows; i++)
        assert_true(a->rows[i].changed_bits >= a->rows[i - 1].changed_bits);
    assert_true(a->rows[5].accuracy < 0.9);
    /* Student-t interval over the repetitions */
    for (size_t i = 0; i < a->nrows; i++) {
        bl_ci ci;
        bl_ci_student(a->rows[i].acc, 5, 0.95, 0, 1, &ci);
        assert_true(ci.low == a->rows[i].ci_low && ci.high == a->rows[i].ci_high);
        assert_true(a->rows[i].ci_low <= a->rows[i].accuracy);
        assert_true(a->rows[i].accuracy <= a->rows[i].ci_high);
    }
    /* another seed gives other maps */
    c1.seed = 43;
    bl_evaluate_result *e = run(&c1);
    assert_true(memcmp(e->rows[5].acc, a->rows[5].acc, 5 * sizeof(double)) != 0);
    bl_evaluate_result_free(a);
    bl_evaluate_result_free(b);
    bl_evaluate_result_free(c);
    bl_evaluate_result_free(d);
    bl_evaluate_result_free(e);
    unmake(&f);
}

static void test_coupled_monotone_per_seed(void **s)
{
    (void)s;
    /* coupled maps: the faulty bits at a lower BER are a subset of those at
     * a higher one (same seed), so the changed-bit counts grow strictly here
     * (accuracy itself need not be monotone on a random model) */
    fixture f = make("64-96-80-10", 100);
    bl_evaluate_cfg c = cfg_of(&f, 2);
    c.reps = 3;
    bl_evaluate_result *r = run(&c);
    for (size_t i = 1; i < r->nrows; i++)
        assert_true(r->rows[i].changed_bits > r->rows[i - 1].changed_bits);
    bl_evaluate_result_free(r);
    unmake(&f);
}

static void test_wilson_single_map(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 200);
    bl_evaluate_cfg c = cfg_of(&f, 2);
    c.reps = 1;
    bl_evaluate_result *r = run(&c);
    for (size_t i = 0; i < r->nrows; i++) {
        bl_ci ci;
        bl_ci_wilson(r->rows[i].correct[0], 200, 0.95, &ci);
        assert_true(ci.low == r->rows[i].ci_low && ci.high == r->rows[i].ci_high);
        assert_int_equal(r->rows[i].reps, 1);
    }
    bl_evaluate_result_free(r);
    unmake(&f);
}

static void test_stopping_rule(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 200);
    bl_evaluate_cfg c = cfg_of(&f, 2);
    c.reps = 0; /* a stopping rule instead of fixed repetitions */
    c.ci_width = 0.01;
    c.max_reps = 40;
    bl_evaluate_result *r = run(&c);
    int stopped_early = 0, hit_max = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_evaluate_row *w = &r->rows[i];
        assert_true(w->reps >= 3 && w->reps <= 40);
        if (w->reps < 40) {
            assert_true(w->half <= 0.01);
            /* and it did not stop later than needed */
            if (w->reps > 3) {
                bl_ci ci;
                bl_ci_student(w->acc, (size_t)w->reps - 1, 0.95, 0, 1, &ci);
                assert_true(ci.half > 0.01);
            }
            stopped_early++;
        } else {
            hit_max++;
        }
    }
    assert_true(stopped_early >= 1);
    assert_int_equal(r->rows[0].reps, 3); /* BER 0: zero spread */
    bl_evaluate_result_free(r);
    unmake(&f);
}

static void test_job(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 200);
    bl_evaluate_cfg c = cfg_of(&f, 2);
    bl_error err = { 0 };
    bl_job *j;
    assert_int_equal(bl_eval_job_start(&c, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    assert_int_equal(bl_job_state_now(j), BL_JOB_DONE);
    bl_evaluate_result *r = bl_job_take_result(j);
    bl_job_free(j);
    bl_evaluate_result *sync = NULL;
    assert_int_equal(bl_eval_job_run_sync(&c, NULL, NULL, &sync, &err), 0);
    same(r, sync);
    bl_evaluate_result *direct = run(&c);
    same(r, direct);
    bl_evaluate_result_free(r);
    bl_evaluate_result_free(sync);
    bl_evaluate_result_free(direct);

    /* cancellation between fault maps */
    c.reps = 100000;
    assert_int_equal(bl_eval_job_start(&c, NULL, &j, &err), 0);
    char msg[128] = "";
    struct timespec ts = { 0, 2000000 };
    while (bl_job_progress(j, msg, sizeof msg) == 0.0 && !strstr(msg, "repetition 3"))
        nanosleep(&ts, NULL);
    bl_job_cancel(j);
    assert_int_equal(bl_job_wait(j, &err), BL_ECANCELED);
    assert_int_equal(bl_job_state_now(j), BL_JOB_CANCELED);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_null(bl_job_take_result(j));
    bl_job_free(j);

    /* bad configuration: refused before starting */
    c.reps = 5;
    c.fault = "nosuchkind";
    assert_int_equal(bl_eval_job_start(&c, NULL, &j, &err), 0);
    assert_int_not_equal(bl_job_wait(j, &err), 0);
    assert_non_null(strstr(err.msg, "nosuchkind"));
    bl_job_free(j);
    unmake(&f);
}

static void test_outputs(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 100);
    bl_evaluate_cfg c = cfg_of(&f, 2);
    c.reps = 2;
    bl_evaluate_result *r = run(&c);
    char *csv = bl_evaluate_to_csv(r);
    assert_non_null(csv);
    assert_memory_equal(csv, "ber,accuracy,ci_low,ci_high,reps,accuracies\r\n", 45);
    int lines = 0;
    for (char *p = csv; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 7);
    assert_non_null(strstr(csv, "\r\n0,1,1,1,2,\"1;1\"\r\n"));
    free(csv);
    json_t *j = bl_evaluate_to_json(r, 1);
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), 6);
    const char *keys[] = { "ber", "accuracy", "ci_low", "ci_high", "reps", "accuracies" };
    for (int k = 0; k < 6; k++)
        assert_non_null(json_object_get(json_array_get(rows, 3), keys[k]));
    assert_non_null(json_object_get(j, "seconds"));
    json_decref(j);
    bl_evaluate_result_free(r);
    unmake(&f);
}

static void test_ber_list(void **s)
{
    (void)s;
    double *v;
    size_t n;
    bl_error err = { 0 };
    assert_int_equal(bl_parse_ber_list("0,1e-3,0.01", &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(v[1] == 1e-3);
    free(v);
    assert_int_equal(bl_parse_ber_list("1e-4:1e-1:4", &v, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_true(v[0] == 1e-4 && v[3] == 1e-1 && fabs(v[1] - 1e-3) < 1e-15);
    free(v);
    assert_int_equal(bl_parse_ber_list("lin:0:0.1:3", &v, &n, &err), 0);
    assert_true(n == 3 && v[1] == 0.05);
    free(v);
    assert_int_not_equal(bl_parse_ber_list("0,2", &v, &n, &err), 0);
    assert_int_not_equal(bl_parse_ber_list("0,,1", &v, &n, &err), 0);
    assert_int_not_equal(bl_parse_ber_list("0:0.1:3", &v, &n, &err), 0);
    assert_int_not_equal(bl_parse_ber_list("", &v, &n, &err), 0);
}


/* Clean model, a spec at its own rates, and a saved map of that spec's
 * repetition 0: the three inputs the evaluator takes. */
static void test_clean_spec_map(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 200);
    bl_error err = { 0 };
    bl_evaluate_cfg c = { .model = f.m, .inputs = f.in, .reg = f.reg, .timing_repeats = 2 };
    bl_evaluate_result *clean = run(&c);
    assert_int_equal(clean->nrows, 1);
    assert_true(clean->rows[0].accuracy == 1.0); /* labels are its predictions */
    assert_int_equal(clean->rows[0].ci_method, BL_CI_WILSON_IMAGES);
    assert_true(clean->timing.images_per_s > 0);
    assert_int_equal(clean->maps, 0);
    const char *spec = "bitflip:p=0.05;fc1.activations=bitflip:p=0.01";
    bl_evaluate_cfg sc = { .model = f.m, .inputs = f.in, .reg = f.reg, .fault = spec,
                           .seed = 3 };
    bl_evaluate_result *one = run(&sc);
    assert_int_equal(one->rows[0].reps, 1);
    assert_true(one->rows[0].accuracy < 1.0);
    /* the saved map has the weight faults only: without activation faults
     * the spec and its map give the same accuracy */
    sc.fault = "bitflip:p=0.05";
    bl_evaluate_result *w = run(&sc);
    bl_fault_map *map = NULL;
    assert_int_equal(bl_fault_map_from_spec(f.reg, "bitflip:p=0.05", f.m, 3, &map, &err), 0);
    bl_evaluate_cfg mc = { .model = f.m, .inputs = f.in, .map = map, .map_name = "x.bfm" };
    bl_evaluate_result *mr = run(&mc);
    assert_true(mr->rows[0].accuracy == w->rows[0].accuracy);
    assert_int_equal(mr->rows[0].changed_bits, bl_fault_map_bits(map));
    /* five maps: Student-t; the same with a caller's engine and cache, whose
     * activation faults are left off afterwards */
    sc.fault = spec;
    sc.reps = 5;
    bl_evaluate_result *five = run(&sc);
    assert_int_equal(five->rows[0].ci_method, BL_CI_STUDENT_MAPS);
    bl_engine *e;
    bl_engine_opts o = { .threads = 2 };
    assert_int_equal(bl_engine_new(f.m, &o, &e, &err), 0);
    bl_cache *cache;
    assert_int_equal(bl_cache_new(e, f.m, f.in, &cache, &err), 0);
    assert_non_null(bl_cache_clean_predictions(cache));
    sc.engine = e;
    sc.cache = cache;
    for (int k = 0; k < 2; k++) {
        bl_evaluate_result *again = run(&sc);
        same(five, again);
        bl_evaluate_result_free(again);
    }
    int32_t *p = malloc(200 * sizeof *p);
    assert_int_equal(bl_engine_predict(e, f.m, f.in, p, &err), 0);
    assert_memory_equal(p, bl_cache_clean_predictions(cache), 200 * sizeof *p);
    free(p);
    bl_cache_free(cache);
    bl_engine_free(e);
    bl_evaluate_result_free(five);
    bl_evaluate_result_free(mr);
    bl_evaluate_result_free(w);
    bl_evaluate_result_free(one);
    bl_evaluate_result_free(clean);
    bl_fault_map_free(map);
    unmake(&f);
}

static int maps_seen;
static void on_map(void *ctx, size_t ri, const bl_evaluate_row *row, const bl_evaluate_result *r)
{
    (void)ctx;
    (void)r;
    assert_true(ri < 6);
    assert_true(row->reps >= 1 && row->ci_low <= row->accuracy && row->accuracy <= row->ci_high);
    maps_seen++;
}

static void test_hooks_and_checks(void **s)
{
    (void)s;
    fixture f = make("64-96-80-10", 100);
    bl_evaluate_cfg c = cfg_of(&f, 1);
    bl_evaluate_hooks h = { NULL, NULL, on_map, NULL };
    bl_evaluate_result *r = NULL;
    bl_error err = { 0 };
    maps_seen = 0;
    assert_int_equal(bl_evaluate(&c, &h, &r, &err), 0);
    assert_int_equal(maps_seen, 6 * 5);
    assert_int_equal(r->maps, 6 * 5);
    bl_evaluate_result_free(r);
    /* ranges and combinations, with the value in the message */
    bl_evaluate_cfg b = c;
    b.reps = -1;
    assert_int_equal(bl_evaluate_check_params(&b, &err), BL_ERANGE);
    assert_non_null(strstr(err.msg, "reps -1"));
    b = c;
    b.ci_width = 1.5;
    assert_int_equal(bl_evaluate_check_params(&b, &err), BL_ERANGE);
    b = c;
    b.ci_width = 0.1; /* with reps = 5 */
    assert_int_equal(bl_evaluate_check_params(&b, &err), BL_EINVAL);
    b = c;
    b.threads = 5000;
    assert_int_equal(bl_evaluate_check_params(&b, &err), BL_ERANGE);
    b = c;
    b.fault = NULL;  /* a BER list without a spec */
    assert_int_equal(bl_evaluate_check_params(&b, &err), BL_EINVAL);
    double wrong[] = { 0.1, 2.0 };
    b = c;
    b.bers = wrong;
    b.nbers = 2;
    assert_int_equal(bl_evaluate(&b, NULL, &r, &err), BL_ERANGE);
    assert_non_null(strstr(err.msg, "BER 2"));
    unmake(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_coupled_monotone_per_seed),
        cmocka_unit_test(test_wilson_single_map),
        cmocka_unit_test(test_stopping_rule),
        cmocka_unit_test(test_clean_spec_map),
        cmocka_unit_test(test_hooks_and_checks),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_ber_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
