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

typedef struct tui_opts {
    const char *model, *data, *session, *demo;
    long limit, seed;
    int no_color, ascii, no_mouse, no_init;
} tui_opts;

#define T tui_opts
static const cli_opt tui_optv[] = {
    CLI_STR("model", 0, "M", T, model,
            "the model (default: the shipped fc-p0.1, else the best fc model, else random:fc)",
            0),
    CLI_STR("data", 0, "D", T, data, "the dataset (default fashion-mnist:test)", 0),
    CLI_INT("limit", 0, "N", 0, 100000000, T, limit, "use only the first N inputs (0 = all)", 0),
    CLI_SEED("seed", 0, T, seed, "seed of the coupled fault maps (default 1)",
            0),
    CLI_STR("session", 0, "F.lua", T, session,
            "run this Lua file (e.g. a recorded session) after start", 0),
    CLI_STR("demo", 0, "F.lua", T, demo,
            "talk mode: bigger plots, fewer panels; n or Space runs F's next statement", 0),
    CLI_FLAG("no-color", 0, T, no_color, "monochrome (also when NO_COLOR is set)", 0),
    CLI_FLAG("ascii", 0, T, ascii, "ASCII drawing (automatic without a UTF-8 locale)", 0),
    CLI_FLAG("no-mouse", 0, T, no_mouse, "ignore the mouse", 0),
    CLI_FLAG("no-init", 0, T, no_init, "do not run $XDG_CONFIG_HOME/betlab/init.lua first", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_tui = {
    "tui", "the interactive workbench (ncurses; also `betlab` alone on a terminal)", NULL, 0, 0,
    0, tui_optv,
};

int cmd_tui(int argc, char **argv)
{
    tui_opts t = { .seed = 1 };
    cli_args a;
    int prc = cli_parse(&cli_spec_tui, argc, argv, &t, &a);
    if (prc)
        return cli_parse_exit(prc);
    bl_tui_opts o = { .model = t.model, .data = t.data, .session = t.session, .demo = t.demo,
                      .no_color = t.no_color, .ascii = t.ascii, .no_mouse = t.no_mouse,
                      .no_init = t.no_init, .limit = (int)t.limit, .seed = (uint64_t)t.seed };
    const char *nc = getenv("NO_COLOR"); /* https://no-color.org: set and not empty */
    if (nc && *nc)
        o.no_color = 1;
    o.trace = getenv("BETLAB_TUI_TRACE"); /* latency lines for tests and benches */
    o.settings = cli_settings();
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_cmd_error("tui", "needs a terminal (use betlab run/eval/sweep for batch work)");
        return BL_EXIT_USAGE;
    }
    bl_error err = { 0 };
    int trc = bl_tui_main(&o, &err);
    if (trc < 0) {
        cli_cmd_error("tui", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    return trc > 0 ? 128 + trc : BL_EXIT_OK;   /* 129 SIGHUP, 143 SIGTERM */
}
