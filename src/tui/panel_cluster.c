/* panel_cluster.c - the cluster view: exemplar clustering of the first n
 * images of the workbench's dataset, as a background job.
 *
 * The work is the core's cluster job (jobs/cluster_job.h): a CPU run,
 * published at once as a partial result (f(S) against k, evaluations/s,
 * the exemplars), then, for the timing comparison, the same run on an
 * OpenCL device ("auto": the first one, if any).  Requests go to a slot
 * (jobs/slot.h): the newest request supersedes the running one.  The
 * job's listener wakes the main loop after each result is published; the
 * panel only turns results into its display state (exemplar images
 * included) and draws f(S) against k as a line plot, the timings, and the
 * first exemplars as small braille images (a dot per pixel above a
 * threshold). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "jobs/cluster_job.h"
#include "jobs/slot.h"
#include "tui/plot.h"
#include "tui/tui.h"

/* ----------------------------------------------------------------- job */

typedef struct tui_cluster_job {
    bl_slot slot;
    int wake;              /* the main loop's self-pipe */
} tui_cluster_job;

/* The listener: runs on the job's thread after the event is published. */
static void notify(void *ctx, bl_job *job, bl_job_event ev)
{
    (void)job;
    (void)ev;
    tui_jobs_wake(((tui_cluster_job *)ctx)->wake);
}

/* A parked request outlives the caller's tui_cluster_req: it keeps its own
 * device string. */
typedef struct cluster_req {
    bl_cluster_job_cfg cfg;
    char device[sizeof ((tui_cluster_req *)0)->device];
} cluster_req;

static int start_fn(void *req, bl_job_notify_fn nf, void *ctx, bl_job **out, bl_error *err)
{
    cluster_req *q = req;
    q->cfg.device = q->device;
    bl_job_opts o = { .kind = "cluster", .notify = nf, .notify_ctx = ctx,
                      .on_start = tui_job_lower_priority };
    o.own.p[0] = q;
    o.own.free[0] = free;
    return bl_cluster_job_start(&q->cfg, &o, out, err); /* on failure the slot frees q */
}

/* The request as the core's configuration. */
static cluster_req *make_req(const bl_tui *t, const tui_cluster_req *req)
{
    cluster_req *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    int prec = bl_precision_parse(req->precision);
    int opt = bl_optimizer_parse(req->optimizer);
    q->cfg = (bl_cluster_job_cfg){ .data = t->data, .n = (size_t)(req->n > 0 ? req->n : 0),
                                   .k = (size_t)(req->k > 0 ? req->k : 0),
                                   .optimizer = opt < 0 ? BL_OPT_LAZY_GREEDY : (bl_optimizer)opt,
                                   .precision = prec < 0 ? BL_PREC_FP32 : (bl_precision)prec,
                                   .seed = req->seed, .settings = t->settings };
    snprintf(q->device, sizeof q->device, "%s", req->device[0] ? req->device : "auto");
    return q;
}

/* Exemplar images: grey (mean over channels), 28x28 from 784 flat features. */
static void exemplar_images(tui_cluster *o, const bl_dataset *ds, const double *x, size_t n,
                            size_t d)
{
    uint32_t ih, iw, ic;
    bl_dataset_shape(ds, &ih, &iw, &ic);
    if (ih == 1 && ic == 1) {
        uint32_t s = (uint32_t)lround(sqrt((double)iw));
        if (s * s == iw)
            ih = iw = s;
    }
    o->ih = o->iw = o->nimg = 0;
    if (!ic || (size_t)ih * iw > TUI_CL_PIX || (size_t)ih * iw * ic != d || ih <= 1)
        return;
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

/* A (partial or final) job result into the display state. */
static void show(bl_tui *t, const bl_cluster_job_result *r)
{
    tui_cluster *o = &t->s.cl;
    const bl_cluster_result *c = &r->cpu.r;
    if (r->cpu.state == BL_CLUSTER_RUN_DONE) {
        o->valid = 1;
        o->n = r->n;
        o->d = r->d;
        o->k = (int)(c->k < TUI_CL_K ? c->k : TUI_CL_K);
        for (int i = 0; i < o->k; i++) {
            o->f[i] = c->f_trace ? c->f_trace[i] : c->f;
            o->ex[i] = c->exemplars[i];
        }
        o->evals = c->evaluations;
        o->seconds = c->seconds;
        snprintf(o->cpu_name, sizeof o->cpu_name, "%s", r->cpu.device);
        if (t->data)
            exemplar_images(o, t->data, r->x, r->n, r->d);
    }
    switch (r->dev.state) {
    case BL_CLUSTER_RUN_NONE: o->dev_state = 0; break;
    case BL_CLUSTER_RUN_RUNNING: o->dev_state = 1; break;
    case BL_CLUSTER_RUN_DONE:
        o->dev_state = 2;
        o->dev_seconds = r->dev.r.seconds;
        o->dev_evals = r->dev.r.evaluations;
        o->dev_f = r->dev.r.f;
        snprintf(o->dev_name, sizeof o->dev_name, "%s", r->dev.device);
        break;
    case BL_CLUSTER_RUN_FAILED:
        o->dev_state = 3;
        snprintf(o->dev_name, sizeof o->dev_name, "%s",
                 !strcasecmp(o->req.device, "auto") ? "no OpenCL device" : r->dev.err.msg);
        break;
    }
}

static void clear_shown(tui_cluster *c)
{
    c->valid = 0;
    c->k = 0;
    c->dev_state = 0;
    c->nimg = 0;
}

void tui_cluster_request(bl_tui *t, const tui_cluster_req *req)
{
    t->s.cl.view = 1;
    t->s.cl.req = *req;
    if (!t->data) {
        tui_status(t, 1, "cluster: no dataset");
        return;
    }
    if (!t->cl_job) {
        t->cl_job = calloc(1, sizeof *t->cl_job);
        if (!t->cl_job) {
            tui_status(t, 1, "cluster: out of memory");
            return;
        }
        t->cl_job->wake = t->wake[1];
        bl_slot_init(&t->cl_job->slot, notify, t->cl_job);
    }
    cluster_req *q = make_req(t, req);
    if (!q) {
        tui_status(t, 1, "cluster: out of memory");
        return;
    }
    clear_shown(&t->s.cl);  /* the new request's results replace these */
    bl_error err = { 0 };
    if (bl_slot_post(&t->cl_job->slot, start_fn, q, free, &err))
        tui_status(t, 1, "cluster: %s", err.msg);
}

void tui_cluster_close(bl_tui *t)
{
    t->s.cl.view = 0;
    if (t->cl_job)
        bl_slot_cancel(&t->cl_job->slot);
}

int tui_cluster_collect(bl_tui *t)
{
    tui_cluster_job *cj = t->cl_job;
    if (!cj)
        return 0;
    int changed = 0;
    bl_cluster_job_result *p = bl_slot_take_partial(&cj->slot);
    if (p) {
        show(t, p);
        bl_cluster_job_result_free(p);
        changed = 1;
    }
    void *res = NULL;
    bl_error err = { 0 };
    switch (bl_slot_collect(&cj->slot, &res, &err)) {
    case BL_SLOT_IDLE:
    case BL_SLOT_RUNNING: break;
    case BL_SLOT_RESULT:
        show(t, res);
        bl_cluster_job_result_free(res);
        changed = 1;
        break;
    case BL_SLOT_ERROR: {
        /* the core's messages name the job already ("cluster: ...") */
        const char *m = err.msg;
        if (!strncmp(m, "cluster: ", 9))
            m += 9;
        tui_status(t, 1, "cluster: %s", m);
        changed = 1;
        break;
    }
    case BL_SLOT_CANCELED: changed = 1; break;
    }
    return changed;
}

int tui_cluster_running(const bl_tui *t) { return t->cl_job && bl_slot_busy(&t->cl_job->slot); }

double tui_cluster_progress(bl_tui *t)
{
    bl_job *j = t->cl_job ? bl_slot_job(&t->cl_job->slot) : NULL;
    return j ? bl_job_progress(j, NULL, 0) : 0;
}

void tui_cluster_free(bl_tui *t)
{
    if (t->cl_job) {
        bl_slot_free(&t->cl_job->slot); /* cancels and joins */
        free(t->cl_job);
        t->cl_job = NULL;
    }
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
        if (tui_cluster_running(t))
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
