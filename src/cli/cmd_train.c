/* cmd_train.c - `betlab train`: train a BNN with bit-flip injection, export
 * the packed model (.bnn) with its settings and test accuracy; Ctrl-C,
 * SIGHUP (an SSH drop) and SIGTERM save a checkpoint that --resume
 * continues from. */
#include <cblas.h>
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
#include "base/text.h"
#include "bnn/engine.h"
#include "bnn/train.h"
#include "cli/cli.h"
#include "cli/env.h"
#include "data/dataset.h"
#include "jobs/train_job.h"

/* The signal that stopped training (the first one), else 0. */
static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    if (!g_interrupted)
        g_interrupted = sig;
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

/* The model's name (from --out) and the data names go into its metadata,
 * which must be UTF-8 (the loader's rule; bl_model_save refuses the rest):
 * checked before training rather than after it. */
static int check_meta_names(const char *out, const char *train_name, const char *test_name,
                            bl_error *err)
{
    char nm[256];
    const char *what[3] = { "--out", "the training data name", "the test data name" };
    const char *val[3] = { base_name(out, nm, sizeof nm), train_name, test_name };
    for (int i = 0; i < 3; i++)
        if (!bl_text_valid_utf8(val[i], strlen(val[i]))) {
            char shown[300];
            return bl_error_set(err, BL_EINVAL, "%s '%s' is not valid UTF-8; it is stored in "
                                "the model's metadata, which must be UTF-8", what[i],
                                bl_text_terminal_buf(val[i], shown, sizeof shown));
        }
    return 0;
}

typedef struct reg_margin {
    double lambda, b;
} reg_margin;

typedef struct train_args {
    const char *arch, *data, *test_data, *out, *resume;
    long epochs, batch, seed, threads, limit;
    double lr, flip_p, p01, p10;
    int flip_mode, loss, json;
    reg_margin reg;
} train_args;

/* --reg-margin LAMBDA,B: two non-negative numbers. */
static int parse_reg_margin(void *field, const char *arg, char *msg, size_t n)
{
    reg_margin *r = field;
    char *end;
    double l = strtod(arg, &end);
    if (end == arg || *end != ',') {
        snprintf(msg, n, "--reg-margin wants LAMBDA,B (e.g. 0.1,1), not '%s'", arg);
        return -1;
    }
    const char *bs = end + 1;
    double b = strtod(bs, &end);
    if (end == bs || *end || !(l >= 0 && l <= 1e6) || !(b >= 0 && b <= 1e6)) {
        snprintf(msg, n, "--reg-margin wants LAMBDA,B in [0, 1e6], not '%s'", arg);
        return -1;
    }
    r->lambda = l;
    r->b = b;
    return 0;
}

static const char *const flip_mode_words[] = { "exact", "ste", NULL };
static const int flip_mode_values[] = { BL_FLIP_EXACT, BL_FLIP_STE };
static const char *const loss_words[] = { "ce", "mhl", NULL };
static const int loss_values[] = { BL_LOSS_CE, BL_LOSS_MHL };

#define T train_args
static const cli_opt train_optv[] = {
    CLI_STR("arch", 'a', "fc|vgg3|SPEC", T, arch,
            "the architecture: a reference name or a one-line SPEC", CLI_SHOW_REQUIRED),
    CLI_STR("data", 'd', "fashion-mnist|TRAIN", T, data,
            "the training set; fashion-mnist also tests on fashion-mnist:test",
            CLI_SHOW_REQUIRED),
    CLI_STR("test-data", 'T', "TEST", T, test_data, "the test set", 0),
    CLI_INT("epochs", 'e', "E", 1, 100000, T, epochs, "epochs to train", CLI_SHOW_REQUIRED),
    CLI_INT("batch", 'b', "B", 1, 65536, T, batch, "minibatch size (default 100)", 0),
    CLI_REAL("lr", 'l', "LR", 0, 10, T, lr, "peak learning rate of the cosine schedule "
             "(default 0.001)", CLI_LO_OPEN),
    CLI_REAL("flip-p", 'p', "P", 0, 1, T, flip_p,
             "flip each binarized weight with probability P in every minibatch", 0),
    CLI_REAL("flip-p01", 0, "A", 0, 1, T, p01,
             "asymmetric flips: a -1 weight becomes +1 with probability A (with --flip-p10)", 0),
    CLI_REAL("flip-p10", 0, "B", 0, 1, T, p10,
             "asymmetric flips: a +1 weight becomes -1 with probability B (with --flip-p01)", 0),
    CLI_ENUM("flip-mode", 'm', flip_mode_words, flip_mode_values, T, flip_mode,
             "exact: the gradient goes through a flip (times -1); ste (default): a flip is the "
             "identity backwards", 0),
    CLI_CALL("reg-margin", 'r', "LAMBDA,B", parse_reg_margin, T, reg,
             "add LAMBDA * mean(max(0, B - |z|)) over hidden batch-normalised "
             "pre-activations z", 0),
    CLI_ENUM("loss", 'L', loss_words, loss_values, T, loss,
             "softmax cross-entropy (default) or squared max-margin hinge", 0),
    CLI_SEED("seed", 's', T, seed,
            "seed of initialisation, shuffling and flips (default 1)", 0),
    CLI_INT("threads", 't', "T", 1, 1024, T, threads,
            "threads for OpenBLAS and the element-wise parts (default: one per CPU)", 0),
    CLI_INT("limit", 'n', "N", 1, 1L << 40, T, limit,
            "use only the first N training and test images", 0),
    CLI_STR("out", 'o', "MODEL", T, out, "the .bnn file to write; Ctrl-C, SIGHUP, SIGTERM save MODEL.ckpt",
            CLI_REQUIRED),
    CLI_FLAG("json", 'j', T, json, "print the per-epoch history and the test accuracy as JSON",
             0),
    CLI_STR("resume", 'R', "CKPT", T, resume,
            "continue an interrupted run with the checkpoint's settings", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_train = {
    "train", "train a BNN with bit-flip injection; export a packed .bnn", NULL, 0, 0, 0,
    train_optv,
};

/* Options that set the training itself: --resume takes them from the checkpoint. */
static const char *const training_names[] = { "arch",     "epochs",    "batch", "lr",
                                              "flip-p",   "flip-p01",  "flip-p10",
                                              "flip-mode", "reg-margin", "loss", "seed",
                                              "limit" };

int cmd_train(int argc, char **argv)
{
    /* the OpenBLAS core-type fix runs in main.c (cli_process_start, cli/env.h) */
    bl_train_opts o;
    bl_train_opts_default(&o);
    train_args ta = { .batch = o.batch, .lr = o.lr, .seed = (long)o.seed, .flip_p = -1,
                      .p01 = -1, .p10 = -1, .flip_mode = o.flip_mode, .loss = o.loss,
                      .reg = { o.reg_lambda, o.reg_b } };
    cli_args a;
    int prc = cli_parse(&cli_spec_train, argc, argv, &ta, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *arch = ta.arch, *data = ta.data, *test_data = ta.test_data, *out = ta.out,
               *resume = ta.resume;
    double flip_p = ta.flip_p, p01 = ta.p01, p10 = ta.p10;
    long limit = ta.limit, threads = ta.threads, epochs = ta.epochs;
    int json = ta.json, training_opts = 0;
    for (size_t i = 0; i < sizeof training_names / sizeof *training_names; i++)
        training_opts |= cli_given(&a, training_names[i]) != 0;
    if (arch && strlen(arch) >= sizeof o.spec)
        return cli_usage_error("train", "--arch: spec too long");
    o.batch = (int)ta.batch;
    o.lr = ta.lr;
    o.seed = (uint64_t)ta.seed;
    o.flip_mode = ta.flip_mode;
    o.loss = ta.loss;
    o.reg_lambda = ta.reg.lambda;
    o.reg_b = ta.reg.b;
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
    if (check_meta_names(out, train_name, test_name, &err) ||
        load_data(train_name, ntrain, &train, &err) ||
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
    /* Ctrl-C, SIGHUP and SIGTERM all stop after the current minibatch and
     * checkpoint: a dropped SSH session loses nothing. */
    static const int stop_sigs[] = { SIGINT, SIGHUP, SIGTERM };
    struct sigaction sa, old_sa[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_interrupted = 0;
    for (int i = 0; i < 3; i++)
        sigaction(stop_sigs[i], &sa, &old_sa[i]);
    signal(SIGPIPE, SIG_IGN);   /* the terminal may be gone: writes fail, we go on */
    progress_ctx pc = { isatty(2), json, o.epochs, -1, bl_now() };
    if (resume)
        fprintf(stderr, "resuming %s at epoch %d, minibatch %zu\n", resume,
                bl_trainer_epochs_done(t) + 1, bl_trainer_steps_done(t));
    /* the core's train job, run in this thread; on_progress draws the bar
     * and stops it on Ctrl-C (resumable).  The export stays here, so the
     * metadata keep their order (name, dataset, test data, accuracy). */
    bl_train_job_cfg jc = { .trainer = t, .no_export = 1, .cb = on_progress, .cb_ctx = &pc };
    int trc = bl_train_job_run_sync(&jc, NULL, NULL, NULL, &err);
    for (int i = 0; i < 3; i++)
        sigaction(stop_sigs[i], &old_sa[i], NULL);
    if (pc.tty)
        fputs("\r\033[K", stderr);
    if (trc == BL_ECANCELED) {
        bl_error cerr = { 0 };
        if (bl_trainer_save_checkpoint(t, ckpt, &cerr)) {
            cli_cmd_error("train", "interrupted; could not save the checkpoint: %s", cerr.msg);
        } else {
            fprintf(stderr, "betlab: train: interrupted; checkpoint saved to %s\n"
                            "        continue with: betlab train --resume %s --out %s\n",
                    ckpt, ckpt, out);
        }
        /* Ctrl-C: 1 (as documented); SIGHUP 129, SIGTERM 143 */
        rc = g_interrupted == SIGHUP || g_interrupted == SIGTERM ? 128 + g_interrupted
                                                                 : BL_EXIT_RUNTIME;
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
        cli_cmd_error("train", "%s", err.msg);
    bl_engine_free(e);
    bl_inputs_free(in);
    bl_model_free(m);
    bl_trainer_free(t);
    bl_dataset_free(train);
    bl_dataset_free(test);
    return rc;
}
