/* cmd_eval.c - `betlab eval`: accuracy and throughput of a model on a
 * dataset with the packed engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "bnn/engine.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "data/npy.h"
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
    bl_fault_map *map = NULL;
    int rc = bl_fault_map_from_spec(reg, fault, m, seed, &map, err);
    if (!rc)
        rc = bl_fault_map_save(map, path, err);
    bl_fault_map_free(map);
    return rc;
}

/* [images] for the clean model, [maps, images] under --fault or --map. */
static int save_predictions(const bl_pred_rows *p, int faulty, const char *path, bl_error *err)
{
    if (p->oom)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory keeping the predictions", path);
    bl_array a = { .dtype = BL_DT_I64, .data = p->v, .count = p->rows * p->n };
    if (faulty) {
        a.ndim = 2;
        a.shape[0] = p->rows;
        a.shape[1] = p->n;
    } else {
        a.ndim = 1;
        a.shape[0] = p->n;
    }
    return bl_npy_save(path, &a, err);
}

typedef struct eval_opts {
    const char *model, *data, *fault, *save_map, *map, *predictions;
    long limit, threads, repeat, seed, reps, max_reps;
    double ci_width;
    int simd, json;
    char *plugins[CLI_MAX_PLUGINS];
    int nplugins;
} eval_opts;

static const char *const simd_words[] = { "portable", "avx2", "avx512", NULL };
static const int simd_values[] = { BL_SIMD_PORTABLE, BL_SIMD_AVX2, BL_SIMD_AVX512 };

/* reps, max-reps, ci-width, threads and repeat are range-checked by the
 * evaluator (bl_evaluate_check_params), not here: the help quotes its
 * limits */
#define T eval_opts
static const cli_opt eval_optv[] = {
    CLI_STR("model", 'm', "MODEL", T, model,
            "the model: a .bnn file, a shipped model's name or random:SPEC[@SEED]", CLI_REQUIRED),
    CLI_STR("data", 'd', "DATA", T, data,
            "the labelled dataset (fashion-mnist:test|train or a file)", CLI_REQUIRED),
    CLI_INT("limit", 'n', "N", 1, 1L << 40, T, limit, "use only the first N inputs", 0),
    CLI_INT_CORE("threads", 't', "T", T, threads,
                 "worker threads, 1.." CLI_STRINGIFY(BL_THREADS_MAX)
                 " (default 0: one per CPU); results are identical for any count", 0),
    CLI_ENUM("simd", 's', simd_words, simd_values, T, simd,
             "force a SIMD level of the engine (default: the best this CPU has)", 0),
    CLI_INT_CORE("repeat", 'r', "R", T, repeat,
                 "time R clean evaluations and report the best, 1.."
                 CLI_STRINGIFY(BL_TIMING_REPEATS_MAX) " (default 1)", 0),
    CLI_FLAG("json", 'j', T, json, "print one JSON object", 0),
    CLI_STR("fault", 'f', "SPEC", T, fault,
            "evaluate under this fault spec at its own rates (bitflip:p=0.01, "
            "fc1.activations=bitflip:p=0.002, a plugin's kind ...)", 0),
    CLI_SEED("seed", 'S', T, seed,
            "seed of the coupled fault maps; repetition r uses S + r (default 1)", 0),
    CLI_INT_CORE("reps", 'R', "R", T, reps,
                 "fault maps, 1.." CLI_STRINGIFY(BL_REPS_MAX) " (default 1); excludes --ci-width",
                 0),
    CLI_REAL_CORE("ci-width", 'w', "W", T, ci_width,
                  "stopping rule: add maps until the 95% CI half-width is at most W, in (0, 1]",
                  0),
    CLI_INT_CORE("max-reps", 'M', "R", T, max_reps,
                 "most maps of the stopping rule, 1.." CLI_STRINGIFY(BL_REPS_MAX)
                 " (default 100)", 0),
    CLI_STR("save-map", 'W', "FILE.bfm", T, save_map,
            "save the weight and threshold faults of seed S as a fault map (needs --fault)",
            0),
    CLI_STR("map", 'F', "FILE.bfm", T, map,
            "evaluate with a saved fault map applied (excludes --fault)", 0),
    CLI_STR("predictions", 'P', "FILE.npy", T, predictions,
            "write each image's predicted class (int64): [images], or [maps, images] under "
            "--fault or --map", 0),
    CLI_LIST("plugin", 'p', "NAME|FILE.so", CLI_MAX_PLUGINS, T, plugins, nplugins,
             "load a fault-model plugin, by name (searched in BETLAB_PLUGIN_PATH, ./plugins, "
             "the shipped folder) or by file", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_eval = {
    "eval", "accuracy and throughput of a model on a dataset, clean or under faults", NULL, 0,
    0, 0, eval_optv,
};

int cmd_eval(int argc, char **argv)
{
    eval_opts o = { .repeat = 1, .seed = 1, .simd = -1 };
    cli_args a;
    int prc = cli_parse(&cli_spec_eval, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *model_arg = o.model, *data_arg = o.data, *fault = o.fault,
               *save_map_arg = o.save_map, *map_arg = o.map;
    long limit = o.limit, threads = o.threads, repeat = o.repeat, seed = o.seed, reps = o.reps,
         max_reps = o.max_reps;
    double ci_width = o.ci_width;
    int json = o.json, np = o.nplugins;
    char **plugins = o.plugins;
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
    bl_pred_rows preds = { 0 };
    int rc = BL_EXIT_RUNTIME;
    double t0 = bl_now();
    if (cli_fault_registry(plugins, np, &reg, &err) ||
        cli_load_inputs(model_arg, data_arg, (size_t)limit, 1, &m, &ds, &in, &err))
        goto fail;
    if (map_arg && bl_fault_map_load(map_arg, &map, &err))
        goto fail;
    bl_engine_opts opts = { .threads = (int)threads, .simd = 0, .simd_set = 0 };
    if (o.simd >= 0) {
        int want = o.simd;
        if (want > (int)bl_simd_supported()) {
            bl_error_set(&err, BL_EUNSUPPORTED, "this CPU does not support --simd %s (best: %s)",
                         bl_simd_name((bl_simd)want), bl_simd_name(bl_simd_supported()));
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
    if (o.predictions) {
        cfg.predictions = bl_pred_rows_keep;
        cfg.predictions_ctx = &preds;
    }
    double prep = bl_now() - t0;
    if (bl_eval_job_run_sync(&cfg, NULL, NULL, &r, &err))
        goto fail;
    if (o.predictions && save_predictions(&preds, fault || map, o.predictions, &err))
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
        if (o.predictions)
            printf("predicted classes of %zu map%s x %zu images to %s\n", preds.rows,
                   preds.rows == 1 ? "" : "s", preds.n, o.predictions);
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
        cli_cmd_error("eval", "%s", err.msg);
    bl_evaluate_result_free(r);
    bl_pred_rows_free(&preds);
    bl_fault_map_free(map);
    bl_fault_registry_free(reg);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    return rc;
}
