/* cmd_console.c - `betlab console [--no-init]`: the readline REPL
 * (src/lua/console.c) over the executor. */
#include <stdio.h>

#include "cli/cli.h"
#include "lua/console.h"

typedef struct console_opts {
    int no_init;
} console_opts;

static const cli_opt console_optv[] = {
    CLI_FLAG("no-init", 0, console_opts, no_init,
             "do not run $XDG_CONFIG_HOME/betlab/init.lua first", 0),
    CLI_END,
};

const cli_spec cli_spec_console = {
    "console", "interactive Lua console (readline)", NULL, 0, 0, 0, console_optv,
};

int cmd_console(int argc, char **argv)
{
    console_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_console, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    return bl_console_main(o.no_init);
}
