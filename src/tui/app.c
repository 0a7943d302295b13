/* app.c - the workbench as a whole: loading, the event loop, teardown.
 *
 * The loop blocks in poll() on the terminal and the jobs' self-pipe, draws
 * only after something happened, and draws only the cells that changed
 * (screen.c).  Keys and mouse events go to keys.c, which hands them to the
 * panels.  Everything from the process environment (NO_COLOR, the trace
 * file, the bl_settings) comes in bl_tui_opts from the front end
 * (cli/cmd_tui.c), so nothing here reads the environment or includes a
 * src/cli header; model names resolve in the core (bl_model_resolve). */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "bnn/model_names.h"
#include "lua/executor.h"
#include "tui/tui.h"

/* Tried in order when no --model is given. */
static const char *const fallback_models[] = { "fc-p0.1", "fc-p0.05", "fc-p0.01", "fc-p0" };

/* One latency line into the trace file (tests and benches read it). */
static void trace_ms(bl_tui *t, const char *fmt, double v)
{
    if (!t->trace || !*t->trace)
        return;
    FILE *f = fopen(t->trace, "a");
    if (f) {
        fprintf(f, fmt, v);
        fputc('\n', f);
        fclose(f);
    }
}

static int load_demo(bl_tui *t, const char *path)
{
    if (bl_file_check_regular(path, NULL))   /* a FIFO would block for ever */
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char **l = realloc(t->demo_lines, (size_t)(t->demo_n + 1) * sizeof *l);
        if (!l)
            break;
        t->demo_lines = l;
        t->demo_lines[t->demo_n++] = strdup(line);
    }
    fclose(f);
    return 0;
}

/* The named model, else the first shipped fc model found, else random:fc
 * (with a note on the status line saying so). */
static int load_model(bl_tui *t, const bl_tui_opts *o, bl_error *err)
{
    const bl_settings *st = t->settings;
    int rc;
    if (o->model) {
        if ((rc = bl_model_resolve(o->model, st, &t->model, NULL, 0, err)))
            return rc;
        snprintf(t->s.model_name, sizeof t->s.model_name, "%s", o->model);
        return 0;
    }
    for (size_t i = 0; i < sizeof fallback_models / sizeof *fallback_models && !t->model; i++)
        if (bl_model_resolve(fallback_models[i], st, &t->model, NULL, 0, NULL) == 0) {
            snprintf(t->s.model_name, sizeof t->s.model_name, "%s", fallback_models[i]);
            if (i)
                snprintf(t->s.note, sizeof t->s.note,
                         "default model fc-p0.1 not found: using %s", fallback_models[i]);
        }
    if (t->model)
        return 0;
    if ((rc = bl_model_resolve("random:fc", st, &t->model, NULL, 0, err)))
        return rc;
    snprintf(t->s.model_name, sizeof t->s.model_name, "random:fc");
    snprintf(t->s.note, sizeof t->s.note,
             "no shipped fc model found: using random:fc (accuracy is chance)");
    return 0;
}

static int setup(bl_tui *t, const bl_tui_opts *o, bl_error *err)
{
    int rc;
    if ((rc = load_model(t, o, err)))
        return rc;
    const char *data = o->data ? o->data : "fashion-mnist:test";
    bl_load_opts lo = { .data_dir = t->settings->data_dir };
    if ((rc = bl_dataset_load(data, &lo, &t->data, err)))
        return rc;
    snprintf(t->s.data_name, sizeof t->s.data_name, "%s", data);
    t->limit = o->limit;
    if ((rc = bl_inputs_prepare(t->model, t->data, (size_t)o->limit, &t->inputs, err)))
        return rc;
    size_t n = bl_inputs_count(t->inputs);
    if ((rc = bl_inputs_prepare(t->model, t->data, n < 2000 ? n : 2000, &t->small_inputs, err)))
        return rc;
    t->s.images = n;
    t->s.macs_per_image = (double)bl_model_macs(t->model);
    if ((rc = bl_fault_registry_new(&t->reg, err)))
        return rc;
    for (uint32_t i = 0; i < t->model->nlayers && t->s.nlayers < TUI_MAX_LAYERS; i++) {
        const bl_layer *l = &t->model->layers[i];
        if (l->kind != BL_LAYER_DENSE && l->kind != BL_LAYER_CONV3)
            continue;
        tui_layer *tl = &t->s.layers[t->s.nlayers++];
        snprintf(tl->name, sizeof tl->name, "%s", l->name);
        tl->index = (int)i;
        tl->bits = bl_layer_stored_bits(l);
    }
    t->s.sel = 0;
    t->s.seed = o->seed;
    snprintf(t->s.fault_kind, sizeof t->s.fault_kind, "bitflip");
    t->s.focus = PANEL_LAYERS;
    return 0;
}

static void teardown(bl_tui *t)
{
    tui_jobs_free(t->jobs);
    if (t->exec) {
        tui_lua_close(t);
        bl_exec_free(t->exec); /* autosaves an active record */
    }
    tui_console_done(t);
    bl_inputs_free(t->inputs);
    bl_inputs_free(t->small_inputs);
    bl_inputs_free(t->pin_inputs);
    bl_model_free(t->pin);
    bl_model_free(t->model);
    bl_dataset_free(t->data);
    bl_fault_registry_free(t->reg);
    bl_grid_free(&t->grid);
    for (int i = 0; i < t->demo_n; i++)
        free(t->demo_lines[i]);
    free(t->demo_lines);
    if (t->wake[0] > 0) {
        close(t->wake[0]);
        close(t->wake[1]);
    }
}

/* Jobs woke us: collect; the first map of a new setting is drawn at once
 * (that is the latency the user feels). */
static int on_wake(bl_tui *t)
{
    char buf[256];
    int dirty = 0;
    while (read(t->wake[0], buf, sizeof buf) > 0)
        ;
    tui_acc before = t->s.acc;
    if (tui_jobs_collect(t))
        dirty = 1;
    if (t->s.acc.valid && t->s.acc.reps == 1 &&
        (before.reps != 1 || before.acc != t->s.acc.acc || !before.valid)) {
        tui_draw(t);
        dirty = 0;
        trace_ms(t, "acc_ms %.2f", t->s.acc.ms);
    }
    return dirty;
}

/* Every pending key (mouse events arrive as KEY_MOUSE); each is drawn at
 * once.  Returns 1 when only a resize is left to draw. */
static int on_keys(bl_tui *t)
{
    int dirty = 0;
    wint_t wc;
    int r;
    while ((r = wget_wch(stdscr, &wc)) != ERR) {
        double k0 = bl_now();
        if (r == KEY_CODE_YES && wc == KEY_RESIZE) {
            dirty = 1;
            continue;
        }
        tui_key(t, (int)wc, r != KEY_CODE_YES);
        tui_jobs_collect(t);
        tui_draw(t);
        trace_ms(t, "key_ms %.2f", (bl_now() - k0) * 1e3);
        dirty = 0;
        if (t->quit)
            break;
    }
    return dirty;
}

static void loop(bl_tui *t)
{
    int dirty = 1;
    while (!t->quit) {
        if (tui_signal_pending() || bl_exec_hangup())
            break;
        if (tui_interrupt_pending()) {
            t->s.edit_active = 0;
            tui_status(t, 0, "Ctrl-C: q quits");
            dirty = 1;
        }
        if (dirty) {
            tui_draw(t);
            if (t->last_key_t > 0)
                trace_ms(t, "echo_ms %.2f", (bl_now() - t->last_key_t) * 1e3);
            dirty = 0;
        }
        struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { t->wake[0], POLLIN, 0 } };
        int n = poll(p, 2, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p[0].revents & POLLIN))
            break; /* the terminal went away */
        if (n > 0 && (p[1].revents & POLLIN))
            dirty |= on_wake(t);
        dirty |= on_keys(t);
    }
}

/* Everything up to the first frame: model and data, the Lua state, the
 * jobs, the terminal.  On failure err says why and the caller tears down. */
static int start(bl_tui *t, const bl_tui_opts *o, bl_error *err)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return bl_error_set(err, BL_EINVAL,
                            "needs a terminal (use betlab run/eval/sweep for batch work)");
    int rc;
    if ((rc = setup(t, o, err)))
        return rc;
    if (o->demo && load_demo(t, o->demo))
        return bl_error_set(err, BL_EIO, "cannot read demo file %s", o->demo);
    if (pipe(t->wake))
        return bl_error_set(err, BL_EIO, "pipe failed");
    fcntl(t->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(t->wake[1], F_SETFL, O_NONBLOCK);
    t->exec = bl_exec_new(tui_console_sink, t);
    if (!t->exec)
        return bl_error_set(err, BL_ENOMEM, "cannot create the Lua state");
    bl_exec_install_signals(t->exec);
    tui_lua_open(t);
    if ((rc = tui_jobs_new(t, &t->jobs, err)))
        return rc;
    if (tui_screen_init(t))
        return bl_error_set(err, BL_EIO, "cannot initialise the terminal");
    return 0;
}

/* After the terminal is up: the console, init.lua, the first jobs, the
 * session file. */
static void first_frame(bl_tui *t, const bl_tui_opts *o)
{
    tui_console_init(t);
    tui_console_add(t, ST_DIM, "betlab Lua console: every UI action appears here as its Lua call.");
    if (t->s.note[0])
        tui_status(t, 1, "%s", t->s.note);
    if (!o->no_init)
        bl_exec_run_init(t->exec);
    tui_jobs_settings_changed(t);
    tui_jobs_sweep(t);
    tui_jobs_layer_changed(t);
    if (o->session) {
        char echo[600];
        snprintf(echo, sizeof echo, "> dofile(\"%s\")", o->session);
        tui_console_add(t, ST_ACCENT, echo);
        if (bl_exec_run_file(t->exec, o->session, 0, NULL) == BL_EXEC_ERROR)
            tui_status(t, 1, "session %s failed: see the console", o->session);
        tui_console_sink(t, 1, "", 0);
    }
    if (t->demo_n)
        tui_status(t, 0, "demo: %d lines from %s; n or Space runs the next step", t->demo_n, o->demo);
}

int bl_tui_main(const bl_tui_opts *o, bl_error *err)
{
    static bl_tui tui; /* large; zeroed */
    bl_tui *t = &tui;
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    int utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
    t->s.ascii = o->ascii || !utf8;
    t->s.color = !o->no_color;
    t->s.mouse = !o->no_mouse;
    t->s.demo = o->demo != NULL;
    t->trace = o->trace;
    static const bl_settings no_settings; /* built-in defaults */
    t->settings = o->settings ? o->settings : &no_settings;
    if (start(t, o, err)) {
        tui_screen_done(); /* a no-op unless the terminal was set up */
        teardown(t);
        return -1;
    }
    first_frame(t, o);
    loop(t);
    int by_signal = tui_signal_pending() ? tui_signal_pending() : bl_exec_term_signal();
    tui_screen_done();
    if (by_signal)
        bl_exec_autosave(t->exec);
    teardown(t);
    return by_signal;
}
