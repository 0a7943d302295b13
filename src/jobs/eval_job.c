/* eval_job.c - the evaluator as a job (eval_job.h). */
#include "jobs/eval_job.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct earg {
    bl_evaluate_cfg cfg;
    double *bers;
    char *fault;
    bl_job *job;
    const atomic_int *pause_while;
    void (*on_start)(void);
    bl_job_own own;
} earg;

void bl_job_own_free(bl_job_own *own)
{
    for (int i = 0; i < BL_JOB_OWN_MAX; i++)
        if (own->p[i] && own->free[i])
            own->free[i](own->p[i]);
    memset(own, 0, sizeof *own);
}

void bl_job_pause_while(bl_job *job, const atomic_int *flag)
{
    for (int naps = 0; naps < 200 && flag && atomic_load(flag) && !bl_job_cancel_requested(job);
         naps++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void earg_free(void *p)
{
    earg *a = p;
    if (!a)
        return;
    free(a->bers);
    free(a->fault);
    bl_job_own_free(&a->own);
    free(a);
}

static void hook_progress(void *ctx, double f, const char *msg)
{
    earg *a = ctx;
    bl_job_report(a->job, f, "%s", msg);
}

static int hook_cancelled(void *ctx)
{
    earg *a = ctx;
    bl_job_pause_while(a->job, a->pause_while);
    return bl_job_cancel_requested(a->job);
}

static void hook_map(void *ctx, size_t ri, const bl_evaluate_row *row,
                     const bl_evaluate_result *sofar)
{
    earg *a = ctx;
    bl_eval_partial *p = malloc(sizeof *p);
    if (!p)
        return;
    *p = (bl_eval_partial){ .row = ri, .nrows = a->cfg.nbers ? a->cfg.nbers : 1,
                            .ber = row->ber, .accuracy = row->accuracy,
                            .ci_low = row->ci_low, .ci_high = row->ci_high,
                            .ci_method = row->ci_method, .reps = row->reps,
                            .changed_bits = row->changed_bits,
                            .clean_accuracy = sofar->clean_accuracy };
    bl_job_set_partial(a->job, p, free);
}

static void result_free(void *p) { bl_evaluate_result_free(p); }

static int job_fn(bl_job *job, void *arg, bl_error *err)
{
    earg *a = arg;
    a->job = job;
    if (a->on_start)
        a->on_start();
    bl_evaluate_hooks h = { hook_progress, hook_cancelled, hook_map, a };
    bl_evaluate_result *r = NULL;
    int rc = bl_evaluate(&a->cfg, &h, &r, err);
    if (rc == 0)
        bl_job_set_result(job, r, result_free);
    return rc;
}

/* Check, then copy what the caller may free after the start. */
static int copy_cfg(const bl_evaluate_cfg *cfg, earg **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_evaluate_check(cfg, err);
    if (rc)
        return rc;
    earg *a = calloc(1, sizeof *a);
    if (!a)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    a->cfg = *cfg;
    a->bers = cfg->nbers ? malloc(cfg->nbers * sizeof *a->bers) : NULL;
    a->fault = cfg->fault ? strdup(cfg->fault) : NULL;
    if ((cfg->nbers && !a->bers) || (cfg->fault && !a->fault)) {
        earg_free(a);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if (cfg->nbers)
        memcpy(a->bers, cfg->bers, cfg->nbers * sizeof *a->bers);
    a->cfg.bers = a->bers;
    a->cfg.fault = a->fault;
    *out = a;
    return 0;
}

int bl_eval_job_start(const bl_evaluate_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                      bl_error *err)
{
    *out = NULL;
    earg *a;
    int rc = copy_cfg(cfg, &a, err);
    if (rc)
        return rc; /* opts->own stays the caller's on failure */
    const char *kind = cfg->nbers ? "sweep" : "eval";
    bl_job_notify_fn notify = NULL;
    void *nctx = NULL;
    if (opts) {
        kind = opts->kind ? opts->kind : kind;
        notify = opts->notify;
        nctx = opts->notify_ctx;
        a->pause_while = opts->pause_while;
        a->on_start = opts->on_start;
        a->own = opts->own;
    }
    rc = bl_job_start_ex(kind, job_fn, a, earg_free, notify, nctx, out, err);
    if (rc) {
        memset(&a->own, 0, sizeof a->own); /* still the caller's */
        earg_free(a);
    }
    return rc;
}

int bl_eval_job_run_sync(const bl_evaluate_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                         bl_evaluate_result **out, bl_error *err)
{
    *out = NULL;
    earg *a;
    int rc = copy_cfg(cfg, &a, err);
    if (rc)
        return rc;
    void *res = NULL;
    rc = bl_job_run_sync(cfg->nbers ? "sweep" : "eval", job_fn, a, progress, ctx, &res, err);
    earg_free(a);
    *out = res;
    return rc;
}
