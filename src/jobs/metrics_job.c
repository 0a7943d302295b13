/* metrics_job.c - the metrics call as a job (metrics_job.h). */
#include "jobs/metrics_job.h"

#include <stdlib.h>
#include <string.h>

typedef struct marg {
    bl_metrics_cfg cfg;
    char *layer, *fault;
    bl_job *job;
    const atomic_int *pause_while;
    void (*on_start)(void);
    bl_job_own own;
} marg;

static void marg_free(void *p)
{
    marg *a = p;
    free(a->layer);
    free(a->fault);
    bl_job_own_free(&a->own);
    free(a);
}

static void hook_progress(void *ctx, double f, const char *msg)
{
    marg *a = ctx;
    bl_job_report(a->job, f, "%s", msg);
}

static int hook_cancelled(void *ctx)
{
    marg *a = ctx;
    bl_job_pause_while(a->job, a->pause_while);
    return bl_job_cancel_requested(a->job);
}

static void result_free(void *p) { bl_metrics_result_free(p); }

static int job_fn(bl_job *job, void *arg, bl_error *err)
{
    marg *a = arg;
    a->job = job;
    if (a->on_start)
        a->on_start();
    bl_metrics_hooks h = { hook_progress, hook_cancelled, a };
    bl_metrics_result *r = NULL;
    int rc = bl_metrics_run(&a->cfg, &h, &r, err);
    if (rc == 0)
        bl_job_set_result(job, r, result_free);
    return rc;
}

int bl_metrics_job_start(const bl_metrics_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                         bl_error *err)
{
    *out = NULL;
    int rc = bl_metrics_check(cfg, err);
    if (rc)
        return rc;
    marg *a = calloc(1, sizeof *a);
    if (!a)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    a->cfg = *cfg;
    a->layer = cfg->layer ? strdup(cfg->layer) : NULL;
    a->fault = cfg->fault ? strdup(cfg->fault) : NULL;
    if ((cfg->layer && !a->layer) || (cfg->fault && !a->fault)) {
        marg_free(a);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    a->cfg.layer = a->layer;
    a->cfg.fault = a->fault;
    if (opts) {
        a->pause_while = opts->pause_while;
        a->on_start = opts->on_start;
        a->own = opts->own;
    }
    rc = bl_job_start_ex(opts && opts->kind ? opts->kind : "metrics", job_fn, a, marg_free,
                         opts ? opts->notify : NULL, opts ? opts->notify_ctx : NULL, out, err);
    if (rc) {
        memset(&a->own, 0, sizeof a->own);
        marg_free(a);
    }
    return rc;
}
