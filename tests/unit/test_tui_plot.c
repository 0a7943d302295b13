/* test_tui_plot.c - exact cells of small plots in braille, block and ASCII;
 * bars; slider steps (state.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tui/plot.h"
#include "tui/tui.h"

static char *render(int w, int h, int mode, const double *x, const double *y, const double *lo,
                    const double *hi, size_t n, double marker)
{
    bl_grid g = { 0 };
    bl_grid_init(&g, w, h);
    bl_plot_opts o = { 0, 1, 0, 1, 0, mode, marker, ST_MARKER };
    bl_plot_series s = { x, y, lo, hi, n, ST_CURVE, ST_BAND };
    bl_rect r = { 0, 0, w, h };
    bl_plot_lines(&g, r, &o, &s, 1);
    char *t = bl_grid_to_text(&g);
    bl_grid_free(&g);
    return t;
}

static void ascii_diagonal(void **st)
{
    (void)st;
    double x[] = { 0, 1 }, y[] = { 0, 1 };
    char *t = render(3, 3, BL_PLOT_ASCII, x, y, NULL, NULL, 2, NAN);
    assert_string_equal(t, "  *\n *\n*\n");
    free(t);
}

static void ascii_band_marker(void **st)
{
    (void)st;
    double x[] = { 0, 1 }, y[] = { 0.5, 0.5 }, lo[] = { 0, 0 }, hi[] = { 1, 1 };
    char *t = render(3, 3, BL_PLOT_ASCII, x, y, lo, hi, 2, 0.5);
    assert_string_equal(t, ":::\n***\n:::\n");
    free(t);
    double y2[] = { 1, 1 };
    t = render(3, 2, BL_PLOT_ASCII, x, y2, NULL, NULL, 2, 0.5);
    assert_string_equal(t, "***\n |\n");
    free(t);
}

static void braille_line(void **st)
{
    (void)st;
    /* 1x1 cell = 2x4 dots; a horizontal line at the top row of dots */
    double x[] = { 0, 1 }, y[] = { 1, 1 };
    char *t = render(1, 1, BL_PLOT_BRAILLE, x, y, NULL, NULL, 2, NAN);
    assert_string_equal(t, "\xe2\xa0\x89\n"); /* U+2809: dots 1 and 4 */
    free(t);
    double yb[] = { 0, 0 };
    t = render(1, 1, BL_PLOT_BRAILLE, x, yb, NULL, NULL, 2, NAN);
    assert_string_equal(t, "\xe2\xa3\x80\n"); /* U+28C0: dots 7 and 8 */
    free(t);
    double xv[] = { 0, 0 }, yv[] = { 0, 1 };
    t = render(1, 1, BL_PLOT_BRAILLE, xv, yv, NULL, NULL, 2, NAN);
    assert_string_equal(t, "\xe2\xa1\x87\n"); /* U+2847: left column */
    free(t);
}

static void block_halves(void **st)
{
    (void)st;
    double x[] = { 0, 1 }, y[] = { 1, 0 };
    char *t = render(2, 1, BL_PLOT_BLOCK, x, y, NULL, NULL, 2, NAN);
    assert_string_equal(t, "\xe2\x96\x80\xe2\x96\x84\n"); /* upper half, lower half */
    free(t);
}

static void bars(void **st)
{
    (void)st;
    bl_grid g = { 0 };
    bl_grid_init(&g, 3, 2);
    double v[] = { 1, 0.5, 0.25 };
    bl_rect r = { 0, 0, 3, 2 };
    bl_plot_bars(&g, r, v, 3, 1, BL_PLOT_BLOCK, ST_CURVE);
    char *t = bl_grid_to_text(&g);
    assert_string_equal(t, "\xe2\x96\x88\n\xe2\x96\x88\xe2\x96\x88\xe2\x96\x84\n");
    free(t);
    bl_grid_clear(&g);
    bl_plot_bars(&g, r, v, 3, 1, BL_PLOT_ASCII, ST_CURVE);
    t = bl_grid_to_text(&g);
    assert_string_equal(t, "#\n##:\n");
    free(t);
    bl_grid_clear(&g);
    bl_plot_hbar(&g, 0, 0, 3, 0.5, BL_PLOT_BLOCK, ST_CURVE);
    t = bl_grid_to_text(&g);
    assert_string_equal(t, "\xe2\x96\x88\xe2\x96\x8c\n\n"); /* 1.5 cells: full, left half */
    free(t);
    bl_grid_free(&g);
}

static void ber_steps(void **st)
{
    (void)st;
    assert_true(tui_ber_step(0, 1, 0) == 1e-5);
    assert_true(tui_ber_step(1e-5, -1, 0) == 0);
    assert_true(tui_ber_step(1e-3, 1, 1) == 1e-2);
    assert_true(tui_ber_step(0.1, 3, 1) == 0.5);
    double v = 0;
    for (int i = 0; i < 200; i++) {
        double n = tui_ber_step(v, 1, 0);
        assert_true(n >= v);
        v = n;
    }
    assert_true(v == 0.5);
    assert_true(tui_ber_nice(0.0123456) == 0.012);
    assert_true(tui_ber_frac(0.5) == 1 && tui_ber_frac(0) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ascii_diagonal), cmocka_unit_test(ascii_band_marker),
        cmocka_unit_test(braille_line),   cmocka_unit_test(block_halves),
        cmocka_unit_test(bars),           cmocka_unit_test(ber_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
