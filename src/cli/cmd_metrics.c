/* cmd_metrics.c - `betlab metrics`: per hidden layer, the neuron-level
 * margin metric, the analytic vs Monte-Carlo flip fraction at a BER, and
 * the inter-neuron importance (study/metrics.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "study/metrics_report.h"


static void print_hist(const bl_margin_summary *s)
{
    /* coarsen to at most 16 rows of bars */
    uint32_t group = (s->nbins + 15) / 16, rows = (s->nbins + group - 1) / group;
    uint64_t mx = 0, v[16];
    for (uint32_t r = 0; r < rows; r++) {
        v[r] = 0;
        for (uint32_t b = r * group; b < (r + 1) * group && b < s->nbins; b++)
            v[r] += s->hist[b];
        if (v[r] > mx)
            mx = v[r];
    }
    uint64_t w = (uint64_t)s->bin_width * group;
    for (uint32_t r = 0; r < rows; r++) {
        int len = mx ? (int)(40.0 * (double)v[r] / (double)mx + 0.5) : 0;
        char bar[48];
        memset(bar, '#', (size_t)len);
        bar[len] = 0;
        printf("    %8llu..%-8llu %6.2f%% %s\n", (unsigned long long)(r * w),
               (unsigned long long)((r + 1) * w - 1), 100.0 * (double)v[r] / (double)s->count,
               bar);
    }
}

int cmd_metrics(int argc, char **argv)
{
    const char *model_arg = NULL, *data_arg = NULL, *layer = NULL, *imp_arg = "auto";
    char *plugins[CLI_MAX_PLUGINS];
    int np = 0, json = 0;
    long limit = 1000, threads = 0, reps = 10, seed = 1;
    double ber = 0.01;
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "data", required_argument, NULL, 'd' },
        { "layer", required_argument, NULL, 'L' },
        { "ber", required_argument, NULL, 'b' },
        { "limit", required_argument, NULL, 'n' },
        { "reps", required_argument, NULL, 'r' },
        { "seed", required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "importance", required_argument, NULL, 'i' },
        { "json", no_argument, NULL, 'j' },
        { "plugin", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:L:b:n:r:s:t:i:jp:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'd': data_arg = optarg; break;
        case 'L': layer = optarg; break;
        case 'b': {
            char *end;
            ber = strtod(optarg, &end);
            if (end == optarg || *end)
                return cli_usage_error("metrics", "--ber wants a number, not '%s'", optarg);
            break;
        }
        case 'n':
            if (cli_parse_long(optarg, 0, 1L << 40, &limit))
                return cli_usage_error("metrics", "--limit wants a count (0 = all), not '%s'",
                                       optarg);
            break;
        case 'r':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &reps))
                return cli_usage_error("metrics", "--reps wants an integer, not '%s'", optarg);
            break;
        case 's':
            if (cli_parse_long(optarg, 0, 1L << 62, &seed))
                return cli_usage_error("metrics", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, -1000000, 1000000, &threads))
                return cli_usage_error("metrics", "--threads wants an integer, not '%s'", optarg);
            break;
        case 'i':
            imp_arg = optarg;
            if (strcmp(optarg, "auto") && strcmp(optarg, "fast") && strcmp(optarg, "brute") &&
                strcmp(optarg, "none"))
                return cli_usage_error("metrics", "--importance wants auto, fast, brute or "
                                       "none, not '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 'p':
            if (cli_add_plugin("metrics", plugins, &np, optarg))
                return BL_EXIT_USAGE;
            break;
        case 'h':
            printf("usage: betlab metrics --model M --data D [--layer L] [--ber P] [--limit N] "
                   "[--reps R] [--seed S] [--threads T] [--importance auto|fast|brute|none] "
                   "[--json] [--plugin FILE.so]\n");
            return 0;
        default: return cli_usage_error("metrics", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
    if (!model_arg || !data_arg)
        return cli_usage_error("metrics", "--model and --data are required");
    int method = !strcmp(imp_arg, "fast") ? BL_IMP_FAST : !strcmp(imp_arg, "brute") ?
                 BL_IMP_BRUTE : BL_IMP_AUTO;
    int want_imp = strcmp(imp_arg, "none") != 0;

    bl_metrics_cfg pc = { .what = BL_MET_MARGINS | BL_MET_ANALYTIC | BL_MET_MEASURED,
                          .ber = ber, .reps = (int)reps, .threads = (int)threads,
                          .importance_method = method };
    bl_error err = { 0 };
    if (bl_metrics_check_params(&pc, &err))
        return cli_usage_error("metrics", "%s", err.msg);
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_fault_registry *reg = NULL;
    bl_metrics_result *r = NULL;
    int rc = BL_EXIT_RUNTIME;
    if (cli_fault_registry(plugins, np, &reg, &err) ||
        cli_load_inputs(model_arg, data_arg, (size_t)limit, 0, &m, &ds, &in, &err))
        goto fail;
    bl_metrics_cfg cfg = { .model = m, .inputs = in, .reg = reg, .layer = layer,
                           .what = BL_MET_MARGINS | BL_MET_ANALYTIC | BL_MET_MEASURED |
                                   (want_imp ? BL_MET_IMPORTANCE : 0),
                           .ber = ber, .reps = (int)reps, .seed = (uint64_t)seed,
                           .importance_method = method, .threads = (int)threads };
    if (bl_metrics_run(&cfg, NULL, &r, &err)) {
        if (err.code == BL_ENOTFOUND && layer)
            bl_error_prefix(&err, "%s", model_arg);
        goto fail;
    }
    if (json) {
        json_t *top = bl_metrics_to_json(r);
        json_object_set_new(top, "model", json_string(model_arg));
        json_object_set_new(top, "data", json_string(data_arg));
        cli_print_json(top);
    } else {
        printf("model %s, %zu inputs of %s; flip fraction at BER %g (%d Monte-Carlo maps, "
               "seed %ld)\n", model_arg, r->images, data_arg, ber, r->reps, seed);
        for (int i = 0; i < r->nlayers; i++) {
            const bl_metrics_layer *lo = &r->layers[i];
            const bl_margin_summary *s = &lo->margins;
            printf("\n%s  (%zu neurons%s)\n", lo->h.name, lo->neurons,
                   lo->real_input ? ", real-valued inputs" : "");
            printf("  margin |a - tau|: mean %.2f  min %lld  q1 %lld  q5 %lld  q25 %lld  "
                   "q50 %lld  q75 %lld  max %lld\n", s->mean, (long long)s->min,
                   (long long)s->q[0], (long long)s->q[1], (long long)s->q[2],
                   (long long)s->q[3], (long long)s->q[4], (long long)s->max);
            printf("  below 2k:");
            for (int k = 0; k < BL_MARGIN_NK; k++)
                printf("  <%d %.2f%%", 2 * bl_margin_ks[k], 100 * s->below[k]);
            printf("    flips needed:");
            for (int k = 0; k < BL_MARGIN_NK; k++)
                printf("  <=%d %.2f%%", bl_margin_ks[k], 100 * s->flips_le[k]);
            printf("\n");
            print_hist(s);
            if (isnan(lo->analytic))
                printf("  flipped outputs: analytic n/a (%s)\n", lo->analytic_note);
            else
                printf("  flipped outputs: analytic %.5f\n", lo->analytic);
            printf("                   measured %.5f [%.5f, %.5f] (95%% CI, %s)\n",
                   lo->measured.mean, lo->measured.low, lo->measured.high,
                   r->reps > 1 ? "Student-t over maps" : "Wilson over outputs");
            if (lo->have_importance)
                printf("  importance: mean %.5f  max %.5f  variance %.3g  (%s, %.2f s)\n",
                       lo->importance.mean, lo->importance.max, lo->importance.variance,
                       lo->importance.method == BL_IMP_FAST ? "fast" : "brute",
                       lo->importance.seconds);
        }
    }
    rc = 0;
fail:
    if (rc)
        cli_error("%s", err.msg);
    bl_metrics_result_free(r);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    return rc;
}
