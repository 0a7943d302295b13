/* test_campaign.c - campaigns (study/campaign.h, jobs/campaign_job.h):
 * units are exact (merged rows equal one bl_evaluate call), the partition
 * is deterministic and cost-balanced, shards merge bit for bit, a torn
 * record is redone, the cancel hook stops between units with every finished
 * unit recorded, different campaigns are refused, the background job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/rng.h"
#include "jobs/campaign_job.h"
#include "study/campaign.h"

typedef struct fixture {
    bl_model *m[2];
    bl_inputs *in[2];
    bl_fault_registry *reg;
    bl_campaign_model models[2];
    bl_campaign_fault faults[2];
    bl_campaign_desc d;
    char dir[64];
} fixture;

static const double bers_a[] = { 0.001, 0.01, 0.05 };
static const double bers_b[] = { 0.02, 0.08 };

static void make_model(fixture *f, int i, const char *spec, size_t n)
{
    bl_error err = { 0 };
    if (bl_model_from_spec(spec, NULL, &f->m[i], &err))
        fail_msg("%s", err.msg);
    bl_model_randomize(f->m[i], 5 + (uint64_t)i);
    size_t F = bl_shape_size(f->m[i]->input);
    uint8_t *c = malloc(n * F);
    int32_t *y = malloc(n * sizeof *y);
    bl_rng_stream s = bl_rng_stream_init(6, BL_RNG_TEST, 1);
    for (size_t k = 0; k < n * F; k++)
        c[k] = (uint8_t)bl_rng_stream_u64(&s);
    for (size_t k = 0; k < n; k++)
        y[k] = (int32_t)(k % 4);
    assert_int_equal(bl_inputs_from_codes(f->m[i], c, y, n, &f->in[i], &err), 0);
    free(c);
    free(y);
}

static void make(fixture *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    make_model(f, 0, "32-48-4", 150);
    make_model(f, 1, "32-24-24-4", 150);
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&f->reg, &err), 0);
    f->models[0] = (bl_campaign_model){ "a", 0, f->m[0], f->in[0] };
    f->models[1] = (bl_campaign_model){ "b", 3, f->m[1], f->in[1] };
    f->faults[0] = (bl_campaign_fault){ "bitflip", bers_a, 3 };
    f->faults[1] = (bl_campaign_fault){ "asym:ratio=10", bers_b, 2 };
    f->d = (bl_campaign_desc){ .models = f->models, .nmodels = 2, .data = "test",
                               .faults = f->faults, .nfaults = 2, .reps = 7,
                               .reps_per_unit = 3, .seed = seed,
                               .record = BL_CAMPAIGN_FLIPS | BL_CAMPAIGN_MARGINS,
                               .reg = f->reg };
    snprintf(f->dir, sizeof f->dir, "/tmp/bl_campaign_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static void rmtree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void unmake(fixture *f)
{
    for (int i = 0; i < 2; i++) {
        bl_inputs_free(f->in[i]);
        bl_model_free(f->m[i]);
    }
    bl_fault_registry_free(f->reg);
    rmtree(f->dir);
}

static void run_shard(const bl_campaign_plan *p, const char *dir, int i, int n)
{
    bl_campaign_run_opts o = { .dir = dir, .shard = i, .nshards = n, .threads = 1 };
    bl_campaign_run_stats st;
    bl_error err = { 0 };
    if (bl_campaign_run(p, &o, NULL, &st, &err))
        fail_msg("%s", err.msg);
}

static char *merged_json(const char *const *dirs, size_t n)
{
    bl_campaign_result *r = NULL;
    bl_error err = { 0 };
    if (bl_campaign_merge(dirs, n, &r, &err))
        fail_msg("%s", err.msg);
    json_t *j = bl_campaign_to_json(r);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    bl_campaign_result_free(r);
    return s;
}

/* 2 models x (1 margins + 3 BERs x 3 units + 2 BERs x 3 units), reps 3+3+1. */
static void test_units(void **state)
{
    (void)state;
    fixture f;
    make(&f, 1);
    bl_campaign_plan *p;
    bl_error err = { 0 };
    assert_int_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    const bl_campaign_unit *u;
    size_t n = bl_campaign_units(p, &u);
    assert_int_equal(n, 2 * (1 + 5 * 3));
    assert_int_equal(u[0].kind, BL_UNIT_MARGINS);
    assert_int_equal(u[1].rep0, 0);
    assert_int_equal(u[2].rep0, 3);
    assert_int_equal(u[3].rep0, 6);
    assert_int_equal(u[3].nrep, 1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(u[i].id, i);
    assert_int_equal(strlen(bl_campaign_hash(p)), 16);
    /* deterministic, complete, balanced within the largest unit */
    int s1[64], s2[64];
    assert_int_equal(bl_campaign_partition(p, 3, s1, &err), 0);
    assert_int_equal(bl_campaign_partition(p, 3, s2, &err), 0);
    assert_memory_equal(s1, s2, n * sizeof *s1);
    double load[3] = { 0 }, maxc = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(s1[i] >= 0 && s1[i] < 3);
        load[s1[i]] += u[i].cost;
        maxc = fmax(maxc, u[i].cost);
    }
    double lo = fmin(load[0], fmin(load[1], load[2])), hi = fmax(load[0], fmax(load[1], load[2]));
    assert_true(hi - lo <= maxc);
    assert_int_not_equal(bl_campaign_partition(p, 0, s1, &err), 0);
    /* another seed is another campaign */
    fixture g;
    make(&g, 2);
    bl_campaign_plan *q;
    assert_int_equal(bl_campaign_plan_new(&g.d, &q, &err), 0);
    assert_string_not_equal(bl_campaign_hash(p), bl_campaign_hash(q));
    bl_campaign_plan_free(q);
    bl_campaign_plan_free(p);
    unmake(&g);
    unmake(&f);
}

/* Merged rows equal one bl_evaluate call over all BERs and repetitions. */
static void test_rows_equal_evaluate(void **state)
{
    (void)state;
    fixture f;
    make(&f, 9);
    bl_campaign_plan *p;
    bl_error err = { 0 };
    assert_int_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    run_shard(p, f.dir, 0, 1);
    const char *dirs[1] = { f.dir };
    bl_campaign_result *r;
    assert_int_equal(bl_campaign_merge(dirs, 1, &r, &err), 0);
    assert_int_equal(r->ngroups, 4);
    assert_int_equal(r->nmargins, 1 + 2);
    for (size_t g = 0; g < 4; g++) {
        size_t m = g / 2, fi = g % 2;
        bl_evaluate_cfg c = { .model = f.m[m], .inputs = f.in[m], .reg = f.reg,
                              .fault = f.faults[fi].spec, .bers = f.faults[fi].bers,
                              .nbers = f.faults[fi].nbers, .seed = 9, .reps = 7, .threads = 1 };
        bl_evaluate_result *e;
        assert_int_equal(bl_evaluate(&c, NULL, &e, &err), 0);
        const bl_evaluate_result *x = r->groups[g].result;
        assert_int_equal(x->nrows, e->nrows);
        assert_true(x->clean_accuracy == e->clean_accuracy);
        for (size_t b = 0; b < e->nrows; b++) {
            assert_int_equal(x->rows[b].reps, 7);
            assert_memory_equal(x->rows[b].correct, e->rows[b].correct, 7 * sizeof(uint64_t));
            assert_true(x->rows[b].accuracy == e->rows[b].accuracy);
            assert_true(x->rows[b].ci_low == e->rows[b].ci_low);
            assert_true(x->rows[b].ci_high == e->rows[b].ci_high);
            assert_int_equal(x->rows[b].ci_method, e->rows[b].ci_method);
            assert_int_equal(x->rows[b].changed_bits, e->rows[b].changed_bits);
            assert_true(r->groups[g].flips[b * (size_t)r->groups[g].nlayers] > 0);
        }
        bl_evaluate_result_free(e);
    }
    assert_string_equal(r->groups[2].model, "b");
    assert_int_equal(r->groups[2].train_seed, 3);
    bl_campaign_result_free(r);
    bl_campaign_plan_free(p);
    unmake(&f);
}

static void test_shards_and_torn(void **state)
{
    (void)state;
    fixture f;
    make(&f, 4);
    bl_campaign_plan *p;
    bl_error err = { 0 };
    assert_int_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    char one[96], sh[96];
    snprintf(one, sizeof one, "%s/one", f.dir);
    snprintf(sh, sizeof sh, "%s/sh", f.dir);
    run_shard(p, one, 0, 1);
    const char *d1[1] = { one };
    char *ref = merged_json(d1, 1);
    for (int n = 2; n <= 5; n += 3) {
        char d[128];
        snprintf(d, sizeof d, "%s%d", sh, n);
        for (int i = 0; i < n; i++)
            run_shard(p, d, i, n);
        const char *dd[1] = { d };
        char *m = merged_json(dd, 1);
        assert_string_equal(m, ref);
        free(m);
    }
    /* cut the single run's file inside its last record: detected, redone */
    char path[160];
    snprintf(path, sizeof path, "%s/shard-0-of-1.rec", one);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(path, size - 7), 0);
    bl_campaign_run_opts o = { .dir = one, .shard = 0, .nshards = 1, .threads = 1 };
    bl_campaign_run_stats st;
    assert_int_equal(bl_campaign_run(p, &o, NULL, &st, &err), 0);
    assert_int_equal(st.torn, 1);
    assert_int_equal(st.done_now, 1);
    assert_int_equal(st.done_before, st.total - 1);
    char *m = merged_json(d1, 1);
    assert_string_equal(m, ref);
    free(m);
    free(ref);
    bl_campaign_plan_free(p);
    unmake(&f);
}

static int calls;
static int cancel_third(void *ctx)
{
    (void)ctx;
    return ++calls >= 3;
}

static void test_cancel_and_mismatch(void **state)
{
    (void)state;
    fixture f, g;
    make(&f, 5);
    make(&g, 6);
    bl_campaign_plan *p, *q;
    bl_error err = { 0 };
    assert_int_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    assert_int_equal(bl_campaign_plan_new(&g.d, &q, &err), 0);
    bl_campaign_run_opts o = { .dir = f.dir, .shard = 0, .nshards = 1, .threads = 1 };
    bl_campaign_run_stats st;
    calls = 0;
    assert_int_equal(bl_campaign_job_run_sync(p, &o, NULL, NULL, cancel_third, NULL, &st, &err),
                     BL_ECANCELED);
    assert_int_equal(st.done_now, 2);
    /* an incomplete output is refused, naming the first missing unit */
    const char *d1[1] = { f.dir };
    bl_campaign_result *r = NULL;
    assert_int_not_equal(bl_campaign_merge(d1, 1, &r, &err), 0);
    assert_non_null(strstr(err.msg, "incomplete"));
    /* the other campaign may not write into this folder */
    assert_int_not_equal(bl_campaign_run(q, &o, NULL, &st, &err), 0);
    assert_non_null(strstr(err.msg, "not this one"));
    /* finish in a background job */
    bl_job *j;
    assert_int_equal(bl_campaign_job_start(p, &o, NULL, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    bl_campaign_run_stats *js = bl_job_take_result(j);
    assert_non_null(js);
    assert_int_equal(js->done_before, 2);
    assert_int_equal(js->done_before + js->done_now, js->total);
    free(js);
    bl_job_free(j);
    /* different campaigns do not merge */
    bl_campaign_run_opts o2 = { .dir = g.dir, .shard = 0, .nshards = 1, .threads = 1 };
    assert_int_equal(bl_campaign_run(q, &o2, NULL, &st, &err), 0);
    const char *both[2] = { f.dir, g.dir };
    assert_int_not_equal(bl_campaign_merge(both, 2, &r, &err), 0);
    assert_non_null(strstr(err.msg, "different campaigns"));
    bl_campaign_plan_free(p);
    bl_campaign_plan_free(q);
    unmake(&f);
    unmake(&g);
}

static void test_checks(void **state)
{
    (void)state;
    fixture f;
    make(&f, 1);
    bl_campaign_plan *p = NULL;
    bl_error err = { 0 };
    f.d.reps = BL_REPS_MAX + 1;
    assert_int_not_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    assert_non_null(strstr(err.msg, "reps"));
    f.d.reps = 7;
    f.faults[0].spec = "nosuchkind";
    assert_int_not_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    f.faults[0].spec = "bitflip";
    f.d.ci_width = 0.05;
    f.d.reps = 0;
    assert_int_not_equal(bl_campaign_plan_new(&f.d, &p, &err), 0); /* with reps_per_unit */
    f.d.reps_per_unit = 0;
    assert_int_equal(bl_campaign_plan_new(&f.d, &p, &err), 0);
    bl_campaign_run_opts o = { .dir = f.dir, .shard = 2, .nshards = 2 };
    bl_campaign_run_stats st;
    assert_int_not_equal(bl_campaign_run(p, &o, NULL, &st, &err), 0);
    bl_campaign_plan_free(p);
    unmake(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_rows_equal_evaluate),
        cmocka_unit_test(test_shards_and_torn),
        cmocka_unit_test(test_cancel_and_mismatch),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
