/* campaign_job.c - a campaign shard as a job (campaign_job.h). */
#include "jobs/campaign_job.h"

#include <stdlib.h>
#include <string.h>

typedef struct carg {
    const bl_campaign_plan *plan;
    bl_campaign_run_opts opts;
    char *dir;
    int (*cancelled)(void *ctx);
    void *cancel_ctx;
    bl_campaign_run_stats *stats;   /* the synchronous caller's, or NULL */
    bl_job *job;
} carg;

static void carg_free(void *p)
{
    carg *a = p;
    if (a)
        free(a->dir);
    free(a);
}

static void hook_progress(void *ctx, double f, const char *msg)
{
    carg *a = ctx;
    bl_job_report(a->job, f, "%s", msg);
}

static int hook_cancelled(void *ctx)
{
    carg *a = ctx;
    return bl_job_cancel_requested(a->job) || (a->cancelled && a->cancelled(a->cancel_ctx));
}

static int campaign_fn(bl_job *job, void *arg, bl_error *err)
{
    carg *a = arg;
    a->job = job;
    bl_campaign_hooks h = { hook_progress, hook_cancelled, a };
    bl_campaign_run_stats *st = malloc(sizeof *st);
    if (!st)
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    int rc = bl_campaign_run(a->plan, &a->opts, &h, st, err);
    if (a->stats)
        *a->stats = *st;
    bl_job_set_result(job, st, free);
    return rc;
}

static carg *carg_new(const bl_campaign_plan *plan, const bl_campaign_run_opts *opts,
                      bl_error *err)
{
    carg *a = calloc(1, sizeof *a);
    if (!a || !opts || !opts->dir || !(a->dir = strdup(opts->dir))) {
        if (a && opts && opts->dir)
            bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
        else
            bl_error_set(err, BL_EINVAL, "campaign: no output folder");
        free(a);
        return NULL;
    }
    a->plan = plan;
    a->opts = *opts;
    a->opts.dir = a->dir;
    return a;
}

int bl_campaign_job_start(const bl_campaign_plan *plan, const bl_campaign_run_opts *opts,
                          bl_job_notify_fn notify, void *notify_ctx, bl_job **out,
                          bl_error *err)
{
    carg *a = carg_new(plan, opts, err);
    if (!a)
        return err ? err->code : BL_EINVAL;
    return bl_job_start_ex("campaign", campaign_fn, a, carg_free, notify, notify_ctx, out, err);
}

int bl_campaign_job_run_sync(const bl_campaign_plan *plan, const bl_campaign_run_opts *opts,
                             bl_job_progress_fn progress, void *progress_ctx,
                             int (*cancelled)(void *ctx), void *cancel_ctx,
                             bl_campaign_run_stats *stats, bl_error *err)
{
    carg *a = carg_new(plan, opts, err);
    if (!a)
        return err ? err->code : BL_EINVAL;
    a->cancelled = cancelled;
    a->cancel_ctx = cancel_ctx;
    a->stats = stats;
    if (stats)
        memset(stats, 0, sizeof *stats);
    int rc = bl_job_run_sync("campaign", campaign_fn, a, progress, progress_ctx, NULL, err);
    carg_free(a);
    return rc;
}
