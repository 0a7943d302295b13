/* test_tui_layout.c - panel rectangles at many terminal sizes: inside the
 * screen, no overlaps, status on the last row, the right panels visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tui/layout.h"

static void check(int w, int h, int demo)
{
    bl_layout L;
    bl_layout_compute(w, h, 3, demo, &L);
    static char used[400][400];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            used[y][x] = 0;
    for (int p = 0; p < PANEL_COUNT; p++) {
        bl_rect r = L.r[p];
        if (!bl_rect_visible(r)) {
            assert_int_equal(r.w, 0);
            assert_int_equal(r.h, 0);
            continue;
        }
        assert_true(r.x >= 0 && r.y >= 0 && r.x + r.w <= w && r.y + r.h <= h);
        for (int y = r.y; y < r.y + r.h; y++)
            for (int x = r.x; x < r.x + r.w; x++) {
                assert_int_equal(used[y][x], 0); /* no overlap */
                used[y][x] = 1;
            }
    }
    assert_true(bl_rect_visible(L.r[PANEL_STATUS]));
    assert_int_equal(L.r[PANEL_STATUS].y, h - 1);
}

static void many_sizes(void **st)
{
    (void)st;
    for (int w = 1; w <= 320; w += 7)
        for (int h = 1; h <= 110; h += 3) {
            check(w, h, 0);
            check(w, h, 1);
        }
    int sizes[][2] = { { 20, 6 }, { 40, 12 }, { 80, 24 }, { 120, 40 }, { 300, 100 }, { 1, 1 } };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        check(sizes[i][0], sizes[i][1], 0);
}

static void at_80x24_everything(void **st)
{
    (void)st;
    bl_layout L;
    bl_layout_compute(80, 24, 3, 0, &L);
    for (int p = 0; p < PANEL_COUNT; p++)
        assert_true(bl_rect_visible(L.r[p]));
    assert_int_equal(L.r[PANEL_HEADER].y, 0);
    assert_true(L.r[PANEL_LAYERS].h >= 5);    /* 3 layers + all + fault */
    assert_true(L.r[PANEL_CONSOLE].h >= 4);
}

static void at_20x6_degrades(void **st)
{
    (void)st;
    bl_layout L;
    bl_layout_compute(20, 6, 3, 0, &L);
    assert_true(bl_rect_visible(L.r[PANEL_HEADER]));
    assert_true(bl_rect_visible(L.r[PANEL_LAYERS]));
    assert_true(bl_rect_visible(L.r[PANEL_CONSOLE]));
    assert_false(bl_rect_visible(L.r[PANEL_MARGINS]));
    assert_false(bl_rect_visible(L.r[PANEL_IMPORTANCE]));
}

static void demo_mode(void **st)
{
    (void)st;
    bl_layout L;
    bl_layout_compute(120, 40, 3, 1, &L);
    assert_false(bl_rect_visible(L.r[PANEL_IMPORTANCE]));
    assert_true(L.r[PANEL_ACCURACY].h >= 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_sizes),
        cmocka_unit_test(at_80x24_everything),
        cmocka_unit_test(at_20x6_degrades),
        cmocka_unit_test(demo_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
