/* screen.c - curses setup and teardown, colours, the diff flush, signals.
 *
 * The only global state of the TUI lives here (DESIGN.md allows it for the
 * screen): the grid last drawn, the colour table and the signal flags.
 * Colours step down 256 -> 16 -> 8 -> monochrome (attributes only), and
 * NO_COLOR / --no-color give monochrome.  Signal handlers only set flags
 * (SIGHUP, SIGTERM, SIGINT); fatal signals (SIGSEGV, SIGBUS, SIGFPE,
 * SIGABRT) restore the terminal with async-signal-safe calls (tcsetattr
 * on the saved modes and write() of the reset sequence) and re-raise. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "lua/executor.h"
#include "tui/tui.h"

static bl_grid g_prev;
static attr_t g_attr[ST_COUNT];
static short g_pair[ST_COUNT];
static volatile sig_atomic_t g_quit_sig, g_int_sig;
static struct termios g_tio;
static int g_tio_ok, g_on;
static size_t g_cells_sent;

static const char reset_seq[] = "\033[?1000l\033[?1002l\033[?1006l\033[0m\033[?25h\033[?1049l\r\n";

/* The executor also sees SIGHUP/SIGTERM/SIGINT (bl_exec_signal), so a Lua
 * call that runs (a --session file, a console line) is stopped too. */
static void on_quit(int sig)
{
    if (!g_quit_sig)
        g_quit_sig = sig;
    bl_exec_signal(sig);
}
static void on_int(int sig)
{
    g_int_sig = 1;
    bl_exec_signal(sig);
}
/* Async-signal-safe: the saved terminal modes and the reset sequence. */
static void restore_async(void)
{
    if (g_on) {
        if (g_tio_ok)
            tcsetattr(STDIN_FILENO, TCSANOW, &g_tio);
        ssize_t w = write(STDOUT_FILENO, reset_seq, sizeof reset_seq - 1);
        (void)w;
    }
}
static void on_fatal(int sig)
{
    restore_async();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The signal (SIGHUP or SIGTERM) that asked the workbench to end, else 0. */
int tui_signal_pending(void)
{
    return g_quit_sig;
}

int tui_interrupt_pending(void)
{
    int v = g_int_sig;
    g_int_sig = 0;
    return v;
}

static void set_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit;   /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a forced exit (a Lua call that would not stop) restores the terminal */
    bl_exec_set_restore(tui_screen_done, restore_async);
}

/* colour roles: (256-colour fg, 16-colour fg, 8-colour fg, bg (-1 default), mono attrs) */
typedef struct role {
    short c256, c16, c8, bg256, bg8;
    attr_t attrs, mono;
} role;

static const role roles[ST_COUNT] = {
    [ST_NORMAL] = { -1, -1, -1, -1, -1, 0, 0 },
    [ST_DIM] = { 244, 8, COLOR_WHITE, -1, -1, 0, A_DIM },
    [ST_TITLE] = { 252, 7, COLOR_WHITE, 237, COLOR_BLUE, 0, A_UNDERLINE },
    [ST_TITLE_FOCUS] = { 16, 0, COLOR_BLACK, 75, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD },
    [ST_SELECT] = { 231, 15, COLOR_WHITE, 24, COLOR_BLUE, A_BOLD, A_REVERSE },
    [ST_ACCENT] = { 75, 14, COLOR_CYAN, -1, -1, A_BOLD, A_BOLD },
    [ST_GOOD] = { 114, 10, COLOR_GREEN, -1, -1, A_BOLD, A_BOLD },
    [ST_BAD] = { 203, 9, COLOR_RED, -1, -1, A_BOLD, A_BOLD },
    [ST_WARN] = { 221, 11, COLOR_YELLOW, -1, -1, 0, 0 },
    [ST_CURVE] = { 81, 14, COLOR_CYAN, -1, -1, 0, A_BOLD },
    [ST_BAND] = { 60, 4, COLOR_BLUE, -1, -1, 0, A_DIM },
    [ST_PIN] = { 213, 13, COLOR_MAGENTA, -1, -1, 0, 0 },
    [ST_MARKER] = { 221, 11, COLOR_YELLOW, -1, -1, A_BOLD, A_BOLD },
    [ST_CLEAN] = { 110, 12, COLOR_BLUE, -1, -1, 0, A_DIM },
    [ST_FAULTY] = { 209, 9, COLOR_RED, -1, -1, 0, A_BOLD },
    [ST_STATUS] = { 252, 7, COLOR_WHITE, 236, COLOR_BLACK, 0, A_REVERSE },
    [ST_ERROR] = { 231, 15, COLOR_WHITE, 124, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
    [ST_HELP] = { 253, 15, COLOR_WHITE, 235, COLOR_BLACK, 0, 0 },
};

static void setup_colors(int want)
{
    int depth = 0;
    if (want && has_colors() && start_color() == OK) {
        use_default_colors();
        depth = COLORS >= 256 ? 256 : COLORS >= 16 ? 16 : COLORS >= 8 ? 8 : 0;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        const role *r = &roles[i];
        g_pair[i] = 0;
        g_attr[i] = depth ? r->attrs : r->mono;
        if (!depth || i == ST_NORMAL)
            continue;
        short fg = depth == 256 ? r->c256 : depth == 16 ? r->c16 : r->c8;
        short bg = depth == 256 ? r->bg256 : r->bg8;
        if (depth == 16 && bg >= 0)
            bg = r->bg8;
        if (init_pair((short)i, fg, bg) == OK)
            g_pair[i] = (short)i;
        if (depth == 8 && (i == ST_DIM))
            g_attr[i] |= A_DIM;
    }
}

int tui_screen_init(bl_tui *t)
{
    if (tcgetattr(STDIN_FILENO, &g_tio) == 0)
        g_tio_ok = 1;
    set_handlers();
    set_escdelay(25);
    if (!initscr())
        return -1;
    g_on = 1;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    intrflush(stdscr, FALSE);
    curs_set(0);
    setup_colors(t->s.color);
    if (t->s.mouse) {
        mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
    bl_grid_free(&g_prev);
    return 0;
}

void tui_screen_done(void)
{
    if (!g_on)
        return;
    if (has_mouse())
        mousemask(0, NULL);
    curs_set(1);
    endwin();
    g_on = 0;
    bl_grid_free(&g_prev);
}

int tui_screen_size(int *w, int *h)
{
    getmaxyx(stdscr, *h, *w);
    return 0;
}

/* Curses mouse event -> (x, y, TUI_MOUSE_*): buttons 4 and 5 are the
 * wheel; every other event reported (mousemask above) is a left click. */
int tui_screen_mouse(int *x, int *y, int *button)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return 0;
    *x = ev.x;
    *y = ev.y;
    if (ev.bstate & BUTTON4_PRESSED)
        *button = TUI_MOUSE_WHEEL_UP;
    else if (ev.bstate & BUTTON5_PRESSED)
        *button = TUI_MOUSE_WHEEL_DOWN;
    else
        *button = TUI_MOUSE_LEFT;
    return 1;
}

static void run_cb(void *ctx, int x, int y, const bl_cell *cells, int n)
{
    (void)ctx;
    wchar_t buf[512];
    int k = 0;
    attr_set(g_attr[cells[0].style], g_pair[cells[0].style], NULL);
    for (int i = 0; i < n; i++) {
        uint32_t cp = cells[i].cp;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            cp = '?';
        buf[k++] = (wchar_t)cp;
        if (k == (int)(sizeof buf / sizeof *buf) - 1 || i == n - 1) {
            buf[k] = 0;
            mvaddnwstr(y, x + i + 1 - k, buf, k);
            k = 0;
        }
    }
    g_cells_sent += (size_t)n;
}

void tui_screen_flush(bl_tui *t, bl_grid *next, int full)
{
    (void)t;
    if (full || g_prev.w != next->w || g_prev.h != next->h) {
        clearok(curscr, TRUE);
        bl_grid_diff(NULL, next, run_cb, NULL);
    } else
        bl_grid_diff(&g_prev, next, run_cb, NULL);
    if (g_prev.w != next->w || g_prev.h != next->h)
        bl_grid_init(&g_prev, next->w, next->h);
    if (g_prev.cells && next->cells)
        memcpy(g_prev.cells, next->cells, sizeof(bl_cell) * (size_t)next->w * next->h);
    attr_set(A_NORMAL, 0, NULL);
    int cx, cy;
    if (tui_console_cursor(t, &cx, &cy)) {
        move(cy, cx);
        curs_set(1);
    } else
        curs_set(0);
    refresh();
}

bl_rect tui_panel_title(bl_grid *g, bl_rect r, const char *title, int focused)
{
    bl_rect row = { r.x, r.y, r.w, 1 };
    int st = focused ? ST_TITLE_FOCUS : ST_TITLE;
    bl_grid_fill(g, row, ' ', st);
    bl_grid_text(g, r.x + 1, r.y, r.w - 1, st, title);
    bl_rect in = { r.x, r.y + 1, r.w, r.h - 1 };
    return in;
}

const bl_panel *tui_panel(int id)
{
    switch (id) {
    case PANEL_HEADER: return &tui_panel_header;
    case PANEL_LAYERS: return &tui_panel_layers;
    case PANEL_ACCURACY: return &tui_panel_accuracy;
    case PANEL_MARGINS: return &tui_panel_margins;
    case PANEL_IMPORTANCE: return &tui_panel_importance;
    case PANEL_CONSOLE: return &tui_panel_console;
    case PANEL_STATUS: return &tui_panel_status;
    }
    return NULL;
}

void tui_draw(bl_tui *t)
{
    int w, h;
    tui_screen_size(&w, &h);
    int full = 0;
    if (w != t->grid.w || h != t->grid.h) {
        bl_grid_init(&t->grid, w, h);
        full = 1;
    }
    bl_grid_clear(&t->grid);
    t->s.recording = tui_lua_recording(t);
    bl_layout_compute(w, h, t->s.nlayers, t->s.demo, &t->layout);
    if (t->s.cl.view)
        bl_layout_cluster(&t->layout);
    for (int p = 0; p < PANEL_COUNT; p++) {
        bl_rect r = t->layout.r[p];
        const bl_panel *pn = p == PANEL_ACCURACY && t->s.cl.view ? &tui_panel_cluster : tui_panel(p);
        if (bl_rect_visible(r))
            pn->draw(t, &t->grid, r, t->s.focus == p);
    }
    if (t->s.help)
        tui_help_draw(t, &t->grid);
    tui_screen_flush(t, &t->grid, full);
}

int tui_save_screen(bl_tui *t, const char *path)
{
    char *txt = bl_grid_to_text(&t->grid);
    if (!txt)
        return -1;
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f) {
        rc = fputs(txt, f) < 0 ? -1 : 0;
        if (fclose(f))
            rc = -1;
    }
    free(txt);
    return rc;
}
