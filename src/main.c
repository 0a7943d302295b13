/* main.c - betlab's command line: the command table and dispatch only.
 * Each command's work lives in src/cli/cmd_NAME.c. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/env.h"

#include "base/version.h"

static const bl_command commands[] = {
    { "info", "MODEL [--json]", "layers, shapes, stored bits per layer, metadata", cmd_info },
    { "eval",
      "--model MODEL --data DATA [--limit N] [--threads T] [--simd LEVEL] [--repeat R] [--json]",
      "accuracy and throughput of a model on a dataset", cmd_eval },
    { "train",
      "--arch fc|vgg3|SPEC --data fashion-mnist|TRAIN [--test-data TEST] --epochs E [--batch B] "
      "[--lr LR] [--flip-p P | --flip-p01 A --flip-p10 B] [--flip-mode exact|ste] "
      "[--reg-margin LAMBDA,B] [--loss ce|mhl] [--seed S] [--threads T] [--limit N] --out MODEL "
      "[--json] [--resume CKPT]",
      "train a BNN with bit-flip injection; export a packed .bnn", cmd_train },
    { "run", "[--no-init] FILE.lua|- [ARGS...]", "run a Lua script (the betlab module, betlab-lua(7))",
      cmd_run },
    { "console", "[--no-init]", "interactive Lua console (readline)", cmd_console },
    { "import", "--npz FILE --arch SPEC --out MODEL [--name NAME]",
      "convert float weights and BN parameters (numpy .npz) into a .bnn model", cmd_import },
    { "sweep",
      "--model M --data D --fault MODEL --ber LIST [--reps R | --ci-width W [--max-reps R]] "
      "[--seed S] [--csv FILE] [--json] [--limit N] [--threads T] [--plugin FILE.so]",
      "accuracy over BERs x repetitions of coupled fault maps, with 95% CIs", cmd_sweep },
    { "metrics",
      "--model M --data D [--layer L] [--ber P] [--limit N] [--reps R] [--seed S] [--json] "
      "[--plugin FILE.so]",
      "margins, analytic vs measured flip fraction, neuron importance per layer", cmd_metrics },
    { "tui",
      "[--model M] [--data D] [--limit N] [--seed S] [--session F] [--demo F] [--no-color] "
      "[--ascii] [--no-mouse]",
      "the interactive workbench (ncurses; also `betlab` alone on a terminal)", cmd_tui },
    { "faults", "[--plugin FILE.so ...] [--json]",
      "list fault models (built-in and plugins) with their parameters", cmd_faults },
    { "devices", "[--json]", "OpenCL platforms and devices (compute units, memory, fp16/fp64)",
      cmd_devices },
    { "cluster",
      "--data D --k K --optimizer NAME [--device cpu|reference|opencl...] "
      "[--precision fp64|fp32|fp16] [--seed S] [--threads T] [--limit N] [--epsilon E] [--T T] "
      "[--json]",
      "exemplar clustering (D may be blobs:N,D,K[,SEED]) with seven optimizers", cmd_cluster },
    { "subset",
      "--model M --data D --k K [--space pixels|LAYER] [--raw] [--optimizer NAME] [--limit N] "
      "[--json]",
      "representative weighted test subset: full vs weighted accuracy", cmd_subset },
};

const bl_command *cli_commands(int *n)
{
    *n = (int)(sizeof commands / sizeof *commands);
    return commands;
}

static void help(FILE *f)
{
    fprintf(f, "betlab %s - bit error tolerance workbench for binarized neural networks\n\n",
            BETLAB_VERSION);
    fprintf(f, "usage: betlab COMMAND [OPTIONS]\n       betlab --help | --version\n\n");
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nusage of each command:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  betlab %s %s\n", commands[i].name, commands[i].usage);
    fprintf(f, "\nMODEL: a .bnn file, the name of a shipped model, or random:SPEC[@SEED]\n"
               "DATA:  fashion-mnist:test|train, or an IDX/CIFAR/CSV/.npy/.npz file\n"
               "See betlab(1), betlab-format(5).\n");
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
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("betlab %s\n", BETLAB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].exec(argc - 1, argv + 1);
    fprintf(stderr, "betlab: unknown command '%s'\n", cmd);
    help(stderr);
    return BL_EXIT_USAGE;
}
