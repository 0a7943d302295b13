/* panel_layers.c - one BER slider per weight layer, a global slider, the
 * fault model and the seed.  Keys adjust through betlab.ui calls. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/tui.h"

static void fmt_bits(uint64_t b, char *buf, size_t n)
{
    if (b >= 1000000)
        snprintf(buf, n, "%.1fM", b / 1e6);
    else if (b >= 1000)
        snprintf(buf, n, "%.0fk", b / 1e3);
    else
        snprintf(buf, n, "%llu", (unsigned long long)b);
}

/* Slider of w cells for ber; returns nothing. */
static void slider(bl_tui *t, bl_grid *g, int x, int y, int w, double ber, int style)
{
    if (w < 3)
        return;
    int knob = ber < 0 ? -1 : (int)lround(tui_ber_frac(ber) * (w - 1));
    for (int i = 0; i < w; i++) {
        uint32_t cp;
        int st = style;
        if (i == knob) {
            cp = t->s.ascii ? 'O' : 0x25CF;
            st = ST_ACCENT;
        } else if (i < knob)
            cp = t->s.ascii ? '=' : 0x2501;
        else
            cp = t->s.ascii ? '-' : 0x2500;
        bl_grid_put(g, x + i, y, cp, i < knob ? ST_CURVE : st == ST_SELECT ? ST_SELECT : ST_DIM);
        if (i == knob)
            bl_grid_put(g, x + i, y, cp, st);
    }
}

/* Slider geometry shared with the mouse handler. */
void tui_layers_slider_span(bl_rect r, int *x0, int *w)
{
    *x0 = r.x + 12;
    *w = r.w - 12 - 8;
}

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    bl_tui_state *s = &t->s;
    bl_rect in = r;
    if (r.h >= 3)
        in = tui_panel_title(g, r, "Layers: BER (log scale)", focused);
    int sx, sw;
    tui_layers_slider_span(in, &sx, &sw);
    int rows = s->nlayers + 2;
    int first = 0;
    if (s->sel >= in.h)
        first = s->sel - in.h + 1;
    for (int k = first; k < rows && k - first < in.h; k++) {
        int y = in.y + k - first;
        int sel = k == s->sel;
        int st = sel ? (focused ? ST_SELECT : ST_ACCENT) : ST_NORMAL;
        if (sel)
            bl_grid_fill(g, (bl_rect){ in.x, y, in.w, 1 }, ' ', focused ? ST_SELECT : ST_NORMAL);
        char v[16], bits[16];
        if (k < s->nlayers) {
            const tui_layer *l = &s->layers[k];
            fmt_bits(l->bits, bits, sizeof bits);
            tui_fmt_ber(l->ber, v, sizeof v);
            bl_grid_printf(g, in.x + 1, y, 11, st, "%-5s %5s", l->name, bits);
            slider(t, g, sx, y, sw, l->ber, sel && focused ? ST_SELECT : ST_NORMAL);
            bl_grid_printf(g, in.x + in.w - 7, y, 7, st, "%7s", v);
        } else if (k == s->nlayers) {
            if (s->global_ber >= 0)
                tui_fmt_ber(s->global_ber, v, sizeof v);
            else
                snprintf(v, sizeof v, "mixed");
            bl_grid_text(g, in.x + 1, y, 11, st, "all layers");
            slider(t, g, sx, y, sw, s->global_ber, sel && focused ? ST_SELECT : ST_NORMAL);
            bl_grid_printf(g, in.x + in.w - 7, y, 7, st, "%7s", v);
        } else {
            bl_grid_printf(g, in.x + 1, y, in.w - 2, st, "fault %s  seed %llu", s->fault_kind,
                           (unsigned long long)s->seed);
        }
    }
}

const bl_panel tui_panel_layers = {
    "layers", draw, NULL,
    "j/k layer  h/l BER  H/L decade  0 zero  Enter type  f fault  +/- seed  p pin"
};
