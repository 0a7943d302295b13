/* train_loop.c - the trainer object, data preparation, shuffling, the
 * epoch/minibatch loop and evaluation. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/cpu.h"
#include "base/mem.h"
#include "base/rng.h"
#include "bnn/train_internal.h"


void bl_train_opts_default(bl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->spec, sizeof o->spec, "fc");
    o->epochs = 1;
    o->batch = 100;
    o->lr = 1e-3;
    o->flip_mode = BL_FLIP_STE;
    o->loss = BL_LOSS_CE;
    o->seed = 1;
}

static int check_opts(const bl_train_opts *o, bl_error *err)
{
    if (!memchr(o->spec, 0, sizeof o->spec) || !o->spec[0])
        return bl_error_set(err, BL_EINVAL, "train: empty architecture");
    if (o->epochs < 1 || o->epochs > 100000)
        return bl_error_set(err, BL_EINVAL, "train: epochs must be 1..100000, not %d", o->epochs);
    if (o->batch < 1 || o->batch > 65536)
        return bl_error_set(err, BL_EINVAL, "train: batch must be 1..65536, not %d", o->batch);
    if (!(o->lr > 0) || !(o->lr < 100))
        return bl_error_set(err, BL_EINVAL, "train: learning rate must be in (0, 100)");
    if (!(o->p01 >= 0 && o->p01 <= 1) || !(o->p10 >= 0 && o->p10 <= 1))
        return bl_error_set(err, BL_EINVAL, "train: flip probabilities must be in [0, 1]");
    if (!(o->reg_lambda >= 0) || !(o->reg_b >= 0) || isinf(o->reg_lambda) || isinf(o->reg_b))
        return bl_error_set(err, BL_EINVAL, "train: margin regularizer wants lambda, b >= 0");
    if (o->loss != BL_LOSS_CE && o->loss != BL_LOSS_MHL)
        return bl_error_set(err, BL_EINVAL, "train: unknown loss %d", (int)o->loss);
    if (o->flip_mode != BL_FLIP_STE && o->flip_mode != BL_FLIP_EXACT)
        return bl_error_set(err, BL_EINVAL, "train: unknown flip mode %d", (int)o->flip_mode);
    return 0;
}

/* The model's 8-bit codes of the first n samples (u8 data as is, others
 * quantised with input_scale/input_zero, as the engine does). */
static int quantize(const bl_dataset *ds, size_t n, const bl_model *m, uint8_t **codes,
                    int32_t **labels, bl_error *err)
{
    size_t nin = bl_dataset_features(ds), bytes;
    if (!bl_size_mul(n, nin, &bytes))
        return bl_error_set(err, BL_ERANGE, "%s: too large", bl_dataset_name(ds));
    *codes = malloc(bytes ? bytes : 1);
    *labels = malloc((n ? n : 1) * sizeof **labels);
    float *row = malloc(nin * sizeof *row);
    if (!*codes || !*labels || !row) {
        free(row);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", bl_dataset_name(ds));
    }
    int isu8 = bl_dataset_dtype(ds) == BL_DT_U8;
    for (size_t i = 0; i < n; i++) {
        uint8_t *dst = *codes + i * nin;
        if (isu8) {
            memcpy(dst, bl_dataset_row(ds, i), nin);
        } else {
            bl_dataset_row_f32(ds, i, row);
            for (size_t k = 0; k < nin; k++) {
                float q = nearbyintf(row[k] / m->input_scale) + (float)m->input_zero;
                dst[k] = (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
            }
        }
        (*labels)[i] = bl_dataset_label(ds, i);
    }
    free(row);
    return 0;
}

static int check_data(const bl_trainer *t, const bl_dataset *ds, const char *what, bl_error *err)
{
    const bl_model *m = t->arch;
    if (!bl_dataset_has_labels(ds))
        return bl_error_set(err, BL_EINVAL, "%s data %s has no labels", what, bl_dataset_name(ds));
    if (bl_dataset_features(ds) != bl_shape_size(m->input))
        return bl_error_set(err, BL_EINVAL,
                            "%s data %s has %zu features per sample; architecture '%s' wants %zu",
                            what, bl_dataset_name(ds), bl_dataset_features(ds), t->o.spec,
                            bl_shape_size(m->input));
    if (bl_dataset_nclasses(ds) > (int)m->nclasses)
        return bl_error_set(err, BL_EINVAL, "%s data %s has %d classes; architecture '%s' has %u",
                            what, bl_dataset_name(ds), bl_dataset_nclasses(ds), t->o.spec,
                            m->nclasses);
    for (size_t i = 0; i < bl_dataset_count(ds); i++)
        if (bl_dataset_label(ds, i) < 0)
            return bl_error_set(err, BL_EINVAL, "%s data %s: sample %zu has label %d", what,
                                bl_dataset_name(ds), i, bl_dataset_label(ds, i));
    return 0;
}

int bl_trainer_new(const bl_train_opts *opts, const bl_dataset *train, const bl_dataset *test,
                   bl_trainer **out, bl_error *err)
{
    *out = NULL;
    int rc = check_opts(opts, err);
    if (rc)
        return rc;
    if (!train || bl_dataset_count(train) == 0)
        return bl_error_set(err, BL_EINVAL, "train: no training data");
    bl_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return bl_error_set(err, BL_ENOMEM, "train: out of memory");
    t->o = *opts;
    t->perm_epoch = -1;
    bl_shape in;
    bl_dataset_shape(train, &in.h, &in.w, &in.c);
    rc = bl_model_from_spec(opts->spec, &in, &t->arch, err);
    if (rc)
        goto fail;
    {
        const bl_model *m = t->arch;
        int has_conv = 0;
        for (uint32_t i = 0; i < m->nlayers; i++)
            has_conv |= m->layers[i].kind == BL_LAYER_CONV3;
        if (has_conv && (m->input.h != in.h || m->input.w != in.w || m->input.c != in.c)) {
            rc = bl_error_set(err, BL_EINVAL,
                              "architecture '%s' wants %ux%ux%u images; the data has %ux%ux%u",
                              opts->spec, m->input.h, m->input.w, m->input.c, in.h, in.w, in.c);
            goto fail;
        }
    }
    if (bl_dataset_dtype(train) != BL_DT_U8) {
        /* Real-valued features: choose the 8-bit input encoding from the
         * training data's range (always including 0, so 0.0 has an exact
         * code), as post-training quantisation does.  u8 data (pixels) keep
         * the default scale 1/255, zero 0. */
        double lo, hi;
        bl_dataset_value_range(train, &lo, &hi);
        if (lo > 0)
            lo = 0;
        if (hi < 0)
            hi = 0;
        double scale = hi > lo ? (hi - lo) / 255.0 : 1.0;
        long zero = lround(-lo / scale);
        t->arch->input_scale = (float)scale;
        t->arch->input_zero = (int32_t)(zero < 0 ? 0 : zero > 255 ? 255 : zero);
    }
    if ((rc = check_data(t, train, "training", err)) ||
        (test && (rc = check_data(t, test, "test", err))))
        goto fail;
    t->ntrain = bl_dataset_count(train);
    t->nin = bl_shape_size(t->arch->input);
    if ((rc = quantize(train, t->ntrain, t->arch, &t->train_codes, &t->train_labels, err)))
        goto fail;
    if (test) {
        t->ntest = bl_dataset_count(test);
        if ((rc = quantize(test, t->ntest, t->arch, &t->test_codes, &t->test_labels, err)))
            goto fail;
    }
    t->perm = malloc(t->ntrain * sizeof *t->perm);
    t->pool = bl_pool_new(opts->threads);
    if (!t->perm || !t->pool) {
        rc = bl_error_set(err, BL_ENOMEM, "train: out of memory");
        goto fail;
    }
    openblas_set_num_threads(1); /* the kernels split GEMMs over t->pool */
    switch (bl_simd_default()) {
    case BL_SIMD_AVX512: t->adam = tr_adam_range_avx512; break;
    case BL_SIMD_AVX2: t->adam = tr_adam_range_avx2; break;
    default: t->adam = tr_adam_range_scalar; break;
    }
    if ((rc = tr_net_build(t, err)))
        goto fail;
    tr_init_params(t);
    if ((rc = tr_net_reserve(t, (size_t)opts->batch, err)))
        goto fail;
    *out = t;
    return 0;
fail:
    bl_trainer_free(t);
    return rc;
}

void bl_trainer_free(bl_trainer *t)
{
    if (!t)
        return;
    tr_net_free(t);
    bl_model_free(t->arch);
    bl_pool_free(t->pool);
    free(t->train_codes);
    free(t->train_labels);
    free(t->test_codes);
    free(t->test_labels);
    free(t->perm);
    free(t->hist);
    free(t);
}

const bl_train_opts *bl_trainer_opts(const bl_trainer *t) { return &t->o; }
int bl_trainer_epochs_done(const bl_trainer *t) { return t->epoch; }
size_t bl_trainer_steps_done(const bl_trainer *t) { return t->step; }
int bl_trainer_nlayers(const bl_trainer *t) { return t->nl; }

const bl_epoch_stats *bl_trainer_history(const bl_trainer *t, int *n)
{
    *n = t->nhist;
    return t->hist;
}

void bl_trainer_set_data_names(bl_trainer *t, const char *train, const char *test)
{
    snprintf(t->data_name[0], sizeof t->data_name[0], "%s", train ? train : "");
    snprintf(t->data_name[1], sizeof t->data_name[1], "%s", test ? test : "");
}

static size_t steps_per_epoch(const bl_trainer *t)
{
    /* the last incomplete minibatch is dropped (BN needs real batches) */
    return t->ntrain >= (size_t)t->o.batch ? t->ntrain / (size_t)t->o.batch : 1;
}

static size_t batch_size(const bl_trainer *t)
{
    return t->ntrain >= (size_t)t->o.batch ? (size_t)t->o.batch : t->ntrain;
}

/* Fisher-Yates with the (seed, epoch) stream. */
static void make_perm(bl_trainer *t, int epoch)
{
    for (size_t i = 0; i < t->ntrain; i++)
        t->perm[i] = (uint32_t)i;
    bl_rng_stream s = bl_rng_stream_init(t->o.seed, BL_RNG_SHUFFLE, (uint32_t)epoch);
    for (size_t i = t->ntrain - 1; i > 0; i--) {
        size_t j = (size_t)bl_rng_stream_below(&s, i + 1);
        uint32_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_epoch = epoch;
}

static int eval_codes(bl_trainer *t, const uint8_t *codes, const int32_t *labels, size_t n,
                      size_t *correct, int32_t *pred_out)
{
    tr_binarize(t, 0, 0); /* clean weights, no flips */
    tr_fold_all(t);
    size_t cap = t->cap;
    int32_t pred[cap];
    *correct = 0;
    for (size_t i0 = 0; i0 < n; i0 += cap) {
        size_t b = n - i0 < cap ? n - i0 : cap;
        tr_eval_forward(t, codes + i0 * t->nin, b, pred);
        for (size_t i = 0; i < b; i++) {
            if (labels && pred[i] == labels[i0 + i])
                (*correct)++;
            if (pred_out)
                pred_out[i0 + i] = pred[i];
        }
    }
    return 0;
}

int bl_trainer_predict(bl_trainer *t, const uint8_t *codes, size_t n, int32_t *pred,
                       bl_error *err)
{
    (void)err;
    size_t c;
    tr_binarize_full(t);
    return eval_codes(t, codes, NULL, n, &c, pred);
}

int bl_trainer_eval(bl_trainer *t, const bl_dataset *ds, size_t limit, double *acc, bl_error *err)
{
    int rc = check_data(t, ds, "evaluation", err);
    if (rc)
        return rc;
    size_t n = bl_dataset_count(ds);
    if (limit && limit < n)
        n = limit;
    uint8_t *codes;
    int32_t *labels;
    if ((rc = quantize(ds, n, t->arch, &codes, &labels, err))) {
        free(codes);
        free(labels);
        return rc;
    }
    size_t correct;
    eval_codes(t, codes, labels, n, &correct, NULL);
    *acc = n ? (double)correct / (double)n : 0;
    free(codes);
    free(labels);
    return 0;
}

int bl_trainer_run(bl_trainer *t, bl_train_cb cb, void *ctx, bl_error *err)
{
    size_t spe = steps_per_epoch(t), bs = batch_size(t);
    int rc = tr_net_reserve(t, bs, err);
    if (rc)
        return rc;
    uint8_t *codes = malloc(bs * t->nin);
    int32_t *labels = malloc(bs * sizeof *labels);
    if (!codes || !labels) {
        free(codes);
        free(labels);
        return bl_error_set(err, BL_ENOMEM, "train: out of memory");
    }
    openblas_set_num_threads(1); /* the kernels split GEMMs over t->pool */
    tr_binarize_full(t);
    rc = 0;
    int stop_pending = 0;
    while (t->epoch < t->o.epochs) {
        if (t->perm_epoch != t->epoch)
            make_perm(t, t->epoch);
        double t0 = bl_now();
        while (t->step_in_epoch < spe) {
            const uint32_t *idx = t->perm + t->step_in_epoch * bs;
            for (size_t i = 0; i < bs; i++) {
                memcpy(codes + i * t->nin, t->train_codes + (size_t)idx[i] * t->nin, t->nin);
                labels[i] = t->train_labels[idx[i]];
            }
            tr_binarize(t, t->step, 1);
            double loss = tr_forward_backward(t, codes, labels, bs, &t->ep_correct);
            t->step++;
            tr_adam_step(t, tr_lr_at(t, t->step - 1), t->step);
            t->step_in_epoch++;
            t->ep_loss_sum += loss;
            t->ep_seen += bs;
            if (cb) {
                bl_train_progress p = { t->epoch + 1, t->step_in_epoch, spe, 0,
                                        t->ep_loss_sum / (double)t->step_in_epoch, NULL };
                if (cb(ctx, &p)) {
                    if (t->step_in_epoch < spe) {
                        t->ep_seconds += bl_now() - t0;
                        rc = BL_ECANCELED;
                        goto out;
                    }
                    stop_pending = 1; /* finish the epoch's bookkeeping first */
                }
            }
        }
        bl_epoch_stats st = { 0 };
        st.epoch = t->epoch + 1;
        st.loss = t->ep_loss_sum / (double)spe;
        st.train_acc = t->ep_seen ? (double)t->ep_correct / (double)t->ep_seen : 0;
        st.lr = tr_lr_at(t, t->step);
        st.test_acc = -1;
        if (t->ntest) {
            size_t correct;
            eval_codes(t, t->test_codes, t->test_labels, t->ntest, &correct, NULL);
            st.test_acc = (double)correct / (double)t->ntest;
        }
        st.seconds = t->ep_seconds + (bl_now() - t0);
        bl_epoch_stats *h = realloc(t->hist, (size_t)(t->nhist + 1) * sizeof *h);
        if (!h) {
            rc = bl_error_set(err, BL_ENOMEM, "train: out of memory");
            goto out;
        }
        t->hist = h;
        t->hist[t->nhist++] = st;
        t->epoch++;
        t->step_in_epoch = 0;
        t->ep_loss_sum = 0;
        t->ep_correct = t->ep_seen = 0;
        t->ep_seconds = 0;
        if (cb) {
            bl_train_progress p = { st.epoch, spe, spe, 1, st.loss, &t->hist[t->nhist - 1] };
            if ((cb(ctx, &p) || stop_pending) && t->epoch < t->o.epochs) {
                rc = BL_ECANCELED;
                goto out;
            }
        }
    }
out:
    if (rc == BL_ECANCELED)
        bl_error_set(err, BL_ECANCELED, "training stopped after epoch %d step %zu", t->epoch,
                     t->step_in_epoch);
    free(codes);
    free(labels);
    return rc;
}

/* ---- test hooks ------------------------------------------------------------ */

static tr_param *find_param(bl_trainer *t, int layer, const char *what)
{
    if (strcmp(what, "alpha") == 0)
        return &t->alpha;
    if (layer < 0 || layer >= t->nl)
        return NULL;
    tr_layer *l = &t->L[layer];
    tr_param *p = strcmp(what, "W") == 0 ? &l->W
                  : strcmp(what, "gamma") == 0 ? &l->gamma
                  : strcmp(what, "beta") == 0 ? &l->beta : NULL;
    return p && p->n ? p : NULL;
}

float *bl_trainer_param(bl_trainer *t, int layer, const char *what, size_t *n)
{
    tr_param *p = find_param(t, layer, what);
    *n = p ? p->n : 0;
    return p ? p->w : NULL;
}

float *bl_trainer_grad(bl_trainer *t, int layer, const char *what, size_t *n)
{
    tr_param *p = find_param(t, layer, what);
    *n = p ? p->n : 0;
    return p ? p->g : NULL;
}

int bl_trainer_step_grad(bl_trainer *t, const uint8_t *codes, const int32_t *labels, size_t n,
                         size_t step, double *loss, bl_error *err)
{
    int rc = tr_net_reserve(t, n, err);
    if (rc)
        return rc;
    tr_binarize_full(t);
    tr_binarize(t, step, 1);
    *loss = tr_forward_backward_ex(t, codes, labels, n, NULL, 0);
    return 0;
}

const uint64_t *bl_trainer_flipmask(const bl_trainer *t, int layer, size_t *nweights)
{
    if (layer < 0 || layer >= t->nl || !t->L[layer].W.n) {
        *nweights = 0;
        return NULL;
    }
    *nweights = t->L[layer].W.n;
    return t->L[layer].flipmask;
}
