/* train.h - training BNNs with bit-flip injection (DESIGN.md "Bit-flip
 * training").
 *
 * Model.  The trainer builds its network from bl_model_from_spec(spec), so
 * the layers it trains are exactly the layers it exports (fc1, bn1, conv1,
 * pool1 ...).  Every weight layer keeps latent float weights in [-1, 1];
 * the forward pass uses sign(w) (w >= 0 -> +1, bit 1).  Activations are kept
 * in HWC / NHWC order, the model's flatten order.  Each THRESH layer is a
 * batch norm over its channel (batch statistics in training, running
 * statistics otherwise) followed by sign (z >= 0 -> +1) with a straight-
 * through estimator (gradient passes where |z| <= 1).  A conv followed by a
 * pool max-pools the integer pre-activations *before* the batch norm, as
 * the packed model does.  The last dense layer's integer scores are
 * multiplied by a learnable scale alpha (kept >= 1e-4, so it never changes
 * the argmax) before the loss.
 *
 * Units.  Inputs are the model's 8-bit codes q (input_scale = 1/255,
 * input_zero = 0).  Weight layers compute exact integer pre-activations a
 * (sums of +-q or +-1 are exact in float below 2^24); the batch norm after
 * the first layer sees a * input_scale, later ones see a.  Export folds BN
 * into integer thresholds in units of a, and the trainer's eval forward
 * compares the exact integer a with those same folded thresholds, so the
 * packed model predicts exactly what the trainer predicts.
 *
 * Bit flips.  For every minibatch (global step t) and every binary weight
 * layer (all of them, first and last included), each binarized weight is
 * flipped independently: a +1 weight (bit 1) becomes -1 with p10, a -1
 * weight (bit 0) becomes +1 with p01 (symmetric: p01 = p10 = p).  Flips are
 * a pure function of (seed, BL_RNG_TRAINFLIP, layer index, step, weight
 * index).  flip-exact: the gradient wrt the latent weight goes through the
 * flip (multiplied by -1 at flipped weights); flip-ste: the flip is the
 * identity in the backward pass.  Test accuracy is measured without flips.
 *
 * Loss.  ce: softmax cross-entropy of alpha*a.  mhl: one-vs-all squared
 * max-margin hinge, sum_j max(0, 1 - t_j alpha a_j)^2 with t = +-1 one-hot.
 * Both averaged over the batch.  Optional margin regularizer
 * lambda * sum over BN layers of mean(max(0, b - |z|)) on the normalised
 * pre-activations z of every hidden BN layer.
 *
 * Optimiser.  Adam (beta1 0.9, beta2 0.999, eps 1e-8) on latent weights, BN
 * gamma/beta and alpha; cosine learning-rate schedule
 * lr_t = lr * 0.5 * (1 + cos(pi * t / T)) over T = epochs * steps per epoch;
 * latent weights clipped to [-1, 1] after every step.  BN running
 * statistics: momentum 0.1, unbiased variance, eps 1e-5.
 *
 * Determinism.  Shuffling is a pure function of (seed, epoch), flips of
 * (seed, step); matrix products go through OpenBLAS sgemm.  The same seed,
 * data and thread count give bit-identical weights, and a run resumed from
 * a checkpoint ends with the same weights as an uninterrupted one. */
#ifndef BL_BNN_TRAIN_H
#define BL_BNN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/model.h"
#include "data/dataset.h"

typedef enum bl_loss_kind { BL_LOSS_CE = 0, BL_LOSS_MHL = 1 } bl_loss_kind;
typedef enum bl_flip_mode { BL_FLIP_STE = 0, BL_FLIP_EXACT = 1 } bl_flip_mode;

typedef struct bl_train_opts {
    char spec[128];       /* architecture (bl_model_from_spec)               */
    int epochs;           /* >= 1                                            */
    int batch;            /* minibatch size (default 100)                    */
    double lr;            /* peak Adam learning rate (default 1e-3)          */
    double p01, p10;      /* flip probabilities (0 -> 1 and 1 -> 0)          */
    bl_flip_mode flip_mode;
    double reg_lambda;    /* margin regularizer weight (0 = off)             */
    double reg_b;         /* its margin b                                    */
    bl_loss_kind loss;
    uint64_t seed;
    int threads;          /* <= 0: one per CPU                               */
} bl_train_opts;

/* Defaults: batch 100, lr 1e-3, epochs 1, no flips, flip-ste, ce, seed 1. */
void bl_train_opts_default(bl_train_opts *o);

typedef struct bl_trainer bl_trainer;

typedef struct bl_epoch_stats {
    int epoch;            /* 1-based                                          */
    double loss;          /* mean training loss (incl. regularizer)           */
    double train_acc;     /* accuracy of the training forward (with flips)    */
    double test_acc;      /* eval forward, no flips; -1 without test data     */
    double lr;            /* learning rate at the end of the epoch            */
    double seconds;       /* wall time of the epoch (training + test)         */
} bl_epoch_stats;

/* Progress report: after every minibatch (done = step in epoch, total =
 * steps per epoch, epoch_end = 0) and after each epoch (epoch_end = 1,
 * stats filled).  Return nonzero to stop after this minibatch; the trainer
 * is then left in a consistent state that bl_trainer_save_checkpoint can
 * save and bl_trainer_run can continue. */
typedef struct bl_train_progress {
    int epoch;            /* 1-based epoch in progress                        */
    size_t done, total;
    int epoch_end;
    double loss;          /* running mean loss of the epoch                   */
    const bl_epoch_stats *stats;
} bl_train_progress;
typedef int (*bl_train_cb)(void *ctx, const bl_train_progress *p);

/* A trainer for opts->spec on `train` (labels required; data quantised to
 * the model's 8-bit codes).  `test` may be NULL.  The trainer keeps its own
 * references to the datasets. */
int bl_trainer_new(const bl_train_opts *opts, const bl_dataset *train, const bl_dataset *test,
                   bl_trainer **out, bl_error *err);
void bl_trainer_free(bl_trainer *t);
const bl_train_opts *bl_trainer_opts(const bl_trainer *t);

/* Train until opts->epochs are done or cb asks to stop.  Returns 0 when all
 * epochs are done, BL_ECANCELED when stopped early (resumable). */
int bl_trainer_run(bl_trainer *t, bl_train_cb cb, void *ctx, bl_error *err);

/* Completed epochs' statistics. */
const bl_epoch_stats *bl_trainer_history(const bl_trainer *t, int *n);
int bl_trainer_epochs_done(const bl_trainer *t);
size_t bl_trainer_steps_done(const bl_trainer *t);   /* global minibatch count */

/* Eval-mode predictions (no flips, folded thresholds, exact integer pre-
 * activations) of n raw 8-bit input codes; returns classes in pred. */
int bl_trainer_predict(bl_trainer *t, const uint8_t *codes, size_t n, int32_t *pred,
                       bl_error *err);
/* Accuracy of the eval forward on a dataset (limit 0 = all). */
int bl_trainer_eval(bl_trainer *t, const bl_dataset *ds, size_t limit, double *acc,
                    bl_error *err);

/* Fold BN, pack and return the model (metadata: arch, loss, flip settings,
 * epochs, lr, batch, seed ...; the caller adds test accuracy and names). */
int bl_trainer_export(const bl_trainer *t, bl_model **out, bl_error *err);

/* Checkpoints (train_checkpoint.c): latent weights, BN parameters and
 * running statistics, alpha, Adam moments, epoch/step counters, settings
 * and history; versioned, CRC-32 checked, saved atomically.  Loading
 * creates a trainer with the saved settings (threads may be overridden
 * with threads > 0) on the given datasets. */
int bl_trainer_save_checkpoint(const bl_trainer *t, const char *path, bl_error *err);
int bl_trainer_load_checkpoint(const char *path, const bl_dataset *train,
                               const bl_dataset *test, int threads, bl_trainer **out,
                               bl_error *err);

/* Names of the training and test data (recorded in checkpoints so that a
 * resumed run can reload them), and their peek: settings and names of a
 * checkpoint without loading it.  names: two buffers of n bytes or NULL. */
void bl_trainer_set_data_names(bl_trainer *t, const char *train, const char *test);
int bl_checkpoint_peek(const char *path, bl_train_opts *opts, char (*names)[256],
                       size_t *ntrain, size_t *ntest, bl_error *err);

/* ---- internals exposed for the tests (gradient checks, flip modes) ---- */

/* Latent parameter tensors: weight layer i's weights ("W"), BN gamma/beta
 * and the output scale; NULL when absent.  Layer indices are the model's. */
float *bl_trainer_param(bl_trainer *t, int layer, const char *what, size_t *n);
/* Gradient buffer of the same tensor after the last bl_trainer_step_grad. */
float *bl_trainer_grad(bl_trainer *t, int layer, const char *what, size_t *n);
/* One training forward+backward on the given inputs at global step `step`
 * (flips drawn for that step), without updating anything; returns the loss.
 * BN uses batch statistics (running statistics are not updated). */
int bl_trainer_step_grad(bl_trainer *t, const uint8_t *codes, const int32_t *labels, size_t n,
                         size_t step, double *loss, bl_error *err);
/* Flip mask of weight layer `layer` at the last step_grad: 1 bit per weight. */
const uint64_t *bl_trainer_flipmask(const bl_trainer *t, int layer, size_t *nweights);
int bl_trainer_nlayers(const bl_trainer *t);

#endif
