/* layout.h - panel rectangles as a pure function of the terminal size.
 *
 * 80x24 (and up): header, layers | accuracy over margins + importance,
 * console, status.  Below that panels drop in a fixed order (importance,
 * margins, the accuracy curve, then the console shrinks to its edit line);
 * at 20x6 header, layers, console line and status remain.  A hidden panel
 * has w == 0 and h == 0.  Demo mode: bigger plots, no importance. */
#ifndef BL_TUI_LAYOUT_H
#define BL_TUI_LAYOUT_H

#include "tui/grid.h"

enum {
    PANEL_HEADER = 0, PANEL_LAYERS, PANEL_ACCURACY, PANEL_MARGINS, PANEL_IMPORTANCE,
    PANEL_CONSOLE, PANEL_STATUS, PANEL_COUNT
};

typedef struct bl_layout {
    int w, h;
    bl_rect r[PANEL_COUNT];
} bl_layout;

/* nlayers: rows the layers panel would like (its content lines). */
void bl_layout_compute(int w, int h, int nlayers, int demo, bl_layout *out);
static inline int bl_rect_visible(bl_rect r) { return r.w > 0 && r.h > 0; }

#endif
