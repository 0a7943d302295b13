/* cluster_job.c - exemplar clustering as a job (cluster_job.h). */
#include "jobs/cluster_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/optimizers.h"
#include "cluster/subsets.h"

typedef struct carg {
    bl_cluster_job_cfg cfg;
    char device[128];
    bl_job *job;
    const atomic_int *pause_while;
    void (*on_start)(void);
    bl_job_own own;
    double base, span;            /* progress range of the current run */
} carg;

static void carg_free(void *p)
{
    carg *a = p;
    if (!a)
        return;
    bl_job_own_free(&a->own);
    free(a);
}

void bl_cluster_job_result_free(bl_cluster_job_result *r)
{
    if (!r)
        return;
    free(r->x);
    bl_cluster_result_free(&r->cpu.r);
    bl_cluster_result_free(&r->dev.r);
    free(r);
}

static void result_free(void *p) { bl_cluster_job_result_free(p); }

int bl_cluster_job_check(const bl_cluster_job_cfg *cfg, bl_error *err)
{
    if (!cfg || !cfg->data)
        return bl_error_set(err, BL_EINVAL, "cluster: no dataset");
    if (cfg->k < 1)
        return bl_error_set(err, BL_EINVAL, "cluster: k must be at least 1");
    if ((unsigned)cfg->optimizer >= BL_OPT_COUNT)
        return bl_error_set(err, BL_EINVAL, "cluster: unknown optimizer %d", (int)cfg->optimizer);
    if ((unsigned)cfg->precision > BL_PREC_FP16)
        return bl_error_set(err, BL_EINVAL, "cluster: unknown precision %d", (int)cfg->precision);
    if (cfg->device && strlen(cfg->device) >= sizeof ((carg *)0)->device)
        return bl_error_set(err, BL_EINVAL, "cluster: device string too long");
    return 0;
}

/* The optimizer's progress: mapped into [base, base + span]; nonzero stops. */
static int on_progress(void *ctx, double frac, double f)
{
    carg *a = ctx;
    bl_job_pause_while(a->job, a->pause_while);
    bl_job_report(a->job, a->base + a->span * frac, "cluster f(S) %.4g", f);
    return bl_job_cancel_requested(a->job);
}

/* One run on `device`; fills run (DONE, or FAILED with its error).  Returns
 * the run's code, BL_ECANCELED when the job was cancelled meanwhile. */
static int run_on(carg *a, const char *device, const bl_cluster_data *data,
                  bl_cluster_job_run *run)
{
    bl_cluster_opts o = { .k = a->cfg.k, .optimizer = a->cfg.optimizer, .seed = a->cfg.seed,
                          .on_progress = on_progress, .ctx = a };
    bl_cluster_backend *b = NULL;
    int threads = strcasecmp(device, "cpu") ? 0 : a->cfg.threads;
    int rc = bl_cluster_backend_new(device, data, a->cfg.precision, bl_cluster_slots_needed(&o),
                                    threads, a->cfg.settings, &b, &run->err);
    if (!rc) {
        snprintf(run->device, sizeof run->device, "%s", b->device);
        rc = bl_cluster_run(b, &o, &run->r, &run->err);
    }
    bl_cluster_backend_free(b);
    /* the optimizer stops early (returning 0) when asked: not a result */
    if (rc == 0 && bl_job_cancel_requested(a->job)) {
        bl_cluster_result_free(&run->r);
        rc = BL_ECANCELED;
    }
    run->state = rc ? BL_CLUSTER_RUN_FAILED : BL_CLUSTER_RUN_DONE;
    return rc;
}

/* A copy of the result so far (features and the CPU run) for the UI. */
static bl_cluster_job_result *copy_partial(const bl_cluster_job_result *r)
{
    bl_cluster_job_result *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    *p = *r;
    p->x = malloc(r->n * r->d * sizeof *p->x);
    p->cpu.r.exemplars = malloc((r->cpu.r.k ? r->cpu.r.k : 1) * sizeof *p->cpu.r.exemplars);
    p->cpu.r.f_trace = malloc((r->cpu.r.k ? r->cpu.r.k : 1) * sizeof *p->cpu.r.f_trace);
    p->dev = (bl_cluster_job_run){ .state = r->dev.state };
    if (!p->x || !p->cpu.r.exemplars || !p->cpu.r.f_trace) {
        bl_cluster_job_result_free(p);
        return NULL;
    }
    memcpy(p->x, r->x, r->n * r->d * sizeof *p->x);
    if (r->cpu.r.k) {
        memcpy(p->cpu.r.exemplars, r->cpu.r.exemplars, r->cpu.r.k * sizeof *p->cpu.r.exemplars);
        if (r->cpu.r.f_trace)
            memcpy(p->cpu.r.f_trace, r->cpu.r.f_trace, r->cpu.r.k * sizeof *p->cpu.r.f_trace);
    }
    return p;
}

static int job_fn(bl_job *job, void *arg, bl_error *err)
{
    carg *a = arg;
    a->job = job;
    if (a->on_start)
        a->on_start();
    bl_cluster_job_result *r = calloc(1, sizeof *r);
    if (!r)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    r->optimizer = a->cfg.optimizer;
    r->precision = a->cfg.precision;
    bl_job_report(job, 0, "cluster: features");
    int rc = bl_cluster_features(a->cfg.data, a->cfg.n, &r->x, &r->n, &r->d, err);
    if (!rc && a->cfg.k > r->n)
        rc = bl_error_set(err, BL_EINVAL, "cluster: k = %zu exceeds the %zu images", a->cfg.k,
                          r->n);
    if (!rc && bl_job_cancel_requested(job))
        rc = BL_ECANCELED;
    if (rc) {
        bl_cluster_job_result_free(r);
        return rc;
    }
    bl_cluster_data data = { r->n, r->d, r->x };
    const char *dev = a->device;
    int cpu_run = !a->cfg.device_only || !strcasecmp(dev, "cpu") || !strcasecmp(dev, "auto");
    int dev_run = strcasecmp(dev, "cpu") != 0;
    if (cpu_run) {
        a->base = 0;
        a->span = dev_run ? 0.5 : 1;
        rc = run_on(a, "cpu", &data, &r->cpu);
        if (rc) {
            *err = r->cpu.err;
            bl_cluster_job_result_free(r);
            return rc;
        }
        r->dev.state = dev_run ? BL_CLUSTER_RUN_RUNNING : BL_CLUSTER_RUN_NONE;
        bl_cluster_job_result *p = copy_partial(r);
        if (p)
            bl_job_set_partial(job, p, result_free);
    }
    if (dev_run) {
        a->base = cpu_run ? 0.5 : 0;
        a->span = cpu_run ? 0.5 : 1;
        int drc = run_on(a, strcasecmp(dev, "auto") ? dev : "opencl", &data, &r->dev);
        /* next to a CPU run the device is a comparison: its failure is data */
        if (drc == BL_ECANCELED || (drc && !cpu_run)) {
            *err = r->dev.err;
            bl_cluster_job_result_free(r);
            return drc;
        }
    }
    bl_job_set_result(job, r, result_free);
    return 0;
}

static int make_arg(const bl_cluster_job_cfg *cfg, carg **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_cluster_job_check(cfg, err);
    if (rc)
        return rc;
    carg *a = calloc(1, sizeof *a);
    if (!a)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    a->cfg = *cfg;
    snprintf(a->device, sizeof a->device, "%s", cfg->device ? cfg->device : "cpu");
    a->cfg.device = a->device;
    *out = a;
    return 0;
}

int bl_cluster_job_start(const bl_cluster_job_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                         bl_error *err)
{
    *out = NULL;
    carg *a;
    int rc = make_arg(cfg, &a, err);
    if (rc)
        return rc; /* opts->own stays the caller's on failure */
    if (opts) {
        a->pause_while = opts->pause_while;
        a->on_start = opts->on_start;
        a->own = opts->own;
    }
    rc = bl_job_start_ex(opts && opts->kind ? opts->kind : "cluster", job_fn, a, carg_free,
                         opts ? opts->notify : NULL, opts ? opts->notify_ctx : NULL, out, err);
    if (rc) {
        memset(&a->own, 0, sizeof a->own);
        carg_free(a);
    }
    return rc;
}

int bl_cluster_job_run_sync(const bl_cluster_job_cfg *cfg, bl_job_progress_fn progress,
                            void *ctx, bl_cluster_job_result **out, bl_error *err)
{
    *out = NULL;
    carg *a;
    int rc = make_arg(cfg, &a, err);
    if (rc)
        return rc;
    void *res = NULL;
    rc = bl_job_run_sync("cluster", job_fn, a, progress, ctx, &res, err);
    carg_free(a);
    *out = res;
    return rc;
}
