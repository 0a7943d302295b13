/* tui_jobs.c - the workbench's background work.
 *
 *  - evaluation: one worker thread, newest request wins.  A slider move
 *    posts (spec, seed, generation); the worker applies the coupled faults
 *    to a faulty clone (bl_fault_apply) and re-evaluates with
 *    bl_engine_predict_cached against a cache of the clean model.  A result
 *    whose generation is stale is dropped.  While no new request arrives it
 *    adds maps seed+1 .. seed+4 and refines the interval (Wilson for one
 *    map, Student-t over maps).  The pinned model is evaluated on the same
 *    spec and seeds, so on the same coupled faults.
 *  - sweep: the accuracy-over-BER curve (bl_campaign_run on a bl_job,
 *    one thread) of the current model, then of the pinned one.
 *  - metrics: margin histograms (clean and under the current faults),
 *    analytic and measured flipped fraction, importance of the selected
 *    layer (bl_job, one thread, on at most 2,000 inputs).
 * A running sweep or metrics job whose settings went stale is cancelled
 * and restarted with the newest settings once it has stopped, so at most
 * one of each runs.  Every job writes a byte to the self-pipe when it has
 * something new; the UI blocks in poll() and never spins. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "jobs/job.h"
#include "study/campaign.h"
#include "study/metrics.h"
#include "study/stats.h"
#include "tui/tui.h"

#define EVAL_REPS 5


void tui_jobs_wake(int fd)
{
    char c = 1;
    ssize_t r = write(fd, &c, 1); /* non-blocking; a full pipe already wakes */
    (void)r;
}

typedef struct pin_bundle {
    bl_model *m;
    bl_inputs *in;
} pin_bundle;

struct bl_tui_jobs {
    bl_tui *t;
    int wake;
    /* 1 while the first map of a new slider value is being evaluated: the
     * background sweep waits between its fault maps meanwhile, so the answer
     * to a keypress gets both cores (the newest-value latency target). */
    atomic_int interactive;
    /* evaluation worker */
    pthread_t thr;
    int thr_ok;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint64_t req_gen;
    char req_spec[1024];
    uint64_t req_seed;
    double req_t;
    int pin_gen;          /* bumped when the pin changes */
    bl_model *pin_model;  /* borrowed from bl_tui (valid until pin_gen changes) */
    const bl_inputs *pin_in;
    tui_acc res;
    uint64_t res_gen;
    int res_new;
    char res_err[256];
    int err_new;
    double res_eval_s;
    /* worker-owned */
    bl_engine *e, *pe;
    bl_cache *cache, *pcache;
    bl_model *faulty, *pfaulty;
    int32_t *pred, *ppred;
    int wpin_gen;
    const bl_model *wpm;
    const bl_inputs *wpin;
    /* sweep and metrics */
    bl_job *sweep;
    int sweep_which, sweep_dirty, pin_sweep_dirty;
    bl_job *metrics;
    int metrics_dirty;
    char sweep_msg[96], metrics_msg[96];
};

/* Background jobs (sweep, metrics, cluster) run at a lower CPU priority
 * than the evaluation that answers a keypress: on Linux each thread has
 * its own nice value, inherited by the threads it creates.  Best effort. */
void tui_job_lower_priority(void)
{
#ifdef SYS_gettid
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
}

/* ------------------------------------------------------------ evaluation */

static int eval_one(bl_engine *e, bl_cache *c, const bl_model *clean, bl_model *faulty,
                    const bl_inputs *in, int32_t *pred, const bl_fault_spec *spec, uint64_t seed,
                    uint64_t *correct, uint64_t *changed, bl_error *err)
{
    bl_fault_stats st;
    int rc = bl_fault_apply(spec, clean, faulty, seed, &st, err);
    if (rc)
        return rc;
    double rates[64] = { 0 };
    if (clean->nlayers <= 64) {
        if ((rc = bl_fault_activation_rates(spec, clean, rates, err)))
            return rc;
        if ((rc = bl_engine_set_activation_faults(e, rates, seed, err)))
            return rc;
    }
    if ((rc = bl_engine_predict_cached(e, c, faulty, pred, err)))
        return rc;
    size_t n = bl_inputs_count(in);
    const int32_t *lab = bl_inputs_labels(in);
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += lab && pred[i] == lab[i];
    *correct = k;
    if (changed)
        *changed = st.changed[BL_FT_WEIGHTS];
    return 0;
}

static void pin_setup(bl_tui_jobs *j, bl_model *pm, const bl_inputs *pin, bl_error *err)
{
    bl_cache_free(j->pcache);
    bl_engine_free(j->pe);
    bl_model_free(j->pfaulty);
    free(j->ppred);
    j->pcache = NULL;
    j->pe = NULL;
    j->pfaulty = NULL;
    j->ppred = NULL;
    j->wpm = NULL;
    j->wpin = NULL;
    if (!pm || !pin)
        return;
    bl_engine_opts eo = { 0, -1, 0 };
    if (bl_engine_new(pm, &eo, &j->pe, err) || bl_model_clone(pm, &j->pfaulty, err) ||
        bl_cache_new(j->pe, pm, pin, &j->pcache, err) ||
        !(j->ppred = malloc(bl_inputs_count(pin) * sizeof(int32_t) + 1))) {
        bl_cache_free(j->pcache);
        bl_engine_free(j->pe);
        bl_model_free(j->pfaulty);
        j->pcache = NULL;
        j->pe = NULL;
        j->pfaulty = NULL;
        return;
    }
    j->wpm = pm;
    j->wpin = pin;
}

static void *eval_thread(void *arg)
{
    bl_tui_jobs *j = arg;
    bl_tui *t = j->t;
    uint64_t gen = 0, done_gen = 0;
    char spec_text[1024];
    uint64_t seed = 0;
    double t0 = 0;
    int reps = 0;
    double acc[EVAL_REPS], pacc[EVAL_REPS];
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->stop)
            break;
        if (j->req_gen == done_gen && (reps >= EVAL_REPS || reps == 0) &&
            j->wpin_gen == j->pin_gen) {
            pthread_cond_wait(&j->cv, &j->mu);
            continue;
        }
        bl_model *pm = NULL;
        const bl_inputs *pin = NULL;
        int pin_changed = j->wpin_gen != j->pin_gen;
        if (pin_changed) {
            j->wpin_gen = j->pin_gen;
            pm = j->pin_model;
            pin = j->pin_in;
        }
        if (j->req_gen != done_gen || pin_changed) {
            gen = j->req_gen;
            snprintf(spec_text, sizeof spec_text, "%s", j->req_spec);
            seed = j->req_seed;
            t0 = j->req_t;
            reps = 0;
        }
        pthread_mutex_unlock(&j->mu);
        bl_error err = { 0 };
        if (pin_changed)
            pin_setup(j, pm, pin, &err);
        bl_fault_spec *spec = NULL;
        uint64_t k = 0, pk = 0, changed = 0;
        double e0 = bl_now();
        if (reps == 0)
            atomic_store(&j->interactive, 1);
        int rc = err.code ? err.code : bl_fault_spec_parse(t->reg, spec_text, NULL, &spec, &err);
        if (!rc)
            rc = eval_one(j->e, j->cache, t->model, j->faulty, t->inputs, j->pred, spec,
                          seed + (uint64_t)reps, &k, &changed, &err);
        int have_pin = 0;
        if (!rc && j->pe) {
            bl_error perr = { 0 };
            if (eval_one(j->pe, j->pcache, j->wpm, j->pfaulty, j->wpin, j->ppred, spec,
                         seed + (uint64_t)reps, &pk, NULL, &perr) == 0)
                have_pin = 1;
        }
        double e1 = bl_now();
        atomic_store(&j->interactive, 0);
        bl_fault_spec_free(spec);
        pthread_mutex_lock(&j->mu);
        if (j->req_gen != gen && !pin_changed)
            continue;  /* superseded: newest wins */
        if (rc) {
            snprintf(j->res_err, sizeof j->res_err, "%s", err.msg);
            j->err_new = 1;
            done_gen = gen;
            reps = EVAL_REPS;
            tui_jobs_wake(j->wake);
            continue;
        }
        size_t n = bl_inputs_count(t->inputs);
        acc[reps] = n ? (double)k / n : 0;
        size_t pn = have_pin ? bl_inputs_count(j->wpin) : 0;
        pacc[reps] = pn ? (double)pk / pn : 0;
        reps++;
        tui_acc r = { 0 };
        r.valid = 1;
        bl_ci ci;
        if (reps == 1)
            bl_ci_wilson(k, n, 0.95, &ci);
        else
            bl_ci_student(acc, (size_t)reps, 0.95, 0, 1, &ci);
        r.acc = reps == 1 ? acc[0] : ci.mean;
        r.lo = ci.low;
        r.hi = ci.high;
        r.reps = reps;
        r.ms = reps == 1 ? (e1 - t0) * 1e3 : j->res.ms;
        r.eval_s = e1 - e0;
        r.changed = reps == 1 ? changed : j->res.changed;
        if (have_pin) {
            if (reps == 1)
                bl_ci_wilson(pk, pn, 0.95, &ci);
            else
                bl_ci_student(pacc, (size_t)reps, 0.95, 0, 1, &ci);
            r.pin_valid = 1;
            r.pin_acc = reps == 1 ? pacc[0] : ci.mean;
            r.pin_lo = ci.low;
            r.pin_hi = ci.high;
        }
        j->res = r;
        j->res_gen = gen;
        j->res_new = 1;
        done_gen = gen;
        tui_jobs_wake(j->wake);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

void tui_jobs_settings_changed(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    bl_error err = { 0 };
    char spec[1024];
    if (tui_state_spec(&t->s, t->reg, spec, sizeof spec, &err)) {
        tui_status(t, 1, "%s", err.msg);
        return;
    }
    snprintf(t->s.spec_text, sizeof t->s.spec_text, "%s", spec);
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->req_gen++;
    snprintf(j->req_spec, sizeof j->req_spec, "%s", spec);
    j->req_seed = t->s.seed;
    j->req_t = t->last_key_t > 0 ? t->last_key_t : bl_now();
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    t->last_key_t = 0;
    /* the margins under faults follow the settings */
    j->metrics_dirty = 1;
    tui_jobs_collect(t);
}

/* ----------------------------------------------------------------- sweep */

typedef struct sweep_arg {
    bl_campaign_cfg cfg;
    char fault[128];
    double bers[TUI_CURVE_MAX];
    int wake;
    bl_job *job;
    double last;
    atomic_int *interactive;  /* the evaluation worker's flag (see above) */
} sweep_arg;

static void sw_progress(void *ctx, double f, const char *msg)
{
    sweep_arg *a = ctx;
    bl_job_report(a->job, f, "%s", msg);
    if (f - a->last >= 0.05) {
        a->last = f;
        tui_jobs_wake(a->wake);
    }
}
/* Polled by the campaign between fault maps: also where the sweep yields
 * to an interactive evaluation (a 1 ms nap per check, at most ~0.2 s). */
static int sw_cancelled(void *ctx)
{
    sweep_arg *a = ctx;
    for (int naps = 0; naps < 200 && a->interactive && atomic_load(a->interactive) &&
                       !bl_job_cancel_requested(a->job);
         naps++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return bl_job_cancel_requested(a->job);
}
static void sw_free(void *p) { bl_campaign_result_free(p); }

static int sweep_fn(bl_job *job, void *arg, bl_error *err)
{
    tui_job_lower_priority();
    sweep_arg *a = arg;
    a->job = job;
    bl_campaign_hooks h = { sw_progress, sw_cancelled, a };
    bl_campaign_result *r = NULL;
    int rc = bl_campaign_run(&a->cfg, &h, &r, err);
    if (rc == 0)
        bl_job_set_result(job, r, sw_free);
    tui_jobs_wake(a->wake);
    return rc;
}

static const double sweep_bers[] = { 0,    1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02,
                                     0.05, 0.1,  0.2,  0.3,  0.4,  0.5 };

static void sweep_start(bl_tui *t, int which)
{
    bl_tui_jobs *j = t->jobs;
    sweep_arg *a = calloc(1, sizeof *a);
    if (!a)
        return;
    snprintf(a->fault, sizeof a->fault, "%s", t->s.fault_kind);
    size_t nb = sizeof sweep_bers / sizeof *sweep_bers;
    memcpy(a->bers, sweep_bers, sizeof sweep_bers);
    a->cfg.model = which ? t->pin : t->model;
    a->cfg.inputs = which ? t->pin_inputs : t->inputs;
    a->cfg.reg = t->reg;
    a->cfg.fault = a->fault;
    a->cfg.bers = a->bers;
    a->cfg.nbers = nb;
    a->cfg.seed = t->s.seed;
    a->cfg.reps = 3;
    a->cfg.threads = 1;
    a->wake = t->wake[1];
    a->interactive = &j->interactive;
    bl_error err = { 0 };
    if (bl_job_start("sweep", sweep_fn, a, free, &j->sweep, &err)) {
        tui_status(t, 1, "sweep: %s", err.msg);
        return;
    }
    j->sweep_which = which;
}

void tui_jobs_sweep(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    if (!j)
        return;
    j->sweep_dirty = 1;
    j->pin_sweep_dirty = t->pin != NULL;
    if (j->sweep)
        bl_job_cancel(j->sweep);
    tui_jobs_collect(t);
}

/* --------------------------------------------------------------- metrics */

typedef struct metrics_res {
    tui_margins m;
    tui_importance imp;
    int have_imp;
} metrics_res;

typedef struct metrics_arg {
    const bl_model *model;
    const bl_inputs *in;
    const bl_fault_registry *reg;
    char layer[BL_NAME_MAX];
    char spec[1024];
    double ber;
    uint64_t seed;
    int want_imp;
    int wake;
} metrics_arg;

static void hist_of(const bl_model *m, const bl_hidden *h, const int32_t *pre, size_t count,
                    double bw, int nb, double *hist, double *mean)
{
    const bl_layer *th = &m->layers[h->thresh];
    const bl_layer *src = &m->layers[h->src];
    size_t per = bl_shape_size(src->out), nc = th->out.c;
    memset(hist, 0, sizeof(double) * nb);
    double s = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < per; k++) {
            int64_t a = pre[i * per + k], tau = th->tau[k % nc];
            double mg = (double)llabs(a - tau);
            int b = (int)(mg / bw);
            if (b >= nb)
                b = nb - 1;
            hist[b] += 1;
            s += mg;
        }
    double tot = (double)count * per;
    for (int b = 0; b < nb; b++)
        hist[b] /= tot > 0 ? tot : 1;
    *mean = tot > 0 ? s / tot : 0;
}

static int metrics_fn(bl_job *job, void *arg, bl_error *err)
{
    tui_job_lower_priority();
    metrics_arg *a = arg;
    metrics_res *r = calloc(1, sizeof *r);
    bl_engine *e = NULL;
    bl_model *faulty = NULL;
    int32_t *pre = NULL, *fpre = NULL;
    bl_fault_spec *spec = NULL;
    int rc = 0;
    if (!r)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    bl_hidden h;
    if (bl_hidden_find(a->model, a->layer, &h) < 0) {
        snprintf(r->m.note, sizeof r->m.note, "%s: no hidden layer (output layer)", a->layer);
        r->m.valid = 1;
        snprintf(r->m.layer, sizeof r->m.layer, "%s", a->layer);
        r->m.analytic = NAN;
        r->m.measured = NAN;
        bl_job_set_result(job, r, free);
        tui_jobs_wake(a->wake);
        return 0;
    }
    bl_engine_opts eo = { 1, -1, 0 };
    if ((rc = bl_engine_new(a->model, &eo, &e, err)))
        goto out;
    bl_job_report(job, 0.1, "margins %s", a->layer);
    if ((rc = bl_hidden_preacts(e, a->model, a->in, &h, &pre, err)))
        goto out;
    size_t count = bl_inputs_count(a->in);
    if (bl_job_cancel_requested(job)) {
        rc = BL_ECANCELED;
        goto out;
    }
    if ((rc = bl_fault_spec_parse(a->reg, a->spec, NULL, &spec, err)) ||
        (rc = bl_model_clone(a->model, &faulty, err)) ||
        (rc = bl_fault_apply(spec, a->model, faulty, a->seed, NULL, err)) ||
        (rc = bl_hidden_preacts(e, faulty, a->in, &h, &fpre, err)))
        goto out;
    {
        tui_margins *m = &r->m;
        m->valid = 1;
        snprintf(m->layer, sizeof m->layer, "%s", a->layer);
        m->ber = a->ber;
        const bl_layer *src = &a->model->layers[h.src];
        const bl_layer *th = &a->model->layers[h.thresh];
        size_t per = bl_shape_size(src->out), nc = th->out.c;
        int64_t mx = 1;
        for (size_t i = 0; i < count * per; i++) {
            int64_t v = llabs((int64_t)pre[i] - th->tau[i % per % nc]);
            if (v > mx)
                mx = v;
        }
        m->nbins = TUI_HIST_BINS;
        m->bin_width = ceil((double)(mx + 1) / TUI_HIST_BINS);
        hist_of(a->model, &h, pre, count, m->bin_width, m->nbins, m->clean, &m->clean_mean);
        hist_of(faulty, &h, fpre, count, m->bin_width, m->nbins, m->faulty, &m->faulty_mean);
        m->fan_in = a->model->layers[h.weight].cols;
        m->expect_flips = m->fan_in * a->ber;
        m->analytic = NAN;
        m->measured = NAN;
        if (a->ber > 0) {
            bl_job_report(job, 0.4, "flip fraction %s", a->layer);
            bl_error e2 = { 0 };
            double fr;
            if (bl_flip_fraction_analytic(a->model, &h, pre, count, a->ber, &fr, &e2) == 0)
                m->analytic = fr;
            else
                snprintf(m->note, sizeof m->note, "analytic: n/a (real-valued inputs or pool)");
            if (bl_job_cancel_requested(job)) {
                rc = BL_ECANCELED;
                goto out;
            }
            bl_ci ci;
            if (bl_flip_fraction_measured(e, a->model, a->in, &h, a->reg, a->ber, a->seed, 2, pre,
                                          &ci, &e2) == 0) {
                m->measured = ci.mean;
                m->mlo = ci.low;
                m->mhi = ci.high;
            }
        }
    }
    if (a->want_imp) {
        if (bl_job_cancel_requested(job)) {
            rc = BL_ECANCELED;
            goto out;
        }
        bl_job_report(job, 0.7, "importance %s", a->layer);
        bl_importance imp = { 0 };
        if ((rc = bl_importance_layer(e, a->model, a->in, &h, BL_IMP_AUTO, 1, &imp, err)))
            goto out;
        tui_importance *ti = &r->imp;
        ti->valid = 1;
        snprintf(ti->layer, sizeof ti->layer, "%s", a->layer);
        ti->mean = imp.mean;
        ti->max = imp.max;
        ti->variance = imp.variance;
        ti->seconds = imp.seconds;
        /* top K by value (lowest index first on ties) */
        for (size_t i = 0; i < imp.n; i++) {
            int k = ti->n < TUI_TOPK ? ti->n++ : TUI_TOPK;
            if (k == TUI_TOPK && !(imp.imp[i] > ti->val[TUI_TOPK - 1]))
                continue;
            if (k == TUI_TOPK)
                k = TUI_TOPK - 1;
            while (k > 0 && imp.imp[i] > ti->val[k - 1]) {
                ti->val[k] = ti->val[k - 1];
                ti->top[k] = ti->top[k - 1];
                k--;
            }
            ti->val[k] = imp.imp[i];
            ti->top[k] = (int)i;
        }
        bl_importance_free(&imp);
        r->have_imp = 1;
    }
    bl_job_set_result(job, r, free);
    r = NULL;
out:
    free(r);
    free(pre);
    free(fpre);
    bl_fault_spec_free(spec);
    bl_model_free(faulty);
    bl_engine_free(e);
    tui_jobs_wake(a->wake);
    return rc;
}

static void metrics_start(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    bl_tui_state *s = &t->s;
    int li = s->sel >= 0 && s->sel < s->nlayers ? s->sel : 0;
    if (s->nlayers == 0)
        return;
    metrics_arg *a = calloc(1, sizeof *a);
    if (!a)
        return;
    a->model = t->model;
    a->in = t->small_inputs;
    a->reg = t->reg;
    snprintf(a->layer, sizeof a->layer, "%s", s->layers[li].name);
    snprintf(a->spec, sizeof a->spec, "%s", s->spec_text[0] ? s->spec_text : "bitflip:p=0");
    a->ber = s->layers[li].ber;
    a->seed = s->seed;
    a->want_imp = !(s->imp.valid && strcmp(s->imp.layer, a->layer) == 0);
    a->wake = t->wake[1];
    bl_error err = { 0 };
    if (bl_job_start("metrics", metrics_fn, a, free, &j->metrics, &err))
        tui_status(t, 1, "metrics: %s", err.msg);
}

void tui_jobs_layer_changed(bl_tui *t)
{
    if (!t->jobs)
        return;
    t->jobs->metrics_dirty = 1;
    tui_jobs_collect(t);
}

/* -------------------------------------------------------------- collect */

static void curve_from(tui_curve *c, const bl_campaign_result *r, const char *fault)
{
    c->n = 0;
    for (size_t i = 0; i < r->nrows && i < TUI_CURVE_MAX; i++) {
        c->ber[c->n] = r->rows[i].ber;
        c->acc[c->n] = r->rows[i].accuracy;
        c->lo[c->n] = r->rows[i].ci_low;
        c->hi[c->n] = r->rows[i].ci_high;
        c->reps = r->rows[i].reps;
        c->n++;
    }
    snprintf(c->fault, sizeof c->fault, "%s", fault);
}

int tui_jobs_collect(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    int changed = 0;
    if (!j)
        return 0;
    pthread_mutex_lock(&j->mu);
    if (j->res_new) {
        t->s.acc = j->res;
        j->res_new = 0;
        changed = 1;
    }
    if (j->err_new) {
        tui_status(t, 1, "%s", j->res_err);
        j->err_new = 0;
        changed = 1;
    }
    /* The answer to the newest slider value comes first: background jobs
     * (re)start only once its first fault map has been evaluated (collect
     * runs again when that result wakes the loop). */
    int eval_pending = j->req_gen != j->res_gen && !j->err_new;
    pthread_mutex_unlock(&j->mu);
    /* sweep */
    if (j->sweep && bl_job_state_now(j->sweep) != BL_JOB_RUNNING) {
        bl_error err = { 0 };
        int rc = bl_job_wait(j->sweep, &err);
        bl_campaign_result *r = bl_job_take_result(j->sweep);
        if (rc == 0 && r) {
            if (j->sweep_which == 0) {
                curve_from(&t->s.curve, r, t->s.fault_kind);
                t->s.clean_acc = r->clean_accuracy;
            } else
                curve_from(&t->s.pin_curve, r, t->s.fault_kind);
        } else if (rc != BL_ECANCELED)
            tui_status(t, 1, "sweep: %s", err.msg);
        bl_campaign_result_free(r);
        bl_job_free(j->sweep);
        j->sweep = NULL;
        changed = 1;
    }
    if (!j->sweep && !eval_pending && (j->sweep_dirty || j->pin_sweep_dirty)) {
        if (j->sweep_dirty) {
            j->sweep_dirty = 0;
            sweep_start(t, 0);
        } else {
            j->pin_sweep_dirty = 0;
            if (t->pin)
                sweep_start(t, 1);
        }
        changed = 1;
    }
    /* metrics */
    if (j->metrics && j->metrics_dirty)
        bl_job_cancel(j->metrics);
    if (j->metrics && bl_job_state_now(j->metrics) != BL_JOB_RUNNING) {
        bl_error err = { 0 };
        int rc = bl_job_wait(j->metrics, &err);
        metrics_res *r = bl_job_take_result(j->metrics);
        if (rc == 0 && r) {
            t->s.margins = r->m;
            if (r->have_imp)
                t->s.imp = r->imp;
        } else if (rc != BL_ECANCELED)
            tui_status(t, 1, "metrics: %s", err.msg);
        free(r);
        bl_job_free(j->metrics);
        j->metrics = NULL;
        changed = 1;
    }
    if (!j->metrics && !eval_pending && j->metrics_dirty) {
        j->metrics_dirty = 0;
        metrics_start(t);
        changed = 1;
    }
    changed |= tui_cluster_collect(t);
    /* progress text */
    char buf[128] = "";
    if (j->sweep) {
        char m[64];
        double f = bl_job_progress(j->sweep, m, sizeof m);
        snprintf(buf, sizeof buf, "sweep%s %3.0f%%", j->sweep_which ? "(pin)" : "", f * 100);
    }
    if (j->metrics) {
        char m[64];
        bl_job_progress(j->metrics, m, sizeof m);
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%s%s", l ? "  " : "", m[0] ? m : "metrics");
    }
    if (tui_cluster_running(t)) {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%scluster %3.0f%%", l ? "  " : "",
                 tui_cluster_progress(t) * 100);
    }
    if (strcmp(buf, t->s.jobs_text)) {
        snprintf(t->s.jobs_text, sizeof t->s.jobs_text, "%s", buf);
        changed = 1;
    }
    return changed;
}

int tui_jobs_running(bl_tui *t)
{
    return t->jobs && (t->jobs->sweep || t->jobs->metrics || tui_cluster_running(t));
}

/* ------------------------------------------------------------ lifecycle */

int tui_jobs_new(bl_tui *t, bl_tui_jobs **out, bl_error *err)
{
    bl_tui_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    j->t = t;
    j->wake = t->wake[1];
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    bl_engine_opts eo = { 0, -1, 0 };
    int rc;
    if ((rc = bl_engine_new(t->model, &eo, &j->e, err)) ||
        (rc = bl_model_clone(t->model, &j->faulty, err)) ||
        (rc = bl_cache_new(j->e, t->model, t->inputs, &j->cache, err))) {
        tui_jobs_free(j);
        return rc;
    }
    j->pred = malloc(bl_inputs_count(t->inputs) * sizeof(int32_t) + 1);
    if (!j->pred || pthread_create(&j->thr, NULL, eval_thread, j)) {
        tui_jobs_free(j);
        return bl_error_set(err, BL_ENOMEM, "cannot start the evaluation thread");
    }
    j->thr_ok = 1;
    *out = j;
    return 0;
}

/* The pin changed (t->pin, t->pin_inputs already set): stop its sweep
 * first (it reads the old model), then tell the worker. */
void tui_jobs_pin_changed(bl_tui *t, bl_model *old, bl_inputs *old_in)
{
    bl_tui_jobs *j = t->jobs;
    if (j->sweep && j->sweep_which == 1) {
        bl_job_free(j->sweep); /* cancels and joins: a sweep stops between maps */
        j->sweep = NULL;
    }
    pthread_mutex_lock(&j->mu);
    j->pin_gen++;
    j->pin_model = t->pin;
    j->pin_in = t->pin_inputs;
    pthread_cond_signal(&j->cv);
    /* wait until the worker has switched away from the old pin */
    while (j->wpin_gen != j->pin_gen && !j->stop) {
        pthread_mutex_unlock(&j->mu);
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    /* the worker picked the new pin up under the lock; it no longer uses the
       old one once its current evaluation ends: wait for that */
    pthread_mutex_lock(&j->mu);
    pthread_mutex_unlock(&j->mu);
    (void)old;
    (void)old_in;
    t->s.pin_curve.n = 0;
    j->pin_sweep_dirty = t->pin != NULL;
    tui_jobs_collect(t);
}

void tui_jobs_free(bl_tui_jobs *j)
{
    if (!j)
        return;
    if (j->thr_ok) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thr, NULL);
    }
    bl_job_free(j->sweep);
    bl_job_free(j->metrics);
    tui_cluster_free(j->t);
    pin_setup(j, NULL, NULL, NULL);
    bl_cache_free(j->cache);
    bl_engine_free(j->e);
    bl_model_free(j->faulty);
    free(j->pred);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
