/* metrics_json.c - the metrics result as JSON (metrics_report.h). */
#include "study/metrics_report.h"

#include <math.h>
#include <stdio.h>

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static json_t *margin_json(const bl_margin_summary *s)
{
    json_t *mg = json_object(), *q = json_object(), *hist = json_object(),
           *counts = json_array(), *below = json_object(), *fle = json_object();
    json_object_set_new(mg, "count", json_integer((json_int_t)s->count));
    json_object_set_new(mg, "mean", json_real(s->mean));
    json_object_set_new(mg, "min", json_integer(s->min));
    json_object_set_new(mg, "max", json_integer(s->max));
    char key[16];
    for (int k = 0; k < BL_MARGIN_NQ; k++) {
        snprintf(key, sizeof key, "%g", bl_margin_qlevels[k] * 100.0);
        json_object_set_new(q, key, json_integer(s->q[k]));
    }
    json_object_set_new(mg, "quantiles", q);
    for (int k = 0; k < BL_MARGIN_NK; k++) {
        snprintf(key, sizeof key, "%d", 2 * bl_margin_ks[k]);
        json_object_set_new(below, key, json_real(s->below[k]));
        snprintf(key, sizeof key, "%d", bl_margin_ks[k]);
        json_object_set_new(fle, key, json_real(s->flips_le[k]));
    }
    json_object_set_new(mg, "fraction_below", below);
    json_object_set_new(mg, "flips_needed_at_most", fle);
    json_object_set_new(hist, "bin_width", json_integer(s->bin_width));
    for (uint32_t b = 0; b < s->nbins; b++)
        json_array_append_new(counts, json_integer((json_int_t)s->hist[b]));
    json_object_set_new(hist, "counts", counts);
    json_object_set_new(mg, "hist", hist);
    return mg;
}

static json_t *layer_json(const bl_metrics_result *r, const bl_metrics_layer *L)
{
    json_t *l = json_object();
    json_object_set_new(l, "name", json_string(L->h.name));
    json_object_set_new(l, "neurons", json_integer((json_int_t)L->neurons));
    json_object_set_new(l, "fan_in", json_integer(L->fan_in));
    json_object_set_new(l, "real_input", json_boolean(L->real_input));
    if (L->have_margins)
        json_object_set_new(l, "margin", margin_json(&L->margins));
    if (L->have_faulty)
        json_object_set_new(l, "faulty_margin", margin_json(&L->faulty));
    if (L->have_analytic || L->have_measured) {
        json_t *ff = json_object();
        json_object_set_new(ff, "ber", json_real(r->ber));
        if (L->have_analytic) {
            json_object_set_new(ff, "analytic", num_or_null(L->analytic));
            if (L->analytic_note[0])
                json_object_set_new(ff, "analytic_note", json_string(L->analytic_note));
        }
        if (L->have_measured) {
            json_object_set_new(ff, "measured", json_real(L->measured.mean));
            json_object_set_new(ff, "measured_ci_low", json_real(L->measured.low));
            json_object_set_new(ff, "measured_ci_high", json_real(L->measured.high));
            json_object_set_new(ff, "measured_interval", json_string(
                r->reps > 1 ? "Student-t over maps" : "Wilson over outputs"));
        }
        json_object_set_new(l, "flip_fraction", ff);
    }
    if (L->have_importance) {
        const bl_importance *im = &L->importance;
        json_t *o = json_object();
        json_object_set_new(o, "mean", json_real(im->mean));
        json_object_set_new(o, "max", json_real(im->max));
        json_object_set_new(o, "variance", json_real(im->variance));
        json_object_set_new(o, "method", json_string(im->method == BL_IMP_FAST ? "fast" : "brute"));
        json_object_set_new(o, "seconds", json_real(im->seconds));
        json_object_set_new(l, "importance", o);
    } else {
        json_object_set_new(l, "importance", json_null());
    }
    return l;
}

json_t *bl_metrics_to_json(const bl_metrics_result *r)
{
    json_t *top = json_object(), *arr = json_array();
    json_object_set_new(top, "images", json_integer((json_int_t)r->images));
    json_object_set_new(top, "ber", json_real(r->ber));
    json_object_set_new(top, "reps", json_integer(r->reps));
    json_object_set_new(top, "seed", json_integer((json_int_t)r->seed));
    for (int i = 0; i < r->nlayers; i++)
        json_array_append_new(arr, layer_json(r, &r->layers[i]));
    json_object_set_new(top, "layers", arr);
    return top;
}
