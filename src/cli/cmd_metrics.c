/* cmd_metrics.c - `betlab metrics`: per hidden layer, the neuron-level
 * margin metric, the analytic vs Monte-Carlo flip fraction at a BER, and
 * the inter-neuron importance (study/metrics.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "study/evaluate.h"
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

typedef struct metrics_opts {
    const char *model, *data, *layer;
    long limit, reps, seed, threads;
    double ber;
    int importance, json;
    char *plugins[CLI_MAX_PLUGINS];
    int nplugins;
} metrics_opts;

/* --importance: the core's methods, or none (skip it) */
enum { IMP_NONE = -1 };
static const char *const importance_words[] = { "auto", "fast", "brute", "none", NULL };
static const int importance_values[] = { BL_IMP_AUTO, BL_IMP_FAST, BL_IMP_BRUTE, IMP_NONE };

/* ber, reps and threads are range-checked by the metrics call
 * (bl_metrics_check_params), not here: the help quotes its limits */
#define T metrics_opts
static const cli_opt metrics_optv[] = {
    CLI_STR("model", 'm', "MODEL", T, model,
            "the model: a .bnn file, a shipped model's name or random:SPEC[@SEED]", CLI_REQUIRED),
    CLI_STR("data", 'd', "DATA", T, data,
            "the dataset (fashion-mnist:test|train or a file; labels not needed)", CLI_REQUIRED),
    CLI_STR("layer", 'L', "L", T, layer,
            "only this hidden layer, named by its weight layer (fc2, conv1)", 0),
    CLI_REAL_CORE("ber", 'b', "P", T, ber,
                  "BER of the analytic and measured flip fraction, in [0, 1] (default 0.01)", 0),
    CLI_INT("limit", 'n', "N", 0, 1L << 40, T, limit,
            "use only the first N inputs (default 1000; 0 = all)", 0),
    CLI_INT_CORE("reps", 'r', "R", T, reps,
                 "Monte-Carlo fault maps, 1.." CLI_STRINGIFY(BL_REPS_MAX) " (default 10)", 0),
    CLI_SEED("seed", 's', T, seed,
            "seed of the first fault map; map r uses S + r (default 1)", 0),
    CLI_INT_CORE("threads", 't', "T", T, threads,
                 "worker threads, 1.." CLI_STRINGIFY(BL_THREADS_MAX)
                 " (default 0: one per CPU)", 0),
    CLI_ENUM("importance", 'i', importance_words, importance_values, T, importance,
             "how neuron importance is computed (default auto), or none", 0),
    CLI_FLAG("json", 'j', T, json, "print one JSON object", 0),
    CLI_LIST("plugin", 'p', "NAME|FILE.so", CLI_MAX_PLUGINS, T, plugins, nplugins,
             "load a fault-model plugin, by name (searched in BETLAB_PLUGIN_PATH, ./plugins, "
             "the shipped folder) or by file", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_metrics = {
    "metrics", "margins, analytic vs measured flip fraction, neuron importance per layer", NULL,
    0, 0, 0, metrics_optv,
};

int cmd_metrics(int argc, char **argv)
{
    metrics_opts o = { .limit = 1000, .reps = 10, .seed = 1, .ber = 0.01,
                       .importance = BL_IMP_AUTO };
    cli_args a;
    int prc = cli_parse(&cli_spec_metrics, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *model_arg = o.model, *data_arg = o.data, *layer = o.layer;
    long limit = o.limit, threads = o.threads, reps = o.reps, seed = o.seed;
    double ber = o.ber;
    int json = o.json, np = o.nplugins;
    char **plugins = o.plugins;
    int want_imp = o.importance != IMP_NONE;
    int method = want_imp ? o.importance : BL_IMP_AUTO;

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
        cli_cmd_error("metrics", "%s", err.msg);
    bl_metrics_result_free(r);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    return rc;
}
