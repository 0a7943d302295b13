/* test_tui_panels.c - the layers panel's own key and mouse handlers, and
 * keys.c's dispatch to them, on a workbench built without a terminal:
 * three named layers, a fault registry and the Lua executor with
 * betlab.ui, as app.c sets it up, but no model, data or jobs (the
 * betlab.ui calls only change the state then).  Every action must go
 * through its betlab.ui Lua call: the tests check both the state and the
 * call echoed into the console. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "lua/executor.h"
#include "tui/tui.h"

static bl_tui g_tui; /* large */

/* cmocka 1.1 has no assert_double_equal */
#define assert_double_equal(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static int setup(void **st)
{
    bl_tui *t = &g_tui;
    memset(t, 0, sizeof *t);
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&t->reg, &err), 0);
    const char *names[3] = { "fc1", "fc2", "fc3" };
    for (int i = 0; i < 3; i++) {
        snprintf(t->s.layers[i].name, sizeof t->s.layers[i].name, "%s", names[i]);
        t->s.layers[i].index = i;
        t->s.layers[i].bits = 1000;
    }
    t->s.nlayers = 3;
    t->s.seed = 1;
    snprintf(t->s.fault_kind, sizeof t->s.fault_kind, "bitflip");
    t->s.focus = PANEL_LAYERS;
    t->exec = bl_exec_new(tui_console_sink, t);
    assert_non_null(t->exec);
    tui_lua_open(t);
    bl_layout_compute(80, 24, t->s.nlayers, 0, &t->layout);
    *st = t;
    return 0;
}

static int teardown(void **st)
{
    bl_tui *t = *st;
    tui_lua_close(t);
    bl_exec_free(t->exec);
    for (int i = 0; i < t->nlines; i++)
        free(t->lines[(t->first + i) % TUI_SCROLL].text);
    free(t->chunk);
    bl_fault_registry_free(t->reg);
    return 0;
}

/* The last line echoed into the console that starts with "> ". */
static const char *last_call(bl_tui *t)
{
    for (int i = t->nlines - 1; i >= 0; i--) {
        const char *l = t->lines[(t->first + i) % TUI_SCROLL].text;
        if (strncmp(l, "> ", 2) == 0)
            return l + 2;
    }
    return "";
}

static int ncalls(bl_tui *t)
{
    int n = 0;
    for (int i = 0; i < t->nlines; i++)
        n += strncmp(t->lines[(t->first + i) % TUI_SCROLL].text, "> ", 2) == 0;
    return n;
}

static int layers_key(bl_tui *t, int key, int is_char)
{
    return tui_panel_layers.key(t, key, is_char);
}

/* what the panel sends for a value: "%.3g" of it */
static double sent(double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.3g", v);
    return strtod(b, NULL);
}

static void keys_move_rows_and_sliders(void **st)
{
    bl_tui *t = *st;
    assert_int_equal(layers_key(t, 'l', 1), 1);
    double b1 = sent(tui_ber_step(0, 1, 0));
    assert_true(b1 > 0);
    assert_double_equal(t->s.layers[0].ber, b1, 1e-12);
    assert_string_equal(last_call(t), "betlab.ui.set_ber(\"fc1\", 1e-05)");
    assert_int_equal(layers_key(t, 'L', 1), 1); /* a decade up */
    double b2 = sent(tui_ber_step(b1, 1, 1));
    assert_double_equal(t->s.layers[0].ber, b2, 1e-12);
    assert_int_equal(layers_key(t, KEY_RIGHT, 0), 1);
    assert_double_equal(t->s.layers[0].ber, sent(tui_ber_step(b2, 1, 0)), 1e-12);
    assert_int_equal(layers_key(t, 'h', 1), 1);
    assert_double_equal(t->s.layers[0].ber, b2, 1e-12);
    /* rows: j / Down select through betlab.ui.select */
    assert_int_equal(layers_key(t, 'j', 1), 1);
    assert_int_equal(t->s.sel, 1);
    assert_string_equal(last_call(t), "betlab.ui.select(\"fc2\")");
    assert_int_equal(layers_key(t, KEY_DOWN, 0), 1);
    assert_int_equal(t->s.sel, 2);
    assert_int_equal(layers_key(t, 'k', 1), 1);
    assert_int_equal(t->s.sel, 1);
    assert_double_equal(t->s.layers[1].ber, 0, 0);
    /* the "all layers" row sets every layer */
    layers_key(t, 'j', 1);
    layers_key(t, 'j', 1);
    assert_int_equal(t->s.sel, 3);
    assert_string_equal(last_call(t), "betlab.ui.select(\"*\")");
    layers_key(t, 'L', 1);
    assert_string_equal(last_call(t), "betlab.ui.set_ber(\"*\", 0.001)");
    for (int i = 0; i < 3; i++)
        assert_double_equal(t->s.layers[i].ber, 1e-3, 1e-15);
    layers_key(t, '0', 1);
    for (int i = 0; i < 3; i++)
        assert_double_equal(t->s.layers[i].ber, 0, 0);
    /* the fault/seed row is view only: no call */
    int n = ncalls(t);
    layers_key(t, 'j', 1);
    assert_int_equal(t->s.sel, 4);
    assert_int_equal(ncalls(t), n);
    layers_key(t, 'j', 1); /* stays on the last row */
    assert_int_equal(t->s.sel, 4);
    /* keys it does not own are left to the global keys */
    assert_int_equal(layers_key(t, 'q', 1), 0);
    assert_int_equal(layers_key(t, '?', 1), 0);
    assert_int_equal(layers_key(t, KEY_F(1), 0), 0);
    assert_int_equal(t->quit, 0);
}

static void keys_seed_and_fault(void **st)
{
    bl_tui *t = *st;
    layers_key(t, '+', 1);
    assert_int_equal(t->s.seed, 2);
    assert_string_equal(last_call(t), "betlab.ui.set_seed(2)");
    layers_key(t, '-', 1);
    assert_int_equal(t->s.seed, 1);
    layers_key(t, 'f', 1);
    assert_string_equal(t->s.fault_kind, "asym:ratio=10");
    assert_string_equal(last_call(t), "betlab.ui.set_fault(\"asym:ratio=10\")");
}

static void typed_value(void **st)
{
    bl_tui *t = *st;
    layers_key(t, 'j', 1); /* fc2 */
    assert_int_equal(layers_key(t, '\r', 1), 1);
    assert_true(t->s.edit_active);
    const char *v = "2.5e-3";
    for (const char *p = v; *p; p++)
        layers_key(t, *p, 1);
    layers_key(t, 'x', 1); /* not part of a number: ignored */
    layers_key(t, '9', 1);
    layers_key(t, KEY_BACKSPACE, 0);
    assert_string_equal(t->s.edit_buf, "2.5e-3");
    /* the editor takes every key, global ones too (tui_key routes them) */
    assert_int_equal(tui_key(t, 'q', 1), 1);
    assert_int_equal(t->quit, 0);
    layers_key(t, KEY_BACKSPACE, 0);
    layers_key(t, '3', 1);
    assert_int_equal(tui_key(t, '\r', 1), 1);
    assert_false(t->s.edit_active);
    assert_double_equal(t->s.layers[1].ber, 2.5e-3, 1e-15);
    assert_string_equal(last_call(t), "betlab.ui.set_ber(\"fc2\", 0.0025)");
    /* Esc cancels; a bad number changes nothing and says so */
    layers_key(t, KEY_ENTER, 0);
    layers_key(t, '1', 1);
    layers_key(t, 27, 1);
    assert_false(t->s.edit_active);
    assert_double_equal(t->s.layers[1].ber, 2.5e-3, 1e-15);
    layers_key(t, '\r', 1);
    layers_key(t, '.', 1);
    layers_key(t, '\r', 1);
    assert_true(t->s.status_err);
    assert_double_equal(t->s.layers[1].ber, 2.5e-3, 1e-15);
}

/* Screen cell of the slider of row k at fraction f (0 left, 1 right). */
static void slider_cell(bl_tui *t, int k, double f, int *x, int *y)
{
    bl_rect in = tui_layers_body(t->layout.r[PANEL_LAYERS]);
    int sx, sw;
    tui_layers_slider_span(in, &sx, &sw);
    assert_true(sw > 2);
    *x = sx + (int)(f * (sw - 1) + 0.5);
    *y = in.y + k - tui_layers_first_row(&t->s, in);
}

static void mouse_clicks(void **st)
{
    bl_tui *t = *st;
    const bl_panel *p = &tui_panel_layers;
    bl_rect r = t->layout.r[PANEL_LAYERS];
    assert_true(bl_rect_visible(r));
    int x, y;
    /* right end of fc3's slider: selects fc3 and sets the top BER */
    slider_cell(t, 2, 1.0, &x, &y);
    assert_int_equal(p->mouse(t, r, x, y, TUI_MOUSE_LEFT), 1);
    assert_int_equal(t->s.sel, 2);
    assert_double_equal(t->s.layers[2].ber, TUI_BER_MAX, 1e-12);
    assert_string_equal(last_call(t), "betlab.ui.set_ber(\"fc3\", 0.5)");
    /* the middle of fc1's slider: the BER drawn there */
    slider_cell(t, 0, 0.5, &x, &y);
    p->mouse(t, r, x, y, TUI_MOUSE_LEFT);
    assert_int_equal(t->s.sel, 0);
    bl_rect in = tui_layers_body(r);
    int sx, sw;
    tui_layers_slider_span(in, &sx, &sw);
    double want = sent(tui_ber_from_frac((double)(x - sx) / (sw - 1)));
    assert_double_equal(t->s.layers[0].ber, want, want * 1e-12);
    assert_true(want > TUI_BER_MIN && want < TUI_BER_MAX);
    assert_double_equal(t->s.layers[2].ber, TUI_BER_MAX, 1e-12); /* others unchanged */
    /* a click on a row's name selects it without changing a BER */
    int n = ncalls(t);
    p->mouse(t, r, in.x + 1, y + 1, TUI_MOUSE_LEFT);
    assert_int_equal(t->s.sel, 1);
    assert_int_equal(ncalls(t), n + 1);
    assert_string_equal(last_call(t), "betlab.ui.select(\"fc2\")");
    /* the "all layers" slider sets every layer */
    slider_cell(t, 3, 0.0, &x, &y);
    p->mouse(t, r, x, y, TUI_MOUSE_LEFT);
    assert_int_equal(t->s.sel, 3);
    for (int i = 0; i < 3; i++)
        assert_double_equal(t->s.layers[i].ber, t->s.layers[0].ber, 0);
    /* wheel: one step of the selected slider */
    double b = t->s.layers[0].ber;
    assert_int_equal(p->mouse(t, r, 0, 0, TUI_MOUSE_WHEEL_UP), 1);
    assert_double_equal(t->s.layers[1].ber, sent(tui_ber_step(b, 1, 0)), 1e-15);
    /* the title row and outside the panel: not the panel's */
    n = ncalls(t);
    assert_int_equal(p->mouse(t, r, r.x + 2, r.y, TUI_MOUSE_LEFT), 0);
    assert_int_equal(p->mouse(t, r, r.x + r.w, r.y + 1, TUI_MOUSE_LEFT), 0);
    assert_int_equal(ncalls(t), n);
}

/* keys.c: the focused panel first, the sliders' keys from any panel, a
 * click focuses the panel under it and reaches the layers panel's slider. */
static void dispatch(void **st)
{
    bl_tui *t = *st;
    t->s.focus = PANEL_ACCURACY;
    assert_true(bl_rect_visible(t->layout.r[PANEL_ACCURACY]));
    assert_int_equal(tui_key(t, 'l', 1), 1);
    assert_double_equal(t->s.layers[0].ber, sent(tui_ber_step(0, 1, 0)), 1e-15);
    assert_int_equal(t->s.focus, PANEL_ACCURACY);
    /* wheel over another panel: the selected slider, focus stays */
    bl_rect a = t->layout.r[PANEL_ACCURACY];
    double b = t->s.layers[0].ber;
    assert_int_equal(tui_mouse(t, a.x + 1, a.y + 1, TUI_MOUSE_WHEEL_UP), 1);
    assert_double_equal(t->s.layers[0].ber, sent(tui_ber_step(b, 1, 0)), 1e-15);
    assert_int_equal(t->s.focus, PANEL_ACCURACY);
    /* a click on fc2's slider: focus to the layers, fc2 selected and set */
    int x, y;
    slider_cell(t, 1, 1.0, &x, &y);
    assert_int_equal(tui_mouse(t, x, y, TUI_MOUSE_LEFT), 1);
    assert_int_equal(t->s.focus, PANEL_LAYERS);
    assert_int_equal(t->s.sel, 1);
    assert_double_equal(t->s.layers[1].ber, TUI_BER_MAX, 1e-12);
    /* a click elsewhere only moves the focus */
    int n = ncalls(t);
    assert_int_equal(tui_mouse(t, a.x + 1, a.y + 1, TUI_MOUSE_LEFT), 0);
    assert_int_equal(t->s.focus, PANEL_ACCURACY);
    assert_int_equal(ncalls(t), n);
    /* global keys still work with the layers focused; Tab cycles focus */
    t->s.focus = PANEL_LAYERS;
    assert_int_equal(tui_key(t, '?', 1), 1);
    assert_true(t->s.help);
    tui_key(t, 'x', 1); /* any key closes the help */
    assert_false(t->s.help);
    tui_key(t, '\t', 1);
    assert_int_not_equal(t->s.focus, PANEL_LAYERS);
    /* the console takes every key while focused; Esc gives focus back */
    t->s.focus = PANEL_CONSOLE;
    tui_key(t, 27, 1);
    assert_int_equal(t->s.focus, PANEL_LAYERS);
    assert_int_equal(tui_key(t, 'q', 1), 1);
    assert_int_equal(t->quit, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keys_move_rows_and_sliders, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_seed_and_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(typed_value, setup, teardown),
        cmocka_unit_test_setup_teardown(mouse_clicks, setup, teardown),
        cmocka_unit_test_setup_teardown(dispatch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
