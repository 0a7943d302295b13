/* panel_accuracy.c - live accuracy with its 95% CI, the pinned model, and
 * the accuracy-over-BER curve (background sweep) with its CI band and a
 * marker at the current BER. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "study/evaluate.h"
#include "tui/plot.h"
#include "tui/tui.h"

#define XMIN 1e-4

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    bl_tui_state *s = &t->s;
    char title[96], b[16];
    tui_fmt_ber(tui_state_current_ber(s), b, sizeof b);
    snprintf(title, sizeof title, "Accuracy  (BER %s, %s)", b,
             s->sel < s->nlayers && s->sel >= 0 ? s->layers[s->sel].name : "all layers");
    bl_rect in = tui_panel_title(g, r, title, focused);
    int y = in.y;
    if (in.h < 1)
        return;
    if (s->acc.valid) {
        int x = in.x + 1;
        /* a value whose settings changed is marked until the new one lands */
        x += bl_grid_printf(g, x, y, in.w - 1, s->acc.stale ? ST_DIM : ST_GOOD, "%.2f%%%s",
                            s->acc.acc * 100, s->acc.stale ? "~" : "");
        char clean[32] = "";
        if (s->clean_valid)
            snprintf(clean, sizeof clean, "  clean %.2f%%", s->clean_acc * 100);
        bl_grid_printf(g, x, y, in.x + in.w - x, ST_NORMAL, " [%.2f, %.2f]%s",
                       s->acc.lo * 100, s->acc.hi * 100, clean);
        /* what the interval is, on its own line so it is never cut */
        if (y + 1 < in.y + in.h)
            bl_grid_printf(g, in.x + 1, ++y, in.w - 1, ST_DIM, "95%% CI: %s, %d map%s, %.0f ms",
                           bl_ci_method_name((bl_ci_method)s->acc.method), s->acc.reps,
                           s->acc.reps == 1 ? "" : "s", s->acc.ms);
    } else
        bl_grid_text(g, in.x + 1, y, in.w - 1, ST_DIM, "evaluating...");
    y++;
    if (s->pin_name[0] && y < in.y + in.h) {
        if (s->acc.pin_valid)
            bl_grid_printf(g, in.x + 1, y, in.w - 1, ST_PIN, "pinned %s: %.2f%% [%.2f, %.2f]",
                           s->pin_name, s->acc.pin_acc * 100, s->acc.pin_lo * 100,
                           s->acc.pin_hi * 100);
        else
            bl_grid_printf(g, in.x + 1, y, in.w - 1, ST_PIN, "pinned %s: ...", s->pin_name);
        y++;
    }
    /* the curve: y labels 5 columns, x labels on the last row */
    bl_rect pr = { in.x + 5, y, in.w - 6, in.y + in.h - y - 1 };
    if (pr.h < 2 || pr.w < 8)
        return;
    bl_plot_opts o = { XMIN, TUI_BER_MAX, 0, 1, 1, s->ascii ? BL_PLOT_ASCII : BL_PLOT_BRAILLE,
                       NAN, ST_MARKER };
    double cur = tui_state_current_ber(s);
    o.marker = cur < XMIN ? XMIN : cur;
    bl_plot_series se[2];
    int ns = 0;
    if (s->curve.n) {
        bl_plot_series a = { s->curve.ber, s->curve.acc, s->curve.lo, s->curve.hi,
                             (size_t)s->curve.n, ST_CURVE, ST_BAND };
        se[ns++] = a;
    }
    if (s->pin_curve.n) {
        bl_plot_series a = { s->pin_curve.ber, s->pin_curve.acc, NULL, NULL,
                             (size_t)s->pin_curve.n, ST_PIN, ST_BAND };
        se[ns++] = a;
    }
    bl_plot_lines(g, pr, &o, se, ns);
    if (!s->curve.n)
        bl_grid_text(g, pr.x + 1, pr.y + pr.h / 2, pr.w - 1, ST_DIM, "sweeping (background)...");
    bl_grid_text(g, in.x, pr.y, 5, ST_DIM, "100%");
    bl_grid_text(g, in.x, pr.y + pr.h / 2, 5, ST_DIM, " 50%");
    bl_grid_text(g, in.x, pr.y + pr.h - 1, 5, ST_DIM, "  0%");
    int ly = pr.y + pr.h;
    static const double ticks[] = { 1e-4, 1e-3, 1e-2, 0.1, 0.5 };
    static const char *const tl[] = { "1e-4", "1e-3", "0.01", "0.1", "0.5" };
    for (int i = 0; i < 5; i++) {
        int c = bl_plot_x_to_col(&o, pr, ticks[i]);
        int len = (int)strlen(tl[i]);
        int x = pr.x + c - (i == 4 ? len - 1 : 0);
        if (c >= 0)
            bl_grid_text(g, x, ly, len, ST_DIM, tl[i]);
    }
    if (s->curve.n)
        bl_grid_printf(g, in.x, ly, 5, ST_DIM, "%dx", s->curve.reps);
}

const bl_panel tui_panel_accuracy = {
    "accuracy", draw, NULL, "curve: accuracy over BER, band = 95% CI, | = current BER; S resweep",
    NULL
};
