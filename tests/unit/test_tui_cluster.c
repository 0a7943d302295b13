/* test_tui_cluster.c - the cluster view: exact cells of braille images
 * (tui_braille_image) and the cluster layout at many terminal sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tui/tui.h"

static char *draw_img(const float *img, int h, int w, int step, int ascii, int gw, int gh,
                      int *used)
{
    bl_grid g = { 0 };
    bl_grid_init(&g, gw, gh);
    *used = tui_braille_image(&g, 0, 0, img, h, w, step, 0.5, ascii, ST_NORMAL);
    char *t = bl_grid_to_text(&g);
    bl_grid_free(&g);
    return t;
}

/* a 4x2 image: one cell; dots map to the braille bits 1,2,3,7 / 4,5,6,8 */
static void one_cell_dots(void **st)
{
    (void)st;
    int used;
    float all[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    char *t = draw_img(all, 4, 2, 1, 0, 2, 1, &used);
    assert_string_equal(t, "\xe2\xa3\xbf\n");   /* U+28FF: all eight dots */
    assert_int_equal(used, 1 | 1 << 16);
    free(t);
    float left[8] = { 1, 0, 1, 0, 1, 0, 1, 0 };  /* left column: dots 1,2,3,7 = 0x47 */
    t = draw_img(left, 4, 2, 1, 0, 2, 1, &used);
    assert_string_equal(t, "\xe2\xa1\x87\n");   /* U+2847 */
    free(t);
    float tr[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };    /* top right: dot 4 = 0x08 */
    t = draw_img(tr, 4, 2, 1, 0, 2, 1, &used);
    assert_string_equal(t, "\xe2\xa0\x88\n");   /* U+2808 */
    free(t);
    float none[8] = { 0.5f, 0, 0.2f, 0, 0, 0, 0, 0.49f }; /* not above the threshold */
    t = draw_img(none, 4, 2, 1, 0, 2, 1, &used);
    assert_string_equal(t, "\n");
    free(t);
}

/* 28x28 -> 14x7 cells at step 1, 7x4 at step 2; a full image is all U+28FF
 * except the partial last row at step 2 (14 dot rows: 4 + 4 + 4 + 2) */
static void mnist_sizes(void **st)
{
    (void)st;
    float *img = malloc(28 * 28 * sizeof *img);
    for (int i = 0; i < 28 * 28; i++)
        img[i] = 1;
    int used;
    char *t = draw_img(img, 28, 28, 1, 0, 20, 9, &used);
    assert_int_equal(used & 0xffff, 14);
    assert_int_equal(used >> 16, 7);
    int rows = 0;
    for (char *p = t; *p; p++)
        rows += *p == '\n';
    assert_int_equal(rows, 9);   /* 7 image rows, then 2 empty ones */
    assert_int_equal(strlen(t), 7 * (14 * 3 + 1) + 2);
    free(t);
    t = draw_img(img, 28, 28, 2, 0, 20, 10, &used);
    assert_int_equal(used & 0xffff, 7);
    assert_int_equal(used >> 16, 4);
    /* last cell row: dots in rows 0..1 only = dots 1,2,4,5 = 0x1b -> U+281B */
    assert_non_null(strstr(t, "\xe2\xa0\x9b"));
    free(t);
    free(img);
}

/* step averages: a 2x2 block of mean 0.5 is not above 0.5, of 0.75 is */
static void step_means(void **st)
{
    (void)st;
    float img[4 * 4] = { 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    int used;
    char *t = draw_img(img, 4, 4, 2, 0, 2, 1, &used);
    /* dots: (0,0) mean .5 off, (1,0) mean .75 on = dot 4 (0x08) */
    assert_string_equal(t, "\xe2\xa0\x88\n");
    assert_int_equal(used, 1 | 1 << 16);
    free(t);
}

static void ascii_fallback(void **st)
{
    (void)st;
    float img[4 * 8];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++)  /* cells: 0, 1..2, 3..5, 6..8 dots */
            img[y * 8 + x] = (x < 2) ? 0 : (x < 4) ? (y == 0) : (x < 6) ? (y < 2) : 1;
    int used;
    char *t = draw_img(img, 4, 8, 1, 1, 4, 1, &used);
    assert_string_equal(t, " .:#\n");
    free(t);
}

static void clipped(void **st)
{
    (void)st;
    float img[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        img[i] = 1;
    bl_grid g = { 0 };
    bl_grid_init(&g, 5, 3);
    tui_braille_image(&g, 2, 1, img, 28, 28, 1, 0.5, 0, ST_NORMAL);  /* mostly off-grid */
    char *t = bl_grid_to_text(&g);
    assert_string_equal(t, "\n  \xe2\xa3\xbf\xe2\xa3\xbf\xe2\xa3\xbf\n  \xe2\xa3\xbf\xe2\xa3\xbf\xe2\xa3\xbf\n");
    free(t);
    bl_grid_free(&g);
}

/* the cluster layout: one rect replaces the right-hand panels (or the
 * layers in one column); nothing overlaps; within the screen */
static void layout_sizes(void **st)
{
    (void)st;
    for (int w = 1; w <= 200; w += 3)
        for (int h = 1; h <= 60; h += 2) {
            bl_layout L;
            bl_layout_compute(w, h, 3, 0, &L);
            bl_layout_cluster(&L);
            assert_false(bl_rect_visible(L.r[PANEL_MARGINS]));
            assert_false(bl_rect_visible(L.r[PANEL_IMPORTANCE]));
            for (int a = 0; a < PANEL_COUNT; a++) {
                bl_rect r = L.r[a];
                if (!bl_rect_visible(r))
                    continue;
                assert_true(r.x >= 0 && r.y >= 0 && r.x + r.w <= w && r.y + r.h <= h);
                for (int b = a + 1; b < PANEL_COUNT; b++) {
                    bl_rect q = L.r[b];
                    if (!bl_rect_visible(q))
                        continue;
                    int ov = r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h &&
                             q.y < r.y + r.h;
                    assert_false(ov);
                }
            }
        }
    bl_layout L;
    bl_layout_compute(80, 24, 3, 0, &L);
    bl_layout_cluster(&L);
    /* 80x24: the cluster panel holds a title, two lines, a plot and 28x28 images */
    assert_true(L.r[PANEL_ACCURACY].w >= 40 && L.r[PANEL_ACCURACY].h >= 12);
    assert_true(bl_rect_visible(L.r[PANEL_LAYERS]));
    bl_layout_compute(40, 12, 3, 0, &L);
    bl_layout_cluster(&L);
    assert_true(bl_rect_visible(L.r[PANEL_ACCURACY]));   /* takes the layers' place */
    assert_true(bl_rect_visible(L.r[PANEL_CONSOLE]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_cell_dots), cmocka_unit_test(mnist_sizes),
        cmocka_unit_test(step_means),    cmocka_unit_test(ascii_fallback),
        cmocka_unit_test(clipped),       cmocka_unit_test(layout_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
