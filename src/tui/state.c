/* state.c - the workbench's model: plain structs and pure transitions.
 *
 * BER sliders are logarithmic from TUI_BER_MIN to TUI_BER_MAX, with 0
 * below the first step: fine steps are 1/8 decade, coarse steps a whole
 * decade; values are rounded to two significant digits so that the Lua
 * calls echoed in the console read well and replay exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

double tui_ber_nice(double ber)
{
    if (!(ber > 0))
        return 0;
    if (ber >= TUI_BER_MAX)
        return TUI_BER_MAX;
    double e = floor(log10(ber));
    double m = ber / pow(10, e);
    m = round(m * 10) / 10;       /* two significant digits */
    char buf[32];
    snprintf(buf, sizeof buf, "%.1fe%d", m, (int)e);
    double v;
    sscanf(buf, "%lf", &v);
    return v;
}

double tui_ber_step(double ber, int steps, int coarse)
{
    const double per = 8;  /* fine steps per decade */
    double lmin = log10(TUI_BER_MIN);
    double pos;            /* in fine steps above lmin; -1 = zero */
    if (!(ber > 0))
        pos = -1;
    else
        pos = round((log10(ber) - lmin) * per);
    double d = coarse ? steps * per : steps;
    if (pos < 0 && d > 0)
        pos = coarse ? d - per : d - 1;
    else if (pos >= 0)
        pos += d;
    if (pos < 0)
        return 0;
    double v = pow(10, lmin + pos / per);
    if (v > TUI_BER_MAX)
        v = TUI_BER_MAX;
    return tui_ber_nice(v);
}

double tui_ber_frac(double ber)
{
    if (!(ber > 0))
        return 0;
    double f = (log10(ber) - log10(TUI_BER_MIN)) / (log10(TUI_BER_MAX) - log10(TUI_BER_MIN));
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

double tui_ber_from_frac(double f)
{
    if (f <= 0)
        return 0;
    if (f > 1)
        f = 1;
    double l = log10(TUI_BER_MIN) + f * (log10(TUI_BER_MAX) - log10(TUI_BER_MIN));
    return tui_ber_nice(pow(10, l));
}

void tui_fmt_ber(double ber, char *buf, size_t n)
{
    if (!(ber > 0))
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%.2g", ber);
}

int tui_state_find_layer(const bl_tui_state *s, const char *name)
{
    for (int i = 0; i < s->nlayers; i++)
        if (strcmp(s->layers[i].name, name) == 0)
            return i;
    return -1;
}

double tui_state_current_ber(const bl_tui_state *s)
{
    if (s->sel >= 0 && s->sel < s->nlayers)
        return s->layers[s->sel].ber;
    double m = 0;
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].ber > m)
            m = s->layers[i].ber;
    return m;
}

void tui_state_set_ber(bl_tui_state *s, int layer, double ber)
{
    if (ber < 0 || ber != ber)
        ber = 0;
    if (ber > TUI_BER_MAX)
        ber = TUI_BER_MAX;
    if (layer < 0) {
        for (int i = 0; i < s->nlayers; i++)
            s->layers[i].ber = ber;
        s->global_ber = ber;
    } else if (layer < s->nlayers) {
        s->layers[layer].ber = ber;
        /* the global slider shows a common value only when all agree */
        int same = 1;
        for (int i = 1; i < s->nlayers; i++)
            same &= s->layers[i].ber == s->layers[0].ber;
        s->global_ber = same ? ber : -1;
    }
}

int tui_state_spec(const bl_tui_state *s, const bl_fault_registry *reg, char *out, size_t n,
                   bl_error *err)
{
    bl_fault_spec *spec = NULL;
    int rc = bl_fault_spec_parse(reg, s->fault_kind, NULL, &spec, err);
    if (rc)
        return rc;
    /* the sliders set the weight rates; rates the kind gives to thresholds
     * or activations stay as given */
    if ((rc = bl_fault_spec_set_target_rate(spec, BL_FT_WEIGHTS, 0, err)))
        goto out;
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].ber > 0 &&
            (rc = bl_fault_spec_set_layer_rate(spec, s->layers[i].name, BL_FT_WEIGHTS,
                                               s->layers[i].ber, err)))
            goto out;
    char *txt = bl_fault_spec_format(spec);
    if (!txt) {
        rc = bl_error_set(err, BL_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(out, n, "%s", txt);
    free(txt);
out:
    bl_fault_spec_free(spec);
    return rc;
}
