/* panel_status.c - errors (never a crash), job progress, key hints. */
#include <stdio.h>
#include <string.h>

#include "tui/tui.h"

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    (void)focused;
    bl_tui_state *s = &t->s;
    bl_grid_fill(g, r, ' ', ST_STATUS);
    int right = 0;
    char rt[192];
    snprintf(rt, sizeof rt, "%s%s%s ", s->recording ? " REC" : "", s->jobs_text[0] ? "  " : "",
             s->jobs_text);
    right = (int)strlen(rt);
    if (right > r.w / 2)
        right = r.w / 2;
    /* a question or a typed value must be readable at any width: it takes
     * the whole line, job progress waits */
    if (s->confirm_quit || s->edit_active)
        right = 0;
    if (s->edit_active)
        bl_grid_printf(g, r.x, r.y, r.w - right, ST_SELECT, " BER for %s: %s_",
                       s->sel < s->nlayers ? s->layers[s->sel].name : "all layers", s->edit_buf);
    else if (s->confirm_quit)
        bl_grid_text(g, r.x, r.y, r.w - right, ST_ERROR,
                     r.w >= 32 ? " jobs are running: quit? (y/n) " : " quit? (y/n) ");
    else if (s->status[0])
        bl_grid_printf(g, r.x, r.y, r.w - right, s->status_err ? ST_ERROR : ST_STATUS, " %s",
                       s->status);
    else {
        const bl_panel *p = tui_panel(s->focus);
        bl_grid_printf(g, r.x, r.y, r.w - right, ST_STATUS, " %s  ? help  q quit",
                       p && p->help ? p->help : "");
    }
    if (right > 0)
        bl_grid_text(g, r.x + r.w - right, r.y, right, s->recording ? ST_ERROR : ST_STATUS, rt);
}

const bl_panel tui_panel_status = { "status", draw, NULL, "", NULL };
