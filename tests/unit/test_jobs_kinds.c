/* test_jobs_kinds.c - the cluster and train jobs (src/jobs/cluster_job.h,
 * train_job.h): the same results as the direct calls, partial results
 * before the final one, cancellation, errors as data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/synth.h"

#include <pthread.h>

#include "base/rng.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"
#include "jobs/cluster_job.h"
#include "jobs/train_job.h"


/* A listener that records the order of events and may cancel the job at
 * the n-th progress report (counting from 1; 0: never). */
typedef struct events {
    pthread_mutex_t mu;
    int seq, first_partial, done, partials, progress;
    int cancel_at;
} events;

static void listen(void *ctx, bl_job *job, bl_job_event ev)
{
    events *e = ctx;
    pthread_mutex_lock(&e->mu);
    e->seq++;
    if (ev == BL_JOB_EV_PARTIAL && !e->first_partial++)
        e->first_partial = e->seq;
    if (ev == BL_JOB_EV_PARTIAL)
        e->partials++;
    if (ev == BL_JOB_EV_DONE)
        e->done = e->seq;
    if (ev == BL_JOB_EV_PROGRESS && ++e->progress == e->cancel_at)
        bl_job_cancel(job);
    pthread_mutex_unlock(&e->mu);
}

static void events_init(events *e, int cancel_at)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    e->cancel_at = cancel_at;
}

/* ---- cluster ----------------------------------------------------------------- */

/* bl_cluster_run directly, as the job's CPU run does it. */
static void direct_run(const bl_dataset *ds, size_t n, size_t k, bl_optimizer opt,
                       bl_cluster_result *r)
{
    double *x;
    size_t nn, d;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_features(ds, n, &x, &nn, &d, &err), 0);
    bl_cluster_data data = { nn, d, x };
    bl_cluster_opts o = { .k = k, .optimizer = opt, .seed = 5 };
    bl_cluster_backend *b;
    assert_int_equal(bl_cluster_backend_new("cpu", &data, BL_PREC_FP32,
                                            bl_cluster_slots_needed(&o), 1, NULL, &b, &err), 0);
    assert_int_equal(bl_cluster_run(b, &o, r, &err), 0);
    bl_cluster_backend_free(b);
    free(x);
}

static bl_cluster_job_cfg cluster_cfg(const bl_dataset *ds, size_t n, size_t k, bl_optimizer opt)
{
    return (bl_cluster_job_cfg){ .data = ds, .n = n, .k = k, .optimizer = opt,
                                 .precision = BL_PREC_FP32, .seed = 5, .device = "cpu",
                                 .threads = 1 };
}

static void same_run(const bl_cluster_result *a, const bl_cluster_result *b)
{
    assert_int_equal(a->k, b->k);
    assert_memory_equal(a->exemplars, b->exemplars, a->k * sizeof *a->exemplars);
    assert_true(a->f == b->f);
    for (size_t i = 0; i < a->k; i++)
        assert_true(a->f_trace[i] == b->f_trace[i]);
}

static void test_cluster_equals_direct(void **state)
{
    (void)state;
    bl_dataset *ds = synth(300, 8, 8, 6, 1);
    const bl_optimizer opts[] = { BL_OPT_GREEDY, BL_OPT_LAZY_GREEDY, BL_OPT_SIEVE_STREAMING };
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        bl_cluster_result ref;
        direct_run(ds, 200, 7, opts[i], &ref);
        bl_cluster_job_cfg cfg = cluster_cfg(ds, 200, 7, opts[i]);
        events ev;
        events_init(&ev, 0);
        bl_job_opts jo = { .notify = listen, .notify_ctx = &ev };
        bl_job *j;
        bl_error err = { 0 };
        assert_int_equal(bl_cluster_job_start(&cfg, &jo, &j, &err), 0);
        assert_int_equal(bl_job_wait(j, &err), 0);
        bl_cluster_job_result *r = bl_job_take_result(j);
        assert_non_null(r);
        assert_int_equal(r->n, 200);
        assert_int_equal(r->d, 64);
        assert_int_equal(r->cpu.state, BL_CLUSTER_RUN_DONE);
        assert_int_equal(r->dev.state, BL_CLUSTER_RUN_NONE);
        same_run(&ref, &r->cpu.r);
        /* the CPU part came as a partial result before DONE */
        assert_true(ev.first_partial > 0 && ev.first_partial < ev.done);
        bl_cluster_job_result *p = bl_job_take_partial(j);
        assert_non_null(p);
        same_run(&ref, &p->cpu.r);
        assert_memory_equal(p->x, r->x, r->n * r->d * sizeof *r->x);
        bl_cluster_job_result_free(p);
        /* the synchronous form gives the same */
        bl_cluster_job_result *s;
        assert_int_equal(bl_cluster_job_run_sync(&cfg, NULL, NULL, &s, &err), 0);
        same_run(&ref, &s->cpu.r);
        bl_cluster_job_result_free(s);
        bl_cluster_job_result_free(r);
        bl_cluster_result_free(&ref);
        bl_job_free(j);
    }
    bl_dataset_free(ds);
}

/* A device run after the CPU one: the partial says the device is still to
 * come; a failing device is data next to a CPU run, an error alone. */
static void test_cluster_device(void **state)
{
    (void)state;
    bl_dataset *ds = synth(150, 8, 8, 5, 2);
    bl_cluster_job_cfg cfg = cluster_cfg(ds, 0, 5, BL_OPT_GREEDY);
    cfg.device = "reference";
    cfg.precision = BL_PREC_FP64;
    events ev;
    events_init(&ev, 0);
    bl_job_opts jo = { .notify = listen, .notify_ctx = &ev };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_job_start(&cfg, &jo, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    bl_cluster_job_result *p = bl_job_take_partial(j), *r = bl_job_take_result(j);
    assert_non_null(p);
    assert_int_equal(p->cpu.state, BL_CLUSTER_RUN_DONE);
    assert_int_equal(p->dev.state, BL_CLUSTER_RUN_RUNNING);
    assert_int_equal(r->n, 150);
    assert_int_equal(r->dev.state, BL_CLUSTER_RUN_DONE);
    assert_int_equal(r->dev.r.k, 5);
    assert_true(r->dev.r.f > 0.99 * r->cpu.r.f && r->dev.r.f < 1.01 * r->cpu.r.f);
    assert_true(ev.first_partial < ev.done);
    bl_cluster_job_result_free(p);
    bl_cluster_job_result_free(r);
    bl_job_free(j);

    /* an unknown device next to the CPU run: a result with the device's error */
    cfg.device = "no-such-device";
    cfg.precision = BL_PREC_FP32;
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    r = bl_job_take_result(j);
    assert_int_equal(r->cpu.state, BL_CLUSTER_RUN_DONE);
    assert_int_equal(r->dev.state, BL_CLUSTER_RUN_FAILED);
    assert_true(r->dev.err.msg[0] != 0);
    bl_cluster_job_result_free(r);
    bl_job_free(j);
    /* ... and alone (device_only): the job fails with that message */
    cfg.device_only = 1;
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), 0);
    assert_true(bl_job_wait(j, &err) != 0);
    assert_int_equal(bl_job_state_now(j), BL_JOB_FAILED);
    assert_null(bl_job_take_result(j));
    assert_null(bl_job_take_partial(j));  /* no CPU run, no partial */
    bl_job_free(j);
    bl_dataset_free(ds);
}

static void test_cluster_errors(void **state)
{
    (void)state;
    bl_dataset *ds = synth(20, 4, 4, 3, 3);
    bl_cluster_job_cfg cfg = cluster_cfg(ds, 10, 11, BL_OPT_GREEDY);
    bl_job *j;
    bl_error err = { 0 };
    /* k > n is known only once the features are read: a failed job */
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "exceeds the 10 images"));
    bl_error je = bl_job_error(j);
    assert_int_equal(je.code, BL_EINVAL);
    bl_job_free(j);
    /* what can be checked at once is refused at the start */
    cfg.k = 0;
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), BL_EINVAL);
    assert_null(j);
    cfg.k = 2;
    cfg.optimizer = BL_OPT_COUNT;
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), BL_EINVAL);
    cfg.optimizer = BL_OPT_GREEDY;
    cfg.data = NULL;
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), BL_EINVAL);
    bl_dataset_free(ds);
}

static void test_cluster_cancel(void **state)
{
    (void)state;
    bl_dataset *ds = synth(400, 8, 8, 6, 4);
    bl_cluster_job_cfg cfg = cluster_cfg(ds, 0, 30, BL_OPT_GREEDY);
    cfg.device = "reference";
    /* cancelled in the CPU run (report 1 is "features", 2 the first exemplar) */
    events ev;
    events_init(&ev, 2);
    bl_job_opts jo = { .notify = listen, .notify_ctx = &ev };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_job_start(&cfg, &jo, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), BL_ECANCELED);
    assert_int_equal(bl_job_state_now(j), BL_JOB_CANCELED);
    assert_null(bl_job_take_result(j));
    assert_int_equal(ev.partials, 0);    /* never a truncated CPU result */
    bl_job_free(j);
    /* cancelled in the device run: the CPU part was published, no result */
    events_init(&ev, 32 + 2);            /* features + 30 CPU reports + 3 */
    jo.notify_ctx = &ev;
    cfg.precision = BL_PREC_FP64;
    assert_int_equal(bl_cluster_job_start(&cfg, &jo, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), BL_ECANCELED);
    assert_null(bl_job_take_result(j));
    assert_int_equal(ev.partials, 1);
    bl_cluster_job_result *p = bl_job_take_partial(j);
    assert_non_null(p);
    assert_int_equal(p->cpu.r.k, 30);
    bl_cluster_job_result_free(p);
    bl_job_free(j);
    /* freeing a running job cancels it */
    assert_int_equal(bl_cluster_job_start(&cfg, NULL, &j, &err), 0);
    bl_job_free(j);
    bl_dataset_free(ds);
}

/* ---- train ------------------------------------------------------------------- */

static bl_trainer *make_trainer(bl_dataset *tr, bl_dataset *te, int epochs)
{
    bl_train_opts o;
    bl_train_opts_default(&o);
    snprintf(o.spec, sizeof o.spec, "%s", "64-32-10");
    o.epochs = epochs;
    o.batch = 50;
    o.lr = 0.01;
    o.p01 = o.p10 = 0.02;
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

static uint32_t direct_checksum(bl_dataset *tr, bl_dataset *te, int epochs, size_t *steps)
{
    bl_trainer *t = make_trainer(tr, te, epochs);
    bl_error err = { 0 };
    assert_int_equal(bl_trainer_run(t, NULL, NULL, &err), 0);
    bl_model *m;
    assert_int_equal(bl_trainer_export(t, &m, &err), 0);
    uint32_t c = bl_model_checksum(m);
    *steps = bl_trainer_steps_done(t);
    bl_model_free(m);
    bl_trainer_free(t);
    return c;
}

static void test_train_equals_direct(void **state)
{
    (void)state;
    bl_dataset *tr = synth(300, 8, 8, 10, 11), *te = synth(100, 8, 8, 10, 12);
    size_t steps;
    uint32_t ref = direct_checksum(tr, te, 2, &steps);
    bl_train_job_cfg cfg = { .trainer = make_trainer(tr, te, 2), .own_trainer = 1 };
    events ev;
    events_init(&ev, 0);
    bl_job_opts jo = { .notify = listen, .notify_ctx = &ev };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_train_job_start(&cfg, &jo, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    bl_model *m = bl_job_take_result(j);
    assert_non_null(m);
    assert_int_equal(bl_model_checksum(m), ref);
    assert_non_null(bl_model_meta_get(m, "test_accuracy"));
    assert_int_equal(ev.partials, 2);            /* one per epoch, before DONE */
    assert_true(ev.first_partial < ev.done);
    assert_int_equal(ev.progress, (int)steps);   /* one report per minibatch */
    bl_epoch_stats *s = bl_job_take_partial(j);
    assert_non_null(s);
    assert_int_equal(s->epoch, 2);
    free(s);
    char msg[160];
    assert_true(bl_job_progress(j, msg, sizeof msg) == 1.0);
    bl_model_free(m);
    bl_job_free(j);                              /* frees the owned trainer */

    /* synchronously: the same model */
    bl_trainer *t = make_trainer(tr, te, 2);
    cfg = (bl_train_job_cfg){ .trainer = t };
    assert_int_equal(bl_train_job_run_sync(&cfg, NULL, NULL, &m, &err), 0);
    assert_int_equal(bl_model_checksum(m), ref);
    bl_model_free(m);
    bl_trainer_free(t);

    /* no_export: the trainer is the result */
    t = make_trainer(tr, te, 1);
    cfg = (bl_train_job_cfg){ .trainer = t, .no_export = 1 };
    assert_int_equal(bl_train_job_start(&cfg, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    assert_null(bl_job_take_result(j));
    bl_job_free(j);
    assert_int_equal(bl_trainer_epochs_done(t), 1);
    bl_trainer_free(t);
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

static int stop_at(void *ctx, const bl_train_progress *p)
{
    (void)p;
    return --*(int *)ctx <= 0;
}

/* A cancelled training leaves the borrowed trainer resumable: continuing
 * it ends with the uninterrupted run's model. */
static void test_train_cancel_resume(void **state)
{
    (void)state;
    bl_dataset *tr = synth(300, 8, 8, 10, 11), *te = synth(100, 8, 8, 10, 12);
    size_t steps;
    uint32_t ref = direct_checksum(tr, te, 2, &steps);
    bl_trainer *t = make_trainer(tr, te, 2);
    events ev;
    events_init(&ev, 4);                         /* mid epoch 1 */
    bl_job_opts jo = { .notify = listen, .notify_ctx = &ev };
    bl_train_job_cfg cfg = { .trainer = t };
    bl_job *j;
    bl_error err = { 0 };
    assert_int_equal(bl_train_job_start(&cfg, &jo, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), BL_ECANCELED);
    assert_int_equal(bl_job_state_now(j), BL_JOB_CANCELED);
    assert_null(bl_job_take_result(j));
    bl_job_free(j);
    assert_int_equal(bl_trainer_steps_done(t), 4);
    assert_int_equal(bl_trainer_epochs_done(t), 0);
    /* the caller's callback stops it too (the CLI's Ctrl-C), in epoch 2 */
    int left = 4;
    cfg.cb = stop_at;
    cfg.cb_ctx = &left;
    assert_int_equal(bl_train_job_run_sync(&cfg, NULL, NULL, NULL, &err), BL_ECANCELED);
    assert_int_equal(bl_trainer_epochs_done(t), 1);
    /* resumed to the end, as a job again */
    cfg.cb = NULL;
    assert_int_equal(bl_train_job_start(&cfg, NULL, &j, &err), 0);
    assert_int_equal(bl_job_wait(j, &err), 0);
    bl_model *m = bl_job_take_result(j);
    assert_int_equal(bl_trainer_steps_done(t), steps);
    assert_int_equal(bl_model_checksum(m), ref);
    bl_model_free(m);
    bl_job_free(j);
    bl_trainer_free(t);
    bl_dataset_free(tr);
    bl_dataset_free(te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_equals_direct),
        cmocka_unit_test(test_cluster_device),
        cmocka_unit_test(test_cluster_errors),
        cmocka_unit_test(test_cluster_cancel),
        cmocka_unit_test(test_train_equals_direct),
        cmocka_unit_test(test_train_cancel_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
