/* metrics_report.c - the one metrics call (metrics_report.h). */
#include "study/metrics_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/progress.h"
#include "study/evaluate.h"

#define MAX_HIDDEN 64

void bl_metrics_result_free(bl_metrics_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nlayers; i++) {
        bl_margin_summary_free(&r->layers[i].margins);
        bl_margin_summary_free(&r->layers[i].faulty);
        bl_importance_free(&r->layers[i].importance);
    }
    free(r->layers);
    free(r);
}

int bl_metrics_check(const bl_metrics_cfg *c, bl_error *err)
{
    int rc = bl_metrics_check_params(c, err);
    if (rc)
        return rc;
    if (!c->model || !c->inputs)
        return bl_error_set(err, BL_EINVAL, "metrics: a model and inputs are required");
    if ((c->what & (BL_MET_MEASURED | BL_MET_FAULTY_MARGINS)) && !c->reg)
        return bl_error_set(err, BL_EINVAL, "metrics: fault injection needs a fault registry");
    if (bl_inputs_count(c->inputs) == 0)
        return bl_error_set(err, BL_EINVAL, "no inputs");
    bl_hidden h;
    if (c->layer && bl_hidden_find(c->model, c->layer, &h) < 0)
        return bl_error_set(err, BL_ENOTFOUND, "no hidden layer '%s' (a weight layer followed "
                            "by a threshold; see betlab info)", c->layer);
    if (!c->layer && bl_hidden_layers(c->model, NULL, 0) == 0)
        return bl_error_set(err, BL_EINVAL, "the model has no hidden (BN + sign) layers");
    return 0;
}

int bl_metrics_check_params(const bl_metrics_cfg *c, bl_error *err)
{
    if (!c)
        return bl_error_set(err, BL_EINVAL, "metrics: no configuration");
    if (!c->what || (c->what & ~(unsigned)(BL_MET_ALL | BL_MET_FAULTY_MARGINS)))
        return bl_error_set(err, BL_EINVAL, "metrics: nothing (or something unknown) to compute");
    if (!(c->ber >= 0.0 && c->ber <= 1.0))
        return bl_error_set(err, BL_ERANGE, "BER %g outside [0, 1]", c->ber);
    if (c->reps < 0 || c->reps > BL_REPS_MAX)
        return bl_error_set(err, BL_ERANGE, "reps %d outside 1..%d", c->reps, BL_REPS_MAX);
    if (c->threads < 0 || c->threads > BL_THREADS_MAX)
        return bl_error_set(err, BL_ERANGE, "threads %d outside 1..%d (0: all CPUs)",
                            c->threads, BL_THREADS_MAX);
    if (c->importance_method < BL_IMP_AUTO || c->importance_method > BL_IMP_BRUTE)
        return bl_error_set(err, BL_EINVAL, "importance method must be auto, fast or brute");
    if (c->max_bins > 256)
        return bl_error_set(err, BL_ERANGE, "histogram bins %u outside 1..256", c->max_bins);
    if ((c->what & BL_MET_FAULTY_MARGINS) && !c->fault)
        return bl_error_set(err, BL_EINVAL, "metrics: margins under faults need a fault spec");
    return 0;
}

/* Progress through the hooks (may be NULL). */
#define report(h, f, ...) \
    bl_progress_say((h) ? (h)->progress : NULL, (h) ? (h)->ctx : NULL, (f), __VA_ARGS__)

static int stop(const bl_metrics_hooks *h, bl_error *err)
{
    if (h && h->cancelled && h->cancelled(h->ctx))
        return bl_error_set(err, BL_ECANCELED, "metrics cancelled");
    return 0;
}

/* Margins of the hidden layer under the spec's faults (map `seed`), in the
 * clean histogram's bins. */
static int faulty_margins(const bl_metrics_cfg *c, bl_engine *e, bl_metrics_layer *L,
                          bl_error *err)
{
    bl_fault_spec *spec = NULL;
    bl_model *faulty = NULL;
    int32_t *pre = NULL;
    int rc = bl_fault_spec_parse(c->reg, c->fault, c->model, &spec, err);
    if (!rc)
        rc = bl_model_clone(c->model, &faulty, err);
    if (!rc)
        rc = bl_fault_apply(spec, c->model, faulty, c->seed, NULL, err);
    if (!rc)
        rc = bl_hidden_preacts(e, faulty, c->inputs, &L->h, &pre, err);
    if (!rc)
        rc = bl_margin_summarize_bins(faulty, &L->h, pre, bl_inputs_count(c->inputs),
                                      L->margins.bin_width, L->margins.nbins, &L->faulty, err);
    L->have_faulty = rc == 0;
    free(pre);
    bl_model_free(faulty);
    bl_fault_spec_free(spec);
    return rc;
}

/* Everything asked for about one hidden layer. */
static int one_layer(const bl_metrics_cfg *c, const bl_metrics_hooks *hooks, bl_engine *e,
                     bl_metrics_layer *L, double f0, double span, bl_error *err)
{
    const bl_model *m = c->model;
    size_t count = bl_inputs_count(c->inputs);
    int reps = c->reps > 0 ? c->reps : 10;
    L->neurons = bl_shape_size(m->layers[L->h.src].out);
    L->fan_in = m->layers[L->h.weight].cols;
    L->real_input = m->layers[L->h.weight].real_input;
    L->analytic = NAN;
    int32_t *pre = NULL;
    int rc = 0;
    unsigned need_pre = BL_MET_MARGINS | BL_MET_ANALYTIC | BL_MET_MEASURED | BL_MET_FAULTY_MARGINS;
    if (c->what & need_pre) {
        report(hooks, f0, "margins %s", L->h.name);
        if ((rc = bl_hidden_preacts(e, m, c->inputs, &L->h, &pre, err)))
            goto out;
    }
    if (c->what & (BL_MET_MARGINS | BL_MET_FAULTY_MARGINS)) {
        rc = bl_margin_summarize_bins(m, &L->h, pre, count, 0, c->max_bins, &L->margins, err);
        if (rc)
            goto out;
        L->have_margins = 1;
    }
    if ((c->what & BL_MET_FAULTY_MARGINS) && ((rc = stop(hooks, err)) ||
                                               (rc = faulty_margins(c, e, L, err))))
        goto out;
    if (c->what & BL_MET_ANALYTIC) {
        report(hooks, f0 + span * 0.3, "flip fraction %s", L->h.name);
        double t0 = bl_now();
        bl_error aerr = { 0 };
        int arc = bl_flip_fraction_analytic(m, &L->h, pre, count, c->ber, &L->analytic, &aerr);
        if (arc && arc != BL_EUNSUPPORTED) {
            *err = aerr;
            rc = arc;
            goto out;
        }
        if (arc) {
            L->analytic = NAN;
            snprintf(L->analytic_note, sizeof L->analytic_note, "%s", aerr.msg);
        }
        L->have_analytic = 1;
        L->analytic_seconds = bl_now() - t0;
    }
    if (c->what & BL_MET_MEASURED) {
        if ((rc = stop(hooks, err)))
            goto out;
        double t0 = bl_now();
        if ((rc = bl_flip_fraction_measured(e, m, c->inputs, &L->h, c->reg, c->ber, c->seed, reps,
                                            pre, &L->measured, err)))
            goto out;
        L->have_measured = 1;
        L->measured_seconds = bl_now() - t0;
    }
    if (c->what & BL_MET_IMPORTANCE) {
        if ((rc = stop(hooks, err)))
            goto out;
        report(hooks, f0 + span * 0.6, "importance %s", L->h.name);
        if ((rc = bl_importance_layer(e, m, c->inputs, &L->h, c->importance_method, c->threads,
                                      &L->importance, err)))
            goto out;
        L->have_importance = 1;
    }
out:
    free(pre);
    return rc;
}

int bl_metrics_run(const bl_metrics_cfg *c, const bl_metrics_hooks *hooks,
                   bl_metrics_result **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_metrics_check(c, err);
    if (rc)
        return rc;
    double t0 = bl_now();
    bl_hidden hs[MAX_HIDDEN];
    int nl;
    if (c->layer) {
        bl_hidden_find(c->model, c->layer, &hs[0]);
        nl = 1;
    } else {
        nl = bl_hidden_layers(c->model, hs, MAX_HIDDEN);
        if (nl > MAX_HIDDEN)
            nl = MAX_HIDDEN;
    }
    bl_metrics_result *r = calloc(1, sizeof *r);
    if (!r || !(r->layers = calloc((size_t)nl, sizeof *r->layers))) {
        free(r);
        return bl_error_set(err, BL_ENOMEM, "metrics: out of memory");
    }
    r->images = bl_inputs_count(c->inputs);
    r->ber = c->ber;
    r->reps = c->reps > 0 ? c->reps : 10;
    r->seed = c->seed;
    r->what = c->what;
    bl_engine *own = NULL, *e = c->engine;
    if (!e) {
        bl_engine_opts o = { .threads = c->threads, .simd = -1 };
        rc = bl_engine_new(c->model, &o, &own, err);
        e = own;
    }
    for (int i = 0; !rc && i < nl; i++) {
        r->layers[i].h = hs[i];
        r->nlayers = i + 1;
        rc = stop(hooks, err);
        if (!rc)
            rc = one_layer(c, hooks, e, &r->layers[i], (double)i / nl, 1.0 / nl, err);
    }
    bl_engine_free(own);
    r->seconds = bl_now() - t0;
    if (rc) {
        bl_metrics_result_free(r);
        return rc;
    }
    report(hooks, 1.0, "done");
    *out = r;
    return 0;
}
