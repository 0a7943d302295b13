/* cmd_tui.c - `betlab tui` (and `betlab` alone on a terminal): the
 * ncurses workbench (src/tui).  Options, loading, and the event loop:
 * block in poll() on the terminal and the jobs' self-pipe, draw only after
 * something happened, draw only the cells that changed. */
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
#include "cli/cli.h"
#include "cli/env.h"
#include "lua/executor.h"
#include "tui/tui.h"

static const char usage[] =
    "usage: betlab tui [--model M] [--data D] [--limit N] [--seed S] [--session F.lua]\n"
    "                  [--demo F.lua] [--no-color] [--ascii] [--no-mouse] [--no-init]\n";

static const char *const fallback_models[] = { "fc-p0.1", "fc-p0.05", "fc-p0.01", "fc-p0" };

static void tui_trace(const char *fmt, double v)
{
    const char *p = getenv("BETLAB_TUI_TRACE");
    if (!p || !*p)
        return;
    FILE *f = fopen(p, "a");
    if (f) {
        fprintf(f, fmt, v);
        fputc('\n', f);
        fclose(f);
    }
}

static int load_demo(bl_tui *t, const char *path)
{
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

static int setup(bl_tui *t, const bl_tui_opts *o, bl_error *err)
{
    int rc;
    if (o->model) {
        if ((rc = cli_load_model(o->model, &t->model, err)))
            return rc;
        snprintf(t->s.model_name, sizeof t->s.model_name, "%s", o->model);
    } else {
        for (size_t i = 0; i < sizeof fallback_models / sizeof *fallback_models && !t->model; i++)
            if (cli_load_model(fallback_models[i], &t->model, NULL) == 0) {
                snprintf(t->s.model_name, sizeof t->s.model_name, "%s", fallback_models[i]);
                if (i)
                    snprintf(t->s.note, sizeof t->s.note,
                             "default model fc-p0.1 not found: using %s", fallback_models[i]);
            }
        if (!t->model) {
            if ((rc = cli_load_model("random:fc", &t->model, err)))
                return rc;
            snprintf(t->s.model_name, sizeof t->s.model_name, "random:fc");
            snprintf(t->s.note, sizeof t->s.note,
                     "no shipped fc model found: using random:fc (accuracy is chance)");
        }
    }
    const char *data = o->data ? o->data : "fashion-mnist:test";
    bl_load_opts lo = { .data_dir = cli_settings()->data_dir };
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

static int loop(bl_tui *t)
{
    int dirty = 1;
    while (!t->quit) {
        if (tui_signal_pending())
            break;
        if (tui_interrupt_pending()) {
            t->s.edit_active = 0;
            tui_status(t, 0, "Ctrl-C: q quits");
            dirty = 1;
        }
        if (dirty) {
            tui_draw(t);
            if (t->last_key_t > 0)
                tui_trace("echo_ms %.2f", (bl_now() - t->last_key_t) * 1e3);
            dirty = 0;
        }
        struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { t->wake[0], POLLIN, 0 } };
        int n = poll(p, 2, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p[0].revents & POLLIN))
            break; /* the terminal went away */
        if (n > 0 && (p[1].revents & POLLIN)) {
            char buf[256];
            while (read(t->wake[0], buf, sizeof buf) > 0)
                ;
            tui_acc before = t->s.acc;
            if (tui_jobs_collect(t))
                dirty = 1;
            if (t->s.acc.valid && t->s.acc.reps == 1 &&
                (before.reps != 1 || before.acc != t->s.acc.acc || !before.valid)) {
                tui_draw(t);
                dirty = 0;
                tui_trace("acc_ms %.2f", t->s.acc.ms);
            }
        }
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
            tui_trace("key_ms %.2f", (bl_now() - k0) * 1e3);
            dirty = 0;
            if (t->quit)
                break;
        }
    }
    return 0;
}

int bl_tui_main(const bl_tui_opts *o)
{
    static bl_tui tui; /* large; zeroed */
    bl_tui *t = &tui;
    bl_error err = { 0 };
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    int utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
    const char *nc = getenv("NO_COLOR");
    t->s.ascii = o->ascii || !utf8;
    t->s.color = !o->no_color && !(nc && *nc);
    t->s.mouse = !o->no_mouse;
    t->s.demo = o->demo != NULL;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_error("tui: needs a terminal (use betlab run/eval/sweep for batch work)");
        return BL_EXIT_USAGE;
    }
    if (setup(t, o, &err)) {
        cli_error("tui: %s", err.msg);
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
    if (o->demo && load_demo(t, o->demo)) {
        cli_error("tui: cannot read demo file %s", o->demo);
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
    if (pipe(t->wake)) {
        cli_error("tui: pipe failed");
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
    fcntl(t->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(t->wake[1], F_SETFL, O_NONBLOCK);
    t->exec = bl_exec_new(tui_console_sink, t);
    if (!t->exec) {
        cli_error("tui: cannot create the Lua state");
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
    bl_exec_install_signals(t->exec);
    tui_lua_open(t);
    if (tui_jobs_new(t, &t->jobs, &err)) {
        cli_error("tui: %s", err.msg);
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
    if (tui_screen_init(t)) {
        cli_error("tui: cannot initialise the terminal");
        teardown(t);
        return BL_EXIT_RUNTIME;
    }
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
    loop(t);
    int by_signal = tui_signal_pending();
    tui_screen_done();
    if (by_signal)
        bl_exec_autosave(t->exec);
    teardown(t);
    return 0;
}

int cmd_tui(int argc, char **argv)
{
    bl_tui_opts o = { 0 };
    o.seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
#define NEED()                                                                   \
    do {                                                                         \
        if (!v)                                                                  \
            return cli_usage_error("tui", "%s needs a value", a);               \
        i++;                                                                     \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--model") == 0) {
            NEED();
            o.model = v;
        } else if (strcmp(a, "--data") == 0) {
            NEED();
            o.data = v;
        } else if (strcmp(a, "--session") == 0) {
            NEED();
            o.session = v;
        } else if (strcmp(a, "--demo") == 0) {
            NEED();
            o.demo = v;
        } else if (strcmp(a, "--limit") == 0) {
            NEED();
            if (cli_parse_long(v, 0, 100000000, &n))
                return cli_usage_error("tui", "bad --limit '%s'", v);
            o.limit = (int)n;
        } else if (strcmp(a, "--seed") == 0) {
            NEED();
            if (cli_parse_long(v, 0, 0x7fffffffL, &n))
                return cli_usage_error("tui", "bad --seed '%s'", v);
            o.seed = (uint64_t)n;
        } else if (strcmp(a, "--no-color") == 0)
            o.no_color = 1;
        else if (strcmp(a, "--ascii") == 0)
            o.ascii = 1;
        else if (strcmp(a, "--no-mouse") == 0)
            o.no_mouse = 1;
        else if (strcmp(a, "--no-init") == 0)
            o.no_init = 1;
        else
            return cli_usage_error("tui", "unknown argument '%s'", a);
    }
    return bl_tui_main(&o);
}
