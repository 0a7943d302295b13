/* plot.h - plots drawn into a cell grid: line plots with confidence bands
 * and a vertical marker, vertical-bar histograms, horizontal bars.
 *
 * Three renderings: BRAILLE (2x4 dots per cell, U+2800..U+28FF), BLOCK
 * (half blocks, 1x2 per cell; eighth blocks for bars) and ASCII.  Pure:
 * the same inputs give the same cells (tests/unit/test_tui_plot.c), and
 * the Lua binding betlab.ui.plot returns them as text. */
#ifndef BL_TUI_PLOT_H
#define BL_TUI_PLOT_H

#include <stddef.h>

#include "tui/grid.h"

enum { BL_PLOT_BRAILLE = 0, BL_PLOT_BLOCK = 1, BL_PLOT_ASCII = 2 };

typedef struct bl_plot_series {
    const double *x, *y;      /* n points, x increasing                   */
    const double *lo, *hi;    /* optional band (NULL: none)               */
    size_t n;
    int style, band_style;
} bl_plot_series;

typedef struct bl_plot_opts {
    double xmin, xmax, ymin, ymax;
    int logx;                 /* x mapped through log10 (x <= 0 -> xmin)  */
    int mode;                 /* BL_PLOT_*                                */
    double marker;            /* x of a vertical marker; NAN: none        */
    int marker_style;
} bl_plot_opts;

/* Line plot (points joined by straight segments) with bands behind. */
void bl_plot_lines(bl_grid *g, bl_rect r, const bl_plot_opts *o, const bl_plot_series *s,
                   int nseries);
/* Column of cell x (relative to r) for data x; -1 when outside. */
int bl_plot_x_to_col(const bl_plot_opts *o, bl_rect r, double x);

/* Vertical bars: value v[i] in column r.x + i (i < r.w), height
 * v / vmax * r.h cells in eighths (BLOCK/BRAILLE) or whole cells with a
 * half mark (ASCII). */
void bl_plot_bars(bl_grid *g, bl_rect r, const double *v, int n, double vmax, int mode,
                  int style);
/* Horizontal bar of frac (0..1) of w cells at (x, y), eighths in BLOCK. */
void bl_plot_hbar(bl_grid *g, int x, int y, int w, double frac, int mode, int style);

#endif
