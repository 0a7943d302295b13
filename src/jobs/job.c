/* job.c - background jobs (job.h). */
#include "base/clock.h"
#include "jobs/job.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_MAX 160

struct bl_job {
    char kind[32];
    bl_job_fn fn;
    void *arg;
    void (*free_arg)(void *);
    pthread_t thread;
    int threaded, joined;
    pthread_mutex_t lock;
    atomic_int cancel;
    /* under lock */
    bl_job_state state;
    double fraction;
    char msg[MSG_MAX];
    double t0, t1;
    int rc;
    bl_error err;
    void *result;
    void (*free_result)(void *);
    void *partial;
    void (*free_partial)(void *);
    /* listener */
    bl_job_notify_fn notify;
    void *notify_ctx;
    /* synchronous mode */
    bl_job_progress_fn progress;
    void *progress_ctx;
};


static bl_job *job_new(const char *kind, bl_job_fn fn, void *arg, void (*free_arg)(void *))
{
    bl_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->kind, sizeof j->kind, "%s", kind ? kind : "job");
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    pthread_mutex_init(&j->lock, NULL);
    atomic_init(&j->cancel, 0);
    j->state = BL_JOB_RUNNING;
    j->t0 = bl_now();
    return j;
}

static void job_finish(bl_job *j, int rc, const bl_error *err)
{
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    if (rc) {
        j->err = *err;
        if (!j->err.msg[0])
            snprintf(j->err.msg, sizeof j->err.msg, "%s: %s", j->kind, bl_strerror(rc));
        j->err.code = rc;
    }
    j->state = rc == 0 ? BL_JOB_DONE : rc == BL_ECANCELED ? BL_JOB_CANCELED : BL_JOB_FAILED;
    if (rc == 0)
        j->fraction = 1.0;
    j->t1 = bl_now();
    pthread_mutex_unlock(&j->lock);
    /* published first, then announced: a woken listener sees DONE */
    if (j->notify)
        j->notify(j->notify_ctx, j, BL_JOB_EV_DONE);
}

static void *job_main(void *vj)
{
    bl_job *j = vj;
    bl_error err = { 0 };
    int rc = j->fn(j, j->arg, &err);
    job_finish(j, rc, &err);
    return NULL;
}

int bl_job_start(const char *kind, bl_job_fn fn, void *arg, void (*free_arg)(void *),
                 bl_job **out, bl_error *err)
{
    return bl_job_start_ex(kind, fn, arg, free_arg, NULL, NULL, out, err);
}

int bl_job_start_ex(const char *kind, bl_job_fn fn, void *arg, void (*free_arg)(void *),
                    bl_job_notify_fn notify, void *notify_ctx, bl_job **out, bl_error *err)
{
    *out = NULL;
    if (!fn)
        return bl_error_set(err, BL_EINVAL, "job: no function");
    bl_job *j = job_new(kind, fn, arg, free_arg);
    if (!j)
        return bl_error_set(err, BL_ENOMEM, "job: out of memory");
    j->threaded = 1;
    j->notify = notify;
    j->notify_ctx = notify_ctx;
    int e = pthread_create(&j->thread, NULL, job_main, j);
    if (e) {
        j->free_arg = NULL; /* the caller keeps arg on failure */
        pthread_mutex_destroy(&j->lock);
        free(j);
        return bl_error_set(err, BL_ENOMEM, "job %s: cannot start a thread (error %d)",
                            kind ? kind : "", e);
    }
    *out = j;
    return 0;
}

int bl_job_run_sync(const char *kind, bl_job_fn fn, void *arg, bl_job_progress_fn progress,
                    void *progress_ctx, void **result, bl_error *err)
{
    if (result)
        *result = NULL;
    bl_job *j = job_new(kind, fn, arg, NULL);
    if (!j)
        return bl_error_set(err, BL_ENOMEM, "job: out of memory");
    j->progress = progress;
    j->progress_ctx = progress_ctx;
    bl_error e = { 0 };
    int rc = fn(j, arg, &e);
    job_finish(j, rc, &e);
    if (rc && err)
        *err = j->err;
    if (rc == 0 && result) {
        *result = j->result;
        j->result = NULL;
    }
    j->joined = 1;
    bl_job_free(j);
    return rc;
}

void bl_job_report(bl_job *job, double fraction, const char *fmt, ...)
{
    if (!job)
        return;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    char buf[MSG_MAX];
    buf[0] = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_lock(&job->lock);
    job->fraction = fraction;
    memcpy(job->msg, buf, sizeof buf);
    pthread_mutex_unlock(&job->lock);
    if (job->progress)
        job->progress(job->progress_ctx, fraction, buf);
    if (job->notify)
        job->notify(job->notify_ctx, job, BL_JOB_EV_PROGRESS);
}

int bl_job_cancel_requested(const bl_job *job)
{
    return job ? atomic_load(&((bl_job *)job)->cancel) : 0;
}

void bl_job_set_result(bl_job *job, void *result, void (*free_result)(void *))
{
    pthread_mutex_lock(&job->lock);
    if (job->result && job->free_result)
        job->free_result(job->result);
    job->result = result;
    job->free_result = free_result;
    pthread_mutex_unlock(&job->lock);
}

void bl_job_set_partial(bl_job *job, void *partial, void (*free_partial)(void *))
{
    pthread_mutex_lock(&job->lock);
    void *old = job->partial;
    void (*old_free)(void *) = job->free_partial;
    job->partial = partial;
    job->free_partial = free_partial;
    pthread_mutex_unlock(&job->lock);
    if (old && old_free)
        old_free(old);
    if (job->notify)
        job->notify(job->notify_ctx, job, BL_JOB_EV_PARTIAL);
}

void *bl_job_take_partial(bl_job *job)
{
    pthread_mutex_lock(&job->lock);
    void *p = job->partial;
    job->partial = NULL;
    pthread_mutex_unlock(&job->lock);
    return p;
}

bl_error bl_job_error(bl_job *job)
{
    pthread_mutex_lock(&job->lock);
    bl_error e = job->state == BL_JOB_RUNNING ? (bl_error){ 0 } : job->err;
    pthread_mutex_unlock(&job->lock);
    return e;
}

const char *bl_job_kind(const bl_job *job) { return job->kind; }

bl_job_state bl_job_state_now(bl_job *job)
{
    pthread_mutex_lock(&job->lock);
    bl_job_state s = job->state;
    pthread_mutex_unlock(&job->lock);
    return s;
}

double bl_job_progress(bl_job *job, char *msg, size_t n)
{
    pthread_mutex_lock(&job->lock);
    double f = job->fraction;
    if (msg && n)
        snprintf(msg, n, "%s", job->msg);
    pthread_mutex_unlock(&job->lock);
    return f;
}

double bl_job_elapsed(bl_job *job)
{
    pthread_mutex_lock(&job->lock);
    double t = (job->state == BL_JOB_RUNNING ? bl_now() : job->t1) - job->t0;
    pthread_mutex_unlock(&job->lock);
    return t;
}

void bl_job_cancel(bl_job *job)
{
    if (job)
        atomic_store(&job->cancel, 1);
}

int bl_job_wait(bl_job *job, bl_error *err)
{
    if (job->threaded && !job->joined) {
        pthread_join(job->thread, NULL);
        job->joined = 1;
    }
    pthread_mutex_lock(&job->lock);
    int rc = job->rc;
    if (rc && err)
        *err = job->err;
    pthread_mutex_unlock(&job->lock);
    return rc;
}

void *bl_job_take_result(bl_job *job)
{
    pthread_mutex_lock(&job->lock);
    void *r = NULL;
    if (job->state == BL_JOB_DONE) {
        r = job->result;
        job->result = NULL;
    }
    pthread_mutex_unlock(&job->lock);
    return r;
}

void bl_job_free(bl_job *job)
{
    if (!job)
        return;
    if (job->threaded && !job->joined) {
        bl_job_cancel(job);
        pthread_join(job->thread, NULL);
        job->joined = 1;
    }
    if (job->result && job->free_result)
        job->free_result(job->result);
    if (job->partial && job->free_partial)
        job->free_partial(job->partial);
    if (job->free_arg)
        job->free_arg(job->arg);
    pthread_mutex_destroy(&job->lock);
    free(job);
}
