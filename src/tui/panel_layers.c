/* panel_layers.c - one BER slider per weight layer, a global slider, the
 * fault model and the seed.  The panel owns its keys (rows, slider steps,
 * the typed-value editor, fault and seed) and its mouse hits (click a row
 * to select it, a slider to set that BER, the wheel to step); each change
 * is a betlab.ui call through tui_action, so the console shows it and a
 * record replays it. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
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

/* Geometry shared by the drawing and the mouse handler, so a click lands
 * on the row and slider position drawn under it. */
void tui_layers_slider_span(bl_rect r, int *x0, int *w)
{
    *x0 = r.x + 12;
    *w = r.w - 12 - 8;
}

bl_rect tui_layers_body(bl_rect r)
{
    if (r.h >= 3)
        return (bl_rect){ r.x, r.y + 1, r.w, r.h - 1 }; /* below the title row */
    return r;
}

int tui_layers_first_row(const bl_tui_state *s, bl_rect body)
{
    return s->sel >= body.h ? s->sel - body.h + 1 : 0; /* keep the selection in view */
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
    int first = tui_layers_first_row(s, in);
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

/* ---------------------------------------------------------------- input */

static const char *const fault_kinds[] = { "bitflip", "asym:ratio=10", "asym:ratio=0.1", "stuck" };

/* f: the next fault kind: the built-in presets, then every other
 * registered kind (plugins). */
static void next_fault(bl_tui *t)
{
    size_t n = sizeof fault_kinds / sizeof *fault_kinds;
    size_t nreg = bl_fault_registry_count(t->reg);
    const char *names[32];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        names[k++] = fault_kinds[i];
    for (size_t i = 0; i < nreg && k < 32; i++) {
        const char *nm = bl_fault_kind_name(bl_fault_registry_at(t->reg, i));
        if (strcmp(nm, "bitflip") && strcmp(nm, "asym") && strcmp(nm, "stuck"))
            names[k++] = nm;
    }
    size_t cur = 0;
    for (size_t i = 0; i < k; i++)
        if (strcmp(names[i], t->s.fault_kind) == 0)
            cur = i;
    tui_action(t, "betlab.ui.set_fault(\"%s\")", names[(cur + 1) % k]);
}

/* The selected slider (a layer, or all layers) to v. */
static void set_ber(bl_tui *t, double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.3g", v);
    t->last_key_t = bl_now();
    if (t->s.sel < t->s.nlayers)
        tui_action(t, "betlab.ui.set_ber(\"%s\", %s)", t->s.layers[t->s.sel].name, b);
    else
        tui_action(t, "betlab.ui.set_ber(\"*\", %s)", b);
}

static double sel_ber(bl_tui *t)
{
    if (t->s.sel < t->s.nlayers)
        return t->s.layers[t->s.sel].ber;
    return t->s.global_ber < 0 ? tui_state_current_ber(&t->s) : t->s.global_ber;
}

static void step(bl_tui *t, int steps, int coarse)
{
    set_ber(t, tui_ber_step(sel_ber(t), steps, coarse));
}

/* Rows: the layers, "all layers", then the fault/seed row. */
static void select_row(bl_tui *t, int row)
{
    int rows = t->s.nlayers + 2;
    if (row < 0)
        row = 0;
    if (row >= rows)
        row = rows - 1;
    if (row == t->s.sel)
        return;
    if (row < t->s.nlayers)
        tui_action(t, "betlab.ui.select(\"%s\")", t->s.layers[row].name);
    else if (row == t->s.nlayers)
        tui_action(t, "betlab.ui.select(\"*\")");
    else
        t->s.sel = row; /* the fault/seed row: view only */
}

static void edit_start(bl_tui *t)
{
    t->s.edit_active = 1;
    t->s.edit_buf[0] = 0;
}

/* The typed-value editor (Enter opens it): digits and exponent, Enter
 * sets the selected slider, Esc cancels. */
static void edit_key(bl_tui *t, int key, int is_char)
{
    bl_tui_state *s = &t->s;
    size_t n = strlen(s->edit_buf);
    if (is_char && (key == '\r' || key == '\n')) {
        s->edit_active = 0;
        char *end;
        double v = strtod(s->edit_buf, &end);
        if (end == s->edit_buf || *end)
            tui_status(t, 1, "not a number: '%s'", s->edit_buf);
        else
            set_ber(t, v);
    } else if (!is_char && key == KEY_ENTER) {
        edit_key(t, '\r', 1);
    } else if ((is_char && (key == 27 || key == 7)) || (!is_char && key == KEY_EXIT)) {
        s->edit_active = 0;
    } else if ((!is_char && key == KEY_BACKSPACE) || (is_char && (key == 127 || key == 8))) {
        if (n)
            s->edit_buf[n - 1] = 0;
    } else if (is_char && key < 128 && strchr("0123456789.eE-+", key) && n + 1 < sizeof s->edit_buf) {
        s->edit_buf[n] = (char)key;
        s->edit_buf[n + 1] = 0;
    }
}

static int char_key(bl_tui *t, int key)
{
    bl_tui_state *s = &t->s;
    switch (key) {
    case 'j': select_row(t, s->sel + 1); return 1;
    case 'k': select_row(t, s->sel - 1); return 1;
    case 'h': step(t, -1, 0); return 1;
    case 'l': step(t, 1, 0); return 1;
    case 'H': step(t, -1, 1); return 1;
    case 'L': step(t, 1, 1); return 1;
    case '0': set_ber(t, 0); return 1;
    case '\r': case '\n': edit_start(t); return 1;
    case 'f': next_fault(t); return 1;
    case '+': case '=':
        tui_action(t, "betlab.ui.set_seed(%llu)", (unsigned long long)s->seed + 1);
        return 1;
    case '-':
        if (s->seed > 0)
            tui_action(t, "betlab.ui.set_seed(%llu)", (unsigned long long)s->seed - 1);
        return 1;
    }
    return 0;
}

static int key(bl_tui *t, int k, int is_char)
{
    if (t->s.edit_active) {
        edit_key(t, k, is_char);
        return 1;
    }
    if (is_char)
        return char_key(t, k);
    switch (k) {
    case KEY_DOWN: select_row(t, t->s.sel + 1); return 1;
    case KEY_UP: select_row(t, t->s.sel - 1); return 1;
    case KEY_LEFT: step(t, -1, 0); return 1;
    case KEY_RIGHT: step(t, 1, 0); return 1;
    case KEY_SLEFT: case KEY_NPAGE: step(t, -1, 1); return 1;
    case KEY_SRIGHT: case KEY_PPAGE: step(t, 1, 1); return 1;
    case KEY_ENTER: edit_start(t); return 1;
    }
    return 0;
}

/* The wheel steps the selected slider wherever the pointer is (keys.c
 * passes wheel events the other panels leave); a click on a row selects
 * it, a click on a slider also sets that BER from the position. */
static int mouse(bl_tui *t, bl_rect r, int x, int y, int button)
{
    if (button == TUI_MOUSE_WHEEL_UP || button == TUI_MOUSE_WHEEL_DOWN) {
        step(t, button == TUI_MOUSE_WHEEL_UP ? 1 : -1, 0);
        return 1;
    }
    bl_rect in = tui_layers_body(r);
    if (button != TUI_MOUSE_LEFT || x < in.x || x >= in.x + in.w || y < in.y || y >= in.y + in.h)
        return 0;
    int row = tui_layers_first_row(&t->s, in) + (y - in.y);
    select_row(t, row); /* below the last row: the last row */
    int sx, sw;
    tui_layers_slider_span(in, &sx, &sw);
    if (row <= t->s.nlayers && x >= sx && x < sx + sw && sw > 1)
        set_ber(t, tui_ber_from_frac((double)(x - sx) / (sw - 1)));
    return 1;
}

const bl_panel tui_panel_layers = {
    "layers", draw, key,
    "j/k layer  h/l BER  H/L decade  0 zero  Enter type  f fault  +/- seed  p pin",
    mouse
};
