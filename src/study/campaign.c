/* campaign.c - BER campaigns (campaign.h). */
#include "base/clock.h"
#include "study/campaign.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "study/stats.h"


void bl_campaign_result_free(bl_campaign_result *r)
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

static void bounds(const bl_campaign_cfg *c, int *minr, int *maxr)
{
    if (c->ci_width > 0) {
        *minr = c->min_reps > 0 ? c->min_reps : 3;
        *maxr = c->max_reps > 0 ? c->max_reps : 100;
        if (*minr > *maxr)
            *minr = *maxr;
    } else {
        *minr = *maxr = c->reps > 0 ? c->reps : 1;
    }
}

int bl_campaign_check(const bl_campaign_cfg *c, bl_error *err)
{
    if (!c || !c->model || !c->inputs || !c->reg || !c->fault)
        return bl_error_set(err, BL_EINVAL, "campaign: model, inputs, registry and fault spec "
                            "are required");
    if (!c->bers && c->nbers)
        return bl_error_set(err, BL_EINVAL, "campaign: no BER values");
    for (size_t i = 0; i < c->nbers; i++)
        if (!(c->bers[i] >= 0.0 && c->bers[i] <= 1.0))
            return bl_error_set(err, BL_ERANGE, "campaign: BER %g outside [0, 1]", c->bers[i]);
    if (c->reps < 0 || c->reps > 100000 || c->max_reps < 0 || c->max_reps > 100000 ||
        c->min_reps < 0)
        return bl_error_set(err, BL_ERANGE, "campaign: repetitions out of range");
    if (!(c->ci_width >= 0.0) || c->ci_width > 1.0)
        return bl_error_set(err, BL_ERANGE, "campaign: CI half-width %g outside (0, 1]",
                            c->ci_width);
    if (!bl_inputs_labels(c->inputs))
        return bl_error_set(err, BL_EINVAL, "campaign: inputs have no labels");
    if (bl_inputs_count(c->inputs) == 0)
        return bl_error_set(err, BL_EINVAL, "campaign: no inputs");
    return 0;
}

static void report(const bl_campaign_hooks *h, double f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const bl_campaign_hooks *h, double f, const char *fmt, ...)
{
    if (!h || !h->progress)
        return;
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    h->progress(h->ctx, f, buf);
}

static void row_ci(bl_campaign_row *row, size_t images)
{
    bl_ci ci;
    if (row->reps == 1)
        bl_ci_wilson(row->correct[0], images, 0.95, &ci);
    else
        bl_ci_student(row->acc, (size_t)row->reps, 0.95, 0.0, 1.0, &ci);
    row->accuracy = ci.mean;
    row->ci_low = ci.low;
    row->ci_high = ci.high;
    row->half = ci.half;
}

int bl_campaign_run(const bl_campaign_cfg *cfg, const bl_campaign_hooks *hooks,
                    bl_campaign_result **out, bl_error *err)
{
    *out = NULL;
    int rc = bl_campaign_check(cfg, err);
    if (rc)
        return rc;
    double t0 = bl_now();
    int minr, maxr;
    bounds(cfg, &minr, &maxr);
    const bl_model *m = cfg->model;
    const bl_inputs *in = cfg->inputs;
    size_t n = bl_inputs_count(in);
    const int32_t *labels = bl_inputs_labels(in);

    bl_campaign_result *r = calloc(1, sizeof *r);
    bl_fault_spec *spec = NULL;
    bl_engine *own = NULL, *e = cfg->engine;
    bl_cache *cache = NULL;
    bl_model *faulty = NULL;
    int32_t *pred = malloc(n * sizeof *pred);
    double *rates = calloc(m->nlayers, sizeof *rates);
    if (!r || !pred || !rates) {
        rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
        goto done;
    }
    r->images = n;
    r->seed = cfg->seed;
    size_t nrows = cfg->nbers ? cfg->nbers : 1; /* 0: one row at the spec's own rates */
    r->rows = calloc(nrows, sizeof *r->rows);
    if (!r->rows) {
        rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
        goto done;
    }
    if ((rc = bl_fault_spec_parse(cfg->reg, cfg->fault, m, &spec, err)))
        goto done;
    if (!e) {
        bl_engine_opts o = { .threads = cfg->threads };
        if ((rc = bl_engine_new(m, &o, &own, err)))
            goto done;
        e = own;
    }
    r->threads = bl_engine_threads(e);
    if ((rc = bl_cache_new(e, m, in, &cache, err)) || (rc = bl_model_clone(m, &faulty, err)))
        goto done;
    /* clean accuracy (also the answer for any map that changes no bit) */
    if ((rc = bl_engine_predict_cached(e, cache, m, pred, err)))
        goto done;
    uint64_t clean_correct = 0;
    for (size_t i = 0; i < n; i++)
        clean_correct += pred[i] == labels[i];
    r->clean_accuracy = (double)clean_correct / (double)n;

    for (size_t b = 0; b < nrows; b++) {
        bl_campaign_row *row = &r->rows[b];
        row->ber = cfg->nbers ? cfg->bers[b] : NAN;
        row->acc = malloc((size_t)maxr * sizeof *row->acc);
        row->correct = malloc((size_t)maxr * sizeof *row->correct);
        r->nrows = b + 1;
        if (!row->acc || !row->correct) {
            rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
            goto done;
        }
        if (cfg->nbers && (rc = bl_fault_spec_set_rate(spec, row->ber, err)))
            goto done;
        /* Activation faults happen inside the engine at inference time,
         * with the same coupled uniforms and the same seed + rep rule. */
        if ((rc = bl_fault_activation_rates(spec, m, rates, err)))
            goto done;
        int act = 0;
        for (uint32_t i = 0; i < m->nlayers; i++)
            act |= rates[i] > 0;
        for (int rep = 0; rep < maxr; rep++) {
            if (hooks && hooks->cancelled && hooks->cancelled(hooks->ctx)) {
                rc = bl_error_set(err, BL_ECANCELED, "campaign cancelled at BER %g, "
                                  "repetition %d", cfg->nbers ? row->ber : -1.0, rep + 1);
                goto done;
            }
            double frac = ((double)b + (double)rep / (double)maxr) / (double)nrows;
            if (cfg->nbers)
                report(hooks, frac, "BER %g: repetition %d", row->ber, rep + 1);
            else
                report(hooks, frac, "repetition %d", rep + 1);
            double t1 = bl_now();
            bl_fault_stats st;
            memset(&st, 0, sizeof st);
            rc = bl_fault_apply(spec, m, faulty, cfg->seed + (uint64_t)rep, &st, err);
            double t2 = bl_now();
            r->fault_seconds += t2 - t1;
            if (rc)
                goto done;
            uint64_t changed = 0;
            for (int t = 0; t < BL_FT_COUNT; t++)
                changed += st.changed[t];
            row->changed_bits += changed;
            uint64_t correct = clean_correct;
            if (act && (rc = bl_engine_set_activation_faults(e, rates, cfg->seed + (uint64_t)rep,
                                                             err)))
                goto done;
            if (changed || act) {
                if ((rc = bl_engine_predict_cached(e, cache, faulty, pred, err)))
                    goto done;
                correct = 0;
                for (size_t i = 0; i < n; i++)
                    correct += pred[i] == labels[i];
            }
            r->eval_seconds += bl_now() - t2;
            row->correct[rep] = correct;
            row->acc[rep] = (double)correct / (double)n;
            row->reps = rep + 1;
            if (cfg->ci_width > 0 && row->reps >= minr) {
                row_ci(row, n);
                if (row->half <= cfg->ci_width)
                    break;
            }
        }
        row_ci(row, n);
    }
    r->fault = strdup(cfg->fault); /* as given: its rate is the row's BER */
    report(hooks, 1.0, "done");
done:
    if (e) /* leave a caller's engine without activation faults */
        bl_engine_set_activation_faults(e, NULL, 0, NULL);
    if (r)
        r->seconds = bl_now() - t0;
    bl_model_free(faulty);
    bl_cache_free(cache);
    bl_engine_free(own);
    bl_fault_spec_free(spec);
    free(pred);
    free(rates);
    if (rc) {
        bl_campaign_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- outputs ---------------------------------------------------------------- */

/* Shortest text that reads back as the same double. */
static void fmt_num(char *buf, size_t n, double v)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

json_t *bl_campaign_to_json(const bl_campaign_result *r, int per_rep)
{
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "fault", json_string(r->fault ? r->fault : ""));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "images", json_integer((json_int_t)r->images));
    json_object_set_new(o, "clean_accuracy", json_real(r->clean_accuracy));
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_campaign_row *w = &r->rows[i];
        json_t *j = json_object();
        json_object_set_new(j, "ber", isnan(w->ber) ? json_null() : json_real(w->ber));
        json_object_set_new(j, "accuracy", json_real(w->accuracy));
        json_object_set_new(j, "ci_low", json_real(w->ci_low));
        json_object_set_new(j, "ci_high", json_real(w->ci_high));
        json_object_set_new(j, "reps", json_integer(w->reps));
        if (per_rep) {
            json_t *a = json_array();
            for (int k = 0; k < w->reps; k++)
                json_array_append_new(a, json_real(w->acc[k]));
            json_object_set_new(j, "accuracies", a);
        }
        json_array_append_new(rows, j);
    }
    json_object_set_new(o, "rows", rows);
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_object_set_new(o, "fault_seconds", json_real(r->fault_seconds));
    json_object_set_new(o, "eval_seconds", json_real(r->eval_seconds));
    json_object_set_new(o, "threads", json_integer(r->threads));
    return o;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *s, const char *fmt, ...)
{
    if (s->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            s->oom = 1;
            return;
        }
        if (s->p && s->len + (size_t)k < s->cap) {
            s->len += (size_t)k;
            return;
        }
        size_t nc = (s->cap ? s->cap * 2 : 1024) + (size_t)k;
        char *np = realloc(s->p, nc);
        if (!np) {
            s->oom = 1;
            return;
        }
        s->p = np;
        s->cap = nc;
    }
}

char *bl_campaign_to_csv(const bl_campaign_result *r)
{
    sbuf s = { 0 };
    /* no field needs quoting but the per-repetition list, which is quoted
     * (it has no '"' to double) */
    sb_add(&s, "ber,accuracy,ci_low,ci_high,reps,accuracies\r\n");
    char a[40], b[40], c[40], d[40];
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_campaign_row *w = &r->rows[i];
        fmt_num(a, sizeof a, w->ber);
        fmt_num(b, sizeof b, w->accuracy);
        fmt_num(c, sizeof c, w->ci_low);
        fmt_num(d, sizeof d, w->ci_high);
        sb_add(&s, "%s,%s,%s,%s,%d,\"", a, b, c, d, w->reps);
        for (int k = 0; k < w->reps; k++) {
            fmt_num(a, sizeof a, w->acc[k]);
            sb_add(&s, "%s%s", k ? ";" : "", a);
        }
        sb_add(&s, "\"\r\n");
    }
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

int bl_campaign_save_csv(const bl_campaign_result *r, const char *path, bl_error *err)
{
    char *t = bl_campaign_to_csv(r);
    if (!t)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory formatting CSV", path);
    int rc = bl_file_write_atomic(path, t, strlen(t), err);
    free(t);
    return rc;
}

void bl_campaign_print_table(const bl_campaign_result *r, FILE *f)
{
    fprintf(f, "fault     %s\n", r->fault ? r->fault : "");
    fprintf(f, "seed      %llu   images %zu   clean accuracy %.4f\n",
            (unsigned long long)r->seed, r->images, r->clean_accuracy);
    fprintf(f, "%12s  %8s  %-19s  %5s\n", "BER", "accuracy", "95% CI", "reps");
    int maps = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_campaign_row *w = &r->rows[i];
        char ci[48];
        snprintf(ci, sizeof ci, "[%.4f, %.4f]", w->ci_low, w->ci_high);
        fprintf(f, "%12.6g  %8.4f  %-19s  %5d\n", w->ber, w->accuracy, ci, w->reps);
        maps += w->reps;
    }
    fprintf(f, "time      %.3f s: fault maps %.3f s, evaluation %.3f s (%d maps, %d thread%s)\n",
            r->seconds, r->fault_seconds, r->eval_seconds, maps, r->threads,
            r->threads == 1 ? "" : "s");
}

int bl_parse_ber_list(const char *text, double **out, size_t *n, bl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!text || !*text)
        return bl_error_set(err, BL_EINVAL, "empty BER list");
    int lin = strncmp(text, "lin:", 4) == 0;
    const char *t = lin ? text + 4 : text;
    if (strchr(t, ':')) {
        char *end;
        errno = 0;
        double a = strtod(t, &end);
        if (*end != ':')
            goto bad;
        double b = strtod(end + 1, &end);
        if (*end != ':')
            goto bad;
        long k = strtol(end + 1, &end, 10);
        if (*end || errno || k < 1 || k > 100000 || !(a >= 0 && a <= 1) || !(b >= 0 && b <= 1))
            goto bad;
        if (!lin && (a <= 0 || b <= 0))
            return bl_error_set(err, BL_EINVAL, "BER range '%s': a logarithmic range needs "
                                "START > 0 and STOP > 0 (or use lin:START:STOP:N)", text);
        double *v = malloc((size_t)k * sizeof *v);
        if (!v)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        for (long i = 0; i < k; i++) {
            double f = k == 1 ? 0.0 : (double)i / (double)(k - 1);
            v[i] = lin ? a + (b - a) * f : exp(log(a) + (log(b) - log(a)) * f);
        }
        v[0] = a;
        v[k - 1] = k == 1 ? a : b;
        *out = v;
        *n = (size_t)k;
        return 0;
    }
    if (lin)
        goto bad;
    size_t cap = 8, cnt = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    const char *p = t;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !(x >= 0 && x <= 1) || (*end && *end != ',')) {
            free(v);
            return bl_error_set(err, BL_EINVAL, "BER list '%s': each value must be a number in "
                                "[0, 1], separated by commas", text);
        }
        if (cnt == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = x;
        if (!*end)
            break;
        p = end + 1;
    }
    *out = v;
    *n = cnt;
    return 0;
bad:
    return bl_error_set(err, BL_EINVAL, "BER list '%s': want V,V,... or START:STOP:N "
                        "(log-spaced) or lin:START:STOP:N", text);
}
