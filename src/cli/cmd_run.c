/* cmd_run.c - `betlab run [--no-init] FILE.lua|- [ARGS...]`: run a Lua
 * script through the executor (src/lua/executor.h).  `arg` holds the
 * script name at 0 and ARGS from 1; a Lua error prints the message and
 * traceback on stderr and exits 1. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lua/executor.h"

int cmd_run(int argc, char **argv)
{
    int i = 1, no_init = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--no-init") == 0)
            no_init = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: betlab run [--no-init] FILE.lua|- [ARGS...]\n");
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-' && argv[i][1] != 0)
            return cli_usage_error("run", "unknown option '%s'", argv[i]);
        else
            break;
    }
    if (i >= argc)
        return cli_usage_error("run", "a script (FILE.lua, or - for stdin) is required");
    bl_exec *x = bl_exec_new(NULL, NULL);
    if (!x) {
        cli_error("cannot start Lua");
        return BL_EXIT_RUNTIME;
    }
    bl_exec_install_signals(x);
    int rc = no_init ? BL_EXEC_OK : bl_exec_run_init(x);
    if (rc == BL_EXEC_OK)
        rc = bl_exec_run_file(x, argv[i], argc - i - 1, argv + i + 1);
    fflush(stdout);
    bl_exec_free(x);
    if (rc == BL_EXEC_HANGUP)
        return 129;
    return rc == BL_EXEC_OK ? BL_EXIT_OK : BL_EXIT_RUNTIME;
}
