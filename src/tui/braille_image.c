/* braille_image.c - a small grey image drawn in braille dots (the cluster
 * view's exemplars; see tui_braille_image in tui.h).  Pure; kept apart
 * from panel_cluster.c so that unit tests link it alone. */
#include "tui/tui.h"

int tui_braille_image(bl_grid *g, int x, int y, const float *img, int h, int w, int step,
                      double thr, int ascii, int style)
{
    if (step < 1)
        step = 1;
    int dw = (w + step - 1) / step, dh = (h + step - 1) / step; /* dots */
    int cw = (dw + 1) / 2, ch = (dh + 3) / 4;                  /* cells */
    static const unsigned dot[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 },
                                        { 0x40, 0x80 } };
    for (int cy = 0; cy < ch; cy++)
        for (int cx = 0; cx < cw; cx++) {
            unsigned bits = 0;
            int count = 0;
            for (int dy = 0; dy < 4; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int px = (cx * 2 + dx) * step, py = (cy * 4 + dy) * step;
                    if (px >= w || py >= h)
                        continue;
                    double sum = 0;
                    int m = 0;
                    for (int yy = py; yy < py + step && yy < h; yy++)
                        for (int xx = px; xx < px + step && xx < w; xx++, m++)
                            sum += img[(size_t)yy * w + xx];
                    if (m && sum / m > thr) {
                        bits |= dot[dy][dx];
                        count++;
                    }
                }
            uint32_t cp;
            if (ascii)
                cp = count == 0 ? ' ' : count <= 2 ? '.' : count <= 5 ? ':' : '#';
            else
                cp = bits ? 0x2800 + bits : ' ';
            bl_grid_put(g, x + cx, y + cy, cp, style);
        }
    return cw | ch << 16;
}
