/* plot.c - line plots, bands, bars into a cell grid (see plot.h). */
#include "tui/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pixel resolution per cell of each mode. */
static void res(int mode, int *px, int *py)
{
    *px = mode == BL_PLOT_BRAILLE ? 2 : 1;
    *py = mode == BL_PLOT_BRAILLE ? 4 : mode == BL_PLOT_BLOCK ? 2 : 1;
}

static double xnorm(const bl_plot_opts *o, double x)
{
    double a = o->xmin, b = o->xmax;
    if (o->logx) {
        a = log10(a);
        b = log10(b);
        x = x > 0 ? log10(x) : a;
    }
    if (!(b > a))
        return 0;
    return (x - a) / (b - a);
}

static double ynorm(const bl_plot_opts *o, double y)
{
    if (!(o->ymax > o->ymin))
        return 0;
    return (y - o->ymin) / (o->ymax - o->ymin);
}

/* Pixel canvas: 0 empty, 1 band, 2 curve (per series style kept aside). */
typedef struct canvas {
    int W, H;
    unsigned char *v;   /* 0 none, 1 band, 2 curve */
    unsigned char *st;  /* style per pixel */
} canvas;

static void set_px(canvas *c, int x, int y, int kind, int style)
{
    if (x < 0 || y < 0 || x >= c->W || y >= c->H)
        return;
    size_t i = (size_t)y * c->W + x;
    if (c->v[i] <= kind) {
        c->v[i] = (unsigned char)kind;
        c->st[i] = (unsigned char)style;
    }
}

static int px_x(const bl_plot_opts *o, int W, double x)
{
    double t = xnorm(o, x);
    return (int)lround(t * (W - 1));
}
static int px_y(const bl_plot_opts *o, int H, double y)
{
    double t = ynorm(o, y);
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    return (H - 1) - (int)lround(t * (H - 1));
}

static void line(canvas *c, int x0, int y0, int x1, int y1, int style)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        set_px(c, x0, y0, 2, style);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

int bl_plot_x_to_col(const bl_plot_opts *o, bl_rect r, double x)
{
    if (isnan(x) || r.w <= 0)
        return -1;
    double t = xnorm(o, x);
    if (t < 0 || t > 1)
        return -1;
    return (int)lround(t * (r.w - 1));
}

void bl_plot_lines(bl_grid *g, bl_rect r, const bl_plot_opts *o, const bl_plot_series *s,
                   int ns)
{
    if (r.w <= 0 || r.h <= 0)
        return;
    int rx, ry;
    res(o->mode, &rx, &ry);
    canvas c = { r.w * rx, r.h * ry, NULL, NULL };
    c.v = calloc((size_t)c.W * c.H, 1);
    c.st = calloc((size_t)c.W * c.H, 1);
    if (!c.v || !c.st) {
        free(c.v);
        free(c.st);
        return;
    }
    /* bands first (lower priority), interpolated per pixel column */
    for (int k = 0; k < ns; k++) {
        const bl_plot_series *se = &s[k];
        if (!se->lo || !se->hi || se->n == 0)
            continue;
        for (size_t i = 0; i + 1 < se->n || (se->n == 1 && i == 0); i++) {
            size_t j = se->n == 1 ? i : i + 1;
            int xa = px_x(o, c.W, se->x[i]), xb = px_x(o, c.W, se->x[j]);
            for (int x = xa; x <= xb; x++) {
                double t = xb > xa ? (double)(x - xa) / (xb - xa) : 0;
                double lo = se->lo[i] + t * (se->lo[j] - se->lo[i]);
                double hi = se->hi[i] + t * (se->hi[j] - se->hi[i]);
                int ya = px_y(o, c.H, hi), yb = px_y(o, c.H, lo);
                for (int y = ya; y <= yb; y++)
                    if (o->mode != BL_PLOT_BRAILLE || ((x + y) & 1) == 0)
                        set_px(&c, x, y, 1, se->band_style);
            }
            if (se->n == 1)
                break;
        }
    }
    for (int k = 0; k < ns; k++) {
        const bl_plot_series *se = &s[k];
        for (size_t i = 0; i < se->n; i++) {
            int x0 = px_x(o, c.W, se->x[i]), y0 = px_y(o, c.H, se->y[i]);
            if (i + 1 < se->n)
                line(&c, x0, y0, px_x(o, c.W, se->x[i + 1]), px_y(o, c.H, se->y[i + 1]),
                     se->style);
            else
                set_px(&c, x0, y0, 2, se->style);
        }
    }
    int mcol = bl_plot_x_to_col(o, r, o->marker);
    /* cells */
    for (int cy = 0; cy < r.h; cy++)
        for (int cx = 0; cx < r.w; cx++) {
            int curve = 0, band = 0, style = ST_NORMAL, bstyle = ST_BAND;
            unsigned bits = 0;
            for (int dy = 0; dy < ry; dy++)
                for (int dx = 0; dx < rx; dx++) {
                    size_t i = (size_t)(cy * ry + dy) * c.W + (cx * rx + dx);
                    if (!c.v[i])
                        continue;
                    if (c.v[i] == 2) {
                        curve = 1;
                        style = c.st[i];
                    } else {
                        band = 1;
                        bstyle = c.st[i];
                    }
                    if (o->mode == BL_PLOT_BRAILLE) {
                        static const unsigned dot[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 },
                                                            { 0x04, 0x20 }, { 0x40, 0x80 } };
                        bits |= dot[dy][dx];
                    } else
                        bits |= 1u << (dy * 2 + (c.v[i] == 2 ? 1 : 0));
                }
            uint32_t cp = 0;
            int st = curve ? style : bstyle;
            if (o->mode == BL_PLOT_BRAILLE) {
                if (bits)
                    cp = 0x2800 + bits;
            } else if (o->mode == BL_PLOT_BLOCK) {
                int top = (bits & 2) != 0, bot = (bits & 8) != 0;
                if (top && bot)
                    cp = 0x2588;  /* full block */
                else if (top)
                    cp = 0x2580;  /* upper half */
                else if (bot)
                    cp = 0x2584;  /* lower half */
                else if (band)
                    cp = 0x2591;  /* light shade */
            } else {
                if (curve)
                    cp = '*';
                else if (band)
                    cp = ':';
            }
            if (!cp && cx == mcol) {
                cp = o->mode == BL_PLOT_ASCII ? '|' : 0x2502;
                st = o->marker_style;
            } else if (cx == mcol && curve) {
                st = o->marker_style;  /* the marker crosses the curve here */
            }
            if (cp)
                bl_grid_put(g, r.x + cx, r.y + cy, cp, st);
        }
    free(c.v);
    free(c.st);
}

void bl_plot_bars(bl_grid *g, bl_rect r, const double *v, int n, double vmax, int mode,
                  int style)
{
    if (r.w <= 0 || r.h <= 0 || !(vmax > 0))
        return;
    for (int i = 0; i < n && i < r.w; i++) {
        double f = v[i] / vmax;
        if (!(f > 0))
            continue;
        if (f > 1)
            f = 1;
        long eighths = lround(f * r.h * 8);
        if (eighths == 0)
            eighths = 1;  /* a non-zero bin stays visible */
        for (int row = 0; row < r.h && eighths > 0; row++) {
            int y = r.y + r.h - 1 - row;
            long e = eighths >= 8 ? 8 : eighths;
            uint32_t cp;
            if (mode == BL_PLOT_ASCII)
                cp = e >= 8 ? '#' : e >= 4 ? ':' : '.';
            else
                cp = e >= 8 ? 0x2588 : 0x2580 + (uint32_t)e; /* U+2581..U+2587 */
            bl_grid_put(g, r.x + i, y, cp, style);
            eighths -= 8;
        }
    }
}

void bl_plot_hbar(bl_grid *g, int x, int y, int w, double frac, int mode, int style)
{
    if (w <= 0 || !(frac > 0))
        return;
    if (frac > 1)
        frac = 1;
    long eighths = lround(frac * w * 8);
    if (eighths == 0)
        eighths = 1;
    for (int i = 0; i < w && eighths > 0; i++) {
        long e = eighths >= 8 ? 8 : eighths;
        uint32_t cp;
        if (mode == BL_PLOT_ASCII)
            cp = e >= 4 ? '#' : '.';
        else
            cp = e >= 8 ? 0x2588 : 0x2590 - (uint32_t)e; /* U+258F (1/8) .. U+2589 (7/8) */
        bl_grid_put(g, x + i, y, cp, style);
        eighths -= 8;
    }
}
