/* test_tui_grid.c - cell grid text, clipping, and the diff of two grids
 * (only changed runs are reported; a size change redraws everything). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tui/grid.h"

typedef struct runs {
    int n, x[16], y[16], len[16];
} runs;

static void cb(void *ctx, int x, int y, const bl_cell *c, int n)
{
    (void)c;
    runs *r = ctx;
    r->x[r->n] = x;
    r->y[r->n] = y;
    r->len[r->n] = n;
    r->n++;
}

static void text_and_clip(void **st)
{
    (void)st;
    bl_grid g = { 0 };
    assert_int_equal(bl_grid_init(&g, 5, 2), 0);
    assert_int_equal(bl_grid_text(&g, 1, 0, -1, ST_NORMAL, "h\xc3\xa9llo"), 4); /* clipped */
    assert_int_equal(bl_grid_at(&g, 2, 0)->cp, 0xE9);
    char *t = bl_grid_to_text(&g);
    assert_string_equal(t, " h\xc3\xa9ll\n\n");
    free(t);
    bl_grid_free(&g);
}

static void diff_runs(void **st)
{
    (void)st;
    bl_grid a = { 0 }, b = { 0 };
    bl_grid_init(&a, 10, 3);
    bl_grid_init(&b, 10, 3);
    runs r = { 0 };
    assert_int_equal(bl_grid_diff(&a, &b, cb, &r), 0);
    assert_int_equal(r.n, 0);
    bl_grid_text(&b, 2, 1, -1, ST_NORMAL, "abc");
    bl_grid_text(&b, 5, 1, -1, ST_BAD, "de");   /* same row, other style: new run */
    bl_grid_put(&b, 9, 2, 'z', ST_NORMAL);
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_grid_diff(&a, &b, cb, &r), 6);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.x[0], 2);
    assert_int_equal(r.len[0], 3);
    assert_int_equal(r.x[1], 5);
    assert_int_equal(r.len[1], 2);
    assert_int_equal(r.y[2], 2);
    assert_int_equal(r.x[2], 9);
    /* a style-only change is a change */
    bl_grid c = { 0 };
    bl_grid_init(&c, 10, 3);
    memcpy(c.cells, b.cells, sizeof(bl_cell) * 30);
    bl_grid_at(&c, 2, 1)->style = ST_ACCENT;
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_grid_diff(&b, &c, cb, &r), 1);
    /* size change: everything */
    bl_grid d = { 0 };
    bl_grid_init(&d, 4, 2);
    assert_int_equal(bl_grid_diff(&a, &d, NULL, NULL), 8);
    assert_int_equal(bl_grid_diff(NULL, &d, NULL, NULL), 8);
    bl_grid_free(&a);
    bl_grid_free(&b);
    bl_grid_free(&c);
    bl_grid_free(&d);
}

static void utf8(void **st)
{
    (void)st;
    char b[5];
    uint32_t cp;
    assert_int_equal(bl_utf8_encode(0x2840, b), 3);
    assert_int_equal(bl_utf8_decode(b, &cp), 3);
    assert_int_equal(cp, 0x2840);
    assert_int_equal(bl_utf8_decode("\xff", &cp), 1);
    assert_int_equal(cp, 0xFFFD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_and_clip),
        cmocka_unit_test(diff_runs),
        cmocka_unit_test(utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
