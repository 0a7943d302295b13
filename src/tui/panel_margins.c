/* panel_margins.c - margin histogram |a - tau| of the selected layer, clean
 * and under the current faults (two bars per bin), the margin the expected
 * number of weight flips can overturn (marker), and the analytic vs the
 * measured fraction of flipped neurons. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/plot.h"
#include "tui/tui.h"

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    bl_tui_state *s = &t->s;
    const tui_margins *m = &s->margins;
    char title[96];
    snprintf(title, sizeof title, "Margins %s (bars: clean | faulty)", m->valid ? m->layer : "");
    bl_rect in = tui_panel_title(g, r, title, focused);
    if (in.h < 1)
        return;
    if (!m->valid) {
        bl_grid_text(g, in.x + 1, in.y, in.w - 1, ST_DIM, "computing...");
        return;
    }
    int text_rows = in.h >= 6 ? 2 : in.h >= 3 ? 1 : 0;
    bl_rect hr = { in.x + 1, in.y, in.w - 2, in.h - text_rows };
    /* bins up to the last non-zero one, grouped to fit two columns each */
    int last = 0;
    for (int b = 0; b < m->nbins; b++)
        if (m->clean[b] > 0 || m->faulty[b] > 0)
            last = b;
    int groups = hr.w / 2;
    if (groups > 0 && hr.h > 0 && m->nbins > 0) {
        int per = (last + groups) / groups;
        if (per < 1)
            per = 1;
        double v[256];
        int n = 0;
        double vmax = 0;
        for (int gi = 0; gi < groups && n + 1 < 256; gi++) {
            double c = 0, f = 0;
            for (int b = gi * per; b < (gi + 1) * per && b < m->nbins; b++) {
                c += m->clean[b];
                f += m->faulty[b];
            }
            v[n++] = c;
            v[n++] = f;
            if (c > vmax)
                vmax = c;
            if (f > vmax)
                vmax = f;
        }
        int mode = s->ascii ? BL_PLOT_ASCII : BL_PLOT_BLOCK;
        for (int i = 0; i < n; i++) {
            bl_rect col = { hr.x + i, hr.y, 1, hr.h };
            bl_plot_bars(g, col, &v[i], 1, vmax, mode, i % 2 ? ST_FAULTY : ST_CLEAN);
        }
        /* marker: margin 2 * n * p (the expected flips, each moving a by 2) */
        if (m->expect_flips > 0) {
            double mg = 2 * m->expect_flips;
            int gi = (int)(mg / (m->bin_width * per));
            int x = hr.x + 2 * gi;
            if (x < hr.x + hr.w)
                for (int y = hr.y; y < hr.y + hr.h; y++) {
                    bl_cell *c = bl_grid_at(g, x, y);
                    if (c && c->cp == ' ')
                        bl_grid_put(g, x, y, s->ascii ? '|' : 0x2502, ST_MARKER);
                }
        }
        bl_grid_printf(g, hr.x + hr.w - 12, hr.y, 12, ST_DIM, "%12s", "");
        bl_grid_printf(g, hr.x + hr.w - 12, hr.y, 12, ST_DIM, "max m %-6.0f",
                       (double)(last + 1) * m->bin_width);
    }
    int y = in.y + in.h - text_rows;
    if (text_rows >= 1) {
        char an[32] = "n/a", me[64] = "-";
        if (!isnan(m->analytic))
            snprintf(an, sizeof an, "%.3g%%", m->analytic * 100);
        if (!isnan(m->measured))
            snprintf(me, sizeof me, "%.3g%% [%.3g, %.3g]", m->measured * 100, m->mlo * 100,
                     m->mhi * 100);
        if (m->ber > 0)
            bl_grid_printf(g, in.x + 1, y++, in.w - 1, ST_NORMAL, "flipped: analytic %s  measured %s",
                           an, me);
        else
            bl_grid_printf(g, in.x + 1, y++, in.w - 1, ST_DIM, "%s",
                           m->note[0] ? m->note : "BER 0: no flips (move the slider)");
    }
    if (text_rows >= 2)
        bl_grid_printf(g, in.x + 1, y, in.w - 1, ST_DIM,
                       "n*p = %.3g flips/neuron (| at m = %.3g)  mean m %.0f -> %.0f",
                       m->expect_flips, 2 * m->expect_flips, m->clean_mean, m->faulty_mean);
}

const bl_panel tui_panel_margins = { "margins", draw, NULL,
                                     "margins of the selected layer; | = margin 2np", NULL };
