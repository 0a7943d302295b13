/* test_jobs.c - background jobs: result, progress, cancellation, sync mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobs/job.h"

typedef struct work {
    int steps;
    int block; /* spin until cancelled */
} work;

static void nap(void)
{
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
}

static int count_fn(bl_job *job, void *arg, bl_error *err)
{
    work *w = arg;
    long *sum = malloc(sizeof *sum);
    *sum = 0;
    for (int i = 0; i < w->steps || w->block; i++) {
        if (bl_job_cancel_requested(job)) {
            free(sum);
            return bl_error_set(err, BL_ECANCELED, "counting cancelled at %d", i);
        }
        *sum += i;
        bl_job_report(job, w->block ? 0.5 : (double)(i + 1) / w->steps, "step %d", i + 1);
        if (w->block)
            nap();
    }
    if (w->steps < 0) {
        free(sum);
        return bl_error_set(err, BL_EINVAL, "negative steps");
    }
    bl_job_set_result(job, sum, free);
    return 0;
}

static void test_result(void **s)
{
    (void)s;
    work w = { 100, 0 };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_job_start("count", count_fn, &w, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    assert_int_equal(bl_job_state_now(j), BL_JOB_DONE);
    char msg[64];
    double f = bl_job_progress(j, msg, sizeof msg);
    assert_true(f == 1.0);
    assert_string_equal(msg, "step 100");
    long *r = bl_job_take_result(j);
    assert_non_null(r);
    assert_int_equal(*r, 4950);
    assert_null(bl_job_take_result(j));
    free(r);
    bl_job_free(j);
}

static void test_cancel(void **s)
{
    (void)s;
    work *w = malloc(sizeof *w);
    w->steps = 0;
    w->block = 1;
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_job_start("spin", count_fn, w, free, &j, &err), 0);
    while (bl_job_progress(j, NULL, 0) < 0.5)
        nap();
    assert_int_equal(bl_job_state_now(j), BL_JOB_RUNNING);
    bl_job_cancel(j);
    assert_int_equal(bl_job_wait(j, &err), BL_ECANCELED);
    assert_int_equal(bl_job_state_now(j), BL_JOB_CANCELED);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_null(bl_job_take_result(j));
    bl_job_free(j);

    /* freeing a running job cancels and joins it */
    w = malloc(sizeof *w);
    w->steps = 0;
    w->block = 1;
    assert_int_equal(bl_job_start("spin", count_fn, w, free, &j, &err), 0);
    bl_job_free(j);
}

static void test_failure(void **s)
{
    (void)s;
    work w = { -1, 0 };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_job_start("bad", count_fn, &w, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), BL_EINVAL);
    assert_int_equal(bl_job_state_now(j), BL_JOB_FAILED);
    assert_string_equal(err.msg, "negative steps");
    bl_job_free(j);
}

static int reports;
static void on_progress(void *ctx, double f, const char *msg)
{
    (void)ctx;
    (void)msg;
    assert_true(f >= 0 && f <= 1);
    reports++;
}

static void test_sync(void **s)
{
    (void)s;
    work w = { 10, 0 };
    void *r = NULL;
    bl_error err = { 0 };
    reports = 0;
    assert_int_equal(bl_job_run_sync("count", count_fn, &w, on_progress, NULL, &r, &err), 0);
    assert_int_equal(reports, 10);
    assert_int_equal(*(long *)r, 45);
    free(r);
    w.steps = -1;
    assert_int_equal(bl_job_run_sync("count", count_fn, &w, NULL, NULL, &r, &err), BL_EINVAL);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_failure),
        cmocka_unit_test(test_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
