/* main.c - betlab's command line: the command table and dispatch only.
 * Each command's work and its option table live in src/cli/cmd_NAME.c;
 * the help texts, usage lines and the man page's SYNOPSIS are generated
 * from those tables (src/cli/opts.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/env.h"

#include "base/version.h"

/* name, option table (src/cli/cmd_NAME.c), exec */
static const bl_command commands[] = {
    { "info", &cli_spec_info, cmd_info },
    { "eval", &cli_spec_eval, cmd_eval },
    { "train", &cli_spec_train, cmd_train },
    { "run", &cli_spec_run, cmd_run },
    { "console", &cli_spec_console, cmd_console },
    { "import", &cli_spec_import, cmd_import },
    { "sweep", &cli_spec_sweep, cmd_sweep },
    { "metrics", &cli_spec_metrics, cmd_metrics },
    { "tui", &cli_spec_tui, cmd_tui },
    { "faults", &cli_spec_faults, cmd_faults },
    { "devices", &cli_spec_devices, cmd_devices },
    { "cluster", &cli_spec_cluster, cmd_cluster },
    { "subset", &cli_spec_subset, cmd_subset },
    { "campaign", &cli_spec_campaign, cmd_campaign },
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

const bl_command *cli_commands(int *n)
{
    *n = (int)NCOMMANDS;
    return commands;
}

static void help(FILE *f)
{
    fprintf(f, "betlab %s - bit error tolerance workbench for binarized neural networks\n\n",
            BETLAB_VERSION);
    fprintf(f, "usage: betlab COMMAND [OPTIONS]\n       betlab help [COMMAND]\n"
               "       betlab --help | --version\n\n");
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].spec->summary);
    fprintf(f, "\nusage of each command (betlab COMMAND --help describes its options):\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        cli_print_usage(commands[i].spec, f, "  ");
    fprintf(f, "\nMODEL: a .bnn file, the name of a shipped model, or random:SPEC[@SEED]\n"
               "DATA:  fashion-mnist:test|train, or an IDX/CIFAR/CSV/.npy/.npz file\n"
               "See betlab(1), betlab-format(5).\n");
}

static const bl_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    names[NCOMMANDS] = "help";
    const char *near = cli_suggest(name, names, NCOMMANDS + 1);
    if (near)
        fprintf(stderr, "betlab: unknown command '%s'; did you mean %s?\n", name, near);
    else
        fprintf(stderr, "betlab: unknown command '%s'; the commands are listed by betlab --help\n",
                name);
    return BL_EXIT_USAGE;
}

/* `betlab help --man [CMD...]`: the man page's SYNOPSIS blocks, generated
 * from the option tables (tests/cli/test_synopsis.sh compares them with
 * man/betlab.1). */
static int man_synopsis(int argc, char **argv)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        int wanted = argc == 0;
        for (int k = 0; k < argc; k++)
            wanted |= strcmp(argv[k], commands[i].name) == 0;
        if (wanted)
            cli_print_synopsis_roff(commands[i].spec, stdout);
    }
    for (int k = 0; k < argc; k++)
        if (!find(argv[k]))
            return unknown_command(argv[k]);
    return BL_EXIT_OK;
}

/* `betlab help [CMD]` = `betlab --help` or `betlab CMD --help`. */
static int help_command(int argc, char **argv)
{
    if (argc < 2) {
        help(stdout);
        return BL_EXIT_OK;
    }
    if (strcmp(argv[1], "--man") == 0)
        return man_synopsis(argc - 2, argv + 2);
    if (argc > 2) {
        fprintf(stderr, "betlab: help: one COMMAND at most\nusage: betlab help [COMMAND]\n");
        return BL_EXIT_USAGE;
    }
    const bl_command *c = find(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    cli_print_help(c->spec, stdout);
    return BL_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_process_start(argc, argv); /* may re-execute: see cli/env.h */
    if (argc < 2) {
        if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
            return cmd_tui(argc, argv);
        help(stdout);
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        help(stdout);
        return 0;
    }
    if (strcmp(cmd, "help") == 0)
        return help_command(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("betlab %s\n", BETLAB_VERSION);
        return 0;
    }
    const bl_command *c = find(cmd);
    if (c)
        return c->exec(argc - 1, argv + 1);
    if (cmd[0] == '-') {
        fprintf(stderr, "betlab: unknown option '%s'; commands and options are listed by "
                        "betlab --help\n", cmd);
        return BL_EXIT_USAGE;
    }
    return unknown_command(cmd);
}
