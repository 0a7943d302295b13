/* cmd_sweep.c - `betlab sweep`: accuracy over a list of BERs x repetitions
 * of coupled fault maps, with 95% confidence intervals (study/evaluate.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "jobs/eval_job.h"

/* Progress bar on stderr (only when stderr is a terminal). */
static void bar(void *ctx, double f, const char *msg)
{
    (void)ctx;
    int w = 30, k = (int)(f * w + 0.5);
    char b[64];
    for (int i = 0; i < w; i++)
        b[i] = i < k ? '#' : '.';
    b[w] = 0;
    fprintf(stderr, "\r[%s] %3d%% %-40.40s", b, (int)(f * 100 + 0.5), msg);
    fflush(stderr);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    const char *model_arg = NULL, *data_arg = NULL, *fault = NULL, *ber_arg = NULL,
               *csv = NULL;
    char *plugins[CLI_MAX_PLUGINS];
    int np = 0, json = 0, have_reps = 0;
    long reps = 10, max_reps = 0, min_reps = 0, limit = 0, threads = 0, seed = 1;
    double ci_width = 0;
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "data", required_argument, NULL, 'd' },
        { "fault", required_argument, NULL, 'f' },
        { "ber", required_argument, NULL, 'b' },
        { "reps", required_argument, NULL, 'r' },
        { "ci-width", required_argument, NULL, 'w' },
        { "max-reps", required_argument, NULL, 'M' },
        { "min-reps", required_argument, NULL, 'N' },
        { "seed", required_argument, NULL, 's' },
        { "csv", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "limit", required_argument, NULL, 'n' },
        { "threads", required_argument, NULL, 't' },
        { "plugin", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:f:b:r:w:M:N:s:c:jn:t:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'd': data_arg = optarg; break;
        case 'f': fault = optarg; break;
        case 'b': ber_arg = optarg; break;
        case 'r':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &reps))
                return cli_usage_error("sweep", "--reps wants an integer, not '%s'", optarg);
            have_reps = 1;
            break;
        case 'w':
            if (parse_double(optarg, -1e300, 1e300, &ci_width))
                return cli_usage_error("sweep", "--ci-width wants a number, not '%s'", optarg);
            break;
        case 'M':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &max_reps))
                return cli_usage_error("sweep", "--max-reps wants an integer, not '%s'", optarg);
            break;
        case 'N':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &min_reps))
                return cli_usage_error("sweep", "--min-reps wants an integer, not '%s'", optarg);
            break;
        case 's':
            if (cli_parse_long(optarg, 0, (1L << 62), &seed))
                return cli_usage_error("sweep", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &limit))
                return cli_usage_error("sweep", "--limit wants a positive integer, not '%s'",
                                       optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, -1000000, 1000000, &threads))
                return cli_usage_error("sweep", "--threads wants an integer, not '%s'", optarg);
            break;
        case 'p':
            if (cli_add_plugin("sweep", plugins, &np, optarg))
                return BL_EXIT_USAGE;
            break;
        case 'h':
            printf("usage: betlab sweep --model M --data D --fault MODEL --ber LIST "
                   "[--reps R | --ci-width W [--max-reps R] [--min-reps R]] [--seed S] "
                   "[--csv FILE] [--json] [--limit N] [--threads T] [--plugin FILE.so]\n"
                   "LIST: V,V,... | START:STOP:N (log-spaced) | lin:START:STOP:N\n");
            return 0;
        default: return cli_usage_error("sweep", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("sweep", "unexpected argument '%s'", argv[optind]);
    if (!model_arg || !data_arg || !fault || !ber_arg)
        return cli_usage_error("sweep", "--model, --data, --fault and --ber are required");
    /* 10 fixed repetitions unless a stopping rule is asked for; ranges and
     * combinations are the evaluator's to check (bl_evaluate_check) */
    if (!have_reps && ci_width != 0)
        reps = 0;
    bl_error err = { 0 };
    double *bers = NULL;
    size_t nbers = 0;
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
    if (bl_eval_job_run_sync(&cfg, tty ? bar : NULL, NULL, &r, &err)) {
        if (tty)
            fputc('\n', stderr);
        goto fail;
    }
    if (tty)
        fprintf(stderr, "\r%-80s\r", "");
    if (csv && bl_evaluate_save_csv(r, csv, &err))
        goto fail;
    if (json)
        cli_print_json(bl_evaluate_to_json(r, 1));
    else
        bl_evaluate_print_table(r, stdout);
    rc = 0;
fail:
    if (rc)
        cli_error("%s", err.msg);
    bl_evaluate_result_free(r);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    free(bers);
    return rc;
}
