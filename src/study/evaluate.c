/* evaluate.c - the one faulty evaluator (evaluate.h). */
#include "study/evaluate.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/progress.h"
#include "study/stats.h"

const char *bl_ci_method_name(bl_ci_method m)
{
    return m == BL_CI_STUDENT_MAPS ? "Student-t over maps" : "Wilson over images";
}

void bl_evaluate_result_free(bl_evaluate_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrows; i++) {
        free(r->rows[i].acc);
        free(r->rows[i].correct);
    }
    free(r->rows);
    free(r->fault);
    free(r);
}

static int has_spec(const bl_evaluate_cfg *c) { return c->fault != NULL; }

/* Repetitions per row: [min, max] (equal without the stopping rule). */
static void bounds(const bl_evaluate_cfg *c, int *minr, int *maxr)
{
    if (!has_spec(c)) {
        *minr = *maxr = 1; /* the clean model or one saved map */
    } else if (c->ci_width > 0) {
        *minr = c->min_reps > 0 ? c->min_reps : 3;
        *maxr = c->max_reps > 0 ? c->max_reps : 100;
        if (*minr > *maxr)
            *minr = *maxr;
    } else {
        *minr = *maxr = c->reps > 0 ? c->reps : 1;
    }
}

int bl_evaluate_check_params(const bl_evaluate_cfg *c, bl_error *err)
{
    if (!c)
        return bl_error_set(err, BL_EINVAL, "evaluate: no configuration");
    if (c->fault && c->map)
        return bl_error_set(err, BL_EINVAL, "a fault spec and a saved fault map exclude each "
                            "other");
    if (c->nbers && !c->fault)
        return bl_error_set(err, BL_EINVAL, "a BER list needs a fault spec (its rates are "
                            "set per BER)");
    if (!c->bers && c->nbers)
        return bl_error_set(err, BL_EINVAL, "no BER values");
    for (size_t i = 0; i < c->nbers; i++)
        if (!(c->bers[i] >= 0.0 && c->bers[i] <= 1.0))
            return bl_error_set(err, BL_ERANGE, "BER %g outside [0, 1]", c->bers[i]);
    if (c->reps < 0 || c->reps > BL_REPS_MAX)
        return bl_error_set(err, BL_ERANGE, "reps %d outside 1..%d", c->reps, BL_REPS_MAX);
    if (c->min_reps < 0 || c->min_reps > BL_REPS_MAX)
        return bl_error_set(err, BL_ERANGE, "min_reps %d outside 1..%d", c->min_reps,
                            BL_REPS_MAX);
    if (c->max_reps < 0 || c->max_reps > BL_REPS_MAX)
        return bl_error_set(err, BL_ERANGE, "max_reps %d outside 1..%d", c->max_reps,
                            BL_REPS_MAX);
    if (!(c->ci_width >= 0.0 && c->ci_width <= 1.0))
        return bl_error_set(err, BL_ERANGE, "ci_width (CI half-width) %g outside (0, 1]",
                            c->ci_width);
    if (c->ci_width > 0 && c->reps > 0)
        return bl_error_set(err, BL_EINVAL, "reps and ci_width exclude each other (fixed "
                            "repetitions or a stopping rule)");
    if (!(c->ci_width > 0) && (c->min_reps || c->max_reps))
        return bl_error_set(err, BL_EINVAL, "min_reps and max_reps go with ci_width");
    if ((c->reps > 1 || c->ci_width > 0) && !c->fault)
        return bl_error_set(err, BL_EINVAL, "repetitions and ci_width need a fault spec "
                            "(the clean model and a saved map are one evaluation)");
    if (c->threads < 0 || c->threads > BL_THREADS_MAX)
        return bl_error_set(err, BL_ERANGE, "threads %d outside 1..%d (0: all CPUs)",
                            c->threads, BL_THREADS_MAX);
    if (c->timing_repeats < 0 || c->timing_repeats > BL_TIMING_REPEATS_MAX)
        return bl_error_set(err, BL_ERANGE, "timing repeats %d outside 1..%d",
                            c->timing_repeats, BL_TIMING_REPEATS_MAX);
    return 0;
}

int bl_evaluate_check(const bl_evaluate_cfg *c, bl_error *err)
{
    int rc = bl_evaluate_check_params(c, err);
    if (rc)
        return rc;
    if (!c->model || !c->inputs)
        return bl_error_set(err, BL_EINVAL, "evaluate: a model and inputs are required");
    if (c->fault && !c->reg)
        return bl_error_set(err, BL_EINVAL, "evaluate: a fault spec needs a fault registry");
    if (!bl_inputs_labels(c->inputs))
        return bl_error_set(err, BL_EINVAL, "the inputs have no labels: cannot measure "
                            "accuracy");
    if (bl_inputs_count(c->inputs) == 0)
        return bl_error_set(err, BL_EINVAL, "no inputs to evaluate");
    return 0;
}

/* Progress through the hooks (may be NULL). */
#define report(h, f, ...) \
    bl_progress_say((h) ? (h)->progress : NULL, (h) ? (h)->ctx : NULL, (f), __VA_ARGS__)

void bl_evaluate_row_finish(bl_evaluate_row *row, size_t images)
{
    bl_ci ci;
    if (row->reps == 1) {
        bl_ci_wilson(row->correct[0], images, 0.95, &ci);
        row->ci_method = BL_CI_WILSON_IMAGES;
    } else {
        bl_ci_student(row->acc, (size_t)row->reps, 0.95, 0.0, 1.0, &ci);
        row->ci_method = BL_CI_STUDENT_MAPS;
    }
    row->accuracy = row->reps == 1 ? row->acc[0] : ci.mean;
    row->ci_low = ci.low;
    row->ci_high = ci.high;
    row->half = ci.half;
}

void bl_pred_rows_keep(void *ctx, size_t row, int rep, const int32_t *pred, size_t n)
{
    (void)row;
    (void)rep;
    bl_pred_rows *p = ctx;
    if (p->oom)
        return;
    if ((p->rows + 1) * n > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : n;
        int64_t *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->oom = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        p->v[p->rows * n + i] = pred[i];
    p->rows++;
    p->n = n;
}

void bl_pred_rows_free(bl_pred_rows *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* State of one run, so the per-map step stays a small function. */
typedef struct run {
    const bl_evaluate_cfg *cfg;
    const bl_evaluate_hooks *hooks;
    bl_evaluate_result *r;
    bl_fault_spec *spec;
    bl_engine *e;
    bl_cache *cache;
    bl_model *faulty;
    int32_t *pred;
    int32_t *clean;         /* the clean classes (only with a predictions
                               output: maps that change nothing)         */
    double *rates;
    int act;                /* activation faults in this row            */
} run;

static uint64_t count_correct(const run *R)
{
    size_t n = bl_inputs_count(R->cfg->inputs);
    const int32_t *labels = bl_inputs_labels(R->cfg->inputs);
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += R->pred[i] == labels[i];
    return k;
}

/* One fault map (repetition rep of the row's rates, or the saved map):
 * apply, arm activation faults, predict, count. */
static int eval_map(run *R, bl_evaluate_row *row, int rep, bl_error *err)
{
    const bl_evaluate_cfg *cfg = R->cfg;
    uint64_t seed = cfg->seed + (uint64_t)rep;
    double t1 = bl_now();
    uint64_t changed = 0;
    int rc;
    if (cfg->map) {
        rc = bl_fault_map_apply(cfg->map, cfg->model, R->faulty, err);
        if (rc && cfg->map_name)
            bl_error_prefix(err, "%s", cfg->map_name);
        changed = bl_fault_map_bits(cfg->map);
    } else {
        bl_fault_stats st;
        memset(&st, 0, sizeof st);
        rc = bl_fault_apply(R->spec, cfg->model, R->faulty, seed, &st, err);
        for (int t = 0; t < BL_FT_COUNT; t++)
            changed += st.changed[t];
    }
    double t2 = bl_now();
    R->r->fault_seconds += t2 - t1;
    if (rc)
        return rc;
    row->changed_bits += changed;
    uint64_t correct = R->r->clean_correct;
    if (R->act && (rc = bl_engine_set_activation_faults(R->e, R->rates, seed, err)))
        return rc;
    if (changed || R->act) {
        if ((rc = bl_engine_predict_cached(R->e, R->cache, R->faulty, R->pred, err)))
            return rc;
        correct = count_correct(R);
    }
    R->r->eval_seconds += bl_now() - t2;
    R->r->maps++;
    size_t n = bl_inputs_count(cfg->inputs);
    if (cfg->predictions)
        cfg->predictions(cfg->predictions_ctx, (size_t)(row - R->r->rows), rep,
                         changed || R->act ? R->pred : R->clean, n);
    row->correct[rep] = correct;
    row->acc[rep] = (double)correct / (double)n;
    row->reps = rep + 1;
    return 0;
}

/* One row: the spec at BER b (or its own rates), repetitions until the
 * fixed count or the stopping rule is met. */
static int eval_row(run *R, size_t b, size_t nrows, int minr, int maxr, bl_error *err)
{
    const bl_evaluate_cfg *cfg = R->cfg;
    const bl_evaluate_hooks *hooks = R->hooks;
    bl_evaluate_row *row = &R->r->rows[b];
    const bl_model *m = cfg->model;
    size_t n = bl_inputs_count(cfg->inputs);
    int rc;
    row->ber = cfg->nbers ? cfg->bers[b] : NAN;
    row->acc = malloc((size_t)maxr * sizeof *row->acc);
    row->correct = malloc((size_t)maxr * sizeof *row->correct);
    R->r->nrows = b + 1;
    if (!row->acc || !row->correct)
        return bl_error_set(err, BL_ENOMEM, "evaluate: out of memory");
    R->act = 0;
    if (R->spec) {
        if (cfg->nbers && (rc = bl_fault_spec_set_rate(R->spec, row->ber, err)))
            return rc;
        /* Activation faults happen inside the engine at inference time,
         * with the same coupled uniforms and the same seed + rep rule. */
        if ((rc = bl_fault_activation_rates(R->spec, m, R->rates, err)))
            return rc;
        for (uint32_t i = 0; i < m->nlayers; i++)
            R->act |= R->rates[i] > 0;
    }
    for (int rep = 0; rep < maxr; rep++) {
        if (hooks && hooks->cancelled && hooks->cancelled(hooks->ctx))
            return bl_error_set(err, BL_ECANCELED, "cancelled at BER %g, repetition %d",
                                cfg->nbers ? row->ber : -1.0, rep + 1);
        double frac = ((double)b + (double)rep / (double)maxr) / (double)nrows;
        if (cfg->nbers)
            report(hooks, frac, "BER %g: repetition %d", row->ber, rep + 1);
        else if (R->spec)
            report(hooks, frac, "repetition %d", rep + 1);
        if (!R->spec && !cfg->map) { /* the clean model: one "map", no change */
            row->correct[0] = R->r->clean_correct;
            row->acc[0] = R->r->clean_accuracy;
            row->reps = 1;
            if (cfg->predictions)
                cfg->predictions(cfg->predictions_ctx, b, 0, R->clean, n);
        } else if ((rc = eval_map(R, row, rep, err))) {
            return rc;
        }
        bl_evaluate_row_finish(row, n);
        if (hooks && hooks->on_map)
            hooks->on_map(hooks->ctx, b, row, R->r);
        if (cfg->ci_width > 0 && row->reps >= minr && row->half <= cfg->ci_width)
            break;
    }
    return 0;
}

/* Best of `repeats` full clean evaluations: the throughput figure. */
static int time_clean(run *R, bl_error *err)
{
    bl_eval_stats st, best = { 0 };
    for (int i = 0; i < R->cfg->timing_repeats; i++) {
        int rc = bl_engine_eval(R->e, R->cfg->model, R->cfg->inputs, &st, err);
        if (rc)
            return rc;
        if (i == 0 || st.seconds < best.seconds)
            best = st;
    }
    R->r->timing = best;
    return 0;
}

static int setup(run *R, bl_engine **own, bl_cache **own_cache, bl_error *err)
{
    const bl_evaluate_cfg *cfg = R->cfg;
    const bl_model *m = cfg->model;
    size_t n = bl_inputs_count(cfg->inputs);
    bl_evaluate_result *r = R->r;
    size_t nrows = cfg->nbers ? cfg->nbers : 1;
    R->pred = malloc(n * sizeof *R->pred);
    R->rates = calloc(m->nlayers ? m->nlayers : 1, sizeof *R->rates);
    r->rows = calloc(nrows, sizeof *r->rows);
    if (!R->pred || !R->rates || !r->rows)
        return bl_error_set(err, BL_ENOMEM, "evaluate: out of memory");
    int rc;
    if (cfg->fault && ((rc = bl_fault_spec_parse(cfg->reg, cfg->fault, m, &R->spec, err)) ||
                       !(r->fault = strdup(cfg->fault))))
        return rc ? rc : bl_error_set(err, BL_ENOMEM, "evaluate: out of memory");
    R->e = cfg->engine;
    if (!R->e) {
        bl_engine_opts o = { .threads = cfg->threads, .simd = -1 };
        if ((rc = bl_engine_new(m, &o, own, err)))
            return rc;
        R->e = *own;
    }
    r->threads = bl_engine_threads(R->e);
    r->simd = bl_engine_simd(R->e);
    /* the engine may carry activation faults from an earlier caller */
    if ((rc = bl_engine_set_activation_faults(R->e, NULL, 0, err)))
        return rc;
    R->cache = cfg->engine ? cfg->cache : NULL;
    if (!R->cache) {
        if ((rc = bl_cache_new(R->e, m, cfg->inputs, own_cache, err)))
            return rc;
        R->cache = *own_cache;
    }
    if ((R->spec || cfg->map) && (rc = bl_model_clone(m, &R->faulty, err)))
        return rc;
    /* clean accuracy (also the answer for any map that changes no bit):
     * the cache knows the clean classes, unless it was made with activation
     * faults armed */
    const int32_t *clean = bl_cache_clean_predictions(R->cache);
    if (clean)
        memcpy(R->pred, clean, n * sizeof *R->pred);
    else if ((rc = bl_engine_predict_cached(R->e, R->cache, m, R->pred, err)))
        return rc;
    if (cfg->predictions) {
        if (!(R->clean = malloc(n * sizeof *R->clean)))
            return bl_error_set(err, BL_ENOMEM, "evaluate: out of memory");
        memcpy(R->clean, R->pred, n * sizeof *R->clean);
    }
    r->clean_correct = count_correct(R);
    r->clean_accuracy = (double)r->clean_correct / (double)n;
    return cfg->timing_repeats > 0 ? time_clean(R, err) : 0;
}

int bl_evaluate(const bl_evaluate_cfg *cfg, const bl_evaluate_hooks *hooks,
                bl_evaluate_result **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_evaluate_check(cfg, err);
    if (rc)
        return rc;
    double t0 = bl_now();
    int minr, maxr;
    bounds(cfg, &minr, &maxr);
    run R = { .cfg = cfg, .hooks = hooks };
    bl_engine *own = NULL;
    bl_cache *own_cache = NULL;
    R.r = calloc(1, sizeof *R.r);
    if (!R.r)
        return bl_error_set(err, BL_ENOMEM, "evaluate: out of memory");
    R.r->images = bl_inputs_count(cfg->inputs);
    R.r->seed = cfg->seed;
    rc = setup(&R, &own, &own_cache, err);
    size_t nrows = cfg->nbers ? cfg->nbers : 1;
    for (size_t b = 0; !rc && b < nrows; b++)
        rc = eval_row(&R, b, nrows, minr, maxr, err);
    if (!rc) {
        if (R.r->eval_seconds > 0)
            R.r->images_per_s = (double)R.r->images * (double)R.r->maps / R.r->eval_seconds;
        report(hooks, 1.0, "done");
    }
    if (R.e) /* leave a caller's engine without activation faults */
        bl_engine_set_activation_faults(R.e, NULL, 0, NULL);
    R.r->seconds = bl_now() - t0;
    bl_model_free(R.faulty);
    bl_cache_free(own_cache);
    bl_engine_free(own);
    bl_fault_spec_free(R.spec);
    free(R.pred);
    free(R.clean);
    free(R.rates);
    if (rc) {
        bl_evaluate_result_free(R.r);
        return rc;
    }
    *out = R.r;
    return 0;
}
