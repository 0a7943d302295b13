/* panel_cluster.c - the cluster view: exemplar clustering (src/cluster) of
 * the first n images of the workbench's dataset, as a background job.
 *
 * The job runs bl_cluster_run on the CPU backend and publishes that result
 * at once (f(S) against k, evaluations/s, the exemplars' images); then, for
 * the timing comparison, the same run on an OpenCL device ("auto": the
 * first one, if any).  Newest request wins: a new request cancels the
 * running job and starts once it has stopped.  The panel draws f(S)
 * against k as a line plot, the timings, and the first exemplars as small
 * braille images (a dot per pixel above a threshold). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/env.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"
#include "jobs/job.h"
#include "tui/plot.h"
#include "tui/tui.h"

/* ----------------------------------------------------------------- job */

typedef struct tui_cluster_job {
    bl_job *job;
    const bl_dataset *ds;      /* the workbench's, read only, outlives the job */
    tui_cluster_req req;
    int wake;
    pthread_mutex_t mu;
    int published;             /* cpu result (in out) not yet collected */
    int dev_published;
    tui_cluster out;           /* written under mu */
} tui_cluster_job;

typedef struct prog_ctx {
    bl_job *job;
    tui_cluster_job *cj;
    double base, span;
} prog_ctx;

static int on_prog(void *ctx, double frac, double f)
{
    prog_ctx *p = ctx;
    bl_job_report(p->job, p->base + p->span * frac, "cluster f(S) %.4g", f);
    return bl_job_cancel_requested(p->job);
}

static int run_on(tui_cluster_job *cj, bl_job *job, const char *device, const bl_cluster_data *data,
                  double base, double span, bl_cluster_result *res, char *name, size_t nname,
                  bl_error *err)
{
    int prec = bl_precision_parse(cj->req.precision);
    bl_cluster_opts o = { .k = (size_t)cj->req.k, .seed = cj->req.seed };
    int opt = bl_optimizer_parse(cj->req.optimizer);
    o.optimizer = opt < 0 ? BL_OPT_LAZY_GREEDY : (bl_optimizer)opt;
    prog_ctx pc = { job, cj, base, span };
    o.on_progress = on_prog;
    o.ctx = &pc;
    bl_cluster_backend *b = NULL;
    int rc = bl_cluster_backend_new(device, data, prec < 0 ? BL_PREC_FP32 : (bl_precision)prec,
                                    bl_cluster_slots_needed(&o), 0, cli_settings(), &b, err);
    if (!rc) {
        snprintf(name, nname, "%s", b->device);
        rc = bl_cluster_run(b, &o, res, err);
    }
    bl_cluster_backend_free(b);
    return rc;
}

static int cluster_fn(bl_job *job, void *arg, bl_error *err)
{
    tui_job_lower_priority();
    tui_cluster_job *cj = arg;
    double *x = NULL;
    size_t n = 0, d = 0;
    bl_job_report(job, 0, "cluster: features");
    int rc = bl_cluster_features(cj->ds, (size_t)cj->req.n, &x, &n, &d, err);
    if (!rc && (size_t)cj->req.k > n)
        rc = bl_error_set(err, BL_EINVAL, "k = %d exceeds the %zu images", cj->req.k, n);
    if (rc) {
        free(x);
        tui_jobs_wake(cj->wake);
        return rc;
    }
    bl_cluster_data data = { n, d, x };
    int want_dev = strcasecmp(cj->req.device, "cpu") != 0;
    bl_cluster_result r = { 0 };
    char name[96] = "";
    rc = run_on(cj, job, "cpu", &data, 0, want_dev ? 0.5 : 1, &r, name, sizeof name, err);
    if (!rc) {
        tui_cluster *o = &cj->out;
        pthread_mutex_lock(&cj->mu);
        o->valid = 1;
        o->n = n;
        o->d = d;
        o->k = (int)(r.k < TUI_CL_K ? r.k : TUI_CL_K);
        for (int i = 0; i < o->k; i++) {
            o->f[i] = r.f_trace ? r.f_trace[i] : r.f;
            o->ex[i] = r.exemplars[i];
        }
        o->evals = r.evaluations;
        o->seconds = r.seconds;
        snprintf(o->cpu_name, sizeof o->cpu_name, "%s", name);
        /* exemplar images: grey (mean over channels); 28x28 from 784 flat features */
        uint32_t ih, iw, ic;
        bl_dataset_shape(cj->ds, &ih, &iw, &ic);
        if (ih == 1 && ic == 1) {
            uint32_t s = (uint32_t)lround(sqrt((double)iw));
            if (s * s == iw)
                ih = iw = s;
        }
        o->ih = o->iw = o->nimg = 0;
        if (ic && (size_t)ih * iw <= TUI_CL_PIX && (size_t)ih * iw * ic == d && ih > 1) {
            double lo = 0, hi = 1;
            for (size_t i = 0; i < n * d; i++) {
                lo = x[i] < lo ? x[i] : lo;
                hi = x[i] > hi ? x[i] : hi;
            }
            o->ih = (int)ih;
            o->iw = (int)iw;
            for (int e = 0; e < o->k && e < TUI_CL_IMGS; e++) {
                const double *row = x + (size_t)o->ex[e] * d;
                for (size_t p = 0; p < (size_t)ih * iw; p++) {
                    double s = 0;
                    for (uint32_t c = 0; c < ic; c++)
                        s += row[p * ic + c];
                    o->img[e][p] = (float)((s / ic - lo) / (hi - lo));
                }
                o->nimg = e + 1;
            }
        }
        o->dev_state = want_dev ? 1 : 0;
        cj->published = 1;
        pthread_mutex_unlock(&cj->mu);
        tui_jobs_wake(cj->wake);
    }
    bl_cluster_result_free(&r);
    if (!rc && want_dev) {
        const char *dev = strcasecmp(cj->req.device, "auto") ? cj->req.device : "opencl";
        bl_error derr = { 0 };
        int drc = run_on(cj, job, dev, &data, 0.5, 0.5, &r, name, sizeof name, &derr);
        pthread_mutex_lock(&cj->mu);
        if (drc == BL_ECANCELED) {
            rc = drc;
            *err = derr;
        } else if (drc) {
            cj->out.dev_state = 3;
            snprintf(cj->out.dev_name, sizeof cj->out.dev_name, "%s",
                     !strcasecmp(cj->req.device, "auto") ? "no OpenCL device" : derr.msg);
        } else {
            cj->out.dev_state = 2;
            cj->out.dev_seconds = r.seconds;
            cj->out.dev_evals = r.evaluations;
            cj->out.dev_f = r.f;
            snprintf(cj->out.dev_name, sizeof cj->out.dev_name, "%s", name);
        }
        cj->dev_published = 1;
        pthread_mutex_unlock(&cj->mu);
        bl_cluster_result_free(&r);
    }
    free(x);
    tui_jobs_wake(cj->wake);
    return rc;
}

static void cj_free(void *p)
{
    tui_cluster_job *cj = p;
    pthread_mutex_destroy(&cj->mu);
    free(cj);
}

static void start(bl_tui *t)
{
    tui_cluster_job *cj = calloc(1, sizeof *cj);
    if (!cj)
        return;
    pthread_mutex_init(&cj->mu, NULL);
    cj->ds = t->data;
    cj->req = t->s.cl.req;
    cj->wake = t->wake[1];
    t->s.cl.valid = 0;
    t->s.cl.k = 0;
    t->s.cl.dev_state = 0;
    t->s.cl.nimg = 0;
    bl_error err = { 0 };
    if (bl_job_start("cluster", cluster_fn, cj, cj_free, &cj->job, &err)) {
        tui_status(t, 1, "cluster: %s", err.msg);
        return;
    }
    t->cl_job = cj;
}

void tui_cluster_request(bl_tui *t, const tui_cluster_req *req)
{
    t->s.cl.view = 1;
    t->s.cl.req = *req;
    if (!t->data) {
        tui_status(t, 1, "cluster: no dataset");
        return;
    }
    if (t->cl_job) {
        bl_job_cancel(t->cl_job->job);
        t->cl_pending = 1;
        tui_cluster_collect(t);
        return;
    }
    start(t);
}

void tui_cluster_close(bl_tui *t)
{
    t->s.cl.view = 0;
    t->cl_pending = 0;
    if (t->cl_job)
        bl_job_cancel(t->cl_job->job);
}

static void take(tui_cluster *dst, tui_cluster_job *cj, int dev)
{
    tui_cluster *o = &cj->out;
    if (!dev) {
        dst->valid = o->valid;
        dst->n = o->n;
        dst->d = o->d;
        dst->k = o->k;
        memcpy(dst->f, o->f, sizeof o->f);
        memcpy(dst->ex, o->ex, sizeof o->ex);
        dst->evals = o->evals;
        dst->seconds = o->seconds;
        memcpy(dst->cpu_name, o->cpu_name, sizeof o->cpu_name);
        dst->ih = o->ih;
        dst->iw = o->iw;
        dst->nimg = o->nimg;
        memcpy(dst->img, o->img, sizeof o->img);
    }
    dst->dev_state = o->dev_state;
    dst->dev_seconds = o->dev_seconds;
    dst->dev_f = o->dev_f;
    dst->dev_evals = o->dev_evals;
    memcpy(dst->dev_name, o->dev_name, sizeof o->dev_name);
}

int tui_cluster_collect(bl_tui *t)
{
    tui_cluster_job *cj = t->cl_job;
    int changed = 0;
    if (!cj) {
        if (t->cl_pending && t->s.cl.view) {
            t->cl_pending = 0;
            start(t);
            return 1;
        }
        return 0;
    }
    if (!t->cl_pending) {
        pthread_mutex_lock(&cj->mu);
        if (cj->published) {
            take(&t->s.cl, cj, 0);
            cj->published = 0;
            changed = 1;
        }
        if (cj->dev_published) {
            take(&t->s.cl, cj, 1);
            cj->dev_published = 0;
            changed = 1;
        }
        pthread_mutex_unlock(&cj->mu);
    }
    if (bl_job_state_now(cj->job) != BL_JOB_RUNNING) {
        bl_error err = { 0 };
        int rc = bl_job_wait(cj->job, &err);
        if (rc && rc != BL_ECANCELED && !t->cl_pending)
            tui_status(t, 1, "cluster: %s", err.msg);
        bl_job_free(cj->job);   /* frees cj */
        t->cl_job = NULL;
        changed = 1;
        if (t->cl_pending && t->s.cl.view) {
            t->cl_pending = 0;
            start(t);
        }
    }
    return changed;
}

int tui_cluster_running(const bl_tui *t) { return t->cl_job != NULL; }

double tui_cluster_progress(bl_tui *t)
{
    return t->cl_job ? bl_job_progress(t->cl_job->job, NULL, 0) : 0;
}

void tui_cluster_free(bl_tui *t)
{
    if (t->cl_job) {
        bl_job_free(t->cl_job->job);
        t->cl_job = NULL;
    }
    t->cl_pending = 0;
}

/* --------------------------------------------------------------- panel */

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    const tui_cluster *c = &t->s.cl;
    char title[96];
    snprintf(title, sizeof title, "Clustering  k=%d %s  (Esc: back)", c->req.k, c->req.optimizer);
    bl_rect in = tui_panel_title(g, r, title, focused);
    if (in.h < 1)
        return;
    int y = in.y, x0 = in.x + 1, w = in.w - 1;
    if (!c->valid) {
        if (t->cl_job)
            bl_grid_printf(g, x0, y, w, ST_DIM, "f(S) ... clustering %d images (%.0f%%)",
                           c->req.n, tui_cluster_progress(t) * 100);
        else
            bl_grid_text(g, x0, y, w, ST_DIM, "f(S) -: no result (see the status line)");
        return;
    }
    double eps = c->seconds > 0 ? (double)c->evals / c->seconds : 0;
    int x = x0;
    x += bl_grid_text(g, x, y, w, ST_NORMAL, "f(S) ");
    x += bl_grid_printf(g, x, y, x0 + w - x, ST_GOOD, "%.4g", c->k ? c->f[c->k - 1] : 0.0);
    bl_grid_printf(g, x, y, x0 + w - x, ST_NORMAL, "  k %d  n %zu  %.3g eval/s", c->k, c->n, eps);
    if (++y >= in.y + in.h)
        return;
    /* timing comparison */
    x = x0;
    x += bl_grid_printf(g, x, y, w, ST_NORMAL, "cpu %.3fs", c->seconds);
    if (c->dev_state == 1)
        bl_grid_text(g, x, y, x0 + w - x, ST_DIM, " | device: running...");
    else if (c->dev_state == 3)
        bl_grid_printf(g, x, y, x0 + w - x, ST_DIM, " | %s", c->dev_name);
    else if (c->dev_state == 2) {
        double de = c->dev_seconds > 0 ? (double)c->dev_evals / c->dev_seconds : 0;
        char dn[16];   /* the device's first word ("NVIDIA", "pthread-skylake-...") */
        snprintf(dn, sizeof dn, "%.*s", (int)strcspn(c->dev_name, " ("), c->dev_name);
        bl_grid_printf(g, x, y, x0 + w - x, ST_ACCENT, " | %s %.3fs %.3g/s x%.2g", dn,
                       c->dev_seconds, de, c->dev_seconds > 0 ? c->seconds / c->dev_seconds : 0.0);
    }
    y++;
    int rows = in.y + in.h - y;
    if (rows < 1)
        return;
    /* exemplars: as many as fit, as large as fit (28x28 -> 14x7 cells at step 1) */
    int imgrows = 0, step = 0;
    if (c->nimg && c->ih && c->iw) {
        int plot_min = rows >= 12 ? 4 : 0;
        for (int s = 1; s <= 8; s++) {
            int ch = (c->ih / s + 3) / 4, cw = (c->iw / s + 1) / 2;
            if (ch + 1 <= rows - plot_min && cw + 1 <= w) {
                step = s;
                imgrows = ch + 1;
                break;
            }
        }
    }
    int plot_rows = rows - imgrows;
    if (plot_rows >= 3 && c->k >= 1) {
        double xs[TUI_CL_K], ys[TUI_CL_K], ymax = 0;
        for (int i = 0; i < c->k; i++) {
            xs[i] = i + 1;
            ys[i] = c->f[i];
            ymax = ys[i] > ymax ? ys[i] : ymax;
        }
        bl_rect pr = { in.x + 8, y, in.w - 9, plot_rows - 1 };
        bl_plot_opts o = { 1, c->k > 1 ? c->k : 2, 0, ymax > 0 ? ymax * 1.05 : 1, 0,
                           t->s.ascii ? BL_PLOT_ASCII : BL_PLOT_BRAILLE, NAN, ST_MARKER };
        bl_plot_series se = { xs, ys, NULL, NULL, (size_t)c->k, ST_CURVE, ST_BAND };
        bl_plot_lines(g, pr, &o, &se, 1);
        bl_grid_printf(g, in.x, pr.y, 7, ST_DIM, "%7.3g", ymax * 1.05);
        bl_grid_text(g, in.x, pr.y + pr.h - 1, 7, ST_DIM, "      0");
        bl_grid_printf(g, pr.x, pr.y + pr.h, pr.w, ST_DIM, "f(S) against k = 1..%d", c->k);
        y += plot_rows;
    } else if (plot_rows > 0) {
        y += plot_rows;
    }
    if (!step)
        return;
    int cw = (c->iw / step + 1) / 2;
    int ix = x0;
    for (int e = 0; e < c->nimg; e++) {
        if (ix + cw > x0 + w)
            break;
        tui_braille_image(g, ix, y, c->img[e], c->ih, c->iw, step, 0.35, t->s.ascii, ST_NORMAL);
        bl_grid_printf(g, ix, y + imgrows - 1, cw + 1, ST_DIM, "#%u", c->ex[e] + 1);
        ix += cw + 1;
    }
}

static int key(bl_tui *t, int k, int is_char)
{
    (void)t;
    (void)k;
    (void)is_char;
    return 0;
}

const bl_panel tui_panel_cluster = { "cluster", draw, key,
                                     "cluster: f(S) against k, exemplars; Esc returns", NULL };
