/* cli.h - shared pieces of the command-line front end.
 *
 * Each subcommand is one entry in the table in main.c (name, option
 * table, exec), as tmux does it; its exec and its option table (opts.h)
 * live in src/cli/cmd_NAME.c.
 * Exit status: 0 ok, 1 runtime error, 2 usage error (BL_EXIT_*, opts.h). */
#ifndef BL_CLI_CLI_H
#define BL_CLI_CLI_H

#include <jansson.h>

#include "base/error.h"
#include "cli/opts.h"
#include "bnn/engine.h"
#include "bnn/model.h"
#include "data/dataset.h"
#include "fault/fault.h"

typedef struct bl_command {
    const char *name;
    const cli_spec *spec; /* the option table: summary, usage, help and man SYNOPSIS */
    int (*exec)(int argc, char **argv);
} bl_command;

/* The option tables of the commands (each in its cmd_NAME.c). */
extern const cli_spec cli_spec_info, cli_spec_eval, cli_spec_import, cli_spec_train,
    cli_spec_run, cli_spec_console, cli_spec_sweep, cli_spec_metrics, cli_spec_tui,
    cli_spec_faults, cli_spec_devices, cli_spec_cluster, cli_spec_subset,
    cli_spec_campaign;

/* Print "betlab: <msg>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A runtime error of command cmd: "betlab: CMD: <msg>" on stderr. */
void cli_cmd_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: "betlab: CMD: <msg>" plus the command's usage line (generated
 * from its option table where it has one); returns BL_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resolve and load a model argument:
 *   PATH                 a .bnn file
 *   NAME                 models/NAME.bnn from the shipped models folder
 *   random:SPEC[@SEED]   an architecture with seeded random weights
 *                        (benchmarks and demos; SPEC as bl_model_from_spec) */
int cli_load_model(const char *arg, bl_model **out, bl_error *err);

/* The common start of eval, sweep and metrics: load MODEL and DATA (which
 * must be labelled when need_labels) and prepare the first `limit` inputs
 * (0 = all) in the model's input encoding.  On failure err names the
 * problem and whatever was loaded is in *m / *ds for the caller to free. */
int cli_load_inputs(const char *model_arg, const char *data_arg, size_t limit, int need_labels,
                    bl_model **m, bl_dataset **ds, bl_inputs **in, bl_error *err);

/* Print a JSON value on stdout (indent 2, keys in insertion order, real numbers
 * in the shortest form that reads back as the same double: base/json_out.h)
 * followed by a newline; steals the reference. */
void cli_print_json(json_t *v);

/* The progress bar of long commands on stderr ("[####......]  40% msg"),
 * for the core's progress hooks; callers use it only when stderr is a
 * terminal, and clear the line when done. */
void cli_progress_bar(void *ctx, double fraction, const char *msg);
void cli_progress_clear(void);

/* Shared command table (main.c) for the help text. */
const bl_command *cli_commands(int *n);

int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_faults(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_subset(int argc, char **argv);
int cmd_tui(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
/* --plugin NAME|FILE.so is repeatable: commands collect the arguments with
 * CLI_LIST(..., CLI_MAX_PLUGINS, ...) in their option table. */
#define CLI_MAX_PLUGINS 64
/* Registry of built-in fault kinds plus the --plugin names and files. */
int cli_fault_registry(char **plugins, int nplugins, bl_fault_registry **out, bl_error *err);

#endif
