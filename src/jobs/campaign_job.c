/* campaign_job.c - BER campaigns as jobs (campaign_job.h). */
#include "jobs/campaign_job.h"

#include <stdlib.h>
#include <string.h>

typedef struct carg {
    bl_campaign_cfg cfg;
    double *bers;
    char *fault;
} carg;

static void carg_free(void *p)
{
    carg *a = p;
    if (!a)
        return;
    free(a->bers);
    free(a->fault);
    free(a);
}

static void hook_progress(void *ctx, double f, const char *msg)
{
    bl_job_report(ctx, f, "%s", msg);
}

static int hook_cancelled(void *ctx) { return bl_job_cancel_requested(ctx); }

static void result_free(void *p) { bl_campaign_result_free(p); }

static int job_fn(bl_job *job, void *arg, bl_error *err)
{
    carg *a = arg;
    bl_campaign_hooks h = { hook_progress, hook_cancelled, job };
    bl_campaign_result *r = NULL;
    int rc = bl_campaign_run(&a->cfg, &h, &r, err);
    if (rc == 0)
        bl_job_set_result(job, r, result_free);
    return rc;
}

static int copy_cfg(const bl_campaign_cfg *cfg, carg **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_campaign_check(cfg, err);
    if (rc)
        return rc;
    carg *a = calloc(1, sizeof *a);
    if (!a)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    a->cfg = *cfg;
    a->bers = cfg->nbers ? malloc(cfg->nbers * sizeof *a->bers) : NULL;
    a->fault = strdup(cfg->fault);
    if ((cfg->nbers && !a->bers) || !a->fault) {
        carg_free(a);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if (cfg->nbers)
        memcpy(a->bers, cfg->bers, cfg->nbers * sizeof *a->bers);
    a->cfg.bers = a->bers;
    a->cfg.fault = a->fault;
    *out = a;
    return 0;
}

int bl_campaign_job_start(const bl_campaign_cfg *cfg, bl_job **out, bl_error *err)
{
    *out = NULL;
    carg *a;
    int rc = copy_cfg(cfg, &a, err);
    if (rc)
        return rc;
    rc = bl_job_start("sweep", job_fn, a, carg_free, out, err);
    if (rc)
        carg_free(a);
    return rc;
}

int bl_campaign_run_sync(const bl_campaign_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                         bl_campaign_result **out, bl_error *err)
{
    *out = NULL;
    carg *a;
    int rc = copy_cfg(cfg, &a, err);
    if (rc)
        return rc;
    void *res = NULL;
    rc = bl_job_run_sync("sweep", job_fn, a, progress, ctx, &res, err);
    carg_free(a);
    *out = res;
    return rc;
}
