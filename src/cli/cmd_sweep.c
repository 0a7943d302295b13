/* cmd_sweep.c - `betlab sweep`: accuracy over a list of BERs x repetitions
 * of coupled fault maps, with 95% confidence intervals (study/evaluate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "jobs/eval_job.h"


typedef struct sweep_opts {
    const char *model, *data, *fault, *ber, *csv;
    long reps, max_reps, min_reps, limit, threads, seed;
    double ci_width;
    int json;
    char *plugins[CLI_MAX_PLUGINS];
    int nplugins;
} sweep_opts;

/* reps, ci-width, min-reps, max-reps, threads and the BERs are range-checked
 * by the evaluator (bl_evaluate_check_params), not here: the help quotes its
 * limits */
#define T sweep_opts
static const cli_opt sweep_optv[] = {
    CLI_STR("model", 'm', "MODEL", T, model,
            "the model: a .bnn file, a shipped model's name or random:SPEC[@SEED]", CLI_REQUIRED),
    CLI_STR("data", 'd', "DATA", T, data,
            "the labelled dataset (fashion-mnist:test|train or a file)", CLI_REQUIRED),
    CLI_STR("fault", 'f', "SPEC", T, fault,
            "the fault spec whose rate is set to each BER (bitflip, asym:ratio=10, "
            "fc2=bitflip, a plugin's kind ...)", CLI_REQUIRED),
    CLI_STR("ber", 'b', "LIST", T, ber,
            "the BERs, each in [0, 1]: V,V,... | START:STOP:N (log-spaced) | "
            "lin:START:STOP:N", CLI_REQUIRED),
    CLI_INT_CORE("reps", 'r', "R", T, reps,
                 "fault maps per BER, 1.." CLI_STRINGIFY(BL_REPS_MAX)
                 " (default 10); excludes --ci-width", 0),
    CLI_REAL_CORE("ci-width", 'w', "W", T, ci_width,
                  "stopping rule: add maps until the 95% CI half-width is at most W, in "
                  "(0, 1]", 0),
    CLI_INT_CORE("max-reps", 'M', "R", T, max_reps,
                 "most maps per BER of the stopping rule, 1.." CLI_STRINGIFY(BL_REPS_MAX)
                 " (default 100)", 0),
    CLI_INT_CORE("min-reps", 'N', "R", T, min_reps,
                 "fewest maps per BER of the stopping rule, 1.." CLI_STRINGIFY(BL_REPS_MAX)
                 " (default 3)", 0),
    CLI_SEED("seed", 's', T, seed,
            "seed of the coupled fault maps; repetition r uses S + r (default 1)", 0),
    CLI_STR("csv", 'c', "FILE", T, csv,
            "also write the rows as a CSV file; - writes only the CSV to stdout", 0),
    CLI_FLAG("json", 'j', T, json, "print one JSON object", 0),
    CLI_INT("limit", 'n', "N", 1, 1L << 40, T, limit, "use only the first N inputs", 0),
    CLI_INT_CORE("threads", 't', "T", T, threads,
                 "worker threads, 1.." CLI_STRINGIFY(BL_THREADS_MAX)
                 " (default 0: one per CPU); rows are identical for any count", 0),
    CLI_LIST("plugin", 'p', "NAME|FILE.so", CLI_MAX_PLUGINS, T, plugins, nplugins,
             "load a fault-model plugin, by name (searched in BETLAB_PLUGIN_PATH, ./plugins, "
             "the shipped folder) or by file", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_sweep = {
    "sweep", "accuracy over BERs x repetitions of coupled fault maps, with 95% CIs", NULL, 0, 0,
    0, sweep_optv,
};

int cmd_sweep(int argc, char **argv)
{
    sweep_opts o = { .reps = 10, .seed = 1 };
    cli_args a;
    int prc = cli_parse(&cli_spec_sweep, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *model_arg = o.model, *data_arg = o.data, *fault = o.fault, *ber_arg = o.ber,
               *csv = o.csv;
    long reps = o.reps, max_reps = o.max_reps, min_reps = o.min_reps, limit = o.limit,
         threads = o.threads, seed = o.seed;
    double ci_width = o.ci_width;
    int json = o.json, np = o.nplugins, have_reps = cli_given(&a, "reps");
    char **plugins = o.plugins;
    /* 10 fixed repetitions unless a stopping rule is asked for; ranges and
     * combinations are the evaluator's to check (bl_evaluate_check) */
    if (!have_reps && ci_width != 0)
        reps = 0;
    bl_error err = { 0 };
    double *bers = NULL;
    size_t nbers = 0;
    /* --csv -: stdout carries the CSV alone */
    int csv_stdout = csv && strcmp(csv, "-") == 0;
    if (csv_stdout && json)
        return cli_usage_error("sweep", "--csv - and --json both write to stdout; give one");
    if (bl_parse_ber_list(ber_arg, &bers, &nbers, &err))
        return cli_usage_error("sweep", "%s", err.msg);

    bl_evaluate_cfg pc = { .fault = fault, .bers = bers, .nbers = nbers, .reps = (int)reps,
                           .ci_width = ci_width, .min_reps = (int)min_reps,
                           .max_reps = (int)max_reps, .threads = (int)threads };
    if (bl_evaluate_check_params(&pc, &err)) {
        free(bers);
        return cli_usage_error("sweep", "%s", err.msg);
    }
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_fault_registry *reg = NULL;
    bl_evaluate_result *r = NULL;
    int rc = BL_EXIT_RUNTIME;
    if (cli_fault_registry(plugins, np, &reg, &err) ||
        cli_load_inputs(model_arg, data_arg, (size_t)limit, 1, &m, &ds, &in, &err))
        goto fail;
    bl_evaluate_cfg cfg = { .model = m, .inputs = in, .reg = reg, .fault = fault,
                            .bers = bers, .nbers = nbers, .seed = (uint64_t)seed,
                            .reps = (int)reps, .ci_width = ci_width, .min_reps = (int)min_reps,
                            .max_reps = (int)max_reps, .threads = (int)threads };
    int tty = isatty(2);
    if (bl_eval_job_run_sync(&cfg, tty ? cli_progress_bar : NULL, NULL, &r, &err)) {
        if (tty)
            fputc('\n', stderr);
        goto fail;
    }
    if (tty)
        cli_progress_clear();
    if (csv && bl_evaluate_save_csv(r, csv, &err))
        goto fail;
    if (json)
        cli_print_json(bl_evaluate_to_json(r, 1));
    else if (!csv_stdout)
        bl_evaluate_print_table(r, stdout);
    rc = 0;
fail:
    if (rc)
        cli_cmd_error("sweep", "%s", err.msg);
    bl_evaluate_result_free(r);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    free(bers);
    return rc;
}
