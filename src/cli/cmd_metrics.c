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
#include "study/metrics.h"


static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static void key_of(char *buf, size_t n, double level)
{
    snprintf(buf, n, "%g", level * 100.0);
}

typedef struct layer_out {
    bl_hidden h;
    bl_margin_summary ms;
    double analytic, an_seconds;
    char an_note[160];
    bl_ci measured;
    double mc_seconds;
    bl_importance imp;
    int have_imp;
} layer_out;

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
            if (end == optarg || *end || !(ber >= 0 && ber <= 1))
                return cli_usage_error("metrics", "--ber wants a rate in [0, 1], not '%s'",
                                       optarg);
            break;
        }
        case 'n':
            if (cli_parse_long(optarg, 0, 1L << 40, &limit))
                return cli_usage_error("metrics", "--limit wants a count (0 = all), not '%s'",
                                       optarg);
            break;
        case 'r':
            if (cli_parse_long(optarg, 1, 100000, &reps))
                return cli_usage_error("metrics", "--reps wants 1..100000, not '%s'", optarg);
            break;
        case 's':
            if (cli_parse_long(optarg, 0, 1L << 62, &seed))
                return cli_usage_error("metrics", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 1024, &threads))
                return cli_usage_error("metrics", "--threads wants 1..1024, not '%s'", optarg);
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

    bl_error err = { 0 };
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_engine *e = NULL;
    bl_fault_registry *reg = NULL;
    layer_out *L = NULL;
    int nl = 0, rc = BL_EXIT_RUNTIME;
    bl_hidden hs[64];
    if (cli_fault_registry(plugins, np, &reg, &err) ||
        cli_load_inputs(model_arg, data_arg, (size_t)limit, 0, &m, &ds, &in, &err))
        goto fail;
    bl_engine_opts o = { .threads = (int)threads };
    if (bl_engine_new(m, &o, &e, &err))
        goto fail;
    if (layer) {
        if (bl_hidden_find(m, layer, &hs[0]) < 0) {
            bl_error_set(&err, BL_ENOTFOUND, "%s: no hidden layer '%s' (a weight layer "
                         "followed by a threshold; see betlab info)", model_arg, layer);
            goto fail;
        }
        nl = 1;
    } else {
        nl = bl_hidden_layers(m, hs, 64);
        if (nl > 64)
            nl = 64;
    }
    L = calloc((size_t)(nl ? nl : 1), sizeof *L);
    if (!L) {
        bl_error_set(&err, BL_ENOMEM, "out of memory");
        goto fail;
    }
    size_t count = bl_inputs_count(in);
    for (int i = 0; i < nl; i++) {
        layer_out *lo = &L[i];
        lo->h = hs[i];
        int32_t *pre = NULL;
        if (bl_hidden_preacts(e, m, in, &lo->h, &pre, &err) ||
            bl_margin_summarize(m, &lo->h, pre, count, &lo->ms, &err)) {
            free(pre);
            goto fail;
        }
        double t0 = bl_now();
        bl_error aerr = { 0 };
        int arc = bl_flip_fraction_analytic(m, &lo->h, pre, count, ber, &lo->analytic, &aerr);
        if (arc && arc != BL_EUNSUPPORTED) {
            err = aerr;
            free(pre);
            goto fail;
        }
        if (arc)
            snprintf(lo->an_note, sizeof lo->an_note, "%s", aerr.msg);
        double t1 = bl_now();
        lo->an_seconds = t1 - t0;
        if (bl_flip_fraction_measured(e, m, in, &lo->h, reg, ber, (uint64_t)seed, (int)reps,
                                      pre, &lo->measured, &err)) {
            free(pre);
            goto fail;
        }
        lo->mc_seconds = bl_now() - t1;
        free(pre);
        if (want_imp) {
            if (bl_importance_layer(e, m, in, &lo->h, method, (int)threads, &lo->imp, &err))
                goto fail;
            lo->have_imp = 1;
        }
    }
    if (json) {
        json_t *top = json_object(), *arr = json_array();
        json_object_set_new(top, "model", json_string(model_arg));
        json_object_set_new(top, "data", json_string(data_arg));
        json_object_set_new(top, "images", json_integer((json_int_t)count));
        json_object_set_new(top, "ber", json_real(ber));
        json_object_set_new(top, "reps", json_integer(reps));
        json_object_set_new(top, "seed", json_integer(seed));
        for (int i = 0; i < nl; i++) {
            layer_out *lo = &L[i];
            json_t *l = json_object(), *mg = json_object(), *q = json_object(),
                   *hist = json_object(), *counts = json_array(), *below = json_object(),
                   *fle = json_object(), *ff = json_object();
            json_object_set_new(l, "name", json_string(lo->h.name));
            json_object_set_new(l, "neurons",
                                json_integer((json_int_t)bl_shape_size(m->layers[lo->h.src].out)));
            json_object_set_new(mg, "count", json_integer((json_int_t)lo->ms.count));
            json_object_set_new(mg, "mean", json_real(lo->ms.mean));
            json_object_set_new(mg, "min", json_integer(lo->ms.min));
            json_object_set_new(mg, "max", json_integer(lo->ms.max));
            char key[16];
            for (int k = 0; k < BL_MARGIN_NQ; k++) {
                key_of(key, sizeof key, bl_margin_qlevels[k]);
                json_object_set_new(q, key, json_integer(lo->ms.q[k]));
            }
            json_object_set_new(mg, "quantiles", q);
            for (int k = 0; k < BL_MARGIN_NK; k++) {
                snprintf(key, sizeof key, "%d", 2 * bl_margin_ks[k]);
                json_object_set_new(below, key, json_real(lo->ms.below[k]));
                snprintf(key, sizeof key, "%d", bl_margin_ks[k]);
                json_object_set_new(fle, key, json_real(lo->ms.flips_le[k]));
            }
            json_object_set_new(mg, "fraction_below", below);
            json_object_set_new(mg, "flips_needed_at_most", fle);
            json_object_set_new(hist, "bin_width", json_integer(lo->ms.bin_width));
            for (uint32_t b = 0; b < lo->ms.nbins; b++)
                json_array_append_new(counts, json_integer((json_int_t)lo->ms.hist[b]));
            json_object_set_new(hist, "counts", counts);
            json_object_set_new(mg, "hist", hist);
            json_object_set_new(l, "margin", mg);
            json_object_set_new(ff, "ber", json_real(ber));
            json_object_set_new(ff, "analytic", num_or_null(lo->analytic));
            if (lo->an_note[0])
                json_object_set_new(ff, "analytic_note", json_string(lo->an_note));
            json_object_set_new(ff, "measured", json_real(lo->measured.mean));
            json_object_set_new(ff, "measured_ci_low", json_real(lo->measured.low));
            json_object_set_new(ff, "measured_ci_high", json_real(lo->measured.high));
            json_object_set_new(l, "flip_fraction", ff);
            if (lo->have_imp) {
                json_t *im = json_object();
                json_object_set_new(im, "mean", json_real(lo->imp.mean));
                json_object_set_new(im, "max", json_real(lo->imp.max));
                json_object_set_new(im, "variance", json_real(lo->imp.variance));
                json_object_set_new(im, "method", json_string(lo->imp.method == BL_IMP_FAST ?
                                                              "fast" : "brute"));
                json_object_set_new(im, "seconds", json_real(lo->imp.seconds));
                json_object_set_new(l, "importance", im);
            } else {
                json_object_set_new(l, "importance", json_null());
            }
            json_array_append_new(arr, l);
        }
        json_object_set_new(top, "layers", arr);
        cli_print_json(top);
    } else {
        printf("model %s, %zu inputs of %s; flip fraction at BER %g (%ld Monte-Carlo maps, "
               "seed %ld)\n", model_arg, count, data_arg, ber, reps, seed);
        for (int i = 0; i < nl; i++) {
            layer_out *lo = &L[i];
            const bl_margin_summary *s = &lo->ms;
            printf("\n%s  (%zu neurons%s)\n", lo->h.name, bl_shape_size(m->layers[lo->h.src].out),
                   m->layers[lo->h.weight].real_input ? ", real-valued inputs" : "");
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
                printf("  flipped outputs: analytic n/a (%s)\n", lo->an_note);
            else
                printf("  flipped outputs: analytic %.5f\n", lo->analytic);
            printf("                   measured %.5f [%.5f, %.5f] (95%% CI over maps)\n",
                   lo->measured.mean, lo->measured.low, lo->measured.high);
            if (lo->have_imp)
                printf("  importance: mean %.5f  max %.5f  variance %.3g  (%s, %.2f s)\n",
                       lo->imp.mean, lo->imp.max, lo->imp.variance,
                       lo->imp.method == BL_IMP_FAST ? "fast" : "brute", lo->imp.seconds);
        }
    }
    rc = 0;
fail:
    if (rc)
        cli_error("%s", err.msg);
    for (int i = 0; L && i < nl; i++) {
        bl_margin_summary_free(&L[i].ms);
        bl_importance_free(&L[i].imp);
    }
    free(L);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    return rc;
}
