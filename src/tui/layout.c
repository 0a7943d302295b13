/* layout.c - terminal size -> panel rectangles (see layout.h). */
#include "tui/layout.h"
#include "tui/tui.h"

#include <string.h>

static bl_rect R(int x, int y, int w, int h)
{
    bl_rect r = { x, y, w, h };
    if (w <= 0 || h <= 0)
        r.x = r.y = r.w = r.h = 0;
    return r;
}

void bl_layout_compute(int w, int h, int nlayers, int demo, bl_layout *L)
{
    memset(L, 0, sizeof *L);
    L->w = w;
    L->h = h;
    if (w < 1 || h < 1)
        return;
    /* status: last row; header: first row (when there are at least 2 rows) */
    L->r[PANEL_STATUS] = R(0, h - 1, w, 1);
    if (h < 2)
        return;
    L->r[PANEL_HEADER] = R(0, 0, w, 1);
    int top = 1, bottom = h - 1;   /* rows [top, bottom) are free */
    int free_rows = bottom - top;
    if (free_rows <= 0)
        return;
    /* console: title + scrollback + edit line; shrinks first to its edit line */
    int con = demo ? 4 : h >= 30 ? 9 : h >= 20 ? 6 : h >= 12 ? 4 : h >= 8 ? 2 : 1;
    if (con > free_rows - 1)
        con = free_rows - 1;
    if (con < 1)
        con = free_rows >= 1 ? 1 : 0;
    if (con >= free_rows) { /* no room for anything else */
        L->r[PANEL_CONSOLE] = R(0, top, w, free_rows);
        return;
    }
    L->r[PANEL_CONSOLE] = R(0, bottom - con, w, con);
    bottom -= con;
    int mid = bottom - top;
    int want_layers = nlayers + 4;  /* title, layers, global, fault kind, seed */
    if (w >= 60) {
        /* two columns */
        int lw = demo ? 30 : w >= 120 ? 44 : w >= 100 ? 38 : 32;
        L->r[PANEL_LAYERS] = R(0, top, lw, mid);
        int rx = lw + 1, rw = w - rx;
        if (mid >= 14 && !demo) {
            int acc = mid / 2;
            L->r[PANEL_ACCURACY] = R(rx, top, rw, acc);
            int mh = mid - acc;
            int iw = rw >= 70 ? rw * 2 / 5 : rw / 2;
            L->r[PANEL_MARGINS] = R(rx, top + acc, rw - iw - 1, mh);
            L->r[PANEL_IMPORTANCE] = R(rx + rw - iw, top + acc, iw, mh);
        } else if (mid >= 14 && demo) {
            int acc = mid * 3 / 5;
            L->r[PANEL_ACCURACY] = R(rx, top, rw, acc);
            L->r[PANEL_MARGINS] = R(rx, top + acc, rw, mid - acc);
        } else if (mid >= 8) {
            int acc = mid / 2 + 1;
            L->r[PANEL_ACCURACY] = R(rx, top, rw, acc);
            L->r[PANEL_MARGINS] = R(rx, top + acc, rw, mid - acc);
        } else {
            L->r[PANEL_ACCURACY] = R(rx, top, rw, mid);
        }
    } else {
        /* one column: layers, then the accuracy when there is room */
        int lh = want_layers < mid ? want_layers : mid;
        if (mid - lh < 4)
            lh = mid;
        L->r[PANEL_LAYERS] = R(0, top, w, lh);
        if (mid - lh >= 4)
            L->r[PANEL_ACCURACY] = R(0, top + lh, w, mid - lh);
    }
}

void bl_layout_cluster(bl_layout *L)
{
    static const int right[] = { PANEL_ACCURACY, PANEL_MARGINS, PANEL_IMPORTANCE };
    int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
    for (int i = 0; i < 3; i++) {
        bl_rect r = L->r[right[i]];
        if (!bl_rect_visible(r))
            continue;
        x0 = r.x < x0 ? r.x : x0;
        y0 = r.y < y0 ? r.y : y0;
        x1 = r.x + r.w > x1 ? r.x + r.w : x1;
        y1 = r.y + r.h > y1 ? r.y + r.h : y1;
        L->r[right[i]] = R(0, 0, 0, 0);
    }
    if (x1 >= 0) {
        L->r[PANEL_ACCURACY] = R(x0, y0, x1 - x0, y1 - y0);
    } else if (bl_rect_visible(L->r[PANEL_LAYERS])) {
        /* one column without room for the curve: the cluster panel takes the layers' place */
        L->r[PANEL_ACCURACY] = L->r[PANEL_LAYERS];
        L->r[PANEL_LAYERS] = R(0, 0, 0, 0);
    }
}
