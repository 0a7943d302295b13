/* train_job.c - training as a job (train_job.h). */
#include "jobs/train_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct targ {
    bl_train_job_cfg cfg;
    char *name;
    bl_job *job;
    const atomic_int *pause_while;
    void (*on_start)(void);
    bl_job_own own;
} targ;

static void targ_free(void *p)
{
    targ *a = p;
    if (!a)
        return;
    if (a->cfg.own_trainer)
        bl_trainer_free(a->cfg.trainer);
    bl_job_own_free(&a->own);
    free(a->name);
    free(a);
}

static int on_train(void *ctx, const bl_train_progress *p)
{
    targ *a = ctx;
    int epochs = bl_trainer_opts(a->cfg.trainer)->epochs;
    if (p->epoch_end && p->stats) {
        bl_epoch_stats *s = malloc(sizeof *s);
        if (s) {
            *s = *p->stats;
            bl_job_set_partial(a->job, s, free);
        }
    } else if (p->total) {
        double f = ((double)(p->epoch - 1) + (double)p->done / (double)p->total) / epochs;
        bl_job_report(a->job, f, "epoch %d/%d: step %zu/%zu, loss %.4f", p->epoch, epochs,
                      p->done, p->total, p->loss);
    }
    int stop = a->cfg.cb ? a->cfg.cb(a->cfg.cb_ctx, p) : 0;
    if (!stop)
        bl_job_pause_while(a->job, a->pause_while);
    return stop || bl_job_cancel_requested(a->job);
}

static void model_free(void *p) { bl_model_free(p); }

static int job_fn(bl_job *job, void *arg, bl_error *err)
{
    targ *a = arg;
    a->job = job;
    if (a->on_start)
        a->on_start();
    int rc = bl_trainer_run(a->cfg.trainer, on_train, a, err);
    if (rc || a->cfg.no_export)
        return rc;
    bl_model *m = NULL;
    rc = bl_trainer_export(a->cfg.trainer, &m, err);
    if (rc)
        return rc;
    /* the last epoch's test accuracy is the eval forward of the final
     * weights on the test set: what bl_trainer_eval would measure */
    int nh;
    const bl_epoch_stats *h = bl_trainer_history(a->cfg.trainer, &nh);
    if (nh > 0 && h[nh - 1].test_acc >= 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.6f", h[nh - 1].test_acc);
        bl_model_meta_set(m, "test_accuracy", buf);
    }
    if (a->name)
        bl_model_meta_set(m, "name", a->name);
    bl_job_set_result(job, m, model_free);
    return 0;
}

static int make_arg(const bl_train_job_cfg *cfg, targ **out, bl_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->trainer)
        return bl_error_set(err, BL_EINVAL, "train: no trainer");
    targ *a = calloc(1, sizeof *a);
    if (!a)
        return bl_error_set(err, BL_ENOMEM, "train: out of memory");
    a->cfg = *cfg;
    a->name = cfg->name ? strdup(cfg->name) : NULL;
    a->cfg.name = a->name;
    if (cfg->name && !a->name) {
        free(a);
        return bl_error_set(err, BL_ENOMEM, "train: out of memory");
    }
    *out = a;
    return 0;
}

int bl_train_job_start(const bl_train_job_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                       bl_error *err)
{
    *out = NULL;
    targ *a;
    int rc = make_arg(cfg, &a, err);
    if (rc)
        return rc;
    if (opts) {
        a->pause_while = opts->pause_while;
        a->on_start = opts->on_start;
        a->own = opts->own;
    }
    rc = bl_job_start_ex(opts && opts->kind ? opts->kind : "train", job_fn, a, targ_free,
                         opts ? opts->notify : NULL, opts ? opts->notify_ctx : NULL, out, err);
    if (rc) { /* trainer and own stay the caller's */
        memset(&a->own, 0, sizeof a->own);
        a->cfg.own_trainer = 0;
        targ_free(a);
    }
    return rc;
}

int bl_train_job_run_sync(const bl_train_job_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                          bl_model **model, bl_error *err)
{
    if (model)
        *model = NULL;
    targ *a;
    int rc = make_arg(cfg, &a, err);
    if (rc)
        return rc;
    void *res = NULL;
    rc = bl_job_run_sync("train", job_fn, a, progress, ctx, &res, err);
    targ_free(a);
    if (model)
        *model = res;
    else
        bl_model_free(res);
    return rc;
}
