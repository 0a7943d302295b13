/* grid.h - a cell grid (one code point + one style per cell) and the diff
 * that turns two grids into the runs of cells that changed.
 *
 * Drawing never touches the terminal: panels write into a grid; the screen
 * (screen.c) compares it with the grid it drew last and sends only the
 * changed runs.  Every cell is one column wide (ASCII, box drawing, block
 * elements, braille); code points outside that set are drawn as '?'.
 * Pure and unit-tested (tests/unit/test_tui_grid.c). */
#ifndef BL_TUI_GRID_H
#define BL_TUI_GRID_H

#include <stddef.h>
#include <stdint.h>

/* Styles: roles that screen.c maps onto colours (256/16/8/mono). */
enum {
    ST_NORMAL = 0, ST_DIM, ST_TITLE, ST_TITLE_FOCUS, ST_SELECT, ST_ACCENT, ST_GOOD, ST_BAD,
    ST_WARN, ST_CURVE, ST_BAND, ST_PIN, ST_MARKER, ST_CLEAN, ST_FAULTY, ST_STATUS, ST_ERROR,
    ST_HELP, ST_COUNT
};

typedef struct bl_cell {
    uint32_t cp;    /* Unicode code point, ' ' when empty */
    uint8_t style;
} bl_cell;

typedef struct bl_grid {
    int w, h;
    bl_cell *cells;
} bl_grid;

typedef struct bl_rect {
    int x, y, w, h;
} bl_rect;

int bl_grid_init(bl_grid *g, int w, int h);     /* 0 or -1 (no memory) */
void bl_grid_free(bl_grid *g);
void bl_grid_clear(bl_grid *g);
static inline bl_cell *bl_grid_at(bl_grid *g, int x, int y)
{
    return (x < 0 || y < 0 || x >= g->w || y >= g->h) ? NULL : &g->cells[(size_t)y * g->w + x];
}
void bl_grid_put(bl_grid *g, int x, int y, uint32_t cp, int style);
/* UTF-8 text clipped to the rect's right edge (and to max columns, <0 = no
 * limit); returns the columns written. */
int bl_grid_text(bl_grid *g, int x, int y, int max, int style, const char *utf8);
int bl_grid_printf(bl_grid *g, int x, int y, int max, int style, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void bl_grid_fill(bl_grid *g, bl_rect r, uint32_t cp, int style);
void bl_grid_style(bl_grid *g, bl_rect r, int style);

/* Decode one UTF-8 sequence: returns bytes used (>= 1), *cp = U+FFFD on error. */
int bl_utf8_decode(const char *s, uint32_t *cp);
int bl_utf8_encode(uint32_t cp, char out[5]);

/* Runs of changed cells: for each row, maximal runs of consecutive cells
 * that differ between prev and next and share one style.  prev of another
 * size (or NULL) means everything changed.  Returns the number of changed
 * cells. */
typedef void (*bl_grid_run_fn)(void *ctx, int x, int y, const bl_cell *cells, int n);
size_t bl_grid_diff(const bl_grid *prev, const bl_grid *next, bl_grid_run_fn fn, void *ctx);
/* The grid as text (rows joined by '\n', trailing blanks trimmed); malloc'ed. */
char *bl_grid_to_text(const bl_grid *g);

#endif
