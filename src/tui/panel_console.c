/* panel_console.c - the Lua console pane: scrollback (the executor's sink:
 * print, results, errors and every UI action's Lua call land here) and a
 * readline edit line driven through readline's callback interface.
 *
 * Readline never touches the terminal (DESIGN.md "Readline inside
 * curses"): keys from the curses loop are queued as bytes and handed over
 * by rl_getc_function / rl_input_available_hook; the edit line is drawn
 * from rl_line_buffer and rl_point by this panel; signals, SIGWINCH,
 * LINES/COLUMNS and the terminal modes are left alone (prep/deprep are
 * no-ops) and rl_outstream goes to /dev/null. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "lua/executor.h"
#include "tui/tui.h"

/* readline's callbacks carry no context: the one console of this process */
static bl_tui *g_con;
static unsigned char g_q[1024];
static size_t g_qh, g_qt;
static FILE *g_null;

static int q_getc(FILE *f)
{
    (void)f;
    if (g_qh == g_qt)
        return EOF;
    return g_q[g_qh++];
}
static int q_avail(void) { return g_qh != g_qt; }
static void q_push(const char *s, size_t n)
{
    if (g_qh == g_qt)
        g_qh = g_qt = 0;
    for (size_t i = 0; i < n && g_qt < sizeof g_q; i++)
        g_q[g_qt++] = (unsigned char)s[i];
}
static void no_prep(int meta) { (void)meta; }
static void no_deprep(void) {}
static void redisplay(void) { /* the panel draws rl_line_buffer on the next frame */ }

void tui_console_add(bl_tui *t, int style, const char *text)
{
    int i;
    if (t->nlines < TUI_SCROLL)
        i = (t->first + t->nlines++) % TUI_SCROLL;
    else {
        i = t->first;
        free(t->lines[i].text);
        t->first = (t->first + 1) % TUI_SCROLL;
    }
    t->lines[i].text = strdup(text);
    t->lines[i].style = style;
    t->scroll = 0;
}

void tui_console_sink(void *ctx, int stream, const char *text, size_t len)
{
    bl_tui *t = ctx;
    int st = stream == BL_SINK_ERR ? ST_BAD : ST_NORMAL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' || t->npartial + 1 >= sizeof t->partial) {
            t->partial[t->npartial] = 0;
            tui_console_add(t, st, t->partial);
            t->npartial = 0;
            if (text[i] == '\n')
                continue;
        }
        t->partial[t->npartial++] = text[i] == '\t' ? ' ' : text[i];
    }
    if (t->npartial && stream == BL_SINK_ERR) {
        t->partial[t->npartial] = 0;
        tui_console_add(t, st, t->partial);
        t->npartial = 0;
    }
}

static void flush_partial(bl_tui *t)
{
    if (t->npartial) {
        t->partial[t->npartial] = 0;
        tui_console_add(t, ST_NORMAL, t->partial);
        t->npartial = 0;
    }
}

static void on_line(char *line)
{
    bl_tui *t = g_con;
    if (!line) { /* Ctrl-D on an empty line: leave the console */
        t->s.focus = PANEL_LAYERS;
        return;
    }
    if (*line)
        add_history(line);
    char echo[600];
    snprintf(echo, sizeof echo, "%s%s", t->chunk ? ">> " : "> ", line);
    tui_console_add(t, ST_ACCENT, echo);
    size_t old = t->chunk ? strlen(t->chunk) : 0;
    char *c = realloc(t->chunk, old + strlen(line) + 2);
    if (!c) {
        free(line);
        return;
    }
    if (old)
        c[old++] = '\n';
    strcpy(c + old, line);
    t->chunk = c;
    free(line);
    int rc = bl_exec_repl(t->exec, t->chunk);
    flush_partial(t);
    if (rc == BL_EXEC_INCOMPLETE) {
        rl_set_prompt(">> ");
        return;
    }
    free(t->chunk);
    t->chunk = NULL;
    rl_set_prompt("> ");
    if (rc == BL_EXEC_HANGUP)
        t->quit = 1;
}

int tui_console_init(bl_tui *t)
{
    g_con = t;
    g_null = fopen("/dev/null", "w");
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_prep_term_function = no_prep;
    rl_deprep_term_function = no_deprep;
    rl_getc_function = q_getc;
    rl_input_available_hook = q_avail;
    rl_redisplay_function = redisplay;
    rl_instream = stdin;
    rl_outstream = g_null ? g_null : stdout;
    rl_readline_name = "betlab";
    rl_inhibit_completion = 1;
    rl_callback_handler_install("> ", on_line);
    rl_variable_bind("bell-style", "none");
    char hist[4096];
    if (bl_state_dir(NULL, 1, hist, sizeof hist - 16) == 0) {
        strcat(hist, "/history");
        read_history(hist);
    }
    t->rl_ready = 1;
    return 0;
}

void tui_console_done(bl_tui *t)
{
    if (!t->rl_ready)
        return;
    char hist[4096];
    if (bl_state_dir(NULL, 1, hist, sizeof hist - 16) == 0) {
        strcat(hist, "/history");
        write_history(hist);
        history_truncate_file(hist, 1000);
    }
    rl_callback_handler_remove();
    if (g_null)
        fclose(g_null);
    g_null = NULL;
    rl_outstream = NULL;
    t->rl_ready = 0;
    for (int i = 0; i < t->nlines; i++)
        free(t->lines[(t->first + i) % TUI_SCROLL].text);
    t->nlines = 0;
    free(t->chunk);
    t->chunk = NULL;
}

void tui_console_feed(bl_tui *t, int key, int is_char)
{
    char buf[8];
    const char *seq = NULL;
    size_t n = 0;
    if (is_char) {
        if (key == '\n' || key == '\r')
            seq = "\r";
        else {
            n = (size_t)bl_utf8_encode((uint32_t)key, buf);
            seq = buf;
        }
    } else {
        switch (key) {
        case KEY_LEFT: seq = "\033[D"; break;
        case KEY_RIGHT: seq = "\033[C"; break;
        case KEY_UP: seq = "\033[A"; break;
        case KEY_DOWN: seq = "\033[B"; break;
        case KEY_HOME: seq = "\001"; break;
        case KEY_END: seq = "\005"; break;
        case KEY_DC: seq = "\004"; break;
        case KEY_BACKSPACE: seq = "\177"; break;
        case KEY_ENTER: seq = "\r"; break;
        case KEY_PPAGE: t->scroll += 3; return;
        case KEY_NPAGE: t->scroll = t->scroll > 3 ? t->scroll - 3 : 0; return;
        default: return;
        }
    }
    if (key == 4 && is_char && rl_end > 0)
        seq = "\033[3~"; /* Ctrl-D deletes when the line is not empty */
    if (!n)
        n = strlen(seq);
    q_push(seq, n);
    while (q_avail() && t->rl_ready)
        rl_callback_read_char();
}

/* Columns of the first k bytes of s. */
static int cols_of(const char *s, int k)
{
    int c = 0;
    for (int i = 0; i < k && s[i]; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static bl_rect edit_rect(bl_tui *t)
{
    bl_rect r = t->layout.r[PANEL_CONSOLE];
    bl_rect e = { r.x, r.y + r.h - 1, r.w, r.h > 0 ? 1 : 0 };
    return e;
}

/* Horizontal offset (columns) so the cursor stays visible. */
static int edit_offset(int w, int plen, int cur)
{
    int avail = w - plen - 1;
    if (avail < 1)
        return 0;
    return cur >= avail ? cur - avail + 1 : 0;
}

int tui_console_cursor(bl_tui *t, int *x, int *y)
{
    bl_rect e = edit_rect(t);
    if (t->s.focus != PANEL_CONSOLE || !t->rl_ready || e.h == 0 || t->s.help)
        return 0;
    const char *p = rl_prompt ? rl_prompt : "> ";
    int plen = (int)strlen(p);
    int cur = cols_of(rl_line_buffer ? rl_line_buffer : "", rl_point);
    int off = edit_offset(e.w, plen, cur);
    *x = e.x + plen + cur - off;
    *y = e.y;
    if (*x >= e.x + e.w)
        *x = e.x + e.w - 1;
    return 1;
}

static void draw(bl_tui *t, bl_grid *g, bl_rect r, int focused)
{
    bl_rect in = r;
    if (r.h >= 3)
        in = tui_panel_title(g, r, focused ? "Console (Lua)  Esc/Tab leave  PgUp/PgDn scroll"
                                           : "Console (Lua)  : or ` to type", focused);
    /* edit line */
    bl_rect e = { in.x, in.y + in.h - 1, in.w, 1 };
    const char *p = t->rl_ready && rl_prompt ? rl_prompt : "> ";
    int plen = (int)strlen(p);
    bl_grid_text(g, e.x, e.y, e.w, focused ? ST_ACCENT : ST_DIM, p);
    if (t->rl_ready && rl_line_buffer) {
        int cur = cols_of(rl_line_buffer, rl_point);
        int off = edit_offset(e.w, plen, cur);
        const char *s = rl_line_buffer;
        for (int c = 0; c < off && *s; c++) {
            uint32_t cp;
            s += bl_utf8_decode(s, &cp);
        }
        bl_grid_text(g, e.x + plen, e.y, e.w - plen, ST_NORMAL, s);
    }
    /* scrollback, wrapped, newest at the bottom */
    int rows = in.h - 1, w = in.w - 1;
    if (rows <= 0 || w <= 0)
        return;
    int y = in.y + rows - 1;
    int skip = t->scroll;
    for (int i = t->nlines - 1; i >= 0 && y >= in.y; i--) {
        const tui_line *l = &t->lines[(t->first + i) % TUI_SCROLL];
        int len = cols_of(l->text, (int)strlen(l->text));
        int nrow = len == 0 ? 1 : (len + w - 1) / w;
        for (int k = nrow - 1; k >= 0 && y >= in.y; k--) {
            if (skip > 0) {
                skip--;
                continue;
            }
            const char *s = l->text;
            for (int c = 0; c < k * w && *s; c++) {
                uint32_t cp;
                s += bl_utf8_decode(s, &cp);
            }
            bl_grid_text(g, in.x + 1, y, w, l->style, s);
            y--;
        }
    }
}

/* With the focus the console takes every key (Tab and the mouse are
 * dispatched before it): Esc gives the focus back to the layers. */
static int key(bl_tui *t, int k, int is_char)
{
    if (is_char && k == 27) {
        t->s.focus = PANEL_LAYERS;
        return 1;
    }
    tui_console_feed(t, k, is_char);
    return 1;
}

const bl_panel tui_panel_console = { "console", draw, key,
                                     "Lua console: Enter runs, Up/Down history, Esc leaves", NULL };
