/* cmd_run.c - `betlab run [--no-init] FILE.lua|- [ARGS...]`: run a Lua
 * script through the executor (src/lua/executor.h).  `arg` holds the
 * script name at 0 and ARGS from 1; a Lua error prints the message and
 * traceback on stderr and exits 1. */
#include <stdio.h>

#include "cli/cli.h"
#include "lua/executor.h"

typedef struct run_opts {
    int no_init;
    int allow_bytecode;
} run_opts;

static const cli_opt run_optv[] = {
    CLI_FLAG("no-init", 0, run_opts, no_init,
             "do not run $XDG_CONFIG_HOME/betlab/init.lua first", 0),
    CLI_FLAG("allow-bytecode", 0, run_opts, allow_bytecode,
             "accept a precompiled Lua chunk (string.dump, luac) as FILE; only for files you "
             "trust: bytecode is not checked and a damaged chunk can crash betlab", 0),
    CLI_END,
};

/* Options end at the script: what follows belongs to the script (arg[1..]). */
const cli_spec cli_spec_run = {
    "run", "run a Lua script (the betlab module, betlab-lua(7))", "FILE.lua|- [ARGS...]", 1, -1,
    CLI_ARGS_STOP, run_optv,
};

int cmd_run(int argc, char **argv)
{
    run_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_run, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    int no_init = o.no_init;
    bl_exec *x = bl_exec_new(NULL, NULL);
    if (!x) {
        cli_cmd_error("run", "cannot start Lua");
        return BL_EXIT_RUNTIME;
    }
    bl_exec_install_signals(x);
    bl_exec_allow_bytecode(x, o.allow_bytecode);
    int rc = no_init ? BL_EXEC_OK : bl_exec_run_init(x);
    if (rc == BL_EXEC_OK)
        rc = bl_exec_run_file(x, a.argv[0], a.argc - 1, a.argv + 1);
    fflush(stdout);
    bl_exec_free(x);
    if (rc == BL_EXEC_HANGUP)   /* 129 SIGHUP, 143 SIGTERM */
        return 128 + (bl_exec_term_signal() ? bl_exec_term_signal() : 1);
    return rc == BL_EXEC_OK ? BL_EXIT_OK : BL_EXIT_RUNTIME;
}
