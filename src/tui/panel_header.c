/* panel_header.c - model, dataset, fault spec, seed, accuracy, speed. */
#include <stdio.h>
#include <string.h>

#include "tui/tui.h"

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    (void)focused;
    bl_tui_state *s = &t->s;
    const char *sep = s->ascii ? " | " : " \xe2\x94\x82 ";
    char speed[64] = "";
    if (s->acc.valid && s->acc.eval_s > 0) {
        double ips = s->images / s->acc.eval_s;
        snprintf(speed, sizeof speed, "%s%.0f eval/s %.1f GMAC/s", sep, 1 / s->acc.eval_s,
                 ips * s->macs_per_image * 1e-9);
    }
    char acc[48] = "acc ...";
    if (s->acc.valid)
        snprintf(acc, sizeof acc, "acc %.2f%%", s->acc.acc * 100);
    bl_grid_fill(g, r, ' ', ST_TITLE);
    int x = r.x;
    x += bl_grid_text(g, x, r.y, r.w, ST_TITLE_FOCUS, " betlab ");
    bl_grid_printf(g, x, r.y, r.x + r.w - x, ST_TITLE, " %s%s%s%s%s (%zu)%sfault %s%sseed %llu%s",
                   acc, sep, s->model_name, sep, s->data_name, s->images, sep,
                   s->spec_text, sep, (unsigned long long)s->seed, speed);
}

const bl_panel tui_panel_header = { "header", draw, NULL, "", NULL };
