/* keys.c - key dispatch.  Keys that change the study become Lua calls
 * (betlab.ui.*, bl.record.*) run through the executor and echoed into the
 * console, so a recorded session replays what was done; focus, help and
 * scrolling are view-only and stay local. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "lua/executor.h"
#include "tui/tui.h"

void tui_status(bl_tui *t, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->s.status, sizeof t->s.status, fmt, ap);
    va_end(ap);
    /* one line only */
    for (char *p = t->s.status; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    t->s.status_err = err;
}

int tui_action(bl_tui *t, const char *fmt, ...)
{
    char code[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(code, sizeof code, fmt, ap);
    va_end(ap);
    char echo[1100];
    snprintf(echo, sizeof echo, "> %s", code);
    tui_console_add(t, ST_ACCENT, echo);
    t->s.status[0] = 0;
    int rc = bl_exec_run_string(t->exec, code, "=ui");
    tui_console_sink(t, BL_SINK_OUT, "", 0);
    if (rc == BL_EXEC_ERROR && !t->s.status[0])
        tui_status(t, 1, "error: see the console");
    if (rc == BL_EXEC_HANGUP)
        t->quit = 1;
    return rc;
}

static const char *const fault_kinds[] = { "bitflip", "asym:ratio=10", "asym:ratio=0.1", "stuck" };
static const char *const pin_models[] = { "fc-p0", "fc-p0.01", "fc-p0.05", "fc-p0.1" };

static void next_fault(bl_tui *t)
{
    size_t n = sizeof fault_kinds / sizeof *fault_kinds;
    size_t nreg = bl_fault_registry_count(t->reg);
    /* built-in presets, then every other registered kind (plugins) */
    const char *names[32];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        names[k++] = fault_kinds[i];
    for (size_t i = 0; i < nreg && k < 32; i++) {
        const char *nm = bl_fault_kind_name(bl_fault_registry_at(t->reg, i));
        if (strcmp(nm, "bitflip") && strcmp(nm, "asym") && strcmp(nm, "stuck"))
            names[k++] = nm;
    }
    size_t cur = 0;
    for (size_t i = 0; i < k; i++)
        if (strcmp(names[i], t->s.fault_kind) == 0)
            cur = i;
    tui_action(t, "betlab.ui.set_fault(\"%s\")", names[(cur + 1) % k]);
}

static void next_pin(bl_tui *t)
{
    size_t n = sizeof pin_models / sizeof *pin_models, cur = n - 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(pin_models[i], t->s.pin_name) == 0)
            cur = i;
    for (size_t k = 1; k <= n; k++) {
        const char *c = pin_models[(cur + k) % n];
        if (strcmp(c, t->s.model_name) == 0)
            continue;
        char path[256];
        snprintf(path, sizeof path, "models/%s.bnn", c);
        /* shipped models: in the tree or installed; the call reports a missing one */
        tui_action(t, "betlab.ui.pin(\"%s\")", c);
        return;
    }
}

static void set_ber(bl_tui *t, double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.3g", v);
    t->last_key_t = bl_now();
    if (t->s.sel < t->s.nlayers)
        tui_action(t, "betlab.ui.set_ber(\"%s\", %s)", t->s.layers[t->s.sel].name, b);
    else
        tui_action(t, "betlab.ui.set_ber(\"*\", %s)", b);
}

static double sel_ber(bl_tui *t)
{
    if (t->s.sel < t->s.nlayers)
        return t->s.layers[t->s.sel].ber;
    return t->s.global_ber < 0 ? tui_state_current_ber(&t->s) : t->s.global_ber;
}

static void select_row(bl_tui *t, int row)
{
    int rows = t->s.nlayers + 2;
    if (row < 0)
        row = 0;
    if (row >= rows)
        row = rows - 1;
    if (row == t->s.sel)
        return;
    if (row < t->s.nlayers)
        tui_action(t, "betlab.ui.select(\"%s\")", t->s.layers[row].name);
    else if (row == t->s.nlayers)
        tui_action(t, "betlab.ui.select(\"*\")");
    else
        t->s.sel = row; /* the fault/seed row: view only */
}

static void demo_step(bl_tui *t)
{
    while (t->demo_pos < t->demo_n) {
        const char *l = t->demo_lines[t->demo_pos++];
        const char *p = l;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || (p[0] == '-' && p[1] == '-'))
            continue;
        if (strncmp(p, "local ", 6) == 0)
            p += 6; /* chunks run one by one: keep the record's locals global */
        if (strncmp(p, "return ", 7) == 0)
            continue;
        tui_action(t, "%s", p);
        tui_status(t, 0, "demo: step %d of %d (n: next)", t->demo_pos, t->demo_n);
        return;
    }
    tui_status(t, 0, "demo: end of %d lines", t->demo_n);
}

static int focusable(bl_tui *t, int p)
{
    return (p == PANEL_LAYERS || p == PANEL_ACCURACY || p == PANEL_MARGINS ||
            p == PANEL_IMPORTANCE || p == PANEL_CONSOLE) &&
           bl_rect_visible(t->layout.r[p]);
}

static void cycle_focus(bl_tui *t, int dir)
{
    int f = t->s.focus;
    for (int i = 0; i < PANEL_COUNT; i++) {
        f = (f + dir + PANEL_COUNT) % PANEL_COUNT;
        if (focusable(t, f)) {
            t->s.focus = f;
            return;
        }
    }
}

static void edit_key(bl_tui *t, int key, int is_char)
{
    bl_tui_state *s = &t->s;
    size_t n = strlen(s->edit_buf);
    if (is_char && (key == '\r' || key == '\n')) {
        s->edit_active = 0;
        char *end;
        double v = strtod(s->edit_buf, &end);
        if (end == s->edit_buf || *end)
            tui_status(t, 1, "not a number: '%s'", s->edit_buf);
        else
            set_ber(t, v);
    } else if (!is_char && key == KEY_ENTER) {
        edit_key(t, '\r', 1);
    } else if ((is_char && (key == 27 || key == 7)) || (!is_char && key == KEY_EXIT)) {
        s->edit_active = 0;
    } else if ((!is_char && key == KEY_BACKSPACE) || (is_char && (key == 127 || key == 8))) {
        if (n)
            s->edit_buf[n - 1] = 0;
    } else if (is_char && key < 128 && strchr("0123456789.eE-+", key) && n + 1 < sizeof s->edit_buf) {
        s->edit_buf[n] = (char)key;
        s->edit_buf[n + 1] = 0;
    }
}

static void mouse_key(bl_tui *t)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    bl_rect r = t->layout.r[PANEL_LAYERS];
    if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
        double v = tui_ber_step(sel_ber(t), ev.bstate & BUTTON4_PRESSED ? 1 : -1, 0);
        set_ber(t, v);
        return;
    }
    if (ev.x < r.x || ev.x >= r.x + r.w || ev.y <= r.y || ev.y >= r.y + r.h) {
        for (int p = 0; p < PANEL_COUNT; p++) {
            bl_rect q = t->layout.r[p];
            if (focusable(t, p) && ev.x >= q.x && ev.x < q.x + q.w && ev.y >= q.y &&
                ev.y < q.y + q.h)
                t->s.focus = p;
        }
        return;
    }
    t->s.focus = PANEL_LAYERS;
    int row = ev.y - r.y - 1;
    select_row(t, row);
    bl_rect in = { r.x, r.y + 1, r.w, r.h - 1 };
    int sx, sw;
    tui_layers_slider_span(in, &sx, &sw);
    if (row <= t->s.nlayers && ev.x >= sx && ev.x < sx + sw && sw > 1)
        set_ber(t, tui_ber_from_frac((double)(ev.x - sx) / (sw - 1)));
}

int tui_key(bl_tui *t, int key, int is_char)
{
    bl_tui_state *s = &t->s;
    if (s->help) {
        s->help = 0;
        return 1;
    }
    if (s->confirm_quit) {
        s->confirm_quit = 0;
        if (is_char && (key == 'y' || key == 'Y' || key == 'q'))
            t->quit = 1;
        return 1;
    }
    if (s->edit_active) {
        edit_key(t, key, is_char);
        return 1;
    }
    if (!is_char && key == KEY_MOUSE) {
        mouse_key(t);
        return 1;
    }
    if (is_char && key == '\t') {
        cycle_focus(t, 1);
        return 1;
    }
    if (!is_char && key == KEY_BTAB) {
        cycle_focus(t, -1);
        return 1;
    }
    if (s->focus == PANEL_CONSOLE) {
        if (is_char && key == 27) {
            s->focus = PANEL_LAYERS;
            return 1;
        }
        tui_console_feed(t, key, is_char);
        return 1;
    }
    s->status[0] = 0;
    if (is_char) {
        switch (key) {
        case 'q': case 'Q':
            if (tui_jobs_running(t))
                s->confirm_quit = 1;
            else
                t->quit = 1;
            return 1;
        case '?': s->help = 1; return 1;
        case ':': case '`': s->focus = PANEL_CONSOLE; return 1;
        case 'j': select_row(t, s->sel + 1); return 1;
        case 'k': select_row(t, s->sel - 1); return 1;
        case 'h': set_ber(t, tui_ber_step(sel_ber(t), -1, 0)); return 1;
        case 'l': set_ber(t, tui_ber_step(sel_ber(t), 1, 0)); return 1;
        case 'H': set_ber(t, tui_ber_step(sel_ber(t), -1, 1)); return 1;
        case 'L': set_ber(t, tui_ber_step(sel_ber(t), 1, 1)); return 1;
        case '0': set_ber(t, 0); return 1;
        case '\r': case '\n':
            s->edit_active = 1;
            s->edit_buf[0] = 0;
            return 1;
        case 'f': next_fault(t); return 1;
        case '+': case '=': tui_action(t, "betlab.ui.set_seed(%llu)", (unsigned long long)s->seed + 1); return 1;
        case '-': if (s->seed > 0) tui_action(t, "betlab.ui.set_seed(%llu)", (unsigned long long)s->seed - 1); return 1;
        case 'p': next_pin(t); return 1;
        case 'P': tui_action(t, "betlab.ui.pin(nil)"); return 1;
        case 'S': tui_action(t, "betlab.ui.sweep()"); return 1;
        case 'c': tui_action(t, "betlab.ui.cluster{}"); return 1;
        case 27:
            if (!s->cl.view)
                return 0;
            tui_action(t, "betlab.ui.cluster(false)");
            return 1;
        case 'r':
            if (s->recording)
                tui_action(t, "print(\"session saved: \" .. bl.record.stop())");
            else {
                char name[64];
                time_t now = time(NULL);
                strftime(name, sizeof name, "session-%Y%m%d-%H%M%S.lua", localtime(&now));
                tui_action(t, "bl.record.start(\"%s\")", name);
            }
            return 1;
        case 's': {
            char name[64];
            time_t now = time(NULL);
            strftime(name, sizeof name, "betlab-%Y%m%d-%H%M%S", localtime(&now));
            tui_action(t, "betlab.ui.save(\"%s\")", name);
            return 1;
        }
        case 'n': case ' ':
            if (t->demo_n)
                demo_step(t);
            return 1;
        case 12: /* Ctrl-L */
            clearok(curscr, TRUE);
            return 1;
        }
        return 0;
    }
    switch (key) {
    case KEY_DOWN: select_row(t, s->sel + 1); return 1;
    case KEY_UP: select_row(t, s->sel - 1); return 1;
    case KEY_LEFT: set_ber(t, tui_ber_step(sel_ber(t), -1, 0)); return 1;
    case KEY_RIGHT: set_ber(t, tui_ber_step(sel_ber(t), 1, 0)); return 1;
    case KEY_SLEFT: case KEY_NPAGE: set_ber(t, tui_ber_step(sel_ber(t), -1, 1)); return 1;
    case KEY_SRIGHT: case KEY_PPAGE: set_ber(t, tui_ber_step(sel_ber(t), 1, 1)); return 1;
    case KEY_ENTER: s->edit_active = 1; s->edit_buf[0] = 0; return 1;
    case KEY_F(1): s->help = 1; return 1;
    }
    return 0;
}
