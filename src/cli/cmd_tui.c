/* cmd_tui.c - `betlab tui` (and `betlab` alone on a terminal): options
 * into bl_tui_opts, the process environment (NO_COLOR, BETLAB_TUI_TRACE,
 * the settings) included; the workbench itself is src/tui/app.c
 * (bl_tui_main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/env.h"
#include "tui/tui.h"

static const char usage[] =
    "usage: betlab tui [--model M] [--data D] [--limit N] [--seed S] [--session F.lua]\n"
    "                  [--demo F.lua] [--no-color] [--ascii] [--no-mouse] [--no-init]\n";

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
    const char *nc = getenv("NO_COLOR"); /* https://no-color.org: set and not empty */
    if (nc && *nc)
        o.no_color = 1;
    o.trace = getenv("BETLAB_TUI_TRACE"); /* latency lines for tests and benches */
    o.settings = cli_settings();
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_error("tui: needs a terminal (use betlab run/eval/sweep for batch work)");
        return BL_EXIT_USAGE;
    }
    bl_error err = { 0 };
    if (bl_tui_main(&o, &err)) {
        cli_error("tui: %s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    return BL_EXIT_OK;
}
