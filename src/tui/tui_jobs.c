/* tui_jobs.c - the workbench's background work, on the core's jobs layer.
 *
 * The workbench only posts requests and collects results; every number
 * comes from the core (study/evaluate.h, study/metrics_report.h through
 * jobs/eval_job.h and jobs/metrics_job.h), so it equals what `betlab eval`,
 * `betlab sweep`, `betlab metrics` and Lua print for the same settings.
 *
 *  - evaluation (slot `eval`, newest request supersedes): the current spec
 *    and seed, EVAL_REPS coupled maps; the first map's accuracy is shown as
 *    soon as it is published (bl_eval_partial), the interval refines with
 *    every further map.  The engine and clean cache are kept across
 *    requests (a slot runs one job at a time).  The pinned model is then
 *    evaluated on the same spec and seeds (slot `pin`): the same faults.
 *  - sweep (slot `sweep`): the accuracy-over-BER curve of the current
 *    model, then of the pinned one, one thread, low priority.
 *  - metrics (slot `metrics`): margin histograms (clean and under the
 *    current faults, same bins), analytic and measured flip fraction and
 *    importance of the selected layer, on at most 2,000 inputs.
 * Background jobs start only once the newest slider value's first map is
 * on screen, and nap between fault maps while it is being computed, so the
 * answer to a keypress gets the cores.
 *
 * Wake-up: every job's listener writes a byte to the self-pipe AFTER the
 * job has published its event (jobs/job.h), so the UI, blocked in poll(),
 * always finds the finished state it was woken for. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "jobs/eval_job.h"
#include "jobs/metrics_job.h"
#include "jobs/slot.h"
#include "study/evaluate.h"
#include "study/metrics_report.h"
#include "tui/tui.h"

#define EVAL_REPS 5
#define SWEEP_REPS 3
#define METRICS_REPS 2

struct bl_tui_jobs {
    bl_tui *t;
    int wake;
    /* 1 from a new slider value until its first map is published */
    atomic_int interactive;
    bl_slot eval, pin, sweep, metrics;
    /* persistent evaluation state (used by one eval job at a time) */
    bl_engine *e, *pe;
    bl_cache *cache, *pcache;
    /* the newest request */
    double req_t;             /* when its key was pressed                  */
    int eval_pending;         /* posted, first map not yet collected       */
    int pin_dirty;            /* post the pin evaluation after the main one */
    char spec[1024];          /* spec of the newest request                */
    /* background requests waiting for their turn */
    int sweep_which, sweep_dirty, pin_sweep_dirty, metrics_dirty;
};

void tui_jobs_wake(int fd)
{
    char c = 1;
    ssize_t r = write(fd, &c, 1); /* non-blocking; a full pipe already wakes */
    (void)r;
}

/* Background jobs (sweep, metrics, cluster) run at a lower CPU priority
 * than the evaluation that answers a keypress: on Linux each thread has
 * its own nice value, inherited by the threads it creates.  Best effort. */
void tui_job_lower_priority(void)
{
#ifdef SYS_gettid
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
}

/* Listeners: run on job threads after the event is published. */
static void notify(void *ctx, bl_job *job, bl_job_event ev)
{
    (void)job;
    (void)ev;
    tui_jobs_wake(((bl_tui_jobs *)ctx)->wake);
}

static void notify_eval(void *ctx, bl_job *job, bl_job_event ev)
{
    bl_tui_jobs *j = ctx;
    if (ev != BL_JOB_EV_PROGRESS)  /* the first map is out: background may go on */
        atomic_store(&j->interactive, 0);
    notify(ctx, job, ev);
}

/* ------------------------------------------------------------ evaluation */

typedef struct eval_req {
    bl_evaluate_cfg cfg;
    char spec[1024];
    bl_tui_jobs *j;
    int pin;
} eval_req;

static int eval_start(void *p, bl_job_notify_fn nf, void *ctx, bl_job **out, bl_error *err)
{
    eval_req *q = p;
    q->cfg.fault = q->spec;
    bl_job_opts o = { .kind = q->pin ? "eval(pin)" : "eval", .notify = nf, .notify_ctx = ctx };
    o.own.p[0] = q;
    o.own.free[0] = free;
    int rc = bl_eval_job_start(&q->cfg, &o, out, err);
    return rc; /* on failure the slot frees q */
}

static eval_req *eval_request(bl_tui *t, int pin)
{
    bl_tui_jobs *j = t->jobs;
    eval_req *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    snprintf(q->spec, sizeof q->spec, "%s", j->spec);
    q->j = j;
    q->pin = pin;
    q->cfg = (bl_evaluate_cfg){ .model = pin ? t->pin : t->model,
                                .inputs = pin ? t->pin_inputs : t->inputs,
                                .reg = t->reg, .seed = t->s.seed, .reps = EVAL_REPS,
                                .engine = pin ? j->pe : j->e,
                                .cache = pin ? j->pcache : j->cache };
    return q;
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
    snprintf(j->spec, sizeof j->spec, "%s", spec);
    j->req_t = t->last_key_t > 0 ? t->last_key_t : bl_now();
    t->last_key_t = 0;
    t->s.acc.stale = 1;
    eval_req *q = eval_request(t, 0);
    if (!q) {
        tui_status(t, 1, "out of memory");
        return;
    }
    atomic_store(&j->interactive, 1);
    j->eval_pending = 1;
    j->pin_dirty = t->pin != NULL;
    if (t->pin)
        bl_slot_cancel(&j->pin); /* its settings are stale too */
    if (bl_slot_post(&j->eval, eval_start, q, free, &err)) {
        atomic_store(&j->interactive, 0);
        j->eval_pending = 0;
        tui_status(t, 1, "%s", err.msg);
    }
    /* the margins under faults follow the settings */
    j->metrics_dirty = 1;
    tui_jobs_collect(t);
}

/* A partial or final evaluation into the accuracy panel's state. */
static void show_eval(bl_tui *t, int pin, double acc, double lo, double hi, int reps,
                      bl_ci_method method, uint64_t changed)
{
    tui_acc *a = &t->s.acc;
    if (pin) {
        a->pin_valid = 1;
        a->pin_acc = acc;
        a->pin_lo = lo;
        a->pin_hi = hi;
        return;
    }
    if (reps == 1 || !a->valid) {
        a->ms = (bl_now() - t->jobs->req_t) * 1e3;
        a->changed = changed;
    }
    a->valid = 1;
    a->stale = 0;
    a->acc = acc;
    a->lo = lo;
    a->hi = hi;
    a->reps = reps;
    a->method = method;
}

static int collect_eval(bl_tui *t, bl_slot *slot, int pin)
{
    bl_tui_jobs *j = t->jobs;
    int changed = 0;
    bl_eval_partial *p = bl_slot_take_partial(slot);
    if (p) {
        show_eval(t, pin, p->accuracy, p->ci_low, p->ci_high, p->reps, p->ci_method,
                  p->changed_bits);
        if (!pin) {
            j->eval_pending = 0;
            t->s.clean_acc = p->clean_accuracy;
            t->s.clean_valid = 1;
        }
        free(p);
        changed = 1;
    }
    void *res = NULL;
    bl_error err = { 0 };
    switch (bl_slot_collect(slot, &res, &err)) {
    case BL_SLOT_RESULT: {
        bl_evaluate_result *r = res;
        const bl_evaluate_row *row = &r->rows[0];
        show_eval(t, pin, row->accuracy, row->ci_low, row->ci_high, row->reps, row->ci_method,
                  row->changed_bits);
        if (!pin) {
            t->s.clean_acc = r->clean_accuracy;
            t->s.clean_valid = 1;
            t->s.acc.eval_s = r->eval_seconds / (r->maps ? (double)r->maps : 1.0);
            j->eval_pending = 0;
        }
        bl_evaluate_result_free(r);
        changed = 1;
        break;
    }
    case BL_SLOT_ERROR:
        tui_status(t, 1, "%s%s", pin ? "pinned model: " : "", err.msg);
        if (!pin) {
            j->eval_pending = 0;
            atomic_store(&j->interactive, 0);
        }
        changed = 1;
        break;
    case BL_SLOT_CANCELED:
        changed = 1;
        break;
    default:
        break;
    }
    return changed;
}

/* ----------------------------------------------------------------- sweep */

static const double sweep_bers[] = { 0,    1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02,
                                     0.05, 0.1,  0.2,  0.3,  0.4,  0.5 };

typedef struct sweep_req {
    bl_evaluate_cfg cfg;
    char fault[128];
    bl_tui_jobs *j;
} sweep_req;

static int sweep_start_fn(void *p, bl_job_notify_fn nf, void *ctx, bl_job **out, bl_error *err)
{
    sweep_req *q = p;
    q->cfg.fault = q->fault;
    bl_job_opts o = { .kind = "sweep", .notify = nf, .notify_ctx = ctx,
                      .pause_while = &q->j->interactive, .on_start = tui_job_lower_priority };
    o.own.p[0] = q;
    o.own.free[0] = free;
    return bl_eval_job_start(&q->cfg, &o, out, err);
}

static void sweep_post(bl_tui *t, int which)
{
    bl_tui_jobs *j = t->jobs;
    sweep_req *q = calloc(1, sizeof *q);
    if (!q)
        return;
    snprintf(q->fault, sizeof q->fault, "%s", t->s.fault_kind);
    q->j = j;
    q->cfg = (bl_evaluate_cfg){ .model = which ? t->pin : t->model,
                                .inputs = which ? t->pin_inputs : t->inputs, .reg = t->reg,
                                .bers = sweep_bers,
                                .nbers = sizeof sweep_bers / sizeof *sweep_bers,
                                .seed = t->s.seed, .reps = SWEEP_REPS, .threads = 1 };
    bl_error err = { 0 };
    if (bl_slot_post(&j->sweep, sweep_start_fn, q, free, &err))
        tui_status(t, 1, "sweep: %s", err.msg);
    else
        j->sweep_which = which;
}

void tui_jobs_sweep(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    if (!j)
        return;
    j->sweep_dirty = 1;
    j->pin_sweep_dirty = t->pin != NULL;
    t->s.curve.stale = 1;
    bl_slot_cancel(&j->sweep);
    tui_jobs_collect(t);
}

static void curve_from(tui_curve *c, const bl_evaluate_result *r, const char *fault)
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
    c->stale = 0;
    snprintf(c->fault, sizeof c->fault, "%s", fault);
}

static int collect_sweep(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    void *res = NULL;
    bl_error err = { 0 };
    switch (bl_slot_collect(&j->sweep, &res, &err)) {
    case BL_SLOT_RESULT:
        if (j->sweep_which == 0) {
            curve_from(&t->s.curve, res, t->s.fault_kind);
            t->s.clean_acc = ((bl_evaluate_result *)res)->clean_accuracy;
            t->s.clean_valid = 1;
        } else if (t->pin) {
            curve_from(&t->s.pin_curve, res, t->s.fault_kind);
        }
        bl_evaluate_result_free(res);
        return 1;
    case BL_SLOT_ERROR:
        tui_status(t, 1, "sweep: %s", err.msg);
        if (j->sweep_which == 0)
            t->s.curve.stale = 0; /* no longer coming: say so, not "stale" */
        return 1;
    case BL_SLOT_CANCELED:
        return 1;
    default:
        return 0;
    }
}

/* --------------------------------------------------------------- metrics */

typedef struct metrics_req {
    bl_metrics_cfg cfg;
    char layer[BL_NAME_MAX];
    char spec[1024];
    bl_tui_jobs *j;
} metrics_req;

static int metrics_start_fn(void *p, bl_job_notify_fn nf, void *ctx, bl_job **out,
                            bl_error *err)
{
    metrics_req *q = p;
    q->cfg.layer = q->layer;
    q->cfg.fault = q->spec;
    bl_job_opts o = { .kind = "metrics", .notify = nf, .notify_ctx = ctx,
                      .pause_while = &q->j->interactive, .on_start = tui_job_lower_priority };
    o.own.p[0] = q;
    o.own.free[0] = free;
    return bl_metrics_job_start(&q->cfg, &o, out, err);
}

static void metrics_post(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    bl_tui_state *s = &t->s;
    if (s->nlayers == 0)
        return;
    int li = s->sel >= 0 && s->sel < s->nlayers ? s->sel : 0;
    bl_hidden h;
    if (bl_hidden_find(t->model, s->layers[li].name, &h) < 0) {
        /* the output layer has no threshold: nothing to measure */
        memset(&s->margins, 0, sizeof s->margins);
        s->margins.valid = 1;
        snprintf(s->margins.layer, sizeof s->margins.layer, "%s", s->layers[li].name);
        snprintf(s->margins.note, sizeof s->margins.note, "%s: no hidden layer (output layer)",
                 s->layers[li].name);
        s->margins.analytic = NAN;
        s->margins.measured = NAN;
        return;
    }
    metrics_req *q = calloc(1, sizeof *q);
    if (!q)
        return;
    snprintf(q->layer, sizeof q->layer, "%s", s->layers[li].name);
    snprintf(q->spec, sizeof q->spec, "%s", s->spec_text[0] ? s->spec_text : "bitflip:p=0");
    q->j = j;
    int want_imp = !(s->imp.valid && strcmp(s->imp.layer, q->layer) == 0);
    q->cfg = (bl_metrics_cfg){ .model = t->model, .inputs = t->small_inputs, .reg = t->reg,
                               .what = BL_MET_MARGINS | BL_MET_FAULTY_MARGINS |
                                       BL_MET_ANALYTIC | BL_MET_MEASURED |
                                       (want_imp ? BL_MET_IMPORTANCE : 0),
                               .ber = s->layers[li].ber, .reps = METRICS_REPS, .seed = s->seed,
                               .importance_method = BL_IMP_AUTO, .threads = 1,
                               .max_bins = TUI_HIST_BINS };
    bl_error err = { 0 };
    if (bl_slot_post(&j->metrics, metrics_start_fn, q, free, &err))
        tui_status(t, 1, "metrics: %s", err.msg);
}

void tui_jobs_layer_changed(bl_tui *t)
{
    if (!t->jobs)
        return;
    t->jobs->metrics_dirty = 1;
    tui_jobs_collect(t);
}

/* Counts into the panel's fractions (display units). */
static void hist_into(double *dst, int nbins, const bl_margin_summary *s)
{
    for (int b = 0; b < nbins; b++)
        dst[b] = s->count && (uint32_t)b < s->nbins ? (double)s->hist[b] / (double)s->count : 0;
}

/* The largest importances for the panel, highest first (lowest index on ties). */
static void topk_into(tui_importance *ti, const bl_metrics_layer *L)
{
    const bl_importance *imp = &L->importance;
    memset(ti, 0, sizeof *ti);
    ti->valid = 1;
    snprintf(ti->layer, sizeof ti->layer, "%s", L->h.name);
    ti->mean = imp->mean;
    ti->max = imp->max;
    ti->variance = imp->variance;
    ti->seconds = imp->seconds;
    for (size_t i = 0; i < imp->n; i++) {
        int k = ti->n < TUI_TOPK ? ti->n++ : TUI_TOPK;
        if (k == TUI_TOPK && !(imp->imp[i] > ti->val[TUI_TOPK - 1]))
            continue;
        if (k == TUI_TOPK)
            k = TUI_TOPK - 1;
        while (k > 0 && imp->imp[i] > ti->val[k - 1]) {
            ti->val[k] = ti->val[k - 1];
            ti->top[k] = ti->top[k - 1];
            k--;
        }
        ti->val[k] = imp->imp[i];
        ti->top[k] = (int)i;
    }
}

static void margins_into(bl_tui_state *s, const bl_metrics_result *r)
{
    const bl_metrics_layer *L = &r->layers[0];
    tui_margins *m = &s->margins;
    memset(m, 0, sizeof *m);
    m->valid = 1;
    snprintf(m->layer, sizeof m->layer, "%s", L->h.name);
    m->ber = r->ber;
    m->nbins = (int)L->margins.nbins;
    m->bin_width = L->margins.bin_width;
    hist_into(m->clean, m->nbins, &L->margins);
    hist_into(m->faulty, m->nbins, &L->faulty);
    m->clean_mean = L->margins.mean;
    m->faulty_mean = L->faulty.mean;
    m->fan_in = L->fan_in;
    m->expect_flips = L->fan_in * r->ber;
    m->analytic = r->ber > 0 ? L->analytic : NAN;
    m->measured = r->ber > 0 ? L->measured.mean : NAN;
    m->mlo = L->measured.low;
    m->mhi = L->measured.high;
    if (r->ber > 0 && isnan(L->analytic))
        snprintf(m->note, sizeof m->note, "analytic n/a: %s", L->analytic_note);
    if (L->have_importance)
        topk_into(&s->imp, L);
}

static int collect_metrics(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    void *res = NULL;
    bl_error err = { 0 };
    switch (bl_slot_collect(&j->metrics, &res, &err)) {
    case BL_SLOT_RESULT:
        margins_into(&t->s, res);
        bl_metrics_result_free(res);
        return 1;
    case BL_SLOT_ERROR: /* the core's message, shown in the panel itself */
        memset(&t->s.margins, 0, sizeof t->s.margins);
        t->s.margins.valid = 1;
        t->s.margins.analytic = t->s.margins.measured = NAN;
        snprintf(t->s.margins.note, sizeof t->s.margins.note, "%s", err.msg);
        tui_status(t, 1, "metrics: %s", err.msg);
        return 1;
    case BL_SLOT_CANCELED:
        return 1;
    default:
        return 0;
    }
}

/* -------------------------------------------------------------- collect */

static void progress_text(bl_tui *t, char *buf, size_t n)
{
    bl_tui_jobs *j = t->jobs;
    buf[0] = 0;
    bl_job *sw = bl_slot_job(&j->sweep), *mt = bl_slot_job(&j->metrics);
    if (sw)
        snprintf(buf, n, "sweep%s %3.0f%%", j->sweep_which ? "(pin)" : "",
                 bl_job_progress(sw, NULL, 0) * 100);
    if (mt) {
        char m[64];
        bl_job_progress(mt, m, sizeof m);
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", l ? "  " : "", m[0] ? m : "metrics");
    }
    if (tui_cluster_running(t)) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%scluster %3.0f%%", l ? "  " : "",
                 tui_cluster_progress(t) * 100);
    }
}

int tui_jobs_collect(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    if (!j)
        return 0;
    int changed = collect_eval(t, &j->eval, 0);
    if (j->pin_dirty && !bl_slot_busy(&j->eval) && t->pin) {
        j->pin_dirty = 0;
        eval_req *q = eval_request(t, 1);
        bl_error err = { 0 };
        if (q && bl_slot_post(&j->pin, eval_start, q, free, &err))
            tui_status(t, 1, "pinned model: %s", err.msg);
    }
    changed |= collect_eval(t, &j->pin, 1);
    changed |= collect_sweep(t);
    changed |= collect_metrics(t);
    /* The answer to the newest slider value comes first: background jobs
     * (re)start only once its first fault map is on screen (collect runs
     * again when that result wakes the loop). */
    if (!j->eval_pending) {
        if (!bl_slot_busy(&j->sweep) && (j->sweep_dirty || j->pin_sweep_dirty)) {
            if (j->sweep_dirty) {
                j->sweep_dirty = 0;
                sweep_post(t, 0);
            } else {
                j->pin_sweep_dirty = 0;
                if (t->pin)
                    sweep_post(t, 1);
            }
            changed = 1;
        }
        if (j->metrics_dirty) {
            j->metrics_dirty = 0;
            metrics_post(t); /* supersedes a running one */
            changed = 1;
        }
    }
    changed |= tui_cluster_collect(t);
    char buf[128];
    progress_text(t, buf, sizeof buf);
    if (strcmp(buf, t->s.jobs_text)) {
        snprintf(t->s.jobs_text, sizeof t->s.jobs_text, "%s", buf);
        changed = 1;
    }
    return changed;
}

int tui_jobs_running(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    return j && (bl_slot_busy(&j->sweep) || bl_slot_busy(&j->metrics) ||
                 tui_cluster_running(t));
}

int tui_jobs_settled(bl_tui *t)
{
    bl_tui_jobs *j = t->jobs;
    return j && !bl_slot_busy(&j->eval) && !bl_slot_busy(&j->pin) && !bl_slot_busy(&j->sweep) &&
           !bl_slot_busy(&j->metrics) && !j->eval_pending && !j->pin_dirty && !j->sweep_dirty &&
           !j->pin_sweep_dirty && !j->metrics_dirty;
}

/* ------------------------------------------------------------ lifecycle */

int tui_jobs_new(bl_tui *t, bl_tui_jobs **out, bl_error *err)
{
    bl_tui_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    j->t = t;
    j->wake = t->wake[1];
    atomic_init(&j->interactive, 0);
    bl_slot_init(&j->eval, notify_eval, j);
    bl_slot_init(&j->pin, notify, j);
    bl_slot_init(&j->sweep, notify, j);
    bl_slot_init(&j->metrics, notify, j);
    bl_engine_opts eo = { 0, -1, 0 };
    int rc;
    if ((rc = bl_engine_new(t->model, &eo, &j->e, err)) ||
        (rc = bl_cache_new(j->e, t->model, t->inputs, &j->cache, err))) {
        tui_jobs_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

/* The pin changed (t->pin, t->pin_inputs already set): stop every job that
 * reads the old pinned model, then rebuild its engine and cache. */
void tui_jobs_pin_changed(bl_tui *t, bl_model *old, bl_inputs *old_in)
{
    (void)old;
    (void)old_in;
    bl_tui_jobs *j = t->jobs;
    bl_slot_free(&j->pin); /* cancels and joins */
    if (j->sweep_which == 1)
        bl_slot_free(&j->sweep);
    bl_cache_free(j->pcache);
    bl_engine_free(j->pe);
    j->pcache = NULL;
    j->pe = NULL;
    t->s.pin_curve.n = 0;
    t->s.acc.pin_valid = 0;
    if (t->pin) {
        bl_error err = { 0 };
        bl_engine_opts eo = { 0, -1, 0 };
        if (bl_engine_new(t->pin, &eo, &j->pe, &err) ||
            bl_cache_new(j->pe, t->pin, t->pin_inputs, &j->pcache, &err))
            tui_status(t, 1, "pinned model: %s", err.msg);
    }
    j->pin_sweep_dirty = t->pin != NULL;
    tui_jobs_collect(t);
}

void tui_jobs_free(bl_tui_jobs *j)
{
    if (!j)
        return;
    bl_slot_free(&j->eval);
    bl_slot_free(&j->pin);
    bl_slot_free(&j->sweep);
    bl_slot_free(&j->metrics);
    tui_cluster_free(j->t);
    bl_cache_free(j->pcache);
    bl_engine_free(j->pe);
    bl_cache_free(j->cache);
    bl_engine_free(j->e);
    free(j);
}
