/* cmd_cluster.c - `betlab cluster` (exemplar clustering of a dataset or of
 * generated Gaussian blobs with any optimizer and backend) and
 * `betlab subset` (a representative weighted test subset of k images and
 * how far its weighted accuracy is from the full-set accuracy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/env.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"
#include "data/dataset.h"

/* The data: "blobs:N,D,K[,SEED]" or anything bl_dataset_load reads. */
static int load_points(const char *arg, size_t limit, double **x, size_t *n, size_t *d,
                       bl_error *err)
{
    size_t bn, bd, bk;
    uint64_t bs;
    if (!strncmp(arg, "blobs:", 6)) {
        if (bl_cluster_blobs_parse(arg, &bn, &bd, &bk, &bs))
            return bl_error_set(err, BL_EINVAL, "bad blobs spec '%s' (blobs:N,D,K[,SEED])", arg);
        if (limit && limit < bn)
            bn = limit;
        *n = bn;
        *d = bd;
        return bl_cluster_blobs(bn, bd, bk, bs, x, NULL, err);
    }
    bl_dataset *ds = NULL;
    bl_load_opts lo = { .csv_label = BL_CSV_LABEL_NONE, .data_dir = cli_settings()->data_dir };
    int rc = bl_dataset_load(arg, &lo, &ds, err);
    if (!rc)
        rc = bl_cluster_features(ds, limit, x, n, d, err);
    bl_dataset_free(ds);
    return rc;
}

/* --optimizer and --precision accept the core's names and aliases. */
static int parse_optimizer(void *field, const char *arg, char *msg, size_t n)
{
    int v = bl_optimizer_parse(arg);
    if (v < 0) {
        snprintf(msg, n, "--optimizer: unknown optimizer '%s' (greedy, lazy-greedy, "
                         "stochastic-greedy, sieve-streaming, sieve-streaming++, three-sieves, "
                         "salsa)", arg);
        return -1;
    }
    *(int *)field = v;
    return 0;
}

static int parse_precision(void *field, const char *arg, char *msg, size_t n)
{
    int v = bl_precision_parse(arg);
    if (v < 0) {
        snprintf(msg, n, "--precision: unknown precision '%s' (fp64, fp32, fp16)", arg);
        return -1;
    }
    *(int *)field = v;
    return 0;
}

#define OPTIMIZER_HELP                                                                          \
    "greedy, lazy-greedy (default), stochastic-greedy, sieve-streaming, sieve-streaming++, "   \
    "three-sieves or salsa"

typedef struct cluster_opts {
    const char *data, *device;
    long k, seed, threads, limit, T, batch;
    int optimizer, precision, json;
    double epsilon;
} cluster_opts;

#define CO cluster_opts
static const cli_opt cluster_optv[] = {
    CLI_STR("data", 'd', "D", CO, data,
            "the points: a dataset, or Gaussian blobs:N,D,K[,SEED]", CLI_REQUIRED),
    CLI_INT("k", 'k', "K", 1, 1L << 32, CO, k, "exemplars to choose", CLI_REQUIRED),
    CLI_CALL("optimizer", 'o', "NAME", parse_optimizer, CO, optimizer, OPTIMIZER_HELP, 0),
    CLI_STR("device", 'D', "cpu|reference|opencl...", CO, device,
            "the backend: cpu (default), the fp64 reference, or an OpenCL device", 0),
    CLI_CALL("precision", 'p', "fp64|fp32|fp16", parse_precision, CO, precision,
             "storage and arithmetic precision (default fp32)", 0),
    CLI_SEED("seed", 'S', CO, seed,
            "seed of the stochastic optimizers and of the stream order (default 1)", 0),
    CLI_INT("threads", 't', "T", 1, 1024, CO, threads, "CPU worker threads (default: one per CPU)",
            0),
    CLI_INT("limit", 'n', "N", 1, 1L << 40, CO, limit, "use only the first N points", 0),
    CLI_REAL("epsilon", 'e', "E", 0, 1, CO, epsilon,
             "accuracy parameter of stochastic greedy and the sieves", CLI_LO_OPEN | CLI_HI_OPEN),
    CLI_INT("T", 'T', "T", 1, 1L << 30, CO, T, "the threshold count of three-sieves", 0),
    CLI_INT("batch", 'b', "B", 1, 1L << 20, CO, batch,
            "candidates or sets evaluated per device call", 0),
    CLI_FLAG("json", 'j', CO, json, "print one JSON object", 0),
    CLI_END,
};
#undef CO

const cli_spec cli_spec_cluster = {
    "cluster", "exemplar clustering (D may be blobs:N,D,K[,SEED]) with seven optimizers", NULL,
    0, 0, 0, cluster_optv,
};

/* Progress bar on stderr while the optimizer runs (only when stderr is a
 * terminal, as `betlab sweep`): the optimizer's on_progress, redrawn when
 * the percentage changes. */
typedef struct cluster_bar {
    int last;
} cluster_bar;

static int bar(void *ctx, double fraction, double f)
{
    cluster_bar *cb = ctx;
    int pct = (int)(fraction * 100 + 0.5);
    if (pct == cb->last)
        return 0;
    cb->last = pct;
    char msg[48];
    snprintf(msg, sizeof msg, "f(S) = %.10g", f);
    cli_progress_bar(NULL, fraction, msg);
    return 0;
}

int cmd_cluster(int argc, char **argv)
{
    cluster_opts co = { .device = "cpu", .seed = 1, .optimizer = BL_OPT_LAZY_GREEDY,
                        .precision = BL_PREC_FP32 };
    cli_args a;
    int prc = cli_parse(&cli_spec_cluster, argc, argv, &co, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *data_arg = co.data, *dev = co.device;
    long k = co.k, seed = co.seed, threads = co.threads, limit = co.limit, T = co.T,
         batch = co.batch;
    int json = co.json, opt = co.optimizer, prec = co.precision;
    double eps = co.epsilon;
    if (!strcasecmp(dev, "reference") && prec != BL_PREC_FP64) {
        prec = BL_PREC_FP64;  /* the reference computes in double only */
    }
    bl_error err = { 0 };
    double *x = NULL;
    size_t n = 0, d = 0;
    bl_cluster_backend *b = NULL;
    bl_cluster_result r = { 0 };
    int rc = load_points(data_arg, (size_t)limit, &x, &n, &d, &err);
    bl_cluster_opts o = { .k = (size_t)k, .optimizer = opt, .seed = (uint64_t)seed,
                          .epsilon = eps, .T = (int)T, .batch = (size_t)batch };
    if (!rc && (size_t)k > n)
        rc = bl_error_set(&err, BL_EINVAL, "k = %ld exceeds the %zu data points", k, n);
    if (!rc) {
        bl_cluster_data data = { n, d, x };
        rc = bl_cluster_backend_new(dev, &data, prec, bl_cluster_slots_needed(&o), (int)threads,
                                    cli_settings(), &b, &err);
    }
    int tty = isatty(2);
    cluster_bar cb = { -1 };
    if (tty) {
        o.on_progress = bar;
        o.ctx = &cb;
    }
    if (!rc)
        rc = bl_cluster_run(b, &o, &r, &err);
    if (tty && cb.last >= 0)
        cli_progress_clear();
    if (rc) {
        cli_cmd_error("cluster", "%s", err.msg);
        free(x);
        bl_cluster_backend_free(b);
        return rc == BL_EINVAL && strstr(err.msg, "unknown device") ? BL_EXIT_USAGE
                                                                  : BL_EXIT_RUNTIME;
    }
    if (json) {
        json_t *ex = json_array();
        for (size_t i = 0; i < r.k; i++)
            json_array_append_new(ex, json_integer(r.exemplars[i]));
        json_t *j = json_object();
        json_object_set_new(j, "f", json_real(r.f));
        json_object_set_new(j, "exemplars", ex);
        json_object_set_new(j, "evaluations", json_integer((json_int_t)r.evaluations));
        json_object_set_new(j, "seconds", json_real(r.seconds));
        json_object_set_new(j, "device", json_string(b->device));
        json_object_set_new(j, "precision", json_string(bl_precision_name(b->precision)));
        json_object_set_new(j, "optimizer", json_string(bl_optimizer_name(o.optimizer)));
        json_object_set_new(j, "n", json_integer((json_int_t)n));
        json_object_set_new(j, "d", json_integer((json_int_t)d));
        cli_print_json(j);
    } else {
        printf("data        %s (%zu points, %zu dimensions)\n", data_arg, n, d);
        printf("optimizer   %s, k = %zu\n", bl_optimizer_name(o.optimizer), r.k);
        printf("device      %s, %s\n", b->device, bl_precision_name(b->precision));
        printf("f(S)        %.10g\n", r.f);
        printf("evaluations %llu (%.3g gains/s)\n", (unsigned long long)r.evaluations,
               r.seconds > 0 ? (double)r.evaluations / r.seconds : 0.0);
        printf("seconds     %.3f\n", r.seconds);
        printf("exemplars  ");
        for (size_t i = 0; i < r.k; i++)
            printf(" %u", r.exemplars[i]);
        printf("\n");
    }
    bl_cluster_result_free(&r);
    bl_cluster_backend_free(b);
    free(x);
    return BL_EXIT_OK;
}

typedef struct subset_args {
    const char *model, *data;
    long k, seed, threads, limit;
    int raw, json, optimizer, precision;
} subset_args;

/* The strings that go straight into bl_subset_opts are parsed into it. */
typedef struct subset_all {
    subset_args a;
    bl_subset_opts so;
} subset_all;

#define T subset_all
static const cli_opt subset_all_optv[] = {
    CLI_STR("model", 'm', "M", T, a.model, "the model: file, shipped name or random:SPEC[@SEED]",
            CLI_REQUIRED),
    CLI_STR("data", 'd', "D", T, a.data, "the labelled test set", CLI_REQUIRED),
    CLI_INT("k", 'k', "K", 1, 1L << 32, T, a.k, "images in the subset", CLI_REQUIRED),
    CLI_STR("space", 's', "pixels|LAYER", T, so.space,
            "cluster the input pixels (default) or a layer's outputs, e.g. fc1", 0),
    CLI_FLAG("raw", 'r', T, a.raw, "in a layer's space: pre-activations instead of their signs",
             0),
    CLI_CALL("optimizer", 'o', "NAME", parse_optimizer, T, a.optimizer, OPTIMIZER_HELP, 0),
    CLI_STR("device", 'D', "cpu|reference|opencl...", T, so.device,
            "the clustering backend (default cpu)", 0),
    CLI_CALL("precision", 'p', "fp64|fp32|fp16", parse_precision, T, a.precision,
             "clustering precision (default fp32)", 0),
    CLI_SEED("seed", 'S', T, a.seed, "seed of the optimizer (default 1)", 0),
    CLI_INT("threads", 't', "T", 1, 1024, T, a.threads,
            "CPU worker threads (default: one per CPU)", 0),
    CLI_INT("limit", 'n', "N", 1, 1L << 40, T, a.limit, "use only the first N images", 0),
    CLI_FLAG("json", 'j', T, a.json, "print one JSON object", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_subset = {
    "subset", "representative weighted test subset: full vs weighted accuracy", NULL, 0, 0, 0,
    subset_all_optv,
};

int cmd_subset(int argc, char **argv)
{
    subset_all all = { .a = { .seed = 1, .optimizer = BL_OPT_LAZY_GREEDY,
                              .precision = BL_PREC_FP32 },
                       .so = { .device = "cpu", .space = "pixels", .sign = 1 } };
    cli_args pa;
    int prc = cli_parse(&cli_spec_subset, argc, argv, &all, &pa);
    if (prc)
        return cli_parse_exit(prc);
    bl_subset_opts so = all.so;
    so.optimizer = all.a.optimizer;
    so.precision = all.a.precision;
    const char *model_arg = all.a.model, *data_arg = all.a.data;
    long k = all.a.k, seed = all.a.seed, threads = all.a.threads, limit = all.a.limit;
    int json = all.a.json, raw = all.a.raw;
    so.k = (size_t)k;
    so.seed = (uint64_t)seed;
    so.threads = (int)threads;
    so.limit = (size_t)limit;
    so.sign = !raw;
    bl_error err = { 0 };
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_subset_result r = { 0 };
    int rc = cli_load_model(model_arg, &m, &err);
    if (!rc)
        rc = bl_dataset_load(data_arg, &(bl_load_opts){ .data_dir = cli_settings()->data_dir },
                             &ds, &err);
    if (!rc)
        rc = bl_subset_choose(m, ds, &so, &r, &err);
    if (rc) {
        cli_cmd_error("subset", "%s", err.msg);
        bl_dataset_free(ds);
        bl_model_free(m);
        return BL_EXIT_RUNTIME;
    }
    double gap = r.weighted_accuracy - r.full_accuracy;
    if (json) {
        json_t *j = json_object(), *ex = json_array(), *w = json_array();
        for (size_t i = 0; i < r.k; i++) {
            json_array_append_new(ex, json_integer(r.exemplars[i]));
            json_array_append_new(w, json_integer(r.weights[i]));
        }
        json_object_set_new(j, "n", json_integer((json_int_t)r.n));
        json_object_set_new(j, "k", json_integer((json_int_t)r.k));
        json_object_set_new(j, "space", json_string(so.space));
        json_object_set_new(j, "full_accuracy", json_real(r.full_accuracy));
        json_object_set_new(j, "weighted_accuracy", json_real(r.weighted_accuracy));
        json_object_set_new(j, "gap", json_real(gap));
        json_object_set_new(j, "f", json_real(r.f));
        json_object_set_new(j, "seconds", json_real(r.seconds));
        json_object_set_new(j, "exemplars", ex);
        json_object_set_new(j, "weights", w);
        cli_print_json(j);
    } else {
        printf("subset      %zu of %zu images (%s space)\n", r.k, r.n, so.space);
        printf("full        %.4f\n", r.full_accuracy);
        printf("weighted    %.4f  (gap %+.4f)\n", r.weighted_accuracy, gap);
        printf("clustering  f = %.6g in %.2f s\n", r.f, r.seconds);
    }
    bl_subset_result_free(&r);
    bl_dataset_free(ds);
    bl_model_free(m);
    return BL_EXIT_OK;
}
