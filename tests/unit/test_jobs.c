/* test_jobs.c - background jobs: result, progress, cancellation, sync mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "jobs/job.h"
#include "jobs/slot.h"

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


/* ---- completion can never be missed ---------------------------------- */

/* A job that finishes at once, with a result or an error. */
static int instant_fn(bl_job *job, void *arg, bl_error *err)
{
    long n = (long)(intptr_t)arg;
    if (n % 7 == 3)
        return bl_error_set(err, BL_EINVAL, "failure %ld", n);
    long *r = malloc(sizeof *r);
    *r = n;
    bl_job_set_result(job, r, free);
    return 0;
}

/* The listener writes one byte to a pipe, as the workbench's does. */
static void wake_pipe(void *ctx, bl_job *job, bl_job_event ev)
{
    (void)job;
    if (ev == BL_JOB_EV_DONE) {
        char c = 1;
        ssize_t w = write(*(int *)ctx, &c, 1);
        (void)w;
    }
}

/* Thousands of instantly finishing jobs: when the DONE wake-up arrives,
 * the job must already look finished, with its result or its error (the
 * workbench looks exactly once per wake-up). */
static void test_done_never_missed(void **s)
{
    (void)s;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    for (long n = 0; n < 3000; n++) {
        bl_job *j;
        bl_error err = { 0 };
        assert_int_equal(bl_job_start_ex("instant", instant_fn, (void *)(intptr_t)n, NULL,
                                         wake_pipe, &fd[1], &j, &err), 0);
        char c;
        assert_int_equal(read(fd[0], &c, 1), 1); /* blocks until the wake-up */
        bl_job_state st = bl_job_state_now(j);
        if (n % 7 == 3) {
            assert_int_equal(st, BL_JOB_FAILED);
            bl_error e = bl_job_error(j);
            assert_int_equal(e.code, BL_EINVAL);
            assert_non_null(strstr(e.msg, "failure"));
        } else {
            assert_int_equal(st, BL_JOB_DONE);
            long *r = bl_job_take_result(j);
            assert_non_null(r);
            assert_int_equal(*r, n);
            free(r);
        }
        bl_job_free(j);
    }
    close(fd[0]);
    close(fd[1]);
}

/* ---- partial results and the newest-wins slot ------------------------- */

typedef struct slow { int steps; long tag; } slow;

static int slow_fn(bl_job *job, void *arg, bl_error *err)
{
    slow *w = arg;
    for (int i = 0; i < w->steps; i++) {
        if (bl_job_cancel_requested(job))
            return bl_error_set(err, BL_ECANCELED, "cancelled");
        long *p = malloc(sizeof *p);
        *p = w->tag * 1000 + i;
        bl_job_set_partial(job, p, free);
        nap();
    }
    long *r = malloc(sizeof *r);
    *r = w->tag;
    bl_job_set_result(job, r, free);
    return 0;
}

static int slow_start(void *req, bl_job_notify_fn nf, void *ctx, bl_job **out, bl_error *err)
{
    return bl_job_start_ex("slow", slow_fn, req, free, nf, ctx, out, err);
}

static void count_wake(void *ctx, bl_job *job, bl_job_event ev)
{
    (void)job;
    (void)ev;
    wake_pipe(ctx, job, BL_JOB_EV_DONE);
}

static void test_slot_newest_wins(void **s)
{
    (void)s;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    bl_slot slot;
    bl_slot_init(&slot, count_wake, &fd[1]);
    bl_error err = { 0 };
    /* many requests in a row: every one but the last is superseded */
    for (long tag = 1; tag <= 20; tag++) {
        slow *w = malloc(sizeof *w);
        w->steps = 30;
        w->tag = tag;
        assert_int_equal(bl_slot_post(&slot, slow_start, w, free, &err), 0);
    }
    assert_true(bl_slot_busy(&slot));
    long got = -1, last_partial = -1;
    for (int guard = 0; guard < 100000 && got < 0; guard++) {
        char c;
        assert_int_equal(read(fd[0], &c, 1), 1);
        long *p = bl_slot_take_partial(&slot);
        if (p) {
            assert_true(*p / 1000 == 1 || *p / 1000 == 20); /* never a parked one's */
            if (*p / 1000 == 20)
                last_partial = *p;
            free(p);
        }
        void *r = NULL;
        bl_slot_status st = bl_slot_collect(&slot, &r, &err);
        assert_true(st == BL_SLOT_RUNNING || st == BL_SLOT_RESULT);
        if (st == BL_SLOT_RESULT) {
            got = *(long *)r;
            free(r);
        }
    }
    assert_int_equal(got, 20);
    assert_true(last_partial >= 20000);
    assert_false(bl_slot_busy(&slot));
    /* an error is reported as such; freeing a busy slot joins its job */
    slow *w = malloc(sizeof *w);
    w->steps = 1000;
    w->tag = 5;
    assert_int_equal(bl_slot_post(&slot, slow_start, w, free, &err), 0);
    bl_slot_cancel(&slot);
    bl_slot_free(&slot);
    close(fd[0]);
    close(fd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_failure),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_done_never_missed),
        cmocka_unit_test(test_slot_newest_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
