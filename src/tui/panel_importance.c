/* panel_importance.c - the selected layer's most important neurons (the
 * fraction of inputs whose class changes when only that neuron is
 * inverted) and the importances' variance. */
#include <stdio.h>

#include "tui/plot.h"
#include "tui/tui.h"

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    const tui_importance *im = &t->s.imp;
    char title[64];
    snprintf(title, sizeof title, "Importance %s", im->valid ? im->layer : "");
    bl_rect in = tui_panel_title(g, r, title, focused);
    if (in.h < 1)
        return;
    if (!im->valid) {
        bl_grid_text(g, in.x + 1, in.y, in.w - 1, ST_DIM, "computing...");
        return;
    }
    bl_grid_printf(g, in.x + 1, in.y, in.w - 1, ST_NORMAL, "var %.2e  max %.2g", im->variance,
                   im->max);
    int mode = t->s.ascii ? BL_PLOT_ASCII : BL_PLOT_BLOCK;
    for (int i = 0; i < im->n && i + 1 < in.h; i++) {
        int y = in.y + 1 + i;
        bl_grid_printf(g, in.x + 1, y, 6, ST_DIM, "%5d", im->top[i]);
        int bw = in.w - 15;
        bl_plot_hbar(g, in.x + 7, y, bw, im->max > 0 ? im->val[i] / im->max : 0, mode, ST_ACCENT);
        bl_grid_printf(g, in.x + in.w - 7, y, 7, ST_NORMAL, "%6.4f", im->val[i]);
    }
    if (im->n == 0 || im->max == 0)
        bl_grid_text(g, in.x + 1, in.y + 1, in.w - 1, ST_DIM, "no single neuron matters");
}

const bl_panel tui_panel_importance = { "importance", draw, NULL,
                                        "importance: class changes when one neuron inverts", NULL };
