/* grid.c - cell grid and diff (see grid.h). */
#include "tui/grid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bl_grid_init(bl_grid *g, int w, int h)
{
    if (w < 0)
        w = 0;
    if (h < 0)
        h = 0;
    bl_cell *c = calloc((size_t)w * h + 1, sizeof *c);
    if (!c)
        return -1;
    free(g->cells);
    g->cells = c;
    g->w = w;
    g->h = h;
    bl_grid_clear(g);
    return 0;
}

void bl_grid_free(bl_grid *g)
{
    free(g->cells);
    g->cells = NULL;
    g->w = g->h = 0;
}

void bl_grid_clear(bl_grid *g)
{
    for (size_t i = 0; i < (size_t)g->w * g->h; i++) {
        g->cells[i].cp = ' ';
        g->cells[i].style = ST_NORMAL;
    }
}

void bl_grid_put(bl_grid *g, int x, int y, uint32_t cp, int style)
{
    bl_cell *c = bl_grid_at(g, x, y);
    if (c) {
        c->cp = cp;
        c->style = (uint8_t)style;
    }
}

int bl_utf8_decode(const char *str, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (!n) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = s[0] & (0x3F >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

int bl_utf8_encode(uint32_t cp, char out[5])
{
    int n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    out[n] = 0;
    return n;
}

int bl_grid_text(bl_grid *g, int x, int y, int max, int style, const char *s)
{
    int n = 0;
    while (*s && (max < 0 || n < max) && x + n < g->w) {
        uint32_t cp;
        s += bl_utf8_decode(s, &cp);
        if (cp == '\n' || cp == '\t')
            cp = ' ';
        if (cp < 0x20)
            cp = '?';
        bl_grid_put(g, x + n, y, cp, style);
        n++;
    }
    return n;
}

int bl_grid_printf(bl_grid *g, int x, int y, int max, int style, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return bl_grid_text(g, x, y, max, style, buf);
}

void bl_grid_fill(bl_grid *g, bl_rect r, uint32_t cp, int style)
{
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            bl_grid_put(g, x, y, cp, style);
}

void bl_grid_style(bl_grid *g, bl_rect r, int style)
{
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            bl_cell *c = bl_grid_at(g, x, y);
            if (c)
                c->style = (uint8_t)style;
        }
}

static int same(const bl_cell *a, const bl_cell *b) { return a->cp == b->cp && a->style == b->style; }

size_t bl_grid_diff(const bl_grid *prev, const bl_grid *next, bl_grid_run_fn fn, void *ctx)
{
    int all = !prev || prev->w != next->w || prev->h != next->h;
    size_t changed = 0;
    for (int y = 0; y < next->h; y++) {
        const bl_cell *nr = &next->cells[(size_t)y * next->w];
        const bl_cell *pr = all ? NULL : &prev->cells[(size_t)y * prev->w];
        int x = 0;
        while (x < next->w) {
            if (pr && same(&pr[x], &nr[x])) {
                x++;
                continue;
            }
            int start = x;
            uint8_t st = nr[x].style;
            while (x < next->w && nr[x].style == st && !(pr && same(&pr[x], &nr[x])))
                x++;
            changed += (size_t)(x - start);
            if (fn)
                fn(ctx, start, y, nr + start, x - start);
        }
    }
    return changed;
}

char *bl_grid_to_text(const bl_grid *g)
{
    size_t cap = (size_t)g->w * g->h * 4 + g->h + 1, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (int y = 0; y < g->h; y++) {
        size_t line = n, keep = n;
        for (int x = 0; x < g->w; x++) {
            char u[5];
            uint32_t cp = g->cells[(size_t)y * g->w + x].cp;
            int k = bl_utf8_encode(cp, u);
            memcpy(out + n, u, (size_t)k);
            n += (size_t)k;
            if (cp != ' ')
                keep = n;
        }
        (void)line;
        n = keep;
        out[n++] = '\n';
    }
    out[n] = 0;
    return out;
}
