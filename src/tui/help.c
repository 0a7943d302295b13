/* help.c - the help overlay: every key, one line each (also in betlab(1)). */
#include <string.h>

#include "tui/tui.h"

const tui_keyhelp tui_keys_help[] = {
    { "Up/Down, k/j", "select a layer row (last rows: all layers, fault)" },
    { "Left/Right, h/l", "BER down/up by 1/8 decade (fine)" },
    { "H/L, PgDn/PgUp", "BER down/up by a decade (coarse)" },
    { "0", "BER 0 for the selected row" },
    { "Enter", "type a BER value for the selected row" },
    { "f", "next fault model (bitflip, asym, stuck, plugins)" },
    { "+ / -", "next / previous fault-map seed" },
    { "p / P", "pin the next shipped model for comparison / unpin" },
    { "S", "restart the accuracy-over-BER sweep" },
    { "c / Esc", "cluster view (exemplars, f(S), CPU vs device) / back" },
    { "Tab, Shift-Tab", "cycle the focused panel" },
    { ": or `", "focus the Lua console (Esc or Tab leaves)" },
    { "r", "start / stop recording the session (Lua file)" },
    { "s", "save the curve (CSV) and a screenshot (text)" },
    { "n, Space", "--demo: run the next step of the session file" },
    { "mouse", "click a slider or a panel; wheel moves the BER" },
    { "Ctrl-L", "redraw the screen" },
    { "?, F1", "this help (any key closes it)" },
    { "q", "quit (asks only while a job is running)" },
    { NULL, NULL },
};

void tui_help_draw(bl_tui *t, bl_grid *g)
{
    int n = 0;
    while (tui_keys_help[n].keys)
        n++;
    int w = g->w < 68 ? g->w : 68, h = g->h < n + 3 ? g->h : n + 3;
    bl_rect r = { (g->w - w) / 2, (g->h - h) / 2, w, h };
    bl_grid_fill(g, r, ' ', ST_HELP);
    bl_rect title = { r.x, r.y, r.w, 1 };
    bl_grid_fill(g, title, ' ', ST_TITLE_FOCUS);
    bl_grid_text(g, r.x + 1, r.y, r.w - 1, ST_TITLE_FOCUS, "Keys  (any key closes)");
    for (int i = 0; i < n && i + 1 < h - 1; i++) {
        bl_grid_text(g, r.x + 2, r.y + 1 + i, 17, ST_ACCENT, tui_keys_help[i].keys);
        bl_grid_text(g, r.x + 20, r.y + 1 + i, r.w - 21, ST_HELP, tui_keys_help[i].what);
    }
    (void)t;
}
