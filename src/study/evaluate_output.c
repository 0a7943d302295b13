/* evaluate_output.c - the evaluator's result as JSON, CSV and a terminal
 * table, and BER-list parsing (evaluate.h). */
#include "study/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json_out.h"
#include "base/strbuf.h"

/* ---- outputs ---------------------------------------------------------------- */

json_t *bl_evaluate_to_json(const bl_evaluate_result *r, int per_rep)
{
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "fault", r->fault ? json_string(r->fault) : json_null());
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "images", json_integer((json_int_t)r->images));
    json_object_set_new(o, "clean_accuracy", json_real(r->clean_accuracy));
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_evaluate_row *w = &r->rows[i];
        json_t *j = json_object();
        json_object_set_new(j, "ber", isnan(w->ber) ? json_null() : json_real(w->ber));
        json_object_set_new(j, "accuracy", json_real(w->accuracy));
        json_object_set_new(j, "ci_low", json_real(w->ci_low));
        json_object_set_new(j, "ci_high", json_real(w->ci_high));
        json_object_set_new(j, "reps", json_integer(w->reps));
        json_object_set_new(j, "ci_method", json_string(bl_ci_method_name(w->ci_method)));
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
    json_object_set_new(o, "maps", json_integer((json_int_t)r->maps));
    json_object_set_new(o, "images_per_s", json_real(r->images_per_s));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "simd", json_string(bl_simd_name(r->simd)));
    return o;
}


char *bl_evaluate_to_csv(const bl_evaluate_result *r)
{
    bl_strbuf s = { 0 };
    /* no field needs quoting but the per-repetition list, which is quoted
     * (it has no '"' to double) */
    bl_strbuf_printf(&s, "ber,accuracy,ci_low,ci_high,reps,accuracies\r\n");
    char a[40], b[40], c[40], d[40];
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_evaluate_row *w = &r->rows[i];
        bl_fmt_double(a, sizeof a, w->ber);
        bl_fmt_double(b, sizeof b, w->accuracy);
        bl_fmt_double(c, sizeof c, w->ci_low);
        bl_fmt_double(d, sizeof d, w->ci_high);
        bl_strbuf_printf(&s, "%s,%s,%s,%s,%d,\"", a, b, c, d, w->reps);
        for (int k = 0; k < w->reps; k++) {
            bl_fmt_double(a, sizeof a, w->acc[k]);
            bl_strbuf_printf(&s, "%s%s", k ? ";" : "", a);
        }
        bl_strbuf_printf(&s, "\"\r\n");
    }
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

int bl_evaluate_save_csv(const bl_evaluate_result *r, const char *path, bl_error *err)
{
    char *t = bl_evaluate_to_csv(r);
    if (!t)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory formatting CSV", path);
    int rc = bl_file_write_atomic(path, t, strlen(t), err);
    free(t);
    return rc;
}

void bl_evaluate_print_table(const bl_evaluate_result *r, FILE *f)
{
    fprintf(f, "fault     %s\n", r->fault ? r->fault : "");
    fprintf(f, "seed      %llu   images %zu   clean accuracy %.4f\n",
            (unsigned long long)r->seed, r->images, r->clean_accuracy);
    fprintf(f, "%12s  %8s  %-19s  %5s  %s\n", "BER", "accuracy", "95% CI", "reps", "interval");
    int maps = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const bl_evaluate_row *w = &r->rows[i];
        char ci[48];
        snprintf(ci, sizeof ci, "[%.4f, %.4f]", w->ci_low, w->ci_high);
        fprintf(f, "%12.6g  %8.4f  %-19s  %5d  %s\n", w->ber, w->accuracy, ci, w->reps,
                bl_ci_method_name(w->ci_method));
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
