/* cmd_console.c - `betlab console [--no-init]`: the readline REPL
 * (src/lua/console.c) over the executor. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lua/console.h"

int cmd_console(int argc, char **argv)
{
    int no_init = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-init") == 0)
            no_init = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: betlab console [--no-init]\n");
            return 0;
        } else
            return cli_usage_error("console", "unknown argument '%s'", argv[i]);
    }
    return bl_console_main(no_init);
}
