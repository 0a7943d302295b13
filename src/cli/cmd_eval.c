/* cmd_eval.c - `betlab eval`: accuracy and throughput of a model on a
 * dataset with the packed engine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "fault/fault.h"
#include "jobs/eval_job.h"
#include "study/stats.h"


static void human_rate(double v, char *buf, size_t n)
{
    const char *unit[] = { "", "k", "M", "G", "T", "P" };
    int u = 0;
    while (v >= 1000.0 && u < 5) {
        v /= 1000.0;
        u++;
    }
    snprintf(buf, n, "%.3g %s", v, unit[u]);
}

/* --save-map: the weight/threshold faults of repetition 0 (seed S) as a
 * .bfm file, so another model or setting can be evaluated on exactly the
 * same flipped bits with --map. */
static int save_map(const bl_fault_registry *reg, const char *fault, const bl_model *m,
                    uint64_t seed, const char *path, bl_error *err)
{
    bl_fault_spec *spec = NULL;
    bl_model *faulty = NULL;
    bl_fault_map *map = NULL;
    int rc = bl_fault_spec_parse(reg, fault, m, &spec, err);
    if (!rc)
        rc = bl_model_clone(m, &faulty, err);
    if (!rc)
        rc = bl_fault_apply(spec, m, faulty, seed, NULL, err);
    if (!rc)
        rc = bl_fault_map_diff(m, faulty, &map, err);
    if (!rc)
        rc = bl_fault_map_save(map, path, err);
    bl_fault_map_free(map);
    bl_model_free(faulty);
    bl_fault_spec_free(spec);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *model_arg = NULL, *data_arg = NULL, *simd_arg = NULL;
    long limit = 0, threads = 0, repeat = 1, seed = 1, reps = 0, max_reps = 0;
    int json = 0, have_reps = 0;
    double ci_width = 0;
    const char *fault = NULL, *save_map_arg = NULL, *map_arg = NULL;
    char *plugins[CLI_MAX_PLUGINS];
    int np = 0;
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "data", required_argument, NULL, 'd' },
        { "limit", required_argument, NULL, 'n' },
        { "threads", required_argument, NULL, 't' },
        { "simd", required_argument, NULL, 's' },
        { "repeat", required_argument, NULL, 'r' },
        { "json", no_argument, NULL, 'j' },
        { "fault", required_argument, NULL, 'f' },
        { "seed", required_argument, NULL, 'S' },
        { "reps", required_argument, NULL, 'R' },
        { "ci-width", required_argument, NULL, 'w' },
        { "max-reps", required_argument, NULL, 'M' },
        { "plugin", required_argument, NULL, 'p' },
        { "save-map", required_argument, NULL, 'W' },
        { "map", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:n:t:s:r:jf:S:R:w:M:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'd': data_arg = optarg; break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &limit))
                return cli_usage_error("eval", "--limit wants a positive integer, not '%s'", optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, -1000000, 1000000, &threads))
                return cli_usage_error("eval", "--threads wants an integer, not '%s'", optarg);
            break;
        case 'r':
            if (cli_parse_long(optarg, -1000000, 1000000, &repeat))
                return cli_usage_error("eval", "--repeat wants an integer, not '%s'", optarg);
            break;
        case 's':
            simd_arg = optarg;
            if (bl_simd_parse(optarg) < 0)
                return cli_usage_error("eval", "--simd wants portable, avx2 or avx512, not '%s'",
                                       optarg);
            break;
        case 'j': json = 1; break;
        case 'f': fault = optarg; break;
        case 'S':
            if (cli_parse_long(optarg, 0, 1L << 62, &seed))
                return cli_usage_error("eval", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 'R':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &reps))
                return cli_usage_error("eval", "--reps wants an integer, not '%s'", optarg);
            have_reps = 1;
            break;
        case 'w': {
            char *end;
            ci_width = strtod(optarg, &end);
            if (end == optarg || *end)
                return cli_usage_error("eval", "--ci-width wants a number, not '%s'", optarg);
            break;
        }
        case 'M':
            if (cli_parse_long(optarg, -1000000000, 1000000000, &max_reps))
                return cli_usage_error("eval", "--max-reps wants an integer, not '%s'", optarg);
            break;
        case 'p':
            if (cli_add_plugin("eval", plugins, &np, optarg))
                return BL_EXIT_USAGE;
            break;
        case 'W': save_map_arg = optarg; break;
        case 'F': map_arg = optarg; break;
        case 'h':
            printf("usage: betlab eval --model MODEL --data DATA [--limit N] [--threads T] "
                   "[--simd LEVEL] [--repeat R] [--json] [--fault SPEC [--seed S] "
                   "[--reps R | --ci-width W [--max-reps R]] [--save-map FILE.bfm]] "
                   "[--map FILE.bfm] [--plugin FILE.so]\n");
            return 0;
        default: return cli_usage_error("eval", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!model_arg || !data_arg)
        return cli_usage_error("eval", "--model and --data are required");
    (void)have_reps;
    /* ranges and combinations are the evaluator's to check: before loading
     * anything, so a bad value is a usage error */
    bl_evaluate_cfg pc = { .fault = fault, .map = map_arg ? (const bl_fault_map *)1 : NULL,
                           .reps = (int)reps, .ci_width = ci_width, .max_reps = (int)max_reps,
                           .threads = (int)threads, .timing_repeats = (int)repeat };
    bl_error perr = { 0 };
    if (bl_evaluate_check_params(&pc, &perr))
        return cli_usage_error("eval", "%s", perr.msg);
    if (save_map_arg && !fault)
        return cli_usage_error("eval", "--save-map needs --fault");
    if (map_arg && fault)
        return cli_usage_error("eval", "--map and --fault exclude each other");

    bl_error err = { 0 };
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_engine *e = NULL;
    bl_fault_registry *reg = NULL;
    bl_fault_map *map = NULL;
    bl_evaluate_result *r = NULL;
    int rc = BL_EXIT_RUNTIME;
    double t0 = bl_now();
    if (cli_fault_registry(plugins, np, &reg, &err) ||
        cli_load_inputs(model_arg, data_arg, (size_t)limit, 1, &m, &ds, &in, &err))
        goto fail;
    if (map_arg && bl_fault_map_load(map_arg, &map, &err))
        goto fail;
    bl_engine_opts opts = { .threads = (int)threads, .simd = 0, .simd_set = 0 };
    if (simd_arg) {
        int want = bl_simd_parse(simd_arg);
        if (want > (int)bl_simd_supported()) {
            bl_error_set(&err, BL_EUNSUPPORTED, "this CPU does not support --simd %s (best: %s)",
                         simd_arg, bl_simd_name(bl_simd_supported()));
            goto fail;
        }
        opts.simd = want;
        opts.simd_set = 1;
    }
    /* the evaluator checks every range; the engine is made only after */
    bl_evaluate_cfg cfg = { .model = m, .inputs = in, .reg = reg, .fault = fault, .map = map,
                            .map_name = map_arg,
                            .seed = (uint64_t)seed, .reps = (int)reps, .ci_width = ci_width,
                            .max_reps = (int)max_reps, .threads = (int)threads,
                            .timing_repeats = (int)repeat };
    if (bl_evaluate_check(&cfg, &err))
        goto fail;
    if (bl_engine_new(m, &opts, &e, &err))
        goto fail;
    cfg.engine = e;
    double prep = bl_now() - t0;
    if (bl_eval_job_run_sync(&cfg, NULL, NULL, &r, &err))
        goto fail;
    if (save_map_arg && save_map(reg, fault, m, (uint64_t)seed, save_map_arg, &err))
        goto fail;
    const bl_evaluate_row *row = &r->rows[0];
    const bl_eval_stats *st = &r->timing;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(model_arg));
        json_object_set_new(o, "data", json_string(data_arg));
        json_object_set_new(o, "accuracy", json_real(row->accuracy));
        json_object_set_new(o, "ci_low", json_real(row->ci_low));
        json_object_set_new(o, "ci_high", json_real(row->ci_high));
        json_object_set_new(o, "ci_method", json_string(bl_ci_method_name(row->ci_method)));
        json_object_set_new(o, "reps", json_integer(row->reps));
        if (map_arg) {
            json_object_set_new(o, "map", json_string(map_arg));
            json_object_set_new(o, "map_bits", json_integer((json_int_t)bl_fault_map_bits(map)));
        }
        if (save_map_arg)
            json_object_set_new(o, "saved_map", json_string(save_map_arg));
        if (fault) {
            json_t *a = json_array();
            for (int k = 0; k < row->reps; k++)
                json_array_append_new(a, json_real(row->acc[k]));
            json_object_set_new(o, "fault", json_string(fault));
            json_object_set_new(o, "seed", json_integer((json_int_t)seed));
            json_object_set_new(o, "accuracies", a);
            json_object_set_new(o, "changed_bits", json_integer((json_int_t)row->changed_bits));
            json_object_set_new(o, "fault_seconds", json_real(r->fault_seconds));
            json_object_set_new(o, "fault_eval_seconds", json_real(r->eval_seconds));
        }
        if (fault || map)
            json_object_set_new(o, "clean_accuracy", json_real(r->clean_accuracy));
        if (row->reps == 1)
            json_object_set_new(o, "correct", json_integer((json_int_t)row->correct[0]));
        json_object_set_new(o, "images", json_integer((json_int_t)r->images));
        json_object_set_new(o, "seconds", json_real(st->seconds));
        json_object_set_new(o, "images_per_s", json_real(st->images_per_s));
        json_object_set_new(o, "bmacs_per_s", json_real(st->bmacs_per_s));
        json_object_set_new(o, "threads", json_integer(r->threads));
        json_object_set_new(o, "simd", json_string(bl_simd_name(r->simd)));
        json_object_set_new(o, "load_seconds", json_real(prep));
        cli_print_json(o);
    } else {
        char ips[32], macs[32];
        human_rate(st->images_per_s, ips, sizeof ips);
        human_rate(st->bmacs_per_s, macs, sizeof macs);
        printf("model     %s\n", model_arg);
        printf("data      %s (%zu images)\n", data_arg, r->images);
        if (map_arg)
            printf("fault map %s (%llu flipped bits)\n", map_arg,
                   (unsigned long long)bl_fault_map_bits(map));
        if (save_map_arg)
            printf("saved     fault map of seed %ld to %s\n", seed, save_map_arg);
        if (fault)
            printf("fault     %s (seed %ld, %d map%s)\n", fault, seed, row->reps,
                   row->reps == 1 ? "" : "s");
        if (fault || map)
            printf("accuracy  %.4f  95%% CI [%.4f, %.4f] (%s; clean %.4f)\n", row->accuracy,
                   row->ci_low, row->ci_high, bl_ci_method_name(row->ci_method),
                   r->clean_accuracy);
        else
            printf("accuracy  %.4f (%llu/%zu)  95%% CI [%.4f, %.4f] (%s)\n", row->accuracy,
                   (unsigned long long)row->correct[0], r->images, row->ci_low, row->ci_high,
                   bl_ci_method_name(row->ci_method));
        printf("time      %.4f s%s%s: %simages/s, %sbinary MAC/s (%s, %d thread%s)\n",
               st->seconds, repeat > 1 ? " (best of repeats)" : "",
               fault || map ? " (clean model)" : "", ips, macs, bl_simd_name(r->simd),
               r->threads, r->threads == 1 ? "" : "s");
    }
    rc = 0;
fail:
    if (rc)
        cli_error("%s", err.msg);
    bl_evaluate_result_free(r);
    bl_fault_map_free(map);
    bl_fault_registry_free(reg);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    return rc;
}
