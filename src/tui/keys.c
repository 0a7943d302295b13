/* keys.c - key and mouse dispatch, and the global keys.  Keys that
 * change the study become Lua calls (betlab.ui.*, bl.record.*) run through
 * the executor and echoed into the console, so a recorded session replays
 * what was done; focus, help and scrolling are view-only and stay local.
 *
 * Order (htop's Panel/eventHandler): overlays (help, quit prompt, the
 * layers panel's value editor) take every key; then the focused panel's
 * handler; then the global keys here.  The sliders are the workbench's
 * main control, so the layers panel also gets what is left over from any
 * other panel: its keys (and the wheel) work whichever panel has the focus.
 * A mouse event goes to the panel under the pointer. */
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

static const char *const pin_models[] = { "fc-p0", "fc-p0.01", "fc-p0.05", "fc-p0.1" };

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

/* The panel drawn in slot p (the cluster view replaces the accuracy). */
static const bl_panel *shown(bl_tui *t, int p)
{
    return p == PANEL_ACCURACY && t->s.cl.view ? &tui_panel_cluster : tui_panel(p);
}

int tui_mouse(bl_tui *t, int x, int y, int button)
{
    int hit = -1;
    for (int p = 0; p < PANEL_COUNT; p++) {
        bl_rect q = t->layout.r[p];
        if (bl_rect_visible(q) && x >= q.x && x < q.x + q.w && y >= q.y && y < q.y + q.h)
            hit = p;
    }
    if (hit >= 0 && button == TUI_MOUSE_LEFT && focusable(t, hit))
        t->s.focus = hit;
    const bl_panel *pn = hit >= 0 ? shown(t, hit) : NULL;
    if (pn && pn->mouse && pn->mouse(t, t->layout.r[hit], x, y, button))
        return 1;
    if (pn != &tui_panel_layers) /* the wheel over any other panel */
        return tui_panel_layers.mouse(t, t->layout.r[PANEL_LAYERS], x, y, button);
    return 0;
}

static int global_char(bl_tui *t, int key)
{
    bl_tui_state *s = &t->s;
    switch (key) {
    case 'q': case 'Q':
        if (tui_jobs_running(t))
            s->confirm_quit = 1;
        else
            t->quit = 1;
        return 1;
    case '?': s->help = 1; return 1;
    case ':': case '`': s->focus = PANEL_CONSOLE; return 1;
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
    if (s->edit_active) /* the layers panel's value editor */
        return tui_panel_layers.key(t, key, is_char);
    if (!is_char && key == KEY_MOUSE) {
        int x, y, button;
        if (tui_screen_mouse(&x, &y, &button))
            tui_mouse(t, x, y, button);
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
    if (s->focus != PANEL_CONSOLE)
        s->status[0] = 0; /* a key outside the console clears the last message */
    const bl_panel *fp = shown(t, s->focus);
    if (fp && fp->key && fp->key(t, key, is_char))
        return 1;
    if (is_char && global_char(t, key))
        return 1;
    if (!is_char && key == KEY_F(1)) {
        s->help = 1;
        return 1;
    }
    if (fp != &tui_panel_layers)
        return tui_panel_layers.key(t, key, is_char);
    return 0;
}
