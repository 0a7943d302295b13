/* cmd_cluster.c - `betlab cluster` (exemplar clustering of a dataset or of
 * generated Gaussian blobs with any optimizer and backend) and
 * `betlab subset` (a representative weighted test subset of k images and
 * how far its weighted accuracy is from the full-set accuracy). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/env.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"
#include "data/dataset.h"

static int parse_eps(const char *cmd, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v > 0 && v < 1))
        return cli_usage_error(cmd, "--epsilon wants a number in (0, 1), not '%s'", s);
    *out = v;
    return 0;
}

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

int cmd_cluster(int argc, char **argv)
{
    const char *data_arg = NULL, *dev = "cpu";
    long k = 0, seed = 1, threads = 0, limit = 0, T = 0, batch = 0;
    int json = 0, opt = BL_OPT_LAZY_GREEDY, prec = BL_PREC_FP32;
    double eps = 0;
    static const struct option longopts[] = {
        { "data", required_argument, NULL, 'd' },   { "k", required_argument, NULL, 'k' },
        { "optimizer", required_argument, NULL, 'o' },
        { "device", required_argument, NULL, 'D' }, { "precision", required_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 'S' },   { "threads", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'n' },  { "epsilon", required_argument, NULL, 'e' },
        { "T", required_argument, NULL, 'T' },      { "batch", required_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },         { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:k:o:D:p:S:t:n:e:T:b:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': data_arg = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, 1, 1L << 32, &k))
                return cli_usage_error("cluster", "--k wants a positive integer, not '%s'", optarg);
            break;
        case 'o':
            if ((opt = bl_optimizer_parse(optarg)) < 0)
                return cli_usage_error("cluster", "unknown optimizer '%s' (greedy, lazy-greedy, "
                                       "stochastic-greedy, sieve-streaming, sieve-streaming++, "
                                       "three-sieves, salsa)", optarg);
            break;
        case 'D': dev = optarg; break;
        case 'p':
            if ((prec = bl_precision_parse(optarg)) < 0)
                return cli_usage_error("cluster", "unknown precision '%s' (fp64, fp32, fp16)",
                                       optarg);
            break;
        case 'S':
            if (cli_parse_long(optarg, 0, 1L << 62, &seed))
                return cli_usage_error("cluster", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 1024, &threads))
                return cli_usage_error("cluster", "--threads wants 1..1024, not '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &limit))
                return cli_usage_error("cluster", "--limit wants a positive integer, not '%s'",
                                       optarg);
            break;
        case 'e':
            if (parse_eps("cluster", optarg, &eps))
                return BL_EXIT_USAGE;
            break;
        case 'T':
            if (cli_parse_long(optarg, 1, 1L << 30, &T))
                return cli_usage_error("cluster", "--T wants a positive integer, not '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_long(optarg, 1, 1L << 20, &batch))
                return cli_usage_error("cluster", "--batch wants 1..1048576, not '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: betlab cluster --data D --k K --optimizer NAME [--device cpu|reference|"
                   "opencl...] [--precision fp64|fp32|fp16] [--seed S] [--threads T] [--limit N] "
                   "[--epsilon E] [--T T] [--batch B] [--json]\n");
            return BL_EXIT_OK;
        default: return cli_usage_error("cluster", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("cluster", "unexpected argument '%s'", argv[optind]);
    if (!data_arg)
        return cli_usage_error("cluster", "--data is required");
    if (!k)
        return cli_usage_error("cluster", "--k is required (a positive integer)");
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
    if (!rc)
        rc = bl_cluster_run(b, &o, &r, &err);
    if (rc) {
        cli_error("cluster: %s", err.msg);
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

int cmd_subset(int argc, char **argv)
{
    const char *model_arg = NULL, *data_arg = NULL;
    long k = 0, seed = 1, threads = 0, limit = 0;
    int json = 0, raw = 0;
    bl_subset_opts so = { .optimizer = BL_OPT_LAZY_GREEDY, .precision = BL_PREC_FP32,
                          .device = "cpu", .space = "pixels", .sign = 1,
                          .settings = cli_settings() };
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' }, { "data", required_argument, NULL, 'd' },
        { "k", required_argument, NULL, 'k' },     { "space", required_argument, NULL, 's' },
        { "raw", no_argument, NULL, 'r' },         { "optimizer", required_argument, NULL, 'o' },
        { "device", required_argument, NULL, 'D' }, { "precision", required_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 'S' },  { "threads", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'n' }, { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    int c, v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:k:s:ro:D:p:S:t:n:j", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'd': data_arg = optarg; break;
        case 'k':
            if (cli_parse_long(optarg, 1, 1L << 32, &k))
                return cli_usage_error("subset", "--k wants a positive integer, not '%s'", optarg);
            break;
        case 's': so.space = optarg; break;
        case 'r': raw = 1; break;
        case 'o':
            if ((v = bl_optimizer_parse(optarg)) < 0)
                return cli_usage_error("subset", "unknown optimizer '%s'", optarg);
            so.optimizer = v;
            break;
        case 'D': so.device = optarg; break;
        case 'p':
            if ((v = bl_precision_parse(optarg)) < 0)
                return cli_usage_error("subset", "unknown precision '%s' (fp64, fp32, fp16)",
                                       optarg);
            so.precision = v;
            break;
        case 'S':
            if (cli_parse_long(optarg, 0, 1L << 62, &seed))
                return cli_usage_error("subset", "--seed wants a non-negative integer");
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 1024, &threads))
                return cli_usage_error("subset", "--threads wants 1..1024, not '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &limit))
                return cli_usage_error("subset", "--limit wants a positive integer");
            break;
        case 'j': json = 1; break;
        default: return cli_usage_error("subset", "unknown option");
        }
    }
    if (!model_arg || !data_arg || !k)
        return cli_usage_error("subset", "--model, --data and --k are required");
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
        cli_error("subset: %s", err.msg);
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
