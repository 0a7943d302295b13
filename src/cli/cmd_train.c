/* cmd_train.c - `betlab train`: train a BNN with bit-flip injection, export
 * the packed model (.bnn) with its settings and test accuracy; Ctrl-C
 * saves a checkpoint that --resume continues from. */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cpu.h"
#include "bnn/engine.h"
#include "bnn/train.h"
#include "cli/cli.h"
#include "cli/env.h"
#include "data/dataset.h"

#define TRAIN_USAGE                                                                             \
    "--arch fc|vgg3|SPEC --data fashion-mnist|TRAIN [--test-data TEST] --epochs E [--batch B] " \
    "[--lr LR] [--flip-p P | --flip-p01 A --flip-p10 B] [--flip-mode exact|ste] "               \
    "[--reg-margin LAMBDA,B] [--loss ce|mhl] [--seed S] [--threads T] [--limit N] "             \
    "--out MODEL [--json] [--resume CKPT]"

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}


typedef struct {
    int tty, json;
    int epochs;
    int last_pct;
    double t0;
} progress_ctx;

static int on_progress(void *vctx, const bl_train_progress *p)
{
    progress_ctx *c = vctx;
    if (p->epoch_end) {
        const bl_epoch_stats *s = p->stats;
        if (c->tty)
            fputs("\r\033[K", stderr);
        if (s->test_acc >= 0)
            fprintf(stderr, "epoch %d/%d  loss %.4f  train %.2f%%  test %.2f%%  %.1f s\n",
                    s->epoch, c->epochs, s->loss, 100 * s->train_acc, 100 * s->test_acc,
                    s->seconds);
        else
            fprintf(stderr, "epoch %d/%d  loss %.4f  train %.2f%%  %.1f s\n", s->epoch,
                    c->epochs, s->loss, 100 * s->train_acc, s->seconds);
        c->last_pct = -1;
    } else if (c->tty) {
        int pct = (int)(100 * p->done / (p->total ? p->total : 1));
        if (pct != c->last_pct) {
            char bar[31];
            int fill = pct * 30 / 100;
            for (int i = 0; i < 30; i++)
                bar[i] = i < fill ? '#' : '.';
            bar[30] = 0;
            fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %3d%%  loss %.4f", p->epoch, c->epochs,
                    bar, pct, p->loss);
            fflush(stderr);
            c->last_pct = pct;
        }
    }
    return g_interrupted != 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* Load a dataset and cut it to its first `limit` samples (0 = all). */
static int load_data(const char *name, size_t limit, bl_dataset **out, bl_error *err)
{
    bl_dataset *ds;
    bl_load_opts lo = { .data_dir = cli_settings()->data_dir };
    int rc = bl_dataset_load(name, &lo, &ds, err);
    if (rc)
        return rc;
    if (limit && limit < bl_dataset_count(ds)) {
        bl_dataset *v;
        rc = bl_dataset_subset(ds, 0, limit, &v, err);
        bl_dataset_free(ds);
        if (rc)
            return rc;
        ds = v;
    }
    *out = ds;
    return 0;
}

static const char *base_name(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, n, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && strcmp(dot, ".bnn") == 0)
        *dot = 0;
    return buf;
}

int cmd_train(int argc, char **argv)
{
    bl_train_opts o;
    bl_train_opts_default(&o);
    const char *arch = NULL, *data = NULL, *test_data = NULL, *out = NULL, *resume = NULL;
    double flip_p = -1, p01 = -1, p10 = -1;
    long limit = 0, threads = 0, epochs = 0;
    int json = 0, training_opts = 0;
    static const struct option longopts[] = {
        { "arch", required_argument, NULL, 'a' },
        { "data", required_argument, NULL, 'd' },
        { "test-data", required_argument, NULL, 'T' },
        { "epochs", required_argument, NULL, 'e' },
        { "batch", required_argument, NULL, 'b' },
        { "lr", required_argument, NULL, 'l' },
        { "flip-p", required_argument, NULL, 'p' },
        { "flip-p01", required_argument, NULL, '0' },
        { "flip-p10", required_argument, NULL, '1' },
        { "flip-mode", required_argument, NULL, 'm' },
        { "reg-margin", required_argument, NULL, 'r' },
        { "loss", required_argument, NULL, 'L' },
        { "seed", required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },
        { "json", no_argument, NULL, 'j' },
        { "resume", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:d:T:e:b:l:p:0:1:m:r:L:s:t:n:o:jR:h", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'a':
            arch = optarg;
            training_opts = 1;
            if (strlen(optarg) >= sizeof o.spec)
                return cli_usage_error("train", "--arch: spec too long");
            break;
        case 'd': data = optarg; break;
        case 'T': test_data = optarg; break;
        case 'e':
            if (cli_parse_long(optarg, 1, 100000, &epochs))
                return cli_usage_error("train", "--epochs wants 1..100000, not '%s'", optarg);
            training_opts = 1;
            break;
        case 'b':
            if (cli_parse_long(optarg, 1, 65536, &v))
                return cli_usage_error("train", "--batch wants 1..65536, not '%s'", optarg);
            o.batch = (int)v;
            training_opts = 1;
            break;
        case 'l':
            if (parse_double(optarg, 1e-9, 10, &o.lr))
                return cli_usage_error("train", "--lr wants a number in (0, 10], not '%s'", optarg);
            training_opts = 1;
            break;
        case 'p':
        case '0':
        case '1': {
            double *dst = c == 'p' ? &flip_p : c == '0' ? &p01 : &p10;
            if (parse_double(optarg, 0, 1, dst))
                return cli_usage_error("train", "--%s wants a probability in [0, 1], not '%s'",
                                       c == 'p' ? "flip-p" : c == '0' ? "flip-p01" : "flip-p10",
                                       optarg);
            training_opts = 1;
            break;
        }
        case 'm':
            if (strcmp(optarg, "exact") == 0)
                o.flip_mode = BL_FLIP_EXACT;
            else if (strcmp(optarg, "ste") == 0)
                o.flip_mode = BL_FLIP_STE;
            else
                return cli_usage_error("train", "--flip-mode wants exact or ste, not '%s'", optarg);
            training_opts = 1;
            break;
        case 'r': {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *comma = strchr(buf, ',');
            if (!comma)
                return cli_usage_error("train", "--reg-margin wants LAMBDA,B (e.g. 0.1,1)");
            *comma = 0;
            if (parse_double(buf, 0, 1e6, &o.reg_lambda) ||
                parse_double(comma + 1, 0, 1e6, &o.reg_b))
                return cli_usage_error("train", "--reg-margin wants LAMBDA,B >= 0, not '%s'",
                                       optarg);
            training_opts = 1;
            break;
        }
        case 'L':
            if (strcmp(optarg, "ce") == 0)
                o.loss = BL_LOSS_CE;
            else if (strcmp(optarg, "mhl") == 0)
                o.loss = BL_LOSS_MHL;
            else
                return cli_usage_error("train", "--loss wants ce or mhl, not '%s'", optarg);
            training_opts = 1;
            break;
        case 's': {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || *optarg == '-')
                return cli_usage_error("train", "--seed wants a non-negative integer, not '%s'",
                                       optarg);
            training_opts = 1;
            break;
        }
        case 't':
            if (cli_parse_long(optarg, 1, 1024, &threads))
                return cli_usage_error("train", "--threads wants 1..1024, not '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, 1, 1L << 40, &limit))
                return cli_usage_error("train", "--limit wants a positive integer, not '%s'",
                                       optarg);
            training_opts = 1;
            break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        case 'R': resume = optarg; break;
        case 'h': printf("usage: betlab train %s\n", TRAIN_USAGE); return 0;
        default: return cli_usage_error("train", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!out)
        return cli_usage_error("train", "--out MODEL is required");
    if (resume && training_opts)
        return cli_usage_error("train", "--resume takes the training settings from the "
                                        "checkpoint; give only --out, --threads, --json, --data, "
                                        "--test-data");
    if (!resume) {
        if (!arch || !data || !epochs)
            return cli_usage_error("train", "--arch, --data and --epochs are required");
        if (flip_p >= 0 && (p01 >= 0 || p10 >= 0))
            return cli_usage_error("train", "give --flip-p or --flip-p01/--flip-p10, not both");
        if ((p01 >= 0) != (p10 >= 0))
            return cli_usage_error("train", "--flip-p01 and --flip-p10 go together");
        snprintf(o.spec, sizeof o.spec, "%s", arch);
        o.epochs = (int)epochs;
        o.p01 = o.p10 = flip_p >= 0 ? flip_p : 0;
        if (p01 >= 0) {
            o.p01 = p01;
            o.p10 = p10;
        }
    }
    o.threads = (int)threads;

    bl_error err = { 0 };
    bl_dataset *train = NULL, *test = NULL;
    bl_trainer *t = NULL;
    bl_model *m = NULL;
    bl_engine *e = NULL;
    bl_inputs *in = NULL;
    int rc = BL_EXIT_RUNTIME;
    char train_name[256] = "", test_name[256] = "";
    size_t ntrain = 0, ntest = 0;
    if (resume) {
        char names[2][256];
        if (bl_checkpoint_peek(resume, &o, names, &ntrain, &ntest, &err))
            goto fail;
        snprintf(train_name, sizeof train_name, "%s", data ? data : names[0]);
        snprintf(test_name, sizeof test_name, "%s", test_data ? test_data : names[1]);
    } else if (strcmp(data, "fashion-mnist") == 0 || strcmp(data, "mnist") == 0) {
        snprintf(train_name, sizeof train_name, "%s:train", data);
        snprintf(test_name, sizeof test_name, "%s", test_data ? test_data : "");
        if (!test_data)
            snprintf(test_name, sizeof test_name, "%s:test", data);
        ntrain = ntest = (size_t)limit;
    } else {
        snprintf(train_name, sizeof train_name, "%s", data);
        snprintf(test_name, sizeof test_name, "%s", test_data ? test_data : "");
        ntrain = ntest = (size_t)limit;
    }
    if (load_data(train_name, ntrain, &train, &err) ||
        (test_name[0] && load_data(test_name, ntest, &test, &err)))
        goto fail;
    if (resume) {
        if (bl_trainer_load_checkpoint(resume, train, test, (int)threads, &t, &err))
            goto fail;
    } else if (bl_trainer_new(&o, train, test, &t, &err)) {
        goto fail;
    }
    bl_trainer_set_data_names(t, train_name, test_name);

    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);
    progress_ctx pc = { isatty(2), json, o.epochs, -1, bl_now() };
    if (resume)
        fprintf(stderr, "resuming %s at epoch %d, minibatch %zu\n", resume,
                bl_trainer_epochs_done(t) + 1, bl_trainer_steps_done(t));
    int trc = bl_trainer_run(t, on_progress, &pc, &err);
    sigaction(SIGINT, &old_sa, NULL);
    if (pc.tty)
        fputs("\r\033[K", stderr);
    if (trc == BL_ECANCELED) {
        bl_error cerr = { 0 };
        if (bl_trainer_save_checkpoint(t, ckpt, &cerr)) {
            cli_error("interrupted; could not save the checkpoint: %s", cerr.msg);
        } else {
            fprintf(stderr, "betlab: interrupted; checkpoint saved to %s\n"
                            "        continue with: betlab train --resume %s --out %s\n",
                    ckpt, ckpt, out);
        }
        rc = BL_EXIT_RUNTIME;
        err.msg[0] = 0;
        goto fail;
    }
    if (trc)
        goto fail;
    double train_seconds = bl_now() - pc.t0;

    if (bl_trainer_export(t, &m, &err))
        goto fail;
    char buf[64], nm[256];
    bl_model_meta_set(m, "name", base_name(out, nm, sizeof nm));
    bl_model_meta_set(m, "dataset", train_name);
    double acc = -1;
    if (test) {
        bl_engine_opts eo = { .threads = (int)threads, .simd = 0, .simd_set = 0 };
        bl_eval_stats st;
        if (bl_inputs_prepare(m, test, 0, &in, &err) || bl_engine_new(m, &eo, &e, &err) ||
            bl_engine_eval(e, m, in, &st, &err))
            goto fail;
        acc = st.accuracy;
        double tacc;
        if (bl_trainer_eval(t, test, 0, &tacc, &err))
            goto fail;
        if (tacc != acc) {
            bl_error_set(&err, BL_EFORMAT,
                         "internal error: packed model accuracy %.6f differs from the trainer's "
                         "%.6f",
                         acc, tacc);
            goto fail;
        }
        bl_model_meta_set(m, "test_data", test_name);
        snprintf(buf, sizeof buf, "%.6f", acc);
        bl_model_meta_set(m, "test_accuracy", buf);
    }
    snprintf(buf, sizeof buf, "%.1f", train_seconds);
    bl_model_meta_set(m, "train_seconds", buf);
    if (bl_model_save(m, out, &err))
        goto fail;
    if (resume)
        unlink(resume);
    if (json) {
        int nh;
        const bl_epoch_stats *h = bl_trainer_history(t, &nh);
        json_t *root = json_object(), *arr = json_array();
        json_object_set_new(root, "out", json_string(out));
        json_object_set_new(root, "arch", json_string(o.spec));
        json_object_set_new(root, "train_data", json_string(train_name));
        json_object_set_new(root, "test_data", test_name[0] ? json_string(test_name) : json_null());
        for (int i = 0; i < nh; i++) {
            json_t *ep = json_object();
            json_object_set_new(ep, "epoch", json_integer(h[i].epoch));
            json_object_set_new(ep, "loss", json_real(h[i].loss));
            json_object_set_new(ep, "train_accuracy", json_real(h[i].train_acc));
            json_object_set_new(ep, "test_accuracy",
                                h[i].test_acc >= 0 ? json_real(h[i].test_acc) : json_null());
            json_object_set_new(ep, "lr", json_real(h[i].lr));
            json_object_set_new(ep, "seconds", json_real(h[i].seconds));
            json_array_append_new(arr, ep);
        }
        json_object_set_new(root, "epochs", arr);
        json_object_set_new(root, "test_accuracy", acc >= 0 ? json_real(acc) : json_null());
        json_object_set_new(root, "seconds", json_real(train_seconds));
        cli_print_json(root);
    } else {
        if (acc >= 0)
            fprintf(stderr, "saved %s: test accuracy %.2f%% (packed engine)\n", out, 100 * acc);
        else
            fprintf(stderr, "saved %s\n", out);
    }
    rc = 0;
fail:
    if (rc && err.msg[0])
        cli_error("%s", err.msg);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_model_free(m);
    bl_trainer_free(t);
    bl_dataset_free(train);
    bl_dataset_free(test);
    return rc;
}
